"""Keras 3.15's distillation losses (``keras.distillation``): what a ``Distiller`` adds to the
student's own loss, from the teacher's outputs (or an intermediate layer's) and the student's.

Each loss is given as Keras gives it: a name (``"kl_divergence"``, ``"mse"``, ...), a glassnet
``Loss`` object, one of glassnet.losses' Keras-order functions, a function of your own
``f(y_true, y_pred)`` written with ``glassnet.ops``, or a list/tuple/dict of them (``None`` skips
that output) matching the models' outputs. The teacher's side plays Keras' ``y_true``, the
student's ``y_pred``: a glassnet ``Loss`` object is called ``loss(student, teacher)`` (its
PyTorch order), a function ``f(teacher, student)`` (Keras' order), and the mean of what it gives
is the loss (Keras' ``ops.mean``).
"""
import numbers

import numpy as np

from .. import losses as _losses
from .._tree import flatten, map_structure

__all__ = ["DistillationLoss", "LogitsDistillation", "FeatureDistillation"]


# -- nested structures (Keras' keras.tree, for lists, tuples and dicts: glassnet._tree) --------------
def shape_of(structure):
    """The nesting of ``structure`` with every leaf as ``"*"`` (for messages and comparisons)."""
    return map_structure(lambda leaf: "*", structure)


def assert_same_structure(a, b, what):
    def same(x, y):
        if isinstance(x, dict) or isinstance(y, dict):
            return isinstance(x, dict) and isinstance(y, dict) and set(x) == set(y) and all(
                same(x[k], y[k]) for k in x)
        if isinstance(x, (list, tuple)) or isinstance(y, (list, tuple)):
            return (isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)) and len(x) == len(y)
                    and all(same(i, j) for i, j in zip(x, y)))
        return True
    if not same(a, b):
        raise ValueError(f"{what}: the structures differ: {shape_of(a)} against {shape_of(b)}")


# -- one loss ---------------------------------------------------------------------------------------
def as_loss(item, where="loss"):
    """What Keras' ``_convert_loss_to_function`` makes of one loss: None stays None; a name or one
    of glassnet.losses' functions gives its ``Loss`` class at the defaults (whose value is the mean
    of the function's, the number Keras takes); a ``Loss`` object is kept; another callable is kept
    and called ``f(y_true, y_pred)``."""
    if item is None or isinstance(item, _losses.Loss):
        return item
    if isinstance(item, str) or getattr(item, "__module__", None) == _losses.functions.__name__:
        try:
            return _losses.get(item)
        except ValueError as exc:
            raise ValueError(f"{where}: unknown loss {item!r}: {exc}") from None
    if callable(item) and not isinstance(item, type):
        return item
    raise TypeError(f"{where}: expected a loss's name, a glassnet Loss object, a function f(y_true, y_pred) or a "
                    f"list/dict of them, got {type(item).__name__} {item!r:.60}")


def apply_loss(loss_fn, y_true, y_pred):
    """The mean of ``loss_fn`` on the teacher's ``y_true`` and the student's ``y_pred`` (0.0 for None)."""
    from .. import ops
    if loss_fn is None:
        return 0.0
    if isinstance(loss_fn, _losses.Loss):
        return loss_fn(y_pred, y_true)      # glassnet's order; the mean over the batch already
    return ops.mean(loss_fn(y_true, y_pred))


def sum_of(values):
    """The sum of ``values`` (recorded values and numbers), a 0-d value as Keras' ``ops.sum(ops.stack(...))``."""
    total = values[0]
    for value in values[1:]:
        total = total + value
    return total


def serialize_loss(loss):
    from ..saving import serialize_keras_object
    return map_structure(lambda leaf: None if leaf is None else serialize_keras_object(leaf), loss)


def deserialize_loss(config):
    from ..saving import deserialize_keras_object

    def leaf(entry):
        if entry is None or isinstance(entry, str):
            return entry
        if isinstance(entry, dict) and "class_name" in entry:
            return deserialize_keras_object(entry)
        raise ValueError(f"loss: expected a serialized loss, got {entry!r:.80}")
    if isinstance(config, dict) and "class_name" in config:
        return leaf(config)
    return map_structure(leaf, config) if isinstance(config, (list, tuple, dict)) else leaf(config)


def _check_some(loss, message):
    if all(leaf is None for leaf in flatten(loss)):
        raise ValueError(message)


# -- the classes ------------------------------------------------------------------------------------
class DistillationLoss:
    """The base of distillation losses (Keras' ``keras.distillation.DistillationLoss``): a subclass
    defines ``compute_loss(teacher_outputs, student_outputs, **kwargs)``, returning one number (a
    0-d value, written with ``glassnet.ops`` and glassnet losses so that the tape records it)."""

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        raise NotImplementedError("Subclasses must implement compute_loss")

    def validate_outputs(self, teacher_outputs, student_outputs):
        """Refuse teacher and student outputs of different structures (Keras' ``tree.assert_same_structure``)."""
        assert_same_structure(teacher_outputs, student_outputs, f"{type(self).__name__}: teacher and student outputs")

    def validate_model_compatibility(self, teacher, student):
        """Refuse a teacher and student this loss cannot compare (nothing in the base)."""

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class FeatureDistillation(DistillationLoss):
    """Match the features of a teacher's layer and a student's layer (the final outputs where a
    name is None): ``loss`` of the two, averaged (Keras' ``FeatureDistillation``).

    ``teacher_layer_name`` and ``student_layer_name`` need models with inputs (functional or
    ``Sequential``); the two layers' outputs, ``(n, ...)`` each, must suit ``loss`` (``"mse"``
    needs the same shape; ``"cosine_similarity"`` the same last axis).

    >>> from glassnet.losses import MeanSquaredError
    >>> isinstance(FeatureDistillation(loss="mse", teacher_layer_name="dense_1").loss, MeanSquaredError)
    True
    """

    def __init__(self, loss="mse", teacher_layer_name=None, student_layer_name=None):
        for what, value in (("teacher_layer_name", teacher_layer_name), ("student_layer_name", student_layer_name)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"FeatureDistillation: {what}: expected a layer's name (str) or None, got "
                                f"{type(value).__name__} {value!r:.60}")
        self.teacher_layer_name = teacher_layer_name
        self.student_layer_name = student_layer_name
        self.loss = map_structure(lambda item: as_loss(item, "FeatureDistillation: loss"), loss)
        _check_some(self.loss, "The `loss` argument in `FeatureDistillation` must contain at least one non-`None` value.")

    def validate_model_compatibility(self, teacher, student):
        """Refuse layer names on models without inputs (a subclass not drawn) and names neither has."""
        if self.teacher_layer_name is None and self.student_layer_name is None:
            return
        missing = [role for role, model in (("teacher", teacher), ("student", student))
                   if getattr(model, "inputs", None) is None]
        if missing:
            raise ValueError(f"FeatureDistillation with specific layer names requires Functional or Sequential "
                             f"models. The {' and '.join(missing)} model(s) appear to be subclassed (no symbolic "
                             f"inputs/outputs). Either use Functional/Sequential models, or use FeatureDistillation "
                             f"without layer names (to distill final outputs only), or use LogitsDistillation instead.")
        for role, model, name in (("teacher", teacher, self.teacher_layer_name),
                                  ("student", student, self.student_layer_name)):
            if name is not None:
                try:
                    model.get_layer(name=name)
                except ValueError as exc:
                    raise ValueError(f"In {role} model: {exc}") from None

    def validate_outputs(self, teacher_outputs, student_outputs):
        super().validate_outputs(teacher_outputs, student_outputs)
        try:
            assert_same_structure(self.loss, teacher_outputs, "FeatureDistillation: loss and outputs")
        except ValueError as exc:
            raise ValueError(f"Loss structure mismatch. Loss structure: {shape_of(self.loss)}, Output structure: "
                             f"{shape_of(teacher_outputs)}. Error: {exc}") from None

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        """The sum over outputs of ``mean(loss(teacher features, student features))``."""
        return sum_of(flatten(map_structure(apply_loss, self.loss, teacher_outputs, student_outputs)))

    def get_config(self):
        return {"loss": serialize_loss(self.loss), "teacher_layer_name": self.teacher_layer_name,
                "student_layer_name": self.student_layer_name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["loss"] = deserialize_loss(config["loss"])
        return cls(**config)


class LogitsDistillation(DistillationLoss):
    """Match the student's logits to the teacher's, both divided by ``temperature`` (Keras'
    ``LogitsDistillation``): with a KL divergence (the default), ``T^2 mean(KL(softmax(t / T) ||
    softmax(s / T)))``, Hinton et al.'s soft targets; any other loss is given the scaled logits
    ``(t / T, s / T)`` themselves (a ``CategoricalCrossentropy(from_logits=True)`` then gives the
    soft-target cross-entropy).

    Keras 3.15 applies the softmax and the ``T^2`` only to a ``keras.losses.KLDivergence()`` object:
    its default, the name ``"kl_divergence"``, resolves to Keras' function, which then gets the
    scaled logits clipped to [1e-7, 1]. glassnet applies them to the name too (its default), the
    loss Keras' docstring describes; with ``keras.losses.KLDivergence()`` the two agree.
    """

    def __init__(self, temperature=3.0, loss="kl_divergence"):
        self.temperature = temperature
        self.loss = map_structure(lambda item: as_loss(item, "LogitsDistillation: loss"), loss)
        _check_some(self.loss, "At least one loss must be non-`None`.")
        if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
            raise ValueError(f"temperature must be a number, got {type(temperature).__name__} {temperature!r:.40}")
        if not temperature > 0.0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        """The sum over outputs of each output's loss on the logits divided by ``temperature``."""
        from .. import ops
        t = self.temperature
        teacher = map_structure(lambda z: np.asarray(z) / np.asarray(t, np.asarray(z).dtype), teacher_outputs)
        student = map_structure(lambda z: z / t, student_outputs)

        def one(loss_fn, teacher_logits, student_logits):
            if isinstance(loss_fn, _losses.KLDivergence):
                # the probabilities' divergence, scaled by T^2 so its gradient keeps the size of the
                # labels' loss as T grows (Hinton et al.)
                value = apply_loss(loss_fn, ops.softmax(teacher_logits, axis=-1), ops.softmax(student_logits, axis=-1))
                return value * (t ** 2)
            return apply_loss(loss_fn, teacher_logits, student_logits)
        return sum_of(flatten(map_structure(one, self.loss, teacher, student)))

    def get_config(self):
        return {"temperature": self.temperature, "loss": serialize_loss(self.loss)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["loss"] = deserialize_loss(config["loss"])
        return cls(**config)
