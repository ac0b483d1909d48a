"""ConvLSTM1D/2D/3D's dropout, states in and out and stateful, the recurrent layers' mechanisms
(layers/recurrent.py): dropout against Keras 3.15 handed glassnet's masks, every gradient with
masks and states against torch autograd and finite differences, an encoder ConvLSTM2D starting a
decoder trained as Keras', a stateful layer over batches with reset_state, and model files."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_model
from keras_twins import train_both, twins
from test_conv_lstm import _torch_conv_lstm

L = gn.layers
SHAPES = {"ConvLSTM1D": (4, 7, 2), "ConvLSTM2D": (4, 5, 6, 2), "ConvLSTM3D": (3, 3, 4, 4, 1)}
SETTINGS = [{"dropout": 0.4}, {"recurrent_dropout": 0.3}, {"dropout": 0.4, "recurrent_dropout": 0.3}]


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_dropout_matches_keras_given_the_same_masks(name, settings, rng):
    """Keras' ConvLSTMCell draws four masks for the inputs (a frame's shape) and four for the state
    (one per gate), once per batch: handed glassnet's, Keras' layer computes the same training output."""
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(3, *SHAPES[name])).astype(np.float32)
    kw = dict(filters=3, kernel_size=2, padding="same", return_sequences=True)
    ours = getattr(L, name)(bias_initializer="random_normal", seed=0, **kw, **settings)
    out = ours(x, training=True)
    state = ours.state_shapes()[0]
    for masks, rate, shape in ((ours._input_masks, settings.get("dropout", 0), x.shape[2:]),
                               (ours._state_masks, settings.get("recurrent_dropout", 0), state)):
        if rate:
            assert len(masks) == 4 and all(m.shape == (3, *shape) and set(np.unique(np.round(m * (1 - rate), 5))) <= {0, 1}
                                           for m in masks)
            assert not all(np.array_equal(masks[0], m) for m in masks[1:])    # four draws, not one
        else:
            assert masks is None
    theirs = getattr(keras.layers, name)(**kw, **settings)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    for attribute, masks in (("_dropout_mask", ours._input_masks), ("_recurrent_dropout_mask", ours._state_masks)):
        if masks is not None:
            setattr(theirs.cell, attribute, [keras.ops.convert_to_tensor(m) for m in masks])
    np.testing.assert_allclose(out, np.asarray(theirs(x, training=True)), rtol=1e-5, atol=2e-6)
    # inference draws none: the layer without dropout
    plain = getattr(L, name)(bias_initializer="random_normal", seed=0, **kw)
    np.testing.assert_array_equal(ours(x), plain(x))
    assert ours._input_masks is None and ours._state_masks is None


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_gradients_with_masks_and_states_match_torch_autograd(name, rng, torch):
    """Dropout masks, initial states given and the last states' own gradients (what a model's
    LastState calls hand back), against the same maths in torch with glassnet's masks, float64."""
    x = rng.normal(size=(2, *SHAPES[name]))
    layer = getattr(L, name)(3, 2, padding="same", return_sequences=True, return_state=True, dropout=0.3,
                             recurrent_dropout=0.4, go_backwards=name == "ConvLSTM1D",
                             bias_initializer="random_normal", dtype="float64", seed=1)
    layer.build(x.shape[1:])
    state = layer.state_shapes()[0]
    start = [rng.normal(size=(2, *state)) for _ in range(2)]
    out, *last = layer(x, training=True, initial_state=start)
    grad_out, grad_last = rng.normal(size=out.shape), [rng.normal(size=(2, *state)) for _ in range(2)]
    layer._state_grads = grad_last
    grad_x, *grad_start = layer.backward(grad_out)
    tx = torch.tensor(x, requires_grad=True)
    t_start = [torch.tensor(s, requires_grad=True) for s in start]
    tout, params, t_last = _torch_conv_lstm(torch, layer, tx, *t_start)
    loss = (tout * torch.tensor(grad_out)).sum() + sum((t * torch.tensor(g)).sum() for t, g in zip(t_last, grad_last))
    loss.backward()
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    for mine, theirs in zip(last, t_last):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    for mine, theirs in zip(grad_start, t_start):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-9, atol=1e-12)
    for key, value in params.items():
        np.testing.assert_allclose(layer.grads[key], value.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=key)


def test_dropout_gradients_agree_with_finite_differences(rng):
    """The same masks at every evaluation (the generator restarted from one state), float64."""
    x = rng.normal(size=(2, 3, 4, 4, 2))
    layer = L.ConvLSTM2D(2, 3, padding="same", dropout=0.3, recurrent_dropout=0.3, dtype="float64", seed=3,
                         bias_initializer="random_normal")
    layer.build(x.shape[1:])
    upstream = rng.normal(size=(2, 4, 4, 2))

    def loss(x):
        layer.rng = np.random.default_rng(7)
        return float((layer(x, training=True) * upstream).sum())
    loss(x)
    dx = layer.backward(upstream)
    grads = {k: g.copy() for k, g in layer.grads.items()}
    eps = 1e-6
    for index in [(0, 0, 1, 2, 0), (1, 2, 3, 3, 1), (0, 1, 0, 0, 1)]:
        step = np.zeros_like(x)
        step[index] = eps
        assert abs((loss(x + step) - loss(x - step)) / (2 * eps) - dx[index]) < 1e-7
    for key, where in (("kernel", (1, 1, 0, 5)), ("recurrent_kernel", (0, 2, 1, 7)), ("bias", (3,))):
        value = layer.params[key]
        kept = value[where]
        value[where] = kept + eps
        up = loss(x)
        value[where] = kept - eps
        down = loss(x)
        value[where] = kept
        assert abs((up - down) / (2 * eps) - grads[key][where]) < 1e-7, key


# -- states in and out ---------------------------------------------------------------------------
def test_states_in_and_out_of_a_layer_alone_match_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(2, 4, 6, 5, 2)).astype(np.float32)
    kw = dict(filters=3, kernel_size=3, strides=2, padding="same", return_sequences=True, return_state=True,
              go_backwards=True)
    ours = L.ConvLSTM2D(seed=0, bias_initializer="random_normal", **kw)
    out, h, c = ours(x)
    assert out.shape == (2, 4, 3, 3, 3) and h.shape == c.shape == (2, 3, 3, 3)
    np.testing.assert_array_equal(out[:, -1], h)
    start = [rng.normal(size=h.shape).astype(np.float32) for _ in range(2)]
    mine = ours(x, initial_state=start)
    theirs = keras.layers.ConvLSTM2D(**kw)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    expected = theirs(x, initial_state=start)
    assert len(mine) == len(expected) == 3
    for a, b in zip(mine, expected):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=2e-6)
    with pytest.raises(ValueError, match=r"ConvLSTM2D.*initial_state takes 2 state\(s\) \(h and c: \(batch, 3, 3, 3\)"):
        ours(x, initial_state=start[:1])
    with pytest.raises(ValueError, match=r"ConvLSTM2D.*initial_state\[1\] must have shape .*\(2, 3, 3, 3\)"):
        ours(x, initial_state=[start[0], start[1][:, :2]])


def _encoder_decoder(lib):
    """An encoder ConvLSTM2D's last states start a decoder ConvLSTM2D (next frames from past ones)."""
    past, future = lib.Input((3, 5, 5, 1), name="past"), lib.Input((2, 5, 5, 1), name="future")
    _, h, c = lib.layers.ConvLSTM2D(3, 3, padding="same", return_state=True, name="encoder")(past)
    decoded = lib.layers.ConvLSTM2D(3, 3, padding="same", return_sequences=True, name="decoder")(
        future, initial_state=[h, c])
    return [past, future], lib.layers.Dense(1, name="out")(decoded)


def test_an_encoder_starting_a_decoder_trains_as_keras(rng, tmp_path):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = twins(_encoder_decoder, keras)
    x = [rng.normal(size=(8, 3, 5, 5, 1)).astype(np.float32), rng.normal(size=(8, 2, 5, 5, 1)).astype(np.float32)]
    y = rng.normal(size=(8, 2, 5, 5, 1)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x), np.asarray(theirs.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)
    untrained = ours.get_layer("encoder").get_weights()
    mine, their = train_both(ours, theirs, x, y, "mse", 0.1, 4)
    np.testing.assert_allclose(mine, their, rtol=1e-4)
    for layer in ours.layers:           # the encoder learnt through the states alone
        for a, b in zip(layer.get_weights(), theirs.get_layer(layer.name).get_weights() if layer.params else []):
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    assert any(not np.allclose(a, b) for a, b in zip(ours.get_layer("encoder").get_weights(), untrained))
    ours.save(tmp_path / "seq.npz")
    loaded = gn.load_model(tmp_path / "seq.npz")
    np.testing.assert_array_equal(loaded.predict(x), ours.predict(x))


def test_gradients_through_the_states_agree_with_finite_differences(rng):
    model = gn.Model(*_encoder_decoder(gn), seed=0, dtype="float64")
    model.compile(loss="mse")
    x = [rng.normal(size=(2, 3, 5, 5, 1)), rng.normal(size=(2, 2, 5, 5, 1))]
    assert check_model(model, x, rng.normal(size=(2, 2, 5, 5, 1)))["max_error"] < 1e-6
    # the states as outputs themselves, beside the sequence
    frames = gn.Input((3, 4, 4, 2))
    out, h, c = L.ConvLSTM1D(2, 2, return_state=True)(L.Reshape((3, 16, 2))(frames))
    model = gn.Model(frames, L.Dense(1)(L.Flatten()(L.Concatenate()([out, h, c]))), seed=0, dtype="float64")
    model.compile(loss="mse")
    assert check_model(model, rng.normal(size=(3, 3, 4, 4, 2)), rng.normal(size=(3, 1)))["max_error"] < 1e-6


# -- stateful ------------------------------------------------------------------------------------
def test_a_stateful_layer_carries_its_states_over_batches_as_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(3, 6, 4, 4, 1)).astype(np.float32)
    ours = L.ConvLSTM2D(2, 3, padding="same", return_sequences=True, stateful=True, seed=0,
                        bias_initializer="random_normal")
    whole = L.ConvLSTM2D(2, 3, padding="same", return_sequences=True, seed=0, bias_initializer="random_normal")
    first, second = ours(x[:, :4]), ours(x[:, 4:])
    np.testing.assert_allclose(np.concatenate([first, second], 1), whole(x), rtol=1e-5, atol=1e-6)
    theirs = keras.layers.ConvLSTM2D(2, 3, padding="same", return_sequences=True, stateful=True)
    theirs.build((3, 4, 4, 4, 1))
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(first, np.asarray(theirs(x[:, :4])), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(second, np.asarray(theirs(x[:, 4:])), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.states[1], np.asarray(theirs.states[1]), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"ConvLSTM2D.*stateful=True .* every batch must hold 3 samples .* got 2"):
        ours(x[:2])
    with pytest.raises(ValueError, match=r"ConvLSTM2D.*stateful=True .* takes no initial_state"):
        ours(x, initial_state=[np.zeros((3, 4, 4, 2))] * 2)
    ours.reset_state()
    theirs.reset_state()
    np.testing.assert_allclose(ours(x[:, :4]), first, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(theirs(x[:, :4])), first, rtol=1e-5, atol=1e-6)


def test_stateful_training_and_prediction_match_keras(rng, tmp_path):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(8, 3, 4, 4, 1)).astype(np.float32)
    y = rng.normal(size=(8, 1)).astype(np.float32)
    ours = gn.Sequential([gn.Input((3, 4, 4, 1)), L.ConvLSTM2D(2, 3, padding="same", stateful=True, dropout=0.0),
                          L.Flatten(), L.Dense(1)], seed=0)
    ours.compile("mse", gn.optimizers.SGD(0.1))
    theirs = keras.Sequential([keras.Input(batch_shape=(4, 3, 4, 4, 1)),
                               keras.layers.ConvLSTM2D(2, 3, padding="same", stateful=True),
                               keras.layers.Flatten(), keras.layers.Dense(1)])
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    theirs.set_weights(ours.get_weights())
    ours.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.layers[0].states[0], np.asarray(theirs.layers[0].states[0]), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.predict(x, batch_size=4), theirs.predict(x, batch_size=4, verbose=0),
                               rtol=1e-4, atol=1e-5)
    ours.reset_states()
    theirs.layers[0].reset_state()
    fresh = ours.predict(x, batch_size=4)
    np.testing.assert_allclose(fresh, theirs.predict(x, batch_size=4, verbose=0), rtol=1e-4, atol=1e-5)
    ours.save(tmp_path / "stateful.npz")            # a model file keeps the setting, not the states
    loaded = gn.load_model(tmp_path / "stateful.npz")
    assert loaded.layers[0].stateful and loaded.layers[0].states is None
    np.testing.assert_allclose(loaded.predict(x, batch_size=4), fresh, rtol=1e-6)


def test_the_settings_round_trip_through_the_config():
    layer = L.ConvLSTM3D(2, 3, dropout=0.25, recurrent_dropout=0.5, return_state=True, stateful=True)
    config = layer.get_config()
    assert {k: config[k] for k in ("dropout", "recurrent_dropout", "return_state", "stateful")} == {
        "dropout": 0.25, "recurrent_dropout": 0.5, "return_state": True, "stateful": True}
    again = L.ConvLSTM3D.from_config(config) if hasattr(L.ConvLSTM3D, "from_config") else None
    if again is not None:
        assert again.get_config() == config
    with pytest.raises(ValueError, match="return_state=True"):
        gn.Sequential([gn.Input((2, 4, 4, 4, 1)), L.ConvLSTM3D(2, 3, return_state=True)])
