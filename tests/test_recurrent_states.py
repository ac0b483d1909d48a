"""A recurrent layer's states in and out (Keras' ``return_state=True`` and ``initial_state``): the
layers alone against Keras 3, an encoder handing its states to a decoder trained as Keras', the
gradients through the states by finite differences, and the inference models of Keras' seq2seq
tutorial (an encoder model, a decoder model fed states) drawn from the trained layers."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_model
from keras_twins import copy_weights, train_both, twins

L = gn.layers
KINDS = ["LSTM", "GRU", "SimpleRNN"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("settings", [{}, {"return_sequences": True, "go_backwards": True}], ids=str)
def test_states_in_and_out_of_a_layer_alone_match_keras(kind, settings, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.standard_normal((4, 5, 3)).astype(np.float32)
    count = 2 if kind == "LSTM" else 1
    start = [rng.standard_normal((4, 6)).astype(np.float32) for _ in range(count)]
    mask = np.ones((4, 5), dtype=bool)
    mask[1, 3:], mask[2, 1:] = False, False                 # right padding: the last states are the real steps'
    ours = getattr(L, kind)(6, return_state=True, seed=0, bias_initializer="random_normal", **settings)
    mine = ours(x, mask=mask, initial_state=start)
    theirs = getattr(keras.layers, kind)(6, return_state=True, **settings)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    expected = theirs(x, mask=mask, initial_state=start)
    assert len(mine) == len(expected) == 1 + count
    for a, b in zip(mine, expected):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=2e-6)
    # without initial_state the loop starts from zeros, as before
    plain = getattr(L, kind)(6, return_state=True, seed=0, **settings)
    out, *states = plain(x)
    assert out.shape == ((4, 5, 6) if settings else (4, 6)) and all(s.shape == (4, 6) for s in states)
    if not settings:
        np.testing.assert_array_equal(out, states[0])           # the last output is the last h
    np.testing.assert_array_equal(getattr(L, kind)(6, seed=0, **settings)(x, initial_state=[np.zeros((4, 6))] * count),
                                  getattr(L, kind)(6, seed=0, **settings)(x))


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_of_the_states_in_and_out_match_torch_autograd(kind, rng, torch):
    from test_recurrent import _torch_module
    x = rng.normal(size=(3, 6, 4))
    count = 2 if kind == "LSTM" else 1
    start = [rng.normal(size=(3, 5)) for _ in range(count)]
    layer = getattr(L, kind)(5, return_sequences=True, return_state=True, dtype="float64", seed=1,
                             bias_initializer="random_normal")
    out, *last = layer(x, initial_state=start)
    grad_out, grad_last = rng.normal(size=out.shape), [rng.normal(size=(3, 5)) for _ in range(count)]
    layer._state_grads = grad_last                  # what a model's LastState calls hand it
    grad_x, *grad_start = layer.backward(grad_out)
    module, _ = _torch_module(torch, kind, layer)
    tx = torch.tensor(x, requires_grad=True)
    t_start = [torch.tensor(s[None], requires_grad=True) for s in start]
    sequence, t_last = module(tx, tuple(t_start) if kind == "LSTM" else t_start[0])
    t_last = list(t_last) if kind == "LSTM" else [t_last]
    loss = (sequence * torch.tensor(grad_out)).sum() + sum((t[0] * torch.tensor(g)).sum()
                                                           for t, g in zip(t_last, grad_last))
    loss.backward()
    np.testing.assert_allclose(out, sequence.detach().numpy(), rtol=1e-12, atol=1e-12)
    for mine, theirs in zip(last, t_last):
        np.testing.assert_allclose(mine, theirs[0].detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for mine, theirs in zip(grad_start, t_start):
        np.testing.assert_allclose(mine, theirs.grad.numpy()[0], rtol=1e-10, atol=1e-12)


def _seq2seq(lib, kind):
    """Keras' seq2seq tutorial in small: the encoder's last states start the decoder."""
    encoder_inputs, decoder_inputs = lib.Input((5, 3), name="enc_in"), lib.Input((4, 2), name="dec_in")
    _, *states = getattr(lib.layers, kind)(6, return_state=True, name="encoder")(encoder_inputs)
    decoded = getattr(lib.layers, kind)(6, return_sequences=True, name="decoder")(decoder_inputs, initial_state=states)
    return [encoder_inputs, decoder_inputs], lib.layers.Dense(3, activation="softmax", name="out")(decoded)


def _trained_as_keras(draw, rng):
    """The encoder-decoder ``draw(lib)`` in glassnet and Keras, predicting alike and trained step
    for step alike: ``(ours, theirs, x)`` after training."""
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = twins(draw, keras)
    x = [rng.standard_normal((12, 5, 3)).astype(np.float32), rng.standard_normal((12, 4, 2)).astype(np.float32)]
    y = rng.integers(0, 3, (12, 4))
    np.testing.assert_allclose(ours.predict(x), np.asarray(theirs.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)
    mine, their = train_both(ours, theirs, x, y, "sparse_categorical_crossentropy", 0.5, 4)
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    return ours, theirs, x


@pytest.mark.parametrize("kind", KINDS)
def test_an_encoder_starting_a_decoder_trains_as_keras(kind, rng):
    ours, theirs, _ = _trained_as_keras(lambda lib: _seq2seq(lib, kind), rng)
    for layer in ours.layers:           # the encoder learnt through the states alone
        for a, b in zip(layer.get_weights(), theirs.get_layer(layer.name).get_weights() if layer.params else []):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert any(not np.allclose(a, b) for a, b in zip(ours.get_layer("encoder").get_weights(),
                                                      gn.Model(*_seq2seq(gn, kind), seed=0).get_layer("encoder")
                                                      .get_weights()))


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_through_the_states_agree_with_finite_differences(kind, rng):
    model = gn.Model(*_seq2seq(gn, kind), seed=0, dtype="float64")
    model.compile(loss="sparse_categorical_crossentropy")
    x = [rng.standard_normal((3, 5, 3)), rng.standard_normal((3, 4, 2))]
    assert check_model(model, x, rng.integers(0, 3, (3, 4)))["max_error"] < 1e-6
    # the states as outputs themselves, with a mask, and a state read twice
    ids = gn.Input((5,))
    emb = L.Embedding(7, 3, mask_zero=True)(ids)
    out, *states = getattr(L, kind)(4, return_state=True, return_sequences=True)(emb)
    pooled = L.GlobalAveragePooling1D()(out)
    model = gn.Model(ids, L.Dense(1)(L.Concatenate()([pooled, *states, states[0]])), seed=0, dtype="float64")
    model.compile(loss="mse")
    tokens = rng.integers(1, 7, (4, 5))
    tokens[0, 2:], tokens[1, 4:] = 0, 0
    assert check_model(model, tokens, rng.standard_normal((4, 1)))["max_error"] < 1e-6


def test_the_tutorial_s_inference_models_reuse_the_trained_layers(rng, tmp_path):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")

    def draw(lib):
        encoder_inputs, decoder_inputs = lib.Input((5, 3), name="enc_in"), lib.Input((4, 2), name="dec_in")
        _, h, c = lib.layers.LSTM(6, return_state=True, name="encoder")(encoder_inputs)
        decoder = lib.layers.LSTM(6, return_sequences=True, return_state=True, name="decoder")
        dense = lib.layers.Dense(3, activation="softmax", name="out")
        decoded, _, _ = decoder(decoder_inputs, initial_state=[h, c])
        training = lib.Model([encoder_inputs, decoder_inputs], dense(decoded))
        encoder = lib.Model(encoder_inputs, [h, c])
        given = [lib.Input((6,), name="h_in"), lib.Input((6,), name="c_in")]
        step, h2, c2 = decoder(decoder_inputs, initial_state=given)
        return training, encoder, lib.Model([decoder_inputs, *given], [dense(step), h2, c2])

    (ours, our_encoder, our_decoder), (theirs, their_encoder, their_decoder) = draw(gn), draw(keras)
    copy_weights(ours, theirs)
    x = [rng.standard_normal((6, 5, 3)).astype(np.float32), rng.standard_normal((6, 4, 2)).astype(np.float32)]
    ours.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    ours.fit(x, rng.integers(0, 3, (6, 4)), epochs=2, verbose=0)
    copy_weights(ours, theirs)
    states = our_encoder.predict(x[0])
    for a, b in zip(states, their_encoder.predict(x[0], verbose=0)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(our_decoder.predict([x[1], *states]), their_decoder.predict([x[1], *states], verbose=0)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # the decoder model fed the encoder's states gives the training model's outputs
    np.testing.assert_allclose(our_decoder.predict([x[1], *states])[0], ours.predict(x), rtol=1e-5, atol=1e-6)
    # files and configs keep the states' calls
    our_decoder.save(str(tmp_path / "decoder.npz"))
    again = gn.load_model(str(tmp_path / "decoder.npz"))
    for a, b in zip(again.predict([x[1], *states]), our_decoder.predict([x[1], *states])):
        np.testing.assert_array_equal(a, b)
    clone = gn.Model.from_config(our_encoder.get_config())
    clone.set_weights(our_encoder.get_weights())
    for a, b in zip(clone.predict(x[0]), states):
        np.testing.assert_array_equal(a, b)


def test_keras_call_forms_the_tensors_of_a_layer_and_masks(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, h = rng.standard_normal((2, 5, 3)).astype(np.float32), rng.standard_normal((2, 4)).astype(np.float32)
    gru = L.GRU(4, seed=0, dropout=0.5)
    # Keras' positional form, layer(x, [h]): the state, not training (which would switch dropout on)
    np.testing.assert_array_equal(gru(x, [h]), gru(x, initial_state=[h]))
    np.testing.assert_array_equal(gru(x, h), gru(x, initial_state=[h]))
    assert not np.allclose(gru(x, [h]), gru(x))
    # layer.output is the list of its first call, layer.input [x, *states], as Keras'
    inputs, start = gn.Input((5, 3)), gn.Input((4,))
    lstm, reader = L.LSTM(4, return_state=True), L.GRU(4)
    out, state_h, state_c = lstm(inputs)
    reader(inputs, initial_state=[start])
    assert lstm.output == [out, state_h, state_c] and reader.input == [inputs, start]

    def masked(lib):
        # a call given initial_state does not read its sequence's mask (Keras hands masks on
        # automatically to calls of one tensor alone), and passes it on (as Keras' output carries it)
        ids, start = lib.Input((6,), name="ids"), lib.Input((4,), name="start")
        emb = lib.layers.Embedding(9, 3, mask_zero=True, name="emb")(ids)
        seq = lib.layers.GRU(4, return_sequences=True, name="gru")(emb, initial_state=[start])
        return [ids, start], lib.layers.Dense(2, name="out")(lib.layers.GlobalAveragePooling1D(name="pool")(seq))

    ours, theirs = twins(masked, keras)
    ids = rng.integers(1, 9, (5, 6))
    ids[0, 2:], ids[1, 3:] = 0, 0
    x = [ids, rng.standard_normal((5, 4)).astype(np.float32)]
    np.testing.assert_allclose(ours.predict(x), np.asarray(theirs.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)
    assert [type(reader).__name__ for _, readers in ours._mask_plan for reader in readers] == \
        ["GlobalAveragePooling1D"]          # the pooling reads it; the GRU does not

    def inference(lib):
        # a masked decoder's inference model: the mask reaches one of its several outputs, which
        # predict does not mind (compile would: those losses cannot score real steps alone yet)
        ids, start = lib.Input((6,), name="ids"), lib.Input((4,), name="start")
        emb = lib.layers.Embedding(9, 3, mask_zero=True, name="emb")(ids)
        seq, h = lib.layers.GRU(4, return_sequences=True, return_state=True, name="gru")(emb, initial_state=[start])
        return [ids, start], [lib.layers.Dense(2, name="out")(seq), h]

    ours, theirs = twins(inference, keras)
    for mine, their in zip(ours.predict(x), theirs.predict(x, verbose=0)):
        np.testing.assert_allclose(mine, their, rtol=1e-5, atol=1e-6)
    with pytest.raises(NotImplementedError, match="its mask reaches an output of a model of several outputs"):
        ours.compile(loss="mse")


def test_what_does_not_fit_is_refused_by_name(rng):
    x = gn.Input((5, 3))
    lstm = L.LSTM(4, return_state=True)
    lstm(x)
    with pytest.raises(NotImplementedError, match="is called more than once and returns its states"):
        first, second = lstm(x), lstm(x)
        gn.Model(x, L.Concatenate()([first[1], second[1]]))
    with pytest.raises(ValueError, match=r"initial_state takes 2 state\(s\) \(h and c"):
        L.LSTM(4)(x, initial_state=[gn.Input((4,))])
    with pytest.raises(ValueError, match=r"initial_state takes tensors of samples of shapes \[\(4,\), \(4,\)\]"):
        L.LSTM(4)(x, initial_state=[gn.Input((4,)), gn.Input((3,))])
    with pytest.raises(ValueError, match=r"initial_state\[0\] must have shape \(batch, units\) = \(2, 4\)"):
        L.GRU(4)(np.ones((2, 5, 3)), initial_state=[np.ones((3, 4))])
    with pytest.raises(ValueError, match="stateful=True .* takes no initial_state"):
        L.GRU(4, stateful=True)(np.ones((2, 5, 3)), initial_state=[np.ones((2, 4))])
    with pytest.raises(TypeError, match="initial_state takes tensors"):
        L.GRU(4)(x, initial_state=[np.ones((2, 4))])
    with pytest.raises(ValueError, match="used alone it has none"):
        L.LastState(0)(np.ones((2, 4)))
    with pytest.raises(NotImplementedError, match="returns its states .* wrapping it is not supported"):
        L.TimeDistributed(L.GRU(3, return_state=True))
    with pytest.raises(ValueError, match=r"initial_state takes 4 state\(s\) \(the forward reader's h and c, then the "
                                         r"backward reader's: \(batch, 4\), \(batch, 4\), \(batch, 4\), \(batch, 4\)\)"):
        L.Bidirectional(L.LSTM(4))(np.ones((2, 5, 3)), initial_state=[np.ones((2, 4))] * 2)
    with pytest.raises(ValueError, match="return_state=True"):
        gn.Sequential([gn.Input((5, 3)), L.Bidirectional(L.GRU(3, return_state=True))])
    # the wrapper's own states, named as given to it
    with pytest.raises(ValueError, match=r"Bidirectional: initial_state\[1\] must have shape \(batch, units\) = "
                                         r"\(2, 4\), got shape \(2, 3\)"):
        L.Bidirectional(L.GRU(4))(np.ones((2, 5, 3)), initial_state=[np.ones((2, 4)), np.ones((2, 3))])
    with pytest.raises(ValueError, match="Bidirectional: stateful=True .* takes no initial_state"):
        L.Bidirectional(L.GRU(4, stateful=True))(np.ones((2, 5, 3)), initial_state=[np.ones((2, 4))] * 2)


# -- Bidirectional around a layer with states: the forward reader's, then the backward reader's ------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("settings,merge_mode", [({}, "concat"), ({"return_sequences": True}, "sum"),
                                                 ({"return_sequences": True}, "mul")], ids=str)
def test_bidirectional_states_in_and_out_match_keras(kind, settings, merge_mode, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.standard_normal((4, 5, 3)).astype(np.float32)
    count = 4 if kind == "LSTM" else 2
    start = [rng.standard_normal((4, 6)).astype(np.float32) for _ in range(count)]
    mask = np.ones((4, 5), dtype=bool)
    mask[1, 3:], mask[2, 1:] = False, False
    ours = L.Bidirectional(getattr(L, kind)(6, return_state=True, bias_initializer="random_normal", **settings),
                           merge_mode=merge_mode, seed=0)
    mine = ours(x, mask=mask, initial_state=start)
    theirs = keras.layers.Bidirectional(getattr(keras.layers, kind)(6, return_state=True, **settings),
                                        merge_mode=merge_mode)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    expected = theirs(x, mask=mask, initial_state=start)
    assert len(mine) == len(expected) == 1 + count
    for a, b in zip(mine, expected):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=2e-6)
    # from zeros without initial_state, and Keras' positional form
    np.testing.assert_allclose(ours(x)[1], np.asarray(theirs(x)[1]), rtol=1e-5, atol=2e-6)
    np.testing.assert_array_equal(ours(x, start)[2], ours(x, initial_state=start)[2])


def _bidirectional_seq2seq(lib, kind):
    """A bidirectional encoder whose two readers' last states, joined, start the decoder."""
    encoder_inputs, decoder_inputs = lib.Input((5, 3), name="enc_in"), lib.Input((4, 2), name="dec_in")
    _, *states = lib.layers.Bidirectional(getattr(lib.layers, kind)(6, return_state=True), name="encoder")(
        encoder_inputs)
    half = len(states) // 2
    joined = [lib.layers.Concatenate(name=f"join_{k}")([states[k], states[half + k]]) for k in range(half)]
    decoded = getattr(lib.layers, kind)(12, return_sequences=True, name="decoder")(decoder_inputs,
                                                                                  initial_state=joined)
    return [encoder_inputs, decoder_inputs], lib.layers.Dense(3, activation="softmax", name="out")(decoded)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_a_bidirectional_encoder_starting_a_decoder_trains_as_keras(kind, rng, tmp_path):
    ours, theirs, x = _trained_as_keras(lambda lib: _bidirectional_seq2seq(lib, kind), rng)
    np.testing.assert_allclose(ours.get_layer("encoder").get_weights()[0],
                               theirs.get_layer("encoder").get_weights()[0], rtol=1e-4, atol=1e-6)
    ours.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "m.npz").predict(x), ours.predict(x))


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_through_bidirectional_states_agree_with_finite_differences(kind, rng):
    model = gn.Model(*_bidirectional_seq2seq(gn, kind), seed=0, dtype="float64")
    model.compile(loss="sparse_categorical_crossentropy")
    x = [rng.standard_normal((3, 5, 3)), rng.standard_normal((3, 4, 2))]
    assert check_model(model, x, rng.integers(0, 3, (3, 4)))["max_error"] < 1e-6
    # states given from other layers and read as outputs, over padded ids
    count = 4 if kind == "LSTM" else 2
    ids, given = gn.Input((5,)), gn.Input((2,))
    starts = [L.Dense(4, activation="tanh")(given) for _ in range(count)]
    out, *states = L.Bidirectional(getattr(L, kind)(4, return_state=True, return_sequences=True))(
        L.Embedding(7, 3, mask_zero=True)(ids), initial_state=starts)
    pooled = L.GlobalAveragePooling1D()(out)
    model = gn.Model([ids, given], L.Dense(1)(L.Concatenate()([pooled, *states])), seed=0, dtype="float64")
    model.compile(loss="mse")
    tokens = rng.integers(1, 7, (4, 5))
    tokens[0, 2:], tokens[1, 4:] = 0, 0
    assert check_model(model, [tokens, rng.standard_normal((4, 2))], rng.standard_normal((4, 1)))["max_error"] < 1e-6
