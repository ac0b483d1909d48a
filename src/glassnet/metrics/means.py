"""Keras' metric classes for the metric functions: ``BinaryAccuracy(threshold=0.5)``,
``TopKCategoricalAccuracy(k)``, ..., each the mean of its function over every sample seen,
``RootMeanSquaredError``, the root of the epoch's mean squared error, ``Accuracy`` (outputs equal
to their targets), and Keras' plain ``Mean``, ``Sum`` and ``MeanMetricWrapper``.

Sample weights (``update_state(y_true, y_pred, sample_weight)``) weigh each sample's value, as
Keras' do: one weight per sample (n,), or per position (n, T) for a sequence's outputs (n, T, k).
"""
import math
import numbers

import numpy as np

from .. import backend
from .._validation import check_number, check_positive_int
from .base import Average, Metric, value_weights
from .functions import (absolute_errors, binary_accuracy, binary_hits, categorical_accuracy, categorical_hits,
                        mean_absolute_error, mean_squared_error, sparse_categorical_accuracy, squared_errors,
                        top_k_categorical_accuracy, top_k_hits)
from .per_sample import sparse_top_k_categorical_accuracy as _per_sample_sparse_top_k
from .result_value import metric_result


class _Mean(Average):
    """The mean of a function metric over every sample seen: each batch's value weighted by its
    number of samples, which is how ``fit`` averages a metric function (Keras' ``MeanMetricWrapper``
    classes). Each class names its ``function`` and, when it has settings, the keyword arguments
    they give it (``_settings``)."""

    function = None         # f(y_true, y_pred, **settings) -> the batch's value
    # f(y_true, y_pred, **settings) -> the function's terms before their mean, and whether they
    # still have the output's last axis to average (an error per output unit), which Keras
    # averages first: weights then go with what is left, (n,) or a sequence's (n, T)
    values, per_unit = None, False

    def _settings(self):
        return {}

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = backend.get_array_module(y_pred).asarray(y_pred)      # lists too, as Keras takes them
        if y_pred.ndim == 1 and np.shape(y_true) == (*y_pred.shape, 1):
            y_pred = y_pred[:, None]     # (n, 1) targets for (n,) outputs: one row per sample, as (n,) targets
        n = y_pred.shape[0]
        if n == 0:                  # nothing to count (a mean of no values would be NaN)
            return
        if sample_weight is None:
            self.total += float(self.function(y_true, y_pred, **self._settings())) * n
            self.count += n
            return
        terms = self.values(y_true, y_pred, **self._settings())
        if self.per_unit and terms.ndim > 1:
            terms = terms.mean(axis=-1)
        self._add_weighted(terms, sample_weight)


class BinaryAccuracy(_Mean):
    """``binary_accuracy`` with a ``threshold`` of your choice (Keras' class; 0.5 by default)."""
    default_name = "binary_accuracy"
    direction = "up"
    function, values, per_unit = staticmethod(binary_accuracy), staticmethod(binary_hits), True

    def __init__(self, name=None, dtype=None, threshold=0.5):
        # Keras' order, (name, dtype, threshold): BinaryAccuracy(0.7) is a name there, refused
        # here by name rather than read as a threshold Keras code would not have meant
        if isinstance(name, numbers.Real) and not isinstance(name, bool):
            raise TypeError(f"BinaryAccuracy: name: expected a string or None, got {name!r:.40}; the "
                            f"arguments are (name, dtype, threshold), as in Keras: give threshold={name!r:.40}")
        self.threshold = check_number(threshold, "BinaryAccuracy: threshold", "[0, 1]")
        super().__init__(name, dtype)

    def _settings(self):
        return {"threshold": self.threshold}

    def get_config(self):
        return {"threshold": self.threshold, "name": self.name}


class CategoricalAccuracy(_Mean):
    """``categorical_accuracy`` as Keras' class."""
    default_name = "categorical_accuracy"
    direction = "up"
    function, values = staticmethod(categorical_accuracy), staticmethod(categorical_hits)


class SparseCategoricalAccuracy(_Mean):
    """``sparse_categorical_accuracy`` as Keras' class."""
    default_name = "sparse_categorical_accuracy"
    direction = "up"
    function, values = staticmethod(sparse_categorical_accuracy), staticmethod(categorical_hits)


class TopKCategoricalAccuracy(_Mean):
    """``top_k_categorical_accuracy`` with a ``k`` of your choice (Keras' class; 5 by default).

    >>> import numpy as np
    >>> m = TopKCategoricalAccuracy(k=2, name="top2")
    >>> m(np.array([2, 0]), np.array([[0.1, 0.2, 0.7], [0.2, 0.5, 0.3]]))
    0.5
    """
    default_name = "top_k_categorical_accuracy"
    direction = "up"
    function, values = staticmethod(top_k_categorical_accuracy), staticmethod(top_k_hits)

    def __init__(self, k=5, name=None, dtype=None):
        self.k = check_positive_int(k, f"{type(self).__name__}: k")
        super().__init__(name, dtype)

    def _settings(self):
        return {"k": self.k, "caller": self.name}         # errors name this metric

    def get_config(self):
        return {"k": self.k, "name": self.name}


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """``sparse_top_k_categorical_accuracy`` with a ``k`` of your choice (Keras' class).

    from_sorted_ids : False (the default) reads ``y_pred`` (n, ..., classes) as scores; True, as
        Keras 3.15, reads it as class ids sorted from the highest score down, (n, ..., N), and
        counts a label found among the first ``k`` of them. Labels (n, ...) or (n, ..., 1).
    """
    default_name = "sparse_top_k_categorical_accuracy"

    def __init__(self, k=5, name=None, dtype=None, from_sorted_ids=False):       # Keras' order
        if not isinstance(from_sorted_ids, (bool, np.bool_)):
            raise TypeError(f"SparseTopKCategoricalAccuracy: from_sorted_ids: expected True or False, "
                            f"got {from_sorted_ids!r:.60}")
        self.from_sorted_ids = bool(from_sorted_ids)
        super().__init__(k, name, dtype)
        if self.from_sorted_ids:
            # per-position hits of the sorted ids (the function Keras' class wraps); the default,
            # scores, keeps the class's own path, which counts without a per-sample array
            self.function = self._sorted_ids_mean
            self.values = _sorted_ids_hits

    @staticmethod
    def _sorted_ids_mean(y_true, y_pred, k, caller):
        return float(_sorted_ids_hits(y_true, y_pred, k, caller).mean())

    def get_config(self):
        config = super().get_config()
        if self.from_sorted_ids:            # only when set: the configs and model files of before stay
            config["from_sorted_ids"] = True
        return config


def _sorted_ids_hits(y_true, y_pred, k, caller):
    """1.0 where the label is among the first ``k`` of the sorted ids ``y_pred``, y_true's shape."""
    return _per_sample_sparse_top_k(y_true, y_pred, k=k, from_sorted_ids=True)


class MeanSquaredError(_Mean):
    """``mean_squared_error`` as Keras' metric class."""
    default_name = "mean_squared_error"
    direction = "down"
    function, values, per_unit = staticmethod(mean_squared_error), staticmethod(squared_errors), True


class MeanAbsoluteError(_Mean):
    """``mean_absolute_error`` as Keras' metric class."""
    default_name = "mean_absolute_error"
    direction = "down"
    function, values, per_unit = staticmethod(mean_absolute_error), staticmethod(absolute_errors), True


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
        return metric_result(math.sqrt(super().result()))


def _accuracy_hits(y_true, y_pred):
    """Outputs equal to their targets, value by value (Keras' ``accuracy``): bool, y_pred's shape."""
    xp = backend.get_array_module(y_pred)
    y_pred, y_true = xp.asarray(y_pred), xp.asarray(y_true)
    if y_true.shape == y_pred.shape[:-1] and y_pred.ndim > 1 and y_pred.shape[-1] == 1:
        y_true = y_true[..., None]          # (n,) targets for (n, 1) outputs, as Keras squeezes them
    elif y_pred.shape == y_true.shape[:-1] and y_true.ndim > 1 and y_true.shape[-1] == 1:
        y_pred = y_pred[..., None]
    if y_true.shape != y_pred.shape:
        raise ValueError(f"Accuracy: expected targets of the outputs' shape {tuple(y_pred.shape)}, got "
                         f"shape {tuple(y_true.shape)}")
    return y_true == y_pred


class Accuracy(_Mean):
    """How often outputs equal their targets exactly (Keras' ``Accuracy``): for outputs that are
    already labels (say, a model's predictions rounded), not probabilities; those want
    ``BinaryAccuracy`` or ``CategoricalAccuracy``. The mean over each sample's values, then over
    the samples.

    >>> import numpy as np
    >>> Accuracy()(np.array([[1], [2], [3], [4]]), np.array([[0], [2], [3], [4]]))
    0.75
    """
    default_name = "accuracy"
    direction = "up"
    values, per_unit = staticmethod(_accuracy_hits), True

    @staticmethod
    def function(y_true, y_pred):
        hits = _accuracy_hits(y_true, y_pred)
        return backend.get_array_module(hits).count_nonzero(hits) / hits.size if hits.size else 0.0


class Mean(Average):
    """The (weighted) mean of the values given to it, Keras' ``Mean``: ``update_state(values,
    sample_weight=None)``, not targets and outputs, so it is a tally for your own loops (a loss
    over ``train_on_batch`` calls), not a metric for ``compile``. An array of values (n, ...)
    counts each sample's mean once (a number counts once), as Keras reduces them.

    >>> m = Mean(); m.update_state([1, 3, 5, 7]); m.result()
    4.0
    >>> m.update_state([10], sample_weight=[2]); m.result()     # (16 + 2 * 10) / (4 + 2)
    6.0
    """
    default_name = "mean"
    takes_values = True     # compile refuses it (see metrics.get)

    def update_state(self, values, sample_weight=None):
        xp = backend.get_array_module(values)
        values = xp.asarray(values, dtype=np.float64)
        if values.ndim == 0:        # one number for the batch: it counts once, or with the batch's weights (Keras)
            weights = xp.asarray(1.0 if sample_weight is None else sample_weight)
            weight = float(value_weights(weights, weights.shape or (1,), self.name, xp).sum())
            self.total, self.count = self.total + weight * float(values), self.count + weight
            return
        if sample_weight is None:
            per_sample = values.reshape(values.shape[0], -1).mean(axis=1) if values.size else values[:0]
            self.total += float(per_sample.sum())
            self.count += values.shape[0]
            return
        self._add_weighted(self._reduced(values, sample_weight), sample_weight)

    def _reduced(self, values, sample_weight):
        """``values`` averaged over the axes ``sample_weight`` does not have (Keras' reduction)."""
        ndim = np.ndim(sample_weight)
        return values.mean(axis=tuple(range(max(ndim, 1), values.ndim))) if values.ndim > max(ndim, 1) else values


class Sum(Metric):
    """The (weighted) sum of the values given to it, Keras' ``Sum``: ``update_state(values,
    sample_weight=None)``, a tally for your own loops, as ``Mean``.

    >>> m = Sum(); m.update_state([1, 3, 5, 7]); m.result()
    16.0
    """
    default_name = "sum"
    takes_values = True

    def reset_state(self):
        self.total = 0.0

    def update_state(self, values, sample_weight=None):
        xp = backend.get_array_module(values)
        values = xp.asarray(values, dtype=np.float64)
        if sample_weight is not None:
            shape = values.shape if values.ndim else (1,)
            values = values.reshape(shape) * value_weights(sample_weight, shape, self.name, xp)
        self.total += float(values.sum())

    def result(self):
        return metric_result(self.total)


class MeanMetricWrapper(Mean):
    """The mean of ``fn(y_true, y_pred, **kwargs)`` over every sample seen (Keras' class): ``fn``
    returns one value per sample (n,) (or per position, (n, T), averaged per sample), or one
    number for the batch, which then counts once (Keras' rule, and ``compile``'s for the function
    itself: metrics.base.batch_share). A model file cannot name ``fn``,
    so ``save`` refuses a model compiled with one, as it does any metric of your own that is not
    registered (``glassnet.saving``).

    >>> import numpy as np
    >>> m = MeanMetricWrapper(lambda t, p: np.abs(t - p).max(axis=-1), name="max_error")
    >>> m(np.array([[0.0, 1.0]]), np.array([[0.5, 3.0]]))
    2.0
    """
    default_name = "mean_metric_wrapper"
    takes_values = False

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        # Keras' order: dtype is the metric's (its totals'), not a keyword of fn's
        if not callable(fn):
            raise TypeError(f"MeanMetricWrapper: fn must be a function f(y_true, y_pred), got {type(fn).__name__}")
        self.fn, self.kwargs = fn, kwargs
        # "is None", not "or": a falsy name (0, "", []) is checked and refused, not replaced
        super().__init__(getattr(fn, "__name__", None) if name is None else name, dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self.fn(y_true, y_pred, **self.kwargs)
        kind = getattr(getattr(values, "dtype", None), "kind", None)
        if kind is None and not isinstance(values, (int, float)) or kind is not None and kind not in "biuf":
            raise TypeError(f"{self.name}: fn must return numbers, per sample or one for the batch, got "
                            f"{type(values).__name__}")
        super().update_state(values, sample_weight)

    def get_config(self):
        return {"fn": getattr(self.fn, "__name__", repr(self.fn)), **self.kwargs, "name": self.name}
