"""Inputs given as a dict, ``Model({"a": ia, "b": ib}, outputs)`` (glassnet._dictinputs): ordered,
keyed, predicted and trained as Keras 3.15 does it from the same weights, checked by finite
differences, and kept through configs, files, copies, clones and nesting."""
import os
import pickle

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_model
from keras_twins import copy_weights, train_both

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
L = gn.layers


def _keyed(lib, dtype=None):
    """Two Inputs whose names sort the other way round from their keys, given in neither order:
    a test tells which of them orders the inputs and keys the data."""
    kw = {} if dtype is None else {"dtype": dtype}
    wide, deep = lib.Input((3,), name="z_wide"), lib.Input((4,), name="a_deep")
    h = lib.layers.Dense(5, activation="tanh", name="hidden", **kw)(deep)
    out = lib.layers.Dense(1, name="out", **kw)(lib.layers.Concatenate(name="joined")([wide, h]))
    return {"wide": wide, "deep": deep}, out


def _data(rng, n=24, dtype=np.float32):
    return ({"wide": rng.standard_normal((n, 3)).astype(dtype), "deep": rng.standard_normal((n, 4)).astype(dtype)},
            rng.standard_normal((n, 1)).astype(dtype))


def _twins():
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = gn.Model(*_keyed(gn), seed=0), keras.Model(*_keyed(keras))
    copy_weights(ours, theirs)
    return keras, ours, theirs


def test_the_inputs_are_keyed_and_ordered_as_keras_does_it(rng):
    with pytest.warns(UserWarning, match="keys in the dict must match the names"):      # Keras' (not glassnet's)
        keras, ours, theirs = _twins()
    # the flat order: the keys sorted ("deep", "wide"), not the Inputs' names nor the dict's order
    assert [given.name for given in ours.inputs] == [t.name for t in theirs.inputs] == ["a_deep", "z_wide"]
    assert list(ours.input) == list(theirs.input) == ["wide", "deep"] and ours.input["wide"] is ours.inputs[1]
    assert ours.input_shapes == [(4,), (3,)]
    x, _ = _data(rng)
    for given in (x, {**x, "unused": x["wide"]}):     # keys beyond the model's are left alone, as Keras does
        np.testing.assert_allclose(ours.predict(given), theirs.predict(given, verbose=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours(x), theirs(x), rtol=1e-5, atol=1e-6)
    # a list in the flat order too (Keras 3.15 refuses a list for dict inputs, in either order)
    np.testing.assert_array_equal(ours.predict([x["deep"], x["wide"]]), ours.predict(x))
    with pytest.raises(ValueError, match="input 'a_deep' takes samples of shape"):
        ours.predict([x["wide"], x["deep"]])
    # Keras 3.15 keys the data by the dict's keys only: the Inputs' names are refused by both
    by_names = {"z_wide": x["wide"], "a_deep": x["deep"]}
    with pytest.raises(ValueError, match="Missing data for input"):
        theirs.predict(by_names, verbose=0)
    with pytest.raises(ValueError, match=r"keys \['deep', 'wide'\] \(the keys of the model's inputs dict\).*missing"):
        ours.predict(by_names)


def test_training_on_dicts_follows_keras(rng):
    _, ours, theirs = _twins()
    x, y = _data(rng)
    mine, their = train_both(ours, theirs, x, y, "mse", 0.1, batch_size=8)
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert np.isclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=1e-5)
    history = ours.fit(x, y, epochs=1, validation_data=(x, y), verbose=0).history
    assert set(history) == {"loss", "val_loss"}


def test_the_gradients_of_a_dict_model_are_right(rng):
    model = gn.Model(*_keyed(gn), seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    x, y = _data(rng, n=6, dtype=np.float64)
    assert check_model(model, x, y)["max_error"] < 1e-7


def test_a_dict_of_one_input_and_what_is_refused(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    built = []
    for lib in (gn, keras):
        given = lib.Input((3,), name="c")
        built.append(lib.Model({"x": given}, lib.layers.Dense(2, name="d")(given)))
    ours, theirs = built
    copy_weights(ours, theirs)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    assert list(ours.input) == list(theirs.input) == ["x"]
    for given in ({"x": x}, x):         # the array itself too (Keras warns, and takes it)
        np.testing.assert_allclose(ours.predict(given), theirs.predict(given, verbose=0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="'x'"):
        ours.predict({"c": x})
    given = gn.Input((3,))
    with pytest.raises(ValueError, match="empty dict"):
        gn.Model({}, L.Dense(1)(given))
    with pytest.raises(TypeError, match="keys of inputs must be non-empty strings"):
        gn.Model({1: given}, L.Dense(1)(given))
    with pytest.raises(TypeError, match=r"inputs\['a'\] must be what glassnet.Input"):
        gn.Model({"a": L.Dense(1)(given)}, L.Dense(1)(given))


def test_configs_files_copies_and_clones_keep_the_keys(rng, tmp_path):
    model = gn.Model(*_keyed(gn), seed=0)
    x, _ = _data(rng)
    expected = model.predict(x)
    config = model.get_config()
    assert config["input_keys"] == ["wide", "deep"] and [spec["name"] for spec in config["inputs"]] == ["a_deep", "z_wide"]
    model.save(tmp_path / "m.npz")
    for other in (gn.Model.from_config(config), gn.load_model(tmp_path / "m.npz"), pickle.loads(pickle.dumps(model)),
                  gn.models.clone_model(model), gn.models.model_from_json(model.to_json())):
        assert list(other.input) == ["wide", "deep"] and [given.name for given in other.inputs] == ["a_deep", "z_wide"]
        assert other.predict(x).shape == (24, 1)
    for other in (gn.load_model(tmp_path / "m.npz"), pickle.loads(pickle.dumps(model))):
        np.testing.assert_array_equal(other.predict(x), expected)
    for bad in (["wide"], ["wide", "wide"], ["wide", ""], "wide"):
        with pytest.raises(ValueError, match="'input_keys' must list 2 distinct"):
            gn.Model.from_config({**config, "input_keys": bad})


def test_a_dict_model_called_on_a_dict_of_tensors(rng):
    inner = gn.Model(*_keyed(gn), seed=0)
    wide, deep = gn.Input((3,)), gn.Input((4,))
    called = inner({"deep": deep, "wide": wide})        # by the keys, whatever the order
    same = gn.Model({"w": wide, "d": deep}, called)
    x, _ = _data(rng)
    np.testing.assert_allclose(same.predict({"w": x["wide"], "d": x["deep"]}), inner.predict(x), rtol=1e-6)
    outer = gn.Model({"w": wide, "d": deep}, L.Dense(2, name="top")(called), seed=1)
    assert outer.predict({"w": x["wide"], "d": x["deep"]}).shape == (24, 2)
    with pytest.raises(TypeError, match=r"takes the keys \['deep', 'wide'\].*missing \['wide'\]"):
        inner({"deep": deep})
