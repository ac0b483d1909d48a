"""InceptionResNetV2, NASNetMobile and NASNetLarge (Keras 3.15's keras.applications.inception_resnet_v2
and .nasnet) built from scratch (weights=None), against Keras: the same model name, layers in the same
order with the same names, parameter count and weight shapes; Keras' weights (perturbed: random
biases and BatchNormalization statistics) carried over with set_weights predict the same (1e-4,
float32) at their smallest inputs (75 x 75, 32 x 32); two SGD steps of NASNetMobile in float64
(BatchNormalization in training) end on Keras' weights. InceptionResNetV2's CustomScaleLayer against
Keras' class and float64 finite differences (the
blocks' other layers are glassnet's own, checked in their tests; the whole network's gradient is
the float64 steps against Keras'). Without Keras: Keras' published parameter counts, shape
rules, refusals by name, a save/load round trip."""
import numpy as np
import pytest

import glassnet as gn


def _perturbed(km, rng, dtype=np.float32):
    """Keras' weights with BatchNormalization's statistics, scales and offsets and the biases made
    random (fresh ones are 0 and 1, which would hide a swapped pair)."""
    out = []
    for v, w in zip(km.weights, km.get_weights()):
        leaf = v.path.rsplit("/", 1)[-1]
        if leaf == "moving_variance":
            w = rng.uniform(0.5, 1.5, w.shape)
        elif leaf == "gamma":
            w = rng.uniform(0.8, 1.2, w.shape)
        elif leaf in ("moving_mean", "beta", "bias"):
            w = rng.normal(0, 0.1, w.shape)
        out.append(np.asarray(w, dtype))
    return out


def _build_both(keras, name, kwargs):
    keras.utils.clear_session()
    gn.utils.clear_session()
    return getattr(keras.applications, name)(weights=None, **kwargs), getattr(gn.applications, name)(
        weights=None, **kwargs)


def _compare(keras, name, kwargs, low=-1.0, high=1.0):
    km, gm = _build_both(keras, name, kwargs)
    assert gm.name == km.name
    assert [layer.name for layer in gm.layers] == [layer.name for layer in km.layers
                                                   if type(layer).__name__ != "InputLayer"]
    assert [type(layer).__name__ for layer in gm.layers] == [type(layer).__name__ for layer in km.layers
                                                             if type(layer).__name__ != "InputLayer"]
    assert [w.shape for w in gm.get_weights()] == [tuple(w.shape) for w in km.weights]
    assert gm.count_params() == km.count_params()
    assert tuple(gm.output_shape) == tuple(km.output_shape)
    ws = _perturbed(km, np.random.default_rng(0))
    km.set_weights(ws)
    gm.set_weights(ws)
    shape = tuple(d or 32 for d in km.input_shape[1:])
    x = np.random.default_rng(1).uniform(low, high, (2,) + shape).astype(np.float32)
    want = np.asarray(km.predict(x, verbose=0))
    got = gm.predict(x)
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name,kwargs", [
    ("InceptionResNetV2", dict(input_shape=(75, 75, 3), classes=5)),
    ("InceptionResNetV2", dict(input_shape=(75, 83, 3), include_top=False)),
    ("NASNetMobile", dict(input_shape=(32, 32, 3), include_top=False)),
    ("NASNetMobile", dict(input_shape=(33, 40, 3), classes=4)),
    ("NASNetMobile", dict(input_shape=(32, 32, 3), include_top=False, pooling="max"))],
    ids=["irv2-top", "irv2-notop", "nasm-notop", "nasm-top-odd", "nasm-max"])
def test_architecture_matches_keras(keras, name, kwargs):
    _compare(keras, name, kwargs)


@pytest.mark.slow
def test_nasnet_large_matches_keras(keras):
    _compare(keras, "NASNetLarge", dict(input_shape=(32, 32, 3), include_top=False, pooling="avg"))


def test_nasnet_mobile_fit_steps_match_keras_in_float64(keras):
    """Two SGD steps in float64 (batch statistics in BatchNormalization, moving statistics updated
    with NASNet's momentum 0.9997) from the same weights end on the same weights as Keras'."""
    keras.utils.clear_session()
    gn.utils.clear_session()
    previous = keras.config.floatx()
    keras.config.set_floatx("float64")
    # four samples, lr 1e-3: at 32 x 32 the last cells are 1 x 1, where BatchNormalization's
    # statistics are over the batch alone; with two samples (or lr 1e-2, which moves some scales by
    # 0.8 in one step) the second loss amplified round-off to 2e-9-4e-9 relative (measured); here
    # the losses agree to 3e-13 and the steps to 2e-11 relative (measured)
    rtol, lr = 1e-9, 1e-3
    try:
        kwargs = dict(input_shape=(32, 32, 3), classes=3, classifier_activation=None, weights=None)
        km = keras.applications.NASNetMobile(**kwargs)
        config = gn.applications.NASNetMobile(**kwargs).get_config()
        config["dtype"] = "float64"
        gm = gn.Model.from_config(config)
        ws = _perturbed(km, np.random.default_rng(2), np.float64)
        km.set_weights(ws)
        gm.set_weights(ws)
        rng = np.random.default_rng(3)
        x, y = rng.uniform(-1, 1, (4, 32, 32, 3)), rng.normal(size=(4, 3))
        km.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
        gm.compile(optimizer=gn.optimizers.SGD(learning_rate=lr), loss="mse")
        hk = km.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
        hg = gm.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
        np.testing.assert_allclose(hg, hk, rtol=rtol)
        after = km.get_weights()
        for w_g, w_k, w0, v in zip(gm.get_weights(), after, ws, km.weights):
            # the steps themselves agree, not only the weights (which barely move)
            step = np.abs(w_k - w0).max()
            np.testing.assert_allclose(w_g - w0, w_k - w0, atol=max(step * rtol * 100, 1e-12), err_msg=v.path)
        assert max(np.abs(w_k - w0).max() for w_k, w0 in zip(after, ws)) > 1e-3
    finally:
        keras.config.set_floatx(previous)


# --- CustomScaleLayer (Keras' keras.applications.inception_resnet_v2 class, gn.layers here) ---------

def test_custom_scale_layer_matches_keras(keras):
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(2, 3, 4, 5)).astype(np.float32), rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    ours = gn.layers.CustomScaleLayer(0.17)
    theirs = CustomScaleLayer(0.17)
    got = ours([a, b])
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np.asarray(theirs([a, b])), rtol=1e-6, atol=1e-7)
    assert ours.get_config()["scale"] == theirs.get_config()["scale"] == 0.17
    ia, ib = gn.Input((3, 4, 5)), gn.Input((3, 4, 5))
    assert gn.layers.CustomScaleLayer(0.1)([ia, ib]).shape == (None, 3, 4, 5)


def test_custom_scale_layer_gradient_matches_finite_differences():
    rng = np.random.default_rng(5)
    layer = gn.layers.CustomScaleLayer(0.3, dtype="float64")
    a, b, w = (rng.normal(size=(2, 3, 2, 4)) for _ in range(3))
    layer.build([a.shape[1:], b.shape[1:]])

    def loss():
        return float((layer.forward([a, b]) * w).sum())

    loss()
    grads = layer.backward(w.copy())
    for x, g in zip((a, b), grads):
        assert g.shape == x.shape
        np.testing.assert_allclose(g, gn.gradcheck.numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)


def test_custom_scale_layer_refusals_name_the_argument():
    with pytest.raises(ValueError, match=r"CustomScaleLayer: scale must be a finite number, got 'big'"):
        gn.layers.CustomScaleLayer("big")
    ia, ib, ic = gn.Input((3,)), gn.Input((3,)), gn.Input((3,))
    with pytest.raises(ValueError, match=r"merges exactly 2 inputs, got 3"):
        gn.layers.CustomScaleLayer(0.1)([ia, ib, ic])
    with pytest.raises(ValueError, match=r"needs inputs of one shape"):
        gn.layers.CustomScaleLayer(0.1)([ia, gn.Input((4,))])


# --- without Keras: builds, shapes, published counts, refusals, files ------------------------------

@pytest.mark.parametrize("name,count,side", [
    # Keras' documented sizes (keras.io/api/applications: "Size / Parameters")
    ("InceptionResNetV2", 55873736, 299), ("NASNetMobile", 5326716, 224), ("NASNetLarge", 88949818, 331)])
def test_parameter_counts_are_keras_published_ones(name, count, side):
    gn.utils.clear_session()
    model = getattr(gn.applications, name)(weights=None)
    assert model.count_params() == count
    assert model.input_shape == (None, side, side, 3) and model.output_shape == (None, 1000)


def test_shapes_and_names_follow_keras_rules():
    apps = gn.applications
    gn.utils.clear_session()
    # NASNetMobile without the top keeps Keras' (224, 224, 3), not (None, None, 3)
    assert apps.NASNetMobile(weights=None, include_top=False).output_shape == (None, 7, 7, 1056)
    assert apps.NASNetLarge(weights=None, include_top=False).input_shape == (None, None, None, 3)
    model = apps.InceptionResNetV2(weights=None, include_top=False, input_shape=(75, 75, 3), pooling="max")
    assert model.name == "inception_resnet_v2" and model.output_shape == (None, 1536)
    model = apps.NASNetMobile(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="avg")
    assert model.name == "nasnet_mobile" and model.output_shape == (None, 1056)
    x = np.random.default_rng(7).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    out = model.predict(x)
    assert out.shape == (1, 1056) and out.dtype == np.float32 and np.isfinite(out).all()
    model = apps.InceptionResNetV2(weights=None, include_top=False, input_shape=(75, 75, 3), pooling="avg")
    out = model.predict(np.zeros((1, 75, 75, 3), np.float32))
    assert out.shape == (1, 1536) and np.isfinite(out).all()
    assert apps.nasnet.NASNet(weights=None, input_shape=(32, 32, 3), penultimate_filters=96, num_blocks=1,
                              stem_block_filters=8, include_top=False).output_shape == (None, 1, 1, 96)


@pytest.mark.parametrize("builder,min_side", [("InceptionResNetV2", 75), ("NASNetMobile", 32), ("NASNetLarge", 32)])
def test_bad_arguments_are_refused_by_name(builder, min_side, tmp_path):
    build = getattr(gn.applications, builder)
    with pytest.raises(ValueError, match=r"weights='imagenet'.*downloads.*weights=None"):
        build()                                       # Keras' default
    with pytest.raises(ValueError, match=r"weights=.*\.h5.*Keras file"):
        build(weights=str(tmp_path / "w.h5"))
    with pytest.raises(TypeError, match=r"weights must be None or the path"):
        build(weights=3)
    side = min_side - 1
    with pytest.raises(ValueError, match=rf"at least {min_side}x{min_side}; received input_shape=\({side}, 90, 3\)"):
        build(weights=None, input_shape=(side, 90, 3), include_top=False)
    with pytest.raises(ValueError, match=r"include_top is True.*static input_shape"):
        build(weights=None, input_shape=(None, None, 3))
    with pytest.raises(ValueError, match=rf"{builder}: pooling must be None, 'avg' or 'max'; received pooling='mean'"):
        build(weights=None, include_top=False, pooling="mean")
    with pytest.raises(TypeError, match=r"input_tensor must be a glassnet symbolic tensor.*ndarray"):
        build(weights=None, input_tensor=np.zeros((1, 96, 96, 3)), include_top=False)


def test_nasnet_and_block_arguments_are_checked():
    from glassnet.applications.inception_resnet_v2 import inception_resnet_block
    with pytest.raises(ValueError, match=r"penultimate_filters must be a multiple of 24 \* filter_multiplier "
                                         r"\*\* 2 = 96; received penultimate_filters=100"):
        gn.applications.nasnet.NASNet(weights=None, penultimate_filters=100)
    with pytest.raises(ValueError, match=r"num_blocks must be a positive integer; received num_blocks=0"):
        gn.applications.nasnet.NASNet(weights=None, num_blocks=0)
    with pytest.raises(ValueError, match=r"Expects 'block35', 'block17' or 'block8'; received block_type='block9'"):
        inception_resnet_block(gn.Input((3, 3, 4)), 0.1, "block9", 1)


def test_save_load_round_trip_and_weights_path(tmp_path, rng):
    gn.utils.clear_session()
    kwargs = dict(input_shape=(32, 32, 3), classes=4)
    model = gn.applications.NASNetMobile(weights=None, **kwargs)
    model.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in model.get_weights()])
    x = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    path = tmp_path / "nasnet.npz"
    model.save(path)
    again = gn.load_model(path)
    assert again.name == model.name and [lay.name for lay in again.layers] == [lay.name for lay in model.layers]
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    weights = tmp_path / "nasnet_weights.npz"
    model.save_weights(weights)
    loaded = gn.applications.NASNetMobile(weights=str(weights), **kwargs)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_custom_scale_layer_in_a_model_file(tmp_path, rng):
    """InceptionResNetV2's block (CustomScaleLayer and its scale included) written and read back."""
    from glassnet.applications.inception_resnet_v2 import inception_resnet_block
    gn.utils.clear_session()
    inputs = gn.Input((4, 4, 6))
    model = gn.Model(inputs, inception_resnet_block(inputs, 0.17, "block35", 3))
    model.set_weights([w + rng.normal(0, 0.1, w.shape).astype(w.dtype) for w in model.get_weights()])
    path = tmp_path / "block.npz"
    model.save(path)
    again = gn.load_model(path)
    scale = [lay for lay in again.layers if type(lay).__name__ == "CustomScaleLayer"]
    assert len(scale) == 1 and scale[0].scale == 0.17
    x = rng.normal(size=(2, 4, 4, 6)).astype(np.float32)
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


@pytest.mark.parametrize("module", ["inception_resnet_v2", "nasnet"])
def test_preprocess_input_matches_keras_and_decode_is_refused(keras, module):
    import importlib
    ours = getattr(gn.applications, module)
    theirs = importlib.import_module(f"keras.applications.{module}")
    x = np.random.default_rng(8).uniform(0, 255, (2, 5, 6, 3)).astype(np.float32)
    np.testing.assert_allclose(ours.preprocess_input(x.copy()), theirs.preprocess_input(x.copy()), rtol=1e-6,
                               atol=1e-6)
    with pytest.raises(NotImplementedError, match="class index.*downloads"):
        ours.decode_predictions(np.zeros((2, 1000)))
