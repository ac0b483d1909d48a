"""Losses written as Keras writes them, ``fn(y_true, y_pred)`` with ``glassnet.ops`` and operators,
trained on with the gradient a ``GradientTape`` takes of them.

Two forms, both Keras':

- a function, ``compile(loss=my_loss)``: ``FunctionLoss(my_loss)`` (Keras' ``LossFunctionWrapper``),
  named by the function's ``__name__``;
- a subclass of ``glassnet.losses.Loss`` that writes Keras' ``call(self, y_true, y_pred)`` and no
  ``gradient``: ``Loss.__init_subclass__`` gives it ``Taped``'s methods, once, at class creation.

Each batch the function gives per-sample values (any shape: (n,), (n, steps), or one number already
reduced), which are reduced as Keras' ``reduce_weighted_values`` reduces them: times the sample
weights (a mask of the output and class weights reach here as weights and rows, glassnet.scoring),
then summed (``"sum"``), or summed and divided by their number (``"sum_over_batch_size"``, the
default, and ``"mean"``) or by the weights' sum (``"mean_with_sample_weight"``). dL/d(y_pred) is the
tape's gradient of the values with respect to a watched ``y_pred``, seeded with d(reduced)/d(values).

The built-in losses never come here: nothing on their path changes.
"""
import numpy as np

from .._names import auto_name
from ._forward import _Forward
from .base import DEFAULT_REDUCTION, Loss, check_reduction


def _same_rank(ops, y_true, y_pred):
    """Keras' ``squeeze_or_expand_to_same_rank`` (LossFunctionWrapper.call) with glassnet.ops, so
    that a recorded ``y_pred`` stays recorded: ranks that differ by one, the longer ending in 1."""
    t, p = len(y_true.shape), len(y_pred.shape)       # (np.ndim on a recorded value is refused)
    if t == p + 1 and y_true.shape[-1] == 1:
        return (y_true, ops.expand_dims(y_pred, -1)) if p == 1 else (ops.squeeze(y_true, -1), y_pred)
    if p == t + 1 and y_pred.shape[-1] == 1:
        return (ops.expand_dims(y_true, -1), y_pred) if t == 1 else (y_true, ops.squeeze(y_pred, -1))
    return y_true, y_pred


class Taped:
    """The methods of a loss whose values come from ``self.call(y_true, y_pred)`` (Keras' order),
    in glassnet's protocol: ``__call__``, ``weighted``, ``gradient``, ``weighted_gradient`` and
    ``per_sample`` take ``(y_pred, y_true)`` (glassnet's order) and reduce as Keras does."""

    def __init__(self, name=None, reduction=DEFAULT_REDUCTION, dtype=None):
        """Keras' ``Loss(name=None, reduction="sum_over_batch_size", dtype=None)``: ``dtype`` None
        computes in the output's dtype (glassnet's rule); a float dtype casts both arrays to it."""
        if dtype is not None:
            dtype = np.dtype(getattr(dtype, "name", dtype))
            if dtype.kind != "f":
                raise ValueError(f"{type(self).__name__}: dtype: expected a float dtype or None, got {dtype}")
        self.compute_dtype = dtype
        self._take_reduction(reduction, name)

    def _take_reduction(self, reduction, name):
        # (the reduction is applied by these methods: no subclass of another reduction, base._reduced_class)
        self.reduction = check_reduction(reduction, type(self).__name__)
        if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 200):
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string of at most 200 characters, "
                             f"got {name!r:.60}")
        # Keras' auto_name: the class's name in snake case, numbered per session (my_loss, my_loss_1)
        self.name = name or vars(self).get("name") or auto_name(type(self).__name__)

    def _label(self):
        return f"{type(self).__name__} {self.name!r}"

    def _values(self, y_pred, y_true):
        """``call`` on the batch, as Keras' wrapper calls it: the ranks lined up, the targets in the
        predictions' dtype (Keras converts both to the loss's)."""
        from .. import ops
        dtype = getattr(self, "compute_dtype", None) or y_pred.dtype
        if y_pred.dtype != dtype:
            y_pred = ops.cast(y_pred, dtype)
        y_true = np.asarray(y_true)
        if y_true.dtype != dtype:
            y_true = y_true.astype(dtype)
        y_true, y_pred = _same_rank(ops, y_true, y_pred)
        return self.call(y_true, y_pred)

    def _weights(self, values_shape, sample_weight, dtype):
        """The weights each value gets, broadcast to the weighted values' shape (a value already
        reduced to one number is weighted by every sample's weight: Keras' ``values * sample_weight``)."""
        w = np.asarray(sample_weight, dtype=dtype)
        if w.ndim == 2 and w.shape[1] == 1 and len(values_shape) == 1:
            w = w[:, 0]
        if len(values_shape) == 0:
            return w
        if w.shape[0] != values_shape[0] or w.ndim > len(values_shape):
            raise ValueError(f"{self._label()}: sample_weight of shape {w.shape} does not fit its values of shape "
                             f"{tuple(values_shape)} (one weight per sample, or per sample and position)")
        return np.broadcast_to(w.reshape(w.shape + (1,) * (len(values_shape) - w.ndim)), values_shape)

    def _reduce(self, values, sample_weight):
        """``(value, seed)``: the reduced value (or the weighted values for reduction "none") and
        d value / d values (None for "none")."""
        dtype = values.dtype if values.dtype.kind == "f" else np.float64
        w = None if sample_weight is None else self._weights(values.shape, sample_weight, dtype)
        weighted = values if w is None else values * w
        if self.reduction in (None, "none"):
            return weighted, None
        if weighted.shape == ():        # one number already (Keras reduces it no further)
            return float(weighted), np.ones((), dtype)
        if weighted.size == 0:
            return 0.0, np.zeros(values.shape, dtype)
        total = float(np.sum(weighted, dtype=np.float64))
        if self.reduction == "sum":
            divisor = 1.0
        elif self.reduction == "mean_with_sample_weight" and w is not None:
            divisor = float(np.sum(w, dtype=np.float64))
        else:
            divisor = float(weighted.size)
        factor = 1.0 / divisor if divisor else 0.0        # Keras' divide_no_nan
        seed = np.full(weighted.shape, factor, dtype) if w is None else (w * factor).astype(dtype)
        if seed.shape != values.shape:      # one value weighted by each sample's weight
            seed = np.asarray(seed.sum(), dtype).reshape(values.shape)
        return total * factor, seed

    def __call__(self, y_pred, y_true):
        """The reduced loss (a float) of predictions ``y_pred`` (n, ...) against ``y_true``."""
        return self.weighted(y_pred, y_true, None)

    # whether a value asked is computed on a recorded forward pass, for the gradient that follows it
    # (a training step), or on plain arrays (values asked alone: evaluate, validation), as last seen
    _record_values = True

    def weighted(self, y_pred, y_true, sample_weight):
        """The reduced value. In a training step, from ``call`` recorded by a GradientTape, whose
        gradient the ``weighted_gradient`` that follows on the same arrays takes: ``call`` runs once
        per step. Asked again after that gradient, of the same arrays (an output's
        ``"<output>_loss"`` log), the value of that record. Values asked alone (a value not followed
        by its gradient: ``evaluate``, validation) come from plain calls until a gradient is asked
        again. A ``call`` the tape cannot record (NumPy on ``y_pred``) runs on plain arrays, for its
        value (its gradient then says why there is none)."""
        last = self.__dict__.pop("_forward", None)
        if last is not None and last.spent and last.fits(self, y_pred, y_true, sample_weight):
            return last.value
        if last is not None and not last.spent:
            self._record_values = False         # the last value was not followed by its gradient
        if self.reduction in (None, "none") or not self._record_values:
            return self._reduce(self._plain_values(y_pred, y_true), sample_weight)[0]
        try:
            forward = _Forward(self, y_pred, y_true, sample_weight)
        except TypeError as exc:
            if "GradientTape" not in str(exc):
                raise
            return self._reduce(self._plain_values(y_pred, y_true), sample_weight)[0]
        self._forward = forward
        return forward.value

    def per_sample(self, y_pred, y_true):
        """What ``call`` gives: one loss per sample (and position), Keras' ``reduction="none"``."""
        return self._plain_values(y_pred, y_true)

    def _plain_values(self, y_pred, y_true):
        return self._checked(np.asarray(self._values(np.asarray(y_pred), y_true)))

    def _checked(self, values):
        if values.dtype.kind not in "fiu":
            raise TypeError(f"{self._label()}: expected numbers from the loss, got an array of {values.dtype}")
        return values

    def prepare_output_targets(self, y, shape, dtype, name, output="the model's output"):
        """Targets that are not shaped like the output (labels (n,) for outputs (n, k)) go to the
        function as given, in the output's dtype, as Keras hands them over (the function reads
        them as it likes); None, the usual checks, for targets of the output's shape (or (n,) and
        (n, steps) for outputs ending in 1)."""
        from ..layers.base import shape_fits
        shape = tuple(shape)
        if shape_fits(y.shape[1:], shape) or shape and shape[-1] == 1 and shape_fits(y.shape[1:], shape[:-1]):
            return None
        return y.astype(dtype, copy=False)

    def gradient(self, y_pred, y_true):
        return self.weighted_gradient(y_pred, y_true, None)

    def weighted_gradient(self, y_pred, y_true, sample_weight):
        """dL/d(y_pred), y_pred's shape: the tape's gradient of ``call``'s values, seeded with the
        reduction's derivative. Right after ``weighted`` on the same arrays (the training step's
        order) it is the gradient of that call's record; otherwise ``call`` is recorded here."""
        if self.reduction in (None, "none"):
            raise ValueError(f"{self._label()} has reduction={self.reduction!r}, one loss per sample, which has no "
                             f"gradient to train on; use reduction='sum_over_batch_size' (the default) or 'sum'")
        forward = self.__dict__.pop("_forward", None)
        try:
            if forward is None or forward.spent or not forward.fits(self, y_pred, y_true, sample_weight):
                forward = _Forward(self, y_pred, y_true, sample_weight)
                self._record_values = True      # a gradient follows values: record the next value
            grad = forward.tape.gradient(forward.values, forward.watched, output_gradients=forward.seed)
        except TypeError as exc:
            if "GradientTape" not in str(exc):
                raise
            raise TypeError(f"{self._label()}: glassnet differentiates a loss of your own with a GradientTape, which "
                            f"records glassnet.ops and Python operators alone: {exc}") from None
        if grad is None:
            raise TypeError(f"{self._label()}: its value does not depend on y_pred through anything the GradientTape "
                            f"records (plain NumPy on the values, np.asarray, .numpy(), or a constant), so it has no "
                            f"gradient to train on; write it with glassnet.ops (ops.mean, ops.square, ops.where, "
                            f"...) and Python operators")
        forward.spend()
        self._forward = forward             # its value, for a log of the same arrays that follows
        return np.asarray(grad, dtype=np.asarray(y_pred).dtype)

    def seeded_gradient(self, y_pred, y_true, sample_weight, g):
        """dL/d(y_pred) of a loss of reduction "none" whose values a GradientTape of yours reduces
        (``ops.mean(loss(enhanced, image))``, keras.io's Zero-DCE spatial consistency loss of
        ``(n, h, w, 1)`` values): the tape's gradient of ``call``'s values (times the sample
        weights) seeded with ``g``, their upstream gradient, of any shape the values have."""
        try:
            forward = _Forward(self, y_pred, y_true, sample_weight)
            shape = np.shape(forward.value)
            dtype = forward.value.dtype if forward.value.dtype.kind == "f" else np.float64
            seed = np.broadcast_to(np.asarray(g, dtype=dtype), shape)
            grad = forward.tape.gradient(forward.values, forward.watched, output_gradients=seed)
        except TypeError as exc:
            if "GradientTape" not in str(exc):
                raise
            raise TypeError(f"{self._label()}: glassnet differentiates a loss of your own with a GradientTape, which "
                            f"records glassnet.ops and Python operators alone: {exc}") from None
        if grad is None:
            raise TypeError(f"{self._label()}: its values do not depend on y_pred through anything the GradientTape "
                            f"records, so they have no gradient; write the loss with glassnet.ops and Python operators")
        forward.spend()
        return np.asarray(grad, dtype=np.asarray(y_pred).dtype)

    def __getstate__(self):
        # copies and pickles leave the latest recorded forward pass behind (it holds a tape)
        state = dict(self.__dict__)
        state.pop("_forward", None)
        return state

    def get_config(self):
        """Keras' ``Loss.get_config``: ``{"name", "reduction"}`` (a class of yours adds its own)."""
        config = {"name": self.name, "reduction": self.reduction}
        if getattr(self, "compute_dtype", None) is not None:
            config["dtype"] = self.compute_dtype.name
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<loss {self.name} ({type(self).__name__}, reduction={self.reduction!r})>"




def is_keras_style(cls):
    """Whether ``cls`` (a subclass of glassnet's Loss) writes Keras' ``call`` and no ``gradient`` of
    its own: the tape differentiates it (``Loss.__init_subclass__`` then puts Taped before its bases)."""
    return callable(getattr(cls, "call", None)) and cls.gradient is Loss.gradient and Taped not in cls.__mro__


class FunctionLoss(Taped, Loss):
    """``compile(loss=fn)`` for a function ``fn(y_true, y_pred)`` of yours (Keras' ``LossFunctionWrapper``):
    named by ``fn.__name__``; a model file names the function, which loading finds registered
    (``glassnet.saving.register_serializable``) or in ``custom_objects``, as Keras'.

    >>> from glassnet import ops
    >>> def my_loss(y_true, y_pred):
    ...     return ops.mean(ops.square(y_true - y_pred), axis=-1)
    >>> loss = FunctionLoss(my_loss)
    >>> loss.name, float(loss(np.array([[1.0, 3.0]]), np.array([[0.0, 0.0]])))
    ('my_loss', 5.0)
    >>> loss.gradient(np.array([[1.0, 3.0]]), np.array([[0.0, 0.0]])).tolist()
    [[1.0, 3.0]]
    """

    def __init__(self, fn, reduction=DEFAULT_REDUCTION, name=None):
        if not callable(fn):
            raise TypeError(f"FunctionLoss: fn: expected a function fn(y_true, y_pred), got {fn!r:.60}")
        self.fn = fn
        self.compute_dtype = None
        self._take_reduction(reduction, name or getattr(fn, "__name__", None) or type(fn).__name__)

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred)

    def get_config(self):
        return {"fn": getattr(self.fn, "__name__", None), "name": self.name, "reduction": self.reduction}

    def __repr__(self):
        return f"<loss {self.name} (function {getattr(self.fn, '__qualname__', self.fn)!r})>"
