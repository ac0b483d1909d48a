"""F-scores: Keras' ``FBetaScore`` and ``F1Score``, the harmonic mean of precision and recall per
class, counted over every batch (see ``Metric``), with Keras' rules.

Per class (output unit) c, over all samples seen::

    tp_c = sum(pred_c * y_c)    fp_c = sum(pred_c * (1 - y_c))    fn_c = sum((1 - pred_c) * y_c)
    precision_c = tp_c / (tp_c + fp_c + eps)    recall_c = tp_c / (tp_c + fn_c + eps)
    F_c = (1 + beta^2) * precision_c * recall_c / (beta^2 * precision_c + recall_c + eps)

with eps = 1e-7 and ``pred_c`` 1 where the output is above ``threshold`` or, without one, where it
is the sample's highest (ties all count; an output of 0 never does). The targets are used as they
are (one-hot; soft targets count fractionally, as in Keras). ``average``: None gives the score of
each class, "macro" their mean, "weighted" their mean weighted by each class's share of the
targets, "micro" the score of all classes' counts pooled.

Keras' trap, kept: without ``threshold`` a single sigmoid unit is always its sample's highest, so
every sample counts as predicted positive: give a binary model ``threshold=0.5``.
"""
import numpy as np

from .. import backend
from .._validation import check_number
from ..losses.base import aligned_targets
from .base import Metric, value_weights
from .result_value import metric_result

_AVERAGES = (None, "micro", "macro", "weighted")


class FBetaScore(Metric):
    """The F-beta score (see the module docstring): ``beta`` > 0 weighs recall beta times as much
    as precision. Outputs and targets of shape (n, classes); (n,) ones are read as (n, 1) where
    Keras takes them (after (n, classes) ones, one class or "micro", with a ``threshold``, no
    ``sample_weight``; elsewhere Keras' answer is wrong and they are refused by name).

    A log holds one number per metric, so in ``compile`` ``average=None`` (Keras' default, one
    score per class) works for a one-unit output only; a softmax output needs "macro", "micro"
    or "weighted". Called directly, ``result()`` with ``average=None`` returns the array of scores.

    >>> import numpy as np
    >>> f1 = F1Score(average="macro")
    >>> float(round(f1(np.eye(3)[[0, 1, 2, 2]], np.eye(3)[[0, 1, 1, 2]]), 4))
    0.7778
    """
    default_name = "fbeta_score"
    direction = "up"

    def __init__(self, average=None, beta=1.0, threshold=None, name=None, dtype=None):     # Keras' order
        if not (average is None or isinstance(average, str)) or average not in _AVERAGES:
            raise ValueError(f"{type(self).__name__}: average: expected one of {list(_AVERAGES)}, "
                             f"got {average!r:.80}")
        self.average = average
        self.beta = check_number(beta, f"{type(self).__name__}: beta", "> 0")
        if self.beta > 1e150:               # beta ** 2 would overflow in result()
            raise ValueError(f"{type(self).__name__}: beta must be at most 1e150, got {beta!r:.40}")
        self.threshold = None if threshold is None else check_number(threshold, f"{type(self).__name__}: threshold",
                                                                     "[0, 1]")
        if self.threshold == 0:
            raise ValueError(f"{type(self).__name__}: threshold must be a number in (0, 1], got {threshold!r}")
        super().__init__(name, dtype)

    def reset_state(self):
        # per class (or pooled, "micro"), made by the first batch; the classes counted before a
        # reset are kept for result(), which gives their scores of 0 until the next batch, as
        # Keras' built variables do (a scalar 0 would change the result's shape in a custom loop)
        counted = getattr(self, "true_positives", None)
        self._reset_classes = getattr(self, "_reset_classes", None) if counted is None else counted.shape
        self.true_positives = self.false_positives = self.false_negatives = self.class_weights = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        caller = type(self).__name__
        xp = backend.get_array_module(y_pred)
        y_pred = xp.asarray(y_pred)
        if y_pred.ndim == 1:
            y_pred = self._one_class(y_pred, sample_weight)
        if y_pred.ndim != 2:
            raise ValueError(f"{caller}: expected outputs of shape (n, classes), got shape {tuple(y_pred.shape)}")
        y_true = aligned_targets(y_pred, y_true, caller)
        if y_true.dtype.kind not in "biuf" or y_pred.dtype.kind not in "biuf":
            raise TypeError(f"{caller}: expected numeric targets and outputs, got dtypes {y_true.dtype} "
                            f"and {y_pred.dtype}")
        if self.true_positives is not None and self.true_positives.shape[-1:] != (y_pred.shape[1],) \
                and self.average != "micro":
            raise ValueError(f"{caller}: counted {self.true_positives.shape[0]} classes so far, got outputs "
                             f"of shape {tuple(y_pred.shape)}")
        if self.threshold is None:
            # the sample's highest output(s), but never an output of 0 (Keras' 1e-9)
            predicted = (y_pred >= y_pred.max(axis=1, keepdims=True)) & (xp.abs(y_pred) > 1e-9)
        else:
            predicted = y_pred > self.threshold
        pred = predicted.astype(np.float64)
        truth = y_true.astype(np.float64)
        weights = value_weights(sample_weight, y_pred.shape[:1], caller, xp)   # one per sample, as Keras
        if weights is not None:
            pred, truth = pred * weights[:, None], truth * weights[:, None]
        axis = None if self.average == "micro" else 0
        # with weights, pred and truth each carry w once: tp = w p t, fp = w p (1 - t) = pred - tp,
        # fn = w (1 - p) t = truth - tp
        if weights is None:
            cells = (pred * truth, pred * (1 - truth), (1 - pred) * truth, truth)
        else:
            tp = predicted * truth
            cells = (tp, pred - tp, truth - tp, truth)
        counts = [backend.to_numpy(xp.sum(v, axis=axis)) for v in cells]
        if self.true_positives is None:
            self.true_positives, self.false_positives, self.false_negatives, self.class_weights = \
                (np.zeros(np.shape(c)) for c in counts)
        self.true_positives += counts[0]
        self.false_positives += counts[1]
        self.false_negatives += counts[2]
        self.class_weights += counts[3]

    def _one_class(self, y_pred, sample_weight):
        """Outputs of shape (n,) as (n, 1), where Keras takes them: once the metric has counted
        (n, classes) outputs (Keras builds its counts from the first batch and refuses (n,) before),
        with one class counted, or pooled ("micro"), and a ``threshold``. Elsewhere Keras' result
        is wrong, so it is refused: without a threshold it compares each output with the batch's
        highest (not the sample's), a ``sample_weight`` multiplies into an (n, n) product, and
        several classes would each receive the one count."""
        caller = type(self).__name__
        counted = self.true_positives.shape if self.true_positives is not None else self._reset_classes
        if counted is None:
            raise ValueError(f"{caller}: expected outputs of shape (n, classes), got shape {tuple(y_pred.shape)}; "
                             f"Keras takes (n,) only once it has counted (n, classes) outputs: give (n, 1)")
        if self.threshold is None:
            raise ValueError(f"{caller}: outputs of shape {tuple(y_pred.shape)} need a threshold: without one Keras "
                             f"compares each with the batch's highest output, not its own sample's; give (n, 1) "
                             f"outputs or threshold=")
        if sample_weight is not None:
            raise ValueError(f"{caller}: sample_weight with outputs of shape {tuple(y_pred.shape)}: Keras weighs "
                             f"them as an (n, n) product; give (n, 1) outputs")
        if self.average != "micro" and counted != (1,):
            raise ValueError(f"{caller}: counted {counted[0]} classes so far, got outputs of shape "
                             f"{tuple(y_pred.shape)} (one class)")
        return y_pred.reshape(-1, 1)

    def scores(self):
        """The score of each class (or the pooled one, "micro") so far."""
        if self.true_positives is None:
            return np.zeros(0)
        tp = self.true_positives
        precision = tp / (tp + self.false_positives + backend.epsilon())
        recall = tp / (tp + self.false_negatives + backend.epsilon())
        b2 = self.beta ** 2
        return (1 + b2) * precision * recall / (b2 * precision + recall + backend.epsilon())

    def result(self):
        scores = self.scores()
        if self.true_positives is None:
            shape = self._reset_classes
            if self.average is None and shape is not None and int(np.prod(shape)) > 1:
                return metric_result(np.zeros(shape))
            return metric_result(0.0)
        if self.average == "weighted":
            return metric_result(float(np.sum(scores * self.class_weights / (np.sum(self.class_weights) + backend.epsilon()))))
        if self.average is not None:            # macro (micro: one pooled score already)
            return metric_result(float(np.mean(scores)))
        if scores.size == 1:
            return metric_result(float(scores.reshape(-1)[0]))
        return metric_result(scores)            # one per class (with .numpy()): a direct call's answer, not a log's

    def get_config(self):
        return {"average": self.average, "beta": self.beta, "threshold": self.threshold, "name": self.name}


class F1Score(FBetaScore):
    """The F1 score, ``FBetaScore`` with beta = 1: ``2 precision recall / (precision + recall)``."""
    default_name = "f1_score"

    def __init__(self, average=None, threshold=None, name=None, dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        return {"average": self.average, "threshold": self.threshold, "name": self.name}
