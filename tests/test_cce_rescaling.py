"""CategoricalCrossentropy (and CategoricalFocalCrossentropy) on outputs that are not a softmax: each
row divided by its sum before the clip, as Keras 3.15 does. Values and gradients against Keras'
classes (tf.GradientTape), float64 finite differences, and the softmax output's fused path kept."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import losses
from glassnet.gradcheck import numerical_gradient


def _keras_value_and_gradient(keras, loss, y_true, y_pred, sample_weight=None):
    import tensorflow as tf
    p = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        value = loss(tf.constant(y_true), p, sample_weight=sample_weight)
    return float(value), tape.gradient(value, p).numpy()


def _outputs(kind, rng):
    """Outputs (6, 5) of a linear head: all positive, or of mixed sign (some rows then have
    entries clipped, one a negative sum)."""
    if kind == "positive":
        return rng.uniform(0.05, 2.0, (6, 5))
    return rng.normal(0.3, 1.0, (6, 5))


def _targets(rng):
    return np.eye(5)[rng.integers(0, 5, 6)]


CASES = [
    ("categorical", {}), ("categorical", {"label_smoothing": 0.2}),
    ("focal", {}), ("focal", {"alpha": 0.5, "gamma": 1.5, "label_smoothing": 0.1}),
]


def _pair(keras, which, settings):
    if which == "categorical":
        return losses.CategoricalCrossentropy(**settings), keras.losses.CategoricalCrossentropy(**settings)
    return losses.CategoricalFocalCrossentropy(**settings), keras.losses.CategoricalFocalCrossentropy(**settings)


@pytest.mark.parametrize("kind", ["positive", "mixed"])
@pytest.mark.parametrize("which, settings", CASES)
def test_value_and_gradient_match_keras_on_a_linear_head(which, settings, kind, keras):
    rng = np.random.default_rng(3)
    y_pred, y_true = _outputs(kind, rng).astype(np.float32), _targets(rng).astype(np.float32)
    ours, theirs = _pair(keras, which, settings)
    value, grad = _keras_value_and_gradient(keras, theirs, y_true, y_pred)
    np.testing.assert_allclose(ours(y_pred, y_true), value, rtol=2e-5)
    np.testing.assert_allclose(ours.gradient(y_pred, y_true), grad, rtol=2e-4, atol=1e-6)
    w = rng.uniform(0.5, 2.0, 6).astype(np.float32)
    value_w, grad_w = _keras_value_and_gradient(keras, theirs, y_true, y_pred, w)
    np.testing.assert_allclose(ours.weighted(y_pred, y_true, w), value_w, rtol=2e-5)
    np.testing.assert_allclose(ours.weighted_gradient(y_pred, y_true, w), grad_w, rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(ours.per_sample(y_pred, y_true),
                               np.asarray(keras.losses.get(theirs.name if which == "focal" else "categorical_crossentropy")
                                          (y_true, y_pred, **({"label_smoothing": settings.get("label_smoothing", 0.0)}
                                                              if which == "categorical" else settings))),
                               rtol=2e-5)


@pytest.mark.parametrize("kind", ["positive", "mixed"])
@pytest.mark.parametrize("which, settings", CASES)
def test_gradient_matches_float64_finite_differences(which, settings, kind):
    rng = np.random.default_rng(5)
    y_pred, y_true = _outputs(kind, rng), _targets(rng)
    loss = losses.CategoricalCrossentropy(**settings) if which == "categorical" else \
        losses.CategoricalFocalCrossentropy(**settings)
    # numerical_gradient nudges y_pred in place and calls the function of no arguments
    numeric = numerical_gradient(lambda: loss(y_pred, y_true), y_pred)
    np.testing.assert_allclose(loss.gradient(y_pred, y_true), numeric, rtol=1e-5, atol=1e-8)


def test_the_training_guides_linear_head_gives_keras_loss(keras):
    """The reviewers' case: compile(loss="categorical_crossentropy") on a Dense(5) head with no
    softmax; glassnet gave 5.74 where Keras gives 6.68 (rows not rescaled)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype(np.float32)
    y = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 64)]
    model = gn.Sequential([gn.layers.Dense(5, input_dim=8)], seed=0)
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    theirs = keras.Sequential([keras.Input((8,)), keras.layers.Dense(5)])
    theirs.set_weights(model.get_weights())
    theirs.compile(loss="categorical_crossentropy", optimizer="sgd")
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=1e-5)
    # one SGD step each: the gradients through the rescaling agree
    model.train_on_batch(x, y)
    theirs.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_a_softmax_output_keeps_the_fused_path(monkeypatch):
    """After a softmax output the loss's fused methods train the model; the unfused value and
    gradient (which now rescale) are never called, so training is what it was."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 6)).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 32)]

    def trained():
        model = gn.Sequential([gn.layers.Dense(8, activation="relu", input_dim=6),
                               gn.layers.Dense(4, activation="softmax")], seed=0)
        model.compile(loss="categorical_crossentropy", optimizer="adam")
        model.fit(x, y, epochs=3, batch_size=8, verbose=0)
        return model.get_weights()

    before = trained()

    def refused(*args, **kwargs):
        raise AssertionError("the unfused path was taken after a softmax output")
    for name in ("gradient", "weighted_gradient"):
        monkeypatch.setattr(losses.CategoricalCrossentropy, name, refused)
    after = trained()
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
