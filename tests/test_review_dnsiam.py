"""Porting Keras' Siamese (contrastive loss) and denoising-autoencoder examples: a loss of your own
missing a method, and a layer of your own taking a list of inputs."""
import re
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet import gradcheck

L = gn.layers


def _pair_model(distance):
    """Two Inputs through one shared tower, then ``distance`` of the two embeddings, then a head."""
    inner = gn.Input((4,))
    tower = gn.Model(inner, L.Dense(3, activation="tanh")(inner))
    left, right = gn.Input((4,)), gn.Input((4,))
    out = L.Dense(1, activation="sigmoid")(distance([tower(left), tower(right)]))
    return gn.Model([left, right], out, seed=0)


def test_a_loss_of_your_own_without_gradient_says_what_is_missing():
    class OnlyValue(gn.Loss):
        def __call__(self, y_pred, y_true):
            return float(np.mean((y_pred - y_true) ** 2))

    model = gn.Sequential([gn.Input((3,)), L.Dense(1)], seed=0)
    model.compile(loss=OnlyValue(), optimizer="sgd")
    with pytest.raises(NotImplementedError, match=r"OnlyValue\.gradient: .*gradient\(y_pred, y_true\)"):
        model.fit(np.ones((4, 3)), np.ones((4, 1)), verbose=0)


def test_a_loss_of_your_own_without_value_says_what_is_missing():
    class OnlyGradient(gn.Loss):
        def gradient(self, y_pred, y_true):
            return 2 * (y_pred - y_true) / y_pred.size

    model = gn.Sequential([gn.Input((3,)), L.Dense(1)], seed=0)
    model.compile(loss=OnlyGradient(), optimizer="sgd")
    with pytest.raises(NotImplementedError, match=r"OnlyGradient\.__call__: .*__call__\(y_pred, y_true\)"):
        model.fit(np.ones((4, 3)), np.ones((4, 1)), verbose=0)


def test_a_layer_of_your_own_called_on_a_list_is_told_how_to_take_it():
    class UnflaggedDistance(gn.Layer):
        def output_shape(self, input_shape):
            return (1,)

        def forward(self, xs, training=False):
            return np.sqrt(((xs[0] - xs[1]) ** 2).sum(axis=1, keepdims=True))

    with pytest.raises(TypeError, match=r"got a list of 2; merge them first .*set merges = True in its class"):
        _pair_model(UnflaggedDistance())
    # a built-in layer's message stays as it was: merges is not for it to set
    with pytest.raises(TypeError, match=r"got a list of 2; merge them first \(Concatenate, Add, \.\.\.\)$"):
        _pair_model(L.Dense(1))


def test_a_lambda_on_a_list_refused_by_fit_points_to_merges():
    def euclidean(vects):
        a, b = vects
        return np.sqrt(np.maximum(((a - b) ** 2).sum(axis=1, keepdims=True), 1e-7))

    model = _pair_model(L.Lambda(euclidean, output_shape=(1,)))
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    x = np.random.default_rng(0).random((8, 4))
    with pytest.raises(NotImplementedError, match=r"cannot pass a gradient back.*merges = True"):
        model.fit([x, x[::-1]], np.ones((8, 1)), verbose=0)


def _documented_distance():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "layers.md").read_text(encoding="utf-8")
    found = re.search(r"```python\n(class Distance\(gn\.Layer\):.*?)\n\ndistance = ", doc, re.S)
    assert found, "docs/layers.md shows a layer of several inputs (class Distance)"
    space = {"gn": gn, "np": np}
    exec(found.group(1), space)
    return space["Distance"]


def test_the_documented_layer_of_two_inputs_has_the_right_gradient_and_trains():
    Distance = _documented_distance()
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    result = gradcheck.check_layer(Distance(dtype="float64"), [a, b])
    assert result["max_error"] < 1e-6
    model = _pair_model(Distance())
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(0.5))
    x1, x2 = rng.random((16, 4)), rng.random((16, 4))
    y = (np.abs(x1 - x2).sum(axis=1, keepdims=True) > 1.3).astype("float32")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit([x1, x2], y, epochs=3, batch_size=16, verbose=0)
    # the tower below the distance learns: the gradient passed back through the layer
    assert not np.allclose(before[0], model.get_weights()[0])
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize("functional", [False, True])
def test_images_without_their_channel_axis_are_read_as_keras_reads_them(functional):
    # Keras' Siamese example feeds (n, 28, 28) pairs to Input((28, 28, 1)); Keras 3 adds the axis
    # of 1 for a model of one input as for several (a model of several did so here already)
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 6, 6)).astype("float32"), rng.random((8, 1)).astype("float32")

    def make():
        if functional:
            inputs = gn.Input((6, 6, 1))
            return gn.Model(inputs, L.Dense(1)(L.Flatten()(L.Conv2D(2, 3)(inputs))), seed=0)
        return gn.Sequential([gn.Input((6, 6, 1)), L.Conv2D(2, 3), L.Flatten(), L.Dense(1)], seed=0)

    short, full = make(), make()
    for model in (short, full):
        model.compile(loss="mse", optimizer="sgd")
    np.testing.assert_array_equal(short.predict(x, verbose=0), full.predict(x[..., None], verbose=0))
    assert short.evaluate(x, y, verbose=0) == full.evaluate(x[..., None], y, verbose=0)
    lost = short.fit(x, y, epochs=2, batch_size=4, verbose=0).history["loss"]
    assert lost == full.fit(x[..., None], y, epochs=2, batch_size=4, verbose=0).history["loss"]
    assert short.train_on_batch(x, y) == full.train_on_batch(x[..., None], y)
    # other shapes are refused as before
    with pytest.raises(ValueError, match=r"expects samples of shape \(6, 6, 1\), got samples of shape \(6, 5\)"):
        short.predict(x[:, :, :5], verbose=0)
