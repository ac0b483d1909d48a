"""The weight matrices of TensorFlow's other resizes, one axis at a time: what ``tf.image.resize``
(Keras' resize on its default backend) computes for "bicubic", "area", "lanczos3", "lanczos5",
"gaussian" and "mitchellcubic", and for "bilinear" and "bicubic" with ``antialias=True``.

Each resize is first a list of taps: output o reads input pixels ``indices[o]`` with weights
``weights[o]``, both (out_len, taps) arrays (``bicubic_taps``, ``area_taps``, ``kernel_taps``).
``weight_matrix`` lays them out as the (out_len, in_len) float64 matrix W, the definition: along
that axis the resized image is ``W @ image`` (``bicubic_weights``, ``area_weights``,
``kernel_weights``). ``glassnet.layers.resizing`` applies them as a band of W (see
glassnet.layers.banded: only the taps, never the zeros around them), and the gradient as W's
transposed band. The weights are computed in float32, step by step as
TensorFlow's kernels compute them (its scales, positions, kernel values and normalising sums are
float32 numbers), so that a resize matches TensorFlow's to float32 rounding; they are returned as
float64 so that a float64 model mixes float64 pixels by exactly those weights.

TensorFlow's three kernels (tensorflow/core/kernels/image/):

- ``resize_bicubic`` (half-pixel centres): Keys' cubic with a = -0.5, read from a table of 1025
  values (the fraction rounded to 1/1024); taps outside the image get weight 0 and the other taps
  are scaled to sum to 1 (``bicubic_weights``).
- ``resize_area``: each output pixel the average of the input area it covers, partly covered
  pixels by the covered fraction; corners, not centres (``area_weights``).
- ``scale_and_translate``: any kernel centred on the output pixel's centre mapped into the input;
  taps clipped to the image, the rest scaled to sum to 1; with ``antialias`` the kernel is widened
  by the downsampling factor, so that it averages every input pixel it passes over
  (``kernel_weights``; "bilinear" with ``antialias`` is its "triangle" kernel, "bicubic" its
  "keyscubic").
"""
import numpy as np

f32 = np.float32

# TensorFlow's kTableSize: resize_bicubic reads Keys' cubic at multiples of 1/1024
_TABLE_SIZE = 1024


def _keys_table(a=-0.5):
    """(near, far): Keys' cubic at distances t and 1 + t for t = 0, 1/1024, ..., 1, float32, as
    TensorFlow's ``InitCoeffsTable`` computes them (t in float32, the polynomials in double)."""
    t = (np.arange(_TABLE_SIZE + 1) / _TABLE_SIZE).astype(f32).astype(np.float64)
    near = (((a + 2) * t - (a + 3)) * t * t + 1).astype(f32)
    t1 = (t + 1.0).astype(f32).astype(np.float64)
    far = (((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a).astype(f32)
    return near, far


def _normalised(weights):
    """Rows of float32 ``weights`` (out_len, taps) scaled to sum to 1, as TensorFlow scales them:
    the sum taken left to right in float32, then multiplied by its float32 inverse; a row summing to
    (nearly) zero is left at zero."""
    total = np.cumsum(weights, axis=1, dtype=f32)[:, -1]
    usable = np.abs(total) >= f32(1000) * np.finfo(f32).tiny
    inverse = np.where(usable, f32(1) / np.where(usable, total, f32(1)), f32(0)).astype(f32)
    return (weights * inverse[:, None]).astype(f32)


def weight_matrix(out_len, in_len, taps):
    """The (out_len, in_len) float64 matrix of ``taps = (indices, weights)``, both (out_len, t):
    output o reads input ``indices[o, k]`` with weight ``weights[o, k]``; taps reading the same pixel
    (an index clipped to the edge) add up.

    >>> weight_matrix(2, 3, (np.array([[0, 1], [2, 3]]), np.array([[0.25, 0.75], [0.5, 0.5]]))).tolist()
    [[0.25, 0.75, 0.0], [0.0, 0.0, 1.0]]
    """
    indices, weights = taps
    matrix = np.zeros((out_len, in_len))
    rows = np.broadcast_to(np.arange(out_len)[:, None], indices.shape)
    np.add.at(matrix, (rows, np.clip(indices, 0, in_len - 1)), weights.astype(np.float64))
    return matrix


def bicubic_weights(out_len, in_len):
    """(out_len, in_len) weights of TensorFlow's bicubic resize along one axis (``bicubic_taps``).

    >>> bicubic_weights(4, 2).round(4).tolist()     # at the edges, overshoot: the outer tap is left out
    [[1.0882, -0.0882], [0.7929, 0.2071], [0.2071, 0.7929], [-0.0882, 1.0882]]
    """
    return weight_matrix(out_len, in_len, bicubic_taps(out_len, in_len))


def bicubic_taps(out_len, in_len):
    """Taps (indices, weights), each (out_len, 4), of TensorFlow's bicubic resize along one axis
    (``resize_bicubic``, half-pixel centres, Keys' a = -0.5): output o reads the four pixels around
    ``(o + 0.5) * in_len / out_len - 0.5``, weighted by the cubic at their distances (rounded to
    1/1024), those outside the image left out (weight 0) and the rest scaled to sum to 1."""
    scale = f32(in_len) / f32(out_len)
    position = (np.arange(out_len, dtype=f32) + f32(0.5)) * scale - f32(0.5)
    below = np.floor(position)
    # the fraction as an index into the table, rounded half to even (C's lrintf)
    offset = np.rint((position - below) * f32(_TABLE_SIZE)).astype(int)
    near, far = _keys_table()
    # taps below - 1, below, below + 1, below + 2: distances 1 + t, t, 1 - t, 2 - t
    weights = np.stack([far[offset], near[offset], near[_TABLE_SIZE - offset], far[_TABLE_SIZE - offset]], axis=1)
    indices = below.astype(int)[:, None] + np.arange(-1, 3)
    weights = np.where((indices >= 0) & (indices < in_len), weights, f32(0))
    return indices, _normalised(weights)


def area_weights(out_len, in_len):
    """(out_len, in_len) weights of TensorFlow's area resize along one axis (``area_taps``).

    >>> area_weights(2, 4).tolist()
    [[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]]
    """
    return weight_matrix(out_len, in_len, area_taps(out_len, in_len))


def area_taps(out_len, in_len):
    """Taps (indices, weights), each (out_len, t), of TensorFlow's area resize along one axis
    (``resize_area``): output o averages the input span ``[o * s, (o + 1) * s)`` with
    s = in_len / out_len, each pixel weighted by the part of it inside the span, divided by s.
    Upsampling by a whole factor repeats pixels, as "nearest"; downsampling by one averages blocks,
    as ``AveragePooling2D``."""
    scale = f32(in_len) / f32(out_len)
    start = np.arange(out_len).astype(f32) * scale               # the span's ends, in float32
    end = np.arange(1, out_len + 1).astype(f32) * scale
    first = np.floor(start).astype(int)
    taps = int((np.ceil(end).astype(int) - first).max())
    indices = first[:, None] + np.arange(taps)
    pixel = indices.astype(f32)
    start, end = start[:, None], end[:, None]
    # how much of pixel [i, i + 1) lies in the span, as TensorFlow's branches compute it
    covered = np.where(pixel < start, np.where(pixel + 1 > end, scale, pixel + 1 - start),
                       np.where(pixel + 1 > end, end - pixel, f32(1))).astype(f32)
    covered = np.where(indices < np.ceil(end).astype(int), covered, f32(0))     # past the span's last pixel
    # TensorFlow divides the 2-D sum once by (height scale * width scale); here each axis by its own
    inverse = f32(1.0 / np.float64(scale))
    return indices, (covered * inverse).astype(f32)


def _lanczos(radius):
    def kernel(x):
        """Lanczos: sinc(x) sinc(x / radius) inside the radius (TensorFlow's float32 formula), in
        x's dtype (float32 for resize; ops.image.scale_and_translate may ask float64)."""
        t = x.dtype.type
        pi = t(np.pi)                  # float32: 3.14159265359 as TensorFlow's kPi rounds it
        # sines in double rounded to x's dtype: C's sinf (correctly rounded), where NumPy's float32
        # sine may be an ulp off
        sin_x = np.sin((pi * x).astype(np.float64)).astype(x.dtype)
        sin_x_radius = np.sin((pi * x / t(radius)).astype(np.float64)).astype(x.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = t(radius) * sin_x * sin_x_radius / (pi * pi * x * x)
        return np.where(x > radius, t(0), np.where(x <= t(1e-3), t(1), value)).astype(x.dtype)
    return kernel


def _gaussian(x):
    """Gaussian of sigma 0.5 cut at 1.5 (three sigmas); exp in double, as TensorFlow's."""
    value = np.exp((-x * x).astype(np.float64) / (2.0 * 0.5 * 0.5)).astype(f32)
    return np.where(x >= f32(1.5), f32(0), value)


def _keys_cubic(x):
    """Keys' cubic convolution, a = -0.5 (Catmull-Rom): exact, not tabled as resize_bicubic's;
    in x's dtype."""
    t = x.dtype.type
    far = ((t(-0.5) * x + t(2.5)) * x - t(4)) * x + t(2)
    near = ((t(1.5) * x - t(2.5)) * x) * x + t(1)
    return np.where(x >= 2, t(0), np.where(x >= 1, far, near)).astype(x.dtype)


def _mitchell_cubic(x):
    """Mitchell and Netravali's cubic, B = C = 1/3: smoother than Keys', slightly blurring."""
    far = ((f32(-7.0 / 18.0) * x + f32(2)) * x - f32(10.0 / 3.0)) * x + f32(16.0 / 9.0)
    near = ((f32(7.0 / 6.0) * x - f32(2)) * x) * x + f32(8.0 / 9.0)
    return np.where(x >= 2, f32(0), np.where(x >= 1, far, near)).astype(f32)


def _triangle(x):
    """The tent of linear interpolation, in x's dtype."""
    return np.where(x < 1, x.dtype.type(1) - x, x.dtype.type(0)).astype(x.dtype)


# scale_and_translate's kernels: (function of |distance| in pixels, radius)
KERNELS = {"lanczos3": (_lanczos(3), 3), "lanczos5": (_lanczos(5), 5), "gaussian": (_gaussian, 1.5),
           "mitchellcubic": (_mitchell_cubic, 2), "keyscubic": (_keys_cubic, 2), "triangle": (_triangle, 1)}


# the scale_and_translate kernel an interpolation of another name goes through (with antialias)
KERNEL_OF = {"bicubic": "keyscubic", "bilinear": "triangle"}


def kernel_weights(out_len, in_len, kernel, antialias=False):
    """(out_len, in_len) weights of TensorFlow's ``scale_and_translate`` along one axis with
    ``kernel`` (a key of ``KERNELS``; see ``kernel_taps``).

    >>> kernel_weights(2, 4, "triangle").tolist()                   # bilinear: two pixels
    [[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]]
    >>> kernel_weights(2, 4, "triangle", antialias=True).round(4).tolist()   # a tent twice as wide
    [[0.4286, 0.4286, 0.1429, 0.0], [0.0, 0.1429, 0.4286, 0.4286]]
    """
    return weight_matrix(out_len, in_len, kernel_taps(out_len, in_len, kernel, antialias))


def kernel_taps(out_len, in_len, kernel, antialias=False):
    """Taps (indices, weights), each (out_len, t), of TensorFlow's ``scale_and_translate`` along
    one axis with ``kernel`` (a key of ``KERNELS``), as ``tf.image.resize`` calls it (scale
    out_len / in_len, no translation): output o is centred at input position
    ``(o + 0.5) * in_len / out_len`` (pixel i covering [i, i + 1)); the pixels within the kernel's
    radius of it, clipped to the image, are weighted by the kernel at their distance and scaled to
    sum to 1. ``antialias``: when downsampling, the kernel is stretched by in_len / out_len (a
    wider, lower low-pass filter), and t grows with it (2 x radius x in_len / out_len + 1)."""
    function, radius = KERNELS[kernel]
    scale = f32(out_len) / f32(in_len)
    inverse = f32(1.0 / np.float64(scale))          # 1.0 / scale: a double division, stored in float
    kernel_scale = max(inverse, f32(1)) if antialias else f32(1)
    reach = f32(radius) * kernel_scale              # the kernel's radius in input pixels
    span = min(2 * int(np.ceil(reach)) + 1, in_len)
    centre = (np.arange(out_len, dtype=f32) + f32(0.5)) * inverse
    first = np.clip(np.ceil(centre - reach - f32(0.5)).astype(int), 0, in_len - 1)
    last = np.clip(np.floor(centre + reach - f32(0.5)).astype(int), 0, in_len - 1)
    indices = first[:, None] + np.arange(span)
    distance = np.abs((indices.astype(f32) + f32(0.5) - centre[:, None]) * (f32(1) / kernel_scale))
    weights = np.where(indices <= last[:, None], function(distance.astype(f32)), f32(0)).astype(f32)
    # a centre outside the image (never, without translation) samples nothing: TensorFlow's rule
    weights[(centre < 0) | (centre > in_len)] = 0
    return indices, _normalised(weights)


def interpolation_taps(interpolation, out_len, in_len, antialias=False):
    """Taps (indices, weights), each (out_len, t), of ``tf.image.resize(method=interpolation,
    antialias=antialias)`` along one axis, for the interpolations this module builds (not
    "bilinear" or "nearest" without antialias: ``glassnet.layers.resizing`` builds those).
    TensorFlow's mapping: "bicubic" is ``resize_bicubic``, or scale_and_translate's Keys cubic with
    ``antialias``; "bilinear" with ``antialias`` its triangle; "area" is ``resize_area`` (never
    antialiased); the others are scale_and_translate's kernels of their names."""
    if interpolation == "area":
        return area_taps(out_len, in_len)
    if interpolation == "bicubic" and not antialias:
        return bicubic_taps(out_len, in_len)
    return kernel_taps(out_len, in_len, KERNEL_OF.get(interpolation, interpolation), antialias)
