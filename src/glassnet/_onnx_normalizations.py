"""ONNX forms of the normalization layers beside BatchNormalization and LayerNormalization
(glassnet._onnx_layers), each written as glassnet's forward computes it (layers/normalization.py):

* ``UnitNormalization``: ``x / max(sqrt(sum(x²)), 1e-12)`` over its axes;
* ``RMSNormalization``: ``x * (1 / sqrt(mean(x²) + epsilon)) * scale`` over its axes;
* ``GroupNormalization``: the channels (the last axis) split into ``groups`` runs of neighbours,
  each sample's group standardised over its positions and its channels (a Reshape to (batch,
  positions, groups, channels per group), the mean and the biased variance over axes 1 and 3,
  ``(x - mean) / sqrt(var + epsilon)``), back to the input's shape, then ``gamma`` and ``beta``
  per channel; another channel axis (``axis=1``, channels first) moved last by a Transpose and
  back after;
* ``LayerScale`` (keras.io's CaiT/ConvNeXt block): ``x * gamma``, one gamma per channel;
* ``Dot`` (a merge), whose ``normalize=True`` is that unit length along each input's axis: the
  products summed, (batch, d) -> (batch, 1), or one MatMul of (batch, n, d) and (batch, d, m)
  with each input transposed as its axis says (the cosine similarity of a siamese network,
  attention scores).
"""
import numpy as np

from ._onnx_layers import _axes, _broadcast


def _unit_length(b, x, axes, epsilon):
    """``x / max(sqrt(sum(x²)), epsilon)`` over ``axes``."""
    norm = b.op("Sqrt", [b.op("ReduceSum", [b.op("Mul", [x, x]), b.ints(axes)], keepdims=1)])
    return b.op("Div", [x, b.op("Max", [norm, b.const(epsilon)])])


def _unit_normalization(b, layer, xs, shapes):
    return _unit_length(b, xs[0], _axes(layer.axis, len(shapes[0]), layer.describe()), layer.EPSILON)


def _rms_normalization(b, layer, xs, shapes):
    axes, x = _axes(layer.axis, len(shapes[0]), layer.describe()), xs[0]
    mean_square = b.op("ReduceMean", [b.op("Mul", [x, x])], axes=axes, keepdims=1)
    inverse = b.op("Reciprocal", [b.op("Sqrt", [b.op("Add", [mean_square, b.const(layer.epsilon)])])])
    scale = b.const(_broadcast(np.asarray(layer.params["scale"]), shapes[0], axes), "scale")
    return b.op("Mul", [b.op("Mul", [x, inverse]), scale])


def _group_normalization(b, layer, xs, shapes):
    rank = len(shapes[0]) + 1
    axis = rank + layer._channel_axis(rank)
    if axis != rank - 1:        # another channel axis (channels first): computed with it moved last
        order = [a for a in range(rank) if a != axis] + [axis]
        moved = b.op("Transpose", [xs[0]], perm=order)
        y = _group_normalization_last(b, layer, moved, shapes[0][axis - 1])
        return b.op("Transpose", [y], perm=[order.index(a) for a in range(rank)])
    return _group_normalization_last(b, layer, xs[0], shapes[0][-1])


def _group_normalization_last(b, layer, x, channels):
    groups = layer._groups_of(channels)
    grouped = b.op("Reshape", [x, b.ints([0, -1, groups, channels // groups])])
    centred = b.op("Sub", [grouped, b.op("ReduceMean", [grouped], axes=[1, 3], keepdims=1)])
    variance = b.op("ReduceMean", [b.op("Mul", [centred, centred])], axes=[1, 3], keepdims=1)
    inverse = b.op("Reciprocal", [b.op("Sqrt", [b.op("Add", [variance, b.const(layer.epsilon)])])])
    y = b.op("Reshape", [b.op("Mul", [centred, inverse]), b.op("Shape", [x])])
    if layer.scale:
        y = b.op("Mul", [y, b.const(layer.params["gamma"], "gamma")])
    if layer.center:
        y = b.op("Add", [y, b.const(layer.params["beta"], "beta")])
    return y


def _layer_scale(b, layer, xs, shapes):
    return b.op("Mul", [xs[0], b.const(layer.params["gamma"], "gamma")])


def _dot(b, layer, xs, shapes):
    (x, y), single = xs, len(shapes[0]) == 1
    i, j = (1, 1) if single else tuple(k + 1 for k in layer._sample_axes(2))
    if layer.normalize:
        x, y = _unit_length(b, x, [i], layer.EPSILON), _unit_length(b, y, [j], layer.EPSILON)
    if single:
        return b.op("ReduceSum", [b.op("Mul", [x, y]), b.ints([1])], keepdims=1)
    left = x if i == 2 else b.op("Transpose", [x], perm=[0, 2, 1])
    return b.op("MatMul", [left, y if j == 1 else b.op("Transpose", [y], perm=[0, 2, 1])])


CONVERTERS = {"Dot": _dot, "UnitNormalization": _unit_normalization, "RMSNormalization": _rms_normalization,
              "GroupNormalization": _group_normalization, "LayerScale": _layer_scale}
