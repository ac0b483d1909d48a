"""The random image augmentation layers: the shared sampler against Keras 3.15's
``ops.image.affine_transform`` (TensorFlow's) for every fill mode and interpolation, each layer
against Keras' own layer given the same random draws, the identity outside training, models that
train with them, and their errors. The layer contract and finite differences (in training mode,
a fixed draw) are in test_layer_contract.py."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import (RandomBrightness, RandomContrast, RandomFlip, RandomRotation, RandomTranslation,
                             RandomZoom)
from glassnet.layers.augmentation import FILL_MODES, INTERPOLATIONS, _sampling, affine_sample


def _keras():
    return pytest.importorskip("keras", reason="Keras oracle not installed")


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("fill_mode", FILL_MODES)
def test_the_sampler_matches_keras_affine_transform(fill_mode, interpolation, rng):
    keras = _keras()
    x = rng.normal(size=(3, 7, 6, 2)).astype(np.float32)
    for _ in range(8):       # rotations, scales and shifts that reach far outside the image
        angle, scale = rng.uniform(-3, 3, 3), rng.uniform(0.5, 2.0, 3)
        matrices = np.stack([scale * np.cos(angle), -scale * np.sin(angle), rng.uniform(-9, 9, 3),
                             scale * np.sin(angle), scale * np.cos(angle), rng.uniform(-9, 9, 3)], axis=1)
        fill_value = 0.5 if fill_mode == "constant" else 0.0
        ours = affine_sample(x, _sampling(matrices, 7, 6, fill_mode, interpolation), fill_value)
        transform = np.concatenate([matrices, np.zeros((3, 2))], axis=1).astype(np.float32)
        theirs = keras.ops.image.affine_transform(x, transform, interpolation=interpolation,
                                                  fill_mode=fill_mode, fill_value=fill_value)
        np.testing.assert_allclose(ours, np.asarray(theirs), atol=2e-5)


def _drawing(values):
    """A stand-in for a layer's ``_uniform`` that hands out ``values`` in turn (Keras' draws)."""
    queue = list(values)
    return lambda lower, upper, n: np.asarray(queue.pop(0), dtype=np.float64).reshape(n)


@pytest.mark.parametrize("settings", [dict(), dict(fill_mode="constant", fill_value=0.3, interpolation="nearest"),
                                      dict(fill_mode="wrap")], ids=str)
def test_each_geometric_layer_matches_keras_for_the_same_draws(settings, rng):
    keras = _keras()
    x = rng.uniform(0, 1, size=(4, 9, 8, 3)).astype(np.float32)
    n, h, w = 4, 9, 8
    # rotation: Keras draws the angle in degrees
    theirs = keras.layers.RandomRotation(0.2, seed=1, **settings)
    draw = theirs.get_random_transformation(x, training=True)
    ours = RandomRotation(0.2, **settings)
    ours._uniform = _drawing([np.asarray(draw["angle"])])
    np.testing.assert_allclose(ours(x, training=True), np.asarray(theirs.transform_images(x, draw)), atol=3e-5)
    # translation: Keras keeps pixels (x, y); the draws are fractions of the height, then the width
    theirs = keras.layers.RandomTranslation(0.3, (-0.2, 0.4), seed=2, **settings)
    draw = theirs.get_random_transformation(x, training=True)
    shifts = np.asarray(draw["translations"])
    ours = RandomTranslation(0.3, (-0.2, 0.4), **settings)
    ours._uniform = _drawing([shifts[:, 1] / h, shifts[:, 0] / w])
    np.testing.assert_allclose(ours(x, training=True), np.asarray(theirs.transform_images(x, draw)), atol=3e-5)
    # zoom: Keras' draws are 1 + factor
    for width_factor in (None, (-0.3, 0.1)):
        theirs = keras.layers.RandomZoom((-0.4, 0.5), width_factor, seed=3, **settings)
        draw = theirs.get_random_transformation(x, training=True)
        ours = RandomZoom((-0.4, 0.5), width_factor, **settings)
        zooms = [np.asarray(draw["height_zoom"]).ravel() - 1]
        if width_factor is not None:
            zooms.append(np.asarray(draw["width_zoom"]).ravel() - 1)
        ours._uniform = _drawing(zooms)
        np.testing.assert_allclose(ours(x, training=True), np.asarray(theirs.transform_images(x, draw)), atol=3e-5)
    assert x.shape == (n, h, w, 3)


def test_contrast_and_brightness_match_keras_for_the_same_draws(rng):
    keras = _keras()
    x = rng.uniform(0, 255, size=(5, 4, 3, 2)).astype(np.float32)
    factors = rng.uniform(0.5, 1.5, 5)
    ours = RandomContrast(0.5)
    ours._uniform = _drawing([factors])
    theirs = keras.layers.RandomContrast(0.5)
    expected = theirs.transform_images(x, {"contrast_factor": factors.reshape(5, 1, 1, 1).astype(np.float32)})
    np.testing.assert_allclose(ours(x, training=True), np.asarray(expected), rtol=1e-5, atol=1e-4)
    deltas = rng.uniform(-0.4, 0.4, 5)
    ours = RandomBrightness(0.4, value_range=(0, 255))
    ours._uniform = _drawing([deltas])
    theirs = keras.layers.RandomBrightness(0.4)
    expected = theirs.transform_images(x.copy(), {"rgb_delta": (deltas * 255).reshape(5, 1, 1, 1).astype(np.float32)})
    np.testing.assert_allclose(ours(x, training=True), np.asarray(expected), rtol=1e-5, atol=1e-4)


def test_flips_are_flips_and_each_axis_has_its_own_draw(rng):
    x = rng.normal(size=(4000, 3, 2, 1)).astype(np.float32)
    out = RandomFlip(seed=0)(x, training=True)
    kinds = np.zeros(4)
    for i, o in zip(x, out):
        for k, axes in enumerate([(), (1,), (0,), (0, 1)]):
            if np.array_equal(o, np.flip(i, axis=axes) if axes else i):
                kinds[k] += 1
                break
    assert kinds.sum() == 4000 and np.all(np.abs(kinds / 4000 - 0.25) < 0.03), kinds
    horizontal = RandomFlip("horizontal", seed=0)(x, training=True)
    assert all(np.array_equal(o, i) or np.array_equal(o, i[:, ::-1]) for i, o in zip(x, horizontal))


# seeded: unseeded, RandomFlip left all three images as they were in 1.6% of runs (0.25 ** 3)
@pytest.mark.parametrize("layer", [RandomFlip(seed=0), RandomTranslation(0.2, 0.2, seed=0), RandomRotation(0.3, seed=0),
                                   RandomZoom(0.2, seed=0), RandomContrast(0.4, seed=0), RandomBrightness(0.2, seed=0)],
                         ids=lambda l: type(l).__name__)
def test_outside_training_each_is_the_identity(layer, rng):
    x = rng.uniform(0, 1, size=(3, 5, 4, 2)).astype(np.float32)
    assert layer(x, training=False) is x or np.array_equal(layer(x, training=False), x)
    assert np.array_equal(layer.backward(np.ones_like(x)), np.ones_like(x))
    trained = layer(x, training=True)
    assert trained.shape == x.shape and trained.dtype == np.float32 and not np.array_equal(trained, x)


def test_a_model_with_augmentation_trains_reproducibly_and_predicts_without_it(rng, tmp_path):
    x = rng.uniform(0, 1, size=(64, 8, 8, 1)).astype(np.float32)
    y = (x[:, :4].mean(axis=(1, 2, 3)) > x[:, 4:].mean(axis=(1, 2, 3))).astype(int)

    def model():
        m = gn.Sequential([gn.Input((8, 8, 1)), RandomFlip("horizontal"), RandomRotation(0.05),
                           RandomTranslation(0.1, 0.1), RandomZoom(0.1), RandomContrast(0.2, value_range=(0, 1)),
                           RandomBrightness(0.1, value_range=(0, 1)), gn.layers.Conv2D(4, 3, activation="relu"),
                           gn.layers.Flatten(), gn.layers.Dense(1, activation="sigmoid")], seed=4)
        m.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.01), metrics=["accuracy"])
        return m

    first, second = model(), model()
    a = first.fit(x, y, epochs=3, batch_size=16, verbose=0).history["loss"]
    b = second.fit(x, y, epochs=3, batch_size=16, verbose=0).history["loss"]
    assert a == b                                  # the model's seed fixes every draw
    plain = gn.Sequential([gn.Input((8, 8, 1)), gn.layers.Conv2D(4, 3, activation="relu"), gn.layers.Flatten(),
                           gn.layers.Dense(1, activation="sigmoid")])
    plain.set_weights(first.get_weights())
    np.testing.assert_array_equal(first.predict(x), plain.predict(x))
    first.save(tmp_path / "aug.npz")
    loaded = gn.load_model(tmp_path / "aug.npz")
    np.testing.assert_array_equal(loaded.predict(x), first.predict(x))
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in first.layers]
    loaded.fit(x, y, epochs=1, batch_size=16, verbose=0)
    first.fit(x, y, epochs=1, batch_size=16, verbose=0)
    np.testing.assert_array_equal(loaded.get_weights()[0], first.get_weights()[0])   # the draws resume too


@pytest.mark.parametrize("make, message", [
    (lambda: RandomFlip("diagonal"), r"RandomFlip: mode must be one of \['horizontal', 'vertical', 'horizontal_and_vertical'\], got 'diagonal'"),
    (lambda: RandomRotation(0.1, fill_mode="mirror"), r"RandomRotation: fill_mode must be one of \['reflect', 'wrap', 'constant', 'nearest'\]"),
    (lambda: RandomZoom(0.1, interpolation="bicubic"), r"RandomZoom: interpolation must be one of \['bilinear', 'nearest'\], got 'bicubic'"),
    (lambda: RandomTranslation(1.5, 0.1), r"RandomTranslation: height_factor must be a number or a pair \(lower, upper\) of numbers in \[-1, 1\], got 1.5"),
    (lambda: RandomTranslation(0.1, (0.1, 0.2, 0.3)), r"RandomTranslation: width_factor must be"),
    (lambda: RandomZoom((-1.0, 0.2)), r"RandomZoom: height_factor \(-1.0, 0.2\) gives zooms of 1 \+ -1 and up; the lower end must be > -1"),
    (lambda: RandomZoom(1.0), r"RandomZoom: height_factor 1.0 gives zooms of 1 \+ -1 and up"),
    (lambda: RandomContrast((0.2,)), r"RandomContrast: factor must be a number or a pair \(lower, upper\) of numbers in \[0, 1\], got \(0.2,\)"),
    (lambda: RandomRotation("0.1"), r"RandomRotation: factor must be a number or a pair \(lower, upper\) of numbers in \[-1, 1\], got '0.1'"),
    (lambda: RandomRotation(float("nan")), r"RandomRotation: factor must be"),
    (lambda: RandomContrast(1.5), r"RandomContrast: factor must be .* in \[0, 1\], got 1.5$"),
    (lambda: RandomContrast(1.5), r"RandomContrast: factor must be a number or a pair \(lower, upper\) of numbers in \[0, 1\]"),
    (lambda: RandomBrightness(0.2, value_range=(1, 1)), r"RandomBrightness: value_range must be a pair \(low, high\) of distinct finite numbers"),
    (lambda: RandomTranslation(0.1, 0.1, fill_value=float("inf")), r"RandomTranslation: fill_value must be a finite number"),
    (lambda: RandomFlip()(np.ones((2, 4, 4))), r"layer RandomFlip: expected input of shape \(batch, height, width, channels\)"),
], ids=range(15))
def test_bad_arguments_are_refused_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_seeded_layer_draws_the_same_after_its_config_and_takes_keras_positional_order(rng):
    x = rng.uniform(size=(4, 6, 5, 1)).astype(np.float32)
    for layer in (RandomRotation(0.3, seed=5), RandomFlip(seed=5), RandomContrast(0.3, (0, 1), seed=5),
                  RandomZoom(0.2, None, "reflect", "bilinear", 5)):
        copy = type(layer).from_config(layer.get_config())
        assert copy.seed == 5
        np.testing.assert_array_equal(copy(x, training=True), layer(x, training=True))
    layer = RandomRotation(0.1, "reflect", "bilinear", 42)        # Keras' order: the seed, then fill_value
    assert layer.seed == 42 and layer.fill_value == 0.0


def test_an_infinite_pixel_stays_where_it_is():
    # a neighbour read with weight 0 (outside, or past the last row) must not make 0 * inf = NaN
    x = np.ones((1, 4, 5, 1), np.float32)
    x[0, 0, 0, 0] = np.inf
    for fill_mode in FILL_MODES:
        layer = RandomTranslation((0, 0), (0, 0), fill_mode=fill_mode, seed=0)
        out = layer(x, training=True)
        assert np.isinf(out[0, 0, 0, 0]) and np.isfinite(out.ravel()[1:]).all(), fill_mode


def test_images_outside_value_range_warn_once(rng):
    pixels = rng.uniform(0, 1, size=(4, 3, 3, 1)).astype(np.float32)
    layer = RandomBrightness(0.2)                        # (0, 255) by default
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer(pixels * 255, training=True)
    standardised = RandomContrast(0.2)
    with pytest.warns(UserWarning, match=r"the images' values span \[-.*\], outside its value_range \(0.0, 255.0\)"):
        standardised(pixels - 0.5, training=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        standardised(pixels - 0.5, training=True)        # once per layer


def test_a_first_layer_keeps_no_sampling_for_a_backward_that_never_comes(rng):
    model = gn.Sequential([gn.Input((6, 6, 1)), RandomRotation(0.1), gn.layers.Flatten(), gn.layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    model.fit(rng.uniform(size=(8, 6, 6, 1)), rng.uniform(size=8), epochs=1, verbose=0)
    assert model.layers[0]._sampling is None


def test_a_later_batch_outside_value_range_still_warns(rng):
    layer = RandomBrightness(0.1, value_range=(0, 1))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer(rng.uniform(size=(2, 3, 3, 1)), training=True)          # in range: nothing to say
    with pytest.warns(UserWarning, match="outside its value_range"):
        layer(rng.uniform(size=(2, 3, 3, 1)) * 255, training=True)


@pytest.mark.parametrize("make", [
    lambda: RandomFlip(seed=0), lambda: RandomRotation(0.3, seed=0), lambda: gn.layers.RandomCrop(3, 3, seed=0),
    lambda: gn.layers.RandomSharpness(1.0, value_range=(0, 1), seed=0),
    lambda: gn.layers.RandomColorJitter(value_range=(0, 1), brightness_factor=0.5, seed=0),
    lambda: gn.layers.RandAugment(value_range=(0, 1), seed=0), lambda: gn.layers.MixUp(seed=0),
    lambda: gn.layers.Pipeline([RandomFlip(), RandomRotation(0.3)], seed=0),
], ids=["RandomFlip", "RandomRotation", "RandomCrop", "RandomSharpness", "RandomColorJitter", "RandAugment", "MixUp",
        "Pipeline"])
def test_called_on_data_a_layer_augments_as_keras_and_a_model_s_predict_does_not(make, rng):
    """Keras' image layers default to training=True when called (``layer(images)`` shows the
    augmented images); glassnet's before this took inference, the base Layer's default."""
    x = rng.uniform(0, 1, size=(6, 5, 5, 3)).astype(np.float32)
    layer = make()
    out = layer(x)
    assert out.shape != x.shape or not np.array_equal(out, x)
    assert np.array_equal(make()(x), out)                           # seeded: the same draws
    np.testing.assert_array_equal(make()(x, training=False), x if not isinstance(layer, gn.layers.RandomCrop)
                                  else gn.layers.Resizing(3, 3, crop_to_aspect_ratio=True)(x))
    model = gn.Sequential([gn.Input((5, 5, 3)), make()])
    inferred = gn.layers.Resizing(3, 3, crop_to_aspect_ratio=True)(x) if isinstance(layer, gn.layers.RandomCrop) else x
    np.testing.assert_array_equal(model.predict(x, verbose=0), inferred)
    np.testing.assert_array_equal(model(x, training=False), inferred)
    # given no flag, model(x) runs the layer with its call's default, training, as Keras 3.15
    # (tests/test_augdef.py compares it with Keras'); before this it gave the inference output
    assert not np.array_equal(model(x), inferred)


def test_a_fill_value_beyond_the_dtype_is_refused_by_name():
    """1e39 is inf in float32, and inf times a weight of 0 made NaN pixels inside the images."""
    x = np.random.default_rng(0).uniform(size=(2, 6, 6, 1)).astype(np.float32)
    for make in (lambda: RandomRotation(0.2, fill_mode="constant", fill_value=1e39),
                 lambda: gn.layers.RandomElasticTransform(fill_value=1e39),
                 lambda: gn.layers.RandomPerspective(fill_value=-1e39)):
        with pytest.raises(ValueError, match=r"fill_value=-?1e\+39 is beyond the range of its dtype float32"):
            make()(x)
    wide = RandomRotation(0.2, fill_mode="constant", fill_value=1e39, dtype="float64", seed=0)(x.astype(np.float64))
    assert np.isfinite(wide).all()
