"""ONNX forms of ``glassnet.ops`` functions that ONNX has no operator for and that a plain formula
would get wrong (see glassnet._onnx_tensor_ops for the others):

* ``log1p(x)``: ``log(1 + x)`` loses x's digits when x is tiny (1 + 1e-10 is 1 in float32, so
  its log is 0, not 1e-10). Goldberg's trick keeps them: with ``u = 1 + x`` (rounded),
  ``log(u) * (x / (u - 1))`` is log1p(x) to a few ulps, since ``u - 1`` is exactly the part of x
  that u holds and the ratio corrects for what rounding dropped; where ``u == 1`` (x below half
  an ulp of 1) the answer is x itself, and where ``u`` is inf (x is) it is inf.
* ``expm1(x)``: Kahan's trick likewise, with ``u = exp(x)``: ``(u - 1) * x / log(u)``; x itself
  where ``u == 1``, -1 where ``u - 1 == -1`` (x very negative, or -inf), inf where u is.
* ``softmax`` / ``log_softmax`` over several axes (Keras takes a tuple): one softmax over them
  all, as glassnet's: ``exp(x - max) / sum`` (``x - max - log(sum(exp(x - max)))``), the max and
  the sum over the axes together.

Each is checked against ``predict`` in tests/test_onnx_five.py, tiny x included.
"""


def _guarded(b, u, x, inner):
    """``x`` where ``u == 1``, ``u`` where u is +inf, else ``inner``."""
    y = b.op("Where", [b.op("Equal", [u, b.const(float("inf"))]), u, inner])
    return b.op("Where", [b.op("Equal", [u, b.const(1.0)]), x, y])


def _log1p(b, layer, xs, shapes):
    x, one = xs[0], b.const(1.0)
    u = b.op("Add", [x, one])
    inner = b.op("Mul", [b.op("Log", [u]), b.op("Div", [x, b.op("Sub", [u, one])])])
    return _guarded(b, u, x, inner)


def _expm1(b, layer, xs, shapes):
    x, one = xs[0], b.const(1.0)
    u = b.op("Exp", [x])
    less = b.op("Sub", [u, one])
    inner = b.op("Div", [b.op("Mul", [less, x]), b.op("Log", [u])])
    minus_one = b.const(-1.0)
    inner = b.op("Where", [b.op("Equal", [less, minus_one]), minus_one, inner])
    return _guarded(b, u, x, inner)


def softmax_over(b, layer, op, x, axes):
    """``op`` ("softmax" or "log_softmax") over ``axes`` (non-negative sample axes: the drawing
    refuses the batch's) at once."""
    shifted = b.op("Sub", [x, b.op("ReduceMax", [x], axes=axes, keepdims=1)])
    e = b.op("Exp", [shifted])
    total = b.op("ReduceSum", [e, b.ints(axes)], keepdims=1)
    if op == "softmax":
        return b.op("Div", [e, total])
    return b.op("Sub", [shifted, b.op("Log", [total])])


CONVERTERS = {"log1p": _log1p, "expm1": _expm1}
