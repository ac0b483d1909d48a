"""An Input's fixed batch size (``Input((5,), batch_size=32)``, ``Input(batch_shape=(32, 5))``)
kept by every round trip of a model (save/load_model in .npz and .keras, to_json/model_from_json,
get_config/from_config, clone_model), as Keras 3.15 keeps its InputLayer's ``batch_shape``:
``model.input_shape`` and ``model.inputs[i].shape`` compared with Keras' after its own save/load."""
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import ModelFileError

L = gn.layers


def _functional(lib):
    x = lib.Input((5,), batch_size=32, name="x")
    return lib.Model(x, lib.layers.Dense(2, name="d")(x))


def _two_inputs(lib, fixed_b=4):
    a = lib.Input((3,), batch_size=4, name="a")
    b = lib.Input((2,), batch_size=fixed_b, name="b")
    h = lib.layers.Concatenate(name="c")([a, b])
    return lib.Model([a, b], [lib.layers.Dense(1, name="d")(h), lib.layers.Dense(2, name="e")(h)])


def _dict_inputs(lib):
    a = lib.Input((3,), batch_size=4, name="a")
    b = lib.Input((2,), batch_size=4, name="b")
    return lib.Model({"b": b, "a": a}, lib.layers.Dense(1, name="d")(lib.layers.Concatenate(name="c")([a, b])))


def _sequential(lib):
    return lib.Sequential([lib.Input(batch_shape=(8, 5)), lib.layers.Dense(3), lib.layers.Dense(1)])


def _nested_sequential(lib):
    inner = lib.Sequential([lib.Input((5,)), lib.layers.Dense(4)], name="inner")
    return lib.Sequential([lib.Input(batch_shape=(8, 5)), inner, lib.layers.Dense(1)])


def _nested_functional(lib):
    x = lib.Input((5,), name="ix")
    inner = lib.Model(x, lib.layers.Dense(4, name="id")(x), name="inner")
    y = lib.Input((5,), batch_size=16, name="y")
    return lib.Model(y, lib.layers.Dense(1, name="od")(inner(y)))


def _mixed_inputs(lib):
    # one Input fixes its batch size, the other does not: each keeps its own
    return _two_inputs(lib, fixed_b=None)


MODELS = {"functional": _functional, "two_inputs": _two_inputs, "mixed_inputs": _mixed_inputs, "dict_inputs": _dict_inputs,
          "sequential": _sequential, "nested_sequential": _nested_sequential,
          "nested_functional": _nested_functional}


def _input_shapes(model):
    inputs = model.inputs.values() if isinstance(model.inputs, dict) else model.inputs
    return sorted((tuple(t.shape) for t in inputs), key=repr)


def _round_trips(model, tmp_path):
    for suffix in ("npz", "keras"):
        path = tmp_path / f"m.{suffix}"
        model.save(path)
        yield f"load_model .{suffix}", gn.load_model(path)
    yield "model_from_json", gn.models.model_from_json(model.to_json())
    yield "from_config", type(model).from_config(model.get_config())
    yield "clone_model", gn.models.clone_model(model)


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_round_trips_keep_the_batch_size_as_keras(keras, kind, tmp_path):
    make = MODELS[kind]
    theirs = make(keras)
    theirs.save(tmp_path / "keras_model.keras")
    theirs = keras.models.load_model(tmp_path / "keras_model.keras")
    ours = make(gn)
    x = [np.random.default_rng(0).normal(size=(4, *t.shape[1:])).astype("float32")
         for t in (ours.inputs.values() if isinstance(ours.inputs, dict) else ours.inputs)]
    for how, back in _round_trips(ours, tmp_path):
        assert back.input_shape == theirs.input_shape, how
        # (Keras carries one Input's batch size through a merge with an Input of any batch, where
        # glassnet's output_shape gives None: tests/test_review_shaperev.py; the file keeps what it had)
        assert back.output_shape == (ours.output_shape if kind == "mixed_inputs" else theirs.output_shape), how
        assert _input_shapes(back) == _input_shapes(theirs), how
        if how.startswith("load_model"):      # the file's weights too, with the batch size
            feed = dict(zip(sorted(ours.inputs), x)) if isinstance(ours.inputs, dict) else x
            got, want = back.predict(feed, verbose=0), ours.predict(feed, verbose=0)
            for g, w in zip(got if isinstance(got, list) else [got], want if isinstance(want, list) else [want]):
                np.testing.assert_array_equal(g, w)


def test_a_model_without_a_fixed_batch_size_writes_none(tmp_path):
    x = gn.Input((5,), name="x")
    model = gn.Model(x, L.Dense(2)(x))
    assert "batch_size" not in model.get_config()["inputs"][0]
    seq = gn.Sequential([gn.Input((5,)), L.Dense(2)])
    assert "input_batch_size" not in seq.get_config()
    for how, back in _round_trips(model, tmp_path):
        assert back.input_shape == (None, 5), how


# written by glassnet before Inputs kept their batch size (to_json of Input((5,), batch_size=32) and
# Input(batch_shape=(8, 5)) models, the day before): they load, with any batch
_OLD_MODEL = ('{"class_name": "Model", "config": {"name": "m", "seed": null, "dtype": "float32", "input_shape": [5], '
              '"layers": [{"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": "linear", '
              '"kernel_initializer": "glorot_uniform", "bias_initializer": "zeros"}}], "compile": null, '
              '"layer_order": "keras", "inbound": [[-1]], "calls": [0], "inputs": [{"name": "x", "shape": [5]}]}}')
_OLD_SEQUENTIAL = ('{"class_name": "Sequential", "config": {"name": "s", "seed": null, "dtype": "float32", '
                   '"input_shape": [5], "input": [5], "input_name": "x", "layers": [{"class_name": "Dense", "config": '
                   '{"name": "d", "input_shape": [5], "units": 3, "activation": "linear", "kernel_initializer": '
                   '"glorot_uniform", "bias_initializer": "zeros"}}], "compile": null}}')


@pytest.mark.parametrize("text, shape", [(_OLD_MODEL, (None, 5)), (_OLD_SEQUENTIAL, (None, 5))])
def test_configs_written_before_load_with_any_batch(text, shape):
    model = gn.models.model_from_json(text)
    assert model.input_shape == shape
    assert model.inputs[0].batch_size is None


@pytest.mark.parametrize("kind", ["functional", "sequential"])
def test_files_without_the_batch_size_load_with_any_batch(kind, tmp_path, edit_model_file):
    model = MODELS[kind](gn)
    model.save(tmp_path / "new.npz")

    def forget(config):          # the file as glassnet wrote it before: no batch size anywhere
        config["model"].pop("input_batch_size", None)
        for spec in config["model"].get("inputs", ()):
            spec.pop("batch_size", None)
    edit_model_file(tmp_path / "new.npz", forget, tmp_path / "old.npz")
    back = gn.load_model(tmp_path / "old.npz")
    assert back.input_shape[0] is None and back.input_shape[1:] == model.input_shape[1:]
    np.testing.assert_array_equal(back.get_weights()[0], model.get_weights()[0])


BAD = [0, -1, 2 ** 31, 10 ** 30, True, 1.5, 32.0, "32", [32], {"n": 1}]


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize("kind", ["functional", "sequential"])
def test_crafted_batch_sizes_are_refused_by_name(kind, value, tmp_path, edit_model_file):
    model = MODELS[kind](gn)
    model.save(tmp_path / "m.npz")
    key = "input_batch_size" if kind == "sequential" else "batch_size"

    def craft(config):
        if kind == "sequential":
            config["model"]["input_batch_size"] = value
        else:
            config["model"]["inputs"][0]["batch_size"] = value
    edit_model_file(tmp_path / "m.npz", craft, tmp_path / "bad.npz")
    with pytest.raises(ModelFileError, match=f"{key}.*must be null.*MAX_BATCH_SIZE = 2,147,483,647, got"):
        gn.load_model(tmp_path / "bad.npz")
    # the same config through model_from_json and from_config
    description = json.loads(model.to_json())
    craft({"model": description["config"]})
    with pytest.raises(ModelFileError, match=f"{key}.*must be null"):
        gn.models.model_from_json(json.dumps(description))
    with pytest.raises(ModelFileError, match=f"{key}.*must be null"):
        type(model).from_config(description["config"])


def test_largest_batch_size_is_taken(tmp_path):
    from glassnet._bounds import MAX_BATCH_SIZE
    x = gn.Input((2,), batch_size=MAX_BATCH_SIZE)
    back = gn.models.model_from_json(gn.Model(x, L.Dense(1)(x)).to_json())
    assert back.input_shape == (MAX_BATCH_SIZE, 2)


def test_unknown_input_keys_are_still_refused():
    description = json.loads(_OLD_MODEL)
    description["config"]["inputs"][0]["batch"] = 32        # a misspelt key: not taken silently
    with pytest.raises(ValueError, match="'inputs' must be a list of"):
        gn.models.model_from_json(json.dumps(description))


def test_popped_sequential_keeps_its_input_batch_size():
    # Keras keeps the Input when layers are popped; so does the config
    model = _sequential(gn)
    model.pop()
    back = gn.Sequential.from_config(model.get_config())
    assert back.input_shape == (8, 5) and back.output_shape == (8, 3)
