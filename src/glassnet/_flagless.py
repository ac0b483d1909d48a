"""A pass given no ``training`` flag, as Keras 3.15 runs it: each call in its own default mode.

Keras resolves a layer's ``training`` from, in order, the flag the call was given (``None``
included: handed to ``call`` as is), the flag an enclosing call resolved, the default of the
layer's ``call`` signature. So ``model(x)`` on a functional model, a Sequential or a subclass
whose ``call`` takes no ``training`` runs a block ``def call(self, x, training=True)`` with its
default, training, and the layers that block calls with it; ``predict`` and ``evaluate`` give
``training=False``, but to a subclass whose ``call`` takes no ``training`` they give no flag
(``self(x)``), so the block trains there too. glassnet's built-in layers default to inference.

glassnet keeps each call's own mode in the graph (``tensor.training``, a model's ``_call_modes``:
None, the pass's; True or False, fixed). A block whose ``call`` defaults to ``training=True``,
drawn given no flag, marks its calls without a fixed mode ``TRUE_IF_UNSET``: the pass's mode
when the pass is given a flag, training mode in a pass given none (``training=None``). The mark
travels where modes travel (configs and model files, nested models, Sequential blocks), and a
model whose graph holds none runs its passes as before (``resolve`` is not called).
"""
import inspect

TRUE_IF_UNSET = "true_if_unset"     # (a JSON string: model files keep it among the modes)


def valid_mode(mode):
    """Whether ``mode`` is one a call records: None, True, False or ``TRUE_IF_UNSET``."""
    return mode is None or isinstance(mode, bool) or mode == TRUE_IF_UNSET


def unfixed(mode):
    """Whether a call of ``mode`` takes an enclosing call's flag (Keras' context): it has none of its own."""
    return mode is None or mode == TRUE_IF_UNSET


def has_unset(modes):
    """Whether ``modes`` (a model's, or None) hold a call that trains in a pass given no flag."""
    return modes is not None and any(unfixed(m) and m is not None for m in modes)


def resolve(modes, training):
    """Each call's mode, True or False, in a pass of ``training`` (True, False, or None: no flag)."""
    return [(training is not None and training) if m is None else
            (True if training is None else training) if m == TRUE_IF_UNSET else m for m in modes]


def mark(tensors):
    """Mark the calls of a block drawn given no flag, whose ``call`` defaults to training=True."""
    for tensor in tensors:
        if tensor.training is None:
            tensor.training = TRUE_IF_UNSET


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
