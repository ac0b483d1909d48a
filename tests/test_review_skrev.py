"""Review of glassnet.sklearn: pickling a fitted estimator whatever its optimizer, MLPClassifier's
activation names, and scikit-learn's wording for too few samples."""
import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn")

import glassnet as gn                                                   # noqa: E402
from glassnet.sklearn import GlassnetClassifier, GlassnetRegressor      # noqa: E402


class _Constant(gn.optimizers.schedules.LearningRateSchedule):
    """A learning-rate schedule of one's own (not registered): no config can name it."""

    def __call__(self, step):
        return 0.01


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    return X, (X[:, 0] > 0).astype(int)


@pytest.mark.parametrize("cls", [GlassnetClassifier, GlassnetRegressor])
def test_a_fitted_estimator_with_an_own_schedule_pickles(data, cls):
    # fit worked, but pickle (joblib.dump, cross_validate(return_estimator=True, n_jobs=2)) failed
    # afterwards: the network was pickled with its compile settings, which cannot name the schedule
    X, y = data
    est = cls(hidden_layer_sizes=(4,), epochs=2, random_state=0,
              optimizer=gn.optimizers.Adam(learning_rate=_Constant())).fit(X, y)
    copy = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(copy.predict(X), est.predict(X))
    # the rebuilt network is compiled as fit compiled it: with the estimator's loss and optimizer
    assert type(copy.model_.loss) is type(est.model_.loss)
    assert isinstance(copy.model_.optimizer, gn.optimizers.Adam)
    assert isinstance(copy.model_.optimizer.schedule, _Constant)
    copy.model_.fit(X, y if cls is GlassnetClassifier else y.reshape(-1, 1), epochs=1, verbose=0)


@pytest.mark.parametrize("mlp, glassnet", [("logistic", "sigmoid"), ("identity", "linear")])
def test_mlpclassifiers_activation_names_are_taken(data, mlp, glassnet):
    # the README says the activation follows MLPClassifier's: its "logistic" and "identity" were refused
    X, y = data
    ours = GlassnetClassifier(hidden_layer_sizes=(4,), epochs=2, random_state=0, activation=mlp).fit(X, y)
    theirs = GlassnetClassifier(hidden_layer_sizes=(4,), epochs=2, random_state=0, activation=glassnet).fit(X, y)
    assert ours.activation == mlp                      # stored as given (clone relies on it)
    np.testing.assert_array_equal(ours.predict_proba(X), theirs.predict_proba(X))


def test_a_validation_fraction_of_one_sample_says_n_samples(data):
    # scikit-learn's check_fit2d_1sample wants "n_samples=1" (or "1 sample") in the message
    X, y = data
    with pytest.raises(ValueError, match="validation_fraction.*n_samples=1"):
        GlassnetRegressor(validation_fraction=0.1, epochs=1).fit(X[:1], y[:1])
