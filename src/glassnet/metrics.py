"""Metrics: ``f(y_pred, y_true) -> float``, computed on the targets the loss prepared.

``accuracy`` picks its meaning from the output, as Keras does: one output unit means binary
(threshold 0.5); several units mean categorical (argmax), with targets one-hot or integer labels.
``mae`` and ``mse`` are the regression metrics, logged under the name given to ``compile``
(``metrics=["mae"]`` gives "mae" and "val_mae"; "mean_absolute_error" is logged as such, as in Keras).
"""
import numpy as np

from . import losses
from ._rows import row_argmax


def binary_accuracy(y_pred, y_true, threshold=0.5):
    """Fraction of outputs on the right side of ``threshold``; y_pred, y_true of shape (n, k)
    ((n,) targets for one output unit are taken as (n, 1); other shapes are refused)."""
    y_true = losses.aligned_targets(y_pred, y_true, "binary_accuracy")
    # count_nonzero / size is the mean of a boolean array without np.mean's Python-level overhead,
    # which matters because fit computes metrics on every batch
    return np.count_nonzero((y_pred > threshold) == (y_true > threshold)) / y_pred.size


def categorical_accuracy(y_pred, y_true):
    """Fraction of rows whose argmax matches; y_true one-hot (n, k) or integer labels (n,)."""
    predicted = row_argmax(y_pred)
    if y_true.ndim == 2:
        y_true = row_argmax(losses.aligned_targets(y_pred, y_true, "categorical_accuracy"))
    elif y_true.shape != predicted.shape:
        raise ValueError(f"categorical_accuracy: expected one-hot targets of shape {y_pred.shape} or "
                         f"labels of shape {predicted.shape}, got shape {y_true.shape}")
    return np.count_nonzero(predicted == y_true) / predicted.size


def accuracy(y_pred, y_true):
    """Binary accuracy for a single output unit, categorical accuracy otherwise."""
    if y_pred.shape[-1] == 1:
        return binary_accuracy(y_pred, y_true)
    return categorical_accuracy(y_pred, y_true)


def _difference(y_pred, y_true, caller):
    # one new array in the output's dtype: float32 stays float32 (no float64 copy per batch)
    return np.subtract(y_pred, losses.aligned_targets(y_pred, y_true, caller))


def mean_absolute_error(y_pred, y_true):
    """Mean of ``|y_pred - y_true|`` over all n * k values; y_pred, y_true of shape (n, k).

    >>> mean_absolute_error(np.array([[1.0], [2.0]]), np.array([[0.0], [4.0]]))
    1.5
    """
    d = _difference(y_pred, y_true, "mae")
    np.abs(d, out=d)
    return float(np.add.reduce(d, axis=None)) / d.size


def mean_squared_error(y_pred, y_true):
    """Mean of ``(y_pred - y_true)^2`` over all n * k values; y_pred, y_true of shape (n, k).

    >>> mean_squared_error(np.array([[1.0], [2.0]]), np.array([[0.0], [4.0]]))
    2.5
    """
    d = _difference(y_pred, y_true, "mse")
    return float(np.vdot(d, d)) / d.size       # a BLAS dot in the array's own dtype


METRICS = {
    "accuracy": accuracy, "acc": accuracy, "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy, "sparse_categorical_accuracy": categorical_accuracy,
    "mae": mean_absolute_error, "mean_absolute_error": mean_absolute_error,
    "mse": mean_squared_error, "mean_squared_error": mean_squared_error,
}


def get(identifier):
    """Return ``(name, function)`` for a metric name, a loss name (its value as a metric) or a
    callable ``f(y_pred, y_true) -> float`` (named after the function)."""
    if callable(identifier) and not isinstance(identifier, str):
        return getattr(identifier, "__name__", "metric"), identifier
    if isinstance(identifier, str):
        if identifier in METRICS:
            return identifier, METRICS[identifier]
        if identifier in losses.LOSSES or identifier in losses.ALIASES:
            return identifier, losses.get(identifier)
    raise ValueError(f"metric: expected one of {sorted(METRICS)}, a loss name or a callable, "
                     f"got {identifier!r}")
