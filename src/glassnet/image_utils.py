"""Keras' image utilities: one image file to an array and back (``load_img``, ``img_to_array``,
``array_to_img``, ``save_img``), and ``smart_resize``, a resize that crops to the target's aspect
ratio first instead of stretching.

``load_img`` returns a Pillow image, as Keras' does, resized by Pillow's own filters (Keras'
``interpolation`` names: "nearest", "bilinear", "bicubic", "hamming", "box", "lanczos"), so a model
trained on Keras' pipeline sees the same pixels here. ``smart_resize`` works on arrays with
TensorFlow's sampler (``glassnet.layers.Resizing``'s, tested against Keras), any of Keras'
interpolations on TensorFlow. Pillow is the ``plot`` extra (``pip install "glassnet[plot]"``), imported inside the
functions that need it, so ``import glassnet`` stays fast and works without it.

>>> img = load_img("cat.jpg", target_size=(224, 224))           # doctest: +SKIP
>>> x = img_to_array(img)[None]         # (1, 224, 224, 3) float32, 0-255   # doctest: +SKIP
>>> save_img("cat_small.png", x[0])                             # doctest: +SKIP
"""
import io
import os
import pathlib

import numpy as np

from . import backend
from ._atomic import write_atomically
from ._validation import check_choice, check_flag, shown
from ._warnings import warn
from .image_folders import CHANNELS

DATA_FORMATS = ("channels_last", "channels_first")
# Keras' names for Pillow's resampling filters (keras.src.utils.image_utils.PIL_INTERPOLATION_METHODS)
PIL_FILTERS = {"nearest": "NEAREST", "bilinear": "BILINEAR", "bicubic": "BICUBIC", "hamming": "HAMMING",
               "box": "BOX", "lanczos": "LANCZOS"}
# Keras 3.15's resize on TensorFlow (glassnet.layers.resizing.INTERPOLATIONS, written out here:
# import glassnet loads no layer module)
SMART_RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5")


def _pillow(where):
    """Pillow's ``Image`` module, or an ImportError saying how to install it."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f'{where} needs Pillow: pip install "glassnet[plot]" (or pip install pillow)') from None
    return Image


def _data_format(data_format, where):
    """None is ``config.image_data_format()`` (channels last unless set), as Keras' reads it."""
    if data_format is None:
        return backend.image_data_format()
    return check_choice(data_format, f"{where}: data_format", DATA_FORMATS)


def _dtype(dtype, where):
    """None is floatx (float32 unless ``config.set_floatx``), as Keras'; else any NumPy dtype
    (``"uint8"`` keeps pixels as bytes)."""
    if dtype is None:
        return np.dtype(backend.floatx())
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{where}: dtype must be None or a NumPy dtype ('float32', 'uint8', ...), "
                        f"got {shown(dtype)}") from None


def _size(size, name):
    """``(height, width)``: two positive integers (NumPy's too, as from a search grid), as a tuple,
    a list or a 1-D array (Keras indexes any of them)."""
    if isinstance(size, np.ndarray) and size.ndim == 1:
        size = size.tolist()            # NumPy's integers as Python's; a float array stays refused
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in size)):
        raise ValueError(f"{name} must be (height, width), two positive integers, got {shown(size)}")
    return int(size[0]), int(size[1])


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio=False):
    """One image file as a Pillow image, as Keras' ``load_img`` gives it.

    path : str, bytes or os.PathLike of a file, or a binary file object (``io.BytesIO``); the file is
        read whole and closed before the image is decoded
    color_mode : "rgb" (3 channels), "rgba" (4) or "grayscale" (1: 8 bits, but a 16- or 32-bit
        grayscale file keeps its depth, as in Keras)
    target_size : None (the file's size) or (height, width)
    interpolation : Pillow's filter for the resize, by Keras' name: "nearest" (Keras' default),
        "bilinear", "bicubic", "hamming", "box" or "lanczos"
    keep_aspect_ratio : bool; crop the largest centred box of the target's aspect ratio first
    Returns a ``PIL.Image.Image`` of (width, height) = target_size reversed; ``img_to_array`` makes
    it a (height, width, channels) array.
    """
    where = "load_img"
    Image = _pillow(where)
    mode = CHANNELS[check_choice(color_mode, f"{where}: color_mode", CHANNELS)][0]
    if target_size is not None:
        target_size = _size(target_size, f"{where}: target_size")
    check_choice(interpolation, f"{where}: interpolation", PIL_FILTERS)
    keep_aspect_ratio = check_flag(keep_aspect_ratio, f"{where}: keep_aspect_ratio")
    if hasattr(path, "read"):
        data = path.read()
    elif isinstance(path, (str, bytes, os.PathLike)):
        with open(path, "rb") as f:      # read whole: the image must not hold the file open
            data = f.read()
    else:
        raise TypeError(f"{where}: path must be a file path (str, bytes, os.PathLike) or a binary file object, "
                        f"got {type(path).__name__}")
    img = Image.open(io.BytesIO(data))
    # Keras converts only what is not already the mode; grayscale keeps 16- and 32-bit depths
    if img.mode != mode and not (mode == "L" and img.mode in ("L", "I;16", "I")):
        img = img.convert(mode)
    if target_size is None or img.size == (target_size[1], target_size[0]):
        return img
    target_height, target_width = target_size
    resample = getattr(getattr(Image, "Resampling", Image), PIL_FILTERS[interpolation])
    if not keep_aspect_ratio:
        return img.resize((target_width, target_height), resample)
    # Keras' crop (integer arithmetic): the largest centred box of the target's aspect ratio,
    # which Pillow resizes from directly (box=), never cutting a copy first
    width, height = img.size
    crop_height = min(height, (width * target_height) // target_width)
    crop_width = min(width, (height * target_width) // target_height)
    top, left = (height - crop_height) // 2, (width - crop_width) // 2
    return img.resize((target_width, target_height), resample, box=(left, top, left + crop_width, top + crop_height))


def img_to_array(img, data_format=None, dtype=None):
    """A Pillow image (or anything ``np.asarray`` reads) as a 3-D array, Keras' ``img_to_array``.

    data_format : "channels_last" gives (height, width, channels), "channels_first"
        (channels, height, width); None: ``config.image_data_format()``; a grayscale image gets
        its channel axis of 1
    dtype : None (floatx, float32 unless set; values 0-255 unscaled) or a NumPy dtype
    """
    where = "img_to_array"
    data_format, dtype = _data_format(data_format, where), _dtype(dtype, where)
    x = np.asarray(img, dtype=dtype)
    if x.ndim == 2:                     # grayscale: Pillow gives (height, width)
        x = x[None] if data_format == "channels_first" else x[:, :, None]
    elif x.ndim == 3:
        if data_format == "channels_first":
            x = x.transpose(2, 0, 1)
    else:
        raise ValueError(f"{where}: img must be an image of rank 2 (grayscale) or 3 (height, width, channels), "
                         f"got shape {x.shape}")
    return x


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A 3-D array as a Pillow image, Keras' ``array_to_img``.

    x : array of shape (height, width, channels) (channels last) or (channels, height, width),
        channels 1 (grayscale, "L"; "I", 32-bit, when a value exceeds 255), 3 ("RGB") or 4 ("RGBA")
    scale : bool; True stretches the values to 0-255 (min to 0, max to 255, a constant image to 0);
        False takes them as pixel values (cast to bytes as NumPy casts: keep them in 0-255)
    data_format : as ``img_to_array``'s (None: ``config.image_data_format()``)
    dtype : the dtype ``x`` is read as first, None: floatx (an integer or bool dtype with
        ``scale=True`` is scaled in float32, where Keras fails)
    """
    where = "array_to_img"
    Image = _pillow(where)
    data_format, dtype = _data_format(data_format, where), _dtype(dtype, where)
    scale = check_flag(scale, f"{where}: scale")
    x = np.asarray(x, dtype=dtype)
    if x.ndim != 3:
        raise ValueError(f"{where}: x must be one image of rank 3 ((height, width, channels) or channels first), "
                         f"got shape {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)        # Pillow's arrays are (height, width, channels)
    if x.shape[2] not in (1, 3, 4):
        raise ValueError(f"{where}: x must have 1, 3 or 4 channels (grayscale, RGB, RGBA) in its "
                         f"{data_format} axis, got {x.shape[2]} (shape {x.shape})")
    if scale:
        if x.dtype.kind != "f":         # x / max needs fractions, and an integer x - min could wrap
            x = x.astype(np.float32)    # around (int8 -100..100 gives 200) or, bool, not subtract at all
        x = x - np.min(x)               # a copy: the caller's array is left alone
        top = np.max(x)
        if top != 0:
            x /= top
        x *= 255
    if x.shape[2] == 1:
        if np.max(x) > 255:             # Keras' rule: beyond bytes, a 32-bit grayscale image
            return Image.fromarray(x[:, :, 0].astype("int32"), "I")
        return Image.fromarray(x[:, :, 0].astype("uint8"), "L")
    return Image.fromarray(x.astype("uint8"), "RGB" if x.shape[2] == 3 else "RGBA")


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Write the image array ``x`` to ``path``, Keras' ``save_img``; a file path is written
    atomically (``glassnet._atomic``): never a half-written image, even if encoding fails.

    path : str, bytes or os.PathLike, or a binary file object (then give ``file_format``)
    x : (height, width, channels) array, as ``array_to_img`` takes it (``data_format``, ``scale``)
    file_format : Pillow's format name ("png", "jpeg", ...); None: from the path's extension (".jpg"
        is JPEG). An RGBA image saved as JPEG is converted to RGB with a warning, as in Keras.
    **kwargs : passed to ``PIL.Image.Image.save`` (``quality=95`` for JPEG, ...)
    """
    where = "save_img"
    Image = _pillow(where)
    if file_format is not None and not isinstance(file_format, str):
        raise TypeError(f"{where}: file_format must be None or a format name such as 'png', got {shown(file_format)}")
    if isinstance(path, bytes):         # Keras (and load_img) take a bytes path; the atomic writer takes text
        path = os.fsdecode(path)
    writes_file = isinstance(path, (str, os.PathLike))
    if not writes_file and not hasattr(path, "write"):
        raise TypeError(f"{where}: path must be a file path (str, bytes, os.PathLike) or a binary file object, "
                        f"got {type(path).__name__}")
    if file_format is None and writes_file:
        # Pillow's own table of extensions (".jpg", ".tif", ...): the temporary file written first
        # has no telling name, so the format is settled here
        suffix = pathlib.Path(os.fspath(path)).suffix.lower()
        if suffix not in Image.registered_extensions():
            raise ValueError(f"{where}: the format cannot be told from the path {os.fspath(path)!r} (extension "
                             f"{suffix!r}): give file_format ('png', 'jpeg', ...) or a known extension")
        file_format = Image.registered_extensions()[suffix]
    if file_format is None:
        raise ValueError(f"{where}: file_format must be given when path is a file object, got None")
    file_format = "JPEG" if file_format.lower() in ("jpg", "jpeg") else file_format.upper()
    Image.init()
    if file_format not in Image.SAVE:       # else Pillow's KeyError, naming no argument
        raise ValueError(f"{where}: file_format must be a format Pillow writes ({', '.join(sorted(Image.SAVE))}), "
                         f"got {file_format!r}")
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "JPEG":
        warn("save_img: JPEG has no alpha channel: the RGBA image is converted to RGB (as in Keras)")
        img = img.convert("RGB")
    if writes_file:
        write_atomically(path, lambda f: img.save(f, format=file_format, **kwargs))
    else:
        img.save(path, format=file_format, **kwargs)


def smart_resize(x, size, interpolation="bilinear", data_format="channels_last"):
    """Images resized to ``size`` without distorting them (Keras' ``smart_resize``): the largest
    centred crop of the target's aspect ratio, then a resize of it (TensorFlow's, as Keras'
    ``ops.image.resize``: half-pixel centres, no antialiasing).

    x : array of shape (height, width, channels) or (batch, height, width, channels), or channels
        first, (channels, height, width) or (batch, channels, height, width)
    size : (height, width)
    interpolation : "bilinear", "nearest", "bicubic", "area", "lanczos3" or "lanczos5"
        (TensorFlow's kernels: see ``glassnet.layers.Resizing``)
    Returns an array of x's rank with height and width ``size``: float32 for every interpolation
    but "nearest" (as TensorFlow's, whatever x's dtype), x's own dtype and values for "nearest".

    >>> smart_resize(np.zeros((340, 500, 3)), (200, 200)).shape      # a (340, 340) crop, resized
    (200, 200, 3)
    """
    from .layers.resizing import resize, resize_masks      # here: import glassnet needs no layer module

    where = "smart_resize"
    target_height, target_width = _size(size, f"{where}: size")
    check_choice(interpolation, f"{where}: interpolation", SMART_RESIZE_INTERPOLATIONS)
    channels_first = check_choice(data_format, f"{where}: data_format", DATA_FORMATS) == "channels_first"
    x = np.asarray(x)
    if x.ndim not in (3, 4):
        raise ValueError(f"{where}: x must be an image (height, width, channels) or a batch (batch, height, width, "
                         f"channels) (channels first with data_format='channels_first'), got shape {x.shape}")
    single = x.ndim == 3
    images = x[None] if single else x
    if channels_first:
        images = images.transpose(0, 2, 3, 1)       # resize works on (n, h, w, c)
    height, width = images.shape[1:3]
    # Keras' crop, in Python floats as Keras computes it for known shapes (at least one pixel)
    crop_height = max(min(height, int(float(width * target_height) / target_width)), 1)
    crop_width = max(min(width, int(float(height * target_width) / target_height)), 1)
    top, left = int((height - crop_height) / 2), int((width - crop_width) / 2)
    images = images[:, top:top + crop_height, left:left + crop_width, :]
    if interpolation == "nearest":      # a gather: x's dtype and values, as TensorFlow keeps them
        out = resize_masks(images, target_height, target_width)
    else:                               # TensorFlow's other resizes compute and return float32
        out, _ = resize(images.astype(np.float32), target_height, target_width, interpolation)
    if channels_first:
        out = out.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(out[0] if single else out)
