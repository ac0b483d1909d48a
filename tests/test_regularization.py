"""Dropout and BatchNormalization: training vs inference, seeds, PyTorch parity, Keras running stats."""
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import GradientCheckError, check_layer
from glassnet.layers import BatchNormalization, Dropout


# -- Dropout ----------------------------------------------------------------------------------
def test_dropout_is_identity_at_inference(rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    layer = Dropout(0.5, seed=0)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False), x)
    g = rng.standard_normal((4, 5))
    np.testing.assert_array_equal(layer.backward(g), g)


def test_dropout_keeps_one_minus_rate_and_rescales(rng):
    x = rng.uniform(1, 2, (200, 500))
    layer = Dropout(0.3, seed=0, dtype="float64")
    y = layer(x, training=True)
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.005                       # 100,000 draws: std ~0.0014
    np.testing.assert_allclose(y[kept], x[kept] / 0.7)
    assert abs(y.mean() / x.mean() - 1) < 0.01                   # inverted dropout keeps the mean
    g = rng.standard_normal(y.shape)
    np.testing.assert_allclose(layer.backward(g), np.where(kept, g / 0.7, 0.0))   # the same mask


def test_dropout_reproducible_from_seed_or_model_rng():
    x = np.ones((50, 40), dtype=np.float32)
    a = Dropout(0.5, seed=3)(x, training=True)
    b = Dropout(0.5, seed=3)(x, training=True)
    c = Dropout(0.5, seed=4)(x, training=True)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    layer = Dropout(0.5)
    layer.rng = np.random.default_rng(3)                          # what a model does
    np.testing.assert_array_equal(layer(x, training=True), a)
    assert not np.array_equal(layer(x, training=True), a)        # a new mask every step
    assert a.dtype == np.float32


def test_dropout_gradcheck(rng):
    layer = Dropout(0.4, dtype="float64")

    def reset():
        layer.rng = np.random.default_rng(7)

    report = check_layer(layer, rng.standard_normal((6, 5)), training=True, before_forward=reset)
    assert report["errors"] == {"input": report["max_error"]}
    reset()
    assert (layer.forward(np.ones((6, 5)), training=True) == 0).any()   # the check saw dropped units
    # without the reset every pass draws a new mask: named, not a gradient error of 1e6
    with pytest.raises(GradientCheckError, match=r"two forward passes of .*Dropout.* differ.*before_forward"):
        check_layer(Dropout(0.5, seed=0, dtype="float64"), rng.standard_normal((4, 3)), training=True)


def test_dropout_rate_zero_and_errors():
    x = np.ones((3, 3), dtype=np.float32)
    np.testing.assert_array_equal(Dropout(0.0)(x, training=True), x)
    for bad in (1.0, -0.1, "0.5", None, True):
        with pytest.raises(ValueError, match="rate"):
            Dropout(bad)


def test_dropout_config_round_trip():
    config = json.loads(json.dumps(Dropout(0.25, seed=1, name="d").get_config()))
    assert config == {"name": "d", "rate": 0.25, "seed": 1}
    assert Dropout.from_config(config).get_config() == config


# -- BatchNormalization -----------------------------------------------------------------------
def make_bn(shape, rng, momentum=0.99, epsilon=1e-3):
    layer = BatchNormalization(momentum=momentum, epsilon=epsilon, dtype="float64")
    layer.build(shape)
    layer.params["gamma"][...] = rng.uniform(0.5, 1.5, shape[-1])   # off the ones/zeros defaults
    layer.params["beta"][...] = rng.standard_normal(shape[-1])
    return layer


@pytest.mark.parametrize("shape", [(4,), (3, 5, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradcheck(shape, training, rng):
    layer = make_bn(shape, rng)
    layer.state["moving_mean"][...] = rng.standard_normal(shape[-1])
    layer.state["moving_variance"][...] = rng.uniform(0.5, 2, shape[-1])
    report = check_layer(layer, rng.normal(1, 2, (5, *shape)), training=training)
    assert set(report["errors"]) == {"input", "gamma", "beta"}


def to_cf(a):
    return np.moveaxis(a, -1, 1) if a.ndim > 2 else a


def from_cf(a):
    return np.moveaxis(a, 1, -1) if a.ndim > 2 else a


@pytest.mark.parametrize("shape", [(4,), (3, 5, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_matches_torch(shape, training, rng, torch):
    layer = make_bn(shape, rng, epsilon=1e-3)
    layer.state["moving_mean"][...] = rng.standard_normal(shape[-1])
    layer.state["moving_variance"][...] = rng.uniform(0.5, 2, shape[-1])
    running = {k: torch.tensor(v.copy()) for k, v in layer.state.items()}
    x = rng.normal(1, 2, (6, *shape))
    out = layer.forward(x, training=training)
    upstream = rng.standard_normal(out.shape)
    dx = layer.backward(upstream)

    xt = torch.tensor(to_cf(x), requires_grad=True)
    gamma = torch.tensor(layer.params["gamma"], requires_grad=True)
    beta = torch.tensor(layer.params["beta"], requires_grad=True)
    # torch's momentum is the weight of the NEW value: 1 - Keras' momentum
    ref = torch.nn.functional.batch_norm(xt, running["moving_mean"], running["moving_variance"], gamma,
                                         beta, training=training, momentum=1 - 0.99, eps=1e-3)
    ref.backward(torch.tensor(to_cf(upstream)))
    for mine, theirs in ((out, from_cf(ref.detach().numpy())), (dx, from_cf(xt.grad.numpy())),
                         (layer.grads["gamma"], gamma.grad.numpy()), (layer.grads["beta"], beta.grad.numpy())):
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-10)
    # running mean: same update rule; running variance: torch's uses the unbiased batch variance
    np.testing.assert_allclose(layer.state["moving_mean"], running["moving_mean"].numpy(), atol=1e-12)
    if training:
        m = x.size // shape[-1]
        batch_var = x.reshape(-1, shape[-1]).var(axis=0)
        np.testing.assert_allclose(running["moving_variance"].numpy() - layer.state["moving_variance"],
                                   0.01 * batch_var * (m / (m - 1) - 1), atol=1e-12)


def test_batchnorm_running_statistics_by_hand(rng):
    layer = BatchNormalization(momentum=0.9, dtype="float64")
    batches = [rng.normal(3, 2, (8, 2, 2, 3)) for _ in range(3)]
    mean, var = np.zeros(3), np.ones(3)
    for x in batches:
        layer(x, training=True)
        flat = x.reshape(-1, 3)
        mean = 0.9 * mean + 0.1 * flat.mean(axis=0)
        var = 0.9 * var + 0.1 * ((flat - flat.mean(axis=0)) ** 2).mean(axis=0)   # biased, as Keras
    np.testing.assert_allclose(layer.state["moving_mean"], mean, rtol=1e-13)
    np.testing.assert_allclose(layer.state["moving_variance"], var, rtol=1e-13)
    # inference uses them and leaves them alone
    x = rng.normal(3, 2, (4, 2, 2, 3))
    y = layer(x)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-12)
    np.testing.assert_allclose(layer.state["moving_mean"], mean, rtol=1e-13)


def test_batchnorm_training_normalises_and_keeps_state_out_of_params(rng):
    layer = BatchNormalization()
    y = layer(rng.normal(5, 3, (64, 4, 4, 6)).astype(np.float32), training=True)
    assert y.dtype == np.float32 and y.shape == (64, 4, 4, 6)
    np.testing.assert_allclose(y.reshape(-1, 6).mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(y.reshape(-1, 6).std(axis=0), 1, atol=1e-3)   # eps 1e-3 vs var 9
    assert set(layer.params) == set(layer.grads) == {"gamma", "beta"}
    assert set(layer.state) == {"moving_mean", "moving_variance"}
    assert all(v.dtype == np.float32 and v.shape == (6,) for v in layer.state.values())
    # gamma and beta (trained) and the two moving statistics: 4 x 6, as Keras counts
    assert layer.output_shape((4, 4, 6)) == (4, 4, 6) and layer.count_params() == 24


def test_batchnorm_errors_and_config():
    layer = BatchNormalization(name="bn")
    layer(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"layer bn \(BatchNormalization\).*\(3,\).*got \(4,\)"):
        layer(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"layer bn \(BatchNormalization\).*got \(4,\)"):
        layer.forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match="momentum"):
        BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="epsilon"):
        BatchNormalization(epsilon=0)
    config = json.loads(json.dumps(BatchNormalization(momentum=0.9, epsilon=1e-5, name="b").get_config()))
    assert config == {"name": "b", "momentum": 0.9, "epsilon": 1e-5}
    assert BatchNormalization.from_config(config).get_config() == config


@pytest.mark.parametrize("arg,value", [("momentum", v) for v in ("x", None, True, -0.1, float("nan"))]
                         + [("epsilon", v) for v in ("x", None, -1e-3, float("inf"))])
def test_batchnorm_bad_arguments_name_the_argument(arg, value):
    with pytest.raises(ValueError, match=rf"^BatchNormalization: {arg} must be .*, got "):
        BatchNormalization(**{arg: value})


def test_batchnorm_and_dropout_keep_their_ranges_and_take_numpy_numbers():
    # momentum 1 (statistics frozen) and 0 are both allowed; NumPy scalars pass as Python floats
    assert BatchNormalization(momentum=1).momentum == 1.0 and BatchNormalization(momentum=0).momentum == 0.0
    layer = BatchNormalization(momentum=np.float32(0.5), epsilon=np.float64(1e-5))
    assert type(layer.momentum) is float and type(layer.epsilon) is float
    assert Dropout(np.int64(0)).rate == 0.0 and type(Dropout(np.float32(0.25)).rate) is float


# -- training-mode side effects of trace and check_model ---------------------------------------
def _dense_bn_dropout(dtype="float32"):
    import glassnet as gn
    from glassnet.layers import Dense
    model = gn.Sequential([Dense(6, activation="tanh", input_dim=4), BatchNormalization(),
                           Dropout(0.5), Dense(3, activation="softmax")], seed=0, dtype=dtype)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    return model


def test_trace_leaves_moving_statistics_and_dropout_masks_as_they_were(rng):
    x, y = rng.normal(3, 2, (32, 4)), rng.integers(0, 3, 32)
    traced, plain = _dense_bn_dropout(), _dense_bn_dropout()
    before = traced.get_weights()
    for _ in range(3):
        traced.trace(x, y)
    for a, b in zip(before, traced.get_weights()):      # moving mean and variance included
        np.testing.assert_array_equal(a, b)
    # the dropout generators did not move on: training afterwards is the same run, bit for bit
    traced.fit(x, y, epochs=2, batch_size=8, verbose=0)
    plain.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for a, b in zip(traced.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_check_model_with_dropout_uses_one_mask_and_updates_nothing(rng):
    from glassnet.gradcheck import check_model
    model = _dense_bn_dropout("float64")
    x, y = rng.normal(3, 2, (8, 4)), rng.integers(0, 3, 8)
    before = model.get_weights()
    report = check_model(model, x, y)
    assert report["max_error"] < 1e-6
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_finite_batch_whose_variance_overflows_is_an_error_not_a_silent_beta(rng):
    # values ~1e20 in float32: (x - mean)^2 overflows, the output is beta alone and the loss finite;
    # the statistics could not be updated, so inference would have differed from training unseen
    x = (rng.normal(size=(64, 3)) * 1e20).astype(np.float32)
    model = gn.Sequential([BatchNormalization(input_dim=3), gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer="adam")
    with np.errstate(over="ignore"), pytest.raises(gn.NonFiniteError, match=r"layer batch_normalization "
                                                   r"\(BatchNormalization\): the variance of a batch overflowed "
                                                   r"float32 .*scale the inputs, or use dtype='float64'") as info:
        model.fit(x, (x[:, 0] > 0).astype(np.float32), batch_size=16, verbose=0)
    assert (info.value.layer, info.value.epoch, info.value.batch) == ("batch_normalization", 1, 1)
    assert str(info.value).startswith("training stopped at epoch 1, batch 1: layer batch_normalization")
    model64 = gn.Sequential([BatchNormalization(input_dim=3), gn.layers.Dense(1, activation="sigmoid")],
                            seed=0, dtype="float64")
    model64.compile(loss="binary_crossentropy", optimizer="adam")
    model64.fit(x, (x[:, 0] > 0).astype(np.float32), batch_size=16, verbose=0)   # float64 holds 1e40
    assert np.isfinite(model64.layers[0].state["moving_variance"]).all()


@pytest.mark.parametrize("shape", [(0, 3), (0, 4, 4, 3), (2, 0, 3)])
def test_batchnorm_training_on_an_empty_batch_names_the_problem(shape):
    """No values per feature: the batch statistics would be 0 / 0 (Keras' moving statistics turn
    NaN). A clear error, the moving statistics untouched; inference on it gives an empty output."""
    bn = BatchNormalization()
    bn.build((None, *shape[1:]))
    x = np.zeros(shape, np.float32)
    with pytest.raises(ValueError, match=r"training needs at least one value per feature .* empty batch of shape"):
        bn.forward(x, training=True)
    np.testing.assert_array_equal(bn.state["moving_mean"], 0)
    np.testing.assert_array_equal(bn.state["moving_variance"], 1)
    assert bn.forward(x, training=False).shape == shape
