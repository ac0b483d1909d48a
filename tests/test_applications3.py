"""ConvNeXt and EfficientNetV2 (Keras 3.15's keras.applications.convnext, .efficientnet_v2) built
from scratch (weights=None), against Keras: the same model name, the same layers in the same order with the same names (Keras nests the
stem and the downsampling steps as Sequential models; glassnet's ``layers`` lists their layers in
their place), parameter count, weight shapes; Keras' weights (perturbed: random biases,
normalization parameters and BatchNormalization statistics) carried over with set_weights predict the same (1e-4, float32) on
small inputs. Its two layers, LayerScale and StochasticDepth, against Keras' own classes, their
gradients against float64 central differences."""
import numpy as np
import pytest

import glassnet as gn


def _keras_names(km):
    """Keras' operations in order, a nested Sequential's layers in its place (glassnet's layers)."""
    names = []
    for op in km.operations:
        kind = type(op).__name__
        if kind == "Sequential":
            names += [layer.name for layer in op.layers]
        elif kind != "InputLayer":
            names.append(op.name)
    return names


def _perturbed(km, rng):
    out = []
    for v, w in zip(km.weights, km.get_weights()):
        leaf = v.path.rsplit("/", 1)[-1]
        if leaf == "moving_variance":
            # above 1: each BatchNormalization then shrinks, so that EfficientNetV2's 40 to 80 blocks
            # do not amplify float32's rounding into differences no tolerance would take (with
            # (0.5, 1.5), V2S's outputs disagreed by 2e-3 from run to run of Keras' threads)
            w = rng.uniform(1.0, 2.0, w.shape)
        elif leaf == "gamma":
            w = rng.uniform(0.8, 1.2, w.shape)
        elif leaf in ("moving_mean", "beta", "bias"):
            w = rng.normal(0, 0.1, w.shape)
        elif leaf == "variable":                  # LayerScale's: Keras' 1e-6 would hide each block's branch
            w = rng.uniform(0.5, 1.5, w.shape)
        out.append(np.asarray(w, np.float32))
    return out


def _compare(km, gm, low=0.0, high=255.0):
    assert gm.name == km.name
    assert [layer.name for layer in gm.layers] == _keras_names(km)
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


FAST = [dict(input_shape=(32, 32, 3), classes=5),
        dict(include_top=False, input_shape=(32, 32, 3)),
        dict(include_top=False, include_preprocessing=False, pooling="avg", input_shape=(36, 40, 3))]


@pytest.mark.parametrize("kwargs", FAST, ids=range(len(FAST)))
def test_convnext_tiny_matches_keras(keras, kwargs):
    keras.utils.clear_session()
    gn.utils.clear_session()
    _compare(keras.applications.ConvNeXtTiny(weights=None, **kwargs),
             gn.applications.ConvNeXtTiny(weights=None, **kwargs), high=255.0 if kwargs.get(
                 "include_preprocessing", True) else 1.0)


def test_convnext_builder_with_stochastic_depth_matches_keras(keras):
    """The generic builder, small, with a drop path rate (StochasticDepth layers where Keras' variants
    put identities), max pooling and no layer scale in one block's place: inference as Keras'."""
    from keras.src.applications import convnext as keras_convnext
    kwargs = dict(depths=[2, 1, 2, 1], projection_dims=[8, 8, 16, 16], drop_path_rate=0.3, name="tiny_test",
                  include_top=False, pooling="max", input_shape=(32, 32, 3))
    keras.utils.clear_session()
    gn.utils.clear_session()
    km = keras_convnext.ConvNeXt(weights=None, **kwargs)
    gm = gn.applications.convnext.ConvNeXt(weights=None, **kwargs)
    assert sum(type(layer).__name__ == "StochasticDepth" for layer in gm.layers) == 5     # the first rate is 0
    _compare(km, gm)


def test_convnext_model_file_round_trip_and_training_runs(tmp_path):
    gn.utils.clear_session()
    model = gn.applications.convnext.ConvNeXt([1, 1, 1, 1], [4, 8, 8, 8], drop_path_rate=0.5, name="small_cnx",
                                              input_shape=(32, 32, 3), classes=3, weights=None)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 255, (4, 32, 32, 3)).astype(np.float32), rng.integers(0, 3, 4)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, batch_size=2, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    model.save(tmp_path / "cnx.npz")
    loaded = gn.load_model(tmp_path / "cnx.npz")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


@pytest.mark.parametrize("name,count", [("ConvNeXtTiny", 28.6e6), ("ConvNeXtSmall", 50.2e6)])
def test_parameter_counts_are_keras_published_ones(name, count):
    """keras.io/api/applications' sizes (to its 0.1 M, some cut, some rounded), built without Keras."""
    gn.utils.clear_session()
    assert abs(getattr(gn.applications, name)(weights=None).count_params() - count) < 0.1e6


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtXLarge"])
def test_big_parameter_counts_are_keras(keras, name):
    """Built in both (XLarge: 350 M weights, 1.4 GB in each)."""
    keras.utils.clear_session()
    gn.utils.clear_session()
    want = getattr(keras.applications, name)(weights=None, input_shape=(32, 32, 3)).count_params()
    keras.utils.clear_session()
    assert getattr(gn.applications, name)(weights=None, input_shape=(32, 32, 3)).count_params() == want


@pytest.mark.slow
def test_convnext_small_matches_keras(keras):
    keras.utils.clear_session()
    gn.utils.clear_session()
    kwargs = dict(include_top=False, input_shape=(32, 32, 3), pooling="avg")
    _compare(keras.applications.ConvNeXtSmall(weights=None, **kwargs),
             gn.applications.ConvNeXtSmall(weights=None, **kwargs))


def test_refusals_and_preprocessing(keras):
    apps = gn.applications
    with pytest.raises(ValueError, match="weights='imagenet'"):
        apps.ConvNeXtTiny()
    with pytest.raises(ValueError, match="at least 32"):
        apps.ConvNeXtTiny(weights=None, input_shape=(31, 64, 3), include_top=False)
    with pytest.raises(ValueError, match="pooling"):
        apps.ConvNeXtTiny(weights=None, include_top=False, pooling="mean")
    with pytest.raises(TypeError, match="input_tensor"):
        apps.ConvNeXtTiny(weights=None, input_tensor=np.zeros((1, 32, 32, 3)))
    with pytest.raises(ValueError, match="depths"):
        apps.convnext.ConvNeXt([1, 1, 1], [4, 4, 4], weights=None)
    x = np.random.default_rng(2).uniform(0, 255, (2, 4, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(apps.convnext.preprocess_input(x.copy()),
                                  np.asarray(keras.applications.convnext.preprocess_input(x.copy())))


def test_input_tensor_is_the_models_input():
    gn.utils.clear_session()
    inp = gn.layers.Input((32, 32, 3))
    model = gn.applications.ConvNeXtTiny(weights=None, include_top=False, input_tensor=inp, pooling="avg")
    assert model.inputs[0] is inp and tuple(model.output_shape) == (None, 768)


# --- the two layers ---------------------------------------------------------------------------------

def test_layer_scale_matches_keras(keras):
    from keras.src.applications.convnext import LayerScale as KerasLayerScale
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5)).astype(np.float32)
    ours, theirs = gn.layers.LayerScale(0.25, 5), KerasLayerScale(0.25, 5)
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-7)
    gamma = np.random.default_rng(1).normal(size=5).astype(np.float32)
    ours.set_weights([gamma])
    theirs.set_weights([gamma])
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-7)
    assert ours.get_config()["init_values"] == theirs.get_config()["init_values"]
    assert ours.get_config()["projection_dim"] == theirs.get_config()["projection_dim"]


def test_layer_scale_refusals_name_the_argument():
    with pytest.raises(ValueError, match="projection_dim"):
        gn.layers.LayerScale(1e-6, 0)
    with pytest.raises(ValueError, match="projection_dim"):
        gn.layers.LayerScale(1e-6, 4)(np.zeros((2, 3), np.float32))
    with pytest.raises((TypeError, ValueError), match="init_values"):
        gn.layers.LayerScale("small", 4)


def test_stochastic_depth_matches_keras_distribution(keras):
    """Inference: the identity, as Keras'. Training: each sample all kept (scaled by 1 / keep_prob)
    or all dropped, the dropped fraction as Keras' layer's (both within binomial noise of the rate)."""
    from keras.src.applications.convnext import StochasticDepth as KerasStochasticDepth
    x = np.random.default_rng(0).uniform(0.5, 1.5, (4000, 2, 3)).astype(np.float32)
    ours, theirs = gn.layers.StochasticDepth(0.3, seed=0), KerasStochasticDepth(0.3)
    np.testing.assert_array_equal(ours(x), np.asarray(theirs(x)))
    fractions = []
    for y in (ours(x, training=True), np.asarray(theirs(x, training=True))):
        ratio = y / x
        kept = ratio[:, 0, 0] > 0
        np.testing.assert_allclose(ratio[kept], 1 / 0.7, rtol=1e-6)
        assert np.all(ratio[~kept] == 0)
        fractions.append(1 - kept.mean())
    sigma = np.sqrt(0.3 * 0.7 / len(x))
    assert abs(fractions[0] - 0.3) < 4 * sigma and abs(fractions[1] - 0.3) < 4 * sigma
    assert ours.get_config()["drop_path_rate"] == theirs.get_config()["drop_path_rate"]


def test_stochastic_depth_seeded_and_refusals():
    x = np.ones((50, 3), np.float32)
    a = gn.layers.StochasticDepth(0.5, seed=3)(x, training=True)
    b = gn.layers.StochasticDepth(0.5, seed=3)(x, training=True)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="drop_path_rate"):
        gn.layers.StochasticDepth(1.0)
    with pytest.raises((TypeError, ValueError), match="drop_path_rate"):
        gn.layers.StochasticDepth("0.1")


def test_convnext_block_gradient_matches_finite_differences():
    """A ConvNeXt block (grouped 7x7 conv, LayerNormalization, Dense, exact GELU, Dense, LayerScale,
    StochasticDepth, residual add) in float64: every weight's gradient of the loss against central
    differences, in training (check_model draws one drop mask for every pass)."""
    from glassnet.applications.convnext import ConvNeXtBlock
    gn.utils.clear_session()
    inp = gn.layers.Input((5, 5, 4))
    out = gn.layers.GlobalAveragePooling2D()(ConvNeXtBlock(4, drop_path_rate=0.4, layer_scale_init_value=0.5,
                                                           name="b")(inp))
    model = gn.Model(inp, out, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.5, w.shape) for w in model.get_weights()])
    x, y = rng.normal(0, 1, (6, 5, 5, 4)), rng.normal(0, 1, (6, 4))
    report = gn.gradcheck.check_model(model, x, y)
    assert report["max_error"] < 1e-6


# --- EfficientNetV2 ---------------------------------------------------------------------------------

V2 = [("EfficientNetV2B0", dict(input_shape=(32, 32, 3), classes=5)),
      ("EfficientNetV2B1", dict(input_shape=(32, 32, 3), classes=4)),
      ("EfficientNetV2B3", dict(include_top=False, input_shape=(32, 32, 3))),
      ("EfficientNetV2B2", dict(include_top=False, include_preprocessing=False, input_shape=(36, 40, 3),
                                pooling="max")),
      ("EfficientNetV2S", dict(include_top=False, input_shape=(32, 32, 3), pooling="avg"))]


@pytest.mark.parametrize("name,kwargs", V2, ids=[f"{n}-{i}" for i, (n, _) in enumerate(V2)])
def test_efficientnet_v2_matches_keras(keras, name, kwargs):
    """S scales [0, 255] to [-1, 1) and B* standardise as ImageNet's; without preprocessing the
    input is drawn in [0, 1] (raw pixels through the perturbed blocks grow to 1e5, where float32's
    differing summation orders no longer agree to 1e-4)."""
    keras.utils.clear_session()
    gn.utils.clear_session()
    _compare(getattr(keras.applications, name)(weights=None, **kwargs),
             getattr(gn.applications, name)(weights=None, **kwargs),
             high=255.0 if kwargs.get("include_preprocessing", True) else 1.0)


@pytest.mark.parametrize("name,count", [("EfficientNetV2B0", 7.2e6), ("EfficientNetV2B1", 8.2e6),
                                        ("EfficientNetV2B2", 10.2e6), ("EfficientNetV2B3", 14.5e6),
                                        ("EfficientNetV2S", 21.6e6)])
def test_efficientnet_v2_parameter_counts_are_keras_published_ones(name, count):
    """keras.io/api/applications' sizes (to its 0.1 M), built without Keras."""
    gn.utils.clear_session()
    assert abs(getattr(gn.applications, name)(weights=None).count_params() - count) < 0.1e6


@pytest.mark.slow
@pytest.mark.parametrize("name", ["EfficientNetV2M", "EfficientNetV2L"])
def test_efficientnet_v2_big_matches_keras(keras, name):
    keras.utils.clear_session()
    gn.utils.clear_session()
    kwargs = dict(include_top=False, input_shape=(32, 32, 3), pooling="avg")
    _compare(getattr(keras.applications, name)(weights=None, **kwargs),
             getattr(gn.applications, name)(weights=None, **kwargs))


def test_efficientnet_v2_refusals_and_preprocessing(keras):
    apps = gn.applications
    with pytest.raises(ValueError, match="weights='imagenet'"):
        apps.EfficientNetV2B0()
    with pytest.raises(ValueError, match="at least 32"):
        apps.EfficientNetV2S(weights=None, input_shape=(64, 16, 3), include_top=False)
    with pytest.raises(ValueError, match="pooling"):
        apps.EfficientNetV2B0(weights=None, include_top=False, pooling="sum")
    with pytest.raises(ValueError, match="blocks_args"):
        apps.efficientnet_v2.EfficientNetV2(1.0, 1.0, 224, name="mine", weights=None)
    with pytest.raises(ValueError, match="num_repeat"):
        apps.efficientnet_v2.EfficientNetV2(1.0, 1.0, 224, name="mine", weights=None, blocks_args=[dict(
            kernel_size=3, num_repeat=0, input_filters=8, output_filters=8, expand_ratio=1, se_ratio=0,
            strides=1, conv_type=1)])
    # a variant under another name keeps its own blocks (Keras looks them up by the name: KeyError)
    gn.utils.clear_session()
    renamed = apps.EfficientNetV2B0(weights=None, name="mine", input_shape=(32, 32, 3))
    assert renamed.name == "mine" and renamed.count_params() == apps.EfficientNetV2B0(
        weights=None, input_shape=(32, 32, 3)).count_params()
    assert [type(layer).__name__ for layer in renamed.layers[:2]] == ["Rescaling", "Normalization"]
    x = np.random.default_rng(2).uniform(0, 255, (2, 4, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(apps.efficientnet_v2.preprocess_input(x.copy()),
                                  np.asarray(keras.applications.efficientnet_v2.preprocess_input(x.copy())))


@pytest.mark.parametrize("block_name", ["MBConvBlock", "FusedMBConvBlock"])
def test_efficientnet_v2_blocks_gradient_matches_finite_differences(block_name):
    """One block of each kind with squeeze-excite, expansion and the residual (its Dropout of whole
    samples in training: check_model draws one mask for every pass), after a convolution, in
    float64: every weight's gradient of the loss against central differences."""
    from glassnet.applications import efficientnet_v2
    gn.utils.clear_session()
    inp = gn.layers.Input((4, 4, 3))
    x = gn.layers.Conv2D(4, 1, name="pre")(inp)
    block = getattr(efficientnet_v2, block_name)(4, 4, expand_ratio=2, se_ratio=0.5, survival_probability=0.3,
                                                 name="b_")
    out = gn.layers.GlobalAveragePooling2D()(block(x))
    model = gn.Model(inp, out, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    rng = np.random.default_rng(0)
    model.set_weights([np.abs(rng.normal(0.5, 0.3, w.shape)) + 0.5 if w.ndim == 1 and i % 4 == 3 else
                       rng.normal(0, 0.5, w.shape) for i, w in enumerate(model.get_weights())])
    x, y = rng.normal(0, 1, (5, 4, 4, 3)), rng.normal(0, 1, (5, 4))
    report = gn.gradcheck.check_model(model, x, y)
    assert report["max_error"] < 1e-6
