"""ONNX forms of the merges whose values depend on their inputs' masks: ``Maximum``, ``Minimum``
and ``Multiply`` (Keras' leave the masked steps out; layers/merging.py), reading each input's
mask from ``Builder.input_masks`` (by input position; glassnet._onnx_masks). Without masks they
are the plain chain of ``Max``/``Min``/``Mul`` (glassnet._onnx_layers).

Each input's mask (batch, steps) is put over its features, (batch, steps, 1, ...), then, as
glassnet's forward:

* Maximum / Minimum: the first input's value, then each later input takes over where it is
  strictly better (or NaN) and real, or real where the value held so far is not;
* Multiply: a masked input counts as 1; with every input masked, the product is 0 where none is
  real.
"""
from . import _onnx_proto as proto
from ._onnx_layers import CONVERTERS as _PLAIN, _same_rank


def _real(b, xs, shapes):
    """Each input's mask over its features (rank of the merged inputs), or None for none."""
    rank = max(len(shape) for shape in shapes) + 1
    return [None if b.input_masks.get(k) is None else
            b.op("Unsqueeze", [b.input_masks[k], b.ints(list(range(2, rank)))], "real") for k in range(len(xs))]


def _select(pick):
    def convert(b, layer, xs, shapes):
        if not b.input_masks:
            return _PLAIN[type(layer).__name__](b, layer, xs, shapes)
        real = _real(b, xs, shapes)
        xs = _same_rank(b, xs, shapes)
        out, held = xs[0], real[0]
        for x, mine in zip(xs[1:], real[1:]):
            better = b.op("Or", [b.op(pick, [x, out]), b.op("IsNaN", [x])], "better")
            if held is not None:            # a real value takes over one that is not
                better = b.op("Or", [better, b.op("Not", [held])], "better")
            if mine is not None:            # a masked one never takes over
                better = b.op("And", [better, mine], "better")
            held = None if held is None or mine is None else b.op("Or", [held, mine], "held")
            out = b.op("Where", [better, x, out])
        return out
    convert.reads_input_masks = True
    return convert


def _multiply(b, layer, xs, shapes):
    if not b.input_masks:
        return _PLAIN["Multiply"](b, layer, xs, shapes)
    real = _real(b, xs, shapes)
    xs = [x if mine is None else b.op("Where", [mine, x, b.const(1.0)])
          for x, mine in zip(_same_rank(b, xs, shapes), real)]
    out = xs[0]
    for x in xs[1:]:
        out = b.op("Mul", [out, x])
    if all(mine is not None for mine in real):
        kept = real[0]
        for mine in real[1:]:
            kept = b.op("Or", [kept, mine], "kept")
        # times 0 or 1, as glassnet's (an inf where none is real stays NaN, not 0)
        out = b.op("Mul", [out, b.op("Cast", [kept], to=proto.ELEM_TYPES[b.dtype])])
    return out


_multiply.reads_input_masks = True
CONVERTERS = {"Maximum": _select("Greater"), "Minimum": _select("Less"), "Multiply": _multiply}
