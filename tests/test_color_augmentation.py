"""The colour augmentation layers (color_augmentation.py, hsv_augmentation.py): each against Keras
3.15's own layer given the draws glassnet made (``layer._drawn``, handed to Keras'
``transform_images``), gradients against PyTorch autograd on the same maths, the draws'
distributions, the identity outside training (AutoContrast: applied in inference too) and the
errors. The layer contract and finite differences (training mode, a fixed draw) are in
test_layer_contract.py."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import (AutoContrast, RandomColorDegeneration, RandomGrayscale, RandomHue, RandomInvert,
                             RandomPosterization, RandomSaturation, Solarization)
from glassnet.layers.color_augmentation import LUMA


def _keras():
    return pytest.importorskip("keras", reason="Keras oracle not installed")


def _images(rng, n=6, value_range=(0, 255), channels=3, dtype=np.float32):
    low, high = value_range
    return rng.uniform(low, high, size=(n, 5, 4, channels)).astype(dtype)


def _column(values, dtype=np.float32):
    return np.asarray(values, dtype=dtype).reshape(-1, 1, 1, 1)


# -- values against Keras, for the draws glassnet made ---------------------------------------------
@pytest.mark.parametrize("channels", [3, 1])
def test_grayscale_matches_keras(channels, rng):
    keras = _keras()
    x = _images(rng, 8, channels=channels)
    layer = RandomGrayscale(0.5, seed=3)
    ours = layer(x, training=True)
    chosen = layer._drawn["grayscale"]
    assert 0 < chosen.sum() < 8                            # both kinds of image are in the batch
    theirs = keras.layers.RandomGrayscale(0.5).transform_images(x, chosen.reshape(-1, 1, 1, 1), training=True)
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-5, atol=1e-4)
    if channels == 3:
        assert np.all(ours[chosen] == ours[chosen][..., :1]) and np.array_equal(ours[~chosen], x[~chosen])


@pytest.mark.parametrize("value_range", [(0, 255), (0, 1)])
def test_invert_matches_keras_for_ranges_from_zero(value_range, rng):
    keras = _keras()
    x = _images(rng, 8, value_range)
    layer = RandomInvert(value_range=value_range, seed=2)
    ours = layer(x, training=True)
    chosen = layer._drawn["invert"]
    assert 0 < chosen.sum() < 8
    theirs = keras.layers.RandomInvert(value_range=value_range).transform_images(x, {"apply_inversion": chosen})
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-5, atol=1e-6)


def test_invert_mirrors_inside_a_range_that_does_not_start_at_zero(rng):
    # the documented difference: Keras 3.15 writes high - x, outside (-1, 1) for half the pixels
    keras = _keras()
    x = _images(rng, 4, (-1, 1))
    layer = RandomInvert((1.0, 1.0), value_range=(-1, 1), seed=0)
    np.testing.assert_array_equal(layer(x, training=True), -x)
    theirs = keras.layers.RandomInvert(value_range=(-1, 1)).transform_images(x, {"apply_inversion": np.ones(4, bool)})
    np.testing.assert_allclose(np.asarray(theirs), 1 - x)


@pytest.mark.parametrize("value_range", [(0, 255), (0, 1), (-1, 1)])
@pytest.mark.parametrize("factors", [dict(), dict(addition_factor=(0.1, 0.4), threshold_factor=(0.3, 0.8)),
                                     dict(threshold_factor=0.6)], ids=["defaults", "pairs", "threshold"])
def test_solarization_matches_keras(value_range, factors, rng):
    keras = _keras()
    x = _images(rng, 8, value_range)
    layer = Solarization(**factors, value_range=value_range, seed=4)
    ours = layer(x, training=True)
    drawn = layer._drawn
    theirs = keras.layers.Solarization(**factors, value_range=value_range).transform_images(
        x, {"additions": _column(drawn["addition"]), "thresholds": _column(drawn["threshold"])})
    atol = 1e-5 * (value_range[1] - value_range[0])
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-5, atol=atol)
    if not factors:                                        # every pixel inverted
        np.testing.assert_allclose(ours, sum(value_range) - x, rtol=1e-5, atol=atol)


def test_solarization_draws_its_documented_ranges():
    layer = Solarization(addition_factor=(0.2, 0.4), threshold_factor=0.5, seed=0)
    layer(np.zeros((2000, 1, 1, 1), np.float32), training=True)
    addition, threshold = layer._drawn["addition"], layer._drawn["threshold"]
    # Keras 3.15 would draw additions from [0.2, 102]: the lower end not scaled by 255
    assert 51 <= addition.min() < 52 and 101 < addition.max() <= 102
    assert 0 <= threshold.min() < 1 and 126 < threshold.max() <= 127.5


@pytest.mark.parametrize("value_range", [(0, 255), (0, 1)])
@pytest.mark.parametrize("channels", [3, 1])
def test_color_degeneration_matches_keras(value_range, channels, rng):
    keras = _keras()
    x = _images(rng, 8, value_range, channels)
    layer = RandomColorDegeneration((0.1, 0.9), value_range=value_range, seed=1)
    ours = layer(x, training=True)
    theirs = keras.layers.RandomColorDegeneration((0.1, 0.9), value_range=value_range).transform_images(
        x, {"factor": _column(layer._drawn["factor"])})
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-5, atol=1e-5 * value_range[1])
    assert 0.1 <= layer._drawn["factor"].min() and layer._drawn["factor"].max() <= 0.9
    if channels == 1:
        np.testing.assert_array_equal(ours, x)


@pytest.mark.parametrize("value_range, factor", [((0, 1), (0.0, 1.0)), ((0, 1), 0.9), ((0, 255), 0.5)], ids=str)
def test_saturation_matches_keras_hsv_round_trip(value_range, factor, rng):
    keras = _keras()
    x = _images(rng, 16, value_range)
    x[0, 0, 0] = x[0, 0, 0, 0]                             # a gray pixel
    x[1, 0, 0] = 0                                         # and a black one
    layer = RandomSaturation(factor, value_range=value_range, seed=6)
    ours = layer(x, training=True)
    k, f = layer._drawn["saturation"], layer._drawn["factor"]
    np.testing.assert_allclose(k, f / (1 - f + keras.config.epsilon()), rtol=1e-12)   # Keras' get_random_transformation
    theirs = keras.layers.RandomSaturation(factor, value_range=value_range).transform_images(
        x, {"factor": k.astype(np.float32)})
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-5, atol=2e-6 * value_range[1])
    assert layer._saturated.any() == (factor != 0.5)       # both branches where k reaches past 1


def test_saturation_follows_its_documentation_where_keras_does_not(rng):
    # (0, 255) and k > 1: Keras clips the saturation to value_range, not [0, 1], and its colours go negative
    keras = _keras()
    x = _images(rng, 4)
    layer = RandomSaturation((1.0, 1.0), seed=0)
    ours = layer(x, training=True)
    np.testing.assert_allclose(ours.min(axis=-1), 0, atol=1e-3)                 # fully saturated
    np.testing.assert_allclose(ours.max(axis=-1), x.max(axis=-1), rtol=1e-6)     # the same value (V)
    theirs = keras.layers.RandomSaturation((1.0, 1.0)).transform_images(x, {"factor": layer._drawn["saturation"].astype(np.float32)})
    assert np.asarray(theirs).min() < -1000                 # colours far below 0
    # a range from -1: shifted to 0 first, so the result is the (0, 1) one moved back
    shifted = RandomSaturation((0.8, 0.8), value_range=(-1, 1), seed=0)(x / 255 * 2 - 1, training=True)
    unit = RandomSaturation((0.8, 0.8), value_range=(0, 1), seed=0)(x / 255, training=True)
    np.testing.assert_allclose(shifted, unit * 2 - 1, atol=1e-6)


@pytest.mark.parametrize("value_range, factor", [((0, 255), 1.0), ((0, 1), (0.2, 0.6)), ((-1, 1), 0.5)], ids=str)
def test_hue_matches_keras_hsv_round_trip(value_range, factor, rng):
    keras = _keras()
    x = _images(rng, 16, value_range)
    x[0, 0, 0] = x[0, 0, 0, 0]                             # a gray pixel
    x[1, 0, 0] = value_range[0]                            # a black one
    x[2, 0, 0, :2] = x[2, 0, 0, 2]                         # ties for the largest channel
    layer = RandomHue(factor, value_range=value_range, seed=7)
    ours = layer(x, training=True)
    delta = layer._drawn["delta"]
    assert (delta < 0).any() and (delta > 0).any() and np.all(np.abs(delta) <= 0.5)
    theirs = keras.layers.RandomHue(factor, value_range=value_range).transform_images(
        x, {"factor": delta.astype(np.float32)})
    width = value_range[1] - value_range[0]
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-5, atol=2e-6 * width)


def test_a_third_of_a_turn_takes_red_to_green_or_blue():
    x = np.zeros((64, 1, 1, 3), np.float32)
    x[..., 0] = 1
    out = RandomHue((2 / 3, 2 / 3), value_range=(0, 1), seed=0)(x, training=True)[:, 0, 0]
    green, blue = (np.abs(out - [0, 1, 0]) < 1e-6).all(axis=1), (np.abs(out - [0, 0, 1]) < 1e-6).all(axis=1)
    assert (green | blue).all() and 16 < green.sum() < 48


@pytest.mark.parametrize("value_range", [(0, 255), (0, 1), (-1, 1)])
def test_posterization_matches_keras(value_range, rng):
    keras = _keras()
    x = _images(rng, 16, value_range)
    layer = RandomPosterization((1, 8), value_range=value_range, seed=9)
    ours = layer(x, training=True)
    bits = layer._drawn["bits"]
    theirs = keras.layers.RandomPosterization((1, 8), value_range=value_range).transform_images(
        x, {"shift_factor": (8 - bits).astype(np.uint8)})
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-6, atol=1e-6 * (value_range[1] - value_range[0]))
    assert set(bits) > {1, 8}


def test_posterization_draws_the_number_of_bits_given():
    # Keras 3.15's randint(1, 3) would never keep 3 bits
    layer = RandomPosterization(3, seed=0)
    layer(np.zeros((300, 1, 1, 1), np.float32), training=True)
    assert set(layer._drawn["bits"]) == {1, 2, 3}
    layer = RandomPosterization((4, 4), seed=0)
    out = layer(np.arange(256.0, dtype=np.float32).reshape(1, 16, 16, 1), training=True)
    np.testing.assert_array_equal(np.unique(out), np.arange(0, 256, 16))


@pytest.mark.parametrize("value_range", [(0, 255), (0, 1), (-1, 1)])
def test_auto_contrast_matches_keras_in_training_and_inference(value_range, rng):
    keras = _keras()
    low, high = value_range
    x = _images(rng, 6, (low + 0.2 * (high - low), high - 0.3 * (high - low)))       # a narrow span
    x[0, ..., 1] = x[0, 0, 0, 1]                           # a channel of one value: left as it is
    theirs = keras.layers.AutoContrast(value_range=value_range)
    for training in (True, False):
        ours = AutoContrast(value_range=value_range)(x, training=training)
        np.testing.assert_allclose(ours, np.asarray(theirs(x, training=training)), rtol=1e-5, atol=1e-5 * (high - low))
    np.testing.assert_allclose(ours[1:].min(axis=(1, 2)), low, atol=1e-5 * (high - low))
    np.testing.assert_array_equal(ours[0, ..., 1], x[0, ..., 1])


# -- gradients against PyTorch autograd on the same maths -------------------------------------------
def _torch_grad(torch, function, x, grad_output):
    t = torch.tensor(x, requires_grad=True)
    out = function(t)
    (out * torch.tensor(grad_output)).sum().backward()
    return out.detach().numpy(), t.grad.numpy()


def _parity(torch, layer, function, x, rng):
    ours = layer(x, training=True)
    g = rng.normal(size=x.shape)
    expected, expected_grad = _torch_grad(torch, function, x, g)
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(layer.backward(g), expected_grad, rtol=1e-12, atol=1e-12)


def test_grayscale_gradient_matches_torch(torch, rng):
    x = _images(rng, 8, dtype=np.float64)
    layer = RandomGrayscale(0.5, seed=3, dtype="float64")
    layer(x, training=True)
    chosen = torch.tensor(layer._drawn["grayscale"])[:, None, None, None]
    layer.rng = None                                       # the same draw again, from the seed
    w = torch.tensor(LUMA)
    _parity(torch, layer, lambda t: torch.where(chosen, (t @ w)[..., None].expand_as(t), t), x, rng)
    assert 0 < int(chosen.sum()) < 8


def test_invert_gradient_matches_torch(torch, rng):
    x = _images(rng, 8, (-2, 3), dtype=np.float64)
    layer = RandomInvert(value_range=(-2, 3), seed=2, dtype="float64")
    layer(x, training=True)
    chosen = torch.tensor(layer._drawn["invert"])[:, None, None, None]
    layer.rng = None
    _parity(torch, layer, lambda t: torch.where(chosen, 1.0 - t, t), x, rng)


def test_solarization_gradient_matches_torch_through_the_clip(torch, rng):
    low, high = -2.0, 3.0
    x = _images(rng, 8, (low, high), dtype=np.float64)
    layer = Solarization(addition_factor=(0.2, 0.5), threshold_factor=(0.4, 0.9), value_range=(low, high),
                         seed=5, dtype="float64")
    layer(x, training=True)
    a, t = (torch.tensor(layer._drawn[k])[:, None, None, None] for k in ("addition", "threshold"))
    layer.rng = None

    def solarize(v):
        p = torch.clamp((v - low) / (high - low) * 255 + a, 0, 255)
        return torch.where(p >= t, 255 - p, p) / 255 * (high - low) + low

    _parity(torch, layer, solarize, x, rng)
    assert (layer._kept == 0).any() and layer._inverted.any() and not layer._inverted.all()  # each branch seen


def test_color_degeneration_gradient_matches_torch_through_the_clip(torch, rng):
    x = _images(rng, 8, (0, 1), dtype=np.float64)
    x[:2] *= 1.3                                           # some pixels the clip stops
    layer = RandomColorDegeneration((0.0, 0.8), value_range=(0, 1), seed=1, dtype="float64")
    with pytest.warns(UserWarning, match="outside its value_range"):
        layer(x, training=True)
    s = torch.tensor(layer._drawn["factor"])[:, None, None, None]
    layer.rng = None
    w = torch.tensor(LUMA)
    _parity(torch, layer, lambda t: torch.clamp(t + s * ((t @ w)[..., None] - t), 0, 1), x, rng)
    assert not layer._kept.all()


def test_saturation_gradient_matches_torch_in_both_branches(torch, rng):
    low = -1.0
    x = _images(rng, 8, (low, 1), dtype=np.float64)
    layer = RandomSaturation((0.2, 0.9), value_range=(low, 1), seed=3, dtype="float64")
    layer(x, training=True)
    k = torch.tensor(layer._drawn["saturation"])[:, None, None, None]
    layer.rng = None

    def saturate(t):
        top, bottom = t.max(dim=-1, keepdim=True).values, t.min(dim=-1, keepdim=True).values
        ratio = torch.minimum(k, (top - low) / (top - bottom))
        return top - (top - t) * ratio

    _parity(torch, layer, saturate, x, rng)
    assert layer._saturated.any() and not layer._saturated.all()


def test_hue_gradient_matches_torch(torch, rng):
    low, high = -1.0, 2.0
    x = _images(rng, 8, (low, high), dtype=np.float64)
    layer = RandomHue(1.0, value_range=(low, high), seed=8, dtype="float64")
    layer(x, training=True)
    delta = torch.tensor(layer._drawn["delta"])[:, None, None, None]
    layer.rng = None

    def turn(t):
        top, bottom = t.max(dim=-1, keepdim=True), t.min(dim=-1, keepdim=True).values
        spread, r, g, b = top.values - bottom, t[..., :1], t[..., 1:2], t[..., 2:]
        largest = top.indices
        hue = torch.where(largest == 0, (g - b) / (6 * spread),
                          torch.where(largest == 1, (b - r) / (6 * spread) + 1 / 3, (r - g) / (6 * spread) + 2 / 3))
        hue = torch.where(hue < 0, hue + 1, hue) + delta
        hue = torch.where(hue > 1, hue - 1, torch.where(hue < 0, hue + 1, hue))
        six = 6 * hue
        w = torch.cat([torch.clamp(torch.abs(six - 3) - 1, 0, 1), torch.clamp(2 - torch.abs(six - 2), 0, 1),
                       torch.clamp(2 - torch.abs(six - 4), 0, 1)], dim=-1)
        return torch.clamp(bottom + spread * w, low, high)

    _parity(torch, layer, turn, x, rng)


def test_posterization_passes_the_zero_gradient_of_its_steps(torch, rng):
    x = _images(rng, 4, (0, 1), dtype=np.float64)
    layer = RandomPosterization((2, 6), value_range=(0, 1), seed=1, dtype="float64")
    layer(x, training=True)
    step = torch.tensor(2.0 ** (8 - layer._drawn["bits"]))[:, None, None, None]
    layer.rng = None
    _parity(torch, layer, lambda t: torch.floor(torch.clamp(t * 255, 0, 255) / step) * step / 255, x, rng)
    assert not layer.backward(np.ones_like(x)).any()


def test_auto_contrast_gradient_matches_torch(torch, rng):
    low, high = -1.0, 2.0
    x = _images(rng, 4, (-0.5, 1.0), dtype=np.float64)
    x[1, ..., 2] = 0.25                                    # a flat channel: the identity, gradient 1
    layer = AutoContrast(value_range=(low, high), dtype="float64")

    def stretch(t):
        smallest, largest = t.amin(dim=(1, 2), keepdim=True), t.amax(dim=(1, 2), keepdim=True)
        spread = largest - smallest
        flat = spread == 0
        return torch.where(flat, t, (t - smallest) / torch.where(flat, 1.0, spread) * (high - low) + low)

    ours = layer(x)                                        # inference: stretched all the same
    g = rng.normal(size=x.shape)
    expected, expected_grad = _torch_grad(torch, stretch, x, g)
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.backward(g), expected_grad, rtol=1e-10, atol=1e-12)


# -- the draws, inference, errors --------------------------------------------------------------------
def test_how_often_each_layer_changes_an_image():
    x = np.full((4000, 1, 1, 3), 100.0, np.float32)
    x[..., 0] = 200.0
    gray = RandomGrayscale(0.3, seed=0)(x, training=True)
    assert abs((gray[:, 0, 0, 0] != 200).mean() - 0.3) < 0.03
    # a probability drawn from [0.2, 0.6], then a coin: 0.4 on average
    inverted = RandomInvert((0.2, 0.6), seed=0)(x, training=True)
    assert abs((inverted[:, 0, 0, 0] == 55).mean() - 0.4) < 0.03
    assert abs((RandomInvert(seed=0)(x, training=True)[:, 0, 0, 0] == 55).mean() - 0.5) < 0.03


@pytest.mark.parametrize("layer", [RandomGrayscale(0.9, seed=0), RandomInvert((0.9, 1.0), seed=0), Solarization(seed=0),
                                   RandomColorDegeneration(0.5, seed=0), RandomSaturation(0.8, seed=0), RandomHue(0.5, seed=0),
                                   RandomPosterization(4, seed=0)],
                         ids=lambda layer: type(layer).__name__)
def test_outside_training_each_is_the_identity(layer, rng):
    x = _images(rng, 4)
    assert np.array_equal(layer(x, training=False), x)
    assert np.array_equal(layer.backward(np.ones_like(x)), np.ones_like(x))
    trained = layer(x, training=True)
    assert trained.shape == x.shape and trained.dtype == np.float32 and not np.array_equal(trained, x)
    copy = type(layer).from_config(layer.get_config())      # a seeded layer draws the same from its config
    layer.rng = None
    np.testing.assert_array_equal(copy(x, training=True), layer(x, training=True))


def test_a_model_with_colour_augmentation_trains_reproducibly_and_predicts_without_it(rng):
    x = rng.uniform(0, 1, size=(32, 6, 6, 3)).astype(np.float32)
    y = (x[..., 0].mean(axis=(1, 2)) > x[..., 2].mean(axis=(1, 2))).astype(int)

    def model():
        m = gn.Sequential([gn.Input((6, 6, 3)), RandomGrayscale(0.2), RandomInvert(0.3, value_range=(0, 1)),
                           Solarization(threshold_factor=(0.8, 1.0), value_range=(0, 1)),
                           RandomColorDegeneration(0.5, value_range=(0, 1)), RandomSaturation(0.7, value_range=(0, 1)),
                           RandomHue(0.3, value_range=(0, 1)), RandomPosterization((6, 8), value_range=(0, 1)),
                           gn.layers.Flatten(),
                           gn.layers.Dense(1, activation="sigmoid")], seed=4)
        m.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.01))
        return m

    first, second = model(), model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")                      # the images lie inside value_range
        assert first.fit(x, y, epochs=2, batch_size=8, verbose=0).history == \
            second.fit(x, y, epochs=2, batch_size=8, verbose=0).history
    plain = gn.Sequential([gn.Input((6, 6, 3)), gn.layers.Flatten(), gn.layers.Dense(1, activation="sigmoid")])
    plain.set_weights(first.get_weights())
    np.testing.assert_array_equal(first.predict(x), plain.predict(x))


def test_solarization_warns_about_images_outside_value_range(rng):
    with pytest.warns(UserWarning, match=r"Solarization: the images' values span .* outside its value_range"):
        Solarization(value_range=(0, 1))(_images(rng, 2), training=True)


@pytest.mark.parametrize("make, message", [
    (lambda: RandomGrayscale(1.5), r"RandomGrayscale: factor \(the probability of turning an image gray\) must be a number in \[0, 1\], got 1.5"),
    (lambda: RandomGrayscale("0.5"), r"RandomGrayscale: factor .* must be a number in \[0, 1\], got '0.5'"),
    (lambda: RandomInvert(-0.5), r"RandomInvert: factor must be a number or a pair \(lower, upper\) of numbers in \[0, 1\], got -0.5"),
    (lambda: RandomInvert(value_range=(0, 0)), r"RandomInvert: value_range must be a pair \(low, high\) of distinct finite numbers"),
    (lambda: Solarization(addition_factor=(0.1, 1.2)), r"Solarization: addition_factor must be a number or a pair \(lower, upper\) of numbers in \[0, 1\], got \(0.1, 1.2\)"),
    (lambda: Solarization(threshold_factor=(0.1,)), r"Solarization: threshold_factor must be a number or a pair"),
    (lambda: RandomGrayscale()(np.ones((2, 4, 4, 2))), r"layer RandomGrayscale: expected gray or RGB images \(1 or 3 channels\), \(batch, height, width, 1 or 3\), got 2 channels: shape \(batch, 4, 4, 2\)"),
    (lambda: gn.Sequential([gn.Input((4, 4, 4)), RandomGrayscale()]), r"RandomGrayscale.*: expected gray or RGB images \(1 or 3 channels\), .* got 4 channels"),
    (lambda: RandomInvert()(np.ones((2, 4, 4))), r"layer RandomInvert: expected input of shape \(batch, height, width, channels\)"),
    (lambda: RandomColorDegeneration(-0.2), r"RandomColorDegeneration: factor must be a number or a pair \(lower, upper\) of numbers in \[0, 1\], got -0.2"),
    (lambda: RandomColorDegeneration(0.2)(np.ones((1, 2, 2, 4))), r"layer RandomColorDegeneration: expected gray or RGB images \(1 or 3 channels\)"),
    (lambda: RandomSaturation((0.2, 1.5)), r"RandomSaturation: factor must be a number or a pair \(lower, upper\) of numbers in \[0, 1\], got \(0.2, 1.5\)"),
    (lambda: RandomSaturation(0.2)(np.ones((1, 2, 2, 1))), r"layer RandomSaturation: expected RGB images \(3 channels\), \(batch, height, width, 3\), got 1 channel:"),
    (lambda: RandomSaturation(0.2, value_range=[0]), r"RandomSaturation: value_range must be a pair"),
    (lambda: RandomHue(2.0), r"RandomHue: factor must be a number or a pair \(lower, upper\) of numbers in \[0, 1\], got 2.0"),
    (lambda: RandomHue(0.2)(np.ones((1, 2, 2, 4))), r"layer RandomHue: expected RGB images \(3 channels\), \(batch, height, width, 3\), got 4 channels"),
    (lambda: RandomPosterization(9), r"RandomPosterization: factor must be an integer number of bits in \[1, 8\], or a pair \(lower, upper\) of them, got 9"),
    (lambda: RandomPosterization(4.0), r"RandomPosterization: factor must be an integer number of bits .* got 4.0"),
    (lambda: RandomPosterization((0, 4)), r"RandomPosterization: factor must be .* got \(0, 4\)"),
    (lambda: AutoContrast(value_range=(1, "2")), r"AutoContrast: value_range must be a pair \(low, high\) of distinct finite numbers"),
    (lambda: AutoContrast()(np.ones((2, 4, 4))), r"layer AutoContrast: expected input of shape \(batch, height, width, channels\)"),
], ids=range(21))
def test_bad_arguments_are_refused_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_auto_contrast_stretches_at_inference_in_a_model_and_round_trips(rng, tmp_path):
    x = rng.uniform(0.3, 0.6, size=(8, 4, 4, 2)).astype(np.float32)
    model = gn.Sequential([gn.Input((4, 4, 2)), AutoContrast(value_range=(0, 1)), gn.layers.Flatten(), gn.layers.Dense(1)],
                          seed=0)
    model.compile(loss="mse", optimizer="sgd")
    plain = gn.Sequential([gn.Input((4, 4, 2)), gn.layers.Flatten(), gn.layers.Dense(1)])
    plain.set_weights(model.get_weights())
    stretched = AutoContrast(value_range=(0, 1))(x)
    np.testing.assert_allclose(model.predict(x), plain.predict(stretched), rtol=1e-6)
    model.save(tmp_path / "auto.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "auto.npz").predict(x), model.predict(x))


def test_hue_gradient_at_gray_pixels_and_ties_matches_finite_differences():
    # a gray pixel has no hue, but along each channel the turn is differentiable (w_c(h + 1/2) =
    # 1 - w_c(h)): the partial derivatives are the weights at c / 3 + delta; a tie for the largest
    # channel is differentiable too
    x = np.array([[[[0.4, 0.4, 0.4], [0.7, 0.7, 0.2], [0.0, 0.0, 0.0]]]])
    g = np.array([[[[0.3, -1.0, 0.5], [0.2, 0.9, -0.4], [1.0, 0.1, -0.7]]]])

    def make():
        return RandomHue((0.5, 0.5), value_range=(-1, 1), seed=0, dtype="float64")

    layer = make()
    layer(x, training=True)
    grad = layer.backward(g)
    eps = 1e-6
    for index in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[index] = eps
        right = ((make()(x + e, training=True) - make()(x, training=True)) * g).sum() / eps
        left = ((make()(x, training=True) - make()(x - e, training=True)) * g).sum() / eps
        assert abs(right - left) < 1e-6                     # differentiable along each channel here
        assert abs(grad[index] - right) < 1e-6, index


def test_auto_contrast_leaves_a_channel_whose_scale_overflows_as_keras_does():
    keras = _keras()
    x = np.zeros((1, 2, 1, 1), np.float32)
    x[0, 1] = 1e-39                                        # a subnormal spread: 1 / spread is inf
    ours = AutoContrast(value_range=(0, 1))(x)
    np.testing.assert_array_equal(ours, np.asarray(keras.layers.AutoContrast(value_range=(0, 1)).transform_images(x)))
    np.testing.assert_array_equal(ours, x)
