"""RandomColorJitter (layers/color_jitter.py): against Keras 3.15's RandomColorJitter's own four
member layers, chained, given the draws glassnet made (``layer._drawn``); equal to glassnet's four
layers in a Pipeline with the same seed (it composes them); the gradient against PyTorch autograd
on the four maths chained; inference, config, the documented differences and the errors. The
layer contract and finite differences are in test_layer_contract.py."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import (Pipeline, RandomBrightness, RandomColorJitter, RandomContrast, RandomHue,
                             RandomSaturation)


def _keras():
    return pytest.importorskip("keras", reason="Keras oracle not installed")


def _images(rng, n=8, value_range=(0, 1), dtype=np.float32):
    return rng.uniform(*value_range, size=(n, 5, 4, 3)).astype(dtype)


def _keras_chain(jitter, x, drawn):
    """Keras' jitter's transform_images, step by step, with glassnet's draws in Keras' forms."""
    column = (lambda v: np.asarray(v, np.float32).reshape(-1, 1, 1, 1))
    steps = (("random_brightness", "brightness", lambda d: {"rgb_delta": column(d["rgb_delta"])}),
             ("random_contrast", "contrast", lambda d: {"contrast_factor": column(d["contrast_factor"])}),
             ("random_saturation", "saturation", lambda d: {"factor": d["saturation"].astype(np.float32)}),
             ("random_hue", "hue", lambda d: {"factor": d["delta"].astype(np.float32)}))
    for attribute, key, transformation in steps:
        if key in drawn:
            x = getattr(jitter, attribute).transform_images(x, transformation(drawn[key]))
    return np.asarray(x)


@pytest.mark.parametrize("value_range, factors", [
    ((0, 1), dict(brightness_factor=0.2, contrast_factor=(0.3, 0.6), saturation_factor=(0.0, 1.0), hue_factor=0.4)),
    ((0, 255), dict(brightness_factor=(-0.3, 0.1), contrast_factor=(0.5, 0.2), saturation_factor=0.5, hue_factor=1.0)),
    ((-1, 1), dict(brightness_factor=0.3, hue_factor=(0.2, 0.8))),
    ((0, 255), dict(contrast_factor=(0.4, 0.4), saturation_factor=(0.2, 0.4))),
], ids=["all-unit", "all-255", "brightness-hue", "contrast-saturation"])
def test_matches_keras_members_chained_for_the_draws_made(value_range, factors, rng):
    keras = _keras()
    x = _images(rng, 8, value_range)
    layer = RandomColorJitter(value_range, seed=4, **factors)
    ours = layer(x, training=True)
    assert ours.dtype == np.float32 and set(layer._drawn) == {k.removesuffix("_factor") for k in factors}
    theirs = _keras_chain(keras.layers.RandomColorJitter(value_range, **factors), x, layer._drawn)
    width = value_range[1] - value_range[0]
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=3e-6 * width)


def test_it_is_its_four_layers_in_a_pipeline(rng):
    x = _images(rng, 6, (0, 255))
    jitter = RandomColorJitter(brightness_factor=0.1, contrast_factor=0.2, saturation_factor=0.7, hue_factor=0.3, seed=9)
    chain = Pipeline([RandomBrightness(0.1), RandomContrast(0.2), RandomSaturation(0.7), RandomHue(0.3)], seed=9)
    for _ in range(2):                                      # the same draws, step after step
        np.testing.assert_array_equal(jitter(x, training=True), chain(x, training=True))
    assert [type(layer).__name__ for layer in jitter.layers] == ["RandomBrightness", "RandomContrast",
                                                                 "RandomSaturation", "RandomHue"]
    assert jitter.random_hue is jitter.layers[3] and jitter.random_brightness.value_range == [0.0, 255.0]


def test_gradient_matches_torch_through_the_four_steps(torch, rng):
    low, high = 0.0, 1.0
    x = _images(rng, 6, (low, high), np.float64)
    layer = RandomColorJitter((low, high), (-0.3, 0.3), (0.2, 0.6), (0.1, 0.9), 0.8, seed=2, dtype="float64")
    layer(x, training=True)
    drawn = {key: {k: torch.tensor(v) for k, v in value.items()} for key, value in layer._drawn.items()}
    layer.rng = None                                       # the same draws again, from the seed
    ours = layer(x, training=True)
    col = (lambda v: v[:, None, None, None])

    def jitter(t):
        t = torch.clamp(t + col(drawn["brightness"]["rgb_delta"]), low, high)
        mean = t.mean(dim=(1, 2), keepdim=True)
        t = torch.clamp((t - mean) * col(drawn["contrast"]["contrast_factor"]) + mean, low, high)
        top, bottom = t.max(dim=-1, keepdim=True).values, t.min(dim=-1, keepdim=True).values
        t = top - (top - t) * torch.minimum(col(drawn["saturation"]["saturation"]), (top - low) / (top - bottom))
        top, bottom = t.max(dim=-1, keepdim=True), t.min(dim=-1, keepdim=True).values
        spread, r, g, b = top.values - bottom, t[..., :1], t[..., 1:2], t[..., 2:]
        largest = top.indices
        hue = torch.where(largest == 0, (g - b) / (6 * spread),
                          torch.where(largest == 1, (b - r) / (6 * spread) + 1 / 3, (r - g) / (6 * spread) + 2 / 3))
        hue = torch.where(hue < 0, hue + 1, hue) + col(drawn["hue"]["delta"])
        hue = torch.where(hue > 1, hue - 1, torch.where(hue < 0, hue + 1, hue))
        six = 6 * hue
        w = torch.cat([torch.clamp(torch.abs(six - 3) - 1, 0, 1), torch.clamp(2 - torch.abs(six - 2), 0, 1),
                       torch.clamp(2 - torch.abs(six - 4), 0, 1)], dim=-1)
        return torch.clamp(bottom + spread * w, low, high)

    t = torch.tensor(x, requires_grad=True)
    out = jitter(t)
    g = rng.normal(size=x.shape)
    (out * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ours, out.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.backward(g), t.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert not layer.random_brightness._kept.all() and layer.random_saturation._saturated.any()


def test_a_number_contrast_factor_follows_glassnet_s_random_contrast():
    # Keras 3.15 would draw [1, 1 + f]: glassnet's RandomContrast, and so the jitter, [1 - f, 1 + f]
    layer = RandomColorJitter(contrast_factor=0.5, seed=0)
    layer(np.zeros((2000, 1, 1, 3), np.float32), training=True)
    c = layer._drawn["contrast"]["contrast_factor"]
    assert 0.5 <= c.min() < 0.51 and 1.49 < c.max() <= 1.5


def test_outside_training_it_is_the_identity_and_its_config_draws_the_same(rng):
    x = _images(rng, 4, (0, 255))
    layer = RandomColorJitter(brightness_factor=0.2, hue_factor=0.5, seed=1)
    assert np.array_equal(layer(x, training=False), x)
    assert np.array_equal(layer.backward(np.ones_like(x)), np.ones_like(x))
    config = layer.get_config()
    assert config["brightness_factor"] == [-0.2, 0.2] and config["contrast_factor"] is None
    assert config["hue_factor"] == [0.0, 0.5] and config["value_range"] == [0.0, 255.0] and "layers" not in config
    copy = RandomColorJitter.from_config(config)
    assert copy.get_config() == config
    trained = layer(x, training=True)
    assert not np.array_equal(trained, x)
    layer.rng = None
    np.testing.assert_array_equal(copy(x, training=True), layer(x, training=True))


def test_a_model_trains_reproducibly_predicts_without_it_and_round_trips(rng, tmp_path):
    x = _images(rng, 16)
    y = (x[..., 0].mean(axis=(1, 2)) > 0.5).astype(int)

    def model():
        m = gn.Sequential([gn.Input((5, 4, 3)), RandomColorJitter((0, 1), 0.1, 0.2, 0.6, 0.2), gn.layers.Conv2D(2, 1),
                           gn.layers.Flatten(), gn.layers.Dense(1, activation="sigmoid")], seed=3)
        m.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.01))
        return m

    first, second = model(), model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")                      # the images lie inside value_range
        assert first.fit(x, y, epochs=2, batch_size=4, verbose=0).history == \
            second.fit(x, y, epochs=2, batch_size=4, verbose=0).history
    plain = gn.Sequential([gn.Input((5, 4, 3)), gn.layers.Conv2D(2, 1), gn.layers.Flatten(),
                           gn.layers.Dense(1, activation="sigmoid")])
    plain.set_weights(first.get_weights())
    np.testing.assert_array_equal(first.predict(x), plain.predict(x))
    first.save(tmp_path / "jitter.npz")
    loaded = gn.load_model(tmp_path / "jitter.npz")
    assert loaded.layers[0].get_config() == first.layers[0].get_config()
    np.testing.assert_array_equal(loaded.predict(x), first.predict(x))


@pytest.mark.parametrize("make, message", [
    (lambda: RandomColorJitter(), r"RandomColorJitter: give at least one of brightness_factor, contrast_factor, "
                                  r"saturation_factor and hue_factor"),
    (lambda: RandomColorJitter(brightness_factor=1.5), r"RandomColorJitter: brightness_factor must be a number or a "
                                                       r"pair \(lower, upper\) of numbers in \[-1, 1\], got 1.5"),
    (lambda: RandomColorJitter(contrast_factor=(0.1, 2.0)), r"RandomColorJitter: contrast_factor must be .* in \[0, 1\]"),
    (lambda: RandomColorJitter(saturation_factor="high"), r"RandomColorJitter: saturation_factor must be .*got 'high'"),
    (lambda: RandomColorJitter(hue_factor=-0.5), r"RandomColorJitter: hue_factor must be .* in \[0, 1\], got -0.5"),
    (lambda: RandomColorJitter(value_range=(1, 1), hue_factor=0.5), r"RandomColorJitter: value_range must be a pair "
                                                                    r"\(low, high\) of distinct finite numbers"),
])
def test_bad_arguments_name_the_layer_and_the_argument(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_saturation_and_hue_need_rgb_images_brightness_and_contrast_do_not(rng):
    x = rng.uniform(0, 255, size=(2, 3, 3, 2)).astype(np.float32)
    assert RandomColorJitter(brightness_factor=0.2, contrast_factor=0.2, seed=0)(x, training=True).shape == x.shape
    with pytest.raises(ValueError, match=r"RandomColorJitter.*: saturation_factor and hue_factor need RGB images "
                                         r"\(batch, height, width, 3\), got 2 channels: shape \(batch, 3, 3, 2\)"):
        RandomColorJitter(saturation_factor=0.2, hue_factor=0.1, seed=0)(x, training=True)
    with pytest.raises(ValueError, match=r"RandomColorJitter.*: hue_factor needs RGB images"):
        gn.Sequential([gn.Input((3, 3, 2)), RandomColorJitter(hue_factor=0.1)])
    built = RandomColorJitter(hue_factor=0.1, seed=0)
    built(np.zeros((1, 3, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"RandomColorJitter.*: hue_factor needs RGB images"):
        built.forward(x, training=True)
