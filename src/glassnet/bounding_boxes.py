"""Keras' ``keras.utils.bounding_boxes``: boxes converted between formats, clipped, cropped, padded,
moved by an affine map, compared (IoU, CIoU) and encoded against anchors, in NumPy.

Boxes are arrays of shape ``(..., 4)``, usually ``(num_boxes, 4)`` or ``(batch, num_boxes, 4)``;
the formats (case-insensitive) are Keras':

======================  ==========================================
``"xyxy"``              left, top, right, bottom (pixels)
``"yxyx"``              top, left, bottom, right
``"xywh"``              left, top, width, height
``"center_xywh"``       centre x, centre y, width, height
``"center_yxhw"``       centre y, centre x, height, width
``"rel_xyxy"``, ``"rel_yxyx"``, ``"rel_xywh"``, ``"rel_center_xywh"``
                        the same over the image's width and height (0 to 1)
======================  ==========================================

Where Keras takes "the dict form", ``{"boxes": (..., 4), "labels": (...,)}``, so does glassnet;
it returns a new dict (Keras' ``convert_format`` writes into the one it was given). The same
formulas in the same order as Keras' make the values agree with Keras 3.15's to float32 rounding.
Read on first use as ``glassnet.utils.bounding_boxes`` (``import glassnet`` does not import it).

>>> convert_format([[10, 20, 30, 40]], source="xyxy", target="xywh")
array([[10., 20., 20., 20.]], dtype=float32)
"""
import math

import numpy as np

from ._box_iou import compute_ciou, compute_iou
from ._box_formats import SUPPORTED_FORMATS, check_boxes, check_format, from_xyxy, to_xyxy

__all__ = ["convert_format", "clip_to_image_size", "affine_transform", "crop", "pad", "compute_iou",
           "compute_ciou", "encode_box_to_deltas", "decode_deltas_to_boxes", "SUPPORTED_FORMATS"]


def convert_format(boxes, source, target, height=None, width=None, dtype="float32"):
    """Boxes ``(..., 4)`` (or the dict form) from format ``source`` to ``target``, cast to ``dtype``.

    height, width : the image's size, needed when either format is relative ("rel_...").
    Returns an array of the same shape (or a new dict with its "boxes" converted).
    """
    if isinstance(boxes, dict):
        if "boxes" not in boxes:
            raise ValueError(f"convert_format: boxes: a dict must hold the key 'boxes', got keys {sorted(boxes, key=str)}")
        out = dict(boxes)
        out["boxes"] = convert_format(boxes["boxes"], source, target, height, width, dtype)
        return out
    boxes = check_boxes(boxes, "convert_format: boxes")
    source = check_format(source, "convert_format: source")
    target = check_format(target, "convert_format: target")
    if (source.startswith("rel_") or target.startswith("rel_")) and (width is None or height is None):
        raise ValueError(f"convert_format: height and width are needed to convert between relative and absolute "
                         f"formats, got source={source!r}, target={target!r}, height={height}, width={width}")
    dtype = np.dtype(dtype)
    boxes = boxes.astype(dtype, copy=False)
    if source == target:
        return boxes
    height = None if height is None else dtype.type(height)
    width = None if width is None else dtype.type(width)
    if source.startswith("rel_") and target.startswith("rel_"):     # the image's size cancels out
        source, target = source[4:], target[4:]
    return from_xyxy(to_xyxy(boxes, source, height, width), target, height, width)


def _dict_boxes(bounding_boxes, caller):
    if not isinstance(bounding_boxes, dict) or "boxes" not in bounding_boxes:
        raise TypeError(f"{caller}: bounding_boxes: expected a dict with the key 'boxes' (and optionally "
                        f"'labels'), got {type(bounding_boxes).__name__}")
    return check_boxes(bounding_boxes["boxes"], f"{caller}: bounding_boxes['boxes']")


def _only(formats, bounding_box_format, caller):
    fmt = check_format(bounding_box_format, f"{caller}: bounding_box_format")
    if fmt not in formats:      # Keras raises a bare NotImplementedError
        raise ValueError(f"{caller}: bounding_box_format: expected one of {formats} (as Keras 3.15), "
                         f"got {bounding_box_format!r}; convert_format the boxes first")
    return fmt


def clip_to_image_size(bounding_boxes, height=None, width=None, bounding_box_format="xyxy"):
    """The dict form's boxes clipped to the image, ``[0, width] x [0, height]`` ("xyxy") or
    ``[0, 1]`` ("rel_xyxy"); a box left with no area gets the label -1 (Keras' "no box").

    bounding_boxes : {"boxes": (..., N, 4), "labels": (..., N)}; labels optional
    Returns a new dict: its boxes in their own dtype, labels -1 where the clipped area is 0.
    """
    boxes = _dict_boxes(bounding_boxes, "clip_to_image_size")
    fmt = _only(("xyxy", "rel_xyxy"), bounding_box_format, "clip_to_image_size")
    if fmt == "xyxy":
        if height is None or width is None:
            raise ValueError(f"clip_to_image_size: height and width are needed for bounding_box_format='xyxy', "
                             f"got height={height}, width={width}")
        high = np.array([width, height, width, height]).astype(boxes.dtype)
    else:
        high = np.ones(4, boxes.dtype)
    boxes = np.clip(boxes, np.zeros((), boxes.dtype), high)
    result = dict(bounding_boxes)
    result["boxes"] = boxes
    labels = bounding_boxes.get("labels")
    if labels is not None:
        area = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
        labels = np.asarray(labels)
        result["labels"] = np.where(area > 0, labels, np.array(-1, labels.dtype))
    return result


def _offset(value, name, caller):
    if isinstance(value, bool) or not np.isscalar(value) or not np.isreal(value):
        raise TypeError(f"{caller}: {name}: expected a number of pixels, got {type(value).__name__} {value!r:.40}")
    return value


def _xyxy_row(boxes, x, y):
    # float32 boxes stay float32 (a NumPy int64 or float64 offset would lift them to float64)
    row = np.array([x, y, x, y])
    return row.astype(boxes.dtype) if boxes.dtype.kind == "f" else row


def crop(boxes, top, left, height, width, bounding_box_format="xyxy"):
    """Boxes ``(..., 4)`` ("xyxy") seen from a crop of the image: moved by ``(-left, -top)`` and
    clipped to ``[0, width] x [0, height]`` (no upper clip on a side given as None).

    >>> crop(np.array([[10., 20, 50, 60]]), top=10, left=20, height=40, width=30)
    array([[ 0., 10., 30., 40.]])
    """
    _only(("xyxy",), bounding_box_format, "crop")
    boxes = check_boxes(boxes, "crop: boxes")
    shifted = boxes - _xyxy_row(boxes, _offset(left, "left", "crop"), _offset(top, "top", "crop"))
    w = np.inf if width is None else _offset(width, "width", "crop")
    h = np.inf if height is None else _offset(height, "height", "crop")
    return np.minimum(np.maximum(shifted, 0), _xyxy_row(boxes, w, h)).astype(shifted.dtype, copy=False)


def pad(boxes, top, left, height=None, width=None, bounding_box_format="xyxy"):
    """Boxes ``(..., 4)`` ("xyxy") moved by ``(left, top)``: where they lie once the image is
    padded by ``top`` rows and ``left`` columns (``height`` and ``width`` are unused, as in Keras)."""
    _only(("xyxy",), bounding_box_format, "pad")
    boxes = check_boxes(boxes, "pad: boxes")
    return boxes + _xyxy_row(boxes, _offset(left, "left", "pad"), _offset(top, "top", "pad"))


def _per_image(value, name, batch, dtype):
    value = np.asarray(value)
    if value.dtype.kind not in "iuf" or value.ndim > 1 or (value.ndim == 1 and value.shape[0] not in (1, batch)):
        raise ValueError(f"affine_transform: {name}: expected a number or one per image, shape ({batch},), "
                         f"got {value.dtype} of shape {value.shape}")
    return np.broadcast_to(value.astype(dtype, copy=False), (batch,))


def affine_transform(boxes, angle, translate_x, translate_y, scale, shear_x, shear_y, height, width,
                     center_x=None, center_y=None, bounding_box_format="xyxy"):
    """Batched "xyxy" boxes ``(batch, N, 4)`` through the affine map Keras' RandomAffine-style layers
    apply to their images: each box's four corners mapped, the smallest box around them returned.

    angle, shear_x, shear_y : degrees; translate_x, translate_y, center_x, center_y : fractions of
    the image (centre 0.5 when None); scale : a factor; each a number or one per image ``(batch,)``.
    Returns ``(batch, N, 4)`` in the angle's float dtype (float32 for ints).
    """
    _only(("xyxy",), bounding_box_format, "affine_transform")
    boxes = check_boxes(boxes, "affine_transform: boxes")
    if boxes.ndim != 3:
        raise ValueError(f"affine_transform: boxes: expected (batch, num_boxes, 4), got shape {boxes.shape}")
    batch = boxes.shape[0]
    a = np.asarray(angle)
    dtype = a.dtype if a.dtype.kind == "f" else np.dtype("float32")
    args = {name: _per_image(v, name, batch, dtype) for name, v in
            dict(angle=angle, translate_x=translate_x, translate_y=translate_y, scale=scale, shear_x=shear_x,
                 shear_y=shear_y, center_x=0.5 if center_x is None else center_x,
                 center_y=0.5 if center_y is None else center_y).items()}
    matrix = _inverse_affine_matrix(height=dtype.type(height), width=dtype.type(width), **args)
    b = boxes.astype(dtype, copy=False)
    corners = np.stack([b[..., 0], b[..., 1], b[..., 2], b[..., 1], b[..., 2], b[..., 3], b[..., 0], b[..., 3]], -1)
    corners = corners.reshape(batch, boxes.shape[1], 4, 2)
    corners = np.concatenate([corners, np.ones(corners.shape[:-1] + (1,), dtype)], axis=-1)
    moved = np.einsum("bnxy,byz->bnxz", corners, np.transpose(matrix[:, :2, :], (0, 2, 1)))
    return np.concatenate([moved.min(axis=2), moved.max(axis=2)], axis=-1)


def _inverse_affine_matrix(center_x, center_y, angle, translate_x, translate_y, scale, shear_x, shear_y,
                           height, width):
    # Keras' BoundingBox._compute_inverse_affine_matrix (after TF's _get_inverse_affine_matrix),
    # term for term: (batch,) arrays in, (batch, 3, 3) out
    angle, shear_x, shear_y = -angle, -shear_x, -shear_y
    cx, cy = center_x * (width - 1), center_y * (height - 1)
    rot = angle * (1.0 / 180.0 * math.pi)
    tx, ty = -translate_x * (width - 1), -translate_y * (height - 1)
    sx, sy = shear_x * (1.0 / 180.0 * math.pi), shear_y * (1.0 / 180.0 * math.pi)
    cos_sy, tan_sx = np.cos(sy), np.tan(sx)
    rot_minus_sy, cx_plus_tx, cy_plus_ty = rot - sy, cx + tx, cy + ty
    a = np.cos(rot_minus_sy) / cos_sy
    b = a * tan_sx + np.sin(rot)
    c = -np.sin(rot_minus_sy) / cos_sy
    d = np.cos(rot) - c * tan_sx
    a0, a1, b0, b1 = d * scale, -b * scale, -c * scale, a * scale
    a2 = cx - a0 * cx_plus_tx - a1 * cy_plus_ty
    b2 = cy - b0 * cx_plus_tx - b1 * cy_plus_ty
    zeros, ones = np.zeros_like(a0), np.ones_like(a0)
    return np.stack([a0, a1, a2, b0, b1, b2, zeros, zeros, ones], axis=-1).reshape(-1, 3, 3)


def _checked_variance(variance):
    if variance is None:
        return None
    variance = np.asarray(variance, dtype="float32")
    if variance.ndim < 1 or variance.shape[-1] != 4:
        raise ValueError(f"variance: expected 4 numbers, got {variance.tolist()!r:.60}")
    return variance


def _image_size(image_shape):
    if image_shape is None:
        return None, None
    if len(image_shape) not in (2, 3):
        raise ValueError(f"image_shape: expected (height, width, channels), got {image_shape!r}")
    return image_shape[0], image_shape[1]


def _encoding(fmt, name):
    if fmt not in ("center_xywh", "center_yxhw"):
        raise ValueError(f"{name}: expected 'center_xywh' or 'center_yxhw', got {fmt!r}")
    return fmt


def encode_box_to_deltas(anchors, boxes, anchor_format, box_format, encoding_format="center_yxhw",
                         variance=None, image_shape=None):
    """Boxes ``(N, 4)`` or ``(B, N, 4)`` as deltas from their anchors ``(N, 4)``: centre offsets over
    the anchor's size and log size ratios, in ``encoding_format``'s order, divided by ``variance``.

    image_shape : (height, width, channels), for a relative anchor or box format.
    Returns float32 deltas of the boxes' shape.
    """
    variance = _checked_variance(variance)
    _encoding(encoding_format, "encode_box_to_deltas: encoding_format")
    height, width = _image_size(image_shape)
    anchors = convert_format(anchors, anchor_format, encoding_format, height, width)
    boxes = convert_format(boxes, box_format, encoding_format, height, width)
    eps = np.float32(_epsilon())
    anchor_size = np.maximum(anchors[..., 2:], eps)
    box_size = np.maximum(boxes[..., 2:], eps)
    deltas = np.concatenate([(boxes[..., :2] - anchors[..., :2]) / anchor_size, np.log(box_size / anchor_size)], -1)
    return deltas if variance is None else deltas / variance


def decode_deltas_to_boxes(anchors, boxes_delta, anchor_format, box_format, encoded_format="center_yxhw",
                           variance=None, image_shape=None):
    """The inverse of ``encode_box_to_deltas``: deltas ``(N, 4)`` or ``(B, N, 4)`` applied to their
    anchors ``(N, 4)``, boxes returned in ``box_format`` (float32). ``anchors`` and ``boxes_delta``
    may both be dicts of levels ``{level: array}``; a dict of the same levels comes back."""
    variance = _checked_variance(variance)
    _encoding(encoded_format, "decode_deltas_to_boxes: encoded_format")
    height, width = _image_size(image_shape)

    def level(anchor, delta):
        anchor = convert_format(anchor, anchor_format, encoded_format, height, width)
        delta = check_boxes(delta, "decode_deltas_to_boxes: boxes_delta").astype("float32", copy=False)
        if variance is not None:
            delta = delta * variance
        box = np.concatenate([delta[..., :2] * anchor[..., 2:] + anchor[..., :2],
                              np.exp(delta[..., 2:]) * anchor[..., 2:]], axis=-1)
        return convert_format(box, encoded_format, box_format, height, width)

    if isinstance(anchors, dict) and isinstance(boxes_delta, dict):
        missing = sorted(set(anchors) - set(boxes_delta), key=str)
        if missing:
            raise ValueError(f"decode_deltas_to_boxes: boxes_delta: no deltas for the anchors' levels {missing}")
        return {lvl: level(anchor, boxes_delta[lvl]) for lvl, anchor in anchors.items()}
    return level(anchors, boxes_delta)


def _epsilon():
    from .backend import epsilon        # Keras' backend.epsilon(), read at each call as Keras does
    return epsilon()
