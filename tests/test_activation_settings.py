"""Keras' settings of relu, elu and leaky_relu as keyword arguments of glassnet's functions:
values against Keras 3.15's functions, derivatives against float64 finite differences."""
import numpy as np
import pytest

from glassnet import activations as A

SETTINGS = [
    ("relu", {"negative_slope": 0.1}),
    ("relu", {"max_value": 6.0}),
    ("relu", {"max_value": 2.5, "negative_slope": 0.3}),
    ("relu", {"threshold": 0.5}),
    ("relu", {"threshold": 0.5, "max_value": 3.0, "negative_slope": 0.2}),
    ("elu", {"alpha": 0.5}),
    ("elu", {"alpha": 2.0}),
    ("leaky_relu", {"negative_slope": 0.2}),
]
# points away from every kink (0, the thresholds, the ceilings), where the derivative is defined
Z = np.array([[-3.1, -0.7, 0.2, 0.8, 1.7, 2.9, 4.2, 7.3]])


@pytest.mark.parametrize("name, settings", SETTINGS)
def test_values_are_keras(name, settings):
    keras = pytest.importorskip("keras")
    expected = np.asarray(getattr(keras.activations, name)(Z.astype("float32"), **settings))
    got = getattr(A, name)(Z.astype(np.float32), **settings)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name, settings", SETTINGS)
def test_backward_is_the_derivative(name, settings):
    forward, backward = getattr(A, name), getattr(A, "backprop_" + name)
    g = np.linspace(0.5, 1.5, Z.size).reshape(Z.shape)
    a = forward(Z, **settings)
    h = 1e-6
    numeric = (forward(Z + h, **settings) - forward(Z - h, **settings)) / (2 * h) * g
    np.testing.assert_allclose(backward(g, Z, a, **settings), numeric, rtol=1e-7, atol=1e-9)


def test_defaults_are_unchanged_and_settings_differ_from_them():
    np.testing.assert_array_equal(A.relu(Z), np.maximum(Z, 0))
    assert A.relu(Z, max_value=1.0).max() == 1.0
    np.testing.assert_allclose(A.leaky_relu(Z), np.where(Z > 0, Z, 0.01 * Z))
    np.testing.assert_allclose(A.elu(Z, alpha=2.0), np.where(Z > 0, Z, 2 * np.expm1(Z)))


def test_bad_settings_are_refused_by_name():
    with pytest.raises(ValueError, match="negative_slope"):
        A.relu(Z, negative_slope=-1.0)
    with pytest.raises((TypeError, ValueError), match="elu: alpha"):
        A.elu(Z, alpha=float("nan"))
