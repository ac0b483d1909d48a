"""Equalization: Keras 3's histogram equalization of each image channel, applied in training and
inference (as its documentation says), like AutoContrast (color_augmentation.py)."""
import numpy as np

from .. import backend
from .._bounds import check_sample_values
from .data_format import set_data_format
from .augmentation import _RandomIntensity


def equalize(x, value_range, bins):
    """Keras 3.15's equalization of each channel of each image of ``x`` (n, H, W, C), in units
    of 0-255 over ``value_range``: pixels fall into ``bins`` equal bins of [0, 255] (truncated,
    clipped to the first and last); the channel's cumulative histogram, less the count of its
    first non-empty bin, over the pixels not in that bin, times 255 and rounded (half to even)
    is each bin's new value. A channel whose pixels all fall in one bin is left as it is.
    Returns ``(out, flat)``, ``flat`` (n, 1, 1, C) true for those channels."""
    xp = backend.get_array_module(x)
    n, h, w, c = x.shape
    low, high = value_range
    t = x.dtype.type
    scale = 255.0 / (high - low)                   # Keras' _scale_values, in its order
    p = x * t(scale) + t(-low * scale)
    # the histogram's bins, Keras' steps: (p - 0) (bins - 1) / (255 - 0), truncated, clipped
    counted = np.clip(((p - t(0)) * t(bins - 1) / t(255)).astype(np.int64), 0, bins - 1)
    keys = (xp.arange(n * c).reshape(n, 1, 1, c) * bins + counted).ravel()
    hist = xp.bincount(keys, minlength=n * c * bins).reshape(n, 1, 1, c, bins)
    cdf = hist.cumsum(axis=-1)
    first = xp.take_along_axis(cdf, (cdf > 0).argmax(axis=-1)[..., None], axis=-1)
    denominator = cdf[..., -1:] - first
    denominator = np.where(denominator == 0, 1, denominator)
    # rounded in float64, as TensorFlow's, then whole levels 0..255, exact in the images' dtype: the
    # lookup below then makes no image-sized float64 array in a float32 model
    table = np.clip(np.round((cdf - first) * 255 / denominator), 0, 255).astype(x.dtype)
    # the lookup's bins, Keras' other steps: p / 255 (bins - 1), clipped, truncated
    read = np.clip(p / t(255) * t(bins - 1), 0, bins - 1).astype(np.int64)
    equalized = xp.take_along_axis(table.reshape(n, c, bins), read.transpose(0, 3, 1, 2).reshape(n, c, h * w), axis=-1)
    equalized = equalized.reshape(n, c, h, w).transpose(0, 2, 3, 1)
    out = equalized * t((high - low) / 255.0) + t(low)
    flat = (hist > 0).sum(axis=-1) <= 1
    return np.where(flat, x, out), flat


class Equalization(_RandomIntensity):
    """Histogram equalization of each image's channels: per image and channel, in units of 0-255
    over ``value_range``, pixels are binned into ``bins`` bins (256 by default, one per 8-bit
    level) and each bin is mapped to its place in the channel's cumulative histogram, so that the
    levels spread over the whole range (Keras 3.15's lookup table, rounded to whole 0-255 levels).
    A channel whose pixels share one bin is left as it is. Not random, and, as Keras documents,
    applied in training **and** inference; no ``seed``.

    Two differences from Keras 3.15, whose code contradicts its documentation: Keras computes one
    histogram per channel for the **whole batch** (an image's result depends on the images beside
    it, and ``predict``'s on its batch size); glassnet computes one per image, which is what Keras
    gives for a single image (an unbatched call). And Keras skips the layer when called with
    ``training=False``, which a model's ``predict`` does, against its documented "at inference
    time, the equalization is consistently applied"; glassnet applies it, as AutoContrast.

    Gradient: the lookup table is flat between bin edges, so the gradient with respect to the
    images is 0 (no straight-through estimate: layers before it learn nothing through it), but
    for a channel left as it is, where it is the identity's, 1.

    Example
    -------
    >>> image = np.array([0.0, 10.0, 10.0, 20.0]).reshape(1, 2, 2, 1)
    >>> Equalization()(image)[0, :, :, 0].tolist()
    [[0.0, 170.0], [170.0, 255.0]]
    """

    shape_arguments = ('bins',)        # named when its output is too large (glassnet._bounds)
    keras_seeded = False        # (Keras' draws nothing: no SeedGenerator)

    def __init__(self, value_range=(0, 255), bins=256, data_format=None, **kwargs):
        super().__init__(value_range, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
            raise ValueError(f"Equalization: bins must be a positive integer (the histogram's number of bins, "
                             f"256 by default: one per 8-bit level), got {bins!r:.80}")
        self.bins = int(bins)

    def build(self, input_shape):
        super().build(input_shape)
        # its histograms, their sums and the lookup tables: bins per channel of each image, which
        # the output's shape does not show (bins=10**10 made terabytes of them: glassnet._bounds)
        check_sample_values(self, self.bins * (tuple(input_shape)[-1] or 1), "its histograms (bins x channels)")

    def forward(self, x, training=False):
        if x.ndim != 4:
            super().forward(x, training)            # the shape's error, by name
        self.x = x
        out, self._flat = equalize(x, self.value_range, self.bins)
        return out

    def backward(self, grad_output):
        if not self.needs_input_gradient:           # the usual place: a model's first layers
            return None
        return np.where(self._flat, grad_output, grad_output.dtype.type(0))

    def get_config(self):
        config = super(_RandomIntensity, self).get_config()      # no factor: not random
        return {**config, "value_range": list(self.value_range), "bins": self.bins}
