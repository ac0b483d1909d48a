"""glassnet models written as Keras 3.15 .keras files (glassnet._keras_write).

Each model of test_keras_files' catalogue, read into glassnet and fitted there, is saved as .keras and
loaded by keras.saving.load_model: predictions equal glassnet's to 1e-5, the compile settings are
the ones glassnet had; read back by glassnet, its weights are identical. Refusals come before any
file is written; a failure mid-write leaves no file.
"""
import json
import os
import warnings
import zipfile

import numpy as np
import pytest

import glassnet as gn
import test_keras_files
from test_keras_files import NAMES

catalogue = test_keras_files.catalogue      # its module-scoped fixture of Keras models

h5py = pytest.importorskip("h5py", reason="writing .keras files needs h5py")


def _mlp(seed=0):
    model = gn.Sequential([gn.layers.Dense(5, activation="relu", input_dim=4), gn.layers.Dense(2)], seed=seed)
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=0.05, momentum=0.9), metrics=["mae"])
    return model


def _fit(model, x, y):
    model.fit(x, y, epochs=2, batch_size=2, verbose=0)


# -- without Keras: the file's layout, the round trip, refusals, atomicity -----------------------
def test_round_trip_without_keras(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 4)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    model = _mlp()
    _fit(model, x, y)
    path = tmp_path / "m.keras"
    model.save(path, save_format="keras")
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        meta = json.loads(archive.read("metadata.json"))
        config = json.loads(archive.read("config.json"))
    assert meta["keras_version"].startswith("3.15.")
    assert config["class_name"] == "Sequential" and config["config"]["build_input_shape"] == [None, 4]
    assert [e["class_name"] for e in config["config"]["layers"]] == ["InputLayer", "Dense", "Dense"]
    assert config["compile_config"]["optimizer"]["class_name"] == "SGD"
    again = gn.load_model(path)
    for got, want in zip(again.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert type(again.optimizer).__name__ == "SGD" and again.optimizer.momentum == pytest.approx(0.9)


@pytest.mark.parametrize("name", ["m.npz", "m.keras", "m"])
def test_glassnets_own_format_stays_the_default_whatever_the_name(tmp_path, name):
    # a ported Keras script's ModelCheckpoint("best.keras") keeps the optimizer state and the layers
    # of its own it resumes with: Keras' format is asked for by name only
    model = _mlp()
    model.build((None, 4))
    model.save(tmp_path / name)
    with zipfile.ZipFile(tmp_path / name) as archive:
        assert "config.npy" in archive.namelist()


def test_save_format_is_checked(tmp_path):
    model = _mlp()
    model.build((None, 4))
    with pytest.raises(ValueError, match=r"save_format: expected None, 'glassnet', 'keras' or 'h5', got 'tf'"):
        model.save(tmp_path / "m.keras", save_format="tf")
    with pytest.raises(ValueError, match=r"save_format='h5': .*\.h5 or \.hdf5, got .*m\.keras"):
        model.save(tmp_path / "m.keras", save_format="h5")
    with pytest.raises(ValueError, match=r"save_format='keras': Keras' loader reads only names ending in \.keras"):
        model.save(tmp_path / "m.npz", save_format="keras")
    assert os.listdir(tmp_path) == []
    model.save(tmp_path / "m.npz", save_format="glassnet")
    assert gn.load_model(tmp_path / "m.npz").count_params() == model.count_params()


@pytest.mark.parametrize("make, words", [
    (lambda: gn.Sequential([gn.layers.Dense(3, activation="leaky_relu", input_dim=2)]), "leaky_relu"),
    (lambda: gn.Sequential([gn.layers.Dense(4, input_dim=2), gn.layers.LayerScale(1e-3, 4)]), "LayerScale"),
    (lambda: gn.Sequential([gn.layers.Dense(3)]), "not built"),
])
def test_refusals_name_what_and_write_nothing(tmp_path, make, words):
    model = make()
    path = tmp_path / "r.keras"
    with pytest.raises(ValueError, match=words):
        model.save(path, save_format="keras")
    assert os.listdir(tmp_path) == []


def test_optimizer_keras_lacks_is_refused(tmp_path):
    model = _mlp()
    model.compile(loss="mse", optimizer=gn.optimizers.get("adam"))
    model.build((None, 4))
    model.optimizer.__class__ = type("Mine", (type(model.optimizer),), {})
    with pytest.raises(ValueError, match="Mine"):
        model.save(tmp_path / "o.keras", save_format="keras")
    assert os.listdir(tmp_path) == []


def test_failure_mid_write_leaves_no_file(tmp_path, monkeypatch):
    from glassnet import _keras_h5
    model = _mlp()
    model.build((None, 4))
    path = tmp_path / "m.keras"
    model.save(path, save_format="keras")
    before = path.read_bytes()
    original = _keras_h5._write_vars

    def failing(h5, where, name, arrays):
        if where.endswith("dense_1"):
            raise OSError("disk full (simulated)")
        return original(h5, where, name, arrays)
    monkeypatch.setattr(_keras_h5, "_write_vars", failing)
    with pytest.raises(OSError, match="simulated"):
        _built(1).save(path, save_format="keras")
    assert path.read_bytes() == before          # the previous file, whole
    assert os.listdir(tmp_path) == ["m.keras"]  # no temporary file left


def _built(seed):
    model = _mlp(seed)
    model.build((None, 4))
    return model


# -- with Keras 3.15: keras.saving.load_model reads what glassnet wrote -----------------------------
def _listed(out):
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def _keras_load(keras, path):
    with warnings.catch_warnings():
        # the file holds no optimizer variables (glassnet writes none): Keras says it starts afresh
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        return keras.saving.load_model(path)


@pytest.mark.parametrize("name", NAMES)
def test_catalogue_fitted_in_glassnet_loads_in_keras(keras, catalogue, tmp_path, name):
    keras_model, inputs = catalogue[name]
    source = tmp_path / "from_keras.keras"
    keras_model.save(source)
    model = gn.load_model(source)
    x = inputs if len(inputs) > 1 else inputs[0]
    n = len(keras_model.outputs)
    targets = _listed(keras_model.predict(x, verbose=0))
    model.compile(optimizer=gn.optimizers.Adam(0.01), loss=["mse"] * n if n > 1 else "mse",
                  metrics=None if n > 1 else ["mae"])
    model.fit(x, targets if n > 1 else targets[0], epochs=2, batch_size=2, verbose=0)
    path = tmp_path / "from_glassnet.keras"
    model.save(path, save_format="keras")
    loaded = _keras_load(keras, path)
    for got, want in zip(_listed(loaded.predict(x, verbose=0)), _listed(model.predict(x, verbose=0))):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    settings = loaded.get_compile_config()
    assert settings["optimizer"]["class_name"] == "Adam"
    assert settings["optimizer"]["config"]["learning_rate"] == pytest.approx(0.01)
    assert settings["loss"] == (["mse"] * n if n > 1 else "mse")
    again = gn.load_model(path)         # and back: the same weights
    for got, want in zip(again.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_glassnet_built_models_load_in_keras(keras, tmp_path):
    rng = np.random.default_rng(1)
    L = gn.layers
    a = gn.Input((6,), name="a")
    h = L.Dense(6, activation="tanh")(a)
    out = L.Dense(3, activation="softmax")(L.Add()([a, L.BatchNormalization()(h)]))
    functional = gn.Model(a, out, seed=0)
    functional.compile(loss="categorical_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 16)]
    cases = [(functional, rng.normal(size=(16, 6)).astype("float32"), y)]
    seq = gn.Sequential([L.Conv1D(3, 2, activation="relu", input_shape=(7, 2)), L.SimpleRNN(4),
                         L.Dropout(0.2), L.Dense(1, activation="sigmoid")], seed=0)
    seq.compile(loss="binary_crossentropy", optimizer=gn.optimizers.AdamW(0.003), metrics=["accuracy"])
    cases.append((seq, rng.normal(size=(16, 7, 2)).astype("float32"), rng.integers(0, 2, (16, 1)).astype("float32")))
    frozen = gn.Sequential([L.Dense(4, input_dim=3), L.Dense(2)], seed=0)
    frozen.layers[0].trainable = False
    frozen.compile(loss="mse", optimizer="sgd")
    cases.append((frozen, rng.normal(size=(16, 3)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")))
    for k, (model, x, target) in enumerate(cases):
        _fit(model, x, target)
        path = tmp_path / f"g{k}.keras"
        model.save(path, save_format="keras")
        loaded = _keras_load(keras, path)
        np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
        assert ([layer.trainable for layer in loaded.layers if layer.weights]
                == [layer.trainable for layer in model.layers if layer.get_weights()])
        assert loaded.get_compile_config()["optimizer"]["class_name"] == type(model.optimizer).__name__
