"""Losses of one value per sample computed from the sample's whole output vector, not a sum of
one term per value: Keras' categorical hinge and cosine similarity.

Each gives its per-sample values (n,) and their gradient (n, k); the mean over samples, the sample
weights and the scale of the gradient are shared (``_PerSampleLoss``). For an image-shaped output
(n, H, W, k), each pixel's k values are one "sample" of the mean, as Keras reduces them.
"""
import numbers

import numpy as np

from .. import backend

from ._numerics import _per_sample
from .base import DEFAULT_REDUCTION, Loss, WithSettings


class _PerSampleLoss(Loss):
    """Subclasses give ``_values(y_pred, y_true)`` -> (n, ...) and ``_gradients`` -> y_pred's shape."""

    axis = -1       # the axis of a sample's vector (CosineSimilarity takes another)

    def __call__(self, y_pred, y_true):
        values = self._values(y_pred, self._targets(y_pred, y_true))
        return float(values.sum()) / values.size

    def per_sample(self, y_pred, y_true):
        return self._values(y_pred, self._targets(y_pred, y_true))

    def weighted(self, y_pred, y_true, sample_weight):
        values = self._values(y_pred, self._targets(y_pred, y_true))
        values = values * _per_sample(sample_weight, values)
        return float(values.sum()) / values.size

    def gradient(self, y_pred, y_true):
        g = self._gradients(y_pred, self._targets(y_pred, y_true))
        g *= 1.0 / (g.size // g.shape[self.axis])
        return g


class CategoricalHinge(_PerSampleLoss):
    """Keras' ``categorical_hinge``: per sample ``max(neg - pos + 1, 0)`` with ``pos = sum(y p)``
    (the true class's score, for one-hot targets y) and ``neg = max((1 - y) p)`` (the best other
    score): the true class should beat every other by a margin of 1 (Crammer and Singer's
    multi-class SVM loss); the mean over samples. Targets one-hot (Keras also documents -1/+1
    ones, which the same formula takes as they are).

    Gradient, where the margin is violated: ``-y`` plus ``1 - y`` at the best other class (the
    first of tied ones), over n; 0 elsewhere.

    >>> round(CategoricalHinge()(np.array([[2.0, 1.5, -1.0]]), np.array([[1.0, 0.0, 0.0]])), 6)
    0.5
    """
    name = "categorical_hinge"

    def _parts(self, y_pred, y_true):
        y = y_true.astype(y_pred.dtype, copy=False)
        others = (1 - y) * y_pred
        return y, others, np.maximum((others.max(axis=-1) - (y * y_pred).sum(axis=-1)) + 1, 0)

    def _values(self, y_pred, y_true):
        return self._parts(y_pred, y_true)[2]

    def _gradients(self, y_pred, y_true):
        y, others, margin = self._parts(y_pred, y_true)
        # neg moves with (1 - y) p at its largest entry, pos with y p
        best = np.zeros_like(y_pred)
        np.put_along_axis(best, others.argmax(axis=-1)[..., None], 1, axis=-1)
        g = best * (1 - y) - y
        g *= (margin > 0)[..., None]
        return g


class CosineSimilarity(WithSettings, _PerSampleLoss):
    """Keras' ``cosine_similarity`` loss: per sample ``-sum(t_hat p_hat)``, the negated cosine of
    the angle between target and prediction, each normalised as ``x / max(||x||, 1e-7)`` (Keras'
    guard, over the last axis); the mean over samples, from -1 (same direction) to 1 (opposite).
    Only the direction of the prediction matters.

    Gradient: ``-(t_hat - (t_hat . p_hat) p_hat) / ||p||`` over n (``-t_hat / 1e-7`` for a
    prediction shorter than 1e-7, where the guard holds its length fixed).

    ``axis`` (Keras' argument, default -1): the axis of the vectors compared, counted as Keras
    counts it, from the batch axis 0 (which it cannot be): ``axis=1`` on outputs (n, T, k) compares
    each of the k channels' T-step profiles, and the mean is over the n * k values.

    >>> CosineSimilarity()(np.array([[2.0, 0.0], [0.0, 3.0]]), np.array([[1.0, 0.0], [1.0, 0.0]]))
    -0.5
    """
    name = "cosine_similarity"

    def __init__(self, axis=-1, reduction=DEFAULT_REDUCTION, name=None):
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or axis == 0:
            raise ValueError(f"CosineSimilarity: axis must be an integer naming an axis of the outputs other than "
                             f"the batch axis 0 (-1, the default, is the last), got {axis!r:.40}")
        self.axis = int(axis)
        self._take_reduction(reduction, name)

    def _vector_axis(self, x):
        """``axis`` checked against the outputs ``x`` at call time (an int may name an axis they lack)."""
        axis = self.axis
        if axis != -1 and not (-x.ndim < axis < x.ndim and axis % x.ndim != 0):
            raise ValueError(f"CosineSimilarity: axis={axis} does not name a non-batch axis of outputs of shape "
                             f"{x.shape}")
        return axis

    def prepare_targets(self, y, n_outputs, dtype, name="y"):
        # one unit normalises to +-1 whatever it outputs: its gradient is 0 everywhere (Keras
        # trains nothing there either, silently)
        if n_outputs == 1:
            raise ValueError(f"{name}: cosine_similarity compares directions of output vectors, and a "
                             f"model with one output unit has none to learn (its gradient is always 0); "
                             f"use it with several units")
        return super().prepare_targets(y, n_outputs, dtype, name)

    def _normalised(self, x, axis):
        norm = np.maximum(np.sqrt((x * x).sum(axis=axis, keepdims=True)), backend.epsilon())
        return x / norm, norm

    def _values(self, y_pred, y_true):
        axis = self._vector_axis(y_pred)
        t_hat, _ = self._normalised(y_true.astype(y_pred.dtype, copy=False), axis)
        p_hat, _ = self._normalised(y_pred, axis)
        return -(t_hat * p_hat).sum(axis=axis)

    def _gradients(self, y_pred, y_true):
        axis = self._vector_axis(y_pred)
        t_hat, _ = self._normalised(y_true.astype(y_pred.dtype, copy=False), axis)
        p_hat, norm = self._normalised(y_pred, axis)
        # below the guard the length is the constant 1e-7: only the numerator moves
        along = np.where(norm > backend.epsilon(), (t_hat * p_hat).sum(axis=axis, keepdims=True), 0)
        return -(t_hat - along * p_hat) / norm
