"""Review (second order through BatchNormalization, PReLU, several outputs; merges' broadcasting):
tape.gradient of a structure of targets against tf.GradientTape."""
import numpy as np

import glassnet as gn
from glassnet import ops


def _both(tf):
    x = np.random.default_rng(4).normal(size=(3, 2)).astype(np.float32)
    with tf.GradientTape(persistent=True) as tt:
        tx = tf.constant(x)
        tt.watch(tx)
        theirs = (tx, tf.tanh(tx) * 2.0, tf.reduce_sum(tf.square(tx)))
    with gn.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = (x, ops.tanh(x) * 2.0, ops.sum(ops.square(x)))
    return tt, theirs, tape, ours


def test_dict_output_gradients_pair_with_dict_targets_by_key(keras):
    """TF's tf.nest walks a dict by sorted key, so {"z": 3.0, "y": s} seeds the target "y" with s
    whatever order the two dicts were written in; the seeds were paired by position (a crash here,
    a silently wrong gradient where the seeds' shapes agree)."""
    import tensorflow as tf
    tt, (tx, ty, tz), tape, (x, y, z) = _both(tf)
    s, s2 = np.full((3, 2), 0.5, np.float32), np.full((3, 2), -2.0, np.float32)
    w, tw = ops.sin(x), tf.sin(tx)
    for og in ({"z": 3.0, "y": s}, {"y": s, "z": 3.0}):
        want = tt.gradient({"y": ty, "z": tz}, tx, output_gradients=og).numpy()
        np.testing.assert_allclose(tape.gradient({"y": y, "z": z}, x, output_gradients=og), want, rtol=1e-6)
    og = {"w": s2, "y": s}          # same shapes: was silently wrong
    want = tt.gradient({"y": ty, "w": tw}, tx, output_gradients=og).numpy()
    np.testing.assert_allclose(tape.gradient({"y": y, "w": w}, x, output_gradients=og), want, rtol=1e-6)


def test_watched_array_among_targets_adds_its_seed(keras):
    """tape.gradient([y, x], x), x a watched array: dy/dx + 1 as TF's (the 1 was dropped whenever
    another target reached x), and [x, x] with two seeds their sum (was the first alone)."""
    import tensorflow as tf
    tt, (tx, ty, tz), tape, (x, y, z) = _both(tf)
    s = np.full((3, 2), 0.5, np.float32)
    np.testing.assert_allclose(tape.gradient([y, x], x), tt.gradient([ty, tx], tx).numpy(), rtol=1e-6)
    np.testing.assert_allclose(tape.gradient([x, z, x], x, output_gradients=[s, None, s]),
                               tt.gradient([tx, tz, tx], tx, output_gradients=[s, tf.ones(()), s]).numpy(),
                               rtol=1e-6)
    np.testing.assert_allclose(tape.gradient([x, x], [x])[0], tt.gradient([tx, tx], [tx])[0].numpy())
