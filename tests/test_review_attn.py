"""Review (attention, merges): a built attention or merge layer takes inputs whose axes before the
features have other sizes (a sequence's steps), as Keras' layers and glassnet's Dense do."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers


def _keras_mha_like(mha, keras):
    """Keras' MultiHeadAttention with ``mha``'s weights (both built)."""
    twin = keras.layers.MultiHeadAttention(num_heads=mha.num_heads, key_dim=mha.key_dim)
    twin(np.zeros((1, 2, 8), "float32"), np.zeros((1, 2, 8), "float32"))
    names = ["query_kernel", "query_bias", "key_kernel", "key_bias", "value_kernel", "value_bias",
             "output_kernel", "output_bias"]
    twin.set_weights([mha.params[n] for n in names])
    return twin


def test_multi_head_attention_called_again_on_other_lengths_as_keras(rng):
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=4, seed=0)
    mha(rng.normal(size=(2, 3, 8)), rng.normal(size=(2, 5, 8)))
    q, v = rng.normal(size=(2, 7, 8)).astype("float32"), rng.normal(size=(2, 9, 8)).astype("float32")
    out = mha(q, v, use_causal_mask=True)          # was: "built for inputs of shapes [(3, 8), (5, 8)]"
    assert out.shape == (2, 7, 8)
    keras = pytest.importorskip("keras")
    expected = np.asarray(_keras_mha_like(mha, keras)(q, v, use_causal_mask=True))
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_a_trained_decoder_drawn_again_for_fewer_steps():
    # a causal self-attention model drawn for 6 steps, its layers drawn again for 2 (inference)
    x = np.random.default_rng(0).normal(size=(3, 6, 8)).astype("float32")
    mha, add = layers.MultiHeadAttention(num_heads=2, key_dim=4, seed=0), layers.Add()
    concat, attention = layers.Concatenate(axis=1), layers.Attention()

    def draw(steps):
        i = gn.Input((steps, 8))
        h = add([mha(i, i, use_causal_mask=True), i])
        return gn.Model(i, [h, concat([h, i]), attention([h, i])])

    full = draw(6).predict(x)
    short = draw(2).predict(x[:, :2])
    np.testing.assert_allclose(short[0], full[0][:, :2], atol=1e-5)     # causal: a prefix is a prefix
    assert short[1].shape == (3, 4, 8) and short[2].shape == (3, 2, 8)


def test_a_built_merge_still_refuses_other_features_or_ranks():
    add = layers.Add()
    add([np.ones((2, 3, 4)), np.ones((2, 3, 4))])
    assert add([np.ones((2, 5, 4)), np.ones((2, 5, 4))]).shape == (2, 5, 4)
    with pytest.raises(ValueError, match="built for inputs of shapes"):
        add([np.ones((2, 3, 5)), np.ones((2, 3, 5))])
    with pytest.raises(ValueError, match="built for inputs of shapes"):
        add([np.ones((2, 3, 2, 4)), np.ones((2, 3, 2, 4))])
    attention = layers.Attention(use_scale=True)
    attention([np.ones((2, 3, 4)), np.ones((2, 5, 4))])
    with pytest.raises(ValueError, match="built for inputs of shapes"):
        attention([np.ones((2, 3, 6)), np.ones((2, 5, 6))])
