"""Intersection over union, the score of semantic segmentation: Keras' ``IoU``, ``MeanIoU``,
``BinaryIoU``, ``OneHotIoU`` and ``OneHotMeanIoU``, counted over all the batches of an epoch (see
``Metric``), with Keras' rules.

Every value of the targets is one labelled item (a sample, or a pixel of a mask) and its class;
every value of the predictions the class predicted for it. The metrics count a confusion matrix
over all batches, ``cm[true, predicted]``, and score a class c by

    IoU(c) = cm[c, c] / (cm[c, :].sum() + cm[:, c].sum() - cm[c, c])
           = true positives / (true positives + false positives + false negatives),

the overlap of the items labelled c and the items predicted c, over their union. A metric reports
the mean of its target classes' IoUs, leaving out the classes that appear neither in the targets nor
in the predictions (their IoU is 0 / 0); with none left it is 0, as Keras' ``divide_no_nan`` makes it.

Shapes. With ``sparse_y_true=True`` (the default) the targets are class ids, of any shape: (n,),
(n, 1), masks (n, H, W) or (n, H, W, 1); with ``sparse_y_true=False`` they hold one score per class
on ``axis`` (one-hot (n, k), (n, H, W, k)) and their argmax over it is the class. The same for the
predictions with ``sparse_y_pred``: beware that the default, True, reads the predictions as class
ids, so a softmax output needs ``sparse_y_pred=False`` (Keras' default too). After that the targets'
and the predictions' classes must have the same shape, up to a last axis of size 1 on one side.
``sample_weight``: one weight per sample (n,), per value (the classes' shape), or one number; a
weight of 0 leaves a value out.

Differences from Keras, all on inputs that Keras turns into a plausible wrong number: a class id
outside [0, num_classes) (other than ``ignore_class``) raises a ValueError, where Keras drops it
silently; so do fractional class ids (Keras truncates 0.7 to class 0, so that probabilities read
as class ids score as all 0s). Weights are counted as floats: Keras' confusion matrix is an integer
one unless given ``dtype="float32"``, and truncates weights such as 0.3 to 0 with a warning.
The IoUs are exact ratios (Keras adds 1e-7 to each denominator, so a perfect score is 0.9999999).
A config (a model file's compile settings, ``{"class_name", "config"}``) may give at most 10000
classes (``metrics.MAX_CONFIG_CLASSES``): the confusion matrix is made at once, num_classes squared.
"""
import numpy as np

from .. import backend
from .._validation import check_flag, check_number, check_positive_int
from .base import Metric, value_weights
from .result_value import metric_result


class IoU(Metric):
    """The mean IoU of the classes ``target_class_ids`` (the IoU of that class for a list of one),
    Keras' ``IoU``; see the module's docstring for the formula and the shapes.

    num_classes : int
        The number of classes: class ids lie in [0, num_classes).
    target_class_ids : list or tuple of class ids
        The classes whose IoUs are averaged.
    ignore_class : int or None
        Targets of this class are left out (a "void" class of segmentation masks, often 255 or -1:
        it may lie outside [0, num_classes)). Predictions of it still count, as in Keras.
    sparse_y_true, sparse_y_pred : bool
        True (the default): class ids; False: one score per class on ``axis``, whose argmax is the
        class.
    axis : int
        The class axis of the arrays that are not sparse (default -1, the last).

    >>> m = IoU(num_classes=2, target_class_ids=[0])
    >>> m.update_state(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]))
    >>> m.result()         # class 0: 1 right, 1 false negative, 1 false positive
    0.3333333333333333
    """
    default_name = "io_u"        # Keras names metrics by their class in snake case: IoU -> io_u
    direction = "up"

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):       # Keras' order
        caller = type(self).__name__
        self.num_classes = check_positive_int(num_classes, f"{caller}: num_classes")
        self.target_class_ids = _class_ids(target_class_ids, self.num_classes, caller)
        if ignore_class is not None and not _is_int(ignore_class):
            raise ValueError(f"{caller}: ignore_class: expected an integer class id or None, got {ignore_class!r:.80}")
        self.ignore_class = None if ignore_class is None else int(ignore_class)
        self.sparse_y_true = check_flag(sparse_y_true, f"{caller}: sparse_y_true")
        self.sparse_y_pred = check_flag(sparse_y_pred, f"{caller}: sparse_y_pred")
        if not _is_int(axis):
            raise ValueError(f"{caller}: axis: expected an integer, got {axis!r:.80}")
        self.axis = int(axis)
        super().__init__(name, dtype)

    def reset_state(self):
        # rows: the targets' classes, columns: the predicted ones (Keras' total_cm); float64, so
        # that fractional weights add up as they are
        self.total_cm = np.zeros((self.num_classes, self.num_classes))

    def update_state(self, y_true, y_pred, sample_weight=None):
        caller = type(self).__name__
        xp = backend.get_array_module(y_pred)
        y_true, y_pred = xp.asarray(y_true), xp.asarray(y_pred)
        for what, array in (("targets", y_true), ("predictions", y_pred)):
            if array.dtype.kind not in "biuf":
                raise TypeError(f"{caller}: {what}: expected numbers, got an array of dtype {array.dtype}")
        true = self._classes(y_true, self.sparse_y_true, "targets")
        pred = self._predicted_classes(y_pred)
        true, pred = _same_shape(true, pred, caller)
        weights = value_weights(sample_weight, true.shape, caller, xp)
        true, pred = true.reshape(-1), pred.reshape(-1)
        # the values that count: not the ignored class, not weighed 0. Only they must be valid
        # class ids, so that a void label of 255 (given as ignore_class) or padding weighed 0 passes
        keep = xp.ones(true.shape, dtype=bool) if self.ignore_class is None else true != self.ignore_class
        if weights is not None:
            weights = weights.reshape(-1)
            keep &= weights > 0
            weights = weights[keep]
        true, pred = true[keep], pred[keep]
        for what, labels in (("targets", true), ("predictions", pred)):
            _check_range(labels, self.num_classes, f"{caller}: {what}", self._range_hint(what))
        # cell (t, p) of the flattened matrix is t * num_classes + p: one bincount fills them all
        k = self.num_classes
        counts = xp.bincount(true * k + pred, weights=weights, minlength=k * k)
        self.total_cm += backend.to_numpy(counts).reshape(k, k)

    def _predicted_classes(self, y_pred):
        return self._classes(y_pred, self.sparse_y_pred, "predictions")

    def _classes(self, array, sparse, what):
        """``array``'s class ids as int64: itself when ``sparse``, else its argmax over ``axis``."""
        caller = type(self).__name__
        xp = backend.get_array_module(array)
        if sparse:
            if array.ndim == 0:
                raise ValueError(f"{caller}: {what}: expected an array of class ids with a batch axis, got a scalar")
            return _whole_numbers(array, f"{caller}: {what}", self._range_hint(what))
        if array.ndim < 2 or not -array.ndim <= self.axis < array.ndim:
            raise ValueError(f"{caller}: {what}: with sparse_{'y_true' if what == 'targets' else 'y_pred'}=False, "
                             f"expected an array of (n, ..., classes) with axis={self.axis} holding one score "
                             f"per class, got shape {tuple(array.shape)}")
        return xp.argmax(array, axis=self.axis).astype(np.int64)

    def _range_hint(self, what):
        """What to try when ``what`` (targets or predictions) holds no valid class ids."""
        if what == "predictions" and self.sparse_y_pred:
            return ("; these are read as class ids (sparse_y_pred=True): for one score per class, such as "
                    "a softmax output, pass sparse_y_pred=False; for one sigmoid output use BinaryIoU")
        if what == "targets" and self.sparse_y_true:
            return "; these are read as class ids (sparse_y_true=True): for one-hot targets pass sparse_y_true=False"
        return ""

    def result(self):
        cm = self.total_cm
        true_positives = np.diag(cm)
        # a row's sum is the items of that class, a column's the items predicted as it: their sum
        # counts the true positives twice
        unions = cm.sum(axis=1) + cm.sum(axis=0) - true_positives
        ids = self.target_class_ids
        true_positives, unions = true_positives[ids], unions[ids]
        present = unions > 0            # a class never seen nor predicted has no IoU to average
        if not present.any():
            return metric_result(0.0)
        return metric_result(float((true_positives[present] / unions[present]).sum() / present.sum()))

    def get_config(self):
        return {"num_classes": self.num_classes, "target_class_ids": list(self.target_class_ids),
                "name": self.name, "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class MeanIoU(IoU):
    """The mean IoU over all ``num_classes`` classes (those seen in the targets or predictions),
    Keras' ``MeanIoU``; arguments as ``IoU``'s. The predictions are class ids unless
    ``sparse_y_pred=False``: a softmax output (n, k) needs ``MeanIoU(k, sparse_y_pred=False)``.

    >>> m = MeanIoU(num_classes=2)
    >>> m.update_state(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]))
    >>> m.result()         # both classes: 1 / 3
    0.3333333333333333
    >>> m.reset_state()
    >>> m.update_state([0, 0, 1, 1], np.array([0, 1, 0, 1]), sample_weight=[0.3, 0.3, 0.3, 0.1])
    >>> round(m.result(), 6)        # (0.3 / 0.9 + 0.1 / 0.7) / 2
    0.238095
    """
    default_name = "mean_io_u"

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True, sparse_y_pred=True,
                 axis=-1):
        caller = type(self).__name__
        num_classes = check_positive_int(num_classes, f"{caller}: num_classes")
        super().__init__(num_classes, list(range(num_classes)), name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        config = super().get_config()
        del config["target_class_ids"]          # always every class
        return config


class BinaryIoU(IoU):
    """IoU of one sigmoid output: a prediction at or above ``threshold`` is class 1, below it class
    0 (Keras' ``BinaryIoU``); the targets are 0 or 1, in the predictions' shape ((n, 1) with (n, 1),
    or (n,)). Reports the mean IoU of ``target_class_ids``: [0, 1] (the default), [0] or [1].
    ``threshold`` may be any number: 0 for logits.

    >>> m = BinaryIoU(target_class_ids=[0, 1], threshold=0.3)
    >>> m.update_state(np.array([0, 1, 0, 1]), np.array([0.1, 0.2, 0.4, 0.7]))
    >>> m.result()         # class 0: 1 / 3, class 1: 1 / 3
    0.3333333333333333
    """
    default_name = "binary_io_u"

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):      # Keras' order
        self.threshold = check_number(threshold, f"{type(self).__name__}: threshold", "finite")
        super().__init__(2, target_class_ids, name=name, dtype=dtype)

    def _predicted_classes(self, y_pred):
        # at or above: Keras' y_pred >= threshold (a NaN output is class 0, as Keras counts it)
        return (y_pred >= self.threshold).astype(np.int64)

    def _range_hint(self, what):
        return "; BinaryIoU takes targets of 0 and 1" if what == "targets" else ""

    def get_config(self):
        return {"target_class_ids": list(self.target_class_ids), "threshold": self.threshold, "name": self.name}


class OneHotIoU(IoU):
    """``IoU`` for one-hot targets (n, ..., k): their argmax over ``axis`` is the class (Keras'
    ``OneHotIoU``). The predictions hold one score per class too, unless ``sparse_y_pred=True``
    (class ids). Other arguments as ``IoU``'s.

    >>> y_true = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]])
    >>> y_pred = np.array([[0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.3, 0.1], [0.1, 0.4, 0.5]])
    >>> m = OneHotIoU(num_classes=3, target_class_ids=[0, 2])
    >>> m.update_state(y_true, y_pred, sample_weight=[0.1, 0.2, 0.3, 0.4])
    >>> round(m.result(), 6)        # (0 / 0.9 + 0.1 / 0.7) / 2
    0.071429
    """
    default_name = "one_hot_io_u"

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_pred=False,
                 axis=-1):
        super().__init__(num_classes, target_class_ids, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]             # always False
        return config


class OneHotMeanIoU(MeanIoU):
    """``MeanIoU`` for one-hot targets (n, ..., k), as ``OneHotIoU`` reads them (Keras'
    ``OneHotMeanIoU``): the mean IoU over all ``num_classes`` classes.

    >>> y_true = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]])
    >>> y_pred = np.array([[0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.3, 0.1], [0.1, 0.4, 0.5]])
    >>> m = OneHotMeanIoU(num_classes=3)
    >>> m.update_state(y_true, y_pred, sample_weight=[0.1, 0.2, 0.3, 0.4])
    >>> round(m.result(), 6)        # (0 + 0 + 0.1 / 0.7) / 3
    0.047619
    """
    default_name = "one_hot_mean_io_u"

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]             # always False
        return config


def _is_int(value):
    """A Python or NumPy integer, not a bool (True given for a class id or an axis is a slip)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _class_ids(ids, num_classes, caller):
    """``target_class_ids`` as a list of ints in [0, num_classes). A repeated id counts its class
    twice in the mean, as in Keras."""
    if not isinstance(ids, (list, tuple, np.ndarray)) or np.ndim(ids) != 1:
        raise TypeError(f"{caller}: target_class_ids: expected a list or tuple of class ids (a list of one, "
                        f"[2], for one class), got {ids!r:.80}")
    if len(ids) == 0 or not all(_is_int(i) for i in ids):
        raise ValueError(f"{caller}: target_class_ids: expected one or more integer class ids, got {ids!r:.80}")
    bad = [int(i) for i in ids if not 0 <= i < num_classes]
    if bad:
        # Keras would read a negative id from the end (-1 as the last class)
        raise ValueError(f"{caller}: target_class_ids: expected class ids in [0, {num_classes}), got {bad}")
    return [int(i) for i in ids]


def _whole_numbers(array, caller, hint):
    """``array`` of class ids as int64; fractions, NaN and infinities are refused (Keras truncates
    0.7 to class 0: probabilities read as class ids would all be class 0)."""
    xp = backend.get_array_module(array)
    if array.dtype.kind == "f":
        whole = xp.isfinite(array) & (array == xp.round(array))
        if not bool(whole.all()):
            bad = float(array[~whole].reshape(-1)[0])
            raise ValueError(f"{caller}: expected whole-number class ids, got {bad!r}{hint}")
    return array.astype(np.int64)


def _check_range(labels, num_classes, caller, hint):
    """A ValueError naming ``caller`` when a class id lies outside [0, num_classes)."""
    if labels.size:
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= num_classes:
            raise ValueError(f"{caller}: expected class ids in [0, {num_classes}), got values from {low} to "
                             f"{high}{hint}")


def _same_shape(true, pred, caller):
    """The targets' and predictions' class ids in one shape: equal shapes, or one with a last axis
    of size 1 that the other lacks ((n, 1) targets for (n,) predictions, (n, H, W, 1) masks for
    (n, H, W)). Keras flattens both and only needs equal sizes, which would pair (n, 2) targets
    with (2, n) predictions value by value."""
    if true.shape == pred.shape:
        return true, pred
    if true.shape == (*pred.shape, 1):
        return true, pred.reshape(true.shape)
    if pred.shape == (*true.shape, 1):
        return true.reshape(pred.shape), pred
    raise ValueError(f"{caller}: expected targets and predictions of one shape (after the argmax of a "
                     f"sparse_y_true or sparse_y_pred=False), got class ids of shape {tuple(true.shape)} "
                     f"for the targets and {tuple(pred.shape)} for the predictions")
