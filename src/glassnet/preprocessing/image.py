"""Keras' ``keras.preprocessing.image``: ``glassnet.utils``' image functions (``load_img``,
``img_to_array``, ``array_to_img``, ``save_img``, ``smart_resize``), the same objects."""
from ..utils import array_to_img, img_to_array, load_img, save_img, smart_resize

__all__ = ["load_img", "img_to_array", "array_to_img", "save_img", "smart_resize"]
