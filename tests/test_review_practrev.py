"""A practitioner's review (session 45): the command line, datasets, scikit-learn wrappers,
callbacks and model files used as the README and docs say; each bug found is pinned here."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main


def _small_classifier():
    model = gn.Sequential([gn.layers.Dense(3, activation="softmax", input_dim=2)], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("save_format, name", [("keras", "model.keras"), ("h5", "model.h5")])
def test_info_reads_keras_files_as_predict_does(tmp_path, capsys, save_format, name):
    # `glassnet predict model.keras ...` worked, but `glassnet info model.keras` said "unexpected
    # member 'metadata.json'" (and of a .h5: "not a .npz (zip) file"), its own message listing the
    # .keras files among those glassnet reads: info's reader was given no Keras readers
    pytest.importorskip("h5py")
    path = str(tmp_path / name)
    _small_classifier().save(path, save_format=save_format)
    assert main(["info", path]) in (0, None)
    out = capsys.readouterr().out
    assert "loss: sparse_categorical_crossentropy" in out and "metrics: accuracy" in out
    assert "epochs trained: unknown" in out
