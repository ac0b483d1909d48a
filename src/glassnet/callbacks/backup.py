"""BackupAndRestore: Keras' fault tolerance for long runs, on glassnet's model files."""
import os

from .. import losses
from .._saveable import check_saveable
from .._validation import check_flag
from .base import Callback, check_path


def _loss_classes(model):
    """The classes of the model's loss (one per output): two losses of your own (registered with
    glassnet.saving) may have the same get_config(), which names a built-in loss but not those."""
    heads = model._heads
    return [type(head.loss) for head in heads] if heads is not None else [type(model.loss)]


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
    epochs start them from zeros). List it last among the callbacks, so that
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
    delete_checkpoint : bool
        Delete the backup when training ends normally.

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

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        self.backup_dir = check_path(backup_dir, "BackupAndRestore: backup_dir")
        if not self.backup_dir:         # as Keras: otherwise the first backup failed, an epoch later
            raise ValueError("BackupAndRestore: backup_dir must name a folder, got ''")
        if not (isinstance(save_freq, str) and save_freq == "epoch"):
            raise ValueError(f"BackupAndRestore: save_freq must be 'epoch' (glassnet backs up at the end "
                             f"of epochs, where a resume is exact), got {save_freq!r:.40}")
        self.save_freq = save_freq
        self.delete_checkpoint = check_flag(delete_checkpoint, "BackupAndRestore: delete_checkpoint")

    @property
    def path(self):
        return os.path.join(self.backup_dir, self.FILE)

    def on_train_begin(self, logs=None):
        # what save_model would refuse at the first backup, refused before the first epoch
        check_saveable(self.model)
        if os.path.exists(self.backup_dir) and not os.path.isdir(self.backup_dir):
            raise ValueError(f"BackupAndRestore: backup_dir {self.backup_dir!r} is a file, not a folder")
        if os.path.exists(self.path):
            self._restore()

    def _restore(self):
        from ..errors import ModelFileError
        from ..io import load_model      # here, not at the top: io imports the model, which imports us
        try:
            backup = load_model(self.path)
        except ModelFileError as exc:
            raise ModelFileError(f"BackupAndRestore: the backup {self.path} cannot be read ({exc}); delete "
                                 f"it to train from the start") from None
        model = self.model
        # a functional Model's graph too: its calls, their own modes and arguments, its outputs
        wiring = ("layers", "inbound", "inputs", "calls", "modes", "options", "outputs")
        if any(backup.get_config().get(key) != model.get_config().get(key) for key in wiring):
            raise ValueError(f"BackupAndRestore: {self.path} is the backup of another network (other "
                             f"layers or settings); give this run a folder of its own, or delete it")
        if type(backup.optimizer) is not type(model.optimizer):
            raise ValueError(f"BackupAndRestore: {self.path} was made with {type(backup.optimizer).__name__}, "
                             f"this model trains with {type(model.optimizer).__name__}")
        if (backup.loss.get_config() != model.loss.get_config() or _loss_classes(backup) != _loss_classes(model)
                or losses.changed_settings(backup.loss) != losses.changed_settings(model.loss)):
            raise ValueError(f"BackupAndRestore: {self.path} was made with the loss "
                             f"{backup.loss!r}, this model trains on {model.loss!r}")
        model.set_weights(backup.get_weights())
        # the settings first (a learning rate ReduceLROnPlateau lowered; a schedule's follows the
        # restored step count), then the state
        config = backup.optimizer.get_config()
        model.optimizer.exclude_from_weight_decay(var_names=config.pop("exclude_from_weight_decay", None))
        for key, value in config.items():
            if key != "name" and not (key == "learning_rate" and model.optimizer.schedule is not None):
                setattr(model.optimizer, key, value)
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
            save_model(self.model, self.path, epoch=epoch + 1)
        finally:
            if swapped is not None:
                swapped._swap()

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.path):
            os.remove(self.path)
            try:
                os.rmdir(self.backup_dir)       # only when nothing else is in it
            except OSError:
                pass
