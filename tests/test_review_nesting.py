"""Review of a functional Model nested in a Sequential (``Sequential([base, Dense(1)])``): bugs found."""
import json
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L


def _head_of(model, base, x):
    head = model.layers[-1].params
    return base.predict(x) @ head["kernel"] + head["bias"]


# 1. a nested call's own arguments other than use_causal_mask ('reverse', 'attention_mask'):
#    saved, but the file (and get_config/from_config, to_json/model_from_json) does not load back
def _reverse_base():
    inp = gn.Input((5,))
    emb = L.ReversibleEmbedding(20, 8, name="emb")
    h = L.Dense(8, name="mix")(emb(inp))
    return gn.Model(inp, L.Activation("softmax", name="probs")(emb(h, reverse=True)), name="base", seed=0)


def _attention_mask_base():
    inp = gn.Input((6, 4))
    d = L.Dense(4)(inp)
    mask = L.Activation("relu")(L.Dot(axes=2)([d, d]))          # (6, 6), computed inside the base
    h = L.MultiHeadAttention(2, 4)(d, d, attention_mask=mask)
    return gn.Model(inp, L.GlobalAveragePooling1D()(h), name="base", seed=0)


@pytest.mark.parametrize("make, x", [
    (_reverse_base, np.random.default_rng(0).integers(0, 20, size=(4, 5))),
    (_attention_mask_base, np.random.default_rng(0).normal(size=(4, 6, 4)).astype("float32"))],
    ids=["reverse", "attention_mask"])
def test_a_nested_call_with_its_own_arguments_round_trips(make, x, tmp_path):
    base = make()
    model = gn.Sequential([base, L.Dense(3)], seed=1)
    expected = model.predict(x)
    # base alone round-trips (graph.Model accepts these options) ...
    base.save(tmp_path / "base.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "base.npz").predict(x), base.predict(x))
    # ... and so must the Sequential nesting it
    model.save(tmp_path / "nested.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "nested.npz").predict(x), expected)
    again = gn.Sequential.from_config(json.loads(json.dumps(model.get_config())))
    again.set_weights(model.get_weights())
    np.testing.assert_array_equal(again.predict(x), expected)
    twin = gn.model_from_json(model.to_json())
    twin.set_weights(model.get_weights())
    np.testing.assert_array_equal(twin.predict(x), expected)


# 2. a base whose first call is a merge reading the Input (self-attention on the Input, a residual
#    Add of the Input): Keras nests it; glassnet compared the merge's list of input shapes with the
#    Input's shape and refused ("expects input samples of shape ((4,), (4,)), the model's Input
#    declares (4,)")
def test_a_base_whose_first_layer_merges_its_input_nests():
    rng = np.random.default_rng(0)
    inp = gn.Input((4,))
    base = gn.Model(inp, L.Dense(2)(L.Add()([inp, inp])), name="add_first")
    model = gn.Sequential([base, L.Dense(1)], seed=0)
    assert model.built and model.input_shape == (None, 4)
    x = rng.normal(size=(3, 4)).astype("float32")
    np.testing.assert_allclose(model.predict(x), _head_of(model, base, x), rtol=1e-6)
    # model.add(base) too
    inp = gn.Input((6, 4))
    base = gn.Model(inp, L.GlobalAveragePooling1D()(L.MultiHeadAttention(2, 4)(inp, inp)), name="mha_first")
    model = gn.Sequential(seed=0)
    model.add(base)
    model.add(L.Dense(1))
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    np.testing.assert_allclose(model.predict(x), _head_of(model, base, x), rtol=1e-5, atol=1e-6)


# 3. pop() turned the graph back into a chain when no call had a mode "of its own" -- but it tested
#    the modes with any(), so a call drawn with training=False (a frozen BatchNormalization, a
#    Dropout kept off) counted as none: its mode was dropped and it trained again
def test_pop_keeps_a_call_drawn_with_training_false():
    rng = np.random.default_rng(0)
    inp = gn.Input((4,))
    h = L.BatchNormalization(name="bn")(L.Dense(4)(inp), training=False)
    base = gn.Model(inp, L.Dense(3)(h), name="base", dtype="float64")
    model = gn.Sequential([base, L.Dense(1, name="head")], dtype="float64", seed=0)
    model.pop()
    model.add(L.Dense(1, name="new_head"))
    bn = model.get_layer("bn")
    before = {key: value.copy() for key, value in bn.state.items()}
    model.compile(loss="mse", optimizer="sgd")
    model.fit(rng.normal(size=(16, 4)) * 3 + 2, rng.normal(size=(16, 1)), epochs=1, verbose=0)
    for key, value in before.items():       # the call runs in inference mode: its statistics stay
        np.testing.assert_array_equal(bn.state[key], value, err_msg=key)


# 4. a nesting refused while the model is built (a mask plan the graph cannot take) left the
#    model's output_shape at the refused base's: fit then refused the model's own targets
def test_a_refused_nesting_leaves_the_output_shape_as_it_was():
    rng = np.random.default_rng(0)
    model = gn.Sequential([gn.Input((6,)), L.Embedding(10, 4, mask_zero=True)], seed=0)
    inp = gn.Input((6, 4))
    lstm = L.LSTM(3)
    base = gn.Model(inp, L.Concatenate()([lstm(inp), lstm(L.Dense(4)(inp))]), name="base")
    with pytest.raises(NotImplementedError, match="called more than once"):
        model.add(base)
    assert [layer.name for layer in model.layers] == ["embedding"] and model._nested_calls is None
    assert model.output_shape == (None, 6, 4)
    model.compile(loss="mse", optimizer="sgd")
    x = rng.integers(0, 10, size=(2, 6))
    model.fit(x, rng.normal(size=(2, 6, 4)), epochs=1, verbose=0)


# 5. (low) Keras warns when a layer after the nested base drops its mask (Flatten); glassnet warns
#    in a chain and in a functional Model, but not after a nested functional Model
def test_flatten_dropping_a_nested_base_mask_warns_as_keras():
    inp = gn.Input((6,))
    base = gn.Model(inp, L.Dense(3)(L.Embedding(10, 4, mask_zero=True)(inp)), name="base")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gn.Sequential([base, L.Flatten(), L.Dense(1)])
    assert any("does not support masking" in str(w.message) for w in caught)
