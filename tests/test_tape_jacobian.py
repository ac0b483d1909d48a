"""``GradientTape.jacobian`` and ``batch_jacobian`` against tf.GradientTape's (Keras 3.15 models
from the same weights: Dense, Conv2D, LSTM; ops chains), torch.autograd.functional.jacobian, and
float64 central finite differences; TF's rules (persistence, unconnected sources, shapes), the
batch_jacobian's cost (one pass per element of a sample), and the refusal of higher-order gradients
(nested tapes) by name."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


def _same_weights(keras, build):
    ours, theirs = build(gn), build(keras)
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def _dense(lib, dtype="float32"):
    kw = {"seed": 0, "dtype": dtype} if lib is gn else {}
    return lib.Sequential([lib.Input((3,)), lib.layers.Dense(5, activation="tanh"),
                           lib.layers.Dense(2, activation="sigmoid")], **kw)


def _conv(lib, dtype="float32"):
    kw = {"seed": 0, "dtype": dtype} if lib is gn else {}
    return lib.Sequential([lib.Input((5, 5, 2)), lib.layers.Conv2D(3, 3, activation="tanh"),
                           lib.layers.Flatten(), lib.layers.Dense(2)], **kw)


def _lstm(lib, dtype="float32"):
    kw = {"seed": 0, "dtype": dtype} if lib is gn else {}
    return lib.Sequential([lib.Input((4, 3)), lib.layers.LSTM(3), lib.layers.Dense(2)], **kw)


@pytest.mark.parametrize("build, shape", [(_dense, (4, 3)), (_conv, (3, 5, 5, 2)), (_lstm, (3, 4, 3))])
def test_model_jacobians_match_tensorflow(keras, build, shape):
    """jacobian of a model's output with respect to its watched input and every weight, and its
    batch_jacobian, against tf.GradientTape on the Keras 3.15 model holding the same weights."""
    import tensorflow as tf
    ours, theirs = _same_weights(keras, build)
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    with gn.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = ours(x)
    j_x, j_w = tape.jacobian(y, [x, ours.trainable_weights])
    b_x = tape.batch_jacobian(y, x)
    tx = tf.constant(x)
    with tf.GradientTape(persistent=True) as their_tape:
        their_tape.watch(tx)
        ty = theirs(tx)
    t_x, t_w = their_tape.jacobian(ty, [tx, theirs.trainable_weights])
    tb_x = their_tape.batch_jacobian(ty, tx)
    assert j_x.shape == tuple(t_x.shape) == y.shape + x.shape and j_x.dtype == np.float32
    np.testing.assert_allclose(j_x, t_x.numpy(), rtol=1e-4, atol=1e-6)
    assert b_x.shape == tuple(tb_x.shape) == (shape[0], 2) + shape[1:]
    np.testing.assert_allclose(b_x, tb_x.numpy(), rtol=1e-4, atol=1e-6)
    assert len(j_w) == len(t_w)
    for mine, theirs_ in zip(j_w, t_w):
        assert mine.shape == tuple(theirs_.shape)
        np.testing.assert_allclose(mine, theirs_.numpy(), rtol=1e-4, atol=1e-6)


def _chain(lib, a, b):
    """An ops chain of two sources, written once for glassnet.ops and TensorFlow."""
    if lib is gn:
        h = ops.tanh(ops.matmul(a, b))
        return ops.concatenate([h * a[:, :1], ops.exp(-ops.square(h[:, 1:]))], axis=1)
    import tensorflow as tf
    h = tf.tanh(tf.matmul(a, b))
    return tf.concat([h * a[:, :1], tf.exp(-tf.square(h[:, 1:]))], axis=1)


def test_ops_chain_several_sources_match_tensorflow(keras):
    """Nested sources ([a, {"b": b}]) keep their structure; the Jacobians equal TF's."""
    import tensorflow as tf
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 2)).astype(np.float32), rng.normal(size=(2, 4)).astype(np.float32)
    with gn.GradientTape() as tape:
        tape.watch([a, b])
        y = _chain(gn, ops.convert_to_tensor(a), b)     # (indexing a watched array needs it recorded first)
    j = tape.jacobian(y, [a, {"b": b}])
    ta, tb = tf.constant(a), tf.constant(b)
    with tf.GradientTape() as their_tape:
        their_tape.watch([ta, tb])
        ty = _chain(tf, ta, tb)
    t = their_tape.jacobian(ty, [ta, {"b": tb}])
    assert isinstance(j, list) and isinstance(j[1], dict) and j[0].shape == (3, 7, 3, 2)
    np.testing.assert_allclose(j[0], t[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(j[1]["b"], t[1]["b"].numpy(), rtol=1e-5, atol=1e-6)


def test_unconnected_sources_as_tensorflow(keras):
    """jacobian: None for a source the target does not depend on, zeros with "zero"; batch_jacobian
    gives zeros either way (TF's, which ignores unconnected_gradients there)."""
    import tensorflow as tf
    rng = np.random.default_rng(2)
    x, z = rng.normal(size=(3, 2)).astype(np.float32), rng.normal(size=(3, 4)).astype(np.float32)
    with gn.GradientTape(persistent=True) as tape:
        tape.watch([x, z])
        y = ops.sin(ops.convert_to_tensor(x))
    tx, tz = tf.constant(x), tf.constant(z)
    with tf.GradientTape(persistent=True) as their_tape:
        their_tape.watch([tx, tz])
        ty = tf.sin(tx)
    assert tape.jacobian(y, z) is None and their_tape.jacobian(ty, tz) is None
    got, want = tape.jacobian(y, z, unconnected_gradients="zero"), their_tape.jacobian(ty, tz, unconnected_gradients="zero")
    assert got.shape == tuple(want.shape) == (3, 2, 3, 4) and not got.any()
    for mode in ("none", "zero"):
        got, want = tape.batch_jacobian(y, z, unconnected_gradients=mode), their_tape.batch_jacobian(
            ty, tz, unconnected_gradients=mode)
        assert got.shape == tuple(want.shape) == (3, 2, 4) and not got.any() and not want.numpy().any()
    # a target the tape did not record: None (TF's)
    assert tape.jacobian(np.ones(2, np.float32), x) is None


def test_per_sample_losses_jacobian_matches_tensorflow(keras):
    """The Jacobian of Keras' per-sample loss (fused with the softmax output, as TF reads the
    logits) with respect to the kernels: one row per sample's loss."""
    import tensorflow as tf

    def build(lib):
        kw = {"seed": 0} if lib is gn else {}
        return lib.Sequential([lib.Input((3,)), lib.layers.Dense(4, activation="relu"),
                               lib.layers.Dense(3, activation="softmax")], **kw)
    ours, theirs = _same_weights(keras, build)
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(5, 3)).astype(np.float32), np.eye(3, dtype=np.float32)[rng.integers(0, 3, 5)]
    with gn.GradientTape() as tape:
        losses = gn.losses.categorical_crossentropy(y, ours(x, training=True))
    j = tape.jacobian(losses, ours.trainable_weights)
    with tf.GradientTape() as their_tape:
        t_losses = keras.losses.categorical_crossentropy(y, theirs(x, training=True))
    t = their_tape.jacobian(t_losses, theirs.trainable_weights)
    for mine, theirs_ in zip(j, t):
        np.testing.assert_allclose(mine, theirs_.numpy(), rtol=1e-4, atol=1e-6)


# -- float64 finite differences, torch ---------------------------------------------------------------
def _central(f, x, eps=1e-6):
    """d f(x) / d x by central differences: f(x).shape + x.shape (x perturbed in place, restored)."""
    base = np.asarray(f(x))
    out = np.zeros(base.shape + x.shape)
    for i in np.ndindex(x.shape):
        keep = x[i]
        x[i] = keep + eps
        up = np.asarray(f(x))
        x[i] = keep - eps
        down = np.asarray(f(x))
        x[i] = keep
        out[(Ellipsis,) + i] = (up - down) / (2 * eps)
    return out


@pytest.mark.parametrize("build", [_dense, _conv, _lstm])
def test_model_jacobians_match_finite_differences(build):
    """float64 models: the Jacobian wrt the input and each weight (weights perturbed in place),
    and batch_jacobian as the per-sample diagonal blocks of the input's Jacobian."""
    shape = {_dense: (3, 3), _conv: (2, 5, 5, 2), _lstm: (2, 4, 3)}[build]
    model = build(gn, dtype="float64")
    x = np.random.default_rng(4).normal(size=shape)
    with gn.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = model(x)
    j_x, j_w = tape.jacobian(y, [x, model.trainable_weights])
    assert j_x.dtype == np.float64 and y.dtype == np.float64
    np.testing.assert_allclose(j_x, _central(lambda v: model(v), x), rtol=1e-6, atol=1e-8)
    n = shape[0]
    blocks = j_x.reshape(n, -1, n, int(np.prod(shape[1:])))[np.arange(n), :, np.arange(n)]
    np.testing.assert_allclose(tape.batch_jacobian(y, x), blocks.reshape((n,) + y.shape[1:] + shape[1:]),
                               rtol=1e-12, atol=1e-14)
    for weight, got in zip(model.trainable_weights, j_w):
        np.testing.assert_allclose(got, _central(lambda _: model(x), weight), rtol=1e-6, atol=1e-8)


def test_ops_chain_matches_torch_jacobian(torch):
    """torch.autograd.functional.jacobian, float64: a chain of ops with a reduction and a softmax."""
    rng = np.random.default_rng(5)
    x, w = rng.normal(size=(2, 3)), rng.normal(size=(3, 3))

    def ours_of(x_, w_):
        h = ops.softmax(ops.matmul(x_, w_), axis=-1)
        return ops.sum(h * ops.log(1 + ops.square(x_)), axis=0)

    def theirs_of(x_, w_):
        h = torch.softmax(x_ @ w_, dim=-1)
        return (h * torch.log(1 + x_ ** 2)).sum(dim=0)
    with gn.GradientTape() as tape:
        tape.watch([x, w])
        y = ours_of(ops.convert_to_tensor(x), w)
    j_x, j_w = tape.jacobian(y, (x, w))
    t_x, t_w = torch.autograd.functional.jacobian(theirs_of, (torch.tensor(x), torch.tensor(w)))
    np.testing.assert_allclose(j_x, t_x.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(j_w, t_w.numpy(), rtol=1e-10, atol=1e-12)


def test_loss_of_model_with_add_loss_terms_and_weights_as_sources():
    """A scalar target's Jacobian is its gradient; a per-sample target's rows sum to the gradient
    of their sum; the add_loss terms of a model count once per pass (a persistent tape's second
    gradient counted them twice before), checked by finite differences in float64."""
    class Act(gn.layers.Layer):
        def call(self, inputs):
            self.add_loss(1e-1 * ops.sum(ops.square(inputs)))
            return inputs
    inputs = gn.Input((3,))
    h = Act()(gn.layers.Dense(4, activation="tanh")(inputs))
    model = gn.Model(inputs, gn.layers.Dense(2)(h), seed=0, dtype="float64")
    x = np.random.default_rng(6).normal(size=(4, 3))

    def loss_of(out):
        return ops.sum(ops.square(out), axis=1) + sum(model.losses)     # (4,): per sample, plus the terms
    with gn.GradientTape(persistent=True) as tape:
        per_sample = loss_of(model(x, training=True))
        total = ops.sum(per_sample)
    weights = model.trainable_weights
    first, again = tape.gradient(total, weights), tape.gradient(total, weights)
    scalar, rows = tape.jacobian(total, weights), tape.jacobian(per_sample, weights)
    for w, g1, g2, j0, j1 in zip(weights, first, again, scalar, rows):
        np.testing.assert_array_equal(g1, g2)
        np.testing.assert_allclose(j0, g1, rtol=1e-12)
        np.testing.assert_allclose(j1.sum(axis=0), g1, rtol=1e-10, atol=1e-12)

        def f(_):
            return np.asarray(loss_of(model(x, training=True)))
        np.testing.assert_allclose(j1, _central(f, w), rtol=1e-6, atol=1e-8)


def test_watch_accessed_variables_false():
    """Only what watch() was given is differentiated (TF's rule): None for a weight not watched."""
    model = _dense(gn)
    x = np.random.default_rng(7).normal(size=(2, 3)).astype(np.float32)
    kernel, bias = model.layers[0].params["kernel"], model.layers[0].params["bias"]
    with gn.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(kernel)
        y = model(x)
    j_kernel, j_bias = tape.jacobian(y, [kernel, bias])
    assert j_bias is None and j_kernel.shape == (2, 2, 3, 5)


def test_batch_jacobian_costs_one_pass_per_element_of_a_sample(monkeypatch):
    """batch_jacobian seeds one element across the whole batch: 6 target elements per sample,
    6 backward passes (not batch x 6), and the same numbers as the jacobian's diagonal blocks."""
    from glassnet.tape import GradientTape
    passes = []
    original = GradientTape._pass
    monkeypatch.setattr(GradientTape, "_pass", lambda self, *a, **k: passes.append(1) or original(self, *a, **k))
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(6, activation="tanh"), gn.layers.Reshape((2, 3))], seed=0)
    x = np.random.default_rng(8).normal(size=(10, 3)).astype(np.float32)
    with gn.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = model(x)
    got = tape.batch_jacobian(y, x)
    assert len(passes) == 6 and got.shape == (10, 2, 3, 3)
    full = tape.jacobian(y, x)
    assert len(passes) == 6 + 60
    np.testing.assert_allclose(got, np.stack([full[i, :, :, i] for i in range(10)]), rtol=1e-6, atol=1e-7)


def test_tensorflow_rules_and_bad_input():
    x = np.random.default_rng(9).normal(size=(3, 2)).astype(np.float32)
    with gn.GradientTape() as tape:
        tape.watch(x)
        y = ops.tanh(ops.convert_to_tensor(x))
    j = tape.jacobian(y, x)                             # a tape that is not persistent: one jacobian
    np.testing.assert_allclose(j.reshape(6, 6), np.diag(1 - np.tanh(x.ravel()) ** 2), rtol=1e-6)
    with pytest.raises(RuntimeError, match="persistent"):
        tape.jacobian(y, x)
    with pytest.raises(RuntimeError, match="persistent"):
        tape.gradient(y, x)
    with gn.GradientTape() as tape:
        tape.watch(x)
        y = ops.tanh(ops.convert_to_tensor(x))
    with pytest.raises(RuntimeError, match="experimental_use_pfor=False needs GradientTape.persistent=True"):
        tape.jacobian(y, x, experimental_use_pfor=False)
    with gn.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = ops.tanh(ops.convert_to_tensor(x))
        s = ops.sum(y)
        empty = ops.sum(y, axis=1)[:0]
    np.testing.assert_allclose(tape.jacobian(s, x), tape.gradient(s, x))       # a scalar's: its gradient
    np.testing.assert_array_equal(tape.jacobian(y, x, experimental_use_pfor=False, parallel_iterations=4), j)
    assert tape.jacobian(empty, x).shape == (0, 3, 2)
    with pytest.raises(ValueError, match="unconnected_gradients: expected 'none' or 'zero', got 'zeros'"):
        tape.jacobian(y, x, unconnected_gradients="zeros")
    with pytest.raises(ValueError, match="parallel_iterations: expected None or a positive integer, got 0"):
        tape.jacobian(y, x, parallel_iterations=0)
    with pytest.raises(TypeError, match="experimental_use_pfor: expected True or False, got 'yes'"):
        tape.batch_jacobian(y, x, experimental_use_pfor="yes")
    with pytest.raises(TypeError, match=r"target: expected the recorded value .*got NoneType"):
        tape.jacobian(None, x)
    with pytest.raises(TypeError, match="sources.1.: expected a weight array, a recorded value or a watched array, got str"):
        tape.jacobian(y, [x, "x"])
    with pytest.raises(ValueError, match=r"batch_jacobian: target: expected at least 2 axes \(batch, ...\), got shape \(3,\)"):
        tape.batch_jacobian(ops.sum(y, axis=1), x)
    with pytest.raises(ValueError, match=r"source: expected at least 2 axes .*got shape \(2,\)"):
        tape.batch_jacobian(y, x[0])
    with pytest.raises(ValueError, match=r"the same batch size .*target shape \(2, 2\) and source shape \(3, 2\)"):
        tape.batch_jacobian(y[:2], x)
    with pytest.raises(TypeError, match="source: expected one array .*got list"):
        tape.batch_jacobian(y, [x])


def test_nested_tapes_higher_order_jacobians_refused_by_name():
    """A jacobian asked while the outer tape records would need the outer tape to differentiate
    its backward passes (not built; a gradient is, tests/test_tape_second_order.py): refused by
    name; inside stop_recording the gradient is a constant, as asked."""
    model = _dense(gn)
    x = np.random.default_rng(10).normal(size=(4, 3)).astype(np.float32)
    with gn.GradientTape() as outer:
        with gn.GradientTape() as inner:
            inner.watch(x)
            d = ops.sum(model(x, training=True))
        with pytest.raises(NotImplementedError, match="GradientTape.jacobian: .*higher-order"):
            inner.jacobian(d, x)
        with outer.stop_recording():        # (the refusals above left the inner tape unused)
            constant = inner.gradient(d, x)
    assert type(constant) is np.ndarray and constant.shape == x.shape
    with gn.GradientTape(persistent=True) as tape:
        tape.watch(x)
        d = ops.sum(model(x, training=True))
        with pytest.raises(NotImplementedError, match="GradientTape.batch_jacobian: .*higher-order"):
            tape.batch_jacobian(model(x), x)
        with tape.stop_recording():
            inside = tape.gradient(d, x)
    np.testing.assert_array_equal(inside, tape.gradient(d, x))
    np.testing.assert_allclose(constant, inside, rtol=1e-6)
