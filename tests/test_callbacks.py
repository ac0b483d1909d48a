"""LearningRateScheduler, ReduceLROnPlateau and EarlyStopping: steps against a hand computation,
scripted logs worked by hand and replayed through Keras' own callback, end-to-end fits, save/load, bad
arguments; Keras' alias batch hooks of Callback; stop_training from a batch hook; monitors that no
epoch can log, refused before training; verbose messages."""
import csv
import math
import os
import types
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks import (Callback, CallbackList, EarlyStopping, LambdaCallback,
                                LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau)
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


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf, None, "0.1", True, [0.1]])
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


def test_scheduler_takes_a_one_argument_schedule_as_keras_does(rng):
    x, y = _data(rng)
    history = _linear().fit(x, y, epochs=3, verbose=0,
                            callbacks=[LearningRateScheduler(lambda epoch: 0.5 / (epoch + 1))])
    assert history.history["learning_rate"] == [0.5, 0.25, 0.5 / 3]


def _by_keyword(epoch, lr=None, *, scale=0.5):
    return 0.1 if lr is None else lr * scale


@pytest.mark.parametrize("schedule,takes_lr", [
    (lambda epoch, lr: lr, True), (lambda epoch: 0.1, False), (_by_keyword, True),
    (lambda *args: 0.1, True), (lambda epoch, *rest: 0.1, True),
    (max, True),                    # a built-in without a readable signature: Keras' (epoch, lr)
])
def test_scheduler_reads_the_form_from_the_signature(schedule, takes_lr):
    assert LearningRateScheduler(schedule).takes_lr is takes_lr


def test_a_type_error_inside_a_two_argument_schedule_is_not_retried_with_one(rng):
    # Keras catches the TypeError and calls schedule(epoch), which hides the real mistake
    x, y = _data(rng)
    calls = []

    def schedule(epoch, lr):
        calls.append(epoch)
        return lr + "0.1"           # a bug in the schedule itself

    with pytest.raises(TypeError, match="unsupported operand"):
        _linear().fit(x, y, epochs=2, verbose=0, callbacks=[LearningRateScheduler(schedule)])
    assert calls == [0]


@pytest.mark.parametrize("schedule", [lambda: 0.1, lambda epoch, lr, extra: 0.1,
                                      lambda epoch, *, lr: 0.1])
def test_scheduler_refuses_a_schedule_of_neither_form(schedule):
    with pytest.raises(TypeError, match=r"LearningRateScheduler: schedule must take \(epoch, lr\) or "
                                        r"\(epoch\).*got a callable with the signature \("):
        LearningRateScheduler(schedule)


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
    (dict(min_delta=math.nan), "min_delta"), (dict(min_delta=math.inf), "min_delta"),
    (dict(min_delta=-0.1), "min_delta"), (dict(min_delta=None), "min_delta"),
])
def test_plateau_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ReduceLROnPlateau(**kwargs)


def test_plateau_refuses_a_monitor_that_is_not_a_name():
    with pytest.raises(TypeError, match="monitor must be the name of a logged value.*got None"):
        ReduceLROnPlateau(monitor=None)


# -- EarlyStopping --------------------------------------------------------------------------
class _Script(Callback):
    """Overwrites ``monitor`` in each epoch's logs with the next scripted value; listed before
    EarlyStopping, it makes a real fit see exactly that sequence."""

    def __init__(self, monitor, values):
        super().__init__()
        self.monitor, self.values = monitor, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.monitor] = self.values[epoch]


RISE = [1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99, 1.0, 1.01, 1.02]
HALVING = [1.0, 0.5, 0.25, 0.2, 0.3, 0.125, 0.3, 0.3, 0.3, 0.3]
DESCENT = [1.0, 0.9, 0.8, 0.7, 0.75, 0.76, 0.77, 0.78, 0.79, 0.8]
ABOVE = [1.0, 1.1, 1.2, 0.9, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8]


# Worked by hand (epochs 0-based). wait: +1 every epoch, 0 on an improvement (that also beats the
# baseline); stop at an epoch without improvement once wait >= patience.
@pytest.mark.parametrize("values,settings,stop,best", [
    # e1 improves; e2, e3, e4 do not: wait 1, 2, 3
    (RISE, dict(patience=0), 2, 1), (RISE, dict(patience=1), 2, 1),
    (RISE, dict(patience=2), 3, 1), (RISE, dict(patience=3), 4, 1),
    # min_delta 0.25: e1 (0.5 < 1.0 - 0.25) improves; e2 (0.25, not < 0.5 - 0.25) does not: wait 1;
    # e3 (0.2 < 0.25) does; e4 and e5 (0.125, not < 0.2 - 0.25) do not: wait 1, 2
    (HALVING, dict(patience=1, min_delta=0.25), 2, 1), (HALVING, dict(patience=2, min_delta=0.25), 5, 3),
    # baseline 0.85: e0, e1 improve but stay above it (wait 1, 2); e2 and e3 beat it (wait 0);
    # e4, e5 do not improve: wait 1, 2
    (DESCENT, dict(patience=2, baseline=0.85), 5, 3),
    # baseline never beaten: improving epochs never stop training, e4 (wait 5) does
    (DESCENT, dict(patience=2, baseline=0.5), 4, 3),
    # baseline never beaten: e1 (wait 2) is not enough for patience 3, e2 (wait 3) is
    (ABOVE, dict(patience=3, baseline=0.5), 2, 0),
    # max mode: e3 improves; e4, e5 do not
    ([0.5, 0.6, 0.6, 0.7, 0.65, 0.7, 0.8, 0.9, 0.9, 0.9], dict(monitor="val_accuracy", patience=2), 5, 3),
])
def test_early_stopping_stops_where_worked_by_hand(values, settings, stop, best, rng):
    x, y = _data(rng)
    model = _linear()
    monitor = settings.get("monitor", "val_loss")
    weights = []
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: weights.append(model.get_weights()))
    stopper = EarlyStopping(**{"monitor": monitor, **settings}, restore_best_weights=True)
    history = model.fit(x, y, epochs=len(values), verbose=0,
                        callbacks=[_Script(monitor, values), record, stopper])
    assert history.epoch == list(range(stop + 1)) and stopper.stopped_epoch == stop
    assert stopper.best_epoch == best and stopper.best == values[best]
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), weights[best], strict=True))


def test_early_stopping_state_restarts_with_each_fit(rng):
    x, y = _data(rng)
    stopper = EarlyStopping(patience=1)
    history = _linear().fit(x, y, epochs=4, verbose=0, callbacks=[_Script("val_loss", RISE[:4]), stopper])
    assert len(history.epoch) == 3 and stopper.stopped_epoch == 2       # patience 1: e2 stops
    history = _linear().fit(x, y, epochs=2, verbose=0, callbacks=[_Script("val_loss", RISE), stopper])
    assert len(history.epoch) == 2 and stopper.stopped_epoch == 0       # state reset by the new fit (Keras' 0)


class _EpochModel:
    """A model stand-in for replaying EarlyStopping: its "weights" name the epoch they are from."""

    def __init__(self):
        self.epoch, self.stop_training, self.restored = 0, False, None

    def get_weights(self):
        return [np.array([self.epoch])]

    def set_weights(self, weights):
        self.restored = int(weights[0][0])


def _replay_stopping(callback, values, monitor):
    """Call the hooks as fit does until the callback stops training; what it decided."""
    model = _EpochModel()
    callback.set_model(model)
    callback.on_train_begin({})
    for epoch, value in enumerate(values):
        model.epoch = epoch
        callback.on_epoch_end(epoch, {"loss": 0.0, monitor: value})
        if model.stop_training:
            break
    callback.on_train_end({})
    return dict(epochs_run=epoch + 1, best_epoch=callback.best_epoch, best=callback.best,
                wait=callback.wait, restored=model.restored)


@pytest.mark.parametrize("patience", [0, 1, 2, 3])
@pytest.mark.parametrize("min_delta", [0.0, 0.25])
@pytest.mark.parametrize("baseline", [None, 0.85, 0.55])
@pytest.mark.parametrize("start_from_epoch", [0, 3])
@pytest.mark.filterwarnings("ignore::DeprecationWarning")      # Keras' own, from NumPy 2
def test_early_stopping_matches_keras(patience, min_delta, baseline, start_from_epoch, capsys):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    # NaN never improves, but a first epoch does, even at NaN: then no later epoch can beat it
    nans = ([1.0, math.nan, 0.9, 0.95, math.nan, 1.0, 1.0, 1.0], [math.nan, 1.0, 0.5, 0.25, 1.0, 1.0])
    for values in (RISE, HALVING, DESCENT, ABOVE, *nans):
        # min mode on the values, max mode on their negatives: the same decisions either way
        for monitor, mode, sign in (("val_loss", "min", 1), ("val_accuracy", "max", -1)):
            settings = dict(monitor=monitor, mode=mode, patience=patience, min_delta=min_delta,
                            baseline=None if baseline is None else sign * baseline,
                            restore_best_weights=True, start_from_epoch=start_from_epoch, verbose=1)
            signed = [sign * v for v in values]
            capsys.readouterr()
            ours = _replay_stopping(EarlyStopping(**settings), signed, monitor)
            printed = capsys.readouterr().out
            theirs = _replay_stopping(keras.callbacks.EarlyStopping(**settings), signed, monitor)
            assert ours == pytest.approx(theirs, nan_ok=True), (values, mode)
            assert printed == capsys.readouterr().out, (values, mode)      # the same lines


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(patience=-1), ValueError, "patience must be a non-negative integer, got -1"),
    (dict(patience=2.7), ValueError, "patience must be a non-negative integer, got 2.7"),
    (dict(patience=True), ValueError, "patience must be a non-negative integer, got True"),
    (dict(patience=None), ValueError, "patience must be a non-negative integer, got None"),
    (dict(patience="3"), ValueError, "patience must be a non-negative integer, got '3'"),
    (dict(min_delta=math.nan), ValueError, "min_delta must be a finite number >= 0, got nan"),
    (dict(min_delta=-0.1), ValueError, "min_delta must be a finite number >= 0, got -0.1"),
    (dict(min_delta=math.inf), ValueError, "min_delta"), (dict(min_delta="0"), ValueError, "min_delta"),
    (dict(baseline=math.nan), ValueError, "baseline must be None or a finite number, got nan"),
    (dict(baseline="1"), ValueError, "baseline"),
    (dict(monitor=None), TypeError, "monitor must be the name of a logged value.*got None"),
    (dict(monitor=3, mode="min"), TypeError, "monitor"),
    (dict(mode="up"), ValueError, "mode"),
    (dict(start_from_epoch=-1), ValueError, "start_from_epoch must be a non-negative integer, got -1"),
    (dict(start_from_epoch=1.5), ValueError, "start_from_epoch must be a non-negative integer"),
    (dict(verbose=2), ValueError, r"verbose must be 0 \(silent\) or 1 \(print a line per event\), got 2"),
])
def test_early_stopping_refuses_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=f"EarlyStopping: {match}"):
        EarlyStopping(**kwargs)


def test_early_stopping_start_from_epoch_skips_the_warm_up(rng):
    # worked by hand, start_from_epoch 2, patience 1: e0, e1 rise but are not monitored; e2 is the
    # first monitored epoch (best 3.0); e3 improves; e4 does not (wait 1): stop at e4, best e3
    x, y = _data(rng)
    values = [1.0, 2.0, 3.0, 2.5, 2.6, 2.0]
    stopper = EarlyStopping(patience=1, start_from_epoch=2)
    history = _linear().fit(x, y, epochs=6, verbose=0, callbacks=[_Script("val_loss", values), stopper])
    assert history.epoch == [0, 1, 2, 3, 4] and stopper.stopped_epoch == 4
    assert stopper.best_epoch == 3 and stopper.best == 2.5
    # without the warm-up, e1 (no improvement, wait 1) stops it
    stopper = EarlyStopping(patience=1)
    _linear().fit(x, y, epochs=6, verbose=0, callbacks=[_Script("val_loss", values), stopper])
    assert stopper.stopped_epoch == 1


def test_early_stopping_verbose_prints_keras_lines_with_epochs_from_1(rng, capsys):
    x, y = _data(rng)
    stopper = EarlyStopping(patience=1, restore_best_weights=True, verbose=1)
    _linear().fit(x, y, epochs=10, verbose=0, callbacks=[_Script("val_loss", RISE), stopper])
    assert stopper.stopped_epoch == 2 and stopper.best_epoch == 1
    assert capsys.readouterr().out == ("Epoch 3: early stopping\n"
                                       "Restoring model weights from the end of the best epoch: 2.\n")
    _linear().fit(x, y, epochs=2, verbose=0, callbacks=[_Script("val_loss", RISE), EarlyStopping()])
    assert capsys.readouterr().out == ""                 # verbose=0: silent


def test_early_stopping_stopped_epoch_is_kerass_0_when_it_did_not_stop(rng, capsys):
    # Keras' 0 (not None), so that ported `if stopper.stopped_epoch > 0:` runs
    x, y = _data(rng)
    stopper = EarlyStopping(patience=5, verbose=1)
    _linear().fit(x, y, epochs=3, verbose=0, callbacks=[_Script("val_loss", RISE), stopper])
    assert stopper.stopped_epoch == 0 and capsys.readouterr().out == ""
    # the earliest stop: the first epoch always improves, the second can stop it (patience 0)
    stopper = EarlyStopping(patience=0, verbose=1)
    history = _linear().fit(x, y, epochs=3, verbose=0, callbacks=[_Script("val_loss", ABOVE), stopper])
    assert history.epoch == [0, 1] and stopper.stopped_epoch == 1
    assert capsys.readouterr().out == "Epoch 2: early stopping\n"


def test_early_stopping_accepts_numpy_numbers():
    stopper = EarlyStopping(patience=np.int64(2), min_delta=np.float32(0.5), baseline=np.float64(1.0))
    assert type(stopper.patience) is int and stopper.patience == 2
    assert type(stopper.min_delta) is float and stopper.min_delta == 0.5


# -- Callback: Keras' alias batch hooks -----------------------------------------------------
class _BatchCounter(Callback):
    """Written against Keras' older names: on_batch_begin / on_batch_end."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def on_batch_begin(self, batch, logs=None):
        self.calls.append(("begin", batch))

    def on_batch_end(self, batch, logs=None):
        self.calls.append(("end", batch, sorted(logs)))


def test_alias_batch_hooks_are_called_for_training_batches(rng):
    x, y = _data(rng)                                # 20 samples, batches of 8: 3 a epoch
    counter = _BatchCounter()
    _linear().fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[counter])
    one_epoch = [call for b in range(3) for call in (("begin", b), ("end", b, ["loss"]))]
    assert counter.calls == one_epoch * 2


def test_lambda_callback_takes_the_alias_batch_hooks(rng):
    x, y = _data(rng)
    batches = []
    ends = LambdaCallback(on_batch_end=lambda batch, logs: batches.append(batch))
    _linear().fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[ends])
    assert batches == [0, 1, 2, 0, 1, 2]


def test_batch_hooks_are_skipped_only_when_no_callback_defines_one():
    def has_batch_hooks(*callbacks):
        return CallbackList(callbacks, model=None, params={}).has_batch_hooks

    epoch_only = LambdaCallback(on_epoch_end=lambda epoch, logs: None)
    assert not has_batch_hooks(Callback(), epoch_only)
    assert has_batch_hooks(epoch_only, _BatchCounter())
    for hook in ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end"):
        assert has_batch_hooks(LambdaCallback(**{hook: lambda batch, logs: None}))


# -- stop_training from a batch hook --------------------------------------------------------
class _StopAt(Callback):
    """Sets stop_training in ``hook`` at (epoch, batch); records the hooks fit calls."""

    def __init__(self, hook, epoch, batch):
        super().__init__()
        self.hook, self.at, self.calls, self.batch_logs = hook, (epoch, batch), [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.calls.append(("epoch_begin", epoch))

    def on_train_batch_begin(self, batch, logs=None):
        self.calls.append(("batch", batch))
        if self.hook == "on_train_batch_begin" and (self.epoch, batch) == self.at:
            self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        self.batch_logs.append(logs)
        if self.hook == "on_train_batch_end" and (self.epoch, batch) == self.at:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, sorted(logs)))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end",))


@pytest.mark.parametrize("hook", ["on_train_batch_end", "on_train_batch_begin"])
def test_stop_training_in_a_batch_hook_ends_the_epoch_after_that_batch(hook, rng):
    # Keras 3: the flag is checked after each batch; validation and on_epoch_end still run
    x, y = _data(rng)                                # 20 samples, batches of 8: 3 an epoch
    model, twin = _linear(), _linear()
    stop = _StopAt(hook, epoch=1, batch=1)
    history = model.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0,
                        validation_data=(x, y), callbacks=[stop])
    keys = ["loss", "val_loss"]
    assert stop.calls == [("epoch_begin", 0), ("batch", 0), ("batch", 1), ("batch", 2),
                          ("epoch_end", 0, keys), ("epoch_begin", 1), ("batch", 0), ("batch", 1),
                          ("epoch_end", 1, keys), ("train_end",)]
    assert history.epoch == [0, 1]
    # the epoch's loss is the mean over the 16 samples it saw, as the last batch's logs say
    assert history.history["loss"][1] == stop.batch_logs[-1]["loss"]
    losses = [twin.train_on_batch(x[i:i + 8], y[i:i + 8]) for i in (0, 8, 16, 0, 8)]
    assert history.history["loss"][1] == pytest.approx((losses[3] * 8 + losses[4] * 8) / 16, rel=1e-12)
    # five updates in all, the same as the twin's; validation ran on the weights after them
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), twin.get_weights(), strict=True))
    assert history.history["val_loss"][1] == pytest.approx(twin.evaluate(x, y, verbose=0), rel=1e-12)


def test_stop_training_in_on_epoch_end_still_finishes_that_epoch(rng):
    x, y = _data(rng)
    batches = []
    callbacks = [LambdaCallback(on_train_batch_end=lambda batch, logs: batches.append(batch)),
                 LambdaCallback(on_epoch_end=lambda epoch, logs: setattr(model, "stop_training", True))]
    model = _linear()
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=callbacks)
    assert history.epoch == [0] and batches == [0, 1, 2]


# -- params and monitors that no epoch can log ----------------------------------------------
class _Params(Callback):
    logs_added = ()

    def on_train_begin(self, logs=None):
        self.seen = dict(self.params)


def _classifier():
    model = gn.Sequential([Dense(2, activation="softmax", input_dim=3)], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    return model


def test_params_name_the_logged_keys_before_training(rng):
    x, labels = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)
    seen = _Params()
    _classifier().fit(x, labels, epochs=1, verbose=0, validation_split=0.2,
                      callbacks=[seen, LearningRateScheduler(lambda epoch: 0.1)])
    assert seen.seen["metrics"] == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert seen.seen["log_keys"] == ["accuracy", "learning_rate", "loss", "val_accuracy", "val_loss"]
    _classifier().fit(x, labels, epochs=1, verbose=2, callbacks=[seen])      # ProgressBar adds nothing
    assert seen.seen["metrics"] == ["loss", "accuracy"] and seen.seen["log_keys"] == ["accuracy", "loss"]
    # a callback of the user's that may add keys of its own: nothing is certain before the logs
    _classifier().fit(x, labels, epochs=1, verbose=0,
                      callbacks=[seen, LambdaCallback(on_epoch_end=lambda epoch, logs: None)])
    assert seen.seen["metrics"] == ["loss", "accuracy"] and seen.seen["log_keys"] is None


def _refused_before_training(model, x, y, callbacks, match, **fit):
    """fit raises ``match`` before any epoch begins and before any weight changes."""
    before = [w.copy() for w in model.get_weights()]
    epochs = []
    watch = LambdaCallback(on_epoch_begin=lambda epoch, logs: epochs.append(epoch))
    with pytest.raises(ValueError, match=match):
        model.fit(x, y, epochs=3, verbose=0, callbacks=[*callbacks, watch], **fit)
    assert epochs == []
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))


NO_VALIDATION = "this fit has no validation data: pass fit validation_data or validation_split"


@pytest.mark.parametrize("make", [lambda path: EarlyStopping(monitor="val_loss"),
                                  lambda path: ReduceLROnPlateau(monitor="val_loss"),
                                  lambda path: ModelCheckpoint(path, save_best_only=True)])
def test_a_val_monitor_without_validation_data_is_refused_before_training(make, rng, tmp_path):
    x, y = _data(rng)
    callback = make(tmp_path / "m.npz")
    name = type(callback).__name__
    _refused_before_training(_linear(), x, y, [callback],
                             rf"{name}: monitor 'val_loss' is not among the logged values \[.*'loss'\]; "
                             + NO_VALIDATION)
    assert not os.listdir(tmp_path)


def test_a_misspelt_monitor_is_refused_before_training(rng):
    x, labels = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)
    _refused_before_training(_classifier(), x, labels, [ReduceLROnPlateau(monitor="val_acc")],
                             r"ReduceLROnPlateau: monitor 'val_acc' is not among the logged values "
                             r"\['accuracy', 'learning_rate', 'loss', 'val_accuracy', 'val_loss'\]$",
                             validation_split=0.2)


@pytest.mark.parametrize("template,settings,match", [
    ("m-{val_loss:.2f}.npz", {}, r"names 'val_loss', which is not among the logged values "
                                 r"\['epoch', 'loss'\]; " + NO_VALIDATION),
    ("m-{epoch}-{loss:d}.npz", {}, r"has a format, '\{loss:d\}', that does not fit its value"),
    # a batch's logs hold no "val_" values, validation data or not
    ("m-{batch}-{val_loss}.npz", dict(save_freq=2, validation_split=0.2), r"names 'val_loss'"),
    ("m.npz", dict(save_freq=2, save_best_only=True, validation_split=0.2),
     r"monitor 'val_loss' is not among the logged values \['loss'\]$"),
])
def test_checkpoint_fields_that_no_log_holds_are_refused_before_training(template, settings, match,
                                                                         rng, tmp_path):
    x, y = _data(rng)
    fit = {key: settings.pop(key) for key in ("validation_split",) if key in settings}
    _refused_before_training(_linear(), x, y, [ModelCheckpoint(tmp_path / template, **settings)],
                             "ModelCheckpoint: .*" + match, **fit)
    assert not os.listdir(tmp_path)


class _ValF1(Callback):
    """A user's own validation metric, added to the logs: no fit validation data needed."""

    def on_epoch_end(self, epoch, logs=None):
        logs["val_f1"] = [0.5, 0.6, 0.6, 0.6][epoch]


def test_keys_other_callbacks_add_are_not_refused_early(rng, tmp_path):
    x, y = _data(rng)
    stopper = EarlyStopping(monitor="val_f1", mode="max", patience=1)
    history = _linear().fit(x, y, epochs=4, verbose=0, callbacks=[_ValF1(), stopper])
    assert history.epoch == [0, 1, 2] and stopper.stopped_epoch == 2
    # "learning_rate" comes from a glassnet callback that declares it
    ckpt = ModelCheckpoint(tmp_path / "m-{learning_rate}.npz")
    _linear().fit(x, y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e: 0.25), ckpt])
    assert os.listdir(tmp_path) == ["m-0.25.npz"]


def test_a_subclass_that_overrides_a_hook_is_not_trusted_with_its_parents_declaration(rng):
    class StopperWithF1(EarlyStopping):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_f1"] = 0.5
            super().on_epoch_end(epoch, logs)

    x, y = _data(rng)
    history = _linear().fit(x, y, epochs=2, verbose=0, callbacks=[StopperWithF1(monitor="val_f1")])
    assert history.history["val_f1"] == [0.5, 0.5]


def test_when_nothing_is_certain_the_error_comes_with_the_logs(rng):
    x, y = _data(rng)
    ends = []
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: ends.append(epoch))
    with pytest.raises(ValueError, match="EarlyStopping: monitor 'val_loss' is not among the logged "
                                         r"values \['loss'\]; " + NO_VALIDATION):
        _linear().fit(x, y, epochs=3, verbose=0, callbacks=[record, EarlyStopping()])
    assert ends == [0]


def test_fit_says_to_pass_a_single_callback_in_a_list(rng):
    x, y = _data(rng)
    with pytest.raises(TypeError, match=r"callbacks: expected a list of glassnet Callback objects, got a "
                                        r"single EarlyStopping; pass it in a list: "
                                        r"callbacks=\[EarlyStopping\(...\)\]"):
        _linear().fit(x, y, epochs=1, verbose=0, callbacks=EarlyStopping(monitor="loss"))


# -- verbose and Keras' other arguments -----------------------------------------------------
@pytest.mark.parametrize("make", [lambda **kw: EarlyStopping(**kw), lambda **kw: ReduceLROnPlateau(**kw),
                                  lambda **kw: ModelCheckpoint("m.npz", **kw),
                                  lambda **kw: LearningRateScheduler(_halving, **kw)])
def test_verbose_takes_0_or_1(make):
    assert make(verbose=np.int64(1)).verbose == 1 and make().verbose == 0
    for bad in (2, -1, True, "1", None, 0.5):
        with pytest.raises(ValueError, match=r"verbose must be 0 \(silent\) or 1"):
            make(verbose=bad)


def test_checkpoint_with_save_weights_only_writes_weights_files(tmp_path, rng):
    x, y = rng.standard_normal((12, 2)), rng.standard_normal((12, 1))

    class Halved(gn.losses.MeanSquaredError):       # a custom loss: a full save refuses it
        def __call__(self, y_pred, y_true):
            return super().__call__(y_pred, y_true) / 2

    model = gn.Sequential([Dense(3, activation="tanh", input_dim=2), Dense(1)], seed=0)
    model.compile(loss=Halved(), optimizer="adam")
    path = tmp_path / "w-{epoch}.npz"
    with pytest.raises(ValueError, match="save_model: loss"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(str(path))])
    model.fit(x, y, epochs=2, verbose=0, callbacks=[ModelCheckpoint(str(path), save_weights_only=True)])
    other = gn.Sequential([Dense(3, activation="tanh", input_dim=2), Dense(1)], seed=5)
    other.load_weights(tmp_path / "w-2.npz")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    loaded = gn.load_model(tmp_path / "w-2.npz")
    assert loaded.loss is None and loaded.optimizer is None and loaded.initial_epoch == 2
    with pytest.raises(TypeError, match="ModelCheckpoint: save_weights_only: expected True or False, got 'yes'"):
        ModelCheckpoint("m.npz", save_weights_only="yes")


CHECKPOINT_SCRIPT = [1.0, 2.0, 0.5, 0.5, 0.25]


def _replay_checkpoint(callback, model, values):
    callback.set_model(model)
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {"loss": value, "val_loss": value})


def test_checkpoint_verbose_lines(tmp_path, capsys):
    path = str(tmp_path / "m.npz")
    ckpt = ModelCheckpoint(path, save_best_only=True, verbose=1)
    _replay_checkpoint(ckpt, _linear(), CHECKPOINT_SCRIPT[:3])
    assert capsys.readouterr().out.splitlines() == [
        f"Epoch 1: val_loss improved from None to 1.00000, saving model to {path}",
        f"Epoch 1: finished saving model to {path}",
        "Epoch 2: val_loss did not improve from 1.00000",
        f"Epoch 3: val_loss improved from 1.00000 to 0.50000, saving model to {path}",
        f"Epoch 3: finished saving model to {path}"]
    _replay_checkpoint(ModelCheckpoint(path, verbose=1), _linear(), [1.0])
    assert capsys.readouterr().out.splitlines() == [f"Epoch 1: saving model to {path}",
                                                     f"Epoch 1: finished saving model to {path}"]


@pytest.mark.parametrize("save_best_only", [True, False])
@pytest.mark.filterwarnings("ignore::DeprecationWarning")      # Keras' own, from NumPy 2
def test_checkpoint_verbose_lines_match_keras(save_best_only, tmp_path, capsys):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    path = str(tmp_path / "m.keras")           # Keras insists on the extension; glassnet takes it
    _replay_checkpoint(ModelCheckpoint(path, save_best_only=save_best_only, verbose=1), _linear(),
                       CHECKPOINT_SCRIPT)
    ours = capsys.readouterr().out
    stub = types.SimpleNamespace(save=lambda filepath, overwrite: None)
    _replay_checkpoint(keras.callbacks.ModelCheckpoint(path, save_best_only=save_best_only, mode="min",
                                                       verbose=1), stub, CHECKPOINT_SCRIPT)
    # Keras starts every line with a newline, to step off its progress bar
    assert ours.splitlines() == [line for line in capsys.readouterr().out.splitlines() if line]


def test_flags_given_as_strings_are_refused_not_read_as_true():
    # "False" is a non-empty string, so True to Python: it would restore weights or save only the best
    with pytest.raises(TypeError, match=r"^EarlyStopping: restore_best_weights: expected True or False, got 'False'"):
        gn.callbacks.EarlyStopping(restore_best_weights="False")
    with pytest.raises(TypeError, match=r"^ModelCheckpoint: save_best_only: expected True or False, got 'False'"):
        gn.callbacks.ModelCheckpoint("m.npz", save_best_only="False")
    assert gn.callbacks.EarlyStopping(restore_best_weights=np.bool_(True)).restore_best_weights is True


def test_return_dict_must_be_a_flag(rng):
    model = gn.Sequential([gn.layers.Dense(1, input_dim=2)], seed=0)
    model.compile("mse")
    x, y = rng.standard_normal((4, 2)), rng.standard_normal(4)
    weights = model.get_weights()
    for call in (model.evaluate, model.train_on_batch, model.test_on_batch):
        with pytest.raises(TypeError, match=r"^return_dict: expected True or False, got 'no'"):
            call(x, y, return_dict="no")
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))    # refused before the step


def test_csv_logger_writes_what_keras_writes(tmp_path):
    # Keras 3.15's CSVLogger given these epochs' logs wrote exactly these bytes (keys of the first
    # epoch, sorted; "NA" for a value an epoch lacks; epochs from 0; "\r\n")
    path = tmp_path / "log.csv"
    logger = gn.callbacks.CSVLogger(path)
    logger.on_train_begin()
    assert path.read_bytes() == b""                     # created as training begins
    logger.on_epoch_end(0, {"loss": 0.5, "accuracy": 0.25, "val_loss": 0.75})
    assert path.read_bytes() == b"epoch,accuracy,loss,val_loss\r\n0,0.25,0.5,0.75\r\n"   # whole after each epoch
    logger.on_epoch_end(1, {"loss": 0.1, "val_loss": 0.3})
    logger.on_train_end()
    assert path.read_bytes() == b"epoch,accuracy,loss,val_loss\r\n0,0.25,0.5,0.75\r\n1,NA,0.1,0.3\r\n"
    # without any "val_" value in the first epoch, Keras makes room for one of each
    logger = gn.callbacks.CSVLogger(path)
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 0.5, "learning_rate": 0.01})
    assert path.read_bytes() == (b"epoch,learning_rate,loss,val_learning_rate,val_loss\r\n"
                                 b"0,0.01,0.5,NA,NA\r\n")


def test_csv_logger_in_fit_and_appending_a_resumed_run(tmp_path, rng):
    x, y = rng.standard_normal((20, 2)), rng.integers(0, 2, 20)
    model = gn.Sequential([gn.layers.Dense(1, activation="sigmoid", input_dim=2)], seed=0)
    model.compile(loss="binary_crossentropy", optimizer="sgd", metrics=["accuracy"])
    path = tmp_path / "log.csv"
    path.write_text("old contents\n")
    history = model.fit(x, y, epochs=2, validation_data=(x, y), verbose=0, callbacks=[gn.CSVLogger(path)])
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]      # overwritten
    assert [float(v) for v in rows[2][1:]] == [history.history[k][1] for k in rows[0][1:]]   # full precision
    more = model.fit(x, y, epochs=4, initial_epoch=2, validation_data=(x, y), verbose=0,
                     callbacks=[gn.CSVLogger(path, separator=";", append=True)])
    lines = path.read_text().splitlines()
    assert len(lines) == 5 and lines[3].startswith("2;") and lines[4].startswith("3;")   # no second header
    assert float(lines[4].split(";")[2]) == more.history["loss"][-1]
    # a first run without validation leaves room for the resumed run's: every row fits the header
    path.unlink()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[gn.CSVLogger(path)])
    model.fit(x, y, epochs=2, initial_epoch=1, validation_data=(x, y), verbose=0,
              callbacks=[gn.CSVLogger(path, append=True)])
    rows = list(csv.reader(path.open(newline="")))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"] and rows[1][3:] == ["NA", "NA"]
    assert len(rows) == 3 and all(len(row) == 5 for row in rows)
    with pytest.raises(FileNotFoundError):              # before the first epoch is spent, as Keras
        model.fit(x, y, epochs=1, verbose=0, callbacks=[gn.CSVLogger(tmp_path / "missing" / "log.csv")])


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(filename=3), TypeError, "CSVLogger: filename must be a str or os.PathLike, got int"),
    (dict(filename="a.csv", separator=",,"), ValueError, "CSVLogger: separator must be one character"),
    (dict(filename="a.csv", separator='"'), ValueError, "CSVLogger: separator must be one character"),
    (dict(filename="a.csv", append="yes"), TypeError, "CSVLogger: append: expected True or False, got 'yes'"),
])
def test_csv_logger_refuses(kwargs, error, message):
    with pytest.raises(error, match=message):
        gn.callbacks.CSVLogger(**kwargs)


def test_checkpoint_filepath_must_be_a_path():
    with pytest.raises(TypeError, match=r"^ModelCheckpoint: filepath must be a str or os.PathLike, got int$"):
        ModelCheckpoint(3)


def test_batch_hooks_written_keras_style_with_keyword_logs_run(rng):
    # Keras hands batch hooks their logs by keyword, so a Keras callback may take them as **kwargs;
    # glassnet's own callbacks (and *args ones) get them by position, as before
    seen = []

    class KerasStyle(gn.callbacks.Callback):
        def on_train_batch_end(self, batch, **kwargs):
            seen.append(("keyword", batch, sorted(kwargs["logs"])))

        def on_test_batch_begin(self, batch, **kwargs):
            seen.append(("test", batch, kwargs["logs"]))

    class Positional(gn.callbacks.Callback):
        def on_train_batch_begin(self, *args):
            seen.append(("positional", *args))

    x, y = _data(rng)
    _linear().fit(x[:8], y[:8], batch_size=4, epochs=1, verbose=0, validation_data=(x[:4], y[:4]),
                  callbacks=[KerasStyle(), Positional(), LambdaCallback(on_train_batch_end=lambda b, l: seen.append(b))])
    assert seen == [("positional", 0, {}), ("keyword", 0, ["loss"]), 0, ("positional", 1, {}),
                    ("keyword", 1, ["loss"]), 1, ("test", 0, {})]
