"""Metrics with a state (Precision, Recall, AUC, and a Metric of one's own): their values by hand,
against a threshold-by-threshold count, scikit-learn and Keras 3; counted over whole epochs in fit,
evaluate and validation; kept apart between tallies; saved and rebuilt with their settings; and the
errors for what they cannot take."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet import metrics
from glassnet.errors import ModelFileError
from glassnet.layers import Dense


def _labelled(rng, shape, positive=0.4):
    y = (rng.random(shape) < positive).astype(np.float32)
    return y, rng.random(shape).astype(np.float32)


# ---- values ----------------------------------------------------------------------------------

def test_precision_and_recall_by_hand():
    y = np.array([[1], [0], [1], [1], [0]])
    p = np.array([[0.9], [0.6], [0.4], [0.8], [0.1]])
    # above 0.5: samples 0, 1, 3; of those 0 and 3 are positive; positives are 0, 2, 3
    assert metrics.Precision()(y, p) == pytest.approx(2 / 3, abs=1e-15)
    assert metrics.Recall()(y, p) == pytest.approx(2 / 3, abs=1e-15)
    # 0.5 itself is not above 0.5 (Keras: strictly greater)
    assert metrics.Precision()(np.array([[1]]), np.array([[0.5]])) == 0.0
    assert metrics.Precision(thresholds=0.3)(y, p) == 0.75          # 0, 1, 2, 3 predicted
    assert metrics.Recall(thresholds=0.85)(y, p) == pytest.approx(1 / 3, abs=1e-15)


def test_a_ratio_without_samples_to_divide_is_zero():
    assert metrics.Precision()(np.array([[1], [0]]), np.array([[0.1], [0.2]])) == 0.0   # none predicted
    assert metrics.Recall()(np.array([[0], [0]]), np.array([[0.9], [0.2]])) == 0.0      # no positives
    assert metrics.AUC().result() == 0.0                                              # no batch yet


def test_counts_accumulate_over_batches_not_their_means():
    m = metrics.Precision()
    m.update_state(np.array([[1], [0]]), np.array([[0.9], [0.8]]))     # 1 of 2
    m.update_state(np.array([[1]] * 4), np.array([[0.9]] * 4))         # 4 of 4
    assert m.result() == 5 / 6                # the mean of the batches' precisions would be 0.75
    m.reset_state()
    assert (m.true_positives, m.false_positives, m.false_negatives) == (0, 0, 0)


def test_top_k_and_class_id_by_hand():
    y = np.array([[0, 1, 0], [1, 0, 0]])
    p = np.array([[0.5, 0.3, 0.2], [0.4, 0.4, 0.2]])
    # top 1 of each row: unit 0 in both (row 1: the tie goes to the first, as TensorFlow's top_k)
    assert metrics.Precision(top_k=1)(y, p) == 0.5
    assert metrics.Recall(top_k=2)(y, p) == 1.0
    # unit 0 alone, above 0.45: row 0 only, a false positive
    assert metrics.Precision(class_id=0, thresholds=0.45)(y, p) == 0.0
    assert metrics.Recall(class_id=0, thresholds=0.35)(y, p) == 1.0


def test_targets_are_positive_when_non_zero_and_may_be_labels_for_one_unit():
    p = np.array([[0.9], [0.9], [0.2]])
    assert metrics.Precision()(np.array([[0.7], [0.0], [1.0]]), p) == 0.5    # 0.7 counts as positive
    assert metrics.Recall()(np.array([1, 0, 1]), p) == 0.5                    # (n,) labels for (n, 1)


def _brute_force_counts(y, p, thresholds):
    """tp, fp, tn, fn at each threshold, counted directly: outputs strictly above it."""
    y, p = y.reshape(-1) != 0, p.reshape(-1)
    above = p[None, :] > np.asarray(thresholds, dtype=np.float64)[:, None]
    return [np.count_nonzero(a, axis=1) for a in (above & y, above & ~y, ~above & ~y, ~above & y)]


@pytest.mark.parametrize("curve,summation", [("ROC", "interpolation"), ("ROC", "minoring"),
                                             ("ROC", "majoring"), ("PR", "minoring"), ("PR", "majoring")])
def test_auc_is_the_riemann_sum_of_the_counted_curve(curve, summation, rng):
    y, p = _labelled(rng, (300, 1))
    auc = metrics.AUC(num_thresholds=50, curve=curve, summation_method=summation)
    for part in np.array_split(np.arange(300), 4):        # four batches
        auc.update_state(y[part], p[part])
    tp, fp, tn, fn = _brute_force_counts(y, p, auc.thresholds)
    for name, counted in zip(("true_positives", "false_positives", "true_negatives", "false_negatives"),
                             (tp, fp, tn, fn)):
        np.testing.assert_array_equal(getattr(auc, name), counted, err_msg=name)
    recall = tp / np.maximum(tp + fn, 1)
    precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 0.0)
    x, h = (fp / np.maximum(fp + tn, 1), recall) if curve == "ROC" else (recall, precision)
    pick = {"interpolation": lambda a, b: (a + b) / 2, "minoring": np.minimum, "majoring": np.maximum}
    expected = np.sum((x[:-1] - x[1:]) * pick[summation](h[:-1], h[1:]))
    assert auc.result() == pytest.approx(expected, abs=1e-12)


def test_roc_auc_is_exact_when_no_two_outputs_share_a_bucket(rng):
    from sklearn.metrics import roc_auc_score
    # 60 outputs in 60 different buckets of 199: the thresholds separate every pair
    p = ((rng.permutation(199)[:60] + 0.5) / 199).reshape(-1, 1)
    y = (rng.random((60, 1)) < 0.5).astype(int)
    assert metrics.AUC()(y, p) == pytest.approx(roc_auc_score(y[:, 0], p[:, 0]), abs=1e-12)


def test_auc_by_hand_and_its_options():
    y, p = np.array([[0], [0], [1], [1]]), np.array([[0.1], [0.4], [0.35], [0.8]])
    assert metrics.AUC()(y, p) == pytest.approx(0.75, abs=1e-12)            # 3 of 4 pairs ordered
    z = np.log(p / (1 - p))                                                  # the same, as logits
    assert metrics.AUC(from_logits=True)(y, z) == pytest.approx(0.75, abs=1e-12)
    # multi_label: one area per unit, averaged; unit 1 ranks perfectly
    y2, p2 = np.hstack([y, y]), np.hstack([p, np.array([[0.1], [0.2], [0.7], [0.9]])])
    assert metrics.AUC(multi_label=True)(y2, p2) == pytest.approx((0.75 + 1.0) / 2, abs=1e-12)
    # a perfect ranking's PR area is 1 (Davis and Goadrich's interpolation too)
    assert metrics.AUC(curve="PR")(y2[:, 1:], p2[:, 1:]) == pytest.approx(1.0, abs=1e-12)
    # outside [0, 1]: clipped; NaN: above no threshold, not even the first, but counted (a false
    # positive rate of 1/2 at every threshold: the area 0.5 that Keras gives)
    assert metrics.AUC()(y, np.array([[-3.0], [np.nan], [2.0], [0.9]])) == pytest.approx(0.5, abs=1e-12)
    assert metrics.AUC()(y, np.array([[-3.0], [0.0], [2.0], [0.9]])) == pytest.approx(1.0, abs=1e-12)


def test_nan_and_infinite_outputs_as_keras_counts_them():
    # NaN is above no threshold (Keras drops it from its buckets): ROC area 1/3, Keras' 0.33333337
    y = np.array([1, 1, 0, 0, 1, 0])
    p = np.array([np.nan, np.inf, -np.inf, 0.7, 0.2, np.nan])
    assert metrics.AUC()(y, p) == pytest.approx(1 / 3, abs=1e-12)
    assert metrics.Precision()(y, p) == 0.5            # inf and 0.7 above 0.5; NaN never


def test_direct_calls_take_what_keras_takes():
    assert metrics.Precision()([0, 1, 1], [0.9, 0.8, 0.7]) == pytest.approx(2 / 3, abs=1e-15)  # lists
    assert metrics.Recall()(np.array([[1], [0]]), np.array([0.9, 0.2])) == 1.0     # (n, 1) targets, (n,) outputs
    # bool and integer predictions are 0/1 values, not a bucket arithmetic in bools
    assert metrics.AUC()(np.array([0, 1, 1, 0]), np.array([False, True, True, False])) == pytest.approx(1.0)
    assert metrics.Precision(thresholds=[0.3]).thresholds == 0.3     # a list of one is a number (Keras)
    # with top_k the default threshold is Keras' -1e10: an output below it is never a positive
    assert metrics.Precision(top_k=1)(np.array([[1, 0]]), np.array([[-1e11, -2e11]])) == 0.0
    # the class is made, as Keras makes it
    assert repr(metrics.get(metrics.Recall)[1]) == repr(metrics.Recall())


def test_a_batch_call_reports_a_function_metrics_own_value():
    def tenth(y_true, y_pred):
        return np.float32(0.1)

    X, y, _, _ = _moons()
    model = _binary_model([tenth])
    assert model.test_on_batch(X[:30], y[:30])[1] == float(np.float32(0.1))       # not 0.1 * 30 / 30


def test_a_metric_that_cannot_be_copied_is_named():
    import threading

    class Locked(metrics.Precision):
        def __init__(self):
            super().__init__(name="locked")
            self.lock = threading.Lock()

    X, y, _, _ = _moons()
    locked = Locked()
    model = _binary_model([locked])
    # evaluate counts on the object itself (Keras' rule), so it needs no copy
    assert model.evaluate(X, y, verbose=0)[1] == locked.result() > 0
    # fit's check on two samples before training counts on a copy, to leave the object alone
    with pytest.raises(TypeError, match="metric 'locked': the check on two samples before a run"):
        model.fit(X, y, epochs=1, verbose=0)


def test_keras_names_and_defaults():
    # logged under the name given, as Keras 3 logs metrics=["AUC"] under "AUC"
    assert [metrics.get(n)[0] for n in ("precision", "Precision", "recall", "Recall", "auc", "AUC")] == \
        ["precision", "Precision", "recall", "Recall", "auc", "AUC"]
    assert metrics.get("auc")[1] is not metrics.get("auc")[1]        # a new metric per lookup
    auc = metrics.AUC(curve="pr", summation_method="Minoring")      # Keras takes either case
    assert (auc.curve, auc.summation_method) == ("PR", "minoring")
    assert auc.thresholds[0] == -1e-7 and auc.thresholds[-1] == 1 + 1e-7 and len(auc.thresholds) == 200
    assert metrics.AUC(num_thresholds=3).thresholds == [-1e-7, 0.5, 1 + 1e-7]
    assert repr(metrics.Precision(class_id=2)) == \
        "Precision(thresholds=None, top_k=None, class_id=2, name='precision')"


@pytest.mark.parametrize("name,settings", [
    ("Precision", {}), ("Recall", {}), ("Precision", {"thresholds": 0.3}), ("Recall", {"thresholds": 0.7}),
    ("Precision", {"top_k": 2}), ("Recall", {"top_k": 1}), ("Precision", {"class_id": 2}),
    ("Recall", {"class_id": 1, "thresholds": 0.2}), ("Precision", {"top_k": 2, "class_id": 0}),
    ("AUC", {}), ("AUC", {"curve": "PR"}), ("AUC", {"summation_method": "minoring"}),
    ("AUC", {"curve": "PR", "summation_method": "majoring"}), ("AUC", {"multi_label": True}),
    ("AUC", {"curve": "PR", "multi_label": True}), ("AUC", {"num_thresholds": 7}),
    ("AUC", {"from_logits": True})])
def test_against_keras(name, settings, rng):
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = getattr(metrics, name)(**settings), getattr(keras.metrics, name)(**settings)
    for _ in range(3):
        y, p = _labelled(rng, (40, 4))
        p[:3, 0] = [0.5, 0.0, 1.0]                  # on the thresholds' edges
        if settings.get("from_logits"):
            p = p * 8 - 4
        ours.update_state(y, p)
        theirs.update_state(y, p)
    # Keras counts in float32 and computes the areas in float32
    assert ours.result() == pytest.approx(float(theirs.result()), abs=1e-6)


# ---- in a model --------------------------------------------------------------------------------

def _binary_model(metrics_, seed=0):
    model = gn.Sequential([Dense(8, activation="relu", input_dim=2), Dense(1, activation="sigmoid")], seed=seed)
    model.compile("binary_crossentropy", gn.optimizers.Adam(0.01), metrics=metrics_)
    return model


def _moons():
    (X, y), (Xt, yt) = gn.datasets.moons()
    return X, y, Xt, yt


def test_evaluate_and_validation_count_every_sample_once():
    X, y, Xt, yt = _moons()
    model = _binary_model(["precision", "recall", "auc", gn.metrics.AUC(curve="PR", name="pr_auc")])
    history = model.fit(X, y, epochs=2, batch_size=16, validation_data=(Xt, yt), verbose=0)
    p = model.predict(Xt)
    expected = [metrics.Precision()(yt, p), metrics.Recall()(yt, p), metrics.AUC()(yt, p),
                metrics.AUC(curve="PR")(yt, p)]
    # chunks of 7 samples: the counts add up to the whole set's
    values = model.evaluate(Xt, yt, batch_size=7)[1:]
    assert values == pytest.approx(expected, abs=1e-12)
    assert [history.history[f"val_{k}"][-1] for k in ("precision", "recall", "auc", "pr_auc")] == \
        pytest.approx(expected, abs=1e-12)
    assert 0.8 < history.history["val_auc"][-1] <= 1.0


def test_fit_counts_over_the_epoch_and_batch_logs_run_up_to_it():
    X, y, _, _ = _moons()
    seen = []
    model = _binary_model(["precision"])
    probe = gn.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(logs["precision"]))
    # outputs of each batch before its update, as fit sees them
    outputs = []
    real_forward = model._forward

    def recording_forward(x, training):
        out = real_forward(x, training)
        if training:            # not fit's check of the metrics on two samples before training
            outputs.append(out.copy())
        return out
    model._forward = recording_forward
    history = model.fit(X, y, epochs=1, batch_size=64, shuffle=False, verbose=0, callbacks=[probe])
    del model._forward
    assert len(outputs) == len(seen) == -(-len(X) // 64)
    expected = metrics.Precision()(y, np.concatenate(outputs))
    assert history.history["precision"][0] == pytest.approx(expected, abs=1e-12)
    assert seen[-1] == history.history["precision"][0]
    batch_means = np.mean([metrics.Precision()(y[i * 64:(i + 1) * 64], o) for i, o in enumerate(outputs)])
    assert abs(batch_means - expected) > 1e-6          # the epoch's value is not the batches' mean


def test_an_evaluate_inside_an_epoch_does_not_mix_into_its_counts():
    X, y, Xt, yt = _moons()

    def run(callbacks):
        model = _binary_model(["precision", "auc"])
        return model.fit(X, y, epochs=2, batch_size=32, validation_data=(Xt, yt), verbose=0,
                         callbacks=callbacks).history
    plain = run([])
    probe = gn.callbacks.LambdaCallback()
    probe.on_train_batch_end = lambda batch, logs: probe.model.evaluate(Xt[:5], yt[:5])
    assert run([probe]) == plain


def test_batch_calls_count_their_batch_only_on_the_compiled_metric():
    X, y, _, _ = _moons()
    precision = gn.metrics.Precision()
    model = _binary_model([precision])
    p = model.predict(X[:50])
    assert model.test_on_batch(X[:50], y[:50])[1] == metrics.Precision()(y[:50], p)
    assert model.train_on_batch(X[:50], y[:50])[1] == metrics.Precision()(y[:50], p)
    expected = metrics.Precision()
    assert model.test_on_batch(X[50:60], y[50:60])[1] == expected(y[50:60], model.predict(X[50:60]))
    # the compiled object holds the last batch's counts alone, as Keras' (reset before each call)
    assert (precision.true_positives, precision.false_positives) == (expected.true_positives,
                                                                      expected.false_positives)


def test_a_metric_of_ones_own():
    class PositiveRate(gn.metrics.Metric):
        """Share of outputs above 0.5, over every batch."""
        default_name = "positive_rate"

        def reset_state(self):
            self.above, self.total = 0, 0

        def update_state(self, y_true, y_pred):
            self.above += int(np.count_nonzero(y_pred > 0.5))
            self.total += y_pred.size

        def result(self):
            return self.above / self.total

    X, y, Xt, yt = _moons()
    model = _binary_model([PositiveRate()])
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    assert model.evaluate(Xt, yt, batch_size=9)[1] == np.mean(model.predict(Xt) > 0.5)
    with pytest.raises(ValueError, match="not registered"):
        model.save("unused.npz")


def test_monitors_maximise_the_keras_names_and_ask_a_renamed_metric(tmp_path):
    X, y, Xt, yt = _moons()
    for monitor in ("val_auc", "precision", "val_recall"):
        assert gn.callbacks.EarlyStopping(monitor=monitor).mode == "max"
    model = _binary_model([gn.metrics.Precision(name="prec"), gn.metrics.MeanIoU(2, sparse_y_pred=False),
                           gn.metrics.TruePositives(), gn.metrics.MeanSquaredError(name="brier_acc")])
    for monitor, wanted in (("val_prec", "max"), ("val_mean_io_u", "max"), ("true_positives", "max"),
                            ("val_brier_acc", "min")):
        callbacks = [gn.callbacks.EarlyStopping(monitor=monitor), gn.callbacks.ReduceLROnPlateau(monitor=monitor),
                     gn.callbacks.ModelCheckpoint(str(tmp_path / "best.npz"), monitor=monitor, save_best_only=True)]
        model.fit(X, y, epochs=2, validation_data=(Xt, yt), verbose=0, callbacks=callbacks)
        assert [callback.mode for callback in callbacks] == [wanted] * 3, monitor     # Keras asks the metric
        best = callbacks[2].best
        assert best == callbacks[0].best and np.isfinite(best)         # the checkpoint kept a real best
        first = model.history.history[monitor][0]
        assert best >= first if wanted == "max" else best <= first
    # a mode given is kept
    callback = gn.callbacks.EarlyStopping(monitor="val_prec", mode="min")
    model.fit(X, y, epochs=1, validation_data=(Xt, yt), verbose=0, callbacks=[callback])
    assert callback.mode == "min"


# ---- saving and configs -----------------------------------------------------------------------

def test_settings_survive_a_model_file_and_a_config(tmp_path):
    X, y, Xt, yt = _moons()
    compiled = ["precision", gn.metrics.Recall(thresholds=0.3, name="recall_at_0.3"),
                gn.metrics.AUC(curve="PR", num_thresholds=50)]
    model = _binary_model(compiled)
    model.fit(X, y, epochs=1, verbose=0)
    assert model.get_config()["compile"]["metrics"] == [
        "precision",
        {"class_name": "Recall", "config": {"thresholds": 0.3, "top_k": None, "class_id": None,
                                            "name": "recall_at_0.3"}},
        {"class_name": "AUC", "config": {"num_thresholds": 50, "curve": "PR", "summation_method": "interpolation",
                                         "name": "auc", "multi_label": False, "from_logits": False}}]
    model.save(tmp_path / "m.npz")
    expected = model.evaluate(Xt, yt, return_dict=True)
    for copy in (gn.load_model(tmp_path / "m.npz"), gn.Sequential.from_config(model.get_config())):
        assert [repr(fn) for _, fn in copy.metrics] == [repr(fn) for _, fn in model.metrics]
    assert gn.load_model(tmp_path / "m.npz").evaluate(Xt, yt, return_dict=True) == expected


@pytest.mark.parametrize("entry,match", [
    ({"class_name": "Popen", "config": {}}, "class_name"),
    ({"class_name": "AUC", "config": {"num_thresholds": 10 ** 9}}, "num_thresholds"),
    ({"class_name": "AUC", "config": {"bogus": 1}}, "bogus"),
    ({"class_name": "Precision", "config": [0.5]}, "config"),
    ({"class_name": "Precision", "config": {}, "extra": 1}, "class_name"),
    ({"class_name": ["AUC"], "config": {}}, "class_name"),
    (3, "compile")])
def test_a_file_names_only_built_in_metrics_with_valid_settings(entry, match, tmp_path):
    from glassnet import io
    model = _binary_model(["accuracy"])
    settings = dict(model.get_config()["compile"], metrics=[entry])
    with pytest.raises(ModelFileError, match=match):
        io._compile(_binary_model(None), settings)


@pytest.mark.parametrize("make,match", [
    (lambda: metrics.Precision(thresholds=[0.3, 0.5]), "one Precision per threshold"),
    (lambda: metrics.Recall(thresholds=1.5), r"thresholds must be a number in \[0, 1\]"),
    (lambda: metrics.Precision(top_k=0), "top_k: expected a positive integer"),
    (lambda: metrics.Recall(class_id=-1), "class_id: expected a non-negative integer"),
    (lambda: metrics.AUC(num_thresholds=1), r"num_thresholds: expected an integer in \[2, 10000\]"),
    (lambda: metrics.AUC(curve="PRG"), r"curve: expected one of \['ROC', 'PR', 'PRGAIN'\], got 'PRG'"),
    (lambda: metrics.AUC(summation_method="trapezoid"), "summation_method"),
    (lambda: metrics.Precision(name=""), "name"),
])
def test_settings_are_checked_where_given(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_flags_are_true_or_false():
    with pytest.raises(TypeError, match="AUC: multi_label: expected True or False, got 'yes'"):
        metrics.AUC(multi_label="yes")


@pytest.mark.parametrize("metric,y,p,match", [
    (metrics.Precision(top_k=4), np.eye(3)[:2], np.full((2, 3), 0.3), "top_k=4 needs at least 4 output units"),
    (metrics.Recall(class_id=3), np.eye(3)[:2], np.full((2, 3), 0.3), "class_id=3 needs more than 3"),
    (metrics.Precision(), np.array([0, 2]), np.full((2, 3), 0.3), "not class labels"),
    (metrics.AUC(multi_label=True), np.zeros((2, 2, 3)), np.zeros((2, 2, 3)), r"shape \(n, units\)"),
    (metrics.Precision(class_id=0), np.array([1, 0]), np.array([0.9, 0.1]), r"class_id needs outputs of shape"),
])
def test_what_a_metric_cannot_take_is_refused_by_name(metric, y, p, match):
    with pytest.raises(ValueError, match=match):
        metric.update_state(y, p)


def test_non_numeric_arrays_are_refused():
    with pytest.raises(TypeError, match="Precision: expected numeric targets, got an array of dtype <U1"):
        metrics.Precision()(np.array(["a", "b"]), np.array([0.9, 0.1]))
    with pytest.raises(TypeError, match="AUC: expected numeric predictions"):
        metrics.AUC()(np.array([1, 0]), np.array([None, 0.1]))


def test_multi_label_auc_refuses_a_change_of_units():
    auc = metrics.AUC(multi_label=True)
    auc.update_state(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="counted 3 output units"):
        auc.update_state(np.zeros((2, 4)), np.zeros((2, 4)))


def test_integer_labels_with_a_softmax_output_are_refused_in_fit():
    X = np.random.default_rng(0).random((20, 4)).astype(np.float32)
    model = gn.Sequential([Dense(3, activation="softmax", input_dim=4)], seed=0)
    model.compile("sparse_categorical_crossentropy", "adam", metrics=["precision"])
    with pytest.raises(ValueError, match="Precision: expected targets of the output's shape"):
        model.fit(X, np.arange(20) % 3, epochs=1, verbose=0)


# ---- the compiled objects are the ones counted (Keras 3.15's rule) -------------------------------

class _MeanAbs(gn.metrics.Metric):
    """A Metric of one's own: the mean absolute difference over every value seen."""
    default_name = "mean_abs"

    def reset_state(self):
        self.total, self.count = 0.0, 0

    def update_state(self, y_true, y_pred):
        d = np.abs(np.asarray(y_true, np.float64) - y_pred)
        self.total, self.count = self.total + float(d.sum()), self.count + d.size

    def result(self):
        return self.total / self.count if self.count else 0.0


def _keras_mean_abs(keras):
    class MeanAbs(keras.metrics.Metric):
        def __init__(self, name="mean_abs"):
            super().__init__(name=name)
            self.total = self.add_variable((), initializer="zeros", name="total")
            self.count = self.add_variable((), initializer="zeros", name="count")

        def update_state(self, y_true, y_pred, sample_weight=None):
            d = keras.ops.abs(keras.ops.cast(y_true, "float32") - y_pred)
            self.total.assign_add(keras.ops.sum(d))
            self.count.assign_add(keras.ops.cast(keras.ops.size(d), "float32"))

        def result(self):
            return keras.ops.divide_no_nan(self.total, self.count)

        def reset_state(self):
            self.total.assign(0.0)
            self.count.assign(0.0)
    return MeanAbs()


def _objects(lib, keras=None):
    own = _MeanAbs() if lib is gn else _keras_mean_abs(keras)
    return [lib.metrics.AUC(), lib.metrics.Precision(), lib.metrics.MeanSquaredError(), own]


def _results(objects):
    return np.array([float(m.result()) for m in objects])


def _binary_data(seed=3):
    rng = np.random.default_rng(seed)
    x, xv = rng.standard_normal((40, 3)).astype(np.float32), rng.standard_normal((20, 3)).astype(np.float32)
    y = (x[:, :1] + 0.8 * rng.standard_normal((40, 1)) > 0).astype(np.float32)
    yv = (xv[:, :1] + 0.8 * rng.standard_normal((20, 1)) > 0).astype(np.float32)
    return x, y, xv, yv


def test_the_compiled_objects_hold_each_runs_values_as_keras(keras):
    x, y, xv, yv = _binary_data()
    ours = gn.Sequential([Dense(4, activation="tanh", input_dim=3), Dense(1, activation="sigmoid")], seed=0)
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                               keras.layers.Dense(1, activation="sigmoid")])
    theirs.set_weights(ours.get_weights())
    mine, their = _objects(gn), _objects(keras, keras)
    ours.compile("binary_crossentropy", gn.optimizers.SGD(0.1), metrics=mine)
    theirs.compile(keras.optimizers.SGD(0.1), "binary_crossentropy", metrics=their)
    assert [fn for _, fn in ours.metrics] == mine                # model.metrics holds them, not copies
    names = ["auc", "precision", "mean_squared_error", "mean_abs"]

    def both(check):
        np.testing.assert_allclose(_results(mine), _results(their), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(_results(mine), check, rtol=0, atol=1e-12)     # what glassnet logged

    for m in mine + their:          # counts from before: each run resets them first, as Keras
        m.update_state(np.ones((2, 1)), np.zeros((2, 1), np.float32))
    ours.predict(x, verbose=0)
    assert mine[1].false_negatives == 2                        # predict and compile's checks leave them
    history = ours.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    theirs.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    both([history[k][-1] for k in names])                       # the last epoch's training values
    history = ours.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0, validation_data=(xv, yv)).history
    theirs.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0, validation_data=(xv, yv))
    both([history["val_" + k][-1] for k in names])              # validation ran last
    theirs.evaluate(xv, yv, batch_size=7, verbose=0)
    both(ours.evaluate(xv, yv, batch_size=7, verbose=0)[1:])
    theirs.train_on_batch(x[:10], y[:10])
    both(ours.train_on_batch(x[:10], y[:10])[1:])               # that batch alone
    theirs.test_on_batch(xv[:9], yv[:9])
    both(ours.test_on_batch(xv[:9], yv[:9])[1:])


def test_several_outputs_update_each_outputs_objects_as_keras(keras):
    x, y, xv, yv = _binary_data(5)
    y2, yv2 = 1 - y, 1 - yv

    def build(lib):
        inp = lib.Input((3,))
        return inp, [lib.layers.Dense(1, activation="sigmoid", name=n)(inp) for n in ("a", "b")]
    ours, theirs = gn.Model(*build(gn), seed=0), keras.Model(*build(keras))
    for layer in ("a", "b"):
        theirs.get_layer(layer).set_weights(ours.get_layer(layer).get_weights())
    mine = [gn.metrics.Precision(), gn.metrics.AUC(), _MeanAbs()]
    their = [keras.metrics.Precision(), keras.metrics.AUC(), _keras_mean_abs(keras)]
    ours.compile(["binary_crossentropy"] * 2, gn.optimizers.SGD(0.1), metrics=[[mine[0]], mine[1:]])
    theirs.compile(keras.optimizers.SGD(0.1), ["binary_crossentropy"] * 2, metrics=[[their[0]], their[1:]])
    history = ours.fit(x, [y, y2], epochs=2, batch_size=16, shuffle=False, verbose=0,
                       validation_data=(xv, [yv, yv2])).history
    theirs.fit(x, [y, y2], epochs=2, batch_size=16, shuffle=False, verbose=0, validation_data=(xv, [yv, yv2]))
    logged = [history[k][-1] for k in ("val_a_precision", "val_b_auc", "val_b_mean_abs")]
    np.testing.assert_allclose(_results(mine), logged, rtol=0, atol=1e-12)
    np.testing.assert_allclose(_results(mine), _results(their), rtol=1e-4, atol=1e-6)
    values = ours.evaluate(x, [y, y2], return_dict=True, verbose=0)
    theirs.evaluate(x, [y, y2], verbose=0)
    np.testing.assert_allclose(_results(mine), [values[k] for k in ("a_precision", "b_auc", "b_mean_abs")],
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(_results(mine), _results(their), rtol=1e-4, atol=1e-6)


def test_a_weighted_metric_object_is_updated_weighted_as_keras(keras):
    x, y, xv, yv = _binary_data(7)
    w = np.random.default_rng(0).uniform(0.2, 2, len(xv)).astype(np.float32)
    ours = gn.Sequential([Dense(1, activation="sigmoid", input_dim=3)], seed=0)
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    theirs.set_weights(ours.get_weights())
    mine, their = gn.metrics.MeanSquaredError(), keras.metrics.MeanSquaredError()
    ours.compile("binary_crossentropy", "sgd", weighted_metrics=[mine])
    theirs.compile("sgd", "binary_crossentropy", weighted_metrics=[their])
    value = ours.evaluate(xv, yv, sample_weight=w, batch_size=6, verbose=0)[1]
    theirs.evaluate(xv, yv, sample_weight=w, batch_size=6, verbose=0)
    assert mine.result() == value
    assert mine.result() == pytest.approx(float(their.result()), rel=1e-5)


def test_an_evaluate_inside_an_epoch_takes_the_objects_without_mixing_counts():
    X, y, Xt, yt = _moons()
    seen = []

    def run(callbacks):
        objects = [metrics.Precision(), metrics.AUC()]
        model = _binary_model(objects)
        history = model.fit(X, y, epochs=2, batch_size=32, verbose=0, callbacks=callbacks).history
        return history, objects, model
    plain, _, _ = run([])
    probe = gn.callbacks.LambdaCallback()
    probe.on_train_batch_end = lambda batch, logs: seen.append(probe.model.evaluate(Xt[:50], yt[:50])[1:])
    history, objects, model = run([probe])
    assert history == plain                     # the epoch's counts went on, on a copy
    # the objects hold the last evaluate's values (Keras': that evaluate's mixed with the batches after it)
    assert _results(objects).tolist() == seen[-1]


def test_one_object_in_two_places_logs_each_places_own_values():
    # Keras shares the counts there (both log the pooled value); glassnet counts the second on a copy
    X, y, Xt, yt = _moons()
    shared = metrics.Precision()
    model = gn.Model(*(lambda inp: (inp, [Dense(1, activation="sigmoid", name=n)(inp) for n in "ab"]))(gn.Input((2,))),
                     seed=0)
    model.compile(["binary_crossentropy"] * 2, "sgd", metrics=[[shared], [shared]])
    values = model.evaluate(Xt, [yt, 1 - yt], return_dict=True, verbose=0)
    pa, pb = model.predict(Xt, verbose=0)
    assert values["a_precision"] == metrics.Precision()(yt, pa)
    assert values["b_precision"] == metrics.Precision()(1 - yt, pb)
    assert shared.result() == values["a_precision"]


def test_an_object_that_cannot_be_copied_is_named_when_a_run_must_copy_it():
    import threading

    class Locked(metrics.Precision):
        def __init__(self):
            super().__init__(name="locked")
            self.lock = threading.Lock()

    X, y, Xt, yt = _moons()
    model = _binary_model([Locked()])
    probe = gn.callbacks.LambdaCallback()
    probe.on_test_batch_end = lambda batch, logs: batch == 0 and probe.model.evaluate(Xt[:5], yt[:5], verbose=0)
    # an evaluate inside an evaluate's batch takes the object over: the outer one needs a copy
    with pytest.raises(TypeError, match="metric 'locked': a run of batches started while another"):
        model.evaluate(X, y, batch_size=64, verbose=0, callbacks=[probe])
