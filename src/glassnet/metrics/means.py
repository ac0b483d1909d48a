"""Keras' metric classes for the metric functions: ``BinaryAccuracy(threshold)``,
``TopKCategoricalAccuracy(k)``, ..., each the mean of its function over every sample seen, and
``RootMeanSquaredError``, the root of the epoch's mean squared error."""
import math

from .. import backend
from .._validation import check_number, check_positive_int
from .base import Metric
from .functions import (binary_accuracy, categorical_accuracy, mean_absolute_error, mean_squared_error,
                        sparse_categorical_accuracy, top_k_categorical_accuracy)


class _Mean(Metric):
    """The mean of a function metric over every sample seen: each batch's value weighted by its
    number of samples, which is how ``fit`` averages a metric function (Keras' ``MeanMetricWrapper``
    classes). Each class names its ``function`` and, when it has settings, the keyword arguments
    they give it (``_settings``)."""

    function = None         # f(y_true, y_pred, **settings) -> the batch's value

    def _settings(self):
        return {}

    def reset_state(self):
        self.total, self.count = 0.0, 0

    def update_state(self, y_true, y_pred):
        y_pred = backend.get_array_module(y_pred).asarray(y_pred)      # lists too, as Keras takes them
        n = y_pred.shape[0]
        self.total += float(self.function(y_true, y_pred, **self._settings())) * n
        self.count += n

    def result(self):
        return self.total / self.count if self.count else 0.0


class BinaryAccuracy(_Mean):
    """``binary_accuracy`` with a ``threshold`` of your choice (Keras' class; 0.5 by default)."""
    default_name = "binary_accuracy"
    direction = "up"
    function = staticmethod(binary_accuracy)

    def __init__(self, threshold=0.5, name=None):
        self.threshold = check_number(threshold, "BinaryAccuracy: threshold", "[0, 1]")
        super().__init__(name)

    def _settings(self):
        return {"threshold": self.threshold}

    def get_config(self):
        return {"threshold": self.threshold, "name": self.name}


class CategoricalAccuracy(_Mean):
    """``categorical_accuracy`` as Keras' class."""
    default_name = "categorical_accuracy"
    direction = "up"
    function = staticmethod(categorical_accuracy)


class SparseCategoricalAccuracy(_Mean):
    """``sparse_categorical_accuracy`` as Keras' class."""
    default_name = "sparse_categorical_accuracy"
    direction = "up"
    function = staticmethod(sparse_categorical_accuracy)


class TopKCategoricalAccuracy(_Mean):
    """``top_k_categorical_accuracy`` with a ``k`` of your choice (Keras' class; 5 by default).

    >>> import numpy as np
    >>> m = TopKCategoricalAccuracy(k=2, name="top2")
    >>> m(np.array([2, 0]), np.array([[0.1, 0.2, 0.7], [0.2, 0.5, 0.3]]))
    0.5
    """
    default_name = "top_k_categorical_accuracy"
    direction = "up"
    function = staticmethod(top_k_categorical_accuracy)

    def __init__(self, k=5, name=None):
        self.k = check_positive_int(k, f"{type(self).__name__}: k")
        super().__init__(name)

    def _settings(self):
        return {"k": self.k, "caller": self.name}         # errors name this metric

    def get_config(self):
        return {"k": self.k, "name": self.name}


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """``sparse_top_k_categorical_accuracy`` with a ``k`` of your choice (Keras' class)."""
    default_name = "sparse_top_k_categorical_accuracy"


class MeanSquaredError(_Mean):
    """``mean_squared_error`` as Keras' metric class."""
    default_name = "mean_squared_error"
    direction = "down"
    function = staticmethod(mean_squared_error)


class MeanAbsoluteError(_Mean):
    """``mean_absolute_error`` as Keras' metric class."""
    default_name = "mean_absolute_error"
    direction = "down"
    function = staticmethod(mean_absolute_error)


class RootMeanSquaredError(MeanSquaredError):
    """The square root of the mean squared error over every value seen (Keras' class): over an
    epoch, the root of the epoch's mean, not the mean of the batches' roots.

    >>> import numpy as np
    >>> m = RootMeanSquaredError()
    >>> m.update_state(np.array([[0.0]]), np.array([[3.0]])); m.update_state(np.array([[0.0]]), np.array([[1.0]]))
    >>> m.result()                  # sqrt((9 + 1) / 2), where the batches' roots average 2
    2.23606797749979
    """
    default_name = "root_mean_squared_error"

    def result(self):
        return math.sqrt(super().result())
