"""HashedCrossing: FingerprintCat64 and the crossed bins against TensorFlow's and Keras 3.15's (random
integers, negative and 64-bit ones, unicode and empty strings, two and three features, shapes (),
(N,) and (N, 1), "one_hot"), a functional Model crossing numeric codes (training, its model file),
configs, and the refusals (strings in a drawn model among them)."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer
from glassnet.layers import Dense, HashedCrossing
from glassnet.layers.hashed_crossing import fingerprint_cat64

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


WORDS = ["", "a", "A", "red", "Ünïcode", "日本語のカテゴリー", "emoji \U0001F600", "x" * 70, "tab\tand\x00nul"]


def _ints(rng, n):
    # small codes, negative ones and the whole int64 range (its ends too)
    values = np.concatenate([rng.integers(-5, 6, n), rng.integers(-2 ** 63, 2 ** 63 - 1, n, dtype=np.int64),
                             [-2 ** 63, 2 ** 63 - 1, 0, -1]])
    return rng.permutation(values).astype(np.int64)


def test_fingerprint_cat64_is_tensorflow_s(rng):
    tf = pytest.importorskip("tensorflow", reason="TensorFlow oracle not installed")
    # one integer feature: the bin is FingerprintCat64(key, its bits) mod num_bins; num_bins 2**63 - 1
    # keeps nearly all 64 bits of it
    values = _ints(rng, 50)
    bins = tf.sparse.to_dense(tf.sparse.cross_hashed([tf.constant(values[:, None])], 2 ** 63 - 1)).numpy().ravel()
    np.testing.assert_array_equal(bins, [fingerprint_cat64(0xDECAFCAFFE, int(v) & (2 ** 64 - 1)) % (2 ** 63 - 1)
                                         for v in values])


@pytest.mark.parametrize("num_bins", [1, 2, 7, 1000, 2 ** 40 + 3])
def test_bins_equal_keras_for_strings_and_integers(num_bins, rng, keras):
    n = 60
    strings = rng.choice(WORDS, n).astype(object)
    ints = _ints(rng, n)[:n]
    small = rng.integers(-3, 4, n)
    for features in [(strings, ints), (ints, strings), (small, ints), (strings, rng.choice(WORDS, n).astype(object)),
                     (ints, small, strings)]:
        expected = np.asarray(keras.layers.HashedCrossing(num_bins)(features))
        got = HashedCrossing(num_bins)(features)
        assert got.dtype == np.int64 and got.shape == (n,)
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("shape", [(), (6,), (6, 1)], ids=str)
@pytest.mark.parametrize("mode", ["int", "one_hot"])
def test_shapes_and_modes_equal_keras(shape, mode, rng, keras):
    a = rng.choice(WORDS, shape).astype(object) if shape else np.array(rng.choice(WORDS), dtype=object)
    b = rng.integers(-100, 100, shape)
    ours, theirs = HashedCrossing(11, output_mode=mode), keras.layers.HashedCrossing(11, output_mode=mode)
    for features in [(a, b), [b, a]]:
        expected, got = np.asarray(theirs(features)), ours(features)
        assert got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


def test_lists_bytes_and_int32_features_as_keras(keras):
    a, b = ["x", "y", "é"], np.array([1, -2, 3], dtype=np.int32)
    expected = np.asarray(keras.layers.HashedCrossing(9)((np.array(a), b)))
    np.testing.assert_array_equal(HashedCrossing(9)((a, b)), expected)
    np.testing.assert_array_equal(HashedCrossing(9)(([s.encode() for s in a], b.tolist())), expected)


def _codes(rng, n=40):
    return rng.integers(-20, 20, (n, 1)), rng.integers(0, 1000, (n, 1))


def test_a_functional_model_crosses_codes_as_keras_trains_and_saves(tmp_path, rng, keras):
    a, b = gn.Input((1,), name="a"), gn.Input((1,), name="b")
    crossed = HashedCrossing(16, output_mode="one_hot")([a, b])
    model = gn.Model([a, b], Dense(1, activation="sigmoid")(crossed), seed=0)
    xa, xb = _codes(rng)
    y = rng.integers(0, 2, (40, 1))
    model.compile(loss="binary_crossentropy", optimizer="adam")
    model.fit({"a": xa, "b": xb}, y, epochs=2, batch_size=8, verbose=0)
    # the crossing's output inside the model: Keras' one-hot bins, in the model's float32
    sub = gn.Model([a, b], crossed)
    expected = np.asarray(keras.layers.HashedCrossing(16, output_mode="one_hot")((xa, xb)))
    got = sub.predict([xa[:, 0], xb[:, 0]], verbose=0)          # (n,) columns, as dict(df) gives them
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    model.save(tmp_path / "crossed.npz")
    loaded = gn.load_model(tmp_path / "crossed.npz")
    np.testing.assert_array_equal(loaded.predict([xa, xb], verbose=0), model.predict([xa, xb], verbose=0))
    assert loaded.layers[0].get_config() == model.layers[0].get_config()
    ints = gn.Model([a, b], HashedCrossing(1000)([a, b]))
    np.testing.assert_array_equal(ints.predict([xa, xb], verbose=0),
                                  np.asarray(keras.layers.HashedCrossing(1000)((xa, xb))))


def test_no_gradient_reaches_the_codes_and_it_has_no_weights(rng):
    layer = HashedCrossing(5, output_mode="one_hot", dtype="float64")
    xs = [c.astype(np.float64) for c in _codes(rng, 6)]
    layer.build([x.shape[1:] for x in xs])
    out = layer.forward(xs)
    grads = layer.backward(np.ones_like(out))
    assert out.shape == (6, 5) and [g.shape for g in grads] == [(6, 1), (6, 1)] and not any(g.any() for g in grads)
    assert layer.params == {} and layer.count_params() == 0
    # gradcheck of a layer with discrete inputs: the zero input gradient it returns
    assert check_layer(layer, xs) == {"max_error": 0.0, "errors": {"input": 0.0}}


def test_config_round_trip():
    layer = HashedCrossing(33, output_mode="one_hot", name="cross")
    copy = HashedCrossing.from_config(layer.get_config())
    assert copy.get_config() == layer.get_config() == {"name": "cross", "num_bins": 33, "output_mode": "one_hot"}
    features = (np.array(["p", "q"]), np.array([4, 5]))
    np.testing.assert_array_equal(copy(features), layer(features))


def test_refusals_name_the_layer_and_what_came(rng):
    with pytest.raises(ValueError, match=r"^HashedCrossing: output_mode must be one of \['int', 'one_hot'\], got 'count'"):
        HashedCrossing(4, output_mode="count")
    with pytest.raises(ValueError, match=r"^HashedCrossing: num_bins: expected a positive integer, got 0"):
        HashedCrossing(0)
    with pytest.raises(ValueError, match=r"^HashedCrossing: sparse=True is not supported"):
        HashedCrossing(4, sparse=True)
    layer = HashedCrossing(4)
    with pytest.raises(TypeError, match=r"^layer HashedCrossing: expects a list or tuple of features"):
        layer(np.array([1, 2]))
    with pytest.raises(ValueError, match=r"crosses at least two features, got 1"):
        layer([np.array([1, 2])])
    with pytest.raises(ValueError, match=r"must have one shape, got \[\(2,\), \(3,\)\]"):
        layer((np.array([1, 2]), np.array([1, 2, 3])))
    with pytest.raises(ValueError, match=r"shape \(\), \(batch,\) or \(batch, 1\), got \(2, 2\)"):
        layer((np.ones((2, 2), int), np.ones((2, 2), int)))
    with pytest.raises(TypeError, match=r"feature 1 must hold integers or strings, got an array of dtype float64"):
        layer((np.array([1, 2]), np.array([1.0, 2.0])))
    with pytest.raises(TypeError, match=r"feature 0 mixes strings and integers"):
        layer((np.array(["a", 1], dtype=object), np.array([1, 2])))
    with pytest.raises(ValueError, match=r"feature 0: integers must lie in int64's range, got 18446744073709551615"):
        layer((np.array([2 ** 64 - 1, 1], dtype=object), np.array([1, 2])))
    # in a model: strings Inputs by name, and codes a float32 model cannot hold or that are not whole
    a, b = gn.Input((1,), dtype="string"), gn.Input((1,))
    with pytest.raises(NotImplementedError, match=r"crossing an Input of strings \(inputs\[0\], dtype='string'\) in a "
                                                  r"model is not supported.*Cross the strings before the model"):
        HashedCrossing(4)([a, b])
    c = gn.Input((1,))
    with pytest.raises(ValueError, match=r"in a model each feature is one value per sample, shape \(1,\)"):
        HashedCrossing(4)([gn.Input((2,)), c])
    model = gn.Model([b, c], HashedCrossing(4)([b, c]))
    with pytest.raises(ValueError, match=r"x\[1\]: layer hashed_crossing \(HashedCrossing\) crosses integer codes, got 1.5"):
        model.predict([np.array([[1.0]]), np.array([[1.5]])], verbose=0)
    with pytest.raises(ValueError, match=r"exact up to 16777216 only, got 16777217"):
        model.predict([np.array([[1]]), np.array([[2 ** 24 + 1]])], verbose=0)
    with pytest.raises(ValueError, match=r"makes bins up to 16777217, which float32 holds exactly up to 16777216"):
        gn.Model([b, c], HashedCrossing(2 ** 24 + 2)([b, c]))
