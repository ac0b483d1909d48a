"""One optimizer state per weight when one optimizer steps a weight through several models' arrays.

A model steps its trained weights as one flat buffer, and the optimizer keeps each state array
(SGD's momentum, Adam's m and v, ...) as one flat array per buffer, under the buffer's key
(``"params"``, ``"<model>/params"``). A layer shared by two models (a feature extractor beside its
base, a GAN's combined model) has a view of its own in each model's buffer, so its state would be
kept twice: once in each model's flat state. Keras keeps one per variable. So each model tells the
optimizer its buffer's layout, ``((weight, start, stop, layer), ...)`` with ``weight`` the
identity ``(id(layer), name)`` the tape keys gradients by too (glassnet._tape_weights), and the
optimizer remembers which key stepped each weight last (its *home*: ``(key, start, layer, size)``,
the layer held so that its id stays its own). Before a step through another
key, that key's flat state takes each shared weight's runs of every state array from its home
(``gather``): the one state moves with the weight, as the weights themselves move between the
models' views (``_sync_views``). ``spread`` brings every key's runs up to date (``get_state``: a
model file, a backup, then holds the state of every weight it lists as of the last step).

Per step: a call stepping the same keys as the call before it (``fit``, a loop on one model) looks
at nothing more than the tuple of its keys; only a call through other keys walks the weights.
A state array of Adafactor's factored shape (not the weights' size) is left per key.
"""
import numpy as np


def layout(views, root):
    """The layout of a model's flat buffer from its ``_views`` (``(layer, key, param, grad)``
    laid end to end): ``((weight, start, stop, layer), ...)``; ``root(layer, key)`` gives the
    weight's home layer and name (a wrapped layer's weights are its wrapper's)."""
    entries, start = [], 0
    for layer, key, param, _ in views:
        home, name = root(layer, key)
        entries.append(((id(home), name), start, start + param.size, home))
        start += param.size
    return tuple(entries)


def _new_slot(optimizer, name, param):
    """A state array ``name`` for ``param`` as the rule would start it: the moving average from
    the weights, the others filled with the rule's starting value (``slot_fills``: Adagrad's and
    Ftrl's ``initial_accumulator_value``; else 0)."""
    if name == "average":
        return param.copy()
    fill = optimizer.slot_fills.get(name)
    return np.full_like(param, 0.0 if fill is None else getattr(optimizer, fill))


def _copy_runs(source, target, size, start, stop, source_start):
    """Copy the run ``source_start:`` of every state array of ``source`` (a key's slots) into
    ``target``'s (a key of ``size`` weights' values) at ``start:stop``. State arrays of another
    size than the weights (Adafactor's factored ones) are left alone."""
    for name, state in source.items():
        mine = target.get(name)
        if mine is not None and mine.size == size and state.size >= source_start + stop - start:
            mine.reshape(-1)[start:stop] = state.reshape(-1)[source_start:source_start + stop - start]


def gather(optimizer, triples):
    """Before a step on ``triples``: each key with a layout takes the state of every weight
    whose home is another key, and becomes its home."""
    keys = tuple(key for key, _, _ in triples)
    if keys == optimizer._gathered:
        return                          # (the keys of the call before: every weight is at home)
    layouts, homes, slots = optimizer._weight_layouts, optimizer._homes, optimizer.slots
    parked = optimizer.__dict__.get("_parked") or {}
    for key, param, _ in triples:
        entries = layouts.get(key)
        if not entries or entries[-1][2] != param.size:
            continue                    # (no layout, or one of an older buffer: state per key)
        for weight, start, stop, layer in entries:
            home = homes.get(weight)
            if home is not None and home[0] != key and home[0] in slots:
                target = slots.setdefault(key, {})
                for name, state in slots[home[0]].items():
                    if name not in target and state.size == home[3]:     # (not a factored one)
                        target[name] = _new_slot(optimizer, name, param)
                _copy_runs(slots[home[0]], target, param.size, start, stop, home[1])
            elif home is None and weight in parked:
                from .._parked_state import age_averages
                age_averages(optimizer)         # (use_ema: the parked average as Keras' is now)
                _unpark(optimizer, slots.setdefault(key, {}), param, start, stop, parked.pop(weight)[2])
            homes[weight] = (key, start, layer, param.size)
    optimizer._gathered = keys


def _unpark(optimizer, target, param, start, stop, pieces):
    """A weight with no home whose state was parked when it left the buffer of its home (a freeze,
    then that model's new layout: glassnet._state_carry) stepped through another key whose buffer
    kept it: that key takes the parked state (its own copy of the weight's state is older: the
    weight was stepped elsewhere since)."""
    for name, piece in pieces.items():
        if piece.size == stop - start:             # (not a factored one)
            if name not in target:
                target[name] = _new_slot(optimizer, name, param)
            target[name].reshape(-1)[start:stop] = piece


def spread(optimizer):
    """Every key's flat state brought up to date from the homes of its weights (homes unchanged):
    what ``get_state`` gives then holds every weight's one state under every key listing it."""
    homes, slots = optimizer._homes, optimizer.slots
    for key, entries in optimizer._weight_layouts.items():
        target = slots.get(key)
        if target is None or not entries:
            continue
        for weight, start, stop, _ in entries:
            home = homes.get(weight)
            if home is not None and home[0] != key and home[0] in slots:
                _copy_runs(slots[home[0]], target, entries[-1][2], start, stop, home[1])


def forget(optimizer):
    """No weight has a home (a reset, a state set from outside)."""
    optimizer._homes = {}
    optimizer._gathered = None


def register(optimizer, key, entries):
    """Tell ``optimizer`` the layout of the flat buffer it steps under ``key`` (a model's, made by
    ``layout``): one dict entry per step."""
    if optimizer._weight_layouts is None:       # (an optimizer pickled before it kept them)
        optimizer._weight_layouts, optimizer._homes = {}, {}
    if optimizer._weight_layouts.get(key) is not entries:
        optimizer._weight_layouts[key] = entries
        optimizer._gathered = None          # (a new layout: its weights' homes are looked at again)
