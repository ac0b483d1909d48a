"""ConvLSTM1D/2D/3D with a mask (batch, steps) given to an eager call: outputs and last states as
Keras 3.15's RNN (a masked frame keeps h and c; the output there is the last one, or zeros with
zero_output_for_mask), gradients as PyTorch autograd's through the same maths (float64). In a
model a (batch, steps) mask reaches a ConvLSTM through layers passing it on (see
test_review_conv_lstm_masks.py); these tests give it eagerly."""
import numpy as np
import pytest

from glassnet import layers

from test_conv_lstm import _torch_conv_lstm

MASK = np.array([[1, 1, 0, 1, 0], [0, 0, 1, 1, 1], [1, 0, 0, 0, 0]], bool)     # (3, 5): rows of each kind
CASES = [("ConvLSTM2D", (5, 6, 5, 2), dict(filters=3, kernel_size=3, padding="same", return_sequences=True)),
         ("ConvLSTM2D", (5, 6, 6, 1), dict(filters=2, kernel_size=(3, 2), strides=2, zero_output_for_mask=True,
                                           return_sequences=True)),
         ("ConvLSTM2D", (5, 5, 5, 2), dict(filters=2, kernel_size=2, go_backwards=True, return_sequences=True)),
         ("ConvLSTM1D", (5, 9, 3), dict(filters=2, kernel_size=3, dilation_rate=2)),
         ("ConvLSTM1D", (5, 7, 2), dict(filters=2, kernel_size=3, go_backwards=True, zero_output_for_mask=True)),
         ("ConvLSTM3D", (5, 4, 3, 4, 2), dict(filters=2, kernel_size=2, padding="same", return_sequences=True))]


@pytest.mark.parametrize("name, shape, settings", CASES, ids=str)
@pytest.mark.parametrize("started", [False, True], ids=["zeros", "initial_state"])
def test_masked_outputs_and_states_match_keras(name, shape, settings, started, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(3, *shape)).astype(np.float32)
    ours = getattr(layers, name)(seed=0, bias_initializer="random_normal", return_state=True, **settings)
    state_shape = (3, *ours.output_shape(shape)[1 if ours.return_sequences else 0:])
    start = [rng.normal(size=state_shape).astype(np.float32) for _ in range(2)] if started else None
    out = ours(x, mask=MASK, initial_state=start)
    theirs = getattr(keras.layers, name)(return_state=True, **settings)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    expected = [np.asarray(a) for a in theirs(x, mask=MASK, initial_state=start)]
    for mine, keras_one, what in zip(out, expected, ("output", "h", "c")):
        assert mine.shape == keras_one.shape and mine.dtype == np.float32, what
        np.testing.assert_allclose(mine, keras_one, rtol=1e-5, atol=1e-6, err_msg=what)


@pytest.mark.parametrize("name, shape, settings", CASES, ids=str)
@pytest.mark.parametrize("started", [False, True], ids=["zeros", "initial_state"])
def test_masked_gradients_match_torch_autograd(name, shape, settings, started, rng, torch):
    layer = getattr(layers, name)(seed=0, bias_initializer="random_normal", dtype="float64", **settings)
    x = rng.normal(size=(3, *shape))
    state_shape = (3, *layer.output_shape(shape)[1 if layer.return_sequences else 0:])
    start = [rng.normal(size=state_shape) for _ in range(2)] if started else None
    out = layer(x, mask=MASK, initial_state=start)
    upstream = rng.normal(size=out.shape)
    grads = layer.backward(upstream)
    dx = grads[0] if started else grads
    tx = torch.tensor(x, requires_grad=True)
    t_start = [torch.tensor(s, requires_grad=True) for s in start] if started else []
    tout, params, _ = _torch_conv_lstm(torch, layer, tx, *t_start, mask=MASK)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    (tout * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    for key, value in params.items():
        np.testing.assert_allclose(layer.grads[key], value.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=key)
    for mine, theirs in zip(grads[1:] if started else [], t_start):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_an_all_true_mask_changes_nothing_and_zero_output_for_mask_round_trips(rng):
    x = rng.normal(size=(3, 5, 4, 4, 1)).astype(np.float32)
    layer = layers.ConvLSTM2D(2, 3, return_sequences=True, zero_output_for_mask=True, seed=0)
    np.testing.assert_array_equal(layer(x), layer(x, mask=np.ones((3, 5), bool)))
    assert layer.supports_masking and not layers.ConvLSTM2D(2, 3).supports_masking
    copy = layers.ConvLSTM2D.from_config(layer.get_config())
    assert copy.zero_output_for_mask is True
    with pytest.raises(TypeError, match="ConvLSTM2D: zero_output_for_mask"):
        layers.ConvLSTM2D(2, 3, zero_output_for_mask="yes")
