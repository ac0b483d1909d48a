"""glassnet: neural networks in nothing but NumPy.

>>> import glassnet as gn
>>> model = gn.Sequential([gn.layers.Dense(25, activation="relu", input_dim=2),
...                        gn.layers.Dense(1, activation="sigmoid")], seed=0)
>>> model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(learning_rate=0.1),
...               metrics=["accuracy"])

Networks that are not one chain (residual blocks, several inputs, shared layers) are drawn with
``gn.Model(inputs, outputs)``, Keras' functional API (see ``glassnet.graph``).

The core needs NumPy only. ``datasets``, ``plot``, ``cli``, ``sklearn`` and ``wrappers`` need optional extras and
are imported on first use, so ``import glassnet`` stays fast.
"""
import importlib

from . import (activations, backend, callbacks, constraints, gradcheck, initializers, layers, losses, metrics,
               optimizers, regularizers, saving, utils)
from .backend import get_backend, set_backend
from .callbacks import (BackupAndRestore, Callback, CSVLogger, EarlyStopping, History, LearningRateScheduler,
                        ModelCheckpoint, ReduceLROnPlateau, TensorBoard, TerminateOnNaN)
from .errors import ModelFileError, NonFiniteError
from .initializers import Initializer
from .layers import Input, Layer
from .losses import Loss
from .metrics import Metric
from .optimizers import Optimizer
from .regularizers import Regularizer
from .model import Sequential
from .utils import to_categorical

__version__ = "0.1.0"



def version():
    """Keras' ``keras.version()``: glassnet's version, ``glassnet.__version__``."""
    return __version__


_LAZY = {"datasets", "plot", "cli", "io", "sklearn", "wrappers", "dask", "trace", "models", "preprocessing", "ops", "tape",
         "random", "distillation", "config", "tree", "applications",
         "visualization", "dtype_policies", "mixed_precision", "scopes", "quantizers"}
# Keras 3.15's other top-level names, each from the small module that defines it, on first use
_LAZY_NAMES = {"InputSpec": "layers.input_spec", "KerasTensor": "keras_tensor", "Operation": "keras_tensor",
               "Function": "function", "Quantizer": "quantizers",
               "DTypePolicy": "dtype_policies", "FloatDTypePolicy": "dtype_policies",
               **{name: "scopes" for name in ("name_scope", "device", "StatelessScope", "SymbolicScope",
                                             "RematScope", "remat")}}


def __getattr__(name):
    # optional modules load on first access: glassnet.plot pulls in matplotlib only when used
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
    if name in ("load_model", "save_model", "model_from_json"):     # Keras has them at the top
        return getattr(importlib.import_module(".io", __name__), name)
    if name == "GradientTape":      # custom training loops (glassnet.tape), imported on first use
        return importlib.import_module(".tape", __name__).GradientTape
    if name == "Variable":          # Keras' keras.Variable (glassnet.variables), imported on first use
        return importlib.import_module(".variables", __name__).Variable
    if name == "Model":             # the functional API (glassnet.graph), imported on first use
        return importlib.import_module(".graph", __name__).Model
    raise AttributeError(f"module 'glassnet' has no attribute {name!r}")


__all__ = ["Sequential", "Model", "Input", "layers", "losses", "optimizers", "activations", "initializers", "metrics",
           "callbacks", "gradcheck", "regularizers", "constraints", "saving", "utils", "backend", "config", "tree", "Callback", "CSVLogger", "EarlyStopping", "History", "ModelCheckpoint",
           "LearningRateScheduler", "ReduceLROnPlateau", "TerminateOnNaN", "BackupAndRestore", "TensorBoard", "NonFiniteError", "ModelFileError", "to_categorical",
           "load_model", "save_model", "model_from_json", "GradientTape", "Variable", "set_backend", "get_backend", "__version__", "version",
           # the base classes to subclass, at the top as Keras 3 has them (keras.Layer, ...)
           "Layer", "Loss", "Metric", "Optimizer", "Initializer", "Regularizer",
           # Keras 3.15's other top-level names (see _LAZY_NAMES; docs/keras_parity.md, Top-level names)
           "dtype_policies", "mixed_precision", "quantizers", *_LAZY_NAMES]
