"""Review of the learner-facing tools (plot): decision boundaries of scikit-learn classifiers and of
models with several outputs."""
import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="needs the plot extra: pip install 'glassnet[plot]'")
pytest.importorskip("sklearn")
import glassnet as gn  # noqa: E402
from glassnet import layers as L, plot  # noqa: E402
from glassnet.sklearn import GlassnetClassifier  # noqa: E402


@pytest.fixture
def three_classes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)


def test_decision_boundary_of_a_multiclass_sklearn_classifier_uses_its_probabilities(three_classes, tmp_path):
    # GlassnetClassifier.predict gives labels (0, 1, 2), which were shaded as the probabilities of one
    # sigmoid and refused with "a model with one output separates 2 classes"
    X, y = three_classes
    clf = GlassnetClassifier(hidden_layer_sizes=(8,), epochs=3, random_state=0).fit(X, y)
    plot.decision_boundary(clf, X, y, tmp_path / "b.png", resolution=10)
    assert (tmp_path / "b.png").stat().st_size > 0
    Z, k = plot._surface(clf, np.asarray(X), (60,))
    assert k == 3 and np.array_equal(Z, clf.predict(X))


def test_decision_boundary_of_a_binary_sklearn_classifier_is_shaded_by_probability(three_classes):
    X, y = three_classes
    y = (y > 0).astype(int)
    clf = GlassnetClassifier(hidden_layer_sizes=(8,), epochs=3, random_state=0).fit(X, y)
    Z, k = plot._surface(clf, np.asarray(X), (60,))
    assert k == 2 and Z.dtype.kind == "f"
    np.testing.assert_allclose(Z, clf.predict_proba(X)[:, 1], rtol=1e-6)


def test_decision_boundary_of_a_model_with_two_outputs_is_a_clear_error(three_classes):
    X, y = three_classes
    inputs = gn.Input((2,))
    hidden = L.Dense(4)(inputs)
    model = gn.Model(inputs, [L.Dense(1, activation="sigmoid")(hidden), L.Dense(3, activation="softmax")(hidden)])
    with pytest.raises(ValueError, match="model: .*2 outputs"):
        plot.decision_boundary(model, X, y > 0, resolution=10)

