"""Reading Keras' legacy HDF5 model files (``model.save("m.h5")`` of tf.keras 2, and Keras 3's
``keras.saving.save_model(model, "m.h5")``, which still writes them), read only.

Such a file holds, as attributes of its root, ``model_config`` (the model's config as JSON: Keras 3's
form when Keras 3 wrote it; Keras 2's otherwise: ``batch_input_shape`` in the first layer's or the
InputLayer's config, ``inbound_nodes`` as ``[[["dense", 0, 0, {}], ...], ...]``, a functional model
of class ``Model`` or ``Functional``, its ends as ``[["input_1", 0, 0]]``) and ``training_config``
(the compile settings, the optimizer as ``optimizer_config``); and a group ``model_weights`` whose
``layer_names`` attribute lists the model's layers, each a group whose ``weight_names`` attribute
gives its weights' paths inside it, in Keras' order (``dense/kernel:0``, or in Keras 3
``model/dense/kernel``). A nested model is one such group holding all its layers' weights. A legacy
weights file (``save_weights("w.h5")`` of Keras 2) has ``layer_names`` at its root.

glassnet converts a Keras 2 config to Keras 3's form (``keras2_spec``), builds the model from it as
a ``.keras`` file's (glassnet._keras_models: nothing imported or run, ``Lambda`` refused, the
parameters capped by what the file can hold), then reads each layer's weights by the layer's name
(a nested model's split among its layers by the layer name in each weight's path), the HDF5 walked
as glassnet._keras_h5 walks it (hard links only, plain numeric datasets, capped counts), every
shape compared before any data is read. The optimizer's weights (``optimizer_weights``) are not
read: the model is compiled afresh from ``training_config``.
"""
import json

import numpy as np

from ._keras_h5 import _Walk, h5py_module, open_h5, without_keras_only
from .layers._norm_layout import older_fits
from ._modelfile import MAX_CONFIG_BYTES
from .errors import ModelFileError

MAX_NAMES = 100_000          # entries of a layer_names or weight_names attribute
_MODELS = ("Sequential", "Functional", "Model")


def _attr(obj, key, where, cap):
    """The attribute ``key`` of ``obj`` (None when absent), its size checked before it is read."""
    if key not in obj.attrs:
        return None
    attr = obj.attrs.get_id(key)
    try:        # (h5py raises for an empty one; a variable-length string's text lies in the file, read whole already)
        size = attr.get_storage_size()
    except RuntimeError:
        size = 0
    count = 1 if attr.shape is None else int(np.prod(attr.shape, dtype=np.int64))
    if size > cap or count > MAX_NAMES:
        raise ModelFileError(f"{where}: attribute {key!r} holds {size} bytes in {count} entries, more than glassnet "
                             f"reads ({cap} bytes, {MAX_NAMES} entries)")
    return obj.attrs[key]


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _json_attr(obj, key, where):
    value = _text(_attr(obj, key, where, MAX_CONFIG_BYTES))
    if value is None:
        return None
    try:
        value = json.loads(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ModelFileError(f"{where}: {key}: not JSON ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not isinstance(value, dict):
        raise ModelFileError(f"{where}: {key}: expected a JSON object, got {type(value).__name__}")
    return value


def _names(obj, key, where):
    """A list of strings from the attribute ``key`` (Keras writes an array of bytes or str)."""
    value = _attr(obj, key, where, MAX_NAMES * 1024)
    if value is None and f"{key}0" in obj.attrs:    # Keras 2's chunks of an attribute past 64 KiB
        chunks, k = [], 0
        while f"{key}{k}" in obj.attrs and k < 1000 and sum(len(c) for c in chunks) <= MAX_NAMES:
            chunks.append(np.atleast_1d(_attr(obj, f"{key}{k}", where, MAX_NAMES * 1024)))
            k += 1
        value = np.concatenate(chunks)
    if value is None:
        raise ModelFileError(f"{where}: {obj.name} has no {key!r} attribute")
    shape = getattr(value, "shape", None)
    if shape is None or len(shape) != 1 or shape[0] > MAX_NAMES:
        raise ModelFileError(f"{where}: {obj.name}: {key} must be a list of at most {MAX_NAMES} names")
    names = [_text(v) for v in value.tolist()] if value.size else []
    if not all(isinstance(n, str) and n for n in names):
        raise ModelFileError(f"{where}: {obj.name}: {key} holds something other than names")
    return names


def _at(walk, group, path, where):
    """The object at the relative ``path`` ("dense/kernel:0") under ``group``, by hard links only."""
    for key in path.split("/"):
        if not isinstance(group, walk.h5py.Group) or key not in group:
            raise ModelFileError(f"{where}: {path!r} names nothing in the file")
        group = walk.child(group, key, where)
    return group


def file_layers(walk, h5):
    """``[(layer name, [(weight name, dataset)])]`` of the file's layers with weights, in its order."""
    root = walk.child(h5, "model_weights", "") if "model_weights" in h5 else h5
    found = []
    for name in _names(root, "layer_names", walk.where):
        group = _at(walk, root, name, walk.where)
        weight_names = _names(group, "weight_names", walk.where)
        pairs = [(w, walk.dataset(_at(walk, group, w, f"{walk.where}: {name}"), f"{name}/{w}")) for w in weight_names]
        if pairs:
            found.append((name, pairs))
    return found


def _flat(model):
    """glassnet's layers with weights of ``model``, nested models' layers in their place."""
    out = []
    for layer in model.layers:
        if getattr(layer, "is_model", False):
            out += _flat(layer)
        elif layer.get_weights():
            out.append(layer)
    return out


def legacy_weights(model, h5py, h5, where):
    """``[(layer, arrays)]`` of a legacy file for ``model``: matched by layer name (a nested model's
    weights by the name in each weight's path) when the file's names are ``model``'s, else by order
    of the layers with weights (Keras' ``load_weights`` of an ``.h5``); shapes checked, then read."""
    walk = _Walk(h5py, where)
    found = file_layers(walk, h5)
    layers = _flat(model)
    if getattr(model, "_nesting", None):       # a nested model's layers whose output the model leaves
        from ._keras_nesting import unread_layers     # unread: their weights are in its group too
        layers += [layer for layer in unread_layers(model) if layer.get_weights()]
    by_name = {layer.name: layer for layer in layers}
    plan = {}
    for name, pairs in found:
        if name in by_name:
            plan.setdefault(name, []).extend(d for _, d in pairs)
            continue
        for weight, dataset in pairs:       # a nested model's group: each weight's layer, by its path
            owner = next((part for part in weight.split("/")[:-1] if part in by_name), None)
            if owner is None:
                break
            plan.setdefault(owner, []).append(dataset)
        else:
            continue
        plan = None     # a name this model does not have: Keras' rule, by order
        break
    if plan is not None:
        planned = [(layer, plan.pop(layer.name, [])) for layer in layers]
    else:
        top = [layer for layer in model.layers if layer.get_weights()]
        if len(top) != len(found):
            from ._keras_models import unreached_refusal
            refusal = unreached_refusal(model, [n for n, _ in found], where)
            if refusal is not None:
                raise refusal
            raise ModelFileError(f"{where}: the file has {len(found)} layers with weights ({[n for n, _ in found][:10]}), "
                                 f"the model {len(top)}")
        planned = [(layer, [d for _, d in pairs]) for layer, (_, pairs) in zip(top, found)]
    out = []
    for layer, datasets in planned:
        datasets = _lora_order(layer, datasets)
        current = layer.get_weights()
        datasets = without_keras_only(layer, datasets, current)
        if len(datasets) != len(current):
            raise ModelFileError(f"{where}: layer {layer.name!r} has {len(current)} weights in glassnet, the file "
                                 f"{len(datasets)}")
        for k, (target, dataset) in enumerate(zip(current, datasets)):
            if tuple(dataset.shape) != target.shape and not older_fits(layer, target.shape, dataset.shape):
                raise ModelFileError(f"{where}: layer {layer.name!r} weight {k} ({dataset.name}): expected shape "
                                     f"{target.shape}, the file has {tuple(dataset.shape)}")
        out.append((layer, current, datasets))
    # (.reshape: an older glassnet's layout of a normalization's axis list, layers._norm_layout)
    return [(layer, [d[()].astype(t.dtype, copy=False).reshape(t.shape) for t, d in zip(current, datasets)])
            for layer, current, datasets in out]


def _lora_order(layer, datasets):
    """A LoRA layer's ``datasets`` in its ``get_weights`` order (Keras' ``weights``: kernel, bias, A,
    B). Keras' legacy writer puts the trainable weights first, so the frozen kernel (W0, not
    merged) comes last, and a SpectralNormalization's vector_u after the bias: matched by name; any
    other layer's (or names that do not match) as given."""
    if "_lora" not in layer.__dict__ and type(layer).__name__ != "SpectralNormalization":
        return datasets
    by_name = {d.name.rsplit("/", 1)[-1]: d for d in datasets}
    names = [layer.keras_weight_path(key)[-1] for key, _ in layer._weight_items()]
    if len(by_name) != len(datasets) or sorted(by_name) != sorted(names):
        return datasets             # the shapes are checked next, by position
    return [by_name[name] for name in names]


# -- Keras 2's config, in Keras 3's form -----------------------------------------------------------
def keras2_spec(spec, depth=0):
    """Keras 2's model ``spec`` in Keras 3's form (a Keras 3 spec comes back as it was)."""
    if depth > 32:
        raise ModelFileError("model_config: models nested more than 32 deep")
    if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
        raise ModelFileError(f"model_config: expected {{\"class_name\", \"config\"}}, got {str(spec)[:120]!r}")
    name = "Functional" if spec.get("class_name") == "Model" else spec.get("class_name")
    config = dict(spec["config"])
    entries = config.get("layers")
    if not isinstance(entries, list):
        return {**spec, "class_name": name}
    layers = []
    for k, entry in enumerate(entries):
        if isinstance(entry, dict) and entry.get("class_name") in _MODELS:
            entry = {**entry, **keras2_spec(entry, depth + 1)}
        elif isinstance(entry, dict) and isinstance(entry.get("config"), dict):
            inner = dict(entry["config"])
            shape = inner.pop("batch_input_shape", None)
            if entry.get("class_name") == "InputLayer" and shape is not None:
                inner.setdefault("batch_shape", shape)
            elif shape is not None and k == 0 and name == "Sequential":     # Keras 2's Sequential without an InputLayer
                layers.append({"class_name": "InputLayer", "config": {
                    "batch_shape": shape, "dtype": inner.get("dtype") if isinstance(inner.get("dtype"), str) else "float32",
                    "name": f"{inner.get('name', 'layer')}_input"}})
            entry = {**entry, "config": inner}
        if isinstance(entry, dict) and isinstance(entry.get("inbound_nodes"), list):
            known = {_entry(e) for e in entries}
            entry = {**entry, "inbound_nodes": [_node(n, known) for n in entry["inbound_nodes"]]}
        layers.append(entry)
    config["layers"] = layers
    for key in ("input_layers", "output_layers"):
        ends = config.get(key)
        if isinstance(ends, list) and len(ends) == 1 and isinstance(ends[0], list):
            config[key] = ends[0]       # Keras 2's one end, as a list of one
    return {**spec, "class_name": name, "config": config}


def _entry(entry):
    return entry.get("name") or (entry.get("config") or {}).get("name") if isinstance(entry, dict) else None


def _tensor(history):
    return {"class_name": "__keras_tensor__", "config": {"shape": [None], "dtype": "float32",
                                                         "keras_history": list(history[:3])}}


def _is_history(value, known):
    return (isinstance(value, list) and len(value) in (3, 4) and isinstance(value[0], str) and value[0] in known
            and all(type(v) is int for v in value[1:3]))


def _node(node, known):
    """Keras 2's node ``[[name, node, tensor, kwargs], ...]`` as Keras 3's ``{"args", "kwargs"}``
    (as Keras 3's ``deserialize_node`` reads it: one tensor, or a list of them; the last kwargs)."""
    if isinstance(node, dict) or not isinstance(node, list):
        return node
    if not all(_is_history(t, known) for t in node):
        raise ModelFileError(f"model_config: a Keras 2 node {str(node)[:120]!r} is not [[name, node, tensor, kwargs]]")
    tensors = [_tensor(t) for t in node]
    kwargs = node[-1][3] if node and len(node[-1]) == 4 else {}
    if not isinstance(kwargs, dict):
        raise ModelFileError(f"model_config: a Keras 2 node's kwargs {str(kwargs)[:80]!r} is not a dict")
    kwargs = {k: _tensor(v) if _is_history(v, known) else v for k, v in kwargs.items()}
    return {"args": [tensors[0] if len(tensors) == 1 else tensors], "kwargs": kwargs}


def _compile_config(training):
    """``training_config`` as Keras 3's ``compile_config`` (the optimizer as Keras' dict)."""
    config = {k: v for k, v in training.items() if k != "optimizer_config"}
    optimizer = training.get("optimizer_config")
    if isinstance(optimizer, dict):
        name = optimizer.get("class_name")
        name = name.split(">")[-1] if isinstance(name, str) else name       # Keras 2's "Custom>Adam"
        settings = dict(optimizer.get("config") or {})
        for key in ("is_legacy_optimizer", "jit_compile"):
            settings.pop(key, None)
        if settings.get("decay") in (0, 0.0):
            settings.pop("decay")
        config["optimizer"] = {"module": "keras.optimizers", "class_name": name, "config": settings,
                               "registered_name": None}
    for key in ("metrics", "weighted_metrics"):
        if key in config:
            config[key] = _metric_modules(config[key])
    return config


def _metric_modules(value):
    """compile's metrics (a list, or per output a list or dict of lists) with each metric object's
    entry given Keras' module: Keras 3.15 writes ``{"class_name": "MeanAbsoluteError", "config"}``,
    no module, in the .h5 of a model its legacy loader compiled ("mae" read back as that object),
    which its loader reads as a metric."""
    if isinstance(value, list):
        return [_metric_modules(v) for v in value]
    if isinstance(value, dict) and "class_name" in value:
        if "module" in value or not isinstance(value.get("config"), dict):
            return value
        return {"module": "keras.metrics", "registered_name": None, **value}
    if isinstance(value, dict):
        return {k: _metric_modules(v) for k, v in value.items()}
    return value


def load_legacy(data, compile):
    """``(model, metadata)`` of the legacy ``.h5`` model file ``data`` (its bytes)."""
    from ._keras_file import _keras_compile_objects
    from ._keras_models import _unshared, compile_from_keras, model_from_keras
    h5py = h5py_module("load_model")
    where = "the legacy .h5 file"
    with open_h5(h5py, data, where) as h5:
        spec = _json_attr(h5, "model_config", where)
        if spec is None:
            raise ModelFileError(f"{where}: no 'model_config' attribute: a weights file (Keras' save_weights), not a "
                                 f"model; build the model and call model.load_weights(path)")
        version = _text(_attr(h5, "keras_version", where, 256))
        spec = keras2_spec(_unshared(spec))
        # parameters the file can hold: its bytes as float32 (Keras' weights' dtype)
        model = model_from_keras(spec, "model_config", len(data) // 4, "the file's bytes hold")
        for layer, arrays in legacy_weights(model, h5py, h5, where):
            layer.set_weights(arrays)
        training = _json_attr(h5, "training_config", where) if compile else None
    if training:
        # Keras 3 writes this format too (keras_version "3.x"): only a Keras 2 file's flat metrics
        # list is read as Keras 2 did, on every output
        keras2 = not (isinstance(version, str) and version.split(".")[0].isdigit() and int(version.split(".")[0]) >= 3)
        compile_from_keras(model, _keras_compile_objects(_compile_config(training)), "training_config", keras2)
    model.initial_epoch = 0
    return model, {"keras_version": version if isinstance(version, str) else None}
