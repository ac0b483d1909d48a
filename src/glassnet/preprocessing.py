"""Keras' ``keras.preprocessing``: ``glassnet.utils``' dataset builders under the names Keras'
examples use (``keras.preprocessing.timeseries_dataset_from_array``,
``keras.preprocessing.sequence.pad_sequences``, ``keras.preprocessing.image.load_img``). The same
functions, nothing of their own."""
import types

from .utils import (array_to_img, image_dataset_from_directory, img_to_array, load_img, pad_sequences,
                    save_img, smart_resize, text_dataset_from_directory, timeseries_dataset_from_array)

sequence = types.SimpleNamespace(pad_sequences=pad_sequences)      # keras.preprocessing.sequence
image = types.SimpleNamespace(load_img=load_img, img_to_array=img_to_array, array_to_img=array_to_img,  # .image
                              save_img=save_img, smart_resize=smart_resize)

__all__ = ["image_dataset_from_directory", "text_dataset_from_directory", "timeseries_dataset_from_array",
           "sequence", "image"]
