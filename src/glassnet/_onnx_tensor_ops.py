"""ONNX forms of a functional model's operation nodes: the operators on tensors (``TensorOp``:
``x + y``, ``x * 2``, ``-x``, ``x[:, 0]``) and ``glassnet.ops`` functions drawn on tensors
(``TensorFunction``: ``ops.matmul``, ``ops.mean``, ``ops.where``, ``ops.einsum``, ...); see
glassnet._onnx_ops for the converters' contract.

* A constant operand (a number, an array, a weight of a drawn call) is an initializer in the
  model's dtype, broadcast by ONNX's rule, which is NumPy's: the node's own forward broadcasts the
  constant against the batch-first tensor the same way, and two tensors have one number of axes
  (the drawing refuses others), so their batch axes meet.
* Comparisons, ``logical_*`` and ``where``'s condition: glassnet carries their booleans as 0 and 1
  in the model's dtype; here the boolean node is cast back to it (``Cast``), and a condition read
  as ``!= 0``, as glassnet reads it.
* ``x[index]`` (basic indexing): one ``Slice`` over the sliced axes, a ``Squeeze`` of the axes an
  int takes, an ``Unsqueeze`` where the index has None.
* ``ops.einsum``: ONNX's ``Einsum`` with the equation glassnet computes (the batch's letter
  included), constants as initializers.

* cumsum, cumprod, sort, argsort, top_k, one_hot, take, take_along_axis: glassnet._onnx_tensor_more;
  log1p, expm1 and softmax/log_softmax over several axes: glassnet._onnx_accurate.

Any other op, or a setting with no exact form here, is refused by name (Unsupported).
"""
import numpy as np

from . import _onnx_proto as proto
from ._onnx_ops import _ELEMENTWISE, Unsupported, _softplus
from ._onnx_accurate import CONVERTERS as _ACCURATE, softmax_over
from ._onnx_tensor_more import CONVERTERS as _MORE_ALONG

_MORE = {**_MORE_ALONG, **_ACCURATE}

_BIG = np.iinfo(np.int64).max
_UNARY = {"exp": "Exp", "log": "Log", "sqrt": "Sqrt", "tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu",
          "erf": "Erf", "sign": "Sign", "sin": "Sin", "cos": "Cos", "floor": "Floor", "reciprocal": "Reciprocal",
          "absolute": "Abs", "abs": "Abs", "negative": "Neg",
          # (session 47: the drawn functions of one ONNX operator each)
          "arccos": "Acos", "arccosh": "Acosh", "arcsin": "Asin", "arcsinh": "Asinh", "arctan": "Atan",
          "arctanh": "Atanh", "ceil": "Ceil", "cosh": "Cosh", "sinh": "Sinh", "tan": "Tan", "fabs": "Abs",
          "stop_gradient": "Identity"}
# the checks of each value: booleans, carried as 0 and 1 in the model's dtype
_CHECKS = {"isnan": lambda b, x: b.op("IsNaN", [x]), "isinf": lambda b, x: b.op("IsInf", [x]),
           "isfinite": lambda b, x: b.op("Not", [b.op("Or", [b.op("IsNaN", [x]), b.op("IsInf", [x])])])}
_BINARY = {"add": "Add", "subtract": "Sub", "multiply": "Mul", "true_divide": "Div", "divide": "Div",
           "power": "Pow", "maximum": "Max", "minimum": "Min", "matmul": "MatMul"}
_COMPARE = {"equal": "Equal", "not_equal": "Equal", "greater": "Greater", "greater_equal": "GreaterOrEqual",
            "less": "Less", "less_equal": "LessOrEqual"}
_REDUCE = {"sum": "ReduceSum", "mean": "ReduceMean", "max": "ReduceMax", "min": "ReduceMin"}
# cast's target dtypes (a drawn model's are floats) -> TensorProto.DataType: the value rounded
# there, then back to the model's, as the node computes it
_CAST = {"float16": 10, "float32": 1, "float64": 11}


def _const(b, layer, value, hint="constant"):
    """A constant operand (a number, an array, a drawn call's weight) as an initializer."""
    if hasattr(value, "read"):          # a weight of a drawn call (glassnet._call_weights.CallWeight)
        value = value.read(np)
    return b.const(np.asarray(value, np.float64) if np.ndim(value) == 0 else np.asarray(value), hint)


def _binary(b, layer, op_type, xs):
    if layer.merges:
        return b.op(op_type, xs)
    c = _const(b, layer, layer._constant if isinstance(layer.constant, np.ndarray) else layer.constant)
    return b.op(op_type, [c, xs[0]] if layer.reverse else [xs[0], c])


def _as_numbers(b, boolean):
    return b.op("Cast", [boolean], to=proto.ELEM_TYPES[b.dtype])


def _nonzero(b, x):
    return b.op("Not", [b.op("Equal", [x, b.const(0.0)])])


def _get_item(b, layer, x, shape):
    """``x[index]``: the index's items over (batch, *shape), as glassnet's _indexed reads them."""
    full, index = (None, *shape), layer.index
    taking = sum(item is not None and item is not Ellipsis for item in index)
    items = []
    for item in index:
        items += [slice(None)] * (len(full) - taking) if item is Ellipsis else [item]
    items += [slice(None)] * (len(full) - sum(item is not None for item in items))
    starts, ends, axes, steps, dropped, added = [], [], [], [], [], []
    axis, out_axis = 0, 0
    for item in items:
        if item is None:
            added.append(out_axis)
            out_axis += 1
            continue
        if isinstance(item, int):
            starts.append(item)
            ends.append(item + 1 if item != -1 else _BIG)
            steps.append(1)
            axes.append(axis)
            dropped.append(axis)
        else:
            if item != slice(None):
                step = 1 if item.step is None else item.step
                starts.append(item.start if item.start is not None else (0 if step > 0 else _BIG))
                ends.append(item.stop if item.stop is not None else (_BIG if step > 0 else -_BIG - 1))
                steps.append(step)
                axes.append(axis)
            out_axis += 1
        axis += 1
    y = x
    if axes:
        y = b.op("Slice", [y, b.ints(starts), b.ints(ends), b.ints(axes), b.ints(steps)])
    if dropped:
        y = b.op("Squeeze", [y, b.ints(dropped)])
    if added:
        y = b.op("Unsqueeze", [y, b.ints(added)])
    return y


def convert_tensor_op(b, layer, xs, shapes):
    """A Python operator on tensors (layers/tensor_ops.py's TensorOp)."""
    op = layer.op
    if op == "get_item":
        return _get_item(b, layer, xs[0], shapes[0])
    if op in ("negative", "absolute"):
        return b.op(_UNARY[op], xs)
    return _binary(b, layer, _BINARY[op], xs)


def _axes(layer, axis, rank):
    return [a % rank for a in (axis if isinstance(axis, (list, tuple)) else [axis])]


def convert_tensor_function(b, layer, xs, shapes):
    """A ``glassnet.ops`` function drawn on tensors (layers/tensor_functions.py's TensorFunction)."""
    op, args, who = layer.op, layer.arguments, layer.describe()
    rank = len(shapes[0]) + 1
    x = xs[0]
    if op in _UNARY:
        return b.op(_UNARY[op], [x])
    if op in _CHECKS:
        return _as_numbers(b, _CHECKS[op](b, x))
    if op == "square":
        return b.op("Mul", [x, x])
    if op == "softplus":
        return _softplus(b, x)
    if op == "rsqrt":
        return b.op("Reciprocal", [b.op("Sqrt", [x])])
    if op in _ELEMENTWISE and op not in ("linear",):      # keras.ops' activations with their settings
        return _ELEMENTWISE[op](b, x, **args)
    if op == "round" and args["decimals"] == 0:
        return b.op("Round", [x])             # (half to even, as NumPy's)
    if op == "cast":
        to = str(np.dtype(args["dtype"]))
        if to not in _CAST:
            raise Unsupported(f"{who}: cast to {to} is not exported")
        return x if to == b.dtype.name else b.op("Cast", [b.op("Cast", [x], to=_CAST[to])], to=proto.ELEM_TYPES[b.dtype])
    if op == "clip":
        # np.clip: minimum(maximum(x, x_min), x_max)
        return b.op("Min", [b.op("Max", [x, b.const(args["x_min"])]), b.const(args["x_max"])])
    if op in _REDUCE:
        axes = _axes(layer, args["axis"], rank)
        keep = int(bool(args["keepdims"]))
        y = b.op("ReduceSum", [x, b.ints(axes)], keepdims=keep) if op == "sum" else \
            b.op(_REDUCE[op], [x], axes=axes, keepdims=keep)
        if args.get("initial") is not None:
            y = b.op("Max" if op == "max" else "Min", [y, b.const(args["initial"])])
        return y
    if op in ("softmax", "log_softmax"):
        axes = _axes(layer, args["axis"], rank)
        if len(axes) != 1:
            return softmax_over(b, layer, op, x, sorted(set(axes)))
        return b.op("Softmax" if op == "softmax" else "LogSoftmax", [x], axis=axes[0])
    if op == "reshape":
        return b.op("Reshape", [x, b.ints([0, *(-1 if n is None else n for n in args["newshape"][1:])])])
    if op == "expand_dims":
        return b.op("Unsqueeze", [x, b.ints(_axes(layer, args["axis"], rank + 1))])
    if op == "squeeze":
        if args["axis"] is None:
            axes = [k + 1 for k, n in enumerate(layer.input_shape) if n == 1]
        else:
            axes = _axes(layer, args["axis"], rank)
        return b.op("Squeeze", [x, b.ints(axes)]) if axes else b.op("Identity", [x])
    if op == "transpose":
        return b.op("Transpose", [x], perm=_axes(layer, list(args["axes"]), rank))
    if op in ("concatenate", "stack"):
        if args.get("constants") is not None:
            raise Unsupported(f"{who}: {op} of constants among the tensors is not exported")
        if op == "stack":
            axis = args["axis"] % (rank + 1)
            return b.op("Concat", [b.op("Unsqueeze", [t, b.ints([axis])]) for t in xs], axis=axis)
        return b.op("Concat", xs, axis=args["axis"] % rank)
    if op in _BINARY:
        return _binary(b, layer, _BINARY[op], xs)
    if op in _COMPARE:
        y = _binary(b, layer, _COMPARE[op], xs)
        return _as_numbers(b, b.op("Not", [y]) if op == "not_equal" else y)
    if op in ("logical_and", "logical_or", "logical_xor"):
        a, c = (xs if layer.merges else [xs[0], _const(b, layer, layer.constant)])
        return _as_numbers(b, b.op({"logical_and": "And", "logical_or": "Or", "logical_xor": "Xor"}[op],
                                   [_nonzero(b, a), _nonzero(b, c)]))
    if op == "logical_not":
        return _as_numbers(b, b.op("Equal", [x, b.const(0.0)]))
    if op == "where":
        return _where(b, layer, xs)
    if op == "einsum":
        return _einsum(b, layer, xs, shapes)
    if op in _MORE:
        return _MORE[op](b, layer, xs, shapes)
    raise Unsupported(f"{who}: ops.{op} has no ONNX form here; exported ops: {', '.join(EXPORTED_OPS)}")


def _where(b, layer, xs):
    constants, given = layer.arguments["constants"], iter(xs)
    operands = [_const(b, layer, constants[n], n) if n in constants else next(given)
                for n in ("condition", "x1", "x2")]
    return b.op("Where", [_nonzero(b, operands[0]), operands[1], operands[2]])


def _einsum(b, layer, xs, shapes):
    from .layers.tensor_structure import _einsum_plan
    args = layer.arguments
    inputs, out, _ = _einsum_plan(args, [tuple(s) for s in (shapes if layer.merges else shapes[:1])],
                                  layer.describe())
    given, operands = iter(xs), []
    for k, c in enumerate(args["constants"]):
        operands.append(next(given) if c is None else _const(b, layer, np.asarray(c, np.float64), f"einsum{k}"))
    return b.op("Einsum", operands, equation=",".join(inputs) + "->" + out)


EXPORTED_OPS = sorted({*_UNARY, "square", "softplus", "rsqrt", "round", "cast", "clip", *_REDUCE, "softmax",
                       "log_softmax", "reshape", "expand_dims", "squeeze", "transpose", "concatenate", "stack",
                       *_BINARY, *_COMPARE, "logical_and", "logical_or", "logical_xor", "logical_not", "where",
                       "einsum", *(op for op in _ELEMENTWISE if op != "linear"), *_MORE, *_CHECKS})

CONVERTERS = {"TensorOp": convert_tensor_op, "TensorFunction": convert_tensor_function}
