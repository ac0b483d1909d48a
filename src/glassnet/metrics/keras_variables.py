"""Keras 3.15's ``metric.variables`` and ``model.metrics_variables``: a metric's running counts under
Keras' names, shapes and dtypes, in Keras' order.

glassnet keeps a metric's counts as float64 numbers and arrays under its own attributes (a mean's
``total`` and ``count``, Precision's ``true_positives``, IoU's ``total_cm``); Keras keeps them as
Variables (float32; IoU's confusion matrix int64). The lists here are copies in Keras' form: read
them, compare them, save them; assigning to them changes nothing (``set_state_tree`` writes them
back: metrics.keras_assign). A metric of your own that makes its variables with ``add_variable``
lists those, live, as Keras does. R2Score's are Keras' sums worked out from its running moments.

``model.metrics_variables``: Keras' loss tracker's ``loss/total`` and ``loss/count`` (the loss
summed over the samples of the last fit epoch, validation, evaluate, ``train_on_batch`` or
``test_on_batch``, and their count), then each compiled metric's variables, as the last run left
them (Keras' lists them once a run has built them), then each output's own loss tracker
(``compile_loss/a_loss/total``), then the Metrics the model holds; a model with steps of its own
lists its ``model.metrics``' variables. Nothing here runs in a step: the runs keep their tallies
(a batch call its values and batch size), read on demand.
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
    from . import confusion, constrained, fscore, iou, means, r2
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
    if isinstance(metric, r2.R2Score):
        return r2_variable_items(metric)
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


def r2_variable_items(metric):
    """Keras' R2Score variables from glassnet's running moments (module r2): ``num_samples`` (every
    target value given), then, once a batch was counted, per output the weighted ``squared_sum``
    and ``sum`` of the targets, the ``residual`` sum of squares and the ``count`` (the weights'
    sum): ``sum = n mean``, ``squared_sum = deviations + n mean**2``. Float32 copies."""
    items = [("num_samples", _float32(metric.values))]
    if metric.mean is None:         # (Keras builds the rest at its first batch)
        return items
    n, mean = metric.count, metric.mean
    return items + [("squared_sum", _float32(metric.deviations + n * mean ** 2)), ("sum", _float32(n * mean)),
                    ("residual", _float32(metric.residuals)), ("count", _float32(np.full(mean.shape, n)))]


def keep_run(model, loss, count, tally):
    """Keep what ``model.metrics_variables`` reads of a finished run (a fit epoch, a validation,
    an evaluate): its mean ``loss`` (as logged), its ``count`` of samples and, per compiled metric,
    ``(name, metric, sum, count)`` of its ``MetricTally`` (not the tally, which holds its thread)."""
    metrics = list(zip(tally.names, tally.metrics, tally.sums, tally.counts))
    model.__dict__["_last_run"] = (float(loss) * float(count), float(count), metrics)


def _keras_name(name, fn):
    """The name Keras gives the variables of the metric compiled as ``name`` (``fn`` glassnet's):
    a Metric object's own name; a function's (``"mae"`` gives ``mean_absolute_error``) except
    ``"accuracy"``/``"acc"``, which Keras makes a metric of that name; an output's metric of a
    model of several outputs by its metric alone (Keras' ``mean_absolute_error``, not ``a_mae``)."""
    from ..outputs import OutputMetric
    from .base import Metric
    if isinstance(fn, OutputMetric):
        return _keras_name(fn.base, fn.metric)
    if isinstance(fn, Metric):
        return fn.name
    if name in ("accuracy", "acc"):
        return name
    return getattr(fn, "__name__", name)


# Each entry below is (Keras' path, array, where it is kept): ("metric", a Metric, Keras' variable
# name), ("attr", an object, its attribute) or ("run", index of the run's metric or None for the
# loss, 1 for the sum or 2 for the count); metrics.keras_assign writes by the last

def _counts(prefix, total, count, where):
    """The two entries of a mean tracker: ``total`` and ``count`` kept as ``where(1)``, ``where(2)``."""
    return [(f"{prefix}/total", _float32(total), where(1)), (f"{prefix}/count", _float32(count), where(2))]


def _attributes(holder):
    return lambda field: ("attr", holder, {1: "sum", 2: "count"}[field])


def _metric_entries(prefix, metric):
    return [(f"{prefix}/{key}", value, ("metric", metric, key)) for key, value in metric_variable_items(metric)]


def _compiled_entries(metrics):
    """The entries of compiled metrics given as ``(log name, metric, sum, count)`` (a run's tally,
    index k in it): Keras' ``CompileMetrics`` variables, then its ``CompileLoss`` trackers (each
    output's own loss, ``compile_loss/a_loss/total``)."""
    from ..outputs import OutputMetric
    from .base import Metric
    items, losses = [], []
    for k, (name, fn, total, seen) in enumerate(metrics):
        if getattr(fn, "own_loss", False):
            losses += _counts(f"compile_loss/{name}", fn.sum, fn.count, _attributes(fn))
        elif isinstance(fn, OutputMetric) and not isinstance(fn.metric, Metric):    # (its own counts)
            items += _counts(_keras_name(name, fn), fn.sum, fn.count, _attributes(fn))
        elif isinstance(fn, Metric):
            items += _metric_entries(_keras_name(name, fn), fn)
        else:
            items += _counts(_keras_name(name, fn), total, seen, lambda field, k=k: ("run", k, field))
    return items + losses


def last_run(model, fresh=False):
    """``(loss total, loss count, [(log name, metric, sum, count)])`` of the model's last run: a
    fit epoch's, validation's or evaluate's (``keep_run``), or a ``train_on_batch``'s or
    ``test_on_batch``'s (``([loss, *metric values], samples)``, as those calls keep it, with no
    work added to their step: a function's sum is its value times the samples, as Keras' mean
    of the batch's values counts it). ``fresh``: before any run, the compiled metrics at 0
    (Keras lists them once a run built them; a state tree may set them before)."""
    record = model.__dict__.get("_last_run")
    if record is None:
        return 0.0, 0.0, [(name, fn, 0.0, 0.0) for name, fn in model._compiled_metrics] if fresh else []
    if len(record) == 2:
        values, n = record
        return values[0] * n, n, [(name, fn, value * n, n) for (name, fn), value in
                                  zip(model._compiled_metrics, values[1:])]
    return record


def model_metric_entries(model, fresh=False):
    """``[(Keras' path, array, where it is kept)]`` of Keras' ``model.metrics_variables`` (see the
    module docstring and ``last_run``)."""
    from ..own_steps import held_metrics
    if model._own_steps:
        return _own_step_entries(model)
    if model.optimizer is None or model.loss is None:
        return []
    total, count, metrics = last_run(model, fresh)
    held = [entry for metric in held_metrics(model) for entry in _metric_entries(metric.name, metric)]
    return _counts("loss", total, count, lambda field: ("run", None, field)) + _compiled_entries(metrics) + held


def model_metric_items(model):
    """``[(Keras' path, array)]`` of Keras' ``model.metrics_variables`` (see the module docstring)."""
    return [(path, value) for path, value, _ in model_metric_entries(model)]


def _own_step_entries(model):
    """A model with steps of its own: the variables of each of its ``metrics`` (Keras' list: the
    loss ``Mean``, ``CompileMetrics``, each output's loss tracker, the Metrics it holds; or the
    list its class's ``metrics`` gives), as its steps left them (glassnet.step_metrics)."""
    from ..step_metrics import CompileMetrics, _Tallied
    from .base import Metric
    items = []
    for metric in model.metrics:
        if isinstance(metric, CompileMetrics):
            if not metric.built:        # (Keras' builds its metrics' variables at its first batch)
                continue
            tally = metric.tally
            # (a function's counts are the tally's: written there, as ("attr", tally lists) cannot say)
            for path, value, where in _compiled_entries([(tally.names[i], tally.metrics[i], tally.sums[i],
                                                           tally.counts[i]) for i in metric._scored()]):
                if where[0] == "run":
                    where = ("tally", tally, metric._scored()[where[1]], where[2])
                items.append((path, value, where))
        elif isinstance(metric, _Tallied):      # an output's own loss: Keras' CompileLoss tracker
            tracked = metric._owner.tally.metrics[metric._index]
            items += _counts(f"compile_loss/{metric.name}", tracked.sum, tracked.count, _attributes(tracked))
        elif isinstance(metric, Metric):
            items += _metric_entries(metric.name, metric)
    return items
