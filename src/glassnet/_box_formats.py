"""Keras' bounding-box formats to and from "xyxy" (glassnet.bounding_boxes' converters).

Each converter takes boxes ``(..., 4)`` and returns ``(..., 4)``; the arithmetic is Keras 3.15's
term for term (``x1 + (x2 - x1) / 2`` for a centre, not ``(x1 + x2) / 2``), so float32 results
round as Keras' do.
"""
import numpy as np

SUPPORTED_FORMATS = ("xyxy", "yxyx", "xywh", "center_xywh", "center_yxhw", "rel_xyxy", "rel_yxyx", "rel_xywh",
                     "rel_center_xywh")


def check_format(fmt, name):
    """``fmt`` lower-cased if it is one of ``SUPPORTED_FORMATS``; a ValueError naming ``name`` otherwise."""
    if not isinstance(fmt, str):
        raise TypeError(f"{name}: expected a bounding box format, one of {SUPPORTED_FORMATS}, "
                        f"got {type(fmt).__name__} {fmt!r:.40}")
    if fmt.lower() not in SUPPORTED_FORMATS:
        raise ValueError(f"{name}: expected one of {SUPPORTED_FORMATS} (any case), got {fmt!r}")
    return fmt.lower()


def check_boxes(boxes, name):
    """``boxes`` as an array of numbers whose last axis is 4; a ValueError/TypeError naming ``name``."""
    boxes = np.asarray(boxes)
    if boxes.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected numbers, got an array of dtype {boxes.dtype}")
    if boxes.ndim < 1 or boxes.shape[-1] != 4:
        raise ValueError(f"{name}: expected an array whose last axis holds the 4 coordinates, (..., 4), "
                         f"got shape {boxes.shape}")
    return boxes


def _split(boxes):
    return [boxes[..., i:i + 1] for i in range(4)]


def _join(*parts):
    return np.concatenate(parts, axis=-1)


def to_xyxy(boxes, fmt, height, width):
    """Boxes in format ``fmt`` as "xyxy"; ``height``/``width`` (scalars of the boxes' dtype) for "rel_" ones."""
    a, b, c, d = _split(boxes)
    if fmt == "xyxy":
        return boxes
    if fmt == "yxyx":
        return _join(b, a, d, c)
    if fmt == "xywh":
        return _join(a, b, a + c, b + d)
    if fmt in ("center_xywh", "center_yxhw"):
        cx, cy, w, h = (a, b, c, d) if fmt == "center_xywh" else (b, a, d, c)
        half_w, half_h = w / 2.0, h / 2.0
        return _join(cx - half_w, cy - half_h, cx + half_w, cy + half_h)
    if fmt == "rel_xyxy":
        return _join(a * width, b * height, c * width, d * height)
    if fmt == "rel_yxyx":
        return _join(b * width, a * height, d * width, c * height)
    if fmt == "rel_xywh":
        return _join(a * width, b * height, (a + c) * width, (b + d) * height)
    # rel_center_xywh
    half_w, half_h = c / 2.0, d / 2.0
    return _join((a - half_w) * width, (b - half_h) * height, (a + half_w) * width, (b + half_h) * height)


def from_xyxy(boxes, fmt, height, width):
    """"xyxy" boxes in format ``fmt``."""
    x1, y1, x2, y2 = _split(boxes)
    if fmt == "xyxy":
        return boxes
    if fmt == "yxyx":
        return _join(y1, x1, y2, x2)
    if fmt == "xywh":
        return _join(x1, y1, x2 - x1, y2 - y1)
    if fmt in ("center_xywh", "center_yxhw", "rel_center_xywh"):
        cx, cy = x1 + ((x2 - x1) / 2.0), y1 + ((y2 - y1) / 2.0)
        w, h = x2 - x1, y2 - y1
        if fmt == "center_xywh":
            return _join(cx, cy, w, h)
        if fmt == "center_yxhw":
            return _join(cy, cx, h, w)
        return _join(cx / width, cy / height, w / width, h / height)
    if fmt == "rel_xyxy":
        return _join(x1 / width, y1 / height, x2 / width, y2 / height)
    if fmt == "rel_yxyx":
        return _join(y1 / height, x1 / width, y2 / height, x2 / width)
    # rel_xywh
    return _join(x1 / width, y1 / height, (x2 - x1) / width, (y2 - y1) / height)
