"""Keras' ``keras.utils.bounding_boxes.compute_iou`` and ``compute_ciou`` in NumPy (re-exported by
glassnet.bounding_boxes): the same formulas, epsilon included, as Keras 3.15's."""
import math

import numpy as np


def _eps():
    from .backend import epsilon        # Keras' backend.epsilon(), 1e-7 unless set_epsilon changed it
    return np.float32(epsilon())


def _size(image_shape, fmt, caller):
    if image_shape is None:
        if fmt.lower().startswith("rel"):
            raise ValueError(f"{caller}: image_shape: (height, width, channels) is needed for the relative "
                             f"bounding_box_format {fmt!r}, got None")
        return None, None
    if len(image_shape) not in (2, 3):
        raise ValueError(f"{caller}: image_shape: expected (height, width, channels), got {image_shape!r}")
    return image_shape[0], image_shape[1]


def compute_iou(boxes1, boxes2, bounding_box_format, use_masking=False, mask_val=-1, image_shape=None):
    """Pairwise intersection over union of ``boxes1`` ``(M, 4)`` or ``(B, M, 4)`` and ``boxes2``
    ``(N, 4)`` or ``(B, N, 4)``, both in ``bounding_box_format``.

    use_masking : when True, a pair in which either box has all 4 coordinates (as yxyx) below 0
        (padding) gets ``mask_val`` instead of its IoU.
    image_shape : (height, width, channels), needed for a relative format.
    Returns float32 ``(M, N)``, or ``(B, M, N)`` when either is batched.

    >>> compute_iou([[0, 0, 2, 2]], [[1, 1, 3, 3], [0, 0, 2, 2]], "xyxy").round(4)
    array([[0.1429, 1.    ]], dtype=float32)
    """
    from .bounding_boxes import convert_format
    from ._box_formats import check_boxes
    boxes1 = check_boxes(boxes1, "compute_iou: boxes1")
    boxes2 = check_boxes(boxes2, "compute_iou: boxes2")
    for name, b in (("boxes1", boxes1), ("boxes2", boxes2)):
        if b.ndim not in (2, 3):
            raise ValueError(f"compute_iou: {name}: expected (num_boxes, 4) or (batch, num_boxes, 4), got shape {b.shape}")
    height, width = _size(image_shape, bounding_box_format, "compute_iou")
    boxes1 = convert_format(boxes1, bounding_box_format, "yxyx", height, width)
    boxes2 = convert_format(boxes2, bounding_box_format, "yxyx", height, width)
    one, two = boxes1[..., :, None, :], boxes2[..., None, :, :]       # (.., M, 1, 4) against (.., 1, N, 4)
    zero = np.float32(0)
    inter_h = np.maximum(zero, np.minimum(one[..., 2], two[..., 2]) - np.maximum(one[..., 0], two[..., 0]))
    inter_w = np.maximum(zero, np.minimum(one[..., 3], two[..., 3]) - np.maximum(one[..., 1], two[..., 1]))
    intersection = inter_h * inter_w

    def area(b):
        return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area(boxes1)[..., :, None] + area(boxes2)[..., None, :] - intersection
    iou = intersection / (union + _eps())
    if not use_masking:
        return iou
    padded = (boxes1.max(axis=-1) < 0)[..., :, None] | (boxes2.max(axis=-1) < 0)[..., None, :]
    return np.where(padded, np.asarray(mask_val).astype(iou.dtype), iou)


def compute_ciou(boxes1, boxes2, bounding_box_format, image_shape=None):
    """Complete IoU of the boxes ``boxes1[i]`` and ``boxes2[i]`` (shapes ``(..., 4)`` that
    broadcast): IoU less the centres' squared distance over the enclosing box's squared diagonal,
    less the aspect-ratio term ``v * alpha``. Returns float32 of the broadcast shape without the 4.

    Keras 3.15 refuses every relative format here, even with ``image_shape``; glassnet converts
    them when ``image_shape`` is given.
    """
    from .bounding_boxes import convert_format
    height, width = _size(image_shape, bounding_box_format, "compute_ciou")
    boxes1 = convert_format(boxes1, bounding_box_format, "xyxy", height, width)
    boxes2 = convert_format(boxes2, bounding_box_format, "xyxy", height, width)
    eps = _eps()
    x_min1, y_min1, x_max1, y_max1 = (boxes1[..., i] for i in range(4))
    x_min2, y_min2, x_max2, y_max2 = (boxes2[..., i] for i in range(4))
    width_1, height_1 = x_max1 - x_min1, y_max1 - y_min1 + eps
    width_2, height_2 = x_max2 - x_min2, y_max2 - y_min2 + eps
    zero = np.float32(0)
    intersection = (np.maximum(np.minimum(x_max1, x_max2) - np.maximum(x_min1, x_min2), zero)
                    * np.maximum(np.minimum(y_max1, y_max2) - np.maximum(y_min1, y_min2), zero))
    union = width_1 * height_1 + width_2 * height_2 - intersection + eps
    iou = intersection / (union + eps)
    convex_w = np.maximum(x_max1, x_max2) - np.minimum(x_min1, x_min2)
    convex_h = np.maximum(y_max1, y_max2) - np.minimum(y_min1, y_min2)
    diagonal = convex_w ** 2 + convex_h ** 2 + eps
    centres = ((x_min1 + x_max1) / 2 - (x_min2 + x_max2) / 2) ** 2 + ((y_min1 + y_max1) / 2 - (y_min2 + y_max2) / 2) ** 2
    v = np.float32(4 / math.pi ** 2) * (np.arctan(width_2 / height_2) - np.arctan(width_1 / height_1)) ** 2
    alpha = v / (v - iou + (1 + eps))
    return iou - (centres / diagonal + v * alpha)
