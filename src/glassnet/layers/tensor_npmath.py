"""The maths of ``erfc``, ``erfinv`` and ``i0`` (keras.ops' NumPy-like functions, glassnet._ops_npmath)
on arrays, forward and backward, for ``TensorFunction``'s nodes of them (layers/tensor_math.py reads
``UNARY``, ``FORWARD`` and ``BACKWARD`` into its tables).

Why nodes of their own: each of the other NumPy-like functions is Keras' own formula on TensorFlow,
drawn from existing nodes (``hypot`` from abs, maximum, minimum, ...), but no existing node computes
these three. Each is computed in float64 and returned in the input's float dtype:

- ``erfc(x)``: ``1 - erf(x)`` where that is exact enough (x < 1), ``exp(-x^2)`` times glassnet._erf's
  Chebyshev series of ``erfc(x) exp(x^2)`` on [1, 6], Laplace's continued fraction beyond (relative
  error below 1e-14 down to 1e-300, measured against math.erfc), and ``2 - erfc(-x)`` below 0: small
  values keep their relative precision.
- ``erfinv(x)``: Giles' (2010) approximation refined by two Newton steps on glassnet._erf (float64,
  within 1e-13 of the inverse); +-inf at +-1, NaN outside [-1, 1], as TensorFlow's.
- ``i0(x)``: NumPy's ``i0``; its derivative ``i1(x)`` by the trapezoid rule on
  ``i1(x) = (1/pi) integral_0^pi exp(x cos t) cos t dt`` (periodic: the rule converges geometrically).
"""
import math

import numpy as np

from .._erf import _LARGE, _chebyshev_sum, erf as _erf

UNARY = ("erfc", "erfinv", "i0")


def erfc(x):
    """The complementary error function ``1 - erf(x)``, elementwise, in x's float dtype."""
    a = np.asarray(x, np.float64)
    y = np.abs(a)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        small = 1 - _erf(np.minimum(y, 1.0))
        middle = np.exp(-np.square(np.clip(y, 1.0, 6.0))) * _chebyshev_sum((2 * np.clip(y, 1.0, 6.0) - 7) / 5, _LARGE)
        # beyond 6 Laplace's continued fraction erfc(x) = exp(-x^2) / sqrt(pi) / (x + (1/2) / (x + 1 / (x + ...))),
        # 60 levels, evaluated from the bottom (the asymptotic series it replaced stopped at 4e-8 relative error)
        big = np.maximum(y, 6.0)
        fraction = big
        for n in range(60, 0, -1):
            fraction = big + (n / 2) / fraction
        tail = np.exp(-np.square(np.minimum(big, 40.0))) / (fraction * math.sqrt(math.pi))
        upper = np.where(y < 1, small, np.where(y <= 6, middle, tail))
        out = np.where(a < 0, 2 - upper, upper)
    return out.astype(np.result_type(np.asarray(x).dtype, np.float32) if np.asarray(x).dtype.kind == "f"
                      else np.float64, copy=False)


# Giles, "Approximating the erfinv function" (GPU Computing Gems, 2011): single precision
_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
            -0.00417768164, 0.246640727, 1.50140941)
_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
         0.00943887047, 1.00167406, 2.83297682)


def _horner(coefficients, t):
    out = np.full_like(t, coefficients[0])
    for c in coefficients[1:]:
        out = out * t + c
    return out


def erfinv(x):
    """The inverse of erf on [-1, 1], elementwise, in x's float dtype."""
    a = np.asarray(x, np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inside = np.clip(a, -1 + 1e-300, 1 - 1e-16)
        w = -np.log((1 - inside) * (1 + inside))
        y = np.where(w < 5, _horner(_CENTRAL, w - 2.5), _horner(_TAIL, np.sqrt(w) - 3)) * inside
        for _ in range(2):      # Newton's steps on erf(y) = x: each squares the relative error
            y = y - (_erf(y) - inside) * (math.sqrt(math.pi) / 2) * np.exp(y * y)
        y = np.where(np.abs(a) == 1, np.copysign(np.inf, a), y)
        y = np.where((np.abs(a) > 1) | np.isnan(a), np.nan, y)
    return y.astype(np.asarray(x).dtype if np.asarray(x).dtype.kind == "f" else np.float64, copy=False)


def i0(x):
    """The modified Bessel function of the first kind, order 0, elementwise, in x's float dtype."""
    array = np.asarray(x)
    return np.i0(array.astype(np.float64)).astype(array.dtype if array.dtype.kind == "f" else np.float64)


def i1(x):
    """The modified Bessel function of the first kind, order 1 (i0's derivative), elementwise: the
    trapezoid rule on (1/pi) integral_0^pi exp(|x| (cos t - 1)) cos t dt, times exp(|x|) sign(x)."""
    a = np.asarray(x, np.float64)
    t = np.linspace(0, np.pi, 257)
    weights = np.full(t.shape, np.pi / 256)
    weights[[0, -1]] /= 2
    y = np.abs(a)[..., None]
    with np.errstate(over="ignore"):
        integral = (np.exp(y * (np.cos(t) - 1)) * np.cos(t)) @ weights / np.pi
        return np.sign(a) * np.exp(np.abs(a)) * integral


FORWARD = {"erfc": erfc, "erfinv": erfinv, "i0": i0}
# dL/dx from dL/dy (g), x and y
BACKWARD = {
    "erfc": lambda g, x, y: -g * (2 / math.sqrt(math.pi)) * np.exp(-x * x),
    "erfinv": lambda g, x, y: g * (math.sqrt(math.pi) / 2) * np.exp(y * y),
    "i0": lambda g, x, y: g * i1(x).astype(x.dtype, copy=False),
}
