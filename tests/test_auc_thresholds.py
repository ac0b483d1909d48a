"""AUC's Keras 3.15 settings ``thresholds=`` (a list instead of ``num_thresholds`` evenly spaced
ones), ``num_labels=`` and ``label_weights=``: values against Keras' ``AUC`` over several batches,
with sample weights, for both curves and the three summation methods; compiled, per epoch against
a Keras twin trained with SGD from the same weights; configs and model files; what is refused."""
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet import metrics

# outputs on the thresholds below (0.3, 0.5, 0.7 exactly, in float32), at 0 and 1, and outside
# [0, 1] (Keras clips those only when the thresholds are evenly spaced)
SPECIAL = np.array([0.3, 0.5, 0.7, 0.0, 1.0, -0.2, 1.3, 0.25, 0.75, 0.2], dtype=np.float32)

THRESHOLD_LISTS = {
    "unsorted": [0.7, 0.2, 0.5, 0.3],
    "duplicates": [0.5, 0.3, 0.5, 0.3],
    "outside [0, 1]": [-0.5, 0.4, 1.2, 0.05],
    "infinite": [float("inf"), 0.6, -float("inf")],
    "evenly spaced": [0.75, 0.25, 0.5],          # Keras' bucket counting, with clipping
    "one": [0.5],
    "none": [],
    "many": list(np.linspace(0.01, 0.97, 37) ** 2),
    "numpy array": np.array([0.3, 0.9, 0.1]),
}


def _batches(rng, units=1, n=(17, 9, 23), special=True):
    """Three batches ``(y, p, w)`` float32: targets 0/1, outputs in [0, 1] with ``SPECIAL``'s
    values in the first batch, sample weights in [0, 2] (one 0)."""
    out = []
    for i, size in enumerate(n):
        p = rng.random((size, units)).astype(np.float32)
        if i == 0 and special:
            p.reshape(-1)[:SPECIAL.size] = SPECIAL
        y = (rng.random((size, units)) < 0.45).astype(np.float32)
        w = rng.uniform(0, 2, size).astype(np.float32)
        w[0] = 0
        out.append((y, p, w))
    return out


def _both(keras, batches, weighted=True, **settings):
    """(glassnet's result, Keras' result) of AUC(**settings) over ``batches``."""
    ours, theirs = metrics.AUC(**settings), keras.metrics.AUC(**settings)
    for y, p, w in batches:
        ours.update_state(y, p, sample_weight=w if weighted else None)
        theirs.update_state(y, p, sample_weight=w if weighted else None)
    return ours.result(), float(theirs.result())


@pytest.mark.parametrize("listed", list(THRESHOLD_LISTS), ids=list(THRESHOLD_LISTS))
@pytest.mark.parametrize("curve", ["ROC", "PR"])
@pytest.mark.parametrize("summation", ["interpolation", "minoring", "majoring"])
def test_listed_thresholds_give_keras_values(keras, rng, listed, curve, summation):
    batches = _batches(rng)
    for weighted in (False, True):
        mine, theirs = _both(keras, batches, weighted, thresholds=THRESHOLD_LISTS[listed], curve=curve,
                             summation_method=summation)
        assert mine == pytest.approx(theirs, rel=1e-5, abs=1e-6), (weighted, mine, theirs)


def test_the_thresholds_differ_from_evenly_spaced_ones_where_keras_differs(keras, rng):
    # not a test that passes whatever the thresholds: the listed ones change the value, as in Keras
    batches = _batches(rng, special=False)
    listed = _both(keras, batches, thresholds=[0.1, 0.45, 0.9])
    even = _both(keras, batches, num_thresholds=5)
    assert listed[0] == pytest.approx(listed[1], rel=1e-5) and even[0] == pytest.approx(even[1], rel=1e-5)
    assert abs(listed[0] - even[0]) > 1e-3
    # outputs outside [0, 1]: evenly spaced thresholds clip them, listed ones do not (Keras' two ways)
    y, p = np.array([[1.0], [0.0]]), np.array([[-0.5], [-0.1]], dtype=np.float32)
    for thresholds in ([0.5], [-0.3]):
        assert metrics.AUC(thresholds=thresholds)(y, p) == pytest.approx(
            float(keras.metrics.AUC(thresholds=thresholds)(y, p)), abs=1e-6)
    assert metrics.AUC(thresholds=[0.5])(y, p) == 0.5 and metrics.AUC(thresholds=[-0.3])(y, p) == 0.0


@pytest.mark.parametrize("curve,summation", [("ROC", "interpolation"), ("PR", "interpolation"),
                                             ("ROC", "minoring"), ("PR", "majoring")])
@pytest.mark.parametrize("thresholds", [None, [0.6, 0.1, 0.35, 0.8]])
def test_multi_label_with_label_weights_gives_keras_values(keras, rng, curve, summation, thresholds):
    batches = _batches(rng, units=3)
    for label_weights in (None, [0.5, 2.0, 1.0], [0.0, 0.0, 3.0], [0.0, 0.0, 0.0]):
        settings = dict(curve=curve, summation_method=summation, thresholds=thresholds,
                        label_weights=label_weights)
        mine, theirs = _both(keras, batches, multi_label=True, num_labels=3, **settings)
        assert mine == pytest.approx(theirs, rel=1e-5, abs=1e-6), label_weights
        mine, theirs = _both(keras, batches, multi_label=True, **settings)      # units from the first batch
        assert mine == pytest.approx(theirs, rel=1e-5, abs=1e-6), label_weights
        # without multi_label, the weights weigh each unit's values in the pooled counts
        mine, theirs = _both(keras, batches, **settings)
        assert mine == pytest.approx(theirs, rel=1e-5, abs=1e-6), label_weights
    weighted = metrics.AUC(multi_label=True, label_weights=[1.0, 0.0, 0.0])
    first = metrics.AUC()
    for y, p, _ in batches:
        weighted.update_state(y, p)
        first.update_state(y[:, :1], p[:, :1])
    assert weighted.result() == pytest.approx(first.result(), abs=1e-12)     # one unit's area alone


def test_from_logits_with_listed_thresholds(keras, rng):
    batches = [(y, (p - 0.5) * 8, w) for y, p, w in _batches(rng, units=2)]
    mine, theirs = _both(keras, batches, thresholds=[0.2, 0.5, 0.9], from_logits=True, multi_label=True,
                         label_weights=[1.0, 3.0])
    assert mine == pytest.approx(theirs, rel=1e-5, abs=1e-6)


def test_thresholds_and_config_read_as_keras(keras):
    for listed in THRESHOLD_LISTS.values():
        ours, theirs = metrics.AUC(thresholds=listed), keras.metrics.AUC(thresholds=listed)
        assert ours.thresholds == pytest.approx([float(t) for t in theirs.thresholds])
        assert ours.num_thresholds == theirs.num_thresholds
        config, keras_config = ours.get_config(), theirs.get_config()
        assert config["num_thresholds"] == keras_config["num_thresholds"]
        assert config["thresholds"] == [float(t) for t in keras_config["thresholds"]]
    assert metrics.AUC(thresholds=[0.5, 0.2]).thresholds == [-1e-7, 0.2, 0.5, 1 + 1e-7]
    # Keras ignores num_thresholds beside thresholds, and so does glassnet
    assert metrics.AUC(num_thresholds=1, thresholds=[0.4]).num_thresholds == 3


def test_configs_without_the_new_settings_are_unchanged():
    # byte for byte what get_config wrote before these settings existed
    assert json.dumps(metrics.AUC(num_thresholds=50, curve="pr").get_config()) == (
        '{"num_thresholds": 50, "curve": "PR", "summation_method": "interpolation", "name": "auc", '
        '"multi_label": false, "from_logits": false}')
    assert json.dumps(metrics.AUC(multi_label=True, name="m").get_config()) == (
        '{"num_thresholds": 200, "curve": "ROC", "summation_method": "interpolation", "name": "m", '
        '"multi_label": true, "from_logits": false}')


def test_new_settings_survive_config_and_model_file(tmp_path, rng):
    auc = metrics.AUC(thresholds=[0.7, 0.2, 0.4], curve="PR", multi_label=True, num_labels=2,
                      label_weights=[1.0, 3.0], name="prc")
    config = auc.get_config()
    assert config == {"num_thresholds": 5, "curve": "PR", "summation_method": "interpolation", "name": "prc",
                      "multi_label": True, "from_logits": False, "thresholds": [0.2, 0.4, 0.7],
                      "num_labels": 2, "label_weights": [1.0, 3.0]}
    again = metrics.AUC(**json.loads(json.dumps(config)))
    assert again.get_config() == config and again.thresholds == auc.thresholds
    x = rng.standard_normal((40, 3)).astype(np.float32)
    y = (rng.random((40, 2)) < 0.5).astype(np.float32)
    model = gn.Sequential([gn.layers.Dense(2, activation="sigmoid", input_dim=3)], seed=0)
    model.compile("binary_crossentropy", gn.optimizers.SGD(0.1),
                  metrics=[auc, metrics.AUC(thresholds=[0.5], name="roc")])
    model.fit(x, y, epochs=1, verbose=0)
    expected = model.evaluate(x, y, return_dict=True)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert [repr(fn) for _, fn in loaded.metrics] == [repr(fn) for _, fn in model.metrics]
    assert loaded.evaluate(x, y, return_dict=True) == expected
    assert gn.Sequential.from_config(model.get_config()).get_config()["compile"] == model.get_config()["compile"]


def test_keras_serialized_auc_with_the_new_settings_reads_and_scores_as_keras(keras, rng):
    theirs = keras.metrics.AUC(thresholds=[0.6, 0.2], multi_label=True, num_labels=3,
                               label_weights=[1.0, 2.0, 0.5], curve="PR", name="prc")
    ours = metrics.deserialize(keras.metrics.serialize(theirs))     # label_weights as Keras' tensor entry
    assert ours.label_weights == (1.0, 2.0, 0.5) and ours.num_labels == 3 and ours.name == "prc"
    for y, p, w in _batches(rng, units=3):
        ours.update_state(y, p, sample_weight=w)
        theirs.update_state(y, p, sample_weight=w)
    assert ours.result() == pytest.approx(float(theirs.result()), rel=1e-5, abs=1e-6)


def test_compiled_auc_logs_per_epoch_as_keras(keras, rng):
    x = rng.standard_normal((96, 4)).astype(np.float32)
    y = (x[:, :3] + 0.8 * rng.standard_normal((96, 3)) > 0).astype(np.float32)
    xv, yv = x[:32] * 1.1, y[:32]

    def compiled(lib):
        return [lib.metrics.AUC(thresholds=[0.65, 0.3, 0.5, 0.1, 0.85], multi_label=True, num_labels=3,
                                label_weights=[2.0, 1.0, 0.5], name="auc_ml"),
                lib.metrics.AUC(thresholds=[0.4, 0.45, 0.8], curve="PR", name="prc"),
                lib.metrics.AUC(thresholds=[0.5, 0.25, 0.75], summation_method="minoring",
                                label_weights=[1.0, 0.0, 2.0], name="auc_even")]

    ours = gn.Sequential([gn.layers.Dense(3, activation="sigmoid", input_dim=4)], seed=0)
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="sigmoid")])
    theirs.set_weights(ours.get_weights())
    ours.compile("binary_crossentropy", gn.optimizers.SGD(0.5), metrics=compiled(gn))
    # eagerly: Keras 3.15's AUC with multi_label and thresholds not evenly spaced fails inside
    # tf.function ("Cannot convert a symbolic tf.Tensor (Equal:0) to a numpy array", its
    # np.where on a tensor in update_confusion_matrix_variables); the values are the same
    theirs.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.5), metrics=compiled(keras),
                   run_eagerly=True)
    mine = ours.fit(x, y, epochs=3, batch_size=16, shuffle=False, validation_data=(xv, yv), verbose=0).history
    their = theirs.fit(x, y, epochs=3, batch_size=16, shuffle=False, validation_data=(xv, yv), verbose=0).history
    assert sorted(mine) == sorted(their)
    for key in their:
        np.testing.assert_allclose(mine[key], their[key], rtol=2e-5, atol=1e-6, err_msg=key)
    assert len(set(np.round(mine["auc_ml"], 6))) > 1       # the epochs differ: the weights moved
    mine_eval = ours.evaluate(xv, yv, return_dict=True)
    their_eval = theirs.evaluate(xv, yv, return_dict=True, verbose=0)
    for key in their_eval:
        assert mine_eval[key] == pytest.approx(their_eval[key], rel=2e-5, abs=1e-6), key


@pytest.mark.parametrize("thresholds,error,match", [
    (0.5, TypeError, "thresholds: expected a list of numbers"),
    ("0.5", TypeError, "thresholds: expected a list of numbers"),
    (["0.5"], TypeError, r"thresholds: expected a list of numbers, got '0.5' in it"),
    ([None], TypeError, "thresholds: expected a list of numbers, got None in it"),
    ([[0.3, 0.6]], TypeError, r"thresholds: expected a list of numbers, got \[0.3, 0.6\] in it"),
])
def test_thresholds_keras_refuses_are_refused_by_name(keras, thresholds, error, match):
    with pytest.raises(error, match="AUC: " + match):
        metrics.AUC(thresholds=thresholds)
    with pytest.raises(Exception):      # Keras refuses them too, in its own words
        theirs = keras.metrics.AUC(thresholds=thresholds)
        theirs.update_state(np.array([0.0, 1.0]), np.array([0.2, 0.7], dtype=np.float32))


def test_num_labels_without_multi_label_is_refused_as_keras_does(keras):
    with pytest.raises(ValueError, match="num_labels"):
        keras.metrics.AUC(num_labels=3)
    with pytest.raises(ValueError, match="AUC: num_labels=3 is needed only when multi_label is True"):
        metrics.AUC(num_labels=3)


@pytest.mark.parametrize("make,error,match", [
    (lambda: metrics.AUC(thresholds=[0.2, float("nan")]), ValueError, "thresholds: expected numbers, got NaN"),
    (lambda: metrics.AUC(thresholds=[True]), TypeError, "thresholds: expected a list of numbers, got True in it"),
    (lambda: metrics.AUC(thresholds=[0.5] * 9999), ValueError, "thresholds: expected at most 9998 values, got 9999"),
    (lambda: metrics.AUC(multi_label=True, num_labels=0), ValueError, "num_labels: expected a positive integer"),
    (lambda: metrics.AUC(label_weights=[1.0, -1.0]), ValueError, "label_weights: expected finite, non-negative"),
    (lambda: metrics.AUC(label_weights=[1.0, np.inf]), ValueError, "label_weights: expected finite, non-negative"),
    (lambda: metrics.AUC(label_weights=2.0), TypeError, "label_weights: expected a list of numbers"),
    (lambda: metrics.AUC(label_weights=[[1.0, 2.0]]), TypeError, "label_weights: expected a list of numbers"),
    (lambda: metrics.AUC(multi_label=True, num_labels=3, label_weights=[1.0, 2.0]), ValueError,
     "label_weights: expected num_labels=3 weights, got 2"),
])
def test_bad_settings_are_refused_by_name(make, error, match):
    with pytest.raises(error, match="AUC: " + match):
        make()


@pytest.mark.parametrize("metric,shape,match", [
    (lambda: metrics.AUC(multi_label=True, num_labels=2), (4, 3), r"num_labels=2 needs outputs of shape \(n, 2\)"),
    (lambda: metrics.AUC(multi_label=True, label_weights=[1.0, 2.0]), (4, 3), r"label_weights: 2 weights need outputs of shape \(n, 2\)"),
    (lambda: metrics.AUC(label_weights=[1.0, 2.0]), (4, 3), "label_weights: 2 weights"),
    (lambda: metrics.AUC(label_weights=[1.0]), (4,), r"label_weights: 1 weights need outputs of shape \(n, 1\), got shape \(4,\)"),
])
def test_outputs_that_do_not_fit_the_settings_are_refused_by_name(metric, shape, match):
    with pytest.raises(ValueError, match="AUC: " + match):
        metric().update_state(np.zeros(shape), np.zeros(shape, dtype=np.float32))
