"""Review (secrev): model files and configs that would make loading, or the first training step
after it, take minutes: costly weight-name patterns multiplied (by their number, by the weights'
names) and configs of thousands of layers."""
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet import ModelFileError
from glassnet.optimizers.base import check_patterns

from crafted_files import rewrite_config

# each alone is under the bound of one pattern (3.4e8 steps on a name of 1000 characters, about
# 0.2 s per name), so it is kept; searching long names with many of them takes that many times as long
COSTLY = "a{0,1000}a{0,1000}b"


def test_patterns_each_under_the_bound_are_refused_together():
    check_patterns([COSTLY], "var_names")           # one is kept
    with pytest.raises(ValueError, match="together"):
        check_patterns([f"{COSTLY}{i}" for i in range(10)], "var_names")


def test_a_file_of_many_costly_patterns_is_refused(tmp_path):
    model = gn.Sequential([gn.layers.Dense(1, input_dim=2)], seed=0)
    optimizer = gn.optimizers.AdamW(weight_decay=0.01)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    model.compile(loss="mse", optimizer=optimizer)
    path = tmp_path / "m.npz"
    model.save(path)

    def many(meta):
        meta["model"]["compile"]["optimizer"]["exclude_from_weight_decay"] = [f"{COSTLY}{i}" for i in range(10)]
    rewrite_config(path, many)
    with pytest.raises(ModelFileError, match="exclude_from_weight_decay"):
        gn.load_model(path)


def _long_named(n_layers, optimizer):
    model = gn.Sequential([gn.layers.Dense(1, input_dim=1, name="a" * 990 + "0")]
                          + [gn.layers.Dense(1, name="a" * 990 + str(i)) for i in range(1, n_layers)], seed=0)
    model.compile(loss="mse", optimizer=optimizer)
    return model


def test_a_costly_pattern_over_many_long_names_is_refused_not_searched_for_minutes():
    optimizer = gn.optimizers.AdamW(weight_decay=0.01)
    optimizer.exclude_from_weight_decay(var_names=[COSTLY])
    model = _long_named(12, optimizer)
    with pytest.raises(ValueError, match="exclude_from_weight_decay.*names"):
        model.train_on_batch(np.zeros((2, 1)), np.zeros((2, 1)))


def test_a_file_of_a_costly_pattern_over_many_long_names_is_refused_at_load(tmp_path):
    optimizer = gn.optimizers.AdamW(weight_decay=0.01)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    path = tmp_path / "m.npz"
    _long_named(12, optimizer).save(path)

    def costly(meta):
        meta["model"]["compile"]["optimizer"]["exclude_from_weight_decay"] = [COSTLY]
    rewrite_config(path, costly)
    with pytest.raises(ModelFileError, match="exclude_from_weight_decay"):
        gn.load_model(path)


def test_muon_exclude_layers_over_many_long_names_is_refused():
    model = _long_named(12, gn.optimizers.Muon(exclude_layers=[COSTLY]))
    with pytest.raises(ValueError, match="exclude_layers"):
        model.train_on_batch(np.zeros((2, 1)), np.zeros((2, 1)))


def test_everyday_patterns_still_work():
    optimizer = gn.optimizers.AdamW(weight_decay=0.5, learning_rate=0.1)
    optimizer.exclude_from_weight_decay(var_names=["bias", "layer.*norm.*gamma", "(gamma|beta)$"])
    model = gn.Sequential([gn.layers.Dense(3, input_dim=2, bias_initializer="ones")], seed=0)
    model.compile(loss="mse", optimizer=optimizer)
    bias = model.layers[0].params["bias"].copy()
    model.train_on_batch(np.zeros((4, 2)), np.ones((4, 3)) * 1.0)
    # zero inputs, targets at the bias: no gradient for the bias, and no decay (excluded)
    np.testing.assert_allclose(model.layers[0].params["bias"], bias)


def test_a_file_of_thousands_of_tiny_layers_is_refused_before_making_them(tmp_path):
    from glassnet.io import MAX_LAYERS
    path = tmp_path / "m.npz"
    gn.Sequential([gn.layers.ReLU()], seed=0).save(path)       # unbuilt: no weights

    def many(meta):
        meta["model"]["layers"] *= MAX_LAYERS + 1
        meta["trainable"] *= MAX_LAYERS + 1
        meta["rng_states"]["layers"] *= MAX_LAYERS + 1
    rewrite_config(path, many)
    with pytest.raises(ModelFileError, match="layers"):
        gn.load_model(path)
    description = json.dumps({"class_name": "Sequential", "config": {
        "name": "s", "seed": 0, "dtype": "float32", "input_shape": None, "compile": None,
        "layers": [{"class_name": "ReLU", "config": {}}] * (MAX_LAYERS + 1)}})
    with pytest.raises(ModelFileError, match="layers"):
        gn.models.model_from_json(description)


def test_the_constructor_builds_once_not_once_per_layer(monkeypatch):
    # each build walks every layer so far: one per layer made a file of a few thousand layers
    # (with an input shape) take minutes to load
    builds = []
    original = gn.Sequential._build_samples

    def counted(self, shape):
        builds.append(shape)
        return original(self, shape)
    monkeypatch.setattr(gn.Sequential, "_build_samples", counted)
    model = gn.Sequential([gn.layers.Dense(4, input_dim=3), gn.layers.ReLU(), gn.layers.Dense(2)], seed=0)
    assert model.built and model.output_shape == (None, 2)
    assert len(builds) == 1


def test_a_constructor_refusing_a_layer_still_names_it():
    with pytest.raises(ValueError, match="conv2d"):
        gn.Sequential([gn.layers.Dense(4, input_dim=3), gn.layers.Conv2D(2, 3)])
