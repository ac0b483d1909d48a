"""RandomSharpness (layers/sharpness.py): against Keras 3.15's own layer given the factors glassnet
drew (``layer._drawn``, handed to Keras' ``transform_images``), the gradient against PyTorch
autograd on the same maths, the draws, the identity outside training and the errors. The layer
contract and finite differences are in test_layer_contract.py."""
import numpy as np
import pytest

from glassnet.layers import RandomSharpness
from glassnet.layers.sharpness import SMOOTH, smooth


def _keras():
    return pytest.importorskip("keras", reason="Keras oracle not installed")


def _images(rng, n=8, value_range=(0, 255), dtype=np.float32):
    return rng.uniform(*value_range, size=(n, 5, 6, 3)).astype(dtype)


@pytest.mark.parametrize("value_range", [(0, 255), (0, 1), (-1, 1)])
@pytest.mark.parametrize("factor", [(0.0, 1.0), 0.4], ids=str)
def test_matches_keras_for_the_factors_drawn(value_range, factor, rng):
    keras = _keras()
    x = _images(rng, 8, value_range)
    layer = RandomSharpness(factor, value_range=value_range, seed=1)
    ours = layer(x, training=True)
    f = layer._drawn["factor"]
    assert ours.dtype == np.float32 and f.shape == (8,)
    theirs = keras.layers.RandomSharpness(factor, value_range=value_range).transform_images(
        x, {"factor": f.astype(np.float32)})
    width = value_range[1] - value_range[0]
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-6, atol=1e-6 * width)
    if factor == (0.0, 1.0):                                # sharpened past the range: the clip worked
        assert (ours == value_range[0]).any() and (ours == value_range[1]).any()


def test_the_borders_are_zero_padded_as_keras_s():
    # PIL's SMOOTH keeps the border pixels; Keras' "SAME" convolution reads zeros beyond them
    keras = _keras()
    x = np.full((1, 3, 3, 1), 100.0, np.float32)
    ours = RandomSharpness((0.0, 0.0), seed=0)(x, training=True)[0, :, :, 0]
    theirs = np.asarray(keras.layers.RandomSharpness((0.0, 0.0)).transform_images(x, {"factor": np.zeros(1, np.float32)}))
    np.testing.assert_allclose(ours, theirs[0, :, :, 0], rtol=1e-6)
    np.testing.assert_allclose(ours, 100 / 13 * np.array([[8, 10, 8], [10, 13, 10], [8, 10, 8]]), rtol=1e-6)


def test_smooth_is_scipy_s_zero_padded_correlation_and_its_own_transpose(rng):
    ndimage = pytest.importorskip("scipy.ndimage")
    x = rng.normal(size=(2, 4, 5, 3))
    expected = np.stack([[ndimage.correlate(x[i, :, :, c], SMOOTH, mode="constant") for c in range(3)]
                         for i in range(2)]).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(smooth(x), expected, rtol=1e-12, atol=1e-12)
    y = rng.normal(size=x.shape)
    np.testing.assert_allclose((smooth(x) * y).sum(), (x * smooth(y)).sum(), rtol=1e-12)


def test_gradient_matches_torch_through_the_clip(torch, rng):
    low, high = -1.0, 2.0
    x = _images(rng, 6, (low, high), np.float64)
    layer = RandomSharpness((0.0, 1.0), value_range=(low, high), seed=3, dtype="float64")
    layer(x, training=True)
    f = torch.tensor(layer._drawn["factor"])[:, None, None, None]
    layer.rng = None                                       # the same draw again, from the seed
    ours = layer(x, training=True)
    kernel = torch.tensor(SMOOTH).reshape(1, 1, 3, 3).repeat(3, 1, 1, 1)

    def sharpen(t):
        nchw = t.permute(0, 3, 1, 2)
        smoothed = torch.nn.functional.conv2d(nchw, kernel, padding=1, groups=3).permute(0, 2, 3, 1)
        return torch.clamp(t + (1 - 2 * f) * (smoothed - t), low, high)

    t = torch.tensor(x, requires_grad=True)
    out = sharpen(t)
    g = rng.normal(size=x.shape)
    (out * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ours, out.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.backward(g), t.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert not layer._kept.all()                           # both sides of the clip are seen


def test_factor_half_is_the_identity_and_a_number_draws_from_zero(rng):
    x = _images(rng, 4)
    np.testing.assert_allclose(RandomSharpness((0.5, 0.5), seed=0)(x, training=True), x, rtol=1e-6)
    layer = RandomSharpness(0.3, seed=0)
    layer(np.zeros((2000, 1, 1, 1), np.float32), training=True)
    f = layer._drawn["factor"]
    assert layer.factor == (0.0, 0.3) and 0 <= f.min() < 0.01 and 0.29 < f.max() < 0.3


def test_outside_training_it_is_the_identity_and_its_config_draws_the_same(rng):
    x = _images(rng, 4)
    layer = RandomSharpness((0.1, 0.9), seed=2)
    assert np.array_equal(layer(x, training=False), x)
    assert np.array_equal(layer.backward(np.ones_like(x)), np.ones_like(x))
    trained = layer(x, training=True)
    assert not np.array_equal(trained, x)
    copy = RandomSharpness.from_config(layer.get_config())
    layer.rng = None
    np.testing.assert_array_equal(copy(x, training=True), layer(x, training=True))
    assert layer.get_config()["factor"] == [0.1, 0.9] and layer.get_config()["value_range"] == [0.0, 255.0]


def test_warns_about_images_outside_value_range(rng):
    with pytest.warns(UserWarning, match=r"RandomSharpness: the images' values span .* outside its value_range"):
        RandomSharpness(0.5, value_range=(0, 1))(_images(rng, 2), training=True)


@pytest.mark.parametrize("make, message", [
    (lambda: RandomSharpness(1.5), r"RandomSharpness: factor must be a number or a pair \(lower, upper\) of numbers in "
                                   r"\[0, 1\], got 1.5"),
    (lambda: RandomSharpness((-0.1, 0.5)), r"RandomSharpness: factor must be .* in \[0, 1\], got \(-0.1, 0.5\)"),
    (lambda: RandomSharpness("0.5"), r"RandomSharpness: factor must be .*got '0.5'"),
    (lambda: RandomSharpness(0.5, value_range=(1, 1)), r"RandomSharpness: value_range must be a pair \(low, high\) "
                                                       r"of distinct finite numbers"),
])
def test_bad_arguments_name_the_layer(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_images_of_another_rank_are_refused_by_name():
    with pytest.raises(ValueError, match="RandomSharpness"):
        RandomSharpness(0.5)(np.zeros((2, 4, 4), np.float32), training=True)
