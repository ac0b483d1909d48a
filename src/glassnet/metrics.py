"""Metrics: ``f(y_pred, y_true) -> float``, computed on the targets the loss prepared.

``accuracy`` picks its meaning from the output, as Keras does: one output unit means binary
(threshold 0.5); several units mean categorical (argmax), with targets one-hot or integer labels.
"""
import numpy as np

from . import losses


def binary_accuracy(y_pred, y_true, threshold=0.5):
    """Fraction of outputs on the right side of ``threshold``; y_pred, y_true of shape (n, k)."""
    # count_nonzero / size is the mean of a boolean array without np.mean's Python-level overhead,
    # which matters because fit computes metrics on every batch
    return np.count_nonzero((y_pred > threshold) == (y_true > threshold)) / y_pred.size


def categorical_accuracy(y_pred, y_true):
    """Fraction of rows whose argmax matches; y_true one-hot (n, k) or integer labels (n,)."""
    predicted = y_pred.argmax(axis=-1)
    if y_true.ndim == 2:
        y_true = y_true.argmax(axis=-1)
    return np.count_nonzero(predicted == y_true) / predicted.size


def accuracy(y_pred, y_true):
    """Binary accuracy for a single output unit, categorical accuracy otherwise."""
    if y_pred.shape[-1] == 1:
        return binary_accuracy(y_pred, y_true)
    return categorical_accuracy(y_pred, y_true)


METRICS = {
    "accuracy": accuracy, "acc": accuracy, "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy, "sparse_categorical_accuracy": categorical_accuracy,
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
