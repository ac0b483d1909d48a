"""glassnet.wrappers against Keras 3.15's keras.wrappers: the same data, the same model-building
function written once for each library and the same initial weights, so predictions, scores and
transforms agree to float32 rounding; label encoding, shapes, errors, warm_start, fit_kwargs, and
scikit-learn's machinery (clone, Pipeline, GridSearchCV, cross_val_score, its estimator checks)."""
import inspect
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="scikit-learn not installed: pip install 'glassnet[sklearn]'")

from sklearn.base import clone                                              # noqa: E402
from sklearn.datasets import make_classification, make_regression          # noqa: E402
from sklearn.exceptions import NotFittedError                               # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score          # noqa: E402
from sklearn.pipeline import make_pipeline                                  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler            # noqa: E402

import glassnet as gn                                                       # noqa: E402
from glassnet.wrappers import SKLearnClassifier, SKLearnRegressor, SKLearnTransformer   # noqa: E402

QUIET = {"epochs": 5, "batch_size": 16, "shuffle": False, "verbose": 0}


def initial_weights(n_in, n_hidden, n_out, seed=0):
    """One set of starting weights for both libraries, Dense's (in, out) kernel layout in both."""
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 0.5, (n_in, n_hidden)).astype(np.float32), np.zeros(n_hidden, np.float32),
            rng.normal(0, 0.5, (n_hidden, n_out)).astype(np.float32), np.full(n_out, 0.1, np.float32)]


def glassnet_model(X, y, loss, activation, hidden=8, lr=0.05):
    """The model-building function, glassnet's: a ReLU layer and an output sized from y."""
    model = gn.Sequential([gn.layers.Dense(hidden, activation="relu", input_dim=X.shape[1]),
                           gn.layers.Dense(y.shape[1], activation=activation)], seed=0)
    model.compile(loss=loss, optimizer=gn.optimizers.SGD(learning_rate=lr))
    model.set_weights(initial_weights(X.shape[1], hidden, y.shape[1]))
    return model


def keras_model_builder(keras):
    def keras_model(X, y, loss, activation, hidden=8, lr=0.05):
        """The same function, Keras': same layers, loss, optimizer and starting weights."""
        model = keras.Sequential([keras.Input((X.shape[1],)), keras.layers.Dense(hidden, activation="relu"),
                                  keras.layers.Dense(y.shape[1], activation=activation)])
        model.compile(loss=loss, optimizer=keras.optimizers.SGD(learning_rate=lr))
        model.set_weights(initial_weights(X.shape[1], hidden, y.shape[1]))
        return model
    return keras_model


def both(keras, cls_name, **model_kwargs):
    """(glassnet's, Keras') wrapper of the same kind around the same function."""
    ours = getattr(gn.wrappers, cls_name)(glassnet_model, model_kwargs=model_kwargs, fit_kwargs=dict(QUIET))
    theirs = getattr(keras.wrappers, cls_name)(keras_model_builder(keras), model_kwargs=model_kwargs,
                                               fit_kwargs=dict(QUIET))
    return ours, theirs


def classification(n_classes, labels=None, n=90):
    X, y = make_classification(n_samples=n, n_features=5, n_informative=3, n_redundant=0, n_classes=n_classes,
                               n_clusters_per_class=1, random_state=0)
    return X, (np.asarray(labels)[y] if labels is not None else y)


CLASSIFIER = {"loss": "categorical_crossentropy", "activation": "softmax"}
REGRESSOR = {"loss": "mse", "activation": "linear"}


def quiet_keras_predict(keras):
    """Keras' wrappers call predict with its progress bar: silence it for the test's output (turned
    back on after the test by ``keras_logging_restored``)."""
    keras.utils.disable_interactive_logging()


@pytest.fixture(autouse=True)
def keras_logging_restored():
    """Keras' interactive logging is a process-wide switch: left off, later tests of Keras' printed
    lines (test_callbacks' EarlyStopping and ModelCheckpoint ones) read nothing on stdout."""
    yield
    keras = sys.modules.get("keras")
    if keras is not None:
        keras.utils.enable_interactive_logging()


# -- Keras parity ------------------------------------------------------------------------------------

def test_constructor_signatures_and_methods_are_keras(keras):
    for name in ("SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer"):
        ours, theirs = getattr(gn.wrappers, name), getattr(keras.wrappers, name)
        assert inspect.signature(ours.__init__) == inspect.signature(theirs.__init__)
        assert inspect.signature(ours.fit) == inspect.signature(theirs.fit)
        for method in ("fit", "predict", "score", "get_params", "set_params", "decision_function", "transform",
                       "fit_transform", "predict_proba"):
            # the same public methods: Keras' classifier has decision_function, no predict_proba
            assert hasattr(ours, method) == hasattr(theirs, method), (name, method)


@pytest.mark.parametrize("labels", [None, ["cat", "dog"], [3, -1, 7]])
def test_classifier_matches_keras(keras, labels):
    quiet_keras_predict(keras)
    X, y = classification(2 if labels is not None and len(labels) == 2 else 3, labels)
    ours, theirs = both(keras, "SKLearnClassifier", **CLASSIFIER)
    ours.fit(X, y)
    theirs.fit(X, y)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    assert ours.classes_.dtype == theirs.classes_.dtype
    # two classes are two one-hot columns in both, as Keras' OneHotEncoder makes them
    assert ours.decision_function(X).shape == theirs.decision_function(X).shape == (len(X), len(ours.classes_))
    np.testing.assert_allclose(ours.decision_function(X), theirs.decision_function(X), rtol=1e-4, atol=2e-6)
    np.testing.assert_allclose(ours.history_.history["loss"], theirs.history_.history["loss"], rtol=1e-5)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert ours.predict(X).dtype == theirs.predict(X).dtype
    assert ours.score(X, y) == theirs.score(X, y)
    assert ours.n_features_in_ == theirs.n_features_in_ == X.shape[1]


def test_classifier_encodes_labels_one_hot_as_keras():
    """The callable receives y one-hot in the order of classes_, as Keras' OneHotEncoder gives it."""
    seen = {}

    def build(X, y):
        seen["y"] = y
        return glassnet_model(X, y, **CLASSIFIER)

    X, y = classification(3, ["b", "c", "a"])
    clf = SKLearnClassifier(build, fit_kwargs={"epochs": 1, "verbose": 0}).fit(X, y)
    expected = OneHotEncoder(sparse_output=False).fit_transform(y.reshape(-1, 1))
    np.testing.assert_array_equal(seen["y"], expected)
    np.testing.assert_array_equal(clf.classes_, ["a", "b", "c"])
    assert seen["y"].dtype == np.float32                 # no float64 targets for a float32 model


def test_regressor_matches_keras(keras):
    quiet_keras_predict(keras)
    X, y = make_regression(n_samples=80, n_features=4, noise=0.1, random_state=0)
    y = y / y.std()
    ours, theirs = both(keras, "SKLearnRegressor", lr=0.01, **REGRESSOR)
    ours.fit(X, y)
    theirs.fit(X, y)
    assert ours.predict(X).shape == theirs.predict(X).shape == (len(X),)
    assert ours.predict(X).dtype == theirs.predict(X).dtype == np.float32
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.score(X, y), theirs.score(X, y), rtol=1e-5)


def test_transformer_matches_keras(keras):
    quiet_keras_predict(keras)
    X, y = make_regression(n_samples=60, n_features=4, noise=0.1, random_state=1)
    y = y / y.std()
    ours, theirs = both(keras, "SKLearnTransformer", lr=0.01, **REGRESSOR)
    out, expected = ours.fit(X, y).transform(X), theirs.fit(X, y).transform(X)
    assert out.shape == expected.shape == (len(X), 1)      # predict's output, not squeezed, as Keras'
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.fit_transform(X, y), theirs.fit_transform(X, y), rtol=1e-4, atol=1e-5)


def _error(call):
    try:
        call()
    except Exception as exc:      # noqa: BLE001 - the type is what is compared
        return exc
    return None


def uncompiled_glassnet(X, y):
    return gn.Sequential([gn.layers.Dense(y.shape[1], input_dim=X.shape[1])])


@pytest.mark.parametrize("case", ["one class", "continuous labels", "2-D labels", "uncompiled", "not fitted",
                                  "transformer without y", "fewer labels than samples"])
def test_refusals_are_keras_errors(keras, case):
    """The same refusals as Keras 3.15, of the same type (or a subclass: glassnet names the argument)."""
    X, y = classification(3)

    def keras_uncompiled(X, y):
        return keras.Sequential([keras.Input((X.shape[1],)), keras.layers.Dense(y.shape[1])])

    calls = {
        "one class": lambda lib, build: lib.SKLearnClassifier(build, fit_kwargs=QUIET).fit(X, np.zeros(len(X))),
        "continuous labels": lambda lib, build: lib.SKLearnClassifier(build, fit_kwargs=QUIET).fit(X, X[:, 0]),
        "2-D labels": lambda lib, build: lib.SKLearnClassifier(build, fit_kwargs=QUIET).fit(X, np.c_[y, y]),
        "uncompiled": lambda lib, build: lib.SKLearnRegressor(build[1]).fit(X, X[:, 0]),
        "not fitted": lambda lib, build: lib.SKLearnClassifier(build).predict(X),
        "transformer without y": lambda lib, build: lib.SKLearnTransformer(build).fit(X),
        "fewer labels than samples": lambda lib, build: lib.SKLearnClassifier(build).fit(X, y[:-1]),
    }
    ours_build = (uncompiled_glassnet, uncompiled_glassnet) if case == "uncompiled" else \
        lambda X, y: glassnet_model(X, y, **CLASSIFIER)
    keras_build = (keras_uncompiled, keras_uncompiled) if case == "uncompiled" else \
        lambda X, y: keras_model_builder(keras)(X, y, **CLASSIFIER)
    theirs = _error(lambda: calls[case](keras.wrappers, keras_build))
    ours = _error(lambda: calls[case](gn.wrappers, ours_build))
    assert theirs is not None and ours is not None
    assert isinstance(ours, type(theirs)), (ours, theirs)
    if case == "uncompiled":
        assert isinstance(ours, ValueError) and "compiled" in str(ours)
    if case in ("one class", "continuous labels", "2-D labels"):
        assert "y" in str(ours)


# -- glassnet's own checks of bad input --------------------------------------------------------------

@pytest.mark.parametrize("params, error, words", [
    ({"model": 3}, TypeError, "model: expected a compiled glassnet"),
    ({"model": lambda X, y: "not a model"}, TypeError, "model: the callable must return"),
    ({"model_kwargs": ["hidden", 4]}, TypeError, "model_kwargs: expected None or a dict"),
    ({"fit_kwargs": "epochs=3"}, TypeError, "fit_kwargs: expected None or a dict"),
    ({"warm_start": "yes"}, TypeError, "warm_start: expected True or False"),
])
def test_bad_parameters_are_refused_by_name(params, error, words):
    X, y = classification(2)
    est = SKLearnClassifier(**{"model": lambda X, y: glassnet_model(X, y, **CLASSIFIER), **params})
    with pytest.raises(error, match=words):
        est.fit(X, y)


def test_unknown_label_type_is_refused():
    X, _ = classification(2)
    y = np.array([{"a": 1}] * len(X), dtype=object)
    with pytest.raises(ValueError, match="y: Unknown label type"):
        SKLearnClassifier(lambda X, y: glassnet_model(X, y, **CLASSIFIER)).fit(X, y)


def test_a_model_without_one_output_per_class_is_refused():
    X, y = classification(3)

    def one_unit(X, y):
        model = gn.Sequential([gn.layers.Dense(1, input_dim=X.shape[1])], seed=0)
        model.compile(loss="mse", optimizer="sgd")
        return model

    clf = SKLearnClassifier(one_unit, fit_kwargs={"epochs": 1, "verbose": 0})
    with pytest.raises(ValueError):        # the one-hot targets (n, 3) do not fit one output unit
        clf.fit(X, y)


# -- fit_kwargs, warm_start, models given as instances ------------------------------------------------

def test_fit_keywords_win_and_leave_fit_kwargs_unchanged():
    X, y = classification(3)
    fit_kwargs = {"epochs": 2, "verbose": 0}
    clf = SKLearnClassifier(glassnet_model, model_kwargs=CLASSIFIER, fit_kwargs=fit_kwargs)
    assert clf.epoch_ == 0
    clf.fit(X, y, epochs=4)
    assert clf.epoch_ == 4 and len(clf.history_.history["loss"]) == 4
    assert fit_kwargs == {"epochs": 2, "verbose": 0} and clf.fit_kwargs is fit_kwargs   # Keras' update()s it
    clf.fit(X, y)
    assert clf.epoch_ == 2


def test_warm_start_continues_training_as_one_model_would():
    X, y = classification(3)
    clf = SKLearnClassifier(glassnet_model, warm_start=True, model_kwargs=CLASSIFIER, fit_kwargs=QUIET)
    first = clf.fit(X, y).model_
    second = clf.fit(X, y).model_
    assert second is first
    # the same as one model trained twice with the same optimizer
    model = glassnet_model(X, clf._process_target(y), **CLASSIFIER)
    encoded = np.eye(3, dtype=np.float32)[y]
    model.fit(X, encoded, **QUIET)
    model.fit(X, encoded, **QUIET)
    np.testing.assert_array_equal(clf.decision_function(X), model.predict(X))
    # without warm_start each fit starts again from the builder's weights
    cold = SKLearnClassifier(glassnet_model, model_kwargs=CLASSIFIER, fit_kwargs=QUIET)
    a = cold.fit(X, y).decision_function(X)
    b = cold.fit(X, y).decision_function(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, clf.decision_function(X))


def test_model_instance_is_cloned_and_compiled_alike_unless_warm_start():
    X, y = classification(3)
    given = glassnet_model(X, np.eye(3)[y], **CLASSIFIER)
    before = [w.copy() for w in given.get_weights()]
    clf = SKLearnClassifier(given, fit_kwargs=QUIET).fit(X, y)
    assert clf.model_ is not given
    for w, b in zip(given.get_weights(), before):
        np.testing.assert_array_equal(w, b)                    # the instance given is not trained
    assert clf.model_.get_compile_config() == given.get_compile_config()
    warm = SKLearnClassifier(given, warm_start=True, fit_kwargs=QUIET).fit(X, y)
    assert warm.model_ is given
    with pytest.raises(ValueError, match="compiled"):
        SKLearnClassifier(uncompiled_glassnet(X, np.eye(3))).fit(X, y)


def test_fit_keywords_reach_model_fit():
    X, y = classification(3)
    w = np.ones(len(X))
    clf = SKLearnClassifier(glassnet_model, model_kwargs=CLASSIFIER, fit_kwargs=QUIET)
    # full batch: the first epoch's loss is the starting weights' one, which doubled weights double
    weighted = clf.fit(X, y, sample_weight=w * 2, batch_size=None).history_.history["loss"]
    plain = clf.fit(X, y, batch_size=None).history_.history["loss"]
    assert weighted[0] == pytest.approx(2 * plain[0], rel=1e-6)
    clf.fit(X, y, validation_data=(X, np.eye(3)[y]))
    assert "val_loss" in clf.history_.history


# -- scikit-learn's machinery ------------------------------------------------------------------------

def test_get_set_params_clone_and_pickle():
    X, y = classification(3)
    clf = SKLearnClassifier(glassnet_model, model_kwargs=CLASSIFIER, fit_kwargs=QUIET)
    assert clf.get_params() == {"model": glassnet_model, "warm_start": False, "model_kwargs": CLASSIFIER,
                                "fit_kwargs": QUIET}
    assert clf.set_params(warm_start=True) is clf and clf.warm_start
    twin = clone(clf)
    # fit_kwargs survive clone (Keras 3.15's __sklearn_clone__ drops them, so GridSearchCV trained 1 epoch)
    assert twin.get_params() == clf.get_params() and twin.fit_kwargs is not clf.fit_kwargs
    clf.fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.decision_function(X), clf.decision_function(X))
    with pytest.raises(NotFittedError):
        clone(clf).predict(X)


def test_pipeline_grid_search_and_cross_validation():
    X, y = classification(3, n=120)
    clf = SKLearnClassifier(glassnet_model, model_kwargs=CLASSIFIER, fit_kwargs={"epochs": 30, "verbose": 0})
    pipe = make_pipeline(StandardScaler(), clf).fit(X, y)
    assert pipe.score(X, y) > 0.8
    grid = GridSearchCV(clf, {"model_kwargs": [dict(CLASSIFIER, hidden=2), dict(CLASSIFIER, hidden=16)],
                              "fit_kwargs": [{"epochs": 1, "verbose": 0}, {"epochs": 30, "verbose": 0}]}, cv=3)
    grid.fit(X, y)
    assert grid.best_params_["fit_kwargs"]["epochs"] == 30
    assert grid.best_estimator_.epoch_ == 30
    Xr, yr = make_regression(n_samples=90, n_features=4, noise=0.1, random_state=0)
    scores = cross_val_score(SKLearnRegressor(glassnet_model, model_kwargs=dict(REGRESSOR, lr=0.05),
                                              fit_kwargs={"epochs": 60, "verbose": 0}), Xr, yr / yr.std(), cv=3)
    assert scores.shape == (3,) and (scores > 0.9).all()        # R² of a nearly linear problem


def test_regressor_and_transformer_take_several_targets():
    """Keras' docstrings promise y of shape (n_samples, n_outputs); Keras 3.15's check_X_y refuses it."""
    X, y = make_regression(n_samples=60, n_features=4, n_targets=2, random_state=0)
    reg = SKLearnRegressor(glassnet_model, model_kwargs=REGRESSOR, fit_kwargs=QUIET).fit(X, y / y.std())
    assert reg.predict(X).shape == (60, 2)
    auto = SKLearnTransformer(glassnet_model, model_kwargs=dict(REGRESSOR, hidden=3), fit_kwargs=QUIET)
    assert auto.fit(X, X).transform(X).shape == (60, 4)       # an autoencoder of X


def _sklearn_checks():
    from sklearn.utils.estimator_checks import parametrize_with_checks
    kwargs = {"fit_kwargs": {"epochs": 20, "verbose": 0}}
    adam = {"activation": "softmax", "loss": "categorical_crossentropy", "hidden": 20, "lr": 0.05}
    estimators = [SKLearnClassifier(glassnet_model, model_kwargs=adam, **kwargs),
                  SKLearnRegressor(glassnet_model, model_kwargs=dict(REGRESSOR, hidden=20, lr=0.01), **kwargs),
                  SKLearnTransformer(glassnet_model, model_kwargs=dict(REGRESSOR, lr=0.01), **kwargs)]
    # as Keras 3.15's own test lists them: decision_function gives the model's outputs, one column per
    # class (two for a binary problem), where scikit-learn expects one signed score for two classes
    keras_rule = "decision_function gives the model's (n_samples, n_classes) outputs, as Keras'"
    expected = {"SKLearnClassifier": {"check_classifiers_train": keras_rule, "check_classifiers_classes": keras_rule},
                "SKLearnRegressor": {"check_regressor_multioutput": "predictions in the model's float32, as Keras'"},
                "SKLearnTransformer": {}}
    return parametrize_with_checks(estimators, expected_failed_checks=lambda est: expected[type(est).__name__])


if tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 6):
    @_sklearn_checks()
    def test_sklearn_estimator_checks(estimator, check):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check(estimator)


def test_import_glassnet_leaves_scikit_learn_and_wrappers_unloaded():
    code = ("import sys, glassnet; assert 'sklearn' not in sys.modules and 'glassnet.wrappers' not in sys.modules;"
            "glassnet.wrappers.SKLearnClassifier; assert 'sklearn' in sys.modules; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
