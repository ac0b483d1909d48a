"""Keras' ``keras.models``: the two model classes and the functions that read, write and copy models.

>>> import glassnet as gn
>>> model = gn.Sequential([gn.layers.Dense(3, input_shape=(2,))], seed=0)
>>> gn.models.clone_model(model).output_shape
(None, 3)
"""
from .graph import Model
from .io import load_model, model_from_json, save_model
from .model import Sequential

__all__ = ["Sequential", "Model", "clone_model", "load_model", "save_model", "model_from_json", "model_from_config"]


def model_from_config(config, custom_objects=None):
    """The model ``config`` describes, uncompiled, with new weights (Keras'
    ``keras.models.model_from_config``): ``{"class_name": "Sequential" or "Model", "config": ...}``
    as ``json.loads(model.to_json())`` gives it, glassnet's or Keras 3's (``"Functional"``, read as
    ``model_from_json`` reads it: nothing in it is imported or run).

    >>> import glassnet as gn
    >>> model = gn.Sequential([gn.layers.Dense(3, input_shape=(2,))], seed=0)
    >>> model_from_config({"class_name": "Sequential", "config": model.get_config()}).output_shape
    (None, 3)
    """
    import json
    if not isinstance(config, dict):
        raise TypeError(f"model_from_config: config: expected a dict {{'class_name', 'config'}}, "
                        f"got {type(config).__name__}")
    try:
        text = json.dumps(config)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"model_from_config: config: expected a dict of JSON values ({exc})") from None
    return model_from_json(text, custom_objects=custom_objects)


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False):
    """A new model of ``model``'s architecture, with new layers and new weights (Keras'
    ``keras.models.clone_model``): the same layers and settings, the same graph, the same ``seed``
    and ``dtype``, uncompiled, as ``model.from_config`` rebuilds it from ``model.get_config()``.

    New weights: the clone draws them as a new model with ``model``'s seed would, so a model with a
    seed gives clones that start where ``model`` started (not from its trained weights: copy those
    with ``clone.set_weights(model.get_weights())``), and ``seed=None`` gives each clone its own; a
    layer with a seed of its own (``Dense(3, seed=7)``) starts where its original did either way.
    So do the layers of a seeded model nested in ``model`` (``Sequential([inner, Dense(2)], seed=0)``
    with ``inner = Sequential([...], seed=5)``), which keep the streams ``inner``'s seed gave them:
    the config records where those come from (each layer entry's ``"seed_origin"``), as
    ``to_json`` and ``save`` do, so ``model_from_json`` and ``from_config`` start there too (a
    layer's own seed is in no config: this function alone passes it on).
    Frozen layers stay frozen. A subclass of ``Model`` that draws its graph in ``call`` is cloned as the
    functional ``Model`` of that graph, as ``load_model`` gives it back.

    A model nested in ``model`` (``base(x)``, ``Sequential([base, ...])``) is cloned nested, as
    Keras clones it, a model called twice once (glassnet._nested_configs).

    ``clone_function`` (Keras'): called on each layer instead, its result taking the layer's place
    (``lambda layer: layer`` shares the layers; a function returning a changed copy edits them);
    a nested model is passed whole and must give a model of as many layers, or, with
    ``recursive=True``, its layers are passed one by one (glassnet._clone_functions). Keras' other
    arguments (``input_tensors``, ``call_function``) change the graph with code of one's own;
    glassnet does not take them, and refuses them by name. Without ``clone_function``, layers
    that their config cannot rebuild (a custom layer whose ``get_config`` leaves out one of its
    arguments) are refused, as ``to_json`` refuses them.
    """
    for name, value in (("input_tensors", input_tensors), ("call_function", call_function)):
        if value is not None:
            raise ValueError(f"clone_model: {name} is not supported (only None), got {value!r:.60}")
    if clone_function is not None and not callable(clone_function):
        raise TypeError(f"clone_model: clone_function must be a callable (layer -> new layer) or None, got "
                        f"{clone_function!r:.60}")
    if not isinstance(recursive, bool):
        raise TypeError(f"clone_model: recursive must be True or False, got {recursive!r:.40}")
    if not isinstance(model, Sequential):
        raise TypeError(f"clone_model: model must be a glassnet Sequential or Model, got {type(model).__name__}")
    if clone_function is not None:
        config = model._config(with_compile=False)
        config.pop("subclass", None)
        from ._clone_functions import clone_with
        return clone_with(model, config, clone_function, recursive)
    from ._saveable import check_saveable
    try:
        check_saveable(model, include_optimizer=False, files=False)
    except (TypeError, ValueError) as exc:
        raise type(exc)(str(exc).replace("save_model:", "clone_model:", 1)) from None
    config = model._config(with_compile=False)
    # a subclass of the user's is cloned as the functional Model of its graph (as documented above),
    # without naming its class: from_config would make it again, or warn (glassnet._subclass_files)
    config.pop("subclass", None)
    # a weighted layer's own seed (Dense(3, seed=7)) is not in its config (only the layers that draw
    # at run time, Dropout's, keep theirs): without it the clone's layer would draw from the model's
    # stream, not start where the original did
    seeds = {layer.name: layer.seed for layer in model.layers if getattr(layer, "seed", None) is not None}
    for entry in config.get("layers", ()):
        layer_config = entry.get("config") if isinstance(entry, dict) else None
        if isinstance(layer_config, dict) and layer_config.get("name") in seeds:
            layer_config.setdefault("seed", seeds[layer_config["name"]])
    # a subclass drawing its graph in call rebuilds as the Model of that graph (from_config's rule)
    return type(model).from_config(config)
