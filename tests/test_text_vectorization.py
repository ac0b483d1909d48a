"""TextVectorization: vocabularies and outputs against Keras 3.15's layer, numbers worked by hand, a
model that takes texts end to end (fit, evaluate, predict, save and load), and the refusals."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Dense, Embedding, GlobalAveragePooling1D, Input, LSTM, TextVectorization

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TEXTS = ["The cat sat on the mat.", "the dog ate my homework!", "A cat, a dog; a bird?", "Dog eat dog",
         "zebra", "", "  spaced\tout\nlines  ", "Héllo WORLD École ÉCOLE", "a\u00a0b  c", "[UNK] it's 3.5% (or so)"]
LATER = ["the zebra ate a cat", "unknown words only", "dog dog dog the the", "", "École!"]

# each: the layer's arguments; the same for glassnet and Keras
SETTINGS = [
    {},
    {"output_sequence_length": 4},
    {"output_sequence_length": 12, "max_tokens": 6},
    {"ngrams": 2, "output_sequence_length": 9},
    {"ngrams": (1, 3)},
    {"split": "character", "standardize": "lower"},
    {"standardize": None},
    {"standardize": "strip_punctuation"},
    {"split": None},
    {"split": None, "output_mode": "multi_hot"},
    {"output_mode": "multi_hot"},
    {"output_mode": "count", "max_tokens": 5},
    {"output_mode": "tf_idf"},
    {"output_mode": "tf_idf", "max_tokens": 7, "ngrams": 2},
    {"output_mode": "multi_hot", "max_tokens": 30, "pad_to_max_tokens": True},
    {"output_mode": "tf_idf", "max_tokens": 30, "pad_to_max_tokens": True},
]


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
def test_vocabulary_and_outputs_match_keras(settings):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = TextVectorization(**settings), keras.layers.TextVectorization(**settings)
    ours.adapt(TEXTS)
    theirs.adapt(TEXTS)
    assert ours.get_vocabulary() == [str(t) for t in theirs.get_vocabulary()]
    assert ours.vocabulary_size() == theirs.vocabulary_size()
    for texts in (TEXTS, LATER, np.array(LATER)[:, None]):
        # unsplit texts: Keras reads a flat (n,) as one sample of n tokens, (n, 1) as n samples;
        # glassnet reads both as n samples, one token (and one id) each
        as_keras_reads = np.array(texts).reshape(-1, 1) if "split" in settings and settings["split"] is None else texts
        expected = np.asarray(theirs(as_keras_reads))
        got = ours(texts)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize("mode", ["int", "multi_hot", "tf_idf"])
@pytest.mark.parametrize("with_specials", [False, True])
def test_a_given_vocabulary_matches_keras_with_or_without_its_special_tokens(mode, with_specials):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    specials = (["", "[UNK]"] if mode == "int" else ["[UNK]"]) if with_specials else []
    vocabulary = specials + ["cat", "dog", "the"]
    # one weight per entry: with "[UNK]" in front, its own (0.1); without, the others' mean
    idf = {"idf_weights": [0.1] * with_specials + [0.5, 2.0, 1.5]} if mode == "tf_idf" else {}
    theirs = keras.layers.TextVectorization(output_mode=mode, vocabulary=vocabulary, **idf)
    ours = TextVectorization(output_mode=mode, vocabulary=vocabulary, **idf)
    assert ours.get_vocabulary() == [str(t) for t in theirs.get_vocabulary()]
    np.testing.assert_allclose(ours(LATER + TEXTS), np.asarray(theirs(LATER + TEXTS)), rtol=1e-6)
    assert ours.get_vocabulary(include_special_tokens=False) == ["cat", "dog", "the"]
    copy = TextVectorization.from_config(ours.get_config())
    np.testing.assert_array_equal(copy(LATER + TEXTS), ours(LATER + TEXTS))


def test_worked_numbers():
    layer = TextVectorization(output_mode="tf_idf")
    layer.adapt(["b a a", "b c", "b"])          # counts b 3, a 2, c 1; b in 3 texts, a and c in 1
    assert layer.get_vocabulary() == ["[UNK]", "b", "a", "c"]
    idf = [np.log(1 + 3 / 4), np.log(1 + 3 / 2), np.log(1 + 3 / 2)]
    # "a a d": two a's and one unknown token, weighted by the mean of the learnt weights
    np.testing.assert_allclose(layer(["a a d"]), [[np.mean(idf), 0, 2 * idf[1], 0]], rtol=1e-6)
    ids = TextVectorization(max_tokens=4)
    ids.adapt(["x y y z", "z z"])            # z 3, y 2, x 1: room for two tokens after "" and [UNK]
    assert ids.get_vocabulary() == ["", "[UNK]", "z", "y"]
    assert ids(["X, z!", "y"]).tolist() == [[1, 2], [3, 0]]
    ties = TextVectorization()
    ties.adapt(["b a c"])                      # equal counts: the token, highest first
    assert ties.get_vocabulary() == ["", "[UNK]", "c", "b", "a"]


def test_adapt_takes_batches_from_a_generator_and_steps():
    whole = TextVectorization()
    whole.adapt(TEXTS[:6])
    batched = TextVectorization()
    batched.adapt((TEXTS[i:i + 2] for i in range(0, len(TEXTS), 2)), steps=3)
    assert batched.get_vocabulary() == whole.get_vocabulary()
    for data in (tuple(TEXTS[:6]), (tuple(TEXTS[i:i + 2]) for i in range(0, 6, 2)),     # tuples of texts
                 ((np.array(TEXTS[i:i + 2]), np.zeros(2)) for i in range(0, 6, 2))):    # (texts, labels)
        layer = TextVectorization()
        layer.adapt(data)
        assert layer.get_vocabulary() == whole.get_vocabulary()


def test_functions_as_standardize_and_split_work_but_cannot_be_saved(tmp_path):
    layer = TextVectorization(standardize=str.upper, split=lambda text: text.split("-"))
    layer.adapt(["a-b", "b-c"])
    assert layer.get_vocabulary() == ["", "[UNK]", "B", "C", "A"]
    model = gn.Sequential([layer, Embedding(layer.vocabulary_size(), 2), GlobalAveragePooling1D()])
    assert model.predict(["a-c"], verbose=0).shape == (1, 2)
    with pytest.raises(ValueError, match="standardize is a function, which a model file cannot hold"):
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def _sentiment(rng, n):
    good, bad, other = ["good", "great", "fine"], ["bad", "awful", "poor"], ["the", "a", "movie", "plot", "is"]
    texts, labels = [], []
    for _ in range(n):
        words = list(rng.choice(good if rng.random() < 0.5 else bad, 2)) + list(rng.choice(other, rng.integers(1, 6)))
        rng.shuffle(words)
        texts.append(" ".join(words).capitalize() + "!")
        labels.append(float(words[0] in good or any(w in good for w in words)))
    return texts, np.array(labels, np.float32)


def test_a_model_takes_texts_in_fit_evaluate_and_predict_and_keeps_its_vocabulary(tmp_path, rng):
    texts, y = _sentiment(rng, 300)
    vectorizer = TextVectorization(output_sequence_length=8)
    vectorizer.adapt(texts)
    model = gn.Sequential([vectorizer, Embedding(vectorizer.vocabulary_size(), 8), GlobalAveragePooling1D(),
                           Dense(1, activation="sigmoid")], seed=0)
    model.compile("binary_crossentropy", gn.optimizers.Adam(0.05), metrics=["accuracy"])
    history = model.fit(texts[:240], y[:240], epochs=15, batch_size=32, verbose=0,
                        validation_data=(texts[240:], y[240:]))
    assert history.history["val_accuracy"][-1] > 0.95
    assert model.evaluate(np.array(texts[240:])[:, None], y[240:], verbose=0)[1] > 0.95
    assert model.predict(["Great plot, good movie", "awful, poor plot"], verbose=0).ravel().round().tolist() == [1, 0]
    steps = model.trace(texts[:2], y[:2])             # the ids the model made, layer by layer
    np.testing.assert_array_equal(steps[0]["input"], vectorizer(texts[:2]))
    np.testing.assert_array_equal(steps[1]["input"], vectorizer(texts[:2]))
    model.save(tmp_path / "text.npz")
    loaded = gn.load_model(tmp_path / "text.npz")
    assert loaded.layers[0].get_vocabulary() == vectorizer.get_vocabulary()
    np.testing.assert_array_equal(loaded.predict(texts, verbose=0), model.predict(texts, verbose=0))


def test_training_on_texts_is_training_on_their_ids(rng):
    texts, y = _sentiment(rng, 64)
    vectorizer = TextVectorization(output_mode="tf_idf")
    vectorizer.adapt(texts)

    def model(first):
        return gn.Sequential([*first, Dense(4, activation="relu", seed=1), Dense(1, activation="sigmoid", seed=2)], seed=3)
    on_texts, on_ids = model([vectorizer]), model([Input((vectorizer.vocabulary_size(),))])
    for m in (on_texts, on_ids):
        m.compile("binary_crossentropy", "sgd")
    on_texts.fit(texts, y, epochs=3, batch_size=16, verbose=0)
    on_ids.fit(vectorizer(texts), y, epochs=3, batch_size=16, verbose=0)
    for a, b in zip(on_texts.get_weights(), on_ids.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_any_length_ids_after_an_input_of_strings_feed_a_masked_lstm(rng):
    texts, y = _sentiment(rng, 40)
    vectorizer = TextVectorization()          # no output_sequence_length: each call's longest text
    vectorizer.adapt(texts)
    model = gn.Sequential([Input((1,), dtype="string"), vectorizer,
                           Embedding(vectorizer.vocabulary_size(), 4, mask_zero=True), LSTM(3),
                           Dense(1, activation="sigmoid")], seed=0)
    assert model.input_shape == (None, 1) and model._sample_input_shape == (None,)      # the strings; the ids: any length
    model.compile("binary_crossentropy", "adam")
    model.fit(texts, y, epochs=1, batch_size=8, verbose=0)
    # with the padding masked, a text's answer does not depend on the longest text beside it
    alone = model.predict(["good movie"], verbose=0)
    beside = model.predict(["good movie", "the plot is a good plot is the movie"], verbose=0)[:1]
    np.testing.assert_allclose(alone, beside, rtol=1e-6)


def test_refusals_name_what_was_wrong():
    with pytest.raises(ValueError, match="output_mode must be one of"):
        TextVectorization(output_mode="one_hot")       # ("binary" is Keras' older "multi_hot")
    with pytest.raises(ValueError, match="output_sequence_length is for output_mode='int'"):
        TextVectorization(output_mode="count", output_sequence_length=3)
    with pytest.raises(ValueError, match="max_tokens must leave room"):
        TextVectorization(max_tokens=2)
    with pytest.raises(ValueError, match="ngrams need tokens"):
        TextVectorization(split=None, ngrams=2)
    with pytest.raises(ValueError, match="ngrams must be None, a positive integer"):
        TextVectorization(ngrams=(1, 0))
    with pytest.raises(ValueError, match="pad_to_max_tokens=True needs max_tokens"):
        TextVectorization(output_mode="multi_hot", pad_to_max_tokens=True)
    with pytest.raises(ValueError, match=r"vocabulary repeats \['a'\]"):
        TextVectorization(vocabulary=["a", "b", "a"])
    with pytest.raises(ValueError, match="a special token, after its start"):
        TextVectorization(vocabulary=["a", "[UNK]"])
    with pytest.raises(ValueError, match="more than max_tokens=3"):
        TextVectorization(vocabulary=["a", "b"], max_tokens=3)
    with pytest.raises(ValueError, match="idf_weights go with output_mode='tf_idf'"):
        TextVectorization(output_mode="tf_idf", vocabulary=["a"])
    with pytest.raises(ValueError, match="expected 2 finite idf_weights"):
        TextVectorization(output_mode="tf_idf", vocabulary=["a", "b"], idf_weights=[1.0])
    with pytest.raises(ValueError, match="has no vocabulary yet; call adapt"):
        TextVectorization()(["a b"])
    layer = TextVectorization(vocabulary=["a"])
    with pytest.raises(TypeError, match="got one str: write"):
        layer("a b")
    with pytest.raises(ValueError, match=r"texts of shape \(n,\) or \(n, 1\), got shape \(1, 2\)"):
        layer([["a", "b"]])
    with pytest.raises(TypeError, match="expected texts .str or bytes., got int 3 at index 1"):
        layer.encode(["a", 3])


def test_a_model_refuses_text_layers_out_of_place_and_numbers_for_texts():
    layer = TextVectorization(vocabulary=["a", "b"])
    with pytest.raises(ValueError, match="must be the model's first layer"):
        gn.Sequential([Dense(2, input_dim=3), layer])
    with pytest.raises(ValueError, match="Input declares texts"):
        gn.Sequential([Input((1,), dtype="string"), Dense(2)])
    with pytest.raises(ValueError, match="one text per sample"):
        gn.Sequential([Input((3,)), layer])
    model = gn.Sequential([layer, Embedding(3, 2), GlobalAveragePooling1D(), Dense(1)])
    model.compile("mse", "sgd")
    with pytest.raises(TypeError, match="x: expected texts"):
        model.predict(np.ones((2, 1)), verbose=0)
    # an Embedding smaller than the vocabulary: the error says which input_dim it needs
    small = gn.Sequential([TextVectorization(vocabulary=["a", "b"]), Embedding(3, 2)])
    with pytest.raises(ValueError, match=r"makes ids up to 3: give layer embedding .Embedding. input_dim=4"):
        small.predict(["b a"], verbose=0)
    from glassnet.layers import CategoryEncoding
    counts = gn.Sequential([TextVectorization(vocabulary=["a", "b"]), CategoryEncoding(3)])
    with pytest.raises(ValueError, match=r"makes ids up to 3: give layer category_encoding .CategoryEncoding. num_tokens=4"):
        counts.predict(["b a"], verbose=0)


def test_a_vocabulary_of_another_width_needs_a_new_model_which_the_old_one_says(tmp_path):
    layer = TextVectorization(output_mode="multi_hot")
    layer.adapt(["a b"])
    old = gn.Sequential([layer, Dense(1)])
    layer.adapt(["c d"])                                          # as wide: the model takes it
    assert old.predict(["c"], verbose=0).shape == (1, 1)
    layer.adapt(["a b c"])
    with pytest.raises(ValueError, match=r"now makes samples of shape \(4,\), the model was built for \(3,\): its "
                                         r"vocabulary changed"):
        old.predict(["a"], verbose=0)
    with pytest.raises(ValueError, match=r"^save_model: .* now makes samples of shape \(4,\)"):
        old.save(tmp_path / "stale.npz")               # its weights would not load: nothing written
    assert not (tmp_path / "stale.npz").exists()
    old.pop(), old.pop()
    new = gn.Sequential([layer, Dense(1)])                        # the layer, rebuilt for its new width
    assert new.predict(["a"], verbose=0).shape == (1, 1) and new.layers[1].get_weights()[0].shape == (4, 1)


def test_empty_texts_in_a_model_are_padding(rng):
    layer = TextVectorization(vocabulary=["good", "bad"])
    assert layer(["", "!!"]).shape == (2, 0)                     # alone: nothing to pad to (Keras)
    model = gn.Sequential([layer, Embedding(4, 2, mask_zero=True), LSTM(2)], seed=0)
    np.testing.assert_array_equal(model.predict(["", "!!"], verbose=0), np.zeros((2, 2)))


@pytest.mark.parametrize("declared", [(), (1,)])
def test_a_model_that_takes_texts_round_trips_through_its_config_and_files(declared, tmp_path):
    adapted = TextVectorization(output_mode="multi_hot", max_tokens=np.int64(5))      # NumPy ints are fine too
    adapted.adapt(["a b", "b c"])
    unadapted = TextVectorization(output_mode="count", output_sequence_length=None)
    for first in (adapted, unadapted):
        model = gn.Sequential([Input(declared, dtype="string"), first, Dense(1)], seed=0)
        model.compile("mse", "sgd")
        model.save(tmp_path / "m.npz")
        for copy in (gn.load_model(tmp_path / "m.npz"), gn.Sequential.from_config(model.get_config())):
            assert copy.built == model.built and copy._declared_text
            if model.built:
                np.testing.assert_array_equal(copy.predict(["a c d"], verbose=0), model.predict(["a c d"], verbose=0))
            with pytest.raises(ValueError, match="Input declares texts"):
                copy.pop(), copy.pop(), copy.add(Dense(1))


def test_a_config_too_large_for_a_model_file_is_refused_before_writing(tmp_path, monkeypatch):
    from glassnet import _modelfile       # the limit the writer and the reader share
    layer = TextVectorization(vocabulary=[f"token{i}" for i in range(100)])
    model = gn.Sequential([layer, Embedding(102, 2)])
    monkeypatch.setattr(_modelfile, "MAX_CONFIG_BYTES", 1000)
    with pytest.raises(ValueError, match="more than a model file holds .1,000.; a TextVectorization's vocabulary"):
        model.save(tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())


def test_keras_arguments_at_their_defaults_files_and_bytes(tmp_path):
    TextVectorization(encoding="utf-8", sparse=False, ragged=False)
    for what, value in (("encoding", "latin-1"), ("sparse", True), ("ragged", True)):
        with pytest.raises(ValueError, match=f"{what}=.* is not supported"):
            TextVectorization(**{what: value})
    path = tmp_path / "vocabulary.txt"
    path.write_bytes("foo\u2028bar\r\nbaz\n".encode("utf-8"))        # "\n" alone ends a line
    layer = TextVectorization(vocabulary=path, standardize=None)
    assert layer.get_vocabulary() == ["", "[UNK]", "foo\u2028bar", "baz"]
    assert layer([b"baz foo\xe2\x80\xa8bar"]).tolist() == [[3, 2]]
    with pytest.raises(ValueError, match="the text at index 1 is not UTF-8"):
        layer([b"baz", b"\xff"])
    assert TextVectorization().get_vocabulary() == ["", "[UNK]"] and TextVectorization().vocabulary_size() == 2


@pytest.mark.parametrize("cls, words", [(TextVectorization, ["cat", "dog"]), (gn.layers.StringLookup, ["cat", "dog"]),
                                        (gn.layers.IntegerLookup, [3, 4])])
def test_a_vocabulary_given_when_made_refuses_adapt_one_set_later_does_not_as_in_keras(cls, words):
    # Keras: has_input_vocabulary comes from vocabulary= alone; TextVectorization.adapt used to
    # replace a vocabulary given when made, and the lookups refused one set by set_vocabulary
    data = ["the cat sat", "the dog ran"] if cls is TextVectorization else \
        (np.array([["cat"], ["owl"], ["owl"]]) if cls is gn.layers.StringLookup else np.array([[3], [7], [7]]))
    made = cls(vocabulary=words)
    with pytest.raises(ValueError, match="adapt: a vocabulary was given when the layer was made|a vocabulary was given when"):
        made.adapt(data)
    assert made.get_vocabulary(include_special_tokens=False) == words      # untouched
    # the flag travels in the config: given stays given, learnt (or set later) may adapt
    with pytest.raises(ValueError, match="a vocabulary was given when"):
        cls.from_config(made.get_config()).adapt(data)
    later = cls()
    later.set_vocabulary(words)
    later.adapt(data)
    assert later.get_vocabulary(include_special_tokens=False) != words
    cls.from_config(later.get_config()).adapt(data)
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    theirs = getattr(keras.layers, cls.__name__)(vocabulary=words)
    with pytest.raises(ValueError, match="Cannot adapt"):
        theirs.adapt(data)
    theirs = getattr(keras.layers, cls.__name__)()
    theirs.set_vocabulary(words)
    theirs.adapt(data)
    assert [str(t) if not isinstance(t, (int, np.integer)) else int(t) for t in theirs.get_vocabulary()] == \
        later.get_vocabulary()


@pytest.mark.parametrize("make, adapted, expected", [
    (lambda L: L.TextVectorization(max_tokens=10), False, (None, None)),
    (lambda L: L.TextVectorization(output_sequence_length=5), False, (None, 5)),
    (lambda L: L.TextVectorization(max_tokens=10, output_mode="multi_hot"), False, (None, None)),
    (lambda L: L.TextVectorization(output_mode="tf_idf"), False, (None, None)),
    (lambda L: L.TextVectorization(max_tokens=10, output_mode="count", pad_to_max_tokens=True), False, (None, 10)),
    (lambda L: L.TextVectorization(max_tokens=10, output_mode="multi_hot"), True, (None, 6)),
    (lambda L: L.StringLookup(), False, (None, 3)),
    (lambda L: L.StringLookup(output_mode="one_hot"), False, (None, None)),
    (lambda L: L.StringLookup(output_mode="one_hot"), True, (None, 5)),
    (lambda L: L.StringLookup(vocabulary=["a", "b"], output_mode="multi_hot"), False, (None, 3)),
    (lambda L: L.IntegerLookup(output_mode="multi_hot", max_tokens=5), False, (None, None)),
    (lambda L: L.IntegerLookup(output_mode="count"), False, (None, None))], ids=str)
def test_compute_output_shape_is_what_calling_the_layer_gives(make, adapted, expected):
    """compute_output_shape answers for the texts (values) the layer is called on, as Keras 3.15
    does (expected: Keras' answers; None where no vocabulary sets the width yet), not for the ids
    it passes on inside a model: unbuilt, it gave (None, 1) for texts (None, 1), whatever the mode."""
    texts = ["the cat sat", "the dog", "a cat"]
    layer = make(gn.layers)
    lookup = not isinstance(layer, gn.layers.TextVectorization)
    if adapted:
        layer.adapt(np.array(["the", "cat", "sat", "dog"]) if lookup else texts)
    given = (None, 3) if lookup and layer.output_mode in ("int", "multi_hot", "count") else (None, 1)
    if isinstance(layer, gn.layers.IntegerLookup) and not isinstance(layer, gn.layers.StringLookup):
        given = (None, 3)
    assert layer.compute_output_shape(given) == expected
    if layer.output_mode != "int" and expected[1] is not None and layer.tokens is not None:   # the call: that width
        data = np.array([["the", "cat", "x"]] * 2) if given == (None, 3) else np.array([["cat"], ["dog"]])
        assert layer(data if lookup else ["the cat", "a dog"]).shape[1:] == expected[1:]
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    if not adapted:
        assert tuple(make(keras.layers).compute_output_shape(given if lookup else (None,))) == expected
