"""glassnet.utils.set_random_seed, Keras' keras.utils.set_random_seed: a script whose models and
layers take no seed runs the same every time after it; seeded ones are untouched."""
import random

import numpy as np
import pytest

import glassnet as gn
from glassnet import _seeding
from glassnet.layers import Dense, Dropout


@pytest.fixture(autouse=True)
def _fresh_root():
    """Each test starts, and leaves the next one, without a root (entropy from the OS)."""
    _seeding._root = None
    yield
    _seeding._root = None


def _script():
    """What a tutorial does after set_random_seed: unseeded models, a layer alone, a shuffled fit."""
    first = gn.Sequential([Dense(4, activation="relu", input_dim=3), Dropout(0.5), Dense(1)])
    first.compile("mse", "sgd")
    history = first.fit(np.arange(30.0).reshape(10, 3) / 30, np.ones(10), batch_size=4, epochs=2, verbose=0)
    second = gn.Sequential([Dense(4, input_dim=3)])
    alone = Dense(2)(np.ones((1, 3)))
    return [w.copy() for w in first.get_weights()], history.history["loss"], second.get_weights()[0].copy(), alone


def test_a_script_without_seeds_runs_the_same_after_it():
    gn.utils.set_random_seed(812)
    once = _script()
    python, legacy = random.random(), np.random.rand()
    gn.utils.set_random_seed(812)
    again = _script()
    assert (random.random(), np.random.rand()) == (python, legacy)          # Python's and NumPy's globals too
    for a, b in zip(once[0], again[0]):
        np.testing.assert_array_equal(a, b)
    assert once[1] == again[1]
    np.testing.assert_array_equal(once[2], again[2])
    np.testing.assert_array_equal(once[3], again[3])
    # each model draws its own: the second is not the first again
    assert not np.array_equal(once[0][0][:, :4], once[2])
    gn.utils.set_random_seed(813)
    assert not np.array_equal(_script()[2], once[2])


def test_seeded_models_are_untouched_and_without_it_each_run_differs():
    seeded = gn.Sequential([Dense(4, input_dim=3)], seed=0).get_weights()[0]
    gn.utils.set_random_seed(1)
    np.testing.assert_array_equal(gn.Sequential([Dense(4, input_dim=3)], seed=0).get_weights()[0], seeded)
    _seeding._root = None
    assert not np.array_equal(_script()[2], _script()[2])


@pytest.mark.parametrize("seed", [None, 1.5, -1, True, "7"])
def test_what_is_not_a_seed_is_refused(seed):
    with pytest.raises(ValueError, match="set_random_seed: expected an integer >= 0"):
        gn.utils.set_random_seed(seed)


def test_the_scikit_learn_wrappers_validation_split_follows_it():
    pytest.importorskip("sklearn", reason="scikit-learn not installed")
    from glassnet.sklearn import GlassnetClassifier
    X = np.random.default_rng(0).normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)

    def run():
        gn.utils.set_random_seed(5)
        clf = GlassnetClassifier(hidden_layer_sizes=(8,), epochs=3, validation_fraction=0.3).fit(X, y)
        return clf.predict_proba(X)
    np.testing.assert_array_equal(run(), run())
