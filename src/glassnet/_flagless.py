"""A pass given no ``training`` flag, as Keras 3.15 runs it: each call in its own default mode.

Keras resolves a layer's ``training`` from, in order, the flag the call was given (``None``
included: handed to ``call`` as is), the flag an enclosing call resolved, the default of the
layer's ``call`` signature. So ``model(x)`` on a functional model, a Sequential or a subclass
whose ``call`` takes no ``training`` runs a block ``def call(self, x, training=True)`` with its
default, training, and the layers that block calls with it (a built-in layer declares its default
in ``training_default``: the image preprocessing layers and Pipeline, whose Keras ``call`` is
``call(self, data, training=True)``, flip and rotate in ``model(x)``, not in ``predict``);
``predict`` and ``evaluate`` give ``training=False``, but to a subclass whose ``call`` takes no
``training`` they give no flag (``self(x)``), so the block trains there too. glassnet's other
built-in layers default to inference.

glassnet keeps each call's own mode in the graph (``tensor.training``, a model's ``_call_modes``:
None, the pass's; True or False, fixed). A block whose ``call`` defaults to ``training=True``,
drawn given no flag, marks its calls without a fixed mode ``TRUE_IF_UNSET``: the pass's mode
when the pass is given a flag, training mode in a pass given none (``training=None``). The mark
travels where modes travel (configs and model files, nested models, Sequential blocks), and a
model whose graph holds none runs its passes as before (``resolve`` is not called). A Sequential
that is a chain of layers keeps no modes: its calls' are its layers' own (``chain_modes``), and a
pass given no flag runs each layer in its resolved mode.
"""
import inspect

import numpy as np

TRUE_IF_UNSET = "true_if_unset"     # (a JSON string: model files keep it among the modes)


class _NotGiven:
    """The default of a layer call's ``training``: no flag given, which Keras resolves from the
    enclosing call, else the default of the layer's ``call``; None given is handed to ``call`` as
    it is (Keras 3.15's image layers then run in inference: ``if not training``)."""
    __slots__ = ()

    def __repr__(self):
        return "<not given>"


NOT_GIVEN = _NotGiven()


def given_flag(layer, training):
    """A layer's ``training`` for a call on data: its ``training_default`` where none was given
    (``NOT_GIVEN``), False for None (Keras' ``if not training``), else True or False as given
    (anything else is refused by name)."""
    if training is NOT_GIVEN:
        return getattr(layer, "training_default", False)
    if training is None:
        return False
    if not isinstance(training, (bool, np.bool_)):      # ("no" would be truthy: training, silently)
        raise TypeError(f"{layer.describe()}: training must be True, False or None, got {training!r:.40}")
    return bool(training)


def valid_mode(mode):
    """Whether ``mode`` is one a call records: None, True, False or ``TRUE_IF_UNSET``."""
    return mode is None or isinstance(mode, bool) or mode == TRUE_IF_UNSET


def unfixed(mode):
    """Whether a call of ``mode`` takes an enclosing call's flag (Keras' context): it has none of its own."""
    return mode is None or mode == TRUE_IF_UNSET


def has_unset(modes):
    """Whether ``modes`` (a model's, or None) hold a call that trains in a pass given no flag."""
    return modes is not None and any(mode == TRUE_IF_UNSET for mode in modes)


def resolve(modes, training):
    """Each call's mode, True or False, in a pass of ``training`` (True, False, or None: no flag)."""
    return [(training is not None and training) if m is None else
            (True if training is None else training) if m == TRUE_IF_UNSET else m for m in modes]


def mark(tensors):
    """Mark the calls of a block drawn given no flag, whose ``call`` defaults to training=True."""
    for tensor in tensors:
        if tensor.training is None:
            tensor.training = TRUE_IF_UNSET


def own_mode(layer, mode):
    """The mode a call of ``layer`` records for the flag it was given, ``mode``: ``TRUE_IF_UNSET``
    for none (None) to a layer whose ``training_default`` is True (the image preprocessing layers
    and Pipeline, Keras' ``call(self, data, training=True)``), else ``mode``."""
    return TRUE_IF_UNSET if mode is None and getattr(layer, "training_default", False) is True else mode


def chain_modes(layers):
    """The modes of a chain of ``layers``' calls, each given no flag (a Sequential's): None where
    no layer trains in a pass given no flag, so that such a chain runs its passes as before."""
    modes = [own_mode(layer, None) for layer in layers]
    return modes if any(mode is not None for mode in modes) else None


_DEFAULTS = {}


def call_default(model):
    """``(whether model's call takes training, its default)``: the default True, False or None
    (None too for a call without ``training``). Read once per class."""
    cls = type(model)
    if cls not in _DEFAULTS:
        takes, default = False, None
        call = getattr(cls, "call", None)
        if callable(call):
            try:
                parameter = inspect.signature(call).parameters.get("training")
            except (TypeError, ValueError):
                parameter = None
            if parameter is not None:
                takes = True
                if isinstance(parameter.default, bool):
                    default = parameter.default
        _DEFAULTS[cls] = (takes, default)
    return _DEFAULTS[cls]
