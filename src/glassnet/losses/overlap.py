"""Losses of overlap, for segmentation: Keras' ``dice`` and ``tversky``.

Each compares the predicted mask ``p`` (probabilities, a sigmoid or softmax output) with the target
mask ``y`` (0 and 1) through sums over ``axis``:

    dice     1 - 2 sum(y p) / (sum(y) + sum(p) + eps)
    tversky  1 - sum(y p) / (sum(y p) + alpha sum(y (1 - p)) + beta sum((1 - y) p) + eps)

with eps = 1e-7 (Keras'). Tversky's ``alpha`` weighs the target pixels the prediction misses and
``beta`` the pixels it adds (Keras' code names them the other way round; its formula is this one);
at alpha = beta = 0.5 it is the Dice loss of the same sums, up to eps.

``axis``: Keras' default, None, sums over everything, the whole batch as one mask, so the loss is a
single ratio and sample weights cannot weigh samples: as in Keras 3.15 they scale it, the ratio's loss
times each weight, reduced as Keras reduces those n values (the batch's mean weight by default, their
sum for ``reduction="sum"``, none for ``"mean_with_sample_weight"``; class weights the same). Axes
that sum over the samples but not over everything are refused with weights (Keras would multiply
its remaining values by the weights, of another shape).
``axis=(1, 2, 3)`` for images (n, H, W, k) gives one ratio per sample, averaged over the batch, and
takes sample weights as the other losses do (Keras' ``sum_over_batch_size``). Any axes may be given;
the ratios are averaged over whatever the sums leave, as Keras reduces them.

Gradient of one ratio's loss, with I = sum(y p) and S the denominator:
dice ``(2 I - 2 y S) / S^2``; tversky ``-(y S - I (y (1 - alpha) + beta (1 - y))) / S^2``, each over
the number of ratios averaged.
"""
import numbers

import numpy as np

from .. import backend

from .base import DEFAULT_REDUCTION, Loss, WithSettings



def _check_axis(axis, cls):
    """``axis`` as None or a tuple of ints (a list, as a model file stores it, too)."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, numbers.Integral) and not isinstance(axis, bool) else axis
    if not isinstance(axes, (tuple, list)) or not axes or not all(
            isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axes) or len(set(axes)) != len(axes):
        raise ValueError(f"{cls}: axis must be None, an integer or a tuple of distinct integers, got {axis!r:.60}")
    return tuple(int(a) for a in axes)


class _Overlap(WithSettings, Loss):
    """Shared by Dice and Tversky: the ratios over ``axis`` (``_ratio``), their mean, weights and
    gradient. A subclass gives ``_ratio(y, p, axes) -> (loss per ratio, d(loss per ratio)/dp)``."""

    def __init__(self, axis=None, reduction=DEFAULT_REDUCTION, name=None):
        self.axis = _check_axis(axis, type(self).__name__)
        self._take_reduction(reduction, name)

    def per_sample(self, y_pred, y_true):
        """Keras' values: the ratios' losses, a number for ``axis=None``, else with the summed axes gone."""
        values, _, axes = self._parts(y_pred, y_true)
        return values.reshape(tuple(d for i, d in enumerate(values.shape) if i not in axes))

    def _value_count(self, y_pred, y_true):
        axes = self._axes(y_pred)
        return int(np.prod([d for i, d in enumerate(y_pred.shape) if i not in axes]))

    def _axes(self, y_pred):
        """The axes summed over, non-negative, checked against ``y_pred``'s rank."""
        if self.axis is None:
            return tuple(range(y_pred.ndim))
        axes = tuple(a % y_pred.ndim if -y_pred.ndim <= a < y_pred.ndim else None for a in self.axis)
        if None in axes:
            raise ValueError(f"{self.name}: axis={self.axis} does not fit outputs of shape {tuple(y_pred.shape)}")
        return axes

    def _parts(self, y_pred, y_true):
        y = self._targets(y_pred, y_true).astype(y_pred.dtype, copy=False)
        axes = self._axes(y_pred)
        values, slopes = self._ratio(y, y_pred, axes)
        return values, slopes, axes

    def __call__(self, y_pred, y_true):
        values, _, _ = self._parts(y_pred, y_true)
        return float(values.sum()) / values.size

    def _weights(self, sample_weight, values, axes, n):
        """The weights against ``values``: one per sample, or for the batch's one ratio (``axis``
        summing over everything) their mean, Keras' ``sum(loss * w) / n`` over its n values."""
        if 0 in axes and values.size != 1:
            raise ValueError(f"{self.name}: axis={self.axis} sums over the samples but not over every axis, so "
                             f"sample weights, one per sample, cannot weigh its {values.size} ratios; give "
                             f"axis=(1, ..., k) for one ratio per sample, or axis=None for one ratio per batch")
        w = np.asarray(sample_weight, dtype=values.dtype)
        if w.shape != (n,):
            raise ValueError(f"sample_weight: expected one weight per sample, shape ({n},), got "
                             f"shape {w.shape}")
        if 0 in axes:
            return w.sum() / n
        return w.reshape((-1,) + (1,) * (values.ndim - 1))

    def _reduction_counts(self, view, y_pred, y_true, weights, mask):
        # the batch's one ratio, weighted: Keras reduces the n values ratio * w_i (see _weights)
        if weights is not None and weights.ndim == 1 and 0 in view._axes(y_pred):
            n = weights.size
            return n, n, float(weights.sum(dtype="float64"))
        return super()._reduction_counts(view, y_pred, y_true, weights, mask)

    def weighted(self, y_pred, y_true, sample_weight):
        values, _, axes = self._parts(y_pred, y_true)
        weights = self._weights(sample_weight, values, axes, y_pred.shape[0])
        return float((values * weights).sum()) / values.size

    def gradient(self, y_pred, y_true):
        values, slopes, _ = self._parts(y_pred, y_true)
        return slopes / values.size

    def weighted_gradient(self, y_pred, y_true, sample_weight):
        values, slopes, axes = self._parts(y_pred, y_true)
        # the unweighted gradient's rounding, w times: weights of one give it bit for bit
        return slopes * self._weights(sample_weight, values, axes, y_pred.shape[0]) / values.size


class Dice(_Overlap):
    """Keras' Dice loss, ``1 - 2 sum(y p) / (sum(y) + sum(p) + 1e-7)`` over ``axis`` (None: the
    whole batch; ``(1, 2, 3)``: each image's), the mean of the ratios (see the module docstring).

    >>> y = np.array([[[[1.0], [1.0]], [[0.0], [0.0]]], [[[1.0], [1.0]], [[0.0], [0.0]]]])
    >>> p = np.array([[[[0.0], [1.0]], [[0.0], [1.0]]], [[[0.4], [0.0]], [[0.0], [0.9]]]])
    >>> round(Dice()(p, y), 6), round(Dice(axis=(1, 2, 3))(p, y), 6)       # Keras' own example
    (0.616438, 0.628788)
    """
    name = "dice"

    def _ratio(self, y, p, axes):
        intersection = (y * p).sum(axis=axes, keepdims=True)
        total = y.sum(axis=axes, keepdims=True) + p.sum(axis=axes, keepdims=True) + backend.epsilon()
        values = 1 - 2 * intersection / total
        slopes = (2 * intersection - 2 * y * total) / total ** 2
        return values, slopes


class Tversky(_Overlap):
    """Keras' Tversky loss, ``1 - sum(y p) / (sum(y p) + alpha sum(y (1 - p)) + beta sum((1 - y) p)
    + 1e-7)`` over ``axis``: ``alpha`` weighs the target pixels missed, ``beta`` those added (see
    the module docstring). alpha = beta = 0.5 gives Dice's loss.

    >>> y, p = np.array([[1.0, 1.0, 0.0, 0.0]]), np.array([[1.0, 0.0, 1.0, 1.0]])
    >>> round(Tversky(alpha=0.7, beta=0.3)(p, y), 6)        # 1 - 1 / (1 + 0.7 * 1 + 0.3 * 2)
    0.565217
    """
    name = "tversky"

    def __init__(self, alpha=0.5, beta=0.5, axis=None, reduction=DEFAULT_REDUCTION, name=None):
        for what, value in (("alpha", alpha), ("beta", beta)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
                raise ValueError(f"Tversky: {what} must be a finite number >= 0, got {value!r:.40}")
        self.alpha, self.beta = float(alpha), float(beta)
        super().__init__(axis, reduction, name)

    def _ratio(self, y, p, axes):
        a, b = self.alpha, self.beta
        intersection = (y * p).sum(axis=axes, keepdims=True)
        missed = (y * (1 - p)).sum(axis=axes, keepdims=True)
        added = ((1 - y) * p).sum(axis=axes, keepdims=True)
        total = intersection + a * missed + b * added + backend.epsilon()
        values = 1 - intersection / total
        slopes = -(y * total - intersection * (y * (1 - a) + b * (1 - y))) / total ** 2
        return values, slopes
