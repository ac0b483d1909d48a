"""Non-finite values: activations at the dtype's extremes, TerminateOnNaN's Keras 3.15 option
``raise_error``, and the refusal of NaN data naming the sample that holds it."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import activations
from glassnet._validation import as_array
from glassnet.layers import Dense


@pytest.mark.parametrize("dtype, low", [(np.float32, -3e38), (np.float64, -1.7e308)])
@pytest.mark.parametrize("name, reference", [("silu", "silu"), ("swish", "silu"), ("mish", "mish")])
def test_x_times_its_sigmoid_is_zero_far_below_the_clip(name, reference, dtype, low, torch):
    # sigmoid stops at ~6e-39 (float32) below z = -88; z times it was -1.8 at z = -3e38 (PyTorch: -0)
    z = np.array([low, low / 3, -1e4, -50.0, -1.0, 0.0, 2.0], dtype)
    act = activations.get(name)
    a = act.forward(z.copy())
    grad = act.backward(np.ones_like(z), z.copy(), a)
    t = torch.tensor(z, requires_grad=True)
    out = getattr(torch.nn.functional, reference)(t)
    out.sum().backward()
    np.testing.assert_allclose(a, out.detach().numpy(), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-5, atol=1e-30)
    assert a.dtype == dtype and grad.dtype == dtype


def _diverging_fit(callbacks):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3)).astype(np.float32)
    y = X.sum(axis=1, keepdims=True) * 100
    model = gn.Sequential([Dense(8, activation="relu", input_dim=3), Dense(1)], seed=0)
    model.compile("mse", gn.optimizers.SGD(1e3))
    with np.errstate(all="ignore"):
        return model.fit(X, y, epochs=3, batch_size=16, shuffle=False, verbose=0, callbacks=callbacks)


def test_terminate_on_nan_raise_error_raises_keras_runtime_error(capsys):
    ended = []
    terminate = gn.TerminateOnNaN(raise_error=True)
    with pytest.raises(RuntimeError, match=r"^NaN or Inf loss encountered at batch \d+\. ") as info:
        _diverging_fit([terminate, gn.callbacks.LambdaCallback(on_train_end=lambda logs: ended.append(logs))])
    error = info.value.__cause__
    assert isinstance(error, gn.NonFiniteError) and terminate.error is error
    assert f"at batch {error.batch - 1}." in str(info.value) and str(error) in str(info.value)
    assert ended == [] and capsys.readouterr().out == ""     # Keras: no on_train_end, no line


def test_terminate_on_nan_default_and_bad_raise_error():
    assert gn.TerminateOnNaN().raise_error is False
    history = _diverging_fit([gn.TerminateOnNaN(raise_error=False)])
    assert isinstance(history, gn.callbacks.History)
    with pytest.raises(TypeError, match="raise_error must be True or False, got 'yes'"):
        gn.TerminateOnNaN(raise_error="yes")


def test_nan_data_names_the_first_sample_holding_one():
    x = np.zeros((20, 3), np.float32)
    x[7, 2], x[12, 0] = np.inf, np.nan
    model = gn.Sequential([Dense(1, input_dim=3)], seed=0)
    model.compile("mse", "sgd")
    with pytest.raises(ValueError, match=r"^x: contains 2 NaN or infinite value\(s\), the first in sample 7$"):
        model.fit(x, np.zeros((20, 1)), verbose=0)
    with pytest.raises(ValueError, match=r"^sample_weight: contains 1 NaN .*, the first in sample 4$"):
        model.fit(np.zeros((20, 3)), np.zeros((20, 1)), sample_weight=np.where(np.arange(20) == 4, np.nan, 1.0),
                  verbose=0)
    # found block by block in big data, images too (a sample is everything after axis 0)
    big = np.zeros((3000, 20, 20), np.float64)
    big[2999, 19, 19] = -np.inf
    with pytest.raises(ValueError, match=r"the first in sample 2999$"):
        as_array(big, "x", np.float32)
