"""Which weight each block of an optimizer's state belongs to, so that ``optimizer.set_state(state)``
places a state per weight in a model laid out otherwise than the one ``get_state`` read it from.

An optimizer keeps each state array (Adam's m and v) as one flat array per model buffer, the
trained weights' pieces end to end (glassnet.parameters). Two models, or one model at two times,
may lay that buffer out otherwise: a twin frozen the same way but not laid out again since the
freeze (its buffer still holds the frozen layer's weights), a model trained with another layer
frozen. Keras 3.15 keeps its slots per variable, so the question does not arise there; here the
flat arrays met a buffer of another size (a broadcast error) or, worse, of the same size, giving
one weight another's moments.

So ``get_state`` records, per key, the weights its arrays are laid out along,
``state["weights"] = {key: [["<layer name>/<weight name>", [shape]], ...]}`` (``record``), and
``set_state`` keeps that record aside (``optimizer._state_weights``) until the state is placed on
the model stepping that key (``place``: at once when the optimizer is compiled into a built
model; else at ``compile``, at the model's next layout, or at the first step of a GradientTape
loop). Placing cuts every array into its weights' pieces along the record and lays them out again
along the model's buffer, by weight name:

- a weight of the record in the buffer takes its piece; a shape differing is refused by name
  (ValueError), before anything changes;
- a weight of the buffer the record lacks takes the piece ``set_state`` kept for it by name (its
  ``"parked"`` state, glassnet._parked_state: a layer frozen when the state was taken), else the
  rule's initial state, as a weight the optimizer never stepped (glassnet._state_carry);
- a weight of the record the buffer lacks (frozen, or popped, in this model) is kept by name as
  parked state is: the next layout of a model having it frozen parks it for that weight (a
  MultiOptimizer's, whose arrays ``"<j>/<slot>"`` lay every optimizer's state over all the
  weights, zeros over the others', for each optimizer j whose piece is not all zeros).

A record whose weights share no name with the buffer's and whose shapes do not follow the
buffer's in order is refused (another model's state); one whose shapes do (a model whose layers
are named otherwise) is taken in order, as a state without a record always is (older states: set
as before, the arrays as they are).
"""
import numpy as np

RECORD = "weights"


def _named(layout):
    """``[(name, shape)]`` of a layout's weights: ``[(layer, key, ...), ...]`` in buffer order."""
    return [(f"{entry[0].name}/{entry[1]}", tuple(int(n) for n in entry[2])) for entry in layout]


def model_weights(model):
    """``[("<layer name>/<weight name>", shape)]`` of ``model``'s trained weights in its flat buffer's
    order now (its ``_views``); None when it has none yet."""
    views = getattr(model, "_views", None)
    if views is None:
        return None
    return _named([(layer, key, param.shape) for layer, key, param, _ in views])


def _all_weights(model):
    """The names ``"<layer name>/<weight name>"`` of ``model``'s weights, frozen ones too."""
    layers = model._layout_layers() if hasattr(model, "_layout_layers") else ()
    return [f"{layer.name}/{key}" for layer in layers for key in layer.params]


def _model_of(optimizer, key):
    """The live built model ``optimizer`` steps under ``key`` as its compiled optimizer, or None."""
    from ._optimizer_claims import OWNERS
    for ref, its_key in OWNERS.get(optimizer, ()):
        model = ref()
        if (its_key == key and model is not None and getattr(model, "optimizer", None) is optimizer
                and getattr(model, "_views", None) is not None):
            return model
    return None


def _layout_of(optimizer, key):
    """The weights ``optimizer``'s arrays of ``key`` are laid out along: a record ``set_state`` gave
    and no model took yet; the compiled model's buffer; a GradientTape loop's model's buffer at its
    last step (glassnet._state_carry.follow_layout); None when none is known."""
    pending = (optimizer.__dict__.get("_state_weights") or {}).get(key)
    if pending is not None:
        return [(name, tuple(shape)) for name, shape in pending]
    model = _model_of(optimizer, key)
    if model is not None:
        return model_weights(model)
    seen = (optimizer.__dict__.get("_buffer_layouts") or {}).get(key)
    if seen is not None and seen[1] is not None:
        return _named([(layer, name, shape) for _, layer, name, shape in seen[1]])
    # the model's buffer at its last layout or compile, kept by name (``place_for``): the model may
    # be gone (``gn.load_model(path).optimizer.get_state()``: only weak references reach it), its
    # state still laid out along it
    return (optimizer.__dict__.get("_laid_along") or {}).get(key)


def _length(optimizer, slot, shape):
    """Values of the state array ``slot`` per weight of ``shape`` (Adafactor's factored r and c:
    fewer). A MultiOptimizer's ``"<j>/<slot>"`` arrays are laid out like the weights."""
    from ._state_carry import _length as length
    return length(optimizer, slot, shape, np.float32)


def record(optimizer, slots):
    """``{key: [[name, [shape]], ...]}`` for the keys of ``slots`` (``get_state``'s) whose layout is
    known and fits every array's size (``_layout_of``); a key of an array laid out otherwise (a
    state set without a record into a model laid out otherwise) is left out."""
    found = {}
    for key, arrays in slots.items():
        layout = _layout_of(optimizer, key)
        if layout is None or len({name for name, _ in layout}) != len(layout):
            continue
        if all(np.size(a) == sum(_length(*_owner(optimizer, slot), shape) for _, shape in layout)
               for slot, a in arrays.items()):
            found[key] = [[name, list(shape)] for name, shape in layout]
    return found


def checked(state, who, optimizer=None):
    """``set_state``'s ``"weights"`` (``record``'s form, or None) checked before the state changes
    anything: ``{key: [(name, shape)]}``. TypeError for another form; ValueError where an array of
    ``state["slots"]`` does not hold its weights' values, or, for the built model ``optimizer``
    steps under a key, where the state cannot be placed on it (``_refusal``)."""
    weights = state.get(RECORD)
    if weights is None:
        return {}

    def entry(item):
        return (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)
                and isinstance(item[1], (list, tuple))
                and all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0 for n in item[1]))
    if not (isinstance(weights, dict) and all(isinstance(key, str) and isinstance(layout, (list, tuple))
                                              and all(entry(item) for item in layout)
                                              for key, layout in weights.items())):
        raise TypeError(f"{who}.set_state: weights must be {{key: [['<layer name>/<weight name>', shape], ...]}} "
                        f"(get_state's), got {weights!r:.200}")
    weights = {key: [(name, tuple(int(n) for n in shape)) for name, shape in layout] for key, layout in weights.items()}
    for key, layout in weights.items():
        for slot, a in (state.get("slots", {}).get(key) or {}).items():
            owner, own = _owner(optimizer, slot) if optimizer is not None else (None, slot)
            if owner is None or (owner is not optimizer and own not in owner.kept_slots()):
                continue        # (set_state refuses it itself)
            want = sum(_length(owner, own, shape) for _, shape in layout)
            if np.size(a) != want:
                raise ValueError(f"{who}.set_state: the state {slot!r:.60} of {key!r:.60} holds {np.size(a)} values, "
                                 f"but its weights ({len(layout)}, from {layout[0][0] if layout else None!r:.60}) "
                                 f"take {want}")
        model = _model_of(optimizer, key) if optimizer is not None else None
        refusal = model is not None and _refusal(who, layout, model_weights(model), model)
        if refusal:
            raise ValueError(refusal)
    return weights


def _refusal(who, layout, here, model):
    """Why the state of the weights ``layout`` cannot be placed on ``model``'s buffer of the weights
    ``here`` (both ``[(name, shape)]``), or None: a weight of both of another shape; no weight in
    common where the shapes do not follow each other in order either (another model's state)."""
    shapes = dict(layout)
    if len({name for name, _ in here}) != len(here):
        return None     # (two weights of one name: the state is set in order, as without a record)
    differing = [(name, shapes[name], shape) for name, shape in here if name in shapes and shapes[name] != shape]
    if differing:
        name, was, now = differing[0]
        return (f"{who}.set_state: the state of {name!r:.100} is for a weight of shape {was}, the model "
                f"{model.name!r:.60} has it of shape {now}: not this weight's state")
    held = {name for name, _ in here} | set(_all_weights(model))       # (frozen ones too: parked for them)
    if layout and not set(shapes) & held and [s for _, s in layout] != [s for _, s in here]:
        return (f"{who}.set_state: the state is of the weights {list(shapes)[:4]!r:.200}, none of which the model "
                f"{model.name!r:.60} trains ({[name for name, _ in here][:4]!r:.200}): another model's state")
    return None


def keep(optimizer, weights, slots):
    """``set_state``: keep the record ``weights`` (``checked``) of the keys of ``slots`` aside, and
    place each key at once on the built model stepping it."""
    optimizer.__dict__["_state_weights"] = {key: layout for key, layout in weights.items() if key in slots}
    for key in optimizer.__dict__["_state_weights"]:   # (a GradientTape loop's next step places its key)
        (optimizer.__dict__.get("_buffer_layouts") or {}).pop(key, None)
    for key in list(optimizer.__dict__["_state_weights"]):
        model = _model_of(optimizer, key)
        if model is not None:
            place(optimizer, key, model)


def place_for(model, optimizer=None):
    """Place the record kept for ``model``'s key (if any) on its buffer now: called where a model
    lays its buffer out or is compiled (``optimizer``: the one compile is giving it), never at a step."""
    from ._optimizer_claims import OWNERS
    optimizer = getattr(model, "optimizer", None) if optimizer is None else optimizer
    if optimizer is None or getattr(model, "_views", None) is None:
        return
    key = getattr(model, "_optimizer_key", "params")
    if not any(ref() is model and its_key == key for ref, its_key in OWNERS.get(optimizer, ())):
        return
    if key in (optimizer.__dict__.get("_state_weights") or {}):
        place(optimizer, key, model)
    # (the weights the key's state is laid out along now, by name: ``_layout_of`` once the model is gone)
    optimizer.__dict__.setdefault("_laid_along", {})[key] = model_weights(model)


def _owner(optimizer, slot):
    """``(the optimizer keeping slot, its name there)``: a MultiOptimizer's ``"<j>/<slot>"`` is its
    j-th optimizer's ``slot``."""
    inner = getattr(optimizer, "_inner", None)
    if inner is None:
        return optimizer, slot
    j, _, own = slot.partition("/")
    return (inner[int(j)], own) if j.isdigit() and int(j) < len(inner) else (optimizer, slot)


def _owners(optimizer):
    """``[(prefix, optimizer)]``: the optimizers keeping state under names ``prefix + slot``."""
    inner = getattr(optimizer, "_inner", None)
    return [("", optimizer)] if inner is None else [(f"{j}/", sub) for j, sub in enumerate(inner)]


def _arrays(optimizer, key):
    """The arrays of ``key`` that ``set_state`` gave: a MultiOptimizer's are pending (handed to its
    optimizers at its next step), a plain one's are its slots."""
    pending = getattr(optimizer, "_pending", None)
    if getattr(optimizer, "_inner", None) is not None:
        return None if pending is None else pending["slots"].get(key)
    return optimizer.slots.get(key)


def place(optimizer, key, model, views=None):
    """Lay the arrays of ``key`` out along ``model``'s buffer (``views``: ``(layer, key, param)`` of
    its weights, its ``_views`` when None) from the record kept for ``key`` (see the module
    docstring); the record is then dropped."""
    layout = optimizer.__dict__["_state_weights"].pop(key)
    views = [(layer, name, param) for layer, name, param, *_ in (model._views if views is None else views)]
    here = _named([(layer, name, param.shape) for layer, name, param in views])
    arrays = _arrays(optimizer, key)
    if arrays is None or layout == here or len({name for name, _ in here}) != len(here):
        return          # (laid out alike; or a model of two weights of one name: in order, as before)
    refusal = _refusal(type(optimizer).__name__, layout, here, model)
    if refusal:             # (set_state checked the compiled model's; a model laid out later is refused here)
        raise ValueError(refusal)
    shapes = dict(layout)
    if layout and not set(shapes) & ({name for name, _ in here} | set(_all_weights(model))):
        return          # (layers named otherwise, laid out alike: in order, as a state without a record)
    from . import backend
    from ._state_carry import _fresh
    dtype = views[0][2].dtype if views else np.float32
    xp = backend.get_array_module(next(iter(arrays.values()))) if arrays else np
    pieces = {}                 # {name: {slot: piece}} along the record
    for slot, a in arrays.items():
        owner, own = _owner(optimizer, slot)
        flat, start = backend.to_numpy(a).reshape(-1), 0
        for name, shape in layout:
            length = _length(owner, own, shape)
            pieces.setdefault(name, {})[slot] = flat[start:start + length]
            start += length
    slots = list(arrays)
    for layer, name, _ in views:        # (a weight's parked state may hold a slot the others lack)
        for prefix, owner in _owners(optimizer):
            slots += [prefix + own for own in (owner.__dict__.get("_parked_names") or {}).get(f"{layer.name}/{name}", {})
                      if prefix + own not in slots]
    laid = {slot: [] for slot in slots}
    for layer, name, param in views:
        full = f"{layer.name}/{name}"
        for slot in slots:
            owner, own = _owner(optimizer, slot)
            length = _length(owner, own, tuple(param.shape))
            piece = pieces.get(full, {}).get(slot)
            if piece is None:
                piece = _parked_piece(owner, full, own, length)
            if piece is None:
                piece = _fresh(owner, own, backend.to_numpy(param), length)
            laid[slot].append(np.asarray(piece, dtype).reshape(-1))
    for slot in slots:
        arrays[slot] = xp.asarray(np.concatenate(laid[slot]) if laid[slot] else np.zeros(0, dtype))
    leaving = [name for name, _ in layout if name not in {full for full, _ in here}]
    for name in leaving:            # (kept by name: the next layout of a model having it frozen parks it)
        for slot, piece in pieces[name].items():
            owner, own = _owner(optimizer, slot)
            if owner is not optimizer and not np.any(piece):
                continue            # (a MultiOptimizer's zeros over another optimizer's weight)
            names = owner.__dict__.setdefault("_parked_names", {})
            names.setdefault(name, {})[own] = np.array(piece)
            owner.__dict__.setdefault("_parked_names_mark", (owner._calls(), owner.iterations))
    optimizer._scratch.pop(key, None)
    if leaving and getattr(model, "_triples", None):
        from ._state_carry import resolve_parked
        resolve_parked(optimizer, model)


def _parked_piece(owner, name, slot, length):
    """The piece ``set_state`` kept by name for the weight ``name`` (its ``"parked"`` state), taken
    (no longer parked: the buffer holds it now); None where there is none of that size."""
    named = owner.__dict__.get("_parked_names") or {}
    pieces = named.get(name)
    if not pieces or slot not in pieces or np.size(pieces[slot]) != length:
        return None
    piece = pieces.pop(slot)
    if not pieces:
        named.pop(name)
    return piece

