"""The callback protocol: ``Callback`` (no-op hooks), ``History``, ``LambdaCallback``,
``CallbackList`` (what ``fit`` calls), the one rule for "better" (``resolve_mode``, ``improved``) and
the argument checks the callbacks share.
"""
import inspect
import math
import numbers
import os
import weakref

from .._warnings import warn
from .._validation import check_choice


class Callback:
    """The base of every callback: hooks that do nothing until a subclass overrides them.

    ``fit`` calls, in order: ``set_model(model)`` and ``set_params(params)``, then
    ``on_train_begin(logs)``; per epoch ``on_epoch_begin(epoch, logs)``, per batch
    ``on_train_batch_begin(batch, logs)`` and ``on_train_batch_end(batch, logs)`` (``logs``: the
    running means of the loss and metrics over the epoch so far), the validation's
    ``on_test_begin``, ``on_test_batch_begin``/``_end`` per batch and ``on_test_end`` (its logs
    without the "val_" prefix), ``on_epoch_end(epoch, logs)`` (``logs``: the epoch's "loss",
    metrics and "val_" values; a callback may add to it for the callbacks after it); finally
    ``on_train_end(logs)`` (the last epoch's logs as fit made them, without what callbacks added,
    as in Keras). Epochs
    and batches count from 0, as in Keras. ``evaluate(..., callbacks=...)`` calls the test hooks,
    ``predict(..., callbacks=...)`` ``on_predict_begin``, ``on_predict_batch_begin``/``_end``
    (``logs["outputs"]``: the batch's) and ``on_predict_end``, per batch of their ``batch_size``
    (without one, per chunk glassnet chooses: often one).

    ``params`` holds "epochs", "steps", "batch_size", "samples", "verbose", "metrics" (the keys
    ``fit`` writes into every epoch's logs: "loss", the compiled metrics' names, and their "val_"
    versions when there is validation data) and "log_keys": every key an epoch's logs can hold
    ("metrics" and what the callbacks add, such as "learning_rate"), or None when a callback in
    the list may add keys it does not declare. A callback class that overrides a hook declares
    what it adds to the logs as ``logs_added``, a tuple of keys (``()``: nothing); one that does
    not leaves "log_keys" None, and with it the checks of monitors that wait for the logs.

    Setting ``self.model.stop_training = True`` ends training as Keras 3 does: ``fit`` checks the
    flag after every batch and every epoch. Set in a batch hook, it ends the epoch after that batch;
    the epoch's validation and ``on_epoch_end`` still run, with the logs averaged over the batches
    that ran, and then training stops. Set in ``on_epoch_end``, training stops after that epoch.

    Example
    -------
    >>> class PrintLoss(Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         print(epoch, round(logs["loss"], 2))
    """

    # The keys this callback adds to the logs it is given, declared so that fit can tell before
    # training which values the logs will hold. None: unknown. Only a declaration in the callback's
    # own class counts: a subclass that overrides a hook may add keys its parent did not.
    logs_added = None

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass

    # Keras' older names for the training-batch hooks: called by the two below unless a subclass
    # overrides those, so callbacks written against either name work, as in Keras
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass

    def on_train_batch_begin(self, batch, logs=None):
        _call_batch_hook(self.on_batch_begin, batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        _call_batch_hook(self.on_batch_end, batch, logs)

    # Keras' hooks of evaluation (fit's validation, and evaluate given callbacks) and of predict:
    # on_test_batch_end's logs are the running loss and metrics (no "val_" prefix), on_test_end's
    # the final ones; on_predict_batch_end's logs hold the batch's "outputs"
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


class History(Callback):
    """Records the logs of every epoch: ``history["loss"][e]`` is the mean training loss of epoch
    ``e`` (over its batches, before each batch's update, as Keras reports it). ``fit`` calls it after
    the callbacks it was given, so what they add to the logs ("learning_rate") is recorded too.

    One History given to several ``fit`` calls does what Keras 3's does: ``epoch`` (and
    ``validation_epoch``) start afresh at each fit's ``on_train_begin``, listing that fit's epochs
    only, while ``history`` keeps appending, so its lists hold every fit's epochs one after the other.

    >>> h = History(); h.on_train_begin(); h.on_epoch_end(0, {"loss": 0.5})
    >>> h.on_train_begin(); h.on_epoch_end(0, {"loss": 0.25})
    >>> h.epoch, h.history
    ([0], {'loss': [0.5, 0.25]})
    """

    logs_added = ()

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []
        # the epochs whose logs hold validation values: all of them unless fit's validation_freq
        # skips some, and then the "val_" lists are shorter than the others
        self.validation_epoch = []

    # The model keeps its last History (``model.history``, as in Keras); a strong reference back
    # made a cycle, so a trained model dropped in a loop (a sweep) waited for the cyclic garbage
    # collector, with its last batch's caches: ``history.model`` is a weak reference.
    @property
    def model(self):
        return None if self._model_ref is None else self._model_ref()

    @model.setter
    def model(self, model):
        self._model_ref = None if model is None else weakref.ref(model)

    def __getstate__(self):            # pickle and deepcopy: a weak reference cannot be copied
        return {**self.__dict__, "_model_ref": None}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.__dict__.setdefault("validation_epoch", [])   # pickled before validation_freq existed

    def on_train_begin(self, logs=None):
        # Keras 3's History resets its epochs here but not its logs: reused by a second fit, it
        # lists that fit's epochs while history[key] goes on from the first fit's values
        self.epoch = []
        self.validation_epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        if "val_loss" in (logs or {}):
            self.validation_epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self):
        return f"<History epochs={len(self.epoch)} keys={sorted(self.history)}>"


# the default names of glassnet.metrics' Precision, Recall, AUC, F-scores and R2Score: the higher, the better
_MAXIMISED = frozenset({"precision", "recall", "auc", "f1_score", "fbeta_score", "r2_score"})


def resolve_mode(mode, monitor, caller):
    """"min" or "max" for ``mode``. "auto": max for names containing "acc" (Keras' rule for
    accuracies) and for "auc", "precision", "recall", "f1_score", "fbeta_score" and "r2_score" with
    or without "val_" (the names of the metrics Keras maximises: its AUC, Precision, Recall,
    F1Score, FBetaScore and R2Score), min otherwise.

    Every monitoring callback calls it, so it also checks that ``monitor`` is a logged value's name."""
    if not isinstance(monitor, str):
        raise TypeError(f"{caller}: monitor must be the name of a logged value (a str), "
                        f"got {monitor!r}")
    check_choice(mode, f"{caller}: mode", ("auto", "min", "max"), expected="'auto', 'min' or 'max'")
    if mode == "auto":
        return "max" if "acc" in monitor or monitor.removeprefix("val_") in _MAXIMISED else "min"
    return mode


def improved(value, best, mode, min_delta=0.0):
    """Whether ``value`` beats ``best`` by more than ``min_delta`` in direction ``mode``."""
    return value < best - min_delta if mode == "min" else value > best + min_delta


def is_integer(value):
    """Whether ``value`` is an integer: Python's or NumPy's, but not a bool."""
    return not isinstance(value, bool) and isinstance(value, numbers.Integral)


def check_path(value, what):
    """``value`` as a path string (``os.fspath``); a TypeError naming ``what`` (``"CSVLogger:
    filename"``) unless it is a str or an os.PathLike."""
    try:
        path = os.fspath(value)
    except TypeError:
        raise TypeError(f"{what} must be a str or os.PathLike, got {type(value).__name__}") from None
    if not isinstance(path, str):       # bytes: fit would fail at the first write, naming nothing
        raise TypeError(f"{what} must be a str or os.PathLike of one, got {type(path).__name__}")
    return path


def check_non_negative_int(value, arg, caller):
    """``value`` as an int; a ValueError naming ``arg`` unless it is an integer >= 0."""
    if not is_integer(value) or value < 0:
        raise ValueError(f"{caller}: {arg} must be a non-negative integer, got {value!r}")
    return int(value)


def check_optional_number(value, what):
    """``value`` as a float, or None; a ValueError naming ``what`` (``"EarlyStopping: baseline"``)
    unless it is None or a finite real number (a threshold compared with logged values)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{what} must be None or a finite number, got {value!r}")
    return float(value)


def check_callback_verbose(value, caller):
    """``value`` as an int; a ValueError naming ``verbose`` unless it is 0 or 1, Keras' two modes
    for callbacks (silent, or one line per event)."""
    if not is_integer(value) or value not in (0, 1):
        raise ValueError(f"{caller}: verbose must be 0 (silent) or 1 (print a line per event), "
                         f"got {value!r}")
    return int(value)


def validation_hint(name, params):
    """A hint for a "val_" ``name`` missing from the logs of a fit without validation data."""
    if name.startswith("val_") and "metrics" in params and "val_loss" not in params["metrics"]:
        return "; this fit has no validation data: pass fit validation_data or validation_split"
    return ""


def unvalidated_epoch(callback, logs):
    """True when ``callback.monitor`` is a "val_" value and this epoch's ``logs`` lack it because
    fit's ``validation_freq`` skipped its validation (the fit has validation data, the epoch did
    not use it), or a validation generator had run dry (``validation_steps``). EarlyStopping and ReduceLROnPlateau then skip the epoch as Keras' do (Keras with
    a warning each time; here quietly, as the user asked for those epochs); ModelCheckpoint with
    ``save_best_only`` skips it too, where Keras warns and saves regardless of the monitor."""
    params = callback.params
    skipping = params.get("validation_freq", 1) != 1 or params.get("validation_may_run_dry", False)
    # a fit with validation data: ordinary fit lists "val_loss" in params["metrics"]; fit of a model
    # with its own train_step, whose keys are its step's, says "validates" (glassnet.own_steps), and
    # an epoch it validated logs some "val_" value (a test_step's own names)
    own = params.get("validates", False)
    validated = "val_loss" in logs or (own and any(key.startswith("val_") for key in logs))
    return (callback.monitor.startswith("val_") and callback.monitor not in logs and not validated
            and skipping and ("val_loss" in params.get("metrics", ()) or own))


def missing_monitor(callback, caller, logged):
    """The ValueError for a ``callback.monitor`` that is not among the ``logged`` values."""
    return ValueError(f"{caller}: monitor {callback.monitor!r} is not among the logged values "
                      f"{sorted(logged)}{validation_hint(callback.monitor, callback.params)}")


def monitored_metric(model, monitor):
    """The compiled metric logged as ``monitor`` (with or without "val_"), or None: one of compile's
    ``(name, metric)`` pairs (``model._compiled_metrics``), or of the Metric objects a model with
    steps of its own lists in ``model.metrics`` (Keras' trackers, a ``@property``'s objects), each
    logged under its ``name``."""
    name = monitor.removeprefix("val_")
    for item in [*(getattr(model, "_compiled_metrics", None) or []), *(getattr(model, "metrics", None) or [])]:
        metric_name, metric = item if isinstance(item, tuple) else (getattr(item, "name", None), item)
        if metric_name == name:
            return metric
    return None


def metric_mode(model, monitor):
    """"max" or "min" as the compiled metric logged as ``monitor`` says by its ``direction`` ("up",
    "down"), or None when no such metric says: the name decides then (``resolve_mode``)."""
    return {"up": "max", "down": "min"}.get(getattr(monitored_metric(model, monitor), "direction", None))


def settle_auto_mode(callback):
    """At ``on_train_begin``, for ``mode="auto"``: the compiled metric logged as the monitor says
    which way is better (its ``direction``), as Keras asks it, and the callback takes that mode
    (a ``Precision`` named "prec", a ``MeanIoU``, a ``CosineSimilarity``: higher; a
    ``MeanAbsoluteError`` named "mae_acc": lower), whatever its name suggested at construction.
    Returns whether the mode changed, so that the callback can start its best value afresh."""
    if getattr(callback, "mode_setting", None) != "auto":
        return False
    wanted = metric_mode(callback.model, callback.monitor)
    if wanted is None or wanted == callback.mode:
        return False
    callback.mode = wanted
    return True


def check_monitor_logged(callback, caller):
    """At ``on_train_begin``: raise now, before any weight changes, the error that ``on_epoch_end``
    would raise after a whole epoch, when ``params["log_keys"]`` shows that no epoch's logs can
    hold ``callback.monitor``. Without that list (hooks called outside ``fit``, or a callback that
    may add keys of its own) nothing is certain yet, and the check waits for the logs."""
    log_keys = callback.params.get("log_keys")
    if log_keys is not None and callback.monitor not in log_keys:
        raise missing_monitor(callback, caller, log_keys)


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``.

    A hook given as None is left a no-op, as in Keras (``on_epoch_begin=None``)."""

    def __init__(self, **hooks):
        super().__init__()
        for name, fn in hooks.items():
            if not hasattr(Callback, name) or not name.startswith("on_"):
                raise ValueError(f"LambdaCallback: unknown hook {name!r}")
            if fn is None:          # Keras skips it; set, fit would call None and fail mid-training
                continue
            if not callable(fn):
                raise TypeError(f"LambdaCallback: {name} must be a function or None, got {type(fn).__name__}")
            setattr(self, name, fn)


# what fit calls per training batch, and the Keras aliases that Callback's versions of them call
BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")
# the hooks Keras hands their logs by keyword (CallbackList: callback.on_train_batch_end(batch, logs=logs))
_KEYWORD_LOGS = frozenset(BATCH_HOOKS + ("on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin",
                                         "on_predict_batch_end"))


def _logs_by_keyword(hook):
    """Whether the batch hook ``hook`` (bound, or a function a LambdaCallback holds) takes its
    second argument, the logs, by keyword only: ``def on_train_batch_end(self, batch, **kwargs)``,
    which Keras runs, since it hands batch hooks their logs as ``logs=``."""
    try:
        parameters = list(inspect.signature(hook).parameters.values())
    except (TypeError, ValueError):         # no signature to read (a builtin): by position, as always
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) < 2 and not any(p.kind is p.VAR_POSITIONAL for p in parameters)


# _logs_by_keyword of each hook's function, read once (a signature costs ~10 us; a batch, less)
_KEYWORD_CACHE = weakref.WeakKeyDictionary()


def _call_batch_hook(hook, batch, logs):
    """``hook(batch, logs)``, but ``logs=`` by keyword to a hook that takes no second argument by
    position, as Keras hands batch hooks their logs: ``CallbackList.call`` for every batch hook,
    and Callback's aliases (on_train_batch_end calling on_batch_end), as Keras' hand it on."""
    function = getattr(hook, "__func__", hook)
    try:
        by_keyword = _KEYWORD_CACHE.get(function)
        if by_keyword is None:
            by_keyword = _KEYWORD_CACHE[function] = _logs_by_keyword(hook)
    except TypeError:                       # not weakly referable (a builtin): read each time
        by_keyword = _logs_by_keyword(hook)
    if by_keyword:
        hook(batch, logs=logs)
    else:
        hook(batch, logs)


def _defines(callback, hook):
    """Whether ``callback`` does something in ``hook``: its class overrides the no-op, or it was set
    on the instance (LambdaCallback, ModelCheckpoint with save_freq in batches)."""
    return getattr(type(callback), hook) is not getattr(Callback, hook) or hook in vars(callback)


def keys_added(callback):
    """The keys ``callback`` may add to the logs: a tuple, or None when that cannot be known."""
    if not any(_defines(callback, hook) for hook in ("on_epoch_end", *BATCH_HOOKS)):
        return ()                   # it never sees an epoch's or a batch's logs
    return vars(type(callback)).get("logs_added")


def check_callback_list(callbacks, caller=None):
    """Refuse what ``fit``, ``evaluate`` and ``predict`` cannot take as ``callbacks``: one
    Callback not in a list, or a list holding something else; ``caller`` ("evaluate") prefixes
    the message."""
    prefix = f"{caller}: " if caller else ""
    if isinstance(callbacks, Callback):
        name = type(callbacks).__name__
        raise TypeError(f"{prefix}callbacks: expected a list of glassnet Callback objects, got a single "
                        f"{name}; pass it in a list: callbacks=[{name}(...)]")
    if callbacks is not None and (not isinstance(callbacks, (list, tuple))
                                  or not all(isinstance(c, Callback) for c in callbacks)):
        raise TypeError(f"{prefix}callbacks: expected a list of glassnet Callback objects, got {callbacks!r:.100}")


class CallbackList:
    """Calls a hook on every callback in order.

    When ``params`` has "metrics" (the keys fit logs), it gets "log_keys" too: those and the keys
    the callbacks declare they add, or None if one of them may add keys it does not declare."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks: expected Callback instances, got {type(callback).__name__}")
        if "metrics" in params:
            added = [keys_added(c) for c in self.callbacks]
            params = {**params, "log_keys": None if None in added else
                      sorted({*params["metrics"], *(key for keys in added for key in keys)})}
        for callback in self.callbacks:
            callback.set_model(model)
            callback.set_params(params)
        # batch hooks cost a Python call per batch: skip them when no callback overrides them
        self.has_batch_hooks = any(_defines(c, hook) for c in self.callbacks for hook in BATCH_HOOKS)
        self.has_test_batch_hooks = any(_defines(c, hook) for c in self.callbacks
                                        for hook in ("on_test_batch_begin", "on_test_batch_end"))
        self.has_predict_batch_hooks = any(_defines(c, hook) for c in self.callbacks
                                           for hook in ("on_predict_batch_begin", "on_predict_batch_end"))

    def call(self, hook, *args):
        """Run ``hook`` on every callback, its arguments by position: ``(logs)``, ``(epoch, logs)``
        or ``(batch, logs)``; but ``logs=`` by keyword to a batch hook that takes no second
        argument by position, ``on_train_batch_end(self, batch, **kwargs)``, as Keras, which
        hands every batch hook its logs by keyword, runs it."""
        if hook in _KEYWORD_LOGS:
            batch, logs = args
            for callback in self.callbacks:
                _call_batch_hook(getattr(callback, hook), batch, logs)
            return
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def call_private(self, hook):
        """Call glassnet's own hook ``hook`` (``_before_finalize``) on the callbacks that define it."""
        for callback in self.callbacks:
            method = getattr(callback, hook, None)
            if method is not None:
                method()

    def on_error(self):
        """When an error (or Ctrl-C) leaves ``fit``, ``evaluate`` or ``predict``, their end hooks
        never run: a callback that must act then does so in its ``_on_error`` (TensorBoard writes
        the values it kept; SwapEMAWeights puts the trained weights back). A failure there is a
        warning, so that the error that stopped the call is the one raised."""
        for callback in self.callbacks:
            keep = getattr(callback, "_on_error", None)
            if keep is not None:
                try:
                    keep()
                except Exception as exc:
                    warn(f"{type(callback).__name__}: could not clean up after the error ({exc})", RuntimeWarning)
