"""Outputs of one number per sample, shape (None,) (``x[:, 0]``, ``ops.sum(x, axis=1)``,
``ops.squeeze(x, -1)``), trained as Keras 3.15 trains them (glassnet.scalar_outputs): targets (n, 1)
as a (None, 1) output, targets (n,) with Keras' loss per batch, ``mean(terms) * mean(weights)``.
Compared with Keras 3.15 (history and weights after 3 epochs of SGD, batches of 4, 4 and 2) and
with float64 central finite differences."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

RNG = np.random.default_rng(0)
X = RNG.normal(size=(10, 3)).astype("float32")
Y_REG = RNG.normal(size=10).astype("float32")
Y_BIN = (RNG.random(10) > 0.5).astype("float32")
SW = (RNG.random(10) + 0.5).astype("float32")
CW = {0: 0.5, 1: 2.0}

# (loss, Keras' loss, targets, activation of the Dense before the reduction)
CASES = {
    "mse": ("mse", "mse", Y_REG, None),
    "mae": ("mae", "mae", Y_REG, None),
    "huber": ("huber", "huber", Y_REG, None),
    "log_cosh": ("log_cosh", "log_cosh", Y_REG, None),
    "msle": ("msle", "msle", np.abs(Y_REG), "softplus"),
    "mape": ("mape", "mape", np.abs(Y_REG) + 0.5, "softplus"),
    "poisson": ("poisson", "poisson", np.abs(Y_REG), "softplus"),
    "hinge": ("hinge", "hinge", Y_BIN, None),
    "squared_hinge": ("squared_hinge", "squared_hinge", Y_BIN, None),
    "bce": ("binary_crossentropy", "binary_crossentropy", Y_BIN, "sigmoid"),
    "bce_logits": (lambda: gn.losses.BinaryCrossentropy(from_logits=True),
                   lambda keras: keras.losses.BinaryCrossentropy(from_logits=True), Y_BIN, None),
}
REDUCTIONS = {"index": lambda h: h[:, 0], "sum": lambda h: ops.sum(h, axis=1),
              "squeeze": lambda h: ops.squeeze(h[:, 0:1], -1)}


def _keras_reduce(keras, kind, h):
    return {"index": lambda: h[:, 0], "sum": lambda: keras.ops.sum(h, axis=1),
            "squeeze": lambda: keras.ops.squeeze(h[:, 0:1], -1)}[kind]()


def _models(keras, act, kind="index", outputs=1):
    keras.utils.set_random_seed(0)
    i = keras.Input((3,))
    h = keras.layers.Dense(2, activation=act)(i)
    kout = [_keras_reduce(keras, kind, h) for _ in range(outputs)]
    kmodel = keras.Model(i, kout[0] if outputs == 1 else kout)
    gi = gn.Input((3,))
    gh = gn.layers.Dense(2, activation=act)(gi)
    gout = [REDUCTIONS[kind](gh) for _ in range(outputs)]
    model = gn.Model(gi, gout[0] if outputs == 1 else gout, seed=0)
    model.build((3,))
    model.set_weights(kmodel.get_weights())
    return kmodel, model


def _both(keras, case, column, weights, kind="index", metrics=None, kmetrics=None):
    loss, kloss, y, act = CASES[case]
    kmodel, model = _models(keras, act, kind)
    kmodel.compile(loss=kloss(keras) if callable(kloss) else kloss, optimizer=keras.optimizers.SGD(0.1),
                   metrics=kmetrics)
    model.compile(loss=loss() if callable(loss) else loss, optimizer=gn.optimizers.SGD(0.1), metrics=metrics)
    yy = y[:, None] if column else y
    kw = {"sample_weight": SW if weights == "sw" else None, "class_weight": CW if weights == "cw" else None}
    kh = kmodel.fit(X, yy, batch_size=4, epochs=3, verbose=0, shuffle=False, **kw).history
    gh = model.fit(X, yy, batch_size=4, epochs=3, verbose=0, shuffle=False, **kw).history
    ew = {"sample_weight": kw["sample_weight"]}
    kev = kmodel.evaluate(X, yy, batch_size=4, verbose=0, return_dict=True, **ew)
    gev = model.evaluate(X, yy, batch_size=4, verbose=0, return_dict=True, **ew)
    return kmodel, model, kh, gh, kev, gev


@pytest.mark.parametrize("weights", [None, "sw", "cw"])
@pytest.mark.parametrize("column", [False, True], ids=["y(n,)", "y(n,1)"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_trains_as_keras(keras, case, column, weights):
    if weights == "cw" and CASES[case][2] is not Y_BIN:
        pytest.skip("class weights need class targets")
    kmodel, model, kh, gh, kev, gev = _both(keras, case, column, weights)
    np.testing.assert_allclose(gh["loss"], kh["loss"], rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(gev["loss"], kev["loss"], rtol=2e-6, atol=1e-7)
    for a, b in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_targets_n_weigh_the_batch_mean_not_each_sample(keras):
    # the odd Keras rule, told apart: the same weights give another loss with targets (n,) and (n, 1)
    *_, kh1, gh1, _, _ = _both(keras, "mse", False, "sw")
    *_, kh2, gh2, _, _ = _both(keras, "mse", True, "sw")
    assert abs(kh1["loss"][0] - kh2["loss"][0]) > 1e-3
    np.testing.assert_allclose([gh1["loss"][0], gh2["loss"][0]], [kh1["loss"][0], kh2["loss"][0]], rtol=2e-6)


@pytest.mark.parametrize("kind", ["sum", "squeeze"])
def test_other_reductions(keras, kind):
    loss, kloss, y, act = CASES["mse"]
    kmodel, model = _models(keras, act, kind)
    kmodel.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    kh = kmodel.fit(X, y, batch_size=4, epochs=3, verbose=0, shuffle=False, sample_weight=SW).history
    gh = model.fit(X, y, batch_size=4, epochs=3, verbose=0, shuffle=False, sample_weight=SW).history
    np.testing.assert_allclose(gh["loss"], kh["loss"], rtol=2e-6)
    for a, b in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("column", [False, True], ids=["y(n,)", "y(n,1)"])
def test_per_sample_metrics_as_keras(keras, column):
    metrics = ["binary_accuracy", gn.metrics.AUC(name="auc"), gn.metrics.Precision(name="precision")]
    kmetrics = ["binary_accuracy", keras.metrics.AUC(name="auc"), keras.metrics.Precision(name="precision")]
    kmodel, model, kh, gh, kev, gev = _both(keras, "bce", column, "sw", metrics=metrics, kmetrics=kmetrics)
    for key in kh:
        np.testing.assert_allclose(gh[key], kh[key], rtol=2e-6, atol=1e-7, err_msg=key)
        np.testing.assert_allclose(gev[key], kev[key], rtol=2e-6, atol=1e-7, err_msg=key)


def test_per_sample_metrics_with_targets_column_as_keras(keras):
    # with targets (n, 1) Keras scores mae per sample (it expands the output), as glassnet does
    kmodel, model, kh, gh, kev, gev = _both(keras, "mse", True, None, metrics=["mae", "mse"], kmetrics=["mae", "mse"])
    for key in kh:
        np.testing.assert_allclose(gh[key], kh[key], rtol=2e-6, atol=1e-7, err_msg=key)


def test_train_on_batch_as_keras(keras):
    kmodel, model = _models(keras, None)
    kmodel.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    for _ in range(3):
        k = kmodel.train_on_batch(X, Y_REG, sample_weight=SW)
        g = model.train_on_batch(X, Y_REG, sample_weight=SW)
        np.testing.assert_allclose(g, k, rtol=2e-6)
    np.testing.assert_allclose(model.test_on_batch(X, Y_REG, sample_weight=SW),
                               kmodel.test_on_batch(X, Y_REG, sample_weight=SW), rtol=2e-6)


@pytest.mark.parametrize("column", [False, True], ids=["y(n,)", "y(n,1)"])
@pytest.mark.parametrize("case", ["mse", "bce", "huber"])
def test_gradients_against_finite_differences(case, column):
    loss, _, y, act = CASES[case]
    gi = gn.Input((3,))
    model = gn.Model(gi, gn.layers.Dense(2, activation=act)(gi)[:, 0], seed=1, dtype="float64")
    model.compile(loss=loss, optimizer="sgd")
    x, yy, w = X.astype("float64"), (y[:, None] if column else y).astype("float64"), SW.astype("float64")
    assert gn.gradcheck.check_model(model, x, yy, sample_weight=w)


def test_weighted_loss_value_by_hand():
    # Keras' loss per batch with targets (n,): mean of the squared errors times the mean weight
    gi = gn.Input((3,))
    model = gn.Model(gi, ops.sum(gn.layers.Dense(2)(gi), axis=1), seed=0)
    model.compile(loss="mse", optimizer="sgd")
    pred = model.predict(X).astype("float64")
    expected = np.mean((pred - Y_REG) ** 2) * SW.mean()
    assert model.evaluate(X, Y_REG, sample_weight=SW, batch_size=10) == pytest.approx(expected, rel=1e-6)
    per_sample = np.mean((pred - Y_REG) ** 2 * SW)
    assert model.evaluate(X, Y_REG[:, None], sample_weight=SW, batch_size=10) == pytest.approx(per_sample, rel=1e-6)


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "sparse_categorical_crossentropy", "kl_divergence",
                                  "cosine_similarity", "categorical_hinge"])
def test_losses_across_the_batch_refused_with_targets_n(loss):
    gi = gn.Input((3,))
    model = gn.Model(gi, gn.layers.Dense(2, activation="sigmoid")(gi)[:, 0], seed=0)
    model.compile(loss=loss, optimizer="sgd")
    with pytest.raises(ValueError, match=r"one number per sample.*across the batch axis.*\(n_samples, 1\)"):
        model.fit(X, Y_BIN, verbose=0)


@pytest.mark.parametrize("metric", ["accuracy", "mae", "mse"])
def test_metrics_keras_reduces_over_the_batch_refused(metric):
    gi = gn.Input((3,))
    model = gn.Model(gi, gn.layers.Dense(2, activation="sigmoid")(gi)[:, 0], seed=0)
    model.compile(loss="binary_crossentropy", optimizer="sgd", metrics=[metric])
    with pytest.raises(ValueError, match=rf"metric {metric!r} on an output of one number per sample"):
        model.fit(X, Y_BIN, verbose=0)
    if metric != "accuracy":        # per sample with targets (n, 1), as in Keras
        assert np.isfinite(model.fit(X, Y_BIN[:, None], verbose=0).history[metric][0])


def test_bad_target_shape_refused():
    gi = gn.Input((3,))
    model = gn.Model(gi, gn.layers.Dense(2)(gi)[:, 0], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match=r"y: .*one number per sample.*\(n_samples,\) or \(n_samples, 1\), got shape \(10, 2\)"):
        model.fit(X, np.zeros((10, 2)), verbose=0)
