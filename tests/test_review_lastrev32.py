"""Review of 624b2ed..b761c54: a Model subclass not drawn yet, called inside a functional Model on a
dict that is not one of symbolic tensors only (an array beside a tensor, a nested dict or list), was
refused as "takes the keys [], got [...]" or as data to draw from ("a dict does not say the order of
call's inputs"); it now names the value that is not one tensor."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers


class _Select(gn.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.mix = L.Dense(2)

    def call(self, inputs):
        return self.mix(L.concatenate([inputs["a"], inputs["b"]]))


def test_a_dict_mixing_a_tensor_and_an_array_names_the_array():
    inputs = {"a": gn.Input((2,), name="a")}
    with pytest.raises(TypeError, match=r"each value must be one symbolic tensor.*got 'b': array"):
        _Select()({"a": inputs["a"], "b": np.ones((1, 1), "float32")})


@pytest.mark.parametrize("nest", [lambda a, b: {"g": {"a": a, "b": b}}, lambda a, b: {"g": [a, b]}])
def test_a_dict_nesting_tensors_is_refused_as_a_drawn_call_naming_its_key(nest):
    a, b = gn.Input((2,), name="a"), gn.Input((1,), name="b")
    with pytest.raises(TypeError, match=r"each value must be one symbolic tensor.*got 'g'"):
        _Select()(nest(a, b))


def test_a_flat_dict_of_tensors_still_draws():
    inputs = {"a": gn.Input((2,), name="a"), "b": gn.Input((1,), name="b")}
    model = gn.Model(inputs, _Select()(inputs), seed=0)
    assert model.predict({"a": np.ones((3, 2)), "b": np.ones((3, 1))}).shape == (3, 2)
