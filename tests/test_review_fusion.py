"""The fused softmax/sigmoid + cross-entropy gradient (dL/dz at once) only where the output layer
computes what the fusion assumes: not past a backward of one's own, nor an activation of one's own
under a built-in name (both trained silently as the built-in before)."""
import numpy as np

import glassnet as gn


class _ScaledBackward(gn.layers.Dense):
    """A Dense of one's own whose backward halves the gradient flowing back to the layers before."""

    def backward(self, grad_output):
        return 0.5 * super().backward(grad_output)


def _trained_first_kernel(output_layer, x, y):
    model = gn.Sequential([gn.layers.Dense(4, activation="tanh", input_shape=(3,)), output_layer], seed=0)
    model.compile(loss="categorical_crossentropy", optimizer=gn.optimizers.SGD(0.5))
    model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    return model, model.layers[0].params["kernel"].copy()


def test_an_output_layer_with_its_own_backward_is_not_skipped_by_the_fused_gradient():
    # the fused softmax + cross-entropy path called backward_from_logits, never the subclass's
    # backward: training ran as if the override were not there
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]
    plain, plain_kernel = _trained_first_kernel(gn.layers.Dense(3, activation="softmax"), x, y)
    own, own_kernel = _trained_first_kernel(_ScaledBackward(3, activation="softmax"), x, y)
    assert plain._fused and not own._fused
    assert not np.allclose(plain_kernel, own_kernel)
    # and the override is what trains: the first layer's steps are half those of the plain model
    start = gn.Sequential([gn.layers.Dense(4, activation="tanh", input_shape=(3,)), gn.layers.Dense(3)], seed=0)
    first = start.layers[0].params["kernel"]
    one = gn.Sequential([gn.layers.Dense(4, activation="tanh", input_shape=(3,)),
                         _ScaledBackward(3, activation="softmax")], seed=0)
    two = gn.Sequential([gn.layers.Dense(4, activation="tanh", input_shape=(3,)),
                         gn.layers.Dense(3, activation="softmax")], seed=0)
    for m in (one, two):
        m.compile(loss="categorical_crossentropy", optimizer=gn.optimizers.SGD(0.5))
        m.train_on_batch(x, y)
    np.testing.assert_allclose(one.layers[0].params["kernel"] - first,
                               0.5 * (two.layers[0].params["kernel"] - first), rtol=1e-5, atol=1e-7)


def test_an_activation_of_ones_own_named_softmax_is_not_fused():
    from glassnet import activations as A
    doubled = A.Activation("softmax", lambda z: A.softmax(2 * z), lambda g, z, a: 2 * A.backprop_softmax(g, z, a))
    model = gn.Sequential([gn.layers.Dense(3, activation=doubled, input_shape=(2,))], seed=0)
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    assert not model._fused
