"""The values a ``GradientTape`` records and the nodes it records them with (glassnet.tape).

A recorded value is a ``Recorded`` array: an ndarray subclass holding the ``Node`` that made it.
Python's operators reach it through NumPy's ufuncs, which it records as ``glassnet.ops`` records
them (glassnet._tape_record); NumPy functions and ndarray methods on it while its tape records are
refused by name, since the tape would not see them. A ``Node`` holds its parents' nodes (None for
constants) and its backward pass; the tape walks them from the target back in creation order
(glassnet.tape). ``_wrap`` makes a value recorded by a node; ``_paused`` keeps every tape from
recording inside (a recorded call's own inner calls are its forward pass).
"""
import itertools

import numpy as np

from . import _tape_state

_order = itertools.count()      # creation order of nodes: a topological order of every graph


# Python's operators reach a Recorded through NumPy's ufuncs: the op each one records
_UFUNC_OPS = {"add": "add", "subtract": "subtract", "multiply": "multiply", "true_divide": "divide",
              "divide": "divide", "negative": "negative", "power": "power", "matmul": "matmul",
              "absolute": "abs", "positive": "positive", "maximum": "maximum", "minimum": "minimum",
              "remainder": "mod", "arctan2": "arctan2",      # x % y is keras.ops.mod, as on Keras' tensors
              # NumPy's own rewrites of x ** 2, x ** 0.5, x ** -1
              "square": "square", "sqrt": "sqrt", "reciprocal": "reciprocal"}
_NO_GRADIENT_UFUNCS = {"greater", "greater_equal", "less", "less_equal", "equal", "not_equal", "isnan", "isinf",
                       "isfinite", "sign", "floor", "ceil", "rint", "logical_and", "logical_or", "logical_not",
                       "logical_xor", "floor_divide", "trunc"}


class Recorded(np.ndarray):
    """An array a ``GradientTape`` recorded: the output of a model, a layer, a loss or an op.
    It is an ndarray (indexing, ``float(loss)``, printing, ``np.asarray`` all work); while its tape
    records, NumPy functions and ndarray methods that compute on it are refused by name, since the
    tape would not see them (``glassnet.ops`` has them). ``numpy()`` gives the plain array (TF's)."""

    _node = None
    _derived = False       # a view of a recorded value made by an ndarray method: not recorded

    def __array_finalize__(self, obj):
        self._node = None
        self._derived = isinstance(obj, Recorded) and (obj._derived or _live(obj))

    def numpy(self):
        """The values as a plain ndarray (TensorFlow's ``tensor.numpy()``)."""
        return np.asarray(self)

    def __repr__(self):
        return f"Recorded({np.asarray(self)!r})"

    def __str__(self):
        return str(np.asarray(self))

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        live = any(_live(v) or getattr(v, "_derived", False) for v in inputs)
        if live and _tape_state.recording():
            name = ufunc.__name__
            if method == "__call__" and name in _UFUNC_OPS and _into_plain_operand(inputs, kwargs):
                return _augmented(_UFUNC_OPS[name], inputs, kwargs["out"][0])
            if method == "__call__" and not kwargs:
                if name in _UFUNC_OPS:
                    from ._tape_record import _record_op
                    return _record_op(_UFUNC_OPS[name], inputs, {})
                if name in _NO_GRADIENT_UFUNCS:       # comparisons and the like: constants, as in TF
                    return ufunc(*[_plain(v) for v in inputs])
            name = name if method == "__call__" else f"{name}.{method}"
            raise TypeError(f"numpy.{name} on a value a GradientTape records: the tape does not see NumPy functions "
                            f"nor ndarray methods (x.sum(), x.reshape()); {_ops_hint(name)}")
        inputs = [_plain(v) for v in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(_plain(v) for v in kwargs["out"])
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if _tape_state.recording() and _holds_live(args, kwargs):
            raise TypeError(f"numpy.{_numpy_name(func)} on a value a GradientTape records: the tape does not see "
                            f"NumPy functions; {_ops_hint(func.__name__)}")
        return super().__array_function__(func, types, args, kwargs)

    def __getitem__(self, index):
        if _live(self) and _tape_state.recording():
            from ._tape_record import _GetItem, _record
            return _record(_GetItem(index), [self])
        return np.asarray(self)[index]

    def __reduce__(self):       # pickling or copying gives the plain values (a tape's graph does not travel)
        return np.asarray(self).__reduce__()

    # ``loss_value += sum(model.losses)`` (keras.io's loop): TF's ``+=`` makes a new tensor, NumPy's
    # writes into the array (numpy.add with out=, which the tape cannot record): while a tape
    # records a value, the augmented operators give the recorded new value, as TF's do
    def __iadd__(self, other):
        return self + other if _in_place_recorded(self, other) else super().__iadd__(other)

    def __isub__(self, other):
        return self - other if _in_place_recorded(self, other) else super().__isub__(other)

    def __imul__(self, other):
        return self * other if _in_place_recorded(self, other) else super().__imul__(other)

    def __itruediv__(self, other):
        return self / other if _in_place_recorded(self, other) else super().__itruediv__(other)


def _into_plain_operand(inputs, kwargs):
    """Whether a ufunc call is ``plain += recorded`` (NumPy's ``add(plain, recorded, out=(plain,))``):
    its one ``out`` an array of no tape that is one of its operands."""
    out = kwargs.get("out")
    return (set(kwargs) == {"out"} and isinstance(out, tuple) and len(out) == 1 and isinstance(out[0], np.ndarray)
            and not isinstance(out[0], Recorded) and any(out[0] is v for v in inputs))


def _augmented(op, inputs, out):
    """``plain += recorded`` while a tape records (keras.io's deep dream: ``loss = ops.zeros(())``, then
    ``loss += coeff * ...``): TF's ``+=`` makes a new tensor, so the op is recorded and its value
    returned, which Python binds to the name; the values are written into the plain array too, as
    NumPy's in-place operation writes them (where they fit it)."""
    from ._tape_record import _record_op
    # (the node keeps its operands for the backward pass: the plain one copied, before it is written)
    result = _record_op(op, [v.copy() if v is out else v for v in inputs], {})
    values = _plain(result)
    if values.shape == out.shape and np.can_cast(values.dtype, out.dtype, "same_kind"):
        np.copyto(out, values, casting="same_kind")
    return result


def _in_place_recorded(*values):
    return bool(_tape_state.recording()) and any(_live(v) or getattr(v, "_derived", False) for v in values)


# NumPy's names (functions, ufuncs and their methods, which ndarray methods call: x.sum() is
# numpy.add.reduce) whose glassnet.ops function has another name
_OPS_NAMES = {"true_divide": "divide", "amax": "max", "amin": "min", "absolute": "abs", "fabs": "abs",
              "around": "round", "rint": "round", "concat": "concatenate", "conjugate": "conj",
              "add.reduce": "sum", "multiply.reduce": "prod", "maximum.reduce": "max", "minimum.reduce": "min",
              "logical_and.reduce": "all", "logical_or.reduce": "any", "add.accumulate": "cumsum",
              "multiply.accumulate": "cumprod", "vecdot": "vdot", "permute_dims": "transpose"}
# the operator that gives the same recorded op
_OPERATORS = {"add": " (or +)", "subtract": " (or -)", "multiply": " (or *)", "divide": " (or /)",
              "power": " (or **)", "matmul": " (or @)", "negative": " (or unary -)"}


def _numpy_name(func):
    module = getattr(func, "__module__", "") or ""
    return f"linalg.{func.__name__}" if module.endswith("linalg") else func.__name__


def _ops_hint(name):
    """What to write instead of NumPy's ``name`` on a recorded value: the glassnet.ops function
    of that meaning, said to be recorded only where the tape records it on recorded values."""
    from . import ops
    from ._tape_record import records
    target = _OPS_NAMES.get(name, name)
    without = "or np.asarray(x) for the values without gradient"
    if not callable(getattr(ops, target, None)):
        return (f"glassnet.ops has no {target}: write it with the glassnet.ops functions the tape records, {without}")
    if not records(target):
        return (f"glassnet.ops.{target} exists but the tape does not record it on recorded values either: write it "
                f"with the ops the tape records (docs/guide/custom_training.md, What the tape records), {without}")
    return f"use glassnet.ops.{target}{_OPERATORS.get(target, '')}, which the tape records, {without}"


def _live(value):
    """Whether ``value`` is recorded by a tape recording now."""
    node = getattr(value, "_node", None)
    if node is None or not isinstance(value, Recorded):
        return False
    tapes = _tape_state.recording()
    return any(t in tapes for t in node.tapes)


def _holds_live(args, kwargs=None):
    values = list(args) + list((kwargs or {}).values())
    for v in values:
        items = v.values() if isinstance(v, dict) else v if isinstance(v, (list, tuple)) else (v,)
        if any(_live(i) or getattr(i, "_derived", False) or watched_node(i) is not None for i in items):
            return True
    return False


def _plain(value):
    return np.asarray(value) if isinstance(value, Recorded) else value


def own_variable(value):
    """Whether ``value`` is a ``glassnet.Variable`` holding an array of its own (not a view onto a
    layer's weight, which the tape finds through the layer's recorded calls)."""
    from .variables import Variable, WeightVariable
    return isinstance(value, Variable) and not isinstance(value, WeightVariable)


def accessed(variable):
    """The live array of ``variable`` (a ``glassnet.Variable`` of its own) read while tapes record:
    TF's rule, a trainable variable read under a tape is watched by it (``watch_accessed_variables``,
    the default; ``tape.watch(v)`` otherwise), so ops on it are recorded and ``tape.gradient(loss, v)``
    gives its gradient (keras.io's neural style transfer and deep dream optimize an image held in a
    variable). None where no recording tape watches it (its value is then a constant)."""
    live = variable._live()
    found = None
    for tape in _tape_state.recording():
        entry = tape._watched.get(id(live))
        if (entry is None or entry[0] is not live) and variable.trainable and tape.watch_accessed_variables:
            entry = tape._watched[id(live)] = (live, _Leaf(tape))
        if entry is not None and entry[0] is live and found is None:
            found = live
    return found


def watched_node(value):
    """The leaf node of ``value`` when a recording tape watches that very array, else None."""
    if own_variable(value):
        value = accessed(value)
    if not isinstance(value, np.ndarray) or isinstance(value, Recorded):
        return None
    for tape in _tape_state.recording():
        entry = tape._watched.get(id(value))
        if entry is not None and entry[0] is value:
            return entry[1]
    return None


def node_of(value, what="an input"):
    """The node a recording tape holds for ``value`` (None: a constant for every tape)."""
    if isinstance(value, Recorded):
        if _live(value):
            return value._node
        if value._derived:
            raise TypeError(f"{what} was made from a recorded value by an ndarray method or NumPy indexing "
                            f"the tape does not see (x.reshape, x.T, x.astype, ...); use glassnet.ops (ops.reshape, "
                            f"ops.transpose, ops.cast) on recorded values")
        return None
    return watched_node(value)


# -- nodes -----------------------------------------------------------------------------------------
class Node:
    """One recorded computation: its parents' nodes (None for constants) and ``backward(g, zg,
    add_weight, wants)`` giving each parent's gradient from dL/d(output) ``g`` (and, for a model's
    call, ``zg``: dL/d(logits) of a loss fused with its output activation); ``add_weight(param,
    grad)`` takes a weight's gradient; ``wants[k]``: whether parent k's gradient is needed."""

    def __init__(self, parents, what):
        self.parents = parents
        self.what = what
        self.index = next(_order)
        self.tapes = tuple(_tape_state.recording())

    def backward(self, g, zg, add_weight, wants):
        raise NotImplementedError


class _Leaf(Node):
    def __init__(self, tape):
        super().__init__([], "a watched array")
        self.tapes = (tape,)

    def backward(self, g, zg, add_weight, wants):
        return []


class _Logits:
    """A fused loss's gradient for the model call that made its y_pred: dL/dz of that call's
    output layer, and (``unfused``) dL/d(output), for a source asked for that output itself."""

    def __init__(self, dz, unfused):
        self.dz, self.unfused = dz, unfused


class _paused:
    """No tape records inside (the recorded call's own inner calls are its forward pass)."""

    def __enter__(self):
        self.tapes = list(_tape_state.recording())
        for tape in self.tapes:
            _tape_state.pop(tape)

    def __exit__(self, *exc):
        for tape in self.tapes:
            _tape_state.push(tape)


def _wrap(value, node):
    out = np.asarray(value).view(Recorded)
    out._node = node
    return out
