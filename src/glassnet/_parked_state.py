"""The optimizer state set aside ("parked") for the weights that left the buffers an optimizer
steps: a layer frozen or popped after training (glassnet._state_carry lays the rest out anew).

Keras 3.15 keeps one set of slots per variable its optimizer was built on, frozen or not; glassnet
keeps a frozen weight's pieces of state on the optimizer, ``optimizer._parked``:
``{weight: (weak reference to its layer, shape, {slot: 1-D piece})}``, ``weight`` being
``(id(its home layer), its name)`` (glassnet._state_carry's ``_weight``). Three things follow Keras
here, each done when it is read (a new layout, another model stepping it, ``get_state``), never
at a step:

- ``use_ema``: Keras averages every variable it was built on at every call of ``apply``, frozen or
  not, so a frozen weight's moving average drifts towards its (unchanged) value: after n calls,
  ``average = w + m ** n (average - w)`` (``m`` the momentum in the weights' dtype, as Keras rounds
  it), what n calls of Keras' ``m average + (1 - m) w`` give. ``age_averages`` brings it so far.
- ``get_state`` and model files hold the parked state, by the weight's name in its model
  (``"<layer name>/<weight name>"``: ids do not outlive a process): ``by_name``. A state set with
  ``set_state`` keeps such names aside until the next layout of a model having layers of those
  names (``resolve``), which then parks them for its weights, as the layout before the save had.
- A popped layer nobody holds is freed, and its parked state with it (its entry goes with the weak
  reference: a new layer may then take its id).
"""
import weakref

import numpy as np

from . import backend


class _Parked(dict):
    """``{weight: (weak reference to its layer, shape, {name: piece})}`` and ``marks``: each weight's
    ``(key in its layer's params, calls of apply, updates)`` when its average was last brought up to
    date. A pickle or a copy (``copy.deepcopy`` of a model, ``pickle``) carries each live layer's
    entries with the layer itself, keyed again by the copy's ids (``_restored``): ids and weak
    references do not outlive a process, the layers do (the model's copy holds the same copies)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.marks = {}

    def __reduce__(self):
        from ._tape_weights import _root
        entries = []
        for weight, (ref, shape, pieces) in self.items():
            layer, mark = ref(), self.marks.get(weight)
            if layer is not None and mark is not None:      # (the weight's home layer: its id keys it)
                entries.append((layer, _root(layer, mark[0])[0], weight[1], shape, pieces, mark))
        return (_restored, (entries,))


def _restored(entries):
    """A pickled ``_Parked`` made again: ``entries`` are ``(layer, home layer, weight name, shape,
    pieces, mark)``, the layers those of the copy (or of the unpickled model), keyed by their ids."""
    held = _Parked()
    for layer, home, name, shape, pieces, mark in entries:
        _enter(held, (id(home), name), layer, shape, pieces, mark)
    return held


def _enter(held, weight, layer, shape, pieces, mark):
    """``held[weight]``: ``pieces`` of ``layer``'s weight, gone with the layer (see ``park``)."""
    def forget(ref):
        if held.get(weight, (None,))[0] is ref:
            del held[weight]
            held.marks.pop(weight, None)
    held[weight] = (weakref.ref(layer, forget), shape, pieces)
    held.marks[weight] = mark


def parked(optimizer):
    """The pieces of state parked on ``optimizer`` (``_Parked``), made when there are none yet (or
    emptied by a reset as a plain dict)."""
    found = optimizer.__dict__.get("_parked")
    if not isinstance(found, _Parked):
        found = optimizer.__dict__["_parked"] = _Parked(found or {})
    return found


def park(optimizer, weight, layer, key, shape, pieces):
    """Park ``pieces`` of state for ``weight`` (``layer.params[key]``, of ``shape``). The layer is
    referenced weakly, and its entry goes with it: a popped layer nobody holds is freed with its
    weights, and its id, which a new layer may then take, keys nothing stale."""
    _enter(parked(optimizer), weight, layer, shape, pieces, (key, optimizer._calls(), optimizer.iterations))


def age_averages(optimizer):
    """Bring every parked moving average (``use_ema``) to what Keras' would be now: averaged at each
    call of ``apply`` since it was last brought up to date towards its frozen weight's value
    (``w + m ** n (average - w)``; the weight itself, where no update was done before those calls,
    as Keras sets an average at its first step)."""
    held = optimizer.__dict__.get("_parked")
    if not held or not optimizer.use_ema or not isinstance(held, _Parked):
        return
    calls, done = optimizer._calls(), optimizer.iterations
    for weight, (ref, _, pieces) in list(held.items()):
        layer, mark = ref(), held.marks.get(weight)
        if layer is None or mark is None or "average" not in pieces or mark[0] not in layer.params:
            continue
        key, then, then_done = mark
        n = calls - then
        if n > 0:
            value = np.asarray(backend.to_numpy(layer.params[key]), np.float64).reshape(-1)
            average = pieces["average"]
            if then_done == 0:      # (no update before the first of those calls: set to the weight)
                average[...] = value
            else:
                decay = float(average.dtype.type(optimizer.ema_momentum)) ** n
                average[...] = value + decay * (average.astype(np.float64) - value)
        held.marks[weight] = (key, calls, done)


def by_name(optimizer, among=None):
    """``{"<layer name>/<weight name>": {slot: piece}}``: copies of the state parked on ``optimizer``
    (averages brought up to date), and of the names a ``set_state`` gave that no layout took yet.
    ``among``: the ids of the layers whose parked state to give (one model's: ``of_model``); two
    models sharing the optimizer may each have a frozen layer of one name, whose state differs."""
    age_averages(optimizer)
    named = {name: {slot: piece.copy() for slot, piece in pieces.items()}
             for name, pieces in (optimizer.__dict__.get("_parked_names") or {}).items()}
    held = optimizer.__dict__.get("_parked")
    for weight, (ref, _, pieces) in (held or {}).items():
        layer, mark = ref(), getattr(held, "marks", {}).get(weight)
        if layer is not None and mark is not None and (among is None or id(layer) in among):
            named[f"{layer.name}/{mark[0]}"] = {slot: piece.copy() for slot, piece in pieces.items()}
    return named


def of_model(model):
    """``by_name`` of ``model``'s optimizer for ``model``'s own layers (by identity, not name): what
    its file holds (a MultiOptimizer's per optimizer, ``"<j>/<slot>"``, as its ``get_state`` gives).
    ``get_state``'s ``"parked"`` names a layer of another model sharing the optimizer alike."""
    optimizer = model.optimizer
    among = {id(layer) for layer in model._layout_layers()}
    inner = getattr(optimizer, "_inner", None)
    found = {}
    for prefix, each in ([("", optimizer)] if inner is None else [(f"{j}/", sub) for j, sub in enumerate(inner)]):
        for name, pieces in by_name(each, among).items():
            found.setdefault(name, {}).update({prefix + slot: piece for slot, piece in pieces.items()})
    return found


def set_by_name(optimizer, named):
    """Keep ``named`` (``by_name``'s form, from ``set_state``, after its step count) aside for
    ``resolve``, with the calls of ``apply`` made so far; the pieces parked before are not this state's."""
    optimizer.__dict__.pop("_parked", None)
    optimizer.__dict__["_parked_names"] = {
        name: {slot: np.array(piece).reshape(-1) for slot, piece in pieces.items()} for name, pieces in named.items()}
    optimizer.__dict__["_parked_names_mark"] = (optimizer._calls(), optimizer.iterations)


def resolve(optimizer, model, weight_of, length_of, trained):
    """Park the pieces ``set_state`` kept by name for the weights of ``model``'s layers of those
    names (``weight_of(layer, key)``: the weight's identity; ``length_of(slot, shape)``: a piece's
    size for a weight of ``shape``); a piece of another size is dropped (not this weight's), and so
    is one of a weight in ``trained`` (the buffer's now: its state in the slots is the live one)."""
    named = optimizer.__dict__.get("_parked_names")
    if not named:
        return
    dtype = model._triples[0][1].dtype
    for layer in model._layout_layers():
        for key, param in layer.params.items():
            pieces = named.pop(f"{layer.name}/{key}", None)
            shape = tuple(param.shape)
            weight = weight_of(layer, key)
            kept = {slot: piece.astype(dtype, copy=False) for slot, piece in (pieces or {}).items()
                    if piece.size == length_of(slot, shape) and weight not in trained}
            if kept:
                park(optimizer, weight, layer, key, shape, kept)
                mark = optimizer.__dict__.get("_parked_names_mark")
                if mark is not None:        # (its average last brought up to date when set)
                    parked(optimizer).marks[weight] = (key, *mark)
