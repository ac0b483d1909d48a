"""Layer.get_weights / set_weights: Keras' order (checked in Keras itself), copies out, in-place
writes in (so a model keeps training the values set), the checks, and Sequential's agreement."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import BatchNormalization, Conv2D, Dense, Dropout


def _built(layer, shape, rng, training=False):
    layer(rng.standard_normal((8, *shape)), training=training)
    return layer


def test_dense_and_batchnorm_order_and_shapes(rng):
    dense = _built(Dense(3, seed=0), (4,), rng)
    assert [w.shape for w in dense.get_weights()] == [(4, 3), (3,)]
    np.testing.assert_array_equal(dense.get_weights()[0], dense.params["kernel"])
    bn = BatchNormalization()
    assert bn.get_weights() == []                                 # not built: nothing yet
    _built(bn, (3,), rng, training=True)                          # moves the running statistics
    gamma, beta, mean, var = bn.get_weights()
    np.testing.assert_array_equal(gamma, np.ones(3))
    np.testing.assert_array_equal(beta, np.zeros(3))
    np.testing.assert_array_equal(mean, bn.state["moving_mean"])
    np.testing.assert_array_equal(var, bn.state["moving_variance"])
    assert np.all(mean != 0) and Dropout(0.5).get_weights() == []


def test_get_weights_returns_copies(rng):
    dense = _built(Dense(3, seed=0), (4,), rng)
    weights = dense.get_weights()
    weights[0][...] = 7.0
    assert not np.any(dense.params["kernel"] == 7.0)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")      # Keras' own, from NumPy 2
@pytest.mark.parametrize("make,keras_make,shape", [
    (lambda: Dense(3, activation="tanh"), lambda k: k.layers.Dense(3, activation="tanh"), (5,)),
    (lambda: Conv2D(4, 3), lambda k: k.layers.Conv2D(4, 3), (6, 6, 2)),
    (lambda: BatchNormalization(), lambda k: k.layers.BatchNormalization(), (5,)),
])
def test_weights_move_between_glassnet_and_keras(make, keras_make, shape, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours = _built(make(), shape, rng, training=True)              # BatchNormalization: moved statistics
    theirs = keras_make(keras)
    theirs.build((None, *shape))
    theirs.set_weights(ours.get_weights())                        # Keras checks count and shapes
    x = rng.standard_normal((4, *shape)).astype(np.float32)
    np.testing.assert_allclose(ours(x), keras.ops.convert_to_numpy(theirs(x, training=False)),
                               rtol=1e-5, atol=1e-6)
    ours.set_weights([w * 0.5 for w in theirs.get_weights()])     # and back, in Keras' order
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, b * 0.5, rtol=1e-6)


def test_set_weights_writes_in_place_and_casts(rng):
    dense = _built(Dense(3, seed=0), (4,), rng)
    kernel, bias = dense.params["kernel"], dense.params["bias"]
    new = [rng.standard_normal((4, 3)), np.arange(3.0)]           # float64 into a float32 layer
    dense.set_weights(new)
    assert dense.params["kernel"] is kernel and dense.params["bias"] is bias
    assert kernel.dtype == np.float32
    np.testing.assert_allclose(kernel, new[0], rtol=1e-6)
    np.testing.assert_array_equal(bias, [0, 1, 2])


def test_set_weights_checks_count_and_shapes_and_writes_nothing_on_error(rng):
    dense = _built(Dense(3, seed=0, name="head"), (4,), rng)
    before = dense.get_weights()
    with pytest.raises(ValueError, match=r"layer head \(Dense\): expected 2 arrays \(kernel, bias\), got 1"):
        dense.set_weights([np.zeros((4, 3))])
    with pytest.raises(ValueError, match=r"layer head \(Dense\): weights\[1\] \(bias\) must have shape "
                                         r"\(3,\), got \(4,\)"):
        dense.set_weights([np.zeros((4, 3)), np.zeros(4)])        # the kernel is fine, yet unwritten
    with pytest.raises(TypeError, match="expected a list of arrays, got float"):
        dense.set_weights(1.0)
    with pytest.raises(ValueError, match=r"weights\[0\] \(kernel\) holds NaN or infinite values"):
        dense.set_weights([np.full((4, 3), np.nan), np.zeros(3)])
    with pytest.raises(ValueError, match=r"weights\[1\] \(bias\) holds NaN or infinite values"):
        dense.set_weights([np.zeros((4, 3)), np.array([0.0, np.inf, 0.0])])
    with pytest.raises(TypeError, match=r"weights\[1\] \(bias\) must hold real numbers, got dtype <U1"):
        dense.set_weights([np.zeros((4, 3)), np.array(["a", "b", "c"])])
    model = gn.Sequential([Dense(3, input_dim=4)], seed=0)
    with pytest.raises(ValueError, match=r"set_weights: weights\[0\] \(.*kernel\) holds NaN"):
        model.set_weights([np.full((4, 3), np.nan), np.zeros(3)])
    for a, b in zip(before, dense.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="not built yet"):
        Dense(3).set_weights(before)


def test_training_after_layer_set_weights_starts_from_the_new_values(rng):
    # inside a model every parameter is a view into the optimizer's flat buffer: set_weights must
    # write there, and the next SGD step must start from the values set
    x, y = rng.standard_normal((10, 3)), rng.standard_normal((10, 2))
    model = gn.Sequential([Dense(4, activation="tanh", input_dim=3), Dense(2)], seed=0, dtype="float64")
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=0.1))
    model.fit(x, y, epochs=2, verbose=0)                          # the optimizer has run already
    head = model.layers[1]
    w, b = rng.standard_normal((4, 2)), rng.standard_normal(2)
    head.set_weights([w, b])
    flat = model._triples[0][1]
    assert np.shares_memory(head.params["kernel"], flat) and np.shares_memory(head.params["bias"], flat)
    h = model.layers[0](x)                                        # the hidden layer's output
    residual = h @ w + b - y                                      # mse: 2 / (n k) * residual
    grad_w, grad_b = h.T @ residual * 2 / residual.size, residual.sum(axis=0) * 2 / residual.size
    model.train_on_batch(x, y)
    np.testing.assert_allclose(head.params["kernel"], w - 0.1 * grad_w, rtol=1e-12)
    np.testing.assert_allclose(head.params["bias"], b - 0.1 * grad_b, rtol=1e-12)


def test_sequential_weights_are_the_layers_weights_concatenated(rng):
    model = gn.Sequential([Dense(4, input_dim=3), BatchNormalization(), Dense(2, name="out")], seed=0)
    from_layers = [w for layer in model.layers for w in layer.get_weights()]
    assert len(from_layers) == 8
    for a, b in zip(model.get_weights(), from_layers, strict=True):
        np.testing.assert_array_equal(a, b)
    new = [rng.standard_normal(w.shape) for w in from_layers]
    model.set_weights(new)
    np.testing.assert_allclose(model.layers[1].get_weights()[2], new[4], rtol=1e-6)   # moving_mean
    before = model.get_weights()
    bad = new[:-1] + [np.zeros(3)]
    with pytest.raises(ValueError, match=r"set_weights: weights\[7\] \(out/bias\) must have shape \(2,\), "
                                         r"got \(3,\)"):
        model.set_weights(bad)
    for a, b in zip(before, model.get_weights()):                 # nothing written, not even [0..6]
        np.testing.assert_array_equal(a, b)
