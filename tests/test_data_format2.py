"""Keras' ``data_format`` on the adaptive poolings and the image preprocessing and augmentation
layers (glassnet/layers/data_format.py, the same wrapping as the convolutions').

Channels first must be the channels-last layer on the input with the channel axis moved, exactly:
the same seed gives the same draws, the same pixels, the same gradients and, in Keras' dict form,
the same segmentation masks and labels. Against Keras 3.15 channels first (the same draws handed
over as the channels-last tests hand them), float64 central differences, configs and model files.
"""
import inspect
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet import config
from glassnet.gradcheck import numerical_gradient

L = gn.layers


def last(x):
    return np.ascontiguousarray(np.moveaxis(x, 1, -1))


def first(x):
    return np.ascontiguousarray(np.moveaxis(x, -1, 1))


# name: make(data_format) -> layer; images (2, 6, 7, 3) in [0, 255] unless the entry says otherwise
CASES = {
    "AdaptiveAveragePooling2D": lambda f: L.AdaptiveAveragePooling2D((2, 3), data_format=f),
    "AdaptiveMaxPooling2D": lambda f: L.AdaptiveMaxPooling2D((4, 2), data_format=f),
    "Resizing": lambda f: L.Resizing(4, 9, data_format=f),
    "Resizing_crop": lambda f: L.Resizing(3, 3, crop_to_aspect_ratio=True, interpolation="bicubic", data_format=f),
    "Resizing_pad": lambda f: L.Resizing(5, 3, pad_to_aspect_ratio=True, fill_value=1.0, data_format=f),
    "CenterCrop": lambda f: L.CenterCrop(4, 5, data_format=f),
    "CenterCrop_resize": lambda f: L.CenterCrop(8, 4, data_format=f),
    "RandomCrop": lambda f: L.RandomCrop(4, 5, seed=1, data_format=f),
    "RandomFlip": lambda f: L.RandomFlip(seed=2, data_format=f),
    "RandomRotation": lambda f: L.RandomRotation(0.3, seed=3, data_format=f),
    "RandomZoom": lambda f: L.RandomZoom(0.3, (-0.2, 0.4), fill_mode="constant", seed=4, data_format=f),
    "RandomTranslation": lambda f: L.RandomTranslation(0.3, 0.2, fill_mode="wrap", seed=5, data_format=f),
    "RandomShear": lambda f: L.RandomShear(0.3, 0.2, data_format=f, seed=6),
    "RandomPerspective": lambda f: L.RandomPerspective((1, 1), 0.5, seed=7, data_format=f),
    "RandomElasticTransform": lambda f: L.RandomElasticTransform(1.0, 1.0, seed=8, data_format=f),
    "RandomErasing": lambda f: L.RandomErasing(seed=9, data_format=f),
    "RandomGaussianBlur": lambda f: L.RandomGaussianBlur(1.0, 3, 1.0, data_format=f, seed=10),
    "RandomSharpness": lambda f: L.RandomSharpness(0.5, data_format=f, seed=11),
    "RandomGrayscale": lambda f: L.RandomGrayscale(0.5, data_format=f, seed=12),
    "RandomHue": lambda f: L.RandomHue(0.3, data_format=f, seed=13),
    "RandomSaturation": lambda f: L.RandomSaturation(0.3, data_format=f, seed=14),
    "RandomColorDegeneration": lambda f: L.RandomColorDegeneration(0.5, data_format=f, seed=15),
    "RandomColorJitter": lambda f: L.RandomColorJitter(brightness_factor=0.2, contrast_factor=0.3,
                                                       saturation_factor=0.4, hue_factor=0.1, seed=16,
                                                       data_format=f),
    "RandomInvert": lambda f: L.RandomInvert(0.5, seed=17, data_format=f),
    "RandomPosterization": lambda f: L.RandomPosterization((1, 6), data_format=f, seed=18),
    "Equalization": lambda f: L.Equalization(data_format=f),
    "ContrastLimitedAdaptiveHistogramEqualization":
        lambda f: L.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 2), data_format=f),
    "AugMix": lambda f: L.AugMix(num_chains=2, chain_depth=2, seed=19, data_format=f),
    "RandAugment": lambda f: L.RandAugment(num_ops=3, seed=20, data_format=f),
    "MixUp": lambda f: L.MixUp(0.4, data_format=f, seed=21),
    "CutMix": lambda f: L.CutMix(1.0, seed=22, data_format=f),
}
# the classes, each once (the rows above name variants)
CLASSES = sorted({name.split("_")[0] for name in CASES} | {"AdaptiveAveragePooling1D", "AdaptiveAveragePooling3D",
                                                          "AdaptiveMaxPooling1D", "AdaptiveMaxPooling3D"})


def _images(rng=None, shape=(4, 6, 7, 3)):
    rng = rng or np.random.default_rng(0)
    return rng.uniform(0, 255, shape).astype(np.float32)


@pytest.mark.parametrize("name", CASES)
def test_channels_first_is_channels_last_with_the_axis_moved(name):
    x = _images()
    cl, cf = CASES[name]("channels_last"), CASES[name]("channels_first")
    assert cl.data_format == "channels_last" and cf.data_format == "channels_first"
    changed = False
    for _ in range(2):              # two training calls: the generators walk on alike
        y_last, y_first = cl(x, training=True), cf(first(x), training=True)
        np.testing.assert_array_equal(y_first, first(y_last))
        changed |= y_last.shape != x.shape or not np.array_equal(y_last, x)
    assert changed                  # the layer did something to compare
    assert tuple(cf.output_shape(first(x).shape[1:])) == y_first.shape[1:]
    assert cf.input_shape == first(x).shape[1:] and cl.input_shape == x.shape[1:]
    g = np.random.default_rng(1).standard_normal(y_last.shape).astype(np.float32)
    cl.needs_input_gradient = cf.needs_input_gradient = True
    try:
        dx_last = cl.backward(g)
    except (NotImplementedError, TypeError, ValueError):       # a layer without a gradient says so
        return
    np.testing.assert_array_equal(cf.backward(first(g)), first(dx_last))
    # outside training: the identity (or the deterministic resize) in both formats
    np.testing.assert_array_equal(cf(first(x), training=False), first(cl(x, training=False)))


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("kind", ["Average", "Max"])
def test_adaptive_pooling_of_each_rank(rank, kind):
    x = np.random.default_rng(rank).standard_normal((2, *(5, 7, 4)[:rank], 3)).astype(np.float32)
    make = getattr(L, f"Adaptive{kind}Pooling{rank}D")
    out = (3, 2, 3)[:rank]
    cl, cf = make(out), make(out, data_format="channels_first")
    np.testing.assert_array_equal(cf(first(x)), first(cl(x)))
    assert cf.output_shape((3, None, *(None,) * (rank - 1))) == (3, *out)


def _fixed(values):
    """A stand-in for a layer's ``_uniform``: the same draws at every call (finite differences)."""
    return lambda lower, upper, n: np.resize(np.asarray(values, np.float64), n)


@pytest.mark.parametrize("make", [
    lambda: L.AdaptiveAveragePooling2D((2, 3), data_format="channels_first"),
    lambda: L.AdaptiveMaxPooling3D((2, 1, 2), data_format="channels_first"),
    lambda: L.Resizing(3, 5, interpolation="bicubic", data_format="channels_first"),
    lambda: L.CenterCrop(3, 2, data_format="channels_first"),
    lambda: L.RandomRotation(0.3, data_format="channels_first"),
    lambda: L.RandomZoom(0.3, fill_mode="nearest", data_format="channels_first"),
], ids=["AdaptiveAveragePooling2D", "AdaptiveMaxPooling3D", "Resizing", "CenterCrop", "RandomRotation", "RandomZoom"])
def test_gradients_against_finite_differences_float64(make):
    layer = make()
    layer.dtype = np.dtype("float64")
    spatial = (3, 4, 5) if "3D" in type(layer).__name__ else (4, 5)
    # distinct values: no ties for the maxima
    x = np.random.default_rng(3).permutation(2 * 2 * int(np.prod(spatial))).reshape(2, 2, *spatial) / 7.0
    if hasattr(layer, "_uniform"):
        layer._uniform = _fixed([0.13, -0.21])
    training = hasattr(layer, "_uniform")
    g = np.random.default_rng(2).standard_normal(layer(x, training=training).shape)
    layer.needs_input_gradient = True

    def loss():
        return float((layer.forward(x, training) * g).sum())
    layer.forward(x, training)
    dx = layer.backward(g)
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------------------- the dict form
@pytest.mark.parametrize("name", ["RandomFlip", "RandomRotation", "RandomCrop", "RandomElasticTransform",
                                  "RandomPerspective", "Resizing_pad", "CenterCrop_resize", "RandAugment",
                                  "AugMix", "CutMix", "MixUp", "RandomColorJitter", "RandomErasing"])
def test_dict_inputs_move_masks_and_labels_as_channels_last(name):
    rng = np.random.default_rng(4)
    # float masks (one-hot-like channels): the mixing layers mix them, the others move them
    x, masks = _images(rng), rng.integers(0, 5, (4, 6, 7, 2)).astype(np.float32)
    labels = np.eye(4, dtype=np.float32)
    a = CASES[name]("channels_last")({"images": x, "labels": labels, "segmentation_masks": masks})
    b = CASES[name]("channels_first")({"images": first(x), "labels": labels, "segmentation_masks": first(masks)})
    np.testing.assert_array_equal(b["images"], first(a["images"]))
    np.testing.assert_array_equal(b["segmentation_masks"], first(a["segmentation_masks"]))
    np.testing.assert_array_equal(b["labels"], a["labels"])


def test_a_pipeline_of_channels_first_layers_takes_channels_first_dicts():
    rng = np.random.default_rng(5)
    x, masks = _images(rng), rng.integers(0, 3, (4, 6, 7, 1)).astype(np.float32)

    def pipeline(f):
        return L.Pipeline([L.RandomFlip(data_format=f), L.RandomRotation(0.2, data_format=f)], seed=3)
    a = pipeline("channels_last")({"images": x, "segmentation_masks": masks})
    b = pipeline("channels_first")({"images": first(x), "segmentation_masks": first(masks)})
    np.testing.assert_array_equal(b["images"], first(a["images"]))
    np.testing.assert_array_equal(b["segmentation_masks"], first(a["segmentation_masks"]))


def test_dict_masks_of_the_wrong_layout_are_refused_naming_the_channels_first_axes():
    x = _images()
    layer = L.RandomFlip(seed=0, data_format="channels_first")
    with pytest.raises(ValueError, match=r"segmentation_masks must be \(batch, channels, height, width\) with the "
                                         r"images' batch, height and width, \(4, 6, 7\), got shape \(4, 6, 7, 1\)"):
        layer({"images": first(x), "segmentation_masks": np.zeros((4, 6, 7, 1), np.int32)})
    with pytest.raises(ValueError, match=r"masks\[:, None\] adds the channel axis"):
        layer({"images": first(x), "segmentation_masks": np.zeros((4, 6, 7), np.int32)})


# ---------------------------------------------------------------------------- Keras 3.15
def test_adaptive_pooling_and_resizing_match_keras_channels_first(keras):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 9)).astype(np.float32)
    for name, kwargs in [("AdaptiveAveragePooling2D", dict(output_size=(3, 4))),
                         ("AdaptiveMaxPooling2D", dict(output_size=(2, 5))),
                         ("Resizing", dict(height=4, width=5)),
                         ("Resizing", dict(height=5, width=4, interpolation="nearest")),
                         ("Resizing", dict(height=4, width=4, crop_to_aspect_ratio=True)),
                         ("CenterCrop", dict(height=5, width=6)),
                         ("CenterCrop", dict(height=9, width=4))]:
        ours = getattr(L, name)(**kwargs, data_format="channels_first")(x)
        theirs = getattr(keras.layers, name)(**kwargs, data_format="channels_first")(x)
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-5, atol=1e-5, err_msg=f"{name} {kwargs}")
    x1 = np.random.default_rng(1).standard_normal((2, 3, 8)).astype(np.float32)
    np.testing.assert_allclose(L.AdaptiveMaxPooling1D(3, data_format="channels_first")(x1),
                               np.asarray(keras.layers.AdaptiveMaxPooling1D(3, data_format="channels_first")(x1)))


def _drawing(values):
    """A stand-in for a layer's ``_uniform`` that hands out ``values`` in turn (Keras' draws)."""
    queue = list(values)
    return lambda lower, upper, n: np.asarray(queue.pop(0), dtype=np.float64).reshape(n)


def test_geometric_layers_match_keras_channels_first_for_the_same_draws(keras, rng):
    # as test_augmentation's channels-last test: Keras' draws handed to ours, Keras channels first
    x = rng.uniform(0, 1, size=(3, 2, 9, 8)).astype(np.float32)
    h, w = 9, 8
    theirs = keras.layers.RandomRotation(0.2, seed=1, data_format="channels_first")
    draw = theirs.get_random_transformation(x, training=True)
    ours = L.RandomRotation(0.2, data_format="channels_first")
    ours._uniform = _drawing([np.asarray(draw["angle"])])
    np.testing.assert_allclose(ours(x, training=True), np.asarray(theirs.transform_images(x, draw)), atol=3e-5)
    theirs = keras.layers.RandomTranslation(0.3, (-0.2, 0.4), seed=2, data_format="channels_first")
    draw = theirs.get_random_transformation(x, training=True)
    shifts = np.asarray(draw["translations"])
    ours = L.RandomTranslation(0.3, (-0.2, 0.4), data_format="channels_first")
    ours._uniform = _drawing([shifts[:, 1] / h, shifts[:, 0] / w])
    np.testing.assert_allclose(ours(x, training=True), np.asarray(theirs.transform_images(x, draw)), atol=3e-5)
    theirs = keras.layers.RandomZoom((-0.4, 0.5), (-0.3, 0.1), seed=3, data_format="channels_first")
    draw = theirs.get_random_transformation(x, training=True)
    ours = L.RandomZoom((-0.4, 0.5), (-0.3, 0.1), data_format="channels_first")
    ours._uniform = _drawing([np.asarray(draw["height_zoom"]).ravel() - 1, np.asarray(draw["width_zoom"]).ravel() - 1])
    np.testing.assert_allclose(ours(x, training=True), np.asarray(theirs.transform_images(x, draw)), atol=3e-5)


def test_color_layers_match_keras_channels_first_for_the_same_draws(keras, rng):
    # whole numbers: Keras' Equalization bins floats otherwise than glassnet's (test_equalization.py)
    x = rng.integers(0, 256, size=(4, 3, 5, 6)).astype(np.float32)
    chosen = np.array([True, False, True, True])
    ours = L.RandomGrayscale(0.5, data_format="channels_first")
    ours._uniform = _drawing([np.where(chosen, 0.1, 0.9)])
    theirs = keras.layers.RandomGrayscale(0.5, data_format="channels_first")
    np.testing.assert_allclose(ours(x, training=True),
                               np.asarray(theirs.transform_images(x, chosen.reshape(-1, 1, 1, 1), training=True)),
                               rtol=1e-5, atol=1e-3)
    for name in ("Equalization", "ContrastLimitedAdaptiveHistogramEqualization"):
        kwargs = {"tile_grid_size": (2, 2)} if name.startswith("Contrast") else {}
        ours = getattr(L, name)(**kwargs, data_format="channels_first")(x)
        # image by image: Keras' Equalization pools a batch's histograms (test_equalization.py)
        k_layer = getattr(keras.layers, name)(**kwargs, data_format="channels_first")
        theirs = np.concatenate([np.asarray(k_layer(x[i:i + 1])) for i in range(len(x))])
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-2, err_msg=name)


def test_data_format_takes_keras_position_in_each_signature(keras):
    for name in CLASSES:
        ours = [p for p in inspect.signature(getattr(L, name).__init__).parameters if p not in ("self", "kwargs")]
        theirs = [p for p in inspect.signature(getattr(keras.layers, name).__init__).parameters
                  if p in ours or p == "data_format"]
        assert ours[:len(theirs)] == theirs, name


def test_keras_configs_with_data_format_are_read(keras):
    for k_layer in (keras.layers.RandomFlip(data_format="channels_first"),
                    keras.layers.Resizing(3, 4, data_format="channels_first"),
                    keras.layers.AdaptiveAveragePooling2D(2, data_format="channels_first")):
        layer = L.deserialize(keras.layers.serialize(k_layer))
        assert layer.data_format == "channels_first", type(layer).__name__
    assert L.deserialize(keras.layers.serialize(keras.layers.CutMix(data_format="channels_last"))).data_format \
        == "channels_last"


# ---------------------------------------------------------------------------- the argument
def test_every_listed_layer_takes_data_format():
    for name in CLASSES:
        assert "data_format" in inspect.signature(getattr(L, name).__init__).parameters, name


def test_data_format_none_reads_the_global_format_and_layers_keras_gives_none_stay_channels_last():
    try:
        config.set_image_data_format("channels_first")
        # (RandomContrast, RandomBrightness, Solarization and AutoContrast take it since session 47)
        for layer in (L.RandomFlip(), L.Resizing(2, 2), L.AdaptiveMaxPooling2D(2), L.RandAugment(),
                      L.RandomColorJitter(hue_factor=0.1), L.MixUp(), L.RandomContrast(0.2), L.RandomBrightness(0.2),
                      L.Solarization(), L.AutoContrast()):
            assert layer.data_format == "channels_first", type(layer).__name__
        assert L.RandomFlip.from_config({"mode": "vertical"}).data_format == "channels_last"   # an older file
        assert L.RandomContrast.from_config({"factor": [0.2, 0.2]}).data_format == "channels_last"
        assert L.AutoContrast.from_config({}).data_format == "channels_last"
    finally:
        config.set_image_data_format("channels_last")


@pytest.mark.parametrize("make", [lambda v: L.RandomFlip(data_format=v), lambda v: L.Resizing(2, 2, data_format=v),
                                  lambda v: L.AdaptiveAveragePooling1D(2, data_format=v),
                                  lambda v: L.RandAugment(data_format=v), lambda v: L.RandomColorJitter(hue_factor=0.1, data_format=v),
                                  lambda v: L.RandomPerspective(data_format=v)])
def test_bad_data_format_is_refused_by_name(make):
    with pytest.raises(ValueError, match=r"data_format must be one of \['channels_last', 'channels_first'\], "
                                         r"got 'NCHW'"):
        make("NCHW")
    with pytest.raises(TypeError, match="data_format must be a str"):
        make(1)


def test_channels_first_grayscale_checks_the_channel_axis():
    layer = L.RandomGrayscale(data_format="channels_first")
    with pytest.raises(ValueError):
        layer(np.ones((1, 5, 4, 3), np.float32), training=True)     # 4 channels... of a channels-last image
    assert layer(np.ones((1, 3, 4, 5), np.float32)).shape == (1, 3, 4, 5)


# ---------------------------------------------------------------------------- models and files
def test_configs_and_a_model_file_round_trip(tmp_path):
    for name, make in CASES.items():
        assert "data_format" not in make("channels_last").get_config(), name
        cf = make("channels_first")
        config_ = json.loads(json.dumps(cf.get_config()))
        assert config_["data_format"] == "channels_first", name
        assert type(cf).from_config(config_).data_format == "channels_first", name
    model = gn.Sequential([gn.Input((3, 12, 10)), L.Resizing(8, 8, data_format="channels_first"),
                           L.RandomFlip(seed=0, data_format="channels_first"),
                           L.RandomRotation(0.1, seed=1, data_format="channels_first"),
                           L.Conv2D(4, 3, data_format="channels_first"),
                           L.AdaptiveAveragePooling2D(2, data_format="channels_first"),
                           L.Flatten(data_format="channels_first"), L.Dense(2)], seed=0)
    x = _images(shape=(5, 12, 10, 3))
    model.compile(optimizer="adam", loss="mse")
    model.fit(first(x) / 255, np.ones((5, 2), np.float32), epochs=1, verbose=0)
    path = tmp_path / "cf.npz"
    model.save(path)
    loaded = gn.load_model(path)
    np.testing.assert_array_equal(loaded.predict(first(x), verbose=0), model.predict(first(x), verbose=0))
    assert [layer.data_format for layer in loaded.layers[:6]] == ["channels_first"] * 6
