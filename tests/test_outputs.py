"""Models of several outputs (glassnet.outputs): per-output losses, weights, metrics and targets,
checked against Keras 3's multi-output models and by finite differences, and through the rest of
the surface (predict, evaluate, files, configs, callbacks, batches, Dask, the CLI, trace)."""
import copy
import pickle

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_model

L = gn.layers
LOSSES = ["sparse_categorical_crossentropy", "binary_crossentropy", "mse"]


def _three_heads(lib, **kw):
    """A class (softmax), a flag (sigmoid, read by another layer too) and two numbers."""
    inputs = lib.Input((6,))
    h = lib.layers.Dense(8, activation="tanh", name="hidden", **kw)(inputs)
    cls = lib.layers.Dense(3, activation="softmax", name="cls", **kw)(h)
    aux = lib.layers.Dense(1, activation="sigmoid", name="aux", **kw)(h)
    reg = lib.layers.Dense(2, name="reg", **kw)(lib.layers.Concatenate(name="join")([h, aux]))
    return inputs, [cls, aux, reg]


def _data(rng, n=48, dtype=np.float32):
    return (rng.standard_normal((n, 6)).astype(dtype), rng.integers(0, 3, n),
            rng.integers(0, 2, (n, 1)).astype(dtype), rng.standard_normal((n, 2)).astype(dtype))


def _model(dtype="float32", **compile_kw):
    model = gn.Model(*_three_heads(gn), seed=0, dtype=dtype)
    model.compile(**{"loss": LOSSES, "optimizer": gn.optimizers.SGD(0.1), **compile_kw})
    return model


def test_outputs_are_drawn_packed_and_named(rng):
    model = _model()
    assert model.output_names == ["cls", "aux", "reg"] and model.output_shapes == [(3,), (1,), (2,)]
    assert model.output_shape == [(None, 3), (None, 1), (None, 2)] and len(model.output) == 3
    assert model.compute_output_shape((None, 6)) == [(None, 3), (None, 1), (None, 2)]
    assert [head.fused for head in model._heads] == [True, False, False]     # aux is read by Concatenate
    x, *_ = _data(rng)
    outputs = model.predict(x)
    assert [o.shape for o in outputs] == [(48, 3), (48, 1), (48, 2)] and all(o.flags.c_contiguous for o in outputs)
    np.testing.assert_allclose(outputs[0].sum(axis=1), 1, rtol=1e-5)
    for mine, again in zip(outputs, model(x)):
        np.testing.assert_array_equal(mine, again)
    # other batch sizes: equal up to float32 rounding, not bit for bit (OpenBLAS' matrix-vector
    # kernel sums a (7, 8) @ (8, 1) product in another order than a (48, 8) one on some CPUs)
    np.testing.assert_allclose(model.predict_on_batch(x[:5])[2], outputs[2][:5], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(model.predict(x, batch_size=7)[1], outputs[1], rtol=1e-6, atol=1e-7)


def test_training_matches_keras_multi_output_model(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = gn.Model(*_three_heads(gn), seed=0), keras.Model(*_three_heads(keras))
    for layer in ours.layers:           # (the two order parallel branches differently: by name)
        if layer.params:
            theirs.get_layer(layer.name).set_weights(layer.get_weights())
    x, yc, ya, yr = _data(rng)
    w = rng.uniform(0.2, 2, 48).astype(np.float32)
    settings = dict(loss=LOSSES, loss_weights=[1.0, 0.3, 2.0], metrics=[["accuracy"], None, ["mae"]])
    ours.compile(optimizer=gn.optimizers.SGD(0.1), **settings)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), **settings)
    mine = ours.fit(x, [yc, ya, yr], epochs=3, batch_size=16, shuffle=False, verbose=0).history
    their = theirs.fit(x, [yc, ya, yr], epochs=3, batch_size=16, shuffle=False, verbose=0).history
    assert sorted(mine) == sorted(their)            # loss, cls_loss, aux_loss, reg_loss, cls_accuracy, reg_mae
    for key in their:
        np.testing.assert_allclose(mine[key], their[key], rtol=2e-5, err_msg=key)
    # sample weights weigh every output's loss, and each "<output>_loss" as Keras 3 logs it; then
    # weights per output, a list (None: unweighted) and a dict by name (a missing name: unweighted)
    w2 = rng.uniform(0, 3, 48).astype(np.float32)
    for mine_w, their_w in [(w, w), ([w, None, w2], [w, np.ones(48, np.float32), w2]),
                            ({"reg": w, "cls": w2}, [w2, np.ones(48, np.float32), w])]:
        mine = ours.fit(x, {"cls": yc, "aux": ya, "reg": yr}, sample_weight=mine_w, epochs=2, batch_size=16,
                        shuffle=False, verbose=0).history
        their = theirs.fit(x, [yc, ya, yr], sample_weight=their_w, epochs=2, batch_size=16, shuffle=False,
                           verbose=0).history
        assert sorted(mine) == sorted(their)
        for key in their:
            np.testing.assert_allclose(mine[key], their[key], rtol=2e-5, err_msg=key)
    for layer in ours.layers:
        for a, b in zip(layer.get_weights(), theirs.get_layer(layer.name).get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert ours.evaluate(x, [yc, ya, yr])[0] == pytest.approx(theirs.evaluate(x, [yc, ya, yr], verbose=0)[0], rel=1e-5)


@pytest.mark.parametrize("loss, targets", [
    (LOSSES, lambda yc, ya, yr: [yc, ya, yr]),
    ({"cls": "categorical_crossentropy", "aux": "binary_crossentropy", "reg": "huber"},
     lambda yc, ya, yr: {"cls": np.eye(3)[yc], "aux": ya, "reg": yr}),
    (["categorical_hinge", "mse", "mae"], lambda yc, ya, yr: [np.eye(3)[yc], ya, yr]),     # nothing fused
])
def test_gradients_agree_with_finite_differences(loss, targets, rng):
    model = _model("float64", loss=loss, loss_weights=[0.7, 1.3, 0.4])
    x, yc, ya, yr = _data(rng, 10, np.float64)
    assert check_model(model, x, targets(yc, ya, yr))["max_error"] < 1e-7
    w = rng.uniform(0.1, 2, 10)
    assert check_model(model, x, targets(yc, ya, yr), sample_weight=w)["max_error"] < 1e-7


def test_loss_is_the_weighted_sum_and_logs_name_each_output(rng):
    model = _model(loss_weights={"cls": 2.0, "aux": 0.0, "reg": 0.5},
                   metrics={"cls": "accuracy", "aux": [gn.metrics.Precision(name="p")], "reg": "mae"})
    x, yc, ya, yr = _data(rng)
    values = model.evaluate(x, [yc, ya, yr], return_dict=True)
    # the outputs' losses in the outputs' order, then the metrics by name (Keras 3's order)
    assert list(values) == ["loss", "cls_loss", "aux_loss", "reg_loss", "aux_p", "cls_accuracy", "reg_mae"]
    assert values["loss"] == pytest.approx(2 * values["cls_loss"] + 0.5 * values["reg_loss"], rel=1e-6)
    cls, aux, reg = model.predict(x)
    assert values["cls_loss"] == pytest.approx(gn.losses.get("sparse_categorical_crossentropy")(cls, yc), rel=1e-5)
    assert values["aux_loss"] == pytest.approx(gn.losses.get("binary_crossentropy")(aux, ya), rel=1e-5)
    assert values["cls_accuracy"] == pytest.approx(np.mean(cls.argmax(1) == yc))
    assert values["reg_mae"] == pytest.approx(np.abs(reg - yr).mean(), rel=1e-5)
    assert model.evaluate(x, [yc, ya, yr]) == pytest.approx(list(values.values()))
    history = model.fit(x, [yc, ya, yr], epochs=2, validation_split=0.25, verbose=0).history
    assert "val_aux_p" in history and "val_reg_loss" in history
    assert model.test_on_batch(x[:8], [yc[:8], ya[:8], yr[:8]], return_dict=True).keys() == values.keys()
    assert len(model.train_on_batch(x[:8], [yc[:8], ya[:8], yr[:8]])) == 7
    # one loss for every output, as Keras
    model.compile(loss="mse", optimizer="sgd")
    assert [head.loss.name for head in model._heads] == ["mse"] * 3


def test_validation_batches_callbacks_and_trace(rng, tmp_path):
    model = _model(optimizer="adam", metrics=[["accuracy"], [], []])
    x, yc, ya, yr = _data(rng)

    class Batches(gn.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            part = slice(16 * i, 16 * i + 16)
            return x[part], {"cls": yc[part], "aux": ya[part], "reg": yr[part]}

    history = model.fit(Batches(), epochs=2, validation_data=Batches(), verbose=0).history
    assert len(history["val_cls_accuracy"]) == 2
    assert [o.shape for o in model.predict(Batches())] == [(48, 3), (48, 1), (48, 2)]
    assert model.evaluate(Batches())[0] == pytest.approx(model.evaluate(x, [yc, ya, yr])[0], rel=1e-5)
    callbacks = [gn.callbacks.ModelCheckpoint(str(tmp_path / "best.npz"), monitor="val_cls_accuracy",
                                              save_best_only=True),
                 gn.callbacks.BackupAndRestore(str(tmp_path / "backup")),
                 gn.callbacks.EarlyStopping(monitor="val_reg_loss", patience=5)]
    model.fit(x, [yc, ya, yr], epochs=3, validation_data=(x, [yc, ya, yr]), verbose=0, callbacks=callbacks)
    assert gn.load_model(str(tmp_path / "best.npz")).output_names == ["cls", "aux", "reg"]
    # trace: the loss training computes; a fused output's dA is the loss's formula, unclipped
    trace = model.trace(x[:4], [yc[:4], ya[:4], yr[:4]])
    assert trace.loss == pytest.approx(model._loss_value(*model._prepare_xy(x[:4], [yc[:4], ya[:4], yr[:4]])))
    cls = trace[1]["A"]
    np.testing.assert_allclose(trace[1]["dA"], -np.eye(3)[yc[:4]] / cls / 4, rtol=1e-5)


def test_files_configs_copies_and_nesting(rng, tmp_path):
    model = _model(loss=["sparse_categorical_crossentropy", gn.losses.BinaryCrossentropy(label_smoothing=0.1), "huber"],
                   loss_weights=[1, 0.5, 2], metrics=[["accuracy"], [gn.metrics.AUC(name="auc")], ["mae"]])
    x, yc, ya, yr = _data(rng)
    model.fit(x, [yc, ya, yr], epochs=1, verbose=0)
    expected = model.predict(x)
    model.save(str(tmp_path / "m.npz"))
    for copied in (gn.load_model(str(tmp_path / "m.npz")), pickle.loads(pickle.dumps(model)), copy.deepcopy(model),
                   gn.Model.from_config(model.get_config()), gn.Sequential.from_config(model.get_config())):
        assert copied.output_names == ["cls", "aux", "reg"] and repr(copied.loss) == repr(model.loss)
        assert [name for name, _ in copied.metrics] == [name for name, _ in model.metrics]
        assert copied._heads[1].loss.label_smoothing == 0.1
    loaded = gn.load_model(str(tmp_path / "m.npz"))
    for mine, again in zip(expected, loaded.predict(x)):
        np.testing.assert_array_equal(mine, again)
    assert loaded.evaluate(x, [yc, ya, yr]) == pytest.approx(model.evaluate(x, [yc, ya, yr]), rel=1e-6)
    assert gn.model_from_json(model.to_json()).output_shapes == [(3,), (1,), (2,)]
    # called on a tensor, the model gives one tensor per output; a new model shares its layers
    inputs = gn.Input((6,))
    cls, _, reg = model(inputs)
    top = gn.Model(inputs, [cls, L.Dense(1, name="extra")(reg)])
    # the first output is the nested model's call: named by that model, Keras 3.15's ["functional", "extra"]
    assert top.output_names == [model.name, "extra"] == ["functional", "extra"] and top.layers[0] is model.layers[0]
    np.testing.assert_allclose(top.predict(x)[0], expected[0], rtol=1e-6)
    # a sub-model of one of the outputs
    assert gn.Model(model.input, model.output[2]).predict(x).shape == (48, 2)


def test_a_dask_sweep_and_the_cli(rng, tmp_path, capsys):
    pytest.importorskip("dask", reason="dask not installed")
    from glassnet.dask import sweep

    def build(units=8):
        inputs = gn.Input((6,))
        h = L.Dense(units, activation="tanh")(inputs)
        model = gn.Model(inputs, [L.Dense(3, activation="softmax", name="cls")(h), L.Dense(2, name="reg")(h)], seed=0)
        model.compile(loss=["sparse_categorical_crossentropy", "mse"], optimizer="adam", metrics=[["accuracy"], []])
        return model

    x, yc, _, yr = _data(rng)
    results = sweep(build, {"units": [4, 8]}, x, [yc, yr], scheduler="synchronous",
                    fit_kwargs={"epochs": 2, "validation_split": 0.25, "verbose": 0})
    assert {"val_cls_accuracy", "val_reg_loss", "cls_loss"} <= set(results[0]["metrics"])
    model = build(results[0]["params"]["units"])
    model.fit(x[:36], [yc[:36], yr[:36]], epochs=2, verbose=0)
    assert results[0]["metrics"]["val_loss"] == pytest.approx(model.evaluate(x[36:], [yc[36:], yr[36:]])[0], rel=1e-5)
    from glassnet import cli
    model.save(str(tmp_path / "m.npz"))
    np.savetxt(tmp_path / "x.csv", x, delimiter=",")
    assert cli.main(["predict", str(tmp_path / "m.npz"), str(tmp_path / "x.csv")]) == 2
    assert "the model has 2 outputs (cls, reg)" in capsys.readouterr().err
    assert cli.main(["info", str(tmp_path / "m.npz")]) == 0
    assert "loss: cls: sparse_categorical_crossentropy, reg: mse" in capsys.readouterr().out


def test_what_does_not_fit_is_refused_by_name(rng):
    inputs = gn.Input((6,))
    a, b = L.Dense(2, name="a")(inputs), L.Dense(1, name="b")(inputs)
    with pytest.raises(ValueError, match=r"outputs\['b'\] is listed twice"):     # (dicts: test_dict_outputs.py)
        gn.Model(inputs, {"a": a, "b": a})
    with pytest.raises(ValueError, match=r"outputs\[1\] is listed twice"):
        gn.Model(inputs, [a, a])
    with pytest.raises(ValueError, match=r"outputs\[1\] is an Input"):
        gn.Model(inputs, [a, inputs])
    seq = gn.Input((None, 3))
    # (an output of any length is taken: tests/test_open_inputs.py)
    assert [o.shape for o in gn.Model(seq, [L.Dense(2)(seq), L.GlobalAveragePooling1D()(seq)]).predict(
        np.ones((2, 5, 3)))] == [(2, 5, 2), (2, 3)]
    model = gn.Model(inputs, [a, b])
    with pytest.raises(ValueError, match=r"loss: the model has 2 outputs \(a, b\)"):
        model.compile(loss=["mse"])
    with pytest.raises(ValueError, match=r"loss: a dict needs the outputs' names"):
        model.compile(loss={"a": "mse", "c": "mse"})
    with pytest.raises(ValueError, match="loss: no output has a loss"):
        model.compile(loss=[None, None])          # (one None is Keras' unscored output: test_unscored_outputs.py)
    with pytest.raises(ValueError, match="loss_weights: the weight of output 'b'"):
        model.compile(loss="mse", loss_weights=[1, -1])
    with pytest.raises(ValueError, match="metrics: the model has 2 outputs"):
        model.compile(loss="mse", metrics=["mae"])
    with pytest.raises(ValueError, match="got 'adam', an optimizer, with optimizer='sgd'"):
        model.compile("adam")
    model.compile(loss="mse", metrics={"b": "mae"})
    x, y = rng.standard_normal((8, 6)), [rng.standard_normal((8, 2)), rng.standard_normal((8, 1))]
    with pytest.raises(TypeError, match=r"y: the model has 2 outputs \(a, b\); give a list"):
        model.fit(x, y[0])
    with pytest.raises(ValueError, match=r"x and y\[1\] must have the same number of samples"):
        model.fit(x, [y[0], y[1][:5]])
    with pytest.raises(ValueError, match=r"y\['a'\]: expected targets of shape \(n_samples, 2\)"):
        model.fit(x, {"a": y[1], "b": y[1]})
    with pytest.raises(ValueError, match="class_weight"):
        model.fit(x, y, class_weight={0: 1.0})
    model.compile(loss=["mse", "binary_crossentropy"], metrics=[[], ["accuracy"]])
    with pytest.raises(ValueError, match=r"y\[1\]: binary_crossentropy expects targets in \[0, 1\]"):
        model.fit(x, [y[0], y[1] + 5])
    one = gn.Model(inputs, L.Dense(1)(inputs))
    # (Keras' loss_weights of one output weigh its loss: tests/test_sequential_dicts.py)
    with pytest.raises(ValueError, match="loss_weights: the model has one output .* a list of 2 weights"):
        one.compile(loss="mse", loss_weights=[2.0, 1.0])
    # a sparse loss on an output with positions (a segmenter's labels per pixel) is taken: its
    # gradients agree with finite differences (the miniature GPT's logits: test_unscored_outputs.py)
    images = gn.Input((4, 4, 1))
    maps = gn.Model(images, [L.Conv2D(3, 1, activation="softmax", name="seg")(images), L.Dense(1)(L.Flatten()(images))],
                    dtype="float64", seed=0)
    maps.compile(loss=["sparse_categorical_crossentropy", "mse"])
    pixels = rng.standard_normal((5, 4, 4, 1))
    assert check_model(maps, pixels, [rng.integers(0, 3, (5, 4, 4)), rng.standard_normal((5, 1))])["max_error"] < 1e-7


def test_the_readme_example_trains_on_digits(capsys):
    import re
    from pathlib import Path
    pytest.importorskip("sklearn", reason="the digits dataset comes with scikit-learn")
    readme = Path(__file__).resolve().parents[1] / "docs" / "guide" / "functional.md"
    if not readme.exists():
        pytest.skip("docs/guide/functional.md is not next to the tests")
    text = readme.read_text(encoding="utf-8")
    section = text[text.index("Several outputs (multi-task learning"):]
    (x, labels), (x_test, labels_test) = gn.datasets.digits()
    namespace = {"gn": gn, "x": x, "labels": labels}
    exec(compile(re.search(r"```python\n(.*?)```", section, re.S).group(1), str(readme), "exec"), namespace)
    model, history = namespace["model"], namespace["history"].history
    assert {"digit_accuracy", "val_big_accuracy", "big_loss"} <= set(history)
    values = model.evaluate(x_test, {"digit": labels_test, "big": labels_test >= 5}, return_dict=True)
    assert values["digit_accuracy"] > 0.9 and values["big_accuracy"] > 0.9


def test_monitors_and_sweeps_know_which_way_each_output_s_values_are_better(rng):
    inputs = gn.Input((6,))
    h = L.Dense(8, activation="relu")(inputs)
    model = gn.Model(inputs, [L.Dense(1, name="acceleration")(h), L.Dense(1, activation="sigmoid", name="aux")(h)], seed=0)
    model.compile(loss=["mse", "binary_crossentropy"], metrics=[[], [gn.metrics.AUC(name="auc"), "accuracy"]],
                  loss_weights=[np.float32(1.0), np.int64(2)])          # NumPy numbers, as Keras takes
    directions = {name: metric.direction for name, metric in model.metrics}
    assert directions == {"acceleration_loss": "down", "aux_loss": "down", "aux_auc": "up", "aux_accuracy": "up"}
    x, y = rng.standard_normal((16, 6)), [rng.standard_normal((16, 1)), rng.integers(0, 2, 16)]
    # "acc" in an output's name does not make its loss better when higher: its metric says lower
    for monitor, wanted in (("val_acceleration_loss", "min"), ("val_aux_auc", "max")):
        callback = gn.callbacks.EarlyStopping(monitor)
        model.fit(x, y, epochs=1, validation_split=0.25, verbose=0, callbacks=[callback])
        assert callback.mode == wanted
    pytest.importorskip("dask", reason="dask not installed")
    from glassnet.dask import sweep

    def build(units):
        inner = gn.Input((6,))
        hidden = L.Dense(units, activation="relu")(inner)
        built = gn.Model(inner, [L.Dense(1, name="acceleration")(hidden),
                                 L.Dense(1, activation="sigmoid", name="aux")(hidden)], seed=0)
        built.compile(loss=["mse", "binary_crossentropy"], metrics=[[], [gn.metrics.AUC(name="auc")]], optimizer="adam")
        return built

    results = sweep(build, {"units": [1, 2, 8]}, x, y, sort_by="val_aux_auc", scheduler="synchronous",
                    fit_kwargs={"epochs": 2, "validation_split": 0.25, "verbose": 0})
    scores = [result["metrics"]["val_aux_auc"] for result in results]
    assert scores == sorted(scores, reverse=True)


def test_each_output_s_loss_is_the_loss_trained_on_when_probabilities_saturate(rng):
    inputs = gn.Input((4,))
    wide = gn.initializers.RandomNormal(stddev=5.0)
    model = gn.Model(inputs, [L.Dense(3, activation="softmax", name="a", kernel_initializer=wide)(inputs),
                              L.Dense(1, activation="sigmoid", name="b", kernel_initializer=wide)(inputs)], seed=0)
    model.compile(loss=["sparse_categorical_crossentropy", "binary_crossentropy"], loss_weights=[1.0, 0.5])
    x, y = rng.standard_normal((20, 4)) * 10, [rng.integers(0, 3, 20), rng.integers(0, 2, 20)]
    values = model.evaluate(x, y, return_dict=True)
    assert values["a_loss"] > 20        # from the logits: clipped probabilities would give at most 16.1
    assert values["loss"] == pytest.approx(values["a_loss"] + 0.5 * values["b_loss"], rel=1e-6)


def test_a_non_finite_loss_names_the_output(rng):
    inputs = gn.Input((3,))
    counts = L.Dense(1, name="counts", kernel_initializer="ones", bias_initializer=gn.initializers.Constant(-5.0))(inputs)
    model = gn.Model(inputs, [counts, L.Dense(2, name="reg")(inputs)], seed=0)
    model.compile(loss=["poisson", "mse"], optimizer="sgd")
    x = np.abs(rng.standard_normal((8, 3)))
    with pytest.raises(gn.NonFiniteError, match="output 'counts': poisson takes the log"):
        model.fit(x, [np.ones(8), rng.standard_normal((8, 2))], epochs=1, verbose=0)


def test_several_inputs_and_outputs_in_a_dask_sweep(rng):
    pytest.importorskip("dask", reason="dask not installed")
    from glassnet.dask import sweep

    def build(units=4):
        a, b = gn.Input((3,), name="a"), gn.Input((2,), name="b")
        h = L.Dense(units, activation="tanh")(L.Concatenate()([a, b]))
        model = gn.Model([a, b], [L.Dense(1, name="p", activation="sigmoid")(h), L.Dense(2, name="q")(h)], seed=0)
        model.compile(loss=["binary_crossentropy", "mse"], optimizer="adam")
        return model

    xa, xb = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    yp, yq = rng.integers(0, 2, 20), rng.standard_normal((20, 2))
    results = sweep(build, {"units": [2, 4]}, [xa, xb], [yp, yq], scheduler="synchronous",
                    fit_kwargs={"epochs": 1, "validation_split": 0.25, "verbose": 0})
    model = build(results[0]["params"]["units"])
    model.fit([xa[:15], xb[:15]], [yp[:15], yq[:15]], epochs=1, verbose=0)
    assert results[0]["metrics"]["val_q_loss"] == pytest.approx(
        model.evaluate([xa[15:], xb[15:]], [yp[15:], yq[15:]], return_dict=True)["q_loss"], rel=1e-5)


def test_names_follow_renamed_layers_and_keras_one_output_forms(rng):
    def make():
        inputs = gn.Input((4,))
        h = L.Dense(5)(inputs)
        return gn.Model(inputs, [L.Dense(3, activation="softmax")(h), L.Dense(1)(h)])

    first, second = make(), make()
    inputs = gn.Input((4,))
    gn.Model(inputs, [*first(inputs), *second(inputs)])        # renames the second model's layers
    assert second.output_names == [layer.name for layer in second.layers[1:]] != first.output_names
    second.compile(loss=dict(zip(second.output_names, ["sparse_categorical_crossentropy", "mse"])), optimizer="sgd")
    x = rng.standard_normal((8, 4))
    second.fit(x, dict(zip(second.output_names, [rng.integers(0, 3, 8), rng.standard_normal(8)])), verbose=0)
    # a model of one output listed as a list takes Keras' per-output forms of its one output
    one = gn.Model(inputs, [L.Dense(2, name="o")(inputs)])
    one.compile(loss=["mse"], metrics=[["mae"]])
    y = rng.standard_normal((8, 2))
    assert one.fit(x, [y], verbose=0).history.keys() == {"loss", "mae"}
    assert one.evaluate(x, {"o": y}) == one.evaluate(x, y)
    one.compile(loss={"o": "mse"}, metrics={"o": ["mae"]})
    # and its weights as a list of one or a dict by its name
    w = rng.uniform(0, 2, 8)
    assert one.evaluate(x, y, sample_weight=[w]) == one.evaluate(x, y, sample_weight={"o": w}) \
        == one.evaluate(x, y, sample_weight=w) != one.evaluate(x, y)


def test_weights_per_output_weigh_that_output_s_loss_alone(rng):
    model = _model(loss_weights=[1.0, 0.5, 2.0], metrics={"reg": "mae"})
    x, yc, ya, yr = _data(rng)
    wc, wr = rng.uniform(0, 2, 48), rng.uniform(0, 2, 48)
    cls, aux, reg = model.predict(x)
    values = model.evaluate(x, [yc, ya, yr], sample_weight={"cls": wc, "reg": wr}, return_dict=True)
    own = {"cls": gn.losses.get("sparse_categorical_crossentropy").weighted(cls, yc, wc),
           "aux": gn.losses.get("binary_crossentropy")(aux, ya),
           "reg": gn.losses.get("mse").weighted(reg, yr, wr)}
    for name, value in own.items():
        assert values[f"{name}_loss"] == pytest.approx(value, rel=1e-5)
    assert values["loss"] == pytest.approx(own["cls"] + 0.5 * own["aux"] + 2 * own["reg"], rel=1e-5)
    assert values["reg_mae"] == pytest.approx(np.abs(reg - yr).mean(), rel=1e-5)      # metrics stay unweighted
    # one weight per sample weighs every output's loss
    same = model.evaluate(x, [yc, ya, yr], sample_weight=wc, return_dict=True)
    assert same["reg_loss"] == pytest.approx(gn.losses.get("mse").weighted(reg, yr, wc), rel=1e-5)
    assert same == model.evaluate(x, [yc, ya, yr], sample_weight=[wc, wc, wc], return_dict=True)
    # the one-batch methods and validation data take them too
    batch = [yc[:8], ya[:8], yr[:8]]
    tested = model.test_on_batch(x[:8], batch, sample_weight=[wc[:8], None, None], return_dict=True)
    assert tested["cls_loss"] == pytest.approx(
        gn.losses.get("sparse_categorical_crossentropy").weighted(cls[:8], yc[:8], wc[:8]), rel=1e-5)
    assert tested["aux_loss"] == pytest.approx(gn.losses.get("binary_crossentropy")(aux[:8], ya[:8]), rel=1e-5)
    trained = model.train_on_batch(x[:8], batch, sample_weight={"aux": np.zeros(8)}, return_dict=True)
    assert trained["aux_loss"] == 0 and trained["cls_loss"] == pytest.approx(
        gn.losses.get("sparse_categorical_crossentropy")(cls[:8], yc[:8]), rel=1e-5)     # before its update
    history = model.fit(x[:40], [yc[:40], ya[:40], yr[:40]], sample_weight=[wc[:40], None, wr[:40]], epochs=1,
                        validation_data=(x[40:], [yc[40:], ya[40:], yr[40:]], {"reg": wr[40:]}), verbose=0).history
    assert history["val_reg_loss"][0] == pytest.approx(model.evaluate(
        x[40:], [yc[40:], ya[40:], yr[40:]], sample_weight={"reg": wr[40:]}, return_dict=True)["reg_loss"], rel=1e-5)
    # a weight of zero for one output: that output's loss has no gradient (finite differences agree)
    check = _model("float64", loss_weights=[0.7, 1.3, 0.4])
    x64 = x[:10].astype(np.float64)
    assert check_model(check, x64, [yc[:10], ya[:10], yr[:10].astype(np.float64)],
                       sample_weight=[rng.uniform(0, 2, 10), np.zeros(10), None])["max_error"] < 1e-7
    # what does not fit is refused by name
    for bad, match in [([wc, wc], "sample_weight: the model has 3 outputs"),
                       ({"nope": wc}, "sample_weight: a dict needs the outputs' names"),
                       ({"reg": -wc}, r"sample_weight\['reg'\]: weights must be >= 0"),
                       ([wc, None, wc[:5]], r"sample_weight\['reg'\]: expected one weight per sample")]:
        with pytest.raises(ValueError, match=match):
            model.fit(x, [yc, ya, yr], sample_weight=bad, verbose=0)


def test_a_dask_sweep_splits_weights_per_output_as_fit_does(rng):
    pytest.importorskip("dask", reason="dask not installed")
    from glassnet.dask import sweep
    x, yc, ya, yr = _data(rng)
    wc = rng.uniform(0, 2, 48)

    def build(lr=0.1):
        return _model(optimizer=gn.optimizers.SGD(lr))

    fit_kwargs = {"epochs": 2, "validation_split": 0.25, "verbose": 0, "sample_weight": {"cls": wc}}
    result = sweep(build, {"lr": [0.1]}, x, [yc, ya, yr], scheduler="synchronous", fit_kwargs=fit_kwargs)[0]
    model = build()
    model.fit(x, [yc, ya, yr], **fit_kwargs)
    ys = [yc, ya, yr]
    assert result["metrics"]["cls_loss"] == pytest.approx(model.evaluate(
        x[:36], [y[:36] for y in ys], sample_weight={"cls": wc[:36]}, return_dict=True)["cls_loss"], rel=1e-5)
    assert result["metrics"]["val_cls_loss"] == pytest.approx(model.evaluate(
        x[36:], [y[36:] for y in ys], sample_weight={"cls": wc[36:]}, return_dict=True)["cls_loss"], rel=1e-5)


def test_a_dask_sweep_takes_keras_forms_of_weights_for_one_output(rng):
    pytest.importorskip("dask", reason="dask not installed")
    from glassnet.dask import sweep
    x, y, w = rng.standard_normal((40, 5)), rng.standard_normal((40, 1)), rng.uniform(0, 2, 40)

    def build(lr=0.1):
        inputs = gn.Input((5,))
        model = gn.Model(inputs, L.Dense(1, name="o")(inputs), seed=0)
        model.compile(loss="mse", optimizer=gn.optimizers.SGD(lr))
        return model

    results = [sweep(build, {"lr": [0.1]}, data, y, scheduler="synchronous",
                     fit_kwargs={"epochs": 1, "validation_split": 0.25, "verbose": 0, "sample_weight": given})[0]
               for data, given in ((x, w), (x, [w]), (x, {"o": w}), (x.tolist(), w), ([x], w))]
    assert all(result["metrics"] == results[0]["metrics"] for result in results)
    assert results[0]["error"] is None and np.isfinite(results[0]["metrics"]["val_loss"])


def test_a_refused_compile_leaves_the_outputs_as_they_were(rng):
    model = _model(loss=["sparse_categorical_crossentropy", "binary_crossentropy", "mse"])
    x, yc, ya, yr = _data(rng)
    before = model.evaluate(x, [yc, ya, yr])
    with pytest.raises(ValueError, match="optimizer"):
        model.compile(loss=["mse", "mse", "mse"], optimizer="nope")
    with pytest.raises(ValueError, match="metric"):
        model.compile(loss=["mse", "mse", "mse"], metrics=[[], [], ["nope"]])
    assert [head.loss.name for head in model._heads] == LOSSES and model._heads[0].fused
    assert model.evaluate(x, [yc, ya, yr]) == before
