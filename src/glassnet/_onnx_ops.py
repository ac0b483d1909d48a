"""ONNX forms of glassnet's layers and activations, for ``model.export(path, format="onnx")``.

Each converter takes the graph being written (``_onnx_graph.Builder``: ``b.op`` adds a node,
``b.const`` an initializer in the model's dtype), the layer, the names of its input tensors and
their sample shapes (without the batch axis), and returns the name of its output tensor. Tensors
keep glassnet's layouts between layers (channels last): a convolution or pooling transposes to
ONNX's channels-first and back around its own node, so that Flatten, Reshape and Dense after it
see the values in glassnet's order.

Every activation is written from ONNX's exact operators (Where, Exp, Erf, Tanh, ...) with its
constants as tensors of the model's dtype, not float attributes: a float64 model keeps float64
constants (SELU's alpha and scale, a leaky ReLU's slope), and onnxruntime runs each in both dtypes.
"""
import functools
import math

from . import activations as activations_module


class Unsupported(ValueError):
    """A layer, activation or setting with no ONNX form here (raised before any file is written)."""


def activation_of(activation, who):
    """``(op, settings)`` of a built-in Activation (``("elu", {"alpha": 2.0})``), else Unsupported."""
    forward = getattr(activation, "forward", None)
    for op, builtin in activations_module.ACTIVATIONS.items():
        if forward is builtin.forward:
            return op, {}
        if isinstance(forward, functools.partial) and forward.func is builtin.forward and not forward.args:
            return op, dict(forward.keywords)
    raise Unsupported(f"{who}: activation {getattr(activation, 'name', activation)!r} is not a built-in "
                      "activation; export has no ONNX form for it")


def _where_positive(b, x, positive, other):
    return b.op("Where", [b.op("Greater", [x, b.const(0.0)]), positive, other])


def _expm1_negative(b, x):
    """e^min(x, 0) - 1, as glassnet's elu/selu take expm1 of min(x, 0) (never overflows)."""
    return b.op("Sub", [b.op("Exp", [b.op("Min", [x, b.const(0.0)])]), b.const(1.0)])


def _hard_sigmoid(b, x):
    scaled = b.op("Add", [b.op("Mul", [x, b.const(1 / 6)]), b.const(0.5)])
    return b.op("Min", [b.op("Max", [scaled, b.const(0.0)]), b.const(1.0)])


def _gelu(b, x, approximate=False):
    if approximate:
        cube = b.op("Mul", [b.op("Mul", [x, x]), x])
        inner = b.op("Add", [x, b.op("Mul", [cube, b.const(0.044715)])])
        t = b.op("Tanh", [b.op("Mul", [inner, b.const(math.sqrt(2 / math.pi))])])
    else:
        t = b.op("Erf", [b.op("Mul", [x, b.const(math.sqrt(0.5))])])
    return b.op("Mul", [b.op("Mul", [x, b.const(0.5)]), b.op("Add", [t, b.const(1.0)])])


def _softplus(b, x):
    # max(x, 0) + log(1 + e^-|x|): glassnet's stable form (ONNX has no log1p)
    tail = b.op("Log", [b.op("Add", [b.op("Exp", [b.op("Neg", [b.op("Abs", [x])])]), b.const(1.0)])])
    return b.op("Add", [b.op("Relu", [x]), tail])


def _leaky_relu(b, x, negative_slope=activations_module.LEAKY_SLOPE):
    return _where_positive(b, x, x, b.op("Mul", [x, b.const(negative_slope)]))


def _elu(b, x, alpha=1.0):
    return _where_positive(b, x, x, b.op("Mul", [_expm1_negative(b, x), b.const(alpha)]))


def _selu(b, x):
    negative = b.op("Mul", [_expm1_negative(b, x), b.const(activations_module.SELU_ALPHA)])
    return b.op("Mul", [_where_positive(b, x, x, negative), b.const(activations_module.SELU_SCALE)])


def _relu(b, x, negative_slope=0.0, max_value=None, threshold=0.0):
    if negative_slope or threshold:
        raise Unsupported("relu with negative_slope or threshold has no ONNX form here; use LeakyReLU")
    y = b.op("Relu", [x])
    return y if max_value is None else b.op("Min", [y, b.const(max_value)])


# op -> function(b, x, **settings), for the activations acting on each value on its own
_ELEMENTWISE = {
    "linear": lambda b, x: x,
    "relu": _relu,
    "sigmoid": lambda b, x: b.op("Sigmoid", [x]),
    "tanh": lambda b, x: b.op("Tanh", [x]),
    "exponential": lambda b, x: b.op("Exp", [x]),
    "gelu": _gelu,
    "elu": _elu,
    "selu": _selu,
    "leaky_relu": _leaky_relu,
    "softplus": _softplus,
    "softsign": lambda b, x: b.op("Div", [x, b.op("Add", [b.op("Abs", [x]), b.const(1.0)])]),
    "silu": lambda b, x: b.op("Mul", [x, b.op("Sigmoid", [x])]),
    "hard_sigmoid": _hard_sigmoid,
    "hard_silu": lambda b, x: b.op("Mul", [x, _hard_sigmoid(b, x)]),
    "relu6": lambda b, x: b.op("Min", [b.op("Relu", [x]), b.const(6.0)]),
}
ACTIVATION_NAMES = (*_ELEMENTWISE, "softmax", "log_softmax")


def apply_activation(b, activation, x, who):
    """The node(s) of ``activation`` on tensor ``x``; softmax and log_softmax over the last axis."""
    op, settings = activation_of(activation, who)
    if op in ("softmax", "log_softmax"):
        axis = settings.pop("axis", -1)
        if settings or axis != -1:
            raise Unsupported(f"{who}: {op} over axis {axis!r}: only the last axis is exported")
        return b.op("Softmax" if op == "softmax" else "LogSoftmax", [x], axis=-1)
    if op not in _ELEMENTWISE:
        raise Unsupported(f"{who}: activation {op!r} has no exact ONNX form here; exported activations: "
                          f"{', '.join(ACTIVATION_NAMES)}")
    try:
        return _ELEMENTWISE[op](b, x, **settings)
    except Unsupported as exc:
        raise Unsupported(f"{who}: {exc}") from None
