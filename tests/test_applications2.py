"""More of Keras 3.15's keras.applications built from scratch (weights=None), against Keras: the
same model name, the same graph nodes in the same order with the same names (Keras' operations,
including the ``x + 3.0`` and ``* (1/6)`` nodes MobileNetV3 draws), parameter count and weight
shapes; Keras' weights (perturbed: random BatchNormalization statistics and biases) carried over with
set_weights predict the same (1e-4, float32) on small inputs. Without Keras: published parameter
counts, argument refusals and the hard-swish gate's gradient against finite differences."""
import numpy as np
import pytest

import glassnet as gn


def _perturbed(km, rng):
    out = []
    for v, w in zip(km.weights, km.get_weights()):
        leaf = v.path.rsplit("/", 1)[-1]
        if leaf == "moving_variance":
            w = rng.uniform(0.5, 1.5, w.shape)
        elif leaf == "gamma":
            w = rng.uniform(0.8, 1.2, w.shape)
        elif leaf in ("moving_mean", "beta", "bias"):
            w = rng.normal(0, 0.1, w.shape)
        out.append(np.asarray(w, np.float32))
    return out


def _compare(keras, name, kwargs, low=0.0, high=255.0):
    keras.utils.clear_session()
    gn.utils.clear_session()
    km = getattr(keras.applications, name)(weights=None, **kwargs)
    gm = getattr(gn.applications, name)(weights=None, **kwargs)
    assert gm.name == km.name
    assert [op.name for op in gm.layers] == [op.name for op in km.operations
                                             if type(op).__name__ != "InputLayer"]
    assert [w.shape for w in gm.get_weights()] == [tuple(w.shape) for w in km.get_weights()]
    assert gm.count_params() == km.count_params()
    assert tuple(gm.output_shape) == tuple(km.output_shape)
    ws = _perturbed(km, np.random.default_rng(0))
    km.set_weights(ws)
    gm.set_weights(ws)
    shape = tuple(d or 32 for d in km.input_shape[1:])
    x = np.random.default_rng(1).uniform(low, high, (2,) + shape).astype(np.float32)
    want = np.asarray(km.predict(x, verbose=0))
    got = gm.predict(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


FAST = [("MobileNetV3Small", dict(input_shape=(32, 32, 3), classes=5)),
        ("MobileNetV3Small", dict(input_shape=(40, 36, 3), alpha=0.75, minimalistic=True, include_top=False,
                                  pooling="avg")),
        ("MobileNetV3Small", dict(include_top=False, include_preprocessing=False, pooling="max")),
        ("MobileNetV3Large", dict(input_shape=(32, 32, 3), classes=4, dropout_rate=0.0)),
        ("MobileNetV3Large", dict(input_shape=(35, 33, 3), alpha=1.25, minimalistic=True, classes=3)),
        ("Xception", dict(input_shape=(71, 71, 3), classes=5)),
        ("Xception", dict(input_shape=(75, 80, 3), include_top=False, pooling="max")),
        ("InceptionV3", dict(input_shape=(75, 75, 3), classes=5)),
        ("InceptionV3", dict(input_shape=(80, 76, 3), include_top=False, pooling="avg"))]


@pytest.mark.parametrize("name,kwargs", FAST, ids=[f"{n}-{i}" for i, (n, _) in enumerate(FAST)])
def test_architecture_matches_keras(keras, name, kwargs):
    _compare(keras, name, kwargs)


@pytest.mark.parametrize("name,kwargs,count", [
    ("MobileNetV3Small", {}, 2554968), ("MobileNetV3Large", {}, 5507432),
    ("MobileNetV3Small", dict(include_top=False), 939120), ("MobileNetV3Large", dict(include_top=False), 2996352),
    ("Xception", {}, 22910480), ("InceptionV3", {}, 23851784)])
def test_parameter_counts_are_keras_published_ones(name, kwargs, count):
    """Keras' documented sizes (keras.io/api/applications), built without Keras."""
    gn.utils.clear_session()
    assert getattr(gn.applications, name)(weights=None, **kwargs).count_params() == count


def test_mobilenet_v3_refusals_name_the_argument():
    apps = gn.applications
    with pytest.raises(ValueError, match="weights='imagenet'"):
        apps.MobileNetV3Small()
    with pytest.raises(ValueError, match="alpha"):
        apps.MobileNetV3Large(weights=None, alpha=0)
    with pytest.raises(ValueError, match="dropout_rate"):
        apps.MobileNetV3Small(weights=None, dropout_rate=1.5)
    with pytest.raises(ValueError, match="pooling"):
        apps.MobileNetV3Small(weights=None, include_top=False, pooling="sum")
    with pytest.raises(ValueError, match="at least 32"):
        apps.MobileNetV3Small(weights=None, input_shape=(16, 16, 3))
    with pytest.raises(TypeError, match="input_tensor"):
        apps.MobileNetV3Small(weights=None, input_tensor=np.zeros((1, 32, 32, 3)))
    x = np.arange(6.0)
    assert gn.applications.mobilenet_v3.preprocess_input(x) is x


def test_squeeze_excite_gate_gradient_matches_finite_differences():
    """The hard-sigmoid gate as the model draws it (``ReLU(6)(x + 3) * (1/6)``) times the map,
    broadcast over H and W, after a convolution: every weight's gradient of the loss in float64
    against central differences (the pre-activations spread over (-3, 3), off the kinks)."""
    from glassnet.applications.mobilenet_v3 import _se_block
    gn.utils.clear_session()
    inp = gn.layers.Input((3, 3, 2))
    x = gn.layers.Conv2D(8, 1, name="pre")(inp)
    out = gn.layers.GlobalAveragePooling2D()(_se_block(x, 8, 0.25, "t_"))
    model = gn.Model(inp, out, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.7, w.shape) for w in model.get_weights()])
    x, y = rng.normal(0, 1, (3, 3, 3, 2)), rng.normal(0, 1, (3, 8))
    report = gn.gradcheck.check_model(model, x, y)
    assert report["max_error"] < 1e-6


@pytest.mark.parametrize("name,module,min_size", [("Xception", "xception", 71),
                                                   ("InceptionV3", "inception_v3", 75)])
def test_refusals_and_preprocessing(keras, name, module, min_size):
    with pytest.raises(ValueError, match="weights='imagenet'"):
        getattr(gn.applications, name)()
    with pytest.raises(ValueError, match=f"at least {min_size}"):
        getattr(gn.applications, name)(weights=None, input_shape=(min_size - 1, 90, 3), include_top=False)
    with pytest.raises(ValueError, match="pooling"):
        getattr(gn.applications, name)(weights=None, include_top=False, pooling="mean")
    x = np.random.default_rng(2).uniform(0, 255, (2, 4, 4, 3)).astype(np.float32)
    want = np.asarray(getattr(keras.applications, module).preprocess_input(x.copy()))
    np.testing.assert_allclose(getattr(gn.applications, module).preprocess_input(x.copy()), want, rtol=1e-6)
