"""The scikit-learn wrappers inside scikit-learn's meta-estimators (review: skmeta)."""
import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.datasets import load_iris                      # noqa: E402
from sklearn.ensemble import BaggingClassifier, BaggingRegressor  # noqa: E402
from sklearn.preprocessing import StandardScaler             # noqa: E402

from glassnet.sklearn import GlassnetClassifier, GlassnetRegressor  # noqa: E402

FAST = dict(hidden_layer_sizes=(8,), optimizer="sgd", learning_rate=0.05, epochs=5, random_state=0)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("Estimator", [GlassnetClassifier, GlassnetRegressor])
def test_a_sample_of_weight_zero_is_absent(iris, Estimator):
    # scikit-learn's meaning of a zero weight; Keras' rule (the loss divided by the batch's number
    # of samples) let such samples fill batch slots and shrink the others' steps and the reported loss
    X, y = iris
    w = np.where(np.arange(len(y)) % 3 == 0, 0.0, 1.0)
    weighted = Estimator(**FAST).fit(X, y, sample_weight=w)
    subset = Estimator(**FAST).fit(X[w > 0], y[w > 0])
    assert weighted.history_ == subset.history_
    np.testing.assert_array_equal(weighted.predict(X), subset.predict(X))


@pytest.mark.parametrize("Bagging, Estimator", [(BaggingClassifier, GlassnetClassifier),
                                                 (BaggingRegressor, GlassnetRegressor)])
def test_bagging_subsamples_as_a_fit_on_the_drawn_samples(iris, Bagging, Estimator):
    # Bagging subsamples an estimator that takes sample_weight by giving the samples not drawn a
    # weight of 0 (MLPClassifier's members equal fits on the drawn samples, bit for bit)
    X, y = iris
    bag = Bagging(Estimator(**FAST), n_estimators=1, max_samples=0.3, bootstrap=False, random_state=0).fit(X, y)
    member, drawn = bag.estimators_[0], np.sort(bag.estimators_samples_[0])    # X[w > 0] keeps the order of X
    alone = Estimator(**{**FAST, "random_state": member.random_state}).fit(X[drawn], y[drawn])
    assert member.history_ == alone.history_
    np.testing.assert_array_equal(member.predict(X), alone.predict(X))
