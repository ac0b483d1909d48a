"""Masks in an ONNX file: the mask tensors of ``Embedding(mask_zero=True)`` and ``Masking``, handed
to the layers that read them, as glassnet's model hands them on (layers/masking.py).

Keras attaches a mask to a tensor, glassnet's model plans where each goes (``model._mask_plan``:
each maker and the layers after it that read its mask). Export follows that plan: a maker's
converter writes its mask as a tensor of booleans (batch, steps), ``Builder.masks`` keeps it by
the maker, and each reader's converter finds it in ``Builder.mask`` during its own call. A
converter that can use a mask says so (``reads_masks = True``); a mask reaching any other reader
is refused by name, as are the plans this does not cover (masks of several makers joined at a
merge, masks read by the merge layers and by attention layers other than MultiHeadAttention,
masks with axes within the steps).

* ``Embedding(mask_zero=True)``: ``ids != 0``.
* ``Masking(mask_value)``: a step is real where some feature differs from ``mask_value`` (a NaN
  always does); its output is its input with the masked steps set to 0 (``Where``, as glassnet's).
* ``GlobalAveragePooling1D`` reading a mask: each real step weighted by 1 / (its row's real
  steps, at least 1), summed: a row with no real step gives zeros, as glassnet's.
* The recurrent readers: glassnet._onnx_scan.
* ``MultiHeadAttention``: its inputs' masks (``Builder.input_masks``, by input position) ANDed
  into the scores it allows, glassnet._onnx_attention.
"""
import numpy as np

from . import _onnx_proto as proto
from ._onnx_ops import Unsupported

_MAKERS = ("Embedding", "Masking")
_INPUT_MASK_READERS = ("MultiHeadAttention",)       # (glassnet._onnx_attention)


def plan(model):
    """``(routes, input_routes, makers)``: id(reader layer) -> the layer whose mask it reads;
    id(layer of several inputs) -> {input position: the layer whose mask that input carries} (a
    MultiHeadAttention's query, value, key); and the ids of the makers whose masks are read, from
    ``model``'s mask plan. Unsupported for what export does not follow."""
    from .layers.base import Layer
    from .layers.masking import InputMaskSlots
    routes, input_routes, makers, output_reader = {}, {}, set(), getattr(model, "_output_mask", None)
    for maker, readers in getattr(model, "_mask_plan", ()):
        readers = [r for r in readers if r is not output_reader]    # (the loss's reader, not predict's)
        if not readers:
            continue
        if not isinstance(maker, Layer) or type(maker).__name__ not in _MAKERS:
            read_by = " and ".join(_describe(r) for r in readers)
            raise Unsupported(f"export: the mask {_describe(maker)} makes (masks joined at a merge, a call's mask=) "
                              f"is not exported (read by {read_by}); masks from {' and '.join(_MAKERS)} read by the "
                              "layers after them are")
        if maker.mask_within_steps():
            raise Unsupported(f"export: {maker.describe()} makes a mask with axes within the steps; not exported "
                              "(masks of shape (batch, steps) are)")
        for reader in readers:
            if isinstance(reader, InputMaskSlots) and type(reader.owner).__name__ in _INPUT_MASK_READERS:
                input_routes.setdefault(id(reader.owner), {}).update(dict.fromkeys(reader.positions, maker))
                continue
            if not isinstance(reader, Layer):
                raise Unsupported(f"export: the mask {maker.describe()} makes reaches {_describe(reader)}; not "
                                  "exported (masks read by the recurrent layers, GlobalAveragePooling1D and "
                                  "MultiHeadAttention are)")
            routes[id(reader)] = maker
        makers.add(id(maker))
    return routes, input_routes, makers


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
                          "are exported for the recurrent layers and GlobalAveragePooling1D")


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
CONVERTERS = {"Masking": _masking, "GlobalAveragePooling1D": _average_pool_1d}
