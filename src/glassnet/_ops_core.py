"""keras.ops' core helpers: is_tensor, dtype, ndim, size, get_item, saturate_cast, copy, array,
empty, empty_like, full_like, view (Keras 3.15 on TensorFlow: the dtypes it gives).

On arrays each computes at once. On values a ``GradientTape`` records: get_item, copy and a float
saturate_cast are recorded (indexing, ``ops.reshape``, ``ops.clip`` + ``ops.cast``); the others give
values without gradient. On the tensors of a model being drawn: ndim, dtype, get_item (indexing's
node), copy (the tensor itself), empty_like and full_like (``zeros_like``' node, plus the value) and
a float saturate_cast (``clip`` and ``cast`` nodes) take them; the rest refuse them by name.
"""
import numpy as np

from ._ops_arrays import _no_tensor
from ._ops_reading import _array, _is_tensor, _keras_dtype, composed


def _recorded(x):
    """Whether a recording tape records ``x`` (a recorded value, or an array it watches)."""
    from . import _tape_state
    if not _tape_state.recording():
        return False
    from ._tape_values import _live, watched_node
    return _live(x) or watched_node(x) is not None


def _index(x, key):
    """``x[key]``, recorded when a tape records ``x`` (a watched array's indexing too)."""
    if _recorded(x):
        from ._tape_calls import _record
        from ._tape_record import _GetItem
        return _record(_GetItem(key), [x], "get_item")
    return x[key]


@composed
def is_tensor(x):
    """True for a value a GradientTape records (an eager tensor, as TensorFlow's); False for NumPy
    arrays, numbers and a model's symbolic tensors (Keras 3.15 gives False for a KerasTensor)."""
    from ._tape_values import Recorded
    return isinstance(x, Recorded)


@composed
def dtype(x):
    """``x``'s dtype as Keras' standardized name ("float32"); a tensor's is the model's float dtype."""
    if _is_tensor(x):
        return x.dtype
    if not hasattr(x, "dtype"):
        raise TypeError(f"ops.dtype: x must be an array or a tensor (something with a dtype), got {type(x).__name__}")
    from ._keras_helpers import standardize_dtype
    return standardize_dtype(np.dtype(x.dtype))


@composed
def ndim(x):
    """The number of axes of ``x`` (a Python int; a tensor's counts its batch axis)."""
    if _is_tensor(x):
        return x.ndim
    return int(np.ndim(_array(x, "x", "ndim")))


def size(x):
    """The number of entries of ``x``, an int32 0-d array (Keras'); a tensor's depends on the batch: refused."""
    _no_tensor("size", x=x)
    return np.asarray(np.size(_array(x, "x", "size")), dtype=np.int32)


@composed
def get_item(x, key):
    """``x[key]`` (NumPy's indexing; on a tensor, indexing's node)."""
    if _is_tensor(x) or _recorded(x):
        return _index(x, key)
    return np.asarray(_array(x, "x", "get_item")[key])


def _limits(dt):
    return np.finfo(dt) if dt.kind == "f" else np.iinfo(dt)


@composed
def saturate_cast(x, dtype):
    """``x`` clipped to ``dtype``'s range, then cast (floats to integers truncate): no wrap-around.
    On a recorded value or a tensor, ``dtype`` must be a float dtype (the gradient passes inside the range)."""
    target = _keras_dtype(dtype, "saturate_cast")
    if _is_tensor(x) or _recorded(x):
        from . import ops
        if target.kind != "f":
            raise TypeError(f"ops.saturate_cast: dtype {target.name} is not a float dtype; on a tensor or a recorded "
                            f"value saturate_cast takes a float dtype")
        info = np.finfo(target)
        return ops.cast(ops.clip(x, float(info.min), float(info.max)), target.name)
    array = _array(x, "x", "saturate_cast")
    if array.dtype.kind == "b" or target.kind == "b":
        return array.astype(target)
    source, goal = _limits(array.dtype), _limits(target)
    low, high = max(float(source.min), float(goal.min)), min(float(source.max), float(goal.max))
    if array.dtype.kind == "f":
        # (the bounds as floats of x's dtype: high may round up past the target's maximum, 2**31 - 1 in
        # float32 is 2**31; clipping then keeps the largest value below it)
        lo, hi = np.asarray(low, array.dtype), np.asarray(high, array.dtype)
        if target.kind != "f" and float(hi) > high:
            hi = np.nextafter(hi, np.asarray(0, array.dtype))
        if target.kind != "f" and float(lo) < low:
            lo = np.nextafter(lo, np.asarray(0, array.dtype))
        clipped = np.clip(array, lo, hi)
        if target.kind != "f":
            out = np.trunc(clipped).astype(target)
            # the largest float below the bound may not reach it: the bound itself, as TF's saturate_cast
            out[array >= high] = int(high)
            out[array <= low] = int(low)
            return out
        return clipped.astype(target)
    return np.clip(array, int(low) if goal.dtype.kind != "f" else low,
                   int(high) if goal.dtype.kind != "f" else high).astype(target)


@composed
def copy(x):
    """A copy of ``x`` (on a tensor, the tensor itself: a model's values are never written to)."""
    if _is_tensor(x):
        return x
    if _recorded(x):
        from . import ops
        return ops.reshape(x, np.shape(x))
    return np.array(_array(x, "x", "copy"), copy=True)


def array(x, dtype=None):
    """``x`` as a new NumPy array: Python floats float32, ints int32 (Keras'), or ``dtype``."""
    _no_tensor("array", x=x)
    value = np.array(_array(x, "x", "array"), copy=True)
    return value if dtype is None else value.astype(_keras_dtype(dtype, "array"))


def empty(shape, dtype=None):
    """An array of ``shape`` (zeros, as Keras' on TensorFlow), float32 unless ``dtype``."""
    _no_tensor("empty", shape=shape)
    try:
        shape = tuple(int(s) for s in (shape if isinstance(shape, (tuple, list)) else (shape,)))
    except (TypeError, ValueError):
        raise TypeError(f"ops.empty: shape must be integers, got {shape!r:.60}") from None
    return np.zeros(shape, dtype=_keras_dtype(dtype, "empty"))


def empty_like(x, dtype=None):
    """Zeros (Keras' empty on TensorFlow) of ``x``'s shape and dtype, or ``dtype``."""
    if _is_tensor(x):
        from . import ops
        return ops.zeros_like(x, dtype=dtype)
    array = _array(x, "x", "empty_like")
    return np.zeros_like(array, dtype=None if dtype is None else _keras_dtype(dtype, "empty_like"))


def full_like(x, fill_value, dtype=None):
    """``fill_value`` in ``x``'s shape and dtype (or ``dtype``): ``full_like(ints, 2.5)`` gives 2s, as Keras'.
    On a tensor, ``fill_value`` a number: ``zeros_like``' node plus it (no gradient)."""
    if _is_tensor(fill_value):
        raise TypeError("ops.full_like: fill_value is a tensor of a model being drawn; give a number or an array")
    if _is_tensor(x):
        from . import ops
        if np.ndim(fill_value) != 0:
            raise TypeError(f"ops.full_like: on a tensor fill_value must be a number, got shape {np.shape(fill_value)}")
        return ops.zeros_like(x, dtype=dtype) + float(fill_value)
    array = _array(x, "x", "full_like")
    target = array.dtype if dtype is None else _keras_dtype(dtype, "full_like")
    fill = np.asarray(_array(fill_value, "fill_value", "full_like"))
    return np.array(np.broadcast_to(fill.astype(target) if target.kind != "f" or fill.dtype.kind != "c" else fill,
                                    array.shape), dtype=target)


def view(x, dtype=None):
    """``x``'s bytes read as ``dtype`` (NumPy's ``view``, TensorFlow's bitcast): the last axis
    scales by the ratio of the item sizes, which must divide its bytes."""
    _no_tensor("view", x=x)
    array = np.asarray(_array(x, "x", "view"), order="C")     # (ascontiguousarray makes a 0-d array 1-d)
    target = array.dtype if dtype is None else _keras_dtype(dtype, "view")
    if (array.ndim == 0 and array.dtype.itemsize != target.itemsize) or \
            (array.ndim and array.shape[-1] * array.dtype.itemsize % target.itemsize):
        raise ValueError(f"ops.view: cannot view an array of shape {array.shape} and dtype {array.dtype} as {target}: "
                         f"the last axis' bytes are not a multiple of its item size")
    return array.view(target).copy()
