"""Bidirectional(ConvLSTM1D/2D/3D): outputs and states as Keras 3.15's (every merge mode, with and
without return_sequences and a mask), gradients as PyTorch autograd's through two ConvLSTMs
written in torch (float64), config and model files."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers

from test_conv_lstm import _torch_conv_lstm

MASK = np.array([[1, 1, 0, 1, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 1]], bool)
CASES = [("ConvLSTM2D", (5, 6, 5, 2), dict(filters=3, kernel_size=3, padding="same", return_sequences=True)),
         ("ConvLSTM2D", (5, 6, 6, 1), dict(filters=2, kernel_size=(3, 2), strides=2)),
         ("ConvLSTM1D", (5, 9, 3), dict(filters=2, kernel_size=3, dilation_rate=2, return_sequences=True)),
         ("ConvLSTM3D", (5, 4, 3, 4, 2), dict(filters=2, kernel_size=2, padding="same"))]
MERGES = ["concat", "sum", "mul", "ave"]


@pytest.mark.parametrize("merge_mode", MERGES)
@pytest.mark.parametrize("name, shape, settings", CASES, ids=str)
@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
def test_outputs_and_states_match_keras(name, shape, settings, merge_mode, masked, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(3, *shape)).astype(np.float32)
    ours = layers.Bidirectional(getattr(layers, name)(bias_initializer="random_normal", return_state=True,
                                                      **settings), merge_mode=merge_mode, seed=0)
    mask = MASK if masked else None
    out = ours(x, mask=mask)
    theirs = keras.layers.Bidirectional(getattr(keras.layers, name)(return_state=True, **settings),
                                        merge_mode=merge_mode)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    expected = [np.asarray(a) for a in theirs(x, mask=mask)]
    assert len(out) == len(expected) == 5
    assert out[0].shape == (3, *ours.output_shape(shape)) and out[0].dtype == np.float32
    for k, (mine, keras_one) in enumerate(zip(out, expected)):
        assert mine.shape == keras_one.shape, k
        np.testing.assert_allclose(mine, keras_one, rtol=1e-5, atol=1e-6, err_msg=str(k))


@pytest.mark.parametrize("merge_mode", MERGES)
@pytest.mark.parametrize("name, shape, settings", CASES, ids=str)
def test_gradients_match_torch_autograd(name, shape, settings, merge_mode, rng, torch):
    layer = layers.Bidirectional(getattr(layers, name)(bias_initializer="random_normal", **settings),
                                 merge_mode=merge_mode, seed=0, dtype="float64")
    x = rng.normal(size=(3, *shape))
    out = layer(x, mask=MASK)
    upstream = rng.normal(size=out.shape)
    dx = layer.backward(upstream)
    tx = torch.tensor(x, requires_grad=True)
    ahead, ahead_params, _ = _torch_conv_lstm(torch, layer.forward_layer, tx, mask=MASK)
    behind, behind_params, _ = _torch_conv_lstm(torch, layer.backward_layer, tx, mask=MASK)
    if layer.return_sequences:
        behind = behind.flip(1)
    merged = {"concat": lambda: torch.cat([ahead, behind], -1), "sum": lambda: ahead + behind,
              "ave": lambda: (ahead + behind) / 2, "mul": lambda: ahead * behind}[merge_mode]()
    np.testing.assert_allclose(out, merged.detach().numpy(), rtol=1e-10, atol=1e-12)
    (merged * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    for prefix, params in (("forward_", ahead_params), ("backward_", behind_params)):
        for key, value in params.items():
            np.testing.assert_allclose(layer.grads[prefix + key], value.grad.numpy(), rtol=1e-9, atol=1e-12,
                                       err_msg=prefix + key)


def test_a_model_trains_as_keras_and_round_trips(rng, tmp_path):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(16, 4, 5, 5, 1)).astype(np.float32)
    y = rng.normal(size=(16, 5, 5, 1)).astype(np.float32)

    def stack(lib):
        return [lib.layers.Bidirectional(lib.layers.ConvLSTM2D(2, 3, padding="same", return_sequences=True),
                                         merge_mode="ave"),
                lib.layers.Bidirectional(lib.layers.ConvLSTM2D(2, 3, padding="same")),
                lib.layers.Conv2D(1, 1)]
    ours = gn.Sequential([gn.Input((4, 5, 5, 1)), *stack(gn)], seed=0)
    theirs = keras.Sequential([keras.Input((4, 5, 5, 1)), *stack(keras)])
    theirs.set_weights(ours.get_weights())
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    history = ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(history, theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False,
                                                   verbose=0).history["loss"], rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    ours.save(tmp_path / "bi.npz")
    loaded = gn.load_model(tmp_path / "bi.npz")
    np.testing.assert_array_equal(loaded.predict(x), ours.predict(x))
    copy = layers.Bidirectional.from_config(ours.layers[0].get_config())
    assert type(copy.forward_layer) is layers.ConvLSTM2D and copy.merge_mode == "ave"
    assert copy.forward_layer.zero_output_for_mask is True      # Keras' rule for sequences


def test_refusals_name_the_wrapper():
    with pytest.raises(TypeError, match="Bidirectional: layer must be a SimpleRNN, LSTM, GRU, ConvLSTM1D, ConvLSTM2D "
                                        "or ConvLSTM3D, got"):
        layers.Bidirectional(layers.Conv2D(2, 3))
    with pytest.raises(ValueError, match="Bidirectional: wrap a layer that reads forwards"):
        layers.Bidirectional(layers.ConvLSTM2D(2, 3, go_backwards=True))


def test_an_encoder_s_four_states_start_a_decoder_as_in_keras(rng):
    """In a functional Model: return_state's [out, fh, fc, bh, bc] (LastState calls, whose shapes
    follow the frames' sizes) start a second Bidirectional(ConvLSTM2D); predictions and training
    match Keras 3.15's."""
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(4, 3, 5, 5, 1)).astype(np.float32)
    y = rng.normal(size=(4, 5, 5, 1)).astype(np.float32)

    def build(lib, model, entry):
        inp = entry((3, 5, 5, 1))
        out, *states = lib.layers.Bidirectional(lib.layers.ConvLSTM2D(2, 3, padding="same", return_state=True))(inp)
        decoded = lib.layers.Bidirectional(lib.layers.ConvLSTM2D(2, 3, padding="same"))(inp, initial_state=states)
        return model(inp, lib.layers.Conv2D(1, 1)(lib.layers.Concatenate()([out, decoded])))
    ours, theirs = build(gn, gn.Model, gn.Input), build(keras, keras.Model, keras.Input)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours.predict(x), np.asarray(theirs.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    np.testing.assert_allclose(ours.fit(x, y, epochs=2, shuffle=False, verbose=0).history["loss"],
                               theirs.fit(x, y, epochs=2, shuffle=False, verbose=0).history["loss"], rtol=1e-4)
