"""Review (masks in blocks drawn from call, against Keras 3.15): a block's own compute_mask over the
mask its inner layer gave the output, and a second tensor given to a block by position."""
import numpy as np
import pytest

import glassnet as gn

STEPS, VOCAB = 5, 8


def _ids(n=8, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, VOCAB, (n, STEPS))
    for k in range(n):
        ids[k, rng.integers(1, STEPS + 1):] = 0
    return ids, rng.normal(size=(n, 1)).astype("float32")


def _model(lib, head):
    class FirstSteps(lib.layers.Layer):
        """A Dense (which passes the embedding's mask on), and a mask of its own: the first 3 steps."""
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = lib.layers.Dense(3)

        def call(self, x, mask=None):
            return self.dense(x)

        def compute_mask(self, inputs, mask=None):
            return lib.ops.less(lib.ops.cumsum(lib.ops.ones_like(inputs[:, :, 0]), axis=1), 3.5)

    inputs = lib.Input((STEPS,))
    h = FirstSteps()(lib.layers.Embedding(VOCAB, 4, mask_zero=True)(inputs))
    h = lib.layers.GRU(3)(h) if head == "gru" else lib.layers.GlobalAveragePooling1D()(h)
    return lib.Model(inputs, lib.layers.Dense(1)(h))


@pytest.mark.parametrize("head", ["gru", "pool"])
def test_a_blocks_own_compute_mask_wins_over_its_inner_layers_mask_as_keras(keras, head):
    # glassnet kept the Dense's mask (ids != 0) and never called compute_mask; Keras 3.15 draws call
    # without the inner layers' masks, so the block's output takes compute_mask's, and the GRU and
    # the pooling after it read that one in every pass (predictions were 1e-2 apart)
    ids, y = _ids()
    km, gm = _model(keras, head), _model(gn, head)
    gm.set_weights(km.get_weights())
    np.testing.assert_allclose(gm.predict(ids), km.predict(ids, verbose=0), atol=1e-5)
    km.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    gm.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    hk = km.fit(ids, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    hg = gm.fit(ids, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(hg, hk, atol=1e-5)
    for a, b in zip(gm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_compute_mask_returning_none_still_keeps_the_inner_layers_mask():
    # (Keras: a None from compute_mask leaves the mask the Dense gave the output at run time)
    class NoMask(gn.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = gn.layers.Dense(3)

        def call(self, x):
            return self.dense(x)

        def compute_mask(self, inputs, mask=None):
            return None
    ids, _ = _ids()
    inputs = gn.Input((STEPS,))
    table = gn.layers.Embedding(VOCAB, 4, mask_zero=True)
    model = gn.Model(inputs, gn.layers.GlobalAveragePooling1D()(NoMask()(table(inputs))), seed=0)
    before = model.predict(ids)
    table.params["embeddings"][0] += 3.0          # the padding's vector: masked, it changes nothing
    np.testing.assert_allclose(model.predict(ids), before, atol=1e-6)


def test_a_second_tensor_by_position_is_a_second_argument_of_call_as_keras():
    # keras.io's older TransformerDecoder.call(inputs, encoder_outputs, mask=None), called as
    # decoder(x, encoder_outputs): once read as training= ("training: expected True or False, got
    # InputLayer(...)"), then refused by name; now drawn with both tensors, mask=None as Keras 3.15
    # hands a call of two tensor arguments (tests/test_block_arguments.py compares it with Keras)
    class Decoder(gn.Layer):
        def call(self, inputs, encoder_outputs, mask=None):
            assert mask is None
            return inputs + gn.ops.mean(encoder_outputs, axis=1, keepdims=True)

    ids, enc = gn.Input((STEPS,)), gn.Input((STEPS, 4))
    model = gn.Model([ids, enc], Decoder()(gn.layers.Embedding(VOCAB, 4, mask_zero=True)(ids), enc))
    x = [_ids()[0], np.random.default_rng(1).normal(size=(8, STEPS, 4)).astype("float32")]
    table = model.layers[0].params["embeddings"]
    np.testing.assert_allclose(model.predict(x, verbose=0), table[x[0]] + x[1].mean(axis=1, keepdims=True), atol=1e-6)
    # training by position still works
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(2)])
    assert model(np.ones((2, 3), "float32"), True).shape == (2, 2)
