"""One rate at the best threshold that keeps another rate at a required value: Keras'
``SensitivityAtSpecificity``, ``SpecificityAtSensitivity``, ``PrecisionAtRecall`` and
``RecallAtPrecision``.

Each counts true and false positives and negatives at ``num_thresholds`` thresholds over every batch
(0, 1/(T-1), ..., (T-2)/(T-1), 1; an output counts as positive above one), as ``AUC`` does. Its
result is the highest value of the one rate among the thresholds where the other rate reaches the
required value, or 0 when none does: "the best recall with precision at least 0.8" picks a
classifier's operating point. Rates with nothing to divide are 0 (Keras' ``divide_no_nan``).

Every output value is one prediction (a softmax of k units gives k per sample; ``class_id=i`` keeps
unit i only), and a target counts as positive when non-zero, as in ``glassnet.metrics.confusion``.
"""
import numpy as np

from .. import backend
from .._validation import check_non_negative_int, check_number, check_positive_int
from .base import Metric, value_weights
from .result_value import metric_result
from .confusion import MAX_THRESHOLDS, _prepared, _ratio, _total, threshold_counts


class _AtConstraint(Metric):
    """Shared by the four: ``value`` is the required rate, named after it by each class (Keras'
    ``specificity=``, ``recall=``, ...)."""

    direction = "up"
    constraint = None       # the keyword of the required rate, e.g. "specificity"

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):     # Keras' order
        caller = type(self).__name__
        self.value = check_number(value, f"{caller}: {self.constraint}", "[0, 1]")
        num_thresholds = check_positive_int(num_thresholds, f"{caller}: num_thresholds")
        # at most AUC's bound: each threshold keeps four counts
        if num_thresholds > MAX_THRESHOLDS:
            raise ValueError(f"{caller}: num_thresholds: expected an integer in [1, {MAX_THRESHOLDS}], "
                             f"got {num_thresholds}")
        self.num_thresholds = num_thresholds
        self.class_id = None if class_id is None else check_non_negative_int(class_id, f"{caller}: class_id")
        super().__init__(name, dtype)

    @property
    def thresholds(self):
        """The thresholds as Python floats, lowest first (Keras': one of 0.5 alone)."""
        t = self.num_thresholds
        return [0.5] if t == 1 else [0.0, *((i + 1) / (t - 1) for i in range(t - 2)), 1.0]

    def reset_state(self):
        t = self.num_thresholds
        self.true_positives, self.false_positives = np.zeros(t), np.zeros(t)
        self.false_negatives, self.true_negatives = np.zeros(t), np.zeros(t)

    def update_state(self, y_true, y_pred, sample_weight=None):
        caller = type(self).__name__
        positive, y_pred = _prepared(y_true, y_pred, caller)
        xp = backend.get_array_module(y_pred)
        weights = value_weights(sample_weight, y_pred.shape, caller, xp)
        if self.class_id is not None:
            if y_pred.ndim < 2 or self.class_id >= y_pred.shape[-1]:
                raise ValueError(f"{caller}: class_id={self.class_id} needs outputs of shape (n, units) with "
                                 f"more than {self.class_id} units, got outputs of shape {tuple(y_pred.shape)}")
            positive, y_pred = positive[..., self.class_id], y_pred[..., self.class_id]
            weights = None if weights is None else weights[..., self.class_id]
        if self.num_thresholds == 1:        # not evenly spread thresholds: count at 0.5 directly
            above = y_pred > 0.5
            counts = [np.array([_total(cells, weights, xp)]) for cells in
                      (above & positive, above & ~positive, ~above & positive, ~above & ~positive)]
        else:
            counts = threshold_counts(positive, y_pred, self.num_thresholds, weights, below_first=False)
        for total, count in zip((self.true_positives, self.false_positives, self.false_negatives,
                                 self.true_negatives), counts):
            total += count

    def rates(self):
        """``{"sensitivity", "specificity", "precision", "recall"}`` at each threshold, (T,) arrays
        (sensitivity and recall are one rate, tp / (tp + fn))."""
        tp, fp, fn, tn = self.true_positives, self.false_positives, self.false_negatives, self.true_negatives
        recall = _ratio(tp, tp + fn)
        return {"sensitivity": recall, "recall": recall, "specificity": _ratio(tn, tn + fp),
                "precision": _ratio(tp, tp + fp)}

    def result(self):
        rates = self.rates()
        # a rate equal to the value required, summed from fractional weights, can round below it
        # (one weight 0.31 for every sample: specificity 4 * 0.31 / (5 * 0.31) = 0.7999999999999999);
        # a slack of 1e-12, far above float64 sums' rounding and far below any weight's share,
        # keeps such a tie feasible, as it is unweighted
        feasible = rates[self.constraint] >= self.value - 1e-12
        return metric_result(float(np.max(rates[self.reported], where=feasible, initial=0.0)))

    def get_config(self):
        return {self.constraint: self.value, "num_thresholds": self.num_thresholds, "class_id": self.class_id,
                "name": self.name}


class SensitivityAtSpecificity(_AtConstraint):
    """The best sensitivity, tp / (tp + fn), among the thresholds where the specificity,
    tn / (tn + fp), is at least ``specificity``.

    >>> import numpy as np
    >>> m = SensitivityAtSpecificity(0.5, num_thresholds=3)
    >>> m(np.array([0, 0, 1, 1]), np.array([0.2, 0.7, 0.6, 0.9]))   # at 0.5: specificity 1/2, sensitivity 1
    1.0
    """
    default_name, constraint, reported = "sensitivity_at_specificity", "specificity", "sensitivity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)


class SpecificityAtSensitivity(_AtConstraint):
    """The best specificity among the thresholds where the sensitivity is at least ``sensitivity``.

    >>> import numpy as np
    >>> m = SpecificityAtSensitivity(1.0, num_thresholds=3)
    >>> m(np.array([0, 0, 1, 1]), np.array([0.2, 0.7, 0.6, 0.9]))
    0.5
    """
    default_name, constraint, reported = "specificity_at_sensitivity", "sensitivity", "specificity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)


class PrecisionAtRecall(_AtConstraint):
    """The best precision, tp / (tp + fp), among the thresholds where the recall is at least ``recall``.

    >>> import numpy as np
    >>> m = PrecisionAtRecall(0.5, num_thresholds=3)
    >>> m(np.array([0, 0, 1, 1]), np.array([0.2, 0.7, 0.6, 0.9]))   # at 1: nothing predicted
    0.6666666666666666
    """
    default_name, constraint, reported = "precision_at_recall", "recall", "precision"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)


class RecallAtPrecision(_AtConstraint):
    """The best recall among the thresholds where the precision is at least ``precision`` (0 when
    no threshold reaches it).

    >>> import numpy as np
    >>> m = RecallAtPrecision(0.6, num_thresholds=3)
    >>> m(np.array([0, 0, 1, 1]), np.array([0.2, 0.7, 0.6, 0.9]))
    1.0
    """
    default_name, constraint, reported = "recall_at_precision", "precision", "recall"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)
