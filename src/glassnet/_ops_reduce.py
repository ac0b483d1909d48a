"""keras.ops' further reductions for ``glassnet.ops`` (which re-exports them): ``amax``, ``amin``,
``average``, ``ptp``, ``percentile``, the NaN-skipping reductions (``nansum`` ... ``nanquantile``)
and the segment reductions (``segment_sum``, ``segment_max``, ``segment_min``, ``segment_prod``).

Why composed: each differentiable one is written, as Keras 3.15 writes it on TensorFlow, from
``glassnet.ops`` functions that already have a forward, a backward and a node (``max``, ``sum``,
``where``, ``isnan``, ``sort``, ``take``, ``einsum``): one code path gives the NumPy result on
arrays, the recorded ops (and so the gradient) on values a ``GradientTape`` records (the tape calls
a function's ``composed`` instead of refusing it, glassnet._tape_record), and the nodes of a model
being drawn (kept in model files as those ops' JSON). No maths is written twice, and the gradients
are TensorFlow's: ``amax`` shares a tie's gradient equally, a NaN entry takes none.

On tensors (sample axes only): amax, amin, ptp, average (constant weights), percentile (one
number ``q``, one axis), nansum, nanmean, nanmax, nanmin, nanprod, nanstd, nanvar, nancumsum,
nancumprod. The others (nanargmax/nanargmin: indices; nanmedian, nanpercentile, nanquantile: a
NaN count per slice; the segment ones: a batch-dependent number of segments) refuse tensors by name.
"""
import numbers
import warnings

import numpy as np

from ._ops_arrays import _no_tensor, quantile as _quantile_arrays, QUANTILE_METHODS
from ._ops_reading import _array, _axis_argument, _float, _is_tensor, composed
from ._ops_reading import public_ops as _ops

_TENSOR_LOWEST = float(np.finfo(np.float32).min)    # where's constants on tensors must be finite


def _kind(x):
    return "f" if _is_tensor(x) else np.asarray(x).dtype.kind


def _dtype_name(x):
    """The float dtype counts are cast to: x's own (a tensor's values: floats of the model's)."""
    if _is_tensor(x):
        return "float32"
    # a Python float is Keras' weak float (floatx), not NumPy's float64: ops.nanmean(2.5) is float32
    return _float(_array(x, "x", "nan reductions")).dtype.name


def _big(x, sign):
    """+-inf beside arrays and recorded values, +-the float32 extreme beside tensors."""
    return sign * (-_TENSOR_LOWEST if _is_tensor(x) else np.inf)


# -- amax, amin, ptp, average ----------------------------------------------------------------------
@composed
def amax(x, axis=None, keepdims=False):
    """The largest entry over ``axis`` (Keras' ``max``): same shape rules; ties share the gradient."""
    return _ops().max(x, axis=axis, keepdims=keepdims)


@composed
def amin(x, axis=None, keepdims=False):
    """The smallest entry over ``axis`` (Keras' ``min``)."""
    return _ops().min(x, axis=axis, keepdims=keepdims)


@composed
def ptp(x, axis=None, keepdims=False):
    """``max - min`` over ``axis`` (peak to peak), x's dtype."""
    o = _ops()
    return o.subtract(o.max(x, axis=axis, keepdims=keepdims), o.min(x, axis=axis, keepdims=keepdims))


@composed
def average(x, axis=None, weights=None):
    """The mean over ``axis`` weighted by ``weights`` (None: the plain mean): ``sum(x * w) / sum(w)``.
    ``weights`` has x's shape, or is 1-D along the one ``axis`` (Keras' rule); integers give float32.
    On tensors ``weights`` is a constant."""
    o = _ops()
    if weights is None:
        return o.mean(x, axis=axis)
    if _is_tensor(weights):
        raise TypeError("ops.average: weights must be an array (a constant), not a tensor of a model being drawn")
    axis = _axis_argument(axis, "average")
    w = weights if hasattr(weights, "__array_ufunc__") and _kind(weights) == "f" else _array(weights, "weights", "average")
    if not _is_tensor(x) and not _is_tensor(weights):
        # (an array as it is: np.asarray would make a value a GradientTape records a plain array,
        # whose gradient the tape then never sees)
        x = x if isinstance(x, np.ndarray) else _array(x, "x", "average")
        dtype = np.promote_types(_float(x).dtype, _float(np.asarray(w)).dtype)
        x = x if x.dtype == dtype else o.cast(x, dtype)
        w = w if np.asarray(w).dtype == dtype else o.cast(w, dtype)
    rank = len(o.shape(x))
    if np.ndim(w) != rank:
        if axis is None or not isinstance(axis, numbers.Integral) or np.ndim(w) != 1:
            raise ValueError(f"ops.average: weights must have x's shape {tuple(o.shape(x))}, or one axis along "
                             f"the one integer axis, got weights of shape {np.shape(w)} and axis={axis!r}")
        if np.shape(w)[0] != o.shape(x)[axis]:
            raise ValueError(f"ops.average: weights' length must be x's size along axis {axis} "
                             f"({o.shape(x)[axis]}), got {np.shape(w)[0]}")
        w = o.reshape(w, (-1,) + (1,) * (rank - axis % rank - 1))
        return o.divide(o.sum(o.multiply(x, w), axis=axis), o.sum(w))
    return o.divide(o.sum(o.multiply(x, w), axis=axis), o.sum(w, axis=axis))


# -- percentile (quantiles with a gradient) ---------------------------------------------------------
def percentile(x, q, axis=None, method="linear", keepdims=False):
    """The ``q``-th percentiles (in [0, 100]; an array gives a leading axis of them) over ``axis``,
    ``quantile(x, q / 100)``: ``method`` "linear", "lower", "higher", "midpoint", "nearest".
    Integers give float32. On values a tape records and on tensors (one number ``q``, one sample
    axis), the sorted entries interpolated: the gradient goes to the one or two entries read."""
    if method not in QUANTILE_METHODS:
        raise ValueError(f"ops.percentile: method must be one of {', '.join(QUANTILE_METHODS)}, got {method!r:.40}")
    if _is_tensor(q):
        raise TypeError("ops.percentile: q must be numbers, not a tensor of a model being drawn")
    qs = _array(q, "q", "percentile")
    if qs.dtype.kind not in "iuf" or np.any((qs < 0) | (qs > 100)):
        raise ValueError(f"ops.percentile: q must be numbers in [0, 100], got {q!r:.60}")
    if _is_tensor(x):
        return _quantile_graph(x, qs.astype(np.float64) / 100, axis, method, keepdims)
    return _quantile_arrays(x, qs.astype(np.float64) / 100, axis=axis, method=method, keepdims=keepdims)


def _percentile_recorded(x, q, axis=None, method="linear", keepdims=False):
    percentile(np.asarray(x), q, axis, method, keepdims)     # checks the arguments as on arrays
    return _quantile_graph(x, np.asarray(q, np.float64) / 100, axis, method, keepdims)


percentile.composed = _percentile_recorded


def _quantile_graph(x, q, axis, method, keepdims):
    """Quantiles of a recorded value or a tensor by ``sort`` and ``take`` (their gradients)."""
    o = _ops()
    if not isinstance(keepdims, (bool, np.bool_)):
        raise TypeError(f"ops.percentile: keepdims must be True or False, got {keepdims!r:.40}")
    tensor = _is_tensor(x)
    if tensor and (axis is None or q.ndim):
        raise ValueError("ops.percentile on a tensor of a model being drawn: give one number q and one sample "
                         f"axis (an integer), got q of shape {q.shape} and axis={axis!r}")
    shape = tuple(o.shape(x))
    if axis is None:
        x, axis, rank = o.reshape(x, (-1,)), 0, len(shape)
    elif isinstance(axis, (tuple, list)):
        if len(axis) != 1:
            raise ValueError(f"ops.percentile on recorded values or tensors: one axis, got axis={axis!r}")
        axis, rank = axis[0], len(shape)
    else:
        rank = len(shape)
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"ops.percentile: axis must be an integer or None, got {axis!r:.40}")
    size = o.shape(x)[axis]
    axis = axis % len(o.shape(x))
    position = q * (size - 1)
    low, high = np.floor(position), np.ceil(position)
    fraction = position - low
    if method == "lower":
        high, fraction = low, 0 * fraction
    elif method == "higher":
        low, fraction = high, 0 * fraction
    elif method == "midpoint":
        fraction = np.where(high > low, 0.5, 0.0)
    elif method == "nearest":
        low = high = np.round(position)
        fraction = 0 * fraction
    ordered = o.sort(x, axis=axis)
    y = o.take(ordered, low.astype(np.int64), axis=axis)
    if np.any(fraction > 0):
        upper = o.take(ordered, high.astype(np.int64), axis=axis)
        trailing = (1,) * (len(o.shape(x)) - axis - 1)
        weight = np.asarray(fraction).reshape(np.shape(fraction) + trailing)
        if tensor:
            weight = float(weight.reshape(-1)[0])
        y = o.add(y, o.multiply(o.subtract(upper, y), weight.astype(_dtype_name(x)) if not tensor else weight))
    if q.ndim:                  # the q axis first, NumPy's and Keras' order
        order = list(range(len(o.shape(y))))
        order.insert(0, order.pop(axis))
        y = o.transpose(y, order)
    if keepdims:
        if len(shape) != len(o.shape(x)):           # axis None: every axis kept as 1
            return o.reshape(y, tuple(q.shape) + (1,) * rank)
        y = o.expand_dims(y, axis + q.ndim)
    return y


# -- NaN-skipping reductions -----------------------------------------------------------------------
def _clean(x, value):
    """x with its NaN entries replaced by ``value`` (they take no gradient)."""
    o = _ops()
    return o.where(o.isnan(x), value, x)


def _count(x, axis, keepdims):
    """The number of non-NaN entries over ``axis``, in x's float dtype."""
    o = _ops()
    return o.sum(o.cast(o.logical_not(o.isnan(x)), _dtype_name(x)), axis=axis, keepdims=keepdims)


@composed
def nansum(x, axis=None, keepdims=False):
    """The sum over ``axis`` with NaN entries taken as 0 (integers: ``sum``'s dtypes)."""
    if _kind(x) != "f":
        return _ops().sum(x, axis=axis, keepdims=keepdims)
    return _ops().sum(_clean(x, 0.0), axis=axis, keepdims=keepdims)


@composed
def nanmean(x, axis=None, keepdims=False):
    """The mean of the non-NaN entries over ``axis`` (all NaN: NaN); integers give float32."""
    o = _ops()
    if axis == () or axis == []:
        return x
    if _kind(x) != "f":
        return o.mean(x, axis=axis, keepdims=keepdims)
    with np.errstate(invalid="ignore", divide="ignore"):
        return o.divide(nansum(x, axis, keepdims), _count(x, axis, keepdims))


def _nan_extreme(op, x, axis, keepdims):
    o = _ops()
    if _kind(x) == "b":
        return (o.any if op == "max" else o.all)(x, axis=axis, keepdims=keepdims)
    if _kind(x) != "f":
        return getattr(o, op)(x, axis=axis, keepdims=keepdims)
    y = getattr(o, op)(_clean(x, _big(x, -1 if op == "max" else 1)), axis=axis, keepdims=keepdims)
    if _is_tensor(x):
        return y                # (an all-NaN slice: the float32 extreme; a tensor's where takes no NaN)
    return o.where(o.all(o.isnan(x), axis=axis, keepdims=keepdims), np.nan, y)


@composed
def nanmax(x, axis=None, keepdims=False):
    """The largest non-NaN entry over ``axis`` (all NaN: NaN; on tensors the float32 lowest)."""
    return _nan_extreme("max", x, axis, keepdims)


@composed
def nanmin(x, axis=None, keepdims=False):
    """The smallest non-NaN entry over ``axis`` (all NaN: NaN; on tensors the float32 largest)."""
    return _nan_extreme("min", x, axis, keepdims)


@composed
def nanprod(x, axis=None, keepdims=False):
    """The product over ``axis`` with NaN entries taken as 1."""
    if _kind(x) != "f":
        return _ops().prod(x, axis=axis, keepdims=keepdims)
    return _ops().prod(_clean(x, 1.0), axis=axis, keepdims=keepdims)


@composed
def nanvar(x, axis=None, keepdims=False):
    """The variance of the non-NaN entries over ``axis`` (divided by their count); float dtype."""
    o = _ops()
    if _kind(x) != "f":
        x = o.cast(x, "float32")
    centered = o.where(o.isnan(x), 0.0, o.subtract(x, nanmean(x, axis, True)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return o.divide(o.sum(o.square(centered), axis=axis, keepdims=keepdims), _count(x, axis, keepdims))


@composed
def nanstd(x, axis=None, keepdims=False):
    """The standard deviation of the non-NaN entries over ``axis``: ``sqrt(nanvar)``."""
    return _ops().sqrt(nanvar(x, axis, keepdims))


@composed
def nancumsum(x, axis=None, dtype=None):
    """The running sum along ``axis`` (None: of the flattened x) with NaN entries taken as 0."""
    o = _ops()
    return o.cumsum(_clean(x, 0.0) if _kind(x) == "f" else x, axis=axis, dtype=dtype)


@composed
def nancumprod(x, axis=None, dtype=None):
    """The running product along ``axis`` (None: of the flattened x) with NaN entries taken as 1."""
    o = _ops()
    return o.cumprod(_clean(x, 1.0) if _kind(x) == "f" else x, axis=axis, dtype=dtype)


def _nan_arg(op, x, axis, keepdims):
    _no_tensor(f"nan{op}", x=x)
    o = _ops()
    array = _array(x, "x", f"nan{op}")
    if array.dtype.kind != "f":
        return getattr(o, op)(array, axis=axis, keepdims=keepdims)
    index = getattr(o, op)(_clean(array, -np.inf if op == "argmax" else np.inf), axis=axis, keepdims=keepdims)
    return np.where(np.all(np.isnan(array), axis=axis, keepdims=keepdims), -1, index).astype(np.int32)


def nanargmax(x, axis=None, keepdims=False):
    """The index of the largest non-NaN entry over ``axis`` (int32; all NaN: -1). Arrays only."""
    return _nan_arg("argmax", x, axis, keepdims)


def nanargmin(x, axis=None, keepdims=False):
    """The index of the smallest non-NaN entry over ``axis`` (int32; all NaN: -1). Arrays only."""
    return _nan_arg("argmin", x, axis, keepdims)


def nanquantile(x, q, axis=None, method="linear", keepdims=False):
    """The ``q``-th quantiles (in [0, 1]) of the non-NaN entries over ``axis`` (all NaN: NaN), the
    methods of ``quantile``; integers give float32. Arrays only."""
    _no_tensor("nanquantile", x=x, q=q)
    _quantile_arrays(np.zeros(1, np.float32), q, method=method)        # q and method checked by name
    array = _float(_array(x, "x", "nanquantile"))
    if axis == () or axis == []:
        return array
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)        # "All-NaN slice": NaN, as Keras gives
        out = np.nanquantile(array, np.asarray(_array(q, "q", "nanquantile"), np.float64),
                             axis=_axis_argument(axis, "nanquantile"), method=method, keepdims=bool(keepdims))
    return np.asarray(out).astype(array.dtype, copy=False)


def nanpercentile(x, q, axis=None, method="linear", keepdims=False):
    """``nanquantile(x, q / 100)``: ``q`` in [0, 100]. Arrays only."""
    _no_tensor("nanpercentile", x=x, q=q)
    return nanquantile(x, np.asarray(_array(q, "q", "nanpercentile"), np.float64) / 100, axis, method, keepdims)


def nanmedian(x, axis=None, keepdims=False):
    """The median of the non-NaN entries over ``axis`` (all NaN: NaN). Arrays only."""
    _no_tensor("nanmedian", x=x)
    return nanquantile(x, 0.5, axis, "linear", keepdims)


# -- segment reductions ----------------------------------------------------------------------------
_SEGMENT_FILL = {"sum": 0, "prod": 1}


def _segment(op, data, segment_ids, num_segments, sorted):
    """``op`` of ``data``'s rows (axis 0) sharing a segment id: (num_segments, *data.shape[1:]).
    Composed: each segment a mask row (a one-hot of the ids: ids out of range, negative too, are
    dropped, as TensorFlow's unsorted segment ops drop negative ones); sum is the mask's product
    with data (einsum), max/min/prod the reduction of data where the mask holds (elsewhere the
    op's neutral value: an empty segment of max gets the dtype's lowest, as TensorFlow's)."""
    function = f"segment_{op}"
    _no_tensor(function, data=data, segment_ids=segment_ids)
    o = _ops()
    ids = np.asarray(_array(np.asarray(segment_ids), "segment_ids", function))
    if ids.dtype.kind not in "iu" or ids.ndim != 1:
        raise TypeError(f"ops.{function}: segment_ids must be integers of one axis, got {ids.dtype} of shape "
                        f"{ids.shape}")
    shape = tuple(o.shape(data))
    if not shape or shape[0] != ids.shape[0]:
        raise ValueError(f"ops.{function}: segment_ids must have one id per row of data ({shape[:1]}), got "
                         f"{ids.shape[0]}")
    if not isinstance(sorted, (bool, np.bool_)):
        raise TypeError(f"ops.{function}: sorted must be True or False, got {sorted!r:.40}")
    if sorted and num_segments is not None:
        raise ValueError(f"ops.{function}: num_segments cannot be set when sorted is True (as Keras 3.15 on "
                         f"TensorFlow), got num_segments={num_segments!r}")
    if num_segments is None:
        num_segments = (len(np.unique(ids)) if op == "sum" and not sorted else
                        int(ids.max()) + 1 if ids.size else 0)
    elif isinstance(num_segments, bool) or not isinstance(num_segments, numbers.Integral) or num_segments < 0:
        raise ValueError(f"ops.{function}: num_segments must be None or an integer >= 0, got {num_segments!r:.40}")
    if not isinstance(data, np.ndarray):
        data = _array(data, "data", function)
    dtype = np.asarray(data).dtype
    mask = ids[None, :] == np.arange(int(num_segments))[:, None]          # (segments, rows)
    if op == "sum":
        letters = "abcdefghijklmnopqrstuvwxy"[:len(shape) - 1]
        return o.einsum(f"zs,s{letters}->z{letters}", mask.astype(dtype), data)
    mask = mask.reshape(mask.shape + (1,) * (len(shape) - 1))
    if op in ("max", "min"):
        info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
        fill = info.min if op == "max" else info.max
    else:
        fill = _SEGMENT_FILL[op]
    spread = o.where(mask, o.expand_dims(data, 0), np.asarray(fill, dtype))
    y = getattr(o, op)(spread, axis=1)
    if sorted and op in ("max", "min"):       # tf.math.segment_max: an empty segment is 0
        y = o.where(mask.any(axis=1), y, np.asarray(0, dtype))
    return y


@composed
def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    """The sum of ``data``'s rows per segment id: (num_segments, *data.shape[1:]), data's dtype.
    ``num_segments`` None: the count of distinct ids (Keras' rule on TensorFlow). Arrays and values
    a tape records (the gradient: each row gets its segment's)."""
    return _segment("sum", data, segment_ids, num_segments, sorted)


@composed
def segment_max(data, segment_ids, num_segments=None, sorted=False):
    """The largest row entry per segment id (None: max id + 1 segments); an empty segment gives the
    dtype's lowest value (``sorted=True``: 0), as TensorFlow's. Ties share the gradient."""
    return _segment("max", data, segment_ids, num_segments, sorted)


@composed
def segment_min(data, segment_ids, num_segments=None, sorted=False):
    """The smallest row entry per segment id (an empty segment: the dtype's largest; sorted: 0)."""
    return _segment("min", data, segment_ids, num_segments, sorted)


@composed
def segment_prod(data, segment_ids, num_segments=None, sorted=False):
    """The product of the rows per segment id (an empty segment: 1)."""
    return _segment("prod", data, segment_ids, num_segments, sorted)


__all__ = ["amax", "amin", "average", "ptp", "percentile", "nansum", "nanmean", "nanmax", "nanmin", "nanprod",
           "nanstd", "nanvar", "nancumsum", "nancumprod", "nanargmax", "nanargmin", "nanmedian", "nanpercentile",
           "nanquantile", "segment_sum", "segment_max", "segment_min", "segment_prod"]
