"""glassnet.applications against Keras 3.15's keras.applications (weights=None): the same model
name, layer names, parameter count and weight shapes; Keras' weights carried over with set_weights
predict the same (1e-4, float32); a few fit steps from the same weights in float64 (BatchNormalization
in training) end on the same weights. Small inputs (32 x 32, Keras' minimum) keep it fast; the deep
variants are marked slow. Without Keras: shape rules, refusals, Keras' published parameter counts,
the broadcast Multiply's gradient against finite differences, and a save/load round trip."""
import os
import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet.applications import imagenet_utils as iu


def _keras_apps(keras):
    keras.utils.clear_session()
    gn.utils.clear_session()
    return keras.applications


def _keras_weights(name, keras_model):
    """Keras' weights for set_weights here: without Keras' Normalization ``count`` (EfficientNet),
    a weight glassnet's Normalization does not have (documented)."""
    ws = keras_model.get_weights()
    paths = [v.path for v in keras_model.weights]
    return [w for w, p in zip(ws, paths) if not p.endswith("/count")], paths


def _perturbed(ws, paths, rng, dtype):
    """The weights with BatchNormalization's statistics, scales and offsets and the biases made
    random (Keras' fresh ones are 0 and 1, which would hide a swapped pair)."""
    out = []
    for w, p in zip(ws, [p for p in paths if not p.endswith("/count")]):
        leaf = p.rsplit("/", 1)[-1]
        if leaf == "moving_variance":
            w = rng.uniform(0.5, 1.5, w.shape)
        elif leaf == "gamma":
            w = rng.uniform(0.8, 1.2, w.shape)
        elif leaf in ("moving_mean", "beta", "bias"):
            w = rng.normal(0, 0.1, w.shape)
        out.append(np.asarray(w, dtype))
    return out


def _set_keras(keras_model, ws, paths):
    full, it = [], iter(ws)
    for p, w in zip(paths, keras_model.get_weights()):
        full.append(w if p.endswith("/count") else next(it))
    keras_model.set_weights(full)


FAST = [("MobileNetV2", dict(input_shape=(32, 32, 3), classes=5)),
        ("MobileNetV2", dict(input_shape=(40, 36, 3), alpha=0.35, include_top=False, pooling="avg")),
        ("MobileNet", dict(input_shape=(32, 32, 3), classes=7, alpha=0.5)),
        ("MobileNet", dict(input_shape=(33, 35, 3), depth_multiplier=2, alpha=0.25, include_top=False)),
        ("ResNet50", dict(input_shape=(32, 32, 3), classes=5)),
        ("ResNet50V2", dict(input_shape=(32, 32, 3), include_top=False, pooling="max")),
        ("VGG16", dict(input_shape=(32, 32, 3), classes=3)),
        ("DenseNet121", dict(input_shape=(32, 32, 3), classes=5)),
        ("EfficientNetB0", dict(input_shape=(32, 32, 3), classes=5)),
        ("MobileNetV2", dict(include_top=False, alpha=0.5))]          # (None, None, 3): fed 32 x 32
SLOW = [("ResNet101", dict(input_shape=(32, 32, 3), include_top=False)),
        ("ResNet152", dict(input_shape=(32, 32, 3), include_top=False)),
        ("ResNet101V2", dict(input_shape=(32, 32, 3), include_top=False)),
        ("ResNet152V2", dict(input_shape=(32, 32, 3), include_top=False)),
        ("VGG19", dict(input_shape=(32, 32, 3), include_top=False, pooling="avg")),
        ("DenseNet169", dict(input_shape=(32, 32, 3), include_top=False)),
        ("DenseNet201", dict(input_shape=(32, 32, 3), include_top=False)),
        ("MobileNetV2", dict(input_shape=(96, 96, 3), alpha=1.4, include_top=False))] + [
    (f"EfficientNetB{k}", dict(input_shape=(32, 32, 3), include_top=False)) for k in range(1, 8)]


def _compare_build_and_predict(keras, name, kwargs):
    apps = _keras_apps(keras)
    km = getattr(apps, name)(weights=None, **kwargs)
    gm = getattr(gn.applications, name)(weights=None, **kwargs)
    assert gm.name == km.name
    assert [layer.name for layer in gm.layers] == [layer.name for layer in km.layers
                                                   if type(layer).__name__ != "InputLayer"]
    ws, paths = _keras_weights(name, km)
    assert [w.shape for w in gm.get_weights()] == [w.shape for w in ws]
    counted = sum(int(np.prod(w.shape)) for w in km.weights if not w.path.endswith("/count"))
    assert gm.count_params() == counted
    assert tuple(gm.output_shape) == tuple(km.output_shape)
    ws = _perturbed(ws, paths, np.random.default_rng(0), np.float32)
    _set_keras(km, ws, paths)
    gm.set_weights(ws)
    shape = tuple(d or 32 for d in km.input_shape[1:])
    x = np.random.default_rng(1).uniform(0, 255 if name.startswith("Eff") else 1, (2,) + shape).astype(np.float32)
    want = np.asarray(km.predict(x, verbose=0))
    got = gm.predict(x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name,kwargs", FAST, ids=[f"{n}-{i}" for i, (n, _) in enumerate(FAST)])
def test_architecture_matches_keras(keras, name, kwargs):
    _compare_build_and_predict(keras, name, kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("name,kwargs", SLOW, ids=[n for n, _ in SLOW])
def test_deep_variants_match_keras(keras, name, kwargs):
    _compare_build_and_predict(keras, name, kwargs)


def _float64_copy(model):
    config = model.get_config()
    config["dtype"] = "float64"
    return gn.Model.from_config(config)


@pytest.mark.parametrize("case", ["MobileNetV2", "MobileNet", "EfficientNetB0"])
def test_fit_steps_match_keras_in_float64(keras, case):
    """Two SGD steps in float64 (batch statistics in BatchNormalization, moving statistics updated)
    from the same weights end on the same weights and moving statistics as Keras'."""
    apps = _keras_apps(keras)
    previous = keras.config.floatx()
    keras.config.set_floatx("float64")
    rtol, lr = 1e-9, 1e-2
    try:
        if case == "MobileNetV2":
            kwargs = dict(input_shape=(32, 32, 3), alpha=0.35, classes=3, classifier_activation=None)
            km = apps.MobileNetV2(weights=None, **kwargs)
            gm = gn.applications.MobileNetV2(weights=None, **kwargs)
        elif case == "MobileNet":     # no dropout: its mask is random
            kwargs = dict(input_shape=(32, 32, 3), alpha=0.25, classes=3, dropout=0.0, classifier_activation=None)
            km = apps.MobileNet(weights=None, **kwargs)
            gm = gn.applications.MobileNet(weights=None, **kwargs)
        else:                         # no dropout, no drop-connect: random too
            from keras.src.applications.efficientnet import EfficientNet as KerasEfficientNet
            kwargs = dict(dropout_rate=0.0, drop_connect_rate=0.0, input_shape=(32, 32, 3), classes=3,
                          weights=None, classifier_activation=None)
            km = KerasEfficientNet(1.0, 1.0, 224, **kwargs)
            gm = gn.applications.efficientnet.EfficientNet(1.0, 1.0, 224, **kwargs)
        gm = _float64_copy(gm)
        if case == "EfficientNetB0":
            # Keras' Rescaling(1/255) scales by 1/255 rounded to float32 even in float64 (255 ->
            # 1.0000000591), glassnet's by 1/255: given Keras' number, the rest is compared
            gm.get_layer("rescaling").scale = float(np.float32(1 / 255.0))
            gm.get_layer("normalization")._warned = True     # unadapted on purpose, as in the builder
        ws, paths = _keras_weights(case, km)
        ws = _perturbed(ws, paths, np.random.default_rng(2), np.float64)
        _set_keras(km, ws, paths)
        gm.set_weights(ws)
        rng = np.random.default_rng(3)
        x = rng.uniform(0, 1, (6, 32, 32, 3))
        y = rng.normal(size=(6, 3))
        km.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
        gm.compile(optimizer=gn.optimizers.SGD(learning_rate=lr), loss="mse")
        hk = km.fit(x, y, epochs=2, batch_size=6, shuffle=False, verbose=0).history["loss"]
        hg = gm.fit(x, y, epochs=2, batch_size=6, shuffle=False, verbose=0).history["loss"]
        np.testing.assert_allclose(hg, hk, rtol=rtol)
        after, _ = _keras_weights(case, km)
        for w_g, w_k, w0, p in zip(gm.get_weights(), after, ws, [p for p in paths if not p.endswith("/count")]):
            # the steps themselves agree, not only the weights (which barely move)
            step = np.abs(w_k - w0).max()
            np.testing.assert_allclose(w_g - w0, w_k - w0, atol=max(step * rtol * 100, 1e-12), err_msg=p)
        assert max(np.abs(w_k - w0).max() for w_k, w0 in zip(after, ws)) > 1e-3
    finally:
        keras.config.set_floatx(previous)


# --- shapes, names and refusals (no Keras needed) --------------------------------------------------

def test_import_glassnet_does_not_import_applications():
    code = "import sys, glassnet; print('glassnet.applications' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"
    assert gn.applications.MobileNetV2 is gn.applications.mobilenet_v2.MobileNetV2


@pytest.mark.parametrize("name,kwargs,count", [
    # Keras' documented sizes (keras.io/api/applications: "Size / Parameters" of each model)
    ("MobileNetV2", {}, 3538984), ("MobileNet", {}, 4253864), ("ResNet50", {}, 25636712),
    ("DenseNet121", {}, 8062504), ("VGG16", {"include_top": False}, 14714688),
    # EfficientNetB0's 5,330,571 counts Keras' Normalization count weight, which glassnet has not
    ("EfficientNetB0", {}, 5330571 - 1)])
def test_parameter_counts_are_keras_published_ones(name, kwargs, count):
    model = getattr(gn.applications, name)(weights=None, **kwargs)
    assert model.count_params() == count
    if kwargs.get("include_top", True):
        assert model.input_shape == (None, 224, 224, 3) and model.output_shape == (None, 1000)


def test_default_shapes_and_names_follow_keras_rules():
    apps = gn.applications
    assert apps.MobileNetV2(weights=None, include_top=False).input_shape == (None, None, None, 3)
    assert apps.MobileNetV2(weights=None, input_shape=(96, 96, 3), include_top=False).name == "mobilenetv2_1.00_96"
    # a size Keras has no weights for: the name keeps the size given (Keras' rows)
    assert apps.MobileNetV2(weights=None, input_shape=(64, 64, 3), alpha=0.35).name == "mobilenetv2_0.35_64"
    assert apps.MobileNet(weights=None, input_shape=(128, 128, 3), alpha=0.25).name == "mobilenet_0.25_128"
    assert apps.EfficientNetB3(weights=None).input_shape == (None, 300, 300, 3)
    assert apps.ResNet50(weights=None, include_top=False, pooling="avg").output_shape == (None, 2048)
    assert apps.VGG19(weights=None, input_shape=(48, 64, 3), include_top=False).output_shape == (None, 1, 2, 512)


@pytest.mark.parametrize("builder", ["MobileNetV2", "ResNet50", "VGG16", "MobileNet", "DenseNet121",
                                     "EfficientNetB0"])
def test_bad_arguments_are_refused_by_name(builder, tmp_path):
    build = getattr(gn.applications, builder)
    with pytest.raises(ValueError, match=r"weights='imagenet'.*downloads.*weights=None"):
        build()                                       # Keras' default
    with pytest.raises(ValueError, match=r"weights=.*\.h5.*Keras file"):
        build(weights=str(tmp_path / "w.weights.h5"))
    with pytest.raises(ValueError, match=r"weights argument.*not found"):
        build(weights=str(tmp_path / "missing.npz"))
    with pytest.raises(TypeError, match=r"weights must be None or the path"):
        build(weights=3)
    with pytest.raises(ValueError, match=r"at least 32x32; received input_shape=\(31, 64, 3\)"):
        build(weights=None, input_shape=(31, 64, 3), include_top=False)
    with pytest.raises(ValueError, match=r"tuple of three integers"):
        build(weights=None, input_shape=(64, 64), include_top=False)
    with pytest.raises(ValueError, match=r"include_top is True.*static input_shape"):
        build(weights=None, input_shape=(None, None, 3))
    with pytest.raises(ValueError, match=r"pooling must be None, 'avg' or 'max'; received pooling='mean'"):
        build(weights=None, include_top=False, pooling="mean")
    with pytest.raises(TypeError, match=r"input_tensor must be a glassnet symbolic tensor.*ndarray"):
        build(weights=None, input_tensor=np.zeros((1, 32, 32, 3)), include_top=False)


def test_alpha_and_mobilenet_arguments_are_checked():
    with pytest.raises(ValueError, match=r"alpha must be a positive number; received alpha=0"):
        gn.applications.MobileNetV2(weights=None, alpha=0)
    with pytest.raises(ValueError, match=r"depth_multiplier must be a positive integer; received 1.5"):
        gn.applications.MobileNet(weights=None, depth_multiplier=1.5)
    with pytest.raises(ValueError, match=r"dropout must be a rate in \[0, 1\); received dropout=1"):
        gn.applications.MobileNet(weights=None, dropout=1)
    with pytest.warns(UserWarning, match="expects 1 or 3 input channels"):
        model = gn.applications.MobileNetV2(weights=None, input_shape=(32, 32, 4), include_top=False)
    assert model.input_shape == (None, 32, 32, 4)


def test_input_tensor_is_used_and_its_sources_are_the_inputs():
    inputs = gn.Input((32, 32, 3), name="pixels")
    x = gn.layers.Rescaling(1 / 255.0)(inputs)
    model = gn.applications.MobileNetV2(weights=None, input_tensor=x, include_top=False, pooling="avg", alpha=0.35)
    assert model.inputs[0] is inputs and model.output_shape == (None, 1280)
    assert model.layers[0].name == "rescaling"
    with pytest.raises(ValueError, match=r"input_tensor's shape \(None, 32, 32, 3\) does not match"):
        gn.applications.ResNet50(weights=None, input_tensor=inputs, input_shape=(64, 64, 3), include_top=False)


def test_save_load_round_trip_and_weights_path(tmp_path, rng):
    model = gn.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), alpha=0.35, classes=4)
    model.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in model.get_weights()])
    x = rng.uniform(-1, 1, (3, 32, 32, 3)).astype(np.float32)
    path = tmp_path / "mnv2.npz"
    model.save(path)
    again = gn.load_model(path)
    assert again.name == model.name and [lay.name for lay in again.layers] == [lay.name for lay in model.layers]
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    weights = tmp_path / "mnv2_weights.npz"
    model.save_weights(weights)
    loaded = gn.applications.MobileNetV2(weights=str(weights), input_shape=(32, 32, 3), alpha=0.35, classes=4)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_transfer_learning_head_trains():
    base = gn.applications.MobileNet(weights=None, input_shape=(32, 32, 3), alpha=0.25, include_top=False)
    base.trainable = False
    frozen = [w.copy() for w in base.get_weights()]
    inputs = gn.Input((32, 32, 3))
    x = gn.layers.GlobalAveragePooling2D()(base(inputs))
    model = gn.Model(inputs, gn.layers.Dense(2, activation="softmax")(x), seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.fit(rng.uniform(-1, 1, (8, 32, 32, 3)), rng.integers(0, 2, 8), epochs=1, batch_size=4, verbose=0)
    for before, after in zip(frozen, base.get_weights()):
        np.testing.assert_array_equal(before, after)


# --- preprocessing --------------------------------------------------------------------------------

@pytest.mark.parametrize("module,mode", [("mobilenet_v2", "tf"), ("mobilenet", "tf"), ("resnet", "caffe"),
                                         ("resnet_v2", "tf"), ("vgg16", "caffe"), ("vgg19", "caffe"),
                                         ("densenet", "torch"), ("efficientnet", None)])
def test_preprocess_input_matches_keras(keras, module, mode):
    import importlib
    ours = getattr(gn.applications, module).preprocess_input
    theirs = importlib.import_module(f"keras.applications.{module}").preprocess_input
    x = np.random.default_rng(4).uniform(0, 255, (2, 5, 6, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(x.copy()), theirs(x.copy()), rtol=1e-6, atol=1e-5)
    if mode is not None:
        first = np.moveaxis(x, -1, 1)
        np.testing.assert_allclose(iu.preprocess_input(first.copy(), "channels_first", mode),
                                   keras.applications.imagenet_utils.preprocess_input(
                                       first.copy(), "channels_first", mode), rtol=1e-6, atol=1e-5)
        ints = x.astype(np.uint8)                  # not float: converted to float32 first, as Keras
        got = iu.preprocess_input(ints[0], mode=mode)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, theirs(ints[0].copy()), rtol=1e-6, atol=1e-5)


def test_preprocess_and_decode_refusals():
    with pytest.raises(ValueError, match=r"mode must be one of .*received mode='keras'"):
        iu.preprocess_input(np.zeros((1, 2, 2, 3)), mode="keras")
    with pytest.raises(ValueError, match=r"data_format must be .*received data_format='nhwc'"):
        iu.preprocess_input(np.zeros((1, 2, 2, 3)), data_format="nhwc")
    with pytest.raises(ValueError, match=r"3 colour channels on axis 3"):
        iu.preprocess_input(np.zeros((1, 2, 2, 4)))
    with pytest.raises(ValueError, match=r"shape \(samples, 1000\).*\(2, 10\)"):
        gn.applications.resnet.decode_predictions(np.zeros((2, 10)))
    with pytest.raises(NotImplementedError, match="class index.*downloads"):
        gn.applications.mobilenet_v2.decode_predictions(np.zeros((2, 1000)))


# --- the broadcast Multiply EfficientNet's squeeze-and-excitation needs ----------------------------

def test_multiply_broadcasts_size_one_axes_like_keras(keras):
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(2, 4, 5, 3)).astype(np.float32), rng.normal(size=(2, 1, 1, 3)).astype(np.float32)
    ia, ib = gn.Input((4, 5, 3)), gn.Input((1, 1, 3))
    out = gn.layers.Multiply()([ia, ib])
    assert out.shape == (None, 4, 5, 3)
    model = gn.Model([ia, ib], out)
    want = keras.layers.Multiply()([a, b])
    np.testing.assert_allclose(model.predict([a, b]), np.asarray(want), rtol=1e-6)
    with pytest.raises(ValueError, match=r"Multiply needs inputs of one shape \(or of size 1 on an axis"):
        gn.layers.Multiply()([gn.Input((4, 5, 3)), gn.Input((2, 1, 3))])


def test_multiply_broadcast_gradient_matches_finite_differences():
    rng = np.random.default_rng(6)
    layer = gn.layers.Multiply()
    a, b, c = rng.normal(size=(2, 3, 4, 2)), rng.normal(size=(2, 1, 1, 2)), rng.normal(size=(2, 3, 1, 1))
    w = rng.normal(size=(2, 3, 4, 2))
    layer.build([a.shape[1:], b.shape[1:], c.shape[1:]])

    def loss():
        return float((layer.forward([a, b, c]) * w).sum())

    loss()
    grads = layer.backward(w.copy())
    for x, g in zip((a, b, c), grads):
        assert g.shape == x.shape
        np.testing.assert_allclose(g, gn.gradcheck.numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)
