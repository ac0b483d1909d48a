"""The metric functions, ``f(y_true, y_pred) -> float`` in Keras' and scikit-learn's order, computed
on the targets the loss prepared; a batch's value each, averaged over an epoch by batch size.

``accuracy`` picks its meaning from the output, as Keras does: one output unit means binary
(threshold 0.5); several units mean categorical (argmax), with targets one-hot or integer labels.
``mae`` and ``mse`` are the regression metrics.
"""
import numpy as np

from .. import backend, losses
from .._rows import row_argmax
from .._validation import check_class_labels, check_positive_int


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Fraction of outputs on the right side of ``threshold``; y_true, y_pred of shape (n, ..., k)
    ((n,) targets for one output unit are taken as (n, 1); other shapes are refused). The targets'
    class is theirs at 0.5, whatever ``threshold`` the outputs are cut at: soft targets count as
    their nearer class (0.7 as class 1), where Keras compares them with the predicted 0/1."""
    # count_nonzero / size is the mean of a boolean array without np.mean's Python-level overhead,
    # which matters because fit computes metrics on every batch
    return np.count_nonzero(binary_hits(y_true, y_pred, threshold)) / y_pred.size


def binary_hits(y_true, y_pred, threshold=0.5):
    """``binary_accuracy``'s right (True) or wrong output by output: bool, y_pred's shape."""
    y_true = losses.aligned_targets(y_pred, y_true, "binary_accuracy")
    return (y_pred > threshold) == (y_true > 0.5)


def categorical_accuracy(y_true, y_pred, caller="categorical_accuracy"):
    """Fraction of positions whose argmax over the last axis matches.

    y_pred : (n, ..., k) class scores, e.g. (n, k) or an image's (n, H, W, k);
    y_true : one-hot targets of the same shape, or integer labels of shape (n, ...) or, as Keras
    takes them, (n, ..., 1). A position whose scores hold a NaN is a miss (as for
    ``top_k_categorical_accuracy``): it predicts no class.
    """
    hits = categorical_hits(y_true, y_pred, caller)
    return np.count_nonzero(hits) / hits.size


def categorical_hits(y_true, y_pred, caller="categorical_accuracy"):
    """``categorical_accuracy``'s right or wrong position by position: bool, shape (n, ...)."""
    predicted = row_argmax(y_pred)
    hits = predicted == _labels(y_true, y_pred, caller)
    # argmax points at a row's first NaN (NumPy's and PyTorch's rule; TensorFlow's skips NaNs): a
    # diverged model's all-NaN rows would count as right for class 0. NaN rows are misses: the
    # argmax lands on a NaN exactly when the row holds one, so only its n values are checked.
    am = backend.get_array_module(y_pred)
    return hits & ~am.isnan(am.take_along_axis(y_pred, predicted[..., None], axis=-1)[..., 0])


def _labels(y_true, y_pred, caller):
    """The class index of each position, shape (n, ...), from one-hot targets of ``y_pred``'s shape
    (n, ..., k) or integer labels of shape (n, ...) or (n, ..., 1)."""
    y_true = backend.get_array_module(y_pred).asarray(y_true)
    positions = tuple(y_pred.shape[:-1])
    if y_true.shape == y_pred.shape:
        return row_argmax(y_true)
    if y_true.shape == (*positions, 1):
        return y_true[..., 0]
    if y_true.shape != positions:
        raise ValueError(f"{caller}: expected one-hot targets of shape {tuple(y_pred.shape)} "
                         f"or labels of shape {positions}, got shape {tuple(y_true.shape)}")
    return y_true


def top_k_categorical_accuracy(y_true, y_pred, k=5, caller="top_k_categorical_accuracy"):
    """Fraction of positions whose true class is among the ``k`` highest scores (Keras' k = 5).

    A class tied with the k-th highest score counts as in the top k, as TensorFlow's ``in_top_k``
    has it: the true class is in when fewer than k classes score strictly higher; a position with a
    non-finite score is a miss. Targets as for
    ``categorical_accuracy``. For another k, pass ``functools.partial`` or a function of your own.

    >>> float(top_k_categorical_accuracy([2, 0], np.array([[0.1, 0.2, 0.7], [0.2, 0.5, 0.3]]), k=2))
    0.5
    """
    hits = top_k_hits(y_true, y_pred, k, caller)
    return backend.get_array_module(hits).count_nonzero(hits) / hits.size


def top_k_hits(y_true, y_pred, k=5, caller="top_k_categorical_accuracy"):
    """``top_k_categorical_accuracy``'s right or wrong position by position: bool, shape (n, ...)."""
    k = check_positive_int(k, f"{caller}: k")
    am = backend.get_array_module(y_pred)
    labels = check_class_labels(_labels(y_true, y_pred, caller), y_pred.shape[-1], caller)
    target = am.take_along_axis(y_pred, labels[..., None], axis=-1)
    higher = am.count_nonzero(y_pred > target, axis=-1)
    # a row with a NaN or infinite score is a miss, as in_top_k has it: NaN compares false, and
    # would otherwise put its class in the top k (a diverged model would score 1.0)
    finite = am.isfinite(y_pred).all(axis=-1)
    return (higher < k) & finite


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """``top_k_categorical_accuracy`` under Keras' name for integer labels."""
    return top_k_categorical_accuracy(y_true, y_pred, k, "sparse_top_k_categorical_accuracy")


def sparse_categorical_accuracy(y_true, y_pred):
    """``categorical_accuracy`` under Keras' name for integer labels (its errors name this one)."""
    return categorical_accuracy(y_true, y_pred, "sparse_categorical_accuracy")


def accuracy(y_true, y_pred):
    """Binary accuracy for a single output unit, categorical accuracy otherwise."""
    if y_pred.shape[-1] == 1:
        return binary_accuracy(y_true, y_pred)
    return categorical_accuracy(y_true, y_pred)


def absolute_errors(y_true, y_pred):
    """``|y_pred - y_true|`` value by value, y_pred's shape (``mean_absolute_error`` by sample)."""
    d = _difference(y_true, y_pred, "mae")
    return np.abs(d, out=d)


def squared_errors(y_true, y_pred):
    """``(y_pred - y_true)^2`` value by value, y_pred's shape (``mean_squared_error`` by sample)."""
    d = _difference(y_true, y_pred, "mse")
    return np.multiply(d, d, out=d)


def _difference(y_true, y_pred, caller):
    # one new array in the output's dtype: float32 stays float32 (no float64 copy per batch)
    return np.subtract(y_pred, losses.aligned_targets(y_pred, y_true, caller))


def mean_absolute_error(y_true, y_pred):
    """Mean of ``|y_pred - y_true|`` over all n * k values; y_true, y_pred of shape (n, k).

    >>> mean_absolute_error(np.array([[0.0], [4.0]]), np.array([[1.0], [2.0]]))
    1.5
    """
    d = _difference(y_true, y_pred, "mae")
    np.abs(d, out=d)
    return float(np.add.reduce(d, axis=None)) / d.size


def mean_squared_error(y_true, y_pred):
    """Mean of ``(y_pred - y_true)^2`` over all n * k values; y_true, y_pred of shape (n, k).

    >>> mean_squared_error(np.array([[0.0], [4.0]]), np.array([[1.0], [2.0]]))
    2.5
    """
    d = _difference(y_true, y_pred, "mse")
    return float(np.vdot(d, d)) / d.size       # a BLAS dot in the array's own dtype


class LossMetric:
    """A loss's value reported as a metric: ``LossMetric(loss)(y_true, y_pred)`` is
    ``loss(y_pred, y_true)``, so that every metric is called in one order.

    >>> m = LossMetric(losses.get("mae")); m.__name__, m(np.array([[0.0]]), np.array([[2.0]]))
    ('mae', 2.0)
    """

    _scored = None          # (a LossMetric pickled before reductions scores with its loss)

    def __init__(self, loss, reduced=False):
        self.loss = loss
        self.__name__ = loss.name
        # the mean over samples, whatever the loss's reduction (a sum would grow with the batch);
        # ``reduced``: the loss's value as it trains on it (an output's own loss, logged as Keras does)
        self._scored = loss if reduced else losses.per_sample_mean(loss)

    def __call__(self, y_true, y_pred):
        return (self._scored or self.loss)(y_pred, y_true)

    def __repr__(self):
        return f"<metric from {self.loss!r}>"


# the functions above whose batch value is the mean over the batch's samples of Keras' per-sample
# values (compile's names, metrics.METRICS): the epoch weighs each batch by its samples
# (metrics.base.batch_share), where a function of your own that returns one number counts once
BATCH_MEANS = (binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, top_k_categorical_accuracy,
               sparse_top_k_categorical_accuracy, accuracy, mean_absolute_error, mean_squared_error)
