"""Masks through blocks written with ``call`` that declare no mask support, and through ops that
keep the steps (glassnet._block_masks, layers/tensor_functions.py), against Keras 3.15.

Keras 3.15 (keras/src/layers/layer.py): a Layer subclass whose ``call`` takes no ``mask``, that
defines no ``compute_mask`` and leaves ``supports_masking`` False puts no mask on its output; its
operations drop masks (a fresh tensor), so a masked LSTM after ``h + 0.5 * self.probe(h)`` reads
every step, padding included. Each model is written once for both libraries, given the same
weights, and compared in predictions, ``evaluate``, 3 epochs of SGD and the final weights; the
gradients of each path touched against float64 central finite differences."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_model

STEPS, VOCAB, D = 6, 10, 4


def _ids(n=12, seed=0):
    """Padded id sequences (2 to STEPS real ids, then zeros) and per-step targets (n, STEPS, 1)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, VOCAB, (n, STEPS))
    for k in range(n):
        ids[k, rng.integers(2, STEPS + 1):] = 0
    return ids, rng.normal(size=(n, STEPS, 1)).astype("float32")


def _block(lib, variant, flag=None):
    """A residual block written as the reviewer's tagger writes it; ``flag``: supports_masking set
    in __init__ (None: not set, Keras' default False)."""
    ops = lib.ops

    class Block(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.probe = lib.layers.Dense(D)
            if flag is not None:
                self.supports_masking = flag

        def call(self, h):
            if variant == "residual":
                return h + 0.5 * self.probe(h)
            if variant == "centred":            # a feature-axis reduction with keepdims
                return h - ops.mean(h, axis=-1, keepdims=True) + 0.5 * self.probe(h)
            if variant == "scaled":             # one without keepdims, then broadcast back
                return h / ops.expand_dims(ops.max(ops.abs(h), axis=-1) + 1.0, -1) + self.probe(h)
            return self.probe(h)                # "dense": its last layer passes its input's mask on
    return Block()


def _tagger(lib, variant, flag=None):
    inputs = lib.Input((STEPS,))
    h = lib.layers.Embedding(VOCAB, D, mask_zero=True)(inputs)
    h = _block(lib, variant, flag)(h)
    h = lib.layers.LSTM(3, return_sequences=True)(h)
    return lib.Model(inputs, lib.layers.Dense(1)(h))


def _compare(keras, km, gm, x, y, atol=1e-5, epochs=3):
    """The same weights; predictions, evaluate, ``epochs`` of SGD and the final weights within atol."""
    assert [w.shape for w in gm.get_weights()] == [tuple(w.shape) for w in km.get_weights()]
    gm.set_weights(km.get_weights())
    np.testing.assert_allclose(gm.predict(x, verbose=0), km.predict(x, verbose=0), atol=atol)
    km.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    gm.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    np.testing.assert_allclose(gm.evaluate(x, y, verbose=0), km.evaluate(x, y, verbose=0), atol=atol)
    hk = km.fit(x, y, epochs=epochs, batch_size=4, shuffle=False, verbose=0).history["loss"]
    hg = gm.fit(x, y, epochs=epochs, batch_size=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(hg, hk, atol=atol)
    for a, b in zip(gm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, atol=atol)
    return gm


def _padding_matters(model, ids):
    """How far the predictions move when the padding's embedding changes (at the padded steps: a
    masked LSTM repeats its last real state there; the real steps come first)."""
    table = next(layer for layer in model.layers if isinstance(layer, gn.layers.Embedding)).params["embeddings"]
    before = model.predict(ids, verbose=0)
    table[0] += 3.0
    after = model.predict(ids, verbose=0)
    table[0] -= 3.0
    return np.abs(after - before).max()


@pytest.mark.parametrize("variant", ["residual", "centred", "scaled", "dense"])
@pytest.mark.parametrize("flag", [None, True, False])
def test_a_block_follows_keras_mask_rule_in_a_masked_tagger(keras, variant, flag):
    # no flag (Keras' default): the op drops the mask and the LSTM reads the padding (glassnet kept
    # it, 0.01 off in predict, 0.1 in evaluate); "dense" keeps the Dense's mask as Keras' run does;
    # True: the mask the block was given goes on; "centred"/"scaled" were refused by name
    ids, y = _ids()
    keras.utils.set_random_seed(1)
    gm = _compare(keras, _tagger(keras, variant, flag), _tagger(gn, variant, flag), ids, y)
    keeps = flag is True or variant == "dense"
    assert (_padding_matters(gm, ids) < 1e-6) == keeps


def test_the_older_rule_is_gone_a_block_without_mask_support_reads_the_padding():
    # the same block: without the flag the padding reaches the LSTM's real steps, with it it does not
    ids, _ = _ids(seed=3)
    moved = {flag: _padding_matters(_tagger(gn, "residual", flag), ids) for flag in (None, True)}
    assert moved[True] < 1e-6 < 1e-3 < moved[None]


@pytest.mark.parametrize("variant", ["residual", "centred", "scaled"])
@pytest.mark.parametrize("flag", [None, True])
def test_block_gradients_against_finite_differences(variant, flag):
    ids, y = _ids(n=5, seed=2)
    inputs = gn.Input((STEPS,))
    h = gn.layers.Embedding(VOCAB, D, mask_zero=True)(inputs)
    h = gn.layers.LSTM(3, return_sequences=True)(_block(gn, variant, flag)(h))
    model = gn.Model(inputs, gn.layers.Dense(1)(h), dtype="float64", seed=0)
    model.compile(loss="mse", optimizer="sgd")
    assert check_model(model, ids, y.astype("float64"))["max_error"] < 1e-6


# -- ops keeping the steps carry the mask (glassnet's rule outside blocks) -------------------------
def _feature_op(lib, name, x):
    ops = lib.ops
    if name == "mean_keepdims":
        return x - ops.mean(x, axis=-1, keepdims=True)
    if name == "max_keepdims":           # (a sum or difference of two tensors of one mask keeps it)
        return x - ops.max(x, axis=[2], keepdims=True)
    if name == "std_keepdims":
        return x - ops.std(x, axis=-1, keepdims=True)
    if name == "softmax":
        return ops.softmax(x, axis=-1)
    return ops.log_softmax(x, axis=2)


class _KerasCarried:
    """Keras' form of the same model: the op in a block with supports_masking=True, which hands the
    mask it was given on (Keras' operations drop it; glassnet's rule carries it past the op)."""
    def __init__(self, keras, name):
        class Carried(keras.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.supports_masking = True

            def call(self, x):
                return _feature_op(keras, name, x)
        self.layer = Carried


def _reduced_tagger(lib, name, keras=None):
    inputs = lib.Input((STEPS,))
    h = lib.layers.Embedding(VOCAB, D, mask_zero=True)(inputs)
    h = _KerasCarried(keras, name).layer()(h) if lib is keras else _feature_op(gn, name, h)
    h = lib.layers.LSTM(3, return_sequences=True)(h)
    return lib.Model(inputs, lib.layers.Dense(1)(h))


OPS = ["mean_keepdims", "max_keepdims", "std_keepdims", "softmax", "log_softmax"]


@pytest.mark.parametrize("name", OPS)
def test_a_feature_axis_reduction_carries_the_mask_in_a_functional_model(keras, name):
    # "mean may move, join or drop the steps a mask marks" was raised although the steps stay
    ids, y = _ids(seed=4)
    keras.utils.set_random_seed(2)
    gm = _compare(keras, _reduced_tagger(keras, name, keras), _reduced_tagger(gn, name), ids, y)
    assert _padding_matters(gm, ids) < 1e-6


def test_a_reduction_to_one_number_per_step_carries_the_mask_to_the_loss():
    # (batch, steps, d) summed over the features without keepdims: (batch, steps), the steps kept;
    # the loss scores the real steps alone (Keras 3.15 cannot compare here: its mse fails on a
    # mask (batch, steps) beside the losses (batch,)), so against the mean worked out by hand
    ids, _ = _ids(seed=5)
    y = np.random.default_rng(5).normal(size=ids.shape).astype("float32")
    inputs = gn.Input((STEPS,))
    h = gn.layers.Dense(D)(gn.layers.Embedding(VOCAB, D, mask_zero=True)(inputs))
    model = gn.Model(inputs, gn.ops.sum(h, axis=-1), seed=0)
    model.compile(loss="mse", optimizer="sgd")
    real = ids != 0
    p = model.predict(ids, verbose=0)
    np.testing.assert_allclose(model.evaluate(ids, y, verbose=0), np.mean((p - y)[real] ** 2), rtol=1e-5)


@pytest.mark.parametrize("name", OPS)
def test_feature_axis_reductions_gradients_against_finite_differences(name):
    ids, y = _ids(n=5, seed=6)
    inputs = gn.Input((STEPS,))
    h = _feature_op(gn, name, gn.layers.Embedding(VOCAB, D, mask_zero=True)(inputs))
    model = gn.Model(inputs, gn.layers.Dense(1)(gn.layers.LSTM(3, return_sequences=True)(h)),
                     dtype="float64", seed=0)
    model.compile(loss="mse", optimizer="sgd")
    assert check_model(model, ids, y.astype("float64"))["max_error"] < 1e-6


@pytest.mark.parametrize("make", [
    lambda h: gn.ops.mean(h, axis=1, keepdims=True),            # over the steps
    lambda h: gn.ops.sum(h, axis=[1, 2]),
    lambda h: gn.ops.softmax(h, axis=1),
    lambda h: gn.ops.max(gn.ops.mean(h, axis=-1), axis=-1),     # (batch, steps) -> over the steps
    lambda h: gn.ops.argmax(h, axis=-2),
])
def test_ops_moving_or_joining_steps_still_refuse_the_mask_by_name(make):
    inputs = gn.Input((STEPS,))
    h = gn.layers.Embedding(VOCAB, D, mask_zero=True)(inputs)
    with pytest.raises(ValueError, match=r"may move, join or drop the steps a mask marks"):
        gn.Model(inputs, gn.layers.Dense(1)(gn.layers.Flatten()(gn.ops.expand_dims(make(h), -1))))


def test_a_reduction_along_a_mask_within_the_steps_is_refused_by_name():
    # ids (steps, length): the Embedding's mask is (batch, steps, length); axis 2 is one of its axes
    inputs = gn.Input((STEPS, 3))
    h = gn.layers.Embedding(VOCAB, D, mask_zero=True)(inputs)
    with pytest.raises(ValueError, match=r"mean along axis 2 joins the entries that a mask within the steps"):
        gn.Model(inputs, gn.layers.TimeDistributed(gn.layers.LSTM(2))(gn.ops.mean(h, axis=2, keepdims=True)))
    # along the features the mask within the steps stays whole: built
    model = gn.Model(inputs, gn.layers.TimeDistributed(gn.layers.LSTM(2))(gn.ops.mean(h, axis=-1, keepdims=True)))
    assert model.output_shape == (None, STEPS, 2)


def test_inside_a_block_without_mask_support_a_step_reduction_drops_the_mask_as_keras(keras):
    # ops in blocks drop masks (Keras' rule): a reduction over the steps there is not refused
    def make(lib):
        class Pool(lib.layers.Layer):
            def call(self, h):
                return lib.ops.mean(h, axis=1)
        inputs = lib.Input((STEPS,))
        return lib.Model(inputs, lib.layers.Dense(1)(Pool()(lib.layers.Embedding(VOCAB, D, mask_zero=True)(inputs))))
    ids, _ = _ids(seed=7)
    y = np.random.default_rng(7).normal(size=(len(ids), 1)).astype("float32")
    keras.utils.set_random_seed(5)
    _compare(keras, make(keras), make(gn), ids, y)
