"""Hashing: FarmHash's Fingerprint64 and SipHash-2-4 against TensorFlow's, bins and vectors as
Keras 3.15's (strings, integers, masks, salts, every output mode), a model reading raw values, model
files, and the refusals. The layer contract is in test_layer_contract.py."""
import json
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Dense, Embedding, Flatten, Hashing, Input
from glassnet.layers.hashing import fingerprint64, siphash

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _random_bytes(rng):
    # every length that takes its own path (0, 1-3, 4-7, 8-16, 17-32, 33-64, rounds of 64 and a rest)
    lengths = list(range(0, 140)) + [191, 192, 193, 255, 256, 257, 1000]
    return [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in lengths for _ in range(2)]


def test_fingerprint64_and_siphash_equal_tensorflow(rng):
    tf = pytest.importorskip("tensorflow", reason="TensorFlow oracle not installed")
    data = _random_bytes(rng)
    expected = [int.from_bytes(bytes(row), "little") for row in tf.fingerprint(tf.constant(data), "farmhash64").numpy()]
    assert [fingerprint64(d) for d in data] == expected
    # the bins of tf's hash-bucket ops, keyed and not
    np.testing.assert_array_equal(tf.strings.to_hash_bucket_fast(tf.constant(data), 2 ** 62 + 11).numpy(),
                                  [fingerprint64(d) % (2 ** 62 + 11) for d in data])
    for key in ([0, 0], [1, 2], [2 ** 62 + 3, 12345678901234567]):
        np.testing.assert_array_equal(tf.strings.to_hash_bucket_strong(tf.constant(data), 2 ** 62 + 11, key).numpy(),
                                      [siphash(key, d) % (2 ** 62 + 11) for d in data])


def test_siphash_test_vector():
    # the reference implementation's vector: key 00..0f, message 00..0e (SipHash paper, appendix A)
    key = (int.from_bytes(bytes(range(8)), "little"), int.from_bytes(bytes(range(8, 16)), "little"))
    assert siphash(key, bytes(range(15))) == 0xA129CA6149BE45E5


WORDS = ["", "red", "green", "blue", "cyan", "Ünïcode", "a much longer category name than the others, past 64 bytes long"]
SETTINGS = [dict(num_bins=7), dict(num_bins=2), dict(num_bins=7, mask_value=""), dict(num_bins=5, salt=133),
            dict(num_bins=9, salt=[1, 2 ** 40]), dict(num_bins=7, output_mode="one_hot"),
            dict(num_bins=6, output_mode="multi_hot", mask_value=""), dict(num_bins=6, output_mode="count", salt=[3, 4])]


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
def test_strings_hash_as_keras(settings, rng, keras):
    ours, theirs = Hashing(**settings), keras.layers.Hashing(**settings)
    x = rng.choice(WORDS, size=(12, 3))
    if settings.get("output_mode") == "one_hot":
        x = x[:, :1]
    expected = np.asarray(theirs(x))
    out = ours(x)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(ours(x.astype(object)), expected)
    if settings.get("output_mode") in ("multi_hot", "count"):       # 1-D: one sample (Keras)
        np.testing.assert_array_equal(ours(x[0]), np.asarray(theirs(x[0])))


@pytest.mark.parametrize("settings", [dict(num_bins=7), dict(num_bins=7, mask_value=0), dict(num_bins=11, salt=5),
                                      dict(num_bins=4, output_mode="count")], ids=str)
def test_integers_hash_as_keras(settings, rng, keras):
    ours, theirs = Hashing(**settings), keras.layers.Hashing(**settings)
    x = rng.integers(-10 ** 6, 10 ** 6, size=(10, 3))
    x[0, 0], x[1, 1], x[2, 2] = 0, 2 ** 40, -1
    expected = np.asarray(theirs(x))
    np.testing.assert_array_equal(ours(x), expected)
    np.testing.assert_array_equal(ours(x.astype(np.float64)), expected)     # whole floats: the integers


def test_a_model_reads_raw_values_trains_and_saves(tmp_path, rng):
    users = np.array([f"user{i}" for i in range(30)])
    x = users[rng.integers(0, 30, 600)]
    y = np.isin(x, users[:10]).astype(np.float32)
    model = gn.Sequential([Input((1,), dtype="string"), Hashing(64), Embedding(64, 4), Flatten(),
                           Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.05), metrics=["accuracy"])
    history = model.fit(x, y, epochs=30, verbose=0)
    bins = Hashing(64)(users[:, None]).ravel()
    colliding = {b for b in bins[:10]} & {b for b in bins[10:]}        # a bin shared by both classes
    assert history.history["accuracy"][-1] >= 1 - np.isin(Hashing(64)(x[:, None]).ravel(), list(colliding)).mean() - 0.01
    model.save(tmp_path / "model.npz")
    loaded = gn.load_model(tmp_path / "model.npz")
    np.testing.assert_array_equal(loaded.predict(x[:20], verbose=0), model.predict(x[:20], verbose=0))
    # integer codes go in the same way; vectors too
    codes = rng.integers(0, 50, 300)
    counted = gn.Sequential([Hashing(16, output_mode="one_hot", salt=7), Dense(1, activation="sigmoid")], seed=0)
    counted.compile(loss="binary_crossentropy", optimizer="adam")
    counted.fit(codes, (codes % 2).astype(np.float32), epochs=2, verbose=0)
    np.testing.assert_allclose(counted.predict(codes[:5], verbose=0),
                               1 / (1 + np.exp(-(Hashing(16, output_mode="one_hot", salt=7)(codes[:5]) @ counted.layers[1].params["kernel"]
                                                 + counted.layers[1].params["bias"]))), rtol=1e-5)
    assert gn.model_from_json(counted.to_json()).layers[0].get_config() == counted.layers[0].get_config()


def test_a_functional_model_and_a_keras_config(keras):
    inputs = gn.Input((1,), dtype="string")
    model = gn.Model(inputs, Dense(1)(Hashing(8, output_mode="multi_hot")(inputs)), seed=0)
    x = np.array(["a", "b", "zz"])
    np.testing.assert_allclose(model.predict(x[:, None], verbose=0).ravel(),
                               (Hashing(8, output_mode="multi_hot")(x[:, None]) @ model.layers[-1].params["kernel"]).ravel(), rtol=1e-6)
    theirs = keras.layers.Hashing(num_bins=5, salt=9, mask_value="")
    config = {k: v for k, v in json.loads(json.dumps(theirs.get_config())).items() if k != "dtype"}
    ours = Hashing.from_config(config)
    assert ours.salt == (9, 9)
    words = np.array([["", "x"], ["y", "z"]])
    np.testing.assert_array_equal(ours(words), np.asarray(theirs(words)))


@pytest.mark.parametrize("make,error,message", [
    (lambda: Hashing(0), ValueError, "Hashing: num_bins"),
    (lambda: Hashing(4, output_mode="tf_idf"), ValueError, "Hashing: output_mode must be one of"),
    (lambda: Hashing(4, sparse=True), ValueError, r"Hashing: sparse=True is not supported \(only False\)"),
    (lambda: Hashing(4, salt=[1, 2, 3]), ValueError, "salt must be an integer or a pair of them"),
    (lambda: Hashing(4, salt=-2 ** 63 - 1), ValueError, r"salt's numbers must lie in \[-2\*\*63, 2\*\*64\)"),
    (lambda: Hashing(2 ** 63), ValueError, r"num_bins must be below 2\*\*63"),
    (lambda: Hashing(4, salt=1.5), TypeError, "salt must be an integer or a pair of them, got float 1.5"),
    (lambda: Hashing(4, mask_value=0.5), TypeError, "mask_value must be a string or an integer, got float 0.5"),
])
def test_bad_settings_are_refused_by_name(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_bad_values_are_refused_by_name():
    layer = Hashing(4)
    with pytest.raises(ValueError, match=r"Hashing.* hashes strings or integers, got 1.5 at \(1,\)"):
        layer(np.array([1.0, 1.5]))
    with pytest.raises(TypeError, match="hashes strings or integers, got float 2.5 at flat index 1"):
        layer(np.array(["a", 2.5], dtype=object))
    with pytest.raises(ValueError, match="reads UTF-8 strings"):
        layer(np.array([b"\xff"], dtype=object))
    model = gn.Sequential([Hashing(4), Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match=r"reads one value per sample, shape \(n,\) or \(n, 1\), got shape \(2, 2\)"):
        model.predict(np.array([["a", "b"], ["b", "a"]]), verbose=0)
    with pytest.raises(ValueError, match="must be the model's first layer"):
        gn.Sequential([Dense(1, input_dim=1), Hashing(4)])


def test_a_negative_salt_is_keras_int64_key(keras):
    """Keras hands the salt to TensorFlow as int64: a negative one is the key of its unsigned bits."""
    x = np.array(["a", "b", "", "a longer string than sixteen bytes"])
    for salt in (-3, [-2 ** 63, 5]):
        np.testing.assert_array_equal(Hashing(1000, salt=salt)(x), np.asarray(keras.layers.Hashing(1000, salt=salt)(x)))


def test_trailing_nul_characters_are_hashed(keras):
    """A list's strings keep their trailing NULs (a NumPy fixed-width array would drop them)."""
    np.testing.assert_array_equal(Hashing(1000)(["a\x00", "a"]), np.asarray(keras.layers.Hashing(1000)(["a\x00", "a"])))


def test_one_value_makes_one_vector():
    np.testing.assert_array_equal(Hashing(5, output_mode="count")("a"), Hashing(5, output_mode="count")(["a"]))


def test_an_embedding_too_small_for_the_bins_is_named():
    model = gn.Sequential([Hashing(10), Embedding(5, 2), Flatten(), Dense(1)])
    model.compile("mse", "sgd")
    with pytest.raises(ValueError, match=r"makes ids up to 9: give layer embedding \(Embedding\) input_dim=10"):
        model.fit(np.array(["a", "b", "c", "d", "e", "f"]), np.ones(6), verbose=0)


def test_bins_beyond_the_model_floats_are_refused_by_name():
    model = gn.Sequential([Hashing(2 ** 26), Dense(1)])
    with pytest.raises(ValueError, match=r"makes bins up to 67108863, which a float32 model holds exactly up to 16777216"):
        model.predict(np.array(["a"]), verbose=0)
    wide = gn.Sequential([Hashing(2 ** 26), Dense(1)], dtype="float64")
    bins = Hashing(2 ** 26)(np.array([["a"], ["b"]]))
    np.testing.assert_array_equal(wide.layers[0].encode(np.array(["a", "b"]), dtype=np.float64), bins)
