"""Review of attention_mask= / return_attention_scores in drawn models with open lengths."""
import numpy as np
import pytest

import glassnet as gn
from keras_twins import twins


def _block(lib):
    tokens, allowed = lib.Input((None, 4), name="tokens"), lib.Input((None, None), name="allowed")
    out, scores = lib.layers.MultiHeadAttention(2, 3, name="mha")(tokens, tokens, attention_mask=allowed,
                                                                  return_attention_scores=True)
    return [tokens, allowed], [out, scores]


def test_predict_with_attention_scores_of_open_lengths():
    """Input((None, d)) with an attention_mask Input((None, None)) and return_attention_scores:
    predict without batch_size crashed in _auto_batch_size (AttentionScores.numbers_per_sample:
    math.prod of (heads, None, None) -> TypeError)."""
    model = gn.Model(*_block(gn), seed=0)
    rng = np.random.default_rng(0)
    x = [rng.standard_normal((3, 5, 4)).astype("f"), (rng.random((3, 5, 5)) > 0.3).astype("f")]
    out, scores = model.predict(x, verbose=0)
    assert out.shape == (3, 5, 4) and scores.shape == (3, 2, 5, 5)


def _unmasked(lib):
    tokens = lib.Input((None, 4), name="tokens")
    out, scores = lib.layers.MultiHeadAttention(2, 3, name="mha")(tokens, tokens, return_attention_scores=True)
    return [tokens], [out, scores]


def test_fit_on_attention_scores_of_open_lengths_with_a_mask_input():
    """A loss on the scores (attention supervision) of a model of open lengths: fit crashed in
    preparing.prepare_targets (y.reshape(-1, None)) -> TypeError."""
    model = gn.Model(*_block(gn), seed=0)
    model.compile(loss=["mse", "mse"], optimizer="sgd")
    rng = np.random.default_rng(1)
    x = [rng.standard_normal((8, 5, 4)).astype("f"), (rng.random((8, 5, 5)) > 0.3).astype("f")]
    y = [rng.standard_normal((8, 5, 4)).astype("f"), rng.random((8, 2, 5, 5)).astype("f")]
    assert np.isfinite(model.fit(x, y, epochs=1, verbose=0).history["loss"]).all()


def test_fit_on_attention_scores_of_open_lengths_as_keras():
    """The same without the mask input, against Keras 3.15, which trains it."""
    keras = pytest.importorskip("keras")
    keras.backend.clear_session()
    ours, theirs = twins(_unmasked, keras)
    rng = np.random.default_rng(1)
    x = [rng.standard_normal((8, 5, 4)).astype("f")]
    y = [rng.standard_normal((8, 5, 4)).astype("f"), rng.random((8, 2, 5, 5)).astype("f")]
    ours.compile(loss=["mse", "mse"], optimizer=gn.optimizers.SGD(0.1))
    theirs.compile(loss=["mse", "mse"], optimizer=keras.optimizers.SGD(0.1))
    mine = ours.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    their = theirs.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(mine, their, rtol=1e-5)
