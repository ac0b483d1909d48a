"""F1Score and FBetaScore: by hand, against Keras 3 (every average, threshold, beta), counted over
whole epochs in a model, saved with their settings, and what a log cannot hold."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet import metrics
from glassnet.layers import Dense


def test_by_hand():
    y = np.eye(3)[[0, 1, 2, 2]]
    p = np.eye(3)[[0, 1, 1, 2]] * 0.8 + 0.05                   # argmax: classes 0, 1, 1, 2
    eps = 1e-7
    # class 0: tp 1; class 1: tp 1, fp 1; class 2: tp 1, fn 1
    f = metrics.F1Score()
    f.update_state(y, p)
    p1, r2 = 1 / (2 + eps), 1 / (2 + eps)
    one = 2 * (1 / (1 + eps)) ** 2 / (2 / (1 + eps) + eps)
    expected = [one, 2 * p1 * (1 / (1 + eps)) / (p1 + 1 / (1 + eps) + eps),
                2 * (1 / (1 + eps)) * r2 / (1 / (1 + eps) + r2 + eps)]
    np.testing.assert_allclose(f.result(), expected, rtol=1e-12)
    assert metrics.F1Score(average="macro")(y, p) == pytest.approx(np.mean(expected), rel=1e-12)
    # micro: tp 3, fp 1, fn 1 pooled
    assert metrics.F1Score(average="micro")(y, p) == pytest.approx(0.75, rel=1e-6)
    # weighted by the targets' shares 1/4, 1/4, 2/4
    assert metrics.F1Score(average="weighted")(y, p) == pytest.approx(
        np.dot(expected, [0.25, 0.25, 0.5]), rel=1e-6)


def test_keras_trap_kept_a_sigmoid_unit_needs_a_threshold():
    y, p = np.array([[1], [0], [0]]), np.array([[0.9], [0.2], [0.1]])
    assert metrics.F1Score()(y, p) == pytest.approx(0.5, rel=1e-6)        # all three "predicted"
    assert metrics.F1Score(threshold=0.5)(y, p) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("units", [1, 4])
@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
@pytest.mark.parametrize("threshold,beta", [(None, 1.0), (0.4, 1.0), (None, 2.0), (0.6, 0.5)])
def test_against_keras(units, average, threshold, beta, rng):
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours = metrics.FBetaScore(average=average, beta=beta, threshold=threshold)
    theirs = keras.metrics.FBetaScore(average=average, beta=beta, threshold=threshold)
    for _ in range(3):
        y = (rng.random((30, units)) < 0.4).astype(np.float32)
        p = rng.random((30, units)).astype(np.float32)
        ours.update_state(y, p)
        theirs.update_state(y, p)
    np.testing.assert_allclose(ours.result(), np.asarray(theirs.result()), atol=1e-6)


def test_in_a_model_over_whole_epochs_and_saved(tmp_path):
    (X, y), (Xt, yt) = gn.datasets.iris()
    Y, Yt = np.eye(3)[y], np.eye(3)[yt]
    model = gn.Sequential([Dense(8, activation="relu", input_dim=4), Dense(3, activation="softmax")], seed=0)
    model.compile("categorical_crossentropy", gn.optimizers.Adam(0.05),
                  metrics=[metrics.F1Score(average="macro"), metrics.FBetaScore(average="micro", beta=2.0)])
    history = model.fit(X, Y, epochs=3, batch_size=16, validation_data=(Xt, Yt), verbose=0)
    p = model.predict(Xt)
    assert history.history["val_f1_score"][-1] == pytest.approx(metrics.F1Score(average="macro")(Yt, p), abs=1e-12)
    assert model.evaluate(Xt, Yt, batch_size=7)[1:] == pytest.approx(
        [metrics.F1Score(average="macro")(Yt, p), metrics.FBetaScore(average="micro", beta=2.0)(Yt, p)], abs=1e-12)
    assert gn.callbacks.EarlyStopping(monitor="val_f1_score").mode == "max"
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert [repr(fn) for _, fn in loaded.metrics] == [repr(fn) for _, fn in model.metrics]


def test_one_score_per_class_cannot_be_logged():
    (X, y), _ = gn.datasets.iris()
    model = gn.Sequential([Dense(3, activation="softmax", input_dim=4)], seed=0)
    model.compile("categorical_crossentropy", "adam", metrics=[metrics.F1Score()])
    with pytest.raises(TypeError, match=r"metric 'f1_score': result\(\) must give one number, got array.* give it average="):
        model.fit(X, np.eye(3)[y], epochs=1, verbose=0)


@pytest.mark.parametrize("make,match", [
    (lambda: metrics.F1Score(average="binary"), "F1Score: average: expected one of"),
    (lambda: metrics.FBetaScore(beta=0), "FBetaScore: beta must be a finite number > 0"),
    (lambda: metrics.F1Score(threshold=0), r"threshold must be a number in \(0, 1\]"),
    (lambda: metrics.F1Score(threshold=1.5), r"threshold must be a number in \[0, 1\]"),
    (lambda: metrics.F1Score()(np.zeros((2, 2, 2)), np.zeros((2, 2, 2))), r"expected outputs of shape \(n, classes\)"),
])
def test_bad_settings_and_inputs(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_average_none_on_several_classes_is_refused_before_training():
    (X, y), _ = gn.datasets.iris()
    model = gn.Sequential([Dense(3, activation="softmax", input_dim=4)], seed=0)
    model.compile("categorical_crossentropy", "adam", metrics=[metrics.F1Score()])
    with pytest.raises(TypeError, match="give it average="):
        model.fit(X, np.eye(3)[y], epochs=1, verbose=0)
    assert model.optimizer.iterations == 0


def test_a_beta_whose_square_overflows_is_refused():
    with pytest.raises(ValueError, match="beta must be at most 1e150"):
        metrics.FBetaScore(beta=1e200)
