"""``AUC(curve="PRGAIN")``, Keras 3.15's area under the precision-recall-gain curve: values against
Keras' ``AUC`` over many random cases (every summation method, evenly spaced and listed thresholds,
multi_label, label_weights, sample weights, from_logits), the degenerate cases Keras' fixes handle,
a value worked by hand, compiled per epoch against a Keras twin, configs and model files."""
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet import metrics

# Keras counts in float32; the gains divide by true positives, so a little more room than for ROC
TOL = dict(rel=1e-5, abs=2e-6)


def _random_case(rng, case):
    """``(settings, batches)`` for the case-th random case: settings cycle through the summation
    methods, threshold kinds, multi_label and label_weights; three batches of (y, p, w)."""
    units = int(rng.integers(1, 4))
    settings = dict(curve="PRGAIN", summation_method=("interpolation", "minoring", "majoring")[case % 3],
                    multi_label=bool(case % 2) and units > 1)
    if case % 4 == 1:
        settings["thresholds"] = [float(t) for t in rng.random(int(rng.integers(1, 8)))]
    elif case % 4 == 2:
        settings["num_thresholds"] = int(rng.integers(3, 300))
    if units > 1 and case % 5 < 2:
        settings["label_weights"] = [float(w) for w in rng.uniform(0, 2, units)]
    if case % 7 == 3:
        settings["from_logits"] = True
    share = rng.uniform(0.1, 0.9)           # of positive targets
    skill = rng.uniform(-0.5, 0.8)          # < 0: outputs anti-correlated with the targets
    batches = []
    for _ in range(3):
        n = int(rng.integers(5, 40))
        y = (rng.random((n, units)) < share).astype(np.float32)
        p = np.clip(0.5 + skill * (y - 0.5) + 0.6 * (rng.random((n, units)) - 0.5), 0, 1).astype(np.float32)
        if settings.get("from_logits"):
            p = (p - 0.5) * 8
        w = rng.uniform(0, 2, n).astype(np.float32) if case % 3 == 1 else None
        batches.append((y, p, w))
    return settings, batches


def _both(keras, batches, **settings):
    ours, theirs = metrics.AUC(**settings), keras.metrics.AUC(**settings)
    for y, p, w in batches:
        ours.update_state(y, p, sample_weight=w)
        theirs.update_state(y, p, sample_weight=w)
    return ours.result(), float(theirs.result())


def test_prgain_matches_keras_on_many_random_cases(keras):
    rng = np.random.default_rng(7)
    values, worst = [], 0.0
    for case in range(120):
        settings, batches = _random_case(rng, case)
        mine, theirs = _both(keras, batches, **settings)
        assert mine == pytest.approx(theirs, **TOL), (case, settings, mine, theirs)
        values.append(mine)
        worst = max(worst, abs(mine - theirs))
    # the cases are not all alike: areas from poor to good, so the comparison says something
    assert min(values) < 0.2 and max(values) > 0.8 and len(set(np.round(values, 4))) > 60
    assert worst < 1e-5


@pytest.mark.parametrize("summation", ["interpolation", "minoring", "majoring"])
@pytest.mark.parametrize("y,p", [
    ([1, 1, 1, 1], [0.2, 0.9, 0.5, 0.6]),           # no negatives: P / N is 0 (divide_no_nan)
    ([0, 0, 0, 0], [0.2, 0.9, 0.5, 0.6]),           # no positives: no true positives anywhere
    ([1, 0, 1, 0], [0.1, 0.9, 0.2, 0.8]),           # anti-correlated: recall gains raised to 0
    ([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.2]),           # perfect
    ([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]),           # one tie
    ([1, 0, 0, 1, 0], [0.0, 1.0, -0.3, 1.4, np.nan]),  # ends, outside [0, 1] (clipped), NaN
])
def test_degenerate_cases_give_keras_values(keras, summation, y, p):
    y, p = np.array(y, dtype=np.float32)[:, None], np.array(p, dtype=np.float32)[:, None]
    for thresholds in (None, [0.3, 0.55, 0.85]):
        mine, theirs = _both(keras, [(y, p, None)], curve="PRGAIN", summation_method=summation,
                             thresholds=thresholds)
        assert mine == pytest.approx(theirs, **TOL), (thresholds, mine, theirs)


def test_prgain_by_hand():
    # three thresholds -1e-7, 0.5, 1 + 1e-7; targets 1, 1, 0, 0 with outputs 0.9, 0.2, 0.7, 0.1:
    # above 0.5 one true and one false positive; P / N = 1
    #   t=-1e-7: tp=2 fp=2 fn=0 -> recall gain 1, precision gain 1 - 2/2 = 0
    #   t=0.5:   tp=1 fp=1 fn=1 -> recall gain 1 - 1/1 = 0, precision gain 0
    #   t=1:     tp=0            -> recall gain 0, precision gain 1
    # trapezoids: (1 - 0) * (0 + 0) / 2 + (0 - 0) * (0 + 1) / 2 = 0
    auc = metrics.AUC(num_thresholds=3, curve="PRGAIN")
    assert auc(np.array([1, 1, 0, 0]), np.array([0.9, 0.2, 0.7, 0.1])) == 0.0
    # targets 1, 0, 0, 0 with outputs 0.9, 0.6, 0.2, 0.1: P / N = 1/3
    #   t=-1e-7: tp=1 fp=3 fn=0 -> recall gain 1, precision gain 1 - 3/3 = 0
    #   t=0.5:   tp=1 fp=1 fn=0 -> recall gain 1, precision gain 1 - 1/3 = 2/3
    #   t=1:     tp=0            -> recall gain 0, precision gain 1
    # trapezoids: 0 + (1 - 0) * (2/3 + 1) / 2 = 5/6
    auc = metrics.AUC(num_thresholds=3, curve="PRGAIN")
    assert auc(np.array([1, 0, 0, 0]), np.array([0.9, 0.6, 0.2, 0.1])) == pytest.approx(5 / 6, abs=1e-12)
    # the ROC curve of the first case has area 1/2 (tpr = fpr = 1, 1/2, 0): the curve is not ignored
    assert metrics.AUC(num_thresholds=3)(np.array([1, 1, 0, 0]), np.array([0.9, 0.2, 0.7, 0.1])) == 0.5


def test_curve_names_and_config(keras):
    for name in ("PRGAIN", "prgain"):
        assert metrics.AUC(curve=name).curve == keras.metrics.AUC(curve=name).get_config()["curve"] == "PRGAIN"
    auc = metrics.AUC(num_thresholds=50, curve="prgain", summation_method="majoring", multi_label=True,
                      label_weights=[1.0, 2.0], name="prg")
    config = auc.get_config()
    assert config["curve"] == "PRGAIN"
    # glassnet's metrics have no from_config: a model file's metric is rebuilt by deserialize
    again = metrics.deserialize({"class_name": "AUC", "config": json.loads(json.dumps(config))})
    assert type(again) is metrics.AUC and again.get_config() == config
    assert metrics.AUC(**config).get_config() == config
    # Keras' serialized form reads as glassnet's, with the same value
    theirs = keras.metrics.AUC(curve="PRGAIN", summation_method="minoring", name="prg")
    ours = metrics.deserialize(keras.metrics.serialize(theirs))
    assert ours.curve == "PRGAIN" and ours.summation_method == "minoring" and ours.name == "prg"
    with pytest.raises(ValueError, match=r"AUC: curve: expected one of \['ROC', 'PR', 'PRGAIN'\], got 'PR-GAIN'"):
        metrics.AUC(curve="PR-GAIN")


def test_compiled_prgain_logs_per_epoch_as_keras_and_survives_a_model_file(keras, rng, tmp_path):
    x = rng.standard_normal((96, 4)).astype(np.float32)
    y = (x[:, :2] + 0.8 * rng.standard_normal((96, 2)) > 0).astype(np.float32)
    xv, yv = x[:32] * 1.1, y[:32]

    def compiled(lib):
        return [lib.metrics.AUC(curve="PRGAIN", name="prg"),
                lib.metrics.AUC(curve="PRGAIN", multi_label=True, num_labels=2, label_weights=[2.0, 1.0],
                                summation_method="minoring", num_thresholds=37, name="prg_ml")]

    ours = gn.Sequential([gn.layers.Dense(2, activation="sigmoid", input_dim=4)], seed=0)
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="sigmoid")])
    theirs.set_weights(ours.get_weights())
    ours.compile("binary_crossentropy", gn.optimizers.SGD(0.5), metrics=compiled(gn))
    theirs.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.5), metrics=compiled(keras))
    mine = ours.fit(x, y, epochs=3, batch_size=16, shuffle=False, validation_data=(xv, yv), verbose=0).history
    their = theirs.fit(x, y, epochs=3, batch_size=16, shuffle=False, validation_data=(xv, yv), verbose=0).history
    assert sorted(mine) == sorted(their)
    for key in their:
        np.testing.assert_allclose(mine[key], their[key], rtol=2e-5, atol=2e-6, err_msg=key)
    assert len(set(np.round(mine["prg"], 6))) > 1          # the epochs differ: the weights moved
    expected = ours.evaluate(xv, yv, return_dict=True)
    ours.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert [fn.get_config() for _, fn in loaded.metrics] == [fn.get_config() for _, fn in ours.metrics]
    assert loaded.evaluate(xv, yv, return_dict=True) == expected
