"""Review of a Sequential's symbolic tensors (glassnet._sequential_tensors) and dict inputs."""
import copy
import pickle

import numpy as np

import glassnet as gn

L = gn.layers


def _deep(n):
    return gn.Sequential([gn.Input((4,)), *[L.Dense(4) for _ in range(n)]], seed=0)


def test_a_layer_pickles_and_copies_without_the_graph_it_was_drawn_in():
    # each build draws the layers: a layer's first call leads back through every layer before it,
    # which pickling one layer dragged along (RecursionError past ~100 layers), as Keras does not
    model = _deep(300)
    last = model.layers[-1]
    alone = len(pickle.dumps(gn.layers.Dense(4)))
    assert len(pickle.dumps(last)) < 4 * alone
    copied = copy.deepcopy(last)
    np.testing.assert_array_equal(copied.params["kernel"], last.params["kernel"])
    assert last.output is model.outputs[0]           # the layer itself keeps it


def test_a_deep_sequential_of_another_ones_layers_pickles_and_copies(rng):
    # its draw's calls are not the layers' first ones (those are in the first model's draw)
    base = _deep(300)
    model = gn.Sequential([gn.Input((4,)), *base.layers, L.Dense(1)], seed=0)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    for copied in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model), copy.deepcopy(base)):
        np.testing.assert_array_equal(copied.predict(x), (model if len(copied.layers) == 301 else base).predict(x))
        # each layer's output still leads back to the copy's Input
        first = copied.layers[0]
        assert copied.layers[1].input is first.output
        assert gn.Model(copied.inputs, copied.outputs).predict(x).shape == copied.predict(x).shape
    copied = pickle.loads(pickle.dumps(base))
    features = gn.Model(copied.inputs, copied.layers[5].output)
    np.testing.assert_allclose(features.predict(x), gn.Model(base.inputs, base.layers[5].output).predict(x), rtol=1e-6)


def test_a_text_input_of_shape_empty_is_the_models_input():
    vectorize = L.TextVectorization(max_tokens=20, output_sequence_length=4)
    vectorize.adapt(["a b c", "b c d"])
    given = gn.Input((), dtype="string", name="text")
    model = gn.Sequential([given, vectorize, L.Embedding(20, 3), L.GlobalAveragePooling1D(), L.Dense(1)], seed=0)
    assert model.inputs[0] is given           # as Keras 3.15: the Input given first
    ids = gn.Model(given, vectorize.output)
    assert ids.predict(np.array(["a b", "c d e"])).shape == (2, 4)
    model.add(L.Dense(2))
    assert model.inputs[0] is given


def test_one_input_under_two_keys_is_refused_by_its_keys():
    import pytest
    given = gn.Input((3,), name="c")
    with pytest.raises(ValueError, match=r"inputs\['a'\] and inputs\['b'\] are the same Input"):
        gn.Model({"a": given, "b": given}, L.Dense(1)(given))
