"""Keras 3.15's ``optimizer.variables``, ``build(var_list)`` and ``set_weights(weights)`` on glassnet's
optimizers, in Keras' order and meaning.

Keras' list (``Optimizer.variables``): the step count (int64 ``iteration``), the learning rate
(float32) unless it is a schedule, then the slots per trainable variable, group by group, as the
``.keras`` writer lays them out (glassnet._keras_optimizer_state): Adam's ``momentum`` and
``velocity`` interleaved per weight, ``velocity_hat`` after them with ``amsgrad``. Each path is
``"<optimizer name>/<weight path with '_' for '/'>_<slot>"`` (``"adam/sequential_dense_kernel_momentum"``).

glassnet keeps its state per model in flat buffers, under its own meaning of a slot where it
differs (SGD's momentum buffer holds gradients, Keras' velocity steps): a slot that means what
Keras' does is listed as a view of the buffer, live (writing it changes the state, as assigning
Keras' variable does); one of another meaning is a copy converted to Keras', which ``set_weights``
converts back. The step count and rate are 0-d arrays of the values when listed whose writes set the
optimizer's numbers (``live_scalars``: glassnet keeps them as numbers). They are the state of
the model that compiled the optimizer (the first, where it trains several sharing layers). Slots
exist from the first step, as in Keras (its optimizer builds at the first ``apply``), or from an
explicit ``build(model.trainable_variables)``: zeros then (Adagrad's ``initial_accumulator_value``).
"""
import math

import numpy as np

from .._keras_optimizer_state import _keras_order
from .live_scalars import OptimizerScalar

# glassnet's slot names -> Keras 3.15's (each optimizer's add_optimizer_variables)
KERAS_SLOT_NAMES = {
    "Adam": {"m": "momentum", "v": "velocity", "v_hat": "velocity_hat"},
    "AdamW": {"m": "momentum", "v": "velocity", "v_hat": "velocity_hat"},
    "Nadam": {"m": "momentum", "v": "velocity"},
    "Lamb": {"m": "momentum", "v": "velocity"},
    "Lion": {"m": "momentum"},
    "SGD": {"momentum": "momentum"},
    "RMSprop": {"v": "velocity", "momentum": "momentum", "average_gradient": "average_gradient"},
    "Adamax": {"m": "momentum", "u": "norm"},
    "Adagrad": {"sum": "accumulator"},
    "Adadelta": {"v": "accumulated_grad", "u": "accumulated_delta_var"},
    "Ftrl": {"accumulator": "accumulator", "linear": "linear"},
}


def owning_model(optimizer):
    """The live model ``optimizer`` was compiled into (the first of those it trains), or None."""
    from .._optimizer_claims import OWNERS
    for ref, _ in OWNERS.get(optimizer, ()):
        model = ref()
        if model is not None and getattr(model, "optimizer", None) is optimizer:
            return model
    return None


def _name(optimizer):
    """Keras' name of an optimizer made without one: its class's in snake case ("adam", "rm_sprop",
    "adam_w"; glassnet's ``name``, the registry's key, is "rmsprop"). Keras numbers later ones
    ("adam_1"), which is not followed here: each optimizer is named as the first."""
    from ..layers.base import snake_case
    return snake_case(type(optimizer).__name__)


def _weight_paths_in_keras_order(model):
    """Keras' paths of the model's trained weights, in Keras' order of its trainable variables."""
    views = list(model._views)
    paths = model._weight_paths()
    return [paths[index] if not isinstance(index, tuple) else f"unread_{k}"
            for k, index in enumerate(_keras_order(model, views))]


def _starting_slots(optimizer, model, groups):
    """The slots a built optimizer holds before its first step, in Keras' order: each trained
    weight's, zeros (Adagrad's accumulator: its ``initial_accumulator_value``), what Keras' ``build``
    makes and the first step here starts from."""
    dtype = model._triples[0][1].dtype
    shapes = [index if isinstance(index, tuple) else (tuple(model._views[index][2].shape), dtype)
              for index in _keras_order(model, list(model._views))]
    return [np.full(shape, float(getattr(optimizer, optimizer.slot_fills[slot], 0.0)) if slot in optimizer.slot_fills
                    else 0.0, dtype=dtype) for group in groups for shape, dtype in shapes for slot in group]


def keras_variable_items(optimizer, as_built=False):
    """``[(Keras' path, array)]`` of ``optimizer``'s variables in Keras' order (copies); ``as_built``:
    with the slots a built optimizer holds (zeros) where no step made them yet."""
    from .._keras_optimizer_state import _groups, keras_optimizer_arrays
    name = _name(optimizer)
    model = owning_model(optimizer)
    # (written through to the optimizer's numbers: live_scalars)
    head = [(f"{name}/iteration", OptimizerScalar(optimizer, "iterations", np.int64))]
    if optimizer.schedule is None:
        head.append((f"{name}/learning_rate", OptimizerScalar(optimizer, "learning_rate", np.float32)))
    if model is None or not model.built or not model._views:
        return head
    if isinstance(_groups(optimizer), str):     # Muon's, Adafactor's, use_ema's, the default Nadam's
        return head + _listed_only(optimizer, model, name)
    groups = _groups(optimizer)
    stepped = bool(optimizer.slots.get(model._triples[0][0]))
    if not stepped and (as_built or optimizer.__dict__.get("_built_by_hand")):
        slots = _starting_slots(optimizer, model, groups)
        if type(optimizer).__name__ == "Nadam":
            slots.append(np.asarray(1.0, np.float32))      # (its momentum product starts at 1)
    elif not any(isinstance(index, tuple) for index in _keras_order(model, list(model._views))):
        return head + _listed_only(optimizer, model, name)      # (live views where the meaning is Keras')
    else:       # (a nested model's unread layers: their zero slots as the .keras writer lays them)
        slots = keras_optimizer_arrays(model)[len(head):]
    if not slots:           # (before the first step: Keras' optimizer is not built either)
        return head
    table = KERAS_SLOT_NAMES.get(type(optimizer).__name__, {})
    items = list(head)
    paths = [path.replace("/", "_") for path in _weight_paths_in_keras_order(model)]
    rest = iter(slots)
    for group in groups:
        for path in paths:
            items += [(f"{name}/{path}_{table.get(slot, slot)}", next(rest)) for slot in group]
    items += [(f"{name}/variable", value) for value in rest]        # Nadam's momentum product (Keras' unnamed)
    return items


def _weights_in_keras_order(model):
    """``[(Keras' path with '_' for '/', the weight's own name, view index)]`` of the model's trained
    weights in Keras' order (a nested model's unread layers, never trained, left out)."""
    paths = _weight_paths_in_keras_order(model)
    return [(path.replace("/", "_"), path.rsplit("/", 1)[-1], index)
            for path, index in zip(paths, _keras_order(model, list(model._views))) if not isinstance(index, tuple)]


def _listed_only(optimizer, model, name):
    """``[(Keras' path, array)]`` of the slots after the step count and rate, in Keras 3.15's order
    and shapes: ``use_ema``'s averages first, then the optimizer's own by Keras' groups (and
    Nadam's momentum product, under another ``momentum_decay`` than Keras' too); Muon's momentum
    per weight (and AdamW's velocity where it steps a weight by AdamW); Adafactor's factored ``r``
    and ``c`` (int32 zeros for a weight of fewer than 2 axes, Keras' placeholders) and ``v``. Each
    weight's slot is a view of glassnet's buffer, live, where it means what Keras' does (a copy
    converted where not: SGD's momentum); [] before the first step (or with gradient accumulation).
    ``set_weights`` refuses the state the ``.keras`` files do not map (Muon's, Adafactor's, ...)."""
    from .._keras_optimizer_state import _converted, _groups
    kept = optimizer.slots.get(model._triples[0][0])
    kind = type(optimizer).__name__
    # (Nadam's m and v mean Keras'; only its momentum product's schedule differs, listed as it is)
    base = [("m", "v")] if kind == "Nadam" else _groups(optimizer, averages=False)
    if not kept or optimizer.gradient_accumulation_steps:
        return []
    views = list(model._views)
    bounds = np.cumsum([0] + [view[2].size for view in views])
    weights = _weights_in_keras_order(model)

    def part(slot, index):          # a view of the flat buffer: the weight's slot, live
        return kept[slot][bounds[index]:bounds[index + 1]].reshape(views[index][2].shape)

    items = [(f"{name}/{path}_average", part("average", index)) for path, _, index in weights] \
        if optimizer.use_ema else []
    table = KERAS_SLOT_NAMES.get(kind, {})
    if kind == "Muon":
        for path, _, index in weights:
            items.append((f"{name}/{path}_momentum", part("momentum", index)))
            if optimizer.uses_adamw(path.replace("_", "/"), tuple(views[index][2].shape)):
                items.append((f"{name}/{path}_velocity", part("velocity", index)))
    elif kind == "Adafactor":
        items += _adafactor_items(kept, views, weights, name, part)
    elif not isinstance(base, str):
        for group in base:
            # (SGD's and RMSprop's momentum, Adamax's u: another meaning than Keras', so copies converted)
            converted = {slot: _converted(optimizer, slot, np.asarray(kept[slot], np.float64), False)
                         for slot in group if getattr(optimizer, "rule", "pytorch") != "keras"
                         and (kind, slot) in (("SGD", "momentum"), ("RMSprop", "momentum"), ("Adamax", "u"))}
            for path, _, index in weights:
                for slot in group:
                    value = part(slot, index) if slot not in converted else converted[slot][
                        bounds[index]:bounds[index + 1]].reshape(views[index][2].shape).astype(views[index][2].dtype)
                    items.append((f"{name}/{path}_{table.get(slot, slot)}", value))
        if kind == "Nadam":
            items.append((f"{name}/variable", np.asarray(optimizer.get_state()["scalars"]["momentum_product"],
                                                         np.float32)))
    return items


def _adafactor_items(kept, views, weights, name, part):
    """Adafactor's ``r``, ``c`` and ``v`` per weight in Keras' order: ``r`` and ``c`` are laid weight
    after weight in the buffer's order (rules.Adafactor), so their offsets are counted there."""
    offsets, row, col = {}, 0, 0
    for index, view in enumerate(views):
        shape = tuple(view[2].shape)
        if len(shape) >= 2:
            rows, cols = math.prod(shape[:-1]), math.prod(shape[:-2]) * shape[-1]
            offsets[index] = (slice(row, row + rows), shape[:-1], slice(col, col + cols), shape[:-2] + shape[-1:])
            row, col = row + rows, col + cols
    items = []
    for path, own, index in weights:
        if index in offsets:
            rows, r_shape, cols, c_shape = offsets[index]
            items += [(f"{name}/{own}", kept["r"][rows].reshape(r_shape)),
                      (f"{name}/{own}", kept["c"][cols].reshape(c_shape))]
        else:
            items += [(f"{name}/{own}", np.zeros((), np.int32)), (f"{name}/{own}", np.zeros((), np.int32))]
        items.append((f"{name}/{path}_velocity", part("v", index)))
    return items


def build(optimizer, var_list):
    """Keras' ``optimizer.build(var_list)`` for the model that compiled ``optimizer``: ``var_list``
    must be its ``trainable_variables`` (the same arrays); the slots then list as zeros until the
    first step makes them."""
    model = owning_model(optimizer)
    where = f"{type(optimizer).__name__}.build"
    if not isinstance(var_list, (list, tuple)):
        raise TypeError(f"{where}: var_list: expected a list of the model's trainable variables "
                        f"(model.trainable_variables), got {type(var_list).__name__}")
    if model is None:
        raise ValueError(f"{where}: glassnet keeps an optimizer's slots per model: compile a model with this "
                         f"optimizer first, then build(model.trainable_variables)")
    if not model.built:
        raise ValueError(f"{where}: the model {model.name!r} that compiled this optimizer is not built yet: build it "
                         f"(model.build(input_shape), or call it on data) first")
    mine = model.trainable_variables
    given = [getattr(v, "value", v) if type(v).__name__ == "Variable" else v for v in var_list]
    if len(given) != len(mine) or any(a is not b and not (isinstance(a, np.ndarray) and np.shares_memory(a, b)
                                                           and a.shape == b.shape) for a, b in zip(given, mine)):
        raise ValueError(f"{where}: var_list: expected the {len(mine)} trainable variables of the model "
                         f"{model.name!r} that compiled this optimizer (model.trainable_variables), got "
                         f"{len(given)} other arrays")
    optimizer.built = True


def set_weights(optimizer, weights):
    """Keras' ``optimizer.set_weights(weights)``: ``weights`` as ``variables`` lists them (Keras'
    order and meaning), checked whole before the state changes."""
    from .._keras_optimizer_state import restore_optimizer_arrays
    where = f"{type(optimizer).__name__}.set_weights"
    model = owning_model(optimizer)
    if model is None:
        raise ValueError(f"{where}: this optimizer has no variables yet: compile a model with it (and build it: "
                         f"optimizer.build(model.trainable_variables)) first")
    if not isinstance(weights, (list, tuple)):
        raise TypeError(f"{where}: weights: expected a list of arrays (as optimizer.variables lists them), got "
                        f"{type(weights).__name__}")
    arrays = [np.asarray(w) for w in weights]
    restore_optimizer_arrays(model, arrays, where=f"{where}: weights", error=ValueError)
