"""More of ``keras.ops`` for ``glassnet.ops`` (which re-exports them): the trigonometric and
hyperbolic functions and their inverses, log2, log10, ceil, trunc, isnan, isinf, isfinite,
floor_divide, mod, logical_xor, sort, argsort, slice, slice_update, convert_to_tensor,
convert_to_numpy and stop_gradient.

On arrays each computes at once with Keras 3.15's values and dtypes (integers and booleans give
float32 where Keras' float functions do; trunc keeps them; isnan, isinf and isfinite give booleans,
argsort int32). On a tensor the element-wise ones make a ``TensorFunction`` node (layers/tensor_math.py;
ceil, trunc, floor_divide, stop_gradient and the tests pass no gradient, mod TensorFlow's: 1 and -floor(x1 / x2)),
``slice`` the ``get_item`` node that ``x[:, a:b]`` makes, ``sort`` and ``argsort`` a node along a
sample axis; ``slice_update`` and the conversions take arrays only.
"""
import builtins
import numbers

import numpy as np

from .layers import tensor_math
from .layers.tensor_functions import TensorFunction
from ._ops_reading import _array, _arrays, _is_tensor, _keras_dtype, _two, _unary, _weak



def tan(x):
    """The tangent, elementwise (radians); integers give float32."""
    return _unary("tan", x)


def arcsin(x):
    """The inverse sine, elementwise: NaN outside [-1, 1]."""
    return _unary("arcsin", x)


def arccos(x):
    """The inverse cosine, elementwise: NaN outside [-1, 1]."""
    return _unary("arccos", x)


def arctan(x):
    """The inverse tangent, elementwise, in (-pi / 2, pi / 2)."""
    return _unary("arctan", x)


def sinh(x):
    """The hyperbolic sine, elementwise."""
    return _unary("sinh", x)


def cosh(x):
    """The hyperbolic cosine, elementwise."""
    return _unary("cosh", x)


def arcsinh(x):
    """The inverse hyperbolic sine, elementwise."""
    return _unary("arcsinh", x)


def arccosh(x):
    """The inverse hyperbolic cosine, elementwise: NaN below 1."""
    return _unary("arccosh", x)


def arctanh(x):
    """The inverse hyperbolic tangent, elementwise: NaN outside [-1, 1], +-inf at +-1."""
    return _unary("arctanh", x)


def log2(x):
    """The base-2 logarithm, elementwise."""
    return _unary("log2", x)


def log10(x):
    """The base-10 logarithm, elementwise."""
    return _unary("log10", x)


def ceil(x):
    """The smallest integer not below ``x``, elementwise; integers give float32, as Keras'. On
    tensors its gradient is 0."""
    return _unary("ceil", x)


def trunc(x):
    """``x`` rounded toward 0, elementwise; integers and booleans keep their dtype (Keras'). On
    tensors its gradient is 0."""
    return _unary("trunc", x, floats=False)


def _test(op, x):
    if _is_tensor(x):
        return TensorFunction(op)(x)
    return np.asarray(tensor_math.FORWARD[op](_array(x, "x", op)))


def isnan(x):
    """Whether each entry is NaN: booleans (on tensors 0.0 / 1.0, no gradient)."""
    return _test("isnan", x)


def isinf(x):
    """Whether each entry is +inf or -inf: booleans."""
    return _test("isinf", x)


def isfinite(x):
    """Whether each entry is neither NaN nor infinite: booleans."""
    return _test("isfinite", x)


def floor_divide(x1, x2):
    """``x1 // x2``, elementwise, broadcast as NumPy's, in the operands' Keras dtype: TensorFlow's
    floordiv, ``floor(x1 / x2)`` for floats (``9.0 // 0.1`` is 90.0, where Python's exact floor of the
    quotient gives 89.0), Python's for integers. On tensors no gradient (TensorFlow's floordiv has none)."""
    return _two("floor_divide", x1, x2, lambda a, b: np.asarray(tensor_math.floor_divide(a, b)))


def mod(x1, x2):
    """``x1 % x2``, elementwise: ``x1`` less a whole multiple of ``x2``, of ``x2``'s sign (Python's,
    TensorFlow's floormod). On tensors the gradient is 1 for ``x1`` and ``-floor(x1 / x2)`` for ``x2``
    (TensorFlow's)."""
    if not (_is_tensor(x1) or _is_tensor(x2)):
        # Keras' mod makes a Python number a tensor of its own first (int32, float32), not a weak
        # operand as the other functions do: uint8 % 3 is int32, float16 % 2.5 float32; and booleans
        # give int32
        x1, x2 = (_array(v, n, "mod") if _weak(v) else v for n, v in (("x1", x1), ("x2", x2)))
        a, b = _arrays("mod", ("x1", x1), ("x2", x2))
        return np.asarray(np.remainder(a, b)).astype(np.int32 if a.dtype.kind == "b" else a.dtype, copy=False)
    return _two("mod", x1, x2, None)


def logical_xor(x1, x2):
    """Exactly one of ``x1`` and ``x2`` non-zero, elementwise: booleans (on tensors 0.0 / 1.0)."""
    return _two("logical_xor", x1, x2, lambda a, b: np.asarray(tensor_math.binary("logical_xor", a, b)))


def _axis(axis, function):
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"ops.{function}: axis must be an integer, got {axis!r:.40}")
    return int(axis)


def sort(x, axis=-1):
    """``x`` sorted along ``axis``, ascending (NaN last); on tensors a sample axis, the gradient
    going back to the entry each value came from."""
    if _is_tensor(x):
        return TensorFunction("sort", {"axis": axis})(x)
    return np.sort(_array(x, "x", "sort"), axis=_axis(axis, "sort"))


def argsort(x, axis=-1):
    """The indices that sort ``x`` along ``axis`` (int32; ties in their order, as TensorFlow's stable
    sort). On tensors the indices as floats of the model's dtype, without gradient."""
    if _is_tensor(x):
        return TensorFunction("argsort", {"axis": axis})(x)
    return np.argsort(_array(x, "x", "argsort"), axis=_axis(axis, "argsort"), kind="stable").astype(np.int32)


_builtin_slice = builtins.slice       # this module's slice is ops.slice


def _start_and_shape(array_shape, start_indices, shape, function):
    rank = len(array_shape)
    for name, value in (("start_indices", start_indices), ("shape", shape)):
        if not isinstance(value, (list, tuple, np.ndarray)) or len(value) != rank or not all(
                v is None and name == "shape" or isinstance(v, numbers.Integral) and not isinstance(v, bool)
                for v in value):
            raise ValueError(f"ops.{function}: {name} must hold one integer per axis of x ({rank}), got {value!r:.60}")
    return [int(s) for s in start_indices], [None if n is None else int(n) for n in shape]


def slice(inputs, start_indices, shape):
    """The block of ``inputs`` of ``shape`` from ``start_indices`` (one integer each per axis; a size
    -1 or None: to the end). On tensors the batch axis stays whole (start 0, size None or -1): the
    ``get_item`` node of ``x[:, a:a + n, ...]``.

    >>> slice(np.arange(12).reshape(3, 4), (1, 1), (2, 2)).tolist()
    [[5, 6], [9, 10]]
    """
    if _is_tensor(inputs):
        from .layers.symbolic import sample_shape_of
        from .layers.tensor_ops import operate
        full = (None, *sample_shape_of(inputs))
        start, size = _start_and_shape(full, start_indices, shape, "slice")
        if start[0] != 0 or size[0] not in (None, -1):
            raise ValueError(f"ops.slice: on tensors the batch axis stays whole: start_indices[0] 0 and shape[0] None "
                             f"or -1, got {start[0]} and {size[0]}")
        index = (_builtin_slice(None),) + tuple(_builtin_slice(s, None if n in (None, -1) else s + n)
                                                 for s, n in zip(start[1:], size[1:]))
        return operate("get_item", inputs, index)
    array = _array(inputs, "inputs", "slice")
    start, size = _start_and_shape(array.shape, start_indices, shape, "slice")
    return array[_block(array.shape, start, size, "slice")].copy()


def _block(array_shape, start, size, function):
    index = []
    for axis, (s, n, m) in enumerate(zip(start, size, array_shape)):
        n = m - s if n in (None, -1) else n
        if not (0 <= s and 0 <= n and s + n <= m):
            raise ValueError(f"ops.{function}: the block from {start} of shape {size} leaves x's shape "
                             f"{tuple(array_shape)} on axis {axis}")
        index.append(_builtin_slice(s, s + n))
    return tuple(index)


def slice_update(inputs, start_indices, updates):
    """A copy of ``inputs`` with ``updates`` written from ``start_indices`` (arrays only; ``updates``
    cast to ``inputs``' dtype)."""
    if _is_tensor(inputs) or _is_tensor(updates):
        raise TypeError("ops.slice_update takes arrays, not tensors of a model being drawn (a block of a tensor "
                        "from a tensor: ops.where with a constant mask, or ops.concatenate of slices)")
    array = _array(inputs, "inputs", "slice_update")
    new = _array(updates, "updates", "slice_update")
    if new.ndim != array.ndim:
        raise ValueError(f"ops.slice_update: updates must have inputs' {array.ndim} axes, got shape {new.shape}")
    start, _ = _start_and_shape(array.shape, start_indices, new.shape, "slice_update")
    out = array.copy()
    out[_block(array.shape, start, list(new.shape), "slice_update")] = new
    return out


def convert_to_tensor(x, dtype=None, sparse=None):
    """``x`` as a NumPy array in Keras' dtype (an array keeps its own; Python floats give float32,
    ints int32, bools bool), or ``dtype``. A tensor of a model being drawn comes back as it is."""
    if sparse:
        raise ValueError(f"ops.convert_to_tensor: sparse must be None or False (glassnet has no sparse tensors), "
                         f"got {sparse!r:.40}")
    if _is_tensor(x):
        if dtype is not None:
            raise TypeError("ops.convert_to_tensor: dtype is for arrays; a tensor of a model being drawn: ops.cast")
        return x
    array = _array(x, "x", "convert_to_tensor")
    return array.astype(_keras_dtype(dtype, "convert_to_tensor")) if dtype is not None else array


def stop_gradient(variable):
    """``variable`` itself, through which no gradient passes back (Keras' ``ops.stop_gradient``): on
    tensors one node whose gradient is 0, so ``x + ops.stop_gradient(q - x)`` is keras.io's
    straight-through estimator (the value ``q``, the gradient to ``x`` whole); arrays come back as
    NumPy, Keras' dtypes (as convert_to_tensor's)."""
    if _is_tensor(variable):
        return TensorFunction("stop_gradient")(variable)
    return _array(variable, "variable", "stop_gradient")


def convert_to_numpy(x):
    """``x`` as a NumPy array: a copy of an array, NumPy's own reading of Python numbers and lists
    (1.5 gives float64, ``[1, 2]`` int64), as Keras' (not convert_to_tensor's float32 and int32);
    tensors of a model being drawn hold no values and are refused."""
    if _is_tensor(x):
        raise TypeError("ops.convert_to_numpy: a tensor of a model being drawn holds no values yet; predict with the "
                        "model for its values")
    array = _array(x, "x", "convert_to_numpy")
    # Keras 3.15's is np.array(x) of anything not a tensor: _array's float32 would round 0.1
    return np.array(x) if isinstance(x, (numbers.Number, list, tuple)) else np.array(array)


__all__ = ["tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arccosh", "arctanh", "log2", "log10",
           "ceil", "trunc", "isnan", "isinf", "isfinite", "floor_divide", "mod", "logical_xor", "sort", "argsort",
           "slice", "slice_update", "convert_to_tensor", "convert_to_numpy", "stop_gradient"]
