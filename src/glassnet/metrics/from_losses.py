"""Keras' metric classes that are a loss's mean over every sample seen: the probabilistic ones
(``BinaryCrossentropy``, ``CategoricalCrossentropy``, ``SparseCategoricalCrossentropy``,
``KLDivergence``, ``Poisson``), the regression ones (``MeanAbsolutePercentageError``,
``MeanSquaredLogarithmicError``, ``LogCoshError``, ``CosineSimilarity``) and the hinges (``Hinge``,
``SquaredHinge``, ``CategoricalHinge``).

Each computes its value with the loss of the same name in ``glassnet.losses``, so a metric and a
loss never disagree, and averages it over samples: a sample's value is its loss (over its output
units; for a sequence's outputs (n, T, k), the mean over its positions), and the epoch's value is
the mean over the samples, weighted by ``sample_weight`` when given ((n,), or (n, T) per position).
One difference in sign: ``CosineSimilarity`` the metric is the cosine itself, from -1 to 1, higher
is better, where the loss is its negative (as in Keras).
"""
import numbers

import numpy as np

from .. import backend, losses
from .._validation import shown
from .base import Average, Metric, value_weights


class _LossMean(Average):
    """The mean of ``loss_class(**settings)`` over samples; ``sign`` -1 reports the loss negated."""

    loss_class = None
    sign = 1.0
    direction = "down"

    def __init__(self, name=None, dtype=None, **settings):
        caller = type(self).__name__
        axis = settings.pop("axis", -1)
        # by type first: an array's != is elementwise, and its truth value NumPy's error naming no argument
        if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Real):
            raise TypeError(f"{caller}: axis: expected an integer (only -1, the output units, is supported), "
                            f"got {shown(axis)}")
        if axis != -1:          # Keras' other axes: the losses here reduce over the last one only
            raise ValueError(f"{caller}: axis: only -1 (the output units) is supported, got {axis!r:.40}")
        try:
            self.loss = self.loss_class(**settings)
        except TypeError as exc:
            raise TypeError(f"{caller}: {exc}") from None
        self.settings = settings
        super().__init__(name, dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        xp = backend.get_array_module(y_pred)
        y_pred = xp.asarray(y_pred)
        if y_pred.dtype.kind != "f":
            y_pred = y_pred.astype("float32")
        if y_pred.ndim == 1:            # one output unit given as (n,)
            y_pred = y_pred[:, None]
        n, units = y_pred.shape[0], y_pred.shape[-1]
        if n == 0:
            return
        # every position's units as one row: the loss's mean over rows is then the mean over
        # positions, and weights per sample or per position are weights per row
        rows = y_pred.reshape(-1, units)
        if self.loss.sparse:
            targets = xp.asarray(y_true)
            if targets.shape == (*y_pred.shape[:-1], 1):
                targets = targets[..., 0]
            if targets.shape != y_pred.shape[:-1]:
                raise ValueError(f"{self.name}: expected integer labels of shape {tuple(y_pred.shape[:-1])} for "
                                 f"outputs of shape {tuple(y_pred.shape)}, got shape {tuple(targets.shape)}")
            targets = targets.reshape(-1)
        else:
            targets = losses.aligned_targets(y_pred, y_true, self.name).reshape(-1, units)
        per_sample = rows.shape[0] // n         # positions per sample
        if sample_weight is None:
            self.total += self.sign * self.loss(rows, targets) * n
            self.count += n
            return
        if np.ndim(sample_weight) == 0:
            # one number for the batch: its mean counts w times, as Keras' Mean counts it (not w per sample)
            weight = float(value_weights(sample_weight, (1,), self.name, xp)[0])
            self.total += self.sign * self.loss(rows, targets) * weight
            self.count += weight
            return
        weights = value_weights(sample_weight, y_pred.shape[:-1], self.name, xp).reshape(-1)
        # loss.weighted: sum(w * loss per row) / rows; a sample's positions share its count of 1
        value = self.loss.weighted(rows, targets, weights.astype(rows.dtype)) * n
        ignored = getattr(self.loss, "ignore_class", None)
        if ignored is not None:
            # SparseCategoricalCrossentropy(ignore_class=c) divides by the rows that count, not by
            # their weights: the batch's value is then the weighted mean over them, sum(w loss) /
            # sum(w), and it weighs what its samples weigh, as the unweighted batch weighs n
            counted = targets != ignored
            weight = float(weights[counted].sum())
            value = value * (float(counted.sum()) / weight if weight else 0.0) * float(weights.sum()) / rows.shape[0]
        self.total += self.sign * value
        self.count += float(weights.sum()) / per_sample

    def get_config(self):
        return {**self.settings, "name": self.name}


class LossMean(_LossMean):
    """The mean over samples of any ``loss`` (a ``glassnet.losses.Loss``), as the classes below
    are of theirs: what ``compile(weighted_metrics=[...])`` makes of a loss named there.

    >>> import numpy as np
    >>> from glassnet import losses
    >>> m = LossMean(losses.get("mae"))
    >>> m(np.array([[0.0], [0.0]]), np.array([[1.0], [3.0]]), sample_weight=[3, 1])   # (3 + 3) / 4
    1.5
    """

    def __init__(self, loss, name=None):
        # the mean over samples whatever the loss's reduction ("sum" would count each sample n times)
        self.loss, self.settings, self.default_name = losses.per_sample_mean(loss), {}, loss.name
        Metric.__init__(self, name)


class BinaryCrossentropy(_LossMean):
    """The binary cross-entropy of ``glassnet.losses.BinaryCrossentropy`` (outputs clipped to
    [1e-7, 1 - 1e-7]; ``from_logits``, ``label_smoothing`` as there), averaged over samples.

    >>> import numpy as np
    >>> round(BinaryCrossentropy()(np.array([[0.0, 1.0], [0.0, 0.0]]), np.array([[0.6, 0.4], [0.4, 0.6]])), 4)
    0.8149
    """
    default_name, loss_class = "binary_crossentropy", losses.BinaryCrossentropy

    def __init__(self, name=None, dtype=None, from_logits=False, label_smoothing=0.0):      # Keras' order
        super().__init__(name, dtype, from_logits=from_logits, label_smoothing=label_smoothing)


class CategoricalCrossentropy(_LossMean):
    """The categorical cross-entropy of one-hot (or soft) targets, averaged over samples; arguments
    as ``glassnet.losses.CategoricalCrossentropy``'s (Keras' ``axis`` only as -1).

    >>> import numpy as np
    >>> round(CategoricalCrossentropy()(np.array([[0, 1, 0], [0, 0, 1]]),
    ...                                 np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])), 4)
    1.1769
    """
    default_name, loss_class = "categorical_crossentropy", losses.CategoricalCrossentropy

    def __init__(self, name=None, dtype=None, from_logits=False, label_smoothing=0.0, axis=-1):
        super().__init__(name, dtype, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(_LossMean):
    """The categorical cross-entropy of integer labels (n,), averaged over samples.

    >>> import numpy as np
    >>> round(SparseCategoricalCrossentropy()(np.array([1, 2]), np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])), 4)
    1.1769
    """
    default_name, loss_class = "sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy

    def __init__(self, name=None, dtype=None, from_logits=False, ignore_class=None, axis=-1):
        # Keras' order; its ignore_class (labels left out of the mean) is not here: refused, so that
        # a positional call or a Keras config giving one is not silently scored on every label
        if ignore_class is not None:
            raise ValueError(f"SparseCategoricalCrossentropy: ignore_class: only None is supported (every "
                             f"label counts), got {ignore_class!r:.40}")
        super().__init__(name, dtype, from_logits=from_logits, axis=axis)


class KLDivergence(_LossMean):
    """``sum(y log(y / p))`` per sample (both clipped to [1e-7, 1]), averaged over samples.

    >>> import numpy as np
    >>> round(KLDivergence()(np.array([[0, 1], [0, 0]]), np.array([[0.6, 0.4], [0.4, 0.6]])), 4)
    0.4581
    """
    default_name, loss_class = "kl_divergence", losses.KLDivergence


class Poisson(_LossMean):
    """``mean(p - y log(p + 1e-7))`` per sample, averaged over samples.

    >>> import numpy as np
    >>> round(Poisson()(np.array([[0, 1], [0, 0]]), np.array([[1, 1], [0, 0]])), 4)
    0.5
    """
    default_name, loss_class = "poisson", losses.Poisson


class MeanAbsolutePercentageError(_LossMean):
    """``100 mean(|y - p| / max(|y|, 1e-7))`` per sample, averaged over samples.

    >>> import numpy as np
    >>> round(MeanAbsolutePercentageError()(np.array([[2.0, 4.0]]), np.array([[1.0, 5.0]])), 4)
    37.5
    """
    default_name, loss_class = "mean_absolute_percentage_error", losses.MeanAbsolutePercentageError


class MeanSquaredLogarithmicError(_LossMean):
    """``mean((log(1 + max(p, 0)) - log(1 + max(y, 0)))^2)`` per sample, averaged over samples.

    >>> import numpy as np
    >>> round(MeanSquaredLogarithmicError()(np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]])), 4)
    0.2402
    """
    default_name, loss_class = "mean_squared_logarithmic_error", losses.MeanSquaredLogarithmicError


class LogCoshError(_LossMean):
    """``mean(log(cosh(p - y)))`` per sample, averaged over samples (Keras names it "logcosh").

    >>> import numpy as np
    >>> round(LogCoshError()(np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]])), 4)
    0.2169
    """
    default_name, loss_class = "logcosh", losses.LogCosh


class CosineSimilarity(_LossMean):
    """The cosine of the angle between each sample's outputs and targets, averaged over samples:
    1 for the same direction, -1 for the opposite one (the loss of this name is its negative).

    >>> import numpy as np
    >>> round(CosineSimilarity()(np.array([[0.0, 1.0], [1.0, 1.0]]), np.array([[1.0, 0.0], [1.0, 1.0]])), 4)
    0.5
    """
    default_name, loss_class, sign, direction = "cosine_similarity", losses.CosineSimilarity, -1.0, "up"

    def __init__(self, name=None, dtype=None, axis=-1):
        super().__init__(name, dtype, axis=axis)


class Hinge(_LossMean):
    """``mean(max(1 - y p, 0))`` per sample, targets -1 or 1 (0/1 taken as -1/1), averaged over samples.

    >>> import numpy as np
    >>> Hinge()(np.array([[0.0, 1.0]]), np.array([[0.5, 0.5]]))
    1.0
    """
    default_name, loss_class = "hinge", losses.Hinge


class SquaredHinge(_LossMean):
    """``mean(max(1 - y p, 0)^2)`` per sample (targets as ``Hinge``), averaged over samples.

    >>> import numpy as np
    >>> SquaredHinge()(np.array([[0.0, 1.0]]), np.array([[0.5, 0.5]]))
    1.25
    """
    default_name, loss_class = "squared_hinge", losses.SquaredHinge


class CategoricalHinge(_LossMean):
    """``max(0, 1 + max_other - true)`` per sample (one-hot targets), averaged over samples.

    >>> import numpy as np
    >>> round(CategoricalHinge()(np.array([[0, 1], [1, 0]]), np.array([[0.4, 0.6], [0.2, 0.8]])), 4)
    1.2
    """
    default_name, loss_class = "categorical_hinge", losses.CategoricalHinge
