"""Flatten, Reshape, Permute and RepeatVector: change the shape of each sample, never its values
(no parameters).

Flatten and Reshape return views when the input is contiguous, so they cost nothing; ``backward``
reshapes the gradient back to the shape the input had. Permute reorders a sample's axes (a copy,
so that the next layer reads contiguous memory); RepeatVector copies a vector to every step of a
sequence, and its gradient sums over the steps.
"""
import math

import numpy as np

from .base import Layer
from .data_format import DataFormat, config_entry, set_data_format


class Flatten(DataFormat, Layer):
    """Flattens each sample: (batch, d1, d2, ...) -> (batch, d1 * d2 * ...), in C (row-major) order,
    which for channels-last images is Keras' order too.

    Example
    -------
    >>> Flatten()(np.ones((2, 5, 5, 16))).shape
    (2, 400)

    ``data_format="channels_first"`` (Keras'): samples (C, *spatial) are flattened in Keras' order,
    that of the channels-last sample (Keras 3.15 moves the channels last first): a PyTorch model's
    ``nn.Flatten`` order differs (docs/pytorch.md).
    """
    moves_output = False        # (flat: nothing to move back; see layers/data_format.py)

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        set_data_format(self, data_format)

    def get_config(self):
        return {**super().get_config(), **config_entry(self)}

    def output_shape(self, input_shape):
        return (math.prod(int(d) for d in input_shape),)

    def forward(self, x, training=False):
        self.x_shape = x.shape
        # the length named, not -1: NumPy cannot infer an axis of an empty batch
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))

    def backward(self, grad_output):
        return grad_output.reshape(self.x_shape)


class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (no batch axis); one entry may be -1 (inferred).

    Shapes: ``x`` (batch, *input_shape) -> (batch, *target_shape), same number of values per sample.

    Example
    -------
    >>> Reshape((28, 28, 1))(np.ones((2, 784))).shape
    (2, 28, 28, 1)
    """
    built_when_made = True      # (as Keras': see Layer.built_when_made)

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        expected = "a tuple of integers such as (28, 28, 1), one of which may be -1 (inferred)"
        if isinstance(target_shape, (int, np.integer)) and not isinstance(target_shape, bool):
            raise ValueError(f"Reshape: target_shape must be {expected}; got the integer "
                             f"{target_shape!r}, write ({target_shape!r},)")
        # a string is iterable too: "12" would become the shape (1, 2)
        if isinstance(target_shape, (str, bytes)):
            raise ValueError(f"Reshape: target_shape must be {expected}; got {target_shape!r}")
        try:
            target = tuple(target_shape)
        except TypeError:
            raise ValueError(f"Reshape: target_shape must be {expected}; got {target_shape!r}") from None
        # entries are checked, never passed through int(): that would make 2.7 a 2 and True a 1
        for d in target:
            if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
                raise ValueError(f"Reshape: target_shape must hold integers, got {d!r} "
                                 f"({type(d).__name__}) in {target_shape!r}")
        if not target or target.count(-1) > 1 or any(d == 0 or d < -1 for d in target):
            raise ValueError(f"Reshape: target_shape must hold positive sizes and at most one -1, "
                             f"got {target_shape!r}")
        self.target_shape = tuple(int(d) for d in target)      # Python ints: get_config is JSON

    def output_shape(self, input_shape):
        known = math.prod(d for d in self.target_shape if d != -1)
        if None in tuple(input_shape) and -1 in self.target_shape:
            # a length of any size (Input((None, 4))): the -1 entry takes it, batch by batch (Keras)
            return tuple(None if d == -1 else d for d in self.target_shape)
        size = math.prod(int(d) for d in input_shape)
        if (-1 in self.target_shape and size % known) or (-1 not in self.target_shape and size != known):
            raise ValueError(f"{self.describe()}: cannot reshape input samples of shape "
                             f"{tuple(input_shape)} ({size} values) to {self.target_shape}")
        return tuple(size // known if d == -1 else d for d in self.target_shape)

    def build(self, input_shape):
        self.output_shape(input_shape)
        super().build(input_shape)

    def forward(self, x, training=False):
        self.x_shape = x.shape
        # the -1 worked out here (an error names the layer and the shapes): NumPy cannot infer it
        # for an empty batch
        return x.reshape(x.shape[0], *self.output_shape(x.shape[1:]))

    def backward(self, grad_output):
        return grad_output.reshape(self.x_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(Layer):
    """Reorder the axes of each sample (Keras' ``Permute``): ``dims`` is a permutation of 1 ... rank,
    the sample's axes counted from 1 (the batch axis stays first): ``Permute((2, 1))`` turns
    (steps, features) into (features, steps).

    Example
    -------
    >>> Permute((2, 1))(np.ones((4, 10, 64))).shape
    (4, 64, 10)
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        given = dims
        try:
            dims = tuple(dims)
        except TypeError:
            dims = None
        if (dims is None or not dims or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) for d in dims)
                or sorted(dims) != list(range(1, len(dims) + 1))):
            raise ValueError(f"Permute: dims must be a permutation of 1 ... rank, the sample's axes counted from 1, "
                             f"such as (2, 1); got {given!r:.80}")
        self.dims = tuple(int(d) for d in dims)

    def check_input_shape(self, sample_shape):
        if len(tuple(sample_shape)) != len(self.dims):
            raise ValueError(f"{self.describe()}: dims {self.dims} permute samples of {len(self.dims)} axes, got "
                             f"samples of shape {tuple(sample_shape)}")
        super().check_input_shape(sample_shape)

    def build(self, input_shape):
        self.check_input_shape(input_shape)
        super().build(input_shape)

    def output_shape(self, input_shape):
        self.check_input_shape(input_shape)
        return tuple(input_shape[d - 1] for d in self.dims)

    def forward(self, x, training=False):
        if x.ndim != len(self.dims) + 1:
            self.check_input_shape(x.shape[1:])
        return x.transpose(0, *self.dims).copy()

    def backward(self, grad_output):
        inverse = np.argsort(self.dims) + 1               # the axes back where they came from
        return grad_output.transpose(0, *inverse).copy()

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(Layer):
    """Repeat each sample's vector ``n`` times (Keras' ``RepeatVector``): (features,) -> (n, features),
    e.g. an encoder's last state fed to every step of a decoder ``LSTM(return_sequences=True)``.
    The gradient of the input is the sum of the steps' gradients.

    Example
    -------
    >>> RepeatVector(3)(np.array([[1.0, 2.0]])).tolist()
    [[[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]]
    """

    shape_arguments = ('n',)        # named when its output is too large (glassnet._bounds)

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ValueError(f"RepeatVector: n must be a positive integer, got {n!r:.40}")
        self.n = int(n)

    def _check(self, sample_shape):
        if len(tuple(sample_shape)) != 1:
            raise ValueError(f"{self.describe()}: expected vectors, samples of shape (features,), got "
                             f"{tuple(sample_shape)}")

    def build(self, input_shape):
        self._check(input_shape)
        super().build(input_shape)

    def output_shape(self, input_shape):
        self._check(input_shape)
        return (self.n, *input_shape)

    def forward(self, x, training=False):
        if x.ndim != 2:
            self._check(x.shape[1:])
        return np.repeat(x[:, None, :], self.n, axis=1)

    def backward(self, grad_output):
        return grad_output.sum(axis=1)

    def get_config(self):
        return {**super().get_config(), "n": self.n}
