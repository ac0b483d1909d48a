"""The callback protocol: ``Callback`` (no-op hooks), ``History``, ``LambdaCallback``,
``CallbackList`` (what ``fit`` calls) and the one rule for "better" (``resolve_mode``, ``improved``).
"""


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
    ``e`` (over its batches, before each batch's update, as Keras reports it). ``fit`` calls it after
    the callbacks it was given, so what they add to the logs ("learning_rate") is recorded too."""

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


def resolve_mode(mode, monitor, caller):
    """"min" or "max" for ``mode`` ("auto": max for names containing "acc", as Keras decides)."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{caller}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return "max" if "acc" in monitor else "min"
    return mode


def improved(value, best, mode, min_delta=0.0):
    """Whether ``value`` beats ``best`` by more than ``min_delta`` in direction ``mode``."""
    return value < best - min_delta if mode == "min" else value > best + min_delta


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
