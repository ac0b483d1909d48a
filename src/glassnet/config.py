"""Keras 3.15's ``keras.config``: the global settings, read where Keras reads them.

=================================================  ==============================================
``floatx`` / ``set_floatx``                          dtype of models, Inputs, layers, initializers
                                                     and ops constructors made with ``dtype=None``
                                                     ("float32" or "float64"; glassnet.backend)
``epsilon`` / ``set_epsilon``                        the fuzz factor of losses, metrics,
                                                     constraints, read at every call (backend)
``image_data_format`` / ``set_image_data_format``    what ``data_format=None`` means to a layer
                                                     made afterwards (backend)
``dtype_policy`` / ``set_dtype_policy``              "float32" or "float64" (mixed refused by name):
                                                     a model's or layer's ``dtype=None``, before floatx
``max_epochs`` / ``set_max_epochs``                  fit trains at most this many epochs (None: no cap)
``max_steps_per_epoch`` / ``set_max_steps_per_epoch``  fit takes at most this many batches an epoch
``enable/disable/is_interactive_logging_enabled``    off: progress written as plain lines (no bar)
``enable/disable/is_traceback_filtering_enabled``    recorded only: glassnet filters no traceback
``enable/disable/is_flash_attention_enabled``        recorded only: no flash attention (None at first)
``enable_unsafe_deserialization``                    recorded only: glassnet's files never hold code
``is_nnx_enabled``                                   False (JAX's NNX: no JAX here)
``backend`` / ``set_backend``                        "numpy" or "cupy" (glassnet's array modules)
``conv_memory_limit`` / ``set_conv_memory_limit``    glassnet's own (Keras has none): bytes of one
                                                     convolution call's im2col patches (64 MiB);
                                                     larger calls run in chunks of the batch
                                                     (layers/conv_memory.py); None: no bound
=================================================  ==============================================

As Keras' ``clear_session()`` does, ``glassnet.backend.clear_session()`` puts back interactive
logging, traceback filtering, flash attention, the dtype policy and unsafe deserialization (Keras
keeps them in its global state) and keeps floatx, epsilon, the image data format and the caps.

>>> import glassnet as gn
>>> gn.config.set_floatx("float64")
>>> gn.Sequential([gn.layers.Dense(1)]).dtype
dtype('float64')
>>> gn.config.set_floatx("float32")
"""
import numbers

from . import backend as _backend
from .backend import (epsilon, floatx, image_data_format, set_epsilon, set_floatx, set_image_data_format,
                      set_backend)
from .layers.conv_memory import conv_memory_limit, set_conv_memory_limit
from .dtype_policies import DTypePolicy

__all__ = ["backend", "set_backend", "floatx", "set_floatx", "epsilon", "set_epsilon", "image_data_format",
           "set_image_data_format", "dtype_policy", "set_dtype_policy", "DTypePolicy", "max_epochs", "set_max_epochs",
           "max_steps_per_epoch", "set_max_steps_per_epoch", "enable_interactive_logging",
           "disable_interactive_logging", "is_interactive_logging_enabled", "enable_traceback_filtering",
           "disable_traceback_filtering", "is_traceback_filtering_enabled", "enable_flash_attention",
           "disable_flash_attention", "is_flash_attention_enabled", "enable_unsafe_deserialization",
           "is_unsafe_deserialization_enabled", "is_nnx_enabled", "conv_memory_limit",
           "set_conv_memory_limit"]

_caps = {"max_epochs": None, "max_steps_per_epoch": None}
# Keras' global_state attributes, which its clear_session() empties
_SESSION_DEFAULTS = {"interactive_logging": True, "traceback_filtering": True, "flash_attention": None,
                     "unsafe_deserialization": False}
_session = dict(_SESSION_DEFAULTS)


def backend():
    """Keras' ``keras.config.backend()``: the name of the array module in use, "numpy" (or "cupy")."""
    return _backend.get_backend()


def _cap(value, name):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"set_{name}: {name}: expected a positive integer or None, got "
                        f"{type(value).__name__} {value!r:.40}")
    if value <= 0:
        raise ValueError(f"set_{name}: {name}: expected a positive integer or None, got {value!r}")
    return int(value)


def set_max_epochs(max_epochs):
    """Keras' ``set_max_epochs``: ``fit`` trains at most ``max_epochs`` epochs, whatever its
    ``epochs`` (warning "Limiting epochs to N", as Keras'); None lifts the cap. Returns None."""
    _caps["max_epochs"] = _cap(max_epochs, "max_epochs")


def max_epochs():
    """The cap ``set_max_epochs`` set, or None."""
    return _caps["max_epochs"]


def set_max_steps_per_epoch(max_steps_per_epoch):
    """Keras' ``set_max_steps_per_epoch``: each epoch of ``fit`` takes at most this many batches
    (warning "Limiting steps_per_epoch to N", as Keras'); None lifts the cap. Returns None."""
    _caps["max_steps_per_epoch"] = _cap(max_steps_per_epoch, "max_steps_per_epoch")


def max_steps_per_epoch():
    """The cap ``set_max_steps_per_epoch`` set, or None."""
    return _caps["max_steps_per_epoch"]


def enable_interactive_logging():
    """Progress bars as ``fit(verbose=1)`` draws them in a terminal (the default)."""
    _session["interactive_logging"] = True


def disable_interactive_logging():
    """Progress written as plain lines, one per epoch, never redrawn in place (Keras sends its
    messages to absl logging instead; glassnet writes the lines to the same stream)."""
    _session["interactive_logging"] = False


def is_interactive_logging_enabled():
    """True unless ``disable_interactive_logging()`` (clear_session puts it back to True)."""
    return _session["interactive_logging"]


def enable_traceback_filtering():
    """Recorded for Keras' code that asks: glassnet filters no traceback either way."""
    _session["traceback_filtering"] = True


def disable_traceback_filtering():
    """Recorded for Keras' code that asks: glassnet filters no traceback either way."""
    _session["traceback_filtering"] = False


def is_traceback_filtering_enabled():
    """True unless ``disable_traceback_filtering()``, as Keras'."""
    return _session["traceback_filtering"]


def enable_flash_attention():
    """Recorded only: glassnet's attention computes the same softmax either way. As Keras 3.15's,
    this puts back None ("where the layer can"), not True."""
    _session["flash_attention"] = None


def disable_flash_attention():
    """Recorded only, as ``enable_flash_attention``."""
    _session["flash_attention"] = False


def is_flash_attention_enabled():
    """None (Keras': "where the layer can") unless ``disable_flash_attention()``: False."""
    return _session["flash_attention"]


def enable_unsafe_deserialization():
    """Keras' switch that lets ``load_model`` rebuild a Lambda from its saved bytecode. glassnet's
    model files hold no code (no pickle, no bytecode: a Lambda is saved by a registered function's
    name), so there is nothing unsafe to allow: this records the call (``is_unsafe_deserialization_enabled``)
    and changes nothing. Returns None."""
    _session["unsafe_deserialization"] = True


def is_unsafe_deserialization_enabled():
    """Whether ``enable_unsafe_deserialization()`` was called (glassnet's own; Keras has no getter)."""
    return _session["unsafe_deserialization"]


def is_nnx_enabled():
    """False: NNX is the JAX backend's, and there is no JAX here."""
    return False


def set_dtype_policy(policy):
    """Keras' ``set_dtype_policy``: "float32" or "float64" (a name or a ``DTypePolicy``), the dtype
    of models and layers made afterwards with ``dtype=None`` (before floatx; Inputs and ops
    constructors still read floatx, as Keras'). Mixed policies ("mixed_float16",
    "mixed_bfloat16") and half precision are refused by name. Returns None."""
    name = policy.name if isinstance(policy, DTypePolicy) else policy
    if not isinstance(name, str):
        raise TypeError(f"set_dtype_policy: policy: expected 'float32' or 'float64', got "
                        f"{type(policy).__name__} {policy!r:.40}")
    if name.startswith("mixed_") or name in ("float16", "bfloat16"):
        raise ValueError(f"set_dtype_policy: policy: glassnet computes in 'float32' or 'float64' only (no mixed or "
                         f"half precision), got {name!r}")
    if name not in ("float32", "float64"):
        raise ValueError(f"set_dtype_policy: policy: expected 'float32' or 'float64', got {name!r}")
    _backend._settings["dtype_policy"] = name


def dtype_policy():
    """The policy ``set_dtype_policy`` set, else floatx's: ``<DTypePolicy "float32">``."""
    return DTypePolicy(_backend._settings["dtype_policy"] or floatx())


def _clear_session():
    """What Keras' clear_session() resets (its global state): called by backend.clear_session."""
    _session.clear()
    _session.update(_SESSION_DEFAULTS)
    _backend._settings["dtype_policy"] = None


def capped_epochs(epochs):
    """fit's ``epochs`` under ``set_max_epochs``'s cap, with Keras' warning when it cuts."""
    cap = _caps["max_epochs"]
    if cap and cap < epochs:
        from ._warnings import warn
        warn(f"Limiting epochs to {cap}")
        return cap
    return epochs


def capped_steps(steps):
    """An epoch's number of batches (None: until the data ends) under ``set_max_steps_per_epoch``'s
    cap, with Keras' warning when it cuts."""
    cap = _caps["max_steps_per_epoch"]
    if cap and (not steps or cap < steps):
        from ._warnings import warn
        warn(f"Limiting steps_per_epoch to {cap}")
        return cap
    return steps
