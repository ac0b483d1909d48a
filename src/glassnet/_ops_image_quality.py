"""``ops.image.sobel_edges``, ``ops.image.ssim`` and ``ops.image.extract_patches_3d`` (Keras 3.15's),
for ``glassnet.ops.image``.

sobel_edges is TensorFlow's ``tf.image.sobel_edges``: each channel reflect-padded by one pixel and
correlated with the 3x3 Sobel kernels, (batch, H, W, C) -> (batch, H, W, C, 2) holding [dy, dx].
On a tensor it makes three nodes (``pad`` reflect, a constant ``depthwise_conv``, ``reshape``), so
its gradient is theirs. ssim is Keras' own: the Gaussian-weighted (``filter_size``, valid) means,
variances and covariance of each channel, Wang et al.'s index averaged over the pixels and the
channels; arrays only.
"""
import numbers

import numpy as np

from ._ops_arrays import _no_tensor
from ._ops_reading import _array, _is_tensor

SOBEL = np.array([[[-1, -2, -1], [0, 0, 0], [1, 2, 1]],          # dy
                  [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]], np.float64)  # dx


def _data_format(data_format, function):
    from ._ops_image_reading import data_format_of
    return data_format_of(data_format, function)


def sobel_edges(images, data_format=None):
    """The Sobel gradients of ``images`` (batch, H, W, C) (channels first: (batch, C, H, W)), H and W
    at least 2: (batch, H, W, C, 2) (channels first: (batch, C, H, W, 2)), the last axis [dy, dx];
    float16, float32 and float64 images keep their dtype (integers are refused, as Keras 3.15's)."""
    from . import ops
    data_format = _data_format(data_format, "sobel_edges")
    first = data_format == "channels_first"
    if _is_tensor(images):
        shape = tuple(images.shape)
        if len(shape) != 4 or None in shape[1:]:
            raise ValueError(f"ops.image.sobel_edges: images must be (batch, height, width, channels) of known sizes, "
                             f"got a tensor of shape {shape}")
        x = ops.transpose(images, (0, 2, 3, 1)) if first else images
        height, width, channels = x.shape[1:]
    else:
        x = _array(images, "images", "sobel_edges")
        if x.dtype.kind != "f":
            raise TypeError(f"ops.image.sobel_edges: images must hold floats (Keras 3.15 on TensorFlow refuses "
                            f"integers), got an array of {x.dtype}")
        if x.ndim != 4:
            raise ValueError(f"ops.image.sobel_edges: images must be a batch (batch, height, width, channels), got "
                             f"shape {x.shape}")
        if first:
            x = x.transpose(0, 2, 3, 1)
        height, width, channels = x.shape[1:]
    if height < 2 or width < 2:
        raise ValueError(f"ops.image.sobel_edges: images must be 2x2 or larger (reflect padding), got "
                         f"{height}x{width}")
    dtype = np.float32 if _is_tensor(images) else x.dtype
    # (3, 3, C, 2): depthwise output channel c * 2 + k is channel c's kernel k, so reshaping the
    # channels to (C, 2) gives [dy, dx] per channel (TensorFlow's order)
    kernel = np.tile(SOBEL.transpose(1, 2, 0)[:, :, None, :], (1, 1, channels, 1)).astype(dtype)
    padded = ops.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    edges = ops.depthwise_conv(padded, kernel, padding="valid", data_format="channels_last")
    edges = ops.reshape(edges, (-1, height, width, channels, 2))
    return ops.transpose(edges, (0, 3, 1, 2, 4)) if first else edges


def _gaussian(size, sigma):
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x ** 2) / (2.0 * sigma ** 2))
    return g / g.sum()


def _blurred(x, g):
    """``x`` (n, H, W) correlated with the outer product of ``g`` with itself, valid: two 1-D passes."""
    k = g.size
    rows = np.lib.stride_tricks.sliding_window_view(x, k, axis=1) @ g
    return np.lib.stride_tricks.sliding_window_view(rows, k, axis=2) @ g


def ssim(image1, image2, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03, data_format=None):
    """The structural similarity of two images (H, W, C) or batches (batch, H, W, C) (channels
    first: C before H, W) of one shape: a number, or one per image; in ``image1``'s dtype (Keras
    casts back: integer images give the index truncated). ``filter_size`` must not exceed H or W."""
    _no_tensor("image.ssim", image1=image1, image2=image2)
    data_format = _data_format(data_format, "ssim")
    a, b = _array(image1, "image1", "image.ssim"), _array(image2, "image2", "image.ssim")
    for name, array in (("image1", a), ("image2", b)):
        if array.ndim not in (3, 4) or array.dtype.kind not in "biuf":
            raise ValueError(f"ops.image.ssim: {name} must be an image (3 axes) or a batch of images (4 axes), got "
                             f"{array.dtype} of shape {array.shape}")
    if a.shape != b.shape:
        raise ValueError(f"ops.image.ssim: image1 and image2 must have one shape, got {a.shape} and {b.shape}")
    for name, value in (("max_val", max_val), ("filter_sigma", filter_sigma), ("k1", k1), ("k2", k2)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
            raise TypeError(f"ops.image.ssim: {name} must be a number, got {value!r:.40}")
    if filter_sigma <= 0:
        raise ValueError(f"ops.image.ssim: filter_sigma must be > 0, got {filter_sigma!r}")
    single = a.ndim == 3
    batch_a, batch_b = (v[None] if single else v for v in (a, b))
    if data_format == "channels_last":
        batch_a, batch_b = (v.transpose(0, 3, 1, 2) for v in (batch_a, batch_b))
    n, channels, height, width = batch_a.shape
    if isinstance(filter_size, bool) or not isinstance(filter_size, numbers.Integral) \
            or not 1 <= filter_size <= min(height, width):
        raise ValueError(f"ops.image.ssim: filter_size must be an integer in [1, {min(height, width)}] (the images' "
                         f"{height}x{width}), got {filter_size!r:.40}")
    compute = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
    x, y = (v.reshape(n * channels, height, width).astype(np.float64) for v in (batch_a, batch_b))
    g = _gaussian(int(filter_size), float(filter_sigma))
    mu1, mu2 = _blurred(x, g), _blurred(y, g)
    sigma1 = _blurred(x * x, g) - mu1 * mu1
    sigma2 = _blurred(y * y, g) - mu2 * mu2
    sigma12 = _blurred(x * y, g) - mu1 * mu2
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    index = (2 * mu1 * mu2 + c1) * (2 * sigma12 + c2) / ((mu1 * mu1 + mu2 * mu2 + c1) * (sigma1 + sigma2 + c2))
    value = index.mean(axis=(1, 2)).reshape(n, channels).mean(axis=1).astype(compute)
    return (value[0] if single else value).astype(a.dtype)


def extract_patches_3d(volumes, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    """``extract_patches`` of volumes (batch, D, H, W, C) (or one volume (D, H, W, C)): every
    ``size`` window (an integer: a cube) as one vector, (batch, D', H', W', pd * ph * pw * C)."""
    from ._ops_image import extract_patches
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = (int(size),) * 3
    if not isinstance(size, (tuple, list)) or len(size) != 3:
        raise ValueError(f"ops.image.extract_patches_3d: size must be an integer or three, got {size!r:.40}")
    return extract_patches(volumes, tuple(size), strides=strides, dilation_rate=dilation_rate, padding=padding,
                           data_format=data_format)


__all__ = ["sobel_edges", "ssim", "extract_patches_3d"]
