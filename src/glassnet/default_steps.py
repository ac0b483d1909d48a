"""Keras 3's default steps, as a subclass of ``glassnet.Model`` calls or inherits them: the bodies
of ``Model.train_step``, ``test_step``, ``predict_step``, ``compute_metrics`` and
``get_metrics_result``, written as Keras 3.15 writes them on TensorFlow (its
``backend/tensorflow/trainer.py``), with ``gn.GradientTape`` for its ``tf.GradientTape``::

    x, y, sample_weight = unpack_x_y_sample_weight(data)
    with GradientTape() as tape:
        y_pred = self(x, training=True)
        loss = self.compute_loss(x, y, y_pred, sample_weight, training=True)   # yours, if overridden
        loss tracker += (loss, batch size)
    self.optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
    return self.compute_metrics(x, y, y_pred, sample_weight)                 # the running logs

A subclass that overrides ``compute_loss``, ``compute_metrics`` or ``test_step`` (not
``train_step``) is fit by this step (glassnet.own_steps runs it batch by batch), which costs the
tape's bookkeeping; a model that overrides nothing keeps glassnet's compiled step.

Keras' trackers run over an epoch (reset by fit at each epoch's start and before each
evaluation: own_steps.reset_metrics): the loss's ``Mean``, weighted by each batch's rows (the first
x leaf's), and the compiled metrics' ``CompileMetrics``, counted as ordinary fit counts them
(``MetricTally``): the objects ``model.metrics`` lists (glassnet.step_metrics), which a step of
your own may update too.

A model of several outputs logs as Keras' does: ``compute_loss`` adds each output's loss (before
its weight) to its "<output>_loss" tracker at every call (``track_output_loss``, Keras'
``CompileLoss``), ``compute_metrics`` updates each output's metrics with its own targets, values and
weights (``_output_metrics``); the logs: "loss", the metrics, then the outputs' losses.

``predict_own_steps`` runs ``predict_step`` over predict's batches (32 rows when ``batch_size`` is
None, as Keras) and joins the batches' outputs along their first axis, leaf by leaf;
``predict_on_batch_own_step`` runs it once, on ``(x,)``.
"""
import inspect

import numpy as np

from ._tree import map_structure
from ._warnings import warn
from .metrics.base import Metric
from .step_metrics import trackers
from .utils import unpack_x_y_sample_weight


def _rows(x):
    """The batch's rows, as Keras' loss tracker counts them: the first leaf of x (lists, tuples and
    dicts at any depth) that is not None."""
    while isinstance(x, (list, tuple, dict)):
        items = [item for item in (x.values() if isinstance(x, dict) else x) if item is not None]
        if not items:
            return 0
        x = items[0]
    return int(np.shape(x)[0]) if np.ndim(x) else 1


def _compute_loss(model, x, y, y_pred, sample_weight, training):
    """Keras' ``Trainer._compute_loss``: the model's ``compute_loss`` (an override of yours
    included) with ``training`` where its signature takes it (Keras 3.3's addition), positionally."""
    if "training" in inspect.signature(model.compute_loss).parameters:
        return model.compute_loss(x, y, y_pred, sample_weight, training=training)
    return model.compute_loss(x, y, y_pred, sample_weight)


def _track_loss(model, loss, x):
    from ._tape_values import _plain
    value = np.asarray(_plain(loss), dtype=np.float64)
    if value.size != 1:
        raise ValueError(f"{type(model).__name__}.compute_loss: expected one number (a 0-d loss), got an array of "
                         f"shape {value.shape}")
    # Keras: self._loss_tracker.update_state(loss, sample_weight=<the batch's rows>)
    trackers(model).loss.update_state(value.reshape(()), sample_weight=_rows(x))


def train_step(model, data):
    """Keras 3.15's default ``train_step`` (see the module docstring); returns the logs dict."""
    from .tape import GradientTape
    from ._tape_values import _plain
    x, y, sample_weight = unpack_x_y_sample_weight(data)
    with GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = _compute_loss(model, x, y, y_pred, sample_weight, True)
        _track_loss(model, loss, x)
    weights = model.trainable_weights
    if weights:
        if model.optimizer is None:
            raise ValueError(f"{type(model).__name__}.train_step: no optimizer; call compile() first")
        model.optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
    else:
        warn("The model does not have any trainable weights.")
    return model.compute_metrics(x, y, map_structure(_plain, y_pred), sample_weight=sample_weight)


def test_step(model, data):
    """Keras 3.15's default ``test_step``: the outputs in inference mode, the loss by
    ``compute_loss(..., training=False)`` into the loss tracker, then ``compute_metrics``."""
    x, y, sample_weight = unpack_x_y_sample_weight(data)
    y_pred = model(x, training=False)
    loss = _compute_loss(model, x, y, y_pred, sample_weight, False)
    _track_loss(model, loss, x)
    return model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)


def predict_step(model, data):
    """Keras 3.15's default ``predict_step``: the outputs for the batch's x, in inference mode."""
    x, _, _ = unpack_x_y_sample_weight(data)
    return model(x, training=False)


def track_output_loss(model, head, value, pred):
    """Keras' ``CompileLoss`` trackers: output ``head``'s loss ``value`` on this batch (before its
    loss weight, after the sample weights) joins its running "<output>_loss", weighted by the rows
    of its outputs ``pred``, as Keras 3.15's code weighs it (``sample_weight`` = the batch size: the
    mean over the epoch's samples; Keras' compiled TensorFlow steps read a static batch size, None,
    and weigh each batch once instead: docs/guide/custom_training.md, "Keras' default steps"). Called by ``compute_loss``
    at each call, as Keras' ``CompileLoss`` is; the trackers are logged (``get_metrics_result``)
    from the first such call after compile on, as Keras builds them at its loss's first call."""
    if sum(h.scored for h in model._heads) < 2:     # (one scored output: "loss" alone, as Keras)
        return
    model.loss.tracked = True
    from ._tape_values import _plain
    rows = int(np.shape(_plain(pred))[0]) if np.ndim(_plain(pred)) else 1
    for metric in trackers(model).compiled.tally.metrics:
        if getattr(metric, "own_loss", False) and metric.head is head:
            metric.sum += float(np.asarray(_plain(value), dtype=np.float64)) * rows
            metric.count += rows


def _output_metrics(model, tally, y, y_pred, sample_weight):
    """Keras' ``CompileMetrics`` of a model of several outputs: each output's compiled metrics
    updated with its own targets, values and sample weights (lists in the outputs' order or dicts
    by their names, as ``compute_loss`` takes them; glassnet.outputs.OutputMetric.update_output).
    The outputs' own losses are ``compute_loss``'s (``track_output_loss``), as in Keras."""
    from ._tape_values import _plain
    from .outputs import per_output, per_output_weights, targets_per_output
    heads, name = model._heads, type(model).__name__
    preds = per_output(y_pred, heads, f"{name}.compute_metrics: y_pred")
    targets = targets_per_output(y, heads, f"{name}.compute_metrics: y")
    weights = per_output(sample_weight, heads, f"{name}.compute_metrics: sample_weight", allow_missing=True) \
        if per_output_weights(sample_weight) else [sample_weight] * len(heads)
    for metric in tally.metrics:
        if getattr(metric, "own_loss", True):       # (an output's own loss: compute_loss tracks it)
            continue
        j = metric.head.index
        if targets[j] is None:
            raise ValueError(f"{name}.compute_metrics: y: output {metric.head.name!r} has compiled metrics "
                             f"({metric.name}), so it needs targets, got None")
        w = None if weights[j] is None else np.asarray(_plain(weights[j]), dtype=model.dtype)
        metric.update_output(np.asarray(_plain(targets[j])), np.asarray(_plain(preds[j])), w)


def compute_metrics(model, y, y_pred, sample_weight):
    """Keras' ``compute_metrics``: the compiled metrics (``CompileMetrics``) updated with the batch
    (unweighted, but for ``weighted_metrics``, as ordinary fit counts them; several outputs: each
    its own, ``_output_metrics``), then ``get_metrics_result()``."""
    compiled = trackers(model).compiled
    if compiled.names_scored():
        name = type(model).__name__
        if y is None:
            raise ValueError(f"{name}.compute_metrics: y: the compiled metrics {compiled.names_scored()} compare the "
                             f"outputs with targets, got None (fit without y)")
        compiled.update_state(y, y_pred, sample_weight)
    return get_metrics_result(model)


def get_metrics_result(model):
    """Keras' ``get_metrics_result``: ``{name: result}`` of every tracker in ``model.metrics``: the
    loss's running mean ("loss", 0.0 before any batch), the compiled metrics, then the Metric
    objects the model holds as attributes; a class listing its own ``metrics`` gives those alone.
    A result that is a dict (``CompileMetrics``') is merged in, as Keras merges it. A plain compiled
    model (no steps of its own, ``model.metrics`` glassnet's pairs) gives Keras' trackers as its
    last run left them (``plain_metrics_result``)."""
    if not model._own_steps:
        return plain_metrics_result(model)
    logs = {}
    for metric in model.metrics:
        if isinstance(metric, Metric) or callable(getattr(metric, "result", None)):
            result = metric.result()
            if isinstance(result, dict):
                logs.update(result)
            else:
                logs[metric.name] = result
    return logs


def plain_metrics_result(model):
    """``get_metrics_result()`` of a compiled model without steps of its own, as Keras 3.15's: the
    loss tracker's mean ("loss", 0.0 before any run), the compiled metrics, then each output's own
    loss (a model of several outputs), then the Metrics the model holds, as the last fit epoch,
    validation, evaluate, ``train_on_batch`` or ``test_on_batch`` left them (the record
    ``model.metrics_variables`` reads: glassnet.metrics.keras_variables.last_run). Each value is
    what that run logged under the same name. ``{}`` before compile."""
    from .metrics.base import Metric
    from .metrics.keras_variables import last_run
    from .outputs import OutputMetric
    from .own_steps import held_metrics
    if model.optimizer is None or model.loss is None:
        return {}

    def mean(total, count):
        return float(total) / float(count) if count else 0.0

    record = model.__dict__.get("_last_run")
    total, count, metrics = last_run(model)
    logs, losses = {"loss": mean(total, count)}, {}
    for k, (name, fn, summed, seen) in enumerate(metrics):
        if record is not None and len(record) == 2:         # a batch call's own values
            value = record[0][k + 1]
        elif getattr(fn, "own_loss", False) or (isinstance(fn, OutputMetric) and not isinstance(fn.metric, Metric)):
            value = mean(fn.sum, fn.count)                  # (an output's counts are its own)
        elif isinstance(fn, OutputMetric) or isinstance(fn, Metric):
            value = (fn.metric if isinstance(fn, OutputMetric) else fn).result()
        else:
            value = mean(summed, seen)
        (losses if getattr(fn, "own_loss", False) else logs)[name] = value
    logs.update(losses)
    for metric in held_metrics(model):
        logs[metric.name] = metric.result()
    return logs


def predict_own_steps(model, x, batch_size, steps, callbacks, verbose):
    """``predict`` of a model defining ``predict_step``: the step on each batch (the x batch as Keras
    hands it: the array itself, or ``(x,)`` for several inputs), the callbacks' predict hooks, and
    the batches' outputs joined along their first axis, in the structure the step returns."""
    from ._step_data import _reading, keras_data
    from .callbacks import CallbackList
    from .feeding import is_batches
    if not is_batches(x) and steps is not None:
        raise ValueError("predict: steps counts the batches of a PyDataset, a DataLoader, a Dataset or a "
                         "generator; for arrays give batch_size")
    read = _reading(model, x if is_batches(x) else keras_data(x, None, None), batch_size, steps, "predict")
    hooks = CallbackList(list(callbacks or []), model, {"verbose": verbose, "epochs": 1, "steps": steps})
    model.stop_predicting = False
    hooks.call("on_predict_begin", {})
    name, outputs = f"{type(model).__name__}.predict_step", []
    for b, data in read():
        if hooks.has_predict_batch_hooks:
            hooks.call("on_predict_batch_begin", b, {})
        out = map_structure(lambda leaf: _leaf(leaf, name), model.predict_step(data))
        outputs.append(out)
        if hooks.has_predict_batch_hooks:
            hooks.call("on_predict_batch_end", b, {"outputs": out})
        if model.stop_predicting:
            break
    hooks.call("on_predict_end", {})
    if not outputs:
        raise ValueError("predict: no batch to predict (the data is empty)")
    return _joined(outputs)


def predict_on_batch_own_step(model, x):
    """``predict_on_batch`` of a model defining ``predict_step``: the step on ``(x,)``, the batch as
    Keras 3's ``predict_on_batch`` hands it, its outputs as arrays in the structure it returns."""
    return map_structure(lambda leaf: _leaf(leaf, f"{type(model).__name__}.predict_step"), model.predict_step((x,)))


def _leaf(value, name):
    from ._tape_values import _plain
    array = np.asarray(_plain(value))
    if array.ndim == 0 or array.dtype.kind not in "biufc":
        raise TypeError(f"{name}: must return arrays with a batch axis (or lists, tuples, dicts of them), got "
                        f"{type(value).__name__} {value!r:.60}")
    return array


def _joined(batches):
    """The batches' outputs, each a structure of arrays, joined leaf by leaf along axis 0."""
    first = batches[0]
    if isinstance(first, dict):
        return {key: _joined([b[key] for b in batches]) for key in first}
    if isinstance(first, (list, tuple)):
        return type(first)(_joined([b[k] for b in batches]) for k in range(len(first)))
    return np.concatenate(batches, axis=0)
