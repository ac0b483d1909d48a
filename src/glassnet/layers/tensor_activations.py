"""``keras.ops``' activation functions on symbolic tensors: ``ops.gelu(x)``, ``ops.silu(x)``,
``ops.leaky_relu(x, negative_slope=0.1)`` while a model is drawn.

Each is an op of ``TensorFunction`` (layers/tensor_functions.py), computed element by element by
glassnet.activations' forward and backward pair of the same name, with keras.ops' settings as
the node's arguments (kept in the config). keras.ops' defaults are not always
glassnet.activations': ``ops.gelu`` is the tanh form (``approximate=True``) where the "gelu"
activation is the exact one, and ``ops.leaky_relu``'s slope is 0.2 where the "leaky_relu"
activation's is 0.01; here keras.ops' hold. ``glu`` and ``sparsemax`` work along a sample
``axis`` (glu halves it), ``threshold`` needs its two settings (glassnet.activations' function of no
name).
"""
import numbers

from .. import activations
from .._validation import check_number

# op -> its keras.ops settings and their defaults (Keras 3.15's signatures)
ARGUMENTS = {
    "gelu": {"approximate": True}, "silu": {}, "elu": {"alpha": 1.0}, "selu": {}, "leaky_relu": {"negative_slope": 0.2},
    "relu6": {}, "hard_sigmoid": {}, "hard_silu": {}, "softsign": {}, "log_sigmoid": {}, "celu": {"alpha": 1.0},
    "hard_tanh": {}, "hard_shrink": {"threshold": 0.5}, "soft_shrink": {"threshold": 0.5}, "tanh_shrink": {},
    "sparse_plus": {}, "sparse_sigmoid": {}, "squareplus": {"b": 4},
    # keras.ops.nn's glu and sparsemax along an axis (glu halves it), threshold of two required settings
    "glu": {"axis": -1}, "sparsemax": {"axis": -1}, "threshold": {"threshold": None, "default_value": None},
}
OPS = tuple(ARGUMENTS)
# Keras' other names: ops.swish is silu, ops.hard_swish hard_silu (their nodes are named by the first)
ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}
# each number setting's allowed interval (check_number's), as glassnet.activations checks it
_INTERVALS = {"alpha": "finite", "negative_slope": "finite", "threshold": ">= 0", "b": "> 0"}
# the ops working along an axis (the batch's 0 refused on tensors: tensor_math.output_shape)
ALONG_AXIS = ("glu", "sparsemax")


def forward(op, x, args):
    """``op`` of ``x`` (an array of floats, any shape), the same shape and dtype (glu: half of
    ``axis``)."""
    if op == "threshold":           # (no name runs it, so it is no Activation: glassnet.activations)
        return activations._raw_threshold(x, **args)
    return activations.ACTIVATIONS[op].forward(x, **args)


def backward(op, g, x, y, args):
    """dL/dx from dL/dy (``g``), the input ``x`` and the output ``y``."""
    if op == "threshold":           # 1 above the threshold, 0 at and below it (TensorFlow's where)
        return activations.backprop_threshold(g, x, y, **args)
    return activations.ACTIVATIONS[op].backward(g, x, y, **args)


def arguments(op, args, who):
    """``args`` checked (numbers in their intervals, gelu's ``approximate`` a bool), in JSON's forms."""
    for name, value in args.items():
        if name == "approximate":
            if not isinstance(value, bool) and type(value).__name__ != "bool_":
                raise TypeError(f"{who}: gelu's approximate must be True or False, got {value!r:.40}")
            args[name] = bool(value)
        elif name == "axis":
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{who}: {op}'s axis must be an integer, got {value!r:.40}")
            args[name] = int(value)
        elif value is None and op == "threshold":       # no default for its settings, as in Keras
            raise TypeError(f"{who}: threshold needs threshold and default_value (numbers), got {name}=None")
        elif op == "threshold":         # any number, inf too (relu's threshold is >= 0), as Keras'
            args[name] = activations.threshold_setting(value, f"{who}: threshold's {name}")
        else:
            args[name] = check_number(value, f"{who}: {op}'s {name}", _INTERVALS[name])
    return args
