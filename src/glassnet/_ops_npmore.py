"""keras.ops' ``rearrange`` (einops' pattern), ``vander``, ``trapezoid``, ``correlate`` and ``corrcoef``
for ``glassnet.ops`` (which re-exports them). Arrays at once, Keras 3.15's dtypes; tensors and
GradientTape values drawn from existing nodes (reshape and transpose; power, take, einsum, mean):
rearrange and trapezoid on tensors over sample axes, the others arrays and tapes.
"""
import re

import numpy as np

from ._ops_npmath import _composed, _floats, _live, _ops, _shape
from ._ops_npshape import _no_tensors, _permute, _take
from ._ops_reading import _array, _arrays, _is_tensor  # noqa: F401


def _groups(side, pattern):
    tokens = re.findall(r"\(|\)|[A-Za-z_][A-Za-z0-9_]*|\S", side)
    groups, current = [], None
    for t in tokens:
        if t == "(":
            if current is not None:
                raise ValueError(f"ops.rearrange: nested parentheses in pattern {pattern!r}")
            current = []
        elif t == ")":
            if current is None:
                raise ValueError(f"ops.rearrange: unbalanced parentheses in pattern {pattern!r}")
            groups.append(current)
            current = None
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", t):
            if current is None:
                groups.append([t])
            else:
                current.append(t)
        else:
            raise ValueError(f"ops.rearrange: pattern must hold axis names and parentheses, got {t!r} in {pattern!r}")
    if current is not None:
        raise ValueError(f"ops.rearrange: unbalanced parentheses in pattern {pattern!r}")
    return groups


@_composed
def rearrange(tensor, pattern, **axes_lengths):
    """Axes split, permuted and merged by an einops pattern ``"b (h w) c -> b h w c"`` (names,
    parenthesised groups; ``axes_lengths`` give the sizes a split needs), as Keras 3.15's. On tensors
    the batch axis stays first and whole."""
    if not isinstance(pattern, str) or pattern.count("->") != 1:
        raise ValueError(f"ops.rearrange: pattern must be a string 'left -> right', got {pattern!r:.60}")
    left, right = (_groups(side, pattern) for side in pattern.split("->"))
    names = [n for g in left for n in g]
    if sorted(names) != sorted(n for g in right for n in g) or len(set(names)) != len(names):
        raise ValueError(f"ops.rearrange: pattern {pattern!r} must name each axis once on each side")
    shape = tuple(tensor.shape) if _is_tensor(tensor) or _live(tensor) else np.shape(_array(tensor, "tensor", "rearrange"))
    if len(shape) != len(left):
        raise ValueError(f"ops.rearrange: pattern {pattern!r} names {len(left)} axes, tensor has {len(shape)}")
    sizes = {}
    for group, n in zip(left, shape):
        unknown = [a for a in group if a not in axes_lengths]
        known = int(np.prod([axes_lengths[a] for a in group if a in axes_lengths]))
        if len(unknown) > 1:
            raise ValueError(f"ops.rearrange: give the lengths of all but one of {group} (axes_lengths)")
        for a in group:
            sizes[a] = axes_lengths.get(a, None if n is None else n // known)
    split = [sizes[a] for a in names]
    perm = [names.index(a) for g in right for a in g]
    merged = [None if any(sizes[a] is None for a in g) else int(np.prod([sizes[a] for a in g])) for g in right]
    if _live(tensor):
        o = _ops()
        if _is_tensor(tensor) and (len(left[0]) != 1 or right[0] != left[0]):
            raise ValueError(f"ops.rearrange: pattern {pattern!r} would split, move or merge the batch axis of a tensor "
                             f"of a model being drawn; keep its name first and alone on both sides")
        lead = (-1,) if _is_tensor(tensor) else ()
        y = o.reshape(tensor, lead + tuple(split[len(lead):]))
        y = _permute(y, perm, "rearrange") if perm != list(range(len(perm))) else y
        return o.reshape(y, lead + tuple(merged[len(lead):]))
    array = _array(tensor, "tensor", "rearrange")
    return np.transpose(array.reshape(split), perm).reshape(merged)


@_composed
def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of a 1-D ``x``: columns ``x ** (N - 1)`` down to ``x ** 0`` (or up,
    ``increasing``); ``N`` None: ``len(x)``. Arrays and tapes."""
    _no_tensors("vander", x, why="it is a matrix of one vector")
    if _live(x):
        n = x.shape[0] if N is None else int(N)
        powers = np.arange(n) if increasing else np.arange(n)[::-1]
        o = _ops()
        return o.power(o.reshape(x, (-1, 1)), powers.astype(np.asarray(x).dtype)[None, :])
    array = _array(x, "x", "vander")
    if array.ndim != 1:
        raise ValueError(f"ops.vander: x must have one axis, got shape {array.shape}")
    return np.vander(array, N, increasing).astype(array.dtype, copy=False)


@_composed
def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The integral of ``y`` along ``axis`` by the trapezoid rule, at points ``x`` (None: spaced
    ``dx``); integers give floatx."""
    if _live(y, x):
        o = _ops()
        if _is_tensor(y) and axis % y.ndim == 0:
            raise ValueError("ops.trapezoid: it would integrate over the batch axis 0 of a tensor of a model being drawn")
        n = y.shape[axis]
        heights = o.multiply(o.add(_take(y, np.arange(1, n), axis), _take(y, np.arange(n - 1), axis)), 0.5)
        if x is None:
            return o.multiply(o.sum(heights, axis=axis), float(dx))
        widths = np.diff(_array(x, "x", "trapezoid"), axis=axis)
        return o.sum(o.multiply(heights, widths.astype(np.float32)), axis=axis)
    array = _floats(_array(y, "y", "trapezoid"), wide_int64=False)
    if array.ndim == 0:
        raise ValueError("ops.trapezoid: y must have an axis to integrate along, got a 0-d value")
    points = None if x is None else _array(x, "x", "trapezoid").astype(array.dtype)
    return np.asarray(np.trapezoid(array, points, dx, axis)).astype(array.dtype, copy=False)


_MODES = ("valid", "same", "full")


@_composed
def correlate(x1, x2, mode="valid"):
    """The cross-correlation of two 1-D sequences (NumPy's ``correlate``; ``mode`` "valid", "same" or
    "full"); integers give floatx, int64 float64. Arrays and tapes."""
    if mode not in _MODES:
        raise ValueError(f"ops.correlate: mode must be one of {', '.join(_MODES)}, got {mode!r:.40}")
    _no_tensors("correlate", x1, x2, why="it runs over one sequence; ops.conv for batches")
    if _live(x1, x2):
        n, m = _shape(x1)[0], _shape(x2)[0]
        full = np.arange(n + m - 1)[:, None] - (m - 1) + np.arange(m)[None, :]      # (out, m) positions in x1
        start = {"full": 0, "valid": min(n, m) - 1, "same": (m - 1) // 2 if n >= m else (n - 1) // 2}[mode]
        length = {"full": n + m - 1, "valid": max(n, m) - min(n, m) + 1, "same": max(n, m)}[mode]
        idx = full[start:start + length]
        inside = ((idx >= 0) & (idx < n)).astype(np.asarray(x1).dtype)
        windows = _ops().multiply(_take(x1, np.clip(idx, 0, n - 1), 0), inside)
        return _ops().einsum("km,m->k", windows, x2)
    a, b = _arrays("correlate", ("x1", x1), ("x2", x2))
    dtype = np.float64 if a.dtype in (np.int64, np.float64) else a.dtype if a.dtype.kind == "f" else _floats(a).dtype
    return np.correlate(a.astype(np.float64), b.astype(np.float64), mode).astype(dtype)


@_composed
def corrcoef(x):
    """The Pearson correlation coefficients of the rows of ``x`` (variables; columns the samples),
    clipped to [-1, 1] as Keras'; integers give floatx. Arrays and tapes."""
    _no_tensors("corrcoef", x, why="it correlates rows across the batch")
    if _live(x):
        o = _ops()
        centred = o.subtract(x, o.mean(x, axis=-1, keepdims=True))
        cov = o.divide(o.einsum("ij,kj->ik", centred, centred), float(x.shape[-1] - 1))
        std = o.sqrt(o.sum(o.multiply(centred, centred), axis=-1))
        std = o.divide(std, float(np.sqrt(x.shape[-1] - 1)))
        return o.clip(o.divide(cov, o.einsum("i,j->ij", std, std)), -1.0, 1.0)
    array = _floats(_array(x, "x", "corrcoef"), wide_int64=False)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.clip(np.corrcoef(array.astype(np.float64)), -1, 1).astype(array.dtype)
    # one variable: NumPy's 0-d 1.0, Keras' (1, 1) matrix as for more rows
    return out.reshape((array.shape[0],) * 2) if array.ndim == 2 else np.asarray(out)


__all__ = ["rearrange", "vander", "trapezoid", "correlate", "corrcoef"]
