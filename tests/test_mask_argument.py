"""Keras' ``mask=`` argument on a drawn call (layers/mask_argument.py): ``LSTM(3)(x, mask=m)``,
``self.lstm(h, mask=mask)`` in a block's call, ``GlobalAveragePooling1D()(x, mask=m)``; the given
mask replaces the tensor's own, as in Keras 3.15. Each model is written once for both libraries
and compared with Keras 3.15 from the same weights (predictions, 2 epochs of SGD, final weights);
gradients against float64 finite differences."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_model

STEPS, VOCAB = 6, 10


def _data(n=12, seed=0):
    """Padded id sequences (2 to STEPS real ids, then zeros), a second such tensor padded
    elsewhere (another mask than the first's), a boolean mask of its own, and targets."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, VOCAB, (n, STEPS))
    other = rng.integers(1, VOCAB, (n, STEPS))
    for k in range(n):
        ids[k, rng.integers(2, STEPS + 1):] = 0
        other[k, rng.integers(1, STEPS + 1):] = 0
    mask = rng.random((n, STEPS)) < 0.7
    mask[:, 0] = True           # a row with no real step: Keras' GlobalAveragePooling1D gives 0 / 0 there
    return ids, other, mask, rng.normal(size=(n, 1)).astype("float32")


def _input(lib, keras, shape, dtype=None):
    return lib.Input(shape, **({"dtype": dtype} if dtype and lib is keras else {}))


def _compare(keras, make, x, y, atol=1e-5, epochs=2, lr=0.1):
    """``make(lib)`` -> a model, for keras and glassnet: the same weights, then predictions, the
    losses of ``epochs`` of SGD at ``lr`` and the final weights compared."""
    km, gm = make(keras), make(gn)
    assert [w.shape for w in gm.get_weights()] == [tuple(w.shape) for w in km.get_weights()]
    gm.set_weights(km.get_weights())
    expected = km.predict(x, verbose=0)
    np.testing.assert_allclose(gm.predict(x), expected, atol=atol)
    km.compile(loss="mse", optimizer=keras.optimizers.SGD(lr))
    gm.compile(loss="mse", optimizer=gn.optimizers.SGD(lr))
    hk = km.fit(x, y, epochs=epochs, batch_size=4, shuffle=False, verbose=0).history["loss"]
    hg = gm.fit(x, y, epochs=epochs, batch_size=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(hg, hk, atol=atol)
    for a, b in zip(gm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, atol=atol)
    return gm, expected


def _encoder(lib, through_op):
    """A block handing the mask its call got to its LSTM: ``self.lstm(self.d(inputs), mask=mask)``;
    ``through_op``: ``inputs * 2.0`` first, an operation that drops masks (Keras' and here), so
    the LSTM sees the mask only because it is given."""
    class Encoder(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.d = lib.layers.Dense(4, activation="tanh")
            self.lstm = lib.layers.LSTM(3)

        def call(self, inputs, mask=None):
            h = inputs * 2.0 if through_op else self.d(inputs)
            return self.lstm(h, mask=mask)
    return Encoder


@pytest.mark.parametrize("through_op", [False, True], ids=["dense", "op"])
def test_an_lstm_in_a_block_given_the_blocks_mask_trains_as_keras(keras, through_op):
    ids, _, _, y = _data()

    def make(lib):
        inputs = lib.Input((STEPS,))
        h = lib.layers.Embedding(VOCAB, 4, mask_zero=True)(inputs)
        return lib.Model(inputs, lib.layers.Dense(1)(_encoder(lib, through_op)()(h)))
    model, expected = _compare(keras, make, ids, y)
    # the padding counts for nothing: the embedding's row 0 changes nothing
    table = next(layer for layer in model.layers if isinstance(layer, gn.layers.Embedding)).params["embeddings"]
    before = model.predict(ids)
    table[0] += 3.0
    np.testing.assert_allclose(model.predict(ids), before, atol=1e-6)


@pytest.mark.parametrize("rnn", ["LSTM", "GRU", "SimpleRNN"])
def test_a_recurrent_layer_given_another_tensors_not_equal_trains_as_keras(keras, rnn):
    # the mask is ops.not_equal(other, 0) of another Input, replacing the Embedding's own mask
    ids, other, _, y = _data()

    def make(lib):
        a, b = lib.Input((STEPS,)), lib.Input((STEPS,))
        h = lib.layers.Embedding(VOCAB, 4, mask_zero=True)(a)
        h = getattr(lib.layers, rnn)(3)(h, mask=lib.ops.not_equal(b, 0))
        return lib.Model([a, b], lib.layers.Dense(1)(h))
    model, expected = _compare(keras, make, [ids, other], y)
    # it is the given mask that is read: the steps it masks leave the output as it is
    changed = np.where(other == 0, np.where(ids == 0, 3, 0), ids)       # ids changed where other is 0
    np.testing.assert_allclose(model.predict([changed, other]), model.predict([ids, other]), atol=1e-6)


def test_global_average_pooling_given_a_boolean_input_trains_as_keras(keras):
    ids, _, mask, y = _data()

    def make(lib):
        a, m = lib.Input((STEPS,)), _input(lib, keras, (STEPS,), "bool")
        h = lib.layers.Embedding(VOCAB, 4, mask_zero=True)(a)
        h = lib.layers.GlobalAveragePooling1D()(lib.layers.Dense(3)(h), mask=m)
        return lib.Model([a, m], lib.layers.Dense(1)(h))
    _compare(keras, make, [ids, mask], y)


def test_mask_none_given_keeps_the_tensors_own_as_keras(keras):
    # Keras fills a mask argument that is None from the tensor's own: mask=None is no argument
    ids, _, _, y = _data()

    def make(lib):
        a = lib.Input((STEPS,))
        h = lib.layers.Embedding(VOCAB, 4, mask_zero=True)(a)
        h = lib.layers.GlobalAveragePooling1D()(lib.layers.LSTM(3, return_sequences=True)(h, mask=None), mask=None)
        return lib.Model(a, lib.layers.Dense(1)(h))
    _compare(keras, make, ids, y)


def test_a_comparison_cast_to_floats_as_the_mask_trains_as_keras(keras):
    # a mask of 0.0 and 1.0 (ops.cast of a comparison) reads as the booleans would
    ids, other, _, y = _data()

    def make(lib):
        a, b = lib.Input((STEPS,)), lib.Input((STEPS,))
        h = lib.layers.Embedding(VOCAB, 4)(a)
        m = lib.ops.cast(lib.ops.greater(b, 2), "float32")
        h = lib.layers.GRU(3, return_sequences=True)(h, mask=m)
        return lib.Model([a, b], lib.layers.Dense(1)(lib.layers.GlobalAveragePooling1D()(h)))
    _compare(keras, make, [ids, other + 1], y)


def test_bidirectional_lstm_given_a_mask_hands_it_on_as_keras(keras):
    # Bidirectional(return_sequences) passes the given mask on: the pooling after it reads it too
    ids, _, mask, y = _data()

    def make(lib):
        a, m = lib.Input((STEPS,)), _input(lib, keras, (STEPS,), "bool")
        h = lib.layers.Embedding(VOCAB, 4)(a)
        h = lib.layers.Bidirectional(lib.layers.LSTM(3, return_sequences=True))(h, mask=m)
        return lib.Model([a, m], lib.layers.Dense(1)(lib.layers.GlobalAveragePooling1D()(h)))
    _compare(keras, make, [ids, mask], y)


def test_bidirectional_gru_last_outputs_given_a_mask_as_keras(keras):
    ids, _, mask, y = _data(seed=4)

    def make(lib):
        a, m = lib.Input((STEPS,)), _input(lib, keras, (STEPS,), "bool")
        h = lib.layers.Embedding(VOCAB, 4, mask_zero=True)(a)
        h = lib.layers.Bidirectional(lib.layers.GRU(2), merge_mode="sum")(h, mask=m)
        return lib.Model([a, m], lib.layers.Dense(1)(h))
    _compare(keras, make, [ids, mask], y)


def test_time_distributed_given_a_mask_hands_it_on_as_keras(keras):
    ids, _, mask, y = _data(seed=5)

    def make(lib):
        a, m = lib.Input((STEPS,)), _input(lib, keras, (STEPS,), "bool")
        h = lib.layers.Embedding(VOCAB, 4)(a)
        h = lib.layers.TimeDistributed(lib.layers.Dense(3))(h, mask=m)
        return lib.Model([a, m], lib.layers.Dense(1)(lib.layers.GlobalAveragePooling1D()(h)))
    _compare(keras, make, [ids, mask], y)


def test_a_given_mask_replaces_one_with_axes_within_the_steps_as_keras(keras):
    # an Embedding of ids (steps, length) masks (batch, steps, length); ConvLSTM1D reads masks of
    # the steps alone, and here reads the one given in its place
    rng = np.random.default_rng(9)
    ids = rng.integers(0, VOCAB, (8, 5, 3))
    mask = rng.random((8, 5)) < 0.6
    mask[:, 0] = True

    def make(lib):
        a, m = lib.Input((5, 3)), _input(lib, keras, (5,), "bool")
        h = lib.layers.Embedding(VOCAB, 2, mask_zero=True)(a)
        h = lib.layers.ConvLSTM1D(2, 2, return_sequences=True)(h, mask=m)
        h = lib.layers.TimeDistributed(lib.layers.Flatten())(h)
        return lib.Model([a, m], lib.layers.Dense(1)(lib.layers.GlobalAveragePooling1D()(h)))
    _compare(keras, make, [ids, mask], rng.normal(size=(8, 1)).astype("float32"))


def test_the_mask_a_block_computes_given_to_a_pooling_inside_it_as_keras(keras):
    # keras.io's pattern: call(self, x, mask=None) pooling with mask=mask; the model's input
    # itself is masked by the block's compute_mask
    ids, _, _, y = _data(seed=6)

    def make(lib):
        class Pool(lib.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.gru = lib.layers.GRU(3, return_sequences=True)

            def call(self, x, mask=None):
                return lib.layers.GlobalAveragePooling1D()(self.gru(x, mask=mask), mask=mask)

        class Embed(lib.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.emb = lib.layers.Embedding(VOCAB, 4)

            def call(self, inputs):
                return self.emb(inputs)

            def compute_mask(self, inputs, mask=None):
                return lib.ops.not_equal(inputs, 0)
        a = lib.Input((STEPS,))
        return lib.Model(a, lib.layers.Dense(1)(Pool()(Embed()(a))))
    _compare(keras, make, ids, y)


def _saved_model():
    a, b = gn.Input((STEPS,)), gn.Input((STEPS,))
    h = gn.layers.Embedding(VOCAB, 4, mask_zero=True)(a)
    h = gn.layers.LSTM(3, return_sequences=True)(h, mask=gn.ops.not_equal(b, 0))
    h = gn.layers.GlobalAveragePooling1D()(h)
    return gn.Model([a, b], gn.layers.Dense(1)(h), seed=0)


def test_save_load_and_config_keep_the_given_mask(tmp_path):
    ids, other, _, y = _data()
    model = _saved_model()
    model.compile(loss="mse", optimizer="sgd")
    model.fit([ids, other], y, epochs=1, batch_size=4, verbose=0)
    expected = model.predict([ids, other])
    model.save(tmp_path / "given.npz")
    loaded = gn.load_model(tmp_path / "given.npz")
    np.testing.assert_array_equal(loaded.predict([ids, other]), expected)
    again = gn.Model.from_config(model.get_config())
    again.set_weights(model.get_weights())
    np.testing.assert_array_equal(again.predict([ids, other]), expected)
    # still the other tensor's mask after loading: ids changed where it is 0 change nothing
    changed = np.where(other == 0, 7, ids)
    np.testing.assert_allclose(loaded.predict([changed, other]), expected, atol=1e-6)
    assert loaded.evaluate([ids, other], y, verbose=0) == pytest.approx(
        model.evaluate([ids, other], y, verbose=0), rel=1e-6)


def test_gradients_with_given_masks_match_finite_differences():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 4, 3))
    m = rng.random((5, 4)) < 0.6
    m[:, 0] = True
    inputs, mask = gn.Input((4, 3)), gn.Input((4,))
    h = gn.layers.Bidirectional(gn.layers.LSTM(2, return_sequences=True))(inputs, mask=mask)
    h = gn.layers.GRU(2, return_sequences=True)(h, mask=gn.ops.greater(mask, 0.5))
    h = gn.layers.GlobalAveragePooling1D()(h)
    model = gn.Model([inputs, mask], gn.layers.Dense(2)(h), dtype="float64", seed=0)
    model.compile(loss="mse", optimizer="sgd")
    assert check_model(model, [x, m.astype(float)], rng.normal(size=(5, 2)))["max_error"] < 1e-6


def test_eager_calls_with_array_masks_are_unchanged(keras):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(3, 5, 2)).astype("float32")
    m = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 1, 0, 1]], dtype=bool)
    k = keras.layers.LSTM(3)
    expected = np.asarray(k(x, mask=m))
    g = gn.layers.LSTM(3)
    g(x)
    g.set_weights(k.get_weights())
    np.testing.assert_allclose(g(x, mask=m), expected, atol=1e-5)
    np.testing.assert_allclose(gn.layers.GlobalAveragePooling1D()(x, mask=m),
                               np.asarray(keras.layers.GlobalAveragePooling1D()(x, mask=m)), atol=1e-6)


# -- refused, by name --------------------------------------------------------------------------

def _seq():
    return gn.layers.Embedding(VOCAB, 4)(gn.Input((STEPS,)))


@pytest.mark.parametrize("layer", [gn.layers.Dense(2), gn.layers.GlobalMaxPooling1D(), gn.layers.Dropout(0.1)],
                         ids=["Dense", "GlobalMaxPooling1D", "Dropout"])
def test_a_layer_reading_no_mask_refuses_one_as_keras(keras, layer):
    # Keras: TypeError, its call has no mask argument
    kx = keras.layers.Embedding(VOCAB, 4)(keras.Input((STEPS,)))
    with pytest.raises(TypeError):
        getattr(keras.layers, type(layer).__name__)(**({"units": 2} if isinstance(layer, gn.layers.Dense) else
                                                       {"rate": 0.1} if isinstance(layer, gn.layers.Dropout) else {})
                                                    )(kx, mask=keras.Input((STEPS,), dtype="bool"))
    with pytest.raises(TypeError, match=r"takes no mask= \(nor does Keras'"):
        layer(_seq(), mask=gn.Input((STEPS,)))


def test_a_merges_mask_argument_is_refused_as_keras(keras):
    with pytest.raises(TypeError):
        keras.layers.Add()([keras.Input((STEPS, 2))] * 2, mask=keras.Input((STEPS,), dtype="bool"))
    a = gn.Input((STEPS, 2))
    with pytest.raises(TypeError, match=r"Add.*takes no mask"):
        gn.layers.Add()([a, a], mask=gn.Input((STEPS,)))


def test_an_embeddings_mask_argument_is_refused():
    with pytest.raises(TypeError, match=r"Embedding.*takes no mask="):
        gn.layers.Embedding(VOCAB, 2)(gn.Input((STEPS,)), mask=gn.Input((STEPS,)))
    with pytest.raises(TypeError, match=r"ReversibleEmbedding.*takes no mask="):
        gn.layers.ReversibleEmbedding(VOCAB, 2)(gn.Input((STEPS,)), mask=gn.Input((STEPS,)))


def test_an_array_mask_in_a_drawn_call_is_refused():
    with pytest.raises(TypeError, match=r"LSTM.*mask= takes one of its tensors .*got ndarray"):
        gn.layers.LSTM(2)(_seq(), mask=np.ones((1, STEPS), bool))
    with pytest.raises(TypeError, match=r"mask= takes one tensor \(batch, steps\), got a list of 2"):
        gn.layers.LSTM(2)(_seq(), mask=[gn.Input((STEPS,)), gn.Input((STEPS,))])


def test_masks_with_axes_within_the_steps_are_refused():
    with pytest.raises(ValueError, match=r"mask= must be a mask of the steps.*got samples of shape \(6, 2\)"):
        gn.layers.LSTM(2)(_seq(), mask=gn.Input((STEPS, 2)))


def test_a_mask_of_other_steps_is_refused():
    with pytest.raises(ValueError, match=r"mask= must have the input's steps.*\(None, 6\); got \(None, 5\)"):
        gn.layers.GRU(2)(_seq(), mask=gn.Input((STEPS - 1,)))
    with pytest.raises(ValueError, match=r"mask= masks the steps of sequences"):
        gn.layers.TimeDistributed(gn.layers.Dense(2))(gn.Input((STEPS,)), mask=gn.Input((STEPS,)))


def test_a_mask_of_another_batch_is_refused():
    # a mask Input of other rows than the sequences': refused when given, as any input of other
    # rows; one sliced on the batch axis inside a block is refused when drawn (x[:1] indexes it)
    a, m = gn.Input((STEPS, 2)), gn.Input((STEPS,))
    model = gn.Model([a, m], gn.layers.LSTM(2)(a, mask=m))
    with pytest.raises(ValueError, match=r"every input needs the same number of samples, got \[4, 3\]"):
        model.predict([np.ones((4, STEPS, 2)), np.ones((3, STEPS))])

    class Sliced(gn.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.lstm = gn.layers.LSTM(2)

        def call(self, x, mask=None):
            return self.lstm(x, mask=mask[:1])
    with pytest.raises(ValueError, match=r"the index \[:1\] indexes the batch axis"):
        Sliced()(gn.layers.Embedding(VOCAB, 4, mask_zero=True)(gn.Input((STEPS,))))


def test_mask_values_other_than_booleans_are_refused_when_run():
    a, m = gn.Input((STEPS, 2)), gn.Input((STEPS,))
    model = gn.Model([a, m], gn.layers.LSTM(2)(a, mask=m))
    with pytest.raises(ValueError, match=r"must hold booleans \(or 0 and 1\)"):
        model.predict([np.ones((2, STEPS, 2)), np.full((2, STEPS), 0.5)])


def test_mask_with_initial_state_is_refused_by_name():
    h, c = gn.Input((2,)), gn.Input((2,))
    with pytest.raises(NotImplementedError, match=r"LSTM.*mask= with initial_state is not supported"):
        gn.layers.LSTM(2)(_seq(), mask=gn.Input((STEPS,)), initial_state=[h, c])
