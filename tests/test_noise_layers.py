"""GaussianNoise and GaussianDropout: their noise's statistics in training, the identity at
inference, backward through the same noise, and reproducible training from the model's seed."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Dense, GaussianDropout, GaussianNoise


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gaussian_noise_adds_noise_of_stddev_in_training_only(dtype):
    layer = GaussianNoise(0.2, seed=0, dtype=dtype)
    x = np.full((4000, 25), 3.0, dtype=dtype)
    y = layer(x, training=True)
    assert y.dtype == dtype
    assert abs(float((y - 3).mean())) < 0.002 and abs(float((y - 3).std()) - 0.2) < 0.002
    assert layer(x) is x                                           # inference: the identity
    g = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    assert layer.backward(g) is g


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gaussian_dropout_multiplies_by_noise_of_mean_one(dtype):
    rate = 0.3
    layer = GaussianDropout(rate, seed=0, dtype=dtype)
    x = np.full((4000, 25), 2.0, dtype=dtype)
    y = layer(x, training=True)
    noise = y / 2
    assert y.dtype == dtype
    assert abs(float(noise.mean()) - 1) < 0.003
    assert abs(float(noise.std()) - np.sqrt(rate / (1 - rate))) < 0.003
    g = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    np.testing.assert_allclose(layer.backward(g), g * noise, rtol=1e-6)       # the same noise
    assert layer(x) is x and layer.backward(g) is g                          # inference


def test_a_seeded_model_trains_the_same_twice():
    (X, y), _ = gn.datasets.moons()

    def run():
        model = gn.Sequential([GaussianNoise(0.1, input_dim=2), Dense(16, activation="relu"),
                               GaussianDropout(0.2), Dense(1, activation="sigmoid")], seed=3)
        model.compile("binary_crossentropy", "adam")
        return model.fit(X, y, epochs=3, verbose=0).history["loss"]
    assert run() == run()


def test_rates_are_checked():
    with pytest.raises(ValueError, match="GaussianNoise: stddev must be a finite number >= 0"):
        GaussianNoise(-1)
    with pytest.raises(ValueError, match=r"GaussianDropout: rate must be a number in \[0, 1\)"):
        GaussianDropout(1.0)


def test_inference_and_trace_leave_the_noise_alone_and_a_file_carries_it_on(tmp_path):
    (X, y), _ = gn.datasets.moons()

    def model():
        m = gn.Sequential([GaussianNoise(0.1, input_dim=2), Dense(8, activation="relu"), GaussianDropout(0.2),
                           Dense(1, activation="sigmoid")], seed=4)
        m.compile("binary_crossentropy", "adam")
        return m
    plain, probed = model(), model()
    plain.fit(X, y, epochs=1, verbose=0)
    probed.fit(X, y, epochs=1, verbose=0)
    probed.predict(X)
    probed.evaluate(X, y)
    probed.trace(X[:8], y[:8])
    probed.save(tmp_path / "m.npz")
    resumed = gn.load_model(tmp_path / "m.npz")
    assert plain.fit(X, y, epochs=1, verbose=0).history == resumed.fit(X, y, epochs=1, verbose=0).history
