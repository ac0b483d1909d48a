"""Callbacks that watch a logged value: ``EarlyStopping`` and ``ModelCheckpoint``."""
import math
import os

from .base import Callback, improved, resolve_mode


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``mode`` is "min", "max" or "auto" (max for names containing "acc", min otherwise). With
    ``restore_best_weights`` the model ends with the weights of its best epoch.
    """

    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, mode="auto",
                 restore_best_weights=False):
        super().__init__()
        mode = resolve_mode(mode, monitor, "EarlyStopping")
        self.monitor, self.patience, self.min_delta = monitor, int(patience), abs(float(min_delta))
        self.mode, self.restore_best_weights = mode, restore_best_weights
        self.stopped_epoch = None

    def on_train_begin(self, logs=None):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights, self.best_epoch, self.wait, self.stopped_epoch = None, None, 0, None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(f"EarlyStopping: monitor {self.monitor!r} is not among the logged values "
                             f"{sorted(logs)}")
        value = logs[self.monitor]
        if improved(value, self.best, self.mode, self.min_delta):
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


class ModelCheckpoint(Callback):
    """Save the model while it trains, as Keras does, through ``glassnet.io.save_model`` (atomic:
    a crash mid-save leaves the previous checkpoint intact).

    Parameters
    ----------
    filepath : str or os.PathLike
        May hold ``{epoch}`` (1-based, e.g. ``"ckpt-{epoch:02d}.npz"``) and any logged value
        (``"{val_loss:.3f}"``); used exactly as given otherwise (no ``.npz`` appended).
    monitor : str
        The logged value that ``save_best_only`` compares.
    save_best_only : bool
        Save only when ``monitor`` improves on the best value so far.
    mode : {"auto", "min", "max"}
        "auto" means max for names containing "acc", min otherwise.
    save_freq : "epoch" or int
        Save at the end of every epoch, or every ``save_freq`` batches.

    Each file records the number of completed epochs; the loaded model has it as
    ``model.initial_epoch``, so ``fit(..., initial_epoch=model.initial_epoch)`` resumes the run exactly
    (with ``save_freq="epoch"``: a save in mid-epoch records the epochs completed before it).

    Example
    -------
    >>> ckpt = ModelCheckpoint("ckpt.npz")                               # doctest: +SKIP
    >>> model.fit(X, y, epochs=10, callbacks=[ckpt])                     # doctest: +SKIP
    >>> model = glassnet.load_model("ckpt.npz")     # after a crash      # doctest: +SKIP
    >>> model.fit(X, y, epochs=10, initial_epoch=model.initial_epoch)    # doctest: +SKIP
    """

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto",
                 save_freq="epoch", verbose=0):
        super().__init__()
        try:
            self.filepath = os.fspath(filepath)
        except TypeError:
            raise TypeError(f"ModelCheckpoint: filepath must be a str or os.PathLike, "
                            f"got {type(filepath).__name__}") from None
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                     or save_freq <= 0):
            raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive number of "
                             f"batches, got {save_freq!r}")
        self.monitor, self.save_best_only, self.save_freq, self.verbose = (
            monitor, bool(save_best_only), save_freq, verbose)
        self.mode = resolve_mode(mode, monitor, "ModelCheckpoint")
        self.best, self.last_path = (math.inf if self.mode == "min" else -math.inf), None
        if save_freq != "epoch":
            # set on the instance only: fit skips per-batch hooks when no callback defines them
            self.on_train_batch_end = self._on_batch_end
        self._epoch, self._batches = 0, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def _on_batch_end(self, batch, logs=None):
        self._batches += 1
        if self._batches % self.save_freq == 0:
            self._save(self._epoch, logs or {}, completed=self._epoch, batch=batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, logs or {}, completed=epoch + 1)

    def _save(self, epoch, logs, completed, batch=None):
        fields = {**logs, "epoch": epoch + 1, **({} if batch is None else {"batch": batch})}
        try:
            path = self.filepath.format(**fields)
        except (KeyError, IndexError) as exc:
            raise ValueError(f"ModelCheckpoint: filepath {self.filepath!r} names {exc}, which is not "
                             f"among the logged values {sorted(fields)}") from None
        if self.save_best_only:
            if self.monitor not in logs:
                raise ValueError(f"ModelCheckpoint: monitor {self.monitor!r} is not among the logged "
                                 f"values {sorted(logs)}")
            value = logs[self.monitor]
            if not improved(value, self.best, self.mode):
                return
            if self.verbose:
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{value:.5f}, saving model to {path}")
            self.best = value
        elif self.verbose:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        from ..io import save_model          # here, not at the top: io imports the model, which imports us
        save_model(self.model, path, epoch=completed)
        self.last_path = path
