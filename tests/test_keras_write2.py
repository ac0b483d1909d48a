"""Keras-file gaps closed: settings Keras 3.15's classes take are written (glassnet._keras_write's
per-class _KERAS_TAKES, checked against Keras' constructors), and a flat metrics list for a model of
several outputs is read as Keras read it (glassnet._keras_models._per_output).

Each newly written setting is loaded by keras.saving.load_model and predicts what glassnet predicts;
the compile settings read are compared with Keras' evaluate of the same weights.
"""
import inspect
import json
import warnings
import zipfile

import numpy as np
import pytest

import glassnet as gn
from glassnet import _keras_write

h5py = pytest.importorskip("h5py", reason="Keras files need h5py")
L = gn.layers


def _config(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


def _layer_configs(path):
    return {e["class_name"]: e["config"] for e in _config(path)["config"]["layers"]}


# -- the table: what Keras 3.15's constructors take ---------------------------------------------
def test_keras_takes_is_what_keras_constructors_take(keras):
    found = {}
    for name in dir(keras.layers):
        cls = getattr(keras.layers, name)
        if not isinstance(cls, type):
            continue
        parameters = inspect.signature(cls.__init__).parameters
        keys = frozenset(k for k in _keras_write._GLASSNET_ONLY if k in parameters)
        if keys:
            found[name] = keys
    # LayerNormalization pops rms_scaling from **kwargs (deprecated) and still computes it
    assert keras.layers.LayerNormalization(rms_scaling=True).rms_scaling is True
    found["LayerNormalization"] = frozenset({"rms_scaling"})
    assert found == _keras_write._KERAS_TAKES


# -- without Keras: what the file holds ---------------------------------------------------------
def _saved(tmp_path, layers, shape, name="m.keras"):
    model = gn.Sequential([L.Input(shape), *layers], seed=0)
    model.build((None, *shape))
    path = tmp_path / name
    model.save(path, save_format="keras")
    return model, path


def test_settings_keras_takes_are_written(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # rms_scaling's deprecation
        _, path = _saved(tmp_path, [L.Dropout(0.3, noise_shape=(None, 1, 3)), L.UpSampling2D(2, interpolation="bilinear"),
                                    L.Resizing(5, 7, interpolation="bicubic"), L.RandomZoom(0.2, interpolation="nearest"),
                                    L.LayerNormalization(rms_scaling=True)], (4, 3, 2))
    configs = _layer_configs(path)
    assert configs["Dropout"]["noise_shape"] == [None, 1, 3]
    assert configs["UpSampling2D"]["interpolation"] == "bilinear"
    assert configs["Resizing"]["interpolation"] == "bicubic"
    assert configs["RandomZoom"]["interpolation"] == "nearest"
    assert configs["LayerNormalization"]["rms_scaling"] is True
    _, path = _saved(tmp_path, [L.MixUp(alpha=0.7), L.ELU(alpha=0.4), L.LeakyReLU(alpha=0.1)], (4, 4, 3), "a.keras")
    configs = _layer_configs(path)
    assert configs["MixUp"]["alpha"] == 0.7 and "negative_slope" not in configs["MixUp"]
    assert configs["ELU"]["alpha"] == 0.4
    # glassnet's LeakyReLU(alpha=) alias: Keras' class takes negative_slope
    assert configs["LeakyReLU"]["negative_slope"] == pytest.approx(0.1) and "alpha" not in configs["LeakyReLU"]


@pytest.mark.parametrize("class_name, key, value", [("Conv2D", "interpolation", "bilinear"),
                                                   ("SpatialDropout1D", "noise_shape", [None, 1, 3]),
                                                   ("Dense", "rms_scaling", True)])
def test_a_setting_keras_class_lacks_is_still_refused_by_name(class_name, key, value):
    # the table is per class: a class whose Keras constructor lacks the key is refused at another value
    with pytest.raises(ValueError, match=rf"'l': {class_name}'s {key}=.* has no Keras counterpart"):
        _keras_write._layer_entry(class_name, {key: value}, "float32", "'l'")
    entry = _keras_write._layer_entry(class_name, {key: _keras_write._GLASSNET_ONLY[key][0]}, "float32", "'l'")
    assert key not in entry["config"]       # at the value Keras' class computes as: dropped


# -- with Keras: the same predictions after keras.saving.load_model -----------------------------
def _keras_predicts_the_same(keras, model, path, x, tol=1e-5):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # rms_scaling's deprecation, the file's missing optimizer
        loaded = keras.saving.load_model(str(path))
    np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)), model.predict(x, verbose=0),
                               rtol=tol, atol=tol)
    return loaded


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_upsampling_interpolation_in_keras(keras, tmp_path, interpolation):
    x = np.random.default_rng(0).normal(size=(3, 4, 5, 2)).astype("float32")
    model, path = _saved(tmp_path, [L.Conv2D(3, 2), L.UpSampling2D((2, 3), interpolation=interpolation)], (4, 5, 2))
    loaded = _keras_predicts_the_same(keras, model, path, x)
    assert loaded.layers[-1].interpolation == interpolation


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "bicubic", "area"])
def test_resizing_interpolation_in_keras(keras, tmp_path, interpolation):
    x = np.random.default_rng(1).normal(size=(2, 8, 6, 3)).astype("float32")
    model, path = _saved(tmp_path, [L.Resizing(5, 9, interpolation=interpolation)], (8, 6, 3))
    loaded = _keras_predicts_the_same(keras, model, path, x, tol=1e-4)
    assert loaded.layers[-1].interpolation == interpolation


def test_layer_normalization_rms_scaling_in_keras(keras, tmp_path):
    x = np.random.default_rng(2).normal(size=(6, 4)).astype("float32") * 3 + 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        norm = L.LayerNormalization(rms_scaling=True)
        model, path = _saved(tmp_path, [L.Dense(5), norm], (4,))
    # gamma not at ones, so that the scale is read from the file
    gamma = np.random.default_rng(3).uniform(0.5, 2.0, size=norm.get_weights()[0].shape).astype("float32")
    norm.set_weights([gamma])
    model.save(path, save_format="keras")
    loaded = _keras_predicts_the_same(keras, model, path, x)
    assert loaded.layers[-1].rms_scaling is True


def test_dropout_noise_shape_in_keras(keras, tmp_path):
    x = np.ones((2, 5, 4), "float32")
    model, path = _saved(tmp_path, [L.Dropout(0.5, noise_shape=(None, 1, 4))], (5, 4))
    loaded = _keras_predicts_the_same(keras, model, path, x)
    layer = loaded.layers[-1]
    assert tuple(layer.noise_shape) == (None, 1, 4)
    # training: one mask per sample and feature, the same along the axis of size 1 (as glassnet's)
    for out in (np.asarray(layer(x, training=True)), model.layers[-1].forward(x, training=True)):
        np.testing.assert_array_equal(out, np.broadcast_to(out[:, :1], out.shape))
        assert set(np.unique(out)) <= {0.0, 2.0}


@pytest.mark.parametrize("make, keys", [
    (lambda: L.RandomZoom(0.2, interpolation="nearest"), {"interpolation": "nearest"}),
    (lambda: L.RandomRotation(0.1, interpolation="nearest"), {"interpolation": "nearest"}),
    (lambda: L.RandomTranslation(0.1, 0.1, interpolation="nearest"), {"interpolation": "nearest"}),
    (lambda: L.RandomShear(0.1, 0.1, interpolation="nearest"), {"interpolation": "nearest"}),
    (lambda: L.RandomPerspective(interpolation="nearest"), {"interpolation": "nearest"}),
    (lambda: L.RandomElasticTransform(interpolation="nearest"), {"interpolation": "nearest"}),
    (lambda: L.RandAugment(value_range=(0, 1), interpolation="nearest"), {"interpolation": "nearest"}),
    (lambda: L.AugMix(value_range=(0, 1), alpha=0.5, interpolation="nearest"), {"interpolation": "nearest",
                                                                                "alpha": 0.5}),
    (lambda: L.MixUp(alpha=0.7), {"alpha": 0.7}),
])
def test_augmentation_settings_in_keras(keras, tmp_path, make, keys):
    # at inference these layers pass their input: the predictions equal, the settings are Keras' own
    x = np.random.default_rng(4).uniform(size=(2, 8, 8, 3)).astype("float32")
    model, path = _saved(tmp_path, [make(), L.Conv2D(2, 3)], (8, 8, 3))
    loaded = _keras_predicts_the_same(keras, model, path, x)
    for key, value in keys.items():
        assert getattr(loaded.layers[0], key) == pytest.approx(value) if key == "alpha" else \
            getattr(loaded.layers[0], key) == value


# -- a flat metrics list for several outputs ----------------------------------------------------
def _two_outputs(seed=0):
    i = gn.Input((3,), name="x")
    model = gn.Model(i, [L.Dense(2, name="a")(i), L.Dense(1, name="b")(i)], seed=seed)
    return model


def _data():
    rng = np.random.default_rng(5)
    return (rng.normal(size=(8, 3)).astype("float32"),
            [rng.normal(size=(8, 2)).astype("float32"), rng.normal(size=(8, 1)).astype("float32")])


def _with_metrics(path, metrics, out):
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    config = json.loads(members["config.json"])
    config["compile_config"]["metrics"] = metrics
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out


def _evaluated(model, x, y):
    names = model.metrics_names
    return dict(zip(names, model.evaluate(x, y, verbose=0)))


def test_flat_metrics_of_a_keras_file_go_to_every_output(tmp_path):
    x, y = _data()
    model = _two_outputs()
    model.compile(loss="mse", optimizer="sgd", metrics=[["mae"], ["mae"]])
    path = tmp_path / "m.keras"
    model.save(path, save_format="keras")
    loaded = gn.load_model(_with_metrics(path, ["mae"], tmp_path / "flat.keras"))
    assert _evaluated(loaded, x, y) == pytest.approx(_evaluated(model, x, y), rel=1e-6)
    assert {"a_mae", "b_mae"} <= set(loaded.metrics_names)
    # as many names as outputs: one each, as Keras 3.15 reads them
    loaded = gn.load_model(_with_metrics(path, ["mae", "mse"], tmp_path / "two.keras"))
    assert {"a_mae", "b_mse"} <= set(loaded.metrics_names) and "a_mse" not in loaded.metrics_names


def test_keras_own_reading_of_flat_metrics(keras, tmp_path):
    x, y = _data()
    model = _two_outputs()
    model.compile(loss="mse", optimizer="sgd", metrics=[["mae"], ["mae"]])
    path = tmp_path / "m.keras"
    model.save(path, save_format="keras")
    want = keras.saving.load_model(str(path)).evaluate(x, y, verbose=0, return_dict=True)
    flat = _with_metrics(path, ["mae"], tmp_path / "flat.keras")
    # Keras 3.15 loads the file, then fails at its first evaluate: glassnet reads it as Keras 2 did
    with pytest.raises(ValueError, match="arity mismatch"):
        keras.saving.load_model(str(flat)).evaluate(x, y, verbose=0)
    got = _evaluated(gn.load_model(flat), x, y)
    for key in ("loss", "a_mae", "b_mae"):
        assert got[key] == pytest.approx(want[key], rel=1e-5)
    # as many as outputs: Keras 3.15 matches them one to one, glassnet too
    both = _with_metrics(path, ["mae", "mse"], tmp_path / "both.keras")
    want = keras.saving.load_model(str(both)).evaluate(x, y, verbose=0, return_dict=True)
    got = _evaluated(gn.load_model(both), x, y)
    assert got["a_mae"] == pytest.approx(want["a_mae"], rel=1e-5)
    assert got["b_mse"] == pytest.approx(want["b_mse"], rel=1e-5)


def test_keras2_h5_flat_metrics_go_to_every_output(keras, tmp_path):
    from test_keras_h5 import _keras2
    x, y = _data()
    i = keras.Input((3,), name="x")
    model = keras.Model(i, [keras.layers.Dense(2, name="a")(i), keras.layers.Dense(1, name="b")(i)])
    model.compile(optimizer="sgd", loss="mse", metrics=[["mae", "mse"], ["mae", "mse"]])
    want = model.evaluate(x, y, verbose=0, return_dict=True)
    path = tmp_path / "m.h5"
    keras.saving.save_model(model, str(path))
    with h5py.File(path, "r+") as f:
        f.attrs["model_config"] = json.dumps(_keras2(json.loads(f.attrs["model_config"])))
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["training_config"] = json.dumps({"loss": "mse", "metrics": ["mae", "mse"], "loss_weights": None,
                                                 "optimizer_config": {"class_name": "SGD", "config": {
                                                     "name": "SGD", "learning_rate": 0.01}}})
    got = _evaluated(gn.load_model(path), x, y)
    for key in ("loss", "a_mae", "a_mse", "b_mae", "b_mse"):
        assert got[key] == pytest.approx(want[key], rel=1e-5)
