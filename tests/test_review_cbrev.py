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
