"""Review of today's new modules, ported from keras.io and compared with Keras 3.15 side by side."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


def _stochastic_depth(lib):
    class StochasticDepth(lib.layers.Layer):
        """keras.io's (ConvNeXt, CCT, Swin...), as written."""
        def __init__(self, drop_prop, **kwargs):
            super().__init__(**kwargs)
            self.drop_prob = drop_prop
            self.seed_generator = lib.random.SeedGenerator(1337)

        def call(self, x, training=None):
            if training:
                keep_prob = 1 - self.drop_prob
                shape = (lib.ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
                random_tensor = keep_prob + lib.random.uniform(shape, 0, 1, seed=self.seed_generator)
                random_tensor = lib.ops.floor(random_tensor)
                return (x / keep_prob) * random_tensor
            return x
    return StochasticDepth


def _drop_path_model(lib, layer):
    inputs = lib.Input((4, 4, 3))
    h = layer(lib.layers.Conv2D(3, 1)(inputs))
    return lib.Model(inputs, lib.layers.Dense(1)(lib.layers.Flatten()(h)), **({"seed": 0} if lib is gn else {}))


def test_a_call_branching_on_training_runs_its_training_branch_in_training_mode(keras):
    """keras.io's StochasticDepth drops whole samples in Keras' training mode; glassnet drew call
    once with training=None, so its model was the identity in fit too (it warned); now the call is
    drawn for both modes and the pass runs its own (glassnet._training_branch, tests/test_training_branch.py)."""
    x = np.random.default_rng(0).normal(size=(16, 4, 4, 3)).astype("float32")
    theirs = _drop_path_model(keras, _stochastic_depth(keras)(0.5))
    inferred = np.asarray(theirs(x, training=False))
    assert not np.allclose(np.asarray(theirs(x, training=True)), inferred)    # Keras: the branch is real
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = _drop_path_model(gn, _stochastic_depth(gn)(0.5))
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.predict(x, verbose=0), inferred, atol=1e-5)
    assert not np.allclose(np.asarray(ours(x, training=True)), inferred)    # glassnet: the branch is real too
    # Dropout with a per-sample noise_shape drops whole samples in training, scaled by 1 / keep, as keras.io's
    inputs = gn.Input((4, 4, 3))
    out = gn.layers.Dropout(0.5, noise_shape=(None, 1, 1, 1), seed=3)(inputs)
    dropped = gn.Model(inputs, out, seed=0)
    kept = np.asarray(dropped(x, training=True))
    scale = kept.reshape(len(x), -1) / x.reshape(len(x), -1)
    assert set(np.round(np.unique(scale), 5)) <= {0.0, 2.0} and 0 < (scale[:, 0] == 0).sum() < len(x)
    assert (scale == scale[:, :1]).all()
    np.testing.assert_array_equal(dropped.predict(x, verbose=0), x)


@pytest.mark.parametrize("body", ["pass_through", "none_default", "no_training"])
def test_a_call_reading_training_without_a_branch_is_drawn_once_without_warning(body):
    class Block(gn.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = gn.layers.Dense(3)
            self.drop = gn.layers.Dropout(0.5)

        if body == "pass_through":
            def call(self, x, training=None):
                return self.drop(self.dense(x), training=training)
        elif body == "none_default":
            def call(self, x, training=None):
                if training is None:
                    training = False
                return self.dense(x)
        else:
            def call(self, x):
                return ops.relu(self.dense(x)) if x is not None else x

    inputs = gn.Input((4,))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = gn.Model(inputs, Block()(inputs), seed=0)
    assert model.predict(np.ones((2, 4), np.float32), verbose=0).shape == (2, 3)
