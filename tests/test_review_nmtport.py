"""Review: porting keras.io's English-to-Spanish sequence-to-sequence Transformer."""
import numpy as np
import pytest

import glassnet as gn


def test_a_layer_of_yours_with_compute_mask_is_refused_by_name():
    # Keras' PositionalEmbedding makes its mask with compute_mask (ids != 0); glassnet never calls a
    # layer's compute_mask, so such a layer used to be taken silently and the padding read as data
    # (the loss and metrics then scored the padded steps)
    class PositionalEmbedding(gn.Layer):         # defined: a module holding it still imports
        def forward(self, x, training=False):
            return x

        def backward(self, grad_output):
            return grad_output

        def compute_mask(self, inputs, mask=None):
            return inputs != 0

    class Subclass(PositionalEmbedding):
        pass
    for make in (PositionalEmbedding, Subclass):     # refused when one is made
        with pytest.raises(TypeError, match=r"PositionalEmbedding: defines compute_mask.*mask_zero=True"):
            make()


def test_a_port_without_compute_mask_keeps_the_embedding_mask():
    # the port the docs give: Embedding(mask_zero=True) makes the mask, a position layer with
    # supports_masking passes it on to the loss: padded steps are not scored
    class AddPositions(gn.Layer):
        supports_masking = True

        def build(self, input_shape):                     # (steps, features)
            self.add_weight(shape=input_shape, initializer="uniform", name="embeddings")

        def forward(self, x, training=False):             # (batch, steps, features)
            return x + self.params["embeddings"]

        def backward(self, grad_output):
            self.grads["embeddings"][...] = grad_output.sum(axis=0)
            return grad_output

    ids = gn.Input((4,))
    x = AddPositions()(gn.layers.Embedding(6, 3, mask_zero=True)(ids))
    model = gn.Model(ids, gn.layers.Dense(6, activation="softmax")(x), seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    x_ids = np.array([[1, 2, 0, 0], [3, 0, 0, 0]])
    y = np.array([[2, 3, 0, 0], [4, 0, 0, 0]])
    probabilities = model.predict(x_ids)
    real = x_ids != 0
    expected = -np.log(probabilities[real, y[real]]).mean()
    assert model.evaluate(x_ids, y) == pytest.approx(expected, rel=1e-5)
