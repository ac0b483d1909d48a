"""keras.ops' array constructors and a few structural functions for ``glassnet.ops`` (which
re-exports them): zeros, ones, full, eye, identity, tri, linspace, meshgrid (constants), and tril,
triu, unstack, tensordot (arrays and tensors).

The constructors return NumPy constants, never tensors, as ``ops.arange`` does: inside a drawn
``call`` a constant stands beside tensors (``ops.matmul(x, ops.eye(4))``, ``x * ops.tri(6, 6)``).
Their dtypes are Keras 3.15's on TensorFlow: float32 (floatx) unless ``dtype`` is given, whatever
``full``'s ``fill_value``; ``linspace`` the result type of ``start``, ``stop`` and a Python float.

On a tensor, ``tril``/``triu`` are a ``TensorFunction`` node (layers/tensor_structure.py) on the
last two axes, which must be sample axes; ``unstack`` gives one ``x[:, ..., i]`` node
(``get_item``) per entry of a sample axis; ``tensordot`` of a tensor and a constant is the
``einsum`` node of the same contraction (the batch axis first in the output, never contracted).
"""
import numbers

import numpy as np

from . import backend
from ._ops_reading import _array, _arrays, _is_tensor, _keras_dtype, _result_dtype


def _constant_only(function, **named):
    for name, value in named.items():
        if _is_tensor(value):
            raise TypeError(f"ops.{function}: {name} is a tensor of a model being drawn; {function} makes a constant "
                            f"from numbers (a sample axis' size: ops.shape(x)[-1])")


def _size(value, name, function):
    _constant_only(function, **{name: value})
    if value is None:
        raise TypeError(f"ops.{function}: {name} is None: while a model is drawn ops.shape(x) gives None for the batch "
                        f"size; a constant takes sizes known when drawing (in a layer's or model's call being "
                        f"drawn on tensors of numbers, zeros, ones and full of (ops.shape(x)[0], ...) give a tensor "
                        f"of the batch)")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
        raise TypeError(f"ops.{function}: {name} must be an integer 0 or more, got {value!r:.60}")
    return int(value)


def _shape(shape, function):
    if isinstance(shape, numbers.Integral) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    if _is_tensor(shape) or not isinstance(shape, (list, tuple)):
        raise TypeError(f"ops.{function}: shape must be a tuple of sizes such as (2, 3), got {type(shape).__name__}")
    return tuple(_size(n, f"shape[{k}]", function) for k, n in enumerate(shape))


def _dtype(dtype, function):
    """Keras' floatx (float32 unless ``config.set_floatx``) where ``dtype`` is None."""
    return np.dtype(backend.floatx()) if dtype is None else _keras_dtype(dtype, function)


def _integer(value, name, function):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"ops.{function}: {name} must be an integer, got {value!r:.60}")
    return int(value)


def _batch_filled(shape, value, function):
    """Inside a call being drawn, ``shape`` whose first size is None (the batch, Keras code's
    ``ops.zeros((ops.shape(x)[0], dim))``: None while glassnet draws) filled with the number
    ``value``: a tensor of the batch of the first tensor the call was given (glassnet._draw_sources),
    ``zeros_like`` of it summed to one zero per sample, plus the constant; None for any other shape
    (the NumPy constant is made)."""
    if not (isinstance(shape, (list, tuple)) and shape and shape[0] is None):
        return None
    from ._draw_sources import batch_source
    source = batch_source()
    if source is None or getattr(source, "dtype", None) == "string":
        return None
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"ops.{function}: shape {tuple(shape)} holds the batch (None while a model is drawn): the "
                        f"fill value must be a number then, got {type(value).__name__}")
    rest = tuple(_size(n, f"shape[{k}]", function) for k, n in enumerate(shape[1:], 1))
    from . import ops
    from .layers.symbolic import sample_shape_of
    zero = ops.zeros_like(source)
    axes = tuple(range(1, 1 + len(sample_shape_of(source))))
    if axes:
        zero = ops.sum(zero, axis=axes)                     # (batch,): one zero per sample
    if not rest:
        return zero + float(value) if value else zero
    return ops.reshape(zero, (-1,) + (1,) * len(rest)) + np.full((1, *rest), value, np.dtype(backend.floatx()))


# -- constructors: NumPy constants ------------------------------------------------------------------
def zeros(shape, dtype=None):
    """An array of zeros of ``shape`` (a tuple, or one size), float32 unless ``dtype``. Inside a
    model's ``call`` being drawn, a shape whose batch is None (``(ops.shape(x)[0], dim)``) gives a
    tensor of zeros per sample (its batch read at each pass), in the model's dtype (a float ``dtype``
    given is the model's there)."""
    if dtype is None or _dtype(dtype, "zeros").kind == "f":
        filled = _batch_filled(shape, 0.0, "zeros")
        if filled is not None:
            return filled
    return np.zeros(_shape(shape, "zeros"), _dtype(dtype, "zeros"))


def ones(shape, dtype=None):
    """An array of ones of ``shape``, float32 unless ``dtype`` (a batch of None in a drawn call: a
    tensor, as ``zeros``)."""
    if dtype is None or _dtype(dtype, "ones").kind == "f":
        filled = _batch_filled(shape, 1.0, "ones")
        if filled is not None:
            return filled
    return np.ones(_shape(shape, "ones"), _dtype(dtype, "ones"))


def full(shape, fill_value, dtype=None):
    """An array of ``shape`` filled with ``fill_value`` (a number, or an array broadcast to
    ``shape``), float32 unless ``dtype`` (Keras 3.15 on TensorFlow: an integer fill gives float32
    too; a float fill into an integer ``dtype`` truncates toward 0).

    >>> full((2, 3), [1, 2, 3]).tolist()
    [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]
    """
    if (dtype is None or _dtype(dtype, "full").kind == "f") and isinstance(fill_value, numbers.Real):
        filled = _batch_filled(shape, fill_value, "full")      # the batch None in a drawn call
        if filled is not None:
            return filled
    size = _shape(shape, "full")
    _constant_only("full", fill_value=fill_value)
    fill = _array(fill_value, "fill_value", "full").astype(_dtype(dtype, "full"))
    try:
        return np.broadcast_to(fill, size).copy()
    except ValueError:
        raise ValueError(f"ops.full: fill_value of shape {fill.shape} does not broadcast to shape {size}") from None


def eye(N, M=None, k=0, dtype=None):
    """The (N, M) array (M None: N) of ones on diagonal ``k`` (0 the main, > 0 above), zeros
    elsewhere; float32 unless ``dtype``."""
    rows = _size(N, "N", "eye")
    cols = rows if M is None else _size(M, "M", "eye")
    return np.eye(rows, cols, _integer(k, "k", "eye"), dtype=_dtype(dtype, "eye"))


def identity(n, dtype=None):
    """The (n, n) identity matrix, float32 unless ``dtype``."""
    return eye(_size(n, "n", "identity"), dtype=dtype)


def tri(N, M=None, k=0, dtype=None):
    """The (N, M) array of ones on and below diagonal ``k``, zeros above (a causal mask:
    ``tri(T)``); float32 unless ``dtype``."""
    rows = _size(N, "N", "tri")
    cols = rows if M is None else _size(M, "M", "tri")
    return np.tri(rows, cols, _integer(k, "k", "tri"), dtype=_dtype(dtype, "tri"))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced numbers from ``start`` to ``stop`` (``endpoint=False``: ``stop``
    left out); arrays ``start``/``stop`` give one such row per entry, along ``axis``. Keras'
    dtype: that of ``start``, ``stop`` and a Python float (Python numbers: float32; float64
    arrays: float64), or ``dtype`` (an integer one floors the values). ``retstep=True`` returns
    ``(values, step)`` as Keras' (step NaN for fewer than two values with the end point)."""
    _constant_only("linspace", start=start, stop=stop)
    count = _size(num, "num", "linspace")
    arrays = [_array(start, "start", "linspace"), _array(stop, "stop", "linspace")]
    dtype = _result_dtype([start, stop, 1.0], arrays + [np.asarray(1.0, backend.floatx())]) if dtype is None else \
        _keras_dtype(dtype, "linspace")
    # computed in float64 (TensorFlow's linspace computes in the dtype: values may differ by an ulp)
    values, step = np.linspace(*(a.astype(np.float64) for a in arrays), count, endpoint=endpoint, retstep=True,
                               axis=_integer(axis, "axis", "linspace"))
    if dtype.kind in "iu":
        values = np.floor(values)
    values = values.astype(dtype)
    if not retstep:
        return values
    # (Keras on TensorFlow divides integers into float64)
    return values, np.asarray(step, np.float64 if dtype.kind != "f" else dtype)


def meshgrid(*x, indexing="xy"):
    """Coordinate arrays from the 1-D arrays ``x``: a list, one per array, each of shape
    (len(x[1]), len(x[0]), len(x[2]), ...) for ``indexing="xy"`` (Keras' default, Cartesian) or
    (len(x[0]), len(x[1]), ...) for ``"ij"`` (matrix); each keeps its array's dtype."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"ops.meshgrid: indexing must be 'xy' or 'ij', got {indexing!r:.40}")
    _constant_only("meshgrid", **{f"x[{k}]": v for k, v in enumerate(x)})
    arrays = [_array(v, f"x[{k}]", "meshgrid") for k, v in enumerate(x)]
    for k, a in enumerate(arrays):
        if a.ndim != 1:
            raise ValueError(f"ops.meshgrid: x[{k}] must have one axis, got shape {a.shape}")
    return list(np.meshgrid(*arrays, indexing=indexing))


# -- on arrays and tensors ------------------------------------------------------------------------
def _triangle(op, x, k):
    k = _integer(k, "k", op)
    if _is_tensor(x):
        from .layers.tensor_functions import TensorFunction
        return TensorFunction(op, {"k": k})(x)
    array = _array(x, "x", op)
    if array.ndim < 2:
        raise ValueError(f"ops.{op}: x must have two axes or more (its last two are the matrix), got shape "
                         f"{array.shape}")
    return (np.tril if op == "tril" else np.triu)(array, k)


def tril(x, k=0):
    """``x`` with the entries above diagonal ``k`` of its last two axes zeroed (a lower triangle).
    On tensors the last two axes are sample axes; the gradient passes where the entries are kept."""
    return _triangle("tril", x, k)


def triu(x, k=0):
    """``x`` with the entries below diagonal ``k`` of its last two axes zeroed (an upper triangle)."""
    return _triangle("triu", x, k)


def unstack(x, num=None, axis=0):
    """``x`` cut along ``axis`` into its entries: a list of ``x.shape[axis]`` arrays (``num``, if
    given, must be that size). On tensors ``axis`` is a sample axis of known size (Keras' default
    0 is the batch axis: refused), each piece the ``get_item`` node of ``x[:, i]`` (its gradient
    written back to entry i)."""
    axis = _integer(axis, "axis", "unstack")
    if num is not None:
        num = _integer(num, "num", "unstack")
    if _is_tensor(x):
        from .layers.symbolic import sample_shape_of
        from .layers.tensor_ops import operate
        full = (None, *sample_shape_of(x))
        if not -len(full) <= axis < len(full):
            raise ValueError(f"ops.unstack: axis {axis} is outside tensors of shape {full}")
        axis %= len(full)
        if axis == 0:
            raise ValueError(f"ops.unstack: axis 0 is the batch axis of tensors {full}; while a model is drawn "
                             f"unstack a sample axis (1 to {len(full) - 1})")
        size = full[axis] if full[axis] is not None else num
        if size is None:
            raise ValueError(f"ops.unstack: axis {axis} of tensors {full} has no size yet; give num")
        if num is not None and full[axis] is not None and num != full[axis]:
            raise ValueError(f"ops.unstack: num={num} but axis {axis} of tensors {full} has size {full[axis]}")
        return [operate("get_item", x, (slice(None),) * axis + (i,)) for i in range(size)]
    array = _array(x, "x", "unstack")
    if not -array.ndim <= axis < array.ndim:
        raise ValueError(f"ops.unstack: axis {axis} is outside x of shape {array.shape}")
    if num is not None and num != array.shape[axis]:
        raise ValueError(f"ops.unstack: num={num} but axis {axis} of x has size {array.shape[axis]}")
    return [np.take(array, i, axis=axis) for i in range(array.shape[axis])]


def _contracted(axes, ranks):
    """tensordot's ``axes`` as two lists of axes (non-negative), NumPy's forms: an integer n (the
    last n of x1 with the first n of x2) or a pair (axes of x1, axes of x2)."""
    if isinstance(axes, numbers.Integral) and not isinstance(axes, (bool, np.bool_)):
        n = int(axes)
        if not 0 <= n <= min(ranks):
            raise ValueError(f"ops.tensordot: axes={n} must be from 0 to the smaller rank, {min(ranks)}")
        return list(range(ranks[0] - n, ranks[0])), list(range(n))
    if not (isinstance(axes, (list, tuple)) and len(axes) == 2):
        raise TypeError(f"ops.tensordot: axes must be an integer or a pair (axes of x1, axes of x2), got {axes!r:.60}")
    pair = [[a] if isinstance(a, numbers.Integral) else list(a) if isinstance(a, (list, tuple)) else None for a in axes]
    if pair[0] is None or pair[1] is None or len(pair[0]) != len(pair[1]) or not all(
            isinstance(a, numbers.Integral) and not isinstance(a, bool) and -r <= a < r for p, r in zip(pair, ranks)
            for a in p):
        raise ValueError(f"ops.tensordot: axes {axes!r:.60} must pair as many axes of x1 (rank {ranks[0]}) as of x2 "
                         f"(rank {ranks[1]})")
    return [[int(a) % r for a in p] for p, r in zip(pair, ranks)]


def tensordot(x1, x2, axes=2):
    """The sum of the products of ``x1`` and ``x2`` over ``axes`` (NumPy's ``tensordot``): the
    free axes of ``x1``, then those of ``x2``; Keras' dtype (narrow integers computed in floats and
    cast back, as Keras'). On tensors: a tensor and a constant, the batch axis free and first in
    the result (``tensordot(x, W, axes=1)``, or a constant wholly contracted first); the node is
    ``einsum``'s."""
    if _is_tensor(x1) or _is_tensor(x2):
        return _tensordot_node(x1, x2, axes)
    a, b = _arrays("tensordot", ("x1", x1), ("x2", x2))
    pair = _contracted(axes, (a.ndim, b.ndim))
    for i, j in zip(*pair):
        if a.shape[i] != b.shape[j]:
            raise ValueError(f"ops.tensordot: axis {i} of x1 (size {a.shape[i]}) and axis {j} of x2 (size "
                             f"{b.shape[j]}) are paired but differ")
    dtype = a.dtype
    if dtype.kind in "bu" or (dtype.kind == "i" and dtype.itemsize < 4):
        # Keras computes in a float and casts back (int8 products would overflow int8 on the way)
        return np.asarray(np.tensordot(a.astype(np.float64), b.astype(np.float64), pair)).astype(dtype)
    return np.asarray(np.tensordot(a, b, pair))


def _tensordot_node(x1, x2, axes):
    from . import ops
    from .layers.symbolic import sample_shape_of
    if _is_tensor(x1) and _is_tensor(x2):
        ranks = (1 + len(sample_shape_of(x1)), 1 + len(sample_shape_of(x2)))
        if isinstance(axes, numbers.Integral) and axes == ranks[0] == ranks[1]:
            # keras.io's RecommenderNet, ops.tensordot(user_vector, movie_vector, 2): every axis of
            # both, the batch axis too, is one number for the whole batch in Keras (each sample's
            # prediction then depends on the others in its batch); the einsum hint below does not
            # fit these ranks, and what such code means is the per-sample dot product
            raise TypeError(f"ops.tensordot: axes={axes} contracts every axis of x1 and x2, the batch axis too: Keras "
                            f"gives one number for the whole batch, which glassnet's graph cannot (it computes each "
                            f"sample on its own). The dot product of each sample's rows: ops.sum(x1 * x2, axis=-1, "
                            f"keepdims=True) or layers.Dot(axes=-1)([x1, x2]) (its numbers differ from Keras' "
                            f"batch-wide sum)")
        raise TypeError("ops.tensordot: x1 and x2 are both tensors of a model being drawn (the result would hold the "
                        "batch axis twice); per-sample products: ops.einsum('bij,bjk->bik', x1, x2) or ops.matmul")
    tensor_first = _is_tensor(x1)
    tensor = x1 if tensor_first else x2
    from ._call_weights import CallWeight
    if tensor_first and isinstance(x2, CallWeight) and x2.ndim == 2:
        # keras.io's MIL attention layer: ops.tensordot(h, self.v, axes=1), a weight made by
        # add_weight in a drawn call; contracting the tensor's last axis with the weight's first is
        # matmul's product, whose node reads and trains the weight (einsum's takes constants only)
        rank = 1 + len(sample_shape_of(tensor))
        if [list(p) for p in _contracted(axes, (rank, 2))] == [[rank - 1], [0]]:
            return ops.matmul(x1, x2)
    if tensor_first and isinstance(x2, CallWeight) and x2.ndim > 2:
        # keras.io's DenseMoE: ops.tensordot(inputs, self.expert_kernel, axes=1) of a weight (d, u, e):
        # matmul's product with the weight read as (d, u * e), then the free axes back
        rank = 1 + len(sample_shape_of(tensor))
        if [list(p) for p in _contracted(axes, (rank, x2.ndim))] == [[rank - 1], [0]]:
            free = x2.shape[1:]
            product = ops.matmul(x1, ops.reshape(x2, (x2.shape[0], int(np.prod(free)))))
            return ops.reshape(product, (-1, *sample_shape_of(tensor)[:-1], *free))
    constant = _array(x2 if tensor_first else x1, "x2" if tensor_first else "x1", "tensordot")
    full = (None, *sample_shape_of(tensor))
    ranks = (len(full), constant.ndim) if tensor_first else (constant.ndim, len(full))
    pair = _contracted(axes, ranks)
    batch_contracted = 0 in (pair[0] if tensor_first else pair[1])
    if batch_contracted:
        raise ValueError(f"ops.tensordot: axes {axes!r:.40} contract the batch axis of tensors {full}; contract "
                         f"sample axes only")
    if not tensor_first and len(pair[0]) != constant.ndim:
        raise ValueError(f"ops.tensordot: x1, a constant of shape {constant.shape}, keeps free axes, which would come "
                         f"before the batch axis of x2 {full}; put the tensor first (the result's axes then follow "
                         f"it) or contract all of x1's axes")
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    subs = [[next(letters) for _ in range(r)] for r in ranks]
    for i, j in zip(*pair):
        subs[1][j] = subs[0][i]
    out = [s for k, s in enumerate(subs[0]) if k not in pair[0]] + [s for k, s in enumerate(subs[1]) if k not in pair[1]]
    spec = f"{''.join(subs[0])},{''.join(subs[1])}->{''.join(out)}"
    return ops.einsum(spec, x1, x2)


__all__ = ["zeros", "ones", "full", "eye", "identity", "tri", "linspace", "meshgrid", "tril", "triu", "unstack",
           "tensordot"]
