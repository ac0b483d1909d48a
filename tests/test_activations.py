"""Activations: finite-difference gradients, PyTorch parity, stability at |z| = 1e4, dtype kept."""
import warnings
from pathlib import Path

import numpy as np
import pytest

from glassnet import activations
from glassnet.gradcheck import numerical_gradient
from keras_activations_torch import keras_activations_in_torch

NAMES = sorted(activations.ACTIVATIONS)


def _off_kinks(rng, shape):
    z = rng.standard_normal(shape)
    # relu-like kinks at 0 (the shrinks' at +-0.5, hard_tanh's and the sparse ones' at +-1) have no derivative
    for kink in (0.0, 0.5, 1.0):
        z = np.where(np.abs(np.abs(z) - kink) < 0.05, np.sign(z) * (kink + 0.1), z)
    return z


@pytest.mark.parametrize("name", NAMES)
def test_backward_matches_finite_differences(name, rng):
    act = activations.get(name, reshaping=True)
    z = _off_kinks(rng, (4, 6))
    a = act.forward(z)
    weights = rng.standard_normal(a.shape)           # glu: (4, 3)
    analytic = act.backward(weights, z, a)
    numeric = numerical_gradient(lambda: float(np.sum(act.forward(z) * weights)), z)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_matches_torch(name, rng, torch):
    fns = {"linear": lambda t: t, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
           "leaky_relu": lambda t: torch.nn.functional.leaky_relu(t, 0.01),
           "elu": torch.nn.functional.elu, "softmax": lambda t: torch.softmax(t, dim=-1),
           "selu": torch.nn.functional.selu, "softplus": torch.nn.functional.softplus,
           "softsign": torch.nn.functional.softsign, "silu": torch.nn.functional.silu,
           "gelu": torch.nn.functional.gelu, "hard_sigmoid": torch.nn.functional.hardsigmoid,
           "relu6": torch.nn.functional.relu6, "hard_silu": torch.nn.functional.hardswish,
           "mish": torch.nn.functional.mish, "log_softmax": lambda t: torch.log_softmax(t, dim=-1),
           **keras_activations_in_torch(torch)}
    z = _off_kinks(rng, (6, 4)) * (3 if name in ("relu6", "hard_silu") else 1)    # past their kinks at +-3, 6
    z = np.where(np.abs(np.abs(z) - 3) < 0.05, 3.2, z)
    tz = torch.tensor(z, requires_grad=True)
    out = fns[name](tz)
    upstream = rng.standard_normal(tuple(out.shape))
    out.backward(torch.tensor(upstream))
    act = activations.get(name, reshaping=True)
    a = act.forward(z)
    np.testing.assert_allclose(a, out.detach().numpy(), rtol=1e-12, atol=1e-14)
    # PyTorch's hardsigmoid (and hardswish) backward multiplies by 1.0f / 6.0f, a float32 constant,
    # even in float64
    rtol = 1e-7 if name in ("hard_sigmoid", "hard_silu") else 1e-10
    np.testing.assert_allclose(act.backward(upstream, z, a), tz.grad.numpy(), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_at_extremes(name, dtype):
    z = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype=dtype)
    if name == "exponential":
        pytest.skip("e^z overflows to inf above ~88 (float32), as Keras' and PyTorch's exp")
    z = np.hstack([z, z[:, ::-1]])                       # glu: an even last axis
    act = activations.get(name, reshaping=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")               # an overflow warning fails the test
        # underflow to 0 is the right answer here (NumPy does not warn on it); overflow,
        # invalid operations and division by zero would be errors
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            a = act.forward(z)
            g = act.backward(np.ones_like(a), z, a)
    assert np.isfinite(a).all() and np.isfinite(g).all()
    assert a.dtype == dtype and g.dtype == dtype


def test_sigmoid_values():
    a = activations.sigmoid(np.array([-1e4, 0.0, 1e4, 2.0]))
    np.testing.assert_allclose(a, [0.0, 0.5, 1.0, 1 / (1 + np.exp(-2.0))], atol=1e-15)


def test_softmax_rows_sum_to_one(rng):
    a = activations.softmax(rng.standard_normal((5, 7)) * 100)
    np.testing.assert_allclose(a.sum(axis=1), 1.0)


def test_leaky_relu_has_pytorch_s_slope_and_the_docs_say_which():
    # 0.01 (torch.nn.LeakyReLU's default), not Keras' 0.2 ("leaky_relu") or 0.3 (LeakyReLU layer):
    # results depend on it, so the value stays and the docs must state it
    z = np.array([-2.0, 3.0])
    np.testing.assert_allclose(activations.leaky_relu(z), [-0.02, 3.0])
    np.testing.assert_allclose(activations.backprop_leaky_relu(np.ones(2), z, None), [0.01, 1.0])
    for doc in (activations.__doc__, activations.leaky_relu.__doc__):
        assert "0.01" in doc and "0.2" in doc
    page = Path(__file__).resolve().parents[1] / "docs" / "activations.md"     # moved there from the README's table
    if not page.exists():
        pytest.skip("docs/activations.md is not next to the tests")
    row = page.read_text(encoding="utf-8")
    assert "`leaky_relu` (slope 0.01" in row and "0.2" in row


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="relu") as info:
        activations.get("rectifier")
    assert "'rectifier'" in str(info.value)


@pytest.mark.parametrize("shape", [(4, 5), (80, 60)])     # both sides of the small-array path's size
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_backward_passes_the_gradient_where_z_is_positive(shape, dtype, rng):
    z = rng.standard_normal(shape).astype(dtype)
    z.flat[:4] = [0.0, -0.0, 1e-30, -1e-30]       # at exactly 0 the derivative is 0, as in PyTorch
    g = rng.standard_normal(shape).astype(dtype)
    relu = activations.get("relu")
    got = relu.backward(g, z, relu.forward(z))
    np.testing.assert_array_equal(got, np.where(z > 0, g, 0))
    assert got.dtype == dtype and got.shape == shape


def test_swish_is_silu_and_configs_name_it_silu():
    from glassnet.layers import Dense
    assert activations.get("swish") is activations.get("silu")
    assert Dense(2, activation="swish").get_config()["activation"] == "silu"


def test_every_activation_is_documented_in_docs_activations():
    page = Path(__file__).resolve().parents[1] / "docs" / "activations.md"     # moved there from the README's table
    if not page.exists():
        pytest.skip("docs/activations.md is not next to the tests")
    row = page.read_text(encoding="utf-8")
    for name in [*NAMES, *activations.ALIASES]:
        assert f"`{name}`" in row, name


def test_hard_sigmoid_is_keras_3_s(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    z = np.concatenate([rng.normal(scale=3, size=40), [-3.0, 3.0, 0.0]]).astype(np.float32)
    np.testing.assert_allclose(activations.get("hard_sigmoid").forward(z),
                               np.asarray(keras.activations.hard_sigmoid(z)), rtol=1e-6, atol=1e-7)


def test_elementwise_knows_the_built_in_activations_even_after_a_copy():
    """The recurrent layers run one activation call over all their gates when it acts value by value
    (activations.elementwise); a pickled layer's Activation is a copy, and keeps that."""
    import copy
    import pickle
    from glassnet.activations import ACTIVATIONS, Activation, elementwise
    for name, activation in ACTIVATIONS.items():
        for twin in (activation, pickle.loads(pickle.dumps(activation)), copy.deepcopy(activation)):
            assert elementwise(twin) == (name not in ("softmax", "log_softmax", "sparsemax", "glu"))
    assert not elementwise(Activation("mine", lambda z: z, lambda g, z, a: g))


# -- the module's functions called on what Keras' keras.activations.* take -----------------------
@pytest.mark.parametrize("name", sorted(set(activations.ACTIVATIONS) - {"glu"}))
def test_module_functions_take_numbers_lists_and_integer_arrays(name):
    # a Python number, a list, a 0-d array and integers give float32 (Keras' floatx), the same
    # values as the float32 array; before, sigmoid(0) failed on NumPy's scalar, silu([1, 2]) on
    # a list's missing dtype, log_softmax(np.array([1, 2])) on an integer array
    f = getattr(activations, name)
    values = [-2, 0, 3]
    expected = f(np.array(values, dtype=np.float32))
    for given in (values, np.array(values), np.array(values, dtype=np.int8)):
        out = f(given)
        assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == (3,)
        np.testing.assert_array_equal(out, expected)
    if name not in ("softmax", "log_softmax", "sparsemax"):      # they mix values along the last axis
        for scalar in (3, 3.0, np.array(3), np.int64(3)):
            out = f(scalar)
            assert out.shape == () and out.dtype == np.float32
            assert out == expected[2]
    # a float64 array or number stays float64
    assert f(np.array([1.0, -2.0])).dtype == np.float64
    assert f(np.float64(1.5)).dtype == np.float64


def test_glu_takes_a_list_and_the_module_function_still_names_its_activation():
    np.testing.assert_allclose(activations.glu([1, 2, 0, 0]), [0.5, 1.0])
    # Dense(activation=gn.activations.relu), serialize(relu): the function is the built-in's
    from glassnet.layers import Dense
    assert Dense(3, activation=activations.relu).activation is activations.ACTIVATIONS["relu"]
    assert activations.serialize(activations.swish) == "silu"
    assert activations.get(activations.gelu) is activations.ACTIVATIONS["gelu"]
    np.testing.assert_array_equal(activations.threshold([1, 3], 2, 0), [0.0, 3.0])


def test_an_activation_made_of_the_module_functions_is_still_the_built_in_one():
    # the module's relu wraps the Activation's own function: one made from it is still recognised
    # (elementwise, the built-in for a file, glu's halving)
    made = activations.Activation("relu", activations.relu, activations.backprop_relu)
    assert activations.elementwise(made)
    assert activations.builtin_of(made) is activations.ACTIVATIONS["relu"]
    assert activations.reshapes(activations.Activation("glu", activations.glu, activations.backprop_glu))
    assert not activations.elementwise(activations.Activation("softmax", activations.softmax,
                                                              activations.backprop_softmax))
