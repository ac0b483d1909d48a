"""Discretization: continuous values as the number of the bucket they fall in (Keras' preprocessing
layer), with bucket boundaries given or learnt from data by ``adapt`` (about equally full buckets).

``adapt`` follows Keras 3's own NumPy algorithm, so that the same data gives the same boundaries:
each batch is sorted and summarised by about ``1 / epsilon`` evenly spaced values, each weighted by
how many values it stands for; summaries of batches are merged and compressed back to that size;
the boundaries are the summary's quantiles at 1/num_bins, 2/num_bins, ... (linear interpolation of
the cumulative weights). With fewer than ``1 / epsilon`` values, the summary is the data itself.
"""
import numbers

import numpy as np

from .. import backend
from .._validation import check_choice, check_positive_int
from .base import Layer, zero_input_gradient
from .encoding import MODES as ENCODING_MODES, encode_categories
from .preprocessing import adapt_batches

MODES = ("int",) + ENCODING_MODES


def summarize(values, epsilon):
    """Keras' summary of ``values`` (any shape, flattened): a (2, m) float32 array, every
    ``max(n * epsilon, 1)``-th sorted value (row 0) and the number of values it stands for (row 1)."""
    values = np.sort(np.asarray(values, np.float32).reshape(-1))
    step = max(values.size / (1.0 / epsilon), 1)        # Keras' expression: n * epsilon rounds otherwise
    boundaries = values[int(step - 1)::int(step)]
    return np.stack([boundaries, np.ones_like(boundaries) * step])


def compress_summary(summary, epsilon):
    """A summary of at most about ``1 / epsilon`` values: the quantiles at epsilon, 2 epsilon, ...,
    1 of the weighted values (interpolated), each weighted by the weight between it and the last."""
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + np.arange(0.0, 1.0, epsilon)
    cum_weights = summary[1].cumsum()
    cum_weight_percents = cum_weights / cum_weights[-1]
    new_bins = np.interp(percents, cum_weight_percents, summary[0])
    cum_weights = np.interp(percents, cum_weight_percents, cum_weights)
    new_weights = cum_weights - np.concatenate((np.array([0]), cum_weights[:-1]))
    return np.stack((new_bins, new_weights)).astype(np.float32)


def merge_summaries(first, second, epsilon):
    """One summary of the values two summaries stand for: their columns sorted together, compressed."""
    merged = np.concatenate((first, second), axis=1)
    merged = np.take(merged, np.argsort(merged[0]), axis=1)
    return compress_summary(merged, epsilon)


def bin_boundaries_from(summary, num_bins):
    """The ``num_bins - 1`` boundaries (fewer for a short summary) that split it into equal weights."""
    return compress_summary(summary, 1.0 / num_bins)[0, :-1]


class Discretization(Layer):
    """The bucket each value falls in: bucket i holds ``bin_boundaries[i - 1] <= x <
    bin_boundaries[i]``, bucket 0 everything below the first boundary, the last everything from
    the last boundary up (NumPy's ``digitize``, TensorFlow's ``Bucketize``).

    Parameters
    ----------
    bin_boundaries : list of floats, increasing, optional
        The boundaries; or
    num_bins : int, optional
        How many buckets ``adapt`` makes, of about as many training values each.
    epsilon : float in (0, 1)
        ``adapt``'s precision: a batch is summarised by about ``1 / epsilon`` values (Keras' 0.01).
    output_mode : {"int", "one_hot", "multi_hot", "count"}
        "int": the bucket numbers, in the input's shape (as floats of the model's dtype, which an
        ``Embedding`` or a ``CategoryEncoding`` after it reads); the others encode them as
        ``CategoryEncoding`` does, with one entry per bucket.

    Shapes: "int" and "one_hot" (batch, ...) -> (batch, ...) and (batch, ..., buckets) (a last
    axis of 1 replaced); "multi_hot" and "count" (batch, k) -> (batch, buckets), and (batch, k, d, ...)
    -> (batch, d, ..., buckets), counted along axis 1 as Keras does. The boundaries are
    compared in the input's dtype (float32 boundaries in a float32 model, as TensorFlow's). A bucket
    number does not change when the value moves a little, so the input gradient is 0. The
    boundaries are kept in the config (``get_config``, model files), as in Keras; ``sparse`` is not
    offered.

    Example
    -------
    >>> Discretization(bin_boundaries=[0.0, 1.0, 2.0])(np.array([[-1.5, 1.0, 3.4, 0.5]])).tolist()
    [[0.0, 2.0, 3.0, 1.0]]
    >>> layer = Discretization(num_bins=4, epsilon=0.01)
    >>> layer.adapt(np.array([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]]))
    >>> layer(np.array([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]])).tolist()
    [[0.0, 2.0, 3.0, 2.0], [1.0, 3.0, 3.0, 1.0]]
    """

    stacks_lists = True          # called alone on a list of arrays: one array, as Keras' (layers/base.py)

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if sparse is not False:
            raise ValueError(f"Discretization: sparse={sparse!r:.40} is not supported (only False)")
        check_choice(output_mode, "Discretization: output_mode", MODES)
        if (bin_boundaries is None) == (num_bins is None):
            raise ValueError(f"Discretization: give bin_boundaries or num_bins (to adapt), one of them; got "
                             f"bin_boundaries={bin_boundaries!r:.60} and num_bins={num_bins!r:.40}")
        # any real number (a NumPy float32 too, which is no Python float)
        if isinstance(epsilon, (bool, np.bool_)) or not isinstance(epsilon, numbers.Real) or not 0 < epsilon < 1:
            raise ValueError(f"Discretization: epsilon must be a number in (0, 1), got {epsilon!r:.40}")
        self.num_bins = None if num_bins is None else check_positive_int(num_bins, "Discretization: num_bins")
        self.bin_boundaries = None if bin_boundaries is None else _boundaries(bin_boundaries)
        self.epsilon, self.output_mode = float(epsilon), output_mode

    @property
    def depth(self):
        """How many buckets: one more than the boundaries (``num_bins`` before ``adapt``)."""
        return self.num_bins if self.bin_boundaries is None else len(self.bin_boundaries) + 1

    def output_shape(self, input_shape):
        shape = tuple(input_shape)
        if self.output_mode == "int":
            return shape
        if self.output_mode == "one_hot":
            return (*shape[:-1], self.depth) if shape and shape[-1] == 1 else (*shape, self.depth)
        if not shape:
            raise ValueError(f"{self.describe()}: output_mode={self.output_mode!r} takes samples of k values, "
                             f"inputs (batch, k, ...); got samples of shape {shape}")
        return (*shape[1:], self.depth)         # counted along the sample's first axis (Keras' axis 1)

    def build(self, input_shape):
        self.output_shape(input_shape)          # refuses samples it cannot take, by name
        super().build(input_shape)

    def adapt(self, data):
        """Learn ``num_bins`` buckets of about equal counts from ``data``: an array of values, or an
        iterable or a ``PyDataset`` of such batches (``(x, y)`` pairs give their x). Keras' algorithm (module
        docstring); the boundaries replace any from an earlier ``adapt``."""
        if self.num_bins is None:
            raise ValueError(f"{self.describe()}: bin_boundaries were given when it was made; adapt learns them "
                             f"from data for num_bins: make the layer with num_bins instead")
        summary = np.zeros((2, 0), dtype=np.float32)
        for what, batch in adapt_batches(self, data):
            if batch.size and not np.isfinite(batch).all():
                raise ValueError(f"{self.describe()}: adapt: {what} holds NaN or infinite values")
            with np.errstate(over="ignore"):
                beyond = batch.size and not np.isfinite(batch.astype(np.float32)).all()
            if beyond:          # Keras summarises in float32: such values would make infinite boundaries
                raise ValueError(f"{self.describe()}: adapt: {what} holds values beyond float32's range "
                                 f"(about 3.4e38), which adapt summarises in float32 as Keras does")
            summary = merge_summaries(summarize(batch, self.epsilon), summary, self.epsilon)
        if summary.shape[1] == 0:
            raise ValueError(f"{self.describe()}: adapt: the data holds no values")
        self.bin_boundaries = bin_boundaries_from(summary, self.num_bins).tolist()

    def forward(self, x, training=False):
        if self.bin_boundaries is None:
            raise ValueError(f"{self.describe()}: no bin_boundaries yet: call its adapt(x_train) first, or make "
                             f"it with bin_boundaries=[...]")
        self.x = x
        xp = backend.get_array_module(x)
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(self.dtype or np.float32)
        buckets = xp.digitize(x.astype(dtype, copy=False), xp.asarray(self.bin_boundaries, dtype=dtype))
        if self.output_mode == "int":
            return buckets.astype(dtype)
        return encode_categories(buckets, self.depth, self.output_mode, dtype).reshape(
            x.shape[0], *self.output_shape(x.shape[1:]))

    def backward(self, grad_output):
        return zero_input_gradient(self, grad_output)        # buckets

    def get_config(self):
        return {**super().get_config(), "bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins,
                "epsilon": self.epsilon, "output_mode": self.output_mode}

    @classmethod
    def from_config(cls, config):
        # after adapt both are set (Keras' config too), which __init__ refuses: the boundaries after
        config = dict(config)
        boundaries = config.pop("bin_boundaries", None)
        if config.get("num_bins") is None:
            return super().from_config({**config, "bin_boundaries": boundaries})
        layer = super().from_config(config)
        layer.bin_boundaries = None if boundaries is None else _boundaries(boundaries)
        return layer


def _boundaries(values):
    """``bin_boundaries`` as a list of floats, checked: finite and increasing (digitize's need)."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if array is None or array.ndim != 1 or not np.isfinite(array).all() or (np.diff(array) < 0).any():
        raise ValueError(f"Discretization: bin_boundaries must be a list of finite numbers in increasing order, "
                         f"got {values!r:.80}")
    return array.tolist()
