"""The 3-D layers (volumes, channels-last (N, D, H, W, C)): Conv3D and Conv3DTranspose (whose
comparison with PyTorch is in test_conv_transpose.py), MaxPooling3D and AveragePooling3D, their
global forms, ZeroPadding3D, Cropping3D, UpSampling3D and SpatialDropout3D. Values and every gradient against PyTorch autograd (float64), outputs against
Keras 3.15 (TensorFlow's padding rules), a small volumetric CNN trained as Keras trains it, and the
refusals. The layer contract and finite differences of each are in test_layer_contract.py."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer
from glassnet.layers import (AveragePooling3D, Conv2D, Conv3D, Conv3DTranspose, Cropping3D, GlobalAveragePooling3D,
                             GlobalMaxPooling3D, MaxPooling3D, SpatialDropout3D, UpSampling3D, ZeroPadding3D)

from test_conv import tf_same_pads
from test_gpu import assert_close, assert_same_history, on_host
from test_gpu import cupy  # noqa: F401  (the fixture: fakecupy, and CuPy where a GPU is)

# (input sample shape, filters, kernel_size, strides, padding, dilation_rate)
CONV_CASES = [((5, 6, 4, 2), 3, 3, 1, "valid", 1),
              ((5, 6, 4, 2), 3, (2, 3, 1), (2, 1, 3), "same", 1),
              ((4, 5, 6, 1), 2, (3, 2, 2), (1, 2, 2), "valid", 1),       # one channel: im2col's transposed layout
              ((6, 5, 5, 2), 2, 3, 1, "same", (2, 1, 2)),
              ((3, 3, 3, 3), 4, 1, 2, "same", 1)]


def _to_torch_volume(torch, x):
    return torch.tensor(np.moveaxis(x, -1, 1).copy(), requires_grad=True)      # (N, C, D, H, W)


def _from_torch_volume(t):
    return np.moveaxis(t.detach().numpy(), 1, -1)


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv3d_values_and_gradients_match_torch(case, rng, torch):
    shape, filters, k, s, padding, d = case
    layer = Conv3D(filters, k, strides=s, padding=padding, dilation_rate=d, bias_initializer="random_normal",
                   dtype="float64", seed=0)
    x = rng.normal(size=(2, *shape))
    out = layer(x)
    upstream = rng.normal(size=out.shape)
    dx = layer.backward(upstream)
    F = torch.nn.functional
    xt = _to_torch_volume(torch, x)
    wt = torch.tensor(np.transpose(layer.params["kernel"], (4, 3, 0, 1, 2)).copy(), requires_grad=True)
    bt = torch.tensor(layer.params["bias"], requires_grad=True)
    pads = []
    for axis in reversed(range(3)):             # F.pad lists the last axis first
        span = (layer.kernel_size[axis] - 1) * layer.dilation_rate[axis] + 1
        pads += tf_same_pads(shape[axis], span, layer.strides[axis]) if padding == "same" else (0, 0)
    ref = F.conv3d(F.pad(xt, pads), wt, bt, stride=layer.strides, dilation=layer.dilation_rate)
    ref.backward(torch.tensor(np.moveaxis(upstream, -1, 1).copy()))
    np.testing.assert_allclose(out, _from_torch_volume(ref), rtol=0, atol=1e-10)
    np.testing.assert_allclose(dx, _from_torch_volume(xt.grad), rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.grads["kernel"], np.transpose(wt.grad.numpy(), (2, 3, 4, 1, 0)), atol=1e-10)
    np.testing.assert_allclose(layer.grads["bias"], bt.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("case", CONV_CASES[:3], ids=str)
def test_conv3d_gradcheck(case, rng):
    shape, filters, k, s, padding, d = case
    layer = Conv3D(filters, k, strides=s, padding=padding, dilation_rate=d, activation="tanh",
                   bias_initializer="random_normal", dtype="float64", seed=0)
    assert set(check_layer(layer, rng.normal(size=(2, *shape)))["errors"]) == {"input", "kernel", "bias"}


def test_a_kernel_one_deep_is_the_two_dimensional_convolution_of_every_slice(rng):
    x = rng.normal(size=(2, 3, 6, 5, 2))
    volume = Conv3D(4, (1, 3, 3), padding="same", dtype="float64", seed=0, bias_initializer="random_normal")
    out = volume(x)
    flat = Conv2D(4, 3, padding="same", dtype="float64")
    flat.build(x.shape[2:])
    flat.set_weights([volume.params["kernel"][0], volume.params["bias"]])
    np.testing.assert_allclose(out, flat(x.reshape(6, 6, 5, 2)).reshape(out.shape), atol=1e-13)


def test_conv3d_transpose_is_the_input_gradient_of_conv3d(rng):
    # <conv(y), x> = <y, conv_transpose(x)>, with the same kernel array
    for padding in ("valid", "same"):
        conv = Conv3D(2, 3, strides=2, padding=padding, use_bias=False, dtype="float64", seed=0)
        y = rng.normal(size=(1, 7, 9, 8, 3))
        x = rng.normal(size=(1, *conv.output_shape(y.shape[1:])))
        transpose = Conv3DTranspose(3, 3, strides=2, padding=padding, use_bias=False, dtype="float64",
                                    output_padding=(0, 0, 1))
        conv_y = conv(y)
        transpose.build(x.shape[1:])
        transpose.set_weights(conv.get_weights())               # (3, 3, 3, 3, 2): the same array
        t_x = transpose(x)
        assert t_x.shape == y.shape
        np.testing.assert_allclose(np.vdot(conv_y, x), np.vdot(y, t_x), rtol=1e-12)


POOL_CASES = [dict(pool_size=2), dict(pool_size=(1, 2, 3), strides=(1, 1, 2)), dict(pool_size=3, strides=2),
              dict(pool_size=(2, 1, 2), strides=1)]


@pytest.mark.parametrize("kind", ["max", "average"])
@pytest.mark.parametrize("settings", POOL_CASES, ids=str)
def test_pooling3d_values_and_gradients_match_torch(kind, settings, rng, torch):
    cls = MaxPooling3D if kind == "max" else AveragePooling3D
    layer = cls(dtype="float64", **settings)
    x = rng.normal(size=(2, 5, 6, 7, 3))
    x[0, :2, :2, :2, 0] = 1.5               # a tie: the gradient goes to the first maximum, as torch's
    out = layer(x)
    upstream = rng.normal(size=out.shape)
    dx = layer.backward(upstream)
    F = torch.nn.functional
    xt = _to_torch_volume(torch, x)
    pool = F.max_pool3d if kind == "max" else F.avg_pool3d
    ref = pool(xt, layer.pool_size, stride=layer.strides)
    ref.backward(torch.tensor(np.moveaxis(upstream, -1, 1).copy()))
    np.testing.assert_allclose(out, _from_torch_volume(ref), atol=1e-12)
    np.testing.assert_allclose(dx, _from_torch_volume(xt.grad), atol=1e-12)


def test_global_pooling3d_matches_torch(rng, torch):
    x = rng.normal(size=(3, 2, 4, 3, 5))
    upstream = rng.normal(size=(3, 5))
    for layer, reduce in ((GlobalAveragePooling3D(dtype="float64"), "mean"), (GlobalMaxPooling3D(dtype="float64"), "amax")):
        out, dx = layer(x), None
        dx = layer.backward(upstream)
        xt = torch.tensor(x, requires_grad=True)
        ref = getattr(torch, reduce)(xt, dim=(1, 2, 3))
        ref.backward(torch.tensor(upstream))
        np.testing.assert_allclose(out, ref.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12)


def test_upsampling3d_matches_torch_nearest(rng, torch):
    layer = UpSampling3D((2, 3, 1), dtype="float64")
    x = rng.normal(size=(2, 2, 3, 4, 2))
    out = layer(x)
    upstream = rng.normal(size=out.shape)
    dx = layer.backward(upstream)
    xt = _to_torch_volume(torch, x)
    ref = torch.nn.functional.interpolate(xt, scale_factor=(2, 3, 1), mode="nearest")
    ref.backward(torch.tensor(np.moveaxis(upstream, -1, 1).copy()))
    np.testing.assert_array_equal(out, _from_torch_volume(ref))
    np.testing.assert_allclose(dx, _from_torch_volume(xt.grad), atol=1e-12)


def _keras_twin(keras, layer):
    """The Keras 3 layer of ``layer``'s class, made from glassnet's own config (Keras' names)."""
    config = {k: v for k, v in layer.get_config().items() if k not in ("name", "trainable", "dtype", "seed", "input_shape")}
    for key in ("kernel_initializer", "bias_initializer"):
        config.pop(key, None)
    return getattr(keras.layers, type(layer).__name__)(**config)


KERAS_CASES = [
    lambda: Conv3D(3, (3, 2, 2), strides=(2, 1, 2), padding="same", activation="relu", seed=0),
    lambda: Conv3D(2, 2, padding="valid", dilation_rate=(1, 2, 1), seed=0),
    lambda: Conv3DTranspose(2, 3, strides=(2, 1, 2), padding="same", seed=0),
    lambda: Conv3DTranspose(2, (2, 3, 2), strides=2, output_padding=(1, 0, 1), seed=0),
    lambda: MaxPooling3D((2, 3, 2), strides=(1, 2, 2), padding="same"),
    lambda: AveragePooling3D(2, padding="same"),
    lambda: AveragePooling3D((1, 2, 3), strides=(2, 1, 1)),
    lambda: GlobalAveragePooling3D(keepdims=True),
    lambda: GlobalMaxPooling3D(),
    lambda: ZeroPadding3D(((1, 0), 2, (0, 3))),
    lambda: Cropping3D(((1, 0), (0, 1), 2)),
    lambda: UpSampling3D((1, 2, 3)),
]


@pytest.mark.parametrize("make", KERAS_CASES, ids=lambda make: repr(make().get_config())[:90])
def test_outputs_match_keras(make, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours = make()
    x = rng.normal(size=(2, 5, 6, 7, 2)).astype(np.float32)
    out = ours(x)
    theirs = _keras_twin(keras, ours)
    theirs.build(x.shape)
    if ours.params:
        theirs.set_weights(ours.get_weights())
    expected = np.asarray(theirs(x))
    assert out.shape == expected.shape == (2, *ours.output_shape(x.shape[1:]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def _volumetric_cnn(framework):
    L = framework.layers
    return [L.Conv3D(4, 3, padding="same", activation="relu"), L.MaxPooling3D(2),
            L.Conv3D(6, (2, 3, 3), strides=(1, 2, 2), activation="tanh"), L.ZeroPadding3D((0, 1, 1)),
            L.AveragePooling3D((1, 2, 2), padding="same"), L.UpSampling3D((2, 1, 1)), L.Cropping3D(((1, 0), 0, 0)),
            L.Conv3DTranspose(3, 2, strides=(1, 2, 2), padding="same", activation="relu"),
            L.GlobalAveragePooling3D(), L.Dense(3, activation="softmax")]


def test_a_volumetric_cnn_trains_as_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(24, 6, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 3, 24)
    ours = gn.Sequential([gn.Input((6, 8, 8, 1)), *_volumetric_cnn(gn)], seed=0)
    theirs = keras.Sequential([keras.Input((6, 8, 8, 1)), *_volumetric_cnn(keras)])
    theirs.set_weights(ours.get_weights())
    for model in (ours, theirs):
        model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_a_volumetric_model_saves_loads_and_summarises(rng, tmp_path):
    model = gn.Sequential([gn.Input((6, 8, 8, 1)), *_volumetric_cnn(gn)], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    x = rng.normal(size=(16, 6, 8, 8, 1)).astype(np.float32)
    model.fit(x, rng.integers(0, 3, 16), epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "volumes.npz")
    loaded = gn.load_model(tmp_path / "volumes.npz")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    lines = []
    model.summary(print_fn=lines.append)
    assert any("Conv3D" in line and "(None, 6, 8, 8, 4)" in line for line in lines), lines


def test_a_volumetric_cnn_trains_on_the_device_as_on_the_host(cupy):
    rng = np.random.default_rng(0)
    x = rng.random((32, 6, 8, 8, 1), dtype=np.float32)
    y = rng.integers(0, 3, 32)

    def train():
        model = gn.Sequential([gn.Input((6, 8, 8, 1)), *_volumetric_cnn(gn)], seed=1)
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        return model, model.fit(x, y, epochs=2, batch_size=8, verbose=0).history

    host, host_history = on_host(train)
    device, history = train()
    assert_same_history(history, host_history, cupy)
    assert_close(device.predict(x), host.predict(x), cupy, rtol=1e-3, atol=1e-4)


def test_spatial_dropout3d_drops_whole_channels_of_a_sample():
    layer = SpatialDropout3D(0.5, seed=0)
    x = np.ones((4, 2, 3, 3, 8), dtype=np.float32)
    y = layer(x, training=True)
    assert set(np.unique(y)) == {0.0, 2.0}
    assert (y == y[:, :1, :1, :1, :]).all()                # one value per (sample, channel)
    np.testing.assert_array_equal(layer(x), x)              # inference: the identity


def test_refusals_name_the_layer_and_what_came():
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, depth, height, width, channels\), "
                                         r"got shape \(batch, 8, 8, 1\)"):
        Conv3D(2, 3)(np.ones((1, 8, 8, 1)))
    with pytest.raises(ValueError, match="kernel_size must be a positive integer or 3 of them, got"):
        Conv3D(2, (3, 3))
    with pytest.raises(ValueError, match=r"pool_size must be a positive integer or 3 of them"):
        MaxPooling3D((2, 2))
    with pytest.raises(ValueError, match=r"padding must be a non-negative integer, 3 of them, or 3 pairs"):
        ZeroPadding3D((1, 2))
    with pytest.raises(ValueError, match="leaves nothing of input samples"):
        Cropping3D(2)(np.ones((1, 4, 5, 6, 1)))
    with pytest.raises(TypeError, match="UpSampling3D: unexpected keyword argument 'interpolation'"):
        UpSampling3D(2, interpolation="bilinear")
    with pytest.raises(ValueError, match="does not fit input samples of shape"):
        MaxPooling3D(3)(np.ones((1, 2, 6, 6, 1)))
    with pytest.raises(ValueError, match="expected input of shape"):
        GlobalMaxPooling3D()(np.ones((1, 6, 6, 1)))


def test_keras_other_names_are_the_same_classes():
    L = gn.layers
    assert (L.MaxPool3D, L.AvgPool3D, L.GlobalMaxPool3D, L.GlobalAvgPool3D, L.Convolution3D, L.Convolution3DTranspose) == (
        MaxPooling3D, AveragePooling3D, GlobalMaxPooling3D, GlobalAveragePooling3D, Conv3D, Conv3DTranspose)


def test_the_functions_take_volumes_and_refuse_settings_of_another_rank(rng):
    from glassnet.layers import conv, pooling
    x, kernel = rng.normal(size=(1, 4, 5, 6, 1)), rng.normal(size=(3, 3, 3, 1, 2))
    z, _ = conv.conv_forward(x, kernel)                       # strides and dilation: 1 on every axis
    assert z.shape == (1, 2, 3, 4, 2)
    with pytest.raises(ValueError, match=r"conv_forward: strides must give one size per spatial axis, 3 of them, got \(2, 2\)"):
        conv.conv_forward(x, kernel, strides=(2, 2))
    with pytest.raises(ValueError, match=r"a kernel of 3 spatial axes needs inputs \(N, 3 spatial axes, C\), got shape \(1, 5, 6, 1\)"):
        conv.conv_forward(x[:, 0], kernel)
    with pytest.raises(ValueError, match=r"pooling: pool must give one size per spatial axis, 3 of them, got \(2, 2\)"):
        pooling.max_pool_forward(x, (2, 2), (2, 2))
    # the names from before volumes still name the same functions
    assert conv.conv2d_forward is conv.conv_forward and pooling.avg_pool2d_backward is pooling.avg_pool_backward


def test_a_refused_float_stride_leaves_the_slices_cache_clean():
    from glassnet.layers import pooling
    x = np.ones((1, 6, 6, 1))
    with pytest.raises(TypeError, match=r"strides must be integers, got \(2.0, 2.0\)"):
        pooling.max_pool_forward(x, (2, 2), (2.0, 2.0))
    assert gn.layers.MaxPooling2D(2)(x).shape == (1, 3, 3, 1)
