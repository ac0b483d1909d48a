"""Review: keras.io's Variational AutoEncoder ported to glassnet (a Sampling layer of one's own,
the KL term as an activity_regularizer on [z_mean | z_log_var]); the bugs the port ran into."""
import re
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet import gradcheck, layers


class _Sampling(gn.Layer):
    """[stats (batch, 2d), eps (batch, d)] -> z_mean + exp(0.5 z_log_var) * eps, or [stats] alone,
    the noise then drawn from the layer's generator."""
    merges = True

    def output_shape(self, input_shapes):
        return (input_shapes[0][-1] // 2,)

    def build(self, input_shapes):
        self.inputs_seen = [tuple(s) for s in input_shapes]   # what check_layer builds it with
        super().build(input_shapes)

    def forward(self, xs, training=False):
        stats, eps = xs if len(xs) == 2 else (xs[0], None)
        d = stats.shape[-1] // 2
        if eps is None:
            eps = self._generator().standard_normal((len(stats), d)).astype(stats.dtype)
        self.eps, self.std, self.given = eps, np.exp(0.5 * stats[:, d:]), len(xs) == 2
        return stats[:, :d] + self.std * eps

    def backward(self, g):
        dstats = np.concatenate([g, 0.5 * g * self.std * self.eps], axis=-1)
        return [dstats, self.std * g] if self.given else [dstats]


def test_check_layer_takes_the_list_of_inputs_of_a_merging_layer_of_different_shapes():
    # np.array([stats, eps]) of shapes (5, 4) and (5, 2) failed ("inhomogeneous shape"); of one
    # shape it was stacked into one array, and the layer built for (batch, features)
    rng = np.random.default_rng(0)
    stats, eps = rng.standard_normal((5, 4)), rng.standard_normal((5, 2))
    layer = _Sampling(dtype="float64")
    report = gradcheck.check_layer(layer, [stats, eps])
    assert report["max_error"] < 1e-6
    assert layer.inputs_seen == [(4,), (2,)]
    assert {"input 0", "input 1"} <= set(report["errors"])


def test_check_layer_finds_a_wrong_gradient_of_one_input_of_a_merging_layer():
    class WrongNoiseGradient(_Sampling):
        def backward(self, g):
            return [super().backward(g)[0], np.zeros_like(g)]    # eps does get a gradient

    rng = np.random.default_rng(0)
    with pytest.raises(gradcheck.GradientCheckError, match="input 1"):
        gradcheck.check_layer(WrongNoiseGradient(dtype="float64"), [rng.standard_normal((5, 4)),
                                                                    rng.standard_normal((5, 2))])


def test_a_merging_layer_of_yours_called_on_a_list_of_one_saves_and_loads(tmp_path):
    # drawing and training took it; save wrote the file, and load_model refused it ("must list
    # two or more earlier layers")
    images = gn.Input((6,))
    stats = layers.Dense(4)(images)
    z = _Sampling(name="z")([stats])
    model = gn.Model(images, layers.Dense(6, activation="sigmoid")(z), seed=0)
    model.compile(loss="binary_crossentropy", optimizer="adam")
    x = np.random.default_rng(0).random((8, 6)).astype("float32")
    model.fit(x, x, epochs=1, verbose=0)
    model.save(tmp_path / "vae.npz")
    loaded = gn.load_model(tmp_path / "vae.npz")
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert loaded.get_layer("z").merges
    assert loaded.predict(x).shape == (8, 6)


# -- the documented port (docs/layers.md, "A loss term of your own, and random draws") ------------

@pytest.fixture(autouse=True)
def _forget_the_documented_classes():
    """The documented Sampling registers itself by its class name: not left in the registry."""
    yield
    gn.layers.LAYERS.pop("Sampling", None)


def _documented_vae():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "layers.md").read_text(encoding="utf-8")
    found = re.search(r"```python\n(import numpy as np\nimport glassnet as gn\nfrom glassnet import layers\n\n"
                      r"class Sampling\(gn\.Layer\):.*?)```", doc, re.S)
    assert found, "docs/layers.md shows Keras' VAE (class Sampling, class KL)"
    space = {}
    exec(found.group(1), space)
    return space


def test_the_documented_vae_logs_reconstruction_plus_kl_and_its_parts_have_the_right_gradients():
    space = _documented_vae()
    vae, encoder, Sampling, KL = space["vae"], space["encoder"], space["Sampling"], space["KL"]
    rng = np.random.default_rng(0)
    x = rng.random((6, 28, 28, 1)).astype("float32")
    # the loss evaluate returns is 784 x the mean BCE + the KL averaged over the batch, with the
    # noise the layer draws from its generator
    stats_model = gn.Model(vae.inputs[0], vae.get_layer("z").input)
    stats = stats_model.predict(x).astype(np.float64)
    vae.get_layer("z").rng = np.random.default_rng(5)
    loss = vae.evaluate(x, x, batch_size=6)
    eps = np.random.default_rng(5).standard_normal((6, 2)).astype("float32")
    vae.get_layer("z").rng = np.random.default_rng(5)
    decoder_in = gn.Input((2,))
    out = decoder_in
    for layer in vae.layers[vae.layers.index(vae.get_layer("z")) + 1:]:
        out = layer(out)
    decoder = gn.Model(decoder_in, out)
    z = (stats[:, :2] + np.exp(0.5 * stats[:, 2:]) * eps).astype("float32")
    p = np.clip(decoder.predict(z).astype(np.float64), 1e-7, 1 - 1e-7)
    reconstruction = np.mean(np.sum(-(x * np.log(p) + (1 - x) * np.log(1 - p)), axis=(1, 2, 3)))
    kl = np.mean(np.sum(-0.5 * (1 + stats[:, 2:] - stats[:, :2] ** 2 - np.exp(stats[:, 2:])), axis=1))
    assert loss == pytest.approx(reconstruction + kl, rel=1e-4)
    assert encoder.predict(x).shape == (6, 2)
    # the layer's gradient (its noise fixed for every pass) and the penalty's, in a small model
    s = Sampling(dtype="float64", seed=0)
    assert gradcheck.check_layer(s, rng.standard_normal((4, 6)),
                                 before_forward=lambda: setattr(s, "rng", np.random.default_rng(1)))["max_error"] < 1e-6
    inputs = gn.Input((5,))
    h = layers.Concatenate(activity_regularizer=KL())([layers.Dense(3)(inputs), layers.Dense(3)(inputs)])
    small = gn.Model(inputs, layers.Dense(4)(h), dtype="float64", seed=0)
    small.compile(loss="mse")
    assert gradcheck.check_model(small, rng.standard_normal((6, 5)), rng.standard_normal((6, 4)))["max_error"] < 1e-6


def test_the_documented_vae_saves_and_loads_with_its_penalty(tmp_path):
    space = _documented_vae()
    vae = space["vae"]
    x = np.random.default_rng(0).random((8, 28, 28, 1)).astype("float32")
    vae.fit(x, x, epochs=1, batch_size=8, verbose=0)
    vae.save(tmp_path / "vae.npz")
    loaded = gn.load_model(tmp_path / "vae.npz")
    assert any(isinstance(layer.activity_regularizer, space["KL"]) for layer in loaded.layers)
    for a, b in zip(vae.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def _keras_vae(keras, weights):
    """keras.io's VAE (custom train_step, the trackers), its noise fed as a second input."""
    from keras import layers as K, ops
    import tensorflow as tf

    class KSampling(K.Layer):
        def call(self, inputs):
            z_mean, z_log_var, eps = inputs
            return z_mean + ops.exp(0.5 * z_log_var) * eps

    images, eps = keras.Input((28, 28, 1)), keras.Input((2,))
    x = K.Conv2D(32, 3, activation="relu", strides=2, padding="same")(images)
    x = K.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = K.Dense(16, activation="relu")(K.Flatten()(x))
    z_mean, z_log_var = K.Dense(2)(x), K.Dense(2)(x)
    encoder = keras.Model([images, eps], [z_mean, z_log_var, KSampling()([z_mean, z_log_var, eps])])
    latent = keras.Input((2,))
    y = K.Reshape((7, 7, 64))(K.Dense(7 * 7 * 64, activation="relu")(latent))
    y = K.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(y)
    y = K.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(y)
    decoder = keras.Model(latent, K.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(y))
    n = len(encoder.get_weights())
    encoder.set_weights(weights[:n])
    decoder.set_weights(weights[n:])

    class VAE(keras.Model):
        def __init__(self):
            super().__init__()
            self.encoder, self.decoder = encoder, decoder
            self.trackers = [keras.metrics.Mean(name=k) for k in ("total_loss", "reconstruction_loss", "kl_loss")]

        @property
        def metrics(self):
            return self.trackers

        def train_step(self, data):
            (images, eps), _, _ = keras.utils.unpack_x_y_sample_weight(data)
            with tf.GradientTape() as tape:
                z_mean, z_log_var, z = self.encoder([images, eps])
                reconstruction = self.decoder(z)
                reconstruction_loss = ops.mean(ops.sum(
                    keras.losses.binary_crossentropy(images, reconstruction), axis=(1, 2)))
                kl_loss = ops.mean(ops.sum(-0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var)), axis=1))
                total_loss = reconstruction_loss + kl_loss
            grads = tape.gradient(total_loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            for tracker, value in zip(self.trackers, (total_loss, reconstruction_loss, kl_loss)):
                tracker.update_state(value)
            return {m.name: m.result() for m in self.trackers}

    return VAE(), encoder, decoder


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_the_documented_vae_trains_as_keras_custom_train_step(keras, optimizer):
    # Adam with betas exact in float32, which Keras' bias corrections use (docs/keras_parity.md)
    make = {"sgd": lambda module: module.SGD(1e-3),
            "adam": lambda module: module.Adam(1e-3, beta_1=0.875, beta_2=1 - 2 ** -10, epsilon=1e-30)}[optimizer]
    # Keras caches its global dtype policy on first use: set and restored with floatx, or the
    # float64 one would outlive this test (later Keras layers float64)
    floatx, policy = keras.backend.floatx(), keras.config.dtype_policy()
    keras.backend.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        space = _documented_vae()
        layers_ = space["layers"]
        # the documented model in float64, drawn again from the documented classes
        images = gn.Input((28, 28, 1))
        x = layers_.Conv2D(32, 3, activation="relu", strides=2, padding="same")(images)
        x = layers_.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
        x = layers_.Dense(16, activation="relu")(layers_.Flatten()(x))
        z_mean, z_log_var = layers_.Dense(2)(x), layers_.Dense(2)(x)
        sampling = space["Sampling"](name="z")
        z = sampling(layers_.Concatenate(activity_regularizer=space["KL"]())([z_mean, z_log_var]))
        y = layers_.Reshape((7, 7, 64))(layers_.Dense(7 * 7 * 64, activation="relu")(z))
        y = layers_.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(y)
        y = layers_.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(y)
        decoded = layers_.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(y)
        vae = gn.Model(images, decoded, seed=1, dtype="float64")
        vae.compile(loss="binary_crossentropy", loss_weights=784, optimizer=make(gn.optimizers),
                    metrics=["binary_crossentropy"])
        kvae, encoder, decoder = _keras_vae(keras, vae.get_weights())
        kvae.compile(optimizer=make(keras.optimizers))
        rng = np.random.default_rng(0)
        n, batch, epochs = 32, 16, 2
        data = rng.random((n, 28, 28, 1))
        sampling.rng = np.random.default_rng(7)     # glassnet draws each batch's noise in turn ...
        noise = np.random.default_rng(7).standard_normal((epochs, n, 2))   # ... which Keras is fed
        ours = vae.fit(data, data, epochs=epochs, batch_size=batch, shuffle=False, verbose=0).history
        for epoch in range(epochs):
            theirs = kvae.fit([data, noise[epoch]], epochs=1, batch_size=batch, shuffle=False, verbose=0).history
            reconstruction = 784 * ours["binary_crossentropy"][epoch]
            assert ours["loss"][epoch] == pytest.approx(theirs["total_loss"][0], rel=1e-12)
            assert reconstruction == pytest.approx(theirs["reconstruction_loss"][0], rel=1e-12)
            assert ours["loss"][epoch] - reconstruction == pytest.approx(theirs["kl_loss"][0], rel=1e-6, abs=1e-10)
        for a, b in zip(vae.get_weights(), encoder.get_weights() + decoder.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-13)
    finally:
        keras.backend.set_floatx(floatx)
        keras.config.set_dtype_policy(policy)


def test_keras_float64_adam_bias_corrections_use_float32_betas_as_keras_parity_says(keras):
    # docs/keras_parity.md: why a float64 Adam run drifts from Keras' unless the betas are exact in
    # float32; glassnet's first step is the rule's, learning_rate * sign(g)
    # Keras caches its global dtype policy on first use: set and restored with floatx, or the
    # float64 one would outlive this test (later Keras layers float64)
    floatx, policy = keras.backend.floatx(), keras.config.dtype_policy()
    keras.backend.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        grad = np.array([1e-3, -2.0])
        variable = keras.Variable(np.zeros(2))
        keras.optimizers.Adam(1e-3, epsilon=1e-30).apply_gradients([(grad, variable)])
        assert variable.numpy() / -1e-3 / np.sign(grad) - 1 == pytest.approx([-6.676e-6] * 2, rel=1e-3)
        exact = keras.Variable(np.zeros(2))
        keras.optimizers.Adam(1e-3, beta_1=0.875, beta_2=1 - 2 ** -10, epsilon=1e-30).apply_gradients([(grad, exact)])
        np.testing.assert_allclose(exact.numpy(), -1e-3 * np.sign(grad), rtol=1e-15)
    finally:
        keras.backend.set_floatx(floatx)
        keras.config.set_dtype_policy(policy)
    model = gn.Sequential([gn.Input((2,)), layers.Dense(1, use_bias=False)], seed=0, dtype="float64")
    model.compile(loss="mse", optimizer=gn.optimizers.Adam(1e-3, epsilon=1e-30))
    before = model.get_weights()[0].copy()
    x = np.array([[1.0, -3.0]])
    model.train_on_batch(x, np.array([[5.0]]))
    np.testing.assert_allclose(np.abs(model.get_weights()[0] - before), 1e-3, rtol=1e-12)
