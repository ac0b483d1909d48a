"""ONNX forms of layers a model holds for its data: what they compute at inference.

* The augmentation layers (``RandomFlip``, ``RandomRotation``, ``RandomZoom``, ``RandomContrast``,
  ..., ``RandAugment``, ``AugMix``, ``CutMix``, ``MixUp``), ``StochasticDepth`` and ``Identity`` are
  identities outside training (glassnet's ``forward(x, training=False)`` returns ``x``, as Keras'
  layers do): an ``Identity`` node. ``AutoContrast``, ``Equalization`` and
  ``ContrastLimitedAdaptiveHistogramEqualization`` change images at inference too and have no form
  here; neither does ``RandomCrop``, which crops at inference.
* ``Normalization``: ``(x - mean) / max(sqrt(variance), 1e-7)`` (``invert``: ``x * std + mean``),
  its mean and standard deviation the layer's own, worked out in the model's dtype as glassnet's
  forward does, initializers shaped to broadcast over a sample.
* ``UnitNormalization``: ``x / max(sqrt(sum(x²)), 1e-12)`` over its axes.
* ``RMSNormalization``: ``x * (1 / sqrt(mean(x²) + epsilon)) * scale`` over its axes.
"""
import numpy as np

from ._onnx_layers import _axes, _broadcast, _identity

# the layers whose forward at inference is the identity (checked against predict in
# tests/test_onnx_four.py)
INFERENCE_IDENTITIES = (
    "Identity", "StochasticDepth", "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
    "RandomContrast", "RandomBrightness", "RandomHue", "RandomSaturation", "RandomGrayscale",
    "RandomColorDegeneration", "RandomColorJitter", "RandomSharpness", "RandomShear", "RandomPerspective",
    "RandomElasticTransform", "RandomErasing", "RandomGaussianBlur", "RandomInvert", "RandomPosterization",
    "Solarization", "RandAugment", "AugMix", "CutMix", "MixUp")


def _normalization(b, layer, xs, shapes):
    mean, std = layer._statistics(b.dtype)          # (the sample's shape, 1 on the axes not kept)
    mean, std = b.const(mean, "mean"), b.const(std, "std")
    if layer.invert:
        return b.op("Add", [b.op("Mul", [xs[0], std]), mean])
    return b.op("Div", [b.op("Sub", [xs[0], mean]), std])


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


CONVERTERS = {**dict.fromkeys(INFERENCE_IDENTITIES, _identity), "Normalization": _normalization,
              "UnitNormalization": _unit_normalization, "RMSNormalization": _rms_normalization}
