"""The losses a ``GradientTape`` records (glassnet.tape): glassnet Loss objects, Keras' per-sample
loss functions, ``Model.compute_loss`` and ``model.losses``.

A loss is a node with its own gradient, fused with the sigmoid or softmax of the model call that
gave ``y_pred`` (its node's kept logits ``z``), as training (and Keras on TensorFlow, which reads the
logits) computes it: its backward gives that call dL/dz (``_Logits``). The regularizers' penalties
are nodes that give the weights their gradients at the values the penalties read (``_Penalty``).
"""
import numpy as np

from . import _tape_state
from ._tape_calls import _ModelCall, _recorded_terms
from ._tape_record import _keras_arguments
from ._tape_values import Node, _Logits, _holds_live, _paused, _plain, _wrap, node_of


def record_losses(model, values, penalties):
    """``model.losses`` while a tape records: the add_loss terms of the model's latest call (its
    recorded call's: their gradient goes through that call's backward pass), then the weight
    penalties (``penalties``' entries, each recorded as compute_loss records them)."""
    n = len(values) - len(penalties)
    return _recorded_terms(model, values[:n]) + [_wrap(value, _Penalty([entry]))
                                                 for value, entry in zip(values[n:], penalties)]


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
