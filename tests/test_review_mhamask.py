"""MultiHeadAttention's and GroupQueryAttention's masks given to an eager call, against Keras 3.15.

Keras 3.15's ``MultiHeadAttention.call`` reads the query's mask from the query tensor alone
(``query_mask = backend.get_keras_mask(query)``), so a ``query_mask`` argument, by keyword or by
position, changes nothing there; its ``GroupQueryAttention.call`` uses the argument."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers


def _pair(keras, rng, grouped):
    query, value = rng.standard_normal((2, 4, 6)).astype(np.float32), rng.standard_normal((2, 5, 6)).astype(np.float32)
    if grouped:
        ours = L.GroupQueryAttention(head_dim=3, num_query_heads=2, num_key_value_heads=1, seed=0)
        theirs = keras.layers.GroupQueryAttention(head_dim=3, num_query_heads=2, num_key_value_heads=1)
    else:
        ours, theirs = L.MultiHeadAttention(2, 3, seed=0), keras.layers.MultiHeadAttention(2, 3)
    ours(query, value)
    theirs(query, value)
    theirs.set_weights(ours.get_weights())
    return ours, theirs, query, value


QUERY_MASK = np.array([[1, 1, 0, 1], [1, 0, 1, 1]], bool)       # a padded query step in each sample
VALUE_MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], bool)


def _assert_same(mine, theirs, scores):
    for a, b in zip(*((mine, theirs) if scores else ([mine], [theirs]))):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("scores", [False, True], ids=["fused", "scores"])
def test_a_query_mask_argument_is_ignored_as_keras_multi_head_attention_ignores_it(keras, rng, scores):
    ours, theirs, query, value = _pair(keras, rng, grouped=False)
    for args, kwargs in (((query, value), dict(query_mask=QUERY_MASK)),
                         ((query, value), dict(query_mask=QUERY_MASK, value_mask=VALUE_MASK)),
                         ((query, value, value, QUERY_MASK, VALUE_MASK), {})):          # by position, Keras' order
        expected = theirs(*args, **kwargs, return_attention_scores=scores)
        with pytest.warns(UserWarning, match=r"MultiHeadAttention\)?: query_mask is ignored, as Keras 3\.15's "
                                             r"MultiHeadAttention ignores it.*attention_mask=query_mask\[:, :, None\]"):
            mine = ours(*args, **kwargs, return_attention_scores=scores)
        _assert_same(mine, expected, scores)
    # (Keras' padded query steps attend as the others: their weights are neither zero nor even)
    weights = np.asarray(theirs(query, value, query_mask=QUERY_MASK, return_attention_scores=True)[1])
    assert np.all(weights[~QUERY_MASK[:, None, :, None].repeat(2, 1).repeat(5, 3)] > 0)
    # what the warning offers masks the query's steps as Keras does for a query tensor carrying a mask
    tf = pytest.importorskip("tensorflow")
    masked_query = tf.constant(query)
    masked_query._keras_mask = tf.constant(QUERY_MASK)
    expected = theirs(masked_query, value, value_mask=VALUE_MASK, return_attention_scores=scores)
    _assert_same(ours(query, value, value_mask=VALUE_MASK, attention_mask=QUERY_MASK[:, :, None],
                      return_attention_scores=scores), expected, scores)


@pytest.mark.parametrize("scores", [False, True], ids=["fused", "scores"])
def test_group_query_attention_reads_its_query_mask_argument_as_keras(keras, rng, scores):
    import warnings
    ours, theirs, query, value = _pair(keras, rng, grouped=True)
    for args, kwargs in (((query, value), dict(query_mask=QUERY_MASK)),
                         ((query, value, value, QUERY_MASK, VALUE_MASK), {})):
        with warnings.catch_warnings():
            warnings.simplefilter("error")          # nothing ignored here, nothing to warn of
            mine = ours(*args, **kwargs, return_attention_scores=scores)
        _assert_same(mine, theirs(*args, **kwargs, return_attention_scores=scores), scores)
    assert not np.allclose(ours(query, value, query_mask=QUERY_MASK), ours(query, value))


def test_a_query_mask_argument_is_ignored_over_other_axes_too(rng):
    # (Keras' override comes before anything reads attention_axes: there too the argument is not read)
    x = rng.standard_normal((2, 3, 4, 5))
    layer = L.MultiHeadAttention(2, 2, attention_axes=(2,), seed=0)
    with pytest.warns(UserWarning, match="query_mask is ignored"):
        out = layer(x, x, query_mask=np.zeros((2, 3), bool))
    np.testing.assert_array_equal(out, layer(x, x))
