"""Review by porting a Keras 2-style GAN (two compiled models sharing a frozen discriminator,
trained with train_on_batch) and Keras 3's subclassed GAN: bugs found."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L


def _gan(seed=0):
    """G (latent 2 -> 4) and D (4 -> 1, compiled), D frozen inside the combined model, as in Keras 2's
    GAN examples: ``D.trainable = False`` after ``D.compile``, then ``combined = Sequential([G, D])``."""
    G = gn.Sequential([gn.Input((2,)), L.Dense(4), L.BatchNormalization(momentum=0.8)], seed=seed)
    D = gn.Sequential([gn.Input((4,)), L.Dense(3), L.LeakyReLU(0.2), L.Dense(1, activation="sigmoid")], seed=seed + 1)
    D.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.0002, 0.5), metrics=["accuracy"])
    D.trainable = False
    combined = gn.Sequential([G, D])
    combined.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.0002, 0.5))
    return G, D, combined


# 1. a model every layer of which is frozen trained nothing, silently: the Keras 2 GAN loop ported
#    as is (D.trainable = False after D.compile) never trains D, since glassnet reads the flags at
#    every train_on_batch (Keras 3.15 does the same, but warns "does not have any trainable weights")
def test_training_a_model_with_nothing_trainable_warns_once():
    G, D, combined = _gan()
    x, y = np.random.default_rng(0).normal(size=(8, 4)), np.ones((8, 1))
    before = D.get_weights()
    with pytest.warns(UserWarning, match=r"train_on_batch: .*no trainable weights.*D\.trainable = True"):
        D.train_on_batch(x, y)
    assert all(np.array_equal(a, b) for a, b in zip(before, D.get_weights()))     # as Keras 3.15: no update
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # once, as Keras warns once per compiled step
        D.train_on_batch(x, y)
        combined.train_on_batch(np.zeros((8, 2)), y)     # G trains: no warning
        D.trainable = True                  # the way to train D in the loop: unfrozen for its own steps
        D.train_on_batch(x, y)
        D.trainable = False
    assert not all(np.array_equal(a, b) for a, b in zip(before, D.get_weights()))


def test_fit_of_a_frozen_model_warns():
    model = gn.Sequential([gn.Input((3,)), L.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    model.trainable = False
    with pytest.warns(UserWarning, match=r"fit: .*no trainable weights"):
        model.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=2, verbose=0)


# 2. Keras 3's subclassed GAN (train_step, no call: keras.io's DCGAN/WGAN-GP examples) was told to
#    define call, and then, once it did, that train_step is refused. fit now runs its train_step
#    (glassnet.own_steps, tests/test_train_step.py); what needs call is refused by name
def test_a_subclassed_gan_without_call_is_made_and_what_needs_call_is_refused():
    class GAN(gn.Model):
        def __init__(self, discriminator, generator):
            super().__init__()
            self.discriminator, self.generator = discriminator, generator

        def train_step(self, data):
            return {}

    G, D, _ = _gan()
    gan = GAN(D, G)
    with pytest.raises(TypeError, match=r"GAN: has no call.*gan.generator.predict"):
        gan.predict(np.zeros((2, 2)))


# the README's claim: so ported (D unfrozen for its own steps), the GAN trains as Keras 3.15's,
# whose traced train functions keep the flags of their first call
def test_the_ported_gan_loop_trains_as_keras(keras):
    rng = np.random.default_rng(0)
    real_data = rng.uniform(-1, 1, size=(64, 3, 3, 1)).astype(np.float32)

    def models(lib, **seeded):
        # (no bias before the BatchNormalization: its gradient is rounding noise, which Adam's steps
        # blow up to the learning rate, differently in each library)
        G = lib.Sequential([lib.Input((4,)), lib.layers.Dense(8, use_bias=False), lib.layers.LeakyReLU(negative_slope=0.2),
                            lib.layers.BatchNormalization(momentum=0.8), lib.layers.Dense(9, activation="tanh"),
                            lib.layers.Reshape((3, 3, 1))], **seeded)
        D = lib.Sequential([lib.Input((3, 3, 1)), lib.layers.Flatten(), lib.layers.Dense(8),
                            lib.layers.LeakyReLU(negative_slope=0.2), lib.layers.Dropout(0.0),
                            lib.layers.Dense(1, activation="sigmoid")], **seeded)
        # epsilon ~0: Keras adds it before Adam's bias correction, glassnet (PyTorch) after it
        D.compile(loss="binary_crossentropy", optimizer=lib.optimizers.Adam(0.01, 0.5, epsilon=1e-10),
                  metrics=["accuracy"])
        D.trainable = False
        z = lib.Input((4,))
        combined = lib.Model(z, D(G(z)))
        combined.compile(loss="binary_crossentropy", optimizer=lib.optimizers.Adam(0.01, 0.5, epsilon=1e-10))
        return G, D, combined

    def run(G, D, combined):
        logs, draws = [], np.random.default_rng(1)
        for _ in range(12):
            real = real_data[draws.integers(0, 64, 8)]
            fake = G.predict(draws.normal(size=(8, 4)).astype(np.float32), verbose=0)
            D.trainable = True
            logs += [*D.train_on_batch(real, np.ones((8, 1))), *D.train_on_batch(fake, np.zeros((8, 1)))]
            D.trainable = False
            logs.append(combined.train_on_batch(draws.normal(size=(8, 4)).astype(np.float32), np.ones((8, 1))))
        return np.array(logs), G.get_weights() + D.get_weights()

    ours, theirs = models(gn, seed=0), models(keras)
    for mine, their in zip(ours[:2], theirs[:2]):
        their.set_weights(mine.get_weights())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # Keras' "trainable state has changed since compile"
        their_logs, their_weights = run(*theirs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # glassnet: nothing to warn about
        our_logs, our_weights = run(*ours)
    np.testing.assert_allclose(our_logs, their_logs, rtol=1e-4, atol=1e-5)
    for mine, their in zip(our_weights, their_weights):
        np.testing.assert_allclose(mine, their, rtol=1e-4, atol=1e-5)
    untrained = models(gn, seed=0)[1].get_weights()
    assert not np.allclose(our_weights[-2], untrained[-2])         # D trained
