"""Review of the command line and the offline-data utilities: bugs found, each pinned by a test."""
import os

import numpy as np
import pytest

from glassnet.cli import main
from glassnet.utils import text_dataset_from_directory, timeseries_dataset_from_array


@pytest.fixture
def texts(tmp_path):
    """Two classes of five .txt files each."""
    for name in ("neg", "pos"):
        (tmp_path / name).mkdir()
        for i in range(5):
            (tmp_path / name / f"{i}.txt").write_text(f"{name}{i}")
    return tmp_path


@pytest.mark.parametrize("zero", [0, 0.0])
def test_validation_split_zero_means_no_split_as_in_keras(texts, zero):
    # Keras tests `if validation_split`: 0 is no split and every file is served (it was refused here)
    data = text_dataset_from_directory(texts, batch_size=4, validation_split=zero, shuffle=False, verbose=False)
    assert [os.path.relpath(p, texts) for p in data.file_paths] == [
        os.path.join(c, f"{i}.txt") for c in ("neg", "pos") for i in range(5)]
    # with a subset it is still "no split", which a subset needs (Keras' error too)
    with pytest.raises(ValueError, match="give validation_split and subset together"):
        text_dataset_from_directory(texts, validation_split=zero, subset="training", seed=1, verbose=False)


@pytest.mark.parametrize("seed", [1.5, -1, 2 ** 32, "3"])
def test_a_bad_shuffle_seed_is_refused_naming_it(texts, seed):
    # NumPy's RandomState said "Cannot cast scalar from dtype('float64')..." or "Seed must be between
    # 0 and 2**32 - 1", naming neither the function nor its argument
    with pytest.raises(ValueError, match=r"text_dataset_from_directory: seed must be None or an integer"):
        text_dataset_from_directory(texts, seed=seed, verbose=False)
    with pytest.raises(ValueError, match=r"timeseries_dataset_from_array: seed must be None or an integer"):
        timeseries_dataset_from_array(np.arange(10.0), None, sequence_length=3, shuffle=True, seed=seed)
    # unread without shuffling, as in Keras
    assert len(timeseries_dataset_from_array(np.arange(10.0), None, sequence_length=3, seed=seed)) == 1


def test_a_non_utf8_csv_reports_the_byte_where_it_is(tmp_path, capsys):
    # the offset was the one within the text reader's 8 KiB decoding chunk, not within the file
    data = tmp_path / "points.csv"
    head = "".join(f"{i},{i}\n" for i in range(3000)).encode()
    data.write_bytes(head + b"0.5,caf\xe9\n")
    model = tmp_path / "m"
    assert main(["train", "moons", "--epochs", "1", "--out", str(model), "--verbose", "0"]) == 0
    capsys.readouterr()
    assert main(["predict", str(model / "model.npz"), str(data)]) == 2
    err = capsys.readouterr().err
    assert f"line 3001: expected UTF-8 text, got byte 0xe9 at offset {len(head) + len(b'0.5,caf')}" in err, err


def test_a_bom_counts_in_the_offset(tmp_path, capsys):
    data = tmp_path / "points.csv"
    data.write_bytes(b"\xef\xbb\xbf1,2\n3,\xe9\n")
    model = tmp_path / "m"
    assert main(["train", "moons", "--epochs", "1", "--out", str(model), "--verbose", "0"]) == 0
    capsys.readouterr()
    assert main(["predict", str(model / "model.npz"), str(data)]) == 2
    assert "line 2: expected UTF-8 text, got byte 0xe9 at offset 9" in capsys.readouterr().err


def test_an_out_folder_that_cannot_be_written_fails_before_training(tmp_path, monkeypatch, capsys):
    # as root every folder is writable, so the denial is simulated where the check asks for it
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: os.fspath(path) != str(readonly) and real_access(path, mode))

    def fit(*args, **kwargs):
        raise AssertionError("trained, though nothing could be saved")
    monkeypatch.setattr("glassnet.model.Sequential.fit", fit)
    assert main(["train", "moons", "--epochs", "1", "--out", str(readonly / "run"), "--verbose", "0"]) == 2
    err = capsys.readouterr().err
    assert "--out: permission denied" in err and str(readonly) in err
