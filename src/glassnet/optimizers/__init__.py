"""Optimizers: update parameters in place from their gradients, with the rules of ``torch.optim``.

Each optimizer keeps its state (moments, accumulators) per parameter key, so it can be saved and
restored for an exact resume. Names and defaults follow Keras; the update formula is PyTorch's step
for step (where the two differ, e.g. where Adam adds epsilon, the docstring says). Every one takes
Keras' gradient clipping (``clipnorm``, ``global_clipnorm``, ``clipvalue``), its decoupled
``weight_decay``, its moving average of the weights (``use_ema``) and its gradient accumulation
(``gradient_accumulation_steps``: one update every k calls, with the mean gradient).

``base`` holds the protocol and what all updates share (cache-sized pieces, subnormal flushing,
clipping); ``rules`` the twelve update rules; ``muon`` Muon (orthogonalised momentum for matrices,
AdamW for the other weights); ``schedule_free`` ScheduleFreeAdamW.

An optimizer or schedule of your own (a subclass of ``Optimizer`` or
``schedules.LearningRateSchedule``) trains as any; a model file keeps it once registered with
``glassnet.saving.register_serializable``: its registered name and ``get_config()``, and an
optimizer's state arrays, ``self.slots[key][name]``, as a built-in's (declared in ``slot_names``).
"""
import inspect

from .. import _settings, saving
from . import schedules
from .base import CLIPPING, COMMON, EMA, FLUSH_EVERY, PIECE, Optimizer, flush_subnormals, pieces
from .muon import Muon
from .rules import SGD, Adadelta, Adafactor, Adagrad, Adam, Adamax, AdamW, Ftrl, Lamb, Lion, Nadam, RMSprop
from .schedule_free import ScheduleFreeAdamW

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Lion", "Ftrl", "Lamb", "Adafactor",
           "Muon", "ScheduleFreeAdamW", "MultiOptimizer", "OptimizerMap", "OPTIMIZERS", "get",
           "serialize", "deserialize", "from_config", "schedules", "CLIPPING", "COMMON", "EMA", "FLUSH_EVERY", "PIECE", "pieces", "flush_subnormals"]

# MultiOptimizer and OptimizerMap (glassnet.optimizers.multi, which compiles regular expressions) load on first
# use, keeping `import glassnet` under its 0.3 s; a config names the wrapper by this name
MULTI_NAME = "multi_optimizer"


def __getattr__(name):
    if name in ("MultiOptimizer", "OptimizerMap"):
        from . import multi
        return getattr(multi, name)
    raise AttributeError(f"module 'glassnet.optimizers' has no attribute {name!r}")


OPTIMIZERS = {cls.name: cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam, Lion, Ftrl, Lamb, Adafactor,
                                                 Muon, ScheduleFreeAdamW)}


def get(identifier):
    """An optimizer for a name in ``OPTIMIZERS`` (with its defaults), the name of one of yours
    registered with ``glassnet.saving.register_serializable`` (``"Custom>MyOptimizer"``, with its
    defaults, as Keras' ``get``), a config or entry as ``serialize`` writes it, or an
    ``Optimizer`` instance (returned as it is)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() in OPTIMIZERS:     # "Adam" as Keras takes it
            return OPTIMIZERS[identifier.lower()]()
        registered = saving.get_registered_object(identifier)
        if inspect.isclass(registered) and issubclass(registered, Optimizer):
            return registered()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"optimizer: expected one of {sorted(OPTIMIZERS)}, the registered name of an Optimizer of "
                     f"your own, a config or an Optimizer instance, got {identifier!r:.200}")


def serialize(optimizer):
    """How configs and model files record ``optimizer`` (Keras' ``serialize``): a built-in one as
    its ``get_config()``, ``{"name": "adam", ...}`` (a schedule in it as ``schedules.serialize``
    writes it); an instance of a class of yours registered with
    ``glassnet.saving.register_serializable`` as ``{"registered_name": ..., "config": its
    get_config() less "name"}`` (TypeError when that config is not JSON values or leaves out a
    constructor argument); any other as its ``get_config()``, which ``save`` refuses."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizers.serialize: expected an Optimizer, got {type(optimizer).__name__}")
    if type(optimizer) is OPTIMIZERS.get(optimizer.name) or not saving.is_registered(optimizer):
        return optimizer.get_config()
    kind = f"optimizer {saving.get_registered_name(type(optimizer))!r}"
    try:
        config = optimizer.get_config()
    except AttributeError as exc:       # the base's get_config reads each argument from self.<argument>
        raise TypeError(f"save_model: {kind} ({type(optimizer).__name__}): get_config() failed ({exc}); "
                        f"keep each constructor argument as an attribute of the same name, or return them "
                        f"from a get_config of your own") from None
    if not isinstance(config, dict):
        raise TypeError(f"save_model: {kind} ({type(optimizer).__name__}): get_config() must return a dict of "
                        f"its constructor's arguments, got {type(config).__name__}")
    config = {key: value for key, value in config.items() if key != "name"}     # the class names it
    # from_config reads the constructor's arguments (a built-in's omitted_at_default ones may be absent)
    arguments = [p.name for p in inspect.signature(type(optimizer)).parameters.values()
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    missing = [a for a in arguments if a not in config and a not in optimizer.omitted_at_default]
    if missing:
        raise TypeError(f"save_model: {kind} ({type(optimizer).__name__}) takes the arguments {missing} but "
                        f"get_config() leaves them out, so the file would load it with their defaults; return "
                        f"them from get_config: {{**super().get_config(), "
                        f"{', '.join(f'{a!r}: self.{a}' for a in missing)}}}")
    return saving.serialize(optimizer, "optimizer", config=config)


def deserialize(config, custom_objects=None):
    """The optimizer ``serialize`` recorded (Keras' ``deserialize``): a built-in one from its
    config, one of yours from its entry, only as a registered ``Optimizer`` subclass built by its
    ``from_config`` (``custom_objects``: ``{registered name: class}`` for what is not registered).
    ValueError naming what is wrong otherwise."""
    with saving.scope_of(custom_objects, "optimizers.deserialize"):
        return from_config(config)


def from_config(config):
    """The optimizer of a config's ``"optimizer"`` entry (``serialize``'s): see ``deserialize``.
    Keras' ``serialize()`` form, ``{"class_name": "Adam", "config": {...}}``, is read too."""
    config = _from_keras(config)
    if saving.is_entry(config):
        return saving.deserialize(config, "optimizer", (Optimizer,))
    if not isinstance(config, dict) or not isinstance(config.get("name"), str):
        raise ValueError(f"optimizer: expected a config {{'name': one of {sorted(OPTIMIZERS)}, ...}} or a "
                         f"registered optimizer's {{'registered_name': ..., 'config': {{...}}}}, got {config!r:.200}")
    if config["name"] == MULTI_NAME:      # (a wrapper of update rules, not one: not in OPTIMIZERS)
        from .multi import MultiOptimizer
        return MultiOptimizer.from_config(config)
    if config["name"] not in OPTIMIZERS:
        raise ValueError(f"optimizer: unknown name {config['name']!r}; known: {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[config["name"]].from_config(config)


def _from_keras(config):
    """Keras' ``keras.optimizers.serialize(opt)`` (``{"module", "class_name", "config",
    "registered_name"}``, or just ``{"class_name", "config"}``) as glassnet's config: the class
    names it (Keras' config ``"name"`` is the instance's, "adam_w" or "sgd_1"); its
    ``loss_scale_factor``, which glassnet lacks, is dropped at None, Keras' default, and refused
    otherwise; ``gradient_accumulation_steps`` is taken, None (the default) and 0 (off in Keras
    too) dropped; an SGD's nesterov=True at momentum 0 (plain SGD in Keras) read as False. Anything
    else comes back unchanged."""
    entry = _settings.keras_entry(config, "optimizer")
    if isinstance(entry, dict) and entry.get("class_name") == "MultiOptimizer" and isinstance(entry.get("config"), dict):
        # Keras' {"class_name": "MultiOptimizer", "config": {"optimizer_map": ..., "name": "multi_optimizer"}}
        settings = {key: value for key, value in entry["config"].items() if key != "name"}
        return {**settings, "name": MULTI_NAME}
    if not (isinstance(entry, dict) and set(entry) == {"class_name", "config"} and isinstance(entry["class_name"], str)
            and isinstance(entry["config"], dict)):
        return entry
    name = entry["class_name"].lower()
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer: unknown class_name {entry['class_name']!r:.60}; known: "
                         f"{sorted(cls.__name__ for cls in OPTIMIZERS.values())}")
    settings = {key: value for key, value in entry["config"].items() if key != "name"}
    if settings.get("loss_scale_factor") is not None:
        raise ValueError(f"optimizer: {entry['class_name']!r:.60} with loss_scale_factor="
                         f"{settings['loss_scale_factor']!r:.60} is not supported by glassnet (only None, Keras' "
                         f"default)")
    settings.pop("loss_scale_factor", None)
    # None, the default, is left out, as glassnet's configs leave it; so is 0, which Keras takes as
    # off too (its checks are `if gradient_accumulation_steps:`) and writes back as 0
    steps = settings.get("gradient_accumulation_steps", 1)
    if steps is None or (not isinstance(steps, bool) and steps == 0):
        del settings["gradient_accumulation_steps"]
    # Keras' SGD applies nesterov only with a momentum (its update_step: `if self.momentum != 0`), so
    # SGD(nesterov=True) at momentum 0 is plain SGD there, which glassnet's SGD (torch's rule) refuses
    if name == "sgd" and settings.get("nesterov") is True and settings.get("momentum", 0.0) == 0:
        settings["nesterov"] = False
    return {**settings, "name": name}
