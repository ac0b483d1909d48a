"""R2Score: the coefficient of determination over every sample seen (Keras' ``R2Score``)."""
import numpy as np

from .. import backend
from .._statistics import merge_moments
from .._validation import check_choice, check_non_negative_int
from ..losses.base import aligned_targets
from .base import Metric, value_weights
from .result_value import metric_result


class R2Score(Metric):
    """``1 - SS_res / SS_tot`` per output over every batch seen, then averaged: the share of the
    targets' variance the model explains (1 is perfect, 0 is no better than predicting the mean,
    below 0 is worse), scikit-learn's ``r2_score`` and Keras' ``R2Score``.

    class_aggregation : "uniform_average" (the mean of the outputs' scores) or
        "variance_weighted_average" (weighted by each output's SS_tot). Keras' ``None`` (one score
        per output) is not offered: a log holds one number.
    num_regressors : int
        > 0 gives the adjusted R2, ``1 - (1 - R2) (n - 1) / (n - p - 1)``, with n counted as Keras
        counts it (every target value, n samples times k outputs); the plain R2 when n - 1 <= p.

    An output whose targets never vary (the same value in every sample) scores 1 when the model
    hits them exactly and 0 when it misses them, and weighs nothing in the variance-weighted
    average (scikit-learn's ``force_finite`` rule; Keras gives NaN for the first, and lets one such
    output turn the whole average to NaN). Predictions that are infinite score -inf, never 0. The
    sums are merged batch by batch with Chan's update of the mean and the squared deviations (not
    Keras' raw sums of squares, which lose digits to cancellation for targets far from 0), in
    float64. An image-shaped output (n, H, W, k) counts each pixel as a sample of its channel
    (Keras refuses such outputs); 1-D arrays are one output.

    >>> m = R2Score()
    >>> m.update_state(np.array([[1.0], [2.0]]), np.array([[1.0], [2.5]]))
    >>> m.update_state(np.array([[3.0], [4.0]]), np.array([[3.0], [3.5]]))
    >>> m.result()                  # 1 - 0.5 / 5
    0.9
    """
    default_name = "r2_score"
    direction = "up"
    AGGREGATIONS = ("uniform_average", "variance_weighted_average")

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name=None, dtype=None):     # Keras' order
        check_choice(class_aggregation, "R2Score: class_aggregation", self.AGGREGATIONS,
                     expected=f"one of {list(self.AGGREGATIONS)} (Keras' None, a score per output, does not fit "
                              f"in a log's one number)")
        self.class_aggregation = class_aggregation
        self.num_regressors = check_non_negative_int(num_regressors, "R2Score: num_regressors")
        super().__init__(name, dtype)

    def reset_state(self):
        self.count, self.values = 0, 0
        self.mean = self.deviations = self.residuals = self.low = self.high = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        # on the CPU in float64 (lists and CuPy arrays too): a handful of sums per batch
        y_pred = np.asarray(backend.to_numpy(y_pred), dtype=np.float64)
        if y_pred.ndim == 1:                       # one output: (n,) as (n, 1)
            y_pred = y_pred[:, None]
        y_true = np.asarray(aligned_targets(y_pred, backend.to_numpy(y_true), "R2Score"), dtype=np.float64)
        # one weight per sample (Keras'), each of a sample's rows weighed alike
        weights = value_weights(None if sample_weight is None else backend.to_numpy(sample_weight),
                                y_true.shape[:1], "R2Score")
        rows = y_true.size // y_true.shape[-1] // max(y_true.shape[0], 1)
        y_true, y_pred = y_true.reshape(-1, y_true.shape[-1]), y_pred.reshape(-1, y_pred.shape[-1])
        if self.count and y_true.shape[1] != self.mean.shape[0]:
            raise ValueError(f"R2Score: this batch has {y_true.shape[1]} outputs, the earlier ones "
                             f"{self.mean.shape[0]}")
        values = y_true.size            # Keras' count for the adjusted score: every value given
        if not y_true.shape[0]:         # an empty batch: nothing to count (its means would warn, 0 / 0)
            return
        if weights is None:
            n = y_true.shape[0]
            mean = y_true.mean(axis=0)
            deviations = ((y_true - mean) ** 2).sum(axis=0)
            with np.errstate(over="ignore", invalid="ignore"):     # a diverged output: inf, scored -inf
                residuals = ((y_true - y_pred) ** 2).sum(axis=0)
        else:       # a row of weight 0 is not there, nor in the range of targets
            w = np.repeat(weights, rows)
            y_true, y_pred, w = y_true[w > 0], y_pred[w > 0], w[w > 0, None]
            n = float(w.sum())
            mean = (w * y_true).sum(axis=0) / n if n else None
            deviations = (w * (y_true - mean) ** 2).sum(axis=0) if n else None
            with np.errstate(over="ignore", invalid="ignore"):
                residuals = (w * (y_true - y_pred) ** 2).sum(axis=0)
        if not n:               # no sample, or weights of 0 alone: nothing to count but the values
            self.values += values           # (Keras' count for the adjusted score takes them all)
            return
        low, high = y_true.min(axis=0), y_true.max(axis=0)
        if self.count == 0:
            self.mean, self.deviations, self.residuals, self.low, self.high = mean, deviations, residuals, low, high
        else:
            self.low, self.high = np.minimum(self.low, low), np.maximum(self.high, high)
            self.mean, self.deviations = merge_moments(self.count, self.mean, self.deviations, n, mean, deviations)
            self.residuals = self.residuals + residuals
        self.count += n
        self.values += values

    def result(self):
        if not self.count:
            return metric_result(0.0)
        # constant targets are told by their range, exactly (their deviations are rounding noise)
        constant = self.low == self.high
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = 1 - self.residuals / self.deviations
        scores = np.where(constant, np.where(self.residuals == 0, 1.0, 0.0), scores)
        weights = np.where(constant, 0.0, self.deviations)
        if self.class_aggregation == "uniform_average" or not weights.any():
            r2 = float(scores.mean())           # all constant: no variance to weigh by
        else:
            r2 = float((weights * scores).sum() / weights.sum())
        n, p = self.values, self.num_regressors
        if p and n - 1 > p:
            r2 = 1 - (1 - r2) * (n - 1) / (n - p - 1)
        return metric_result(r2)

    def get_config(self):
        return {"class_aggregation": self.class_aggregation, "num_regressors": self.num_regressors,
                "name": self.name}
