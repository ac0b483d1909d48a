"""Keras' HSV augmentation layers, RandomSaturation and RandomHue, in closed form.

Keras converts RGB images to HSV (TensorFlow's conversion), changes the saturation or the hue and
converts back. HSV-to-RGB writes each channel as ``m + (V - m) w_c(H)`` (V and m the pixel's largest
and smallest channel, w_c a clamped triangle of the hue), so both layers are a few array operations
on V, m and the hue, and so are their gradients. The shared behaviour (training only, draws per
image, RGB only, ``layer._drawn``) is color_augmentation.py's.
"""
import numpy as np

from .. import backend
from .data_format import set_data_format
from .augmentation import keras_number, _RandomIntensity, _unsigned_pair, _where
from .color_augmentation import _Channels


class RandomSaturation(_Channels, _RandomIntensity):
    """Scale each RGB image's saturation (HSV's S) by ``k = f / (1 - f)``, f drawn per image from
    ``factor`` (a number in [0, 1], the range [0, f], or a pair (lower, upper) in [0, 1]): f = 0.5
    leaves the image, 0 makes it gray (every channel its maximum, HSV's value), 1 fully saturated.
    Hue and value stay; the new saturation is clipped to [0, 1]. Pixels are read relative to
    ``value_range``'s low end.

    Keras 3.15 converts to HSV and back; in closed form, with V and m a pixel's largest and smallest
    channel, ``out = V - (V - x) min(k, (V - low) / (V - m))`` (HSV-to-RGB is ``V (1 - S k_c(H))``
    per channel), which is what glassnet computes, and differentiates. Three differences from Keras
    3.15, each where it contradicts its own documentation: a number f draws from [0, f] (Keras:
    [-f, f], the negative half all gray), the saturation is clipped to [0, 1] (Keras clips it to
    ``value_range``: with (0, 255) a saturation above 1 makes negative colours), and ranges that do
    not start at 0, (-1, 1), are shifted to 0 first (Keras' HSV of negative colours is meaningless).
    The results equal Keras' for images in (0, 1), and in (0, 255) with f <= 0.5.

    The gradient is the closed form's. At a gray pixel (V = m) and where two channels tie for the
    largest, the map has a corner: its one-sided derivatives differ, and glassnet gives one of them
    (a finite-difference check of a model whose images reach this layer with gray pixels can fail
    there, as it would on a ReLU at 0).

    Example
    -------
    >>> layer = RandomSaturation((0.0, 0.0), value_range=(0, 1), seed=0)
    >>> layer(np.array([[[[0.8, 0.4, 0.2]]]]), training=True)[0, 0, 0].astype(float).round(4).tolist()
    [0.8, 0.8, 0.8]
    """

    # no clip: a pixel's saturation is read from value_range's low end, so values outside it mislead
    _range_effect = "the low end from which training reads the saturation (nothing is clipped)"

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(value_range, seed, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        # Keras' config of a number f is (-f, f) (its range, against its docs): the number f again
        self.factor = _unsigned_pair(keras_number(factor), "RandomSaturation", "factor")

    def _augment(self, x):
        self._check_range(x)
        f = self._uniform(*self.factor, x.shape[0])
        k = f / (1 - f + backend.epsilon())  # Keras' epsilon (read at each call) keeps f = 1 finite: k = 1e7
        self._drawn = {"factor": f, "saturation": k}
        k = _where(x, k.astype(x.dtype)[:, None, None, None])
        top, bottom = x.max(axis=-1, keepdims=True), x.min(axis=-1, keepdims=True)
        spread, height = top - bottom, np.maximum(top - x.dtype.type(self.value_range[0]), 0)
        # where k S > 1 the saturation is clipped: r = 1 / S = height / spread (spread > 0 there)
        self._saturated = k * spread > height
        ratio = np.where(self._saturated, height / np.where(self._saturated, spread, 1), k)
        self._cache = (x, top, spread, ratio)
        out = top - (top - x) * ratio
        # fully saturated, the smallest channel is low itself; rounding may put it a hair below
        return np.where(self._saturated, np.maximum(out, x.dtype.type(self.value_range[0])), out)

    def _augment_backward(self, grad_output):
        x, top, spread, ratio = self._cache
        g = grad_output
        # out_c = V - (V - x_c) r: r is k, or (V - low) / (V - m) where saturated
        below = (top - x) / np.where(self._saturated, spread, 1) * self._saturated    # (V - x_c) / (V - m) there
        to_top = (g * ((1 - ratio) * (1 - below))).sum(axis=-1, keepdims=True)
        to_bottom = -(g * below * ratio).sum(axis=-1, keepdims=True)
        channels = backend.get_array_module(x).arange(x.shape[-1])
        first_top = channels == x.argmax(axis=-1)[..., None]           # V and m: one channel each
        first_bottom = channels == x.argmin(axis=-1)[..., None]
        return g * ratio + to_top * first_top + to_bottom * first_bottom


def _hue_weights(hue):
    """TensorFlow's hsv_to_rgb as weights: each channel is ``m + (V - m) w_c(hue)``, w_c a clamped
    triangle of ``6 hue``; with their slopes (d w_c / d hue, 0 where clamped)."""
    six = 6 * hue
    raw = (np.abs(six - 3) - 1, 2 - np.abs(six - 2), 2 - np.abs(six - 4))
    slopes = (6 * np.sign(six - 3), -6 * np.sign(six - 2), -6 * np.sign(six - 4))
    weights = np.concatenate([np.clip(w, 0, 1) for w in raw], axis=-1)
    slope = np.concatenate([s * ((w > 0) & (w < 1)) for w, s in zip(raw, slopes)], axis=-1)
    return weights, slope


def rgb_hue(x):
    """TensorFlow's rgb_to_hsv pieces of RGB images x (..., 3): V and m (the largest and smallest
    channel, (..., 1)), their spread, the largest channel's index, the channel after it less the one
    after that, whether the pixel has a colour (spread > 0), and the hue in [0, 1) (0 for gray)."""
    top, bottom = x.max(axis=-1, keepdims=True), x.min(axis=-1, keepdims=True)
    spread = top - bottom
    # TensorFlow's hue: from the channel after the largest, less the one after that (red first in a tie)
    largest = x.argmax(axis=-1)[..., None]
    after = np.take_along_axis(x, (largest + 1) % 3, axis=-1) - np.take_along_axis(x, (largest + 2) % 3, axis=-1)
    colour = spread > 0
    hue = np.where(colour, after / (6 * np.where(colour, spread, 1)) + largest.astype(x.dtype) / 3, 0)
    hue = np.where(hue < 0, hue + 1, hue)                     # TensorFlow's hue is in [0, 1)
    return top, bottom, spread, largest, after, colour, hue.astype(x.dtype, copy=False)


class RandomHue(_Channels, _RandomIntensity):
    """Turn each RGB image's hue (HSV's H, a full turn being 1) by ``+-t / 2``, t drawn per image
    from ``factor`` (a number f in [0, 1], the range [0, f], or a pair (lower, upper) in [0, 1])
    and the sign by a coin: ``factor=1.0`` turns by up to half a turn either way. Saturation and
    value stay; the result is clipped to ``value_range`` (a no-op for images inside it).

    Keras 3.15 converts to HSV and back; glassnet computes the same in closed form, with V and m a
    pixel's largest and smallest channel and H its hue (TensorFlow's formula, which is the same
    for any ``value_range``): ``out_c = m + (V - m) w_c(H + delta)``, w_c TensorFlow's clamped
    triangles of hsv_to_rgb. The gradient flows through V, m and the hue; a gray pixel (V = m)
    has no hue, but nudging one channel c gives it hue c / 3 either way, so there each channel's
    partial derivative is the weights ``w(c / 3 + delta)`` (what finite differences see).

    Example
    -------
    >>> layer = RandomHue((2 / 3, 2 / 3), value_range=(0, 1), seed=0)   # a third of a turn
    >>> layer(np.array([[[[1.0, 0.0, 0.0]]]]), training=True)[0, 0, 0].astype(float).round(4).tolist() in (
    ...     [0.0, 1.0, 0.0], [0.0, 0.0, 1.0])
    True
    """

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(value_range, seed, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        self.factor = _unsigned_pair(factor, "RandomHue", "factor")

    def _augment(self, x):
        self._check_range(x)
        n = x.shape[0]
        # Keras' two draws: the direction (a coin), then the amount
        sign = np.where(self._uniform(0.0, 1.0, n) > 0.5, -1.0, 1.0)
        delta = sign * self._uniform(*self.factor, n) * 0.5
        self._drawn = {"delta": delta}
        top, bottom, spread, largest, after, colour, hue = rgb_hue(x)
        hue = hue + _where(x, delta.astype(x.dtype)[:, None, None, None])
        hue = np.where(hue > 1, hue - 1, hue)                     # Keras' wrap, a turn either way
        hue = np.where(hue < 0, hue + 1, hue)
        weights, slope = _hue_weights(hue)
        # a gray pixel has no hue, but each channel's own nudge gives it one, c / 3 (red, green,
        # blue), the same either way (w_c(h + 1/2) = 1 - w_c(h)): its partial derivatives are the
        # weights at c / 3 + delta, turned as the forward turn is (finite differences see these)
        shift = _where(x, delta.astype(x.dtype)[:, None, None, None])
        gray_weights = []
        for c in range(3):
            h = shift + x.dtype.type(c / 3)
            h = np.where(h > 1, h - 1, h)
            h = np.where(h < 0, h + 1, h)
            gray_weights.append(_hue_weights(h)[0])            # (n, 1, 1, 3): input channel c to every output
        self._gray_weights = np.stack(gray_weights, axis=-2)  # (n, 1, 1, 3 in, 3 out)
        self._cache = (largest, x.argmin(axis=-1)[..., None], after, spread, colour, weights, slope)
        return self._clip(bottom + spread * weights)

    def _augment_backward(self, grad_output):
        largest, smallest, after, spread, colour, weights, slope = self._cache
        g = grad_output * self._kept
        to_top = (g * weights).sum(axis=-1, keepdims=True)        # out = m (1 - w) + V w
        to_bottom = (g * (1 - weights)).sum(axis=-1, keepdims=True)
        # the hue (after / (6 spread)) moves every channel by (V - m) w_c'(H)
        to_hue = (g * spread * slope).sum(axis=-1, keepdims=True) * colour
        safe = np.where(colour, spread, 1)
        to_after = to_hue / (6 * safe)
        to_spread = -to_hue * after / (6 * safe * safe)
        to_top, to_bottom = to_top + to_spread, to_bottom - to_spread
        channels = backend.get_array_module(g).arange(g.shape[-1])
        grad = (to_top * (channels == largest) + to_bottom * (channels == smallest)
                + to_after * (channels == (largest + 1) % 3) - to_after * (channels == (largest + 2) % 3))
        return np.where(colour, grad, (g[..., None, :] * self._gray_weights).sum(axis=-1))
