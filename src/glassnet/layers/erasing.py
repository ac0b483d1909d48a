"""RandomErasing: Keras 3's random erasing (Zhong et al. 2017, torchvision's ``RandomErasing``),
a rectangle of some images replaced by a constant or by noise in training, the identity outside
it (the rules of the other augmentation layers in ``augmentation.py``)."""
import math

import numpy as np

from .. import backend
from .data_format import set_data_format
from .augmentation import _RandomIntensity, _unsigned_pair, _where


class RandomErasing(_RandomIntensity):
    """Replace a random rectangle of some images by ``fill_value``.

    Which images: each draws a probability p from ``factor`` (a number f in [0, 1] gives [0, f], a
    pair (lower, upper) within [0, 1] that range) and is erased when a second uniform draw falls
    below p, as Keras 3.15 does. The default ``factor=1.0`` thus erases half the images: Keras'
    documentation says both "factor=1.0 means erasing is always applied" and "a single float: a
    probability is sampled between 0.0 and the given float"; its code does the second, and so does
    glassnet. For every image, pass (1, 1).

    The rectangle: two draws s from ``scale`` (a pair within [0, 1]; a number s gives [0, s]) make
    its width sqrt(s1) W and height sqrt(s2) H, placed uniformly inside the image; pixels (x, y)
    with x0 <= x < x0 + width and y0 <= y < y0 + height are erased (Keras' code). Keras'
    documentation calls ``scale`` "the aspect ratio range of the erased patch", but its default
    (0.02, 0.33) is the paper's and torchvision's range of the patch's area, a ratio in which would
    make every patch 3 to 50 times taller than wide: glassnet follows Keras' code here.

    ``fill_value``: a number, one number per channel, or None (Keras' default) for noise, a standard
    normal draw per pixel times ``value_range``'s upper end; the fill is clipped to ``value_range``
    (the images are not). The gradient passes where nothing was erased, and is 0 inside the
    rectangle. The last training call's draws are kept in ``_drawn``: ``apply_erasing`` (n,),
    ``box`` (n, 4) as ``x0, x1, y0, y1`` and, for None, ``noise`` (the standard normal draws).

    Example
    -------
    >>> layer = RandomErasing(factor=(1.0, 1.0), scale=(0.25, 0.25), fill_value=0.0, value_range=(0, 1), seed=0)
    >>> out = layer(np.ones((1, 4, 4, 1)), training=True)[0, :, :, 0]
    >>> int((out == 0).sum())                           # a 2 x 2 square: sqrt(0.25) of each side
    4
    """

    def __init__(self, factor=1.0, scale=(0.02, 0.33), fill_value=None, value_range=(0, 255), seed=None, data_format=None,
                 **kwargs):
        super().__init__(value_range, seed, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        self.factor = _unsigned_pair(factor, "RandomErasing", "factor")
        self.scale = _unsigned_pair(scale, "RandomErasing", "scale")
        self.fill_value = None if fill_value is None else _fill(fill_value)

    def build(self, input_shape):
        super().build(input_shape)
        self._check_channels(input_shape[-1])     # a model of such images is refused when it is built

    def _check_channels(self, channels):
        if isinstance(self.fill_value, list) and len(self.fill_value) not in (1, channels):
            raise ValueError(f"{self.describe()}: fill_value has {len(self.fill_value)} values, one per channel, "
                             f"but the images have {channels} channels")

    def _augment(self, x):
        n, h, w, c = x.shape
        self._check_channels(c)
        side = np.sqrt(self._uniform(*self.scale, 2 * n).reshape(n, 2))      # Keras' (n, 2) draw
        width, height = side[:, 0] * w, side[:, 1] * h
        x0 = self._uniform(0.0, 1.0, n) * (w - width)
        y0 = self._uniform(0.0, 1.0, n) * (h - height)
        probability = self._uniform(*self.factor, n)
        apply = self._uniform(0.0, 1.0, n) < probability
        self._drawn = {"apply_erasing": apply, "box": np.stack([x0, x0 + width, y0, y0 + height], axis=1)}
        columns, rows = np.arange(w), np.arange(h)
        inside = (((rows >= y0[:, None]) & (rows < (y0 + height)[:, None]))[:, :, None]
                  & ((columns >= x0[:, None]) & (columns < (x0 + width)[:, None]))[:, None, :])
        erased = _where(x, (inside & apply[:, None, None])[..., None])           # (n, H, W, 1)
        low, high = self.value_range
        if self.fill_value is None:
            noise = self._generator().standard_normal(x.shape, dtype=x.dtype)   # Keras draws it for every pixel
            self._drawn["noise"] = noise
            fill = _where(x, np.clip(noise * x.dtype.type(high), low, high))
        else:
            fill = _where(x, np.clip(np.asarray(self.fill_value, dtype=x.dtype), low, high))
        self._kept = ~erased
        return backend.get_array_module(x).where(erased, fill, x)

    def _augment_backward(self, grad_output):
        return grad_output * self._kept

    def get_config(self):
        return {**super().get_config(), "scale": list(self.scale), "fill_value": self.fill_value}


def _fill(value):
    """A fill value: a finite number, or a list of them (one per channel)."""
    values = list(value) if isinstance(value, (tuple, list)) else [value]
    if not values or not all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                             and math.isfinite(v) for v in values):
        raise ValueError(f"RandomErasing: fill_value must be None (noise), a finite number or a list of them, one "
                         f"per channel, got {value!r:.80}")
    return [float(v) for v in values] if isinstance(value, (tuple, list)) else float(value)
