"""``glassnet.ops``' element-wise maths, comparisons, logic and reductions (``ops.py`` re-exports them).

As ``glassnet.ops``' other functions: on arrays each computes at once, with Keras 3.15's values
and dtypes; on an ``Input`` or a drawn tensor it makes a ``TensorFunction`` node whose maths is in
layers/tensor_math.py. Results Keras gives as booleans or integers (comparisons, ``argmax``, ``any``)
are NumPy booleans and int32 on arrays, and floats of the model's dtype (0.0 and 1.0, the index) on
tensors, with no gradient to the inputs.
"""
import numbers

import numpy as np

from . import backend
from .layers.tensor_functions import TensorFunction
from .layers import tensor_math
from ._ops_reading import _array, _arrays, _axis_argument, _float, _is_tensor, _keras_dtype, _two, _unary



# -- element-wise ---------------------------------------------------------------------------------
def log1p(x):
    """``log(1 + x)``, elementwise, exact for small ``x``; integers give float32."""
    return _unary("log1p", x)


def expm1(x):
    """``exp(x) - 1``, elementwise, exact for small ``x``."""
    return _unary("expm1", x)


def sin(x):
    """The sine, elementwise (radians)."""
    return _unary("sin", x)


def cos(x):
    """The cosine, elementwise (radians)."""
    return _unary("cos", x)


def erf(x):
    """The error function, elementwise (glassnet's Chebyshev series, within 3 float32 ulps); integers
    give float32 (Keras 3.15 on TensorFlow refuses them)."""
    return _unary("erf", x)


def reciprocal(x):
    """``1 / x``, elementwise; integers give float32 (Keras 3.15 on TensorFlow refuses them)."""
    return _unary("reciprocal", x)


def rsqrt(x):
    """``1 / sqrt(x)``, elementwise; integers give float32 (Keras 3.15 on TensorFlow refuses them)."""
    return _unary("rsqrt", x)


def floor(x):
    """The largest integer not above ``x``, elementwise; integers give float32, as Keras'. On tensors
    its gradient is 0 (TensorFlow's has none)."""
    return _unary("floor", x)


def sign(x):
    """-1, 0 or 1 as ``x`` is negative, zero or positive; the dtype kept (booleans refused, as Keras').
    On tensors its gradient is 0."""
    return _unary("sign", x, floats=False, bools=False)


def round(x, decimals=0):
    """``x`` rounded to ``decimals`` places, halves to even (integers stay integers; booleans refused).
    On tensors its gradient is 0 (TensorFlow's has none)."""
    if _is_tensor(x):
        return TensorFunction("round", {"decimals": decimals})(x)
    if isinstance(decimals, bool) or not isinstance(decimals, numbers.Integral):
        raise TypeError(f"ops.round: decimals must be an integer, got {decimals!r:.40}")
    array = _array(x, "x", "round")
    if array.dtype.kind == "b":
        raise TypeError("ops.round: x must hold numbers, not booleans (as Keras 3.15 on TensorFlow), got bool")
    return np.asarray(np.round(array, int(decimals)))


def power(x1, x2):
    """``x1 ** x2``, elementwise, broadcast as NumPy's, Keras' result dtype (two integers: an integer,
    whose negative exponents NumPy refuses). On tensors a node ``power`` of two tensors, or of a tensor
    and a constant base or exponent; the exponent's gradient ``x1 ** x2 log(x1)`` is 0 where x1 <= 0
    (TensorFlow's)."""
    if not (_is_tensor(x1) or _is_tensor(x2)):
        _refuse_negative_integer_exponent(x1, x2)
    return _two("power", x1, x2, np.power)


def _refuse_negative_integer_exponent(x1, x2):
    """Keras 3.15 (TensorFlow's Pow) refuses an integer result with a negative exponent; NumPy refuses
    it for signed integers only, and a weak ``-1`` beside uint8 would first wrap to 255. The exponent
    is read as given, before the cast to the result's dtype."""
    dtype = _arrays("power", ("x1", x1), ("x2", x2))[0].dtype
    exponent = _array(x2, "x2", "power")
    if dtype.kind in "iu" and exponent.size and exponent.min() < 0:
        raise ValueError(f"ops.power: x2 holds the negative exponent {exponent.min()} and the result is {dtype.name} "
                         f"(integers x1 and x2): Integers to negative integer powers are not allowed, as in Keras "
                         f"3.15; cast x1 to a float dtype (ops.cast(x1, 'float32'))")


# -- comparisons and logic: booleans on arrays, 0.0 / 1.0 on tensors, no gradient ---------------------
def _compare(op, x1, x2):
    if not (_is_tensor(x1) or _is_tensor(x2)):
        # Keras converts a Python int to a tensor of its own (int32) before comparing, where add takes
        # it as weak: weak, -1 would wrap to 255 in uint8 x (less(x, -1) all True) and 200 to -56 in int8
        x1, x2 = (np.asarray(v, np.int32 if -2 ** 31 <= v < 2 ** 31 else np.int64) if type(v) is int else v
                  for v in (x1, x2))
    return _two(op, x1, x2, lambda a, b: np.asarray(tensor_math.binary(op, a, b)))


def equal(x1, x2):
    """``x1 == x2``, elementwise (broadcast): booleans."""
    return _compare("equal", x1, x2)


def not_equal(x1, x2):
    """``x1 != x2``, elementwise."""
    return _compare("not_equal", x1, x2)


def greater(x1, x2):
    """``x1 > x2``, elementwise."""
    return _compare("greater", x1, x2)


def greater_equal(x1, x2):
    """``x1 >= x2``, elementwise."""
    return _compare("greater_equal", x1, x2)


def less(x1, x2):
    """``x1 < x2``, elementwise."""
    return _compare("less", x1, x2)


def less_equal(x1, x2):
    """``x1 <= x2``, elementwise."""
    return _compare("less_equal", x1, x2)


def logical_and(x1, x2):
    """Both non-zero, elementwise: booleans."""
    return _compare("logical_and", x1, x2)


def logical_or(x1, x2):
    """Either non-zero, elementwise: booleans."""
    return _compare("logical_or", x1, x2)


def logical_not(x):
    """``x == 0``, elementwise: booleans (on tensors 1.0 where x is 0)."""
    if _is_tensor(x):
        return TensorFunction("logical_not")(x)
    return np.asarray(_array(x, "x", "logical_not") == 0)


def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` is non-zero (True), ``x2`` elsewhere, the three broadcast as NumPy's;
    Keras' result dtype of ``x1`` and ``x2``. ``where(condition)`` alone: the indices of its non-zero
    entries, one int32 array per axis (arrays only).

    On tensors, any of the three may be a tensor (``where(x > 0, x, 0.01 * x)``), the others
    constants (numbers, arrays) kept in the node's config; the gradient goes to ``x1`` where the
    condition holds, to ``x2`` elsewhere, none to the condition."""
    named = {"condition": condition, "x1": x1, "x2": x2}
    if (x1 is None) != (x2 is None):
        raise ValueError(f"ops.where: give x1 and x2 both or neither (the indices of condition's non-zero "
                         f"entries), got {'x2' if x1 is not None else 'x1'}=None only")
    tensors = [name for name, value in named.items() if _is_tensor(value)]
    if tensors:
        if x1 is None:
            raise ValueError("ops.where: where(condition) alone (the indices of the non-zero entries) has no "
                             "fixed shape; on tensors give x1 and x2")
        constants = {n: v for n, v in named.items() if n not in tensors}
        for name, value in constants.items():
            _array(value, name, "where")          # numbers only, refused by name
        return TensorFunction("where", {"constants": constants})([named[n] for n in tensors])
    array = _array(condition, "condition", "where")
    if x1 is None:
        return tuple(i.astype(np.int32) for i in np.nonzero(array))
    a, b = _arrays("where", ("x1", x1), ("x2", x2))
    return np.where(array != 0, a, b)


# -- reductions ------------------------------------------------------------------------------------
def _reduction(op, x, axis, keepdims, **more):
    """The node on a tensor; None on arrays (keepdims checked)."""
    if _is_tensor(x):
        return TensorFunction(op, {"axis": axis, "keepdims": keepdims, **more})(x)
    _check_keepdims(op, keepdims)
    return None


def _check_keepdims(op, keepdims):
    if not isinstance(keepdims, (bool, np.bool_)):
        raise TypeError(f"ops.{op}: keepdims must be True or False, got {keepdims!r:.40}")


def prod(x, axis=None, keepdims=False, dtype=None):
    """The product over ``axis`` (None: all). Keras' dtypes as ``sum``'s: booleans, int8 and int16
    give int32, uint8 and uint16 uint32; ``dtype`` sets it (Keras 3.15 on TensorFlow ignores it).
    On tensors ``dtype`` must be None; the gradient is the product of the other entries (zeros too)."""
    if _is_tensor(x):
        return TensorFunction("prod", {"axis": axis, "keepdims": keepdims, "dtype": dtype})(x)
    _check_keepdims("prod", keepdims)
    array = _array(x, "x", "prod")
    out = _widened(array.dtype) if dtype is None else _keras_dtype(dtype, "prod")
    return np.asarray(np.prod(array, axis=_axis_argument(axis, "prod"), keepdims=keepdims, dtype=out))


def _widened(dtype):
    """sum's and prod's accumulator in Keras (JAX's rule): narrow integers widen to 32 bits."""
    if dtype.kind == "b" or (dtype.kind in "iu" and dtype.itemsize < 4):
        return np.dtype(np.uint32 if dtype.kind == "u" else np.int32)
    return dtype


def _float_reduction(op, x, axis, keepdims, **more):
    node = _reduction(op, x, axis, keepdims, **more)
    if node is not None:
        return node
    array = _float(_array(x, "x", op))
    return np.asarray(tensor_math.reduce(op, array, _axis_argument(axis, op), keepdims, **more)).astype(array.dtype)


def std(x, axis=None, keepdims=False):
    """The standard deviation over ``axis`` (NumPy's, ``ddof=0``); integers give float32. On tensors
    the gradient is 0 where it is 0."""
    return _float_reduction("std", x, axis, keepdims)


def var(x, axis=None, keepdims=False):
    """The variance over ``axis`` (the mean of squared deviations)."""
    return _float_reduction("var", x, axis, keepdims)


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, without overflow; integers give float32 (Keras 3.15 on
    TensorFlow refuses them). Its gradient is ``softmax`` over the axis."""
    return _float_reduction("logsumexp", x, axis, keepdims)


def norm(x, ord=None, axis=None, keepdims=False):
    """A vector norm over one ``axis`` (``ord`` None or 2: Euclidean; 1; inf; -inf; 0: the count of
    non-zero entries; any other p), or a matrix norm over two (None or 'fro': Frobenius; on arrays
    NumPy's 1, 2, inf, 'nuc' too). ``axis=None``: the whole array (NumPy's rule). Integers give float32.
    On tensors one or two sample axes, vector norms or the Frobenius norm; the gradient is 0 where the
    norm is 0."""
    if _is_tensor(x):
        return TensorFunction("norm", {"ord": ord, "axis": axis, "keepdims": keepdims})(x)
    _check_keepdims("norm", keepdims)
    array = _float(_array(x, "x", "norm"))
    return np.asarray(np.linalg.norm(array, ord=ord, axis=_axis_argument(axis, "norm"), keepdims=keepdims),
                      dtype=array.dtype)


def _arg(op, x, axis, keepdims):
    node = _reduction(op, x, axis, keepdims)
    if node is not None:
        return node
    if axis is not None and (isinstance(axis, bool) or not isinstance(axis, numbers.Integral)):
        raise TypeError(f"ops.{op}: axis must be one integer or None, got {axis!r:.40}")
    array = _array(x, "x", op)
    return np.asarray(tensor_math.arg(op, array, axis, keepdims)).astype(np.int32)


def argmax(x, axis=None, keepdims=False):
    """The index of the largest value along ``axis`` (None: of the flattened array), the first of
    ties: int32 on arrays; on tensors the index as a float of the model's dtype, without gradient.
    As Keras 3.15 on TensorFlow, NaN is passed over (``argmax([nan, 1, 0])`` is 1; NumPy's is 0),
    an axis of NaN alone gives 0, and -0.0 counts below 0.0 (``tensor_math.arg``)."""
    return _arg("argmax", x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    """The index of the smallest value along ``axis``, as ``argmax``."""
    return _arg("argmin", x, axis, keepdims)


def any(x, axis=None, keepdims=False):
    """Whether any entry over ``axis`` is non-zero: booleans (on tensors 0.0 / 1.0)."""
    node = _reduction("any", x, axis, keepdims)
    return node if node is not None else np.asarray(np.any(_array(x, "x", "any") != 0, axis=_axis_argument(
        axis, "any"), keepdims=keepdims))


def all(x, axis=None, keepdims=False):
    """Whether every entry over ``axis`` is non-zero: booleans (on tensors 0.0 / 1.0)."""
    node = _reduction("all", x, axis, keepdims)
    return node if node is not None else np.asarray(np.all(_array(x, "x", "all") != 0, axis=_axis_argument(
        axis, "all"), keepdims=keepdims))


def _cumulative(op, x, axis, dtype):
    if _is_tensor(x):
        return TensorFunction(op, {"axis": axis, "dtype": dtype})(x)
    if axis is not None and (isinstance(axis, bool) or not isinstance(axis, numbers.Integral)):
        raise TypeError(f"ops.{op}: axis must be one integer or None, got {axis!r:.40}")
    array = _array(x, "x", op)
    if dtype is not None:
        out = _keras_dtype(dtype, op)
    else:       # Keras': booleans count in int32, every other dtype kept
        out = np.dtype(np.int32) if array.dtype.kind == "b" else array.dtype
    return getattr(np, op)(array, axis=axis, dtype=out)


def cumsum(x, axis=None, dtype=None):
    """The running sum along ``axis`` (None: of the flattened array); booleans count in int32.
    On tensors a sample axis, ``dtype`` None."""
    return _cumulative("cumsum", x, axis, dtype)


def cumprod(x, axis=None, dtype=None):
    """The running product along ``axis``, as ``cumsum``."""
    return _cumulative("cumprod", x, axis, dtype)


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """Each id of ``x`` as ``num_classes`` numbers on a new ``axis`` (of the result): 1 at the id, 0
    elsewhere; floats truncated to integers, an id outside [0, num_classes) all zeros (TensorFlow's);
    float32 unless ``dtype``. ``sparse=True`` is not supported. On tensors (ids as the model's floats)
    ``dtype`` must be None, and no gradient reaches ``x``.

    >>> one_hot([0, 2], 3).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    if sparse is not False:
        raise ValueError(f"ops.one_hot: sparse must be False (glassnet has no sparse tensors), got {sparse!r:.40}")
    if _is_tensor(x):
        return TensorFunction("one_hot", {"num_classes": num_classes, "axis": axis, "dtype": dtype})(x)
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise TypeError(f"ops.one_hot: num_classes must be a positive integer, got {num_classes!r:.40}")
    array = _array(x, "x", "one_hot")
    rank = array.ndim + 1
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or not -rank <= axis < rank:
        raise ValueError(f"ops.one_hot: axis must be an integer in [{-rank}, {rank}) (an axis of the result), "
                         f"got {axis!r:.40}")
    out = np.dtype(backend.floatx()) if dtype is None else _keras_dtype(dtype, "one_hot")     # Keras' floatx
    return tensor_math.one_hot(array, int(num_classes), int(axis), out)


__all__ = ["log1p", "expm1", "sin", "cos", "erf", "reciprocal", "rsqrt", "floor", "sign", "round", "power",
           "equal", "not_equal", "greater", "greater_equal", "less", "less_equal", "logical_and", "logical_or",
           "logical_not", "where", "prod", "std", "var", "logsumexp", "norm", "argmax", "argmin", "any", "all",
           "cumsum", "cumprod", "one_hot"]
