"""Bounding boxes through the image layers (Keras' dict form with ``bounding_box_format``,
layers/box_moves.py) against Keras 3.15's ``transform_bounding_boxes``, given the same
transformation (pinned factors, or glassnet's draws handed to Keras), in every format; the boxes'
consistency with the images' own pixels (a box drawn as a mask lands where the box goes); inference;
configs; the refusals. Boxes are data, not weights: nothing here is differentiated."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L

bb = gn.utils.bounding_boxes
FORMATS = bb.SUPPORTED_FORMATS
H, W = 24, 32                      # the images' height and width (not square: x and y differ)


def _data(rng, n=3, count=5, fmt="xyxy", size=(H, W)):
    """Images (n, H, W, 2) and boxes (n, count, 4) in ``fmt``, inside the image, labels 0..."""
    h, w = size
    corner = rng.uniform(0, 1, (n, count, 2)) * [w * 0.7, h * 0.7]
    extent = rng.uniform(0.1, 0.3, (n, count, 2)) * [w, h]
    xyxy = np.concatenate([corner, corner + extent], -1).astype("float32")
    boxes = bb.convert_format(xyxy, "xyxy", fmt, height=h, width=w)
    labels = np.tile(np.arange(count), (n, 1))
    images = rng.uniform(0, 1, (n, h, w, 2)).astype("float32")
    return images, {"boxes": boxes, "labels": labels}


def _keras_boxes(layer, images, boxes):
    """Keras' layer called on the dict form (fresh copies: Keras writes into the dict it gets)."""
    out = layer({"images": images.copy(), "bounding_boxes": {k: v.copy() for k, v in boxes.items()}})
    return np.asarray(out["images"]), {k: np.asarray(v) for k, v in out["bounding_boxes"].items()}


def _same(ours, theirs, atol=1e-5):
    assert ours["boxes"].dtype == np.float32
    np.testing.assert_allclose(ours["boxes"], theirs["boxes"], rtol=1e-5, atol=atol)
    np.testing.assert_array_equal(ours["labels"], theirs["labels"])


# ---------------------------------------------------------------- against Keras 3.15

RESIZES = [{}, {"crop_to_aspect_ratio": True}, {"pad_to_aspect_ratio": True}]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("arguments", RESIZES, ids=["stretch", "crop", "pad"])
@pytest.mark.parametrize("size", [(12, 20), (30, 15)])
def test_resizing_boxes_equal_keras(keras, rng, fmt, arguments, size):
    images, boxes = _data(rng, fmt=fmt)
    boxes["boxes"][0, 0] = 0                     # a padding box: Keras' Resizing gives it 0s and the label -1
    k_images, theirs = _keras_boxes(keras.layers.Resizing(*size, bounding_box_format=fmt, **arguments), images, boxes)
    out = L.Resizing(*size, bounding_box_format=fmt, **arguments)({"images": images, "bounding_boxes": boxes})
    np.testing.assert_allclose(out["images"], k_images, atol=2e-5)
    _same(out["bounding_boxes"], theirs)
    assert out["bounding_boxes"]["labels"][0, 0] == -1


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("size", [(10, 14), (30, 40)], ids=["crop", "resize"])
def test_center_crop_boxes_equal_keras(keras, rng, fmt, size):
    images, boxes = _data(rng, fmt=fmt)
    k_images, theirs = _keras_boxes(keras.layers.CenterCrop(*size, bounding_box_format=fmt), images, boxes)
    out = L.CenterCrop(*size, bounding_box_format=fmt)({"images": images, "bounding_boxes": boxes})
    np.testing.assert_allclose(out["images"], k_images, atol=2e-5)
    _same(out["bounding_boxes"], theirs)
    assert (out["bounding_boxes"]["labels"] == -1).any() or size == (30, 40)     # some boxes cut away


def _to_xyxy(boxes, fmt, size):
    return {**boxes, "boxes": bb.convert_format(boxes["boxes"], fmt, "xyxy", *size)}


def _from_xyxy(boxes, fmt, size):
    return {**boxes, "boxes": bb.convert_format(np.asarray(boxes["boxes"]), "xyxy", fmt, *size)}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
def test_flip_boxes_equal_keras_given_the_same_flips(keras, rng, fmt, mode):
    images, boxes = _data(rng, n=8, fmt=fmt)
    layer = L.RandomFlip(mode, seed=2, bounding_box_format=fmt)
    out = layer({"images": images, "bounding_boxes": boxes})
    expected = {k: v.copy() for k, v in boxes.items()}
    for axis, flips in layer._flips:     # glassnet draws each axis on its own: Keras' flip given each
        theirs = keras.layers.RandomFlip("horizontal" if axis == 2 else "vertical", bounding_box_format=fmt)
        expected = theirs.transform_bounding_boxes(expected, {"flips": flips[:, None, None, None],
                                                              "input_shape": images.shape})
        expected = {k: np.asarray(v) for k, v in expected.items()}
        assert flips.any() and not flips.all()
    _same(out["bounding_boxes"], expected)


AFFINE = [
    ("translation", lambda m, **a: m.RandomTranslation((0.2, 0.2), (-0.15, -0.15), **a)),
    ("zoom_in", lambda m, **a: m.RandomZoom((-0.3, -0.3), (-0.2, -0.2), **a)),
    ("zoom_out", lambda m, **a: m.RandomZoom((0.4, 0.4), **a)),
    ("rotation", lambda m, **a: m.RandomRotation((0.07, 0.07), **a)),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name, make", AFFINE, ids=[a[0] for a in AFFINE])
def test_affine_boxes_equal_keras_for_pinned_factors(keras, rng, name, make, fmt):
    images, boxes = _data(rng, fmt=fmt)
    out = make(L, bounding_box_format=fmt, seed=0)({"images": images, "bounding_boxes": boxes})
    if name == "rotation":
        # Keras 3.15's RandomRotation moves the boxes as "xyxy" whatever their format (it skips the
        # conversion in): Keras given "xyxy" boxes, its output converted to the format
        k_images, theirs = _keras_boxes(make(keras.layers, bounding_box_format="xyxy"), images,
                                        _to_xyxy(boxes, fmt, (H, W)))
        theirs = _from_xyxy(theirs, fmt, (H, W))
    else:
        k_images, theirs = _keras_boxes(make(keras.layers, bounding_box_format=fmt), images, boxes)
    np.testing.assert_allclose(out["images"], k_images, atol=2e-5)
    _same(out["bounding_boxes"], theirs)


@pytest.mark.parametrize("axis", ["x", "y"])
def test_shear_boxes_equal_keras_given_the_same_shears(keras, rng, axis):
    # Keras 3.15 shears the boxes in "rel_xyxy" (right for square images only) and one axis after
    # the other (right when one of the two shears is 0): compared where both hold
    images, boxes = _data(rng, n=6, size=(W, W))
    factors = {"x_factor": (0.3, 0.3)} if axis == "x" else {"y_factor": (0.25, 0.25)}
    layer = L.RandomShear(**factors, seed=1, bounding_box_format="xyxy")
    out = layer({"images": images, "bounding_boxes": boxes})
    theirs = keras.layers.RandomShear(**factors, bounding_box_format="xyxy")
    expected = theirs.transform_bounding_boxes(
        {k: v.copy() for k, v in boxes.items()},
        {"shear_factor": layer._drawn["shear_factor"].astype("float32"), "input_shape": images.shape})
    signs = np.sign(layer._drawn["shear_factor"][:, 0 if axis == "x" else 1])
    assert (signs > 0).any() and (signs < 0).any()
    _same(out["bounding_boxes"], {k: np.asarray(v) for k, v in expected.items()})


@pytest.mark.parametrize("fmt", ["xyxy", "center_xywh"])
def test_perspective_boxes_equal_keras_given_the_same_draws(keras, rng, fmt):
    # Keras 3.15's RandomPerspective returns its boxes in "xyxy" whatever the format: compared there
    images, boxes = _data(rng, n=6, fmt=fmt)
    layer = L.RandomPerspective(0.8, 0.5, seed=3, bounding_box_format=fmt)
    out = layer({"images": images, "bounding_boxes": boxes})
    drawn = layer._drawn
    assert drawn["apply_perspective"].any() and not drawn["apply_perspective"].all()
    theirs = keras.layers.RandomPerspective(bounding_box_format=fmt).transform_bounding_boxes(
        {k: v.copy() for k, v in boxes.items()},
        {"apply_perspective": drawn["apply_perspective"], "start_points": drawn["start_points"].astype("float32"),
         "end_points": drawn["end_points"].astype("float32"), "input_shape": images.shape})
    _same(_to_xyxy(out["bounding_boxes"], fmt, (H, W)), {k: np.asarray(v) for k, v in theirs.items()})


def test_random_crop_boxes_equal_keras_at_each_images_window(keras, rng):
    # Keras 3.15 draws one window a batch and, in its boxes, subtracts the top from x and the left
    # from y, clipping nothing at the far sides: Keras given (left, top) for each image, then clipped
    images, boxes = _data(rng, n=4)
    layer = L.RandomCrop(14, 18, seed=3, bounding_box_format="xyxy")
    out = layer({"images": images, "bounding_boxes": boxes})
    tops, lefts = layer._window[1][:, 0, 0], layer._window[2][:, 0, 0]
    theirs = keras.layers.RandomCrop(14, 18, bounding_box_format="xyxy")
    assert len(set(tops.tolist())) > 1
    for i in range(4):
        one = {k: v[i:i + 1].copy() for k, v in boxes.items()}
        moved = theirs.transform_bounding_boxes(one, (int(lefts[i]), int(tops[i])))
        expected = bb.clip_to_image_size({k: np.asarray(v) for k, v in moved.items()}, height=14, width=18)
        _same({k: v[i:i + 1] for k, v in out["bounding_boxes"].items()}, expected)


@pytest.mark.parametrize("make", [
    lambda m, **a: m.RandomBrightness(0.3, **a), lambda m, **a: m.RandomContrast(0.3, **a),
    lambda m, **a: m.RandomHue(0.3, value_range=(0, 1), **a), lambda m, **a: m.RandomSaturation(0.3, value_range=(0, 1), **a),
    lambda m, **a: m.RandomGrayscale(1.0, **a), lambda m, **a: m.RandomInvert(1.0, value_range=(0, 1), **a),
    lambda m, **a: m.Solarization(0.5, value_range=(0, 1), **a), lambda m, **a: m.RandomPosterization(3, value_range=(0, 1), **a),
    lambda m, **a: m.RandomColorDegeneration(0.5, **a), lambda m, **a: m.AutoContrast(value_range=(0, 1), **a),
    lambda m, **a: m.Equalization(value_range=(0, 1), **a), lambda m, **a: m.RandomGaussianBlur(1.0, **a),
    lambda m, **a: m.RandomSharpness(0.5, value_range=(0, 1), **a), lambda m, **a: m.RandomErasing(1.0, value_range=(0, 1), **a),
    lambda m, **a: m.RandomColorJitter(value_range=(0, 1), brightness_factor=0.2, hue_factor=0.1, **a),
])
def test_pixel_value_layers_pass_boxes_through_as_keras(keras, rng, make):
    images, boxes = _data(rng, fmt="center_xywh")
    images = np.concatenate([images, images[..., :1]], -1)          # three channels, for the colour ones
    boxes["boxes"] = boxes["boxes"].astype("float64")
    theirs_layer = make(keras.layers, bounding_box_format="center_xywh")
    if isinstance(theirs_layer, keras.layers.RandomGrayscale):
        # Keras 3.15's RandomGrayscale fails on the dict form (its draw reads data.shape): its own
        # transform_bounding_boxes, on the boxes as its call densifies them (float32)
        theirs = theirs_layer.transform_bounding_boxes({**boxes, "boxes": boxes["boxes"].astype("float32")})
    else:
        _, theirs = _keras_boxes(theirs_layer, images, boxes)
    out = make(L, bounding_box_format="center_xywh", seed=0)({"images": images, "bounding_boxes": boxes})
    _same(out["bounding_boxes"], theirs, atol=0)           # as given, float32 (Keras' densify)


@pytest.mark.parametrize("fmt", ["xyxy", "rel_yxyx"])
def test_mixup_joins_each_images_boxes_to_its_partners_as_keras(keras, rng, fmt):
    images, boxes = _data(rng, n=5, count=3, fmt=fmt)
    layer = L.MixUp(seed=0, bounding_box_format=fmt)
    out = layer({"images": images, "bounding_boxes": boxes})
    p = layer._drawn["permutation_order"]
    assert (p != np.arange(5)).any()
    theirs = keras.layers.MixUp(bounding_box_format=fmt).transform_bounding_boxes(
        {k: v.copy() for k, v in boxes.items()}, {"permutation_order": p, "mix_weight": layer._drawn["mix_weight"]})
    np.testing.assert_allclose(out["bounding_boxes"]["boxes"], np.asarray(theirs["boxes"]), rtol=1e-5, atol=1e-5)
    assert out["bounding_boxes"]["boxes"].shape == (5, 6, 4)
    # Keras 3.15 joins the labels along the batch axis (10, 3), against its boxes: here along the boxes'
    np.testing.assert_array_equal(out["bounding_boxes"]["labels"], np.concatenate([boxes["labels"], boxes["labels"][p]], 1))
    unmixed = layer({"images": images, "bounding_boxes": boxes}, training=False)
    assert unmixed["bounding_boxes"]["boxes"].shape == (5, 3, 4)


@pytest.mark.parametrize("fmt", ["xyxy", "rel_center_xywh"])
def test_pipeline_moves_the_boxes_through_its_layers_as_keras(keras, rng, fmt):
    # each layer in its own format, in turn (Keras' Pipeline hands the dict on): pinned draws
    images, boxes = _data(rng, fmt=fmt)

    def make(m):
        return m.Pipeline([m.Resizing(30, 36, bounding_box_format=fmt),
                           m.RandomTranslation((0.1, 0.1), (-0.2, -0.2), bounding_box_format=fmt),
                           m.CenterCrop(20, 30, bounding_box_format=fmt), m.RandomBrightness(0.2, bounding_box_format=fmt)])
    k_images, theirs = _keras_boxes(make(keras.layers), images, boxes)
    out = make(L)({"images": images, "bounding_boxes": boxes})
    assert out["images"].shape == k_images.shape == (3, 20, 30, 2)
    _same(out["bounding_boxes"], theirs)


def test_pipeline_refuses_a_layer_that_cannot_move_boxes(rng):
    images, boxes = _data(rng)
    pipeline = L.Pipeline([L.RandomFlip(bounding_box_format="xyxy"), L.Conv2D(2, 3)], seed=0)
    with pytest.raises(ValueError, match=r"^Pipeline: .*Conv2D.* does not move bounding_boxes"):
        pipeline({"images": images, "bounding_boxes": boxes})


# ---------------------------------------------------------------- the boxes go where the pixels go

def _box_mask(boxes, size):
    """A mask (n, H, W, 1), 1 on the pixels inside each image's first box (whole pixels)."""
    h, w = size
    ys, xs = np.arange(h)[:, None] + 0.5, np.arange(w)[None, :] + 0.5
    x1, y1, x2, y2 = (boxes[:, 0, i, None, None] for i in range(4))
    return ((xs > x1) & (xs < x2) & (ys > y1) & (ys < y2)).astype("float32")[..., None]


@pytest.mark.parametrize("make", [
    lambda: L.RandomFlip(seed=4, bounding_box_format="xyxy"),
    lambda: L.RandomCrop(15, 20, seed=4, bounding_box_format="xyxy"),
    lambda: L.CenterCrop(16, 12, bounding_box_format="xyxy"),
    lambda: L.Resizing(48, 64, interpolation="nearest", bounding_box_format="xyxy"),
], ids=["flip", "random_crop", "center_crop", "resizing"])
def test_boxes_enclose_the_pixels_moved_with_them(rng, make):
    # whole-pixel boxes drawn as masks: the moved masks' pixels are the moved boxes' (per image draws)
    images, boxes = _data(rng, n=6, count=1)
    boxes["boxes"] = np.round(boxes["boxes"])
    layer = make()
    out = layer({"images": images, "bounding_boxes": boxes, "segmentation_masks": _box_mask(boxes["boxes"], (H, W))})
    size = out["images"].shape[1:3]
    np.testing.assert_array_equal(out["segmentation_masks"], _box_mask(out["bounding_boxes"]["boxes"], size))


@pytest.mark.parametrize("make", [lambda **a: L.RandomTranslation(0.3, 0.3, **a), lambda **a: L.RandomRotation(0.2, **a),
                                  lambda **a: L.RandomZoom(0.4, 0.3, **a), lambda **a: L.RandomShear(0.3, 0.3, **a),
                                  lambda fill_mode, **a: L.RandomPerspective((1, 1), 0.6, **a)],
                         ids=["translation", "rotation", "zoom", "shear", "perspective"])
def test_affine_boxes_move_the_corners_as_the_images(rng, make):
    # an image that is 1 at one pixel only: its bright output pixels lie inside the moved box of it
    n = 8
    images = np.zeros((n, H, W, 1), "float32")
    ys, xs = rng.integers(8, H - 8, n), rng.integers(8, W - 8, n)
    images[np.arange(n), ys, xs] = 1
    point = np.stack([xs, ys, xs, ys], -1)[:, None].astype("float32")
    out = make(seed=5, fill_mode="constant", bounding_box_format="xyxy")(
        {"images": images, "bounding_boxes": {"boxes": point + [-1, -1, 1, 1], "labels": np.zeros((n, 1), int)}})
    for i in range(n):
        rows, cols = np.nonzero(out["images"][i, :, :, 0] > 1e-6)
        x1, y1, x2, y2 = out["bounding_boxes"]["boxes"][i, 0]
        assert cols.size and (cols >= x1 - 1e-4).all() and (cols <= x2 + 1e-4).all()
        assert (rows >= y1 - 1e-4).all() and (rows <= y2 + 1e-4).all()


def test_outside_training_random_layers_pass_boxes_through(rng):
    images, boxes = _data(rng, fmt="rel_yxyx")
    for layer in (L.RandomFlip(bounding_box_format="rel_yxyx"), L.RandomRotation(0.3, bounding_box_format="rel_yxyx")):
        out = layer({"images": images, "bounding_boxes": boxes}, training=False)
        np.testing.assert_array_equal(out["bounding_boxes"]["boxes"], boxes["boxes"])
        np.testing.assert_array_equal(out["images"], images)


def test_channels_first_moves_the_boxes_as_channels_last(rng):
    images, boxes = _data(rng, fmt="xywh")
    for make in (lambda **a: L.RandomZoom(0.3, seed=6, bounding_box_format="xywh", **a),
                 lambda **a: L.Resizing(10, 30, pad_to_aspect_ratio=True, bounding_box_format="xywh", **a)):
        last = make()({"images": images, "bounding_boxes": boxes})
        first = make(data_format="channels_first")({"images": images.transpose(0, 3, 1, 2), "bounding_boxes": boxes})
        np.testing.assert_array_equal(first["bounding_boxes"]["boxes"], last["bounding_boxes"]["boxes"])


def test_configs_keep_the_format_and_round_trip():
    layer = L.RandomRotation(0.1, bounding_box_format="CENTER_XYWH", seed=1)
    config = layer.get_config()
    assert config["bounding_box_format"] == "center_xywh"
    assert L.RandomRotation.from_config(config).bounding_box_format == "center_xywh"
    assert "bounding_box_format" not in L.Resizing(3, 3).get_config()      # Keras' config leaves None out


@pytest.mark.parametrize("call, error, match", [
    (lambda d: L.RandomFlip()(d), ValueError, r"RandomFlip: bounding_box_format: needed"),
    (lambda d: L.RandomColorJitter(brightness_factor=0.2)(d), ValueError, r"^RandomColorJitter: bounding_box_format: needed"),
    (lambda d: L.RandomElasticTransform(bounding_box_format="xyxy"), TypeError,
     r"RandomElasticTransform: bounding_box_format: not taken"),
    (lambda d: L.RandomFlip(bounding_box_format="xxyy"), ValueError, r"RandomFlip: bounding_box_format"),
    (lambda d: L.CutMix()(d), ValueError, r"CutMix does not move bounding_boxes"),
    (lambda d: L.CutMix(bounding_box_format="xyxy"), TypeError, r"CutMix: bounding_box_format: not taken"),
    (lambda d: L.RandomFlip(bounding_box_format="xyxy")({**d, "bounding_boxes": {"boxes": d["bounding_boxes"]["boxes"]}}),
     ValueError, r"keys 'boxes' and 'labels'"),
    (lambda d: L.RandomFlip(bounding_box_format="xyxy")({**d, "bounding_boxes": {"boxes": np.zeros((3, 4)), "labels": np.zeros(3)}}),
     ValueError, r"boxes \(3, num_boxes, 4\)"),
])
def test_refusals_name_the_argument(rng, call, error, match):
    images, boxes = _data(rng)
    with pytest.raises(error, match=match):
        call({"images": images, "bounding_boxes": boxes})


def test_a_refused_call_draws_nothing(rng):
    images, boxes = _data(rng)
    layer, twin = L.RandomRotation(0.2, seed=7, bounding_box_format="xyxy"), L.RandomRotation(0.2, seed=7)
    with pytest.raises(ValueError):
        layer({"images": images, "bounding_boxes": {"boxes": boxes["boxes"][:1], "labels": boxes["labels"][:1]}})
    np.testing.assert_array_equal(layer({"images": images, "bounding_boxes": boxes})["images"], twin(images, training=True))


def test_keras_files_keep_the_format_both_ways(keras, tmp_path):
    model = keras.Sequential([keras.Input((8, 10, 3)), keras.layers.RandomFlip(bounding_box_format="xyxy"),
                              keras.layers.Resizing(4, 5, bounding_box_format="rel_xyxy")])
    model.save(tmp_path / "k.keras")
    ours = gn.load_model(str(tmp_path / "k.keras"))
    assert [layer.bounding_box_format for layer in ours.layers] == ["xyxy", "rel_xyxy"]
    ours.save(str(tmp_path / "g.keras"), save_format="keras")
    theirs = keras.saving.load_model(tmp_path / "g.keras")
    assert [layer.bounding_box_format for layer in theirs.layers] == ["xyxy", "rel_xyxy"]


def test_rand_augment_moves_the_boxes_by_its_picks_as_keras(keras, rng):
    # pinned factors make Keras' translation and rotation draws certain; Keras' RandAugment moves the
    # boxes once per operation in its own order (not the picks'): compared on picks of one geometric
    # operation (not the shear, whose sign is drawn), the others' boxes passing as they are; in
    # "xyxy", the only format Keras 3.15's rotation reads right
    images, boxes = _data(rng)
    images = images[..., :1] * 255
    theirs = keras.layers.RandAugment(value_range=(0, 255), num_ops=2, factor=(0.3, 0.3),
                                      bounding_box_format="xyxy")
    names = [name for name in theirs._AUGMENT_LAYERS]
    compared = 0
    for seed in range(40):
        layer = L.RandAugment(value_range=(0, 255), num_ops=2, factor=(0.3, 0.3), seed=seed,
                              bounding_box_format="xyxy")
        out = layer({"images": images, "bounding_boxes": boxes})
        picks = layer._drawn["layer_idxes"]
        geometric = [p for p in picks if p in (1, 2)]
        if 0 in picks or len(set(picks)) != 2 or len(geometric) != 1:
            continue
        transforms = {name: getattr(theirs, name).get_random_transformation(images, training=True) for name in names}
        expected = theirs.transform_bounding_boxes({k: v.copy() for k, v in boxes.items()},
                                                   {"layer_idxes": np.asarray(picks), "transforms": transforms})
        _same(out["bounding_boxes"], {k: np.asarray(v) for k, v in expected.items()})
        compared += 1
        if compared == 3:
            break
    assert compared == 3
    inference = L.RandAugment(bounding_box_format="xyxy")({"images": images, "bounding_boxes": boxes}, training=False)
    np.testing.assert_array_equal(inference["bounding_boxes"]["boxes"], boxes["boxes"])


def test_rand_augment_boxes_follow_its_masks(rng):
    # a single-pixel mask moved by the picked operations ("nearest") stays inside its moved box
    n = 6
    images = rng.uniform(0, 255, (n, H, W, 3)).astype("float32")
    masks = np.zeros((n, H, W, 1), "float32")
    ys, xs = rng.integers(8, H - 8, n), rng.integers(8, W - 8, n)
    masks[np.arange(n), ys, xs] = 1
    point = np.stack([xs, ys, xs, ys], -1)[:, None].astype("float32")
    for seed in range(6):
        layer = L.RandAugment(num_ops=3, factor=0.3, seed=seed, bounding_box_format="xyxy")
        out = layer({"images": images, "segmentation_masks": masks,
                     "bounding_boxes": {"boxes": point + [-1, -1, 1, 1], "labels": np.zeros((n, 1), int)}})
        for i in range(n):
            rows, cols = np.nonzero(out["segmentation_masks"][i, :, :, 0])
            x1, y1, x2, y2 = out["bounding_boxes"]["boxes"][i, 0]
            assert ((cols >= x1 - 1e-4) & (cols <= x2 + 1e-4) & (rows >= y1 - 1e-4) & (rows <= y2 + 1e-4)).all()
