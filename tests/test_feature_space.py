"""FeatureSpace (glassnet.utils.FeatureSpace) against Keras 3.15's keras.utils.FeatureSpace: the
same specs built with either class, adapted on the same dict, compared value by value."""
import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet.utils import FeatureSpace


def heart_data(rng, n=150, column=False):
    """A small heart-disease-like table, the dtypes of keras.io's CSV: int64 codes and
    measurements, one float64 column, strings; (n,) columns, or (n, 1) with ``column``."""
    data = {
        "age": rng.integers(29, 78, n), "sex": rng.integers(0, 2, n), "cp": rng.integers(0, 5, n),
        "trestbps": rng.integers(94, 200, n), "chol": rng.integers(126, 564, n), "fbs": rng.integers(0, 2, n),
        "restecg": rng.integers(0, 3, n), "thalach": rng.integers(71, 202, n), "exang": rng.integers(0, 2, n),
        "oldpeak": rng.gamma(1.0, 1.0, n).round(1), "slope": rng.integers(1, 4, n), "ca": rng.integers(0, 4, n),
        "thal": rng.choice(["normal", "fixed", "reversible"], n, p=[0.5, 0.2, 0.3]),
    }
    return {k: v.reshape(-1, 1) for k, v in data.items()} if column else data


def tutorial_space(FS):
    """keras.io's "Structured data classification with FeatureSpace" feature set, with ``FS``
    either class."""
    return FS(
        features={
            "sex": FS.integer_categorical(num_oov_indices=0), "cp": FS.integer_categorical(num_oov_indices=0),
            "fbs": FS.integer_categorical(num_oov_indices=0), "restecg": FS.integer_categorical(num_oov_indices=0),
            "exang": FS.integer_categorical(num_oov_indices=0), "ca": FS.integer_categorical(num_oov_indices=0),
            "thal": FS.string_categorical(num_oov_indices=0), "age": FS.float_discretized(num_bins=30),
            "trestbps": FS.float_normalized(), "chol": FS.float_normalized(), "thalach": FS.float_normalized(),
            "oldpeak": FS.float_normalized(), "slope": FS.float_normalized(),
        },
        crosses=[FS.cross(feature_names=("sex", "age"), crossing_dim=64),
                 FS.cross(feature_names=("thal", "ca"), crossing_dim=16)],
        output_mode="concat")


def column_slices(space, without=()):
    """{name: its column index or slice in a concat output}, ``without`` those names' columns."""
    places, at = {}, 0
    for name in sorted(space.features) + sorted(space.crosses_by_name):
        if name in without:
            continue
        width = space.one_hot_encoders[name].num_tokens if name in space.one_hot_encoders else 1
        places[name] = at if width == 1 else slice(at, at + width)
        at += width
    return places


def both(spec, data, keras):
    """``spec`` built with glassnet's and Keras' class, each adapted on ``data``."""
    ours, theirs = spec(FeatureSpace), spec(keras.utils.FeatureSpace)
    ours.adapt(data)
    theirs.adapt(data)
    return ours, theirs


@pytest.mark.parametrize("column", [False, True], ids=["(n,)", "(n,1)"])
def test_tutorial_features_concat_equal_keras(rng, keras, column):
    data = heart_data(rng, column=column)
    ours, theirs = both(tutorial_space, data, keras)
    got, expected = ours(data), np.asarray(theirs(data))
    assert got.dtype == np.float32 and got.shape == expected.shape == (150, 2 + 5 + 2 + 3 + 2 + 4 + 3 + 30 + 5 + 64 + 16)
    if column:
        # Keras adapts an (n, 1) column one row at a time, and its Normalization keeps a float32
        # running mean and variance over them: about 1e-6 off. glassnet's moments are float64's,
        # which the exact values confirm; every other column equals Keras' exactly
        normalized = [k for k, layer in ours.preprocessors.items() if isinstance(layer, gn.layers.Normalization)]
        places = column_slices(ours)
        for key in normalized:
            x = data[key].astype(np.float64)
            exact = ((x - x.mean()) / x.std()).ravel()
            ours_error = np.abs(got[:, places[key]] - exact).max()
            assert ours_error < 1e-6 and ours_error <= np.abs(expected[:, places[key]] - exact).max(), key
            np.testing.assert_allclose(got[:, places[key]], expected[:, places[key]], rtol=0, atol=1e-5)
            got, expected = np.delete(got, places[key], 1), np.delete(expected, places[key], 1)
            places = column_slices(ours, without=normalized[:normalized.index(key) + 1])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    # the Discretization's boundaries (quantiles of the batches adapt saw) are Keras'
    np.testing.assert_allclose(ours.preprocessors["age"].bin_boundaries, theirs.preprocessors["age"].bin_boundaries)
    # new rows, and one sample as scalars (the batch axis dropped, as Keras drops it)
    fresh = heart_data(np.random.default_rng(7), n=20, column=column)
    atol = 1e-5 if column else 1e-6         # (Keras' float32 running moments, above)
    np.testing.assert_allclose(ours(fresh), np.asarray(theirs(fresh)), rtol=0, atol=atol)
    one = {k: v.ravel()[3] for k, v in fresh.items()}
    assert ours(one).shape == ours(fresh).shape[1:]
    np.testing.assert_allclose(ours(one), np.asarray(theirs(one)), rtol=0, atol=atol)


def every_type(FS):
    """Each feature type by name (FeatureSpace's defaults) and with settings, crosses by tuple."""
    return FS({"age": "float_discretized", "trestbps": "float", "chol": "float_rescaled", "thalach": "float_normalized",
               "cp": "integer_categorical", "thal": "string_categorical", "ca": "integer_hashed",
               "restecg": FS.integer_hashed(5), "slope": FS.float_rescaled(scale=0.5, offset=-1.0),
               "oldpeak": FS.float_discretized(num_bins=4), "fbs": FS.integer_categorical(max_tokens=2),
               "exang": FS.integer_categorical(num_oov_indices=2), "sex": FS.string_categorical(max_tokens=3)},
              crosses=[("cp", "thal"), ("fbs", "exang")], crossing_dim=8, hashing_dim=12,
              num_discretization_bins=6)


def test_every_feature_type_and_unseen_values_equal_keras(rng, keras):
    data = heart_data(rng)
    data["sex"] = np.where(data["sex"] == 1, "m", "f")      # a string feature of two values
    ours, theirs = both(every_type, data, keras)
    np.testing.assert_allclose(ours(data), np.asarray(theirs(data)), rtol=0, atol=1e-6)
    # values never seen by adapt: OOV indices, hashed bins, buckets past the ends
    unseen = {k: v[:10].copy() for k, v in data.items()}
    unseen.update(cp=np.arange(10) + 50, thal=np.array(["x%d" % i for i in range(10)]), ca=np.arange(10) * 1000,
                  age=np.linspace(-100, 500, 10).astype(int), exang=np.arange(10) - 5, sex=np.array(["?"] * 10))
    np.testing.assert_allclose(ours(unseen), np.asarray(theirs(unseen)), rtol=0, atol=1e-6)
    assert ours(data).shape[1] == 6 + 1 + 1 + 1 + 6 + 4 + 12 + 5 + 1 + 4 + 2 + 4 + 3 + 8 + 8


def dict_space(FS):
    return FS({"thal": FS.string_categorical(output_mode="int"), "ca": FS.integer_categorical(output_mode="int"),
               "age": FS.float_discretized(num_bins=5, output_mode="int"), "chol": "float_normalized",
               "cp": "integer_categorical", "restecg": FS.integer_hashed(7)},
              crosses=[FS.cross(("thal", "ca"), crossing_dim=32, output_mode="int"), FS.cross(("age", "cp"), 10)],
              output_mode="dict")


def test_dict_mode_equals_keras(rng, keras):
    data = heart_data(rng, n=60)
    ours, theirs = both(dict_space, data, keras)
    # Keras' call wants the features' keys only (glassnet ignores others): a KeyError otherwise
    data = {k: data[k] for k in ours.features}
    got, expected = ours(data), {k: np.asarray(v) for k, v in theirs(data).items()}
    assert sorted(got) == sorted(expected) == sorted(["thal", "ca", "age", "chol", "cp", "restecg", "thal_X_ca",
                                                      "age_X_cp"])
    for key in expected:
        assert got[key].shape == expected[key].shape, key
        # integer codes stay integers, encodings are float32, as Keras'
        assert got[key].dtype.kind == expected[key].dtype.kind, key
        np.testing.assert_allclose(got[key], expected[key], rtol=0, atol=1e-6, err_msg=key)
    one = {k: v[5] for k, v in data.items()}
    for key, value in theirs(one).items():
        np.testing.assert_allclose(ours(one)[key], np.asarray(value), rtol=0, atol=1e-6, err_msg=key)


def test_string_hashed_equals_keras(rng, keras):
    words = rng.choice(["apple", "pear", "plum", "fig", "kiwi", "date"], 50)
    data = {"fruit": words, "n": rng.integers(0, 100, 50)}

    def spec(FS):
        return FS({"fruit": "string_hashed", "n": FS.integer_hashed(9)}, crosses=[("fruit", "n")], hashing_dim=16)
    ours, theirs = both(spec, data, keras)
    np.testing.assert_allclose(ours(data), np.asarray(theirs(data)), rtol=0, atol=0)


def test_a_custom_feature_with_text_vectorization_equals_keras(keras):
    # Keras' docstring example: FeatureSpace.feature with a TextVectorization of its own
    data = {"text": ["1st string", "2nd string", "3rd string", "2nd one"]}

    def spec(FS, layers):
        layer = layers.TextVectorization(output_mode="tf_idf")
        return FS({"text": FS.feature(preprocessor=layer, dtype="string", output_mode="float")})
    ours, theirs = spec(FeatureSpace, gn.layers), spec(keras.utils.FeatureSpace, keras.layers)
    ours.adapt(data)
    theirs.adapt(data)
    np.testing.assert_allclose(ours(data), np.asarray(theirs(data)), rtol=0, atol=1e-6)
    # one feature: the encoded tensor is its own (no Concatenate of one)
    model = gn.Model(ours.get_inputs(), ours.get_encoded_features())
    np.testing.assert_allclose(model.predict(data, verbose=0), ours(data), rtol=0, atol=1e-6)


def test_encoded_features_draw_a_model_that_matches_the_call_and_trains(rng, tmp_path):
    data = heart_data(rng, n=200)
    space = tutorial_space(FeatureSpace)
    space.adapt(data)
    inputs, encoded = space.get_inputs(), space.get_encoded_features()
    assert encoded.shape == (None, space(data).shape[1]) and space.get_encoded_features() is encoded
    assert inputs["thal"].dtype == "string" and inputs["sex"].dtype == "int32" and inputs["chol"].dtype == "float32"
    # the graph's layers are the call's: the same values from the raw dict
    np.testing.assert_allclose(gn.Model(inputs, encoded).predict(data, verbose=0), space(data), rtol=0, atol=1e-6)
    # a target that needs the encodings: sex crossed with age, and thal
    y = ((data["sex"] == 1) ^ (data["age"] > 55) | (data["thal"] == "fixed")).astype("float32")
    hidden = gn.layers.Dense(16, activation="relu")(encoded)
    model = gn.Model(inputs, gn.layers.Dense(1, activation="sigmoid")(hidden), seed=0)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.01), metrics=["accuracy"])
    history = model.fit(data, y, epochs=40, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.9
    # the model file keeps the adapted layers: raw dicts in, the same predictions out
    model.save(tmp_path / "heart.npz")
    np.testing.assert_allclose(gn.load_model(tmp_path / "heart.npz").predict(data, verbose=0),
                               model.predict(data, verbose=0), rtol=0, atol=1e-6)


def test_a_model_trained_on_encoded_arrays_serves_raw_dicts(rng):
    # Keras' tutorial trains on Model(encoded_features, ...); glassnet: an Input of the width,
    # then the trained model called on the encoded features
    data = heart_data(rng, n=100)
    space = tutorial_space(FeatureSpace)
    space.adapt(data)
    x = space(data)
    features = gn.Input((x.shape[1],))
    trained = gn.Model(features, gn.layers.Dense(1, activation="sigmoid")(gn.layers.Dense(8)(features)), seed=1)
    trained.compile(loss="binary_crossentropy", optimizer="adam")
    trained.fit(x, (data["sex"] == 1).astype("float32"), epochs=2, verbose=0)
    serving = gn.Model(space.get_inputs(), trained(space.get_encoded_features()))
    np.testing.assert_allclose(serving.predict(data, verbose=0), trained.predict(x, verbose=0), rtol=0, atol=1e-6)


def test_dict_mode_encoded_features_are_a_dict_of_tensors(rng):
    data = heart_data(rng, n=40)
    space = dict_space(FeatureSpace)
    space.adapt(data)
    encoded = space.get_encoded_features()
    assert {k: t.shape for k, t in encoded.items()} == {k: (None, *v.shape[1:]) for k, v in space(data).items()}
    model = gn.Model(space.get_inputs(), encoded)
    for key, value in model.predict(data, verbose=0).items():
        np.testing.assert_allclose(value, space(data)[key], rtol=0, atol=1e-6, err_msg=key)


def test_save_load_and_config(rng, tmp_path):
    data = heart_data(rng, n=80)
    space = tutorial_space(FeatureSpace)
    space.adapt(data)
    path = tmp_path / "space.npz"
    space.save(path)
    np.load(path, allow_pickle=False).files         # plain arrays only
    loaded = FeatureSpace.load(path)
    np.testing.assert_allclose(loaded(data), space(data), rtol=0, atol=0)
    assert loaded.get_config() == space.get_config()
    # from_config: the settings, vocabularies and boundaries; the Normalization's statistics are weights
    again = FeatureSpace.from_config(space.get_config())
    with pytest.raises(ValueError, match="call adapt"):
        again(data)
    again.adapt(data)
    np.testing.assert_allclose(again(data), space(data), rtol=0, atol=1e-6)
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(ValueError, match="not a file FeatureSpace.save wrote"):
        FeatureSpace.load(tmp_path / "other.npz")


def test_nothing_to_adapt_needs_no_adapt():
    space = FeatureSpace({"x": "float", "s": "string_hashed", "r": FeatureSpace.float_rescaled(2.0, 1.0)})
    out = space({"x": [1.5, 2.0], "s": ["a", "b"], "r": [0.0, 1.0]})
    assert out.shape == (2, 34) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, 0], [1.0, 3.0])      # "r" sorts first: 2 r + 1
    np.testing.assert_array_equal(out[:, -1], [1.5, 2.0])     # "x" last


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match=r"features\['a'\]: invalid feature type 'floaty'"):
        FeatureSpace({"a": "floaty"})
    with pytest.raises(ValueError, match="output_mode must be one of"):
        FeatureSpace({"a": "float"}, output_mode="list")
    with pytest.raises(ValueError, match="features must be a non-empty dict"):
        FeatureSpace({})
    with pytest.raises(ValueError, match="names 'b', which is not in features"):
        FeatureSpace({"a": "integer_categorical"}, crosses=[("a", "b")])
    with pytest.raises(ValueError, match="cannot concatenate 'a'"):
        FeatureSpace({"a": FeatureSpace.integer_categorical(output_mode="int")})
    with pytest.raises(ValueError, match="FeatureSpace.cross: output_mode"):
        FeatureSpace.cross(("a", "b"), 8, output_mode="float")
    space = FeatureSpace({"a": "float_normalized", "s": "string_categorical"})
    with pytest.raises(ValueError, match="call adapt"):
        space({"a": [1.0], "s": ["x"]})
    with pytest.raises(ValueError, match="call adapt"):
        space.get_encoded_features()
    with pytest.raises(ValueError, match="adapt: data has no feature 's'"):
        space.adapt({"a": [1.0, 2.0]})
    with pytest.raises(TypeError, match="must be a dict of arrays"):
        space.adapt([[1.0, 2.0]])
    space.adapt({"a": [1.0, 2.0], "s": ["x", "y"]})
    with pytest.raises(ValueError, match="data has no feature 's'"):
        space({"a": [1.0]})
    with pytest.raises(TypeError, match="data must be a dict"):
        space([1.0])
    with pytest.raises(ValueError, match=r"data\['a'\] must hold one value per sample"):
        space({"a": np.zeros((2, 3)), "s": ["x", "y"]})
    with pytest.raises(ValueError, match="one number of samples"):
        space({"a": [1.0, 2.0], "s": ["x"]})
    with pytest.raises(TypeError, match="feature 's'"):
        space({"a": [1.0], "s": [3]})


def test_tf_data_datasets_adapt_as_keras(rng, keras):
    tf = pytest.importorskip("tensorflow")
    data = heart_data(rng, n=70)
    batched = tf.data.Dataset.from_tensor_slices((data, data["sex"])).batch(16)     # (x, y) pairs: the x
    ours, theirs = tutorial_space(FeatureSpace), tutorial_space(keras.utils.FeatureSpace)
    ours.adapt(batched)
    theirs.adapt(batched.map(lambda x, y: x))
    np.testing.assert_allclose(ours(data), np.asarray(theirs(data)), rtol=0, atol=1e-6)
    # unbatched rows are read 32 at a time, as a dict's (n,) columns
    from_rows, from_dict = tutorial_space(FeatureSpace), tutorial_space(FeatureSpace)
    from_rows.adapt(tf.data.Dataset.from_tensor_slices(data))
    from_dict.adapt(data)
    np.testing.assert_allclose(from_rows(data), from_dict(data), rtol=0, atol=0)


def test_import_glassnet_does_not_import_feature_space():
    code = "import sys, glassnet; assert 'glassnet.feature_space' not in sys.modules; glassnet.utils.FeatureSpace"
    subprocess.run([sys.executable, "-c", code], check=True)
