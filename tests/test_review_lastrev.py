"""Review of the last merges (a Sequential's dict output, Keras ports round 2, learning_rate=0)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import optimizers


def _fit(optimizer, callbacks=(), epochs=2):
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(2)], seed=0)
    model.compile(loss="mse", optimizer=optimizer)
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32), epochs=epochs, verbose=0,
                        callbacks=list(callbacks))
    return model, before, history


def test_ftrl_refuses_a_learning_rate_of_zero_by_name():
    # its update divides by the rate: a bare ZeroDivisionError at the first step before (Keras'
    # weights turn NaN); a schedule reaching 0 was already refused by name
    with pytest.raises(ValueError, match=r"^Ftrl: learning_rate must be a finite number > 0, got 0"):
        optimizers.Ftrl(learning_rate=0.0)
    opt = optimizers.Ftrl(learning_rate=0.1)
    with pytest.raises(ValueError, match=r"^Ftrl: learning_rate must be a finite number > 0"):
        opt.learning_rate = 0
    with pytest.raises(ValueError, match=r"^Ftrl: learning_rate must be a finite number > 0"):
        optimizers.Ftrl.from_config({**opt.get_config(), "learning_rate": 0.0})
    assert optimizers.SGD(learning_rate=0.0).learning_rate == 0.0      # the others take it


def test_learning_rate_scheduler_takes_a_rate_of_zero_as_keras_does():
    # Keras 3.15's LearningRateScheduler sets 0 (a warm-up from 0), and optimizers take it now
    warmup = gn.callbacks.LearningRateScheduler(lambda epoch: 0.1 * epoch)
    model, before, history = _fit(optimizers.SGD(0.1), [warmup], epochs=2)
    assert history.history["learning_rate"] == [0.0, 0.1]
    assert history.history["loss"][1] == history.history["loss"][0]      # epoch 0 took no step
    # an optimizer of rate 0 kept at 0 (halved): no step, and no error
    model, before, history = _fit(optimizers.SGD(0.0), [gn.callbacks.LearningRateScheduler(lambda e, lr: lr / 2)])
    assert history.history["learning_rate"] == [0.0, 0.0]
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
