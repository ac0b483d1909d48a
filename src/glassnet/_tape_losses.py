"""The losses a ``GradientTape`` records (glassnet.tape): glassnet Loss objects, ``Model.compute_loss``
and ``model.losses`` (Keras' per-sample loss functions: glassnet._tape_loss_functions).

A loss is a node with its own gradient, fused with the sigmoid or softmax of the model call that
gave ``y_pred`` (its node's kept logits ``z``), as training (and Keras on TensorFlow, which reads the
logits) computes it: its backward gives that call dL/dz (``_Logits``). The regularizers' penalties
are nodes that give the weights their gradients at the values the penalties read (``_Penalty``).
"""
import copy

import numpy as np

from . import _tape_state
from .losses.base import Loss
from .losses.taped import Taped
from ._tape_activity import recorded_activity
from ._tape_calls import _HeadOutput, _LayerNode, _ModelCall, _recorded_terms
from ._tape_values import Node, _Logits, _paused, _plain, _wrap, node_of


def record_losses(model, values, penalties, activity=()):
    """``model.losses`` while a tape records: the add_loss terms of the model's latest call (its
    recorded call's: their gradient goes through that call's backward pass), the activity penalties
    of the layers ``activity`` on that call (glassnet._tape_activity), then the weight penalties
    (``penalties``' entries, each recorded as compute_loss records them)."""
    n = len(values) - len(penalties) - len(activity)
    m = n + len(activity)
    return _recorded_terms(model, values[:n]) + recorded_activity(model, activity, values[n:m]) + \
        [_wrap(value, _Penalty([entry])) for value, entry in zip(values[m:], penalties)]


class _LossNode(Node):
    def __init__(self, parent, backward):
        super().__init__([parent], "loss")
        self._backward = backward

    def backward(self, g, zg, add_weight, wants):
        return [self._backward(np.asarray(g))]


def record_loss(loss, y_pred, y_true, sample_weight=None, rows=None):
    """``loss(y_pred, y_true)`` (a glassnet Loss, PyTorch's order), recorded: its value now and its
    own gradient at ``gradient``; fused with the sigmoid or softmax of the model call that gave
    ``y_pred``, as training (and Keras on TensorFlow, which reads the logits) computes it (an output
    of a model of several: its value from the logits, its gradient through the activation).
    ``rows`` (glassnet.scoring's ``Rows``, or ``ScalarRows``): the rows the loss scores, as fit's
    compiled loss scores them (a masked output's real steps, weights per position); the gradient
    goes back to the whole output, zeros at the rows not scored."""
    from .model import fuses_with
    parent = node_of(y_pred, "y_pred")
    if node_of(y_true, "y_true") is not None:
        raise TypeError(f"{loss.name}: y_true is a recorded value; the targets are taken as constants. "
                        + _recorded_targets_hint(parent, "a glassnet Loss object takes (y_pred, y_true), PyTorch's "
                                                 "order (Keras' loss_fn(y_true, y_pred) swapped): loss_fn(logits, y)"))
    whole, y = np.asarray(_plain(y_pred)), _plain(y_true)
    w = None if sample_weight is None else np.asarray(_plain(sample_weight))
    activation = loss.fused_activation()
    z, layer = _logits_of(parent)
    fused = (activation is not None and z is not None and fuses_with(layer, activation) and whole.shape == z.shape)
    a = whole
    if rows is not None:
        a, y, w = rows.of(whole), rows.targets(np.asarray(y)), rows.weights(w)
        z = rows.of(z) if fused else None
    padding = a.shape[0] == 0       # every step masked: no row to score, a loss of 0 (fit's, Keras')
    with _paused():
        if padding:
            value = 0.0
        elif fused:         # (the targets as the loss's own call lines them up: labels (n,) for (n, 1) outputs)
            y = loss._targets(a, y)
            value = loss.value_from_logits(z, a, y) if w is None else loss.weighted_from_logits(z, a, y, w)
        else:
            value = loss(a, y) if w is None else loss.weighted(a, y, w)
    # in the loss's own dtype= where it has one (its direct call's and Keras' value), else the outputs'
    own = getattr(loss, "dtype", None)
    value = np.asarray(value, dtype=own if own in ("float32", "float64") else whole.dtype)
    if parent is None:
        return value

    def back(grad, g):      # the rows' gradient times g, for the whole output
        grad = np.zeros(a.shape, whole.dtype) if padding else (np.asarray(grad) * g).astype(whole.dtype, copy=False)
        return grad if rows is None else rows.back(grad)

    each = _per_sample_values(loss, value, a)
    seeded = each is None and isinstance(loss, Taped) and loss.reduction in (None, "none")

    def unfused(g):
        if each is not None:
            return back(None if padding else each.gradient(g, w, a, y_unfused), 1)
        if seeded and not padding:      # a loss of yours of reduction "none", values of any shape
            with _paused():
                return back(loss.seeded_gradient(a, y_unfused, w, g), 1)
        with _paused():
            grad = None if padding else loss.gradient(a, y_unfused) if w is None else \
                loss.weighted_gradient(a, y_unfused, w)
        return back(grad, g)

    def backward(g):
        g = np.asarray(g)
        if not fused or not isinstance(parent, _ModelCall):    # (an output of several: its own node's)
            return unfused(g)
        with _paused():
            t = None if padding else general_targets(loss, a, y)
            t = y if t is None else t
            if each is not None:
                return _Logits(back(None if padding else each.gradient(g, w, a, t, fused=True), 1), lambda: unfused(g))
            dz = None if padding else loss.gradient_from_logits(a, t) if w is None else \
                loss.weighted_gradient_from_logits(a, t, w)
        return _Logits(back(dz, g), lambda: unfused(g))
    y_unfused = y       # on logits (from_logits=True) the class's gradient is softmax(z) - y too
    if not fused and getattr(loss, "from_logits", False) and not padding:
        with _paused():
            t = general_targets(loss, loss.probabilities(a), y)
        y_unfused = y if t is None else t
    return _wrap(value, _LossNode(parent, backward))


class _EachSample:
    """The gradient of a loss of ``reduction="none"`` (one value per sample, or per sample and
    position) under a tape: the upstream gradient ``g`` of those values (the ones a
    ``tape.gradient`` of them starts from: their sum's, as TensorFlow's) weighs each one, so dL/dz is
    the loss of ``reduction="sum"``'s with ``g`` (times any sample weights) as the weights; values
    per position, (n, steps), are taken as rows of one weight each, their loss being row by row."""

    def __init__(self, loss, shape):
        self.summed = copy.copy(loss)
        self.summed._take_reduction("sum", vars(loss).get("name"))
        self.shape = shape          # the values'

    def gradient(self, g, w, a, y, fused=False):
        weights = np.broadcast_to(np.asarray(g, dtype=a.dtype), self.shape)
        if w is not None:
            w = np.asarray(w, dtype=a.dtype)
            weights = weights * w.reshape(w.shape + (1,) * (len(self.shape) - w.ndim))
        rows = a if len(self.shape) == 1 else a.reshape(-1, a.shape[-1])
        y = np.asarray(y)
        if len(self.shape) > 1:     # labels (n, steps) or targets (n, steps, k) as rows
            y = y.reshape(-1) if y.shape == self.shape else y.reshape(-1, y.shape[-1])
        weights = weights.reshape(-1)
        with _paused():
            grad = (self.summed.weighted_gradient_from_logits if fused else self.summed.weighted_gradient)(rows, y, weights)
        return np.asarray(grad).reshape(a.shape)


def _per_sample_values(loss, value, a):
    """``_EachSample`` for a loss of ``reduction="none"`` whose values are one per sample or per
    sample and position (of ``a.shape[:-1]``); None for any other (its gradient as before)."""
    if getattr(loss, "reduction", None) not in (None, "none") or not isinstance(loss, Loss):
        return None
    shape = np.shape(value)
    if not a.ndim or shape not in ((a.shape[0],), tuple(a.shape[:-1])) or not shape:
        return None
    if getattr(loss, "keras_axis", False) and loss.axis % a.ndim != a.ndim - 1:
        return None         # values over another axis: not rows of the last (refused as before)
    return _EachSample(loss, shape)


def general_targets(loss, p, y):
    """For ``CategoricalCrossentropy`` (its own gradient methods, any reduction) scoring softmax
    outputs ``p`` against targets ``y`` whose rows do not sum to 1 (multi-hot, a row of zeros:
    ``fit`` refuses them, a GradientTape of yours does not): targets ``y'`` on which the class's
    fused gradient, linear in its targets, ``(p - smooth(y')) c`` (c: the row's weight, the
    reduction's factor), is the general dL/dz of the loss on ``y``, ``(p sum(smooth(y)) -
    smooth(y)) c``, as PyTorch and Keras on torch and JAX take it (Keras on TensorFlow keeps its
    kernel's ``p - y``). None where the rows sum to 1 (the class's own gradient holds) or the loss
    is not that class's. The value is still taken on ``y``."""
    from .losses.crossentropy import CategoricalCrossentropy
    from .losses.base import plain_type
    plain = plain_type(loss)
    if not isinstance(loss, CategoricalCrossentropy) or \
            plain.gradient_from_logits is not CategoricalCrossentropy.gradient_from_logits:
        return None
    y = np.asarray(y)
    if y.shape != p.shape or y.dtype.kind not in "fiub" or not y.size:
        return None
    t = loss._smooth(y.astype(p.dtype, copy=False))
    sums = t.sum(axis=-1, keepdims=True)
    if np.allclose(sums, 1.0, rtol=0.0, atol=1e-6):
        return None
    # smooth(y') = smooth(y) - p (sums - 1): y' = y - p (sums - 1) / (1 - s), s < 1 (s = 1: sums are 1)
    return (y - p * (sums - 1) / (1.0 - loss.label_smoothing)).astype(p.dtype, copy=False)


def _recorded_targets_hint(y_pred_node, order):
    """What to do about recorded targets. ``y_pred`` a constant: the arguments are swapped (``order``
    says the right one). ``y_pred`` recorded too: either that, or targets computed under the tape on
    purpose (keras.io's Distiller: a teacher's softened predictions), which swapping would not help."""
    if y_pred_node is None:
        return order[0].upper() + order[1:]
    return (f"If y_true is the prediction being trained, the arguments are swapped: {order}. If it holds "
            f"targets computed under the tape (a teacher's predictions, as keras.io's Distiller computes "
            f"them), take them as constants: ops.stop_gradient(y_true) (TF's gradient where nothing trained "
            f"reaches them: a frozen teacher), or compute them outside the tape")


def _logits_of(node):
    """``(z, layer)``: the logits kept by the recorded model call ``node`` (or by its output
    of a model of several), and the layer giving them; ``(None, None)`` for any other value."""
    if isinstance(node, _ModelCall) and node.z is not None:
        return node.z, node.model._output_layer
    if isinstance(node, _LayerNode) and isinstance(node.layer, _HeadOutput) and node.layer.z is not None:
        return node.layer.z, node.layer.head.layer
    return None, None


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
    ``loss_weights``; a model of several outputs: each scored output's, summed) plus
    ``model.losses`` (the add_loss terms, the activity penalties, the weights' regularization
    penalties); recorded while a tape records."""
    if y_pred is None:
        raise ValueError("compute_loss: y_pred: expected the model's outputs (y_pred = self(x, training=True)), got None")
    total = None
    if model.loss is not None:
        if y is None:
            raise ValueError("compute_loss: y: expected the targets of the compiled loss, got None")
        total = _outputs_loss(model, y_pred, y, sample_weight) if model._heads is not None else \
            _output_loss(model, y_pred, y, sample_weight)
    terms = getattr(model, "_loss_terms", None)
    if terms is not None and terms.kept:        # add_loss terms of the latest pass (Keras adds model.losses)
        values = [np.asarray(v, dtype=model.dtype) for v in terms.values()]
        for term in _recorded_terms(model, values) if _tape_state.recording() else values:
            total = term if total is None else total + term
    activity = model._activity_terms()          # the activity regularizers' penalties on that pass
    if activity:
        layers, values = [layer for layer, _ in activity], [np.asarray(v, dtype=model.dtype) for _, v in activity]
        for term in recorded_activity(model, layers, values) if _tape_state.recording() else values:
            total = term if total is None else total + term
    # the penalties of the trainable layers' weights now (Keras': a layer frozen since the layout
    # is still in _penalties)
    trained = {id(param) for layer, _, param, _ in getattr(model, "_views", ()) if layer.trainable}
    penalties = [entry for entry in getattr(model, "_penalties", ()) or () if id(entry[1]) in trained]
    if penalties:
        value = np.asarray(sum(float(r(p)) for r, p, _ in penalties), dtype=model.dtype)
        penalty = _wrap(value, _Penalty(penalties)) if _tape_state.recording() else value
        total = penalty if total is None else total + penalty
    return np.asarray(0.0, dtype=model.dtype) if total is None else total


def _output_loss(model, y_pred, y, sample_weight):
    """The compiled loss of a model of one output, scored as fit scores it (``_scored``): a masked
    output's real steps alone (the mask of the recorded call that gave ``y_pred``), weights per
    position, labels per position, one number per sample."""
    from .scalar_outputs import ScalarRows
    y_pred, y, sample_weight = _one_output_forms(model, y_pred, y, sample_weight)
    a = np.asarray(_plain(y_pred))
    w = None if sample_weight is None else np.asarray(_plain(sample_weight), dtype=model.dtype)
    if a.ndim == 1:
        rows = ScalarRows.of_batch(a, np.asarray(_plain(y)), model.loss)
    else:
        rows = model._rows(a, w)        # (refuses a loss that reads whole sequences with a mask, as fit)
        call = node_of(y_pred, "y_pred")
        if rows is not None and model._output_mask is not None:
            mask = call.mask if isinstance(call, _ModelCall) else model._output_mask.pending_mask
            if mask is not None and mask.shape != a.shape[:mask.ndim]:
                raise ValueError(f"compute_loss: y_pred: expected the outputs of the model's latest call, whose mask "
                                 f"is {mask.shape}, got shape {a.shape}")
            rows.mask = mask
    total = record_loss(model.loss, y_pred, y, w, rows=rows)
    return total * model._loss_weight if model._loss_weight != 1.0 else total


def _one_output_forms(model, y_pred, y, sample_weight):
    """Keras' per-output forms of a model of one output, unwrapped as ``fit`` unwraps them
    (glassnet._listforms): the ``{key: output}`` a dict output of one key gives (``self(x)``), with
    ``{key: y}`` and ``{key: w}``, and the lists of one, ``[y_pred]``, ``[y]``, ``[w]``, which Keras
    3.15's ``compute_loss`` flattens; without this the dict was read as one object array and the
    list as a batch of one sample."""
    from ._listforms import by_output_name, one_output
    key, output = model._dict_output_key(), model._output_layer.name
    y_pred, _ = by_output_name(y_pred, "compute_loss: y_pred", key, output, "outputs")
    if isinstance(y_pred, (list, tuple)) and len(y_pred) == 1:
        y_pred = y_pred[0]
    samples = np.shape(_plain(y_pred))[0] if np.ndim(_plain(y_pred)) else 0
    name = model._single_output_name()
    y, _ = by_output_name(y, "compute_loss: y", key, output)
    y, _ = one_output(y, "compute_loss: y", samples, name)
    sample_weight, _ = by_output_name(sample_weight, "compute_loss: sample_weight", key, output, "weights")
    sample_weight, _ = one_output(sample_weight, "compute_loss: sample_weight", samples, name, "weights")
    return y_pred, y, sample_weight


def _outputs_loss(model, y_pred, y, sample_weight):
    """The compiled loss of a model of several outputs, as Keras 3's ``compute_loss`` sums it:
    each scored output's own loss on its targets (and its sample weights), times its weight;
    ``y_pred``, ``y`` (and ``sample_weight`` per output) a list in the outputs' order or a dict by
    their names, None (or left out of a dict) for an output compiled without a loss (``y`` also a
    list of the scored outputs' targets alone: ``targets_per_output``). Each output's loss, before
    its weight, joins its running "<output>_loss" (glassnet.default_steps.track_output_loss), as
    Keras' ``CompileLoss`` updates its trackers at every call."""
    from .default_steps import track_output_loss
    from .outputs import per_output, per_output_weights, scored_part, targets_per_output
    heads = model._heads
    preds = per_output(y_pred, heads, "compute_loss: y_pred")
    targets = targets_per_output(y, heads, "compute_loss: y")
    weights = per_output(sample_weight, heads, "compute_loss: sample_weight", allow_missing=True) \
        if per_output_weights(sample_weight) else [sample_weight] * len(heads)
    total = None
    for head, pred, target, w in zip(heads, preds, targets, weights):
        if not head.scored:
            continue
        if target is None:
            raise ValueError(f"compute_loss: y: output {head.name!r} has a loss, so it needs targets, got None")
        w = None if w is None else np.asarray(_plain(w), dtype=model.dtype)
        rows = None if head.shape else scored_part(head, np.asarray(_plain(pred)), np.asarray(_plain(target)))[3]
        value = record_loss(head.loss, pred, target, w, rows=rows)
        # Keras' CompileLoss: each output's loss before its weight, into its "<output>_loss" tracker
        track_output_loss(model, head, value, pred)
        if head.weight != 1.0:
            value = value * head.weight
        total = value if total is None else total + value
    return total
