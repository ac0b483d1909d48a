"""Models nested in a functional model, as Keras 3.15's files hold them: one layer each.

glassnet draws a nested model's calls into the outer model's graph (``base(x)`` replays base's
layers there), and each such call keeps a ``Nested`` record (glassnet._summary): the model
itself, the tensors it was called on (``called_on``) and those it returned (``returned``). Keras
keeps the model as one operation with one node per call; its file (``config.json``) lists it as
one entry, its own config, with those nodes as ``inbound_nodes``; ``model.weights.h5`` holds its
weights under its group (``layers/functional/layers/dense``), every weight of it, also those of
layers making an output the outer model never reads; and the optimizer's slots follow Keras'
``trainable_variables``, which list those weights too.

This module says which calls of a graph are such calls (``nested_calls``) and the layers in
Keras' order of the model as its file holds it, those unread layers included (``keras_layers``,
``unread_layers``), for the writer (glassnet._keras_write), the weights reader (glassnet._keras_file)
and the optimizer's state (glassnet._keras_optimizer_state).

A graph is written so when each model nested in it is a plain Sequential or functional Model
(``writes_nested``); one nesting a subclass' drawn call (no config of Keras' form) is written
flattened, as before. A Sequential holding a functional model (drawn into its graph) is written
with that model as one of its layers, as Keras writes it (``sequential_writes_nested``).
"""

_KINDS = ("Sequential", "Functional")


def writes_nested(model):
    """Whether ``model`` (a functional Model) is written with its nested models nested: it has
    some, each a plain Sequential or functional Model known by its record, and its graph's
    calls are those its outputs reach (no add_loss terms nor a block's dead calls joined)."""
    records = list(getattr(model, "_nesting", ()) or ())
    if not records or any(r.model is None or r.kind not in _KINDS for r in records):
        return False
    tensors = call_tensors(model)
    if tensors is None:
        return False
    # a layer of a nested model called outside it too: Keras' entry of the model holds it
    held = {id(layer) for r in records for layer in r.layers}
    if any(t.nested_in is None and id(t.layer) in held for t in tensors):
        return False
    # a nested call reading a tensor its outputs the outer model reads do not need (an input of
    # the nested model that its read outputs ignore): the graph holds no call making it, which
    # Keras' node of the nested call names; written flattened, the graph's own calls
    made = {id(t) for t in tensors} | {id(t) for t in model.inputs}
    return all(id(t) in made for r in records for t in r.called_on)


def sequential_writes_nested(model):
    """Whether a Sequential holding a functional model's calls (``_nested_calls``: glassnet draws
    them into its graph) is written with that model nested, as Keras writes it: one entry of the
    Sequential's layers, the model's own config. So when each nested model is a plain Sequential or
    functional Model known by its record, a functional one of one input and one output whose every
    layer the Sequential holds (no output branch left unread), and each layer is called once; a
    block of yours drawn inline (its record names its class) is refused by the writer."""
    records = list(getattr(model, "_nesting", ()) or ())
    if not records or any(r.model is None or r.kind not in _KINDS for r in _every_record(records)):
        return False
    calls = model._nested_calls
    if len({id(layer) for layer in calls}) != len(calls):
        return False
    for r in _every_record(records):
        if r.kind == "Functional" and (len(r.model.inputs) != 1 or len(r.model.outputs) != 1 or
                                       {id(layer) for layer in keras_layers(r.model)} != {id(layer) for layer in r.layers}):
            return False
    return True


def _every_record(records):
    for record in records:
        yield record
        yield from _every_record(record.children)


def call_tensors(model):
    """The tensor of each call of ``model._calls``, in order (its ``nested_in``: the ``Nested``
    record of the model call it belongs to, the outermost; None for the outer model's own call);
    None when the graph's calls are not those a walk back from its outputs finds."""
    from .graph import _walk_back
    tensors, _ = _walk_back(list(model.outputs))
    if len(tensors) != len(model._calls) or any(t.layer is not layer for t, layer in zip(tensors, model._calls)):
        return None
    return tensors


def output_index(record, tensor):
    """Which output of the nested call ``record`` the outer graph's ``tensor`` is (Keras' tensor
    index in ``keras_history``); None for a tensor inside that call."""
    return next((i for i, made in enumerate(record.returned) if made is tensor), None)


def keras_layers(model):
    """``model.layers`` as Keras lists its weights' layers in a file written nested: each nested
    model's every layer at its place (``model.layers`` holds only those the outer outputs reach),
    in that model's order, and so for the models nested in those."""
    return _every_layer(model.layers, getattr(model, "_nesting", ()) or ())


def _every_layer(layers, records):
    owner = {}
    for record in records:
        for layer in record.layers:
            owner.setdefault(id(layer), record)
    ordered, seen = [], set()
    for layer in layers:
        record = owner.get(id(layer))
        for held in ([layer] if record is None else _every_layer(record.layers, record.children)):
            if id(held) not in seen:
                seen.add(id(held))
                ordered.append(held)
    return ordered


def unread_layers(model):
    """The layers of ``model``'s nested models that its outputs do not reach (a nested model's
    output branch it leaves unread): not among ``model.layers``, yet held by the nested models,
    whose weights a Keras file holds and a re-save writes."""
    present = {id(layer) for layer in model.layers}
    return [layer for layer in keras_layers(model) if id(layer) not in present]

