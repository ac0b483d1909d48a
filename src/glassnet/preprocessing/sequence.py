"""Keras' ``keras.preprocessing.sequence``: ``glassnet.utils.pad_sequences``, the same function."""
from ..utils import pad_sequences

__all__ = ["pad_sequences"]
