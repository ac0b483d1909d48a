"""Both positional orders of ``compile``: glassnet's ``compile(loss, optimizer)`` and Keras'
``compile(optimizer, loss)`` (keras.io's IMDB example: ``model.compile("adam",
"binary_crossentropy", metrics=["accuracy"])``).

The two are told apart by what is given, never guessed: an optimizer (a name of
``optimizers.OPTIMIZERS``, any case, or an ``Optimizer``) first and something else second is Keras'
order, and the two are swapped; anything else is glassnet's order, as before. No loss is named
like an optimizer, so a loss first is never read as Keras' order. Two optimizers (``compile("adam",
"sgd")``, or ``compile("adam")``, whose second is the default ``"sgd"``) are ambiguous: refused by
name, as a model without a loss cannot train.
"""
from . import optimizers


def is_optimizer(value):
    """True for an ``Optimizer`` or one of ``optimizers.OPTIMIZERS``' names (any case)."""
    return isinstance(value, optimizers.Optimizer) or (isinstance(value, str) and value.lower() in
                                                       optimizers.OPTIMIZERS)


def loss_and_optimizer(loss, optimizer, who="compile"):
    """``(loss, optimizer)`` from ``compile``'s first two arguments in either order (module
    docstring); two optimizers are refused with a ValueError naming both."""
    if not is_optimizer(loss):
        return loss, optimizer
    if is_optimizer(optimizer):
        first = repr(loss) if isinstance(loss, str) else f"an optimizer ({type(loss).__name__})"
        second = repr(optimizer) if isinstance(optimizer, str) else f"an optimizer ({type(optimizer).__name__})"
        raise ValueError(f"{who}: loss: expected a loss, got {first}, an optimizer, with optimizer={second} (glassnet's "
                         f"default is 'sgd'): neither order, glassnet's compile(loss, optimizer) nor Keras' "
                         f"compile(optimizer, loss), gives a loss; pass them by keyword, compile(loss=..., "
                         f"optimizer=...)")
    return optimizer, loss       # Keras' order, compile(optimizer, loss)
