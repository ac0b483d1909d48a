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

A ``MultiOptimizer`` is carried per sub-optimizer: each one's state under the model's key is laid
out like its own weights (those the map gives it, in the buffer's order), so each is carried as a
plain optimizer is, parking and homes (optimizers._shared) its own: a weight shared by two models
keeps one state there too, and Adafactor's factored moments carry. An optimizer of one's own
overriding ``reset`` has its slots, scalars and step count carried as a built-in's (where every
slot is laid out like the weights) and its ``reset`` called for the state it keeps elsewhere, which
glassnet cannot lay out. Reset as before: a state on a GPU (CuPy), slots laid out otherwise.
The parked state, ``use_ema``'s averages of frozen weights and the parked state in files and
``get_state``: glassnet._parked_state.
"""
import math

import numpy as np

from ._parked_state import age_averages, park, parked, resolve
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
    optimizer = model.optimizer
    key = model._triples[0][0] if getattr(model, "_triples", None) else None
    if old is None or key is None:
        return False
    dtype = model._triples[0][1].dtype
    if hasattr(optimizer, "_take_pending"):         # a MultiOptimizer: each sub-optimizer's own state
        return _carry_multi(optimizer, model, key, old, _new_layout(entries), dtype)
    resolve_parked(optimizer, model, old)
    return _carry_one(optimizer, key, old, _new_layout(entries), dtype)


def resolve_parked(optimizer, model, old=None):
    """The state ``set_state`` (a model file) gave by weight name parked for ``model``'s weights
    but those of its buffer (``old``, a layout before it was laid out anew; else its views now)
    (glassnet._parked_state.resolve); each sub-optimizer's for a MultiOptimizer."""
    trained = {entry[0] for entry in (old_layout(model) or [] if old is None else old)}
    for each in getattr(optimizer, "_inner", None) or [optimizer]:
        if each.__dict__.get("_parked_names"):
            resolve(each, model, _weight,
                    lambda slot, shape, each=each: _length(each, slot, shape, model._triples[0][1].dtype), trained)


def _carry_one(optimizer, key, old, new, dtype):
    """A plain optimizer's state under ``key`` laid out anew (``_carry_slots``); one of one's own
    overriding ``reset`` (its own state elsewhere, which it resets) through ``_carry_own``."""
    from .optimizers.base import Optimizer
    if type(optimizer).reset is not Optimizer.reset:
        return _carry_own(optimizer, key, old, new, dtype)
    return _carry_slots(optimizer, key, old, new, dtype)


# what Optimizer.reset clears that a new layout carries (the slots laid out anew, the step count,
# the parked pieces, the shared weights' layouts and homes: optimizers._shared)
_CARRIED = ("iterations", "accumulated_steps", "slots", "_parked", "_parked_names", "_parked_names_mark",
            "_weight_layouts", "_homes", "_state_weights")


def _carry_own(optimizer, key, old, new, dtype):
    """An optimizer of one's own overriding ``reset``: its slots carried as a built-in's, then its
    ``reset`` called (for the state it keeps outside ``slots``, which glassnet cannot lay out) and
    what a built-in carries put back (slots, scalars, step count); False where the slots are not
    laid out like the weights."""
    if not _carry_slots(optimizer, key, old, new, dtype):
        return False
    kept = {name: optimizer.__dict__[name] for name in _CARRIED if name in optimizer.__dict__}
    scalars = optimizer._get_scalars() if optimizer.scalar_names else None
    optimizer.reset()
    optimizer.__dict__.update(kept)
    optimizer._gathered = None
    if scalars is not None:
        optimizer._set_scalars(scalars)
    if optimizer.schedule is not None:      # (the rate of the count put back)
        optimizer._follow_schedule()
    return True


def _length(optimizer, name, shape, dtype):
    """How many values of the state array ``name`` belong to a weight of ``shape``: its size, or
    Adafactor's factored rows or columns (``slot_shape``)."""
    return math.prod(optimizer.slot_shape(name, np.broadcast_to(np.zeros((), dtype), shape), [shape]))


def _fresh(optimizer, name, param, length):
    """The rule's initial state ``name`` for the weight ``param`` (``length`` values, 1-D)."""
    from .optimizers._shared import _new_slot
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
    for weight, layer, name, shape in old:
        home = homes.get(weight)
        if weight not in staying and pieces[weight] and (home is None or home[0] == key):
            if home is None and weight in parked:
                continue        # (parked when it left its home's buffer: this key's copy is older)
            park(optimizer, weight, layer, name, shape, {slot: piece.copy() for slot, piece in pieces[weight].items()})
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


def _carry_slots(optimizer, key, old, new, dtype):
    """``optimizer``'s slots under ``key`` laid out anew for ``new`` from ``old``; False, changing
    nothing, where the state is not laid out like the weights."""
    slots = optimizer.slots.get(key) or {}
    age_averages(optimizer)         # (use_ema: a parked average as Keras' is now)
    held = parked(optimizer)
    kept, marks = dict(held), dict(held.marks)
    assembled = _assembled(optimizer, key, slots, old, new, held, dtype)
    if assembled is None:
        held.clear(), held.update(kept)
        held.marks = marks
        return False
    if assembled:
        optimizer.slots[key] = assembled
    optimizer._scratch.pop(key, None)       # (scratch buffers of the old size)
    return True


def _carry_multi(optimizer, model, key, old, new, dtype):
    """A MultiOptimizer's state under ``key`` carried per sub-optimizer: each one's weights in the
    ``old`` and ``new`` layouts (by its plans: ``_by_sub``), each carried as a plain optimizer's,
    and its homes moved (``rehome``). A state set with ``set_state`` and not taken yet is handed
    to the sub-optimizers first, along the old layout. False where a sub-optimizer's state is not
    laid out like its weights (nothing changed but that hand-over)."""
    if optimizer._pending is not None:
        _plan_layout(optimizer, model, key, old, dtype)
        optimizer._take_pending()
    resolve_parked(optimizer, model, old)
    before = _by_sub(optimizer, key, old)
    if before is None:
        return False
    for j, sub in enumerate(optimizer._inner):
        if _split(sub, sub.slots.get(key) or {}, before.get(j, []), dtype) is None:
            return False
    _plan_layout(optimizer, model, key, new, dtype)
    after = _by_sub(optimizer, key, new)
    for j, sub in enumerate(optimizer._inner):
        mine = after.get(j, [])
        if not _carry_one(sub, key, before.get(j, []), mine, dtype):
            return False
        local, start = [], 0
        for weight, layer, name, shape in mine:
            size = math.prod(shape)
            local.append((weight, start, start + size, _root(layer, name)[0]))
            start += size
        rehome(sub, key, tuple(local))
    optimizer._scratch = {k: v for k, v in optimizer._scratch.items() if k[0] != key}
    return True


def _plan_layout(optimizer, model, key, layout, dtype):
    """The MultiOptimizer's plan of ``key`` made for ``layout`` (which sub-optimizer steps each
    weight, by its path), as its next step would make it for that buffer."""
    pairs = [(layer, name) for _, layer, name, _ in layout]
    optimizer.register_paths(key, model._paths_of(pairs))
    total = sum(math.prod(shape) for _, _, _, shape in layout)
    optimizer._plan(0, key, np.broadcast_to(np.zeros((), dtype), (total,)), [[math.prod(s) for _, _, _, s in layout]],
                    [[f"{layer.name}/{name}" for _, layer, name, _ in layout]], [[s for _, _, _, s in layout]])


def _by_sub(optimizer, key, layout):
    """``{j: [entries of layout]}``: the weights of ``layout`` each sub-optimizer steps, by the plan
    of ``key`` (``{}`` with none: nothing stepped yet); None where the plan is of another buffer."""
    cached = optimizer._plans.get(key)
    if cached is None:
        return {}
    starts, start = {}, 0
    for entry in layout:
        starts[start] = entry
        start += math.prod(entry[3])
    if cached[2] != (start,):
        return None
    subs = {}
    for j, runs, *_ in cached[1]:
        subs[j] = [starts[at] for begin, stop in runs for at in sorted(starts) if begin <= at < stop]
    return subs if sum(map(len, subs.values())) == len(layout) else None


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
    if last is None and key in (optimizer.__dict__.get("_state_weights") or {}):
        from ._state_weights import place       # (a state set_state gave: per weight on this buffer)
        place(optimizer, key, model)
    if last is not None and optimizer.slots.get(key):
        new = [(_weight(layer, name), layer, name, tuple(param.shape)) for layer, name, param, _ in model._views]
        if not _carry_slots(optimizer, key, last[1], new, model._triples[0][1].dtype):
            optimizer.slots.pop(key, None)
            optimizer._scratch.pop(key, None)
    seen[key] = (layout, old_layout(model))
