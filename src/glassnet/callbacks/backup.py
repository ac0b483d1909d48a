"""BackupAndRestore: Keras' fault tolerance for long runs, on glassnet's model files."""
import os
import warnings

from .. import losses
from .._warnings import warn
from .._saveable import check_saveable
from .._validation import check_flag
from .base import Callback, check_path


def _loss_classes(model):
    """The classes of the model's loss (one per output): two losses of your own (registered with
    glassnet.saving) may have the same get_config(), which names a built-in loss but not those."""
    heads = model._heads
    return [type(head.loss) for head in heads] if heads is not None else [type(model.loss)]


def _picked_as_in(backup, model):
    """The ``backup``'s losses compiled as ``"crossentropy"``/``"ce"`` given the class ``model``
    picked from the same name, for comparing the two: a file keeps the name as given, so the
    loaded backup has not picked yet, while the model picked at fit's first batch, before this
    callback (glassnet.losses.picked). Only the comparison reads the backup's losses."""
    pairs = [(backup, model)] if model._heads is None else zip(backup._heads, model._heads)
    for theirs, mine in pairs:
        given = model._loss_as_given if mine is model else mine.loss_as_given
        if isinstance(theirs.loss, losses.PendingCrossentropy) and theirs.loss.given == given:
            theirs.loss = type(mine.loss)()


class BackupAndRestore(Callback):
    """Back the run up at the end of every epoch; after a crash or a Ctrl-C, the same ``fit`` with
    the same callback resumes where the backup left off (Keras' ``BackupAndRestore``).

    At ``on_train_begin``, if ``backup_dir`` holds a backup, it is read into the model: weights,
    optimizer state (moments, step count, schedule) and settings (a learning rate a callback or
    you changed), random streams (shuffling, dropout) and the number of epochs completed, from
    which ``fit`` goes on, so the resumed run ends with the weights the uninterrupted one would have
    had, bit for bit, unless another callback's own state steers it (ReduceLROnPlateau's patience,
    EarlyStopping's best value start afresh, as in Keras) or the model has stateful recurrent
    layers (their carried states are not in the backup, as Keras keeps them out of it: the resumed
    epochs start them from zeros) or the data is a generator (read on from where it is) or a finite
    PyDataset read ``steps_per_epoch`` at a time (a new pass starts: where the run was within its
    pass is not in the backup). List it last among the callbacks, so that
    each backup holds what the others changed in that epoch. After every epoch the backup is
    rewritten (atomically: a crash mid-save leaves the previous one). When ``fit`` ends normally, the
    backup is deleted (``delete_checkpoint=True``), and ``backup_dir`` too if nothing else is in it:
    the next ``fit`` starts afresh.

    Parameters
    ----------
    backup_dir : str or os.PathLike
        The folder for the backup (``glassnet_backup.npz``, a glassnet model file:
        ``glassnet.load_model`` reads it too). Use one folder per run; a Dask sweep refuses it.
    save_freq : "epoch"
        Keras also takes a number of batches; glassnet backs up at epoch ends only, where a resume
        is exact.
    double_checkpoint : bool, default False
        Also keep the backup of the epoch before (``glassnet_backup_previous.npz``), as Keras does:
        when the latest backup cannot be read (a file damaged on disk), the run resumes from the
        previous one, with a warning. Twice the disk space. (A crash mid-save needs no second
        backup: each is written atomically.)
    delete_checkpoint : bool
        Delete the backup (both, with ``double_checkpoint``) when training ends normally.

    The arguments are in Keras' order: ``BackupAndRestore(backup_dir, "epoch", False, True)`` reads
    as in Keras.

    As with ``ModelCheckpoint``, the callbacks' own state is not restored (EarlyStopping's best
    value and patience start afresh), nor the ``History`` of the epochs before the crash (the
    resumed fit's History holds the epochs it ran). A backup of another network (other layers or
    shapes) or another optimizer is refused, not loaded.

    Example
    -------
    >>> backup = BackupAndRestore("runs/backup")                          # doctest: +SKIP
    >>> model.fit(X, y, epochs=100, callbacks=[backup])   # Ctrl-C at epoch 40  # doctest: +SKIP
    >>> model.fit(X, y, epochs=100, callbacks=[backup])   # epochs 41 to 100    # doctest: +SKIP
    """
    FILE = "glassnet_backup.npz"        # a name of its own: it is read, trained over and deleted
    PREVIOUS_FILE = "glassnet_backup_previous.npz"      # double_checkpoint's second backup

    # Keras' order of arguments: a third positional one is double_checkpoint there
    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        self.backup_dir = check_path(backup_dir, "BackupAndRestore: backup_dir")
        if not self.backup_dir:         # as Keras: otherwise the first backup failed, an epoch later
            raise ValueError("BackupAndRestore: backup_dir must name a folder, got ''")
        if not (isinstance(save_freq, str) and save_freq == "epoch"):
            raise ValueError(f"BackupAndRestore: save_freq must be 'epoch' (glassnet backs up at the end "
                             f"of epochs, where a resume is exact), got {save_freq!r:.40}")
        self.save_freq = save_freq
        self.double_checkpoint = check_flag(double_checkpoint, "BackupAndRestore: double_checkpoint")
        self.delete_checkpoint = check_flag(delete_checkpoint, "BackupAndRestore: delete_checkpoint")

    @property
    def path(self):
        return os.path.join(self.backup_dir, self.FILE)

    @property
    def previous_path(self):
        return os.path.join(self.backup_dir, self.PREVIOUS_FILE)

    def on_train_begin(self, logs=None):
        # what save_model would refuse at the first backup, refused before the first epoch. A
        # backup must rebuild the optimizer and its state too, so it is a whole model file: the
        # weights-only file save_weights writes for a model whose config a file cannot store (a
        # Lambda) cannot resume a run, and such a model is refused, saying what it can do instead
        try:
            check_saveable(self.model)
        except (TypeError, ValueError) as exc:
            kind = ValueError if isinstance(exc, ValueError) else TypeError     # (a subclass may take other arguments)
            raise kind(f"BackupAndRestore: a backup is a whole model file (network, weights, optimizer "
                       f"state), and this model cannot be saved as one ({exc}); to keep its weights as it "
                       f"trains, use ModelCheckpoint(path, save_weights_only=True) and model.load_weights "
                       f"(the optimizer then starts afresh)") from None
        from .._optimizer_claims import others
        sharing = others(self.model)
        if sharing:
            # a backup is one model's file, its optimizer state that model's part alone: restored
            # into an optimizer that steps other models' weights too, it would put one model's
            # state where theirs was (and the step count they share) without their weights
            raise ValueError(f"BackupAndRestore: the optimizer of model {self.model.name!r} also trains "
                             f"{', '.join(repr(m.name) for m in sharing)} (they share layers), and a backup holds "
                             f"one model's state; give {self.model.name!r} an optimizer instance of its own to "
                             f"back it up, or save every model yourself (model.save) at the epochs' ends")
        if os.path.exists(self.backup_dir) and not os.path.isdir(self.backup_dir):
            raise ValueError(f"BackupAndRestore: backup_dir {self.backup_dir!r} is a file, not a folder")
        if os.path.exists(self.path) or (self.double_checkpoint and os.path.exists(self.previous_path)):
            self._restore(self._read_backup())

    def _read_backup(self):
        """The backup as a model; with ``double_checkpoint``, the previous one when the latest is
        missing (a crash in ``on_epoch_end`` after the latest became the previous, before the new
        one was written) or cannot be read."""
        from ..errors import ModelFileError
        from ..io import load_model as load_file      # here, not at the top: io imports the model, which imports us

        def load_model(path):
            # the backup's state goes into this run's model, the subclass itself: no word that the
            # file's functional Model lacks its methods (glassnet._subclass_files)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="load_model: the model is a ", category=UserWarning)
                warnings.filterwarnings("ignore", message=r"load_model: \w+ is drawn by its call", category=UserWarning)
                return load_file(path)
        error = None
        if os.path.exists(self.path):
            try:
                return load_model(self.path)
            except ModelFileError as exc:
                error = exc
                if not (self.double_checkpoint and os.path.exists(self.previous_path)):
                    raise ModelFileError(f"BackupAndRestore: the backup {self.path} cannot be read ({exc}); "
                                         f"delete it to train from the start") from None
        try:
            backup = load_model(self.previous_path)
        except ModelFileError as exc:
            if error is None:
                raise ModelFileError(f"BackupAndRestore: the backup {self.previous_path} cannot be read ({exc}); "
                                     f"delete it to train from the start") from None
            raise ModelFileError(f"BackupAndRestore: neither backup can be read: {self.path} ({error}), "
                                 f"{self.previous_path} ({exc}); delete them to train from the start") from None
        if error is not None:
            warn(f"BackupAndRestore: the backup {self.path} cannot be read ({error}); resuming from "
                 f"the previous one, {self.previous_path} (double_checkpoint)")
        # the good one becomes the latest (Keras copies it there): the next epoch's end would
        # otherwise keep the unreadable file as the previous backup
        os.replace(self.previous_path, self.path)
        return backup

    def _restore(self, backup):
        model = self.model
        # a functional Model's graph too: its calls, their own modes and arguments, its outputs
        wiring = ("layers", "inbound", "inputs", "input_keys", "calls", "modes", "options", "outputs")
        if any(backup.get_config().get(key) != model.get_config().get(key) for key in wiring):
            raise ValueError(f"BackupAndRestore: {self.path} is the backup of another network (other "
                             f"layers or settings); give this run a folder of its own, or delete it")
        if type(backup.optimizer) is not type(model.optimizer):
            raise ValueError(f"BackupAndRestore: {self.path} was made with {type(backup.optimizer).__name__}, "
                             f"this model trains with {type(model.optimizer).__name__}")
        _picked_as_in(backup, model)
        if (backup.loss.get_config() != model.loss.get_config() or _loss_classes(backup) != _loss_classes(model)
                or losses.changed_settings(backup.loss) != losses.changed_settings(model.loss)):
            raise ValueError(f"BackupAndRestore: {self.path} was made with the loss "
                             f"{backup.loss!r}, this model trains on {model.loss!r}")
        model.set_weights(backup.get_weights())
        # the settings first (a learning rate ReduceLROnPlateau lowered; a schedule's follows the
        # restored step count), then the state
        from ..optimizers import MultiOptimizer
        pairs = [(model.optimizer, backup.optimizer)]
        if isinstance(model.optimizer, MultiOptimizer):     # (each sub-optimizer's settings: its own)
            pairs = list(zip(model.optimizer.optimizers, backup.optimizer.optimizers))
        for optimizer, saved in pairs:
            config = saved.get_config()
            optimizer.exclude_from_weight_decay(var_names=config.pop("exclude_from_weight_decay", None))
            for key, value in config.items():
                if key != "name" and not (key == "learning_rate" and optimizer.schedule is not None):
                    setattr(optimizer, key, value)
        model.optimizer.set_state(backup.optimizer.get_state())
        model.shuffle_rng = backup.shuffle_rng
        for layer, saved in zip(model.layers, backup.layers):
            layer.rng = saved.rng
        model._resume_epoch = backup.initial_epoch       # fit goes on from there

    def on_epoch_end(self, epoch, logs=None):
        from ..io import save_model
        os.makedirs(self.backup_dir, exist_ok=True)
        swapped = getattr(self.model, "_ema_swapped", None)     # SwapEMAWeights(swap_on_epoch) before it
        if swapped is not None:
            swapped._swap()         # the trained weights and their average, as training holds them
        try:
            if self.double_checkpoint and os.path.exists(self.path):
                # the latest becomes the previous (a rename: atomic, and no copy of the bytes)
                os.replace(self.path, self.previous_path)
            save_model(self.model, self.path, epoch=epoch + 1)
        finally:
            if swapped is not None:
                swapped._swap()

    def on_train_end(self, logs=None):
        if not self.delete_checkpoint:
            return
        found = False
        for path in (self.path, self.previous_path):    # the previous one too (double_checkpoint)
            if os.path.exists(path):
                os.remove(path)
                found = True
        if found:
            try:
                os.rmdir(self.backup_dir)       # only when nothing else is in it
            except OSError:
                pass
