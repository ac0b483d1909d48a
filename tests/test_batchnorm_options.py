"""BatchNormalization(center=False / scale=False) against Keras 3.15 (weights list, count_params,
outputs, a model trained side by side) and PyTorch autograd (gradients), finite differences, and
model files and configs keeping the options."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer
from glassnet.layers import BatchNormalization, Conv2D, Dense, Flatten

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

OPTIONS = [dict(center=False), dict(scale=False), dict(center=False, scale=False), dict()]


def random_weights(layer, rng):
    """Weights off the ones/zeros defaults, the moving variance positive."""
    weights = []
    for name, w in layer._weight_items():
        value = rng.uniform(0.5, 2, w.shape) if name in ("gamma", "moving_variance") else rng.normal(size=w.shape)
        weights.append(value.astype(w.dtype))
    layer.set_weights(weights)


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_weights_and_outputs_match_keras(options, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    shape = (3, 4, 5)
    ours = BatchNormalization(**options)
    ours.build(shape)
    theirs = keras.layers.BatchNormalization(**options)
    theirs.build((None, *shape))
    # Keras' weight list: its names and shapes, in its order; count_params as Keras'
    assert [w.name for w in theirs.weights] == [name for name, _ in ours._weight_items()]
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    assert ours.count_params() == theirs.count_params()
    random_weights(ours, rng)
    theirs.set_weights(ours.get_weights())
    x = (2 * rng.normal(size=(6, *shape)) + 1).astype(np.float32)
    for training in (False, True):
        np.testing.assert_allclose(ours(x, training=training), np.asarray(theirs(x, training=training)),
                                   rtol=1e-5, atol=2e-5)
    # the moving statistics moved alike
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("options", OPTIONS[:3], ids=str)
@pytest.mark.parametrize("training", [True, False])
def test_gradients_match_torch_autograd(options, training, rng, torch):
    shape = (3, 4, 2)
    layer = BatchNormalization(epsilon=1e-3, dtype="float64", **options)
    layer.build(shape)
    random_weights(layer, rng)
    x = rng.normal(1, 2, (5, *shape))
    out = layer(x, training=training)
    upstream = rng.standard_normal(out.shape)
    dx = layer.backward(upstream)

    xt = torch.tensor(x, requires_grad=True)
    gamma = torch.tensor(layer.params["gamma"], requires_grad=True) if layer.scale else None
    beta = torch.tensor(layer.params["beta"], requires_grad=True) if layer.center else None
    if training:
        mean = xt.mean(dim=(0, 1, 2))
        var = ((xt - mean) ** 2).mean(dim=(0, 1, 2))
    else:
        mean, var = (torch.tensor(layer.state[k]) for k in ("moving_mean", "moving_variance"))
    ref = (xt - mean) / torch.sqrt(var + 1e-3)
    ref = ref * gamma if gamma is not None else ref
    ref = ref + beta if beta is not None else ref
    ref.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, ref.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-10)
    for name, weight in (("gamma", gamma), ("beta", beta)):
        assert (weight is not None) == (name in layer.grads)
        if weight is not None:
            np.testing.assert_allclose(layer.grads[name], weight.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("options", OPTIONS[:3], ids=str)
@pytest.mark.parametrize("training", [True, False])
def test_gradcheck_finite_differences(options, training, rng):
    shape = (3, 2)
    layer = BatchNormalization(dtype="float64", **options)
    layer.build(shape)
    random_weights(layer, rng)
    report = check_layer(layer, rng.normal(1, 2, (5, *shape)), training=training)
    assert set(report["errors"]) == {"input", *(n for n in ("gamma", "beta") if n in layer.params)}


def test_first_layer_without_weights_still_updates_its_statistics(rng):
    # no gamma, no beta, no input gradient wanted: backward has nothing to do, and must not fail
    layer = BatchNormalization(center=False, scale=False, dtype="float64")
    x = rng.normal(3, 2, (8, 3))
    layer(x, training=True)
    layer.needs_input_gradient = False
    assert layer.backward(np.ones_like(x)) is None and layer.params == {} and layer.count_params() == 6
    np.testing.assert_allclose(layer.state["moving_mean"], 0.01 * x.mean(axis=0), rtol=1e-12)


@pytest.mark.parametrize("options", OPTIONS[:3], ids=str)
def test_a_cnn_trains_as_keras(options, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(16, 6, 6, 2)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    ours = gn.Sequential([Conv2D(4, 3, input_shape=(6, 6, 2)), BatchNormalization(**options), Flatten(),
                          Dense(3, activation="softmax")], seed=0)
    ours.compile("sparse_categorical_crossentropy", gn.optimizers.SGD(0.1))
    theirs = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Conv2D(4, 3),
                               keras.layers.BatchNormalization(**options), keras.layers.Flatten(),
                               keras.layers.Dense(3, activation="softmax")])
    theirs.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.1))
    assert ours.count_params() == theirs.count_params()
    theirs.set_weights(ours.get_weights())
    ours.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=3e-5)


def test_config_and_model_file_keep_the_options(rng, tmp_path):
    # a default layer's config is that of before; an option that is off is written
    assert "center" not in BatchNormalization().get_config()
    config = BatchNormalization(center=False, name="b").get_config()
    assert config["center"] is False and "scale" not in config
    assert BatchNormalization.from_config(config).center is False
    model = gn.Sequential([Dense(4, input_shape=(3,)), BatchNormalization(scale=False),
                           BatchNormalization(center=False, scale=False)], seed=0)
    model.compile("mse", "sgd")
    model.fit(rng.normal(size=(16, 3)), rng.normal(size=(16, 4)), epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "m.glassnet")
    loaded = gn.models.load_model(tmp_path / "m.glassnet")
    assert [sorted(layer.params) for layer in loaded.layers] == [["bias", "kernel"], ["beta"], []]
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = rng.normal(size=(5, 3))
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


@pytest.mark.parametrize("arg", ["center", "scale"])
def test_bad_flags_name_the_argument(arg):
    with pytest.raises(TypeError, match=rf"BatchNormalization: {arg}"):
        BatchNormalization(**{arg: "no"})
