"""Keras' metric classes for the function metrics (BinaryAccuracy, TopKCategoricalAccuracy, ...,
RootMeanSquaredError): their settings, against Keras 3 over several batches, over whole epochs in a
model, and saved with their settings."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet import metrics
from glassnet.layers import Dense


def _batches(rng, units, labels=False):
    out = []
    for n in (7, 12, 5):
        p = rng.random((n, units)).astype(np.float32)
        if labels:
            y = rng.integers(0, units, n)
        elif units == 1:
            y = (rng.random((n, 1)) < 0.5).astype(np.float32)
        else:
            y = rng.random((n, units)).astype(np.float32)
        out.append((y, p))
    return out


@pytest.mark.parametrize("name,settings,units,labels", [
    ("BinaryAccuracy", {}, 1, False), ("BinaryAccuracy", {"threshold": 0.7}, 1, False),
    ("CategoricalAccuracy", {}, 4, False), ("SparseCategoricalAccuracy", {}, 4, True),
    ("TopKCategoricalAccuracy", {"k": 2}, 5, False), ("SparseTopKCategoricalAccuracy", {"k": 3}, 5, True),
    ("MeanSquaredError", {}, 3, False), ("MeanAbsoluteError", {}, 3, False), ("RootMeanSquaredError", {}, 3, False),
])
def test_against_keras_over_batches_of_different_sizes(name, settings, units, labels, rng):
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = getattr(metrics, name)(**settings), getattr(keras.metrics, name)(**settings)
    for y, p in _batches(rng, units, labels):
        if name.startswith("TopK"):
            y = np.eye(units, dtype=np.float32)[rng.integers(0, units, len(p))]   # one-hot for Keras
        ours.update_state(y, p)
        theirs.update_state(y, p)
    assert ours.result() == pytest.approx(float(theirs.result()), rel=1e-6)


def test_root_of_the_epochs_mean_not_the_mean_of_roots():
    m = metrics.RootMeanSquaredError()
    m.update_state(np.zeros((1, 1)), np.full((1, 1), 3.0))
    m.update_state(np.zeros((3, 1)), np.full((3, 1), 1.0))
    assert m.result() == pytest.approx(np.sqrt((9 + 3) / 4), rel=1e-15)


def test_in_a_model_and_saved(tmp_path):
    (X, y), (Xt, yt) = gn.datasets.iris()
    model = gn.Sequential([Dense(8, activation="relu", input_dim=4), Dense(3, activation="softmax")], seed=0)
    model.compile("sparse_categorical_crossentropy", gn.optimizers.Adam(0.05),
                  metrics=[metrics.SparseTopKCategoricalAccuracy(k=2, name="top2"), "SparseCategoricalAccuracy"])
    history = model.fit(X, y, epochs=2, batch_size=16, validation_data=(Xt, yt), verbose=0)
    p = model.predict(Xt)
    assert history.history["val_top2"][-1] == pytest.approx(
        metrics.sparse_top_k_categorical_accuracy(yt, p, k=2), abs=1e-12)
    assert model.get_config()["compile"]["metrics"] == [
        {"class_name": "SparseTopKCategoricalAccuracy", "config": {"k": 2, "name": "top2"}},
        "SparseCategoricalAccuracy"]        # logged, and named in the config, as given (Keras 3)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert loaded.evaluate(Xt, yt) == model.evaluate(Xt, yt)
    assert [repr(fn) for _, fn in loaded.metrics] == [repr(fn) for _, fn in model.metrics]


def test_bad_settings():
    with pytest.raises(ValueError, match=r"BinaryAccuracy: threshold must be a number in \[0, 1\]"):
        metrics.BinaryAccuracy(threshold=2)
    with pytest.raises(ValueError, match="TopKCategoricalAccuracy: k: expected a positive integer"):
        metrics.TopKCategoricalAccuracy(k=0)


def test_binary_accuracy_cuts_the_targets_at_one_half_whatever_the_threshold():
    y, p = np.array([[1.0], [0.0], [1.0]]), np.array([[0.5], [0.5], [1.0]])
    assert metrics.BinaryAccuracy(threshold=1.0)(y, p) == pytest.approx(1 / 3)       # Keras' 0.3333
    assert metrics.functions.binary_accuracy(np.array([[0.7]]), np.array([[0.9]]), threshold=0.8) == 1.0


def test_directions_decide_mode_auto():
    X = np.random.default_rng(0).random((20, 4)).astype(np.float32)
    classifier = gn.Sequential([Dense(3, activation="softmax", input_dim=4)], seed=0)
    classifier.compile("sparse_categorical_crossentropy", "adam",
                       metrics=[metrics.SparseCategoricalAccuracy(name="sca")])
    regressor = gn.Sequential([Dense(1, input_dim=4)], seed=0)
    regressor.compile("mse", "adam", metrics=[metrics.MeanAbsoluteError(name="mae_acc")])
    for model, y, monitor, wanted in ((classifier, np.arange(20) % 3, "sca", "max"),
                                      (regressor, X[:, :1], "mae_acc", "min")):
        callback = gn.callbacks.EarlyStopping(monitor=monitor)
        assert callback.mode != wanted                  # by the name alone
        model.fit(X, y, epochs=1, verbose=0, callbacks=[callback])
        assert callback.mode == wanted                  # as the metric says, Keras' rule


def test_a_subclass_is_not_named_as_its_parent():
    class MyF1(metrics.F1Score):
        pass

    model = gn.Sequential([Dense(3, activation="softmax", input_dim=4)], seed=0)
    model.compile("categorical_crossentropy", "adam", metrics=[MyF1(average="macro")])
    assert model.get_config()["compile"]["metrics"] == [
        {"class_name": "MyF1", "config": {"average": "macro", "threshold": None, "name": "f1_score"}}]
    with pytest.raises(ValueError, match="class_name"):
        gn.Sequential.from_config(model.get_config())


def test_lists_and_results_that_are_not_one_number():
    assert metrics.BinaryAccuracy()([[1.0, 0.0]], [[0.9, 0.2]]) == 1.0

    class Pair(metrics.Metric):
        def reset_state(self):
            pass

        def update_state(self, y_true, y_pred):
            pass

        def result(self):
            return (0.5, 0.6)

    X = np.zeros((4, 2), np.float32)
    model = gn.Sequential([Dense(1, input_dim=2)], seed=0)
    model.compile("mse", "sgd", metrics=[Pair(name="pair")])
    with pytest.raises(TypeError, match=r"metric 'pair': result\(\) must give one number, got \(0.5, 0.6\)"):
        model.evaluate(X, X[:, :1])


def test_a_function_that_needs_more_than_two_samples_is_not_checked_on_two(rng):
    # sorted labels: the first two samples share a class, which log_loss refuses; the batches do not
    sklearn_metrics = pytest.importorskip("sklearn.metrics")

    def ll(y_true, y_pred):
        return sklearn_metrics.log_loss(y_true.ravel(), y_pred.ravel())

    X = rng.normal(size=(64, 4)).astype(np.float32)
    y = np.sort((X[:, 0] > 0).astype(np.float32))
    model = gn.Sequential([Dense(1, activation="sigmoid", input_dim=4)], seed=0)
    model.compile("binary_crossentropy", "adam", metrics=[ll])
    history = model.fit(X, y, epochs=1, batch_size=64, verbose=0)          # one batch: both classes
    assert np.isfinite(history.history["ll"][0])
