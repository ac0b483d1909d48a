"""One training step laid bare: every intermediate of a forward and backward pass (seed 003).

``model.trace(X, y)`` runs the same forward and backward pass as training, and works out the update
the optimizer would make, without keeping anything: for each layer its input, Z (the pre-activation),
A (the output), dA = dL/dA, dZ = dL/dZ, the parameter gradients and the update (what the step adds
to each parameter: -learning_rate * gradient for plain SGD, more for momentum or Adam; nothing for a
frozen layer). ``print(trace)`` shows them rounded like the tutorial's figures.

With a fused output (sigmoid + binary cross-entropy, softmax + categorical), training computes dZ
straight from the logits, and the loss without clipping; the output's dA shown is that unclipped
loss's derivative, so dZ = dA * (the activation's derivative) holds. Where an output saturated to
exactly 0 or 1, dA is infinite while dZ stays finite: the reason the two are fused.

With regularizers (``kernel_regularizer=``), the loss includes their penalties and ``grads`` their
gradients, as training has them; dA and dZ are the data loss's alone (a weight penalty does not
depend on the activations). An ``activity_regularizer``'s penalty is in the loss too, and its
gradient in the dA of its layer (and so in everything below it), as training has them.

>>> trace = model.trace(X, y)                    # doctest: +SKIP
>>> trace.loss, trace[0]["dZ"], trace[0]["grads"]["bias"]   # doctest: +SKIP
"""
import numpy as np

from . import backend
from ._serial import lock_of
from .layers.base import StateSnapshot
from .layers.masking import planned
from .outputs import gradient_shape_refusal
from .training import _read_only


class Trace(list):
    """A list with one dict per layer (keys: layer, input, Z, A, dA, dZ, grads, update; and xhat,
    the normalised input, for BatchNormalization and LayerNormalization) and ``.loss``. Frozen
    layers below a ``Lambda``, which passes no gradient back, have dA None and no grads.
    ``update`` maps each parameter to the step's change, ``{}`` for a frozen layer; it is None for
    every layer when the loss is not finite (training makes no update then)."""

    def __init__(self, records, loss, decimals=3):
        super().__init__(records)
        self.loss, self.decimals = loss, decimals

    def __str__(self):
        smallest_shown = 10.0 ** -self.decimals

        def row(label, array):
            head = f"  {label:<10}"           # continuation lines align under the first
            array = backend.to_numpy(array)          # printing happens on the host
            # tiny entries beside big ones print as 0., as in the tutorial's figures; but an array
            # whose every entry is tiny (the gradients deep in a network) keeps them, in e-notation,
            # rather than look like zeros
            tiny = array.size > 0 and float(np.max(np.abs(array))) < smallest_shown
            return head + np.array2string(array, precision=self.decimals, suppress_small=not tiny,
                                          floatmode="maxprec", separator=", ", prefix=head)
        lines = []
        for record in self:
            lines.append(f"== {record['layer']}")
            for key in ("input", "Z", "xhat", "A", "dA", "dZ"):
                value = record.get(key)
                if isinstance(value, list):         # a merge layer's inputs, one row each
                    lines += [row(f"{key}[{k}]", a) for k, a in enumerate(value) if a is not None]
                elif value is not None:
                    lines.append(row(key, value))
            lines += [row("d" + name, grad) for name, grad in record["grads"].items()]
            update = record.get("update")
            if update:
                lines += [row(name + " +=", step) for name, step in update.items()]
            elif update is not None and record["grads"]:
                lines.append("  (frozen: not updated)")
        tiny_loss = 0 < abs(self.loss) < smallest_shown
        lines.append(f"loss {self.loss:.{self.decimals}{'e' if tiny_loss else 'f'}}")
        return "\n".join(lines)


def trace(model, x, y):
    """Forward and backward through ``model`` on (x, y) without an update; see the module docstring.
    Training-mode side effects are undone: BatchNormalization's moving statistics and Dropout's
    generators are as they were, so a later ``fit`` runs exactly as it would have without the trace.
    As in ``train_on_batch``, ``x`` reaches the first layer read-only (a layer changing its input in
    place fails rather than change the caller's data), and an optimizer compiled into another model
    since is refused by name.
    Holds the model's lock (glassnet._serial), as ``model.trace``, ``fit`` and ``predict`` do: a
    ``predict`` of the same model in another thread waits for the trace, not overwriting its caches."""
    with lock_of(model):
        return _locked_trace(model, x, y)


def _locked_trace(model, x, y):
    model._require_compiled("trace")
    model._apply_trainable_flags()          # layers frozen since compile, as fit takes them up
    # an optimizer compiled into another model since holds that model's state: its step (the
    # update shown) would be wrong or fail on mismatched shapes; refused by name, as training does
    model._check_optimizer()
    x, y = model._on_device(*model._prepare_xy(x, y))     # where the weights are (a GPU for CuPy)
    # the caller's own array, as train_on_batch passes it: read-only, so that a layer changing its
    # input in place fails as it does in training instead of silently changing the caller's data
    x = _read_only(x)
    snapshot = StateSnapshot(model.layers)
    model._mark_first_layer(every=True)     # every layer's gradients, also where training stops early
    try:
        result = _trace(model, x, y)
    finally:
        model._mark_first_layer()
        snapshot.restore()
    _add_updates(model, result)
    return result


def _trace(model, x, y):
    records, out, activity = [], x, model._activity
    if activity is not None:
        activity.clear()
    # a call the training pass skips (a branching block's inference draw: glassnet._switch_skips)
    # runs nothing: its record holds no values, and the records stay one per call of the graph
    skipped, calls = model._skipped_calls(True) or (), model._node_layers
    with planned(model._mask_plan):                       # masks (layers/masking.py), as in training
        for layer, inputs, out in model._walk(x, training=True):
            while len(records) in skipped:
                records.append({"layer": calls[len(records)].describe(), "input": None, "Z": None, "A": None})
            if activity is not None and layer.activity_regularizer is not None:
                activity[layer] = out
            # a merge layer's inputs are a list: each is copied
            records.append({"layer": layer.describe(),
                            "input": [None if a is None else a.copy() for a in inputs]     # (None: a skipped call's)
                            if isinstance(inputs, list) else inputs.copy(),
                            "Z": _copy(getattr(layer, "z", None)), "A": out.copy()})
            if getattr(layer, "xhat", None) is not None:      # Batch- or LayerNormalization's normalised input
                records[-1]["xhat"] = layer.xhat.reshape(out.shape).copy()
    out = model._outputs_of_walk(out)      # (several outputs: packed, glassnet.outputs)
    loss = model._loss_from_output(out, y)
    # dA of the output is the derivative of the loss training computes: fused, that is the
    # unclipped value (see the module docstring), else the loss's own gradient; for the rows the
    # loss scores (labels per position, a masked output's real steps: glassnet.scoring)
    # (weights ws with none given: a summing loss's over an output of one number per sample, as
    # training weighs it: glassnet.scalar_outputs)
    scored, ys, ws, rows = model._scored(out, y)
    back = (lambda g: g) if rows is None else rows.back
    padding = scored.shape[0] == 0      # every step masked: a zero gradient, as training has it
    # times compile's loss_weights (model._weighed), as training weighs a single output's gradient
    if model._fused:        # the last layer takes dL/dz; its record shows dL/dA all the same
        dz = None if padding else (model.loss.gradient_from_logits(scored, ys) if ws is None
                                   else model.loss.weighted_gradient_from_logits(scored, ys, ws))
        grad = back(scored * 0 if padding else model._weighed(dz))
    elif padding:
        grad = back(scored * 0)
    else:
        grad = model.loss._fit_gradient(scored, ys) if ws is None else model.loss._fit_weighted_gradient(scored, ys, ws)
        if getattr(grad, "shape", None) != scored.shape:      # a loss of your own's, refused as training refuses it
            raise ValueError(gradient_shape_refusal(model.loss, scored.shape, grad))
        grad = back(model._weighed(grad))
    if grad.dtype != model.dtype:       # a loss of your own's float64 gradient: cast as training casts it
        grad = grad.astype(model.dtype)

    calls = model._node_layers          # each call of the graph: a record each (a shared layer has several)

    def seen(i, grad_output):
        records[i]["dA"] = grad_output.copy()

    def done(i):                        # right after call i's backward: its dL/dZ and its gradients
        records[i]["dZ"] = _copy(getattr(calls[i], "grad_z", None))     # Dense and Activation keep dL/dZ
        records[i]["grads"] = {name: g.copy() for name, g in calls[i].grads.items()}
    model._backward(grad, model._fused, activity, seen, done)
    for record in records:      # below a Lambda (frozen layers: it passes no gradient), none came
        record.setdefault("dA", None)
        record.setdefault("dZ", None)
        record.setdefault("grads", {})
    if model._fused:
        records[-1]["dA"] = back(scored * 0 if padding else model._weighed(model.loss.output_gradient_unclipped(scored, ys)))
    elif model._heads is not None:      # each fused output's, as above
        for head, grad_output in model.loss.unclipped_output_gradients(scored, ys):
            records[head.call]["dA"] = grad_output
    if model._penalties:        # regularizers: in the loss and the gradients, as training has them
        loss = loss + model._add_penalty_gradients()
        for layer, record in zip(calls, records):     # (a shared layer's calls: its total, penalty included)
            record["grads"] = {name: g.copy() for name, g in layer.grads.items()}
    return Trace(records, loss)


def _add_updates(model, records):
    """Each record's ``update``: what the optimizer's step on the traced gradients would add to each
    parameter. The step is taken and then undone -- parameters and optimizer state (moments, step
    count) restored -- so that it is the optimizer's own arithmetic, not a formula beside it."""
    if not np.isfinite(records.loss):           # training skips the update of a non-finite loss
        for record in records:
            record["update"] = None
        return
    optimizer = model.optimizer
    model._sync_views()
    before = [param.copy() for _, _, param, _ in model._views]
    state = {"iterations": optimizer.iterations,
             "slots": {key: {name: a.copy() for name, a in slots.items()} for key, slots in optimizer.slots.items()}}
    if optimizer.scalar_names:
        # Nadam's momentum product too: without it set_state recomputes it from the step count
        # with the current beta_1, which is not the product a run that changed beta_1 had kept
        state["scalars"] = optimizer.get_state()["scalars"]
    state["accumulated_steps"] = optimizer.accumulated_steps     # gradient accumulation's calls so far
    try:
        model._optimizer_step()          # with the constraints' projections, as fit's step
        steps = {(layer.name, key): param - old for (layer, key, param, _), old in zip(model._views, before)}
    finally:
        for (_, _, param, _), old in zip(model._views, before):
            param[...] = old
        optimizer.set_state(state)
    for layer, record in zip(model._node_layers, records):
        record["update"] = {key: steps[layer.name, key] for key in layer.params if (layer.name, key) in steps}


def _copy(array):
    # in the array's own module: np.array() of a CuPy array is refused (no implicit device-to-host copy)
    return None if array is None else backend.get_array_module(array).array(array, copy=True)
