"""Keras 3's ``gradient_accumulation_steps`` on every optimizer: one update every k calls with the
mean of their gradients. Against Keras 3.15 (the same model trained epoch by epoch, a partial
accumulation crossing the epochs; with a learning-rate schedule, clipping, weight decay and the
moving average), against a batch k times larger, and through files, backups, ``train_on_batch``,
``trace``, ``reset`` and bad settings."""
import json
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet import optimizers
from glassnet.errors import ModelFileError
from glassnet.layers import Dense
from test_gpu import cupy  # noqa: F401  (the fixture: fakecupy, and CuPy where a GPU is)

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# glassnet name: (Keras class, settings for both), under which the two rules are the same (the
# epsilons small enough that where each adds it does not show in float32: Keras adds Adam's before
# the bias correction, which at the first steps shows on gradients of 1e-3, a bias's here; Nadam
# with Keras 3's momentum warm-up, momentum_decay=1.0 on glassnet's side)
KERAS = {"sgd": ("SGD", {"learning_rate": 0.1, "momentum": 0.5}),
         "adam": ("Adam", {"learning_rate": 0.01, "epsilon": 1e-12}),
         "adamw": ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1, "epsilon": 1e-12}),
         "rmsprop": ("RMSprop", {"learning_rate": 0.01, "epsilon": 1e-12}),
         "adagrad": ("Adagrad", {"learning_rate": 0.05, "epsilon": 1e-12}),
         "lion": ("Lion", {"learning_rate": 0.003}),
         "adamax": ("Adamax", {"learning_rate": 0.01}),
         "nadam": ("Nadam", {"learning_rate": 0.01})}
OURS_ONLY = {"nadam": {"momentum_decay": 1.0}}


def _keras():
    return pytest.importorskip("keras", reason="Keras oracle not installed")


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3)).astype(np.float32)
    y = (np.sin(X[:, :1]) + 0.5 * X[:, 1:2] * X[:, 2:3]).astype(np.float32)
    return X, y


def _ours(name, seed=0, **settings):
    model = gn.Sequential([Dense(4, activation="tanh", input_dim=3, name="hidden"), Dense(1, name="out")], seed=seed)
    model.compile("mse", optimizers.OPTIMIZERS[name](**{**KERAS[name][1], **OURS_ONLY.get(name, {}), **settings}))
    return model


def _theirs(keras, name, weights, **settings):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
    cls_name, common = KERAS[name]
    model.compile(loss="mse", optimizer=getattr(keras.optimizers, cls_name)(**{**common, **settings}))
    model.set_weights(weights)
    return model


def _fit_both(keras, name, epochs=3, batch_size=8, ours_settings=None, **settings):
    """Each model's weights after each epoch of one ``fit`` (40 samples in batches of 8: 5 calls
    an epoch, so an accumulation of 2 or 3 crosses the epochs' ends)."""
    X, y = _data()
    ours = _ours(name, **settings, **(ours_settings or {}))
    theirs = _theirs(keras, name, ours.get_weights(), **settings)
    our_epochs, their_epochs = [], []
    ours.fit(X, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0,
             callbacks=[gn.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: our_epochs.append(ours.get_weights()))])
    theirs.fit(X, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0,
               callbacks=[keras.callbacks.LambdaCallback(
                   on_epoch_end=lambda e, logs: their_epochs.append(theirs.get_weights()))])
    return ours, theirs, our_epochs, their_epochs


def _assert_epochs_close(our_epochs, their_epochs, atol=2e-6):
    assert len(our_epochs) == len(their_epochs)
    for epoch, (a, b) in enumerate(zip(our_epochs, their_epochs)):
        for i, (mine, keras_w) in enumerate(zip(a, b)):
            np.testing.assert_allclose(mine, keras_w, rtol=1e-5, atol=atol, err_msg=f"epoch {epoch + 1}, weights[{i}]")


# -- against Keras 3.15 ------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("name", sorted(KERAS))
def test_training_matches_keras_epoch_by_epoch(name, k):
    keras = _keras()
    ours, theirs, our_epochs, their_epochs = _fit_both(keras, name, gradient_accumulation_steps=k)
    _assert_epochs_close(our_epochs, their_epochs)
    # 15 calls: 15 // k updates (Keras' iterations), 15 % k gradients waiting for the next
    assert ours.optimizer.iterations == int(theirs.optimizer.iterations) == 15 // k
    assert ours.optimizer.accumulated_steps == 15 % k
    their_sum = [np.asarray(v.numpy()).ravel() for v in theirs.optimizer._accumulated_gradients]
    np.testing.assert_allclose(ours.optimizer.slots["params"]["gradient_accumulator"], np.concatenate(their_sum),
                               rtol=1e-5, atol=1e-6)
    # and accumulation changed the run: the same training without it ends elsewhere
    plain = _ours(name)
    plain.fit(*_data(), epochs=3, batch_size=8, shuffle=False, verbose=0)
    assert max(np.abs(a - b).max() for a, b in zip(plain.get_weights(), ours.get_weights())) > 1e-3


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop"])
def test_a_schedule_sees_every_call_as_in_keras(name):
    """Keras' schedule reads its count of calls, not of updates: the j-th update of k takes the
    rate of step j k - 1. A rate falling at every step shows any other count."""
    keras = _keras()
    X, y = _data()
    extra = {"momentum": 0.0} if name == "sgd" else {}     # (glassnet's SGD momentum differs once the rate moves)
    ours = _ours(name, **extra, gradient_accumulation_steps=3,
                 learning_rate=optimizers.schedules.ExponentialDecay(0.05, decay_steps=1, decay_rate=0.9))
    theirs = _theirs(keras, name, ours.get_weights(), **extra, gradient_accumulation_steps=3,
                     learning_rate=keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=1, decay_rate=0.9))
    for _ in range(3):
        ours.fit(X, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
        theirs.fit(X, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
        _assert_epochs_close([ours.get_weights()], [theirs.get_weights()])
        # the rate shown is the next call's, as Keras' learning_rate
        assert ours.optimizer.learning_rate == pytest.approx(float(theirs.optimizer.learning_rate), rel=1e-6)
    assert ours.optimizer.learning_rate == pytest.approx(0.05 * 0.9 ** 15, rel=1e-6)


@pytest.mark.parametrize("clipping", [{"clipnorm": 0.05}, {"global_clipnorm": 0.08}, {"clipvalue": 0.02}])
@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_clipping_applies_to_the_mean_as_in_keras(name, clipping):
    keras = _keras()
    _, _, our_epochs, their_epochs = _fit_both(keras, name, gradient_accumulation_steps=2, **clipping)
    _assert_epochs_close(our_epochs, their_epochs)
    _, _, unclipped, _ = _fit_both(keras, name, epochs=1, gradient_accumulation_steps=2)
    assert max(np.abs(a - b).max() for a, b in zip(unclipped[0], our_epochs[0])) > 1e-4      # it clipped


def _keras_steps(keras, name, w0, grads, **settings):
    cls_name, common = KERAS[name]
    theirs = getattr(keras.optimizers, cls_name)(**{**common, **settings})
    variable, values = keras.Variable(w0), []
    for g in grads:
        theirs.apply_gradients([(keras.ops.convert_to_tensor(g), variable)])
        values.append(np.asarray(variable.numpy()))
    return theirs, variable, values


def _our_steps(name, w0, grads, **settings):
    ours = optimizers.OPTIMIZERS[name](**{**KERAS[name][1], **OURS_ONLY.get(name, {}), **settings})
    w, values = w0.copy(), []
    for g in grads:
        ours.apply([("w", w, g)])
        values.append(w.copy())
    return ours, w, values


@pytest.mark.parametrize("frequency", [None, 1, 2])
@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_moving_average_moves_at_every_call_as_in_keras(name, frequency):
    """Keras updates the average at every call (between updates it averages in the unchanged
    weights) and overwrites the weights when (updates done + 1) is a multiple of the frequency."""
    keras = _keras()
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((4, 3)).astype(np.float32)
    grads = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(11)]
    settings = dict(use_ema=True, ema_momentum=0.8, ema_overwrite_frequency=frequency, weight_decay=0.2,
                    gradient_accumulation_steps=3)
    theirs, variable, their_values = _keras_steps(keras, name, w0, grads, **settings)
    ours, w, our_values = _our_steps(name, w0, grads, **settings)
    for step, (a, b) in enumerate(zip(our_values, their_values)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"call {step + 1}")
    average = np.asarray(theirs._model_variables_moving_average[0].numpy())
    np.testing.assert_allclose(ours.slots["w"]["average"], average, rtol=1e-5, atol=1e-6)
    ours.finalize_variable_values([("w", w, None)])
    theirs.finalize_variable_values([variable])
    np.testing.assert_allclose(w, np.asarray(variable.numpy()), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["adafactor", "lamb", "ftrl"])
def test_keras_only_rules_accumulate_as_in_keras(name):
    keras = _keras()
    cls_name = {"adafactor": "Adafactor", "lamb": "Lamb", "ftrl": "Ftrl"}[name]
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal((4, 3)).astype(np.float32)
    grads = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(8)]
    theirs = getattr(keras.optimizers, cls_name)(learning_rate=0.01, gradient_accumulation_steps=3)
    variable = keras.Variable(w0)
    ours, w = optimizers.OPTIMIZERS[name](learning_rate=0.01, gradient_accumulation_steps=3), w0.copy()
    for g in grads:
        theirs.apply_gradients([(keras.ops.convert_to_tensor(g), variable)])
        ours.apply([("w", w, g)])
        np.testing.assert_allclose(w, np.asarray(variable.numpy()), rtol=1e-5, atol=1e-6)


# -- what it means -----------------------------------------------------------------------------------
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_two_batches_of_16_accumulated_step_as_one_of_32(momentum):
    """With a mean-reduced loss the mean of two half-batches' gradients is the whole batch's: SGD
    steps the same (up to float32 rounding of the two sums)."""
    X, y = _data(96)
    accumulated = _ours("sgd", momentum=momentum, gradient_accumulation_steps=2)
    whole = _ours("sgd", momentum=momentum)
    accumulated.fit(X, y, epochs=4, batch_size=16, shuffle=False, verbose=0)
    whole.fit(X, y, epochs=4, batch_size=32, shuffle=False, verbose=0)
    for a, b in zip(accumulated.get_weights(), whole.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert accumulated.optimizer.iterations == whole.optimizer.iterations == 12
    assert not np.allclose(accumulated.get_weights()[0], _ours("sgd").get_weights()[0], atol=1e-2)   # it trained


def test_train_on_batch_accumulates_and_the_layers_grads_are_each_batch_s_own():
    X, y = _data(40)
    batches = [(X[i:i + 8], y[i:i + 8]) for i in range(0, 40, 8)]
    model = _ours("adam", gradient_accumulation_steps=3)
    fitted = _ours("adam", gradient_accumulation_steps=3)
    probe = _ours("sgd", momentum=0.0, learning_rate=0.0)       # the same weights, for the plain gradient
    before = model.get_weights()
    for i, (xb, yb) in enumerate(batches):
        probe.set_weights(model.get_weights())      # the weights this call's gradient is taken at
        model.train_on_batch(xb, yb)
        probe.train_on_batch(xb, yb)
        for layer, probe_layer in zip(model.layers, probe.layers):
            for key in layer.grads:         # this batch's own gradient, not the sum nor the mean
                np.testing.assert_array_equal(layer.grads[key], probe_layer.grads[key])
        if i < 2:       # the first two calls only accumulate
            for a, b in zip(model.get_weights(), before):
                np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == 1 and model.optimizer.accumulated_steps == 2
    fitted.fit(X, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), fitted.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_train_on_batch_matches_keras():
    keras = _keras()
    X, y = _data(24)
    ours = _ours("adam", gradient_accumulation_steps=2)
    theirs = _theirs(keras, "adam", ours.get_weights(), gradient_accumulation_steps=2)
    for i in range(0, 24, 8):
        ours.train_on_batch(X[i:i + 8], y[i:i + 8])
        theirs.train_on_batch(X[i:i + 8], y[i:i + 8])
        _assert_epochs_close([ours.get_weights()], [theirs.get_weights()])


def test_trace_reports_a_call_that_only_accumulates_as_no_update():
    X, y = _data(8)
    model = _ours("sgd", gradient_accumulation_steps=2)
    first = model.trace(X, y)
    assert all(np.all(u == 0) for record in first for u in (record["update"] or {}).values())
    assert model.optimizer.accumulated_steps == 0 and model.optimizer.slots == {}       # left as it was
    model.train_on_batch(X, y)
    second = model.trace(X, y)         # this call would update: with the mean of the two
    assert any(np.any(u != 0) for record in second for u in (record["update"] or {}).values())
    assert model.optimizer.accumulated_steps == 1 and model.optimizer.iterations == 0


# -- state: files, backups, reset ---------------------------------------------------------------------
def test_saved_mid_accumulation_resumes_as_uninterrupted(tmp_path):
    X, y = _data(40)
    whole = _ours("adam", gradient_accumulation_steps=3, use_ema=True, clipnorm=0.5)
    whole.fit(X, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    first = _ours("adam", gradient_accumulation_steps=3, use_ema=True, clipnorm=0.5)
    first.fit(X, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    assert first.optimizer.accumulated_steps == 2          # 5 calls: one update, two waiting
    first.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert loaded.optimizer.get_config() == first.optimizer.get_config()
    assert loaded.optimizer.gradient_accumulation_steps == 3 and loaded.optimizer.accumulated_steps == 2
    np.testing.assert_array_equal(loaded.optimizer.slots["params"]["gradient_accumulator"],
                                  first.optimizer.slots["params"]["gradient_accumulator"])
    loaded.fit(X, y, epochs=3, initial_epoch=1, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(loaded.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)


class _Crash(Exception):
    pass


def test_a_backup_keeps_the_accumulated_gradients(tmp_path):
    X, y = _data(40)

    def crash_after_two(epoch, logs):
        if epoch == 1:
            raise _Crash()

    whole = _ours("rmsprop", gradient_accumulation_steps=3)
    whole.fit(X, y, epochs=4, batch_size=8, shuffle=False, verbose=0)
    crashed = _ours("rmsprop", gradient_accumulation_steps=3)
    with pytest.raises(_Crash):
        crashed.fit(X, y, epochs=4, batch_size=8, shuffle=False, verbose=0,
                    callbacks=[gn.BackupAndRestore(tmp_path), gn.callbacks.LambdaCallback(on_epoch_end=crash_after_two)])
    assert crashed.optimizer.accumulated_steps == 1        # 10 calls: 3 updates, one waiting
    resumed = _ours("rmsprop", gradient_accumulation_steps=3)
    resumed.fit(X, y, epochs=4, batch_size=8, shuffle=False, verbose=0, callbacks=[gn.BackupAndRestore(tmp_path)])
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_get_state_set_state_and_reset():
    X, y = _data(16)
    model = _ours("sgd", gradient_accumulation_steps=3)
    model.fit(X, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    state = model.optimizer.get_state()
    assert state["accumulated_steps"] == 2 and "gradient_accumulator" in state["slots"]["params"]
    other = _ours("sgd", gradient_accumulation_steps=3)
    other.set_weights(model.get_weights())
    other.optimizer.set_state(state)
    model.train_on_batch(X[:8], y[:8])
    other.train_on_batch(X[:8], y[:8])
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.train_on_batch(X[:8], y[:8])
    model.optimizer.reset()
    assert (model.optimizer.accumulated_steps, model.optimizer.iterations, model.optimizer.slots) == (0, 0, {})
    with pytest.raises(ValueError, match=r"SGD.set_state: accumulated_steps must be an integer from 0 to 2 "
                                         r"\(gradient_accumulation_steps=3\), got 3"):
        other.optimizer.set_state({**state, "accumulated_steps": 3})
    with pytest.raises(ValueError, match=r"holds no 'gradient_accumulator' \(their sum\) for 'params'"):
        other.optimizer.set_state({**state, "slots": {"params": {}}})
    plain = optimizers.SGD()
    with pytest.raises(ValueError, match=r"from 0 to 0 \(gradient_accumulation_steps=None\), got 1"):
        plain.set_state({"iterations": 0, "slots": {}, "accumulated_steps": 1})
    # turned off, the sum is no longer state (a file would not load it as this optimizer's)
    model.optimizer.gradient_accumulation_steps = None
    assert "accumulated_steps" not in model.optimizer.get_state()


def test_a_file_with_too_many_accumulated_steps_is_refused(tmp_path, edit_model_file):
    X, y = _data(16)
    model = _ours("sgd", gradient_accumulation_steps=3)
    model.fit(X, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    model.save(tmp_path / "m.npz")

    def edit(config):
        config["optimizer_state"]["accumulated_steps"] = 5

    edit_model_file(tmp_path / "m.npz", edit, tmp_path / "edited.npz")
    with pytest.raises(ModelFileError, match=r"accumulated_steps must be an integer from 0 to 2"):
        gn.load_model(tmp_path / "edited.npz")


@pytest.mark.parametrize("name", sorted(optimizers.OPTIMIZERS))
def test_configs_keep_the_setting_only_when_set(name):
    assert "gradient_accumulation_steps" not in optimizers.OPTIMIZERS[name]().get_config()
    opt = optimizers.OPTIMIZERS[name](gradient_accumulation_steps=4)
    config = json.loads(json.dumps(opt.get_config()))
    assert config["gradient_accumulation_steps"] == 4
    again = optimizers.from_config(config)
    assert again.get_config() == config and again.gradient_accumulation_steps == 4


@pytest.mark.parametrize("value", [0, 1, 2.0, True, "2", -3])
def test_bad_settings_are_refused_by_name(value):
    with pytest.raises(ValueError, match=r"Adam: gradient_accumulation_steps must be None or an integer >= 2 "
                                         r"\(the calls per update\), got"):
        optimizers.Adam(gradient_accumulation_steps=value)


def test_changing_it_while_gradients_wait_is_refused():
    opt, w = optimizers.SGD(gradient_accumulation_steps=3), np.zeros(2, np.float32)
    opt.apply([("w", w, np.ones(2, np.float32))])
    for value in (2, None):
        with pytest.raises(ValueError, match=r"SGD: gradient_accumulation_steps: 1 gradients are accumulated towards "
                                             r"an update of 3; change it after an update, or reset\(\) first"):
            opt.gradient_accumulation_steps = value
    opt.gradient_accumulation_steps = 3                    # the same value: nothing changes
    opt.apply([("w", w, np.ones(2, np.float32))])
    opt.apply([("w", w, np.ones(2, np.float32))])
    np.testing.assert_allclose(w, [-0.01, -0.01])
    opt.gradient_accumulation_steps = 2                    # after an update: taken
    assert opt.gradient_accumulation_steps == 2


def test_on_fakecupy_as_on_the_host(cupy):
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((4, 3)).astype(np.float32)
    grads = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(5)]
    settings = dict(gradient_accumulation_steps=2, use_ema=True, clipnorm=1.0)
    host, device = optimizers.Adam(0.1, **settings), optimizers.Adam(0.1, **settings)
    w, dw = w0.copy(), cupy.asarray(w0)
    for g in grads:
        host.apply([("w", w, g)])
        device.apply([("w", dw, cupy.asarray(g))])
    assert isinstance(device.get_state()["slots"]["w"]["gradient_accumulator"], cupy.ndarray)
    np.testing.assert_array_equal(cupy.asnumpy(dw), w)
    np.testing.assert_array_equal(cupy.asnumpy(device.slots["w"]["gradient_accumulator"]),
                                  host.slots["w"]["gradient_accumulator"])
