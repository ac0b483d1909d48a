"""One trained model used from several threads at once (a web server's pattern).

Layers keep their forward pass's caches on themselves (Dense returns ``self.a``; an LSTM keeps
its steps' caches; a functional model of several outputs keeps the walk's outputs), so two
threads in the same model at once overwrote each other's: wrong outputs handed to the wrong
caller, or errors from arrays of the other call's batch size. Each model's passes now take turns
(glassnet._serial).
"""
import concurrent.futures as cf
import copy
import pickle
import sys
import threading

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import LSTM, Dense, Input, Layer


class Rendezvous(Layer):
    """y = 2 x, computed from the cached ``self.x`` after waiting (up to a second) for another
    thread to enter the same layer: where two threads may be inside it at once, they are."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.entered = 0
        self.condition = threading.Condition()

    def forward(self, x, training=False):
        self.x = x
        with self.condition:
            self.entered += 1
            self.condition.notify_all()
            self.condition.wait_for(lambda: self.entered >= 2, timeout=1.0)
        return 2 * self.x

    def backward(self, grad_output):
        return 2 * grad_output


@pytest.mark.parametrize("call", ["predict", "call"])
def test_two_threads_never_share_a_pass(call):
    layer = Rendezvous()
    model = gn.Sequential([Input((3,)), layer])
    a, b = np.ones((2, 3), "float32"), np.full((5, 3), 7, "float32")
    run = model.predict if call == "predict" else model
    with cf.ThreadPoolExecutor(2) as pool:
        fa, fb = pool.submit(run, a), pool.submit(run, b)
        out_a, out_b = np.asarray(fa.result()), np.asarray(fb.result())
    np.testing.assert_array_equal(out_a, 2 * a)
    np.testing.assert_array_equal(out_b, 2 * b)


@pytest.fixture
def switch_often():
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)         # thread switches everywhere: races show at once
    yield
    sys.setswitchinterval(before)


def _concurrent_outputs_match(run, inputs, repeats=30):
    expected = [run(x) for x in inputs]
    with cf.ThreadPoolExecutor(4) as pool:
        for _ in range(repeats):
            for got, want in zip([pool.submit(run, x) for x in inputs], expected):
                got = got.result()
                for g, w in zip(got if isinstance(got, list) else [got], want if isinstance(want, list) else [want]):
                    np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_concurrent_lstm_predicts_match_single_threaded(switch_often):
    model = gn.Sequential([LSTM(16, input_shape=(7, 4)), Dense(2)], seed=0)
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(n, 7, 4)).astype("float32") for n in (3, 17, 40, 9, 1, 25, 12, 33)]
    _concurrent_outputs_match(model.predict, inputs)
    _concurrent_outputs_match(model, inputs)


def test_concurrent_predicts_of_a_model_of_two_outputs(switch_often):
    inp = Input((10,))
    hidden = Dense(16, activation="relu")(inp)
    model = gn.Model(inp, [Dense(2)(hidden), Dense(3)(hidden)], seed=0)
    rng = np.random.default_rng(1)
    inputs = [rng.normal(size=(n, 10)).astype("float32") for n in (3, 17, 40, 9, 1, 25, 12, 33)]
    _concurrent_outputs_match(model.predict, inputs)


def test_fit_is_not_disturbed_by_predicts_from_another_thread(switch_often):
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(256, 8)).astype("float32"), rng.normal(size=(256, 1)).astype("float32")

    def trained(with_predicts):
        model = gn.Sequential([Dense(32, activation="tanh", input_dim=8), Dense(1)], seed=0)
        model.compile(loss="mse", optimizer="sgd")
        model.predict(x[:1])
        predicting, done = threading.Event(), threading.Event()

        def predict_until_done():
            while not done.is_set():
                model.predict(x[:100])
                predicting.set()
        side = threading.Thread(target=predict_until_done)
        if with_predicts:
            side.start()
            predicting.wait()
        try:
            model.fit(x, y, epochs=10, batch_size=16, verbose=0, shuffle=False)
        finally:
            done.set()
            if with_predicts:
                side.join()
        return model.get_weights()

    for got, want in zip(trained(True), trained(False)):
        np.testing.assert_array_equal(got, want)


def test_a_model_used_from_threads_still_pickles_and_copies():
    model = gn.Sequential([Dense(2, input_dim=3)], seed=0)
    x = np.ones((4, 3), "float32")
    with cf.ThreadPoolExecutor(2) as pool:
        list(pool.map(model.predict, [x, x]))
    for other in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        np.testing.assert_array_equal(other.predict(x), model.predict(x))


def _traced(model, x, y):
    from glassnet.trace import trace
    return trace(model, x, y)


def _checked(model, x, y):
    from glassnet.gradcheck import check_model
    return check_model(model, x, y)


@pytest.mark.parametrize("run", [_traced, _checked])
def test_trace_and_check_model_never_share_a_pass_with_a_predict(run):
    # the module function glassnet.trace.trace and gradcheck.check_model ran the model's layers
    # without its lock: a predict in another thread entered the same Rendezvous layer at once,
    # and both passes computed from the one cached input the last of them wrote
    layer = Rendezvous()
    model = gn.Sequential([Input((3,)), Dense(2, seed=0), layer], dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    a, y = np.linspace(-1, 1, 6).reshape(2, 3), np.ones((2, 2))
    b = np.full((5, 3), 7.0)
    dense = model.layers[0].params
    expected_a, expected_b = (2 * (x @ dense["kernel"] + dense["bias"]) for x in (a, b))
    with cf.ThreadPoolExecutor(2) as pool:
        first, predicted = pool.submit(run, model, a, y), pool.submit(model.predict, b, verbose=0)
        result, out_b = first.result(), predicted.result()
    np.testing.assert_allclose(out_b, expected_b)
    if run is _traced:       # the Rendezvous layer's output, and the loss, of the trace's own batch
        np.testing.assert_allclose(result[-1]["A"], expected_a)
        assert result.loss == pytest.approx(np.mean((expected_a - y) ** 2))
    else:
        assert result["max_error"] < 1e-6
