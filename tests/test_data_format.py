"""Keras' ``data_format`` on the convolution, pooling, padding, cropping, upsampling, Flatten and
SpatialDropout layers (glassnet/layers/data_format.py).

Channels first must be the channels-last layer with the channel axis moved, exactly (the same
arithmetic on the same numbers); against PyTorch's NCHW ops (values and autograd's gradients),
Keras 3.15 (channels first where TensorFlow's CPU kernels run it, otherwise Keras channels last on
transposed data: its CPU Conv1D/2D and transposed convolutions refuse NCHW), float64 central
differences, and a small channels-first CNN trained as Keras trains it.
"""
import copy
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet import config
from glassnet.gradcheck import numerical_gradient

L = gn.layers


def last(x):
    return np.moveaxis(x, 1, -1)


def first(x):
    return np.moveaxis(x, -1, 1)


# name: (make(data_format) -> layer, channels-last sample shape, Keras runs it channels first on CPU)
CASES = {
    "Conv1D": (lambda f: L.Conv1D(3, 3, strides=2, padding="same", data_format=f), (7, 2), False),
    "Conv2D": (lambda f: L.Conv2D(3, (3, 2), strides=(2, 1), padding="same", data_format=f), (6, 5, 2), False),
    "Conv2D_dilated": (lambda f: L.Conv2D(2, 3, dilation_rate=2, data_format=f), (7, 6, 2), False),
    "Conv2D_groups": (lambda f: L.Conv2D(4, 3, groups=2, activation="tanh", data_format=f), (5, 5, 2), False),
    "Conv3D": (lambda f: L.Conv3D(2, 2, padding="same", data_format=f), (3, 4, 3, 2), True),
    "Conv1DTranspose": (lambda f: L.Conv1DTranspose(2, 3, strides=2, data_format=f), (4, 3), False),
    "Conv2DTranspose": (lambda f: L.Conv2DTranspose(2, 3, strides=2, padding="same", data_format=f), (3, 4, 3), False),
    "Conv3DTranspose": (lambda f: L.Conv3DTranspose(2, 2, strides=2, data_format=f), (2, 2, 3, 2), False),
    "SeparableConv1D": (lambda f: L.SeparableConv1D(3, 3, depth_multiplier=2, data_format=f), (6, 2), True),
    "SeparableConv2D": (lambda f: L.SeparableConv2D(3, 3, padding="same", data_format=f), (5, 4, 2), True),
    "DepthwiseConv1D": (lambda f: L.DepthwiseConv1D(3, depth_multiplier=2, data_format=f), (6, 2), True),
    "DepthwiseConv2D": (lambda f: L.DepthwiseConv2D(3, strides=2, data_format=f), (6, 5, 3), True),
    "MaxPooling1D": (lambda f: L.MaxPooling1D(2, data_format=f), (6, 3), True),
    "MaxPooling2D": (lambda f: L.MaxPooling2D(2, data_format=f), (5, 4, 3), True),
    "MaxPooling3D": (lambda f: L.MaxPooling3D(2, padding="same", data_format=f), (3, 4, 4, 2), True),
    "AveragePooling1D": (lambda f: L.AveragePooling1D(3, strides=1, data_format=f), (6, 3), True),
    "AveragePooling2D": (lambda f: L.AveragePooling2D(2, padding="same", data_format=f), (5, 5, 2), True),
    "AveragePooling3D": (lambda f: L.AveragePooling3D(2, data_format=f), (4, 4, 2, 2), True),
    "UpSampling2D": (lambda f: L.UpSampling2D((2, 3), data_format=f), (2, 3, 2), True),
    "UpSampling2D_bilinear": (lambda f: L.UpSampling2D(2, interpolation="bilinear", data_format=f), (3, 3, 2), True),
    "UpSampling3D": (lambda f: L.UpSampling3D(2, data_format=f), (2, 2, 2, 2), True),
    "ZeroPadding1D": (lambda f: L.ZeroPadding1D((1, 2), data_format=f), (3, 2), True),
    "ZeroPadding2D": (lambda f: L.ZeroPadding2D(((1, 0), (2, 1)), data_format=f), (3, 3, 2), True),
    "ZeroPadding3D": (lambda f: L.ZeroPadding3D(1, data_format=f), (2, 2, 2, 2), True),
    "Cropping2D": (lambda f: L.Cropping2D(((1, 0), (0, 1)), data_format=f), (4, 4, 2), True),
    "Cropping3D": (lambda f: L.Cropping3D(1, data_format=f), (3, 3, 4, 2), True),
    "Flatten": (lambda f: L.Flatten(data_format=f), (3, 4, 2), True),
}


def _pair(name, dtype="float32", rng=None, batch=2):
    """The channels-last and channels-first layers of a case, the second with the first's weights,
    and a channels-last batch."""
    make, shape, _ = CASES[name]
    rng = rng or np.random.default_rng(0)
    x = rng.standard_normal((batch, *shape)).astype(dtype)
    cl, cf = make("channels_last"), make("channels_first")
    for layer in (cl, cf):
        layer.dtype = np.dtype(dtype)
    cl.build(shape)
    cf.build((shape[-1], *shape[:-1]))
    cf.set_weights(cl.get_weights())
    return cl, cf, x


@pytest.mark.parametrize("name", CASES)
def test_channels_first_is_channels_last_with_the_axis_moved(name):
    cl, cf, x = _pair(name)
    y_last, y_first = cl(x), cf(np.ascontiguousarray(first(x)))
    moves = name != "Flatten"
    np.testing.assert_array_equal(y_first, first(y_last) if moves else y_last)
    assert cf.output_shape(first(x).shape[1:]) == y_first.shape[1:]
    g = np.random.default_rng(1).standard_normal(y_last.shape).astype(np.float32)
    dx_last = cl.backward(g)
    dx_first = cf.backward(np.ascontiguousarray(first(g)) if moves else g)
    np.testing.assert_array_equal(dx_first, first(dx_last))
    for key in cl.grads:
        np.testing.assert_array_equal(cf.grads[key], cl.grads[key])
    assert cf.input_shape == first(x).shape[1:] and cl.input_shape == x.shape[1:]


@pytest.mark.parametrize("rank,make", [(2, lambda f: L.SpatialDropout2D(0.5, seed=3, data_format=f)),
                                       (3, lambda f: L.SpatialDropout3D(0.5, seed=3, data_format=f))])
def test_spatial_dropout_drops_whole_channels_first_maps(rank, make):
    x = np.random.default_rng(0).standard_normal((4, *(3,) * rank, 5)).astype(np.float32)
    y_last = make("channels_last")(x, training=True)
    layer = make("channels_first")
    y_first = layer(np.ascontiguousarray(first(x)), training=True)
    np.testing.assert_array_equal(y_first, first(y_last))          # the same mask, per (sample, channel)
    kept = (y_first != 0).reshape(4, 5, -1)
    assert (kept.all(axis=2) | ~kept.any(axis=2)).all() and 0 < kept.mean() < 1
    g = np.ones_like(y_first)
    np.testing.assert_array_equal(layer.backward(g) != 0, y_first != 0)


@pytest.mark.parametrize("name", [n for n in CASES if not n.startswith(("MaxPooling", "Flatten"))]
                         + ["MaxPooling2D"])
def test_gradients_against_finite_differences_float64(name):
    _, layer, x = _pair(name, "float64", batch=1)
    x = np.ascontiguousarray(first(x))
    if name == "MaxPooling2D":          # ties and kinks away: distinct values
        x = np.random.default_rng(5).permutation(x.size).reshape(x.shape).astype(np.float64) / 7
    g = np.random.default_rng(2).standard_normal(layer(x).shape)

    def loss():
        return float((layer.forward(x) * g).sum())
    layer.forward(x)
    dx = layer.backward(g)
    grads = {k: v.copy() for k, v in layer.grads.items()}
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)
    for key, value in layer.params.items():
        np.testing.assert_allclose(grads[key], numerical_gradient(loss, value), rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------------------- PyTorch (NCHW)
def _torch_same(F, x, k, s):
    """TensorFlow's "same" zero padding (the odd pixel after) of NCHW x for kernels k, strides s."""
    pads = []
    for size, kk, ss in zip(reversed(x.shape[2:]), reversed(k), reversed(s)):
        total = max((-(-size // ss) - 1) * ss + kk - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


TORCH = {
    "Conv1D": lambda t, F, x, w: F.conv1d(_torch_same(F, x, (3,), (2,)), w[0].permute(2, 1, 0), w[1], stride=2),
    "Conv2D": lambda t, F, x, w: F.conv2d(_torch_same(F, x, (3, 2), (2, 1)), w[0].permute(3, 2, 0, 1), w[1],
                                          stride=(2, 1)),
    "Conv2D_dilated": lambda t, F, x, w: F.conv2d(x, w[0].permute(3, 2, 0, 1), w[1], dilation=2),
    "Conv2D_groups": lambda t, F, x, w: t.tanh(F.conv2d(x, w[0].permute(3, 2, 0, 1), w[1], groups=2)),
    "Conv3D": lambda t, F, x, w: F.conv3d(_torch_same(F, x, (2, 2, 2), (1, 1, 1)), w[0].permute(4, 3, 0, 1, 2), w[1]),
    "Conv1DTranspose": lambda t, F, x, w: F.conv_transpose1d(x, w[0].permute(2, 1, 0), w[1], stride=2),
    "Conv3DTranspose": lambda t, F, x, w: F.conv_transpose3d(x, w[0].permute(4, 3, 0, 1, 2), w[1], stride=2),
    "DepthwiseConv2D": lambda t, F, x, w: F.conv2d(x, w[0].permute(2, 3, 0, 1).reshape(3, 1, 3, 3), w[1],
                                                   stride=2, groups=3),
    "DepthwiseConv1D": lambda t, F, x, w: F.conv1d(x, w[0].permute(1, 2, 0).reshape(4, 1, 3), w[1], groups=2),
    "SeparableConv1D": lambda t, F, x, w: F.conv1d(F.conv1d(x, w[0].permute(1, 2, 0).reshape(4, 1, 3), groups=2),
                                                   w[1].permute(2, 1, 0), w[2]),
    "MaxPooling1D": lambda t, F, x, w: F.max_pool1d(x, 2),
    "MaxPooling2D": lambda t, F, x, w: F.max_pool2d(x, 2),
    "AveragePooling1D": lambda t, F, x, w: F.avg_pool1d(x, 3, stride=1),
    "AveragePooling3D": lambda t, F, x, w: F.avg_pool3d(x, 2),
    "UpSampling2D": lambda t, F, x, w: F.interpolate(x, scale_factor=(2, 3), mode="nearest"),
    "UpSampling2D_bilinear": lambda t, F, x, w: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False),
    "UpSampling3D": lambda t, F, x, w: F.interpolate(x, scale_factor=2, mode="nearest"),
    "ZeroPadding1D": lambda t, F, x, w: F.pad(x, (1, 2)),
    "ZeroPadding2D": lambda t, F, x, w: F.pad(x, (2, 1, 1, 0)),
    "ZeroPadding3D": lambda t, F, x, w: F.pad(x, (1,) * 6),
    "Cropping2D": lambda t, F, x, w: x[:, :, 1:, :-1],
    "Cropping3D": lambda t, F, x, w: x[:, :, 1:-1, 1:-1, 1:-1],
}


@pytest.mark.parametrize("name", TORCH)
def test_values_and_gradients_equal_torch_nchw(name, torch):
    _, layer, x = _pair(name, "float64")
    if name == "MaxPooling2D":
        x = np.random.default_rng(5).permutation(x.size).reshape(x.shape).astype(np.float64)
    x = np.ascontiguousarray(first(x))
    y = layer(x)
    g = np.random.default_rng(3).standard_normal(y.shape)
    dx = layer.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    wt = [torch.tensor(w, requires_grad=True) for w in layer.get_weights()]
    yt = TORCH[name](torch, torch.nn.functional, xt, wt)
    (yt * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for key, w in zip(layer.params, wt):
        np.testing.assert_allclose(layer.grads[key], w.grad.numpy(), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------- Keras 3.15
@pytest.mark.parametrize("name", CASES)
def test_values_equal_keras(name, keras):
    make, shape, runs_first = CASES[name]
    _, layer, x = _pair(name)
    y = layer(np.ascontiguousarray(first(x)))
    config_ = {k: v for k, v in layer.get_config().items() if k not in ("name", "input_shape")}
    # Keras' own layer from glassnet's config: the same settings (glassnet's names are Keras')
    if runs_first:
        k_layer = getattr(keras.layers, type(layer).__name__).from_config(config_)
        k_layer.build((None, *first(x).shape[1:]))
        k_layer.set_weights(layer.get_weights())
        expected = np.asarray(k_layer(first(x)))
    else:       # TensorFlow's CPU kernels refuse NCHW here: Keras channels last on the moved data
        k_layer = getattr(keras.layers, type(layer).__name__).from_config({**config_, "data_format": "channels_last"})
        k_layer.build((None, *x.shape[1:]))
        k_layer.set_weights(layer.get_weights())
        expected = first(np.asarray(k_layer(x)))
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_flatten_order_is_keras_channels_last_order(keras):
    x = np.arange(2 * 3 * 2 * 4, dtype=np.float32).reshape(2, 3, 2, 4)
    y = L.Flatten(data_format="channels_first")(x)
    np.testing.assert_array_equal(y, np.asarray(keras.layers.Flatten(data_format="channels_first")(x)))
    np.testing.assert_array_equal(y, last(x).reshape(2, -1))        # not x.reshape: Keras moves the channels


def test_small_channels_first_cnn_trains_as_keras(keras):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 2, 8, 8)).astype(np.float32)
    y = rng.integers(0, 3, 32)

    def layers(k, fmt):
        return [k.layers.Conv2D(4, 3, activation="relu", data_format=fmt),
                k.layers.MaxPooling2D(2, data_format=fmt),
                k.layers.BatchNormalization(axis=1 if fmt == "channels_first" else -1),
                k.layers.Flatten(data_format=fmt), k.layers.Dense(3, activation="softmax")]
    model = gn.Sequential([gn.Input((2, 8, 8)), *layers(gn, "channels_first")], seed=0)
    k_model = keras.Sequential([keras.Input((8, 8, 2)), *layers(keras, "channels_last")])
    k_model.set_weights(model.get_weights())
    for m, k in ((model, gn), (k_model, keras)):
        m.compile(optimizer=k.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    k_history = k_model.fit(last(x), y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], k_history.history["loss"], rtol=1e-5)
    for w, k_w in zip(model.get_weights(), k_model.get_weights()):
        np.testing.assert_allclose(w, k_w, rtol=1e-5, atol=1e-5)


def test_keras_configs_with_data_format_are_read(keras):
    k_layer = keras.layers.Conv2D(2, 3, data_format="channels_first")
    layer = L.deserialize(keras.layers.serialize(k_layer))
    assert layer.data_format == "channels_first"
    k_pool = keras.layers.MaxPooling2D(data_format="channels_last")
    assert L.deserialize(keras.layers.serialize(k_pool)).data_format == "channels_last"


# ---------------------------------------------------------------------------- the argument
def test_data_format_none_reads_the_global_format():
    try:
        config.set_image_data_format("channels_first")
        for layer in (L.Conv2D(2, 3), L.MaxPooling2D(), L.Flatten(), L.UpSampling3D(), L.SpatialDropout2D(0.1)):
            assert layer.data_format == "channels_first"
        # Keras gives these ranks none: channels last whatever the global format
        for layer in (L.Cropping1D(), L.UpSampling1D(), L.SpatialDropout1D(0.1)):
            assert layer.data_format == "channels_last"
        assert L.Conv2D(2, 3)(np.ones((1, 3, 5, 5), np.float32)).shape == (1, 2, 3, 3)
        # a config without the key (a channels-last layer's, or a file written before) is channels last
        assert L.Conv2D.from_config({"filters": 2, "kernel_size": [3, 3]}).data_format == "channels_last"
    finally:
        config.set_image_data_format("channels_last")
    assert L.Conv2D(2, 3).data_format == "channels_last"


@pytest.mark.parametrize("make", [lambda v: L.Conv2D(2, 3, data_format=v), lambda v: L.MaxPooling1D(data_format=v),
                                  lambda v: L.Flatten(data_format=v), lambda v: L.ZeroPadding3D(data_format=v),
                                  lambda v: L.SpatialDropout2D(0.1, data_format=v),
                                  lambda v: L.DepthwiseConv2D(3, data_format=v)])
def test_bad_data_format_is_refused_by_name(make):
    with pytest.raises(ValueError, match=r"data_format must be one of \['channels_last', 'channels_first'\], "
                                         r"got 'NCHW'"):
        make("NCHW")
    with pytest.raises(TypeError, match="data_format must be a str"):
        make(1)


def test_layers_keras_gives_no_data_format_refuse_it():
    for make in (lambda: L.Cropping1D(data_format="channels_last"), lambda: L.UpSampling1D(data_format="channels_last"),
                 lambda: L.SpatialDropout1D(0.1, data_format="channels_last")):
        with pytest.raises(TypeError, match="unexpected keyword argument 'data_format'"):
            make()
    assert L.ConvLSTM2D(2, 3, data_format="channels_last").data_format == "channels_last"
    # (ConvLSTM's channels first: tests/test_smalls43.py)


def test_softmax_activation_with_channels_first_is_refused_by_name():
    # Keras takes it along the width of a channels-first output: refused rather than computed otherwise
    for make in (lambda: L.Conv2D(2, 3, activation="softmax", data_format="channels_first"),
                 lambda: L.SeparableConv1D(2, 3, activation="log_softmax", data_format="channels_first")):
        with pytest.raises(ValueError, match=r"activation='(log_)?softmax' with data_format='channels_first'"):
            make()
    assert L.Conv2D(2, 3, activation="softmax").data_format == "channels_last"


def test_wrong_rank_names_the_channels_first_axes():
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, channels, height, width\), got shape "
                                         r"\(batch, 3, 5\)"):
        L.Conv2D(2, 3, data_format="channels_first")(np.ones((1, 3, 5), np.float32))


# ---------------------------------------------------------------------------- models and files
def _model():
    inputs = gn.Input((3, 8, 8))
    h = L.Conv2D(4, 3, padding="same", activation="relu", data_format="channels_first")(inputs)
    h = L.AveragePooling2D(2, data_format="channels_first")(h)
    h = L.Conv2DTranspose(2, 2, strides=2, data_format="channels_first")(h)
    h = L.ZeroPadding2D(1, data_format="channels_first")(h)
    outputs = L.Dense(2)(L.Flatten(data_format="channels_first")(h))
    return gn.Model(inputs, outputs, seed=0)


def test_functional_shapes_summary_trace_and_file_round_trip(tmp_path, capsys):
    model = _model()
    assert [tuple(layer.output_shape(layer.input_shape)) for layer in model.layers[:4]] == [
        (4, 8, 8), (4, 4, 4), (2, 8, 8), (2, 10, 10)]
    model.summary()
    assert "(None, 2, 10, 10)" in capsys.readouterr().out
    x = np.random.default_rng(0).standard_normal((3, 3, 8, 8)).astype(np.float32)
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, np.ones((3, 2), np.float32), epochs=1, verbose=0)
    records = model.trace(x[:2], np.ones((2, 2), np.float32))
    assert len(records) >= 5
    path = tmp_path / "cf.npz"
    model.save(path)
    loaded = gn.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [getattr(layer, "data_format", None) for layer in loaded.layers[:5]] == ["channels_first"] * 5
    clone = copy.deepcopy(model.layers[0])
    assert clone.forward.__self__ is clone


def test_channels_last_configs_keep_their_bytes():
    for layer in (L.Conv2D(2, 3), L.MaxPooling2D(), L.Flatten(), L.UpSampling2D(), L.SpatialDropout2D(0.1),
                  L.SeparableConv2D(2, 3), L.Cropping3D()):
        assert "data_format" not in layer.get_config()
        assert "forward" not in vars(layer)          # nothing wrapped on the default's hot path
    cf = L.Conv2D(2, 3, data_format="channels_first")
    assert json.loads(json.dumps(cf.get_config()))["data_format"] == "channels_first"
    assert L.Conv2D.from_config(cf.get_config()).data_format == "channels_first"
