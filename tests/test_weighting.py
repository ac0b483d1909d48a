"""Sample and class weights end to end: PyTorch and Keras parity for every loss (fused and general
paths), weights of one change nothing, class_weight is the sample_weight it stands for, weights
follow their samples through the shuffle, and bad weights are refused."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_model
from glassnet.layers import Dense

LOSS_OUTPUTS = {   # loss -> (output activation, units)
    "mse": ("linear", 3), "squared_error": ("tanh", 3), "mae": ("linear", 3),
    "binary_crossentropy": ("sigmoid", 2), "categorical_crossentropy": ("softmax", 4),
    "sparse_categorical_crossentropy": ("softmax", 4)}
CROSS_ENTROPIES = ["binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"]


def _targets(loss, n, units, rng):
    if loss == "sparse_categorical_crossentropy":
        return rng.integers(0, units, n)
    if loss == "categorical_crossentropy":
        return np.eye(units)[rng.integers(0, units, n)]
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, (n, units)).astype(float)
    return rng.standard_normal((n, units))


def _net(loss, dtype="float64", seed=0, optimizer="sgd"):
    activation, units = LOSS_OUTPUTS[loss]
    model = gn.Sequential([Dense(5, activation="relu", input_dim=3), Dense(4, activation="sigmoid"),
                           Dense(units, activation=activation)], seed=seed, dtype=dtype)
    model.compile(loss=loss, optimizer=optimizer)
    return model


def _weights(rng, n):
    w = rng.uniform(0, 3, n)
    w[1] = 0.0
    return w


def _torch_weighted_loss(loss, logits, y, w, torch):
    """sum_i w_i * loss_i / n, with loss_i from PyTorch's reduction="none" (per output, then per
    sample as Keras: the mean over the outputs, or their sum for the categorical losses)."""
    F, t = torch.nn.functional, torch.tensor(y)
    if loss == "mse":
        per_sample = F.mse_loss(logits, t, reduction="none").mean(dim=1)
    elif loss == "mae":
        per_sample = F.l1_loss(logits, t, reduction="none").mean(dim=1)
    elif loss == "squared_error":
        per_sample = 0.5 * ((torch.tanh(logits) - t) ** 2).sum(dim=1)
    elif loss == "binary_crossentropy":
        per_sample = F.binary_cross_entropy_with_logits(logits, t, reduction="none").mean(dim=1)
    else:
        per_sample = F.cross_entropy(logits, t, reduction="none")
    return (per_sample * torch.tensor(w)).sum() / y.shape[0]


@pytest.mark.parametrize("loss,fused", [(loss, loss in CROSS_ENTROPIES) for loss in sorted(LOSS_OUTPUTS)]
                         + [(loss, False) for loss in CROSS_ENTROPIES])
def test_weighted_loss_and_gradients_match_torch(loss, fused, rng, torch):
    model = _net(loss)
    assert model._fused == (loss in CROSS_ENTROPIES)
    model._fused = fused              # False: the general path, the loss's own gradient chained
    x, y, w = rng.standard_normal((7, 3)), _targets(loss, 7, LOSS_OUTPUTS[loss][1], rng), _weights(rng, 7)
    xp, yp = model._prepare_xy(x, y)
    value, _ = model._loss_and_gradients(xp, yp, w)

    params = [torch.tensor(p, requires_grad=True) for p in model.get_weights()]
    h = torch.tensor(x)
    for i, act in enumerate([torch.relu, torch.sigmoid, None]):
        h = h @ params[2 * i] + params[2 * i + 1]
        h = h if act is None else act(h)
    expected = _torch_weighted_loss(loss, h, yp, w, torch)
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-10)
    assert model.test_on_batch(x, y, sample_weight=w) == pytest.approx(expected.item(), rel=1e-10)
    grads = [g for layer in model.layers for g in layer.grads.values()]
    for mine, theirs in zip(grads, params):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("loss", sorted(LOSS_OUTPUTS))
def test_weighted_gradients_match_finite_differences(loss, rng):
    model = _net(loss)
    x, y = rng.standard_normal((6, 3)), _targets(loss, 6, LOSS_OUTPUTS[loss][1], rng)
    check_model(model, x, y, sample_weight=_weights(rng, 6))


@pytest.fixture
def keras():
    """Keras 3 as a float64 oracle, the global settings restored afterwards."""
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    floatx, policy = keras.backend.floatx(), keras.config.dtype_policy()
    keras.backend.set_floatx("float64")
    # the dtype policy keeps the floatx of its first use (a Keras layer in an earlier test): set it too
    keras.config.set_dtype_policy("float64")
    yield keras
    keras.config.set_dtype_policy(policy)
    keras.backend.set_floatx(floatx)


def _keras_twin(keras, model, loss, metrics=None):
    activation, units = LOSS_OUTPUTS[loss]
    twin = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5, activation="relu"),
                             keras.layers.Dense(4, activation="sigmoid"),
                             keras.layers.Dense(units, activation=activation)])
    twin.compile(loss=loss, optimizer=keras.optimizers.SGD(learning_rate=0.5), metrics=metrics)
    twin.set_weights(model.get_weights())
    return twin


@pytest.mark.parametrize("loss", sorted(set(LOSS_OUTPUTS) - {"squared_error"}))
def test_weighted_steps_match_keras(loss, rng, keras):
    """Keras 3 itself: the weighted loss (test_on_batch, evaluate) and one weighted SGD step."""
    model = _net(loss, optimizer=gn.optimizers.SGD(learning_rate=0.5))
    twin = _keras_twin(keras, model, loss)
    x, y, w = rng.standard_normal((9, 3)), _targets(loss, 9, LOSS_OUTPUTS[loss][1], rng), _weights(rng, 9)
    assert model.test_on_batch(x, y, sample_weight=w) == pytest.approx(
        twin.test_on_batch(x, y, sample_weight=w), rel=1e-10)
    assert model.evaluate(x, y, batch_size=4, sample_weight=w) == pytest.approx(
        twin.evaluate(x, y, batch_size=4, sample_weight=w, verbose=0), rel=1e-10)
    assert model.train_on_batch(x, y, sample_weight=w) == pytest.approx(
        twin.train_on_batch(x, y, sample_weight=w), rel=1e-10)
    for mine, theirs in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-12)


def test_class_weight_fit_and_unweighted_metrics_match_keras(rng, keras):
    """fit with class_weight and weighted validation data, and evaluate with sample_weight: the loss is
    weighted, accuracy is not (Keras weights only weighted_metrics, which glassnet does not have)."""
    loss = "sparse_categorical_crossentropy"
    model = _net(loss, optimizer=gn.optimizers.SGD(learning_rate=0.5))
    model.compile(loss=loss, optimizer=gn.optimizers.SGD(learning_rate=0.5), metrics=["accuracy"])
    twin = _keras_twin(keras, model, loss, metrics=["accuracy"])
    x, y, w = rng.standard_normal((12, 3)), rng.integers(0, 4, 12), _weights(rng, 12)
    settings = dict(epochs=3, batch_size=5, shuffle=False, class_weight={0: 3.0, 2: 0.25},
                    validation_data=(x[:6], y[:6], w[:6]))
    mine = model.fit(x, y, verbose=0, **settings).history
    theirs = twin.fit(x, y, verbose=0, **settings).history
    assert set(mine) == set(theirs)
    for key in mine:
        np.testing.assert_allclose(mine[key], theirs[key], rtol=1e-9, err_msg=key)
    ours = model.evaluate(x, y, sample_weight=w, return_dict=True)
    keras_results = twin.evaluate(x, y, sample_weight=w, return_dict=True, verbose=0)
    assert ours.keys() == keras_results.keys()
    assert ours["loss"] == pytest.approx(keras_results["loss"], rel=1e-10)
    assert ours["accuracy"] == keras_results["accuracy"] == model.evaluate(x, y, return_dict=True)["accuracy"]


@pytest.mark.parametrize("loss", sorted(LOSS_OUTPUTS))
def test_weights_of_one_train_bit_identically(loss, rng):
    x, y = rng.standard_normal((22, 3)), _targets(loss, 22, LOSS_OUTPUTS[loss][1], rng)
    runs = []
    for ones in (lambda n: None, np.ones, lambda n: [1] * n):
        model = _net(loss, dtype="float32", seed=3, optimizer="adam")
        history = model.fit(x, y, epochs=2, batch_size=5, verbose=0, validation_split=0.2,
                            sample_weight=ones(22))
        runs.append((model.get_weights(), history.history,
                     model.evaluate(x, y, batch_size=7, sample_weight=ones(22)),
                     model.train_on_batch(x[:5], y[:5], sample_weight=ones(5)),
                     model.test_on_batch(x, y, sample_weight=ones(22))))
    for other in runs[1:]:
        for a, b in zip(runs[0][0], other[0]):
            np.testing.assert_array_equal(a, b)
        assert runs[0][1:] == other[1:]


@pytest.mark.parametrize("loss,units", [("sparse_categorical_crossentropy", 4), ("categorical_crossentropy", 4),
                                        ("binary_crossentropy", 1), ("mse", 1)])
def test_class_weight_is_the_sample_weight_of_each_class(loss, units, rng):
    activation = {"mse": "linear", "binary_crossentropy": "sigmoid"}.get(loss, "softmax")
    labels = rng.integers(0, 2 if units == 1 else units, 30)
    y = np.eye(units)[labels] if loss == "categorical_crossentropy" else labels
    x = rng.standard_normal((30, 3))
    class_weight = {0: 0.5, 1: 3.0} if units == 1 else {0: 0.5, 1: 3.0, 3: 0.0}   # class 2: weight 1
    per_sample = np.array([class_weight.get(c, 1.0) for c in labels], dtype=np.float32)
    runs = []
    for kwargs in ({"class_weight": class_weight}, {"sample_weight": per_sample}, {}):
        model = gn.Sequential([Dense(4, activation="tanh", input_dim=3), Dense(units, activation=activation)],
                              seed=0)
        model.compile(loss=loss, optimizer="adam")
        model.fit(x, y, epochs=2, batch_size=8, verbose=0, **kwargs)
        runs.append((model.get_weights(), model.train_on_batch(x, y, **kwargs)))
    for a, b in zip(runs[0][0], runs[1][0]):
        np.testing.assert_array_equal(a, b)
    assert runs[0][1] == runs[1][1]
    assert not np.array_equal(runs[0][0][0], runs[2][0][0])      # and the weights did matter


def test_zero_weighted_samples_have_no_influence_through_the_shuffle(rng):
    """Samples weighing 0 are changed between two runs: the weights must come out identical, which
    they do only if every weight stays with its sample when an epoch's shuffle moves them."""
    x, y = rng.standard_normal((40, 3)), rng.integers(0, 4, 40)
    ignored = rng.permutation(40)[:15]
    w = rng.uniform(0.5, 2, 40)
    w[ignored] = 0.0
    x2, y2 = x.copy(), y.copy()
    x2[ignored] = rng.standard_normal((15, 3)) * 5
    y2[ignored] = (y[ignored] + 1) % 4
    runs = []
    for data, weights in (((x, y), w), ((x2, y2), w), ((x, y), None), ((x2, y2), None)):
        model = _net("sparse_categorical_crossentropy", dtype="float32", seed=5, optimizer="adam")
        model.fit(*data, epochs=3, batch_size=6, sample_weight=weights, verbose=0)
        runs.append(model.get_weights())
    for a, b in zip(runs[0], runs[1]):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(runs[2], runs[3]))    # they matter unweighted
    assert not all(np.array_equal(a, b) for a, b in zip(runs[0], runs[2]))    # and the weights do too


def test_validation_split_weights_the_held_out_tail(rng):
    x, y, w = rng.standard_normal((20, 3)), rng.standard_normal((20, 3)), _weights(rng, 20)
    model = _net("mse")
    history = model.fit(x, y, epochs=1, batch_size=None, sample_weight=w, validation_split=0.25,
                        class_weight=None, verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(
        model.evaluate(x[15:], y[15:], sample_weight=w[15:]), rel=1e-12)
    history = model.fit(x, y, epochs=1, validation_data=(x[:5], y[:5], w[:5]), verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(x[:5], y[:5], sample_weight=w[:5]))
    history = model.fit(x, y, epochs=1, validation_data=(x[:5], y[:5], None), verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(x[:5], y[:5]))


@pytest.mark.parametrize("call", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_bad_sample_weights_are_refused(call, rng):
    model = _net("sparse_categorical_crossentropy", dtype="float32")
    x, y = rng.standard_normal((10, 3)), rng.integers(0, 4, 10)
    kwargs = {"verbose": 0} if call == "fit" else {}
    cases = [
        (np.ones(9), ValueError, r"sample_weight: expected one weight per sample, shape \(10,\), got shape \(9,\)"),
        # ((10, 1) is taken as (10,), as Keras 3.15 takes it: tests/test_parity_fixsmall.py)
        (np.ones((10, 1, 1)), ValueError, r"shape \(10, 1, 1\); flatten it with .ravel\(\)"),
        (np.full(10, -1.0), ValueError, r"sample_weight: weights must be >= 0, got 10 negative"),
        (np.where(np.arange(10) == 3, np.nan, 1.0), ValueError, "sample_weight: contains 1 NaN or infinite"),
        (np.full(10, np.inf), ValueError, "sample_weight: contains 10 NaN or infinite"),
        (np.full(10, 1e39), ValueError, "sample_weight: contains weights too large for float32"),
        (np.array(["a"] * 10), TypeError, "sample_weight: expected numbers"),
        (2.0, ValueError, "sample_weight: expected an array with a batch axis, got a scalar"),
    ]
    for weights, error, message in cases:
        with pytest.raises(error, match=message):
            getattr(model, call)(x, y, sample_weight=weights, **kwargs)


@pytest.mark.parametrize("call", ["fit", "train_on_batch"])
def test_bad_class_weights_are_refused(call, rng):
    x, y = rng.standard_normal((10, 3)), rng.integers(0, 4, 10)
    model = _net("sparse_categorical_crossentropy", dtype="float32")
    kwargs = {"verbose": 0} if call == "fit" else {}
    cases = [
        ([1.0, 2.0], TypeError, "class_weight: expected a dict mapping class index to weight"),
        ({4: 1.0}, ValueError, r"class_weight: 4 is not a class of this model, whose classes are 0 to 3 "
                               r"\(4 output units\)"),
        ({-1: 1.0}, ValueError, "-1 is not a class"),
        ({"1": 1.0}, TypeError, "class_weight: keys must be integer class indices, got '1'"),
        ({True: 1.0}, TypeError, "keys must be integer class indices, got True"),
        ({1.0: 1.0}, TypeError, "keys must be integer class indices, got 1.0"),
        ({1: -0.5}, ValueError, r"class_weight\[1\]: expected a finite weight >= 0, got -0.5"),
        ({1: float("nan")}, ValueError, r"class_weight\[1\]: expected a finite weight >= 0"),
        ({1: float("inf")}, ValueError, r"class_weight\[1\]: expected a finite weight >= 0"),
        ({1: "2"}, TypeError, r"class_weight\[1\]: expected a number, got '2'"),
        ({1: 1e39}, ValueError, r"class_weight\[1\]: 1e\+39 is too large for float32"),
    ]
    for class_weight, error, message in cases:
        with pytest.raises(error, match=message):
            getattr(model, call)(x, y, class_weight=class_weight, **kwargs)
    single = gn.Sequential([Dense(1, input_dim=3)], seed=0)
    single.compile(loss="mse")
    with pytest.raises(ValueError, match=r"whose classes are 0 to 1 \(one output unit \(labels 0 and 1\)\)"):
        getattr(single, call)(x, y % 2, class_weight={2: 1.0}, **kwargs)
    with pytest.raises(ValueError, match="targets of a single-output model must round to 0 or 1"):
        getattr(single, call)(x, rng.standard_normal(10) * 3, class_weight={1: 2.0}, **kwargs)


def test_bad_weighted_validation_data_is_refused(rng):
    model = _net("mse")
    x, y = rng.standard_normal((10, 3)), rng.standard_normal((10, 3))
    with pytest.raises(ValueError, match=r"validation_data\[2\]: expected one weight per sample, shape \(4,\)"):
        model.fit(x, y, validation_data=(x[:4], y[:4], np.ones(5)), verbose=0)
    with pytest.raises(ValueError, match=r"validation_data: expected a tuple \(x_val, y_val\) or "
                                         r"\(x_val, y_val, sample_weight_val\)"):
        model.fit(x, y, validation_data=(x, y, None, None), verbose=0)


@pytest.mark.parametrize("call", ["fit", "train_on_batch"])
def test_sample_weight_and_class_weight_together_are_refused_as_in_keras_3(call, rng):
    model = gn.Sequential([Dense(3, activation="softmax", input_dim=4)], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    x, y = rng.standard_normal((6, 4)).astype(np.float32), rng.integers(0, 3, 6)
    before = model.get_weights()
    kwargs = {"verbose": 0} if call == "fit" else {}
    with pytest.raises(ValueError, match="give sample_weight or class_weight, not both"):
        getattr(model, call)(x, y, sample_weight=np.ones(6), class_weight={0: 2.0}, **kwargs)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)          # refused before any update
