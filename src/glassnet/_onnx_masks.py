"""Masks in an ONNX file: the mask tensors of ``Embedding(mask_zero=True)``, ``Masking``, a call's
``mask=`` and the merges joining them, handed to the layers that read them, as glassnet's model
hands them on (layers/masking.py).

Keras attaches a mask to a tensor, glassnet's model plans where each goes (``model._mask_plan``:
each maker and the layers after it that read its mask). Export follows that plan: a maker's
converter writes its mask as a tensor of booleans (batch, steps), ``Builder.masks`` keeps it by
the maker, and each reader's converter finds it in ``Builder.mask`` during its own call (a layer
of several inputs: each input's in ``Builder.input_masks``, by position). A converter that can
use a mask says so (``reads_masks = True``); a mask reaching any other reader is refused by
name, as are the plans this does not cover (masks other layers make, masks with axes within
the steps).

* ``Embedding(mask_zero=True)``: ``ids != 0``.
* ``Masking(mask_value)``: a step is real where some feature differs from ``mask_value`` (a NaN
  always does); its output is its input with the masked steps set to 0 (``Where``, as glassnet's).
* A call's ``mask=`` (glassnet's ``SetMask([x, mask])``): ``mask != 0``.
* A merge whose inputs bring masks of several makers (glassnet's ``MaskCombiner``): the OR of
  them (Add, Subtract, Average, Maximum, Minimum, Multiply, Concatenate along the features), or
  them side by side (Concatenate along the steps, all real for an input without one); written
  after the merge's own call (``combined``), each call's (a merge called twice) after that call.
* ``GlobalAveragePooling1D`` reading a mask: each real step weighted by 1 / (its row's real
  steps, at least 1), summed: a row with no real step gives zeros, as glassnet's.
* The recurrent readers and ``RNN``: glassnet._onnx_scan, glassnet._onnx_rnn.
* The attention layers: their inputs' masks in the scores they allow, glassnet._onnx_attention;
  ``Maximum``, ``Minimum``, ``Multiply``: glassnet._onnx_merge_masks.
"""
import numpy as np

from . import _onnx_proto as proto
from ._onnx_ops import Unsupported
from .layers.block_masks import SetMask

_MAKERS = ("Embedding", "Masking", "SetMask")
# the layers handed each input's mask (glassnet._onnx_attention, glassnet._onnx_merge_masks)
_INPUT_MASK_READERS = ("MultiHeadAttention", "GroupedQueryAttention", "Attention", "AdditiveAttention",
                       "Maximum", "Minimum", "Multiply")


def plan(model):
    """``(routes, input_routes, makers, combiners)``: id(reader layer) -> what makes the mask it
    reads (a layer, or a ``MaskCombiner``: a merge's mask of several makers' masks); id(layer of
    several inputs, or combiner) -> {input position: what makes the mask that input carries} (a
    MultiHeadAttention's query, value, key; a Maximum's inputs; a combiner's); the ids of the
    makers whose masks are read; and the index of a merge's call -> its combiner, whose mask is
    written after that call. Unsupported for what export does not follow."""
    from .layers.base import Layer
    from .layers.masking import InputMaskSlots, MaskCombiner
    routes, input_routes, makers, combiners = {}, {}, set(), {}
    output_reader = getattr(model, "_output_mask", None)
    for maker, readers in getattr(model, "_mask_plan", ()):
        readers = [r for r in readers if r is not output_reader]    # (the loss's reader, not predict's)
        if not readers:
            continue
        if isinstance(maker, MaskCombiner):
            combiners[maker.call] = maker       # by call: a merge called twice joins each call's masks
        elif not isinstance(maker, Layer) or type(maker).__name__ not in _MAKERS:
            read_by = " and ".join(_describe(r) for r in readers)
            raise Unsupported(f"export: the mask {_describe(maker)} makes is not exported (read by {read_by}); "
                              f"masks from {', '.join(_MAKERS[:2])}, a call's mask= and the merges joining them are")
        elif maker.mask_within_steps():
            raise Unsupported(f"export: {maker.describe()} makes a mask with axes within the steps; not exported "
                              "(masks of shape (batch, steps) are)")
        for reader in readers:
            owner = getattr(reader, "owner", None)
            if isinstance(reader, InputMaskSlots) and (isinstance(owner, MaskCombiner)
                                                       or type(owner).__name__ in _INPUT_MASK_READERS):
                input_routes.setdefault(id(owner), {}).update(dict.fromkeys(reader.positions, maker))
                continue
            if not isinstance(reader, Layer):
                raise Unsupported(f"export: the mask {_describe(maker)} makes reaches {_describe(reader)}; not "
                                  "exported (masks read by the recurrent layers, GlobalAveragePooling1D, the "
                                  f"attention layers and {', '.join(_INPUT_MASK_READERS[-3:])} are)")
            routes[id(reader)] = maker
        makers.add(id(maker))
    return routes, input_routes, makers, combiners


def combined(b, combiner, xs, shapes):
    """The mask ``combiner`` (a merge's call) hands on, from its inputs' masks (``b.input_masks``
    during the merge's call): "or", the OR of them (Keras' merges, Concatenate along the
    features); "join", side by side along the steps (Concatenate along the steps), all real
    (ones of the input's steps) for an input without one. (batch, steps) booleans."""
    masks = [b.input_masks.get(k) for k in range(len(xs))]
    if combiner.rule == "or":
        present = [m for m in masks if m is not None]
        mask = present[0]
        for m in present[1:]:
            mask = b.op("Or", [mask, m], "mask")
        return mask
    parts = []
    for m, x, shape in zip(masks, xs, shapes):
        if m is None:       # the batch's size read from x, the steps fixed (plan_graph_masks says so)
            size = b.op("Concat", [b.op("Shape", [x], start=0, end=1), b.ints([shape[0]])], axis=0)
            m = b.op("Cast", [b.op("Expand", [b.const(1.0, "real"), size])], to=proto.BOOL)
        parts.append(m)
    return b.op("Concat", parts, "mask", axis=1)


def set_mask(b, layer, xs, shapes):
    """A call's ``mask=`` (glassnet's ``SetMask([x, mask])``): x itself, its mask ``mask != 0``."""
    if id(layer) in b.masks:
        b.masks[id(layer)] = b.op("Not", [b.op("Equal", [xs[1], b.const(0.0)])], "mask")
    return b.op("Identity", [xs[0]])


def _describe(thing):
    owner = getattr(thing, "owner", None)       # an InputMaskSlots: some inputs of a layer
    if owner is not None and hasattr(owner, "describe"):
        return f"the inputs of {owner.describe()}"
    return thing.describe() if hasattr(thing, "describe") else type(thing).__name__


def refuse_unread(layer, converter, mask):
    """Unsupported where ``mask`` (a tensor name, or None) reaches ``layer`` whose ``converter``
    has no masked form."""
    if mask is not None and not getattr(converter, "reads_masks", False):
        raise Unsupported(f"export: {layer.describe()} reads a mask, which its ONNX form here does not; masks "
                          "are exported for the recurrent layers, RNN and GlobalAveragePooling1D")


def embedding_mask(b, ids):
    """``ids != 0``: booleans of the ids' shape."""
    return b.op("Not", [b.op("Equal", [ids, b.ints(0)])], "mask")


def _masking(b, layer, xs, shapes):
    x = xs[0]
    # any feature != mask_value: ONNX's ReduceMax takes no booleans, so over 0/1 numbers
    differs = b.op("Cast", [b.op("Not", [b.op("Equal", [x, b.const(layer.mask_value)])])], to=_element(b))
    real = b.op("Cast", [b.op("ReduceMax", [differs], axes=[2], keepdims=0)], to=proto.BOOL)     # (batch, steps)
    if id(layer) in b.masks:
        b.masks[id(layer)] = real
    keep = b.op("Unsqueeze", [real, b.ints([2])])
    return b.op("Where", [keep, x, b.const(0.0)])


def _average_pool_1d(b, layer, xs, shapes):
    from ._onnx_layers import _channels_first, _global_pool
    if b.mask is None:
        return _global_pool("ReduceMean")(b, layer, xs, shapes)
    if _channels_first(layer):
        raise Unsupported(f"{layer.describe()}: a mask with data_format='channels_first' is not exported")
    real = b.op("Unsqueeze", [b.op("Cast", [b.mask], to=_element(b)), b.ints([2])])        # (batch, steps, 1)
    count = b.op("Max", [b.op("ReduceSum", [real, b.ints([1])], keepdims=1), b.const(1.0)])
    shares = b.op("Div", [real, count])
    keepdims = int(bool(getattr(layer, "keepdims", False)))
    return b.op("ReduceSum", [b.op("Mul", [xs[0], shares]), b.ints([1])], keepdims=keepdims)


def _element(b):
    return proto.ELEM_TYPES[np.dtype(b.dtype)]


_average_pool_1d.reads_masks = True
set_mask.layer_class = SetMask       # (glassnet.layers does not name it: a call's mask= makes it)
CONVERTERS = {"Masking": _masking, "GlobalAveragePooling1D": _average_pool_1d, "SetMask": set_mask}
