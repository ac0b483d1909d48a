"""Review: keras.io's English-to-Spanish Transformer (neural_machine_translation_with_transformer),
its classes written as keras.io writes them, on ids of a tiny vocabulary, against Keras 3.15."""
import numpy as np
import pytest

import glassnet as gn

SEQ, VOCAB, EMBED, HEADS, DENSE = 8, 20, 16, 2, 32


def _classes(keras_lib, glassnet_port):
    """keras.io's three classes, written once: ``glassnet_port`` takes the documented changes
    (docs/layers.md, Masks) of before blocks took masks: the positions as a table of the layer's
    own, ``use_causal_mask=True`` (no tiled causal mask). Its mask came from
    Embedding(mask_zero=True) passing through ``tokens + self.positions[:length]``, glassnet's older
    rule for blocks declaring no mask support; Keras 3.15 drops a mask at that operation, and so
    does glassnet now (tests/test_block_masks2.py), so the port defines keras.io's
    ``compute_mask``, as the original does. Blocks take compute_mask and call(mask=)
    (tests/test_block_masks.py); this port stays as a second way that works."""
    if glassnet_port:
        layers, ops, Layer, Sequential = gn.layers, gn.ops, gn.Layer, gn.Sequential
    else:
        layers, ops = keras_lib.layers, keras_lib.ops
        Layer, Sequential = keras_lib.layers.Layer, keras_lib.Sequential

    class TransformerEncoder(Layer):
        def __init__(self, embed_dim, dense_dim, num_heads, **kwargs):
            super().__init__(**kwargs)
            self.embed_dim = embed_dim
            self.dense_dim = dense_dim
            self.num_heads = num_heads
            self.attention = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.dense_proj = Sequential([layers.Dense(dense_dim, activation="relu"), layers.Dense(embed_dim)])
            self.layernorm_1 = layers.LayerNormalization()
            self.layernorm_2 = layers.LayerNormalization()
            self.supports_masking = True

        def call(self, inputs, mask=None):
            if mask is not None:
                padding_mask = ops.cast(mask[:, None, :], dtype="int32")
            else:
                padding_mask = None
            attention_output = self.attention(query=inputs, value=inputs, key=inputs, attention_mask=padding_mask)
            proj_input = self.layernorm_1(inputs + attention_output)
            proj_output = self.dense_proj(proj_input)
            return self.layernorm_2(proj_input + proj_output)

    class PositionalEmbedding(Layer):
        def __init__(self, sequence_length, vocab_size, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.token_embeddings = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            if not glassnet_port:
                self.position_embeddings = layers.Embedding(input_dim=sequence_length, output_dim=embed_dim)
            self.sequence_length = sequence_length
            self.vocab_size = vocab_size
            self.embed_dim = embed_dim

        if glassnet_port:
            def build(self, input_shape):
                self.positions = self.add_weight(shape=(self.sequence_length, self.embed_dim))

            def call(self, inputs):
                length = ops.shape(inputs)[-1]
                return self.token_embeddings(inputs) + self.positions[:length]
        else:
            def call(self, inputs):
                length = ops.shape(inputs)[-1]
                positions = ops.arange(0, length, 1)
                embedded_tokens = self.token_embeddings(inputs)
                embedded_positions = self.position_embeddings(positions)
                return embedded_tokens + embedded_positions

        def compute_mask(self, inputs, mask=None):
            return ops.not_equal(inputs, 0)

    class TransformerDecoder(Layer):
        def __init__(self, embed_dim, latent_dim, num_heads, **kwargs):
            super().__init__(**kwargs)
            self.embed_dim = embed_dim
            self.latent_dim = latent_dim
            self.num_heads = num_heads
            self.attention_1 = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.attention_2 = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.dense_proj = Sequential([layers.Dense(latent_dim, activation="relu"), layers.Dense(embed_dim)])
            self.layernorm_1 = layers.LayerNormalization()
            self.layernorm_2 = layers.LayerNormalization()
            self.layernorm_3 = layers.LayerNormalization()
            self.supports_masking = True

        def call(self, inputs, mask=None):
            inputs, encoder_outputs = inputs
            if mask is None:
                inputs_padding_mask, encoder_outputs_padding_mask = None, None
            else:
                inputs_padding_mask, encoder_outputs_padding_mask = mask
            causal = {"use_causal_mask": True} if glassnet_port else \
                {"attention_mask": self.get_causal_attention_mask(inputs)}
            attention_output_1 = self.attention_1(query=inputs, value=inputs, key=inputs,
                                                  query_mask=inputs_padding_mask, **causal)
            out_1 = self.layernorm_1(inputs + attention_output_1)
            attention_output_2 = self.attention_2(query=out_1, value=encoder_outputs, key=encoder_outputs,
                                                  query_mask=inputs_padding_mask,
                                                  key_mask=encoder_outputs_padding_mask)
            out_2 = self.layernorm_2(out_1 + attention_output_2)
            proj_output = self.dense_proj(out_2)
            return self.layernorm_3(out_2 + proj_output)

        def get_causal_attention_mask(self, inputs):
            input_shape = ops.shape(inputs)
            batch_size, sequence_length = input_shape[0], input_shape[1]
            i = ops.arange(sequence_length)[:, None]
            j = ops.arange(sequence_length)
            mask = ops.cast(i >= j, dtype="int32")
            mask = ops.reshape(mask, (1, input_shape[1], input_shape[1]))
            # keras.io concatenates [batch_size] and [1, 1] into a tensor: Keras 3.15's TensorFlow
            # ops.tile iterates over it and fails while drawn; a list of the same numbers tiles
            return ops.tile(mask, [batch_size, 1, 1])

    return PositionalEmbedding, TransformerEncoder, TransformerDecoder


def _transformer(lib, glassnet_port):
    PositionalEmbedding, TransformerEncoder, TransformerDecoder = _classes(lib, glassnet_port)
    length = SEQ if glassnet_port else None        # glassnet: ops.shape of an open length is None
    encoder_inputs = lib.Input(shape=(length,), dtype="int64", name="encoder_inputs")
    x = PositionalEmbedding(SEQ, VOCAB, EMBED)(encoder_inputs)
    encoder_outputs = TransformerEncoder(EMBED, DENSE, HEADS)(x)
    decoder_inputs = lib.Input(shape=(length,), dtype="int64", name="decoder_inputs")
    x = PositionalEmbedding(SEQ, VOCAB, EMBED)(decoder_inputs)
    x = TransformerDecoder(EMBED, DENSE, HEADS)([x, encoder_outputs])
    x = lib.layers.Dropout(0.5)(x)
    decoder_outputs = lib.layers.Dense(VOCAB, activation="softmax")(x)
    return lib.Model({"encoder_inputs": encoder_inputs, "decoder_inputs": decoder_inputs}, decoder_outputs,
                     name="transformer")


def _pairs(n=6, seed=0):
    """Ids: 0 padding, 1 [start], 2 [end]; English ids 3..19 then padding, Spanish [start] ... [end]."""
    rng = np.random.default_rng(seed)
    enc, dec = np.zeros((n, SEQ), "int64"), np.zeros((n, SEQ + 1), "int64")
    for k in range(n):
        le, ld = rng.integers(3, SEQ + 1), rng.integers(3, SEQ)
        enc[k, :le] = rng.integers(3, VOCAB, le)
        dec[k, 0], dec[k, 1:ld], dec[k, ld] = 1, rng.integers(3, VOCAB, ld - 1), 2
    return {"encoder_inputs": enc, "decoder_inputs": dec[:, :-1]}, dec[:, 1:]


def _swapped_pairs(weights, first, second):
    """``weights`` with each adjacent pair of shapes ``first`` then ``second`` swapped."""
    weights, k = list(weights), 0
    while k < len(weights) - 1:
        if weights[k].shape == first and weights[k + 1].shape == second:
            weights[k], weights[k + 1] = weights[k + 1], weights[k]
            k += 1
        k += 1
    return weights


def _keras_order(weights):
    """glassnet's PositionalEmbedding lists its table before its token Embedding (its own weight
    first, as Keras' blocks do); Keras' lists the position Embedding after it: swap each pair
    (Keras' list in glassnet's order)."""
    return _swapped_pairs(weights, (VOCAB, EMBED), (SEQ, EMBED))


def _from_glassnet_order(weights):
    """``_keras_order`` undone: glassnet's list in Keras' order."""
    return _swapped_pairs(weights, (SEQ, EMBED), (VOCAB, EMBED))


def _decode(model, encoder_ids):
    """The example's decode_sequence: [start], then the argmax at step i fed back, until [end]."""
    decoded = np.zeros((1, SEQ), "int64")
    decoded[0, 0] = 1
    for i in range(SEQ - 1):
        predictions = np.asarray(model({"encoder_inputs": encoder_ids[None], "decoder_inputs": decoded}))
        token = int(np.argmax(predictions[0, i, :]))
        decoded[0, i + 1] = token
        if token == 2:
            break
    return decoded[0].tolist()


def test_keras_io_translation_transformer_with_residual_sums_trains_and_decodes_as_keras(keras):
    # keras.io's residuals, inputs + attention_output after the masked embedding, were refused ("masks
    # are not combined by arithmetic on tensors"); a sum of two tensors carrying one same mask now
    # passes it on, as Add does, and the model matches Keras 3.15 from its weights
    keras.utils.set_random_seed(0)
    k_model, g_model = _transformer(keras, False), _transformer(gn, True)
    g_model.set_weights(_keras_order(k_model.get_weights()))
    x, y = _pairs()
    real = x["decoder_inputs"] != 0
    np.testing.assert_allclose(g_model.predict(x)[real], k_model.predict(x, verbose=0)[real], atol=1e-5)
    for k_loss, g_loss in [("sparse_categorical_crossentropy",) * 2,       # the mask alone
                           (keras.losses.SparseCategoricalCrossentropy(ignore_class=0),
                            gn.losses.SparseCategoricalCrossentropy(ignore_class=0))]:     # keras.io's loss
        k_model.compile(optimizer=keras.optimizers.SGD(0.1), loss=k_loss, metrics=["accuracy"])
        g_model.compile(optimizer=gn.optimizers.SGD(0.1), loss=g_loss, metrics=["accuracy"])
        np.testing.assert_allclose(g_model.evaluate(x, y), k_model.evaluate(x, y, verbose=0), rtol=1e-5)
    # 2 epochs of SGD (the Dropout is on in training: set to 0 in both, the draws differ)
    k_model.get_layer(index=-2).rate = 0.0
    next(layer for layer in g_model.layers if isinstance(layer, gn.layers.Dropout)).rate = 0.0
    k_hist = k_model.fit(x, y, epochs=2, batch_size=3, shuffle=False, verbose=0).history
    g_hist = g_model.fit(x, y, epochs=2, batch_size=3, shuffle=False, verbose=0).history
    np.testing.assert_allclose(g_hist["loss"], k_hist["loss"], rtol=1e-5)
    np.testing.assert_allclose(g_hist["accuracy"], k_hist["accuracy"], atol=1e-6)
    for g, k in zip(g_model.get_weights(), _keras_order(k_model.get_weights())):
        np.testing.assert_allclose(g, k, atol=1e-5)
    # trained on until it translates, then the example's greedy decoding of 2 sentences. The two
    # trainings agree to a float32 ulp at first, but SGD here doubles any difference about every epoch
    # (measured: 1.2e-7 after 1 epoch, 1.2e-6 after 10, 1.6e-5 after 13, 4e-2 after 40), so which
    # rounding a machine's BLAS makes decides the 40th epoch's weights: compared after 10 epochs, and
    # the decoding by the Keras model given glassnet's trained weights
    k_model.fit(x, y, epochs=10, batch_size=6, shuffle=False, verbose=0)
    g_model.fit(x, y, epochs=10, batch_size=6, shuffle=False, verbose=0)
    for g, k in zip(g_model.get_weights(), _keras_order(k_model.get_weights())):
        np.testing.assert_allclose(g, k, atol=1e-5)
    g_model.fit(x, y, epochs=30, batch_size=6, shuffle=False, verbose=0)
    trained = g_model.get_weights()
    k_model.set_weights(_from_glassnet_order(trained))
    assert all(np.array_equal(a, b) for a, b in zip(_keras_order(k_model.get_weights()), trained))
    for s in range(2):
        assert _decode(g_model, x["encoder_inputs"][s]) == _decode(k_model, x["encoder_inputs"][s])


def test_a_sum_with_one_masked_operand_drops_the_mask_as_keras():
    from glassnet._block_masks import carries_mask
    # keras.io's PositionalEmbedding adds the masked tokens' and the unmasked positions' embeddings;
    # the refusal pointed to Add, which gives no mask where one input has none (Keras' rule: tested
    # in test_graph_masks.py), so following it read the padding as data, silently. In a functional
    # model (glassnet's rule: a mask passes a sum of tensors of one mask) the sum is refused; in a
    # block declaring no mask support the operation drops the mask, as Keras 3.15's
    # (tests/test_block_masks2.py), and the layers after it get none
    ids = gn.Input((SEQ,))
    tokens = gn.layers.Embedding(VOCAB, EMBED, mask_zero=True)(ids)
    positions = gn.layers.Embedding(SEQ, EMBED)(ids * 0 + gn.ops.arange(0, SEQ, 1))
    # (now Keras 3.15's rule: the sum carries no mask, the Dense after it reads every step)
    assert not carries_mask(tokens + positions)
    gn.Model(ids, gn.layers.Dense(3)(tokens + positions))

    class PositionalEmbedding(gn.Layer):
        def __init__(self):
            super().__init__()
            self.token_embeddings = gn.layers.Embedding(VOCAB, EMBED, mask_zero=True)
            self.position_embeddings = gn.layers.Embedding(SEQ, EMBED)

        def call(self, inputs):
            positions = inputs * 0 + gn.ops.arange(0, gn.ops.shape(inputs)[-1], 1)
            return self.token_embeddings(inputs) + self.position_embeddings(positions)

    assert not carries_mask(PositionalEmbedding()(gn.Input((SEQ,))))


def test_keras_io_causal_mask_tiled_to_the_batch_size_is_refused_naming_it():
    # get_causal_attention_mask tiles to ops.shape(inputs)[0], None while glassnet draws: it failed
    # with "x must hold numbers, got an array of object"
    ops = gn.ops

    class Decoder(gn.Layer):
        def call(self, inputs, mask=None):
            return self.get_causal_attention_mask(inputs)

        def get_causal_attention_mask(self, inputs):        # keras.io's, as it is written there
            input_shape = ops.shape(inputs)
            batch_size, sequence_length = input_shape[0], input_shape[1]
            i = ops.arange(sequence_length)[:, None]
            j = ops.arange(sequence_length)
            mask = ops.cast(i >= j, dtype="int32")
            mask = ops.reshape(mask, (1, input_shape[1], input_shape[1]))
            mult = ops.concatenate(
                [ops.expand_dims(batch_size, -1), ops.convert_to_tensor([1, 1])],
                axis=0,
            )
            return ops.tile(mask, mult)

    with pytest.raises(TypeError, match=r"holds None: while a model is drawn, ops\.shape\(x\) gives None for the "
                                        r"batch size.*use_causal_mask=True"):
        Decoder()(gn.Input((SEQ, EMBED)))
