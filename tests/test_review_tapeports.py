"""keras.io's custom-training guides ported with gn.GradientTape ("Writing a training loop from
scratch", "Customizing what happens in fit()"), against Keras 3.15 and tf.GradientTape from the
same weights: model.losses (add_loss terms, weight penalties) recorded on the tape, ``+=`` on a
recorded loss, compute_loss with add_loss terms, (n, 1) sample weights handed to a train_step."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


def _activity_models(keras):
    import tensorflow as tf

    class ActivityRegularizationLayer(gn.layers.Layer):
        def call(self, inputs):
            self.add_loss(1e-2 * ops.sum(inputs))
            return inputs

    class KerasActivityRegularizationLayer(keras.layers.Layer):
        def call(self, inputs):
            self.add_loss(1e-2 * tf.reduce_sum(inputs))
            return inputs

    def build(lib, regularization, **kw):
        inputs = (gn.Input if lib is gn else keras.Input)((6,))
        x = lib.layers.Dense(5, activation="relu")(inputs)
        x = regularization()(x)
        x = lib.layers.Dense(5, activation="relu")(x)
        return lib.Model(inputs, lib.layers.Dense(3)(x), **kw)

    model = build(gn, ActivityRegularizationLayer, seed=0)
    theirs = build(keras, KerasActivityRegularizationLayer)
    theirs.set_weights(model.get_weights())
    return model, theirs


def _batch(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6)).astype(np.float32), rng.integers(0, 3, n)


@pytest.mark.parametrize("added", ["none", "sum", "half"])
def test_loop_with_add_loss_layer_matches_tensorflow(keras, added):
    """The guide's "low-level handling of losses": ``loss_value += sum(model.losses)`` (it was
    refused: numpy.add with out=), and the terms' gradient only where the loss reads them (it was
    always added, once per backward pass, read or not)."""
    import tensorflow as tf
    model, theirs = _activity_models(keras)
    loss_fn = gn.losses.SparseCategoricalCrossentropy(from_logits=True)
    k_loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer, k_optimizer = gn.optimizers.SGD(0.1), keras.optimizers.SGD(0.1)
    for step in range(3):
        x, y = _batch(seed=step)
        with gn.GradientTape() as tape:
            logits = model(x, training=True)
            loss_value = loss_fn(logits, y)
            if added == "sum":
                loss_value += sum(model.losses)
            elif added == "half":
                loss_value = loss_value + 0.5 * sum(model.losses)
        grads = tape.gradient(loss_value, model.trainable_weights)
        optimizer.apply(grads, model.trainable_weights)
        with tf.GradientTape() as k_tape:
            k_logits = theirs(x, training=True)
            k_value = k_loss_fn(y, k_logits)
            if added == "sum":
                k_value += sum(theirs.losses)
            elif added == "half":
                k_value = k_value + 0.5 * sum(theirs.losses)
        k_grads = k_tape.gradient(k_value, theirs.trainable_weights)
        k_optimizer.apply(k_grads, theirs.trainable_weights)
        assert float(loss_value) == pytest.approx(float(k_value), rel=1e-5)
        for mine, their in zip(grads, k_grads):
            np.testing.assert_allclose(mine, their.numpy(), rtol=1e-5, atol=1e-6)
    for mine, their in zip(model.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, their, rtol=1e-5, atol=1e-6)


def test_terms_alone_and_a_model_called_twice(keras):
    """A loss of the terms alone (no gradient through the output), and a model called twice in
    one tape: only the latest call's terms are in model.losses (Keras clears them per call)."""
    import tensorflow as tf
    model, theirs = _activity_models(keras)
    x, y = _batch()
    loss_fn = gn.losses.SparseCategoricalCrossentropy(from_logits=True)
    k_loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with gn.GradientTape(persistent=True) as tape:
        model(x, training=True)
        alone = sum(model.losses)
        twice = loss_fn(model(x[:4], training=True), y[:4]) + loss_fn(model(x[4:], training=True), y[4:])
        twice = twice + sum(model.losses)
    with tf.GradientTape(persistent=True) as k_tape:
        theirs(x, training=True)
        k_alone = sum(theirs.losses)
        k_twice = k_loss_fn(y[:4], theirs(x[:4], training=True)) + k_loss_fn(y[4:], theirs(x[4:], training=True))
        k_twice = k_twice + sum(theirs.losses)
    for value, k_value in ((alone, k_alone), (twice, k_twice)):
        grads = tape.gradient(value, model.trainable_weights)
        k_grads = k_tape.gradient(k_value, theirs.trainable_weights)
        assert float(value) == pytest.approx(float(k_value), rel=1e-5)
        # (the terms alone: None for the later layers, as TF's: test_dead_weights_optimizer.py)
        assert [g is None for g in grads] == [g is None for g in k_grads]
        for mine, their in zip(grads, k_grads):
            if their is not None:
                np.testing.assert_allclose(mine, their.numpy(), rtol=1e-5, atol=1e-6)


def test_weight_penalties_in_model_losses_are_recorded(keras):
    """``loss + sum(model.losses)`` with a kernel_regularizer: the penalty's gradient (it was a
    constant: no gradient)."""
    import tensorflow as tf
    model = gn.Sequential([gn.Input((6,)), gn.layers.Dense(4, activation="tanh", kernel_regularizer=gn.regularizers.L2(0.1)),
                           gn.layers.Dense(3)], seed=0)
    theirs = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="tanh",
                                                                     kernel_regularizer=keras.regularizers.L2(0.1)),
                               keras.layers.Dense(3)])
    theirs.set_weights(model.get_weights())
    x, y = _batch()
    with gn.GradientTape() as tape:
        loss_value = gn.losses.SparseCategoricalCrossentropy(from_logits=True)(model(x, training=True), y)
        loss_value += sum(model.losses)
    grads = tape.gradient(loss_value, model.trainable_weights)
    with tf.GradientTape() as k_tape:
        k_value = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, theirs(x, training=True))
        k_value += sum(theirs.losses)
    k_grads = k_tape.gradient(k_value, theirs.trainable_weights)
    assert float(loss_value) == pytest.approx(float(k_value), rel=1e-5)
    for mine, their in zip(grads, k_grads):
        np.testing.assert_allclose(mine, their.numpy(), rtol=1e-5, atol=1e-6)


def test_compute_loss_adds_the_add_loss_terms(keras):
    """Keras 3's compute_loss adds model.losses: the guide's CustomModel step on a model with an
    add_loss layer (it was refused by name)."""
    import tensorflow as tf
    model, theirs = _activity_models(keras)
    model.compile(loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer=gn.optimizers.SGD(0.1))
    theirs.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer=keras.optimizers.SGD(0.1))
    x, y = _batch()
    with gn.GradientTape() as tape:
        loss = model.compute_loss(y=y, y_pred=model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    with tf.GradientTape() as k_tape:
        k_loss = theirs.compute_loss(y=y, y_pred=theirs(x, training=True))
    k_grads = k_tape.gradient(k_loss, theirs.trainable_variables)
    assert float(loss) == pytest.approx(float(k_loss), rel=1e-5)
    for mine, their in zip(grads, k_grads):
        np.testing.assert_allclose(mine, their.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_guide_sample_weight_step_takes_column_weights(keras, optimizer):
    """The guide's sample_weight example: ``sw = np.random.random((n, 1))`` given to fit (it was
    refused: "expected shape (n,)"), compute_loss(sample_weight=...) in the step."""
    import tensorflow as tf

    def step_class(lib, tape_class):
        class CustomModel(lib.Model):
            def train_step(self, data):
                if len(data) == 3:
                    x, y, sample_weight = data
                else:
                    sample_weight = None
                    x, y = data
                with tape_class() as tape:
                    y_pred = self(x, training=True)
                    loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
                trainable_vars = self.trainable_variables
                gradients = tape.gradient(loss, trainable_vars)
                self.optimizer.apply(gradients, trainable_vars)
                return {"step_loss": loss}
        return CustomModel

    make = {"sgd": lambda lib: lib.optimizers.SGD(0.1),
            "adam": lambda lib: lib.optimizers.Adam(0.01, epsilon=1e-12)}[optimizer]
    rng = np.random.default_rng(0)
    x, y = rng.random((24, 5)).astype(np.float32), rng.random((24, 1)).astype(np.float32)
    sw = rng.random((24, 1)).astype(np.float32)
    inputs = gn.Input((5,))
    model = step_class(gn, gn.GradientTape)(inputs, gn.layers.Dense(1)(inputs), seed=0)
    k_inputs = keras.Input((5,))
    theirs = step_class(keras, tf.GradientTape)(k_inputs, keras.layers.Dense(1)(k_inputs))
    theirs.set_weights(model.get_weights())
    model.compile(optimizer=make(gn), loss="mse")
    theirs.compile(optimizer=make(keras), loss="mse")
    history = model.fit(x, y, sample_weight=sw, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    k_history = theirs.fit(x, y, sample_weight=sw, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(history["step_loss"], k_history["step_loss"], rtol=1e-5)
    for mine, their in zip(model.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, their, rtol=1e-5, atol=1e-6)
