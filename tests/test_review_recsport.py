"""Keras' examples ported to glassnet (keras.io: collaborative filtering for movie recommendations,
structured data classification from scratch): what the ports met.

- The structured-data example (its current, backend-agnostic version) one-hot encodes its
  categories with ``StringLookup``/``IntegerLookup(..., output_mode="binary")``: Keras 3 still takes
  its older mode names ``"binary"`` (``"multi_hot"``) and ``"tf-idf"`` (``"tf_idf"``) in the
  lookups, ``CategoryEncoding`` ("binary") and ``TextVectorization``; glassnet refused them.
- A model whose Input of strings a lookup reads (the example's ``thal``) refused Keras'
  ``model.build`` of its Inputs' shapes, and ``plot_model(show_shapes=True)`` drew that Input as
  ``(None, 3)``, the width of the lookup's one-hot vectors (what the packed rows hold,
  ``input_shapes``), not the ``(None, 1)`` it was declared with.
- Its ``Classifier`` is a Keras ``Layer`` whose ``call`` reads a dict of tensors; glassnet's layer
  called on a dict said "expected input of shape (batch, ...), got shape ()", naming neither the
  dict nor the way to write it (a subclass of ``glassnet.Model``).
"""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers


@pytest.mark.parametrize("make", [
    lambda mode: L.StringLookup(vocabulary=["fixed", "normal", "reversible"], mask_token=None, num_oov_indices=0,
                                output_mode=mode),
    lambda mode: L.IntegerLookup(vocabulary=[0, 1, 2, 3], output_mode=mode),
    lambda mode: L.CategoryEncoding(5, output_mode=mode),
    lambda mode: L.TextVectorization(vocabulary=["a", "b"], output_mode=mode),
], ids=["StringLookup", "IntegerLookup", "CategoryEncoding", "TextVectorization"])
def test_keras_older_binary_mode_is_multi_hot(make):
    layer, reference = make("binary"), make("multi_hot")
    data = {"StringLookup": np.array([["fixed"], ["reversible"]]), "TextVectorization": np.array(["b z", "a"])}
    x = data.get(type(layer).__name__, np.array([[1, 3], [2, 2]]))
    np.testing.assert_array_equal(np.asarray(layer(x)), np.asarray(reference(x)))
    assert layer.output_mode == "multi_hot" and layer.get_config()["output_mode"] == "multi_hot"


@pytest.mark.parametrize("make", [
    lambda mode: L.IntegerLookup(vocabulary=[0, 1, 2], idf_weights=[1.0, 2.0, 3.0], output_mode=mode),
    lambda mode: L.TextVectorization(vocabulary=["a", "b"], idf_weights=[2.0, 3.0], output_mode=mode),
], ids=["IntegerLookup", "TextVectorization"])
def test_keras_older_tf_idf_mode_name_is_tf_idf(make):
    layer, reference = make("tf-idf"), make("tf_idf")
    x = np.array(["b a b", "z"]) if isinstance(layer, L.TextVectorization) else np.array([[1, 1], [2, 7]])
    np.testing.assert_array_equal(np.asarray(layer(x)), np.asarray(reference(x)))
    assert layer.get_config()["output_mode"] == "tf_idf"


def test_category_encoding_still_refuses_a_mode_keras_refuses():
    with pytest.raises(ValueError, match="CategoryEncoding: output_mode"):
        L.CategoryEncoding(4, output_mode="tf-idf")


def test_the_structured_data_examples_binary_lookups_match_keras(keras):
    vocabulary = ["1", "2", "fixed", "normal", "reversible"]
    values = np.array(["normal", "fixed", "2", "reversible", "normal"])
    theirs = keras.layers.StringLookup(vocabulary=vocabulary, mask_token=None, num_oov_indices=0,
                                       output_mode="binary")
    ours = L.StringLookup(vocabulary=vocabulary, mask_token=None, num_oov_indices=0, output_mode="binary")
    np.testing.assert_array_equal(np.asarray(ours(values[:, None])), np.asarray(theirs(values[:, None])))
    assert ours.get_config()["output_mode"] == theirs.get_config()["output_mode"] == "multi_hot"


def test_a_layer_called_on_a_dict_of_tensors_says_so_and_how_to_write_it():
    a, b = gn.Input((2,), name="a"), gn.Input((3,), name="b")
    with pytest.raises(TypeError, match=r"layer Dense: takes one input, got a dict of 2 \(\['a', 'b'\]\).*"
                                        r"subclass of glassnet\.Model"):
        L.Dense(4)({"a": a, "b": b})


def test_a_layer_called_on_a_dict_of_arrays_says_so():
    with pytest.raises(TypeError, match=r"takes one input, got a dict of 1 \(\['x'\]\)"):
        L.Dense(4)({"x": np.ones((2, 3))})


def test_the_classifier_block_reading_a_dict_as_a_model_subclass_trains():
    # the example's Classifier written as glassnet says: a Model subclass whose call takes the dict
    class Classifier(gn.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense_1, self.dense_2 = L.Dense(8, activation="relu"), L.Dense(1, activation="sigmoid")

        def call(self, inputs):
            return self.dense_2(self.dense_1(L.concatenate(list(inputs.values()))))

    inputs = {"age": gn.Input((1,), name="age"), "thal": gn.Input((3,), name="thal")}
    model = gn.Model(inputs, Classifier()(inputs), seed=0)
    model.compile(loss="binary_crossentropy", optimizer="adam")
    x = {"age": np.arange(4.0)[:, None], "thal": np.eye(3)[[0, 1, 2, 0]]}
    model.fit(x, np.array([0.0, 1.0, 1.0, 0.0]), epochs=1, verbose=0)
    assert model.predict({"age": [[60.0]], "thal": [[0, 1, 0]]}, verbose=0).shape == (1, 1)


def _table_model():
    """The structured-data example in small: a number, a string and an integer category, the
    categories one-hot encoded by lookups inside the model."""
    inputs = {"age": gn.Input((1,), name="age"), "thal": gn.Input((1,), name="thal", dtype="string"),
              "ca": gn.Input((1,), name="ca", dtype="int64")}
    norm = L.Normalization()
    norm.adapt(np.array([[40.0], [50.0], [70.0]]))
    thal = L.StringLookup(output_mode="one_hot")
    thal.adapt(np.array(["fixed", "normal", "normal"]))
    ca = L.IntegerLookup(output_mode="one_hot")
    ca.adapt(np.array([0, 1, 1, 3]))
    features = L.concatenate([norm(inputs["age"]), thal(inputs["thal"]), ca(inputs["ca"])])
    return gn.Model(inputs, L.Dense(1, activation="sigmoid")(features), seed=0)


def test_a_string_input_is_drawn_and_built_with_its_own_shape_not_its_lookups_width():
    # the lookup makes 3 numbers of each string (the packed rows, input_shapes, hold those): Keras'
    # build(input_shape) and plot_model's Input box take the Input as declared, (None, 1)
    model = _table_model()
    assert model.input_shapes == [(1,), (1,), (3,)]
    model.build([(None, 1), (None, 1), (None, 1)])
    dot = gn.utils.model_to_dot(model, show_shapes=True)
    assert "<b>thal</b> (InputLayer)</font></td></tr><tr><td bgcolor=\"white\"><font point-size=\"14\">" \
           "Output shape: <b>(None, 1)</b>" in dot


def test_the_table_model_predicts_one_raw_sample_and_reloads(tmp_path):
    model = _table_model()
    sample = {"age": [60.0], "thal": ["fixed"], "ca": [0]}
    path = str(tmp_path / "table.npz")
    model.save(path)
    again = gn.load_model(path)
    again.build([(None, 1), (None, 1), (None, 1)])
    np.testing.assert_array_equal(again.predict(sample, verbose=0), model.predict(sample, verbose=0))
