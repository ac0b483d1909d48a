"""Keras' ``keras.preprocessing``: ``glassnet.utils``' dataset builders under the names Keras'
examples use (``keras.preprocessing.timeseries_dataset_from_array``,
``keras.preprocessing.sequence.pad_sequences``, ``keras.preprocessing.image.load_img``). The same
functions, nothing of their own. ``image`` and ``sequence`` are modules, as Keras' are, so that
``from glassnet.preprocessing.image import load_img`` ports Keras' import as written."""
from ..utils import image_dataset_from_directory, text_dataset_from_directory, timeseries_dataset_from_array
from . import image, sequence

__all__ = ["image_dataset_from_directory", "text_dataset_from_directory", "timeseries_dataset_from_array",
           "sequence", "image"]
