"""Layers: each owns its parameters, gradients and forward cache (see ``base.Layer``)."""
from .base import LAYERS, Layer, get
from .dense import Dense
from .activation import Activation

__all__ = ["Layer", "Dense", "Activation", "LAYERS", "get"]
