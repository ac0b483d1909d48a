"""Keras' keras.backend.epsilon() and floatx() as glassnet.backend's."""
import numpy as np
import pytest

import glassnet as gn


def test_epsilon_and_floatx_are_keras_defaults():
    keras = pytest.importorskip("keras")
    assert gn.backend.epsilon() == keras.backend.epsilon() == keras.config.epsilon()
    assert gn.backend.floatx() == keras.config.floatx()


def test_floatx_is_the_dtype_a_model_computes_in_by_default():
    model = gn.Sequential([gn.Input((2,)), gn.layers.Dense(1)])
    assert model.predict(np.ones((1, 2))).dtype == np.dtype(gn.backend.floatx())


def test_epsilon_is_the_clip_of_the_losses():
    # binary cross-entropy of an output of exactly 0 for a target 1: -log(epsilon)
    loss = gn.losses.BinaryCrossentropy()
    value = loss(np.zeros((1, 1)), np.ones((1, 1)))
    assert value == pytest.approx(-np.log(gn.backend.epsilon()), rel=1e-6)
