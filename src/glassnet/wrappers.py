"""Keras' scikit-learn wrappers (``keras.wrappers``): ``SKLearnClassifier``, ``SKLearnRegressor`` and
``SKLearnTransformer`` around a glassnet model that you build and compile yourself.

``model`` is a compiled ``Sequential`` (or functional ``Model``), or a callable
``model(X=X, y=y, **model_kwargs)`` returning one, so the network can be sized from the data:
``X`` of shape (n_samples, n_features) and ``y`` as the network trains on it, (n_samples, n_classes)
one-hot for the classifier, (n_samples, n_outputs) for the others (a 1-D ``y`` as one column).
``fit_kwargs`` (and keywords given to ``fit``, which win) go to ``model.fit``.

>>> import glassnet as gn
>>> from glassnet.wrappers import SKLearnClassifier
>>> def build(X, y, hidden=16):
...     model = gn.Sequential([gn.layers.Dense(hidden, activation="relu", input_dim=X.shape[1]),
...                            gn.layers.Dense(y.shape[1], activation="softmax")], seed=0)
...     model.compile(loss="categorical_crossentropy", optimizer="adam")
...     return model
>>> clf = SKLearnClassifier(build, model_kwargs={"hidden": 32}, fit_kwargs={"epochs": 20, "verbose": 0})
>>> clf.fit(X, y).predict(X).shape                                              # doctest: +SKIP
(150,)

For scikit-learn's ``MLPClassifier``-like parameters (no model to write), see ``glassnet.sklearn``.
Needs scikit-learn: ``pip install 'glassnet[sklearn]'``.
"""
import numpy as np

# glassnet.sklearn raises the ImportError naming the extra when scikit-learn is missing
from .sklearn import _FLOAT_DTYPES, _validate_data
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from ._validation import check_flag, shown
from .model import Sequential
from .models import clone_model

__all__ = ["SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer"]


class ModelNotCompiledError(RuntimeError, ValueError):
    """The model has no loss or no optimizer: a RuntimeError, as Keras raises, and a ValueError,
    as glassnet's other refusals of bad input."""


class SKLBase(BaseEstimator):
    """What the three wrappers share (Keras' ``SKLBase``).

    Parameters
    ----------
    model : glassnet Sequential or Model, or callable
        A compiled model (cloned with new weights and compiled alike for every fit, unless
        ``warm_start``), or ``model(X=X, y=y, **model_kwargs)`` returning one.
    warm_start : bool, default False
        Reuse the model of the previous fit (its weights and its optimizer's state) instead of a new one;
        the first fit of a given instance trains that instance itself.
    model_kwargs : dict or None
        Keywords for a callable ``model``.
    fit_kwargs : dict or None
        Keywords for ``model.fit`` (``epochs``, ``batch_size``, ``verbose``, ...); those given to
        ``fit`` itself win. Neither dict is changed.

    Attributes
    ----------
    model_ : glassnet Sequential or Model
        The fitted model.
    history_ : glassnet.History
        What ``model_.fit`` returned (``history_.history["loss"]``).
    n_features_in_ : int
    """

    def __init__(self, model, warm_start=False, model_kwargs=None, fit_kwargs=None):
        # scikit-learn's rule: store the arguments as given; fit checks them (clone relies on it)
        self.model = model
        self.warm_start = warm_start
        self.model_kwargs = model_kwargs
        self.fit_kwargs = fit_kwargs

    def __sklearn_tags__(self):                   # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True             # a model without a seed draws new weights each fit
        return tags

    def _more_tags(self):                         # scikit-learn < 1.6
        return {"non_deterministic": True}

    @property
    def epoch_(self):
        """Epochs trained so far: 0 before ``fit``, then one past the last epoch of the last fit
        (which counts ``initial_epoch``)."""
        epochs = getattr(getattr(self, "history_", None), "epoch", None)
        return epochs[-1] + 1 if epochs else 0

    def _keywords(self, value, name):
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
            raise TypeError(f"{name}: expected None or a dict of keyword arguments, got {value!r:.100}")
        return dict(value)                        # a copy: the parameter stays as given (clone, GridSearchCV)

    def _get_model(self, X, y):
        """The model to train: the previous one (``warm_start``), a compiled clone of ``model``, or
        ``model(X=X, y=y, **model_kwargs)``, checked to be a compiled glassnet model."""
        model_kwargs = self._keywords(self.model_kwargs, "model_kwargs")
        if check_flag(self.warm_start, "warm_start") and isinstance(getattr(self, "model_", None), Sequential):
            return self.model_
        if isinstance(self.model, Sequential):
            if self.warm_start:
                model = self.model
            else:
                # Keras' clone_model compiles the clone as the original was compiled
                model = clone_model(self.model)
                if self.model.loss is not None:
                    model.compile_from_config(self.model.get_compile_config())
        elif callable(self.model):
            model = self.model(X=X, y=y, **model_kwargs)
            if not isinstance(model, Sequential):
                raise TypeError(f"model: the callable must return a glassnet Sequential or Model, "
                                f"got {type(model).__name__}")
        else:
            raise TypeError(f"model: expected a compiled glassnet Sequential or Model, or a callable "
                            f"model(X, y, **model_kwargs) returning one, got {type(self.model).__name__}")
        if model.loss is None or getattr(model, "optimizer", None) is None:
            raise ModelNotCompiledError("model: the model needs to be compiled, with a loss and an optimizer "
                                        "(model.compile(loss=..., optimizer=...)), got an uncompiled one")
        return model

    # how fit checks y besides X (check_X_y's keywords): numeric targets, one column or several
    _y_checks = {"multi_output": True, "y_numeric": True}

    def fit(self, X, y, **kwargs):
        """Train on X of shape (n_samples, n_features) and y of shape (n_samples,) or (n_samples,
        n_outputs); ``kwargs`` go to ``model.fit`` over ``fit_kwargs``. Returns self."""
        fit_kwargs = {**self._keywords(self.fit_kwargs, "fit_kwargs"), **kwargs}
        X, y = _validate_data(self, X, y, dtype=_FLOAT_DTYPES, **self._y_checks)
        y = self._process_target(y)
        model = self._get_model(X, y)
        self.history_ = model.fit(X, y, **fit_kwargs)
        self.model_ = model
        return self

    def _process_target(self, y):
        """y as the model trains on it: (n_samples, n_outputs), a 1-D y as one column."""
        self._y_ndim = y.ndim
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def _outputs(self, X):
        check_is_fitted(self, "model_")
        return self.model_.predict(_validate_data(self, X, dtype=_FLOAT_DTYPES, reset=False))

    def predict(self, X):
        """The model's predictions for X of shape (n_samples, n_features): (n_samples,) when y was
        1-D and the model has one output column, (n_samples, n_outputs) otherwise."""
        out = self._outputs(X)
        return out[:, 0] if self._y_ndim == 1 and out.ndim == 2 and out.shape[1] == 1 else out


class SKLearnClassifier(ClassifierMixin, SKLBase):
    """A scikit-learn classifier around a glassnet model (Keras' ``keras.wrappers.SKLearnClassifier``).

    Labels of any type; the model trains on them one-hot, shape (n_samples, n_classes) in the order
    of ``classes_`` (two columns for two classes too, as Keras'), so end it in ``n_classes`` units
    (``y.shape[1]`` in a callable) with a softmax and ``categorical_crossentropy``.
    ``predict`` gives the class of each sample's largest output; ``decision_function`` the outputs.
    Parameters and attributes: ``SKLBase``'s, and ``classes_`` of shape (n_classes,).
    """

    _y_checks = {}      # 1-D labels of any type (check_X_y refuses a 2-D y by name)

    def _process_target(self, y):
        kind = type_of_target(y, input_name="y")
        if kind == "unknown":                     # objects that are not labels: scikit-learn's words
            raise ValueError(f"y: Unknown label type {y.dtype} of {shown(y)}")
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"y: only binary and multiclass targets are supported, got a {kind} target")
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) == 1:
            raise ValueError(f"y: a classifier can't train when only one class is present ({self.classes_[0]!r})")
        self._y_ndim = 1
        return np.eye(len(self.classes_), dtype=np.float32)[codes]    # exact 0/1 in any float dtype

    def decision_function(self, X):
        """The model's outputs for X of shape (n_samples, n_features): (n_samples, n_classes)."""
        return self._outputs(X)

    def predict(self, X):
        """The class of each sample's largest output, shape (n_samples,), labels as in ``classes_``."""
        out = self._outputs(X)
        if out.ndim != 2 or out.shape[1] != len(self.classes_):
            raise ValueError(f"model: expected outputs of shape (n_samples, {len(self.classes_)}), one column per "
                             f"class, got {out.shape}")
        return self.classes_[out.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True
        return tags

    def _more_tags(self):
        return {**super()._more_tags(), "poor_score": True}


class SKLearnRegressor(RegressorMixin, SKLBase):
    """A scikit-learn regressor around a glassnet model (Keras' ``keras.wrappers.SKLearnRegressor``).

    The model trains on y as (n_samples, n_outputs), a 1-D y as one column; ``predict`` gives
    (n_samples,) back for a 1-D y. ``score`` is the R² of ``RegressorMixin``.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self):
        return {**super()._more_tags(), "poor_score": True, "multioutput": True}


class SKLearnTransformer(TransformerMixin, SKLBase):
    """A scikit-learn transformer around a glassnet model (Keras' ``keras.wrappers.SKLearnTransformer``):
    ``fit(X, y)`` trains it as the regressor does, ``transform(X)`` is ``model_.predict(X)``, shape
    (n_samples, n_outputs) (an embedding, an autoencoder's code...).
    """

    def transform(self, X):
        """``model_.predict(X)`` for X of shape (n_samples, n_features)."""
        return self._outputs(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self):
        return {**super()._more_tags(), "preserves_dtype": []}
