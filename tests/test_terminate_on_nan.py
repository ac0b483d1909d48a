"""TerminateOnNaN: fit stops and returns instead of raising NonFiniteError, with the epochs done,
the last finite weights, Keras' message and the error kept."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Dense


def _diverging_run(callbacks):
    """Two quiet epochs at learning rate 1e-3, then a rate of 1e3 that diverges in the third."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3)).astype(np.float32)
    y = X.sum(axis=1, keepdims=True) * 100
    model = gn.Sequential([Dense(8, activation="relu", input_dim=3), Dense(1)], seed=0)
    model.compile("mse", gn.optimizers.SGD(1e-3))
    blow_up = gn.callbacks.LearningRateScheduler(lambda epoch, lr: 1e-3 if epoch < 2 else 1e3)
    with np.errstate(all="ignore"):
        history = model.fit(X, y, epochs=6, batch_size=16, shuffle=False, verbose=0,
                            callbacks=[blow_up, *callbacks])
    return model, history


def test_without_it_fit_raises():
    with pytest.raises(gn.NonFiniteError):
        _diverging_run([])


def test_it_stops_and_returns_the_completed_epochs(capsys):
    ended = []
    terminate = gn.TerminateOnNaN()
    model, history = _diverging_run([terminate, gn.callbacks.LambdaCallback(
        on_train_end=lambda logs: ended.append(logs))])
    assert len(history.history["loss"]) == 2 and model.history is history
    assert np.isfinite(history.history["loss"]).all()
    error = terminate.error
    assert isinstance(error, gn.NonFiniteError) and error.epoch == 3
    assert capsys.readouterr().out == f"Batch {error.batch - 1}: Invalid loss, terminating training\n"
    assert len(ended) == 1 and model.stop_training
    # the weights before the failed update: those the raising run leaves too
    try:
        _diverging_run([])
    except gn.NonFiniteError as exc:
        raised = exc
    assert (raised.epoch, raised.batch) == (error.epoch, error.batch)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_the_same_weights_as_the_run_that_raises():
    terminated, _ = _diverging_run([gn.callbacks.TerminateOnNaN()])
    states = []
    probe = gn.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: None)
    model = None
    try:
        model, _ = _diverging_run([probe])
    except gn.NonFiniteError:
        states = [w.copy() for w in probe.model.get_weights()]
    assert model is None and states
    for a, b in zip(terminated.get_weights(), states):
        np.testing.assert_array_equal(a, b)


def test_importable_under_keras_names():
    assert gn.TerminateOnNaN is gn.callbacks.TerminateOnNaN
    assert gn.TerminateOnNaN().error is None
