"""Pipeline and several Inputs of texts: what a review found (a functional model augmenting at predict, a
layer passing no gradient mid-pipeline, the seed in configs, a mask reaching one, an Embedding first
under gradcheck, dicts of more columns than Inputs), each test failing on the code before."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L


def test_a_pipeline_in_a_functional_model_follows_the_model(rng):
    x = rng.uniform(0, 1, (64, 4, 4, 1)).astype(np.float32)
    inp = L.Input((4, 4, 1))
    model = gn.Model(inp, L.Flatten()(L.Pipeline([L.RandomFlip("horizontal"), L.Rescaling(2.0)])(inp)), seed=0)
    np.testing.assert_array_equal(model.predict(x, verbose=0), (2 * x).reshape(64, -1))
    # no call fixed in training mode (the bug); the Pipeline's call, given no flag, trains in a pass
    # given none, model(x), as Keras' (its call defaults to training=True: tests/test_augdef.py)
    assert model.get_config()["modes"] == ["true_if_unset", None]


def test_a_seeded_pipeline_keeps_its_seed_in_its_config(rng):
    x = rng.uniform(0, 1, (64, 4, 4, 1)).astype(np.float32)
    model = gn.Sequential([L.Input((4, 4, 1)), L.Pipeline([L.RandomFlip("horizontal")], seed=7), L.Flatten()], seed=0)
    rebuilt = gn.model_from_json(model.to_json())
    assert rebuilt.layers[0].seed == 7
    np.testing.assert_array_equal(model.layers[0].forward(x, True), rebuilt.layers[0].forward(x, True))


def test_a_layer_passing_no_gradient_inside_a_pipeline_is_named(rng):
    class NoGrad(L.Layer):
        def forward(self, x, training=False):
            return x * 1

        def backward(self, grad_output):
            return None
    model = gn.Sequential([L.Input((5,)), L.Pipeline([L.Dense(4), NoGrad()]), L.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(TypeError, match="backward returned None"):
        model.fit(rng.normal(size=(8, 5)), np.ones((8, 1)), epochs=1, verbose=0)


def test_a_mask_reaching_a_reader_inside_a_pipeline_is_refused():
    with pytest.raises(ValueError, match="Keras' Pipeline hands the mask"):
        gn.Sequential([L.Input((5,)), L.Embedding(10, 4, mask_zero=True), L.Pipeline([L.LSTM(3)]), L.Dense(1)])


def test_gradcheck_of_a_pipeline_starting_with_an_embedding(rng):
    x = rng.integers(0, 6, (3, 4)).astype(float)
    layer = L.Pipeline([L.Embedding(6, 3), L.Flatten()], dtype="float64", seed=0)
    assert gn.gradcheck.check_layer(layer, x)["max_error"] < 1e-6


def test_columns_by_name_missing_extra_and_of_another_length(rng):
    plan, age = gn.Input((1,), dtype="string", name="plan"), gn.Input((1,), name="age")
    lookup = L.StringLookup(vocabulary=["a", "b"], output_mode="one_hot")(plan)
    model = gn.Model([plan, age], L.Dense(1)(L.Concatenate()([lookup, age])), seed=0)
    table = {"plan": np.array(["a", "b", "c"]), "age": np.arange(3.0)}
    out = model.predict(table, verbose=0)
    np.testing.assert_array_equal(model.predict({**table, "churn": np.zeros(3)}, verbose=0), out)   # Keras 3
    with pytest.raises(ValueError, match=r"missing \['age'\]"):
        model.predict({"plan": table["plan"], "agee": table["age"]}, verbose=0)
    with pytest.raises(ValueError, match=r"x\['plan'\]: 3, x\['age'\]: 2"):
        model.predict({**table, "age": table["age"][:2]}, verbose=0)
