"""Keras 3.15's ``keras.Variable``, as NumPy arrays: ``glassnet.Variable`` holds an array of its
own; ``WeightVariable`` (what ``dense.kernel``, ``conv.kernel``, ``bn.moving_mean``,
``lstm.cell.kernel`` give: glassnet.layers._keras_attributes) is a view onto one weight of a layer,
the very array the layer computes with and the optimizer updates.

Both read as Keras' do: ``numpy()`` (a copy), ``value`` (the live array, read-only),
``shape``, ``ndim``, ``dtype`` (a name, ``"float32"``), ``name``, ``path``, ``trainable``,
``np.asarray(v)``, arithmetic and comparisons (``v * 2``, ``x @ v``: NumPy arrays, their dtypes
promoted by Keras' rules, glassnet.ops': an int32 variable times 2.5 is float32), indexing.
``assign(value)`` writes in place, so a view's writes reach the layer, its model's flat buffer
and the optimizer's slots (which stay attached: the array is not replaced); ``assign_add`` and
``assign_sub`` are ``assign(v + value)``, ``assign(v - value)``. As Keras', ``assign`` refuses a
value of another shape (ValueError) and returns the value written.

Where glassnet is stricter than Keras 3.15 (which silently truncates or ignores): ``assign``
refuses a value that does not cast to the variable's dtype without loss of kind (floats into an
integer variable, complex into floats: TypeError); ``Variable(value, shape=...)`` refuses a
``shape`` other than the value's.

>>> import numpy as np
>>> v = Variable(np.ones((2, 3)), dtype="float32", name="w")
>>> v.assign_add(1.0).tolist()
[[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
>>> v.shape, v.dtype, (v * 2).sum()
((2, 3), 'float32', np.float32(24.0))
"""
import numbers

import numpy as np

__all__ = ["Variable"]


def _refuse_in_draw(variable, what):
    """A variable read while a block's ``call`` is drawn would be a constant there (call runs
    once): refused by name (glassnet.layers.base.drawing_kind)."""
    from .layers.base import drawing_kind, drawn_call
    if drawing_kind() == "draw":
        raise TypeError(
            f"{variable.path}: {what} while {drawn_call()}.call is drawn; glassnet runs call once, so the value "
            f"read there would be a constant that never trains (Keras reads it at every batch). Make a weight "
            f"of the block with self.add_weight in build (its handle trains), or call the layer holding it "
            f"(self.conv(x)); change a weight before training in build (docs/layers.md, Weights as attributes)")


def _refuse_update_in_draw(variable, how):
    """A variable updated while a block's ``call`` is drawn (keras.io's researchers guide's
    ``ComputeSum`` with ``self.total = tf.Variable(...)``, ``self.total.assign_add(...)`` in call):
    refused as a block's ``add_weight`` weight updated there is (glassnet._call_weights), so that the
    block called alone on arrays runs its call eagerly, as Keras does; in a model, by name."""
    from .layers.base import drawing_kind, drawn_call
    if drawing_kind() == "draw":
        from ._call_weights import UpdatedInCall
        raise UpdatedInCall(
            f"{variable.path}.{how}: {drawn_call()}.call updates a variable. Called alone on arrays, such a "
            f"block runs its call eagerly and makes the update, but glassnet draws a call once, on symbolic "
            f"tensors, inside a model (or with symbolic inputs), so no node would repeat the update on each "
            f"pass. In a model, write a Layer with forward and backward instead, its weight made "
            f"trainable=False in build and updated in forward: self.state['total'][...] += x.sum(axis=0) "
            f"(docs/layers.md, Centered)")


class Variable:
    """A variable holding an array of its own (Keras' ``keras.Variable``).

    Parameters
    ----------
    initializer : array-like, or an initializer (a name such as ``"zeros"``, an ``Initializer``,
        a callable ``f(shape, rng, dtype)``), which then needs ``shape``
    shape : tuple of ints, optional; required with an initializer, else the value's (checked)
    dtype : dtype name, optional; default the value's (a float list: floatx, as Keras), floatx
        for an initializer
    trainable : bool
    name : str, optional (default ``"variable"``)
    """

    __array_priority__ = 1000       # NumPy defers to the reflected operators (array * v -> v.__rmul__)

    def __init__(self, initializer, shape=None, dtype=None, trainable=True, name=None, **keras_only):
        from . import backend
        from ._validation import check_flag
        unknown = sorted(set(keras_only) - {"autocast", "aggregation", "synchronization"})
        if unknown:
            raise TypeError(f"Variable: unexpected keyword argument(s) {unknown}; it takes initializer, shape, "
                            f"dtype, trainable, name (and Keras' autocast, aggregation, synchronization, ignored)")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Variable: name: expected a str, got {type(name).__name__} {name!r:.40}")
        self._name = name or "variable"
        self._trainable = check_flag(trainable, "Variable: trainable")
        if shape is not None:
            if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__") or not all(
                    isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 0 for d in shape):
                raise ValueError(f"Variable: shape: expected a tuple of non-negative ints such as (3, 4), got "
                                 f"{shape!r:.80}")
            shape = tuple(int(d) for d in shape)
        if isinstance(initializer, Variable):
            initializer = initializer.numpy()
        if callable(initializer) or isinstance(initializer, str):
            from . import initializers
            from .initializers import seeds
            if shape is None:
                raise ValueError(f"Variable: shape: required when the variable is made from an initializer "
                                 f"({initializer!r:.60}), as Keras' Variable(initializer, shape=...)")
            init = initializers.get(initializer, "Variable: initializer")
            dtype = np.dtype(backend.floatx() if dtype is None else dtype)
            value = np.asarray(init(shape, seeds.generator(None), dtype), dtype=dtype)
        else:
            try:
                value = np.array(initializer)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"Variable: initializer: expected an array-like value or an initializer, got "
                                f"{type(initializer).__name__} {initializer!r:.60}") from exc
            if value.dtype.kind not in "biuf":
                raise TypeError(f"Variable: initializer: expected numbers, got an array of dtype {value.dtype}")
            if dtype is None and not isinstance(initializer, (np.ndarray, np.generic)):
                # Python numbers, as Keras converts them: floats to floatx, ints to int32
                dtype = {"f": backend.floatx(), "i": "int32", "u": "int32"}.get(value.dtype.kind)
            value = value.astype(dtype if dtype is not None else value.dtype, copy=False)
            if shape is not None and shape != value.shape:
                raise ValueError(f"Variable: shape: {shape} given for a value of shape {value.shape}")
        # (np.ascontiguousarray makes a 0-d value 1-d: a scalar variable, a metric's count, keeps shape ())
        self._array = np.ascontiguousarray(value).reshape(value.shape)

    # -- where the array lives: overridden by a layer's weight -----------------------------------
    def _live(self):
        return self._array

    # -- Keras' attributes -------------------------------------------------------------------------
    @property
    def name(self):
        return self._name

    @property
    def path(self):
        """Keras' path: the name for a variable of its own; ``"dense/kernel"`` for a layer's weight."""
        return self._name

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        from ._validation import check_flag
        self._trainable = check_flag(value, "Variable: trainable")

    @property
    def shape(self):
        return tuple(self._live().shape)

    @property
    def ndim(self):
        return self._live().ndim

    @property
    def dtype(self):
        """The dtype's name, ``"float32"``, as Keras gives it."""
        return self._live().dtype.name

    @property
    def value(self):
        """The live array, read-only (``assign`` writes it): what the variable holds now."""
        _refuse_in_draw(self, "value read")
        view = self._live().view()
        view.flags.writeable = False
        return view

    def numpy(self):
        """A copy of the value now."""
        _refuse_in_draw(self, "numpy() read")
        return np.array(self._live())

    def assign(self, value):
        """Write ``value`` (the variable's shape; cast to its dtype, refused if that loses its kind)
        in place. Returns the value written (a new array), as Keras' ``assign`` returns it."""
        _refuse_update_in_draw(self, "assign")
        target = self._live()
        if isinstance(value, Variable):
            value = value._live()
        try:
            given = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{self.path}: assign: expected an array of numbers, got {type(value).__name__}") from exc
        if given.dtype.kind not in "biuf" or not np.can_cast(given.dtype, target.dtype, casting="same_kind"):
            raise TypeError(f"{self.path}: assign: the variable's dtype is {target.dtype.name}, got a value of dtype "
                            f"{given.dtype.name}, which does not cast to it without loss (cast it first)")
        if given.shape != target.shape:
            raise ValueError(f"{self.path}: assign: the value's shape must be the variable's, {target.shape}, got "
                             f"{given.shape}")
        np.copyto(target, given, casting="same_kind")
        return np.array(target)

    def assign_add(self, value):
        """``value`` (cast to the variable's dtype) added to it in place: Keras' ``assign_add``."""
        _refuse_update_in_draw(self, "assign_add")
        return self.assign(self._live() + np.asarray(value, dtype=self._live().dtype))

    def assign_sub(self, value):
        """``assign`` of the variable less ``value`` (cast to its dtype), in place: Keras' ``assign_sub``."""
        _refuse_update_in_draw(self, "assign_sub")
        return self.assign(self._live() - np.asarray(value, dtype=self._live().dtype))

    def __array__(self, dtype=None, copy=None):
        _refuse_in_draw(self, "read as an array")
        live = self._live()
        if copy is False:
            if dtype is not None and np.dtype(dtype) != live.dtype:
                raise ValueError(f"{self.path}: a dtype other than the variable's needs a copy")
            view = live.view()
            view.flags.writeable = False
            return view
        return np.array(live, dtype=dtype)

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, value={self._live()}>"

    def __getitem__(self, index):
        value = self._operand()
        if value is self._live():       # (recorded: glassnet.ops' indexing)
            from .ops import get_item
            return get_item(value, index)
        return value[index]

    def __bool__(self):
        return bool(np.array(self))

    def __float__(self):
        return float(np.array(self))

    def __int__(self):
        return int(np.array(self))

    def __hash__(self):
        return id(self)

    # -- arithmetic: NumPy on the value (Keras: tensors) ------------------------------------------
    def _operand(self):
        """The value an operator computes with: a copy, or, while a GradientTape records and watches
        this variable (a trainable one of its own, read under the tape: TF's rule), its live array,
        which the tape records the operation on (glassnet._tape_values.accessed)."""
        from . import _tape_state
        if _tape_state.recording():
            from ._tape_values import accessed, own_variable
            if own_variable(self) and accessed(self) is not None:
                return self._live()
        return np.array(self)

    def _operands(self, other):
        if isinstance(other, Variable):
            other = other._operand()
        elif getattr(other, "is_symbolic", False) or type(other).__name__ in ("SymbolicTensor", "KerasTensor"):
            _refuse_in_draw(self, "used with a tensor")
        return self._operand(), other


def _binary(op, reflected=False):
    def method(self, other):
        mine, other = self._operands(other)
        return op(other, mine) if reflected else op(mine, other)
    return method


def _keras_op(name):
    """glassnet.ops' ``name``, which promotes dtypes by Keras' rules, as Keras' variables compute
    (an int32 variable times 2.5 is float32, a float32 one plus an int64 array float32; NumPy's
    table gives float64 for both)."""
    def op(a, b):
        from . import ops
        return getattr(ops, name)(a, b)
    return op


def _unary(name, variable):
    value = variable._operand()
    if value is variable._live():       # (recorded: glassnet.ops')
        from . import ops
        return getattr(ops, name)(value)
    return np.negative(value) if name == "negative" else np.abs(value)


for _name, _op in {"add": "add", "sub": "subtract", "mul": "multiply", "truediv": "true_divide",
                   "floordiv": "floor_divide", "mod": "mod", "pow": "power", "matmul": "matmul"}.items():
    setattr(Variable, f"__{_name}__", _binary(_keras_op(_op)))
    setattr(Variable, f"__r{_name}__", _binary(_keras_op(_op), reflected=True))
for _name, _op in {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
                   "eq": np.equal, "ne": np.not_equal}.items():
    setattr(Variable, f"__{_name}__", _binary(_op))
Variable.__neg__ = lambda self: _unary("negative", self)
Variable.__pos__ = lambda self: np.array(self)
Variable.__abs__ = lambda self: _unary("abs", self)
del _name, _op


class WeightVariable(Variable):
    """A view onto weight ``key`` of ``layer`` (its ``params`` or ``state``), under Keras' path
    (``"<layer name>/" + "/".join(layer.keras_weight_path(key))``, after the ``gn.name_scope``
    path the layer was built in). Nothing is copied: it looks the
    array up at every use, so it follows the layer into a model's flat buffer. ``trainable``: the
    weight is a parameter and the layer is not frozen (set ``layer.trainable`` to change it)."""

    def __init__(self, layer, key):
        self._layer, self._key = layer, key

    def _live(self):
        layer = self._layer
        params, state = layer.__dict__.get("params") or {}, layer.__dict__.get("state") or {}
        if self._key in params:
            return params[self._key]
        if self._key in state:
            return state[self._key]
        raise AttributeError(f"{self.path}: the layer holds no weight {self._key!r} now (rebuilt, or its weights "
                             f"released): read the attribute again")

    @property
    def name(self):
        return self._layer.keras_weight_path(self._key)[-1]

    @property
    def path(self):
        owner, key = weight_owner(self._layer, self._key)
        return "/".join([*layer_path(owner), *owner.keras_weight_path(key)])

    @property
    def trainable(self):
        return self._key in (self._layer.__dict__.get("params") or {}) and bool(self._layer.trainable)

    @trainable.setter
    def trainable(self, value):
        raise TypeError(f"{self.path}: trainable: glassnet freezes whole layers: set "
                        f"{type(self._layer).__name__}.trainable (layer.trainable = False)")


def weight_owner(layer, key):
    """The layer whose weight ``key`` of ``layer`` is, and its key there: a wrapped layer's
    (``TimeDistributed.layer``, ``Bidirectional.forward_layer``, an ``RNN``'s cell layer) are its
    wrapper's, under a prefix (its ``params`` are the wrapper's, glassnet.layers.wrappers'
    ``_Prefixed``), and named below the wrapper's name as Keras' are
    (``"time_distributed/dense/kernel"``); any other layer's are its own."""
    from .layers.wrappers import _Prefixed
    params = layer.__dict__.get("params")
    if isinstance(params, _Prefixed):
        return params._owner, params._prefix + key
    return layer, key


def layer_path(layer):
    """Keras' path of ``layer`` as a list of names, what its weights' paths start with: the path
    recorded when it was built (a ``gn.name_scope``'s, and the names of the Sequential and
    subclassed models that built it, as Keras' name scopes give them: ``["sequential", "dense"]``;
    a functional model adds none, and a layer built on its own keeps the path of that build), then
    its name (its class's, snake_case, before it has one)."""
    from .layers.base import snake_case
    scope = getattr(layer, "_scope_path", None)
    return [*([scope] if scope else []), layer.name or snake_case(type(layer).__name__)]
