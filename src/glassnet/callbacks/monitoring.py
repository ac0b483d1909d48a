"""Callbacks that watch a logged value: ``EarlyStopping`` and ``ModelCheckpoint``."""
import math
import os
import string

from .._saveable import check_saveable, check_text_widths
from .._validation import check_flag, check_number
from .base import (Callback, settle_auto_mode, check_callback_verbose, check_monitor_logged, check_non_negative_int,
                   check_optional_number, check_path, improved, is_integer, missing_monitor, resolve_mode,
                   unvalidated_epoch, validation_hint)


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has stopped improving, exactly as Keras 3 decides.

    An epoch *improves* when its value beats the best so far by more than ``min_delta`` in the
    direction of ``mode`` (the first epoch of every ``fit`` always does). The callback counts epochs
    in ``wait``: every epoch adds one, and an improving epoch resets it to 0 (with a ``baseline``:
    only one that also beats the baseline by more than ``min_delta``). Training stops at the end of
    the first epoch that does not improve once ``wait >= patience``; that is

    - ``patience`` = p >= 1: at the p-th epoch in a row without improvement;
    - ``patience=0``: at the first epoch without improvement (so 0 and 1 behave the same).

    Example: val_loss 1.0, 0.9, 0.95, 0.96, ... stops at epoch 2 (0-based) with patience 0 or 1,
    at epoch 3 with patience 2. With a baseline the count runs from the last epoch that beat it (or
    from the start of the fit): if no epoch beats it, training stops at the first epoch without
    improvement from the ``patience``-th epoch of the fit on. An epoch that improves on the best
    never stops training.

    Parameters
    ----------
    monitor : str
        A logged value ("val_loss", "loss", "val_accuracy", ...). When it is missing from an epoch's
        logs a ValueError names the logged values (Keras only warns); when ``fit`` can tell that no
        epoch will log it ("val_loss" without validation data, a misspelt metric), the error comes
        as training begins, before any weight changes.
    min_delta : float >= 0
        Smallest change that counts as an improvement.
    patience : int >= 0
    mode : {"auto", "min", "max"}
        "auto" means max for names containing "acc" and for "auc", "precision", "recall",
        "f1_score" and "fbeta_score"
        (with or without "val_"), min otherwise.
    baseline : float or None
        A value the monitor must beat for ``wait`` to reset.
    restore_best_weights : bool
        At the end of training (stopped early or not) the model gets the weights of the epoch with
        the best value (``best_epoch``), even if it did not beat ``baseline``.
    verbose : {0, 1}
        1 prints Keras' lines at the end of training: "Epoch {n}: early stopping" when it stopped
        training, and "Restoring model weights from the end of the best epoch: {n}." when
        ``restore_best_weights`` restores them (epochs numbered from 1, as Keras prints them).
    start_from_epoch : int >= 0
        Epochs before this one (0-based, counted as ``fit`` counts them, from ``initial_epoch``)
        are not monitored: a warm-up in which the value may rise without stopping training. The
        first monitored epoch then counts as the first epoch above. As in Keras.

    After training ``stopped_epoch`` is the epoch (0-based) at which it stopped, or 0 when it did
    not stop, as in Keras (ported ``if stopper.stopped_epoch > 0:`` runs as there). It never stops
    at 0: the first monitored epoch always improves on "no value yet".
    """

    logs_added = ()

    # Keras' order, so that a call ported with its arguments by position means the same here:
    # EarlyStopping("val_loss", 0, 3) is min_delta=0, patience=3
    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.mode, self.mode_setting = resolve_mode(mode, monitor, "EarlyStopping"), mode
        self.patience = check_non_negative_int(patience, "patience", "EarlyStopping")
        self.min_delta = check_number(min_delta, "EarlyStopping: min_delta", ">= 0")
        self.monitor, self.baseline = monitor, check_optional_number(baseline, "EarlyStopping: baseline")
        self.restore_best_weights = check_flag(restore_best_weights, "EarlyStopping: restore_best_weights")
        self.verbose = check_callback_verbose(verbose, "EarlyStopping")
        self.start_from_epoch = check_non_negative_int(start_from_epoch, "start_from_epoch",
                                                       "EarlyStopping")
        self._reset()

    def _reset(self):
        # best starts as None, not inf: as in Keras the first epoch improves whatever its value (NaN too)
        self.best, self.best_weights, self.best_epoch, self.wait, self.stopped_epoch = (
            None, None, None, 0, 0)

    def on_train_begin(self, logs=None):
        self._reset()
        # a monitor that no epoch can log is refused now, not after an epoch of training
        check_monitor_logged(self, "EarlyStopping")
        settle_auto_mode(self)          # (its best starts as None: nothing to start afresh)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if unvalidated_epoch(self, logs):       # fit's validation_freq skipped this epoch's
            return
        if self.monitor not in logs:
            raise missing_monitor(self, "EarlyStopping", logs)
        if epoch < self.start_from_epoch:       # still warming up: not monitored
            return
        value = logs[self.monitor]
        self.wait += 1                  # before the check, as in Keras: see the docstring
        if self.best is None or improved(value, self.best, self.mode, self.min_delta):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = [w.copy() for w in self.model.get_weights()]
            if self.baseline is None or improved(value, self.baseline, self.mode, self.min_delta):
                self.wait = 0
            return
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.verbose and self.stopped_epoch > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
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
        "auto" means max for names containing "acc" and for "auc", "precision", "recall",
        "f1_score" and "fbeta_score"
        (with or without "val_"), min otherwise.
    save_freq : "epoch" or int
        Save at the end of every epoch, or every ``save_freq`` batches (whose logs hold "loss" and
        the training metrics, no "val_" values).
    verbose : {0, 1}
        1 prints Keras 3's lines: "Epoch {n}: saving model to {path}" before a save and "Epoch {n}:
        finished saving model to {path}" after it; with ``save_best_only`` the first is "Epoch {n}:
        {monitor} improved from {best:.5f} to {value:.5f}, saving model to {path}", and an epoch
        without improvement prints "Epoch {n}: {monitor} did not improve from {best:.5f}" (best is
        "None" before the first save, as Keras prints it). Epochs are numbered from 1.
    save_weights_only : bool
        True writes what ``model.save_weights`` writes: the weights, without the compile settings
        and optimizer state (so a custom loss or optimizer does not stop it): a model file of the
        network and its weights where its config can be stored (``glassnet.load_model`` reads it,
        uncompiled), a weights-only file otherwise (a ``Lambda``, a function of yours in a layer);
        read either back with ``model.load_weights``. Such a file cannot resume the run exactly:
        Adam's moments, say, start afresh.
    initial_value_threshold : float, optional
        With ``save_best_only``, the best value to beat from the start (Keras' argument): resuming a
        run, give the best value the saved file reached, or its first epoch, however bad, would
        overwrite it.

    A value that ``monitor`` or ``filepath`` names but that no log of the fit can hold (a "val_"
    value without validation data, a misspelt metric) is a ValueError as training begins.

    Each file records the number of completed epochs; the loaded model has it as
    ``model.initial_epoch``, so ``fit(..., initial_epoch=model.initial_epoch)`` resumes the run exactly
    from a save at the end of an epoch (``save_freq="epoch"``): weights, optimizer state and random
    streams. Not restored, as in Keras: the state of the callbacks themselves (EarlyStopping's and
    ReduceLROnPlateau's waiting and best value start afresh, so a run resumed with them can differ;
    ``initial_value_threshold`` carries ModelCheckpoint's best value over). A save in mid-epoch
    records the epochs completed before it, and its resume repeats that epoch from its start on
    weights that already took part of it: not the uninterrupted run.

    Example
    -------
    >>> ckpt = ModelCheckpoint("ckpt.npz")                               # doctest: +SKIP
    >>> model.fit(X, y, epochs=10, callbacks=[ckpt])                     # doctest: +SKIP
    >>> model = glassnet.load_model("ckpt.npz")     # after a crash      # doctest: +SKIP
    >>> model.fit(X, y, epochs=10, initial_epoch=model.initial_epoch)    # doctest: +SKIP
    """

    logs_added = ()

    # Keras' order, so that a call ported with its arguments by position means the same here
    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__()
        self.save_weights_only = check_flag(save_weights_only, "ModelCheckpoint: save_weights_only")
        self.filepath = check_path(filepath, "ModelCheckpoint: filepath")
        if not self.filepath:           # refused by Keras too: otherwise the first save failed, an epoch later
            raise ValueError("ModelCheckpoint: filepath must name a file, got ''")
        # compared with "epoch" only as a str: NumPy integers are fine, and == on arrays is not a bool
        if not (isinstance(save_freq, str) and save_freq == "epoch"):
            if not is_integer(save_freq) or save_freq <= 0:
                raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive number of "
                                 f"batches, got {save_freq!r}")
            save_freq = int(save_freq)
        self.monitor, self.save_freq = monitor, save_freq
        self.save_best_only = check_flag(save_best_only, "ModelCheckpoint: save_best_only")
        self.verbose = check_callback_verbose(verbose, "ModelCheckpoint")
        self.mode, self.mode_setting = resolve_mode(mode, monitor, "ModelCheckpoint"), mode
        self.best, self.last_path = (math.inf if self.mode == "min" else -math.inf), None
        threshold = check_optional_number(initial_value_threshold, "ModelCheckpoint: initial_value_threshold")
        if threshold is not None:
            self.best = threshold
        if save_freq != "epoch":
            # set on the instance only: fit skips per-batch hooks when no callback defines them
            self.on_train_batch_end = self._on_batch_end
        self._epoch, self._batches = 0, 0

    def on_train_begin(self, logs=None):
        # what save_model would refuse at the first save (a custom loss, metric function or
        # optimizer, a layer that cannot be rebuilt), refused before the first epoch is spent;
        # save_weights writes the weights alone for a config it cannot store, and refuses only
        # a text layer whose ids no longer fit the weights
        if self.save_weights_only:
            check_text_widths(self.model)
        else:
            check_saveable(self.model, own_hooks=True)      # (model.save keeps the layers' saving hooks' values)
        self._check_fields_logged()
        if self.save_best_only and settle_auto_mode(self) and math.isinf(self.best):
            self.best = math.inf if self.mode == "min" else -math.inf       # no epoch saved yet

    def _check_fields_logged(self):
        """Refuse now, not at the first save, a ``monitor`` or ``filepath`` field that no log of
        this fit can hold, when fit's ``params["log_keys"]`` makes that certain."""
        log_keys = self.params.get("log_keys")
        if log_keys is None:        # outside fit, or another callback may add keys of its own
            return
        if self.save_freq != "epoch":
            # a batch's logs hold the running loss and training metrics only
            log_keys = ["loss", *(name for name, _ in self.model._compiled_metrics)]
        if self.save_best_only and self.monitor not in log_keys:
            raise missing_monitor(self, "ModelCheckpoint", log_keys)
        # a trial run of the filepath on stand-in values: every logged value is a float
        fields = {**dict.fromkeys(log_keys, 0.0), "epoch": 1,
                  **({} if self.save_freq == "epoch" else {"batch": 1})}
        self._format_filepath(fields)
        frequency = self.params.get("validation_freq", 1)
        dry = self.params.get("validation_may_run_dry", False)
        if (frequency != 1 or dry) and not (self.save_best_only and self.monitor.startswith("val_")):
            # a save after an epoch fit does not validate would find no "val_" values to name
            unvalidated = {key: value for key, value in fields.items() if not key.startswith("val_")}
            try:
                self._format_filepath(unvalidated)
            except ValueError:
                which = (f"the epochs fit does not validate (validation_freq={frequency!r:.60}) do not log"
                         if frequency != 1 else "an epoch whose validation generator has run dry does not log")
                raise ValueError(f"ModelCheckpoint: filepath {self.filepath!r} names a validation value, "
                                 f"which {which}; name training values only, or save only the best "
                                 f"by a \"val_\" monitor (save_best_only=True), which skips those epochs") from None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def _on_batch_end(self, batch, logs=None):
        self._batches += 1
        if self._batches % self.save_freq == 0:
            # fit checks the weights after an epoch's last update, not after every batch (a pass
            # over them a batch would cost the default progress bar's runs ~5 %): before a save in
            # mid-epoch, the update just taken is checked here, with the same NonFiniteError
            self.model._check_parameters_finite(self._epoch, batch)
            self._save(self._epoch, logs or {}, completed=self._epoch, batch=batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, logs or {}, completed=epoch + 1)

    def _save(self, epoch, logs, completed, batch=None):
        if self.save_best_only and batch is None and unvalidated_epoch(self, logs):   # validation_freq skipped it
            return
        fields = {**logs, "epoch": epoch + 1, **({} if batch is None else {"batch": batch})}
        path = self._format_filepath(fields)
        if self.save_best_only:
            if self.monitor not in logs:
                raise missing_monitor(self, "ModelCheckpoint", logs)
            value = logs[self.monitor]
            # best is infinite until the first save, which Keras prints as "None"
            best = "None" if math.isinf(self.best) else f"{self.best:.5f}"
            if not improved(value, self.best, self.mode):
                if self.verbose:
                    print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {best}")
                return
            if self.verbose:
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {best} to {value:.5f}, "
                      f"saving model to {path}")
            self.best = value
        elif self.verbose:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        from ..io import save_model, save_weights   # here, not at the top: io imports the model, which imports us
        # as Keras does; here rather than in __init__, as the folder may hold "{epoch}" too
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            save_weights(self.model, path, epoch=completed)
        else:
            save_model(self.model, path, epoch=completed)
        self.last_path = path
        if self.verbose:
            print(f"Epoch {epoch + 1}: finished saving model to {path}")

    def _format_filepath(self, fields):
        """``filepath`` with ``fields`` (the logs, ``epoch``, ``batch``) filled in; a ValueError
        naming filepath, and the field that failed, instead of str.format's bare errors."""
        try:
            return self.filepath.format(**fields)
        except IndexError:          # "{}" or "{0}": str.format's "Replacement index 0 out of range"
            raise ValueError(f"ModelCheckpoint: filepath {self.filepath!r} has a positional field ('{{}}' or "
                             f"'{{0}}'), which nothing fills; name a logged value, such as {{epoch:02d}} or "
                             f"{{loss:.2f}}, out of {sorted(fields)}") from None
        except KeyError as exc:
            hint = validation_hint(str(exc.args[0]), self.params)
            raise ValueError(f"ModelCheckpoint: filepath {self.filepath!r} names {exc}, which is not "
                             f"among the logged values {sorted(fields)}{hint}") from None
        except (ValueError, TypeError) as exc:      # "{loss:d}": a spec that does not fit the value
            field = _failing_field(self.filepath, fields)
            problem = (f"has a format, {field!r}, that does not fit its value" if field
                       else "is not a valid format string")
            raise ValueError(f"ModelCheckpoint: filepath {self.filepath!r} {problem}: {exc}") from None


def _failing_field(template, fields):
    """The first ``{name:spec}`` of ``template`` that ``fields`` cannot fill in, or None (a
    malformed template, whose error str.format already tells)."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        field = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        try:
            field.format(**fields)
        except (ValueError, TypeError):
            return field
    return None
