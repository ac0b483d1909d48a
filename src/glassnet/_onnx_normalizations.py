"""ONNX forms of the normalization layers beside BatchNormalization and LayerNormalization
(glassnet._onnx_layers), each written as glassnet's forward computes it (layers/normalization.py):

* ``UnitNormalization``: ``x / max(sqrt(sum(x²)), 1e-12)`` over its axes;
* ``RMSNormalization``: ``x * (1 / sqrt(mean(x²) + epsilon)) * scale`` over its axes;
* ``GroupNormalization``: the channels (the last axis) split into ``groups`` runs of neighbours,
  each sample's group standardised over its positions and its channels (a Reshape to (batch,
  positions, groups, channels per group), the mean and the biased variance over axes 1 and 3,
  ``(x - mean) / sqrt(var + epsilon)``), back to the input's shape, then ``gamma`` and ``beta``
  per channel;
* ``LayerScale`` (keras.io's CaiT/ConvNeXt block): ``x * gamma``, one gamma per channel.
"""
import numpy as np

from ._onnx_layers import _axes, _broadcast


def _unit_normalization(b, layer, xs, shapes):
    axes, x = _axes(layer.axis, len(shapes[0]), layer.describe()), xs[0]
    norm = b.op("Sqrt", [b.op("ReduceSum", [b.op("Mul", [x, x]), b.ints(axes)], keepdims=1)])
    return b.op("Div", [x, b.op("Max", [norm, b.const(layer.EPSILON)])])


def _rms_normalization(b, layer, xs, shapes):
    axes, x = _axes(layer.axis, len(shapes[0]), layer.describe()), xs[0]
    mean_square = b.op("ReduceMean", [b.op("Mul", [x, x])], axes=axes, keepdims=1)
    inverse = b.op("Reciprocal", [b.op("Sqrt", [b.op("Add", [mean_square, b.const(layer.epsilon)])])])
    scale = b.const(_broadcast(np.asarray(layer.params["scale"]), shapes[0], axes), "scale")
    return b.op("Mul", [b.op("Mul", [x, inverse]), scale])


def _group_normalization(b, layer, xs, shapes):
    x, channels = xs[0], shapes[0][-1]
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


CONVERTERS = {"UnitNormalization": _unit_normalization, "RMSNormalization": _rms_normalization,
              "GroupNormalization": _group_normalization, "LayerScale": _layer_scale}
