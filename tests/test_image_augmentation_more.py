"""RandomShear, RandomGaussianBlur and RandomErasing: each against Keras 3.15's own layer given the
per-image values glassnet drew (kept on the layer's ``_drawn`` after a training call), their
gradients against PyTorch autograd on the same maths (float64), the identity outside training,
their errors. The layer contract and finite differences are in test_layer_contract.py."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import RandomErasing, RandomGaussianBlur, RandomShear


def _keras():
    return pytest.importorskip("keras", reason="Keras oracle not installed")


# -- RandomShear ------------------------------------------------------------------------------------
@pytest.mark.parametrize("settings", [dict(), dict(fill_mode="constant", fill_value=0.3, interpolation="nearest"),
                                      dict(fill_mode="wrap"), dict(fill_mode="nearest")], ids=str)
def test_shear_matches_keras_for_the_same_draws(settings, rng):
    keras = _keras()
    x = rng.uniform(0, 1, size=(6, 9, 8, 3)).astype(np.float32)
    for x_factor, y_factor in ((0.4, 0.0), (0.0, (0.1, 0.6)), (0.3, 0.5)):
        ours = RandomShear(x_factor, y_factor, seed=3, **settings)
        out = ours(x, training=True)
        drawn = ours._drawn["shear_factor"]
        assert drawn.shape == (6, 2) and np.any(drawn != 0)
        theirs = keras.layers.RandomShear(x_factor, y_factor, **settings)
        expected = theirs.transform_images(x, {"shear_factor": drawn.astype(np.float32), "input_shape": x.shape})
        np.testing.assert_allclose(out, np.asarray(expected), rtol=1e-5, atol=3e-5)


def test_shear_draws_sizes_in_the_range_and_both_signs():
    layer = RandomShear((0.2, 0.5), (0.1, 0.3), seed=0)
    layer(np.zeros((4000, 2, 2, 1), np.float32), training=True)
    sx, sy = layer._drawn["shear_factor"].T
    assert np.all((np.abs(sx) >= 0.2) & (np.abs(sx) <= 0.5)) and np.all((np.abs(sy) >= 0.1) & (np.abs(sy) <= 0.3))
    assert np.all(np.sign(sx) * np.sign(sy) > 0)                      # a pair: one sign per image, both axes
    assert abs(np.mean(sx > 0) - 0.5) < 0.03
    # a number f: Keras 3.15 draws U(-f, f) before its sign, independent of the other axis' sign
    layer = RandomShear((0.2, 0.5), 0.3, seed=0)
    layer(np.zeros((4000, 2, 2, 1), np.float32), training=True)
    sx, sy = layer._drawn["shear_factor"].T
    assert np.all(np.abs(sy) <= 0.3) and abs(np.mean(np.abs(sy) < 0.15) - 0.5) < 0.03
    assert abs(np.mean(np.sign(sx) != np.sign(sy)) - 0.5) < 0.03        # half have opposite signs, as Keras'


def test_shear_draws_the_pairs_keras_draws():
    keras = _keras()
    x = np.zeros((4000, 2, 2, 1), np.float32)
    for x_factor, y_factor in ((0.3, 0.3), ((0.2, 0.5), 0.3), ((0.2, 0.5), (0.1, 0.3))):
        ours = RandomShear(x_factor, y_factor, seed=0)
        ours(x, training=True)
        theirs = keras.layers.RandomShear(x_factor, y_factor, seed=0).get_random_transformation(x, training=True)
        a, b = ours._drawn["shear_factor"], np.asarray(theirs["shear_factor"])
        for v in (a, b):
            assert v.shape == (4000, 2)
        np.testing.assert_allclose(np.mean(np.sign(a[:, 0]) != np.sign(a[:, 1])),
                                   np.mean(np.sign(b[:, 0]) != np.sign(b[:, 1])), atol=0.04)
        np.testing.assert_allclose(np.quantile(a, [0.1, 0.5, 0.9], axis=0), np.quantile(b, [0.1, 0.5, 0.9], axis=0),
                                   atol=0.03)
    number = RandomShear(0.3, (0.1, 0.2), seed=1)
    copy = RandomShear.from_config(number.get_config())
    assert number.get_config()["x_factor"] == 0.3 and copy.x_factor == number.x_factor == (-0.3, 0.3)


@pytest.mark.parametrize("fill_mode, padding_mode", [("constant", "zeros"), ("nearest", "border")])
def test_shear_gradient_matches_torch_grid_sample(fill_mode, padding_mode, rng, torch):
    # torch's grid_sample (align_corners=True) reads the same points: x_in = x + sx y, y_in = sy x + y
    x = rng.normal(size=(3, 7, 6, 2))
    layer = RandomShear((0.1, 0.7), (0.1, 0.5), fill_mode=fill_mode, seed=1, dtype="float64")
    out = layer(x, training=True)
    grad_output = rng.normal(size=out.shape)
    ours = layer.backward(grad_output)
    sx, sy = (torch.tensor(v)[:, None, None] for v in layer._drawn["shear_factor"].T)
    ys, xs = torch.meshgrid(torch.arange(7.0), torch.arange(6.0), indexing="ij")
    grid = torch.stack([2 * (xs + sx * ys) / 5 - 1, 2 * (sy * xs + ys) / 6 - 1], dim=-1)
    images = torch.tensor(x).permute(0, 3, 1, 2).requires_grad_()
    theirs = torch.nn.functional.grid_sample(images, grid, mode="bilinear", padding_mode=padding_mode,
                                             align_corners=True).permute(0, 2, 3, 1)
    np.testing.assert_allclose(out, theirs.detach().numpy(), atol=1e-12)
    (theirs * torch.tensor(grad_output)).sum().backward()
    np.testing.assert_allclose(ours, images.grad.permute(0, 2, 3, 1).numpy(), atol=1e-12)


@pytest.mark.parametrize("make, message", [
    (lambda: RandomShear(-0.2), r"RandomShear: x_factor must be a number or a pair \(lower, upper\) of numbers in \[0, 1\], got -0.2"),
    (lambda: RandomShear(0.1, (0.2, 1.5)), r"RandomShear: y_factor must be .* in \[0, 1\], got \(0.2, 1.5\)"),
    (lambda: RandomShear(0.1, fill_mode="mirror"), r"RandomShear: fill_mode must be one of \['reflect', 'wrap', 'constant', 'nearest'\]"),
    (lambda: RandomShear(0.1, interpolation="bicubic"), r"RandomShear: interpolation must be one of \['bilinear', 'nearest'\], got 'bicubic'"),
    (lambda: RandomShear("0.1"), r"RandomShear: x_factor must be a number"),
])
def test_shear_refuses_bad_arguments_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_shear_takes_keras_positional_order_and_is_the_identity_outside_training(rng):
    # Keras 3.15's order: data_format before seed
    layer = RandomShear(0.2, 0.1, "nearest", "constant", 0.5, "channels_last", 7)
    assert (layer.interpolation, layer.fill_mode, layer.fill_value, layer.seed) == ("nearest", "constant", 0.5, 7)
    x = rng.uniform(size=(2, 5, 4, 1)).astype(np.float32)
    assert layer(x, training=False) is x and np.array_equal(layer.backward(np.ones_like(x)), np.ones_like(x))
    copy = RandomShear.from_config(layer.get_config())
    np.testing.assert_array_equal(copy(x, training=True), layer(x, training=True))
    assert RandomShear()(x, training=True).tolist() == x.tolist()        # Keras' defaults shear nothing


# -- RandomGaussianBlur -----------------------------------------------------------------------------
def _keras_blur(keras, layer, x):
    """Keras' transform_images image by image: its transformation holds one sigma (per axis) for a
    whole batch, glassnet draws one per image."""
    theirs = keras.layers.RandomGaussianBlur(kernel_size=layer.kernel_size, value_range=layer.value_range)
    drawn = layer._drawn
    return np.concatenate([np.asarray(theirs.transform_images(x[i:i + 1], {
        "should_apply_blur": drawn["should_apply_blur"][i:i + 1],
        "blur_factor": np.full(2, drawn["blur_factor"][i], np.float32)})) for i in range(len(x))])


@pytest.mark.parametrize("settings", [dict(), dict(kernel_size=5, sigma=(0.3, 2.0)),
                                      dict(factor=(1.0, 1.0), kernel_size=7, sigma=3.0, value_range=(0, 120))], ids=str)
@pytest.mark.filterwarnings("ignore:.*outside its value_range")
def test_blur_matches_keras_for_the_same_draws(settings, rng):
    keras = _keras()
    x = rng.uniform(0, 255, size=(8, 9, 10, 3)).astype(np.float32)
    ours = RandomGaussianBlur(seed=2, **settings)
    out = ours(x, training=True)
    assert out.dtype == np.float32 and 0 < ours._drawn["should_apply_blur"].sum()
    np.testing.assert_allclose(out, _keras_blur(keras, ours, x), rtol=1e-5, atol=1e-3)
    if settings.get("value_range"):
        assert out.max() == 120 and (out < 120).mean() > 0.5       # blurred (mean 127.5), then clipped


def test_blur_draws_a_probability_then_a_threshold_and_sigmas_per_image():
    x = np.zeros((4000, 3, 3, 1), np.float32)
    layer = RandomGaussianBlur(seed=0)                 # factor 1.0: p in [0, 1], half the images
    layer(x, training=True)
    assert abs(layer._drawn["should_apply_blur"].mean() - 0.5) < 0.03
    layer = RandomGaussianBlur((0.6, 1.0), sigma=(0.5, 2.0), seed=0)
    layer(x, training=True)
    sigma = layer._drawn["blur_factor"]
    assert abs(layer._drawn["should_apply_blur"].mean() - 0.8) < 0.03
    assert sigma.min() >= 0.5 and sigma.max() <= 2.0 + 1e-6 and len(np.unique(sigma)) == 4000
    layer = RandomGaussianBlur(sigma=2.5, seed=0)      # a number is the sigma (Keras' documentation)
    layer(x, training=True)
    assert np.all(layer._drawn["blur_factor"] == 2.5 + 1e-6)


@pytest.mark.filterwarnings("ignore:.*outside its value_range")
def test_blur_gradient_matches_torch_autograd(rng, torch):
    x = rng.uniform(-1, 1, size=(5, 6, 7, 2))
    layer = RandomGaussianBlur((0.4, 1.0), kernel_size=5, sigma=(0.5, 1.5), value_range=(-0.6, 0.6), seed=4,
                               dtype="float64")
    out = layer(x, training=True)
    grad_output = rng.normal(size=out.shape)
    ours = layer.backward(grad_output)
    images = torch.tensor(x).permute(0, 3, 1, 2).requires_grad_()
    applied = layer._drawn["should_apply_blur"]
    assert 0 < applied.sum() < 5
    pieces = []
    for i, sigma in enumerate(layer._drawn["blur_factor"]):
        t = torch.arange(5.0) - 2
        k = torch.exp(-0.5 * (t / sigma) ** 2)
        k = k / k.sum()
        kernel = torch.outer(k, k).expand(2, 1, 5, 5)
        blurred = torch.nn.functional.conv2d(images[i:i + 1], kernel, padding=2, groups=2)
        pieces.append(blurred if applied[i] else images[i:i + 1])
    theirs = torch.clamp(torch.cat(pieces), -0.6, 0.6).permute(0, 2, 3, 1)
    np.testing.assert_allclose(out, theirs.detach().numpy(), atol=1e-12)
    (theirs * torch.tensor(grad_output)).sum().backward()
    assert not np.all(layer._kept)                                  # some values were clipped
    np.testing.assert_allclose(ours, images.grad.permute(0, 2, 3, 1).numpy(), atol=1e-12)


@pytest.mark.parametrize("make, message", [
    (lambda: RandomGaussianBlur(1.5), r"RandomGaussianBlur: factor must be a number or a pair \(lower, upper\) of numbers in \[0, 1\], got 1.5"),
    (lambda: RandomGaussianBlur(kernel_size=4), r"RandomGaussianBlur: kernel_size must be an odd positive integer .*got 4"),
    (lambda: RandomGaussianBlur(kernel_size=(3, 5)), r"RandomGaussianBlur: kernel_size must be an odd positive integer .*got \(3, 5\)"),
    (lambda: RandomGaussianBlur(sigma=-1.0), r"RandomGaussianBlur: sigma must be a number or a pair \(lower, upper\) of finite numbers >= 0, got -1.0"),
    (lambda: RandomGaussianBlur(sigma=float("inf")), r"RandomGaussianBlur: sigma must be .* of finite numbers >= 0, got inf"),
    (lambda: RandomGaussianBlur(sigma=(1, 2, 3)), r"RandomGaussianBlur: sigma must be"),
    (lambda: RandomGaussianBlur(value_range=(0, 0)), r"RandomGaussianBlur: value_range must be a pair \(low, high\) of distinct"),
])
def test_blur_refuses_bad_arguments_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_blur_takes_keras_positional_order_and_is_the_identity_outside_training(rng):
    layer = RandomGaussianBlur((1.0, 1.0), 5, (0.5, 1.0), (0, 1), "channels_last", 7)   # Keras': data_format, seed
    assert (layer.factor, layer.kernel_size, layer.sigma, layer.value_range, layer.seed) == \
        ((1.0, 1.0), 5, (0.5, 1.0), [0.0, 1.0], 7)
    x = rng.uniform(size=(2, 5, 4, 1)).astype(np.float32)
    assert layer(x, training=False) is x and np.array_equal(layer.backward(np.ones_like(x)), np.ones_like(x))
    copy = RandomGaussianBlur.from_config(layer.get_config())
    np.testing.assert_array_equal(copy(x, training=True), layer(x, training=True))
    assert not np.array_equal(layer(x, training=True), x)


# -- RandomErasing ----------------------------------------------------------------------------------
def _keras_erasing(keras, layer, x, monkeypatch):
    """Keras' own get_random_transformation and transform_images, its random draws replaced by the
    ones glassnet made (recorded from the layer's generator, in the order both layers draw)."""
    recorded = []
    draw = layer._uniform
    layer._uniform = lambda lower, upper, n: recorded.append(draw(lower, upper, n)) or recorded[-1]
    out = layer(x, training=True)
    del layer._uniform
    queue = [*recorded, layer._drawn.get("noise")]
    tf_random = pytest.importorskip("keras.src.backend.tensorflow.random")

    def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        return np.asarray(queue.pop(0), np.float32).reshape(shape)

    monkeypatch.setattr(tf_random, "uniform", uniform)
    monkeypatch.setattr(tf_random, "normal", lambda shape, mean=0.0, stddev=1.0, dtype=None, seed=None:
                        np.asarray(queue.pop(0), np.float32).reshape(shape))
    theirs = keras.layers.RandomErasing(layer.factor, layer.scale, layer.fill_value, layer.value_range, seed=0)
    transformation = theirs.get_random_transformation(x, training=True)
    assert queue == [] or (len(queue) == 1 and queue[0] is None)         # every draw was used
    return out, np.asarray(theirs.transform_images(x, transformation))


@pytest.mark.parametrize("settings", [dict(), dict(fill_value=30.0, scale=(0.2, 0.6)),
                                      dict(factor=(0.5, 1.0), fill_value=[10.0, 20.0, 300.0], value_range=(0, 200))],
                         ids=str)
def test_erasing_matches_keras_for_the_same_draws(settings, rng, monkeypatch):
    keras = _keras()
    x = rng.uniform(0, 200, size=(8, 9, 10, 3)).astype(np.float32)
    layer = RandomErasing(seed=5, **settings)
    ours, theirs = _keras_erasing(keras, layer, x, monkeypatch)
    assert ours.dtype == np.float32 and 0 < layer._drawn["apply_erasing"].sum() < 8 and (ours != x).any()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    if settings.get("value_range"):
        assert ours.max() <= 200 and np.isin(ours[ours != x], [10.0, 20.0, 200.0]).all()     # the fill, clipped


def test_erasing_boxes_lie_inside_with_sides_from_scale():
    layer = RandomErasing((1.0, 1.0), (0.04, 0.25), fill_value=-1.0, value_range=(-1, 1), seed=0)
    out = layer(np.zeros((2000, 10, 20, 1), np.float32), training=True)
    x0, x1, y0, y1 = layer._drawn["box"].T
    assert np.all((x0 >= 0) & (x1 <= 20) & (y0 >= 0) & (y1 <= 10))
    assert np.all(((x1 - x0) / 20) ** 2 >= 0.04 - 1e-9) and np.all(((y1 - y0) / 10) ** 2 <= 0.25 + 1e-9)
    erased = (out == -1)[..., 0]
    rows, columns = np.arange(10)[None, :], np.arange(20)[None, :]
    assert np.array_equal(erased.any(axis=2), (rows >= y0[:, None]) & (rows < y1[:, None]))
    assert np.array_equal(erased.any(axis=1), (columns >= x0[:, None]) & (columns < x1[:, None]))
    layer = RandomErasing(seed=0)               # factor 1.0: p in [0, 1], half the images (Keras' code)
    layer(np.zeros((4000, 3, 3, 1), np.float32), training=True)
    assert abs(layer._drawn["apply_erasing"].mean() - 0.5) < 0.03


def test_erasing_gradient_matches_torch_autograd(rng, torch):
    x = rng.normal(size=(6, 5, 7, 2))
    layer = RandomErasing((0.5, 1.0), (0.1, 0.5), fill_value=None, value_range=(-1, 1), seed=1, dtype="float64")
    out = layer(x, training=True)
    grad_output = rng.normal(size=out.shape)
    ours = layer.backward(grad_output)
    images = torch.tensor(x, requires_grad=True)
    x0, x1, y0, y1 = (torch.tensor(v)[:, None, None, None] for v in layer._drawn["box"].T)
    rows, columns = torch.arange(5.0)[None, :, None, None], torch.arange(7.0)[None, None, :, None]
    apply = torch.tensor(layer._drawn["apply_erasing"])[:, None, None, None]
    inside = (columns >= x0) & (columns < x1) & (rows >= y0) & (rows < y1) & apply
    fill = torch.clamp(torch.tensor(layer._drawn["noise"]) * 1.0, -1, 1)
    theirs = torch.where(inside, fill, images)
    np.testing.assert_allclose(out, theirs.detach().numpy(), atol=1e-12)
    (theirs * torch.tensor(grad_output)).sum().backward()
    assert 0 < (ours == 0).sum() < ours.size
    np.testing.assert_allclose(ours, images.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("make, message", [
    (lambda: RandomErasing(-0.5), r"RandomErasing: factor must be a number or a pair \(lower, upper\) of numbers in \[0, 1\], got -0.5"),
    (lambda: RandomErasing(scale=(0.2, 1.5)), r"RandomErasing: scale must be .* in \[0, 1\], got \(0.2, 1.5\)"),
    (lambda: RandomErasing(fill_value="black"), r"RandomErasing: fill_value must be None \(noise\), a finite number or a list of them, one per channel, got 'black'"),
    (lambda: RandomErasing(fill_value=[0.0, float("nan")]), r"RandomErasing: fill_value must be"),
    (lambda: RandomErasing(value_range=(1, 1)), r"RandomErasing: value_range must be a pair \(low, high\) of distinct"),
    (lambda: RandomErasing(fill_value=[1.0, 2.0, 3.0])(np.ones((1, 4, 4, 2)), training=True),
     r"layer RandomErasing: fill_value has 3 values, one per channel, but the images have 2 channels"),
    (lambda: gn.Sequential([gn.Input((4, 4, 3)), RandomErasing(fill_value=[1.0, 2.0])]),
     r"layer random_erasing \(RandomErasing\): fill_value has 2 values, one per channel, but the images have 3 channels"),
])
def test_erasing_refuses_bad_arguments_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_erasing_takes_keras_positional_order_and_is_the_identity_outside_training(rng):
    layer = RandomErasing((1.0, 1.0), (0.1, 0.2), 0.5, (0, 1), 7)
    assert (layer.factor, layer.scale, layer.fill_value, layer.value_range, layer.seed) == \
        ((1.0, 1.0), (0.1, 0.2), 0.5, [0.0, 1.0], 7)
    x = rng.uniform(size=(2, 5, 4, 1)).astype(np.float32)
    assert layer(x, training=False) is x and np.array_equal(layer.backward(np.ones_like(x)), np.ones_like(x))
    per_channel = RandomErasing((1.0, 1.0), fill_value=[0.1, 0.2], seed=7)
    assert RandomErasing.from_config(per_channel.get_config()).fill_value == [0.1, 0.2]
    np.testing.assert_array_equal(RandomErasing.from_config(layer.get_config())(x, training=True), layer(x, training=True))
    assert not np.array_equal(layer(x, training=True), x)


def test_gaussian_blur_is_scipy_s_zero_padded_filter_and_its_own_transpose(rng):
    """The blur's two functions on their own: Keras' normalised kernel, and a separable filter with
    zeros beyond the borders (scipy.ndimage's "constant" mode) that is its own adjoint."""
    ndimage = pytest.importorskip("scipy.ndimage")
    from glassnet.layers.blur import gaussian_blur, gaussian_kernel
    kernels = gaussian_kernel(5, np.array([0.7, 2.0]))
    t = np.arange(5) - 2.0
    np.testing.assert_allclose(kernels[1], np.exp(-t ** 2 / 8) / np.exp(-t ** 2 / 8).sum(), rtol=1e-12)
    x = rng.normal(size=(2, 6, 7, 3))
    out = gaussian_blur(x, kernels)
    for i in range(2):
        expected = ndimage.convolve(x[i], np.outer(kernels[i], kernels[i])[:, :, None], mode="constant")
        np.testing.assert_allclose(out[i], expected, rtol=1e-12, atol=1e-12)
    g = rng.normal(size=x.shape)
    np.testing.assert_allclose(np.sum(out * g), np.sum(x * gaussian_blur(g, kernels)), rtol=1e-12)
