"""Models nested in a functional model, in Keras files (glassnet._keras_nesting): written nested, as
Keras 3.15 writes them, and read back. Every case is made twice, in Keras and in glassnet, with
the same names, and compared live:

- the files' structure: config.json's entries (class, name, each node's ``keras_history`` and
  keywords, the inputs and outputs), model.weights.h5's groups and datasets (paths and shapes:
  the weights' groups under the nested model's, the optimizer's slots in Keras' order), and a
  legacy .h5's ``layer_names`` and ``weight_names``;
- glassnet's file loaded in Keras: predictions, ``model.layers``' names and ``output_names`` as
  Keras' own model's, and ``fit`` continuing as glassnet's (the optimizer's state);
- Keras' file loaded in glassnet: predictions and output names, ``fit`` continuing as Keras',
  and glassnet's re-save loaded by Keras again (a round trip).
"""
import io
import json
import zipfile

import numpy as np
import pytest

import glassnet as gn

h5py = pytest.importorskip("h5py")


# -- the models, each made of either module by the same code --------------------------------------
def _two(mod, name="two", units=2):
    """A functional model of one input and two outputs."""
    i = mod.Input((4,), name=f"{name}_in")
    return mod.Model(i, [mod.layers.Dense(3, name=f"{name}_a")(i), mod.layers.Dense(units, name=f"{name}_b")(i)],
                     name=name)


def nested_functional(mod):
    a = mod.Input((4,), name="a")
    sub = mod.Model(a, mod.layers.Dense(3, activation="relu", name="h")(a), name="sub")
    x = mod.Input((4,), name="x")
    return mod.Model(x, mod.layers.Dense(2, name="out")(sub(x)), name="outer")


def nested_sequential(mod):
    seq = mod.Sequential([mod.Input((4,), name="seq_in"), mod.layers.Dense(5, activation="tanh", name="s1"),
                          mod.layers.Dense(3, name="s2")], name="seq")
    x = mod.Input((4,), name="x")
    return mod.Model(x, [mod.layers.Dense(2, name="out")(seq(x)), seq(x)], name="outer")


def shared_twice(mod):
    """One model of two outputs called twice, after a nested Sequential, its outputs crossed."""
    x = mod.Input((4,), name="x")
    two = _two(mod)
    seq = mod.Sequential([mod.Input((4,), name="seq_in"), mod.layers.Dense(4, name="sd")], name="seq")
    a, b = two(seq(x))
    _, b2 = two(x)
    return mod.Model(x, [mod.layers.Concatenate(name="cat")([a, b2]), b], name="outer")


def nested_in_nested(mod):
    """A functional model nesting a Sequential and a functional model, nested in the outer one."""
    i = mod.Input((4,), name="mid_in")
    inner = _two(mod, "inner")
    deep = mod.Sequential([mod.Input((3,), name="deep_in"), mod.layers.Dense(3, name="deep_d")], name="deep")
    p, q = inner(i)
    mid = mod.Model(i, mod.layers.Add(name="mid_add")([deep(p), mod.layers.Dense(3, name="mid_d")(q)]), name="mid")
    x = mod.Input((4,), name="x")
    return mod.Model(x, mod.layers.Dense(1, name="out")(mid(x)), name="outer")


def several_in_out(mod):
    a, b = mod.Input((3,), name="ia"), mod.Input((2,), name="ib")
    joined = mod.layers.Concatenate(name="ij")([a, b])
    inner = mod.Model([a, b], [mod.layers.Dense(4, name="i1")(joined), mod.layers.Dense(2, name="i2")(b)],
                      name="inner")
    x, y = mod.Input((3,), name="x"), mod.Input((2,), name="y")
    u, v = inner([x, y])
    return mod.Model([x, y], [v, mod.layers.Dense(1, name="out")(u)], name="outer")


def unread_output(mod):
    """A nested model's second output left unread (its layer two_b: weights, no gradient)."""
    x = mod.Input((4,), name="x")
    return mod.Model(x, [_two(mod)(x)[0], mod.layers.Dense(1, name="plain")(x)], name="outer")


def shared_layer_around(mod):
    """A nested model of two inputs, one made by a layer the outer model calls again on its output
    (the inner model's first call reads its other input: its node waits for both)."""
    a, b = mod.Input((3,), name="ia"), mod.Input((2,), name="ib")
    inner = mod.Model([a, b], mod.layers.Concatenate(name="ic")([mod.layers.Dense(2, name="ia_d")(a), b]),
                      name="inner")
    x, y = mod.Input((3,), name="x"), mod.Input((2,), name="y")
    shared = mod.layers.Dense(2, name="shared")
    joined = inner([x, shared(y)])
    return mod.Model([x, y], [shared(mod.layers.Dense(2, name="d2")(joined)), joined], name="outer")


def unread_deeper(mod):
    """An unread output of a model nested in a nested model: its weights are the middle model's."""
    i = mod.Input((4,), name="mid_in")
    mid = mod.Model(i, _two(mod)(i)[0], name="mid")
    x = mod.Input((4,), name="x")
    return mod.Model(x, mod.layers.Dense(1, name="out")(mid(x)), name="outer")


CASES = [nested_functional, nested_sequential, shared_twice, nested_in_nested, several_in_out, unread_output,
         shared_layer_around, unread_deeper]


def _data(model, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [tuple(t.shape[1:]) for t in model.inputs]
    x = [rng.normal(size=(16, *s)).astype("float32") for s in shapes]
    y = [rng.normal(size=(16, *tuple(t.shape[1:]))).astype("float32") for t in model.outputs]
    return (x if len(x) > 1 else x[0]), (y if len(y) > 1 else y[0])


def _fit(model, x, y):
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)


def _outputs(values):
    return values if isinstance(values, list) else [values]


def _assert_close(ours, theirs, atol):
    for a, b in zip(_outputs(ours), _outputs(theirs), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=atol)


def _keras_made(keras, case):
    model = case(keras)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def _ours_made(case):
    model = case(gn)
    model.compile(optimizer=gn.optimizers.Adam(0.01, rule="keras"), loss="mse")
    return model


# -- the files' structure ------------------------------------------------------------------------
def _histories(value):
    """Each ``keras_history`` in a node's arguments, in order (nested lists kept)."""
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        return value["config"]["keras_history"]
    if isinstance(value, list):
        return [_histories(v) for v in value]
    if isinstance(value, dict):
        return {k: _histories(v) for k, v in value.items()}
    return value


def _skeleton(spec, in_sequential=False):
    """What Keras reads of a model's config: each entry's class, name and nodes, and the ends;
    a functional model's entries by name (their list's order is not read), a Sequential's in order
    (its Input's name aside: Keras reads none there)."""
    config = spec["config"]
    name = None if in_sequential and spec["class_name"] == "InputLayer" else config.get("name")
    out = {"class_name": spec["class_name"], "name": name,
           "nodes": [_histories(node) for node in spec.get("inbound_nodes", [])]}
    if isinstance(config.get("layers"), list):
        sequential = spec["class_name"] == "Sequential"
        entries = [_skeleton(entry, sequential) for entry in config["layers"]]
        out["layers"] = entries if sequential else sorted(entries, key=lambda e: e["name"])
        if not sequential:
            out["ends"] = [config["input_layers"], config["output_layers"]]
    return out


def _keras_file(path):
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
        data = archive.read("model.weights.h5")
    found = {}
    with h5py.File(io.BytesIO(data), "r") as h5:
        h5.visititems(lambda name, item: found.__setitem__(name, getattr(item, "shape", "group")))
    return _skeleton(config), found


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def _legacy_file(path):
    with h5py.File(path, "r") as h5:
        weights = h5["model_weights"]
        names = [_text(n) for n in weights.attrs["layer_names"]]
        return names, {n: [_text(w) for w in weights[n].attrs["weight_names"]] for n in names}, \
            _skeleton(json.loads(h5.attrs["model_config"]))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_keras_file_structure_is_keras_own(keras, tmp_path, case):
    """glassnet's .keras file of the model is what Keras writes for it: config, weights' groups,
    the optimizer's slots (shapes, in order), once both have trained."""
    theirs, ours = _keras_made(keras, case), _ours_made(case)
    x, y = _data(ours)
    _fit(theirs, x, y)
    _fit(ours, x, y)
    theirs.save(str(tmp_path / "k.keras"))
    ours.save(str(tmp_path / "g.keras"), save_format="keras")
    want_config, want_h5 = _keras_file(tmp_path / "k.keras")
    got_config, got_h5 = _keras_file(tmp_path / "g.keras")
    assert got_config == want_config
    assert got_h5 == want_h5


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_legacy_h5_structure_is_keras_own(keras, tmp_path, case):
    theirs, ours = _keras_made(keras, case), _ours_made(case)
    x, y = _data(ours)
    _fit(theirs, x, y)
    _fit(ours, x, y)
    keras.saving.save_model(theirs, str(tmp_path / "k.h5"))
    ours.save(str(tmp_path / "g.h5"), save_format="h5")
    assert _legacy_file(tmp_path / "g.h5") == _legacy_file(tmp_path / "k.h5")


# -- glassnet's file in Keras ----------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["keras", "h5"])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_keras_loads_glassnet_file_nested(keras, tmp_path, case, fmt):
    ours = _ours_made(case)
    x, y = _data(ours)
    _fit(ours, x, y)
    path = str(tmp_path / f"m.{fmt}")
    ours.save(path, save_format=fmt)
    loaded = keras.saving.load_model(path)
    _assert_close(ours.predict(x, verbose=0), loaded.predict(x, verbose=0), 1e-6)
    own = case(keras)           # Keras' own model of the same code: its layers and output names
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in own.layers]
    assert loaded.output_names == own.output_names == ours.output_names
    if fmt == "keras":          # the optimizer's state: training goes on as here
        _fit(ours, x, y)
        _fit(loaded, x, y)
        _assert_close(ours.predict(x, verbose=0), loaded.predict(x, verbose=0), 1e-5)


# -- Keras' file in glassnet, and back -------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["keras", "h5"])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_glassnet_loads_keras_file_and_writes_it_back(keras, tmp_path, case, fmt):
    """Keras' file read (an unread branch's weights kept), written back in Keras' own layout, and
    Keras' load of that holds Keras' weights; from a .keras file training goes on alike."""
    theirs = _keras_made(keras, case)
    x, y = _data(theirs)
    _fit(theirs, x, y)
    structure = _keras_file if fmt == "keras" else _legacy_file
    keras.saving.save_model(theirs, str(tmp_path / f"k.{fmt}"))
    ours = gn.load_model(str(tmp_path / f"k.{fmt}"))
    assert ours.output_names == theirs.output_names
    _assert_close(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), 1e-6)
    ours.save(str(tmp_path / f"g.{fmt}"), save_format=fmt)
    assert structure(tmp_path / f"g.{fmt}") == structure(tmp_path / f"k.{fmt}")
    back = keras.saving.load_model(str(tmp_path / f"g.{fmt}"))
    for a, b in zip(back.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    if fmt == "keras":          # the optimizer's state read and written: training goes on alike
        for model in (theirs, ours, back):
            _fit(model, x, y)
        _assert_close(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), 1e-5)
        _assert_close(back.predict(x, verbose=0), theirs.predict(x, verbose=0), 1e-5)


def test_unread_branch_weights_kept_and_untrained(keras, tmp_path):
    """The unread layer's weights ride along on the nested model (not in model.layers, as
    documented), stay as Keras' file had them through glassnet's fit, and its written slots are
    Keras' zeros (Keras drops its None gradient: its slots stay zero)."""
    theirs = _keras_made(keras, unread_output)
    x, y = _data(theirs)
    _fit(theirs, x, y)
    theirs.save(str(tmp_path / "k.keras"))
    ours = gn.load_model(str(tmp_path / "k.keras"))
    assert "two_b" not in [layer.name for layer in ours.layers]
    want = theirs.get_layer("two").get_layer("two_b").get_weights()
    _fit(ours, x, y)
    ours.save(str(tmp_path / "g.keras"), save_format="keras")
    back = keras.saving.load_model(str(tmp_path / "g.keras"))
    for a, b in zip(back.get_layer("two").get_layer("two_b").get_weights(), want, strict=True):
        np.testing.assert_array_equal(a, b)
    slots = [v for v in back.optimizer.variables if "two_b" in v.path]
    assert len(slots) == 4 and all(not np.asarray(v).any() for v in slots)


def test_subclass_block_nested_still_written_flat(keras, tmp_path):
    """A block drawn from a subclass' call has no config of Keras' form: the model nesting it is
    written flattened, as before, and Keras loads it with glassnet's predictions."""
    class Block(gn.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.d = gn.layers.Dense(3, name="bd")

        def call(self, inputs):
            return self.d(inputs)

    x = gn.Input((4,), name="x")
    model = gn.Model(x, gn.layers.Dense(2, name="out")(Block(name="block")(x)), name="outer")
    data = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    model.save(str(tmp_path / "m.keras"), save_format="keras")
    loaded = keras.saving.load_model(str(tmp_path / "m.keras"))
    assert [layer.name for layer in loaded.layers] == ["x", "bd", "out"]
    _assert_close(model.predict(data, verbose=0), loaded.predict(data, verbose=0), 1e-6)

