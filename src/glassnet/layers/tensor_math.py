"""More of ``keras.ops`` on symbolic tensors: element-wise maths (``log1p``, ``sin``, ``erf``, ``power``
of tensors, ...), comparisons and logic (``greater``, ``logical_and``, ``where``), reductions (``std``,
``logsumexp``, ``norm``, ``argmax``, ...), ``cumsum``/``cumprod`` and ``one_hot``.

Each is an op of ``TensorFunction`` (layers/tensor_functions.py), which hands its ops of this
module's ``OPS`` to ``output_shape``, ``forward`` and ``backward`` here; ``glassnet.ops`` makes them.
Values travel as floats of the model's dtype, so a comparison gives 0.0 and 1.0 (Keras: booleans),
``argmax`` its indices as floats (Keras: int32); none of those passes a gradient to its inputs (as
in Keras, whose integer and boolean results have none). A 0/1 tensor feeds ``where``, a product or
``cast`` as Keras' booleans do.
"""
import math

import numpy as np

from .. import backend
from .._erf import erf as _erf
from . import tensor_activations, tensor_npmath, tensor_shapes, tensor_spectral
from .tensor_ops import constant_in_dtype, unbroadcast

# each ops' family: TensorFunction reads these into its own (UNARY keeps the shape, BINARY takes
# two tensors or a tensor and a constant, REDUCTIONS Keras' axis/keepdims, LISTS a list of tensors)
UNARY = ("log1p", "expm1", "sign", "sin", "cos", "erf", "floor", "round", "reciprocal", "rsqrt", "logical_not")
UNARY += ("tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arccosh", "arctanh", "log2", "log10",
          "ceil", "trunc", "isnan", "isinf", "isfinite", "stop_gradient")
UNARY += tensor_npmath.UNARY      # erfc, erfinv, i0: layers/tensor_npmath.py
# keras.ops' activations (gelu, silu, leaky_relu, ...): glassnet.activations' pairs, layers/tensor_activations.py
ACTIVATIONS = tensor_activations.OPS
UNARY += ACTIVATIONS
COMPARISONS = ("equal", "not_equal", "greater", "greater_equal", "less", "less_equal", "logical_and", "logical_or",
               "logical_xor")
BINARY = ("power", "floor_divide", "mod", "arctan2") + COMPARISONS
REDUCTIONS = ("prod", "std", "var", "logsumexp", "norm", "argmax", "argmin", "any", "all")
# the Fourier transforms of a (real, imag) pair, one node per part: layers/tensor_spectral.py
SPECTRAL = tensor_spectral.PAIRS
LISTS = ("where",) + SPECTRAL
OTHERS = ("cumsum", "cumprod", "one_hot", "sort", "argsort") + tensor_spectral.OF_ONE
OPS = UNARY + BINARY + REDUCTIONS + LISTS + OTHERS
# no gradient reaches their inputs (Keras' results of these are integers or booleans, or TensorFlow's
# gradient of floor, round and sign is none or zero)
CONSTANT_GRADIENT = ("sign", "floor", "round", "logical_not", "argmax", "argmin", "any", "all", "one_hot", "argsort") \
    + COMPARISONS + ("ceil", "trunc", "isnan", "isinf", "isfinite", "floor_divide", "stop_gradient")
ARGUMENTS = {"round": {"decimals": 0}, "prod": {"axis": None, "keepdims": False, "dtype": None},
             "norm": {"ord": None, "axis": None, "keepdims": False}, "where": {"constants": {}},
             "cumsum": {"axis": None, "dtype": None}, "cumprod": {"axis": None, "dtype": None},
             "one_hot": {"num_classes": None, "axis": -1, "dtype": None},
             "sort": {"axis": -1}, "argsort": {"axis": -1}, **tensor_activations.ARGUMENTS,
             **tensor_spectral.ARGUMENTS}
WHERE_OPERANDS = ("condition", "x1", "x2")


# -- forward and backward on arrays --------------------------------------------------------------
def _round(x, decimals):
    return np.round(x, decimals).astype(x.dtype, copy=False)


FORWARD = {
    "log1p": np.log1p, "expm1": np.expm1, "sign": np.sign, "sin": np.sin, "cos": np.cos, "erf": _erf,
    "floor": np.floor, "round": _round, "reciprocal": np.reciprocal,
    "rsqrt": lambda x: 1 / np.sqrt(x), "logical_not": lambda x: (x == 0).astype(x.dtype),
    "tan": np.tan, "arcsin": np.arcsin, "arccos": np.arccos, "arctan": np.arctan, "sinh": np.sinh, "cosh": np.cosh,
    "arcsinh": np.arcsinh, "arccosh": np.arccosh, "arctanh": np.arctanh, "log2": np.log2, "log10": np.log10,
    "ceil": np.ceil, "trunc": np.trunc, "isnan": np.isnan, "isinf": np.isinf, "isfinite": np.isfinite,
    # the value as it is, no gradient back (a straight-through estimator: x + stop_gradient(q - x))
    "stop_gradient": lambda x: x,
}
def _no_nan(g, grad):
    """``grad()`` with 0 where ``g`` is 0 (TensorFlow's gradient kernels of reciprocal, rsqrt, sqrt)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(g == 0, 0, grad()).astype(np.result_type(g), copy=False)


# dL/dx from dL/dy (g), x and y
BACKWARD = {
    "log1p": lambda g, x, y: g / (1 + x),
    "expm1": lambda g, x, y: g * (y + 1),
    "sin": lambda g, x, y: g * np.cos(x),
    "cos": lambda g, x, y: -g * np.sin(x),
    "erf": lambda g, x, y: g * (2 / math.sqrt(math.pi)) * np.exp(-x * x),
    # 0 where g is 0, as TensorFlow's ReciprocalGrad/RsqrtGrad: at x = 0 (y inf) a branch not taken
    # (ops.normalize's minimum(rsqrt(0), 1/epsilon)) gives 0, not 0 * inf = NaN
    "reciprocal": lambda g, x, y: _no_nan(g, lambda: -g * y * y),
    "rsqrt": lambda g, x, y: _no_nan(g, lambda: -0.5 * g * y * y * y),
    "tan": lambda g, x, y: g * (1 + y * y),
    "arcsin": lambda g, x, y: g / np.sqrt(1 - x * x),
    "arccos": lambda g, x, y: -g / np.sqrt(1 - x * x),
    "arctan": lambda g, x, y: g / (1 + x * x),
    "sinh": lambda g, x, y: g * np.cosh(x),
    "cosh": lambda g, x, y: g * np.sinh(x),
    "arcsinh": lambda g, x, y: g / np.sqrt(x * x + 1),
    "arccosh": lambda g, x, y: g / np.sqrt(x * x - 1),
    "arctanh": lambda g, x, y: g / (1 - x * x),
    "log2": lambda g, x, y: g / (x * math.log(2)),
    "log10": lambda g, x, y: g / (x * math.log(10)),
}
FORWARD.update(tensor_npmath.FORWARD)
BACKWARD.update(tensor_npmath.BACKWARD)
_COMPARE = {"equal": np.equal, "not_equal": np.not_equal, "greater": np.greater, "greater_equal": np.greater_equal,
            "less": np.less, "less_equal": np.less_equal,
            "logical_and": lambda a, b: (a != 0) & (b != 0), "logical_or": lambda a, b: (a != 0) | (b != 0),
            "logical_xor": lambda a, b: (a != 0) ^ (b != 0),
            # TensorFlow's floordiv (floor_divide below) and floormod: the remainder takes the divisor's sign
            "floor_divide": lambda a, b: floor_divide(a, b), "mod": np.remainder, "power": np.power,
            "arctan2": np.arctan2}


def floor_divide(a, b):
    """``a // b`` as TensorFlow's FloorDiv, Keras': ``floor(a / b)`` for floats, NumPy's (Python's)
    floor_divide for integers. Not NumPy's for floats: that floors the exact quotient, so 9.0 // 0.1
    is 89.0 where Keras gives 90.0 (9.0 / 0.1 rounds to 90.0), and inf // 1 is nan where Keras gives inf."""
    if np.result_type(a, b).kind == "f":
        return np.floor(np.true_divide(a, b))
    return np.floor_divide(a, b)


def binary(op, a, b):
    """``op`` of two arrays, NumPy's broadcast (comparisons as bools)."""
    return _COMPARE[op](a, b)


def _power_grads(g, a, b, y):
    """d(a ** b): b a ** (b - 1) and a ** b log(a), the latter 0 where a <= 0 (TensorFlow's Pow)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        da = g * b * np.power(a, b - 1)
        db = g * y * np.where(a > 0, np.log(np.where(a > 0, a, 1)), 0)
    return da, db


def _mod_grads(g, a, b, y):
    """d(a mod b) = d(a - b floor(a / b)): 1 and -floor(a / b) (TensorFlow's FloorMod, its floordiv)."""
    return g, -g * floor_divide(a, b)


def _arctan2_grads(g, a, b, y):
    """d arctan2(a, b): b / (a^2 + b^2) and -a / (a^2 + b^2); 0 at the origin (TensorFlow's Atan2 gives
    NaN there, PyTorch's 0: no direction is steepest)."""
    r2 = a * a + b * b
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(r2 > 0, g / np.where(r2 > 0, r2, 1), 0)
    return scale * b, -scale * a


_GRADS = {"power": _power_grads, "mod": _mod_grads, "arctan2": _arctan2_grads}


def reduce(op, x, axis, keepdims, ord=None):
    """A reduction of ``x`` over ``axis`` (an int, a tuple or None), Keras' values."""
    if op == "prod":
        return np.prod(x, axis=axis, keepdims=keepdims)
    if op in ("std", "var"):
        return getattr(np, op)(x, axis=axis, keepdims=keepdims)
    if op == "logsumexp":
        # (initial: a reduction over no entries is log(0) = -inf, as Keras', not NumPy's refusal of max)
        top = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
        top = np.where(np.isfinite(top), top, 0)     # all -inf (or an inf): no shift, NumPy's answer
        y = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
        return y if keepdims else np.squeeze(y, axis=axis)
    if op == "norm":
        return np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)
    if op in ("argmax", "argmin"):
        return arg(op, x, axis, keepdims)
    return getattr(np, op)(x != 0, axis=axis, keepdims=keepdims)       # any, all


def arg(op, x, axis, keepdims):
    """``argmax``/``argmin`` as Keras 3.15 on TensorFlow computes them, where NumPy's differ on floats:
    NaN is passed over (``argmax([nan, 1, 0])`` is 1; all NaN: 0) and -0.0 counts below 0.0.
    TensorFlow's CPU kernel starts from index 0 holding the float type's lowest finite value (argmin:
    its largest) and moves only to a strictly larger (smaller) entry, so NaN, -inf and that value
    itself never win; Keras first casts float16 to float32 and puts -0.0 at -tiny. Emulated here:
    -0.0 to -tiny, then NaN and entries beyond the finite range clamped to that start value
    (``fmax``/``fmin`` pass NaN over), then NumPy's first-of-ties arg."""
    if x.dtype.kind == "f" and x.ndim:
        x = x.astype(np.promote_types(x.dtype, np.float32), copy=False)
        info = np.finfo(x.dtype)
        x = np.where((x == 0) & np.signbit(x), -info.tiny, x)
        x = np.fmax(x, info.min) if op == "argmax" else np.fmin(x, info.max)
    return getattr(np, op)(x, axis=axis, keepdims=keepdims)


def _reduction_backward(op, g, x, y, axes, keepdims, ord):
    if not keepdims:                 # the reduced axes back (size 1), to broadcast over x
        g, y = np.expand_dims(g, axes), np.expand_dims(y, axes)
    n = math.prod(x.shape[a] for a in axes)
    if op == "prod":
        return g * _product_of_the_others(x, axes)
    if op == "var":
        return g * 2 * (x - x.mean(axis=axes, keepdims=True)) / n
    if op == "std":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(y > 0, g * (x - x.mean(axis=axes, keepdims=True)) / (n * y), 0)
    if op == "logsumexp":
        return g * np.exp(x - y)
    # norm: vector p-norms, the Frobenius norm (two axes); 0 where the norm is 0 (x is 0 there)
    with np.errstate(divide="ignore", invalid="ignore"):
        if ord in (None, 2, "fro") or (ord is not None and not np.isinf(ord) and ord not in (0, 1)):
            p = 2 if ord in (None, "fro") else ord
            grad = g * np.sign(x) * np.abs(x) ** (p - 1) / y ** (p - 1)
        elif ord == 1:
            grad = g * np.sign(x)
        elif ord == 0:
            grad = np.zeros_like(x)
        else:                       # inf, -inf: the largest (smallest) |x|, shared by ties as max's
            chosen = np.abs(x) == y
            grad = g * np.sign(x) * chosen / np.maximum(chosen.sum(axis=axes, keepdims=True), 1)
    return np.where(y > 0, grad, 0) if ord != 0 else grad


def _product_of_the_others(x, axes):
    """For each entry, the product of the other entries over ``axes`` (zeros included, no 0 / 0)."""
    rest = [a for a in range(x.ndim) if a not in axes]
    moved = np.transpose(x, rest + list(axes))
    flat = moved.reshape(moved.shape[:len(rest)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,), x.dtype)
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], -1), -1)
    after = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], -1), -1)[..., ::-1]
    others = (before * after).reshape(moved.shape)
    return np.transpose(others, np.argsort(rest + list(axes)))


def _cumprod_backward(g, x, axis):
    """d(cumprod)/dx: the sum over j >= k of g_j times the product of x_i, i <= j, i != k."""
    x, g = np.moveaxis(x, axis, -1), np.moveaxis(g, axis, -1)
    grad = np.zeros_like(x)
    for k in range(x.shape[-1]):
        others = x.copy()
        others[..., k] = 1
        grad[..., k] = (g[..., k:] * np.cumprod(others, -1)[..., k:]).sum(-1)
    return np.moveaxis(grad, -1, axis)


def one_hot(x, num_classes, axis, dtype):
    """Each id of ``x`` (truncated to an integer) as ``num_classes`` numbers along ``axis`` of the
    result: 1 at the id, 0 elsewhere; an id outside [0, num_classes) gives zeros (TensorFlow's)."""
    ids = np.asarray(x).astype(np.int64)
    out = (ids[..., None] == np.arange(num_classes)).astype(dtype)
    return np.moveaxis(out, -1, axis)


# -- TensorFunction's ops of this module ----------------------------------------------------------
def output_shape(layer, shape):
    """The sample shape ``layer`` (a TensorFunction of one of ``OPS``) makes of ``shape`` (a list of
    them for several tensors)."""
    op, args, who = layer.op, layer.arguments, layer.describe()
    if op == "where":
        shapes = [tuple(s) for s in shape]
        tensors = [n for n in WHERE_OPERANDS if n not in args["constants"]]
        if len(shapes) != len(tensors):
            raise ValueError(f"{who}: where takes {len(tensors)} tensors ({', '.join(tensors)}), got {len(shapes)}")
        out = shapes[0]
        for other in shapes[1:]:
            out = tensor_shapes.broadcast_equal_rank(out, other, f"{who}: where of tensors of samples {shapes}")
        for name, constant in args["constants"].items():
            out = tensor_shapes.against_constant(out, np.shape(constant), who)
        return out
    if op in tensor_spectral.OPS:
        return tensor_spectral.output_shape(op, args, shape, who)
    if layer.merges:
        # two tensors, as drawn: a config's graph may give the node one or three (a crafted file's
        # "inbound"), which broadcast_equal_rank's own TypeError did not name
        several = isinstance(shape, (list, tuple)) and all(isinstance(s, (list, tuple)) for s in shape)
        if not several or len(shape) != 2:
            raise ValueError(f"{who}: {op} of tensors takes two tensors (or a tensor and a constant), got "
                             f"{len(shape) if several else 1}")
        return tensor_shapes.broadcast_equal_rank(*(tuple(s) for s in shape), f"{who}: {op} of tensors of samples "
                                                  f"{[tuple(s) for s in shape]}")
    shape = tuple(shape)
    if op in BINARY:
        return tensor_shapes.against_constant(shape, np.shape(layer.constant), who)
    if op in REDUCTIONS:
        return tensor_shapes.reduced(shape, args["axis"], args["keepdims"], who, op)
    if op in ("sort", "argsort") + tensor_activations.ALONG_AXIS:
        (a,) = tensor_shapes.sample_axes(args["axis"], len(shape) + 1, who, op)
        if op == "glu":             # the two halves of the axis: first * sigmoid(second)
            if shape[a - 1] is not None and shape[a - 1] % 2:
                raise ValueError(f"{who}: glu splits axis {args['axis']} into two halves: its size must be even, "
                                 f"got {shape[a - 1]} (samples of shape {shape})")
            return shape[:a - 1] + (None if shape[a - 1] is None else shape[a - 1] // 2,) + shape[a:]
    if op in ("cumsum", "cumprod"):
        if args["axis"] is None:
            raise ValueError(f"{who}: {op} with axis=None runs over the flattened tensor, batch axis too; while a "
                             f"model is drawn name a sample axis, e.g. axis=-1")
        tensor_shapes.sample_axes(args["axis"], len(shape) + 1, who, op)
    if op == "one_hot":
        (a,) = tensor_shapes.sample_axes(args["axis"], len(shape) + 2, who, op)     # an axis of the output
        out = list(shape)
        out.insert(a - 1, args["num_classes"])
        return tuple(out)
    return shape


def forward(layer, x):
    op, args = layer.op, layer.arguments
    if op in tensor_spectral.OPS:
        return tensor_spectral.forward(layer, x)
    if op == "where":
        operands = _where_operands(layer, x)
        layer._inputs = list(x)
        layer._condition = operands[0] != 0
        return np.where(layer._condition, operands[1], operands[2]).astype(x[0].dtype, copy=False)
    if layer.merges:
        a, b = x
        layer._inputs = [a, b]
        return binary(op, a, b).astype(a.dtype, copy=False)
    layer._x = x
    if op in BINARY:
        c = layer._value(backend.get_array_module(x))
        y = binary(op, c, x) if layer.reverse else binary(op, x, c)
    elif op in REDUCTIONS:
        y = reduce(op, x, _axes(args["axis"]), args["keepdims"], args.get("ord"))
    elif op in ("cumsum", "cumprod"):
        y = getattr(np, op)(x, axis=args["axis"])
    elif op == "one_hot":
        y = one_hot(x, args["num_classes"], args["axis"], x.dtype)
    elif op in ACTIVATIONS:
        y = tensor_activations.forward(op, x, args)
    elif op in ("sort", "argsort"):
        layer._order = np.argsort(x, axis=args["axis"], kind="stable")
        y = np.take_along_axis(x, layer._order, args["axis"]) if op == "sort" else layer._order
    else:
        y = FORWARD[op](x, **args)
    y = np.asarray(y).astype(x.dtype, copy=False)
    layer._y = y
    return y


def backward(layer, g):
    op, args = layer.op, layer.arguments
    if op in tensor_spectral.OPS:
        return tensor_spectral.backward(layer, g)
    if op == "where":
        c, tensors = layer._condition, [n for n in WHERE_OPERANDS if n not in args["constants"]]
        out = {"condition": None, "x1": g * c, "x2": g * ~c}
        return [np.zeros_like(t) if out[n] is None else unbroadcast(out[n], t.shape).astype(t.dtype, copy=False)
                for n, t in zip(tensors, layer._inputs)]
    if layer.merges:
        a, b = layer._inputs
        if op in CONSTANT_GRADIENT:
            return [np.zeros_like(a), np.zeros_like(b)]
        da, db = _GRADS[op](g, a, b, binary(op, a, b))
        return [unbroadcast(da, a.shape), unbroadcast(db, b.shape)]
    x, y = layer._x, layer._y
    if op in CONSTANT_GRADIENT:
        return np.zeros_like(x)
    if op in _GRADS:
        c, grads = layer._value(backend.get_array_module(x)), _GRADS[op]
        d_base, d_exponent = grads(g, c, x, y) if layer.reverse else grads(g, x, c, y)
        return unbroadcast(d_exponent if layer.reverse else d_base, x.shape)
    if op in REDUCTIONS:
        # sorted non-negative axes, the batch axis 0 allowed: a model drawn refused it already
        # (output_shape), and a GradientTape's ops.std(x) reduces every axis (glassnet.tape)
        named = args["axis"] if isinstance(args["axis"], list) else [args["axis"]]
        axes = tuple(sorted(a % x.ndim for a in named))
        if op == "norm" and len(named) == 2 and args["ord"] not in (None, "fro"):
            # a matrix norm (1, -1, inf, -inf, 2, -2, "nuc"): its rows and columns told apart
            from .tensor_linalg import matrix_norm_backward
            grad = matrix_norm_backward(g, x, tuple(a % x.ndim for a in named), args["keepdims"], args["ord"])
        else:
            grad = _reduction_backward(op, g, x, y, axes, args["keepdims"], args.get("ord"))
    elif op in ("cumsum", "cumprod"):
        # axis=None runs over the flattened x (NumPy's, Keras'): g is the flat run's, and the gradient
        # is given back in x's shape (the default axis of ops.nancumsum/nancumprod too)
        axis, flat = (args["axis"], x) if args["axis"] is not None else (0, x.reshape(-1))
        if op == "cumsum":
            grad = np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis).reshape(x.shape)
        else:
            grad = _cumprod_backward(g, flat, axis).reshape(x.shape)
    elif op in ACTIVATIONS:
        grad = tensor_activations.backward(op, g, x, y, args)
    elif op == "sort":          # each value's gradient back to the entry it came from
        grad = np.zeros_like(x)
        np.put_along_axis(grad, layer._order, g, args["axis"])
    else:
        grad = BACKWARD[op](g, x, y)
    return grad.astype(x.dtype, copy=False)


def _where_operands(layer, tensors):
    """condition, x1 and x2: the tensors given, the constants (cast to the layer's dtype once)."""
    constants = layer.arguments["constants"]
    if getattr(layer, "_where_constants", None) is None:
        layer._where_constants = {n: (c if np.ndim(c) == 0 else constant_in_dtype(layer, np.asarray(c, float)))
                                  for n, c in constants.items()}
    given = iter(tensors)
    xp = backend.get_array_module(tensors[0])
    return [xp.asarray(layer._where_constants[n]) if n in constants else next(given) for n in WHERE_OPERANDS]


def _axes(axis):
    return tuple(axis) if isinstance(axis, list) else axis


# -- arguments -----------------------------------------------------------------------------------
def arguments(op, args, who):
    """``args`` (TensorFunction's checked ones) checked further for this module's ops."""
    if op in ACTIVATIONS:
        return tensor_activations.arguments(op, args, who)
    if op in tensor_spectral.OPS:
        return tensor_spectral.arguments(op, args, who)
    if op in ("argmax", "argmin") and args["axis"] is not None and not isinstance(args["axis"], int):
        raise TypeError(f"{who}: {op}'s axis must be one integer, got {args['axis']!r:.60}")
    if "dtype" in args and args["dtype"] is not None:
        raise ValueError(f"{who}: a model's values are floats of its dtype: {op}'s dtype must be None on tensors, "
                         f"got {args['dtype']!r:.40} (ops.cast the result to a float dtype)")
    if op == "round" and (isinstance(args["decimals"], bool) or not isinstance(args["decimals"], int)):
        raise TypeError(f"{who}: round's decimals must be an integer, got {args['decimals']!r:.40}")
    if op == "norm":
        ord = args["ord"]
        if ord not in (None, "fro", "nuc") and (isinstance(ord, bool) or not isinstance(ord, (int, float))):
            raise TypeError(f"{who}: norm's ord must be None, a number, inf, 'fro' or 'nuc', got {ord!r:.40}")
        args["ord"] = float(ord) if isinstance(ord, float) else ord
        axes = args["axis"] if isinstance(args["axis"], list) else [args["axis"]]
        if len(axes) > 2:
            raise ValueError(f"{who}: norm takes one axis (a vector norm) or two (a matrix norm), got {args['axis']}")
        if len(axes) == 1 and ord in ("fro", "nuc"):
            raise ValueError(f"{who}: norm's ord={ord!r} is a matrix norm: give two axes, got axis={args['axis']}")
        if len(axes) == 2 and ord not in (None, "fro", "nuc", 1, -1, 2, -2, float("inf"), float("-inf")):
            raise ValueError(f"{who}: norm of two axes (a matrix norm) takes ord None, 'fro', 'nuc', 1, -1, 2, -2, "
                             f"inf or -inf, got {ord!r:.40}")
    if op == "one_hot":
        n = args["num_classes"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise TypeError(f"{who}: one_hot's num_classes must be a positive integer, got {n!r:.40}")
    if op == "where":
        constants = args["constants"]
        if not isinstance(constants, dict) or set(constants) - set(WHERE_OPERANDS) or len(constants) > 2:
            raise ValueError(f"{who}: where's constants must be a dict of at most two of {WHERE_OPERANDS}, got "
                             f"{constants!r:.80}")
        for name, c in constants.items():
            array = np.asarray(c)
            if array.dtype.kind not in "biuf" or not np.isfinite(array).all():
                raise TypeError(f"{who}: where's {name} must be a number or an array of finite numbers, got "
                                f"{c!r:.60}")
        # JSON's forms: a number or a nested list
        args["constants"] = {n: (np.asarray(c).item() if np.ndim(c) == 0 else np.asarray(c).tolist())
                             for n, c in constants.items()}
    return args
