"""keras.ops' convolutions and poolings, and ``ops.image.extract_patches``: their settings, shapes,
forward and backward, on arrays (glassnet.ops on arrays) and as ``TensorFunction`` nodes (on tensors).

No kernel of their own: each runs the layers' (conv.py's im2col ``conv_forward`` and
``conv_transpose_forward``, depthwise.py's shift and add, pooling.py's window loops), so the ops
and the layers compute alike. A rank-1 input (N, L, C) runs as images of height 1, as the layers'
(``RankOneAsTwo``); ``data_format="channels_first"`` moves the channels last and back around them.

Shapes (channels last; ``*s`` the spatial axes, 1 to 3 of them; depthwise_conv 1 or 2):
    conv            x (N, *s, C), kernel (*window, C, F)            -> (N, *s', F)
    depthwise_conv  x (N, *s, C), kernel (*window, C, M)            -> (N, *s', C * M)
    conv_transpose  x (N, *s, C), kernel (*window, F, C)            -> (N, *s'', F)
    max_pool, average_pool  x (N, *s, C)                            -> (N, *s', C)
    extract_patches x (N, H, W, C) or (N, D, H, W, C), size (*window) -> (N, *s', prod(window) * C)

The kernel of conv, depthwise_conv and conv_transpose is the node's ``constant`` (an array, or a
weight of a drawn call: glassnet._call_weights), which takes its gradient at backward.
"""
import math
import numbers

import numpy as np

from .. import backend
from .conv import (_crop, col2im, conv_backward, conv_forward, conv_output_length, conv_transpose_backward,
                   conv_transpose_forward, conv_transpose_output_length, im2col, padded_input)
from .depthwise import depthwise_backward, depthwise_forward
from .pooling import avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward

_WINDOW = {"strides": 1, "padding": "valid", "data_format": None, "dilation_rate": 1}
_POOL = {"pool_size": None, "strides": None, "padding": "valid", "data_format": None}
# each op's Keras arguments besides its tensors and kernel (None: required or Keras' default None)
ARGUMENTS = {
    "conv": dict(_WINDOW), "depthwise_conv": dict(_WINDOW),
    "conv_transpose": {"strides": 1, "padding": "valid", "output_padding": None, "data_format": None,
                       "dilation_rate": 1},
    "max_pool": dict(_POOL), "average_pool": dict(_POOL),
    "extract_patches": {"size": None, "strides": None, "dilation_rate": 1, "padding": "valid", "data_format": None},
}
KERNEL_OPS = ("conv", "depthwise_conv", "conv_transpose")      # a kernel operand (constant or weight)
DATA_FORMATS = ("channels_last", "channels_first")


# -- arguments -----------------------------------------------------------------------------------
def _sizes(value, what, who, minimum=1, optional=False):
    """An int or a tuple of ints >= ``minimum`` (None where ``optional``), in JSON's form."""
    if value is None and optional:
        return None
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items or not all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) and v >= minimum
                            for v in items):
        raise ValueError(f"{who}: {what} must be an integer >= {minimum} or a tuple of them, one per spatial axis, "
                         f"got {value!r:.60}")
    return [int(v) for v in items] if isinstance(value, (list, tuple)) else int(value)


def arguments(op, args, who):
    """``args`` (Keras' defaults filled in) checked, in the JSON forms a config keeps."""
    padding = args["padding"]
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"{who}: padding must be 'valid' or 'same', got {padding!r:.40}")
    args["padding"] = padding.lower()
    data_format = backend.standardize_data_format(args["data_format"])      # None: image_data_format()
    if data_format not in DATA_FORMATS:
        raise ValueError(f"{who}: data_format must be 'channels_last' or 'channels_first' (or None: backend.image_data_format()), "
                         f"got {args['data_format']!r:.40}")
    args["data_format"] = data_format
    if op in ("max_pool", "average_pool"):
        args["pool_size"] = _sizes(args["pool_size"], "pool_size", who)
        args["strides"] = _sizes(args["strides"], "strides", who, optional=True)
        return args
    if op == "extract_patches":
        args["size"] = _sizes(args["size"], "size", who)
        if isinstance(args["size"], list) and len(args["size"]) not in (2, 3):
            raise ValueError(f"{who}: size must be an integer or a tuple of 2 (images) or 3 (volumes), "
                             f"got {tuple(args['size'])}")
        # Keras' `if not strides: strides = size` (0 and () too)
        args["strides"] = _sizes(args["strides"] or None, "strides", who, optional=True)
    else:
        args["strides"] = _sizes(args["strides"], "strides", who)
    args["dilation_rate"] = _sizes(args["dilation_rate"], "dilation_rate", who)
    if op == "conv_transpose":
        args["output_padding"] = _sizes(args["output_padding"], "output_padding", who, minimum=0, optional=True)
        if args["dilation_rate"] not in (1, [1], [1, 1], [1, 1, 1]):
            raise ValueError(f"{who}: dilation_rate > 1 is not implemented for conv_transpose (glassnet's transposed "
                             f"convolutions have none), got {args['dilation_rate']!r}")
    return args


def _per_axis(value, rank, what, who):
    values = (value,) * rank if isinstance(value, int) else tuple(value)
    if len(values) != rank:
        raise ValueError(f"{who}: {what} {tuple(values)} gives {len(values)} sizes for inputs of {rank} spatial axes")
    return values


def geometry(op, args, sample_rank, kernel_shape, who):
    """The op's window settings, one per spatial axis: (window, strides, dilation, output_padding)."""
    rank = sample_rank - 1
    if rank < 1 or rank > (2 if op == "depthwise_conv" else 3) or (op == "extract_patches" and rank < 2):
        wanted = {"depthwise_conv": "1 or 2", "extract_patches": "2 or 3"}.get(op, "1 to 3")
        raise ValueError(f"{who}: {op} takes inputs of {wanted} spatial axes plus channels (batch first), got "
                         f"samples of {sample_rank} axes")
    if op in KERNEL_OPS:
        if len(kernel_shape) != rank + 2:
            raise ValueError(f"{who}: {op}'s kernel must have {rank + 2} axes (*window, in, out) for inputs of {rank} "
                             f"spatial axes, got shape {tuple(kernel_shape)}")
        window = tuple(kernel_shape[:rank])
    elif op == "extract_patches":
        window = _per_axis(args["size"], rank, "size", who)
    else:
        window = _per_axis(args["pool_size"], rank, "pool_size", who)
    strides = window if args["strides"] is None else _per_axis(args["strides"], rank, "strides", who)
    dilation = _per_axis(args.get("dilation_rate", 1), rank, "dilation_rate", who)
    padding = args.get("output_padding")
    padding = None if padding is None else _per_axis(padding, rank, "output_padding", who)
    return window, strides, dilation, padding


def _transpose_lengths(sizes, window, strides, padding, output_padding, who):
    out = []
    for size, k, s, p in zip(sizes, window, strides, output_padding or (None,) * len(window)):
        if size is None:
            out.append(None)
            continue
        length = conv_transpose_output_length(size, k, s, padding, p)
        # the convolution it is the adjoint of must take that length back to `size`
        if length < 1 or conv_output_length(length, k, s, padding)[0] != size:
            raise ValueError(f"{who}: output_padding {output_padding} gives outputs of length {length} for inputs "
                             f"of {size}, which a {padding!r} convolution of kernel {k} and stride {s} does not "
                             f"take back to {size}")
        out.append(length)
    return out


def output_shape(op, args, shape, kernel_shape, who):
    """The output's sample shape for input samples of ``shape`` (None where any size)."""
    shape = tuple(shape)
    if args["data_format"] == "channels_first":
        shape = (*shape[1:], shape[0]) if shape else shape
    window, strides, dilation, output_padding = geometry(op, args, len(shape), kernel_shape, who)
    *sizes, channels = shape
    if op in KERNEL_OPS:
        wanted = kernel_shape[-1] if op == "conv_transpose" else kernel_shape[-2]
        if channels is not None and channels != wanted:
            raise ValueError(f"{who}: {op}'s kernel of shape {tuple(kernel_shape)} takes {wanted} input channels, "
                             f"got inputs of {channels} (samples {tuple(shape)}, channels last)")
    if op == "conv_transpose":
        out = _transpose_lengths(sizes, window, strides, args["padding"], output_padding, who)
    else:
        out = []
        for size, k, s, d in zip(sizes, window, strides, dilation):
            try:
                out.append(conv_output_length(size, k, s, args["padding"], d)[0])
            except ValueError as error:
                raise ValueError(f"{who}: {op}'s window {window} does not fit samples {tuple(shape)} with padding="
                                 f"{args['padding']!r} ({error})") from None
    if op == "conv":
        last = kernel_shape[-1]
    elif op == "conv_transpose":
        last = kernel_shape[-2]
    elif op == "depthwise_conv":
        last = None if channels is None else channels * kernel_shape[-1]
    elif op == "extract_patches":
        last = None if channels is None else math.prod(window) * channels
    else:
        last = channels
    result = (*out, last)
    return (result[-1], *result[:-1]) if args["data_format"] == "channels_first" else result


# -- computing -----------------------------------------------------------------------------------
def forward(op, args, x, kernel, who):
    """The op on a batch ``x`` (N, *sample), with ``kernel`` (None for the poolings and
    extract_patches): ``(y, cache)`` for ``backward``."""
    output_shape(op, args, x.shape[1:], None if kernel is None else kernel.shape, who)       # refuses by name
    xp = backend.get_array_module(x)
    first = args["data_format"] == "channels_first"
    if first:
        x = xp.moveaxis(x, 1, -1)
    window, strides, dilation, output_padding = geometry(op, args, x.ndim - 1, getattr(kernel, "shape", ()), who)
    lift = x.ndim == 3          # (N, L, C) as images of height 1, (N, 1, L, C), as the layers run it
    if lift:
        x, window, strides, dilation = x[:, None], (1, *window), (1, *strides), (1, *dilation)
        kernel = None if kernel is None else kernel[None]
        output_padding = None if output_padding is None else (0, *output_padding)
    padding = args["padding"]
    if op == "conv":
        y, cache = conv_forward(x, kernel, None, strides, padding, dilation)
    elif op == "depthwise_conv":
        y, cache = depthwise_forward(x, kernel, strides, padding, dilation)
        cache = (cache, x)
    elif op == "conv_transpose":
        out = _transpose_lengths(x.shape[1:-1], window, strides, padding, output_padding, who)
        y, cache = conv_transpose_forward(x, kernel, None, strides, padding, out)
    elif op == "max_pool":
        y, cache = max_pool_forward(x, window, strides, padding)
    elif op == "average_pool":
        y, cache = avg_pool_forward(x, window, strides, padding)
    else:
        y, cache = _patches(x, window, strides, padding, dilation, who)
    if lift:
        y = y[:, 0]
    if first:
        y = xp.moveaxis(y, -1, 1)
    return xp.ascontiguousarray(y), (cache, lift, first)


def backward(op, g, state, kernel, kernel_gradient=True):
    """dL/dx (and dL/dkernel, or None) from dL/dy ``g``, with ``forward``'s cache ``state``."""
    cache, lift, first = state
    xp = backend.get_array_module(g)
    if first:
        g = xp.moveaxis(g, 1, -1)
    if lift:
        g = g[:, None]
        kernel = None if kernel is None else kernel[None]
    g = xp.ascontiguousarray(g)
    dkernel = None
    if op == "conv":
        dx, dkernel, _ = conv_backward(g, cache, kernel)
    elif op == "depthwise_conv":
        dx, dkernel = depthwise_backward(g, cache[0], kernel, cache[1])
    elif op == "conv_transpose":
        dx, dkernel, _ = conv_transpose_backward(g, cache, kernel)
    elif op == "max_pool":
        dx = max_pool_backward(g, cache)
    elif op == "average_pool":
        dx = avg_pool_backward(g, cache)
    else:
        dx = _patches_backward(g, cache)
    if lift:
        dx, dkernel = dx[:, 0], None if dkernel is None else dkernel[0]
    if first:
        dx = xp.moveaxis(dx, -1, 1)
    return xp.ascontiguousarray(dx), dkernel


def _patches(x, window, strides, padding, dilation, who):
    """Every window's pixels as one vector, (kh, kw, C) in row-major order: im2col's rows, which is
    Keras' extract_patches (a convolution with an identity kernel) without the product."""
    padded, strides, dilation, out_shape, pads = padded_input(x, window, strides, padding, dilation, who)
    cols = im2col(padded, window, strides, out_shape, dilation=dilation)
    return cols.reshape(x.shape[0], *out_shape, -1), (padded.shape, window, strides, out_shape, pads, dilation)


def _patches_backward(g, cache):
    """Each patch entry's gradient added back onto the pixel it was read from (col2im)."""
    padded_shape, window, strides, out_shape, pads, dilation = cache
    c = padded_shape[-1]
    xp = backend.get_array_module(g)
    # col2im's layout: one (N * positions, C) block per window offset
    dfields = xp.ascontiguousarray(g.reshape(-1, math.prod(window), c).transpose(1, 0, 2))
    return _crop(col2im(dfields, padded_shape, window, strides, out_shape, dilation), pads)
