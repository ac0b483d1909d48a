"""``glassnet.ops.image``'s colours and filters: rgb_to_grayscale, rgb_to_hsv, hsv_to_rgb and
gaussian_blur, Keras 3.15's ``keras.ops.image`` functions on arrays (TensorFlow's formulas).

One implementation each: the gray is RandomGrayscale's luma (layers/color_augmentation.py), the
hue RandomHue's and the HSV-to-RGB weights its ``_hue_weights`` (layers/hsv_augmentation.py), the
blur RandomGaussianBlur's kernel and filter (layers/blur.py).
"""
import numbers

import numpy as np

from ._ops_image_reading import float_images, read_images


def rgb_to_grayscale(images, data_format=None):
    """The gray of RGB images (Keras' ``ops.image.rgb_to_grayscale``, TensorFlow's weights
    0.2989, 0.5870, 0.1140): (batch, H, W, 3) or (H, W, 3) -> (..., 1), their dtype (integers
    computed in float32 and truncated, as Keras' cast); one channel comes back as it is.

    >>> rgb_to_grayscale(np.array([[[1.0, 1.0, 1.0]]]))[0, 0].round(4).tolist()
    [0.9999]
    """
    from .layers.color_augmentation import _luma

    batch, restore = read_images(images, "rgb_to_grayscale", data_format)
    _channels(batch, "rgb_to_grayscale", (1, 3))
    if batch.shape[-1] == 1:
        return restore(batch.copy())
    compute = batch if batch.dtype.kind == "f" else batch.astype(np.float32)
    return restore(_luma(compute).astype(batch.dtype))       # astype truncates, as TensorFlow's cast


def _channels(batch, function, allowed):
    if batch.shape[-1] not in allowed:
        raise ValueError(f"ops.image.{function}: images must have {' or '.join(map(str, allowed))} channels, got "
                         f"{batch.shape[-1]} (images read channels last, (batch, H, W, C); see data_format)")


def rgb_to_hsv(images, data_format=None):
    """RGB images (floats in [0, 1]) as hue, saturation, value (Keras' ``ops.image.rgb_to_hsv``,
    TensorFlow's: hue in [0, 1), 0 for gray pixels; saturation 0 for black ones).
    (batch, H, W, 3) or (H, W, 3) -> the same shape and dtype.

    >>> rgb_to_hsv(np.array([[[0.0, 0.5, 1.0]]]))[0, 0].round(6).tolist()
    [0.583333, 1.0, 1.0]
    """
    from .layers.hsv_augmentation import rgb_hue

    batch, restore = read_images(images, "rgb_to_hsv", data_format)
    float_images(batch, "rgb_to_hsv")
    _channels(batch, "rgb_to_hsv", (3,))
    top, _, spread, _, _, _, hue = rgb_hue(batch)
    with np.errstate(invalid="ignore", divide="ignore"):
        saturation = np.where(top > 0, spread / np.where(top > 0, top, 1), 0).astype(batch.dtype)
    return restore(np.concatenate([hue, saturation, top], axis=-1))


def hsv_to_rgb(images, data_format=None):
    """Hue, saturation, value images back to RGB (Keras' ``ops.image.hsv_to_rgb``, TensorFlow's:
    each channel ``V (1 - S + S w_c(H))``, w_c clamped triangles of 6 H).
    (batch, H, W, 3) or (H, W, 3) -> the same shape and dtype.

    >>> hsv_to_rgb(np.array([[[0.5, 1.0, 1.0]]]))[0, 0].tolist()
    [0.0, 1.0, 1.0]
    """
    from .layers.hsv_augmentation import _hue_weights

    batch, restore = read_images(images, "hsv_to_rgb", data_format)
    float_images(batch, "hsv_to_rgb")
    _channels(batch, "hsv_to_rgb", (3,))
    hue, saturation, value = batch[..., 0:1], batch[..., 1:2], batch[..., 2:3]
    weights, _ = _hue_weights(hue)
    return restore(((1 - saturation + saturation * weights) * value).astype(batch.dtype, copy=False))


def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
    """Images filtered by a Gaussian (Keras' ``ops.image.gaussian_blur``: TensorFlow's depthwise
    convolution, padding "SAME", zeros beyond the borders, each channel on its own).

    kernel_size : (k, k), a square kernel (Keras 3.15 lays a non-square one out scrambled: refused)
    sigma : two positive numbers; as Keras 3.15 computes it, ``sigma[1]`` blurs along the height
        and ``sigma[0]`` along the width (its documentation says the other way round)
    images : floats, (batch, H, W, C) or (H, W, C) -> the same shape and dtype.

    >>> gaussian_blur(np.ones((3, 3, 1)), (3, 3), (1.0, 1.0))[1, 1, 0].round(6).item()
    1.0
    """
    from .layers.blur import gaussian_blur as blur, gaussian_kernel

    function = "gaussian_blur"
    sizes = _pair(kernel_size, "kernel_size", function, integer=True)
    sigmas = _pair(sigma, "sigma", function, integer=False)
    if sizes[0] != sizes[1]:
        raise ValueError(f"ops.image.{function}: kernel_size must be square, (k, k), got {kernel_size!r}: Keras 3.15 "
                         f"lays a non-square kernel's weights out scrambled (a reshape of its outer product)")
    batch, restore = read_images(images, function, data_format)
    float_images(batch, function)
    n = batch.shape[0]
    rows = gaussian_kernel(sizes[0], np.full(n, sigmas[1]))       # along the height: Keras' sigma[1]
    columns = gaussian_kernel(sizes[1], np.full(n, sigmas[0]))
    return restore(blur(batch, rows, columns).astype(batch.dtype, copy=False))


def _pair(value, name, function, integer):
    """Two positive numbers (integers for a kernel size), as a tuple."""
    kind = "integers" if integer else "numbers"
    if isinstance(value, np.ndarray):
        value = value.tolist()
    ok = isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, numbers.Integral if integer else numbers.Real) and not isinstance(v, (bool, np.bool_))
        and np.isfinite(v) and v > 0 for v in value)
    if not ok:
        raise ValueError(f"ops.image.{function}: {name} must be two positive {kind} (height, width), got "
                         f"{value!r:.80}")
    return (int(value[0]), int(value[1])) if integer else (float(value[0]), float(value[1]))
