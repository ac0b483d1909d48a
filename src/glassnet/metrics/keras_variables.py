"""Keras 3.15's ``metric.variables`` and ``model.metrics_variables``: a metric's running counts under
Keras' names, shapes and dtypes, in Keras' order.

glassnet keeps a metric's counts as float64 numbers and arrays under its own attributes (a mean's
``total`` and ``count``, Precision's ``true_positives``, IoU's ``total_cm``); Keras keeps them as
Variables (float32; IoU's confusion matrix int64). The lists here are copies in Keras' form: read
them, compare them, save them; assigning to them changes nothing. A metric of your own that makes
its variables with ``add_variable`` lists those, live, as Keras does.

``model.metrics_variables``: Keras' loss tracker's ``loss/total`` and ``loss/count`` (the loss
summed over the samples of the last fit epoch, validation or evaluate, and their count), then each
compiled metric's variables, as the last run left them (Keras' lists them once a run has built
them). Nothing here runs in a step: the runs keep their tallies, read on demand.
"""
import numpy as np

# Keras' variable names of each built-in class's counts, and glassnet's attribute holding each
_CONFUSION = ("true_positives", "false_positives", "true_negatives", "false_negatives")
_BY_CLASS = {
    "Precision": ("true_positives", "false_positives"),
    "Recall": ("true_positives", "false_negatives"),
    "AUC": _CONFUSION,
    "FBetaScore": ("true_positives", "false_positives", "false_negatives"),
}


def _float32(value, shape=None):
    array = np.asarray(value, dtype=np.float32)
    return array.reshape(shape) if shape is not None else array


def _thresholds(metric):
    """How many thresholds a Precision, Recall or count metric counts at (Keras' variables' length)."""
    given = metric.thresholds
    return 1 if given is None or np.ndim(given) == 0 else len(given)


def metric_variable_items(metric):
    """``[(Keras' variable name, array)]`` of ``metric`` (a glassnet Metric): copies in Keras'
    dtype for the built-in metrics, the live Variables for a metric of yours; ``[]`` for a metric
    Keras has no counterpart of, or one Keras builds at its first batch not yet fed (F1Score)."""
    from ..variables import Variable
    from . import confusion, constrained, fscore, iou, means
    from .base import Average
    inner = getattr(metric, "metric", None)         # weighted_metrics' wrapper, an output's metric
    if inner is not None and hasattr(inner, "update_state"):
        return metric_variable_items(inner)
    if isinstance(metric, Average):                 # Mean, the accuracies, MeanMetricWrapper, ...
        return [("total", _float32(metric.total)), ("count", _float32(metric.count))]
    if isinstance(metric, means.Sum):
        return [("total", _float32(metric.total))]
    if isinstance(metric, confusion._Count):
        return [("accumulator", _float32(getattr(metric, metric.cell), (_thresholds(metric),)))]
    if isinstance(metric, (confusion.Precision, confusion.Recall)):
        names = _BY_CLASS["Precision" if isinstance(metric, confusion.Precision) else "Recall"]
        return [(name, _float32(getattr(metric, name), (_thresholds(metric),))) for name in names]
    if isinstance(metric, (confusion.AUC, constrained._AtConstraint)):
        shape = (metric.num_thresholds,)
        return [(name, _float32(np.zeros(shape) if getattr(metric, name) is None else getattr(metric, name)))
                for name in _CONFUSION]
    if isinstance(metric, iou.IoU):
        return [("total_confusion_matrix", np.asarray(metric.total_cm).astype(np.int64))]
    if isinstance(metric, fscore.FBetaScore):
        if metric.true_positives is None:
            return []
        items = [(name, _float32(getattr(metric, name))) for name in _BY_CLASS["FBetaScore"]]
        return items + [("intermediate_weights", _float32(metric.class_weights))]
    if type(metric).__module__.startswith("glassnet."):
        return []
    return [(value.name, value) for value in vars(metric).values() if isinstance(value, Variable)]


def keep_run(model, loss, count, tally):
    """Keep what ``model.metrics_variables`` reads of a finished run (a fit epoch, a validation,
    an evaluate): its mean ``loss`` (as logged), its ``count`` of samples and, per compiled metric,
    ``(name, metric, sum, count)`` of its ``MetricTally`` (not the tally, which holds its thread)."""
    metrics = list(zip(tally.names, tally.metrics, tally.sums, tally.counts))
    model.__dict__["_last_run"] = (float(loss), float(count), metrics)


def _keras_name(name, fn):
    """The name Keras gives the variables of the metric compiled as ``name`` (``fn`` glassnet's):
    a Metric object's own name; a function's (``"mae"`` gives ``mean_absolute_error``) except
    ``"accuracy"``/``"acc"``, which Keras makes a metric of that name."""
    from .base import Metric
    if isinstance(fn, Metric):
        return fn.name
    if name in ("accuracy", "acc"):
        return name
    return getattr(fn, "__name__", name)


def model_metric_items(model):
    """``[(Keras' path, array)]`` of Keras' ``model.metrics_variables`` (see the module docstring)."""
    from .base import Metric
    if model.optimizer is None or model.loss is None:
        return []
    loss, count, metrics = model.__dict__.get("_last_run", (0.0, 0.0, []))
    items = [("loss/total", _float32(loss * count)), ("loss/count", _float32(count))]
    for name, fn, total, seen in metrics:
        if getattr(fn, "own_loss", False):      # (an output's own loss: Keras' CompileLoss, not listed here)
            continue
        prefix = _keras_name(name, fn)
        if isinstance(fn, Metric):
            items += [(f"{prefix}/{key}", value) for key, value in metric_variable_items(fn)]
        else:
            items += [(f"{prefix}/total", _float32(total)), (f"{prefix}/count", _float32(seen))]
    return items
