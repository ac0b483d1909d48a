"""Review regrev (session 44): a regression differential of random training programs, the session's
start tree against its end, and what it turned up around them."""
import json
import os
import zipfile

import numpy as np
import pytest

import glassnet as gn

L = gn.layers
M = gn.metrics


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    pytest.importorskip("h5py")
    return pytest.importorskip("keras")


def _binary_model(metrics):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 4)).astype("float32")
    y = rng.integers(0, 2, (20, 1)).astype("float32")
    model = gn.Sequential([L.Input((4,)), L.Dense(1, activation="sigmoid")], seed=1)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=metrics)
    model.fit(x, y, epochs=1, verbose=0)
    return model, x, y


def _config(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_builtin_metric_objects_write_to_keras_files(tmp_path, fmt):
    # compile(metrics=[BinaryAccuracy(threshold=0.4), AUC()]) was refused by both Keras writers as
    # "a loss or metric of yours, which Keras cannot rebuild": metrics.serialize's entry of a
    # built-in class has no "module"
    pytest.importorskip("h5py")
    model, x, y = _binary_model([M.BinaryAccuracy(threshold=0.4), M.AUC(), M.Precision(thresholds=0.3)])
    path = str(tmp_path / f"m.{fmt}")
    model.save(path, save_format=fmt)
    back = gn.load_model(path)
    assert back.evaluate(x, y, verbose=0, return_dict=True) == model.evaluate(x, y, verbose=0, return_dict=True)
    if fmt == "keras":
        metrics = _config(path)["compile_config"]["metrics"]
        assert metrics[0] == {"module": "keras.metrics", "class_name": "BinaryAccuracy",
                              "config": {"threshold": 0.4, "name": "binary_accuracy"}, "registered_name": None}


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_builtin_metric_objects_keras_reads_them(tmp_path, fmt):
    keras = _keras()
    model, x, y = _binary_model([M.BinaryAccuracy(threshold=0.4), M.AUC(), M.FBetaScore(), M.LogCoshError(),
                                 M.BinaryCrossentropy(label_smoothing=0.1)])
    path = str(tmp_path / f"m.{fmt}")
    model.save(path, save_format=fmt)
    ours = model.evaluate(x, y, verbose=0, return_dict=True)
    keras.utils.clear_session()     # (Keras numbers a second AUC of a process "auc_1")
    theirs = keras.saving.load_model(path).evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(theirs) == sorted(ours)
    for key in ours:
        np.testing.assert_allclose(np.asarray(theirs[key]), np.asarray(ours[key]), rtol=1e-5, atol=1e-6)


def test_fbeta_and_logcosh_names_written_as_keras_takes_them(tmp_path):
    # FBetaScore() and LogCoshError() are recorded by the names they log under, "fbeta_score" and
    # "logcosh", which keras.metrics.get refuses ("Could not interpret metric identifier"): Keras
    # loaded the file and failed at its first evaluate. Written as Keras' entries of the classes
    pytest.importorskip("h5py")
    model, x, y = _binary_model([M.FBetaScore(), M.LogCoshError()])
    path = str(tmp_path / "m.keras")
    model.save(path, save_format="keras")
    assert [m["class_name"] for m in _config(path)["compile_config"]["metrics"]] == ["FBetaScore", "LogCoshError"]
    back = gn.load_model(path)
    assert back.evaluate(x, y, verbose=0, return_dict=True) == model.evaluate(x, y, verbose=0, return_dict=True)


def test_layer_built_alone_in_a_scope_keeps_its_build_path_in_a_sequential():
    # docs/keras_parity.md and utilities.md said such a layer "also gets the Sequential's name"
    # ("blk/sequential/a/kernel"); since weight paths are fixed at build (as Keras fixes them) it reads
    # Keras 3.15's "blk/a/kernel". One built alone outside any scope still gets the Sequential's name
    # (Keras: "b/kernel"), the difference the docs now name.
    with gn.name_scope("blk"):
        a = L.Dense(3, name="a")
        a.build((4,))
    b = L.Dense(2, name="b")
    b.build((3,))
    model = gn.Sequential([L.Input((4,)), a, b, L.Dense(1, name="c")], name="seq")
    assert model._weight_paths() == ["blk/a/kernel", "blk/a/bias", "seq/b/kernel", "seq/b/bias",
                                     "seq/c/kernel", "seq/c/bias"]
    assert a.kernel.path == "blk/a/kernel"


def test_scope_paths_as_keras():
    keras = _keras()
    with keras.name_scope("blk"):
        a = keras.layers.Dense(3, name="a")
        a.build((None, 4))
    kmodel = keras.Sequential([keras.Input((4,)), a, keras.layers.Dense(1, name="c")], name="seq")
    with gn.name_scope("blk"):
        ours = L.Dense(3, name="a")
        ours.build((4,))
    model = gn.Sequential([L.Input((4,)), ours, L.Dense(1, name="c")], name="seq")
    assert model._weight_paths() == [v.path for v in kmodel.weights]


def test_loss_names_as_metrics_keras_reads_them(tmp_path):
    # "huber", "log_cosh", "dice", ... (loss names glassnet takes as metrics) were written as those
    # names, which keras.metrics.get refuses: Keras loaded the .keras file and failed at its first
    # evaluate. Written as Keras' entries of the loss classes, logged under the same names
    keras = _keras()
    model, x, y = _binary_model(["huber", gn.losses.LogCosh(), "binary_focal_crossentropy", "dice"])
    path = str(tmp_path / "m.keras")
    model.save(path, save_format="keras")
    ours = model.evaluate(x, y, verbose=0, return_dict=True)
    keras.utils.clear_session()
    theirs = keras.saving.load_model(path).evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(theirs) == sorted(ours)
    for key in ours:
        np.testing.assert_allclose(theirs[key], ours[key], rtol=1e-5, atol=1e-6)
    assert gn.load_model(path).evaluate(x, y, verbose=0, return_dict=True) == ours


def test_loss_as_metric_refused_by_the_legacy_h5_writer(tmp_path):
    # Keras 3.15's legacy loader looks metrics up among its metrics alone and fails on a loss class
    pytest.importorskip("h5py")
    model, _, _ = _binary_model(["mae", gn.losses.Huber(delta=0.5, name="hub")])
    with pytest.raises(ValueError, match=r"save_model: \.h5: compile: metrics: the loss Huber as a metric"):
        model.save(str(tmp_path / "m.h5"), save_format="h5")
    assert not (tmp_path / "m.h5").exists()


def test_keras_file_loss_as_metric_keeps_its_name(tmp_path):
    # a Keras entry {"module": "keras.losses", "class_name": "Huber", "config": {"name": "hub", ...}}
    # among the metrics is logged "hub", as Keras 3.15 logs it (read back, it was "huber")
    pytest.importorskip("h5py")
    model, x, y = _binary_model([gn.losses.Huber(delta=0.5, name="hub"), "huber"])
    path = str(tmp_path / "m.keras")
    model.save(path, save_format="keras")
    assert _config(path)["compile_config"]["metrics"][0]["module"] == "keras.losses"
    back = gn.load_model(path)
    assert back.evaluate(x, y, verbose=0, return_dict=True) == model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(back.evaluate(x, y, verbose=0, return_dict=True)) == ["loss", "hub", "huber"]
