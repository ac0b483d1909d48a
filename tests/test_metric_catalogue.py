"""Keras 3's other metric classes (the confusion counts, the rates at a constrained rate, the
loss-like means, Accuracy, Mean, Sum, MeanMetricWrapper) and Keras' ``sample_weight`` in every
built-in metric: values against Keras 3.15 over batches of different sizes, with and without
weights; by name in compile; in a model file; and the errors."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import metrics
from glassnet.layers import Dense

from test_gpu import cupy  # noqa: F401  (the fixture: fakecupy, and CuPy where a GPU is)


def _binary(rng, n, units=1):
    y = (rng.random((n, units)) < 0.4).astype(np.float32)
    p = rng.random((n, units)).astype(np.float32)
    p[:2, 0] = [0.0, 1.0][:n]           # on the thresholds' edges
    return y, p


def _onehot(rng, n, units=4):
    labels = rng.integers(0, units, n)
    y = np.eye(units, dtype=np.float32)[labels]
    p = rng.random((n, units)).astype(np.float32) + 0.01
    return y, p / p.sum(axis=1, keepdims=True), labels


def _batches(rng, make, sizes=(7, 16, 1)):
    """Batches of different sizes, each with per-sample weights (some 0)."""
    for n in sizes:
        w = rng.random(n).astype(np.float32) * 2
        w[rng.random(n) < 0.2] = 0
        yield (*make(rng, n), w)


def _compare(ours, theirs, batches, weighted, abs=1e-5):
    for batch in batches:
        y, p, w = batch[0], batch[1], batch[-1]
        if isinstance(ours, (metrics.SparseCategoricalCrossentropy, metrics.SparseCategoricalAccuracy)):
            y = batch[2]
        kwargs = {"sample_weight": w} if weighted else {}
        ours.update_state(y, p, **kwargs)
        theirs.update_state(y, p, **kwargs)
    assert ours.result() == pytest.approx(float(theirs.result()), rel=1e-5, abs=abs)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name,settings,units", [
    ("TruePositives", {}, 1), ("FalsePositives", {"thresholds": 0.3}, 3), ("TrueNegatives", {}, 2),
    ("FalseNegatives", {"thresholds": 0.8}, 1),
    ("SensitivityAtSpecificity", {"specificity": 0.6}, 1),
    ("SpecificityAtSensitivity", {"sensitivity": 0.7, "num_thresholds": 7}, 2),
    ("PrecisionAtRecall", {"recall": 0.5, "class_id": 1}, 3),
    ("RecallAtPrecision", {"precision": 0.45}, 1), ("RecallAtPrecision", {"precision": 0.99}, 1),
    ("SensitivityAtSpecificity", {"specificity": 0.5, "num_thresholds": 1}, 1),
    ("Precision", {}, 1), ("Recall", {"top_k": 2}, 3), ("Precision", {"class_id": 2, "thresholds": 0.4}, 3),
    ("AUC", {}, 1), ("AUC", {"curve": "PR"}, 2), ("AUC", {"multi_label": True}, 3),
    ("BinaryAccuracy", {}, 2), ("BinaryAccuracy", {"threshold": 0.7}, 1),
    ("BinaryCrossentropy", {}, 2), ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, 1),
    ("Poisson", {}, 3), ("KLDivergence", {}, 3), ("Hinge", {}, 2), ("SquaredHinge", {}, 2),
    ("MeanAbsolutePercentageError", {}, 2), ("MeanSquaredLogarithmicError", {}, 2), ("LogCoshError", {}, 2),
    ("MeanSquaredError", {}, 2), ("MeanAbsoluteError", {}, 2), ("RootMeanSquaredError", {}, 3),
    ("CosineSimilarity", {}, 3), ("R2Score", {}, 2)])
def test_binary_targets_against_keras(keras, rng, name, settings, units, weighted):
    ours, theirs = getattr(metrics, name)(**settings), getattr(keras.metrics, name)(**settings)
    batches = list(_batches(rng, lambda r, n: _binary(r, n, units)))
    if name == "BinaryCrossentropy" and settings.get("from_logits"):
        batches = [(y, p * 8 - 4, w) for y, p, w in batches]
    _compare(ours, theirs, batches, weighted)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name,settings", [
    ("CategoricalCrossentropy", {}), ("CategoricalCrossentropy", {"label_smoothing": 0.2}),
    ("SparseCategoricalCrossentropy", {}), ("CategoricalHinge", {}), ("KLDivergence", {}),
    ("CategoricalAccuracy", {}), ("SparseCategoricalAccuracy", {}), ("TopKCategoricalAccuracy", {"k": 2}),
    ("F1Score", {"average": "macro"}), ("F1Score", {"average": "micro", "threshold": 0.3}),
    ("FBetaScore", {"average": "weighted", "beta": 2.0}), ("AUC", {"multi_label": True}),
    ("Precision", {"top_k": 1}), ("Accuracy", {})])
def test_class_targets_against_keras(keras, rng, name, settings, weighted):
    ours, theirs = getattr(metrics, name)(**settings), getattr(keras.metrics, name)(**settings)
    batches = list(_batches(rng, _onehot))
    if name == "Accuracy":          # outputs that are labels: some equal to the targets
        batches = [(y, np.where(rng.random(y.shape) < 0.5, y, 1 - y), labels, w) for y, p, labels, w in batches]
    _compare(ours, theirs, batches, weighted)


@pytest.mark.parametrize("name", ["CategoricalAccuracy", "MeanSquaredError", "CategoricalCrossentropy",
                                  "BinaryAccuracy"])
def test_weights_per_position_of_a_sequence_as_keras(keras, rng, name):
    """Outputs (n, T, k) weighed per sample (n,) and per position (n, T), as a tagger's are."""
    ours, theirs = getattr(metrics, name)(), getattr(keras.metrics, name)()
    for n in (5, 3):
        labels = rng.integers(0, 3, (n, 4))
        y = np.eye(3, dtype=np.float32)[labels]
        p = rng.random((n, 4, 3)).astype(np.float32) + 0.01
        p /= p.sum(axis=-1, keepdims=True)
        for w in (rng.random(n).astype(np.float32), rng.random((n, 4)).astype(np.float32)):
            ours.update_state(y, p, sample_weight=w)
            theirs.update_state(y, p, sample_weight=w)
        ours.update_state(y, p)             # and a batch without weights in between
        theirs.update_state(y, p)
    assert ours.result() == pytest.approx(float(theirs.result()), rel=1e-5)


def test_mean_sum_and_the_wrapper_as_keras(keras, rng):
    pairs = [(metrics.Mean(), keras.metrics.Mean()), (metrics.Sum(), keras.metrics.Sum())]
    for ours, theirs in pairs:
        for values, w in ((rng.random(6), None), (rng.random((4, 3)), rng.random(4)), (2.5, None),
                          (rng.random((3, 2)), rng.random((3, 2)))):
            kwargs = {} if w is None else {"sample_weight": w}
            ours.update_state(values, **kwargs)
            theirs.update_state(values, **kwargs)
        assert ours.result() == pytest.approx(float(theirs.result()), rel=1e-5)

    def worst(y_true, y_pred):
        return np.abs(y_true - y_pred).max(axis=-1)

    def worst_keras(y_true, y_pred):
        return keras.ops.max(keras.ops.abs(y_true - y_pred), axis=-1)
    ours, theirs = metrics.MeanMetricWrapper(worst), keras.metrics.MeanMetricWrapper(worst_keras)
    for y, p, w in _batches(rng, lambda r, n: _binary(r, n, 3)):
        ours.update_state(y, p, sample_weight=w)
        theirs.update_state(y, p, sample_weight=w)
    assert ours.name == "worst"
    assert ours.result() == pytest.approx(float(theirs.result()), rel=1e-5)


def test_by_hand():
    y, p = np.array([[1], [0], [1], [0]]), np.array([[0.9], [0.8], [0.2], [0.1]])
    assert [metrics.get(n)[1](y, p) for n in ("true_positives", "false_positives", "true_negatives",
                                              "false_negatives")] == [1.0, 1.0, 1.0, 1.0]
    assert metrics.TruePositives()(y, p, sample_weight=[2, 1, 1, 1]) == 2.0
    # thresholds 0, 0.5, 1: recall 1, 1/2, 0; precision 1/2, 1/2, 0
    assert metrics.PrecisionAtRecall(0.6, num_thresholds=3)(y, p) == 0.5
    assert metrics.RecallAtPrecision(0.6, num_thresholds=3)(y, p) == 0.0      # unreachable: 0
    # an output of exactly 0 is above no threshold, not even the first (0)
    assert metrics.SensitivityAtSpecificity(1.0, num_thresholds=3)(np.array([[1]]), np.array([[0.0]])) == 0.0
    m = metrics.Mean()
    m.update_state([1.0, 3.0])
    m.update_state([[2.0, 4.0], [6.0, 8.0]], sample_weight=[1.0, 0.0])       # (3,) once, (7,) not at all
    assert m.result() == pytest.approx((1 + 3 + 3) / 3)
    m.reset_state()
    assert m.result() == 0.0
    assert metrics.Accuracy()([[1, 2], [3, 4]], [[1, 0], [3, 4]]) == 0.75
    # a first batch without positives (nothing to count in their buckets), then one with
    auc = metrics.AUC()
    auc.update_state(np.zeros((3, 1)), np.array([[0.2], [0.4], [0.6]]))
    auc.update_state(np.ones((2, 1)), np.array([[0.5], [0.9]]))
    assert auc.result() == pytest.approx(5 / 6, abs=0.01)
    # an empty batch changes nothing (it made NaN or a division by zero)
    for m in (metrics.BinaryAccuracy(), metrics.MeanSquaredError(), metrics.BinaryCrossentropy()):
        m.update_state(np.zeros((0, 1)), np.zeros((0, 1)))
        assert m.result() == 0.0
        m.update_state(np.ones((2, 1)), np.ones((2, 1)) * 0.75)
        assert m.result() > 0


def test_r2_counts_every_value_for_the_adjusted_score_as_keras(keras, rng):
    """A batch weighed 0 still counts its values in the adjusted score's n, as Keras counts them."""
    batches = []
    for n, zero in ((6, False), (5, True), (7, False)):
        y = rng.normal(size=(n, 1)).astype(np.float32)
        batches.append((y, (y + 0.5 * rng.normal(size=(n, 1))).astype(np.float32),
                        np.zeros(n, np.float32) if zero else rng.uniform(0.5, 2, n).astype(np.float32)))
    _compare(metrics.R2Score(num_regressors=2), keras.metrics.R2Score(num_regressors=2), batches, weighted=True)


def test_cosine_similarity_by_name_is_the_cosine_as_keras_logs_it(keras, rng):
    x = rng.random((24, 3)).astype(np.float32)
    y = rng.random((24, 3)).astype(np.float32)
    ours = gn.Sequential([Dense(3, input_dim=3)], seed=0)
    ours.compile("mse", "sgd", metrics=["cosine_similarity"])
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)])
    theirs.set_weights(ours.get_weights())
    theirs.compile(loss="mse", optimizer="sgd", metrics=["cosine_similarity"])
    mine = ours.evaluate(x, y, batch_size=10, verbose=0)[1]
    assert mine > 0                     # the loss of that name is its negative
    assert mine == pytest.approx(theirs.evaluate(x, y, batch_size=10, verbose=0)[1], rel=1e-5)


IMBALANCED = [  # Keras' tutorial "Classification on imbalanced data"
    ("BinaryCrossentropy", {"name": "cross entropy"}), ("MeanSquaredError", {"name": "Brier score"}),
    ("TruePositives", {"name": "tp"}), ("FalsePositives", {"name": "fp"}), ("TrueNegatives", {"name": "tn"}),
    ("FalseNegatives", {"name": "fn"}), ("BinaryAccuracy", {"name": "accuracy"}),
    ("Precision", {"name": "precision"}), ("Recall", {"name": "recall"}), ("AUC", {"name": "auc"}),
    ("AUC", {"name": "prc", "curve": "PR"})]


def test_the_imbalanced_data_tutorials_metrics_train_as_keras_and_survive_a_file(keras, rng, tmp_path):
    x = rng.normal(size=(120, 5)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 1.0).astype(np.float32)[:, None]          # about 1 in 6 positive
    ours = gn.Sequential([Dense(8, activation="relu", input_dim=5), Dense(1, activation="sigmoid")], seed=0)
    ours.compile("binary_crossentropy", gn.optimizers.SGD(0.1),
                 metrics=[getattr(metrics, cls)(**kw) for cls, kw in IMBALANCED])
    theirs = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"),
                               keras.layers.Dense(1, activation="sigmoid")])
    theirs.set_weights(ours.get_weights())
    theirs.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.1),
                   metrics=[getattr(keras.metrics, cls)(**kw) for cls, kw in IMBALANCED])
    mine = ours.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0).history
    their = theirs.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0).history
    for _, kw in IMBALANCED:
        assert mine[kw["name"]] == pytest.approx(their[kw["name"]], rel=1e-4, abs=1e-5), kw["name"]
    path = tmp_path / "imbalanced.npz"
    ours.save(path)
    loaded = gn.load_model(path)
    assert [name for name, _ in loaded.metrics] == [kw["name"] for _, kw in IMBALANCED]
    assert type(loaded.metrics[0][1]) is metrics.BinaryCrossentropy          # not the loss of that class name
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(ours.evaluate(x, y, verbose=0))


@pytest.mark.parametrize("metric", [
    metrics.BinaryCrossentropy(from_logits=True, name="bce"), metrics.SpecificityAtSensitivity(0.3, class_id=0),
    metrics.TruePositives(thresholds=0.2), metrics.CosineSimilarity(), metrics.Accuracy(name="exact"),
    metrics.MeanAbsoluteError(name="my_mae")])
def test_settings_survive_a_model_file(metric, tmp_path):
    model = gn.Sequential([Dense(2, activation="sigmoid", input_dim=3)], seed=0)
    model.compile("mse", "sgd", metrics=[metric])
    model.save(tmp_path / "m.npz")
    (name, loaded), = gn.load_model(tmp_path / "m.npz").metrics
    assert (name, type(loaded), loaded.get_config()) == (metric.name, type(metric), metric.get_config())


def test_a_loss_with_settings_as_a_metric_still_reads_back_as_that_loss():
    """Files written before the metric classes of loss names: a loss's settings, no name."""
    name, metric = metrics.get({"class_name": "BinaryCrossentropy", "config": {"from_logits": True}})
    assert isinstance(metric, metrics.LossMetric) and metric.loss.from_logits is True


@pytest.mark.parametrize("call,error,match", [
    (lambda: metrics.get("MeanIoU"), TypeError, "MeanIoU needs arguments"),
    (lambda: metrics.get(metrics.Mean()), TypeError, "averages values given to it"),
    (lambda: metrics.PrecisionAtRecall(1.5), ValueError, "PrecisionAtRecall: recall"),
    (lambda: metrics.SensitivityAtSpecificity(0.5, num_thresholds=0), ValueError, "num_thresholds"),
    (lambda: metrics.TruePositives(thresholds=[0.2, 0.5]), ValueError, "one number"),
    (lambda: metrics.CategoricalCrossentropy(axis=1), ValueError, "axis: only -1"),
    (lambda: metrics.Precision()([[1], [0]], [[0.5], [0.2]], sample_weight=[1, 2, 3]), ValueError,
     r"sample_weight: expected one weight per sample \(2,\)"),
    (lambda: metrics.BinaryAccuracy()([[1], [0]], [[0.5], [0.2]], sample_weight=[1, -1]), ValueError,
     "non-negative"),
    (lambda: metrics.AUC()([[1], [0]], [[0.5], [0.2]], sample_weight=["a", "b"]), TypeError, "expected numbers"),
    (lambda: metrics.PrecisionAtRecall(0.5, class_id=3)([[1, 0]], [[0.5, 0.2]]), ValueError, "class_id=3"),
    (lambda: metrics.SparseCategoricalCrossentropy()([[1, 0]], [[0.5, 0.5]]), ValueError, "integer labels"),
    (lambda: metrics.Accuracy()([1, 2, 3], [1, 2]), ValueError, "Accuracy: expected targets"),
    (lambda: metrics.MeanMetricWrapper(3), TypeError, "fn must be a function"),
])
def test_errors_name_the_metric_and_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_compile_takes_them_by_keras_names_and_a_model_file_refuses_a_wrapper(tmp_path):
    model = gn.Sequential([Dense(1, activation="sigmoid", input_dim=2)], seed=0)
    model.compile("binary_crossentropy", "sgd", metrics=["true_negatives", "TruePositives", "Accuracy",
                                                         "kl_divergence", metrics.MeanMetricWrapper(np.maximum)])
    assert [name for name, _ in model.metrics] == ["true_negatives", "TruePositives", "Accuracy",
                                                   "kl_divergence", "maximum"]
    X = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    assert len(model.evaluate(X, np.array([1.0, 0.0]), verbose=0)) == 6
    with pytest.raises(ValueError, match="not registered"):
        model.save(tmp_path / "m.npz")


@pytest.mark.parametrize("make", [
    metrics.TruePositives, metrics.TrueNegatives, lambda: metrics.RecallAtPrecision(0.4),
    lambda: metrics.SpecificityAtSensitivity(0.5, num_thresholds=1), lambda: metrics.AUC(multi_label=True),
    lambda: metrics.AUC(thresholds=[0.7, 0.2, 0.5], multi_label=True, label_weights=[1.0, 2.0, 0.5]),
    lambda: metrics.AUC(thresholds=[0.3, 0.6], curve="PR", label_weights=[1.0, 0.0, 2.0]),
    lambda: metrics.Precision(top_k=1), metrics.BinaryCrossentropy, metrics.Poisson, metrics.CosineSimilarity,
    metrics.BinaryAccuracy, metrics.MeanSquaredError, metrics.Accuracy, metrics.R2Score,
    lambda: metrics.F1Score(average="macro", threshold=0.5)])
def test_cupy_arrays_give_the_host_result(make, cupy, rng):
    host, device = make(), make()
    for n in (6, 3):
        y, p = _binary(rng, n, units=3)
        w = rng.random(n).astype(np.float32)
        host.update_state(y, p, sample_weight=w)
        device.update_state(cupy.asarray(y), cupy.asarray(p), sample_weight=cupy.asarray(w))
        host.update_state(y, p)
        device.update_state(cupy.asarray(y), cupy.asarray(p))
    assert isinstance(device.result(), float)
    assert device.result() == pytest.approx(host.result(), rel=1e-6)
