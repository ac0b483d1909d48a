"""LearningRateScheduler, ReduceLROnPlateau and EarlyStopping: steps against a hand computation,
scripted logs worked by hand and replayed through Keras' own callback, end-to-end fits, save/load, bad
arguments; Keras' alias batch hooks of Callback."""
import math
import types
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks import (Callback, CallbackList, EarlyStopping, LambdaCallback,
                                LearningRateScheduler, ReduceLROnPlateau)
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
    assert len(history.epoch) == 2 and stopper.stopped_epoch is None    # state reset by the new fit


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
@pytest.mark.filterwarnings("ignore::DeprecationWarning")      # Keras' own, from NumPy 2
def test_early_stopping_matches_keras(patience, min_delta, baseline):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    # NaN never improves, but a first epoch does, even at NaN: then no later epoch can beat it
    nans = ([1.0, math.nan, 0.9, 0.95, math.nan, 1.0, 1.0, 1.0], [math.nan, 1.0, 0.5, 0.25, 1.0, 1.0])
    for values in (RISE, HALVING, DESCENT, ABOVE, *nans):
        # min mode on the values, max mode on their negatives: the same decisions either way
        for monitor, mode, sign in (("val_loss", "min", 1), ("val_accuracy", "max", -1)):
            settings = dict(monitor=monitor, mode=mode, patience=patience, min_delta=min_delta,
                            baseline=None if baseline is None else sign * baseline,
                            restore_best_weights=True)
            signed = [sign * v for v in values]
            ours = _replay_stopping(EarlyStopping(**settings), signed, monitor)
            theirs = _replay_stopping(keras.callbacks.EarlyStopping(**settings), signed, monitor)
            assert ours == pytest.approx(theirs, nan_ok=True), (values, mode)


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
])
def test_early_stopping_refuses_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=f"EarlyStopping: {match}"):
        EarlyStopping(**kwargs)


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
