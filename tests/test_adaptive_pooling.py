"""AdaptiveAveragePooling1D/2D/3D and AdaptiveMaxPooling1D/2D/3D: values and gradients against
PyTorch's adaptive pooling (float64; ties, overlapping windows, outputs larger than inputs), outputs
against Keras 3.15's, a model reading images of any size, and the refusals. The layer contract and
finite differences are in test_layer_contract.py."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers
from glassnet.layers.adaptive_pooling import adaptive_windows

CLASSES = {(kind, rank): getattr(layers, f"Adaptive{'Average' if kind == 'avg' else 'Max'}Pooling{rank}D")
           for kind in ("avg", "max") for rank in (1, 2, 3)}
# (input spatial shape, output_size): divisible, overlapping windows (o does not divide n), o > n, o == 1
CASES = {1: [((8,), 4), ((7,), 3), ((3,), 5), ((6,), 1)],
         2: [((8, 6), (4, 3)), ((7, 5), (3, 2)), ((3, 4), (5, 4)), ((5, 5), 1)],
         3: [((4, 6, 5), (2, 3, 2)), ((5, 3, 4), (3, 2, 3)), ((2, 3, 2), (3, 3, 3))]}


def test_windows_follow_pytorch_s_rule():
    assert adaptive_windows(8, 4) == [(0, 2), (2, 4), (4, 6), (6, 8)]
    assert adaptive_windows(7, 3) == [(0, 3), (2, 5), (4, 7)]        # neighbours share a pixel
    assert adaptive_windows(3, 5) == [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)]


@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("rank,case", [(rank, case) for rank, cases in CASES.items() for case in cases], ids=str)
def test_values_and_gradients_match_torch(kind, rank, case, rng, torch):
    shape, output_size = case
    layer = CLASSES[kind, rank](output_size, dtype="float64")
    x = rng.normal(size=(2, *shape, 3))
    x[0, ..., 0] = np.round(x[0, ..., 0])          # ties: the gradient goes to the first maximum, as torch's
    out = layer(x)
    upstream = rng.normal(size=out.shape)
    dx = layer.backward(upstream)
    xt = torch.tensor(np.moveaxis(x, -1, 1).copy(), requires_grad=True)
    pool = getattr(torch.nn.functional, f"adaptive_{kind}_pool{rank}d")
    ref = pool(xt, output_size)
    ref = ref[0] if isinstance(ref, tuple) else ref
    ref.backward(torch.tensor(np.moveaxis(upstream, -1, 1).copy()))
    np.testing.assert_allclose(out, np.moveaxis(ref.detach().numpy(), 1, -1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, np.moveaxis(xt.grad.numpy(), 1, -1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("rank,case", [(rank, case) for rank, cases in CASES.items() for case in cases], ids=str)
def test_outputs_match_keras(kind, rank, case, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    shape, output_size = case
    x = rng.normal(size=(2, *shape, 3)).astype(np.float32)
    ours = CLASSES[kind, rank](output_size)
    theirs = getattr(keras.layers, type(ours).__name__)(output_size)
    out = ours(x)
    assert out.dtype == np.float32 and out.shape == (2, *ours.output_shape(x.shape[1:]))
    np.testing.assert_allclose(out, np.asarray(theirs(x)), rtol=1e-6, atol=1e-6)


def test_a_model_reads_images_of_any_size(rng):
    # the fully convolutional front, then a fixed-size map: one model for every image size
    model = gn.Sequential([gn.Input((None, None, 1)),
                           layers.Conv2D(4, 3, padding="same", activation="relu"),
                           layers.AdaptiveMaxPooling2D((3, 3)),
                           layers.Flatten(),
                           layers.Dense(2, activation="softmax")], seed=0)
    assert model.output_shape == (None, 2) and model.layers[1].output_shape((None, None, 4)) == (3, 3, 4)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    small, large = rng.normal(size=(16, 9, 7, 1)), rng.normal(size=(16, 20, 31, 1))
    labels = rng.integers(0, 2, 16)
    model.fit(small, labels, epochs=1, batch_size=8, verbose=0)
    model.fit(large, labels, epochs=1, batch_size=8, verbose=0)
    assert model.predict(large).shape == model.predict(small).shape == (16, 2)


def test_it_round_trips_through_a_model_file(rng, tmp_path):
    model = gn.Sequential([gn.Input((6, 5, 2)), layers.AdaptiveAveragePooling2D((2, 4)), layers.Reshape((8, 2)),
                           layers.AdaptiveMaxPooling1D(3), layers.Flatten(), layers.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    x = rng.normal(size=(4, 6, 5, 2))
    model.fit(x, rng.normal(size=(4, 1)), epochs=1, verbose=0)
    model.save(tmp_path / "adaptive.npz")
    loaded = gn.load_model(tmp_path / "adaptive.npz")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.layers[0].get_config()["output_size"] == [2, 4]


def test_refusals_name_the_layer_and_what_came():
    with pytest.raises(ValueError, match=r"AdaptiveAveragePooling2D: output_size must be a positive integer or 2 of them, got \(2, 2, 2\)"):
        layers.AdaptiveAveragePooling2D((2, 2, 2))
    with pytest.raises(ValueError, match="output_size must be a positive integer or 1 of them, got 0"):
        layers.AdaptiveMaxPooling1D(0)
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, height, width, channels\), got shape \(batch, 5, 3\)"):
        layers.AdaptiveMaxPooling2D(2)(np.ones((1, 5, 3)))


def test_a_window_of_several_nans_sends_its_gradient_to_the_last_as_torch(torch):
    x = np.full((1, 3, 4, 1), 0.0)
    x[0, 0, 2, 0] = x[0, 1, 0, 0] = x[0, 2, 3, 0] = np.nan
    layer = layers.AdaptiveMaxPooling2D((1, 2), dtype="float64")
    out = layer(x)
    dx = layer.backward(np.ones(out.shape))
    xt = torch.tensor(np.moveaxis(x, -1, 1).copy(), requires_grad=True)
    torch.nn.functional.adaptive_max_pool2d(xt, (1, 2)).sum().backward()
    np.testing.assert_array_equal(dx, np.moveaxis(xt.grad.numpy(), 1, -1))
    assert np.isnan(out).all()
    with pytest.raises(ValueError, match=r"every spatial axis needs at least one pixel to pool, got input of shape \(2, 0, 5, 1\)"):
        layers.AdaptiveMaxPooling2D(2)(np.ones((2, 0, 5, 1)))
