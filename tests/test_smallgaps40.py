"""Three gaps closed against Keras/TensorFlow 3.15: a Sequential subclass in model files, a block's
``training=True`` default in a model called without ``training``, ``tape.jacobian`` of an empty target."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


# -- 3. tape.jacobian of an empty target -------------------------------------------------------------
def _tf_empty_jacobians(tf, unconnected):
    """TF's jacobian of a (0,)-shaped target read off x (connected) and of one read off c, for the
    sources x, u (never read) and c: the shapes, None where TF gives None."""
    x, u, c = tf.Variable([1.0, 2.0]), tf.Variable([[3.0]]), tf.Variable([5.0])
    out = {}
    for name, read in (("x", x), ("c", c)):
        with tf.GradientTape(persistent=True) as tape:
            target = (read * 2.0)[:0]
        grads = tape.jacobian(target, [x, u, c], unconnected_gradients=unconnected)
        out[name] = [None if g is None else tuple(g.shape) for g in grads]
    return out


@pytest.mark.parametrize("unconnected", ["none", "zero"])
def test_empty_target_jacobian_as_tensorflow(keras, unconnected):
    import tensorflow as tf
    expected = _tf_empty_jacobians(tf, unconnected)
    x, u, c = (np.array([1.0, 2.0], np.float32), np.array([[3.0]], np.float32), np.array([5.0], np.float32))
    for name, read in (("x", x), ("c", c)):
        for pfor in (True, False):      # (TF's loop without pfor fails on an empty target: pfor's answer)
            with gn.GradientTape(persistent=True) as tape:
                for s in (x, u, c):
                    tape.watch(s)
                target = ops.multiply(ops.convert_to_tensor(read), 2.0)[:0]
            grads = tape.jacobian(target, [x, u, c], unconnected_gradients=unconnected,
                                  experimental_use_pfor=pfor)
            assert [None if g is None else g.shape for g in grads] == expected[name], (name, pfor)
            for g, s in zip(grads, (x, u, c)):
                if g is not None:
                    assert g.dtype == s.dtype and g.size == 0


def test_empty_target_jacobian_of_weights():
    """A model's kernel the empty target reads: zeros of (0, *kernel.shape); a watched array it does
    not read: None, as TF's; unconnected_gradients="zero": zeros for it too."""
    model = gn.Sequential([gn.layers.Input((3,)), gn.layers.Dense(2)], seed=0)
    other = np.ones(4, np.float32)
    x = np.ones((5, 3), np.float32)
    with gn.GradientTape(persistent=True) as tape:
        tape.watch(other)
        target = model(x)[:0]
    kernel = model.trainable_variables[0]
    j_kernel, j_other = tape.jacobian(target, [kernel, other])
    assert j_kernel.shape == (0, 2, 3, 2) and j_other is None
    assert tape.jacobian(target, other, unconnected_gradients="zero").shape == (0, 2, 4)
