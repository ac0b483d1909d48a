"""A nested block whose ``call`` defaults to ``training=True``, run as Keras 3.15 runs it
(glassnet._flagless): ``model(x)`` given no flag runs it with its default; predict and evaluate
give training=False, but to a subclass whose ``call`` takes no ``training`` they give none.

Every mode is compared with Keras 3.15 run live on the same classes (the ``keras`` fixture), in
a functional model, a Sequential and subclasses with ``call(x)``, ``call(x, training=None)``
handing the flag on, and not handing it on; and a block called alone.
"""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


def _classes(K, kind):
    """A block branching on training (deterministic: doubles in training) or one with a
    Dropout(0.5) inside given no flag, each with ``call(x, training=True)``; and the models."""
    if kind == "branch":
        class Block(K.layers.Layer):
            def call(self, x, training=True):
                return x * 2.0 if training else x
    else:
        class Block(K.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.drop = K.layers.Dropout(0.5)

            def call(self, x, training=True):
                return self.drop(x)

    def dense():
        return K.layers.Dense(64, kernel_initializer="ones", bias_initializer="zeros")

    class Sub(K.Model):          # call takes no training: Keras' predict gives it none
        def __init__(self):
            super().__init__()
            self.d, self.b = dense(), Block()

        def call(self, x):
            return self.b(self.d(x))

    class SubPassing(K.Model):   # hands its training=None on: the block runs with None
        def __init__(self):
            super().__init__()
            self.d, self.b = dense(), Block()

        def call(self, x, training=None):
            return self.b(self.d(x), training=training)

    class SubKeeping(K.Model):   # takes training, does not hand it on
        def __init__(self):
            super().__init__()
            self.d, self.b = dense(), Block()

        def call(self, x, training=None):
            return self.b(self.d(x))

    def functional():
        inputs = K.Input((8,))
        return K.Model(inputs, Block()(dense()(inputs)))

    def sequential():
        return K.Sequential([K.Input((8,)), dense(), Block()])

    return Block, {"functional": functional, "sequential": sequential, "sub": Sub,
                   "sub_passing": SubPassing, "sub_keeping": SubKeeping}


X = np.full((32, 8), 0.125, "float32")      # every Dense output is 1.0


def _trained(out):
    """Whether the block ran in training mode: doubled (branch) or some entries dropped (0)."""
    out = np.asarray(out)
    if np.allclose(out, 1.0):
        return False
    assert np.allclose(out, 2.0) or set(np.unique(np.round(out, 5))) <= {0.0, 2.0}, out
    return True


def _modes(model):
    model.compile(optimizer="sgd", loss="mse")
    evaluated = model.evaluate(X, np.ones((32, 64), "float32"), verbose=0)
    return {"call": _trained(model(X)), "predict": _trained(model.predict(X, verbose=0)),
            "evaluate": evaluated > 1e-6, "false": _trained(model(X, training=False)),
            "true": _trained(model(X, training=True)), "none": _trained(model(X, training=None)),
            "predict_on_batch": _trained(model.predict_on_batch(X))}


@pytest.mark.parametrize("kind", ["branch", "dropout"])
@pytest.mark.parametrize("name", ["functional", "sequential", "sub", "sub_passing", "sub_keeping"])
def test_modes_match_keras(keras, kind, name):
    expected = _modes(_classes(keras, kind)[1][name]())
    got = _modes(_classes(gn, kind)[1][name]())
    assert got == expected
    # the matrix measured before (Keras 3.15): model(x) trains the block but where its flag is
    # handed None, predict trains it only in a subclass whose call takes no training
    assert got["call"] is (name != "sub_passing") and got["predict"] is (name == "sub")


@pytest.mark.parametrize("kind", ["branch", "dropout"])
def test_block_alone_matches_keras(keras, kind):
    for K in (keras, gn):
        block = _classes(K, kind)[0]()
        ones = np.ones((32, 64), "float32")
        assert _trained(block(ones)) and not _trained(block(ones, training=False))


def test_block_inside_a_block_takes_the_outer_flag(keras):
    """An outer block given training=False explicitly keeps the inner default-True block in
    inference; given no flag, the inner one's default holds (Keras' context)."""
    def build(K):
        Block = _classes(K, "branch")[0]

        class Outer(K.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.inner = Block()

            def call(self, x):
                return self.inner(x)

        def model(**flag):
            inputs = K.Input((8,))
            h = K.layers.Dense(64, kernel_initializer="ones", bias_initializer="zeros")(inputs)
            return K.Model(inputs, Outer()(h, **flag))
        return model(), model(training=False)

    for K in (keras, gn):
        free, held = build(K)
        assert _trained(free(X)) and not _trained(held(X)), K.__name__
        assert not _trained(free.predict(X, verbose=0)), K.__name__


@pytest.mark.parametrize("name", ["functional", "sequential"])
def test_model_file_keeps_the_default(tmp_path, name):
    Block, makers = _classes(gn, "branch")
    model = makers[name]()
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = gn.load_model(path, custom_objects={"Block": Block})
    assert _modes(loaded) == _modes(makers[name]())
    # and a nested copy of it, called in another model given no flag, then given False
    inputs = gn.Input((8,))
    outer = gn.Model(inputs, [loaded(inputs), loaded(inputs, training=False)])
    free, held = outer(X)
    assert _trained(free) and not _trained(held)


def test_gradient_tape_given_no_flag_as_keras_and_central_differences(keras):
    """``model(x)`` recorded by a GradientTape runs the block with its default (doubling) and
    differentiates that pass: against Keras' tf.GradientTape, and float64 central differences."""
    import tensorflow as tf
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(5, 8)), rng.normal(size=(5, 3))

    def build(K, dtype):
        Block = _classes(K, "branch")[0]
        inputs = K.Input((8,), dtype=dtype) if K is keras else K.Input((8,))
        h = K.layers.Dense(3, activation="tanh", dtype=dtype)(inputs)
        if K is gn:
            return K.Model(inputs, Block()(h), seed=3, dtype=dtype)
        return K.Model(inputs, Block(dtype=dtype)(h))

    model = build(gn, "float64")
    reference = build(keras, "float64")
    reference.set_weights(model.get_weights())
    with tf.GradientTape() as tape:
        value_k = tf.reduce_sum(reference(x) * w)
    grads_k = tape.gradient(value_k, reference.trainable_weights)
    with gn.GradientTape() as tape:
        value = ops.sum(model(x) * w)
    grads = tape.gradient(value, model.trainable_weights)
    assert float(value) == pytest.approx(float(value_k), rel=1e-10)
    for g, k in zip(grads, grads_k):
        np.testing.assert_allclose(np.asarray(g), k.numpy(), rtol=1e-8, atol=1e-10)

    def loss():
        return float(np.sum(np.asarray(model(x)) * w))

    for g, weight in zip(grads, model.trainable_weights):
        expected = np.zeros_like(weight)
        for index in np.ndindex(weight.shape):
            keep = weight[index]
            weight[index] = keep + 1e-6
            up = loss()
            weight[index] = keep - 1e-6
            down = loss()
            weight[index] = keep
            expected[index] = (up - down) / 2e-6
        np.testing.assert_allclose(np.asarray(g), expected, rtol=1e-6, atol=1e-8)
    # the pass was the training draw: twice the inference one
    np.testing.assert_allclose(np.asarray(model(x)), 2 * np.asarray(model(x, training=False)))


def test_ordinary_models_unchanged():
    """A model without such a block: model(x) and predict are the inference pass, as before."""
    inputs = gn.Input((8,))
    model = gn.Model(inputs, gn.layers.Dropout(0.5)(gn.layers.Dense(64, kernel_initializer="ones")(inputs)))
    assert model._call_modes is None
    assert not _trained(model(X)) and not _trained(model.predict(X, verbose=0))
    assert _trained(model(X, training=True))
