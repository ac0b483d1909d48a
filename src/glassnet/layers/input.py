"""Input: declares the shape of one sample at the top of a Sequential, as Keras 3 recommends.

``Sequential([Input((784,)), Dense(10)])`` builds the model at once, exactly as
``Dense(10, input_shape=(784,))`` would. Like Keras' ``InputLayer``, it is not one of
``model.layers``: it holds no parameters and does nothing to the data, it only says what comes in.
"""
import numbers
import warnings

import numpy as np

from .. import backend
from .._validation import check_name
from .base import _sample_shape


def _operator(op, reflected=False):
    """The method of a Python operator with ``op`` (layers/tensor_ops.py): a TensorOp's call."""
    def method(self, other):
        from .tensor_ops import is_operand, operate
        if not is_operand(other):
            return NotImplemented       # Python's "unsupported operand type(s)", naming both types
        return operate(op, other, self) if reflected else operate(op, self, other)
    method.__name__ = f"__{'r' if reflected else ''}{op}__"
    return method


def _function(op, reflected=False):
    """The method of a Python operator that Keras 3 maps to ``keras.ops.<op>``: glassnet.ops' call."""
    def method(self, other):
        from .tensor_ops import is_operand
        from .. import ops
        if not is_operand(other):
            return NotImplemented
        return getattr(ops, op)(other, self) if reflected else getattr(ops, op)(self, other)
    method.__name__ = f"__{'r' if reflected else ''}{op}__"
    return method


# NumPy's ufuncs that an operator with an array on the left calls (array @ x, array > x): their ops
_UFUNC_OPS = {np.matmul: "matmul", np.floor_divide: "floor_divide", np.remainder: "mod", np.less: "less",
              np.not_equal: "not_equal",
              np.less_equal: "less_equal", np.greater: "greater", np.greater_equal: "greater_equal",
              np.logical_and: "logical_and", np.logical_or: "logical_or", np.logical_xor: "logical_xor",
              np.bitwise_and: "logical_and", np.bitwise_or: "logical_or", np.bitwise_xor: "logical_xor"}


class TensorOperators:
    """Python's arithmetic and basic indexing on a tensor that holds no values yet (an Input, a
    drawn ``SymbolicTensor``): ``x / 255.0``, ``x + positions``, ``-x``, ``x ** 2``, ``abs(x)``,
    ``x[:, 0]``, ``a * b``. Each computes nothing: it calls a ``TensorOp`` layer, a node of the
    model's graph (Keras 3's operations on a ``KerasTensor``); ``x ** y``, ``@``, ``//``, ``%``,
    comparisons, ``&``, ``|``, ``^``, ``~`` and ``round()`` call glassnet.ops' nodes. NumPy's
    operators with an array on the left (``positions + x``) and ``np.add(x, c)`` come here through
    ``__array_ufunc__``; every other NumPy function is refused by the class using this."""
    __add__, __radd__ = _operator("add"), _operator("add", True)
    __sub__, __rsub__ = _operator("subtract"), _operator("subtract", True)
    __mul__, __rmul__ = _operator("multiply"), _operator("multiply", True)
    __truediv__, __rtruediv__ = _operator("true_divide"), _operator("true_divide", True)
    __pow__, __rpow__ = _operator("power"), _operator("power", True)

    def __neg__(self):
        from .tensor_ops import operate
        return operate("negative", self)

    def __abs__(self):
        from .tensor_ops import operate
        return operate("absolute", self)

    def __getitem__(self, index):
        from .tensor_ops import operate
        return operate("get_item", self, index)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from .tensor_ops import UFUNCS, operate
        if method == "__call__" and not kwargs and ufunc in _UFUNC_OPS:       # array @ x, array > x, ...
            from .. import ops
            return getattr(ops, _UFUNC_OPS[ufunc])(*inputs)
        if method != "__call__" or kwargs or ufunc not in UFUNCS:
            return self._no_values()
        return operate(UFUNCS[ufunc], *inputs)

    # Keras 3's KerasTensor's other operators, each a glassnet.ops function's node: @ matmul, // and %
    # floor_divide and mod, comparisons (0.0 / 1.0 of the model's dtype), & | ^ ~ logical_and,
    # logical_or, logical_xor, logical_not, round(x) round. == stays Python's identity: the graph code
    # finds tensors in lists and dicts by it (Keras' == is identity too); so does != between tensors
    # (and of anything but a number or an array), but see __ne__
    __matmul__, __rmatmul__ = _function("matmul"), _function("matmul", True)
    __floordiv__, __rfloordiv__ = _function("floor_divide"), _function("floor_divide", True)
    __mod__, __rmod__ = _function("mod"), _function("mod", True)
    __lt__, __le__, __gt__, __ge__ = _function("less"), _function("less_equal"), _function("greater"), \
        _function("greater_equal")
    __and__, __rand__ = _function("logical_and"), _function("logical_and", True)
    __or__, __ror__ = _function("logical_or"), _function("logical_or", True)
    __xor__, __rxor__ = _function("logical_xor"), _function("logical_xor", True)

    def __invert__(self):
        from .. import ops
        return ops.logical_not(self)

    def __ne__(self, other):
        # x != 0 of a number or an array is Keras 3's not_equal node (its KerasTensor's != is that of
        # anything): as identity it was True, and ops.where(ids != 0, x, c) silently passed x whole.
        # Between tensors != stays identity, as == (see above): write ops.not_equal(a, b)
        if isinstance(other, (numbers.Real, np.ndarray, np.generic)):
            from .. import ops
            return ops.not_equal(self, other)
        return NotImplemented           # Python's own: identity

    def __round__(self, ndigits=None):
        from .. import ops
        return ops.round(self, 0 if ndigits is None else ndigits)


class InputLayer(TensorOperators):
    """A model's input: the shape of one sample, for the first position of a Sequential or to draw
    a functional Model on (its ``.shape`` is Keras', the batch axis first).

    Parameters
    ----------
    shape : tuple of int
        One sample's shape: ``(features,)`` for vectors, ``(H, W, C)`` for images. Keras'
        ``()``, one number per sample (data of shape ``(n,)``), is taken as ``(1,)``.
    name : str, optional
    dtype : a NumPy dtype or its name, optional
        What the data holds (Keras' argument; ``"int32"`` for an Embedding's ids). It changes
        nothing: a model passes its input on in its own dtype (float32 unless ``dtype=`` says
        otherwise), in which ids up to 2**24 are exact, and an Embedding reads them from there.
        ``"string"`` with shape ``(1,)`` declares texts, for a ``TextVectorization`` next.
        ``.dtype`` reads it as Keras' input tensor does, a name: ``"int32"``, ``"string"``, and
        ``"float32"`` (Keras' default floatx) when none was given.
    batch_size : int > 0, optional
        Keras' fixed batch size. Recorded, as ``batch_size`` and as ``shape[0]`` and ``batch_shape[0]``
        (Keras' input tensor's), and used for nothing else: glassnet's layers take any
        batch, and a ``stateful=True`` recurrent layer takes its rows from the first batch it sees
        (then refuses another size by name), so it needs no declared batch size. Model files, JSON
        and configs keep it (a Keras InputLayer's ``batch_shape``).
    batch_shape : tuple, optional
        Keras' ``(batch_size, *shape)`` in one: ``shape=batch_shape[1:]``, ``batch_size=batch_shape[0]``
        (None for any). Not with ``shape`` or ``batch_size`` (Keras refuses both too).

    Attributes
    ----------
    sample_shape : tuple
        One sample's shape, as given (None: an axis of any size).
    shape : tuple
        Keras' shape of the input tensor, ``(batch_size, *sample_shape)``: ``(None, 28, 28, 1)``.

    Example
    -------
    >>> InputLayer((28, 28, 1)).shape, InputLayer((28, 28, 1)).sample_shape
    ((None, 28, 28, 1), (28, 28, 1))
    >>> InputLayer(batch_shape=(32, 10)).batch_shape
    (32, 10)
    >>> InputLayer((3,)).dtype, InputLayer((3,), dtype="int32").dtype
    ('float32', 'int32')
    """

    def __init__(self, shape=None, name=None, dtype=None, *, batch_size=None, batch_shape=None, **deprecated):
        shape, batch_shape = _deprecated_shapes(shape, batch_shape, deprecated)
        shape, self.batch_size = _shape_and_batch_size(shape, batch_size, batch_shape)
        self.name = check_name(name, "Input: name") or "input_layer"
        self._auto_named = name is None         # a Model renames it when another Input has its name
        if isinstance(dtype, str) and dtype in ("string", "str"):
            # Keras' texts, one per sample: a TextVectorization must come next
            self.sample_shape, self.dtype, self._given_dtype = tuple(shape), "string", "string"
            if self.sample_shape not in ((), (1,)):
                raise ValueError(f"Input: texts come one per sample, shape (1,) or (); got shape {shape!r:.60}")
            return
        if isinstance(shape, (tuple, list)) and len(shape) == 0:
            # Keras' Input(shape=()) is one number per sample (a structured-data column, keras.io's
            # wide, deep and cross networks): glassnet's samples have an axis, so it is (1,), which
            # takes the (n,) column as it is and after which Keras' expand_dims(x, -1) (ported as
            # Reshape((1,))) changes nothing
            shape = (1,)
        self.sample_shape = _sample_shape(shape, "Input", input_dim_hint=False, argument="shape")
        try:
            given = None if dtype is None else np.dtype(dtype)
        except TypeError:
            given = None
        if dtype is not None and (given is None or given.kind not in "biuf"):
            raise ValueError(f"Input: dtype must be a numeric NumPy dtype such as 'int32' or 'float32', "
                             f"got {dtype!r:.80}")
        # .dtype is a name, as Keras' KerasTensor.dtype: the one given, else the default float
        # dtype (Keras' floatx, glassnet's float32). _given_dtype keeps whether one was given: a
        # model's drawing shows its own dtype for an Input that declared none
        self._given_dtype = None if given is None else given.name
        self.dtype = self._given_dtype or backend.floatx()

    def __setstate__(self, state):
        # pickled before .shape was Keras' (None, *sample_shape): the sample shape was stored as shape
        if "sample_shape" not in state and "shape" in state:
            state["sample_shape"] = tuple(state.pop("shape"))
        # pickled before .dtype was a name: None (none given), a NumPy dtype, or "string"
        if "_given_dtype" not in state:
            old = state.get("dtype")
            state["_given_dtype"] = None if old is None else old if isinstance(old, str) else np.dtype(old).name
            state["dtype"] = state["_given_dtype"] or backend.resolve_dtype(None).name
        self.__dict__.update(state)

    @property
    def shape(self):
        """Keras' shape of the input tensor, the batch axis first: ``(None, *sample_shape)``, or
        ``(batch_size, *sample_shape)`` when one was given (the same as ``batch_shape``). So Keras
        code reads the same axes of an Input as of a layer's output (``x.shape[1]``, the steps)."""
        return (self.batch_size, *self.sample_shape)

    @property
    def ndim(self):
        """The number of axes of ``shape``, the batch axis included (Keras' ``KerasTensor.ndim``)."""
        return len(self.sample_shape) + 1

    @property
    def batch_shape(self):
        """Keras' ``(batch_size, *shape)``: the batch axis (None unless ``batch_size`` was given)
        and one sample's shape."""
        return (self.batch_size, *self.sample_shape)

    def __repr__(self):
        if self.batch_size is not None:
            return f"InputLayer(shape={self.sample_shape}, batch_size={self.batch_size})"
        return f"InputLayer(shape={self.sample_shape})"

    def _no_values(self, *_args, **_kwargs):
        raise TypeError(f"{self!r} holds no values: it is a model's input, where only layers can be called "
                        f"(a functional Model, or a subclass of Model's call, is drawn on it), besides +, -, *, /, **, @, "
                        f"//, %, comparisons, &, |, ^, ~, round(), unary -, abs() and basic indexing (x[:, 0]), "
                        f"and glassnet.ops' "
                        f"functions (ops.tanh(x), ops.mean(x, axis=1)); for other "
                        f"functions, a Layer of your own; for an activation, its layer "
                        f"(gn.layers.Activation(\"relu\"), ReLU())")

    def __getattr__(self, name):
        # only for attributes it lacks: an array's (x.size, x.max), which glassnet.activations'
        # functions read (see SymbolicTensor.__getattr__); still an AttributeError for hasattr
        raise no_array_attribute(self, name, "it holds no values, it is a model's input")

    # iteration has no meaning on it (TensorOperators makes the operators' calls): one clear error
    __iter__ = _no_values
    # and np.transpose(x), np.reshape(x), np.split(x), np.asarray(x) this (as a drawn tensor's):
    # without it NumPy wraps the input in a 0-d object array and fails on that ("axes don't
    # match array"), never saying that an Input holds no values
    __array__ = _no_values


def given_integer_dtype(tensor):
    """The integer or bool dtype given to ``tensor``'s ``Input`` (ids, codes: ``"int32"``), else None
    (a float, a text or no dtype given; not an Input). Model files and Keras' keep it."""
    given = getattr(tensor, "_given_dtype", None)
    if isinstance(given, str) and given != "string" and np.dtype(given).kind in "iub":
        return np.dtype(given).name
    return None


def no_array_attribute(holder, name, state):
    """The AttributeError for ``holder.name``, an array attribute (x.size, x.max) that an Input or
    a drawn tensor lacks, ``state`` saying why it has no values. Dunder lookups (copy, pickle) get
    Python's own bare message."""
    if name.startswith("__"):
        return AttributeError(name)
    return AttributeError(f"{holder!r} has no attribute {name!r}: {state}, so NumPy and the functions of "
                          f"glassnet.activations cannot compute on it; call layers on it (an activation: "
                          f"gn.layers.Activation(\"relu\"), ReLU(); other functions: a Layer of your own), "
                          f"+, -, *, /, **, abs() and x[:, 0] (TensorOp layers), or glassnet.ops' functions "
                          f"(ops.max(x, axis=1), ops.tanh(x))")


def _deprecated_shapes(shape, batch_shape, deprecated):
    """``(shape, batch_shape)`` with Keras 2's names for them, which Keras 3.15's InputLayer still takes
    (``input_shape`` with a warning, ``batch_input_shape``; keras.io's older examples write
    ``layers.InputLayer(input_shape=(28, 28, 1))``); any other keyword refused by name."""
    if not deprecated:
        return shape, batch_shape
    unknown = sorted(set(deprecated) - {"input_shape", "batch_input_shape"})
    if unknown:
        raise TypeError(f"InputLayer: unexpected keyword argument {unknown[0]!r} (taken: shape, name, dtype, "
                        f"batch_size, batch_shape, and Keras 2's input_shape, batch_input_shape)")
    if "input_shape" in deprecated:
        if shape is not None:
            raise TypeError(f"InputLayer: give shape or Keras 2's input_shape, not both (shape {shape!r:.60}, "
                            f"input_shape {deprecated['input_shape']!r:.60})")
        warnings.warn("Argument `input_shape` is deprecated. Use `shape` instead.", stacklevel=3)
        shape = deprecated["input_shape"]
    if "batch_input_shape" in deprecated:
        if batch_shape is not None:
            raise TypeError("InputLayer: give batch_shape or Keras 2's batch_input_shape, not both")
        batch_shape = deprecated["batch_input_shape"]
    return shape, batch_shape


def _shape_and_batch_size(shape, batch_size, batch_shape):
    """(one sample's shape, batch_size or None) from Input's ``shape``, ``batch_size`` and
    ``batch_shape``; each bad value refused by its name."""
    if batch_shape is not None:
        if shape is not None or batch_size is not None:
            given = "shape" if shape is not None else "batch_size"
            raise ValueError(f"Input: give batch_shape=(batch_size, *shape) or {given}, not both (batch_shape "
                             f"{batch_shape!r:.60}, {given} {shape if shape is not None else batch_size!r:.60})")
        if not isinstance(batch_shape, (tuple, list)) or len(batch_shape) < 1:
            raise ValueError(f"Input: batch_shape must be a tuple (batch_size, *shape), such as (32, 10) or "
                             f"(None, 10), got {batch_shape!r:.60}")
        shape, batch_size = tuple(batch_shape[1:]), batch_shape[0]
        argument = "batch_shape[0]"
    else:
        argument = "batch_size"
        if shape is None:
            raise TypeError("Input: missing the shape of one sample, shape=(features,) (or Keras' "
                            "batch_shape=(batch_size, features))")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                   or batch_size < 1):
        raise ValueError(f"Input: {argument} must be a whole number > 0 (or None for any), got {batch_size!r:.60}")
    return shape, None if batch_size is None else int(batch_size)


def Input(shape=None, name=None, dtype=None, *, batch_size=None, batch_shape=None):
    """Keras' ``Input(shape, name, dtype, batch_size, batch_shape)``: an ``InputLayer`` to put
    first in a Sequential (or to call layers on, for a functional Model). ``batch_size`` and
    ``batch_shape`` are recorded only (see ``InputLayer``).

    >>> from glassnet import Sequential
    >>> from glassnet.layers import Dense
    >>> Sequential([Input((2,)), Dense(1)]).built
    True
    >>> Input((5, 3)).shape, Input(batch_shape=(32, 10)).shape, Input((10,), batch_size=32).sample_shape
    ((None, 5, 3), (32, 10), (10,))
    """
    return InputLayer(shape, name=name, dtype=dtype, batch_size=batch_size, batch_shape=batch_shape)
