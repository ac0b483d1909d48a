"""Sample and class weights for ``fit``, ``evaluate``, ``train_on_batch`` and ``test_on_batch``.

Both become one vector of shape (n_samples,) in the model's dtype, checked once per call, never per
batch. What the weights do is the losses' business (see ``glassnet.losses``): Keras semantics, each
sample's loss times its weight, summed, divided by the number of samples in the batch. For an output
with positions (a tagger's steps, a segmenter's pixels) ``sample_weight`` may instead hold one weight
per position, (n_samples, *positions), Keras' temporal weights: each position's loss times its own
weight, summed, divided by the number of positions scored (n_samples * steps; with a mask, the real
steps), not by the sum of the weights (scoring.Rows turns them into one weight per row).

``class_weight`` maps a class index to a weight; each sample gets the weight of its class, found
as Keras finds it: integer labels as they are, the argmax of one-hot rows, the rounded target of a
single output unit (0 or 1). Classes the dict leaves out weigh 1 (Keras). ``class_weight`` and
``sample_weight`` together are refused, as Keras 3 refuses them: whether they should multiply or one
should win is a guess (tf.keras 2 multiplied); multiply them yourself if that is what you mean.

>>> combine(np.array([0, 1, 1]), None, class_weight_table({1: 5.0}, 2, np.float32))
array([1., 5., 5.], dtype=float32)
"""
import math
import numbers
from collections.abc import Mapping

import numpy as np

from . import backend
from ._validation import as_array


def refuse_both(sample_weight, class_weight):
    """Raise ValueError when both are given (Keras 3 does the same)."""
    if sample_weight is not None and class_weight is not None:
        raise ValueError("give sample_weight or class_weight, not both (as in Keras 3); to use both, "
                         "pass sample_weight multiplied by each sample's class weight")


def check_sample_weight(sample_weight, n_samples, dtype, name="sample_weight", positions=None, column=False):
    """Return ``sample_weight`` as an array of shape (n_samples,) and ``dtype``; None stays None.
    With ``positions`` (the position axes of a model's output: (steps,) for a tagger, (H, W) for a
    segmenter), one weight per position, (n_samples, *positions), is taken too (Keras' temporal
    weights), and so is (n_samples, *positions, 1), returned as (n_samples, *positions): Keras drops
    that last axis of 1 (a segmenter's weight maps are often kept shaped like its (n, H, W, 1) masks).

    With ``column`` (a model's output without positions: (n, k) or one number per sample), an
    (n, 1) column is taken as (n,): Keras 3.15 squeezes it off beside a loss of one value per sample
    (measured: losses, weighted metrics and training equal to those of (n,)).

    Refuses (ValueError/TypeError naming ``name``) anything but finite numbers >= 0, one per sample
    or one per position. Shapes that would only broadcast, an (n, 1) column elsewhere (scikit-learn's
    wrappers, an output with positions) or Keras' per-sample (n, 1, 1) for a segmenter, are refused
    too, with a hint, rather than guessed at.

    >>> check_sample_weight([1, 0, 2], 3, np.float64)
    array([1., 0., 2.])
    >>> check_sample_weight(np.ones((2, 3, 1)), 2, np.float32, positions=(3,)).shape
    (2, 3)
    >>> check_sample_weight(np.ones((2, 1)), 2, np.float32, column=True).shape
    (2,)
    """
    if sample_weight is None:
        return None
    # checked in float64 (or as given), cast last: a weight beyond float32's range would become inf
    w = as_array(sample_weight, name, np.float64)
    if positions is not None and w.shape == (n_samples, *positions, 1):
        # Keras squeezes a last axis of 1 off weights one rank above the loss's values (n, *positions)
        w = w.reshape(w.shape[:-1])
    if column and positions is None and w.shape == (n_samples, 1):
        w = w.reshape(n_samples)
    per_position = positions is not None and w.shape == (n_samples, *positions)
    if w.shape != (n_samples,) and not per_position:
        raise ValueError(f"{name}: expected one weight per sample, shape ({n_samples},)"
                         + (f", or one per position of the output, shape {(n_samples, *positions)}" if positions
                            else "")
                         + f", got shape {w.shape}{_column_hint(w.shape, n_samples, positions)}")
    negative = int((w < 0).sum())
    if negative:
        raise ValueError(f"{name}: weights must be >= 0, got {negative} negative value(s), the "
                         f"smallest {float(w.min())}")
    dtype = np.dtype(dtype)
    if float(w.max()) > float(np.finfo(dtype).max):
        raise ValueError(f"{name}: contains weights too large for {dtype.name} (up to {float(w.max())})")
    return w.astype(dtype, copy=False)


def _column_hint(shape, n_samples, positions):
    """A hint for refused weights of one value per sample that would broadcast: (n, 1), (n, 1, 1)."""
    if len(shape) < 2 or shape[0] != n_samples or any(d != 1 for d in shape[1:]):
        return ""
    if not positions:
        return "; flatten it with .ravel()"
    # Keras broadcasts these over the positions; its "mean_with_sample_weight" then divides by the
    # sum of the n weights given, not of the weights every position gets: (n,) here says which
    return (f"; for one weight per sample, applied to each of its positions, flatten it with .ravel() "
            f"to shape ({n_samples},)")


def class_weight_table(class_weight, n_outputs, dtype):
    """Check ``class_weight`` for a model with ``n_outputs`` output units and return the weight of
    every class as an array of shape (n_classes,): 1 for the classes the dict leaves out.

    A model has ``n_outputs`` classes, or 2 (labels 0 and 1) when it has a single output unit.

    >>> class_weight_table({1: 5.0}, 1, np.float32)
    array([1., 5.], dtype=float32)
    """
    if not isinstance(class_weight, Mapping):
        raise TypeError(f"class_weight: expected a dict mapping class index to weight, such as "
                        f"{{0: 1.0, 1: 5.0}}, got {type(class_weight).__name__}")
    n_classes = max(int(n_outputs), 2)
    table = np.ones(n_classes, dtype=dtype)
    for key, value in class_weight.items():
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)):
            raise TypeError(f"class_weight: keys must be integer class indices, got {key!r}")
        if not 0 <= key < n_classes:
            units = "one output unit (labels 0 and 1)" if n_outputs == 1 else f"{n_outputs} output units"
            raise ValueError(f"class_weight: {key!r} is not a class of this model, whose classes are 0 "
                             f"to {n_classes - 1} ({units})")
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"class_weight[{key!r}]: expected a number, got {value!r}")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"class_weight[{key!r}]: expected a finite weight >= 0, got {value!r}")
        if value > float(np.finfo(table.dtype).max):
            raise ValueError(f"class_weight[{key!r}]: {value!r} is too large for {table.dtype.name}")
        table[key] = value
    return table


def class_labels(y):
    """The class of each sample, shape (n,), from targets prepared by the loss: integer labels (n,)
    as they are, the argmax of (n, k) rows, the rounded value of (n, 1) targets, which must be 0 or 1.

    >>> class_labels(np.array([[0.0, 1.0], [1.0, 0.0]]))
    array([1, 0])
    """
    if y.ndim == 1:
        # (labels a loss of yours receives in the output's float dtype, as Keras hands them over:
        # rounded, as Keras' class_weight_to_sample_weights rounds them)
        return y if y.dtype.kind in "iu" else y.astype(np.int64) if y.dtype.kind == "b" else \
            y.round().astype(np.int64)
    if y.shape[1] > 1:
        return y.argmax(axis=1)
    # Keras rounds (half to even, so 0.5 is class 0); a target that rounds to anything but 0 or 1 is
    # no class label, and the weight of 1 Keras would give it silently hides the mistake
    labels = np.round(y[:, 0]).astype(np.int64)
    if labels.min() < 0 or labels.max() > 1:
        raise ValueError(f"class_weight: the targets of a single-output model must round to 0 or 1 to "
                         f"be class labels, got values from {float(y.min())} to {float(y.max())}")
    return labels


def combine(y, sample_weight, table):
    """Per-sample weights, shape (n,): the class ``table`` (n_classes,) looked up for targets ``y``
    ((n,) labels or (n, k)), times ``sample_weight`` (n,); either may be None, and None comes back
    when both are.

    >>> combine(np.array([0, 1]), np.array([2.0, 2.0]), np.array([1.0, 5.0]))
    array([ 2., 10.])
    """
    if table is None:
        return sample_weight
    labels = class_labels(y)
    xp = backend.get_array_module(labels)
    table = xp.asarray(table)                                           # the table where y is (CuPy)
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= len(table)):
        # labels outside the classes passed the loss's check: SparseCategoricalCrossentropy's
        # ignore_class (255, -1), whose samples count for nothing whatever they weigh: 1 here
        inside = (labels >= 0) & (labels < len(table))
        return xp.where(inside, table[xp.where(inside, labels, 0)], 1).astype(table.dtype, copy=False) * (
            1 if sample_weight is None else sample_weight)
    weights = table[labels]
    return weights if sample_weight is None else weights * sample_weight
