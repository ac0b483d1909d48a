"""ConvLSTM1D/2D/3D: outputs as Keras 3.15's, every gradient as PyTorch autograd's through a
ConvLSTM written in torch (float64), a next-frame model trained as Keras trains it, model files and
the refusals. The layer contract and finite differences are in test_layer_contract.py."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers
from glassnet.layers.conv import conv_output_length

from test_conv import tf_same_pads

CASES = [("ConvLSTM2D", (4, 6, 5, 2), dict(filters=3, kernel_size=3, padding="same", return_sequences=True)),
         ("ConvLSTM2D", (3, 7, 6, 1), dict(filters=2, kernel_size=(3, 2), strides=2)),
         ("ConvLSTM2D", (3, 6, 6, 2), dict(filters=2, kernel_size=2, padding="same", go_backwards=True,
                                           return_sequences=True)),
         ("ConvLSTM1D", (4, 9, 3), dict(filters=2, kernel_size=3, dilation_rate=2)),
         ("ConvLSTM3D", (3, 4, 5, 4, 2), dict(filters=2, kernel_size=3, padding="same"))]


@pytest.mark.parametrize("name, shape, settings", CASES, ids=str)
def test_outputs_match_keras(name, shape, settings, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(2, *shape)).astype(np.float32)
    ours = getattr(layers, name)(seed=0, bias_initializer="random_normal", **settings)
    out = ours(x)
    theirs = getattr(keras.layers, name)(**settings)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    expected = np.asarray(theirs(x))
    assert out.shape == expected.shape == (2, *ours.output_shape(shape)) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def _torch_conv_lstm(torch, layer, x, h0=None, c0=None, mask=None):
    """The layer's maths in torch (channels first): the input's convolution with TensorFlow's
    padding, the state's with "same" padding, LSTM gates i, f, c, o; each gate's input and state
    multiplied by the dropout masks of the layer's last forward (Keras' ConvLSTMCell), when it drew
    some; from the states ``h0``, ``c0`` (channels last) when given. Returns the output, the
    parameters as leaves, and the last h and c (channels last)."""
    F, rank = torch.nn.functional, layer.rank
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[rank]
    params = {name: torch.tensor(value, requires_grad=True) for name, value in layer.params.items()}
    to_torch = (rank + 1, rank, *range(rank))                       # (*k, in, out) -> (out, in, *k)
    kernel, recurrent = params["kernel"].permute(*to_torch), params["recurrent_kernel"].permute(*to_torch)

    def padded(t, k, s, d, padding, sizes):
        pads = []
        for axis in reversed(range(rank)):
            span = (k[axis] - 1) * d[axis] + 1
            pads += tf_same_pads(sizes[axis], span, s[axis]) if padding == "same" else (0, 0)
        return F.pad(t, pads)

    steps = x.shape[1]
    frames = x.flip(1) if layer.go_backwards else x
    spatial = x.shape[2:-1]
    state = [conv_output_length(n, k, s, layer.padding, d)[0]
             for n, k, s, d in zip(spatial, layer.kernel_size, layer.strides, layer.dilation_rate)]
    h = torch.zeros((x.shape[0], layer.filters, *state), dtype=x.dtype) if h0 is None else h0.movedim(-1, 1)
    c = torch.zeros_like(h) if c0 is None else c0.movedim(-1, 1)
    outs, f = [], layer.filters
    # a mask (batch, steps): a masked step keeps h and c, and outputs the last output (Keras' RNN:
    # zeros before any real one), or zeros with zero_output_for_mask
    real = None if mask is None else torch.tensor(mask.copy()).flip(1) if layer.go_backwards else torch.tensor(mask)
    shown = torch.zeros_like(h)

    def per_gate(masks):        # channels first, one per gate (all ones without dropout)
        return [1.0] * 4 if masks is None else [torch.tensor(m).movedim(-1, 1) for m in masks]
    input_masks, state_masks = per_gate(layer._input_masks), per_gate(layer._state_masks)
    bias = params.get("bias")
    for t in range(steps):
        frame = frames[:, t].movedim(-1, 1)
        z = torch.cat([conv(padded(frame * input_masks[g], layer.kernel_size, layer.strides, layer.dilation_rate,
                                   layer.padding, spatial), kernel[g * f:(g + 1) * f],
                            None if bias is None else bias[g * f:(g + 1) * f], stride=layer.strides,
                            dilation=layer.dilation_rate)
                       + conv(padded(h * state_masks[g], layer.kernel_size, (1,) * rank, (1,) * rank, "same", state),
                              recurrent[g * f:(g + 1) * f]) for g in range(4)], 1)
        i, fg, g, o = (torch.sigmoid(z[:, :f]), torch.sigmoid(z[:, f:2 * f]), torch.tanh(z[:, 2 * f:3 * f]),
                       torch.sigmoid(z[:, 3 * f:]))
        c_new = fg * c + i * g
        h_new = o * torch.tanh(c_new)
        if real is None:
            h, c = h_new, c_new
            outs.append(h.movedim(1, -1))
            continue
        keep = real[:, t].reshape(-1, *(1,) * (h.ndim - 1))
        h, c = torch.where(keep, h_new, h), torch.where(keep, c_new, c)
        shown = torch.where(keep, h_new, torch.zeros_like(h) if layer.zero_output_for_mask else shown)
        outs.append(shown.movedim(1, -1))
    return (torch.stack(outs, 1) if layer.return_sequences else outs[-1]), params, (h.movedim(1, -1), c.movedim(1, -1))


@pytest.mark.parametrize("name, shape, settings", CASES, ids=str)
def test_gradients_match_torch_autograd(name, shape, settings, rng, torch):
    layer = getattr(layers, name)(seed=0, bias_initializer="random_normal", dtype="float64", **settings)
    x = rng.normal(size=(2, *shape))
    out = layer(x)
    upstream = rng.normal(size=out.shape)
    dx = layer.backward(upstream)
    tx = torch.tensor(x, requires_grad=True)
    tout, params, _ = _torch_conv_lstm(torch, layer, tx)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    (tout * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    for key, value in params.items():
        np.testing.assert_allclose(layer.grads[key], value.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=key)


def _next_frame(lib):
    return [lib.layers.ConvLSTM2D(4, 3, padding="same", return_sequences=True),
            lib.layers.ConvLSTM2D(3, 3, padding="same"),
            lib.layers.Conv2D(1, 3, padding="same", activation="sigmoid")]


def test_a_next_frame_model_trains_as_keras_and_round_trips(rng, tmp_path):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    # a bright pixel moving right one column per frame: predict the next frame
    clips = np.zeros((24, 5, 6, 6, 1), dtype=np.float32)
    rows = rng.integers(0, 6, 24)
    for t in range(5):
        clips[np.arange(24), t, rows, t, 0] = 1.0
    target = np.zeros((24, 6, 6, 1), dtype=np.float32)
    target[np.arange(24), rows, 5, 0] = 1.0
    ours = gn.Sequential([gn.Input((5, 6, 6, 1)), *_next_frame(gn)], seed=0)
    theirs = keras.Sequential([keras.Input((5, 6, 6, 1)), *_next_frame(keras)])
    theirs.set_weights(ours.get_weights())
    # SGD: Adam's step divides by the gradient's size, so float32 noise in near-zero gradients (most
    # pixels are dark) moves weights by a whole step either way and the two drift apart
    ours.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(0.5))
    theirs.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.5))
    history = ours.fit(clips, target, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(history, theirs.fit(clips, target, epochs=3, batch_size=8, shuffle=False,
                                                   verbose=0).history["loss"], rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    ours.save(tmp_path / "frames.npz")
    loaded = gn.load_model(tmp_path / "frames.npz")
    np.testing.assert_array_equal(loaded.predict(clips), ours.predict(clips))


def test_refusals_name_the_layer_and_what_came():
    with pytest.raises(ValueError, match=r"ConvLSTM2D: dropout must be a number in \[0, 1\)"):
        layers.ConvLSTM2D(2, 3, dropout=1.0)
    with pytest.raises(ValueError, match=r"ConvLSTM3D: recurrent_dropout must be a number in \[0, 1\)"):
        layers.ConvLSTM3D(2, 3, recurrent_dropout=-0.1)
    with pytest.raises(TypeError, match=r"ConvLSTM1D: stateful"):
        layers.ConvLSTM1D(2, 3, stateful="yes")
    with pytest.raises(ValueError, match=r"ConvLSTM2D.*: mask must have shape \(batch, steps\) = \(1, 3\)"):
        layers.ConvLSTM2D(2, 3)(np.ones((1, 3, 4, 4, 1)), mask=np.ones((1, 4), bool))
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, steps, height, width, channels\), got shape "
                                         r"\(batch, 4, 6, 6\)"):
        layers.ConvLSTM2D(2, 3)(np.ones((1, 4, 6, 6)))
    with pytest.raises(ValueError, match=r"its frames need sizes \(only the steps may be None\)"):
        gn.Sequential([gn.Input((None, None, 6, 1)), layers.ConvLSTM2D(2, 3)])
    with pytest.raises(ValueError, match="kernel_size .5, 5. does not fit frames of shape"):
        layers.ConvLSTM2D(2, 5)(np.ones((1, 3, 4, 4, 1)))
    model = gn.Sequential([gn.Input((None, 6, 6, 1)), layers.ConvLSTM2D(2, 3, padding="same")], seed=0)
    assert model.predict(np.ones((2, 7, 6, 6, 1))).shape == (2, 6, 6, 2)       # any number of steps


@pytest.mark.parametrize("recurrent_activation", [None, "linear", "hard_sigmoid"])
def test_gradients_check_whatever_the_activations(recurrent_activation, rng):
    from glassnet.gradcheck import check_model
    model = gn.Sequential([gn.Input((3, 5, 5, 1)),
                           layers.ConvLSTM2D(2, 3, padding="same", activation="gelu",
                                             recurrent_activation=recurrent_activation),
                           layers.Flatten(), layers.Dense(1)], seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    assert check_model(model, rng.normal(size=(4, 3, 5, 5, 1)), rng.normal(size=(4, 1)))["max_error"] < 1e-6
