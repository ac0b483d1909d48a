"""Review of resuming: BackupAndRestore's Keras 3.15 arguments (double_checkpoint, in Keras' order)."""
import numpy as np
import pytest

import glassnet as gn
from test_backup import Crash, CrashAfter


def _model():
    model = gn.Sequential([gn.layers.Dense(8, activation="relu", input_dim=2), gn.layers.Dropout(0.3),
                           gn.layers.Dense(1, activation="sigmoid")], seed=3)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.01))
    return model


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 2))
    return x, (x[:, 0] * x[:, 1] > 0).astype(int)


def test_arguments_in_keras_order_with_double_checkpoint(tmp_path):
    # Keras 3.15: BackupAndRestore(backup_dir, save_freq, double_checkpoint, delete_checkpoint); the
    # third positional argument was delete_checkpoint here, and double_checkpoint a TypeError
    backup = gn.BackupAndRestore(tmp_path, "epoch", True, False)
    assert backup.double_checkpoint is True and backup.delete_checkpoint is False
    assert gn.BackupAndRestore(tmp_path).double_checkpoint is False
    with pytest.raises(TypeError, match="BackupAndRestore: double_checkpoint"):
        gn.BackupAndRestore(tmp_path, double_checkpoint="yes")


def test_double_checkpoint_resumes_from_the_previous_backup_when_the_latest_is_damaged(data, tmp_path):
    x, y = data
    whole = _model()
    whole.fit(x, y, epochs=6, batch_size=16, verbose=0)
    with pytest.raises(Crash):
        _model().fit(x, y, epochs=6, batch_size=16, verbose=0,
                     callbacks=[gn.BackupAndRestore(tmp_path, double_checkpoint=True), CrashAfter(3)])
    latest, previous = tmp_path / "glassnet_backup.npz", tmp_path / "glassnet_backup_previous.npz"
    assert gn.load_model(latest).initial_epoch == 3 and gn.load_model(previous).initial_epoch == 2
    latest.write_bytes(latest.read_bytes()[:100])          # damaged on disk
    resumed = _model()
    with pytest.warns(UserWarning, match="resuming from the previous one"):
        history = resumed.fit(x, y, epochs=6, batch_size=16, verbose=0,
                              callbacks=[gn.BackupAndRestore(tmp_path, double_checkpoint=True)]).history
    assert len(history["loss"]) == 4                        # epochs 3 to 6
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())    # both backups deleted at the end


def test_double_checkpoint_when_the_latest_is_missing_or_both_are_damaged(data, tmp_path):
    x, y = data
    with pytest.raises(Crash):
        _model().fit(x, y, epochs=4, verbose=0,
                     callbacks=[gn.BackupAndRestore(tmp_path, double_checkpoint=True), CrashAfter(2)])
    latest, previous = tmp_path / "glassnet_backup.npz", tmp_path / "glassnet_backup_previous.npz"
    latest.unlink()       # a crash after the latest became the previous, before the new one was written
    history = _model().fit(x, y, epochs=4, verbose=0, callbacks=[
        gn.BackupAndRestore(tmp_path, double_checkpoint=True, delete_checkpoint=False)]).history
    assert len(history["loss"]) == 3                        # from the previous backup: after epoch 1
    latest.write_bytes(b"x")
    previous.write_bytes(b"y")
    with pytest.raises(gn.ModelFileError, match="neither backup can be read"):
        _model().fit(x, y, epochs=4, verbose=0, callbacks=[gn.BackupAndRestore(tmp_path, double_checkpoint=True)])
    # without double_checkpoint the damaged latest is an error, as before
    with pytest.raises(gn.ModelFileError, match="cannot be read .*delete it"):
        _model().fit(x, y, epochs=4, verbose=0, callbacks=[gn.BackupAndRestore(tmp_path)])
