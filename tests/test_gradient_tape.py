"""GradientTape (glassnet.tape): custom training steps and loops against Keras 3.15 on TensorFlow
(tf.GradientTape, the same weights, shuffle=False), ops chains against PyTorch autograd (float64),
and tape.gradient against float64 central finite differences."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet import ops
from central_differences import numeric as _numeric      # float64 central differences


def _data(n=20, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(dtype)
    return x, (np.sin(x).sum(axis=1, keepdims=True) + 0.1 * rng.normal(size=(n, 1))).astype(dtype)


def _layers(lib, inputs):
    return lib.layers.Dense(1)(lib.layers.Dense(4, activation="tanh")(inputs))


class CustomModel(gn.Model):
    """keras.io "Customizing what happens in fit()", its first example (trackers held as attributes)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = gn.metrics.Mean(name="loss")
        self.mae_metric = gn.metrics.MeanAbsoluteError(name="mae")

    def train_step(self, data):
        x, y = data
        with gn.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        self.optimizer.apply(gradients, trainable_vars)
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_guide_custom_model_matches_keras(keras, optimizer):
    import tensorflow as tf

    class KCustom(keras.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")

        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply(grads, self.trainable_variables)
            self.loss_tracker.update_state(loss)
            self.mae_metric.update_state(y, y_pred)
            return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

        @property
        def metrics(self):
            return [self.loss_tracker, self.mae_metric]

    make = {"sgd": lambda lib: lib.optimizers.SGD(0.05), "adam": lambda lib: lib.optimizers.Adam(0.01)}[optimizer]
    inputs = gn.Input((3,))
    model = CustomModel(inputs, _layers(gn, inputs), seed=0)
    model.compile(loss="mse", optimizer=make(gn))
    kin = keras.Input((3,))
    theirs = KCustom(kin, _layers(keras, kin))
    theirs.compile(loss="mse", optimizer=make(keras))
    theirs.set_weights(model.get_weights())
    x, y = _data()
    history = model.fit(x, y, epochs=3, batch_size=6, shuffle=False, verbose=0).history
    keras_history = theirs.fit(x, y, epochs=3, batch_size=6, shuffle=False, verbose=0).history
    for key in ("loss", "mae"):
        np.testing.assert_allclose(history[key], keras_history[key], rtol=1e-5)
    for mine, their in zip(model.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, their, rtol=1e-5, atol=1e-5)


def test_custom_step_equals_fit_and_fit_continues():
    """The guide's step, SGD, equals glassnet's own fit bit for bit; fit after it trains on (same
    optimizer state: Adam's moments carried)."""
    x, y = _data()
    inputs = gn.Input((3,))
    custom = CustomModel(inputs, _layers(gn, inputs), seed=0)
    custom.compile(loss="mse", optimizer=gn.optimizers.Adam(0.01))
    inputs = gn.Input((3,))
    plain = gn.Model(inputs, _layers(gn, inputs), seed=0)
    plain.compile(loss="mse", optimizer=gn.optimizers.Adam(0.01))
    plain.set_weights(custom.get_weights())
    for _ in range(3):
        for b in range(0, 20, 5):
            with gn.GradientTape() as tape:
                loss = custom.compute_loss(y=y[b:b + 5], y_pred=custom(x[b:b + 5], training=True))
            grads = tape.gradient(loss, custom.trainable_weights)
            custom.optimizer.apply_gradients(zip(grads, custom.trainable_weights))
            expected = plain.train_on_batch(x[b:b + 5], y[b:b + 5])
            assert float(loss) == pytest.approx(expected, rel=1e-6)
    for mine, theirs in zip(custom.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-7)
    # the weights the loop left are those the layers compute with (the flat buffer fit steps)
    assert custom.optimizer.iterations == plain.optimizer.iterations == 12
    np.testing.assert_allclose(custom.predict(x), plain.predict(x), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("optimizer, atol", [("sgd", 1e-6), ("adam", 1e-4)])
def test_from_scratch_loop_matches_keras(keras, optimizer, atol):
    """keras.io "Writing a training loop from scratch" (TensorFlow), 2 epochs, a softmax classifier,
    a Loss object and a plain (uncompiled) model; Adam."""
    import tensorflow as tf
    rng = np.random.default_rng(3)
    x = rng.normal(size=(32, 6)).astype(np.float32)
    y = rng.integers(0, 4, size=32)
    model = gn.Sequential([L.Dense(8, activation="relu", input_dim=6), L.Dense(4, activation="softmax")], seed=2)
    theirs = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                               keras.layers.Dense(4, activation="softmax")])
    theirs.set_weights(model.get_weights())
    make = {"sgd": lambda lib: lib.optimizers.SGD(0.1), "adam": lambda lib: lib.optimizers.Adam(1e-2)}[optimizer]
    optimizer, k_optimizer = make(gn), make(keras)
    loss_fn = gn.losses.SparseCategoricalCrossentropy()
    k_loss_fn = keras.losses.SparseCategoricalCrossentropy()
    losses, k_losses = [], []
    for epoch in range(2):
        for b in range(0, 32, 8):
            xb, yb = x[b:b + 8], y[b:b + 8]
            with gn.GradientTape() as tape:
                probs = model(xb, training=True)
                loss_value = loss_fn(probs, yb)           # glassnet's Loss objects: (y_pred, y_true)
            grads = tape.gradient(loss_value, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
            with tf.GradientTape() as k_tape:
                k_value = k_loss_fn(yb, theirs(xb, training=True))
            k_grads = k_tape.gradient(k_value, theirs.trainable_weights)
            k_optimizer.apply_gradients(zip(k_grads, theirs.trainable_weights))
            losses.append(float(loss_value))
            k_losses.append(float(k_value))
    np.testing.assert_allclose(losses, k_losses, rtol=1e-5)
    for mine, their in zip(model.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, their, rtol=1e-5, atol=atol)
    # and a compile and fit after the loop go on from its weights
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer)
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before


def _gan(lib, seed):
    g = lib.Sequential([lib.Input((2,)) if lib is not gn else L.Input((2,)), lib.layers.Dense(4, activation="relu"),
                        lib.layers.Dense(3)], **({"seed": seed} if lib is gn else {}))
    d = lib.Sequential([lib.Input((3,)) if lib is not gn else L.Input((3,)), lib.layers.Dense(5, activation="tanh"),
                        lib.layers.Dense(1, activation="sigmoid")], **({"seed": seed + 1} if lib is gn else {}))
    return g, d


def test_gan_step_matches_tensorflow(keras):
    """A GAN step: D on real and on fake (two calls of one model in one tape) and G's gradient
    through D, against tf.GradientTape on the same weights."""
    import tensorflow as tf
    rng = np.random.default_rng(5)
    real = rng.normal(size=(6, 3)).astype(np.float32)
    noise = rng.normal(size=(6, 2)).astype(np.float32)
    g, d = _gan(gn, 0)
    kg, kd = _gan(keras, 0)
    kg.set_weights(g.get_weights())
    kd.set_weights(d.get_weights())
    bce, k_bce = gn.losses.BinaryCrossentropy(), keras.losses.BinaryCrossentropy()
    ones, zeros = np.ones((6, 1), np.float32), np.zeros((6, 1), np.float32)
    with gn.GradientTape() as g_tape, gn.GradientTape() as d_tape:
        fake = g(noise, training=True)
        real_out, fake_out = d(real, training=True), d(fake, training=True)
        d_loss = bce(real_out, ones) + bce(fake_out, zeros)
        g_loss = bce(fake_out, ones)
    d_grads = d_tape.gradient(d_loss, d.trainable_weights)
    g_grads = g_tape.gradient(g_loss, g.trainable_weights)
    with tf.GradientTape() as kg_tape, tf.GradientTape() as kd_tape:
        k_fake = kg(noise, training=True)
        k_real_out, k_fake_out = kd(real, training=True), kd(k_fake, training=True)
        k_d_loss = k_bce(ones, k_real_out) + k_bce(zeros, k_fake_out)
        k_g_loss = k_bce(ones, k_fake_out)
    k_d_grads = kd_tape.gradient(k_d_loss, kd.trainable_weights)
    k_g_grads = kg_tape.gradient(k_g_loss, kg.trainable_weights)
    assert float(d_loss) == pytest.approx(float(k_d_loss), rel=1e-5)
    assert float(g_loss) == pytest.approx(float(k_g_loss), rel=1e-5)
    for mine, their in zip(d_grads + g_grads, k_d_grads + k_g_grads):
        np.testing.assert_allclose(mine, their.numpy(), rtol=1e-4, atol=1e-6)


def test_input_gradient_matches_tensorflow(keras):
    """tape.watch(x): d loss / d x through a model (a saliency map), against TensorFlow."""
    import tensorflow as tf
    x = np.random.default_rng(7).normal(size=(4, 3)).astype(np.float32)
    model = gn.Sequential([L.Dense(5, activation="tanh", input_dim=3), L.Dense(2)], seed=4)
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5, activation="tanh"), keras.layers.Dense(2)])
    theirs.set_weights(model.get_weights())
    with gn.GradientTape() as tape:
        tape.watch(x)
        out = model(x)
        value = ops.sum(ops.square(out)) * 0.5 + ops.mean(out[:, 0])
    grad_x, grad_w = tape.gradient(value, [x, model.trainable_weights[0]])
    tx = tf.constant(x)
    with tf.GradientTape() as k_tape:
        k_tape.watch(tx)
        k_out = theirs(tx)
        k_value = tf.reduce_sum(tf.square(k_out)) * 0.5 + tf.reduce_mean(k_out[:, 0])
    k_x, k_w = k_tape.gradient(k_value, [tx, theirs.trainable_weights[0]])
    np.testing.assert_allclose(grad_x, k_x.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grad_w, k_w.numpy(), rtol=1e-5, atol=1e-6)


# -- ops chains against PyTorch, and finite differences ---------------------------------------------------
def _chain(lib, a, b):
    """One expression in glassnet.ops (lib=None) or torch."""
    if lib is None:
        a, b = ops.convert_to_tensor(a), ops.convert_to_tensor(b)     # watched arrays, as recorded values
        h = ops.tanh(ops.matmul(a, b)) * 2.0 - 1.0 / (1.0 + ops.exp(-a[:, :1]))
        s = ops.softmax(h, axis=-1)
        r = ops.concatenate([ops.log(s + 0.5), ops.sqrt(ops.square(h) + 1.0)], axis=1)
        return ops.mean(ops.maximum(r, 0.1) ** 2) + ops.sum(ops.transpose(r)[1]) / 3.0 + ops.max(ops.abs(h))
    t = lib
    h = t.tanh(a @ b) * 2.0 - 1.0 / (1.0 + t.exp(-a[:, :1]))
    s = t.softmax(h, dim=-1)
    r = t.cat([t.log(s + 0.5), t.sqrt(h ** 2 + 1.0)], dim=1)
    return (t.maximum(r, t.tensor(0.1)) ** 2).mean() + r.T[1].sum() / 3.0 + h.abs().max()


def test_ops_chain_matches_torch(torch):
    rng = np.random.default_rng(11)
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 5))
    with gn.GradientTape() as tape:
        tape.watch([a, b])
        value = _chain(None, a, b)
    ga, gb = tape.gradient(value, [a, b])
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    expected = _chain(torch, ta, tb)
    expected.backward()
    assert float(value) == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(ga, ta.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gb, tb.grad.numpy(), rtol=1e-10, atol=1e-12)




@pytest.mark.parametrize("seed", range(4))
def test_random_graphs_against_finite_differences(seed):
    """Two float64 models chained (G -> D, D called twice), ops on their outputs, a fused loss and
    regularization penalties by compute_loss: every weight's and the input's gradient."""
    rng = np.random.default_rng(seed)
    width = int(rng.integers(2, 5))
    g = gn.Sequential([L.Dense(width, activation=["tanh", "sigmoid", "softplus"][seed % 3], input_dim=3),
                       L.Dense(3, kernel_regularizer=gn.regularizers.L2(0.01))], seed=seed, dtype="float64")
    d = gn.Sequential([L.Dense(4, activation="tanh", input_dim=3), L.Dense(1, activation="sigmoid")],
                      seed=seed + 10, dtype="float64")
    d.compile(loss="binary_crossentropy", optimizer="sgd")
    x = rng.normal(size=(5, 3))
    real = rng.normal(size=(5, 3))
    y = (rng.random(5) > 0.5).astype(np.float64)

    def loss():
        fake = g(x, training=True)
        value = d.compute_loss(y=y, y_pred=d(fake, training=True)) + d.compute_loss(y=1 - y, y_pred=d(real))
        return value + ops.mean(ops.square(fake - real)) * 0.3 + g.compute_loss(y_pred=fake)

    weights = g.trainable_weights + d.trainable_weights
    with gn.GradientTape() as tape:
        tape.watch(x)
        value = loss()
    grads = tape.gradient(value, weights + [x])
    assert float(value) == pytest.approx(float(loss()), rel=1e-12)
    for mine, numeric in zip(grads, _numeric(loss, weights + [x])):
        np.testing.assert_allclose(mine, numeric, rtol=1e-6, atol=1e-8)


def test_model_called_twice_with_dropout_gives_each_calls_gradient():
    """Dropout draws another mask at each call: one tape over two calls gives the sum of the two
    calls' gradients taken in two tapes from the same generator positions."""
    from glassnet.layers.base import StateSnapshot
    model = gn.Sequential([L.Dense(6, activation="relu", input_dim=3), L.Dropout(0.5), L.Dense(1)], seed=3,
                          dtype="float64")
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    start = StateSnapshot(model.layers)
    with gn.GradientTape() as tape:
        value = ops.sum(model(a, training=True)) + ops.sum(ops.square(model(b, training=True)))
    both = tape.gradient(value, model.trainable_weights)
    start.restore()
    with gn.GradientTape() as tape:
        first = ops.sum(model(a, training=True))
    one = tape.gradient(first, model.trainable_weights)
    with gn.GradientTape() as tape:
        second = ops.sum(ops.square(model(b, training=True)))
    two = tape.gradient(second, model.trainable_weights)
    assert float(value) == pytest.approx(float(first) + float(second), rel=1e-12)
    for total, p, q in zip(both, one, two):
        np.testing.assert_allclose(total, p + q, rtol=1e-12, atol=1e-14)


def test_persistent_unconnected_and_structures():
    model = gn.Sequential([L.Dense(2, input_dim=3)], seed=0)
    other = gn.Sequential([L.Dense(2, input_dim=3)], seed=1)
    x = np.ones((2, 3), np.float32)
    with gn.GradientTape(persistent=True) as tape:
        out = model(x)
        value = ops.sum(out)
    kernel, bias = model.trainable_weights
    grads = tape.gradient(value, {"k": kernel, "b": bias, "other": other.trainable_weights[0]})
    assert set(grads) == {"k", "b", "other"} and grads["other"] is None
    np.testing.assert_allclose(grads["b"], [2.0, 2.0])
    np.testing.assert_allclose(tape.gradient(out, (kernel,))[0], np.full((3, 2), 2.0))     # summed target
    np.testing.assert_allclose(tape.gradient(value, out), np.ones((2, 2)))                # a recorded value
    with gn.GradientTape() as once:
        value = ops.sum(model(x))
    once.gradient(value, kernel)
    with pytest.raises(RuntimeError, match="persistent"):
        once.gradient(value, kernel)


def test_refusals_name_the_way_out():
    model = gn.Sequential([L.Dense(2, input_dim=3)], seed=0)
    x = np.ones((2, 3), np.float32)
    with gn.GradientTape():
        out = model(x)
        with pytest.raises(TypeError, match="glassnet.ops"):
            np.exp(out)
        with pytest.raises(TypeError, match="glassnet.ops"):
            out.sum()
        with pytest.raises(TypeError, match="ndarray method"):
            ops.sum(out.reshape(-1))
        with pytest.raises(TypeError, match=r"\(y_pred, y_true\)"):
            gn.losses.MeanSquaredError()(np.zeros((2, 2), np.float32), out)
        assert out.dtype == np.float32 and (out * 2.0).dtype == np.float32     # weak Python numbers
        assert (out > 0).dtype == bool          # comparisons: constants
    # outside the tape a recorded value is an array like any other
    assert np.exp(out).shape == (2, 2) and float(out.sum()) == pytest.approx(float(np.asarray(out).sum()))
    with pytest.raises(TypeError, match="pairs"):
        gn.optimizers.SGD().apply_gradients([np.zeros(2)])
    with pytest.raises(ValueError, match="shape"):
        gn.optimizers.SGD().apply_gradients([(np.zeros(3), model.trainable_weights[1])])


def test_apply_gradients_on_some_weights_and_constraints():
    """A subset of a model's weights steps on its own (plain SGD: w - lr g); a layer used alone too."""
    model = gn.Sequential([L.Dense(3, input_dim=2), L.Dense(1)], seed=0)
    kernel = model.trainable_weights[0]
    before = kernel.copy()
    grad = np.full_like(kernel, 0.5)
    gn.optimizers.SGD(0.1).apply_gradients([(grad, kernel)])
    np.testing.assert_allclose(model.layers[0].params["kernel"], before - 0.05, rtol=1e-6)
    assert model.layers[0].params["kernel"] is kernel      # in place: what the layer computes with
    layer = L.Dense(2)
    x = np.ones((1, 3), np.float32)
    with gn.GradientTape() as tape:
        value = ops.sum(layer(x))
    grads = tape.gradient(value, list(layer.params.values()))
    np.testing.assert_allclose(grads[0], np.ones((3, 2)))
    gn.optimizers.SGD(1.0).apply_gradients(zip(grads, list(layer.params.values())))
    np.testing.assert_allclose(layer.params["bias"], [-1.0, -1.0])


def test_import_glassnet_leaves_the_tape_unloaded():
    import subprocess
    import sys
    code = "import sys, glassnet; assert 'glassnet.tape' not in sys.modules; glassnet.GradientTape; " \
           "assert 'glassnet.tape' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
