"""Review of layers.serialize / deserialize reading Keras 3.15's dicts: a Pipeline's list of Keras
layer dicts, TextVectorization's informational vocabulary_size, a malformed build_config, and Keras
wrapper dicts nested without end (refused by name, not by Python's recursion limit)."""
import json

import numpy as np
import pytest

from glassnet import layers as L


def test_keras_pipeline_dict_is_read_with_its_layers(keras):
    # Keras' Pipeline config is {"layers": [Keras dicts], "name"}, no dtype of its own: it was
    # refused as "layer must be a layer or {'class_name': ..., 'config': {...}}"
    theirs = keras.layers.Pipeline([keras.layers.Rescaling(0.5, offset=1.0),
                                    keras.layers.Dense(3, activation="relu")])
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    want = np.asarray(theirs(x))
    ours = L.deserialize(json.loads(json.dumps(keras.layers.serialize(theirs))))
    assert isinstance(ours, L.Pipeline)
    assert [entry["class_name"] for entry in ours.get_config()["layers"]] == ["Rescaling", "Dense"]
    ours.build((4,))
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.forward(x, training=False), want, rtol=1e-6, atol=1e-6)
    # layers of two dtypes: glassnet's Pipeline has one, so it is refused by name
    mixed = keras.layers.Pipeline([keras.layers.Rescaling(0.5, dtype="float64"), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="dtype"):
        L.deserialize(keras.layers.serialize(mixed))


def test_keras_text_vectorization_dict_is_read(keras):
    # Keras writes vocabulary_size for information (its constructor discards it): it was refused
    theirs = keras.layers.TextVectorization(output_sequence_length=4, vocabulary=["the", "dog", "cat"])
    ours = L.deserialize(json.loads(json.dumps(keras.layers.serialize(theirs))))
    texts = np.array(["the cat sat", "a dog", "dog the dog"])
    np.testing.assert_array_equal(np.asarray(ours(texts)), np.asarray(theirs(texts)))


def test_a_build_config_that_is_not_a_dict_is_refused_by_name():
    with pytest.raises(ValueError, match="layers.deserialize: build_config"):     # was AttributeError
        L.deserialize({"class_name": "Dense", "config": {"units": 2}, "build_config": [None, 3]})


def test_keras_wrapper_dicts_nested_deeply_are_refused_by_name():
    entry = {"module": "keras.layers", "class_name": "Dense", "config": {"units": 2}, "registered_name": None}
    for _ in range(3000):
        entry = {"module": "keras.layers", "class_name": "TimeDistributed", "config": {"layer": entry},
                 "registered_name": None}
    with pytest.raises(ValueError, match="nested more than"):       # was RecursionError
        L.deserialize(entry)
