"""Review of Keras' list forms (glassnet._listforms): lists that were data before them, one
text (or value) per sample as the rows of an (n, 1) array and the one sample's targets of an
output whose samples start with an axis of 1, stay data; a model of several outputs names its
outputs right when one output's weights come in a list."""
import warnings

import numpy as np
import pytest

import glassnet as gn

L = gn.layers


def test_texts_as_rows_of_a_column_are_samples():
    # list(texts[:, None]) (or a DataFrame's .values) gives one array of shape (1,) per text
    texts = np.array(["a b c", "b c", "c a a", "d"])
    vectorize = L.TextVectorization(output_mode="count")
    vectorize.adapt(texts)
    model = gn.Sequential([vectorize, L.Dense(1)], seed=0)
    np.testing.assert_array_equal(model.predict(list(texts[:, None])), model.predict(texts))
    hashing = gn.Sequential([L.Hashing(num_bins=5), L.Embedding(5, 2), L.Flatten(), L.Dense(1)], seed=0)
    ids = np.array([[1], [5], [7]])
    np.testing.assert_array_equal(hashing.predict(list(ids)), hashing.predict(ids))


def test_one_sample_s_targets_in_a_list_when_output_samples_start_with_one(rng):
    x = rng.standard_normal((1, 3)).astype(np.float32)
    y = rng.standard_normal((1, 1, 2)).astype(np.float32)
    model = gn.Sequential([L.Input((3,)), L.Dense(2), L.Reshape((1, 2))], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    assert model.evaluate(list(x), list(y), verbose=0) == model.evaluate(x, y, verbose=0)
    assert model.evaluate(x, [y], verbose=0) == model.evaluate(x, y, verbose=0)       # Keras' [y] too
    # a tagger of one step, its one sample's labels as a list of rows
    tagger = gn.Sequential([L.Input((1, 3)), L.Dense(3, activation="softmax")], seed=0)
    tagger.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    labels = np.array([[2]])
    assert tagger.evaluate(list(x[:, None]), list(labels), verbose=0) == tagger.evaluate(x[:, None], labels, verbose=0)
    assert tagger.evaluate(x[:, None], [labels], verbose=0) == tagger.evaluate(x[:, None], labels, verbose=0)


def test_one_sample_s_targets_and_weights_in_a_list_still_read_as_before(rng):
    x = rng.standard_normal((1, 3)).astype(np.float32)
    model = gn.Sequential([L.Input((3,)), L.Dense(2)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    y = rng.standard_normal((1, 2)).astype(np.float32)
    w = np.array([2.0], dtype=np.float32)
    plain = model.evaluate(x, y, sample_weight=w, verbose=0)
    assert model.evaluate([x], [y], sample_weight=[w], verbose=0) == plain
    assert model.evaluate(list(x), list(y), sample_weight=list(w), verbose=0) == plain
    one = gn.Sequential([L.Input((3,)), L.Dense(1)], seed=0)
    one.compile(loss="mse", optimizer="sgd")
    assert one.evaluate(list(x), [np.array([0.5])], verbose=0) == one.evaluate(x, np.array([[0.5]]), verbose=0)


def test_several_outputs_name_the_output_whose_weights_are_a_list(rng):
    a, b = gn.Input((3,)), gn.Input((2,))
    both = L.Concatenate()([a, b])
    model = gn.Model([a, b], [L.Dense(2, name="o1")(both), L.Dense(1, name="o2")(both)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    xa, xb = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    ys, w = [rng.standard_normal((6, 2)), rng.standard_normal((6, 1))], np.ones(6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"^sample_weight\['o2'\]: expected one weight per sample") as info:
            model.evaluate([xa, xb], ys, sample_weight=[w, [w, w]], verbose=0)
    assert "one output" not in str(info.value)      # the model has two
