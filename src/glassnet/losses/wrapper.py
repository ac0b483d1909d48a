"""Keras 3.15's ``LossFunctionWrapper(fn, reduction, name, dtype, **kwargs)``: a loss object made of
a function ``fn(y_true, y_pred, **kwargs)`` written with ``glassnet.ops`` (or one of Keras' loss
functions, ``glassnet.losses.huber``), its keyword arguments kept with it, differentiated by a
GradientTape as any loss of your own (glassnet.losses.taped).

Keras keeps the class in ``keras.src.losses.losses`` (not exported) and builds its own loss classes
on it; its config is ``{"name", "reduction", "fn": <the function's entry>, **kwargs}``, the keyword
arguments beside the others, which is what a model file records here too (in Keras' form in a
``.keras`` file, which Keras loads with the function in its ``custom_objects``).
"""
import inspect

from .base import DEFAULT_REDUCTION, Loss
from .taped import Taped

# the keys of the config that are the constructor's own; every other is one of fn's arguments
_OWN = ("fn", "name", "reduction", "dtype")


class LossFunctionWrapper(Taped, Loss):
    """A loss computing ``fn(y_true, y_pred, **kwargs)`` per sample, reduced by ``reduction``.

    fn : a function ``fn(y_true, y_pred, **kwargs)`` giving one loss per sample (and position),
        written with ``glassnet.ops``; a model file names it (registered with
        ``@glassnet.saving.register_serializable()``, or in ``load_model``'s ``custom_objects``).
    reduction, name, dtype : Keras' ``Loss`` arguments (``name`` None: ``loss_function_wrapper``,
        numbered, Keras' ``auto_name``).
    **kwargs : passed to ``fn`` at every call (numbers, strings, lists, NumPy arrays, for a model file).

    >>> import numpy as np
    >>> from glassnet import ops
    >>> def scaled_mse(y_true, y_pred, scale=1.0):
    ...     return scale * ops.mean(ops.square(y_true - y_pred), axis=-1)
    >>> loss = LossFunctionWrapper(scaled_mse, name="twice_mse", scale=2.0)
    >>> float(loss(np.array([[1.0, 3.0]]), np.array([[0.0, 0.0]])))
    10.0
    >>> loss.gradient(np.array([[1.0, 3.0]]), np.array([[0.0, 0.0]])).tolist()
    [[2.0, 6.0]]
    """

    def __init__(self, fn, reduction=DEFAULT_REDUCTION, name=None, dtype=None, **kwargs):
        if not callable(fn) or inspect.isclass(fn):
            raise TypeError(f"LossFunctionWrapper: fn: expected a function fn(y_true, y_pred, **kwargs), got "
                            f"{fn!r:.60}")
        self.fn = fn
        self._fn_kwargs = dict(kwargs)
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        """Keras' config: ``{"name", "reduction", "fn": Keras' entry of the function, **kwargs}``
        (``"dtype"`` too where one was given)."""
        from .._keras_objects import serialize_keras_object
        config = super().get_config()
        # the keyword arguments as Keras writes them (NumPy numbers as Python's, arrays as its "__numpy__")
        kwargs = serialize_keras_object(self._fn_kwargs)
        name = getattr(self.fn, "__name__", None)
        try:
            entry = serialize_keras_object(self.fn)
        except TypeError:       # a lambda: no name a file can find it by (_saveable refuses it by name)
            entry = None
        if not isinstance(entry, dict):     # a function of yours not registered: by its name (Keras')
            entry = {"module": "builtins", "class_name": "function", "config": name, "registered_name": "function"}
        return {**config, "fn": entry, **kwargs}

    @classmethod
    def from_config(cls, config):
        """The loss ``get_config`` described: ``"fn"`` a function, its name, or Keras' entry of it,
        found registered (or in the ``custom_objects`` of the load), else among glassnet's loss
        functions (``"huber"``)."""
        if not isinstance(config, dict) or "fn" not in config:
            raise ValueError(f"LossFunctionWrapper.from_config: expected a dict with 'fn', got {config!r:.120}")
        from .._keras_objects import deserialize_keras_object
        config = dict(config)
        fn = find_function(config.pop("fn"))
        own = {key: config.pop(key) for key in _OWN[1:] if key in config}
        return cls(fn, **own, **deserialize_keras_object(config))

    def __repr__(self):
        return f"<LossFunctionWrapper({getattr(self.fn, '__qualname__', self.fn)!r}, kwargs={self._fn_kwargs})>"


def find_function(entry):
    """The function a config's ``"fn"`` names: a function as it is; a name, or Keras' entry
    ``{"class_name": "function", "config": name, ...}``, looked up in the registry (and the open
    ``custom_objects``), then among glassnet's loss functions. ValueError (``UnknownObjectError``)
    naming it otherwise."""
    from .. import saving
    from ..errors import UnknownObjectError
    from . import functions
    if callable(entry) and not isinstance(entry, dict):
        return entry
    name = entry.get("config") if isinstance(entry, dict) and entry.get("class_name") == "function" else entry
    if not isinstance(name, str):
        raise ValueError(f"LossFunctionWrapper: fn: expected a function, its name or Keras' entry of it "
                         f"({{'class_name': 'function', 'config': name, ...}}), got {entry!r:.120}")
    found = saving.get_registered_object(name)
    if found is None and name in functions.__all__:
        found = getattr(functions, name)
    if found is None:
        raise UnknownObjectError(f"LossFunctionWrapper: fn: {name!r:.100} is not registered; register your function "
                                 f"with @glassnet.saving.register_serializable() and import its module before "
                                 f"loading, or pass custom_objects={{{name!r:.100}: {name[:100]}}} to load_model", name)
    return found
