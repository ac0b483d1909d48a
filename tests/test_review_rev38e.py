"""Review of GradientTape (glassnet.tape): what happens to a model between recording and
tape.gradient (predict, evaluate, fit, another call, an optimizer step), against tf.GradientTape on
the same weights."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet import ops


def _pair(keras, seed=0):
    model = gn.Sequential([L.Dense(4, activation="tanh", input_dim=3), L.Dense(1)], seed=seed)
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=0.1))
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
    theirs.set_weights(model.get_weights())
    return model, theirs


def _their_gradients(theirs, x, y):
    import tensorflow as tf
    import keras
    with tf.GradientTape() as tape:
        loss = keras.losses.MeanSquaredError()(y, theirs(x, training=True))
    return [g.numpy() for g in tape.gradient(loss, theirs.trainable_weights)]


@pytest.mark.parametrize("between", ["predict", "evaluate", "call", "fit", "train_on_batch", "apply_gradients",
                                     "predict_inside"])
def test_gradient_is_the_recorded_calls_after_other_passes(keras, between):
    """A pass of the model between recording and gradient (predict of other data of the same
    batch size, evaluate, model(x), fit) overwrote the layers' caches, and an optimizer step
    its weights: the gradient was silently the other pass's (or at the new weights); TF's is the
    recorded call's, at the weights it used."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(8, 3)).astype(np.float32), rng.normal(size=(8, 1)).astype(np.float32)
    other, y_other = rng.normal(size=(8, 3)).astype(np.float32), rng.normal(size=(8, 1)).astype(np.float32)
    model, theirs = _pair(keras)
    expected = _their_gradients(theirs, x, y)
    loss_fn = gn.losses.MeanSquaredError()
    with gn.GradientTape() as tape:
        loss = loss_fn(model(x, training=True), y)
        if between == "predict_inside":
            model.predict(other, verbose=0)
    if between == "predict":
        model.predict(other, verbose=0)
    elif between == "evaluate":
        model.evaluate(other, y_other, verbose=0)
    elif between == "call":
        model(other, training=True)
    elif between == "fit":
        model.fit(other, y_other, epochs=1, batch_size=8, shuffle=False, verbose=0)
    elif between == "train_on_batch":
        model.train_on_batch(other, y_other)
    elif between == "apply_gradients":
        model.optimizer.apply_gradients(zip([np.ones_like(w) for w in model.trainable_weights],
                                            model.trainable_weights))
    weights_now = [w.copy() for w in model.trainable_weights]
    grads = tape.gradient(loss, model.trainable_weights)
    for mine, their in zip(grads, expected):
        np.testing.assert_allclose(mine, their, rtol=1e-4, atol=1e-6)
    for w, now in zip(model.trainable_weights, weights_now):     # the weights of now are left as they are
        np.testing.assert_array_equal(w, now)


def test_layer_called_alone_then_called_again(keras):
    """A layer called alone on arrays under the tape, then called again outside it: its
    gradient is the recorded call's."""
    import tensorflow as tf
    rng = np.random.default_rng(2)
    x, other = rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=(5, 3)).astype(np.float32)
    dense = L.Dense(2, activation="tanh", seed=0)
    with gn.GradientTape() as tape:
        value = ops.sum(ops.square(dense(x)))
    dense(other)
    grads = tape.gradient(value, dense.trainable_weights)
    theirs = keras.layers.Dense(2, activation="tanh")
    theirs.build((None, 3))
    theirs.set_weights(dense.get_weights())
    with tf.GradientTape() as k_tape:
        k_value = tf.reduce_sum(tf.square(theirs(x)))
    for mine, their in zip(grads, k_tape.gradient(k_value, theirs.trainable_weights)):
        np.testing.assert_allclose(mine, their.numpy(), rtol=1e-5, atol=1e-6)


def test_dropout_and_batchnorm_model_predicted_between():
    """Dropout and BatchNormalization in training mode: a predict between recording and gradient
    leaves the gradient (the same masks, the batch's statistics) and the moving statistics of now
    as they are without it."""
    def make():
        model = gn.Sequential([L.Dense(6, input_dim=3), L.BatchNormalization(), L.Activation("relu"),
                               L.Dropout(0.4), L.Dense(1)], seed=3, dtype="float64")
        model.compile(loss="mse", optimizer="sgd")
        return model

    rng = np.random.default_rng(3)
    x, other = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    results = []
    for between in (False, True):
        model = make()
        with gn.GradientTape() as tape:
            value = ops.mean(ops.square(model(x, training=True)))
        if between:
            model.predict(other, verbose=0)
        grads = tape.gradient(value, model.trainable_weights)
        results.append((grads, [w.copy() for w in model.get_weights()]))
    for a, b in zip(results[0][0], results[1][0]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("compiled", [False, True])
def test_frozen_layer_in_a_loop_of_ones_own(keras, compiled):
    """A layer frozen (trainable=False) after the model's weights were laid out, with no compile
    after it (a loop of one's own): its weights got gradients, its penalty joined compute_loss,
    and apply_gradients(zip(grads, model.trainable_weights)) trained it. Keras reads the flag
    live: no gradient (None), no penalty, the layer stays as it was."""
    import tensorflow as tf
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(8, 3)).astype(np.float32), rng.normal(size=(8, 1)).astype(np.float32)
    model = gn.Sequential([L.Dense(4, activation="tanh", input_dim=3, kernel_regularizer="l2"),
                           L.Dense(1, kernel_regularizer="l2")], seed=0)
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh", kernel_regularizer="l2"),
                               keras.layers.Dense(1, kernel_regularizer="l2")])
    theirs.set_weights(model.get_weights())
    model.compile(loss="mse", optimizer="sgd")
    theirs.compile(loss="mse", optimizer="sgd")
    if compiled:        # a layout first (compile takes up the flags only at the next one)
        model.train_on_batch(x, y)
        theirs.train_on_batch(x, y)
    model.layers[0].trainable = False
    theirs.layers[0].trainable = False
    frozen = [w.copy() for w in model.layers[0].get_weights()]
    optimizer, k_optimizer = gn.optimizers.SGD(learning_rate=0.1), keras.optimizers.SGD(learning_rate=0.1)
    for _ in range(2):
        with gn.GradientTape() as tape:
            loss = model.compute_loss(y=y, y_pred=model(x, training=True))
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
        with tf.GradientTape() as k_tape:
            k_loss = theirs.compute_loss(y=y, y_pred=theirs(x, training=True))
        k_grads = k_tape.gradient(k_loss, theirs.trainable_weights)
        k_optimizer.apply_gradients(zip(k_grads, theirs.trainable_weights))
        assert float(loss) == pytest.approx(float(k_loss), rel=1e-5)
    for mine, their in zip(model.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, their, rtol=1e-5, atol=1e-6)
    for now, before in zip(model.layers[0].get_weights(), frozen):
        np.testing.assert_array_equal(now, before)


@pytest.mark.parametrize("name", ["prod", "std", "var", "logsumexp", "norm"])
@pytest.mark.parametrize("axis", [None, 0, (0, 1)])
def test_reductions_over_the_batch_axis_match_torch(torch, name, axis):
    """ops.std(x) (every axis) or over axis 0 on a recorded value: tape.gradient refused it with
    "names the batch axis 0; while a model is drawn..." (the drawn-model check in the backward),
    where ops.sum and ops.mean passed."""
    x = np.random.default_rng(5).normal(size=(3, 4))
    with gn.GradientTape() as tape:
        tape.watch(x)
        value = ops.sum(ops.square(getattr(ops, name)(x, axis=axis)))
    grad = tape.gradient(value, x)
    t = torch.tensor(x, requires_grad=True)
    dims = (0, 1) if axis is None else axis
    reduced = {"prod": lambda a: a.prod() if dims == (0, 1) else a.prod(dims),
               "std": lambda a: a.std(dims, unbiased=False), "var": lambda a: a.var(dims, unbiased=False),
               "logsumexp": lambda a: torch.logsumexp(a, dims),
               "norm": lambda a: torch.linalg.vector_norm(a, dim=dims)}[name](t)
    their = (reduced * reduced).sum()
    their.backward()
    assert float(value) == pytest.approx(their.item(), rel=1e-12)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-10, atol=1e-12)
