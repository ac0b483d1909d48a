"""IntegerLookup: vocabularies, indices and vectors as Keras 3.15's (adapt, given vocabularies,
masks, several OOV indices, every output mode, invert), a model reading raw integer codes, model
files, and the refusals. The layer contract is in test_layer_contract.py."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import IntegerLookup


SETTINGS = [dict(), dict(max_tokens=4), dict(num_oov_indices=3), dict(num_oov_indices=0, max_tokens=6),
            dict(mask_token=0), dict(mask_token=0, num_oov_indices=2, oov_token=-7),
            dict(output_mode="one_hot"), dict(output_mode="multi_hot", mask_token=0),
            dict(output_mode="count", num_oov_indices=2), dict(output_mode="tf_idf"),
            dict(output_mode="multi_hot", max_tokens=10, pad_to_max_tokens=True),
            dict(output_mode="tf_idf", max_tokens=9, pad_to_max_tokens=True, mask_token=0)]


def _data(rng):
    train = rng.choice([0, 3, 5, 5, 8, 8, 8, 13, 21, 21, 34, 1000, -1], size=(40, 3))
    test = rng.choice([0, 3, 5, 8, 13, 21, 34, 55, 1000, 99], size=(12, 3))
    return train, test


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
def test_adapt_and_outputs_match_keras(settings, rng, keras):
    train, test = _data(rng)
    ours, theirs = IntegerLookup(**settings), keras.layers.IntegerLookup(**settings)
    ours.adapt(train)
    theirs.adapt(train)
    assert ours.get_vocabulary() == [int(v) for v in theirs.get_vocabulary()]
    assert ours.vocabulary_size() == theirs.vocabulary_size()
    if settings.get("num_oov_indices") == 0:
        test = test[np.isin(test, ours.get_vocabulary()).all(axis=1)]
    x = test[:, :1] if settings.get("output_mode") == "one_hot" else test
    expected = np.asarray(theirs(x))
    out = ours(x)           # called alone: Keras' dtypes (int64; float32 for tf_idf)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    # in a model the same numbers travel as the model's float32
    model = gn.Sequential([gn.Input(x.shape[1:]), IntegerLookup.from_config(ours.get_config())])
    inside = model.predict(x, verbose=0)
    assert inside.dtype == np.float32
    np.testing.assert_allclose(inside, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("settings", [dict(), dict(mask_token=0, num_oov_indices=2), dict(output_mode="count"),
                                      dict(output_mode="tf_idf", idf_weights=[0.5, 1.0, 1.5, 2.0])], ids=str)
def test_a_given_vocabulary_matches_keras(settings, rng, keras):
    vocabulary = [21, 8, 3, 1000]
    ours, theirs = IntegerLookup(vocabulary=vocabulary, **settings), keras.layers.IntegerLookup(vocabulary=vocabulary, **settings)
    assert ours.get_vocabulary() == [int(v) for v in theirs.get_vocabulary()]
    x = rng.choice([0, 3, 8, 21, 1000, 55, -1], size=(10, 4))
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-6)


@pytest.mark.parametrize("mask_token", [None, 0])
def test_invert_matches_keras(mask_token, rng, keras):
    vocabulary = [21, 8, 3, 1000]
    ours = IntegerLookup(vocabulary=vocabulary, invert=True, mask_token=mask_token)
    theirs = keras.layers.IntegerLookup(vocabulary=vocabulary, invert=True, mask_token=mask_token)
    indices = rng.integers(0, 8, size=(5, 4))
    np.testing.assert_array_equal(ours(indices), np.asarray(theirs(indices)))
    forward = IntegerLookup(vocabulary=vocabulary, mask_token=mask_token)
    values = np.array([[21, 8, 3, 1000]])
    np.testing.assert_array_equal(ours(forward(values)), values)     # a round trip for known values


def test_a_model_reads_raw_integer_codes(rng, tmp_path):
    # codes with no order (a product id): the lookup and an embedding learn each one's effect
    codes = rng.choice([1017, 2203, 5511, 9020, 31337], size=(800, 1))
    target = np.isin(codes[:, 0], [2203, 31337]).astype(int)
    lookup = IntegerLookup()
    lookup.adapt(codes)
    model = gn.Sequential([gn.Input((1,)), lookup, gn.layers.Embedding(lookup.vocabulary_size(), 4),
                           gn.layers.Flatten(), gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.05), metrics=["accuracy"])
    model.fit(codes, target, epochs=10, batch_size=32, verbose=0)
    assert model.evaluate(codes, target, return_dict=True)["accuracy"] == 1.0
    assert model.predict(np.array([[123456]])).shape == (1, 1)             # an unseen code: the OOV index
    model.save(tmp_path / "codes.npz")
    loaded = gn.load_model(tmp_path / "codes.npz")
    np.testing.assert_array_equal(loaded.predict(codes), model.predict(codes))
    assert loaded.layers[0].get_vocabulary() == lookup.get_vocabulary()


def test_config_round_trips_after_adapt(rng):
    train, test = _data(rng)
    for settings in (dict(mask_token=0, num_oov_indices=2), dict(output_mode="tf_idf", max_tokens=9, pad_to_max_tokens=True)):
        layer = IntegerLookup(**settings)
        layer.adapt(train)
        again = IntegerLookup.from_config(layer.get_config())
        assert again.get_vocabulary() == layer.get_vocabulary() and again.idf_weights == layer.idf_weights
        np.testing.assert_array_equal(again(test), layer(test))


def test_refusals_name_what_was_expected_and_what_came(rng):
    with pytest.raises(ValueError, match="max_tokens must be greater than 1, got 1"):
        IntegerLookup(max_tokens=1)
    with pytest.raises(ValueError, match="num_oov_indices must be an integer >= 0, got -1"):
        IntegerLookup(num_oov_indices=-1)
    with pytest.raises(ValueError, match="invert=True gives values back, so output_mode must be 'int'"):
        IntegerLookup(invert=True, output_mode="count")
    with pytest.raises(ValueError, match=r"oov_method='farmhash' is not supported \(only 'floormod'\)"):
        IntegerLookup(oov_method="farmhash")
    with pytest.raises(ValueError, match="vocabulary repeats \\[3\\]"):
        IntegerLookup(vocabulary=[3, 4, 3])
    with pytest.raises(ValueError, match="holds the mask_token 0 after its start"):
        IntegerLookup(vocabulary=[3, 0], mask_token=0)
    with pytest.raises(ValueError, match="has no vocabulary yet"):
        IntegerLookup()(np.array([[1]]))
    with pytest.raises(ValueError, match=r"num_oov_indices=0 takes values of its vocabulary only, got \[7\]"):
        IntegerLookup(vocabulary=[1, 2], num_oov_indices=0)(np.array([[1, 7]]))
    with pytest.raises(ValueError, match=r"expected integer values .*got 1.5 at \(0, 1\)"):
        IntegerLookup(vocabulary=[1, 2])(np.array([[1.0, 1.5]]))
    model = gn.Sequential([gn.Input((1,)), IntegerLookup(vocabulary=[1, 2]), gn.layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match=r"reads values up to 16777216 exactly in a float32 model, got 20000001; "
                                         r"make the model with dtype='float64'"):
        model.predict(np.array([[20000001]]))


def test_tf_idf_of_a_flat_array_counts_each_value_as_a_document_as_keras(keras):
    for data in (np.array([1, 2, 2, 3, 3, 3]), [1, 2, 2, 3, 3, 3]):
        ours, theirs = IntegerLookup(output_mode="tf_idf"), keras.layers.IntegerLookup(output_mode="tf_idf")
        ours.adapt(data)
        theirs.adapt(data)
        np.testing.assert_allclose(ours.idf_weights, np.asarray(theirs.idf_weights), rtol=1e-6)


def test_a_keras_config_loads(keras):
    theirs = keras.layers.IntegerLookup(vocabulary=[21, 8, 3], num_oov_indices=2)
    config = {k: v for k, v in theirs.get_config().items() if k != "dtype"}
    ours = IntegerLookup.from_config(config)
    assert ours.get_vocabulary() == [int(v) for v in theirs.get_vocabulary()]


def test_more_refusals_by_name(rng):
    # vectors after which layers were built: the width may not change
    lookup = IntegerLookup(output_mode="multi_hot")
    lookup.adapt(np.array([[1, 2, 3]]))
    model = gn.Sequential([gn.Input((3,)), lookup, gn.layers.Dense(1)])
    with pytest.raises(ValueError, match="its vectors are 4 wide, and the layers after it were built for that"):
        lookup.adapt(np.array([[1, 2, 3, 4, 5]]))
    assert model.predict(np.array([[1, 2, 3]])).shape == (1, 1)
    # invert in a float32 model: values past 2**24 would come back rounded, so they are refused there
    # (called alone the values come back as int64, exactly, as Keras': test_invert_called_alone_...)
    inverse = gn.Sequential([gn.Input((2,)), IntegerLookup(vocabulary=[2 ** 24 + 1, 5], invert=True)])
    with pytest.raises(ValueError, match="invert=True gives back values up to 16777216 exactly as float32"):
        inverse.predict(np.array([[1, 2]]), verbose=0)
    wide = gn.Sequential([gn.Input((2,)), IntegerLookup(vocabulary=[2 ** 24 + 1, 5], invert=True)], dtype="float64")
    assert wide.predict(np.array([[1, 2]]), verbose=0).tolist() == [[2 ** 24 + 1, 5]]
    with pytest.raises(ValueError, match=r"mask_token must be an integer \(int64's range\), got inf"):
        IntegerLookup(mask_token=float("inf"))
    with pytest.raises(ValueError, match="adapt: the data holds no values"):
        IntegerLookup().adapt(np.zeros((0, 3), int))
    with pytest.raises(ValueError, match=r"a vocabulary was given when the layer was made \(vocabulary=\), which adapt would replace"):
        IntegerLookup(vocabulary=[1, 2]).adapt(np.array([[1, 2]]))
    with pytest.raises(ValueError, match="adapt: max_tokens=3 leaves no room for a value after the 3 special indices"):
        IntegerLookup(max_tokens=3, num_oov_indices=2, mask_token=0).adapt(np.array([5, 6]))
    with pytest.raises(ValueError, match="expected 2 finite idf_weights, one per entry of the vocabulary, got 2, not all finite"):
        IntegerLookup(vocabulary=[1, 2], output_mode="tf_idf", idf_weights=[1.0, float("nan")])
    with pytest.raises(ValueError, match="takes values of int64's range, got 9223372036854775813"):
        IntegerLookup(vocabulary=[1])(np.array([[2 ** 63 + 5]], dtype=np.uint64))
    counts = IntegerLookup(vocabulary=[1, 2], output_mode="count", mask_token=0)(np.array([[1, 0, 2]]))
    assert counts.flags.c_contiguous


def test_a_vocabulary_file_reads_as_keras(tmp_path, keras):
    """One integer a line (Keras reads the file as int64 keys); a line that is no integer is refused by its number."""
    path = tmp_path / "codes.txt"
    path.write_text("1138\n42\r\n-7\n12")
    for settings in (dict(), dict(num_oov_indices=2, mask_token=0), dict(output_mode="count")):
        ours, theirs = IntegerLookup(vocabulary=path, **settings), keras.layers.IntegerLookup(vocabulary=str(path), **settings)
        assert ours.get_vocabulary() == [int(t) for t in theirs.get_vocabulary()]
        x = np.array([[42, 12, 5], [-7, 1138, 0]])
        assert ours(x).tolist() == np.asarray(theirs(x)).tolist()
    path.write_text("1138\nforty-two\n")
    # read by a path relative to the working folder: the message cuts long paths, and the
    # temporary folder's name is as long as the machine makes it
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        with pytest.raises(ValueError, match=r"IntegerLookup: line 2 of the vocabulary file 'codes.txt' is not an "
                                             r"integer: 'forty-two'"):
            IntegerLookup(vocabulary="codes.txt")


# -- called alone: any shape, Keras' dtypes (a model keeps its float dtype) ---------------------------
SHAPES = {"scalar": np.int64(8), "1-D": np.array([8, 3, 55, 8, 0, -4]), "list": [8, 3, 55],
          "2-D": np.array([[8, 3, 0], [55, 21, 8]]), "2-D column": np.array([[8], [55], [0]]),
          "3-D": np.array([[[8, 3], [55, 21]], [[0, 1000], [-4, 8]]]), "3-D column": np.array([[[8], [55]], [[0], [3]]]),
          "empty": np.zeros((0,), np.int64), "no samples": np.zeros((0, 3), np.int64)}
ALONE = [dict(), dict(mask_token=0), dict(num_oov_indices=3), dict(num_oov_indices=2, mask_token=0, oov_token=-7),
         dict(max_tokens=9, pad_to_max_tokens=True)]


@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count", "tf_idf"])
@pytest.mark.parametrize("settings", ALONE, ids=str)
def test_called_alone_it_takes_any_shape_and_gives_keras_dtypes(mode, settings, keras):
    vocabulary = [21, 8, 3, 1000]
    if mode == "tf_idf":
        settings = dict(settings, idf_weights=[0.5, 1.0, 1.5, 2.0])
    elif mode == "int" and settings.get("pad_to_max_tokens"):
        return            # Keras pads the vectors only
    ours = IntegerLookup(vocabulary=vocabulary, output_mode=mode, **settings)
    theirs = keras.layers.IntegerLookup(vocabulary=vocabulary, output_mode=mode, **settings)
    for name, x in SHAPES.items():
        expected = np.asarray(theirs(x))
        if mode in ("multi_hot", "count", "tf_idf") and np.ndim(x) > 2:
            # Keras' vectors of a 3-D input count along axis 1 (out[b, j] of x[b, :, j]), neither
            # one bag per sample nor one per last axis; glassnet's too (compared below)
            bags = np.asarray(theirs(np.asarray(x)[:, :, 0]))
            assert expected.shape[:2] == (np.shape(x)[0], np.shape(x)[2]) and (expected[:, 0] == bags).all()
        out = ours(x)
        assert isinstance(out, np.ndarray), name
        assert (out.shape, out.dtype) == (expected.shape, expected.dtype), name
        np.testing.assert_allclose(out, expected, rtol=1e-6, err_msg=name)


@pytest.mark.parametrize("settings", [dict(), dict(mask_token=0), dict(num_oov_indices=3, oov_token=-7),
                                      dict(mask_token=-1, num_oov_indices=2, oov_token=99)], ids=str)
def test_invert_called_alone_gives_keras_int64_values_of_any_shape(settings, keras):
    # values past float32's exact 2**24 come back exactly, as int64 (Keras')
    vocabulary = [21, 8, 2 ** 40 + 3, 1000]
    ours = IntegerLookup(vocabulary=vocabulary, invert=True, **settings)
    theirs = keras.layers.IntegerLookup(vocabulary=vocabulary, invert=True, **settings)
    for x in (np.int64(3), np.array([0, 1, 2, 3, 4, 5, 6, 7, 40, -2]), [2, 0, 9], np.array([[0, 4], [5, 2], [1, 3]]),
              np.arange(12).reshape(2, 3, 2), np.array([3.0, 1.0]), np.array([2, 3], dtype=np.int32)):
        expected = np.asarray(theirs(x))
        out = ours(x)
        assert (out.shape, out.dtype) == (expected.shape, expected.dtype) == (np.shape(x), np.int64)
        np.testing.assert_array_equal(out, expected)
    with pytest.raises(ValueError, match=r"indices: expected integer values .*got 1.5 at \(1,\)"):
        ours(np.array([1.0, 1.5]))


def test_a_model_s_predicted_classes_back_to_their_values_as_keras(rng, keras):
    # the common use: class labels given as codes, the model's argmax back to the codes
    classes = [1017, 2203, 5511, 90210]
    x = rng.standard_normal((50, 3)).astype("float32")
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(len(classes), activation="softmax")], seed=0)
    predicted = model.predict(x, verbose=0).argmax(-1)
    out = IntegerLookup(vocabulary=classes, invert=True, num_oov_indices=0)(predicted)
    expected = np.asarray(keras.layers.IntegerLookup(vocabulary=classes, invert=True, num_oov_indices=0)(predicted))
    assert (out.shape, out.dtype) == (expected.shape, expected.dtype) == ((50,), np.int64)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(out, np.asarray(classes)[predicted])
    labels = IntegerLookup(vocabulary=classes, num_oov_indices=0)(np.asarray(classes)[predicted])
    np.testing.assert_array_equal(labels, predicted)          # and the codes to the classes' indices


@pytest.mark.parametrize("mode", ["int", "multi_hot", "tf_idf"])
def test_in_a_model_it_keeps_the_model_s_dtype(mode, rng, keras, tmp_path):
    # Sequential and functional, float32 and float64: the model's floats in and out, the numbers Keras'
    settings = dict(vocabulary=[21, 8, 3, 1000], output_mode=mode, mask_token=0)
    if mode == "tf_idf":
        settings["idf_weights"] = [0.5, 1.0, 1.5, 2.0]
    x = rng.choice([0, 3, 8, 21, 55, 1000], size=(6, 3))
    expected = np.asarray(keras.layers.IntegerLookup(**settings)(x))
    for dtype in ("float32", "float64"):
        inputs = gn.Input((3,))
        functional = gn.Model(inputs, IntegerLookup(**settings)(inputs), dtype=dtype)
        sequential = gn.Sequential([gn.Input((3,)), IntegerLookup(**settings)], dtype=dtype)
        for model in (sequential, functional):
            out = model.predict(x, verbose=0)
            assert out.dtype == np.dtype(dtype)
            np.testing.assert_allclose(out, expected, rtol=1e-6)
    sequential.save(tmp_path / "lookup.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "lookup.npz").predict(x, verbose=0),
                                  sequential.predict(x, verbose=0))
    with pytest.raises(TypeError, match="IntegerLookup.*expected integers, got strings .*StringLookup"):
        IntegerLookup(**settings)(["a", "b"])
