"""The error function ``erf(x) = 2/sqrt(pi) * integral from 0 to x of exp(-t^2) dt`` on arrays, for
GELU. NumPy has none (``math.erf`` takes one float at a time, about 50 times slower on an array).

Two Chebyshev series, whose coefficients ``fit_coefficients()`` below computes from ``math.erf``
(the tables are its output; a test checks that they still are)::

    |x| < 1:   erf(x) = x * S(2 x^2 - 1)                  erf(x) / x is smooth in x^2
    |x| >= 1:  erf(x) = sign(x) * (1 - exp(-x^2) * L((2|x| - 7) / 5))
                                                         erfc(x) exp(x^2) is smooth on [1, 6]

Beyond |x| = 6, erfc(x) < 2.2e-17, so erf(x) is +-1 to float64's precision and ``L`` is evaluated at
6. In float64 the result is within 2e-15 (relative) of ``math.erf``; in float32 the same arithmetic
in float32 is within 3 float32 ulps (2.64 the worst a review found in 21 million values; PyTorch's
float32 erf is within 0.77). Both series are summed by Clenshaw's recurrence.
"""
import math

import numpy as np

from . import backend

# S: 13 coefficients of erf(x) / x in Chebyshev polynomials of t = 2 x^2 - 1, for |x| < 1
_SMALL = (0.9754769393826546, -0.14226120510371354, 0.010035582187599784, -0.0005768764699767185,
          2.7419931252203806e-05, -1.1043175506311644e-06, 3.848875543048843e-08, -1.1808582064931968e-09,
          3.233425611477423e-11, -7.990355632680522e-13, 1.8000693117739987e-14, -3.1242045784301173e-16,
          3.5797299070931096e-17)
# L: 29 coefficients of erfc(x) exp(x^2) in Chebyshev polynomials of t = (2 x - 7) / 5, for 1 <= x <= 6
_LARGE = (0.20196598791223072, -0.14788483553398699, 0.05188222158351384, -0.01752570996486753,
          0.005721802417478237, -0.0018109803028143261, 0.0005570714353927147, -0.0001668947305252544,
          4.8785659114894026e-05, -1.39359328598055e-05, 3.895514595215043e-06, -1.0668392336714517e-06,
          2.8655025721419077e-07, -7.555861079982216e-08, 1.957586343427496e-08, -4.98711010806823e-09,
          1.2501871294168538e-09, -3.0858849965880496e-10, 7.504485927216707e-11, -1.7990168753160136e-11,
          4.253510995276813e-12, -9.923241867308203e-13, 2.285750554335009e-13, -5.196092046022811e-14,
          1.1724523890764891e-14, -2.577573945817151e-15, 6.323351613239375e-16, -9.861409685286566e-17,
          4.3510871354008303e-17)


def _enough(coefficients, tolerance):
    """The leading coefficients whose omitted rest sums (in absolute value) to less than ``tolerance``."""
    n = len(coefficients)
    while n > 1 and sum(abs(c) for c in coefficients[n - 1:]) < tolerance:
        n -= 1
    return coefficients[:n]


# float32 needs about half the terms: what float64 adds beyond 1e-9 is below float32's resolution
# (6e-8), and every term is a pass over the array
_TERMS = {np.dtype(np.float64): (_SMALL, _LARGE),
          np.dtype(np.float32): (_enough(_SMALL, 1e-9), _enough(_LARGE, 1e-9))}


def _chebyshev_sum(t, coefficients):
    """``sum_k c_k T_k(t)`` by Clenshaw's recurrence, b_k = c_k + 2 t b_(k+1) - b_(k+2), in t's
    dtype (the coefficients are Python floats, which NumPy casts to it)."""
    b1 = b2 = 0.0
    two_t = 2 * t
    for c in coefficients[:0:-1]:
        b1, b2 = c + two_t * b1 - b2, b1
    return coefficients[0] + t * b1 - b2


def erf(x):
    """erf of every element of an array (NumPy or CuPy): float32 and float64 in their own dtype,
    float16 through float32 and back, integers as float64; stable for any input (no overflow
    warning at |x| = 1e30 in float32)."""
    xp = backend.get_array_module(x)
    if x.dtype not in _TERMS:
        if x.dtype.kind not in "biuf":
            raise TypeError(f"erf: expected a numeric array, got dtype {x.dtype}")
        work = x.astype(np.float32 if x.dtype == np.float16 else np.float64)
        return erf(work).astype(x.dtype) if x.dtype == np.float16 else erf(work)
    small_terms, large_terms = _TERMS[x.dtype]
    a = xp.abs(x)
    inner = xp.minimum(a, 1.0)                   # each series sees its own interval only
    small = x * _chebyshev_sum(2 * (inner * inner) - 1, small_terms)
    outer = xp.clip(a, 1.0, 6.0)
    # exp(-30^2) is 0 in both dtypes: clipping there keeps x^2 from overflowing
    tail = xp.exp(-xp.square(xp.minimum(a, 30.0))) * _chebyshev_sum((2 * outer - 7) / 5, large_terms)
    return xp.where(a < 1, small, xp.copysign(1 - tail, x))


def fit_coefficients():
    """The two tables, fitted again: least-squares Chebyshev series through ``math.erf`` and
    ``math.erfc`` at 400 and 600 Chebyshev nodes (``numpy.polynomial.chebyshev.chebfit``)."""
    from numpy.polynomial import chebyshev
    nodes = np.cos(np.pi * (np.arange(400) + 0.5) / 400)
    x = np.sqrt((nodes + 1) / 2)                          # t = 2 x^2 - 1 at the nodes
    small = chebyshev.chebfit(nodes, [math.erf(v) / v for v in x], 12)
    nodes = np.cos(np.pi * (np.arange(600) + 0.5) / 600)
    x = (5 * nodes + 7) / 2                               # t = (2 x - 7) / 5 at the nodes
    large = chebyshev.chebfit(nodes, [math.erfc(v) * math.exp(v * v) for v in x], 28)
    return tuple(map(float, small)), tuple(map(float, large))
