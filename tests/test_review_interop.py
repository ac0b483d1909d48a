"""Review of the interop modules (sklearn wrapper, datasets, dask sweep): bad input is named."""
import numpy as np
import pytest

import glassnet as gn


@pytest.mark.parametrize("batch_size", [0, -5, "32"])
def test_sklearn_batch_size_is_named_before_the_alpha_penalty_uses_it(batch_size):
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_iris
    from glassnet.sklearn import GlassnetClassifier
    X, y = load_iris(return_X_y=True)
    clf = GlassnetClassifier(hidden_layer_sizes=(4,), epochs=1, random_state=0, alpha=0.1, batch_size=batch_size)
    # was: ZeroDivisionError (0), "L2: l2 must be ... >= 0" (-5), "'<' not supported ..." TypeError ("32")
    with pytest.raises(ValueError, match=r"batch_size: expected a positive integer"):
        clf.fit(X, y)


@pytest.mark.parametrize("fraction", [np.float32(0.25), np.float16(0.5)])
def test_datasets_take_a_numpy_test_size(fraction):
    pytest.importorskip("sklearn")
    from glassnet import datasets
    # was: scikit-learn's InvalidParameterError about train_test_split's test_size
    (X, y), (Xt, yt) = datasets.moons(n_samples=100, test_size=fraction)
    assert len(Xt) == int(np.ceil(100 * float(fraction))) and len(X) + len(Xt) == 100
    (_, _), (Xd, _) = datasets.digits(test_size=fraction)
    assert len(Xd) == int(np.ceil(1797 * float(fraction)))


def test_dask_sweep_refuses_an_ascending_that_is_not_a_bool():
    pytest.importorskip("dask")
    import glassnet as gn
    from glassnet.dask import sweep
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 2)), (rng.random(40) > 0.5).astype(int)

    def build(units):
        model = gn.Sequential([gn.layers.Dense(units, activation="sigmoid", input_dim=2)], seed=0)
        model.compile(loss="binary_crossentropy", optimizer="sgd")
        return model
    # "no" is truthy: it sorted ascending, the opposite of what was asked, without a word
    with pytest.raises(TypeError, match=r"ascending: expected True or False, got 'no'"):
        sweep(build, {"units": [1]}, X, y, fit_kwargs={"epochs": 1}, scheduler="synchronous", ascending="no")
    results = sweep(build, {"units": [1]}, X, y, fit_kwargs={"epochs": 1}, scheduler="synchronous",
                    ascending=np.bool_(False))
    assert len(results) == 1


def test_sweep_names_an_unknown_scheduler():
    pytest.importorskip("dask")
    from glassnet.dask import sweep

    def build(units=2):
        model = gn.Sequential([gn.layers.Dense(units, input_shape=(2,)), gn.layers.Dense(1)], seed=0)
        model.compile(loss="mse", optimizer="sgd")
        return model

    x = np.zeros((4, 2), np.float32)
    with pytest.raises(ValueError, match=r"scheduler: expected one of Dask's local schedulers .*got 'nope'"):
        sweep(build, {"units": [2]}, x, x[:, :1], scheduler="nope")
