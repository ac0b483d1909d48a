"""Keras' generalized cross-entropy (Zhang and Sabuncu 2018), robust to noisy labels: per sample
``(1 - p^q) / q``, p the probability given to the labelled class. q -> 0 tends to cross-entropy
(-log p), q = 1 is the mean absolute error of the true class; between them it bounds the loss of a
wrong label (at most 1/q) while still fitting the right ones.

Gradient with respect to the probabilities: ``-p^(q - 1) / n`` at the labelled class, 0 elsewhere.
After a softmax output it fuses: with a = softmax(z), ``dL/dz = p^q (a - onehot) / n`` (the softmax
Jacobian applied to the line above), and the value from the logits, ``-expm1(q log p) / q`` with
log p = z_y - logsumexp(z), which stays exact where p underflows to 0.
"""
import numpy as np

from .._rows import row_max
from .._validation import check_class_labels, check_number
from ._numerics import _all_normal, _distributions, _per_sample
from .base import DEFAULT_REDUCTION, Loss, WithSettings
from .crossentropy import TermsFromLogits, class_labels


class CategoricalGeneralizedCrossEntropy(TermsFromLogits, WithSettings, Loss):
    """Keras' ``CategoricalGeneralizedCrossEntropy(q=0.5)``: the mean over samples of
    ``(1 - p^q) / q``, p the output at the sample's integer label (targets (n,) or (n, 1), as
    for ``sparse_categorical_crossentropy``; outputs with positions, (n, steps, k), take one label
    per position, (n, steps), as Keras' one-hot of the labels does, and the loss is the mean over
    all positions). No clipping, as in Keras: outputs below 0 (not probabilities) give NaN. A model
    file keeps ``q``.

    >>> loss = CategoricalGeneralizedCrossEntropy()
    >>> round(loss(np.array([[0.75, 0.25], [0.5, 0.5]]), np.array([1, 0])), 6)    # (1 + 2 - sqrt 2) / 2
    0.792893
    """
    name = "categorical_generalized_cross_entropy"
    fuses = "softmax"
    sparse = True

    def __init__(self, q=0.5, reduction=DEFAULT_REDUCTION, name=None):
        self.q = check_number(q, "CategoricalGeneralizedCrossEntropy: q", "(0, 1)")
        self._take_reduction(reduction, name)

    def prepare_targets(self, y, n_outputs, dtype, name="y"):
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(f"{name}: {self.name} expects integer class labels of shape (n_samples,), got "
                             f"shape {y.shape}")
        return check_class_labels(y, n_outputs, name)

    def _targets(self, y_pred, y_true):
        return class_labels(y_pred, y_true, self.name, positions=True)

    def _picked(self, y_pred, y_true):
        labels = self._targets(y_pred, y_true)
        return _at(y_pred, labels), labels

    def __call__(self, y_pred, y_true):
        p, _ = self._picked(y_pred, y_true)
        return float(((1 - p ** self.q) / self.q).sum()) / _distributions(y_pred)

    def per_sample(self, y_pred, y_true):
        p, _ = self._picked(y_pred, y_true)
        return (1 - p ** self.q) / self.q

    def weighted(self, y_pred, y_true, sample_weight):
        p, _ = self._picked(y_pred, y_true)
        terms = (1 - p ** self.q) / self.q
        terms *= _per_sample(sample_weight, terms)
        return float(terms.sum()) / _distributions(y_pred)

    def gradient(self, y_pred, y_true):
        p, labels = self._picked(y_pred, y_true)
        g = np.zeros_like(y_pred)
        with np.errstate(divide="ignore"):          # p = 0: -inf, as in Keras
            np.put_along_axis(g, labels[..., None], (-(p ** (self.q - 1)) / _distributions(y_pred))[..., None], axis=-1)
        return g

    def invalid_output(self, y_pred):
        if y_pred.size and float(y_pred.min()) < 0:
            return (f"{self.name} takes probabilities (a softmax output), and p^q of an output below 0 "
                    f"is NaN; got outputs down to {float(y_pred.min()):.4g}")
        return None

    # the fused forms, after a softmax output: z the logits, a = softmax(z)
    def _terms_from_logits(self, z, a, y_true):
        if y_true.ndim > 1:     # labels per position (a recorded call's (n, steps, k) outputs)
            return self._terms_from_logits(z.reshape(-1, z.shape[-1]), a.reshape(-1, a.shape[-1]),
                                           y_true.reshape(-1)).reshape(y_true.shape)
        rows = np.arange(y_true.shape[0])
        picked = a[rows, y_true]
        if _all_normal(picked):
            log_p = np.log(picked)
        else:           # an output underflowed: log p from the logits (CategoricalCrossentropy._logsumexp)
            log_p = z[rows, y_true] - (row_max(z) - np.log(row_max(a)))
        return -np.expm1(self.q * log_p) / self.q

    def gradient_from_logits(self, a, y_true):
        if y_true.ndim > 1:
            return self.gradient_from_logits(a.reshape(-1, a.shape[-1]), y_true.reshape(-1)).reshape(a.shape)
        rows = np.arange(y_true.shape[0])
        g = a.copy()
        g[rows, y_true] -= 1
        g *= (a[rows, y_true] ** self.q)[:, None] * (1.0 / a.shape[0])
        return g


def _at(values, labels):
    """``values`` (n, ..., k) at each row's label, ``labels`` (n, ...); returns (n, ...)."""
    if labels.ndim == 1:
        return values[np.arange(labels.shape[0]), labels]
    return np.take_along_axis(values, labels[..., None], axis=-1)[..., 0]
