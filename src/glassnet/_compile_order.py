"""Both positional orders of ``compile``: glassnet's ``compile(loss, optimizer)`` and Keras'
``compile(optimizer, loss)`` (keras.io's IMDB example: ``model.compile("adam",
"binary_crossentropy", metrics=["accuracy"])``).

The two are told apart by what is given, never guessed: an optimizer (a name of
``optimizers.OPTIMIZERS``, any case, or an ``Optimizer``) first and something else second is Keras'
order, and the two are swapped; anything else is glassnet's order, as before. No loss is named
like an optimizer, so a loss first is never read as Keras' order. Two optimizers (``compile("adam",
"sgd")``, or ``compile("adam")``, whose second is the default ``"sgd"``) are ambiguous: refused by
name, as a model without a loss cannot train.

Keras' order holds for every argument given by position, not only the first two: Keras 3.15's
``compile(optimizer, loss, loss_weights, metrics, weighted_metrics)``, so ``compile("adam", "mse",
0.5)`` weighs the loss by 0.5 as Keras does (``keras_arguments``); and an optimizer first with the
loss by keyword, ``compile(Adam(1e-3), loss="mse")``, is Keras' order too.
"""
import numbers

from . import optimizers

# Keras 3.15's Model.compile, its positional order (the run settings, kept and unused: glassnet._run_settings)
KERAS_ORDER = ("optimizer", "loss", "loss_weights", "metrics", "weighted_metrics", "run_eagerly",
               "steps_per_execution", "jit_compile", "auto_scale_loss")


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


def _weights_like(value):
    """Whether ``value`` may be ``loss_weights`` (a number, None, or a list or dict of them)."""
    values = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
    return all(v is None or (isinstance(v, numbers.Number) and not isinstance(v, bool)) for v in values)


def keras_arguments(args, kwargs, who="compile"):
    """``compile``'s arguments as keywords when they are given in Keras' order (an optimizer first,
    and a loss second or by keyword: see the module docstring), else None (glassnet's order, or
    two optimizers, which ``loss_and_optimizer`` refuses by name). Every positional argument then
    takes Keras' place for it, ``KERAS_ORDER``: the third is ``loss_weights``, not glassnet's
    ``metrics``; a list of metrics there, which Keras fails on, is refused saying so."""
    if not args or not is_optimizer(args[0]) or "optimizer" in kwargs:
        return None
    if len(args) < 2 and "loss" not in kwargs:
        return None         # compile("adam"): no loss either way (loss_and_optimizer says so)
    if is_optimizer(args[1] if len(args) > 1 else kwargs["loss"]):
        return None
    if len(args) > len(KERAS_ORDER):
        raise TypeError(f"{who}: takes at most {len(KERAS_ORDER)} arguments by position in Keras' order "
                        f"({', '.join(KERAS_ORDER)}), got {len(args)}")
    given = dict(zip(KERAS_ORDER, args))
    for name in given:
        if name in kwargs:          # Python's own words for compile(loss, optimizer) given twice
            raise TypeError(f"{who}() got multiple values for argument {name!r} (by position in Keras' order "
                            f"compile({', '.join(KERAS_ORDER[:5])}, ...), and by keyword)")
    if len(args) > 2 and not _weights_like(args[2]):
        raise TypeError(f"{who}: in Keras' order, compile({', '.join(KERAS_ORDER[:5])}), the third argument is "
                        f"loss_weights, got {args[2]!r:.60}; give metrics by keyword, metrics={args[2]!r:.60}")
    return {**given, **kwargs}
