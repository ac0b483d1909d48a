"""Keras' dict form {"images", "labels", "segmentation_masks"} on the image layers: the masks
against Keras 3.15's ``transform_segmentation_masks`` (pinned factors, or Keras given glassnet's
draws), the images' and masks' draws shared (masks equal to the images, sampled "nearest", come
out equal to them), labels passed through, inference, and the refusals."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L


def _keras():
    return pytest.importorskip("keras", reason="Keras oracle not installed")


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (3, 7, 9, 2)).astype(np.float32)
    masks = rng.integers(0, 5, (3, 7, 9, 1)).astype(np.int32)
    return images, masks


def _keras_masks(layer, images, masks):
    out = layer({"images": images, "segmentation_masks": masks})
    return np.asarray(out["images"]), np.asarray(out["segmentation_masks"])


GEOMETRIC = [
    ("rotation", lambda k, **a: k.RandomRotation((0.11, 0.11), **a), lambda **a: L.RandomRotation((0.11, 0.11), **a)),
    ("translation", lambda k, **a: k.RandomTranslation((0.3, 0.3), (-0.25, -0.25), **a),
     lambda **a: L.RandomTranslation((0.3, 0.3), (-0.25, -0.25), **a)),
    ("zoom", lambda k, **a: k.RandomZoom((0.4, 0.4), (-0.3, -0.3), **a), lambda **a: L.RandomZoom((0.4, 0.4), (-0.3, -0.3), **a)),
]


@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
@pytest.mark.parametrize("name,make_keras,make_ours", GEOMETRIC, ids=[g[0] for g in GEOMETRIC])
@pytest.mark.parametrize("dtype", [np.int32, np.float32])
def test_geometric_masks_match_keras_for_pinned_factors(name, make_keras, make_ours, fill_mode, dtype, data):
    keras = _keras()
    images, masks = data
    masks = masks.astype(dtype)
    arguments = {"fill_mode": fill_mode, "fill_value": 7.0}
    k_images, k_masks = _keras_masks(make_keras(keras.layers, **arguments), images, masks)
    out = make_ours(seed=0, **arguments)({"images": images, "segmentation_masks": masks, "labels": np.arange(3)})
    assert sorted(out) == ["images", "labels", "segmentation_masks"]
    np.testing.assert_allclose(out["images"], k_images, atol=2e-5)
    # the masks: Keras' nearest sampling with the layer's fill_mode and fill_value (7 outside, constant)
    np.testing.assert_array_equal(out["segmentation_masks"], k_masks)
    assert out["segmentation_masks"].dtype == dtype            # the masks' own dtype, values exact
    np.testing.assert_array_equal(out["labels"], np.arange(3))
    if fill_mode == "constant":
        assert (out["segmentation_masks"] == 7).any()


def test_flip_masks_match_keras_given_the_same_flips(data):
    keras = _keras()
    images, masks = data
    layer = L.RandomFlip("horizontal_and_vertical", seed=3)
    images = np.concatenate([images] * 4)
    masks = np.concatenate([masks] * 4)
    out = layer({"images": images, "segmentation_masks": masks})
    expected = masks.astype(np.float32)
    for axis, flips in layer._flips:            # glassnet draws each axis on its own: Keras' flip, per axis
        keras_flip = keras.layers.RandomFlip("horizontal" if axis == 2 else "vertical")
        expected = np.asarray(keras_flip.transform_segmentation_masks(expected, {"flips": flips[:, None, None, None]}))
    assert any(f.any() and not f.all() for _, f in layer._flips)
    np.testing.assert_array_equal(out["segmentation_masks"], expected)


def test_random_crop_masks_match_keras_at_each_images_window(data):
    keras = _keras()
    images, masks = data
    layer = L.RandomCrop(4, 5, seed=1)
    out = layer({"images": images, "segmentation_masks": masks})
    tops, lefts = layer._window[1][:, 0, 0], layer._window[2][:, 0, 0]
    keras_crop = keras.layers.RandomCrop(4, 5)
    for i in range(3):        # Keras draws one window a batch, glassnet one an image: Keras given each
        expected = keras_crop.transform_segmentation_masks(masks[i:i + 1], (int(tops[i]), int(lefts[i])))
        np.testing.assert_array_equal(out["segmentation_masks"][i:i + 1], np.asarray(expected))
    # the images' windows too: masks equal to the images come out equal to them
    same = layer({"images": images, "segmentation_masks": images})
    np.testing.assert_array_equal(same["segmentation_masks"], same["images"])


@pytest.mark.parametrize("arguments", [{}, {"crop_to_aspect_ratio": True}, {"pad_to_aspect_ratio": True, "fill_value": 3.0},
                                       {"interpolation": "nearest"}], ids=["plain", "crop", "pad", "nearest"])
@pytest.mark.parametrize("size", [(5, 4), (11, 13)])
def test_resizing_masks_match_keras(arguments, size, data):
    keras = _keras()
    images, masks = data
    if "fill_value" in arguments:        # Keras cannot pad int32 masks with a float fill
        masks = masks.astype(np.float32)
    k_images, k_masks = _keras_masks(keras.layers.Resizing(*size, **arguments), images, masks)
    out = L.Resizing(*size, **arguments)({"images": images, "segmentation_masks": masks})
    np.testing.assert_allclose(out["images"], k_images, atol=2e-5)
    np.testing.assert_array_equal(out["segmentation_masks"], k_masks)      # nearest whatever the images'


def test_center_crop_masks_match_keras(data):
    keras = _keras()
    images, masks = data
    _, k_masks = _keras_masks(keras.layers.CenterCrop(4, 6), images, masks)
    out = L.CenterCrop(4, 6)({"images": images, "segmentation_masks": masks})
    np.testing.assert_array_equal(out["segmentation_masks"], k_masks)


def test_mixup_masks_are_mixed_as_the_images(data):
    # Keras 3.15's MixUp takes the permuted masks from the flattened array (``take`` without an
    # axis), which fails for masks such as these: the rule is its images', checked here on them
    images, masks = data
    one_hot = np.eye(5, dtype=np.float32)[masks[..., 0]]
    layer = L.MixUp(alpha=0.5, seed=0)
    out = layer({"images": images, "segmentation_masks": one_hot, "labels": np.eye(3, dtype=np.float32)})
    w = layer._drawn["mix_weight"].astype(np.float32)[:, None, None, None]
    p = layer._drawn["permutation_order"]
    np.testing.assert_allclose(out["segmentation_masks"], w * one_hot + (1 - w) * one_hot[p], atol=1e-6)
    np.testing.assert_allclose(out["images"], w * images + (1 - w) * images[p], atol=1e-6)
    same = layer({"images": images, "segmentation_masks": images})
    np.testing.assert_allclose(same["segmentation_masks"], same["images"], atol=1e-6)


def test_cutmix_masks_match_keras_given_the_same_draws(data):
    keras = _keras()
    images, masks = data
    layer = L.CutMix(seed=2)
    out = layer({"images": images, "segmentation_masks": masks})
    expected = keras.layers.CutMix().transform_segmentation_masks(masks, {
        "permutation_order": layer._drawn["permutation_order"], "batch_masks": layer._inside})
    np.testing.assert_array_equal(out["segmentation_masks"], np.asarray(expected))


SHARED_DRAWS = [
    lambda: L.RandomFlip(seed=0),
    lambda: L.RandomRotation(0.2, interpolation="nearest", fill_mode="constant", fill_value=0.5, seed=0),
    lambda: L.RandomTranslation(0.3, 0.3, interpolation="nearest", seed=0),
    lambda: L.RandomZoom(0.5, interpolation="nearest", fill_mode="wrap", seed=0),
    lambda: L.RandomShear(0.5, 0.5, interpolation="nearest", fill_mode="constant", seed=0),
    lambda: L.RandomPerspective(factor=(1, 1), scale=0.8, interpolation="nearest", seed=0),
    lambda: L.RandomElasticTransform(factor=(1, 1), interpolation="nearest", fill_mode="constant", value_range=(-9, 9),
                                     seed=0),
    lambda: L.RandomCrop(4, 4, seed=0),
    lambda: L.CutMix(seed=0),
    lambda: L.Pipeline([L.Rescaling(1.0), L.RandomFlip(), L.RandomRotation(0.3, interpolation="nearest")], seed=0),
]


@pytest.mark.parametrize("make", SHARED_DRAWS, ids=lambda m: type(m()).__name__)
def test_the_masks_move_with_the_images_of_the_same_call(make, data):
    # masks holding the images themselves, sampled "nearest" by the layer too, come out as the
    # images do: the same draws, the same pixels read (and a second call draws anew for both)
    images, _ = data
    images = np.random.default_rng(1).normal(size=(6, 24, 24, 1)).astype(np.float32)
    layer = make()
    first = layer({"images": images, "segmentation_masks": images})
    second = layer({"images": images, "segmentation_masks": images})
    for out in (first, second):
        np.testing.assert_array_equal(out["segmentation_masks"], out["images"])
    assert not np.array_equal(first["images"], second["images"])


def test_rand_augment_moves_the_masks_by_its_geometric_picks():
    # its geometric picks (shear, translation, rotation) move the masks as the images, the others
    # leave them: masks equal to the images follow them through a batch of geometric picks only
    images = np.random.default_rng(1).uniform(0, 1, (4, 16, 16, 1)).astype(np.float32)
    layer = L.RandAugment(value_range=(0, 1), num_ops=2, interpolation="nearest", seed=0)
    geometric = (L.RandomShear, L.RandomTranslation, L.RandomRotation)
    seen = set()
    for _ in range(60):
        out = layer({"images": images, "segmentation_masks": images})
        kinds = {isinstance(op, geometric) for op in layer.applied}
        if kinds == {True}:
            np.testing.assert_array_equal(out["segmentation_masks"], out["images"])
        elif kinds == {False}:
            np.testing.assert_array_equal(out["segmentation_masks"], images)
        seen.add(frozenset(kinds))
    assert {frozenset({True}), frozenset({False})} <= seen


PIXEL_VALUE = [
    lambda: L.RandomBrightness(0.3, value_range=(0, 1)), lambda: L.RandomContrast(0.5, value_range=(0, 1)),
    lambda: L.RandomGaussianBlur(value_range=(0, 1)), lambda: L.RandomSharpness(0.5, value_range=(0, 1)),
    lambda: L.RandomErasing(factor=(1, 1), value_range=(0, 1)), lambda: L.RandomGrayscale(factor=1.0),
    lambda: L.RandomInvert(value_range=(0, 1)), lambda: L.Solarization(value_range=(0, 1)),
    lambda: L.RandomPosterization(4, value_range=(0, 1)), lambda: L.AutoContrast(value_range=(0, 1)),
    lambda: L.Equalization(value_range=(0, 1)),
    lambda: L.ContrastLimitedAdaptiveHistogramEqualization(value_range=(0, 1)),
    lambda: L.RandomColorJitter(value_range=(0, 1), brightness_factor=0.2, hue_factor=0.2),
    lambda: L.RandomSaturation(0.5, value_range=(0, 1)), lambda: L.RandomHue(0.5, value_range=(0, 1)),
    lambda: L.RandomColorDegeneration(0.5, value_range=(0, 1)),
    lambda: L.AugMix(value_range=(0, 1), all_ops=False, seed=0),
    lambda: L.RandomElasticTransform(factor=(0, 0), value_range=(0, 1)),
]


@pytest.mark.parametrize("make", PIXEL_VALUE, ids=lambda m: type(m()).__name__)
def test_pixel_value_layers_pass_masks_and_labels_through(make):
    # Keras 3.15's rule for these: transform_segmentation_masks returns the masks (and labels)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (2, 8, 8, 3)).astype(np.float32)
    masks = rng.integers(0, 4, (2, 8, 8, 1))
    labels = np.array([1, 0])
    layer = make()
    if isinstance(layer, L.AugMix):        # it mixes the masks: floats, and only without geometric picks
        layer = L.AugMix(value_range=(0, 1), seed=0)
        for chain in layer.chains:
            for step in chain:
                for op in step[:3]:        # shear, translation, rotation: pinned to nothing
                    op.x_factor = op.y_factor = (0.0, 0.0) if hasattr(op, "x_factor") else None
                    if hasattr(op, "height_factor"):
                        op.height_factor = op.width_factor = (0.0, 0.0)
                    if hasattr(op, "factor") and type(op).__name__ == "RandomRotation":
                        op.factor = (0.0, 0.0)
        one_hot = np.eye(4, dtype=np.float32)[masks[..., 0]]
        out = layer({"images": images, "segmentation_masks": one_hot, "labels": labels})
        np.testing.assert_allclose(out["segmentation_masks"], one_hot, atol=1e-6)    # a blend of equal masks
    else:
        out = layer({"images": images, "segmentation_masks": masks, "labels": labels})
        np.testing.assert_array_equal(out["segmentation_masks"], masks)
        np.testing.assert_array_equal(out["images"], layer(images, training=False) if not hasattr(layer, "_drawn")
                                      else out["images"])
    assert out["labels"] is labels


@pytest.mark.parametrize("make", SHARED_DRAWS[:8], ids=lambda m: type(m()).__name__)
def test_outside_training_masks_pass_as_the_images(make, data):
    images, masks = data
    layer = make()
    out = layer({"images": images, "segmentation_masks": masks}, training=False)
    if isinstance(layer, L.RandomCrop):       # inference resizes to the window: the masks nearest
        assert out["segmentation_masks"].shape == (3, 4, 4, 1)
        assert set(np.unique(out["segmentation_masks"])) <= set(np.unique(masks))
    else:
        np.testing.assert_array_equal(out["images"], images)
        np.testing.assert_array_equal(out["segmentation_masks"], masks)


def test_mixing_labels_and_masks_in_a_pipeline(data):
    images, masks = data
    one_hot = np.eye(5, dtype=np.float32)[masks[..., 0]]
    pipeline = L.Pipeline([L.RandomFlip("horizontal"), L.MixUp()], seed=0)
    out = pipeline({"images": images, "segmentation_masks": one_hot, "labels": np.eye(3, dtype=np.float32)})
    mix = pipeline.layers[1]._drawn
    flipped = pipeline.layers[0]._transform_masks(one_hot)
    w = mix["mix_weight"].astype(np.float32)[:, None, None, None]
    np.testing.assert_allclose(out["segmentation_masks"], w * flipped + (1 - w) * flipped[mix["permutation_order"]],
                               atol=1e-6)
    np.testing.assert_allclose(out["labels"].sum(axis=1), 1, atol=1e-6)


@pytest.mark.parametrize("call,error,message", [
    (lambda x, m: L.RandomRotation(0.1)({"images": x, "bounding_boxes": {"boxes": np.zeros((3, 1, 4))}}), ValueError,
     r"^RandomRotation: bounding_box_format: needed with 'bounding_boxes'"),     # (tests/test_bounding_boxes_layers.py)
    (lambda x, m: L.RandomElasticTransform()({"images": x, "bounding_boxes": {"boxes": np.zeros((3, 1, 4))}}), ValueError,
     r"^RandomElasticTransform: a dict input takes the keys 'images' and, optionally, 'labels' and 'segmentation_masks', "
     r"got \['bounding_boxes', 'images'\]; RandomElasticTransform does not move bounding_boxes in glassnet"),
    (lambda x, m: L.Resizing(2, 2)({"images": x, "masks": m}), ValueError, r"^Resizing: a dict input .*'masks' is not one"),
    (lambda x, m: L.RandomFlip()({"segmentation_masks": m}), ValueError, r"^RandomFlip: .*'images' is missing"),
    (lambda x, m: L.RandomFlip()({"images": x, "segmentation_masks": m[..., 0]}), ValueError,
     r"^RandomFlip: segmentation_masks must be \(batch, height, width, channels\) .*masks\[\.\.\., None\]"),
    (lambda x, m: L.RandomFlip()({"images": x, "segmentation_masks": m[:2]}), ValueError,
     r"^RandomFlip: segmentation_masks must be .*\(3, 7, 9\), got shape \(2, 7, 9, 1\)"),
    (lambda x, m: L.RandomFlip()({"images": x, "segmentation_masks": m.astype(str)}), TypeError,
     r"^RandomFlip: segmentation_masks must be numbers"),
    (lambda x, m: L.Pipeline([L.RandomFlip(), L.Conv2D(2, 3)])({"images": x, "segmentation_masks": m}), ValueError,
     r"^Pipeline: its layer .*Conv2D.* does not take segmentation_masks"),
    (lambda x, m: L.MixUp()({"images": x, "segmentation_masks": m}), TypeError,
     r"^MixUp: segmentation_masks must be floats to be mixed"),
], ids=["boxes-no-format", "boxes-elastic", "other-key", "no-images", "no-channels", "batch", "strings",
        "conv-in-pipeline", "mixup-ids"])
def test_refusals_name_the_key(call, error, message, data):
    with pytest.raises(error, match=message):
        call(*data)


def test_in_a_model_the_layers_take_arrays_only(data):
    images, masks = data
    inputs = gn.Input((7, 9, 2))
    with pytest.raises(TypeError, match=r"^RandomRotation: the dict form is for data, not for a model's tensors"):
        L.RandomRotation(0.1)({"images": inputs})
    model = gn.Sequential([gn.Input((7, 9, 2)), L.RandomRotation(0.1), L.Flatten(), L.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    model.fit(images, np.zeros((3, 1)), epochs=1, verbose=0)
    assert model.predict(images, verbose=0).shape == (3, 1)
