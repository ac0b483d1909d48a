"""Review of the day's small changes (misc30): Rescaling per channel on images of any size and with
a 0-d array, a custom loss gradient of the wrong shape in a model of several outputs."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers
from glassnet.losses import Loss


def test_rescaling_per_channel_on_images_of_any_size(rng, tmp_path):
    # Keras 3.15 takes Rescaling([...]) after Input((None, None, 3)); glassnet refused it as "needs
    # every axis of its input sized" (np.broadcast_shapes met the None)
    scale, offset = [1 / 255, 2 / 255, 3 / 255], [0.5, 0.0, -1.0]
    model = gn.Sequential([layers.Input((None, None, 3)), layers.Rescaling(scale, offset=offset),
                           layers.GlobalAveragePooling2D()])
    for shape in ((2, 5, 6, 3), (1, 3, 4, 3)):
        x = rng.uniform(0, 255, shape).astype(np.float32)
        expected = (x * np.float32(scale) + np.float32(offset)).mean(axis=(1, 2))
        np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "m.npz").predict(x, verbose=0), model.predict(x, verbose=0))
    # a scale that would enlarge a sample is still refused by name, None or not
    with pytest.raises(ValueError, match=r"scale of shape \(2, 1\) must broadcast onto a sample"):
        layers.Rescaling([[1.0], [2.0]]).build((None, 3))
    with pytest.raises(ValueError, match=r"scale of shape \(4,\) must broadcast onto a sample"):
        layers.Rescaling([1.0, 2.0, 3.0, 4.0]).build((None, 3))
    with pytest.raises(ValueError, match=r"scale of shape \(2, 3\) must broadcast onto a sample"):
        layers.Rescaling(np.ones((2, 3))).build((None, 3))


def test_rescaling_takes_a_0d_array(rng):
    # Keras takes Rescaling(np.array(0.5)); glassnet refused it as not a finite number
    x = rng.uniform(0, 255, (2, 3)).astype(np.float32)
    layer = layers.Rescaling(np.array(1 / 255), offset=np.array(-1.0, np.float32))
    out = layer(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, x * np.float32(1 / 255) - 1, rtol=1e-6)
    assert layer.get_config()["scale"] == 1 / 255 and type(layer.get_config()["offset"]) is float
    with pytest.raises(ValueError, match="Rescaling: scale must be a finite number"):
        layers.Rescaling(np.array(np.inf))


class _SignLoss(Loss):
    """Mean absolute error whose gradient is np.sign's: of the targets' dtype (int64 here, as a
    loss of your own may give it), or float when ``dtype`` says so."""
    name = "sign_mae"

    def __init__(self, dtype=np.int64, reduction="sum_over_batch_size"):
        self.dtype = dtype
        super().__init__(reduction=reduction)

    def per_sample(self, y_pred, y_true):
        return np.abs(y_pred - y_true).mean(axis=-1)

    def __call__(self, y_pred, y_true):
        return float(np.mean(np.abs(y_pred - y_true)))

    def weighted(self, y_pred, y_true, sample_weight):
        return float(np.mean(self.per_sample(y_pred, y_true) * sample_weight))

    def gradient(self, y_pred, y_true):
        return np.sign(y_pred - y_true).astype(self.dtype)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum"])
def test_an_integer_loss_gradient_weighs_by_the_sample_weights(rng, reduction):
    # the weights were cast to the gradient's dtype before scaling it: int64 made 0.5 -> 0, 1.5 -> 1
    # (training silently weighed other samples); reduction="sum" failed to scale an int gradient
    p = rng.normal(size=(6, 2)).astype(np.float32)
    y = rng.normal(size=(6, 2)).astype(np.float32)
    w = np.array([0.5, 1.5, 0.25, 2.0, 1.0, 0.75])
    as_int, as_float = _SignLoss(np.int64, reduction), _SignLoss(np.float32, reduction)
    expected = as_float.weighted_gradient(p, y, w)
    # "sum": the mean's gradient times the values' count (6 samples)
    np.testing.assert_allclose(expected, np.sign(p - y) * w[:, None] * (6.0 if reduction == "sum" else 1.0), rtol=1e-7)
    for loss in (as_int, as_float):
        np.testing.assert_allclose(loss.weighted_gradient(p, y, w), expected, rtol=1e-7)
        np.testing.assert_allclose(loss.gradient(p, y), as_float.gradient(p, y), rtol=1e-7)
    # in a model, one and two outputs alike: the same step as the float gradient's
    x = rng.normal(size=(6, 3)).astype(np.float32)
    for outputs in (1, 2):
        trained = []
        for dtype in (np.int64, np.float32):
            inputs = gn.Input((3,))
            heads = [layers.Dense(2)(inputs) for _ in range(outputs)]
            model = gn.Model(inputs, heads if outputs > 1 else heads[0], seed=0)
            model.compile(loss=[_SignLoss(dtype, reduction) for _ in heads] if outputs > 1 else _SignLoss(dtype, reduction),
                          optimizer="sgd")
            model.fit(x, [y] * outputs if outputs > 1 else y, sample_weight=w, epochs=1, batch_size=6, verbose=0)
            trained.append(model.get_weights())
        for a, b in zip(*trained):
            np.testing.assert_allclose(a, b, rtol=1e-6)


class _ColumnGradient(Loss):
    """A loss of your own whose gradient is one column, (n, 1), whatever the output's width."""
    name = "column"

    def __call__(self, y_pred, y_true):
        return float(np.mean((y_pred - y_true) ** 2))

    def gradient(self, y_pred, y_true):
        return (2 * (y_pred - y_true) / y_pred.size).mean(axis=1, keepdims=True)


def test_a_loss_gradient_of_another_shape_is_refused_by_name(rng):
    # a model of several outputs broadcast an (n, 1) gradient into each output's (n, 2) columns and
    # trained on it; a model of one output failed in a matmul naming nothing
    x = rng.normal(size=(8, 3)).astype(np.float32)
    y = rng.normal(size=(8, 2)).astype(np.float32)
    inputs = gn.Input((3,))
    two = gn.Model(inputs, [layers.Dense(2, name="a")(inputs), layers.Dense(2, name="b")(inputs)], seed=0)
    two.compile(loss=[_ColumnGradient(), _ColumnGradient()], optimizer="sgd")
    before = two.get_weights()
    with pytest.raises(ValueError, match=r"output 'a': _ColumnGradient\.gradient.* shape \(8, 2\).*got shape \(8, 1\)"):
        two.fit(x, [y, y], epochs=1, batch_size=8, verbose=0)
    for a, b in zip(before, two.get_weights()):
        np.testing.assert_array_equal(a, b)
    one = gn.Sequential([layers.Input((3,)), layers.Dense(2)], seed=0)
    one.compile(loss=_ColumnGradient(), optimizer="sgd")
    with pytest.raises(ValueError, match=r"_ColumnGradient\.gradient.* shape \(8, 2\).*got shape \(8, 1\)"):
        one.fit(x, y, epochs=1, batch_size=8, verbose=0)


def test_trace_runs_a_float64_loss_gradient_in_the_models_dtype(rng):
    # training casts a loss of your own's float64 gradient where it enters the model; trace (which
    # shows that step) ran every layer's backward in float64 instead: its dA were float64
    class Float64Gradient(Loss):
        name = "float64_gradient"

        def __call__(self, y_pred, y_true):
            return float(np.mean((y_pred - y_true) ** 2))

        def gradient(self, y_pred, y_true):
            return 2 * (y_pred - y_true) / np.float64(y_pred.size)

    x = rng.normal(size=(8, 3)).astype(np.float32)
    y = rng.normal(size=(8, 2)).astype(np.float32)
    model = gn.Sequential([layers.Input((3,)), layers.Dense(4, activation="tanh"), layers.Dense(2)], seed=0)
    model.compile(loss=Float64Gradient(), optimizer="sgd")
    records = model.trace(x, y)
    assert [record["dA"].dtype for record in records] == [np.float32, np.float32]
    assert records[0]["dZ"] is None or records[0]["dZ"].dtype == np.float32
