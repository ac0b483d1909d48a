"""Precision, recall and the area under the ROC or precision-recall curve: Keras' metrics of those
names, counted over all the batches of an epoch (see ``Metric``), with Keras' rules.

Every output value is one prediction, as in Keras: a sigmoid output unit gives one per sample, a
softmax layer of k units k per sample (``class_id=i`` keeps unit i only). A target counts as positive
when it is non-zero, so targets are shaped like the outputs (one-hot for several classes).
Without samples to divide, a ratio is 0, as Keras' ``divide_no_nan`` makes it.
"""
import math
import numbers

import numpy as np

from .. import activations, backend
from .._validation import check_flag, check_non_negative_int, check_number, check_positive_int
from ..losses.base import aligned_targets
from .base import Metric, value_weights
from .result_value import metric_result


def _ratio(a, b):
    """``a / b`` element by element (floats), 0 where ``b`` is 0 (TensorFlow's divide_no_nan)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b != 0)


def _in_top_k(y_pred, k, caller):
    """Boolean mask of the ``k`` highest values on the last axis; of tied values the first ones,
    as TensorFlow's ``top_k`` picks them."""
    xp = backend.get_array_module(y_pred)
    if k > y_pred.shape[-1]:
        raise ValueError(f"{caller}: top_k={k} needs at least {k} output units, got outputs of shape "
                         f"{tuple(y_pred.shape)}")
    # a stable sort of the negated values keeps tied values in index order; sorting that order
    # gives each value its place in it
    order = xp.argsort(-y_pred, axis=-1, kind="stable")
    return xp.argsort(order, axis=-1, kind="stable") < k


def _prepared(y_true, y_pred, caller):
    """``(positive, y_pred)``: which targets are positive (non-zero, as Keras casts them to bool),
    shaped like the predictions, and the predictions as floats (bools and integers as float32, as
    float16 too, so that AUC's bucket arithmetic has room). Non-numeric arrays are refused: a
    string target would otherwise count as positive."""
    xp = backend.get_array_module(y_pred)
    y_pred, y_true = xp.asarray(y_pred), xp.asarray(y_true)
    for what, array in (("predictions", y_pred), ("targets", y_true)):
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{caller}: expected numeric {what}, got an array of dtype {array.dtype}")
    if y_pred.dtype.kind != "f" or y_pred.dtype.itemsize < 4:
        y_pred = y_pred.astype(np.float32)
    if y_pred.ndim == 1 and y_true.shape == (*y_pred.shape, 1):     # (n, 1) targets, (n,) outputs
        y_true = y_true[:, 0]
    return aligned_targets(y_pred, y_true, caller) != 0, y_pred


def _total(cells, weights, xp):
    """How many of the boolean ``cells`` are true (an int), or the sum of their ``weights`` (a float)."""
    if weights is None:
        return int(xp.count_nonzero(cells))
    return float(weights[cells].sum())


# Keras' "minus infinity" for top_k: the outputs outside the top k are set to it, and with top_k
# the default threshold is it, so that any output inside the top k counts as predicted positive
NEG_INF = -1e10


class _AtThreshold(Metric):
    """Counts of true positives, false positives and false negatives at one threshold."""

    direction = "up"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):     # Keras' order
        caller = type(self).__name__
        if isinstance(thresholds, (list, tuple)) and len(thresholds) == 1:
            thresholds = thresholds[0]      # Keras gives a number for a list of one
        if isinstance(thresholds, (list, tuple, np.ndarray)):
            # Keras then returns one value per threshold; a log holds one number per metric
            raise ValueError(f"{caller}: thresholds: expected one number in [0, 1], got {thresholds!r:.80}; "
                             f"for several thresholds compile one {caller} per threshold, each with a "
                             f"name of its own ({caller}(thresholds=0.3, name='{caller.lower()}_at_0.3'))")
        self.thresholds = None if thresholds is None else check_number(thresholds, f"{caller}: thresholds", "[0, 1]")
        self.top_k = check_positive_int(top_k, f"{caller}: top_k", allow_none=True)
        self.class_id = None if class_id is None else check_non_negative_int(class_id, f"{caller}: class_id")
        super().__init__(name, dtype)

    @property
    def threshold(self):
        """The value an output must exceed to count as a positive prediction: ``thresholds``, or
        Keras' default, 0.5 (with ``top_k``: -1e10, so that being in the top k decides)."""
        if self.thresholds is not None:
            return self.thresholds
        return NEG_INF if self.top_k is not None else 0.5

    def reset_state(self):
        self.true_positives = self.false_positives = self.false_negatives = self.true_negatives = 0

    def update_state(self, y_true, y_pred, sample_weight=None):
        caller = type(self).__name__
        actual, y_pred = _prepared(y_true, y_pred, caller)
        xp = backend.get_array_module(y_pred)
        weights = value_weights(sample_weight, y_pred.shape, caller, xp)
        predicted = y_pred > self.threshold
        if self.top_k is not None:          # over all units, before class_id picks one, as Keras
            predicted &= _in_top_k(y_pred, self.top_k, caller)
        if self.class_id is not None:
            if y_pred.ndim < 2:
                raise ValueError(f"{caller}: class_id needs outputs of shape (n, units), got shape "
                                 f"{tuple(y_pred.shape)}")
            if self.class_id >= y_pred.shape[-1]:
                raise ValueError(f"{caller}: class_id={self.class_id} needs more than {self.class_id} "
                                 f"output units, got outputs of shape {tuple(y_pred.shape)}")
            predicted, actual = predicted[..., self.class_id], actual[..., self.class_id]
            weights = None if weights is None else weights[..., self.class_id]
        tp, fp, fn, tn = (_total(cells, weights, xp) for cells in
                          (predicted & actual, predicted & ~actual, ~predicted & actual, ~predicted & ~actual))
        self.true_positives += tp
        self.false_positives += fp
        self.false_negatives += fn
        self.true_negatives += tn

    def get_config(self):
        return {"thresholds": self.thresholds, "top_k": self.top_k, "class_id": self.class_id,
                "name": self.name}


class Precision(_AtThreshold):
    """True positives over predicted positives, ``tp / (tp + fp)`` (Keras' ``Precision``).

    thresholds : an output above it is a positive prediction (default 0.5); one number.
    top_k : only the k highest outputs of a sample can be positive predictions.
    class_id : count output unit ``class_id`` only (precision of one class of a softmax output).

    >>> import numpy as np
    >>> Precision()(np.array([[1], [0], [1]]), np.array([[0.9], [0.8], [0.2]]))
    0.5
    """
    default_name = "precision"

    def result(self):
        return metric_result(float(_ratio(self.true_positives, self.true_positives + self.false_positives)))


class Recall(_AtThreshold):
    """True positives over actual positives, ``tp / (tp + fn)`` (Keras' ``Recall``); arguments as
    ``Precision``'s.

    >>> import numpy as np
    >>> Recall()(np.array([[1], [0], [1]]), np.array([[0.9], [0.8], [0.2]]))
    0.5
    """
    default_name = "recall"

    def result(self):
        return metric_result(float(_ratio(self.true_positives, self.true_positives + self.false_negatives)))


class _Count(_AtThreshold):
    """One cell of the confusion table at one threshold, counted over every batch: Keras'
    ``TruePositives``, ``FalsePositives``, ``TrueNegatives`` and ``FalseNegatives``. With
    ``sample_weight`` each value counts its weight (0 leaves it out), as Keras sums them."""

    cell = None             # which count result() gives

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(thresholds=thresholds, name=name, dtype=dtype)

    def result(self):
        return metric_result(float(getattr(self, self.cell)))

    def get_config(self):
        return {"thresholds": self.thresholds, "name": self.name}


class TruePositives(_Count):
    """Positive targets predicted positive (an output above ``thresholds``, 0.5 by default).

    >>> import numpy as np
    >>> TruePositives()(np.array([0, 1, 1, 1]), np.array([1.0, 0.0, 1.0, 1.0]))
    2.0
    """
    default_name, direction, cell = "true_positives", "up", "true_positives"


class FalsePositives(_Count):
    """Negative targets predicted positive (arguments as ``TruePositives``).

    >>> import numpy as np
    >>> FalsePositives()(np.array([0, 1, 0, 0]), np.array([0.0, 0.0, 1.0, 1.0]))
    2.0
    """
    default_name, direction, cell = "false_positives", "down", "false_positives"


class TrueNegatives(_Count):
    """Negative targets predicted negative (arguments as ``TruePositives``).

    >>> import numpy as np
    >>> TrueNegatives()(np.array([0, 1, 0, 0]), np.array([1.0, 1.0, 0.0, 0.0]))
    2.0
    """
    default_name, direction, cell = "true_negatives", "up", "true_negatives"


class FalseNegatives(_Count):
    """Positive targets predicted negative (arguments as ``TruePositives``).

    >>> import numpy as np
    >>> FalseNegatives()(np.array([0, 1, 1, 1]), np.array([0.0, 1.0, 0.0, 0.0]))
    2.0
    """
    default_name, direction, cell = "false_negatives", "down", "false_negatives"


MAX_THRESHOLDS = 10 ** 4
_CURVES = ("ROC", "PR", "PRGAIN")
_SUMMATIONS = ("interpolation", "minoring", "majoring")


class AUC(Metric):
    """Area under the ROC curve (``curve="ROC"``), the precision-recall curve (``"PR"``) or the
    precision-recall-gain curve (``"PRGAIN"``, Flach and Kull's: precision gain over recall gain,
    see ``_pr_gains``), approximated over ``num_thresholds`` thresholds, as Keras' ``AUC``
    computes it.

    The thresholds are -1e-7, 1/(T-1), 2/(T-1), ..., (T-2)/(T-1), 1 + 1e-7 (T = ``num_thresholds``);
    the counts at each are those of outputs strictly above it. ``thresholds``, a list of numbers,
    replaces the evenly spaced inner ones (``num_thresholds`` is then ignored and becomes
    ``len(thresholds) + 2``, as in Keras): they are sorted, and -1e-7 and 1 + 1e-7 are added at the
    ends. ``summation_method``: "interpolation" (trapezoids for ROC and PRGAIN; for PR, Davis and
    Goadrich's interpolation, as Keras), "minoring" or "majoring" (the lower or higher end of each
    interval).
    ``multi_label=True``: one area per output unit (outputs (n, k)), averaged, or weighted by
    ``label_weights`` (k non-negative numbers); ``num_labels`` fixes k in advance. Otherwise every
    output value is one prediction, and ``label_weights`` weighs the values of each unit (the last
    axis) in the counts. ``from_logits=True``: the outputs are logits (a sigmoid is applied first).

    >>> import numpy as np
    >>> round(AUC()(np.array([[0], [0], [1], [1]]), np.array([[0.1], [0.4], [0.35], [0.8]])), 4)
    0.75
    >>> AUC(thresholds=[0.5, 0.2]).thresholds
    [-1e-07, 0.2, 0.5, 1.0000001]
    """
    default_name = "auc"
    direction = "up"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        # Keras 3.15's order: a positional call gives each argument where Keras does
        if thresholds is None:
            num_thresholds = check_positive_int(num_thresholds, "AUC: num_thresholds")
            # at most 10,000 (Keras' default is 200): the counts take 32 bytes per threshold and output
            # unit with multi_label, and a model file naming 10**9 would otherwise take 32 GB (times
            # the units) at its first evaluate
            if not 2 <= num_thresholds <= MAX_THRESHOLDS:
                raise ValueError(f"AUC: num_thresholds: expected an integer in [2, {MAX_THRESHOLDS}], "
                                 f"got {num_thresholds}")
            self.num_thresholds = num_thresholds
            self._listed = None
            self._evenly_spaced = True
        else:
            # Keras ignores num_thresholds then, and its own configs give len(thresholds) + 2
            self._listed = _listed_thresholds(thresholds)
            self.num_thresholds = len(self._listed) + 2
            self._evenly_spaced = _evenly_spaced(self._listed)
        # Keras takes the names in any case ("roc", "PR", "prgain", "Interpolation")
        self.curve = _choice(curve, _CURVES, "curve", str.upper)
        self.summation_method = _choice(summation_method, _SUMMATIONS, "summation_method", str.lower)
        self.multi_label = check_flag(multi_label, "AUC: multi_label")
        self.from_logits = check_flag(from_logits, "AUC: from_logits")
        self.num_labels = check_positive_int(num_labels, "AUC: num_labels", allow_none=True)
        if self.num_labels is not None and not self.multi_label:
            raise ValueError(f"AUC: num_labels={self.num_labels} is needed only when multi_label is True "
                             f"(as Keras); without it every output value is one prediction")
        self.label_weights = None if label_weights is None else _label_weights(label_weights)
        if (self.label_weights is not None and self.num_labels is not None
                and len(self.label_weights) != self.num_labels):
            raise ValueError(f"AUC: label_weights: expected num_labels={self.num_labels} weights, got "
                             f"{len(self.label_weights)}")
        super().__init__(name, dtype)

    @property
    def thresholds(self):
        """The thresholds as Python floats: -1e-7, the inner ones (sorted), 1 + 1e-7."""
        if self._listed is not None:
            return [-1e-7, *self._listed, 1 + 1e-7]
        t = self.num_thresholds
        return [-1e-7, *((i + 1) / (t - 1) for i in range(t - 2)), 1 + 1e-7]

    def reset_state(self):
        # (T,) counts, or (T, units) with multi_label, made by the first batch
        self.true_positives = self.false_positives = self.true_negatives = self.false_negatives = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        positive, y_pred = _prepared(y_true, y_pred, "AUC")
        xp = backend.get_array_module(y_pred)
        weights = value_weights(sample_weight, y_pred.shape, "AUC", xp)
        if self.multi_label:
            if y_pred.ndim != 2:
                raise ValueError(f"AUC: multi_label=True needs outputs of shape (n, units), got shape "
                                 f"{tuple(y_pred.shape)}")
            units = y_pred.shape[1]
            if self.num_labels is not None and units != self.num_labels:
                raise ValueError(f"AUC: num_labels={self.num_labels} needs outputs of shape (n, {self.num_labels}), "
                                 f"got shape {tuple(y_pred.shape)}")
            if self.true_positives is not None and self.true_positives.shape[1] != units:
                raise ValueError(f"AUC: multi_label=True counted {self.true_positives.shape[1]} output "
                                 f"units so far, got outputs of shape {tuple(y_pred.shape)}")
        if self.label_weights is not None:
            if y_pred.ndim < 2 or y_pred.shape[-1] != len(self.label_weights):
                raise ValueError(f"AUC: label_weights: {len(self.label_weights)} weights need outputs of shape "
                                 f"(n, {len(self.label_weights)}), got shape {tuple(y_pred.shape)}")
            if not self.multi_label:
                # without multi_label, each value counts its unit's weight (times its sample's);
                # with it, the weights average the units' areas instead (result)
                unit_weights = xp.asarray(self.label_weights, dtype=np.float64)
                weights = xp.broadcast_to(unit_weights, y_pred.shape) if weights is None else weights * unit_weights
        p = activations.sigmoid(y_pred) if self.from_logits else y_pred
        if self._evenly_spaced:
            counts = threshold_counts(positive, p, self.num_thresholds, weights, per_unit=self.multi_label)
        else:
            counts = listed_threshold_counts(positive, p, self.thresholds, weights, per_unit=self.multi_label)
        if self.true_positives is None:
            self.true_positives, self.false_positives, self.false_negatives, self.true_negatives = counts
        else:
            for total, count in zip((self.true_positives, self.false_positives, self.false_negatives,
                                     self.true_negatives), counts):
                total += count

    def result(self):
        if self.true_positives is None:
            return metric_result(0.0)
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        if self.curve == "PR" and self.summation_method == "interpolation":
            areas = _interpolated_pr_areas(tp, fp, fn)
        else:
            if self.curve == "ROC":
                x, y = _ratio(fp, fp + tn), _ratio(tp, tp + fn)
            elif self.curve == "PR":
                x, y = _ratio(tp, tp + fn), _ratio(tp, tp + fp)
            else:
                x, y = _pr_gains(tp, fp, tn, fn)
            if self.summation_method == "interpolation":
                heights = (y[:-1] + y[1:]) / 2
            elif self.summation_method == "minoring":
                heights = np.minimum(y[:-1], y[1:])
            else:
                heights = np.maximum(y[:-1], y[1:])
            areas = ((x[:-1] - x[1:]) * heights).sum(axis=0)
        if not self.multi_label:
            return metric_result(float(areas))
        if self.label_weights is None:
            return metric_result(float(np.mean(areas)))
        # the units' areas weighted; 0 when every weight is 0 (Keras' divide_no_nan)
        weights = np.asarray(self.label_weights)
        return metric_result(float(_ratio((areas * weights).sum(), weights.sum())))

    def get_config(self):
        config = {"num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "name": self.name,
                  "multi_label": self.multi_label, "from_logits": self.from_logits}
        # the newer settings only when given, so that older configs and files stay as they were
        if self._listed is not None:
            config["thresholds"] = list(self._listed)       # sorted, without the two ends (Keras' form)
        if self.num_labels is not None:
            config["num_labels"] = self.num_labels
        if self.label_weights is not None:
            config["label_weights"] = list(self.label_weights)
        return config


def _listed_thresholds(thresholds):
    """``AUC(thresholds=...)`` as a sorted tuple of Python floats. Keras takes any list of numbers
    (a tuple, a 1-D array), unsorted, repeated or outside [0, 1], and sorts it; it fails on a lone
    number, strings or None. A NaN, which Keras takes but cannot sort, and bools are refused too."""
    if isinstance(thresholds, np.ndarray) and thresholds.ndim == 1:
        thresholds = thresholds.tolist()
    if not isinstance(thresholds, (list, tuple)):
        raise TypeError(f"AUC: thresholds: expected a list of numbers (-1e-7 and 1 + 1e-7 are added at the "
                        f"ends), got {thresholds!r:.80}; for evenly spaced ones give num_thresholds")
    values = []
    for value in thresholds:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"AUC: thresholds: expected a list of numbers, got {value!r:.80} in it")
        if math.isnan(value):
            raise ValueError(f"AUC: thresholds: expected numbers, got NaN in {thresholds!r:.80}")
        values.append(float(value))
    if len(values) + 2 > MAX_THRESHOLDS:
        raise ValueError(f"AUC: thresholds: expected at most {MAX_THRESHOLDS - 2} values, got {len(values)}")
    return tuple(sorted(values))


def _evenly_spaced(inner):
    """Keras' ``is_evenly_distributed_thresholds`` of 0, ``inner``, 1: then Keras counts by buckets,
    as for ``num_thresholds`` (``threshold_counts``), and otherwise compares every output with every
    threshold (``listed_threshold_counts``). The two differ on outputs outside [0, 1] (the buckets
    clip them), so the same rule, tolerance included, picks the same way."""
    points = np.array([0.0, *inner, 1.0])
    n = len(points)
    if n < 3:
        return False
    return bool(np.allclose(points, np.arange(n, dtype=np.float32) / (n - 1), atol=1e-7))


def _label_weights(label_weights):
    """``AUC(label_weights=...)`` as a tuple of Python floats: one finite, non-negative number per
    output unit (a list, a tuple or a 1-D array)."""
    array = np.asarray(label_weights) if isinstance(label_weights, (list, tuple, np.ndarray)) else None
    if array is None or array.ndim != 1 or array.size == 0 or array.dtype.kind not in "iuf":
        raise TypeError(f"AUC: label_weights: expected a list of numbers, one per output unit, got "
                        f"{label_weights!r:.80}")
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(f"AUC: label_weights: expected finite, non-negative numbers, got {label_weights!r:.80}")
    return tuple(float(w) for w in array)


def threshold_counts(positive, p, num_thresholds, weights=None, per_unit=False, below_first=True):
    """``(tp, fp, fn, tn)`` at each of the ``num_thresholds`` thresholds of ``AUC.thresholds``: float64
    arrays of shape (T,), or (T, units) with ``per_unit`` (outputs (n, units), one column per unit).

    positive : bool, targets shaped like ``p``; p : the outputs (probabilities); weights : None, or
    float weights of ``p``'s shape (``value_weights``), which each value counts instead of 1.
    Counted as Keras does, by buckets: an output in (i/(T-1), (i+1)/(T-1)] is above thresholds
    0..i; outputs are clipped to [0, 1] first, so bucket 0 holds 0 and everything below it. With
    ``below_first=False`` the first threshold is 0 itself (Keras' ``SensitivityAtSpecificity`` and
    its kin, not AUC's -1e-7): an output of 0 or less is above none.
    """
    xp = backend.get_array_module(p)
    t, units = num_thresholds, (p.shape[1] if per_unit else 1)
    bucket = xp.ceil(xp.clip(p, 0, 1) * p.dtype.type(t - 1)) - 1
    # a NaN output is above no threshold, not even the first (Keras drops it from the buckets
    # but counts it among the positives or negatives, as Precision never predicts it positive)
    counted = ~xp.isnan(bucket) if below_first else bucket >= 0
    bucket = xp.where(bucket > 0, bucket, 0).astype(np.intp)
    if per_unit:        # one row of T buckets per unit: unit u's in u*T .. u*T + T-1
        bucket = bucket + xp.arange(units) * t
    return _per_unit(_above(positive, bucket, counted, t, units, weights, xp), per_unit)


def listed_threshold_counts(positive, p, thresholds, weights=None, per_unit=False):
    """``(tp, fp, fn, tn)`` at each of ``thresholds`` (any numbers, in any order), as
    ``threshold_counts`` gives them: an output counts at a threshold when it is strictly above it,
    compared in the outputs' dtype (Keras compares in float32), without clipping; a NaN output is
    above none. Keras' way for thresholds that are not evenly spaced.

    Rather than compare all n outputs with all T thresholds (an (T, n) table, as Keras does), each
    output is put in the bucket of how many of the sorted thresholds lie below it (a binary search):
    O(n log T) time and O(n + T) memory.
    """
    xp = backend.get_array_module(p)
    t, units = len(thresholds), (p.shape[1] if per_unit else 1)
    values = np.asarray(thresholds, dtype=p.dtype)
    order = np.argsort(values, kind="stable")
    # an output above k of the sorted thresholds is above sorted thresholds 0 .. k-1: bucket k-1
    # (-1: above none, left out of the counts)
    bucket = xp.searchsorted(xp.asarray(values[order]), p, side="left") - 1
    counted = (bucket >= 0) & ~xp.isnan(p)
    bucket = xp.where(counted, bucket, 0)
    if per_unit:
        bucket = bucket + xp.arange(units) * t
    counts = _above(positive, bucket, counted, t, units, weights, xp)
    # back from sorted order to the thresholds' own: threshold i is the rank[i]-th smallest
    rank = np.argsort(order, kind="stable")
    return _per_unit(tuple(c[rank] for c in counts), per_unit)


def _above(positive, bucket, counted, t, units, weights, xp):
    """Weighted ``(tp, fp, fn, tn)`` at each of ``t`` thresholds (arrays of shape (t, units)), from
    each output's ``bucket`` (unit u's buckets are u*t .. u*t + t-1; bucket i: above thresholds
    0..i) where ``counted`` (the others are above none). The counts below a threshold are summed
    from the buckets below it, never taken as a total minus the counts above: with fractional
    weights that difference leaves rounding (fn 4e-16, tn -4e-15 where nothing is below), and a
    recall of 1 - 1e-16 fails ``PrecisionAtRecall(recall=1.0)``'s constraint."""
    ones = xp.ones(bucket.shape) if weights is None else weights

    def tally(selected):
        # (float64 always: NumPy's bincount of no values gives integers, weights or not)
        return (backend.to_numpy(xp.bincount(bucket[selected].reshape(-1), minlength=t * units,
                                             weights=ones[selected].reshape(-1)))
                .astype(np.float64).reshape(units, t).T)

    out = []
    for mask in (positive, ~positive):
        counts = tally(mask & counted)
        above = np.cumsum(counts[::-1], axis=0)[::-1]          # buckets i and higher
        # buckets under i, and the values above no threshold (NaN; 0 or less without below_first)
        below = np.concatenate([np.zeros((1, units)), np.cumsum(counts[:-1], axis=0)]) \
            + tally(mask & ~counted).sum(axis=0)
        out.append((above, below))
    (tp, fn), (fp, tn) = out
    return tp, fp, fn, tn


def _per_unit(counts, per_unit):
    """``(tp, fp, fn, tn)`` of shape (T, units), as (T,) each for one pooled unit."""
    return counts if per_unit else tuple(c[:, 0] for c in counts)


def _interpolated_pr_areas(tp, fp, fn):
    """The precision-recall curve's area by Davis and Goadrich's interpolation, as Keras'
    ``interpolate_pr_auc``: between two thresholds, true positives and predicted positives vary
    linearly, and precision's integral over recall has a closed form."""
    dtp = tp[:-1] - tp[1:]
    p = tp + fp
    dp = p[:-1] - p[1:]
    slope = _ratio(dtp, np.maximum(dp, 0))
    intercept = tp[1:] - slope * p[1:]
    both = (p[:-1] > 0) & (p[1:] > 0)
    p_ratio = np.where(both, _ratio(p[:-1], np.maximum(p[1:], 0)), 1.0)
    return _ratio(slope * (dtp + intercept * np.log(p_ratio)), np.maximum(tp[1:] + fn[1:], 0)).sum(axis=0)


def _pr_gains(tp, fp, tn, fn):
    """``(recall_gain, precision_gain)`` at each threshold (arrays shaped like the counts): Flach and
    Kull's precision-recall-gain curve, as Keras' ``AUC(curve="PRGAIN")`` computes it.

    With pi = P / (P + N) the share of positives, a gain rescales a ratio so that pi maps to 0 and 1
    stays 1: ``gain(r) = (r - pi) / ((1 - pi) r)``, which is ``1 - (P / N) * fn / tp`` for recall and
    ``1 - (P / N) * fp / tp`` for precision. Keras' fixes kept, for the cases the formula breaks:
    P / N is 0 when there are no negatives (divide_no_nan); with no true positives the recall gain is
    0 and the precision gain 1; a recall gain below 0 (recall under pi) is raised to 0.
    """
    scale = _ratio(tp + fn, tn + fp)                 # P / N, per unit with multi_label
    none_right = tp == 0
    recall_gain = np.where(none_right, 0.0, 1.0 - scale * _ratio(fn, tp))
    precision_gain = np.where(none_right, 1.0, 1.0 - scale * _ratio(fp, tp))
    return np.maximum(recall_gain, 0.0), precision_gain


def _choice(value, choices, argument, normalise):
    if isinstance(value, str) and normalise(value) in choices:
        return normalise(value)
    raise ValueError(f"AUC: {argument}: expected one of {list(choices)}, got {value!r:.80}")

