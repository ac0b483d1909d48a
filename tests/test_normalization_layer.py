"""Normalization (Keras' preprocessing layer): adapt's statistics against NumPy and Keras 3.15,
batch by batch as on the whole, outputs and gradients against Keras and PyTorch autograd, inside a
model (trains as on normalised data, saved and loaded), and its errors. The layer contract and
finite differences for a layer with given statistics are in test_layer_contract.py."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer
from glassnet.layers import Normalization

KEEPS = [(-1, (6,)), (None, (3, 4)), ([1, 3], (4, 5, 3)), (2, (4, 5, 3)), ([-3, -2], (4, 5, 3))]


def _data(rng, shape, n=40):
    """Values far from 0 with a spread per index: what the layer exists for."""
    return rng.normal(size=(n, *shape)) * rng.uniform(0.5, 3, shape) + rng.uniform(-50, 50, shape)


@pytest.mark.parametrize("axis, shape", KEEPS)
def test_adapt_learns_numpys_mean_and_biased_variance(axis, shape, rng):
    x = _data(rng, shape)
    layer = Normalization(axis=axis, dtype="float64")
    layer.adapt(x)
    kept = () if axis is None else tuple(sorted(a % x.ndim for a in np.atleast_1d(axis)))
    reduced = tuple(a for a in range(x.ndim) if a not in kept)
    np.testing.assert_allclose(layer.state["mean"], x.mean(axis=reduced), rtol=1e-13)
    np.testing.assert_allclose(layer.state["variance"], x.var(axis=reduced), rtol=1e-11)
    out = layer(x)
    np.testing.assert_allclose(out.mean(axis=reduced), 0, atol=1e-10)
    np.testing.assert_allclose(out.var(axis=reduced), 1, rtol=1e-10)


def test_adapt_in_batches_equals_adapt_on_the_whole(rng):
    x = _data(rng, (3, 2), n=101)
    whole = Normalization(axis=-1, dtype="float64")
    whole.adapt(x)
    batches = [x[:7], x[7:8], x[8:60], x[60:]]
    for data in (batches, iter(batches), ((b, np.zeros(len(b))) for b in batches)):   # lists, generators, (x, y)
        layer = Normalization(axis=-1, dtype="float64")
        layer.adapt(data)
        np.testing.assert_allclose(layer.state["mean"], whole.state["mean"], rtol=1e-14)
        np.testing.assert_allclose(layer.state["variance"], whole.state["variance"], rtol=1e-12)


def test_adapt_keeps_the_digits_of_data_far_from_zero(rng):
    # a spread of 1 around 1e6: raw sums of x and x^2 in float64 keep ~4 digits of the variance
    x = (1e6 + rng.normal(size=(5000, 2))).astype(np.float32)
    layer = Normalization()
    layer.adapt(x)
    exact = x.astype(np.float64).var(axis=0)
    np.testing.assert_allclose(layer.state["variance"], exact, rtol=1e-6)
    assert layer.state["variance"].dtype == np.float32


def test_a_large_array_is_adapted_a_block_at_a_time(rng):
    # more values than one block (2^20): the merge runs over several, and agrees with NumPy
    x = rng.normal(3.0, 2.0, size=(9000, 130))
    layer = Normalization(axis=None, dtype="float64")
    layer.adapt(x)
    np.testing.assert_allclose(float(layer.state["mean"]), x.mean(), rtol=1e-13)
    np.testing.assert_allclose(float(layer.state["variance"]), x.var(), rtol=1e-12)


@pytest.mark.parametrize("invert", [False, True])
@pytest.mark.parametrize("axis, shape", KEEPS)
def test_outputs_match_keras(axis, shape, invert, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = _data(rng, shape).astype(np.float32)
    ours, theirs = Normalization(axis=axis, invert=invert), keras.layers.Normalization(axis=axis, invert=invert)
    ours.adapt(x)
    theirs.adapt(x)
    np.testing.assert_allclose(ours.state["mean"], np.asarray(theirs.adapt_mean), rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(ours.state["variance"], np.asarray(theirs.adapt_variance), rtol=1e-5)
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-5, atol=1e-5)


def test_given_statistics_and_constant_features_match_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(5, 2, 3)).astype(np.float32)
    for kwargs in (dict(mean=3.0, variance=2.0), dict(mean=[1.0, 2.0, 3.0], variance=[0.5, 0.0, 4.0]),
                   dict(axis=[1, 2], mean=[[1.0, 2.0, 3.0]], variance=[[0.5, 1e-20, 4.0]])):
        for invert in (False, True):
            np.testing.assert_allclose(Normalization(invert=invert, **kwargs)(x),
                                       np.asarray(keras.layers.Normalization(invert=invert, **kwargs)(x)), rtol=1e-6)
    x[:, 0, 0] = 4.0                        # a feature that never varies: shifted to 0, not divided by 0
    layer, theirs = Normalization(axis=[1, 2]), keras.layers.Normalization(axis=[1, 2])
    layer.adapt(x)
    theirs.adapt(x)
    out = layer(x)
    assert layer.state["variance"][0, 0] == 0 and np.all(out[:, 0, 0] == 0)
    np.testing.assert_allclose(out, np.asarray(theirs(x)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("invert", [False, True])
def test_values_and_input_gradient_match_torch(invert, rng, torch):
    x, up = _data(rng, (3, 4)), rng.normal(size=(40, 3, 4))
    layer = Normalization(axis=-1, invert=invert, dtype="float64")
    layer.adapt(x * 2 + 1)
    out = layer.forward(x)
    dx = layer.backward(up)
    mean, variance = (torch.tensor(layer.state[k]) for k in ("mean", "variance"))
    tx = torch.tensor(x, requires_grad=True)
    std = torch.clamp(torch.sqrt(variance), min=1e-7)
    t_out = tx * std + mean if invert else (tx - mean) / std
    t_out.backward(torch.tensor(up))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-13)


@pytest.mark.parametrize("invert", [False, True])
def test_an_adapted_layer_passes_finite_differences(invert, rng):
    layer = Normalization(axis=[1, 2], invert=invert, dtype="float64")
    x = _data(rng, (2, 3), n=6)
    layer.adapt(x)
    report = check_layer(layer, x)
    assert report["max_error"] < 1e-6 and "input" in report["errors"]


def test_a_model_with_it_trains_as_one_on_normalised_data(rng):
    x, y = _data(rng, (4,), n=64), rng.integers(0, 3, 64)
    with_layer = gn.Sequential([Normalization(input_shape=(4,)), gn.layers.Dense(8, activation="tanh"),
                                gn.layers.Dense(3, activation="softmax")], seed=3, dtype="float64")
    with_layer.layers[0].adapt(x)
    plain = gn.Sequential([gn.layers.Dense(8, activation="tanh", input_shape=(4,)),
                           gn.layers.Dense(3, activation="softmax")], seed=3, dtype="float64")
    plain.set_weights(with_layer.get_weights()[2:])
    for model in (with_layer, plain):
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    normalised = (x - x.mean(axis=0)) / x.std(axis=0)
    a = with_layer.fit(x, y, epochs=3, batch_size=16, verbose=0, shuffle=False).history["loss"]
    b = plain.fit(normalised, y, epochs=3, batch_size=16, verbose=0, shuffle=False).history["loss"]
    np.testing.assert_allclose(a, b, rtol=1e-12)
    for ours, theirs in zip(with_layer.get_weights()[2:], plain.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    np.testing.assert_allclose(with_layer.predict(x), plain.predict(normalised), rtol=1e-10)


def test_saved_and_loaded_with_its_statistics(rng, tmp_path):
    x = _data(rng, (5,), n=30)
    model = gn.Sequential([Normalization(input_shape=(5,)), gn.layers.Dense(2)], seed=0)
    model.layers[0].adapt(x)
    model.save(tmp_path / "m.npz")
    loaded = gn.io.load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.layers[0].state["variance"], model.layers[0].state["variance"])
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    fresh = gn.Sequential([Normalization(input_shape=(5,)), gn.layers.Dense(2)], seed=1)
    fresh.load_weights(tmp_path / "m.npz")
    np.testing.assert_array_equal(fresh.predict(x), model.predict(x))
    assert [w.shape for w in model.layers[0].get_weights()] == [(5,), (5,)]


def test_it_warns_once_when_used_before_adapt_and_not_after(rng):
    x = rng.normal(size=(4, 3))
    layer = Normalization()
    with pytest.warns(UserWarning, match=r"layer Normalization has its initial mean 0 and "
                                         r"variance 1 and passes its input on unchanged: call its adapt"):
        np.testing.assert_allclose(layer(x), x, rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer(x)                                         # once per layer
        adapted = Normalization()
        adapted.adapt(x)
        adapted(x)
        Normalization(mean=0.0, variance=1.0)(x)         # given: meant
        model = gn.Sequential([Normalization(input_shape=(3,)), gn.layers.Dense(1)])
        model.compile(loss="mse", optimizer="sgd")       # building and compiling do not warn
        model.summary(print_fn=lambda line: None)


def test_uint8_pixels_are_normalised_per_channel(rng):
    pixels = rng.integers(0, 256, size=(10, 4, 4, 3)).astype(np.uint8)
    layer = Normalization()
    layer.adapt(pixels)
    out = layer(pixels)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.reshape(-1, 3).mean(axis=0), 0, atol=1e-5)


@pytest.mark.parametrize("make, error, message", [
    (lambda: Normalization(mean=1.0), ValueError, r"Normalization: give mean and variance together, or neither"),
    (lambda: Normalization(mean=[1.0, 2.0], variance=[1.0]), ValueError, r"mean and variance must have one shape"),
    (lambda: Normalization(mean=0.0, variance=-1.0), ValueError, r"Normalization: variance must be >= 0"),
    (lambda: Normalization(mean=np.nan, variance=1.0), ValueError, r"Normalization: mean must be finite"),
    (lambda: Normalization(mean="zero", variance=1.0), TypeError, r"Normalization: mean: expected a number"),
    (lambda: Normalization(axis=0), ValueError, r"Normalization: axis: expected distinct axes of the input other than the batch axis 0"),
    (lambda: Normalization(axis="last"), TypeError, r"Normalization: axis: expected an integer or a list"),
    (lambda: Normalization(invert="yes"), TypeError, r"Normalization: invert"),
    (lambda: Normalization(mean=[1.0, 2.0], variance=[1.0, 1.0]).build((3,)), ValueError,
     r"layer Normalization: mean and variance of shape \(2,\) do not broadcast to the kept axes' shape \(3,\)"),
    (lambda: Normalization(axis=3).build((4,)), ValueError, r"axis 3 does not name distinct axes of its input"),
    (lambda: Normalization(mean=1.0, variance=1.0).adapt(np.ones((3, 2))), ValueError,
     r"mean and variance were given when it was made; adapt learns them from data"),
    (lambda: Normalization().adapt(np.ones((0, 2))), ValueError, r"adapt: the data holds no samples"),
    (lambda: Normalization().adapt([]), ValueError, r"adapt: the data holds no samples"),
    (lambda: Normalization().adapt(np.array([[1.0, np.nan]])), ValueError, r"adapt: data holds NaN or infinite values"),
    (lambda: Normalization().adapt([np.ones((2, 3)), np.ones((2, 4))]), ValueError,
     r"adapt: batch 1 has samples of shape \(4,\), the layer's are \(3,\) \(axis=-1 kept\)"),
    (lambda: Normalization().adapt(np.ones(5)), ValueError, r"adapt: expected samples along axis 0 of data, \(N, \.\.\.\), none of their axes empty, got shape \(5,\)"),
    (lambda: Normalization().adapt(np.array([["a"]])), TypeError, r"adapt: data must hold real numbers, got dtype <U1"),
    (lambda: Normalization().adapt(3.0), TypeError, r"adapt: expected an array \(N, \.\.\.\) or an iterable of such batches, got float"),
    (lambda: Normalization(dtype="float32").adapt(np.array([[1e30], [-1e30]])), ValueError,
     r"the data's mean or variance is beyond the range of float32; scale the data, or use dtype='float64'$"),
    (lambda: Normalization(dtype="float64").adapt(np.array([[1e200], [-1e200]])), ValueError,
     r"the data's mean or variance is beyond the range of float64; scale the data$"),
    (lambda: Normalization(mean=1e39, variance=1.0)(np.ones((1, 1))), ValueError,
     r"layer Normalization: mean or variance is beyond the range of float32, or use dtype='float64'"),
    (lambda: Normalization(mean="3", variance="4"), TypeError, r"Normalization: mean: expected a number or an array of numbers, got '3'"),
    (lambda: Normalization(mean=True, variance=1.0), TypeError, r"Normalization: mean: expected a number"),
    (lambda: Normalization().adapt(np.ones((5, 0))), ValueError, r"none of their axes empty, got shape \(5, 0\)"),
    (lambda: Normalization(input_shape=(4,)).adapt(np.ones((5, 3))), ValueError,
     r"adapt: data has samples of shape \(3,\), the layer's are \(4,\)"),
], ids=lambda v: None)
def test_bad_arguments_and_data_are_refused_by_name(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_a_failed_adapt_leaves_the_statistics_as_they_were(rng):
    layer = Normalization()
    layer.adapt(np.array([[1.0, 2.0], [3.0, 6.0]]))
    before = [w.copy() for w in layer.get_weights()]
    with pytest.raises(ValueError, match="batch 1 holds NaN"):
        layer.adapt([np.ones((3, 2)), np.array([[np.inf, 0.0]])])
    for a, b in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_inputs_of_another_width_are_refused_not_broadcast(rng):
    layer = Normalization()
    layer.adapt(np.array([[1.0], [3.0]]))                # one feature: its statistics have shape (1,)
    with pytest.raises(ValueError, match=r"expected input samples of shape \(1,\), got \(5,\)"):
        layer(np.ones((2, 5)))


def test_adapted_alone_it_joins_a_model_of_its_dtype_or_is_told_why_not(rng):
    x = rng.normal(size=(20, 3))
    norm = Normalization(input_shape=(3,))
    norm.adapt(x)
    with pytest.raises(ValueError, match=r"has dtype float32, the model float64; a layer built before it joins "
                                         r"a model takes float32 unless made with dtype='float64'"):
        gn.Sequential([norm, gn.layers.Dense(1)], dtype="float64")
    norm = Normalization(input_shape=(3,), dtype="float64")
    norm.adapt(x)
    model = gn.Sequential([norm, gn.layers.Dense(1)], dtype="float64")
    np.testing.assert_allclose(model.layers[0].state["mean"], x.mean(axis=0), rtol=1e-14)


def test_data_near_the_top_of_float64_is_adapted(rng):
    # the first batch's mean squared would overflow in the merge's delta ** 2 * 0 (NaN)
    x = 1e160 * (1 + 1e-8 * rng.normal(size=(50, 2)))
    layer = Normalization(dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer.adapt(x)
    np.testing.assert_allclose(layer.state["mean"], x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(layer.state["variance"], x.var(axis=0), rtol=1e-6)


def test_data_that_has_mean_0_and_variance_1_does_not_warn():
    layer = Normalization()
    layer.adapt(np.array([[-1.0], [1.0]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer(np.array([[0.5]]))


def test_its_config_is_a_copy(rng):
    layer = Normalization(axis=[1, 2], mean=[[1.0, 2.0]], variance=[[1.0, 4.0]])
    config = layer.get_config()
    config["mean"][0][0] = 99.0
    config["axis"].append(3)
    assert layer.input_mean == [[1.0, 2.0]] and layer.axis == [1, 2]
