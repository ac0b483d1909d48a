"""Texts in a functional Model: an Input of texts (dtype="string") read by a TextVectorization,
Keras' end-to-end models (its text-classification tutorial wraps a model trained on ids into one
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
    assert functional.input_shape == (5,)                              # the ids it makes


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
    vec = _vectorizer()
    with pytest.raises(NotImplementedError, match="must be the model's only one"):
        gn.Model([texts, numbers], layers.Concatenate()([_head(vec(texts)), layers.Dense(1)(numbers)]))
    ids = gn.Input((5,))
    with pytest.raises(NotImplementedError, match="first call on its one Input of texts"):
        gn.Model(ids, _head(_vectorizer()(ids)))
