"""Review of HashedCrossing, ReversibleEmbedding and the per-call arguments (reverse=, attention_mask=):
reproductions of the bugs found, each failing on the code as reviewed."""
import numpy as np

import glassnet as gn
from glassnet.layers import HashedCrossing, ReversibleEmbedding


def _language_model():
    ids = gn.Input((6,))
    emb = gn.layers.ReversibleEmbedding(13, 5, embeddings_initializer="random_normal")
    h = gn.layers.Dense(5, activation="tanh")(emb(ids))
    return gn.Model(ids, gn.layers.Activation("softmax")(emb(h, reverse=True)), seed=0)


def test_a_sequential_nesting_a_model_with_a_reverse_call_loads_back(tmp_path, rng):
    seq = gn.Sequential([gn.Input((6,)), _language_model()], seed=0)
    x = rng.integers(0, 13, (4, 6))
    assert seq.get_config()["graph"]["options"][2] == {"reverse": True}
    seq.save(tmp_path / "seq.npz")
    loaded = gn.load_model(tmp_path / "seq.npz")       # ModelFileError: 'options' ... 'use_causal_mask' only
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), seq.predict(x, verbose=0))
    again = gn.Sequential.from_config(seq.get_config())
    again.set_weights(seq.get_weights())
    np.testing.assert_array_equal(again.predict(x, verbose=0), seq.predict(x, verbose=0))


def test_a_sequential_nesting_a_model_with_an_attention_mask_call_loads_back(tmp_path, rng):
    tokens = gn.Input((5, 4))
    allowed = gn.layers.Dense(5, activation="relu")(tokens)         # a mask made inside the model
    attended = gn.layers.MultiHeadAttention(2, 3)(tokens, tokens, attention_mask=allowed)
    inner = gn.Model(tokens, gn.layers.GlobalAveragePooling1D()(attended), seed=0)
    seq = gn.Sequential([gn.Input((5, 4)), inner, gn.layers.Dense(2)], seed=0)
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    seq.save(tmp_path / "seq.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "seq.npz").predict(x, verbose=0), seq.predict(x, verbose=0))


def test_an_eager_reverse_call_keeps_the_declared_ids_shape(rng):
    emb = ReversibleEmbedding(10, 4, input_shape=(6,), seed=0)
    emb(rng.standard_normal((2, 4)).astype(np.float32), reverse=True)      # builds the layer
    assert emb.input_shape == (6,)                      # was () : the declared ids shape is lost
    model = gn.Sequential([emb, gn.layers.Flatten(), gn.layers.Dense(1)], seed=0)
    assert model.predict(rng.integers(0, 10, (3, 6)), verbose=0).shape == (3, 1)


def test_a_layer_built_by_a_reverse_call_round_trips_its_config(rng):
    emb = ReversibleEmbedding(10, 4, seed=0)
    h = rng.standard_normal((2, 4)).astype(np.float32)
    logits = emb(h, reverse=True)
    copy = ReversibleEmbedding.from_config(emb.get_config())    # ValueError: input_shape ... got ()
    copy.build((1,))
    copy.set_weights(emb.get_weights())
    np.testing.assert_array_equal(copy(h, reverse=True), logits)
    # and the layer still looks ids up in a Sequential (it was told samples of shape ())
    model = gn.Sequential([emb, gn.layers.Flatten()], seed=0)
    assert model.predict(rng.integers(0, 10, (3, 6)), verbose=0).shape == (3, 24)


def test_hashed_crossing_one_hot_takes_the_layer_dtype_as_keras():
    # Keras: HashedCrossing(5, output_mode="one_hot", dtype="float64")(...) is float64
    out = HashedCrossing(5, output_mode="one_hot", dtype="float64")((np.array(["a", "b"]), np.array([1, 2])))
    assert out.dtype == np.float64


def test_hashed_crossing_takes_uint64_codes_above_int64_as_keras():
    # Keras casts an unsigned 64-bit feature to int64 (its bits): bins [3, 2, 3] for these
    a, b = np.array(["a", "b", "c"]), np.array([2 ** 64 - 1, 2 ** 63, 5], dtype=np.uint64)
    np.testing.assert_array_equal(HashedCrossing(13)((a, b)), [3, 2, 3])


def test_an_attention_mask_of_one_row_broadcasts_over_the_query_steps_as_keras(rng):
    # Keras 3.15: attention_mask (batch, 1, S) (a padding mask of the keys) broadcasts over T, eager
    # and drawn; the values equal those of the mask repeated to (batch, T, S)
    x = rng.standard_normal((2, 5, 4)).astype(np.float32)
    row = rng.random((2, 1, 5)) > 0.3
    mha = gn.layers.MultiHeadAttention(2, 3, seed=0)
    full = mha(x, x, attention_mask=np.broadcast_to(row, (2, 5, 5)))
    np.testing.assert_array_equal(mha(x, x, attention_mask=row), full)
    tokens, allowed = gn.Input((5, 4)), gn.Input((1, 5))
    model = gn.Model([tokens, allowed], gn.layers.MultiHeadAttention(2, 3)(tokens, tokens, attention_mask=allowed),
                     seed=0)
    model.set_weights(mha.get_weights())
    np.testing.assert_allclose(model.predict([x, row.astype(np.float32)], verbose=0), full, rtol=1e-6, atol=1e-7)


def test_a_reverse_call_may_make_the_output():
    # Keras' usual language model ends with the reverse call's logits: a shared layer making the
    # output is taken (its training against Keras: tests/test_shared_outputs.py)
    ids = gn.Input((6,))
    emb = ReversibleEmbedding(13, 5)
    h = gn.layers.Dense(5)(emb(ids))
    assert gn.Model(ids, emb(h, reverse=True)).output_shape == (None, 6, 13)
