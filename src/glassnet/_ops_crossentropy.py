"""keras.ops' ``binary_crossentropy``, ``categorical_crossentropy`` and
``sparse_categorical_crossentropy`` (per entry, no reduction), written with ``glassnet.ops``' own
functions in Keras 3.15's TensorFlow order (glassnet._ops_nn says why composed): on arrays, on
values a ``GradientTape`` records (gradients to output and target) and on a model's tensors (a
model output, or ``ops.mean`` of it for ``add_loss``).
"""
import numpy as np

from ._ops_nn import _EPSILON, _input, _live, _ops
from ._ops_reading import composed


def _pair(target, output, function, same_shape=True):
    ops = _ops()
    output = _input(output, "output", function)
    target = _input(target, "target", function, floats=False)
    if not _live(target) and not _live(output) and target.dtype.kind in "biuf" and same_shape:
        target = target.astype(output.dtype, copy=False)     # a target of integers (0/1) in output's dtype
    if same_shape:
        t, o = ops.shape(target), ops.shape(output)
        if len(t) != len(o) or any(a is not None and b is not None and a != b for a, b in zip(t, o)):
            raise ValueError(f"ops.{function}: target and output must have one shape, got target.shape={tuple(t)} "
                             f"and output.shape={tuple(o)}")
    return target, output


@composed
def binary_crossentropy(target, output, from_logits=False):
    """``-(t log(o) + (1 - t) log(1 - o))`` per entry, ``o`` clipped to [1e-7, 1 - 1e-7]; from
    logits ``max(x, 0) - x t + log1p(exp(-|x|))`` (TensorFlow's stable form). Shape of both."""
    ops = _ops()
    target, output = _pair(target, output, "binary_crossentropy")
    if from_logits:
        stable = ops.log1p(ops.exp(ops.negative(ops.abs(output))))
        return ops.add(ops.subtract(ops.relu(output), ops.multiply(output, target)), stable)
    output = ops.clip(output, _EPSILON, 1.0 - _EPSILON)
    bce = ops.add(ops.multiply(target, ops.log(output)),
                  ops.multiply(ops.subtract(1.0, target), ops.log(ops.subtract(1.0, output))))
    return ops.negative(bce)


@composed
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """``-sum(t log(o), axis)``, ``o`` first divided by its sum over ``axis`` and clipped to [1e-7,
    1 - 1e-7]; from logits ``-sum(t log_softmax(x), axis)``. Shape of both without ``axis``."""
    ops = _ops()
    target, output = _pair(target, output, "categorical_crossentropy")
    if len(ops.shape(target)) < 1:
        raise ValueError("ops.categorical_crossentropy: target and output must have one axis or more, got numbers")
    if from_logits:
        return ops.negative(ops.sum(ops.multiply(target, ops.log_softmax(output, axis=axis)), axis=axis))
    output = ops.divide(output, ops.sum(output, axis=axis, keepdims=True))
    output = ops.clip(output, _EPSILON, 1.0 - _EPSILON)
    return ops.negative(ops.sum(ops.multiply(target, ops.log(output)), axis=axis))


@composed
def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """``-log_softmax(x)[target]`` along the last axis (``axis`` must be it, as Keras 3.15 on
    TensorFlow); ``output`` probabilities are clipped to [1e-7, 1 - 1e-7] and their logs taken as
    logits. ``target``: integer classes of output's shape without the last axis (or with it as 1);
    on tensors a tensor of classes (no gradient)."""
    ops = _ops()
    target, output = _pair(target, output, "sparse_categorical_crossentropy", same_shape=False)
    o, t = ops.shape(output), ops.shape(target)
    if len(o) < 1:
        raise ValueError("ops.sparse_categorical_crossentropy: output must have one axis or more, got a number")
    if axis != -1 and axis != len(o) - 1:
        raise ValueError(f"ops.sparse_categorical_crossentropy: only axis=-1 (the last) is supported, as Keras 3.15 on "
                         f"TensorFlow, got axis={axis!r:.40}")
    if len(t) == len(o) and t[-1] == 1:
        target = ops.squeeze(target, axis=-1)
        t = t[:-1]
    if len(t) != len(o) - 1 or any(a is not None and b is not None and a != b for a, b in zip(t, o[:-1])):
        raise ValueError(f"ops.sparse_categorical_crossentropy: target must have output's shape without its last axis, "
                         f"got target.shape={tuple(t)} and output.shape={tuple(o)}")
    classes = o[-1]
    if not _live(target):
        target = np.asarray(target)
        if target.dtype.kind == "f" and np.any(target != np.round(target)) or target.dtype.kind not in "biuf":
            raise TypeError(f"ops.sparse_categorical_crossentropy: target must hold integer classes, got "
                            f"{target.dtype}")
        if target.size and (target.min() < 0 or target.max() >= classes):
            raise ValueError(f"ops.sparse_categorical_crossentropy: target's classes must be in [0, {classes}), got "
                             f"{target.min()} to {target.max()}")
        target = target.astype(np.int32)
    if not from_logits:
        output = ops.log(ops.clip(output, _EPSILON, 1.0 - _EPSILON))
    dtype = None if _live(output) else np.asarray(output).dtype.name
    hot = ops.one_hot(target, classes, dtype=dtype) if dtype else ops.one_hot(target, classes)
    return ops.negative(ops.sum(ops.multiply(hot, ops.log_softmax(output, axis=-1)), axis=-1))


__all__ = ["binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"]
