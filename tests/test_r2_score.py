"""R2Score against scikit-learn's r2_score and Keras 3.15's R2Score, over batches and in fit."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.metrics import R2Score


def _batches(metric, y_true, y_pred, size):
    for start in range(0, len(y_true), size):
        metric.update_state(y_true[start:start + size], y_pred[start:start + size])
    return metric.result()


@pytest.mark.parametrize("aggregation,sklearn_name", [("uniform_average", "uniform_average"),
                                                      ("variance_weighted_average", "variance_weighted")])
def test_matches_scikit_learn_over_batches(aggregation, sklearn_name, rng):
    metrics = pytest.importorskip("sklearn.metrics")
    y_true = rng.standard_normal((50, 3)) * [1.0, 5.0, 0.2] + [0.0, 1e6, -3.0]     # one far from 0
    y_pred = y_true + rng.standard_normal((50, 3)) * 0.5
    expected = metrics.r2_score(y_true, y_pred, multioutput=sklearn_name)
    for size in (50, 7, 1):
        assert _batches(R2Score(aggregation), y_true, y_pred, size) == pytest.approx(expected, rel=1e-9)


def test_adjusted_and_edge_cases_match_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    y_true = rng.standard_normal((40, 2)).astype(np.float32)
    y_pred = (y_true + 0.3 * rng.standard_normal((40, 2))).astype(np.float32)
    for settings in ({}, {"class_aggregation": "variance_weighted_average"}, {"num_regressors": 3}):
        theirs = keras.metrics.R2Score(**settings)
        theirs.update_state(y_true[:25], y_pred[:25])
        theirs.update_state(y_true[25:], y_pred[25:])
        assert _batches(R2Score(**settings), y_true, y_pred, 25) == pytest.approx(float(theirs.result()), rel=1e-5)
    assert R2Score().result() == 0.0


def test_constant_infinite_one_dimensional_and_empty_inputs(rng):
    metrics = pytest.importorskip("sklearn.metrics")
    constant = np.full((7, 1), 0.1)                           # not exactly representable
    assert _batches(R2Score(), constant, constant + 1, 3) == 0.0                  # scikit-learn's rule
    assert R2Score()(constant, constant) == 1.0
    mixed = np.column_stack([rng.standard_normal(9), np.ones(9)])
    predicted = mixed + [0.1, 0.0]
    for ours, theirs in (("uniform_average", "uniform_average"), ("variance_weighted_average", "variance_weighted")):
        assert R2Score(ours)(mixed, predicted) == pytest.approx(metrics.r2_score(mixed, predicted, multioutput=theirs))
    y = np.arange(5.0)[:, None]
    assert R2Score()(y, y + 1e200) == -np.inf
    with np.errstate(over="ignore"):
        assert R2Score()(y, np.where(y == 0, np.inf, y)) == -np.inf    # a diverged model never scores 0
    assert R2Score()(np.array([1.0, 2, 3, 4]), np.array([1.0, 2, 3, 3.5])) == pytest.approx(
        metrics.r2_score([1.0, 2, 3, 4], [1.0, 2, 3, 3.5]))
    m = R2Score()
    m.update_state(np.zeros(0), np.zeros(0))
    assert m.result() == 0.0


def test_in_fit_it_is_counted_over_the_epoch_and_maximised(rng, tmp_path):
    x = rng.standard_normal((64, 3))
    y = x @ [1.0, -2.0, 0.5] + 0.1 * rng.standard_normal(64)
    model = gn.Sequential([gn.layers.Dense(1, input_dim=3)], seed=0)
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1), metrics=[R2Score()])
    stop = gn.EarlyStopping(monitor="val_r2_score", patience=2)
    assert stop.mode == "max"
    history = model.fit(x, y, epochs=20, batch_size=16, validation_data=(x, y), callbacks=[stop], verbose=0)
    metrics = pytest.importorskip("sklearn.metrics")
    assert model.evaluate(x, y, return_dict=True)["r2_score"] == pytest.approx(
        metrics.r2_score(y, model.predict(x)[:, 0]), rel=1e-6)
    assert history.history["r2_score"][-1] > 0.9
    model.save(tmp_path / "r.npz")
    assert gn.load_model(tmp_path / "r.npz").get_config()["compile"]["metrics"] == ["r2_score"]


@pytest.mark.parametrize("make,message", [
    (lambda: R2Score(class_aggregation=None), r"R2Score: class_aggregation must be one of"),
    (lambda: R2Score(num_regressors=-1), r"R2Score: num_regressors"),
    (lambda: R2Score()(np.ones((3, 2)), np.ones((3, 3))), r"R2Score: expected targets of the output's shape"),
])
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()
