"""ONNX forms of layers a model holds for its data: what they compute at inference.

* The augmentation layers (``RandomFlip``, ``RandomRotation``, ``RandomZoom``, ``RandomContrast``,
  ..., ``RandAugment``, ``AugMix``, ``CutMix``, ``MixUp``), ``StochasticDepth`` and ``Identity`` are
  identities outside training (glassnet's ``forward(x, training=False)`` returns ``x``, as Keras'
  layers do): an ``Identity`` node. ``Equalization`` and
  ``ContrastLimitedAdaptiveHistogramEqualization`` change images at inference too and have no form
  here. (``RandomCrop``, which resizes at inference, is glassnet._onnx_images'.)
* ``AutoContrast`` (at inference too): each image's channels stretched to ``value_range``,
  ``low + (x - min) (high - low) / (max - min)`` clipped to the range, the min and max over the
  height and width; a channel of one value (or a spread so small its scale overflows) kept.
* ``Normalization``: ``(x - mean) / max(sqrt(variance), 1e-7)`` (``invert``: ``x * std + mean``),
  its mean and standard deviation the layer's own, worked out in the model's dtype as glassnet's
  forward does, initializers shaped to broadcast over a sample.
"""
from ._onnx_layers import _identity

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


def _auto_contrast(b, layer, xs, shapes):
    # glassnet's AutoContrast._augment, on the images channels last
    from ._onnx_images import _back, _channels_last
    low, high = (float(v) for v in layer.value_range)
    x = _channels_last(b, layer, xs[0], 4)
    smallest = b.op("ReduceMin", [x], axes=[1, 2], keepdims=1)
    spread = b.op("Sub", [b.op("ReduceMax", [x], axes=[1, 2], keepdims=1), smallest])
    zero, one = b.const(0.0), b.const(1.0)
    single = b.op("Equal", [spread, zero])
    scale = b.op("Div", [b.const(high - low, "range"), b.op("Where", [single, one, spread])])
    flat = b.op("Or", [single, b.op("Or", [b.op("IsInf", [scale]), b.op("IsNaN", [scale])])])
    scale = b.op("Where", [flat, one, scale])
    stretched = b.op("Add", [b.op("Mul", [b.op("Sub", [x, smallest]), scale]), b.const(low, "low")])
    clipped = b.op("Min", [b.op("Max", [stretched, b.const(low, "low")]), b.const(high, "high")])
    return _back(b, layer, b.op("Where", [flat, x, clipped]), 4)


CONVERTERS = {**dict.fromkeys(INFERENCE_IDENTITIES, _identity), "Normalization": _normalization,
              "AutoContrast": _auto_contrast}
