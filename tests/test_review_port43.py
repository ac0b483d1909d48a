"""Review port43: keras.io examples ported end to end beside Keras 3.15 (attention-based deep
multiple instance learning, PixelCNN), the same weights and data."""
import numpy as np
import pytest

import glassnet as gn

BAG = 3


def _mil_layer(lib, ops, dot=None):
    """keras.io's MILAttentionLayer (gated), as written but for the stacking axis: glassnet's tensors
    keep the batch axis first, so the scores are stacked on axis 1 (Keras' example stacks on 0).
    ``dot``: its products, ops.tensordot(a, b, axes=1) as written unless given."""
    dot = dot or (lambda a, b: ops.tensordot(a, b, axes=1))
    class MILAttentionLayer(lib.layers.Layer):
        def __init__(self, weight_params_dim, kernel_regularizer=None, use_gated=False, **kwargs):
            super().__init__(**kwargs)
            self.weight_params_dim, self.use_gated = weight_params_dim, use_gated
            self.kernel_regularizer = lib.regularizers.get(kernel_regularizer)

        def build(self, input_shape):
            input_dim = input_shape[0][1]
            self.v = self.add_weight(shape=(input_dim, self.weight_params_dim), name="v",
                                     regularizer=self.kernel_regularizer)
            self.w = self.add_weight(shape=(self.weight_params_dim, 1), name="w",
                                     regularizer=self.kernel_regularizer)
            self.u = self.add_weight(shape=(input_dim, self.weight_params_dim), name="u",
                                     regularizer=self.kernel_regularizer)

        def call(self, inputs):
            scores = [self.compute_attention_scores(instance) for instance in inputs]
            alpha = ops.softmax(ops.stack(scores, axis=1), axis=1)
            return [alpha[:, i] for i in range(alpha.shape[1])]

        def compute_attention_scores(self, instance):
            h = ops.tanh(dot(instance, self.v))
            h = h * ops.sigmoid(dot(instance, self.u))
            return dot(h, self.w)
    return MILAttentionLayer


def _mil_model(lib, ops, dot=None):
    layers = lib.layers
    inputs, embeddings = [], []
    dense_1, dense_2 = layers.Dense(6, activation="relu"), layers.Dense(5, activation="relu")
    for _ in range(BAG):
        inp = layers.Input((2, 2))
        inputs.append(inp)
        embeddings.append(dense_2(dense_1(layers.Flatten()(inp))))
    alpha = _mil_layer(lib, ops, dot)(4, kernel_regularizer=lib.regularizers.L2(0.01), use_gated=True,
                                 name="alpha")(embeddings)
    concat = layers.concatenate([layers.multiply([alpha[i], embeddings[i]]) for i in range(BAG)], axis=1)
    return lib.Model(inputs, layers.Dense(2, activation="softmax")(concat))


def _mil_data():
    rng = np.random.default_rng(0)
    x = list(rng.random((BAG, 12, 2, 2)).astype("float32"))
    y = (rng.random((12, 1)) > 0.6).astype("int64")
    return x, y


def test_mil_attention_tensordot_of_add_weight_trains_as_keras(keras):
    """ops.tensordot(h, self.v, axes=1) on a weight made by add_weight in a drawn call was refused
    ("x2 must be an array or a number, got CallWeight"): it is matmul's product, which trains it."""
    x, y = _mil_data()
    km, gm = _mil_model(keras, keras.ops), _mil_model(gn, gn.ops)
    gm.set_weights([np.asarray(w) for w in km.get_weights()])
    np.testing.assert_allclose(gm.predict(x, verbose=0), km.predict(x, verbose=0), atol=1e-6)
    histories = []
    for model in (km, gm):
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        histories.append(model.fit(x, y, epochs=3, batch_size=1, class_weight={0: 0.8, 1: 1.4},
                                   shuffle=False, verbose=0).history)
    np.testing.assert_allclose(histories[1]["loss"], histories[0]["loss"], atol=1e-5)
    np.testing.assert_allclose(gm.predict(x, verbose=0), km.predict(x, verbose=0), atol=1e-5)


def test_get_layer_of_a_drawn_block_is_not_its_weights_holder(keras):
    """keras.io's MIL example reads the attention scores with
    Model(model.input, model.get_layer("alpha").output): in Keras the block's outputs (a list of
    BAG scores). glassnet's get_layer returned the layer holding the block's add_weight weights,
    named as the block, whose output is the block's first input passed on: an intermediate model
    silently predicting embeddings. That holder's output (and input) is now refused by name; the
    layer itself, with the block's add_weight weights, is still found."""
    km = _mil_model(keras, keras.ops)
    assert len(km.get_layer("alpha").output) == BAG
    gm = _mil_model(gn, gn.ops, dot=gn.ops.matmul)
    holder = gm.get_layer("alpha")
    assert len(holder.get_weights()) == len(km.get_layer("alpha").get_weights())
    with pytest.raises(ValueError, match="holds only the weights a block of yours"):
        holder.output
    with pytest.raises(ValueError, match="holds only the weights a block of yours"):
        holder.input
    assert gm.get_layer("dense").name == "dense"          # other layers as before
