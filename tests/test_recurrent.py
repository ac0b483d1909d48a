"""SimpleRNN, LSTM and GRU: outputs against Keras 3.15, gradients against PyTorch autograd, training
against Keras, dropout by hand, a model that learns from sequences, and the refused settings. The
layer contract (finite differences included) is in test_layer_contract.py."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN, TimeDistributed

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

LAYERS = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}


@pytest.mark.parametrize("settings", [{}, {"return_sequences": True}, {"go_backwards": True},
                                      {"return_sequences": True, "go_backwards": True, "activation": "relu"},
                                      {"use_bias": False}], ids=str)
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_outputs_match_keras(name, settings, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(3, 6, 4)).astype(np.float32)
    ours = LAYERS[name](5, seed=0, bias_initializer="random_normal", **settings) \
        if settings.get("use_bias", True) else LAYERS[name](5, seed=0, **settings)
    out = ours(x)
    theirs = getattr(keras.layers, name)(5, **settings)
    theirs.build((None, 6, 4))
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(out, np.asarray(theirs(x)), rtol=1e-5, atol=2e-6)


def _torch_module(torch, name, layer):
    """PyTorch's module with ``layer``'s weights (float64): PyTorch keeps the transposed kernels, two
    biases, and the GRU's gates in the order r, z, n where Keras has z, r, h."""
    kernel, recurrent = layer.params["kernel"], layer.params["recurrent_kernel"]
    units = layer.units
    cls = {"SimpleRNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}[name]
    module = cls(kernel.shape[0], units, batch_first=True).double()
    if name == "GRU":
        order = np.r_[units:2 * units, 0:units, 2 * units:3 * units]      # z, r, h -> r, z, n
        kernel, recurrent = kernel[:, order], recurrent[:, order]
        b_in, b_rec = layer.params["bias"][0][order], layer.params["bias"][1][order]
    else:
        b_in, b_rec = layer.params["bias"], np.zeros_like(layer.params["bias"])
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.tensor(kernel.T))
        module.weight_hh_l0.copy_(torch.tensor(recurrent.T))
        module.bias_ih_l0.copy_(torch.tensor(b_in))
        module.bias_hh_l0.copy_(torch.tensor(b_rec))
    return module, order if name == "GRU" else None


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_gradients_match_torch_autograd(name, return_sequences, rng, torch):
    x = rng.normal(size=(3, 7, 4))
    layer = LAYERS[name](5, return_sequences=return_sequences, dtype="float64", seed=1,
                         bias_initializer="random_normal")
    out = layer(x)
    grad_out = rng.normal(size=out.shape)
    grad_x = layer.backward(grad_out)
    module, order = _torch_module(torch, name, layer)
    tx = torch.tensor(x, requires_grad=True)
    sequence, _ = module(tx)
    theirs = sequence if return_sequences else sequence[:, -1]
    theirs.backward(torch.tensor(grad_out))
    np.testing.assert_allclose(out, theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    kernel_grad = module.weight_ih_l0.grad.numpy().T
    recurrent_grad = module.weight_hh_l0.grad.numpy().T
    if order is not None:                      # back into Keras' order
        inverse = np.argsort(order)
        kernel_grad, recurrent_grad = kernel_grad[:, inverse], recurrent_grad[:, inverse]
        bias_grad = np.stack([module.bias_ih_l0.grad.numpy()[inverse], module.bias_hh_l0.grad.numpy()[inverse]])
    else:
        bias_grad = module.bias_ih_l0.grad.numpy()
    np.testing.assert_allclose(layer.grads["kernel"], kernel_grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["recurrent_kernel"], recurrent_grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["bias"], bias_grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_training_matches_keras(name, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(32, 5, 3)).astype(np.float32)
    y = (x.sum(axis=(1, 2)) > 0).astype(np.float32)
    ours = gn.Sequential([LAYERS[name](4, input_shape=(5, 3)), Dense(1, activation="sigmoid")], seed=0)
    ours.compile("binary_crossentropy", gn.optimizers.SGD(0.5, momentum=0.5))
    theirs = keras.Sequential([keras.Input((5, 3)), getattr(keras.layers, name)(4), keras.layers.Dense(1, activation="sigmoid")])
    theirs.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.5, momentum=0.5))
    theirs.set_weights(ours.get_weights())
    ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_lstm_starts_its_forget_gate_bias_at_one_as_keras():
    layer = LSTM(3, seed=0)
    layer.build((4, 2))
    np.testing.assert_array_equal(layer.params["bias"], [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    plain = LSTM(3, unit_forget_bias=False, seed=0)
    plain.build((4, 2))
    assert not plain.params["bias"].any()


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_dropout_alone_is_one_mask_per_sequence(name, rng):
    """With dropout only, the training output is the undropped layer's on x times one (batch,
    features) mask, the same at every step (Keras' implementation 2)."""
    x = rng.normal(size=(4, 6, 3))
    dropped = LAYERS[name](5, dropout=0.5, dtype="float64", seed=2)
    out = dropped(x, training=True)
    [mask] = dropped._input_masks
    assert mask.shape == (4, 3) and set(np.unique(mask)) <= {0.0, 2.0}
    plain = LAYERS[name](5, dtype="float64", seed=2)
    np.testing.assert_allclose(out, plain(x * mask[:, None, :]), rtol=1e-12)
    np.testing.assert_array_equal(dropped(x), plain(x))            # inference: no dropout


@pytest.mark.parametrize("settings", [{"dropout": 0.4}, {"recurrent_dropout": 0.3},
                                      {"dropout": 0.4, "recurrent_dropout": 0.3}], ids=str)
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_dropout_matches_keras_given_the_same_masks(name, settings, rng):
    """Keras draws one mask for the inputs and one for the state, or, once the state is dropped
    (recurrent_dropout > 0), one per gate for each (its implementation 1): handed glassnet's masks,
    Keras' layer computes the same training output."""
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(3, 5, 4)).astype(np.float32)
    ours = LAYERS[name](6, return_sequences=True, bias_initializer="random_normal", seed=0, **settings)
    out = ours(x, training=True)
    per_gate = settings.get("recurrent_dropout", 0) > 0 and name != "SimpleRNN"
    for masks in (ours._input_masks, ours._state_masks):
        assert masks is None or len(masks) == (ours.gates if per_gate else 1)
    theirs = getattr(keras.layers, name)(6, return_sequences=True, **settings)
    theirs.build((None, 5, 4))
    theirs.set_weights(ours.get_weights())
    for attribute, masks, rate in (("_dropout_mask", ours._input_masks, settings.get("dropout", 0)),
                                   ("_recurrent_dropout_mask", ours._state_masks, settings.get("recurrent_dropout", 0))):
        if rate:
            given = [keras.ops.convert_to_tensor(m) for m in masks]
            setattr(theirs.cell, attribute, given if per_gate else given[0])
    np.testing.assert_allclose(out, np.asarray(theirs(x, training=True)), rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_softmax_as_recurrent_activation_acts_on_each_gate_as_keras(name, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(2, 4, 3)).astype(np.float32)
    ours = LAYERS[name](5, recurrent_activation="softmax", seed=0)
    theirs = getattr(keras.layers, name)(5, recurrent_activation="softmax")
    out = ours(x)
    theirs.build((None, 4, 3))
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(out, np.asarray(theirs(x)), rtol=1e-5, atol=2e-6)


def test_a_layer_alone_reads_sequences_of_any_length_and_returns_no_view(rng):
    layer = GRU(3, return_sequences=True, seed=0)
    assert layer(rng.normal(size=(2, 6, 4))).shape == (2, 6, 3)
    assert layer(rng.normal(size=(2, 9, 4))).shape == (2, 9, 3)
    with pytest.raises(ValueError, match=r"expected sequences of shape \(steps, 4\), got samples of shape \(9, 5\)"):
        layer(rng.normal(size=(2, 9, 5)))
    out = layer(rng.normal(size=(1, 1, 4)))          # batch and steps of 1: a transpose is no copy
    assert not np.shares_memory(out, layer._h)


def test_an_lstm_learns_to_read_a_sequence(rng):
    """Whether a token came before another (an order a bag of tokens cannot tell)."""
    n, steps = 600, 8
    x = rng.integers(2, 10, (n, steps))
    first, second = rng.choice(steps, size=(n, 2), replace=True).T
    keep = first != second
    x, first, second = x[keep], first[keep], second[keep]
    rows = np.arange(len(x))
    x[rows, first], x[rows, second] = 0, 1
    y = (first < second).astype(np.float32)
    model = gn.Sequential([Embedding(10, 8, input_length=steps), LSTM(16), Dense(1, activation="sigmoid")], seed=0)
    model.compile("binary_crossentropy", gn.optimizers.Adam(0.01), metrics=["accuracy"])
    model.fit(x[:450], y[:450], epochs=25, batch_size=32, verbose=0)
    assert model.evaluate(x[450:], y[450:], verbose=0)[1] > 0.9


@pytest.mark.parametrize("make, error, message", [
    (lambda: gn.Sequential([LSTM(4, return_state=True)]), ValueError,
     r"add: layer .*LSTM.* has return_state=True: it returns several arrays"),
    (lambda: gn.Sequential([gn.Sequential([LSTM(4, return_state=True)])]), ValueError, "has return_state=True"),
    (lambda: gn.Sequential([gn.layers.LastState(0)]), ValueError, "reads another layer's states"),
    (lambda: GRU(4, reset_after=False), ValueError, "GRU: reset_after=False"),
    (lambda: SimpleRNN(0), ValueError, "SimpleRNN: units"),
    (lambda: LSTM(4, dropout=1.0), ValueError, r"LSTM: dropout must be a number in \[0, 1\)"),
    (lambda: LSTM(4, recurrent_activation="nope"), ValueError, "LSTM: recurrent_activation: expected one of"),
    (lambda: GRU(4, activation="nope"), ValueError, "GRU: activation: expected one of"),
    (lambda: SimpleRNN(4, unroll="yes"), TypeError, "SimpleRNN: unroll: expected True or False, got 'yes'"),
    (lambda: LSTM(4, use_cudnn="on"), ValueError, r"LSTM: use_cudnn: expected 'auto', True or False, got 'on'"),
])
def test_refused_settings_name_themselves(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_samples_must_be_sequences():
    with pytest.raises(ValueError, match=r"expected sequences of shape \(steps, features\), got samples of shape \(4,\)"):
        gn.Sequential([LSTM(3, input_shape=(4,))])


# -- stateful=True ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_a_stateful_layer_carries_its_states_from_batch_to_batch(name, rng):
    x = rng.normal(size=(3, 8, 2))
    whole = LAYERS[name](4, return_sequences=True, seed=0, dtype="float64")(x)
    layer = LAYERS[name](4, return_sequences=True, stateful=True, seed=0, dtype="float64")
    # the sequence read in two halves, the second starting where the first ended: the same outputs
    halves = np.concatenate([layer(x[:, :5]), layer(x[:, 5:])], axis=1)
    np.testing.assert_allclose(halves, whole, rtol=1e-12, atol=1e-12)
    assert len(layer.states) == (2 if name == "LSTM" else 1) and layer.states[0].shape == (3, 4)
    layer.reset_state()
    np.testing.assert_array_equal(layer(x[:, :5]), whole[:, :5])       # from zeros again
    with pytest.raises(ValueError, match=f"{name}: stateful=True .* every batch must hold 3 samples .* got 2"):
        layer(x[:2, 5:])


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_stateful_gradients_stop_at_the_batch_s_start(name, rng, torch):
    """Truncated backpropagation through time: the carried states are constants of the second
    batch; its gradients equal autograd's for a sequence started from those states."""
    x = rng.normal(size=(3, 7, 4))
    layer = LAYERS[name](5, return_sequences=True, stateful=True, dtype="float64", seed=1,
                         bias_initializer="random_normal")
    layer(x[:, :3])
    start = [s.copy() for s in layer.states]
    out = layer(x[:, 3:])
    grad_out = rng.normal(size=out.shape)
    grad_x = layer.backward(grad_out)
    module, order = _torch_module(torch, name, layer)
    tx = torch.tensor(x[:, 3:], requires_grad=True)
    h0 = torch.tensor(start[0][None])
    sequence, _ = module(tx, (h0, torch.tensor(start[1][None])) if name == "LSTM" else h0)
    sequence.backward(torch.tensor(grad_out))
    np.testing.assert_allclose(out, sequence.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    recurrent_grad = module.weight_hh_l0.grad.numpy().T
    if order is not None:
        recurrent_grad = recurrent_grad[:, np.argsort(order)]
    np.testing.assert_allclose(layer.grads["recurrent_kernel"], recurrent_grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_stateful_training_and_prediction_match_keras(name, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(16, 5, 3)).astype(np.float32)
    y = (x.sum(axis=(1, 2)) > 0).astype(np.float32)
    ours = gn.Sequential([LAYERS[name](4, stateful=True, input_shape=(5, 3)), Dense(1, activation="sigmoid")], seed=0)
    ours.compile("binary_crossentropy", gn.optimizers.SGD(0.5, momentum=0.5))
    theirs = keras.Sequential([keras.Input(batch_shape=(4, 5, 3)), getattr(keras.layers, name)(4, stateful=True),
                               keras.layers.Dense(1, activation="sigmoid")])
    theirs.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.5, momentum=0.5))
    theirs.set_weights(ours.get_weights())
    ours.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.layers[0].states[0], np.asarray(theirs.layers[0].states[0]), rtol=1e-4, atol=1e-5)
    # prediction carries the states on too, batch after batch, from where training left them
    np.testing.assert_allclose(ours.predict(x, batch_size=4), theirs.predict(x, batch_size=4, verbose=0),
                               rtol=1e-4, atol=1e-5)
    ours.reset_states()
    theirs.layers[0].reset_state()
    np.testing.assert_allclose(ours.predict(x, batch_size=4), theirs.predict(x, batch_size=4, verbose=0),
                               rtol=1e-4, atol=1e-5)


def test_a_stateful_model_names_the_batch_size_it_needs_and_survives_fit_s_checks(rng):
    x = rng.normal(size=(12, 5, 3)).astype(np.float32)
    y = (x.sum(axis=(1, 2)) > 0).astype(np.float32)
    model = gn.Sequential([Bidirectional(LSTM(4, stateful=True), input_shape=(5, 3)),
                           Dense(1, activation="sigmoid")], seed=0)
    model.compile("binary_crossentropy", "adam", metrics=["accuracy"])
    # fit's trial of the metrics on two samples leaves the states alone
    model.fit(x, y, epochs=2, batch_size=4, shuffle=False, validation_data=(x[:8], y[:8]), verbose=0)
    forward, backward = model.layers[0].forward_layer, model.layers[0].backward_layer
    assert forward.states[0].shape == backward.states[0].shape == (4, 4)
    with pytest.raises(ValueError, match="batch_size=4"):
        model.predict(x)                    # one pass of 12 samples
    model.reset_states()
    assert forward.states is None and backward.states is None
    assert model.predict(x).shape == (12, 1)        # from zeros: any batch size, once
    restored = gn.Sequential.from_config(model.get_config())
    assert restored.layers[0].forward_layer.stateful and restored.layers[0].forward_layer.states is None


def test_fit_s_metric_trial_takes_a_second_pass_from_zero_states_too():
    """When the first two samples are padding alone, fit's trial of the metrics runs a second pass
    on 64 samples: from zero states too, not from the first trial's 2-sample ones."""
    rng = np.random.default_rng(0)
    x = rng.integers(1, 9, size=(8, 5))
    x[:2] = 0                                   # two sequences of padding first
    y = rng.integers(0, 2, size=(8, 5, 1)).astype(np.float32)
    model = gn.Sequential([Embedding(10, 3, mask_zero=True, input_length=5),
                           LSTM(4, return_sequences=True, stateful=True), Dense(1, activation="sigmoid")], seed=0)
    model.compile("binary_crossentropy", "sgd", metrics=["accuracy"])
    model.fit(x, y, batch_size=4, shuffle=False, epochs=1, verbose=0, validation_data=(x, y))
    assert model.layers[1].states[0].shape == (4, 4)


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_check_layer_checks_a_stateful_layer(cls):
    """Every pass of the check starts from the same carried states, which it leaves as they were."""
    x = np.random.default_rng(0).normal(size=(4, 5, 3))
    layer = cls(3, stateful=True, dtype="float64", seed=0)
    layer(x)                                     # carried states, as in a model mid-training
    carried = layer.states
    assert gn.gradcheck.check_layer(layer, x)["max_error"] < 1e-5
    assert layer.states is carried


def test_the_non_finite_search_reruns_the_batch_from_the_states_it_started_from():
    """The search for the first non-finite value reruns the failed batch from the states it started
    from: here the RNN's output was finite (1.1e34) and the Dense overflowed; a rerun from the
    states the batch ended in would overflow in the RNN and name it instead."""
    x, y = np.ones((1, 5, 1), np.float32), np.zeros((1, 1), np.float32)
    model = gn.Sequential([SimpleRNN(1, activation="relu", stateful=True, input_shape=(5, 1), trainable=False),
                           Dense(1, trainable=False)], seed=0)
    model.compile("mae", gn.optimizers.SGD(1e-3))
    model.layers[0].set_weights([np.zeros((1, 1), np.float32), np.full((1, 1), 10, np.float32),
                                 np.ones(1, np.float32)])       # h grows 1e5-fold per batch
    model.layers[1].set_weights([np.full((1, 1), 1e5, np.float32), np.zeros(1, np.float32)])
    with np.errstate(all="ignore"):
        for _ in range(6):
            model.train_on_batch(x, y)          # h: 1.1e4 ... 1.1e29, outputs finite
        assert np.isfinite(model.layers[0].states[0]).all()
        with pytest.raises(gn.NonFiniteError, match=r"output of layer dense"):
            model.train_on_batch(x, y)


def test_predict_without_batch_size_does_not_carry_states_between_its_memory_chunks(monkeypatch):
    """Without a batch_size, predict on a stateful model runs all samples in one pass: chunks of a
    size chosen by memory would carry the states from chunk to chunk."""
    x = np.random.default_rng(0).normal(size=(8, 3, 2)).astype(np.float32)
    model = gn.Sequential([SimpleRNN(4, stateful=True, input_shape=(3, 2)), Dense(1)], seed=0)
    model.compile("mse", "sgd")
    monkeypatch.setattr(gn.inference, "AUTO_CHUNK_NUMBERS", 4 * model.layers[0].numbers_per_sample((3, 2)))
    # chunks of 4 samples, as 40,000 long sequences would be chunked
    whole = model(x)
    model.reset_states()
    np.testing.assert_allclose(model.predict(x), whole, rtol=1e-5, atol=1e-6)


def test_model_reset_states_reaches_a_wrapped_stateful_layer():
    """model.reset_states() reaches a stateful layer inside a wrapper."""
    model = gn.Sequential([TimeDistributed(SimpleRNN(2, stateful=True), input_shape=(3, 5, 2)), Dense(1)], seed=0)
    model.compile("mse", "sgd")
    model.predict(np.ones((4, 3, 5, 2), np.float32))
    model.reset_states()
    assert model.layers[0].layer.states is None


@pytest.mark.parametrize("layer_class", ["LSTM", "ConvLSTM1D"])
def test_lstm_fast_cell_equals_the_general_one(layer_class, rng):
    """Keras' default activations (tanh, sigmoid) take lstm_cell's path of few NumPy calls; the same
    functions wrapped as custom activations take the general one. Same outputs and gradients, also
    where the gates saturate (pre-activations below -709, where exp(-z) overflows in float64: no warning)."""
    from glassnet import activations
    from glassnet.layers import ConvLSTM1D
    wrapped = {name: activations.Activation(name, lambda z, f=activations.ACTIVATIONS[name].forward: f(z),
                                            lambda g, z, a, b=activations.ACTIVATIONS[name].backward: b(g, z, a))
               for name in ("tanh", "sigmoid")}
    shape, make = ((7, 3), lambda **kw: LSTM(5, return_sequences=True, **kw)) if layer_class == "LSTM" else \
        ((4, 6, 2), lambda **kw: ConvLSTM1D(3, 3, padding="same", return_sequences=True, **kw))
    x = rng.normal(size=(4, *shape))
    x[:, 2] *= 1e4               # a saturating step: pre-activations in the thousands, both signs
    results = []
    for settings in ({}, {"activation": wrapped["tanh"], "recurrent_activation": wrapped["sigmoid"]}):
        model = gn.Sequential([gn.layers.Input(shape), make(**settings)], seed=3, dtype="float64")
        layer = model.layers[-1]
        layer.needs_input_gradient = True        # a first layer's is not wanted in training
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            out = layer.forward(x, training=True)
            dx = layer.backward(np.cos(out))
        results.append((out, dx, {k: v.copy() for k, v in layer.grads.items()}))
    (out, dx, grads), (out_general, dx_general, grads_general) = results
    np.testing.assert_allclose(out, out_general, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx, dx_general, rtol=1e-12, atol=1e-14)
    for name in grads:
        np.testing.assert_allclose(grads[name], grads_general[name], rtol=1e-12, atol=1e-14, err_msg=name)


@pytest.mark.parametrize("layer", [SimpleRNN, LSTM, GRU])
def test_kerass_speed_hints_unroll_and_use_cudnn_change_nothing(layer, rng):
    # Keras code passes them (unroll=False, use_cudnn=False for exact CPU numbers): the same layer
    x = rng.normal(size=(3, 5, 2)).astype(np.float32)
    plain = layer(4, return_sequences=True, seed=0)
    hinted = layer(4, return_sequences=True, seed=0, unroll=True, use_cudnn=False)
    np.testing.assert_array_equal(hinted(x), plain(x))
    assert hinted.get_config() == plain.get_config()
