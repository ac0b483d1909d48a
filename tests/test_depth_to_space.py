"""DepthToSpace and SpaceToDepth (sub-pixel convolution): values against TensorFlow's
``tf.nn.depth_to_space`` / ``space_to_depth`` and Keras' ``keras.ops`` functions, gradients by finite
differences and against PyTorch autograd through docs/pytorch.md's port of ``PixelShuffle`` /
``PixelUnshuffle``, an ESPCN-style model trained as Keras trains it and run on images of other sizes,
files and configs, and the refusals. The layer contract is in test_layer_contract.py."""
import os
import re
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer
from glassnet.layers import Conv2D, DepthToSpace, SpaceToDepth
from glassnet.layers.catalog import HOME_OF

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "pytorch.md"

# (block size, low-resolution sample (H, W, c)): square and not, a single pixel, several channels
CASES = [(2, (3, 5, 1)), (2, (4, 4, 3)), (3, (2, 7, 2)), (4, (1, 1, 5)), (3, (5, 1, 1))]


def _torch_order(c, r):
    """docs/pytorch.md's permutation: TensorFlow's channel m is PyTorch's channel order[m]."""
    return np.arange(c * r * r).reshape(c, r * r).T.ravel()


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow", reason="TensorFlow oracle not installed")


@pytest.mark.parametrize("r, shape", CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_are_tensorflow_s_both_ways(tf, r, shape, dtype, rng):
    h, w, c = shape
    x = rng.standard_normal((2, h, w, c * r * r)).astype(dtype)
    out = DepthToSpace(r, dtype=dtype)(x)
    expected = tf.nn.depth_to_space(x, r).numpy()
    assert out.dtype == np.dtype(dtype) and out.shape == (2, h * r, w * r, c)
    np.testing.assert_array_equal(out, expected)        # a permutation: exact
    # SpaceToDepth of a high-resolution image of any content
    y = rng.standard_normal((2, h * r, w * r, c)).astype(dtype)
    down = SpaceToDepth(r, dtype=dtype)(y)
    assert down.dtype == np.dtype(dtype) and down.shape == (2, h, w, c * r * r)
    np.testing.assert_array_equal(down, tf.nn.space_to_depth(y, r).numpy())


def test_values_are_keras_ops_and_keras_has_no_layer_of_these_names(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.standard_normal((3, 2, 3, 18)).astype(np.float32)
    np.testing.assert_array_equal(DepthToSpace(3)(x), keras.ops.convert_to_numpy(keras.ops.depth_to_space(x, 3)))
    y = rng.standard_normal((3, 6, 4, 2)).astype(np.float32)
    np.testing.assert_array_equal(SpaceToDepth(2)(y), keras.ops.convert_to_numpy(keras.ops.space_to_depth(y, 2)))
    # docs/keras_parity.md: the functions exist, no layer does (the layers take the functions' arguments)
    assert not hasattr(keras.layers, "DepthToSpace") and not hasattr(keras.layers, "SpaceToDepth")


def test_the_channel_order_is_tensorflow_s_worked_by_hand():
    # one pixel of 8 channels, r = 2, c = 2: channel (i * 2 + j) * 2 + k goes to row i, column j, channel k
    x = np.arange(8.0).reshape(1, 1, 1, 8)
    out = DepthToSpace(2)(x)[0]
    assert out[:, :, 0].tolist() == [[0.0, 2.0], [4.0, 6.0]]
    assert out[:, :, 1].tolist() == [[1.0, 3.0], [5.0, 7.0]]


@pytest.mark.parametrize("r, shape", CASES)
def test_each_undoes_the_other(r, shape, rng):
    h, w, c = shape
    images = rng.standard_normal((2, h * r, w * r, c)).astype(np.float32)
    np.testing.assert_array_equal(DepthToSpace(r)(SpaceToDepth(r)(images)), images)
    channels = rng.standard_normal((2, h, w, c * r * r)).astype(np.float32)
    np.testing.assert_array_equal(SpaceToDepth(r)(DepthToSpace(r)(channels)), channels)


@pytest.mark.parametrize("make, shape", [(lambda: DepthToSpace(2, dtype="float64"), (3, 2, 8)),
                                         (lambda: DepthToSpace(3, dtype="float64"), (2, 2, 9)),
                                         (lambda: SpaceToDepth(2, dtype="float64"), (4, 6, 2)),
                                         (lambda: SpaceToDepth(3, dtype="float64"), (3, 6, 1))])
def test_gradients_agree_with_finite_differences(make, shape, rng):
    report = check_layer(make(), rng.standard_normal((2, *shape)))
    assert report["max_error"] < 1e-8          # a permutation: the differences are exact but for rounding


def test_the_gradient_check_catches_a_wrong_backward(rng):
    # the backward a port is tempted to write, PyTorch's channel order: the check must fail on it
    class TorchOrdered(DepthToSpace):
        def backward(self, grad_output):
            n, hr, wr, c = grad_output.shape
            r = self.block_size
            blocks = grad_output.reshape(n, hr // r, r, wr // r, r, c).transpose(0, 1, 3, 5, 2, 4)
            return blocks.reshape(n, hr // r, wr // r, c * r * r)

    from glassnet.gradcheck import GradientCheckError
    try:
        with pytest.raises(GradientCheckError):
            check_layer(TorchOrdered(2, dtype="float64"), rng.standard_normal((2, 2, 3, 8)))
    finally:
        gn.layers.LAYERS.pop("TorchOrdered", None)     # (the registry outlives the test otherwise)


@pytest.mark.parametrize("r, c, C", [(2, 3, 2), (3, 1, 1), (2, 2, 3)])
def test_ported_conv_and_pixel_shuffle_compute_and_differentiate_as_pytorch(torch, r, c, C, rng):
    """docs/pytorch.md: Conv2d(C, c r r) + PixelShuffle(r) is Conv2D(c r r) + DepthToSpace(r) once the
    kernel's output channels and the bias are reordered by ``order``: outputs and the gradients of the
    input, kernel and bias equal autograd's (float64)."""
    conv_t = torch.nn.Conv2d(C, c * r * r, 3, padding=1)
    x = rng.standard_normal((2, C, 4, 5))
    grad = rng.standard_normal((2, c, 4 * r, 5 * r))            # dL/d(output), NCHW
    xt = torch.tensor(x, requires_grad=True)
    out_t = torch.nn.PixelShuffle(r)(conv_t(xt))
    (out_t * torch.tensor(grad)).sum().backward()

    order = _torch_order(c, r)
    weight, bias = conv_t.weight.detach().numpy(), conv_t.bias.detach().numpy()
    conv = Conv2D(c * r * r, 3, padding="same", dtype="float64")
    conv.build((4, 5, C))
    conv.set_weights([weight.transpose(2, 3, 1, 0)[..., order], bias[order]])
    shuffle = DepthToSpace(r, dtype="float64")
    shuffle.build((4, 5, c * r * r))
    out = shuffle.forward(conv.forward(x.transpose(0, 2, 3, 1), training=True), training=True)
    np.testing.assert_allclose(out, out_t.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-12)
    dx = conv.backward(shuffle.backward(grad.transpose(0, 2, 3, 1)))
    np.testing.assert_allclose(dx, xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-12)
    # glassnet's kernel gradient is PyTorch's reordered as the kernel was
    np.testing.assert_allclose(conv.grads["kernel"], conv_t.weight.grad.numpy().transpose(2, 3, 1, 0)[..., order],
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv.grads["bias"], conv_t.bias.grad.numpy()[order], rtol=1e-12, atol=1e-12)
    if r > 1 and c > 1:
        # without the reordering, the port computes something else (the permutation is needed)
        conv.set_weights([weight.transpose(2, 3, 1, 0), bias])
        unordered = shuffle.forward(conv.forward(x.transpose(0, 2, 3, 1)))
        assert not np.allclose(unordered, out_t.detach().numpy().transpose(0, 2, 3, 1))


@pytest.mark.parametrize("r, C", [(2, 3), (3, 2)])
def test_ported_pixel_unshuffle_and_conv_compute_and_differentiate_as_pytorch(torch, r, C, rng):
    """PixelUnshuffle(r) + Conv2d(C r r, F) is SpaceToDepth(r) + Conv2D(F) with the kernel's input
    channels reordered by ``order`` (made with c = C)."""
    F = 4
    conv_t = torch.nn.Conv2d(C * r * r, F, 2)
    x = rng.standard_normal((2, C, 3 * r, 4 * r))
    xt = torch.tensor(x, requires_grad=True)
    out_t = conv_t(torch.nn.PixelUnshuffle(r)(xt))
    grad = rng.standard_normal(tuple(out_t.shape))
    (out_t * torch.tensor(grad)).sum().backward()

    order = _torch_order(C, r)
    unshuffle = SpaceToDepth(r, dtype="float64")
    unshuffle.build((3 * r, 4 * r, C))
    conv = Conv2D(F, 2, dtype="float64")
    conv.build((3, 4, C * r * r))
    conv.set_weights([conv_t.weight.detach().numpy().transpose(2, 3, 1, 0)[:, :, order], conv_t.bias.detach().numpy()])
    out = conv.forward(unshuffle.forward(x.transpose(0, 2, 3, 1), training=True), training=True)
    np.testing.assert_allclose(out, out_t.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-12)
    dx = unshuffle.backward(conv.backward(grad.transpose(0, 2, 3, 1)))
    np.testing.assert_allclose(dx, xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv.grads["kernel"],
                               conv_t.weight.grad.numpy().transpose(2, 3, 1, 0)[:, :, order], rtol=1e-12, atol=1e-12)


def test_the_guide_s_example_runs_and_matches_pytorch():
    pytest.importorskip("torch", reason="PyTorch oracle not installed")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
              if "PixelShuffle" in b]
    assert blocks, "docs/pytorch.md: no PixelShuffle example"
    namespace = {}
    exec(compile(blocks[0], "docs/pytorch.md (PixelShuffle)", "exec"), namespace)     # it asserts itself
    assert namespace["expected"].shape == (2, 18, 26, 3)


def _espcn(lib, r, seed=None):
    """keras.io's ESPCN, small: convolutions, the last one making r * r channels, then depth to space."""
    if lib is gn:
        return gn.Sequential([gn.Input((None, None, 1)), gn.layers.Conv2D(8, 3, padding="same", activation="tanh"),
                              gn.layers.Conv2D(r * r, 3, padding="same"), DepthToSpace(r)], seed=seed)
    keras = lib
    return keras.Sequential([keras.Input((None, None, 1)), keras.layers.Conv2D(8, 3, padding="same", activation="tanh"),
                             keras.layers.Conv2D(r * r, 3, padding="same"),
                             keras.layers.Lambda(lambda t: keras.ops.depth_to_space(t, r))])


def test_an_espcn_model_trains_as_keras_and_upscales_images_of_any_size(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    r = 3
    # targets: a smooth high-resolution image; inputs: its block means (what the model must undo)
    hi = rng.random((16, 12 * r, 12 * r, 1)).astype(np.float32)
    hi = (hi + np.roll(hi, 1, axis=1) + np.roll(hi, 1, axis=2)) / 3
    lo = hi.reshape(16, 12, r, 12, r, 1).mean(axis=(2, 4))
    ours, theirs = _espcn(gn, r, seed=0), _espcn(keras, r)
    theirs.set_weights(ours.get_weights())
    # SGD: Adam's division by the gradients' root mean square would blow float32 rounding up where a
    # gradient is near zero, and the comparison would say nothing of the layers
    ours.compile("mse", gn.optimizers.SGD(0.5, momentum=0.9))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.5, momentum=0.9))
    history = ours.fit(lo, hi, epochs=5, batch_size=4, shuffle=False, verbose=0).history
    keras_history = theirs.fit(lo, hi, epochs=5, batch_size=4, shuffle=False, verbose=0).history
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    np.testing.assert_allclose(history["loss"], keras_history["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)      # 8e-7 apart when written
    # trained on 12 x 12 crops, it upscales images of other sizes, as Keras' twin does
    for h, w in ((7, 19), (30, 5), (1, 1)):
        image = rng.random((2, h, w, 1)).astype(np.float32)
        out = ours.predict(image, verbose=0)
        assert out.shape == (2, h * r, w * r, 1) and out.dtype == np.float32
        np.testing.assert_allclose(out, theirs.predict(image, verbose=0), rtol=1e-5, atol=1e-5)


def test_save_load_and_config_round_trip(tmp_path, rng):
    model = gn.Sequential([gn.Input((None, None, 2)), SpaceToDepth(2), Conv2D(12, 1), DepthToSpace(2)], seed=0)
    path = tmp_path / "subpixel.npz"
    model.save(path)
    again = gn.load_model(path)
    x = rng.random((3, 6, 10, 2)).astype(np.float32)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [type(layer).__name__ for layer in again.layers] == ["SpaceToDepth", "Conv2D", "DepthToSpace"]
    for layer in (DepthToSpace(3, name="up"), SpaceToDepth(2, data_format="channels_last")):
        config = layer.get_config()
        assert config["block_size"] == layer.block_size and config["data_format"] == "channels_last"
        rebuilt = type(layer).from_config(config)
        assert rebuilt.get_config() == config
    assert gn.layers.deserialize(gn.layers.serialize(DepthToSpace(4))).block_size == 4


def test_the_catalog_lists_them():
    assert HOME_OF["DepthToSpace"] == HOME_OF["SpaceToDepth"] == "depth_space"
    assert gn.layers.LAYERS["DepthToSpace"] is DepthToSpace and "_Rearrange" not in gn.layers.LAYERS


@pytest.mark.parametrize("make, error, message", [
    (lambda: DepthToSpace(1), ValueError, r"DepthToSpace: block_size must be an integer >= 2 .*got 1"),
    (lambda: SpaceToDepth(2.0), ValueError, r"SpaceToDepth: block_size must be an integer >= 2 .*got 2.0"),
    (lambda: DepthToSpace(True), ValueError, r"block_size must be an integer >= 2 .*got True"),
    (lambda: DepthToSpace("2"), ValueError, r"block_size must be an integer >= 2 .*got '2'"),
    (lambda: DepthToSpace(2, data_format="channels_first"), ValueError,
     r"DepthToSpace: data_format must be one of \['channels_last'\], got 'channels_first'.*Permute\(\(2, 3, 1\)\)"),
    (lambda: SpaceToDepth(2, data_format=1), TypeError, r"SpaceToDepth: data_format must be a str"),
    # known sizes: refused when the model is built
    (lambda: gn.Sequential([gn.Input((4, 4, 6)), DepthToSpace(2)]), ValueError,
     r"DepthToSpace\): the channels \(6\) must be divisible by block_size\*\*2 = 4, got input samples of shape \(4, 4, 6\)"),
    (lambda: gn.Sequential([gn.Input((6, 5, 1)), SpaceToDepth(2)]), ValueError,
     r"SpaceToDepth\): the width \(5\) must be divisible by block_size = 2"),
    (lambda: gn.Sequential([gn.Input((8, 4)), DepthToSpace(2)]), ValueError,
     r"expected images, input of shape \(batch, height, width, channels\), got shape \(batch, 8, 4\)"),
    (lambda: DepthToSpace(2)(np.ones((1, 2, 2, 9))), ValueError, r"the channels \(9\) must be divisible by block_size\*\*2 = 4"),
])
def test_bad_settings_and_shapes_are_refused_by_name(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_sizes_unknown_at_build_are_checked_on_each_batch():
    model = gn.Sequential([gn.Input((None, None, 1)), SpaceToDepth(3)])
    assert model.output_shape == (None, None, None, 9)
    assert model.predict(np.ones((2, 6, 9, 1)), verbose=0).shape == (2, 2, 3, 9)
    with pytest.raises(ValueError, match=r"SpaceToDepth\): the height \(7\) must be divisible by block_size = 3, "
                                         r"got input samples of shape \(7, 9, 1\)"):
        model.predict(np.ones((2, 7, 9, 1)), verbose=0)
    built = DepthToSpace(2)
    built.build((None, None, 8))
    assert built.output_shape((None, None, 8)) == (None, None, 2)
    assert built(np.ones((1, 3, 5, 8))).shape == (1, 6, 10, 2)
    with pytest.raises(ValueError, match=r"expected input samples of shape \(None, None, 8\), got \(3, 5, 12\)"):
        built(np.ones((1, 3, 5, 12)))
