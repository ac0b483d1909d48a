"""Layers: each owns its parameters, gradients and forward cache (see ``base.Layer``)."""
from .base import LAYERS, Layer, get
from .dense import Dense
from .activation import Activation, LeakyReLU
from .input import Input, InputLayer
from .conv import Conv1D, Conv2D
from .pooling import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
                      GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D)
from .reshape import Flatten, Reshape
from .regularization import BatchNormalization, Dropout, GaussianDropout, GaussianNoise
from .normalization import LayerNormalization

__all__ = ["Layer", "Dense", "Activation", "LeakyReLU", "Conv1D", "Conv2D", "MaxPooling2D", "AveragePooling2D",
           "MaxPooling1D", "AveragePooling1D", "GlobalAveragePooling2D",
           "GlobalAveragePooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling1D", "Flatten", "Reshape",
           "Dropout", "GaussianNoise", "GaussianDropout", "BatchNormalization", "LayerNormalization", "Input", "InputLayer", "LAYERS", "get"]
