"""The optimizer's state in Keras 3.15's ``.keras`` files (``model.weights.h5``'s ``optimizer/vars``),
read by ``load_model`` and written by ``model.save(path, save_format="keras")``.

Keras' layout (``Optimizer.save_own_variables``: its ``variables`` in the order it made them):
``vars/0`` the step count (int64 ``iteration``), ``vars/1`` the learning rate (float32) unless it
is a schedule, then the slots per trainable variable, ``model.trainable_variables``' order, by
groups: each ``add_optimizer_variables(vars, [names])`` call interleaves its names per variable
(Adam: ``m_0, v_0, m_1, v_1, ...``), the next call follows (AMSGrad's ``v_hat_0, v_hat_1, ...``).
Nadam ends with its momentum product (float32 scalar). An optimizer not built (saved before its
first step) holds the count and the rate only; so does a momentum-free SGD, built or not.

The trainable variables are glassnet's trained weights in ``model.layers``' order (Keras'
``trainable_variables``: each layer's weights in Keras' order, frozen layers left out), which
is not always the flat buffer's (a functional model's buffer keeps its first calls' order:
``parameters._layout_layers``): ``_keras_order`` maps one to the other. Each dataset's shape is
compared with its weight's before any is read.

A layer frozen after training: Keras' optimizer keeps the slots of every variable it was built on,
and its file holds them at their places (measured: Keras 3.15 itself then skips the whole state on
loading, its optimizer built on fewer variables, and refuses the unfrozen layer at the next fit).
glassnet writes them too, from the state it set aside for the frozen weights (glassnet._parked_state;
the rule's initial state for a frozen weight it never stepped), when it set some aside, and reads a
file holding either the trained weights' slots alone or every weight's, trained or frozen, the
frozen ones' set aside until they are unfrozen.

An optimizer under ``rule="keras"`` (what ``load_model`` compiles a Keras file with) keeps Keras'
slots as they are: they map 1:1 both ways. Under ``rule="pytorch"``, where a slot's meaning
differs, it is converted exactly (``_converted``) or refused by name:

- SGD's momentum: Keras' velocity holds steps (``v = momentum v - lr g``), glassnet's buffer
  gradients (PyTorch's ``buf = momentum buf + g``): ``buf = -v / lr``; RMSprop's momentum likewise
  ``buf = v / lr``. ``lr`` is the rate of the next step, so the first step continues exactly;
  with a learning-rate schedule the two keep different rates in their buffers from then on (as
  the optimizers' docstrings say), and a warning names it.
- Adamax's ``u``: glassnet (PyTorch) keeps ``max(b2 u, |g| + epsilon)``, Keras ``max(b2 u, |g|)``
  and adds epsilon in the step: ``u_glassnet = u_keras + epsilon`` gives the same denominator.
- Nadam: Keras 3's momentum product is glassnet's ``momentum_decay=1.0``; another is refused.
- The others' slots (Adam's, AdamW's, Nadam's m and v, RMSprop's v and average_gradient,
  Adagrad's accumulator, Adadelta's, Ftrl's, Lamb's, Lion's) mean what glassnet's mean; their
  update formulas' own differences (where epsilon goes) are the optimizers' (docs/optimizers.md):
  such a file continues training in Keras with Keras' formula, not the one glassnet trained with.
- ``use_ema`` and ``gradient_accumulation_steps`` (whose variables come first in Keras' list) and
  the optimizers Keras lacks or computes otherwise (Muon, Adafactor, yours): refused on reading;
  on writing the state is left out with a warning (Keras then starts its optimizer afresh, as it
  loaded glassnet's files before).
"""
import math

import numpy as np

from ._warnings import warn
from .errors import ModelFileError
from .layers._norm_layout import older_fits

_WHERE = "model.weights.h5: optimizer/vars"


def _groups(optimizer, averages=True):
    """Keras' groups of slot names (glassnet's names), in Keras' order; a str saying why when
    glassnet does not map this optimizer's state. ``averages=False``: the groups of the optimizer
    itself, ``use_ema``'s averages aside (optimizer.variables lists them before)."""
    from . import optimizers as o
    kind = type(optimizer)
    if (optimizer.use_ema and averages) or optimizer.gradient_accumulation_steps:
        return ("use_ema's averages" if optimizer.use_ema else "gradient_accumulation_steps' accumulators") + \
            " (not mapped to Keras' layout)"
    if kind is o.SGD:
        return [("momentum",)] if optimizer.momentum else []
    if kind in (o.Adam, o.AdamW):
        return [("m", "v")] + ([("v_hat",)] if optimizer.amsgrad else [])
    if kind is o.Nadam:
        if optimizer.momentum_decay != 1.0:
            return (f"Nadam's momentum_decay={optimizer.momentum_decay} (Keras 3's momentum product is "
                    f"momentum_decay=1.0's)")
        return [("m", "v")]
    if kind is o.RMSprop:
        return [("v",)] + ([("momentum",)] if optimizer.momentum > 0 else []) + \
            ([("average_gradient",)] if optimizer.centered else [])
    table = {o.Adamax: [("m", "u")], o.Adagrad: [("sum",)], o.Adadelta: [("v", "u")],
             o.Ftrl: [("accumulator", "linear")], o.Lamb: [("m", "v")], o.Lion: [("m",)]}
    if kind in table:
        return table[kind]
    return f"{kind.__name__}'s state (Keras 3.15 has no optimizer keeping it as glassnet does)"


def _keras_order(model, views, layers=None):
    """The indices of ``views`` (the flat buffer's order) in Keras' order of the trainable
    variables, ``model.layers``' (as ``Model.trainable_weights``). A functional model whose
    first calls are not in Keras' layer order (an output branch called before a longer one)
    lays its buffer out otherwise: without this, one weight's moments went to another of the
    same shape, silently. ``layers``: that order given (a written file's: glassnet._layer_order's
    ``flat_layer_order``)."""
    rank = {id(layer): k for k, layer in enumerate(model.layers if layers is None else layers)}
    order = sorted(range(len(views)), key=lambda index: rank[id(views[index][0])])      # stable: keys in order
    unread = _unread(model) if layers is None else []
    if not unread:
        return order
    # Keras' trainable_variables also hold the weights of a nested model's layers the outer model's
    # outputs do not reach (glassnet._keras_nesting): ``(shape, dtype)`` at their places
    from ._keras_nesting import keras_layers
    by_layer = {}
    for index in order:
        by_layer.setdefault(id(views[index][0]), []).append(index)
    dtype, unread = views[0][2].dtype if views else np.float32, {id(layer) for layer in unread}
    return [entry for layer in keras_layers(model) for entry in by_layer.get(id(layer), (
        [(tuple(layer.params[key].shape), dtype) for key in layer.params] if layer.trainable and id(layer) in unread
        else []))]


def _unread(model):
    from ._keras_nesting import unread_layers
    from .graph import Model
    return unread_layers(model) if isinstance(model, Model) and getattr(model, "_nesting", None) else []


def _converted(optimizer, slot, array, to_glassnet):
    """``array`` (float64) of ``slot`` in glassnet's meaning (``to_glassnet``) or Keras'."""
    kind = type(optimizer).__name__
    if getattr(optimizer, "rule", "pytorch") == "keras":     # Keras' own update: Keras' slots as they are
        return array
    if kind in ("SGD", "RMSprop") and slot == "momentum":
        sign = -1.0 if kind == "SGD" else 1.0           # SGD's velocity is minus the steps
        rate = optimizer.learning_rate
        if rate == 0:
            if np.any(array):
                raise ValueError(f"{kind}'s momentum at learning rate 0: Keras' velocity holds lr times glassnet's "
                                 f"buffer, which a rate of 0 cannot convert")
            return np.zeros_like(array)
        return array * (sign / rate) if to_glassnet else array * (sign * rate)
    if kind == "Adamax" and slot == "u":
        return array + optimizer.epsilon if to_glassnet else np.maximum(array - optimizer.epsilon, 0.0)
    return array


def _warn_schedule(optimizer, groups, verb):
    if optimizer.schedule is not None and any("momentum" in group for group in groups) and \
            getattr(optimizer, "rule", "pytorch") != "keras":
        warn(f"{verb} {type(optimizer).__name__}'s momentum with a learning-rate schedule: Keras' buffer holds "
             f"steps at past rates, glassnet's gradients (converted at the next step's rate, "
             f"{optimizer.learning_rate:g}); the runs agree for one step, then differ as the rate changes")


# -- reading --------------------------------------------------------------------------------
def restore_keras_optimizer(model, h5py, h5):
    """Set ``model.optimizer``'s state from the ``.keras`` file's h5 ``h5`` (its ``optimizer/vars``;
    nothing when the file has none, as Keras' loader does). ModelFileError on anything that does
    not fit: a count of variables, a shape, a value, or state glassnet would give another meaning."""
    from ._keras_h5 import _Walk, _group_at
    optimizer = model.optimizer
    walk = _Walk(h5py)
    group = _group_at(walk, h5, "optimizer/vars")
    if optimizer is None or group is None:
        return
    found = walk.children(group, "optimizer/vars")
    if set(found) != {str(i) for i in range(len(found))} or len(found) < 1:
        raise ModelFileError(f"{_WHERE} holds {sorted(found)[:10]}, not 0, 1, ...")
    datasets = [walk.dataset(found[str(i)], f"optimizer/vars/{i}") for i in range(len(found))]
    restore_optimizer_arrays(model, datasets)


def restore_optimizer_arrays(model, datasets, where=_WHERE, error=ModelFileError):
    """Set ``model.optimizer``'s state from ``datasets``, Keras' ``optimizer/vars`` in order (h5
    datasets, or arrays: ``Optimizer.set_weights``); ``error`` (whose messages start with ``where``)
    on anything that does not fit, raised before the optimizer changes."""
    optimizer = model.optimizer
    head = 1 if optimizer.schedule is not None else 2      # the count, and the rate unless a schedule
    if len(datasets) < head:
        raise error(f"{where}: {len(datasets)} variables, expected the step count"
                    f"{'' if head == 1 else ' and the learning rate'} first")
    count = datasets[0]
    if count.shape != () or count.dtype.kind not in "iu":
        raise error(f"{where}/0: expected the step count (an integer scalar), got shape {count.shape} "
                    f"dtype {count.dtype}")
    iterations = int(count[()])
    if not 0 <= iterations < 2 ** 63:
        raise error(f"{where}/0: the step count {iterations} is not in [0, 2**63)")
    rate = None
    if head == 2:
        if datasets[1].shape != () or datasets[1].dtype.kind != "f":
            raise error(f"{where}/1: expected the learning rate (a float scalar), got shape "
                        f"{datasets[1].shape} dtype {datasets[1].dtype}")
        rate = float(datasets[1][()])
    slots = datasets[head:]
    name = type(optimizer).__name__
    groups = _groups(optimizer)
    views = list(model._views) if model.built else []
    trained = len(views)
    if slots and isinstance(groups, str):
        raise error(f"{where}: the file holds {len(slots)} slot variables of {name}; glassnet does not "
                    f"load {groups}: load with compile=False and compile the model yourself")
    if slots:
        if not views:
            raise error(f"{where}: {len(slots)} slot variables for a model with no trained weights")
        scalar = name == "Nadam"
        frozen = _frozen_views(model)
        if frozen and len(slots) == sum(map(len, groups)) * len(_keras_order(model, views + frozen)) + scalar:
            views = views + frozen          # (every weight's slots: those of the frozen ones too)
        order = _keras_order(model, views)
        per = sum(len(group) for group in groups) * len(order)
        expected = per + (1 if scalar else 0)
        if len(slots) != expected:
            raise error(
                f"{where}: {len(slots)} slot variables after the step count"
                f"{'' if head == 1 else ' and the rate'}; {name}({_settings(optimizer)}) on this model's "
                f"{len(order)} trained weights keeps {expected} "
                f"({' + '.join(f'{len(g)} x {len(order)} {g}' for g in groups)}{' + its momentum product' if scalar else ''})"
                f"{f' (or {expected + sum(map(len, groups)) * len(frozen)} with its frozen weights' + chr(39) + ' too)' if frozen else ''}"
                f": a file of other settings or layers (Keras skips such a state, glassnet refuses it)")
    else:
        scalar, groups = False, [] if isinstance(groups, str) else groups
    # every shape and value checked before the optimizer changes
    arrays, k = {}, 0
    for group in groups if slots else []:
        for slot in group:
            arrays[slot] = [None] * len(views)
        for index in _keras_order(model, views):       # the file's order; kept in the buffer's
            if isinstance(index, tuple):        # an unread layer's weight: its slots are not kept
                k += len(group)
                continue
            layer, key, param, _ = views[index]
            for slot in group:
                dataset = slots[k]
                older = older_fits(layer, param.shape, dataset.shape)      # (layers._norm_layout)
                if (tuple(dataset.shape) != param.shape and not older) or dataset.dtype.kind != "f":
                    raise error(f"{where}/{head + k}: {name}'s {slot!r} of {layer.name}/{key} must have "
                                f"shape {param.shape} (float), the file has {tuple(dataset.shape)} "
                                f"({dataset.dtype})")
                value = dataset[()].reshape(param.shape) if older else dataset[()]
                if not np.isfinite(value).all():
                    raise error(f"{where}/{head + k}: {name}'s {slot!r} of {layer.name}/{key} holds NaN or "
                                f"infinite values")
                arrays[slot][index] = value
                k += 1
    product = None
    if slots and scalar:
        last = slots[-1]
        product = float(last[()]) if last.shape == () and last.dtype.kind == "f" else None
        if product is None or not 0 <= product <= 1:
            raise error(f"{where}/{head + k}: expected Nadam's momentum product (a float in [0, 1]), got "
                        f"{last.shape} {last.dtype}")
    if rate is not None:
        if not (math.isfinite(rate) and rate >= 0):
            raise error(f"{where}/1: the learning rate {rate} is not a finite number >= 0")
        # the file's variable holds the rate in float32 (Keras' variable), its config the float given
        # (glassnet writes 1e-3, Keras its variable's 0.0010000000474974513): the config's is kept
        # where float32 makes it the variable's, so that a round trip keeps 1e-3; a rate changed
        # after the config was written (none of glassnet's writers does) is the variable's
        if np.float32(optimizer.learning_rate) != np.float32(rate):
            optimizer.learning_rate = rate
    state = {"iterations": iterations, "slots": {}}
    if product is not None:
        state["scalars"] = {"momentum_product": product}
    optimizer.set_state(state)          # the count first: a schedule's rate for the next step
    if not arrays:
        return
    _warn_schedule(optimizer, groups, "load_model:")
    dtype = model._triples[0][1].dtype
    flat, parked = {}, {}
    for slot, parts in arrays.items():
        try:
            converted = [_converted(optimizer, slot, np.asarray(part, np.float64), True).ravel() for part in parts]
        except ValueError as exc:
            raise error(f"{where}: {exc}") from None
        with np.errstate(over="ignore"):
            values = np.concatenate(converted).astype(dtype)
        # finite in the file's float64 (or after SGD's division by a small rate) is not finite in
        # the model's float32: 1e300 came in as inf, silently (Adam's v then froze its weight)
        if not np.isfinite(values).all():
            raise error(f"{where}: {name}'s {slot!r} holds values beyond {np.dtype(dtype).name}'s range "
                        f"(the model's weights)")
        if slot in optimizer.non_negative_slots and (values < 0).any():
            raise error(f"{where}: {name}'s {slot!r} holds negative values (a sum of squares)")
        start = sum(part.size for part in converted[:trained])
        flat[slot] = values[:start]
        for (layer, key, _, _), part in zip(views[trained:], converted[trained:]):     # (the frozen weights')
            parked.setdefault(f"{layer.name}/{key}", {})[slot] = values[start:start + part.size]
            start += part.size
    key, param = model._triples[0][0], model._triples[0][1]
    from . import backend
    state["slots"] = {key: {slot: backend.get_array_module(param).asarray(a) for slot, a in flat.items()}}
    state["parked"] = parked
    optimizer.set_state(state)
    from ._state_carry import resolve_parked
    resolve_parked(optimizer, model)


def _frozen_views(model):
    """``[(layer, key, param, None)]`` of the weights of ``model``'s frozen layers, in its layers'
    order: their slots follow the trained weights' in Keras' order when its optimizer was built on
    them (a layer frozen after training)."""
    return [(layer, key, param, None) for layer in (model.layers if model.built else []) if not layer.trainable
            for key, param in layer.params.items()]


def _settings(optimizer):
    names = [n for n in ("momentum", "amsgrad", "centered") if hasattr(optimizer, n)]
    return ", ".join(f"{n}={getattr(optimizer, n)!r}" for n in names)


# -- writing --------------------------------------------------------------------------------
def keras_optimizer_arrays(model, frozen=False):
    """``[arrays]`` of ``model.optimizer``'s ``optimizer/vars`` in Keras' layout (the step count as
    int64, the rate unless a schedule, the slots by Keras' groups), or None (with a warning) for
    state glassnet does not map; raises ValueError for a state it cannot convert. ``frozen``: with
    the slots of the frozen layers' weights at their places too, where the optimizer set some
    aside (a layer frozen after training: Keras' file holds them)."""
    from . import backend
    optimizer = model.optimizer
    name = type(optimizer).__name__
    head = [np.asarray(optimizer.iterations, np.int64)]
    if optimizer.schedule is None:
        head.append(np.asarray(optimizer.learning_rate, np.float32))
    state = optimizer.get_state()
    key = model._triples[0][0] if model.built and model._triples else None
    kept = state["slots"].get(key) if key is not None else None
    groups = _groups(optimizer)
    if isinstance(groups, str):
        if kept:
            warn(f"save_model: .keras: the optimizer's state is left out: glassnet does not write {groups}; Keras "
                 f"starts its {name} afresh")
            return None
        return head
    if not kept or not groups:          # not built (Keras' layout before the first step), or no slots
        return head
    _warn_schedule(optimizer, groups, "save_model: .keras:")
    views = list(model._views)
    from ._parked_state import of_model         # (this model's layers', by identity: not another's of one name)
    parked = of_model(model) if frozen else {}
    frozen = _frozen_views(model) if any(f"{layer.name}/{key}" in parked for layer, key, _, _ in
                                         _frozen_views(model)) else []
    bounds = np.cumsum([0] + [param.size for _, _, param, _ in views + frozen])
    # the file's order: a functional model's nested models flattened (glassnet._keras_write), whose
    # layers Keras orders as the flat graph's; or, written nested, Keras' trainable_variables of the
    # nested models, whose unread layers' (never trained here) slots are zeros, as Keras' are
    from ._keras_nesting import writes_nested
    from ._layer_order import flat_layer_order
    from .graph import Model
    written = None
    if isinstance(model, Model):
        written = None if writes_nested(model) else flat_layer_order(model)
    out = list(head)
    for group in groups:
        converted = {}
        for slot in group:
            if slot not in kept:
                raise ValueError(f"save_model: .keras: {name} keeps no {slot!r} state yet, which Keras' {name} holds")
            values = np.asarray(backend.to_numpy(kept[slot]), np.float64)
            # then each frozen weight's: the state set aside, or the rule's initial state (never stepped)
            values = np.concatenate([values, *(_frozen_piece(optimizer, parked, layer, key, slot)
                                               for layer, key, _, _ in frozen)])
            if not np.isfinite(values).all():
                raise ValueError(f"save_model: .keras: the optimizer's {slot!r} state holds NaN or infinite values")
            try:
                converted[slot] = _converted(optimizer, slot, values, False)
            except ValueError as exc:
                raise ValueError(f"save_model: .keras: {exc}") from None
        for index in _keras_order(model, views + frozen, written):      # Keras' order, from the buffer's runs
            if isinstance(index, tuple):        # an unread layer's weight: (its shape, dtype)
                out += [np.zeros(*index) for _ in group]
                continue
            param = (views + frozen)[index][2]
            for slot in group:
                part = converted[slot][bounds[index]:bounds[index + 1]].reshape(param.shape)
                out.append(part.astype(param.dtype))
    if name == "Nadam":
        out.append(np.asarray(state["scalars"]["momentum_product"], np.float32))
    return out


def _frozen_piece(optimizer, parked, layer, key, slot):
    """The state ``slot`` of the frozen weight ``layer.params[key]`` (flat, float64): the piece set
    aside for it, else the rule's initial state (Keras' for a variable it was built on, never stepped)."""
    from ._state_carry import _fresh
    param = layer.params[key]
    piece = parked.get(f"{layer.name}/{key}", {}).get(slot)
    if piece is None or piece.size != param.size:
        piece = _fresh(optimizer, slot, param, param.size)
    return np.asarray(piece, np.float64).reshape(-1)


def write_keras_optimizer(h5, model, arrays):
    """Keras' ``optimizer/vars`` group of ``arrays`` in the open h5 file ``h5``."""
    from ._keras_h5 import _snake
    group = h5.require_group("optimizer/vars")
    group.attrs["name"] = _snake(type(model.optimizer).__name__)
    for k, array in enumerate(arrays):
        group.create_dataset(str(k), data=array)
