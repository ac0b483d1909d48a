"""Keras 3.15's names for compiled metrics that share a name, and its metric classes' positional
order. The expected keys and values below were read from Keras 3.15 (TensorFlow backend) running
the same compile calls: ``fit(...).history``, ``evaluate(..., return_dict=True)`` and a reloaded
``.keras`` file's logs."""
import csv

import numpy as np
import pytest

import glassnet as gn
from glassnet import metrics
from glassnet.layers import Dense


def _data(rng):
    return rng.standard_normal((32, 3)).astype("float32"), rng.standard_normal((32, 1)).astype("float32")


def _model():
    return gn.Sequential([Dense(1, input_dim=3)], seed=0)


def _keys(model, x, y):
    history = model.fit(x, y, epochs=1, batch_size=8, validation_data=(x, y), verbose=0)
    return sorted(history.history), list(model.evaluate(x, y, return_dict=True, verbose=0))


@pytest.mark.parametrize("given, logged", [
    # Keras 3.15: a later metric of a name already logged gets "_1", "_2", ... (CompileMetrics.result)
    (["mse", "mse"], ["mse", "mse_1"]),
    (["mae", "mae", "mse"], ["mae", "mae_1", "mse"]),
    (["mse", "mse", "mse"], ["mse", "mse_1", "mse_2"]),
    (["mae", metrics.MeanAbsoluteError()], ["mae", "mean_absolute_error"]),       # two names: none renamed
    (["mean_absolute_error", metrics.MeanAbsoluteError()], ["mean_absolute_error", "mean_absolute_error_1"]),
    ([metrics.MeanAbsoluteError(), metrics.MeanAbsoluteError()], ["mean_absolute_error", "mean_absolute_error_1"]),
    ([metrics.MeanAbsoluteError(name="x"), metrics.MeanSquaredError(name="x")], ["x", "x_1"]),
])
def test_metrics_of_one_name_log_as_keras_numbers_them(rng, given, logged):
    x, y = _data(rng)
    model = _model()
    model.compile(loss="mse", optimizer="sgd", metrics=given)
    history, evaluated = _keys(model, x, y)
    assert evaluated == ["loss", *logged]
    assert model.metrics_names == ["loss", *logged]
    assert history == sorted(["loss", *logged, "val_loss", *(f"val_{name}" for name in logged)])


def test_renamed_metrics_keep_their_values(rng):
    x, y = _data(rng)
    model = _model()
    model.compile(loss="mse", optimizer="sgd", metrics=["mse", "mse", metrics.MeanSquaredError(name="mse")])
    values = model.evaluate(x, y, return_dict=True, verbose=0)
    assert values["mse"] == values["mse_1"] == pytest.approx(values["mse_2"], rel=1e-6)
    assert values["mse"] == pytest.approx(values["loss"], rel=1e-6)


def test_two_calls_of_one_function_log_as_keras_names_them(rng):
    def f(y_true, y_pred):
        return float(np.mean(y_true - y_pred))
    x, y = _data(rng)
    model = _model()
    model.compile(loss="mse", optimizer="sgd", metrics=[f, f])
    assert _keys(model, x, y) == (["f", "f_1", "loss", "val_f", "val_f_1", "val_loss"], ["loss", "f", "f_1"])


def test_weighted_metrics_of_one_name_log_as_keras_names_them(rng):
    x, y = _data(rng)
    model = _model()
    model.compile(loss="mse", optimizer="sgd", metrics=["mse", "mse"], weighted_metrics=["mse", "mse"])
    history, evaluated = _keys(model, x, y)
    assert evaluated == ["loss", "mse", "mse_1", "weighted_mse", "weighted_mse_1"]
    assert history == ["loss", "mse", "mse_1", "val_loss", "val_mse", "val_mse_1", "val_weighted_mse",
                       "val_weighted_mse_1", "weighted_mse", "weighted_mse_1"]


@pytest.mark.parametrize("given", [
    [lambda y_true, y_pred: 0.0],                   # named "<lambda>": fine alone
])
def test_a_single_metric_is_not_renamed(rng, given):
    model = _model()
    model.compile(loss="mse", optimizer="sgd", metrics=given)
    assert model.metrics_names == ["loss", "<lambda>"]


def _named(name):
    fn = lambda y_true, y_pred: 0.0      # noqa: E731
    fn.__name__ = name
    return fn


@pytest.mark.parametrize("given", [
    [_named("loss")],                     # Keras 3.15 logs one "loss" and drops the other value
    [_named("mse_1"), "mse", "mse"],      # the second "mse" would be "mse_1": Keras keeps one of the two
    [_named("val_acc"), "acc"],           # "val_acc" twice once validated
])
def test_names_that_numbering_cannot_part_are_still_refused(given):
    model = _model()
    with pytest.raises(ValueError, match=r"metrics: the names .* would log several values under"):
        model.compile(loss="mse", optimizer="sgd", metrics=given)
    assert model.loss is None


def test_renamed_metrics_reach_the_progress_bar_and_csv_logger(rng, tmp_path, capsys):
    x, y = _data(rng)
    model = _model()
    model.compile(loss="mse", optimizer="sgd", metrics=["mae", "mae"])
    path = tmp_path / "log.csv"
    model.fit(x, y, epochs=1, batch_size=32, validation_data=(x, y), verbose=2,
              callbacks=[gn.callbacks.CSVLogger(str(path))])
    shown = capsys.readouterr().out
    assert "mae_1:" in shown and "val_mae_1:" in shown
    with open(path, newline="") as f:
        header = next(csv.reader(f))
    assert {"mae", "mae_1", "val_mae", "val_mae_1"} <= set(header)


def test_the_given_names_survive_save_and_load(rng, tmp_path):
    x, y = _data(rng)
    model = _model()
    model.compile(loss="mse", optimizer="sgd", metrics=["mae", "mae", "mse", metrics.MeanAbsoluteError(),
                                                        metrics.MeanAbsoluteError()],
                  weighted_metrics=["mae", "mae"])
    # the config records what compile was given (as Keras' compile config does), not the log names
    mae_class = {"class_name": "MeanAbsoluteError", "config": {"name": "mean_absolute_error"}}
    assert model.get_compile_config()["metrics"] == ["mae", "mae", "mse", mae_class, mae_class]
    assert model.get_compile_config()["weighted_metrics"] == ["mae", "mae"]
    logged = model.metrics_names
    assert logged == ["loss", "mae", "mae_1", "mse", "mean_absolute_error", "mean_absolute_error_1",
                      "weighted_mae", "weighted_mae_1"]
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert loaded.metrics_names == logged
    assert loaded.evaluate(x, y, return_dict=True, verbose=0) == pytest.approx(
        model.evaluate(x, y, return_dict=True, verbose=0))
    twin = gn.models.clone_model(model)
    twin.compile_from_config(model.get_compile_config())
    assert twin.metrics_names == logged


def _two_outputs():
    inputs = gn.Input((3,))
    return gn.Model(inputs, [Dense(1, name="a")(inputs), Dense(1, name="b")(inputs)], seed=0)


@pytest.mark.parametrize("given, weighted, logged", [
    ([["mse", "mse"], ["mae"]], None, ["a_mse", "a_mse_1", "b_mae"]),
    ({"a": ["mse", "mse"], "b": ["mse", metrics.MeanSquaredError(name="mse")]}, None,
     ["a_mse", "a_mse_1", "b_mse", "b_mse_1"]),
    ({"a": ["mse", "mse"]}, {"a": ["mse", "mse"]}, ["a_mse", "a_mse_1", "a_weighted_mse", "a_weighted_mse_1"]),
])
def test_each_outputs_metrics_of_one_name_log_as_keras_names_them(rng, tmp_path, given, weighted, logged):
    x, y = _data(rng)
    model = _two_outputs()
    model.compile(loss="mse", optimizer="sgd", metrics=given, weighted_metrics=weighted)
    history = model.fit(x, [y, y], epochs=1, batch_size=8, validation_data=(x, [y, y]), verbose=0).history
    expected = ["a_loss", "b_loss", "loss", *logged]
    assert sorted(history) == sorted([*expected, *(f"val_{name}" for name in expected)])
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert sorted(loaded.metrics_names) == sorted(expected)


def _positional(cls):
    import inspect
    return [p.name for p in inspect.signature(cls.__init__).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"]


def test_each_metric_class_takes_keras_positional_order(keras):
    # glassnet's positional parameters are Keras 3.15's, or the first of them (a further positional
    # argument is then Python's TypeError, never a setting read as another); Metric itself keeps
    # (name, dtype): Keras' base takes (dtype, name), which subclasses pass by keyword
    differ = {}
    for name in dir(keras.metrics):
        theirs = getattr(keras.metrics, name)
        ours = getattr(metrics, name, None)
        if isinstance(theirs, type) and ours is not None and name != "Metric":
            if _positional(theirs)[:len(_positional(ours))] != _positional(ours):
                differ[name] = (_positional(ours), _positional(theirs))
    assert differ == {}


@pytest.mark.parametrize("make", [
    lambda m: m.BinaryCrossentropy("bce", None, True, 0.1),               # from_logits, label_smoothing
    lambda m: m.CategoricalCrossentropy("cce", None, True, 0.2),
    lambda m: m.BinaryAccuracy("ba", None, 0.7),                          # threshold third
    lambda m: m.AUC(50, "PR", "interpolation", "auc", None, None, False),   # thresholds, multi_label
    lambda m: m.AUC(50, "ROC", "interpolation", "auc", None, [0.2, 0.5, 0.8]),
    lambda m: m.CosineSimilarity("cos", None, -1),
])
def test_keras_positional_calls_give_keras_values(keras, rng, make):
    y_pred = rng.uniform(-2, 2, (12, 3)).astype("float32")
    y_true = (rng.random((12, 3)) > 0.5).astype("float32")
    if "Categorical" in type(make(metrics)).__name__:
        y_true = np.eye(3, dtype="float32")[rng.integers(0, 3, 12)]
    if type(make(metrics)).__name__ in ("BinaryAccuracy", "AUC"):
        y_pred = 1 / (1 + np.exp(-y_pred))
    ours, theirs = make(metrics), make(keras.metrics)
    assert ours.name == theirs.name
    assert ours(y_true, y_pred) == pytest.approx(float(theirs(y_true, y_pred)), rel=1e-5, abs=1e-6)


def test_sparse_top_k_from_sorted_ids_is_fourth(keras, rng):
    ids = np.argsort(-rng.random((10, 6)), axis=-1)
    labels = rng.integers(0, 6, (10, 1))
    ours = metrics.SparseTopKCategoricalAccuracy(2, "top2", None, True)
    theirs = keras.metrics.SparseTopKCategoricalAccuracy(2, "top2", None, True)
    assert ours.from_sorted_ids and ours.k == 2 and ours.name == "top2"
    assert ours(labels, ids) == pytest.approx(float(theirs(labels, ids)))


def test_positional_settings_keras_would_not_read_so_are_refused():
    # BinaryAccuracy(0.7): Keras' name; glassnet read it as the threshold before
    with pytest.raises(TypeError, match=r"BinaryAccuracy: name: .*\(name, dtype, threshold\).*threshold=0.7"):
        metrics.BinaryAccuracy(0.7)
    with pytest.raises(TypeError, match=r"BinaryCrossentropy: dtype: expected None or a float dtype.*True"):
        metrics.BinaryCrossentropy("bce", True)           # glassnet's old order: from_logits second
    with pytest.raises(ValueError, match="SparseCategoricalCrossentropy: ignore_class: only None"):
        metrics.SparseCategoricalCrossentropy("s", None, False, 0)
    assert metrics.PearsonCorrelation("p", "float32", -1).axis == -1
    assert metrics.MeanIoU(3, "m", None, 0).ignore_class == 0
    assert metrics.AUC(from_logits=True, multi_label=True).multi_label       # keywords as before
