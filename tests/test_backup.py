"""BackupAndRestore: a run interrupted after some epochs and fitted again with the same callback
ends with the uninterrupted run's weights, bit for bit."""
import os

import numpy as np
import pytest

import glassnet as gn


class Crash(Exception):
    pass


class CrashAfter(gn.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise Crash(f"after epoch {epoch + 1}")


def _model():
    model = gn.Sequential([gn.layers.Dense(8, activation="relu", input_dim=2), gn.layers.Dropout(0.3),
                           gn.layers.Dense(1, activation="sigmoid")], seed=3)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.01), metrics=["accuracy"])
    return model


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 2))
    return x, (x[:, 0] * x[:, 1] > 0).astype(int)


def test_a_crashed_run_resumes_exactly(data, tmp_path):
    x, y = data
    whole = _model()
    full = whole.fit(x, y, epochs=7, batch_size=16, verbose=0).history
    backup_dir = tmp_path / "backup"
    crashed = _model()
    with pytest.raises(Crash):
        crashed.fit(x, y, epochs=7, batch_size=16, verbose=0,
                    callbacks=[gn.BackupAndRestore(backup_dir), CrashAfter(3)])
    assert gn.load_model(backup_dir / "glassnet_backup.npz").initial_epoch == 3       # kept: fit did not end
    resumed = _model()            # a new process would build the model afresh, as here
    history = resumed.fit(x, y, epochs=7, batch_size=16, verbose=0,
                          callbacks=[gn.BackupAndRestore(backup_dir)]).history
    assert history["loss"] == full["loss"][3:]          # epochs 4 to 7, as the uninterrupted run had them
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not backup_dir.exists()                      # a finished run deletes its backup (and empty folder)


def test_delete_checkpoint_false_keeps_it_and_other_files_stay(data, tmp_path):
    x, y = data
    (tmp_path / "notes.txt").write_text("mine")
    _model().fit(x, y, epochs=2, verbose=0, callbacks=[gn.BackupAndRestore(tmp_path)])
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]             # the folder is not emptied
    _model().fit(x, y, epochs=2, verbose=0, callbacks=[gn.BackupAndRestore(tmp_path / "b", delete_checkpoint=False)])
    assert gn.load_model(tmp_path / "b" / "glassnet_backup.npz").initial_epoch == 2
    # a finished backup resumes with nothing left to do: the next fit with it trains no epoch
    model = _model()
    with pytest.warns(UserWarning, match=r"the backup BackupAndRestore restored has 2 epochs done, epochs=2"):
        assert model.fit(x, y, epochs=2, verbose=0, callbacks=[gn.BackupAndRestore(tmp_path / "b")]).history == {}


def test_a_backup_of_another_network_or_optimizer_is_refused(data, tmp_path):
    x, y = data
    with pytest.raises(Crash):
        _model().fit(x, y, epochs=3, verbose=0, callbacks=[gn.BackupAndRestore(tmp_path), CrashAfter(1)])
    other = gn.Sequential([gn.layers.Dense(4, activation="relu", input_dim=2), gn.layers.Dense(1, activation="sigmoid")])
    other.compile(loss="binary_crossentropy", optimizer="adam")
    with pytest.raises(ValueError, match=r"BackupAndRestore: .*glassnet_backup.npz is the backup of another network"):
        other.fit(x, y, epochs=3, verbose=0, callbacks=[gn.BackupAndRestore(tmp_path)])
    sgd = _model()
    sgd.compile(loss="binary_crossentropy", optimizer="sgd")
    with pytest.raises(ValueError, match=r"was made with Adam, this model trains with SGD"):
        sgd.fit(x, y, epochs=3, verbose=0, callbacks=[gn.BackupAndRestore(tmp_path)])


def test_arguments_and_unsaveable_models_are_refused_before_training(data, tmp_path):
    x, y = data
    with pytest.raises(ValueError, match=r"BackupAndRestore: save_freq must be 'epoch'"):
        gn.BackupAndRestore(tmp_path, save_freq=100)
    with pytest.raises(TypeError, match=r"BackupAndRestore: delete_checkpoint"):
        gn.BackupAndRestore(tmp_path, delete_checkpoint="yes")
    model = _model()
    model.compile(loss=lambda_loss(), optimizer="adam")
    with pytest.raises(ValueError, match=r"save_model: loss"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[gn.BackupAndRestore(tmp_path)])
    assert model.optimizer.iterations == 0                  # refused before any update


def lambda_loss():
    class Mine(gn.losses.Loss):
        name = "mine"

        def __call__(self, y_pred, y_true):
            return float(((y_pred - y_true) ** 2).mean())

        def gradient(self, y_pred, y_true):
            return 2 * (y_pred - y_true) / y_pred.size
    return Mine()


def test_a_learning_rate_changed_by_a_callback_is_restored(data, tmp_path):
    x, y = data

    def run(callbacks, model=None):
        model = model or _model()
        halve = gn.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
        return model, model.fit(x, y, epochs=6, batch_size=16, verbose=0, callbacks=[halve, *callbacks])
    whole, _ = run([])
    with pytest.raises(Crash):
        run([gn.BackupAndRestore(tmp_path), CrashAfter(3)])
    resumed, _ = run([gn.BackupAndRestore(tmp_path)])
    assert resumed.optimizer.learning_rate == whole.optimizer.learning_rate == 0.01 * 0.5 ** 6
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_only_its_own_file_is_read_and_deleted_and_bad_folders_are_named(data, tmp_path):
    x, y = data
    mine = _model()
    mine.save(tmp_path / "latest.npz")                    # a file of the user's, as Keras names its backup
    _model().fit(x, y, epochs=1, verbose=0, callbacks=[gn.BackupAndRestore(tmp_path)])
    assert (tmp_path / "latest.npz").exists()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match=r"BackupAndRestore: backup_dir .*afile' is a file, not a folder"):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[gn.BackupAndRestore(tmp_path / "afile")])
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "glassnet_backup.npz").write_bytes(b"not a zip")
    with pytest.raises(gn.ModelFileError, match=r"BackupAndRestore: the backup .*cannot be read .*delete it"):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[gn.BackupAndRestore(tmp_path / "broken")])


def test_a_dask_sweep_refuses_it(data, tmp_path):
    pytest.importorskip("dask")
    from glassnet.dask import sweep
    x, y = data
    with pytest.raises(ValueError, match=r"sweep: BackupAndRestore would share one backup folder"):
        sweep(lambda: _model(), {"fit__epochs": [1, 2]}, x, y, scheduler="synchronous",
              fit_kwargs={"callbacks": [gn.BackupAndRestore(tmp_path)]})
