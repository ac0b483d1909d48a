"""Metrics: functions ``f(y_true, y_pred) -> float``, in Keras' and scikit-learn's order, computed on
the targets the loss prepared, whose epoch value is the mean of their batches' values; and ``Metric``
objects (``Precision``, ``Recall``, ``AUC``, see ``metrics.base`` and ``metrics.confusion``) that
count over every batch. (The losses take ``(y_pred, y_true)``, as PyTorch's loss functions and the
seeds' cost functions do; a loss named as a metric is called the metrics' way, see ``LossMetric``.)

``accuracy`` picks its meaning from the output, as Keras does: one output unit means binary
(threshold 0.5); several units mean categorical (argmax), with targets one-hot or integer labels.
``mae`` and ``mse`` are the regression metrics, logged under the name given to ``compile``
(``metrics=["mae"]`` gives "mae" and "val_mae"; "mean_absolute_error" is logged as such, as in Keras).
"""
import math

import numpy as np

from .. import backend, losses
from .._rows import row_argmax
from .._validation import check_class_labels, check_number, check_positive_int
from .base import Metric
from .confusion import AUC, Precision, Recall
from .fscore import F1Score, FBetaScore


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Fraction of outputs on the right side of ``threshold``; y_true, y_pred of shape (n, ..., k)
    ((n,) targets for one output unit are taken as (n, 1); other shapes are refused). Soft targets
    are thresholded too (0.7 counts as class 1), where Keras compares them with the predicted 0/1."""
    y_true = losses.aligned_targets(y_pred, y_true, "binary_accuracy")
    # count_nonzero / size is the mean of a boolean array without np.mean's Python-level overhead,
    # which matters because fit computes metrics on every batch
    return np.count_nonzero((y_pred > threshold) == (y_true > threshold)) / y_pred.size


def categorical_accuracy(y_true, y_pred, caller="categorical_accuracy"):
    """Fraction of positions whose argmax over the last axis matches.

    y_pred : (n, ..., k) class scores, e.g. (n, k) or an image's (n, H, W, k);
    y_true : one-hot targets of the same shape, or integer labels of shape (n, ...) or, as Keras
    takes them, (n, ..., 1).
    """
    predicted = row_argmax(y_pred)
    y_true = _labels(y_true, y_pred, caller)
    return np.count_nonzero(predicted == y_true) / predicted.size


def _labels(y_true, y_pred, caller):
    """The class index of each position, shape (n, ...), from one-hot targets of ``y_pred``'s shape
    (n, ..., k) or integer labels of shape (n, ...) or (n, ..., 1)."""
    y_true = backend.get_array_module(y_pred).asarray(y_true)
    positions = tuple(y_pred.shape[:-1])
    if y_true.shape == y_pred.shape:
        return row_argmax(y_true)
    if y_true.shape == (*positions, 1):
        return y_true[..., 0]
    if y_true.shape != positions:
        raise ValueError(f"{caller}: expected one-hot targets of shape {tuple(y_pred.shape)} "
                         f"or labels of shape {positions}, got shape {tuple(y_true.shape)}")
    return y_true


def top_k_categorical_accuracy(y_true, y_pred, k=5, caller="top_k_categorical_accuracy"):
    """Fraction of positions whose true class is among the ``k`` highest scores (Keras' k = 5).

    A class tied with the k-th highest score counts as in the top k, as TensorFlow's ``in_top_k``
    has it: the true class is in when fewer than k classes score strictly higher; a position with a
    non-finite score is a miss. Targets as for
    ``categorical_accuracy``. For another k, pass ``functools.partial`` or a function of your own.

    >>> float(top_k_categorical_accuracy([2, 0], np.array([[0.1, 0.2, 0.7], [0.2, 0.5, 0.3]]), k=2))
    0.5
    """
    k = check_positive_int(k, f"{caller}: k")
    am = backend.get_array_module(y_pred)
    labels = check_class_labels(_labels(y_true, y_pred, caller), y_pred.shape[-1], caller)
    target = am.take_along_axis(y_pred, labels[..., None], axis=-1)
    higher = am.count_nonzero(y_pred > target, axis=-1)
    # a row with a NaN or infinite score is a miss, as in_top_k has it: NaN compares false, and
    # would otherwise put its class in the top k (a diverged model would score 1.0)
    finite = am.isfinite(y_pred).all(axis=-1)
    return am.count_nonzero((higher < k) & finite) / labels.size


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """``top_k_categorical_accuracy`` under Keras' name for integer labels."""
    return top_k_categorical_accuracy(y_true, y_pred, k, "sparse_top_k_categorical_accuracy")


def sparse_categorical_accuracy(y_true, y_pred):
    """``categorical_accuracy`` under Keras' name for integer labels (its errors name this one)."""
    return categorical_accuracy(y_true, y_pred, "sparse_categorical_accuracy")


def accuracy(y_true, y_pred):
    """Binary accuracy for a single output unit, categorical accuracy otherwise."""
    if y_pred.shape[-1] == 1:
        return binary_accuracy(y_true, y_pred)
    return categorical_accuracy(y_true, y_pred)


def _difference(y_true, y_pred, caller):
    # one new array in the output's dtype: float32 stays float32 (no float64 copy per batch)
    return np.subtract(y_pred, losses.aligned_targets(y_pred, y_true, caller))


def mean_absolute_error(y_true, y_pred):
    """Mean of ``|y_pred - y_true|`` over all n * k values; y_true, y_pred of shape (n, k).

    >>> mean_absolute_error(np.array([[0.0], [4.0]]), np.array([[1.0], [2.0]]))
    1.5
    """
    d = _difference(y_true, y_pred, "mae")
    np.abs(d, out=d)
    return float(np.add.reduce(d, axis=None)) / d.size


def mean_squared_error(y_true, y_pred):
    """Mean of ``(y_pred - y_true)^2`` over all n * k values; y_true, y_pred of shape (n, k).

    >>> mean_squared_error(np.array([[0.0], [4.0]]), np.array([[1.0], [2.0]]))
    2.5
    """
    d = _difference(y_true, y_pred, "mse")
    return float(np.vdot(d, d)) / d.size       # a BLAS dot in the array's own dtype


class LossMetric:
    """A loss's value reported as a metric: ``LossMetric(loss)(y_true, y_pred)`` is
    ``loss(y_pred, y_true)``, so that every metric is called in one order.

    >>> m = LossMetric(losses.get("mae")); m.__name__, m(np.array([[0.0]]), np.array([[2.0]]))
    ('mae', 2.0)
    """

    def __init__(self, loss):
        self.loss = loss
        self.__name__ = loss.name

    def __call__(self, y_true, y_pred):
        return self.loss(y_pred, y_true)

    def __repr__(self):
        return f"<metric from {self.loss!r}>"


METRICS = {
    "accuracy": accuracy, "acc": accuracy, "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy, "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "mae": mean_absolute_error, "mean_absolute_error": mean_absolute_error,
    "mse": mean_squared_error, "mean_squared_error": mean_squared_error,
    "top_k_categorical_accuracy": top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy": sparse_top_k_categorical_accuracy,
}

class _Mean(Metric):
    """The mean of a function metric over every sample seen: each batch's value weighted by its
    number of samples, which is how ``fit`` averages a metric function (Keras' ``MeanMetricWrapper``
    classes). ``_batch(y_true, y_pred)`` is the function with this metric's settings."""

    def reset_state(self):
        self.total, self.count = 0.0, 0

    def update_state(self, y_true, y_pred):
        n = y_pred.shape[0]
        self.total += float(self._batch(y_true, y_pred)) * n
        self.count += n

    def result(self):
        return self.total / self.count if self.count else 0.0


class BinaryAccuracy(_Mean):
    """``binary_accuracy`` with a ``threshold`` of your choice (Keras' class; 0.5 by default)."""
    default_name = "binary_accuracy"

    def __init__(self, threshold=0.5, name=None):
        self.threshold = check_number(threshold, "BinaryAccuracy: threshold", "[0, 1]")
        super().__init__(name)

    def _batch(self, y_true, y_pred):
        return binary_accuracy(y_true, y_pred, self.threshold)

    def get_config(self):
        return {"threshold": self.threshold, "name": self.name}


class CategoricalAccuracy(_Mean):
    """``categorical_accuracy`` as Keras' class."""
    default_name = "categorical_accuracy"

    def _batch(self, y_true, y_pred):
        return categorical_accuracy(y_true, y_pred)


class SparseCategoricalAccuracy(_Mean):
    """``sparse_categorical_accuracy`` as Keras' class."""
    default_name = "sparse_categorical_accuracy"

    def _batch(self, y_true, y_pred):
        return sparse_categorical_accuracy(y_true, y_pred)


class TopKCategoricalAccuracy(_Mean):
    """``top_k_categorical_accuracy`` with a ``k`` of your choice (Keras' class; 5 by default).

    >>> m = TopKCategoricalAccuracy(k=2, name="top2")
    >>> m(np.array([2, 0]), np.array([[0.1, 0.2, 0.7], [0.2, 0.5, 0.3]]))
    0.5
    """
    default_name = "top_k_categorical_accuracy"

    def __init__(self, k=5, name=None):
        self.k = check_positive_int(k, f"{type(self).__name__}: k")
        super().__init__(name)

    def _batch(self, y_true, y_pred):
        return top_k_categorical_accuracy(y_true, y_pred, self.k, self.default_name)

    def get_config(self):
        return {"k": self.k, "name": self.name}


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """``sparse_top_k_categorical_accuracy`` with a ``k`` of your choice (Keras' class)."""
    default_name = "sparse_top_k_categorical_accuracy"


class MeanSquaredError(_Mean):
    """``mean_squared_error`` as Keras' metric class."""
    default_name = "mean_squared_error"

    def _batch(self, y_true, y_pred):
        return mean_squared_error(y_true, y_pred)


class MeanAbsoluteError(_Mean):
    """``mean_absolute_error`` as Keras' metric class."""
    default_name = "mean_absolute_error"

    def _batch(self, y_true, y_pred):
        return mean_absolute_error(y_true, y_pred)


class RootMeanSquaredError(MeanSquaredError):
    """The square root of the mean squared error over every value seen (Keras' class): over an
    epoch, the root of the epoch's mean, not the mean of the batches' roots.

    >>> m = RootMeanSquaredError()
    >>> m.update_state(np.array([[0.0]]), np.array([[3.0]])); m.update_state(np.array([[0.0]]), np.array([[1.0]]))
    >>> m.result()                  # sqrt((9 + 1) / 2), where the batches' roots average 2
    2.23606797749979
    """
    default_name = "root_mean_squared_error"

    def result(self):
        return math.sqrt(super().result())


# the metrics with a state, by class name: a model file or a config names one with settings other
# than its defaults as {"class_name": "Precision", "config": {...}}, and only these classes can be
# named there (a file cannot make an arbitrary class)
METRIC_CLASSES = {cls.__name__: cls for cls in (
    Precision, Recall, AUC, F1Score, FBetaScore, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError,
    RootMeanSquaredError)}
# their names in compile(metrics=[...]): Keras' logged names and its class names; each lookup
# makes a new metric with the default settings
_METRIC_CLASS_NAMES = {**{cls.default_name: cls for cls in METRIC_CLASSES.values()}, **METRIC_CLASSES}


def check_log_names(names):
    """Refuse metric names that would share a key in logs and History with each other or with the
    loss (a second "mse", two lambdas, a function called ``loss``): one value would silently
    replace the other, and callbacks monitoring that key would watch the wrong number."""
    logged = ["loss", *names]
    keys = logged + [f"val_{name}" for name in logged]
    shared = sorted({key for key in keys if keys.count(key) > 1})
    if shared:
        raise ValueError(f"metrics: the names {names} would log several values under {shared}; "
                         f"give each metric a distinct name (a function is logged under its __name__, "
                         f"the loss as 'loss')")


def get(identifier):
    """Return ``(name, metric)`` for a metric name, a ``Metric`` (``Precision()``, logged under its
    ``name``), a loss name or ``Loss`` instance (its value as a metric, see ``LossMetric``), a
    callable ``f(y_true, y_pred) -> float`` (named after the function, as Keras names it), or what
    ``serialize`` gives for a metric with settings, ``{"class_name": ..., "config": {...}}``."""
    if isinstance(identifier, Metric):
        return identifier.name, identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):     # the class: Keras makes one
        return get(identifier())
    if isinstance(identifier, losses.Loss):
        return identifier.name, LossMetric(identifier)
    if callable(identifier) and not isinstance(identifier, str):
        return getattr(identifier, "__name__", "metric"), identifier
    if isinstance(identifier, dict):
        return get(_from_config(identifier))
    if isinstance(identifier, str):
        if identifier in METRICS:
            return identifier, METRICS[identifier]
        if identifier in _METRIC_CLASS_NAMES:
            return get(_METRIC_CLASS_NAMES[identifier]())
        if identifier in losses.LOSSES or identifier in losses.ALIASES:
            return identifier, LossMetric(losses.get(identifier))
    raise ValueError(f"metric: expected one of {sorted({*METRICS, *_METRIC_CLASS_NAMES})}, a loss name, "
                     f"a Metric or a callable, got {identifier!r:.100}")


def serialize(name, metric):
    """How a model's config and its file name the compiled metric ``(name, metric)``: ``name``, or,
    for a ``Precision``, ``Recall`` or ``AUC`` whose settings or name are not the defaults,
    ``{"class_name": ..., "config": metric.get_config()}`` (JSON), which ``get`` turns back into it."""
    if type(metric) in METRIC_CLASSES.values():
        # the name alone only when it gives this very metric back ("binary_accuracy" names the
        # function, not BinaryAccuracy(); "precision" names Precision() with its defaults)
        try:
            _, named = get(name)
        except ValueError:
            named = None
        if type(named) is not type(metric) or named.get_config() != metric.get_config():
            return {"class_name": type(metric).__name__, "config": metric.get_config()}
    return name


def _from_config(spec):
    """The metric object ``{"class_name": ..., "config": {...}}`` describes; only the classes of
    ``METRIC_CLASSES``, whose constructors check every setting."""
    if (set(spec) != {"class_name", "config"} or not isinstance(spec["class_name"], str)
            or spec["class_name"] not in METRIC_CLASSES
            or not isinstance(spec["config"], dict)):
        raise ValueError(f"metric: expected {{'class_name': one of {sorted(METRIC_CLASSES)}, 'config': {{...}}}}, "
                         f"got {spec!r:.200}")
    cls = METRIC_CLASSES[spec["class_name"]]
    try:
        return cls(**spec["config"])
    except TypeError as exc:            # a setting the class does not have
        raise ValueError(f"metric: {spec['class_name']}: {exc}") from None
