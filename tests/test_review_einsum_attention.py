"""Review of EinsumDense's diagonals, GroupQueryAttention's sliding_window and MultiHeadAttention's
attention_axes: the differences from Keras 3.15 found, each a test that failed before its fix."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers


def test_a_diagonal_with_one_of_its_axes_left_open_builds_as_keras(rng):
    # Keras sizes b from the axis given (3) and takes Input((None, 3)); glassnet refused the None
    inputs = gn.Input((None, 3))
    layer = L.EinsumDense("abb,bc->ac", 6, bias_axes="c", name="diag")
    model = gn.Model(inputs, layer(inputs), seed=0)
    x = rng.standard_normal((2, 3, 3)).astype(np.float32)
    assert layer.params["kernel"].shape == (3, 6)
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               np.einsum("abb,bc->ac", x, layer.params["kernel"]) + layer.params["bias"], rtol=1e-6)
    with pytest.raises(ValueError, match="must have one size"):           # two sizes given still differ
        L.EinsumDense("abb,bc->ac", 6).build((3, 4))


@pytest.mark.parametrize("output_shape", [(7,), [7]])
def test_multi_head_attention_takes_keras_one_axis_output_shape(output_shape, rng):
    # Keras accepts a tuple or list (and its get_config stores (7,) for output_shape=7)
    x = rng.standard_normal((2, 5, 4)).astype(np.float32)
    layer = L.MultiHeadAttention(2, 3, output_shape=output_shape, seed=0)
    assert layer(x, x).shape == (2, 5, 7)
    assert L.MultiHeadAttention.from_config(layer.get_config())(x, x).shape == (2, 5, 7)
    with pytest.raises(ValueError, match=r"output_shape must be a positive integer \(or a tuple of one"):
        L.MultiHeadAttention(2, 3, output_shape=(2, 3))


def test_multi_head_attention_takes_keras_sliding_window(rng):
    # Keras 3.15's MultiHeadAttention has sliding_window (the band GroupQueryAttention has), after attention_axes
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    query, value = rng.standard_normal((2, 6, 4)).astype(np.float32), rng.standard_normal((2, 5, 4)).astype(np.float32)
    ours = L.MultiHeadAttention(2, 3, None, 0.0, True, None, None, 2, seed=0)      # Keras' positions
    theirs = keras.layers.MultiHeadAttention(2, 3, None, 0.0, True, None, None, 2)
    ours(query, value)
    theirs(query, value)
    theirs.set_weights(ours.get_weights())
    for causal in (False, True):
        for scores in (False, True):
            got = ours(query, value, use_causal_mask=causal, return_attention_scores=scores)
            expected = theirs(query, value, use_causal_mask=causal, return_attention_scores=scores)
            for a, b in zip(*((got, expected) if scores else ([got], [expected]))):
                np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)
    assert L.MultiHeadAttention.from_config(ours.get_config()).sliding_window == 2
    with pytest.raises(NotImplementedError, match=r"sliding_window=2 is not supported with attention over axes"):
        L.MultiHeadAttention(2, 3, sliding_window=2)(np.ones((2, 3, 4, 5)), np.ones((2, 3, 4, 5)))


@pytest.mark.parametrize("argument", ["use_causal_mask", "attention_mask"])
def test_a_mask_over_an_image_s_axes_is_refused_when_the_model_is_drawn(argument):
    # the eager call refuses it at once; a model drawn took it and failed only in predict or fit
    images, allowed = gn.Input((4, 4, 6)), gn.Input((4, 4))
    mha = L.MultiHeadAttention(2, 3)
    given = dict(use_causal_mask=True) if argument == "use_causal_mask" else dict(attention_mask=allowed)
    with pytest.raises(NotImplementedError, match=rf"{argument}(=True)? is not supported with attention over axes "
                                                  r"\(1, 2\) of inputs of 4 axes"):
        mha(images, images, **given)
