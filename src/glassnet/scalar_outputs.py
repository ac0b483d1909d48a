"""Outputs of one number per sample, shape (None,): ``x[:, 0]``, ``ops.sum(x, axis=1)``,
``ops.squeeze(x, -1)``. Keras 3.15 trains them, and what it computes depends on the targets' shape
(measured on Keras 3.15.1, TensorFlow CPU):

- **targets (n, 1)**: Keras' losses expand the output to (n, 1) (``squeeze_or_expand_to_same_rank``),
  so the output trains exactly as a (None, 1) output: a loss per sample, sample weights per sample.
- **targets (n,)**: the loss reduces its last axis, which is now the batch's: one number per batch,
  the mean of the per-sample terms. Sample weights (or class weights, which Keras turns into them)
  then multiply that number: the batch's loss is ``mean(terms) * mean(weights)``, not the weighted
  mean of the terms. Both the value and its gradient are those of the per-sample loss with every
  sample's weight replaced by its batch's mean weight, which is how glassnet computes it. Unweighted,
  Keras keeps that one number whatever the loss's ``reduction``, so ``reduction="sum"`` gives the
  mean of the terms too (weighted, their mean times the sum of the weights): each sample weighted
  1 / batch here (``ScalarRows.of_batch``).

Only losses whose Keras value over the last axis is a mean of elementwise terms take targets (n,)
(``_PER_BATCH_MEAN``); the others couple the batch's samples (a softmax or a sum over the batch,
``categorical_crossentropy``, ``kl_divergence``) or fail in Keras (``sparse_categorical_crossentropy``),
and are refused by name. The metrics Keras scores per sample (binary accuracy, AUC, precision, ...)
are taken, as ``weighted_metrics`` too: those weigh each sample by its own weight whatever the
targets' shape (Keras' metrics take the sample weights as given; only its loss reduces the batch
first), so the per-batch mean weight is the loss's alone (``ScalarRows.weights``); those it
averages per batch over targets (n,) (mae, mse, ... as metrics) and ``accuracy`` (categorical
accuracy over the batch axis in Keras, a TypeError with targets (n, 1)) are refused.
"""
from . import backend
from .losses.crossentropy import BinaryCrossentropy
from .losses.regression import (Hinge, Huber, LogCosh, MeanAbsoluteError, MeanAbsolutePercentageError,
                                MeanSquaredError, MeanSquaredLogarithmicError, Poisson, SquaredHinge)
from .metrics import functions, per_sample
from .metrics.confusion import AUC, _AtThreshold
from .metrics.means import BinaryAccuracy

# Keras' value over the last axis is the mean of elementwise terms: over a (n,) output, the batch mean
_PER_BATCH_MEAN = (MeanSquaredError, MeanAbsoluteError, Huber, LogCosh, Poisson, MeanSquaredLogarithmicError,
                   Hinge, SquaredHinge, MeanAbsolutePercentageError, BinaryCrossentropy)
# metrics Keras scores sample by sample whatever the targets' rank
_PER_SAMPLE_FUNCTIONS = (functions.binary_accuracy, per_sample.binary_accuracy)
_PER_SAMPLE_OBJECTS = (BinaryAccuracy, AUC, _AtThreshold)


def scalar_targets(loss, y, dtype, name, output="the model's output"):
    """``loss``'s check of targets ``y`` of an output of one number per sample: (n, 1) kept as
    (n, 1) (a loss per sample, as a (None, 1) output), (n,) kept as (n,) (Keras' loss per batch:
    see the module docstring); their shape is how the step tells the two apart (``ScalarRows``)."""
    if y.ndim == 2 and y.shape[1] == 1:
        return loss.prepare_targets(y, 1, dtype, name)
    if y.ndim != 1:
        raise ValueError(f"{name}: {output} gives one number per sample, shape (None,): expected targets of "
                         f"shape (n_samples,) or (n_samples, 1), got shape {y.shape}")
    if not isinstance(loss, _PER_BATCH_MEAN):
        raise ValueError(f"{name}: {output} gives one number per sample, shape (None,), and with targets "
                         f"(n_samples,) Keras 3.15 applies {getattr(loss, 'name', type(loss).__name__)!r} across "
                         f"the batch axis (not a loss per sample); give targets of shape (n_samples, 1) to "
                         f"score each sample, or keep the output's last axis (keepdims=True, x[:, 0:1])")
    return loss.prepare_targets(y[:, None], 1, dtype, name)[:, 0]


def check_scalar_metrics(compiled, y, name):
    """Refuse by name the compiled metrics ``[(name, metric)]`` whose Keras 3.15 value on an output
    of one number per sample is not a per-sample score, for targets ``y`` as prepared."""
    from .metrics.weighted import _Accuracy
    for label, fn in compiled:
        # (one output's metric of several: glassnet.outputs; a weighted_metrics one: metrics.weighted,
        # whose __name__ is the name logged, "acc" or "weighted_accuracy", so its class tells)
        metric = getattr(fn, "metric", fn)
        if fn is functions.accuracy or metric is functions.accuracy or isinstance(metric, _Accuracy) or (
                not hasattr(fn, "metric") and getattr(fn, "__name__", None) == "accuracy"):
            raise ValueError(f"{name}: the metric {label!r} on an output of one number per sample, shape (None,), "
                             f"is Keras 3.15's categorical accuracy over the batch axis (targets (n,)) or a "
                             f"TypeError (targets (n, 1)); use 'binary_accuracy'")
        if y.ndim == 1 and not (metric in _PER_SAMPLE_FUNCTIONS or isinstance(metric, _PER_SAMPLE_OBJECTS)):
            raise ValueError(f"{name}: the metric {label!r} on an output of one number per sample, shape (None,), "
                             f"with targets (n_samples,): Keras 3.15 reduces it over the batch axis, one value "
                             f"per batch, which glassnet does not reproduce; give targets of shape "
                             f"(n_samples, 1) to score it per sample")


def pack_scalar_targets(view, y):
    """Write the prepared targets ``y`` of an output of one number per sample, (n,) or (n, 1), into
    their two columns ``view`` (n, 2) of a model of several outputs' packed targets: the values,
    then their form, 1 for (n, 1) (a loss per sample) and 0 for (n,) (Keras' loss per batch). The
    form rides along with every row, so shuffled batches, a validation split and validation data
    of the other form each keep their own (``packed_scalar_targets`` reads it back)."""
    xp = backend.get_array_module(view)
    view[:, 0] = xp.asarray(y).reshape(-1)
    view[:, 1] = 1.0 if y.ndim == 2 else 0.0


def packed_scalar_targets(view):
    """The targets ``pack_scalar_targets`` wrote in ``view`` (n, 2), in their form: (n,) or (n, 1)
    (a view, as packed targets are read)."""
    per_sample = view.shape[0] == 0 or bool(view[0, 1])
    return view[:, 0:1] if per_sample else view[:, 0]


class ScalarRows:
    """``scoring.Rows`` for an output of one number per sample, ``shape`` (batch,): one row of one
    value per sample, so that every loss and metric scores it as a (batch, 1) output. With targets
    (batch,) (``per_batch``), sample weights become their batch's mean (Keras' loss per batch).

    >>> import numpy as np
    >>> rows = ScalarRows((3,), per_batch=True)
    >>> rows.of(np.arange(3.0)).shape, rows.weights(np.array([1.0, 2.0, 6.0])).tolist()
    ((3, 1), [3.0, 3.0, 3.0])
    """
    mask = None
    unweighted = None           # the loss's weights when none are given (``of_batch``)

    def __init__(self, shape, per_batch):
        self.shape = tuple(shape)
        self.per_batch = per_batch

    @classmethod
    def of_batch(cls, out, y, loss):
        """The rows of the output ``out`` (batch,) scored against targets ``y`` by ``loss``."""
        rows = cls(out.shape, y.ndim == 1)
        if rows.per_batch and getattr(loss, "reduction", None) == "sum" and out.shape[0]:
            # unweighted, Keras returns the batch's one number, the mean of its terms, as it is
            # whatever the reduction (reduce_values leaves a shape () alone): "sum" then gives the
            # mean too, which is the per-sample sum with each sample weighted 1 / batch
            xp = backend.get_array_module(out)
            rows.unweighted = xp.full(out.shape, 1.0 / out.shape[0], dtype=out.dtype)
        return rows

    def of(self, a):
        """(batch,) -> (batch, 1)."""
        return a.reshape(-1, 1)

    def targets(self, y):
        """(batch,) or (batch, 1) -> (batch, 1)."""
        return y.reshape(-1, 1)

    def weights(self, w):
        """The loss's sample weights (batch,) -> (batch,): as given, or each its batch's mean
        (``per_batch``); None stays None (but for a summing loss per batch: ``of_batch``). Metrics
        weigh each sample by its own (``_metric_scored``)."""
        if w is None:
            return self.unweighted
        if not self.per_batch:
            return w
        xp = backend.get_array_module(w)
        return xp.full(w.shape, w.mean(), dtype=w.dtype)

    def back(self, g):
        """A gradient (batch, 1) -> (batch,)."""
        return g.reshape(self.shape)
