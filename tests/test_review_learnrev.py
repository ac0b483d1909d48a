"""Review of model.trace: a single output's compile(loss_weights=...) and a loss of one's own whose
gradient has the wrong shape."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Dense


def _model(loss, activation, rng):
    model = gn.Sequential([Dense(4, activation="tanh", input_dim=3), Dense(1, activation=activation)],
                          seed=0, dtype="float64")
    model.compile(loss=loss, optimizer=gn.optimizers.SGD(learning_rate=0.1), loss_weights=2.0)
    return model, rng.standard_normal((6, 3)), rng.integers(0, 2, 6)


@pytest.mark.parametrize("loss, activation", [("binary_crossentropy", "sigmoid"), ("mse", "linear")])
def test_trace_of_a_single_output_with_loss_weights_is_the_step_training_takes(loss, activation, rng):
    # the loss was weighed but the gradients were not: trace showed half the gradients and half the
    # update that train_on_batch then made
    model, x, y = _model(loss, activation, rng)
    trace = model.trace(x, y)
    before = model.get_weights()
    assert model.train_on_batch(x, y) == pytest.approx(trace.loss, rel=1e-12)
    for record, layer in zip(trace, model.layers):
        for key, grad in record["grads"].items():
            np.testing.assert_allclose(grad, layer.grads[key], rtol=1e-12, atol=1e-15)
    after = model.get_weights()
    np.testing.assert_allclose(after[0] - before[0], trace[0]["update"]["kernel"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(after[3] - before[3], trace[1]["update"]["bias"], rtol=1e-12, atol=1e-15)
    # the output's dA is the weighed loss's derivative, so dZ = dA * (the activation's derivative) holds
    out = trace[1]
    derivative = out["A"] * (1 - out["A"]) if activation == "sigmoid" else np.ones_like(out["A"])
    np.testing.assert_allclose(out["dZ"], out["dA"] * derivative, rtol=1e-12, atol=1e-15)
    if loss == "mse":
        np.testing.assert_allclose(out["dA"], 2.0 * 2 * (out["A"] - y[:, None]) / 6, rtol=1e-12)


def test_trace_refuses_a_loss_gradient_of_the_wrong_shape_as_training_does():
    class RowLoss(gn.losses.Loss):
        name = "row_loss"

        def __call__(self, y_pred, y_true):
            return float(((y_pred - y_true) ** 2).mean())

        def gradient(self, y_pred, y_true):         # summed over the outputs: shape (n, 1), not (n, 2)
            return (2 * (y_pred - y_true) / y_pred.size).sum(axis=1, keepdims=True)

    model = gn.Sequential([Dense(2, input_dim=3)], seed=0, dtype="float64")
    model.compile(loss=RowLoss(), optimizer="sgd")
    x, y = np.ones((4, 3)), np.zeros((4, 2))
    # (4, 1) broadcast into the kernel's gradient: a silently wrong trace, where training refuses it
    with pytest.raises(ValueError, match=r"RowLoss.gradient: .*shape \(4, 2\), got shape \(4, 1\)"):
        model.train_on_batch(x, y)
    with pytest.raises(ValueError, match=r"RowLoss.gradient: .*shape \(4, 2\), got shape \(4, 1\)"):
        model.trace(x, y)
