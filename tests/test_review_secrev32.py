"""Review (secrev32): configs (JSON, model files) of a few bytes a call that make loading hang or
allocate gigabytes: a graph of millions of calls of one layer, a lookup layer's count of OOV
indices, a TextVectorization's ngrams."""
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet import ModelFileError
from glassnet.io import MAX_LAYERS

from crafted_files import rewrite_config, within

_RELU = {"class_name": "ReLU", "config": {"name": "re_lu"}}


def _description(layers, input_shape, **extra):
    return json.dumps({"class_name": "Sequential", "config": {
        "name": "s", "seed": 0, "dtype": "float32", "input_shape": input_shape, "layers": layers,
        "compile": None, **extra}})


def _graph(n):
    return {"calls": [0] * n, "inbound": [[k - 1] for k in range(n)]}


def test_a_description_of_more_calls_than_a_file_holds_is_refused_before_replaying_them():
    # one ReLU called a million times is a 10 MB string: replaying it took minutes, and checking a
    # Sequential's graph took time growing with the square of the calls (hours)
    n = MAX_LAYERS + 1
    functional = json.dumps({"class_name": "Model", "config": {
        "name": "m", "seed": 0, "dtype": "float32", "input_shape": [3], "layers": [_RELU], "compile": None,
        "calls": [0] * n, "inbound": [[k - 1] for k in range(n)], "inputs": [{"name": "x", "shape": [3]}]}})
    with within(20), pytest.raises(ModelFileError, match="calls"):
        gn.models.model_from_json(functional)
    with within(20), pytest.raises(ModelFileError, match="calls"):
        gn.models.model_from_json(_description([_RELU], [3], graph=_graph(n)))


def test_a_file_of_more_calls_than_it_holds_is_refused(tmp_path):
    x = gn.layers.Input((3,))
    relu = gn.layers.ReLU()
    model = gn.Model(x, relu(relu(x)))
    path = tmp_path / "m.npz"
    model.save(path)

    def many_calls(meta):
        meta["model"]["calls"] = [0] * (MAX_LAYERS + 1)
        meta["model"]["inbound"] = [[k - 1] for k in range(MAX_LAYERS + 1)]
    rewrite_config(path, many_calls)
    with within(20), pytest.raises(ModelFileError, match="calls"):
        gn.load_model(path)


def test_a_sequential_graph_of_many_calls_is_checked_in_linear_time():
    # within the cap, counting each call's layer once per call was quadratic: 100,000 calls, 10 s
    from glassnet.describing import check_graph_config
    relu = gn.layers.ReLU()
    n = 300_000
    with within(20):
        calls, inbound, _, _ = check_graph_config(_graph(n), [relu])
    assert len(calls) == n


def test_a_model_of_more_calls_than_a_file_holds_is_not_saved(tmp_path):
    x = gn.layers.Input((3,))
    relu, y = gn.layers.ReLU(), x
    for _ in range(MAX_LAYERS + 1):
        y = relu(y)
    model = gn.Model(x, y)
    with pytest.raises(ValueError, match="calls"):
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("name,vocabulary", [("IntegerLookup", [5, 7]), ("StringLookup", ["a", "b"])])
def test_a_config_of_a_billion_oov_indices_is_refused_before_listing_them(name, vocabulary):
    # each OOV index is a special token listed at once: 3 * 10**8 made load_model allocate GBs
    # (10**12, the MemoryError of a list that cannot be made)
    entry = {"class_name": name, "config": {"num_oov_indices": 10 ** 12, "vocabulary": vocabulary}}
    with within(20), pytest.raises(ModelFileError, match="num_oov_indices"):
        gn.models.model_from_json(_description([entry], [1]))
    with within(20), pytest.raises(ValueError, match="num_oov_indices"):
        gn.layers.deserialize(entry)
    # a config within the cap still loads, as the layer itself
    entry["config"]["num_oov_indices"] = 3
    assert gn.layers.deserialize(entry).num_oov_indices == 3


@pytest.mark.parametrize("ngrams", [10 ** 12, [2] * 10 ** 6], ids=["count", "many"])
def test_a_config_of_absurd_ngrams_is_refused(ngrams):
    # ngrams=n lists the widths 1..n at once (gigabytes from a few bytes); a million widths made
    # each text's tokens joined a million times over at predict
    entry = {"class_name": "TextVectorization", "config": {"ngrams": ngrams, "vocabulary": ["a", "b"]}}
    with within(20), pytest.raises(ValueError, match="ngrams"):
        gn.layers.deserialize(entry)


@pytest.mark.parametrize("ngrams", [2.5, float("nan"), "3"])
def test_a_config_of_ngrams_of_another_kind_is_refused_naming_ngrams(ngrams):
    entry = {"class_name": "TextVectorization", "config": {"ngrams": ngrams}}
    with pytest.raises(ValueError, match="ngrams"):
        gn.layers.deserialize(entry)


def test_configs_of_everyday_ngrams_still_load():
    for ngrams in (2, [1, 3], None):
        layer = gn.layers.TextVectorization(ngrams=ngrams, vocabulary=["a", "b", "a b"])
        again = gn.layers.deserialize(gn.layers.serialize(layer))
        assert again.ngrams == layer.ngrams
        np.testing.assert_array_equal(again(np.array(["a b"])), layer(np.array(["a b"])))
