"""keras.ops' linear algebra for ``glassnet.ops`` (which re-exports it): ``cholesky``,
``cholesky_inverse``, ``det``, ``eig``, ``eigh``, ``inv``, ``lstsq``, ``lu_factor``, ``matrix_rank``,
``pinv``, ``qr``, ``solve``, ``solve_triangular``, ``svd``, ``slogdet``, ``logdet``.

Matrices are the last two axes, ``(..., M, N)``, leading axes a batch (``lstsq``: 2-D alone, as
Keras 3.15's). Floats keep their dtype; integers are refused (TypeError), as Keras 3.15 on
TensorFlow refuses them. On values a ``GradientTape`` records each differentiable function has its
gradient (layers/tensor_linalg.py); ``eig``, ``lu_factor`` and ``matrix_rank`` give values without
one. On tensors of a model being drawn ``inv``, ``det``, ``slogdet``, ``logdet``, ``cholesky``,
``solve`` and ``solve_triangular`` make ``TensorFunction`` nodes on each sample's matrices; the
others are refused by name.
"""
import numbers

import numpy as np

from ._ops_arrays import _no_tensor
from ._ops_reading import _array, _is_tensor
from .layers import tensor_linalg
from .layers.tensor_functions import TensorFunction

QR_MODES = ("reduced", "complete")


def _matrices(x, name, op, square=True, rank=None):
    """``x`` as a float array of matrices (..., M, N); float16 computed in float32 (LAPACK's least)."""
    array = _array(x, name, op)
    if array.dtype.kind != "f":
        raise TypeError(f"ops.{op}: {name} must hold floats (Keras 3.15 on TensorFlow refuses integers and "
                        f"booleans here), got an array of {array.dtype}; ops.cast it to 'float32' first")
    if array.ndim < 2 or (rank is not None and array.ndim != rank):
        raise ValueError(f"ops.{op}: {name} must be {'a matrix (2 axes)' if rank else 'matrices, (..., M, N)'}, "
                         f"got shape {array.shape}")
    if square and array.shape[-1] != array.shape[-2]:
        raise ValueError(f"ops.{op}: {name} must be square matrices (..., N, N), got shape {array.shape}")
    return array


def _computed(array):
    return array.astype(np.float32) if array.dtype == np.float16 else array


def _back(values, dtype):
    return tuple(np.asarray(v).astype(dtype, copy=False) for v in values)


def _one(op, x, **args):
    array = _matrices(x, "x", op)
    return _back(tensor_linalg.forward(op, args, [_computed(array)]), array.dtype)


def _flag(value, name, op):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"ops.{op}: {name} must be True or False, got {value!r:.40}")
    return bool(value)


def _optional_number(value, name, op):
    if value is not None and (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real)):
        raise TypeError(f"ops.{op}: {name} must be None or a number, got {value!r:.40}")
    return None if value is None else float(value)


def inv(x):
    """The inverse of each square matrix (..., N, N); a singular one: ValueError (Keras 3.15 on
    TensorFlow raises 'Input is not invertible')."""
    if _is_tensor(x):
        return TensorFunction("inv")(x)
    return _one("inv", x)[0]


def det(x):
    """The determinant of each square matrix: shape (...). A singular matrix gives 0."""
    if _is_tensor(x):
        return TensorFunction("det")(x)
    return _one("det", x)[0]


def slogdet(x):
    """``(sign, logabsdet)``: the sign of each determinant and the log of its absolute value, each
    of shape (...); a singular matrix gives ``(0, -inf)``. On tensors two nodes (the sign without
    gradient)."""
    if _is_tensor(x):
        return tuple(TensorFunction("slogdet", {"output": o})(x) for o in tensor_linalg.OUTPUTS["slogdet"])
    return _one("slogdet", x)


def logdet(x):
    """``log det x`` of each symmetric positive definite matrix, its lower triangle read (TensorFlow's
    ``2 sum log diag(cholesky(x))``): NaN where it is not positive definite, as Keras 3.15's."""
    if _is_tensor(x):
        return TensorFunction("logdet")(x)
    return _one("logdet", x)[0]


def cholesky(x, upper=False):
    """The lower triangular ``L`` with ``L Lᵀ = x`` (``upper=True``: ``Lᵀ``) of each symmetric positive
    definite matrix, its lower triangle read; not positive definite: ValueError, as Keras 3.15's."""
    upper = _flag(upper, "upper", "cholesky")
    if _is_tensor(x):
        return TensorFunction("cholesky", {"upper": upper})(x)
    return _one("cholesky", x, upper=upper)[0]


def cholesky_inverse(x, upper=False):
    """``(L Lᵀ)⁻¹`` from a Cholesky factor ``x = L`` (``upper=True``: ``x = U``, ``(Uᵀ U)⁻¹``), reading
    its triangle alone: the inverse of the matrix it factors."""
    _no_tensor("cholesky_inverse", x=x)
    return _one("cholesky_inverse", x, upper=_flag(upper, "upper", "cholesky_inverse"))[0]


def _solve(op, a, b, lower=None):
    args = {} if lower is None else {"lower": _flag(lower, "lower", op)}
    if _is_tensor(a) or _is_tensor(b):
        constants = {name: (None if _is_tensor(v) else _array(v, name, op)) for name, v in (("a", a), ("b", b))}
        tensors = [v for v in (a, b) if _is_tensor(v)]
        return TensorFunction(op, {**constants, **args})(tensors if len(tensors) == 2 else tensors[0])
    aa, bb = _matrices(a, "a", op), _array(b, "b", op)
    if bb.dtype.kind != "f":
        raise TypeError(f"ops.{op}: b must hold floats (as Keras 3.15 on TensorFlow), got an array of {bb.dtype}")
    if bb.ndim not in (aa.ndim, aa.ndim - 1) or bb.shape[:aa.ndim - 2] != aa.shape[:-2] or \
            bb.shape[aa.ndim - 2] != aa.shape[-1]:
        raise ValueError(f"ops.{op}: b must be (..., N) or (..., N, K) beside a (..., N, N) of the same leading "
                         f"axes, got a {aa.shape} and b {bb.shape}")
    dtype = np.result_type(aa, bb)
    inputs = [_computed(aa.astype(dtype)), _computed(bb.astype(dtype))]
    return _back(tensor_linalg.forward(op, args, inputs), dtype)[0]


def solve(a, b):
    """``x`` with ``a x = b``: ``a`` (..., N, N), ``b`` (..., N, K) or (..., N); a singular ``a``:
    ValueError. On tensors ``a`` or ``b`` (or both) a tensor, the other a constant array."""
    return _solve("solve", a, b)


def solve_triangular(a, b, lower=False):
    """``solve`` reading ``a``'s upper triangle (``lower=True``: its lower one) alone."""
    return _solve("solve_triangular", a, b, lower)


def eigh(x):
    """``(w, v)``: the eigenvalues of each symmetric matrix (its lower triangle read), ascending, and
    their eigenvectors in v's columns; the gradient needs distinct eigenvalues."""
    _no_tensor("eigh", x=x)
    return _one("eigh", x)


def eig(x):
    """``(w, v)`` of each square matrix: complex eigenvalues and eigenvectors (columns), complex64
    for float32, complex128 for float64, as Keras' complex tensors; no gradient."""
    _no_tensor("eig", x=x)
    array = _matrices(x, "x", "eig")
    w, v = np.linalg.eig(_computed(array))
    dtype = np.complex128 if array.dtype == np.float64 else np.complex64
    return w.astype(dtype), v.astype(dtype)


def svd(x, full_matrices=True, compute_uv=True):
    """``(u, s, vh)`` with ``x = u diag(s) vh`` (u (..., M, M), vh (..., N, N); ``full_matrices=False``:
    (..., M, K), (..., K, N), K = min(M, N)); ``compute_uv=False``: ``s`` alone, descending."""
    _no_tensor("svd", x=x)
    full, uv = _flag(full_matrices, "full_matrices", "svd"), _flag(compute_uv, "compute_uv", "svd")
    out = _one_rect("svd", x, full_matrices=full)
    return out if uv else out[1]


def _one_rect(op, x, **args):
    array = _matrices(x, "x", op, square=False)
    return _back(tensor_linalg.forward(op, args, [_computed(array)]), array.dtype)


def qr(x, mode="reduced"):
    """``(q, r)`` with ``x = q r``, q's columns orthonormal, r upper triangular: ``mode`` "reduced"
    (q (..., M, K), r (..., K, N)) or "complete" (q (..., M, M), r (..., M, N))."""
    _no_tensor("qr", x=x)
    if mode not in QR_MODES:
        raise ValueError(f"ops.qr: mode must be one of {', '.join(QR_MODES)}, got {mode!r:.40}")
    return _one_rect("qr", x, mode=mode)


def pinv(x, rcond=None):
    """The Moore-Penrose pseudo-inverse (..., N, M), TensorFlow's: singular values above ``rcond``
    times the largest inverted, the others dropped (None: 10 max(M, N) eps)."""
    _no_tensor("pinv", x=x)
    return _one_rect("pinv", x, rcond=_optional_number(rcond, "rcond", "pinv"))[0]


def lstsq(a, b, rcond=None):
    """The least-squares solution of ``a x = b``: ``a`` (M, N), ``b`` (M,) or (M, K), Keras 3.15's
    SVD solution (singular values from ``rcond`` times the largest up, None: max(M, N) eps)."""
    _no_tensor("lstsq", a=a, b=b)
    rcond = _optional_number(rcond, "rcond", "lstsq")
    aa, bb = _matrices(a, "a", "lstsq", square=False, rank=2), _array(b, "b", "lstsq")
    if bb.dtype.kind != "f" or bb.ndim not in (1, 2) or bb.shape[0] != aa.shape[0]:
        raise ValueError(f"ops.lstsq: b must be floats of shape ({aa.shape[0]},) or ({aa.shape[0]}, K) beside a "
                         f"{aa.shape}, got {bb.dtype} {bb.shape}")
    dtype = np.result_type(aa, bb)
    inputs = [_computed(aa.astype(dtype)), _computed(bb.astype(dtype))]
    return _back(tensor_linalg.forward("lstsq", {"rcond": rcond}, inputs), dtype)[0]


def matrix_rank(x, tol=None):
    """The number of singular values above ``tol`` (None: the largest times max(M, N) eps), int32."""
    _no_tensor("matrix_rank", x=x)
    tol = _optional_number(tol, "tol", "matrix_rank")
    array = _computed(_matrices(x, "x", "matrix_rank", square=False))
    s = np.linalg.svd(array, compute_uv=False)
    if tol is None:
        tol = (s.max(axis=-1, initial=0) * max(array.shape[-2:]) * np.finfo(array.dtype).eps)[..., None]
    return np.asarray(np.sum(s > tol, axis=-1), dtype=np.int32)


def lu_factor(x):
    """``(lu, pivots)``: the LU factorisation with partial pivoting, ``L`` (unit diagonal, below) and
    ``U`` packed in ``lu``, as Keras 3.15 on TensorFlow gives them: ``x[perm] = L U`` with ``pivots``
    (int32) the inverse of that row permutation ``perm`` (Keras inverts TensorFlow's). Batches of
    matrices too (Keras 3.15 on TensorFlow refuses them)."""
    _no_tensor("lu_factor", x=x)
    array = _matrices(x, "x", "lu_factor")
    lu = _computed(array).astype(_computed(array).dtype, copy=True)
    n = lu.shape[-1]
    perm = np.broadcast_to(np.arange(n), lu.shape[:-1]).copy()
    rows = np.indices(lu.shape[:-2]) if lu.ndim > 2 else ()
    for k in range(n):
        # the largest |entry| of column k at or below the diagonal comes up (the first of ties, LAPACK's)
        p = k + np.argmax(np.abs(lu[..., k:, k]), axis=-1)
        index = tuple(rows)
        swap_k, swap_p = lu[index + (k,)].copy(), lu[index + (p,)].copy()
        lu[index + (k,)], lu[index + (p,)] = swap_p, swap_k
        pk, pp = perm[index + (k,)].copy(), perm[index + (p,)].copy()
        perm[index + (k,)], perm[index + (p,)] = pp, pk
        pivot = lu[..., k, k]
        with np.errstate(divide="ignore", invalid="ignore"):
            factors = np.where(pivot[..., None] != 0, lu[..., k + 1:, k] / pivot[..., None], 0)
        lu[..., k + 1:, k] = factors
        lu[..., k + 1:, k + 1:] -= factors[..., :, None] * lu[..., k, None, k + 1:]
    return lu.astype(array.dtype, copy=False), np.argsort(perm, axis=-1).astype(np.int32)


# -- values a GradientTape records (glassnet._tape_record hands them here) -------------------------
OPERANDS = {"solve": ("a", "b"), "solve_triangular": ("a", "b"), "lstsq": ("a", "b")}
NO_GRADIENT = ("eig", "lu_factor", "matrix_rank")
RECORDED = ("cholesky", "cholesky_inverse", "det", "eigh", "inv", "lstsq", "pinv", "qr", "solve", "solve_triangular",
            "svd", "slogdet", "logdet") + NO_GRADIENT


class _Node:
    """One output of ``op`` on recorded values (and constants), forward now, its vjp at gradient."""
    merges = True

    def __init__(self, op, args, constants, live, index):
        self.op, self.args, self.constants, self.live, self.index = op, args, constants, live, index

    def forward(self, inputs, training=False):
        given = iter(inputs)
        self.inputs = [np.asarray(next(given)) if is_live else c for c, is_live in zip(self.constants, self.live)]
        self.outputs = tensor_linalg.forward(self.op, self.args, self.inputs)
        return np.asarray(self.outputs[self.index])

    def backward(self, g):
        op, x = self.op, self.inputs[0]
        m, n = x.shape[-2:]
        if op == "svd" and self.index != 1 and self.args["full_matrices"] and m != n:
            raise ValueError("ops.svd: the gradient of u or vh with full_matrices=True of a non-square matrix is "
                             "not defined (their extra columns are any basis; TensorFlow refuses it too): give "
                             "full_matrices=False")
        if op == "qr" and (m < n or (self.args["mode"] == "complete" and m != n)):
            raise ValueError(f"ops.qr: the gradient is built for M >= N with mode='reduced' (or square matrices), got "
                             f"matrices {m} x {n} with mode={self.args['mode']!r}")
        grads = tensor_linalg.vjp(op, self.args, self.inputs, self.outputs, self.index, np.asarray(g))
        return [d.astype(v.dtype, copy=False) for d, v, is_live in zip(grads, self.inputs, self.live) if is_live]


def record(name, function, args, kwargs):
    """``ops.<name>`` on recorded values: the value as without a tape (checked the same way), and one
    recorded node per output with a gradient (eigh's w and v, svd's u, s, vh, qr's q and r;
    slogdet's sign and the functions without gradient plain values)."""
    from ._tape_record import _keras_arguments
    from ._tape_values import _paused, _plain, node_of
    from ._tape_calls import _record
    given = _keras_arguments(function, args, kwargs, 0)
    names = OPERANDS.get(name, ("x",))
    with _paused():
        value = function(**{k: (_plain(v) if k in names else v) for k, v in given.items()})
    live = [node_of(given[k]) is not None for k in names]
    if name in NO_GRADIENT or not any(live):
        return value
    settings = {k: v for k, v in given.items() if k not in names}
    settings.pop("compute_uv", None)
    dtype = np.result_type(*(np.asarray(_plain(given[k])) for k in names))
    constants = [None if is_live else np.asarray(_plain(given[k]), dtype) for k, is_live in zip(names, live)]
    inputs = [given[k] for k, is_live in zip(names, live) if is_live]
    outputs = value if isinstance(value, tuple) else (value,)
    recorded = []
    for k in range(len(outputs)):
        if name == "slogdet" and k == 0:       # the sign: no gradient (TensorFlow's)
            recorded.append(outputs[0])
            continue
        index = 1 if name == "svd" and not given.get("compute_uv", True) else k
        recorded.append(_record(_Node(name, settings, constants, live, index), inputs, name))
    return tuple(recorded) if isinstance(value, tuple) else recorded[0]


__all__ = ["cholesky", "cholesky_inverse", "det", "eig", "eigh", "inv", "lstsq", "lu_factor", "matrix_rank", "pinv",
           "qr", "solve", "solve_triangular", "svd", "slogdet", "logdet"]
