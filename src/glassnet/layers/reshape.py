"""Flatten and Reshape: change the shape of each sample, never its values (no parameters).

Both return views when the input is contiguous, so they cost nothing; ``backward`` reshapes the
gradient back to the shape the input had.
"""
import math

import numpy as np

from .base import Layer


class Flatten(Layer):
    """Flattens each sample: (batch, d1, d2, ...) -> (batch, d1 * d2 * ...), in C (row-major) order,
    which for channels-last images is Keras' order too.

    Example
    -------
    >>> Flatten()(np.ones((2, 5, 5, 16))).shape
    (2, 400)
    """

    def output_shape(self, input_shape):
        return (math.prod(int(d) for d in input_shape),)

    def forward(self, x, training=False):
        self.x_shape = x.shape
        return x.reshape(x.shape[0], -1)

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
        size = math.prod(int(d) for d in input_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        if (-1 in self.target_shape and size % known) or (-1 not in self.target_shape and size != known):
            raise ValueError(f"{self.describe()}: cannot reshape input samples of shape "
                             f"{tuple(input_shape)} ({size} values) to {self.target_shape}")
        return tuple(size // known if d == -1 else d for d in self.target_shape)

    def build(self, input_shape):
        self.output_shape(input_shape)
        super().build(input_shape)

    def forward(self, x, training=False):
        self.x_shape = x.shape
        try:
            return x.reshape(x.shape[0], *self.target_shape)
        except ValueError:
            self.output_shape(x.shape[1:])     # raise with the layer's name and the shapes
            raise

    def backward(self, grad_output):
        return grad_output.reshape(self.x_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}
