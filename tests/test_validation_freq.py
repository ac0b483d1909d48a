"""fit(validation_freq=...): validation after every few epochs, or after listed ones, as Keras; the
History, the learning-curve plot and the monitoring callbacks on the epochs it skips."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks import CSVLogger, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from glassnet.layers import Dense

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _data(rng, n=48):
    X = rng.standard_normal((n, 3)).astype(np.float32)
    y = (X @ np.array([[1.0], [-2.0], [0.5]], np.float32) > 0).astype(np.float32)
    return X, y


def _model(lr=0.1):
    model = gn.Sequential([Dense(4, activation="tanh", input_dim=3), Dense(1, activation="sigmoid")], seed=0)
    model.compile("binary_crossentropy", gn.optimizers.SGD(lr), metrics=["accuracy"])
    return model


@pytest.mark.parametrize("freq, validated", [(1, [0, 1, 2, 3, 4, 5]), (2, [1, 3, 5]), (4, [3]),
                                             ([1, 3, 9], [0, 2]), ((6,), [5])])
def test_validates_after_the_epochs_keras_does(freq, validated, rng):
    X, y = _data(rng)
    model = _model()
    history = model.fit(X[:32], y[:32], epochs=6, batch_size=8, validation_data=(X[32:], y[32:]),
                        validation_freq=freq, verbose=0)
    assert history.validation_epoch == validated
    assert len(history.history["loss"]) == 6
    assert len(history.history["val_loss"]) == len(history.history["val_accuracy"]) == len(validated)
    # each value is the model's at the end of its epoch: the last one is the final model's
    if validated[-1] == 5:
        loss, accuracy = model.evaluate(X[32:], y[32:], verbose=0)
        assert history.history["val_loss"][-1] == pytest.approx(loss, rel=1e-6)


def test_history_matches_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    X, y = _data(rng)
    ours = _model()
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                               keras.layers.Dense(1, activation="sigmoid")])
    theirs.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.1), metrics=["accuracy"])
    theirs.set_weights(ours.get_weights())
    kwargs = dict(epochs=5, batch_size=8, validation_data=(X[32:], y[32:]), validation_freq=2, verbose=0,
                  shuffle=False)
    mine = ours.fit(X[:32], y[:32], **kwargs).history
    keras_history = theirs.fit(X[:32], y[:32], **kwargs).history
    assert sorted(mine) == sorted(keras_history)
    for key in mine:
        assert len(mine[key]) == len(keras_history[key]), key
        np.testing.assert_allclose(mine[key], keras_history[key], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2", [], [0, 2], [1, 2.0], None])
def test_bad_frequencies_are_refused(bad, rng):
    X, y = _data(rng)
    with pytest.raises(ValueError, match="validation_freq: expected a positive integer or a non-empty list"):
        _model().fit(X, y, validation_freq=bad, validation_split=0.25, verbose=0)


def test_without_validation_data_the_frequency_changes_nothing(rng):
    X, y = _data(rng)
    history = _model().fit(X, y, epochs=3, validation_freq=2, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss"] and history.validation_epoch == []


def _drive(callback, values, freq=2, params_metrics=("loss", "val_loss")):
    """Hand ``callback`` the epoch logs ``values`` (None: an epoch fit did not validate)."""
    model = _model()
    callback.set_model(model)
    callback.set_params({"epochs": len(values), "metrics": list(params_metrics), "validation_freq": freq})
    callback.on_train_begin({})
    for epoch, value in enumerate(values):
        logs = {"loss": 1.0} if value is None else {"loss": 1.0, "val_loss": value}
        callback.on_epoch_end(epoch, logs)
        if model.stop_training:
            return epoch
    return None


def test_early_stopping_counts_validated_epochs_only():
    # patience 2: two validated epochs without improvement, whatever the unvalidated ones between
    assert _drive(EarlyStopping(patience=2), [None, 1.0, None, 1.1, None, 1.2, None, 0.5]) == 5
    assert _drive(EarlyStopping(patience=2), [None, 1.0, None, 0.9, None, 1.2, None, 1.3]) == 7


def test_a_missing_monitor_is_still_an_error_when_every_epoch_validates():
    with pytest.raises(ValueError, match="monitor 'val_loss' is not among the logged values"):
        _drive(EarlyStopping(), [None], freq=1)


def test_reduce_lr_on_plateau_skips_unvalidated_epochs():
    callback = ReduceLROnPlateau(patience=1, factor=0.5)
    _drive(callback, [None, 1.0, None, 1.1, None])
    assert callback.model.optimizer.learning_rate == pytest.approx(0.05)    # one reduction, not three


def test_checkpoint_keeps_the_best_of_the_validated_epochs(rng, tmp_path):
    X, y = _data(rng)
    path = tmp_path / "best.npz"
    model = _model(lr=0.5)
    saved = []

    class Spy(ModelCheckpoint):
        def _save(self, epoch, logs, completed, batch=None):
            before = self.best
            super()._save(epoch, logs, completed, batch)
            if self.best != before:
                saved.append(epoch)

    history = model.fit(X[:32], y[:32], epochs=6, batch_size=8, validation_data=(X[32:], y[32:]),
                        validation_freq=3, verbose=0, callbacks=[Spy(str(path), save_best_only=True)])
    assert history.validation_epoch == [2, 5] and set(saved) <= {2, 5} and saved[0] == 2
    best = min(history.history["val_loss"])
    assert gn.load_model(path).evaluate(X[32:], y[32:], verbose=0)[0] == pytest.approx(best, rel=1e-6)


def test_checkpoint_refuses_a_filepath_that_unvalidated_epochs_cannot_fill(rng, tmp_path):
    X, y = _data(rng)
    checkpoint = ModelCheckpoint(str(tmp_path / "m-{epoch}-{val_loss:.3f}.npz"))
    with pytest.raises(ValueError, match=r"names a validation value, which the epochs fit does not validate "
                                         r"\(validation_freq=2\) do not log"):
        _model().fit(X, y, epochs=2, validation_split=0.25, validation_freq=2, verbose=0, callbacks=[checkpoint])
    # the same path on every epoch's validation, or when only validated epochs can save, is fine
    _model().fit(X, y, epochs=2, validation_split=0.25, verbose=0, callbacks=[checkpoint])
    best = ModelCheckpoint(str(tmp_path / "b-{val_loss:.3f}.npz"), save_best_only=True)
    _model().fit(X, y, epochs=2, validation_split=0.25, validation_freq=2, verbose=0, callbacks=[best])
    assert len(list(tmp_path.glob("b-*.npz"))) == 1


def test_csv_logger_writes_na_for_unvalidated_epochs(rng, tmp_path):
    X, y = _data(rng)
    _model().fit(X, y, epochs=3, validation_split=0.25, validation_freq=2, verbose=0,
                 callbacks=[CSVLogger(str(tmp_path / "log.csv"))])
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert rows[0] == "epoch,accuracy,loss,val_accuracy,val_loss"
    assert rows[1].endswith(",NA,NA") and not rows[2].endswith("NA") and rows[3].endswith(",NA,NA")


def test_learning_curve_draws_validation_where_it_was_measured(rng):
    pytest.importorskip("matplotlib")
    from glassnet import plot
    X, y = _data(rng)
    history = _model().fit(X, y, epochs=6, validation_split=0.25, validation_freq=3, verbose=0,
                           initial_epoch=0)
    fig = plot.learning_curve(history)
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    np.testing.assert_array_equal(lines["validation"].get_xdata(), [3, 6])
    np.testing.assert_array_equal(lines["train"].get_xdata(), [1, 2, 3, 4, 5, 6])
    with pytest.raises(ValueError, match="'val_loss' has 2 values for 6 epochs of 'loss'.*pass the History"):
        plot.learning_curve(history.history)


def test_epochs_count_from_the_start_of_training_as_keras_with_initial_epoch(rng):
    X, y = _data(rng)
    history = _model().fit(X, y, epochs=7, initial_epoch=3, validation_split=0.25, validation_freq=2, verbose=0)
    assert history.epoch == [3, 4, 5, 6] and history.validation_epoch == [3, 5]      # epochs 4 and 6
    history = _model().fit(X, y, epochs=7, initial_epoch=3, validation_split=0.25, validation_freq=[2, 5, 7],
                           verbose=0)
    assert history.validation_epoch == [4, 6]


def test_a_misspelt_val_monitor_is_still_an_error_on_a_validated_epoch():
    assert _drive(EarlyStopping(monitor="val_los"), [None]) is None          # skipped: nothing to say yet
    with pytest.raises(ValueError, match="monitor 'val_los' is not among the logged values"):
        _drive(EarlyStopping(monitor="val_los"), [None, 1.0])


def test_without_validation_data_a_val_monitor_is_still_an_error():
    with pytest.raises(ValueError, match="monitor 'val_loss' is not among the logged values"):
        _drive(EarlyStopping(), [None], params_metrics=("loss",))


def test_validation_that_never_happens_warns(rng):
    X, y = _data(rng)
    with pytest.warns(UserWarning, match=r"validation_freq=5 validates after none of epochs 1 to 3"):
        _model().fit(X, y, epochs=3, validation_split=0.25, validation_freq=5, verbose=0)


def test_a_list_covering_every_epoch_is_every_epoch(rng, tmp_path):
    X, y = _data(rng)
    checkpoint = ModelCheckpoint(str(tmp_path / "e{epoch}-{val_loss:.2f}.npz"))
    _model().fit(X, y, epochs=2, validation_split=0.25, validation_freq=[1, 2], verbose=0, callbacks=[checkpoint])
    assert len(list(tmp_path.glob("e*.npz"))) == 2


def test_a_checkpoint_of_the_best_training_loss_cannot_name_validation_values(rng, tmp_path):
    X, y = _data(rng)
    checkpoint = ModelCheckpoint(str(tmp_path / "{val_loss:.2f}.npz"), monitor="loss", save_best_only=True)
    with pytest.raises(ValueError, match="names a validation value"):
        _model().fit(X, y, epochs=2, validation_split=0.25, validation_freq=2, verbose=0, callbacks=[checkpoint])


def test_a_resumed_csv_log_keeps_its_columns(rng, tmp_path):
    X, y = _data(rng)
    path = str(tmp_path / "log.csv")
    model = _model()
    # the first run logs the rate before the CSV sees its logs; the resumed one does not
    with pytest.warns(UserWarning, match="validates after none of epochs 1 to 1"):
        model.fit(X, y, epochs=1, validation_split=0.25, validation_freq=2, verbose=0,
                  callbacks=[ReduceLROnPlateau(monitor="loss"), CSVLogger(path)])
    model.fit(X, y, epochs=2, initial_epoch=1, validation_split=0.25, validation_freq=2, verbose=0,
              callbacks=[CSVLogger(path, append=True)])
    header, first, second = (line.split(",") for line in open(path).read().splitlines())
    assert header == ["epoch", "accuracy", "learning_rate", "loss", "val_accuracy", "val_learning_rate",
                      "val_loss"]
    assert first[-3:] == ["NA", "NA", "NA"] and second[2] == second[-2] == "NA" and second[-1] != "NA"
    assert float(second[-1]) == pytest.approx(model.history.history["val_loss"][-1])


def test_a_panel_of_one_validated_epoch_has_one_tick_there(rng):
    pytest.importorskip("matplotlib")
    from glassnet import plot
    X, y = _data(rng)
    history = _model().fit(X, y, epochs=3, validation_split=0.25, validation_freq=3, verbose=0)
    fig = plot.learning_curve(history, metrics=["val_accuracy"])
    assert list(fig.axes[1].get_xticks()) == [3]
