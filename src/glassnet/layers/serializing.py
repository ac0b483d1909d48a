"""``glassnet.layers.serialize`` and ``deserialize`` (Keras' names): a layer as a dict of plain
values and back, without its weights.

glassnet's dict is the one its model files and wrappers already hold, ``{"class_name": "Dense",
"config": layer.get_config()}``, with ``"registered_name": "package>Name"`` for a layer class of
yours registered with ``glassnet.saving.register_serializable``, and the layer's dtype, once it has
one, as ``config["dtype"]`` (``"float64"``; where Keras writes its DTypePolicy dict, which
``deserialize`` reads as that name). A model file leaves the dtype out of each layer's entry: the
model's dtype is every layer's. ``deserialize`` also reads what
Keras 3's ``keras.layers.serialize`` writes, ``{"module", "class_name", "config",
"registered_name", "build_config"}``, for the layers glassnet has: Keras' config keys that glassnet
lacks are dropped where they hold the value glassnet computes as (``data_format="channels_last"``,
``quantization_config=None``, a ``beta_regularizer`` of None, ...) and refused by name otherwise;
a wrapper's inner Keras dicts (``layer``, ``backward_layer``, a Pipeline's ``layers``) are read so
too.

Nothing in the dict is imported or evaluated: a class is found only by an exact key, in the
layer registry (``LAYERS``: glassnet's classes and every ``Layer`` subclass defined so far), the
registry of ``glassnet.saving`` or ``custom_objects``. Keras' ``"module"`` is never read.
"""
import inspect

import numpy as np

from .. import _settings, initializers, saving
from .base import _LAYER_ARGUMENTS, Layer, lookup, own_arguments

__all__ = ["serialize", "deserialize"]

_KERAS_KEYS = {"module", "class_name", "config", "registered_name", "build_config"}

# Keras' config keys glassnet's layers do not take, with the values that mean what glassnet does
# (the layer computes the same without them): read at these values, refused at any other
_KERAS_DEFAULTS = {
    "data_format": (None, "channels_last"),     # glassnet's images are (H, W, C), Keras' default
    "quantization_config": (None,),             # Keras' int8/float8 weights
    "noise_shape": (None,),                     # a mask of the input's own shape (Dropout takes any)
}
# what Keras' normalization layers start their weights from, where glassnet's always do
_KERAS_INITIAL = {"beta_initializer": "Zeros", "gamma_initializer": "Ones",
                  "moving_mean_initializer": "Zeros", "moving_variance_initializer": "Ones"}
# what Keras writes for information only, its own constructor discarding it: dropped at any value
_KERAS_INFORMATION = {"vocabulary_size"}        # TextVectorization's: the vocabulary's length
# how deep Keras' wrapper dicts are read: glassnet's wrappers hold no wrapper (a Pipeline holds
# RandAugment, which holds no layer dict), so a deeper dict is malformed, refused before Python's
# recursion limit would stop it
_MAX_DEPTH = 8


def serialize(layer):
    """``layer`` as a dict that ``deserialize`` rebuilds it from (Keras' ``serialize``): its class
    and its settings, ``{"class_name": "Dense", "config": {"units": 3, ...}}``, and for a class of
    yours registered with ``glassnet.saving.register_serializable`` its ``"registered_name"``
    too. The weights are not in it (``get_weights`` holds them). A layer with a dtype (given,
    or set by the model it joined or the data it was built on) has it in ``config["dtype"]``,
    ``"float64"``, as Keras' dict has its dtype policy; one without (a new layer, dtype=None)
    takes its model's when rebuilt, as it would have.

    >>> from glassnet.layers import Dense
    >>> entry = serialize(Dense(3, activation="relu", name="out"))
    >>> entry["class_name"], entry["config"]["units"], entry["config"]["activation"]
    ('Dense', 3, 'relu')
    >>> deserialize(entry).get_config() == entry["config"]
    True
    """
    if not isinstance(layer, Layer):
        raise TypeError(f"layers.serialize: layer: expected a glassnet Layer, got {type(layer).__name__}")
    entry = {"class_name": type(layer).__name__, "config": layer.get_config()}
    if layer.dtype is not None and _takes_dtype(type(layer)):
        # get_config leaves the dtype out (a model file's layers take the model's), so a float64
        # layer came back as one of its model's dtype, float32 alone: the dict keeps it, by name
        entry["config"]["dtype"] = np.dtype(layer.dtype).name
    if saving.is_registered(layer):
        entry["registered_name"] = saving.get_registered_name(type(layer))
    return entry


def _takes_dtype(cls):
    """Whether ``cls(dtype=...)`` is accepted: glassnet's layers pass it on to ``Layer`` through
    their ``**kwargs``; a class of yours whose ``__init__`` names its arguments may take none."""
    parameters = inspect.signature(cls.__init__).parameters.values()
    return any(p.name == "dtype" or p.kind == p.VAR_KEYWORD for p in parameters)


def deserialize(config, custom_objects=None):
    """The layer ``config`` describes, new and unbuilt (Keras' ``deserialize``): what glassnet's
    ``serialize`` writes, or what Keras 3's ``keras.layers.serialize`` writes for a layer glassnet
    has (its ``build_config`` input shape becomes the layer's ``input_shape``; its dtype policy
    the plain dtype; see the module's docstring for the keys dropped).

    custom_objects : dict, optional
        ``{registered name or class name: Layer subclass}`` for a class of yours the dict names
        but no registry holds.

    ValueError for a dict of another form, a class that is not a registered layer, or settings its
    class does not take (named); nothing the dict names is ever imported.
    """
    with saving.scope_of(custom_objects, "layers.deserialize"):
        return _layer(config, "layers.deserialize")


def _layer(entry, where):
    cls, config = _class_and_config(entry, where)
    try:
        return cls.from_config(config)
    except (TypeError, ValueError) as exc:
        # an argument the class does not take, or a value out of range: the class's message names it
        raise ValueError(f"{where}: {exc}") from None


def _class_and_config(entry, where, depth=0):
    """The class a dict names and the config, in glassnet's keys, to build it from (``depth``: how
    many wrappers' dicts hold this one)."""
    if depth > _MAX_DEPTH:
        raise ValueError(f"{where}: layer dicts nested more than {_MAX_DEPTH} deep; glassnet's wrappers "
                         f"hold layers that are not wrappers")
    if not (isinstance(entry, dict) and isinstance(entry.get("class_name"), str)
            and isinstance(entry.get("config"), dict) and set(entry) <= _KERAS_KEYS):
        raise ValueError(f"{where}: expected {{'class_name': str, 'config': dict}} (glassnet's serialize, or "
                         f"Keras' with 'module', 'registered_name' and 'build_config'), got {entry!r:.200}")
    if not isinstance(entry.get("build_config"), (dict, type(None))):
        raise ValueError(f"{where}: build_config: expected Keras' dict {{'input_shape': [None, ...]}} or None, "
                         f"got {entry['build_config']!r:.100}")
    shape = (entry.get("build_config") or {}).get("input_shape")
    if "module" in entry:           # Keras' dict: its names mean Keras' functions
        _refuse_keras_leaky_relu(entry["config"], where)
    # Keras' dict as glassnet's, the rule the optimizers, losses and initializers read it by:
    # {"class_name", "config"} for a built-in (Keras' registered_name None, or equal to the class
    # name: a class of yours Keras found unregistered), {"registered_name", "config"} otherwise
    entry = _settings.keras_entry({key: value for key, value in entry.items() if key != "build_config"}, where)
    cls = _class(entry, where)
    config = _glassnet_config(cls, entry["config"], where, depth)
    if _one_shape(shape) and config.get("input_shape") is None:
        # Keras built the layer for this batch shape; glassnet builds lazily, for the sample shape
        config["input_shape"] = list(shape[1:])
    return cls, config


def _class(entry, where):
    """The Layer subclass ``entry`` names: by its registered name ("package>Name") in glassnet's
    registry or ``custom_objects``, else by its class name there or in ``LAYERS`` (with Keras'
    other names, ``ALIASES``). Only exact keys of these tables: nothing is imported."""
    registered = entry.get("registered_name")
    if isinstance(registered, str):
        found = saving.get_registered_object(registered)
        if found is None:
            raise ValueError(f"{where}: {registered!r:.100} is not registered; register your class with "
                             f"@glassnet.saving.register_serializable(package={registered.split('>')[0]!r:.50}) "
                             f"or pass custom_objects={{{registered!r:.100}: YourLayer}}")
    else:
        registered = entry["class_name"]
        found = saving.get_registered_object(registered) or lookup(registered)
        if found is None:
            raise ValueError(f"{where}: unknown layer class {registered!r:.100}: glassnet has no such layer, and "
                             f"no Layer subclass of yours of that name is defined (define it, or pass "
                             f"custom_objects={{{registered!r:.100}: YourLayer}})")
    from .._call_layers import CallLayer
    if isinstance(found, type) and issubclass(found, CallLayer):
        # a gn.Layer subclass written with call, drawn as a glassnet Model (glassnet._call_layers):
        # "not a glassnet Layer subclass" blamed the class the user registered as one
        raise ValueError(f"{where}: {registered!r:.100} names {found.__name__}, a layer of yours written with call "
                         f"(drawn as a glassnet Model), which a layer entry cannot rebuild; build the model in "
                         f"code with it and copy the weights with set_weights (or give it forward and backward)")
    if not (isinstance(found, type) and issubclass(found, Layer)):
        raise ValueError(f"{where}: {registered!r:.100} names {found!r:.100}, not a glassnet Layer subclass")
    return found


def _glassnet_config(cls, config, where, depth=0):
    """Keras' config of a ``cls`` layer in glassnet's keys (a glassnet config comes back as it is):
    the dtype policy as its dtype, the keys ``cls`` does not take dropped at Keras' values that
    glassnet computes as (ValueError naming one at another value), a wrapped layer's Keras dict
    (TimeDistributed's ``layer``, each of Pipeline's ``layers``) as glassnet's. Keys neither
    ``cls`` nor this table knows are left for ``cls`` to refuse, by name."""
    config = dict(config)
    quantized = None
    if isinstance(config.get("dtype"), dict):
        quantized = _quantized_policy(config["dtype"])
        config["dtype"] = _policy_dtype(config["dtype"], where) if quantized is None else quantized[0]
        if quantized is None:
            # a float layer made with quantization_config=...: Keras 3.15 builds and computes it
            # unquantized (its config keeps the argument), and so does glassnet, which drops it
            config.pop("quantization_config", None)
    if quantized is not None or config.get("quantization_config") is not None:
        # a Keras quantized layer: quantized once built (Layer.from_config, layers/quantized.py)
        config["quantization_config"] = _quantization_entry(config.get("quantization_config"), quantized, cls, where)
    if config.get("dtype") == "int64" and _makes_int64_bins(cls):
        # Keras' int-mode Hashing and HashedCrossing declare their int64 bins as their dtype;
        # glassnet's give int64 bins called alone and the model's floats inside one, as its None
        config["dtype"] = None
    takes = set(own_arguments(cls)) | set(_LAYER_ARGUMENTS) | ({"quantization_config"} if config.get(
        "quantization_config") is not None else set())
    for key in [key for key in config if key not in takes]:
        value = config[key]
        if key in _KERAS_INFORMATION:
            known = True
        elif key in _KERAS_DEFAULTS:
            known = value in _KERAS_DEFAULTS[key]
        elif key in _KERAS_INITIAL:
            known = _same_initializer(value, _KERAS_INITIAL[key])
        elif key.endswith(("_regularizer", "_constraint")):
            known = value is None            # no penalty, no constraint: glassnet's layer has none
        elif key == "unroll":
            known = isinstance(value, bool)  # Keras' loop written out: a speed hint, same numbers
        else:
            continue
        if not known:
            raise ValueError(f"{where}: {cls.__name__}: Keras' {key}={value!r:.80} is not supported by glassnet's "
                             f"{cls.__name__}, which takes it only at "
                             f"{_KERAS_INITIAL.get(key) or _KERAS_DEFAULTS.get(key, (None,))[0]!r}")
        del config[key]
    for key in ("layer", "backward_layer"):         # the wrappers': glassnet's form is {"class_name", "config"}
        if key in config:
            config[key] = _inner_entry(config[key], config, f"{where}: {key}", depth)
    if isinstance(config.get("layers"), list):      # Pipeline's list of layers
        config["layers"] = [_inner_entry(inner, config, f"{where}: layers[{k}]", depth)
                            for k, inner in enumerate(config["layers"])]
        dtypes = {entry["config"].get("dtype") if isinstance(entry, dict) and isinstance(entry.get("config"), dict)
                  else None for entry in config["layers"]}
        if config.get("dtype") is None and len(dtypes) == 1 and None not in dtypes:
            # Keras' Pipeline has no dtype, each of its layers has its own; glassnet's has the one
            # dtype it passes on to its layers: theirs, when they agree (else its layers refuse theirs)
            config["dtype"] = dtypes.pop()
            for entry in config["layers"]:
                entry["config"].pop("dtype")
    if _mirrors(config.get("backward_layer"), config.get("layer")):
        # Keras' Bidirectional writes the backward copy it made of the forward layer; glassnet's
        # makes the same copy itself (and takes no other)
        del config["backward_layer"]
    return config


def _inner_entry(inner, config, where, depth):
    """A layer dict a wrapper's ``config`` holds, in glassnet's form ``{"class_name", "config"}``
    when it is Keras' (with ``module``, ``build_config``, ...); anything else as it is."""
    if not (isinstance(inner, dict) and set(inner) - {"class_name", "config"}):
        return inner
    inner_cls, inner_config = _class_and_config(inner, where, depth + 1)
    inner_config.pop("input_shape", None)       # the wrapper's own says it
    if inner_config.get("dtype") == config.get("dtype"):
        inner_config.pop("dtype", None)         # Keras repeats the wrapper's; glassnet's passes it on
    if inner_config.get("trainable") is False and config.get("trainable") is False:
        inner_config.pop("trainable")           # a frozen Keras wrapper froze its layer too; glassnet's passes it on
    return {"class_name": inner_cls.__name__, "config": inner_config}


def _mirrors(backward, forward):
    """Whether the entry ``backward`` is ``forward``'s with the other ``go_backwards`` (and a name
    of its own): the reader of a Bidirectional that Keras made from the forward one."""
    if not (isinstance(backward, dict) and isinstance(forward, dict) and backward.get("class_name")
            == forward.get("class_name") and isinstance(backward.get("config"), dict)
            and isinstance(forward.get("config"), dict)):
        return False
    back, fore = dict(backward["config"]), dict(forward["config"])
    turned = back.pop("go_backwards", False) != fore.pop("go_backwards", False)
    back.pop("name", None)
    fore.pop("name", None)
    return turned and back == fore


def _makes_int64_bins(cls):
    """Whether ``cls`` is a layer whose Keras counterpart writes its int64 output as its dtype."""
    from .hashed_crossing import HashedCrossing     # here: the layers' modules import this package
    from .hashing import Hashing
    return issubclass(cls, (Hashing, HashedCrossing))


def _refuse_keras_leaky_relu(config, where):
    """ValueError for Keras' ``"leaky_relu"`` activation in Keras' layer ``config``: Keras' has
    slope 0.2 below zero, glassnet's name 0.01 (PyTorch's), so reading it would silently give other
    outputs; no config of glassnet's holds a slope of 0.2 for a layer's activation."""
    for key in ("activation", "recurrent_activation"):
        name = _settings.keras_entry(config.get(key), f"{where}: {key}")
        if name == "leaky_relu":
            hint = ("; use no activation and a LeakyReLU(negative_slope=0.2) layer after it" if key == "activation"
                    else "; glassnet has no recurrent activation of slope 0.2")
            raise ValueError(f"{where}: Keras' {key}='leaky_relu' has slope 0.2 below zero, glassnet's "
                             f"'leaky_relu' 0.01 (PyTorch's): not read, as it would compute otherwise{hint}")


def _policy_dtype(policy, where):
    """Keras' ``{"class_name": "DTypePolicy", "config": {"name": "float32"}}`` as ``"float32"``;
    a mixed or quantized policy is refused (glassnet computes in one dtype)."""
    inner = policy.get("config")
    if (policy.get("class_name") in ("DTypePolicy", "FloatDTypePolicy") and isinstance(inner, dict)
            and isinstance(inner.get("name"), str) and not inner["name"].startswith("mixed_")):
        return inner["name"]
    raise ValueError(f"{where}: dtype: expected a dtype or Keras' DTypePolicy of one (float32, float64), got "
                     f"{policy!r:.120}; glassnet computes in one dtype, without mixed precision or quantization")


def _quantized_policy(policy):
    """``(source dtype, mode)`` of Keras' quantized policy dict (``QuantizedDTypePolicy`` {"mode":
    "int8", "source_name": "float32"}, ``Int4DTypePolicy`` {"mode": "int4/128", ...}); None for
    any other dict."""
    inner = policy.get("config")
    if policy.get("class_name") not in ("QuantizedDTypePolicy", "Int4DTypePolicy") or not isinstance(inner, dict):
        return None
    return inner.get("source_name"), inner.get("mode")


def _quantization_entry(entry, quantized, cls, where):
    """The quantization config a Keras layer's dict gives: its ``quantization_config``, else the
    one its quantized policy names (Keras writes both; the policy alone says the mode)."""
    from .. import quantization_config
    from .quantized import quantizable
    if not quantizable(cls):
        raise ValueError(f"{where}: {cls.__name__}: Keras' quantized layer is not read by glassnet, which quantizes "
                         f"Dense, Embedding and EinsumDense")
    if entry is None:
        mode = quantized[1] if isinstance(quantized[1], str) else ""
        if mode.startswith("int4/") and mode[5:].lstrip("-").isdigit():
            block = int(mode[5:])
            return quantization_config.serialize(quantization_config.Int4QuantizationConfig(
                block_size=None if block == -1 else block))
        entry = mode if mode != "int4" else quantization_config.serialize(     # Keras' older per-unit int4
            quantization_config.Int4QuantizationConfig(block_size=None))
    config = quantization_config.resolve(None, entry if isinstance(entry, str) else
                                         quantization_config.deserialize(entry, f"{where}: quantization_config"),
                                         f"{where}: quantization_config")
    return quantization_config.serialize(config)


def _same_initializer(value, name):
    """Whether ``value`` (a name, glassnet's or Keras' dict) is the initializer class ``name``,
    ``"Zeros"``, or its function, ``"zeros"``."""
    try:
        given = initializers.serialize(initializers.get(value))
    except (TypeError, ValueError):
        return False
    return given in (name.lower(), initializers.serialize(initializers.get(name)))


def _one_shape(shape):
    """Whether ``shape`` is one batch shape, ``(None, 5)``, rather than a list of them (a layer of
    several inputs, which glassnet builds from its first call)."""
    return (isinstance(shape, (list, tuple)) and len(shape) >= 2
            and all(d is None or (isinstance(d, int) and not isinstance(d, bool)) for d in shape))

