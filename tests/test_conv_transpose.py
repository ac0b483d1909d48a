"""Conv2DTranspose and Conv1DTranspose: shapes and outputs against Keras 3.15 (TensorFlow's
conv2d_transpose), values and every gradient against PyTorch autograd (float64; Conv3DTranspose's
too), a small
autoencoder trained end to end, and their errors. The layer contract and finite differences are in
test_layer_contract.py."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer
from glassnet.layers import Conv1DTranspose, Conv2DTranspose, Conv3DTranspose
from glassnet.layers.conv import conv_output_length

CASES = [dict(kernel_size=3, strides=2, padding="same"), dict(kernel_size=3, strides=2),
         dict(kernel_size=(3, 2), strides=(2, 3), output_padding=(1, 2)),
         dict(kernel_size=3, strides=3, padding="same", output_padding=1), dict(kernel_size=(2, 4)),
         dict(kernel_size=2, strides=3), dict(kernel_size=4, strides=2, padding="same"),
         dict(kernel_size=1, strides=3), dict(kernel_size=(5, 3), strides=(2, 1), padding="same"),
         dict(kernel_size=2, strides=2, padding="same", output_padding=1)]


@pytest.mark.parametrize("settings", CASES, ids=str)
def test_outputs_match_keras(settings, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(2, 4, 5, 2)).astype(np.float32)
    ours = Conv2DTranspose(3, activation="relu", seed=0, **settings)
    out = ours(x)
    theirs = keras.layers.Conv2DTranspose(3, activation="relu", **settings)
    theirs.build(x.shape)
    theirs.set_weights(ours.get_weights())
    expected = np.asarray(theirs(x))
    assert out.shape == expected.shape == (2, *ours.output_shape(x.shape[1:]))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("settings", [dict(kernel_size=3, strides=2, padding="same"), dict(kernel_size=4, strides=2),
                                      dict(kernel_size=3, strides=2, output_padding=1)], ids=str)
def test_one_dimensional_outputs_match_keras(settings, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(2, 6, 2)).astype(np.float32)
    ours = Conv1DTranspose(3, seed=0, **settings)
    out = ours(x)
    theirs = keras.layers.Conv1DTranspose(3, **settings)
    theirs.build(x.shape)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(out, np.asarray(theirs(x)), rtol=1e-5, atol=1e-6)


def _torch_transpose(torch, x, kernel, bias, strides, pads, out_shape):
    """TensorFlow's transposed convolution in torch, for images or volumes: torch's full output
    ((H - 1) s + k along each axis), on the canvas of the padded size, cropped by the padding
    TensorFlow's rule gives (asymmetric: torch's own ``padding`` is symmetric)."""
    F, rank = torch.nn.functional, x.ndim - 2
    channels_first, channels_last = (0, rank + 1, *range(1, rank + 1)), (0, *range(2, rank + 2), 1)
    transpose = F.conv_transpose2d if rank == 2 else F.conv_transpose3d
    full = transpose(x.permute(*channels_first), kernel.permute(rank + 1, rank, *range(rank)), stride=strides)
    grow = []
    for axis in reversed(range(rank)):          # F.pad lists the last axis first; the untouched edge: zeros
        grow += [0, out_shape[axis] + sum(pads[axis]) - full.shape[2 + axis]]
    full = F.pad(full, grow)
    out = full[(slice(None), slice(None), *(slice(before, before + size) for size, (before, _) in zip(out_shape, pads)))]
    return out.permute(*channels_last) + bias


CASES_3D = [dict(kernel_size=3, strides=2, padding="same"), dict(kernel_size=(2, 3, 2), strides=(1, 2, 3)),
            dict(kernel_size=(3, 2, 2), strides=(2, 2, 1), output_padding=(1, 1, 0)),
            dict(kernel_size=2, strides=2, padding="same", output_padding=1)]


@pytest.mark.parametrize("cls,settings,shape", [(Conv2DTranspose, case, (2, 4, 5, 2)) for case in CASES]
                         + [(Conv3DTranspose, case, (2, 3, 4, 2, 2)) for case in CASES_3D], ids=str)
def test_values_and_gradients_match_torch(cls, settings, shape, rng, torch):
    layer = cls(3, bias_initializer="random_normal", dtype="float64", seed=1, **settings)
    x = rng.normal(size=shape)
    out = layer(x)
    upstream = rng.normal(size=out.shape)
    dx = layer.backward(upstream)
    kernel, bias = (torch.tensor(layer.params[k], requires_grad=True) for k in ("kernel", "bias"))
    tx = torch.tensor(x, requires_grad=True)
    pads = [conv_output_length(o, k, s, layer.padding)[1]
            for o, k, s in zip(out.shape[1:-1], layer.kernel_size, layer.strides)]
    t_out = _torch_transpose(torch, tx, kernel, bias, layer.strides, pads, out.shape[1:-1])
    t_out.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(layer.grads["kernel"], kernel.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["bias"], bias.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("settings", CASES[:4], ids=str)
def test_finite_differences_for_strides_and_output_padding(settings, rng):
    layer = Conv2DTranspose(2, activation="tanh", dtype="float64", seed=0, **settings)
    report = check_layer(layer, rng.normal(size=(2, 3, 4, 2)))
    assert report["max_error"] < 1e-6 and {"input", "kernel", "bias"} <= set(report["errors"])


def test_it_is_the_input_gradient_of_the_convolution_with_its_kernel(rng):
    # <conv(y), x> = <y, conv_transpose(x)>: the adjoint, for every padding and stride
    for padding in ("valid", "same"):
        conv = gn.layers.Conv2D(2, 3, strides=2, padding=padding, use_bias=False, dtype="float64", seed=0)
        y = rng.normal(size=(1, 9, 8, 3))
        x = rng.normal(size=(1, *conv.output_shape(y.shape[1:])))
        transpose = Conv2DTranspose(3, 3, strides=2, padding=padding, use_bias=False, dtype="float64",
                                    output_padding=(0, 1))       # 9 x 8 back, not 10 x 8 or 9 x 7
        conv_y = conv(y)
        transpose.build(x.shape[1:])
        transpose.set_weights(conv.get_weights())             # (3, 3, 3, 2): the same array
        t_x = transpose(x)
        assert t_x.shape == y.shape
        np.testing.assert_allclose(np.vdot(conv_y, x), np.vdot(y, t_x), rtol=1e-12)


def test_an_autoencoder_trains_saves_and_loads(rng, tmp_path):
    images = rng.uniform(size=(256, 8, 8, 1)) * np.linspace(0, 1, 8)[:, None, None]   # rows brighter downwards
    model = gn.Sequential([
        gn.Input((8, 8, 1)),
        gn.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),          # (4, 4, 8)
        gn.layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu"),  # (8, 8, 8)
        gn.layers.Conv2D(1, 3, padding="same", activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.01))
    history = model.fit(images, images, epochs=15, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.75 * history.history["loss"][0]
    model.save(tmp_path / "ae.npz")
    loaded = gn.load_model(tmp_path / "ae.npz")
    np.testing.assert_array_equal(loaded.predict(images[:5]), model.predict(images[:5]))
    assert loaded.layers[1].get_config() == model.layers[1].get_config()


def test_one_dimensional_layer_is_the_two_dimensional_one_on_a_row(rng):
    x = rng.normal(size=(2, 6, 3))
    one = Conv1DTranspose(4, 3, strides=2, padding="same", output_padding=1, dtype="float64", seed=0)
    two = Conv2DTranspose(4, (1, 3), strides=(1, 2), padding="same", output_padding=(0, 1), dtype="float64", seed=0)
    out = one(x)
    two.build((1, 6, 3))
    two.set_weights([one.params["kernel"][None], one.params["bias"]])
    np.testing.assert_allclose(out, two(x[:, None])[:, 0], rtol=1e-14)
    assert out.shape == (2, 12, 4)          # (6 - 1) * 2 + 3 % 2 + 1


def _built(layer, shape):
    layer.build(shape)
    return layer


@pytest.mark.parametrize("make, message", [
    (lambda: Conv2DTranspose(2, 3, strides=2, output_padding=2), r"output_padding \(2, 2\) must be smaller than the strides \(2, 2\)"),
    (lambda: Conv2DTranspose(2, 3, output_padding=-1), r"Conv2DTranspose: output_padding must be a non-negative integer or 2 of them, got -1"),
    (lambda: Conv1DTranspose(2, 3, strides=2, output_padding=(1, 1)), r"Conv1DTranspose: output_padding must be a non-negative integer or 1 of them"),
    (lambda: Conv2DTranspose(2, 2, strides=2, padding="same", output_padding=0)(np.ones((1, 3, 3, 1))),
     r"layer Conv2DTranspose: output_padding \(0, 0\) gives outputs of length 4 for inputs of 3, which a 'same' "
     r"convolution of kernel 2 and stride 2 does not take back to 3"),
    (lambda: Conv2DTranspose(2, 3)(np.ones((1, 3, 3))), r"expected input of shape \(batch, height, width, channels\)"),
    (lambda: _built(Conv2DTranspose(2, 3), (3, 3, 2))(np.ones((1, 3, 3, 4))),
     r"layer Conv2DTranspose: expected input samples of shape \(3, 3, 2\) \(2 channels\), got \(3, 3, 4\)"),
], ids=range(6))
def test_bad_settings_and_inputs_are_refused_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("make, shape", [(lambda: Conv2DTranspose(2, 3, strides=2, use_bias=False, dtype="float64", seed=0), (3, 3, 2)),
                                         (lambda: Conv1DTranspose(2, 3, strides=2, use_bias=False, dtype="float64", seed=0), (5, 2))])
def test_without_a_bias_only_the_kernel_has_a_gradient(make, shape, rng):
    layer = make()
    report = check_layer(layer, rng.normal(size=(2, *shape)))
    assert report["max_error"] < 1e-6 and set(report["errors"]) == {"input", "kernel"}
    model = gn.Sequential([gn.Input(shape), make(), gn.layers.Flatten(), gn.layers.Dense(1)], dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    model.fit(rng.normal(size=(8, *shape)), rng.normal(size=8), epochs=1, verbose=0)


def test_an_unknown_argument_lists_the_convolution_s_own_too():
    with pytest.raises(TypeError, match=r"Conv2DTranspose: unexpected keyword argument 'groups'; "
                                        r"Conv2DTranspose takes filters, kernel_size, strides, padding, output_padding, "
                                        r"activation, use_bias, kernel_initializer"):
        Conv2DTranspose(2, 3, groups=2)
