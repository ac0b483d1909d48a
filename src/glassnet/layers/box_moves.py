"""Bounding boxes through the image layers: Keras' dict form ``layer({"images": ...,
"bounding_boxes": {"boxes": (batch, N, 4), "labels": (batch, N)}})`` given a
``bounding_box_format`` (segmentation.call_on_dict calls ``move_through`` after the images).

Each layer that takes boxes says, in ``_move_xyxy(boxes, in_size, out_size)``, where its last call
sent a point of the input image: boxes in pixels, "xyxy", float32, in the input's frame come in,
the same boxes in the output's frame go out (None: the call moved no pixel). Around that, the
same for every layer (and for each layer of a Pipeline or RandAugment in turn, in its own format),
as Keras 3.15 does it: the boxes read as float32 in the layer's format, turned "xyxy" against the
input's size, moved, clipped to the output image (a box left with no area gets the label -1,
Keras' "no box"), and written back in the layer's format against the output's size. Pixel-value
layers (brightness, hue, blur...) and every random layer outside training move nothing: the boxes
come back as float32, the labels as they came. Boxes are data, not weights: no gradient flows
into them.
"""
import numpy as np


# the layers that move boxes, for the refusals of the others
MOVERS = ("RandomFlip, Resizing, CenterCrop, RandomCrop, RandomTranslation, RandomZoom, RandomRotation, "
          "RandomShear, RandomPerspective, RandAugment, MixUp, the pixel-value layers (brightness, contrast, "
          "hue, blur, erasing...) and a Pipeline of them")


def take_box_format(layer, kwargs):
    """Pop Keras' ``bounding_box_format`` from an image layer's keyword arguments into
    ``layer.bounding_box_format`` (None: boxes refused at the call, as Keras); a layer whose class
    does not move boxes (``_moves_boxes`` False) refuses the argument itself, by name."""
    cls = type(layer).__name__
    if "bounding_box_format" in kwargs and not layer._moves_boxes:
        raise TypeError(f"{cls}: bounding_box_format: not taken, glassnet's {cls} does not move bounding boxes "
                        f"(those that do: {MOVERS})")
    fmt = kwargs.pop("bounding_box_format", None)
    if fmt is not None:
        from .._box_formats import check_format
        fmt = check_format(fmt, f"{cls}: bounding_box_format")
    layer.bounding_box_format = fmt


def box_config(layer):
    """``{"bounding_box_format": ...}`` when one is set (Keras' config holds it then only)."""
    fmt = layer.bounding_box_format
    return {} if fmt is None else {"bounding_box_format": fmt}


def check_box_dict(layer, bounding_boxes, n):
    """The dict form's ``bounding_boxes`` as float32 boxes (n, N, 4) and labels (n, N), refused by
    name otherwise; ``n`` is the images' batch (glassnet's dict form takes batches only)."""
    cls = type(layer).__name__
    if layer.bounding_box_format is None:
        raise ValueError(f"{cls}: bounding_box_format: needed with 'bounding_boxes' (as Keras asks), e.g. "
                         f"{cls}(..., bounding_box_format='xyxy'), got None")
    if not isinstance(bounding_boxes, dict) or not {"boxes", "labels"} <= set(bounding_boxes):
        got = sorted(bounding_boxes, key=str) if isinstance(bounding_boxes, dict) else type(bounding_boxes).__name__
        raise ValueError(f"{cls}: bounding_boxes: expected a dict with the keys 'boxes' and 'labels', got {got}")
    boxes, labels = np.asarray(bounding_boxes["boxes"]), np.asarray(bounding_boxes["labels"])
    if boxes.dtype.kind not in "biuf" or labels.dtype.kind not in "biuf":
        raise TypeError(f"{cls}: bounding_boxes: expected numbers, got boxes of dtype {boxes.dtype} and labels "
                        f"of dtype {labels.dtype}")
    if boxes.ndim != 3 or boxes.shape[0] != n or boxes.shape[-1] != 4 or labels.shape != boxes.shape[:2]:
        raise ValueError(f"{cls}: bounding_boxes: expected boxes ({n}, num_boxes, 4) and labels ({n}, num_boxes), "
                         f"one row per image of the batch, got boxes {boxes.shape} and labels {labels.shape} "
                         f"(one image's boxes take a batch axis first, boxes[None] and labels[None])")
    return boxes.astype(np.float32), labels


def takes_boxes(layer):
    """Whether ``layer``'s class moves bounding boxes (its ``_move_xyxy`` says how)."""
    return getattr(layer, "_moves_boxes", False)


def check_boxes_before(layer, bounding_boxes, n):
    """Refuse, before any draw, boxes that ``layer`` (or a layer of a Pipeline) cannot move."""
    inner = getattr(layer, "pipeline_layers", None)
    if inner is None or hasattr(layer, "bounding_box_format"):      # (RandomColorJitter's own, first)
        check_box_dict(layer, bounding_boxes, n)
    if inner is None:
        return
    for each in inner:
        if not takes_boxes(each):
            raise ValueError(f"{type(layer).__name__}: {each.describe()} does not move bounding_boxes "
                             f"(those that do: {MOVERS}); call the pipeline on the images alone")
        check_boxes_before(each, bounding_boxes, n)


def _size(layer, sample_shape):
    from .segmentation import _data_format
    return tuple(sample_shape[1:3]) if _data_format(layer) == "channels_first" else tuple(sample_shape[:2])


def move_through(layer, bounding_boxes, n, in_shape, out_shape):
    """``move_boxes`` for images of sample shapes ``in_shape`` -> ``out_shape`` (in the layer's
    layout); a layer made of layers (Pipeline, RandAugment) says, in ``_box_steps(in_shape)``,
    which of its layers moved the images in turn, with their shapes: each moves the boxes in its
    own format, as Keras' layers hand the dict on."""
    steps = getattr(layer, "_box_steps", None)
    if steps is None:
        return move_boxes(layer, bounding_boxes, n, _size(layer, in_shape), _size(layer, out_shape))
    bounding_boxes = {**bounding_boxes, "boxes": np.asarray(bounding_boxes["boxes"], np.float32),
                      "labels": np.asarray(bounding_boxes["labels"])}     # as they come back when none acts
    for each, before, after in steps(in_shape):
        bounding_boxes = move_through(each, bounding_boxes, n, before, after)
    return bounding_boxes


def move_boxes(layer, bounding_boxes, n, in_size, out_size):
    """The dict ``bounding_boxes`` of a batch of ``n`` images of ``in_size`` (height, width) that
    ``layer`` just made into images of ``out_size``, moved as its pixels were; a new dict (its other
    keys kept)."""
    boxes, labels = check_box_dict(layer, bounding_boxes, n)
    from ..bounding_boxes import clip_to_image_size, convert_format
    fmt = layer.bounding_box_format
    xyxy = convert_format(boxes, fmt, "xyxy", *in_size)
    moved = layer._move_xyxy(xyxy, in_size, out_size)
    if moved is None:               # no pixel moved: the boxes as they came (float32), labels too
        return {**bounding_boxes, "boxes": boxes, "labels": labels}
    if hasattr(layer, "_move_box_labels"):       # a layer that adds boxes (MixUp) adds their labels
        labels = layer._move_box_labels(labels)
    clipped = clip_to_image_size({"boxes": moved.astype(np.float32, copy=False), "labels": labels}, *out_size)
    out = clipped["boxes"]
    if getattr(layer, "_zeroes_padding_boxes", False):
        # Keras' Resizing: a padding box (all 0 or all -1, as given) comes out all 0
        out[np.all(boxes == -1, axis=-1) | np.all(boxes == 0, axis=-1)] = 0
    return {**bounding_boxes, "boxes": convert_format(out, "xyxy", fmt, *out_size), "labels": clipped["labels"]}


def affine_boxes(boxes, matrices):
    """"xyxy" boxes (n, N, 4) through the inverse of each image's sampling matrix, affine (n, 6) or
    projective (n, 8) (augmentation.py): the output pixel (x, y) read the input at ``M (x, y, 1)``
    (divided by its third coordinate), so an input point p lies at ``M^-1 p``; each box's four
    corners moved so, the smallest box around them returned."""
    n = matrices.shape[0]
    full = np.zeros((n, 3, 3))
    full[:, 0], full[:, 1], full[:, 2, 2] = matrices[:, 0:3], matrices[:, 3:6], 1.0
    if matrices.shape[1] == 8:
        full[:, 2, :2] = matrices[:, 6:8]
    m = np.linalg.inv(full)[:, :, :, None, None]        # (n, 3, 3, 1, 1): against (n, N, 4) corners
    x, y = boxes[..., [0, 2, 2, 0]], boxes[..., [1, 1, 3, 3]]         # x1y1, x2y1, x2y2, x1y2
    k = m[:, 2, 0] * x + m[:, 2, 1] * y + m[:, 2, 2]
    out_x = (m[:, 0, 0] * x + m[:, 0, 1] * y + m[:, 0, 2]) / k
    out_y = (m[:, 1, 0] * x + m[:, 1, 1] * y + m[:, 1, 2]) / k
    return np.stack([out_x.min(-1), out_y.min(-1), out_x.max(-1), out_y.max(-1)], axis=-1)


def stretch_boxes(boxes, scale_x, scale_y, left=0.0, top=0.0):
    """"xyxy" boxes (..., 4) scaled by (scale_x, scale_y), then moved by (-left, -top)."""
    return np.stack([boxes[..., 0] * scale_x - left, boxes[..., 1] * scale_y - top,
                     boxes[..., 2] * scale_x - left, boxes[..., 3] * scale_y - top], axis=-1)


def window_boxes(boxes, top, left, window, out_size):
    """"xyxy" boxes (n, N, 4) cut to the window ``(height, width)`` at (top, left) (numbers, or one
    per image (n,)) and scaled from its size to ``out_size``: Keras' CenterCrop arithmetic."""
    top = np.reshape(np.asarray(top, np.float32), (-1, 1))
    left = np.reshape(np.asarray(left, np.float32), (-1, 1))
    h, w = window
    x1, y1, x2, y2 = (boxes[..., i] for i in range(4))
    cut = np.stack([np.clip(x1, left, left + w) - left, np.clip(y1, top, top + h) - top,
                    np.clip(x2, left, left + w) - left, np.clip(y2, top, top + h) - top], axis=-1)
    if (h, w) == tuple(out_size):
        return cut
    # Keras: to "rel_xyxy" over the window, then back over the output
    return stretch_boxes(cut / np.array([w, h, w, h], np.float32), np.float32(out_size[1]), np.float32(out_size[0]))


def resize_boxes(boxes, in_size, out_size, crop=False, pad=False):
    """"xyxy" boxes of images of ``in_size`` resized to ``out_size`` (Keras 3.15's Resizing box
    arithmetic, in float32): stretched, or first cut (``crop``) or padded (``pad``) to the target's
    aspect ratio about the centre, with Keras' offsets (whole output pixels, floored)."""
    f = np.float32
    h, w = f(in_size[0]), f(in_size[1])
    height, width = out_size
    if pad:
        ratio = min(f(height) / h, f(width) / w)
        top, left = (f(height) - h * ratio) // 2, (f(width) - w * ratio) // 2
        return stretch_boxes(boxes, ratio, ratio, -left, -top)
    if crop:
        source, target = w / h, f(width / height)
        new_w = height * source if source > target else f(width)
        new_h = f(height) if source > target else width / source
        return stretch_boxes(boxes, new_w / w, new_h / h, (new_w - width) // 2, (new_h - height) // 2)
    return stretch_boxes(boxes, f(width) / w, f(height) / h)
