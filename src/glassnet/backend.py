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
# Keras' global settings (keras.config / keras.backend setters). Read where Keras reads them:
# floatx and the dtype policy when a model, Input or constructor resolves dtype=None, epsilon at
# every call that uses it, the image data format when a layer resolves data_format=None. Not reset
# by clear_session (Keras' is not either). "dtype_policy" is None until set_dtype_policy.
_DEFAULTS = {"floatx": "float32", "epsilon": 1e-7, "image_data_format": "channels_last", "dtype_policy": None}
_settings = dict(_DEFAULTS)


def resolve_dtype(dtype):
    """Return the NumPy dtype for ``dtype`` ("float32", "float64", np.float32, ...); None is the
    default: the dtype policy's when ``glassnet.config.set_dtype_policy`` set one, else floatx
    (float32 unless ``set_floatx`` changed it), as a Keras layer's ``dtype=None``; not NumPy's
    ``np.dtype(None)``, which is float64.

    >>> resolve_dtype("float64"), resolve_dtype(None)
    (dtype('float64'), dtype('float32'))
    """
    if dtype is None:
        return np.dtype(_settings["dtype_policy"] or _settings["floatx"])
    if isinstance(dtype, dict):
        # NumPy reads a dict as a structured dtype ("entry not a 2- or 3- tuple"): Keras' DTypePolicy
        # config, from a Keras layer's get_config, is read by layers.deserialize
        raise TypeError(f"dtype: expected 'float32' or 'float64', got a dict {dtype!r:.120} (Keras' DTypePolicy "
                        f"config? glassnet.layers.deserialize(keras.layers.serialize(layer)) reads a Keras "
                        f"layer's config, its dtype policy included)")
    try:
        name = np.dtype(dtype).name
    except (TypeError, ValueError):
        raise TypeError(f"dtype: expected 'float32' or 'float64', got {dtype!r:.120}") from None
    if name not in _ALLOWED_DTYPES:
        raise ValueError(f"dtype: expected 'float32' or 'float64', got {name!r}")
    return np.dtype(name)


def epsilon():
    """Keras' ``keras.backend.epsilon()`` / ``keras.config.epsilon()``: 1e-7 unless ``set_epsilon``
    changed it; the fuzz factor the losses clip probabilities with, the metrics, constraints and
    normalisations guard divisions by, read at every call as Keras reads it (not the optimizers'
    ``epsilon``, whose default is the number 1e-7 in Keras too).

    >>> epsilon()
    1e-07
    """
    return _settings["epsilon"]


def set_epsilon(value):
    """Keras' ``keras.config.set_epsilon(value)``: the epsilon every later call reads (a positive
    finite number; Keras checks nothing, glassnet refuses anything else by name). Returns None.

    >>> set_epsilon(1e-5); epsilon()
    1e-05
    >>> set_epsilon(1e-7)
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"set_epsilon: value: expected a positive number, got {type(value).__name__} {value!r:.40}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"set_epsilon: value: expected a positive finite number, got {value!r}")
    _settings["epsilon"] = float(value)


def floatx():
    """Keras' ``keras.backend.floatx()`` / ``keras.config.floatx()``: "float32" unless ``set_floatx``
    changed it; the dtype a model, Input or layer made with ``dtype=None`` takes."""
    return _settings["floatx"]


def set_floatx(value):
    """Keras' ``keras.config.set_floatx(value)``: "float32" or "float64", the dtype models, Inputs
    and standalone layers made afterwards with ``dtype=None`` compute in (one given ``dtype``
    still wins; those made before keep theirs). "float16" and "bfloat16", which Keras takes, are
    refused by name: glassnet has no half precision. Returns None."""
    if not isinstance(value, str):
        raise TypeError(f"set_floatx: value: expected 'float32' or 'float64', got {type(value).__name__} {value!r:.40}")
    if value in ("float16", "bfloat16"):
        raise ValueError(f"set_floatx: value: glassnet computes in 'float32' or 'float64' only (no half precision), "
                         f"got {value!r}")
    if value not in _ALLOWED_DTYPES:
        raise ValueError(f"set_floatx: value: expected 'float32' or 'float64', got {value!r}")
    _settings["floatx"] = value


def image_data_format():
    """Keras' ``keras.config.image_data_format()``: "channels_last" unless ``set_image_data_format``
    changed it; what a layer made with ``data_format=None`` takes."""
    return _settings["image_data_format"]


def set_image_data_format(data_format):
    """Keras' ``keras.config.set_image_data_format(data_format)``: "channels_last" or
    "channels_first", the data format of layers made afterwards with ``data_format=None`` (those
    glassnet computes channels_first for; the others refuse it by name, as if given it). Returns None."""
    if not isinstance(data_format, str) or data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"set_image_data_format: data_format: expected 'channels_last' or 'channels_first', "
                         f"got {data_format!r:.40}")
    _settings["image_data_format"] = data_format


def standardize_data_format(data_format):
    """``data_format`` checked, None read as ``image_data_format()`` (Keras'
    ``backend.standardize_data_format``, which layers call in their constructor)."""
    if data_format is None:
        return _settings["image_data_format"]
    return data_format


def clear_session():
    """Keras' ``keras.backend.clear_session()`` (also ``glassnet.utils.clear_session``): default
    model names start again from ``sequential``, ``functional`` (see glassnet._names), and what
    Keras keeps in its global state goes back to its default: the dtype policy, interactive
    logging, traceback filtering, flash attention, unsafe deserialization (glassnet.config).
    floatx, epsilon, the image data format and fit's caps stay, as Keras' do."""
    import sys
    from ._names import clear_session as clear      # (imported here: glassnet._names is tiny, but apart)
    clear()
    _settings["dtype_policy"] = None
    config = sys.modules.get("glassnet.config")     # never imported: its settings are the defaults
    if config is not None:
        config._clear_session()


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


def backend():
    """Keras' ``keras.backend.backend()``: the name of the array module in use, "numpy" (or "cupy"
    after ``set_backend``), as ``get_backend()`` and ``glassnet.config.backend()``."""
    return _backend["name"]


# Keras' keras.backend dtype and tensor helpers, read from their modules on first use
_HELPERS = {"standardize_dtype": "_keras_helpers", "is_keras_tensor": "_keras_helpers", "get_uid": "_names",
            "result_type": "_dtypes", "is_float_dtype": "_dtypes", "is_int_dtype": "_dtypes"}


def __getattr__(name):
    if name in _HELPERS:
        import importlib
        return getattr(importlib.import_module(f"glassnet.{_HELPERS[name]}"), name)
    raise AttributeError(f"module 'glassnet.backend' has no attribute {name!r}")


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
