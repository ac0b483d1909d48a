"""gn.saving.KerasFileEditor against Keras 3.15's keras.saving.KerasFileEditor: the same weights_dict
and object_metadata on the same files, the same edits giving files that Keras' and glassnet's
load_weights read into the edited architecture, compare's counts, and refusals of bad input."""
import os
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import ModelFileError

h5py = pytest.importorskip("h5py")


def _flat(tree, path=""):
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out[f"{path}/{key}/"] = None            # (an object, empty or not)
            out.update(_flat(value, f"{path}/{key}"))
        else:
            out[f"{path}/{key}"] = np.asarray(value)
    return out


def _same_tree(ours, theirs):
    a, b = _flat(ours), _flat(theirs)
    assert list(a) == list(b) or sorted(a) == sorted(b)
    for key, value in a.items():
        if value is not None:
            assert value.dtype == b[key].dtype and value.shape == b[key].shape
            np.testing.assert_array_equal(value, b[key])


def _quiet(cls, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(path)


def _glassnet_mlp(units=(3, 2), seed=0):
    model = gn.Sequential([gn.Input(shape=(4,))] + [gn.layers.Dense(u) for u in units], seed=seed)
    model.build()
    return model


# -- the same tree as Keras' editor ------------------------------------------------------------------
def _keras_files(keras, tmp_path):
    x, y = np.ones((4, 5), "float32"), np.ones((4, 2), "float32")
    plain = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    compiled = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)])
    compiled.compile("adam", "mse")
    compiled.fit(x, y, verbose=0)
    i = keras.Input((6, 4))
    h = keras.layers.MultiHeadAttention(2, 3)(i, i)
    h = keras.layers.LSTM(3, return_sequences=True)(h)
    h = keras.layers.BatchNormalization()(h)
    sub = keras.Model(i, keras.layers.Dense(2)(h))
    files = []
    for name, model in (("plain", plain), ("compiled", compiled), ("sub", sub)):
        for ext in (".keras", ".weights.h5"):
            path = str(tmp_path / f"{name}{ext}")
            model.save(path) if ext == ".keras" else model.save_weights(path)
            files.append(path)
    return files


def test_same_tree_as_keras_on_keras_files(keras, tmp_path, capsys):
    for path in _keras_files(keras, tmp_path):
        theirs = keras.saving.KerasFileEditor(path)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ours = gn.saving.KerasFileEditor(path)
        _same_tree(ours.weights_dict, theirs.weights_dict)
        assert ours.object_metadata == theirs.object_metadata
        assert ours.config == theirs.config and ours.metadata == theirs.metadata
        # an LSTM's own vars are empty: Keras leaves its cell out; glassnet says so
        assert ("lstm" in str([str(w.message) for w in caught])) == ("sub" in path)
    ours.summary()
    assert "batch_normalization" in capsys.readouterr().out     # (MultiHeadAttention's own vars are empty too)


def test_same_tree_as_keras_on_glassnet_files(keras, tmp_path):
    model = _glassnet_mlp()
    for path in (str(tmp_path / "g.keras"), str(tmp_path / "g.weights.h5")):
        model.save(path, save_format="keras") if path.endswith(".keras") else model.save_weights(path)
        _same_tree(_quiet(gn.saving.KerasFileEditor, path).weights_dict,
                   keras.saving.KerasFileEditor(path).weights_dict)


# -- edits: the same files, which both load into the edited architecture ---------------------------
EDITS = [
    # (edits as (method, args), the edited model's Dense units, and whether the last has a bias)
    ("add_object", [("add_object", ("layers/dense_2", "NEW"))], (3, 2, 5), True),
    ("delete_object", [("delete_object", ("dense_1",))], (3,), True),
    ("rename_then_add", [("rename_object", ("layers/dense_1", "dense_2")),
                         ("add_object", ("layers/dense_1", "MID"))], (3, 3, 2), True),
    ("delete_weight", [("delete_weight", ("layers/dense_1", "1"))], (3, 2), False),
    ("add_weights", [("delete_weight", ("dense_1", "1")), ("add_weights", ("dense_1", "BIAS"))], (3, 2), True),
]


def _arguments(args, rng):
    values = {"NEW": {"0": rng.normal(size=(2, 5)).astype("float32"), "1": rng.normal(size=5).astype("float32")},
              "MID": {"0": rng.normal(size=(3, 3)).astype("float32"), "1": rng.normal(size=3).astype("float32")},
              "BIAS": {"1": np.arange(2, dtype="float32")}}
    return tuple(values.get(a, a) if isinstance(a, str) else a for a in args)


@pytest.mark.parametrize("name, edits, units, bias", EDITS, ids=[e[0] for e in EDITS])
def test_edits_as_keras(keras, tmp_path, name, edits, units, bias):
    source = str(tmp_path / "source.weights.h5")
    _glassnet_mlp().save_weights(source)
    ours, theirs = _quiet(gn.saving.KerasFileEditor, source), keras.saving.KerasFileEditor(source)
    for method, args in edits:
        getattr(ours, method)(*_arguments(args, np.random.default_rng(0)))
        getattr(theirs, method)(*_arguments(args, np.random.default_rng(0)))
    _same_tree(ours.weights_dict, theirs.weights_dict)
    ours.save(str(tmp_path / "ours.weights.h5"))
    theirs.save(str(tmp_path / "theirs.weights.h5"))

    def keras_model():
        layers = [keras.layers.Dense(u, use_bias=bias or k < len(units) - 1) for k, u in enumerate(units)]
        return keras.Sequential([keras.Input((4,))] + layers)
    x = np.random.default_rng(1).normal(size=(3, 4)).astype("float32")
    outputs = []
    for file in ("ours", "theirs"):
        path = str(tmp_path / f"{file}.weights.h5")
        k = keras_model()
        k.load_weights(path)
        g = gn.Sequential([gn.Input(shape=(4,))] + [gn.layers.Dense(u, use_bias=bias or i < len(units) - 1)
                                                    for i, u in enumerate(units)])
        g.build()
        g.load_weights(path)
        outputs += [np.asarray(k(x)), g.predict(x)]
        _same_tree(_quiet(gn.saving.KerasFileEditor, path).weights_dict, ours.weights_dict)
    for out in outputs[1:]:
        np.testing.assert_allclose(out, outputs[0], rtol=1e-5, atol=1e-6)


def test_compare_as_keras(keras, tmp_path, capsys):
    """The same verdict as Keras' compare; the match count is the number of the reference's weights
    found at the same path with the same shape (Keras 3.15 adds a sibling's running count again:
    6 for a file and model of two Dense layers, glassnet 4)."""
    path = str(tmp_path / "m.weights.h5")
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)]).save_weights(path)
    file = _flat(keras.saving.KerasFileEditor(path).weights_dict)
    for units in ((3, 2), (3, 2, 5), (3, 4), (2,)):
        reference = keras.Sequential([keras.Input((4,))] + [keras.layers.Dense(u) for u in units])
        theirs = keras.saving.KerasFileEditor(path).compare(reference)
        ours = _quiet(gn.saving.KerasFileEditor, path).compare(_glassnet_mlp(units))
        assert ours["status"] == theirs["status"] and (ours["error_count"] == 0) == (theirs["error_count"] == 0)
        reference.save_weights(str(tmp_path / "r.weights.h5"))
        spec = _flat(keras.saving.KerasFileEditor(str(tmp_path / "r.weights.h5")).weights_dict)
        assert ours["match_count"] == sum(v is not None and k in file and file[k].shape == v.shape
                                          for k, v in spec.items())
    assert "Comparison successful" in capsys.readouterr().out


# -- without Keras ---------------------------------------------------------------------------------------
def test_round_trip_and_compare_without_keras(tmp_path, capsys):
    source = str(tmp_path / "a.weights.h5")
    model = _glassnet_mlp()
    model.save_weights(source)
    editor = _quiet(gn.saving.KerasFileEditor, source)
    assert editor.compare(model) == {"status": "success", "error_count": 0, "match_count": 4}
    kernel = np.full((2, 5), 0.5, "float32")
    editor.add_object("layers/dense_2", {"0": kernel, "1": np.zeros(5, "float32")})
    assert editor.compare(model)["error_count"] == 1
    bigger = _glassnet_mlp((3, 2, 5), seed=3)
    assert editor.compare(bigger)["status"] == "success"
    editor.resave_weights(str(tmp_path / "b.weights.h5"))
    bigger.load_weights(str(tmp_path / "b.weights.h5"))
    np.testing.assert_array_equal(bigger.layers[-1].get_weights()[0], kernel)
    np.testing.assert_array_equal(bigger.layers[0].get_weights()[0], model.layers[0].get_weights()[0])
    assert "Weights structure" not in capsys.readouterr().out
    editor.summary()
    assert "dense_2" in capsys.readouterr().out


def test_keras_file_with_optimizer_compares_without_it(tmp_path):
    model = gn.Sequential([gn.layers.Dense(2)])
    model.build((None, 3))
    path = str(tmp_path / "m.keras")
    model.save(path, save_format="keras")
    editor = _quiet(gn.saving.KerasFileEditor, path)
    editor.weights_dict["optimizer"] = {"0": np.zeros((), "int64")}
    assert editor.compare(model)["status"] == "success"


@pytest.fixture
def editor(tmp_path):
    path = str(tmp_path / "e.weights.h5")
    _glassnet_mlp().save_weights(path)
    return _quiet(gn.saving.KerasFileEditor, path)


@pytest.mark.parametrize("call, error, match", [
    (lambda e: e.delete_object("nothing"), ValueError, "does not appear"),
    (lambda e: e.delete_object("layers/nothing"), ValueError, "not found"),
    (lambda e: e.rename_object("dense", "layers/x"), ValueError, "leaf name"),
    (lambda e: e.rename_object("dense", "dense_1"), ValueError, "already"),
    (lambda e: e.rename_object(3, "x"), TypeError, "object_name must be a name"),
    (lambda e: e.add_object("layers/dense", {"0": np.zeros(2)}), ValueError, "already in the file"),
    (lambda e: e.add_object("nope/dense_9", {"0": np.zeros(2)}), ValueError, "'nope' not found"),
    (lambda e: e.add_object("layers/dense_9", [np.zeros(2)]), ValueError, "weights must be a dict"),
    (lambda e: e.add_weights("dense", {"0": np.array(["a"])}), TypeError, "numeric array"),
    (lambda e: e.add_weights("dense", {"a/b": np.zeros(2)}), ValueError, "without '/'"),
    (lambda e: e.delete_weight("dense", "7"), ValueError, "Weight '7' not found"),
    (lambda e: e.save("x.keras"), ValueError, "ending in .weights.h5"),
    (lambda e: e.save(None), TypeError, "filepath must be a str"),
])
def test_bad_input_is_refused(editor, call, error, match):
    with pytest.raises(error, match=match):
        call(editor)


def test_a_name_found_twice_needs_a_path(editor):
    editor.add_object("optimizer", {"0": np.zeros(2)})
    editor.add_object("layers/dense_1/dense", {"0": np.zeros(2)})
    with pytest.raises(ValueError, match="occurs 2 times"):
        editor.delete_object("dense")
    editor.delete_object("optimizer")           # (Keras 3.15 counts a single name twice beside an optimizer group)
    editor.delete_object("layers/dense")
    assert "dense" in editor.weights_dict["layers"]["dense_1"]


@pytest.mark.parametrize("name", ["model.h5", "model.npz"])
def test_other_extensions_are_refused(tmp_path, name):
    with pytest.raises(ValueError, match="ending in .keras or .weights.h5"):
        gn.saving.KerasFileEditor(str(tmp_path / name))


def test_soft_link_is_refused(tmp_path):
    path = str(tmp_path / "link.weights.h5")
    _glassnet_mlp().save_weights(path)
    with h5py.File(path, "a") as h5:
        h5["layers/dense_1/vars/2"] = h5py.SoftLink("/layers/dense/vars/0")
    with pytest.raises(ModelFileError, match="SoftLink"):
        gn.saving.KerasFileEditor(path)


def test_file_larger_than_max_bytes_is_refused(tmp_path):
    path = str(tmp_path / "big.weights.h5")
    _glassnet_mlp().save_weights(path)
    with pytest.raises(ModelFileError, match="max_bytes=100"):
        gn.saving.KerasFileEditor(path, max_bytes=100)


def test_save_is_atomic(editor, tmp_path, monkeypatch):
    target = tmp_path / "out.weights.h5"
    target.write_bytes(b"old")
    import glassnet._file_editor as module
    monkeypatch.setattr(module, "_write_tree", lambda *a: (_ for _ in ()).throw(RuntimeError("disk")))
    with pytest.raises(RuntimeError):
        editor.save(str(target))
    assert target.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["e.weights.h5", "out.weights.h5"]
