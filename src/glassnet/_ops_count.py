"""keras.ops' searching, counting, testing and integer functions for ``glassnet.ops`` (which
re-exports them): histogram, bincount, unique, searchsorted, digitize, argpartition, in_top_k,
isin, isclose, allclose, isneginf, isposinf, isreal, signbit, nextafter, unravel_index, the bitwise
functions and shifts, gcd and lcm.

Arrays only, Keras 3.15's values and dtypes on TensorFlow (indices int32, tests booleans, counts
int32). Their results are integers, booleans, indices or sizes that depend on the values, so none
has a gradient: on values a ``GradientTape`` records they compute on the plain values
(``no_gradient``), and tensors of a model being drawn are refused by name.
"""
import numbers

import numpy as np

from ._ops_arrays import _no_tensor
from ._ops_reading import _array, _arrays, _float


def _plain(function):
    """Mark ``function`` as giving values without gradient (the tape computes it on plain values)."""
    function.no_gradient = True
    return function


def _integers(function, *named):
    arrays = _arrays(function, *named)
    if arrays[0].dtype.kind not in "biu":
        raise TypeError(f"ops.{function}: {named[0][0]} must hold integers (or booleans), got {arrays[0].dtype}")
    return arrays


@_plain
def histogram(x, bins=10, range=None):
    """The counts of ``x``'s entries in ``bins`` equal bins over ``range`` (None: x's min and max;
    entries outside are dropped, the last bin closed) and the ``bins + 1`` edges, both x's dtype."""
    _no_tensor("histogram", x=x)
    array = _array(x, "x", "histogram").reshape(-1)
    if isinstance(bins, bool) or not isinstance(bins, numbers.Integral) or bins < 1:
        raise ValueError(f"ops.histogram: bins must be a positive integer, got {bins!r:.40}")
    if range is None:
        low, high = array.min(), array.max()
    elif isinstance(range, (tuple, list)) and len(range) == 2:
        low, high = range
    else:
        raise ValueError(f"ops.histogram: range must be None or a pair (min, max), got {range!r:.60}")
    kept = array[(array >= low) & (array <= high)]
    edges = np.linspace(low, high, int(bins) + 1).astype(array.dtype)
    index = np.searchsorted(edges[1:-1], kept, side="right")
    return np.bincount(index, minlength=int(bins)).astype(array.dtype), edges


@_plain
def bincount(x, weights=None, minlength=0, sparse=False):
    """How often each integer 0, 1, ... occurs in ``x`` (1-D, or 2-D: one count per row), summing
    ``weights`` instead of ones when given; length max(x) + 1 or ``minlength``. int32 counts,
    weights' dtype (Keras' result type with x) when weighted. ``sparse=True`` is refused (no sparse arrays)."""
    _no_tensor("bincount", x=x, weights=weights)
    if sparse:
        raise ValueError("ops.bincount: sparse=True gives Keras' sparse tensors, which glassnet has not; "
                         "use sparse=False")
    array = _array(x, "x", "bincount")
    if array.dtype.kind not in "iu" or array.ndim not in (1, 2) or (array.size and array.min() < 0):
        raise ValueError(f"ops.bincount: x must be non-negative integers of 1 or 2 axes, got {array.dtype} of shape "
                         f"{array.shape}")
    if isinstance(minlength, bool) or not isinstance(minlength, numbers.Integral) or minlength < 0:
        raise ValueError(f"ops.bincount: minlength must be an integer >= 0, got {minlength!r:.40}")
    length = max(int(minlength), int(array.max()) + 1 if array.size else 0)
    if weights is None:
        w, dtype = None, np.dtype(np.int32)
    else:
        w = _array(weights, "weights", "bincount")
        if w.shape != array.shape:
            raise ValueError(f"ops.bincount: weights must have x's shape {array.shape}, got {w.shape}")
        dtype = _arrays("bincount", ("x", array), ("weights", w))[1].dtype
    rows = array.reshape(-1, array.shape[-1]) if array.ndim else array.reshape(1, -1)
    weights_rows = None if w is None else w.reshape(rows.shape)
    out = np.stack([np.bincount(r, None if weights_rows is None else weights_rows[k], minlength=length)
                    for k, r in enumerate(rows)]) if rows.shape[0] else np.zeros((0, length))
    return (out[0] if array.ndim == 1 else out).astype(dtype)


@_plain
def unique(x, sorted=True, return_index=False, return_inverse=False, return_counts=False, axis=None, size=None,
           fill_value=None):
    """The distinct entries of ``x`` (flattened; or the distinct slices along ``axis``), sorted unless
    ``sorted=False`` (then in order of first appearance, as TensorFlow's). With ``return_index``,
    ``return_inverse``, ``return_counts`` a tuple ``(values, index, inverse, counts)`` of those asked
    (int32). ``size``: cut or padded to that many (values with ``fill_value`` or 0, index with 1,
    counts with 0), Keras 3.15's rule."""
    _no_tensor("unique", x=x)
    array = _array(x, "x", "unique")
    flat = axis is None
    work = array.reshape(-1) if flat else array
    axis = 0 if flat else int(axis) % max(array.ndim, 1)
    values, index, inverse, counts = np.unique(work, return_index=True, return_inverse=True, return_counts=True,
                                               axis=None if flat else axis)
    inverse = inverse.reshape(-1)
    if not sorted:              # first appearance first, TensorFlow's order
        order = np.argsort(index, kind="stable")
        rank = np.argsort(order)
        values, index, counts, inverse = np.take(values, order, axis=axis), index[order], counts[order], rank[inverse]
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 0:
            raise ValueError(f"ops.unique: size must be None or an integer >= 0, got {size!r:.40}")
        values, index, counts = np.take(values, np.arange(min(size, values.shape[axis])), axis=axis), \
            index[:size], counts[:size]
        pad = size - values.shape[axis]
        widths = [(0, 0)] * values.ndim
        widths[axis] = (0, pad)
        values = np.pad(values, widths, constant_values=0 if fill_value is None else fill_value)
        index, counts = np.pad(index, (0, pad), constant_values=1), np.pad(counts, (0, pad))
    extra = [v.astype(np.int32) for v, asked in ((index, return_index), (inverse, return_inverse),
                                                  (counts, return_counts)) if asked]
    return (values, *extra) if extra else values


@_plain
def searchsorted(sorted_sequence, values, side="left"):
    """Where ``values`` would go in the 1-D ``sorted_sequence`` to keep it sorted (``side`` "left":
    before equal entries, "right": after), int32."""
    _no_tensor("searchsorted", sorted_sequence=sorted_sequence, values=values)
    if side not in ("left", "right"):
        raise ValueError(f"ops.searchsorted: side must be 'left' or 'right', got {side!r:.40}")
    sequence, v = _arrays("searchsorted", ("sorted_sequence", sorted_sequence), ("values", values))
    if sequence.ndim != 1:
        raise ValueError(f"ops.searchsorted: sorted_sequence must have one axis, got shape {sequence.shape}")
    return np.asarray(np.searchsorted(sequence, v, side=side)).astype(np.int32)


@_plain
def digitize(x, bins):
    """The index of the bin each entry of ``x`` falls in, ``bins`` increasing edges (``bins[i-1] <=
    x < bins[i]`` gives i), int32 (TensorFlow's Bucketize)."""
    _no_tensor("digitize", x=x, bins=bins)
    edges = _array(bins, "bins", "digitize")
    if edges.ndim != 1:
        raise ValueError(f"ops.digitize: bins must have one axis, got shape {edges.shape}")
    return np.asarray(np.digitize(_array(x, "x", "digitize"), edges.astype(np.float64))).astype(np.int32)


@_plain
def argpartition(x, kth, axis=-1):
    """Indices that partition ``x`` along ``axis`` around its ``kth`` entry (int32): Keras 3.15's
    order on TensorFlow, the ``kth + 1`` smallest first (ascending), then the others (largest first)."""
    _no_tensor("argpartition", x=x)
    array = _array(x, "x", "argpartition")
    if isinstance(kth, bool) or not isinstance(kth, numbers.Integral):
        raise TypeError(f"ops.argpartition: kth must be an integer, got {kth!r:.40}")
    if axis is None:
        array, axis = array.reshape(-1), 0
    moved = np.moveaxis(array, axis, -1).astype(np.int32)      # Keras' TF backend reads x as int32
    n = moved.shape[-1]
    k = int(np.clip(kth, 0, n - 1))
    bottom = np.argsort(moved, axis=-1, kind="stable")[..., :k + 1]
    masked = moved.copy()
    np.put_along_axis(masked, bottom, 0, axis=-1)
    top = np.argsort(-masked, axis=-1, kind="stable")
    rest = np.array([[i for i in row if i not in set(b)] for row, b in zip(top.reshape(-1, n), bottom.reshape(-1, k + 1))])
    out = np.concatenate([bottom.reshape(-1, k + 1), rest.reshape(-1, n - k - 1)], -1).reshape(moved.shape)
    return np.moveaxis(out, -1, axis).astype(np.int32)


@_plain
def in_top_k(targets, predictions, k):
    """Whether each target class is among the ``k`` largest of its row of ``predictions`` (batch,
    classes): fewer than k classes strictly above it (ties count in, as TensorFlow's); a
    non-finite prediction or a class out of range gives False. Booleans (batch,)."""
    _no_tensor("in_top_k", targets=targets, predictions=predictions)
    t, p = _array(targets, "targets", "in_top_k"), _array(predictions, "predictions", "in_top_k")
    if t.dtype.kind not in "iu" or t.ndim != 1 or p.ndim != 2 or p.shape[0] != t.shape[0]:
        raise ValueError(f"ops.in_top_k: targets must be integers (batch,) and predictions (batch, classes), got "
                         f"{t.dtype} {t.shape} and {p.shape}")
    inside = (t >= 0) & (t < p.shape[1])
    chosen = p[np.arange(len(t)), np.where(inside, t, 0)]
    above = (p > chosen[:, None]).sum(axis=1)
    return inside & np.isfinite(chosen) & np.isfinite(p).all(axis=1) & (above < k)


@_plain
def isin(x1, x2, assume_unique=False, invert=False):
    """Whether each entry of ``x1`` is among ``x2``'s entries (``invert``: is not), booleans of x1's shape."""
    _no_tensor("isin", x1=x1, x2=x2)
    a, b = _arrays("isin", ("x1", x1), ("x2", x2))
    return np.asarray(np.isin(a, b, invert=bool(invert)))


@_plain
def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    """``|x1 - x2| <= atol + rtol |x2|`` elementwise (integers: equality), booleans; ``equal_nan``:
    NaN beside NaN counts as close."""
    _no_tensor("isclose", x1=x1, x2=x2)
    a, b = _arrays("isclose", ("x1", x1), ("x2", x2))
    if a.dtype.kind != "f":
        return np.asarray(a == b)
    with np.errstate(invalid="ignore"):
        out = np.abs(a - b) <= (atol + rtol * np.abs(b))
    return np.asarray(out | (np.isnan(a) & np.isnan(b)) if equal_nan else out)


@_plain
def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    """Whether ``isclose`` holds everywhere: a boolean 0-d array."""
    return np.asarray(np.all(isclose(x1, x2, rtol, atol, equal_nan)))


def _test(function, x, test):
    _no_tensor(function, x=x)
    array = _array(x, "x", function)
    return np.asarray(test(array) if array.dtype.kind == "f" else np.zeros(array.shape, bool))


@_plain
def isneginf(x):
    """Whether each entry is -inf (booleans; integers: none is)."""
    return _test("isneginf", x, np.isneginf)


@_plain
def isposinf(x):
    """Whether each entry is +inf (booleans; integers: none is)."""
    return _test("isposinf", x, np.isposinf)


@_plain
def isreal(x):
    """Whether each entry's imaginary part is 0: all True for real arrays (a complex NumPy array:
    its imaginary parts tested)."""
    _no_tensor("isreal", x=x)
    array = np.asarray(x)
    if array.dtype.kind == "c":
        return np.asarray(array.imag == 0)
    return np.ones(_array(x, "x", "isreal").shape, bool)


@_plain
def signbit(x):
    """Whether each entry's sign bit is set (-0.0 and negative NaN too; integers: < 0), booleans."""
    _no_tensor("signbit", x=x)
    array = _array(x, "x", "signbit")
    if array.dtype.kind == "b":
        return np.zeros(array.shape, bool)
    return np.asarray(array < 0 if array.dtype.kind in "iu" else np.signbit(array.astype(np.float32)))


@_plain
def nextafter(x1, x2):
    """The next float after ``x1`` toward ``x2``, taken in float64 then cast to the operands' float
    dtype (integers: float32), as Keras 3.15 on TensorFlow."""
    _no_tensor("nextafter", x1=x1, x2=x2)
    a, b = _arrays("nextafter", ("x1", x1), ("x2", x2))
    dtype = _float(a).dtype
    return np.asarray(np.nextafter(a.astype(np.float64), b.astype(np.float64))).astype(dtype)


@_plain
def unravel_index(indices, shape):
    """The coordinates in an array of ``shape`` of each flat index: a tuple of arrays of indices' dtype."""
    _no_tensor("unravel_index", indices=indices)
    idx = _array(indices, "indices", "unravel_index")
    if idx.dtype.kind not in "iu":
        raise TypeError(f"ops.unravel_index: indices must be integers, got {idx.dtype}")
    if not isinstance(shape, (tuple, list)) or not all(isinstance(n, numbers.Integral) and n > 0 for n in shape):
        raise ValueError(f"ops.unravel_index: shape must be a tuple of positive sizes, got {shape!r:.60}")
    coords, rest = [], idx
    for n in reversed(shape):       # Keras' arithmetic (floor mod): a negative index wraps as Python's
        coords.append((rest % n).astype(idx.dtype))
        rest = rest // n
    return tuple(reversed(coords))


def _bitwise(function, ufunc, x, y):
    _no_tensor(function, x=x, y=y)
    a, b = _integers(function, ("x", x), ("y", y))
    return np.asarray(ufunc(a, b))


@_plain
def bitwise_and(x, y):
    """``x & y`` bit by bit (integers or booleans), their common dtype."""
    return _bitwise("bitwise_and", np.bitwise_and, x, y)


@_plain
def bitwise_or(x, y):
    """``x | y`` bit by bit."""
    return _bitwise("bitwise_or", np.bitwise_or, x, y)


@_plain
def bitwise_xor(x, y):
    """``x ^ y`` bit by bit."""
    return _bitwise("bitwise_xor", np.bitwise_xor, x, y)


@_plain
def bitwise_invert(x):
    """``~x`` bit by bit (integers or booleans)."""
    _no_tensor("bitwise_invert", x=x)
    (a,) = _integers("bitwise_invert", ("x", x))
    return np.asarray(np.invert(a))


@_plain
def bitwise_not(x):
    """``bitwise_invert``'s other name."""
    return bitwise_invert(x)


def _shift(function, ufunc, x, y):
    _no_tensor(function, x=x, y=y)
    if type(y) is int:          # Keras: a Python int shift keeps x's dtype
        (a,) = _integers(function, ("x", x))
        return np.asarray(ufunc(a, np.asarray(y, a.dtype)))
    return _bitwise(function, ufunc, x, y)


@_plain
def bitwise_left_shift(x, y):
    """``x << y`` (integers)."""
    return _shift("bitwise_left_shift", np.left_shift, x, y)


@_plain
def bitwise_right_shift(x, y):
    """``x >> y`` (integers; arithmetic for signed ones)."""
    return _shift("bitwise_right_shift", np.right_shift, x, y)


@_plain
def left_shift(x, y):
    """``bitwise_left_shift``'s other name."""
    return _shift("left_shift", np.left_shift, x, y)


@_plain
def right_shift(x, y):
    """``bitwise_right_shift``'s other name."""
    return _shift("right_shift", np.right_shift, x, y)


@_plain
def gcd(x1, x2):
    """The greatest common divisor, elementwise, of integers (>= 0), their common dtype."""
    _no_tensor("gcd", x1=x1, x2=x2)
    a, b = _arrays("gcd", ("x1", x1), ("x2", x2))
    if a.dtype.kind not in "iu":
        raise TypeError(f"ops.gcd: x1 and x2 must be integers, got {a.dtype}")
    return np.asarray(np.gcd(a, b))


@_plain
def lcm(x1, x2):
    """The least common multiple, elementwise, of integers (>= 0; 0 where either is 0)."""
    _no_tensor("lcm", x1=x1, x2=x2)
    a, b = _arrays("lcm", ("x1", x1), ("x2", x2))
    if a.dtype.kind not in "iu":
        raise TypeError(f"ops.lcm: x1 and x2 must be integers, got {a.dtype}")
    return np.asarray(np.lcm(a, b))


__all__ = ["histogram", "bincount", "unique", "searchsorted", "digitize", "argpartition", "in_top_k", "isin",
           "isclose", "allclose", "isneginf", "isposinf", "isreal", "signbit", "nextafter", "unravel_index",
           "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_invert", "bitwise_left_shift",
           "bitwise_right_shift", "left_shift", "right_shift", "gcd", "lcm"]
