"""Review: scikit-learn's MLP examples ported to glassnet.sklearn, beside MLPClassifier / MLPRegressor."""
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn not installed: pip install 'glassnet[sklearn]'")

from sklearn.datasets import load_iris, make_moons                    # noqa: E402
from sklearn.neural_network import MLPClassifier                      # noqa: E402

from glassnet.sklearn import GlassnetClassifier, GlassnetRegressor    # noqa: E402


@pytest.mark.parametrize("Estimator", [GlassnetClassifier, GlassnetRegressor])
def test_mlpclassifiers_batch_size_auto_is_min_200_n_samples(Estimator):
    # MLPClassifier's default batch_size="auto" was refused ("expected a positive integer")
    X, y = make_moons(300, noise=0.2, random_state=0)
    auto = Estimator(hidden_layer_sizes=(4,), epochs=2, random_state=0, alpha=1.0, batch_size="auto").fit(X, y)
    same = Estimator(hidden_layer_sizes=(4,), epochs=2, random_state=0, alpha=1.0, batch_size=200).fit(X, y)
    for a, b in zip(auto.model_.get_weights(), same.model_.get_weights()):
        np.testing.assert_array_equal(a, b)
    # fewer samples than 200: one full batch, so the penalty divides by n_samples as MLPClassifier's
    small = Estimator(hidden_layer_sizes=(4,), epochs=1, random_state=0, alpha=1.0, batch_size="auto",
                      validation_fraction=0.5).fit(X[:100], y[:100])
    scale = Estimator._loss_scale
    assert small.model_.layers[0].regularizers["kernel"].l2 == pytest.approx(1.0 / (2 * 50 * scale))
    with pytest.raises(ValueError, match=r"batch_size: expected a positive integer, None or 'auto', got 'full'"):
        Estimator(batch_size="full").fit(X, y)


def test_batch_size_auto_trains_as_mlpclassifier_from_the_same_weights():
    # full batch (150 < 200), SGD without momentum: the same steps and losses as MLPClassifier's
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    glass = GlassnetClassifier(hidden_layer_sizes=(5,), activation="tanh", optimizer="sgd", learning_rate=0.1,
                               batch_size="auto", epochs=3, dtype="float64", random_state=0, alpha=0.5)
    glass.fit(X, y)
    init = GlassnetClassifier(**{**glass.get_params(), "epochs": 1, "learning_rate": 1e-300}).fit(X, y)
    mlp = MLPClassifier(hidden_layer_sizes=(5,), activation="tanh", solver="sgd", learning_rate_init=0.1,
                        momentum=0.0, batch_size="auto", max_iter=1, shuffle=False, alpha=0.5,
                        warm_start=True, random_state=0)
    with warnings.catch_warnings():                       # ConvergenceWarning: max_iter=1
        warnings.simplefilter("ignore")
        mlp.fit(X, y)
    w = init.model_.get_weights()
    mlp.coefs_, mlp.intercepts_ = [w[0].copy(), w[2].copy()], [w[1].copy(), w[3].copy()]
    losses = []
    for _ in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mlp.fit(X, y)
        losses.append(mlp.loss_)
    np.testing.assert_allclose(glass.history_["loss"], losses, rtol=1e-12)
    theirs = [mlp.coefs_[0], mlp.intercepts_[0], mlp.coefs_[1], mlp.intercepts_[1]]
    for a, b in zip(glass.model_.get_weights(), theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("rate", [np.inf, float("nan"), 0.0, -1.0, 10 ** 400])
def test_a_learning_rate_that_is_not_a_positive_finite_number_is_refused_by_the_wrappers_name(rate):
    from glassnet.sklearn import GlassnetClassifier
    X, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"^learning_rate must be a finite number > 0, got"):
        GlassnetClassifier(learning_rate=rate, epochs=1).fit(X, y)
