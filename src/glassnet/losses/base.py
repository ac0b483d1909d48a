"""The loss protocol: ``Loss`` (a value and its gradient, side by side) and ``aligned_targets``,
the one check of targets against predictions that every loss and metric starts with; Keras'
``reduction`` and ``name`` arguments, which every built-in loss takes (``Loss.__init__``).

A loss at its default reduction, ``"sum_over_batch_size"``, is an instance of its class and runs
that class's methods, untouched: the hot path of training. Any other reduction (or
``SparseCategoricalCrossentropy(ignore_class=...)``) makes it, once, at construction, an instance
of a subclass of its class (``_reduced_class``) whose methods run the class's own on the same
settings and rescale what they give (see ``_Reduced``), so that nothing is tested per step.
"""
import copy
import functools
import inspect

import numpy as np

from .. import _tape_state, backend
from ._numerics import _per_sample

DEFAULT_REDUCTION = "sum_over_batch_size"
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def check_reduction(reduction, caller):
    """``reduction`` when it is one of Keras' (``REDUCTIONS``), a ValueError naming ``caller`` otherwise."""
    if not (reduction is None or isinstance(reduction, str) and reduction in REDUCTIONS):
        raise ValueError(f"{caller}: reduction must be one of 'sum_over_batch_size', 'sum', 'mean', "
                         f"'mean_with_sample_weight', 'none' or None, got {reduction!r:.60}")
    return reduction


def plain_type(loss):
    """The class ``loss`` was built from: its own, or for a loss with another reduction, the class
    ``_reduced_class`` derived it from (which model files and ``LOSSES`` know)."""
    return type(loss).__dict__.get("_plain", type(loss))


def registry_name(loss):
    """The name a built-in loss is known by (``"mse"``), whatever ``name=`` it was given."""
    return getattr(type(loss), "name", None) or loss.name

_CLASSIFICATION = frozenset({"binary_crossentropy", "categorical_crossentropy", "binary_focal_crossentropy",
                             "categorical_focal_crossentropy", "categorical_hinge", "accuracy",
                             "binary_accuracy", "categorical_accuracy", "Precision", "Recall", "AUC",
                             "F1Score", "FBetaScore"})


def same_rank(y_true, y_pred):
    """Keras' ``squeeze_or_expand_to_same_rank``: of two arrays whose ranks differ by one and whose
    longer has a last axis of 1, the shorter gains that axis when it is a vector (n,), else the
    longer loses it, so (n, T) targets meet (n, T, 1) outputs as (n, T). Others come back as given."""
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        if y_pred.ndim == 1:
            y_pred = y_pred[:, None]
        else:
            y_true = y_true[..., 0]
    elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        if y_true.ndim == 1:
            y_true = y_true[:, None]
        else:
            y_pred = y_pred[..., 0]
    return y_true, y_pred


def aligned_targets(y_pred, y_true, caller):
    """``y_true`` in the shape of ``y_pred`` (n, k). Targets of shape (n,) for a single output
    unit (n, 1) are reshaped, as Keras does; any other shape is refused, because broadcasting
    would turn (n, 1) against (n,) into an (n, n) matrix and a plausible but wrong number.

    >>> import numpy as np
    >>> aligned_targets(np.zeros((3, 1)), np.array([0, 1, 1]), "mse").shape
    (3, 1)
    """
    y_true = backend.get_array_module(y_pred).asarray(y_true)
    if y_true.shape == y_pred.shape:
        return y_true
    if y_pred.shape[-1] == 1 and y_true.shape == y_pred.shape[:-1]:
        return y_true.reshape(y_pred.shape)
    hint = ""
    if y_true.ndim == y_pred.ndim - 1:
        # one dimension short: class labels for a classifier, one target per sample for a
        # regression model with several outputs; only the first is about labels
        if caller in _CLASSIFICATION:
            hint = ("; it takes targets shaped like the output, not class labels (those go with "
                    "'sparse_categorical_crossentropy' and 'accuracy', or one-hot encode them with "
                    "glassnet.utils.to_categorical)")
        else:
            shape = "(n, " + ", ".join(str(d) for d in y_pred.shape[1:]) + ")"
            hint = (f"; it takes targets shaped like the output, {shape}: one value for each of its "
                    f"{y_pred.shape[-1]} output units")
    raise ValueError(f"{caller}: expected targets of the output's shape {tuple(y_pred.shape)}, got "
                     f"shape {tuple(y_true.shape)}{hint}")


def _unwritten(loss, method):
    """The message for a loss of your own that lacks ``method``: a bare NotImplementedError from
    inside ``fit`` (a subclass writing ``__call__`` alone) would not say what is missing."""
    return (f"{type(loss).__name__}.{method}: a loss of your own (a subclass of glassnet.Loss) writes both "
            f"__call__(y_pred, y_true), the loss value (a float), and gradient(y_pred, y_true), dL/d(y_pred) "
            f"of y_pred's shape: fit needs both (glassnet does not differentiate NumPy code; in a step or loop of your own, a loss "
            f"written with glassnet.ops is differentiated by gn.GradientTape)")


class Loss:
    """Base class. ``fuses`` names the output activation whose gradient this loss can fuse.

    A subclass of your own writes ``__call__(y_pred, y_true)``, the loss value (a float: Keras' mean
    over samples and positions), and ``gradient(y_pred, y_true)``, the derivative of that value
    with respect to ``y_pred``, an array of its shape (so divided by the count the mean divides by);
    the model hands both the targets in ``y_pred``'s shape.
    Sample or class weights also need ``weighted(y_pred, y_true, sample_weight)`` (``weighted_gradient``
    then follows from ``gradient``); your ``__call__`` then also takes Keras' keyword,
    ``loss(y_pred, y_true, sample_weight=w)``, which gives ``weighted``'s value.

    A model compiled with a subclass of your own trains and evaluates; a model file records a loss
    by its name, never code, so ``save_model`` refuses it unless it is registered with
    ``@glassnet.saving.register_serializable()``: the file then records its registered name and its
    ``get_config()``, a dict of its constructor's arguments (the base's, its name, counts as none;
    ``reduction`` and ``name`` are recorded beside them where its constructor takes them),
    and ``load_model`` builds it again from them."""
    name = None
    fuses = None
    sparse = False          # targets are integer labels rather than arrays shaped like the output
    # False: it reads each sample's whole sequence output (CTC), never row by row, and its targets are
    # one row per sample of their own length, (n, L) (a model of several outputs packs them so)
    per_position = True
    # True: its weighted methods also take one weight per position, of y_pred.shape[:-1]
    # (SparseCategoricalCrossentropy called directly on labels per position, as Keras')
    position_weights = False
    reduction = DEFAULT_REDUCTION
    dtype = None        # Keras' dtype=: None computes in the predictions' dtype (glassnet.losses.adapted)

    def __init__(self, reduction=DEFAULT_REDUCTION, name=None):
        self._take_reduction(reduction, name)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("glassnet.losses.") and not getattr(cls.__init__, "takes_keras_defaults", False):
            cls.__init__ = _taking_keras_defaults(cls.__init__)        # the built-in classes: once, at import
        from .taped import Taped, is_keras_style
        if is_keras_style(cls):
            # Keras' form, call(y_true, y_pred) and no gradient: the tape differentiates it, with
            # Taped's methods (and Keras' constructor) ahead of glassnet's (glassnet.losses.taped)
            cls.__bases__ = (Taped, *cls.__bases__)
        _fit_methods_follow(cls)
        # the __call__ its instances run (its own, or _Reduced's for a class of another reduction)
        call = cls.__call__
        if not getattr(call, "takes_sample_weight", False) and "sample_weight" not in inspect.signature(call).parameters:
            cls.__call__ = _taking_sample_weight(call)

    def _take_reduction(self, reduction, name):
        """Keras' ``reduction`` and ``name`` (each built-in constructor's last step): checked, kept
        as attributes (which model files record when they differ from the defaults), and the
        instance's class chosen: its own at the default reduction, else ``_reduced_class``'s."""
        plain = plain_type(self)
        self.reduction = check_reduction(reduction, plain.__name__)
        if name is not None:
            # at most 200 characters: what a model file reads back (glassnet.io), which would
            # otherwise save a loss it then refuses to load
            if not isinstance(name, str) or not 0 < len(name) <= 200:
                raise ValueError(f"{plain.__name__}: name must be a non-empty string, got {name!r:.60}" + (
                    f" ({len(name)} characters: a model file reads back at most 200)" if isinstance(name, str) and name else ""))
            self.name = name
        # (name=None keeps a name a class of yours set before calling this constructor: Loss had
        # none before it took reduction=, and such a class's name was its own)
        self.__class__ = _class_for(plain, {**vars(self), "ignore_class": getattr(self, "ignore_class", None)})

    def per_sample(self, y_pred, y_true):
        """Keras' loss of each sample (the values its reductions reduce): shape (n,), or (n, *positions)
        for an output with positions; what ``reduction="none"`` returns. Not implemented by a loss
        of your own unless you write it."""
        raise NotImplementedError(f"{type(self).__name__} does not give per-sample values: implement "
                                  f"per_sample(y_pred, y_true) for reduction='none'")

    def per_sample_from_logits(self, z, a, y_true):
        """``per_sample`` of a loss fused with its output activation, from the logits ``z`` and the
        activation's values ``a`` (what ``reduction="none"`` gives there, as Keras on TensorFlow reads
        the logits behind a sigmoid or softmax output): the cross-entropies' own; by default
        ``per_sample(a, y_true)``, for a fused loss whose formula reads the probabilities."""
        return self.per_sample(a, y_true)

    def _value_count(self, y_pred, y_true):
        """How many per-sample values the default reduction divides by: one per sample and position."""
        return y_pred.size // y_pred.shape[-1]

    def _masked(self, y_pred, y_true):
        """``(targets, mask)``: targets the methods take and a boolean (n,) mask of the samples that
        count, or None for all (``SparseCategoricalCrossentropy(ignore_class=...)``'s)."""
        return y_true, None

    def _reduction_counts(self, view, y_pred, y_true, weights, mask):
        """``(T, valid, weight_total)``: the divisor of the default methods, the number of values
        that count (Keras' divisor for "sum_over_batch_size" with a mask) and the sum of the
        weights over the values (its divisor for "mean_with_sample_weight"; None without weights)."""
        count = view._value_count(y_pred, y_true)
        # the share of the values that count, or their weights' mean, times their number (a mask
        # and weights come one per sample, or one per position for labels per position)
        valid = count if mask is None else float(mask.sum()) * count / mask.size
        total = None if weights is None else float(weights.sum(dtype="float64")) * count / weights.size
        return count, valid, total

    def __call__(self, y_pred, y_true):
        """The loss value (a float) for predictions ``y_pred`` (n, k) and targets ``y_true``."""
        raise NotImplementedError(_unwritten(self, "__call__"))

    def _targets(self, y_pred, y_true):
        """``y_true`` checked against ``y_pred`` (see ``aligned_targets``): each public method of a
        loss starts with it, so a call with mismatched shapes fails instead of broadcasting."""
        return aligned_targets(y_pred, y_true, self.name)      # (a name= given names the loss here)

    def gradient(self, y_pred, y_true):
        """dL/d(y_pred), shape (n, k): a new array (the weighted methods scale it in place)."""
        raise NotImplementedError(_unwritten(self, "gradient"))

    def weighted(self, y_pred, y_true, sample_weight):
        """The loss with sample ``i``'s loss multiplied by ``sample_weight[i]`` (shape (n,)), summed and
        divided by n (Keras' ``sum_over_batch_size``); equals ``__call__`` for weights of ones.

        >>> import numpy as np
        >>> from glassnet.losses import get
        >>> get("mse").weighted(np.array([[1.0], [3.0]]), np.zeros((2, 1)), np.array([1.0, 0.0]))
        0.5
        """
        raise NotImplementedError(f"{type(self).__name__} does not support sample weights: implement "
                                  f"weighted(y_pred, y_true, sample_weight)")

    def weighted_gradient(self, y_pred, y_true, sample_weight):
        """d(weighted)/d(y_pred), shape (n, k): the unweighted gradient with row i times w_i, which
        holds for every loss that is a sum of per-sample terms."""
        g = _in_dtype_of(self.gradient(y_pred, y_true), y_pred)
        g *= _per_sample(sample_weight, g)
        return g

    # what fit's unfused step calls (training, outputs, trace): the public methods themselves, but
    # for a class whose public gradient does work fit's checked targets never need (a cross-entropy
    # on logits whose targets are distributions: CategoricalCrossentropy); a subclass overriding
    # the public ones gets them here too (Loss.__init_subclass__), so fit trains on its maths
    _fit_gradient = gradient
    _fit_weighted_gradient = weighted_gradient

    def from_logits_and_gradient(self, z, a, y_true):
        """``(from_logits(z, a, y_true), gradient_from_logits(a, y_true))``, the training step's
        pair for losses that fuse; a loss may override it to share work between the two.

        z, a : the logits and the output activation's values, (n, k); y_true : the targets as
        the loss takes them. Returns (the loss value, a float; dL/dz, an array of z's shape).
        """
        return self.value_from_logits(z, a, y_true), self.gradient_from_logits(a, y_true)

    def weighted_gradient_from_logits(self, a, y_true, sample_weight):
        """The fused dL/dz of ``gradient_from_logits`` with row i times w_i (losses that fuse)."""
        g = self.gradient_from_logits(a, y_true)
        g *= _per_sample(sample_weight, g)
        return g

    def fused_activation(self):
        """The output activation this loss fuses with (``fuses``), or None when it must not.

        A subclass that overrides the value or the gradient of a loss that fuses (a focal or
        re-weighted cross-entropy) but inherits its fused methods would train on the parent's
        maths whenever the model ends in that activation: it does not fuse. A class that sets
        ``fuses`` in its own body says its fused methods match its value and gradient.
        """
        if self.fuses is None:
            return None
        plain = plain_type(self)        # another reduction rescales the methods of its class
        owner = next(cls for cls in plain.__mro__ if "fuses" in vars(cls))
        unfused = ("__call__", "gradient", "weighted", "weighted_gradient")
        if any(getattr(plain, m) is not getattr(owner, m) for m in unfused):
            return None
        return self.fuses

    def prepare_targets(self, y, n_outputs, dtype, name="y"):
        """Validate ``y`` (already a finite numeric array) against an output of ``n_outputs``
        units and return it in the form ``__call__`` expects."""
        if y.ndim == 1 and n_outputs == 1:
            y = y[:, None]                          # (n,) labels for one output unit
        if y.ndim != 2 or y.shape[1] != n_outputs:
            hint = ""
            # labels for a classifier, (n,) or a column (n, 1) (see aligned_targets)
            if (y.ndim == 1 or y.shape[1:] == (1,)) and n_outputs > 1:
                hint = ("; for integer class labels use loss='sparse_categorical_crossentropy' "
                        "or one-hot encode them with glassnet.utils.to_categorical"
                        if registry_name(self) in _CLASSIFICATION else
                        f"; a model with {n_outputs} output units takes {n_outputs} target values per sample")
            raise ValueError(f"{name}: expected targets of shape (n_samples, {n_outputs}) to match "
                             f"the model's output, got shape {y.shape}{hint}")
        return y.astype(dtype, copy=False)

    def prepare_output_targets(self, y, shape, dtype, name, output="the model's output"):
        """Targets ``y`` for an output of sample ``shape`` when the loss reads the whole output at once
        (CTC's label sequences against (steps, classes) logits); None, the default: the targets
        are checked position by position through ``prepare_targets`` (glassnet.preparing)."""
        return None

    def invalid_output(self, y_pred):
        """Why outputs ``y_pred`` lie outside what this loss is defined on (a message), or None.
        ``fit`` says it when the loss becomes NaN with every output finite."""
        return None

    def get_config(self):
        return registry_name(self)

    def __repr__(self):
        own = "".join(f" {key}={vars(self)[key]!r}" for key in ("reduction", "name", "dtype")
                      if key in vars(self) and vars(self)[key] != getattr(type(self), key, DEFAULT_REDUCTION))
        return f"<loss {registry_name(self)}{own}>"


def settings_changed(loss):
    """The attributes of ``loss`` that differ from those of its class built with no arguments (the
    defaults): ``Huber(delta=2.0)`` gives ``{"delta": 2.0}``."""
    try:
        defaults = vars(plain_type(loss)())
    except TypeError:           # a subclass of yours whose constructor needs arguments: no defaults to compare
        return {}
    # settings are plain numbers, flags and names, and tuples of numbers (Dice's axis, a focal loss's
    # per-class alpha; as a list: what JSON keeps); anything else (an array of yours) is not one
    plain = (bool, int, float, str, type(None))
    settings = {key: list(value) if isinstance(value, tuple) else value for key, value in vars(loss).items()
                if (isinstance(value, plain) or isinstance(value, tuple) and all(type(v) in (int, float) for v in value))
                and not (type(defaults.get(key)) is type(value) and defaults.get(key) == value)}
    return settings


class WithSettings:
    """For a built-in loss with settings (Huber, the focal cross-entropies): its ``repr`` names the
    settings that differ from the defaults, ``<loss huber delta=2.0>``."""

    def __repr__(self):
        return f"<loss {registry_name(self)}{''.join(f' {k}={v!r}' if isinstance(v, str) else f' {k}={v}' for k, v in settings_changed(self).items())}>"


def per_sample_mean(loss):
    """``loss`` itself at the default reduction, else a copy of it with that reduction: the mean
    over samples that a loss used as a metric reports, whatever its ``reduction`` (its
    ``ignore_class`` kept)."""
    if getattr(loss, "reduction", DEFAULT_REDUCTION) in (DEFAULT_REDUCTION, "mean"):
        return loss
    other = copy.copy(loss)
    other._take_reduction(DEFAULT_REDUCTION, vars(loss).get("name"))
    return other


def _in_dtype_of(gradient, y_pred):
    """A loss's ``gradient`` in the dtype of ``y_pred`` before it is scaled in place: a loss of your
    own may give another (np.sign's int64), and the weights scaling it would be cast to that
    (sample weight 0.5 -> 0), or an int gradient refuse a float factor."""
    return gradient if gradient.dtype == y_pred.dtype else gradient.astype(y_pred.dtype)


def _divided(count, divisor):
    """count / divisor, 0 for a divisor of 0 (Keras' divide_no_nan)."""
    return count / divisor if divisor else 0.0


class _Reduced:
    """The methods of a loss with a reduction other than the default (Keras' ``reduce_values``),
    each the method of the loss's own class run on the same settings (a view of the instance as
    that class: its inner calls are the class's own too), then rescaled:

    ``"sum"``: times T, the default's divisor (the number of per-sample values); ``"mean"``: as the
    default; ``"mean_with_sample_weight"``: with sample weights, times T / (their sum over the
    values), so the result is sum(w loss) / sum(w); ``"none"``/None: ``per_sample`` (times the
    weights), no gradient. A mask (``ignore_class``) weighs each sample by whether it counts, and
    the default reductions then divide by the number that count, as Keras' do. The gradients are
    the class's own times the same factor."""

    def _view(self):
        view = object.__new__(type(self)._plain)
        view.__dict__ = self.__dict__           # the same settings, the class's own methods
        return view

    def _plan(self, y_pred, y_true, sample_weight):
        """``(view, targets, weights for the view's methods or None, factor)``."""
        view = self._view()
        y_true, mask = view._masked(y_pred, y_true)
        weights = None
        if sample_weight is not None:
            weights = backend.get_array_module(y_pred).asarray(sample_weight)
            if view.position_weights and weights.ndim > 1 and weights.shape == y_pred.shape[:-1]:
                weights = weights.astype(y_pred.dtype, copy=False)     # one per position, as the class takes them
            else:
                weights = _per_sample(sample_weight, y_pred).reshape(-1)
        if mask is not None:        # (n,), or (n, steps) for labels per position
            m = mask.astype(y_pred.dtype)
            weights = m if weights is None else weights.reshape(weights.shape + (1,) * (m.ndim - weights.ndim)) * m
        count, valid, total = self._reduction_counts(view, y_pred, y_true, weights, mask)
        reduction = self.reduction
        if reduction in (None, "none"):
            factor = None
        elif reduction == "sum":
            factor = float(count)
        elif reduction == "mean_with_sample_weight" and total is not None:
            factor = _divided(count, total)
        else:           # sum_over_batch_size, mean; mean_with_sample_weight without weights
            factor = _divided(count, valid)
        return view, y_true, weights, factor

    def _no_gradient(self, what):
        raise ValueError(f"{type(self).__name__}(reduction={self.reduction!r}) gives one loss per sample, "
                         f"which has no {what} to train on; use reduction='sum_over_batch_size' (the "
                         f"default) or 'sum' to train")

    @staticmethod
    def _scaled(value, factor):
        if factor != 1.0:
            value *= factor         # a new array from the class's method, or a float
        return value

    def _values(self, view, y_pred, y_true, weights, z=None):
        """The per-sample values (times the weights); from the logits ``z`` when given (fused)."""
        _check_per_sample(type(view))
        values = view.per_sample(y_pred, y_true) if z is None else view.per_sample_from_logits(z, y_pred, y_true)
        if weights is None:
            return values
        if values.ndim == 0:        # one value for the whole batch (Dice's axis=None): checks the weights
            view.weighted(y_pred, y_true, weights)
        return values * weights.reshape(weights.shape + (1,) * (values.ndim - weights.ndim))

    # the unfused methods
    def __call__(self, y_pred, y_true):
        return self.weighted(y_pred, y_true, None)

    def weighted(self, y_pred, y_true, sample_weight):
        view, y_true, weights, factor = self._plan(y_pred, y_true, sample_weight)
        if factor is None:
            return self._values(view, y_pred, y_true, weights)
        value = view(y_pred, y_true) if weights is None else view.weighted(y_pred, y_true, weights)
        return self._scaled(value, factor)

    def gradient(self, y_pred, y_true):
        return self.weighted_gradient(y_pred, y_true, None)

    def weighted_gradient(self, y_pred, y_true, sample_weight):
        return self._rescaled_gradient(y_pred, y_true, sample_weight, "gradient", "weighted_gradient")

    def _fit_gradient(self, y_pred, y_true):
        return self._rescaled_gradient(y_pred, y_true, None, "_fit_gradient", "_fit_weighted_gradient")

    def _fit_weighted_gradient(self, y_pred, y_true, sample_weight):
        return self._rescaled_gradient(y_pred, y_true, sample_weight, "_fit_gradient", "_fit_weighted_gradient")

    def _rescaled_gradient(self, y_pred, y_true, sample_weight, plain, weighted):
        """The class's gradient (its method ``plain``, or ``weighted`` with weights) times the factor."""
        view, y_true, weights, factor = self._plan(y_pred, y_true, sample_weight)
        if factor is None:
            self._no_gradient("gradient")
        g = (_in_dtype_of(getattr(view, plain)(y_pred, y_true), y_pred) if weights is None
             else getattr(view, weighted)(y_pred, y_true, weights))
        return self._scaled(g, factor)

    # the fused methods: z the logits, a the output activation's values
    def value_from_logits(self, z, a, y_true):
        return self.weighted_from_logits(z, a, y_true, None)

    def weighted_from_logits(self, z, a, y_true, sample_weight):
        view, y_true, weights, factor = self._plan(a, y_true, sample_weight)
        if factor is None:
            return self._values(view, a, y_true, weights, z)
        value = (view.value_from_logits(z, a, y_true) if weights is None
                 else view.weighted_from_logits(z, a, y_true, weights))
        return self._scaled(value, factor)

    def gradient_from_logits(self, a, y_true):
        return self.weighted_gradient_from_logits(a, y_true, None)

    def weighted_gradient_from_logits(self, a, y_true, sample_weight):
        view, y_true, weights, factor = self._plan(a, y_true, sample_weight)
        if factor is None:
            self._no_gradient("gradient")
        g = (view.gradient_from_logits(a, y_true) if weights is None
             else view.weighted_gradient_from_logits(a, y_true, weights))
        return self._scaled(g, factor)

    def from_logits_and_gradient(self, z, a, y_true):
        view, y_true, weights, factor = self._plan(a, y_true, None)
        if factor is None:
            self._no_gradient("gradient")
        if weights is None:
            value, g = view.from_logits_and_gradient(z, a, y_true)
        else:
            value = view.weighted_from_logits(z, a, y_true, weights)
            g = view.weighted_gradient_from_logits(a, y_true, weights)
        return self._scaled(value, factor), self._scaled(g, factor)

    def output_gradient_unclipped(self, a, y_true):
        view, y_true, weights, factor = self._plan(a, y_true, None)
        if factor is None:
            self._no_gradient("gradient")
        g = view.output_gradient_unclipped(a, y_true)
        if weights is not None:
            g = g * _per_sample(weights, g)
        return self._scaled(g, factor)

    def __reduce_ex__(self, protocol):
        # copies and pickles name the class the loss was built from (this one is made at run time)
        return _rebuilt, (type(self)._plain, dict(self.__dict__))


def _check_per_sample(plain):
    """Refuse per-sample values that are not the loss's own: a class of yours that overrides the
    value of a built-in loss (``__call__`` or ``weighted``) but inherits its ``per_sample`` would give
    the parent's values under ``reduction="none"`` while every other reduction gives its own."""
    owner = next(cls for cls in plain.__mro__ if "per_sample" in vars(cls))
    overridden = [m for m in ("__call__", "weighted") if getattr(plain, m) is not getattr(owner, m)]
    if overridden:
        raise NotImplementedError(f"{plain.__name__} overrides {' and '.join(overridden)} but inherits per_sample from "
                                  f"{owner.__name__}, whose values would not be its own: implement "
                                  f"per_sample(y_pred, y_true) for reduction='none'")


def _rebuilt(plain, state):
    loss = object.__new__(plain)
    loss.__dict__.update(state)
    loss.__class__ = _class_for(plain, state)
    return loss


def _class_for(plain, settings):
    """The class an instance of ``plain`` with these ``settings`` (its ``vars``) runs: ``plain`` at
    the defaults; ``_reduced_class(plain)`` for another reduction (or an ``ignore_class``); with
    ``dtype`` or a class ``axis`` of its own, a subclass adapting the arrays before those methods
    (glassnet.losses.adapted)."""
    reduction = settings.get("reduction", DEFAULT_REDUCTION)
    reshaped = reduction not in (DEFAULT_REDUCTION, "mean") or settings.get("ignore_class") is not None
    # Keras' dtype as the constructors check it ("float32"/"float64", glassnet.losses.adapted); a
    # class of yours keeping a dtype attribute of its own (np.int64 for its gradient) is not cast
    cast = settings.get("dtype") in LOSS_DTYPES
    moved = getattr(plain, "keras_axis", False) and settings.get("axis", -1) != -1
    return _adapted_class(plain, reshaped, cast, moved)


def _adapted_class(plain, reshaped, cast, moved):
    """``plain`` (or its reduction's class) with the dtype cast and the axis moved, outermost first,
    each running the class below it (glassnet.losses.adapted); made once, then kept."""
    if not (cast or moved):
        return _reduced_class(plain) if reshaped else plain
    key = (plain, reshaped, cast, moved)
    cls = _ADAPTED_CLASSES.get(key)
    if cls is None:
        from .adapted import _Axis, _Cast, _LastAxis
        inner = _adapted_class(plain, reshaped, False, moved) if cast else _adapted_class(plain, reshaped, False, False)
        axis_class = _LastAxis if getattr(plain, "keras_axis", False) == "last" else _Axis
        cls = type(plain.__name__, (_Cast if cast else axis_class, plain), {
            "__module__": plain.__module__, "__qualname__": plain.__qualname__, "__doc__": plain.__doc__,
            "_plain": plain, "_inner_class": inner, "__reduce_ex__": _Reduced.__reduce_ex__})
        _ADAPTED_CLASSES[key] = cls
    return cls


# the dtypes a loss computes in (Keras' dtype=): NumPy's floats that glassnet's numerics (the 1e-7
# clip) hold in; glassnet.losses.adapted checks a given dtype against them
LOSS_DTYPES = ("float32", "float64")

_REDUCED_CLASSES = {}
_ADAPTED_CLASSES = {}


def _owner(cls, name):
    """The class of ``cls``'s method resolution order that defines ``name`` (its index there)."""
    return next(i for i, c in enumerate(cls.__mro__) if name in vars(c))


def _fit_methods_follow(cls):
    """``cls._fit_gradient`` (and ``_fit_weighted_gradient``) its public ``gradient`` (and
    ``weighted_gradient``) when those are overridden below the class that wrote the fit methods: a
    subclass of yours of CategoricalCrossentropy writing its own gradient trains on it."""
    for fit, public in (("_fit_gradient", ("gradient",)), ("_fit_weighted_gradient", ("gradient", "weighted_gradient"))):
        if min(_owner(cls, name) for name in public) < _owner(cls, fit):
            setattr(cls, fit, getattr(cls, public[-1]))


def _taking_keras_defaults(init):
    """A built-in loss class's constructor that also takes Keras' ``dtype`` (None: the loss computes
    in its predictions' dtype, the model's) and, where Keras' class has it, ``axis`` (-1: the classes
    are the last axis) at the values meaning what glassnet computes, refuses other values by name,
    and names the class and what it takes for any other keyword (Python's own message named
    ``Loss.__init__``)."""
    parameters = inspect.signature(init).parameters
    open_ended = any(p.kind == p.VAR_KEYWORD for p in parameters.values())
    named = [key for key, p in parameters.items() if key != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        cls = plain_type(self).__name__
        if "dtype" in kwargs and "dtype" not in parameters:
            from .adapted import check_dtype
            # set before the constructor, whose last step (_take_reduction) picks the class from it
            self.dtype = check_dtype(kwargs.pop("dtype"), cls)
        if "axis" in kwargs and "axis" not in parameters and getattr(type(self), "keras_axis", False):
            from .adapted import check_axis
            axis = kwargs.pop("axis")
            self.axis = check_axis(axis, cls)
            if getattr(type(self), "keras_axis", False) == "last" and self.axis < -1:
                # Keras' TensorFlow backend: -1 or the last axis' positive number, checked when called
                raise ValueError(f"{cls}: axis={axis!r:.40}: the labels' classes are the last axis (axis=-1, "
                                 f"Keras' default, or its positive number: the only one its TensorFlow backend "
                                 f"takes)")
        if not open_ended:
            unknown = [key for key in kwargs if key not in parameters]
            if unknown:
                raise TypeError(f"{cls}: unexpected keyword argument {unknown[0]!r}; it takes {', '.join(named)}")
        init(self, *args, **kwargs)
    __init__.takes_keras_defaults = True
    return __init__


def _taking_sample_weight(call):
    """``call(self, y_pred, y_true)``, a loss's value, that also takes Keras' keyword
    ``sample_weight=w`` (``loss(y_pred, y_true, sample_weight=w)``, Keras' call with glassnet's order
    of arguments): with weights, the value is ``weighted``'s, as Keras' keyword gives it. Every
    subclass's own ``__call__`` gets it (``Loss.__init_subclass__``), yours too. Without weights the
    arguments go to ``call`` as given: by its own parameters' names (a loss of yours written in
    Keras' order, ``__call__(self, y_true, y_pred)``, called by keyword, gets each by name)."""
    signature = inspect.signature(call)
    kinds = [p.kind for p in list(signature.parameters.values())[1:]]
    # Keras' third positional argument, loss(y_true, y_pred, sample_weight), where the call takes two
    weight_third = inspect.Parameter.VAR_POSITIONAL not in kinds and sum(
        k in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD) for k in kinds) == 2

    @functools.wraps(call)
    def __call__(self, *args, sample_weight=None, **kwargs):
        if weight_third and len(args) == 3 and sample_weight is None:
            args, sample_weight = args[:2], args[2]
        if _on_tensors(args, kwargs):
            # in a drawn call, on its tensors (keras.io's LogisticEndpoint): drawn with glassnet.ops
            from .._symbolic_losses import drawn_loss
            return drawn_loss(self, *_prediction_and_target(signature, self, args, kwargs), sample_weight)
        if _tape_state.recording() and _tape_state.holds_recorded(list(args) + list(kwargs.values())):
            from ..tape import record_loss       # a GradientTape records the loss (glassnet.tape)
            return record_loss(self, *_prediction_and_target(signature, self, args, kwargs), sample_weight)
        if sample_weight is None:
            return call(self, *args, **kwargs)
        return self.weighted(*_prediction_and_target(signature, self, args, kwargs), sample_weight)
    __call__.takes_sample_weight = True
    # what help() and inspect.signature show (functools.wraps would show call's, without the keyword)
    parameters = list(signature.parameters.values())
    at = next((i for i, p in enumerate(parameters) if p.kind is inspect.Parameter.VAR_KEYWORD), len(parameters))
    parameters.insert(at, inspect.Parameter("sample_weight", inspect.Parameter.KEYWORD_ONLY, default=None))
    __call__.__signature__ = signature.replace(parameters=parameters)
    return __call__


def _on_tensors(args, kwargs):
    """Whether a loss call is given a drawn call's symbolic tensors (arrays, the usual case, are
    told apart at once; glassnet.layers.symbolic is imported on a first other value only)."""
    values = [*args, *kwargs.values()]
    if all(isinstance(v, np.ndarray) for v in values):
        return False
    from ..layers.symbolic import holds_symbolic
    return holds_symbolic(values)


def _prediction_and_target(signature, loss, args, kwargs):
    """The two arrays a call ``loss(*args, **kwargs)`` gives the first two parameters of its class's
    ``__call__`` (``signature``), in that order, for ``weighted``; a TypeError, as the call would
    raise, when they do not bind, and when they hold more than the two: ``weighted`` takes no other
    (a mask of yours would be dropped, silently)."""
    bound = signature.bind(loss, *args, **kwargs)
    given, others = [], []          # (name, value) of the positional parameters; the keywords' names
    for name, value in list(bound.arguments.items())[1:]:
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            given.extend((f"{name}[{i}]", v) for i, v in enumerate(value))
        elif kind is inspect.Parameter.VAR_KEYWORD:
            others.extend(value)
        else:
            given.append((name, value))
    others = [name for name, _ in given[2:]] + others
    if len(given) < 2 or others:
        raise TypeError(f"{type(loss).__name__}: with sample_weight= a loss gives weighted(y_pred, y_true, "
                        f"sample_weight), which takes the predictions and the targets alone, got "
                        + (f"also {', '.join(others)}" if others else f"{len(given)} array(s)"))
    return [value for _, value in given]


def _reduced_class(plain):
    """The subclass of ``plain`` (made once, then kept) whose instances have another reduction:
    ``_Reduced``'s methods before the class's own. Same name, module and docstring."""
    cls = _REDUCED_CLASSES.get(plain)
    if cls is None:
        cls = type(plain.__name__, (_Reduced, plain), {"__module__": plain.__module__, "__qualname__": plain.__qualname__,
                                                       "__doc__": plain.__doc__, "_plain": plain})
        _REDUCED_CLASSES[plain] = cls
    return cls
