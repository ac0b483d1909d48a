"""glassnet._numpy_c: NumPy's C functions for dot and einsum, called without their Python wrappers."""
import numpy as np
import pytest

from glassnet import _numpy_c
from glassnet.layers import Dense


def test_the_c_functions_are_not_the_wrappers():
    # if these fell back to np.dot / np.einsum the module would still be correct, only slower;
    # on the NumPy versions glassnet supports, both C functions are found
    assert _numpy_c.dot is not np.dot
    assert _numpy_c.einsum is not np.einsum


@pytest.mark.parametrize("shapes", [((32, 25), (25, 50)), ((50, 32), (32, 25)), ((32,), (32, 10)),
                                    ((7, 3), (3,)), ((5,), (5,))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dot_gives_np_dots_bits(shapes, dtype, rng):
    a, b = (rng.standard_normal(s).astype(dtype) for s in shapes)
    want = np.dot(a, b)
    got = _numpy_c.dot(a, b)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    if want.ndim:                                   # into an out, as Dense's backward calls it
        out = np.empty_like(want)
        assert _numpy_c.dot(a, b, out=out) is out
        np.testing.assert_array_equal(out, want)


def test_dot_refuses_an_out_of_another_dtype_like_np_dot(rng):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    for dot in (np.dot, _numpy_c.dot):
        with pytest.raises(ValueError):
            dot(a, b, out=np.empty((4, 2), np.float32))


@pytest.mark.parametrize("n_in, units", [(784, 100), (100, 50), (3, 4)])
def test_einsum_gives_np_einsums_bits(n_in, units, rng):
    x = rng.standard_normal((1, n_in)).astype(np.float32)
    g = rng.standard_normal((1, units)).astype(np.float32)
    want = np.einsum("ki,kj->ij", x, g)
    out = np.empty((n_in, units), np.float32)
    _numpy_c.einsum("ki,kj->ij", x, g, out=out)
    np.testing.assert_array_equal(out, want)


class _Tagged(np.ndarray):
    """An array type other than np.ndarray, standing in for CuPy: it must keep np.dot's dispatch."""


def test_dense_keeps_np_dot_for_other_array_types(monkeypatch, rng):
    calls = []
    real_dot = np.dot

    def counting_dot(*args, **kwargs):
        calls.append(1)
        return real_dot(*args, **kwargs)

    monkeypatch.setattr(np, "dot", counting_dot)
    layer = Dense(5, seed=0)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    g = rng.standard_normal((4, 5)).astype(np.float32)
    layer(x)
    layer.backward(g)
    assert calls == []                  # NumPy arrays: the C function, no wrapper
    want = (layer.a.copy(), layer.backward(g).copy(), layer.grads["kernel"].copy())
    layer.params["kernel"] = layer.params["kernel"].view(_Tagged)
    layer(x)
    got_dx = layer.backward(g)
    assert len(calls) == 4              # forward, kernel and bias gradients, input gradient
    np.testing.assert_array_equal(layer.a, want[0])
    np.testing.assert_array_equal(got_dx, want[1])
    np.testing.assert_array_equal(layer.grads["kernel"], want[2])
