"""Ports of keras.io code branching on ``training`` (glassnet._training_branch), compared with Keras
3.15 from the same weights: a branch reached through a function the flag is handed to (Swin's
``drop_path(x, self.drop_prob, training)``, a method of the block, ``super().call``)."""
import numpy as np
import pytest

import glassnet as gn


def _drop_path(lib, inputs, drop_prob, is_training, seed):
    """The Swin Transformer ports' drop_path (keras.io's Swin, Swin-Transformer-TF), in Keras 3's ops."""
    if (not is_training) or drop_prob == 0.0:
        return inputs
    keep_prob = 1.0 - drop_prob
    shape = (lib.ops.shape(inputs)[0],) + (1,) * (len(lib.ops.shape(inputs)) - 1)
    random_tensor = keep_prob + lib.random.uniform(shape, seed=seed)
    return lib.ops.divide(inputs, keep_prob) * lib.ops.floor(random_tensor)


def _swin_drop_path(lib):
    class DropPath(lib.layers.Layer):
        def __init__(self, drop_prob=None, **kwargs):
            super().__init__(**kwargs)
            self.drop_prob = drop_prob
            self.seed_generator = lib.random.SeedGenerator(7)

        def call(self, x, training=None):
            return _drop_path(lib, x, self.drop_prob, training, self.seed_generator)
    return DropPath


def test_swin_drop_path_handed_training_drops_in_training_as_keras(keras):
    """The flag handed to a function that tests it: glassnet drew the call once, for None, so fit
    never dropped a path (and model(x, training=True) gave x), where Keras drops."""
    n, rate = 4000, 0.3
    x = np.ones((n, 3), np.float32)
    for lib in (keras, gn):
        inputs = lib.Input((3,))
        model = lib.Model(inputs, _swin_drop_path(lib)(rate)(inputs))
        np.testing.assert_array_equal(np.asarray(model.predict(x, verbose=0)), x)
        out = np.asarray(model(x, training=True))
        assert (np.isclose(out, 0) | np.isclose(out, 1 / (1 - rate), rtol=1e-6)).all()
        dropped = (out[:, 0] == 0).mean()
        assert abs(dropped - rate) < 4.5 * np.sqrt(rate * (1 - rate) / n), (lib.__name__, dropped)


def _handing_blocks(lib):
    class Shifted(lib.layers.Layer):
        """The branch in a method of the block's."""
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = lib.layers.Dense(4, activation="tanh")

        def _augment(self, h, training):
            if training:
                h = h * 0.5 + 1.0
            return h

        def call(self, x, training=None):
            return self._augment(self.dense(x), training)

    class Base(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = lib.layers.Dense(4, activation="tanh")

        def call(self, x, training=None):
            h = self.dense(x)
            return h * 0.5 + 1.0 if training else h

    class Child(Base):
        """The branch in the parent's call."""
        def call(self, x, training=None):
            return super().call(x, training=training) - 0.25
    return {"method": Shifted, "super": Child}


@pytest.mark.parametrize("where", ["method", "super"])
def test_branch_behind_a_method_or_super_call_trains_as_keras(keras, where):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 3)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")
    made = []
    for lib in (keras, gn):
        inputs = lib.Input((3,))
        model = lib.Model(inputs, lib.layers.Dense(2)(_handing_blocks(lib)[where]()(inputs)))
        model.compile(loss="mse", optimizer=lib.optimizers.SGD(0.1))
        made.append(model)
    theirs, mine = made
    mine.set_weights(theirs.get_weights())
    np.testing.assert_allclose(mine.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    np.testing.assert_allclose(np.asarray(mine(x, training=True)), np.asarray(theirs(x, training=True)), atol=1e-5)
    kh = theirs.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0).history["loss"]
    gh = mine.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(gh, kh, rtol=1e-5)
    np.testing.assert_allclose(mine.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)


def _color_affine(lib):
    class FixedColorAffine(lib.layers.Layer):
        """keras.io's RandomColorAffine (semi-supervised contrastive learning) with its draws fixed:
        its call defaults to training=True."""
        def __init__(self, brightness=0.25, jitter=0.5, **kwargs):
            super().__init__(**kwargs)
            self.brightness, self.jitter = brightness, jitter

        def call(self, images, training=True):
            if training:
                images = images * (1 - self.jitter) + self.brightness
                images = lib.ops.clip(images, 0, 1)
            return images
    return FixedColorAffine


def test_block_whose_call_defaults_to_training_true_runs_it_called_alone_as_keras(keras):
    """Keras runs call with its own default when given no flag: the block called alone on images
    (keras.io's visualize_augmentations) gives its training branch; predict and training=False not."""
    images = np.random.default_rng(1).uniform(size=(4, 5, 5, 3)).astype("float32")
    for given in ({}, {"training": False}, {"training": True}):
        expected = np.asarray(_color_affine(keras)()(images, **given))
        np.testing.assert_allclose(np.asarray(_color_affine(gn)()(images, **given)), expected, atol=1e-6)
    np.testing.assert_allclose(_color_affine(gn)().predict(images, verbose=0), images, atol=1e-6)
