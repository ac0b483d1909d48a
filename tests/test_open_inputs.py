"""Models of several inputs with axes of any length (``Input((None, 8))``), as Keras' seq2seq
tutorial declares its encoder's and decoder's: trained as Keras 3.15 trains them on arrays and on
batches of several lengths, predicting lengths never seen, with masks, in files, on fakecupy, and
refusing what does not fit by name. Each packing's rows carry its lengths (graph.Model._open_sizes)."""
import pickle

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_model
from keras_twins import train_both, twins

from test_gpu import assert_same_history, cupy, on_host  # noqa: F401  (cupy: the fixture)

L = gn.layers


def _seq2seq(lib):
    """Keras' seq2seq tutorial as it is written: encoder and decoder inputs of any length."""
    encoder_inputs, decoder_inputs = lib.Input((None, 4), name="enc_in"), lib.Input((None, 3), name="dec_in")
    _, h, c = lib.layers.LSTM(6, return_state=True, name="encoder")(encoder_inputs)
    decoded = lib.layers.LSTM(6, return_sequences=True, name="decoder")(decoder_inputs, initial_state=[h, c])
    return [encoder_inputs, decoder_inputs], lib.layers.Dense(3, activation="softmax", name="out")(decoded)


def test_the_seq2seq_tutorial_s_model_of_any_lengths_trains_as_keras(rng, tmp_path):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = twins(_seq2seq, keras)
    assert ours.input_shapes == [(None, 4), (None, 3)]
    assert ours.input_shape == [(None, None, 4), (None, None, 3)] == [tuple(s) for s in theirs.input_shape]
    assert ours._sample_input_shape == (None,)        # inside: the packed row, of any length
    x = [rng.standard_normal((12, 7, 4)).astype(np.float32), rng.standard_normal((12, 5, 3)).astype(np.float32)]
    y = rng.integers(0, 3, (12, 5))
    mine, their = train_both(ours, theirs, x, y, "sparse_categorical_crossentropy", 0.5, 4)
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    # lengths it never saw, each input its own
    other = [rng.standard_normal((3, 2, 4)).astype(np.float32), rng.standard_normal((3, 9, 3)).astype(np.float32)]
    np.testing.assert_allclose(ours.predict(other), np.asarray(theirs.predict(other, verbose=0)), rtol=1e-5, atol=1e-6)
    path = tmp_path / "seq2seq.npz"
    ours.save(path)
    np.testing.assert_array_equal(gn.load_model(path).predict(other), ours.predict(other))
    assert ours.evaluate(other, rng.integers(0, 3, (3, 9)), verbose=0) > 0


class _ByLength(gn.utils.PyDataset):
    def __init__(self, batches):
        super().__init__()
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i):
        return self.batches[i]


def test_batches_of_several_lengths_train_as_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    batches = [([rng.standard_normal((4, n, 4)).astype(np.float32), rng.standard_normal((4, m, 3)).astype(np.float32)],
                rng.integers(0, 3, (4, m))) for n, m in ((5, 3), (8, 6), (2, 4))]

    class KerasByLength(keras.utils.PyDataset):
        def __len__(self):
            return len(batches)

        def __getitem__(self, i):
            return tuple(batches[i][0]), batches[i][1]
    ours, theirs = twins(_seq2seq, keras)
    ours.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.SGD(0.3))
    theirs.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.3))
    mine = ours.fit(_ByLength(batches), epochs=2, shuffle=False, verbose=0).history["loss"]
    their = theirs.fit(KerasByLength(), epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(mine, their, rtol=1e-5)


def test_masked_ids_of_any_length_beside_features_and_gradients(rng):
    ids, features = gn.Input((None,)), gn.Input((2,))
    read = L.GRU(5)(L.Embedding(9, 4, mask_zero=True)(ids))      # (a call given initial_state reads no mask: Keras)
    joined = L.Concatenate()([read, L.Dense(3, activation="tanh")(features)])
    model = gn.Model([ids, features], L.Dense(1)(joined), seed=0, dtype="float64")
    model.compile(loss="mse")
    tokens = rng.integers(1, 9, (4, 6))
    tokens[0, 3:] = 0
    x = [tokens, rng.standard_normal((4, 2))]
    assert check_model(model, x, rng.standard_normal((4, 1)))["max_error"] < 1e-6
    # the padding changes nothing: the same rows without it give the same outputs
    np.testing.assert_allclose(model.predict([tokens[:1, :3], x[1][:1]]), model.predict([tokens[:1], x[1][:1]]),
                               rtol=1e-12)


def _tutorial(lib):
    """Keras' seq2seq tutorial as written, its training model and its two inference models."""
    encoder_inputs = lib.Input((None, 4))
    _, state_h, state_c = lib.layers.LSTM(6, return_state=True, name="encoder")(encoder_inputs)
    encoder_states = [state_h, state_c]
    decoder_inputs = lib.Input((None, 3))
    decoder_lstm = lib.layers.LSTM(6, return_sequences=True, return_state=True, name="decoder")
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=encoder_states)
    decoder_dense = lib.layers.Dense(3, activation="softmax", name="out")
    model = lib.Model([encoder_inputs, decoder_inputs], decoder_dense(decoder_outputs))
    encoder_model = lib.Model(encoder_inputs, encoder_states)
    states_in = [lib.Input((6,)), lib.Input((6,))]
    decoder_outputs, state_h, state_c = decoder_lstm(decoder_inputs, initial_state=states_in)
    decoder_model = lib.Model([decoder_inputs] + states_in, [decoder_dense(decoder_outputs), state_h, state_c])
    return model, encoder_model, decoder_model


def test_the_tutorial_s_inference_models_of_any_length_decode_as_keras(rng, tmp_path):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    (ours, encoder, decoder), (theirs, their_encoder, their_decoder) = _tutorial(gn), _tutorial(keras)
    theirs.set_weights(ours.get_weights())
    x = [rng.standard_normal((12, 7, 4)).astype(np.float32), rng.standard_normal((12, 5, 3)).astype(np.float32)]
    y = rng.integers(0, 3, (12, 5))
    mine, their = train_both(ours, theirs, x, y, "sparse_categorical_crossentropy", 0.5, 4)
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    assert decoder.output_shapes == [(None, 3), (6,), (6,)]

    def decode(encoder, decoder, source, steps=4):
        """Greedy decoding, one step at a time, as the tutorial's decode_sequence."""
        states = [np.asarray(s) for s in encoder.predict(source, verbose=0)]
        token, written = np.zeros((len(source), 1, 3), dtype=np.float32), []
        for _ in range(steps):
            probabilities, *states = [np.asarray(a) for a in decoder.predict([token, *states], verbose=0)]
            written.append(probabilities[:, -1])
            token = np.eye(3, dtype=np.float32)[probabilities[:, -1].argmax(-1)][:, None]
        return np.stack(written, axis=1)
    source = rng.standard_normal((3, 9, 4)).astype(np.float32)
    np.testing.assert_allclose(decode(encoder, decoder, source), decode(their_encoder, their_decoder, source),
                               rtol=1e-4, atol=1e-6)
    # and on two steps at once: an output of any length beside fixed ones
    two = [rng.standard_normal((3, 2, 3)).astype(np.float32), *[np.asarray(s) for s in encoder.predict(source)]]
    for a, b in zip(decoder.predict(two), their_decoder.predict(two, verbose=0)):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-6)
    decoder.save(tmp_path / "decoder.npz")
    for a, b in zip(gn.load_model(tmp_path / "decoder.npz").predict(two), decoder.predict(two)):
        np.testing.assert_array_equal(a, b)
    # the tutorial's second half: the training model read back, its inference models drawn from its
    # layers (by name here: glassnet's model.layers lists no Inputs, and lists the states' readers)
    ours.save(tmp_path / "s2s.npz")
    model = gn.load_model(tmp_path / "s2s.npz")
    encoder_inputs = model.input[0]
    _, state_h_enc, state_c_enc = model.get_layer("encoder").output          # Keras' list, as before saving
    encoder = gn.Model(encoder_inputs, [state_h_enc, state_c_enc])
    decoder_inputs, states_in = model.input[1], [gn.Input((6,)), gn.Input((6,))]
    decoded, state_h_dec, state_c_dec = model.get_layer("decoder")(decoder_inputs, initial_state=states_in)
    decoder = gn.Model([decoder_inputs, *states_in], [model.get_layer("out")(decoded), state_h_dec, state_c_dec])
    np.testing.assert_allclose(decode(encoder, decoder, source), decode(their_encoder, their_decoder, source),
                               rtol=1e-4, atol=1e-6)


def test_several_outputs_of_any_length_train_as_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")

    def build(lib):
        tokens = lib.Input((None, 3))
        sequence, state = lib.layers.GRU(5, return_sequences=True, return_state=True, name="gru")(tokens)
        tags = lib.layers.Dense(4, activation="softmax", name="tags")(sequence)
        return tokens, [tags, lib.layers.Dense(2, name="summary")(state)]
    ours, theirs = twins(build, keras)
    settings = dict(loss=["categorical_crossentropy", "mse"], metrics={"tags": ["accuracy"], "summary": ["mae"]})
    ours.compile(optimizer=gn.optimizers.SGD(0.2), **settings)
    theirs.compile(optimizer=keras.optimizers.SGD(0.2), **settings)
    x = rng.standard_normal((16, 6, 3)).astype(np.float32)
    y = [np.eye(4, dtype=np.float32)[rng.integers(0, 4, (16, 6))], rng.standard_normal((16, 2)).astype(np.float32)]
    kwargs = dict(batch_size=8, epochs=2, shuffle=False, verbose=0)
    mine, their = ours.fit(x, y, **kwargs).history, theirs.fit(x, y, **kwargs).history
    for key in their:
        np.testing.assert_allclose(mine[key], their[key], rtol=1e-4, atol=1e-6, err_msg=key)
    other = rng.standard_normal((2, 9, 3)).astype(np.float32)
    for a, b in zip(ours.predict(other), theirs.predict(other, verbose=0)):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-6)
    check = gn.Model(*build(gn), seed=0, dtype="float64")
    check.compile(loss=["categorical_crossentropy", "mse"])
    assert check_model(check, x[:3].astype(np.float64), [y[0][:3].astype(np.float64), y[1][:3].astype(np.float64)],
                       )["max_error"] < 1e-6


def test_what_does_not_fit_is_refused_by_name(rng):
    model = gn.Model(*_seq2seq(gn), seed=0)
    with pytest.raises(ValueError, match=r"x\[1\]: input 'dec_in' takes samples of shape \(None, 3\), got samples "
                                         r"of shape \(5, 2\)"):
        model.predict([np.ones((2, 4, 4)), np.ones((2, 5, 2))])
    with pytest.raises(ValueError, match="every input needs the same number of samples"):
        model.predict([np.ones((2, 4, 4)), np.ones((3, 5, 3))])
    # targets of another length than their output's are refused by its loss, at the first batch
    i = gn.Input((None, 3))
    sequence, state = L.GRU(4, return_sequences=True, return_state=True)(i)
    model = gn.Model(i, [sequence, state])
    model.compile(loss="mse")
    with pytest.raises(ValueError, match=r"mse: expected targets of the output's shape \(2, 5, 4\), got shape "
                                         r"\(2, 6, 4\)"):
        model.fit(np.ones((2, 5, 3)), [np.ones((2, 6, 4)), np.ones((2, 4))], verbose=0)


def test_a_model_of_any_lengths_trains_on_the_device_as_on_the_host(cupy):
    rng = np.random.default_rng(0)
    x = [rng.random((16, 5, 4), dtype=np.float32), rng.random((16, 3, 3), dtype=np.float32)]
    y = rng.integers(0, 3, (16, 3))

    def train():
        model = gn.Model(*_seq2seq(gn), seed=1)
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
        return model, model.fit(x, y, epochs=2, batch_size=8, verbose=0, validation_split=0.25).history

    host, host_history = on_host(train)
    device, history = train()
    assert_same_history(history, host_history, cupy)


def test_weights_per_position_of_an_output_of_any_length_as_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = twins(_seq2seq, keras)
    ours.compile(loss="sparse_categorical_crossentropy")
    theirs.compile(loss="sparse_categorical_crossentropy")
    x = [rng.standard_normal((6, 7, 4)).astype(np.float32), rng.standard_normal((6, 5, 3)).astype(np.float32)]
    y, w = rng.integers(0, 3, (6, 5)), (rng.random((6, 5)) > 0.3).astype(np.float32)
    assert ours.evaluate(x, y, sample_weight=w, verbose=0) == pytest.approx(
        theirs.evaluate(x, y, sample_weight=w, verbose=0), rel=1e-5)


def test_predict_joins_batches_only_of_one_shape_per_output(rng):
    a, b = gn.Input((None, 2)), gn.Input((None, 2))
    model = gn.Model([a, b], [L.GRU(3, return_sequences=True)(a), L.GRU(3, return_sequences=True)(b)], seed=0)
    first = [rng.standard_normal((4, 2, 2)), rng.standard_normal((4, 4, 2))]
    swapped = [rng.standard_normal((4, 4, 2)), rng.standard_normal((4, 2, 2))]     # rows of the same width
    joined = model.predict(_ByLength([(first,), (first,)]))
    for got, alone in zip(joined, model.predict(first)):
        np.testing.assert_array_equal(got, np.concatenate([alone, alone]))
    with pytest.raises(ValueError, match=r"different shapes \[\(\(2, 3\), \(4, 3\)\), \(\(4, 3\), \(2, 3\)\)\]"):
        model.predict(_ByLength([(first,), (swapped,)]))


def test_models_pickled_before_these_changes_still_work(rng):
    """A model of several outputs pickled before outputs of any length, and a Bidirectional pickled
    before states in and out, lack what their classes now set in __init__."""
    i = gn.Input((5, 3))
    h = L.Bidirectional(L.GRU(4))(i)
    model = gn.Model(i, [L.Dense(2, name="a")(h), L.Dense(1, name="b")(h)], seed=0)
    model.compile(loss="mse")
    x, y = rng.standard_normal((8, 5, 3)).astype(np.float32), [np.zeros((8, 2)), np.zeros((8, 1))]
    expected = model.predict(x)
    for head in model._heads:
        del head.layout, head.target_layout
    del model.layers[0].return_state
    copy = pickle.loads(pickle.dumps(model))
    for got, want in zip(copy.predict(x), expected):
        np.testing.assert_array_equal(got, want)
    copy.fit(x, y, epochs=1, verbose=0)
    assert copy.layers[0](x).shape == (8, 8)


def test_a_read_back_layer_lists_every_state_in_its_place(rng, tmp_path):
    """Keras' list layer.output, [sequence, h, c], after a file too: the states the model never
    read are drawn again, so that each keeps its index."""
    i = gn.Input((None, 3))
    sequence, h, c = L.LSTM(4, return_state=True, return_sequences=True, name="enc")(i)
    model = gn.Model(i, L.Dense(2)(c), seed=0)            # reads c alone
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    out, h2, c2 = loaded.get_layer("enc").output
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    states = gn.Model(loaded.input, [h2, c2]).predict(x)
    np.testing.assert_allclose(states[1], gn.Model(i, [h, c]).predict(x)[1], rtol=1e-6)
    np.testing.assert_allclose(states[0], gn.Model(i, [h, c]).predict(x)[0], rtol=1e-6)
