"""Conv1D/2D/3D(groups=g) against Keras 3.15 (kernel shape, outputs, a CNN trained side by side),
PyTorch's conv1d/2d/3d(groups=g) (outputs and every gradient, float64) and finite differences;
configs and model files keep groups; what Keras refuses is refused by name."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer
from glassnet.layers import Conv1D, Conv2D, Conv2DTranspose, Conv3D, Dense, Flatten

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

LAYERS = {1: Conv1D, 2: Conv2D, 3: Conv3D}
# (rank, filters, groups, channels, spatial size, settings)
CASES = [
    (2, 6, 3, 6, 7, dict(kernel_size=3)),
    (2, 4, 2, 6, 8, dict(kernel_size=(3, 2), strides=2, padding="same")),
    (2, 8, 4, 4, 9, dict(kernel_size=3, dilation_rate=2, use_bias=False)),
    (1, 6, 2, 4, 11, dict(kernel_size=3, padding="causal", dilation_rate=2)),
    (1, 9, 3, 3, 10, dict(kernel_size=4, strides=3)),
    (3, 4, 2, 4, 5, dict(kernel_size=2, padding="same")),
]


def make(rank, filters, groups, channels, size, settings, dtype="float64"):
    layer = LAYERS[rank](filters, groups=groups, dtype=dtype, seed=0, bias_initializer="random_normal", **settings)
    layer.build((size,) * rank + (channels,))
    return layer


def torch_padding(layer, size, rank):
    """Keras' padding as explicit (before, after) pairs for torch.nn.functional.pad, last axis first."""
    from glassnet.layers.conv import conv_output_length
    pads = []
    for k, s, d in zip(layer.kernel_size, layer.strides, layer.dilation_rate):
        pads.append(conv_output_length(size, k, s, layer.padding, d)[1])
    return [p for pair in reversed(pads) for p in pair]


@pytest.mark.parametrize("rank, filters, groups, channels, size, settings", CASES, ids=str)
def test_outputs_and_gradients_match_torch(rank, filters, groups, channels, size, settings, rng, torch):
    layer = make(rank, filters, groups, channels, size, settings)
    assert layer.params["kernel"].shape == (*layer.kernel_size, channels // groups, filters)
    x = rng.normal(size=(2, *(size,) * rank, channels))
    out = layer(x)
    upstream = rng.normal(size=out.shape)
    dx = layer.backward(upstream)

    channels_first = (0, rank + 1, *range(1, rank + 1))
    xt = torch.tensor(x.transpose(channels_first), requires_grad=True)
    # Keras' kernel (*window, C/g, F) -> torch's (F, C/g, *window)
    kernel = torch.tensor(np.moveaxis(layer.params["kernel"], (-1, -2), (0, 1)).copy(), requires_grad=True)
    bias = torch.tensor(layer.params["bias"], requires_grad=True) if layer.use_bias else None
    conv = getattr(torch.nn.functional, f"conv{rank}d")
    padded = torch.nn.functional.pad(xt, torch_padding(layer, size, rank))
    ref = conv(padded, kernel, bias, stride=layer.strides, dilation=layer.dilation_rate, groups=groups)
    ref.backward(torch.tensor(upstream.transpose(channels_first)))
    channels_last = (0, *range(2, rank + 2), 1)
    np.testing.assert_allclose(out, ref.detach().numpy().transpose(channels_last), atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy().transpose(channels_last), atol=1e-12)
    np.testing.assert_allclose(layer.grads["kernel"], np.moveaxis(kernel.grad.numpy(), (0, 1), (-1, -2)), atol=1e-12)
    if layer.use_bias:
        np.testing.assert_allclose(layer.grads["bias"], bias.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("rank, filters, groups, channels, size, settings", CASES[:1] + CASES[3:4], ids=str)
def test_gradcheck_finite_differences(rank, filters, groups, channels, size, settings, rng):
    layer = make(rank, filters, groups, channels, size, settings)
    report = check_layer(layer, rng.normal(size=(2, *(size,) * rank, channels)))
    assert set(report["errors"]) == {"input", "kernel", "bias"}


@pytest.mark.parametrize("rank, filters, groups, channels, size, settings", CASES, ids=str)
def test_outputs_match_keras(rank, filters, groups, channels, size, settings, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours = make(rank, filters, groups, channels, size, settings, dtype="float32")
    theirs = getattr(keras.layers, f"Conv{rank}D")(filters, groups=groups, **settings)
    theirs.build((None, *(size,) * rank, channels))
    assert [tuple(w.shape) for w in theirs.get_weights()] == [w.shape for w in ours.get_weights()]
    assert theirs.count_params() == ours.count_params()
    theirs.set_weights(ours.get_weights())
    x = rng.normal(size=(2, *(size,) * rank, channels)).astype(np.float32)
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-5, atol=1e-5)


def test_a_grouped_cnn_trains_as_keras_and_saves(rng, tmp_path):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(16, 6, 6, 4)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    ours = gn.Sequential([Conv2D(6, 3, groups=2, activation="relu", input_shape=(6, 6, 4)),
                          Conv2D(6, 1, groups=3), Flatten(), Dense(3, activation="softmax")], seed=0)
    ours.compile("sparse_categorical_crossentropy", gn.optimizers.SGD(0.1))
    theirs = keras.Sequential([keras.Input((6, 6, 4)), keras.layers.Conv2D(6, 3, groups=2, activation="relu"),
                               keras.layers.Conv2D(6, 1, groups=3), keras.layers.Flatten(),
                               keras.layers.Dense(3, activation="softmax")])
    theirs.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.1))
    theirs.set_weights(ours.get_weights())
    ours.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=3e-5)
    ours.save(tmp_path / "m.glassnet")
    loaded = gn.models.load_model(tmp_path / "m.glassnet")
    assert [layer.get_config().get("groups") for layer in loaded.layers] == [2, 3, None, None]
    np.testing.assert_array_equal(ours.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_config_keeps_groups_only_when_grouped():
    assert "groups" not in Conv2D(4, 3).get_config()
    config = Conv1D(4, 3, groups=2, name="c").get_config()
    assert config["groups"] == 2 and Conv1D.from_config(config).groups == 2


@pytest.mark.parametrize("make_layer, error, message", [
    (lambda: Conv2D(5, 3, groups=2), ValueError, r"^Conv2D: filters \(5\) must be divisible by groups \(2\)"),
    (lambda: Conv2D(4, 3, groups=0), ValueError, r"^Conv2D: groups must be a positive integer, got 0"),
    (lambda: Conv1D(4, 3, groups=2.0), ValueError, r"^Conv1D: groups must be a positive integer, got 2.0"),
    (lambda: Conv3D(4, 1, groups=4)(np.ones((1, 2, 2, 2, 6))), ValueError,
     r"input's 6 channels must be divisible by groups \(4\)"),
    (lambda: Conv2DTranspose(4, 3, groups=2), TypeError, r"^Conv2DTranspose: unexpected keyword argument 'groups'"),
], ids=["filters", "zero", "float", "channels", "transpose"])
def test_refused_by_name(make_layer, error, message):
    with pytest.raises(error, match=message):
        make_layer()
