"""glassnet.bounding_boxes (Keras' keras.utils.bounding_boxes) and glassnet.visualization against Keras
3.15 on fuzzed boxes, images and masks; the drawing of boxes (OpenCV in Keras, absent here) against
rectangles laid out by hand; the galleries written with the Agg canvas. These are not differentiable
functions (Keras' are not used under a gradient either), so there is no gradient to check."""
import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn

bb = gn.utils.bounding_boxes
vis = gn.visualization
FORMATS = bb.SUPPORTED_FORMATS


def _xyxy(rng, shape, high=50.0):
    """Boxes (..., 4) with x1 < x2, y1 < y2, some poking out of a 60 x 80 image."""
    corner = rng.uniform(-10, high, shape + (2,))
    size = rng.uniform(0.5, 40, shape + (2,))
    return np.concatenate([corner, corner + size], -1).astype("float32")


def _close(ours, theirs, rtol=1e-5, atol=1e-5):
    theirs = np.asarray(theirs)
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


# ---------------------------------------------------------------- against Keras 3.15

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_convert_format_every_pair_equals_keras(keras, rng, dtype):
    boxes = rng.uniform(-20, 120, (3, 5, 4)).astype("float32")
    for source in FORMATS:
        for target in FORMATS:
            ours = bb.convert_format(boxes, source, target, height=60, width=80, dtype=dtype)
            theirs = keras.utils.bounding_boxes.convert_format(boxes.copy(), source, target, height=60, width=80,
                                                               dtype=dtype)
            _close(ours, theirs, rtol=1e-6 if dtype == "float32" else 1e-12, atol=0)


def test_convert_format_dict_form_and_case_as_keras(keras, rng):
    boxes = _xyxy(rng, (4,))
    labels = np.arange(4)
    given = {"boxes": boxes, "labels": labels}
    ours = bb.convert_format(given, "XYXY", "Center_YXHW")
    theirs = keras.utils.bounding_boxes.convert_format({"boxes": boxes, "labels": labels}, "XYXY", "Center_YXHW")
    _close(ours["boxes"], theirs["boxes"], atol=0)
    assert ours["labels"] is labels
    assert given["boxes"] is boxes          # a new dict: the caller's is left alone (Keras writes into it)


@pytest.mark.parametrize("fmt", ["xyxy", "rel_xyxy"])
def test_clip_to_image_size_equals_keras(keras, rng, fmt):
    boxes = _xyxy(rng, (2, 7), high=70)
    if fmt == "rel_xyxy":
        boxes = boxes / np.float32(60)
    boxes[0, 0] = [70, 70, 90, 90] if fmt == "xyxy" else [1.2, 0.1, 1.5, 0.3]      # wholly outside: label -1
    labels = rng.integers(0, 5, (2, 7)).astype("int32")
    ours = bb.clip_to_image_size({"boxes": boxes, "labels": labels}, height=60, width=80, bounding_box_format=fmt)
    theirs = keras.utils.bounding_boxes.clip_to_image_size({"boxes": boxes, "labels": labels}, height=60, width=80,
                                                           bounding_box_format=fmt)
    _close(ours["boxes"], theirs["boxes"], atol=0)
    _close(ours["labels"], theirs["labels"], atol=0)
    assert ours["labels"][0, 0] == -1


def test_crop_and_pad_equal_keras(keras, rng):
    boxes = _xyxy(rng, (3, 6))
    kbb = keras.utils.bounding_boxes
    _close(bb.crop(boxes, 5, 7, 30, 40), kbb.crop(boxes, 5, 7, 30, 40), atol=0)
    _close(bb.pad(boxes, 5, 7), kbb.pad(boxes, 5, 7), atol=0)
    _close(bb.crop(boxes[0], 3.5, 2, 20, 25), kbb.crop(boxes[0], 3.5, 2, 20, 25), atol=0)


def test_affine_transform_equals_keras(keras, rng):
    boxes = _xyxy(rng, (3, 5))
    angle = rng.uniform(-40, 40, 3).astype("float32")
    tx, ty = rng.uniform(-0.3, 0.3, (2, 3)).astype("float32")
    scale = rng.uniform(0.7, 1.3, 3).astype("float32")
    sx, sy = rng.uniform(-15, 15, (2, 3)).astype("float32")
    cx, cy = rng.uniform(0.2, 0.8, (2, 3)).astype("float32")
    for centre in ({}, {"center_x": cx, "center_y": cy}):
        ours = bb.affine_transform(boxes, angle, tx, ty, scale, sx, sy, 60, 80, **centre)
        theirs = keras.utils.bounding_boxes.affine_transform(boxes, angle, tx, ty, scale, sx, sy, 60, 80, **centre)
        _close(ours, theirs, rtol=1e-5, atol=1e-4)      # pixels up to ~200: a few float32 ulps


@pytest.mark.parametrize("shapes", [((6,), (4,)), ((2, 6), (4,)), ((6,), (2, 4)), ((2, 6), (2, 4))])
def test_compute_iou_every_rank_pairing_equals_keras(keras, rng, shapes):
    boxes1, boxes2 = _xyxy(rng, shapes[0]), _xyxy(rng, shapes[1])
    boxes2[..., 0, :] = boxes1.reshape(-1, 4)[0]            # one exact overlap: IoU 1
    kbb = keras.utils.bounding_boxes
    for fmt in ("xyxy", "xywh", "center_yxhw"):
        b1 = bb.convert_format(boxes1, "xyxy", fmt)
        b2 = bb.convert_format(boxes2, "xyxy", fmt)
        _close(bb.compute_iou(b1, b2, fmt), kbb.compute_iou(b1, b2, fmt), rtol=1e-5, atol=1e-6)
    rel1, rel2 = (bb.convert_format(b, "xyxy", "rel_yxyx", height=60, width=80) for b in (boxes1, boxes2))
    _close(bb.compute_iou(rel1, rel2, "rel_yxyx", image_shape=(60, 80, 3)),
           kbb.compute_iou(rel1, rel2, "rel_yxyx", image_shape=(60, 80, 3)), rtol=1e-5, atol=1e-6)


def test_compute_iou_masking_equals_keras(keras, rng):
    boxes1, boxes2 = _xyxy(rng, (2, 5)), _xyxy(rng, (2, 4))
    boxes1[0, 1] = -1
    boxes2[1, 2] = -1
    for mask_val in (-1, 0.5):
        ours = bb.compute_iou(boxes1, boxes2, "xyxy", use_masking=True, mask_val=mask_val)
        theirs = keras.utils.bounding_boxes.compute_iou(boxes1, boxes2, "xyxy", use_masking=True, mask_val=mask_val)
        _close(ours, theirs, rtol=1e-5, atol=1e-6)
        assert (ours[0, 1] == mask_val).all() and (ours[1, :, 2] == mask_val).all()


def test_compute_ciou_equals_keras(keras, rng):
    boxes1, boxes2 = _xyxy(rng, (3, 6)), _xyxy(rng, (3, 6))
    boxes2[0, 0] = boxes1[0, 0]
    for fmt in ("xyxy", "center_xywh"):
        b1, b2 = bb.convert_format(boxes1, "xyxy", fmt), bb.convert_format(boxes2, "xyxy", fmt)
        _close(bb.compute_ciou(b1, b2, fmt), keras.utils.bounding_boxes.compute_ciou(b1, b2, fmt), atol=1e-6)


@pytest.mark.parametrize("encoding", ["center_yxhw", "center_xywh"])
@pytest.mark.parametrize("variance", [None, [0.1, 0.1, 0.2, 0.2]])
def test_box_deltas_equal_keras(keras, rng, encoding, variance):
    anchors, boxes = _xyxy(rng, (6,)) + 20, _xyxy(rng, (2, 6)) + 20
    kbb = keras.utils.bounding_boxes
    rel = bb.convert_format(boxes, "xyxy", "rel_xywh", height=60, width=80)
    kw = dict(variance=variance, image_shape=(60, 80, 3))
    ours = bb.encode_box_to_deltas(anchors, rel, "xyxy", "rel_xywh", encoding, **kw)
    theirs = kbb.encode_box_to_deltas(anchors, rel, "xyxy", "rel_xywh", encoding, **kw)
    _close(ours, theirs, atol=1e-6)
    decoded = bb.decode_deltas_to_boxes(anchors, ours, "xyxy", "yxyx", encoding, **kw)
    _close(decoded, kbb.decode_deltas_to_boxes(anchors, np.asarray(theirs), "xyxy", "yxyx", encoding, **kw),
           rtol=1e-5, atol=1e-4)
    levels = bb.decode_deltas_to_boxes({"p3": anchors}, {"p3": ours}, "xyxy", "xyxy", encoding, **kw)
    klevels = kbb.decode_deltas_to_boxes({"p3": anchors}, {"p3": np.asarray(theirs)}, "xyxy", "xyxy", encoding, **kw)
    _close(levels["p3"], klevels["p3"], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("kwargs", [{}, {"num_classes": 5}, {"blend": False, "num_classes": 4},
                                    {"alpha": 0.3, "ignore_index": 0, "num_classes": 4},
                                    {"num_classes": 2, "color_mapping": {0: (1, 2, 3), 1: (200, 100, 50)}}])
def test_draw_segmentation_masks_equals_keras(keras, rng, kwargs):
    images = rng.uniform(0, 255, (2, 7, 9, 3)).astype("float32")
    masks = rng.integers(-1, 4, (2, 7, 9, 1)).astype("int32")
    ours = vis.draw_segmentation_masks(images, masks, **kwargs)
    _close(ours, keras.visualization.draw_segmentation_masks(images, masks, **kwargs), atol=0)
    # (batch, H, W) masks and channels-first images give the same pixels (Keras needs the trailing 1)
    np.testing.assert_array_equal(vis.draw_segmentation_masks(images, masks[..., 0], **kwargs), ours)
    first = vis.draw_segmentation_masks(images.transpose(0, 3, 1, 2), masks.transpose(0, 3, 1, 2),
                                        data_format="channels_first", **kwargs)
    np.testing.assert_array_equal(first, ours.transpose(0, 3, 1, 2))


# ---------------------------------------------------------------- without Keras

def test_hand_checked_values():
    np.testing.assert_array_equal(bb.convert_format([[10, 20, 30, 40]], "xyxy", "center_xywh"), [[20, 30, 20, 20]])
    np.testing.assert_allclose(bb.convert_format([[10, 20, 30, 40]], "xyxy", "rel_yxyx", height=200, width=100),
                               [[0.1, 0.1, 0.2, 0.3]], rtol=1e-6)
    # two 2x2 squares overlapping on one 1x1 cell: 1 / (4 + 4 - 1)
    np.testing.assert_allclose(bb.compute_iou([[0, 0, 2, 2]], [[1, 1, 3, 3]], "xyxy"), [[1 / 7]], rtol=1e-6)
    np.testing.assert_array_equal(bb.crop(np.array([[10., 20, 50, 60]]), top=10, left=20, height=40, width=30),
                                  [[0, 10, 30, 40]])
    assert bb.crop(np.array([[10., 20, 50, 60]], "float32"), np.int64(1), 2, None, None).dtype == np.float32
    np.testing.assert_array_equal(bb.pad(np.array([[1, 2, 3, 4]]), top=10, left=5), [[6, 12, 8, 14]])
    clipped = bb.clip_to_image_size({"boxes": np.array([[-5., 2, 5, 9], [12, 0, 15, 4]]), "labels": np.array([3, 4])},
                                    height=8, width=10)
    np.testing.assert_array_equal(clipped["boxes"], [[0, 2, 5, 8], [10, 0, 10, 4]])
    np.testing.assert_array_equal(clipped["labels"], [3, -1])
    # a 90-degree turn about the centre of an 11 x 11 image maps its corners onto the corners
    turned = bb.affine_transform(np.array([[[0., 0, 10, 4]]]), 90, 0, 0, 1, 0, 0, 11, 11)
    np.testing.assert_allclose(turned, [[[0, 0, 4, 10]]], atol=1e-4)


def test_deltas_round_trip(rng):
    anchors, boxes = _xyxy(rng, (5,)) + 20, _xyxy(rng, (3, 5)) + 20
    for encoding in ("center_yxhw", "center_xywh"):
        deltas = bb.encode_box_to_deltas(anchors, boxes, "xyxy", "xyxy", encoding, variance=[0.1, 0.1, 0.2, 0.2])
        assert deltas.dtype == np.float32
        np.testing.assert_allclose(bb.decode_deltas_to_boxes(anchors, deltas, "xyxy", "xyxy", encoding,
                                                             variance=[0.1, 0.1, 0.2, 0.2]), boxes, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("call, match", [
    (lambda: bb.convert_format(np.zeros((2, 3)), "xyxy", "xywh"), r"convert_format: boxes: .*\(2, 3\)"),
    (lambda: bb.convert_format(np.zeros((2, 4)), "xyxy", "xxyy"), r"convert_format: target: .*'xxyy'"),
    (lambda: bb.convert_format(np.zeros((2, 4)), "xyxy", "rel_xyxy"), r"height and width .*height=None"),
    (lambda: bb.clip_to_image_size({"boxes": np.zeros((2, 4))}), r"clip_to_image_size: height and width"),
    (lambda: bb.clip_to_image_size({"boxes": np.zeros((2, 4))}, 5, 5, "xywh"),
     r"clip_to_image_size: bounding_box_format: .*'xywh'"),
    (lambda: bb.crop(np.zeros((2, 4)), 1, 1, 5, 5, "yxyx"), r"crop: bounding_box_format"),
    (lambda: bb.affine_transform(np.zeros((2, 4)), 1, 0, 0, 1, 0, 0, 5, 5), r"affine_transform: boxes: .*\(batch"),
    (lambda: bb.affine_transform(np.zeros((2, 3, 4)), [1, 2, 3], 0, 0, 1, 0, 0, 5, 5), r"affine_transform: angle"),
    (lambda: bb.compute_iou(np.zeros((1, 2, 3, 4)), np.zeros((2, 4)), "xyxy"), r"compute_iou: boxes1: .*\(1, 2, 3, 4\)"),
    (lambda: bb.compute_iou(np.zeros((2, 4)), np.zeros((2, 4)), "rel_xyxy"), r"compute_iou: image_shape"),
    (lambda: bb.compute_ciou(np.zeros((2, 4)), np.zeros((2, 4)), "rel_xyxy"), r"compute_ciou: image_shape"),
    (lambda: bb.encode_box_to_deltas(np.zeros((2, 4)), np.zeros((2, 4)), "xyxy", "xyxy", variance=[1, 2]),
     r"variance: expected 4"),
    (lambda: bb.encode_box_to_deltas(np.zeros((2, 4)), np.zeros((2, 4)), "xyxy", "xyxy", "xyxy"),
     r"encoding_format: expected 'center_xywh'"),
    (lambda: bb.decode_deltas_to_boxes(np.zeros((2, 4)), np.zeros((2, 4)), "xyxy", "xyxy", "yxyx"),
     r"encoded_format: expected"),
    (lambda: vis.draw_bounding_boxes(np.zeros((4, 4, 3)), {"boxes": [], "labels": []}, "xyxy"),
     r"draw_bounding_boxes: images: .*4 axes"),
    (lambda: vis.draw_bounding_boxes(np.zeros((1, 4, 4, 3)), {"boxes": np.zeros((1, 1, 4))}, "xyxy"),
     r"bounding_boxes: expected the keys 'boxes' and 'labels'"),
    (lambda: vis.draw_segmentation_masks(np.zeros((1, 4, 4, 3)), np.zeros((1, 4, 5, 1), int)),
     r"segmentation_masks: expected \(batch, height, width, 1\)"),
    (lambda: vis.draw_segmentation_masks(np.zeros((1, 4, 4, 3)), np.zeros((1, 4, 4, 1)), 2),
     r"draw_segmentation_masks: segmentation_masks: expected integer"),
    (lambda: vis.plot_image_gallery(np.zeros((2, 4, 4, 3)), y_true=[0, 1]), r"plot_image_gallery: label_map"),
    (lambda: vis.plot_image_gallery(np.zeros((2, 4, 4, 3)), path="x.png", show=True), r"plot_image_gallery: show"),
])
def test_bad_input_is_refused_by_name(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_draw_bounding_boxes_paints_the_edges(rng):
    images = rng.uniform(0.1, 0.9, (2, 12, 14, 3)).astype("float32")      # floats up to 1: read as [0, 1]
    boxes = {"boxes": np.array([[[2, 3, 9, 8], [0, 0, 5, 5]], [[-3, 4, 20, 10], [1, 1, 2, 2]]], "float32"),
             "labels": np.array([[0, -1], [1, 2]])}
    out = vis.draw_bounding_boxes(images, boxes, "xyxy", color=(255, 0, 7), line_thickness=1)
    assert out.dtype == np.uint8 and out.shape == images.shape
    expected = (np.clip(images, 0, 1) * 255).astype("uint8")
    edges = np.zeros((2, 12, 14), bool)
    edges[0, 3, 2:10] = edges[0, 8, 2:10] = edges[0, 3:9, 2] = edges[0, 3:9, 9] = True      # the label -1 box is not drawn
    edges[1, 4, :] = edges[1, 10, :] = True            # its sides lie outside the image: clipped away
    edges[1, 1, 1:3] = edges[1, 2, 1:3] = True
    expected[edges] = (255, 0, 7)
    np.testing.assert_array_equal(out, expected)
    # thickness 3: three pixels centred on each edge; channels-first gives the same pixels
    thick = vis.draw_bounding_boxes(images[:1], {"boxes": boxes["boxes"][:1, :1], "labels": [[0]]}, "xyxy",
                                    line_thickness=3, color=(255, 255, 255))
    painted = (thick[0] == 255).all(-1)
    assert painted[2:5, 1:11].all() and painted[7:10, 1:11].all() and not painted[5:7, 4:7].any()
    filled = vis.draw_bounding_boxes(images[:1], {"boxes": boxes["boxes"][:1, :1], "labels": [[0]]}, "xyxy",
                                     line_thickness=-1, color=(255, 255, 255))      # OpenCV's -1: filled
    assert (filled[0, 3:9, 2:10] == 255).all() and (filled[0, :3] != 255).any(-1).all()
    first = vis.draw_bounding_boxes(images.transpose(0, 3, 1, 2), boxes, "xyxy", color=(255, 0, 7), line_thickness=1,
                                    data_format="channels_first")
    np.testing.assert_array_equal(first, out.transpose(0, 3, 1, 2))
    # relative boxes land on the same pixels
    rel = dict(boxes, boxes=bb.convert_format(boxes["boxes"], "xyxy", "rel_xyxy", height=12, width=14))
    np.testing.assert_array_equal(vis.draw_bounding_boxes(images, rel, "rel_xyxy", color=(255, 0, 7),
                                                          line_thickness=1), out)


def test_draw_bounding_boxes_writes_class_names():
    pytest.importorskip("PIL")
    images = np.zeros((1, 60, 80, 3), "uint8")
    boxes = {"boxes": np.array([[[10, 35, 60, 55]]]), "labels": np.array([[1]]), "confidences": np.array([[0.5]])}
    plain = vis.draw_bounding_boxes(images, boxes, "xyxy", color=(0, 255, 0))
    named = vis.draw_bounding_boxes(images, boxes, "xyxy", color=(0, 255, 0), class_mapping={1: "cat"}, font_scale=0.5)
    text = (named != plain).any(-1)
    assert text[:35].any()              # the name is written above the box, in its colour
    assert set(np.unique(named[text][:, 1])) - {0} and not named[text][:, 0].any()


def test_galleries_write_files_without_pyplot(tmp_path, rng):
    pytest.importorskip("matplotlib")
    from PIL import Image
    images = rng.integers(0, 256, (5, 16, 20, 3)).astype("uint8")
    path = tmp_path / "gallery.png"
    fig = vis.plot_image_gallery(images, y_true=[0, 1, 0, 1, 0], label_map={0: "a", 1: "b"}, path=path, dpi=50)
    assert type(fig).__name__ == "Figure" and len([ax for ax in fig.axes if ax.images]) == 5
    width, height = Image.open(path).size           # 3 rows x 2 columns of 2-inch cells at 50 dpi, cut to the drawing
    assert 50 < width <= 2 * 2 * 50 and 100 < height <= 3 * 2 * 50
    masks = rng.integers(0, 3, (2, 16, 20, 1))
    fig = vis.plot_segmentation_mask_gallery(images[:2], 3, y_true=masks, y_pred=masks, path=tmp_path / "masks.png")
    assert len(fig.axes) == 6 and (tmp_path / "masks.png").stat().st_size > 0
    boxes = {"boxes": np.array([[[1, 1, 10, 10]]] * 2), "labels": np.array([[0]] * 2)}
    fig = vis.plot_bounding_box_gallery(images[:2] / 255.0, "xyxy", y_true=boxes, y_pred=boxes, value_range=(0, 1),
                                        legend=True, path=tmp_path / "boxes.svg")
    assert fig.legends and (tmp_path / "boxes.svg").read_text().startswith("<?xml")
    assert "matplotlib.pyplot" not in sys.modules or not __import__("matplotlib.pyplot").pyplot.get_fignums()


def test_modules_load_on_first_use():
    code = ("import sys, glassnet as gn; assert 'glassnet.bounding_boxes' not in sys.modules; "
            "assert 'glassnet.visualization' not in sys.modules; gn.utils.bounding_boxes.compute_iou; "
            "gn.visualization.draw_bounding_boxes; assert 'matplotlib' not in sys.modules, 'matplotlib'")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- MaxNumBoundingBoxes

@pytest.mark.parametrize("max_number, fill_value, count", [(3, -1, 5), (4, -2, 2), (2, 0, 2)])
def test_max_num_bounding_boxes_equals_keras(keras, rng, max_number, fill_value, count):
    images = rng.uniform(0, 1, (2, 5, 6, 3)).astype("float32")
    boxes = {"boxes": _xyxy(rng, (2, count)), "labels": rng.integers(0, 4, (2, count))}
    ours = gn.layers.MaxNumBoundingBoxes(max_number, fill_value, bounding_box_format="xyxy")
    theirs = keras.layers.MaxNumBoundingBoxes(max_number, fill_value, bounding_box_format="xyxy")
    for data in ({"images": images, "bounding_boxes": boxes, "labels": np.arange(2)},       # batched
                 {"images": images[0], "bounding_boxes": {k: v[0] for k, v in boxes.items()}}):   # one image
        out, expected = ours(dict(data)), theirs(dict(data))
        assert set(out) == set(expected)
        for key in ("boxes", "labels"):
            _close(out["bounding_boxes"][key], expected["bounding_boxes"][key], atol=0)
        np.testing.assert_array_equal(out["images"], data["images"])
    np.testing.assert_array_equal(ours(images), np.asarray(theirs(images)))        # arrays pass as they are
    config = theirs.get_config()
    rebuilt = gn.layers.MaxNumBoundingBoxes.from_config({k: config[k] for k in ("max_number", "bounding_box_format")})
    assert (rebuilt.max_number, rebuilt.fill_value) == (max_number, -1)      # Keras' config drops fill_value


def test_max_num_bounding_boxes_refusals_and_config():
    layer = gn.layers.MaxNumBoundingBoxes(2, fill_value=-5, bounding_box_format="yxyx")
    again = gn.layers.MaxNumBoundingBoxes.from_config(layer.get_config())
    assert (again.max_number, again.fill_value, again.bounding_box_format) == (2, -5, "yxyx")
    data = {"images": np.zeros((1, 4, 4, 3)), "bounding_boxes": {"boxes": np.zeros((1, 3, 4)), "labels": np.zeros((1, 3))}}
    with pytest.raises(ValueError, match="MaxNumBoundingBoxes: bounding_box_format: needed"):
        gn.layers.MaxNumBoundingBoxes(2)(data)
    with pytest.raises(ValueError, match="MaxNumBoundingBoxes: a dict input takes the keys .*'boxes'"):
        layer({"boxes": np.zeros((1, 3, 4))})
    with pytest.raises(ValueError, match=r"MaxNumBoundingBoxes: bounding_boxes: .*labels \(1, 2\)"):
        layer(dict(data, bounding_boxes={"boxes": np.zeros((1, 3, 4)), "labels": np.zeros((1, 2))}))
    with pytest.raises(ValueError, match="MaxNumBoundingBoxes: max_number: expected a positive integer"):
        gn.layers.MaxNumBoundingBoxes(0)
    with pytest.raises(TypeError, match="MaxNumBoundingBoxes: fill_value: expected an int"):
        gn.layers.MaxNumBoundingBoxes(3, fill_value=0.5)
