"""keras.ops functions glassnet computes on arrays only: ``nonzero``, ``count_nonzero``, ``median``,
``quantile``, ``scatter``, ``scatter_update``, ``adaptive_average_pool`` and ``adaptive_max_pool``
(``glassnet.ops`` re-exports them).

Each computes at once with Keras 3.15's values and dtypes on TensorFlow: ``nonzero`` and
``count_nonzero`` int32, ``median`` and ``quantile`` of integers float32 (floats keep theirs),
``scatter`` adding the values at repeated indices. Tensors of a model being drawn are refused by
name: their results are integers or indices (no gradient), or, for median, quantile and the
adaptive poolings, the nodes are not built (the AdaptivePooling layers are: layers/adaptive_pooling.py,
whose code the poolings here run).
"""
import numbers

import numpy as np

from ._ops_reading import _array, _axis_argument, _float, _is_tensor

QUANTILE_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")
SCATTER_REDUCTIONS = (None, "add", "max", "min", "mul")


def _no_tensor(function, **values):
    for name, value in values.items():
        if _is_tensor(value):
            raise TypeError(f"ops.{function} takes arrays, not tensors of a model being drawn ({name} is one); "
                            f"compute it on arrays, before or after the model")


def nonzero(x):
    """The indices of ``x``'s non-zero entries: one int32 array per axis, in a tuple (Keras: a list).

    >>> [v.tolist() for v in nonzero(np.array([[0, 3], [4, 0]]))]
    [[0, 1], [1, 0]]
    """
    _no_tensor("nonzero", x=x)
    return tuple(i.astype(np.int32) for i in np.nonzero(_array(x, "x", "nonzero")))


def count_nonzero(x, axis=None):
    """The number of non-zero entries over ``axis`` (None: all; an integer or a tuple), int32."""
    _no_tensor("count_nonzero", x=x)
    array = _array(x, "x", "count_nonzero")
    return np.asarray(np.count_nonzero(array, axis=_axis_argument(axis, "count_nonzero"))).astype(np.int32)


def _quantile_argument(q, function):
    value = _array(q, "q", function)
    if value.dtype.kind not in "iuf" or np.any((value < 0) | (value > 1)):
        raise ValueError(f"ops.{function}: q must be numbers in [0, 1], got {q!r:.60}")
    return value.astype(np.float64)


def quantile(x, q, axis=None, method="linear", keepdims=False):
    """The ``q``-th quantiles (in [0, 1]; an array gives a leading axis of them) of ``x`` over
    ``axis``: ``method`` "linear", "lower", "higher", "midpoint" or "nearest" (half to even), as
    NumPy's; integers give float32.

    >>> quantile(np.arange(7), [0.25, 0.5]).tolist()
    [1.5, 3.0]
    """
    _no_tensor("quantile", x=x, q=q)
    if method not in QUANTILE_METHODS:
        raise ValueError(f"ops.quantile: method must be one of {', '.join(QUANTILE_METHODS)}, got {method!r:.40}")
    if not isinstance(keepdims, (bool, np.bool_)):
        raise TypeError(f"ops.quantile: keepdims must be True or False, got {keepdims!r:.40}")
    array = _float(_array(x, "x", "quantile"))
    out = np.quantile(array, _quantile_argument(q, "quantile"), axis=_axis_argument(axis, "quantile"),
                      method=method, keepdims=bool(keepdims))
    return np.asarray(out).astype(array.dtype, copy=False)


def median(x, axis=None, keepdims=False):
    """The median over ``axis`` (the mean of the middle two of an even count); integers give float32."""
    _no_tensor("median", x=x)
    return quantile(x, 0.5, axis=axis, keepdims=keepdims)


def _indices(indices, depth_limit, function):
    idx = _array(indices, "indices", function)
    if idx.dtype.kind not in "iu" or idx.ndim < 1:
        raise TypeError(f"ops.{function}: indices must be integers of shape (..., index depth), got an array of "
                        f"{idx.dtype} of shape {idx.shape}")
    if idx.shape[-1] > depth_limit:
        raise ValueError(f"ops.{function}: indices' last axis ({idx.shape[-1]}) indexes more axes than the target "
                         f"has ({depth_limit})")
    return idx


def _scatter_into(out, idx, updates, reduction, function):
    """``updates`` written into ``out`` (in place) at ``idx`` (..., depth), one at a time in order."""
    depth = idx.shape[-1]
    flat = idx.reshape(-1, depth)
    slices = out.shape[depth:]
    expected = idx.shape[:-1] + slices
    if updates.shape != expected:
        raise ValueError(f"ops.{function}: updates must have shape {expected} (indices' {idx.shape[:-1]} then the "
                         f"target's {slices}), got {updates.shape}")
    for axis, size in enumerate(out.shape[:depth]):
        bad = (flat[:, axis] < 0) | (flat[:, axis] >= size)
        if bad.any():
            raise ValueError(f"ops.{function}: indices must be in [0, {size}) on axis {axis}, got "
                             f"{int(flat[bad.argmax(), axis])}")
    where, values = tuple(flat.T), updates.reshape((-1,) + slices)
    if reduction is None:
        out[where] = values                 # repeated indices: the last update stays
    else:
        ufunc = {"add": np.add, "max": np.maximum, "min": np.minimum, "mul": np.multiply}[reduction]
        ufunc.at(out, where, values)        # each repeated index takes every update
    return out


def scatter(indices, values, shape):
    """Zeros of ``shape`` with ``values`` added at ``indices`` (integers (n, depth): each row
    addresses an entry, or a slice when depth < rank), in ``values``' dtype.

    >>> scatter([[0], [2], [0]], np.array([1.0, 2.0, 3.0], np.float32), (3,)).tolist()
    [4.0, 0.0, 2.0]
    """
    _no_tensor("scatter", indices=indices, values=values)
    if not isinstance(shape, (tuple, list)) or not all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise TypeError(f"ops.scatter: shape must be a tuple of sizes, got {shape!r:.60}")
    data = _array(values, "values", "scatter")
    out = np.zeros(tuple(int(n) for n in shape), data.dtype)
    return _scatter_into(out, _indices(indices, out.ndim, "scatter"), data, "add", "scatter")


def scatter_update(inputs, indices, updates, reduction=None):
    """A copy of ``inputs`` with ``updates`` at ``indices`` (integers (n, depth)): written over
    (``reduction=None``; a repeated index keeps the last), or combined with ``"add"``, ``"max"``,
    ``"min"``, ``"mul"``, as Keras 3.15's. ``updates`` are cast to ``inputs``' dtype."""
    _no_tensor("scatter_update", inputs=inputs, indices=indices, updates=updates)
    if reduction not in SCATTER_REDUCTIONS:
        raise ValueError(f"ops.scatter_update: reduction must be None, 'add', 'max', 'min' or 'mul', got "
                         f"{reduction!r:.40}")
    out = _array(inputs, "inputs", "scatter_update").copy()
    data = _array(updates, "updates", "scatter_update").astype(out.dtype, copy=False)
    return _scatter_into(out, _indices(indices, out.ndim, "scatter_update"), data, reduction, "scatter_update")


def _adaptive(kind, inputs, output_size, data_format):
    from .layers.adaptive_pooling import adaptive_pool_forward
    function = f"adaptive_{kind}_pool"
    _no_tensor(function, inputs=inputs)
    if data_format not in (None, "channels_last", "channels_first"):
        raise ValueError(f"ops.{function}: data_format must be 'channels_last' or 'channels_first', got "
                         f"{data_format!r:.40}")
    array = _array(inputs, "inputs", function)
    if not 3 <= array.ndim <= 5:
        raise ValueError(f"ops.{function}: inputs must be (batch, *spatial, channels) with 1 to 3 spatial axes, "
                         f"got shape {array.shape}")
    spatial = array.ndim - 2
    sizes = (output_size,) * spatial if isinstance(output_size, numbers.Integral) else tuple(output_size)
    if len(sizes) != spatial or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1
                                        for n in sizes):
        raise ValueError(f"ops.{function}: output_size must be a positive integer or {spatial} of them, got "
                         f"{output_size!r:.60}")
    first = data_format == "channels_first"
    x = np.moveaxis(array, 1, -1) if first else array
    y, _ = adaptive_pool_forward(_float(x) if kind == "average" else x, tuple(int(n) for n in sizes), kind)
    return np.moveaxis(y, -1, 1) if first else y


def adaptive_average_pool(inputs, output_size, data_format=None):
    """The mean over adaptive windows (layers/adaptive_pooling.py's rule, PyTorch's and Keras'):
    (batch, *spatial, channels) -> (batch, *output_size, channels); channels last unless
    ``data_format="channels_first"``."""
    return _adaptive("average", inputs, output_size, data_format)


def adaptive_max_pool(inputs, output_size, data_format=None):
    """The maximum over adaptive windows: (batch, *spatial, channels) -> (batch, *output_size, channels)
    (channels last unless ``data_format="channels_first"``), the windows ``adaptive_average_pool``'s."""
    return _adaptive("max", inputs, output_size, data_format)


__all__ = ["nonzero", "count_nonzero", "median", "quantile", "scatter", "scatter_update", "adaptive_average_pool",
           "adaptive_max_pool"]
