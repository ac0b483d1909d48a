"""Weight constraints (Keras' ``kernel_constraint=`` / ``bias_constraint=``): after every optimizer
step, a constrained weight is replaced by its projection onto the allowed set.

    MaxNorm(m, axis):         w * clip(|w|, 0, m) / (eps + |w|)       the norm of each slice at most m
    MinMaxNorm(lo, hi, r, a): w * (r * clip(|w|, lo, hi) + (1 - r) * |w|) / (eps + |w|)
    UnitNorm(axis):           w / (eps + |w|)                         each slice of norm 1
    NonNeg():                 w * (w >= 0)                            negative entries set to 0

``|w|`` is the Euclidean norm over ``axis`` (kept, so that it scales each slice): for a ``Dense``
kernel of shape (inputs, units), ``axis=0`` (the default) takes the norm of each unit's incoming
weights; for a ``Conv2D`` kernel (kh, kw, C_in, C_out) pass ``axis=[0, 1, 2]``, one norm per filter.
eps = 1e-7, as in Keras, whose formulas these are: ``MaxNorm`` also shrinks a slice already within
the bound by the factor |w| / (eps + |w|), a relative change of about 1e-7 / |w|.

As in Keras, constraints act after each update of a trained weight (``fit``, ``train_on_batch``; the
``update`` that ``model.trace`` reports includes them), not on the initial weights, and not on a
frozen layer's. The dropout paper's recipe, max-norm 3 on the kernels:

>>> from glassnet.layers import Dense
>>> layer = Dense(64, activation="relu", kernel_constraint=MaxNorm(3))
>>> get("max_norm")
MaxNorm(max_value=2.0, axis=0)
"""
import numpy as np

from . import _settings, backend, saving
from ._validation import check_number



class Constraint(_settings.Setting):
    """A projection of one weight. Subclasses define ``__call__(w)``, returning the constrained
    array (of ``w``'s shape and dtype; the model writes it into the weight), and ``get_config()``.
    A model file stores the built-in ones, and yours registered with
    ``glassnet.saving.register_serializable``, by their ``get_config()``."""

    def __call__(self, w):
        raise NotImplementedError(f"{type(self).__name__} must define __call__")

    def check_shape(self, shape, name):
        """Refuse, when the weight is made, a weight this constraint cannot act on (an axis it
        lacks); ``name`` starts the message. Nothing to check by default."""


def _check_axis(axis, caller):
    """``axis`` as Keras takes it, an int or a list (or tuple) of ints; stored as an int or a list."""
    items = axis if isinstance(axis, (list, tuple)) else [axis]
    if not items or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in items) \
            or len(set(int(a) for a in items)) != len(items):
        raise ValueError(f"{caller}: axis: expected an integer or a list of distinct integers, got {axis!r:.80}")
    return [int(a) for a in items] if isinstance(axis, (list, tuple)) else int(axis)


class _NormConstraint(Constraint):
    """A constraint on the Euclidean norms of a weight's slices over ``axis``."""

    def __init__(self, axis=0):
        self.axis = _check_axis(axis, type(self).__name__)

    def _axes(self):
        return tuple(self.axis) if isinstance(self.axis, list) else self.axis

    def check_shape(self, shape, name):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        if any(not -len(shape) <= a < len(shape) for a in axes):
            raise ValueError(f"{name}: {self!r:.80} takes norms over axis {self.axis!r:.80}, but the weight "
                             f"has shape {tuple(shape)} ({len(shape)} axes)")
        # [0, -2] on a 2-D weight names axis 0 twice
        if len({a % len(shape) for a in axes}) != len(axes):
            raise ValueError(f"{name}: {self!r:.80} names one axis twice for a weight of shape "
                             f"{tuple(shape)} ({len(shape)} axes)")

    def _norms(self, w):
        xp = backend.get_array_module(w)
        return xp.sqrt(xp.sum(xp.square(w), axis=self._axes(), keepdims=True))

    def _scaled(self, w, desired, norms):
        # in w's dtype: the constants are Python floats, which NumPy keeps at w's precision
        return w * (desired / (backend.epsilon() + norms))


class MaxNorm(_NormConstraint):
    """Each slice's norm over ``axis`` at most ``max_value`` (Keras' default 2)."""

    def __init__(self, max_value=2.0, axis=0):
        self.max_value = check_number(max_value, "MaxNorm: max_value", ">= 0")
        super().__init__(axis)

    def __call__(self, w):
        norms = self._norms(w)
        return self._scaled(w, backend.get_array_module(w).clip(norms, 0, self.max_value), norms)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(_NormConstraint):
    """Each slice's norm over ``axis`` moved toward [``min_value``, ``max_value``]: all the way with
    ``rate=1`` (the default), a share ``rate`` of the way otherwise (Keras' ``MinMaxNorm``)."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = check_number(min_value, "MinMaxNorm: min_value", ">= 0")
        self.max_value = check_number(max_value, "MinMaxNorm: max_value", ">= 0")
        if self.min_value > self.max_value:
            raise ValueError(f"MinMaxNorm: min_value must be at most max_value, got {min_value!r} > {max_value!r}")
        self.rate = check_number(rate, "MinMaxNorm: rate", "[0, 1]")
        super().__init__(axis)

    def __call__(self, w):
        norms = self._norms(w)
        clipped = backend.get_array_module(w).clip(norms, self.min_value, self.max_value)
        return self._scaled(w, self.rate * clipped + (1 - self.rate) * norms, norms)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


class UnitNorm(_NormConstraint):
    """Each slice's norm over ``axis`` 1 (up to eps)."""

    def __call__(self, w):
        return w / (backend.epsilon() + self._norms(w))

    def get_config(self):
        return {"axis": self.axis}


class NonNeg(Constraint):
    """Negative entries set to 0."""

    def __call__(self, w):
        return w * (w >= 0)


CONSTRAINTS = {cls.__name__: cls for cls in (MaxNorm, MinMaxNorm, UnitNorm, NonNeg)}
# Keras' names for them ("max_norm", ...); each name gives the class's defaults
_NAMES = {"max_norm": MaxNorm, "min_max_norm": MinMaxNorm, "unit_norm": UnitNorm, "non_neg": NonNeg}
# Keras' lower-case names for the classes themselves (keras.constraints.max_norm(2.0))
max_norm, min_max_norm, unit_norm, non_neg = MaxNorm, MinMaxNorm, UnitNorm, NonNeg


def get(identifier, name="constraint"):
    """A ``Constraint`` from None (none), an instance, a name (``"max_norm"``, ``"non_neg"``,
    ``"unit_norm"``, ``"min_max_norm"``, or the class's: the default settings) or a model file's
    ``{"class_name": ..., "config": {...}}``. Errors start with ``name`` (e.g. "Dense: kernel_constraint")."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Constraint):    # the class: Keras makes one
        return identifier()
    if isinstance(identifier, str) and (identifier in _NAMES or identifier in CONSTRAINTS):
        return {**_NAMES, **CONSTRAINTS}[identifier]()
    if (constraint := _settings.from_file_entry(identifier, CONSTRAINTS, name, Constraint)) is not None:
        return constraint
    raise ValueError(f"{name}: expected None, a Constraint ({', '.join(CONSTRAINTS)}) or one of "
                     f"{sorted(_NAMES)}, got {identifier!r:.100}")


def deserialize(config, custom_objects=None):
    """The constraint ``config`` describes (Keras' ``deserialize``): what ``get`` takes, glassnet's
    ``{"class_name", "config"}`` or Keras' ``serialize()`` form; ``custom_objects``,
    ``{registered name: class}``, for a Constraint of yours not registered."""
    with saving.scope_of(custom_objects, "constraints.deserialize"):
        return get(config)


def serialize(constraint):
    """A built-in constraint as a model file stores it; ValueError for any other."""
    return _settings.serialize(constraint, CONSTRAINTS, "constraint", Constraint)


def config_entries(layer, keys=("kernel_constraint", "bias_constraint")):
    """A layer's ``kernel_constraint`` / ``bias_constraint`` (or ``keys``) config entries, only those set."""
    return _settings.config_entries(layer, keys, CONSTRAINTS, "constraint", Constraint)
