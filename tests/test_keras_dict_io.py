"""Keras files (``.keras``, legacy ``.h5``) of functional models whose inputs or outputs are dicts
(glassnet._keras_dicts): the file's structure as Keras 3.15 writes it (checked without Keras),
and against Keras 3.15: its own file of the same model, its loading of glassnet's (predictions,
compile settings, fit going on with the optimizer's state), glassnet's loading of Keras' and
the round trip glassnet -> Keras -> glassnet; fit, predict and summary of such models as Keras'."""
import io
import json
import os
import re
import zipfile
from contextlib import redirect_stdout

import numpy as np
import pytest

import glassnet as gn
from keras_twins import copy_weights

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _two_by_two(lib):
    """Inputs and outputs as dicts whose keys are given out of their sorted order ("b" before
    "a", "z" before "y"): the file keeps the given order, the model's flat order sorts them."""
    ia, ib = lib.Input((3,), name="in_a"), lib.Input((2,), name="in_b")
    h = lib.layers.Dense(4, activation="relu", name="hid")(lib.layers.Concatenate(name="cat")([ia, ib]))
    y = lib.layers.Dense(1, name="d1")(h)
    z = lib.layers.Dense(3, activation="softmax", name="d2")(h)
    return {"b": ib, "a": ia}, {"z": z, "y": y}


def _nested(lib):
    """A model of dict inputs and outputs nested in one of dict inputs and outputs, one of its
    outputs read by a layer, the other an output of the outer model."""
    i, j = lib.Input((4,), name="inner_in"), lib.Input((2,), name="inner_j")
    inner = lib.Model({"q": i, "p": j}, {"zb": lib.layers.Dense(3, name="zb_d")(i),
                                         "ab": lib.layers.Dense(2, name="ab_d")(j)}, name="inner")
    x, w = lib.Input((4,), name="x"), lib.Input((2,), name="w")
    res = inner({"q": x, "p": w})
    return {"xx": x, "ww": w}, {"o": lib.layers.Dense(1, name="out")(res["zb"]), "ab": res["ab"]}


def _reordered(lib):
    """Outputs whose sorted keys run against the order their layers are made in (Keras' weights
    and optimizer slots follow the layers' order, its outputs the keys')."""
    a = lib.Input((3,), name="a")
    h = lib.layers.Dense(4, activation="tanh", name="first")(a)
    h2 = lib.layers.Dense(4, activation="tanh", name="second")(h)
    return {"only": a}, {"b_late": lib.layers.Dense(2, name="late")(h2), "a_early": lib.layers.Dense(1, name="early")(h),
                         "c": lib.layers.Dense(1, name="cc")(h2)}


def _data(rng, n=16):
    x = {"a": rng.normal(size=(n, 3)).astype("float32"), "b": rng.normal(size=(n, 2)).astype("float32")}
    y = {"y": rng.normal(size=(n, 1)).astype("float32"), "z": rng.integers(0, 3, size=(n,))}
    return x, y


def _inputs_of(model, rng, n=8):
    """Random data for the dict of ``model.input`` (glassnet's or Keras')."""
    return {key: rng.normal(size=(n, tensor.shape[-1])).astype("float32") for key, tensor in model.input.items()}


_COMPILE = dict(loss={"y": "mse", "z": "sparse_categorical_crossentropy"},
                loss_weights={"y": 0.5, "z": 2.0}, metrics={"z": ["accuracy"], "y": ["mae"]})
# Keras 3.15's legacy loader cannot read the short "mse" its own .h5 holds back (glassnet writes
# the full name there, glassnet._keras_h5_write): Keras' .h5 files here are of the full name
_LONG = dict(_COMPILE, loss={"y": "mean_squared_error", "z": "sparse_categorical_crossentropy"})


def _config(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


def _h5_attrs(path):
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "r") as f:
        return {key: json.loads(f.attrs[key]) for key in ("model_config", "training_config") if key in f.attrs}


def _assert_same(got, want, atol=1e-6):
    assert isinstance(got, dict) and isinstance(want, dict) and list(got) == list(want)
    for key in want:
        np.testing.assert_allclose(np.asarray(got[key]), np.asarray(want[key]), rtol=1e-5, atol=atol, err_msg=key)


def _assert_same_logs(got, want, rtol=1e-5):
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=rtol, atol=1e-7, err_msg=key)


# -- the file's structure, without Keras -----------------------------------------------------------

def test_the_ends_are_written_as_dicts_in_the_given_order(tmp_path):
    model = gn.Model(*_two_by_two(gn), seed=0)
    model.compile(optimizer="adam", **_COMPILE)
    model.save(tmp_path / "m.keras", save_format="keras")
    config = _config(tmp_path / "m.keras")
    body = config["config"]
    # Keras 3.15's own file of this model says exactly these (the test against Keras compares too)
    assert list(body["input_layers"].items()) == [("b", ["in_b", 0, 0]), ("a", ["in_a", 0, 0])]
    assert list(body["output_layers"].items()) == [("z", ["d2", 0, 0]), ("y", ["d1", 0, 0])]
    assert [e["name"] for e in body["layers"]] == ["in_a", "in_b", "cat", "hid", "d1", "d2"]
    compiled = config["compile_config"]
    assert list(compiled["loss"].items()) == [("y", "mse"), ("z", "sparse_categorical_crossentropy")]
    assert compiled["loss_weights"] == {"y": 0.5, "z": 2.0}
    assert compiled["metrics"] == {"y": ["mae"], "z": ["accuracy"]} and compiled["weighted_metrics"] is None
    pytest.importorskip("h5py")
    model.save(tmp_path / "m.h5", save_format="h5")
    attrs = _h5_attrs(tmp_path / "m.h5")
    legacy = attrs["model_config"]["config"]
    assert legacy["input_layers"] == body["input_layers"] and legacy["output_layers"] == body["output_layers"]
    assert list(attrs["training_config"]["loss"].items()) == [("y", "mean_squared_error"),
                                                              ("z", "sparse_categorical_crossentropy")]
    assert attrs["training_config"]["loss_weights"] == {"y": 0.5, "z": 2.0}


def test_a_dict_of_one_key_stays_a_dict(tmp_path):
    a = gn.Input((3,), name="a")
    model = gn.Model({"only": a}, {"one": gn.layers.Dense(2, name="d")(a)}, seed=0)
    model.save(tmp_path / "m.keras", save_format="keras")
    body = _config(tmp_path / "m.keras")["config"]
    assert body["input_layers"] == {"only": ["a", 0, 0]} and body["output_layers"] == {"one": ["d", 0, 0]}
    # a plain model of one input and output keeps Keras' plain form
    b = gn.Input((3,), name="b")
    gn.Model(b, gn.layers.Dense(2, name="e")(b), seed=0).save(tmp_path / "p.keras", save_format="keras")
    plain = _config(tmp_path / "p.keras")["config"]
    assert plain["input_layers"] == ["b", 0, 0] and plain["output_layers"] == ["e", 0, 0]


def test_a_nested_dict_models_call_is_a_dict_of_tensors(tmp_path):
    gn.Model(*_nested(gn), seed=0).save(tmp_path / "m.keras", save_format="keras")
    body = _config(tmp_path / "m.keras")["config"]
    # the Inputs where Keras lists them: "w" first, read first by the nested model (its "p" sorts first)
    assert [e["name"] for e in body["layers"]] == ["w", "x", "inner", "out"]
    inner = body["layers"][2]
    (node,) = inner["inbound_nodes"]
    (args,) = node["args"]
    assert {key: t["config"]["keras_history"] for key, t in args.items()} == {"q": ["x", 0, 0], "p": ["w", 0, 0]}
    assert node["kwargs"] == {"mask": {"q": None, "p": None}}
    assert inner["config"]["input_layers"] == {"q": ["inner_in", 0, 0], "p": ["inner_j", 0, 0]}
    assert inner["config"]["output_layers"] == {"zb": ["zb_d", 0, 0], "ab": ["ab_d", 0, 0]}
    # the nested call's outputs numbered in its flat order (sorted keys: "ab" 0, "zb" 1), its node from 1
    out = body["layers"][3]["inbound_nodes"][0]["args"][0]["config"]["keras_history"]
    assert out == ["inner", 0, 1]
    assert body["output_layers"] == {"o": ["out", 0, 0], "ab": ["inner", 1, 0]}


def test_an_output_given_no_loss_keeps_its_none_and_nothing_not_given_is_written(tmp_path):
    model = gn.Model(*_two_by_two(gn), seed=0)
    model.compile(optimizer="sgd", loss={"z": "sparse_categorical_crossentropy", "y": None})
    model.save(tmp_path / "m.keras", save_format="keras")
    compiled = _config(tmp_path / "m.keras")["compile_config"]
    assert compiled["loss"] == {"z": "sparse_categorical_crossentropy", "y": None}
    assert compiled["loss_weights"] is None and compiled["metrics"] is None
    # a list given for the dict outputs stays a list, in the flat order (as Keras keeps it)
    model.compile(optimizer="sgd", loss=["mse", "sparse_categorical_crossentropy"], loss_weights=[0.3, 1.0],
                  metrics=[["mae"], ["accuracy"]])
    model.save(tmp_path / "l.keras", save_format="keras")
    compiled = _config(tmp_path / "l.keras")["compile_config"]
    assert compiled["loss"] == ["mse", "sparse_categorical_crossentropy"]
    assert compiled["loss_weights"] == [0.3, 1.0] and compiled["metrics"] == [["mae"], ["accuracy"]]


def test_a_module_less_metric_entry_of_a_legacy_file_is_read_as_keras_reads_it(tmp_path, rng):
    """Keras 3.15's .h5 of a model its legacy loader compiled holds ``"mae"`` as
    ``{"class_name": "MeanAbsoluteError", "config": {...}}``, no module (refused before)."""
    h5py = pytest.importorskip("h5py")
    model = gn.Model(*_two_by_two(gn), seed=0)
    model.compile(optimizer="sgd", **_COMPILE)
    model.save(tmp_path / "m.h5", save_format="h5")
    with h5py.File(tmp_path / "m.h5", "r+") as f:
        training = json.loads(f.attrs["training_config"])
        training["metrics"]["y"] = [{"class_name": "MeanAbsoluteError",
                                     "config": {"name": "mean_absolute_error", "dtype": "float32"}}]
        f.attrs["training_config"] = json.dumps(training)
    back = gn.load_model(tmp_path / "m.h5")
    x, y = _data(rng)
    logs = back.evaluate(x, y, verbose=0, return_dict=True)
    want = np.mean(np.abs(back.predict(x, verbose=0)["y"] - y["y"]))
    assert set(logs) == {"loss", "y_loss", "z_loss", "y_mean_absolute_error", "z_accuracy"}
    np.testing.assert_allclose(logs["y_mean_absolute_error"], want, rtol=1e-6)


@pytest.mark.parametrize("build", [_two_by_two, _nested, _reordered], ids=lambda b: b.__name__)
def test_glassnet_reads_its_keras_file_back_and_fit_goes_on(tmp_path, rng, build):
    model = gn.Model(*build(gn), seed=0)
    x = _inputs_of(model, rng, 16)
    y = {key: rng.normal(size=(16, *model.output[key].shape[1:])).astype("float32") for key in model._output_keys}
    model.compile(optimizer=gn.optimizers.Adam(0.01), loss={key: "mse" for key in reversed(model._output_keys)})
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras", save_format="keras")
    back = gn.load_model(tmp_path / "m.keras")
    assert back._input_keys == model._input_keys and back._output_keys == model._output_keys
    _assert_same(back.predict(x, verbose=0), model.predict(x, verbose=0), atol=0)
    assert back.loss == model.loss.given          # the loss dict, in its order
    # the optimizer's state came back (Keras' layout): the next epoch is the same
    _assert_same_logs(back.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history,
                      model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history)


# -- against Keras 3.15 ----------------------------------------------------------------------------

def _twins(keras, build, compile_settings=None, lr=0.01):
    ours, theirs = gn.Model(*build(gn), seed=0), keras.Model(*build(keras))
    if build is not _nested:            # (Keras' get_layer does not find a nested model's layers)
        copy_weights(ours, theirs)
    if compile_settings is not None:
        ours.compile(optimizer=gn.optimizers.Adam(lr), **compile_settings)
        theirs.compile(optimizer=keras.optimizers.Adam(lr), **compile_settings)
    return ours, theirs


def test_fit_predict_and_summary_as_keras(keras, rng):
    ours, theirs = _twins(keras, _two_by_two, _COMPILE)
    x, y = _data(rng)
    mine = ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    their = theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    _assert_same_logs(mine, their)
    got, want = ours.predict(x, verbose=0), theirs.predict(x, verbose=0)
    _assert_same(got, want)             # a dict, its keys in the order the outputs were given ("z", "y")
    _assert_same_logs(ours.evaluate(x, y, verbose=0, return_dict=True),
                      theirs.evaluate(x, y, verbose=0, return_dict=True))
    # summary: Keras' rows (name, type, output shape, weight count), in Keras' order
    text = io.StringIO()
    with redirect_stdout(text):
        ours.summary()
    rows = [re.split(r"\s{2,}", line.strip()) for line in text.getvalue().splitlines()
            if re.match(r"^\S+ \(\w+\)\s", line) and not line.startswith("Layer (type)")]
    want_rows = [[f"{layer.name} ({type(layer).__name__})", str(tuple(layer.output.shape)),
                  str(layer.count_params())] for layer in theirs.layers]
    assert [row[:3] for row in rows] == want_rows


def test_the_file_is_keras_own(keras, tmp_path):
    """glassnet's .keras and .h5 of the model say what Keras 3.15's own files of it say: the
    layers in their order, the ends, the compile settings (the optimizer's config aside)."""
    pytest.importorskip("h5py")
    ours, theirs = _twins(keras, _two_by_two, _COMPILE)
    ours.save(tmp_path / "g.keras", save_format="keras")
    theirs.save(tmp_path / "k.keras")
    mine, their = _config(tmp_path / "g.keras"), _config(tmp_path / "k.keras")
    for key in ("input_layers", "output_layers"):
        assert json.dumps(mine["config"][key]) == json.dumps(their["config"][key])       # the order too
    assert [e["name"] for e in mine["config"]["layers"]] == [e["name"] for e in their["config"]["layers"]]
    for key in ("loss", "loss_weights", "weighted_metrics"):
        assert json.dumps(mine["compile_config"][key]) == json.dumps(their["compile_config"][key]), key
    assert mine["compile_config"]["metrics"] == their["compile_config"]["metrics"]  # (Keras keeps the dict's order)
    ours.save(tmp_path / "g.h5", save_format="h5")
    keras.saving.save_model(theirs, tmp_path / "k.h5")
    mine, their = _h5_attrs(tmp_path / "g.h5"), _h5_attrs(tmp_path / "k.h5")
    for key in ("input_layers", "output_layers"):
        assert json.dumps(mine["model_config"]["config"][key]) == json.dumps(their["model_config"]["config"][key])
    assert list(mine["training_config"]["loss"]) == list(their["training_config"]["loss"])     # ("mse" in Keras')
    assert json.dumps(mine["training_config"]["loss_weights"]) == json.dumps(their["training_config"]["loss_weights"])
    # nested: the ends, the layers' order and the nested call's node as Keras writes them
    ours, theirs = _twins(keras, _nested)
    ours.save(tmp_path / "gn.keras", save_format="keras")
    theirs.save(tmp_path / "kn.keras")
    mine, their = _config(tmp_path / "gn.keras")["config"], _config(tmp_path / "kn.keras")["config"]
    for key in ("input_layers", "output_layers"):
        assert json.dumps(mine[key]) == json.dumps(their[key])
    assert [e["name"] for e in mine["layers"]] == [e["name"] for e in their["layers"]]

    def node(entry):
        (n,) = entry["inbound_nodes"]
        return {key: t["config"]["keras_history"] for key, t in n["args"][0].items()}, n["kwargs"]
    assert node(mine["layers"][2]) == node(their["layers"][2])


@pytest.mark.parametrize("build", [_two_by_two, _nested, _reordered], ids=lambda b: b.__name__)
def test_keras_loads_glassnets_file_and_fit_goes_on_alike(keras, tmp_path, rng, build):
    """.keras: Keras' fit after loading continues glassnet's (the optimizer's state in the file);
    .h5 (no optimizer state: both start a fresh one): Keras' and glassnet's loaded models alike."""
    pytest.importorskip("h5py")
    ours = gn.Model(*build(gn), seed=0)
    x = _inputs_of(ours, rng, 16)
    y = {key: rng.normal(size=(16, *ours.output[key].shape[1:])).astype("float32") for key in ours._output_keys}
    loss = {key: "mean_squared_error" for key in reversed(ours._output_keys)}
    ours.compile(optimizer=gn.optimizers.Adam(0.01), loss=loss, metrics={ours._output_keys[0]: ["mae"]})
    ours.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for fmt in ("keras", "h5"):
        path = tmp_path / f"g.{fmt}"
        ours.save(path, save_format=fmt)
        theirs = keras.saving.load_model(path)
        assert theirs.output_names == ours.output_names
        _assert_same(theirs.predict(x, verbose=0), ours.predict(x, verbose=0))
        evaluated = theirs.evaluate(x, y, verbose=0, return_dict=True)
        _assert_same_logs(ours.evaluate(x, y, verbose=0, return_dict=True),
                          {k.replace("mean_absolute_error", "mae"): v for k, v in evaluated.items()})
        their = theirs.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history
        going_on = ours if fmt == "keras" else gn.load_model(path)
        mine = going_on.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history
        # (Keras' legacy loader logs "mae" by the function's full name)
        _assert_same_logs(mine, {k.replace("mean_absolute_error", "mae"): v for k, v in their.items()})


@pytest.mark.parametrize("settings", [
    dict(loss={"z": "sparse_categorical_crossentropy", "y": None}),
    dict(loss=["mse", "sparse_categorical_crossentropy"], loss_weights=[0.3, 1.0], metrics=[["mae"], ["accuracy"]]),
    dict(loss={"z": "sparse_categorical_crossentropy", "y": "huber"}, loss_weights={"z": 1.0, "y": 3.0},
         weighted_metrics={"y": ["mae"]}),
    dict(loss="mse", metrics={"y": ["mae"]}),
], ids=["unscored", "lists", "weighted", "one_loss"])
def test_compile_forms_as_keras_writes_them_and_loads_them(keras, tmp_path, rng, settings):
    ours, theirs = _twins(keras, _two_by_two, settings, lr=0.05)
    x, y = _data(rng)
    if settings["loss"] == "mse":
        y = {"y": y["y"], "z": rng.normal(size=(16, 3)).astype("float32")}
    if isinstance(settings["loss"], dict) and settings["loss"].get("y", 0) is None:
        y = {"z": y["z"]}
    _assert_same_logs(ours.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history,
                      theirs.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history)
    ours.save(tmp_path / "g.keras", save_format="keras")
    theirs.save(tmp_path / "k.keras")
    mine, their = _config(tmp_path / "g.keras")["compile_config"], _config(tmp_path / "k.keras")["compile_config"]
    for key in ("loss", "loss_weights", "metrics", "weighted_metrics"):
        assert json.dumps(mine[key]) == json.dumps(their[key]), key
    loaded = keras.saving.load_model(tmp_path / "g.keras")
    _assert_same_logs(ours.evaluate(x, y, verbose=0, return_dict=True),
                      loaded.evaluate(x, y, verbose=0, return_dict=True))


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_glassnet_reads_keras_file_and_round_trips(keras, tmp_path, rng, fmt):
    """Keras' file -> glassnet: the same dicts, predictions, compile settings and fit going on
    (plain SGD for .h5, whose optimizer state glassnet does not read); glassnet's file of it
    loads in Keras again, the same."""
    pytest.importorskip("h5py")
    theirs = keras.Model(*_two_by_two(keras))
    optimizer = keras.optimizers.Adam(0.01) if fmt == "keras" else keras.optimizers.SGD(0.1)
    settings = _COMPILE if fmt == "keras" else _LONG
    theirs.compile(optimizer=optimizer, **settings)
    x, y = _data(rng)
    theirs.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    keras.saving.save_model(theirs, tmp_path / f"k.{fmt}")
    ours = gn.load_model(tmp_path / f"k.{fmt}")
    assert list(ours.input) == ["b", "a"] and list(ours.output) == ["z", "y"]
    assert ours.loss == settings["loss"]
    _assert_same(ours.predict(x, verbose=0), theirs.predict(x, verbose=0))
    _assert_same_logs(ours.evaluate(x, y, verbose=0, return_dict=True),
                      theirs.evaluate(x, y, verbose=0, return_dict=True))
    _assert_same_logs(ours.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history,
                      theirs.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history)
    # glassnet -> Keras -> glassnet
    ours.save(tmp_path / f"g.{fmt}", save_format=fmt)
    again = keras.saving.load_model(tmp_path / f"g.{fmt}")
    _assert_same(again.predict(x, verbose=0), ours.predict(x, verbose=0))
    keras.saving.save_model(again, tmp_path / f"k2.{fmt}")
    back = gn.load_model(tmp_path / f"k2.{fmt}")
    _assert_same(back.predict(x, verbose=0), ours.predict(x, verbose=0))
    # (Keras' .h5 of a model its legacy loader compiled names "mae" MeanAbsoluteError, no module:
    # read as Keras reads it, logged as "y_mean_absolute_error" by both)
    _assert_same_logs(back.evaluate(x, y, verbose=0, return_dict=True),
                      keras.saving.load_model(tmp_path / f"k2.{fmt}").evaluate(x, y, verbose=0, return_dict=True))
    assert back._input_keys == ["b", "a"] and back._output_keys == ["z", "y"] and list(back.loss.given) == ["y", "z"]


def _shared(lib):
    """A nested model of dict inputs called twice (two nodes, each a dict of tensors)."""
    i, j = lib.Input((4,), name="ii"), lib.Input((2,), name="jj")
    joined = lib.layers.Concatenate(name="c")([i, j])
    inner = lib.Model({"q": i, "p": j}, {"s": lib.layers.Dense(3, name="sd")(joined)}, name="inner")
    x, w, v = lib.Input((4,), name="x"), lib.Input((2,), name="w"), lib.Input((2,), name="v")
    a, b = inner({"q": x, "p": w})["s"], inner({"q": x, "p": v})["s"]
    return {"x": x, "w": w, "v": v}, {"out": lib.layers.Add(name="add")([a, b])}


def test_a_shared_nested_dict_model_is_written_as_keras_writes_it(keras, tmp_path, rng):
    ours, theirs = gn.Model(*_shared(gn), seed=0), keras.Model(*_shared(keras))
    ours.save(tmp_path / "g.keras", save_format="keras")
    theirs.save(tmp_path / "k.keras")
    mine, their = _config(tmp_path / "g.keras")["config"], _config(tmp_path / "k.keras")["config"]

    def nodes(config):
        def history(arg):
            if isinstance(arg, dict) and arg.get("class_name") != "__keras_tensor__":
                return {key: t["config"]["keras_history"] for key, t in arg.items()}
            return [t["config"]["keras_history"] for t in (arg if isinstance(arg, list) else [arg])]
        return [(e["name"], [(history(n["args"][0]), n["kwargs"]) for n in e["inbound_nodes"]])
                for e in config["layers"]]
    assert nodes(mine) == nodes(their)
    for key in ("input_layers", "output_layers"):
        assert json.dumps(mine[key]) == json.dumps(their[key])
    x = _inputs_of(ours, rng)
    for fmt in ("keras", "h5"):
        ours.save(tmp_path / f"g.{fmt}", save_format=fmt)
        _assert_same(keras.saving.load_model(tmp_path / f"g.{fmt}").predict(x, verbose=0), ours.predict(x, verbose=0))
