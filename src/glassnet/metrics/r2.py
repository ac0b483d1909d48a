"""R2Score: the coefficient of determination over every sample seen (Keras' ``R2Score``)."""
import numpy as np

from .. import backend
from .._validation import check_non_negative_int
from ..losses.base import aligned_targets
from .base import Metric


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

    An output whose targets never vary scores 0 when the model misses them (Keras' rule for the
    infinite ratio) and NaN when it hits them exactly (0 / 0). The sums are merged batch by batch
    with Chan's update of the mean and the squared deviations (not Keras' raw sums of squares,
    which lose digits to cancellation for targets far from 0), in float64.

    >>> m = R2Score()
    >>> m.update_state(np.array([[1.0], [2.0]]), np.array([[1.0], [2.5]]))
    >>> m.update_state(np.array([[3.0], [4.0]]), np.array([[3.0], [3.5]]))
    >>> m.result()                  # 1 - 0.5 / 5
    0.9
    """
    default_name = "r2_score"
    direction = "up"
    AGGREGATIONS = ("uniform_average", "variance_weighted_average")

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name=None):
        if class_aggregation not in self.AGGREGATIONS:
            raise ValueError(f"R2Score: class_aggregation must be one of {list(self.AGGREGATIONS)} (Keras' None, "
                             f"a score per output, does not fit in a log's one number), got "
                             f"{class_aggregation!r:.60}")
        self.class_aggregation = class_aggregation
        self.num_regressors = check_non_negative_int(num_regressors, "R2Score: num_regressors")
        super().__init__(name)

    def reset_state(self):
        self.count, self.values, self.mean, self.deviations, self.residuals = 0, 0, None, None, None

    def update_state(self, y_true, y_pred):
        y_pred = np.asarray(backend.to_numpy(backend.get_array_module(y_pred).asarray(y_pred)), dtype=np.float64)
        y_true = np.asarray(backend.to_numpy(aligned_targets(y_pred, y_true, "R2Score")), dtype=np.float64)
        y_true, y_pred = y_true.reshape(-1, y_true.shape[-1]), y_pred.reshape(-1, y_pred.shape[-1])
        n = y_true.shape[0]
        if n == 0:
            return
        mean = y_true.mean(axis=0)
        deviations = ((y_true - mean) ** 2).sum(axis=0)
        residuals = ((y_true - y_pred) ** 2).sum(axis=0)
        if self.count == 0:
            self.mean, self.deviations, self.residuals = mean, deviations, residuals
        else:
            if mean.shape != self.mean.shape:
                raise ValueError(f"R2Score: this batch has {mean.shape[0]} outputs, the earlier ones "
                                 f"{self.mean.shape[0]}")
            # Chan et al.'s merge of two groups' means and sums of squared deviations
            total = self.count + n
            delta = mean - self.mean
            self.deviations = self.deviations + deviations + delta ** 2 * (self.count * n / total)
            self.mean = self.mean + delta * (n / total)
            self.residuals = self.residuals + residuals
        self.count += n
        self.values += y_true.size

    def result(self):
        if not self.count:
            return 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = 1 - self.residuals / self.deviations
        scores = np.where(np.isinf(scores), 0.0, scores)
        if self.class_aggregation == "uniform_average":
            r2 = float(scores.mean())
        else:
            r2 = float((self.deviations * scores).sum() / self.deviations.sum())
        n, p = self.values, self.num_regressors
        if p and n - 1 > p:
            r2 = 1 - (1 - r2) * (n - 1) / (n - p - 1)
        return r2

    def get_config(self):
        return {"class_aggregation": self.class_aggregation, "num_regressors": self.num_regressors,
                "name": self.name}
