"""Review regrev45: a regression differential of the session's start (e4d2bbe1) against its end, and
what it turned up along the way."""
import json
import zipfile

import numpy as np
import pytest

import glassnet as gn

L = gn.layers


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 3)).astype("float32")
    return x, (x[:, :1] > 0).astype("float32")


def _loss_entry(path, fmt):
    if fmt == "keras":
        return json.loads(zipfile.ZipFile(path).read("config.json"))["compile_config"]["loss"]
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "r") as f:
        return json.loads(f.attrs["training_config"])["loss"]


LOSSES = [
    (lambda: gn.losses.BinaryCrossentropy(label_smoothing=0.1), "sigmoid", {"label_smoothing": 0.1}),
    (lambda: gn.losses.BinaryCrossentropy(from_logits=True), None, {"from_logits": True}),
    (lambda: gn.losses.Huber(delta=2.0), None, {"delta": 2.0}),
    (lambda: gn.losses.MeanSquaredError(reduction="sum"), None, {"reduction": "sum"}),
]


@pytest.mark.parametrize("fmt", ["keras", "h5"])
@pytest.mark.parametrize("make, activation, settings", LOSSES)
def test_keras_files_keep_a_built_in_losss_settings(tmp_path, fmt, make, activation, settings):
    # the Keras writers named the loss alone ("binary_crossentropy"), losing label_smoothing,
    # from_logits, delta and reduction: the model read back (in glassnet or Keras) evaluated and
    # trained with the defaults, silently
    pytest.importorskip("h5py")
    x, y = _data()
    model = gn.Sequential([gn.Input((3,)), L.Dense(1, activation=activation)], seed=0)
    model.compile(loss=make(), optimizer="sgd")
    path = tmp_path / f"m.{fmt}"
    model.save(path, save_format=fmt)
    entry = _loss_entry(path, fmt)
    assert isinstance(entry, dict) and entry["config"] == settings
    back = gn.load_model(path)
    assert back.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_keras_files_keep_one_outputs_loss_settings_among_several(tmp_path, fmt):
    pytest.importorskip("h5py")
    x, y = _data()
    i = gn.Input((3,))
    model = gn.Model(i, [L.Dense(1, activation="sigmoid", name="a")(i), L.Dense(1, name="b")(i)])
    model.compile(loss={"a": gn.losses.BinaryCrossentropy(label_smoothing=0.1), "b": "mse"}, optimizer="sgd")
    path = tmp_path / f"m.{fmt}"
    model.save(path, save_format=fmt)
    entry = _loss_entry(path, fmt)
    assert entry["a"]["config"] == {"label_smoothing": 0.1} and entry["b"] in ("mse", "mean_squared_error")
    back = gn.load_model(path)
    assert back.evaluate(x, {"a": y, "b": y}, verbose=0) == model.evaluate(x, {"a": y, "b": y}, verbose=0)


def test_keras_reads_the_losss_settings(tmp_path):
    keras = pytest.importorskip("keras")
    x, y = _data()
    model = gn.Sequential([gn.Input((3,)), L.Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss=gn.losses.BinaryCrossentropy(label_smoothing=0.1), optimizer="sgd")
    model.save(tmp_path / "m.keras", save_format="keras")
    theirs = keras.saving.load_model(tmp_path / "m.keras")
    assert theirs.loss.get_config()["label_smoothing"] == pytest.approx(0.1)
    assert theirs.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-5)
