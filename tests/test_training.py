"""Networks from the seeds trained to their accuracy targets (seconds each, on the built-in data)."""
import pytest

import glassnet as gn
from glassnet.layers import Dense

datasets = pytest.importorskip("glassnet.datasets")
pytest.importorskip("sklearn", reason="the datasets extra is needed: pip install 'glassnet[datasets]'")


def test_xor_2_3_1_sigmoid_reaches_100_percent():
    (x, y), _ = datasets.xor()
    model = gn.Sequential([Dense(3, activation="sigmoid", input_dim=2, kernel_initializer="xavier"),
                           Dense(1, activation="sigmoid", kernel_initializer="xavier")], seed=48)
    model.compile(loss="squared_error", optimizer=gn.optimizers.SGD(learning_rate=1.0), metrics=["accuracy"])
    history = model.fit(x, y, epochs=5000, batch_size=None, verbose=0)
    assert history.history["accuracy"][-1] == 1.0
    assert model.evaluate(x, y)[1] == 1.0
    assert history.history["loss"][-1] < history.history["loss"][0] / 10


def test_moons_seed_000_network_reaches_95_percent():
    (x, y), (xt, yt) = datasets.moons()
    model = gn.Sequential.from_architecture([
        {"input_dim": 2, "output_dim": 25, "activation": "relu"},
        {"input_dim": 25, "output_dim": 50, "activation": "relu"},
        {"input_dim": 50, "output_dim": 50, "activation": "relu"},
        {"input_dim": 50, "output_dim": 25, "activation": "relu"},
        {"input_dim": 25, "output_dim": 1, "activation": "sigmoid"}], seed=0)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(0.1), metrics=["accuracy"])
    model.fit(x, y, epochs=100, batch_size=32, verbose=0)
    assert model.evaluate(xt, yt)[1] >= 0.95


def test_digits_64_128_128_10_reaches_95_percent():
    (x, y), (xt, yt) = datasets.digits()
    model = gn.Sequential([Dense(128, activation="sigmoid", input_dim=64), Dense(128, activation="sigmoid"),
                           Dense(10, activation="softmax")], seed=0)
    model.compile(loss="categorical_crossentropy", optimizer=gn.optimizers.Adam(1e-3), metrics=["accuracy"])
    model.fit(x, gn.to_categorical(y, 10), epochs=40, batch_size=64, verbose=0)
    assert model.evaluate(xt, gn.to_categorical(yt, 10))[1] >= 0.95


def test_digits_full_batch_gradient_descent_seed_002():
    """Seed 002's NumPy style: full batch, plain gradient descent, learning rate 0.5."""
    (x, y), (xt, yt) = datasets.digits()
    model = gn.Sequential([Dense(128, activation="sigmoid", input_dim=64), Dense(128, activation="sigmoid"),
                           Dense(10, activation="softmax")], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.SGD(0.5), metrics=["accuracy"])
    model.fit(x, y, epochs=1500, batch_size=None, verbose=0)
    assert model.evaluate(xt, yt)[1] >= 0.95
