"""Knowledge distillation, as Keras 3.15's ``keras.distillation``: ``Distiller`` (a model training a
student against a frozen teacher, by glassnet's default step) and the losses it combines,
``LogitsDistillation``, ``FeatureDistillation`` and their base ``DistillationLoss``.

Imported on first use (``glassnet.distillation``), not by ``import glassnet``.
"""
from .distiller import Distiller
from .losses import DistillationLoss, FeatureDistillation, LogitsDistillation

__all__ = ["Distiller", "DistillationLoss", "FeatureDistillation", "LogitsDistillation"]
