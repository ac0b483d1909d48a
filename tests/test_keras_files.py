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
