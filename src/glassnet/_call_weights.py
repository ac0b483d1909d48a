"""Weights of a model drawn from its ``call`` (a ``glassnet.Model`` subclass, or a ``glassnet.Layer``
subclass with ``call`` and no ``forward``: glassnet._call_layers), made with ``self.add_weight`` in
``build`` (or ``__init__``) and used in ``call`` through Python operators and ``glassnet.ops``, as
the Keras guide's layer::

    class Linear(gn.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros")
        def call(self, inputs):
            return ops.matmul(inputs, self.w) + self.b

``call`` runs once, on symbolic tensors, so ``self.w`` cannot be an array there (it would be drawn
as a constant that never trains). ``add_weight`` records the weight in the block's ``CallWeights``,
a layer of the graph holding all of the block's own weights (Keras' order: the trainable ones as
made, then the others), and returns a ``CallWeight``, a handle. The operator and ops nodes take
a handle where they take a constant (``TensorOp``'s and ``TensorFunction``'s ``constant``: ``+ - *
/``, ``matmul``, ``maximum``, ``minimum``, the kernel of ``conv``, ``depthwise_conv``, ``separable_conv``,
``conv_transpose``, and ``w[index]`` of basic indexing first): at each
forward they read its value from ``CallWeights.params`` (so training, ``set_weights`` and loading
move it); at backward they add the gradient of their output with respect to it, summed over the
batch and the axes broadcasting grew, into ``CallWeights.grads``. Any other use (``ops.einsum``,
``ops.take``, NumPy on it) is refused by name (``CallWeight.__array__``).

``CallWeights`` is called on each of the block's inputs, passing them on unchanged (``forward`` and
``backward`` are identities): so it is a node of the graph, before every node using its weights,
and its forward zeroes the gradients those nodes' backwards then add to (each pass, each call
of the block: a block called twice sums its calls' gradients, as a shared layer's). Its weights are
made when the model builds it, in the model's dtype, with the model's seed; saved, loaded,
counted, listed, frozen as any layer's; a node's handle is written in its config by name
(``{"call_weight": [layer name, weight name, shape, index]}``) and found again when the graph is
read back (``link``).
"""
import threading

import numpy as np

from . import constraints, initializers, regularizers
from .layers.base import Layer

# Keras 3.15's add_weight arguments glassnet takes at their defaults only
_KERAS_DEFAULTS = {"autocast": True, "aggregation": "none", "overwrite_with_gradient": False}


class CallWeight:
    """What ``add_weight`` returns in a model drawn from ``call``: a handle on one weight of its
    ``CallWeights`` (``owner``, weight ``name``), of ``shape``; ``index``: basic indexing taken
    (``self.pos[:10]``), or None. Used in ``call`` with a tensor in an operator or ``ops.matmul``,
    ``ops.maximum``, ``ops.minimum``, or as the kernel of a convolution op (see the module docstring). ``numpy()`` gives its value now;
    ``value`` is the handle itself, as Keras code reads a variable's (``ops.matmul(x, self.w.value)``)."""

    __array_priority__ = 1000       # NumPy defers to its reflected operators (array + w: refused by name)

    reshaped = False        # ``reshape`` made it: indexed first (``index``), then read in ``shape``
    axes = None             # ``transpose`` made it: indexed first, then its axes in this order

    def __init__(self, owner, name, shape, index=None, owner_name=None):
        self.owner, self.name, self.shape, self.index = owner, name, tuple(shape), index
        self.owner_name = owner.name if owner is not None else owner_name

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def trainable(self):
        return self.name in self._owner().params

    def _owner(self):
        if self.owner is None:
            raise ValueError(f"the weight {self.owner_name}/{self.name} is not linked to its layer (a node read "
                             f"from a config without the layer {self.owner_name!r} holding it)")
        return self.owner

    @property
    def value(self):
        """The handle itself: Keras' ``variable.value`` is a property giving the tensor a call
        computes with, so Keras code writes ``ops.matmul(inputs, self.w.value)``; in a drawn call
        that operand is this handle (its nodes read the live value at each pass: ``read``)."""
        return self

    def read(self, xp=np):
        """The weight's live value (a view of the model's buffer), indexed. Read before any model
        built it (``block.w.numpy()`` after ``__init__``), it is made now (``CallWeights.make_now``)."""
        owner = self._owner()
        if not owner.built:
            owner.make_now()
        array = owner.params[self.name] if self.name in owner.params else owner.state[self.name]
        value = xp.asarray(array if self.index is None else array[self.index])
        if self.axes is not None:
            return value.transpose(self.axes)
        # a handle ``reshape`` made (or read back from a config, whose shape says so) reads in its shape
        return value if value.shape == self.shape else value.reshape(self.shape)

    def add_gradient(self, grad):
        """Add ``grad`` (the shape of ``read()``) to the weight's gradient; none for a
        non-trainable weight."""
        grads = self._owner().grads
        if self.name in grads:
            if self.axes is not None:
                grad = grad.transpose(np.argsort(self.axes))
            target = grads[self.name]
            if self.index is None:
                target += grad.reshape(target.shape)
            else:
                target[self.index] += grad.reshape(target[self.index].shape)

    def numpy(self):
        """A copy of the weight's value now (Keras' ``variable.numpy()``)."""
        return np.array(self.read(np))

    def config(self):
        from .layers.tensor_ops import _index_item_json
        index = None if self.index is None else [_index_item_json(i) for i in self.index]
        entry = [self._owner().name, self.name, list(self.shape), index]
        return {"call_weight": entry if self.axes is None else [*entry, list(self.axes)]}

    def __repr__(self):
        shown = "" if self.index is None else str(self.index)
        if self.axes is not None:
            shown += f".T{tuple(self.axes)}"
        return f"<CallWeight {self.owner_name}/{self.name}{shown} shape={self.shape}>"

    # -- use in call ----------------------------------------------------------------------------
    def transpose(self, axes=None):
        """The weight read with its axes in the order ``axes`` (None: reversed; Keras'
        ``ops.transpose(self.w)``, keras.io's VectorQuantizer multiplying one-hot codes by its
        codebook transposed): a handle whose nodes read the value so transposed and add their
        gradient back transposed the other way, in the weight's layout."""
        if self.reshaped or self.axes is not None:
            raise TypeError(f"{self!r}: reshaped or transposed already; transpose the weight once, then use it")
        rank = len(self.shape)
        axes = tuple(range(rank))[::-1] if axes is None else axes
        if not isinstance(axes, (list, tuple)) or not all(
                isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes) \
                or sorted(int(a) % rank if -rank <= a < rank else -1 for a in axes) != list(range(rank)):
            raise ValueError(f"{self!r}: transpose's axes {axes!r:.80} must order each of the weight's {rank} axes once")
        axes = tuple(int(a) % rank for a in axes)
        handle = CallWeight(self.owner, self.name, tuple(self.shape[a] for a in axes), self.index, self.owner_name)
        handle.axes = axes
        return handle

    def reshape(self, newshape):
        """The weight read in ``newshape`` (one -1 at most; Keras' ``ops.reshape(self.w, shape)``,
        keras.io's Conv2DMoE flattening its experts' kernels into one convolution's): a handle whose
        nodes read the value so reshaped and add their gradient back in the weight's shape."""
        if not isinstance(newshape, (list, tuple)) or not all(
                n is None or (isinstance(n, (int, np.integer)) and not isinstance(n, bool)) for n in newshape):
            raise TypeError(f"{self!r}: reshape takes a tuple of sizes (ints, one -1), got {newshape!r:.80}")
        try:
            shape = np.empty(self.shape, dtype=np.bool_).reshape(tuple(-1 if n is None else int(n) for n in newshape)).shape
        except ValueError as exc:
            raise ValueError(f"{self!r}: cannot reshape to {tuple(newshape)}: {exc}") from None
        handle = CallWeight(self.owner, self.name, shape, self.index, self.owner_name)
        handle.reshaped = True
        return handle

    def __getitem__(self, index):
        from .layers.tensor_ops import _index, _shown
        if self.reshaped or self.axes is not None:
            done = "reshaped" if self.reshaped else "transposed"
            raise TypeError(f"{self!r}: {done} already; index the weight first, then reshape or transpose it "
                            f"(ops.reshape(w[:4], shape))")
        if self.index is not None:
            raise TypeError(f"{self!r}: indexed already; index a weight once (w[:5, 2], not w[:5][2])")
        if isinstance(index, (list, np.ndarray)) or _is_tensor(index):
            raise TypeError(f"{self!r}[...]: an index takes ints, slices, None and ... (basic indexing); for "
                            f"positions in a tensor, keep the weight in a layer (Embedding)")
        index = _index(index if isinstance(index, tuple) else (index,))
        try:
            shape = np.empty(self.shape, dtype=np.bool_)[index].shape
        except IndexError as exc:
            raise ValueError(f"{self!r}{_shown(index)}: {exc}") from None
        return CallWeight(self.owner, self.name, shape, index, self.owner_name)

    def _operate(self, op, other, reflected):
        if _valued() and not _is_tensor(other):      # run eagerly, or outside any call: on its value now
            a, b = (np.asarray(other), self.read()) if reflected else (self.read(), np.asarray(other))
            return getattr(np, op)(a, b)
        if not _is_tensor(other):
            raise TypeError(f"{self!r}: {op} with {type(other).__name__}: a weight of a model drawn from call "
                            f"is used with a tensor (inputs * self.w), in an operator or ops.matmul, "
                            f"ops.maximum, ops.minimum; not with another weight or an array")
        from .layers.tensor_ops import operate
        return operate(op, other, self) if reflected else operate(op, self, other)

    def __add__(self, other):
        return self._operate("add", other, False)

    def __radd__(self, other):
        return self._operate("add", other, True)

    def __sub__(self, other):
        return self._operate("subtract", other, False)

    def __rsub__(self, other):
        return self._operate("subtract", other, True)

    def __mul__(self, other):
        return self._operate("multiply", other, False)

    def __rmul__(self, other):
        return self._operate("multiply", other, True)

    def __truediv__(self, other):
        return self._operate("true_divide", other, False)

    def __rtruediv__(self, other):
        return self._operate("true_divide", other, True)

    def __pow__(self, other):
        # Python's "unsupported operand type(s) for ** or pow(): 'CallWeight'" said nothing of why
        # (keras.io's VectorQuantizer: ops.sum(self.embeddings ** 2, axis=0)): run eagerly, or
        # outside any call, its value now; in a drawn call refused by name as any other weight-only use
        return self._operate("power", other, False)

    def __rpow__(self, other):
        return self._operate("power", other, True)

    def __matmul__(self, other):
        from . import ops
        return ops.matmul(self, other)

    def __rmatmul__(self, other):
        from . import ops
        return ops.matmul(other, self)

    def __neg__(self):
        raise TypeError(f"-{self!r}: a weight is used with a tensor; write x * -1.0 * w, or 0.0 - w with x")

    def __array__(self, dtype=None, copy=None):
        if _valued():        # run eagerly (run_eagerly), or outside any call: its value now
            return np.array(self.read(), dtype=dtype)
        raise TypeError(f"{self!r}: a weight of a model drawn from call is taken as an operand by the operators "
                        f"+ - * / on a tensor, ops.matmul, ops.tensordot(x, w, axes=1), ops.maximum, ops.minimum, "
                        f"ops.reshape, ops.transpose (a weight in another shape or order, for those) "
                        f"and as the kernel of ops.conv, depthwise_conv, separable_conv, conv_transpose only "
                        f"(their nodes read and train it); this use would make it an array, a constant that never trains. "
                        f"numpy() gives its value now")

    def _assign(self, how, value):
        # Keras' call may update a weight each pass (the subclassing guide's ComputeSum,
        # self.total.assign_add(ops.sum(inputs, axis=0)); a moving mean). Run eagerly (the block
        # called alone on arrays: run_eagerly) or outside any call (block.total.assign(value)), the
        # update is made now; a drawn call runs once, so no
        # node would repeat it: refused, saying what to write (Python's "no attribute 'assign_add'"
        # said nothing of that)
        from .layers.base import drawn_call
        if not getattr(_EAGER, "on", False) and drawn_call() is not None:
            raise UpdatedInCall(
                f"{self!r}.{how}: {self.owner_name!r} updates a weight in call. Called alone on arrays, such a block "
                f"runs its call eagerly and makes the update (the subclassing guide's ComputeSum), but glassnet "
                f"draws a call once, on symbolic tensors, inside a model (or with symbolic inputs), so no node "
                f"would repeat the update on each pass. In a model, write a Layer with forward and backward "
                f"instead, its weight made trainable=False in build and updated in forward: "
                f"self.state['total'][...] += x.sum(axis=0) (docs/layers.md, Centered)")
        owner = self._owner()
        if not owner.built:
            owner.make_now()
        target = owner.params if self.name in owner.params else owner.state
        array = target[self.name] if self.index is None else target[self.name][self.index]
        value = np.asarray(value.read() if isinstance(value, CallWeight) else value)
        if value.shape != array.shape:
            raise ValueError(f"{self!r}.{how}: the value has shape {value.shape}, the weight {array.shape} (it is "
                             f"not broadcast)")
        if how == "assign":
            array[...] = value
        elif how == "assign_add":
            array += value.astype(array.dtype, copy=False)
        else:
            array -= value.astype(array.dtype, copy=False)
        return self

    def assign(self, value):
        return self._assign("assign", value)

    def assign_add(self, delta):
        return self._assign("assign_add", delta)

    def assign_sub(self, delta):
        return self._assign("assign_sub", delta)

    def __bool__(self):
        raise TypeError(f"{self!r}: a weight has no truth value while call is drawn")


def _valued():
    """Whether a weight handle stands for its value now: in a call run eagerly (``run_eagerly``), or
    outside any call being drawn (a ``train_step`` reading ``self.scale * 2``, where a block's
    ``gn.Variable`` became a handle: glassnet._attr_variables). Inside a drawn call a value would be
    a constant that never trains, so there the handle is an operand of the nodes only."""
    if getattr(_EAGER, "on", False):
        return True
    from .layers.base import drawn_call
    return drawn_call() is None


class UpdatedInCall(NotImplementedError):
    """A weight updated in a call being drawn (``CallWeight.assign``...): graph.Model.__call__ on
    arrays then runs the call eagerly instead (``run_eagerly``)."""


# .on: a block's call runs eagerly on arrays in this thread (run_eagerly)
_EAGER = threading.local()


def run_eagerly(model, args, kwargs):
    """``model(x)`` on arrays for a block whose call updates its weights (``assign``, ``assign_add``,
    ``assign_sub``: Keras' subclassing guide's ComputeSum), which no drawn graph can repeat: its
    ``call`` run once now, on the arrays, as Keras runs it eagerly, the updates made to its weights
    and its weights read at their values now; what it returns comes back as arrays (a weight
    returned: a copy of its value)."""
    owner = vars(model).get("_call_weights")
    if owner is not None and not owner.built:
        owner.make_now()
    if "training" in kwargs:        # handed to a call that takes it, as Keras hands it
        import inspect
        if "training" not in inspect.signature(model.call).parameters:
            kwargs = {k: v for k, v in kwargs.items() if k != "training"}
    before = getattr(_EAGER, "on", False)
    _EAGER.on = True
    try:
        out = model.call(*args, **kwargs)
    finally:
        _EAGER.on = before

    def arrays(value):
        if isinstance(value, CallWeight):
            # a gn.Variable the block held comes back itself (Keras' ComputeSum returns self.total)
            variable = getattr(value, "variable", None)
            return value.numpy() if variable is None else variable
        if isinstance(value, (list, tuple)):
            return type(value)(arrays(v) for v in value)
        if isinstance(value, dict):
            return {k: arrays(v) for k, v in value.items()}
        return value
    return arrays(out)


def add_weight(model, shape, initializer, dtype, trainable, regularizer, constraint, name, **keras):
    """``model.add_weight`` (Keras' arguments) for a model drawn from ``call``: the weight recorded
    in its ``CallWeights`` (made at the first), its ``CallWeight`` returned."""
    who = f"{type(model).__name__}.add_weight"
    for key, value in keras.items():
        if value != _KERAS_DEFAULTS[key]:
            raise ValueError(f"{who}: {key}={value!r:.40} is not supported (glassnet takes Keras' default, "
                             f"{_KERAS_DEFAULTS[key]!r})")
    if model._calls:
        raise ValueError(f"{who}: {model.name!r} is drawn already (its call ran); make its weights in build or "
                         f"__init__, before call")
    owner = vars(model).get("_call_weights")
    if owner is None:
        owner = model._call_weights = CallWeights(name=model.name)
        owner._made_for = (model.dtype, model.seed)         # (for make_now: the block's dtype and seed)
    return owner.add(shape, initializer, dtype, trainable, regularizer, constraint, name, who)


def through_weights(model, inputs):
    """``inputs`` with each tensor passed through the model's ``CallWeights`` (if it has one), so
    that the node is in the graph before the nodes reading its weights. Each, not the first alone:
    a call may read its weights on another input only (``call([a, b])`` returning ``b * self.w``),
    and the graph keeps only the calls leading to its outputs; the node on the first input would
    then be dropped, and its weights with it (never made, counted nor trained). A node on every
    input is kept wherever a tensor reading the weights is (a shared layer: each call zeroes the
    gradients at forward, all before the readers add theirs at backward)."""
    owner = vars(model).get("_call_weights")
    if owner is None:
        return inputs
    if isinstance(inputs, (list, tuple)):
        return type(inputs)([owner(value) if _is_tensor(value) else value for value in inputs])
    if isinstance(inputs, dict):
        return {key: owner(value) if _is_tensor(value) else value for key, value in inputs.items()}
    return owner(inputs)


def _is_tensor(value):
    from .layers.input import InputLayer
    from .layers.symbolic import SymbolicTensor
    return isinstance(value, (SymbolicTensor, InputLayer))


def is_weight(value):
    return isinstance(value, CallWeight)


def from_config(value):
    """A constant read from a node's config: a ``CallWeight`` not linked yet for
    ``{"call_weight": [...]}``, else None."""
    if not (isinstance(value, dict) and set(value) == {"call_weight"}):
        return None
    from .layers.tensor_ops import _index
    entry = value["call_weight"]
    if not (isinstance(entry, list) and len(entry) in (4, 5) and all(isinstance(s, str) for s in entry[:2])
            and isinstance(entry[2], list) and all(isinstance(d, int) and d >= 0 for d in entry[2])
            and (len(entry) == 4 or (isinstance(entry[4], list) and sorted(entry[4]) == list(range(len(entry[2])))))):
        raise ValueError(f"config: a weight operand is {{'call_weight': [layer name, weight name, shape, index(, axes)]}}, "
                         f"got {value!r:.120}")
    index = None if entry[3] is None else _index(entry[3])
    weight = CallWeight(None, entry[1], entry[2], index, owner_name=entry[0])
    if len(entry) == 5:
        weight.axes = tuple(entry[4])
    return weight


def link(layers):
    """Point the unlinked weight operands of ``layers`` (read from a config) at their ``CallWeights``
    among ``layers``, by name; one not there is refused by name."""
    owners = {layer.name: layer for layer in layers if isinstance(layer, CallWeights)}
    for layer in layers:
        weight = getattr(layer, "constant", None)
        if isinstance(weight, CallWeight) and weight.owner is None:
            owner = owners.get(weight.owner_name)
            if owner is None or weight.name not in owner.names():
                raise ValueError(f"config: {layer.describe()} reads the weight {weight.owner_name}/{weight.name}, "
                                 f"which no CallWeights layer of the model holds")
            weight.owner = owner


class CallWeights(Layer):
    """The weights a model drawn from ``call`` made with ``add_weight`` (see the module docstring):
    a node of its graph on each of its inputs, passing it on unchanged.

    Parameters
    ----------
    weights : list of dict
        Each weight as ``add_weight`` was given it: ``{"name", "shape", "initializer", "trainable",
        "regularizer", "constraint"}`` (JSON: initializers, regularizers and constraints serialized).
        Made at ``build``, trainable ones in ``params`` (in this order), the others in ``state``.

    Shapes: (batch, *sample) -> the same (the input, unchanged).
    """

    supports_masking = True         # (an identity: a mask passes)
    gathers_gradients = True        # its grads are the sums the reading nodes add (callgraph: no sum per call)

    def __init__(self, weights=(), **kwargs):
        super().__init__(**kwargs)
        self.specs = []
        for spec in weights:
            self.specs.append(dict(spec))

    def names(self):
        return [spec["name"] for spec in self.specs]

    # Named as the block whose weights it holds, so model.get_layer("alpha") finds it; Keras' get_layer
    # returns the block, whose .output is its call's outputs, and this layer's would silently be the
    # block's first input passed on (keras.io's MIL example reads attention scores so)
    @property
    def output(self):
        raise ValueError(f"{self.describe()} holds only the weights a block of yours (a Layer or Model with "
                         f"`call`) made with add_weight; the block's own layers joined this model, and its "
                         f"outputs are not this layer's: keep the tensors its call returned "
                         f"(outputs = block(x); Model(inputs, outputs))")

    @property
    def input(self):
        raise ValueError(f"{self.describe()} holds only the weights a block of yours made with add_weight; "
                         f"its input is not the block's: keep the tensor you called the block on")

    def add(self, shape=None, initializer=None, dtype=None, trainable=True, regularizer=None, constraint=None,
            name=None, who="add_weight"):
        """Record a weight (Keras' ``add_weight`` arguments); returns its ``CallWeight``."""
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{who}: name must be a string, got {name!r:.60}")
        if name is None:
            taken, k = set(self.names()), 0
            name = "variable"
            while name in taken:
                k += 1
                name = f"variable_{k}"
        if name in self.names():
            raise ValueError(f"{who}: a weight named {name!r} exists already; give each weight a name of its own")
        shape = () if shape is None else shape
        if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
            shape = (shape,)
        if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__") or not all(
                isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise TypeError(f"{who}: {name!r}: shape must be a tuple of non-negative integers such as (3,) or "
                            f"(4, 3), got {shape!r:.80} (an axis of any size, None, cannot size a weight)")
        if not isinstance(trainable, (bool, np.bool_)):
            raise TypeError(f"{who}: {name!r}: trainable must be True or False, got {trainable!r:.40}")
        if dtype is not None:
            try:
                ok = np.dtype(dtype).kind == "f"
            except TypeError:
                ok = False
            if not ok:
                raise ValueError(f"{who}: {name!r}: dtype must be a float dtype (the model's is used), got {dtype!r:.40}")
        initializer = "glorot_uniform" if initializer is None else initializer
        where = f"{who}: {name!r}"
        spec = {"name": name, "shape": [int(d) for d in shape], "trainable": bool(trainable),
                "initializer": initializers.serialize(initializers.get(initializer, f"{where}: initializer")),
                "regularizer": None, "constraint": None}
        if regularizer is not None:
            spec["regularizer"] = regularizers.serialize(regularizers.get(regularizer, f"{where}: regularizer"))
        if constraint is not None:
            spec["constraint"] = constraints.serialize(constraints.get(constraint, f"{where}: constraint"))
        if not trainable and (regularizer is not None or constraint is not None):
            raise ValueError(f"{where}: a regularizer or constraint applies to a trainable weight")
        self.specs.append(spec)
        if self.built:
            # made already (make_now: an __init__ weight read before the build), so no model builds
            # this layer again: a weight added since (in the block's build) is made now, as Keras
            # makes it, else it was missing (KeyError at the first pass, absent from the weights)
            seen = self.input_shape
            self.build(())
            self.input_shape = seen
        return CallWeight(self, name, tuple(spec["shape"]))

    def build(self, input_shape):
        for spec in self.specs:
            if spec["name"] not in self.params and spec["name"] not in (getattr(self, "state", None) or {}):
                Layer.add_weight(self, spec["name"], tuple(spec["shape"]), initializers.get(spec["initializer"]),
                                 spec["regularizer"] and regularizers.get(spec["regularizer"]),
                                 spec["constraint"] and constraints.get(spec["constraint"]),
                                 trainable=spec["trainable"])
                # a gn.Variable the block held (glassnet._attr_variables): made with its value
                value = self.__dict__.get("_values", {}).get(spec["name"])
                if value is not None:
                    made = self.params if spec["name"] in self.params else self.state
                    made[spec["name"]][...] = value
        # Keras' order of a layer's weights: the trainable ones, then the others (params, then state)
        super().build(input_shape)

    def make_now(self):
        """Make the weights now, before a model builds this layer: Keras makes a weight
        ``add_weight`` gives in ``__init__`` at once, so ``block.w.numpy()``, ``block.weights`` and
        ``block.set_weights`` work before the block is built. Drawn in the block's dtype, from its
        seed (fresh entropy without one); the model holding the block keeps them as they are then
        (a layer built before it joins), so its seed no longer fixes them."""
        if self.built:
            return
        dtype, seed = self.__dict__.get("_made_for", (None, None))
        if self.dtype is None and dtype is not None:
            self.dtype = dtype
        if self.rng is None and seed is not None:
            self.rng = np.random.default_rng(seed)
        self.build(())
        self.input_shape = None         # (no input seen: the model's build checks none)

    def output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False):
        # the nodes reading these weights add their gradients at backward: start from zero each pass
        for grad in self.grads.values():
            grad[...] = 0
        return x

    def backward(self, grad_output):
        return grad_output

    def get_config(self):
        return {**super().get_config(), "weights": [dict(spec) for spec in self.specs]}
