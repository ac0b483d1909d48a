"""Callbacks against Keras 3.15's semantics (review cbrev)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks import History, LambdaCallback


def _model():
    model = gn.Sequential([gn.layers.Dense(1, input_dim=3)], seed=0)
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=0.01))
    X = np.random.default_rng(0).normal(size=(8, 3))
    return model, X, X[:, :1]


def test_lambda_callback_hook_none_is_a_no_op_as_in_keras():
    # Keras' LambdaCallback(on_epoch_begin=None, ...) leaves that hook alone; glassnet set None
    # as the hook and fit failed with "'NoneType' object is not callable"
    model, X, y = _model()
    ends = []
    callback = LambdaCallback(on_epoch_begin=None, on_train_batch_end=None,
                              on_epoch_end=lambda epoch, logs: ends.append(epoch))
    model.fit(X, y, epochs=2, verbose=0, callbacks=[callback])
    assert ends == [0, 1]


def test_lambda_callback_refuses_a_hook_that_is_not_callable():
    with pytest.raises(TypeError, match="on_epoch_end must be a function"):
        LambdaCallback(on_epoch_end=3)


def test_a_history_given_in_callbacks_is_the_one_fit_returns():
    # Keras: a History among the callbacks is fit's (returned, model.history); no second one is added
    model, X, y = _model()
    history = History()
    returned = model.fit(X, y, epochs=2, verbose=0, callbacks=[history])
    assert returned is history and model.history is history
    assert history.epoch == [0, 1] and len(history.history["loss"]) == 2


def test_reduce_lr_on_plateau_first_epoch_improves_whatever_its_value():
    # Keras' best starts as None: an infinite first val_loss is the best so far, not an epoch
    # without improvement (glassnet's best started at inf, and patience=1 reduced after epoch 0)
    model, X, y = _model()
    reduce = gn.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=1, factor=0.5)
    reduce.set_model(model)
    reduce.set_params({})
    reduce.on_train_begin({})
    rates = []
    for epoch in range(3):
        reduce.on_epoch_end(epoch, {"val_loss": np.inf})
        rates.append(float(model.optimizer.learning_rate))
    assert rates == pytest.approx([0.01, 0.005, 0.0025])    # Keras 3.15's, driven alike


def _reused_history_run(lib, model, X, y):
    """Three fits sharing one History, a spy before it in the list: what each fit leaves in the
    History, and what the spy's on_train_begin finds as ``self.model.history``."""
    history = lib.callbacks.History()
    seen = []

    class Spy(lib.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(self.model.history is history)

    runs = []
    for epochs, initial_epoch in ((2, 0), (3, 0), (4, 2)):
        returned = model.fit(X, y, epochs=epochs, initial_epoch=initial_epoch, verbose=0,
                             callbacks=[Spy(), history])
        runs.append((returned is history, model.history is history, list(history.epoch),
                     {key: len(values) for key, values in history.history.items()}))
    return runs, seen


def test_a_history_reused_across_fits_lists_each_fits_epochs_as_keras(keras):
    # Keras 3.15: History.on_train_begin resets .epoch, not .history; model.history is set (by
    # CallbackList.set_model) before any on_train_begin. glassnet kept counting epochs across fits
    # ([0, 1, 0, 1, 2]) and set model.history only after on_train_begin
    model, X, y = _model()
    ours = _reused_history_run(gn, model, X, y)
    theirs_model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    theirs_model.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=0.01))
    theirs = _reused_history_run(keras, theirs_model, X.astype("float32"), y.astype("float32"))
    assert ours == theirs
    assert ours[0] == [(True, True, [0, 1], {"loss": 2}), (True, True, [0, 1, 2], {"loss": 5}),
                       (True, True, [2, 3], {"loss": 7})]
    assert ours[1] == [True, True, True]


def test_a_history_reused_with_validation_freq_restarts_its_validated_epochs(rng):
    model, X, y = _model()
    history = History()
    model.fit(X, y, epochs=4, validation_split=0.25, validation_freq=2, verbose=0, callbacks=[history])
    model.fit(X, y, epochs=2, validation_split=0.25, validation_freq=2, verbose=0, callbacks=[history])
    assert history.epoch == [0, 1] and history.validation_epoch == [1]
    assert len(history.history["loss"]) == 6 and len(history.history["val_loss"]) == 3
    # plot.learning_curve cannot place the first fit's validation values: it says so
    pytest.importorskip("matplotlib")
    from glassnet import plot
    with pytest.raises(ValueError, match="'val_loss' has 3 values, measured over several fits"):
        plot.learning_curve(history)
