"""The Keras 3 FAQ (keras.io/getting_started/faq/) ported to glassnet (review faqport).

Each answer's code was run in Keras 3.15 and in glassnet; these tests keep what differed."""
import numpy as np
import pytest

import glassnet as gn


# -- "How can I interrupt training when the validation loss isn't decreasing anymore?" ----------
# Keras' callbacks take their arguments in Keras' order; given by position, glassnet read
# EarlyStopping("val_loss", 0, 3) (Keras: min_delta=0, patience=3) as patience=0, min_delta=3.0,
# silently stopping at the first epoch without an improvement of 3, and refused Keras' positional
# ReduceLROnPlateau and ModelCheckpoint calls.

def test_early_stopping_takes_keras_positional_order():
    stopper = gn.callbacks.EarlyStopping("val_loss", 0.001, 3, 1, "min", 0.5, True, 2)
    assert (stopper.min_delta, stopper.patience, stopper.verbose, stopper.mode) == (0.001, 3, 1, "min")
    assert (stopper.baseline, stopper.restore_best_weights, stopper.start_from_epoch) == (0.5, True, 2)
    stopper = gn.callbacks.EarlyStopping("val_loss", 0, 3)
    assert (stopper.min_delta, stopper.patience) == (0.0, 3)


def test_early_stopping_by_position_trains_as_long_as_keras():
    # val_loss falls by less than 3 an epoch: Keras' EarlyStopping("val_loss", 0, 3) never stops
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]])
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(0.01))
    history = model.fit(x, y, epochs=6, validation_split=0.25, verbose=0,
                        callbacks=[gn.callbacks.EarlyStopping("val_loss", 0, 3)])
    assert len(history.history["loss"]) == 6


def test_reduce_lr_on_plateau_takes_keras_positional_order():
    reduce = gn.callbacks.ReduceLROnPlateau("val_loss", 0.5, 3, 1, "min", 0.01, 2, 1e-5)
    assert (reduce.factor, reduce.patience, reduce.verbose, reduce.mode) == (0.5, 3, 1, "min")
    assert (reduce.min_delta, reduce.cooldown, reduce.min_lr) == (0.01, 2, 1e-5)


def test_model_checkpoint_takes_keras_positional_order(tmp_path):
    path = str(tmp_path / "best.keras")
    checkpoint = gn.callbacks.ModelCheckpoint(path, "val_loss", 1, True, True, "min", "epoch", 0.7)
    assert (checkpoint.verbose, checkpoint.save_best_only, checkpoint.save_weights_only) == (1, True, True)
    assert (checkpoint.mode, checkpoint.save_freq, checkpoint.best) == ("min", "epoch", 0.7)


# -- "What are my options for saving models?" ----------------------------------------------------
# keras.saving.load_model(filepath, custom_objects=None, compile=True, safe_mode=True): glassnet's
# load_model refused safe_mode with Python's "unexpected keyword argument".

def test_load_model_takes_keras_safe_mode(tmp_path):
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(2)], seed=0)
    model.compile(loss="mse", optimizer="adam")
    path = str(tmp_path / "my_model.keras")
    model.save(path)
    x = np.ones((4, 3), "float32")
    for safe_mode in (True, False):
        loaded = gn.models.load_model(path, safe_mode=safe_mode)
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert gn.saving.load_model(path, compile=False, safe_mode=True).optimizer is None
    with pytest.raises(TypeError, match="safe_mode"):
        gn.load_model(path, safe_mode="no")
