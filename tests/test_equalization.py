"""Equalization (layers/equalization.py): against Keras 3.15's own layer called on each image alone
(its result for an unbatched image; on a batch Keras pools the images' histograms, the documented
difference), in training and inference; a hand-worked table; the gradient (0, or 1 for a channel
left as it is) against PyTorch autograd; the errors. The layer contract and finite differences are
in test_layer_contract.py."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Equalization


def _keras():
    return pytest.importorskip("keras", reason="Keras oracle not installed")


def _images(rng, value_range=(0, 255), dtype=np.float32):
    low, high = value_range
    x = rng.uniform(low, high, size=(6, 7, 5, 3)).astype(dtype)
    x[1] = low + (x[1] - low) * 0.3                        # a dark image: equalization spreads it
    x[2, ..., 1] = x[2, 0, 0, 1]                           # a channel of one value: left as it is
    x[3, :4] = low                                         # many pixels in the first bin
    return x


def _keras_per_image(keras, x, **kwargs):
    layer = keras.layers.Equalization(**kwargs)
    return np.stack([np.asarray(layer(image)) for image in x])


@pytest.mark.parametrize("value_range, bins", [((0, 255), 256), ((0, 1), 256), ((-1, 1), 64), ((0, 255), 17)], ids=str)
def test_matches_keras_image_by_image_in_training_and_inference(value_range, bins, rng):
    keras = _keras()
    x = _images(rng, value_range)
    theirs = _keras_per_image(keras, x, value_range=value_range, bins=bins)
    width = value_range[1] - value_range[0]
    for training in (True, False):
        layer = Equalization(value_range=value_range, bins=bins)
        ours = layer(x, training=training)
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6 * width)
    assert layer._flat.sum() == 1 and np.array_equal(ours[2, ..., 1], x[2, ..., 1])
    # the dark image now reaches both ends of the range
    np.testing.assert_allclose(ours[1].min(axis=(0, 1)), value_range[0], atol=1e-6 * width)
    np.testing.assert_allclose(ours[1].max(axis=(0, 1)), value_range[1], atol=1e-6 * width)


def test_float64_images_give_keras_values_too(rng):
    keras = _keras()
    x = _images(rng, (0, 1))
    ours = Equalization(value_range=(0, 1), dtype="float64")(x.astype(np.float64))
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours, _keras_per_image(keras, x, value_range=(0, 1)), rtol=1e-6, atol=1e-6)


def test_each_image_is_its_own_histogram_where_keras_pools_the_batch_s(rng):
    keras = _keras()
    x = _images(rng)
    ours = Equalization()(x)
    for i in range(len(x)):                                # whatever images stand beside it
        np.testing.assert_array_equal(Equalization()(x[i:i + 1])[0], ours[i])
    pooled = np.asarray(keras.layers.Equalization()(x))
    assert np.abs(pooled - ours).max() > 50                # Keras' batch histogram: another table
    # and Keras passes a training=False call through, against its documentation
    np.testing.assert_array_equal(np.asarray(keras.layers.Equalization()(x, training=False)), x)


def test_a_table_worked_by_hand():
    # bins of 0-255 units: 0 (once), 10 (twice), 20 (once); cumulative counts 1, 3, 4, less the
    # first bin's 1, over 4 - 1 pixels, times 255: 0, 170, 255
    image = np.array([0.0, 10.0, 10.0, 20.0], np.float32).reshape(1, 2, 2, 1)
    assert Equalization()(image)[0, :, :, 0].tolist() == [[0.0, 170.0], [170.0, 255.0]]
    # 4 bins over (0, 1) (p (bins - 1) truncated): 0.1 and 0.2 share the first, 0.5 and 0.9 the second
    # and third; counts 2, 3, 4, less 2, over 2: 0, 127.5 (rounded to a whole level, 128), 255
    image = np.array([0.1, 0.2, 0.5, 0.9], np.float32).reshape(1, 2, 2, 1)
    np.testing.assert_allclose(Equalization(value_range=(0, 1), bins=4)(image).ravel(), [0, 0, 128 / 255, 1], atol=1e-7)
    # and a channel of two levels, 1 and 3 pixels: the table is 0 and (4 - 1) / (4 - 1) 255
    image = np.array([0.2, 0.7, 0.7, 0.7], np.float32).reshape(1, 2, 2, 1)
    np.testing.assert_array_equal(Equalization(value_range=(0, 1))(image).ravel(), [0, 1, 1, 1])


def test_gradient_is_zero_but_for_channels_left_as_they_are(torch, rng):
    x = _images(rng, (-1, 1), np.float64)
    layer = Equalization(value_range=(-1, 1), dtype="float64")
    layer.needs_input_gradient = True
    ours = layer(x)
    flat = torch.tensor(layer._flat)
    t = torch.tensor(x, requires_grad=True)
    # the same maths in torch: the table's values are constants of the input (flat steps)
    table = torch.tensor(ours)
    out = torch.where(flat, t, table)
    g = rng.normal(size=x.shape)
    (out * torch.tensor(g)).sum().backward()
    grad = layer.backward(g)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=0, atol=0)
    assert grad[2, ..., 1].tolist() == g[2, ..., 1].tolist() and not grad[:, ..., 0].any()
    layer.needs_input_gradient = False                     # first in a model: nothing asks
    assert layer.backward(g) is None


def test_a_model_equalizes_in_predict_too_and_round_trips(rng, tmp_path):
    x = _images(rng, (0, 1))
    model = gn.Sequential([gn.Input((7, 5, 3)), Equalization(value_range=(0, 1), bins=64), gn.layers.Flatten(),
                           gn.layers.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    model.fit(x, np.ones(6), epochs=1, verbose=0)
    plain = gn.Sequential([gn.Input((7, 5, 3)), gn.layers.Flatten(), gn.layers.Dense(1)])
    plain.set_weights(model.get_weights())
    equalized = Equalization(value_range=(0, 1), bins=64)(x)
    np.testing.assert_allclose(model.predict(x), plain.predict(equalized), rtol=1e-6)
    model.save(tmp_path / "eq.npz")
    loaded = gn.load_model(tmp_path / "eq.npz")
    assert loaded.layers[0].get_config() == model.layers[0].get_config() and loaded.layers[0].bins == 64
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


@pytest.mark.parametrize("make, message", [
    (lambda: Equalization(bins=0), r"Equalization: bins must be a positive integer .*got 0"),
    (lambda: Equalization(bins=2.5), r"Equalization: bins must be a positive integer .*got 2.5"),
    (lambda: Equalization(bins=True), r"Equalization: bins must be a positive integer .*got True"),
    (lambda: Equalization(value_range=(0,)), r"Equalization: value_range must be a pair \(low, high\)"),
])
def test_bad_arguments_name_the_layer(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_images_of_another_rank_are_refused_by_name():
    with pytest.raises(ValueError, match="Equalization"):
        Equalization()(np.zeros((2, 4, 4), np.float32))
