"""``clone_model(model, clone_function=..., recursive=...)``, Keras 3.15's rules on glassnet's graph.

Keras calls ``clone_function`` on each operation of the model (not its Inputs), a model nested in
it being one operation: ``clone_function(base)`` gives the clone's nested model, unless
``recursive=True``, where the nested model is cloned in turn with the same function, so that
``clone_function`` sees each of its layers (and those of the models nested in it). A model called
twice is cloned once (Keras' cache), and so is a layer called twice.

glassnet's graph holds the nested model's layers itself (glassnet._nested_configs), so the clone is
the model of ``model``'s config made of the layers the function returned, each at its place:

- a layer of the outer model: ``clone_function(layer)``, which must return a glassnet layer;
- a nested model, ``recursive=False``: ``clone_function(base)`` must return a glassnet Sequential
  or functional Model of as many layers, which is nested in the clone in its place (its layers,
  in its order, stand for base's, the graph of base's calls as before);
- ``recursive=True``: each layer of the nested model goes through ``clone_function``, and the
  nested model is made again on the results, as a config read back makes it.

The layers returned are used as they are (their weights, built or not; the same object returned
twice is one shared layer), as Keras uses them; the clone is uncompiled, as glassnet's clone is.
"""
from .layers.base import Layer


def clone_with(model, config, clone_function, recursive):
    """The clone of ``model`` (its ``config``: ``model._config(with_compile=False)``) made of the
    layers ``clone_function`` returns (see the module docstring)."""
    from . import _nested_configs
    from .model import Sequential
    layers = list(model.layers)
    found = _nested_configs.top_models(model)
    if found is None and getattr(model, "_nesting", None) and not recursive:
        raise ValueError(f"clone_model: model {model.name!r} nests a model that its config cannot keep nested (a "
                         f"subclass' call, or an output branch it leaves unread), so clone_function cannot be "
                         f"given it whole; pass recursive=True to have clone_function clone each of its layers")
    position = {id(layer): k for k, layer in enumerate(layers)}
    made, given = [None] * len(layers), {}
    for index, nested in enumerate([] if found is None or recursive else found[0]):
        clone = clone_function(nested)
        if not isinstance(clone, Sequential) or len(clone.layers) != len(nested.layers):
            raise TypeError(f"clone_model: clone_function must return a glassnet Sequential or Model of "
                            f"{len(nested.layers)} layer(s) for the model {nested.name!r} nested in this one (pass "
                            f"recursive=True to have it clone each of its layers instead), got "
                            f"{_described(clone)}")
        for layer, new in zip(nested.layers, clone.layers):
            made[position[id(layer)]] = new
        given[index] = clone
    for k, layer in enumerate(layers):
        if made[k] is None:
            new = clone_function(layer)
            if not isinstance(new, Layer):
                raise TypeError(f"clone_model: clone_function must return a glassnet layer for {layer.describe()}, "
                                f"got {_described(new)}")
            made[k] = new
    if len({id(layer) for layer in made}) != len(made):
        raise ValueError("clone_model: clone_function returned one layer for two of the model's layers; return a "
                         "layer of its own for each")
    if found is not None:
        _nested_configs.given_models(given)
    try:
        return type(model)._from_config_layers(config, made)
    finally:
        _nested_configs.given_models(None)


def _described(value):
    return f"{type(value).__name__} {value!r:.80}"
