"""Keras 3's custom training step on a subclass of Model (glassnet.own_steps): the "Customizing
what happens in fit" guide's GAN, ported as sub-models stepped by train_on_batch, against Keras
3.15's own (GradientTape) step; fit's machinery around the step (batches, metrics reset, logs,
callbacks, validation by test_step) and what stays refused."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L

LATENT = 3


def _noise_then_labels(noise, n):
    """The step's random draws, in order, from ``noise`` (a NumPy generator both libraries share
    the seed of): the generator's latent vectors, the labels' noise, the combined step's latents.
    Labels: Keras' guide adds 0.05 * uniform to ones and zeros; glassnet's binary_crossentropy
    refuses targets above 1, so both take 0.95 * label + 0.05 * uniform (in [0, 1])."""
    z = noise.normal(size=(n, LATENT)).astype(np.float32)
    labels = np.concatenate([np.ones((n, 1)), np.zeros((n, 1))]).astype(np.float32)
    labels = (0.95 * labels + 0.05 * noise.uniform(size=labels.shape)).astype(np.float32)
    return z, labels, noise.normal(size=(n, LATENT)).astype(np.float32)


class GAN(gn.Model):
    """The guide's GAN, ported: D compiled; combined = Sequential([G, D]) with its own optimizer;
    D unfrozen for its step, frozen for the combined model's. ``noise``: the seeded draws."""

    def __init__(self, discriminator, generator, noise):
        super().__init__()
        self.discriminator, self.generator, self.noise = discriminator, generator, noise
        self.d_loss_tracker = gn.metrics.Mean(name="d_loss")
        self.g_loss_tracker = gn.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.discriminator.compile(loss=loss_fn, optimizer=d_optimizer)
        self.combined = gn.Sequential([self.generator, self.discriminator])
        self.combined.compile(loss=loss_fn, optimizer=g_optimizer)

    def train_step(self, real_images):
        n = len(real_images)
        z, labels, z2 = _noise_then_labels(self.noise, n)
        generated = self.generator.predict(z, verbose=0)
        self.discriminator.trainable = True
        d_loss = self.discriminator.train_on_batch(np.concatenate([generated, real_images]), labels)
        self.discriminator.trainable = False        # the generator's step: D frozen in combined
        g_loss = self.combined.train_on_batch(z2, np.zeros((n, 1), np.float32))
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def _models(lib, **seeded):
    G = lib.Sequential([lib.Input((LATENT,)), lib.layers.Dense(8), lib.layers.LeakyReLU(negative_slope=0.2),
                        lib.layers.Dense(4, activation="tanh")], **seeded)
    D = lib.Sequential([lib.Input((4,)), lib.layers.Dense(8), lib.layers.LeakyReLU(negative_slope=0.2),
                        lib.layers.Dense(1)], **seeded)
    return G, D


def _adam(lib):
    # epsilon ~0: Keras adds it before Adam's bias correction, glassnet (PyTorch) after it
    return lib.optimizers.Adam(0.01, 0.5, epsilon=1e-10)


def _gan(seed=0, noise_seed=7):
    G, D = _models(gn, seed=seed)
    gan = GAN(D, G, np.random.default_rng(noise_seed))
    gan.compile(_adam(gn), _adam(gn), gn.losses.BinaryCrossentropy(from_logits=True))
    return gan


def _real(n=24):
    return np.random.default_rng(0).uniform(-1, 1, size=(n, 4)).astype(np.float32)


def _keras_gan(keras, generator, discriminator, noise):
    import tensorflow as tf

    class KGAN(keras.Model):            # the guide's, its random draws from the shared NumPy seed
        def __init__(self):
            super().__init__()
            self.discriminator, self.generator = discriminator, generator
            self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
            self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

        @property
        def metrics(self):
            return [self.d_loss_tracker, self.g_loss_tracker]

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile(run_eagerly=True)       # eager: the NumPy draws run at every step
            self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn

        def train_step(self, real_images):
            n = int(real_images.shape[0])
            z, labels, z2 = _noise_then_labels(noise, n)
            combined_images = tf.concat([self.generator(z), real_images], axis=0)
            with tf.GradientTape() as tape:
                d_loss = self.loss_fn(labels, self.discriminator(combined_images))
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
            with tf.GradientTape() as tape:
                g_loss = self.loss_fn(np.zeros((n, 1), np.float32), self.discriminator(self.generator(z2)))
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    gan = KGAN()
    gan.compile(_adam(keras), _adam(keras), keras.losses.BinaryCrossentropy(from_logits=True))
    return gan


def test_the_guides_gan_trains_as_keras(keras):
    gan = _gan()
    G, D = _models(keras)
    G.set_weights(gan.generator.get_weights())
    D.set_weights(gan.discriminator.get_weights())
    kgan = _keras_gan(keras, G, D, np.random.default_rng(7))
    theirs = kgan.fit(_real(), epochs=3, batch_size=8, shuffle=False, verbose=0).history
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # glassnet: nothing to warn about
        ours = gan.fit(_real(), epochs=3, batch_size=8, shuffle=False, verbose=0).history
    assert sorted(ours) == sorted(theirs) == ["d_loss", "g_loss"]
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5)
    for mine, their in zip(gan.generator.get_weights() + gan.discriminator.get_weights(),
                           G.get_weights() + D.get_weights()):
        np.testing.assert_allclose(mine, their, rtol=1e-4, atol=1e-5)
    assert not np.allclose(gan.generator.get_weights()[0], _models(gn, seed=0)[0].get_weights()[0])   # G trained


def test_fit_runs_the_same_steps_as_train_on_batch_by_hand():
    gan, by_hand = _gan(), _gan()
    history = gan.fit(_real(), epochs=2, batch_size=8, shuffle=False, verbose=0).history
    real, noise, logs = _real(), by_hand.noise, []
    for _ in range(2):
        d_losses, g_losses = [], []
        for b in range(3):
            batch = real[b * 8:(b + 1) * 8]
            z, labels, z2 = _noise_then_labels(noise, 8)
            generated = by_hand.generator.predict(z, verbose=0)
            by_hand.discriminator.trainable = True
            d_losses.append(by_hand.discriminator.train_on_batch(np.concatenate([generated, batch]), labels))
            by_hand.discriminator.trainable = False
            g_losses.append(by_hand.combined.train_on_batch(z2, np.zeros((8, 1), np.float32)))
        logs.append((np.mean(d_losses), np.mean(g_losses)))
    np.testing.assert_allclose(history["d_loss"], [d for d, _ in logs], rtol=1e-6)
    np.testing.assert_allclose(history["g_loss"], [g for _, g in logs], rtol=1e-6)
    for a, b in zip(gan.generator.get_weights() + gan.discriminator.get_weights(),
                    by_hand.generator.get_weights() + by_hand.discriminator.get_weights()):
        np.testing.assert_array_equal(a, b)         # the same NumPy calls: bit for bit


class Recorder(gn.Model):
    """Records the data each step gets; logs a running Mean of x's first value and the step count."""

    def __init__(self):
        super().__init__()
        self.seen, self.tested, self.tracker = [], [], gn.metrics.Mean(name="first")

    @property
    def metrics(self):
        return [self.tracker]

    def train_step(self, data):
        self.seen.append(data)
        x = data[0] if isinstance(data, tuple) else data
        self.tracker.update_state(float(x[0, 0]))
        return {"first": self.tracker.result(), "nested": {"count": np.float32(len(self.seen))}}

    def test_step(self, data):
        self.tested.append(data)
        self.tracker.update_state(-1.0)
        return {"first": self.tracker.result()}


def test_data_is_what_keras_hands_a_step_and_metrics_reset_each_epoch():
    model = Recorder()
    model.compile()
    x = np.arange(12, dtype=np.float64).reshape(6, 2)
    history = model.fit(x, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    assert isinstance(model.seen[0], np.ndarray) and model.seen[0].dtype == np.float32    # Keras' floatx
    np.testing.assert_array_equal(model.seen[1], x[4:])
    # the epoch's logs: the last step's (a running mean of batches 0 and 1, reset at each epoch),
    # nested dicts flattened, keys sorted (Keras' pythonify_logs)
    assert history == {"count": [2.0, 4.0], "first": [4.0, 4.0]}
    model.seen.clear()
    y, w = np.ones(6), np.full(6, 2.0)
    model.fit(x, y, sample_weight=w, epochs=1, batch_size=3, shuffle=False, verbose=0)
    xb, yb, wb = model.seen[0]
    np.testing.assert_array_equal(xb, x[:3])
    np.testing.assert_array_equal(yb, y[:3])
    np.testing.assert_array_equal(wb, w[:3])
    model.seen.clear()
    model.fit(x, y, epochs=1, batch_size=6, verbose=0)
    assert isinstance(model.seen[0], tuple) and len(model.seen[0]) == 2


def test_shuffled_epochs_and_batches_from_a_generator():
    model = Recorder()
    model.compile()
    x = np.arange(16, dtype=np.float32).reshape(8, 2)
    model.fit(x, epochs=2, batch_size=4, verbose=0)            # shuffled: every sample once per epoch
    for epoch in (model.seen[:2], model.seen[2:]):
        assert sorted(np.concatenate(epoch)[:, 0]) == list(x[:, 0])
    model.seen.clear()
    batches = ((x[i:i + 2], x[i:i + 2, :1]) for i in range(0, 8, 2))
    model.fit(batches, epochs=1, verbose=0)
    assert len(model.seen) == 4 and all(isinstance(d, tuple) for d in model.seen)
    model.seen.clear()
    model.fit(_OnlyX(x), epochs=1, shuffle=False, verbose=0)
    assert len(model.seen) == 4 and isinstance(model.seen[0], np.ndarray)      # (x,): x alone, as Keras'


class _OnlyX(gn.utils.PyDataset):
    def __init__(self, x):
        super().__init__()
        self.x = x

    def __len__(self):
        return 4

    def __getitem__(self, index):
        return (self.x[2 * index:2 * index + 2],)


def test_callbacks_get_the_steps_logs(tmp_path):
    model = Recorder()
    model.compile()
    seen = []
    callback = gn.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append((b, dict(logs))),
                                           on_epoch_begin=lambda e, logs: seen.append(("begin", e)))
    csv = tmp_path / "log.csv"
    model.fit(np.arange(8.0).reshape(4, 2), epochs=2, batch_size=2, shuffle=False, verbose=0,
              callbacks=[callback, gn.callbacks.CSVLogger(str(csv))])
    assert seen[:3] == [("begin", 0), (0, {"count": 1.0, "first": 0.0}), (1, {"count": 2.0, "first": 2.0})]
    assert seen[4] == (0, {"count": 3.0, "first": 0.0})         # reset at the epoch's start
    assert csv.read_text().splitlines()[:2] == ["epoch,count,first,val_count,val_first", "0,2.0,2.0,NA,NA"]


def test_early_stopping_on_g_loss():
    gan = _gan()
    stopper = gn.callbacks.EarlyStopping("g_loss", patience=0, mode="max")
    history = gan.fit(_real(), epochs=20, batch_size=8, shuffle=False, verbose=0, callbacks=[stopper])
    g = history.history["g_loss"]
    assert len(g) < 20 and g[-1] <= max(g[:-1])          # stopped at the first epoch not above the best
    assert stopper.stopped_epoch == len(g) - 1


def test_validation_runs_test_step_and_evaluate_too():
    model = Recorder()
    model.compile()
    x = np.arange(8.0).reshape(4, 2)
    history = model.fit(x, epochs=2, batch_size=2, shuffle=False, verbose=0, validation_data=x[:3],
                        validation_batch_size=2).history
    assert history["val_first"] == [-1.0, -1.0] and len(model.tested) == 4
    np.testing.assert_array_equal(model.tested[1], x[2:3])
    assert model.evaluate(x, np.ones(4), batch_size=4, return_dict=True) == {"first": -1.0}
    assert isinstance(model.tested[-1], tuple)
    assert model.evaluate(x) == -1.0
    model.fit(x, epochs=1, validation_split=0.5, batch_size=2, verbose=0)
    np.testing.assert_array_equal(model.tested[-1], x[2:])


def test_validation_and_evaluate_without_test_step_are_refused_by_name():
    gan = _gan()
    with pytest.raises(NotImplementedError, match="validation_data: GAN defines train_step but no test_step"):
        gan.fit(_real(), validation_data=_real(), verbose=0)
    with pytest.raises(NotImplementedError, match="evaluate: GAN defines train_step but neither test_step nor call"):
        gan.evaluate(_real())
    with pytest.raises(TypeError, match="GAN: has no call"):
        gan.predict(np.zeros((2, LATENT)))


def test_saving_callbacks_are_refused_at_fits_start(tmp_path):
    gan = _gan()
    before = gan.generator.get_weights()
    for callback in (gn.callbacks.ModelCheckpoint(str(tmp_path / "gan.npz")),
                     gn.callbacks.BackupAndRestore(str(tmp_path / "backup")),
                     gn.callbacks.EarlyStopping("g_loss", restore_best_weights=True)):
        with pytest.raises(ValueError, match=r"callbacks: .* GAN has none of its own.*save the sub-models"):
            gan.fit(_real(), verbose=0, callbacks=[callback])
    assert all(np.array_equal(a, b) for a, b in zip(before, gan.generator.get_weights()))      # before any step
    with pytest.raises(ValueError, match="save_model: GAN has no call"):
        gan.save(str(tmp_path / "gan.npz"))


def test_a_step_returning_no_dict_or_a_metric_is_refused_by_name():
    class Bad(gn.Model):
        def train_step(self, data):
            return self.returns

    model = Bad()
    model.compile()
    for returned, message in ((1.5, r"Bad.train_step: must return a dict of logs.*got float"),
                              ({"m": gn.metrics.Mean()}, r"logs\['m'\] is a Metric object.*result\(\)"),
                              ({"v": np.ones(3)}, r"logs\['v'\] must be one number")):
        model.returns = returned
        with pytest.raises(TypeError, match=message):
            model.fit(np.ones((4, 2)), verbose=0)


def test_compile_without_loss_for_a_train_step_only():
    model = Recorder()
    with pytest.raises(ValueError, match=r"fit: call compile\(\) first"):
        model.fit(np.ones((4, 2)), verbose=0)
    model.compile(optimizer="adam", metrics=["mae"])         # what compile takes is kept
    assert isinstance(model.optimizer, gn.optimizers.Adam) and model.loss is None
    inputs = gn.Input((2,))
    plain = gn.Model(inputs, L.Dense(1)(inputs))
    with pytest.raises(TypeError, match=r"Model.compile\(\) missing 1 required positional argument: 'loss'"):
        plain.compile()
    with pytest.raises(TypeError, match=r"compile\(\) missing 1 required positional argument: 'loss'"):
        gn.Sequential([L.Dense(1)]).compile()


def test_a_model_without_train_step_or_call_is_refused_as_before():
    class Nothing(gn.Model):
        pass

    with pytest.raises(TypeError, match=r"subclass Model and define call"):
        Nothing()

    class OnlyTest(gn.Model):
        def test_step(self, data):
            return {}

    with pytest.raises(TypeError, match=r"subclass Model and define call"):
        OnlyTest()      # (with call, Keras' default train_step runs: tests/test_default_steps.py)

    class Predicts(gn.Model):
        def train_step(self, data):
            return {}

        def predict_step(self, data):
            return data

    assert Predicts()._own_predicts      # run by predict (tests/test_default_steps.py)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")        # NaN arithmetic in the loss
def test_terminate_on_nan_ends_a_step_whose_sub_model_diverges(capsys):
    gan = _gan()
    gan.discriminator.layers[0].params["kernel"][...] = np.nan
    history = gan.fit(_real(), epochs=3, batch_size=8, verbose=0, callbacks=[gn.callbacks.TerminateOnNaN()])
    assert history.history == {} and "terminating training" in capsys.readouterr().out
    with pytest.raises(gn.errors.NonFiniteError, match=r"epoch 1, batch 1 \(GAN.train_step\)"):
        gan.fit(_real(), epochs=1, verbose=0)


def test_the_readme_gan_runs_as_written():
    import re
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "docs" / "guide" / "custom_training.md").read_text(encoding="utf-8")
    section = text[text.index("Keras 3's GAN subclass with a `train_step`"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace = {"np": np, "gn": gn, "images": _real(32),       # the guide leaves the data and models to you
                 "generator": gn.Sequential([gn.Input((128,)), L.Dense(4, activation="tanh")], seed=0),
                 "discriminator": gn.Sequential([gn.Input((4,)), L.Dense(1)], seed=1)}
    exec(compile(code.replace("epochs=20", "epochs=2, verbose=0"), "docs/guide/custom_training.md", "exec"), namespace)
    assert len(namespace["gan"].history.history["g_loss"]) == 2


@pytest.mark.parametrize("step", ["train_step", "test_step", "compute_loss"])
def test_a_sequential_subclass_defining_a_keras_step_runs_it(step):
    # refused by name before (a Sequential's fit ran its own step); now run as a Model subclass's
    # (tests/test_augdef.py compares keras.io's guide on a Sequential subclass with Keras 3.15)
    called = []

    def own(self, *args, **kwargs):
        called.append(step)
        if step == "compute_loss":
            return gn.Sequential.compute_loss(self, *args, **kwargs)
        return {"loss": 0.0}

    model = type("MySequential", (gn.Sequential,), {step: own})([gn.Input((2,)), gn.layers.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    x = np.ones((4, 2), np.float32)
    (model.evaluate if step == "test_step" else model.fit)(x, x[:, :1], verbose=0)
    assert called and set(called) == {step}


def test_a_functional_subclass_with_train_step_compiles_per_output_losses_as_any_model(rng):
    # Sub(inputs, outputs) has layers of its own: compile takes one loss per output and loss_weights,
    # as for any model, and its train_step's train_on_batch trains on them (the step's own compile,
    # for Keras' GAN without layers, took one loss and refused loss_weights)
    class Sub(gn.Model):
        def train_step(self, data):
            x, y = data
            return self.train_on_batch(x, y, return_dict=True)

    def model():
        inp = gn.Input((3,))
        outputs = [L.Dense(1, name="a")(inp), L.Dense(2, activation="softmax", name="b")(inp)]
        return inp, outputs
    sub, plain = Sub(*model(), seed=0), gn.Model(*model(), seed=0)
    x, y = rng.random((16, 3)), [rng.random((16, 1)), rng.integers(0, 2, 16)]
    for each in (sub, plain):
        each.compile(loss=["mse", "sparse_categorical_crossentropy"], loss_weights=[1.0, 0.5], optimizer="sgd",
                     metrics=[["mae"], ["accuracy"]])

    class Batches(gn.utils.PyDataset):        # several outputs: batch by batch (the step's arrays are one array)
        def __len__(self):
            return 2

        def __getitem__(self, i):
            part = slice(8 * i, 8 * i + 8)
            return x[part], [y[0][part], y[1][part]]
    history = sub.fit(Batches(), epochs=2, verbose=0, shuffle=False)
    plain.fit(Batches(), epochs=2, verbose=0, shuffle=False)
    assert sorted(history.history) == ["a_loss", "a_mae", "b_accuracy", "b_loss", "loss"]
    for a, b in zip(sub.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert sub.evaluate(x, y, return_dict=True) == plain.evaluate(x, y, return_dict=True)
