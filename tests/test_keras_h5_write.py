"""glassnet models written as Keras' legacy ``.h5`` model files (glassnet._keras_h5_write), and
nested Sequentials written nested in ``.keras`` files (glassnet._keras_write).

Each model of the catalogue below, fitted in glassnet, is saved with ``save_format="h5"`` (and
``"keras"``); Keras 3.15's ``load_model`` gives the same layers (names, a nested Sequential as one
layer) and predictions to 1e-5, compiled with the same loss and optimizer; glassnet reads each file
back with identical weights and predictions. Without Keras: the layout, the round trip, the
refusals by name before anything is written, and no half-written file.
"""
import json
import os

import numpy as np
import pytest

import glassnet as gn

h5py = pytest.importorskip("h5py", reason="Keras' HDF5 files need h5py")
L = gn.layers


def _mlp():
    return gn.Sequential([L.Dense(5, activation="relu", input_dim=4), L.Dense(2)], seed=0, name="mlp")


def _cnn():
    return gn.Sequential([gn.Input((6, 6, 2)), L.Conv2D(3, 3, activation="relu"), L.BatchNormalization(),
                          L.Flatten(), L.Dense(2)], seed=1)


def _lstm():
    return gn.Sequential([gn.Input((5,)), L.Embedding(7, 3), L.LSTM(4), L.Dense(2)], seed=2)


def _gru():
    return gn.Sequential([gn.Input((5, 3)), L.GRU(4, return_sequences=True), L.GRU(3), L.Dense(2)], seed=3)


def _bidirectional():
    return gn.Sequential([gn.Input((5, 3)), L.Bidirectional(L.LSTM(3)), L.Dense(2)], seed=4)


def _residual():
    x = gn.Input((4,), name="x")
    h = L.Dense(4, activation="tanh", name="h")(x)
    out = L.Dense(2, name="out")(L.Add(name="add")([x, h]))
    return gn.Model(x, out, name="residual")


def _two_in_two_out():
    a, b = gn.Input((4,), name="a"), gn.Input((3,), name="b")
    joined = L.Concatenate(name="cat")([L.Dense(3, name="da")(a), b])
    return gn.Model([a, b], [L.Dense(2, name="o1")(joined), L.Dense(1, name="o2")(joined)], name="two")


def _nested_sequential():
    inner2 = gn.Sequential([L.Dense(2, name="d2")], name="inner2")
    inner = gn.Sequential([L.Dense(3, name="d1"), L.BatchNormalization(name="bn"), inner2], name="inner")
    return gn.Sequential([gn.Input((4,)), L.Dense(5, activation="relu", name="d0"), inner, L.Dense(2, name="top")],
                         seed=5, name="outer")


def _nested_functional():
    a = gn.Input((4,), name="a")
    sub = gn.Model(a, L.Dense(3, activation="relu", name="h")(a), name="sub")
    x = gn.Input((4,), name="x")
    return gn.Model(x, L.Dense(2, name="out")(sub(x)), name="uses_sub")


CATALOGUE = {"mlp": (_mlp, (4,), "float"), "cnn_bn": (_cnn, (6, 6, 2), "float"), "embedding_lstm": (_lstm, (5,), "ids"),
             "gru": (_gru, (5, 3), "float"), "bidirectional": (_bidirectional, (5, 3), "float"),
             "residual": (_residual, (4,), "float"), "two_in_two_out": (_two_in_two_out, None, "float"),
             "nested_sequential": (_nested_sequential, (4,), "float"),
             "nested_functional": (_nested_functional, (4,), "float")}


def _data(name, rng):
    make, shape, kind = CATALOGUE[name]
    if name == "two_in_two_out":
        x = [rng.normal(size=(6, 4)).astype("float32"), rng.normal(size=(6, 3)).astype("float32")]
        return x, [rng.normal(size=(6, 2)).astype("float32"), rng.normal(size=(6, 1)).astype("float32")]
    x = rng.integers(1, 7, size=(6, *shape)) if kind == "ids" else rng.normal(size=(6, *shape)).astype("float32")
    return x, rng.normal(size=(6, 2)).astype("float32")


def _fitted(name):
    model = CATALOGUE[name][0]()
    rng = np.random.default_rng(0)
    x, y = _data(name, rng)
    loss = ["mse", "mae"] if name == "two_in_two_out" else "mse"
    model.compile(loss=loss, optimizer=gn.optimizers.Adam(learning_rate=0.01))
    model.fit(x, y, epochs=2, batch_size=3, verbose=0)
    return model, x


def _outputs(out):
    return [np.asarray(o) for o in out] if isinstance(out, (list, tuple)) else [np.asarray(out)]


def _same_back(model, path, x):
    again = gn.load_model(path)
    assert [layer.name for layer in again.layers] == [layer.name for layer in model.layers]
    for got, want in zip(again.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(_outputs(again.predict(x, verbose=0)), _outputs(model.predict(x, verbose=0))):
        np.testing.assert_array_equal(got, want)
    return again


# -- without Keras -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["mlp", "nested_sequential", "two_in_two_out", "bidirectional"])
def test_h5_round_trip_and_layout(tmp_path, name):
    model, x = _fitted(name)
    path = str(tmp_path / "m.h5")
    model.save(path, save_format="h5")
    with h5py.File(path, "r") as h5:
        assert h5.attrs["keras_version"].startswith("3.15.")
        config = json.loads(h5.attrs["model_config"])
        training = json.loads(h5.attrs["training_config"])
        names = [n.decode() for n in h5["model_weights"].attrs["layer_names"]]
        assert "optimizer_weights" not in h5
        # each listed group holds its weight_names' datasets, shapes those of glassnet's weights
        shapes = [h5["model_weights"][n][w].shape for n in names
                  for w in h5["model_weights"][n].attrs["weight_names"]]
    assert config["class_name"] == ("Functional" if isinstance(model, gn.Model) else "Sequential")
    assert all("module" not in entry and "build_config" not in entry for entry in config["config"]["layers"])
    assert training["optimizer_config"]["class_name"] == "Adam" and "optimizer" not in training
    assert sorted(shapes) == sorted(w.shape for w in model.get_weights())
    if name == "nested_sequential":
        assert names == ["d0", "inner", "top"]
        inner = config["config"]["layers"][2]
        assert inner["class_name"] == "Sequential" and inner["config"]["layers"][-1]["class_name"] == "Sequential"
    _same_back(model, path, x)


def test_nested_sequential_written_nested_in_keras_file(tmp_path):
    import zipfile
    model, x = _fitted("nested_sequential")
    path = str(tmp_path / "m.keras")
    model.save(path, save_format="keras")
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    layers = config["config"]["layers"]
    assert [e["class_name"] for e in layers] == ["InputLayer", "Dense", "Sequential", "Dense"]
    assert [e["config"]["name"] for e in layers[2]["config"]["layers"]] == ["inner_input", "d1", "bn", "inner2"]
    assert layers[2]["config"]["build_input_shape"] == [None, 5]
    again = _same_back(model, path, x)
    assert [(r.name, [l.name for l in r.layers]) for r in again._nesting] == [("inner", ["d1", "bn", "d2"])]


def test_refusals_by_name_before_writing(tmp_path):
    model, _ = _fitted("mlp")
    target = tmp_path / "m.h5"
    target.write_bytes(b"before")
    with pytest.raises(ValueError, match=r"save_format='h5'.*\.h5 or \.hdf5.*m\.keras"):
        model.save(str(tmp_path / "m.keras"), save_format="h5")
    with pytest.raises(ValueError, match=r"save_format: expected None, 'glassnet', 'keras' or 'h5', got 'hdf5'"):
        model.save(str(target), save_format="hdf5")
    odd = gn.Sequential([gn.Input((4,)), L.Dense(3), L.LayerScale(0.1, 3)], seed=0)
    odd.build()
    with pytest.raises(ValueError, match=r"save_model: \.h5: .*Keras 3\.15 has no LayerScale layer"):
        odd.save(str(target), save_format="h5")
    with pytest.raises(ValueError, match=r"not built"):
        gn.Sequential([L.Dense(2)]).save(str(target), save_format="h5")
    leaky = gn.Sequential([gn.Input((4,)), L.Dense(3, activation="leaky_relu")], seed=0)
    leaky.build()
    with pytest.raises(ValueError, match=r"activation='leaky_relu'"):
        leaky.save(str(target), save_format="h5")
    assert target.read_bytes() == b"before"
    assert sorted(os.listdir(tmp_path)) == ["m.h5"]        # no temporary file left, no .keras made


def test_failure_mid_write_leaves_the_previous_file(tmp_path, monkeypatch):
    model, _ = _fitted("mlp")
    target = tmp_path / "m.h5"
    target.write_bytes(b"before")
    from glassnet import _keras_h5_write

    def broken(*args):
        raise OSError("disk full")
    monkeypatch.setattr(_keras_h5_write, "_names_attr", broken)
    with pytest.raises(OSError, match="disk full"):
        model.save(str(target), save_format="h5")
    assert target.read_bytes() == b"before" and sorted(os.listdir(tmp_path)) == ["m.h5"]


def test_default_format_of_an_h5_name_stays_glassnets(tmp_path):
    model, x = _fitted("mlp")
    path = str(tmp_path / "m.h5")
    model.save(path)        # no save_format: glassnet's own file, optimizer state kept
    assert not h5py.is_hdf5(path)
    _same_back(model, path, x)


# -- against Keras 3.15 --------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["h5", "keras"])
@pytest.mark.parametrize("name", list(CATALOGUE))
def test_keras_loads_what_glassnet_wrote(keras, tmp_path, name, fmt):
    model, x = _fitted(name)
    path = str(tmp_path / f"m.{fmt}")
    model.save(path, save_format=fmt)
    loaded = keras.models.load_model(path)
    want = _outputs(model.predict(x, verbose=0))
    got = _outputs(loaded.predict(x, verbose=0))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, atol=1e-5, rtol=1e-5)
    assert type(loaded.optimizer).__name__ == "Adam"
    assert float(loaded.optimizer.learning_rate) == pytest.approx(0.01)
    if name == "nested_sequential":         # one layer, as Keras' own model has it
        assert [layer.name for layer in loaded.layers] == ["d0", "inner", "top"]
        assert [layer.name for layer in loaded.layers[1].layers] == ["d1", "bn", "inner2"]
        assert [layer.name for layer in loaded.layers[1].layers[2].layers] == ["d2"]
    elif name == "nested_functional":     # written nested too (tests/test_keras_nested_func.py)
        names = [layer.name for layer in loaded.layers if not isinstance(layer, keras.layers.InputLayer)]
        assert names == ["sub", "out"]
        assert [layer.name for layer in loaded.get_layer("sub").layers] == ["a", "h"]
    else:
        names = [layer.name for layer in loaded.layers if not isinstance(layer, keras.layers.InputLayer)]
        assert names == [layer.name for layer in model.layers]
    # Keras' weights are glassnet's, in the same order
    for k, (g, w) in enumerate(zip(loaded.get_weights(), model.get_weights(), strict=True)):
        np.testing.assert_array_equal(g, w, err_msg=f"weight {k}")
    _same_back(model, path, x)
    # a file Keras writes of the loaded model reads back into glassnet as glassnet wrote it
    if fmt == "h5":
        again = str(tmp_path / "again.h5")
        loaded.save(again)
        back = gn.load_model(again)
        for g, w in zip(back.get_weights(), model.get_weights(), strict=True):
            np.testing.assert_array_equal(g, w)
