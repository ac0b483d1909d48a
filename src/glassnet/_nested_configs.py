"""Models nested in another kept nested through glassnet's own configs, files and clones.

glassnet draws a nested model's calls into the outer model's graph (``base(x)`` replays base's
layers there), so a config lists the outer model's layers one by one, each with its weights'
place in a file, as configs always have. What tells that some of them are ``base``'s is the
``Nested`` record of each call of ``base`` (glassnet._summary), which the graph keeps in
``model._nesting``. Before, a config lost those records: the model read back was flat (its
``summary`` had no ``base`` row, the Keras writers wrote it flattened, ``base`` was gone).

A config now keeps them beside its layers, under ``"nested"``::

    "nested": {"models": [{"class_name": "Sequential" or "Functional",
                           "layers": [the model's layers, by their places in the outer "layers"],
                           "config": the model's own config, less its "layers" and "compile"}],
               "calls": [{"model": 0, "calls": [the outer calls that are this call's],
                          "called_on": [what it read: a call, -1 - j input j],
                          "returned": [the call making each of its outputs, or null]}]}

(``"calls"`` for a functional outer model, whose graph holds the nested calls; a Sequential lists
its nested models in order and needs none.) Keras 3.15 writes the nested model as one entry of
``"layers"`` instead, its own config holding its layers; glassnet keeps each layer's entry in the
outer list, so the weights, flags and random states of a file keep their places (files written
before load as they did: without ``"nested"``, flattened) and the side entry holds no layer config
twice. Reading, each nested model is made again on the outer model's layer objects (the same
arrays, as when it was drawn) before the outer model is, its own nested models first; its calls'
tensors are marked as its (``nested_in``), so the model drawn from them gets the records a live
draw gets.

Written only where the graph's records say all there is to know: each nested model a plain
Sequential or functional Model whose every layer the outer model lists (``_keras_nesting``'s
``writes_nested``, and no unread layers); otherwise flattened, as before.
"""
import threading

from ._keras_nesting import call_tensors, unread_layers, writes_nested

_MAX_DEPTH = 32         # models nested deeper than this in a config: malformed
# how deep the nested model being made now is, per thread: counted here, not read from the config,
# which a file could set to anything
_READING = threading.local()
_KINDS = ("Sequential", "Functional")
# what a layer's joining a model sets of its random streams (Sequential's join: glassnet.model)
_STREAM_KEYS = ("_config_origins", "_rng_from_seed", "_stream_origin", "_build_origin")


# -- writing ---------------------------------------------------------------------------------------
def _model_entries(models, layers):
    """Each of ``models`` as ``{"class_name", "layers", "config"}``, its layers by their places in
    ``layers`` (the outer config's)."""
    from ._summary import kind_of
    position = {id(layer): k for k, layer in enumerate(layers)}
    entries = []
    for model in models:
        config = model._config(with_compile=False)
        config.pop("layers", None)
        config.pop("compile", None)
        entries.append({"class_name": kind_of(model), "layers": [position[id(layer)] for layer in model.layers],
                        "config": config})
    return entries


def _plain(records):
    """Whether each of ``records`` and of those nested in them is a plain Sequential or functional
    Model's, which holds the layers it held when it was nested: a subclass' drawn call (a block)
    has no config of this form, and a model changed since (``base.pop()``) no longer describes
    the calls the outer graph holds, so a model nesting either at any depth is written flattened."""
    return all(r.model is not None and r.kind in _KINDS and _plain(r.children)
               and [id(layer) for layer in r.model.layers] == [id(layer) for layer in r.layers] for r in records)


def top_models(model):
    """``(models, calls)``: the models nested in ``model`` (not those nested in them), in the order
    its config's ``"nested"`` lists them, and for a functional model each call of one (the
    ``"calls"`` entries); None when the config cannot describe them (written flattened)."""
    from .graph import Model
    records = list(getattr(model, "_nesting", ()) or ())
    if not records or not _plain(records):
        return None
    if not isinstance(model, Model):        # a Sequential: its nested models in order, each once
        models, calls = [r.model for r in records], None
    else:
        if not writes_nested(model) or unread_layers(model):
            return None
        tensors = call_tensors(model)
        place = {id(t): k for k, t in enumerate(tensors)}
        place.update({id(t): -1 - j for j, t in enumerate(model.inputs)})
        # each call of a nested model, in the order of its first call; a model called twice is one model
        found, models, index = {}, [], {}
        for k, tensor in enumerate(tensors):
            record = tensor.nested_in
            if record is None:
                continue
            if id(record) not in found:
                if id(record.model) not in index:
                    index[id(record.model)] = len(models)
                    models.append(record.model)
                found[id(record)] = {"model": index[id(record.model)], "calls": [],
                                     "called_on": [place[id(t)] for t in record.called_on],
                                     "returned": [place.get(id(t)) for t in record.returned]}
            found[id(record)]["calls"].append(k)
        calls = list(found.values())
    held = {id(layer) for layer in model.layers}
    if any(id(layer) not in held for nested in models for layer in nested.layers):
        return None
    return models, calls


def nested_config(model):
    """The ``"nested"`` entry of ``model``'s config (a Sequential's or a functional Model's), or
    None (nothing nested, or a nested model that a config cannot describe: written flattened)."""
    found = top_models(model)
    if found is None:
        return None
    models, calls = found
    entries = _model_entries(models, model.layers)
    return {"models": entries, **({} if calls is None else {"calls": calls})}


# -- reading ---------------------------------------------------------------------------------------
def _index_list(value, bound, what, low=0):
    if not isinstance(value, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) and low <= i < bound for i in value):
        raise ValueError(f"config: 'nested' {what} must be a list of integers in [{low}, {bound}), got {value!r:.100}")
    return value


def made_models(nested, layers):
    """The nested models of a config's ``"nested"`` entry, each made again on its layers among
    ``layers`` (the outer model's, made from its config, not built yet), checked first: a file
    may say anything."""
    if not isinstance(nested, dict) or not isinstance(nested.get("models"), list) or not nested["models"]:
        raise ValueError(f"config: 'nested' must be {{'models': [...], ...}}, got {nested!r:.100}")
    entries = nested["models"]
    if len(entries) > len(layers):      # each nested model holds one layer at least
        raise ValueError(f"config: 'nested' lists {len(entries)} models for {len(layers)} layers")
    # models a clone_function made for the outermost config's nested models (glassnet._clone_functions)
    given = getattr(_READING, "given", None) or {}
    _READING.given = None
    if getattr(_READING, "depth", 0) == 0:        # the outermost config: the cap counts from here (_made)
        from .io import MAX_LAYERS
        _READING.left = MAX_LAYERS
    models, taken = [], set()
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) != {"class_name", "layers", "config"} \
                or entry["class_name"] not in _KINDS or not isinstance(entry["config"], dict):
            raise ValueError(f"config: a 'nested' model must be {{'class_name': 'Sequential' or 'Functional', "
                             f"'layers': [...], 'config': {{...}}}}, got {entry!r:.100}")
        held = _index_list(entry["layers"], len(layers), "model's 'layers'")
        if not held or len(set(held)) != len(held) or taken & set(held):
            raise ValueError(f"config: a 'nested' model's 'layers' must name layers of the model, each once and "
                             f"in one nested model only, got {held!r:.100}")
        taken |= set(held)
        own = [layers[k] for k in held]
        if index in given:      # (its layers are those the outer model was given: checked there)
            models.append(given[index])
            continue
        models.append(_made(entry, own))
    return models


def given_models(models):
    """Let the next ``made_models`` take ``models`` (``{index: model}``) for the nested models of
    those indices rather than make them: a ``clone_function``'s results."""
    _READING.given = models


def _made(entry, layers):
    """One nested model made again on ``layers`` (its own, in its order)."""
    from .graph import Model
    from .model import Sequential
    cls = Sequential if entry["class_name"] == "Sequential" else Model
    config = {**entry["config"], "layers": [None] * len(layers), "compile": None}
    if (cls is Model) != (config.get("inbound") is not None):
        raise ValueError(f"config: a 'nested' {entry['class_name']}'s config "
                         f"{'lacks' if cls is Model else 'has'} a graph ('inbound')")
    depth = getattr(_READING, "depth", 0)
    if depth >= _MAX_DEPTH:
        raise ValueError(f"config: models nested more than {_MAX_DEPTH} deep")
    # each nested model's graph is drawn again: a config of tiny models nested in each other, or of
    # a million calls of one layer, would replay for minutes; a model file's cap on layers and calls
    # holds for all of them together, counted from the outermost one read
    graph = config.get("graph") if isinstance(config.get("graph"), dict) else config
    calls = graph.get("calls") if isinstance(graph.get("calls"), list) else []
    left = _READING.left - 1 - len(calls)
    if left < 0:
        from .io import MAX_LAYERS
        raise ValueError(f"config: its nested models hold more than {MAX_LAYERS} models and calls together, more "
                         f"than a model file holds")
    _READING.left = left
    waits = cls is Sequential and config.get("input") is None
    if waits:
        # a Sequential without an Input of its own was built on its layers once the outer model
        # built them (glassnet._nested_build), from the outer model's seed or the streams its layers'
        # "seed_origin" gives: so again, not by its own build now (its first layer's input shape
        # would start one), which would draw other weights
        config["input_shape"] = None
        first_shape = layers[0].input_shape
        layers[0].input_shape = None
    _READING.depth = depth + 1
    # the streams the layers' entries in the outer config record ("seed_origin") are the outer
    # model's to give when the layers join it, as in a config read flattened: joining this model
    # first must not take them, nor leave this model's streams on the layers
    before = [(layer.rng, {key: layer.__dict__[key] for key in _STREAM_KEYS if key in layer.__dict__})
              for layer in layers]
    try:        # (its own nested models, in its config, are made one level deeper)
        model = cls._from_config_layers(config, layers)
    finally:
        _READING.depth = depth
        if waits:
            layers[0].input_shape = first_shape
        for layer, (rng, kept) in zip(layers, before):
            for key in _STREAM_KEYS:
                layer.__dict__.pop(key, None)
            layer.__dict__.update(kept)
            layer.rng = rng
    if not model.built:
        # drawn by the outer model, which builds its layers: built on them then (glassnet._nested_build)
        from ._nested_build import wait_for_layers
        wait_for_layers(model)
    return model


def mark_calls(nested, models, tensors, sources):
    """Mark the tensors of each nested call (``nested["calls"]``) of a functional model being read
    back (``tensors``: each call's, ``sources``: its Inputs) as that call's, as a live call of
    the nested model marks them, so that the model drawn from them keeps the records."""
    from ._summary import record
    from .model import Sequential
    calls = nested.get("calls")
    if not isinstance(calls, list) or not calls:
        raise ValueError(f"config: 'nested' of a functional model must list its nested models' 'calls', got "
                         f"{calls!r:.100}")
    count, marked = len(tensors), set()

    def tensor(k):
        return tensors[k] if k >= 0 else sources[-1 - k]
    used = set()
    for call in calls:
        if not isinstance(call, dict) or set(call) != {"model", "calls", "called_on", "returned"} \
                or isinstance(call["model"], bool) or not isinstance(call["model"], int) \
                or not 0 <= call["model"] < len(models):
            raise ValueError(f"config: a 'nested' call must be {{'model': its index, 'calls', 'called_on', "
                             f"'returned'}}, got {call!r:.100}")
        own = _index_list(call["calls"], count, "call's 'calls'")
        if not own or marked & set(own) or len(set(own)) != len(own):
            raise ValueError(f"config: a 'nested' call's 'calls' must name calls of the graph, each in one call "
                             f"only, got {own!r:.100}")
        marked |= set(own)
        model = models[call["model"]]
        called_on = _index_list(call["called_on"], count, "call's 'called_on'", low=-len(sources))
        returned = call["returned"]
        if not isinstance(returned, list) or len(returned) != len(model._output_calls) or not all(
                k is None or isinstance(k, int) and not isinstance(k, bool) and k in own for k in returned):
            raise ValueError(f"config: a 'nested' call's 'returned' must name its own call (or null) for each of "
                             f"model {model.name!r}'s {len(model._output_calls)} outputs, got {returned!r:.100}")
        if len(called_on) != (len(model.inputs) if type(model) is not Sequential else 1):
            raise ValueError(f"config: a 'nested' call's 'called_on' must name what model {model.name!r} reads, one "
                             f"per input, got {called_on!r:.100}")
        held = {id(layer) for layer in model.layers}
        if any(id(tensors[k].layer) not in held for k in own):
            raise ValueError(f"config: a 'nested' call of model {model.name!r} names a call of a layer it does not hold")
        rec = record(model)
        rec.called_on = tuple(tensor(k) for k in called_on)
        rec.returned = tuple(None if k is None else tensors[k] for k in returned)
        for k in own:
            tensors[k].nested_in = rec
        used.add(call["model"])
    if len(used) != len(models):
        raise ValueError("config: a 'nested' model is never called")


def sequential_records(model, models):
    """The records of the models nested in a Sequential read back, in order: each one's layers
    together, in its order, as nesting a model put them (checked: a file may say anything)."""
    from ._summary import record
    place = {id(layer): k for k, layer in enumerate(model.layers)}
    for nested in models:
        at = [place.get(id(layer)) for layer in nested.layers]
        if None in at or at != list(range(at[0], at[0] + len(at))):
            raise ValueError(f"config: the 'nested' model {nested.name!r} of a Sequential must hold consecutive "
                             f"layers of it, in order")
    model._nesting = [record(nested) for nested in models]
