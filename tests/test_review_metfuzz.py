"""Regressions found by the differential fuzz of glassnet.metrics against Keras 3.15 (review session 44)."""
import os

import numpy as np
import pytest

from glassnet import metrics as M


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return pytest.importorskip("keras")


_RNG = np.random.default_rng(44)
_YT3 = (_RNG.random((6, 3)) < 0.5).astype("float32")
_YP3 = _RNG.random((6, 3)).astype("float32")
_W = np.array([1.0, 2.0, 0.0, 3.0, 1.0, 2.0], "float32")     # whole: Keras' IoUs truncate weights to integers
_ONEHOT = np.eye(3, dtype="float32")[[0, 2, 1, 1, 0, 2]]
_SOFT = (_YP3 / _YP3.sum(1, keepdims=True)).astype("float32")

# (class name, constructor kwargs, y_true, y_pred): metrics whose values are per sample, where
# Keras' (n, 1) sample_weight is one weight per sample
_COLUMN_CASES = [
    ("MeanSquaredError", {}, _YT3, _YP3),
    ("MeanAbsoluteError", {}, _YT3, _YP3),
    ("RootMeanSquaredError", {}, _YT3, _YP3),
    ("BinaryAccuracy", {}, _YT3, _YP3),
    ("CategoricalAccuracy", {}, _ONEHOT, _SOFT),
    ("TopKCategoricalAccuracy", {"k": 2}, _ONEHOT, _SOFT),
    ("SparseCategoricalAccuracy", {}, np.array([0, 2, 1, 1, 0, 2], "float32"), _SOFT),
    ("CategoricalCrossentropy", {}, _ONEHOT, _SOFT),
    ("BinaryCrossentropy", {}, _YT3, _YP3),
    ("KLDivergence", {}, _ONEHOT, _SOFT),
    ("Hinge", {}, _YT3, _YP3),
    ("LogCoshError", {}, _YT3, _YP3),
    ("CosineSimilarity", {}, _YT3, _YP3),
    ("Poisson", {}, _YT3, _YP3),
    ("OneHotMeanIoU", {"num_classes": 3}, _ONEHOT, _SOFT),
    ("R2Score", {}, _YT3, _YP3),
]


@pytest.mark.parametrize("name,kwargs,y_true,y_pred", _COLUMN_CASES, ids=[c[0] for c in _COLUMN_CASES])
def test_column_sample_weights_are_one_per_sample(name, kwargs, y_true, y_pred):
    # found by the fuzz: update_state(..., sample_weight=w[:, None]) was refused ("expected one weight
    # per sample (6,) ..., got shape (6, 1)") by every metric whose values are one per sample, where
    # Keras 3.15 (squeeze_or_expand_to_same_rank) and glassnet's own fit take the column
    column = getattr(M, name)(**kwargs)
    column.update_state(y_true, y_pred, sample_weight=_W[:, None])
    vector = getattr(M, name)(**kwargs)
    vector.update_state(y_true, y_pred, sample_weight=_W)
    np.testing.assert_allclose(column.result(), vector.result(), rtol=1e-12)
    keras = _keras()
    k = getattr(keras.metrics, name)(**kwargs)
    k.update_state(y_true, y_pred, sample_weight=_W[:, None])
    np.testing.assert_allclose(column.result(), float(k.result()), rtol=1e-5, atol=1e-6)


def test_column_weights_other_shapes_still_refused():
    m = M.MeanSquaredError()
    for bad in (np.ones((6, 2)), np.ones((6, 1, 1)), np.ones((3, 1))):
        with pytest.raises(ValueError, match="mean_squared_error: sample_weight: expected one weight per sample"):
            m.update_state(_YT3, _YP3, sample_weight=bad)
    assert m.count == 0


@pytest.mark.parametrize("name", ["BinaryAccuracy", "MeanSquaredError", "MeanAbsoluteError", "RootMeanSquaredError"])
def test_column_targets_for_a_vector_output(name):
    # found by the fuzz: (n, 1) targets for (n,) outputs were refused by the accuracy and error
    # means ("expected targets of the output's shape (6,), got shape (6, 1)"), where the other
    # means, the confusion metrics and Keras take them; scored one row per sample as (n,) targets
    y_true, y_pred = _YT3[:, :1], _YP3[:, 0]
    got = getattr(M, name)()
    got.update_state(y_true, y_pred, sample_weight=_W)
    want = getattr(M, name)()
    want.update_state(y_true, y_pred[:, None], sample_weight=_W)
    assert got.result() == pytest.approx(want.result(), rel=1e-12)
    unweighted = getattr(M, name)()
    unweighted.update_state(y_true, y_pred)
    reference = getattr(M, name)()
    reference.update_state(y_true[:, 0], y_pred)
    assert unweighted.result() == pytest.approx(reference.result(), rel=1e-12)


def test_fscore_per_class_result_after_reset_keeps_its_classes():
    # found by the fuzz: F1Score/FBetaScore(average=None) gave a scalar 0.0 after reset_state, where
    # Keras 3.15 gives one 0 per class counted (its variables stay built), so a custom loop reading
    # result() at an epoch's start got another shape
    y_true, y_pred = _ONEHOT, _SOFT
    for cls, kwargs in ((M.F1Score, {}), (M.FBetaScore, {"beta": 2.0, "threshold": 0.3})):
        m = cls(**kwargs)
        assert m.result() == 0.0                 # nothing counted yet: no classes known
        m.update_state(y_true, y_pred)
        m.reset_state()
        assert np.shape(m.result()) == (3,) and not np.any(m.result())
        m.update_state(y_true[:, :2], y_pred[:, :2])     # a new count after a reset may have other classes
        assert np.shape(m.result()) == (2,)
    macro = M.F1Score(average="macro")
    macro.update_state(y_true, y_pred)
    macro.reset_state()
    assert macro.result() == 0.0
    keras = _keras()
    k = keras.metrics.F1Score()
    k.update_state(y_true, y_pred)
    k.reset_state()
    assert np.shape(k.result()) == (3,) and not np.any(np.asarray(k.result()))


def test_counts_below_the_lowest_threshold_are_exactly_zero_with_fractional_weights():
    # found by the fuzz (silently wrong): fn and tn were the weights' total minus the counts above
    # each threshold, which left rounding where nothing is below (fn 4.4e-16, tn -3.6e-15), so
    # PrecisionAtRecall(recall=1.0) found no threshold with recall >= 1 and gave 0 (Keras 0.5747),
    # and SensitivityAtSpecificity(specificity=0.0) left out the lowest threshold (0.919, Keras 1)
    rng = np.random.default_rng(9)
    y_true = (rng.random(40) < 0.5).astype("float32")
    y_pred = rng.random(40).astype("float32")
    w = rng.random(40) * 2                      # float64 weights, fractional
    par = M.PrecisionAtRecall(recall=1.0, num_thresholds=10)
    par.update_state(y_true, y_pred, sample_weight=w)
    sas = M.SensitivityAtSpecificity(specificity=0.0, num_thresholds=10)
    sas.update_state(y_true, y_pred, sample_weight=w)
    assert sas.false_negatives[0] == 0 and sas.true_negatives[0] == 0
    assert sas.result() == 1.0
    # at the lowest threshold every output is a positive prediction: precision = positives' share
    share = float((w * y_true).sum() / w.sum())
    assert par.result() == pytest.approx(share, rel=1e-12)
    auc = M.AUC(num_thresholds=10, thresholds=None)
    auc.update_state(y_true, y_pred, sample_weight=w)
    assert auc.false_negatives[0] == 0 and auc.true_negatives[0] == 0
    listed = M.AUC(thresholds=[0.9, 0.2, 0.5], multi_label=True)
    listed.update_state(y_true[:, None], y_pred[:, None], sample_weight=w)
    assert listed.false_negatives[0, 0] == 0 and listed.true_negatives[0, 0] == 0    # -1e-7 first
    keras = _keras()
    for ours, theirs in ((par, keras.metrics.PrecisionAtRecall(recall=1.0, num_thresholds=10)),
                         (sas, keras.metrics.SensitivityAtSpecificity(specificity=0.0, num_thresholds=10))):
        theirs.update_state(y_true, y_pred, sample_weight=w.astype("float32"))
        assert ours.result() == pytest.approx(float(theirs.result()), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("cls,value", [(M.SensitivityAtSpecificity, 0.8), (M.RecallAtPrecision, 0.8),
                                       (M.PrecisionAtRecall, 0.6), (M.SpecificityAtSensitivity, 0.6)])
def test_a_rate_tied_with_its_constraint_stays_feasible_under_one_weight_for_all(cls, value):
    # found by the fuzz (silently wrong): one weight 0.31 for the batch made the specificity
    # 4 * 0.31 / (5 * 0.31) = 0.7999999999999999 < 0.8, so SensitivityAtSpecificity(0.8) gave 0
    # where unweighted (and Keras 3.15) it is 0.554; a weight for all must not change a ratio
    y_true = np.array([1, 0, 0, 0, 0, 1, 0, 1, 1, 1], "float32")
    y_pred = np.array([0.6236, 0.0007, 0.348, 0.0123, 0.7313, 0.5542, 0.14, 0.5, 0.25, 0.9], "float32")
    plain = cls(value)
    plain.update_state(y_true, y_pred)
    for w in (0.31, 1.73, 2.56):
        weighted = cls(value)
        weighted.update_state(y_true, y_pred, sample_weight=w)
        assert weighted.result() == pytest.approx(plain.result(), rel=1e-12)
    assert plain.result() > 0
    keras = _keras()
    k = getattr(keras.metrics, cls.__name__)(value)
    k.update_state(y_true, y_pred, sample_weight=0.31)
    assert cls(value)(y_true, y_pred, sample_weight=0.31) == pytest.approx(float(k.result()), rel=1e-5, abs=1e-6)
