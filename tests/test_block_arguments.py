"""Blocks drawn from call with several tensor arguments (Keras' call(self, inputs, encoder_outputs,
mask=None), call(self, query, value, key=None)), and an explicit supports_masking on a block,
against Keras 3.15 from the same weights; gradients against float64 finite differences."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_model

SEQ, VOCAB, EMBED, HEADS, DENSE = 6, 12, 8, 2, 16


def _nmt(lib):
    """keras.io's English-to-Spanish Transformer with its older decoder, call(inputs, encoder_outputs,
    mask=None), called decoder(x, encoder_outputs): Keras 3.15 hands it mask=None (two tensor
    arguments). Its causal mask: glassnet's use_causal_mask=True, Keras' tiled mask as keras.io
    (tiled by a list: tests/test_review_nmtport2.py)."""
    layers, ops = lib.layers, lib.ops

    class PositionalEmbedding(lib.layers.Layer):
        def __init__(self, sequence_length, vocab_size, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.token_embeddings = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.position_embeddings = layers.Embedding(input_dim=sequence_length, output_dim=embed_dim)

        def call(self, inputs):
            length = ops.shape(inputs)[-1]
            positions = inputs * 0 + ops.arange(0, length, 1)
            return self.token_embeddings(inputs) + self.position_embeddings(positions)

        def compute_mask(self, inputs, mask=None):
            return ops.not_equal(inputs, 0)

    class TransformerEncoder(lib.layers.Layer):
        def __init__(self, embed_dim, dense_dim, num_heads, **kwargs):
            super().__init__(**kwargs)
            self.attention = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.dense_proj = lib.Sequential([layers.Dense(dense_dim, activation="relu"), layers.Dense(embed_dim)])
            self.layernorm_1 = layers.LayerNormalization()
            self.layernorm_2 = layers.LayerNormalization()
            self.supports_masking = True

        def call(self, inputs, mask=None):
            padding_mask = None if mask is None else ops.cast(mask[:, None, :], dtype="int32")
            attention_output = self.attention(query=inputs, value=inputs, key=inputs, attention_mask=padding_mask)
            proj_input = self.layernorm_1(inputs + attention_output)
            return self.layernorm_2(proj_input + self.dense_proj(proj_input))

    class TransformerDecoder(lib.layers.Layer):
        def __init__(self, embed_dim, latent_dim, num_heads, **kwargs):
            super().__init__(**kwargs)
            self.attention_1 = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.attention_2 = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.dense_proj = lib.Sequential([layers.Dense(latent_dim, activation="relu"), layers.Dense(embed_dim)])
            self.layernorm_1 = layers.LayerNormalization()
            self.layernorm_2 = layers.LayerNormalization()
            self.layernorm_3 = layers.LayerNormalization()
            self.supports_masking = True

        def call(self, inputs, encoder_outputs, mask=None):
            self.seen_mask = mask
            if lib is gn:
                causal = {"use_causal_mask": True}
            else:
                causal = {"attention_mask": self.get_causal_attention_mask(inputs)}
            if mask is not None:            # (Keras 3.15 gives None here: two tensor arguments)
                padding_mask = ops.cast(mask[:, None, :], dtype="int32")
            else:
                padding_mask = None
            attention_output_1 = self.attention_1(query=inputs, value=inputs, key=inputs, **causal)
            out_1 = self.layernorm_1(inputs + attention_output_1)
            attention_output_2 = self.attention_2(query=out_1, value=encoder_outputs, key=encoder_outputs,
                                                  attention_mask=padding_mask)
            out_2 = self.layernorm_2(out_1 + attention_output_2)
            return self.layernorm_3(out_2 + self.dense_proj(out_2))

        def get_causal_attention_mask(self, inputs):
            input_shape = ops.shape(inputs)
            batch_size, sequence_length = input_shape[0], input_shape[1]
            i = ops.arange(sequence_length)[:, None]
            j = ops.arange(sequence_length)
            mask = ops.cast(i >= j, dtype="int32")
            mask = ops.reshape(mask, (1, input_shape[1], input_shape[1]))
            return ops.tile(mask, [batch_size, 1, 1])

    return PositionalEmbedding, TransformerEncoder, TransformerDecoder


def _transformer(lib, keyword=False):
    PositionalEmbedding, TransformerEncoder, TransformerDecoder = _nmt(lib)
    ids = {"dtype": "int32"} if lib is not gn else {}
    encoder_inputs = lib.Input(shape=(SEQ,), name="encoder_inputs", **ids)
    encoder_outputs = TransformerEncoder(EMBED, DENSE, HEADS)(PositionalEmbedding(SEQ, VOCAB, EMBED)(encoder_inputs))
    decoder_inputs = lib.Input(shape=(SEQ,), name="decoder_inputs", **ids)
    x = PositionalEmbedding(SEQ, VOCAB, EMBED)(decoder_inputs)
    decoder = TransformerDecoder(EMBED, DENSE, HEADS)
    x = decoder(x, encoder_outputs=encoder_outputs) if keyword else decoder(x, encoder_outputs)
    outputs = lib.layers.Dense(VOCAB, activation="softmax")(x)
    return lib.Model([encoder_inputs, decoder_inputs], outputs), decoder


def _pairs(n=6, seed=0):
    rng = np.random.default_rng(seed)
    enc, dec = np.zeros((n, SEQ), "int64"), np.zeros((n, SEQ + 1), "int64")
    for k in range(n):
        le, ld = rng.integers(2, SEQ + 1), rng.integers(2, SEQ)
        enc[k, :le] = rng.integers(3, VOCAB, le)
        dec[k, 0], dec[k, 1:ld], dec[k, ld] = 1, rng.integers(3, VOCAB, ld - 1), 2
    return [enc, dec[:, :-1]], dec[:, 1:]


def _keras_floatx(keras):
    keras.config.set_floatx("float32")
    keras.config.set_dtype_policy("float32")


def test_keras_io_older_decoder_with_two_tensor_arguments_trains_as_keras(keras):
    # decoder(x, encoder_outputs) was refused ("called with a second tensor by position")
    _keras_floatx(keras)
    keras.utils.set_random_seed(0)
    (km, kdec), (gm, gdec) = _transformer(keras), _transformer(gn)
    assert kdec.seen_mask is None and gdec.seen_mask is None        # Keras' rule: two tensor arguments
    assert [w.shape for w in gm.get_weights()] == [tuple(w.shape) for w in km.get_weights()]
    gm.set_weights(km.get_weights())
    x, y = _pairs()
    real = x[1] != 0
    np.testing.assert_allclose(gm.predict(x, verbose=0)[real], km.predict(x, verbose=0)[real], atol=1e-5)
    km.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    gm.compile(optimizer=gn.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    hk = km.fit(x, y, epochs=2, batch_size=3, shuffle=False, verbose=0).history["loss"]
    hg = gm.fit(x, y, epochs=2, batch_size=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(hg, hk, rtol=1e-5)
    for a, b in zip(gm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_the_keyword_form_draws_the_same_model_and_it_saves_loads_and_clones(tmp_path):
    x, y = _pairs()
    positional, _ = _transformer(gn)
    keyword, _ = _transformer(gn, keyword=True)
    keyword.set_weights(positional.get_weights())
    np.testing.assert_allclose(keyword.predict(x, verbose=0), positional.predict(x, verbose=0), atol=1e-6)
    positional.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), positional.predict(x, verbose=0), atol=1e-6)
    again = gn.Model.from_config(positional.get_config())
    again.set_weights(positional.get_weights())
    np.testing.assert_allclose(again.predict(x, verbose=0), positional.predict(x, verbose=0), atol=1e-6)
    clone = gn.models.clone_model(positional)
    clone.set_weights(positional.get_weights())
    np.testing.assert_allclose(clone.predict(x, verbose=0), positional.predict(x, verbose=0), atol=1e-6)


def _query_value(lib, rate=0.0):
    """call(query, value, key=None, training=None) with a number by keyword and a <name>_mask
    argument: Keras 3.15 fills value_mask (several tensor arguments) and leaves mask None."""
    layers, ops = lib.layers, lib.ops

    class Attend(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.q, self.k = layers.Dense(4), layers.Dense(4)
            self.dropout = layers.Dropout(rate)

        def call(self, query, value, key=None, training=None, value_mask=None, scale=1.0):
            key = value if key is None else key
            scores = ops.matmul(self.q(query), ops.transpose(self.k(key), (0, 2, 1))) * scale
            if value_mask is not None:
                scores = scores + (1.0 - ops.cast(value_mask, "float32"))[:, None, :] * -1e9
            # (Keras hands training=False to call only: the Dropout takes it from there)
            return self.dropout(ops.matmul(ops.softmax(scores, axis=-1), value), training=training)

    q_in, v_in = lib.Input((3, 5)), lib.Input((SEQ,))
    value = layers.Embedding(VOCAB, 5, mask_zero=True)(v_in)
    key = layers.Dense(5)(value)
    h = Attend()(q_in, value, key=key, scale=0.5, training=False)
    return lib.Model([q_in, v_in], layers.Dense(2)(layers.Flatten()(h)))


def test_query_value_key_by_keyword_with_value_mask_and_a_number_matches_keras(keras):
    _keras_floatx(keras)
    keras.utils.set_random_seed(1)
    km, gm = _query_value(keras), _query_value(gn)
    gm.set_weights(km.get_weights())
    rng = np.random.default_rng(2)
    ids = _pairs(8, seed=2)[0][0]
    x = [rng.normal(size=(8, 3, 5)).astype("float32"), ids]
    y = rng.normal(size=(8, 2)).astype("float32")
    np.testing.assert_allclose(gm.predict(x, verbose=0), km.predict(x, verbose=0), atol=1e-5)
    # (the Dropout at rate 0: Keras 3.15's functional model hands its own training=True to the block in
    # fit over the training=False given, where glassnet keeps the block's calls in inference mode)
    km.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    gm.compile(optimizer=gn.optimizers.SGD(0.1), loss="mse")
    hk = km.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    hg = gm.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(hg, hk, rtol=1e-5)
    for a, b in zip(gm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_training_false_given_to_a_block_of_several_arguments_keeps_its_dropout_off():
    model = _query_value(gn, rate=0.5)
    rng = np.random.default_rng(5)
    x = [rng.normal(size=(4, 3, 5)).astype("float32"), _pairs(4, seed=5)[0][0]]
    np.testing.assert_allclose(model(x, training=True), model.predict(x, verbose=0), atol=1e-6)


def test_gradients_through_a_block_of_two_tensor_arguments_match_finite_differences():
    class Mix(gn.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.a, self.b = gn.layers.Dense(3, activation="tanh"), gn.layers.Dense(3)

        def call(self, inputs, context, inputs_mask=None, gate=1.0):
            m = gn.ops.expand_dims(inputs_mask, -1)
            pooled = gn.ops.sum(self.a(inputs) * m, axis=1) / gn.ops.sum(m, axis=1)
            return pooled * self.b(context) * gate + context[:, :1]

    rng = np.random.default_rng(3)
    ids = _pairs(5, seed=3)[0][0]
    ids_in, ctx_in = gn.Input((SEQ,)), gn.Input((4,))
    h = Mix()(gn.layers.Embedding(VOCAB, 3, mask_zero=True)(ids_in), ctx_in, gate=0.7)
    model = gn.Model([ids_in, ctx_in], gn.layers.Dense(2)(h), dtype="float64", seed=0)
    model.compile(loss="mse", optimizer="sgd")
    report = check_model(model, [ids, rng.normal(size=(5, 4))], rng.normal(size=(5, 2)))
    assert report["max_error"] < 1e-6


def _flagged(lib, flag):
    class Doubled(lib.layers.Layer):
        """An op on the masked input; supports_masking set, no mask argument, no compute_mask."""
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = flag

        def call(self, x):
            return x * 2.0 + 1.0

    inputs = lib.Input((SEQ,))
    h = Doubled()(lib.layers.Embedding(VOCAB, 3, mask_zero=True)(inputs))
    return lib.Model(inputs, lib.layers.Dense(1)(lib.layers.GlobalAveragePooling1D()(h)))


@pytest.mark.parametrize("flag", [False, True])
def test_an_explicit_supports_masking_follows_keras_rule(keras, flag):
    # the op drops the mask (Keras' rule), then the flag decides: False, the pooling averages every
    # step (glassnet's older rule passed the mask through the op: the real steps only); True, the
    # mask the block was given goes on
    _keras_floatx(keras)
    keras.utils.set_random_seed(4)
    km, gm = _flagged(keras, flag), _flagged(gn, flag)
    gm.set_weights(km.get_weights())
    ids = _pairs(8, seed=4)[0][0]
    y = np.random.default_rng(4).normal(size=(8, 1)).astype("float32")
    np.testing.assert_allclose(gm.predict(ids, verbose=0), km.predict(ids, verbose=0), atol=1e-5)
    km.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    gm.compile(optimizer=gn.optimizers.SGD(0.1), loss="mse")
    hk = km.fit(ids, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    hg = gm.fit(ids, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(hg, hk, rtol=1e-5)
    for a, b in zip(gm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_an_explicit_supports_masking_false_drops_the_mask_and_true_keeps_it():
    ids = _pairs(8, seed=5)[0][0]
    results = {}
    for flag in (False, True):
        model = _flagged(gn, flag)
        model.layers[0].params["embeddings"][0] = 0.0
        before = model.predict(ids, verbose=0)
        model.layers[0].params["embeddings"][0] += 3.0          # the padding's vector
        results[flag] = np.abs(model.predict(ids, verbose=0) - before).max()
    assert results[True] < 1e-6 < results[False]


class _Pair(gn.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = gn.layers.Dense(2)

    def call(self, inputs, other, scale=1.0):
        return self.dense(inputs) + other * scale


def test_bad_calls_are_refused_by_name():
    a, b = gn.Input((2,)), gn.Input((2,))
    with pytest.raises(TypeError, match=r"_Pair\.call\(inputs, other, scale=1\.0\).*unexpected keyword argument 'bias'"):
        _Pair()(a, b, bias=1.0)
    with pytest.raises(ValueError, match=r"_Pair: only tensors may be passed by position.*argument 2 is 2\.0"):
        _Pair()(a, b, 2.0)
    with pytest.raises(ValueError, match=r"tensors and non-tensors cannot be mixed.*other="):
        _Pair()(a, other=[b, 1.0])
    with pytest.raises(NotImplementedError, match=r"_Pair: called on data with several arguments"):
        _Pair()(np.ones((1, 2), "float32"), np.ones((1, 2), "float32"))
    drawn = _Pair()
    with pytest.raises(TypeError, match="training: expected True, False or None"):
        drawn(a, b, training="yes")
    own = gn.Model([a, b], _Pair()(a, b))
    assert own.predict([np.ones((1, 2)), np.ones((1, 2))], verbose=0).shape == (1, 2)


def test_a_block_of_several_arguments_drawn_twice_shares_its_layers():
    a, b, c = gn.Input((2,)), gn.Input((2,)), gn.Input((2,))
    pair = _Pair()
    model = gn.Model([a, b, c], gn.layers.Add()([pair(a, b), pair(a, c, scale=2.0)]), seed=0)
    assert len(model.get_weights()) == 2
    ones = np.ones((1, 2), "float32")
    kernel, bias = model.get_weights()
    expected = 2 * (ones @ kernel + bias) + ones * 1.0 + 2 * ones * 2.0
    np.testing.assert_allclose(model.predict([ones, ones, 2 * ones], verbose=0), expected, atol=1e-6)
