"""Permute and RepeatVector against Keras 3.15, in a sequence-to-sequence model, and their errors.
The layer contract (finite differences included) is in test_layer_contract.py."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import LSTM, Dense, Permute, RepeatVector, TimeDistributed

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.mark.parametrize("dims", [(2, 1), (3, 1, 2), (1, 3, 2)])
def test_permute_matches_keras(dims, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(2, 3, 4, 5)[:len(dims) + 1]).astype(np.float32)
    np.testing.assert_array_equal(Permute(dims)(x), np.asarray(keras.layers.Permute(dims)(x)))
    assert Permute(dims).output_shape(x.shape[1:]) == tuple(np.asarray(keras.layers.Permute(dims)(x)).shape[1:])


def test_repeat_vector_matches_keras_and_sums_its_gradient(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(3, 4)).astype(np.float32)
    layer = RepeatVector(5)
    np.testing.assert_array_equal(layer(x), np.asarray(keras.layers.RepeatVector(5)(x)))
    grad = rng.normal(size=(3, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(layer.backward(grad), grad.sum(axis=1), rtol=1e-6)


def test_a_sequence_autoencoder_trains_as_keras(rng):
    """Keras' classic seq2seq shape: LSTM encoder -> RepeatVector -> LSTM decoder -> TimeDistributed(Dense)."""
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(16, 5, 2)).astype(np.float32)
    ours = gn.Sequential([LSTM(4, input_shape=(5, 2)), RepeatVector(5), LSTM(4, return_sequences=True),
                          TimeDistributed(Dense(2))], seed=0)
    ours.compile("mse", gn.optimizers.SGD(0.3))
    theirs = keras.Sequential([keras.Input((5, 2)), keras.layers.LSTM(4), keras.layers.RepeatVector(5),
                               keras.layers.LSTM(4, return_sequences=True),
                               keras.layers.TimeDistributed(keras.layers.Dense(2))])
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.3))
    theirs.set_weights(ours.get_weights())
    ours.fit(x, x, epochs=3, batch_size=4, shuffle=False, verbose=0)
    theirs.fit(x, x, epochs=3, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("make, message", [
    (lambda: Permute((1, 1)), r"Permute: dims must be a permutation of 1 ... rank"),
    (lambda: Permute((0, 1)), r"Permute: dims must be a permutation"),
    (lambda: Permute(2), r"Permute: dims must be a permutation .*got 2$"),
    (lambda: RepeatVector(0), "RepeatVector: n must be a positive integer, got 0"),
    (lambda: gn.Sequential([Permute((2, 1), input_shape=(3,))]), r"dims \(2, 1\) permute samples of 2 axes"),
    (lambda: gn.Sequential([RepeatVector(2, input_shape=(3, 4))]), r"expected vectors, samples of shape \(features,\)"),
])
def test_bad_settings_are_refused_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_permute_returns_a_copy_as_documented(rng):
    x = rng.normal(size=(2, 3, 4))
    out = Permute((2, 1))(x)
    out[...] = 0
    assert x.any()
