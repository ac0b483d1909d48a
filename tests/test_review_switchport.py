"""keras.io's Switch Transformer router and VQ-VAE quantizer ported onto glassnet.ops, beside Keras 3.15:
``ops.stop_gradient`` (the VQ-VAE's straight-through estimator ``x + ops.stop_gradient(q - x)``) was
missing from glassnet.ops; a per-example Switch router (softmax, top_k, one_hot, cumsum, capacity,
einsum dispatch) with keras.io's load-balancing loss as an activity_regularizer (glassnet has no
add_loss) trains as Keras'."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


@pytest.mark.parametrize("value", [np.array([[1.5, -2.0]], np.float32), np.array([3.0, 4.0]), 2.5, [1, 2]])
def test_stop_gradient_on_arrays_as_keras(value, keras):
    ours, theirs = ops.stop_gradient(value), keras.ops.convert_to_numpy(keras.ops.stop_gradient(value))
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def _straight_through(L, o, Input, Model):
    inputs = Input((3,))
    h = L.Dense(4)(inputs)
    quantized = o.round(h * 2.0) / 2.0                  # no gradient of its own
    h = h + o.stop_gradient(quantized - h)              # the value quantized, the gradient to h whole
    return Model(inputs, L.Dense(1)(o.tanh(h)))


def test_stop_gradient_straight_through_trains_as_keras(keras, rng):
    keras.utils.set_random_seed(0)
    theirs = _straight_through(keras.layers, keras.ops, keras.Input, keras.Model)
    ours = _straight_through(gn.layers, ops, gn.Input, gn.Model)
    ours.set_weights(theirs.get_weights())
    x, y = rng.normal(size=(16, 3)).astype(np.float32), rng.normal(size=(16, 1)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), atol=1e-5)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    ours.compile(optimizer=gn.optimizers.SGD(learning_rate=0.1), loss="mse")
    k = theirs.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    g = ours.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(g, k, atol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # the node round-trips through a config as any glassnet.ops node
    clone = gn.models.clone_model(ours)
    clone.set_weights(ours.get_weights())
    np.testing.assert_allclose(clone.predict(x), ours.predict(x), atol=1e-6)


B, T, D, E, CAP = 8, 6, 4, 3, 1


class _LoadBalance(gn.regularizers.Regularizer):
    """keras.io's load_balanced_loss over the batch's tokens, times the batch size (the model divides by it)."""
    def __call__(self, probs):
        p = probs.reshape(-1, E)
        return float(len(probs) * np.mean(p.mean(0) * np.eye(E)[p.argmax(-1)].mean(0)) * E ** 2)

    def add_gradient(self, probs, grad):
        p = probs.reshape(-1, E)
        grad += len(probs) * E * np.eye(E)[p.argmax(-1)].mean(0) / len(p)


def _switch(L, o, Input, Model, router):
    inputs = Input((T,), dtype="int32") if L is not gn.layers else Input((T,))
    x = L.Embedding(20, D)(inputs)
    probs = router(x)
    gate, index = o.top_k(probs, k=1)                                   # (B, T, 1)
    mask = o.squeeze(o.one_hot(index, E), 2)                            # (B, T, E)
    position = o.cumsum(mask, axis=1) * mask                            # 1-based place in its expert
    mask = mask * o.cast(o.less(position, CAP + 0.5), "float32")        # over capacity: dropped
    gate = gate * o.sum(mask, axis=-1, keepdims=True)
    slot = o.one_hot(o.sum(position, axis=-1), CAP + 1)
    combine = o.expand_dims(gate * mask, -1) * o.expand_dims(slot, 2)   # (B, T, E, C)
    dispatch = o.cast(o.greater(combine, 0.0), "float32")
    expert_inputs = o.einsum("btd,btec->becd", x, dispatch)
    outs = [L.Dense(D)(L.Dense(5, activation="relu")(expert_inputs[:, e])) for e in range(E)]
    y = o.einsum("becd,btec->btd", o.stack(outs, axis=1), combine)
    return Model(inputs, L.Dense(2, activation="softmax")(L.GlobalAveragePooling1D()(y)))


def test_switch_router_with_load_balancing_trains_as_keras(keras, rng):
    class AuxLoss(keras.layers.Layer):
        def call(self, probs):
            p = keras.ops.reshape(probs, (-1, E))
            m = keras.ops.one_hot(keras.ops.argmax(p, axis=-1), E)
            self.add_loss(keras.ops.mean(keras.ops.mean(p, 0) * keras.ops.mean(m, 0)) * float(E ** 2))
            return probs

    keras.utils.set_random_seed(0)
    theirs = _switch(keras.layers, keras.ops, keras.Input, keras.Model,
                     lambda x: AuxLoss()(keras.ops.softmax(keras.layers.Dense(E)(x), axis=-1)))
    ours = _switch(gn.layers, ops, gn.Input, gn.Model,
                   gn.layers.Dense(E, activation="softmax", activity_regularizer=_LoadBalance()))
    ours.set_weights(theirs.get_weights())
    x, y = rng.integers(0, 20, size=(32, T)), rng.integers(0, 2, size=32)
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), atol=1e-5)
    theirs.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    ours.compile(optimizer=gn.optimizers.SGD(learning_rate=0.5), loss="sparse_categorical_crossentropy")
    k = theirs.fit(x, y, batch_size=B, epochs=2, shuffle=False, verbose=0).history["loss"]
    g = ours.fit(x, y, batch_size=B, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(g, k, atol=1e-5)          # the aux loss logged in both
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
