"""Outputs given as a dict, ``Model(inputs, {"score": s, "cls": c})`` (glassnet._dictoutputs):
drawn, predicted, compiled, trained and evaluated as Keras 3.15 does it from the same weights,
checked by finite differences, and kept through configs, files, clones and nesting."""
import copy
import pickle

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_model
from keras_twins import copy_weights

L = gn.layers


def _two_heads(lib, dtype=None):
    """A number and a class. The layers' names sort the other way round from the keys', so that a
    test tells which of them orders the outputs."""
    kw = {} if dtype is None else {"dtype": dtype}
    inputs = lib.Input((5,), name="x")
    h = lib.layers.Dense(6, activation="tanh", name="hidden", **kw)(inputs)
    score = lib.layers.Dense(1, name="a_score", **kw)(h)
    cls = lib.layers.Dense(3, activation="softmax", name="z_cls", **kw)(h)
    return inputs, {"score": score, "cls": cls}


def _data(rng, n=24, dtype=np.float32):
    return rng.standard_normal((n, 5)).astype(dtype), rng.standard_normal((n, 1)).astype(dtype), rng.integers(0, 3, n)


def _twins():
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = gn.Model(*_two_heads(gn), seed=0), keras.Model(*_two_heads(keras))
    copy_weights(ours, theirs)
    return keras, ours, theirs


SETTINGS = dict(loss={"score": "mse", "cls": "sparse_categorical_crossentropy"},
                loss_weights={"score": 1.0, "cls": 0.5}, metrics={"score": ["mae"], "cls": ["accuracy"]})


def test_the_outputs_are_named_and_ordered_as_keras_orders_them(rng):
    keras, ours, theirs = _twins()
    # Keras 3.15: the layers' names, in the sorted keys' order (not the keys)
    assert ours.output_names == theirs.output_names == ["z_cls", "a_score"]
    assert [t.layer.name for t in ours.outputs] == [t._keras_history.operation.name for t in theirs.outputs]
    assert list(ours.output) == list(theirs.output) == ["score", "cls"]      # the dict, as given
    assert ours.output_shapes == [(3,), (1,)]
    # a dict of shapes by the outputs' keys, as Keras 3.15's (a flat list before session 48)
    theirs_shapes = theirs.compute_output_shape((None, 5))
    assert ours.compute_output_shape((None, 5)) == {key: tuple(theirs_shapes[key]) for key in ["score", "cls"]}
    x, _, _ = _data(rng)
    for mine, their in ((ours.predict(x), theirs.predict(x, verbose=0)), (ours(x), theirs(x)),
                        (ours.predict_on_batch(x), theirs.predict_on_batch(x)),
                        (ours.predict(x, batch_size=7), theirs.predict(x, batch_size=7, verbose=0))):
        assert isinstance(mine, dict) and list(mine) == list(their) == ["score", "cls"]
        for key in mine:
            np.testing.assert_allclose(mine[key], np.asarray(their[key]), rtol=1e-5, atol=1e-6, err_msg=key)
    assert ours(x, training=True)["cls"].shape == (24, 3)


def test_training_matches_keras_step_by_step(rng):
    keras, ours, theirs = _twins()
    ours.compile(optimizer=gn.optimizers.SGD(0.1), **SETTINGS)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), **SETTINGS)
    x, ys, yc = _data(rng)
    y = {"score": ys, "cls": yc}
    mine, their = ours.evaluate(x, y, return_dict=True), theirs.evaluate(x, y, return_dict=True, verbose=0)
    assert sorted(mine) == sorted(their) == ["cls_accuracy", "cls_loss", "loss", "score_loss", "score_mae"]
    for key in their:
        assert mine[key] == pytest.approx(their[key], rel=1e-5), key
    # the list: the loss, the outputs' losses in the loss dict's order, the metrics by name
    assert ours.metrics_names == ["loss", "score_loss", "cls_loss", "cls_accuracy", "score_mae"]
    np.testing.assert_allclose(ours.evaluate(x, y), theirs.evaluate(x, y, verbose=0), rtol=1e-5)
    # one step at a time: the values before each update, then the same weights after it
    for step in range(3):
        batch = slice(8 * step, 8 * step + 8)
        part = {"score": ys[batch], "cls": yc[batch]}
        mine = ours.train_on_batch(x[batch], part, return_dict=True)
        their = theirs.train_on_batch(x[batch], part, return_dict=True)
        for key in their:
            assert mine[key] == pytest.approx(their[key], rel=1e-5), (step, key)
    np.testing.assert_allclose(ours.test_on_batch(x, y), theirs.test_on_batch(x, y), rtol=1e-5)
    # fit, with weights per output (a dict), in the same batches
    w = {"score": rng.uniform(0.2, 2, 24).astype(np.float32), "cls": rng.uniform(0.2, 2, 24).astype(np.float32)}
    mine = ours.fit(x, y, sample_weight=w, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    their = theirs.fit(x, y, sample_weight=w, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    assert sorted(mine) == sorted(their)
    for key in their:
        np.testing.assert_allclose(mine[key], their[key], rtol=2e-5, err_msg=key)
    for layer in ours.layers:
        for a, b in zip(layer.get_weights(), theirs.get_layer(layer.name).get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("loss, weights", [
    ({"cls": "sparse_categorical_crossentropy", "score": "mse"}, {"cls": 2.0, "score": 0.5}),   # the dict's order
    (["sparse_categorical_crossentropy", "mse"], [2.0, 0.5]),           # a list pairs with the sorted keys
])
def test_the_outputs_losses_are_logged_in_keras_order(loss, weights, rng):
    keras, ours, theirs = _twins()
    ours.compile(loss=loss, loss_weights=weights, optimizer="sgd")
    theirs.compile(loss=loss, loss_weights=weights, optimizer="sgd")
    x, ys, yc = _data(rng)
    mine, their = ours.evaluate(x, [yc, ys], return_dict=True), theirs.evaluate(x, [yc, ys], verbose=0)
    np.testing.assert_allclose(list(mine.values()), their, rtol=1e-5)
    expected = ["cls_loss", "score_loss"] if isinstance(loss, dict) else ["score_loss", "cls_loss"]
    assert list(mine) == ["loss", *expected]
    assert mine["loss"] == pytest.approx(2.0 * mine["cls_loss"] + 0.5 * mine["score_loss"], rel=1e-6)


def test_a_dict_of_one_output_logs_as_a_model_of_one(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    build = lambda lib: (lambda i, o: (i, {"only": o["score"]}))(*_two_heads(lib))    # noqa: E731
    ours, theirs = gn.Model(*build(gn), seed=0), keras.Model(*build(keras))
    copy_weights(ours, theirs)
    assert ours.output_names == theirs.output_names == ["a_score"]
    x, ys, _ = _data(rng)
    np.testing.assert_allclose(ours.predict(x)["only"], theirs.predict(x, verbose=0)["only"], rtol=1e-5)
    assert list(ours(x)) == ["only"] and list(ours.predict_on_batch(x)) == ["only"]
    for model, lib in ((ours, gn), (theirs, keras)):
        model.compile(loss={"only": "mse"}, metrics={"only": ["mae"]}, optimizer=lib.optimizers.SGD(0.1))
    for y in ({"only": ys}, ys):
        mine, their = ours.evaluate(x, y, return_dict=True), theirs.evaluate(x, y, return_dict=True, verbose=0)
        assert sorted(mine) == sorted(their) == ["loss", "mae"]
        assert mine == pytest.approx(their, rel=1e-5)
    w = rng.uniform(0.2, 2, 24).astype(np.float32)
    mine = ours.fit(x, {"only": ys}, sample_weight={"only": w}, epochs=2, batch_size=8, shuffle=False).history
    their = theirs.fit(x, {"only": ys}, sample_weight=w, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    for key in their:
        np.testing.assert_allclose(mine[key], their[key], rtol=2e-5, err_msg=key)


@pytest.mark.parametrize("loss", [SETTINGS["loss"], {"score": "huber", "cls": "categorical_crossentropy"}])
def test_gradients_agree_with_finite_differences(loss, rng):
    model = gn.Model(*_two_heads(gn), seed=0, dtype="float64")
    model.compile(loss=loss, loss_weights={"score": 0.7, "cls": 1.3}, optimizer="sgd")
    x, ys, yc = _data(rng, 10, np.float64)
    y = {"score": ys, "cls": yc if "sparse" in loss["cls"] else np.eye(3)[yc]}
    assert check_model(model, x, y)["max_error"] < 1e-7
    assert check_model(model, x, y, sample_weight={"cls": rng.uniform(0.1, 2, 10)})["max_error"] < 1e-7


def test_configs_files_copies_and_clones_keep_the_dict(rng, tmp_path):
    model = gn.Model(*_two_heads(gn), seed=0)
    model.compile(optimizer=gn.optimizers.SGD(0.1), **SETTINGS)
    x, ys, yc = _data(rng)
    y = {"score": ys, "cls": yc}
    model.fit(x, y, epochs=1, verbose=0)
    expected, values = model.predict(x), model.evaluate(x, y, return_dict=True)
    config = model.get_config()
    assert config["outputs"] == {"score": 2, "cls": 1} and list(config["outputs"]) == ["score", "cls"]
    model.save(str(tmp_path / "m.npz"))
    loaded = gn.load_model(str(tmp_path / "m.npz"))
    for copied in (loaded, pickle.loads(pickle.dumps(model)), copy.deepcopy(model), gn.Model.from_config(config),
                   gn.Sequential.from_config(config), gn.model_from_json(model.to_json()), gn.models.clone_model(model)):
        assert list(copied.output) == ["score", "cls"] and copied.output_names == ["z_cls", "a_score"]
        copied.set_weights(model.get_weights())
        again = copied.predict(x)
        assert list(again) == ["score", "cls"]
        for key in expected:
            np.testing.assert_array_equal(again[key], expected[key], err_msg=key)
    # compiled back from the file: the same losses, weights and logs
    assert loaded.evaluate(x, y, return_dict=True) == pytest.approx(values, rel=1e-6)
    assert list(loaded.evaluate(x, y, return_dict=True)) == list(values)


def test_called_on_a_tensor_the_model_gives_a_dict_of_tensors(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    base = gn.Model(*_two_heads(gn), seed=0)
    inner = keras.Model(*_two_heads(keras))
    assert list(inner(keras.Input((5,)))) == ["score", "cls"]          # Keras' form, which ours follows
    inputs = gn.Input((5,))
    called = base(inputs)
    assert list(called) == ["score", "cls"] and called["cls"].shape == (None, 3)
    x, ys, yc = _data(rng)
    whole = gn.Model(inputs, called)                    # the same dict again
    np.testing.assert_array_equal(whole.predict(x)["cls"], base.predict(x)["cls"])
    top = gn.Model(inputs, {"sum": L.Dense(1, name="extra")(L.Concatenate()([called["score"], called["cls"]])),
                            "cls": called["cls"]})
    assert top.layers[0] is base.layers[0] and list(top.predict(x)) == ["sum", "cls"]
    top.compile(loss={"sum": "mse", "cls": "sparse_categorical_crossentropy"}, optimizer="sgd")
    before = base.predict(x)["cls"].copy()
    top.fit(x, {"sum": ys, "cls": yc}, epochs=1, verbose=0)
    assert not np.allclose(base.predict(x)["cls"], before)      # the shared layers trained
    # a sub-model of one entry
    assert gn.Model(base.input, base.output["score"]).predict(x).shape == (24, 1)


def test_what_does_not_fit_is_refused_by_name(rng):
    inputs = gn.Input((5,))
    a, b = L.Dense(2, name="a")(inputs), L.Dense(1, name="b")(inputs)
    with pytest.raises(ValueError, match="empty dict"):
        gn.Model(inputs, {})
    with pytest.raises(TypeError, match=r"keys of outputs must be non-empty strings \(.*\), got 1"):
        gn.Model(inputs, {1: a})
    with pytest.raises(TypeError, match=r"outputs\['b'\] must be what a layer called on an Input returned"):
        gn.Model(inputs, {"a": a, "b": np.zeros(3)})
    with pytest.raises(ValueError, match=r"outputs\['second'\] is listed twice"):
        gn.Model(inputs, {"first": a, "second": a})
    model = gn.Model(inputs, {"p": a, "q": b}, seed=0)
    assert model.layers[0].name == "a"                  # a refused model left the layers' names alone
    with pytest.raises(ValueError, match=r"loss: a dict needs the outputs' names as its keys, \['p', 'q'\]"):
        model.compile(loss={"a": "mse", "b": "mse"}, optimizer="sgd")        # the layers' names are not the keys
    model.compile(loss="mse", optimizer="sgd")
    x = rng.standard_normal((4, 5)).astype(np.float32)
    with pytest.raises(ValueError, match=r"y: a dict needs the outputs' names as its keys, \['p', 'q'\]; got \['p'\]"):
        model.fit(x, {"p": np.zeros((4, 2))}, verbose=0)
    with pytest.raises(TypeError, match="the model has 2 outputs \\(p, q\\)"):
        model.fit(x, np.zeros((4, 3)), verbose=0)
    with pytest.raises(ValueError, match="config: 'outputs' as a dict must map each output's name"):
        gn.Model.from_config({**model.get_config(), "outputs": {"p": 0, "": 1}})


def test_the_readme_example_runs_after_the_several_outputs_one():
    import re
    from pathlib import Path
    pytest.importorskip("sklearn", reason="the digits dataset comes with scikit-learn")
    readme = Path(__file__).resolve().parents[1] / "docs" / "guide" / "functional.md"
    if not readme.exists():
        pytest.skip("docs/guide/functional.md is not next to the tests")
    text = readme.read_text(encoding="utf-8")
    first, second = re.findall(r"```python\n(.*?)```", text[text.index("Several outputs (multi-task learning"):],
                               re.S)[:2]
    (x, labels), _ = gn.datasets.digits()
    namespace = {"gn": gn, "x": x[:200], "labels": labels[:200], "w": np.full(200, 2.0, np.float32)}
    exec(compile(first.replace("epochs=20", "epochs=1"), str(readme), "exec"), namespace)
    exec(compile(second, str(readme), "exec"), namespace)
    model = namespace["model"]
    assert list(model.predict(x[:3])) == ["digit", "big"]
    assert [name for name, _ in model.metrics] == ["digit_loss", "big_loss", "digit_accuracy"]
