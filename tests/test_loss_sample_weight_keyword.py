"""A loss called with Keras' keyword ``sample_weight=`` (``loss(y_pred, y_true, sample_weight=w)``, in
glassnet's order of arguments) gives ``weighted``'s value, as Keras 3.15's ``loss(y_true, y_pred,
sample_weight=w)`` does; before, the keyword was a bare TypeError."""
import os

import numpy as np
import pytest

import glassnet as gn

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CASES = [("MeanSquaredError", {}), ("MeanAbsoluteError", {}), ("Huber", {"delta": 0.5}),
         ("BinaryCrossentropy", {}), ("CategoricalCrossentropy", {}), ("KLDivergence", {}),
         ("MeanSquaredError", {"reduction": "sum"}), ("BinaryCrossentropy", {"reduction": "mean_with_sample_weight"}),
         ("CategoricalCrossentropy", {"reduction": "sum"})]


def _data(rng):
    p = rng.uniform(0.05, 0.95, size=(6, 3)).astype("float32")
    p /= p.sum(axis=1, keepdims=True)
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 6)]
    w = rng.uniform(0.0, 2.0, size=6).astype("float32")
    return p, y, w


@pytest.mark.parametrize("name, settings", CASES)
def test_the_keyword_gives_weighted(name, settings):
    p, y, w = _data(np.random.default_rng(0))
    loss = getattr(gn.losses, name)(**settings)
    assert loss(p, y, sample_weight=w) == loss.weighted(p, y, w)
    assert loss(p, y, sample_weight=None) == loss(p, y)
    assert loss(p, y, sample_weight=w) != loss(p, y)


@pytest.mark.parametrize("name, settings", CASES)
def test_the_keyword_gives_keras_value(name, settings):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    p, y, w = _data(np.random.default_rng(1))
    theirs = float(getattr(keras.losses, name)(**settings)(y, p, sample_weight=w))
    ours = getattr(gn.losses, name)(**settings)(p, y, sample_weight=w)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


def test_a_loss_of_your_own_takes_it_too():
    class Squares(gn.losses.Loss):
        def __call__(self, y_pred, y_true):
            return float(np.mean((y_pred - y_true) ** 2))

        def gradient(self, y_pred, y_true):
            return 2 * (y_pred - y_true) / y_pred.size

        def weighted(self, y_pred, y_true, sample_weight):
            return float(np.mean(sample_weight[:, None] * (y_pred - y_true) ** 2))

    p, y, w = _data(np.random.default_rng(2))
    loss = Squares()
    assert loss(p, y) == pytest.approx(float(np.mean((p - y) ** 2)))
    assert loss(p, y, sample_weight=w) == loss.weighted(p, y, w)

    class OwnKeyword(Squares):      # one that takes the keyword itself keeps its own
        def __call__(self, y_pred, y_true, sample_weight=None):
            return -1.0

    assert OwnKeyword()(p, y, sample_weight=w) == -1.0
