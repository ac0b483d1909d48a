"""Review of Keras 3's further activations (glassnet.activations): what the feature's own tests
left out."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import activations, backend

from test_fakecupy import fake_cupy


@pytest.fixture
def cupy():
    """The strict CuPy stand-in (tests/fakecupy) as the backend: a NumPy array mixed into a device
    computation, or a device array read back to NumPy implicitly, is a TypeError there, as in CuPy."""
    with fake_cupy() as module:
        gn.set_backend("cupy")
        try:
            yield module
        finally:
            gn.set_backend("numpy")


@pytest.mark.parametrize("name,settings", [("sparsemax", {}), ("sparsemax", {"axis": 0}),
                                           ("glu", {}), ("glu", {"axis": 0})])
def test_sparsemax_and_glu_compute_on_the_device_what_they_compute_on_the_host(name, settings, cupy):
    # sparsemax made its ranks with np.arange (a host array in a device product); glu made the
    # gate contiguous with np.ascontiguousarray (a device array read back to the host)
    rng = np.random.default_rng(0)
    z = (rng.standard_normal((4, 6)) * 2).astype(np.float32)
    forward = getattr(activations, name)
    backward = getattr(activations, "backprop_" + name)
    a = forward(z, **settings)
    grad = rng.standard_normal(a.shape).astype(np.float32)
    a_device = forward(cupy.asarray(z), **settings)
    assert isinstance(a_device, cupy.ndarray)
    np.testing.assert_array_equal(backend.to_numpy(a_device), a)
    g_device = backward(cupy.asarray(grad), cupy.asarray(z), a_device, **settings)
    assert isinstance(g_device, cupy.ndarray)
    np.testing.assert_array_equal(backend.to_numpy(g_device), backward(grad, z, a, **settings))


def test_a_model_with_sparsemax_and_glu_trains_on_the_device_as_on_the_host(cupy):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 5)).astype(np.float32), rng.standard_normal((16, 2)).astype(np.float32)

    def train():
        model = gn.Sequential([gn.Input((5,)), gn.layers.Dense(8, activation="sparsemax"), gn.layers.Dense(6),
                               gn.layers.Activation("glu"), gn.layers.Dense(2)], seed=0)
        model.compile(loss="mse", optimizer="sgd")
        return model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"], model

    previous = backend.get_backend()
    gn.set_backend("numpy")
    try:
        host_loss, host = train()
    finally:
        gn.set_backend(previous)
    device_loss, device = train()
    assert device_loss == host_loss
    np.testing.assert_array_equal(device.predict(x), host.predict(x))
