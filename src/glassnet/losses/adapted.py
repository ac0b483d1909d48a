"""Keras' ``dtype=`` and ``axis=`` of the loss classes: a loss that computes in a dtype of its own
(``_Cast``), and a cross-entropy whose classes lie along another axis than the last (``_Axis``).

As for another reduction (glassnet.losses.base), a loss built with either becomes, once, at
construction, an instance of a subclass of its class whose methods adapt the arrays, then run the
class's own: a loss at its defaults (``dtype=None``, ``axis=-1``) is untouched, so the training hot
path (the fused softmax or sigmoid + cross-entropy) tests nothing per step.

``dtype="float32"`` or ``"float64"`` (Keras 3.15's ``Loss(dtype=...)``): the predictions, and
floating targets, are cast to it; the value (and ``reduction="none"``'s values) is computed in it, and
a gradient comes back in the predictions' own dtype, as TensorFlow's gradient of a cast does.
``dtype=None``, the default, computes in the predictions' dtype (Keras: ``floatx()``, float32).

``axis=k`` (Keras' cross-entropies and focal cross-entropies): the classes (the values reduced per
sample) lie along axis k, ``(n, C, L)`` with ``axis=1`` (PyTorch's class axis); the loss moves that
axis last and runs as usual, so per-sample values are ``(n, L)`` and gradients come back in the
given layout. As in Keras, label smoothing counts the classes of the targets' *last* axis, whatever
``axis`` (``y (1 - s) + s / shape[-1]``). After a softmax output (over the last axis) the fused path
is taken where the loss's axis is the last one too (``axis=1`` on ``(n, k)``), else the loss of the
outputs with its gradient back through that softmax; a sigmoid is element-wise: the binary ones fuse.
"""
import numpy as np

from ..activations import backprop_softmax
from .base import LOSS_DTYPES, aligned_targets


def check_dtype(dtype, caller):
    """``dtype`` as ``"float32"``/``"float64"`` (a name, a NumPy dtype or type, a Keras
    ``DTypePolicy``'s compute dtype), None for None; a ValueError naming ``caller`` otherwise."""
    if dtype is None:
        return None
    name = getattr(dtype, "compute_dtype", dtype)         # a Keras DTypePolicy: what Keras computes in
    try:
        name = np.dtype(name).name if not isinstance(name, bool) else None
    except TypeError:
        name = None
    if name not in LOSS_DTYPES:
        raise ValueError(f"{caller}: dtype must be None (the predictions' dtype), 'float32' or 'float64', got "
                         f"{dtype!r:.60}" + (" (a loss clips probabilities to [1e-7, 1 - 1e-7], which float16 "
                                             "cannot hold)" if name in ("float16", "bfloat16") else ""))
    return name


def check_axis(axis, caller):
    """``axis`` as an int (any but the batch axis, checked against the outputs when called)."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{caller}: axis must be an integer (the classes' axis; -1, the last, by default), "
                         f"got {axis!r:.60}")
    if axis == 0:
        raise ValueError(f"{caller}: axis=0 is the batch axis; a loss reduces each sample's classes: give their "
                         f"axis (1 for outputs (n, classes, steps), -1 for the last)")
    return int(axis)


def _floating(array, dtype):
    """``array`` in ``dtype`` when it holds floats (targets given as floats too); others as they are."""
    array = np.asarray(array)
    return array.astype(dtype, copy=False) if array.dtype.kind == "f" else array


class _Adapted:
    """A loss adapting the arrays for the class below it, ``_inner_class`` (the loss's class without
    this adaptation: another one, its reduction's, or its own), which it runs on a view of itself
    (the same settings): that class's inner calls (``__call__`` giving ``weighted``) stay its own, so
    nothing is adapted twice."""

    def _inner(self):
        view = object.__new__(type(self)._inner_class)
        view.__dict__ = self.__dict__
        return view

    def fused_activation(self):
        return self._inner().fused_activation()

    def prepare_output_targets(self, y, shape, dtype, name, output="the model's output"):
        return self._inner().prepare_output_targets(y, shape, dtype, name, output)


class _Cast(_Adapted):
    """The methods of a loss with its own ``dtype``: the arrays cast to it, then the class's own;
    gradients cast back to the predictions' dtype."""

    def _in(self, *arrays):
        return [_floating(a, self.dtype) for a in arrays]

    def __call__(self, y_pred, y_true):
        return self._inner().__call__(*self._in(y_pred, y_true))

    def weighted(self, y_pred, y_true, sample_weight):
        return self._inner().weighted(*self._in(y_pred, y_true), sample_weight)

    def per_sample(self, y_pred, y_true):
        return self._inner().per_sample(*self._in(y_pred, y_true))

    def gradient(self, y_pred, y_true):
        return _back(self._inner().gradient(*self._in(y_pred, y_true)), y_pred)

    def weighted_gradient(self, y_pred, y_true, sample_weight):
        return _back(self._inner().weighted_gradient(*self._in(y_pred, y_true), sample_weight), y_pred)

    # fused: z the logits, a the activation's values
    def value_from_logits(self, z, a, y_true):
        return self._inner().value_from_logits(*self._in(z, a, y_true))

    def weighted_from_logits(self, z, a, y_true, sample_weight):
        return self._inner().weighted_from_logits(*self._in(z, a, y_true), sample_weight)

    def per_sample_from_logits(self, z, a, y_true):
        return self._inner().per_sample_from_logits(*self._in(z, a, y_true))

    def gradient_from_logits(self, a, y_true):
        return _back(self._inner().gradient_from_logits(*self._in(a, y_true)), a)

    def weighted_gradient_from_logits(self, a, y_true, sample_weight):
        return _back(self._inner().weighted_gradient_from_logits(*self._in(a, y_true), sample_weight), a)

    def from_logits_and_gradient(self, z, a, y_true):
        value, g = self._inner().from_logits_and_gradient(*self._in(z, a, y_true))
        return value, _back(g, a)

    def output_gradient_unclipped(self, a, y_true):
        return _back(self._inner().output_gradient_unclipped(*self._in(a, y_true)), a)


def _back(gradient, like):
    """A gradient computed in the loss's dtype, in that of the array ``like`` it is taken against."""
    dtype = getattr(like, "dtype", None)
    return gradient if dtype is None or dtype.kind != "f" or gradient.dtype == dtype else gradient.astype(dtype)


class _Axis(_Adapted):
    """The methods of a cross-entropy whose classes lie along ``axis``: that axis moved last on the
    predictions and the targets, the class's own methods, the gradient moved back."""

    def _axis_of(self, y_pred):
        ndim = np.ndim(y_pred)
        if not -ndim <= self.axis < ndim or self.axis % ndim == 0:
            raise ValueError(f"{self.name}: axis={self.axis} does not fit predictions of shape {np.shape(y_pred)} "
                             f"(the classes' axis: one of 1 to {ndim - 1}, or -{ndim - 1} to -1)")
        return self.axis % ndim

    def _moved(self, y_pred, y_true):
        """``(axis, y_pred, y_true)`` with the classes' axis last, the targets as Keras smooths them."""
        axis = self._axis_of(y_pred)
        y_true = aligned_targets(y_pred, y_true, self.name)
        if axis == y_pred.ndim - 1:
            return axis, y_pred, y_true
        y_true = self._smoothed_by_last_axis(y_true, y_pred.shape[axis])
        return axis, np.moveaxis(y_pred, axis, -1), np.moveaxis(y_true, axis, -1)

    def _smoothed_by_last_axis(self, y, classes):
        """Targets on which the class's smoothing over ``classes`` (the moved axis) gives Keras'
        ``y (1 - s) + s / y.shape[-1]``: the categorical losses' (a binary one smooths towards 1/2,
        whatever the axis)."""
        s, last = getattr(self, "label_smoothing", 0.0), y.shape[-1]
        if not s or self.applies == "sigmoid" or last == classes:
            return y
        if s == 1:
            raise ValueError(f"{self.name}: label_smoothing=1 with axis={self.axis}: Keras smooths every target to "
                             f"1/{last} (the last axis' size), which the classes along axis {self.axis} ({classes}) "
                             f"cannot take; smooth the targets yourself")
        y = np.asarray(y)
        return y + (s / last - s / classes) / (1 - s)

    def __call__(self, y_pred, y_true):
        return self._inner().__call__(*self._moved(y_pred, y_true)[1:])

    def weighted(self, y_pred, y_true, sample_weight):
        return self._inner().weighted(*self._moved(y_pred, y_true)[1:], sample_weight)

    def per_sample(self, y_pred, y_true):
        return self._inner().per_sample(*self._moved(y_pred, y_true)[1:])

    def gradient(self, y_pred, y_true):
        axis, p, y = self._moved(y_pred, y_true)
        return np.moveaxis(self._inner().gradient(p, y), -1, axis)

    def weighted_gradient(self, y_pred, y_true, sample_weight):
        axis, p, y = self._moved(y_pred, y_true)
        return np.moveaxis(self._inner().weighted_gradient(p, y, sample_weight), -1, axis)

    # fused, z the logits and a the activation's values. A sigmoid is element-wise: z moves as a
    # does. A softmax output normalises the last axis: where that is the loss's axis too (axis=1 on
    # (n, k)), the class's fused path; where not, the loss of the outputs (unfused) and its gradient
    # back through that softmax (``_elsewhere``)
    def _elsewhere(self, a):
        return self.applies == "softmax" and self._axis_of(a) != np.ndim(a) - 1

    def _moved_logits(self, z, a, y_true):
        axis, a, y = self._moved(a, y_true)
        return axis, np.moveaxis(z, axis, -1), a, y

    def value_from_logits(self, z, a, y_true):
        if self._elsewhere(a):
            return self(a, y_true)
        return self._inner().value_from_logits(*self._moved_logits(z, a, y_true)[1:])

    def weighted_from_logits(self, z, a, y_true, sample_weight):
        if self._elsewhere(a):
            return self.weighted(a, y_true, sample_weight)
        return self._inner().weighted_from_logits(*self._moved_logits(z, a, y_true)[1:], sample_weight)

    def per_sample_from_logits(self, z, a, y_true):
        if self._elsewhere(a):
            return self.per_sample(a, y_true)
        return self._inner().per_sample_from_logits(*self._moved_logits(z, a, y_true)[1:])

    def gradient_from_logits(self, a, y_true):
        if self._elsewhere(a):
            return backprop_softmax(self.gradient(a, y_true), None, a)
        axis, a, y = self._moved(a, y_true)
        return np.moveaxis(self._inner().gradient_from_logits(a, y), -1, axis)

    def weighted_gradient_from_logits(self, a, y_true, sample_weight):
        if self._elsewhere(a):
            return backprop_softmax(self.weighted_gradient(a, y_true, sample_weight), None, a)
        axis, a, y = self._moved(a, y_true)
        return np.moveaxis(self._inner().weighted_gradient_from_logits(a, y, sample_weight), -1, axis)

    def from_logits_and_gradient(self, z, a, y_true):
        if self._elsewhere(a):
            return self(a, y_true), self.gradient_from_logits(a, y_true)
        axis, z, a, y = self._moved_logits(z, a, y_true)
        value, g = self._inner().from_logits_and_gradient(z, a, y)
        return value, np.moveaxis(g, -1, axis)

    def output_gradient_unclipped(self, a, y_true):
        if self._elsewhere(a):
            return self.gradient(a, y_true)
        axis, a, y = self._moved(a, y_true)
        return np.moveaxis(self._inner().output_gradient_unclipped(a, y), -1, axis)

    def prepare_output_targets(self, y, shape, dtype, name, output="the model's output"):
        """fit's targets of an output of sample ``shape``, checked by the class with the classes'
        axis last (as it checks its rows), returned in the given layout."""
        from ..preparing import prepare_targets
        axis = self._axis_of(np.empty((0,) * (len(shape) + 1)))
        if axis == len(shape):
            return None
        y = np.asarray(y)
        if y.ndim != len(shape) + 1:
            raise ValueError(f"{name}: {self.name} with axis={self.axis} takes targets of {output}'s shape "
                             f"(n_samples, {', '.join(map(str, shape))}), got shape {y.shape}")
        moved = tuple(shape[i] for i in range(len(shape)) if i != axis - 1) + (shape[axis - 1],)
        inner = self._inner()           # the class's own checks, on the same settings
        return np.moveaxis(prepare_targets(inner, np.moveaxis(y, axis, -1), moved, dtype, name, output), -1, axis)


class _LastAxis(_Axis):
    """SparseCategoricalCrossentropy's ``axis``: Keras 3.15's TensorFlow backend takes -1 or the
    predictions' last axis by its positive number (``axis=1`` on ``(n, k)``) and refuses any other;
    the labels have no class axis, so nothing moves: the axis is checked against the predictions."""

    def _moved(self, y_pred, y_true):
        axis = self._axis_of(y_pred)
        if axis != np.ndim(y_pred) - 1:
            raise ValueError(f"{self.name}: axis={self.axis} on predictions of shape {np.shape(y_pred)}: the labels' "
                             f"classes are the last axis (-1 or {np.ndim(y_pred) - 1}), the only one Keras' "
                             f"TensorFlow backend takes")
        return axis, y_pred, y_true

    def prepare_output_targets(self, y, shape, dtype, name, output="the model's output"):
        self._moved(np.empty((0,) * (len(shape) + 1)), None)
        return self._inner().prepare_output_targets(y, shape, dtype, name, output)

