"""Optimizers: update parameters in place from their gradients, with the rules of ``torch.optim``.

Each optimizer keeps its state (moments, accumulators) per parameter key, so it can be saved and
restored for an exact resume. Names and defaults follow Keras; the update formula is PyTorch's step
for step (where the two differ, e.g. where Adam adds epsilon, the docstring says). Every one takes
Keras' gradient clipping (``clipnorm``, ``global_clipnorm``, ``clipvalue``), its decoupled
``weight_decay`` and its moving average of the weights (``use_ema``).

``base`` holds the protocol and what all updates share (cache-sized pieces, subnormal flushing,
clipping); ``rules`` the twelve update rules; ``muon`` Muon (orthogonalised momentum for matrices,
AdamW for the other weights); ``schedule_free`` ScheduleFreeAdamW.
"""
from . import schedules
from .base import CLIPPING, COMMON, EMA, FLUSH_EVERY, PIECE, Optimizer, flush_subnormals, pieces
from .muon import Muon
from .rules import SGD, Adadelta, Adafactor, Adagrad, Adam, Adamax, AdamW, Ftrl, Lamb, Lion, Nadam, RMSprop
from .schedule_free import ScheduleFreeAdamW

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Lion", "Ftrl", "Lamb", "Adafactor",
           "Muon", "ScheduleFreeAdamW", "OPTIMIZERS", "get",
           "from_config", "schedules", "CLIPPING", "COMMON", "EMA", "FLUSH_EVERY", "PIECE", "pieces", "flush_subnormals"]

OPTIMIZERS = {cls.name: cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam, Lion, Ftrl, Lamb, Adafactor,
                                                 Muon, ScheduleFreeAdamW)}


def get(identifier):
    """An optimizer for a name in ``OPTIMIZERS`` (with its defaults), or an ``Optimizer`` instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in OPTIMIZERS:     # "Adam" as Keras takes it
        return OPTIMIZERS[identifier.lower()]()
    raise ValueError(f"optimizer: expected one of {sorted(OPTIMIZERS)} or an Optimizer instance, "
                     f"got {identifier!r}")


def from_config(config):
    config = dict(config)
    name = config.pop("name")
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer: unknown name {name!r}; known: {sorted(OPTIMIZERS)}")
    if isinstance(config.get("learning_rate"), dict):      # a schedule, as get_config writes it
        config["learning_rate"] = schedules.deserialize(config["learning_rate"])
    excluded = config.pop("exclude_from_weight_decay", None)
    optimizer = OPTIMIZERS[name](**config)
    if excluded is not None:
        optimizer.exclude_from_weight_decay(var_names=excluded)
    return optimizer
