"""glassnet.random against Keras 3.15's keras.random: the distributions (moments, ranges, the 2-stddev
truncation, categorical frequencies, dropout's scaling and noise_shape, shuffle a permutation) against
theory and TensorFlow's draws, the values themselves against Keras' NumPy backend (a subprocess),
seeds (int, SeedGenerator, None), refusals by name; the graph node a draw inside a drawn call makes
(fresh noise per pass, gradients by float64 central differences with the noise replayed, files);
keras.io's VAE, as written, against Keras 3.15 with both drawing the same epsilon."""
import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet import ops
from glassnet import random as gr
from central_differences import numeric as _numeric      # float64 central differences

N = 200_000


# -- distributions --------------------------------------------------------------------------------------
def test_normal_uniform_truncated_moments_ranges_and_dtypes(keras):
    import tensorflow as tf
    for ours, theirs, mean, std, lo, hi in [
        (gr.normal((N,), 1.5, 2.0, seed=1), keras.random.normal((N,), 1.5, 2.0, seed=1), 1.5, 2.0, -np.inf, np.inf),
        (gr.uniform((N,), -1.0, 3.0, seed=2), keras.random.uniform((N,), -1.0, 3.0, seed=2), 1.0, 4 / 12 ** 0.5, -1, 3),
        # a normal truncated at 2 stddev has standard deviation 0.8796 of the untruncated one
        (gr.truncated_normal((N,), 0.5, 3.0, seed=3), keras.random.truncated_normal((N,), 0.5, 3.0, seed=3),
         0.5, 3.0 * 0.8796256610342398, 0.5 - 6.0, 0.5 + 6.0)]:
        theirs = np.asarray(tf.convert_to_tensor(theirs))
        assert ours.dtype == theirs.dtype == np.float32 and ours.shape == theirs.shape
        for values in (ours, theirs):
            assert abs(values.mean() - mean) < 5 * std / N ** 0.5
            assert abs(values.std() - std) < 0.01 * std
            assert values.min() >= lo and values.max() <= hi
        # the truncated draw reaches its bounds (not a narrower clip) on both sides
        if np.isfinite(lo):
            assert ours.min() < lo + 0.01 * std and ours.max() > hi - 0.01 * std
    assert gr.normal((2, 3), dtype="float64", seed=0).dtype == np.float64
    assert gr.uniform((2,), dtype="float16", seed=0).dtype == np.float16


def test_randint_categorical_gamma_beta_binomial_against_theory_and_tensorflow(keras):
    import tensorflow as tf

    def np_(t):
        return np.asarray(tf.convert_to_tensor(t))
    ours, theirs = gr.randint((N,), 3, 8, seed=4), np_(keras.random.randint((N,), 3, 8, seed=4))
    assert ours.dtype == theirs.dtype == np.int32
    for values in (ours, theirs):
        assert set(np.unique(values)) == {3, 4, 5, 6, 7}
        np.testing.assert_allclose(np.bincount(values - 3) / N, 0.2, atol=0.005)
    logits = np.array([[0.0, 1.0, -1.0, 2.0], [3.0, 3.0, -5.0, 0.0]], np.float32)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    ours, theirs = gr.categorical(logits, 50_000, seed=5), np_(keras.random.categorical(logits, 50_000, seed=5))
    assert ours.shape == theirs.shape == (2, 50_000) and ours.dtype == theirs.dtype == np.int32
    for values in (ours, theirs):
        for row in range(2):
            np.testing.assert_allclose(np.bincount(values[row], minlength=4) / 50_000, p[row], atol=0.01)
    for ours, theirs, mean, var in [
        (gr.gamma((N,), 2.5, seed=6), keras.random.gamma((N,), 2.5, seed=6), 2.5, 2.5),
        (gr.beta((N,), 2.0, 5.0, seed=7), keras.random.beta((N,), 2.0, 5.0, seed=7), 2 / 7, 10 / (49 * 8)),
        (gr.binomial((N,), 10, 0.3, seed=8), keras.random.binomial((N,), 10, 0.3, seed=8), 3.0, 2.1)]:
        theirs = np_(theirs)
        assert ours.dtype == theirs.dtype == np.float32
        for values in (ours, theirs):
            assert abs(values.mean() - mean) < 5 * var ** 0.5 / N ** 0.5
            assert abs(values.var() - var) < 0.03 * var


def test_dropout_scales_kept_units_and_noise_shape_broadcasts(keras):
    import tensorflow as tf
    x = np.random.default_rng(0).normal(size=(400, 50)).astype(np.float32)
    for out in (gr.dropout(x, 0.3, seed=1), np.asarray(tf.convert_to_tensor(keras.random.dropout(x, 0.3, seed=1)))):
        kept = out != 0
        assert out.dtype == np.float32
        np.testing.assert_allclose(out[kept], x[kept] / np.float32(0.7), rtol=1e-6)
        assert abs(kept.mean() - 0.7) < 0.01
    # noise_shape (1, 50): one decision per column, shared by every row; (None, 1): one per row
    for noise_shape, axis in (((1, 50), 0), ((None, 1), 1)):
        kept = gr.dropout(x, 0.5, noise_shape=noise_shape, seed=2) != 0
        assert (kept == kept.take([0], axis=axis)).all() and 0 < kept.mean() < 1
    assert (gr.dropout(x, 0.0) == x).all() and (gr.dropout(x, 1.0) == 0).all()


def test_shuffle_is_a_permutation_of_whole_slices_along_axis(keras):
    import tensorflow as tf
    x = np.arange(60, dtype=np.float32).reshape(5, 4, 3)
    for axis in (0, 1, -1):
        out = gr.shuffle(x, axis=axis, seed=3)
        order = np.argsort(np.take(out, 0, axis=tuple(a for a in range(3) if a != axis % 3)[0]).reshape(-1))
        assert out.shape == x.shape and sorted(out.ravel()) == sorted(x.ravel())
        # each slice whole: every slice of the output is one slice of x
        slices = {np.take(x, i, axis=axis).tobytes() for i in range(x.shape[axis])}
        assert all(np.take(out, i, axis=axis).tobytes() in slices for i in range(x.shape[axis]))
        assert order is not None
    # TensorFlow's shuffle (axis 0) moves whole rows too
    theirs = np.asarray(tf.convert_to_tensor(keras.random.shuffle(x, axis=0, seed=3)))
    assert {r.tobytes() for r in theirs} == {r.tobytes() for r in x}
    counts = np.zeros(5)       # every row lands everywhere about as often
    g = gr.SeedGenerator(0)
    for _ in range(500):
        counts[np.flatnonzero(gr.shuffle(np.arange(5), seed=g) == 0)[0]] += 1
    assert counts.min() > 60


# -- seeds ------------------------------------------------------------------------------------------------
def test_int_seed_repeats_seedgenerator_moves_on_reproducibly_none_differs():
    functions = [lambda s: gr.normal((3, 2), seed=s), lambda s: gr.uniform((4,), seed=s),
                 lambda s: gr.truncated_normal((4,), seed=s), lambda s: gr.randint((5,), 0, 100, seed=s),
                 lambda s: gr.categorical(np.zeros((2, 9)), 6, seed=s), lambda s: gr.gamma((4,), 1.0, seed=s),
                 lambda s: gr.beta((4,), 1.0, 2.0, seed=s), lambda s: gr.binomial((40,), 10, 0.5, seed=s),
                 lambda s: gr.dropout(np.ones((4, 8), np.float32), 0.5, seed=s),
                 lambda s: gr.shuffle(np.arange(20), seed=s)]
    for f in functions:
        np.testing.assert_array_equal(f(7), f(7))
        assert not np.array_equal(f(7), f(8))
        g, h = gr.SeedGenerator(11), gr.SeedGenerator(11)
        first, second = f(g), f(g)
        assert not np.array_equal(first, second)
        np.testing.assert_array_equal(first, f(h))
        np.testing.assert_array_equal(second, f(h))
        assert g.state.tolist() == [11, 2]
        assert not np.array_equal(f(None), f(None))
    assert gr.SeedGenerator(5).get_config()["seed"] == 5
    assert gr.SeedGenerator.from_config({"seed": 5, "name": "g"}).name == "g"


def _keras_numpy_sampler(keras):
    """Keras 3.15's NumPy backend's random module (keras/src/backend/numpy/random.py), run from its
    source with Keras' own seeds (draw_seed, SeedGenerator) and floatx: that backend itself needs jax
    to import, which is not installed; its softmax is numpy/nn.py's, copied."""
    from pathlib import Path
    import keras.src.backend as backend_package
    source = (Path(backend_package.__file__).parent / "numpy" / "random.py").read_text()
    source = source.replace("from keras.src.backend.numpy.nn import softmax\n", "")
    space = {"softmax": lambda x, axis=-1: (lambda e: e / np.sum(e, axis=axis, keepdims=True))(
        np.exp(x - np.max(x, axis=axis, keepdims=True)))}
    exec(compile(source, "keras/src/backend/numpy/random.py", "exec"), space)
    keras_draw_seed = space["draw_seed"]          # (a TensorFlow tensor here: NumPy's seed wants an array)
    space["draw_seed"] = lambda seed: np.asarray(keras_draw_seed(seed))
    return space


def _same_draws(r, g, x):
    return [r["normal"]((3, 4), 0.5, 2.0, seed=3), r["uniform"]((5,), -2.0, 1.0, seed=4),
            r["truncated_normal"]((50,), seed=5), r["randint"]((6,), 0, 9, seed=6),
            r["categorical"](np.array([[0., 1., 2.], [2., 0., -1.]], "float32"), 7, dtype="int32", seed=7),
            r["gamma"]((4,), 2.0, seed=8), r["beta"]((4,), 2.0, 3.0, seed=9), r["binomial"]((4,), 10, 0.4, seed=10),
            r["dropout"](x, 0.4, seed=11), r["dropout"](x, 0.4, noise_shape=(None, 1), seed=12),
            r["normal"]((2, 3), seed=g), r["normal"]((2, 3), seed=g), r["uniform"]((3,), dtype="float64", seed=g)]


def test_int_seed_and_seedgenerator_draw_keras_numpy_backend_values(keras):
    """Keras 3.15's NumPy backend draws by np.random.default_rng(seed state) as glassnet does: the
    same values, bit for bit, for int seeds and a SeedGenerator's successive draws."""
    x = np.linspace(-1, 1, 24, dtype="float32").reshape(4, 6)
    theirs = _same_draws(_keras_numpy_sampler(keras), keras.random.SeedGenerator(1337), x)
    ours = _same_draws({name: getattr(gr, name) for name in gr.__all__}, gr.SeedGenerator(1337), x)
    for i, (mine, their) in enumerate(zip(ours, theirs)):
        their = np.asarray(their)
        assert mine.dtype == their.dtype and mine.shape == their.shape, i
        np.testing.assert_array_equal(mine, their, err_msg=str(i))


@pytest.mark.parametrize("call, pattern", [
    (lambda: gr.normal((2, "a")), TypeError), (lambda: gr.normal((2, -1)), ValueError),
    (lambda: gr.normal((None, 2)), ValueError), (lambda: gr.normal((2,), seed=1.5), TypeError),
    (lambda: gr.normal((2,), stddev=-1.0), ValueError), (lambda: gr.normal((2,), dtype="int32"), TypeError),
    (lambda: gr.uniform((2,), 3.0, 1.0), ValueError), (lambda: gr.randint((2,), 5, 5), ValueError),
    (lambda: gr.randint((2,), 0, 5, dtype="float32"), TypeError), (lambda: gr.randint((2,), 0.5, 5), TypeError),
    (lambda: gr.categorical(np.zeros(3), 2), ValueError), (lambda: gr.categorical(np.zeros((2, 3)), -1), ValueError),
    (lambda: gr.dropout(np.ones((2, 3)), 1.5), ValueError), (lambda: gr.dropout(np.ones((2, 3)), 0.5, (2, 2)), ValueError),
    (lambda: gr.shuffle(np.ones((2, 3)), axis=2), ValueError), (lambda: gr.gamma((2,), 0.0), ValueError),
    (lambda: gr.beta((2,), 1.0, -1.0), ValueError), (lambda: gr.binomial((2,), 5, 1.5), ValueError),
    (lambda: gr.SeedGenerator(1.5), ValueError), (lambda: gr.SeedGenerator(1, backend="x"), ValueError)])
def test_bad_arguments_are_refused_by_name(call, pattern):
    with pytest.raises(pattern, match=r"(random\.\w+|SeedGenerator): \w+"):
        call()


def test_import_glassnet_does_not_import_random():
    code = "import sys, glassnet; print('glassnet.random' in sys.modules, 'glassnet.layers.tensor_random' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "False"], out.stderr[-800:]


# -- inside a drawn call: a graph node ---------------------------------------------------------------------
class RandomSampling(gn.layers.Layer):
    """keras.io's Sampling, with gn names."""
    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = gr.SeedGenerator(1337) if seed is None else seed

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]
        dim = ops.shape(z_mean)[1]
        epsilon = gr.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


def _encoder(seed=None, dtype="float32"):
    inputs = gn.Input((4,))
    h = L.Dense(5, activation="tanh")(inputs)
    z_mean, z_log_var = L.Dense(2, name="z_mean")(h), L.Dense(2, name="z_log_var")(h)
    z = RandomSampling(seed)([z_mean, z_log_var])
    return gn.Model(inputs, [z_mean, z_log_var, z], seed=0, dtype=dtype)


def test_a_draw_of_the_batch_shape_is_a_node_drawing_at_every_pass_training_and_predict():
    model = _encoder()
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    draws = []
    for _ in range(2):
        m, v, z = model.predict(x, verbose=0)
        draws.append((z - m) / np.exp(0.5 * v))
    m, v, z = model(x, training=True)
    draws.append((np.asarray(z) - m) / np.exp(0.5 * np.asarray(v)))
    assert not np.allclose(draws[0], draws[1]) and not np.allclose(draws[1], draws[2])
    # the draws are the SeedGenerator(1337)'s, one per pass, as the eager function gives them
    replay = gr.SeedGenerator(1337)
    for eps in draws:
        np.testing.assert_allclose(eps, gr.normal((6, 2), seed=replay), rtol=1e-4, atol=1e-5)
    assert any(type(layer).__name__ == "RandomDraw" for layer in model.layers)
    assert model.predict(x[:3], verbose=0)[2].shape == (3, 2)        # the batch size of each pass
    # an int seed: the same values at every pass (Keras')
    fixed = _encoder(seed=7)
    a, b = fixed.predict(x, verbose=0)[2], fixed.predict(x, verbose=0)[2]
    np.testing.assert_array_equal(a, b)




@pytest.mark.parametrize("replayed", [False, True])
def test_gradients_through_the_noise_against_float64_finite_differences(replayed):
    """The KL + a loss of z: every weight's gradient and the input's, the noise fixed (an int seed) or
    replayed (the SeedGenerator's state set back before each pass)."""
    generator = gr.SeedGenerator(3)
    model = _encoder(seed=generator if replayed else 5, dtype="float64")
    rng = np.random.default_rng(1)
    x, target = rng.normal(size=(5, 4)), rng.normal(size=(5, 2))

    def loss():
        generator.state[:] = [3, 0]
        m, v, z = model(x, training=True)
        kl = ops.mean(ops.sum(-0.5 * (1 + v - ops.square(m) - ops.exp(v)), axis=1))
        return kl + ops.mean(ops.square(z - target)) + ops.mean(ops.sin(z))

    weights = model.trainable_weights
    with gn.GradientTape() as tape:
        tape.watch(x)
        value = loss()
    grads = tape.gradient(value, weights + [x])
    assert float(value) == pytest.approx(float(loss()), rel=1e-12)
    for mine, numeric in zip(grads, _numeric(loss, weights + [x])):
        np.testing.assert_allclose(mine, numeric, rtol=1e-6, atol=1e-8)


class RandomDrop(gn.layers.Layer):
    def __init__(self, rate, noise_shape=None, seed=4, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.noise_shape, self.seed_ = rate, noise_shape, seed

    def call(self, x):
        return gr.dropout(x * 2.0, self.rate, noise_shape=self.noise_shape, seed=self.seed_)


@pytest.mark.parametrize("noise_shape", [None, (None, 1, 3)])
def test_dropout_of_a_tensor_scales_kept_units_and_its_gradient(noise_shape):
    inputs = gn.Input((2, 3))
    out = L.Dense(3)(RandomDrop(0.4, noise_shape)(L.Dense(3)(inputs)))
    model = gn.Model(inputs, out, seed=0, dtype="float64")
    rng = np.random.default_rng(2)
    x = rng.normal(size=(7, 2, 3))
    h = np.asarray(model.layers[0](x))
    dropped = [layer for layer in model.layers if type(layer).__name__ == "RandomDraw"][0]
    expected = gr.dropout(2.0 * h, 0.4, noise_shape=noise_shape, seed=4)
    np.testing.assert_allclose(dropped.forward(2.0 * h), expected, rtol=1e-12)
    if noise_shape is not None:
        kept = expected != 0
        assert (kept == kept[:, :1]).all()
    y = rng.normal(size=(7, 2, 3))

    def loss():
        return ops.mean(ops.square(model(x, training=True) - y))
    with gn.GradientTape() as tape:
        value = loss()
    weights = model.trainable_weights
    for mine, numeric in zip(tape.gradient(value, weights), _numeric(loss, weights)):
        np.testing.assert_allclose(mine, numeric, rtol=1e-6, atol=1e-8)


def test_a_model_with_noise_nodes_saves_and_loads_its_seed_state(tmp_path):
    model = _encoder()
    x = np.random.default_rng(0).normal(size=(4, 4)).astype(np.float32)
    model.predict(x, verbose=0)                 # the generator moved on by one
    model.save(tmp_path / "enc.npz")
    loaded = gn.load_model(tmp_path / "enc.npz")
    node = [layer for layer in loaded.layers if type(layer).__name__ == "RandomDraw"][0]
    assert node.get_config()["draw_seed"] == {"seed": 1337, "state": [1337, 1]}
    # the loaded model draws on where the saved one stood, pass after pass
    for _ in range(2):
        for a, b in zip(model.predict(x, verbose=0), loaded.predict(x, verbose=0)):
            np.testing.assert_array_equal(a, b)
    # an int seed and None (the model's stream) are kept too
    for seed in (9, None):
        inputs = gn.Input((3,))
        out = RandomDrop(0.5, seed=seed)(L.Dense(6)(inputs))
        saved = gn.Model(inputs, out, seed=2)
        saved.save(tmp_path / "drop.npz")
        again = gn.load_model(tmp_path / "drop.npz")
        x3 = np.ones((5, 3), np.float32)
        if seed is not None:
            np.testing.assert_array_equal(saved.predict(x3, verbose=0), again.predict(x3, verbose=0))
        else:
            assert again.predict(x3, verbose=0).shape == (5, 6)


def test_draws_on_tensors_refused_by_name():
    inputs = gn.Input((3,))
    with pytest.raises(TypeError, match="random.randint: minval is a tensor"):
        gr.randint((2,), inputs, 3)
    with pytest.raises(ValueError, match=r"random.normal: shape \(None, 3\) holds None"):
        gr.normal((None, 3))                    # outside a drawn call: no batch to take

    class TwoNones(gn.layers.Layer):
        def call(self, x):
            return x + gr.normal((None, None))
    with pytest.raises(TypeError, match="random.normal: shape must hold ints"):
        gn.Model(inputs, TwoNones()(inputs))


# -- keras.io's VAE as written, against Keras 3.15, both drawing the same epsilon ------------------------
def _vae_parts(lib, sampling, seed=0):
    kw = (lambda k: {"seed": seed + k}) if lib is gn else (lambda k: {})
    images = lib.Input((8, 8, 1))
    x = lib.layers.Conv2D(4, 3, activation="relu", strides=2, padding="same")(images)
    x = lib.layers.Dense(8, activation="relu")(lib.layers.Flatten()(x))
    z_mean = lib.layers.Dense(2, name="z_mean")(x)
    z_log_var = lib.layers.Dense(2, name="z_log_var")(x)
    z = sampling()([z_mean, z_log_var])
    encoder = lib.Model(images, [z_mean, z_log_var, z], name="encoder", **kw(0))
    latent = lib.Input((2,))
    y = lib.layers.Reshape((4, 4, 4))(lib.layers.Dense(4 * 4 * 4, activation="relu")(latent))
    y = lib.layers.Conv2DTranspose(4, 3, activation="relu", strides=2, padding="same")(y)
    out = lib.layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(y)
    return encoder, lib.Model(latent, out, name="decoder", **kw(1))


def _sampling_class(lib):
    class Sampling(lib.layers.Layer):
        """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit (keras.io, as written)."""
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = lib.random.SeedGenerator(1337)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            batch = lib.ops.shape(z_mean)[0]
            dim = lib.ops.shape(z_mean)[1]
            epsilon = lib.random.normal(shape=(batch, dim), seed=self.seed_generator)
            return z_mean + lib.ops.exp(0.5 * z_log_var) * epsilon
    return Sampling


def _vae_class(lib, tape):
    class VAE(lib.Model):
        def __init__(self, encoder, decoder, **kwargs):
            super().__init__(**kwargs)
            self.encoder = encoder
            self.decoder = decoder
            self.total_loss_tracker = lib.metrics.Mean(name="total_loss")
            self.reconstruction_loss_tracker = lib.metrics.Mean(name="reconstruction_loss")
            self.kl_loss_tracker = lib.metrics.Mean(name="kl_loss")

        @property
        def metrics(self):
            return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

        def train_step(self, data):
            o = lib.ops
            with tape() as t:
                z_mean, z_log_var, z = self.encoder(data)
                reconstruction = self.decoder(z)
                reconstruction_loss = o.mean(o.sum(lib.losses.binary_crossentropy(data, reconstruction), axis=(1, 2)))
                kl_loss = -0.5 * (1 + z_log_var - o.square(z_mean) - o.exp(z_log_var))
                kl_loss = o.mean(o.sum(kl_loss, axis=1))
                total_loss = reconstruction_loss + kl_loss
            grads = t.gradient(total_loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.total_loss_tracker.update_state(total_loss)
            self.reconstruction_loss_tracker.update_state(reconstruction_loss)
            self.kl_loss_tracker.update_state(kl_loss)
            return {"loss": self.total_loss_tracker.result(),
                    "reconstruction_loss": self.reconstruction_loss_tracker.result(),
                    "kl_loss": self.kl_loss_tracker.result()}
    return VAE


def test_keras_io_vae_as_written_trains_as_keras_with_the_same_epsilon(keras, monkeypatch):
    """glassnet's node draws SeedGenerator(1337)'s stream; Keras' keras.random.normal is made to
    return those same values (run eagerly, one call per step): two epochs of three steps, each
    epoch's three losses, then every weight."""
    import tensorflow as tf
    replay = gr.SeedGenerator(1337)
    encoder, decoder = _vae_parts(gn, _sampling_class(gn))
    k_encoder, k_decoder = _vae_parts(keras, _sampling_class(keras))
    # (after Keras drew its functional encoder symbolically: from here on its calls are eager)
    monkeypatch.setattr(keras.random, "normal", lambda shape, seed=None, **kw: tf.constant(
        gr.normal((int(shape[0]), int(shape[1])), seed=replay)))
    k_encoder.set_weights(encoder.get_weights())
    k_decoder.set_weights(decoder.get_weights())
    vae, k_vae = _vae_class(gn, gn.GradientTape)(encoder, decoder), _vae_class(keras, tf.GradientTape)(k_encoder, k_decoder)
    vae.compile(optimizer=gn.optimizers.Adam(1e-2, epsilon=1e-12))
    k_vae.compile(optimizer=keras.optimizers.Adam(1e-2, epsilon=1e-12), run_eagerly=True)
    images = (np.random.default_rng(0).random((12, 8, 8, 1)) > 0.6).astype(np.float32)
    # keras.io trains with fit(mnist_digits): the step gets the x batch itself
    mine = vae.fit(images, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    theirs = k_vae.fit(images, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    for key in ("loss", "reconstruction_loss", "kl_loss"):
        np.testing.assert_allclose(mine[key], theirs[key], rtol=1e-5, atol=1e-6, err_msg=key)
    assert replay.state.tolist() == [1337, 6]         # Keras drew once per step: so did glassnet's node
    node = [layer for layer in encoder.layers if type(layer).__name__ == "RandomDraw"][0]
    assert node.draw_seed.state.tolist() == [1337, 6]
    for mine, theirs in zip(encoder.get_weights() + decoder.get_weights(), k_encoder.get_weights() + k_decoder.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-5)
