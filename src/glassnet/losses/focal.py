"""Focal cross-entropies (Lin et al. 2017): cross-entropy with each term scaled down by how well
it is already predicted, ``(1 - p_t)^gamma``, so that the many easy examples of an imbalanced
problem stop drowning out the few hard ones. Keras 3's formulas.

Neither fuses with its output activation: their gradient goes through the sigmoid's or softmax's
own backward, as any unfused loss does, with the probabilities clipped to [1e-7, 1 - 1e-7] as in
Keras: an output saturated on the wrong side (a true class's softmax output below 1e-7, the
hardest example there is) gets no gradient at all, in Keras too. Keep the logits moderate (an L2
penalty, a lower learning rate) when that matters. Two exceptions, both Keras': the binary loss
with ``from_logits=True`` takes its cross-entropy from the logits, exactly, unclipped (Keras'
``binary_crossentropy(from_logits=True)``), so a logit of 30 on a negative costs about 30 and
keeps its gradient; and after a sigmoid output with ``from_logits=False`` it is fused, as the
binary cross-entropy is: its cross-entropy from the logits behind the sigmoid, unclipped, as Keras
3.15 on TensorFlow takes it (its backend's ``_get_logits``), so a sigmoid output saturated beyond
about 1 - 1e-7 trains on (docs/keras_parity.md).
"""
import numpy as np

from .. import backend

from .._validation import check_flag, check_number
from ._numerics import _per_sample, _zero_where_clipped
from .base import DEFAULT_REDUCTION
from .crossentropy import BinaryCrossentropy, CategoricalCrossentropy, backprop_rescaled, rescaled


class _ThroughProbabilities:
    """The focal losses' gradient: their formula reads probabilities (``_probability_gradient``);
    on logits (``from_logits=True``) the gradient goes on back through the sigmoid or softmax."""

    def gradient(self, y_pred, y_true):
        if self.from_logits:
            p = self.probabilities(y_pred)
            return self._through_activation(self._probability_gradient(p, y_true), y_pred, p)
        return self._probability_gradient(y_pred, y_true)


class BinaryFocalCrossentropy(_ThroughProbabilities, BinaryCrossentropy):      # WithSettings through it: a repr of its settings
    """Keras' ``binary_focal_crossentropy``: per output value ``(1 - p_t)^gamma * bce``, with
    ``p_t = y p + (1 - y)(1 - p)`` (the probability given to the right answer) and ``bce`` the
    binary cross-entropy of p clipped to [1e-7, 1 - 1e-7]; with ``apply_class_balancing`` times
    ``alpha`` for positives and ``1 - alpha`` for negatives. The mean over all n * k values.
    ``gamma=0`` without balancing is ``binary_crossentropy``.

    ``1 - p_t`` is taken as 0 where it would be negative (an output beyond its target: a
    linear or tanh output above 1 for a positive), where Keras gives NaN for a gamma below 1; and
    where it is 0 (a saturated output on the right side), the focal factor's derivative is taken as
    0 (it is, for gamma > 1).

    A model file records its settings (as for ``Huber``).
    """
    name = "binary_focal_crossentropy"
    # after a sigmoid output its cross-entropy comes from the logits, as Keras-TF's (the fused
    # methods below are its own: see Loss.fused_activation)
    fuses = "sigmoid"

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                 reduction=DEFAULT_REDUCTION, name=None):
        super().__init__(from_logits, label_smoothing, reduction, name)
        self.apply_class_balancing = check_flag(apply_class_balancing,
                                                "BinaryFocalCrossentropy: apply_class_balancing", ValueError)
        self.alpha = check_number(alpha, "BinaryFocalCrossentropy: alpha", "[0, 1]")
        self.gamma = check_number(gamma, "BinaryFocalCrossentropy: gamma", ">= 0")

    def _parts(self, y_pred, y_true, z=None):
        """(y, 1 - p_t, the clipped p, bce, the balancing weight or None), all of y_pred's shape;
        with the logits ``z`` (``from_logits=True``) bce is theirs, exact and unclipped, as Keras'
        ``binary_crossentropy(from_logits=True)``."""
        y = y_true.astype(y_pred.dtype, copy=False)
        p_t = y * y_pred + (1 - y) * (1 - y_pred)
        if z is None:
            p = np.clip(y_pred, backend.epsilon(), 1 - backend.epsilon())
            bce = -(y * np.log(p) + (1 - y) * np.log1p(-p))
        else:
            p = y_pred
            bce = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
        weight = y * self.alpha + (1 - y) * (1 - self.alpha) if self.apply_class_balancing else None
        return y, np.maximum(1 - p_t, 0), p, bce, weight

    def _terms(self, y_pred, y_true):
        """Each value's term, for outputs ``y_pred`` as the model gives them (logits or probabilities)."""
        p = self._outputs(y_pred)
        y, q, _, bce, weight = self._parts(p, self._smooth(self._targets(p, y_true)),
                                           y_pred if self.from_logits else None)
        terms = q ** self.gamma * bce
        return terms if weight is None else terms * weight

    def __call__(self, y_pred, y_true):
        return float(np.mean(self._terms(y_pred, y_true)))

    def per_sample(self, y_pred, y_true):
        return self._terms(y_pred, y_true).mean(axis=-1)

    def weighted(self, y_pred, y_true, sample_weight):
        terms = self._terms(y_pred, y_true)
        terms *= _per_sample(sample_weight, terms)
        return float(np.mean(terms))

    def gradient(self, y_pred, y_true):
        if not self.from_logits:
            return self._probability_gradient(y_pred, y_true)
        p = self.probabilities(y_pred)
        return self._logit_gradient(y_pred, p, self._smooth(self._targets(p, y_true)))

    def _logit_gradient(self, z, p, y):
        """dL/dz on the logits ``z`` (None: the cross-entropy from ``p``, which the first term needs
        only where p (1 - p) > 0), p = sigmoid(z), ``y`` the smoothed targets; nothing clipped:
        q = 1 - p_t moves by (1 - 2y) p (1 - p) per unit of z and the cross-entropy of the logits
        by p - y (Keras-TF's gradient after a sigmoid output, whose backward is p (1 - p))."""
        y = y.astype(p.dtype, copy=False)
        q = np.maximum(1 - (y * p + (1 - y) * (1 - p)), 0)
        slope = p * (1 - p)
        if z is None:
            inside = slope > 0
            safe = np.where(inside, p, 0.5)
            bce = np.where(inside, -(y * np.log(safe) + (1 - y) * np.log1p(-safe)), 0)
        else:
            bce = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
        positive = q > 0
        factor = np.where(positive, np.power(np.where(positive, q, 1), self.gamma - 1), 0)
        g = self.gamma * factor * (1 - 2 * y) * bce * slope
        g += q ** self.gamma * (p - y)
        if self.apply_class_balancing:
            g *= y * self.alpha + (1 - y) * (1 - self.alpha)
        g *= 1.0 / g.size
        return g

    # fused with a sigmoid output (from_logits=False): z its logits, a = sigmoid(z), the targets as
    # the loss takes them; the cross-entropy from z, exact, the focal factor from a (Keras-TF's)
    def _fused_terms(self, z, a, y_true):
        y, q, _, bce, weight = self._parts(a, self._smooth(y_true), z)
        terms = q ** self.gamma * bce
        return terms if weight is None else terms * weight

    def per_sample_from_logits(self, z, a, y_true):
        return self._fused_terms(z, a, self._targets(a, y_true)).mean(axis=-1)

    def value_from_logits(self, z, a, y_true):
        return float(np.mean(self._fused_terms(z, a, y_true)))

    def weighted_from_logits(self, z, a, y_true, sample_weight):
        terms = self._fused_terms(z, a, y_true)
        terms *= _per_sample(sample_weight, terms)
        return float(np.mean(terms))

    def gradient_from_logits(self, a, y_true):
        return self._logit_gradient(None, a, self._smooth(y_true))

    def from_logits_and_gradient(self, z, a, y_true):
        y = self._smooth(y_true)
        return self.value_from_logits(z, a, y_true), self._logit_gradient(z, a, y)

    def output_gradient_unclipped(self, a, y_true):
        """dL/dA of the fused value (nothing clipped): infinite where a sigmoid output is exactly 0
        or 1 on the wrong side, while dL/dz stays finite. ``model.trace`` shows it as the output's dA."""
        y = self._smooth(self._targets(a, y_true)).astype(a.dtype, copy=False)
        q = np.maximum(1 - (y * a + (1 - y) * (1 - a)), 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            bce = -(np.where(y == 0, 0.0, y * np.log(a)) + np.where(y == 1, 0.0, (1 - y) * np.log1p(-a)))
            positive = q > 0
            factor = np.where(positive, np.power(np.where(positive, q, 1), self.gamma - 1), 0)
            g = self.gamma * factor * (1 - 2 * y) * bce + q ** self.gamma * (
                np.where(y == 0, 0.0, -y / a) + np.where(y == 1, 0.0, (1 - y) / (1 - a)))
        if self.apply_class_balancing:
            g = g * (y * self.alpha + (1 - y) * (1 - self.alpha))
        return (g / a.size).astype(a.dtype, copy=False)

    def _probability_gradient(self, y_pred, y_true):
        """dL/dp for probabilities ``y_pred``."""
        y, q, p, bce, weight = self._parts(y_pred, self._smooth(self._targets(y_pred, y_true)))
        # d/dp of q^gamma * bce(p): q = 1 - p_t moves by -(2y - 1) per unit of p
        # q^(gamma - 1), 0 where q = 0 (a negative power of 0 would be inf, times a bce of 0: NaN);
        # by where() rather than power's where=, which CuPy's ufuncs do not take
        positive = q > 0
        slope = np.where(positive, np.power(np.where(positive, q, 1), self.gamma - 1), 0)
        g = self.gamma * slope * (1 - 2 * y) * bce
        g += q ** self.gamma * _zero_where_clipped((p - y) / (p * (1 - p)), y_pred)
        if weight is not None:
            g *= weight
        g *= 1.0 / g.size
        return g


class CategoricalFocalCrossentropy(_ThroughProbabilities, CategoricalCrossentropy):
    """Keras' ``categorical_focal_crossentropy``: per sample ``-sum(alpha (1 - p)^gamma y log p)``
    over the k outputs, p clipped to [1e-7, 1 - 1e-7]; the mean over samples. Targets one-hot (or
    distributions), as for ``categorical_crossentropy``; like it (and Keras), each row of
    probabilities is divided by its sum before the clip (a softmax's rows sum to 1 already; a
    linear head's do not), and the gradient goes back through that division.

    ``alpha`` is one number for every class, or, as Keras takes it, a list of k numbers >= 0, one
    per class (inverse class frequencies, say): class c's terms are weighed by ``alpha[c]``. A
    list of one number is that number for every class (Keras broadcasts it so).

    A model file records its settings (as for ``Huber``).
    """
    name = "categorical_focal_crossentropy"
    fuses = None         # its value and gradient are its own (see Loss.fused_activation)

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, reduction=DEFAULT_REDUCTION,
                 name=None):
        super().__init__(from_logits, label_smoothing, reduction, name)
        self.alpha = _class_weights(alpha)
        self.gamma = check_number(gamma, "CategoricalFocalCrossentropy: gamma", ">= 0")
        if not isinstance(self.alpha, float) and self.axis != -1:
            # Keras 3.15 multiplies by the list along the last axis, not the classes' (a list of C
            # weights then fails, or weighs the steps, on (n, C, L))
            raise ValueError(f"CategoricalFocalCrossentropy: alpha as one weight per class with axis={self.axis}: "
                             f"Keras weighs the last axis with it, not the classes'; give one number, or axis=-1")

    def _alpha(self, y_pred):
        """``alpha`` to multiply (n, k) values of ``y_pred``'s dtype: the number, or the per-class
        weights as a (k,) array of that dtype (no float64 up-cast of float32 work)."""
        if isinstance(self.alpha, float):
            return self.alpha
        if len(self.alpha) != y_pred.shape[-1]:
            raise ValueError(f"CategoricalFocalCrossentropy: alpha gives {len(self.alpha)} class weights, "
                             f"the outputs have {y_pred.shape[-1]} classes")
        return backend.get_array_module(y_pred).asarray(self.alpha, dtype=y_pred.dtype)

    def prepare_targets(self, y, n_outputs, dtype, name="y"):
        """Targets (n, k) of values >= 0 (one-hot, soft labels, or rows of any sum, which Keras
        takes too: this loss does not fuse, so nothing asks them to sum to 1)."""
        if not isinstance(self.alpha, float) and len(self.alpha) != n_outputs:
            raise ValueError(f"{name}: CategoricalFocalCrossentropy's alpha gives {len(self.alpha)} class "
                             f"weights, the model's output has {n_outputs} classes")
        y = super(CategoricalCrossentropy, self).prepare_targets(y, n_outputs, dtype, name)
        if y.size and y.min() < 0:
            raise ValueError(f"{name}: {self.name} expects targets >= 0 (one-hot or soft labels), got "
                             f"values from {y.min()} to {y.max()}")
        return y

    def _sample_values(self, y_pred, y_true):
        y_pred = self._outputs(y_pred)
        y = self._smooth(self._targets(y_pred, y_true)).astype(y_pred.dtype, copy=False)
        p = np.clip(rescaled(y_pred), backend.epsilon(), 1 - backend.epsilon())
        return -(self._alpha(y_pred) * (1 - p) ** self.gamma * y * np.log(p)).sum(axis=-1)

    def __call__(self, y_pred, y_true):
        values = self._sample_values(y_pred, y_true)
        return float(values.sum()) / values.size

    per_sample = _sample_values

    def weighted(self, y_pred, y_true, sample_weight):
        values = self._sample_values(y_pred, y_true)
        values = values * _per_sample(sample_weight, values)
        return float(values.sum()) / values.size

    def _probability_gradient(self, y_pred, y_true):
        """dL/dp for probabilities ``y_pred``."""
        y = self._smooth(self._targets(y_pred, y_true)).astype(y_pred.dtype, copy=False)
        sums = y_pred.sum(axis=-1, keepdims=True)
        r = rescaled(y_pred, sums)                 # rows divided by their sum, as Keras does
        p = np.clip(r, backend.epsilon(), 1 - backend.epsilon())
        q = 1 - p                                  # >= 1e-7: no 0 to a negative power
        # d/dp of -alpha q^gamma y log p, then back through the clip and the division
        g = self._alpha(y_pred) * y * (self.gamma * q ** (self.gamma - 1) * np.log(p) - q ** self.gamma / p)
        g *= 1.0 / (g.size // g.shape[-1])
        return backprop_rescaled(_zero_where_clipped(g, r), r, sums)


def _class_weights(alpha):
    """CategoricalFocalCrossentropy's ``alpha``: a float >= 0, or a tuple of them (one per class,
    Keras' list; a tuple, so that model files keep it as a list)."""
    if isinstance(alpha, (list, tuple)) or getattr(alpha, "ndim", 0) == 1:
        if len(alpha) == 0:
            raise ValueError("CategoricalFocalCrossentropy: alpha must be a number >= 0 or a list of one per "
                             "class, got an empty list")
        weights = tuple(check_number(a, f"CategoricalFocalCrossentropy: alpha[{i}]", ">= 0") for i, a in enumerate(alpha))
        # [w]: Keras multiplies by it, broadcast over the k classes, as by the number w
        return weights[0] if len(weights) == 1 else weights
    return check_number(alpha, "CategoricalFocalCrossentropy: alpha", ">= 0")
