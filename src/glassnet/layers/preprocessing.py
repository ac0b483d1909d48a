"""Normalization: features shifted and scaled by statistics of the training data, inside the model
(Keras' ``Normalization`` preprocessing layer), so that ``predict`` takes raw inputs too."""
import copy
import math

import numpy as np

from .. import backend
from .._warnings import warn
from .._statistics import merge_moments
from .._validation import check_flag, rows_per_block
from ..feeding import is_dataset
from .base import Layer, check_axis, sample_axes

# the smallest standard deviation divided by: Keras' backend.epsilon(); a feature that never
# varies (a constant pixel) is shifted to 0, not divided by 0


def adapt_batches(layer, data):
    """The batches an ``adapt`` reads, as ``(what, array)``: ``data`` itself when it is an array
    ("data"), else each of an iterable's (a list, a generator: "batch i") or a ``PyDataset``'s,
    the x of ``(x, y)`` pairs; each must hold real numbers. Anything else is a TypeError naming
    ``layer``."""
    single = hasattr(data, "__array__") or isinstance(data, np.ndarray)
    if is_dataset(data):
        # Keras' adapt takes a PyDataset; glassnet's is read by index (it has no __iter__), so its
        # batches are read in order here, each once. One without an end would never finish.
        n = data.num_batches
        if n is None:
            raise ValueError(f"{layer.describe()}: adapt reads every batch of the data, and "
                             f"{type(data).__name__} has no end (its num_batches is None); give it a "
                             f"__len__, or adapt on an array or a list of batches")
        dataset = data
        data = (dataset[i] for i in range(int(n)))
    elif not single and (not hasattr(data, "__iter__") or isinstance(data, (str, bytes, dict))):
        raise TypeError(f"{layer.describe()}: adapt: expected an array (N, ...) or an iterable of such batches, "
                        f"got {type(data).__name__} (a list, a generator and a PyDataset of batches are read)")
    for i, batch in enumerate([data] if single else data):
        if isinstance(batch, tuple) and batch:      # (x, y) or (x, y, sample_weight)
            batch = batch[0]
        batch = np.asarray(backend.to_numpy(batch))
        what = "data" if single else f"batch {i}"
        if batch.dtype.kind not in "biuf":
            raise TypeError(f"{layer.describe()}: adapt: {what} must hold real numbers, got dtype {batch.dtype}")
        yield what, batch


class Normalization(Layer):
    """``(x - mean) / max(sqrt(variance), 1e-7)``, with ``mean`` and ``variance`` learnt from data by
    ``adapt`` or given; ``invert=True`` undoes it, ``x * max(sqrt(variance), 1e-7) + mean``.

    Parameters
    ----------
    axis : int, list of ints, or None
        The axes of the input (batch axis 0 excluded; negative ones count from the end) that keep a
        mean and variance per index: -1, one per feature after the input (N, F) or per channel of
        images (N, H, W, C); None, one mean and variance for every value.
    mean, variance : float or array-like, optional
        Given together, instead of ``adapt``: a number, or values that broadcast (NumPy's rule,
        aligned on the right) to the kept axes' shape, of no more axes than ``axis`` names (Keras'
        rule: a (1, F) mean for ``axis=-1`` is refused when the layer is made); variance >= 0.
    invert : bool
        Apply the inverse: turn normalised values back into the data's scale (targets, say).

    ``state``: ``mean`` and ``variance``, shaped like the kept axes ((F,) for ``axis=-1`` after
    (N, F); () for ``axis=None``), not trained, saved with the model, and set by ``adapt``. A layer
    given ``mean`` and ``variance`` keeps them in its config instead and has no weights (Keras). Keras
    3 adds a third weight, ``count``, which it never updates; glassnet has none, so ``set_weights``
    with Keras' three arrays wants ``[mean, variance]``. Shapes: input (batch, ...) -> output of
    the same shape. The gradient is the upstream one divided by (``invert``: times) the standard
    deviation; the statistics get none.

    Example
    -------
    >>> layer = Normalization()
    >>> layer.adapt(np.array([[0.0, 7.0], [2.0, 9.0], [0.0, 7.0], [2.0, 9.0]]))
    >>> layer(np.array([[0.0, 7.0]])).tolist()
    [[-1.0, -1.0]]
    >>> Normalization(mean=3.0, variance=4.0)(np.array([[1.0], [3.0]])).tolist()
    [[-1.0], [0.0]]
    """

    supports_masking = True      # each step on its own: a mask passes on (layers/masking.py)
    stacks_lists = True          # called alone on a list of arrays: one array, as Keras' (layers/base.py)

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)) and not axis:
            axis = None         # Keras' own form of None, (), which its config (and file) holds as []
        self.axis = None if axis is None else check_axis(axis, "Normalization")
        if (mean is None) != (variance is None):
            raise ValueError(f"Normalization: give mean and variance together, or neither (and call "
                             f"adapt); got mean={mean!r:.60} and variance={variance!r:.60}")
        # the given statistics, under Keras' names (its config's "mean" and "variance"); ``mean`` and
        # ``variance`` are Keras' broadcast tensors of the statistics in use (the properties below)
        self.input_mean = self.input_variance = None
        if mean is not None:
            self.input_mean = _statistic(mean, "mean")
            self.input_variance = _statistic(variance, "variance")
            if np.shape(self.input_mean) != np.shape(self.input_variance):
                raise ValueError(f"Normalization: mean and variance must have one shape, got "
                                 f"{np.shape(self.input_mean)} and {np.shape(self.input_variance)}")
            # one number per index of the kept axes: more axes would broadcast into axes the layer
            # does not keep, which Keras refuses when the layer is made
            axes = 0 if self.axis is None else len(self.axis) if isinstance(self.axis, list) else 1
            if np.ndim(self.input_mean) > axes:
                raise ValueError(f"Normalization: mean and variance must have at most as many axes as axis names "
                                 f"({axes}: axis={self.axis!r}), got shape {np.shape(self.input_mean)}")
            if (np.asarray(self.input_variance) < 0).any():
                raise ValueError(f"Normalization: variance must be >= 0, got {variance!r:.80}")
        self.invert = check_flag(invert, "Normalization: invert")
        self.state = {}
        self._warned = self._adapted = False

    def _kept_axes(self, sample_shape):
        """The batch's axes (0 excluded) with a statistic per index, sorted and positive."""
        return () if self.axis is None else sample_axes(self, self.axis, len(sample_shape) + 1)

    def build(self, input_shape):
        self._kept = kept = self._kept_axes(input_shape)
        shape = tuple(input_shape[a - 1] for a in kept)
        # the statistics' shape against a batch: the kept axes' sizes, 1 elsewhere
        self._broadcast = tuple(input_shape[a - 1] if a in kept else 1 for a in range(1, len(input_shape) + 1))
        xp = backend.xp()
        dtype = self.dtype or np.float32
        self._reserve("mean and variance", (2, *shape))
        if self.input_mean is None:
            # mean 0 and variance 1 until adapt: the layer passes its input on (Keras)
            self.state = {"mean": xp.zeros(shape, dtype), "variance": xp.ones(shape, dtype)}
        else:
            try:
                fixed = [np.broadcast_to(np.asarray(v, np.float64), shape)
                         for v in (self.input_mean, self.input_variance)]
            except ValueError:
                raise ValueError(f"{self.describe()}: mean and variance of shape {np.shape(self.input_mean)} do "
                                 f"not broadcast to the kept axes' shape {shape} (axis={self.axis!r} of "
                                 f"samples of shape {tuple(input_shape)})") from None
            with np.errstate(over="ignore"):
                self._fixed = [xp.asarray(v, dtype) for v in fixed]
            if not all(bool(xp.isfinite(v).all()) for v in self._fixed):
                raise ValueError(f"{self.describe()}: mean or variance is beyond the range of {np.dtype(dtype)}"
                                 f"{_FLOAT64_HINT if np.dtype(dtype) == np.float32 else ''}")
        super().build(input_shape)

    def _statistics(self, dtype):
        """mean and standard deviation in ``dtype``, shaped to broadcast against a batch."""
        mean, variance = (self.state["mean"], self.state["variance"]) if self.state else self._fixed
        std = np.maximum(np.sqrt(variance.astype(dtype, copy=False)), dtype.type(backend.epsilon()))
        return mean.astype(dtype, copy=False).reshape(self._broadcast), std.reshape(self._broadcast)

    def forward(self, x, training=False):
        if x.dtype.kind not in "fc":             # uint8 pixels called directly: floats first
            x = x.astype(self.dtype or np.float32)
        if not self._fits(x.shape):
            raise ValueError(f"{self.describe()}: expected input samples of shape {self.input_shape}, "
                             f"got {x.shape[1:]}")
        if not self._warned and self.state:
            self._warned = True
            # never adapted here, and its statistics not loaded either: still mean 0, variance 1
            if not self._adapted and not self.state["mean"].any() and bool((self.state["variance"] == 1).all()):
                warn(f"{self.describe()} has its initial mean 0 and variance 1 and passes its "
                     f"input on unchanged: call its adapt(x_train) before training or "
                     f"predicting, or give it mean= and variance=")
        mean, self._std = self._statistics(x.dtype)
        if self.invert:
            out = x * self._std
            out += mean
            return out
        return (x - mean) / self._std

    def backward(self, grad_output):
        if not self.needs_input_gradient:       # the usual place: a model's first layer
            return None
        return grad_output * self._std if self.invert else grad_output / self._std

    def adapt(self, data):
        """Set ``mean`` and ``variance`` (biased, over the batch axis and every axis not kept) from
        ``data``: an array (N, ...) of the layer's sample shape, or an iterable (a list, a generator)
        or a ``PyDataset`` of such batches, for data that does not fit in memory at once (``(x, y)``
        pairs give their x). Computed in float64 with Chan's merge, a block of samples at a time, then stored in the
        layer's dtype. Builds the layer from the data when it is not built yet; inside a model,
        adapt the model's layer (``model.layers[0].adapt(x_train)``) before or after ``compile``.

        Example
        -------
        >>> layer = Normalization(axis=None)
        >>> layer.adapt([np.array([[1.0], [2.0]]), np.array([[3.0], [4.0], [5.0]])])
        >>> float(layer.state["mean"]), float(layer.state["variance"])
        (3.0, 2.0)
        """
        if self.input_mean is not None:
            raise ValueError(f"{self.describe()}: mean and variance were given when it was made; adapt "
                             f"learns them from data: make the layer without them to adapt it")
        spec = getattr(data, "element_spec", None)
        if spec is not None and callable(getattr(data, "batch", None)):
            # a tf.data.Dataset of single feature vectors: Keras' Normalization.adapt batches one whose
            # elements (or (x, y) pairs' x) are of rank 1, by 128, where its batches are refused here
            shape = getattr(spec[0] if isinstance(spec, tuple) and spec else spec, "shape", None)
            if shape is not None and len(shape) == 1:
                data = data.batch(128)
        count, mean, deviations = 0, 0.0, 0.0
        for what, batch in adapt_batches(self, data):
            if not self.built:
                if batch.ndim < 2 or 0 in batch.shape[1:]:
                    raise ValueError(f"{self.describe()}: adapt: expected samples along axis 0 of {what}, "
                                     f"(N, ...), none of their axes empty, got shape {batch.shape}")
                if self.dtype is None:          # as a first call would: float32 unless dtype= said
                    self.dtype = np.dtype(np.float32)
                # the shape given when it was made (input_shape=), else the data's
                self.build(self.input_shape or batch.shape[1:])
            self._check_adapt_shape(batch.shape, what)
            rows = rows_per_block(batch)
            for start in range(0, batch.shape[0], rows):
                count, mean, deviations = self._merge_block(batch[start:start + rows], count, mean,
                                                            deviations, what)
        if count == 0:
            raise ValueError(f"{self.describe()}: adapt: the data holds no samples")
        xp = backend.get_array_module(self.state["mean"])     # where the layer's state is, whatever the backend
        dtype = self.state["mean"].dtype
        with np.errstate(over="ignore", invalid="ignore"):
            values = [np.asarray(mean, dtype), np.asarray(deviations / count, dtype)]
        if not all(np.isfinite(v).all() for v in values):
            raise ValueError(f"{self.describe()}: adapt: the data's mean or variance is beyond the range "
                             f"of {dtype}; scale the data{_FLOAT64_HINT if dtype == np.float32 else ''}")
        self.state["mean"][...] = xp.asarray(values[0])
        self.state["variance"][...] = xp.asarray(values[1])
        self._adapted = True

    def _fits(self, shape):
        """Whether a batch of ``shape`` has the layer's rank and, on the kept axes, its sizes (the
        others are reduced over by adapt and broadcast over by forward: any size will do)."""
        return len(shape) == len(self.input_shape) + 1 and all(shape[a] == self.input_shape[a - 1] for a in self._kept)

    def _check_adapt_shape(self, shape, what):
        """The kept axes must have the built sizes (the others are reduced over, of any size)."""
        if not self._fits(shape):
            raise ValueError(f"{self.describe()}: adapt: {what} has samples of shape {tuple(shape[1:])}, the "
                             f"layer's are {self.input_shape} (axis={self.axis!r} kept)")

    def _merge_block(self, block, count, mean, deviations, what):
        """Fold one block of samples into the running ``(count, mean, deviations)``."""
        reduced = tuple(a for a in range(block.ndim) if a not in self._kept)
        n = math.prod(block.shape[a] for a in reduced)
        if n == 0:
            return count, mean, deviations
        block = block.astype(np.float64)
        if not np.isfinite(block).all():
            raise ValueError(f"{self.describe()}: adapt: {what} holds NaN or infinite values")
        block_mean = block.mean(axis=reduced, keepdims=True)
        block -= block_mean
        with np.errstate(over="ignore"):        # deviations past float64's range: refused by adapt
            block *= block
        block_deviations = block.sum(axis=reduced)
        mean, deviations = merge_moments(count, mean, deviations, n, block_mean.reshape(block_deviations.shape),
                                         block_deviations)
        return count + n, mean, deviations

    def get_config(self):
        # copies: a caller editing the config must not edit the layer
        return {**super().get_config(), "axis": copy.deepcopy(self.axis), "mean": copy.deepcopy(self.input_mean),
                "variance": copy.deepcopy(self.input_variance), "invert": self.invert}

    # Keras' ``layer.mean`` / ``layer.variance`` (the TensorFlow regression tutorial's
    # ``normalizer.mean.numpy()``): None until the layer is built, then the statistics in use,
    # learnt or given, shaped to broadcast against a batch (``(1, F)`` after inputs ``(N, F)``)
    @property
    def mean(self):
        return self._keras_statistic(0, "mean")

    @property
    def variance(self):
        return self._keras_statistic(1, "variance")

    def _keras_statistic(self, which, name):
        if not self.built:
            return None
        from ..variables import Variable
        value = (self.state["mean"], self.state["variance"])[which] if self.state else self._fixed[which]
        value = backend.to_numpy(value).reshape((1, *self._broadcast))
        # a copy read now (Keras' is a tensor made at each adapt): adapt again, and read it again
        return Variable(value, dtype=value.dtype, trainable=False, name=name)


_FLOAT64_HINT = ", or use dtype='float64'"


def _statistic(value, name):
    """A given mean or variance as a float or a nested list of floats (what a config holds)."""
    try:
        arr = np.asarray(value)
    except ValueError:                          # ragged lists
        arr = np.asarray(None)
    if arr.dtype.kind not in "iuf":             # strings, bools, objects: not statistics
        raise TypeError(f"Normalization: {name}: expected a number or an array of numbers, got {value!r:.80}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"Normalization: {name} must be finite, got {value!r:.80}")
    return arr.tolist()
