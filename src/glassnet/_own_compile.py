"""A model class' own ``get_compile_config`` / ``compile_from_config``, honoured by ``save`` and
``load_model`` as Keras 3.15 honours them. keras.io's saving guide's ``ModelWithCustomCompile`` has a
``compile(optimizer, loss_fn, metrics)`` of its own, which glassnet's ``compile(loss=, optimizer=,
metrics=)`` cannot call; its ``get_compile_config()`` returns ``{"model_optimizer": ..., "loss_fn":
..., "metric": ...}`` and its ``compile_from_config(config)`` deserializes those
(``gn.utils.deserialize_keras_object``) and calls that compile.

Keras' ``save`` writes what ``get_compile_config()`` returns, each value through
``serialize_keras_object``, and ``load_model`` hands that to ``compile_from_config``. glassnet's
model file (``.npz``) does the same where the class overrides either method: the serialized dict
goes in the file's model config under ``"own_compile_config"`` (beside glassnet's ``"compile"``,
which the file keeps as before), and ``load_model`` (``compile=True``) calls the class'
``compile_from_config`` with it (glassnet's own ``get_compile_config()`` where the class overrides
``compile_from_config`` alone) instead of compiling from glassnet's settings; the optimizer's state
is then restored into the optimizer that compile made, as for any model. The class is made again
from the file by its registered name (glassnet._subclass_files), so the methods are its own.
"""
import json

from .compile_config import CompileConfigMixin


def overrides(model, name):
    """Whether ``model``'s class defines ``name`` (``"get_compile_config"``, ``"compile_from_config"``)
    itself rather than keeping glassnet's."""
    return getattr(type(model), name, None) is not getattr(CompileConfigMixin, name)


def own_compile_config(model):
    """What a model file keeps of a class' own ``get_compile_config()`` (JSON, each value as
    ``serialize_keras_object`` writes it), or None: the class keeps glassnet's, or the model is not
    compiled."""
    if model.loss is None and model.optimizer is None or not overrides(model, "get_compile_config"):
        return None
    from .saving import serialize_keras_object
    config = model.get_compile_config()
    if config is None:
        return None
    if not isinstance(config, dict):
        raise TypeError(f"save_model: {type(model).__name__}.get_compile_config() must return a dict (or None), got "
                        f"{type(config).__name__}")
    try:
        serialized = serialize_keras_object(config)
        json.dumps(serialized, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"save_model: {type(model).__name__}.get_compile_config(): a value does not serialize to JSON "
                        f"({exc}); return names, numbers and objects serialize_keras_object writes (optimizers, "
                        f"losses, metrics, registered functions)") from None
    return serialized


def compile_own_way(model, own, settings):
    """``load_model``'s compile for a class with a ``compile_from_config`` of its own, or a file
    keeping its own ``get_compile_config()`` (``own``): that method called as Keras calls it, with
    ``own``, else with glassnet's settings (``settings``, the file's ``"compile"``, as
    ``get_compile_config()`` gives them). Returns False where neither applies (glassnet compiles)."""
    if own is None and not overrides(model, "compile_from_config"):
        return False
    model.compile_from_config(own if own is not None else dict(settings))
    return True
