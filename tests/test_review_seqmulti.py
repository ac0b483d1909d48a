"""Review of a Sequential whose last layer is a model of several outputs (and of the heads
machinery it shares with functional Models): copies, crafted configs."""
import copy

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L


def _heads(kind="dict"):
    inputs = gn.Input((4,))
    score = L.Dense(2, name="score")(inputs)
    cls = L.Dense(1, activation="sigmoid", name="cls")(inputs)        # fused with binary cross-entropy
    return gn.Model(inputs, {"score": score, "cls": cls} if kind == "dict" else [score, cls], name="heads")


def _data():
    rng = np.random.default_rng(0)
    x, x2 = rng.normal(size=(12, 3)).astype("float32"), rng.normal(size=(12, 3)).astype("float32")
    return x, x2, [rng.normal(size=(12, 2)).astype("float32"), rng.integers(0, 2, (12, 1)).astype("float32")]


@pytest.mark.parametrize("form", ["functional", "sequential"])
def test_a_deep_copy_of_a_model_of_several_outputs_scores_its_own_outputs(form):
    """Each output's logged loss of a copy is read from the copy's layers: the copy's compiled
    metrics kept the original's outputs, so a copy evaluated before the original had run failed
    (AttributeError: no 'z'), and after the original ran on other data logged its logits."""
    x, x2, (y, labels) = _data()
    if form == "functional":
        inputs = gn.Input((3,))
        model = gn.Model(inputs, _heads("list")(L.Dense(4, activation="tanh")(inputs)), seed=0)
    else:
        model = gn.Sequential([gn.Input((3,)), L.Dense(4, activation="tanh"), _heads("list")], seed=0)
    model.compile(optimizer="sgd", loss=["mse", "binary_crossentropy"])
    copied = copy.deepcopy(model)
    logs = copied.evaluate(x, [y, labels], return_dict=True, verbose=0)
    model.predict(x2, verbose=0)            # the original's layers now hold other logits
    assert copied.evaluate(x, [y, labels], return_dict=True, verbose=0) == logs
    assert model.evaluate(x, [y, labels], return_dict=True, verbose=0) == logs
    copied.fit(x, [y, labels], epochs=1, verbose=0)         # and the original's are its own
    assert model.evaluate(x, [y, labels], return_dict=True, verbose=0) == logs


def _config():
    return gn.Sequential([gn.Input((3,)), L.Dense(4, activation="tanh"), _heads()], seed=0).get_config()


@pytest.mark.parametrize("shapes", [[[5], [2]], [[2], [1]], [[1, 1], [2]], [[10 ** 12], [2]]])
def test_a_config_s_output_shapes_that_are_not_its_layers_are_refused_by_name(shapes):
    config = _config()
    assert config["graph"]["output_shapes"] == [[1], [2]]       # the flat order: sorted keys, cls first
    config["graph"]["output_shapes"] = shapes
    with pytest.raises(ValueError, match=r"'output_shapes'.*output 'cls'|'output_shapes'.*output 'score'"):
        gn.Sequential.from_config(config)


@pytest.mark.parametrize("outputs", [{"score": [3], "cls": 2}, [[3], 2], {"score": {}, "cls": 2}])
def test_a_config_s_outputs_that_are_not_calls_are_refused_by_name(outputs):
    config = _config()
    config["graph"]["outputs"] = outputs
    with pytest.raises(ValueError, match=r"config: 'graph'.*'outputs'"):
        gn.Sequential.from_config(config)


def test_a_sequential_of_several_dict_outputs_keeps_no_single_output_key_in_its_config():
    """"output_key" is the key of a last layer's one dict output; several have their "outputs"."""
    config = _config()
    assert "output_key" not in config and config["graph"]["outputs"] == {"score": 2, "cls": 1}
    config["output_key"] = "score"          # (as the change's first version wrote it): read, and dropped
    assert "output_key" not in gn.Sequential.from_config(config).get_config()
