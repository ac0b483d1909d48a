"""``serialize_keras_object`` and ``deserialize_keras_object`` (Keras' names; ``glassnet.saving``
and ``glassnet.utils`` export them): one entry point for every kind of object a config holds.

Each kind keeps its own ``serialize``/``deserialize`` (``glassnet.layers``, ``losses``,
``metrics``, ``optimizers``, ``optimizers.schedules``, ``initializers``, ``regularizers``,
``constraints``, ``activations``); this module only picks the kind and writes its dict in Keras'
form, ``{"module", "class_name", "config", "registered_name"}``:

- a built-in class: ``"module": "glassnet.layers"`` (the kind), its class name and its config;
- an object of a class of yours registered with ``glassnet.saving.register_serializable``: its
  class's module and name, its config, and ``"registered_name": "package>Name"``;
- a function (an activation, a loss or metric function, a built-in initializer function, or one of
  yours registered): Keras' own form, ``{"module": "builtins", "class_name": "function", "config":
  "relu", "registered_name": "function"}`` (the name is the registered one for yours);
- None, numbers, strings, lists, tuples and dicts of them as they are (their items serialized);
  NumPy arrays as Keras' ``{"class_name": "__numpy__", ...}``, NumPy numbers as Python's.

``deserialize_keras_object`` reads these, and what Keras 3's ``serialize_keras_object`` writes for
the kinds glassnet has: a ``"module"`` of ``"keras.layers"``, ``"keras.losses"``, ... goes to that
kind's ``deserialize``, which reads Keras' dicts. Nothing is imported or evaluated: classes and
functions are found by exact keys in glassnet's tables and the registry (and ``custom_objects``);
a module name only picks the table. Keras' serialized ``lambda`` is refused whatever
``safe_mode`` says: glassnet never runs code from a config.
"""
import inspect
import types

import numpy as np

from . import activations, constraints, initializers, layers, losses, metrics, optimizers, regularizers, saving
from ._keras_helpers import standardize_dtype
from .errors import UnknownObjectError
from .losses.base import plain_type, settings_changed
from .optimizers import schedules

__all__ = ["serialize_keras_object", "deserialize_keras_object"]

# the kinds, by the module name their dicts carry (after "glassnet." or "keras."): the kind's
# module (its serialize and deserialize) and the base class of its objects
KINDS = {
    "layers": (layers, layers.Layer), "losses": (losses, losses.Loss), "metrics": (metrics, metrics.Metric),
    "optimizers": (optimizers, optimizers.Optimizer),
    "optimizers.schedules": (schedules, schedules.LearningRateSchedule),
    "initializers": (initializers, initializers.Initializer), "regularizers": (regularizers, regularizers.Regularizer),
    "constraints": (constraints, constraints.Constraint),
}


def _function_tables():
    """The built-in functions a config may name, by kind: ``{kind: {name: function}}``. The loss
    functions are in ``metrics`` too (the same objects, as in Keras)."""
    loss_functions = {name: getattr(losses, name) for name in losses.__all__
                      if any(getattr(losses, name) is fn for fn in losses.functions.TRAINS_AS)}
    metric_functions = {name: getattr(metrics, name) for name in metrics.__all__
                        if inspect.isfunction(getattr(metrics, name, None)) and name not in ("get", "serialize",
                                                                                             "deserialize",
                                                                                             "check_log_names")}
    return {
        "activations": {**{name: getattr(activations, name) for name in activations.ACTIVATIONS},
                        **{alias: getattr(activations, name) for alias, name in activations.ALIASES.items()}},
        "losses": loss_functions, "metrics": {**loss_functions, **metric_functions},
        "initializers": {name: fn for name, fn in initializers.INITIALIZERS.items() if inspect.isfunction(fn)},
    }


# --- serialize -----------------------------------------------------------------------------------

def serialize_keras_object(obj):
    """``obj`` as a dict of plain values (Keras' ``serialize_keras_object``) that
    ``deserialize_keras_object`` turns back into an equal object: a layer (without its weights), a
    loss, a metric, an optimizer, a learning-rate schedule, an initializer, a regularizer, a
    constraint, an activation or a loss or metric function, an object of a class of yours
    registered with ``glassnet.saving.register_serializable``; lists, tuples and dicts of them.
    TypeError for anything else (a model: ``model.get_config()`` or ``model.to_json()``).

    >>> import glassnet as gn
    >>> serialize_keras_object(gn.regularizers.L2(0.01))
    {'module': 'glassnet.regularizers', 'class_name': 'L2', 'config': {'l2': 0.01}, 'registered_name': None}
    >>> serialize_keras_object(gn.activations.relu)["config"]
    'relu'
    """
    if obj is None or isinstance(obj, (str, bool, int, float)):
        return obj
    if isinstance(obj, (list, tuple)):
        items = [serialize_keras_object(item) for item in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        return {key: serialize_keras_object(value) for key, value in obj.items()}
    if isinstance(obj, np.ndarray) and obj.ndim > 0:
        return {"class_name": "__numpy__", "config": {"value": obj.tolist(), "dtype": standardize_dtype(obj.dtype)}}
    if isinstance(obj, (np.ndarray, np.generic)):         # a NumPy number: Python's (Keras' .item())
        return obj.item()
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, types.FunctionType) and obj.__name__ == "<lambda>":
        raise TypeError("serialize_keras_object: a lambda cannot be stored (a config never holds code); define a "
                        "named function and register it with @glassnet.saving.register_serializable()")
    if getattr(obj, "is_model", False):
        raise TypeError(f"serialize_keras_object: got the model {getattr(obj, 'name', '')!r:.60}; a model's config is "
                        f"model.get_config() or model.to_json(), its weights model.save() or save_weights()")
    function = _function_entry(obj)
    if function is not None:
        return function
    for kind, (_, base) in KINDS.items():
        if isinstance(obj, base):
            entry = _entry(obj, kind)
            if saving.is_entry(entry):      # one of yours: its class's module and name, Keras' layout
                cls = saving._class_of(obj)
                return {"module": cls.__module__, "class_name": cls.__name__, "config": entry.get("config", {}),
                        "registered_name": entry["registered_name"]}
            return {"module": f"glassnet.{kind}", **entry, "registered_name": None}
    raise TypeError(f"serialize_keras_object: cannot serialize {obj!r:.80} ({type(obj).__name__}): expected a "
                    f"glassnet layer, loss, metric, optimizer, schedule, initializer, regularizer, constraint, "
                    f"activation, a built-in function, an object registered with "
                    f"glassnet.saving.register_serializable, or plain values")


def _function_entry(obj):
    """Keras' dict of a function (or of a built-in activation's ``Activation``): its registered
    name, else its name in glassnet's tables; None for anything else."""
    name = saving._name_of(obj) if not inspect.isclass(obj) else None
    if name is None and isinstance(obj, activations.Activation):
        name = activations.serialize(obj) if activations.builtin_of(obj) is not None else None
    if name is None and callable(obj) and not inspect.isclass(obj):
        name = next((key for table in _function_tables().values() for key, fn in table.items()
                     if fn is obj and key == getattr(obj, "__name__", None)), None)
    if name is None:
        return None
    return {"module": "builtins", "class_name": "function", "config": name, "registered_name": "function"}


def _entry(obj, kind):
    """``{"class_name", "config"}`` of a built-in object of ``kind``, or the registry's entry
    ``{"registered_name", "config"}`` of one of yours; TypeError for an unregistered class of yours."""
    if kind == "layers":
        entry = layers.serialize(obj)
        if "registered_name" in entry:
            return {"registered_name": entry["registered_name"], "config": entry["config"]}
        return entry
    cls = plain_type(obj) if kind == "losses" else type(obj)
    if kind == "losses" and cls is losses.LossFunctionWrapper:
        return losses.serialize(obj)
    if kind == "losses" and cls in losses.LOSSES.values():
        # the settings that differ from the class's defaults (name and reduction among them):
        # losses.serialize gives the name alone, a model file keeping the settings beside it
        return {"class_name": cls.__name__, "config": settings_changed(obj)}
    if kind == "metrics" and cls in metrics.METRIC_CLASSES.values():
        return {"class_name": cls.__name__, "config": obj.get_config()}
    if kind == "optimizers" and cls in optimizers.OPTIMIZERS.values():
        return {"class_name": cls.__name__, "config": obj.get_config()}
    if kind in ("optimizers.schedules", "initializers", "regularizers", "constraints") or saving.is_registered(obj):
        try:
            entry = saving.serialize(obj, "metric") if kind == "metrics" else KINDS[kind][0].serialize(obj)
        except ValueError as exc:       # their own refusal of a class of yours not registered
            raise TypeError(f"serialize_keras_object: {exc}") from None
        if isinstance(entry, dict):
            return entry
    raise TypeError(f"serialize_keras_object: {cls.__name__} is neither one of glassnet's {kind} nor registered; "
                    f"decorate your class with @glassnet.saving.register_serializable()")


# --- deserialize ---------------------------------------------------------------------------------

def deserialize_keras_object(config, custom_objects=None, safe_mode=True):
    """The object ``config`` describes (Keras' ``deserialize_keras_object``): what
    ``serialize_keras_object`` writes, glassnet's or Keras 3's, for the kinds glassnet has (Keras'
    configs read as each kind's ``deserialize`` reads them: see docs/keras_parity.md). A string
    comes back as it is (Keras' rule: ``"relu"`` stays a name), lists as lists, a dict without
    ``class_name`` and ``config`` as a dict of its values read.

    custom_objects : dict, optional
        ``{registered name: class or function}`` for objects of yours no registry holds.
    safe_mode : bool
        Keras' switch for its serialized lambdas; glassnet refuses them either way.

    ValueError naming what is wrong (a class or function nothing holds: ``UnknownObjectError``);
    nothing the config names is imported.

    >>> deserialize_keras_object({"module": "keras.regularizers", "class_name": "L1",
    ...                           "config": {"l1": 0.5}, "registered_name": None})
    L1(l1=0.5)
    """
    if not isinstance(safe_mode, bool):
        raise TypeError(f"deserialize_keras_object: safe_mode: expected True or False, got {safe_mode!r:.60}")
    with saving.scope_of(custom_objects, "deserialize_keras_object"):
        return _read(config)


def _read(config):
    if config is None or isinstance(config, (str, bool, int, float)):
        return config
    if isinstance(config, (list, tuple)):
        return [_read(item) for item in config]
    if not isinstance(config, dict):
        raise TypeError(f"deserialize_keras_object: expected a dict, a list or a plain value, got "
                        f"{type(config).__name__} {config!r:.80}")
    if "class_name" not in config or "config" not in config:
        return {key: _read(value) for key, value in config.items()}
    class_name, inner = config["class_name"], config["config"]
    if not isinstance(class_name, str):
        raise ValueError(f"deserialize_keras_object: class_name: expected a str, got {class_name!r:.80}")
    for key in ("module", "registered_name"):
        # (another type was ignored, or named in an error as if it were a module)
        if not isinstance(config.get(key), (str, type(None))):
            raise ValueError(f"deserialize_keras_object: {key}: expected a str or None, got {config[key]!r:.80}")
    if class_name.startswith("__") and class_name.endswith("__"):
        return _special(class_name, inner if inner is not None else {})
    if class_name == "function":
        return _function(config)
    if not isinstance(inner, (dict, type(None))):
        raise ValueError(f"deserialize_keras_object: the config of {class_name!r:.60} must be a dict, got {inner!r:.80}")
    inner = inner or {}         # Keras reads "config": None as no settings
    registered = config.get("registered_name")
    own = saving.get_registered_object(registered if isinstance(registered, str) else class_name)
    if own is not None:
        return _registered(own, class_name, registered if isinstance(registered, str) else class_name, inner)
    kind = _kind(config.get("module"))
    if isinstance(registered, str) and registered != class_name:
        # Keras names a class of yours so (and writes None, or the class name, for its own)
        raise UnknownObjectError(f"deserialize_keras_object: {registered!r:.100} is not registered; register your "
                                 f"class with @glassnet.saving.register_serializable() where it is defined, or pass "
                                 f"custom_objects={{{registered!r:.100}: YourClass}}", registered)
    if kind is None:
        raise UnknownObjectError(f"deserialize_keras_object: {class_name!r:.60} (module {config.get('module')!r:.60}) "
                                 f"is neither one of glassnet's classes (module 'glassnet.layers', 'keras.losses', ... "
                                 f"names the kind) nor registered: register your class with "
                                 f"@glassnet.saving.register_serializable() or pass custom_objects=", class_name)
    module = KINDS[kind][0]
    if config["module"].startswith("keras"):
        return module.deserialize(dict(config, config=inner))          # each kind reads Keras' dicts
    inner = dict(inner)
    if kind == "losses":        # the settings given (name and reduction too), to the class itself
        name = losses.CLASS_NAMES.get(class_name)
        if name is None:
            raise ValueError(f"deserialize_keras_object: unknown loss class {class_name!r:.60}; known: "
                             f"{sorted(losses.CLASS_NAMES)}")
        return _built(losses.LOSSES[name], inner, class_name)
    if kind == "optimizers":
        # glassnet's optimizer config names its class itself ("name": "adam", as serialize writes
        # it); a dict without that name is named by its class name, as the other kinds are
        made = optimizers.deserialize({"name": class_name.lower(), **inner})
        if type(made).__name__ != class_name:
            raise ValueError(f"deserialize_keras_object: the dict names the class {class_name!r:.60}, its optimizer "
                             f"config {inner.get('name')!r:.60}")
        return made
    entry = {"class_name": class_name, "config": inner}
    return module.deserialize(entry)


def _kind(module):
    """The kind a dict's ``"module"`` names: ``"glassnet.losses"`` or Keras' ``"keras.losses"``
    give ``"losses"``; None for any other module."""
    if not isinstance(module, str):
        return None
    if module == "keras.src.losses.losses":     # Keras' own LossFunctionWrapper (not exported)
        return "losses"
    for prefix in ("glassnet.", "keras."):
        if module.startswith(prefix) and module[len(prefix):] in KINDS:
            return module[len(prefix):]
    return None


def _built(cls, config, class_name):
    try:
        return cls(**config)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"deserialize_keras_object: {class_name}: {exc}") from None


def _registered(own, class_name, registered, config):
    """An object of a class of yours found in the registry (or ``custom_objects``), built by the
    ``deserialize`` of the kind it belongs to (its base class)."""
    for kind, (module, base) in KINDS.items():
        if inspect.isclass(own) and issubclass(own, base):
            if kind == "layers":
                return layers.deserialize({"class_name": class_name, "config": config, "registered_name": registered})
            entry = {"registered_name": registered, "config": config}
            return module.deserialize(entry)
    raise ValueError(f"deserialize_keras_object: {registered!r:.60} is registered as {own!r:.80}, which is no "
                     f"glassnet layer, loss, metric, optimizer, schedule, initializer, regularizer or constraint class")


def _function(config):
    """The function Keras' ``{"class_name": "function", "config": name, "module": ...}`` names: a
    registered one (or in ``custom_objects``), else glassnet's of that name, in the kind the module
    names, or for Keras' ``"builtins"`` the first of activations, losses, metrics, initializers."""
    name = config["config"]
    if not isinstance(name, str):
        raise ValueError(f"deserialize_keras_object: a function's config must be its name, a str, got {name!r:.80}")
    own = saving.get_registered_object(name)
    if own is not None:
        return own
    tables = _function_tables()
    # the kind the module names ("keras.activations" too, which holds no classes), as Keras looks
    # the name up in that module only
    kind = next((kind for kind in tables if config.get("module") in (f"glassnet.{kind}", f"keras.{kind}")), None)
    for searched in ([kind] if kind in tables else ["activations", "losses", "metrics", "initializers"]):
        if name in tables[searched]:
            return tables[searched][name]
    raise UnknownObjectError(f"deserialize_keras_object: unknown function {name!r:.80}: no glassnet activation, loss, "
                             f"metric or initializer function has that name, and none of yours is registered under it",
                             name)


def _special(class_name, inner):
    """Keras' dicts for values that are no objects: arrays, bytes, slices, Ellipsis."""
    if class_name in ("__numpy__", "__tensor__"):        # (a tensor comes back a NumPy array: glassnet's values)
        try:
            return np.array(inner["value"], dtype=np.dtype(standardize_dtype(inner["dtype"]).replace("string", "str")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"deserialize_keras_object: {class_name}: expected {{'value': [...], 'dtype': a dtype "
                             f"name}}, got {inner!r:.100} ({exc})") from None
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__lambda__":
        raise ValueError("deserialize_keras_object: the config holds a Python lambda (code), which glassnet never runs, "
                         "whatever safe_mode says; define the function, register it, and save again")
    if not isinstance(inner, dict):
        raise ValueError(f"deserialize_keras_object: {class_name}: config: expected a dict, got {inner!r:.80}")
    if class_name == "__bytes__" and isinstance(inner.get("value"), str):
        return inner["value"].encode("utf-8")
    if class_name == "__slice__" and set(inner) == {"start", "stop", "step"}:
        return slice(_read(inner["start"]), _read(inner["stop"]), _read(inner["step"]))
    raise ValueError(f"deserialize_keras_object: cannot read Keras' {class_name!r:.60} entry {inner!r:.100}")
