"""Regression and other per-value losses: mean squared error (Keras' ``mse``), the seeds' ½ sum of
squares, mean absolute error, Huber, log-cosh, Poisson, mean squared logarithmic error, hinge and
the Kullback-Leibler divergence."""
import math

import numpy as np

from .. import backend

from .._validation import check_number
from ._numerics import _per_sample, _zero_where_clipped
from .base import DEFAULT_REDUCTION, Loss, WithSettings


class MeanSquaredError(Loss):
    """Keras' ``mse``: the mean of ``(y_pred - y_true)^2`` over all n * k values; its gradient is
    ``2 (y_pred - y_true) / (n k)``. y_pred, y_true: (n, k) ((n,) targets for one unit)."""
    name = "mse"

    def __call__(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        d = y_pred - y_true
        return float(np.vdot(d, d)) / d.size

    def per_sample(self, y_pred, y_true):
        d = y_pred - self._targets(y_pred, y_true)
        return (d * d).mean(axis=-1)

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

    def per_sample(self, y_pred, y_true):
        d = y_pred - self._targets(y_pred, y_true)
        return 0.5 * (d * d).reshape(d.shape[0], -1).sum(axis=1)

    def _value_count(self, y_pred, y_true):
        return y_pred.shape[0]          # its value is a mean over samples, whatever their shape

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

    def per_sample(self, y_pred, y_true):
        return np.abs(y_pred - self._targets(y_pred, y_true)).mean(axis=-1)

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
    """A loss made of one term per output value, as most of Keras' are: the mean of the terms over
    all n * k values or, with ``sum_over_outputs``, their sum over each sample's k outputs and the
    mean over the samples (over the positions too, for an image-shaped output). Subclasses give the
    term (``_terms``) and its derivative in y_pred (``_slopes``); weights, reduction and gradient
    scale are shared."""
    sum_over_outputs = False

    def _count(self, values):
        return values.size // values.shape[-1] if self.sum_over_outputs else values.size

    def __call__(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        terms = self._terms(y_pred, y_true)
        return float(terms.sum()) / self._count(terms)

    def per_sample(self, y_pred, y_true):
        terms = self._terms(y_pred, self._targets(y_pred, y_true))
        return terms.sum(axis=-1) if self.sum_over_outputs else terms.mean(axis=-1)

    def weighted(self, y_pred, y_true, sample_weight):
        y_true = self._targets(y_pred, y_true)
        terms = self._terms(y_pred, y_true)
        terms *= _per_sample(sample_weight, terms)
        return float(terms.sum()) / self._count(terms)

    def gradient(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        g = self._slopes(y_pred, y_true)
        g *= 1.0 / self._count(g)
        return g


class Huber(WithSettings, _ElementwiseLoss):
    """Keras' ``huber``: per value ``d = y_pred - y_true``, ``d^2 / 2`` where ``|d| <= delta``, else
    ``delta (|d| - delta / 2)``; the mean over all n * k values. Its gradient is ``d`` clipped to
    ``[-delta, delta]``, over n k. Squared error near the target, absolute error far from it: a
    regression loss that outliers do not dominate (PyTorch's ``huber_loss``).

    A model file records its ``delta``.
    """
    name = "huber"

    def __init__(self, delta=1.0, reduction=DEFAULT_REDUCTION, name=None):
        self.delta = check_number(delta, "Huber: delta", "> 0")
        self._take_reduction(reduction, name)

    def _terms(self, y_pred, y_true):
        a = np.abs(y_pred - y_true)
        q = np.minimum(a, self.delta)              # |d| inside the band, delta beyond it
        return 0.5 * q * q + self.delta * (a - q)

    def _slopes(self, y_pred, y_true):
        return np.clip(y_pred - y_true, -self.delta, self.delta)


class LogCosh(_ElementwiseLoss):
    """Keras' ``log_cosh``: ``log(cosh(d))`` per value, the mean over all n * k values; gradient
    ``tanh(d) / (n k)``. Written as ``d + softplus(-2 d) - log 2``, so cosh never overflows."""
    name = "log_cosh"

    def _terms(self, y_pred, y_true):
        d = y_pred - y_true
        minus_2d = -2.0 * d
        softplus = np.maximum(minus_2d, 0) + np.log1p(np.exp(-np.abs(minus_2d)))
        return d + softplus - math.log(2.0)

    def _slopes(self, y_pred, y_true):
        return np.tanh(y_pred - y_true)


class Poisson(_ElementwiseLoss):
    """Keras' ``poisson``: ``mean(y_pred - y_true log(y_pred + 1e-7))`` over all n * k values, for
    counts predicted by a positive output (``exp`` or ``softplus``); gradient
    ``1 - y_true / (y_pred + 1e-7)`` over n k. A negative prediction has no log: NaN, as in Keras."""
    name = "poisson"

    def _terms(self, y_pred, y_true):
        with np.errstate(invalid="ignore"):     # a negative prediction: NaN, which fit reports by name
            return y_pred - y_true * np.log(y_pred + backend.epsilon())

    def invalid_output(self, y_pred):
        if bool((y_pred < 0).any()):
            return ("poisson takes the log of the predictions, and some are negative: end the network "
                    "in a positive activation (softplus, or an exp of your own)")
        return None

    def _slopes(self, y_pred, y_true):
        return 1 - y_true / (y_pred + backend.epsilon())


class MeanSquaredLogarithmicError(_ElementwiseLoss):
    """Keras' ``msle``: ``mean((log(1 + p) - log(1 + t))^2)`` over all n * k values, with p and t the
    prediction and target raised to at least 1e-7 (Keras' clip); gradient
    ``2 (log(1 + p) - log(1 + t)) / (1 + p)`` over n k, 0 where the prediction was raised."""
    name = "msle"

    def _terms(self, y_pred, y_true):
        d = np.log1p(np.maximum(y_pred, backend.epsilon())) - np.log1p(np.maximum(y_true, backend.epsilon()))
        return d * d

    def _slopes(self, y_pred, y_true):
        p = np.maximum(y_pred, backend.epsilon())
        g = 2 * (np.log1p(p) - np.log1p(np.maximum(y_true, backend.epsilon()))) / (1 + p)
        return np.where(y_pred >= backend.epsilon(), g, 0)


def _hinge_labels(y_true, dtype):
    """Keras' rule: targets of 0 and 1 only become -1 and 1; -1 and 1 stay as they are. In the
    predictions' dtype (integer or bool targets would make an integer gradient)."""
    y_true = y_true.astype(dtype, copy=False)
    if y_true.size and bool(((y_true == 0) | (y_true == 1)).all()):
        return 2 * y_true - 1
    return y_true


class Hinge(_ElementwiseLoss):
    """Keras' ``hinge``: ``mean(max(1 - y p, 0))`` over all n * k values, targets y of -1 and 1 (0 and
    1 are taken as -1 and 1, as in Keras); gradient ``-y`` where ``y p < 1``, else 0, over n k."""
    name = "hinge"

    def _terms(self, y_pred, y_true):
        return np.maximum(1 - _hinge_labels(y_true, y_pred.dtype) * y_pred, 0)

    def _slopes(self, y_pred, y_true):
        y = _hinge_labels(y_true, y_pred.dtype)
        return np.where(y * y_pred < 1, -y, 0)


class SquaredHinge(_ElementwiseLoss):
    """Keras' ``squared_hinge``: ``mean(max(1 - y p, 0)^2)`` over all n * k values, targets as for
    ``hinge``; gradient ``-2 y max(1 - y p, 0)`` over n k."""
    name = "squared_hinge"

    def _terms(self, y_pred, y_true):
        margin = np.maximum(1 - _hinge_labels(y_true, y_pred.dtype) * y_pred, 0)
        return margin * margin

    def _slopes(self, y_pred, y_true):
        y = _hinge_labels(y_true, y_pred.dtype)
        return -2 * y * np.maximum(1 - y * y_pred, 0)


class MeanAbsolutePercentageError(_ElementwiseLoss):
    """Keras' ``mape``: ``100 mean(|y_pred - y_true| / max(|y_true|, 1e-7))`` over all n * k values;
    gradient ``100 sign(y_pred - y_true) / max(|y_true|, 1e-7)`` over n k (0 where they are equal)."""
    name = "mape"

    def _terms(self, y_pred, y_true):
        return 100 * np.abs(y_pred - y_true) / np.maximum(np.abs(y_true), backend.epsilon())

    def _slopes(self, y_pred, y_true):
        return 100 * np.sign(y_pred - y_true) / np.maximum(np.abs(y_true), backend.epsilon())


class KLDivergence(_ElementwiseLoss):
    """Keras' ``kl_divergence``: ``sum(t log(t / p))`` over each sample's k outputs, the mean over the
    samples, with t and p clipped to [1e-7, 1] (Keras' clip); gradient ``-t / p`` over n, 0 where
    the prediction was clipped. For distributions, e.g. a softmax against soft targets."""
    name = "kl_divergence"
    sum_over_outputs = True

    def _terms(self, y_pred, y_true):
        t, p = np.clip(y_true, backend.epsilon(), 1), np.clip(y_pred, backend.epsilon(), 1)
        return t * np.log(t / p)

    def _slopes(self, y_pred, y_true):
        t, p = np.clip(y_true, backend.epsilon(), 1), np.clip(y_pred, backend.epsilon(), 1)
        return _zero_where_clipped(-t / p, y_pred, upper=1)
