"""GaussianNoise and GaussianDropout: their noise's statistics in training, the identity at
inference, backward through the same noise, and reproducible training from the model's seed."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import AlphaDropout, Dense, GaussianDropout, GaussianNoise


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


def _kept(out, dropped_value, atol):
    """The mask a framework drew, read off its output: True where a value was kept."""
    return ~np.isclose(out, dropped_value, rtol=0, atol=atol)


class _Fixed:
    """A generator whose ``random`` returns uniforms that keep exactly ``keep`` (for a rate below 0.99)."""

    def __init__(self, keep):
        self.keep = keep

    def random(self, shape, dtype):
        assert shape == self.keep.shape
        return np.where(self.keep, 0.99, 0.0).astype(dtype)


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_alpha_dropout_matches_torch_and_keras_for_the_same_mask(rate, rng, torch):
    saturation = -AlphaDropout.ALPHA * AlphaDropout.SCALE
    a = ((1 - rate) * (1 + rate * saturation ** 2)) ** -0.5
    dropped = a * saturation - a * saturation * rate          # what a dropped value becomes
    x = rng.standard_normal((50, 40))
    upstream = rng.standard_normal(x.shape)
    tx = torch.tensor(x, requires_grad=True)
    ref = torch.nn.functional.alpha_dropout(tx, rate, training=True)
    ref.backward(torch.tensor(upstream))
    keep = _kept(ref.detach().numpy(), dropped, 1e-12)
    assert 0 < keep.mean() < 1
    layer = AlphaDropout(rate, dtype="float64")
    layer.rng = _Fixed(keep)
    np.testing.assert_allclose(layer(x, training=True), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.backward(upstream), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x32 = x.astype(np.float32)
    theirs = np.asarray(keras.layers.AlphaDropout(rate, seed=3)(x32, training=True))
    layer32 = AlphaDropout(rate)
    layer32.rng = _Fixed(_kept(theirs, dropped, 1e-6))
    np.testing.assert_allclose(layer32(x32, training=True), theirs, rtol=1e-6, atol=1e-6)


def test_alpha_dropout_keeps_a_self_normalising_network_normalised(rng):
    # SELU layers keep mean 0 and variance 1; AlphaDropout between them must too (Dropout would not)
    x = rng.standard_normal((20000, 64)).astype(np.float32)
    for layer in (AlphaDropout(0.3, seed=0), gn.layers.Dropout(0.3, seed=0)):
        y = layer(x, training=True)
        normalised = abs(float(y.mean())) < 0.02 and abs(float(y.std()) - 1) < 0.02
        assert normalised == isinstance(layer, AlphaDropout), type(layer).__name__
    layer = AlphaDropout(0.3, seed=0)
    assert layer(x) is x                                           # inference: the identity
    with pytest.raises(ValueError, match=r"AlphaDropout: rate must be a number in \[0, 1\)"):
        AlphaDropout(1.0)
