"""Review of the files glassnet writes: wrong targets, write-protected files, bytes paths."""
import os
import stat

import numpy as np
import pytest

import glassnet as gn
from glassnet._atomic import write_atomically, write_text_atomically


def _model():
    model = gn.Sequential([gn.layers.Dense(3, input_shape=(2,))], seed=0)
    model.compile(loss="mse", optimizer="adam")
    return model


def test_an_empty_path_is_refused_naming_it_not_the_current_folder(tmp_path, monkeypatch):
    # abspath("") is the current folder: the rename onto it failed with IsADirectoryError naming
    # a temporary file in the folder above, after writing the whole file
    monkeypatch.chdir(tmp_path)
    written = []
    with pytest.raises(FileNotFoundError) as info:
        write_atomically("", written.append)
    assert info.value.filename == "" and ".tmp" not in str(info.value) and written == []
    with pytest.raises(FileNotFoundError):
        _model().save("")
    assert os.listdir(tmp_path) == [] and not any(n.endswith(".tmp") for n in os.listdir(tmp_path.parent))


def _as_a_user(monkeypatch):
    """os.access as for a user other than root (whom no permission bit stops)."""
    if os.name != "posix" or os.geteuid() != 0:
        return
    real = os.access

    def access(path, mode, *args, **kwargs):
        if mode & os.W_OK and os.path.exists(path) and not os.stat(path).st_mode & stat.S_IWUSR:
            return False
        return real(path, mode, *args, **kwargs)
    monkeypatch.setattr(os, "access", access)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_a_write_protected_file_is_refused_as_open_refuses_it(tmp_path, monkeypatch):
    # the rename needs only the folder's permission: a file made read-only (chmod a-w) to keep a
    # good model was replaced, where open(path, "wb") raises PermissionError
    _as_a_user(monkeypatch)
    target = tmp_path / "best.npz"
    target.write_bytes(b"keep me")
    os.chmod(target, 0o444)
    with pytest.raises(PermissionError) as info:
        write_text_atomically(target, "new")
    assert info.value.filename == str(target) and ".tmp" not in str(info.value)
    with pytest.raises(PermissionError):
        _model().save(target)
    assert target.read_bytes() == b"keep me" and os.listdir(tmp_path) == ["best.npz"]


def test_bytes_paths_are_refused_naming_the_argument(tmp_path, monkeypatch):
    # they failed at fit's first write with "a bytes-like object is required, not 'str'",
    # "'bytes' object has no attribute 'format'", "Can't mix strings and bytes in path components"
    monkeypatch.chdir(tmp_path)
    for make, what in [(lambda: gn.callbacks.CSVLogger(b"log.csv"), "CSVLogger: filename"),
                       (lambda: gn.callbacks.ModelCheckpoint(b"m.npz"), "ModelCheckpoint: filepath"),
                       (lambda: gn.callbacks.BackupAndRestore(b"backup"), "BackupAndRestore: backup_dir")]:
        with pytest.raises(TypeError, match=what):
            make()
    with pytest.raises(TypeError, match="path: expected a str"):
        write_atomically(b"x.bin", lambda f: f.write(b"x"))
    pytest.importorskip("matplotlib")
    model = _model()
    history = model.fit(np.zeros((4, 2), "f4"), np.zeros((4, 3), "f4"), epochs=1, verbose=0)
    with pytest.raises(TypeError, match="path: expected a str"):
        gn.plot.learning_curve(history, path=b"curve.png")
    assert os.listdir(tmp_path) == []


def test_an_empty_checkpoint_path_or_backup_folder_is_refused_at_once():
    # as Keras refuses them: they failed at the first save, after an epoch, and BackupAndRestore's
    # error named no argument
    with pytest.raises(ValueError, match="BackupAndRestore: backup_dir"):
        gn.callbacks.BackupAndRestore("")
    with pytest.raises(ValueError, match="ModelCheckpoint: filepath"):
        gn.callbacks.ModelCheckpoint("")
