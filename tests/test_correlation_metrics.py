"""Keras 3's correlation metrics, PearsonCorrelation and ConcordanceCorrelation: by hand
(NumPy's corrcoef, Lin's formula), against Keras 3.15 over batches with and without weights, by
name in compile, in model files, and the errors."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import metrics
from glassnet.metrics.correlation import concordance_correlation, pearson_correlation

from test_gpu import cupy  # noqa: F401  (the fixture: fakecupy, and CuPy where a GPU is)


def _pair(rng, n, k=5):
    t = rng.standard_normal((n, k))
    return t, 0.7 * t + 0.3 * rng.standard_normal((n, k)) + 0.2


def test_coefficients_by_hand():
    rng = np.random.default_rng(0)
    t, p = _pair(rng, 6)
    np.testing.assert_allclose(pearson_correlation(t, p), [np.corrcoef(a, b)[0, 1] for a, b in zip(t, p)])
    lin = [2 * np.cov(a, b, bias=True)[0, 1] / (a.var() + b.var() + (a.mean() - b.mean()) ** 2 + 1e-7)
           for a, b in zip(t, p)]
    np.testing.assert_allclose(concordance_correlation(t, p), lin)
    # outputs equal to their targets: 1; a shift keeps Pearson's 1 and lowers the concordance
    assert np.allclose(concordance_correlation(t, t), 1) and np.allclose(pearson_correlation(t, t + 3), 1)
    assert np.all(concordance_correlation(t, t + 3) < 0.5)
    # axis=0: one coefficient per unit, over the batch
    np.testing.assert_allclose(pearson_correlation(t, p, axis=0),
                               [np.corrcoef(t[:, j], p[:, j])[0, 1] for j in range(5)])
    # one unit: Pearson is undefined (NaN, as Keras), silently: no NumPy warning
    with np.errstate(all="raise"):
        assert np.isnan(pearson_correlation(t[:, :1], p[:, :1])).all()


@pytest.mark.parametrize("cls", ["PearsonCorrelation", "ConcordanceCorrelation"])
@pytest.mark.parametrize("weighted, axis", [(False, -1), (True, -1), (False, 0)])     # weights with 0: refused
def test_equals_keras_over_batches(keras, cls, weighted, axis):
    rng = np.random.default_rng(1)
    ours, theirs = getattr(metrics, cls)(axis=axis), getattr(keras.metrics, cls)(axis=axis)
    for n in (7, 16, 3):
        t, p = _pair(rng, n)
        w = rng.random(n) * (rng.random(n) > 0.2) if weighted else None
        ours.update_state(t.astype(np.float32), p.astype(np.float32), sample_weight=w)
        theirs.update_state(t.astype(np.float32), p.astype(np.float32), sample_weight=w)
        np.testing.assert_allclose(ours.result(), float(theirs.result()), rtol=2e-5)


def test_fakecupy_gives_the_same(cupy):
    rng = np.random.default_rng(2)
    t, p = _pair(rng, 9)
    for cls in (metrics.PearsonCorrelation, metrics.ConcordanceCorrelation):
        host, device = cls(), cls()
        host.update_state(t, p, sample_weight=np.arange(9.0))
        device.update_state(cupy.asarray(t), cupy.asarray(p), sample_weight=cupy.asarray(np.arange(9.0)))
        assert host.result() == device.result()


def test_compiled_by_name_trained_and_saved(keras, tmp_path):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = (x @ rng.standard_normal((4, 6))).astype(np.float32)
    model = gn.Sequential([gn.layers.Dense(6, input_shape=(4,), seed=0)])
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(0.05),
                  metrics=["pearson_correlation", metrics.ConcordanceCorrelation(name="ccc", axis=0)])
    twin = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6)])
    twin.set_weights(model.get_weights())
    twin.compile(loss="mse", optimizer=keras.optimizers.SGD(0.05),
                 metrics=["pearson_correlation", keras.metrics.ConcordanceCorrelation(name="ccc", axis=0)])
    ours = model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0).history
    theirs = twin.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0).history
    for key in ("pearson_correlation", "ccc"):
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-4)
    assert ours["pearson_correlation"][-1] > ours["pearson_correlation"][0]
    model.save(tmp_path / "m.npz")
    again = gn.load_model(tmp_path / "m.npz")
    scores = again.evaluate(x, y, return_dict=True)
    assert scores == model.evaluate(x, y, return_dict=True) and list(scores) == ["loss", "pearson_correlation", "ccc"]
    assert again.get_config()["compile"]["metrics"][1] == {"class_name": "ConcordanceCorrelation",
                                                          "config": {"name": "ccc", "axis": 0}}


def test_callbacks_maximise_them():
    from glassnet.callbacks import base
    model = gn.Sequential([gn.layers.Dense(2, input_shape=(3,))])
    model.compile(loss="mse", optimizer="sgd", metrics=[metrics.PearsonCorrelation(name="r")])
    assert base.metric_mode(model, "val_r") == "max"


def test_errors():
    t = np.ones((4, 3))
    with pytest.raises(TypeError, match="axis"):
        metrics.PearsonCorrelation(axis=1.0)
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        metrics.PearsonCorrelation(axis=2).update_state(t, t)
    with pytest.raises(ValueError, match="sample_weight"):
        metrics.ConcordanceCorrelation(axis=0).update_state(t, t, sample_weight=np.ones(4))
    with pytest.raises(ValueError, match=r"concordance_correlation: expected targets of the outputs' shape \(4, 3\)"):
        metrics.ConcordanceCorrelation().update_state(np.ones((4, 2)), t)


@pytest.mark.parametrize("shapes", [((6, 4), (6, 4, 1)), ((6, 4, 1), (6, 4)), ((6,), (6, 1)), ((6, 1), (6,))])
def test_ranks_one_apart_follow_keras(keras, shapes):
    """Keras' rule: a vector gets the missing axis; otherwise the size-1 axis goes, so (n, T)
    targets and (n, T, 1) outputs give one coefficient per sequence."""
    rng = np.random.default_rng(5)
    t, p = rng.standard_normal(shapes[0]).astype(np.float32), rng.standard_normal(shapes[1]).astype(np.float32)
    for ours, theirs in ((pearson_correlation, keras.metrics.pearson_correlation),
                         (concordance_correlation, keras.metrics.concordance_correlation)):
        expected = np.asarray(theirs(t, p))
        np.testing.assert_allclose(ours(t, p), expected, rtol=1e-5, atol=1e-6, equal_nan=True)


def test_the_functions_compile_as_their_classes(tmp_path):
    model = gn.Sequential([gn.layers.Dense(3, input_shape=(2,), seed=0)])
    model.compile(loss="mse", optimizer="sgd", metrics=[metrics.pearson_correlation, metrics.concordance_correlation])
    x, y = np.random.default_rng(6).standard_normal((8, 2)), np.random.default_rng(7).standard_normal((8, 3))
    scores = model.evaluate(x, y, return_dict=True)
    assert list(scores) == ["loss", "pearson_correlation", "concordance_correlation"]
    assert scores["pearson_correlation"] == pytest.approx(float(np.mean(pearson_correlation(y, model.predict(x)))), rel=1e-5)
    model.save(tmp_path / "m.npz")          # saved by name, as the classes are
