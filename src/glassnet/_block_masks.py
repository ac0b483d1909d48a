"""Keras' masks in a block drawn from ``call`` (a ``gn.Layer`` or ``gn.Model`` subclass with ``call``):
``call(self, inputs, mask=None)`` gets its input's mask, and ``compute_mask(self, inputs, mask=None)``
gives its output's, as Keras 3.15's ``Layer.__call__`` does::

    class PositionalEmbedding(gn.Layer):            # keras.io's English-to-Spanish Transformer
        def compute_mask(self, inputs, mask=None):
            return ops.not_equal(inputs, 0)

    class MaskedMean(gn.Layer):
        def call(self, x, mask=None):
            m = ops.cast(mask, "float32")[:, :, None]
            return ops.sum(x * m, axis=1) / ops.sum(m, axis=1)

Keras' rules (keras/src/layers/layer.py, 3.15), which a block whose ``call`` takes ``mask``,
whose class defines ``compute_mask`` or which sets ``supports_masking`` itself (a *masked block*)
follows here:

- ``mask`` is the mask of the call's one tensor argument, ``None`` where it carries none; for a
  list of tensors, the list of their masks (each a tensor or None). Called with several tensor
  arguments, ``mask`` stays None and ``<name>_mask`` gets the argument ``<name>``'s mask
  (glassnet._block_arguments).
- Where the block supports masking (``supports_masking``: Keras' default is whether the class
  defines ``compute_mask``; ``self.supports_masking = True`` sets it), a mask its own
  ``compute_mask(inputs, previous_mask)`` returns is the output's, over any its last layer gave
  it (Keras draws ``call`` without the inner layers' masks); where that is None, or the block
  keeps Keras' default (the mask ``call`` was given), the output keeps the mask its last layer
  gave it (a ``Dense``'s, passing its input's on), else takes the one given. A list of outputs
  takes the list of masks, in order.
- Operations (``x * 2``, ``ops.sum``) drop masks, as Keras' do; a layer called on the block's
  input reads the input's mask itself (an LSTM, an attention layer).
- A block declaring none of this (no ``mask`` argument, no ``compute_mask``, ``supports_masking``
  unset: Keras' default False) drops masks at its operations too, and its output carries only
  the mask its last layer gave it (a ``Dense``'s), as Keras 3.15's run hands it on.

The masks are graph nodes (layers/block_masks.py): ``CallMask`` gives a tensor's mask as the
model's floats 0.0/1.0 (as glassnet.ops' comparisons on tensors), no gradient through it;
``SetMask`` hands a drawn mask on from the block's output. Whether a tensor carries a mask is
known when the block is drawn (``carries_mask``), as Keras knows it from ``_keras_mask``.
"""
import inspect
import threading
from contextlib import contextmanager

_STATE = threading.local()


def drawing_keras_masks():
    """Whether the operation nodes made now are drawn in a masked block's call, where they drop
    masks as Keras' operations do (TensorOp, TensorFunction: ``drops_masks``)."""
    stack = getattr(_STATE, "stack", None)
    return bool(stack) and stack[-1]


@contextmanager
def _drawing(masked):
    if not hasattr(_STATE, "stack"):
        _STATE.stack = []
    _STATE.stack.append(masked)
    try:
        yield
    finally:
        _STATE.stack.pop()


def _own_compute_mask(model):
    """The class's ``compute_mask`` (None when it has only Keras' default, which every model has)."""
    method = getattr(type(model), "compute_mask", None)
    return method if callable(method) and not getattr(method, "keras_default", False) else None


def _class_supports_masking(model):
    """The ``supports_masking`` a model's class sets (a value, or a property of its own read on
    ``model``); None where only the model's own property is (glassnet._model_state), which reads
    this module."""
    value = getattr(type(model), "supports_masking", None)
    if isinstance(value, property):
        from ._model_state import ModelStateMixin
        return None if value is ModelStateMixin.supports_masking else value.fget(model)
    return value


def _explicit_supports_masking(model):
    """Whether ``supports_masking`` was set on the block (``self.supports_masking = ...``) or its
    class (glassnet's Model has none: Keras' default there is whether compute_mask is defined)."""
    return "supports_masking" in vars(model) or _class_supports_masking(model) is not None


def is_masked_block(model, arguments=None):
    """Whether ``model`` (a subclass drawn from ``call``) takes masks as Keras hands them: its
    ``call`` has a ``mask`` argument (or, called with several tensor ``arguments``, a
    ``<name>_mask`` one: glassnet._block_arguments), its class defines ``compute_mask``, or
    ``supports_masking`` is set explicitly. Any other block is drawn as Keras draws one with
    ``supports_masking`` False (``draw``): its operations drop masks too (glassnet's older rule
    passed them through its elementwise operations, where Keras 3.15 drops them)."""
    try:
        params = inspect.signature(model.call).parameters
        takes = "mask" in params or (arguments is not None and _takes(model, arguments))
    except (TypeError, ValueError):
        takes = False
    return takes or _own_compute_mask(model) is not None or _explicit_supports_masking(model)


def _takes(model, arguments):
    from ._block_arguments import takes_masks
    return takes_masks(model, arguments)


def supports_masking(model):
    """Keras 3.15's ``supports_masking`` of the block: set by the instance, else whether its class
    defines ``compute_mask``."""
    given = vars(model).get("supports_masking", _class_supports_masking(model))
    if given is not None:
        return bool(given)
    return _own_compute_mask(model) is not None


def carries_mask(tensor):
    """Whether ``tensor`` (an Input or a drawn tensor) will carry a mask in a model's pass, by the
    rules ``masking.plan_graph_masks`` plans them with (a maker's, passed on by the layers after
    it; a merge's by its ``mask_rule``)."""
    from .layers.symbolic import SymbolicTensor, in_drawing_order
    if not isinstance(tensor, SymbolicTensor):
        return False
    maker = {}                  # id(tensor) -> the layer whose mask it carries (None: none)
    for t in in_drawing_order([tensor]):
        layer, parents = t.layer, t.inputs
        found = None
        if getattr(layer, "merges", False):
            incoming = [maker.get(id(p)) for p in parents]
            if any(m is not None for m in incoming):
                rule = layer.mask_rule([None if m is None else id(m) for m in incoming])
                found = None if rule is None else incoming[0] if rule == "first" else \
                    next(m for m in incoming if m is not None)
        elif parents:
            source = maker.get(id(parents[0]))
            if source is not None and layer.mask_refusal is None and layer.passes_mask(source.mask_within_steps()):
                found = source
        if layer.makes_mask:
            found = layer
        maker[id(t)] = found
    return maker.get(id(tensor)) is not None


# Keras 3.15's text (keras/src/layers/layer.py, Layer.__call__), given where its supports_masking is False
_DROPPED = ("Layer '{name}' (of type {cls}) was passed an input with a mask attached to it. However, this layer "
            "does not support masking and will therefore destroy the mask information. Downstream layers will not "
            "see the mask.")


def warn_mask_dropped(layer, cls=None):
    """Keras 3.15's UserWarning for ``layer`` (a layer or drawn block whose ``supports_masking`` is
    False) called on an input carrying a mask. Keras gives it at every such call, and Python's
    default filter shows each text once (its text names the layer): here once per layer. ``cls``:
    the class Keras names (its ``Functional`` for a ``gn.Model(inputs, outputs)``)."""
    if layer.__dict__.get("_warned_mask_dropped"):
        return
    layer.__dict__["_warned_mask_dropped"] = True
    from ._names import to_snake_case
    from ._warnings import warn
    cls = cls or type(layer).__name__
    # (a layer not named yet, its model naming it when built: the name Keras' would start from)
    warn(_DROPPED.format(name=layer.name or to_snake_case(cls), cls=cls))


def warn_if_nested_model_drops(model, sources):
    """Keras 3.15 warns where a functional Model or a Sequential (``supports_masking`` False: they
    define no ``compute_mask``) is called inside a model on tensors of which one carries a mask
    (its ``previous_mask``: the masks of its first argument, a list for a model of several
    inputs), though its run then hands the mask on through its layers, as glassnet's replay of
    them does. Keras' class name: ``Functional`` for ``Model(inputs, outputs)``."""
    if any(carries_mask(t) for t in sources):
        warn_nested_model_given_mask(model)


def warn_nested_model_given_mask(model):
    """Keras 3.15's warning for a nested ``model`` given a masked input, unless it supports masking:
    named by Keras' class (``Functional`` for ``Model(inputs, outputs)``, the summary's type)."""
    if not supports_masking(model):
        from ._summary import kind_of
        warn_mask_dropped(model, kind_of(model))


def drops_mask_as_keras(layer):
    """Whether ``layer``, called on one masked tensor in a drawn model, is one Keras 3.15 warns of
    (``supports_masking`` False): neither making, reading nor passing on a mask (a Flatten, a Conv1D,
    a Reshape, a Lambda, a layer of yours with ``forward`` whose class leaves ``supports_masking``
    unset). Left out: the layers glassnet refuses a mask at by name (``mask_refusal``), and its own
    graph nodes (ops, ``CallMask``; Keras' ops drop masks without a word)."""
    if getattr(layer, "merges", False) or layer.supports_masking or layer.reads_mask or layer.makes_mask \
            or layer.mask_refusal is not None or callable(getattr(layer, "mask_rule", None)):
        return False
    if hasattr(layer, "bind_call"):
        # a reader of another call's values (layers/readers.py: MultiHeadAttention's scores for
        # return_attention_scores=True), part of that call, which Keras' returns as a tuple unwarned
        return False
    module = type(layer).__module__
    if module.startswith("glassnet."):
        from .layers.catalog import HOME_OF
        return module.rsplit(".", 1)[-1] == HOME_OF.get(type(layer).__name__)
    return True


def _mask_of(tensor, who):
    """The ``CallMask`` tensor of ``tensor``'s mask, or None where it carries none."""
    from .layers.block_masks import CallMask
    from .layers.symbolic import SymbolicTensor
    if not carries_mask(tensor):
        return None
    if isinstance(tensor, SymbolicTensor) and len(tensor.sample_shape) < 2:
        raise ValueError(f"{who}: its input {tensor!r} carries a mask but is no sequence (batch, steps, ...)")
    return CallMask()([tensor])


def input_masks(model, inputs):
    """What ``call``'s ``mask`` is for ``inputs`` (a tensor, or a list or tuple of them), as Keras
    gives it: the mask tensor or None; for a list, the list of them."""
    who = type(model).__name__
    if isinstance(inputs, (list, tuple)):
        return [_mask_of(t, who) for t in inputs]
    if isinstance(inputs, dict):
        return {key: _mask_of(t, who) for key, t in inputs.items()}
    return _mask_of(inputs, who)


def _flat(value):
    if isinstance(value, (list, tuple)):
        return [item for inner in value for item in _flat(inner)]
    if isinstance(value, dict):
        return [item for inner in value.values() for item in _flat(inner)]
    return [value]


def draw(model, inputs, call, arguments=None):
    """Draw ``model``'s ``call`` (``call(inputs, **masks)``, a function of the keyword arguments
    to pass) on ``inputs`` with Keras' masks, and return its outputs with their masks set. Called
    with several arguments (``arguments``, a glassnet._block_arguments.BlockCall), ``inputs`` is
    the first argument (compute_mask's) and the masks go as Keras fills them (``filled_masks``)."""
    from .layers.symbolic import is_symbolic
    _warn_if_dropped(model, inputs, arguments)
    if not is_masked_block(model, arguments):
        # Keras 3.15: a block that neither takes nor sets masks (supports_masking False, no
        # compute_mask) is drawn as one with supports_masking=False: its operations drop masks and
        # its output keeps only what its last layer gave it (a Dense's), none after an operation
        with _drawing(True):
            return call()
    if arguments is None:
        takes = "mask" in inspect.signature(model.call).parameters
        masks = input_masks(model, inputs)
        passed = {"mask": masks} if takes else {}
    else:
        from ._block_arguments import filled_masks
        passed = filled_masks(model, arguments, lambda value: input_masks(model, value))
        # Keras' previous_mask: the mask handed to call (filled or given), else the first argument's
        given_mask = passed.get("mask", arguments.bound.arguments.get("mask"))
        masks = given_mask if given_mask is not None else input_masks(model, inputs)
    with _drawing(True):
        outputs = call(**passed)
        if not supports_masking(model):
            return outputs
        flat = _flat(outputs)
        compute = _own_compute_mask(model)
        if compute is None and all(is_symbolic(t) and carries_mask(t) for t in flat):
            return outputs          # Keras: the masks its layers gave it (the default keeps call's)
        # Keras' previous_mask: the mask handed to call, else the first input's
        given = masks if compute is None else model.compute_mask(inputs, masks)
    if given is None:
        return outputs
    given = _flat(given)
    if all(m is None for m in given):
        return outputs
    bad = [m for m in given if m is not None and not is_symbolic(m)]
    if bad:
        raise TypeError(f"{type(model).__name__}.compute_mask: drawn on symbolic tensors, it must return a tensor "
                        f"of the output's steps (ops.not_equal(inputs, 0), the mask it was given) or None, got "
                        f"{type(bad[0]).__name__}")
    return _with_masks(outputs, flat, given, over_layers=compute is not None)


def _warn_if_dropped(model, inputs, arguments):
    """Keras 3.15 warns where a block whose ``supports_masking`` is False (no ``compute_mask``, the
    flag unset: whether or not ``call`` takes ``mask``) is called with a mask: the one given as
    ``mask=`` (``arguments``), else its first argument's (Keras' ``previous_mask``)."""
    if supports_masking(model):
        return
    given = None if arguments is None else arguments.bound.arguments.get("mask")
    if given is not None or any(carries_mask(t) for t in _flat(inputs)):
        warn_mask_dropped(model)


def _with_masks(outputs, flat, masks, over_layers=False):
    """``outputs`` with each of ``flat`` (its tensors) that carries no mask given the mask at its
    place in ``masks`` (Keras zips the flat outputs with the flat masks). ``over_layers``: a mask
    of the class's own ``compute_mask`` replaces the one a layer in ``call`` gave the output too.
    Keras 3.15 draws ``call`` without the inner layers' masks (they are lost in
    ``compute_output_spec``), so its symbolic output takes ``compute_mask``'s, and the layers after
    the block are handed that one (their node keeps it as the ``mask`` argument) in every pass."""
    from .layers.block_masks import SetMask
    replaced = {}
    for tensor, mask in zip(flat, masks):
        if mask is not None and (over_layers or not carries_mask(tensor)):
            replaced[id(tensor)] = SetMask()([tensor, mask])

    def rebuild(value):
        if isinstance(value, (list, tuple)):
            return type(value)(rebuild(v) for v in value)
        if isinstance(value, dict):
            return {k: rebuild(v) for k, v in value.items()}
        return replaced.get(id(value), value)
    return rebuild(outputs)
