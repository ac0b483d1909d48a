"""Callbacks: objects whose hooks ``fit`` calls at the start and end of training, epochs and batches.

Every hook is a no-op in ``Callback``; subclasses override the ones they need. ``logs`` is a dict of
the current values (``loss``, metrics, ``val_*``). ``self.model`` is the model being trained; setting
``model.stop_training = True`` ends training after the current epoch.
"""
import math
import sys
import time

import numpy as np


class Callback:
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
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass


class History(Callback):
    """Records the logs of every epoch: ``history["loss"][e]`` is the mean training loss of epoch
    ``e`` (over its batches, before each batch's update, as Keras reports it)."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self):
        return f"<History epochs={len(self.epoch)} keys={sorted(self.history)}>"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``mode`` is "min", "max" or "auto" (max for names containing "acc", min otherwise). With
    ``restore_best_weights`` the model ends with the weights of its best epoch.
    """

    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, mode="auto",
                 restore_best_weights=False):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.monitor, self.patience, self.min_delta = monitor, int(patience), abs(float(min_delta))
        self.mode, self.restore_best_weights = mode, restore_best_weights
        self.stopped_epoch = None

    def on_train_begin(self, logs=None):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights, self.best_epoch, self.wait, self.stopped_epoch = None, None, 0, None

    def _improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(f"EarlyStopping: monitor {self.monitor!r} is not among the logged values "
                             f"{sorted(logs)}")
        value = logs[self.monitor]
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = [w.copy() for w in self.model.get_weights()]
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class ProgressBar(Callback):
    """What ``fit(verbose=1)`` shows: a bar redrawn in place (at most ten times a second) and one
    summary line per epoch. ``verbose=2`` prints only the line. Written with plain ``print``."""

    def __init__(self, verbose=1, stream=None, width=30):
        super().__init__()
        self.verbose, self.stream, self.width = verbose, stream, width

    def _write(self, text):
        stream = self.stream or sys.stdout
        stream.write(text)
        stream.flush()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.start, self.last_draw, self.drawn = epoch, time.perf_counter(), 0.0, 0

    def on_train_batch_end(self, batch, logs=None):
        if self.verbose != 1:
            return
        now = time.perf_counter()
        if now - self.last_draw < 0.1:
            return
        self.last_draw = now
        steps = self.params.get("steps") or 1
        done = int(self.width * (batch + 1) / steps)
        bar = (f"Epoch {self.epoch + 1}/{self.params.get('epochs')} "
               f"[{'=' * done}{'.' * (self.width - done)}] {batch + 1}/{steps} "
               f"- loss: {logs.get('loss', float('nan')):.4f}")
        self.drawn = len(bar)
        self._write("\r" + bar)

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.start
        values = " - ".join(f"{k}: {v:.4f}" for k, v in (logs or {}).items())
        line = f"Epoch {epoch + 1}/{self.params.get('epochs')} - {seconds:.3f}s - {values}"
        if self.drawn:                       # overwrite the bar, padding out its longer tail
            line = "\r" + line.ljust(self.drawn)
        self._write(line + "\n")


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, **hooks):
        super().__init__()
        for name, fn in hooks.items():
            if not hasattr(Callback, name) or not name.startswith("on_"):
                raise ValueError(f"LambdaCallback: unknown hook {name!r}")
            setattr(self, name, fn)


class CallbackList:
    """Calls a hook on every callback in order."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks: expected Callback instances, got {type(callback).__name__}")
            callback.set_model(model)
            callback.set_params(params)
        # batch hooks cost a Python call per batch: skip them when no callback overrides them
        self.has_batch_hooks = any(
            type(c).on_train_batch_end is not Callback.on_train_batch_end
            or type(c).on_train_batch_begin is not Callback.on_train_batch_begin
            or "on_train_batch_end" in vars(c) or "on_train_batch_begin" in vars(c)
            for c in self.callbacks)

    def call(self, hook, *args):
        for callback in self.callbacks:
            getattr(callback, hook)(*args)
