"""Ctrl-C during fit: it lands between batches, so the model holds whole optimizer steps only, and
model.history keeps the epochs completed (glassnet._interrupt)."""
import signal
import sys
import threading

import numpy as np
import pytest

import glassnet as gn
from glassnet import optimizers
from glassnet._interrupt import DeferredInterrupt

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT to its own process")


def _model():
    model = gn.Sequential([gn.layers.Dense(8, activation="relu", input_dim=4),
                           gn.layers.Dense(3, activation="softmax")], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizers.Adam(0.01))
    return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(int) + (x[:, 1] > 1)


def test_ctrl_c_inside_an_optimizer_step_stops_after_that_step(monkeypatch, ctrl_c):
    x, y = _data()
    reference = _model()
    reference.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)        # 4 whole steps
    model = _model()
    update, calls = optimizers.Adam.update, []

    def interrupted_update(self, key, param, grad):
        calls.append(key)
        if len(calls) == 4:            # the 4th step: Ctrl-C arrives as the update starts
            ctrl_c()
        update(self, key, param, grad)
    monkeypatch.setattr(optimizers.Adam, "update", interrupted_update)
    with pytest.raises(KeyboardInterrupt, match="between two batches"):
        model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    # exactly four complete steps: the same weights, moments and step count as the reference
    assert model.optimizer.iterations == reference.optimizer.iterations == 4
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    for name in ("m", "v"):
        np.testing.assert_array_equal(model.optimizer.slots["params"][name],
                                      reference.optimizer.slots["params"][name])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler        # handler given back


def test_history_keeps_the_epochs_completed_before_an_interrupt(ctrl_c):
    x, y = _data()
    model = _model()

    def stop(epoch, logs):
        if epoch == 2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=10, verbose=0, callbacks=[gn.callbacks.LambdaCallback(on_epoch_end=stop)])
    assert model.history.epoch == [0, 1]          # epoch 2's end raised before History recorded it
    # a Ctrl-C during the last epoch's end is raised, not swallowed by the end of training
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[gn.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: ctrl_c())])


def test_a_second_ctrl_c_raises_at_once_and_other_handlers_are_left_alone(ctrl_c):
    with pytest.raises(KeyboardInterrupt):
        with DeferredInterrupt() as held:
            ctrl_c()
            assert held.pending
            ctrl_c()          # raises here
            pytest.fail("the second Ctrl-C was held too")
    mine = signal.signal(signal.SIGINT, lambda *a: None)
    try:
        custom = signal.getsignal(signal.SIGINT)
        with DeferredInterrupt():
            assert signal.getsignal(signal.SIGINT) is custom
    finally:
        signal.signal(signal.SIGINT, mine)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(DeferredInterrupt().__enter__()._installed))
    thread.start()
    thread.join()
    assert seen == [False]                               # only the main thread takes signals
