"""LayerNormalization(rms_scaling=True), Keras 3.15's deprecated option (x / sqrt(var + eps) * gamma,
no beta): weights and outputs against Keras 3.15, gradients against PyTorch autograd and finite
differences, a model trained side by side with Keras, config and model file."""
import os
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer
from glassnet.layers import Dense, LayerNormalization

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

pytestmark = pytest.mark.filterwarnings("ignore:.*rms_scaling.*:UserWarning")

SETTINGS = [({}, (5,)), ({"axis": [1, 2], "center": False}, (3, 4)), ({"scale": False, "epsilon": 0.1}, (2, 6)),
            ({"axis": 1}, (4, 3))]


def make(settings, shape, rng, dtype="float64"):
    layer = LayerNormalization(rms_scaling=True, dtype=dtype, **settings)
    layer.build(shape)
    layer.set_weights([rng.uniform(0.5, 2, w.shape).astype(w.dtype) for w in layer.get_weights()])
    return layer


@pytest.mark.parametrize("settings,shape", SETTINGS, ids=str)
def test_weights_and_outputs_match_keras(settings, shape, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours = make(settings, shape, rng, dtype="float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = keras.layers.LayerNormalization(rms_scaling=True, **settings)
    theirs.build((None, *shape))
    # gamma only, whatever center and scale say, as Keras'
    assert [w.name for w in theirs.weights] == list(ours.params) == ["gamma"]
    assert [tuple(w.shape) for w in theirs.get_weights()] == [w.shape for w in ours.get_weights()]
    theirs.set_weights(ours.get_weights())
    x = (3 * rng.normal(size=(4, *shape)) + 2).astype(np.float32)       # a mean far from 0 matters here
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("settings,shape", SETTINGS, ids=str)
def test_gradients_match_torch_autograd(settings, shape, rng, torch):
    layer = make(settings, shape, rng)
    x = 3 * rng.normal(size=(4, *shape)) + 2
    out = layer(x)
    upstream = rng.normal(size=out.shape)
    dx = layer.backward(upstream)
    axes = tuple(layer._batch_axes)
    xt = torch.tensor(x, requires_grad=True)
    gamma = torch.tensor(layer.params["gamma"], requires_grad=True)
    shape_b = [1] * x.ndim
    for a, size in zip(axes, gamma.shape):
        shape_b[a] = size
    var = xt.var(dim=axes, unbiased=False, keepdim=True)
    ref = xt / torch.sqrt(var + layer.epsilon) * gamma.reshape(shape_b)
    ref.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, ref.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-11)
    np.testing.assert_allclose(layer.grads["gamma"], gamma.grad.numpy(), atol=1e-11)


@pytest.mark.parametrize("settings,shape", SETTINGS[:2], ids=str)
def test_gradcheck_finite_differences(settings, shape, rng):
    layer = make(settings, shape, rng)
    report = check_layer(layer, 3 * rng.normal(size=(3, *shape)) + 2)
    assert set(report["errors"]) == {"input", "gamma"}


def test_warns_as_keras_and_the_default_is_unchanged():
    with pytest.warns(UserWarning, match="rms_scaling=True is deprecated.*RMSNormalization"):
        LayerNormalization(rms_scaling=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer = LayerNormalization()
    assert "rms_scaling" not in layer.get_config()
    with pytest.raises(TypeError, match="LayerNormalization: rms_scaling"):
        LayerNormalization(rms_scaling="yes")


def test_trains_as_keras_and_saves(rng, tmp_path):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(16, 6)).astype(np.float32)
    y = rng.normal(size=(16, 2)).astype(np.float32)
    ours = gn.Sequential([Dense(5, input_shape=(6,)), LayerNormalization(rms_scaling=True), Dense(2)], seed=0)
    ours.compile("mse", gn.optimizers.SGD(0.1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5),
                                   keras.layers.LayerNormalization(rms_scaling=True), keras.layers.Dense(2)])
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    assert ours.count_params() == theirs.count_params()
    theirs.set_weights(ours.get_weights())
    ours.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=3e-5)
    ours.save(tmp_path / "m.glassnet")
    loaded = gn.models.load_model(tmp_path / "m.glassnet")
    assert loaded.layers[1].rms_scaling is True and list(loaded.layers[1].params) == ["gamma"]
    np.testing.assert_array_equal(ours.predict(x, verbose=0), loaded.predict(x, verbose=0))
