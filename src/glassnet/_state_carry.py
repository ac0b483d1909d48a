"""The optimizer's state kept across a freeze: when a model lays its trained weights out anew
because layers were frozen (``ParametersMixin._flatten_parameters``), the weights still trained
keep their slots and the step count, as Keras 3.15's optimizer keeps its slots per variable.

Keras builds one slot variable per trainable variable and steps whichever variables it is given;
a layer frozen between two fits (with ``compile`` again on the same optimizer, or its train
function made again) leaves the others' Adam moments, momentum and iteration count as they were.
glassnet keeps each slot as one flat array laid out like the model's flat buffer of weights, so
the runs of the weights still trained are copied into arrays of the new layout.

Only a pure freeze is carried. When the new layout holds a weight the old one did not (a layer
unfrozen or added) the optimizer is reset as before: a new weight's slots would need each
optimizer's initial values (Adagrad's ``initial_accumulator_value``), and Keras 3.15 refuses that
case outright ("Unknown variable ... This optimizer can only be called for the variables it was
originally built with"). So is it when a layer left the model (``pop``: glassnet's rule from before,
kept), and for optimizers whose state is not laid out like the weights (a ``MultiOptimizer``,
Adafactor's factored moments, an optimizer stepping weights shared with another model).
"""
import numpy as np


def old_runs(model):
    """``{(id(layer), key): (start, stop)}`` of each trained weight in ``model``'s flat buffer now
    (before it is laid out anew); None when it has none yet."""
    views = getattr(model, "_views", None)
    if views is None:
        return None
    runs, start = {}, 0
    for layer, key, param, _ in views:
        runs[(id(layer), key)] = (start, start + param.size)
        start += param.size
    return runs


def carry_state(model, runs, old_total, entries):
    """Lay out the slots of ``model.optimizer`` for the new buffer of the weights ``entries``
    (``[(layer, key)]``, its order) from the old one's ``runs`` (``old_runs``, ``old_total``
    values). Returns False, changing nothing, where it cannot (the caller resets the optimizer)."""
    from .optimizers.base import Optimizer
    optimizer = model.optimizer
    key = model._triples[0][0] if getattr(model, "_triples", None) else None
    # an optimizer stepping other models' buffers too may hold a shared weight's one state under
    # another key (optimizers._shared): left to the reset
    others = set(getattr(optimizer, "_weight_layouts", None) or ()) - {key}
    if runs is None or key is None or type(optimizer).reset is not Optimizer.reset or others:
        return False
    # a freeze only: the same layers (a pop or an add resets, its state laid out for other layers)
    present = {id(layer) for layer in model._layout_layers()}
    if any(layer_id not in present for layer_id, _ in runs):
        return False
    return _carry_slots(optimizer, key, runs, old_total, entries, model._triples[0][1].dtype)


def _carry_slots(optimizer, key, runs, old_total, entries, dtype):
    """``optimizer``'s slots under ``key`` laid out anew for ``entries`` from the old ``runs``; False,
    changing nothing, where a weight of ``entries`` was not in the old layout or the state is not laid
    out like the weights."""
    pieces = [runs.get((id(layer), key_)) for layer, key_ in entries]
    if None in pieces or any(stop - start != layer.params[key_].size
                             for (start, stop), (layer, key_) in zip(pieces, entries)):
        return False            # a weight the old layout did not train (or of another size now)
    slots = optimizer.slots.get(key)
    if not slots:               # no state for this model yet (a stateless SGD, not stepped): nothing to carry
        _forget_layout(optimizer, key, entries)
        return True
    if any(not isinstance(a, np.ndarray) or a.shape != (old_total,) or a.dtype != dtype for a in slots.values()):
        return False            # state not laid out like the weights (factored moments, another device)
    optimizer.slots[key] = {name: np.concatenate([a[start:stop] for start, stop in pieces]) if pieces
                            else a[:0].copy() for name, a in slots.items()}
    optimizer._scratch.pop(key, None)       # (scratch buffers of the old size)
    _forget_layout(optimizer, key, entries)
    return True


def follow_layout(optimizer, key, model):
    """An optimizer other than ``model``'s compiled one stepping its flat buffer under ``key`` (a
    GradientTape loop's own optimizer): when the model laid its buffer out anew since this optimizer's
    last step of it (layers frozen, then a ``fit`` or ``train_on_batch``), the slots follow as
    ``carry_state`` carries the compiled one's: the weights still trained keep theirs, as Keras'
    per-variable slots do. Where they cannot (a weight unfrozen or added since, state laid out
    otherwise) this model's slots start afresh. Before, the slots of the old size met the new buffer
    (a broadcast error in the update, or another weight's moments where the sizes agreed)."""
    seen = optimizer.__dict__.setdefault("_buffer_layouts", {})
    last = seen.get(key)
    layout = getattr(model, "_layout", None)
    if last is not None and last[0] is layout:
        return
    if last is not None and optimizer.slots.get(key):
        entries = [(layer, name) for layer, name, _, _ in model._views]
        if not _carry_slots(optimizer, key, last[1], last[2], entries, model._triples[0][1].dtype):
            optimizer.slots.pop(key, None)
            optimizer._scratch.pop(key, None)
    seen[key] = (layout, old_runs(model), sum(param.size for _, _, param, _ in model._views))


def _forget_layout(optimizer, key, entries):
    """Drop the old layout's record of where each weight's state is under ``key``
    (optimizers._shared): the next step registers the new one, and finds the weights kept at home."""
    if optimizer._weight_layouts:
        optimizer._weight_layouts.pop(key, None)
        kept = {(id(layer), name) for layer, name in entries}
        optimizer._homes = {weight: home for weight, home in optimizer._homes.items()
                            if home[0] != key or weight in kept}
        optimizer._gathered = None
