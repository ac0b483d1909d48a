"""keras.ops' neural-network functions (Keras 3.15's ``keras.ops.nn``) for ``glassnet.ops``:
dot_product_attention, batch_normalization, layer_normalization, rms_normalization, moments,
normalize, multi_hot, psnr, depth_to_space, space_to_depth, fold, unfold, polar and the three
crossentropies.

Why composed: each (but polar) is written with ``glassnet.ops``' own functions (einsum, softmax,
mean, var, rsqrt, where, reshape, transpose, one_hot, ...), in the order Keras 3.15's TensorFlow
backend computes it. The maths of each step, its gradient and its graph node are then the ones
those functions already have, tested: on arrays the result is NumPy in Keras' dtype; on values a
``GradientTape`` records each step is recorded (the tape runs these functions as they are: their
``composed`` mark, glassnet._tape_record); on a model's symbolic tensors each step is a node kept
in model files as JSON. fold and unfold are an ``einsum`` with a constant 0/1 matrix that picks
each patch's pixels (torch's ``nn.Unfold`` layout, channels first, as Keras 3.15's).

Functions a model would not put in its graph (psnr, a mean over the batch; fold, unfold; polar,
complex) refuse symbolic tensors by name.
"""
import numbers

import numpy as np

from ._ops_reading import _array, _arrays, _float, _is_tensor, composed
from ._ops_reading import public_ops as _ops

_EPSILON = 1e-7         # keras.backend.epsilon(), the default of the normalizations and the crossentropies


def _live(value):
    """A symbolic tensor, a value a GradientTape records or an array it watches: handed to ops as it is
    (a copy or a reshaped view of a watched array would not be watched)."""
    from ._tape_values import Recorded, watched_node
    return _is_tensor(value) or isinstance(value, Recorded) or (
        isinstance(value, np.ndarray) and watched_node(value) is not None)


def _input(x, name, function, floats=True):
    """``x`` ready for the ops: a live value as it is, else an array (integers float32: ``floats``)."""
    if _live(x):
        return x
    array = _array(x, name, function)
    return _float(array) if floats else array


def _like(value, x, name, function):
    """A parameter (gamma, scale, bias) in ``x``'s dtype, as Keras converts it; live values as they are."""
    if value is None or _live(value):
        return value
    array = _array(value, name, function)
    return array if _live(x) else array.astype(np.asarray(x).dtype, copy=False)


def _refuse_tensors(function, **named):
    for name, value in named.items():
        if _is_tensor(value):
            raise TypeError(f"ops.{function}: {name} is a tensor of a model being drawn; ops.{function} takes arrays "
                            f"(and values a GradientTape records) only (docs/ops_nn.md)")


def _ndim(x):
    return len(_ops().shape(x))


# -- statistics and normalizations ---------------------------------------------------------------
@composed
def moments(x, axes, keepdims=False, synchronized=False):
    """The mean and variance of ``x`` over ``axes`` (an int or a list): a pair, each of ``x``'s
    shape without ``axes`` (``keepdims``: with them as 1). ``synchronized`` (across devices) has
    no other device here: the same numbers. On tensors ``axes`` are sample axes."""
    ops = _ops()
    if not isinstance(synchronized, bool):
        raise TypeError(f"ops.moments: synchronized must be True or False, got {synchronized!r:.40}")
    x = _input(x, "x", "moments")
    axes = tuple(axes) if isinstance(axes, list) else axes
    return ops.mean(x, axis=axes, keepdims=keepdims), ops.var(x, axis=axes, keepdims=keepdims)


@composed
def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """``(x - mean) / sqrt(variance + epsilon) * scale + offset``, the statistics (vectors of
    ``x.shape[axis]``, or arrays or tensors that broadcast with ``x``) along ``axis``, as
    ``tf.nn.batch_normalization``: ``inv = rsqrt(variance + epsilon) * scale``, ``x * inv + (offset
    - mean * inv)``. On tensors the statistics may be constants or tensors (``moments`` of x over
    sample axes, ``keepdims=True``)."""
    ops = _ops()
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"ops.batch_normalization: axis must be an integer, got {axis!r:.40}")
    x = _input(x, "x", "batch_normalization")
    ndim = _ndim(x)
    if not -ndim <= axis < ndim:
        raise ValueError(f"ops.batch_normalization: axis must be within x's {ndim} axes, got {axis}")
    position = axis % ndim

    def along(value, name):
        # a vector along axis, shaped to broadcast from the right (the batch axis needs no entry)
        value = _like(value, x, name, "batch_normalization")
        if value is None or _is_tensor(value) or len(ops.shape(value)) != 1 or position == ndim - 1:
            return value
        return ops.reshape(value, (ops.shape(value)[0],) + (1,) * (ndim - 1 - position))

    mean, variance, offset, scale = (along(v, n) for v, n in ((mean, "mean"), (variance, "variance"),
                                                              (offset, "offset"), (scale, "scale")))
    inv = ops.rsqrt(ops.add(variance, epsilon))
    if scale is not None:
        inv = ops.multiply(inv, scale)
    shift = ops.negative(ops.multiply(mean, inv)) if offset is None else ops.subtract(offset, ops.multiply(mean, inv))
    return ops.add(ops.multiply(x, inv), shift)


def _original_dtype(x):
    return None if _live(x) else np.asarray(x).dtype


def _back(y, dtype):
    """Keras computes in float32 at least and casts back to x's dtype (int32 too)."""
    return y if dtype is None or _live(y) or y.dtype == dtype else y.astype(dtype)


def _at_least_float32(x, name, function):
    if _live(x):
        return x
    array = _array(x, name, function)
    return array.astype(np.float32) if array.dtype.kind != "f" or array.dtype.itemsize < 4 else array


@composed
def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """Each slice over ``axis`` (an int or a list) to mean 0 and variance 1, then ``* gamma +
    beta`` (of those axes' shape): Keras 3.15's ``x * inv + (beta - mean * inv)``, ``inv = rsqrt(var
    + epsilon) * gamma``, ``epsilon`` None 1e-7. The result keeps x's dtype (Keras casts back, to
    int32 too). ``rms_scaling=True`` (deprecated in Keras) divides by ``sqrt(var + epsilon)`` only."""
    import warnings
    ops = _ops()
    rms_scaling = kwargs.pop("rms_scaling", False)
    if kwargs:
        raise TypeError(f"ops.layer_normalization: unexpected keyword argument(s) {', '.join(sorted(kwargs))}")
    if rms_scaling:
        warnings.warn("ops.layer_normalization: rms_scaling=True is deprecated in Keras 3.15 (it divides by the "
                      "variance's root, not the root mean square); use ops.rms_normalization", stacklevel=3)
    epsilon = _EPSILON if epsilon is None else epsilon
    dtype = _original_dtype(x)
    x = _at_least_float32(x, "x", "layer_normalization")
    ndim = _ndim(x)
    if ndim == 0:
        raise ValueError("ops.layer_normalization: x must have an axis to normalize over, got a 0-d value")
    axes = sorted(a % ndim for a in ([axis] if isinstance(axis, numbers.Integral) else axis))
    gamma, beta = (_like(v, x, n, "layer_normalization") for v, n in ((gamma, "gamma"), (beta, "beta")))
    shape = ops.shape(x)

    def broadcast(v):
        if v is not None and not _is_tensor(v) and len(ops.shape(v)) != ndim and axes != [ndim - 1]:
            return ops.reshape(v, [shape[d] if d in axes else 1 for d in range(ndim)][1 if _is_tensor(x) else 0:])
        return v

    if rms_scaling:
        y = ops.multiply(x, ops.rsqrt(ops.add(ops.var(x, axis=tuple(axes), keepdims=True), epsilon)))
        return _back(y if gamma is None else ops.multiply(y, broadcast(gamma)), dtype)
    mean, variance = moments(x, axes=tuple(axes), keepdims=True)
    inv = ops.rsqrt(ops.add(variance, epsilon))
    if gamma is not None:
        inv = ops.multiply(inv, broadcast(gamma))
    res = ops.negative(ops.multiply(mean, inv))
    if beta is not None:
        res = ops.add(res, broadcast(beta))
    return _back(ops.add(ops.multiply(x, inv), res), dtype)


@composed
def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """``x * rsqrt(mean(square(x), axis) + epsilon) * scale`` (``epsilon`` None 1e-7; ``scale``
    broadcast with x), in x's dtype, as Keras 3.15's."""
    ops = _ops()
    epsilon = _EPSILON if epsilon is None else epsilon
    dtype = _original_dtype(x)
    x = _at_least_float32(x, "x", "rms_normalization")
    if not _live(x) and x.ndim == 0:
        x = x.reshape(1)
    axis = tuple(sorted(axis)) if isinstance(axis, (list, tuple)) else axis
    y = ops.multiply(x, ops.rsqrt(ops.add(ops.mean(ops.square(x), axis=axis, keepdims=True), epsilon)))
    scale = _like(scale, x, "scale", "rms_normalization")
    return _back(y if scale is None else ops.multiply(y, scale), dtype)


@composed
def normalize(x, axis=-1, order=2, epsilon=None):
    """``x`` divided by its ``order``-norm over ``axis``: for 2 ``x * min(rsqrt(sum(x^2)), 1 /
    epsilon)``, else ``x / max(norm, epsilon)`` (``epsilon`` None 1e-7), as Keras 3.15's."""
    ops = _ops()
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"ops.normalize: order must be an int >= 1, got {order!r:.40}")
    epsilon = _EPSILON if epsilon is None else epsilon
    x = _input(x, "x", "normalize", floats=False)
    if not _live(x):
        x = _float(x.reshape(1) if x.ndim == 0 else x)
    if order == 2:
        inv = ops.rsqrt(ops.sum(ops.square(x), axis=axis, keepdims=True))
        return ops.multiply(x, ops.minimum(inv, 1.0 / epsilon))
    return ops.divide(x, ops.maximum(ops.norm(x, ord=order, axis=axis, keepdims=True), epsilon))


# -- encodings and image quality -------------------------------------------------------------------
@composed
def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """Integer ids to one vector per sample with 1 at each id seen: ids (batch, k) give (batch,
    num_classes) (``axis`` places the classes; a vector of ids gives one vector), float32 unless
    ``dtype`` (bool: True/False). ``num_tokens`` is Keras' old name of ``num_classes``. On tensors
    the ids of each sample (batch, k), no gradient."""
    ops = _ops()
    if num_classes is None and "num_tokens" in kwargs:
        num_classes = kwargs.pop("num_tokens")
    if kwargs:
        raise TypeError(f"ops.multi_hot: unexpected keyword argument(s) {', '.join(sorted(kwargs))}")
    if num_classes is None:
        raise ValueError("ops.multi_hot: num_classes must be given (an integer), got None")
    if sparse:
        raise ValueError("ops.multi_hot: sparse=True is not built (glassnet has no sparse arrays); give sparse=False")
    if not _live(inputs):
        inputs = _array(inputs, "inputs", "multi_hot")
    ndim = _ndim(inputs)
    if _is_tensor(inputs) and ndim < 2:
        raise ValueError("ops.multi_hot: inputs, a tensor, must be the ids of each sample, (batch, k); a tensor of "
                         "one id per sample is ops.one_hot")
    want = np.dtype("float32") if dtype is None else np.dtype(dtype if dtype != "bool" else bool)
    if _is_tensor(inputs):
        return ops.max(ops.one_hot(inputs, num_classes, axis=axis), axis=1)
    hot = ops.one_hot(inputs, num_classes, axis=axis, dtype="float32")
    return np.asarray(ops.max(hot, axis=1 if ndim > 1 else 0)).astype(want)


@composed
def psnr(x1, x2, max_val):
    """The peak signal-to-noise ratio ``20 log10(max_val) - 10 log10(mean((x1 - x2)^2))`` over
    all entries: one number (0-d, x2's dtype). Arrays and recorded values (tensors refused)."""
    ops = _ops()
    _refuse_tensors("psnr", x1=x1, x2=x2, max_val=max_val)
    x1, x2 = (_input(v, n, "psnr") for v, n in ((x1, "x1"), (x2, "x2")))
    if tuple(ops.shape(x1)) != tuple(ops.shape(x2)):
        raise ValueError(f"ops.psnr: x1 and x2 must have one shape, got {ops.shape(x1)} and {ops.shape(x2)}")
    dtype = np.asarray(x2).dtype
    peak = 20 * np.log10(np.asarray(max_val, dtype=dtype)).astype(dtype)
    mse = ops.mean(ops.square(ops.subtract(x1, x2)))
    return ops.subtract(peak, ops.multiply(ops.log10(mse), 10.0))


# -- rearrangements --------------------------------------------------------------------------------
def _block(x, block_size, data_format, function):
    if isinstance(block_size, bool) or not isinstance(block_size, numbers.Integral) or block_size < 2:
        raise ValueError(f"ops.{function}: block_size must be an integer >= 2, got {block_size!r:.40}")
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"ops.{function}: data_format must be 'channels_last' or 'channels_first', "
                         f"got {data_format!r:.40}")
    x = _input(x, "x", function, floats=False)
    shape = _ops().shape(x)
    if len(shape) != 4:
        raise ValueError(f"ops.{function}: x must have 4 axes, (batch, H, W, C) or (batch, C, H, W), got {shape}")
    return x, int(block_size)


def _channels_last(x, data_format, rearrange):
    ops = _ops()
    if data_format == "channels_last":
        return rearrange(x)
    return ops.transpose(rearrange(ops.transpose(x, (0, 2, 3, 1))), (0, 3, 1, 2))


@composed
def depth_to_space(x, block_size, data_format="channels_last"):
    """Channels into ``r x r`` blocks of pixels, as ``tf.nn.depth_to_space`` (layers/depth_space.py):
    (batch, H, W, r*r*c) -> (batch, H*r, W*r, c); ``channels_first`` (batch, r*r*c, H, W) likewise."""
    ops = _ops()
    x, r = _block(x, block_size, data_format, "depth_to_space")

    def rearrange(x):
        _, h, w, channels = ops.shape(x)
        if channels % (r * r):
            raise ValueError(f"ops.depth_to_space: x's channels ({channels}) must be a multiple of block_size**2 "
                             f"({r * r})")
        c = channels // (r * r)
        blocks = ops.transpose(ops.reshape(x, (-1, h, w, r, r, c)), (0, 1, 3, 2, 4, 5))
        return ops.reshape(blocks, (-1, h * r, w * r, c))
    return _channels_last(x, data_format, rearrange)


@composed
def space_to_depth(x, block_size, data_format="channels_last"):
    """``r x r`` blocks of pixels into channels, the inverse of ``depth_to_space``: (batch, H*r,
    W*r, c) -> (batch, H, W, r*r*c)."""
    ops = _ops()
    x, r = _block(x, block_size, data_format, "space_to_depth")

    def rearrange(x):
        _, height, width, c = ops.shape(x)
        if height % r or width % r:
            raise ValueError(f"ops.space_to_depth: x's height and width ({height}, {width}) must be multiples of "
                             f"block_size ({r})")
        h, w = height // r, width // r
        blocks = ops.transpose(ops.reshape(x, (-1, h, r, w, r, c)), (0, 1, 3, 2, 4, 5))
        return ops.reshape(blocks, (-1, h, w, r * r * c))
    return _channels_last(x, data_format, rearrange)


def _pairs(function, **named):
    out = {}
    for name, value in named.items():
        pair = (value, value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in pair)):
            raise ValueError(f"ops.{function}: {name} must be an integer or a pair of them, got {value!r:.40}")
        out[name] = tuple(int(v) for v in pair)
    return out


def _patch_matrix(size, k, d, p, s, function):
    """The 0/1 matrix (kH*kW, L, H*W) whose ``[j, l]`` row picks the pixel that kernel entry ``j``
    of patch ``l`` reads (none in the zero padding): unfold is x's einsum with it, fold its transpose."""
    if min(k) < 1 or min(d) < 1 or min(s) < 1 or min(p) < 0:
        raise ValueError(f"ops.{function}: kernel_size, dilation and stride must be >= 1 and padding >= 0, got "
                         f"{k}, {d}, {s}, {p}")
    counts = [(size[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2)]
    if min(counts) < 1:
        raise ValueError(f"ops.{function}: the kernel {k} (dilation {d}) does not fit the image {size} padded by {p}")
    rows = [np.arange(counts[i])[None, :] * s[i] + np.arange(k[i])[:, None] * d[i] - p[i] for i in range(2)]
    matrix = np.zeros((k[0], k[1], counts[0], counts[1], size[0], size[1]), np.float32)
    ki, kj, oi, oj = np.meshgrid(*(np.arange(n) for n in (k[0], k[1], counts[0], counts[1])), indexing="ij")
    h, w = rows[0][ki, oi], rows[1][kj, oj]
    inside = (h >= 0) & (h < size[0]) & (w >= 0) & (w < size[1])
    matrix[ki[inside], kj[inside], oi[inside], oj[inside], h[inside], w[inside]] = 1
    return matrix.reshape(k[0] * k[1], counts[0] * counts[1], size[0] * size[1])


@composed
def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding blocks of an image, torch's ``nn.functional.unfold`` (Keras 3.15's layout, channels
    first): x (N, C, H, W) -> (N, C*kH*kW, L), L the number of blocks; channel ``c * kH*kW + j``
    holds kernel entry j of channel c. Arrays and recorded values (tensors refused)."""
    ops = _ops()
    _refuse_tensors("unfold", x=x)
    g = _pairs("unfold", kernel_size=kernel_size, dilation=dilation, padding=padding, stride=stride)
    x = _input(x, "x", "unfold", floats=False)
    shape = ops.shape(x)
    if len(shape) != 4:
        raise ValueError(f"ops.unfold: x must have 4 axes, (N, C, H, W), got {shape}")
    n, c, h, w = shape
    matrix = _patch_matrix((h, w), g["kernel_size"], g["dilation"], g["padding"], g["stride"], "unfold")
    patches = ops.einsum("ncp,klp->nckl", ops.reshape(x, (n, c, h * w)), matrix.astype(np.asarray(x).dtype))
    return ops.reshape(patches, (n, c * matrix.shape[0], matrix.shape[1]))


@composed
def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The blocks of ``unfold`` summed back into an image (torch's ``nn.functional.fold``): x (N,
    C*kH*kW, L) -> (N, C, oH, oW), overlapping entries added. Arrays and recorded values."""
    ops = _ops()
    _refuse_tensors("fold", x=x)
    g = _pairs("fold", output_size=output_size, kernel_size=kernel_size, dilation=dilation, padding=padding,
               stride=stride)
    x = _input(x, "x", "fold", floats=False)
    shape = ops.shape(x)
    if len(shape) != 3:
        raise ValueError(f"ops.fold: x must have 3 axes, (N, C*kH*kW, L), got {shape}")
    matrix = _patch_matrix(g["output_size"], g["kernel_size"], g["dilation"], g["padding"], g["stride"], "fold")
    kernel, blocks = matrix.shape[:2]
    n, channels, count = shape
    if channels % kernel or count != blocks:
        raise ValueError(f"ops.fold: x's shape {tuple(shape)} must be (N, C*{kernel}, {blocks}) for this output_size, "
                         f"kernel_size, dilation, padding and stride")
    image = ops.einsum("nckl,klp->ncp", ops.reshape(x, (n, channels // kernel, kernel, count)),
                       matrix.astype(np.asarray(x).dtype))
    return ops.reshape(image, (n, channels // kernel) + g["output_size"])


def polar(abs_, angle):
    """The complex numbers ``abs_ * (cos(angle) + i sin(angle))``: a NumPy complex array (complex64
    from float32, complex128 from float64), as Keras 3.15 returns a complex tensor. Arrays only (no
    gradient: glassnet's tapes and graphs carry real numbers)."""
    _refuse_tensors("polar", abs_=abs_, angle=angle)
    magnitude, angle = (_float(a) for a in _arrays("polar", ("abs_", abs_), ("angle", angle)))
    complex_dtype = np.result_type(magnitude.dtype, np.complex64)
    return (magnitude * np.cos(angle) + 1j * (magnitude * np.sin(angle))).astype(complex_dtype)


__all__ = ["moments", "batch_normalization", "layer_normalization", "rms_normalization", "normalize", "multi_hot",
           "psnr", "depth_to_space", "space_to_depth", "unfold", "fold", "polar"]
