"""Keras 3's correlation metrics: ``PearsonCorrelation`` and ``ConcordanceCorrelation``.

Like Keras', each correlates a sample's targets with its outputs over the output units (``axis=-1``),
one coefficient per sample, and averages those over the samples seen (with ``sample_weight``, their
weighted mean). A model with one output unit therefore gets NaN for Pearson's coefficient (the
standard deviation of one value is 0) and a near-zero concordance, as in Keras: these metrics are
for outputs of several values per sample (a spectrum, a row of ratings). ``axis=0`` correlates each
unit over the batch instead, and averages those coefficients over the batches.
"""
import numpy as np

from .. import backend
from ..losses.base import same_rank
from .base import check_dtype
from .means import MeanMetricWrapper



def _same_rank(y_true, y_pred, caller):
    """(y_true, y_pred) as arrays of y_pred's dtype and one shape, Keras' rule where their ranks
    differ by one and the longer has a last axis of 1 (squeeze_or_expand_to_same_rank): a vector
    (n,) gets that axis, anything else loses it from the other, so (n, T) targets meet (n, T, 1)
    outputs as (n, T), one coefficient per sequence."""
    xp = backend.get_array_module(y_pred)
    y_pred = xp.asarray(y_pred)
    if y_pred.dtype.kind != "f":
        y_pred = y_pred.astype(np.float32)
    y_true = xp.asarray(y_true, dtype=y_pred.dtype)
    y_true, y_pred = same_rank(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{caller}: expected targets of the outputs' shape {tuple(y_pred.shape)}, got "
                         f"shape {tuple(y_true.shape)}")
    return xp, y_true, y_pred


def pearson_correlation(y_true, y_pred, axis=-1):
    """Pearson's coefficient of ``y_true`` and ``y_pred`` along ``axis``, one per the other axes:
    ``mean(((t - mean t) / std t) * ((p - mean p) / std p))`` with the population standard
    deviations (Keras' ``keras.metrics.pearson_correlation``). NaN where either is constant.
    Shapes: y_true and y_pred (n, k) (or ranks one apart, met as ``_same_rank`` says) -> (n,) for
    ``axis=-1``, (k,) for ``axis=0``.

    >>> pearson_correlation(np.array([[0, 1, 0.5], [1, 1, 0.2]]), np.array([[0.1, 0.9, 0.5], [1, 0.9, 0.2]]))
    array([1.        , 0.99339927])
    """
    xp, y_true, y_pred = _same_rank(y_true, y_pred, "pearson_correlation")
    with np.errstate(invalid="ignore", divide="ignore"):     # a constant row: 0 / 0, NaN as in Keras
        t = y_true - y_true.mean(axis=axis, keepdims=True)
        p = y_pred - y_pred.mean(axis=axis, keepdims=True)
        t = t / t.std(axis=axis, keepdims=True)
        p = p / p.std(axis=axis, keepdims=True)
        return (t * p).mean(axis=axis)


def concordance_correlation(y_true, y_pred, axis=-1):
    """Lin's concordance coefficient of ``y_true`` and ``y_pred`` along ``axis``:
    ``2 cov(t, p) / (var t + var p + (mean t - mean p)^2 + 1e-7)``, population (co)variances, one
    per the other axes (Keras' ``keras.metrics.concordance_correlation``: its covariance centres
    the targets on the outputs' mean, which gives the same value, the outputs' deviations summing to
    0). 1 only where the outputs equal the targets; a correlation with a shift or a scale is less.
    Shapes as ``pearson_correlation``'s: (n, k) -> (n,) for ``axis=-1``.

    >>> concordance_correlation(np.array([[0, 1, 0.5], [1, 1, 0.2]]), np.array([[0.1, 0.9, 0.5], [1, 0.9, 0.2]]))
    array([0.9756094 , 0.98765396])
    """
    xp, y_true, y_pred = _same_rank(y_true, y_pred, "concordance_correlation")
    t_mean, p_mean = y_true.mean(axis=axis, keepdims=True), y_pred.mean(axis=axis, keepdims=True)
    covariance = ((y_true - t_mean) * (y_pred - p_mean)).mean(axis=axis, keepdims=True)
    spread = (y_true.var(axis=axis, keepdims=True) + y_pred.var(axis=axis, keepdims=True)
              + (t_mean - p_mean) ** 2)
    return (2 * covariance / (spread + backend.epsilon())).squeeze(axis=axis)


class _Correlation(MeanMetricWrapper):
    """The mean over the samples of a coefficient per sample, Keras' ``MeanMetricWrapper`` classes
    for the correlations: an ``axis`` of their own, a name, and a model file can name them."""
    direction = "up"
    function = None

    def __init__(self, name=None, dtype=None, axis=-1):        # Keras' order
        check_dtype(dtype, type(self).__name__)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"{type(self).__name__}: axis must be an integer, got {axis!r:.60}")
        self.axis = int(axis)
        # "is None", not "or": a falsy name (0, "", []) is checked and refused, not replaced
        super().__init__(type(self).function, name=self.default_name if name is None else name, axis=self.axis)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = backend.get_array_module(y_pred).asarray(y_pred)
        if not -y_pred.ndim <= self.axis < y_pred.ndim:
            raise ValueError(f"{self.name}: axis {self.axis} is out of range for outputs of shape "
                             f"{tuple(y_pred.shape)}")
        if sample_weight is not None and self.axis % y_pred.ndim == 0:
            raise ValueError(f"{self.name}: with axis=0 each coefficient is over the batch's samples, so "
                             f"there is nothing per sample for sample_weight to weigh; give no weights")
        super().update_state(y_true, y_pred, sample_weight)

    def get_config(self):
        return {"name": self.name, "axis": self.axis}


class PearsonCorrelation(_Correlation):
    """The mean of ``pearson_correlation`` over every sample seen (Keras 3's class).

    >>> m = PearsonCorrelation()
    >>> round(m(np.array([[0, 1, 0.5], [1, 1, 0.2]]), np.array([[0.1, 0.9, 0.5], [1, 0.9, 0.2]])), 6)
    0.9967
    """
    default_name = "pearson_correlation"
    function = staticmethod(pearson_correlation)


class ConcordanceCorrelation(_Correlation):
    """The mean of ``concordance_correlation`` over every sample seen (Keras 3's class)."""
    default_name = "concordance_correlation"
    function = staticmethod(concordance_correlation)
