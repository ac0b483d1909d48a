"""ONNX forms of the layers that give images (or sequences, volumes) another size or layout:
``Resizing``, ``CenterCrop``, ``RandomCrop`` (its inference), the adaptive poolings,
``UpSampling1D/2D/3D``, ``DepthToSpace`` and ``SpaceToDepth`` (see glassnet._onnx_ops for the
converters' contract). Channels-first layers are transposed to channels last around their nodes,
as glassnet's forward does. Images of any size (an Input's None) are exported too: what the nodes
need of the sizes is read with Shape and worked out in the graph.

* ``Resizing``: glassnet's resize, one axis at a time, as taps (glassnet._onnx_resize): the
  constants of glassnet's own band where the axis' size is fixed, else worked out inside the graph
  from the size the file runs by glassnet's float32 steps; every interpolation ("bilinear",
  "nearest", "bicubic", "area", "lanczos3", "lanczos5") and ``antialias``, where ONNX's Resize
  has a mode for few of them and does not reproduce TensorFlow's (in onnxruntime 1.32 its
  "linear" half_pixel positions are rounded otherwise, 1.1e-5 from predict on 37-row images, its
  "tf_half_pixel_for_nn" nearest picks the other pixel of a tie, its "cubic" failed its scales
  validation, and it has no float64 kernel). ``crop_to_aspect_ratio``'s box shifts the taps'
  indices; ``pad_to_aspect_ratio`` is a Pad of ``fill_value`` first, as in glassnet; over open
  sizes the box and the pads are TensorFlow's float32 arithmetic on the sizes (``_aspect``).
* ``CenterCrop``: a Slice of the central window; an image smaller than the window is resized
  bilinearly from its centred box, as above. Over open sizes both are made (each (N, height,
  width, C), the crop's indices clipped) and a Where keeps the one the size calls for.
  ``RandomCrop`` at inference: glassnet's bilinear resize from the centred box.
* ``AdaptiveAveragePooling1D/2D/3D``, ``AdaptiveMaxPooling1D/2D/3D``: one axis at a time, the
  last first (glassnet's order); over a fixed axis each window a Slice and a ReduceMean /
  ReduceMax joined by a Concat (a Gather repeats the distinct windows where there are more
  outputs than pixels); over an open axis the windows are worked out from its size and gathered
  as (out, longest window) (``_adaptive_axis``).
* ``UpSampling``: "nearest" a Gather of ``i // size`` per axis; UpSampling2D's other
  interpolations glassnet's resize to size times the image (float64 bilinear positions, as its
  forward).
* ``DepthToSpace`` / ``SpaceToDepth``: ONNX's operators of the same names (``mode="DCR"``, whose
  channels are grouped (row, column, channel) as TensorFlow's) between two Transposes; any size.
"""
import numpy as np

from . import _onnx_resize as resize
from ._onnx_layers import _channels_first
from ._onnx_ops import Unsupported


def _channels_last(b, layer, x, rank):
    """``x`` (rank axes with the batch's) channels last, whatever the layer's data_format."""
    return b.op("Transpose", [x], perm=[0, *range(2, rank), 1]) if _channels_first(layer) else x


def _back(b, layer, y, rank):
    """``y`` (channels last) in the layer's own data_format."""
    return b.op("Transpose", [y], perm=[0, rank - 1, *range(1, rank - 1)]) if _channels_first(layer) else y


def _image_sizes(layer, shape):
    """The (height, width, channels) of a sample of ``shape`` (the layer's data_format); a height
    or width an Input leaves open is None."""
    return (shape[1], shape[2], shape[0]) if _channels_first(layer) else tuple(shape)


def _slice(b, x, starts, ends, axes):
    return b.op("Slice", [x, b.ints(starts), b.ints(ends), b.ints(axes)])


def _resize(b, x, box, height, width, interpolation, antialias=False, channels=None, whole=True):
    """Images ``x`` (N, H, W, C) resized to (N, height, width, C) from their ``box``: per axis
    ``(start, length)``, ints where the export knows them (glassnet's own band, constants), else
    int64 scalar tensors (the taps worked out when the file runs). An axis resized to its own size
    by taps that change nothing is left as it is, or (not ``whole``: a crop's box, which may be
    shorter than the axis though it starts at 0) sliced to the box."""
    for axis, ((start, length), out) in enumerate(zip(box, (height, width)), start=1):
        if isinstance(start, int) and isinstance(length, int):
            taps = resize.static_taps(interpolation, out, length, antialias)
            if resize.is_identity(taps):
                if not whole:
                    x = _slice(b, x, [start], [start + length], [axis])
                continue
            x = resize.apply_static(b, x, axis, taps, _after(axis, channels), start)
        else:
            indices, weights, t = resize.runtime_taps(b, interpolation, _tensor(b, length), out, antialias)
            if not (isinstance(start, int) and start == 0):
                indices = b.op("Add", [indices, _tensor(b, start)])
            x = resize.apply_runtime(b, x, axis, (indices, weights, t), _after(axis, channels))
    return x


def _after(axis, channels):
    """The sizes after ``axis`` of the images ``_resize`` resizes, as ``_onnx_resize.apply_static``
    takes them: the rows' resize leaves the width out (None: its spans are long already), the
    columns' sees the channels."""
    return [channels] if axis == 2 else [None, channels]


def _tensor(b, n):
    """An int (known at export) or an int64 scalar tensor, as a tensor."""
    return b.ints(n, "size") if isinstance(n, int) else n


def _lengths(b, x, h, w):
    """The images' height and width: each an int where the export knows it, else an int64
    scalar tensor read with Shape."""
    return tuple(resize.axis_length(b, x, axis) if n is None else n for axis, n in ((1, h), (2, w)))


def _together(b, h, w):
    """(h, w) both ints, or both tensors where one is (the aspect ratio ties them together)."""
    return (h, w) if isinstance(h, int) and isinstance(w, int) else (_tensor(b, h), _tensor(b, w))


def _aspect(b, h, w, height, width, crop):
    """glassnet.layers.resizing._aspect_box on int64 scalar tensors ``h``, ``w``: for ``crop``
    ``(top, kept height, left, kept width)``, else the fill's ``(top, left)``; the same float32
    steps (``int(float32(w * height) / float32(width))``: Cast, Div, a Cast back truncating)."""
    def scaled(n, numerator, denominator):
        product = resize._cast(b, b.op("Mul", [n, b.ints(numerator)]), np.float32)
        return resize._cast(b, b.op("Div", [product, b.const_as(float(denominator), np.float32)]), np.int64)
    two = b.ints(2)
    if crop:
        kept_h = b.op("Max", [b.op("Min", [h, scaled(w, height, width)]), b.ints(1)])
        kept_w = b.op("Max", [b.op("Min", [w, scaled(h, width, height)]), b.ints(1)])
        # int((h - kept) / 2): the halves of non-negative ints
        return (b.op("Div", [b.op("Sub", [h, kept_h]), two]), kept_h,
                b.op("Div", [b.op("Sub", [w, kept_w]), two]), kept_w)
    padded_h = b.op("Max", [h, scaled(w, height, width)])
    padded_w = b.op("Max", [w, scaled(h, width, height)])
    return b.op("Div", [b.op("Sub", [padded_h, h]), two]), b.op("Div", [b.op("Sub", [padded_w, w]), two])


def _cropped_box(b, x, h, w, height, width):
    """The largest centred box of the target's aspect ratio in images ``x`` (N, h, w, C)
    (glassnet's crop_to_aspect_ratio): ``((top, kept height), (left, kept width))``."""
    if isinstance(h, int):
        from .layers.resizing import _aspect_box
        top, kept_h, left, kept_w = _aspect_box(h, w, height, width, crop=True)
    else:
        top, kept_h, left, kept_w = _aspect(b, h, w, height, width, crop=True)
    return (top, kept_h), (left, kept_w)


def _resizing(b, layer, xs, shapes):
    return _resize_images(b, layer, xs, shapes, layer.interpolation, layer.crop_to_aspect_ratio,
                          layer.pad_to_aspect_ratio, layer.antialias)


def _random_crop(b, layer, xs, shapes):
    # at inference glassnet's RandomCrop resizes each image bilinearly from its largest centred box
    # of the window's aspect ratio (Resizing(crop_to_aspect_ratio=True)); an image of the window's
    # size is kept as it is (taps that change nothing: no node)
    return _resize_images(b, layer, xs, shapes, "bilinear", True, False, False)


def _resize_images(b, layer, xs, shapes, interpolation, crop, pad, antialias):
    """Resizing's nodes (RandomCrop's at inference): the crop or pad to the target's aspect ratio,
    then the resize (``pad``: the layer's ``fill_value``)."""
    h, w, _ = _image_sizes(layer, shapes[0])
    x = _channels_last(b, layer, xs[0], 4)
    # an axis of a fixed size keeps its constant taps unless the aspect ratio ties it to the other
    h, w = _lengths(b, x, h, w)
    box = ((0, h), (0, w))
    if crop or pad:
        h, w = _together(b, h, w)
    if crop:
        box = _cropped_box(b, x, h, w, layer.height, layer.width)
    elif pad:
        if isinstance(h, int):
            from .layers.resizing import _aspect_box
            top, left = _aspect_box(h, w, layer.height, layer.width, crop=False)
            pads = b.ints([0, top, left, 0, 0, top, left, 0]) if top or left else None
            box = ((0, h + 2 * top), (0, w + 2 * left))
        else:
            top, left = _aspect(b, h, w, layer.height, layer.width, crop=False)
            zero = b.ints([0])
            sides = [zero, *(b.op("Unsqueeze", [v, b.ints([0])]) for v in (top, left)), zero]
            pads = b.op("Concat", sides + sides, axis=0)
            twice = lambda n, v: b.op("Add", [n, b.op("Mul", [v, b.ints(2)])])       # noqa: E731
            box = ((0, twice(h, top)), (0, twice(w, left)))
        if pads is not None:        # the same number of rows (columns) of fill on both sides
            x = b.op("Pad", [x, pads, b.const(layer.fill_value, "fill_value")], mode="constant")
    y = _resize(b, x, box, layer.height, layer.width, interpolation, antialias, _image_sizes(layer, shapes[0])[2],
                whole=not crop)
    return _back(b, layer, b.op("Identity", [y]) if y == xs[0] else y, 4)


def _center_crop(b, layer, xs, shapes):
    h, w, _ = _image_sizes(layer, shapes[0])
    x = _channels_last(b, layer, xs[0], 4)
    if h is not None and w is not None:
        if h >= layer.height and w >= layer.width:
            # (h - height) // 2 rows above, as glassnet's forward (and Keras) count them
            top, left = (h - layer.height) // 2, (w - layer.width) // 2
            y = _slice(b, x, [top, left], [top + layer.height, left + layer.width], [1, 2])
        else:               # too small along an axis: resized bilinearly from the centred box
            y = _resize(b, x, _cropped_box(b, x, h, w, layer.height, layer.width), layer.height, layer.width,
                        "bilinear", channels=_image_sizes(layer, shapes[0])[2], whole=False)
        return _back(b, layer, y, 4)
    # any size: which of the two is decided when the file runs; both are (N, height, width, C)
    # (the crop's rows clipped to the image where it is too small and the crop unused), and Where
    # keeps the one glassnet's forward takes
    h, w = _together(b, *_lengths(b, x, h, w))
    cropped = x
    for axis, (n, out) in enumerate(((h, layer.height), (w, layer.width)), start=1):
        first = b.op("Div", [b.op("Sub", [n, b.ints(out)]), b.ints(2)])
        rows = b.op("Add", [first, b.ints(np.arange(out), "window")])
        cropped = b.op("Gather", [cropped, resize._clip(b, rows, n)], axis=axis)
    resized = _resize(b, x, _cropped_box(b, x, h, w, layer.height, layer.width), layer.height, layer.width,
                      "bilinear", channels=_image_sizes(layer, shapes[0])[2], whole=False)
    fits = b.op("And", [b.op("GreaterOrEqual", [h, b.ints(layer.height)]),
                        b.op("GreaterOrEqual", [w, b.ints(layer.width)])])
    return _back(b, layer, b.op("Where", [fits, cropped, resized]), 4)


def _adaptive_pooling(b, layer, xs, shapes):
    from .layers.adaptive_pooling import distinct_windows
    rank = len(shapes[0]) + 1
    shape = tuple(shapes[0])
    spatial = shape[1:] if _channels_first(layer) else shape[:-1]
    if 0 in spatial:
        raise Unsupported(f"{layer.describe()}: every spatial axis needs at least one pixel to pool, got "
                          f"samples of shape {shape}")
    reduce = "ReduceMean" if layer.kind == "average" else "ReduceMax"
    x = _channels_last(b, layer, xs[0], rank)
    for axis in reversed(range(1, rank - 1)):           # the last spatial axis first, as glassnet's
        if spatial[axis - 1] is None:
            x = _adaptive_axis(b, x, axis, rank, layer.output_size[axis - 1], layer.kind)
            continue
        windows, repeats = distinct_windows(spatial[axis - 1], layer.output_size[axis - 1])
        if windows == [(k, k + 1) for k in range(spatial[axis - 1])] and repeats is None:
            continue                                     # one pixel per output: nothing to pool
        parts = [b.op(reduce, [_slice(b, x, [start], [end], [axis])], axes=[axis], keepdims=1)
                 for start, end in windows]
        x = parts[0] if len(parts) == 1 else b.op("Concat", parts, axis=axis)
        if repeats is not None:       # each distinct window's value at every output that reads it
            x = b.op("Gather", [x, b.ints(np.repeat(np.arange(len(windows)), repeats))], axis=axis)
    return _back(b, layer, x, rank)


def _adaptive_axis(b, x, axis, rank, out, kind):
    """``x`` pooled along ``axis`` (of any length n, read with Shape) into ``out`` windows,
    ``[floor(i n / out), ceil((i + 1) n / out))`` (glassnet.layers.adaptive_pooling's): the windows'
    pixels gathered as (out, K), K the longest window's length, each window's extra places
    repeating its last pixel; the maximum over them, or the sum of the window's own over its
    length (the mean, as glassnet's: the sum, then one division)."""
    n = resize.axis_length(b, x, axis)
    i = np.arange(out)
    starts = b.op("Div", [b.op("Mul", [b.ints(i, "windows"), n]), b.ints(out)])
    ends = b.op("Div", [b.op("Add", [b.op("Mul", [b.ints(i + 1, "windows"), n]), b.ints(out - 1)]), b.ints(out)])
    lengths = b.op("Sub", [ends, starts])
    longest = b.op("ReduceMax", [lengths], keepdims=0)
    at = b.op("Add", [b.op("Unsqueeze", [starts, b.ints([1])]), b.op("Range", [b.ints(0), longest, b.ints(1)])])
    last = b.op("Unsqueeze", [b.op("Sub", [ends, b.ints(1)]), b.ints([1])])
    gathered = b.op("Gather", [x, b.op("Min", [at, last])], axis=axis)        # (.., out, K, ..)
    if kind == "max":
        return b.op("ReduceMax", [gathered], axes=[axis + 1], keepdims=0)
    after = [1] * (rank - axis - 1)
    inside = b.op("Reshape", [b.op("LessOrEqual", [at, last]), b.ints([out, -1, *after])])
    total = b.op("ReduceSum", [b.op("Where", [inside, gathered, b.const(0.0)]), b.ints([axis + 1])], keepdims=0)
    count = b.op("Reshape", [resize._cast(b, lengths, b.dtype), b.ints([out, *after])])
    return b.op("Div", [total, count])


def _upsampling(b, layer, xs, shapes):
    """UpSampling1D/2D/3D: "nearest" repeats each pixel ``size`` times along each axis (a Gather of
    ``i // size``, exact); UpSampling2D's other interpolations are glassnet's resize of the image
    to ``size`` times its sizes (its bilinear positions in float64, as UpSampling2D's forward takes
    them). Any size: the indices (and the taps) are worked out from the sizes the file runs."""
    rank = len(shapes[0]) + 1
    shape = tuple(shapes[0])
    spatial, channels = (shape[1:], shape[0]) if _channels_first(layer) else (shape[:-1], shape[-1])
    x = _channels_last(b, layer, xs[0], rank)
    interpolation = getattr(layer, "interpolation", "nearest")
    for axis, (n, factor) in enumerate(zip(spatial, layer.size), start=1):
        if interpolation != "nearest":
            if n is None:
                n = resize.axis_length(b, x, axis)
                taps = resize.runtime_taps(b, interpolation, n, b.op("Mul", [n, b.ints(factor)]),
                                           bilinear_float32=False)
                x = resize.apply_runtime(b, x, axis, taps, _after(axis, channels))
            else:
                x = resize.apply_static(b, x, axis, resize.static_taps(interpolation, n * factor, n,
                                                                        bilinear_float32=False), _after(axis, channels))
        elif factor != 1:
            if n is None:
                n = resize.axis_length(b, x, axis)
                places = b.op("Range", [b.ints(0), b.op("Mul", [n, b.ints(factor)]), b.ints(1)])
                sources = b.op("Div", [places, b.ints(factor)])
            else:
                sources = b.ints(np.repeat(np.arange(n), factor), "repeats")
            x = b.op("Gather", [x, sources], axis=axis)
    return _back(b, layer, b.op("Identity", [x]) if x == xs[0] else x, rank)


def _rearrange(op):
    def convert(b, layer, xs, shapes):
        # glassnet's layers are channels last only: NHWC -> NCHW, ONNX's operator, -> NHWC
        y = b.op(op, [b.op("Transpose", xs, perm=[0, 3, 1, 2])], blocksize=layer.block_size,
                 **({"mode": "DCR"} if op == "DepthToSpace" else {}))
        return b.op("Transpose", [y], perm=[0, 2, 3, 1])
    return convert


CONVERTERS = {
    "Resizing": _resizing, "CenterCrop": _center_crop, "RandomCrop": _random_crop,
    **dict.fromkeys([f"Adaptive{kind}Pooling{d}D" for kind in ("Average", "Max") for d in (1, 2, 3)],
                    _adaptive_pooling),
    "DepthToSpace": _rearrange("DepthToSpace"), "SpaceToDepth": _rearrange("SpaceToDepth"),
    "UpSampling1D": _upsampling, "UpSampling2D": _upsampling, "UpSampling3D": _upsampling,
}
