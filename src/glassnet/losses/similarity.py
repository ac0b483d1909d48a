"""Keras' Circle loss (Sun et al. 2020), for metric learning: embeddings of one class pulled
together, of different classes pushed apart, each pair weighted by how far it is from its optimum.

For L2-normalised embeddings P (n, d) (a last ``UnitNormalization`` layer) and integer class
labels (n,), Keras' formula, with m the margin and g gamma:

    D   = max(1 - P P^T, 0)                       the pairs' cosine distances
    w_p = max(m + D, 0) on positive pairs         (same class, without i = j if remove_diagonal)
    w_n = max(1 + m - D, 0) on negative pairs     (different classes)
    loss_i = softplus(lse_j(-g w_p (m - D)) + lse_j(g w_n (1 - m - D)))

each lse over sample i's positive or negative pairs only (-inf for none). The weights are not held
constant (the paper's detach): the gradient goes through them too, as in Keras. A sample with no
positive or no negative pair has loss 0 and is left out of the mean, as Keras' mask leaves it out:
the loss is sum(w_i loss_i) / (the number of samples whose loss is > 0).

Gradient: with A_i the softplus's argument, dloss_i/dA_i = sigmoid(A_i), and each lse hands on its
softmax; G = dL/d(P P^T) (through D where 1 - P P^T >= 0, TensorFlow's choice at the tie), then
dL/dP = (G + G^T) P, as P meets itself on both sides of the product.
"""
import numpy as np

from .. import backend
from .._validation import check_flag, check_number
from ._numerics import _per_sample
from .base import DEFAULT_REDUCTION, Loss, WithSettings


def _masked_lse(x, mask):
    """Row by row log-sum-exp of ``x`` over the entries where ``mask`` holds (-inf for a row without
    any), and the softmax over them (0 elsewhere). x, mask : (n, n); returns (n,), (n, n)."""
    values = np.where(mask, x, -np.inf)
    top = values.max(axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0)
    e = np.exp(values - top)
    total = e.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        lse = np.log(total) + top
        weights = np.where(total > 0, e / total, 0)
    return lse[:, 0], weights


class Circle(WithSettings, Loss):
    """Keras' ``Circle`` loss (``"circle"``): y_pred, the embeddings (n, d), unit-normalised;
    y_true, integer class labels (n,) or (n, 1) (any integers: classes, not output units). See the
    module docstring for the formula. A model file keeps its settings.

    >>> p = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])    # two of class 0 together, one apart
    >>> round(Circle()(p, np.array([0, 0, 1])), 6) < 1e-6
    True
    """
    name = "circle"
    sparse = True           # one label per sample, not an array shaped like the output

    def __init__(self, gamma=80.0, margin=0.4, remove_diagonal=True, reduction=DEFAULT_REDUCTION, name=None):
        self.gamma = check_number(gamma, "Circle: gamma", "> 0")
        self.margin = check_number(margin, "Circle: margin", "finite")
        self.remove_diagonal = check_flag(remove_diagonal, "Circle: remove_diagonal", ValueError)
        self._take_reduction(reduction, name)

    def per_sample(self, y_pred, y_true):
        return self._parts(y_pred, y_true)["values"]

    def _reduction_counts(self, view, y_pred, y_true, weights, mask):
        # Keras masks the samples whose loss is 0 (no positive or no negative pair): the default
        # divides by the others, and "mean_with_sample_weight" by their weights' sum
        values = view.per_sample(y_pred, y_true)
        counted = values > 0
        total = None if weights is None else float((weights * counted).sum(dtype="float64"))
        return int(counted.sum()), int(counted.sum()), total

    def prepare_targets(self, y, n_outputs, dtype, name="y"):
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1 or (y.dtype.kind == "f" and not np.all(y == np.round(y))):
            raise ValueError(f"{name}: circle expects integer class labels of shape (n_samples,), got "
                             f"{y.dtype} of shape {y.shape}")
        return y.astype(np.int64)

    def _targets(self, y_pred, y_true):
        if y_pred.ndim != 2:
            raise ValueError(f"circle: expected embeddings of shape (n_samples, dimensions), got shape "
                             f"{tuple(y_pred.shape)}")
        y_true = backend.get_array_module(y_pred).asarray(y_true)      # (a GPU model's labels stay there)
        n = y_pred.shape[0]
        if y_true.shape == (n, 1):
            y_true = y_true[:, 0]
        if y_true.shape != (n,) or y_true.dtype.kind not in "iu":
            raise ValueError(f"circle: expected integer class labels of shape ({n},), got {y_true.dtype} of "
                             f"shape {tuple(y_true.shape)}")
        return y_true

    def _parts(self, y_pred, y_true):
        labels = self._targets(y_pred, y_true)
        m, g = self.margin, self.gamma
        gram = y_pred @ y_pred.T
        distance = np.maximum(1 - gram, 0)
        same = labels[:, None] == labels[None, :]
        diagonal = backend.get_array_module(y_pred).eye(len(labels), dtype=bool)
        positive = same & ~diagonal if self.remove_diagonal else same
        negative = ~same
        w_pos = np.maximum((m + distance) * positive, 0)
        w_neg = np.maximum((1 + m - distance) * negative, 0)
        lse_pos, soft_pos = _masked_lse(-g * w_pos * (m - distance), positive)
        lse_neg, soft_neg = _masked_lse(g * w_neg * (1 - m - distance), negative)
        total = lse_pos + lse_neg
        values = np.logaddexp(0, total)             # softplus; 0 for a row without one of the two
        return dict(gram=gram, distance=distance, positive=positive, negative=negative, w_pos=w_pos,
                    w_neg=w_neg, soft_pos=soft_pos, soft_neg=soft_neg, total=total, values=values,
                    counted=int(np.count_nonzero(values > 0)))

    @staticmethod
    def _mean(values, counted):
        return float(values.sum()) / counted if counted else 0.0      # Keras' divide_no_nan

    def __call__(self, y_pred, y_true):
        parts = self._parts(y_pred, y_true)
        return self._mean(parts["values"], parts["counted"])

    def weighted(self, y_pred, y_true, sample_weight):
        parts = self._parts(y_pred, y_true)
        values = parts["values"]
        return self._mean(values * _per_sample(sample_weight, values), parts["counted"])

    def _gradient(self, y_pred, y_true, row_scale):
        p = self._parts(y_pred, y_true)
        m, g, distance = self.margin, self.gamma, p["distance"]
        if not p["counted"]:
            return np.zeros_like(y_pred)
        # d/dD of each pair's two terms, the weights' own slopes included (TF's max passes at ties)
        slope_pos = -g * ((p["positive"] & (m + distance >= 0)) * (m - distance) - p["w_pos"])
        slope_neg = -g * ((p["negative"] & (1 + m - distance >= 0)) * (1 - m - distance) + p["w_neg"])
        with np.errstate(over="ignore"):
            sigmoid = np.where(np.isfinite(p["total"]), 1 / (1 + np.exp(-p["total"])), 0)
        dtotal = (sigmoid * row_scale / p["counted"]).astype(y_pred.dtype, copy=False)
        d_distance = (p["soft_pos"] * slope_pos + p["soft_neg"] * slope_neg) * dtotal[:, None]
        d_gram = -d_distance * (1 - p["gram"] >= 0)
        return ((d_gram + d_gram.T) @ y_pred).astype(y_pred.dtype, copy=False)

    def gradient(self, y_pred, y_true):
        return self._gradient(y_pred, y_true, 1.0)

    def weighted_gradient(self, y_pred, y_true, sample_weight):
        return self._gradient(y_pred, y_true, _per_sample(sample_weight, y_pred)[:, 0])
