"""Batch vectors: a drawn tensor reduced over the batch axis first, for ``add_loss`` terms.

keras.io's Switch Transformer balances its experts with a term that averages over the batch
before it multiplies::

    density_proxy = ops.mean(router_probs, axis=0)     # (num_experts,): one value per expert
    density = ops.mean(expert_mask, axis=0)
    self.add_loss(ops.mean(density_proxy * density) * ops.cast(num_experts ** 2, "float32"))

``ops.mean(x, axis=0)`` / ``ops.sum(x, axis=0)`` on a tensor of shape (None, *s) is a ``BatchVector``
of shape ``s`` (``(1, *s)`` with keepdims): one value per feature for the whole batch, so it
mixes the samples, which a graph node never does. It is therefore no tensor of the graph: it
lives beside it, as ``added_losses.BatchScalar`` does, and only ``add_loss`` takes what is made of
it. Made of it: +, -, * and / with numbers, constant arrays, batch scalars and other batch
vectors (NumPy's broadcasting); ``ops.mean``/``ops.sum`` over some of its axes (a batch vector)
or all of them (a ``BatchScalar``: a term). Used with a per-sample tensor, given to a layer or any
other function, it is refused by name.

Each batch its value is computed from the kept outputs of the calls it reads (the last batch's
mean is over that batch's rows, as Keras'), and backward gives each of them
``d term / d x_i = g / batch`` (``g``: d term / d mean, one value per feature), the same for every
sample ``i``; ``g`` for a sum.
"""
import numbers

import numpy as np

from .added_losses import TermArithmetic
from .layers.tensor_ops import unbroadcast

_OPS = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.true_divide}
LEAVES = ("batch_mean", "batch_sum")        # a tensor reduced over axis 0 (keepdims: "keepdims")
REDUCTIONS = ("reduce_mean", "reduce_sum")  # a batch vector reduced over some of its axes


def _refused(what):
    return TypeError(f"{what}: ops.mean/ops.sum over axis 0 of a tensor is a batch vector (one value per feature "
                     f"for the whole batch, mixing the samples), which glassnet takes only in an add_loss term: "
                     f"+, -, * and / with numbers, arrays, batch terms and other batch vectors, then ops.mean or "
                     f"ops.sum over its axes (self.add_loss(ops.mean(ops.mean(p, axis=0) * ops.mean(m, axis=0)))); "
                     f"a graph computes each sample on its own, so a batch vector never reaches a layer or a "
                     f"model output")


def _broadcast_shape(a, b, op):
    """NumPy's broadcast of two shapes (None: a size only known per batch, matching any)."""
    out = []
    for x, y in zip(((1,) * len(b) + tuple(a))[-max(len(a), len(b)):], ((1,) * len(a) + tuple(b))[-max(len(a), len(b)):]):
        if x is None or y is None:
            out.append(None if x in (None, 1) and y in (None, 1) else x if y in (None, 1) else y)
        elif x == 1 or y == 1 or x == y:
            out.append(max(x, y) if 1 in (x, y) else x)
        else:
            raise ValueError(f"{op} of batch vectors: shapes {tuple(a)} and {tuple(b)} do not broadcast")
    return tuple(out)


class BatchVector(TermArithmetic):
    """One node of a batch vector's expression: ``op`` a leaf (``batch_mean``/``batch_sum`` of
    ``tensor``, ``keepdims``), a ``constant`` (``value``, an array), a ``term`` (a BatchScalar used
    as a batch vector of shape ()), add/subtract/multiply/divide of two ``operands``, or
    ``reduce_mean``/``reduce_sum`` of one over ``axis`` (a tuple of its axes). ``shape``: its
    shape, without a batch axis (None where the tensor's size is open)."""

    def __init__(self, op, shape, operands=(), tensor=None, value=None, term=None, axis=None, keepdims=False):
        self.op, self.shape, self.operands = op, tuple(shape), tuple(operands)
        self.tensor, self.value_, self.term, self.axis, self.keepdims = tensor, value, term, axis, keepdims

    # -- arithmetic ------------------------------------------------------------------------------
    def _binary(self, op, other, reverse=False):
        given, other = other, operand(other, op)
        if other is None:
            raise TypeError(f"unsupported operand: {op} of a batch vector and {type(given).__name__} {given!r:.60}: "
                            f"a batch vector takes numbers, arrays, batch terms and other batch vectors")
        return combine(op, other, self) if reverse else combine(op, self, other)

    def __neg__(self):
        return combine("multiply", constant(-1.0), self)

    def __array__(self, *args, **kwargs):       # a layer or another ops function given it
        raise _refused("a batch vector used as an array")

    def __bool__(self):
        raise _refused("a batch vector used as a truth value")

    def __len__(self):
        raise _refused("len() of a batch vector")

    def __repr__(self):
        if self.op in LEAVES:
            return f"{self.op}({self.tensor!r:.60}{', keepdims' if self.keepdims else ''})"
        if self.op == "constant":
            return repr(self.value_.tolist())
        if self.op == "term":
            return repr(self.term)
        if self.op in REDUCTIONS:
            return f"{self.op}({self.operands[0]!r}, axis={self.axis})"
        return f"{self.op}({self.operands[0]!r}, {self.operands[1]!r})"

    def reduce(self, op, axis=None, keepdims=False):
        """``ops.mean``/``ops.sum`` (``op``) of this vector over ``axis`` (None: all): a batch
        vector, or a BatchScalar when nothing is left (a term for add_loss)."""
        rank = len(self.shape)
        if axis is None:
            axes = tuple(range(rank))
        else:
            given = (axis,) if isinstance(axis, numbers.Integral) and not isinstance(axis, bool) else axis
            if not isinstance(given, (tuple, list)) or not all(
                    isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in given):
                raise TypeError(f"ops.{op} of a batch vector: axis must be an integer, a tuple of them or None, "
                                f"got {axis!r:.60}")
            if any(not -rank <= a < rank for a in given):
                raise ValueError(f"ops.{op} of a batch vector of shape {self.shape} (the batch axis already reduced): "
                                 f"axis must be in [{-rank}, {rank}), got {axis!r}")
            axes = tuple(sorted({a % rank for a in given}))
        shape = tuple(1 if k in axes else n for k, n in enumerate(self.shape)) if keepdims else \
            tuple(n for k, n in enumerate(self.shape) if k not in axes)
        node = BatchVector("reduce_" + op, shape, (self,), axis=axes, keepdims=bool(keepdims))
        return scalar(node) if shape == () and not keepdims else node

    # -- the graph's side ------------------------------------------------------------------------
    def leaves(self):
        """The reductions this vector reads: its batch leaves, and the leaves of batch scalars in it."""
        if self.op in LEAVES:
            return [self]
        if self.op == "term":
            return self.term.leaves()
        return [leaf for node in self.operands for leaf in node.leaves()]

    def value(self, values):
        """This node's array on the batch: ``values`` {id(leaf): the array of its tensor}."""
        if self.op in LEAVES:
            a = values[id(self)]
            return (a.mean if self.op == "batch_mean" else a.sum)(axis=0, keepdims=self.keepdims)
        if self.op in REDUCTIONS:
            v = self.operands[0].value(values)
            return (v.mean if self.op == "reduce_mean" else v.sum)(axis=self.axis, keepdims=self.keepdims)
        if self.op == "term":
            return self.term.value(values)        # a Python float: weak beside the arrays
        if self.op == "constant":
            return self.value_
        return _OPS[self.op](*self._operand_values(values))

    def _operand_values(self, values):
        first, second = self.operands
        a, b = first.value(values), second.value(values)
        return _weak(first, a, b), _weak(second, b, a)

    def backward(self, values, grad, out):
        """Add ``d term / d leaf`` to ``out[id(leaf)]`` for each leaf, ``grad`` being d term /
        d (this node's value); a batch scalar inside gets the summed ``grad`` (its coefficients)."""
        if self.op in LEAVES:
            out[id(self)] = out[id(self)] + grad if id(self) in out else grad
        elif self.op == "term":
            self.term.coefficients(values, float(np.sum(grad)), out)
        elif self.op in REDUCTIONS:
            v = self.operands[0].value(values)
            g = grad if self.keepdims else np.expand_dims(grad, self.axis)
            g = np.broadcast_to(g, v.shape)
            if self.op == "reduce_mean":
                g = g / _dtype_of(v).type(max(1, int(np.prod([v.shape[a] for a in self.axis]))))
            self.operands[0].backward(values, g, out)
        elif self.op in _OPS:
            first, second = self.operands
            a, b = self._operand_values(values)
            if self.op in ("add", "subtract"):
                ga, gb = grad, (grad if self.op == "add" else -grad)
            elif self.op == "multiply":
                ga, gb = grad * b, grad * a
            else:
                ga, gb = grad / b, -grad * a / (b * b)
            first.backward(values, unbroadcast(np.asarray(ga), np.shape(a)), out)
            second.backward(values, unbroadcast(np.asarray(gb), np.shape(b)), out)

    def gradient(self, a, coefficient, dtype):
        """A leaf's gradient on its tensor's batch ``a``: ``coefficient`` (d term / d this leaf's
        value) spread over every sample, divided by the batch size for a mean."""
        xp = _array_module(a)
        g = xp.asarray(coefficient, dtype=dtype)
        if not self.keepdims:
            g = g[None]
        if self.op == "batch_mean":
            g = g / xp.asarray(len(a), dtype=dtype)
        return xp.ascontiguousarray(xp.broadcast_to(g, a.shape), dtype=dtype)


def _array_module(a):
    from . import backend
    return backend.get_array_module(a)


def _dtype_of(v):
    return np.asarray(v).dtype


def _weak(node, v, other):
    """``v`` (node's value) in the dtype of ``other``'s when node is a constant: Keras' constants are
    weak, as a Python number is (float32 vectors stay float32; no float64 up-cast)."""
    if node.op == "constant" and hasattr(other, "dtype") and other.dtype.kind == "f":
        return v.astype(other.dtype)
    return v


def constant(value):
    """A number or array beside batch vectors (float64 here, cast to the vectors' dtype when read)."""
    array = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"add_loss: a constant of a batch-vector term must be finite, got {value!r:.60}")
    return BatchVector("constant", array.shape, value=array)


def scalar(node):
    """The BatchScalar of a batch vector reduced to one number (a term for add_loss)."""
    from .added_losses import BatchScalar
    return BatchScalar("vector", vector=node)


def operand(value, op):
    """``value`` as a node beside a batch vector (None: not one: the operator gives NotImplemented)."""
    from .added_losses import BatchScalar
    from .layers.symbolic import SymbolicTensor
    from .layers.input import InputLayer
    if isinstance(value, BatchVector):
        return value
    if isinstance(value, BatchScalar):
        if value.op == "vector":
            return value.vector             # (it reduced a vector to shape (): that node itself)
        return BatchVector("term", (), term=value)
    if isinstance(value, (SymbolicTensor, InputLayer)):
        raise _refused(f"{op} of a batch vector and the per-sample tensor {value!r:.80}")
    if isinstance(value, (numbers.Real, np.ndarray, np.generic, list, tuple)) and not isinstance(value, bool):
        array = np.asarray(value)
        if array.dtype.kind not in "fiu":
            raise TypeError(f"{op} of a batch vector and {type(value).__name__}: a constant must hold numbers, "
                            f"got dtype {array.dtype}")
        return constant(array)
    if hasattr(value, "__cuda_array_interface__"):
        from . import backend
        return constant(backend.to_numpy(value))
    return None


def combine(op, a, b):
    """``a op b``, each a batch vector node: a batch vector of the broadcast shape."""
    return BatchVector(op, _broadcast_shape(a.shape, b.shape, op), (a, b))


def reduce_tensor(op, tensor, axis, keepdims):
    """``ops.mean``/``ops.sum`` (``op``) of a drawn ``tensor`` over ``axis`` holding the batch axis
    (0, or -rank): a batch vector, reduced further over the other axes named; a BatchScalar when
    no axis is left (the same number as ``ops.mean(tensor)``)."""
    from .added_losses import reduce_tensor as whole
    sample_shape = sample_shape_of(tensor)
    rank = 1 + len(sample_shape)
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    if any(isinstance(a, bool) or not isinstance(a, numbers.Integral) or not -rank <= a < rank for a in axes):
        raise ValueError(f"ops.{op}: axis must hold integers in [{-rank}, {rank}) for a tensor of shape "
                         f"{(None, *sample_shape)}, got {axis!r}")
    axes = sorted({a % rank for a in axes})
    if not keepdims and len(axes) == rank:
        return whole(op, tensor)            # every axis: the batch term add_loss already takes
    if not keepdims and not sample_shape:
        return whole(op, tensor)
    leaf = BatchVector("batch_" + op, ((1,) if keepdims else ()) + sample_shape, tensor=tensor, keepdims=bool(keepdims))
    rest = tuple(a if keepdims else a - 1 for a in axes if a != 0)
    return leaf.reduce(op, rest, keepdims) if rest else leaf


def sample_shape_of(tensor):
    """One sample's shape of a drawn tensor or an Input (their ``shape`` has the batch axis first)."""
    return tuple(tensor.sample_shape)


def is_vector(value):
    return isinstance(value, BatchVector)
