"""Keras 3.15's ``keras.distillation.Distiller``: a model that trains a student on its own loss and
on distillation losses against a frozen teacher.

It is a ``gn.Model`` subclass whose ``call`` is the student's and whose ``compute_loss`` returns

    student_loss_weight * student_loss + (1 - student_loss_weight) * sum_k w_k distillation_loss_k

so glassnet's default ``train_step`` (glassnet.default_steps: ``gn.GradientTape``) trains it in
plain ``fit``, and ``evaluate`` scores it by the same loss (``training=False``). The teacher runs
with the tape paused: its outputs are constants (Keras differentiates through them, into a
teacher whose weights it does not train, which gives the same gradients).
"""
import json
import numbers

import numpy as np

from .. import metrics as _metrics
from ..graph import Model
from .losses import (DistillationLoss, FeatureDistillation, LogitsDistillation, apply_loss, as_loss,
                     flatten, map_structure, sum_of)

_KNOWN = {cls.__name__: cls for cls in (DistillationLoss, FeatureDistillation, LogitsDistillation)}


def _tensors(model, what):
    """``model.inputs`` or ``model.outputs`` as a list, or None where the model has none (a subclass)."""
    try:
        values = getattr(model, what, None)
    except (ValueError, AttributeError):
        return None
    if values is None:
        return None
    return list(values) if isinstance(values, (list, tuple)) else flatten(values)


def _batch_shape(tensor):
    """Keras' ``(None, ...)`` shape of an Input or a layer's output: their ``.shape`` (an Input's
    batch axis is its ``batch_size``, as Keras')."""
    return tuple(getattr(tensor, "shape", ()) or ())


class Distiller(Model):
    """Knowledge distillation from ``teacher`` to ``student`` (Keras' ``Distiller``, the same
    arguments and defaults).

    Parameters
    ----------
    teacher, student : glassnet models (``Sequential``, functional ``Model`` or subclass) taking the
        same inputs and giving outputs of the same shapes and dtypes. The teacher is frozen
        (``teacher.trainable = False``).
    distillation_losses : a ``DistillationLoss`` or a list of them.
    distillation_loss_weights : a weight per loss (default 1.0 each).
    student_loss_weight : float in [0, 1], the share of the student's own loss (compile's ``loss``).

    ``distiller(x)``, ``predict`` and ``evaluate`` are the student's outputs ``(n, ...)``; ``fit``
    trains the student's weights. Logs: ``loss`` (the combined loss, a mean over samples), compiled
    metrics, ``student_loss``, ``distillation_loss`` and ``total_loss`` (means over batches, Keras'
    ``Mean`` trackers).

    >>> import glassnet as gn
    >>> from glassnet.distillation import Distiller, LogitsDistillation
    >>> teacher = gn.Sequential([gn.layers.Dense(3, input_dim=4)], seed=0)
    >>> student = gn.Sequential([gn.layers.Dense(3, input_dim=4)], seed=1)
    >>> distiller = Distiller(teacher, student, LogitsDistillation(temperature=2.0))
    >>> distiller.compile(optimizer="sgd", loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True))
    """

    def __init__(self, teacher, student, distillation_losses, distillation_loss_weights=None,
                 student_loss_weight=0.5, name="distiller", **kwargs):
        super().__init__(name=name, **kwargs)
        self._validate_models(teacher, student)
        self.teacher = teacher
        self.student = student
        if isinstance(student_loss_weight, bool) or not isinstance(student_loss_weight, numbers.Real):
            raise ValueError(f"student_loss_weight must be a number, got {type(student_loss_weight).__name__} "
                             f"{student_loss_weight!r:.40}")
        if not 0.0 <= student_loss_weight <= 1.0:
            raise ValueError(f"student_loss_weight must be between 0.0 and 1.0, got {student_loss_weight}")
        self.student_loss_weight = student_loss_weight
        if distillation_losses is None:
            raise ValueError("'distillation_losses' cannot be `None`. Provide a distillation loss (e.g., "
                             "LogitsDistillation or FeatureDistillation) or a list of distillation losses.")
        if not isinstance(distillation_losses, (list, tuple)):
            distillation_losses, distillation_loss_weights = [distillation_losses], [1.0]
        elif distillation_loss_weights is None:
            distillation_loss_weights = [1.0] * len(distillation_losses)
        elif len(distillation_loss_weights) != len(distillation_losses):
            raise ValueError(f"Number of distillation_loss_weights ({len(distillation_loss_weights)}) must match "
                             f"number of distillation_losses ({len(distillation_losses)})")
        for k, loss in enumerate(distillation_losses):
            if not isinstance(loss, DistillationLoss):
                raise TypeError(f"distillation_losses[{k}]: expected a DistillationLoss (LogitsDistillation, "
                                f"FeatureDistillation or a subclass), got {type(loss).__name__} {loss!r:.60}")
        for k, weight in enumerate(distillation_loss_weights):
            if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
                raise TypeError(f"distillation_loss_weights[{k}]: expected a number, got {type(weight).__name__} "
                                f"{weight!r:.40}")
        self.distillation_losses = list(distillation_losses)
        self.distillation_loss_weights = [float(w) for w in distillation_loss_weights]
        for loss in self.distillation_losses:
            loss.validate_model_compatibility(teacher, student)
        # (held in a dict: the extractors share the models' layers, and are no layers of the distiller's)
        self._extractors = {"teacher": self._feature_extractor(teacher, "teacher_layer_name"),
                            "student": self._feature_extractor(student, "student_layer_name")}
        self.teacher.trainable = False
        self.student_loss_tracker = _metrics.Mean(name="student_loss")
        self.distillation_loss_tracker = _metrics.Mean(name="distillation_loss")
        self.total_loss_tracker = _metrics.Mean(name="total_loss")

    # -- checks ----------------------------------------------------------------------------------
    def _validate_models(self, teacher, student):
        from ..model import Sequential
        for role, model in (("Teacher", teacher), ("Student", student)):
            if not isinstance(model, Sequential):       # (glassnet's Model is a Sequential)
                raise ValueError(f"{role} must be a glassnet Model or Sequential, got {type(model).__name__}")
        for what in ("inputs", "outputs"):
            mine, theirs = _tensors(teacher, what), _tensors(student, what)
            if mine is None or theirs is None:
                continue
            context = what[:-1]
            if len(mine) != len(theirs):
                raise ValueError(f"Teacher and student have different numbers of {what}: {len(mine)} against "
                                 f"{len(theirs)}.")
            for t, s in zip(mine, theirs):
                t_shape, s_shape = _batch_shape(t), _batch_shape(s)
                if len(t_shape) != len(s_shape):
                    raise ValueError(f"Teacher and student {context} shapes have different dimensions. Teacher: "
                                     f"{t_shape}, Student: {s_shape}.")
                if any(a is not None and b is not None and a != b for a, b in zip(t_shape, s_shape)):
                    raise ValueError(f"Teacher and student {context} shapes are incompatible. Teacher: {t_shape}, "
                                     f"Student: {s_shape}. All dimensions must match.")
                t_dtype, s_dtype = getattr(t, "dtype", None), getattr(s, "dtype", None)
                if t_dtype is not None and s_dtype is not None and str(t_dtype) != str(s_dtype):
                    raise ValueError(f"Teacher and student {context} dtypes must match. Teacher: {t_dtype}, "
                                     f"Student: {s_dtype}.")

    def _feature_extractor(self, model, attribute):
        """``(extractor, same)``: a functional model of ``model``'s layers giving ``{"final_output": ...,
        name: that layer's output}`` for the layers the losses name, in one pass, and the names that
        read an output listed already; None when no loss names a layer."""
        names = []
        for loss in self.distillation_losses:
            name = getattr(loss, attribute, None)
            if name and name not in names:
                names.append(name)
        if not names:
            return None
        # (the student's extractor lays the student's weights out in a buffer of its own: the tape
        # keys their gradients by layer, so its call's reach the student's weights, glassnet._tape_weights)
        inputs = _tensors(model, "inputs")
        if inputs is None:
            raise ValueError(f"Cannot create feature extractor for {model.name}. The model has no symbolic inputs "
                             f"attribute.")
        outputs, same = {"final_output": _tensors(model, "outputs")[0]}, {}
        for name in names:
            tensor = model.get_layer(name=name).output
            # (a functional Model refuses a tensor listed twice: a name of the final layer reads it)
            known = next((key for key, value in outputs.items() if value is tensor), None)
            if known is None:
                outputs[name] = tensor
            else:
                same[name] = known
        # (in the model's dtype: a float64 teacher's or student's layers are refused by a float32 model)
        extractor = Model(inputs if len(inputs) > 1 else inputs[0], outputs,
                          name=f"{model.name}_multi_feature_extractor", dtype=model.dtype)
        return extractor, same

    # -- Keras' Model API -------------------------------------------------------------------------
    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs):
        """``loss`` is the student's own (required: a name, a Loss object, a function, or a
        structure of them for several outputs); ``metrics`` a list scored on the student's outputs."""
        if loss is None:
            raise ValueError("'loss' cannot be `None`.")
        self._student_loss = map_structure(lambda item: as_loss(item, "compile: loss"), loss)
        self._student_loss_for_serialization = loss
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            raise ValueError(f"metrics must be a list or tuple, got {type(metrics).__name__}")
        super().compile(optimizer=optimizer, loss=None, metrics=metrics, **kwargs)

    def call(self, inputs, training=None):
        """The student's outputs."""
        return self.student(inputs, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The combined loss (a 0-d value, recorded while a tape records); ``sample_weight`` is
        unused, as in Keras. Updates the ``student_loss``, ``distillation_loss`` and ``total_loss``
        trackers."""
        from .._tape_values import _paused, _plain
        if not hasattr(self, "_student_loss"):
            raise ValueError("Distiller.compute_loss: call compile(optimizer, loss=...) first; the loss is the "
                             "student's own")
        if y_pred is None:
            y_pred = self(x, training=training)
        student_loss = 0.0
        if self.student_loss_weight > 0.0 and y is not None:
            values = flatten(map_structure(lambda fn, target, out: apply_loss(fn, target, out),
                                           self._student_loss, y, y_pred))
            student_loss = sum_of(values)
            if np.ndim(_plain(student_loss)) > 0:
                from .. import ops
                student_loss = ops.mean(student_loss)
        distillation_loss = 0.0
        if self.student_loss_weight < 1.0:
            with _paused():     # the teacher is frozen: its outputs are constants for the tape
                teacher_features = self._features("teacher", x, None, False)
            # the student's features as Keras reads them: a second pass, differentiated (Keras runs it
            # in training mode also when evaluating; here it follows ``training``)
            student_features = self._features("student", x, y_pred, training)
            for loss_fn, weight in zip(self.distillation_losses, self.distillation_loss_weights):
                if getattr(loss_fn, "teacher_layer_name", None) is not None:
                    teacher_out = self._feature(loss_fn, teacher_features, "teacher")
                    student_out = self._feature(loss_fn, student_features, "student")
                else:
                    teacher_out, student_out = teacher_features["final_output"], y_pred
                loss_fn.validate_outputs(teacher_out, student_out)
                value = loss_fn.compute_loss(teacher_out, student_out)
                if np.ndim(_plain(value)) > 0:
                    raise ValueError(f"Distillation loss {type(loss_fn).__name__} returned a non-scalar loss with "
                                     f"shape {np.shape(_plain(value))}. The compute_loss method must return a scalar "
                                     f"tensor.")
                distillation_loss = distillation_loss + weight * value
        w = self.student_loss_weight
        total_loss = w * student_loss + (1.0 - w) * distillation_loss
        if np.ndim(_plain(total_loss)) == 0 and not isinstance(total_loss, np.ndarray):
            total_loss = np.asarray(total_loss, dtype=self.dtype)       # (both terms were plain 0.0)
        for tracker, value in ((self.student_loss_tracker, student_loss),
                               (self.distillation_loss_tracker, distillation_loss),
                               (self.total_loss_tracker, total_loss)):
            tracker.update_state(np.asarray(_plain(value), dtype=np.float64))
        return total_loss

    def _features(self, role, x, y_pred, training):
        extractor = self._extractors[role]
        if extractor is not None:
            model, same = extractor
            features = dict(model(x, training=training))
            features.update({name: features[known] for name, known in same.items()})
            return features
        if role == "teacher":
            return {"final_output": self.teacher(x, training=False)}
        return {"final_output": y_pred}

    @staticmethod
    def _feature(loss_fn, features, role):
        name = getattr(loss_fn, f"{role}_layer_name") or "final_output"
        if name not in features:
            raise RuntimeError(f"Failed to extract features for {type(loss_fn).__name__} targeting teacher layer "
                               f"'{loss_fn.teacher_layer_name}' and student layer '{loss_fn.student_layer_name}'. "
                               f"Original error: Layer '{name}' not found in extracted features. Available: "
                               f"{list(features)}")
        return features[name]

    # -- config (no code in it: the two models' JSON, the losses' entries) ------------------------
    def get_config(self):
        """``Distiller(**config)``'s arguments: the teacher's and student's ``to_json()`` (layers,
        no weights), the losses' ``{"class_name", "config"}``, the weights."""
        return {"name": self.name,
                "teacher": json.loads(self.teacher.to_json()),
                "student": json.loads(self.student.to_json()),
                "distillation_losses": [{"class_name": type(loss).__name__, "config": loss.get_config()}
                                        for loss in self.distillation_losses],
                "distillation_loss_weights": list(self.distillation_loss_weights),
                "student_loss_weight": self.student_loss_weight}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A new Distiller from ``get_config()``: the models rebuilt with new weights (Keras'
        ``from_config``); a loss class of your own comes from ``custom_objects`` by its name."""
        from ..io import model_from_json
        config = dict(config)
        known = {**_KNOWN, **(custom_objects or {})}
        for role in ("teacher", "student"):
            config[role] = model_from_json(json.dumps(config[role]), custom_objects=custom_objects)
        losses = []
        for entry in config["distillation_losses"]:
            klass = known.get(entry.get("class_name")) if isinstance(entry, dict) else None
            if klass is None:
                raise ValueError(f"Distiller.from_config: distillation_losses: unknown loss {entry!r:.80}; give its "
                                 f"class in custom_objects")
            losses.append(klass.from_config(entry.get("config", {})))
        config["distillation_losses"] = losses
        return cls(**config)
