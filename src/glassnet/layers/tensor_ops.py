"""Arithmetic and indexing on symbolic tensors: ``inputs / 255.0``, ``x + positions``, ``x[:, 0]``,
``a * b`` while a model is drawn (Keras 3's operations on a ``KerasTensor``).

Each Python operator on an ``Input`` or a drawn tensor (``SymbolicTensor``) computes nothing: it
calls a ``TensorOp`` layer, one node of the graph, as Keras 3 makes an operation node
(``true_divide``, ``add``, ``get_item`` in its summary). The other operand is a constant (a
Python number or a NumPy array) or another tensor:

    inputs = gn.Input((5, 4))
    x = inputs / 255.0                     # TensorOp("true_divide", constant=255.0)
    x = x + positions                      # positions: an array of shape (5, 4), broadcast on each sample
    cls = x[:, 0]                          # TensorOp("get_item", index=(slice(None), 0)): (batch, 4)
    y = cls * gn.layers.Dense(4)(cls)      # two tensors: TensorOp("multiply")([cls, dense])

Shapes broadcast as NumPy's, batch axis first: a constant (5, 4) against tensors (batch, 5, 4),
a constant with a batch axis of size 1, (1, 5, 4), too; one that would change the batch axis is
refused. Two tensors broadcast each sample axis (the batch axis is theirs alike). Backward
hands each tensor the gradient of its operand, summed over the axes broadcasting grew.

Masks pass an op with a constant that keeps the tensor's shape (each entry on its own), and a
sum or difference of two tensors carrying one same mask (a residual); a product or quotient of
two tensors drops them, as Keras 3.15's operations do; the others (an index, a sum of which one
tensor alone carries a mask, a constant growing the shape) refuse a mask by name.
"""
import numbers

import numpy as np

from .. import backend
from .._call_weights import CallWeight, from_config as weight_from_config
from .base import Layer

# op -> what it computes, for docstrings and messages; the names are Keras 3's operations'
OPS = {"add": "x + c", "subtract": "x - c", "multiply": "x * c", "true_divide": "x / c",
       "power": "x ** p (p a number)", "negative": "-x", "absolute": "abs(x)", "get_item": "x[index]"}
BINARY = ("add", "subtract", "multiply", "true_divide")
UNARY = ("negative", "absolute")
# NumPy's functions that a NumPy operator on a tensor calls (``positions + x``): the ops they are
UFUNCS = {np.add: "add", np.subtract: "subtract", np.multiply: "multiply", np.true_divide: "true_divide",
          np.power: "power", np.negative: "negative", np.absolute: "absolute"}


class ConstantOperandNode:
    """What a graph node of an operation on tensors does alike, whether a Python operator made it
    (``TensorOp``) or a ``glassnet.ops`` function (``TensorFunction``): named as Keras names the
    operation (``op``), built by checking the shapes it is given, a constant operand cast once to
    the layer's dtype, and a mask passed on where ``mask_refusal`` gives no reason not to. Mixed
    into a ``Layer`` (itself no layer: it is in no catalog)."""

    @property
    def name_base(self):
        """The name a model gives it, Keras 3's operation's: ``true_divide``, ``mean``, ..."""
        return self.op

    # -- shapes -------------------------------------------------------------------------------
    def build(self, input_shape):
        self.output_shape(input_shape)            # refuses what it cannot take, by name
        self.input_shape = [tuple(s) for s in input_shape] if self.merges else tuple(input_shape)
        if isinstance(self.constant, np.ndarray):
            self._constant = constant_in_dtype(self, self.constant)
        self.built = True

    # -- masks (layers/masking.py) --------------------------------------------------------------
    # drawn in the call of a block taking Keras' masks (glassnet._block_masks): the node drops any
    # mask, as Keras' operations do, and the block's compute_mask says its output's
    drops_masks = False

    def _take_drops_masks(self, drops_masks):
        if drops_masks is None:
            from .._block_masks import drawing_keras_masks
            drops_masks = drawing_keras_masks()
        if not isinstance(drops_masks, (bool, np.bool_)):
            raise TypeError(f"{type(self).__name__}: drops_masks must be True or False, got {drops_masks!r:.40}")
        if drops_masks:
            self.drops_masks = True

    def passes_mask(self, within_steps):
        return not self.drops_masks and self.mask_refusal is None

    # -- computing ------------------------------------------------------------------------------
    def _value(self, xp):
        """The constant in the layer's dtype, on the input's device (a number stays a number); a
        weight's (``add_weight`` in a drawn call: glassnet._call_weights) live value."""
        if isinstance(self.constant, CallWeight):
            return self.constant.read(xp)
        return self.constant if not isinstance(self.constant, np.ndarray) else xp.asarray(self._constant)

    @property
    def weight_operand(self):
        """Whether the constant is a weight (``add_weight`` in a drawn call)."""
        return isinstance(self.constant, CallWeight)

    def _weight_gradient(self, grad):
        """Add ``grad``, the gradient with respect to the whole operand, to the weight's (a weight
        operand only): summed over the batch and the axes broadcasting grew."""
        if isinstance(self.constant, CallWeight):
            shape = self.constant.shape
            self.constant.add_gradient(unbroadcast(grad, shape) if grad.shape != shape else grad)

    def _constant_config(self):
        if isinstance(self.constant, CallWeight):
            return self.constant.config()
        return self.constant.tolist() if isinstance(self.constant, np.ndarray) else self.constant


class TensorOp(ConstantOperandNode, Layer):
    """One operator on tensors while a model is drawn (what ``x + 1``, ``x[:, 0]``, ``a * b`` make).

    You rarely make one yourself: Python's operators on an ``Input`` or a drawn tensor do. No
    weights; a constant lives in the config (a JSON number or nested list), so model files keep it.

    Parameters
    ----------
    op : {"add", "subtract", "multiply", "true_divide", "power", "negative", "absolute", "get_item"}
    constant : number or array-like, optional
        The other operand of add, subtract, multiply, true_divide (None: a second tensor, the layer
        is then called on a list ``[a, b]``) and the exponent of power (a number). Broadcast
        against the batch-first shape ``(batch, *sample)``; cast to the layer's dtype.
    index : tuple, optional
        get_item's index: ints, slices, None and Ellipsis (a list in JSON: ``{"slice": [start,
        stop, step]}`` for a slice, ``"..."`` for Ellipsis). The batch axis takes ``:`` only.
    reverse : bool
        The constant on the left: ``c - x``, ``c / x``.

    Shapes: (batch, *sample) -> (batch, *broadcast or indexed sample); two inputs broadcast.

    Example
    -------
    >>> import numpy as np
    >>> TensorOp("true_divide", constant=2.0)(np.array([[1.0, 4.0]])).tolist()
    [[0.5, 2.0]]
    >>> TensorOp("get_item", index=(slice(None), -1))(np.arange(6.0).reshape(2, 3)).tolist()
    [2.0, 5.0]
    """

    merges = False      # True for two tensors (set per layer): forward then takes [a, b]
    reads_input_masks = False       # (of two tensors) its values ignore masks: see mask_rule

    def __init__(self, op, constant=None, index=None, reverse=False, drops_masks=None, **kwargs):
        super().__init__(**kwargs)
        self._take_drops_masks(drops_masks)
        if not isinstance(op, str) or op not in OPS:
            raise ValueError(f"TensorOp: op must be one of {', '.join(OPS)}, got {op!r:.60}")
        self.op = op
        if not isinstance(reverse, (bool, np.bool_)):
            raise TypeError(f"TensorOp: reverse must be True or False, got {reverse!r:.40}")
        if op in UNARY + ("get_item",) and constant is not None:
            raise ValueError(f"TensorOp: {op} takes no constant, got {constant!r:.60}")
        if op != "get_item" and index is not None:
            raise ValueError(f"TensorOp: index is get_item's, not {op}'s")
        if reverse and op not in ("subtract", "true_divide"):
            raise ValueError(f"TensorOp: reverse (the constant on the left) is for subtract and true_divide, not {op}")
        if op == "power" and not _is_number(constant):
            raise TypeError(f"TensorOp: power takes a number exponent (x ** 2), got {constant!r:.60}")
        self.constant = _constant(constant)
        self.reverse = bool(reverse) and constant is not None
        self.index = _index(index) if op == "get_item" else None
        if op == "get_item" and index is None:
            raise ValueError("TensorOp: get_item needs an index, e.g. (slice(None), 0) for x[:, 0]")
        self.merges = op in BINARY and constant is None
        if self.merges and self.input_shape is not None:
            raise ValueError(f"TensorOp: {op} of two tensors takes no input_shape: its inputs are the tensors")

    # -- shapes (name_base, build: ConstantOperandNode) -----------------------------------------
    def check_input_shape(self, sample_shape):
        if not self.merges:
            return super().check_input_shape(sample_shape)
        if len(sample_shape) != 2 or (self.input_shape is not None and any(
                len(s) != len(b) for s, b in zip(sample_shape, self.input_shape))):
            raise ValueError(f"{self.describe()}: expected two inputs of samples like {self.input_shape}, "
                             f"got {[tuple(s) for s in sample_shape]}")

    def output_shape(self, input_shape):
        if self.merges:
            if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2 \
                    or not all(isinstance(s, (list, tuple)) for s in input_shape):
                raise ValueError(f"{self.describe()}: {self.op} of two tensors takes a list of two, got {input_shape!r:.80}")
            a, b = (tuple(s) for s in input_shape)
            if len(a) != len(b):
                raise ValueError(f"{self.describe()}: {self.op} of tensors of samples {a} and {b}: both need one "
                                 f"number of axes, so that their batch axes meet (add axes of size 1 by "
                                 f"indexing, x[:, None])")
            return _broadcast(a, b, lambda: f"{self.describe()}: {self.op} of tensors of samples {a} and {b}")
        shape = tuple(input_shape)
        if self.op == "get_item":
            return _indexed(shape, self.index, self.describe())
        if self.op in UNARY or self.op == "power" or np.ndim(self.constant) == 0:
            return shape
        c = np.shape(self.constant)
        what = lambda: f"{self.describe()}: a constant of shape {c} against tensors of shape {(None, *shape)}"
        if len(c) > len(shape) + 1 or (len(c) == len(shape) + 1 and c[0] != 1):
            raise ValueError(f"{what()}: broadcast would change the batch axis; the constant may have the "
                             f"sample's shape {shape} (or fewer axes, or a batch axis of size 1)")
        # NumPy aligns the shapes on their last axes: a (4,) constant is (1, 4) against samples (3, 4)
        c = c[-len(shape):] if len(c) > len(shape) else (1,) * (len(shape) - len(c)) + c
        return _broadcast(shape, c, what)

    # -- masks (layers/masking.py) --------------------------------------------------------------
    @property
    def mask_refusal(self):
        """None where a mask passes (an op with a constant keeping the shape); else why not."""
        if self.drops_masks:
            return None
        if self.op == "get_item":
            return "an index may move or drop the steps a mask marks; index before the mask is made"
        keeps = self.input_shape is None or self.merges or self.output_shape(self.input_shape) == tuple(self.input_shape)
        return None if keeps else "its constant grows the tensor's shape, which the mask does not follow"

    def mask_rule(self, incoming):
        """A sum or difference of two tensors carrying one same mask (a residual, keras.io's
        ``inputs + attention_output`` after a masked embedding) passes it on, as ``Add`` and
        ``Subtract`` pass one mask meeting itself (their values are those of the operators). A
        product or quotient of two tensors drops any mask, as Keras 3.15's operations do (its
        ``a * b`` carries no ``_keras_mask``: the layers after read the padding, the loss scores
        it): None. A sum or difference of which one operand alone, or each with its own, carries a
        mask is refused: glassnet passes a residual's mask where Keras drops it, so that a sum
        dropping one would be read as keeping it (docs/layers.md, Masks)."""
        if self.drops_masks or self.op in ("multiply", "true_divide"):
            return None
        if self.op in ("add", "subtract") and None not in incoming and len(set(incoming)) == 1:
            return "or"         # (masking._plan_merge: the OR of one mask with itself, that mask)
        if None in incoming:
            # Add()([a, b]) would give no mask here (Keras' rule): the padding read as data, silently
            raise ValueError(f"{self.describe()}: {self.op} of two tensors, only one of which carries a mask; a "
                             f"merge layer (Add) would give none, as Keras' does, and the padding would be read as "
                             f"data. Add a constant or a weight of your own instead, which keeps the mask "
                             f"(keras.io's PositionalEmbedding: x + self.positions[:steps], the table made with "
                             f"self.add_weight; docs/layers.md, Masks)")
        raise ValueError(f"{self.describe()}: {self.op} of two tensors, and a mask reaches it; masks are not "
                         f"combined by arithmetic on tensors (Add, Multiply, ... merge masked inputs)")

    # -- computing (_value: ConstantOperandNode) -----------------------------------------------
    def forward(self, x, training=False):
        if self.merges:
            a, b = x
            try:
                np.broadcast_shapes(a.shape, b.shape)
            except ValueError:
                raise ValueError(f"{self.describe()}: {self.op} of batches of shapes {a.shape} and {b.shape}, "
                                 f"which do not broadcast") from None
            self._a, self._b = a, b
            return _apply(self.op, a, b)
        self._x = x
        if self.op == "get_item":
            return x[self.index]
        if self.op == "negative":
            return -x
        if self.op == "absolute":
            return abs(x)
        c = self._value(backend.get_array_module(x))
        return _apply(self.op, c, x) if self.reverse else _apply(self.op, x, c)

    def backward(self, grad_output):
        g = grad_output
        if self.merges:
            a, b = self._a, self._b
            if self.op in ("add", "subtract"):
                grads = (g, -g if self.op == "subtract" else g)
            elif self.op == "multiply":
                grads = (g * b, g * a)
            else:       # d(a / b) = 1 / b and -a / b^2
                grads = (g / b, -g * a / (b * b))
            return [unbroadcast(grads[0], a.shape), unbroadcast(grads[1], b.shape)]
        x = self._x
        xp = backend.get_array_module(x)
        if self.op == "get_item":
            grad = xp.zeros_like(x)
            grad[self.index] = g        # basic indexing: each entry of x taken at most once
            return grad
        if self.op == "negative":
            return -g
        if self.op == "absolute":
            return g * xp.sign(x)
        c = self._value(xp)
        if isinstance(self.constant, CallWeight):       # d out / d c, to the weight's gradient
            if self.op == "add":
                dc = g
            elif self.op == "subtract":
                dc = g if self.reverse else -g
            elif self.op == "multiply":
                dc = g * x
            else:           # d(x / c) = -x / c^2, d(c / x) = 1 / x
                dc = g / x if self.reverse else -g * x / (c * c)
            self._weight_gradient(dc)
        if self.op == "power":     # (x ** 0 is 1 everywhere: gradient 0, not 0 * x ** -1, nan at 0)
            grad = g * (c * x ** (c - 1)) if c != 0 else xp.zeros_like(g)
        elif self.op == "add":
            grad = g
        elif self.op == "subtract":
            grad = -g if self.reverse else g
        elif self.op == "multiply":
            grad = g * c
        else:       # true_divide: d(x / c) = 1 / c, d(c / x) = -c / x^2
            grad = -g * c / (x * x) if self.reverse else g / c
        # a constant that grew the shape (tensors (batch, 1) times (5,)): sum over what it grew
        return unbroadcast(grad, x.shape)

    def get_config(self):
        config = super().get_config()
        if self.merges:
            config.pop("input_shape", None)       # a list of shapes: the model's graph says them
        return {**config, "op": self.op, "constant": self._constant_config(),
                "index": None if self.index is None else [_index_item_json(i) for i in self.index],
                "reverse": self.reverse, **({"drops_masks": True} if self.drops_masks else {})}


def _apply(op, a, b):
    if op == "add":
        return a + b
    if op == "subtract":
        return a - b
    if op == "multiply":
        return a * b
    if op == "power":
        return a ** b
    return a / b


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) or (
        isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf")


def constant_in_dtype(layer, constant):
    """``constant`` (an array) cast to ``layer``'s dtype (float32 by default), as the layer computes
    with it; one too large for that dtype is refused by name rather than turned into inf. Also
    TensorFunction's (tensor_functions.py)."""
    with np.errstate(over="ignore"):
        value = constant.astype(layer.dtype or backend.resolve_dtype(None))
    if np.isfinite(constant).all() and not np.isfinite(value).all():
        raise ValueError(f"{layer.describe()}: the constant does not fit in {np.dtype(value.dtype).name}")
    return value


def _constant(value):
    """A constant operand as kept: a Python number, or a NumPy array (a copy) of finite numbers."""
    if value is None or isinstance(value, CallWeight):
        return value
    weight = weight_from_config(value)          # a weight operand, read from a config
    if weight is not None:
        return weight
    if _is_number(value) and not isinstance(value, np.ndarray):
        value = value.item() if isinstance(value, np.generic) else value
        if not np.isfinite(value):
            raise ValueError(f"TensorOp: the constant must be finite, got {value!r}")
        return value
    if hasattr(value, "shape") and not isinstance(value, np.ndarray):
        value = backend.to_numpy(value)         # a CuPy array
    array = np.array(value) if isinstance(value, (np.ndarray, list, tuple)) else None
    if array is None or array.dtype.kind not in "biuf":
        held = f" of {array.dtype}" if array is not None else ""
        raise TypeError(f"TensorOp: the constant must be a number or an array of numbers (a NumPy array, a "
                        f"list), got {type(value).__name__}{held}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError("TensorOp: the constant must be finite; it holds inf or nan")
    return array


def _broadcast(a, b, what):
    """NumPy's broadcast of two sample shapes of one length (None: any size)."""
    out = []
    for x, y in zip(a, b):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        elif x is None or y is None:        # the other's size; the data's is checked in forward
            out.append(y if x is None else x)
        else:
            raise ValueError(f"{what()}: sizes {x} and {y} do not broadcast (each axis equal, or 1 on one side)")
    return tuple(out)


def unbroadcast(grad, shape):
    """``grad`` summed over the axes broadcasting grew, to ``shape`` (the operand's own)."""
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    grown = tuple(k for k, n in enumerate(shape) if n == 1 and grad.shape[k] != 1)
    return grad.sum(axis=grown, keepdims=True) if grown else grad


# -- indexing ------------------------------------------------------------------------------------
def _index(index):
    """get_item's index as a tuple of ints, slices, None and Ellipsis (from Python's or JSON's form)."""
    items = list(index) if isinstance(index, (tuple, list)) else [index]
    out = []
    for item in items:
        if isinstance(item, dict) and set(item) == {"slice"}:
            item = slice(*item["slice"])
        elif isinstance(item, str) and item == "...":
            item = Ellipsis
        if isinstance(item, slice):
            for bound in ("start", "stop", "step"):
                part = getattr(item, bound)
                if part is not None and (isinstance(part, (bool, np.bool_)) or not isinstance(part, numbers.Integral)):
                    raise TypeError(f"TensorOp: a slice's {bound} must be an int or None, got {part!r:.40}")
            if item.step == 0:
                raise ValueError("TensorOp: a slice's step cannot be zero")
            item = slice(*(None if p is None else int(p) for p in (item.start, item.stop, item.step)))
        elif isinstance(item, numbers.Integral) and not isinstance(item, (bool, np.bool_)):
            item = int(item)
        elif item is not None and item is not Ellipsis:
            raise TypeError(f"TensorOp: an index takes ints, slices, None and ... (basic indexing), got "
                            f"{type(item).__name__} {item!r:.40}; arrays, lists and booleans (NumPy's advanced "
                            f"indexing) are not supported")
        out.append(item)
    if sum(item is Ellipsis for item in out) > 1:
        raise ValueError("TensorOp: an index can have one ... (Ellipsis) only")
    return tuple(out)


def _index_item_json(item):
    if isinstance(item, slice):
        return {"slice": [item.start, item.stop, item.step]}
    return "..." if item is Ellipsis else item


def _indexed(shape, index, who):
    """The sample shape of ``x[index]`` for tensors (batch, *shape); refuses an index on the batch axis."""
    full = (None, *shape)
    taking = sum(item is not None and item is not Ellipsis for item in index)
    if taking > len(full):
        raise ValueError(f"{who}: an index of {taking} axes for tensors of {len(full)} (batch, *{shape})")
    items = []
    for item in index:      # Ellipsis: as many ':' as the axes the other items leave
        items += [slice(None)] * (len(full) - taking) if item is Ellipsis else [item]
    items += [slice(None)] * (len(full) - sum(item is not None for item in items))
    first = next(k for k, item in enumerate(items) if item is not None)
    if first != 0 or items[0] != slice(None):
        raise ValueError(f"{who}: the index {_shown(index)} {'adds an axis before' if first else 'indexes'} the "
                         f"batch axis (the samples), which takes ':' alone: x[:, 0] is each sample's first row")
    out, axis = [], 0
    for item in items:
        if item is None:
            out.append(1)
            continue
        size = full[axis]
        axis += 1
        if isinstance(item, int):
            if size is not None and not -size <= item < size:
                raise ValueError(f"{who}: index {item} is out of range for an axis of size {size} in {full}")
        else:
            out.append(None if size is None else len(range(*item.indices(size))))
    if 0 in out:
        raise ValueError(f"{who}: the index {_shown(index)} leaves no entries (a sample of shape {tuple(out[1:])})")
    return tuple(out[1:])


def _shown(index):
    def one(item):
        if isinstance(item, slice):
            parts = ["" if p is None else str(p) for p in (item.start, item.stop, item.step)]
            return ":".join(parts[:2] if item.step is None else parts)
        return "..." if item is Ellipsis else str(item)
    return "[" + ", ".join(one(item) for item in index) + "]"


# -- the operators (layers/input.py's TensorOperators calls these) ---------------------------------
def operate(op, *operands):
    """``op`` on ``operands`` (one, or two with a constant on either side or two tensors): the
    symbolic output of a new TensorOp's call. ``"get_item"``: ``(tensor, index)``."""
    from .symbolic import SymbolicTensor
    from .input import InputLayer

    def tensor(value):
        return isinstance(value, (SymbolicTensor, InputLayer))
    if op in UNARY:
        return TensorOp(op)(operands[0])
    if op == "get_item":
        index = operands[1]
        if isinstance(index, list) or (isinstance(index, np.ndarray)):
            raise TypeError(f"{operands[0]!r}[...]: an index takes ints, slices, None and ... (basic indexing); "
                            f"a list or array (NumPy's advanced indexing) is not supported")
        # x[0] and x[None] come as the item itself, x[:, 0] as a tuple
        return TensorOp("get_item", index=index if isinstance(index, tuple) else (index,))(operands[0])
    left, right = operands
    if op == "power" and not (tensor(left) and _is_number(right)):
        # x ** y, 2 ** x, x ** array: ops.power's node (layers/tensor_math.py); x ** 2 stays a TensorOp
        from .. import ops
        return ops.power(left, right)
    if tensor(left) and tensor(right):
        return TensorOp(op)([left, right])
    if tensor(left):
        return TensorOp(op, constant=right)(left)
    # c + x, c * x: the same op, constant on the right; c - x, c / x: reversed
    return TensorOp(op, constant=left, reverse=op in ("subtract", "true_divide"))(right)


def is_operand(value):
    """Whether ``value`` can be an operand: a tensor, a number or an array of them (for anything
    else the operator returns NotImplemented, and Python says which types it cannot combine)."""
    from .symbolic import SymbolicTensor
    from .input import InputLayer
    return isinstance(value, (SymbolicTensor, InputLayer, CallWeight, numbers.Real, np.ndarray, np.generic, list,
                              tuple)) \
        or hasattr(value, "__cuda_array_interface__")

