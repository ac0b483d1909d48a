"""Review of session 47's new features (newrev47): differential fuzzing against Keras 3.15 of the
loss classes' axis=/dtype=, the bounding boxes, the new layer arguments and the state surfaces;
each test a bug found there, failing before its fix."""
import os

import numpy as np
import pytest

import glassnet as gn

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


# SparseCategoricalCrossentropy(axis=1) on (n, k) outputs: Keras' TensorFlow backend takes the last
# axis by its positive number; glassnet refused any axis but -1 when constructed
@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_ce_takes_the_last_axis_by_its_positive_number(keras, from_logits):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(5, 4))
    p = z if from_logits else np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    y = rng.integers(0, 4, size=5)
    ours = gn.losses.SparseCategoricalCrossentropy(from_logits=from_logits, axis=1)
    theirs = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits, axis=1, dtype="float64")
    assert ours(p, y) == pytest.approx(float(theirs(y, p)), rel=1e-12)
    plain = gn.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    np.testing.assert_array_equal(ours.gradient(p, y), plain.gradient(p, y))
    # axis=1 on (2, 3, 4) is not the last: refused by name when called
    with pytest.raises(ValueError, match="axis=1 on predictions of shape"):
        ours(rng.uniform(size=(2, 3, 4)), rng.integers(0, 3, size=(2, 4)))


def test_sparse_ce_last_axis_by_number_trains_as_the_default():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(8, 3)), rng.integers(0, 4, size=8)
    losses = []
    for loss in (gn.losses.SparseCategoricalCrossentropy(axis=1), gn.losses.SparseCategoricalCrossentropy()):
        model = gn.Sequential([gn.layers.Dense(4, activation="softmax", input_dim=3)], seed=0)
        model.compile(loss=loss, optimizer="sgd")
        losses.append(model.fit(X, y, epochs=2, batch_size=4, verbose=0).history["loss"])
    assert losses[0] == losses[1]
    model = gn.Sequential([gn.layers.Dense(4, activation="softmax", input_dim=3)], seed=0)
    model.compile(loss=gn.losses.SparseCategoricalCrossentropy(axis=2), optimizer="sgd")
    with pytest.raises(ValueError, match="axis=2"):
        model.fit(X, y, epochs=1, verbose=0)


# optimizer.variables' step count and learning rate given a non-number: NumPy's words ("invalid
# literal for int()", "could not broadcast ...", None taken as nan: "got nan") named no argument
@pytest.mark.parametrize("index, value", [(0, "x"), (0, None), (0, np.array([1, 2])), (1, "x"), (1, None),
                                          (1, np.array([0.1, 0.2])), (0, float("nan"))])
def test_optimizer_scalar_writes_refuse_non_numbers_by_name(index, value):
    opt = gn.optimizers.Adam(0.01)
    model = gn.Sequential([gn.layers.Dense(2, input_dim=3)], seed=0)
    model.compile(loss="mse", optimizer=opt)
    model.fit(np.ones((4, 3)), np.ones((4, 2)), epochs=1, verbose=0)
    variable = opt.variables[index]
    what = "step count" if index == 0 else "learning rate"
    with pytest.raises((TypeError, ValueError), match=f"optimizer.variables: the {what}"):
        variable.assign(value)
    assert (opt.iterations, opt.learning_rate) == (1, pytest.approx(0.01))
    variable.assign(3)                           # a number still taken (Keras truncates 1.5 to 1 as NumPy)
    assert (opt.iterations if index == 0 else opt.learning_rate) == 3


# a loss with its own dtype= called on a tape: the recorded value came back in the model's dtype
# (the direct call and Keras 3.15 give the loss's), reduction="none" and the reduced ones alike
@pytest.mark.parametrize("name, activation", [("BinaryCrossentropy", "sigmoid"), ("MeanSquaredError", None),
                                              ("CategoricalCrossentropy", "softmax")])
@pytest.mark.parametrize("reduction", ["none", "sum"])
@pytest.mark.parametrize("model_dtype, loss_dtype", [("float64", "float32"), ("float32", "float64")])
def test_loss_dtype_kept_on_a_tape(name, activation, reduction, model_dtype, loss_dtype):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 4)).astype(model_dtype)
    y = np.eye(3)[rng.integers(0, 3, 5)].astype(model_dtype)
    model = gn.Sequential([gn.layers.Input((4,)), gn.layers.Dense(3, activation=activation)], dtype=model_dtype, seed=0)
    loss = getattr(gn.losses, name)(reduction=reduction, dtype=loss_dtype)
    with gn.GradientTape() as tape:
        value = loss(model(x, training=True), y)
    grads = tape.gradient(value, model.trainable_weights)
    direct = loss(model(x), y)
    assert np.asarray(value).dtype == np.dtype(loss_dtype)
    if reduction == "none":                     # (a reduced direct call gives a Python float)
        assert np.asarray(direct).dtype == np.dtype(loss_dtype)
    np.testing.assert_allclose(np.asarray(value, np.float64), np.asarray(direct, np.float64), rtol=1e-6)
    assert all(g.dtype == np.dtype(model_dtype) for g in grads)
