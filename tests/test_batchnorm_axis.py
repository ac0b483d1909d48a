"""BatchNormalization's axis, initializers, regularizers, constraints and synchronized, as Keras 3.15
takes them: forward values (training and inference), moving statistics and a model trained by SGD
against Keras 3.15, gradients against PyTorch autograd (torch.nn.functional.batch_norm with the
feature axis moved to position 1) and float64 finite differences, configs, model files, a frozen
layer, masks, and the errors.

Keras 3.15's BatchNormalization takes one int axis (``int(axis)``); a list (tf.keras 2's, and
glassnet's LayerNormalization's) is checked against Keras on the input reshaped so that the listed
axes are one: ``axis=[1, 2]`` on (N, H, W, C) is Keras' ``axis=1`` on (N, H * W, C)."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer
from glassnet.layers import BatchNormalization, Dense, Embedding, Flatten, Masking

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# (sample shape, axis, the weights' shape): images channels-last by -1 and 3, channels-first by 1,
# per-position statistics by [1, 2]; sequences (T, F) per feature by -1, per step by 1
CASES = {
    "image_-1": ((4, 3, 2), -1, (2,)),
    "image_3": ((4, 3, 2), 3, (2,)),
    "channels_first_1": ((3, 4, 2), 1, (3,)),
    "positions_[1,2]": ((4, 3, 2), [1, 2], (4, 3)),
    "sequence_-1": ((5, 3), -1, (3,)),
    "sequence_1": ((5, 3), 1, (5,)),
}


def keras_twin(keras, sample, axis, **options):
    """``(layers, reshape)``: Keras layers computing as glassnet's BatchNormalization(axis) on
    samples of ``sample`` shape, and the function that reshapes a batch for them (a list axis: the
    listed axes as one, which Keras 3.15's int axis then names)."""
    if not isinstance(axis, list):
        return [keras.layers.BatchNormalization(axis=axis, **options)], lambda x: x
    assert axis == [1, 2] and len(sample) == 3
    merged = (sample[0] * sample[1], sample[2])
    return ([keras.layers.Reshape(merged), keras.layers.BatchNormalization(axis=1, **options)],
            lambda x: x.reshape(len(x), *merged))


def random_weights(layer, rng):
    """Weights off the ones/zeros defaults, the moving variance positive."""
    layer.set_weights([(rng.uniform(0.5, 2, w.shape) if name in ("gamma", "moving_variance")
                        else rng.normal(size=w.shape)).astype(w.dtype) for name, w in layer._weight_items()])


def copy_into_keras(keras_weights, ours):
    """Our weights reshaped to Keras' ((H, W) -> (H * W,) for axis=[1, 2])."""
    return [a.reshape(b.shape) for a, b in zip(ours, keras_weights)]


def batches(rng, sample, n=4, size=6):
    return [(2 * rng.normal(size=(size, *sample)) + rng.normal(size=sample)).astype(np.float32) for _ in range(n)]


# -- values against Keras 3.15 ---------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_forward_and_moving_statistics_match_keras(case, keras, rng):
    sample, axis, weight_shape = CASES[case]
    ours = BatchNormalization(axis=axis, momentum=0.8, epsilon=1.001e-5)
    ours.build(sample)
    assert [w.shape for w in ours.get_weights()] == [weight_shape] * 4
    layers, reshape = keras_twin(keras, sample, axis, momentum=0.8, epsilon=1.001e-5)
    theirs = keras.Sequential([keras.Input(sample), *layers])
    keras_bn = layers[-1]
    random_weights(ours, rng)
    keras_bn.set_weights(copy_into_keras(keras_bn.get_weights(), ours.get_weights()))
    assert ours.count_params() == keras_bn.count_params()
    # several training steps move the statistics; inference then reads them
    for x in batches(rng, sample):
        expected = np.asarray(theirs(x, training=True)).reshape(x.shape)
        np.testing.assert_allclose(ours(x, training=True), expected, rtol=1e-5, atol=3e-5)
    for a, b in zip(ours.get_weights(), keras_bn.get_weights()):
        np.testing.assert_allclose(a.reshape(b.shape), b, rtol=1e-5, atol=1e-6)
    x = batches(rng, sample, n=1)[0]
    np.testing.assert_allclose(ours(x, training=False), np.asarray(theirs(x, training=False)).reshape(x.shape),
                               rtol=1e-5, atol=3e-5)
    assert ours(x).dtype == np.float32


@pytest.mark.parametrize("case", CASES)
def test_a_model_trains_as_keras(case, keras, rng):
    sample, axis, _ = CASES[case]
    x = batches(rng, sample, n=1, size=12)[0]
    y = rng.integers(0, 3, 12)
    ours = gn.Sequential([gn.Input(sample), BatchNormalization(axis=axis, momentum=0.8), Flatten(),
                          Dense(3, activation="softmax")], seed=0)
    ours.compile("sparse_categorical_crossentropy", gn.optimizers.SGD(0.1))
    layers, _ = keras_twin(keras, sample, axis, momentum=0.8)
    theirs = keras.Sequential([keras.Input(sample), *layers, keras.layers.Flatten(),
                               keras.layers.Dense(3, activation="softmax")])
    theirs.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.1))
    assert ours.count_params() == theirs.count_params()
    theirs.set_weights(copy_into_keras(theirs.get_weights(), ours.get_weights()))
    ours.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    moved = [np.abs(a - b).max() for a, b in zip(ours.get_weights(), gn.Sequential(
        [gn.Input(sample), BatchNormalization(axis=axis), Flatten(), Dense(3)], seed=0).get_weights())]
    assert min(moved) > 1e-3             # every weight and statistic moved: the comparison says something
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a.reshape(b.shape), b, rtol=1e-4, atol=3e-5)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


# -- gradients: PyTorch autograd and finite differences --------------------------------------------
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("case", CASES)
def test_gradients_match_torch_autograd(case, training, rng, torch):
    sample, axis, weight_shape = CASES[case]
    layer = BatchNormalization(axis=axis, epsilon=1e-3, dtype="float64")
    layer.build(sample)
    random_weights(layer, rng)
    x = rng.normal(1, 2, (5, *sample))
    out = layer(x, training=training)
    upstream = rng.standard_normal(out.shape)
    dx = layer.backward(upstream)

    axes = [a % (len(sample) + 1) for a in (axis if isinstance(axis, list) else [axis])]
    rest = [a for a in range(len(sample) + 1) if a not in axes]
    # F.batch_norm wants (N, C, *): the feature axes moved to 1 (and merged), the others after them
    order = [rest[0], *axes, *rest[1:]]
    xt = torch.tensor(x, requires_grad=True)
    moved = xt.permute(order)
    moved = moved.reshape(moved.shape[0], int(np.prod(weight_shape)), *moved.shape[1 + len(axes):])
    gamma = torch.tensor(layer.params["gamma"].ravel(), requires_grad=True)
    beta = torch.tensor(layer.params["beta"].ravel(), requires_grad=True)
    running = [torch.tensor(layer.state[k].ravel()) for k in ("moving_mean", "moving_variance")]
    ref = torch.nn.functional.batch_norm(moved, *running, gamma, beta, training=training, eps=1e-3)
    ref = ref.reshape([x.shape[a] for a in order]).permute(list(np.argsort(order)))
    ref.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, ref.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(layer.grads["gamma"], gamma.grad.numpy().reshape(weight_shape), atol=1e-10)
    np.testing.assert_allclose(layer.grads["beta"], beta.grad.numpy().reshape(weight_shape), atol=1e-10)


@pytest.mark.parametrize("options", [{}, dict(center=False), dict(scale=False)], ids=str)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("case", CASES)
def test_gradcheck_finite_differences(case, training, options, rng):
    sample, axis, _ = CASES[case]
    layer = BatchNormalization(axis=axis, dtype="float64", **options)
    layer.build(sample)
    random_weights(layer, rng)
    report = check_layer(layer, rng.normal(1, 2, (4, *sample)), training=training)
    assert set(report["errors"]) == {"input", *layer.params}


def test_gradcheck_fails_on_a_wrong_gradient(rng):
    # the check above is not vacuous on the moved path: a gradient off by a constant is caught
    layer = BatchNormalization(axis=1, dtype="float64")
    layer.build((3, 4))
    original = layer._backward_rows
    layer._backward_rows = lambda g: original(g) * 1.001
    with pytest.raises(gn.gradcheck.GradientCheckError):
        check_layer(layer, rng.normal(1, 2, (4, 3, 4)), training=True)


# -- initializers, regularizers, constraints against Keras 3.15 ------------------------------------
def test_initializers_match_keras(keras):
    options = dict(axis=1, gamma_initializer="zeros", beta_initializer="ones",
                   moving_mean_initializer="ones", moving_variance_initializer="zeros")
    ours = BatchNormalization(**options)
    ours.build((3, 4))
    theirs = keras.layers.BatchNormalization(**options)
    theirs.build((None, 3, 4))
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)
    # Keras' initializer objects too, and their dicts; a ResNet block's last BN then outputs beta
    ours = BatchNormalization(gamma_initializer=gn.initializers.Constant(0.5),
                              beta_initializer=keras.initializers.serialize(keras.initializers.Constant(0.25)))
    ours.build((2,))
    np.testing.assert_array_equal(ours.get_weights()[:2], [[0.5, 0.5], [0.25, 0.25]])
    resnet = BatchNormalization(axis=3, epsilon=1.001e-5, gamma_initializer="zeros")
    np.testing.assert_array_equal(resnet(np.ones((2, 2, 2, 3)), training=True), np.zeros((2, 2, 2, 3)))


@pytest.mark.parametrize("case", ["channels_first_1", "positions_[1,2]", "sequence_-1"])
def test_regularizers_and_constraints_train_as_keras(case, keras, rng):
    sample, axis, _ = CASES[case]
    x = batches(rng, sample, n=1, size=8)[0]
    y = rng.normal(size=(8, 2)).astype(np.float32)

    def options(module, norm_axis):
        # MaxNorm over the whole of beta: axis 0 of Keras' (H * W,), axes [0, 1] of glassnet's (H, W)
        return dict(gamma_regularizer=module.regularizers.L2(0.1), beta_regularizer=module.regularizers.L1(0.05),
                    gamma_constraint=module.constraints.NonNeg(),
                    beta_constraint=module.constraints.MaxNorm(max_value=1.0, axis=norm_axis), momentum=0.5)

    ours = gn.Sequential([gn.Input(sample), BatchNormalization(axis=axis, **options(gn, [0, 1] if isinstance(
        axis, list) else 0)), Flatten(), Dense(2)], seed=0, dtype="float32")
    ours.compile("mse", gn.optimizers.SGD(0.5))
    layers, _ = keras_twin(keras, sample, axis, **options(keras, 0))
    theirs = keras.Sequential([keras.Input(sample), *layers, keras.layers.Flatten(), keras.layers.Dense(2)])
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.5))
    start = ours.get_weights()
    # gamma partly negative and beta of norm > 1: both constraints act after the step
    start[0] = rng.normal(size=start[0].shape).astype(np.float32)
    start[1] = rng.normal(size=start[1].shape).astype(np.float32) + 1
    ours.set_weights(start)
    theirs.set_weights(copy_into_keras(theirs.get_weights(), start))
    # the penalty: Keras' losses on the layer, and in the loss evaluate gives, with the data's
    gamma, beta = start[0].astype(np.float64), start[1].astype(np.float64)
    penalty = 0.1 * (gamma ** 2).sum() + 0.05 * np.abs(beta).sum()
    assert sum(float(np.asarray(t)) for t in theirs.losses) == pytest.approx(penalty, rel=1e-5)
    assert ours.evaluate(x, y, verbose=0) == pytest.approx(float(theirs.evaluate(x, y, verbose=0)), rel=1e-5)
    assert set(ours.layers[0].regularizers) == set(ours.layers[0].constraints) == {"gamma", "beta"}
    # two steps: the penalties' gradients, then the projections, as Keras'
    for _ in range(2):
        ours.train_on_batch(x, y)
        theirs.train_on_batch(x, y)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a.reshape(b.shape), b, rtol=1e-5, atol=1e-5)
    gamma, beta = ours.get_weights()[:2]
    assert (gamma >= 0).all() and (gamma == 0).any() and np.linalg.norm(beta) == pytest.approx(1.0, rel=1e-5)


# the penalty in the loss and its gradient, by hand in float64: tests/test_keras_args46.py's
# test_the_penalty_is_in_the_loss_and_its_gradient, for the three layers taking these arguments


# -- configs and model files ------------------------------------------------------------------------
FULL = dict(axis=[1, 2], momentum=0.8, epsilon=1.001e-5, gamma_initializer="zeros",
            beta_initializer=gn.initializers.Constant(0.5), moving_variance_initializer="zeros",
            gamma_regularizer=gn.regularizers.L2(0.01), beta_regularizer="l1",
            gamma_constraint=gn.constraints.NonNeg(), beta_constraint="max_norm")


def test_config_round_trip():
    # a default layer's config is the one of before these arguments: files load in an older glassnet
    assert set(BatchNormalization().get_config()) == {"name", "momentum", "epsilon"}
    assert set(BatchNormalization(axis=-1, synchronized=False, gamma_initializer="Ones",
                                  moving_mean_initializer="zero").get_config()) == {"name", "momentum", "epsilon"}
    layer = BatchNormalization(**FULL, name="bn")
    config = layer.get_config()
    assert config["axis"] == [1, 2] and config["gamma_initializer"] == "zeros"
    assert config["beta_initializer"] == {"class_name": "Constant", "config": {"value": 0.5}}
    again = BatchNormalization.from_config(config)
    assert again.get_config() == config
    assert gn.layers.deserialize(gn.layers.serialize(layer)).get_config() == config
    assert BatchNormalization.from_config(BatchNormalization(axis=3).get_config()).axis == 3


def test_keras_config_is_read(keras, rng):
    theirs = keras.layers.BatchNormalization(axis=1, momentum=0.8, epsilon=1.001e-5, gamma_initializer="zeros",
                                             beta_regularizer=keras.regularizers.L2(0.01),
                                             gamma_constraint=keras.constraints.NonNeg())
    theirs.build((None, 3, 4))
    ours = gn.layers.deserialize(keras.layers.serialize(theirs))
    config = ours.get_config()
    assert (config["axis"], config["momentum"], config["epsilon"]) == (1, 0.8, 1.001e-5)
    assert config["gamma_initializer"] == {"class_name": "Zeros", "config": {}}
    assert config["beta_regularizer"] == {"class_name": "L2", "config": {"l2": 0.01}}
    assert config["gamma_constraint"] == {"class_name": "NonNeg", "config": {}}
    ours.build((3, 4))
    random_weights(ours, rng)
    theirs.set_weights(ours.get_weights())
    x = rng.normal(size=(5, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x, training=False)), rtol=1e-5, atol=1e-5)
    # Keras' default layer reads as glassnet's default one
    plain = gn.layers.deserialize(keras.layers.serialize(keras.layers.BatchNormalization()))
    assert set(plain.get_config()) == {"name", "momentum", "epsilon"}


def test_model_file_round_trip(tmp_path, rng):
    x = rng.normal(size=(8, 4, 3, 2))
    y = rng.normal(size=(8, 2))
    model = gn.Sequential([gn.Input((4, 3, 2)), BatchNormalization(**FULL), BatchNormalization(axis=1),
                           BatchNormalization(axis=3), Flatten(), Dense(2)], seed=0)
    model.compile("mse", gn.optimizers.SGD(0.05))
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    model.save(tmp_path / "m.glassnet")
    loaded = gn.models.load_model(tmp_path / "m.glassnet")
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    assert loaded.layers[0].params["gamma"].shape == (4, 3) and loaded.layers[1].state["moving_mean"].shape == (4,)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    # the regularizers and constraints came back too: the next steps are the same
    model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


# -- frozen, trace, masks --------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["channels_first_1", "positions_[1,2]"])
def test_a_frozen_layer_runs_in_inference_mode(case, keras, rng):
    sample, axis, _ = CASES[case]
    ours = BatchNormalization(axis=axis)
    ours.build(sample)
    random_weights(ours, rng)
    ours.trainable = False
    before = ours.get_weights()
    x = batches(rng, sample, n=1)[0]
    np.testing.assert_array_equal(ours(x, training=True), ours(x, training=False))
    for a, b in zip(before, ours.get_weights()):
        np.testing.assert_array_equal(a, b)
    layers, reshape = keras_twin(keras, sample, axis)
    keras_bn = layers[-1]
    theirs = keras.Sequential([keras.Input(sample), *layers])
    keras_bn.set_weights(copy_into_keras(keras_bn.get_weights(), before))
    keras_bn.trainable = False
    np.testing.assert_allclose(ours(x, training=True), np.asarray(theirs(x, training=True)).reshape(x.shape),
                               rtol=1e-5, atol=2e-5)
    # in a model: fit leaves its statistics, and gives the input gradient of inference mode
    model = gn.Sequential([gn.Input(sample), ours, Flatten(), Dense(1)], seed=0)
    model.compile("mse", "sgd")
    model.fit(x, rng.normal(size=(len(x), 1)), epochs=2, batch_size=3, verbose=0)
    for a, b in zip(before, ours.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_trace_shows_the_normalised_input_in_the_input_layout(rng):
    x = rng.normal(3, 2, (6, 3, 4))
    model = gn.Sequential([gn.Input((3, 4)), BatchNormalization(axis=1, center=False, scale=False), Flatten(),
                           Dense(1)], seed=0, dtype="float64")
    model.compile("mse", "sgd")
    record = model.trace(x, rng.normal(size=(6, 1)))[0]
    mean, var = x.mean(axis=(0, 2), keepdims=True), x.var(axis=(0, 2), keepdims=True)
    np.testing.assert_allclose(record["xhat"], (x - mean) / np.sqrt(var + 1e-3), rtol=1e-12)
    np.testing.assert_allclose(record["A"], record["xhat"], rtol=1e-12)


@pytest.mark.parametrize("axis", [1, -1])
def test_a_mask_is_still_refused(axis):
    # Keras leaves masked steps out of its statistics; glassnet's does not, so it refuses a mask
    for first in (Embedding(12, 2, mask_zero=True, input_shape=(7,)), Masking(input_shape=(7, 2))):
        with pytest.raises(ValueError, match="out of its batch statistics"):
            gn.Sequential([first, BatchNormalization(axis=axis), Flatten()])


# -- what ported Keras code writes, and the errors --------------------------------------------------
@pytest.mark.parametrize("options", [dict(axis=-1), dict(axis=3), dict(axis=1), dict(epsilon=1.001e-5),
                                     dict(gamma_initializer="zeros"), dict(momentum=0.8),
                                     dict(axis=3, epsilon=1.001e-5, name="conv1_bn"), dict(synchronized=False)],
                         ids=str)
def test_keras_idioms_build_and_run(options, rng):
    x = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    out = BatchNormalization(**options)(x, training=True)
    assert out.shape == x.shape and out.dtype == np.float32


@pytest.mark.parametrize("axis, sample, words", [
    (4, (4, 4, 3), r"axis=4 does not name distinct feature axes of an input of rank 4, shape \(None, 4, 4, 3\)"),
    (-4, (4, 4, 3), r"axis=-4 .* rank 4, shape \(None, 4, 4, 3\): the batch is axis 0"),
    (2, (5,), r"axis=2 .* rank 2, shape \(None, 5\)"),
    ([1, -3], (4, 4, 3), r"axis=\[1, -3\] does not name distinct"),
])
def test_an_axis_the_input_lacks_is_refused_at_build(axis, sample, words):
    layer = BatchNormalization(axis=axis)
    with pytest.raises(ValueError, match=words):
        layer.build(sample)
    with pytest.raises(ValueError, match=words):          # called on data: built, so refused the same
        BatchNormalization(axis=axis)(np.zeros((8, *sample)))


@pytest.mark.parametrize("make, error, words", [
    (lambda: BatchNormalization(axis=0), ValueError, r"axis: expected distinct axes .* other than the batch axis 0"),
    (lambda: BatchNormalization(axis="1"), TypeError, r"BatchNormalization: axis: expected an integer"),
    (lambda: BatchNormalization(0.9), TypeError, r"axis is the first argument, as in Keras: .*momentum=0.9"),
    (lambda: BatchNormalization(axis=[1, 1]), ValueError, r"axis: expected distinct axes"),
    (lambda: BatchNormalization(synchronized=True), ValueError, r"synchronized=True .* one device"),
    (lambda: BatchNormalization(synchronized="yes"), TypeError, r"BatchNormalization: synchronized: expected True or"),
    (lambda: BatchNormalization(gamma_initializer="nope"), ValueError, r"BatchNormalization: gamma_initializer"),
    (lambda: BatchNormalization(beta_regularizer=3), ValueError, r"BatchNormalization: beta_regularizer"),
    (lambda: BatchNormalization(gamma_constraint="nope"), ValueError, r"BatchNormalization: gamma_constraint"),
])
def test_bad_arguments_are_named(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_other_errors_name_what_was_expected(rng):
    layer = BatchNormalization(axis=1)
    layer.build((3, 4))
    with pytest.raises(ValueError, match=r"expected input samples of shape \(3, 4\), got \(4, 3\)"):
        layer(np.zeros((2, 4, 3)))
    # forward alone (a model of other shapes, a layer of yours calling it): the feature axis named
    with pytest.raises(ValueError, match=r"expected input samples of shape \(3, 4\) \(\(3,\) on axis=1\), "
                                         r"got \(4, 3\)"):
        layer.forward(np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match="moving_variance_initializer .* negative values"):
        BatchNormalization(moving_variance_initializer=gn.initializers.Constant(-1.0)).build((3,))
    with pytest.raises(ValueError, match=r"empty batch of shape \(0, 3, 4\)"):
        layer(np.zeros((0, 3, 4), np.float32), training=True)
