"""``GradientTape``: gradients of a loss you compute, for custom training steps and loops.

TensorFlow's eager tape, restricted to what glassnet can differentiate exactly with the backward
passes it already has::

    with gn.GradientTape() as tape:
        logits = model(x, training=True)                 # a model or layer call: recorded
        loss = loss_fn(logits, y)                         # a Loss object (y_pred first), compute_loss
        loss = loss + 1e-3 * ops.sum(ops.square(logits))  # glassnet.ops and Python operators
    grads = tape.gradient(loss, model.trainable_weights)
    optimizer.apply_gradients(zip(grads, model.trainable_weights))

What a tape records while it is open (per thread): calls of models and layers on arrays; the
``glassnet.ops`` functions and Python operators on recorded values, each run as a fresh node of
``layers/tensor_functions.py`` or ``tensor_ops.py`` (their forward now, their backward at
``gradient``); glassnet losses (Loss objects, ``Model.compute_loss``) with their own gradients,
fused with a sigmoid or softmax output as training is. Recorded values are ``Recorded`` arrays (an
ndarray subclass, usable as arrays); NumPy functions on them while a tape records are refused by
name (they would leave the tape: use ``glassnet.ops``).

A model called twice (a GAN's D on real and on fake samples) gets the earlier call's forward pass
run again before its backward, from the random generators' and moving statistics' state at that
call (Dropout draws the same masks), and those states are put back after it. So does a call whose
layers ran any other pass since (``predict``, ``evaluate``, ``fit``: ``_tape_state.FORWARDS``), with
the weights it used put back for its backward pass where an optimizer step changed them since (TF's
tape keeps the values).
"""
import itertools
import weakref

import numpy as np

from . import _tape_state
from ._warnings import warn

__all__ = ["GradientTape", "Recorded"]

_order = itertools.count()      # creation order of nodes: a topological order of every graph
# _tape_state.FORWARDS: bumped by every forward pass of a model or call of a layer, recorded or not:
# a recorded call's stamp is its value after the call's pass; another value at gradient means the
# layers hold another pass's caches (a predict, evaluate, fit or model(x) since) and the call runs again
_FORWARDS = _tape_state.FORWARDS


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
            if method == "__call__" and not kwargs:
                if name in _UFUNC_OPS:
                    return _record_op(_UFUNC_OPS[name], inputs, {})
                if name in _NO_GRADIENT_UFUNCS:       # comparisons and the like: constants, as in TF
                    return ufunc(*[_plain(v) for v in inputs])
            raise TypeError(f"numpy.{name}{'' if method == '__call__' else '.' + method} on a value a GradientTape "
                            f"records: the tape does not see NumPy functions nor ndarray methods (x.sum(), "
                            f"x.reshape()); use glassnet.ops ({_ops_hint(name)}), or np.asarray(x) for the values "
                            f"without gradient")
        inputs = [_plain(v) for v in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(_plain(v) for v in kwargs["out"])
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if _tape_state.recording() and _holds_live(args, kwargs):
            raise TypeError(f"numpy.{func.__name__} on a value a GradientTape records: the tape does not see NumPy "
                            f"functions; use glassnet.ops.{func.__name__} where it has one, or np.asarray(x) for "
                            f"the values without gradient")
        return super().__array_function__(func, types, args, kwargs)

    def __getitem__(self, index):
        if _live(self) and _tape_state.recording():
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


def _in_place_recorded(*values):
    return bool(_tape_state.recording()) and any(_live(v) or getattr(v, "_derived", False) for v in values)


def _ops_hint(name):
    return {"add": "ops.add or +", "subtract": "ops.subtract or -", "multiply": "ops.multiply or *",
            "exp": "ops.exp", "log": "ops.log", "sqrt": "ops.sqrt", "tanh": "ops.tanh"}.get(name, f"ops.{name}")


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


def watched_node(value):
    """The leaf node of ``value`` when a recording tape watches that very array, else None."""
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


class _LayerNode(Node):
    """A layer's eager forward pass (an op's node, or a layer called on arrays): its backward."""

    def __init__(self, layer, parents, what, weights=False, x=None, training=False):
        super().__init__(parents, what)
        self.layer, self.weights, self.x, self.training = layer, weights, x, training
        self.stamp = None
        self.weights_at = _weights_at(layer.params.values()) if weights else []

    def backward(self, g, zg, add_weight, wants):
        layer = self.layer
        if not self.weights:
            grads = layer.backward(g)
            return grads if isinstance(grads, list) else [grads]
        now = _swap_in(self)
        try:
            if self.stamp != _FORWARDS[0]:      # a layer called alone: its caches may be another call's
                _rerun(self, [layer], lambda: layer.forward(self.x, training=self.training))
            layer.needs_input_gradient = True
            grads = layer.backward(g)
        finally:
            _swap_back(now)
        if layer.trainable:
            for key, param in layer.params.items():
                add_weight(param, layer.grads[key])
        return grads if isinstance(grads, list) else [grads]


def _weights_at(params):
    """The weights of a recorded call with a copy of their values at it (TF's tape differentiates
    at the values the call used)."""
    return [(param, param.copy()) for param in params]


def _swap_in(node):
    """Put back the weights that changed since ``node``'s call (an optimizer step, fit, set_weights
    between recording and gradient: its caches were made with the old ones, and its backward reads
    the kernels) and mark its caches stale; returns the values of now, for ``_swap_back``."""
    now = [(param, param.copy()) for param, then in node.weights_at if not np.array_equal(param, then)]
    for param, _ in now:
        param[...] = next(then for p, then in node.weights_at if p is param)
    if now:
        node.stamp = None
    return now


def _swap_back(now):
    for param, value in now:
        param[...] = value


def _rerun(node, layers, forward):
    """Run ``node``'s forward pass again from the layers' state at its call (the same dropout
    masks, the moving statistics as they were), then put the state of now back."""
    from .layers.base import StateSnapshot
    now = StateSnapshot(layers)
    node.before.restore()
    try:
        with _paused(), _tape_state.calls_kept():
            forward()
    finally:
        now.restore()
    _FORWARDS[0] += 1       # (a layer's forward run directly: no count of its own)
    node.stamp = _FORWARDS[0]


class _ModelCall(Node):
    def __init__(self, model, parents, x, training, before):
        # parents: one per input of the model (several: a list or dict of arrays, Keras' D([G(z), labels]))
        super().__init__(parents, f"model {model.name!r}")
        self.model, self.x, self.training, self.before = model, x, training, before
        layer = model._output_layer
        z = getattr(layer, "z", None) if model._heads is None else None    # (several outputs: never fused)
        self.z = None if z is None else z.copy()
        self.stamp = _FORWARDS[0]       # (model._forward has just counted this call's pass)
        self.header = None              # several outputs of open sizes: the packed rows' header
        self.weights_at = _weights_at(param for _, _, param, _ in getattr(model, "_views", ()))
        # its add_loss terms' values (model.losses, read after it: _TermNode) and the gradient the
        # target sends each; only those read on the tape are in its backward pass, as in TF
        terms = getattr(model, "_loss_terms", None)
        self.kept = None if terms is None else terms.kept
        self.term_scales = None if terms is None else [0.0] * len(terms.terms)

    # {call index: dL/d(that call's output)} of outputs asked for as sources (tape.gradient(loss,
    # h)), set by the tape's walk: the model may read such an output itself (a char-RNN cell's
    # y = Dense(h_new) beside h_new), so its gradient is the total its backward pass gathers there
    asked = None

    def backward(self, g, zg, add_weight, wants):
        model = self.model
        flags = [layer.needs_input_gradient for layer in model.layers]

        def gather(i, grad, totals=self.asked):      # dL/d(call i's output), its readers' summed
            if i in totals:
                totals[i] = np.array(grad) if totals[i] is None else totals[i] + grad
        seen = gather if self.asked else None
        # several outputs: each head's columns hold dL/d(output), not a compiled loss' dL/dz
        heads = model._heads or ()
        fused_heads = [head.fused for head in heads]
        gin = None          # dL/d(input), or with several inputs, the list of dL/d(each)
        several = len(self.parents) > 1
        terms = getattr(model, "_loss_terms", None)
        if g is not None and np.ndim(g) == 0:       # only its add_loss terms (_TermNode) reach it
            g = None if zg is not None else np.zeros(self.shape, model.dtype)
        now = _swap_in(self)
        try:
            for head in heads:
                head.fused = False
            first = True
            for grad, fused in ((zg, True), (g, False)):
                if grad is None:
                    continue
                # the layers must hold this call's caches; a functional Model's shared layers give
                # theirs up in each backward pass, so a second pass runs the forward again
                if self.stamp != _FORWARDS[0] or (not first and getattr(model, "_shared", None)):
                    _rerun(self, model.layers, lambda: model._forward(self.x, training=self.training))
                if terms is not None:       # the terms' gradients once, in the first pass
                    terms.scales = self.term_scales if first else [0.0] * len(self.term_scales)
                first = False
                if any(wants) or self.asked:
                    for layer in model.layers:
                        layer.needs_input_gradient = True
                grad = np.asarray(grad, dtype=model.dtype)
                if self.header is not None:     # (each output's gradient came with zeros there)
                    grad = grad.copy()
                    grad[:, :self.header.shape[1]] = self.header
                made = model._graph_backward(grad, fused, seen=seen, every_input=True) if several else \
                    model._backward(grad, fused, seen=seen)
                model._sync_views()
                for layer, _, param, pgrad in model._views:
                    # a layer frozen since the model's weights were laid out (no compile in a loop
                    # of one's own) is still in them: its weights get no gradient (None), as in TF
                    if layer.trainable:
                        add_weight(param, pgrad)
                if several:
                    gin = made if gin is None else [a if b is None else b if a is None else a + b
                                                     for a, b in zip(gin, made)]
                elif made is not None:
                    gin = made if gin is None else gin + made
                if getattr(model, "_shared", None):
                    self.stamp = None
        finally:
            _swap_back(now)
            for layer, flag in zip(model.layers, flags):
                layer.needs_input_gradient = flag
            for head, fused in zip(heads, fused_heads):
                head.fused = fused
            if terms is not None:
                terms.scales = None
        return gin if several else [gin]


class _TermNode(Node):
    """An ``add_loss`` term of a recorded model call, as ``model.losses`` or ``compute_loss`` read
    it: its gradient (a number: the term is a sum) weighs the term in that call's backward pass."""

    def __init__(self, call, j):
        super().__init__([call], "an add_loss term")
        self.j = j

    def backward(self, g, zg, add_weight, wants):
        g = np.asarray(g)
        if g.size and np.any(g != g.flat[0]):
            raise NotImplementedError("GradientTape: an add_loss term given as a tensor (model.losses lists its "
                                      "values) is differentiated as its sum only: reduce it with ops.sum or ops.mean")
        call = self.parents[0]
        call.term_scales[self.j] += float(g.flat[0]) if g.size else 0.0
        return [np.zeros((), g.dtype)]      # (the call's backward runs, for the terms, without an output gradient)


_LATEST = weakref.WeakValueDictionary()     # id(model) -> its latest recorded call (_ModelCall)


def _recorded_terms(model, values):
    """``values`` (the model's add_loss terms on its latest pass) recorded, when a recording tape
    made that pass (else constants, as TF's for a call outside the tape)."""
    terms, call = getattr(model, "_loss_terms", None), _LATEST.get(id(model))
    if terms is None or call is None or call.model is not model or terms.kept is not call.kept \
            or not any(t in _tape_state.recording() for t in call.tapes):
        return list(values)
    return [_wrap(value, _TermNode(call, j)) for j, value in enumerate(values)]


def record_losses(model, values, penalties):
    """``model.losses`` while a tape records: the add_loss terms of the model's latest call (its
    recorded call's: their gradient goes through that call's backward pass), then the weight
    penalties (``penalties``' entries, each recorded as compute_loss records them)."""
    n = len(values) - len(penalties)
    return _recorded_terms(model, values[:n]) + [_wrap(value, _Penalty([entry]))
                                                 for value, entry in zip(values[n:], penalties)]


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


def _record(node_or_layer, inputs, what=None):
    """Run an op node (a layer instance, fresh per call) eagerly on the plain ``inputs`` and record it."""
    layer = node_or_layer
    parents = [node_of(v) for v in inputs]
    plain = [_plain(v) for v in inputs]
    with _paused():
        out = layer.forward(plain if getattr(layer, "merges", False) else plain[0])
    if not any(p is not None for p in parents):
        return np.asarray(out)
    return _wrap(out, _LayerNode(layer, parents, what or getattr(layer, "op", type(layer).__name__)))


class _GetItem:
    """``x[index]`` of a recorded value (any NumPy index; repeated entries gather their gradients)."""
    merges, op = False, "get_item"

    def __init__(self, index):
        self.index = tuple(_plain(i) for i in index) if isinstance(index, tuple) else _plain(index)

    def forward(self, x, training=False):
        self.shape, self.dtype = x.shape, x.dtype
        return np.asarray(x[self.index])

    def backward(self, g):
        grad = np.zeros(self.shape, self.dtype)
        np.add.at(grad, self.index, g)
        return grad


class _HeadOutput:
    """One output of a model of several, read from its packed outputs (n, sum of sizes): its
    backward puts dL/d(output) in that output's columns, zeros elsewhere (the model's backward
    reads each head's columns of the packed gradient; the rows' header of open sizes is copied)."""
    merges = False

    def __init__(self, head, packed):
        self.head, self.op = head, f"output {head.name!r}"

    def forward(self, packed, training=False):
        self.shape, self.dtype = packed.shape, packed.dtype
        open_ = self.head.layout.open if self.head.layout is not None else 0
        self.header = np.array(packed[:, :open_])
        return np.array(self.head.output(packed))

    def backward(self, g):
        grad = np.zeros(self.shape, self.dtype)
        open_ = self.head.layout.open if self.head.layout is not None else 0
        if open_:           # the sizes, which say where the columns lie (the model's call puts them back)
            grad[:, :open_] = self.header
        self.head.output(grad)[...] = g
        if open_:
            grad[:, :open_] = 0
        return grad


class _Reshape:
    merges, op = False, "reshape"

    def __init__(self, shape):
        self.target = shape

    def forward(self, x, training=False):
        self.shape = x.shape
        return x.reshape(self.target)

    def backward(self, g):
        return np.reshape(g, self.shape)


# -- ops ---------------------------------------------------------------------------------------------
# Python's operators reach a Recorded through NumPy's ufuncs: the op each one records
_UFUNC_OPS = {"add": "add", "subtract": "subtract", "multiply": "multiply", "true_divide": "divide",
              "divide": "divide", "negative": "negative", "power": "power", "matmul": "matmul",
              "absolute": "abs", "positive": "positive", "maximum": "maximum", "minimum": "minimum",
              # NumPy's own rewrites of x ** 2, x ** 0.5, x ** -1
              "square": "square", "sqrt": "sqrt", "reciprocal": "reciprocal"}
_NO_GRADIENT_UFUNCS = {"greater", "greater_equal", "less", "less_equal", "equal", "not_equal", "isnan", "isinf",
                       "isfinite", "sign", "floor", "ceil", "rint", "logical_and", "logical_or", "logical_not",
                       "logical_xor", "floor_divide", "trunc"}
# ops giving values without gradient (comparisons, indices, rounding): computed on the plain values
NO_GRADIENT = {"shape", "equal", "not_equal", "greater", "greater_equal", "less", "less_equal", "logical_and",
               "logical_or", "logical_not", "logical_xor", "argmax", "argmin", "argsort", "any", "all", "isnan",
               "isinf", "isfinite", "sign", "floor", "ceil", "round", "trunc", "stop_gradient", "convert_to_numpy",
               "one_hot", "zeros_like", "ones_like", "floor_divide"}
REDUCING = ("sum", "mean", "max", "min", "prod", "std", "var", "logsumexp", "norm")
ELEMENTWISE_BINARY = {"add": "add", "subtract": "subtract", "multiply": "multiply", "divide": "true_divide"}


def _keras_arguments(function, args, kwargs, skip):
    """The keyword arguments of ``function(*args, **kwargs)`` past its first ``skip`` (the tensors)."""
    import inspect
    bound = inspect.signature(function).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(list(bound.arguments.items())[skip:])


def _as_operand(value, like):
    """A constant operand beside a recorded one: a Python number takes the recorded one's dtype
    (Keras' weak types), so that ``x * 2.0`` stays float32."""
    if isinstance(value, Recorded):
        return value
    if not isinstance(value, np.ndarray) or value.ndim == 0:
        return np.asarray(value, dtype=like.dtype if np.asarray(value).dtype.kind in "fiub" else None)
    return value


def _record_op(name, args, kwargs, function=None):
    """``ops.<name>(*args, **kwargs)`` recorded: a fresh node of the op, forward now."""
    from .layers.tensor_functions import OPS, TensorFunction
    from .layers.tensor_ops import TensorOp
    if name in NO_GRADIENT:
        with _paused():
            return function(*[_plain(a) for a in args], **{k: _plain(v) for k, v in kwargs.items()})
    if name == "positive":
        return args[0]
    if name == "convert_to_tensor":     # a watched array as a recorded value: operators on it are recorded
        return _record(_Reshape(np.shape(args[0])), [args[0]], "convert_to_tensor")
    if name in ELEMENTWISE_BINARY or name in ("maximum", "minimum", "matmul", "power"):
        if name == "power" and not isinstance(args[1], Recorded) and np.ndim(args[1]) == 0:
            return _record(TensorOp("power", constant=float(args[1])), [args[0]])
        like = next(np.asarray(a) for a in args if isinstance(a, Recorded) or watched_node(a) is not None)
        a, b = (_as_operand(v, like) for v in args[:2])
        node = TensorOp(ELEMENTWISE_BINARY[name]) if name in ELEMENTWISE_BINARY else TensorFunction(name)
        return _record(node, [a, b], name)
    if name in ("negative", "abs"):
        return _record(TensorOp("negative" if name == "negative" else "absolute"), [args[0]])
    if name in _OWN_NODES:
        return _record_own(name, function, args, kwargs)
    if name == "reshape":
        given = _keras_arguments(function, args, kwargs, 1)
        return _record(_Reshape(tuple(given["newshape"])), [args[0]])
    if name == "squeeze":
        given = _keras_arguments(function, args, kwargs, 1)
        return _record(_Reshape(np.squeeze(np.asarray(args[0]), given["axis"]).shape), [args[0]])
    if name == "cast":
        given = _keras_arguments(function, args, kwargs, 1)
        if np.dtype(given["dtype"]).kind != "f":
            return np.asarray(args[0]).astype(given["dtype"])
        return _record(TensorFunction("cast", {"dtype": np.dtype(given["dtype"]).name}), [args[0]])
    if len(args) < 1 or node_of(args[0]) is None or name not in OPS or _holds_live(args[1:], kwargs):
        raise TypeError(f"ops.{name} on a value a GradientTape records: not recorded (the tape records the "
                        f"element-wise functions, the reductions, softmax, log_softmax, reshape, transpose, squeeze, "
                        f"expand_dims, concatenate, stack, where, einsum, take, take_along_axis, the convolutions and "
                        f"poolings, matmul, maximum, minimum, clip, cast, abs, negative and "
                        f"the operators + - * / ** @ and indexing); compute it from those, or on np.asarray(x) "
                        f"without gradient")
    given = {} if function is None else _keras_arguments(function, args, kwargs, 1)
    x = args[0]
    if name in REDUCING and given.get("axis") is None:
        given["axis"] = list(range(x.ndim))         # every axis (the nodes' axis=None is a sample's)
    if name == "transpose" and given.get("axes") is None:
        given["axes"] = list(range(x.ndim))[::-1]
    return _record(TensorFunction(name, given), [x], name)


_OWN_NODES = ("concatenate", "stack", "where", "einsum", "take", "take_along_axis", "conv", "depthwise_conv",
              "separable_conv", "conv_transpose", "max_pool", "average_pool")


def _record_own(name, function, args, kwargs):
    """The ops of glassnet._tape_ops: NumPy's meaning of every axis (no batch axis apart)."""
    from . import _tape_ops
    given = _keras_arguments(function, args, kwargs, 0)
    if name not in ("concatenate", "stack", "where", "einsum") and any(
            node_of(v) is not None for k, v in given.items() if k not in ("x", "inputs", "kernel")):
        raise TypeError(f"ops.{name}: only x (inputs) and a kernel take gradients on values a GradientTape records; "
                        f"give the other arguments as constants (np.asarray(...))")
    if name in ("concatenate", "stack", "where", "einsum"):
        values = list(given.get("xs", given.get("x"))) if name in ("concatenate", "stack") else list(given["operands"]) \
            if name == "einsum" else [given["condition"], given["x1"], given["x2"]]
        live = [node_of(v) is not None for v in values]
        if name == "where":
            if given["x1"] is None:
                raise ValueError("ops.where: where(condition) alone (indices) has no gradient; give x1 and x2")
            live[0] = False         # the condition takes no gradient (TF's)
            values[0] = np.asarray(_plain(values[0]))
        like = np.asarray(values[live.index(True)]) if any(live) else None
        if like is None:
            with _paused():
                return function(*[_plain(a) for a in args], **{k: _plain(v) for k, v in kwargs.items()})
        values = [v if is_live else np.asarray(_as_operand(_plain(v), like)) for v, is_live in zip(values, live)]
        node = (_tape_ops.Join(name, values, live, given["axis"]) if name in ("concatenate", "stack") else
                _tape_ops.Where(values, live) if name == "where" else
                _tape_ops.Einsum(given["subscripts"], values, live))
        return _record(node, [v for v, is_live in zip(values, live) if is_live], name)
    if name in ("take", "take_along_axis"):
        if node_of(given["x"]) is None:     # a constant read at recorded indices: integers, no gradient
            with _paused():
                return function(*[_plain(a) for a in args], **{k: _plain(v) for k, v in kwargs.items()})
        indices = np.asarray(_plain(given["indices"]))
        if indices.dtype.kind not in "iu":
            raise TypeError(f"ops.{name}: indices must be integers, got an array of {indices.dtype}")
        node = (_tape_ops.Take if name == "take" else _tape_ops.TakeAlongAxis)(indices, given["axis"])
        return _record(node, [given["x"]], name)
    return function(*args, **kwargs)        # the convolutions: glassnet._ops_conv calls record_conv


def record_conv(op, x, kernel, arguments):
    """``ops.<op>`` (a convolution with ``kernel``, or a pooling: kernel None) on a recorded input
    or kernel (a watched array), by the convolution layers' kernels (glassnet._tape_ops.Window)."""
    from . import _tape_ops
    values = [x] if kernel is None else [x, kernel]
    live = [node_of(v) is not None for v in values]
    like = np.asarray(values[live.index(True)])
    values = [v if is_live else np.asarray(_plain(v), dtype=like.dtype) for v, is_live in zip(values, live)]
    return _record(_tape_ops.Window(op, arguments, values, live), [v for v, is_live in zip(values, live) if is_live], op)


def record_ops_call(name, function, args, kwargs):
    """``glassnet.ops``' hook: a call holding a recorded value while a tape records."""
    return _record_op(name, args, kwargs, function)


# -- model and layer calls -------------------------------------------------------------------------
def record_model_call(model, x, training):
    """``model(x, training=...)`` while a tape records: the forward pass, kept for the backward."""
    from .layers.base import StateSnapshot
    count = len(getattr(model, "_input_shapes", None) or [None])
    if count > 1 and isinstance(x, (list, tuple, dict)):
        # several inputs (a list in the order of model.inputs, or a dict by their keys): each one's
        # node, so that a recorded input (a generator's G(z) beside labels) or a watched one gets
        # its gradient; _prepare_x packs their plain values
        keys = model._feed_keys() if isinstance(x, dict) else range(len(x))
        parents = [node_of(x.get(key) if isinstance(x, dict) else x[key], f"the model's input {key!r}")
                   for key in keys]
        x = {key: _plain(v) for key, v in x.items()} if isinstance(x, dict) else [_plain(v) for v in x]
    else:
        parents = [node_of(x, "the model's input")]
    with _paused():
        before = StateSnapshot(model.layers)
        prepared = model._on_device(model._prepare_x(_plain(x)))
        with _tape_state.calls_kept():      # its shared layers' caches, for its backward (glassnet.callgraph)
            out = model._forward(prepared, training=training)
        public = model._public_outputs(out)
    node = _ModelCall(model, parents, prepared, training, before)
    node.shape = np.shape(out)
    _LATEST[id(model)] = node
    if node.kept is not None:   # its terms may be read after its output is let go (model(x); sum(model.losses))
        for tape in _tape_state.recording():
            tape._held.append(node)
    if public is out:
        return _wrap(out, node)
    # several outputs (a list, or a dict by key), or a nested model's {key: output}: the model's
    # pass gives them packed side by side (glassnet.outputs); each is a node reading its columns,
    # and the gradients they send back add up, column by column, into the packed gradient that
    # the model's backward pass takes (the header of open sizes copied, as fit's loss does)
    packed = _wrap(out, node)
    open_ = model._heads[0].layout.open if model._heads is not None and model._heads[0].layout is not None else 0
    if open_:
        node.header = np.array(out[:, :open_])
    if model._heads is None:            # {key: out}: the one output under its key
        return {key: packed for key in public}
    outputs = [_record(_HeadOutput(head, out), [packed]) for head in model._heads]
    if model._output_keys is None:
        return outputs
    from ._dictoutputs import as_dict
    return as_dict(model._output_keys, outputs)


def record_layer_call(layer, x, training, mask):
    """``layer(x)`` on arrays while a tape records (a layer alone, with or without weights)."""
    from .layers.base import StateSnapshot
    if isinstance(x, (list, tuple)):
        parents = [node_of(v) for v in x]
        plain = [_plain(v) for v in x]
    else:
        parents, plain = [node_of(x, "the layer's input")], _plain(x)
    with _paused():
        before = StateSnapshot([layer])
        out = layer(plain, training=training) if mask is None else layer(plain, training=training, mask=mask)
    if not layer.params and all(p is None for p in parents):
        return out
    if mask is not None:
        raise NotImplementedError(f"GradientTape: {layer.describe()} called with mask=: not recorded")
    node = _LayerNode(layer, parents, layer.describe(), weights=True,
                      x=[np.asarray(p, dtype=layer.dtype) for p in plain] if isinstance(plain, list)
                      else np.asarray(plain).astype(layer.dtype, copy=False), training=training)
    node.before = before
    node.stamp = _FORWARDS[0]       # (Layer.__call__ has just counted this call)
    return _wrap(out, node)


# -- losses ------------------------------------------------------------------------------------------
class _LossNode(Node):
    def __init__(self, parent, backward):
        super().__init__([parent], "loss")
        self._backward = backward

    def backward(self, g, zg, add_weight, wants):
        return [self._backward(np.asarray(g))]


def record_loss(loss, y_pred, y_true, sample_weight=None):
    """``loss(y_pred, y_true)`` (a glassnet Loss, PyTorch's order), recorded: its value now and its
    own gradient at ``gradient``; fused with the sigmoid or softmax of the model call that gave
    ``y_pred``, as training (and Keras on TensorFlow, which reads the logits) computes it."""
    from .model import fuses_with
    if node_of(y_true, "y_true") is not None:
        raise TypeError(f"{loss.name}: y_true is a recorded value; a glassnet Loss object takes (y_pred, y_true), "
                        f"PyTorch's order (Keras' loss_fn(y_true, y_pred) swapped): loss_fn(logits, y). The targets "
                        f"are taken as constants")
    parent = node_of(y_pred, "y_pred")
    a, y = np.asarray(_plain(y_pred)), _plain(y_true)
    w = None if sample_weight is None else np.asarray(_plain(sample_weight))
    activation = loss.fused_activation()
    fused = (isinstance(parent, _ModelCall) and activation is not None and parent.z is not None
             and fuses_with(parent.model._output_layer, activation) and a.shape == parent.z.shape)
    with _paused():
        if fused:           # (the targets as the loss's own call lines them up: labels (n,) for (n, 1) outputs)
            y = loss._targets(a, y)
            z = parent.z
            value = loss.value_from_logits(z, a, y) if w is None else loss.weighted_from_logits(z, a, y, w)
        else:
            value = loss(a, y) if w is None else loss.weighted(a, y, w)
    value = np.asarray(value, dtype=a.dtype)
    if parent is None:
        return value

    def unfused(g):
        with _paused():
            grad = loss.gradient(a, y) if w is None else loss.weighted_gradient(a, y, w)
        return (np.asarray(grad) * g).astype(a.dtype, copy=False)

    def backward(g):
        if not fused:
            return unfused(g)
        with _paused():
            dz = loss.gradient_from_logits(a, y) if w is None else loss.weighted_gradient_from_logits(a, y, w)
        return _Logits((np.asarray(dz) * g).astype(a.dtype, copy=False), lambda: unfused(g))
    return _wrap(value, _LossNode(parent, backward))


def record_loss_function(function, args, kwargs, noted):
    """Keras' per-sample loss function ``function(y_true, y_pred, ...)`` (glassnet.losses.functions)
    on a recorded ``y_pred``, recorded: its values (n, ...) now; at ``gradient``, each value's
    gradient from its loss class: the class's value is the mean of the function's N values, each
    reading its own sample's (and position's) entries, so d(sum g_i value_i)/d y_pred is N g times
    the class's gradient (dL/dz, fused with the sigmoid or softmax of the model call that gave
    y_pred, as ``record_loss`` and Keras on TensorFlow, which reads the logits)."""
    from .model import fuses_with
    name = function.__name__
    bound = _keras_arguments(function, args, kwargs, 0)
    y_true, y_pred = bound["y_true"], bound["y_pred"]
    if node_of(y_true, "y_true") is not None or _holds_live([v for k, v in bound.items() if k not in ("y_true", "y_pred")]):
        raise TypeError(f"losses.{name}: y_true is a recorded value; Keras' loss functions take (y_true, y_pred), "
                        f"the targets first (glassnet's Loss objects take (y_pred, y_true)): the tape takes the "
                        f"targets as constants")
    parent = node_of(y_pred, "y_pred")
    plain = {k: _plain(v) for k, v in bound.items()}
    noted.seen = seen = []
    try:
        with _paused():
            values = np.asarray(function(**plain))
    finally:
        noted.seen = None
    a = np.asarray(plain["y_pred"])
    loss, scored, y = seen[0] if len(seen) == 1 else (None, None, None)
    count = values.size
    if loss is None or np.shape(scored) != a.shape or values.shape != a.shape[:values.ndim] or \
            not np.isclose(float(np.mean(values, dtype=np.float64)), float(loss(scored, y)), rtol=1e-4, atol=1e-6):
        raise TypeError(f"losses.{name} on a value a GradientTape records: not recorded for these arguments (its "
                        f"values are not the mean of its loss class's on y_pred as given); use the loss class, "
                        f"glassnet.losses.{type(loss).__name__ if loss is not None else 'Loss'}(...)(y_pred, y_true)")
    if parent is None:
        return values
    activation = loss.fused_activation()
    fused = (isinstance(parent, _ModelCall) and activation is not None and parent.z is not None
             and fuses_with(parent.model._output_layer, activation) and a.shape == parent.z.shape)

    def spread(g):          # each value's g over the entries it reads, times N (the class takes the mean)
        return np.reshape(np.asarray(g), values.shape + (1,) * (a.ndim - values.ndim)) * count

    def unfused(g):
        with _paused():
            grad = loss.gradient(a, y)
        return (np.asarray(grad) * spread(g)).astype(a.dtype, copy=False)

    def backward(g):
        if not fused:
            return unfused(g)
        with _paused():
            dz = loss.gradient_from_logits(a, y)
        return _Logits((np.asarray(dz) * spread(g)).astype(a.dtype, copy=False), lambda: unfused(g))
    node = _LossNode(parent, backward)
    node.what = f"losses.{name}"
    return _wrap(values.astype(a.dtype, copy=False), node)


class _Penalty(Node):
    """The regularizers' penalties on a model's trained weights (Keras' ``model.losses`` part)."""

    def __init__(self, penalties):
        super().__init__([], "regularization penalties")
        # with the weights' values now: their gradient at gradient() is the one at these (TF's)
        self.penalties = [(regularizer, param, param.copy()) for regularizer, param, _ in penalties]

    def backward(self, g, zg, add_weight, wants):
        for regularizer, param, then in self.penalties:
            grad = np.zeros_like(param)
            regularizer.add_gradient(then, grad)
            add_weight(param, grad * np.asarray(g, dtype=param.dtype))
        return []


def compute_loss(model, x=None, y=None, y_pred=None, sample_weight=None):
    """Keras 3's ``Model.compute_loss``: the compiled loss of ``y_pred`` against ``y`` (times
    ``loss_weights``) plus the weights' regularization penalties; recorded while a tape records."""
    if y_pred is None:
        raise ValueError("compute_loss: y_pred: expected the model's outputs (y_pred = self(x, training=True)), got None")
    if model._heads is not None:
        raise NotImplementedError("compute_loss: a model of several outputs is not supported by GradientTape yet")
    if model._activity_cache[2]:
        raise NotImplementedError(f"compute_loss: model {model.name!r} has activity regularizers, which "
                                  f"GradientTape does not record yet")
    total = None
    if model.loss is not None:
        if y is None:
            raise ValueError("compute_loss: y: expected the targets of the compiled loss, got None")
        total = record_loss(model.loss, y_pred, y, sample_weight)
        if model._loss_weight != 1.0:
            total = total * model._loss_weight
    # the penalties of the trainable layers' weights now (Keras': a layer frozen since the layout
    # is still in _penalties)
    trained = {id(param) for layer, _, param, _ in getattr(model, "_views", ()) if layer.trainable}
    penalties = [entry for entry in getattr(model, "_penalties", ()) or () if id(entry[1]) in trained]
    if penalties:
        value = np.asarray(sum(float(r(p)) for r, p, _ in penalties), dtype=model.dtype)
        penalty = _wrap(value, _Penalty(penalties)) if _tape_state.recording() else value
        total = penalty if total is None else total + penalty
    terms = getattr(model, "_loss_terms", None)
    if terms is not None and terms.kept:        # add_loss terms of the latest pass (Keras adds model.losses)
        values = [np.asarray(v, dtype=model.dtype) for v in terms.values()]
        for term in _recorded_terms(model, values) if _tape_state.recording() else values:
            total = term if total is None else total + term
    return np.asarray(0.0, dtype=model.dtype) if total is None else total


# -- the tape ------------------------------------------------------------------------------------------
class GradientTape:
    """Records the computations made while it is open, for ``gradient``: TensorFlow's
    ``tf.GradientTape``, eager and exact. ``persistent=True`` lets ``gradient`` run more than once.

    >>> with GradientTape() as tape:                       # doctest: +SKIP
    ...     loss = loss_fn(model(x, training=True), y)
    >>> grads = tape.gradient(loss, model.trainable_weights)      # doctest: +SKIP
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        for name, value in (("persistent", persistent), ("watch_accessed_variables", watch_accessed_variables)):
            if not isinstance(value, bool):
                raise TypeError(f"GradientTape: {name}: expected True or False, got {value!r:.60}")
        self.persistent = persistent
        # False: TF's rule, only what watch() was given is differentiated: a weight not watched
        # gets None, and so does a recorded value that depends on nothing watched
        self.watch_accessed_variables = watch_accessed_variables
        self._watched = {}
        self._held = []         # model calls with add_loss terms (record_model_call)
        self._used = False
        self._open = False

    def __enter__(self):
        if self._open:
            raise RuntimeError("GradientTape: this tape is already recording")
        self._open = True
        _tape_state.push(self)
        return self

    def __exit__(self, *exc):
        self._open = False
        _tape_state.pop(self)
        return False

    def watch(self, tensor):
        """Record computations on ``tensor`` (an array, or a list/tuple/dict of them), so that
        ``gradient`` can give d target / d tensor: TF's ``tape.watch`` of an input."""
        items = tensor.values() if isinstance(tensor, dict) else tensor if isinstance(tensor, (list, tuple)) else [tensor]
        for item in items:
            if isinstance(item, Recorded):
                continue            # recorded already
            if not isinstance(item, np.ndarray) or item.dtype.kind != "f":
                raise TypeError(f"GradientTape.watch: expected a float array (the data whose gradient is asked), got "
                                f"{type(item).__name__}{' of ' + str(item.dtype) if hasattr(item, 'dtype') else ''}")
            if id(item) not in self._watched:
                self._watched[id(item)] = (item, _Leaf(self))

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """d target / d each source, in the structure of ``sources`` (an array, a list, a tuple or
        a dict, nested as deep as wanted): a weight array (``model.trainable_weights``' items, by identity), a recorded value,
        or an array given to ``watch``. ``target``: a recorded value (an array is summed, as TF's);
        None for a source the target does not depend on (TF's ``unconnected_gradients="none"``;
        ``"zero"`` gives zeros)."""
        if self._used and not self.persistent:
            raise RuntimeError("GradientTape.gradient: a tape that is not persistent gives gradients once; use "
                               "GradientTape(persistent=True) to ask it again")
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError(f"GradientTape.gradient: unconnected_gradients: expected 'none' or 'zero', got "
                             f"{unconnected_gradients!r:.40}")
        self._used = True
        flat, rebuild = _flatten(sources)
        start = target._node if isinstance(target, Recorded) and target._node is not None and \
            self in target._node.tapes else None
        if target is None or not hasattr(target, "shape"):
            raise TypeError(f"GradientTape.gradient: target: expected the recorded value to differentiate "
                            f"(a loss), got {type(target).__name__}")
        source_nodes = {}
        for k, s in enumerate(flat):
            if isinstance(s, Recorded) and s._node is not None:
                source_nodes.setdefault(s._node, []).append(k)
            elif isinstance(s, np.ndarray) and id(s) in self._watched and self._watched[id(s)][0] is s:
                source_nodes.setdefault(self._watched[id(s)][1], []).append(k)
            elif not isinstance(s, np.ndarray):
                raise TypeError(f"GradientTape.gradient: sources[{k}]: expected a weight array, a recorded value "
                                f"or a watched array, got {type(s).__name__}")
        results = [None] * len(flat)
        weights = {}
        if start is not None:
            seed = np.ones(np.shape(target), np.asarray(target).dtype) if output_gradients is None \
                else np.asarray(output_gradients, dtype=np.asarray(target).dtype)
            self._backward(start, seed, source_nodes, results, weights)
        if not self.watch_accessed_variables:
            for k, s in enumerate(flat):
                if isinstance(s, Recorded) and results[k] is not None and not self._reaches_watched(s._node):
                    results[k] = None
        for k, s in enumerate(flat):
            if results[k] is None and id(s) in weights and weights[id(s)][0] is s and (
                    self.watch_accessed_variables or self._is_watched(s)):
                results[k] = weights[id(s)][1]
            if results[k] is None and unconnected_gradients == "zero":
                results[k] = np.zeros(np.shape(s), np.asarray(s).dtype)
        if not self.persistent:
            self._watched, self._held = {}, []
        return rebuild(results)

    def _backward(self, start, seed, source_nodes, results, weights):
        # the nodes reachable from the target through this tape's records, latest first
        reach, stack = {start}, [start]
        while stack:
            for parent in stack.pop().parents:
                if parent is not None and self in parent.tapes and parent not in reach:
                    reach.add(parent)
                    stack.append(parent)
        # which nodes lead to a source (or hold weights): the others' input gradients are not made
        grads, zgrads = {start: seed}, {}

        def add_weight(param, grad):
            entry = weights.get(id(param))
            if entry is None:
                weights[id(param)] = (param, np.array(grad, dtype=param.dtype, copy=True))
            else:
                entry[1][...] += grad

        # an output of a model of several asked for as a source: its gradient is the one that
        # model call's backward pass gathers at it, the model's own readers of it included
        asked = {}
        for node, ks in source_nodes.items():
            if isinstance(node, _LayerNode) and isinstance(node.layer, _HeadOutput) and node.parents[0] in reach:
                asked.setdefault(node.parents[0], {}).setdefault(node.layer.head.call, []).extend(ks)

        for node in sorted(reach, key=lambda n: -n.index):
            g, zg = grads.pop(node, None), zgrads.pop(node, None)
            if g is None and zg is None:
                continue
            for k in source_nodes.get(node, ()):
                results[k] = g if zg is None else None
            wants = [p is not None and p in reach for p in node.parents]
            if node in asked:
                node.asked = dict.fromkeys(asked[node])
            try:
                parent_grads = node.backward(g, zg, add_weight, wants)
            finally:
                totals = node.__dict__.pop("asked", None)
            for i, ks in asked.get(node, {}).items():
                if totals[i] is not None:
                    for k in ks:
                        results[k] = totals[i]
            for parent, pg, want in zip(node.parents, parent_grads, wants):
                if not want or pg is None:
                    continue
                if isinstance(pg, _Logits):
                    if parent in source_nodes or not isinstance(parent, _ModelCall):
                        pg = pg.unfused()
                    else:
                        zgrads[parent] = pg.dz if parent not in zgrads else zgrads[parent] + pg.dz
                        continue
                grads[parent] = pg if parent not in grads else grads[parent] + pg

    def _is_watched(self, array):
        entry = self._watched.get(id(array))
        return entry is not None and entry[0] is array

    def _reaches_watched(self, node):
        """Whether ``node``'s value depends on an array ``watch`` was given (an input, or a weight
        a recorded call or penalty used): with ``watch_accessed_variables=False`` TF records no other."""
        stack, seen = [node], set()
        while stack:
            node = stack.pop()
            if node is None or node in seen:
                continue
            seen.add(node)
            if isinstance(node, _Leaf) and self in node.tapes:
                return True
            used = [p for p, _ in getattr(node, "weights_at", ())] + [p for _, p, _ in getattr(node, "penalties", ())]
            if any(self._is_watched(p) for p in used):
                return True
            stack.extend(node.parents)
        return False

    def reset(self):
        """Forget what was recorded (TF's ``tape.reset()``)."""
        self._watched, self._held = {}, []
        self._used = False

    def stop_recording(self):
        """A context in which this tape (and any other) records nothing (TF's)."""
        return _paused()


def _flatten(sources):
    """The arrays of ``sources`` in order, and a function rebuilding its structure from their
    gradients: lists, tuples and dicts nested as deep as wanted (TF's tf.nest:
    ``tape.gradient(loss, [model.trainable_weights, hidden_states])``)."""
    if not isinstance(sources, (dict, list, tuple)):
        return [sources], lambda r: r[0]
    keys = list(sources) if isinstance(sources, dict) else range(len(sources))
    parts = [_flatten(sources[key]) for key in keys]
    kind = dict if isinstance(sources, dict) else list if isinstance(sources, list) else tuple

    def rebuild(results):
        out, start = [], 0
        for flat, sub in parts:
            out.append(sub(results[start:start + len(flat)]))
            start += len(flat)
        return dict(zip(keys, out)) if kind is dict else kind(out)
    return [item for flat, _ in parts for item in flat], rebuild


# -- applying gradients ------------------------------------------------------------------------------
def _owner(param):
    base = param.base
    model = _tape_state.OWNERS.get(id(base)) if base is not None else None
    if model is not None and getattr(model, "_triples", None) and model._triples[0][1] is base:
        return model
    return None


def apply_gradients(optimizer, grads_and_vars, caller="apply_gradients"):
    """``optimizer.apply_gradients(zip(grads, weights))``: each weight updated in place by the
    optimizer's rule. The whole set of a model's trained weights steps as ``fit`` steps it (one
    flat buffer: the optimizer's state is fit's when it is the model's compiled one, and the
    constraints project after the update); other weights step one by one, each with state of its own."""
    pairs = []
    for k, pair in enumerate(grads_and_vars):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"{caller}: expected (gradient, weight) pairs, zip(grads, model.trainable_weights); "
                            f"item {k} is {type(pair).__name__}")
        grad, var = pair
        if not isinstance(var, np.ndarray) or isinstance(var, Recorded):
            raise TypeError(f"{caller}: the weight of pair {k} must be a weight array (model.trainable_weights' "
                            f"items), got {type(var).__name__}")
        if grad is None:
            continue
        grad = np.asarray(_plain(grad))
        if grad.shape != var.shape:
            raise ValueError(f"{caller}: the gradient of pair {k} has shape {grad.shape}, its weight {var.shape}")
        pairs.append((grad, var))
    if not pairs:
        warn(f"{caller}: no gradient to apply (every gradient was None): nothing is updated")
        return
    groups, loose = {}, []
    for grad, var in pairs:
        model = _owner(var)
        (groups.setdefault(id(model), (model, []))[1] if model is not None else loose).append((grad, var))
    steps = []
    for model, given in groups.values():
        views = {id(param): (grad_view, layer, key) for layer, key, param, grad_view in model._views}
        if len(given) == len(views) and {id(v) for _, v in given} == set(views):
            steps.append(("model", model, given, views))
        else:
            loose.extend(given)
    # one update of the optimizer for every pair (its iterations count one step, Adam's bias
    # correction reads it, and global_clipnorm sees every gradient): each model's whole set as its
    # flat buffer (the triple fit steps), the other weights each as a triple of its own
    triples, sizes, names, shapes = [], [], [], []
    for _, model, given, views in steps:
        model._sync_views()
        for grad, var in given:
            views[id(var)][0][...] = grad
        key, flat, flat_grads = model._triples[0]
        triples.extend(model._triples if optimizer is model.optimizer else [(f"{model.name}/params", flat, flat_grads)])
        sizes.extend(model._sizes)
        names.extend(model._names)
        shapes.extend(model._weight_shapes())
    for grad, var in loose:
        triples.append((_weight_key(var), var, grad.astype(var.dtype, copy=False)))
        sizes.append([var.size])
        names.append([triples[-1][0]])
        shapes.append([tuple(var.shape)])
    from .parameters import _takes_shapes
    if _takes_shapes(optimizer):
        optimizer.apply(triples, sizes, names, shapes=shapes)
    else:
        optimizer.apply(triples, sizes, names)
    for _, model, _, _ in steps:
        model._project()


def _weight_key(var):
    model = _owner(var)
    if model is not None:
        for layer, key, param, _ in model._views:
            if param is var:
                return f"{model.name}/{layer.name}/{key}"
    return f"weight@{id(var):x}"
