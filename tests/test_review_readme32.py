"""README claims about nested models that the README review (readme32) made explicit."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Dense

X = np.random.default_rng(0).normal(size=(6, 5)).astype("float32")


def _weights_equal(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))


def _nested(outer_seed, with_input):
    inner = gn.Sequential([Dense(4), Dense(3)], seed=5)
    outer = gn.Sequential(([gn.Input((5,))] if with_input else []) + [inner, Dense(2)], seed=outer_seed)
    outer.predict(X, verbose=0)
    return outer, inner


def test_an_outer_model_built_on_its_first_data_keeps_the_inner_seeds_weights():
    # README: the inner model's seed gives its layers' initial weights where the outer model is
    # built on its first data ...
    _, inner = _nested(0, with_input=False)
    _, other = _nested(1, with_input=False)
    assert _weights_equal(inner.get_weights(), other.get_weights())


def test_an_outer_model_with_an_input_draws_an_unbuilt_inner_models_weights_from_its_seed():
    # ... and an outer model with Input first draws them from its own seed, as for the same
    # layers unnested
    outer, _ = _nested(0, with_input=True)
    flat = gn.Sequential([gn.Input((5,)), Dense(4), Dense(3), Dense(2)], seed=0)
    assert _weights_equal(outer.get_weights(), flat.get_weights())


def test_a_feature_model_of_a_nested_unbuilt_sequential_is_drawn_from_the_callers_input():
    enc = gn.Sequential([Dense(4, activation="relu", name="d0"), Dense(3)])
    inputs = gn.Input((5,))
    gn.Model(inputs, Dense(1)(enc(inputs)), seed=0)
    with pytest.raises(ValueError, match="not among the model's inputs"):
        gn.Model(enc.inputs, enc.layers[0].output)
    features = gn.Model(inputs, enc.layers[0].output)
    kernel, bias = enc.get_weights()[:2]
    np.testing.assert_allclose(features.predict(X, verbose=0), np.maximum(X @ kernel + bias, 0), atol=1e-6)
