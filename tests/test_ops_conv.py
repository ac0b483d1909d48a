"""keras.ops' conv, depthwise_conv, separable_conv, conv_transpose, max_pool, average_pool and
ops.image.extract_patches: on arrays values and dtypes against Keras 3.15 (strides, padding, dilation,
1-D/2-D/3-D, channels_first), on tensors shapes against Keras', every node's input gradient and a
weight kernel's gradient against float64 central finite differences, a model of them (weight
kernels made by add_weight in a Layer's call) trained beside Keras 3.15, model files, refusals."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from glassnet.gradcheck import check_layer, check_model
from glassnet.layers.tensor_functions import TensorFunction


def _close(ours, theirs, atol=2e-5):
    theirs = np.asarray(theirs)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, (ours.shape, theirs.shape, ours.dtype,
                                                                       theirs.dtype)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=atol)


# -- values on arrays, against Keras 3.15 ---------------------------------------------------------
CONV_CASES = [  # (input shape, kernel shape, strides, padding, dilation)
    ((2, 9, 8, 3), (3, 3, 3, 4), 1, "valid", 1),
    ((2, 9, 8, 3), (3, 2, 3, 4), 2, "same", 1),
    ((2, 9, 8, 3), (3, 3, 3, 2), (2, 1), "valid", 1),
    ((2, 9, 8, 3), (3, 3, 3, 2), 1, "same", 2),
    ((2, 9, 8, 1), (2, 3, 1, 5), 1, "same", (2, 1)),
    ((3, 11, 2), (4, 2, 3), 3, "same", 1),
    ((3, 11, 2), (3, 2, 3), 1, "valid", 3),
    ((2, 5, 6, 4, 2), (2, 3, 2, 2, 3), (1, 2, 1), "same", 1),
]


@pytest.mark.parametrize("x_shape, k_shape, strides, padding, dilation", CONV_CASES)
def test_conv_matches_keras(x_shape, k_shape, strides, padding, dilation, rng, keras):
    x = rng.standard_normal(x_shape).astype(np.float32)
    k = rng.standard_normal(k_shape).astype(np.float32)
    _close(ops.conv(x, k, strides, padding, None, dilation),
           keras.ops.conv(x, k, strides, padding, None, dilation))


@pytest.mark.parametrize("x_shape, k_shape, strides, padding, dilation", [
    ((2, 9, 8, 3), (3, 3, 3, 2), 1, "valid", 1), ((2, 9, 8, 3), (2, 3, 3, 1), 2, "same", 1),
    ((2, 9, 8, 2), (3, 3, 2, 2), 1, "same", 2), ((3, 11, 2), (4, 2, 3), 2, "same", 1),
    ((3, 11, 2), (3, 2, 2), 1, "valid", 2)])
def test_depthwise_and_separable_conv_match_keras(x_shape, k_shape, strides, padding, dilation, rng, keras):
    x = rng.standard_normal(x_shape).astype(np.float32)
    k = rng.standard_normal(k_shape).astype(np.float32)
    _close(ops.depthwise_conv(x, k, strides, padding, None, dilation),
           keras.ops.depthwise_conv(x, k, strides, padding, None, dilation))
    p = rng.standard_normal((1,) * (len(x_shape) - 2) + (k_shape[-2] * k_shape[-1], 4)).astype(np.float32)
    _close(ops.separable_conv(x, k, p, strides, padding, None, dilation),
           keras.ops.separable_conv(x, k, p, strides, padding, None, dilation))


@pytest.mark.parametrize("x_shape, k_shape, strides, padding, output_padding", [
    ((2, 4, 5, 3), (3, 3, 2, 3), 1, "valid", None), ((2, 4, 5, 3), (3, 3, 2, 3), 2, "same", None),
    ((2, 4, 5, 3), (3, 2, 4, 3), 2, "valid", None), ((2, 4, 5, 3), (3, 3, 2, 3), 2, "valid", 1),
    ((2, 4, 5, 3), (3, 3, 2, 3), (2, 3), "same", (1, 2)), ((3, 6, 2), (4, 3, 2), 3, "same", None),
    ((3, 6, 2), (2, 3, 2), 2, "valid", 1)])
def test_conv_transpose_matches_keras(x_shape, k_shape, strides, padding, output_padding, rng, keras):
    x = rng.standard_normal(x_shape).astype(np.float32)
    k = rng.standard_normal(k_shape).astype(np.float32)
    _close(ops.conv_transpose(x, k, strides, padding, output_padding),
           keras.ops.conv_transpose(x, k, strides, padding, output_padding))


@pytest.mark.parametrize("x_shape, pool, strides, padding", [
    ((2, 7, 8, 3), 2, None, "valid"), ((2, 7, 8, 3), 3, 2, "same"), ((2, 7, 8, 3), (2, 3), (1, 2), "same"),
    ((3, 9, 2), 2, None, "same"), ((3, 9, 2), 3, 1, "valid"), ((2, 5, 4, 6, 2), 2, None, "same")])
def test_pools_match_keras(x_shape, pool, strides, padding, rng, keras):
    x = rng.standard_normal(x_shape).astype(np.float32)
    for ours, theirs in ((ops.max_pool, keras.ops.max_pool), (ops.average_pool, keras.ops.average_pool)):
        _close(ours(x, pool, strides, padding), theirs(x, pool, strides, padding))


@pytest.mark.parametrize("x_shape, size, strides, dilation, padding", [
    ((2, 12, 12, 3), 4, None, 1, "valid"), ((2, 12, 10, 3), (3, 2), None, 1, "valid"),
    ((2, 9, 9, 2), 3, 2, 1, "same"), ((2, 9, 9, 2), 2, 1, 2, "valid"), ((2, 9, 9, 2), 3, 1, 2, "same"),
    ((9, 9, 2), 3, (2, 1), 1, "valid"), ((2, 6, 6, 4, 2), (2, 3, 2), None, 1, "valid"),
    ((6, 6, 4, 2), (2, 2, 2), 1, 1, "same")])
def test_extract_patches_matches_keras(x_shape, size, strides, dilation, padding, rng, keras):
    x = rng.standard_normal(x_shape).astype(np.float32)
    _close(ops.image.extract_patches(x, size, strides, dilation, padding),
           keras.ops.image.extract_patches(x, size, strides, dilation, padding))


def test_dtypes_match_keras(rng, keras):
    x = rng.integers(-3, 4, (2, 6, 6, 2)).astype(np.int32)
    k = rng.integers(-2, 3, (2, 2, 2, 3)).astype(np.int32)
    _close(ops.conv(x, k), keras.ops.conv(x, k))                                    # int32, exact
    _close(ops.image.extract_patches(x, 2), keras.ops.image.extract_patches(x, 2))  # int32 kept
    _close(ops.max_pool(x, 2), keras.ops.max_pool(x, 2))                            # float32
    x64, k64 = x.astype(np.float64), k.astype(np.float64)
    _close(ops.conv(x64, k64, 1, "same"), keras.ops.conv(x64, k64, 1, "same"), atol=1e-12)
    _close(ops.average_pool(x64, 3, 1, "same"), keras.ops.average_pool(keras.ops.convert_to_tensor(x64), 3, 1,
                                                                         "same"), atol=1e-12)
    assert ops.image.extract_patches(x64, 3).dtype == np.float64
    assert ops.conv(x.astype(np.float32), k64).dtype == np.float64     # Keras 3.15 on TensorFlow refuses the mix


def test_channels_first_is_channels_last_moved(rng, keras):
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)        # (N, C, H, W)
    last = np.moveaxis(x, 1, -1)
    k = rng.standard_normal((3, 2, 3, 4)).astype(np.float32)
    cases = [(ops.conv, (k, 2, "same")), (ops.depthwise_conv, (k, 1, "same")),
             (ops.conv_transpose, (rng.standard_normal((3, 2, 4, 3)).astype(np.float32), 2, "valid")),
             (ops.max_pool, (2,)), (ops.average_pool, (3, 1, "same")), (ops.image.extract_patches, ((2, 3),))]
    for function, args in cases:
        first = function(x, *args, data_format="channels_first")
        np.testing.assert_array_equal(first, np.moveaxis(function(last, *args), -1, 1))
    # where TensorFlow's CPU kernels take channels_first (the others need a GPU), against Keras
    _close(ops.max_pool(x, 2, data_format="channels_first"), keras.ops.max_pool(x, 2, data_format="channels_first"))
    _close(ops.depthwise_conv(x, k, data_format="channels_first"),
           keras.ops.depthwise_conv(x, k, data_format="channels_first"))


def test_strides_with_dilation_match_torch(rng, torch):
    # Keras 3.15 on TensorFlow refuses strides > 1 with dilation_rate > 1; the kernels take both
    x = rng.standard_normal((2, 11, 10, 3))
    k = rng.standard_normal((3, 2, 3, 4))
    theirs = torch.nn.functional.conv2d(torch.tensor(x).permute(0, 3, 1, 2), torch.tensor(k).permute(3, 2, 0, 1),
                                        stride=2, dilation=(2, 3))
    np.testing.assert_allclose(ops.conv(x, k, 2, dilation_rate=(2, 3)), theirs.permute(0, 2, 3, 1).numpy(),
                               rtol=1e-12, atol=1e-12)


# -- tensors: shapes, gradients ---------------------------------------------------------------------
NODES = [  # (op, arguments, kernel shape or None, sample shape)
    ("conv", {"strides": 2, "padding": "same"}, (3, 2, 3, 2), (5, 6, 3)),
    ("conv", {"dilation_rate": 2}, (2, 3, 2), (9, 3)),
    ("conv", {"padding": "same", "data_format": "channels_first"}, (2, 2, 2, 3), (2, 4, 5)),
    ("depthwise_conv", {"padding": "same", "strides": (1, 2)}, (3, 3, 2, 2), (5, 6, 2)),
    ("depthwise_conv", {"dilation_rate": 2}, (2, 3, 2), (7, 3)),
    ("conv_transpose", {"strides": 2, "padding": "same"}, (3, 3, 2, 3), (3, 4, 3)),
    ("conv_transpose", {"strides": 2, "output_padding": 1}, (3, 2, 2), (4, 2)),
    ("max_pool", {"pool_size": 2, "padding": "same"}, None, (5, 5, 2)),
    ("max_pool", {"pool_size": 3, "strides": 1}, None, (7, 2)),
    ("average_pool", {"pool_size": (2, 3), "strides": 1, "padding": "same"}, None, (4, 5, 2)),
    ("average_pool", {"pool_size": 2}, None, (6, 3)),
    ("extract_patches", {"size": 2, "padding": "same", "strides": 1}, None, (3, 4, 2)),
    ("extract_patches", {"size": (2, 3), "dilation_rate": 2, "strides": 1}, None, (6, 7, 2)),
]


@pytest.mark.parametrize("op, arguments, kernel_shape, sample", NODES)
def test_node_input_gradients_by_finite_differences(op, arguments, kernel_shape, sample, rng):
    kernel = None if kernel_shape is None else rng.standard_normal(kernel_shape)
    layer = TensorFunction(op, arguments, constant=kernel, dtype="float64")
    x = rng.standard_normal((2, *sample))
    if op == "max_pool":        # apart from ties, where max has no derivative
        x = rng.permutation(np.arange(x.size)).reshape(x.shape) / 7.0
    check_layer(layer, x)


def _symbolic(module, op, sample, *args, **kwargs):
    functions = {"extract_patches": lambda m: m.ops.image.extract_patches}
    function = functions[op](module) if op in functions else getattr(module.ops, op)
    return function(module.Input(sample), *args, **kwargs).shape


@pytest.mark.parametrize("op, sample, args, kwargs", [
    ("conv", (None, 7, 3), (np.ones((3, 2, 3, 4), "float32"), 2, "same"), {}),
    ("conv", (9, 2), (np.ones((3, 2, 5), "float32"),), {"dilation_rate": 2}),
    ("depthwise_conv", (8, 6, 2), (np.ones((3, 3, 2, 3), "float32"),), {}),
    ("separable_conv", (8, 6, 2), (np.ones((3, 3, 2, 2), "float32"), np.ones((1, 1, 4, 5), "float32"), 2, "same"), {}),
    ("conv_transpose", (4, 5, 3), (np.ones((3, 3, 2, 3), "float32"), 2, "valid", 1), {}),
    ("conv_transpose", (None, 3), (np.ones((3, 2, 3), "float32"), 2, "same"), {}),
    ("max_pool", (7, 8, 3), (3, 2, "same"), {}), ("average_pool", (9, 2), (2,), {}),
    ("extract_patches", (12, 12, 3), (4,), {}), ("extract_patches", (9, 9, 2), (3, 1, 2, "same"), {}),
])
def test_symbolic_shapes_match_keras(op, sample, args, kwargs, keras):
    assert _symbolic(gn, op, sample, *args, **kwargs) == _symbolic(keras, op, sample, *args, **kwargs)


# -- a model with weight kernels, trained beside Keras 3.15 -----------------------------------------
def _convnet(module):
    kops = module.ops

    class ConvBlock(module.layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(3, 3, input_shape[-1], 4), initializer="glorot_uniform", name="k")
            self.depth = self.add_weight(shape=(3, 3, 4, 2), initializer="glorot_uniform", name="d")
            self.point = self.add_weight(shape=(1, 1, 8, 3), initializer="glorot_uniform", name="p")
            self.up = self.add_weight(shape=(2, 2, 2, 3), initializer="glorot_uniform", name="u")

        def call(self, x):
            h = kops.relu(kops.conv(x, self.kernel, padding="same"))
            h = kops.max_pool(h, 2)
            h = kops.separable_conv(h, self.depth, self.point, padding="same")
            h = kops.conv_transpose(h, self.up, 2)
            return kops.average_pool(h, 2, 1, "same")

    images = module.Input((8, 8, 2))
    h = ConvBlock(name="block")(images)
    h = kops.image.extract_patches(h, 4)                            # (None, 2, 2, 32)
    h = kops.reshape(h, (-1, 4, 32))
    h = kops.mean(kops.depthwise_conv(h, np.linspace(-1, 1, 2 * 32 * 1, dtype="float32").reshape(2, 32, 1)), 1)
    return images, module.layers.Dense(2, name="out")(h)


def test_convnet_of_ops_trains_as_keras(rng, keras):
    ours = gn.Model(*_convnet(gn), seed=0)
    theirs = keras.Model(*_convnet(keras))
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    theirs.set_weights(ours.get_weights())
    x = rng.standard_normal((16, 8, 8, 2)).astype(np.float32)
    y = rng.standard_normal((16, 2)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.05))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.05))
    ours_loss = ours.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    their_loss = theirs.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(ours_loss, their_loss, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_weight_kernels_train_by_finite_differences(rng):
    model = gn.Model(*_convnet(gn), seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    x = rng.standard_normal((2, 8, 8, 2))
    check_model(model, x, rng.standard_normal((2, 2)))


def test_model_files_keep_constant_and_weight_kernels(rng, tmp_path):
    model = gn.Model(*_convnet(gn), seed=3)
    x = rng.standard_normal((3, 8, 8, 2)).astype(np.float32)
    model.save(tmp_path / "convops.npz")
    loaded = gn.load_model(tmp_path / "convops.npz")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    copy = gn.models.model_from_json(model.to_json())
    copy.set_weights(model.get_weights())
    np.testing.assert_array_equal(copy.predict(x, verbose=0), model.predict(x, verbose=0))


# -- refusals ---------------------------------------------------------------------------------------
K = np.ones((3, 3, 2, 4), np.float32)


@pytest.mark.parametrize("make, error, message", [
    (lambda x: ops.conv(x, K, padding="full"), ValueError, "padding must be 'valid' or 'same'"),
    (lambda x: ops.conv(x, K, data_format="NHWC"), ValueError, "data_format must be 'channels_last'"),
    (lambda x: ops.conv(x, K, strides=0), ValueError, "strides must be an integer >= 1"),
    (lambda x: ops.conv(x, K[0]), ValueError, "kernel must have 4 axes"),
    (lambda x: ops.conv(x, np.ones((3, 3, 5, 4))), ValueError, "takes 5 input channels, got inputs of 2"),
    (lambda x: ops.conv(x, np.ones((9, 3, 2, 4))), ValueError, "does not fit"),
    (lambda x: ops.conv(x, K, strides=(1, 2, 3)), ValueError, "strides \\(1, 2, 3\\) gives 3 sizes"),
    (lambda x: ops.conv(x, x), TypeError, "kernel is a tensor"),
    (lambda x: ops.conv(x, 2.0), ValueError, "kernel must have 4 axes"),
    (lambda x: ops.depthwise_conv(gn.Input((3, 3, 3, 2)), np.ones((1, 1, 1, 2, 1))), ValueError,
     "1 or 2 spatial axes"),
    (lambda x: ops.conv_transpose(x, K, dilation_rate=2), ValueError, "dilation_rate > 1 is not implemented"),
    (lambda x: ops.conv_transpose(x, np.ones((3, 3, 4, 2)), 2, output_padding=3), ValueError,
     "output_padding .* does not take back"),
    (lambda x: ops.max_pool(x, None), ValueError, "pool_size must be an integer"),
    (lambda x: ops.average_pool(x, 2, padding=1), ValueError, "padding must be 'valid' or 'same'"),
    (lambda x: ops.image.extract_patches(x, (2, 2, 2, 2)), ValueError, "size must be an integer or a tuple of 2"),
    (lambda x: ops.image.extract_patches(gn.Input((8, 2)), 2), ValueError, "2 or 3 spatial axes"),
])
def test_refusals_name_the_argument(make, error, message):
    with pytest.raises(error, match=message):
        make(gn.Input((8, 8, 2)))


def test_refusals_on_arrays():
    x = np.ones((1, 8, 8, 2), np.float32)
    with pytest.raises(ValueError, match="takes 2 input channels, got inputs of 3"):
        ops.conv(np.ones((1, 8, 8, 3)), K)
    with pytest.raises(TypeError, match="inputs must hold numbers"):
        ops.conv(x.astype(bool), K)
    with pytest.raises(ValueError, match="dilation_rate must be an integer >= 1"):
        ops.image.extract_patches(x, 2, dilation_rate=0)
    with pytest.raises(ValueError, match="2 or 3 spatial axes"):
        ops.image.extract_patches(np.ones((8, 2)), 2)


def test_import_glassnet_leaves_the_conv_ops_unloaded():
    import subprocess
    import sys
    code = ("import sys, glassnet; print(any(m in sys.modules for m in ('glassnet._ops_conv', "
            "'glassnet._ops_image', 'glassnet.layers.tensor_conv')))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() \
        == "False"
