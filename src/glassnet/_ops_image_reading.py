"""How ``glassnet.ops.image`` reads its images, as Keras 3.15's ``keras.ops.image`` does: an array
of rank 3 (one image) or 4 (a batch), channels last unless ``data_format="channels_first"``, brought
to one (batch, H, W, C) layout for the shared image code and put back after."""
import numpy as np

from . import _tape_state
from ._ops_reading import _array, _is_tensor
from ._validation import check_choice

DATA_FORMATS = ("channels_last", "channels_first")


def data_format_of(data_format, function):
    """Keras' ``data_format``: None is channels last (Keras' default image_data_format)."""
    if data_format is None:
        return "channels_last"
    return check_choice(data_format, f"ops.image.{function}: data_format", DATA_FORMATS)


def refuse_tensor(images, function, note=""):
    """glassnet computes these functions on arrays only: a tensor (an Input, a drawn tensor) or a
    value a GradientTape records is refused by name, not computed without its gradient."""
    if _is_tensor(images):
        raise TypeError(f"ops.image.{function}: images must be an array; on a tensor (a functional model, a "
                        f"drawn call) glassnet computes ops.image.resize, pad_images, crop_images and "
                        f"extract_patches only{note}")
    if _tape_state.recording() and _tape_state.holds_recorded([images]):
        raise TypeError(f"ops.image.{function}: a GradientTape does not record ops.image's functions: compute it "
                        f"on the data before the tape, or use a layer (Resizing, ZeroPadding2D, Cropping2D)")


def read_images(images, function, data_format=None):
    """``images`` as a (batch, H, W, C) array, with how to put a result back: ``(batch, restore)``,
    ``restore(out)`` giving ``out`` (batch, H', W', C') in the caller's rank and ``data_format``."""
    refuse_tensor(images, function)
    channels_first = data_format_of(data_format, function) == "channels_first"
    array = _array(images, "images", f"image.{function}")
    if array.ndim not in (3, 4):
        raise ValueError(f"ops.image.{function}: images must be of rank 3 (one image) or 4 (a batch of images), got "
                         f"shape {array.shape}")
    single = array.ndim == 3
    batch = array[None] if single else array
    if channels_first:
        batch = np.moveaxis(batch, 1, -1)

    def restore(out):
        if channels_first:
            out = np.moveaxis(out, -1, 1)
        return np.ascontiguousarray(out[0] if single else out)
    return batch, restore


def float_images(images, function):
    """Refuse images that are not floats (Keras' rgb_to_hsv, hsv_to_rgb, gaussian_blur need them)."""
    if images.dtype.kind != "f":
        raise TypeError(f"ops.image.{function}: images must be floats (float16, float32, float64), got {images.dtype}")


def cast_back(out, dtype):
    """A float result in the images' ``dtype``, as Keras 3.15 returns it: integers rounded (half to
    even) and saturated to the dtype's range, floats cast."""
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.clip(np.round(out), info.min, info.max).astype(dtype)
    return out.astype(dtype, copy=False)
