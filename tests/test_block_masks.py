"""Keras' masks in blocks drawn from ``call`` (glassnet._block_masks): ``call(self, x, mask=None)``
gets its input's mask, ``compute_mask`` sets its output's, by Keras 3.15's rules; each model is
written once for both libraries and compared with Keras 3.15 from the same weights (predictions,
2 epochs of SGD, final weights), gradients against float64 finite differences."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_model

STEPS, VOCAB = 6, 10


def _ids(n=12, seed=0):
    """Padded id sequences: 2 to STEPS real ids (1..VOCAB-1), then zeros."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, VOCAB, (n, STEPS))
    for k in range(n):
        ids[k, rng.integers(2, STEPS + 1):] = 0
    return ids, rng.normal(size=(n, 1)).astype("float32")


def _blocks(lib):
    """keras.io-style classes, written once: ``lib`` is keras or glassnet."""
    ops, Layer = lib.ops, lib.layers.Layer

    class MaskedMean(Layer):
        """The mean of the real steps: (batch, steps, d) -> (batch, d)."""
        def call(self, x, mask=None):
            m = ops.cast(mask, "float32")[:, :, None]
            return ops.sum(x * m, axis=1) / ops.sum(m, axis=1)

    class PositionalEmbedding(Layer):
        """keras.io's English-to-Spanish Transformer's (positions drawn from the ids' shape)."""
        def __init__(self, sequence_length, vocab_size, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.token_embeddings = lib.layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.position_embeddings = lib.layers.Embedding(input_dim=sequence_length, output_dim=embed_dim)

        def call(self, inputs):
            length = ops.shape(inputs)[-1]
            positions = inputs * 0 + ops.arange(0, length, 1)
            return self.token_embeddings(inputs) + self.position_embeddings(positions)

        def compute_mask(self, inputs, mask=None):
            return ops.not_equal(inputs, 0)

    class TransformerEncoder(Layer):
        """keras.io's, as written there."""
        def __init__(self, embed_dim, dense_dim, num_heads, **kwargs):
            super().__init__(**kwargs)
            self.attention = lib.layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.dense_proj = lib.Sequential([lib.layers.Dense(dense_dim, activation="relu"),
                                              lib.layers.Dense(embed_dim)])
            self.layernorm_1 = lib.layers.LayerNormalization()
            self.layernorm_2 = lib.layers.LayerNormalization()
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

    return MaskedMean, PositionalEmbedding, TransformerEncoder


def _compare(keras, make, x, y, atol=1e-5, epochs=2, lr=0.1):
    """``make(lib)`` -> a model, for keras and glassnet: the same weights, then predictions, the
    losses of ``epochs`` of SGD at ``lr`` and the final weights compared."""
    km, gm = make(keras), make(gn)
    assert [w.shape for w in gm.get_weights()] == [tuple(w.shape) for w in km.get_weights()]
    gm.set_weights(km.get_weights())
    np.testing.assert_allclose(gm.predict(x), km.predict(x, verbose=0), atol=atol)
    km.compile(loss="mse", optimizer=keras.optimizers.SGD(lr))
    gm.compile(loss="mse", optimizer=gn.optimizers.SGD(lr))
    hk = km.fit(x, y, epochs=epochs, batch_size=4, shuffle=False, verbose=0).history["loss"]
    hg = gm.fit(x, y, epochs=epochs, batch_size=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(hg, hk, atol=atol)
    for a, b in zip(gm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, atol=atol)
    return gm


def test_masked_mean_of_an_lstm_after_a_masked_embedding_trains_as_keras(keras):
    ids, y = _ids()

    def make(lib):
        MaskedMean = _blocks(lib)[0]
        inputs = lib.Input((STEPS,))
        h = lib.layers.Embedding(VOCAB, 4, mask_zero=True)(inputs)
        h = lib.layers.LSTM(3, return_sequences=True)(h)
        return lib.Model(inputs, lib.layers.Dense(1)(MaskedMean()(h)))
    model = _compare(keras, make, ids, y)
    # the padding counts for nothing: changing what the embedding gives it leaves the output
    table = next(layer for layer in model.layers if isinstance(layer, gn.layers.Embedding)).params["embeddings"]
    before = model.predict(ids)
    table[0] += 5.0
    np.testing.assert_allclose(model.predict(ids), before, atol=1e-6)


def test_nmt_positional_embedding_and_encoder_train_as_keras(keras):
    # keras.io's PositionalEmbedding.compute_mask (ids != 0) and TransformerEncoder.call(inputs,
    # mask) (the mask as MultiHeadAttention's attention_mask); the pooling reads the encoder's mask
    ids, y = _ids()

    def make(lib):
        _, PositionalEmbedding, TransformerEncoder = _blocks(lib)
        inputs = lib.Input((STEPS,), **({"dtype": "int32"} if lib is keras else {}))
        h = PositionalEmbedding(STEPS, VOCAB, 8)(inputs)
        h = TransformerEncoder(8, 16, 2)(h)
        h = lib.layers.GlobalAveragePooling1D()(h)
        return lib.Model(inputs, lib.layers.Dense(1)(h))
    # at SGD 0.1 the loss grew to ~600 in the second epoch (some of Keras' random weights), where
    # float32 rounding alone (5e-6 relative) passed the absolute tolerance: a smaller step
    _compare(keras, make, ids, y, lr=0.01)


def test_the_mask_given_to_call_is_the_masking_layers(keras):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 5, 3)).astype("float32")
    x[np.arange(8) % 3 == 0, 3:] = 0.0
    x[1, 1] = 0.0

    def make(lib):
        class Keep(lib.layers.Layer):
            def call(self, x, mask=None):
                m = lib.ops.expand_dims(lib.ops.cast(mask, "float32"), -1)
                return lib.ops.where(m > 0.5, x, -1.0) + m
        inputs = lib.Input((5, 3))
        h = Keep()(lib.layers.Masking()(inputs))
        return lib.Model(inputs, lib.layers.Dense(2)(lib.layers.Flatten()(h)))
    _compare(keras, make, x, rng.normal(size=(8, 2)).astype("float32"))


def _default_rule_blocks(lib):
    ops, Layer = lib.ops, lib.layers.Layer

    class OpOnly(Layer):                # Keras: an operation's output has no mask, nor does the block
        def call(self, x, mask=None):
            return x * 2.0

    class OpPassing(OpOnly):            # supports_masking: Keras' default compute_mask, the mask given
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

    class DenseOut(Layer):              # the Dense's own mask stays on the output
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = lib.layers.Dense(4)

        def call(self, x, mask=None):
            return self.dense(x)

    class NoneMask(Layer):              # compute_mask None: no mask
        def call(self, x):
            return x * 2.0

        def compute_mask(self, inputs, mask=None):
            return None

    class NoneMaskDense(DenseOut):      # compute_mask None, but the output has the Dense's already
        def compute_mask(self, inputs, mask=None):
            return None

    class OwnMask(Layer):               # a mask made anew: the first two steps
        def call(self, x, mask=None):
            return x + 1.0

        def compute_mask(self, inputs, mask=None):
            return ops.less(ops.cumsum(ops.ones_like(inputs[:, :, 0]), axis=1), 2.5)
    return {cls.__name__: cls for cls in (OpOnly, OpPassing, DenseOut, NoneMask, NoneMaskDense, OwnMask)}


@pytest.mark.parametrize("name", ["OpOnly", "OpPassing", "DenseOut", "NoneMask", "NoneMaskDense", "OwnMask"])
def test_the_output_mask_follows_keras_rules(keras, name):
    # GlobalAveragePooling1D after the block averages the real steps only where a mask reaches it
    ids, y = _ids()

    def make(lib):
        block = _default_rule_blocks(lib)[name]
        inputs = lib.Input((STEPS,))
        h = block()(lib.layers.Embedding(VOCAB, 4, mask_zero=True)(inputs))
        return lib.Model(inputs, lib.layers.Dense(1)(lib.layers.GlobalAveragePooling1D()(h)))
    _compare(keras, make, ids, y)


def test_a_list_of_inputs_gets_a_list_of_masks(keras):
    ids, y = _ids()
    seen = {}

    def make(lib):
        class Gate(lib.layers.Layer):
            def call(self, inputs, mask=None):
                a, b = inputs
                seen[lib.__name__] = [m is None for m in mask]
                return a * lib.ops.expand_dims(lib.ops.cast(mask[0], "float32"), -1) + b
        inputs = lib.Input((STEPS,))
        a = lib.layers.Embedding(VOCAB, 4, mask_zero=True)(inputs)
        b = lib.layers.Embedding(VOCAB, 4)(inputs)
        h = lib.layers.GlobalAveragePooling1D()(Gate()([a, b]))
        return lib.Model(inputs, lib.layers.Dense(1)(h))
    _compare(keras, make, ids, y)
    assert seen == {"keras": [False, True], "glassnet": [False, True]}


def test_in_a_sequential_as_keras(keras):
    ids, y = _ids()

    def make(lib):
        MaskedMean = _blocks(lib)[0]
        return lib.Sequential([lib.Input((STEPS,)), lib.layers.Embedding(VOCAB, 4, mask_zero=True),
                               lib.layers.Dense(3, activation="tanh"), MaskedMean(), lib.layers.Dense(1)])
    _compare(keras, make, ids, y)


def _masked_model(seed=0):
    MaskedMean, PositionalEmbedding, _ = _blocks(gn)
    inputs = gn.Input((STEPS,))
    h = gn.layers.LSTM(3, return_sequences=True)(PositionalEmbedding(STEPS, VOCAB, 4)(inputs))
    return gn.Model(inputs, gn.layers.Dense(1)(MaskedMean()(h)), seed=seed)


def test_save_load_config_and_training_keep_the_masks(tmp_path):
    ids, y = _ids()
    model = _masked_model()
    model.compile(loss="mse", optimizer="sgd")
    model.fit(ids, y, epochs=1, batch_size=4, verbose=0)
    expected = model.predict(ids)
    model.save(tmp_path / "masked.npz")
    loaded = gn.load_model(tmp_path / "masked.npz")
    np.testing.assert_array_equal(loaded.predict(ids), expected)
    again = gn.Model.from_config(model.get_config())
    again.set_weights(model.get_weights())
    np.testing.assert_array_equal(again.predict(ids), expected)
    # still masked after loading: the padding's ids change nothing
    other = np.where(ids == 0, 0, ids)
    np.testing.assert_array_equal(loaded.predict(other), expected)
    assert loaded.evaluate(ids, y, verbose=0) == pytest.approx(model.evaluate(ids, y, verbose=0), rel=1e-6)


def test_gradients_through_a_block_using_the_mask_match_finite_differences():
    MaskedMean = _blocks(gn)[0]

    class Scaled(gn.Layer):           # the mask in arithmetic and in where, its output mask Keras' default
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = gn.layers.Dense(4, activation="tanh")
            self.supports_masking = True

        def call(self, x, mask=None):
            m = gn.ops.expand_dims(mask, -1)
            return gn.ops.where(m > 0.5, self.dense(x) * m, 0.0) + x[:, :, :1] * 0.5

    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 4, 3))
    x[0, 2:] = 0.0
    x[3, 1] = 0.0
    inputs = gn.Input((4, 3))
    h = Scaled()(gn.layers.Masking()(inputs))
    model = gn.Model(inputs, gn.layers.Dense(2)(MaskedMean()(gn.layers.LSTM(3, return_sequences=True)(h))),
                     dtype="float64", seed=0)
    model.compile(loss="mse", optimizer="sgd")
    assert check_model(model, x, rng.normal(size=(5, 2)))["max_error"] < 1e-6


def test_compute_mask_returning_an_array_is_refused_by_name():
    class Bad(gn.Layer):
        def call(self, x):
            return x * 1.0

        def compute_mask(self, inputs, mask=None):
            return np.ones((1, STEPS), bool)

    with pytest.raises(TypeError, match=r"Bad.compute_mask: drawn on symbolic tensors.*got ndarray"):
        Bad()(gn.layers.Embedding(VOCAB, 2)(gn.Input((STEPS,))))


def test_compute_mask_of_another_shape_is_refused_by_name():
    class Wide(gn.Layer):
        def call(self, x):
            return x * 1.0

        def compute_mask(self, inputs, mask=None):
            return gn.ops.not_equal(inputs, 0)          # (steps, features): not the steps'

    with pytest.raises(ValueError, match=r"compute_mask must return a mask of the output's steps"):
        Wide()(gn.Input((STEPS, 3)))


def test_compute_mask_of_values_other_than_booleans_is_refused_when_run():
    class Values(gn.Layer):
        def call(self, x):
            return x * 1.0

        def compute_mask(self, inputs, mask=None):
            return inputs[:, :, 0]

    inputs = gn.Input((STEPS, 2))
    model = gn.Model(inputs, gn.layers.GlobalAveragePooling1D()(Values()(inputs)))
    with pytest.raises(ValueError, match=r"the mask compute_mask returned must hold booleans"):
        model.predict(np.full((2, STEPS, 2), 0.5))


def test_a_block_drawn_alone_then_called_on_a_masked_tensor_is_refused_by_name():
    class MaskedMean(gn.Layer):
        def call(self, x, mask=None):
            if mask is None:
                return gn.ops.mean(x, axis=1)
            m = gn.ops.cast(mask, "float32")[:, :, None]
            return gn.ops.sum(x * m, axis=1) / gn.ops.sum(m, axis=1)
    block = MaskedMean()
    block.build((None, STEPS, 4))
    masked = gn.layers.Embedding(VOCAB, 4, mask_zero=True)(gn.Input((STEPS,)))
    with pytest.raises(NotImplementedError, match=r"MaskedMean: was drawn on its own.*call a new MaskedMean\(\)"):
        block(masked)


def test_a_mask_node_alone_refuses_arrays():
    from glassnet.layers import CallMask
    with pytest.raises(ValueError, match=r"no mask reached it"):
        CallMask()([np.ones((2, 3, 1))])


def test_the_loss_scores_the_steps_compute_mask_marks_real(keras):
    # a tagger: the mask compute_mask made reaches the output, and the loss leaves the padding out
    ids, _ = _ids()
    y = np.random.default_rng(2).normal(size=(len(ids), STEPS, 2)).astype("float32")

    def make(lib):
        PositionalEmbedding = _blocks(lib)[1]
        inputs = lib.Input((STEPS,), **({"dtype": "int32"} if lib is keras else {}))
        return lib.Model(inputs, lib.layers.Dense(2)(PositionalEmbedding(STEPS, VOCAB, 4)(inputs)))
    _compare(keras, make, ids, y)
