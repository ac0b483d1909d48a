"""Review of the day's additions: a History reused across fits drawn by plot.learning_curve,
Constant's array values, the channels-first global poolings' messages."""
import json

import numpy as np
import pytest

import glassnet as gn


def _fitted_twice(rng, validation_second=False):
    x = rng.standard_normal((16, 3)).astype(np.float32)
    y = rng.standard_normal((16, 1)).astype(np.float32)
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    history = gn.callbacks.History()
    model.fit(x, y, epochs=2, callbacks=[history], verbose=0)
    model.fit(x, y, epochs=5, initial_epoch=2, callbacks=[history], verbose=0,
              validation_data=(x, y) if validation_second else None)
    return history


def test_learning_curve_of_a_history_given_to_two_fits_draws_its_values_at_epochs_1_to_n(rng):
    pytest.importorskip("matplotlib")
    from glassnet import plot
    history = _fitted_twice(rng)
    # Keras 3: epoch lists the last fit's epochs, the lists every fit's values
    assert history.epoch == [2, 3, 4] and len(history.history["loss"]) == 5
    fig = plot.learning_curve(history)
    # were 3..7: the last fit's first epoch shifted the first fit's values too
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_xdata(), [1, 2, 3, 4, 5])


def test_learning_curve_places_the_last_fits_validation_after_the_earlier_fits(rng):
    pytest.importorskip("matplotlib")
    from glassnet import plot
    history = _fitted_twice(rng, validation_second=True)
    fig = plot.learning_curve(history)
    train, validation = fig.axes[0].lines[:2]
    np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3, 4, 5])
    # the validation values are the second fit's, after its epochs 3, 4, 5 (were drawn at 1, 2, 3)
    np.testing.assert_array_equal(validation.get_xdata(), [3, 4, 5])


def test_constant_takes_a_0d_array_as_keras_does():
    init = gn.initializers.Constant(np.array(0.5))
    np.testing.assert_array_equal(init((2,), np.random.default_rng(0), np.float32), [0.5, 0.5])
    assert json.loads(json.dumps(init.get_config())) == {"value": 0.5}


@pytest.mark.parametrize("value", [[[1.0, 2.0], [3.0]], {"class_name": "__numpy__", "config": [1.0]}])
def test_constant_refuses_ragged_lists_and_malformed_numpy_entries_by_name(value):
    with pytest.raises(ValueError, match="Constant: value"):
        gn.initializers.Constant(value)


def test_channels_first_global_pooling_errors_show_the_callers_layout():
    layer = gn.layers.GlobalAveragePooling2D(data_format="channels_first")
    with pytest.raises(ValueError, match=r"got input of shape \(2, 3, 0, 4\)"):
        layer(np.ones((2, 3, 0, 4), np.float32))
    with pytest.raises(ValueError, match=r"\(batch, channels, height, width\)"):
        gn.layers.GlobalMaxPooling2D(data_format="channels_first")(np.ones((2, 3, 4), np.float32))
