"""Review apprev41: glassnet.applications' Multiply broadcasting against Keras 3.15 on its other paths.

- Multiply of inputs of different ranks: Keras' merges take them (``(batch, C)`` times ``(batch, H,
  W, C)``: the shorter input gets axes of size 1 after its batch axis); glassnet refused them, its
  error calling one rank "Keras' rule".
- The second-order tape (a gradient penalty) through a broadcast Multiply (an EfficientNet-style
  squeeze-excite gate): it failed inside a Conv2D's reverse pass, the gate's cotangent left at the
  feature map's shape instead of summed back to ``(batch, 1, 1, C)``.
"""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


def _gate_model(L, M, rank_two_gate):
    """A feature map scaled by a gate: (batch, 1, 1, C), or (batch, C) when ``rank_two_gate``."""
    inp = M.Input((4, 4, 3))
    se = L.GlobalAveragePooling2D(keepdims=not rank_two_gate)(inp)
    se = (L.Dense(3, activation="sigmoid") if rank_two_gate else L.Conv2D(3, 1, activation="sigmoid"))(se)
    x = L.Multiply()([inp, se] if rank_two_gate else [se, inp])
    x = L.Conv2D(2, 3)(x)
    return M.Model(inp, L.Dense(1)(L.Flatten()(x)))


@pytest.mark.parametrize("shapes", [((3,), (4, 4, 3)), ((4, 4, 3), (3,)), ((1, 3), (4, 4, 3), (4, 1, 1)),
                                    ((4,), (4, 4, 3)), ((2,), (4, 4, 3))])
def test_multiply_inputs_of_different_ranks_as_keras(keras, shapes):
    try:
        want = keras.layers.Multiply()([keras.Input(s) for s in shapes]).shape
    except ValueError:
        with pytest.raises(ValueError, match="Multiply needs inputs of one shape"):
            gn.layers.Multiply()([gn.Input(s) for s in shapes])
        return
    assert gn.layers.Multiply()([gn.Input(s) for s in shapes]).shape == want
    assert gn.layers.Multiply().compute_output_shape([(None, *s) for s in shapes]) == want
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(2, *s)).astype("float32") for s in shapes]
    np.testing.assert_allclose(gn.layers.Multiply()(arrays), keras.layers.Multiply()(arrays).numpy(), atol=1e-6)


def test_multiply_rank_two_gate_trains_as_keras(keras):
    import tensorflow as tf
    km, gm = _gate_model(keras.layers, keras, True), _gate_model(gn.layers, gn, True)
    gm.set_weights(km.get_weights())
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(gm.predict(x, verbose=0), km.predict(x, verbose=0), atol=1e-5)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(km(x)))
    kg = tape.gradient(loss, km.trainable_weights)
    with gn.GradientTape() as tape:
        loss = ops.mean(ops.square(gm(x)))
    gg = tape.gradient(loss, gm.trainable_weights)
    for a, b in zip(gg, kg):
        np.testing.assert_allclose(np.asarray(a), b.numpy(), atol=1e-5)


@pytest.mark.parametrize("rank_two_gate", [False, True])
def test_second_order_tape_through_broadcast_multiply_as_keras(keras, rank_two_gate):
    import tensorflow as tf
    km, gm = _gate_model(keras.layers, keras, rank_two_gate), _gate_model(gn.layers, gn, rank_two_gate)
    gm.set_weights(km.get_weights())
    x = np.random.default_rng(2).normal(size=(5, 4, 4, 3)).astype("float32")
    xv = tf.constant(x)
    with tf.GradientTape() as tape:
        with tf.GradientTape() as inner:
            inner.watch(xv)
            pred = km(xv)
        g = inner.gradient(pred, xv)
        penalty = tf.reduce_mean(tf.reduce_sum(tf.square(g), axis=[1, 2, 3]))
    kg = tape.gradient(penalty, km.trainable_weights)
    with gn.GradientTape() as tape:
        with gn.GradientTape() as inner:
            inner.watch(x)
            pred = gm(x)
        g = inner.gradient(pred, x)
        penalty = ops.mean(ops.sum(ops.square(g), axis=[1, 2, 3]))
    gg = tape.gradient(penalty, gm.trainable_weights)
    for a, b, w in zip(gg, kg, km.trainable_weights):
        want = np.zeros(w.shape) if b is None else b.numpy()       # the last bias: no second-order gradient
        got = np.zeros(w.shape) if a is None else np.asarray(a)
        np.testing.assert_allclose(got, want, atol=1e-5)
