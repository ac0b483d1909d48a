"""ONNX forms of ``glassnet.ops``' linear algebra drawn on tensors (layers/tensor_linalg.py's
``TensorFunction`` nodes): ``inv``, ``solve``, ``solve_triangular``, ``cholesky``, ``logdet``,
``slogdet`` and ``det``, for matrices of a fixed size n up to 64 (the last two axes; any leading
axes); larger ones and those of a size left open are a Loop over the columns
(glassnet._onnx_linalg_loop), the same algorithms.

ONNX has ``Det`` alone (onnxruntime runs it in float32 only), so the others are written out as
the textbook algorithms, unrolled over the n columns (n is known when the file is written), with
the batch of matrices carried in every node:

* ``solve``, ``inv`` (``solve`` of the identity), ``slogdet`` and a float64 model's ``det``:
  Gaussian elimination with partial pivoting (LAPACK's getrf: at column k, the row with the
  largest magnitude at or below k, the first of ties (ArgMax), swapped up with ``Where``, an
  exact move), the rows below cleared (a zero pivot skipped, as getrf skips it: a singular
  matrix's determinant is then 0); then back substitution (``solve``). The determinant is
  the product of U's diagonal times the swaps' signs (ONNX's Det in float32), NumPy's
  ``sign * exp(sum log |u_kk|)`` where that product is not finite or is 0 (it overflows before a
  small or zero pivot where NumPy's does not); ``slogdet`` the sign and ``sum log |u_kk|``.
* ``solve_triangular``: forward (``lower``) or back substitution, row by row, reading the one
  triangle (TensorFlow's triangular_solve);
* ``cholesky``: the column-by-column Cholesky-Banachiewicz factor of the lower triangle
  (``L[:, j] = (A[:, j] - L[:, :j] L[j, :j]ᵀ) / sqrt(...)``, the rows above j zero); ``upper``
  its transpose; ``logdet`` ``2 sum log diag(L)``, TensorFlow's.

The results equal NumPy's LAPACK to rounding (the same algorithms, sums in another order): within
1e-5 relative in float32 for matrices that are not ill-conditioned. A singular matrix's ``det``
is 0 and ``slogdet`` (0, -inf), as glassnet's. What differs: ``inv`` and ``solve`` of a singular
matrix give inf or NaN here (glassnet refuses it with a ValueError: an ONNX graph has no way to
raise one), and a matrix not positive definite gives NaN from ``cholesky`` (glassnet refuses it;
``logdet`` gives NaN in both).
"""
import numpy as np

from . import _onnx_linalg_loop as loop
from . import _onnx_proto as proto

_LARGEST = 64


def _size(shape):
    """n, the matrices' size, where the unrolled form is written; None for a Loop
    (glassnet._onnx_linalg_loop): a size left open, or over 64 rows."""
    n = shape[-1]
    return None if n is None or n > _LARGEST else int(n)


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
        # below the pivot, each row's multiple of row k (none where the pivot is 0: getrf's skip)
        clears = b.op("And", [_below(b, n, k, strictly=True), b.op("Not", [b.op("Equal", [pivot, b.const(0.0)])])])
        factors = b.op("Where", [clears, b.op("Div", [_columns(b, a, k, k + 1), pivot]), b.const(0.0)], "factors")
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
    a, rhs, vector = _operands(b, layer, xs, shapes)
    n = _size(shapes[0] if layer.merges or layer.arguments["b"] is not None else np.asarray(layer.arguments["a"]).shape)
    lower = layer.op == "solve_triangular" and layer.arguments["lower"]
    if layer.op == "solve":
        a, rhs = loop.eliminate(b, a, rhs) if n is None else _eliminate(b, a, rhs, n)[:2]
    x = loop.substitute(b, a, rhs, lower) if n is None else _substitute(b, a, rhs, n, lower)
    return b.op("Squeeze", [x, b.ints([-1])]) if vector else x


def _inv(b, layer, xs, shapes):
    n = _size(shapes[0])
    if n is None:       # the identity of the size the file runs: its rows' and columns' indices equal
        positions = b.op("Range", [b.ints(0), loop.size(b, xs[0]), b.ints(1)], "positions")
        equal = b.op("Equal", [b.op("Unsqueeze", [positions, b.ints([-1])]), positions])
        identity = b.op("Expand", [b.op("Cast", [equal], to=proto.ELEM_TYPES[b.dtype]), b.op("Shape", [xs[0]])])
        return loop.substitute(b, *loop.eliminate(b, xs[0], identity), lower=False)
    identity = b.op("Expand", [b.const(np.eye(n), "identity"), b.op("Shape", [xs[0]])])
    u, rhs, _, _ = _eliminate(b, xs[0], identity, n)
    return _substitute(b, u, rhs, n, lower=False)


def _determinants(b, layer, xs, shapes):
    """``det`` (below) and ``slogdet``."""
    n = _size(shapes[0])
    if layer.op == "det":
        return _det(b, xs[0], n)
    if n is None:
        what = "sign" if layer.arguments["output"] == "sign" else "logabs"
        return loop.eliminate(b, xs[0], accumulate=what)
    _, _, pivots, signs = _eliminate(b, xs[0], None, n)
    if layer.arguments["output"] == "sign":
        return _slogdet_parts(b, pivots, signs)[0]
    return _slogdet_parts(b, pivots, signs)[1]


def _slogdet_parts(b, pivots, signs):
    return (_product(b, [*signs, *(b.op("Sign", [p]) for p in pivots)], "Mul"),
            _product(b, [b.op("Log", [b.op("Abs", [p])]) for p in pivots], "Add"))


def _det(b, x, n):
    """The product of the pivots (ONNX's Det in float32, which onnxruntime runs; the LU's
    otherwise), and where that is not finite or is 0, NumPy's own ``sign * exp(sum log |u_kk|)``
    (glassnet's det is NumPy's): a running product that overflows before a zero pivot gave NaN
    where the determinant is 0 (diag(1e20, 1e20, 0) in float32), or inf where it is finite
    (diag(1e20, 1e20, 1e-30): 1e10)."""
    if b.dtype == np.float32:       # the fallback's LU a Loop at any size: the file stays small
        product = b.op("Det", [x])
        sign, logabs = loop.eliminate(b, x, accumulate=("sign", "logabs"))
    elif n is None:
        product, sign, logabs = loop.eliminate(b, x, accumulate=("det", "sign", "logabs"))
    else:
        _, _, pivots, signs = _eliminate(b, x, None, n)
        product = _product(b, [*signs, *pivots], "Mul")
        sign, logabs = _slogdet_parts(b, pivots, signs)
    unusable = b.op("Or", [b.op("Or", [b.op("IsNaN", [product]), b.op("IsInf", [product])]),
                           b.op("Equal", [product, b.const(0.0)])])
    return b.op("Where", [unusable, b.op("Mul", [sign, b.op("Exp", [logabs])]), product], "det")


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
    n = _size(shapes[0])
    rank = len(shapes[0]) + 1
    swap = [*range(rank - 2), rank - 1, rank - 2]
    if n is None:
        if layer.op == "logdet":
            return loop.cholesky(b, xs[0], rank, logdet=True)
        factor = loop.cholesky(b, xs[0], rank)
        return b.op("Transpose", [factor], perm=swap) if layer.arguments["upper"] else factor
    factor, diagonal = _cholesky_factor(b, xs[0], n, swap)
    if layer.op == "logdet":
        return b.op("Mul", [b.const(2.0), _product(b, [b.op("Log", [d]) for d in diagonal], "Add")])
    return b.op("Transpose", [factor], perm=swap) if layer.arguments["upper"] else factor


CONVERTERS = {"inv": _inv, "solve": _solve, "solve_triangular": _solve, "det": _determinants,
              "slogdet": _determinants, "cholesky": _cholesky, "logdet": _cholesky}
