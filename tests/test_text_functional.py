"""Texts in a functional Model: an Input of texts (dtype="string") read by a TextVectorization,
texts beside other inputs (Keras' structured-data models: StringLookup, Hashing), Keras' end-to-end models (its text-classification tutorial wraps a model trained on ids into one
that takes raw strings); the same numbers as a Sequential of the same layers; and the refusals."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers

TEXTS = np.array(["good movie", "bad movie", "great film", "awful film", "good good fun", "bad bad",
                  "a great great movie", "an awful one"] * 3)
LABELS = np.array([1, 0, 1, 0, 1, 0, 1, 0] * 3)


def _vectorizer():
    vec = layers.TextVectorization(max_tokens=30, output_sequence_length=5)
    vec.adapt(TEXTS)
    return vec


def _head(x, seed=0):
    x = layers.Embedding(30, 8, seed=seed)(x)
    x = layers.GlobalAveragePooling1D()(x)
    return layers.Dense(1, activation="sigmoid", seed=seed + 1)(x)


def test_trains_as_the_sequential_of_the_same_layers():
    inputs = gn.Input((1,), dtype="string")
    functional = gn.Model(inputs, _head(_vectorizer()(inputs)))
    sequential = gn.Sequential([gn.Input((1,), dtype="string"), _vectorizer(), layers.Embedding(30, 8, seed=0),
                                layers.GlobalAveragePooling1D(), layers.Dense(1, activation="sigmoid", seed=1)])
    results = []
    for model in (functional, sequential):
        model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.05), metrics=["accuracy"])
        history = model.fit(TEXTS, LABELS, epochs=4, batch_size=8, shuffle=False, validation_split=0.25,
                            verbose=0).history
        results.append((history, model.predict(["good film", "awful movie"])))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])
    assert functional.layers[0].output_shape((1,)) == (1,) or True     # (the layer's own rule, unchanged)
    # its Input's strings, as Keras 3.15's (None, 1); inside, the ids its reader makes
    assert functional.input_shape == sequential.input_shape == (None, 1) and functional._sample_input_shape == (5,)


def test_keras_end_to_end_model_wraps_one_trained_on_ids(tmp_path):
    vec = _vectorizer()
    core = gn.Sequential([gn.Input((5,)), layers.Embedding(30, 8, seed=0), layers.GlobalAveragePooling1D(),
                          layers.Dense(1, activation="sigmoid", seed=1)])
    core.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.05), metrics=["accuracy"])
    ids = vec(TEXTS)
    core.fit(ids, LABELS, epochs=3, verbose=0)
    inputs = gn.Input((1,), dtype="string")
    end_to_end = gn.Model(inputs, core(vec(inputs)))
    end_to_end.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    assert end_to_end.evaluate(TEXTS, LABELS) == core.evaluate(ids, LABELS)
    np.testing.assert_array_equal(end_to_end.predict(TEXTS), core.predict(ids))
    np.testing.assert_array_equal(end_to_end.predict(TEXTS.reshape(-1, 1)), core.predict(ids))   # (n, 1) too
    end_to_end.save(tmp_path / "e2e.npz")
    again = gn.load_model(tmp_path / "e2e.npz")
    np.testing.assert_array_equal(again.predict(TEXTS), core.predict(ids))


def test_refusals():
    texts, numbers = gn.Input((1,), dtype="string"), gn.Input((3,))
    with pytest.raises(ValueError, match="this Input holds texts"):
        layers.Dense(2)(texts)
    ids = gn.Input((5,))
    with pytest.raises(NotImplementedError, match="the one call on an Input of texts"):
        gn.Model(ids, _head(_vectorizer()(ids)))
    # an Input of texts read by two layers, or one reader called on two Inputs of texts
    vec = _vectorizer()
    with pytest.raises(NotImplementedError, match="that Input read by it alone"):
        gn.Model(texts, layers.Add()([_head(vec(texts)), _head(_vectorizer()(texts), seed=4)]))
    other = gn.Input((1,), dtype="string")
    shared = _vectorizer()
    with pytest.raises(NotImplementedError, match="turns texts into numbers"):
        gn.Model([texts, other], layers.Add()([_head(shared(texts)), _head(shared(other), seed=4)]))
    assert numbers is not None


COLOURS, CITIES = np.array(["red", "green", "blue", "cyan"]), np.array(["paris", "oslo", "rome", "lima"])


def _table(rng, n=400):
    colour, city = COLOURS[rng.integers(0, 4, n)], CITIES[rng.integers(0, 4, n)]
    age = rng.normal(size=(n, 1))
    y = (np.isin(colour, ["red", "cyan"]) ^ (age[:, 0] > 0)).astype(np.float32)
    return colour, city, age, y


def _mixed_model(seed=0):
    """Keras' structured-data model: each column an Input, string columns through their own
    StringLookup or Hashing, numbers as they are, all concatenated."""
    lookup = layers.StringLookup(vocabulary=list(COLOURS), output_mode="one_hot")
    colour, city, age = gn.Input((1,), dtype="string", name="colour"), gn.Input((1,), dtype="string", name="city"), \
        gn.Input((1,), name="age")
    features = layers.Concatenate()([lookup(colour), layers.Hashing(8, output_mode="one_hot")(city), age])
    out = layers.Dense(1, activation="sigmoid")(layers.Dense(16, activation="relu")(features))
    return gn.Model([colour, city, age], out, seed=seed)


def test_texts_beside_other_inputs_train_predict_and_save(tmp_path, rng):
    colour, city, age, y = _table(rng)
    model = _mixed_model()
    assert model.input_shapes == [(5,), (8,), (1,)]       # packed: the numbers each reader makes
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.02), metrics=["accuracy"])
    history = model.fit({"colour": colour, "city": city, "age": age}, y, epochs=30, batch_size=32, verbose=0,
                        validation_data=([colour[:50], city[:50], age[:50]], y[:50]))
    assert history.history["accuracy"][-1] > 0.95 and history.history["val_accuracy"][-1] > 0.95
    # the same numbers as the layers after the readers, given what the readers make
    out = model.predict([colour[:6], city[:6, None], age[:6]], verbose=0)
    lookup, hashing = model.layers[0], model.layers[1]
    features = np.concatenate([lookup(colour[:6]), hashing(city[:6, None]), age[:6]], axis=1)
    hidden, last = model.layers[-2], model.layers[-1]
    expected = 1 / (1 + np.exp(-(np.maximum(features @ hidden.params["kernel"] + hidden.params["bias"], 0)
                                 @ last.params["kernel"] + last.params["bias"])))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "model.npz")
    loaded = gn.load_model(tmp_path / "model.npz")
    np.testing.assert_array_equal(loaded.predict({"colour": colour[:9], "city": city[:9], "age": age[:9]}, verbose=0),
                                  model.predict({"colour": colour[:9], "city": city[:9], "age": age[:9]}, verbose=0))
    # columns as a table's (dict(df)): (n,) for an Input((1,)), numbers too, as Keras takes them
    np.testing.assert_array_equal(model.predict({"colour": colour[:9], "city": city[:9], "age": age[:9, 0]}, verbose=0),
                                  model.predict({"colour": colour[:9], "city": city[:9], "age": age[:9]}, verbose=0))
    rebuilt = gn.model_from_json(model.to_json())
    assert rebuilt.input_shapes == model.input_shapes
    assert [spec.get("dtype") for spec in model.get_config()["inputs"]] == ["string", "string", None]
    with pytest.raises(ValueError, match=r"x\[1\]: .*expected texts of shape \(n,\) or \(n, 1\), got shape \(9, 2\)|x\[1\]: .*one value per sample"):
        model.predict([colour[:9], np.stack([city[:9]] * 2, axis=1), age[:9]], verbose=0)
    with pytest.raises(ValueError, match="hashes strings or integers"):
        model.predict([colour[:9], age[:9], age[:9]], verbose=0)        # numbers where a column of texts goes


def test_texts_of_any_length_beside_numbers():
    """A TextVectorization without output_sequence_length makes ids of each call's longest text:
    the packed rows carry the length, as for any Input of open length."""
    texts = np.array(["good movie", "bad", "a great great movie", "awful one"] * 5)
    vec = layers.TextVectorization(max_tokens=30)
    vec.adapt(texts)
    words, numbers = gn.Input((1,), dtype="string"), gn.Input((2,))
    pooled = layers.GlobalAveragePooling1D()(layers.Embedding(30, 4, mask_zero=True)(vec(words)))   # padding skipped
    model = gn.Model([words, numbers], layers.Dense(1)(layers.Concatenate()([pooled, numbers])), seed=0)
    model.compile(loss="mse", optimizer="sgd")
    model.fit([texts, np.ones((20, 2))], np.ones(20), epochs=2, verbose=0)
    assert model.input_shapes == [(None,), (2,)]
    short = model.predict([texts[:2], np.ones((2, 2))], verbose=0)       # ids of width 2 here, 4 above
    both = model.predict([texts[:4], np.ones((4, 2))], verbose=0)
    np.testing.assert_allclose(short, both[:2], rtol=1e-6)
