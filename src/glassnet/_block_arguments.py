"""A block's ``call`` of several tensor arguments, as Keras 3.15 calls a layer's::

    class TransformerDecoder(gn.Layer):             # keras.io's English-to-Spanish Transformer (older form)
        def call(self, inputs, encoder_outputs, mask=None):
            ...
    x = TransformerDecoder(16, 32, 2)(x, encoder_outputs)      # or (x, encoder_outputs=encoder_outputs)

A block drawn from ``call`` (glassnet._call_layers) called inside a model being drawn with more
than one argument (a second tensor by position, a tensor or a number by keyword) is drawn there, on
those tensors, as a one-argument block is: the tensors given join the stop set of the walk back
(``_walk_back``), and its summary row's ``called_on`` lists them in Keras' node order (the positional
arguments' tensors, then the keyword ones by sorted name: Keras' ``tree.flatten((args, kwargs))``).
Arguments that are no tensors (numbers, bools, strings) reach ``call`` as they are; ``training``
is taken by keyword as for one argument (every call the block makes runs in that mode).

Masks (keras/src/layers/layer.py, ``Layer.__call__`` step 6): with exactly one tensor argument,
``mask`` is its mask (as before); with several, ``mask`` stays None (or what was given) and each
``<name>_mask`` parameter of ``call`` gets the mask of the tensor argument ``<name>``. The block's
output mask is then ``compute_mask(first argument, previous mask)``, the previous mask being the
``mask`` handed to call, else the first argument's (glassnet._block_masks).
"""
import inspect

from .layers.symbolic import holds_symbolic, is_symbolic


class BlockCall:
    """One call of a block with its arguments bound to ``call``'s parameters.

    bound : inspect.BoundArguments of ``call``, as given (defaults not applied)
    tensor_names : the parameters given tensors (or lists/dicts of tensors), in ``call``'s order
    first : the value of ``call``'s first parameter (Keras' ``call_spec.first_arg``)
    sources : the symbolic tensors given, in Keras' node order
    training : the ``training=`` given to the block (None, True or False)
    """

    def __init__(self, bound, tensor_names, first, sources, training):
        self.bound, self.tensor_names, self.first = bound, tensor_names, first
        self.sources, self.training = sources, training

    def tensors(self):
        """The tensor arguments' values, in ``tensor_names`` order."""
        return [self.bound.arguments[name] for name in self.tensor_names]


def _flat(value):
    """Keras' ``tree.flatten``: lists and tuples in order, dicts by sorted key."""
    if isinstance(value, (list, tuple)):
        return [item for inner in value for item in _flat(inner)]
    if isinstance(value, dict):
        return [item for key in sorted(value) for item in _flat(value[key])]
    return [value]


def _is_tensor_argument(name, value, who):
    """Whether ``value`` is a tensor argument (a tensor, or a non-empty list/dict of tensors and
    Nones); a nest mixing tensors with other values is refused, as Keras refuses it."""
    if is_symbolic(value) and not isinstance(value, (list, tuple)):
        return True
    if isinstance(value, (list, tuple, dict)) and value:
        flat = _flat(value)
        if all(v is None or is_symbolic(v) for v in flat) and any(v is not None for v in flat):
            return True
        if holds_symbolic(value):
            raise ValueError(f"{who}: in a nested call() argument, tensors and non-tensors cannot be mixed "
                             f"(as Keras 3.15 refuses); got {name}={value!r:.120}")
    return False


def is_one_argument(args, kwargs):
    """Whether ``block(*args, **kwargs)`` is the one-argument form that ``Model.__call__`` takes:
    one argument, and ``training`` by keyword or (not a tensor) by position."""
    if set(kwargs) - {"training"}:
        return False
    if len(args) == 1:
        return True
    second = args[1] if len(args) == 2 else None
    # (data by position, an array or a list, is a second tensor, as in Keras; a flag is training)
    return (len(args) == 2 and "training" not in kwargs and not holds_symbolic(second)
            and not isinstance(second, (list, tuple, dict)) and getattr(second, "ndim", 0) == 0)


def bind(model, args, kwargs):
    """``block(*args, **kwargs)``, a call of several arguments (not ``is_one_argument``), bound to
    ``model.call``: a ``BlockCall``. Raises TypeError naming the block when ``call`` does not take
    these arguments, ValueError for a non-tensor given by position after the first (Keras' rule)."""
    who = type(model).__name__
    signature = inspect.signature(model.call)
    params = signature.parameters
    kwargs = dict(kwargs)
    training = kwargs.pop("training", None) if "training" not in params else kwargs.get("training")
    if training is not None and not isinstance(training, bool):
        raise TypeError(f"{who}: training: expected True, False or None, got {training!r:.80}")
    for k, value in enumerate(args[1:], start=1):
        if value is not None and not holds_symbolic(value):
            raise ValueError(f"{who}: only tensors may be passed by position (Keras 3.15's rule); argument "
                             f"{k} is {value!r:.80} ({type(value).__name__}): pass it by keyword")
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"{who}.call{signature}: {exc}") from None
    if "training" in params:
        bound.arguments.pop("training", None)       # drawn once for both modes, as one argument is
    names = [name for name, value in bound.arguments.items() if _is_tensor_argument(name, value, who)]
    if not names:
        raise TypeError(f"{who}: called with no symbolic tensor among its arguments "
                        f"({', '.join(bound.arguments)}); a block of several arguments is drawn inside a model "
                        f"(call it on Inputs or layers' outputs)")
    sources = [t for t in _flat((list(args), kwargs)) if is_symbolic(t) and not isinstance(t, (list, tuple))]
    first_name = next(iter(params))
    return BlockCall(bound, names, bound.arguments.get(first_name, params[first_name].default),
                     sources, training)


def filled_masks(model, call, masks_of):
    """Keras' masks for ``call`` (a ``BlockCall``): ``{parameter: mask}`` for the parameters Keras
    fills (``mask`` for one tensor argument, ``<name>_mask`` for several; only those ``call`` has
    and was not given), ``masks_of(value)`` giving a tensor argument's masks."""
    params = inspect.signature(model.call).parameters
    given = call.bound.arguments
    if len(call.tensor_names) == 1:
        wanted = {"mask": call.tensor_names[0]}
    else:
        wanted = {f"{name}_mask": name for name in call.tensor_names}
    return {param: masks_of(given[name]) for param, name in wanted.items()
            if param in params and given.get(param) is None}


def takes_masks(model, call):
    """Whether Keras fills a mask parameter of ``model.call`` for ``call`` (see ``filled_masks``)."""
    params = inspect.signature(model.call).parameters
    if len(call.tensor_names) == 1:
        return "mask" in params
    return any(f"{name}_mask" in params for name in call.tensor_names)


def build_shapes(call):
    """Keras' arguments to a block's own ``build`` for ``call``: the one tensor argument's shape
    (``(None, *sample shape)``; a list for a list), else ``{"<name>_shape": shape}`` per tensor."""
    from .layers.symbolic import sample_shape_of

    def shape(value):
        if isinstance(value, (list, tuple)):
            return [shape(v) for v in value]
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items()}
        return None if value is None else (None, *sample_shape_of(value))
    if len(call.tensor_names) == 1:
        return (shape(call.bound.arguments[call.tensor_names[0]]),), {}
    return (), {f"{name}_shape": shape(call.bound.arguments[name]) for name in call.tensor_names}
