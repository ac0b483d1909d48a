"""Keras' colour augmentation layers: RandomGrayscale, RandomInvert, Solarization,
RandomColorDegeneration and RandomPosterization; and AutoContrast, which Keras applies at inference
too. RandomSaturation and RandomHue, Keras' HSV ones, are in hsv_augmentation.py.

Like the geometric ones (augmentation.py), each random one changes images (batch, H, W, C) in
training only, with new draws per image and step from the layer's generator (the model's seed, or
the layer's own ``seed``), and is the identity, gradient included, in ``evaluate`` and ``predict``.
A layer that mixes the colour channels takes RGB images, C == 3 (RandomGrayscale also C == 1, an
image already gray, as Keras); the others any C. The per-image parameters of the last training
call stay in ``layer._drawn`` (a dict of arrays of length batch), for tests and for a curious user.
"""
import numpy as np

from .. import backend

from .._validation import check_number
from .data_format import set_data_format
from .augmentation import keras_number, _RandomImage, _RandomIntensity, _unsigned_pair, _where

# ITU-R 601 luma, as Keras' (TensorFlow's) rgb_to_grayscale weighs red, green and blue
LUMA = (0.2989, 0.5870, 0.1140)


def _luma(x):
    """The gray (n, H, W, 1) of RGB images (n, H, W, 3), in their dtype."""
    return (x @ _where(x, np.asarray(LUMA, dtype=x.dtype)))[..., None] if x.shape[-1] == 3 else x


def _luma_backward(grad_gray, channels):
    """The transpose of ``_luma``: each gray pixel's gradient (n, H, W, 1) back onto its channels."""
    return grad_gray * _where(grad_gray, np.asarray(LUMA, dtype=grad_gray.dtype)) if channels == 3 else grad_gray


class _Channels:
    """For the layers that mix the colour channels: images of ``channels`` channels only."""

    channels = (3,)
    _moves_boxes = True          # colours only: boxes pass as they are (Keras')

    def _check_channels(self, sample_shape):
        c = tuple(sample_shape)[-1] if len(sample_shape) else None
        if c is not None and c not in self.channels:
            wanted = " or ".join(map(str, self.channels))
            kinds = "RGB images (3 channels)" if self.channels == (3,) else "gray or RGB images (1 or 3 channels)"
            raise ValueError(f"{self.describe()}: expected {kinds}, (batch, height, width, {wanted}), got "
                             f"{c} channel{'s' if c != 1 else ''}: shape (batch, {', '.join(map(str, sample_shape))})")

    def build(self, input_shape):
        super().build(input_shape)
        self._check_channels(tuple(input_shape))

    def check_input_shape(self, sample_shape):
        super().check_input_shape(sample_shape)
        self._check_channels(tuple(sample_shape))

    def forward(self, x, training=False):
        self._check_channels(x.shape[1:])
        return super().forward(x, training)


class RandomGrayscale(_Channels, _RandomImage):
    """Turn each RGB image gray with probability ``factor`` (in [0, 1]; Keras' default 0.5): every
    channel becomes the luma ``0.2989 R + 0.5870 G + 0.1140 B`` (Keras' weights), so the image
    keeps its 3 channels. Images of 1 channel are gray already and pass unchanged.

    Example
    -------
    >>> layer = RandomGrayscale(1.0, seed=0)
    >>> layer(np.array([[[[255.0, 0.0, 0.0]]]]), training=True)[0, 0, 0].astype(float).round(2).tolist()
    [76.22, 76.22, 76.22]
    """

    channels = (1, 3)

    def __init__(self, factor=0.5, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        self.factor = check_number(factor, "RandomGrayscale: factor (the probability of turning an image gray)", "[0, 1]")

    def _augment(self, x):
        chosen = self._uniform(0.0, 1.0, x.shape[0]) < self.factor
        self._drawn = {"grayscale": chosen}
        self._chosen = _where(x, chosen[:, None, None, None])
        return np.where(self._chosen, _luma(x), x)

    def _augment_backward(self, grad_output):
        through_gray = _luma_backward(grad_output.sum(axis=-1, keepdims=True), grad_output.shape[-1])
        return np.where(self._chosen, through_gray, grad_output)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class RandomInvert(_RandomIntensity):
    """Invert each image's colours, ``low + high - x`` for ``value_range`` (low, high), with a
    probability drawn per image from ``factor``: a number f in [0, 1] (the probability drawn from
    [0, f]; Keras' default 1.0 inverts half of the images) or a pair (lower, upper) in [0, 1].

    Keras 3.15 writes ``high - x``, which is the complement only for ranges that start at 0 (its
    default (0, 255) and (0, 1)): images in (-1, 1) would land in (0, 2). glassnet follows its
    documentation ("complementary values"), the same for those ranges.

    Example
    -------
    >>> layer = RandomInvert((1.0, 1.0), value_range=(-1, 1), seed=0)
    >>> layer(np.array([[[[-1.0, 0.25]]]]), training=True)[0, 0, 0].tolist()
    [1.0, -0.25]
    """

    def __init__(self, factor=1.0, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(value_range, seed, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        self.factor = _unsigned_pair(factor, "RandomInvert", "factor")

    def _augment(self, x):
        n = x.shape[0]
        # Keras' two draws: a probability per image, then the coin that uses it
        probability = self._uniform(*self.factor, n)
        chosen = self._uniform(0.0, 1.0, n) < probability
        self._drawn = {"invert": chosen}
        self._chosen = _where(x, chosen[:, None, None, None])
        # no clip: the mirror image of an image inside value_range lies inside it too
        return np.where(self._chosen, x.dtype.type(sum(self.value_range)) - x, x)

    def _augment_backward(self, grad_output):
        return np.where(self._chosen, -grad_output, grad_output)


class Solarization(_RandomIntensity):
    """Keras' solarization: in units of 0-255 over ``value_range``, add ``a`` to each pixel, clip to
    [0, 255], then invert (``255 - p``) the pixels at or above a threshold ``t``. Per image, ``a``
    is drawn from ``addition_factor`` and ``t`` from ``threshold_factor`` (each a number f in
    [0, 1], the range [0, f], or a pair (lower, upper) in [0, 1]), times 255. The defaults (0, 0)
    invert every pixel of every image; ``threshold_factor=(0.5, 0.5)`` inverts the bright half.

    Keras 3.15 draws from ``[lower, upper * 255]``, against its documentation ("times the value
    range"); glassnet draws ``[lower, upper] * 255``, the same where lower is 0 (a number f).

    Example
    -------
    >>> layer = Solarization(threshold_factor=(0.5, 0.5), value_range=(0, 1), seed=0)
    >>> layer(np.array([[[[0.25, 0.75]]]]), training=True)[0, 0, 0].tolist()
    [0.25, 0.25]
    """

    def __init__(self, addition_factor=0.0, threshold_factor=0.0, value_range=(0, 255), seed=None, data_format=None,
                 **kwargs):
        super().__init__(value_range, seed, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        self.addition_factor = _unsigned_pair(addition_factor, "Solarization", "addition_factor")
        self.threshold_factor = _unsigned_pair(threshold_factor, "Solarization", "threshold_factor")

    def _augment(self, x):
        self._check_range(x)
        n = x.shape[0]
        addition = self._uniform(*self.addition_factor, n)
        threshold = self._uniform(*self.threshold_factor, n)
        self._drawn = {"addition": addition * 255, "threshold": threshold * 255}
        a, t = (_where(x, v.astype(x.dtype)[:, None, None, None] * x.dtype.type(255)) for v in (addition, threshold))
        low, high = self.value_range
        scaled = (low, high) != (0.0, 255.0)        # Keras' own steps, for its float32 rounding
        p = (x - x.dtype.type(low)) / x.dtype.type(high - low) * x.dtype.type(255) if scaled else x
        p = p + a
        self._kept = (p >= 0) & (p <= 255)           # where the gradient passes the clip
        np.clip(p, 0, 255, out=p)
        self._inverted = p >= t
        p = np.where(self._inverted, x.dtype.type(255) - p, p)
        return p / x.dtype.type(255) * x.dtype.type(high - low) + x.dtype.type(low) if scaled else p

    def _augment_backward(self, grad_output):
        # the two rescalings cancel: +-1 where the clip let the pixel through
        g = grad_output * self._kept
        return np.where(self._inverted, -g, g)

    def get_config(self):
        config = super(_RandomIntensity, self).get_config()      # _RandomIntensity's adds a factor
        return {**config, "addition_factor": list(self.addition_factor),
                "threshold_factor": list(self.threshold_factor), "value_range": list(self.value_range)}


class RandomColorDegeneration(_Channels, _RandomIntensity):
    """Fade each RGB image towards its gray by a strength drawn per image from ``factor`` (a number
    f in [0, 1], the range [0, f], or a pair (lower, upper) in [0, 1]): ``x + s (gray - x)``, the
    gray as RandomGrayscale's, clipped to ``value_range``; s = 0 leaves the image, s = 1 makes it
    gray. Images of 1 channel are gray already and pass unchanged.

    Keras 3.15 draws a number f from [-f, f] (its base class's range), against its documentation
    ("a value between 0.0 and the passed float"), and takes pairs below 0, which push the colours
    away from gray; glassnet follows the documentation.

    Example
    -------
    >>> layer = RandomColorDegeneration((0.5, 0.5), value_range=(0, 1), seed=0)
    >>> layer(np.array([[[[1.0, 0.0, 0.0]]]]), training=True)[0, 0, 0].astype(float).round(3).tolist()
    [0.649, 0.149, 0.149]
    """

    channels = (1, 3)

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(value_range, seed, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        # Keras' config of a number f is (-f, f) (its range, against its docs): the number f again
        self.factor = _unsigned_pair(keras_number(factor), "RandomColorDegeneration", "factor")

    def _augment(self, x):
        self._check_range(x)
        strength = self._uniform(*self.factor, x.shape[0])
        self._drawn = {"factor": strength}
        self._strength = _where(x, strength.astype(x.dtype)[:, None, None, None])
        return self._clip(x + self._strength * (_luma(x) - x))

    def _augment_backward(self, grad_output):
        g = grad_output * self._kept
        through_gray = _luma_backward(g.sum(axis=-1, keepdims=True), g.shape[-1])
        return (1 - self._strength) * g + self._strength * through_gray


class RandomPosterization(_RandomIntensity):
    """Keep each image's ``b`` highest bits per channel, in units of 0-255 over ``value_range``:
    ``floor(p / 2**(8 - b)) * 2**(8 - b)``, b drawn per image from ``factor``, an integer f in
    [1, 8] (b from 1 to f) or a pair (lower, upper) of them (b from lower to upper; (4, 4) keeps
    4 bits every time). Pixels are clipped to the range first (Keras casts them to uint8).

    Keras 3.15 reads a number f as the range (1, f) too, but draws b with ``randint(lower,
    upper)``, which leaves upper out: ``factor=4`` keeps 1 to 3 bits, never 4, and ``factor=2``
    always 1. Its documentation calls ``factor`` "the number of bits to keep" (read literally: f
    bits every time). glassnet keeps Keras' random range and includes f, so that the documented
    number of bits is drawn at all; ``(f, f)`` keeps f bits every time.

    The rounding is flat between its steps: the gradient with respect to the images is 0 (the
    maths' own; no straight-through estimate), so layers before this one learn nothing through it.

    Example
    -------
    >>> layer = RandomPosterization((2, 2), seed=0)            # 2 bits: 0, 64, 128 or 192
    >>> layer(np.array([[[[10.0, 100.0, 200.0]]]]), training=True)[0, 0, 0].tolist()
    [0.0, 64.0, 192.0]
    """

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(value_range, seed, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        pair = isinstance(factor, (tuple, list))
        values = list(factor) if pair else [factor]
        if (pair and len(values) != 2) or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                                  and 1 <= v <= 8 for v in values):
            raise ValueError(f"RandomPosterization: factor must be an integer number of bits in [1, 8], or a pair "
                             f"(lower, upper) of them, got {factor!r:.80}")
        self.factor = tuple(sorted(int(v) for v in values)) if pair else (1, int(values[0]))

    def _augment(self, x):
        self._check_range(x)
        bits = self._generator().integers(self.factor[0], self.factor[1], size=x.shape[0], endpoint=True)
        self._drawn = {"bits": bits}
        step = _where(x, (2.0 ** (8 - bits)).astype(x.dtype)[:, None, None, None])
        low, high = self.value_range
        scaled = (low, high) != (0.0, 255.0)        # Keras' own steps, for its float32 rounding
        p = (x - x.dtype.type(low)) / x.dtype.type(high - low) * x.dtype.type(255) if scaled else x
        p = np.floor(np.clip(p, 0, 255) / step) * step
        return p / x.dtype.type(255) * x.dtype.type(high - low) + x.dtype.type(low) if scaled else p

    def _augment_backward(self, grad_output):
        return backend.get_array_module(grad_output).zeros_like(grad_output)      # flat steps

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}


class AutoContrast(_RandomIntensity):
    """Stretch each image's channels to the whole ``value_range``: per image and channel, its
    smallest value becomes ``low`` and its largest ``high``, linearly between; a channel of one
    value is left as it is. Not random, and, as in Keras, applied in training **and** inference
    (``predict`` and ``evaluate`` see stretched images too); no ``seed``.

    The gradient flows through the pixel and through the channel's smallest and largest values.

    ``data_format="channels_first"`` takes (batch, C, H, W) and stretches each channel over its
    height and width, as channels last. Different: Keras 3.15's AutoContrast takes ``data_format``
    but ignores it (its smallest and largest values are over axes 1 and 2 whatever the format: over
    the channels and the height of a channels-first image, per column).

    Example
    -------
    >>> AutoContrast(value_range=(0, 1))(np.array([[[[0.2]], [[0.4]], [[0.3]]]])).ravel().round(6).tolist()
    [0.0, 1.0, 0.5]
    """

    keras_seeded = False        # (Keras' draws nothing: no SeedGenerator)

    def __init__(self, value_range=(0, 255), data_format=None, **kwargs):
        super().__init__(value_range, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)

    def forward(self, x, training=False):
        if x.ndim != 4:
            super().forward(x, training)            # the shape's error, by name
        self._active = True                         # inference too
        return self._augment(x)

    def _augment(self, x):
        low, high = self.value_range
        smallest, largest = x.min(axis=(1, 2), keepdims=True), x.max(axis=(1, 2), keepdims=True)
        spread = largest - smallest
        with np.errstate(over="ignore", divide="ignore"):
            scale = x.dtype.type(high - low) / np.where(spread == 0, 1, spread)
        # one value, or a spread so small (subnormal) that the scale overflows: Keras' NaN check
        # hands such a channel back unchanged
        flat = (spread == 0) | ~np.isfinite(scale)
        scale = np.where(flat, x.dtype.type(1), scale)
        self._cache = (x, smallest, largest, scale, flat)
        # in [low, high] by construction; the clip only catches rounding, as Keras' does
        return np.where(flat, x, np.clip((x - smallest) * scale + x.dtype.type(low), low, high))

    def _augment_backward(self, grad_output):
        x, smallest, largest, scale, flat = self._cache
        g = np.where(flat, grad_output, 0)
        live = np.where(flat, 0, grad_output)
        # out = low + (x - min) W / (max - min): through x, min and max
        g = g + live * scale
        ratio = (x - smallest) / np.where(flat, 1, largest - smallest)
        to_max = -(live * ratio * scale).sum(axis=(1, 2), keepdims=True)
        to_min = -(live * (1 - ratio) * scale).sum(axis=(1, 2), keepdims=True)
        n, h, w, c = x.shape
        flat_x, pixels = x.reshape(n, h * w, c), backend.get_array_module(x).arange(h * w)[None, :, None]
        first_max = pixels == flat_x.argmax(axis=1)[:, None, :]
        first_min = pixels == flat_x.argmin(axis=1)[:, None, :]
        return g + (to_max * first_max.reshape(x.shape) + to_min * first_min.reshape(x.shape))

    def get_config(self):
        config = super(_RandomIntensity, self).get_config()      # no factor: not random
        return {**config, "value_range": list(self.value_range)}
