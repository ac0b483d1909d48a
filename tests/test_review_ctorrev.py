"""Review of the Sequential constructor building once after all its layers joined (ctorrev)."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import BatchNormalization, Dense, Embedding, Flatten, LSTM, TimeDistributed


def _ids_model_layers(after):
    # ids of shape (steps, length): the Embedding's mask (batch, steps, length) has axes within the
    # steps, which TimeDistributed(Flatten()) drops, so the mask ends there
    return [gn.Input((5, 3)), Embedding(10, 4, mask_zero=True), TimeDistributed(Flatten()), *after]


def _added(layers):
    model = gn.Sequential(seed=0)
    for layer in layers:
        model.add(layer)
    return model


@pytest.mark.parametrize("make", [gn.Sequential, _added], ids=["constructor", "add"])
def test_a_mask_ending_at_a_time_distributed_layer_does_not_reach_the_layers_after_it(make):
    # the constructor checked each layer's masks before the Embedding knew its ids' shape: it took
    # the mask for one of the steps alone, passed on, and refused the BatchNormalization that add takes
    model = make(_ids_model_layers([BatchNormalization(), LSTM(2)]))
    assert model._mask_plan == ((model.layers[0], (model.layers[1],)),)
    x = np.random.default_rng(0).integers(0, 10, (4, 5, 3))
    assert model.predict(x, verbose=0).shape == (4, 2)


@pytest.mark.parametrize("make", [gn.Sequential, _added], ids=["constructor", "add"])
def test_the_constructor_warns_of_a_mask_time_distributed_cannot_hand_on_as_add_does(make):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make(_ids_model_layers([Dense(2)]))
    warned = [str(w.message) for w in caught if "cannot hand on a mask within the steps" in str(w.message)]
    assert len(warned) == 1 and "time_distributed" in warned[0]


def test_the_constructor_still_refuses_a_layer_a_mask_reaches():
    with pytest.raises(ValueError, match=r"batch_normalization \(BatchNormalization\): receives the mask"):
        gn.Sequential([gn.Input((5,)), Embedding(10, 4, mask_zero=True), BatchNormalization(), LSTM(2)])
    with pytest.raises(ValueError, match=r"batch_normalization \(BatchNormalization\): receives the mask"):
        gn.Sequential([Embedding(10, 4, mask_zero=True), BatchNormalization(), LSTM(2)])      # lazily built


def test_the_constructor_warns_once_of_a_flatten_dropping_a_mask():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gn.Sequential([gn.Input((5,)), Embedding(10, 4, mask_zero=True), Flatten(), Dense(1)])
    assert sum("does not support masking" in str(w.message) for w in caught) == 1


@pytest.mark.parametrize("layers", ["relu", {"hidden": Dense(2)}])
def test_a_string_or_a_dict_for_the_layers_is_refused_by_the_arguments_name(layers):
    # iterated, "relu" gave "r" ("Activation('r')" was the advice) and a dict its keys
    with pytest.raises(TypeError, match=r"^layers: expected a list of layers, got a (str 'relu'|dict)"):
        gn.Sequential(layers)


def test_a_refused_constructor_leaves_a_layer_shared_with_another_model_as_it_was():
    # the constructor joins every layer before its one build: a build refused (a later layer's
    # input shape) left the shared Dropout drawing from the refused model's stream, and the first
    # model's config recording that stream
    drop = gn.layers.Dropout(0.5)
    first = gn.Sequential([gn.Input((3,)), Dense(3), drop], seed=1)
    config, state = first.get_config(), drop.rng.bit_generator.state
    fresh = Dense(2)
    with pytest.raises(ValueError, match=r"dense_1 \(Dense\): declares input samples of shape \(7,\)"):
        gn.Sequential([gn.Input((3,)), Dense(3), Dense(2, input_dim=7), drop, fresh], seed=2)
    assert drop.name == "dropout" and drop.rng.bit_generator.state == state
    assert first.get_config() == config
    assert fresh.name is None and not fresh.built
