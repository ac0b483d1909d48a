"""Keras 3's further activations (celu, exponential, glu, the shrinks, hard_tanh, log_sigmoid, the
sparse ones, squareplus, tanh_shrink, threshold): values against Keras 3.15 in float32 and float64
at and around their kinks, gradients against PyTorch autograd and finite differences, with Keras'
defaults and other settings; glu's shapes in layers; names, files and errors. The generic checks
(every name: torch parity, finite differences, extremes) are in test_activations.py."""
import functools

import numpy as np
import pytest

import glassnet as gn
from glassnet import activations
from glassnet.gradcheck import numerical_gradient
from keras_activations_torch import keras_activations_in_torch, sparsemax_in_torch

NEW = ["celu", "exponential", "glu", "hard_shrink", "hard_tanh", "log_sigmoid", "soft_shrink", "sparse_plus",
       "sparse_sigmoid", "sparsemax", "squareplus", "tanh_shrink"]
# the values at and just around every kink: 0, the shrinks' +-0.5, +-1
KINKS = np.array([0.0, 0.5, 1.0, 1e-7, 0.4999999, 0.5000001, 0.9999999, 1.0000001, 2.5, 7.0])
# (name, function settings, torch settings): other settings than Keras' defaults
SETTINGS = [("celu", {"alpha": 0.5}, {"alpha": 0.5}), ("celu", {"alpha": 3.0}, {"alpha": 3.0}),
            ("hard_shrink", {"threshold": 1.25}, {"threshold": 1.25}),
            ("hard_shrink", {"threshold": 0.0}, {"threshold": 0.0}),
            ("soft_shrink", {"threshold": 0.2}, {"threshold": 0.2}),
            ("squareplus", {"b": 1.0}, {"b": 1.0}), ("squareplus", {"b": 0.01}, {"b": 0.01}),
            ("glu", {"axis": 0}, {"axis": 0}), ("sparsemax", {"axis": 0}, {"axis": 0}),
            ("gelu", {"approximate": True}, {"approximate": "tanh"})]


def _grid(rng, dtype):
    """Kinks, both signs, and random values, (6, 8): an even last axis for glu."""
    z = np.concatenate([KINKS, -KINKS, rng.normal(scale=2.0, size=28)]).reshape(6, 8)
    return z.astype(dtype)


def _tolerances(dtype):
    return {"rtol": 2e-6, "atol": 2e-7} if dtype == np.float32 else {"rtol": 1e-13, "atol": 1e-15}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", [n for n in NEW if n != "sparsemax"])
def test_values_match_keras_at_and_around_the_kinks(name, dtype, keras, rng):
    z = _grid(rng, dtype)
    ours = activations.get(name, reshaping=True).forward(z)
    theirs = np.asarray(getattr(keras.activations, name)(z))
    assert ours.dtype == dtype and theirs.dtype == dtype and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, **_tolerances(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,settings,_", SETTINGS + [("threshold", {"threshold": 0.5, "default_value": -2.0}, {}),
                                                         ("threshold", {"threshold": -1.0, "default_value": 0.0}, {})],
                         ids=str)
def test_values_with_other_settings_match_keras(name, settings, _, dtype, keras, rng):
    z = _grid(rng, dtype)
    if name == "sparsemax":          # Keras 3.15 is right with one survivor per row alone (see below)
        z = z * 100
    ours = getattr(activations, name)(z, **settings)
    theirs = np.asarray(getattr(keras.activations, name)(z, **settings))
    assert ours.dtype == dtype and ours.shape == theirs.shape
    tolerances = _tolerances(dtype)
    if name == "gelu" and dtype == np.float64:
        # TensorFlow's tanh form takes 0.044715 rounded to float32, in float64 too (with it, the
        # formula gives Keras' values to 1e-15); PyTorch's takes it exact, and so does glassnet,
        # within 3e-16 of PyTorch (test_gradients_match_torch_also_at_the_kinks): 1e-9 apart
        tolerances = {"rtol": 1e-6, "atol": 2e-9}
    np.testing.assert_allclose(ours, theirs, **tolerances)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparsemax_matches_keras_where_one_entry_stays_and_the_paper_everywhere(dtype, keras, rng):
    # Keras 3.15 sums the cumulative sums over the support where the paper takes the last one
    # (keras-team/keras#23425, fixed after 3.15): the same threshold with one survivor only
    wide = (rng.standard_normal((5, 7)) * 10).astype(dtype)
    wide[:, 0] = wide.max(axis=1) + 2                       # one entry ahead by more than 1
    np.testing.assert_allclose(activations.sparsemax(wide), np.asarray(keras.activations.sparsemax(wide)),
                               **_tolerances(dtype))
    # everywhere: the projection onto the simplex, tau found by bisection (an independent route)
    z = rng.standard_normal((50, 6)).astype(dtype)
    lo, hi = z.min(axis=1, keepdims=True) - 1.0, z.max(axis=1, keepdims=True)
    for _ in range(200):
        mid = (lo + hi) / 2
        over = np.maximum(z - mid, 0).sum(axis=1, keepdims=True) > 1
        lo, hi = np.where(over, mid, lo), np.where(over, hi, mid)
    ours = activations.sparsemax(z)
    assert ours.dtype == dtype
    np.testing.assert_allclose(ours, np.maximum(z - lo, 0), **_tolerances(dtype))
    np.testing.assert_allclose(ours.sum(axis=1), 1, rtol=1e-6 if dtype == np.float32 else 1e-14)
    assert (ours == 0).any()                                  # sparse: some exact zeros


def _torch_pair(torch, fn, z, upstream):
    tz = torch.tensor(z, requires_grad=True)
    out = fn(tz)
    out.backward(torch.tensor(upstream))
    return out.detach().numpy(), tz.grad.numpy()


@pytest.mark.parametrize("name,settings,torch_settings", SETTINGS + [(n, {}, {}) for n in NEW], ids=str)
def test_gradients_match_torch_also_at_the_kinks(name, settings, torch_settings, torch, rng):
    """Exactly at a kink the derivative is PyTorch's choice: 0 at the shrinks' +-threshold and
    hard_tanh's +-1 (the inside of the flat part), sparse_sigmoid's 0 at +-1."""
    z = _grid(rng, np.float64)
    fn = keras_activations_in_torch(torch, **torch_settings)[name]
    values, grads = _torch_pair(torch, fn, z, upstream := rng.standard_normal(fn(torch.tensor(z)).shape))
    forward = functools.partial(getattr(activations, name), **settings)
    a = forward(z)
    np.testing.assert_allclose(a, values, rtol=1e-13, atol=1e-15)
    got = getattr(activations, "backprop_" + name)(upstream, z, a, **settings)
    np.testing.assert_allclose(got, grads, rtol=1e-12, atol=1e-14)


def test_threshold_matches_torch(torch, rng):
    z = np.concatenate([_grid(rng, np.float64).ravel(), [0.3, -0.3]])
    upstream = rng.standard_normal(z.shape)
    values, grads = _torch_pair(torch, lambda t: torch.nn.functional.threshold(t, 0.3, -2.0), z, upstream)
    a = activations.threshold(z, 0.3, -2.0)
    np.testing.assert_array_equal(a, values)
    np.testing.assert_array_equal(activations.backprop_threshold(upstream, z, a, 0.3, -2.0), grads)


@pytest.mark.parametrize("name,settings,_", SETTINGS + [("threshold", {"threshold": 0.3, "default_value": 2.0}, {})],
                         ids=str)
def test_backward_with_other_settings_matches_finite_differences(name, settings, _, rng):
    z = rng.standard_normal((4, 6)) * 2
    for kink in (0.0, 0.2, 0.3, 1.25):         # off the kinks of these settings
        z = np.where(np.abs(np.abs(z) - kink) < 0.05, np.sign(z) * (kink + 0.1), z)
    forward = functools.partial(getattr(activations, name), **settings)
    a = forward(z)
    weights = rng.standard_normal(a.shape)
    numeric = numerical_gradient(lambda: float(np.sum(forward(z) * weights)), z)
    analytic = getattr(activations, "backprop_" + name)(weights, z, a, **settings)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_sigmoid_and_squareplus_stay_exact_far_out(dtype):
    z = np.array([-1e30, -1e6, -100.0, 40.0, 1e6, 1e30], dtype=dtype)
    # log sigmoid(z) = z - log1p(e^z) below 0, -log1p(e^-z) above: -e^-40 where log(sigmoid) gives 0
    np.testing.assert_allclose(activations.log_sigmoid(z),
                               [-1e30, -1e6, -100.0, -np.exp(-40.0), -0.0, -0.0], rtol=1e-6)
    # squareplus(z) = b / (2 (sqrt(z^2 + b) - z)) ~ -1 / z far below 0 (b = 4), z far above;
    # (z + sqrt(z^2 + b)) / 2 gives 0 below and inf at 1e30 in float32
    a = activations.squareplus(z)
    np.testing.assert_allclose(a[[0, 1]], [1e-30, 1e-6], rtol=1e-6)
    np.testing.assert_allclose(a[[4, 5]], [1e6, 1e30], rtol=1e-6)
    assert np.isfinite(activations.backprop_squareplus(np.ones_like(z), z, a)).all()


def test_swish_and_hard_swish_are_module_functions_as_in_keras():
    assert activations.swish is activations.silu and activations.backprop_swish is activations.backprop_silu
    assert activations.hard_swish is activations.hard_silu
    assert activations.backprop_hard_swish is activations.backprop_hard_silu


@pytest.mark.parametrize("make", [lambda: gn.layers.Dense(4, activation="glu"),
                                  lambda: gn.layers.Conv2D(4, 3, activation="glu"),
                                  lambda: gn.layers.Dense(4, activation=activations.ACTIVATIONS["glu"]),
                                  lambda: gn.layers.SimpleRNN(4, activation="glu")])
def test_glu_is_refused_by_layers_with_units(make):
    # Keras' Dense(4, activation="glu") declares (None, 4) and returns (batch, 2)
    with pytest.raises(ValueError, match=r"'glu' halves the last axis.*Dense\(2 \* units\).*Activation\('glu'\)"):
        make()


def test_glu_in_an_activation_layer_halves_the_last_axis_trains_and_saves(rng, tmp_path, keras):
    model = gn.Sequential([gn.Input((3, 4)), gn.layers.Dense(6), gn.layers.Activation("glu"), gn.layers.Flatten(),
                           gn.layers.Dense(1)], seed=0)
    assert model.layers[1].output_shape((3, 6)) == (3, 3)
    assert model.layers[3].params["kernel"].shape == (9, 1)          # built from the halved shape
    x, y = rng.standard_normal((8, 3, 4)), rng.standard_normal((8, 1))
    h = model.layers[0](x)
    np.testing.assert_allclose(model.layers[1](h), np.asarray(keras.layers.Activation("glu")(h)), rtol=1e-6)
    model.compile(loss="mse", optimizer="sgd")
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "glu.npz")
    loaded = gn.load_model(tmp_path / "glu.npz")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.layers[1].get_config()["activation"] == "glu"


def test_glu_refuses_an_odd_axis_by_name():
    layer = gn.layers.Activation("glu", name="gate")
    with pytest.raises(ValueError, match=r"gate.*glu halves the last axis.*even size.*\(5,\)"):
        layer.build((5,))
    with pytest.raises(ValueError, match=r"glu: the size of axis 1 must be even.*\(2, 5\)"):
        activations.glu(np.ones((2, 5)))


@pytest.mark.parametrize("name", [n for n in NEW if n != "glu"])
def test_a_model_file_keeps_the_new_activations(name, rng, tmp_path):
    model = gn.Sequential([gn.Input((5,)), gn.layers.Dense(4, activation=name),
                           gn.layers.Activation(name), gn.layers.Dense(2)], seed=1)
    x = rng.standard_normal((6, 5))
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert [layer.get_config().get("activation") for layer in loaded.layers[:2]] == [name, name]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_threshold_has_no_name_and_other_settings_come_as_an_activation_of_your_own(rng, tmp_path):
    with pytest.raises(ValueError, match=r"'threshold' needs settings.*threshold\(z, threshold, default_value\)"):
        gn.layers.Dense(3, activation="threshold")
    celu_2 = activations.Activation("celu_2", functools.partial(activations.celu, alpha=2.0),
                                    functools.partial(activations.backprop_celu, alpha=2.0))
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(4, activation=celu_2)], seed=0)
    x = rng.standard_normal((5, 3))
    layer = model.layers[0]
    np.testing.assert_allclose(model.predict(x), activations.celu(x @ layer.params["kernel"] + layer.params["bias"],
                                                                  alpha=2.0), rtol=1e-5)     # float32 model
    with pytest.raises(TypeError, match="celu_2"):     # a file holds names, never code
        model.save(tmp_path / "m.npz")


@pytest.mark.parametrize("call,error,message", [
    (lambda z: activations.celu(z, alpha=0.0), ValueError, r"celu: alpha must be a finite number > 0, got 0.0"),
    (lambda z: activations.backprop_celu(z, z, z, alpha=-1), ValueError, r"celu: alpha must be"),
    (lambda z: activations.squareplus(z, b=0), ValueError, r"squareplus: b must be a finite number > 0, got 0"),
    (lambda z: activations.soft_shrink(z, threshold=-0.5), ValueError, r"soft_shrink: threshold must be .*>= 0"),
    (lambda z: activations.hard_shrink(z, threshold="0.5"), ValueError, r"hard_shrink: threshold must be"),
    (lambda z: activations.threshold(z, 0.5, None), ValueError, r"threshold: default_value must be a number"),
    (lambda z: activations.glu(z, axis=2), ValueError, r"glu: axis: expected an axis of the input, which has 2, got 2"),
    (lambda z: activations.sparsemax(z, axis=1.0), TypeError, r"sparsemax: axis: expected an integer, got 1.0"),
    (lambda z: activations.gelu(z, approximate="tanh"), TypeError, r"gelu: approximate must be True or False, "
                                                                   r"got 'tanh'"),
    (lambda z: activations.backprop_gelu(z, z, z, approximate=None), TypeError, r"gelu: approximate must be"),
])
def test_bad_settings_are_refused_by_name(call, error, message):
    with pytest.raises(error, match=message):
        call(np.ones((2, 4)))


def test_sparsemax_in_torch_is_a_projection_too(torch, rng):
    """The torch oracle itself: rows on the simplex, and the known answer of the paper's example."""
    out = sparsemax_in_torch(torch, torch.tensor([[0.0, 0.5, 1.0], [1.0, 2.0, 3.0]])).numpy()
    np.testing.assert_allclose(out, [[0.0, 0.25, 0.75], [0.0, 0.0, 1.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_glu_of_huge_gate_inputs_matches_keras_and_torch(dtype, keras):
    """The gate of a very negative second half is 0 (or a subnormal), not sigmoid's clipped
    sigmoid(-88) ~ 6e-39: multiplied by a huge first half that gave 1.8 where Keras and PyTorch give 0."""
    torch = pytest.importorskip("torch")
    big = float(np.finfo(dtype).max) / 2
    z = np.array([[big, 1e4, 50.0, 2.0, -big, -100.0, -big, big]], dtype)       # halves: first | second
    ours = activations.glu(z)
    theirs = np.asarray(keras.activations.glu(z))
    t = torch.tensor(z, requires_grad=True)
    out = torch.nn.functional.glu(t, -1)
    out.sum().backward()
    assert ours.dtype == dtype
    np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=1e-30)
    np.testing.assert_allclose(ours, out.detach().numpy(), rtol=2e-6, atol=1e-30)
    grad = activations.backprop_glu(np.ones_like(ours), z, ours)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=2e-6, atol=1e-30)
