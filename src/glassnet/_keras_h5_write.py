"""Writing Keras' legacy HDF5 model files (``model.save("m.h5", save_format="h5")``), for Keras 3.15's
``keras.models.load_model("m.h5")`` (and glassnet's, glassnet._keras_legacy) to load.

The file is what Keras 3.15's ``legacy_h5_format.save_model_to_hdf5`` writes:

- root attributes ``model_config`` (JSON: ``{"class_name": "Sequential" or "Functional", "config"}``,
  the config glassnet._keras_write makes for a ``.keras`` file in Keras' legacy form: a layer's
  entry without ``module``, ``registered_name`` and ``build_config``, its inner values as they are),
  ``keras_version``, ``backend`` (``"numpy"``: Keras 3.15's NumPy backend computes as glassnet)
  and, for a compiled model, ``training_config`` (the compile settings, the optimizer as
  ``optimizer_config``: ``{"class_name", "config"}``);
- a group ``model_weights``, its ``layer_names`` attribute naming the entries of Keras'
  ``model.layers`` (a functional model's Inputs too; a nested Sequential as one), each a group
  whose ``weight_names`` attribute lists its weights' paths (Keras' ``variable.path``:
  ``"outer/dense/kernel"``, a Sequential's name first; ``"dense/kernel"`` in a functional model),
  each a dataset at that path under the group. The order is Keras' ``_legacy_weights``: the
  trainable weights, then the others (a nested model's moving statistics after all its kernels),
  which Keras' loader reads by position and glassnet's by the layer's name in each path;
  an empty ``top_level_model_weights`` group.

The optimizer's state (Keras' ``optimizer_weights`` group) is not written: Keras compiles the
loaded model from ``training_config`` with a fresh optimizer, as glassnet does reading it back.
Every refusal of the ``.keras`` writer holds here too, by name, before anything is written; the
file is made in memory and written atomically (a temporary file renamed onto the target).
"""
import io
import json

import numpy as np

from . import backend, saving
from ._keras_h5 import h5py_module, keras_only_weights, layer_groups
from ._keras_nesting import writes_nested
from ._keras_write import KERAS_VERSION, _compile_config, _model_config, _refuse, is_functional, keras_listed
from .parameters import nested_scopes

_MODELS = ("Sequential", "Functional")
_LEGACY_NAMES = {"GroupQueryAttention": "GroupedQueryAttention"}
_LONG = {"mse": "mean_squared_error", "mae": "mean_absolute_error", "mape": "mean_absolute_percentage_error",
         "msle": "mean_squared_logarithmic_error"}


def legacy_entry(entry):
    """A layer's (or a nested model's) entry of a ``.keras`` config in the legacy form Keras'
    ``save_model_to_hdf5`` writes: ``{"class_name", "config"}`` (and a functional model's layers'
    ``name`` and ``inbound_nodes``), a nested model's layers so too."""
    out = {key: value for key, value in entry.items() if key not in ("module", "registered_name", "build_config")}
    # Keras 3.15's legacy loader finds a layer by its class's own name: GroupedQueryAttention, which
    # its .h5 files say, not keras.layers' GroupQueryAttention of its .keras files ("Unknown layer")
    out["class_name"] = _LEGACY_NAMES.get(out.get("class_name"), out.get("class_name"))
    # Keras 3.15's legacy loader turns a config's string naming one of its functions into that
    # function: Attention's score_mode="dot" became keras' dot() and the layer refused it (its own
    # .h5 of Attention() does not load either). "dot" is Attention's default: left out, it loads
    if out.get("class_name") == "Attention" and isinstance(out.get("config"), dict) and \
            out["config"].get("score_mode") == "dot":
        out["config"] = {k: v for k, v in out["config"].items() if k != "score_mode"}
    if entry.get("class_name") in _MODELS and isinstance(entry["config"].get("layers"), list):
        out["config"] = {**entry["config"], "layers": [legacy_entry(e) for e in entry["config"]["layers"]]}
    return out


def _loss_entries(value):
    """The class names of the loss entries (module "keras.losses") among compile's ``metrics``."""
    if isinstance(value, list):
        return [name for v in value for name in _loss_entries(v)]
    if isinstance(value, dict):
        if "class_name" in value:
            return [value["class_name"]] if value.get("module") == "keras.losses" else []
        return [name for v in value.values() for name in _loss_entries(v)]
    return []


def _training_config(model):
    """Keras' ``training_config``: the compile config with its optimizer as ``optimizer_config``."""
    config = _compile_config(model)
    if config is None:
        return None
    # Keras 3.15's legacy loader cannot read its own short loss names back ("Could not deserialize
    # 'keras.metrics.mse'", its .h5 of compile(loss="mse")): written by the full names it reads
    loss = config.get("loss")
    if isinstance(loss, (str, list, dict)):
        config["loss"] = (_LONG.get(loss, loss) if isinstance(loss, str) else
                          [_LONG.get(v, v) if isinstance(v, str) else v for v in loss] if isinstance(loss, list) else
                          {k: _LONG.get(v, v) if isinstance(v, str) else v for k, v in loss.items()})
    # Keras 3.15's legacy loader looks metrics up among its metrics alone: a loss given as a metric
    # (Huber(delta=0.5), "huber"), which its .keras files keep, fails its first evaluate there
    # ("Could not interpret metric identifier: Huber"); refused by name, as what Keras cannot read
    for key in ("metrics", "weighted_metrics"):
        found = _loss_entries(config.get(key))
        if found:
            _refuse("compile", f"{key}: the loss {found[0]} as a metric, which Keras 3.15's legacy .h5 loader "
                               f"cannot read back (it looks metrics up among its metrics); save as .keras, or "
                               f"compile with the metric class of that name where Keras has one")
    optimizer = config.pop("optimizer")
    config["optimizer_config"] = {"class_name": optimizer["class_name"], "config": optimizer["config"]}
    return config


def _entries(model, nested):
    """``[(name, [leaf layers])]``: the entries of Keras' ``model.layers`` (an Input's or layer
    without weights: none), each nested model one entry holding its layers."""
    entries = []
    for group, layer, name in layer_groups(model, nested=nested):
        if group.count("/layers/") == 0:        # a top entry: "layers/<group>"
            entries.append((name, []))
        if layer is not None and hasattr(layer, "get_weights") and not getattr(layer, "is_model", False):
            entries[-1][1].append(layer)
    # a functional model's Inputs where Keras' model.layers lists them, at their depth (an Input
    # read only deeper in the graph after the layers before it), as its summary shows them
    from .graph import Model
    listed = keras_listed(model) if isinstance(model, Model) else None
    if listed is not None:
        names = [name for name, _ in entries]
        if sorted(listed) == sorted(names) and len(set(names)) == len(names):
            held = dict(entries)
            entries = [(name, held[name]) for name in listed]
    return entries


def _scopes(model, nested):
    """{id(layer): the names Keras' paths give its weights before the layer's}: the Sequentials
    around it (a functional model adds none), and the model's own names."""
    top = [] if is_functional(model) else [model.name]
    return (nested_scopes(getattr(model, "_nesting", ()), top) if nested else {}), top


def _weights_of(layers, scopes, top):
    """``[(path, array)]`` of ``layers`` in Keras' ``_legacy_weights`` order: trainable weights
    first (those of trainable layers' ``params``), then the others."""
    trained, other = [], []
    for layer in layers:
        prefix = [*scopes.get(id(layer), top), layer.name]
        if not layer.trainable and "_lora" in layer.__dict__:
            # a frozen LoRA layer's weights are all Keras' non-trainable ones, in its weights' order:
            # the frozen kernel first (glassnet holds it in state, after A and B)
            other += [("/".join([*prefix, *layer.keras_weight_path(k)]), a) for k, a in layer._weight_items()]
            continue
        for key, array in layer.params.items():
            (trained if layer.trainable else other).append(("/".join([*prefix, *layer.keras_weight_path(key)]), array))
        for key, array in getattr(layer, "state", {}).items():
            other.append(("/".join([*prefix, *layer.keras_weight_path(key)]), array))
        for name, array in keras_only_weights(layer, layer.get_weights()):
            other.append(("/".join([*prefix, name]), array))      # Keras' Normalization count
    return trained + other


def _inline_vocabularies(spec, model):
    """``spec`` with each learnt lookup's vocabulary (and a tf_idf one's idf_weights) in its config, as
    a vocabulary given: a legacy .h5 has no assets, where the .keras writer puts them, so the
    file read back (by Keras or glassnet) had a lookup without its vocabulary, refused when called."""
    from ._keras_assets import LOOKUPS, learnt
    layers = {layer.name: layer for layer in _every_layer(model)}

    def walk(value):
        if isinstance(value, dict):
            config = value.get("config")
            layer = layers.get(config.get("name")) if isinstance(config, dict) else None
            if value.get("class_name") in LOOKUPS and layer is not None and learnt(layer) and layer.vocabulary_size():
                vocabulary = [v.item() if isinstance(v, np.generic) else v
                              for v in layer.get_vocabulary(include_special_tokens=True)]
                config.update(vocabulary=vocabulary, has_input_vocabulary=True)
                if layer.output_mode == "tf_idf" and layer.idf_weights is not None:
                    config["idf_weights"] = [float(w) for w in np.asarray(layer.idf_weights)[:len(vocabulary)]]
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)
    walk(spec)
    return spec


def _every_layer(model):
    for layer in model.layers:
        yield layer
        if getattr(layer, "is_model", False):
            yield from _every_layer(layer)


def _names_attr(names):
    # (Keras' np.asarray of a list of bytes; an empty list is a float64 array, as Keras writes it)
    return np.asarray([name.encode("utf-8") for name in names]) if names else np.asarray([])


def h5_bytes(model, include_optimizer=True):
    """The bytes of the legacy ``.h5`` file of ``model``: every refusal comes before anything is made."""
    if not model.built:
        _refuse(repr(model.name), "not built: fit, build or call it first (Keras' file holds the built weights)")
    nested = not is_functional(model) or writes_nested(model)     # (as the .keras writer's weights)
    try:
        for layer in model.layers:
            # (the .keras writer takes a registered class of yours; Keras' legacy loader finds a class by
            # its class name alone, not the "package>Name" it was registered under, and calls no saving hook)
            if saving.is_registered(layer) and not type(layer).__module__.startswith("glassnet."):
                _refuse(repr(layer.name), f"{saving.get_registered_name(type(layer))!r} is a layer class of yours: Keras' "
                                          f"legacy loader cannot find it from a file (the .keras format can: "
                                          f"save_format='keras')")
        spec = _inline_vocabularies(legacy_entry(_model_config(model)), model)
        training = _training_config(model) if include_optimizer else None
    except ValueError as exc:       # the .keras writer's refusals, said of this file's format
        prefix = "save_model: .keras: "
        if str(exc).startswith(prefix):
            raise ValueError(f"save_model: .h5: {str(exc)[len(prefix):]}") from None
        raise
    for i, w in enumerate(model.get_weights()):
        if not np.isfinite(w).all():
            _refuse(repr(model.name), f"weights[{i}] holds NaN or infinite values")
    entries = _entries(model, nested)
    scopes, top = _scopes(model, nested)
    h5py = h5py_module("save_model")
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        h5.attrs["keras_version"] = KERAS_VERSION
        h5.attrs["backend"] = "numpy"
        h5.attrs["model_config"] = json.dumps({"class_name": spec["class_name"],
                                               "config": spec["config"]}).encode("utf-8")
        if training is not None:
            h5.attrs["training_config"] = json.dumps(training).encode("utf-8")
        weights = h5.create_group("model_weights")
        weights.attrs["layer_names"] = _names_attr([name for name, _ in entries])
        weights.attrs["backend"] = b"numpy"
        weights.attrs["keras_version"] = KERAS_VERSION.encode("utf-8")
        for name, layers in sorted(entries, key=lambda e: e[0]):
            group = weights.create_group(name)
            pairs = _weights_of(layers, scopes, top)
            group.attrs["weight_names"] = _names_attr([path for path, _ in pairs])
            for path, array in pairs:
                group.create_dataset(path, data=np.asarray(backend.to_numpy(array)))
        weights.create_group("top_level_model_weights").attrs["weight_names"] = _names_attr([])
    return buffer.getvalue()


def save_h5(model, path, include_optimizer=True):
    """Write ``model`` to the legacy ``.h5`` file ``path``, atomically (see the module's docstring)."""
    from ._atomic import write_atomically
    data = h5_bytes(model, include_optimizer)
    write_atomically(path, lambda f: f.write(data))
