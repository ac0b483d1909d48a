"""LearningRateScheduler and ReduceLROnPlateau: steps against a hand computation, scripted logs worked
by hand and replayed through Keras' own callback, end-to-end fits, save/load, bad arguments."""
import math
import types
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks import LearningRateScheduler, ReduceLROnPlateau
from glassnet.layers import Dense


def _linear(lr=0.1):
    """y = x @ w + b with mse, float64: one full-batch SGD step per epoch is easy to do by hand."""
    model = gn.Sequential([Dense(1, input_dim=3)], seed=0, dtype="float64")
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=lr))
    return model


def _data(rng, n=20):
    return rng.standard_normal((n, 3)), rng.standard_normal((n, 1))


def _halving(epoch, lr):
    return 0.1 * 0.5 ** epoch


# -- LearningRateScheduler ------------------------------------------------------------------
def test_scheduler_halves_the_rate_and_sgd_steps_follow(rng):
    x, y = _data(rng)
    model = _linear(lr=0.7)                      # the schedule overrides it from epoch 0
    w, b = (a.copy() for a in model.get_weights())
    weights = []
    record = gn.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: weights.append(model.get_weights()))
    history = model.fit(x, y, epochs=4, batch_size=None, verbose=0,
                        callbacks=[LearningRateScheduler(_halving), record])
    assert history.history["learning_rate"] == [0.1, 0.05, 0.025, 0.0125]
    for epoch, (w_fit, b_fit) in enumerate(weights):
        residual = x @ w + b - y                 # mse gradient: 2 / n * x^T (x w + b - y)
        lr = 0.1 * 0.5 ** epoch
        w, b = w - lr * 2 / len(x) * x.T @ residual, b - lr * 2 / len(x) * residual.sum(axis=0)
        np.testing.assert_allclose(w_fit, w, rtol=1e-12)
        np.testing.assert_allclose(b_fit, b, rtol=1e-12)
    assert model.optimizer.learning_rate == 0.0125


def test_scheduler_gets_the_epoch_and_current_rate_and_respects_initial_epoch(rng):
    x, y = _data(rng)
    model = _linear(lr=0.08)
    calls = []

    def schedule(epoch, lr):
        calls.append((epoch, lr))
        return lr / 2

    history = model.fit(x, y, epochs=5, initial_epoch=2, verbose=0,
                        callbacks=[LearningRateScheduler(schedule)])
    assert calls == [(2, 0.08), (3, 0.04), (4, 0.02)]
    assert all(type(lr) is float for _, lr in calls)
    assert history.epoch == [2, 3, 4] and history.history["learning_rate"] == [0.04, 0.02, 0.01]


@pytest.mark.parametrize("bad", [0.0, -0.1, math.nan, math.inf, None, "0.1", True, [0.1]])
def test_scheduler_refuses_a_bad_rate_naming_epoch_and_value(bad, rng):
    x, y = _data(rng)
    model = _linear()
    scheduler = LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else bad)
    with pytest.raises(ValueError, match="epoch 1") as info:
        model.fit(x, y, epochs=3, verbose=0, callbacks=[scheduler])
    assert repr(bad) in str(info.value)
    assert model.optimizer.learning_rate == 0.1       # epoch 0 kept it, epoch 1 changed nothing


def test_scheduler_accepts_numpy_and_int_rates_and_stores_a_float(rng, tmp_path):
    x, y = _data(rng)
    model = _linear()
    model.fit(x, y, epochs=2, verbose=0,
              callbacks=[LearningRateScheduler(lambda e, lr: 1 if e == 0 else np.float32(0.25))])
    assert type(model.optimizer.learning_rate) is float and model.optimizer.learning_rate == 0.25
    model.save(tmp_path / "m.npz")                    # the optimizer config goes to JSON


def test_scheduler_rate_survives_save_and_load_and_resumes(rng, tmp_path):
    x, y = _data(rng)
    model = _linear(lr=0.08)
    halve = LearningRateScheduler(lambda epoch, lr: lr / 2)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[halve])
    assert model.optimizer.learning_rate == 0.02
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert loaded.optimizer.learning_rate == 0.02
    history = loaded.fit(x, y, epochs=3, initial_epoch=2, verbose=0, callbacks=[halve])
    assert history.history["learning_rate"] == [0.01]


def test_scheduler_verbose_and_progress_line_show_the_rate(rng, capsys):
    x, y = _data(rng)
    _linear().fit(x, y, epochs=2, verbose=2,
                  callbacks=[LearningRateScheduler(_halving, verbose=1)])
    out = capsys.readouterr().out
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.05." in out
    assert "learning_rate: 0.0500" in out       # History and the progress line come after it


def test_scheduler_needs_a_callable():
    with pytest.raises(TypeError, match="schedule must be a callable"):
        LearningRateScheduler(0.1)


# -- ReduceLROnPlateau ----------------------------------------------------------------------
# factor 0.5, patience 2, cooldown 2, min_delta 0.01, min_lr 0.2, starting at 1.0. Worked by hand:
# e0 best; e1, e2 fall by less than min_delta: wait 1, 2 -> 0.5, cooldown 2; e3 in cooldown;
# e4 wait 1; e5 wait 2 -> 0.25, cooldown; e6 improves; e7 wait 1; e8 wait 2 -> max(0.125, 0.2);
# e9 cooldown; e10, e11 would reduce, but the rate is at min_lr already.
SCRIPT = [1.0, 0.995, 0.992, 1.2, 1.3, 1.4, 0.5, 0.6, 0.6, 0.7, 0.7, 0.7]
LOGGED = [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2]
AFTER = LOGGED[1:] + [0.2]
SETTINGS = dict(factor=0.5, patience=2, cooldown=2, min_delta=0.01, min_lr=0.2)


def _replay(callback, model, values, monitor="val_loss"):
    """Call the hooks as fit does; the rate logged each epoch and the rate after it."""
    callback.set_model(model)
    callback.on_train_begin({})
    logged, after = [], []
    for epoch, value in enumerate(values):
        logs = {"loss": 0.0, monitor: value}
        callback.on_epoch_end(epoch, logs)
        logged.append(logs["learning_rate"])
        after.append(float(model.optimizer.learning_rate))
    return logged, after


def test_plateau_follows_the_script_worked_by_hand():
    logged, after = _replay(ReduceLROnPlateau(**SETTINGS), _linear(lr=1.0), SCRIPT)
    assert logged == LOGGED and after == AFTER


def test_plateau_max_mode_for_accuracy_and_min_delta_zero():
    # auto: "acc" in the name means higher is better; patience 1 reduces on the first flat epoch
    reduce = ReduceLROnPlateau(monitor="val_accuracy", factor=0.1, patience=1, min_delta=0)
    _, after = _replay(reduce, _linear(lr=1.0), [0.5, 0.6, 0.6, 0.7, 0.65], "val_accuracy")
    np.testing.assert_allclose(after, [1.0, 1.0, 0.1, 0.1, 0.01], rtol=1e-12)


def test_plateau_state_restarts_with_each_fit():
    reduce, model = ReduceLROnPlateau(**SETTINGS), _linear(lr=1.0)
    _replay(reduce, model, SCRIPT[:2])                 # wait 1 left over
    model.optimizer.learning_rate = 1.0
    _, after = _replay(reduce, model, SCRIPT[:2])      # on_train_begin forgot it: no reduction
    assert after == [1.0, 1.0]


@pytest.mark.parametrize("monitor,mode,values,settings", [
    ("val_loss", "auto", SCRIPT, SETTINGS),
    ("val_accuracy", "max", [0.5, 0.6, 0.6, 0.7, 0.65, 0.66, 0.9, 0.9, 0.9, 0.9],
     dict(factor=0.3, patience=1, cooldown=1, min_delta=0.02, min_lr=0.01)),
])
@pytest.mark.filterwarnings("ignore::DeprecationWarning")      # Keras' own, from NumPy 2
def test_plateau_matches_keras(monitor, mode, values, settings):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours = _replay(ReduceLROnPlateau(monitor=monitor, mode=mode, **settings), _linear(lr=1.0),
                   values, monitor)
    stub = types.SimpleNamespace(optimizer=keras.optimizers.SGD(learning_rate=1.0))
    theirs = _replay(keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode=mode, **settings), stub,
                     values, monitor)
    # Keras keeps the rate in a float32 variable
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_plateau_end_to_end_fit(rng):
    x, y = _data(rng)
    model = _linear(lr=0.1)
    # a min_delta no epoch can beat: every epoch after the first is a plateau, patience 0 reduces
    reduce = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=1e9)
    history = model.fit(x, y, epochs=4, batch_size=None, verbose=0, callbacks=[reduce])
    assert history.history["learning_rate"] == [0.1, 0.1, 0.05, 0.025]
    assert model.optimizer.learning_rate == 0.0125


def test_plateau_raises_naming_the_logged_values_when_the_monitor_is_missing(rng):
    x, y = _data(rng)
    model = _linear(lr=0.1)
    reduce = ReduceLROnPlateau(patience=0)            # monitors val_loss; there is no validation
    with pytest.raises(ValueError, match=r"'val_loss' is not among the logged values "
                                         r"\['learning_rate', 'loss'\]"):
        model.fit(x, y, epochs=3, verbose=0, callbacks=[reduce])
    assert model.optimizer.learning_rate == 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")                # present: no warning, no error
        model.fit(x, y, epochs=2, verbose=0, validation_data=(x, y), callbacks=[reduce])


def test_plateau_verbose(capsys):
    reduce = ReduceLROnPlateau(monitor="loss", patience=0, factor=0.5, verbose=1)
    _replay(reduce, _linear(lr=1.0), [1.0, 1.0], "loss")
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.5." in capsys.readouterr().out


@pytest.mark.parametrize("kwargs,match", [
    (dict(factor=1.0), "factor"), (dict(factor=0), "factor"), (dict(factor=-0.5), "factor"),
    (dict(patience=-1), "patience"), (dict(patience=1.5), "patience"), (dict(cooldown=-2), "cooldown"),
    (dict(min_lr=-1e-3), "min_lr"), (dict(min_lr=math.nan), "min_lr"), (dict(mode="up"), "mode"),
])
def test_plateau_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ReduceLROnPlateau(**kwargs)
