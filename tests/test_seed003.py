"""Seed 003 ("Nothing but NumPy") by the numbers: the OR gate worked by hand, through model.trace."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Dense

OR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
OR_Y = np.array([0, 1, 1, 1])


def neuron(bias=0.0):
    """A single sigmoid neuron with the tutorial's weights w1 = 0.1, w2 = 0.6."""
    model = gn.Sequential([Dense(1, activation="sigmoid", input_dim=2)], dtype="float64")
    model.compile(loss="squared_error", optimizer=gn.optimizers.SGD(learning_rate=1.0))
    model.set_weights([np.array([[0.1], [0.6]]), np.array([bias])])
    return model


def test_one_example_forward_and_backward():
    model = neuron()
    trace = model.trace(OR_X[:1], OR_Y[:1])
    step = trace[0]
    assert step["A"][0, 0] == pytest.approx(0.5)             # y_hat = sigmoid(0) = 0.5
    assert trace.loss == pytest.approx(0.125)                # 1/2 (0.5 - 0)^2
    assert step["dA"][0, 0] == pytest.approx(0.5)            # dL/dy_hat = y_hat - y
    assert step["dZ"][0, 0] == pytest.approx(0.125)          # times sigmoid' = 0.25
    np.testing.assert_allclose(step["grads"]["kernel"], [[0.0], [0.0]])   # x1 = x2 = 0: no information
    assert step["grads"]["bias"][0] == pytest.approx(0.125)
    # the tutorial's step: b = 0 - 1 * 0.125 = -0.125, then y_hat ~ 0.469 and loss ~ 0.109
    model.train_on_batch(OR_X[:1], OR_Y[:1])
    assert model.get_weights()[1][0] == pytest.approx(-0.125)
    assert round(float(model.predict(OR_X[:1])[0, 0]), 3) == 0.469
    # "Loss is down from 0.125 to around 0.109": 1/2 * 0.4688^2 = 0.10988, which the tutorial truncates
    assert model.evaluate(OR_X[:1], OR_Y[:1]) == pytest.approx(0.1099, abs=5e-5)


def test_full_batch_cost_drops_from_0089_to_0084():
    model = neuron()
    before = model.trace(OR_X, OR_Y)
    assert round(before.loss, 3) == 0.089
    np.testing.assert_allclose(before[0]["A"].ravel().round(3), [0.5, 0.646, 0.525, 0.668])
    model.train_on_batch(OR_X, OR_Y)
    after = model.trace(OR_X, OR_Y)
    assert round(after.loss, 3) == 0.084
    # "the result of that should be dCost/dW = [-0.044, -0.035] and dCost/db = [-0.031]"
    np.testing.assert_allclose(after[0]["grads"]["kernel"].ravel().round(3), [-0.044, -0.035])
    assert round(float(after[0]["grads"]["bias"][0]), 3) == -0.031


def test_trace_does_not_update_and_prints_the_numbers():
    model = neuron()
    weights = model.get_weights()
    text = str(model.trace(OR_X, OR_Y))
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert "loss 0.089" in text and "0.646" in text and "dbias" in text


def test_trace_of_a_deep_fused_network_matches_training_gradients(rng):
    model = gn.Sequential([Dense(4, activation="tanh", input_dim=3), gn.layers.Activation("relu"),
                           Dense(3, activation="softmax")], seed=0, dtype="float64")
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    x, y = rng.standard_normal((5, 3)), rng.integers(0, 3, 5)
    trace = model.trace(x, y)
    assert [r["layer"].split()[1] for r in trace] == ["dense", "activation", "dense_1"]
    np.testing.assert_allclose(trace[2]["dZ"], (trace[2]["A"] - np.eye(3)[y]) / 5)
    # dZ of the activation layer feeds the first Dense layer's dA
    np.testing.assert_allclose(trace[1]["dZ"], trace[0]["dA"])
    model._loss_and_gradients(*model._prepare_xy(x, y))
    np.testing.assert_allclose(trace[0]["grads"]["kernel"], model.layers[0].grads["kernel"])


def test_trace_shows_the_update_each_optimizer_would_make_and_undoes_it(rng):
    x, y = rng.standard_normal((6, 3)), rng.integers(0, 2, 6)
    for optimizer in (gn.optimizers.SGD(learning_rate=0.5), gn.optimizers.Adam(learning_rate=0.01),
                      gn.optimizers.SGD(learning_rate=0.1, momentum=0.9)):
        model = gn.Sequential([Dense(4, activation="tanh", input_dim=3), Dense(1, activation="sigmoid")],
                              seed=0, dtype="float64")
        model.compile(loss="binary_crossentropy", optimizer=optimizer)
        model.train_on_batch(x, y)                  # some optimizer state for the trace to leave alone
        weights, state = model.get_weights(), optimizer.get_state()
        slots = {k: {s: a.copy() for s, a in v.items()} for k, v in state["slots"].items()}
        trace = model.trace(x, y)
        assert [np.array_equal(a, b) for a, b in zip(weights, model.get_weights())] == [True] * 4
        assert optimizer.iterations == state["iterations"]
        for key, arrays in optimizer.slots.items():
            for name, array in arrays.items():
                np.testing.assert_array_equal(array, slots[key][name])
        if type(optimizer) is gn.optimizers.SGD and optimizer.momentum == 0:
            np.testing.assert_allclose(trace[0]["update"]["kernel"], -0.5 * trace[0]["grads"]["kernel"])
        # the update is the step training then takes
        model.train_on_batch(x, y)
        after = model.get_weights()
        np.testing.assert_allclose(after[0] - weights[0], trace[0]["update"]["kernel"], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(after[3] - weights[3], trace[1]["update"]["bias"], rtol=1e-12, atol=1e-15)
        assert "kernel +=" in str(trace)


def test_trace_of_a_frozen_layer_and_a_saturated_fused_output():
    model = gn.Sequential([Dense(1, activation="sigmoid", input_dim=1)], dtype="float64")
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(learning_rate=1.0))
    model.set_weights([np.array([[20.0]]), np.array([0.0])])
    trace = model.trace(np.array([[1.0]]), [0])
    # confidently wrong: dA is the unclipped derivative 1 / (1 - a), so dZ = dA * a (1 - a) holds
    a = trace[0]["A"][0, 0]
    assert trace[0]["dA"][0, 0] == pytest.approx(1 / (1 - a)) and trace[0]["dZ"][0, 0] == pytest.approx(a)
    assert trace.loss == pytest.approx(20.0)
    model.layers[0].trainable = False
    trace = model.trace(np.array([[1.0]]), [0])
    assert trace[0]["update"] == {} and "(frozen: not updated)" in str(trace)


def test_trace_shows_batch_normalizations_normalised_input(rng):
    model = gn.Sequential([Dense(3, input_dim=2), gn.layers.BatchNormalization(), Dense(1, activation="sigmoid")],
                          seed=0, dtype="float64")
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    x = rng.standard_normal((8, 2))
    trace = model.trace(x, rng.integers(0, 2, 8))
    xhat = trace[1]["xhat"]
    np.testing.assert_allclose(xhat.mean(axis=0), 0, atol=1e-12)       # each feature: mean 0 ...
    np.testing.assert_allclose(xhat.var(axis=0), 1, rtol=1e-2)          # ... variance ~1 (epsilon)
    np.testing.assert_allclose(trace[1]["A"], xhat)                     # gamma 1, beta 0 at the start
    assert "xhat" in str(trace) and "xhat" not in trace[0]
