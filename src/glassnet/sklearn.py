"""scikit-learn estimators backed by a glassnet ``Sequential``: ``GlassnetClassifier``, ``GlassnetRegressor``.

They follow scikit-learn's conventions, so they work in ``Pipeline``, ``GridSearchCV``,
``cross_val_score`` and ``clone``: the constructor stores its arguments unchanged, ``fit`` checks
them and builds a fresh dense network (``model_``) every time.

>>> from glassnet.sklearn import GlassnetClassifier
>>> clf = GlassnetClassifier(hidden_layer_sizes=(16,), epochs=50, random_state=0)
>>> clf.fit(X, y).predict_proba(X).shape                   # doctest: +SKIP
(150, 3)

Needs scikit-learn: ``pip install 'glassnet[sklearn]'``.
"""
import copy
import numbers

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted
except ImportError as exc:                        # glassnet's core needs NumPy only
    raise ImportError("glassnet.sklearn needs scikit-learn: pip install 'glassnet[sklearn]'") from exc

try:                                              # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:                               # older releases: the private method
    def _validate_data(estimator, *args, **kwargs):
        return estimator._validate_data(*args, **kwargs)

from . import _seeding, backend, initializers, losses, optimizers, regularizers
from ._validation import check_flag, check_fraction, check_number, check_positive_int
from .callbacks import EarlyStopping
from .layers import Dense
from .model import Sequential
from .weighting import check_sample_weight

# float32 stays float32 (no copy); anything else becomes float64, then the model casts it once
_FLOAT_DTYPES = (np.float64, np.float32)
# MLPClassifier's names for two of glassnet's activations (its "relu" and "tanh" are glassnet's too)
_MLP_ACTIVATIONS = {"logistic": "sigmoid", "identity": "linear"}


def _seed(random_state):
    """A glassnet seed from scikit-learn's ``random_state``: None, an int, a RandomState or a Generator."""
    if random_state is None:
        return None
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state: expected a non-negative integer, got {random_state!r}")
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31 - 1))
    raise ValueError(f"random_state: expected None, an int, a numpy RandomState or Generator, "
                     f"got {random_state!r}")


def _verbosity(verbose):
    """fit's ``verbose`` from the estimator's: scikit-learn's estimators take a bool
    (``MLPClassifier(verbose=True)``), read as 1 (a progress bar) or 0."""
    return int(verbose) if isinstance(verbose, (bool, np.bool_)) else verbose


class _GlassnetEstimator(BaseEstimator):
    """What the classifier and the regressor share: the parameters, the network and the training."""

    alpha = 0.0     # on the class too: an estimator pickled before alpha existed lacks it
    # scikit-learn's loss over glassnet's (MLPRegressor's squared loss is half the mean squared error)
    _loss_scale = 1.0

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", optimizer="adam", learning_rate=0.001,
                 batch_size=32, epochs=200, kernel_initializer="glorot_uniform", dtype="float32",
                 random_state=None, verbose=0, validation_fraction=0.0, early_stopping=False, patience=10,
                 alpha=0.0):
        # scikit-learn's rule: store the arguments as given; fit validates them (clone relies on it)
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.kernel_initializer = kernel_initializer
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.alpha = alpha

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, (int, np.integer)) else sizes   # MLPClassifier accepts 100
        try:
            sizes = list(sizes)
        except TypeError:
            sizes = None
        if sizes is None or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s <= 0
                                for s in sizes):
            raise ValueError(f"hidden_layer_sizes: expected a tuple of positive integers such as (100,), "
                             f"got {self.hidden_layer_sizes!r}")
        return [int(s) for s in sizes]

    def _make_optimizer(self):
        if isinstance(self.optimizer, optimizers.Optimizer):
            # a fresh copy per fit: Adam's moments must not leak from one fit (or CV fold) to the next
            # (a deep copy, reset: a learning-rate schedule of one's own has no config to copy)
            fresh = copy.deepcopy(self.optimizer)
            fresh.reset()
            return fresh
        if not isinstance(self.optimizer, str) or self.optimizer not in optimizers.OPTIMIZERS:
            raise ValueError(f"optimizer: expected one of {sorted(optimizers.OPTIMIZERS)} or a glassnet "
                             f"Optimizer, got {self.optimizer!r}")
        # a finite number > 0 (an int past float's range, 10**400, is not)
        lr = check_number(self.learning_rate, "learning_rate", "> 0")
        return optimizers.OPTIMIZERS[self.optimizer](learning_rate=float(lr))

    def _split(self, X, y, w, seed, left_out=0):
        """Hold out a random ``validation_fraction`` of the samples (glassnet's own
        ``validation_split`` takes the last rows, which is wrong for data sorted by class), with
        their sample weights ``w`` (None or (n,)). ``left_out``: the samples of weight 0 already
        taken out of X, which an error counts. Returns X, y, w of the rest and the held-out
        (X, y, w), or None."""
        # numpy scalars too (np.float32(0.2) from a config or a grid); bools are not fractions
        fraction = check_fraction(self.validation_fraction, "validation_fraction")
        if not fraction:
            return X, y, w, None
        n_val = int(round(X.shape[0] * fraction))
        if n_val == 0 or n_val == X.shape[0]:
            raise ValueError(f"validation_fraction={fraction} leaves no training or no validation samples "
                             f"out of n_samples={X.shape[0]}" + (f" (the samples of positive weight; the {left_out} "
                                                                f"samples of weight 0 are left out)" if left_out else ""))
        # without a seed: the next of set_random_seed's root (or the OS's entropy), as every model's
        order = np.random.default_rng(seed if seed is not None else _seeding.entropy()).permutation(X.shape[0])
        val, train = order[:n_val], order[n_val:]
        if w is None:
            return X[train], y[train], None, (X[val], y[val])
        return X[train], y[train], w[train], (X[val], y[val], w[val])

    def _fit_network(self, X, y, n_outputs, output_activation, loss, sample_weight=None):
        """Build a fresh network ending in ``n_outputs`` units, train it on (X, y) with
        ``sample_weight`` (None or (n_samples,)), keep it in ``model_``."""
        try:
            # a fitted estimator pickles its network as a config, which must describe the initializer
            initializers.name_of(initializers.get(self.kernel_initializer))
        except ValueError:
            raise ValueError(f"kernel_initializer: expected the name of one of glassnet.initializers, such "
                             f"as 'he_normal', or a built-in Initializer such as RandomNormal(stddev=0.01), "
                             f"got {self.kernel_initializer!r:.100}") from None
        seed = _seed(self.random_state)
        sizes = self._hidden_sizes() + [n_outputs]
        alpha = check_number(self.alpha, "alpha", ">= 0")
        if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
            # scikit-learn's rule (_check_sample_weight): one number weighs every sample alike
            sample_weight = np.full(X.shape[0], sample_weight)
        w = check_sample_weight(sample_weight, X.shape[0], backend.resolve_dtype(self.dtype))
        if w is not None and not w.any():         # scikit-learn's rule: nothing would be learnt
            raise ValueError("sample_weight: all weights are zero; give at least one sample a positive weight")
        left_out = 0
        if w is not None and not w.all():
            # scikit-learn's meaning of a zero weight is an absent sample (BaggingClassifier subsamples
            # this way); kept, it would fill batch slots and, Keras dividing each batch's weighted loss
            # by its number of samples, shrink the other samples' steps and the reported loss
            keep = w != 0
            left_out = X.shape[0] - int(keep.sum())
            X, y, w = X[keep], y[keep], w[keep]
        X, y, w, validation_data = self._split(X, y, w, seed, left_out)
        # scikit-learn adds (alpha / 2) * sum(W ** 2) / batch size on every kernel to its loss, which
        # is glassnet's times _loss_scale: scaled alike, the penalty leaves the same minimum
        # checked here, not only by fit: the penalty divides by it (0 gave a ZeroDivisionError, -5 an
        # error about L2's factor, "32" a bare TypeError from min)
        batch_size = self.batch_size
        if isinstance(batch_size, str) and batch_size == "auto":
            batch_size = 200         # MLPClassifier's "auto": min(200, n_samples), clipped below
        elif isinstance(batch_size, str):
            raise ValueError(f"batch_size: expected a positive integer, None or 'auto', got {batch_size!r}")
        batch_size = check_positive_int(batch_size, "batch_size", allow_none=True)
        batch = X.shape[0] if batch_size is None else min(batch_size, X.shape[0])
        penalty = regularizers.L2(alpha / (2 * batch * self._loss_scale)) if alpha else None
        hidden = _MLP_ACTIVATIONS.get(self.activation, self.activation) if isinstance(self.activation, str) \
            else self.activation
        layers = [Dense(units, activation=hidden if i < len(sizes) - 1 else output_activation,
                        kernel_initializer=self.kernel_initializer, kernel_regularizer=penalty,
                        input_dim=X.shape[1] if i == 0 else None)
                  for i, units in enumerate(sizes)]
        model = Sequential(layers, seed=seed, dtype=self.dtype)
        model.compile(loss=loss, optimizer=self._make_optimizer())
        callbacks = []
        if check_flag(self.early_stopping, "early_stopping", ValueError):
            if isinstance(self.patience, bool) or not isinstance(self.patience, (int, np.integer)) \
                    or self.patience < 0:
                raise ValueError(f"patience: expected a non-negative integer, got {self.patience!r}")
            monitor = "val_loss" if validation_data is not None else "loss"
            callbacks.append(EarlyStopping(monitor=monitor, patience=self.patience,
                                           restore_best_weights=True))
        history = model.fit(X, y, epochs=self.epochs, batch_size=batch_size, sample_weight=w,
                            validation_data=validation_data, verbose=_verbosity(self.verbose), callbacks=callbacks)
        self.model_ = model
        self.history_ = history.history          # plain dict of per-epoch lists: light to keep and pickle
        self.n_iter_ = len(history.epoch)
        return self

    def _outputs(self, X):
        check_is_fitted(self, "model_")
        X = _validate_data(self, X, dtype=_FLOAT_DTYPES, reset=False)
        return self.model_.predict(X).astype(np.float64)

    # Pickling (joblib, GridSearchCV with n_jobs) stores the network as its config and weights and
    # rebuilds it: a Sequential's parameters are views into one flat buffer, a link pickle loses.
    # The config leaves the optimizer out (one with a learning-rate schedule of one's own has no
    # config, and pickling failed after a successful fit): the copy is compiled again with the loss's
    # name and a fresh copy of the estimator's own optimizer, as fit compiled it.
    def __getstate__(self):
        state = dict(super().__getstate__())      # Python 3.11 returns __dict__ itself: copy it
        model = state.get("model_")
        if isinstance(model, Sequential):
            state["model_"] = {"config": model._config(with_compile=False), "weights": model.get_weights(),
                               "loss": losses.serialize(model.loss)}
        return state

    def __setstate__(self, state):
        spec = state.get("model_")
        if isinstance(spec, dict):
            model = Sequential.from_config(spec["config"])   # compiled too when pickled with its compile settings
            model.set_weights(spec["weights"])
            state = {**state, "model_": model}
        super().__setstate__(state)
        if isinstance(spec, dict) and "loss" in spec:
            self.model_.compile(loss=spec["loss"], optimizer=self._make_optimizer())


class GlassnetClassifier(ClassifierMixin, _GlassnetEstimator):
    """A dense network classifier with scikit-learn's API.

    Two classes: one sigmoid unit and ``binary_crossentropy``; more: softmax and
    ``sparse_categorical_crossentropy``. Labels may be of any type (strings, ints, ...).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (100,)
        Units of each hidden ``Dense`` layer; ``()`` gives logistic regression.
    activation : str, default "relu"
        The hidden layers' activation (``glassnet.activations``); MLPClassifier's ``"logistic"`` and
        ``"identity"`` name ``"sigmoid"`` and ``"linear"``.
    optimizer : str or glassnet Optimizer, default "adam"
        A name from ``glassnet.optimizers.OPTIMIZERS`` built with ``learning_rate``, or an instance
        (copied for every fit; ``learning_rate`` is then ignored).
    learning_rate : float, default 0.001
    batch_size : int, None or "auto", default 32
        ``None`` trains full-batch; MLPClassifier's ``"auto"`` is ``min(200, n_samples)`` (the
        samples left after ``validation_fraction``'s).
    epochs : int, default 200
    kernel_initializer : str or Initializer, default "glorot_uniform"
        A name from ``glassnet.initializers.INITIALIZERS`` or a built-in ``Initializer`` such as
        ``RandomNormal(stddev=0.01)`` (a fitted estimator pickles its network as a config).
    dtype : {"float32", "float64"}, default "float32"
    random_state : None, int, RandomState or Generator
        An int makes fitting reproducible, bit for bit.
    verbose : {0, 1, 2} or bool, default 0
        ``True`` is 1 and ``False`` 0, as scikit-learn's estimators take a flag.
    validation_fraction : float in [0, 1), default 0.0
        Random fraction of the training samples held out to report ``val_loss`` in ``history_``.
    early_stopping : bool, default False
        Stop when ``val_loss`` (or, with no validation fraction, the training loss) has not improved
        for ``patience`` epochs, and keep the best epoch's weights.
    patience : int, default 10
    alpha : float, default 0.0
        MLPClassifier's L2 penalty: ``(alpha / 2) * sum(W ** 2) / batch size`` on every kernel (not
        the biases), i.e. ``kernel_regularizer=L2(alpha / (2 * batch size))``; the regressor's is
        twice that, ``L2(alpha / batch size)``, because MLPRegressor's loss is half the mean squared
        error ``mse`` is, so the same alpha has the same effect as there (for one target: with k
        targets MLPRegressor steps along the gradient of the squared error summed over the targets,
        k times that of the mean it reports, scikit-learn issue #8349, so there the same alpha
        weighs k times less against the data than here). scikit-learn divides
        a last, shorter batch's penalty by that batch's size, and with sample weights by their sum;
        here every batch has the full batch's. Its default is 0.0001; 0.0 here, so that leaving it
        out trains as before it existed.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    model_ : glassnet.Sequential
    history_ : dict of str to list of float
        Per-epoch ``loss`` (and ``val_loss``).
    n_iter_ : int
        Epochs run.
    n_features_in_ : int

    Example
    -------
    >>> clf = GlassnetClassifier(hidden_layer_sizes=(16,), epochs=50, random_state=0).fit(X, y)  # doctest: +SKIP
    >>> clf.score(X_test, y_test)                                                               # doctest: +SKIP
    """

    def fit(self, X, y, sample_weight=None):
        """Train a fresh network on X of shape (n_samples, n_features) and labels y of shape
        (n_samples,); ``sample_weight`` (n_samples,) weighs each sample's loss, as in ``Sequential.fit``
        (one number weighs every sample alike, as scikit-learn takes it; a weight of 0 leaves its
        sample out)."""
        X, y = _validate_data(self, X, y, dtype=_FLOAT_DTYPES)
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"y: a classifier needs at least 2 classes, got 1 class ({self.classes_[0]!r})")
        if len(self.classes_) == 2:
            return self._fit_network(X, encoded, 1, "sigmoid", "binary_crossentropy", sample_weight)
        return self._fit_network(X, encoded, len(self.classes_), "softmax", "sparse_categorical_crossentropy",
                                 sample_weight)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes) -- two columns for a binary problem too."""
        out = self._outputs(X)
        if out.shape[1] == 1:
            return np.hstack([1.0 - out, out])
        return out / out.sum(axis=1, keepdims=True)     # exact sums in float64 after a float32 softmax

    def predict(self, X):
        """The most probable class of each sample, shape (n_samples,), labels as in ``classes_``."""
        proba = self.predict_proba(X)            # first: it raises NotFittedError before classes_ exists
        return self.classes_[proba.argmax(axis=1)]


class GlassnetRegressor(RegressorMixin, _GlassnetEstimator):
    """A dense network regressor with scikit-learn's API: linear output units and ``mse`` loss.

    ``y`` of shape (n_samples,) gives predictions of shape (n_samples,); ``y`` of shape
    (n_samples, n_targets) gives (n_samples, n_targets). Parameters and attributes are those of
    ``GlassnetClassifier`` (no ``classes_``; ``n_outputs_`` instead). Scale the targets (for example
    with ``TransformedTargetRegressor``) when they are far from unit size.

    Example
    -------
    >>> reg = GlassnetRegressor(hidden_layer_sizes=(32,), learning_rate=0.01, random_state=0)  # doctest: +SKIP
    >>> reg.fit(X, y).score(X_test, y_test)                                                  # doctest: +SKIP
    """

    _loss_scale = 0.5       # MLPRegressor minimises mean((y - p) ** 2) / 2, glassnet's "mse" without the 1/2

    def fit(self, X, y, sample_weight=None):
        """Train a fresh network on X of shape (n_samples, n_features), y of shape (n_samples[, n_targets]);
        ``sample_weight`` (n_samples,) weighs each sample's loss, as in ``Sequential.fit`` (one number
        weighs every sample alike, as scikit-learn takes it; a weight of 0 leaves its sample out)."""
        X, y = _validate_data(self, X, y, dtype=_FLOAT_DTYPES, multi_output=True, y_numeric=True)
        self._y_ndim = y.ndim
        y = y.reshape(-1, 1) if y.ndim == 1 else y
        self.n_outputs_ = y.shape[1]
        return self._fit_network(X, y, self.n_outputs_, "linear", "mse", sample_weight)

    def predict(self, X):
        """Predictions, shape (n_samples,) or (n_samples, n_targets) as the training targets were."""
        out = self._outputs(X)
        return out[:, 0] if self._y_ndim == 1 else out

    def __sklearn_tags__(self):                   # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self):                         # scikit-learn < 1.6
        return {"multioutput": True}
