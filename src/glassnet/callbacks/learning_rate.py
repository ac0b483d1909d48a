"""Callbacks that change the optimizer's learning rate between epochs: ``LearningRateScheduler``
(a schedule) and ``ReduceLROnPlateau`` (when a logged value stops improving).
"""
import inspect
import math
import numbers

import numpy as np

from .._validation import check_number
from .base import (Callback, settle_auto_mode, check_callback_verbose, check_monitor_logged, check_non_negative_int,
                   improved, missing_monitor, resolve_mode, unvalidated_epoch)


def _current_learning_rate(model):
    return float(model.optimizer.learning_rate)


def _refuse_schedule(model, caller):
    """At ``on_train_begin``: an optimizer whose rate follows a schedule refuses a rate set from
    outside (see ``optimizers.schedules``); say so before any epoch is spent, not at the first change."""
    schedule = getattr(model.optimizer, "schedule", None)
    if schedule is not None:
        raise TypeError(f"{caller}: the optimizer's learning rate follows {schedule!r:.100}, which sets it "
                        f"before every update; a callback cannot change it too: use one or the other")


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch to ``schedule(epoch, lr)``, as Keras does.

    Parameters
    ----------
    schedule : callable ``(epoch, lr) -> float`` or ``(epoch) -> float``
        ``epoch`` counts from 0 (from ``initial_epoch`` when ``fit`` resumes); ``lr`` is the current
        learning rate as a float. The result must be a finite number >= 0 (0, as in Keras and
        torch.optim, takes no step: a warm-up's first epoch; Ftrl refuses it). As in Keras, a
        schedule that can take two arguments gets both; one that takes only ``epoch`` gets that.
    verbose : {0, 1}
        1 prints the rate set at the start of every epoch.

    The rate each epoch trained with is logged as ``"learning_rate"``, so it lands in
    ``history.history["learning_rate"]``. It stays on ``model.optimizer``: a model saved afterwards
    loads with it, and a resumed ``fit`` passes it to ``schedule`` as ``lr``.

    Example
    -------
    >>> halve = LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else lr / 2)
    >>> model.compile(loss="mse", optimizer=SGD(learning_rate=0.1))        # doctest: +SKIP
    >>> model.fit(X, y, epochs=3, callbacks=[halve]).history["learning_rate"]  # doctest: +SKIP
    [0.1, 0.05, 0.025]
    >>> LearningRateScheduler(lambda epoch: 0.5 / (epoch + 1)).takes_lr     # one argument: epoch
    False
    """

    logs_added = ("learning_rate",)

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule) or getattr(schedule, "is_model", False):
            raise TypeError(f"LearningRateScheduler: schedule must be a callable (epoch, lr) -> float "
                            f"or (epoch) -> float, got {type(schedule).__name__}")
        self.schedule, self.takes_lr = schedule, _takes_lr(schedule)
        self.verbose = check_callback_verbose(verbose, "LearningRateScheduler")

    def on_train_begin(self, logs=None):
        _refuse_schedule(self.model, "LearningRateScheduler")

    def on_epoch_begin(self, epoch, logs=None):
        lr = _current_learning_rate(self.model)
        # the form was read from the signature once: a TypeError raised inside a two-argument
        # schedule must surface as it is, not be taken for "call it with epoch alone" as Keras does
        value = self.schedule(epoch, lr) if self.takes_lr else self.schedule(epoch)
        # Keras accepts only floats; any finite real >= 0 (ints, NumPy scalars) is as good: 0 is a
        # rate the optimizers take (Keras' too: a warm-up from 0), negative or NaN ones would wreck training
        if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                or not math.isfinite(value) or value < 0):
            raise ValueError(f"LearningRateScheduler: schedule({epoch}, {lr!r}) must return a finite "
                             f"number >= 0 for epoch {epoch}, got {value!r}")
        # a plain float: the optimizer's config is written to JSON when the model is saved
        self.model.optimizer.learning_rate = float(value)
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(value)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _current_learning_rate(self.model)


def _takes_lr(schedule):
    """Whether ``schedule`` is called as ``schedule(epoch, lr)`` (True) or ``schedule(epoch)``
    (False), read from its signature; a TypeError naming ``schedule`` if it can be neither."""
    try:
        signature = inspect.signature(schedule)
    except (TypeError, ValueError):     # some built-in callables have no signature to read:
        return True                     # Keras' usual form, then
    for takes_lr, args in ((True, (0, 0.1)), (False, (0,))):
        try:
            signature.bind(*args)       # binds the arguments to the parameters; calls nothing
            return takes_lr
        except TypeError:
            pass
    raise TypeError(f"LearningRateScheduler: schedule must take (epoch, lr) or (epoch) as positional "
                    f"arguments, got a callable with the signature {signature}")


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has stopped improving, as Keras does.

    After ``patience`` epochs in a row without an improvement of more than ``min_delta`` (in the
    direction of ``mode``), the rate becomes ``max(lr * factor, min_lr)``; then ``cooldown`` epochs
    pass before epochs without improvement count again. A rate already at ``min_lr`` stays there.

    Parameters
    ----------
    monitor : str
        A logged value ("val_loss", "loss", "val_accuracy", ...). When it is missing from an epoch's
        logs (no validation data, a typo) a ValueError names the logged values, as EarlyStopping
        does (Keras only warns, and a misspelt monitor then silently never reduces the rate); as
        training begins when ``fit`` can already tell that no epoch will log it.
    factor : float in (0, 1)
    patience, cooldown : int >= 0
    mode : {"auto", "min", "max"}
        "auto" means max for names containing "acc" and for "auc", "precision", "recall",
        "f1_score" and "fbeta_score"
        (with or without "val_"), min otherwise.
    min_delta : float >= 0
        Smallest change that counts as an improvement.
    min_lr : float >= 0
    verbose : {0, 1}
        1 prints a line whenever the rate is reduced.

    Like ``LearningRateScheduler`` it logs the rate each epoch trained with as ``"learning_rate"``.

    Example
    -------
    >>> reduce = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3, min_lr=1e-4)
    >>> model.fit(X, y, epochs=50, validation_split=0.2, callbacks=[reduce])  # doctest: +SKIP
    """

    logs_added = ("learning_rate",)

    # Keras' order, so that a call ported with its arguments by position means the same here
    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__()
        self.mode, self.mode_setting = resolve_mode(mode, monitor, "ReduceLROnPlateau"), mode
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not 0 < factor < 1:
            raise ValueError(f"ReduceLROnPlateau: factor must be a number in (0, 1), got {factor!r}")
        self.patience = check_non_negative_int(patience, "patience", "ReduceLROnPlateau")
        self.cooldown = check_non_negative_int(cooldown, "cooldown", "ReduceLROnPlateau")
        self.min_delta = check_number(min_delta, "ReduceLROnPlateau: min_delta", ">= 0")
        self.min_lr = check_number(min_lr, "ReduceLROnPlateau: min_lr", ">= 0")
        self.monitor, self.factor = monitor, float(factor)
        self.verbose = check_callback_verbose(verbose, "ReduceLROnPlateau")
        self._reset()

    def _reset(self):
        # best starts as None, not inf: as in Keras (and EarlyStopping) the first epoch improves
        # whatever its value; an infinite first val_loss must not count as an epoch without improvement
        self.best = None
        self.wait, self.cooldown_counter = 0, 0

    def on_train_begin(self, logs=None):
        self._reset()
        # a monitor that no epoch can log is refused now, not after an epoch of training
        check_monitor_logged(self, "ReduceLROnPlateau")
        settle_auto_mode(self)          # (its best starts as None: nothing to start afresh)
        _refuse_schedule(self.model, "ReduceLROnPlateau")

    def on_epoch_end(self, epoch, logs=None):
        logs = {} if logs is None else logs
        lr = logs["learning_rate"] = _current_learning_rate(self.model)
        if unvalidated_epoch(self, logs):       # fit's validation_freq skipped this epoch's (Keras
            return                              # leaves its counters as they were too)
        if self.monitor not in logs:     # an error, as in EarlyStopping: a typo must not go unseen
            raise missing_monitor(self, "ReduceLROnPlateau", logs)
        value = logs[self.monitor]
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.best is None or improved(value, self.best, self.mode, self.min_delta):
            self.best, self.wait = value, 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        # compared in float32, as Keras (whose rate is a float32 variable) does: lr * factor can land
        # a rounding error above min_lr, and that must not count as room for one more reduction
        if self.wait >= self.patience and np.float32(lr) > np.float32(self.min_lr):
            new_lr = max(lr * self.factor, self.min_lr)
            self.model.optimizer.learning_rate = new_lr
            if self.verbose:
                print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
            self.cooldown_counter, self.wait = self.cooldown, 0
