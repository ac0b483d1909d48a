"""Keras 3 models brought over: their configs (to_json, get_config) and their .keras files.

Each model of the catalogue is made in Keras, read by glassnet, and compared: predictions (from the
same weights) to 1e-5, the summary's layer names; then one epoch of fit runs in glassnet.
"""
import json
import re
import zipfile

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import ModelFileError


def _catalogue(keras):
    """{name: (Keras model, [input arrays])}, small models of the layers glassnet has."""
    L, rng = keras.layers, np.random.default_rng(0)
    models = {}

    def add(name, model, *inputs):
        models[name] = (model, [np.asarray(x) for x in inputs])

    add("mlp", keras.Sequential([keras.Input((6,)), L.Dense(8, activation="relu"), L.Dropout(0.1),
                                 L.Dense(3, activation="softmax")], name="mlp"),
        rng.normal(size=(5, 6)).astype("float32"))
    add("cnn", keras.Sequential([keras.Input((8, 8, 2)), L.Conv2D(4, 3, padding="same"), L.BatchNormalization(),
                                 L.Activation("relu"), L.MaxPooling2D(), L.Conv2D(3, 3), L.AveragePooling2D(2),
                                 L.Flatten(), L.Dense(2)]),
        rng.normal(size=(4, 8, 8, 2)).astype("float32"))
    ids = rng.integers(0, 12, size=(4, 7))
    ids[:, -2:] = 0
    add("lstm", keras.Sequential([keras.Input((7,), dtype="int32"), L.Embedding(12, 5, mask_zero=True), L.LSTM(4),
                                  L.Dense(1, activation="sigmoid")]), ids)
    add("gru", keras.Sequential([keras.Input((6, 3)), L.GRU(4, return_sequences=True), L.GRU(2)]),
        rng.normal(size=(3, 6, 3)).astype("float32"))
    add("bidirectional", keras.Sequential([keras.Input((5, 3)), L.Bidirectional(L.LSTM(3)), L.Dense(2)]),
        rng.normal(size=(3, 5, 3)).astype("float32"))
    x = keras.Input((6,), name="features")
    h = L.Dense(6, activation="relu", name="inner")(x)
    h = L.Add()([x, L.Dense(6, name="project")(h)])
    add("residual", keras.Model(x, L.Dense(2)(L.LayerNormalization()(h))), rng.normal(size=(4, 6)).astype("float32"))
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    shared = L.Dense(4, activation="tanh", name="shared")
    joined = L.Concatenate()([shared(a), shared(shared(a)), b])
    add("two_in_two_out", keras.Model([a, b], [L.Dense(1, name="score")(joined),
                                               L.Dense(3, activation="softmax", name="label")(joined)]),
        rng.normal(size=(4, 4)).astype("float32"), rng.normal(size=(4, 3)).astype("float32"))
    q = keras.Input((5, 4))
    attended = L.MultiHeadAttention(num_heads=2, key_dim=3)(q, q)
    add("attention", keras.Model(q, L.GlobalAveragePooling1D()(L.LayerNormalization()(L.Add()([q, attended])))),
        rng.normal(size=(3, 5, 4)).astype("float32"))
    inner = keras.Sequential([L.Dense(5, activation="relu"), L.Dense(3)], name="head")
    x = keras.Input((4,))
    add("nested", keras.Model(x, L.Dense(2)(inner(L.Dense(4)(x)))), rng.normal(size=(3, 4)).astype("float32"))
    add("conv1d_text", keras.Sequential([keras.Input((9,)), L.Embedding(20, 6), L.Conv1D(4, 3, activation="relu"),
                                         L.GlobalMaxPooling1D(), L.Dense(1)]), rng.integers(0, 20, size=(4, 9)))
    return models


@pytest.fixture(scope="module")
def catalogue():
    import os
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    return _catalogue(keras)


NAMES = ["mlp", "cnn", "lstm", "gru", "bidirectional", "residual", "two_in_two_out", "attention", "nested",
         "conv1d_text"]


def _predict(model, inputs):
    out = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def _summary_names(model):
    """The layer names of a summary's rows: ``name (Class)`` at the start of a row."""
    lines = []
    wide = {"line_length": 250} if not isinstance(model, gn.Sequential) else {}     # Keras' rows unwrapped
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line), **wide)
    text = "\n".join(lines)
    return [name for name, kind in re.findall(r"([\w.-]+) \((\w+)\)", text) if (name, kind) != ("Layer", "type")]


def _check_same(keras_model, model, inputs):
    for got, want in zip(_predict(model, inputs), _predict(keras_model, inputs)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # Keras' Functional summary lists the NotEqual op it records for an Embedding's mask; glassnet has none
    assert _summary_names(model) == [n for n in _summary_names(keras_model) if not n.startswith("not_equal")]


def _fit_once(model, keras_model, inputs):
    outputs = _predict(keras_model, inputs)
    model.compile(loss=["mse"] * len(outputs) if len(outputs) > 1 else "mse", optimizer="sgd")
    history = model.fit(inputs if len(inputs) > 1 else inputs[0], outputs if len(outputs) > 1 else outputs[0],
                        epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("name", NAMES)
def test_model_from_json_of_keras(catalogue, name):
    keras_model, inputs = catalogue[name]
    model = gn.models.model_from_json(keras_model.to_json())
    assert type(model) is (gn.Sequential if keras_model.__class__.__name__ == "Sequential" else gn.Model)
    model.set_weights(keras_model.get_weights())        # Keras' order of weights, glassnet's too
    _check_same(keras_model, model, inputs)


def test_from_config_of_keras(catalogue):
    for name in ("mlp", "two_in_two_out", "nested"):
        keras_model, inputs = catalogue[name]
        cls = gn.Sequential if name == "mlp" else gn.Model
        model = cls.from_config(keras_model.get_config())
        model.set_weights(keras_model.get_weights())
        _check_same(keras_model, model, inputs)
        again = gn.models.model_from_config(json.loads(keras_model.to_json()))
        again.set_weights(keras_model.get_weights())
        _check_same(keras_model, again, inputs)


# -- .keras files ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved(catalogue, tmp_path_factory):
    """{name: path of the model saved by Keras' model.save}, compiled first (its compile_config)."""
    pytest.importorskip("h5py", reason="h5py reads .keras files")
    folder, paths = tmp_path_factory.mktemp("keras_files"), {}
    for name, (keras_model, inputs) in catalogue.items():
        outputs = len(keras_model.outputs)
        keras_model.compile(optimizer="adam", loss=["mse"] * outputs if outputs > 1 else "mse",
                            metrics=None if outputs > 1 else ["mae"])
        paths[name] = folder / f"{name}.keras"
        keras_model.save(paths[name])
    return paths


@pytest.mark.parametrize("name", NAMES)
def test_load_model_of_keras_file(catalogue, saved, name):
    keras_model, inputs = catalogue[name]
    model = gn.load_model(saved[name])      # Keras' weights, mapped from the file's layout
    _check_same(keras_model, model, inputs)
    for got, want in zip(model.get_weights(), keras_model.get_weights()):
        np.testing.assert_array_equal(got, want)
    assert model.optimizer is not None and type(model.optimizer).__name__ == "Adam"
    _fit_once(model, keras_model, inputs)


def test_load_model_through_saving_and_uncompiled(catalogue, saved):
    keras_model, inputs = catalogue["cnn"]
    model = gn.saving.load_model(saved["cnn"], compile=False)
    assert model.optimizer is None
    _check_same(keras_model, model, inputs)


def _rewrite(source, target, change):
    """A copy of the .keras zip ``source`` with ``change(members)`` applied ({name: bytes})."""
    with zipfile.ZipFile(source) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    change(members)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def test_tampered_files_are_refused(saved, tmp_path):
    import h5py
    source = saved["mlp"]

    def wrong_shape(members):
        path = tmp_path / "w.h5"
        path.write_bytes(members["model.weights.h5"])
        with h5py.File(path, "r+") as h5:
            del h5["layers/dense/vars/0"]
            h5["layers/dense/vars/0"] = np.zeros((6, 9), "float32")
        members["model.weights.h5"] = path.read_bytes()
    with pytest.raises(ModelFileError, match=r"layer 'dense(_\d+)?' weight 0 .*expected shape \(6, 8\), the file has \(6, 9\)"):
        gn.load_model(_rewrite(source, tmp_path / "shape.keras", wrong_shape))

    def external_link(members):
        path = tmp_path / "x.h5"
        path.write_bytes(members["model.weights.h5"])
        with h5py.File(path, "r+") as h5:
            h5["layers/extra"] = h5py.ExternalLink("/etc/hostname", "/")
        members["model.weights.h5"] = path.read_bytes()
    with pytest.raises(ModelFileError, match=r"layers/extra is a link of kind ExternalLink; Keras writes hard links only"):
        gn.load_model(_rewrite(source, tmp_path / "link.keras", external_link))

    with pytest.raises(ModelFileError, match=r"unexpected member 'run.py': not one of Keras'"):
        gn.load_model(_rewrite(source, tmp_path / "extra.keras", lambda m: m.update({"run.py": b"print(1)"})))
    with pytest.raises(ModelFileError, match=r"member 'metadata.json' declares 70000 bytes, more than glassnet reads"):
        gn.load_model(_rewrite(source, tmp_path / "big.keras",
                               lambda m: m.update({"metadata.json": b"{" + b" " * 69998 + b"}"})))
    with pytest.raises(ModelFileError, match=r"the file is larger than max_bytes=1000"):
        gn.load_model(source, max_bytes=1000)

    def extra_layer(members):       # weights for a layer the config lacks
        path = tmp_path / "e.h5"
        path.write_bytes(members["model.weights.h5"])
        with h5py.File(path, "r+") as h5:
            h5["layers/ghost/vars/0"] = np.zeros(3, "float32")
            h5["layers/ghost/vars"].attrs["name"] = "ghost"
        members["model.weights.h5"] = path.read_bytes()
    with pytest.raises(ModelFileError, match=r"weights of layers the config does not build: \['ghost'\]"):
        gn.load_model(_rewrite(source, tmp_path / "ghost.keras", extra_layer))


def test_deflated_member_cannot_inflate_beyond_its_declared_size(saved, tmp_path):
    # a member deflated to a few bytes that declares its true size: read up to the caps only
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(saved["mlp"]) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", members["metadata.json"])
        archive.writestr("config.json", members["config.json"])
        archive.writestr("model.weights.h5", bytes(50_000_000))
    assert path.stat().st_size < 1_000_000
    with pytest.raises(ModelFileError, match=r"'model.weights.h5' declares 50000000 bytes, more than glassnet reads "
                                             r"\(10000000\)"):
        gn.load_model(path, max_bytes=10_000_000)


def test_missing_h5py_is_named(saved, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "h5py", None)      # as if not installed
    with pytest.raises(ImportError, match=r'needs h5py: pip install "glassnet\[keras\]"'):
        gn.load_model(saved["mlp"])


# -- refusals of configs (Keras not needed: configs as Keras 3.15 writes them) ------------------------
def _keras_layer(class_name, config, inbound=None, name=None, module="keras.layers", registered=None):
    entry = {"module": module, "class_name": class_name, "config": {"name": name, **config},
             "registered_name": registered, "name": name}
    if inbound is not None:
        entry["inbound_nodes"] = [{"args": [{"class_name": "__keras_tensor__", "config": {
            "shape": [None, 4], "dtype": "float32", "keras_history": [inbound, 0, 0]}}], "kwargs": {}}]
    return entry


def _functional(*entries):
    source = {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None, "name": "x",
              "config": {"batch_shape": [None, 4], "dtype": "float32", "sparse": False, "ragged": False,
                         "name": "x", "optional": False}, "inbound_nodes": []}
    return json.dumps({"module": "keras", "class_name": "Functional", "registered_name": "Functional", "config": {
        "name": "m", "trainable": True, "layers": [source, *entries], "input_layers": [["x", 0, 0]],
        "output_layers": [[entries[-1]["name"], 0, 0]]}})


def test_keras_lambda_unknown_and_custom_classes_are_refused_by_name():
    lam = _keras_layer("Lambda", {"function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAA"}}}, "x", "lam")
    with pytest.raises(ModelFileError, match=r"layer 'lam': Keras' Lambda layer holds its function as Python bytecode"):
        gn.models.model_from_json(_functional(lam))
    with pytest.raises(ModelFileError, match=r"unknown layer class 'FancyLayer'"):
        gn.models.model_from_json(_functional(_keras_layer("FancyLayer", {}, "x", "fancy")))
    with pytest.raises(ModelFileError, match=r"'my_pkg>Scale' is not registered"):
        gn.models.model_from_json(_functional(_keras_layer("Scale", {}, "x", "s", module="my_module",
                                                           registered="my_pkg>Scale")))
    dense = _keras_layer("Dense", {"units": 2}, "nowhere", "d")
    with pytest.raises(ModelFileError, match=r"the calls of \['d'\] read tensors no layer of the config makes"):
        gn.models.model_from_json(_functional(dense))


def test_keras_config_without_keras_reads_and_caps():
    text = _functional(_keras_layer("Dense", {"units": 3, "activation": "relu"}, "x", "d"))
    model = gn.models.model_from_json(text)
    assert model.output_shape == (None, 3) and [layer.name for layer in model.layers] == ["d"]
    kernel, bias = model.get_weights()
    assert kernel.shape == (4, 3) and kernel.dtype == np.float32
    with pytest.raises(ModelFileError, match=r"more parameters than max_params=10 allows"):
        gn.models.model_from_json(text, max_params=10)


def test_frozen_wrapper_nested_sequential_and_compile_objects(catalogue, tmp_path):
    pytest.importorskip("h5py", reason="h5py reads .keras files")
    import keras
    L = keras.layers
    inner = keras.Sequential([L.Dense(4, activation="relu"), L.Dense(3)], name="inner")
    keras_model = keras.Sequential([keras.Input((5, 6)), L.TimeDistributed(L.Dense(6)), L.SimpleRNN(5), inner,
                                    L.Dense(1, activation="sigmoid")])
    keras_model.layers[0].trainable = False          # Keras freezes the wrapped Dense too, and writes both
    keras_model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss=keras.losses.BinaryCrossentropy(),
                        metrics=[keras.metrics.AUC(), "accuracy"])
    keras_model.save(tmp_path / "frozen.keras")
    model = gn.load_model(tmp_path / "frozen.keras")
    x = np.random.default_rng(1).normal(size=(6, 5, 6)).astype("float32")
    _check_same(keras_model, model, [x])
    assert [layer.trainable for layer in model.layers] == [False, True, True, True, True]
    assert model.optimizer.get_config()["momentum"] == pytest.approx(0.9)
    y = (np.arange(6) % 2).astype("float32")[:, None]
    frozen = model.layers[0].get_weights()
    model.fit(x, y, epochs=1, verbose=0)
    for before, after in zip(frozen, model.layers[0].get_weights()):
        np.testing.assert_array_equal(before, after)


def test_a_damaged_keras_file_is_named_as_one(saved, tmp_path):
    # a .keras zip whose weights member fails its CRC: the message names a Keras .keras file, not
    # glassnet's own format (the kfilerev review: "not a readable glassnet model file" misled)
    data = bytearray(open(saved["mlp"], "rb").read())
    with zipfile.ZipFile(saved["mlp"]) as archive:
        info = archive.getinfo("model.weights.h5")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
    data[start] ^= 0xFF                       # one byte inside the member's data: its CRC no longer holds
    path = tmp_path / "damaged.keras"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"not a readable Keras \.keras file \((BadZipFile|OSError|ValueError)"):
        gn.load_model(path)
