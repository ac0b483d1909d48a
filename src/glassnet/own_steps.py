"""fit and evaluate for a subclass of ``glassnet.Model`` that defines Keras' ``train_step`` (and
``test_step``): Keras 3's way to say what one step of fit does, as its GAN examples do.

A step takes its gradients from ``gn.GradientTape`` as Keras' does (glassnet.tape; Keras' "Customizing
what happens in fit" first example, ``self(x, training=True)``, ``self.compute_loss``,
``tape.gradient``, ``self.optimizer.apply``, ports as written: docs/guide/custom_training.md, "Custom training loops:
GradientTape"), or steps compiled sub-models with ``train_on_batch``: a GAN's discriminator on real
and generated images, then its generator through a combined model
``Sequential([generator, discriminator])`` whose discriminator is frozen (docs/guide/custom_training.md: GANs).

What this module adds is fit's machinery around the step, as Keras 3 runs it:

- each batch goes to ``train_step(data)`` as Keras hands it: the x batch itself when fit was
  given no y (weights without y are dropped, as Keras drops them, with a warning), else the tuple
  ``(x, y)`` or ``(x, y, sample_weight)``. The
  batches are fit's own (arrays shuffled each epoch by the model's seed, a PyDataset, a
  generator, a torch DataLoader or a tf.data.Dataset); float arrays, at any depth, come in the
  model's dtype (Keras casts fit's arrays to its floatx, not a PyDataset's: glassnet._step_data);
- the step returns a dict of numbers (Python or NumPy scalars, 0-d arrays); nested dicts are
  flattened and the keys sorted, as Keras' ``pythonify_logs`` does. They are the batch's logs,
  and the epoch's logs are its last batch's: Keras' metrics are running trackers (a ``Mean``
  updated every batch holds the epoch's mean);
- every Metric in ``model.metrics`` is reset at each epoch's start and before each evaluation
  (Keras' ``reset_metrics``; a GAN lists its trackers in ``@property def metrics``; without it,
  the Metrics the model holds as attributes, in lists, tuples and dicts too, are, as Keras 3
  tracks them);
- x and y may each be one array or, for several inputs or outputs, a list, tuple or dict of arrays
  (nested as deep as wanted), as Keras 3 takes them: every array (a "leaf") is cut to the same
  rows, shuffled by the same permutation, and the step receives each batch in the same structure
  (lists stay lists, tuples tuples, dicts keep their keys). Keras' rule for telling a list of
  arrays from a list of numbers is its tree utilities': a list is always a structure and each
  item a leaf, which must be array-like, so ``[0, 1, 1]`` is refused. glassnet keeps such a list
  as one array (targets, as before): a list or tuple is several arrays when one of its items is
  an array with a batch axis (``ndim >= 1``: a NumPy array, a DataFrame, a tensor) or a dict, list
  or tuple that is itself several; a dict is always several. The sample weights are one array;
- ``validation_data`` and ``evaluate`` run ``test_step`` the same way (fit logs them "val_...").
  A model with a graph of layers (a ``call``, or given its inputs and outputs) and a compiled loss
  but no ``test_step`` is evaluated as any model is, by its compiled loss and metrics (Keras'
  default ``test_step``), and fit validates it so too: ordinary fit's validation, its code.

fit and evaluate dispatch here once per call (``model._own_steps``, ``model._own_tests``):
their ordinary loops are untouched. The batches, as the steps receive them, are made by
glassnet._step_data.
"""
import math
import numbers

import numpy as np

from ._step_data import _arrays, _feed_epoch, _reading, keras_data
from ._stepping import inside_step
from ._validation import check_flag, check_fraction, check_non_negative_int, check_positive_int, check_verbose
from ._warnings import warn
from . import losses, optimizers
from . import metrics as metrics_module
from .callbacks import (BackupAndRestore, CallbackList, EarlyStopping, ModelCheckpoint, SwapEMAWeights,
                        TerminateOnNaN)
from .callbacks.base import check_callback_list
from .errors import NonFiniteError
from .feeding import Feed, is_batches, ran_out_warning, rereadable
from .graph import _runs_test_step
from .step_metrics import CompileMetrics, lists_own_metrics, trackers
from .model import Sequential
from .training import (check_validation_freq, fit_callbacks, refuse_array_steps, refuse_beside_batches,
                       settle_validation_freq, training_epochs, validates)


def compile_own_steps(model, loss, optimizer, metrics, loss_weights, weighted_metrics):
    """``compile`` of a model with its own ``train_step``: the loss may be left out (Keras' GAN
    calls ``super().compile()`` and keeps its own optimizers and loss as attributes). What is
    given is checked and kept where Keras keeps it, for the step to use: ``model.loss`` (a
    ``Loss``, or None), ``model.optimizer`` (compile's default, SGD, unless given) and the
    metrics, as ``(name, metric)`` pairs in ``model._compiled_metrics`` (``model.metrics`` gives
    Keras' trackers of them, unless the class defines ``metrics`` itself: glassnet.step_metrics). ``loss_weights`` and ``weighted_metrics`` weigh a compiled loss, which
    glassnet does not run here: refused."""
    for name, value in (("loss_weights", loss_weights), ("weighted_metrics", weighted_metrics)):
        if value is not None:
            raise ValueError(f"compile: {name} weighs the compiled loss, and {type(model).__name__}'s train_step "
                             f"computes its own; leave {name} out, got {value!r:.60}")
    if loss is not None:
        if losses.names_pending(loss):
            # Keras picks it as its compiled loss first runs, a step the model's own train_step replaces
            raise ValueError(f"compile: loss={loss!r} is picked from the first batch by the compiled loss, "
                             f"which {type(model).__name__}'s own train_step does not run; name the loss: "
                             f"'binary_crossentropy', 'categorical_crossentropy' or 'sparse_categorical_crossentropy'")
        loss = losses.get(loss)
    # (name, metric) pairs, as compile keeps them: metrics.get gives the pair itself
    compiled = [metrics_module.get(spec) for spec in _metric_specs(metrics)]
    optimizer = optimizers.get(optimizer)           # refused before the model changes
    model.loss, model.optimizer = loss, model._claim(optimizer)
    model._compiled_metrics = compiled
    model._given_metric_names = {}      # (no log name renamed here: an earlier compile's are gone)
    model._steps_compiled = True


def _metric_specs(metrics):
    if metrics is None:
        return []
    if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)):
        raise TypeError(f"metrics: expected a list such as ['accuracy'], got {metrics!r:.80}")
    return list(metrics)


def held_metrics(model):
    """The Metric objects ``model`` holds as attributes (``self.d_loss_tracker = Mean(...)``), in
    the order they were set, when its class defines no ``metrics`` property: Keras 3 tracks them
    into ``model.metrics`` after the compiled ones (so each epoch resets them), and a property
    replaces that list, as here. Keras' tracker also looks inside lists, tuples, dicts and sets
    (``self.trackers = [Mean(name="a"), Mean(name="b")]``), at any depth, and lists a Metric held
    twice once; it does not look inside other objects (a sub-model's metrics are its own)."""
    if lists_own_metrics(model):
        return []
    # compile's pairs (and the list holding them) are compile's, not held
    seen = {id(model.__dict__.get("_compiled_metrics")), *(id(fn) for _, fn in model._compiled_metrics)}
    held = []

    def visit(value):
        if id(value) in seen:       # a Metric listed already, or a container visited (no cycles)
            return
        if isinstance(value, metrics_module.Metric):
            seen.add(id(value))
            held.append(value)
        elif isinstance(value, (list, tuple, dict, set, frozenset)):
            seen.add(id(value))
            for item in value.values() if isinstance(value, dict) else value:
                visit(item)
    for value in vars(model).values():
        visit(value)
    return held


def reset_metrics(model):
    """Keras' ``reset_metrics``: ``reset_state()`` on every Metric in ``model.metrics`` (Keras'
    loss tracker and compiled metrics, and the Metric objects the model holds as attributes: see
    glassnet.step_metrics; or a property's Metric objects), and on the loss tracker and compiled
    metrics that Keras' default steps update (the same objects, unless a property lists others).
    A plain compiled model (no step of its own) has no trackers unless a step or ``compute_loss``
    made them: its compile Metric objects and the Metrics it holds are reset, no tracker is made."""
    own = model._own_steps
    held = trackers(model) if own or "_step_trackers" in vars(model) else None
    # (compile's Metric objects too: CompileMetrics' tally takes them at its first batch, not before)
    compiled = [fn for _, fn in model._compiled_metrics]
    # a plain model's ``metrics`` are compile's (name, metric) pairs: Keras' list adds the held ones
    listed = list(model.metrics) if own else held_metrics(model)
    for metric in [*(() if held is None else (held.loss, held.compiled)), *compiled, *listed]:
        reset = getattr(metric, "reset_state", None)
        if callable(reset):
            reset()


def step_logs(returned, step):
    """The logs of one step, from the dict ``step`` (``"GAN.train_step"``) returned: nested dicts
    flattened, keys sorted, each value a Python float, as Keras' ``pythonify_logs`` makes them.
    Anything else is refused by name: a non-dict, a Metric object (Keras refuses it too: return
    ``metric.result()``), a value that is not one number."""
    if not isinstance(returned, dict):
        raise TypeError(f"{step}: must return a dict of logs, such as {{'d_loss': ..., 'g_loss': ...}}, got "
                        f"{type(returned).__name__} {returned!r:.60}")
    logs = {}
    for key in sorted(returned, key=str):
        value = returned[key]
        if not isinstance(key, str):
            raise TypeError(f"{step}: the logs' keys must be names (str), got {key!r:.40}")
        if isinstance(value, dict):
            logs.update(step_logs(value, step))
            continue
        if callable(getattr(value, "result", None)) and callable(getattr(value, "update_state", None)):
            raise TypeError(f"{step}: logs[{key!r}] is a Metric object; return its value, "
                            f"{{{key!r}: metric.result()}} (Keras refuses a Metric in the logs too)")
        if isinstance(value, numbers.Real) or (isinstance(value, (np.ndarray, np.generic))
                                               and value.size == 1 and value.dtype.kind in "biuf"):
            logs[key] = float(np.asarray(value).reshape(()))
        else:
            raise TypeError(f"{step}: logs[{key!r}] must be one number (a float, a NumPy scalar or a 0-d array), "
                            f"got {type(value).__name__} {value!r:.60}")
    return logs


def _as_logged(returned, logs):
    """The dict a step returned, nested as returned, each value the number ``step_logs`` logged
    for its key (a live array the step returned cannot change it after)."""
    return {key: _as_logged(value, logs) if isinstance(value, dict) else logs[key] for key, value in returned.items()}


def _test_steps(model, read, hooks):
    """One evaluation: the metrics reset, then ``test_step`` on every batch ``read()`` gives, the
    test hooks called as Keras calls them. Returns the last batch's logs (None: no batch)."""
    model.reset_metrics()        # Keras' loop calls the method: an override runs
    hooks.call("on_test_begin", {})
    logs, step = None, f"{type(model).__name__}.test_step"
    for b, data in read():
        if hooks.has_test_batch_hooks:
            hooks.call("on_test_batch_begin", b, {})
        with inside_step(model):
            logs = step_logs(model.test_step(data), step)
        if hooks.has_test_batch_hooks:
            hooks.call("on_test_batch_end", b, logs)
    hooks.call("on_test_end", dict(logs or {}))
    return logs


def _refuse_saving_callbacks(model, callbacks):
    """Callbacks that save or restore the model's weights have none to work on in a model without
    a graph (no call: its weights are its sub-models'): refused by name before training. With a
    graph, ``BackupAndRestore`` is refused where its backup (the model file of the model's own
    layers, its optimizer and loss) would not hold what the step trains, or could not be read back
    (``_refuse_backup``)."""
    if getattr(model, "_calls", True) or model._subclass():      # (a Sequential: its layers)
        for callback in callbacks or []:
            if isinstance(callback, BackupAndRestore):
                _refuse_backup(model)
        return
    for callback in callbacks or []:
        if isinstance(callback, (ModelCheckpoint, BackupAndRestore, SwapEMAWeights)) or (
                isinstance(callback, EarlyStopping) and callback.restore_best_weights):
            what = ("EarlyStopping(restore_best_weights=True)" if isinstance(callback, EarlyStopping)
                    else type(callback).__name__)
            raise ValueError(f"callbacks: {what} saves or restores the model's weights, and "
                             f"{type(model).__name__} has none of its own (no call: its train_step steps "
                             f"sub-models); save the sub-models instead, in a callback of your own "
                             f"(on_epoch_end: self.model.generator.save(...))")


def _refuse_backup(model):
    """Refuse by name ``BackupAndRestore`` for a model with its own train_step whose resume would
    be wrong: one compiled without a loss (its step trains something else: sub-models, which the
    backup does not hold), one holding an optimizer other than its compiled one (a GAN's
    ``self.d_optimizer``: its state is not in the backup), and one not drawn yet when fit starts
    (its step draws it on the first batch: the backup could not be read into it before that)."""
    name = type(model).__name__
    if model.loss is None and getattr(model, "_deferred_compile", None) is None:
        raise ValueError(f"callbacks: BackupAndRestore backs up {name}'s own layers and compiled optimizer, and "
                         f"{name} was compiled without a loss: its train_step trains something else (sub-models), "
                         f"which the backup would not hold; back the sub-models up in a callback of your own")
    # a sub-model compiled with an optimizer of its own is trained by its own train_on_batch
    held = next((key for key, value in vars(model).items()
                 if (isinstance(value, optimizers.Optimizer) and value is not model.optimizer)
                 or (isinstance(value, Sequential) and getattr(value, "optimizer", None) is not None)), None)
    if held is not None:
        raise ValueError(f"callbacks: BackupAndRestore backs up {name}'s own layers and compiled optimizer, "
                         f"not self.{held}, whose state a resumed run would lose; train with the compiled one "
                         f"(self.train_on_batch in train_step), or back up in a callback of your own")
    if not getattr(model, "_calls", True):      # (a Sequential has its layers)
        raise ValueError(f"callbacks: BackupAndRestore reads a backup into {name} as fit starts, and {name} is "
                         f"not drawn yet (its call runs on the first batch its train_step passes it); build it "
                         f"first: model.build((None, *sample_shape)), or call it on a batch, model(x[:1])")


def _require_steps_compiled(model, call):
    # compiled with a loss before its call is drawn, a subclass holds its compile in
    # _deferred_compile until the first data draws it (graph.Model._draw): compiled too
    if (not model.__dict__.get("_steps_compiled") and model.loss is None
            and getattr(model, "_deferred_compile", None) is None):
        raise ValueError(f"{call}: call compile() first (a model with its own train_step may be compiled "
                         f"without a loss, as Keras' GAN is: super().compile())")


def _validates_by_evaluate(model):
    """Whether fit validates ``model`` (one with its own train_step) as ``evaluate`` scores it, by
    its compiled loss and metrics: evaluate's own dispatch (``_own_tests`` False: a graph of layers,
    no test_step) and a loss compiled (maybe held until the model is drawn, graph.Model._draw)."""
    return not model._own_tests and (model.loss is not None
                                      or getattr(model, "_deferred_compile", None) is not None)


def refuse_without_loss(model):
    """Refuse by name ``evaluate`` of a model (one with its own train_step, no test_step) compiled
    without a loss (Keras' ``super().compile()``): there is nothing to score it by, and the
    ordinary "call compile() first" would be untrue."""
    if model.__dict__.get("_steps_compiled") and model.loss is None and getattr(model, "_deferred_compile",
                                                                                None) is None:
        raise ValueError(f"evaluate: {type(model).__name__} defines train_step but no test_step, and was "
                         f"compiled without a loss to score it by (Keras' default test_step); define "
                         f"test_step(self, data), or compile it with a loss")


def refuse_own_metrics(model, call):
    """Refuse, naming ``call`` ("evaluate", "validation_data"), to score by its compiled loss and
    metrics a model (one with its own train_step, no test_step) whose class lists its own Metric
    objects as ``metrics`` (Keras' ``@property``): evaluate's code reads ``model.metrics`` as
    compile's ``(name, metric)`` pairs, and Keras' default test_step reports those trackers, which
    it never updates (their reset values, 0.0), so there is nothing faithful to give."""
    if lists_own_metrics(model):
        raise NotImplementedError(f"{call}: {type(model).__name__} lists its own metrics (@property def metrics) "
                                  f"and defines no test_step, so nothing updates them when it is scored (Keras' "
                                  f"default test_step reports them as reset, 0.0); define test_step(self, data), "
                                  f"updating them and returning their results")


def _evaluation_validation(model, validation_data, split, steps, feed):
    """fit's validation data for a model validated by evaluate's code (``_validates_by_evaluate``),
    checked and made as ordinary fit makes it: ``(x, y, w)`` arrays or a ``Feed``. ``split``:
    whether ``validation_data`` is what ``_Arrays.hold_out`` held out for ``validation_split``;
    ``feed``: the training data's Feed, or None."""
    if split and (not isinstance(validation_data, tuple) or len(validation_data) == 1):  # x alone: no y
        raise ValueError(f"validation_split: {type(model).__name__} is validated by its compiled loss (it "
                         f"defines no test_step), which needs targets; give fit y, or define "
                         f"test_step(self, data)")
    validation_data = model._validation_data(validation_data, steps)
    if isinstance(validation_data, Feed):
        if feed is not None and validation_data.data is feed.data:
            feed.restart()      # as ordinary fit's _fit_feed: the first epoch reads a new pass
    else:       # as ordinary fit's _fit_arrays: metrics that cannot take the targets fail before training
        model._check_metrics_on(*validation_data[:2])
    return validation_data


def fit_own_steps(model, x, y, *, epochs, batch_size, shuffle, validation_data, validation_split, verbose,
                  callbacks, initial_epoch, sample_weight, class_weight, validation_freq, steps_per_epoch,
                  validation_steps, validation_batch_size):
    """``fit`` of a model with its own ``train_step`` (see the module docstring): the same options,
    but ``class_weight`` (it weighs a compiled loss: give ``sample_weight``, which the step
    receives). Returns the ``History``, whose keys are those the step logs."""
    _require_steps_compiled(model, "fit")
    from . import config
    epochs = config.capped_epochs(check_positive_int(epochs, "epochs"))      # set_max_epochs
    batch_size = check_positive_int(batch_size, "batch_size", allow_none=True)
    verbose = check_verbose(verbose)
    initial_epoch = check_non_negative_int(initial_epoch, "initial_epoch")
    validation_split = check_fraction(validation_split, "validation_split")
    validation_freq = check_validation_freq(validation_freq)
    shuffle = check_flag(shuffle, "shuffle")
    steps_per_epoch = check_positive_int(steps_per_epoch, "steps_per_epoch", allow_none=True)
    validation_steps = check_positive_int(validation_steps, "validation_steps", allow_none=True)
    validation_batch_size = check_positive_int(validation_batch_size, "validation_batch_size", allow_none=True)
    check_callback_list(callbacks)
    name = type(model).__name__
    if class_weight is not None:
        raise ValueError(f"class_weight: it weighs a compiled loss, and {name}.train_step computes its own; "
                         f"give sample_weight, which the step receives as data[2]")
    validating = validation_data is not None or bool(validation_split)
    # without test_step, Keras runs its default one: the compiled loss and metrics, which glassnet
    # computes as evaluate does for a model with a graph and a loss; one without either (Keras'
    # GAN: no call, super().compile()) has nothing else to validate by
    by_evaluate = validating and not _runs_test_step(type(model)) and _validates_by_evaluate(model)
    if validating and not _runs_test_step(type(model)) and not by_evaluate:
        hint = "" if model._own_tests else " (or compile it with a loss: validation then evaluates by it)"
        raise NotImplementedError(f"validation_data: {name} defines train_step but no test_step, which "
                                  f"validation runs (glassnet runs Keras' default step only for a model with "
                                  f"a graph of layers and a compiled loss); define test_step(self, data), or "
                                  f"leave validation out{hint}")
    if by_evaluate:
        refuse_own_metrics(model, "validation_data")
    if validation_data is not None and validation_split:
        raise ValueError("give validation_data or validation_split, not both")
    # as ordinary fit: a validation_freq validating after no epoch warns (Keras never validates)
    validation_freq = settle_validation_freq(validation_freq, initial_epoch, epochs, validating)
    refuse_array_steps(x, validation_data, validation_split, steps_per_epoch, validation_steps,
                       validation_batch_size)
    _refuse_saving_callbacks(model, callbacks)
    if initial_epoch >= epochs:
        warn(f"fit: initial_epoch={initial_epoch} and epochs={epochs}: nothing to train; epochs is the epoch "
             f"to stop at (Keras), not a number of further epochs")

    feed = None
    if is_batches(x):
        refuse_beside_batches(x, y, sample_weight)
        if validation_split:
            raise ValueError("validation_split: it holds out the last samples of arrays; give validation_data")
        feed = Feed(x, steps_per_epoch, shuffle, lambda: model.shuffle_rng)
        batches, steps, n, bs = (lambda: _feed_epoch(feed, model)), feed.steps, None, None
    else:
        arrays = _arrays(model, x, y, sample_weight, batch_size, shuffle)
        if validation_split:
            validation_data = arrays.hold_out(model, validation_split, batch_size, shuffle)
        batches, steps, n, bs = arrays.epoch, arrays.steps, arrays.n, arrays.batch_size
    if by_evaluate:
        validation_data = _evaluation_validation(model, validation_data, bool(validation_split),
                                                 validation_steps, feed)
    read_validation = None if validation_data is None or by_evaluate else _reading(
        model, validation_data, validation_batch_size or batch_size, validation_steps, "fit")

    history, callback_list = fit_callbacks(callbacks, verbose)
    model.history = history
    # no "metrics" in params: the logs' keys are the step's, known once it has run; "validates" tells
    # the callbacks that watch a "val_" value that an epoch without one was not validated
    # (validation_freq), as params["metrics"] tells them in ordinary fit
    # a generator read validation_steps at a time may end: its epochs then have no "val_" values.
    # validated by evaluate's code, validation_data is a Feed by now; by test_step, the data as given
    read_from = validation_data.data if isinstance(validation_data, Feed) else validation_data
    hooks = CallbackList(callback_list, model, {"epochs": epochs, "steps": steps, "batch_size": bs, "samples": n,
                                                "verbose": verbose, "validation_freq": validation_freq,
                                                "validates": validation_data is not None,
                                                "validation_may_run_dry": is_batches(read_from)
                                                and not rereadable(read_from)})
    model.stop_training = False
    logs, step = {}, f"{name}.train_step"
    terminates_on_nan = any(isinstance(callback, TerminateOnNaN) for callback in callback_list)
    model._resume_epoch = None
    requested_start = initial_epoch
    hooks.call("on_train_begin", {})
    if model._resume_epoch is not None:     # BackupAndRestore restored a backup: go on from it, as ordinary fit
        initial_epoch, model._resume_epoch = model._resume_epoch, None
        if feed is not None:
            feed.resume(initial_epoch - requested_start)
        if initial_epoch >= epochs:
            warn(f"fit: the backup BackupAndRestore restored has {initial_epoch} epochs done, epochs={epochs}: "
                 f"nothing to train")
    with training_epochs(model, callback_list, hooks) as interrupt:
        for epoch in range(initial_epoch, epochs):
            model.reset_metrics()        # Keras: the trackers count one epoch each (an override runs)
            hooks.call("on_epoch_begin", epoch, {})
            if feed is not None:
                feed.begin_epoch()
            batch_logs, b = None, -1
            for b, data in batches():
                if hooks.has_batch_hooks:
                    hooks.call("on_train_batch_begin", b, {})
                try:
                    with inside_step(model):
                        returned = model.train_step(data)
                        batch_logs = step_logs(returned, step)
                except NonFiniteError as exc:       # a sub-model's train_on_batch: say where in fit
                    raise NonFiniteError(f"training stopped at epoch {epoch + 1}, batch {b + 1} ({step}): "
                                         f"{exc}", epoch + 1, b + 1, exc.layer, exc.what) from exc
                loss = batch_logs.get("loss")
                if loss is not None and not math.isfinite(loss) and terminates_on_nan:
                    # Keras' TerminateOnNaN reads the batch's logged "loss": a step computing its
                    # own loss has none that a sub-model's train_on_batch refused
                    raise NonFiniteError(f"training stopped at epoch {epoch + 1}, batch {b + 1} ({step}): "
                                         f"it logged loss {loss}", epoch + 1, b + 1)
                interrupt.check()
                if hooks.has_batch_hooks:
                    hooks.call("on_train_batch_end", b, batch_logs)
                if model.stop_training:
                    break
            if feed is not None:
                if feed.ran_out:        # a generator that ended: Keras warns and stops
                    ran_out_warning(epoch, b + 1, feed.steps)
                    model.stop_training = True
                feed.end_epoch()
            if batch_logs is None:      # not one batch this epoch: nothing to log
                break
            logs = dict(batch_logs)     # Keras: the last step's logs (running trackers)
            # (as returned: Keras flattens the epoch's logs once the "val_" ones join them, each
            # nested dict where its key sorts: {"compile_metrics": {"mae"}, "loss", "val_loss"})
            raw = _as_logged(returned, batch_logs)
            if validation_data is not None and validates(epoch, validation_freq):
                if by_evaluate:     # ordinary fit's validation (evaluate's code), fit's hooks
                    values = model._validate(validation_data, validation_batch_size or batch_size, hooks)
                    values = None if values is None else model._results(values, True)   # None: ran dry
                else:
                    values = _test_steps(model, read_validation, hooks)
                logs = step_logs({**raw, **{f"val_{key}": value for key, value in (values or {}).items()}}, step)
            hooks.call("on_epoch_end", epoch, dict(logs))    # a copy, as Keras' (training.py)
            interrupt.check()
            if model.stop_training:
                break
    hooks.call("on_train_end", logs)
    return history


def evaluate_own_steps(model, x, y=None, *, batch_size=None, sample_weight=None, return_dict=False, verbose=0,
                       steps=None, callbacks=None):
    """``evaluate`` of a model with its own ``test_step``: the metrics reset, ``test_step`` on each
    batch (data as fit hands it), and the last batch's logs: a dict with ``return_dict``, else
    Keras' list: "loss" (a compiled Keras model's ``metrics`` start with its loss tracker; not
    when the class defines ``metrics`` itself), the values of ``model.metrics`` by name, then of
    the Metrics held as attributes (``held_metrics``), then the rest by sorted key (one value
    alone, as a float)."""
    name = type(model).__name__
    if not _runs_test_step(type(model)):
        raise NotImplementedError(f"evaluate: {name} defines train_step but neither test_step nor call; "
                                  f"define test_step(self, data) for evaluate to run")
    _require_steps_compiled(model, "evaluate")
    batch_size = check_positive_int(batch_size, "batch_size", allow_none=True)
    verbose = check_verbose(verbose)
    return_dict = check_flag(return_dict, "return_dict")
    steps = check_positive_int(steps, "steps", allow_none=True)
    check_callback_list(callbacks, "evaluate")
    if steps is not None and not is_batches(x):         # as evaluate refuses it for any model
        raise ValueError("evaluate: steps counts the batches of a PyDataset, a DataLoader, a Dataset or a "
                         "generator; for arrays give batch_size")
    if is_batches(x):
        refuse_beside_batches(x, y, sample_weight)
        read = _reading(model, x, None, steps, "evaluate")
    else:
        if y is None and sample_weight is not None:     # checked, as fit checks them, then dropped
            _arrays(model, x, y, sample_weight, None, False, call="evaluate")
        read = _reading(model, keras_data(x, y, sample_weight), batch_size, None, "evaluate")
    hooks = CallbackList(list(callbacks or []), model, {"verbose": verbose, "steps": steps})
    logs = _test_steps(model, read, hooks) or {}
    if verbose:
        print(" - ".join(f"{key}: {value:.4f}" for key, value in logs.items()))
    return logs if return_dict else keras_order(model, logs)


def keras_order(model, logs):
    """The step's ``logs`` as Keras' ``_flatten_metrics_in_order`` lists them (evaluate,
    train_on_batch, test_on_batch without ``return_dict``): first the values named in
    ``model.metrics`` in its order, then the rest by sorted key; one value alone as itself."""
    names = []
    for item in model.metrics:      # Keras': its "loss" tracker, the compiled metrics, those held
        if isinstance(item, CompileMetrics):
            names += [sub.name for sub in item.metrics]
        else:
            names.append(getattr(item, "name", None))
    values = [logs[key] for key in names if key in logs] + [logs[key] for key in sorted(logs) if key not in names]
    return values[0] if len(values) == 1 else values
