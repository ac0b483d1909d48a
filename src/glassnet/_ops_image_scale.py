"""``glassnet.ops.image.scale_and_translate``: Keras 3.15's ``keras.ops.image.scale_and_translate``
(JAX's ``jax.image.scale_and_translate``, as Keras' TensorFlow and NumPy backends compute it) on
arrays: one dense weight matrix per resampled axis, applied by ``tensordot``.

The kernels are the resize kernels of layers/resample.py (triangle, Keys' cubic, Lanczos 3 and 5),
evaluated in the compute dtype; the weights are Keras' formula, not TensorFlow's native
``ScaleAndTranslate`` op that ``tf.image.resize`` runs (resample.py's ``kernel_taps``): sample
positions ``(o + 0.5 - translation) / scale - 0.5``, every input pixel weighed by the kernel at its
distance, each column normalised to sum 1, columns whose sample lies outside the input zero.
"""
import numbers

import numpy as np

from ._ops_image_reading import refuse_tensor
from ._ops_reading import _array
from ._validation import check_choice, check_flag

# Keras' method names (its documentation's "triangle" too, which its TensorFlow and NumPy backends
# leave out of their tables: JAX's name for it) -> layers.resample.KERNELS' names
METHODS = {"linear": "triangle", "bilinear": "triangle", "trilinear": "triangle", "triangle": "triangle",
           "cubic": "keyscubic", "bicubic": "keyscubic", "tricubic": "keyscubic",
           "lanczos3": "lanczos3", "lanczos5": "lanczos5"}


def scale_and_translate(images, output_shape, scale, translation, spatial_dims, method, antialias=True):
    """``images`` resampled to ``output_shape``: along each axis ``spatial_dims[i]`` an input point
    x maps to the output point ``x * scale[i] + translation[i]`` (pixel centres at index + 0.5);
    each output pixel reads the input through the ``method``'s kernel ("linear"/"bilinear"/
    "trilinear"/"triangle", "cubic"/"bicubic"/"tricubic": Keys' a = -0.5, "lanczos3", "lanczos5"),
    widened by 1 / scale when shrinking with ``antialias``; output pixels that map outside the
    input are 0.

    images : array of any rank r; output_shape : r sizes (the other axes' sizes kept)
    scale, translation : (K,) for the K ``spatial_dims`` (scale non-zero)
    Returns ``output_shape`` in the images' dtype, computed in the dtype of scale and translation
    (Keras' result type: float32 for Python floats); integer images in float32, then rounded and
    clipped to the images' own minimum and maximum, as Keras'.

    >>> images = np.arange(9, dtype="float32").reshape(3, 3)
    >>> scale_and_translate(images, (5, 5), [2.0, 2.0], [-0.5, -0.5], (0, 1), "linear")[0].tolist()
    [0.0, 0.5, 1.0, 1.5, 2.0]
    """
    function = "scale_and_translate"
    check_choice(method, f"ops.image.{function}: method", tuple(METHODS))
    antialias = check_flag(antialias, f"ops.image.{function}: antialias")
    for value in (images, scale, translation):
        refuse_tensor(value, function)
    array = _array(images, "images", f"image.{function}")
    if array.dtype == np.bool_:
        raise TypeError(f"ops.image.{function}: images must hold numbers, got booleans")
    dims = _spatial_dims(spatial_dims, array.ndim, function)
    shape = _output_shape(output_shape, array.shape, dims, function)
    scales = _per_axis(scale, "scale", len(dims), function)
    translations = _per_axis(translation, "translation", len(dims), function)
    if (scales == 0).any():
        raise ValueError(f"ops.image.{function}: scale must be non-zero, got {scales.tolist()}")
    floats = [a.dtype for a in (scales, translations) if a.dtype.kind == "f"]
    # Keras' result type; two integer arrays give float32 (Keras on TensorFlow fails on them)
    dtype = np.result_type(*floats) if floats else np.dtype(np.float32)
    integer = array.dtype.kind in "iu"
    out = array.astype(np.float32) if integer else array
    for d, s, t in zip(dims, scales.astype(dtype), translations.astype(dtype)):
        weights = scale_weights(array.shape[d], shape[d], s, t, METHODS[method], antialias)
        out = np.moveaxis(np.tensordot(out, weights.astype(out.dtype), axes=(d, 0)), -1, d)
    if integer and out.size:
        out = np.clip(np.round(out), array.min(), array.max()).astype(array.dtype)
    return np.ascontiguousarray(out, dtype=array.dtype)


def scale_weights(in_len, out_len, scale, translation, kernel, antialias):
    """Keras' ``_compute_weight_mat``: the (in_len, out_len) weights by which output o reads
    input i along one axis, in the dtype of ``scale`` and ``translation`` (NumPy scalars).
    ``kernel``: a key of ``layers.resample.KERNELS``.

    >>> scale_weights(2, 4, np.float32(2), np.float32(0), "triangle", True).tolist()
    [[1.0, 0.75, 0.25, 0.0], [0.0, 0.25, 0.75, 1.0]]
    """
    from .layers.resample import KERNELS

    t = scale.dtype.type
    inverse = t(1) / scale
    kernel_scale = np.maximum(inverse, t(1)) if antialias else t(1)
    sample = (np.arange(out_len, dtype=scale.dtype) + t(0.5)) * inverse - translation * inverse - t(0.5)
    distance = np.abs(sample[None, :] - np.arange(in_len, dtype=scale.dtype)[:, None]) / kernel_scale
    weights = KERNELS[kernel][0](distance)
    total = weights.sum(axis=0, keepdims=True)
    # a column of (nearly) no weight reads nothing, as Keras': no division by ~0
    weights = np.where(np.abs(total) > 1000 * np.finfo(np.float32).eps, weights / np.where(total != 0, total, 1), 0)
    inside = (sample >= -0.5) & (sample <= in_len - 0.5)
    return np.where(inside[None, :], weights, 0).astype(scale.dtype, copy=False)


def _spatial_dims(spatial_dims, rank, function):
    """Distinct axes of the images, negative ones counted from the end, as a tuple of ints >= 0."""
    if isinstance(spatial_dims, np.ndarray):
        spatial_dims = spatial_dims.tolist()
    ok = isinstance(spatial_dims, (tuple, list)) and all(
        isinstance(d, numbers.Integral) and not isinstance(d, (bool, np.bool_)) and -rank <= d < rank
        for d in spatial_dims)
    dims = tuple(int(d) % rank for d in spatial_dims) if ok else ()
    if not ok or len(set(dims)) != len(dims):
        raise ValueError(f"ops.image.{function}: spatial_dims must be a tuple of distinct axes of the images (rank "
                         f"{rank}), got {spatial_dims!r:.80}")
    return dims


def _output_shape(output_shape, shape, dims, function):
    """The output's sizes: one per axis, non-negative; the axes not resampled keep theirs."""
    if isinstance(output_shape, np.ndarray):
        output_shape = output_shape.tolist()
    ok = isinstance(output_shape, (tuple, list)) and len(output_shape) == len(shape) and all(
        isinstance(n, numbers.Integral) and not isinstance(n, (bool, np.bool_)) and n >= 0 for n in output_shape)
    if not ok:
        raise ValueError(f"ops.image.{function}: output_shape must be {len(shape)} non-negative integers (one per axis "
                         f"of the images, shape {shape}), got {output_shape!r:.80}")
    kept = [a for a in range(len(shape)) if a not in dims and output_shape[a] != shape[a]]
    if kept:
        # Keras would report output_shape and return the input's size along those axes
        raise ValueError(f"ops.image.{function}: output_shape must keep the size of the axes not in spatial_dims "
                         f"{dims} (images of shape {shape}), got {tuple(output_shape)} (axes {kept} differ)")
    return tuple(int(n) for n in output_shape)


def _per_axis(value, name, count, function):
    """``scale`` or ``translation``: ``count`` finite numbers as a (count,) array (Keras' dtypes:
    Python floats float32, NumPy arrays their own)."""
    array = _array(value, name, f"image.{function}")
    if array.shape != (count,) or array.dtype == np.bool_ or not np.isfinite(array).all():
        raise ValueError(f"ops.image.{function}: {name} must be {count} finite numbers, one per axis of spatial_dims, "
                         f"got {np.asarray(value).tolist()!r:.80}")
    return array
