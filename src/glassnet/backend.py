"""The array module in use and the dtype rules.

glassnet computes with NumPy by default. ``set_backend("cupy")`` switches the arrays that new models
create to CuPy (a GPU); the code path is the same because every function asks
``get_array_module(x)`` for the module of the array it was given (Chainer's pattern).

Only two floating dtypes are allowed: float32 (the default) and float64 (for gradient checks and
users who ask for it). Nothing up-casts silently: inputs are cast once, at the public entry points.
"""
import numpy as np

_ALLOWED_DTYPES = {"float32": np.float32, "float64": np.float64}
_backend = {"name": "numpy", "xp": np}


def resolve_dtype(dtype):
    """Return the NumPy dtype for ``dtype`` ("float32", "float64", np.float32, ...); None is the
    default, float32 (Keras' floatx), not NumPy's ``np.dtype(None)``, which is float64.

    >>> resolve_dtype("float64"), resolve_dtype(None)
    (dtype('float64'), dtype('float32'))
    """
    if dtype is None:
        return np.dtype("float32")
    try:
        name = np.dtype(dtype).name
    except TypeError:
        raise TypeError(f"dtype: expected 'float32' or 'float64', got {dtype!r}") from None
    if name not in _ALLOWED_DTYPES:
        raise ValueError(f"dtype: expected 'float32' or 'float64', got {name!r}")
    return np.dtype(name)


def epsilon():
    """Keras' ``keras.backend.epsilon()`` / ``keras.config.epsilon()``: 1e-7, the fuzz factor the
    losses clip probabilities with (glassnet.losses._numerics) and keras.io's examples guard
    divisions by (the Siamese network's ``sqrt(max(sum, epsilon()))``). Fixed here: Keras'
    ``set_epsilon`` changes it for every loss at once.

    >>> epsilon()
    1e-07
    """
    from .losses._numerics import EPSILON      # (imported here: the losses import this module)
    return EPSILON


def floatx():
    """Keras' ``keras.backend.floatx()`` / ``keras.config.floatx()``: "float32", the dtype a model
    computes in unless it is given ``dtype="float64"`` (one model at a time: there is no global
    ``set_floatx``)."""
    return "float32"


def clear_session():
    """Keras' ``keras.backend.clear_session()`` (also ``glassnet.utils.clear_session``): default
    model names start again from ``sequential``, ``functional`` (see glassnet._names)."""
    from ._names import clear_session as clear      # (imported here: glassnet._names is tiny, but apart)
    clear()


def set_backend(name):
    """Choose the array module for models built from now on: ``"numpy"`` or ``"cupy"``.

    CuPy is imported only here, so ``import glassnet`` never needs it.
    """
    if name == "numpy":
        _backend.update(name="numpy", xp=np)
    elif name == "cupy":
        try:
            import cupy
        except ImportError as exc:
            raise ImportError("set_backend('cupy') needs CuPy: pip install 'glassnet[gpu]'") from exc
        _backend.update(name="cupy", xp=cupy)
    else:
        raise ValueError(f"backend: expected 'numpy' or 'cupy', got {name!r}")


def get_backend():
    """The name of the backend in use: ``"numpy"`` or ``"cupy"``."""
    return _backend["name"]


def xp():
    """The array module new arrays are created with (numpy, or cupy after ``set_backend``)."""
    return _backend["xp"]


def get_array_module(x):
    """The module (numpy or cupy) that owns array ``x``."""
    if type(x).__module__.startswith("cupy"):
        import cupy
        return cupy
    return np


def to_numpy(x):
    """Return ``x`` as a NumPy array (copies from the GPU when ``x`` is a CuPy array)."""
    if type(x).__module__.startswith("cupy"):
        return x.get()
    return np.asarray(x)
