"""StringLookup: vocabularies, indices and vectors as Keras 3.15's (adapt, given vocabularies,
masks, every output mode, invert), a model reading raw strings (Sequential and functional), model
files, Keras configs, and the refusals. The layer contract is in test_layer_contract.py."""
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Dense, Embedding, Flatten, Input, StringLookup


SETTINGS = [dict(), dict(max_tokens=4), dict(num_oov_indices=0, max_tokens=6), dict(mask_token=""),
            dict(num_oov_indices=3), dict(num_oov_indices=2, mask_token="", output_mode="count"),
            dict(mask_token="", oov_token="?"), dict(output_mode="one_hot"),
            dict(output_mode="multi_hot", mask_token=""), dict(output_mode="count"), dict(output_mode="tf_idf"),
            dict(output_mode="multi_hot", max_tokens=10, pad_to_max_tokens=True),
            dict(output_mode="tf_idf", max_tokens=9, pad_to_max_tokens=True, mask_token="")]
WORDS = ["", "red", "green", "green", "blue", "blue", "blue", "cyan", "Ünïcode", "Ünïcode", "b", "zz", "a"]


def _data(rng):
    train = rng.choice(WORDS, size=(40, 3))
    test = rng.choice(WORDS[1:] + ["purple", "RED", ""], size=(12, 3))
    return train, test


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
def test_adapt_and_outputs_match_keras(settings, rng, keras):
    train, test = _data(rng)
    ours, theirs = StringLookup(**settings), keras.layers.StringLookup(**settings)
    ours.adapt(train)
    theirs.adapt(train)
    assert ours.get_vocabulary() == [str(v) for v in theirs.get_vocabulary()]     # ties: the token, highest first
    assert ours.vocabulary_size() == theirs.vocabulary_size()
    if settings.get("num_oov_indices") == 0:
        test = test[np.isin(test, ours.get_vocabulary()).all(axis=1)]
    x = test[:, 0] if settings.get("output_mode") == "one_hot" else test
    expected = np.asarray(theirs(x))
    out = ours(x)
    assert out.shape == expected.shape and out.dtype == expected.dtype       # Keras' dtypes, on its own
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    # bytes are UTF-8 strings, as Keras reads them
    np.testing.assert_array_equal(ours(np.vectorize(lambda s: s.encode("utf-8"), otypes=[object])(x)), out)


@pytest.mark.parametrize("settings", [dict(), dict(mask_token=""), dict(output_mode="count"),
                                      dict(output_mode="tf_idf", idf_weights=[0.5, 1.0, 1.5, 2.0])], ids=str)
def test_a_given_vocabulary_matches_keras(settings, rng, keras):
    vocabulary = ["b", "a", "zz", "Ünïcode"]
    ours = StringLookup(vocabulary=vocabulary, **settings)
    theirs = keras.layers.StringLookup(vocabulary=vocabulary, **settings)
    assert ours.get_vocabulary() == [str(v) for v in theirs.get_vocabulary()]
    x = rng.choice(["a", "b", "zz", "Ünïcode", "q", ""], size=(10, 4))
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-6)


@pytest.mark.parametrize("mask_token", [None, ""])
def test_invert_matches_keras(mask_token, keras):
    ours = StringLookup(vocabulary=["x", "y", "z"], invert=True, mask_token=mask_token)
    theirs = keras.layers.StringLookup(vocabulary=["x", "y", "z"], invert=True, mask_token=mask_token)
    indices = np.array([[0, 1, 2], [3, 4, 7]])
    expected = np.vectorize(lambda b: b.decode("utf-8"))(np.asarray(theirs(indices)))
    out = ours(indices)
    assert out.dtype.kind == "U"
    np.testing.assert_array_equal(out, expected)
    assert ours(indices.astype(np.float32)).tolist() == out.tolist()      # a model's predicted classes
    with pytest.raises(ValueError, match="expected integer values"):
        ours(np.array([0.5]))


def test_a_model_reads_raw_strings_trains_and_saves(tmp_path, rng):
    colours = np.array(["red", "green", "blue", "cyan"])
    x = colours[rng.integers(0, 4, 400)]
    y = np.isin(x, ["red", "cyan"]).astype(np.float32)
    lookup = StringLookup()
    lookup.adapt(x)
    model = gn.Sequential([Input((1,), dtype="string"), lookup, Embedding(lookup.vocabulary_size(), 4), Flatten(),
                           Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(x, y, epochs=30, verbose=0, validation_data=(x[:50], y[:50]))
    assert history.history["accuracy"][-1] == 1.0
    assert model.input_shape == (None, 1) and model.layers[0].output_shape((1,)) == (1,)
    # a string never seen goes to the OOV index: a prediction, not an error
    predicted = model.predict(np.array([["red"], ["blue"], ["purple"]]), verbose=0).ravel()
    assert predicted[0] > 0.5 > predicted[1] and 0 < predicted[2] < 1
    model.save(tmp_path / "model.npz")
    loaded = gn.load_model(tmp_path / "model.npz")
    assert loaded.layers[0].get_vocabulary() == lookup.get_vocabulary()
    np.testing.assert_array_equal(loaded.predict(x[:20], verbose=0), model.predict(x[:20], verbose=0))
    assert gn.model_from_json(model.to_json()).layers[0].get_config() == lookup.get_config()


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count", "tf_idf"])
def test_vectors_in_a_sequential_and_a_functional_model(mode, rng):
    colours = ["red", "green", "blue", "cyan"]
    x = np.array(colours)[rng.integers(0, 4, 200)]
    y = np.isin(x, ["red", "cyan"]).astype(np.float32)
    settings = dict(vocabulary=colours, output_mode=mode, **({"idf_weights": [1.0, 0.5, 2.0, 1.5]} if mode == "tf_idf" else {}))
    model = gn.Sequential([StringLookup(**settings), Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.05), metrics=["accuracy"])
    model.fit(x, y, epochs=40, verbose=0)
    assert model.input_shape == (None, 1) and model.evaluate(x, y, verbose=0)[1] == 1.0
    inputs = gn.Input((1,), dtype="string")
    functional = gn.Model(inputs, Dense(1, activation="sigmoid")(StringLookup(**settings)(inputs)), seed=0)
    functional.set_weights(model.get_weights())
    np.testing.assert_allclose(functional.predict(x[:, None], verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_the_vectors_go_through_the_layers_that_follow(rng):
    """trace and the contract's forward: the layer hands on what it made, in the model's dtype."""
    model = gn.Sequential([StringLookup(vocabulary=["a", "b"], output_mode="count"), Dense(2)], seed=0, dtype="float64")
    out = model.predict(np.array(["a", "b", "c"]), verbose=0)
    lookup, dense = model.layers
    np.testing.assert_allclose(out, lookup(np.array([["a"], ["b"], ["c"]])) @ dense.params["kernel"] + dense.params["bias"])
    np.testing.assert_array_equal(lookup(np.array(["a", "b", "c", "a"])), [1, 2, 1])     # 1-D: one sample (Keras)
    assert lookup.forward(np.array(["b"])).dtype == np.float64


def test_keras_config_loads(keras):
    theirs = keras.layers.StringLookup(vocabulary=["x", "y"], mask_token="", output_mode="multi_hot")
    config = {k: v for k, v in json.loads(json.dumps(theirs.get_config())).items() if k != "dtype"}
    ours = StringLookup.from_config(config)
    x = np.array([["x", ""], ["q", "y"]])
    np.testing.assert_array_equal(ours(x), np.asarray(theirs(x)))


@pytest.mark.parametrize("make,error,message", [
    (lambda: StringLookup(num_oov_indices=-1), ValueError, "StringLookup: num_oov_indices must be an integer >= 0, got -1"),
    (lambda: StringLookup(sparse=True), ValueError, r"StringLookup: sparse=True is not supported \(only False\)"),
    (lambda: StringLookup(encoding="latin-1"), ValueError, r"StringLookup: encoding='latin-1' is not supported"),
    (lambda: StringLookup(vocabulary=["a", 3]), TypeError, "StringLookup: vocabulary's values must be a string, got int 3"),
    (lambda: StringLookup(vocabulary=["a", "a"]), ValueError, r"StringLookup: vocabulary repeats \['a'\]"),
    (lambda: StringLookup(mask_token=0), TypeError, "StringLookup: mask_token must be a string, got int 0"),
    (lambda: StringLookup(output_mode="onehot"), ValueError, "StringLookup: output_mode must be one of"),
    (lambda: StringLookup(invert=True, output_mode="count"), ValueError, "StringLookup: invert=True gives values back"),
    (lambda: StringLookup(vocabulary=[b"\xff"]), ValueError, "must be UTF-8"),
])
def test_bad_settings_are_refused_by_name(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_bad_inputs_are_refused_by_name():
    layer = StringLookup(vocabulary=["a", "b"])
    with pytest.raises(TypeError, match=r"StringLookup.*: expected strings .*got int 3 at flat index 1"):
        layer(np.array(["a", 3], dtype=object))
    with pytest.raises(ValueError, match="has no vocabulary yet; call adapt"):
        StringLookup()(np.array(["a"]))
    # numbers (integer codes by mistake) would pass "int" mode's shape check and come back unchanged
    with pytest.raises(TypeError, match="expected strings .str or bytes., got numbers .*IntegerLookup"):
        layer(np.array([[1], [2]]))
    with pytest.raises(TypeError, match="adapt: expected strings or an iterable of batches"):
        StringLookup().adapt(5)
    with pytest.raises(ValueError, match="vocabulary holds the mask_token '' after its start"):
        StringLookup(vocabulary=["a", ""], mask_token="")
    with pytest.raises(ValueError, match="num_oov_indices=0 takes values of its vocabulary only, got .'c'."):
        StringLookup(vocabulary=["a"], num_oov_indices=0)(np.array(["a", "c"]))
    model = gn.Sequential([StringLookup(vocabulary=["a", "b"]), Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match=r"x: expected texts of shape \(n,\) or \(n, 1\), got shape \(2, 2\)"):
        model.predict(np.array([["a", "b"], ["b", "a"]]), verbose=0)
    with pytest.raises(ValueError, match="invert=True gives strings, which no layer after it reads"):
        gn.Sequential([StringLookup(vocabulary=["a"], invert=True), Dense(1)]).predict(np.zeros((2, 1)), verbose=0)
    with pytest.raises(ValueError, match="must be the model's first layer"):
        gn.Sequential([Dense(1, input_dim=1), StringLookup(vocabulary=["a"])])


def test_trailing_nul_characters_are_kept_in_adapt_and_lookup(keras):
    ours, theirs = StringLookup(), keras.layers.StringLookup()
    ours.adapt(["a\x00", "a\x00", "b"])
    theirs.adapt(["a\x00", "a\x00", "b"])
    np.testing.assert_array_equal(ours(["a\x00", "a"]), np.asarray(theirs(["a\x00", "a"])))


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
def test_one_string_matches_keras(mode, keras):
    ours = StringLookup(vocabulary=["a", "b"], output_mode=mode)("a")
    theirs = np.asarray(keras.layers.StringLookup(vocabulary=["a", "b"], output_mode=mode)("a"))
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("settings", [dict(), dict(num_oov_indices=2, mask_token=""), dict(invert=True),
                                      dict(output_mode="multi_hot")])
def test_a_vocabulary_file_reads_as_keras(settings, tmp_path, keras):
    """One string a line, UTF-8, "\\r\\n" and a last line without "\\n" read as TensorFlow reads them."""
    path = tmp_path / "colours.txt"
    path.write_bytes("red\r\nÜnïcode\ngreen blue\nzz".encode("utf-8"))
    ours, theirs = StringLookup(vocabulary=str(path), **settings), keras.layers.StringLookup(vocabulary=str(path), **settings)
    assert ours.get_vocabulary() == [str(t) for t in theirs.get_vocabulary()]
    x = np.array([0, 1, 2, 3, 4, 5]) if settings.get("invert") else np.array(["red", "zz", "", "green blue", "Ünïcode", "red\r"])
    expected = np.asarray(theirs(x))
    got = ours(x)
    if settings.get("invert"):          # TensorFlow's strings come back as UTF-8 bytes
        expected = np.array([t.decode("utf-8") for t in expected.ravel()])
    assert got.tolist() == expected.tolist()
    assert StringLookup(vocabulary=path, **settings).get_vocabulary() == ours.get_vocabulary()     # a Path too


def test_a_config_naming_a_vocabulary_file_is_refused(tmp_path, monkeypatch):
    """A model file or JSON must not make glassnet read a file: get_config writes the vocabulary's
    entries, and a config holding a path instead is refused, for the three layers that read one."""
    from glassnet.layers import IntegerLookup, TextVectorization
    # a path relative to the working folder, so that the message's cut of long values (80
    # characters) never depends on how long the machine's temporary folder's name is
    monkeypatch.chdir(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("password\n12\n")
    secret = secret.relative_to(tmp_path)
    for layer in (StringLookup(vocabulary=["a"]), IntegerLookup(vocabulary=[3]),
                  TextVectorization(vocabulary=["a"])):
        config = layer.get_config()
        assert isinstance(config["vocabulary"], list)
        config["vocabulary"] = str(secret)
        with pytest.raises(ValueError, match=rf"{type(layer).__name__}.from_config: the vocabulary must be the list "
                                             rf"of its entries, got str .*secret.txt'; a config never names a file"):
            type(layer).from_config(config)
    model = gn.Sequential([Input((1,), dtype="string"), StringLookup(vocabulary=["a", "b"]), Dense(1)])
    spec = json.loads(model.to_json())
    spec["config"]["layers"][0]["config"]["vocabulary"] = str(secret)
    with pytest.raises(ValueError, match="a config never names a file"):
        gn.model_from_json(json.dumps(spec))
