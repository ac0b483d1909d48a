"""``activations.relu`` with a negative ``threshold``, as Keras' function computes it (Keras'
``ReLU`` layer refuses one, and so does glassnet's; Keras' function runs its own formula):

    a = z where z > threshold, else 0;  with max_value: a = clip(a, 0, max_value);
    a -= negative_slope * max(threshold - z, 0)

so that between the threshold and 0 the output is z itself (negative), or 0 with a ``max_value``
(the clip's floor). Above 0 it is the usual relu (capped), below the threshold the leak. Any shape;
the same shape back. The derivative is TensorFlow's for that formula: 1 where z passes the threshold
(and the clip's bounds, which are inclusive), plus the slope below the threshold.
"""
import numpy as np


def relu_below_zero(z, negative_slope, max_value, threshold):
    t = z.dtype.type(threshold)
    a = np.where(z > t, z, z.dtype.type(0))
    if max_value is not None:
        np.clip(a, 0, z.dtype.type(max_value), out=a)
    if negative_slope:
        a -= z.dtype.type(negative_slope) * np.maximum(t - z, 0)
    return a


def backprop_relu_below_zero(grad_a, z, negative_slope, max_value, threshold):
    t = z.dtype.type(threshold)
    passes = z > t
    if max_value is not None:               # (TensorFlow's clip passes a gradient at its bounds)
        passes &= (z >= 0) & (z <= max_value)
    derivative = passes.astype(z.dtype)
    if negative_slope:
        derivative += z.dtype.type(negative_slope) * (z < t)
    return grad_a * derivative
