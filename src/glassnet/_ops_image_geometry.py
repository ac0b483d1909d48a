"""``glassnet.ops.image``'s geometry: resize, pad_images, crop_images, affine_transform and
map_coordinates, Keras 3.15's ``keras.ops.image`` functions on arrays (TensorFlow's kernels, as
Keras runs them on its default backend).

One implementation each: resize is the ``Resizing`` layer's (layers/resizing.py), affine_transform
the geometric augmentation layers' sampler (layers/augmentation.py); on a tensor, resize,
pad_images and crop_images make the layer of that job (``Resizing``, ``ZeroPadding2D``,
``Cropping2D``), whose backward passes carry the gradient.
"""
import numbers

import numpy as np

from ._ops_image_reading import cast_back, data_format_of, read_images, refuse_tensor
from ._ops_reading import _array, _is_tensor
from ._validation import check_choice, check_flag, check_number
from .layers.resizing import INTERPOLATIONS, resize as _resize_images, resize_masks

AFFINE_INTERPOLATIONS = ("nearest", "bilinear")
AFFINE_FILL_MODES = ("constant", "nearest", "wrap", "reflect")
MAP_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


def _whole(value, name, function, allow_none=False):
    """A non-negative Python or NumPy integer (booleans refused), or None when allowed."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"ops.image.{function}: {name} must be a non-negative integer, got {value!r:.80}")
    return int(value)


def _size(size, function):
    """Keras' ``size``: (height, width), two positive integers."""
    if not isinstance(size, (tuple, list)) or len(size) != 2 \
            or not all(isinstance(s, numbers.Integral) and not isinstance(s, (bool, np.bool_)) and s > 0 for s in size):
        raise ValueError(f"ops.image.{function}: size must be (height, width), two positive integers, got "
                         f"{size!r:.80}")
    return int(size[0]), int(size[1])


def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format=None):
    """Images resized to ``size`` (Keras' ``ops.image.resize``, TensorFlow's kernels: half-pixel
    centres; see ``glassnet.layers.Resizing`` for the interpolations and the aspect-ratio options).

    images : (batch, H, W, C) or one image (H, W, C) (channels first with ``data_format``)
    Returns (batch, height, width, C) (or (height, width, C)) in the images' dtype: "nearest" a
    gather of their own values; the others computed in float32 (float64 for float64 images) and
    cast back, integers rounded and saturated, as Keras' on TensorFlow.
    On a tensor (channels last): a ``Resizing`` layer's node, its gradient the transposed resize.

    >>> resize(np.array([[[0.0], [8.0]]], "float32"), (1, 4))[0, :, 0].tolist()
    [0.0, 2.0, 6.0, 8.0]
    """
    function = "resize"
    height, width = _size(size, function)
    check_choice(interpolation, f"ops.image.{function}: interpolation", INTERPOLATIONS)
    check_choice(fill_mode, f"ops.image.{function}: fill_mode", ("constant",), expected="'constant' (Keras' only one)")
    antialias = check_flag(antialias, f"ops.image.{function}: antialias")
    crop = check_flag(crop_to_aspect_ratio, f"ops.image.{function}: crop_to_aspect_ratio")
    pad = check_flag(pad_to_aspect_ratio, f"ops.image.{function}: pad_to_aspect_ratio")
    if crop and pad:
        raise ValueError(f"ops.image.{function}: give crop_to_aspect_ratio or pad_to_aspect_ratio, not both")
    fill_value = check_number(fill_value, f"ops.image.{function}: fill_value", "finite")
    if _is_tensor(images):
        _channels_last_tensor(images, data_format, function)
        from .layers.resizing import Resizing
        return Resizing(height, width, interpolation=interpolation, crop_to_aspect_ratio=crop,
                        pad_to_aspect_ratio=pad, fill_value=fill_value, antialias=antialias)(images)
    batch, restore = read_images(images, function, data_format)
    if batch.dtype == np.bool_:
        raise TypeError(f"ops.image.{function}: images must hold numbers, got booleans")
    if 0 in batch.shape[1:3]:
        raise ValueError(f"ops.image.{function}: images must have at least one pixel, got shape {batch.shape}")
    if interpolation == "nearest":       # a gather: the images' own dtype and values, as TensorFlow's
        return restore(resize_masks(batch, height, width, crop, pad, fill_value))
    compute = batch if batch.dtype == np.float64 else batch.astype(np.float32)
    out, _ = _resize_images(compute, height, width, interpolation, crop, pad, fill_value, antialias)
    return restore(cast_back(out, batch.dtype))


def _channels_last_tensor(images, data_format, function):
    if data_format_of(data_format, function) != "channels_last":
        raise ValueError(f"ops.image.{function}: on a tensor glassnet takes channels last images only, got "
                         f"data_format={data_format!r}")


def _sides(first, second, target, length, names, function):
    """Two of (``first``, ``second``, ``target``) given (Keras' rule), the third worked out from the
    image's ``length``: (first, second, target)."""
    given = [first, second, target]
    if given.count(None) != 1:
        raise ValueError(f"ops.image.{function}: give exactly two of {', '.join(names)}, got "
                         + ", ".join(f"{n}={v!r}" for n, v in zip(names, given)))
    first, second, target = (_whole(v, n, function, allow_none=True) for v, n in zip(given, names))
    return first, second, target


def pad_images(images, top_padding=None, left_padding=None, bottom_padding=None, right_padding=None,
               target_height=None, target_width=None, data_format=None):
    """Zeros added around images (Keras' ``ops.image.pad_images``): two of top_padding,
    bottom_padding, target_height and two of left_padding, right_padding, target_width.
    images (batch, H, W, C) or (H, W, C) -> (..., H + top + bottom, W + left + right, C), their dtype.
    On a tensor (channels last): a ``ZeroPadding2D`` node.

    >>> pad_images(np.ones((1, 1, 1)), 1, 0, 0, 1)[:, :, 0].tolist()
    [[0.0, 0.0], [1.0, 0.0]]
    """
    function = "pad_images"
    rows = _sides(top_padding, bottom_padding, target_height, None,
                  ("top_padding", "bottom_padding", "target_height"), function)
    cols = _sides(left_padding, right_padding, target_width, None,
                  ("left_padding", "right_padding", "target_width"), function)
    if _is_tensor(images):
        _channels_last_tensor(images, data_format, function)
        h, w = _tensor_size(images, function)
        top, bottom = _padding(*rows, h, ("top_padding", "bottom_padding"), function)
        left, right = _padding(*cols, w, ("left_padding", "right_padding"), function)
        from .layers.spatial import ZeroPadding2D
        return ZeroPadding2D(((top, bottom), (left, right)))(images)
    batch, restore = read_images(images, function, data_format)
    top, bottom = _padding(*rows, batch.shape[1], ("top_padding", "bottom_padding"), function)
    left, right = _padding(*cols, batch.shape[2], ("left_padding", "right_padding"), function)
    return restore(np.pad(batch, ((0, 0), (top, bottom), (left, right), (0, 0))))


def _padding(first, second, target, length, names, function):
    """The two paddings of one axis, from two of them and the target length."""
    if first is None:
        first = target - second - length
    elif second is None:
        second = target - first - length
    for value, name in zip((first, second), names):
        if value < 0:
            raise ValueError(f"ops.image.{function}: {name} must be >= 0, got {value} (images of {length} pixels "
                             f"along that axis padded to {target})")
    return first, second


def crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None, right_cropping=None,
                target_height=None, target_width=None, data_format=None):
    """A window of images (Keras' ``ops.image.crop_images``): two of top_cropping,
    bottom_cropping, target_height and two of left_cropping, right_cropping, target_width.
    images (batch, H, W, C) or (H, W, C) -> (..., target_height, target_width, C), their dtype.
    On a tensor (channels last): a ``Cropping2D`` node.

    >>> crop_images(np.arange(9).reshape(3, 3, 1), 1, 1, 0, 0)[:, :, 0].tolist()
    [[4, 5], [7, 8]]
    """
    function = "crop_images"
    rows = _sides(top_cropping, bottom_cropping, target_height, None,
                  ("top_cropping", "bottom_cropping", "target_height"), function)
    cols = _sides(left_cropping, right_cropping, target_width, None,
                  ("left_cropping", "right_cropping", "target_width"), function)
    if _is_tensor(images):
        _channels_last_tensor(images, data_format, function)
        h, w = _tensor_size(images, function)
        top, kept_h = _cropping(*rows, h, ("top_cropping", "target_height"), function)
        left, kept_w = _cropping(*cols, w, ("left_cropping", "target_width"), function)
        from .layers.spatial import Cropping2D
        return Cropping2D(((top, h - top - kept_h), (left, w - left - kept_w)))(images)
    batch, restore = read_images(images, function, data_format)
    top, kept_h = _cropping(*rows, batch.shape[1], ("top_cropping", "target_height"), function)
    left, kept_w = _cropping(*cols, batch.shape[2], ("left_cropping", "target_width"), function)
    return restore(batch[:, top:top + kept_h, left:left + kept_w, :])


def _cropping(first, second, target, length, names, function):
    """The start and kept length of one axis, from two of (start, end cropping, kept length)."""
    if first is None:
        first = length - target - second
    elif target is None:
        target = length - second - first
    for value, name in zip((first, target), names):
        if value < 0:
            raise ValueError(f"ops.image.{function}: {name} must be >= 0, got {value} (images of {length} pixels "
                             f"along that axis)")
    if first + target > length:
        raise ValueError(f"ops.image.{function}: the window ({names[0]}={first}, {names[1]}={target}) passes the "
                         f"images' {length} pixels along that axis")
    return first, target


def _tensor_size(images, function):
    """A tensor's image height and width, which its padding and cropping need known."""
    from .layers.symbolic import sample_shape_of
    shape = tuple(sample_shape_of(images))
    if len(shape) != 3 or None in shape[:2]:
        raise ValueError(f"ops.image.{function}: on a tensor the images must be (batch, height, width, channels) of "
                         f"known height and width, got shape {(None, *shape)}")
    return shape[0], shape[1]


def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0,
                     data_format=None):
    """Images moved by projective ``transform``s (Keras' ``ops.image.affine_transform``,
    TensorFlow's ImageProjectiveTransformV3): each row ``[a0, a1, a2, b0, b1, b2, c0, c1]`` maps
    the output point (x, y) to the input point ``((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)``,
    ``k = c0 x + c1 y + 1``, read by ``interpolation`` ("bilinear", "nearest"); points outside by
    ``fill_mode`` ("constant": ``fill_value``, "nearest", "wrap", "reflect").

    images : (batch, H, W, C) or (H, W, C); transform : (8,) for every image, or (batch, 8)
    Returns the images' shape and dtype (integers truncated and saturated, as TensorFlow's cast),
    computed in float32 (float64 for float64 images), coordinates in float32 as TensorFlow takes them.

    >>> affine_transform(np.arange(3.0).reshape(1, 3, 1), [1, 0, 1, 0, 1, 0, 0, 0])[0, :, 0].tolist()
    [1.0, 2.0, 0.0]
    """
    function = "affine_transform"
    check_choice(interpolation, f"ops.image.{function}: interpolation", AFFINE_INTERPOLATIONS)
    check_choice(fill_mode, f"ops.image.{function}: fill_mode", AFFINE_FILL_MODES)
    fill_value = check_number(fill_value, f"ops.image.{function}: fill_value", "finite")
    refuse_tensor(transform, function)
    batch, restore = read_images(images, function, data_format)
    matrices = _array(transform, "transform", f"image.{function}")
    if matrices.ndim not in (1, 2) or matrices.shape[-1] != 8:
        raise ValueError(f"ops.image.{function}: transform must be (8,) or (batch, 8), got shape {matrices.shape}")
    matrices = np.broadcast_to(matrices.astype(np.float32), (batch.shape[0], 8)) if matrices.ndim == 1 \
        or matrices.shape[0] == 1 else matrices.astype(np.float32)
    if matrices.shape[0] != batch.shape[0]:
        raise ValueError(f"ops.image.{function}: transform must hold one row or one per image ({batch.shape[0]}), "
                         f"got shape {matrices.shape}")
    return restore(project(batch, matrices, interpolation, fill_mode, fill_value))


def project(batch, matrices, interpolation, fill_mode, fill_value):
    """Images (n, H, W, C) read through projective rows ``matrices`` (n, 8), TensorFlow's
    ImageProjectiveTransformV3 (the affine augmentation layers' sampler): computed in float32
    (float64 for float64 images), coordinates in float32, cast back to the images' dtype:
    integers truncated, as TensorFlow's kernel casts (``static_cast``; rounding was 1 off on about
    half the pixels of uint8 images), and saturated.
    affine_transform and perspective_transform (_ops_image_warp.py) both end here."""
    from .layers.augmentation import _sampling, affine_sample

    compute = batch if batch.dtype == np.float64 else batch.astype(np.float32)
    n, h, w, _ = compute.shape
    out = affine_sample(compute, _sampling(matrices, h, w, fill_mode, interpolation, np.float32), fill_value)
    if batch.dtype.kind in "iu":
        # a value within 8 float32 ulps of an integer, on the side of 0, is taken as it: where every
        # neighbour reads the fill, TensorFlow's weights sum to exactly 1 and glassnet's products may
        # fall an ulp short (fill 2 gave 1.9999999, truncated to 1, on 0.5% of the pixels), as -3
        # computed -2.9999998 would be truncated to -2. Only such values are snapped: scaling every
        # value by 1 + 8 eps moved an exact 5_000_000 of an int32 image to 5_000_005 (8 eps of it > 1)
        nearest = np.round(out)
        close = np.abs(out - nearest) <= 8 * np.spacing(np.abs(nearest).astype(out.dtype))
        out = np.where(close, nearest, np.trunc(out))
    return cast_back(out, batch.dtype)


def map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0):
    """``inputs`` read at ``coordinates`` (Keras' ``ops.image.map_coordinates``, its TensorFlow
    code): ``order`` 0 (nearest, halves to even) or 1 (linear in each axis), points outside by
    ``fill_mode`` ("constant": ``fill_value``, "nearest", "wrap", "mirror", "reflect", Keras'
    index rules).

    inputs : array of any rank r; coordinates : (r, *out_shape), one coordinate array per axis
    Returns (*out_shape), the inputs' dtype (integers rounded), computed in the coordinates' dtype.

    >>> map_coordinates(np.arange(4.0), [[0.5, 2.25]], order=1).tolist()
    [0.5, 2.25]
    """
    function = "map_coordinates"
    refuse_tensor(inputs, function)
    refuse_tensor(coordinates, function)
    check_choice(fill_mode, f"ops.image.{function}: fill_mode", MAP_FILL_MODES)
    if isinstance(order, (bool, np.bool_)) or order not in (0, 1):
        raise ValueError(f"ops.image.{function}: order must be 0 (nearest) or 1 (linear), got {order!r:.80}")
    fill_value = check_number(fill_value, f"ops.image.{function}: fill_value", "finite")
    array = _array(inputs, "inputs", f"image.{function}")
    coords = _array(coordinates, "coordinates", f"image.{function}")
    if coords.ndim < 2 or coords.shape[0] != array.ndim:
        raise ValueError(f"ops.image.{function}: coordinates must be (rank of inputs = {array.ndim}, *output shape), "
                         f"got shape {coords.shape}")
    if 0 in array.shape:
        raise ValueError(f"ops.image.{function}: inputs must not be empty, got shape {array.shape}")
    dtype = coords.dtype if coords.dtype.kind == "f" else np.dtype(np.float32)
    if order == 1 and coords.dtype.kind != "f":
        coords = coords.astype(np.float32)
    axes = []
    for c, size in zip(coords, array.shape):
        if order == 0:
            nodes = [(np.round(c).astype(np.int64) if c.dtype.kind == "f" else c.astype(np.int64), None)]
        else:
            lower = np.floor(c)
            nodes = [(lower.astype(np.int64), 1 - (c - lower)), (lower.astype(np.int64) + 1, c - lower)]
        axes.append([(*_map_index(index, size, fill_mode), weight) for index, weight in nodes])
    out = np.zeros(coords.shape[1:], dtype=dtype)
    for corner in _product(axes):
        index = tuple(i for i, _, _ in corner)
        value = array[index].astype(dtype)
        if fill_mode == "constant":
            inside = np.logical_and.reduce([v for _, v, _ in corner])
            value = np.where(inside, value, dtype.type(fill_value))
        for _, _, weight in corner:
            if weight is not None:
                value = value * weight.astype(dtype, copy=False)
        out += value
    return cast_back(out, array.dtype)


def _product(axes):
    """Every corner: one node from each axis' list (itertools.product, named for what it makes)."""
    import itertools
    return itertools.product(*axes)


def _map_index(index, size, fill_mode):
    """Keras 3.15's map_coordinates index rule (its TensorFlow code): the index read and whether
    it lies inside. Keras' "reflect" and "mirror" take ``abs`` first, so a negative index is
    mirrored (-1 reads 1) in both; past the end "reflect" repeats the edge (size reads size - 1)."""
    inside = (index >= 0) & (index < size)
    if fill_mode in ("constant", "nearest"):
        return np.clip(index, 0, size - 1), inside
    if fill_mode == "wrap":
        return np.mod(index, size), inside
    mod = np.mod(np.abs(index), 2 * size)
    under = mod < size
    index = np.where(under, mod, 2 * size - mod)
    if fill_mode == "reflect":
        index = np.where(under, index, index - 1)
    # Keras gathers a "mirror" index of 2 size - size = size at the far edge: TensorFlow's gather on
    # CPU refuses it; kept inside here
    return np.clip(index, 0, size - 1), inside
