"""The IoU metrics (glassnet.metrics.iou) by hand, against Keras 3.15 over batches of several sizes
with and without sample weights, their configs, their errors, and on CuPy arrays."""
import json
import os
import re

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")     # the Keras oracle (TensorFlow) on the CPU
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

from glassnet.metrics.iou import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU

from test_gpu import cupy  # noqa: F401  (the fixture: fakecupy, and CuPy where a GPU is)

CLASSES = (IoU, MeanIoU, BinaryIoU, OneHotIoU, OneHotMeanIoU)


def _one_hot(labels, k):
    return np.eye(k)[labels]


# -- by hand -----------------------------------------------------------------------------------
def test_iou_by_hand():
    # cm = [[1, 1], [1, 1]]: class 0 has 1 true positive, 1 false negative, 1 false positive
    m = IoU(num_classes=2, target_class_ids=[0])
    m.update_state(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]))
    assert m.result() == pytest.approx(1 / 3)
    # three classes, ignore_class=2 drops the last target (predicted 0): cm = [[1, 1, 0], [0, 2, 1]]
    m = IoU(num_classes=3, target_class_ids=[0, 1], ignore_class=2)
    m.update_state(np.array([0, 0, 1, 1, 1, 2]), np.array([0, 1, 1, 1, 2, 0]))
    np.testing.assert_array_equal(m.total_cm, [[1, 1, 0], [0, 2, 1], [0, 0, 0]])
    assert m.result() == pytest.approx((1 / 2 + 2 / 4) / 2)


def test_mean_iou_by_hand():
    m = MeanIoU(num_classes=2)
    m.update_state(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]))
    assert m.result() == pytest.approx(1 / 3)
    m.reset_state()
    # cm = [[0.3, 0.3], [0.3, 0.1]]: class 0 0.3 / 0.9, class 1 0.1 / 0.7
    m.update_state(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), sample_weight=[0.3, 0.3, 0.3, 0.1])
    assert m.result() == pytest.approx((0.3 / 0.9 + 0.1 / 0.7) / 2)
    # a class neither labelled nor predicted is left out of the mean, and a perfect score is 1 exactly
    m = MeanIoU(num_classes=3)
    m.update_state(np.array([0, 1, 1]), np.array([0, 1, 1]))
    assert m.result() == 1.0


def test_masks_with_one_weight_per_sample_by_hand():
    # two 2x2 masks; the second weighs 3: cm = [[1, 1], [0, 2]] + 3 * [[2, 0], [1, 1]]
    y_true = np.array([[[0, 1], [1, 0]], [[0, 0], [1, 1]]])
    y_pred = np.array([[[0, 1], [1, 1]], [[0, 0], [0, 1]]])
    m = MeanIoU(num_classes=2)
    m.update_state(y_true[..., None], y_pred, sample_weight=np.array([1.0, 3.0]))     # (n, H, W, 1) targets
    np.testing.assert_array_equal(m.total_cm, [[7, 1], [3, 5]])
    assert m.result() == pytest.approx((7 / 11 + 5 / 9) / 2)


def test_binary_iou_by_hand():
    # threshold 0.3: predictions 0, 0, 1, 1; cm = [[1, 1], [1, 1]]
    m = BinaryIoU(target_class_ids=[0, 1], threshold=0.3)
    m.update_state(np.array([0, 1, 0, 1]), np.array([0.1, 0.2, 0.4, 0.7]))
    assert m.result() == pytest.approx(1 / 3)
    m.reset_state()
    # cm = [[0.2, 0.4], [0.3, 0.1]]: class 0 0.2 / 0.9, class 1 0.1 / 0.8
    m.update_state(np.array([0, 1, 0, 1]), np.array([0.1, 0.2, 0.4, 0.7]), sample_weight=[0.2, 0.3, 0.4, 0.1])
    assert m.result() == pytest.approx((0.2 / 0.9 + 0.1 / 0.8) / 2)
    # at the threshold is class 1, as in Keras
    m = BinaryIoU(target_class_ids=[1], threshold=0.5)
    m.update_state(np.array([[1], [0]]), np.array([[0.5], [0.4999]]))
    assert m.result() == 1.0


ONE_HOT = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]])
SCORES = np.array([[0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.3, 0.1], [0.1, 0.4, 0.5]])


def test_one_hot_iou_by_hand():
    # argmaxes: targets 2, 0, 1, 0; predictions 2, 2, 0, 2. Weighted cm = [[0, 0, 0.6], [0.3, 0, 0], [0, 0, 0.1]]
    m = OneHotIoU(num_classes=3, target_class_ids=[0, 2])
    m.update_state(ONE_HOT, SCORES, sample_weight=[0.1, 0.2, 0.3, 0.4])
    assert m.result() == pytest.approx((0 / 0.9 + 0.1 / 0.7) / 2)
    # class ids for the predictions
    m = OneHotIoU(num_classes=3, target_class_ids=[1], sparse_y_pred=True)
    m.update_state(ONE_HOT, np.array([2, 0, 1, 1]))
    assert m.result() == pytest.approx(1 / 2)


def test_one_hot_mean_iou_by_hand():
    m = OneHotMeanIoU(num_classes=3)
    m.update_state(ONE_HOT, SCORES, sample_weight=[0.1, 0.2, 0.3, 0.4])
    assert m.result() == pytest.approx((0 + 0 + 0.1 / 0.7) / 3)
    # the class axis first: the same data transposed
    m = OneHotMeanIoU(num_classes=3, axis=0)
    m.update_state(ONE_HOT.T, SCORES.T, sample_weight=[0.1, 0.2, 0.3, 0.4])
    assert m.result() == pytest.approx((0 + 0 + 0.1 / 0.7) / 3)


# -- against Keras -----------------------------------------------------------------------------
def _ids(rng, shape, k, void=None):
    labels = rng.integers(0, k, shape)
    if void is not None:            # a few "void" labels, to be ignored
        labels = np.where(rng.random(shape) < 0.2, void, labels)
    return labels


def _scores(rng, shape):
    return rng.random(shape)


def _guess(rng, labels, k):
    """Predicted class ids for ``labels``: right for about half of them (random ones would often
    leave a class with no true positive, an IoU of 0 in both libraries), random otherwise."""
    labels = np.asarray(labels).astype(np.int64)
    right = (rng.random(labels.shape) < 0.5) & (labels >= 0) & (labels < k)
    return np.where(right, labels, rng.integers(0, k, labels.shape))


def _pair(rng, shape, k, void=None):
    y_true = _ids(rng, shape, k, void)
    return y_true, _guess(rng, y_true, k)


# name: (glassnet class, its arguments, Keras' arguments if they differ, make(rng, n) -> (y_true, y_pred),
# class axis to move last for Keras or None). Keras reduces the IoUs over `axis` in result() and fails for
# an axis other than -1 or 0: it is given the same arrays with the class axis moved last.
CASES = {
    "iou": (IoU, dict(num_classes=4, target_class_ids=[0, 2]), None,
            lambda rng, n: _pair(rng, n, 4), None),
    "iou-float-ids-column": (IoU, dict(num_classes=3, target_class_ids=[1]), None,
                             lambda rng, n: (lambda t, p: (t.astype(np.float32), p[:, 0]))(*_pair(rng, (n, 1), 3)),
                             None),
    "iou-ignore-in-range": (IoU, dict(num_classes=4, target_class_ids=[1, 3, 3], ignore_class=3), None,
                            lambda rng, n: _pair(rng, n, 4), None),
    "iou-ignore-void": (IoU, dict(num_classes=3, target_class_ids=[0, 1, 2], ignore_class=255), None,
                        lambda rng, n: _pair(rng, (n, 3, 2), 3, void=255), None),
    "iou-dense": (IoU, dict(num_classes=3, target_class_ids=[2, 0], sparse_y_true=False, sparse_y_pred=False),
                  None, lambda rng, n: (_one_hot(_ids(rng, n, 3), 3), _scores(rng, (n, 3))), None),
    "iou-mask-scores": (IoU, dict(num_classes=3, target_class_ids=[1], sparse_y_pred=False), None,
                        lambda rng, n: (_ids(rng, (n, 4, 5), 3), _scores(rng, (n, 4, 5, 3))), None),
    "mean": (MeanIoU, dict(num_classes=3), None, lambda rng, n: _pair(rng, n, 3), None),
    "mean-ignore": (MeanIoU, dict(num_classes=5, ignore_class=0), None,
                    lambda rng, n: _pair(rng, (n, 2), 5), None),
    "mean-softmax": (MeanIoU, dict(num_classes=3, sparse_y_pred=False), None,
                     lambda rng, n: (_ids(rng, (n, 1), 3), _scores(rng, (n, 3))), None),
    "mean-axis-1": (MeanIoU, dict(num_classes=4, sparse_y_true=False, sparse_y_pred=False, axis=1),
                    dict(num_classes=4, sparse_y_true=False, sparse_y_pred=False, axis=-1),
                    lambda rng, n: (_scores(rng, (n, 4, 6)), _scores(rng, (n, 4, 6))), 1),
    "binary": (BinaryIoU, {}, None, lambda rng, n: (_ids(rng, (n, 1), 2), _scores(rng, (n, 1))), None),
    "binary-class-1": (BinaryIoU, dict(target_class_ids=[1], threshold=0.3), None,
                       lambda rng, n: (_ids(rng, n, 2).astype(np.float64), _scores(rng, n)), None),
    "binary-logits": (BinaryIoU, dict(target_class_ids=(0,), threshold=0.0), None,
                      lambda rng, n: (_ids(rng, (n, 3), 2), rng.standard_normal((n, 3))), None),
    "one-hot": (OneHotIoU, dict(num_classes=3, target_class_ids=[0, 2]), None,
                lambda rng, n: (_one_hot(_ids(rng, n, 3), 3), _scores(rng, (n, 3))), None),
    "one-hot-ids": (OneHotIoU, dict(num_classes=4, target_class_ids=[1, 3], sparse_y_pred=True), None,
                    lambda rng, n: (lambda t, p: (_one_hot(t, 4), p))(*_pair(rng, n, 4)), None),
    "one-hot-ignore-masks": (OneHotIoU, dict(num_classes=3, target_class_ids=[0], ignore_class=1), None,
                             lambda rng, n: (_one_hot(_ids(rng, (n, 2, 2), 3), 3), _scores(rng, (n, 2, 2, 3))),
                             None),
    "one-hot-mean": (OneHotMeanIoU, dict(num_classes=3), None,
                     lambda rng, n: (_one_hot(_ids(rng, n, 3), 3), _scores(rng, (n, 3))), None),
    "one-hot-mean-axis-1": (OneHotMeanIoU, dict(num_classes=4, axis=1), dict(num_classes=4, axis=-1),
                            lambda rng, n: (np.moveaxis(_one_hot(_ids(rng, (n, 5), 4), 4), -1, 1),
                                            _scores(rng, (n, 4, 5))), 1),
    "one-hot-mean-ids-ignore": (OneHotMeanIoU, dict(num_classes=3, sparse_y_pred=True, ignore_class=2), None,
                                lambda rng, n: (lambda t, p: (_one_hot(t, 3), p))(*_pair(rng, n, 3)), None),
}


def _label_shape(metric, y_true):
    """The shape of ``y_true``'s class ids: itself, or without its class axis for one-hot targets."""
    if metric.sparse_y_true:
        return y_true.shape
    return tuple(d for i, d in enumerate(y_true.shape) if i != metric.axis % y_true.ndim)


@pytest.mark.parametrize("weighting", [None, "sample", "value"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_against_keras_over_batches(case, weighting, keras, rng):
    cls, kwargs, keras_kwargs, make, class_axis = CASES[case]
    ours = cls(**kwargs)
    # dtype="float32": Keras' default confusion matrix is an integer one, which truncates weights
    # such as 0.7 to 0 (glassnet counts them as they are)
    theirs = getattr(keras.metrics, cls.__name__)(**(keras_kwargs or kwargs), dtype="float32")
    for n in (5, 1, 8, 3):
        y_true, y_pred = make(rng, n)
        shape = _label_shape(ours, y_true)
        if weighting is None:
            weights = None
        else:
            # some weights of 0, which drop their values
            weights = rng.uniform(0.1, 2.0, n if weighting == "sample" else shape) * (rng.random(
                n if weighting == "sample" else shape) > 0.2)
        ours.update_state(y_true, y_pred, sample_weight=weights)
        if class_axis is not None:
            y_true, y_pred = np.moveaxis(y_true, class_axis, -1), np.moveaxis(y_pred, class_axis, -1)
        # Keras takes only weights of the labels' size (one per sample fails for masks)
        keras_weights = None if weights is None else np.broadcast_to(
            weights.reshape(weights.shape + (1,) * (len(shape) - weights.ndim)), shape)
        theirs.update_state(y_true, y_pred, sample_weight=keras_weights)
        assert ours.result() == pytest.approx(float(theirs.result()), abs=1e-6), f"{case}, after a batch of {n}"
    assert ours.result() > 0            # the comparison checked something


def test_fractional_weights_are_not_truncated_as_keras_default_does(keras):
    # Keras' default (integer) confusion matrix makes this 0; glassnet keeps the weights
    theirs = keras.metrics.MeanIoU(num_classes=2)
    with pytest.warns(UserWarning):
        theirs.update_state([0, 0, 1, 1], [0, 1, 0, 1], sample_weight=np.array([0.3, 0.3, 0.3, 0.1]))
    assert float(theirs.result()) == 0.0
    ours = MeanIoU(num_classes=2)
    ours.update_state(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), sample_weight=[0.3, 0.3, 0.3, 0.1])
    assert ours.result() == pytest.approx(0.238095, abs=1e-6)


def test_default_names_and_configs_are_keras(keras):
    for cls, kwargs in ((IoU, dict(num_classes=3, target_class_ids=[1])), (MeanIoU, dict(num_classes=3)),
                        (BinaryIoU, {}), (OneHotIoU, dict(num_classes=3, target_class_ids=[1])),
                        (OneHotMeanIoU, dict(num_classes=3))):
        theirs = getattr(keras.metrics, cls.__name__)(**kwargs).get_config()
        theirs.pop("dtype")
        ours = cls(**kwargs).get_config()
        # Keras numbers a name taken by an earlier instance: io_u, io_u_1, ...
        assert re.fullmatch(rf"{ours.pop('name')}(_\d+)?", theirs.pop("name"))
        assert ours == theirs


# -- configs, reset, empty ---------------------------------------------------------------------
SETTINGS = [
    (IoU, dict(num_classes=5, target_class_ids=(4, 0), name="iou_4_0", ignore_class=255, sparse_y_true=False,
               sparse_y_pred=False, axis=1)),
    (MeanIoU, dict(num_classes=np.int64(3), ignore_class=-1, sparse_y_pred=False, axis=-2)),
    (BinaryIoU, dict(target_class_ids=np.array([1]), threshold=np.float32(0.25), name="fg")),
    (OneHotIoU, dict(num_classes=4, target_class_ids=[3], ignore_class=0, sparse_y_pred=True)),
    (OneHotMeanIoU, dict(num_classes=2, name="m", ignore_class=1, axis=1)),
]


@pytest.mark.parametrize("cls,kwargs", SETTINGS, ids=[c.__name__ for c, _ in SETTINGS])
def test_get_config_round_trips_through_json(cls, kwargs):
    m = cls(**kwargs)
    config = m.get_config()
    assert type(m)(**config).get_config() == config
    assert json.loads(json.dumps(config)) == config          # tuples and NumPy numbers came back as lists and ints
    assert set(config) <= set(kwargs) | {"name", "target_class_ids", "ignore_class", "sparse_y_true",
                                         "sparse_y_pred", "axis", "threshold", "num_classes"}
    assert all(config[key] == (list(value) if key == "target_class_ids" else value)
               for key, value in kwargs.items())
    assert m.direction == "up"


def test_default_names():
    assert [c.default_name for c in CLASSES] == ["io_u", "mean_io_u", "binary_io_u", "one_hot_io_u",
                                                 "one_hot_mean_io_u"]
    assert MeanIoU(2).name == "mean_io_u" and MeanIoU(2, name="miou").name == "miou"


def test_reset_state_empties_it_and_nothing_valid_gives_zero():
    m = MeanIoU(num_classes=3)
    assert m.result() == 0.0                                   # nothing seen
    m.update_state(np.array([0, 1, 2]), np.array([0, 1, 1]))
    assert m.result() > 0
    m.reset_state()
    assert m.result() == 0.0 and not m.total_cm.any()
    m.update_state(np.array([0, 1]), np.array([1, 0]))
    assert m.result() == 0.0                                   # all wrong
    fresh = MeanIoU(num_classes=3)
    fresh.update_state(np.array([0, 1]), np.array([1, 0]))
    np.testing.assert_array_equal(m.total_cm, fresh.total_cm)
    # the target class never labelled nor predicted: no IoU to average
    m = IoU(num_classes=3, target_class_ids=[2])
    m.update_state(np.array([0, 1, 1]), np.array([0, 1, 0]))
    assert m.result() == 0.0
    # every value weighed 0, or ignored, or an empty batch
    m = MeanIoU(num_classes=2, ignore_class=1)
    m.update_state(np.array([0, 1]), np.array([0, 1]), sample_weight=[0, 3])
    m.update_state(np.zeros(0, int), np.zeros(0, int))
    assert m.result() == 0.0 and not m.total_cm.any()


def test_called_it_updates_and_returns_the_result():
    m = BinaryIoU()
    assert m(np.array([1, 0]), np.array([0.9, 0.2])) == 1.0
    assert m(np.array([1, 0]), np.array([0.2, 0.9])) == pytest.approx(1 / 3)


def test_ignored_and_zero_weight_values_may_hold_any_label():
    # a void label outside the classes, given as ignore_class, or weighed 0, is never checked
    m = MeanIoU(num_classes=2, ignore_class=255)
    m.update_state(np.array([0, 255, 1]), np.array([0, 1, 1]))
    assert m.result() == 1.0
    m = MeanIoU(num_classes=2)
    m.update_state(np.array([0, 7, 1]), np.array([0, 1, 1]), sample_weight=[1, 0, 1])
    assert m.result() == 1.0


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("make,error,match", [
    (lambda: IoU(0, [0]), ValueError, r"IoU: num_classes: expected a positive integer, got 0"),
    (lambda: MeanIoU(2.0), ValueError, r"MeanIoU: num_classes: expected a positive integer, got 2\.0"),
    (lambda: IoU(3, [3]), ValueError, r"IoU: target_class_ids: expected class ids in \[0, 3\), got \[3\]"),
    (lambda: OneHotIoU(3, [0, -1]), ValueError,
     r"OneHotIoU: target_class_ids: expected class ids in \[0, 3\), got \[-1\]"),
    (lambda: IoU(3, 1), TypeError, r"IoU: target_class_ids: expected a list or tuple of class ids .*\[2\]"),
    (lambda: IoU(3, []), ValueError, r"IoU: target_class_ids: expected one or more integer class ids, got \[\]"),
    (lambda: IoU(3, [0.0]), ValueError, r"IoU: target_class_ids: expected one or more integer class ids"),
    (lambda: BinaryIoU([2]), ValueError, r"BinaryIoU: target_class_ids: expected class ids in \[0, 2\), got \[2\]"),
    (lambda: BinaryIoU(threshold=float("nan")), ValueError, r"BinaryIoU: threshold must be a finite number, got nan"),
    (lambda: BinaryIoU(threshold="0.5"), ValueError, r"BinaryIoU: threshold must be a finite number"),
    (lambda: MeanIoU(3, ignore_class="void"), ValueError,
     r"MeanIoU: ignore_class: expected an integer class id or None, got 'void'"),
    (lambda: MeanIoU(3, ignore_class=True), ValueError, r"MeanIoU: ignore_class: expected an integer"),
    (lambda: MeanIoU(3, sparse_y_pred="no"), TypeError, r"MeanIoU: sparse_y_pred: expected True or False, got 'no'"),
    (lambda: OneHotMeanIoU(3, axis=1.0), ValueError, r"OneHotMeanIoU: axis: expected an integer, got 1\.0"),
    (lambda: OneHotMeanIoU(3, name=""), ValueError, r"OneHotMeanIoU: name"),
])
def test_bad_arguments_are_refused_by_name(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("metric,y_true,y_pred,weights,error,match", [
    (MeanIoU(3), [0, 3], [0, 1], None, ValueError,
     r"MeanIoU: targets: expected class ids in \[0, 3\), got values from 0 to 3; .*sparse_y_true=False"),
    (MeanIoU(3), [0, -1], [0, 1], None, ValueError,
     r"MeanIoU: targets: expected class ids in \[0, 3\), got values from -1 to 0"),
    (IoU(3, [0]), [0, 1], [0, 5], None, ValueError,
     r"IoU: predictions: expected class ids in \[0, 3\), got values from 0 to 5; .*sparse_y_pred=False"),
    (MeanIoU(2), [[0], [1]], [[0.2], [0.9]], None, ValueError,
     r"MeanIoU: predictions: expected whole-number class ids, got 0\.2; .*BinaryIoU"),
    (MeanIoU(2), [0.0, np.nan], [0, 1], None, ValueError,
     r"MeanIoU: targets: expected whole-number class ids, got nan"),
    (BinaryIoU(), [0, 2], [0.1, 0.9], None, ValueError,
     r"BinaryIoU: targets: expected class ids in \[0, 2\), got values from 0 to 2; BinaryIoU takes targets of 0 and 1"),
    (MeanIoU(2), np.array(["a", "b"]), [0, 1], None, TypeError,
     r"MeanIoU: targets: expected numbers, got an array of dtype <U1"),
    (OneHotIoU(2, [0]), [[1, 0]], np.array([[None, 1]]), None, TypeError, r"OneHotIoU: predictions: expected numbers"),
    (MeanIoU(3), [0, 1, 2], [[0, 1, 2]], None, ValueError,
     r"MeanIoU: expected targets and predictions of one shape .*"
     r"got class ids of shape \(3,\) for the targets and \(1, 3\)"),
    (MeanIoU(3, sparse_y_pred=False), [0, 1], [0.1, 0.9], None, ValueError,
     r"MeanIoU: predictions: with sparse_y_pred=False, expected an array of \(n, \.\.\., classes\) "
     r"with axis=-1 .*got shape \(2,\)"),
    (OneHotMeanIoU(3, axis=2), np.eye(3), np.eye(3), None, ValueError,
     r"OneHotMeanIoU: targets: with sparse_y_true=False, expected .* axis=2 .*got shape \(3, 3\)"),
    (MeanIoU(3), 1, 1, None, ValueError,
     r"MeanIoU: targets: expected an array of class ids with a batch axis, got a scalar"),
    (MeanIoU(3), [[0, 1], [1, 2]], [[0, 1], [1, 2]], [1, 1, 1], ValueError,
     r"MeanIoU: sample_weight: expected one weight per sample"),
    (MeanIoU(3), [0, 1], [0, 1], [1, -1], ValueError, r"MeanIoU: sample_weight: expected finite, non-negative weights"),
])
def test_bad_inputs_are_refused_by_name(metric, y_true, y_pred, weights, error, match):
    with pytest.raises(error, match=match):
        metric.update_state(np.asarray(y_true), np.asarray(y_pred), sample_weight=weights)
    assert not metric.total_cm.any()         # nothing was counted


# -- CuPy arrays (test_gpu's fixture: the strict fakecupy stand-in, and CuPy where a GPU is) ----------
@pytest.mark.parametrize("case", ["iou-ignore-void", "mean-softmax", "binary-logits", "one-hot-mean-axis-1",
                                  "iou-float-ids-column"])
def test_cupy_arrays_give_the_host_result(case, cupy, rng):
    cls, kwargs, _, make, _ = CASES[case]
    host, device = cls(**kwargs), cls(**kwargs)
    for n in (4, 7):
        y_true, y_pred = make(rng, n)
        weights = rng.uniform(0, 2, n)
        host.update_state(y_true, y_pred, sample_weight=weights)
        device.update_state(cupy.asarray(y_true), cupy.asarray(y_pred), sample_weight=cupy.asarray(weights))
    assert isinstance(device.total_cm, np.ndarray)          # the counts live on the host
    np.testing.assert_allclose(device.total_cm, host.total_cm, rtol=1e-12)
    assert isinstance(device.result(), float) and device.result() == pytest.approx(host.result(), rel=1e-12)
    out_of_range = r"MeanIoU: targets: expected class ids in \[0, 2\), got values from 0 to 5"
    with pytest.raises(ValueError, match=out_of_range):
        MeanIoU(2).update_state(cupy.asarray([0, 5]), cupy.asarray([0, 1]))
