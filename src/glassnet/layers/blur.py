"""RandomGaussianBlur: Keras 3's random blur, a Gaussian filter on some of the images of a batch
in training, the identity outside it (the rules of the other augmentation layers in
``augmentation.py``, whose clipping to ``value_range`` it shares)."""
import math

import numpy as np

from .. import backend
from .data_format import set_data_format
from .augmentation import _RandomIntensity, _factor_pair, _unsigned_pair, _where


def gaussian_kernel(size, sigma):
    """Keras' 1-D kernel: ``exp(-t^2 / (2 sigma^2))`` at ``t = -(size-1)/2 .. (size-1)/2``,
    normalised to sum 1; ``sigma`` of shape (n,) gives (n, size), one kernel per image."""
    t = np.arange(size) - (size - 1) / 2
    kernel = np.exp(-0.5 * (t / np.asarray(sigma, dtype=np.float64)[:, None]) ** 2)
    return kernel / kernel.sum(axis=1, keepdims=True)


def gaussian_blur(x, kernels, column_kernels=None):
    """Each image of ``x`` (n, H, W, C) filtered by its ``kernels`` row (n, K) along the height,
    then by its ``column_kernels`` row (n, K') (the same kernels when None) along the width, zeros
    beyond the borders (TensorFlow's depthwise convolution, padding "SAME": an even kernel puts its
    extra tap after the centre). A symmetric odd kernel makes this its own transpose: the backward
    pass is the same blur of the gradient."""
    out = _filter_axis(x, kernels, 1)
    return _filter_axis(out, kernels if column_kernels is None else column_kernels, 2)


def _filter_axis(x, kernels, axis):
    """``x`` (n, H, W, C) correlated along ``axis`` (1 or 2) with each image's kernel (n, K), "SAME"."""
    size, length, xp = kernels.shape[1], x.shape[axis], backend.get_array_module(x)
    before = (size - 1) // 2
    k = kernels.astype(x.dtype, copy=False)[:, :, None, None, None]     # (n, K, 1, 1, 1)
    pad = [(0, 0)] * 4
    pad[axis] = (before, size - 1 - before)
    padded = xp.pad(x, pad)

    def window(j):                           # K shifted views: no Python loop over pixels
        return padded[:, j:j + length] if axis == 1 else padded[:, :, j:j + length]
    out = k[:, 0] * window(0)
    for j in range(1, size):
        out += k[:, j] * window(j)
    return out


class RandomGaussianBlur(_RandomIntensity):
    """Blur some images with a Gaussian filter of ``kernel_size`` x ``kernel_size`` (odd) pixels
    and standard deviation ``sigma``, zeros beyond the borders, then clip every image to
    ``value_range`` (Keras clips the ones left unblurred too).

    Which images: each draws a probability p from ``factor`` (a number f in [0, 1] gives [0, f],
    a pair (lower, upper) within [0, 1] that range) and is blurred when a second uniform draw falls
    below p, as Keras 3.15 does; the default ``factor=1.0`` thus blurs half the images (its
    documentation also calls 1.0 "the most aggressive blurring": for every image, pass (1, 1)).

    ``sigma``: a number is the standard deviation, a pair (lower, upper) draws one per image (its
    documentation). Keras 3.15 instead draws even a number's, from [0, sigma] with sigma at most 1,
    and one draw (per axis) for the whole batch; glassnet follows the documentation. Keras' config
    holds a number as the range it draws from, ``[0, sigma]``, so a Keras file's layer reads as
    that range and draws from it as Keras' does. Keras' 1e-6 is
    added to every sigma, so 0 is allowed (a kernel of one pixel). The last training call's choices
    are kept in ``_drawn``: ``should_apply_blur`` (n,) and ``blur_factor`` (n,) (the sigmas).

    Example
    -------
    >>> layer = RandomGaussianBlur(factor=(1.0, 1.0), kernel_size=3, sigma=1.0, value_range=(0, 1), seed=0)
    >>> image = np.zeros((1, 3, 3, 1)); image[0, 1, 1, 0] = 1.0
    >>> layer(image, training=True)[0, :, :, 0].astype(float).round(3).tolist()      # the kernel itself
    [[0.075, 0.124, 0.075], [0.124, 0.204, 0.124], [0.075, 0.124, 0.075]]
    """

    def __init__(self, factor=1.0, kernel_size=3, sigma=1.0, value_range=(0, 255), data_format=None, seed=None,
                 **kwargs):
        super().__init__(value_range, seed, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        self.factor = _unsigned_pair(factor, "RandomGaussianBlur", "factor")
        if isinstance(kernel_size, (tuple, list)) and len(kernel_size) == 2 and kernel_size[0] == kernel_size[1]:
            kernel_size = kernel_size[0]        # Keras' config form, (k, k); glassnet's kernels are square
        if isinstance(kernel_size, bool) or not isinstance(kernel_size, (int, np.integer)) \
                or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"RandomGaussianBlur: kernel_size must be an odd positive integer (the kernel is "
                             f"kernel_size x kernel_size pixels, centred), got {kernel_size!r:.80}")
        self.kernel_size = int(kernel_size)
        lower, upper = _factor_pair(sigma, "RandomGaussianBlur", "sigma", 0.0, math.inf)
        self.sigma = (upper, upper) if not isinstance(sigma, (tuple, list)) else (lower, upper)

    def _augment(self, x):
        self._check_range(x)
        n = x.shape[0]
        probability = self._uniform(*self.factor, n)
        self._blurred = self._uniform(0.0, 1.0, n) < probability
        sigma = (self._uniform(*self.sigma, n) if self.sigma[0] != self.sigma[1] else np.full(n, self.sigma[0])) + 1e-6
        self._drawn = {"should_apply_blur": self._blurred, "blur_factor": sigma}
        self._kernels = _where(x, gaussian_kernel(self.kernel_size, sigma[self._blurred]))
        out = x.copy()
        if self._blurred.any():
            out[self._blurred] = gaussian_blur(x[self._blurred], self._kernels)
        return self._clip(out)

    def _augment_backward(self, grad_output):
        grad = grad_output * self._kept                 # nothing passes where the clip held the value
        if self._blurred.any():
            grad[self._blurred] = gaussian_blur(grad[self._blurred], self._kernels)
        return grad

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size, "sigma": list(self.sigma)}
