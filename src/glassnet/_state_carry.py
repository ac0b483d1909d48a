"""The optimizer's state kept across a new layout of a model's trained weights, as Keras 3.15's
optimizer keeps its slots per variable.

A model trains its weights through one flat buffer (``ParametersMixin._flatten_parameters``) and the
optimizer keeps each state array (Adam's m and v, momentum, Adafactor's factored r and c) laid out
like it. When the buffer is laid out anew (a layer frozen, unfrozen, popped or added, then
``compile``, ``fit`` or ``train_on_batch``) the state is cut into one piece per weight and put
together again in the new order, measured against Keras 3.15 (tests/test_freeze_more.py):

- a weight trained before and still trained keeps its state, and the step count goes on;
- a weight that leaves the buffer (frozen, popped) has its pieces *parked* on the optimizer, as
  Keras keeps a frozen variable's slots untouched: unfrozen again, it takes them back (what it had
  when frozen), as Keras' does after a freeze, ``compile``, unfreeze, ``compile``; but an update
  made meanwhile zeroes a parked gradient accumulator, as Keras zeroes every variable's at an
  update (``Optimizer.apply``);
- a weight the optimizer never stepped (a layer frozen from the start and unfrozen, or added after
  training) starts from the rule's initial state (zeros; Adagrad's ``initial_accumulator_value``;
  a moving average from the weight), the step count going on: Keras' state for a variable it was
  built with and never stepped. Keras 3.15 itself refuses such a weight with the same optimizer
  ("Unknown variable ... can only be called for the variables it was originally built with").

``MultiOptimizer`` is carried through its own state laid out like the weights (``get_state``), each
sub-optimizer keeping its step count. Reset as before: a state on a GPU (CuPy), a MultiOptimizer
holding a factored (Adafactor) state, an optimizer of one's own overriding ``reset``. Different
from Keras: with ``use_ema`` a frozen weight's moving average is parked as it is, where Keras goes on
averaging every variable it was built on, frozen or not.
"""
import math
import weakref

import numpy as np

from ._tape_weights import _root


def _weight(layer, key):
    """The identity of a weight across models and wrappers: ``(id(its home layer), its name)``, as
    the tape and optimizers._shared key it (glassnet._tape_weights)."""
    home, name = _root(layer, key)
    return id(home), name


def old_layout(model):
    """``[(weight, layer, name, shape)]`` of ``model``'s trained weights in its flat buffer now
    (before it is laid out anew), ``weight`` as ``_weight`` gives it; None when it has none yet."""
    views = getattr(model, "_views", None)
    if views is None:
        return None
    return [(_weight(layer, key), layer, key, tuple(param.shape)) for layer, key, param, _ in views]


def _new_layout(entries):
    return [(_weight(layer, key), layer, key, tuple(layer.params[key].shape)) for layer, key in entries]


def carry_state(model, old, entries):
    """Lay out the state of ``model.optimizer`` for the new buffer of the weights ``entries``
    (``[(layer, key)]``, its order) from the ``old`` layout (``old_layout``). Returns False,
    changing nothing, where it cannot (the caller resets the optimizer)."""
    from .optimizers.base import Optimizer
    optimizer = model.optimizer
    key = model._triples[0][0] if getattr(model, "_triples", None) else None
    if old is None or key is None:
        return False
    dtype = model._triples[0][1].dtype
    if hasattr(optimizer, "_take_pending"):         # a MultiOptimizer: its state laid out like the weights
        return _carry_multi(optimizer, key, old, _new_layout(entries), dtype)
    if type(optimizer).reset is not Optimizer.reset:
        return False
    return _carry_slots(optimizer, key, old, _new_layout(entries), dtype)


def _length(optimizer, name, shape, dtype):
    """How many values of the state array ``name`` belong to a weight of ``shape``: its size, or
    Adafactor's factored rows or columns (``slot_shape``)."""
    return math.prod(optimizer.slot_shape(name, np.broadcast_to(np.zeros((), dtype), shape), [shape]))


def _fresh(optimizer, name, param, length):
    """The rule's initial state ``name`` for the weight ``param`` (``length`` values, 1-D)."""
    from .optimizers._shared import _new_slot
    if "/" in name and hasattr(optimizer, "_inner"):        # a MultiOptimizer's "<j>/<slot>"
        j, _, name = name.partition("/")
        optimizer = optimizer._inner[int(j)]
    if length != param.size:            # Adafactor's factored moments: zeros, as Keras' start
        return np.zeros(length, param.dtype)
    return np.asarray(_new_slot(optimizer, name, param), dtype=param.dtype).reshape(-1)


def _split(optimizer, slots, old, dtype):
    """``{weight: {name: piece}}``: each state array of ``slots`` cut into its weights' pieces (views)
    along the ``old`` layout; None where an array is not laid out so (another size, a GPU's)."""
    pieces = {weight: {} for weight, _, _, _ in old}
    for name, array in slots.items():
        if not isinstance(array, np.ndarray) or array.dtype != dtype:
            return None
        lengths = [_length(optimizer, name, shape, dtype) for _, _, _, shape in old]
        if array.ndim != 1 or sum(lengths) != array.size:
            return None
        start = 0
        for (weight, _, _, _), length in zip(old, lengths):
            pieces[weight][name] = array[start:start + length]
            start += length
    return pieces


def _assembled(optimizer, key, slots, old, new, parked, dtype):
    """The state arrays of ``key`` for the ``new`` layout from ``slots`` (laid out as ``old``) and the
    pieces ``parked``; the weights leaving are parked (copies). None where ``slots`` is not so laid out.
    A weight shared with another model whose one state is at home there (optimizers._shared) is not
    parked from here: this key's copy of it is stale."""
    pieces = _split(optimizer, slots, old, dtype)
    if pieces is None:
        return None
    staying = {weight for weight, _, _, _ in new}
    homes = optimizer._homes or {}
    for weight, layer, _, shape in old:
        home = homes.get(weight)
        if weight not in staying and pieces[weight] and (home is None or home[0] == key):
            if home is None and weight in parked:
                continue        # (parked when it left its home's buffer: this key's copy is older)
            _park(parked, weight, layer, shape, {name: piece.copy() for name, piece in pieces[weight].items()})
    names = list(slots)
    for weight, _, _, shape in new:
        if weight not in pieces and weight in parked and parked[weight][1] == shape:
            names += [name for name in parked[weight][2] if name not in names]
    assembled = {}
    for name in names:
        parts = []
        for weight, layer, key, shape in new:
            length = _length(optimizer, name, shape, dtype)
            if weight in pieces and name in pieces[weight] and pieces[weight][name].size == length:
                parts.append(pieces[weight][name])
            elif weight in parked and parked[weight][1] == shape and name in parked[weight][2]:
                parts.append(parked[weight][2][name])
            else:
                parts.append(_fresh(optimizer, name, layer.params[key], length))
        assembled[name] = np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)
    for weight, _, _, shape in new:         # (taken back: no longer parked)
        parked.pop(weight, None)
    return assembled


class _Parked(dict):
    """``{weight: (weak reference to its layer, shape, {name: piece})}``, keyed by the layer's id and
    the weight's name. A pickle or a copy carries none: another process's or a copy's layers have
    other ids (and a weak reference cannot be pickled)."""

    def __reduce__(self):
        return (_Parked, ())


def _park(parked, weight, layer, shape, pieces):
    """Park ``pieces`` of state for ``weight`` of ``layer``. The layer is referenced weakly, and its
    entry goes with it: a popped layer nobody holds is freed with its weights, and its id, which a
    new layer may then take, keys nothing stale."""
    def forget(ref):
        if parked.get(weight, (None,))[0] is ref:
            del parked[weight]
    parked[weight] = (weakref.ref(layer, forget), shape, pieces)


def _parked(optimizer):
    """The pieces of state parked on ``optimizer`` for the weights that left the buffers it steps
    (``_Parked``)."""
    parked = optimizer.__dict__.get("_parked")
    if not isinstance(parked, _Parked):     # (none yet, or emptied by a reset as a plain dict)
        parked = optimizer.__dict__["_parked"] = _Parked(parked or {})
    return parked


def _carry_slots(optimizer, key, old, new, dtype):
    """``optimizer``'s slots under ``key`` laid out anew for ``new`` from ``old``; False, changing
    nothing, where the state is not laid out like the weights."""
    slots = optimizer.slots.get(key) or {}
    parked = _parked(optimizer)
    kept = dict(parked)
    assembled = _assembled(optimizer, key, slots, old, new, parked, dtype)
    if assembled is None:
        parked.clear(), parked.update(kept)
        return False
    if assembled:
        optimizer.slots[key] = assembled
    optimizer._scratch.pop(key, None)       # (scratch buffers of the old size)
    return True


def _carry_multi(optimizer, key, old, new, dtype):
    """A MultiOptimizer's state carried as a plain one's: through ``get_state``, whose arrays
    (``"<j>/<slot>"``) are laid out like the weights, then ``set_state``, which hands each
    sub-optimizer its part at the next step (each keeps its step count)."""
    try:
        state = optimizer.get_state()
    except TypeError:               # a factored sub-state, which get_state cannot lay out
        return False
    parked = _parked(optimizer)
    kept = dict(parked)
    assembled = _assembled(optimizer, key, state["slots"].get(key) or {}, old, new, parked, dtype)
    if assembled is None:
        parked.clear(), parked.update(kept)
        return False
    held = optimizer.__dict__.get("_parked")
    optimizer.set_state({**state, "slots": {**state["slots"], key: assembled}})
    object.__setattr__(optimizer, "_parked", held)
    return True


def rehome(optimizer, key, layout):
    """After ``key``'s buffer was laid out anew as ``layout`` (``optimizers._shared.layout``): the
    weights whose one state is at home under ``key`` (optimizers._shared), or nowhere (taken back
    from the parked pieces, or new), are at home at their new places; those no longer there have no
    home. The next step registers the new layout."""
    if optimizer._weight_layouts is None or optimizer._homes is None:
        return          # (an optimizer pickled before it kept them; an empty dict still counts: every
                        # model sharing it laid out anew since its last step, the weights' homes set here)
    optimizer._weight_layouts.pop(key, None)
    total = layout[-1][2] if layout else 0
    places = {weight: (key, start, layer, total) for weight, start, _, layer in layout}
    homes = {weight: home for weight, home in optimizer._homes.items() if home[0] != key or weight in places}
    for weight, place in places.items():
        if homes.get(weight, place)[0] == key:
            homes[weight] = place
    optimizer._homes = homes
    optimizer._gathered = None


def follow_layout(optimizer, key, model):
    """An optimizer other than ``model``'s compiled one stepping its flat buffer under ``key`` (a
    GradientTape loop's own optimizer): when the model laid its buffer out anew since this optimizer's
    last step of it (layers frozen or unfrozen, then a ``fit`` or ``train_on_batch``), the slots
    follow as ``carry_state`` carries the compiled one's (Keras' per-variable slots). Where they
    cannot (state laid out otherwise) this model's slots start afresh. Before, the slots of the old
    size met the new buffer (a broadcast error, or another weight's moments where the sizes agreed)."""
    seen = optimizer.__dict__.setdefault("_buffer_layouts", {})
    last = seen.get(key)
    layout = getattr(model, "_layout", None)
    if last is not None and last[0] is layout:
        return
    if last is not None and optimizer.slots.get(key):
        new = [(_weight(layer, name), layer, name, tuple(param.shape)) for layer, name, param, _ in model._views]
        if not _carry_slots(optimizer, key, last[1], new, model._triples[0][1].dtype):
            optimizer.slots.pop(key, None)
            optimizer._scratch.pop(key, None)
    seen[key] = (layout, old_layout(model))
