"""Keras' loss functions: ``f(y_true, y_pred, **settings)``, one loss per sample, in Keras' order.

Each gives what Keras 3.15's function of the same name gives: the loss of each sample (and
position), the last axis reduced, shape ``y_pred.shape[:-1]`` -- ``(n,)`` for outputs (n, k),
``(n, steps)`` for sequence outputs (n, steps, k). They are the ``per_sample`` values of the loss
classes (what ``reduction="none"`` returns), called with the targets first: the classes, called
directly, take ``(y_pred, y_true)`` (PyTorch's order); these functions take Keras'.

    >>> import numpy as np
    >>> mean_squared_error(np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]]))
    array([0.5])

Inputs: float32 and float64 predictions keep their dtype; lists and integer arrays become float32
(Keras' floatx). Targets take the predictions' dtype (labels stay integers). Where Keras lines up
targets and predictions of ranks one apart (the regression functions' ``squeeze_or_expand_to_same_rank``)
these do too; elsewhere targets must have the predictions' shape, or lack only a last axis of 1
(the classes' rule): shapes that Keras would broadcast into an (n, n) matrix are refused.

The classes' maths is Keras': ``categorical_crossentropy``, ``categorical_focal_crossentropy`` and
``sparse_categorical_crossentropy`` rescale each row of probabilities to sum to 1, then clip, before
the log (the classes do it, so the functions do not do it again), and label smoothing counts the
classes along the last axis whatever ``axis`` is (Keras' rule).

``compile(loss=mean_squared_error)`` trains on the function's loss class (at its defaults), as the
name ``"mean_squared_error"`` does; gradients come from the classes (see ``glassnet.losses.get``).
"""
import numbers
import threading

import numpy as np

from .. import _tape_state, backend
from .base import aligned_targets, same_rank
from .crossentropy import BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy
from .connectionist import CTC
from .focal import BinaryFocalCrossentropy, CategoricalFocalCrossentropy
from .generalized import CategoricalGeneralizedCrossEntropy
from .overlap import Dice, Tversky
from .persample import CategoricalHinge, CosineSimilarity
from .regression import (Hinge, Huber, KLDivergence, LogCosh, MeanAbsoluteError, MeanAbsolutePercentageError,
                         MeanSquaredError, MeanSquaredLogarithmicError, Poisson, SquaredHinge)
from .similarity import Circle

__all__ = ["mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
           "mean_squared_logarithmic_error", "huber", "log_cosh", "poisson", "kl_divergence", "hinge",
           "squared_hinge", "categorical_hinge", "cosine_similarity", "binary_crossentropy",
           "categorical_crossentropy", "sparse_categorical_crossentropy", "binary_focal_crossentropy",
           "categorical_focal_crossentropy", "categorical_generalized_cross_entropy", "dice", "tversky", "ctc",
           "circle"]


# --- inputs -------------------------------------------------------------------------------------

def _predictions(y_pred, caller):
    """``y_pred`` as a float array: a float32 or float64 array as it is, other numbers float32."""
    given = y_pred
    y_pred = backend.get_array_module(y_pred).asarray(y_pred)
    if y_pred.dtype.kind not in "biuf":
        raise TypeError(f"{caller}: y_pred: expected an array of numbers, got {y_pred.dtype}")
    # a list of Python floats makes a float64 array, which Keras (and glassnet) take as float32
    if y_pred.dtype.name not in ("float32", "float64") or not hasattr(given, "dtype"):
        y_pred = y_pred.astype(np.float32)
    return y_pred


def _values(y_true, y_pred, caller):
    """``y_true`` as an array in ``y_pred``'s dtype (Keras casts the targets so)."""
    y_true = backend.get_array_module(y_pred).asarray(y_true)
    if y_true.dtype.kind not in "biuf":
        raise TypeError(f"{caller}: y_true: expected an array of numbers, got {y_true.dtype}")
    return y_true.astype(y_pred.dtype, copy=False)


def _labels(y_true, y_pred, caller):
    """Integer labels as an integer array (whole-number floats too: Keras casts them)."""
    y_true = backend.get_array_module(y_pred).asarray(y_true)
    if y_true.dtype.kind == "f" and bool((y_true == np.round(y_true)).all()):
        return y_true.astype(np.int64)
    if y_true.dtype.kind not in "iub":
        raise TypeError(f"{caller}: y_true: expected integer class labels, got {y_true.dtype}"
                        + (" with fractions" if y_true.dtype.kind == "f" else ""))
    return y_true.astype(np.int64, copy=False)


def _pair(y_true, y_pred, caller):
    y_pred = _predictions(y_pred, caller)
    return _values(y_true, y_pred, caller), y_pred


def _same_rank(y_true, y_pred, caller):
    """Keras' ``squeeze_or_expand_to_same_rank`` for the regression functions: of two ranks one
    apart, the longer loses a last axis of 1, or the shorter, when it is 1-D, gains one."""
    return same_rank(*_pair(y_true, y_pred, caller))


def _class_axis_last(y_true, y_pred, axis, caller):
    """Targets and predictions (already of one shape) with ``axis`` moved to the end, where the
    classes reduce."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise ValueError(f"{caller}: axis must be an integer, got {axis!r:.60}")
    if not -y_pred.ndim <= axis < y_pred.ndim:
        raise ValueError(f"{caller}: axis={axis} does not fit y_pred of shape {tuple(y_pred.shape)}")
    axis = int(axis) % y_pred.ndim
    if axis == y_pred.ndim - 1:
        return y_true, y_pred
    return np.moveaxis(y_true, axis, -1), np.moveaxis(y_pred, axis, -1)


def _smoothed(y_true, label_smoothing, classes):
    return y_true * (1 - label_smoothing) + label_smoothing / classes if label_smoothing else y_true


# --- under a GradientTape -----------------------------------------------------------------------
# a function called on a recorded y_pred while a tape records is recorded (glassnet.tape): its
# values now, and at tape.gradient the gradient of its loss class, which _scored notes here
_noted = threading.local()


def _scored(loss, y_pred, y_true, axis=-1, keep=None):
    """``loss.per_sample(y_pred, y_true)``, the function's values, noting what the class scored when
    a tape records the call (glassnet.tape.record_loss_function): the loss, the arrays, its values,
    the caller's class ``axis`` (which ``y_pred`` has last here) and ``keep``, a boolean array of
    the values' shape where the function keeps them (False: it gives 0, ``ignore_class``)."""
    values = loss.per_sample(y_pred, y_true)
    seen = getattr(_noted, "seen", None)
    if seen is not None:
        seen.append((loss, y_pred, y_true, values, axis, keep))
    return values


def _taped(function):
    """``function`` recorded while a GradientTape records and y_pred is a recorded value."""
    def record(function, args, kwargs):
        from ..tape import record_loss_function
        return record_loss_function(function, args, kwargs, _noted)
    return _tape_state.when_recording(function, record)


# --- regression ---------------------------------------------------------------------------------

@_taped
def mean_squared_error(y_true, y_pred):
    """Keras' ``mean_squared_error``: ``mean((y_true - y_pred)^2)`` over the last axis; y_true,
    y_pred of shape (n, ..., k); returns (n, ...)."""
    y_true, y_pred = _same_rank(y_true, y_pred, "mean_squared_error")
    return _scored(MeanSquaredError(), y_pred, y_true)


@_taped
def mean_absolute_error(y_true, y_pred):
    """Keras' ``mean_absolute_error``: ``mean(|y_true - y_pred|)`` over the last axis; (n, ...)."""
    y_true, y_pred = _same_rank(y_true, y_pred, "mean_absolute_error")
    return _scored(MeanAbsoluteError(), y_pred, y_true)


@_taped
def mean_absolute_percentage_error(y_true, y_pred):
    """Keras' ``mean_absolute_percentage_error``: ``100 mean(|y_true - y_pred| / max(|y_true|, 1e-7))``
    over the last axis; (n, ...)."""
    y_true, y_pred = _same_rank(y_true, y_pred, "mean_absolute_percentage_error")
    return _scored(MeanAbsolutePercentageError(), y_pred, y_true)


@_taped
def mean_squared_logarithmic_error(y_true, y_pred):
    """Keras' ``mean_squared_logarithmic_error``: ``mean((log(1 + p) - log(1 + t))^2)``, p and t
    raised to at least 1e-7, over the last axis; (n, ...)."""
    y_true, y_pred = _same_rank(y_true, y_pred, "mean_squared_logarithmic_error")
    return _scored(MeanSquaredLogarithmicError(), y_pred, y_true)


@_taped
def huber(y_true, y_pred, delta=1.0):
    """Keras' ``huber``: per value ``d^2 / 2`` where ``|d| <= delta``, else ``delta (|d| - delta / 2)``,
    d = y_pred - y_true; the mean over the last axis; (n, ...)."""
    y_true, y_pred = _same_rank(y_true, y_pred, "huber")
    return _scored(Huber(delta=delta), y_pred, y_true)


@_taped
def log_cosh(y_true, y_pred):
    """Keras' ``log_cosh``: ``mean(log(cosh(y_pred - y_true)))`` over the last axis; (n, ...)."""
    y_true, y_pred = _same_rank(y_true, y_pred, "log_cosh")
    return _scored(LogCosh(), y_pred, y_true)


@_taped
def poisson(y_true, y_pred):
    """Keras' ``poisson``: ``mean(y_pred - y_true log(y_pred + 1e-7))`` over the last axis; (n, ...)."""
    y_true, y_pred = _pair(y_true, y_pred, "poisson")
    return _scored(Poisson(), y_pred, y_true)


@_taped
def kl_divergence(y_true, y_pred):
    """Keras' ``kl_divergence``: ``sum(t log(t / p))`` over the last axis, t and p clipped to
    [1e-7, 1]; (n, ...)."""
    y_true, y_pred = _pair(y_true, y_pred, "kl_divergence")
    return _scored(KLDivergence(), y_pred, y_true)


@_taped
def hinge(y_true, y_pred):
    """Keras' ``hinge``: ``mean(max(1 - y p, 0))`` over the last axis, targets -1/1 (0/1 taken as
    -1/1); (n, ...)."""
    y_true, y_pred = _pair(y_true, y_pred, "hinge")
    return _scored(Hinge(), y_pred, y_true)


@_taped
def squared_hinge(y_true, y_pred):
    """Keras' ``squared_hinge``: ``mean(max(1 - y p, 0)^2)`` over the last axis; (n, ...)."""
    y_true, y_pred = _pair(y_true, y_pred, "squared_hinge")
    return _scored(SquaredHinge(), y_pred, y_true)


@_taped
def categorical_hinge(y_true, y_pred):
    """Keras' ``categorical_hinge``: ``max(max((1 - y) p) - sum(y p) + 1, 0)`` over the last axis,
    one-hot targets; (n, ...)."""
    y_true, y_pred = _pair(y_true, y_pred, "categorical_hinge")
    return _scored(CategoricalHinge(), y_pred, y_true)


@_taped
def cosine_similarity(y_true, y_pred, axis=-1):
    """Keras' ``cosine_similarity`` loss: ``-sum(t_hat p_hat)`` along ``axis``, each unit-normalised
    (length at least 1e-7); y_pred's shape without ``axis``."""
    y_true, y_pred = _same_rank(y_true, y_pred, "cosine_similarity")
    y_true, y_pred = _class_axis_last(aligned_targets(y_pred, y_true, "cosine_similarity"), y_pred, axis,
                                      "cosine_similarity")
    return _scored(CosineSimilarity(), y_pred, y_true, axis)


# --- cross-entropies ----------------------------------------------------------------------------

@_taped
def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Keras' ``binary_crossentropy``: ``-mean(y log p + (1 - y) log(1 - p))`` along ``axis``, p
    clipped to [1e-7, 1 - 1e-7] (``from_logits``: p = sigmoid(y_pred), exactly from the logits);
    targets smoothed to ``y (1 - s) + s / 2``. y_true, y_pred (n, ..., k); returns (n, ...)."""
    y_true, y_pred = _pair(y_true, y_pred, "binary_crossentropy")
    y_true, y_pred = _class_axis_last(aligned_targets(y_pred, y_true, "binary_crossentropy"), y_pred, axis,
                                      "binary_crossentropy")
    return _scored(BinaryCrossentropy(from_logits, label_smoothing), y_pred, y_true, axis)


def _categorical(y_true, y_pred, label_smoothing, axis, caller):
    """Targets smoothed over the last axis's classes (Keras', whatever ``axis``), then both arrays
    with ``axis`` last. The caller has had the class check ``label_smoothing``."""
    y_true, y_pred = _pair(y_true, y_pred, caller)
    y_true = aligned_targets(y_pred, y_true, caller)
    if label_smoothing:
        y_true = _smoothed(y_true, label_smoothing, y_true.shape[-1]).astype(y_pred.dtype, copy=False)
    return _class_axis_last(y_true, y_pred, axis, caller)


@_taped
def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Keras' ``categorical_crossentropy``: ``-sum(y log p)`` along ``axis``, p the row of
    probabilities divided by its sum, then clipped to [1e-7, 1 - 1e-7] (``from_logits``:
    log-softmax of the logits, exact); targets one-hot or distributions, smoothed to
    ``y (1 - s) + s / k``. y_true, y_pred (n, ..., k); returns (n, ...)."""
    CategoricalCrossentropy(from_logits, label_smoothing)         # the settings' checks
    y_true, y_pred = _categorical(y_true, y_pred, label_smoothing, axis, "categorical_crossentropy")
    return _scored(CategoricalCrossentropy(from_logits), y_pred, y_true, axis)     # rescales rows itself


@_taped
def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                                   axis=-1):
    """Keras' ``categorical_focal_crossentropy``: ``-sum(alpha (1 - p)^gamma y log p)`` along
    ``axis``, p the probabilities (the softmax of logits) divided by their sum and clipped to
    [1e-7, 1 - 1e-7]; ``alpha`` a number or one per class. Returns (n, ...)."""
    CategoricalFocalCrossentropy(alpha, gamma, from_logits, label_smoothing)
    y_true, y_pred = _categorical(y_true, y_pred, label_smoothing, axis, "categorical_focal_crossentropy")
    return _scored(CategoricalFocalCrossentropy(alpha, gamma, from_logits), y_pred, y_true, axis)   # rescales itself


@_taped
def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                              label_smoothing=0.0, axis=-1):
    """Keras' ``binary_focal_crossentropy``: per value ``(1 - p_t)^gamma bce`` (times alpha or
    1 - alpha with ``apply_class_balancing``), the mean along ``axis``. Returns (n, ...)."""
    y_true, y_pred = _pair(y_true, y_pred, "binary_focal_crossentropy")
    y_true, y_pred = _class_axis_last(aligned_targets(y_pred, y_true, "binary_focal_crossentropy"), y_pred, axis,
                                      "binary_focal_crossentropy")
    loss = BinaryFocalCrossentropy(apply_class_balancing, alpha, gamma, from_logits, label_smoothing)
    return _scored(loss, y_pred, y_true, axis)


@_taped
def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Keras' ``sparse_categorical_crossentropy``: ``-log p[label]`` per sample and position, p the
    row of probabilities divided by its sum, then clipped (``from_logits``: ``logsumexp(z) - z[label]``):
    the class's ``per_sample``, in the categorical loss's order (Keras' TensorFlow backend clips
    before dividing, which differs on rows with entries outside [1e-7, 1 - 1e-7]).

    y_true : integer labels of shape ``y_pred.shape[:-1]`` (or with a last axis of 1): (n,) for
    y_pred (n, k), (n, steps) for (n, steps, k). ``ignore_class``: positions labelled so give 0.
    Returns ``y_pred.shape[:-1]``. The class axis is the last one (Keras' TensorFlow backend takes
    no other either)."""
    caller = "sparse_categorical_crossentropy"
    loss = SparseCategoricalCrossentropy(from_logits, ignore_class)     # the settings' checks
    y_pred = _predictions(y_pred, caller)
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or axis not in (-1, y_pred.ndim - 1):
        raise ValueError(f"{caller}: axis must be -1, the classes' (the last) axis, got {axis!r:.60}")
    labels = _labels(y_true, y_pred, caller)
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if labels.shape != y_pred.shape[:-1]:
        raise ValueError(f"{caller}: expected integer labels of shape {tuple(y_pred.shape[:-1])} (y_pred's without "
                         f"its class axis) for y_pred of shape {tuple(y_pred.shape)}, got shape {tuple(labels.shape)}")
    valid = None if ignore_class is None else labels != loss.ignore_class
    if valid is not None:
        labels = np.where(valid, labels, 0)
    rows = y_pred.reshape(-1, y_pred.shape[-1])
    # the class divides each row by its sum before the clip (as the categorical one does): not again here
    values = _scored(SparseCategoricalCrossentropy(from_logits), rows, labels.reshape(-1),
                     keep=None if valid is None else valid.reshape(-1)).reshape(labels.shape)
    return values if valid is None else np.where(valid, values, 0).astype(values.dtype, copy=False)


@_taped
def categorical_generalized_cross_entropy(y_true, y_pred, q):
    """Keras' ``categorical_generalized_cross_entropy``: ``(1 - p^q) / q`` per sample, p the output
    at the integer label, y_true (n,) (or (n, 1)), y_pred (n, k); ``q`` in (0, 1), no default
    (as in Keras). Returns (n,)."""
    y_pred = _predictions(y_pred, "categorical_generalized_cross_entropy")
    labels = _labels(y_true, y_pred, "categorical_generalized_cross_entropy")
    return _scored(CategoricalGeneralizedCrossEntropy(q), y_pred, labels)


# --- segmentation, sequences, embeddings --------------------------------------------------------

@_taped
def dice(y_true, y_pred, axis=None):
    """Keras' ``dice``: ``1 - 2 sum(y p) / (sum(y) + sum(p) + 1e-7)`` over ``axis`` (None: all,
    one number; ``(1, 2, 3)``: one per image (n,))."""
    y_true, y_pred = _pair(y_true, y_pred, "dice")
    return _scored(Dice(axis=axis), y_pred, y_true)


@_taped
def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """Keras' ``tversky``: ``1 - I / (I + alpha sum(y (1 - p)) + beta sum((1 - y) p) + 1e-7)``,
    I = sum(y p), over ``axis`` (as ``dice``)."""
    y_true, y_pred = _pair(y_true, y_pred, "tversky")
    return _scored(Tversky(alpha=alpha, beta=beta, axis=axis), y_pred, y_true)


@_taped
def ctc(y_true, y_pred):
    """Keras' ``ctc``: -log P(labels | logits) per sample; y_true int label sequences (n, L) padded
    with 0 (the blank), y_pred logits (n, T, C). Returns (n,)."""
    y_pred = _predictions(y_pred, "ctc")
    return _scored(CTC(), y_pred, _labels(y_true, y_pred, "ctc"))


@_taped
def circle(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True, gamma=80, margin=0.4):
    """Keras' ``circle``: per sample ``softplus(lse(positive terms) + lse(negative terms))`` over
    the batch's pairs; y_true int labels (n,), y_pred unit-normalised embeddings (n, d). Returns (n,).
    ``ref_labels`` and ``ref_embeddings`` (another set to pair with) are not supported: None only."""
    for name, value in (("ref_labels", ref_labels), ("ref_embeddings", ref_embeddings)):
        if value is not None:
            raise ValueError(f"circle: {name} is not supported (the batch's own samples are the references); "
                             f"got {type(value).__name__}, expected None")
    y_pred = _predictions(y_pred, "circle")
    loss = Circle(gamma=gamma, margin=margin, remove_diagonal=remove_diagonal)
    return _scored(loss, y_pred, _labels(y_true, y_pred, "circle"))


# the loss class (by name in LOSSES) each function trains as, in compile(loss=function)
TRAINS_AS = {mean_squared_error: "mse", mean_absolute_error: "mae", mean_absolute_percentage_error: "mape",
             mean_squared_logarithmic_error: "msle", huber: "huber", log_cosh: "log_cosh", poisson: "poisson",
             kl_divergence: "kl_divergence", hinge: "hinge", squared_hinge: "squared_hinge",
             categorical_hinge: "categorical_hinge", cosine_similarity: "cosine_similarity",
             binary_crossentropy: "binary_crossentropy", categorical_crossentropy: "categorical_crossentropy",
             sparse_categorical_crossentropy: "sparse_categorical_crossentropy",
             binary_focal_crossentropy: "binary_focal_crossentropy",
             categorical_focal_crossentropy: "categorical_focal_crossentropy",
             categorical_generalized_cross_entropy: "categorical_generalized_cross_entropy", dice: "dice",
             tversky: "tversky", ctc: "ctc", circle: "circle"}
