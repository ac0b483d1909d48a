"""Review (scalarrev): outputs of one number per sample, (None,), against Keras 3.15 (differential
fuzz of glassnet.scalar_outputs)."""
import numpy as np
import pytest

import glassnet as gn

RNG = np.random.default_rng(7)
X = RNG.normal(size=(10, 3)).astype("float32")
Y = (RNG.random(10) > 0.5).astype("float32")
SW = (RNG.random(10) + 0.5).astype("float32")
XV = RNG.normal(size=(7, 3)).astype("float32")
YV = (RNG.random(7) > 0.5).astype("float32")
SWV = (RNG.random(7) + 0.5).astype("float32")


def _pair(keras):
    keras.utils.set_random_seed(0)
    i = keras.Input((3,))
    kmodel = keras.Model(i, keras.layers.Dense(2, activation="sigmoid")(i)[:, 0])
    gi = gn.Input((3,))
    model = gn.Model(gi, gn.layers.Dense(2, activation="sigmoid")(gi)[:, 0], seed=0)
    model.build((3,))
    model.set_weights(kmodel.get_weights())
    return kmodel, model


@pytest.mark.parametrize("weights", ["sw", "cw"])
def test_weighted_metrics_with_targets_n_weigh_each_sample_as_keras(keras, weights):
    # Keras 3.15 takes weighted_metrics with targets (n,) and weighs each sample by its own weight
    # (only the loss takes the batch's mean weight); glassnet refused them, saying Keras fails
    kmodel, model = _pair(keras)
    kmodel.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.1),
                   weighted_metrics=["binary_accuracy", keras.metrics.AUC(name="auc"),
                                     keras.metrics.Precision(name="precision")])
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(0.1),
                  weighted_metrics=["binary_accuracy", gn.metrics.AUC(name="auc"),
                                    gn.metrics.Precision(name="precision")])
    kw = {"sample_weight": SW} if weights == "sw" else {"class_weight": {0: 0.3, 1: 3.0}}
    fit = dict(batch_size=4, epochs=2, verbose=0, shuffle=False, validation_data=(XV, YV, SWV), **kw)
    kh = kmodel.fit(X, Y, **fit).history
    gh = model.fit(X, Y, **fit).history
    assert sorted(gh) == sorted(kh)
    for key in kh:
        np.testing.assert_allclose(gh[key], kh[key], rtol=2e-6, atol=1e-7, err_msg=key)
    kev = kmodel.evaluate(X, Y, sample_weight=SW, batch_size=4, verbose=0, return_dict=True)
    gev = model.evaluate(X, Y, sample_weight=SW, batch_size=4, verbose=0, return_dict=True)
    for key in kev:
        np.testing.assert_allclose(gev[key], kev[key], rtol=2e-6, atol=1e-7, err_msg=key)


def _sum_pair(keras, fused):
    keras.utils.set_random_seed(0)
    i = keras.Input((3,))
    k = keras.layers.Dense(2)(i)[:, 0]
    gi = gn.Input((3,))
    g = gn.layers.Dense(2)(gi)[:, 0]
    if fused:       # a sigmoid layer after the index
        k, g = keras.layers.Activation("sigmoid")(k), gn.layers.Activation("sigmoid")(g)
    kmodel, model = keras.Model(i, k), gn.Model(gi, g, seed=0)
    model.build((3,))
    model.set_weights(kmodel.get_weights())
    return kmodel, model


@pytest.mark.parametrize("loss", ["mse", "bce"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sw"])
def test_sum_reduction_with_targets_n_as_keras(keras, loss, weighted):
    # with targets (n,) Keras' loss is one number per batch, which its reduce_values returns as it
    # is when no weights are given, whatever the reduction: reduction="sum" gives the mean of the
    # terms there (glassnet summed them: a loss ~batch times larger, other weights after a step)
    kmodel, model = _sum_pair(keras, loss == "bce")
    if loss == "bce":
        kloss, gloss, y = keras.losses.BinaryCrossentropy(reduction="sum"), gn.losses.BinaryCrossentropy(reduction="sum"), Y
    else:
        kloss, gloss, y = keras.losses.MeanSquaredError(reduction="sum"), gn.losses.MeanSquaredError(reduction="sum"), X[:, 0] * 2
    kmodel.compile(loss=kloss, optimizer=keras.optimizers.SGD(0.05))
    model.compile(loss=gloss, optimizer=gn.optimizers.SGD(0.05))
    fit = dict(batch_size=4, epochs=2, verbose=0, shuffle=False, validation_data=(XV, XV[:, 0] * 2 if loss == "mse" else YV),
               sample_weight=SW if weighted else None)
    kh = kmodel.fit(X, y, **fit).history
    gh = model.fit(X, y, **fit).history
    for key in kh:
        np.testing.assert_allclose(gh[key], kh[key], rtol=2e-6, atol=1e-7, err_msg=key)
    for a, b in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.evaluate(X, y, batch_size=3), kmodel.evaluate(X, y, batch_size=3, verbose=0),
                               rtol=2e-6)
    np.testing.assert_allclose(model.train_on_batch(X, y), kmodel.train_on_batch(X, y), rtol=2e-6)


def test_sum_reduction_with_targets_n_gradients_and_trace():
    # the gradient is the derivative of the loss trained (float64 finite differences), and the
    # trace's dA of the output is training's
    gi = gn.Input((3,))
    model = gn.Model(gi, gn.layers.Dense(2)(gi)[:, 0], seed=1, dtype="float64")
    model.compile(loss=gn.losses.MeanSquaredError(reduction="sum"), optimizer="sgd")
    x, y = X.astype("float64"), X[:, 1].astype("float64")
    assert gn.gradcheck.check_model(model, x, y)["max_error"] < 1e-6
    pred = model.predict(x)
    trace = model.trace(x, y)
    np.testing.assert_allclose(trace[-1]["dA"], 2 * (pred - y) / len(y), rtol=1e-10)
