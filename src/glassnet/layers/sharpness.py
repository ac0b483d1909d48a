"""RandomSharpness: Keras 3's random sharpening or softening, a blend of each image with a 3 x 3
smoothing of it, in training only (the rules of the other augmentation layers in
``augmentation.py``, whose clipping to ``value_range`` it shares)."""
import numpy as np

from .. import backend
from .data_format import set_data_format
from .augmentation import _RandomIntensity, _unsigned_pair, _where

# Keras' (and PIL's ImageFilter.SMOOTH's) kernel: the pixel weighs 5, each of its 8 neighbours 1
SMOOTH = np.array([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]]) / 13.0


def smooth(x):
    """Each channel of the images ``x`` (n, H, W, C) filtered by ``SMOOTH``, zeros beyond the
    borders (TensorFlow's depthwise convolution, padding "SAME", which Keras runs: a border pixel
    comes out darker, unlike PIL's, which keeps the border). The kernel is symmetric, so this is
    its own transpose: the backward pass is the same filter of the gradient."""
    n, h, w, _ = x.shape
    padded = backend.get_array_module(x).pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    kernel = SMOOTH.astype(x.dtype)
    out = kernel[0, 0] * padded[:, 0:h, 0:w]
    for i in range(3):                       # 9 shifted views: no Python loop over pixels
        for j in range(3):
            if i or j:
                out += kernel[i, j] * padded[:, i:i + h, j:j + w]
    return out


class RandomSharpness(_RandomIntensity):
    """Sharpen or soften each image by a factor f drawn per image from ``factor`` (a number in
    [0, 1], the range [0, f], or a pair (lower, upper) in [0, 1]): ``x + (1 - 2 f) (smooth(x) - x)``,
    ``smooth`` the 3 x 3 kernel ``[[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13`` per channel with zeros
    beyond the borders (Keras' "SAME" convolution), then clipped to ``value_range``: f = 0 gives
    the smoothed image, 0.5 the image itself, 1 the image pushed as far from its smoothing
    (sharpened) as 0 pulls it towards it. Keras 3.15's maths and factor ranges, unchanged.

    The blend is linear in the image: the gradient is ``2 f g + (1 - 2 f) smooth(g)`` for the
    gradient g where the clip let the pixel through (0 where it held it). The factors of the last
    training call are kept in ``_drawn["factor"]``.

    Example
    -------
    >>> layer = RandomSharpness((0.0, 0.0), value_range=(0, 1), seed=0)      # fully smoothed
    >>> image = np.zeros((1, 3, 3, 1)); image[0, 1, 1, 0] = 1.0
    >>> (layer(image, training=True)[0, :, :, 0] * 13).round(6).tolist()
    [[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]]
    """

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(value_range, seed, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        self.factor = _unsigned_pair(factor, "RandomSharpness", "factor")

    def _augment(self, x):
        self._check_range(x)
        f = self._uniform(*self.factor, x.shape[0])
        self._drawn = {"factor": f}
        # Keras' steps and order: (f * 2) in the images' dtype, then x + (1 - s) (smooth - x)
        self._blend = _where(x, (1 - (f * 2).astype(x.dtype))[:, None, None, None])
        return self._clip(x + self._blend * (smooth(x) - x))

    def _augment_backward(self, grad_output):
        g = grad_output * self._kept                  # nothing passes where the clip held the value
        return (1 - self._blend) * g + self._blend * smooth(g)
