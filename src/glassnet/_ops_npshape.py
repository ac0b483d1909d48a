"""keras.ops' NumPy-like structural functions for ``glassnet.ops`` (which re-exports them): moveaxis,
swapaxes, ravel, roll, rot90, fliplr, flipud, diff, diag, diagflat, diagonal, trace, dot, inner,
outer, vdot, kron, cross, hstack, vstack, dstack, hsplit, vsplit, dsplit, array_split, append, select,
rearrange, vander, trapezoid, correlate, corrcoef.

On arrays each computes at once (NumPy's function, in Keras 3.15's dtype on TensorFlow). On tensors
of a model being drawn and on values a ``GradientTape`` records each is drawn from existing nodes:
a transpose node for moveaxis/swapaxes, flip for fliplr/rot90, take for roll/diff, einsum (with a
constant 0/1 selector) for diagonal/trace/diag/dot/inner/outer/kron, concatenate/split for the stacks
and splits, where for select, reshape and transpose for rearrange; on tensors none may move, join or
reduce the batch axis 0 (refused by name). docs/ops_numpy.md lists what each takes.
"""
import numbers
import string

import numpy as np

from ._ops_npmath import _composed, _live, _ndim, _ops, _shape
from ._ops_reading import _array, _arrays, _is_tensor


def _refuse_batch(function, x, axes, what):
    if _is_tensor(x) and any(a % x.ndim == 0 for a in axes):
        raise ValueError(f"ops.{function}: {what} would reach the batch axis 0 of a tensor of a model being drawn "
                         f"(each sample is computed on its own); name sample axes (1 to {x.ndim - 1} or negative)")


def _no_tensors(function, *values, why="it flattens or joins the batch axis"):
    flat = [v for value in values for v in (value if isinstance(value, (list, tuple)) else (value,))]
    if any(_is_tensor(v) for v in flat):
        raise TypeError(f"ops.{function} takes arrays (and values a GradientTape records), not tensors of a model "
                        f"being drawn: {why}")


def _axis(axis, ndim, function, name="axis"):
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or not -ndim <= axis < max(ndim, 1):
        raise ValueError(f"ops.{function}: {name} must be an integer in [{-ndim}, {ndim}), got {axis!r:.40}")
    return int(axis) % max(ndim, 1)


def _permute(x, perm, function):
    """``x`` with its axes in the order ``perm``: a transpose node on tensors, einsum on tapes."""
    o = _ops()
    if _is_tensor(x):
        if perm[0] != 0:
            raise ValueError(f"ops.{function}: it would move the batch axis 0 of a tensor of a model being drawn; "
                             f"move sample axes only")
        return o.transpose(x, tuple(perm))
    letters = string.ascii_letters[:len(perm)]
    return o.einsum(letters + "->" + "".join(letters[p] for p in perm), x)


def _take(x, indices, axis):
    return _ops().take(x, np.asarray(indices, np.int32), axis=axis)


# -- axes ---------------------------------------------------------------------------------------------
@_composed
def moveaxis(x, source, destination):
    """``x`` with axes ``source`` moved to ``destination`` (integers or sequences), NumPy's."""
    if _live(x):
        order = list(np.moveaxis(np.zeros(tuple(range(2, x.ndim + 2))), source, destination).shape)
        perm = [n - 2 for n in order]
        return _permute(x, perm, "moveaxis")
    return np.moveaxis(_array(x, "x", "moveaxis"), source, destination)


@_composed
def swapaxes(x, axis1, axis2):
    """``x`` with ``axis1`` and ``axis2`` swapped."""
    if _live(x):
        perm = list(range(x.ndim))
        a, b = _axis(axis1, x.ndim, "swapaxes", "axis1"), _axis(axis2, x.ndim, "swapaxes", "axis2")
        perm[a], perm[b] = perm[b], perm[a]
        return _permute(x, perm, "swapaxes")
    return np.swapaxes(_array(x, "x", "swapaxes"), axis1, axis2)


@_composed
def ravel(x):
    """``x`` flattened to one axis (arrays and tapes; on tensors the batch axis would be flattened)."""
    _no_tensors("ravel", x)
    if _live(x):
        return _ops().reshape(x, (-1,))
    return np.ravel(_array(x, "x", "ravel"))


@_composed
def roll(x, shift, axis=None):
    """``x``'s entries shifted by ``shift`` along ``axis`` (those past the end come in at the start);
    ``axis=None`` rolls the flattened ``x`` (arrays and tapes), shape kept. Several shifts and axes pair up."""
    if _live(x):
        if axis is None:
            _no_tensors("roll", x, why="axis=None rolls the flattened tensor, batch axis too; name a sample axis")
            return _ops().reshape(roll(_ops().reshape(x, (-1,)), shift, 0), x.shape)
        shifts, axes = np.broadcast_arrays(np.atleast_1d(shift), np.atleast_1d(axis))
        _refuse_batch("roll", x, axes.tolist(), "rolling axis 0")
        for s, a in zip(shifts.tolist(), axes.tolist()):
            n = x.shape[a]
            x = _take(x, (np.arange(n) - s) % n, a)
        return x
    return np.roll(_array(x, "x", "roll"), shift, axis=axis)


def _flip(x, axis):
    if _is_tensor(x):
        return _ops().flip(x, axis)
    return _take(x, np.arange(x.shape[axis])[::-1], axis)


@_composed
def fliplr(x):
    """``x`` reversed along axis 1 (two axes or more)."""
    if _live(x):
        return _flip(x, 1)
    return np.fliplr(_array(x, "x", "fliplr"))


@_composed
def flipud(x):
    """``x`` reversed along axis 0 (arrays and tapes; on tensors axis 0 is the batch axis)."""
    _no_tensors("flipud", x, why="it reverses the batch axis 0")
    if _live(x):
        return _flip(x, 0)
    return np.flipud(_array(x, "x", "flipud"))


@_composed
def rot90(array, k=1, axes=(0, 1)):
    """``array`` rotated by 90 degrees ``k`` times in the plane of ``axes`` (from the first towards
    the second), NumPy's."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"ops.rot90: k must be an integer, got {k!r:.40}")
    if _live(array):
        if len(axes) != 2:
            raise ValueError(f"ops.rot90: axes must be two axes, got {axes!r:.40}")
        a, b = (_axis(v, array.ndim, "rot90", "axes") for v in axes)
        _refuse_batch("rot90", array, [a, b], "rotating in a plane holding axis 0")
        k %= 4
        if k == 0:
            return array
        if k == 2:
            return _flip(_flip(array, a), b)
        perm = list(range(array.ndim))
        perm[a], perm[b] = perm[b], perm[a]
        return _permute(_flip(array, b), perm, "rot90") if k == 1 else _flip(_permute(array, perm, "rot90"), b)
    return np.rot90(_array(array, "array", "rot90"), k, axes)


@_composed
def diff(a, n=1, axis=-1):
    """The ``n``-th differences along ``axis`` (``a[1:] - a[:-1]``, n times; n=0: ``a``)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"ops.diff: n must be a non-negative integer, got {n!r:.40}")
    if _live(a):
        ax = _axis(axis, a.ndim, "diff")
        _refuse_batch("diff", a, [ax], "differences along axis 0")
        for _ in range(n):
            size = a.shape[ax]
            a = _ops().subtract(_take(a, np.arange(1, size), ax), _take(a, np.arange(size - 1), ax))
        return a
    return np.diff(_array(a, "a", "diff"), n=int(n), axis=axis)


# -- diagonals: einsum with a 0/1 selector ------------------------------------------------------------------
def _selector(rows, cols, offset):
    """(d, rows, cols): 1 at the d-th entry of the ``offset`` diagonal."""
    i = np.arange(max(0, -offset), min(rows, cols - offset)) if offset < cols and -offset < rows else np.arange(0)
    s = np.zeros((len(i), rows, cols), np.float32)
    s[np.arange(len(i)), i, i + offset] = 1
    return s


def _diagonal_einsum(x, offset, axis1, axis2, summed):
    a, b = _axis(axis1, x.ndim, "diagonal", "axis1"), _axis(axis2, x.ndim, "diagonal", "axis2")
    if a == b:
        raise ValueError(f"ops.diagonal: axis1 and axis2 must differ, got {axis1} and {axis2}")
    _refuse_batch("trace" if summed else "diagonal", x, [a, b], "a diagonal over axis 0")
    letters = string.ascii_letters[:x.ndim]
    rest = "".join(c for k, c in enumerate(letters) if k not in (a, b))
    selector = _selector(x.shape[a], x.shape[b], offset).astype(np.asarray(x).dtype if not _is_tensor(x) else np.float32)
    return _ops().einsum(f"{letters},Z{letters[a]}{letters[b]}->{rest}{'' if summed else 'Z'}", x, selector)


@_composed
def diagonal(x, offset=0, axis1=0, axis2=1):
    """The ``offset`` diagonal of the planes of ``axis1`` and ``axis2``: those axes go, a last axis of
    the diagonal comes (NumPy's)."""
    if _live(x):
        return _diagonal_einsum(x, int(offset), axis1, axis2, summed=False)
    return np.diagonal(_array(x, "x", "diagonal"), offset, axis1, axis2).copy()


@_composed
def trace(x, offset=0, axis1=0, axis2=1):
    """The sums of ``diagonal(x, offset, axis1, axis2)``; int8/int16/bool give int32, uint8/uint16
    uint32 (Keras')."""
    if _live(x):
        return _diagonal_einsum(x, int(offset), axis1, axis2, summed=True)
    array = _array(x, "x", "trace")
    if array.dtype.kind == "b" or array.dtype.kind == "i" and array.dtype.itemsize < 4:
        array = array.astype(np.int32)
    elif array.dtype.kind == "u" and array.dtype.itemsize < 4:       # (Keras': uint8/uint16 sum in uint32)
        array = array.astype(np.uint32)
    return np.asarray(np.trace(array, offset, axis1, axis2)).astype(array.dtype, copy=False)


@_composed
def diag(x, k=0):
    """A 1-D ``x`` on the ``k`` diagonal of a square matrix, or a 2-D ``x``'s ``k`` diagonal (arrays
    and tapes; on tensors use diagonal over sample axes)."""
    _no_tensors("diag", x, why="its axes would include the batch axis; ops.diagonal over sample axes")
    if _live(x):
        if x.ndim == 2:
            return _diagonal_einsum(x, int(k), 0, 1, summed=False)
        if x.ndim != 1:
            raise ValueError(f"ops.diag: x must have 1 or 2 axes, got shape {x.shape}")
        size = x.shape[0] + abs(int(k))
        return _ops().einsum("Z,Zij->ij", x, _selector(size, size, int(k)).astype(np.asarray(x).dtype))
    array = _array(x, "x", "diag")
    if array.ndim not in (1, 2):
        raise ValueError(f"ops.diag: x must have 1 or 2 axes, got shape {array.shape}")
    return np.diag(array, k).copy()


@_composed
def diagflat(x, k=0):
    """The flattened ``x`` on the ``k`` diagonal of a square matrix (arrays and tapes)."""
    _no_tensors("diagflat", x)
    return diag(ravel(x), k)


# -- products: einsum --------------------------------------------------------------------------------
def _contracted(function, x1, x2, second_axis):
    """Refuses ``x1``'s last axis and ``x2``'s ``second_axis`` (-1 or -2) of different lengths by
    name (NumPy's message names neither argument; Keras on TensorFlow fails inside MatMul)."""
    s1, s2 = _shape(x1), _shape(x2)
    if s1 and s2 and s1[-1] is not None and s2[second_axis] is not None and s1[-1] != s2[second_axis]:
        which = "last" if second_axis == -1 else "second-to-last"
        raise ValueError(f"ops.{function}: x2's {which} axis must have the length of x1's last axis ({s1[-1]}), got "
                         f"shapes {s1} and {s2}")


def _einsum_or_numpy(function, x1, x2, spec, numpy_function):
    _contracted(function, x1, x2, -2 if function == "dot" and _ndim(x2) >= 2 else -1)
    if _live(x1, x2):
        return _ops().einsum(spec(_ndim(x1), _ndim(x2)), x1, x2)
    a, b = _arrays(function, ("x1", x1), ("x2", x2))
    return np.asarray(numpy_function(a, b))


def _dot_spec(n1, n2):
    if n1 == 0 or n2 == 0:
        return "" + string.ascii_lowercase[:n1] + "," + string.ascii_uppercase[:n2] + "->" + \
            string.ascii_lowercase[:n1] + string.ascii_uppercase[:n2]
    first = string.ascii_lowercase[:n1]
    second = list(string.ascii_uppercase[:n2])
    second[max(n2 - 2, 0)] = first[-1]
    return f"{first},{''.join(second)}->{first[:-1]}{''.join(c for c in second if c != first[-1])}"


@_composed
def dot(x1, x2):
    """NumPy's ``dot``: matrix products, N-D the last axis of ``x1`` with the second-to-last of ``x2``;
    a number multiplies. On tensors an einsum node (a tensor and a constant: ``dot(x, W)``)."""
    return _einsum_or_numpy("dot", x1, x2, _dot_spec, np.dot)


@_composed
def inner(x1, x2):
    """The sums of products over the last axes of ``x1`` and ``x2`` (NumPy's ``inner``)."""
    def spec(n1, n2):
        if n1 == 0 or n2 == 0:
            return _dot_spec(n1, n2)
        a, b = string.ascii_lowercase[:n1], string.ascii_uppercase[:n2 - 1] + string.ascii_lowercase[n1 - 1]
        return f"{a},{b}->{a[:-1]}{b[:-1]}"
    return _einsum_or_numpy("inner", x1, x2, spec, np.inner)


@_composed
def outer(x1, x2):
    """The products of every entry of the flattened ``x1`` with every entry of the flattened ``x2``
    (arrays and tapes)."""
    _no_tensors("outer", x1, x2)
    if _live(x1, x2):
        o = _ops()
        return o.einsum("i,j->ij", o.reshape(x1, (-1,)), o.reshape(x2, (-1,)))
    a, b = _arrays("outer", ("x1", x1), ("x2", x2))
    return np.outer(a, b)


@_composed
def vdot(x1, x2):
    """The sum of the products of the flattened ``x1`` and ``x2`` (arrays and tapes)."""
    _no_tensors("vdot", x1, x2)
    n1, n2 = int(np.prod(_shape(x1))), int(np.prod(_shape(x2)))
    if n1 != n2:
        raise ValueError(f"ops.vdot: x2 must hold as many entries as x1 ({n1}), got {n2} (shapes {_shape(x1)} and "
                         f"{_shape(x2)})")
    if _live(x1, x2):
        o = _ops()
        return o.einsum("i,i->", o.reshape(x1, (-1,)), o.reshape(x2, (-1,)))
    a, b = _arrays("vdot", ("x1", x1), ("x2", x2))
    return np.asarray(np.vdot(a, b))


@_composed
def kron(x1, x2):
    """The Kronecker product (NumPy's ``kron``; arrays and tapes)."""
    _no_tensors("kron", x1, x2)
    if _live(x1, x2):
        o = _ops()
        n = max(_ndim(x1), _ndim(x2))
        a = o.reshape(x1, (1,) * (n - _ndim(x1)) + _shape(x1))
        b = o.reshape(x2, (1,) * (n - _ndim(x2)) + _shape(x2))
        lo, up = string.ascii_lowercase[:n], string.ascii_uppercase[:n]
        y = o.einsum(f"{lo},{up}->{''.join(p + q for p, q in zip(lo, up))}", a, b)
        return o.reshape(y, tuple(p * q for p, q in zip(_shape(a), _shape(b))))
    a, b = _arrays("kron", ("x1", x1), ("x2", x2))
    return np.asarray(np.kron(a, b))


@_composed
def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of vectors of 3 (or 2: the z component alone) entries along ``axisa`` of x1
    and ``axisb`` of x2 (``axis`` sets all three), put on ``axisc``; NumPy's."""
    if axis is not None:
        axisa = axisb = axisc = axis
    for name, value, ax in (("x1", x1, axisa), ("x2", x2, axisb)):
        shape = _shape(value)
        if not shape or not -len(shape) <= ax < len(shape) or shape[ax] not in (2, 3):
            raise ValueError(f"ops.cross: {name} must hold vectors of 2 or 3 entries along axis {ax}, got shape "
                             f"{shape}")
    if _live(x1, x2):
        o = _ops()
        a, b = moveaxis(x1, axisa, -1), moveaxis(x2, axisb, -1)
        pa = [_take(a, [k], -1) for k in range(a.shape[-1])] + [0.0] * (3 - a.shape[-1])
        pb = [_take(b, [k], -1) for k in range(b.shape[-1])] + [0.0] * (3 - b.shape[-1])
        parts = [o.subtract(o.multiply(pa[i], pb[j]), o.multiply(pa[j], pb[i])) for i, j in ((1, 2), (2, 0), (0, 1))]
        if a.shape[-1] == 2 and b.shape[-1] == 2:
            return o.squeeze(parts[2], -1)
        return moveaxis(o.concatenate(parts, axis=-1), -1, axisc)
    a, b = _arrays("cross", ("x1", x1), ("x2", x2))
    a, b = np.moveaxis(a, axisa, -1), np.moveaxis(b, axisb, -1)
    # 2-vectors get a z of 0 (NumPy 2 deprecates them in np.cross); two of them give the z component alone
    grown = [np.concatenate([v, np.zeros(v.shape[:-1] + (1,), v.dtype)], axis=-1) if v.shape[-1] == 2 else v
             for v in (a, b)]
    product = np.cross(*grown)
    if a.shape[-1] == 2 and b.shape[-1] == 2:
        return np.asarray(product[..., 2])
    return np.moveaxis(product, -1, axisc)


# -- stacks and splits --------------------------------------------------------------------------------
def _stack(function, xs, axis_of):
    if not isinstance(xs, (list, tuple)) or not xs:
        raise TypeError(f"ops.{function}: xs must be a non-empty list of arrays or tensors, got {type(xs).__name__}")
    if _live(list(xs)):
        ndim = max(_ndim(v) for v in xs)
        axis = axis_of(ndim)
        if any(_is_tensor(v) for v in xs) and axis == 0:
            raise ValueError(f"ops.{function}: it would join along the batch axis 0 of tensors of a model being drawn")
        return _ops().concatenate(list(xs), axis=axis)
    arrays = _arrays(function, *((f"xs[{k}]", v) for k, v in enumerate(xs)))
    return None, arrays


@_composed
def hstack(xs):
    """The arrays joined along axis 1 (1-D: axis 0), Keras' result dtype."""
    out = _stack("hstack", xs, lambda n: 0 if n == 1 else 1)
    return out if not isinstance(out, tuple) else np.hstack(out[1])


@_composed
def vstack(xs):
    """The arrays joined along axis 0 (Keras' on TensorFlow: 1-D arrays give one longer axis, not
    NumPy's rows); arrays and tapes."""
    out = _stack("vstack", xs, lambda n: 0)
    return out if not isinstance(out, tuple) else np.concatenate(out[1], axis=0)


@_composed
def dstack(xs):
    """The arrays joined along axis 2 (NumPy's; fewer axes are grown to 3 on arrays)."""
    out = _stack("dstack", xs, lambda n: 2)
    return out if not isinstance(out, tuple) else np.dstack(out[1])


def _split(function, x, indices_or_sections, axis, equal=True):
    if _live(x):
        if not equal and isinstance(indices_or_sections, numbers.Integral):
            n, size = int(indices_or_sections), x.shape[axis]
            cuts = np.cumsum([size // n + (k < size % n) for k in range(n)])[:-1]
            indices_or_sections = cuts.tolist()
        _refuse_batch(function, x, [axis], "splitting axis 0")
        return _ops().split(x, indices_or_sections, axis=axis)
    array = _array(x, "x", function)
    if array.ndim <= axis:
        raise ValueError(f"ops.{function}: x must have an axis {axis} to split, got shape {array.shape}")
    return (np.split if equal else np.array_split)(array, indices_or_sections, axis=axis)


@_composed
def hsplit(x, indices_or_sections):
    """``split`` along axis 1 (1-D: axis 0)."""
    return _split("hsplit", x, indices_or_sections, 0 if _ndim(x) == 1 else 1)


@_composed
def vsplit(x, indices_or_sections):
    """``split`` along axis 0 (arrays and tapes)."""
    _no_tensors("vsplit", x, why="it splits the batch axis 0")
    return _split("vsplit", x, indices_or_sections, 0)


@_composed
def dsplit(x, indices_or_sections):
    """``split`` along axis 2."""
    return _split("dsplit", x, indices_or_sections, 2)


@_composed
def array_split(x, indices_or_sections, axis=0):
    """``split`` into ``indices_or_sections`` pieces of sizes differing by at most one (the first ones
    larger), or at those indices."""
    return _split("array_split", x, indices_or_sections, axis, equal=False)


@_composed
def append(x1, x2, axis=None):
    """``x2`` appended to ``x1`` along ``axis`` (None: both flattened, arrays and tapes)."""
    if axis is None:
        _no_tensors("append", x1, x2, why="axis=None flattens the batch axis; name a sample axis")
        if _live(x1, x2):
            return _ops().concatenate([ravel(x1), ravel(x2)], axis=0)
    elif _live(x1, x2):
        if any(_is_tensor(v) for v in (x1, x2)) and axis % max(_ndim(x1), 1) == 0:
            raise ValueError("ops.append: it would join along the batch axis 0 of a tensor of a model being drawn")
        return _ops().concatenate([x1, x2], axis=axis)
    a, b = _arrays("append", ("x1", x1), ("x2", x2))
    return np.append(a, b, axis=axis)


@_composed
def select(condlist, choicelist, default=0):
    """The entry of the first ``choicelist`` entry whose condition holds, ``default`` where none does
    (NumPy's ``select``); on tensors nested ``where`` nodes."""
    if not isinstance(condlist, (list, tuple)) or not isinstance(choicelist, (list, tuple)):
        raise TypeError("ops.select: condlist and choicelist must be lists (of conditions and of choices)")
    if len(condlist) != len(choicelist) or not condlist:
        raise ValueError(f"ops.select: condlist and choicelist must have one length, at least 1; got "
                         f"{len(condlist)} and {len(choicelist)}")
    if _live(list(condlist) + list(choicelist) + [default]):
        out = default
        for condition, choice in zip(reversed(condlist), reversed(choicelist)):
            out = _ops().where(condition, choice, out)
        return out
    conditions = [_array(c, f"condlist[{k}]", "select") for k, c in enumerate(condlist)]
    # the default joins the choices' result type (a weak Python number): cast to the choices' dtype
    # alone, a default of 1.5 beside integer choices was truncated to 1 (Keras' keeps 1.5)
    *choices, fill = _arrays("select", *((f"choicelist[{k}]", v) for k, v in enumerate(choicelist)),
                             ("default", default))
    return np.asarray(np.select([c != 0 for c in conditions], choices, fill)).astype(fill.dtype, copy=False)


__all__ = ["moveaxis", "swapaxes", "ravel", "roll", "rot90", "fliplr", "flipud", "diff", "diag", "diagflat",
           "diagonal", "trace", "dot", "inner", "outer", "vdot", "kron", "cross", "hstack", "vstack", "dstack",
           "hsplit", "vsplit", "dsplit", "array_split", "append", "select"]
