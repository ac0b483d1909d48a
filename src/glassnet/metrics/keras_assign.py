"""Writing Keras 3.15's metric variables into glassnet's metrics: what ``model.set_state_tree`` does
with a tree's ``"metrics_variables"`` (``get_state_tree``'s, or Keras' of the same model).

glassnet's metrics keep their counts as float64 numbers and arrays under their own attributes
(metrics.keras_variables reads them in Keras' form); here each of Keras' variables is written
back into the attribute it was read from, in the form kept there (a number stays a number, an
array keeps its shape and dtype). R2Score keeps running moments, not Keras' sums: they are
worked out from the sums (``mean = sum / count``, ``deviations = squared_sum - sum * mean``), as
Keras' ``result()`` does in float32. A run's loss and function metrics are counts of the model's
last run (``keras_variables.last_run``), written into that record: what ``metrics_variables`` and
the metrics' ``result()`` read until the next run resets them (as Keras' next run does).
"""
import numpy as np

# Keras' variable names kept under another attribute here (an accumulator's under its cell's name)
_ATTRIBUTES = {"total_confusion_matrix": "total_cm", "intermediate_weights": "class_weights"}


def _put(holder, attribute, value):
    """``value`` into ``holder.attribute`` in the form kept there: a number as that number's type,
    an array in its shape and dtype (float64 where the attribute holds none yet)."""
    current = getattr(holder, attribute, None)
    value = np.asarray(value)
    if current is None:
        setattr(holder, attribute, value.astype(np.float64))
    elif isinstance(current, np.ndarray):
        setattr(holder, attribute, value.astype(current.dtype).reshape(current.shape))
    else:           # a number (a total, a count; one threshold's cell)
        setattr(holder, attribute, type(current)(value.reshape(())))


def _assign_r2(metric, values):
    """R2Score's moments from Keras' sums (module docstring). Its range of targets, which tells a
    constant output, is unknown: an output of no variance is taken as constant, others as not."""
    metric.values = float(np.asarray(values["num_samples"]))
    if "count" not in values:                   # (Keras' before its first batch: num_samples alone)
        return
    n = float(np.asarray(values["count"], np.float64).reshape(-1)[0])
    if not n:
        metric.count, metric.mean = 0, None
        return
    total = np.asarray(values["sum"], np.float64)
    mean = total / n
    deviations = np.maximum(np.asarray(values["squared_sum"], np.float64) - total * mean, 0.0)
    metric.count, metric.mean, metric.deviations = n, mean, deviations
    metric.residuals = np.asarray(values["residual"], np.float64)
    metric.low = np.where(deviations > 0, -np.inf, mean)
    metric.high = np.where(deviations > 0, np.inf, mean)


def assign_metric_variables(metric, values):
    """Write ``values`` (``{Keras' variable name: array}``, every variable ``metric_variable_items``
    lists) into ``metric``, a glassnet Metric (or a wrapper of one, an output's metric)."""
    from ..variables import Variable
    from . import confusion, r2
    inner = getattr(metric, "metric", None)
    if inner is not None and hasattr(inner, "update_state"):
        return assign_metric_variables(inner, values)
    if isinstance(metric, r2.R2Score):
        return _assign_r2(metric, values)
    if not type(metric).__module__.startswith("glassnet."):         # a metric of yours: its Variables
        held = {value.name: value for value in vars(metric).values() if isinstance(value, Variable)}
        for key, value in values.items():
            held[key].assign(value)
        return
    for key, value in values.items():
        attribute = metric.cell if key == "accumulator" and isinstance(metric, confusion._Count) else \
            _ATTRIBUTES.get(key, key)
        _put(metric, attribute, value)


def checked_metric_writes(model, given, where="set_state_tree: metrics_variables"):
    """Check ``given`` (``{Keras' path: array}``, paths of ``model.metrics_variables``, or of the
    compiled metrics of a model not yet run) and return a function that writes it: every path
    and shape checked before anything is written."""
    from .keras_variables import last_run, metric_variable_items, model_metric_entries
    entries = {path: (value, kept) for path, value, kept in model_metric_entries(model, fresh=True)}
    for path, value in given.items():
        if path not in entries:
            raise ValueError(f"{where}: no metric variable of this model has the path {path!r:.100} (its paths: "
                             f"{list(entries)[:8]}; a metric Keras builds at its first batch, F1Score's, has "
                             f"none before it)")
        shape = np.shape(entries[path][0])
        if np.shape(value) != shape:
            raise ValueError(f"{where}: {path} has shape {shape}, the tree gives {np.shape(value)}")

    def write():
        total, count, metrics = last_run(model, fresh=True)
        run, runs, pending = [total, count], [list(entry) for entry in metrics], {}
        for path, value in given.items():
            kept = entries[path][1]
            if kept[0] == "metric":
                pending.setdefault(id(kept[1]), (kept[1], {}))[1][kept[2]] = value
            elif kept[0] == "attr":
                _put(kept[1], kept[2], value)
            elif kept[0] == "tally":        # a function's counts in a CompileMetrics' tally
                (kept[1].sums if kept[3] == 1 else kept[1].counts)[kept[2]] = float(np.asarray(value))
            elif kept[1] is None:           # the loss tracker's
                run[kept[2] - 1] = float(np.asarray(value))
            else:                           # a compiled function's: (name, fn, sum, count)
                runs[kept[1]][kept[2] + 1] = float(np.asarray(value))
        for metric, values in pending.values():
            assign_metric_variables(metric, {**dict(metric_variable_items(metric)), **values})
        if not model._own_steps and any(entries[path][1][0] == "run" for path in given):
            model.__dict__["_last_run"] = (run[0], run[1], [tuple(entry) for entry in runs])
    return write
