"""glassnet.dask.sweep: grids trained as Dask tasks on the synchronous, threaded and process
schedulers and on a dask.distributed Client; sorting, rebuilt models, and the errors it names."""
import math

import numpy as np
import pytest

pytest.importorskip("dask", reason="Dask not installed: pip install 'glassnet[dask]'")

import glassnet as gn                                                     # noqa: E402
from glassnet.dask import SweepResult, best_model, sweep                 # noqa: E402

GRID = {"units": [4, 16], "learning_rate": [0.01, 0.05]}
EPOCHS = 5


# module-level functions: the process scheduler imports them by name in its workers
def build(units, learning_rate, seed=0):
    model = gn.Sequential([gn.layers.Dense(units, activation="relu", input_dim=2),
                           gn.layers.Dense(1, activation="sigmoid")], seed=seed)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(learning_rate=learning_rate),
                  metrics=["accuracy"])
    return model


def build_regressor(learning_rate):
    model = gn.Sequential([gn.layers.Dense(8, activation="relu", input_dim=2), gn.layers.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=learning_rate))
    return model


@pytest.fixture(scope="module")
def moons():
    return gn.datasets.moons(n_samples=400)


def _check_results(results, moons, sort_by="val_loss"):
    (X, y), (Xv, yv) = moons
    assert [type(r) for r in results] == [SweepResult] * 4
    assert sorted(tuple(sorted(r["params"].items())) for r in results) == sorted(
        tuple(sorted({"units": u, "learning_rate": lr}.items())) for u in GRID["units"]
        for lr in GRID["learning_rate"])
    values = [r["metrics"][sort_by] for r in results]
    assert values == sorted(values, reverse="acc" in sort_by)
    for r in results:
        assert r["error"] is None and set(r["metrics"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
        assert len(r["history"]["val_loss"]) == EPOCHS
        assert all(isinstance(w, np.ndarray) for w in r["weights"])
    # the rebuilt best model scores exactly what the task measured, and predicts as a model trained
    # here with the same parameters and seed
    best = best_model(results)
    assert best.evaluate(Xv, yv) == pytest.approx([results[0]["metrics"]["val_loss"],
                                                   results[0]["metrics"]["val_accuracy"]], rel=1e-6)
    local = build(**results[0]["params"])
    local.fit(X, y, epochs=EPOCHS, verbose=0)
    np.testing.assert_array_equal(best.predict(Xv), local.predict(Xv))


@pytest.mark.parametrize("scheduler", ["synchronous", "threads"])
def test_sweep_on_local_schedulers(moons, scheduler):
    (X, y), validation = moons
    results = sweep(build, GRID, X, y, validation_data=validation, fit_kwargs={"epochs": EPOCHS},
                    scheduler=scheduler)
    _check_results(results, moons)


def test_sweep_on_the_process_scheduler(moons):
    # about 3 s on two cores: each worker process starts Python and imports numpy, dask and glassnet
    (X, y), validation = moons
    results = sweep(build, GRID, X, y, validation_data=validation, fit_kwargs={"epochs": EPOCHS},
                    scheduler="processes")
    _check_results(results, moons)
    threaded = sweep(build, GRID, X, y, validation_data=validation, fit_kwargs={"epochs": EPOCHS},
                     scheduler="threads")
    assert [r["metrics"] for r in results] == [r["metrics"] for r in threaded]


def test_sweep_on_a_distributed_client(moons):
    distributed = pytest.importorskip("distributed", reason="pip install 'glassnet[dask]' for dask.distributed")
    (X, y), validation = moons
    # an in-process cluster (threads): the same client.compute/client.gather path as a real cluster
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2,
                            dashboard_address=None) as client:
        results = sweep(build, GRID, X, y, validation_data=validation, fit_kwargs={"epochs": EPOCHS},
                        client=client, sort_by="val_accuracy")
    _check_results(results, moons, sort_by="val_accuracy")


def test_fit_prefixed_keys_go_to_fit_and_callbacks_are_not_shared(moons):
    (X, y), validation = moons
    stopper = gn.EarlyStopping(monitor="val_loss", patience=0)
    results = sweep(build, {"units": [8], "learning_rate": [0.05], "fit__batch_size": [16, None]}, X, y,
                    validation_data=validation, fit_kwargs={"epochs": 3, "callbacks": [stopper]},
                    scheduler="threads")
    assert {r["params"]["fit__batch_size"] for r in results} == {16, None}
    assert results[0]["metrics"]["val_loss"] != results[1]["metrics"]["val_loss"]
    assert stopper.model is None            # each task trained with its own copy


def test_callbacks_in_the_grid_are_not_shared_either(moons):
    # every combination of the grid holds the same EarlyStopping object: each task must copy it
    (X, y), validation = moons
    stopper = gn.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    grid = {"units": [8], "learning_rate": [0.001, 0.01, 0.05], "fit__callbacks": [[stopper]]}
    threaded = sweep(build, grid, X, y, validation_data=validation, fit_kwargs={"epochs": 8},
                     scheduler="threads")
    assert stopper.model is None and stopper.best_weights is None
    alone = sweep(build, grid, X, y, validation_data=validation, fit_kwargs={"epochs": 8},
                  scheduler="synchronous")
    assert [(r["params"]["learning_rate"], r["metrics"], r["history"]) for r in threaded] == \
        [(r["params"]["learning_rate"], r["metrics"], r["history"]) for r in alone]


def test_reported_metrics_weigh_and_split_the_data_as_fit_did(moons):
    (X, y), (Xv, yv) = moons
    w, wv = np.where(y == 1, 3.0, 0.5), np.linspace(0.5, 2, len(yv))
    grid = {"units": [8], "learning_rate": [0.05]}
    result, = sweep(build, grid, X, y, validation_data=(Xv, yv, wv), scheduler="synchronous",
                    fit_kwargs={"epochs": 3, "sample_weight": w})
    model = result.model()
    assert result["metrics"]["loss"] == pytest.approx(model.evaluate(X, y, sample_weight=w)[0], rel=1e-6)
    assert result["metrics"]["val_loss"] == pytest.approx(model.evaluate(Xv, yv, sample_weight=wv)[0], rel=1e-6)
    assert result["metrics"]["val_loss"] == pytest.approx(result["history"]["val_loss"][-1], rel=1e-6)
    result, = sweep(build, grid, X, y, scheduler="synchronous",
                    fit_kwargs={"epochs": 3, "class_weight": {0: 1.0, 1: 3.0}, "validation_split": 0.25})
    model, cut = result.model(), int(len(X) * 0.75)       # fit trains on the first 75 %
    assert set(result["metrics"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert result["metrics"]["loss"] == pytest.approx(
        model.evaluate(X[:cut], y[:cut], sample_weight=np.where(y[:cut] == 1, 3.0, 1.0))[0], rel=1e-6)
    assert result["metrics"]["val_accuracy"] == model.evaluate(X[cut:], y[cut:])[1]
    assert result["metrics"]["val_loss"] == pytest.approx(result["history"]["val_loss"][-1], rel=1e-6)


def test_an_error_in_a_later_combination_names_it(moons):
    (X, y), _ = moons
    with pytest.raises(ValueError, match="units must be a positive integer") as info:
        sweep(build, {"units": [8, 0], "learning_rate": [0.05]}, X, y, fit_kwargs={"epochs": 1},
              scheduler="synchronous")
    assert info.value.__notes__ == ["in the sweep's combination {'learning_rate': 0.05, 'units': 0}"]


def test_without_validation_data_it_sorts_by_training_loss():
    (X, y), _ = gn.datasets.xor()
    results = sweep(build, {"units": [2, 8], "learning_rate": [0.1]}, X, y, fit_kwargs={"epochs": 20},
                    scheduler="synchronous")
    assert set(results[0]["metrics"]) == {"loss", "accuracy"}
    assert results[0]["metrics"]["loss"] <= results[1]["metrics"]["loss"]


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")     # the point of the test
def test_a_diverging_combination_is_reported_last_not_raised(rng):
    X = rng.standard_normal((64, 2)).astype(np.float32)
    y = (X @ [1.0, -2.0]).astype(np.float32)
    results = sweep(build_regressor, {"learning_rate": [1e12, 0.01]}, X, y, fit_kwargs={"epochs": 3},
                    scheduler="synchronous")
    assert results[0]["error"] is None and results[0]["params"] == {"learning_rate": 0.01}
    assert "NaN" in results[1]["error"] or "inf" in results[1]["error"]
    assert math.isnan(results[1]["metrics"]["loss"])
    with pytest.raises(ValueError, match="has no model"):
        results[1].model()


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid:RuntimeWarning")
def test_terminate_on_nan_in_the_callbacks_still_reports_the_failure(rng, capsys):
    X = rng.standard_normal((64, 2)).astype(np.float32)
    y = (X @ [1.0, -2.0]).astype(np.float32)
    results = sweep(build_regressor, {"learning_rate": [1e12, 0.01]}, X, y, scheduler="synchronous",
                    fit_kwargs={"epochs": 3, "callbacks": [gn.TerminateOnNaN()]})
    assert results[0]["error"] is None and results[1]["params"] == {"learning_rate": 1e12}
    assert "training stopped" in results[1]["error"] and math.isnan(results[1]["metrics"]["loss"])
    assert "Invalid loss, terminating training" in capsys.readouterr().out


def _uncompiled(units):
    return gn.Sequential([gn.layers.Dense(units, input_dim=2)])


def _ones(shape, rng, dtype):
    return np.ones(shape, dtype=dtype)


def _custom_initializer(units):
    model = gn.Sequential([gn.layers.Dense(units, kernel_initializer=_ones, input_dim=2),
                           gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    return model


def test_a_model_without_a_config_fails_before_any_task_trains(moons, monkeypatch):
    # each task ends with model.get_config(), which a custom initializer makes fail: not after training
    (X, y), validation = moons
    monkeypatch.setattr(gn.Sequential, "fit", lambda *a, **k: pytest.fail("a task trained"))
    with pytest.raises(ValueError, match="not registered"):
        sweep(_custom_initializer, {"units": [4, 8]}, X, y, validation_data=validation, scheduler="synchronous")


@pytest.mark.parametrize("kwargs, error, match", [
    ({"param_grid": {}}, ValueError, "empty"),
    ({"param_grid": {"units": []}}, ValueError, "no combinations"),
    ({"param_grid": {"units": 4}}, TypeError, "list of values"),
    ({"build_fn": _uncompiled, "param_grid": {"units": [4]}}, ValueError, "not compiled"),
    ({"build_fn": lambda units: "model", "param_grid": {"units": [4]}}, TypeError, "Sequential"),
    ({"sort_by": "val_auc"}, ValueError, "sort_by"),
    ({"sort_by": "val_loss", "validation_data": None}, ValueError, "sort_by"),
    ({"fit_kwargs": {"validation_data": None}}, ValueError, "fit_kwargs"),
    ({"param_grid": {**GRID, "fit__validation_data": [None]}}, ValueError, r"param_grid: \['fit__validation_data'\]"),
    ({"param_grid": {**GRID, "fit__x": [None]}}, ValueError, "sweep's own arguments"),
    ({"param_grid": {**GRID, "fit__validation_split": [0.0, 0.2]}, "validation_data": None}, ValueError,
     "some combinations hold out validation data"),
    ({"scheduler": "threads", "client": object()}, ValueError, "not both"),
])
def test_errors_are_named_before_any_task_runs(moons, kwargs, error, match):
    (X, y), validation = moons
    args = {"build_fn": build, "param_grid": GRID, "validation_data": validation, **kwargs}
    with pytest.raises(error, match=match):
        sweep(X=X, y=y, **args)


def test_best_model_of_nothing():
    with pytest.raises(ValueError, match="non-empty"):
        best_model([])


def test_the_grid_without_scikit_learn_matches_parameter_grid(monkeypatch):
    from glassnet.dask import _combinations
    grid = [{"b": [1, 2], "a": ["x", "y", "z"]}, {"c": [0.5]}]
    with_sklearn = _combinations(grid)
    monkeypatch.setitem(__import__("sys").modules, "sklearn.model_selection", None)   # import fails
    assert _combinations(grid) == with_sklearn and len(with_sklearn) == 7


def test_a_missing_dask_is_named(monkeypatch):
    import importlib
    import sys
    monkeypatch.delitem(sys.modules, "glassnet.dask")
    monkeypatch.setitem(sys.modules, "dask", None)                  # makes the import fail
    with pytest.raises(ImportError, match=r"pip install 'glassnet\[dask\]'"):
        importlib.import_module("glassnet.dask")


def _positive_rate(y_true, y_pred):
    return float(np.mean(y_pred > 0.5))


def build_with_custom_metric(units):
    model = gn.Sequential([gn.layers.Dense(units, activation="relu", input_dim=2),
                           gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=[_positive_rate])
    return model


def test_a_model_with_a_custom_metric_is_rebuilt_by_build_fn(moons):
    (X, y), (Xv, yv) = moons
    results = sweep(build_with_custom_metric, {"units": [4, 8], "fit__batch_size": [32]}, X, y,
                    fit_kwargs={"epochs": 2}, scheduler="synchronous")
    with pytest.raises(ValueError, match=r"cannot be rebuilt from its config .*result\.model\(build_fn\)"):
        results[0].model()
    model = best_model(results, build_with_custom_metric)
    assert model.evaluate(X, y)[1] == pytest.approx(results[0]["metrics"]["_positive_rate"])
    assert model.evaluate(X, y)[0] == pytest.approx(results[0]["metrics"]["loss"], rel=1e-6)


def build_with_a_renamed_auc(learning_rate):
    model = gn.Sequential([gn.layers.Dense(8, activation="relu", input_dim=2),
                           gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(learning_rate=learning_rate),
                  metrics=[gn.metrics.AUC(name="roc_auc")])
    return model


def test_a_metric_that_goes_up_sorts_best_first_whatever_its_name(moons):
    (X, y), validation = moons
    results = sweep(build_with_a_renamed_auc, {"learning_rate": [1e-4, 0.01, 0.03]}, X, y,
                    validation_data=validation, fit_kwargs={"epochs": 3}, sort_by="val_roc_auc",
                    scheduler="synchronous")
    values = [r["metrics"]["val_roc_auc"] for r in results]
    assert values == sorted(values, reverse=True) and values[0] > values[-1]


@pytest.mark.parametrize("make", [lambda d: gn.callbacks.CSVLogger(str(d / "log.csv")),
                                  lambda d: gn.callbacks.ModelCheckpoint(str(d / "best.npz")),
                                  lambda d: gn.callbacks.TensorBoard(log_dir=str(d / "logs"))])
def test_a_file_writing_callback_shared_by_combinations_is_refused(make, moons, tmp_path):
    # each combination would overwrite the others' file, silently: refused before any task runs
    (X, y), _ = moons
    with pytest.raises(ValueError, match=r"sweep: (CSVLogger|ModelCheckpoint|TensorBoard)'s "
                                         r"(filename|filepath|log_dir) .* would be written by several combinations"):
        sweep(build, GRID, X, y, fit_kwargs={"epochs": 1, "callbacks": [make(tmp_path)]}, scheduler="synchronous")
    assert list(tmp_path.iterdir()) == []
    # one file per combination, given through the grid: taken, each written
    logs = [gn.callbacks.CSVLogger(str(tmp_path / f"log_{units}.csv")) for units in (4, 16)]
    grid = {"units": [4], "learning_rate": [0.01], "fit__callbacks": [[logs[0]], [logs[1]]]}
    results = sweep(build, grid, X, y, fit_kwargs={"epochs": 1}, scheduler="synchronous")
    assert len(results) == 2 and sorted(p.name for p in tmp_path.iterdir()) == ["log_16.csv", "log_4.csv"]
    # one combination alone may keep its file
    sweep(build, {"units": [4], "learning_rate": [0.01]}, X, y, scheduler="synchronous",
          fit_kwargs={"epochs": 1, "callbacks": [gn.callbacks.CSVLogger(str(tmp_path / "one.csv"))]})
    assert (tmp_path / "one.csv").exists()


def test_a_writer_in_fit_kwargs_that_the_grid_replaces_is_not_refused(moons, tmp_path):
    # the grid's fit__callbacks replaces fit_kwargs' list for its combinations (fit takes one list),
    # so fit_kwargs' CSVLogger is never run there and its path shared by nothing: taken. The check
    # concatenated both lists before and refused it
    (X, y), _ = moons
    shared = gn.callbacks.CSVLogger(str(tmp_path / "shared.csv"))
    own = [gn.callbacks.CSVLogger(str(tmp_path / f"own_{k}.csv")) for k in range(2)]
    grid = {"units": [4], "learning_rate": [0.01], "fit__callbacks": [[own[0]], [own[1]]]}
    results = sweep(build, grid, X, y, fit_kwargs={"epochs": 1, "callbacks": [shared]}, scheduler="synchronous")
    assert len(results) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["own_0.csv", "own_1.csv"]
    # a grid that gives one combination its list and leaves the other on fit_kwargs' shares nothing either
    grid = {"units": [4], "learning_rate": [0.01], "fit__callbacks": [[own[0]], [shared]]}
    sweep(build, grid, X, y, fit_kwargs={"epochs": 1, "callbacks": [shared]}, scheduler="synchronous")
    # but the same writer given to two combinations through the grid still is refused
    grid = {"units": [4, 16], "learning_rate": [0.01], "fit__callbacks": [[shared]]}
    with pytest.raises(ValueError, match="would be written by several combinations"):
        sweep(build, grid, X, y, fit_kwargs={"epochs": 1}, scheduler="synchronous")
