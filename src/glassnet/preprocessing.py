"""Keras' ``keras.preprocessing``: ``glassnet.utils``' dataset builders under the names Keras'
examples use (``keras.preprocessing.timeseries_dataset_from_array``,
``keras.preprocessing.sequence.pad_sequences``). The same functions, nothing of their own."""
import types

from .utils import (image_dataset_from_directory, pad_sequences, text_dataset_from_directory,
                    timeseries_dataset_from_array)

sequence = types.SimpleNamespace(pad_sequences=pad_sequences)      # keras.preprocessing.sequence

__all__ = ["image_dataset_from_directory", "text_dataset_from_directory", "timeseries_dataset_from_array",
           "sequence"]
