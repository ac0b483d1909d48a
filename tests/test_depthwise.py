"""DepthwiseConv2D/1D and SeparableConv2D/1D: outputs against Keras 3.15 (weights in Keras' shapes
and order), values and every gradient against PyTorch autograd (grouped convolutions, float64),
training inside a model, and their errors. The layer contract and finite differences are in
test_layer_contract.py."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D

SETTINGS = [dict(kernel_size=3), dict(kernel_size=2, strides=2, padding="same", depth_multiplier=2),
            dict(kernel_size=(3, 2), strides=(3, 3), padding="same", depth_multiplier=3, activation="relu"),
            dict(kernel_size=1, strides=2, use_bias=False),
            dict(kernel_size=3, padding="same", dilation_rate=2, depth_multiplier=2),
            dict(kernel_size=2, strides=2, dilation_rate=2)]       # both: Keras' depthwise layers take them
# TensorFlow's depthwise kernel takes equal strides only: unequal ones are checked against PyTorch
UNEQUAL = dict(kernel_size=(2, 3), strides=(3, 1), padding="same", depth_multiplier=2, activation="relu")


def _make(cls, settings, **kwargs):
    """glassnet's or Keras' layer of ``settings`` (the first size of each pair for the 1-D ones;
    5 filters for the separable ones)."""
    settings = dict(settings)
    if cls.__name__.endswith("1D"):
        settings.update({k: v[0] for k, v in settings.items() if k in ("kernel_size", "strides", "dilation_rate")
                         and isinstance(v, tuple)})
    return cls(5, **settings, **kwargs) if cls.__name__.startswith("Separable") else cls(**settings, **kwargs)


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
@pytest.mark.parametrize("cls", [DepthwiseConv2D, SeparableConv2D, DepthwiseConv1D, SeparableConv1D], ids=lambda c: c.__name__)
def test_outputs_match_keras(cls, settings, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    shape = (7, 6, 3) if cls.rank == 2 else (9, 3)
    x = rng.normal(size=(2, *shape)).astype(np.float32)
    ours = _make(cls, settings, seed=0, bias_initializer="random_normal")
    out = ours(x)
    theirs = _make(getattr(keras.layers, cls.__name__), {k: v for k, v in settings.items()})
    theirs.build(x.shape)
    theirs.set_weights(ours.get_weights())
    expected = np.asarray(theirs(x))
    assert out.shape == expected.shape == (2, *ours.output_shape(shape))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def _torch_depthwise(torch, x, kernel, strides, padding, dilation=(1, 1)):
    """TensorFlow's depthwise convolution in torch: asymmetric "same" padding first, then a
    grouped convolution, weight (C * m, 1, kh, kw) in Keras' output order c * m + j."""
    F = torch.nn.functional
    kh, kw, c, m = kernel.shape
    pads = [(0, 0) if padding == "valid" else tf_same(size, (k - 1) * d + 1, s)
            for size, k, s, d in zip(x.shape[1:3], (kh, kw), strides, dilation)]
    xp = F.pad(x.permute(0, 3, 1, 2), (*pads[1], *pads[0]))
    weight = kernel.permute(2, 3, 0, 1).reshape(c * m, 1, kh, kw)
    return F.conv2d(xp, weight, stride=strides, groups=c, dilation=tuple(dilation)).permute(0, 2, 3, 1)


def tf_same(size, span, stride):
    """TensorFlow's "same" padding (before, after) for a window spanning ``span`` pixels."""
    total = max((-(-size // stride) - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


@pytest.mark.parametrize("separable", [False, True])
@pytest.mark.parametrize("settings", SETTINGS + [UNEQUAL], ids=str)
def test_values_and_gradients_match_torch(settings, separable, rng, torch):
    layer = _make(SeparableConv2D if separable else DepthwiseConv2D, settings, seed=1, dtype="float64",
                  bias_initializer="random_normal")
    x = rng.normal(size=(2, 7, 6, 3))
    out = layer(x)
    upstream = rng.normal(size=out.shape)
    dx = layer.backward(upstream)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in layer.params.items()}
    tx = torch.tensor(x, requires_grad=True)
    z = _torch_depthwise(torch, tx, params["depthwise_kernel" if separable else "kernel"], layer.strides, layer.padding,
                         layer.dilation_rate)
    if separable:
        z = z @ params["pointwise_kernel"][0, 0]
    if "bias" in params:
        z = z + params["bias"]
    t_out = torch.relu(z) if settings.get("activation") == "relu" else z
    t_out.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-13)
    for key, p in params.items():
        np.testing.assert_allclose(layer.grads[key], p.grad.numpy(), rtol=1e-12, atol=1e-12, err_msg=key)


def test_one_input_channel_and_the_weights_keras_has(rng):
    # one channel takes im2col's transposed layout: the regrouping must read it right
    x = rng.normal(size=(3, 8, 8, 1))
    layer = DepthwiseConv2D(3, depth_multiplier=4, dtype="float64", seed=0)
    full = gn.layers.Conv2D(4, 3, dtype="float64")
    full.build((8, 8, 1))
    out = layer(x)
    full.set_weights([layer.params["kernel"], layer.params["bias"]])   # one channel: a full convolution
    np.testing.assert_allclose(out, full(x), rtol=1e-12)
    separable = SeparableConv2D(6, 3, depth_multiplier=2, seed=0)
    separable.build((8, 8, 5))
    assert [w.shape for w in separable.get_weights()] == [(3, 3, 5, 2), (1, 1, 10, 6), (6,)]
    assert [name for name, _ in separable._weight_items()] == ["depthwise_kernel", "pointwise_kernel", "bias"]


def test_the_output_is_contiguous_and_trace_sees_the_layers(rng):
    # a channel-major output made the next Conv2D 2x slower
    for layer in (DepthwiseConv2D(3), DepthwiseConv2D(3, depth_multiplier=3), SeparableConv2D(4, 3)):
        assert layer(rng.normal(size=(2, 6, 6, 5))).flags["C_CONTIGUOUS"]
    model = gn.Sequential([gn.Input((6, 6, 2)), DepthwiseConv2D(3, depth_multiplier=2), gn.layers.Flatten(),
                           gn.layers.Dense(2, activation="softmax")], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    text = str(model.trace(rng.normal(size=(3, 6, 6, 2)), np.array([0, 1, 1])))
    assert "depthwise_conv2d" in text


def test_the_layers_let_go_of_the_caller_s_data(rng):
    # without padding the forward pass reads the input itself: the model copies the layer's view of it
    model = gn.Sequential([gn.Input((8, 8, 3)), DepthwiseConv2D(3), SeparableConv2D(2, 1), gn.layers.Flatten(),
                           gn.layers.Dense(2)], seed=0)
    x = rng.normal(size=(64, 8, 8, 3)).astype(np.float32)
    model.predict(x, batch_size=16)
    model.compile(loss="mse", optimizer="sgd")
    model.fit(x, rng.normal(size=(64, 2)), epochs=1, batch_size=16, verbose=0)
    for layer in model.layers[:2]:
        held = [v for v in vars(layer).values() if isinstance(v, np.ndarray)]
        held += [v for v in layer._cache if isinstance(v, np.ndarray)]
        assert not any(np.may_share_memory(v, x) for v in held)
        assert all(v.base is None or v.base.size < x.size for v in held)


def test_a_separable_network_trains_saves_and_loads(rng, tmp_path):
    x = rng.normal(size=(96, 8, 8, 3)).astype(np.float32)
    y = (x[..., 0].mean(axis=(1, 2)) > x[..., 1].mean(axis=(1, 2))).astype(int)
    model = gn.Sequential([gn.Input((8, 8, 3)), SeparableConv2D(8, 3, padding="same", activation="relu",
                                                                  pointwise_regularizer="l2"),
                           DepthwiseConv2D(3, strides=2, depth_multiplier=2, activation="relu",
                                           depthwise_constraint=gn.constraints.MaxNorm(2.0, axis=[0, 1, 2])),
                           gn.layers.GlobalAveragePooling2D(), gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.01), metrics=["accuracy"])
    history = model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.8 and history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "sep.npz")
    loaded = gn.load_model(tmp_path / "sep.npz")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.layers[0].get_config() == model.layers[0].get_config()
    assert loaded.layers[0].pointwise_regularizer is not None


@pytest.mark.parametrize("make, error, message", [
    (lambda: DepthwiseConv2D(3, depth_multiplier=0), ValueError, r"DepthwiseConv2D: depth_multiplier must be a positive integer"),
    (lambda: DepthwiseConv2D(3, padding="full"), ValueError, r"DepthwiseConv2D: padding must be one of \['valid', 'same'\], got 'full'"),
    (lambda: SeparableConv2D(0, 3), ValueError, r"SeparableConv2D: filters must be a positive integer"),
    (lambda: SeparableConv1D(4, (3, 3)), ValueError, r"SeparableConv1D: kernel_size must be a positive integer or 1 of them"),
    (lambda: DepthwiseConv2D(5)(np.ones((1, 3, 3, 2))), ValueError, r"layer DepthwiseConv2D: kernel_size \(5, 5\) does not fit"),
    (lambda: DepthwiseConv2D(3, groups=2), TypeError,
     r"DepthwiseConv2D: unexpected keyword argument 'groups'; DepthwiseConv2D takes kernel_size, strides, padding, depth_multiplier"),
    (lambda: DepthwiseConv2D(3, dilation_rate=(2, 0)), ValueError, r"DepthwiseConv2D: dilation_rate must be a positive integer or 2 of them"),
    (lambda: SeparableConv2D([4], 3), ValueError, r"SeparableConv2D: filters must be a positive integer, got \[4\]"),
    (lambda: DepthwiseConv2D(3, depth_multiplier=(2,)), ValueError, r"DepthwiseConv2D: depth_multiplier must be a positive integer, got \(2,\)"),
], ids=range(9))
def test_bad_arguments_are_refused_by_name(make, error, message):
    with pytest.raises(error, match=message):
        make()
