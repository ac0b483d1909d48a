"""Layers: each owns its parameters, gradients and forward cache (see ``base.Layer``).

Each layer's module is imported on the first use of one of its names (``glassnet.layers.Conv2D``
imports ``glassnet.layers.conv``): ``import glassnet`` stays fast however many layers there are.
``catalog.HOMES`` says where each name lives; ``LAYERS``, the registry of every layer class by
name, is complete when read from here (reading it imports them all).
"""
import importlib

from .base import ALIASES, Layer, get
from .catalog import HOME_OF, HOMES, load_all

# Keras' functional forms of the merging layers, keras.layers.concatenate([a, b]): functions, not layers
_FUNCTIONS = {name: "merging" for name in ("add", "subtract", "multiply", "average", "maximum", "minimum",
                                           "concatenate", "dot")}
# Keras' layers.serialize / deserialize, also imported on first use
_FUNCTIONS.update(serialize="serializing", deserialize="serializing")
# Keras' keras.layers.InputSpec: what a layer of your own declares about its inputs
_FUNCTIONS.update(InputSpec="input_spec")

__all__ = ["Layer", "LAYERS", "get", "serialize", "deserialize", *HOME_OF, *ALIASES, *_FUNCTIONS]


def __getattr__(name):
    """A built-in layer (or one of Keras' other names for it), imported on first use."""
    if name == "LAYERS":
        load_all()
        from .base import LAYERS as value
    elif name in HOME_OF or name in ALIASES:
        target = ALIASES.get(name, name)
        value = getattr(importlib.import_module(f".{HOME_OF[target]}", __name__), target)
    elif name in _FUNCTIONS:
        value = getattr(importlib.import_module(f".{_FUNCTIONS[name]}", __name__), name)
    elif name in HOMES:             # a layer module, as when the package imported them all
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value         # the next use is a plain attribute
    return value


def __dir__():
    return sorted({*globals(), *__all__})
