"""Embedding: lookups of a trained table, against PyTorch's nn.Embedding and Keras' Embedding, its
checks of the indices, and a model that learns from token sequences."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Dense, Embedding, GlobalAveragePooling1D, GlobalMaxPooling1D

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def test_each_index_picks_its_row_whatever_the_input_shape_and_dtype():
    layer = Embedding(7, 3, seed=0)
    layer.build((2, 2))
    table = layer.params["embeddings"]
    for x in (np.array([[[1, 6], [0, 1]]]), np.array([[[1, 6], [0, 1]]], np.uint8),
              np.array([[[1.0, 6.0], [0.0, 1.0]]], np.float32)):
        out = layer.forward(x)
        assert out.shape == (1, 2, 2, 3) and out.dtype == np.float32
        np.testing.assert_array_equal(out[0, 0, 1], table[6])
        np.testing.assert_array_equal(out[0, 1, 1], table[1])
    assert layer.output_shape((2, 2)) == (2, 2, 3)


def test_default_initializer_is_keras_uniform():
    layer = Embedding(1000, 20, seed=0)
    layer.build((5,))
    table = layer.params["embeddings"]
    assert -0.05 <= table.min() < -0.049 and 0.049 < table.max() <= 0.05
    assert layer.get_config()["embeddings_initializer"] == "random_uniform"


@pytest.mark.parametrize("x, message", [
    (np.array([[2.0, 1.5]]), r"expected integer indices \(an Embedding's input\), got 1.5 at \(0, 1\) "
                             r"\(1 of the 2 values are not whole numbers\)"),
    (np.array([[np.nan, 2.0]]), "expected integer indices .*got nan at"),
    (np.array([[np.inf, 2.0]]), r"indices must be in .*got inf at \(0, 0\)"),
    (np.array([[3.0000001, 2.0]]), "got 3.0000001 at"),             # float64: not an index before any cast
    (np.array([[1, 7]]), r"indices must be in \[0, 7\) \(the Embedding's input_dim\), got 7 at \(0, 1\) "
                         r"\(the data runs from 1 to 7\)"),
    (np.array([[2 ** 40 + 3, 1]]), "got 1099511627779 at"),         # as given, not as float32 rounds it
    (np.array([[2 ** 64 - 1, 1]], np.uint64), "got 18446744073709551615 at"),
    (np.array([[-1.0, 3.0]]), r"indices must be in \[0, 7\) \(the Embedding's input_dim\), got -1.0"),
])
def test_bad_indices_are_refused_by_value(x, message):
    layer = Embedding(7, 3, seed=0)
    with pytest.raises(ValueError, match=message):
        layer(x)


def test_non_numeric_input_is_a_type_error():
    with pytest.raises(TypeError, match=r"expected integer indices \(an Embedding's input\), got an array of dtype <U1"):
        Embedding(7, 3, seed=0)(np.array([["a", "b"]]))


@pytest.mark.parametrize("make, error, message", [
    (lambda: Embedding(0, 3), ValueError, "Embedding: input_dim: expected a positive integer, got 0"),
    (lambda: Embedding(5, 2.0), ValueError, "Embedding: output_dim: expected a positive integer, got 2.0"),
    (lambda: Embedding(5, 2, mask_zero="yes"), TypeError, "Embedding: mask_zero: expected True or False"),
    (lambda: Embedding(5, 2, input_length=3, input_shape=(3,)), ValueError, "give input_length or input_shape"),
    (lambda: Embedding(5, 2, input_length=0), ValueError, "Embedding: input_length: expected a positive integer"),
    (lambda: Embedding(5, 2, embeddings_initializer="nope"), ValueError, "Embedding: embeddings_initializer"),
])
def test_bad_arguments_are_refused_by_name(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_a_float32_table_beyond_exact_float32_indices_is_refused():
    layer = Embedding(2 ** 24 + 1, 1, dtype="float32")
    with pytest.raises(ValueError, match=r"more rows than float32 can index exactly .*dtype='float64'"):
        layer.build((2,))
    Embedding(2 ** 24, 1, dtype="float32", embeddings_initializer="zeros").build((2,))     # the last exact one


def test_models_check_all_the_data_before_any_work(rng):
    x, y = _token_data(rng, n=40)
    model = gn.Sequential([Embedding(30, 4, input_length=12), GlobalAveragePooling1D(), Dense(1, activation="sigmoid")],
                          seed=0)
    model.compile("binary_crossentropy", "sgd")
    before = model.get_weights()
    bad = x.copy()
    bad[37, 5] = 30
    with pytest.raises(ValueError, match=r"^x: indices must be in \[0, 30\).*got 30 at \(37, 5\)"):
        model.fit(bad, y, batch_size=4, verbose=0)
    with pytest.raises(ValueError, match=r"^validation_data\[0\]: indices must be in"):
        model.fit(x, y, validation_data=(bad, y), verbose=0)
    with pytest.raises(ValueError, match=r"^x: expected integer indices .*got 3.0000001"):
        model.predict(np.where(x == 3, 3.0000001, x))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))      # nothing trained


def test_pretrained_frozen_vectors_as_keras_writes_them(rng):
    table = rng.standard_normal((30, 4)).astype(np.float32)
    x, y = _token_data(rng, n=40)
    layer = Embedding(30, 4, weights=[table], trainable=False, input_length=12)
    model = gn.Sequential([layer, GlobalAveragePooling1D(), Dense(1, activation="sigmoid")], seed=0)
    np.testing.assert_array_equal(layer.params["embeddings"], table)
    model.compile("binary_crossentropy", "adam")
    model.fit(x, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(layer.params["embeddings"], table)          # frozen
    assert "weights" not in layer.get_config() and "trainable" not in layer.get_config()
    with pytest.raises(ValueError, match=r"weights must be one finite array of shape \(input_dim, output_dim\) = "
                                         r"\(30, 4\), got \(4, 30\)"):
        Embedding(30, 4, weights=table.T)
    with pytest.raises(TypeError, match="Embedding: trainable: expected True or False"):
        Embedding(30, 4, trainable="no")


def test_regularizer_and_constraint_reach_the_table(rng):
    x, y = _token_data(rng, n=40)
    for settings, check in [({"embeddings_regularizer": gn.regularizers.L2(1.0)},
                             lambda m: m.evaluate(x, y, verbose=0) > 0.5),
                            ({"embeddings_constraint": gn.constraints.MaxNorm(0.01)},
                             lambda m: np.linalg.norm(m.layers[0].params["embeddings"], axis=0).max() <= 0.01 + 1e-6)]:
        model = gn.Sequential([Embedding(30, 4, embeddings_initializer="random_normal", input_length=12, **settings),
                               GlobalAveragePooling1D(), Dense(1, activation="sigmoid", kernel_initializer="zeros")],
                              seed=0)
        model.compile("binary_crossentropy", gn.optimizers.SGD(0.5))
        model.fit(x, y, epochs=1, verbose=0)
        assert check(model), settings


@pytest.mark.parametrize("output_dim", [3, 40])        # the two ways backward sums (see _COLUMNWISE_MAX)
def test_wide_and_narrow_tables_sum_alike(output_dim, rng):
    x = rng.integers(0, 9, (5, 7))
    layer = Embedding(9, output_dim, dtype="float64", seed=0)
    out = layer(x)
    grad_out = rng.standard_normal(out.shape)
    layer.backward(grad_out)
    expected = np.zeros((9, output_dim))
    np.add.at(expected, x.reshape(-1), grad_out.reshape(-1, output_dim))
    np.testing.assert_allclose(layer.grads["embeddings"], expected, rtol=1e-13, atol=1e-14)


def test_input_length_is_the_sequence_length():
    layer = Embedding(5, 2, input_length=4)
    assert layer.input_shape == (4,) and "input_length" not in layer.get_config()
    model = gn.Sequential([layer, GlobalAveragePooling1D()], seed=0)
    assert model.output_shape == (None, 2)


def test_gradient_matches_torch_with_repeated_indices(rng, torch):
    x = np.array([[0, 3, 3, 5], [5, 5, 5, 1]])
    layer = Embedding(6, 4, embeddings_initializer="random_normal", dtype="float64", seed=0)
    out = layer(x)
    grad_out = rng.standard_normal(out.shape)
    layer.backward(grad_out)
    reference = torch.nn.Embedding(6, 4)
    with torch.no_grad():
        reference.weight.copy_(torch.tensor(layer.params["embeddings"]))
    theirs = reference(torch.tensor(x))
    theirs.backward(torch.tensor(grad_out))
    np.testing.assert_allclose(out, theirs.detach().numpy(), rtol=0, atol=0)
    np.testing.assert_allclose(layer.grads["embeddings"], reference.weight.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert not layer.grads["embeddings"][[2, 4]].any()          # rows nobody picked


def _token_data(rng, n=400, length=12, vocabulary=30):
    """Sequences of token ids; the label says whether token 7 occurs (a keyword detector)."""
    x = rng.integers(0, vocabulary, (n, length))
    x[rng.random(n) < 0.5, rng.integers(0, length)] = 7
    return x, (x == 7).any(axis=1).astype(np.float32)


def test_a_model_learns_from_token_sequences(rng):
    x, y = _token_data(rng)
    model = gn.Sequential([Embedding(30, 8, input_length=12), GlobalMaxPooling1D(), Dense(1, activation="sigmoid")],
                          seed=0)
    model.compile("binary_crossentropy", gn.optimizers.Adam(0.02), metrics=["accuracy"])
    history = model.fit(x[:300], y[:300], epochs=30, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert model.evaluate(x[300:], y[300:], verbose=0)[1] > 0.9
    assert model.layers[0].needs_input_gradient is False        # first layer: no input gradient made
    steps = model.trace(x[:4], y[:4])                           # every intermediate, the table's gradient too
    assert steps[0]["grads"]["embeddings"].shape == (30, 8)


def test_training_matches_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, y = _token_data(rng, n=64)
    ours = gn.Sequential([Embedding(30, 4, input_length=12), GlobalAveragePooling1D(),
                          Dense(1, activation="sigmoid")], seed=0)
    ours.compile("binary_crossentropy", gn.optimizers.SGD(0.5))
    assert gn.layers.Input((12,), dtype="int32").dtype == "int32"      # accepted, as Keras writes it
    theirs = keras.Sequential([keras.Input((12,), dtype="int32"), keras.layers.Embedding(30, 4),
                               keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1, activation="sigmoid")])
    theirs.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.5))
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), rtol=1e-6)
    ours.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_later_embedding_returns_a_zero_input_gradient():
    layer = Embedding(4, 2, seed=0)
    x = np.array([[1.0, 3.0]])
    layer(x)
    grad = layer.backward(np.ones((1, 2, 2), np.float32))
    assert grad.shape == x.shape and not grad.any()
