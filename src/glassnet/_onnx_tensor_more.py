"""ONNX forms of the ``glassnet.ops`` functions that gather, sort, flip and count along an axis, drawn on
tensors (``TensorFunction`` nodes; glassnet._onnx_tensor_ops writes the others). Each is what the
node's forward computes (layers/tensor_math.py, layers/tensor_structure.py), ids and indices
carried as floats of the model's dtype as glassnet carries them:

* ``cumsum``: ONNX's ``CumSum`` (a running sum from the first entry, as NumPy's);
* ``cumprod``: a ``Scan`` along the axis carrying the running product (ONNX has no CumProd);
* ``sort`` / ``argsort``: ``TopK`` with k the axis' size (read from ``Shape``: any length),
  ``largest=0``, whose ties keep the lower index first, as glassnet's stable argsort;
* ``top_k``: ``TopK`` ``largest=1``, values or indices, largest first, ties to the lower index
  (glassnet's and TensorFlow's order, ``sorted`` or not);
* ``one_hot``: the ids truncated to integers (``Cast``, as ``astype(int64)``), compared with
  ``Range(num_classes)``: an id outside [0, num_classes) gives zeros, as TensorFlow's; the new
  axis moved where ``axis`` says;
* ``take``: ``Gather`` of a tensor at constant indices, or of a constant table at a tensor's ids;
* ``take_along_axis``: ``GatherElements``, both operands first broadcast to each other on the
  other axes (``Expand``), as NumPy's take_along_axis broadcasts them.

* ``flip``: a ``Slice`` with step -1 along each named axis;
* ``tril`` / ``triu``: ``Where`` over the band ``column - row <= k`` (``>= k``) of the last two
  axes, built with Range (any size);
* the linear algebra (``inv``, ``solve``, ``solve_triangular``, ``cholesky``, ``det``,
  ``slogdet``, ``logdet``): glassnet._onnx_linalg;
* ``argmax`` / ``argmin``: ONNX's ArgMax/ArgMin (first index of ties) after glassnet's
  TensorFlow-like handling of NaN, infinities and -0.0 (see ``_arg``).

NaN among sorted values has no fixed place in ONNX's TopK (NumPy puts it last): not checked.
"""
import numpy as np

from . import _onnx_proto as proto
from ._onnx_linalg import CONVERTERS as LINALG
from ._onnx_ops import Unsupported

_INT64 = 7
_INT64_MIN = -2 ** 63


def _ids(b, x):
    """Floats carrying integers (the model's ids), as int64 (truncated, NumPy's astype)."""
    return b.op("Cast", [x], to=_INT64)


def _numbers(b, x):
    return b.op("Cast", [x], to=proto.ELEM_TYPES[b.dtype])


def _axis(layer, axis, rank):
    axis = axis % rank
    if axis == 0:
        raise Unsupported(f"{layer.describe()}: ops.{layer.op} along the batch axis is not exported")
    return axis


def _size(b, x, axis):
    """The size of ``x``'s ``axis``, a 1-D int64 tensor of one entry (TopK's k)."""
    return b.op("Shape", [x], start=axis, end=axis + 1)


def _cumsum(b, layer, xs, shapes):
    return b.op("CumSum", [xs[0], b.ints(_axis(layer, layer.arguments["axis"], len(shapes[0]) + 1))])


def _cumprod(b, layer, xs, shapes):
    x = xs[0]
    rank = len(shapes[0]) + 1
    axis = _axis(layer, layer.arguments["axis"], rank)
    element = proto.ELEM_TYPES[b.dtype]
    body = b.body("running")
    before, entry = body.name("product"), body.name("entry")
    after = body.op("Mul", [before, entry])
    out = body.op("Identity", [after])
    # (no named batch axis in the body: a TimeDistributed model's is not the graph's "batch")
    slice_info = lambda name: proto.value_info(name, element, [None] * (rank - 1))  # noqa: E731
    graph = proto.graph(f"{layer.name}_running", body.nodes, body.initializers,
                        [slice_info(before), slice_info(entry)], [slice_info(after), slice_info(out)])
    b.adopt(body)
    # ones of one slice's shape (the axis left out): the product before the first entry
    first = b.op("Gather", [x, b.ints(0)], axis=axis)
    ones = b.op("Expand", [b.const(1.0, "one"), b.op("Shape", [first])])
    # (the last product named too: onnxruntime's Scan refuses an unnamed state output)
    _, out = b.op_outputs("Scan", [ones, x], [True, True], "Scan", body=proto.Subgraph(graph),
                          num_scan_inputs=1, scan_input_axes=[axis], scan_output_axes=[axis])
    return out


def _sorted(b, layer, xs, shapes):
    x = xs[0]
    axis = _axis(layer, layer.arguments["axis"], len(shapes[0]) + 1)
    values, indices = b.op_outputs("TopK", [x, _size(b, x, axis)], [True, True], "TopK", axis=axis, largest=0,
                                   sorted=1)
    return values if layer.op == "sort" else _numbers(b, indices)


def _top_k(b, layer, xs, shapes):
    args = layer.arguments
    values, indices = b.op_outputs("TopK", [xs[0], b.ints([args["k"]])], [True, True], "TopK", axis=-1, largest=1,
                                   sorted=1)
    return values if args["output"] == "values" else _numbers(b, indices)


def _one_hot(b, layer, xs, shapes):
    args = layer.arguments
    if args.get("dtype") is not None:
        raise Unsupported(f"{layer.describe()}: one_hot's dtype is not exported (the model's dtype is)")
    rank = len(shapes[0]) + 2               # the result's axes, the batch's included
    axis = _axis(layer, args["axis"], rank)
    ids = b.op("Unsqueeze", [_ids(b, xs[0]), b.ints([-1])])
    classes = b.op("Range", [b.ints(0), b.ints(int(args["num_classes"])), b.ints(1)])
    y = _numbers(b, b.op("Equal", [ids, classes]))
    if axis != rank - 1:
        y = b.op("Transpose", [y], perm=[*range(axis), rank - 1, *range(axis, rank - 1)])
    return y


def _take(b, layer, xs, shapes):
    args = layer.arguments
    if args["x"] is not None:               # a constant table read at the tensor's ids, along its first axis
        table = np.asarray(args["x"], np.float64)
        if args["axis"] is None:
            table = table.reshape(-1)
        return b.op("Gather", [b.const(table, "table"), _ids(b, xs[0])], axis=0)
    axis = _axis(layer, args["axis"], len(shapes[0]) + 1)
    return b.op("Gather", [xs[0], b.ints(np.asarray(args["indices"], np.int64))], axis=axis)


def _take_along_axis(b, layer, xs, shapes):
    args = layer.arguments
    rank = len(shapes[0]) + 1
    axis = _axis(layer, args["axis"], rank)
    data = xs[0]
    indices = _ids(b, xs[1]) if layer.merges else b.ints(np.asarray(args["indices"], np.int64))
    # NumPy broadcasts the other axes against each other: both expanded to the larger size there,
    # each keeping its own size along ``axis``
    data_shape, index_shape = b.op("Shape", [data]), b.op("Shape", [indices])
    both = b.op("Max", [data_shape, index_shape])
    along = _along(b, rank, axis)
    data = b.op("Expand", [data, b.op("Where", [along, data_shape, both])])
    indices = b.op("Expand", [indices, b.op("Where", [along, index_shape, both])])
    return b.op("GatherElements", [data, indices], axis=axis)


def _along(b, rank, axis):
    """(rank,) booleans, True at ``axis``."""
    return b.op("Equal", [b.op("Range", [b.ints(0), b.ints(rank), b.ints(1)]), b.ints(axis)])


def _flip(b, layer, xs, shapes):
    """Each named axis read backwards: a Slice with step -1 (from the end to before the first)."""
    axis = layer.arguments["axis"]
    rank = len(shapes[0]) + 1
    axes = sorted({_axis(layer, a, rank) for a in (axis if isinstance(axis, list) else [axis])})
    n = len(axes)
    return b.op("Slice", [xs[0], b.ints([-1] * n), b.ints([_INT64_MIN] * n), b.ints(axes), b.ints([-1] * n)])


def _arg(b, layer, xs, shapes):
    """``argmax``/``argmin`` as glassnet's ``arg`` (TensorFlow's kernel, which Keras 3.15 runs): -0.0
    counted as -tiny, NaN and the entries beyond the finite range clamped to the lowest (argmin:
    highest) finite value, so that they never win; then the first index of the best (ONNX's
    ArgMax/ArgMin, ``select_last_index=0``), as a number of the model's dtype."""
    x, args = xs[0], layer.arguments
    axis = _axis(layer, args["axis"], len(shapes[0]) + 1)
    info = np.finfo(b.dtype)
    zero = b.const(0.0)
    # -0.0: 0 whose reciprocal is -inf (ONNX has no signbit)
    negative_zero = b.op("And", [b.op("Equal", [x, zero]), b.op("Less", [b.op("Reciprocal", [x]), zero])])
    x = b.op("Where", [negative_zero, b.const(-info.tiny, "minus_tiny"), x])
    start = b.const(info.min if layer.op == "argmax" else info.max, "start")
    clamped = b.op("Max" if layer.op == "argmax" else "Min", [x, start])
    x = b.op("Where", [b.op("IsNaN", [x]), start, clamped])
    found = b.op("ArgMax" if layer.op == "argmax" else "ArgMin", [x], axis=axis,
                 keepdims=int(bool(args.get("keepdims", False))), select_last_index=0)
    return _numbers(b, found)


def _triangle(b, layer, xs, shapes):
    """``tril``/``triu`` on the last two axes: the entries with ``column - row <= k`` (tril) or
    ``>= k`` (triu) kept, the others 0 (``Where`` over a band built with Range: any size, any dtype)."""
    x, k = xs[0], int(layer.arguments["k"])
    rank = len(shapes[0]) + 1

    def positions(axis):
        size = b.op("Squeeze", [b.op("Shape", [x], start=axis, end=axis + 1), b.ints([0])])
        return b.op("Range", [b.ints(0), size, b.ints(1)])
    offset = b.op("Sub", [b.op("Unsqueeze", [positions(rank - 1), b.ints([0])]),
                          b.op("Unsqueeze", [positions(rank - 2), b.ints([1])])])           # (rows, columns)
    keep = b.op("LessOrEqual" if layer.op == "tril" else "GreaterOrEqual", [offset, b.ints(k)], "band")
    return b.op("Where", [keep, x, b.const(0.0)])


CONVERTERS = {"flip": _flip, "tril": _triangle, "triu": _triangle, "argmax": _arg, "argmin": _arg, "cumsum": _cumsum,
              "cumprod": _cumprod, "sort": _sorted, "argsort": _sorted, "top_k": _top_k, "one_hot": _one_hot,
              "take": _take, "take_along_axis": _take_along_axis, **LINALG}
