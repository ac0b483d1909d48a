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


def test_an_update_that_overflows_the_weights_says_so(capsys):
    # w = 1, x = 1e19: the loss (1e38) is finite in float32, the step to w = -2e39 is not
    model = gn.Sequential([Dense(1, input_dim=1, use_bias=False, kernel_initializer="ones")], seed=0)
    model.compile("mse", gn.optimizers.SGD(10.0))
    terminate = gn.TerminateOnNaN()
    with np.errstate(all="ignore"):
        model.fit(np.array([[1e19]], np.float32), np.array([[0.0]], np.float32), epochs=2, verbose=0,
                  callbacks=[terminate])
    assert terminate.error.what == "weights"
    assert capsys.readouterr().out == "Batch 0: Invalid weights, terminating training\n"


def test_the_error_kept_holds_no_frame_of_fit():
    terminate = gn.TerminateOnNaN()
    _diverging_run([terminate])
    error = terminate.error
    assert error.__traceback__ is None and error.__cause__ is None and error.__context__ is None


def test_a_progress_bar_mid_line_ends_before_the_message():
    import io
    from glassnet.callbacks import ProgressBar

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    bar = ProgressBar(1, stream=stream)
    bar.drawn = 12                               # as after a drawn bar
    bar.end_line()
    assert stream.getvalue() == "\n" and bar.drawn == 0
    bar.end_line()                               # nothing drawn: nothing written
    assert stream.getvalue() == "\n"


def test_a_ctrl_c_held_during_the_failed_batch_still_interrupts(ctrl_c):
    def press_ctrl_c(batch, logs):
        if probe.model.optimizer.learning_rate > 1:       # the diverging epoch
            ctrl_c()

    probe = gn.callbacks.LambdaCallback(on_train_batch_begin=press_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        _diverging_run([gn.TerminateOnNaN(), probe])
