"""Regression losses: mean squared error (Keras' ``mse``), the seeds' ½ sum of squares, mean
absolute error, Huber and log-cosh."""
import math

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


class _ElementwiseLoss(Loss):
    """A loss that is the mean of one term per output value over all n * k values, as Keras'
    regression losses are: subclasses give the term (``_terms``) and its derivative (``_slopes``)."""

    def __call__(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        return float(self._terms(y_pred - y_true).mean())

    def weighted(self, y_pred, y_true, sample_weight):
        y_true = self._targets(y_pred, y_true)
        terms = self._terms(y_pred - y_true)
        terms *= _per_sample(sample_weight, terms)
        return float(terms.mean())

    def gradient(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        g = self._slopes(y_pred - y_true)
        g *= 1.0 / g.size
        return g


class Huber(_ElementwiseLoss):
    """Keras' ``huber``: per value ``d = y_pred - y_true``, ``d^2 / 2`` where ``|d| <= delta``, else
    ``delta (|d| - delta / 2)``; the mean over all n * k values. Its gradient is ``d`` clipped to
    ``[-delta, delta]``, over n k. Squared error near the target, absolute error far from it: a
    regression loss that outliers do not dominate (PyTorch's ``huber_loss``).

    A model file names its loss only: one compiled with a ``delta`` other than 1.0 trains, but
    ``save`` refuses it.
    """
    name = "huber"

    def __init__(self, delta=1.0):
        if isinstance(delta, bool) or not isinstance(delta, (int, float, np.integer, np.floating)) \
                or not math.isfinite(delta) or delta <= 0:
            raise ValueError(f"Huber: delta must be a positive finite number, got {delta!r}")
        self.delta = float(delta)

    def _terms(self, d):
        a = np.abs(d)
        q = np.minimum(a, self.delta)              # |d| inside the band, delta beyond it
        return 0.5 * q * q + self.delta * (a - q)

    def _slopes(self, d):
        return np.clip(d, -self.delta, self.delta)


class LogCosh(_ElementwiseLoss):
    """Keras' ``log_cosh``: ``log(cosh(d))`` per value, the mean over all n * k values; gradient
    ``tanh(d) / (n k)``. Written as ``d + softplus(-2 d) - log 2``, so cosh never overflows."""
    name = "log_cosh"

    def _terms(self, d):
        minus_2d = -2.0 * d
        softplus = np.maximum(minus_2d, 0) + np.log1p(np.exp(-np.abs(minus_2d)))
        return d + softplus - math.log(2.0)

    def _slopes(self, d):
        return np.tanh(d)
