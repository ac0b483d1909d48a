"""Keras' metric functions: ``f(y_true, y_pred, ...)`` giving one value per sample (and position).

``keras.metrics.binary_accuracy``, ``categorical_accuracy``, ``sparse_categorical_accuracy``,
``top_k_categorical_accuracy`` and ``sparse_top_k_categorical_accuracy`` give 1.0 where a prediction
is right and 0.0 where it is wrong, without averaging over the batch: Keras' metric classes
(``BinaryAccuracy``, ...) average them. These are the same functions, Keras 3.15's values and
shapes; ``glassnet.metrics`` exports them, beside the loss functions Keras also lists under
``keras.metrics`` (``glassnet.losses.functions``: ``binary_crossentropy``, ``mean_squared_error``, ...).

    >>> import numpy as np
    >>> sparse_categorical_accuracy([2, 0], [[0.1, 0.2, 0.7], [0.2, 0.5, 0.3]])
    array([1., 0.], dtype=float32)

``compile(metrics=[glassnet.metrics.binary_accuracy])`` logs the mean of a batch's values under the
function's name, as the name ``"binary_accuracy"`` does (glassnet.metrics.functions computes that
mean directly, without the per-sample array: ``COMPILED_AS``).

Results: float32 and float64 predictions give their dtype, anything else float32 (Keras' floatx;
Keras gives float32 for float64 predictions too, glassnet keeps float64 as its losses do).
"""
import numbers

import numpy as np

from .. import backend
from .._validation import check_positive_int
from ..losses.base import same_rank
from .functions import categorical_hits, top_k_hits

__all__ = ["binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy",
           "sparse_top_k_categorical_accuracy"]


def _predictions(y_pred, caller):
    """``y_pred`` as an array of numbers, and the float dtype the result takes: the array's own when
    it is float32 or float64, else float32 (lists of Python floats too: Keras' floatx)."""
    given = y_pred
    y_pred = backend.get_array_module(y_pred).asarray(y_pred)
    if y_pred.dtype.kind not in "biuf":
        raise TypeError(f"{caller}: y_pred: expected an array of numbers, got dtype {y_pred.dtype}")
    floats = y_pred.dtype if y_pred.dtype.name in ("float32", "float64") and hasattr(given, "dtype") else np.float32
    return y_pred, np.dtype(floats)


def _targets(y_true, y_pred, caller):
    y_true = backend.get_array_module(y_pred).asarray(y_true)
    if y_true.dtype.kind not in "biuf":
        raise TypeError(f"{caller}: y_true: expected an array of numbers, got dtype {y_true.dtype}")
    return y_true


def _one_hot(y_true, y_pred, caller):
    """Refuse targets that are not one-hot rows of ``y_pred``'s shape (Keras takes their argmax, so
    integer labels there would be read as garbage; they go to the sparse function)."""
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{caller}: expected one-hot targets of y_pred's shape {tuple(y_pred.shape)}, got shape "
                         f"{tuple(y_true.shape)}; integer labels go to sparse_{caller}")


def _labels(y_true, y_pred, caller):
    """Refuse targets that are not labels of shape ``y_pred.shape[:-1]`` (or with a last axis of 1)."""
    positions = tuple(y_pred.shape[:-1])
    if y_true.shape not in (positions, (*positions, 1)):
        hint = "; one-hot targets go to " + caller.replace("sparse_", "") if y_true.shape == y_pred.shape else ""
        raise ValueError(f"{caller}: expected integer labels of shape {positions} (or {(*positions, 1)}) for y_pred "
                         f"of shape {tuple(y_pred.shape)}, got shape {tuple(y_true.shape)}{hint}")


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Keras' ``binary_accuracy``: 1.0 where ``y_pred > threshold`` equals the target, value by value.

    y_true : 0/1 targets, y_pred's shape; a rank one apart is lined up as Keras lines it up, a last
        axis of 1 dropped or a vector (n,) given one: (n,) against (n, 1) gives (n, 1).
    y_pred : scores of shape (n, ..., k).
    Returns an array of the lined-up shape (not averaged over the last axis: Keras' values).

    As in Keras, the thresholded prediction is compared with the target itself, so a soft target
    (0.7) is never matched; compiled as a metric (by this function or its name), glassnet instead
    counts a soft target as its nearer class (glassnet.metrics.functions.binary_accuracy).

    >>> binary_accuracy(np.array([[1.0], [0.0]]), np.array([[0.6], [0.7]]))
    array([[1.],
           [0.]])
    """
    caller = "binary_accuracy"
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"{caller}: threshold: expected a number, got {threshold!r:.60}")
    y_pred, dtype = _predictions(y_pred, caller)
    y_true, y_pred = same_rank(_targets(y_true, y_pred, caller), y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{caller}: expected targets of y_pred's shape {tuple(y_pred.shape)}, got shape "
                         f"{tuple(y_true.shape)}")
    # Keras casts the thresholded prediction to the targets' dtype and tests equality
    return ((y_pred > threshold).astype(y_true.dtype) == y_true).astype(dtype)


def categorical_accuracy(y_true, y_pred):
    """Keras' ``categorical_accuracy``: 1.0 where the argmax of the one-hot target (last axis) is
    the argmax of ``y_pred``. y_true, y_pred of shape (n, ..., k); returns (n, ...). A row of scores
    holding a NaN is a miss (it predicts no class; TensorFlow's argmax would skip the NaN).

    >>> categorical_accuracy(np.eye(3)[[2, 0]], np.array([[0.1, 0.2, 0.7], [0.2, 0.5, 0.3]]))
    array([1., 0.])
    """
    caller = "categorical_accuracy"
    y_pred, dtype = _predictions(y_pred, caller)
    y_true = _targets(y_true, y_pred, caller)
    _one_hot(y_true, y_pred, caller)
    return categorical_hits(y_true, y_pred, caller).astype(dtype)


def sparse_categorical_accuracy(y_true, y_pred):
    """Keras' ``sparse_categorical_accuracy``: 1.0 where the integer label is the argmax of
    ``y_pred``'s last axis. y_true of shape (n, ...) or (n, ..., 1), y_pred (n, ..., k); returns
    (n, ...). A label that is no class (a fraction, -1, k) is never matched, as in Keras."""
    caller = "sparse_categorical_accuracy"
    y_pred, dtype = _predictions(y_pred, caller)
    y_true = _targets(y_true, y_pred, caller)
    _labels(y_true, y_pred, caller)
    return categorical_hits(y_true, y_pred, caller).astype(dtype)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """Keras' ``top_k_categorical_accuracy``: 1.0 where the class of the one-hot target is among the
    ``k`` highest scores (a class tied with the k-th counts, as TensorFlow's ``in_top_k``; a row
    with a non-finite score is a miss). y_true, y_pred (n, ..., k_classes); returns (n, ...)."""
    caller = "top_k_categorical_accuracy"
    y_pred, dtype = _predictions(y_pred, caller)
    y_true = _targets(y_true, y_pred, caller)
    _one_hot(y_true, y_pred, caller)
    return top_k_hits(y_true, y_pred, k, caller).astype(dtype)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """Keras' ``sparse_top_k_categorical_accuracy``: 1.0 where the integer label is among the ``k``
    highest scores of ``y_pred`` (n, ..., classes); with ``from_sorted_ids=True``, ``y_pred`` holds
    class ids sorted from the highest score down, (n, ..., N), and the label is looked for among
    the first ``k``. Returns y_true's shape, as Keras: (n, ...), or (n, ..., 1) for labels given so.

    >>> sparse_top_k_categorical_accuracy([1, 0], np.array([[3, 1, 0], [2, 1, 0]]), k=2, from_sorted_ids=True)
    array([1., 0.], dtype=float32)
    """
    caller = "sparse_top_k_categorical_accuracy"
    if not isinstance(from_sorted_ids, (bool, np.bool_)):
        raise TypeError(f"{caller}: from_sorted_ids: expected True or False, got {from_sorted_ids!r:.60}")
    y_pred, dtype = _predictions(y_pred, caller)
    y_true = _targets(y_true, y_pred, caller)
    _labels(y_true, y_pred, caller)
    shape = y_true.shape
    labels = y_true.reshape(y_pred.shape[:-1])
    if from_sorted_ids:
        k = check_positive_int(k, f"{caller}: k")
        hits = (y_pred[..., :k] == labels[..., None]).any(axis=-1)
    else:
        hits = top_k_hits(labels, y_pred, k, caller)
    return hits.astype(dtype).reshape(shape)


# the name each is compiled by (glassnet.metrics.get): the batch's mean of these values, computed
# by glassnet.metrics.functions without an array per sample
COMPILED_AS = {binary_accuracy: "binary_accuracy", categorical_accuracy: "categorical_accuracy",
               sparse_categorical_accuracy: "sparse_categorical_accuracy",
               top_k_categorical_accuracy: "top_k_categorical_accuracy",
               sparse_top_k_categorical_accuracy: "sparse_top_k_categorical_accuracy"}
