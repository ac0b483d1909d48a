"""ONNX forms of the layers that give images (or sequences, volumes) another size or layout:
``Resizing``, ``CenterCrop``, the adaptive poolings, ``DepthToSpace`` and ``SpaceToDepth``
(see glassnet._onnx_ops for the converters' contract). Channels-first layers are transposed to
channels last around their nodes, as glassnet's forward does.

* ``Resizing``: glassnet's resize is two weight matrices, (height, H) for the rows and (width, W)
  for the columns (glassnet.layers.resizing.axis_weights: TensorFlow's half-pixel kernels). The
  file holds those very matrices and applies them with two MatMuls, so every interpolation
  ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5") and ``antialias`` is
  reproduced, not just those ONNX's Resize has a mode for (its "cubic" normalises its weights
  otherwise at the edges, its "nearest" rounds positions in the other precision). The
  crop (``crop_to_aspect_ratio``: a Slice) or pad (``pad_to_aspect_ratio``: a Pad of
  ``fill_value``) comes first, as in glassnet. The matrices need the input's height and width:
  images of any size (an Input of None) are refused by name. ONNX's Resize, which would take
  any size, was tried and does not reproduce TensorFlow's kernels in onnxruntime 1.32: its
  "linear" half_pixel positions are rounded otherwise (1.1e-5 from predict on 37-row images),
  its "tf_half_pixel_for_nn" nearest picks the other pixel of a tie (26 columns to 1: column
  12, where TensorFlow and glassnet take 13), its "cubic" (a=-0.5, exclude_outside) failed
  onnxruntime's scales validation on the 4-D images tried, and it has no float64 kernel.
* ``CenterCrop``: a Slice of the central window; an image smaller than the window is resized
  bilinearly from its centred box, as above. Fixed sizes only.
* ``AdaptiveAveragePooling1D/2D/3D``, ``AdaptiveMaxPooling1D/2D/3D``: one axis at a time, the
  last first (glassnet's order), each window a Slice and a ReduceMean / ReduceMax joined by a
  Concat; where there are more outputs than pixels the distinct windows are pooled once and a
  Gather repeats them. Fixed sizes only (the windows are worked out from them).
* ``DepthToSpace`` / ``SpaceToDepth``: ONNX's operators of the same names (``mode="DCR"``, whose
  channels are grouped (row, column, channel) as TensorFlow's) between two Transposes; any size.
"""
import numpy as np

from ._onnx_layers import _channels_first, _static
from ._onnx_ops import Unsupported


def _channels_last(b, layer, x, rank):
    """``x`` (rank axes with the batch's) channels last, whatever the layer's data_format."""
    return b.op("Transpose", [x], perm=[0, *range(2, rank), 1]) if _channels_first(layer) else x


def _back(b, layer, y, rank):
    """``y`` (channels last) in the layer's own data_format."""
    return b.op("Transpose", [y], perm=[0, rank - 1, *range(1, rank - 1)]) if _channels_first(layer) else y


def _image_sizes(layer, shape, why):
    """The (height, width, channels) of a sample of ``shape`` (the layer's data_format), refused
    by name when the height or the width is open."""
    h, w, c = (shape[1], shape[2], shape[0]) if _channels_first(layer) else tuple(shape)
    _static(layer, (h, w), why)
    return h, w, c


def _slice(b, x, starts, ends, axes):
    return b.op("Slice", [x, b.ints(starts), b.ints(ends), b.ints(axes)])


def _resize(b, x, in_h, in_w, height, width, interpolation, antialias=False):
    """Images ``x`` (N, in_h, in_w, C) resized to (N, height, width, C) by glassnet's weight
    matrices (one axis skipped where its matrix is the identity)."""
    from .layers.resizing import axis_weights
    rows = axis_weights(interpolation, height, in_h, antialias)          # (height, in_h)
    columns = axis_weights(interpolation, width, in_w, antialias)       # (width, in_w)
    same_rows = rows.shape[0] == rows.shape[1] and np.array_equal(rows, np.eye(in_h))
    same_columns = columns.shape[0] == columns.shape[1] and np.array_equal(columns, np.eye(in_w))
    if not same_rows:
        # (N, H, W, C) -> (N, W, C, H) @ (H, height) -> (N, W, C, height) -> (N, height, W, C)
        y = b.op("MatMul", [b.op("Transpose", [x], perm=[0, 2, 3, 1]), b.const(rows.T, "resize_rows")])
        x = b.op("Transpose", [y], perm=[0, 3, 1, 2])
    if not same_columns:
        # (N, height, W, C) -> (N, height, C, W) @ (W, width) -> (N, height, C, width) -> channels last
        y = b.op("MatMul", [b.op("Transpose", [x], perm=[0, 1, 3, 2]), b.const(columns.T, "resize_columns")])
        x = b.op("Transpose", [y], perm=[0, 1, 3, 2])
    return x if not (same_rows and same_columns) else b.op("Identity", [x])


def _cropped_box(b, x, h, w, height, width):
    """Images ``x`` (N, h, w, C) cut to their largest centred box of the target's aspect ratio
    (glassnet's crop_to_aspect_ratio); returns the tensor and the box's height and width."""
    from .layers.resizing import _aspect_box
    top, kept_h, left, kept_w = _aspect_box(h, w, height, width, crop=True)
    if (kept_h, kept_w) != (h, w):
        x = _slice(b, x, [top, left], [top + kept_h, left + kept_w], [1, 2])
    return x, kept_h, kept_w


def _resizing(b, layer, xs, shapes):
    h, w, _ = _image_sizes(layer, shapes[0], "Resizing (its weight matrices are worked out from the image's size)")
    x = _channels_last(b, layer, xs[0], 4)
    if layer.crop_to_aspect_ratio:
        x, h, w = _cropped_box(b, x, h, w, layer.height, layer.width)
    elif layer.pad_to_aspect_ratio:
        from .layers.resizing import _aspect_box
        top, left = _aspect_box(h, w, layer.height, layer.width, crop=False)
        if top or left:             # the same number of rows (columns) of fill on both sides
            pads = [0, top, left, 0, 0, top, left, 0]
            x = b.op("Pad", [x, b.ints(pads), b.const(layer.fill_value, "fill_value")], mode="constant")
            h, w = h + 2 * top, w + 2 * left
    y = _resize(b, x, h, w, layer.height, layer.width, layer.interpolation, layer.antialias)
    return _back(b, layer, y, 4)


def _center_crop(b, layer, xs, shapes):
    h, w, _ = _image_sizes(layer, shapes[0], "CenterCrop")
    x = _channels_last(b, layer, xs[0], 4)
    if h >= layer.height and w >= layer.width:
        # (h - height) // 2 rows above, as glassnet's forward (and Keras) count them
        top, left = (h - layer.height) // 2, (w - layer.width) // 2
        y = _slice(b, x, [top, left], [top + layer.height, left + layer.width], [1, 2])
    else:                   # too small along an axis: resized bilinearly from the centred box
        x, h, w = _cropped_box(b, x, h, w, layer.height, layer.width)
        y = _resize(b, x, h, w, layer.height, layer.width, "bilinear")
    return _back(b, layer, y, 4)


def _adaptive_pooling(b, layer, xs, shapes):
    from .layers.adaptive_pooling import distinct_windows
    rank = len(shapes[0]) + 1
    shape = tuple(shapes[0])
    spatial = shape[1:] if _channels_first(layer) else shape[:-1]
    _static(layer, spatial, f"{type(layer).__name__} (its windows are worked out from the input's size)")
    if 0 in spatial:
        raise Unsupported(f"{layer.describe()}: every spatial axis needs at least one pixel to pool, got "
                          f"samples of shape {shape}")
    reduce = "ReduceMean" if layer.kind == "average" else "ReduceMax"
    x = _channels_last(b, layer, xs[0], rank)
    for axis in reversed(range(1, rank - 1)):           # the last spatial axis first, as glassnet's
        windows, repeats = distinct_windows(spatial[axis - 1], layer.output_size[axis - 1])
        if windows == [(k, k + 1) for k in range(spatial[axis - 1])] and repeats is None:
            continue                                     # one pixel per output: nothing to pool
        parts = [b.op(reduce, [_slice(b, x, [start], [end], [axis])], axes=[axis], keepdims=1)
                 for start, end in windows]
        x = parts[0] if len(parts) == 1 else b.op("Concat", parts, axis=axis)
        if repeats is not None:       # each distinct window's value at every output that reads it
            x = b.op("Gather", [x, b.ints(np.repeat(np.arange(len(windows)), repeats))], axis=axis)
    return _back(b, layer, x, rank)


def _rearrange(op):
    def convert(b, layer, xs, shapes):
        # glassnet's layers are channels last only: NHWC -> NCHW, ONNX's operator, -> NHWC
        y = b.op(op, [b.op("Transpose", xs, perm=[0, 3, 1, 2])], blocksize=layer.block_size,
                 **({"mode": "DCR"} if op == "DepthToSpace" else {}))
        return b.op("Transpose", [y], perm=[0, 2, 3, 1])
    return convert


CONVERTERS = {
    "Resizing": _resizing, "CenterCrop": _center_crop,
    **dict.fromkeys([f"Adaptive{kind}Pooling{d}D" for kind in ("Average", "Max") for d in (1, 2, 3)],
                    _adaptive_pooling),
    "DepthToSpace": _rearrange("DepthToSpace"), "SpaceToDepth": _rearrange("SpaceToDepth"),
}
