"""Review of two keras.io text-generation examples ported to glassnet: the character-level LSTM
(LSTM -> Dense softmax, RMSprop) and the miniature GPT (token and position embeddings, a causal
transformer block, logits beside the block's output, ``loss=[loss_fn, None]``)."""
import numpy as np

import glassnet as gn

L = gn.layers


class PositionEmbedding(gn.Layer):
    """x (batch, T, d) -> x + table[:T]; table (maxlen, d): the position half of Keras'
    TokenAndPositionEmbedding, written as docs/layers.md says."""
    def __init__(self, maxlen, **kwargs):
        super().__init__(**kwargs)
        self.maxlen = maxlen

    def build(self, input_shape):
        self.add_weight(shape=(self.maxlen, input_shape[-1]), initializer="uniform", name="embeddings")
        super().build(input_shape)

    def forward(self, x, training=False):
        return x + self.params["embeddings"][:x.shape[1]]

    def backward(self, grad_output):
        self.grads["embeddings"][...] = 0
        self.grads["embeddings"][:grad_output.shape[1]] = grad_output.sum(axis=0)
        return grad_output

    def get_config(self):
        return {**super().get_config(), "maxlen": self.maxlen}


def _gpt(vocab=12, steps=8, dim=16):
    ids = gn.Input((steps,), dtype="int32")
    x = PositionEmbedding(steps)(L.Embedding(vocab, dim)(ids))
    x = L.LayerNormalization(epsilon=1e-6)(L.Add()([x, L.MultiHeadAttention(2, dim)(x, x, use_causal_mask=True)]))
    x = L.LayerNormalization(epsilon=1e-6)(L.Add()([x, L.Dense(dim)(L.Dense(dim, activation="relu")(x))]))
    return ids, L.Dense(vocab)(x), x


def test_keras_loss_none_on_an_output_trains_the_miniature_gpt_as_keras_writes_it():
    ids, logits, x = _gpt()
    model = gn.Model(ids, [logits, x], seed=0)
    loss_fn = gn.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer="adam", loss=[loss_fn, None])       # x: kept for predict, no loss, no targets
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 12, size=(16, 9))
    before = model.evaluate(tokens[:, :-1], tokens[:, 1:], verbose=0)
    history = model.fit(tokens[:, :-1], tokens[:, 1:], batch_size=8, epochs=2, verbose=0).history
    assert list(history) == ["loss"] and history["loss"][-1] < before       # one scored output: "loss" alone
    y, hidden = model.predict(tokens[:2, :-1], verbose=0)
    assert y.shape == (2, 8, 12) and hidden.shape == (2, 8, 16)
    # the logits are those of a model of them alone drawn from the same (trained) layers
    np.testing.assert_array_equal(y, gn.Model(ids, logits).predict(tokens[:2, :-1], verbose=0))
