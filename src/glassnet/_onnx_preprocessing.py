"""ONNX forms of layers a model holds for its data: what they compute at inference.

* The augmentation layers (``RandomFlip``, ``RandomRotation``, ``RandomZoom``, ``RandomContrast``,
  ..., ``RandAugment``, ``AugMix``, ``CutMix``, ``MixUp``), ``StochasticDepth`` and ``Identity`` are
  identities outside training (glassnet's ``forward(x, training=False)`` returns ``x``, as Keras'
  layers do): an ``Identity`` node. ``AutoContrast``, ``Equalization`` and
  ``ContrastLimitedAdaptiveHistogramEqualization`` change images at inference too and have no form
  here. (``RandomCrop``, which resizes at inference, is glassnet._onnx_images'.)
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


CONVERTERS = {**dict.fromkeys(INFERENCE_IDENTITIES, _identity), "Normalization": _normalization}
