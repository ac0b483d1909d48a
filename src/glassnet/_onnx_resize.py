"""A resize along one axis in an ONNX graph, as taps: output o is ``sum_k w[o, k] x[idx[o, k]]``
(glassnet.layers.resizing's and glassnet.layers.resample's taps, what glassnet.layers.banded
applies). Used by glassnet._onnx_images (Resizing, CenterCrop, RandomCrop, UpSampling2D).

* An axis of a size fixed in the model: the taps are glassnet's own band of that resize
  (``static_taps``: ``axis_band``, its weights in float64 as glassnet computes them), written as
  constants. Each tap is a Gather and a multiply-add, so the file holds out_len x taps numbers per
  axis, not the (out_len, in_len) matrix, and the work is taps multiply-adds per output pixel;
  "nearest" (and a crop) is one Gather, exact. An axis of many taps (lanczos, antialias) not much
  longer than them is one MatMul by the band's dense matrix instead (``DENSE_TAPS``).
* An axis of any size (an Input's None): the taps are worked out inside the graph from the size
  the file runs (``runtime_taps``, n read with Shape), by the very float32 steps glassnet's
  functions take (TensorFlow's: its scales, half-pixel positions, Floor, the bicubic table read by
  Gather, the kernels, the sums that normalise them taken left to right with CumSum), cast to the
  model's dtype after, as glassnet casts its float32 weights; so a float64 model mixes its pixels
  by exactly glassnet's weights. Where the number of taps depends on n ("area", ``antialias``)
  the taps are an (out, t) Gather whose extra axis is summed.

The indices are clipped to the image, as glassnet's bands read the edge pixel past an edge.
"""
import numpy as np

from . import _onnx_proto as proto

F32 = np.float32
# TensorFlow's kTableSize (glassnet.layers.resample): the bicubic table's steps
_TABLE_SIZE = 1024


def _f32(b, value, hint="resize_constant"):
    return b.const_as(np.asarray(value, F32), F32, hint)


def _cast(b, x, dtype):
    return b.op("Cast", [x], to=proto.ELEM_TYPES[np.dtype(dtype)])


def axis_length(b, x, axis):
    """The length of ``x``'s ``axis`` as the file runs it: an int64 scalar tensor."""
    return b.op("Squeeze", [b.op("Shape", [x], start=axis, end=axis + 1), b.ints([0])])


def _clip(b, indices, n):
    """int64 ``indices`` clipped to [0, n - 1] (n a tensor)."""
    top = b.op("Sub", [n, b.ints(1)])
    return b.op("Min", [b.op("Max", [indices, b.ints(0)]), top])


def static_taps(interpolation, out_len, in_len, antialias=False, bilinear_float32=True):
    """glassnet's own band of a resize of an axis of ``in_len`` to ``out_len`` (numpy): ``(indices
    (out_len, t), weights (out_len, t) float64, in_len)``, every index inside the axis.
    ``bilinear_float32`` False: UpSampling2D's bilinear positions (computed in float64, as
    PyTorch's)."""
    from .layers.banded import Band
    from .layers.resizing import axis_band, bilinear_taps
    if interpolation == "bilinear" and not antialias and not bilinear_float32:
        band = Band.from_taps(out_len, in_len, bilinear_taps(out_len, in_len))
    else:
        band = axis_band(interpolation, out_len, in_len, antialias)
    return band.start[:, None] + np.arange(band.taps), band.weights, in_len


def _spread(after):
    """How a tap's weights (one per output) are laid out over the axes ``after`` the resized one
    (their sizes, None where open): repeated over a few trailing numbers (a column's channels), so
    that onnxruntime's Mul broadcasts them over long runs of the image rather than three numbers at
    a time (which made a column resize of a 512 x 512 RGB image several times slower); else 1s."""
    if after and all(isinstance(n, int) for n in after) and int(np.prod(after)) <= _SPREAD:
        return list(after)
    return [1] * len(after)


# the most trailing numbers a tap's weights are repeated over (a pixel's channels, a few more)
_SPREAD = 16
# A fixed axis resized with more taps than bicubic's 4 (lanczos, antialias, area downsizing) is one
# MatMul by its dense matrix while the axis is at most DENSE_RATIO (glassnet.layers.banded's) times
# the taps: each tap is a pass over the image (Gather, Mul, Add), and onnxruntime's MatMul did a
# 512 x 512 -> 128 x 128 antialiased lanczos3 (25 taps) in half the time of the taps (one thread).
# "bilinear" and "nearest" are always taps.
DENSE_TAPS = 4
DENSE_RATIO = 64


def apply_static(b, x, axis, taps, after, offset=0):
    """``x`` resized along ``axis`` by the numpy ``taps`` (``static_taps``); ``after`` the sizes of
    the axes after it (None where open); ``offset`` added to every index (where the box a crop
    keeps starts)."""
    indices, weights, in_len = taps
    if indices.shape[1] == 1 and np.all(weights == 1):          # nearest, a crop: one Gather, exact
        return b.op("Gather", [x, b.ints(indices[:, 0] + offset, "resize_indices")], axis=axis)
    if indices.shape[1] > DENSE_TAPS and in_len <= DENSE_RATIO * indices.shape[1]:
        return _dense(b, x, axis, taps, len(after) + axis + 1, offset)
    indices = indices + offset
    spread = _spread(after)
    out = None
    for k in range(indices.shape[1]):
        if not np.any(weights[:, k]):
            continue
        column = np.broadcast_to(weights[:, k].reshape(-1, *[1] * len(after)), (len(weights), *spread))
        term = b.op("Gather", [x, b.ints(indices[:, k], "resize_indices")], axis=axis)
        term = b.op("Mul", [term, b.const(column, "resize_weights")])
        out = term if out is None else b.op("Add", [out, term])
    return out


def _dense(b, x, axis, taps, rank, offset):
    """``apply_static`` as one MatMul by the (out, in) matrix of the taps, after a Slice of the
    box the taps read (from ``offset``; the axis may be longer: a crop's box): the axis moved last
    and back."""
    from .layers.resample import weight_matrix
    indices, weights, in_len = taps
    x = b.op("Slice", [x, b.ints([offset]), b.ints([offset + in_len]), b.ints([axis])])
    matrix = weight_matrix(len(indices), in_len, (indices, weights))
    last = [a for a in range(rank) if a != axis] + [axis]
    y = b.op("MatMul", [b.op("Transpose", [x], perm=last), b.const(matrix.T, "resize_matrix")])
    return b.op("Transpose", [y], perm=np.argsort(last).tolist())


def is_identity(taps):
    """Whether ``taps`` (numpy) change nothing: each output its own input pixel, weight 1."""
    indices, weights, in_len = taps
    return (indices.shape == (in_len, 1) and np.array_equal(indices[:, 0], np.arange(in_len))
            and np.all(weights == 1))


def apply_runtime(b, x, axis, taps, after):
    """``x`` resized along ``axis`` by the tensors ``taps = (indices, weights, t)`` of
    ``runtime_taps`` (``after`` as ``apply_static``'s): t taps unrolled (Gather, Mul, Add) where t
    is known at export, else one Gather of the (out, t) indices and a ReduceSum over the taps' axis."""
    indices, weights, t = taps
    spread = _spread(after)
    if weights is None:                      # one tap of weight 1: a Gather, exact
        return b.op("Gather", [x, b.op("Squeeze", [indices, b.ints([1])])], axis=axis)
    if t is None:
        gathered = b.op("Gather", [x, indices], axis=axis)              # (.., out, t, ..)
        laid = b.op("Reshape", [weights, b.ints([0, 0, *[1] * len(after)])])
        weighted = b.op("Mul", [gathered, b.op("Expand", [laid, b.ints([1, 1, *spread])])])
        return b.op("ReduceSum", [weighted, b.ints([axis + 1])], keepdims=0)
    out = None
    for k in range(t):
        column = b.ints(k, "tap")
        term = b.op("Gather", [x, b.op("Gather", [indices, column], axis=1)], axis=axis)
        laid = b.op("Reshape", [b.op("Gather", [weights, column], axis=1), b.ints([-1, *[1] * len(after)])])
        term = b.op("Mul", [term, b.op("Expand", [laid, b.ints([1, *spread])]) if any(n > 1 for n in spread) else laid])
        out = term if out is None else b.op("Add", [out, term])
    return out


class _Axis:
    """What the taps of one axis are worked out from, as tensors: ``n`` the input's length (int64
    scalar), ``out`` the output's (an int, or an int64 scalar tensor: UpSampling's n x size)."""

    def __init__(self, b, n, out):
        self.b, self.n, self.out = b, n, out

    def length(self, dtype):
        """n as a float of ``dtype`` (float32: TensorFlow's ``static_cast<float>``)."""
        return _cast(self.b, self.n, dtype)

    def out_length(self, dtype):
        b = self.b
        return b.const_as(np.asarray(self.out, dtype), dtype, "out_length") if isinstance(self.out, int) \
            else _cast(b, self.out, dtype)

    def positions(self, dtype, start=0):
        """``arange(start, out + start)`` in ``dtype`` (a constant where out is fixed)."""
        b = self.b
        if isinstance(self.out, int):
            return b.const_as(np.arange(start, self.out + start, dtype=dtype), dtype, "positions")
        end = b.op("Add", [self.out, b.ints(start)])
        return _cast(b, b.op("Range", [b.ints(start), end, b.ints(1)]), dtype)


def runtime_taps(b, interpolation, n, out, antialias=False, bilinear_float32=True):
    """The taps of ``tf.image.resize`` along an axis of ``n`` pixels (an int64 scalar tensor) to
    ``out`` (an int, or an int64 scalar tensor): ``(indices (out, t) int64 clipped to the axis,
    weights (out, t) in the model's dtype or None for one tap of weight 1, t or None)``, the same
    numbers as ``static_taps`` of those sizes."""
    axis = _Axis(b, n, out)
    if interpolation == "nearest":
        return _nearest(b, axis)
    if interpolation == "bilinear" and not antialias:
        return _bilinear(b, axis, F32 if bilinear_float32 else np.float64)
    from .layers.resample import KERNEL_OF
    if interpolation == "area":
        return _area(b, axis)
    if interpolation == "bicubic" and not antialias:
        return _bicubic(b, axis)
    return _kernel(b, axis, KERNEL_OF.get(interpolation, interpolation), antialias)


def _column(b, v):
    return b.op("Unsqueeze", [v, b.ints([1])])


def _nearest(b, axis):
    # glassnet.layers.resizing.nearest_taps: floor((o + 0.5) * (n / out)), in float32
    scale = b.op("Div", [axis.length(F32), axis.out_length(F32)])
    source = b.op("Floor", [b.op("Mul", [b.op("Add", [axis.positions(F32), _f32(b, 0.5)]), scale])])
    source = b.op("Min", [_cast(b, source, np.int64), b.op("Sub", [axis.n, b.ints(1)])])
    return _column(b, source), None, 1


def _half_pixel(b, axis, dtype):
    """TensorFlow's half-pixel source positions ``(o + 0.5) * (n / out) - 0.5`` in ``dtype``, and
    their floor."""
    half = b.const_as(np.asarray(0.5, dtype), dtype, "half")
    scale = b.op("Div", [axis.length(dtype), axis.out_length(dtype)])
    position = b.op("Sub", [b.op("Mul", [b.op("Add", [axis.positions(dtype), half]), scale]), half])
    return position, b.op("Floor", [position])


def _bilinear(b, axis, dtype):
    # glassnet.layers.resizing.bilinear_taps: the two neighbours of the position, weighted by
    # 1 - lerp and lerp (lerp in ``dtype``, the weights in the model's: 1 - lerp as float64 there)
    position, below = _half_pixel(b, axis, dtype)
    lerp = _cast(b, b.op("Sub", [position, below]), b.dtype)
    weights = b.op("Concat", [_column(b, b.op("Sub", [b.const(1.0), lerp])), _column(b, lerp)], axis=1)
    first = _cast(b, below, np.int64)
    indices = b.op("Add", [_column(b, first), b.ints([[0, 1]])])
    return _clip(b, indices, axis.n), weights, 2


def _normalised(b, weights):
    """glassnet.layers.resample._normalised: float32 rows scaled to sum to 1, the sum taken left
    to right (CumSum's last column), a row summing to (nearly) zero left at zero."""
    total = b.op("Gather", [b.op("CumSum", [weights, b.ints(1)]), b.ints([-1])], axis=1)       # (out, 1)
    usable = b.op("GreaterOrEqual", [b.op("Abs", [total]), _f32(b, F32(1000) * np.finfo(F32).tiny)])
    inverse = b.op("Div", [_f32(b, 1.0), b.op("Where", [usable, total, _f32(b, 1.0)])])
    inverse = b.op("Where", [usable, inverse, _f32(b, 0.0)])
    return b.op("Mul", [weights, inverse])


def _bicubic(b, axis):
    # glassnet.layers.resample.bicubic_taps: Keys' cubic read from TensorFlow's table at the
    # fraction rounded to 1/1024 (Round: half to even, as lrintf), taps outside the axis weight 0
    from .layers.resample import _keys_table
    position, below = _half_pixel(b, axis, F32)
    offset = _cast(b, b.op("Round", [b.op("Mul", [b.op("Sub", [position, below]), _f32(b, _TABLE_SIZE)])]),
                   np.int64)
    near_table, far_table = (_f32(b, t, "keys_table") for t in _keys_table())
    other = b.op("Sub", [b.ints(_TABLE_SIZE), offset])
    weights = b.op("Concat", [_column(b, b.op("Gather", [table, at])) for table, at in
                              ((far_table, offset), (near_table, offset), (near_table, other), (far_table, other))],
                   axis=1)
    indices = b.op("Add", [_column(b, _cast(b, below, np.int64)), b.ints([[-1, 0, 1, 2]])])
    inside = b.op("And", [b.op("GreaterOrEqual", [indices, b.ints(0)]), b.op("Less", [indices, axis.n])])
    weights = _normalised(b, b.op("Where", [inside, weights, _f32(b, 0.0)]))
    return _clip(b, indices, axis.n), _cast(b, weights, b.dtype), 4


def _area(b, axis):
    # glassnet.layers.resample.area_taps: the part of each pixel inside the output's span
    # [o s, (o + 1) s), over s; the number of taps (the widest span's pixels) read from the spans
    scale = b.op("Div", [axis.length(F32), axis.out_length(F32)])
    start = b.op("Mul", [axis.positions(F32), scale])
    end = b.op("Mul", [axis.positions(F32, start=1), scale])
    first = _cast(b, b.op("Floor", [start]), np.int64)
    last = _cast(b, b.op("Ceil", [end]), np.int64)                   # one past the span's last pixel
    taps = b.op("ReduceMax", [b.op("Sub", [last, first])], keepdims=0)
    indices = b.op("Add", [_column(b, first), b.op("Range", [b.ints(0), taps, b.ints(1)])])
    pixel, start, end = _cast(b, indices, F32), _column(b, start), _column(b, end)
    one = _f32(b, 1.0)
    after = b.op("Add", [pixel, one])
    past_end = b.op("Greater", [after, end])
    covered = b.op("Where", [b.op("Less", [pixel, start]), b.op("Where", [past_end, scale, b.op("Sub", [after, start])]),
                             b.op("Where", [past_end, b.op("Sub", [end, pixel]), one])])
    covered = b.op("Where", [b.op("Less", [indices, _column(b, last)]), covered, _f32(b, 0.0)])
    inverse = _cast(b, b.op("Div", [b.const_as(1.0, np.float64), _cast(b, scale, np.float64)]), F32)
    weights = b.op("Mul", [covered, inverse])
    return _clip(b, indices, axis.n), _cast(b, weights, b.dtype), None


def _kernel(b, axis, kernel, antialias):
    # glassnet.layers.resample.kernel_taps: the kernel centred at (o + 0.5) n / out, over the
    # pixels within its reach (stretched by n / out with antialias when downsizing), normalised
    from .layers.resample import KERNELS
    radius = KERNELS[kernel][1]
    scale = b.op("Div", [axis.out_length(F32), axis.length(F32)])
    inverse = _cast(b, b.op("Div", [b.const_as(1.0, np.float64), _cast(b, scale, np.float64)]), F32)
    kernel_scale = b.op("Max", [inverse, _f32(b, 1.0)]) if antialias else _f32(b, 1.0)
    reach = b.op("Mul", [_f32(b, radius), kernel_scale])
    half = _f32(b, 0.5)
    centre = b.op("Mul", [b.op("Add", [axis.positions(F32), half]), inverse])
    first = _clip(b, _cast(b, b.op("Ceil", [b.op("Sub", [b.op("Sub", [centre, reach]), half])]), np.int64), axis.n)
    last = _clip(b, _cast(b, b.op("Floor", [b.op("Sub", [b.op("Add", [centre, reach]), half])]), np.int64), axis.n)
    if antialias:           # 2 ceil(reach) + 1 taps (at most n), reach known when the file runs
        span = b.op("Add", [b.op("Mul", [_cast(b, b.op("Ceil", [reach]), np.int64), b.ints(2)]), b.ints(1)])
        taps, count = b.op("Min", [span, axis.n]), None
    else:                   # 2 radius + 1: past min(that, n), the taps lie beyond ``last``, weight 0
        count = 2 * int(np.ceil(radius)) + 1
        taps = b.ints(count)
    indices = b.op("Add", [_column(b, first), b.op("Range", [b.ints(0), taps, b.ints(1)])])
    # 1 / kernel_scale as Reciprocal: onnxruntime rewrites Mul(x, Div(1, k)) into Div(x, k), which
    # rounds otherwise than the float32 steps glassnet takes (an ulp in a weight)
    step = b.op("Reciprocal", [kernel_scale])
    distance = b.op("Abs", [b.op("Mul", [b.op("Sub", [b.op("Add", [_cast(b, indices, F32), half]),
                                                       _column(b, centre)]), step])])
    weights = b.op("Where", [b.op("LessOrEqual", [indices, _column(b, last)]), _KERNELS[kernel](b, distance),
                             _f32(b, 0.0)])
    # (a centre outside the image samples nothing in TensorFlow: never, without translation)
    return _clip(b, indices, axis.n), _cast(b, _normalised(b, weights), b.dtype), count


def _lanczos(radius):
    def kernel(b, x):
        # glassnet.layers.resample._lanczos: the sines in float64 rounded to float32 (C's sinf)
        pi = F32(np.pi)
        pi_x = b.op("Mul", [_f32(b, pi), x])
        sine = lambda v: _cast(b, b.op("Sin", [_cast(b, v, np.float64)]), F32)     # noqa: E731
        sin_x, sin_x_radius = sine(pi_x), sine(b.op("Div", [pi_x, _f32(b, radius)]))
        numerator = b.op("Mul", [b.op("Mul", [_f32(b, radius), sin_x]), sin_x_radius])
        denominator = b.op("Mul", [b.op("Mul", [_f32(b, pi * pi), x]), x])
        value = b.op("Div", [numerator, denominator])
        inner = b.op("Where", [b.op("LessOrEqual", [x, _f32(b, 1e-3)]), _f32(b, 1.0), value])
        return b.op("Where", [b.op("Greater", [x, _f32(b, radius)]), _f32(b, 0.0), inner])
    return kernel


def _keys_cubic(b, x):
    # glassnet.layers.resample._keys_cubic, in float32
    def poly(*steps):
        # ((c0 x + c1) x + c2) x + c3 for the coefficients given, None for a term left out
        y = b.op("Mul", [_f32(b, steps[0]), x])
        for c in steps[1:-1]:
            y = b.op("Mul", [y if c is None else b.op("Add", [y, _f32(b, c)]), x])
        return b.op("Add", [y, _f32(b, steps[-1])])
    far = poly(-0.5, 2.5, -4.0, 2.0)
    near = poly(1.5, -2.5, None, 1.0)
    inner = b.op("Where", [b.op("GreaterOrEqual", [x, _f32(b, 1.0)]), far, near])
    return b.op("Where", [b.op("GreaterOrEqual", [x, _f32(b, 2.0)]), _f32(b, 0.0), inner])


def _triangle(b, x):
    one = _f32(b, 1.0)
    return b.op("Where", [b.op("Less", [x, one]), b.op("Sub", [one, x]), _f32(b, 0.0)])


_KERNELS = {"lanczos3": _lanczos(3), "lanczos5": _lanczos(5), "keyscubic": _keys_cubic, "triangle": _triangle}
