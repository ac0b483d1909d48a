"""keras.ops' linear algebra: forward passes and vector-Jacobian products on matrices, and the
``TensorFunction`` ops of it (``inv``, ``det``, ``slogdet``, ``logdet``, ``cholesky``, ``solve``,
``solve_triangular``) on symbolic tensors.

Every function reads its matrices from the last two axes, ``(..., M, N)``, any leading axes a
batch of them (NumPy's and TensorFlow's rule), so the same code serves arrays, values a
GradientTape records and a model's batches (axis 0 is one more leading axis, never mixed).

``vjp(op, args, inputs, outputs, index, g)`` gives each input's gradient from the gradient ``g``
of output ``index`` (the others' taken as 0: a node per output, the graph sums them). The results
are the standard matrix-calculus ones (Giles 2008, "An extended collection of matrix derivative
results"; Murray 2016 for the Cholesky factor; Townsend 2016 for the SVD's vectors), written as
TensorFlow's gradients are where a function reads one triangle: ``cholesky``, ``logdet`` and
``eigh`` read the lower triangle and give a gradient symmetrised (cholesky, logdet) or on the
lower triangle (eigh), ``solve_triangular`` and ``cholesky_inverse`` one on the triangle read.
"""
import numpy as np

# the ops with nodes on tensors, their Keras arguments besides the tensors (TensorFunction's), and
# the outputs of the one giving a pair; solve's and solve_triangular's "a" or "b" given as a
# constant (a nested list) when only the other is a tensor
ARGUMENTS = {"inv": {}, "det": {}, "logdet": {}, "slogdet": {"output": "logabsdet"}, "cholesky": {"upper": False},
             "solve": {"a": None, "b": None}, "solve_triangular": {"a": None, "b": None, "lower": False}}
OPS = tuple(ARGUMENTS)
OUTPUTS = {"slogdet": ("sign", "logabsdet"), "eigh": ("w", "v"), "svd": ("u", "s", "vh"), "qr": ("q", "r")}


def _t(x):
    return np.swapaxes(x, -1, -2)


def _eye_like(x):
    return np.broadcast_to(np.eye(x.shape[-1], dtype=x.dtype), x.shape)


def _inv(x, op):
    try:
        return np.linalg.inv(x)
    except np.linalg.LinAlgError:
        raise ValueError(f"ops.{op}: the matrix is not invertible (singular), as Keras 3.15 on TensorFlow "
                         f"refuses it") from None


def _tri_solve(a, b, lower):
    """``a⁻¹ b`` reading ``a``'s lower (upper) triangle alone, TensorFlow's triangular_solve."""
    t = np.tril(a) if lower else np.triu(a)
    try:
        return np.linalg.solve(t, b)
    except np.linalg.LinAlgError:
        raise ValueError("ops.solve_triangular: a has a zero on its diagonal (singular)") from None


def _symmetric_lower(x):
    """The symmetric matrix whose lower triangle is ``x``'s (what cholesky and eigh read)."""
    low = np.tril(x, -1)
    return low + _t(low) + np.eye(x.shape[-1], dtype=x.dtype) * x


def cholesky(x, upper=False):
    """The Cholesky factor of the symmetric positive definite matrix of ``x``'s lower triangle:
    ``L`` with ``L Lᵀ = x`` (``upper``: ``Lᵀ``). Not positive definite: ValueError (Keras 3.15's
    check_numerics refuses TensorFlow's NaN)."""
    try:
        low = np.linalg.cholesky(_symmetric_lower(x))
    except np.linalg.LinAlgError:
        raise ValueError("ops.cholesky: x is not positive definite (Keras 3.15 on TensorFlow refuses it: "
                         "'Cholesky decomposition failed')") from None
    return _t(low) if upper else low


def logdet(x):
    """``log det x`` of a symmetric positive definite ``x`` (its lower triangle read), TensorFlow's
    ``2 sum log diag(cholesky(x))``: NaN where x is not positive definite."""
    try:
        low = np.linalg.cholesky(_symmetric_lower(x))
    except np.linalg.LinAlgError:        # (NumPy refuses the whole batch: each matrix on its own)
        if x.ndim > 2:
            return np.stack([logdet(m) for m in x.reshape((-1,) + x.shape[-2:])]).reshape(x.shape[:-2])
        return np.asarray(np.nan, x.dtype)
    return (2 * np.sum(np.log(np.diagonal(low, axis1=-2, axis2=-1)), axis=-1)).astype(x.dtype)


def _vector_b(a, b):
    return b.ndim == a.ndim - 1


def solve(a, b):
    """``a⁻¹ b``: ``b`` (..., N, K), or (..., N) a vector per matrix."""
    if _vector_b(a, b):
        return solve(a, b[..., None])[..., 0]
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        raise ValueError("ops.solve: a is not invertible (singular), as Keras 3.15 on TensorFlow refuses it") from None


def solve_triangular(a, b, lower=False):
    if _vector_b(a, b):
        return solve_triangular(a, b[..., None], lower)[..., 0]
    return _tri_solve(a, b, lower)


def forward(op, args, inputs):
    """The outputs (a tuple) of the differentiable ``op`` on ``inputs`` (a list of float arrays)."""
    x = inputs[0]
    if op == "inv":
        return (_inv(x, "inv"),)
    if op == "det":
        return (np.linalg.det(x).astype(x.dtype),)
    if op == "slogdet":
        sign, logabs = np.linalg.slogdet(x)
        return sign.astype(x.dtype), logabs.astype(x.dtype)
    if op == "logdet":
        return (logdet(x),)
    if op == "cholesky":
        return (cholesky(x, args.get("upper", False)),)
    if op == "cholesky_inverse":
        m = _tri_solve(x, _eye_like(x), not args["upper"])
        return ((m @ _t(m)) if args["upper"] else (_t(m) @ m),)
    if op == "solve":
        return (solve(x, inputs[1]),)
    if op == "solve_triangular":
        return (solve_triangular(x, inputs[1], args["lower"]),)
    if op == "eigh":
        w, v = np.linalg.eigh(x, UPLO="L")
        return w, v
    if op == "svd":
        u, s, vh = np.linalg.svd(x, full_matrices=args["full_matrices"])
        return u, s, vh
    if op == "qr":
        return tuple(np.linalg.qr(x, mode=args["mode"]))
    if op == "pinv":
        return (pinv(x, args["rcond"]),)
    if op == "lstsq":
        return (pinv(x, args["rcond"], lstsq=True) @ inputs[1],)
    raise ValueError(f"tensor_linalg: unknown op {op!r}")


def pinv(x, rcond=None, lstsq=False):
    """The pseudo-inverse from the SVD: TensorFlow's (singular values above ``rcond`` times the
    largest kept, rcond None: 10 max(M, N) eps), or Keras' lstsq's (kept from ``rcond`` times the
    largest up, None: max(M, N) eps)."""
    u, s, vh = np.linalg.svd(x, full_matrices=False)
    eps = np.finfo(x.dtype).eps
    if rcond is None:
        rcond = eps * max(x.shape[-2:]) * (1 if lstsq else 10)
    top = s[..., :1] if s.shape[-1] else s
    keep = s >= rcond * top if lstsq else s > rcond * top
    inverse = np.where(keep, 1 / np.where(keep, s, 1), 0).astype(x.dtype)
    return (_t(vh) * inverse[..., None, :]) @ _t(u)


# -- vector-Jacobian products --------------------------------------------------------------------
def _pinv_vjp(x, p, g):
    """d(pinv): -Pᵀ G Pᵀ + (I - A P) Gᵀ P Pᵀ + Pᵀ P Gᵀ (I - P A) (Golub and Pereyra 1973), with
    A (M, N), P = A⁺ (N, M), G its gradient."""
    m, n = x.shape[-2:]
    eye_m, eye_n = np.eye(m, dtype=x.dtype), np.eye(n, dtype=x.dtype)
    return (-_t(p) @ g @ _t(p) + (eye_m - x @ p) @ _t(g) @ p @ _t(p)
            + _t(p) @ p @ _t(g) @ (eye_n - p @ x))


def _copy_lower_to_upper(m):
    low = np.tril(m, -1)
    return low + _t(low) + np.eye(m.shape[-1], dtype=m.dtype) * m


def vjp(op, args, inputs, outputs, index, g):
    """The gradients (a list, one per input) of output ``index``'s gradient ``g``."""
    x = inputs[0]
    if op == "inv":
        y = outputs[0]
        return [-_t(y) @ g @ _t(y)]
    if op == "det":
        return [(g * outputs[0])[..., None, None] * _t(_inv(x, "det's gradient"))]
    if op == "slogdet":
        if index == 0:                              # the sign: no gradient (TensorFlow's)
            return [np.zeros_like(x)]
        return [g[..., None, None] * _t(_inv(x, "slogdet's gradient"))]
    if op == "logdet":
        return [g[..., None, None] * _inv(_symmetric_lower(x), "logdet's gradient")]
    if op == "cholesky":
        low = outputs[0]
        if args.get("upper", False):
            low, g = _t(low), _t(g)
        # TensorFlow's CholeskyGrad (Murray 2016): Φ(Lᵀ Ḡ) with its diagonal halved, L⁻ᵀ · L⁻¹, symmetrised
        middle = np.tril(_t(low) @ g)
        middle = middle - 0.5 * np.eye(x.shape[-1], dtype=x.dtype) * middle
        inv_low = _tri_solve(low, _eye_like(low), True)
        grad = _t(inv_low) @ middle @ inv_low
        return [0.5 * (grad + _t(grad))]
    if op == "cholesky_inverse":
        upper = args["upper"]
        m = _tri_solve(x, _eye_like(x), not upper)      # L⁻¹ (U⁻¹)
        sym = g + _t(g)
        dm = m @ sym if not upper else sym @ m           # y = mᵀ m (lower), m mᵀ (upper)
        grad = -_t(m) @ dm @ _t(m)
        return [np.triu(grad) if upper else np.tril(grad)]
    if op in ("solve", "solve_triangular"):
        a, b, y = x, inputs[1], outputs[0]
        vector = _vector_b(a, b)
        if vector:
            b, y, g = b[..., None], y[..., None], g[..., None]
        if op == "solve":
            db = solve(_t(a), g)
            da = -db @ _t(y)
        else:
            lower = args["lower"]
            db = _tri_solve(_t(a), g, not lower)
            da = -db @ _t(y)
            da = np.tril(da) if lower else np.triu(da)
        return [da, db[..., 0] if vector else db]
    if op == "eigh":
        w, v = outputs
        dw = g if index == 0 else np.zeros_like(w)
        dv = g if index == 1 else np.zeros_like(v)
        with np.errstate(divide="ignore"):
            f = 1 / (w[..., None, :] - w[..., :, None])
        f[..., np.arange(w.shape[-1]), np.arange(w.shape[-1])] = 0
        inner = _t(v) @ dv * f + dw[..., None, :] * np.eye(w.shape[-1], dtype=w.dtype)
        grad = v @ inner @ _t(v)
        # TensorFlow's: the lower triangle read (its entries count for both halves), the diagonal once
        grad = np.tril(grad + _t(grad))
        return [grad - 0.5 * np.eye(w.shape[-1], dtype=w.dtype) * grad]
    if op == "svd":
        return [_svd_vjp(x, outputs, index, g)]
    if op == "qr":
        return [_qr_vjp(outputs, index, g)]
    if op == "pinv":
        return [_pinv_vjp(x, outputs[0], g)]
    if op == "lstsq":
        b = inputs[1]
        vector = b.ndim == 1
        bb, gg = (b[:, None], g[:, None]) if vector else (b, g)
        p = pinv(x, args["rcond"], lstsq=True)
        db = _t(p) @ gg
        return [_pinv_vjp(x, p, gg @ _t(bb)), db[:, 0] if vector else db]
    raise ValueError(f"tensor_linalg: no gradient for {op!r}")


def _svd_vjp(x, outputs, index, g):
    """Townsend 2016's gradient of the reduced SVD ``x = U S Vᵀ`` (``full_matrices``: the first
    min(M, N) columns of U and rows of Vᵀ, the others' gradient must be 0)."""
    m, n = x.shape[-2:]
    k = min(m, n)
    if len(outputs) == 1:               # compute_uv=False: the singular values alone
        u, s, vh = np.linalg.svd(x, full_matrices=False)
        outputs, index = (u, s, vh), 1
    u, s, vh = outputs
    u, vh = u[..., :, :k], vh[..., :k, :]
    v = _t(vh)
    du = np.zeros_like(u) if index != 0 else g[..., :, :k]
    ds = g if index == 1 else np.zeros_like(s)
    dv = np.zeros_like(v) if index != 2 else _t(g[..., :k, :])
    s2 = s * s
    with np.errstate(divide="ignore"):
        f = 1 / (s2[..., None, :] - s2[..., :, None])
    f[..., np.arange(k), np.arange(k)] = 0
    utdu, vtdv = _t(u) @ du, _t(v) @ dv
    inner = (f * (utdu - _t(utdu))) * s[..., None, :] + s[..., :, None] * (f * (vtdv - _t(vtdv)))
    inner = inner + ds[..., None, :] * np.eye(k, dtype=x.dtype)
    grad = u @ inner @ vh
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_s = np.where(s > 0, 1 / s, 0)
    if m > k:
        grad = grad + (du - u @ utdu) * inv_s[..., None, :] @ vh
    if n > k:
        grad = grad + (u * inv_s[..., None, :]) @ _t(dv - v @ vtdv)
    return grad


def _qr_vjp(outputs, index, g):
    """TensorFlow's QrGrad (M >= N, reduced or square): dA = [dQ + Q copyltu(M)] R⁻ᵀ with
    M = R dRᵀ - dQᵀ Q."""
    q, r = outputs
    dq = g if index == 0 else np.zeros_like(q)
    dr = g if index == 1 else np.zeros_like(r)
    mm = r @ _t(dr) - _t(dq) @ q
    b = dq + q @ _copy_lower_to_upper(mm)
    # b R⁻ᵀ: (R⁻¹ bᵀ)ᵀ, R upper triangular
    return _t(_tri_solve(r, _t(b), False))


def matrix_norm_backward(g, x, axes, keepdims, ord):
    """The gradient of ``norm(x, ord, axis=axes)`` for a matrix ``ord`` (1, -1, inf, -inf: the
    largest or smallest column or row sum of ``|x|``, ties sharing it as TensorFlow's max; 2, -2:
    ``u vᵀ`` of the largest or smallest singular value; "nuc": ``U Vᵀ``), ``axes`` (rows,
    columns) in the order given, ``g`` of the norm's shape."""
    rows, cols = axes
    xm = np.moveaxis(x, (rows, cols), (-2, -1))
    if keepdims:
        g = np.moveaxis(g, (rows, cols), (-2, -1))[..., 0, 0]
    g = np.asarray(g)[..., None, None]
    if ord in (1, -1, np.inf, -np.inf):
        along = -2 if ord in (1, -1) else -1          # 1: the columns' sums (over the rows); inf: the rows'
        sums = np.abs(xm).sum(axis=along)
        best = (sums.max if ord > 0 else sums.min)(axis=-1, keepdims=True)
        chosen = (sums == best).astype(x.dtype)
        chosen = np.expand_dims(chosen / chosen.sum(axis=-1, keepdims=True), along)
        grad = g * np.sign(xm) * chosen
    else:
        u, _, vh = np.linalg.svd(xm, full_matrices=False)
        if ord == 2:
            u, vh = u[..., :, :1], vh[..., :1, :]
        elif ord == -2:
            u, vh = u[..., :, -1:], vh[..., -1:, :]
        grad = g * (u @ vh)
    return np.moveaxis(grad.astype(x.dtype, copy=False), (-2, -1), (rows, cols))


# -- TensorFunction's ops of this module (layers/tensor_functions.py hands them here) --------------
def merges(op, args):
    """solve and solve_triangular of two tensors take a list [a, b]."""
    return op in ("solve", "solve_triangular") and args["a"] is None and args["b"] is None


def arguments(op, args, who):
    if op == "slogdet" and args["output"] not in OUTPUTS["slogdet"]:
        raise ValueError(f"{who}: slogdet's output must be 'sign' or 'logabsdet', got {args['output']!r:.40}")
    for name in ("upper", "lower"):
        if name in args and not isinstance(args[name], (bool, np.bool_)):
            raise TypeError(f"{who}: {name} must be True or False, got {args[name]!r:.40}")
        if name in args:
            args[name] = bool(args[name])
    if op in ("solve", "solve_triangular"):
        if args["a"] is not None and args["b"] is not None:
            raise ValueError(f"{who}: {op} takes a tensor for a or b (or both); a constant for both is no node")
        for name in ("a", "b"):
            if args[name] is not None:
                array = np.asarray(args[name], dtype=float)
                if array.ndim != (2 if name == "a" else array.ndim) or array.ndim not in (1, 2) or (
                        name == "a" and array.shape[0] != array.shape[1]) or not np.isfinite(array).all():
                    raise ValueError(f"{who}: {op}'s constant {name} must be one finite "
                                     f"{'square matrix' if name == 'a' else 'vector or matrix'} (no batch axis), got "
                                     f"shape {array.shape}")
                args[name] = array.tolist()         # JSON's form
    return args


def _square(shape, who, op, name="x"):
    if len(shape) < 2:
        raise ValueError(f"{who}: {op} reads matrices from the last two axes: {name}'s samples need two axes or more "
                         f"(..., n, n), got samples of shape {tuple(shape)}")
    if None not in shape[-2:] and shape[-2] != shape[-1]:
        raise ValueError(f"{who}: {op} takes square matrices, got {name}'s samples of shape {tuple(shape)}")


def output_shape(layer, shape):
    op, args, who = layer.op, layer.arguments, layer.describe()
    if op in ("solve", "solve_triangular"):
        if layer.merges:
            if not isinstance(shape, (list, tuple)) or len(shape) != 2:
                raise ValueError(f"{who}: {op} of tensors takes two tensors, a and b")
            sa, sb = (tuple(s) for s in shape)
            _square(sa, who, op, "a")
            if len(sb) not in (len(sa), len(sa) - 1) or (sb[:len(sa) - 2] != sa[:-2]) or (
                    None not in (sb[len(sa) - 2], sa[-1]) and sb[len(sa) - 2] != sa[-1]):
                raise ValueError(f"{who}: {op}'s b must be (..., n) or (..., n, k) beside a (..., n, n) with the same "
                                 f"leading axes, got samples of a {sa} and b {sb}")
            return sb
        shape = tuple(shape)
        if args["a"] is not None:           # a constant matrix, b the tensor
            n = len(args["a"])
            if shape[-1 if len(shape) == 1 else -2] not in (None, n):
                raise ValueError(f"{who}: {op}'s b must have {n} rows (a is {n} x {n}), got samples of shape {shape}")
            return shape
        _square(shape, who, op, "a")
        b = np.asarray(args["b"])
        if shape[-1] not in (None, b.shape[0]):
            raise ValueError(f"{who}: {op}'s constant b must have {shape[-1]} rows, got shape {b.shape}")
        return shape[:-1] + b.shape[1:]
    shape = tuple(shape)
    _square(shape, who, op)
    return shape[:-2] if op in ("det", "logdet", "slogdet") else shape


def _operands(layer, x):
    args = layer.arguments
    if layer.merges:
        return list(x)
    constant = getattr(layer, "_linalg_constant", None)
    if constant is None:
        constant = layer._linalg_constant = np.asarray(args["a"] if args["a"] is not None else args["b"], x.dtype)
    if args["a"] is not None:
        lead = x.shape[:-2] if x.ndim >= 3 else x.shape[:-1]
        return [np.broadcast_to(constant, lead + constant.shape), x]
    return [x, np.broadcast_to(constant, x.shape[:-2] + constant.shape)]


def node_forward(layer, x):
    op, args = layer.op, layer.arguments
    inputs = _operands(layer, x) if op in ("solve", "solve_triangular") else [x]
    outputs = forward(op, args, inputs)
    layer._linalg = (inputs, outputs)
    dtype = inputs[0].dtype
    return outputs[OUTPUTS[op].index(args["output"])].astype(dtype, copy=False) if op == "slogdet" else \
        outputs[0].astype(dtype, copy=False)


def node_backward(layer, g):
    op, args = layer.op, layer.arguments
    inputs, outputs = layer._linalg
    index = OUTPUTS[op].index(args["output"]) if op == "slogdet" else 0
    grads = [d.astype(inputs[0].dtype, copy=False) for d in vjp(op, args, inputs, outputs, index, g)]
    if op not in ("solve", "solve_triangular") or layer.merges:
        return grads if layer.merges else grads[0]
    return grads[1] if args["a"] is not None else grads[0]
