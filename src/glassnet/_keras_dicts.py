"""Models of dict inputs or outputs in Keras 3.15's files (``.keras`` config.json, ``.h5`` model_config).

A functional model made as ``Model({"b": ib, "a": ia}, {"z": z, "y": y})`` is written by Keras
with its ends as dicts, in the order the keys were given:

    "input_layers":  {"b": ["in_b", 0, 0], "a": ["in_a", 0, 0]}
    "output_layers": {"z": ["d2", 0, 0], "y": ["d1", 0, 0]}

(a dict of one key stays a dict: ``{"only": ["a", 0, 0]}``). Such a model called inside another
functional model is one node whose ``args`` hold one dict of tensors by the same keys, and whose
``kwargs`` say ``{"mask": {key: null, ...}}``. glassnet keeps the keys in the order given
(``_input_keys``, ``_output_keys``) and its tensors in Keras' flat order (the keys sorted:
glassnet._dictinputs, glassnet._dictoutputs); these helpers turn the one into the other. A
nested model's outputs read by the outer model are numbered in the flat order in ``keras_history``
(glassnet._keras_nesting.output_index), as Keras numbers them. The reader
(glassnet._keras_models) takes either form.
"""
from ._dictoutputs import as_dict


def keras_ends(keys, flat):
    """Keras' ``input_layers`` or ``output_layers``: ``flat`` (one ``[name, node, index]`` per
    input or output, in the flat order) as a dict by ``keys`` (the keys as given) when the model
    was given a dict, else the one entry or the list of them."""
    if keys is not None:
        return as_dict(keys, flat)
    return flat if len(flat) > 1 else flat[0]


def call_node(model, read):
    """Keras' node of a call of the nested ``model`` on the tensors ``read`` (Keras'
    ``__keras_tensor__`` entries, in ``model``'s flat input order): ``{"args", "kwargs"}``, no
    masks (Keras writes ``"mask"`` all the same: null per input, in the inputs' form)."""
    keys = getattr(model, "_input_keys", None)
    if keys is not None:
        return {"args": [as_dict(keys, read)], "kwargs": {"mask": dict.fromkeys(keys)}}
    if len(read) == 1:
        return {"args": read, "kwargs": {"mask": None}}
    return {"args": [read], "kwargs": {"mask": [None] * len(read)}}


def keyed_compile(model, config):
    """Keras' ``compile_config`` (``config``, its entries one per output in the flat order) of a
    model of several outputs in the forms compile was given them, as Keras keeps its arguments:
    the ``loss`` as a dict when it was one (its keys in their order, which orders the outputs'
    loss logs: glassnet._dictoutputs.loss_log_order; an output it gave None keeps its None, one
    it left out stays out), ``loss_weights``, ``metrics`` and ``weighted_metrics`` as dicts by
    output name when given as dicts (outputs given none left out) and null when not given.
    Changes ``config`` in place."""
    heads = getattr(model, "_heads", None)
    forms = getattr(model.loss, "forms", None)
    if heads is None or forms is None:          # (one output, or a model compiled before forms were kept)
        return config
    names = [head.name for head in heads]
    given = model.loss.given
    order = list(names)
    loss = config["loss"]
    if isinstance(given, dict):
        order = [name for name in given if name in names]
        config["loss"] = {name: loss[names.index(name)] for name in order}
    elif not isinstance(given, (list, tuple)) and isinstance(loss, list) and all(each == loss[0] for each in loss):
        config["loss"] = loss[0]            # one loss given for every output: Keras keeps the one
    weights = config.get("loss_weights")
    if forms["loss_weights"] is None:
        config["loss_weights"] = None
    elif forms["loss_weights"] == "dict" and isinstance(weights, list):
        # (an output with no loss has no weight to give: left out, as a dict may leave it out)
        scored = {head.name for head in heads if head.scored}
        config["loss_weights"] = {name: weights[names.index(name)] for name in order if name in scored}
    for key in ("metrics", "weighted_metrics"):
        per_output = config.get(key)
        if not isinstance(per_output, list) or len(per_output) != len(names):
            continue
        if forms[key] == "dict":
            config[key] = {name: each for name, each in zip(names, per_output) if each} or None
        elif forms[key] is None and not any(per_output):
            # not given: null, as Keras writes it (its model loaded from [[], []] asks every output's
            # targets, also those of an output given no loss)
            config[key] = None
    return config
