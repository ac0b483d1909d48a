"""Review by porting keras.io's CycleGAN (generators G: X -> Y and F: Y -> X, discriminators DX, DY;
LSGAN, cycle and identity losses; Adam(2e-4, 0.5)) at 8x8x1 to glassnet's train_step, against
Keras 3.15 running the example's own GradientTape step from the same weights on the same batches.

Found: glassnet's combined model (shared generators in several paths, frozen discriminators) gives
exactly the gradients of its summed loss (Keras' tape over the sum), but keras.io's step takes each
generator's gradient of its own total loss only, so the port needs a stop-gradient on the cycle
paths; the README now shows it (and that a Lambda cannot be that layer)."""
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn

README = Path(__file__).resolve().parents[1] / "docs" / "guide" / "custom_training.md"     # the port moved there from the README


def _generator(lib, **seeded):
    """(8, 8, 1) -> (8, 8, 1): downsample, instance norm, upsample (no bias before the norm: its
    gradient is rounding noise, which Adam's first step blows up to the learning rate)."""
    L = lib.layers
    return lib.Sequential([lib.Input((8, 8, 1)), L.Conv2D(4, 3, strides=2, padding="same", use_bias=False),
                           L.GroupNormalization(groups=-1), L.ReLU(),
                           L.Conv2DTranspose(1, 3, strides=2, padding="same", activation="tanh")], **seeded)


def _discriminator(lib, **seeded):
    """(8, 8, 1) -> (4, 4, 1) patch scores."""
    L = lib.layers
    return lib.Sequential([lib.Input((8, 8, 1)), L.Conv2D(4, 4, strides=2, padding="same"),
                           L.LeakyReLU(negative_slope=0.2), L.Conv2D(1, 4, padding="same")], **seeded)


def _four(lib, like=None):
    models = [_generator(lib, **({"seed": 1} if lib is gn else {})), _generator(lib, **({"seed": 2} if lib is gn else {})),
              _discriminator(lib, **({"seed": 3} if lib is gn else {})), _discriminator(lib, **({"seed": 4} if lib is gn else {}))]
    if like is not None:
        for model, weights in zip(models, like):
            model.set_weights(weights)
    return models


def _images(n=12):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (n, 8, 8, 1)).astype(np.float32)
    return x, np.tanh(2 * x + 0.3).astype(np.float32)


def _keras_cyclegan(keras):
    """keras.io's CycleGan, its train_step as written there (tf.GradientTape)."""
    import tensorflow as tf

    mse, mae = keras.losses.MeanSquaredError(), keras.losses.MeanAbsoluteError()

    class CycleGan(keras.Model):
        def __init__(self, gen_G, gen_F, disc_X, disc_Y, lambda_cycle=10.0, lambda_identity=0.5):
            super().__init__()
            self.gen_G, self.gen_F, self.disc_X, self.disc_Y = gen_G, gen_F, disc_X, disc_Y
            self.lambda_cycle, self.lambda_identity = lambda_cycle, lambda_identity

        def compile(self, *optimizers):
            super().compile()
            self.optimizers_ = optimizers

        def train_step(self, batch_data):
            real_x, real_y = batch_data
            with tf.GradientTape(persistent=True) as tape:
                fake_y, fake_x = self.gen_G(real_x, training=True), self.gen_F(real_y, training=True)
                cycled_x, cycled_y = self.gen_F(fake_y, training=True), self.gen_G(fake_x, training=True)
                same_x, same_y = self.gen_F(real_x, training=True), self.gen_G(real_y, training=True)
                disc_real_x, disc_fake_x = self.disc_X(real_x, training=True), self.disc_X(fake_x, training=True)
                disc_real_y, disc_fake_y = self.disc_Y(real_y, training=True), self.disc_Y(fake_y, training=True)
                total_loss_G = (mse(tf.ones_like(disc_fake_y), disc_fake_y)
                                + mae(real_y, cycled_y) * self.lambda_cycle
                                + mae(real_y, same_y) * self.lambda_cycle * self.lambda_identity)
                total_loss_F = (mse(tf.ones_like(disc_fake_x), disc_fake_x)
                                + mae(real_x, cycled_x) * self.lambda_cycle
                                + mae(real_x, same_x) * self.lambda_cycle * self.lambda_identity)
                disc_X_loss = (mse(tf.ones_like(disc_real_x), disc_real_x) + mse(tf.zeros_like(disc_fake_x), disc_fake_x)) * 0.5
                disc_Y_loss = (mse(tf.ones_like(disc_real_y), disc_real_y) + mse(tf.zeros_like(disc_fake_y), disc_fake_y)) * 0.5
            pairs = [(total_loss_G, self.gen_G), (total_loss_F, self.gen_F), (disc_X_loss, self.disc_X),
                     (disc_Y_loss, self.disc_Y)]
            grads = [tape.gradient(loss, model.trainable_variables) for loss, model in pairs]
            for optimizer, g, (_, model) in zip(self.optimizers_, grads, pairs):
                optimizer.apply_gradients(zip(g, model.trainable_variables))
            return {"G_loss": total_loss_G, "F_loss": total_loss_F, "D_X_loss": disc_X_loss, "D_Y_loss": disc_Y_loss}

    return CycleGan


def _readme_code():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("keras.io's CycleGAN (two generators"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    return code


# the README's port (a StopGradient layer on the cycle paths, one combined model, the fakes made
# before the generators' step) trains as keras.io's CycleGAN step does in Keras 3.15: the four
# losses of every epoch and every weight of the four models
def test_the_readme_cyclegan_port_trains_as_keras_io_cyclegan(keras):
    horses, zebras = _images()
    ours = _four(gn)
    start = [model.get_weights() for model in ours]
    theirs = _four(keras, like=start)
    CycleGan = _keras_cyclegan(keras)
    keras_gan = CycleGan(*theirs)
    keras_gan.compile(*(keras.optimizers.Adam(2e-4, beta_1=0.5) for _ in range(4)))
    keras_history = keras_gan.fit(horses, zebras, batch_size=4, epochs=2, shuffle=False, verbose=0).history

    code = _readme_code().replace("epochs=1)", "batch_size=4, epochs=2, shuffle=False, verbose=0)")
    namespace = {"gn": gn, "np": np, "gen_G": ours[0], "gen_F": ours[1], "disc_X": ours[2], "disc_Y": ours[3],
                 "horses": horses, "zebras": zebras}
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # nothing frozen by mistake, nothing to warn about
        exec(compile(code, str(README), "exec"), namespace)
    our_history = namespace["cycle_gan"].history.history
    assert sorted(our_history) == sorted(keras_history)
    for key in keras_history:
        np.testing.assert_allclose(our_history[key], keras_history[key], rtol=1e-5, err_msg=key)
    for mine, their in zip(ours, theirs):
        for a, b in zip(mine.get_weights(), their.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert not np.allclose(ours[0].get_weights()[0], start[0][0])      # G trained


# what the combined model of the six losses computes without the stop-gradients: the gradients of
# the summed loss through the generators' shared calls and past the frozen discriminators, as
# Keras 3.15's own combined model (D.trainable = False, shared nested models) gives them
def test_a_combined_model_of_shared_generators_and_frozen_discriminators_steps_as_keras(keras):
    horses, zebras = _images(4)
    start = [model.get_weights() for model in _four(gn)]
    results = []
    for lib in (gn, keras):
        G, F, DX, DY = models = _four(lib, like=start)
        DX.trainable = DY.trainable = False
        x, y = lib.Input((8, 8, 1)), lib.Input((8, 8, 1))
        fake_y, fake_x = G(x), F(y)
        combined = lib.Model([x, y], [DY(fake_y), DX(fake_x), F(fake_y), G(fake_x), G(y), F(x)])
        combined.compile(loss=["mse", "mse", "mae", "mae", "mae", "mae"], loss_weights=[1, 1, 10, 10, 5, 5],
                         optimizer=lib.optimizers.Adam(2e-4, beta_1=0.5))
        ones = np.ones((4, 4, 4, 1), np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            losses = [combined.train_on_batch([horses, zebras], [ones, ones, horses, zebras, zebras, horses])[0]
                      for _ in range(3)]
        results.append((losses, [w for model in models for w in model.get_weights()]))
    (our_losses, our_weights), (their_losses, their_weights) = results
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-5)
    for a, b in zip(our_weights, their_weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    for a, b in zip(our_weights[-8:], start[2] + start[3]):
        np.testing.assert_array_equal(a, b)         # the frozen discriminators did not move


# a Lambda, the first thing a Keras user reaches for as tf.stop_gradient, is refused there by name
# (it cannot pass a gradient, not even zeros), before any weight moves
def test_a_lambda_on_a_cycle_path_is_refused_before_training():
    G, F = _generator(gn, seed=1), _generator(gn, seed=2)
    x = gn.Input((8, 8, 1))
    combined = gn.Model(x, [G(x), F(gn.layers.Lambda(lambda t: t)(G(x)))])
    combined.compile(loss=["mae", "mae"], optimizer="adam")
    before = G.get_weights()
    images = _images(2)[0]
    with pytest.raises(NotImplementedError, match=r"Lambda cannot pass a gradient back.*write a Layer"):
        combined.train_on_batch(images, [images, images])
    assert all(np.array_equal(a, b) for a, b in zip(before, G.get_weights()))
