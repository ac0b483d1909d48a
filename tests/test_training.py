"""Networks from the seeds trained to their accuracy targets (seconds each, on the built-in data)."""
import numpy as np
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


def _mlp(seed=0):
    model = gn.Sequential([gn.layers.Flatten(input_shape=(4, 4)), gn.layers.Dense(8, activation="relu"),
                           gn.layers.Dense(3, activation="softmax")], seed=seed)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    return model


def test_fit_predict_and_evaluate_let_the_data_go(rng):
    """A layer keeps its last input for backward and inspection, and a slice keeps its whole array
    alive: after fit the model held the shuffled copy of the training set, after predict the
    caller's input. The caches are copies now, with the same values."""
    import gc
    import weakref
    model = _mlp()
    x, y = rng.standard_normal((400, 4, 4)).astype(np.float32), rng.integers(0, 3, 400)
    model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    assert model.layers[1].x.shape == (400 - 12 * 32, 16)          # the last batch, still inspectable
    for call in (lambda data: model.predict(data, batch_size=64), lambda data: model.predict(data),
                 lambda data: model.evaluate(data, y, batch_size=64), lambda data: model.fit(data, y, verbose=0),
                 lambda data: model.fit(data, y, verbose=0, shuffle=False)):
        data = x.copy()
        gone = weakref.ref(data)
        call(data)
        del data
        gc.collect()
        assert gone() is None
    np.testing.assert_array_equal(model.layers[1].x, x[-(400 % 32):].reshape(-1, 16))   # shuffle=False: the last batch


def test_a_trained_model_is_freed_without_the_cycle_collector(rng):
    # model.history -> History -> model was a reference cycle: in a loop of fits, each discarded
    # model (and its caches) waited for the cyclic collector
    import gc
    import pickle
    import weakref
    model = _mlp()
    history = model.fit(rng.standard_normal((64, 4, 4)), rng.integers(0, 3, 64), verbose=0)
    assert history.model is model and model.history is history
    gone = weakref.ref(model)
    gc.disable()
    try:
        del model
        assert gone() is None
    finally:
        gc.enable()
    assert history.model is None and history.history["loss"]
    assert pickle.loads(pickle.dumps(history)).history == history.history
