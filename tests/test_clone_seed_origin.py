"""A seeded model nested in another keeps the streams its seed gave its layers, which the outer
model's seed does not derive: configs record their origin ("seed_origin", glassnet._seeding), so
that clone_model, from_config and model_from_json start where a fresh copy of the model starts,
initial weights and Dropout's draws alike. Configs of other models are as they were."""
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import ModelFileError
from glassnet.layers import Dense, Dropout, Input

from crafted_files import rewrite_config

X = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)


# -- the ways to nest a seeded model, each a function making a fresh copy ----------------------------
def _seq_in_seq_built(seed=0):          # the report's case: the inner model built when nested
    inner = gn.Sequential([Dense(4, activation="relu", input_dim=3), Dense(4, seed=7)], seed=5, name="inner")
    return gn.Sequential([inner, Dense(2)], seed=seed)


def _seq_in_seq_unbuilt(seed=0):        # built by the outer model as it joins (its Input): the outer's
    inner = gn.Sequential([Dense(4, activation="relu"), Dropout(0.5), Dense(4)], seed=5, name="inner")
    return gn.Sequential([Input((3,)), inner, Dense(2)], seed=seed)     # stream, then the inner's again


def _seq_in_seq_lazy(seed=0):           # built on the first data, from the inner model's streams
    inner = gn.Sequential([Dense(4, activation="relu"), Dropout(0.5), Dense(4)], seed=5, name="inner")
    return gn.Sequential([inner, Dense(2)], seed=seed)


def _nested_twice(seed=0):
    innermost = gn.Sequential([Dense(4, activation="relu"), Dropout(0.5)], seed=3, name="innermost")
    inner = gn.Sequential([Input((3,)), innermost, Dense(4)], seed=5, name="inner")
    return gn.Sequential([inner, Dropout(0.3), Dense(2)], seed=seed)


def _seq_in_model_built(seed=0):
    inner = gn.Sequential([Dense(4, activation="relu", input_dim=3), Dropout(0.5), Dense(4)], seed=5, name="inner")
    x = Input((3,))
    return gn.Model(x, Dense(2)(inner(x)), seed=seed)


def _seq_in_model_unbuilt(seed=0):
    inner = gn.Sequential([Dense(4, activation="relu"), Dropout(0.5), Dense(4)], seed=5, name="inner")
    x = Input((3,))
    return gn.Model(x, Dense(2)(inner(x)), seed=seed)


def _model_in_model(seed=0):
    x0 = Input((3,))
    inner = gn.Model(x0, Dense(4)(Dropout(0.5)(Dense(4, activation="relu")(x0))), seed=5, name="inner")
    x = Input((3,))
    return gn.Model(x, Dense(2)(inner(x)), seed=seed)


def _model_in_seq(seed=0):
    x0 = Input((3,))
    inner = gn.Model(x0, Dense(4)(Dropout(0.5)(Dense(4, activation="relu")(x0))), seed=5, name="inner")
    return gn.Sequential([inner, Dense(2)], seed=seed)


NESTED = [_seq_in_seq_built, _seq_in_seq_unbuilt, _seq_in_seq_lazy, _nested_twice, _seq_in_model_built,
          _seq_in_model_unbuilt, _model_in_model, _model_in_seq]


def _clone(model):
    return gn.models.clone_model(model)


def _from_json(model):
    return gn.models.model_from_json(model.to_json())


def _from_config(model):
    return type(model).from_config(model.get_config())


def _assert_same_start(model, copy):
    """Bit-equal initial weights, and the same Dropout masks in a training pass."""
    model.predict(X)
    copy.predict(X)
    for a, b in zip(model.get_weights(), copy.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.asarray(model(X, training=True)), np.asarray(copy(X, training=True)))


def _has_own_seed(make):
    return any(layer.seed is not None for layer in make().layers)


@pytest.mark.parametrize("make", NESTED, ids=lambda f: f.__name__)
@pytest.mark.parametrize("copy", [_clone, _from_json, _from_config], ids=lambda f: f.__name__)
def test_a_copy_starts_where_a_fresh_model_starts(make, copy):
    if copy is not _clone and _has_own_seed(make):
        pytest.skip("a layer's own seed (Dense(4, seed=7)) is in no config; clone_model alone passes it on")
    _assert_same_start(make(), copy(make()))


@pytest.mark.parametrize("make", NESTED, ids=lambda f: f.__name__)
def test_an_unbuilt_model_clones_and_a_clone_of_a_clone(make):
    fresh, model = make(), make()
    clone = _clone(model)           # before any data: the lazy ones build on their first
    _assert_same_start(fresh, clone)
    _assert_same_start(make(), _clone(clone))


def test_the_reported_case_with_an_unseeded_outer_model():
    # the inner model's seed fixes its layers (and Dense(4, seed=7) its own); the outer layer, of
    # an unseeded model, starts anew in each copy
    model = _seq_in_seq_built(seed=None)
    model.predict(X)
    clone = _clone(model)
    clone.predict(X)
    first, second = model.get_weights(), clone.get_weights()
    for a, b in zip(first[:4], second[:4], strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[4], second[4])


def test_a_copy_of_a_copy_keeps_the_origins():
    model = _nested_twice()
    model.predict(X)
    assert _from_json(_from_json(model)).to_json() == model.to_json()


# -- other models: configs and initial weights as before ---------------------------------------------
def _plain():
    return gn.Sequential([Dense(4, activation="relu", input_dim=3), Dropout(0.3), Dense(2)], seed=0)


def _unseeded_inner():
    inner = gn.Sequential([Dense(4, activation="relu", input_dim=3), Dense(4)], name="inner")
    return gn.Sequential([inner, Dense(2)], seed=0)


def _functional():
    x = Input((3,))
    return gn.Model(x, Dense(2)(Dropout(0.5)(Dense(4)(x))), seed=0)


@pytest.mark.parametrize("make", [_plain, _unseeded_inner, _functional], ids=lambda f: f.__name__)
def test_models_nesting_no_seeded_model_write_no_origin(make):
    model = make()
    model.predict(X)
    assert "seed_origin" not in model.to_json()
    assert all("seed_origin" not in entry for entry in model.get_config()["layers"])


def test_a_plain_model_draws_from_its_own_streams_as_before():
    # layer i of a model of seed s: glorot_uniform from SeedSequence(s, spawn_key=(1, i))
    model = _plain()
    limit = np.sqrt(6 / (3 + 4))
    expected = np.random.default_rng(np.random.SeedSequence(0, spawn_key=(1, 0))).uniform(-limit, limit, (3, 4))
    np.testing.assert_array_equal(model.get_weights()[0], expected.astype(np.float32))


def test_a_config_without_origins_draws_from_the_outer_model_as_before():
    # an older file (or config) of a nested model: every layer from the outer model's streams
    model = _seq_in_seq_lazy()
    model.predict(X)
    config = model.get_config()
    assert [("seed_origin" in entry) for entry in config["layers"]] == [True, True, True, False]
    for entry in config["layers"]:
        entry.pop("seed_origin", None)
    old = gn.Sequential.from_config(config)
    flat = gn.Sequential([Dense(4, activation="relu", input_dim=3), Dropout(0.5), Dense(4), Dense(2)], seed=0)
    for a, b in zip(old.get_weights(), flat.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(old.get_weights()[0], model.get_weights()[0])


def test_the_recorded_origins_say_where_each_stream_comes_from():
    # built as it joined the outer model: weights from the outer's stream (1, 0), not written; its
    # Dropout's draws from the inner model's (seed 5, its layer 1)
    model = _seq_in_seq_unbuilt()
    entries = model.get_config()["layers"]
    assert entries[0]["seed_origin"] == {"draws": {"entropy": 5, "spawn_key": [1, 0]}}
    assert entries[1]["seed_origin"] == {"draws": {"entropy": 5, "spawn_key": [1, 1]}}
    lazy = _seq_in_seq_lazy()
    lazy.predict(X)
    assert lazy.get_config()["layers"][0]["seed_origin"] == {"weights": {"entropy": 5, "spawn_key": [1, 0]},
                                                            "draws": {"entropy": 5, "spawn_key": [1, 0]}}


# -- model files ----------------------------------------------------------------------------------------
def test_a_file_with_origins_loads_with_its_weights_and_its_clone_starts_fresh(tmp_path):
    model = _seq_in_seq_lazy()
    model.compile("mse", "sgd")
    model.fit(X, np.ones((8, 2), np.float32), epochs=2, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert loaded.to_json() == model.to_json()
    _assert_same_start(_seq_in_seq_lazy(), _clone(loaded))


BAD = {
    "not a dict": "x",
    "empty": {},
    "unknown key": {"bias": {"entropy": 1, "spawn_key": []}},
    "origin not a dict": {"draws": [5, [1, 0]]},
    "origin missing a key": {"draws": {"entropy": 5}},
    "origin of an extra key": {"draws": {"entropy": 5, "spawn_key": [1, 0], "pool_size": 8}},
    "negative entropy": {"draws": {"entropy": -1, "spawn_key": [1, 0]}},
    "entropy a bool": {"draws": {"entropy": True, "spawn_key": [1, 0]}},
    "entropy a float": {"weights": {"entropy": 5.0, "spawn_key": [1, 0]}},
    "entropy a string": {"weights": {"entropy": "5", "spawn_key": [1, 0]}},
    "entropy too long": {"draws": {"entropy": 2 ** 16384, "spawn_key": [1, 0]}},
    "spawn_key not a list": {"draws": {"entropy": 5, "spawn_key": "10"}},
    "spawn_key too long": {"draws": {"entropy": 5, "spawn_key": [0] * 17}},
    "spawn_key negative": {"draws": {"entropy": 5, "spawn_key": [1, -1]}},
    "spawn_key too large": {"draws": {"entropy": 5, "spawn_key": [1, 2 ** 32]}},
    "spawn_key of a bool": {"draws": {"entropy": 5, "spawn_key": [True, 0]}},
    "spawn_key of floats": {"draws": {"entropy": 5, "spawn_key": [1.0, 0.0]}},
}


@pytest.mark.parametrize("value", BAD.values(), ids=BAD.keys())
def test_a_bad_origin_is_refused_by_name(value, tmp_path):
    model = _seq_in_seq_lazy()
    model.predict(X)
    config = model.get_config()
    config["layers"][0]["seed_origin"] = value
    with pytest.raises(ValueError, match="config: layer 'dense': 'seed_origin' "):
        gn.Sequential.from_config(config)
    if value == BAD["entropy too long"]:
        return          # (more digits than Python writes as JSON: no file can hold it)
    spec = json.loads(model.to_json())
    spec["config"]["layers"][0]["seed_origin"] = value
    with pytest.raises(ModelFileError, match="'seed_origin' "):
        gn.models.model_from_json(json.dumps(spec))
    model.save(tmp_path / "m.npz")
    rewrite_config(tmp_path / "m.npz", lambda meta: meta["model"]["layers"][0].update(seed_origin=value))
    with pytest.raises(ModelFileError, match="'seed_origin' "):
        gn.load_model(tmp_path / "m.npz")


def test_the_largest_origins_allowed_are_taken():
    model = _seq_in_seq_lazy()
    config = model.get_config()
    config["layers"][0]["seed_origin"] = {"draws": {"entropy": 2 ** 16384 - 1, "spawn_key": [2 ** 32 - 1] * 16}}
    copy = gn.Sequential.from_config(config)
    expected = np.random.default_rng(np.random.SeedSequence(2 ** 16384 - 1, spawn_key=[2 ** 32 - 1] * 16))
    assert copy.layers[0].rng.bit_generator.state == expected.bit_generator.state
