"""keras.ops' NumPy-like element-wise functions for ``glassnet.ops`` (which re-exports them):
absolute, fabs, cbrt, deg2rad, rad2deg, erfc, erfinv, exp2, fmax, fmin, fmod, heaviside, hypot,
logaddexp, logaddexp2, ldexp, sinc, i0, true_divide, divide_no_nan, nan_to_num.

On arrays each computes at once with Keras 3.15's values and dtypes on TensorFlow (integers give
floatx, float32 unless ``config.set_floatx``; int64 float64 where Keras' does). On tensors of a model being drawn, and on values a
``GradientTape`` records, each is Keras' own TensorFlow formula drawn from existing nodes
(``hypot``: ``max(|a|, |b|) sqrt(1 + divide_no_nan(min, max)^2)``; ``fmod``: ``sign(a) mod(|a|, |b|)``),
so its gradient is TensorFlow's, kinks included: no maths is written twice. ``erfc``, ``erfinv``
and ``i0`` are nodes of their own (layers/tensor_npmath.py); ``ldexp`` and ``i0`` take no tensors.
"""
import math

import numpy as np

from . import _tape_state, backend
from ._ops_reading import _array, _arrays, _is_tensor
from ._ops_reading import public_ops as _ops
from ._ops_reading import composed as _composed   # (a tape runs it as it is: its ops calls recorded)
from .layers import tensor_npmath


def _live(*values):
    """Whether any of ``values`` (lists too) is a tensor of a model being drawn or a recorded value:
    then the composed form runs (existing nodes; each ops call recorded by the tape)."""
    flat = [v for value in values for v in (value if isinstance(value, (list, tuple)) else (value,))]
    return any(_is_tensor(v) for v in flat) or bool(_tape_state.recording()) and _tape_state.holds_recorded(flat)


def _ndim(value):
    """The rank of an array, a number, a list, a recorded value or a tensor (``np.ndim`` is refused
    on a value a GradientTape records, and reads a tensor of a model being drawn as an object)."""
    return value.ndim if hasattr(value, "ndim") else np.ndim(value)


def _shape(value):
    """The shape of ``value`` as ``_ndim`` reads its rank."""
    return tuple(value.shape) if hasattr(value, "shape") else np.shape(value)


def _floats(array, wide_int64=True):
    """Keras' float result of an integer (or boolean) array: floatx (float32 unless
    ``config.set_floatx``: Keras casts to ``config.floatx()``), int64 float64 (``wide_int64``)."""
    if array.dtype.kind == "f":
        return array
    return array.astype(np.float64 if wide_int64 and array.dtype == np.int64 else backend.floatx())


def _no_booleans(array, name, function):
    if array.dtype.kind == "b":
        raise TypeError(f"ops.{function}: {name} must hold numbers, not booleans (as Keras 3.15 on TensorFlow), got "
                        f"bool")
    return array


def _pair(function, x1, x2, floats=False, wide_int64=True):
    a, b = _arrays(function, ("x1", x1), ("x2", x2))
    if floats and a.dtype.kind != "f":
        dtype = _floats(a, wide_int64).dtype
        # a Python int goes to the float result as it is (Keras' result type holds float): _arrays gave
        # it the integers' dtype, where -2 beside uint8 wrapped to 254 and 2**33 beside int32 to 0
        a, b = (np.asarray(v, dtype) if type(v) is int else w.astype(dtype) for v, w in ((x1, a), (x2, b)))
    return a, b


# -- one operand ---------------------------------------------------------------------------------------
@_composed
def absolute(x):
    """``|x|``, elementwise, the dtype kept (booleans too); the same as ``ops.abs``."""
    if _live(x):
        return _ops().abs(x)
    return np.asarray(np.abs(_array(x, "x", "absolute")))      # (a 0-d array, not NumPy's scalar)


@_composed
def fabs(x):
    """``|x|`` as floats: integers give floatx (int64 float64)."""
    if _live(x):
        return _ops().abs(x)
    return np.asarray(np.abs(_floats(_array(x, "x", "fabs"), wide_int64=False)))


@_composed
def cbrt(x):
    """The real cube root, ``sign(x) |x|^(1/3)`` (Keras'); integers give floatx, int64 float64.
    Its gradient at 0 is NaN, as TensorFlow's (``0 * inf``)."""
    if _live(x):
        o = _ops()
        return o.multiply(o.sign(x), o.power(o.abs(x), 1.0 / 3.0))
    array = _floats(_array(x, "x", "cbrt"))
    return np.asarray(np.cbrt(array)).astype(array.dtype, copy=False)


@_composed
def deg2rad(x):
    """Degrees to radians, ``x * pi / 180``; integers give floatx, int64 float64."""
    if _live(x):
        return _ops().multiply(x, math.pi / 180)
    array = _floats(_array(x, "x", "deg2rad"))
    return np.asarray(array * array.dtype.type(math.pi / 180))


@_composed
def rad2deg(x):
    """Radians to degrees, ``x * 180 / pi``; integers give floatx, int64 float64."""
    if _live(x):
        return _ops().multiply(x, 180 / math.pi)
    array = _floats(_array(x, "x", "rad2deg"))
    return np.asarray(array * array.dtype.type(180 / math.pi))


def _special(op, x):
    if _is_tensor(x):      # (a GradientTape records the same node: glassnet._tape_record's generic path)
        from .layers.tensor_functions import TensorFunction
        return TensorFunction(op)(x)
    array = _no_booleans(_array(x, "x", op), "x", op)
    return np.asarray(tensor_npmath.FORWARD[op](_floats(array, wide_int64=False)))


def erfc(x):
    """``1 - erf(x)``, elementwise, small values precise (layers/tensor_npmath.py); integers give
    floatx (Keras 3.15 on TensorFlow refuses them, as for ``erf``)."""
    return _special("erfc", x)


def erfinv(x):
    """The inverse error function on [-1, 1] (+-inf at +-1, NaN outside); integers give floatx."""
    return _special("erfinv", x)


def i0(x):
    """The modified Bessel function of the first kind, order 0; integers give floatx, int64 float64.
    Arrays and a GradientTape (gradient ``i1(x)``); tensors too (a node of its own)."""
    if _is_tensor(x):
        return _special("i0", x)
    array = _floats(_array(x, "x", "i0"))
    return tensor_npmath.i0(array)


@_composed
def exp2(x):
    """``2 ** x``, elementwise; integers and booleans give floatx."""
    if _live(x):
        o = _ops()
        return o.exp(o.multiply(x, math.log(2)))
    array = _floats(_array(x, "x", "exp2"), wide_int64=False)
    return np.asarray(np.exp2(array))


@_composed
def sinc(x):
    """``sin(pi x) / (pi x)``, 1 at 0 (Keras'); integers give floatx. On tensors and tapes Keras'
    ``where(x == 0, 1, sin(pi x) / (pi x))``, whose gradient at 0 is NaN, as TensorFlow's."""
    if _live(x):
        o = _ops()
        pi_x = o.multiply(x, math.pi)
        return o.where(o.equal(x, 0.0), 1.0, o.divide(o.sin(pi_x), pi_x))
    array = _floats(_array(x, "x", "sinc"), wide_int64=False)
    with np.errstate(invalid="ignore", divide="ignore"):
        pi_x = array * array.dtype.type(math.pi)
        return np.asarray(np.where(array == 0, array.dtype.type(1), np.sin(pi_x) / pi_x))


@_composed
def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """``x`` with NaN replaced by ``nan``, +inf by ``posinf`` and -inf by ``neginf`` (None: the dtype's
    largest and lowest finite values); integers and booleans unchanged, as Keras'."""
    for name, value in (("nan", nan), ("posinf", posinf), ("neginf", neginf)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float, np.number))):
            raise TypeError(f"ops.nan_to_num: {name} must be a number{'' if name == 'nan' else ' or None'}, got "
                            f"{value!r:.40}")
    if _live(x):
        o = _ops()
        big = float(np.finfo(np.float32).max)
        y = o.where(o.isnan(x), float(nan), x)
        y = o.where(o.logical_and(o.isinf(y), o.greater(y, 0.0)), big if posinf is None else float(posinf), y)
        return o.where(o.logical_and(o.isinf(y), o.less(y, 0.0)), -big if neginf is None else float(neginf), y)
    array = _array(x, "x", "nan_to_num")
    if array.dtype.kind != "f":
        return array
    info = np.finfo(array.dtype)
    return np.asarray(np.nan_to_num(array, nan=nan, posinf=info.max if posinf is None else posinf,
                                    neginf=info.min if neginf is None else neginf))


# -- two operands --------------------------------------------------------------------------------------
def _nan_ignoring(which, x1, x2):
    if _live(x1, x2):
        o = _ops()
        both = getattr(o, "maximum" if which == "fmax" else "minimum")(x1, x2)
        nan1, nan2 = o.isnan(x1), o.isnan(x2)
        y = o.where(o.logical_and(nan1, o.logical_not(nan2)), x2, both)
        return o.where(o.logical_and(nan2, o.logical_not(nan1)), x1, y)
    a, b = _pair(which, x1, x2)
    return np.asarray(getattr(np, which)(a, b))


@_composed
def fmax(x1, x2):
    """The larger of ``x1`` and ``x2`` elementwise, a NaN passed over (NumPy's fmax); Keras' result
    dtype. A tie gives its gradient to x1, as TensorFlow's maximum."""
    return _nan_ignoring("fmax", x1, x2)


@_composed
def fmin(x1, x2):
    """The smaller of ``x1`` and ``x2`` elementwise, a NaN passed over (NumPy's fmin)."""
    return _nan_ignoring("fmin", x1, x2)


@_composed
def fmod(x1, x2):
    """The remainder of ``x1 / x2`` with x1's sign (C's fmod, Keras' ``sign(x1) mod(|x1|, |x2|)``);
    booleans give int32. Gradients, TensorFlow's: ``sign(x1)^2`` to x1 (0 at x1 = 0) and
    ``-sign(x1) sign(x2) floor(|x1| / |x2|)`` to x2."""
    if _live(x1, x2):
        o = _ops()
        return o.multiply(o.sign(x1), o.mod(o.abs(x1), o.abs(x2)))
    # Keras' fmod converts a Python int to an int32 tensor before its result type: not weak, so that
    # beside uint8 or booleans it gives int32 (fmod(-2, uint8) is -2, not uint8's wrapped 254 mod x2)
    x1, x2 = (np.asarray(v).astype(np.int32) if type(v) is int and -2**31 <= v < 2**31 else v for v in (x1, x2))
    a, b = _pair("fmod", x1, x2)
    if a.dtype.kind == "b":
        a, b = a.astype(np.int32), b.astype(np.int32)
    if a.dtype.kind in "iu" and np.any(b == 0):
        raise ValueError("ops.fmod: x2 holds 0 and the operands are integers: Integer division by zero, as Keras 3.15")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.sign(a) * np.mod(np.abs(a), np.abs(b))).astype(a.dtype, copy=False)


@_composed
def heaviside(x1, x2):
    """0 where ``x1 < 0``, 1 where ``x1 > 0``, ``x2`` elsewhere (at 0 and at NaN, Keras'); integers
    give floatx, int64 float64; two booleans refused. The gradient goes to x2 where it is taken, none to x1."""
    if _live(x1, x2):
        o = _ops()
        return o.where(o.less(x1, 0.0), 0.0, o.where(o.greater(x1, 0.0), 1.0, x2))
    # Keras refuses booleans only where both are (its bool result type has no 0 and 1 to select):
    # heaviside(x > 0, 0.5) takes the booleans as 0 and 1
    _no_booleans(_arrays("heaviside", ("x1", x1), ("x2", x2))[0], "x1 or x2", "heaviside")
    a, b = _pair("heaviside", x1, x2, floats=True)
    return np.asarray(np.where(a < 0, a.dtype.type(0), np.where(a > 0, a.dtype.type(1), b)))


@_composed
def hypot(x1, x2):
    """``sqrt(x1^2 + x2^2)`` elementwise without overflow: Keras' ``max * sqrt(1 + (min / max)^2)``
    of the absolute values (``divide_no_nan``: 0 at the origin, and a gradient of 0 there); integers
    give floatx, int64 float64."""
    if _live(x1, x2):
        o = _ops()
        a, b = o.abs(x1), o.abs(x2)
        high, low = o.maximum(a, b), o.minimum(a, b)
        return o.multiply(high, o.sqrt(o.add(o.square(divide_no_nan(low, high)), 1.0)))
    a, b = _pair("hypot", x1, x2, floats=True)
    return np.asarray(np.hypot(a, b))


def _logaddexp(function, x1, x2, base):
    if _live(x1, x2):
        o = _ops()
        delta = o.subtract(x1, x2)
        scale = math.log(base)
        term = o.log1p(o.exp(o.multiply(o.abs(delta), -scale)))
        return o.where(o.isnan(delta), o.add(x1, x2), o.add(o.maximum(x1, x2), o.multiply(term, 1 / scale)))
    a, b = _pair(function, x1, x2, floats=True, wide_int64=False)
    return np.asarray(np.logaddexp(a, b) if base == math.e else np.logaddexp2(a, b))


@_composed
def logaddexp(x1, x2):
    """``log(exp(x1) + exp(x2))`` without overflow; integers and booleans give floatx."""
    return _logaddexp("logaddexp", x1, x2, math.e)


@_composed
def logaddexp2(x1, x2):
    """``log2(2^x1 + 2^x2)`` without overflow; integers and booleans give floatx."""
    return _logaddexp("logaddexp2", x1, x2, 2)


@_composed
def ldexp(x1, x2):
    """``x1 * 2 ** x2``, ``x2`` integers (Keras 3.15 refuses float exponents); integers x1 give
    floatx. Arrays, and a GradientTape's x1 (gradient ``2 ** x2``)."""
    from ._ops_arrays import _no_tensor
    _no_tensor("ldexp", x1=x1, x2=x2)
    exponent = _array(x2, "x2", "ldexp")
    if exponent.dtype.kind not in "iu":
        raise TypeError(f"ops.ldexp: x2 must hold integers (the exponents), got an array of {exponent.dtype}")
    if _live(x1):
        return _ops().multiply(x1, np.ldexp(np.ones((), np.asarray(x1).dtype), exponent))
    mantissa = _floats(_array(x1, "x1", "ldexp"), wide_int64=False)
    return np.asarray(np.ldexp(mantissa, exponent)).astype(mantissa.dtype, copy=False)


@_composed
def true_divide(x1, x2):
    """``x1 / x2``, the same as ``ops.divide`` (integers give floatx)."""
    return _ops().divide(x1, x2)


@_composed
def divide_no_nan(x1, x2):
    """``x1 / x2``, 0 where ``x2`` is 0 (0 / 0 too); integers and booleans give floatx. On tensors
    and tapes no gradient reaches through a zero divisor (TensorFlow's)."""
    if _live(x1, x2):
        o = _ops()
        zero = o.equal(x2, 0.0)
        safe = o.where(zero, 1.0, x2)
        return o.where(zero, 0.0, o.divide(x1, safe))
    a, b = _pair("divide_no_nan", x1, x2, floats=True, wide_int64=False)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(b == 0, a.dtype.type(0), a / np.where(b == 0, a.dtype.type(1), b)))


__all__ = ["absolute", "fabs", "cbrt", "deg2rad", "rad2deg", "erfc", "erfinv", "exp2", "fmax", "fmin", "fmod",
           "heaviside", "hypot", "logaddexp", "logaddexp2", "ldexp", "sinc", "i0", "true_divide", "divide_no_nan",
           "nan_to_num"]
