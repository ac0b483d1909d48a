"""ONNX forms of ``glassnet.ops``' linear algebra drawn on tensors (layers/tensor_linalg.py's
``TensorFunction`` nodes): ``inv``, ``solve``, ``solve_triangular``, ``cholesky``, ``logdet``,
``slogdet`` and ``det``, for matrices of a fixed size n (the last two axes; any leading axes).

ONNX has ``Det`` alone (onnxruntime runs it in float32 only), so the others are written out as
the textbook algorithms, unrolled over the n columns (n is known when the file is written), with
the batch of matrices carried in every node:

* ``solve``, ``inv`` (``solve`` of the identity), ``slogdet`` and a float64 model's ``det``:
  Gaussian elimination with partial pivoting (LAPACK's getrf: at column k, the row with the
  largest magnitude at or below k, the first of ties (ArgMax), swapped up with ``Where``, an
  exact move), the rows below cleared; then back substitution (``solve``). The determinant is
  the product of U's diagonal times the swaps' signs; ``slogdet`` the sign and ``sum log |u_kk|``.
* ``solve_triangular``: forward (``lower``) or back substitution, row by row, reading the one
  triangle (TensorFlow's triangular_solve);
* ``cholesky``: the column-by-column Cholesky-Banachiewicz factor of the lower triangle
  (``L[:, j] = (A[:, j] - L[:, :j] L[j, :j]ᵀ) / sqrt(...)``, the rows above j zero); ``upper``
  its transpose; ``logdet`` ``2 sum log diag(L)``, TensorFlow's.

The results equal NumPy's LAPACK to rounding (the same algorithms, sums in another order): within
1e-5 relative in float32 for matrices that are not ill-conditioned. What differs: a singular
matrix gives inf or NaN here (glassnet's ``inv``/``solve`` refuse it with a ValueError, ``det``
gives 0), and a matrix not positive definite gives NaN from ``cholesky`` (glassnet refuses it;
``logdet`` gives NaN in both). Refused by name: a matrix of a size left open (``Input((None,
None))``), and over 64 rows (the unrolled nodes grow as n squared).
"""
import numpy as np

from . import _onnx_proto as proto
from ._onnx_ops import Unsupported

_LARGEST = 64


def _size(layer, shape, who):
    n = shape[-1]
    if n is None:
        raise Unsupported(f"{who}: ops.{layer.op} of matrices of a size left open is not exported (its ONNX form is "
                          "unrolled over the rows: give the Input fixed sizes)")
    if n > _LARGEST:
        raise Unsupported(f"{who}: ops.{layer.op} of {n} x {n} matrices is not exported (its ONNX form is unrolled "
                          f"over the rows: up to {_LARGEST})")
    return int(n)


def _rows(b, m, start, stop):
    return b.op("Slice", [m, b.ints([start]), b.ints([stop]), b.ints([-2])], "rows")


def _columns(b, m, start, stop):
    return b.op("Slice", [m, b.ints([start]), b.ints([stop]), b.ints([-1])], "columns")


def _below(b, n, k, strictly=False):
    """(n, 1) booleans: the rows at or below k (strictly below)."""
    return b.op("Cast", [b.ints((np.arange(n) > k if strictly else np.arange(n) >= k).reshape(n, 1))], to=proto.BOOL)


def _eliminate(b, a, rhs, n):
    """LU with partial pivoting of ``a`` (..., n, n), the same row operations on ``rhs`` (..., n,
    k) or None: ``(u, rhs, pivots, signs)``, U (upper triangular where it counts), the pivots
    u_kk (..., 1, 1) and each swap's sign (1 or -1, (..., 1, 1))."""
    positions = b.ints(np.arange(n).reshape(n, 1))
    pivots, signs = [], []
    for k in range(n):
        magnitude = b.op("Abs", [_columns(b, a, k, k + 1)])                         # (..., n, 1)
        candidates = b.op("Where", [_below(b, n, k), magnitude, b.const(-1.0)])
        p = b.op("ArgMax", [candidates], axis=-2, keepdims=1, select_last_index=0)  # (..., 1, 1)
        hit = b.op("Equal", [positions, p], "pivot_row")                            # (..., n, 1)
        is_k = b.op("Cast", [b.ints((np.arange(n) == k).reshape(n, 1))], to=proto.BOOL)

        def swapped(m):     # rows k and p exchanged (Where: no arithmetic touches the values)
            row_p = b.op("ReduceSum", [b.op("Where", [hit, m, b.const(0.0)]), b.ints([-2])], keepdims=1)
            return b.op("Where", [is_k, row_p, b.op("Where", [hit, _rows(b, m, k, k + 1), m])], "swapped")
        a = swapped(a)
        rhs = swapped(rhs) if rhs is not None else None
        signs.append(b.op("Where", [b.op("Equal", [p, b.ints(k)]), b.const(1.0), b.const(-1.0)], "sign"))
        pivot = b.op("Slice", [a, b.ints([k, k]), b.ints([k + 1, k + 1]), b.ints([-2, -1])], "pivot")
        pivots.append(pivot)
        if k == n - 1:
            break
        factors = b.op("Where", [_below(b, n, k, strictly=True),
                                 b.op("Div", [_columns(b, a, k, k + 1), pivot]), b.const(0.0)], "factors")
        a = b.op("Sub", [a, b.op("Mul", [factors, _rows(b, a, k, k + 1)])])
        if rhs is not None:
            rhs = b.op("Sub", [rhs, b.op("Mul", [factors, _rows(b, rhs, k, k + 1)])])
    return a, rhs, pivots, signs


def _substitute(b, t, rhs, n, lower):
    """``t⁻¹ rhs`` for ``t`` (..., n, n) triangular (its ``lower`` or upper triangle read alone)
    and ``rhs`` (..., n, k): row by row, each from those found before it."""
    found = {}
    for i in (range(n) if lower else range(n - 1, -1, -1)):
        row = _rows(b, rhs, i, i + 1)                                               # (..., 1, k)
        done = range(i) if lower else range(i + 1, n)
        if done:
            start, stop = (0, i) if lower else (i + 1, n)
            known = found[start] if len(done) == 1 else b.op("Concat", [found[j] for j in done], axis=-2)
            coefficients = _columns(b, _rows(b, t, i, i + 1), start, stop)           # (..., 1, i)
            row = b.op("Sub", [row, b.op("MatMul", [coefficients, known])])
        diagonal = b.op("Slice", [t, b.ints([i, i]), b.ints([i + 1, i + 1]), b.ints([-2, -1])], "diagonal")
        found[i] = b.op("Div", [row, diagonal])
    return b.op("Concat", [found[i] for i in range(n)], axis=-2, hint="solution") if n > 1 else found[0]


def _product(b, factors, op):
    """The ``op`` ("Mul" or "Add") of (..., 1, 1) tensors, as (...)."""
    total = factors[0]
    for f in factors[1:]:
        total = b.op(op, [total, f])
    return b.op("Squeeze", [total, b.ints([-2, -1])])


def _operands(b, layer, xs, shapes):
    """``(a, rhs, vector)`` of solve/solve_triangular: the tensors or the constant (a NumPy
    array of the model's dtype as an initializer), rhs as a matrix (a vector given gets an axis,
    ``vector``)."""
    args = layer.arguments
    if layer.merges:
        (a, rhs), vector = xs, len(shapes[1]) == len(shapes[0]) - 1
    elif args["a"] is not None:
        a, rhs, vector = b.const(np.asarray(args["a"]), "a"), xs[0], len(shapes[0]) == 1
    else:
        constant = np.asarray(args["b"])
        a, rhs, vector = xs[0], b.const(constant, "b"), constant.ndim == 1
    if vector:
        rhs = b.op("Unsqueeze", [rhs, b.ints([-1])])
    return a, rhs, vector


def _solve(b, layer, xs, shapes):
    who = layer.describe()
    a, rhs, vector = _operands(b, layer, xs, shapes)
    n = _size(layer, shapes[0] if layer.merges or layer.arguments["b"] is not None else
              np.asarray(layer.arguments["a"]).shape, who)
    if layer.op == "solve":
        u, rhs, _, _ = _eliminate(b, a, rhs, n)
        x = _substitute(b, u, rhs, n, lower=False)
    else:
        x = _substitute(b, a, rhs, n, lower=layer.arguments["lower"])
    return b.op("Squeeze", [x, b.ints([-1])]) if vector else x


def _inv(b, layer, xs, shapes):
    n = _size(layer, shapes[0], layer.describe())
    identity = b.op("Expand", [b.const(np.eye(n), "identity"), b.op("Shape", [xs[0]])])
    u, rhs, _, _ = _eliminate(b, xs[0], identity, n)
    return _substitute(b, u, rhs, n, lower=False)


def _determinants(b, layer, xs, shapes):
    """``det`` (ONNX's Det in float32, which onnxruntime runs; LU otherwise) and ``slogdet``."""
    if layer.op == "det" and b.dtype == np.float32:
        return b.op("Det", xs)
    n = _size(layer, shapes[0], layer.describe())
    _, _, pivots, signs = _eliminate(b, xs[0], None, n)
    if layer.op == "det":
        return _product(b, [*signs, *pivots], "Mul")
    if layer.arguments["output"] == "sign":
        return _product(b, [*signs, *(b.op("Sign", [p]) for p in pivots)], "Mul")
    return _product(b, [b.op("Log", [b.op("Abs", [p])]) for p in pivots], "Add")


def _cholesky_factor(b, x, n, swap):
    """The lower Cholesky factor of ``x``'s lower triangle, and its diagonal entries (..., 1, 1).
    ``swap``: the Transpose's perm exchanging the last two axes."""
    columns, diagonal = [], []
    for j in range(n):
        v = _columns(b, x, j, j + 1)                                                # (..., n, 1)
        if columns:
            left = columns[0] if j == 1 else b.op("Concat", columns, axis=-1)        # L[:, :j]
            v = b.op("Sub", [v, b.op("MatMul", [left, b.op("Transpose", [_rows(b, left, j, j + 1)], perm=swap)])])
        d = b.op("Sqrt", [_rows(b, v, j, j + 1)], "diagonal")
        diagonal.append(d)
        columns.append(b.op("Where", [_below(b, n, j), b.op("Div", [v, d]), b.const(0.0)], "column"))
    return (b.op("Concat", columns, axis=-1) if n > 1 else columns[0]), diagonal


def _cholesky(b, layer, xs, shapes):
    n = _size(layer, shapes[0], layer.describe())
    rank = len(shapes[0]) + 1
    swap = [*range(rank - 2), rank - 1, rank - 2]
    factor, diagonal = _cholesky_factor(b, xs[0], n, swap)
    if layer.op == "logdet":
        return b.op("Mul", [b.const(2.0), _product(b, [b.op("Log", [d]) for d in diagonal], "Add")])
    return b.op("Transpose", [factor], perm=swap) if layer.arguments["upper"] else factor


CONVERTERS = {"inv": _inv, "solve": _solve, "solve_triangular": _solve, "det": _determinants,
              "slogdet": _determinants, "cholesky": _cholesky, "logdet": _cholesky}
