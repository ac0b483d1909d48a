"""A functional model's output made by a nested model's call is named by that model, as Keras 3.15
names it (glassnet._output_models): ``output_names``, compile's dicts, fit's logs, evaluate's dict,
model files, configs, Keras files and ONNX export names.

The names expected in the Keras-free tests are Keras 3.15's, measured live (the Keras tests below
compare them again): (a) a nested Sequential ["inner"], (b) a nested functional model ["finner"],
(c) one nested and one plain output ["inner", "plain"], (d) a nested model of two outputs
["two", "two"], (e) one nested model called twice ["inner", "inner"], a model nested two deep
its outermost ["mid"].

tests/data/outnames/pre_output_models.npz was written by glassnet before this change (commit
f653208): the model of case (c), its inner layers "e0", "e1", compiled with
``loss={"e1": "mse", "plain": "mse"}``, ``metrics={"e1": ["mae"], "plain": ["mae"]}``, Adam, and
fit one epoch: a file that records no nested names must load and train by its layers' names.
"""
import os

import numpy as np
import pytest

import glassnet as gn
from central_differences import numeric

OLD_FILE = os.path.join(os.path.dirname(__file__), "data", "outnames", "pre_output_models.npz")


def _build(lib, case, dtype=None):
    """The model of ``case`` drawn with ``lib`` (glassnet or Keras: the same calls)."""
    L = lib.layers
    kw = {} if dtype is None else {"dtype": dtype}
    if case in ("a", "c", "e"):
        inner = lib.Sequential([lib.Input((4,)), L.Dense(3, name="e0", **kw), L.Dense(2, name="e1", **kw)],
                               name="inner", **kw)
    if case == "a":
        x = lib.Input((4,), name="x")
        return lib.Model(x, inner(x))
    if case == "b":
        i = lib.Input((4,))
        finner = lib.Model(i, L.Dense(2, name="fd", **kw)(i), name="finner")
        x = lib.Input((4,), name="x")
        return lib.Model(x, finner(x))
    if case == "c":
        x = lib.Input((4,), name="x")
        return lib.Model(x, [inner(x), L.Dense(1, name="plain", **kw)(x)], **kw)
    if case == "d":
        i = lib.Input((4,))
        two = lib.Model(i, [L.Dense(2, name="ta", **kw)(i), L.Dense(1, name="tb", **kw)(i)], name="two")
        x = lib.Input((4,), name="x")
        return lib.Model(x, two(x))
    if case == "e":
        a, b = lib.Input((4,), name="a"), lib.Input((4,), name="b")
        return lib.Model([a, b], [inner(a), inner(b)])
    if case == "deep":
        i = lib.Input((4,))
        finner = lib.Model(i, L.Dense(2, name="fd", **kw)(i), name="finner")
        j = lib.Input((4,))
        mid = lib.Model(j, finner(j), name="mid")
        x = lib.Input((4,), name="x")
        return lib.Model(x, mid(x))
    raise AssertionError(case)


EXPECTED = {"a": ["inner"], "b": ["finner"], "c": ["inner", "plain"], "d": ["two", "two"],
            "e": ["inner", "inner"], "deep": ["mid"]}


def _data(case, n=16, dtype="float32"):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 4)).astype(dtype)
    xs = [x, rng.normal(size=(n, 4)).astype(dtype)] if case == "e" else x
    shapes = {"a": [2], "b": [2], "c": [2, 1], "d": [2, 1], "e": [2, 2], "deep": [2]}[case]
    ys = [rng.normal(size=(n, k)).astype(dtype) for k in shapes]
    return xs, ys if len(ys) > 1 else ys[0]


# -- Keras-free -------------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_output_names_are_the_nested_models(case):
    assert _build(gn, case).output_names == EXPECTED[case]


def test_dict_outputs_keep_keys_and_name_by_nested_model():
    i = gn.Input((4,))
    finner = gn.Model(i, gn.layers.Dense(2, name="fd")(i), name="finner")
    x = gn.Input((4,), name="x")
    model = gn.Model(x, {"a": finner(x), "b": gn.layers.Dense(1, name="p2")(x)})
    assert model.output_names == ["finner", "p2"]           # Keras 3.15's: the layers', not the keys
    model.compile(loss={"a": "mse", "b": "mse"}, optimizer="sgd")
    xs, (y2, y1) = _data("c")
    assert {"a_loss", "b_loss"} <= set(model.fit(xs, {"a": y2, "b": y1}, epochs=1, verbose=0).history)


def test_compile_fit_evaluate_by_nested_name():
    model = _build(gn, "c")
    model.compile(loss={"inner": "mse", "plain": "mse"}, metrics={"inner": ["mae"], "plain": ["mae"]},
                  optimizer="sgd")
    xs, (y2, y1) = _data("c")
    history = model.fit(xs, {"inner": y2, "plain": y1}, epochs=1, verbose=0, validation_data=(xs, [y2, y1]))
    assert set(history.history) == {"loss", "inner_loss", "plain_loss", "inner_mae", "plain_mae",
                                    "val_loss", "val_inner_loss", "val_plain_loss", "val_inner_mae", "val_plain_mae"}
    assert set(model.evaluate(xs, {"inner": y2, "plain": y1}, return_dict=True, verbose=0)) == {
        "loss", "inner_loss", "plain_loss", "inner_mae", "plain_mae"}
    # the layer's old name is no key now
    with pytest.raises(ValueError, match=r"loss: a dict needs the outputs' names.*\['inner', 'plain'\]"):
        model.compile(loss={"e1": "mse", "plain": "mse"}, optimizer="sgd")


@pytest.mark.parametrize("case", ["d", "e"])
def test_duplicate_names_refuse_a_dict(case):
    model = _build(gn, case)
    name = EXPECTED[case][0]
    with pytest.raises(ValueError, match=rf"loss: outputs \[0, 1\] are all named '{name}'.*give a list of 2"):
        model.compile(loss={name: "mse"}, optimizer="sgd")
    model.compile(loss=["mse", "mse"], metrics=[["mae"], ["mae"]], optimizer="sgd")
    xs, ys = _data(case)
    with pytest.raises(ValueError, match=rf"y: outputs \[0, 1\] are all named '{name}'"):
        model.fit(xs, {name: ys[0]}, epochs=1, verbose=0)
    logs = model.fit(xs, ys, epochs=1, verbose=0).history
    assert {f"{name}_loss", f"{name}_loss_1", f"{name}_mae", f"{name}_mae_1"} <= set(logs)


def test_files_configs_and_clones_keep_the_names(tmp_path):
    model = _build(gn, "c")
    model.compile(loss={"inner": "mse", "plain": "mae"}, loss_weights={"inner": 2.0, "plain": 0.5}, optimizer="adam")
    xs, (y2, y1) = _data("c")
    model.fit(xs, [y2, y1], epochs=1, verbose=0)
    path = str(tmp_path / "m.npz")
    model.save(path)
    loaded = gn.load_model(path)
    assert loaded.output_names == ["inner", "plain"]
    np.testing.assert_allclose(loaded.evaluate(xs, {"inner": y2, "plain": y1}, verbose=0),
                               model.evaluate(xs, [y2, y1], verbose=0), rtol=1e-6)
    assert set(loaded.fit(xs, {"inner": y2, "plain": y1}, epochs=1, verbose=0).history) == {
        "loss", "inner_loss", "plain_loss"}
    assert gn.Model.from_config(model.get_config()).output_names == ["inner", "plain"]
    assert gn.models.model_from_json(model.to_json()).output_names == ["inner", "plain"]
    assert gn.models.clone_model(model).output_names == ["inner", "plain"]
    assert model.get_config()["output_models"] == ["inner", None]


def test_file_written_before_loads_by_layer_names():
    old = gn.load_model(OLD_FILE)
    assert old.output_names == ["e1", "plain"]      # its compile config is keyed by these
    xs, (y2, y1) = _data("c")
    before = old.evaluate(xs, {"e1": y2, "plain": y1}, return_dict=True, verbose=0)
    assert set(before) == {"loss", "e1_loss", "plain_loss", "e1_mae", "plain_mae"}
    history = old.fit(xs, [y2, y1], epochs=2, verbose=0).history
    assert history["loss"][-1] < before["loss"]


def test_bad_output_models_in_a_file(tmp_path, edit_model_file):
    model = _build(gn, "c")
    path = str(tmp_path / "m.npz")
    model.save(path)
    for bad in (["inner"], ["inner", 3], "inner", ["", None]):
        out = str(tmp_path / "bad.npz")
        edit_model_file(path, lambda config, bad=bad: config["model"].__setitem__("output_models", bad), out)
        with pytest.raises(ValueError, match="'output_models' must give each of the model's 2 outputs"):
            gn.load_model(out)


def test_loss_weights_by_nested_name_against_central_differences():
    """One SGD step (rate 1) takes the gradient of 2 * mse(inner) + 0.5 * mse(plain), float64."""
    model = _build(gn, "c", dtype="float64")
    xs, (y2, y1) = _data("c", n=6, dtype="float64")
    model.compile(loss={"inner": "mse", "plain": "mse"}, loss_weights={"inner": 2.0, "plain": 0.5},
                  optimizer=gn.optimizers.SGD(learning_rate=1.0))
    model.predict(xs, verbose=0)
    weights = [w.astype(np.float64) for w in model.get_weights()]
    held = [w.copy() for w in weights]

    def total():
        model.set_weights(held)
        p2, p1 = model.predict(xs, verbose=0)
        return 2.0 * np.mean((p2 - y2) ** 2) + 0.5 * np.mean((p1 - y1) ** 2)

    expected = numeric(total, held)
    model.set_weights(weights)
    model.train_on_batch(xs, {"inner": y2, "plain": y1})
    for before, after, grad in zip(weights, model.get_weights(), expected):
        np.testing.assert_allclose(before - after, grad, rtol=1e-6, atol=1e-9)


def test_onnx_output_names(tmp_path):
    onnx = pytest.importorskip("onnx")
    for case, names in (("c", ["inner", "plain"]), ("d", ["two", "two_1"])):
        model = _build(gn, case)
        model.predict(_data(case)[0], verbose=0)
        path = str(tmp_path / f"{case}.onnx")
        model.export(path, format="onnx")
        assert [o.name for o in onnx.load(path).graph.output] == names


# -- against Keras 3.15 -------------------------------------------------------------------------

def _port(keras, case):
    """Keras' and glassnet's models of ``case`` with the same weights."""
    km, gm = _build(keras, case), _build(gn, case)
    xs, _ = _data(case)
    gm.predict(xs, verbose=0)
    gm.set_weights(km.get_weights())
    return km, gm


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_names_logs_and_evaluate_as_keras(keras, case):
    km, gm = _port(keras, case)
    assert gm.output_names == km.output_names == EXPECTED[case]
    xs, ys = _data(case)
    names = km.output_names
    if len(set(names)) == len(names):
        loss = {name: "mse" for name in names}
        metrics = {name: ["mae"] for name in names}
    else:
        loss, metrics = ["mse"] * len(names), [["mae"]] * len(names)
    for model in (km, gm):
        model.compile(loss=loss, metrics=metrics, optimizer=("sgd" if model is km else gn.optimizers.SGD()))
    k_eval = km.evaluate(xs, ys, return_dict=True, verbose=0)
    g_eval = gm.evaluate(xs, ys, return_dict=True, verbose=0)
    k_logs = km.fit(xs, ys, epochs=1, verbose=0, validation_data=(xs, ys), shuffle=False, batch_size=16).history
    g_logs = gm.fit(xs, ys, epochs=1, verbose=0, validation_data=(xs, ys), shuffle=False, batch_size=16).history
    if len(set(names)) == len(names):
        assert set(g_eval) == set(k_eval)
        assert set(g_logs) == set(k_logs)
        for key in k_eval:
            np.testing.assert_allclose(g_eval[key], k_eval[key], rtol=2e-5, atol=1e-6)
    else:
        # one name for two outputs: Keras 3.15 logs one "<name>_loss" (the second's), glassnet both,
        # the second "<name>_loss_1"; the rest as Keras' (docs/guide/functional.md)
        extra = {f"{names[0]}_loss_1"}
        assert set(g_eval) == set(k_eval) | extra
        assert set(g_logs) == set(k_logs) | extra | {f"val_{names[0]}_loss_1"}
        np.testing.assert_allclose(g_eval["loss"], k_eval["loss"], rtol=2e-5)
        np.testing.assert_allclose(g_eval[f"{names[0]}_loss_1"], k_eval[f"{names[0]}_loss"], rtol=2e-5)


def test_keras_file_of_a_nested_output_reads_as_keras(keras, tmp_path):
    km, _ = _port(keras, "c")
    km.compile(loss={"inner": "mse", "plain": "mse"}, metrics={"inner": ["mae"], "plain": ["mae"]}, optimizer="sgd")
    xs, ys = _data("c")
    km.fit(xs, ys, epochs=1, verbose=0)
    path = str(tmp_path / "k.keras")
    km.save(path)
    gm = gn.load_model(path)
    assert gm.output_names == km.output_names == ["inner", "plain"]
    k_eval = km.evaluate(xs, ys, return_dict=True, verbose=0)
    g_eval = gm.evaluate(xs, {"inner": ys[0], "plain": ys[1]}, return_dict=True, verbose=0)
    assert set(g_eval) == set(k_eval)
    for key in k_eval:
        np.testing.assert_allclose(g_eval[key], k_eval[key], rtol=2e-5, atol=1e-6)
