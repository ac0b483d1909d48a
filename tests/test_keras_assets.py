"""The ``assets/`` of ``.keras`` files: lookup vocabularies (and tf_idf weights) read from Keras 3.15's
files with Keras' outputs, written by glassnet so that Keras loads them with glassnet's outputs, and
refused when a file's assets are not what Keras writes."""
import io
import zipfile

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import ModelFileError

pytest.importorskip("h5py")

TEXTS = ["the cat sat on the mat", "the dog ran fast", "a cat, a dog!", "Ünïcode wörds here"]
QUERY = [["The cat ran"], ["a dog, z"], ["wörds unknown the"], [""]]
WORDS = ["a", "b", "b", "c", "é", "c", "c"]
WORD_QUERY = [["a"], ["z"], ["c"], ["é"]]
INTS = np.array([[1, 2, 2], [3, 7, 7], [7, 7, 1]])
INT_QUERY = np.array([[1, 2, 9], [3, 3, 7], [0, 7, 2]])

# (name, the layer's keyword arguments, which layer) of the cases compared both ways
CASES = [
    ("tv_int", "TextVectorization", dict(max_tokens=20, output_mode="int", output_sequence_length=6)),
    ("tv_tfidf", "TextVectorization", dict(max_tokens=12, output_mode="tf_idf")),
    ("tv_count_bigrams", "TextVectorization", dict(output_mode="count", ngrams=2)),
    ("sl_int", "StringLookup", dict()),
    ("sl_mask_onehot", "StringLookup", dict(mask_token="", output_mode="one_hot")),
    ("sl_tfidf", "StringLookup", dict(output_mode="tf_idf", num_oov_indices=2)),
    ("il_int", "IntegerLookup", dict()),
    ("il_tfidf", "IntegerLookup", dict(output_mode="tf_idf")),
    ("il_multihot", "IntegerLookup", dict(output_mode="multi_hot", max_tokens=4)),
]


def _data(kind):
    return {"TextVectorization": (TEXTS, QUERY), "StringLookup": (WORDS, WORD_QUERY),
            "IntegerLookup": (INTS.ravel(), INT_QUERY)}[kind]


def _glassnet_model(kind, kwargs, functional=False):
    layer = getattr(gn.layers, kind)(**kwargs)
    layer.adapt(_data(kind)[0])
    if functional:
        text = kind != "IntegerLookup"
        i = gn.Input(shape=(1,) if text else (3,), dtype="string" if text else "int64")
        return gn.Model(i, layer(i))
    model = gn.Sequential([layer])
    model.build() if kind != "IntegerLookup" else model.build((None, 3))
    return model


def _keras_model(keras, kind, kwargs, functional=False):
    layer = getattr(keras.layers, kind)(**kwargs)
    layer.adapt(np.asarray(_data(kind)[0]))
    text = kind != "IntegerLookup"
    i = keras.Input(shape=(1,) if text else (3,), dtype="string" if text else "int64")
    if functional:
        return keras.Model(i, layer(i))
    return keras.Sequential([i, layer])


def _keras_out(model, x):
    import tensorflow as tf
    return np.asarray(model(tf.constant(x)))


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


@pytest.mark.parametrize("functional", [False, True])
@pytest.mark.parametrize("name, kind, kwargs", CASES, ids=[c[0] for c in CASES])
def test_keras_file_with_assets_predicts_as_keras(keras, tmp_path, name, kind, kwargs, functional):
    model = _keras_model(keras, kind, kwargs, functional)
    path = str(tmp_path / "k.keras")
    model.save(path)
    assert any(n.startswith("assets/") for n in _members(path))        # the case this file is about
    x = _data(kind)[1]
    loaded = gn.load_model(path)
    np.testing.assert_array_equal(np.asarray(loaded.predict(np.asarray(x))), _keras_out(model, x))
    layer = loaded.layers[0]
    assert layer.get_vocabulary() == [v.decode() if isinstance(v, bytes) else v
                                      for v in model.layers[-1].get_vocabulary()]
    assert not layer._given         # learnt: it may adapt again, as Keras' loaded layer may


@pytest.mark.parametrize("functional", [False, True])
@pytest.mark.parametrize("name, kind, kwargs", CASES, ids=[c[0] for c in CASES])
def test_glassnet_file_with_assets_loads_in_keras(keras, tmp_path, name, kind, kwargs, functional):
    model = _glassnet_model(kind, kwargs, functional)
    path = str(tmp_path / "g.keras")
    model.save(path, save_format="keras")
    x = _data(kind)[1]
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(_keras_out(loaded, x), np.asarray(model.predict(np.asarray(x))))
    # Keras adapting the same data writes the same members (the dates aside)
    theirs = _keras_model(keras, kind, kwargs, functional)
    theirs.save(str(tmp_path / "k.keras"))
    ours, keras_members = _members(path), _members(str(tmp_path / "k.keras"))
    assets = sorted(n for n in keras_members if n.startswith("assets/"))
    assert sorted(n for n in ours if n.startswith("assets/")) == assets
    # (Keras orders tokens of equal counts by its hash table; the sets of lines agree)
    for n in assets:
        assert sorted(ours[n].split(b"\n")) == sorted(keras_members[n].split(b"\n"))


def test_text_model_round_trip_with_layers_after(keras, tmp_path):
    """A TextVectorization before Embedding and Dense: Keras builds the layers after it for the
    vocabulary's width, both ways."""
    tv = gn.layers.TextVectorization(max_tokens=30, output_sequence_length=5)
    tv.adapt(TEXTS)
    model = gn.Sequential([tv, gn.layers.Embedding(30, 4), gn.layers.GlobalAveragePooling1D(),
                           gn.layers.Dense(3)], seed=1)
    model.build()
    path = str(tmp_path / "t.keras")
    model.save(path, save_format="keras")
    theirs = keras.saving.load_model(path)
    np.testing.assert_allclose(_keras_out(theirs, QUERY), model.predict(np.asarray(QUERY)), rtol=1e-6, atol=1e-7)
    again = str(tmp_path / "again.keras")
    theirs.save(again)
    back = gn.load_model(again)
    np.testing.assert_allclose(back.predict(np.asarray(QUERY)), model.predict(np.asarray(QUERY)), rtol=1e-6,
                               atol=1e-7)


@pytest.mark.parametrize("name, kind, kwargs", CASES, ids=[c[0] for c in CASES])
def test_round_trip_without_keras(tmp_path, name, kind, kwargs):
    model = _glassnet_model(kind, kwargs)
    path = str(tmp_path / "g.keras")
    model.save(path, save_format="keras")
    config = _members(path)["config.json"]
    assert b'"vocabulary": null' in config           # Keras' layout: the vocabulary is the asset
    x = np.asarray(_data(kind)[1])
    back = gn.load_model(path)
    np.testing.assert_array_equal(back.predict(x), model.predict(x))
    assert back.layers[0].get_vocabulary() == model.layers[0].get_vocabulary()


def test_given_vocabulary_stays_in_config(tmp_path):
    model = gn.Sequential([gn.layers.StringLookup(vocabulary=["x", "y"])])
    model.build()
    path = str(tmp_path / "given.keras")
    model.save(path, save_format="keras")
    members = _members(path)
    assert not any(n.startswith("assets/") for n in members)
    assert b'"vocabulary": ["[UNK]", "x", "y"]' in members["config.json"] or b'"x", "y"' in members["config.json"]
    np.testing.assert_array_equal(gn.load_model(path).predict(np.array([["y"], ["q"]])), [[2], [0]])


def test_line_break_in_a_token_is_refused_on_write(tmp_path):
    layer = gn.layers.StringLookup()
    layer.adapt(["a", "b\nc"])
    model = gn.Sequential([layer])
    model.build()
    target = tmp_path / "bad.keras"
    with pytest.raises(ValueError, match="line break"):
        model.save(str(target), save_format="keras")
    assert not target.exists()          # nothing written


# -- wary reading ---------------------------------------------------------------------------------
def _rewritten(tmp_path, members, name="edited.keras"):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return str(path)


@pytest.fixture
def saved_lookup(tmp_path):
    model = _glassnet_model("StringLookup", {})
    path = str(tmp_path / "s.keras")
    model.save(path, save_format="keras")
    return _members(path)


ASSET = "assets/layers/string_lookup/vocabulary.txt"


@pytest.mark.parametrize("member, match", [
    ("assets/../evil/vocabulary.txt", "unexpected member"),
    # (a file of another name is a member since session 48, a layer of yours' save_assets: none reads it here)
    ("assets/layers/string_lookup/other.txt", "no lookup layer"),
    ("assets/layers/x/vocabulary.txt", "no lookup layer"),
    ("/abs/vocabulary.txt", "unexpected member"),
])
def test_unexpected_assets_are_refused(tmp_path, saved_lookup, member, match):
    members = dict(saved_lookup)
    members[member] = b"a\nb"
    with pytest.raises(ModelFileError, match=match):
        gn.load_model(_rewritten(tmp_path, members))


def test_asset_not_utf8_is_refused(tmp_path, saved_lookup):
    members = dict(saved_lookup, **{ASSET: b"[UNK]\n\xff\xfe"})
    with pytest.raises(ModelFileError, match="not UTF-8"):
        gn.load_model(_rewritten(tmp_path, members))


def test_asset_missing_is_refused(tmp_path, saved_lookup):
    members = {k: v for k, v in saved_lookup.items() if k != ASSET}
    with pytest.raises(ModelFileError, match="has no vocabulary in config.json and the file has no assets/"):
        gn.load_model(_rewritten(tmp_path, members))


@pytest.mark.parametrize("kind", ["StringLookup", "TextVectorization"])
def test_layer_never_adapted_both_ways(keras, tmp_path, kind):
    """Keras writes a never-adapted layer's special tokens as its asset: glassnet writes the same
    members, and reads Keras' file (as a layer without learnt tokens)."""
    model = gn.Sequential([getattr(gn.layers, kind)()])
    model.build()
    path = str(tmp_path / "never.keras")
    model.save(path, save_format="keras")
    theirs = keras.Sequential([keras.Input((1,), dtype="string"), getattr(keras.layers, kind)()])
    theirs.save(str(tmp_path / "k.keras"))
    ours, keras_members = _members(path), _members(str(tmp_path / "k.keras"))
    assert {n: v for n, v in ours.items() if n.startswith("assets/")} == \
        {n: v for n, v in keras_members.items() if n.startswith("assets/")}
    # (Keras 3.15 cannot load either: its table refuses a vocabulary of special tokens alone)
    for file in (path, str(tmp_path / "k.keras")):
        with pytest.raises(ValueError, match="could not be loaded"):
            keras.saving.load_model(file)
    assert gn.load_model(str(tmp_path / "k.keras")).layers[0].get_vocabulary() == model.layers[0].get_vocabulary()


def test_integer_asset_with_a_word_is_refused(tmp_path):
    model = _glassnet_model("IntegerLookup", {})
    path = str(tmp_path / "i.keras")
    model.save(path, save_format="keras")
    members = dict(_members(path), **{"assets/layers/integer_lookup/vocabulary.txt": b"-1\n7\nseven"})
    with pytest.raises(ModelFileError, match="line 3 is 'seven', not an int64"):
        gn.load_model(_rewritten(tmp_path, members))


def test_two_different_text_vocabularies_are_refused(tmp_path):
    model = _glassnet_model("TextVectorization", {})
    path = str(tmp_path / "t.keras")
    model.save(path, save_format="keras")
    members = dict(_members(path))
    members["assets/layers/text_vectorization/_lookup_layer/vocabulary.txt"] = b"\n[UNK]\nother"
    with pytest.raises(ModelFileError, match="differ"):
        gn.load_model(_rewritten(tmp_path, members))


def test_oversized_asset_is_refused_from_the_directory(tmp_path, saved_lookup, monkeypatch):
    import glassnet._keras_file as keras_file
    monkeypatch.setattr(keras_file, "MAX_ASSET_BYTES", 8)
    members = dict(saved_lookup, **{ASSET: b"[UNK]\n" + b"x" * 20})
    with pytest.raises(ModelFileError, match="declares 26 bytes"):
        gn.load_model(_rewritten(tmp_path, members))


def test_tf_idf_without_its_weights_is_refused(tmp_path):
    import h5py
    model = _glassnet_model("StringLookup", dict(output_mode="tf_idf"))
    path = str(tmp_path / "t.keras")
    model.save(path, save_format="keras")
    members = dict(_members(path))
    buffer = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buffer, "a") as h5:
        del h5["layers/string_lookup/vars/idf_weights"]
    members["model.weights.h5"] = buffer.getvalue()
    with pytest.raises(ModelFileError, match="needs its idf_weights"):
        gn.load_model(_rewritten(tmp_path, members))


def test_weights_file_of_a_tf_idf_model_loads(tmp_path):
    """save_weights writes a tf_idf layer's idf_weights as Keras does; load_weights leaves them to
    the vocabulary the code adapts again (a .weights.h5 holds no vocabulary)."""
    model = _glassnet_model("StringLookup", dict(output_mode="tf_idf"))
    path = str(tmp_path / "w.weights.h5")
    model.save_weights(path)
    again = _glassnet_model("StringLookup", dict(output_mode="tf_idf"))
    again.load_weights(path)
    x = np.asarray(WORD_QUERY)
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


def test_keras_weights_file_of_a_tf_idf_model_loads(keras, tmp_path):
    theirs = _keras_model(keras, "IntegerLookup", dict(output_mode="tf_idf"))
    path = str(tmp_path / "k.weights.h5")
    theirs.save_weights(path)
    ours = _glassnet_model("IntegerLookup", dict(output_mode="tf_idf"))
    ours.load_weights(path)
    np.testing.assert_array_equal(ours.predict(INT_QUERY), _keras_out(theirs, INT_QUERY))


def test_keras_nested_model_asset(keras, tmp_path):
    """A lookup in a Sequential nested in a functional model: its asset under the nested group's path."""
    layer = keras.layers.StringLookup(output_mode="one_hot")
    layer.adapt(np.asarray(WORDS))
    inner = keras.Sequential([keras.Input((1,), dtype="string"), layer, keras.layers.Dense(2)])
    i = keras.Input((1,), dtype="string")
    model = keras.Model(i, keras.layers.Dense(1)(inner(i)))
    path = str(tmp_path / "nested.keras")
    model.save(path)
    assert "assets/layers/sequential/layers/string_lookup/vocabulary.txt" in _members(path)
    np.testing.assert_allclose(gn.load_model(path).predict(np.asarray(WORD_QUERY)), _keras_out(model, WORD_QUERY),
                               rtol=1e-6, atol=1e-7)
