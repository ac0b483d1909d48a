"""Input's Keras 3.15 keywords batch_size and batch_shape: recorded (batch_shape as Keras' input
tensor's shape), each bad value refused by name, and a model on such an Input builds and runs."""

import numpy as np
import pytest

import glassnet as gn


@pytest.mark.parametrize("kwargs", [dict(shape=(10,), batch_size=32), dict(batch_shape=(32, 10)),
                                    dict(batch_shape=(None, 4, 3)), dict(shape=(7,))])
def test_batch_shape_is_keras_input_shape(kwargs, keras):
    ours, theirs = gn.Input(**kwargs), keras.Input(**kwargs)
    assert ours.batch_shape == tuple(theirs.shape)
    assert ours.shape == tuple(theirs.shape[1:]) and ours.batch_size == theirs.shape[0]


def test_a_model_on_an_input_with_a_batch_size_builds_and_runs():
    x = np.ones((5, 10), dtype=np.float32)
    inputs = gn.Input(batch_shape=(32, 10))
    model = gn.Model(inputs, gn.layers.Dense(3)(inputs))
    assert model.predict(x, verbose=0).shape == (5, 3)          # recorded, not enforced
    seq = gn.Sequential([gn.Input((10,), batch_size=4), gn.layers.Dense(2)])
    assert seq.built and seq.predict(x, verbose=0).shape == (5, 2)


def test_a_stateful_rnn_takes_its_rows_from_its_first_batch_with_or_without_batch_size():
    x = np.random.default_rng(0).normal(size=(4, 3, 2)).astype(np.float32)
    model = gn.Sequential([gn.Input(batch_shape=(4, 3, 2)), gn.layers.SimpleRNN(5, stateful=True)], seed=0)
    model.predict(x, batch_size=4, verbose=0)
    with pytest.raises(ValueError, match="stateful=True"):
        model.predict(x[:3], batch_size=3, verbose=0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(shape=(3,), batch_shape=(2, 3)), r"^Input: give batch_shape=\(batch_size, \*shape\) or shape, not both"),
    (dict(batch_size=2, batch_shape=(2, 3)), r"^Input: give batch_shape=\(batch_size, \*shape\) or batch_size, not both"),
    (dict(batch_shape=(0, 3)), r"^Input: batch_shape\[0\] must be a whole number > 0 \(or None for any\), got 0"),
    (dict(shape=(3,), batch_size=2.5), r"^Input: batch_size must be a whole number > 0 .*got 2.5"),
    (dict(shape=(3,), batch_size=True), r"^Input: batch_size must be a whole number > 0 .*got True"),
    (dict(batch_shape=5), r"^Input: batch_shape must be a tuple \(batch_size, \*shape\).*got 5"),
])
def test_bad_values_are_refused_by_name(kwargs, message, keras):
    with pytest.raises(ValueError, match=message):
        gn.Input(**kwargs)
    if "batch_shape" in kwargs and len(kwargs) == 2:       # Keras refuses both together too
        with pytest.raises(ValueError):
            keras.Input(**kwargs)


def test_no_shape_at_all_is_refused_by_name():
    with pytest.raises(TypeError, match=r"^Input: missing the shape of one sample"):
        gn.Input()
