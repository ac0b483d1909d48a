"""Regression losses: mean squared error (Keras' ``mse``), the seeds' ½ sum of squares, mean
absolute error."""
import numpy as np

from ._numerics import _per_sample
from .base import Loss


class MeanSquaredError(Loss):
    """Keras' ``mse``: the mean of ``(y_pred - y_true)^2`` over all n * k values; its gradient is
    ``2 (y_pred - y_true) / (n k)``. y_pred, y_true: (n, k) ((n,) targets for one unit)."""
    name = "mse"

    def __call__(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        d = y_pred - y_true
        return float(np.vdot(d, d)) / d.size

    def weighted(self, y_pred, y_true, sample_weight):
        y_true = self._targets(y_pred, y_true)
        d = y_pred - y_true
        return float(np.vdot(d * _per_sample(sample_weight, d), d)) / d.size

    def gradient(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        d = np.subtract(y_pred, y_true)
        d *= 2.0 / d.size
        return d


class SquaredError(Loss):
    """Half the summed squares, averaged over samples (seed 003, scikit-learn)."""
    name = "squared_error"

    def __call__(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        d = y_pred - y_true
        return 0.5 * float(np.vdot(d, d)) / d.shape[0]

    def weighted(self, y_pred, y_true, sample_weight):
        y_true = self._targets(y_pred, y_true)
        d = y_pred - y_true
        return 0.5 * float(np.vdot(d * _per_sample(sample_weight, d), d)) / d.shape[0]

    def gradient(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        d = np.subtract(y_pred, y_true)
        d *= 1.0 / d.shape[0]
        return d


class MeanAbsoluteError(Loss):
    """Keras' ``mae``: the mean of ``|y_pred - y_true|`` over all n * k values; its gradient is
    ``sign(y_pred - y_true) / (n k)`` (0 where they are equal, as PyTorch's L1 loss)."""
    name = "mae"

    def __call__(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        return float(np.abs(y_pred - y_true).mean())

    def weighted(self, y_pred, y_true, sample_weight):
        y_true = self._targets(y_pred, y_true)
        terms = np.abs(y_pred - y_true)
        terms *= _per_sample(sample_weight, terms)
        return float(terms.mean())

    def gradient(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        g = np.sign(y_pred - y_true)
        g *= 1.0 / g.size
        return g
