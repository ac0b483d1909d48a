"""Review of glassnet.utils.FeatureSpace: bugs found porting keras.io's FeatureSpace tutorial."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.utils import FeatureSpace


def test_a_cross_named_as_a_feature_is_refused():
    # the cross ("a", "b") is named "a_X_b": a feature of that name was silently replaced by the
    # cross's hashed codes (twice) in the output
    with pytest.raises(ValueError, match=r"cross \('a', 'b'\) is named 'a_X_b', as a feature"):
        FeatureSpace({"a": "integer_categorical", "b": "integer_categorical", "a_X_b": "float"},
                     crosses=[("a", "b")])


def test_renamed_preprocessors_stay_distinct_in_a_model():
    # "y" 's default layer name is taken, and so is "y_preprocessor" (the float's name="y")
    FS = FeatureSpace
    space = FS({"w": FS.float(name="y"), "c": FS.integer_categorical(), "y": FS.integer_categorical()})
    data = {"w": [0.5, 1.5, 2.5], "c": [1, 2, 3], "y": [4, 5, 4]}
    space.adapt(data)
    names = [layer.name for layer in space.preprocessors.values()]
    assert len(set(names)) == 3
    model = gn.Model(space.get_inputs(), space.get_encoded_features())
    np.testing.assert_allclose(model.predict(data, verbose=0), space(data), rtol=0, atol=0)


def test_a_text_vectorization_given_a_vocabulary_is_not_adapted():
    # Keras' FeatureSpace skips it (and the docs say given vocabularies are not adapted)
    layer = gn.layers.TextVectorization(vocabulary=["a", "b"], output_mode="multi_hot")
    space = FeatureSpace({"text": FeatureSpace.feature(dtype="string", preprocessor=layer, output_mode="float"),
                          "c": "integer_categorical"})
    space.adapt({"text": ["c d", "e f"], "c": [1, 2]})
    np.testing.assert_array_equal(space({"text": ["a b", "c"], "c": [1, 2]}),
                                  [[0, 0, 1, 0, 1, 1], [0, 1, 0, 1, 0, 0]])


def test_adapting_again_redraws_the_encoded_features():
    space = FeatureSpace({"c": "integer_categorical", "x": "float_normalized"})
    space.adapt({"c": [0, 1, 2, 3], "x": [0.0, 1.0, 2.0, 3.0]})
    space.get_encoded_features()
    space.adapt({"c": np.arange(10), "x": np.arange(10.0)})      # a larger vocabulary: wider one-hots
    data = {"c": [7, 1], "x": [0.0, 1.0]}
    model = gn.Model(space.get_inputs(), space.get_encoded_features())
    np.testing.assert_allclose(model.predict(data, verbose=0), space(data), rtol=0, atol=1e-6)


@pytest.mark.parametrize("kwargs, argument", [
    ({"crosses": [("a", "b")], "crossing_dim": 2.5}, "crossing_dim"),
    ({"crosses": [FeatureSpace.cross(("a", "b"), 8)], "hashing_dim": 0}, "hashing_dim"),
    ({"num_discretization_bins": 0}, "num_discretization_bins"),
])
def test_bad_dimensions_are_refused_by_their_own_name(kwargs, argument):
    with pytest.raises(ValueError, match=f"FeatureSpace: {argument} must be a positive integer"):
        FeatureSpace({"a": "integer_categorical", "b": "string_hashed", "x": "float_discretized"}, **kwargs)


def test_a_cross_with_a_bad_crossing_dim_names_it():
    with pytest.raises(ValueError, match="FeatureSpace.cross: crossing_dim must be a positive integer"):
        FeatureSpace.cross(("a", "b"), 0)


def test_feature_names_must_be_strings():
    with pytest.raises(ValueError, match="features' names must be strings"):
        FeatureSpace({1: "float"})
