"""Sequential.count_params() before build and build() with no shape, as Keras 3.15 has them."""
import pytest

import glassnet as gn
from glassnet import layers


def test_count_params_of_an_unbuilt_model_is_refused_not_zero():
    model = gn.Sequential([layers.Dense(3)])
    with pytest.raises(ValueError, match="count_params: the model is not built"):
        model.count_params()
    model.build((None, 4))
    assert model.count_params() == 4 * 3 + 3


def test_build_without_a_shape_takes_the_input_or_the_built_shape():
    model = gn.Sequential([gn.Input((4,)), layers.Dense(3)])
    model.build()
    assert model.count_params() == 15 and model.input_shape == (None, 4)
    again = gn.Sequential([layers.Dense(2)])
    again.build((None, 5))
    weights = again.get_weights()
    again.build()                                   # nothing to change: the same shape, same weights
    assert again.input_shape == (None, 5)
    assert all((a == b).all() for a, b in zip(weights, again.get_weights()))


def test_build_without_a_shape_or_an_input_says_what_to_give():
    with pytest.raises(ValueError, match="build: input_shape is required"):
        gn.Sequential([layers.Dense(3)]).build()
