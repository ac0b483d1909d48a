"""The ``glassnet.ops`` calls and Python operators a ``GradientTape`` records (glassnet.tape).

``glassnet.ops``' hook (``record_ops_call``) and ``Recorded``'s operators call ``_record_op``: each op
on a recorded value runs as a fresh node of ``layers/tensor_functions.py`` or ``tensor_ops.py`` (its
forward now, its backward at ``gradient``), or of glassnet._tape_ops for the ops whose every axis is
NumPy's (concatenate, stack, where, einsum, take, the convolutions and poolings). Ops giving values
without gradient (comparisons, indices, rounding) are computed on the plain values.
"""
import numpy as np

from ._tape_calls import _record
from ._tape_values import Recorded, _holds_live, _paused, _plain, accessed, node_of, own_variable, watched_node


class _GetItem:
    """``x[index]`` of a recorded value (any NumPy index; repeated entries gather their gradients)."""
    merges, op = False, "get_item"

    def __init__(self, index):
        self.index = tuple(_plain(i) for i in index) if isinstance(index, tuple) else _plain(index)

    def forward(self, x, training=False):
        self.shape, self.dtype = x.shape, x.dtype
        return np.asarray(x[self.index])

    def backward(self, g):
        grad = np.zeros(self.shape, self.dtype)
        np.add.at(grad, self.index, g)
        return grad


class _Reshape:
    merges, op = False, "reshape"

    def __init__(self, shape):
        self.target = shape

    def forward(self, x, training=False):
        self.shape = x.shape
        return x.reshape(self.target)

    def backward(self, g):
        return np.reshape(g, self.shape)


# ops giving values without gradient (comparisons, indices, rounding): computed on the plain values
NO_GRADIENT = {"shape", "equal", "not_equal", "greater", "greater_equal", "less", "less_equal", "logical_and",
               "logical_or", "logical_not", "logical_xor", "argmax", "argmin", "argsort", "any", "all", "isnan",
               "isinf", "isfinite", "sign", "floor", "ceil", "round", "trunc", "stop_gradient", "convert_to_numpy",
               "one_hot", "zeros_like", "ones_like", "floor_divide"}
NO_GRADIENT |= {"size", "array", "empty", "empty_like", "full_like", "view"}      # (glassnet._ops_core's)
# Functions marked in their own modules are recorded by their mark: ``composed`` (glassnet._ops_reading.composed:
# written with ops' functions, or running functions given to them, as control flow: run as they are, each ops
# call inside recorded) and ``no_gradient`` (computed on the plain values, as NO_GRADIENT's).
REDUCING = ("sum", "mean", "max", "min", "prod", "std", "var", "logsumexp", "norm")
ELEMENTWISE_BINARY = {"add": "add", "subtract": "subtract", "multiply": "multiply", "divide": "true_divide"}


def records(name):
    """Whether ``glassnet.ops.<name>`` is recorded on a recorded value (``_record_op`` takes it):
    for the refusals of NumPy's functions, which name the ops function to use instead."""
    from . import ops
    from .layers.tensor_functions import OPS
    function = getattr(ops, name, None)
    marked = getattr(function, "composed", None) is not None or getattr(function, "no_gradient", False)
    return (marked or name in NO_GRADIENT or name in ELEMENTWISE_BINARY or name in _OWN_NODES or name in _LINALG
            or name in OPS or name in ("maximum", "minimum", "matmul", "power", "arctan2", "mod", "negative", "abs",
                                       "positive", "convert_to_tensor", "reshape", "squeeze", "cast"))


def _keras_arguments(function, args, kwargs, skip):
    """The keyword arguments of ``function(*args, **kwargs)`` past its first ``skip`` (the tensors)."""
    import inspect
    bound = inspect.signature(function).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(list(bound.arguments.items())[skip:])


def _as_operand(value, like):
    """A constant operand beside a recorded one: a Python number takes the recorded one's dtype
    (Keras' weak types), so that ``x * 2.0`` stays float32."""
    if isinstance(value, Recorded):
        return value
    if not isinstance(value, np.ndarray) or value.ndim == 0:
        return np.asarray(value, dtype=like.dtype if np.asarray(value).dtype.kind in "fiub" else None)
    return value


def _record_op(name, args, kwargs, function=None):
    """``ops.<name>(*args, **kwargs)`` recorded: a fresh node of the op, forward now."""
    from .layers.tensor_functions import OPS, TensorFunction
    from .layers.tensor_ops import TensorOp
    if getattr(function, "composed", None) is not None:
        # written from other ops functions (glassnet._ops_reduce, _ops_nn): those calls are recorded one by one
        return _composed_call(name, function.composed, args, kwargs)
    if name in NO_GRADIENT or getattr(function, "no_gradient", False):
        with _paused():
            return function(*[_plain(a) for a in args], **{k: _plain(v) for k, v in kwargs.items()})
    if name == "positive":
        return args[0]
    if name == "convert_to_tensor":     # a watched array as a recorded value: operators on it are recorded
        return _record(_Reshape(np.shape(args[0])), [args[0]], "convert_to_tensor")
    if name in ELEMENTWISE_BINARY or name in ("maximum", "minimum", "matmul", "power", "arctan2", "mod"):
        if name == "power" and not isinstance(args[1], Recorded) and np.ndim(args[1]) == 0:
            return _record(TensorOp("power", constant=float(args[1])), [args[0]])
        like = next(np.asarray(a) for a in args if isinstance(a, Recorded) or watched_node(a) is not None)
        a, b = (_as_operand(v, like) for v in args[:2])
        node = TensorOp(ELEMENTWISE_BINARY[name]) if name in ELEMENTWISE_BINARY else TensorFunction(name)
        return _record(node, [a, b], name)
    if name in ("negative", "abs"):
        return _record(TensorOp("negative" if name == "negative" else "absolute"), [args[0]])
    if name in _LINALG:         # inv, det, solve, svd, ...: a node per output (glassnet._ops_linalg)
        from ._ops_linalg import record
        return record(name, function, args, kwargs)
    if name in _OWN_NODES:
        return _record_own(name, function, args, kwargs)
    if name in SPECTRAL:
        return _record_spectral(name, function, args, kwargs)
    if name == "reshape":
        given = _keras_arguments(function, args, kwargs, 1)
        return _record(_Reshape(tuple(given["newshape"])), [args[0]])
    if name == "squeeze":
        given = _keras_arguments(function, args, kwargs, 1)
        return _record(_Reshape(np.squeeze(np.asarray(args[0]), given["axis"]).shape), [args[0]])
    if name == "cast":
        given = _keras_arguments(function, args, kwargs, 1)
        if np.dtype(given["dtype"]).kind != "f":
            return np.asarray(args[0]).astype(given["dtype"])
        return _record(TensorFunction("cast", {"dtype": np.dtype(given["dtype"]).name}), [args[0]])
    if len(args) < 1 or node_of(args[0]) is None or name not in OPS or _holds_live(args[1:], kwargs):
        raise TypeError(f"ops.{name} on a value a GradientTape records: not recorded (the tape records the "
                        f"element-wise functions, the reductions, softmax, log_softmax, reshape, transpose, squeeze, "
                        f"expand_dims, concatenate, stack, where, einsum, take, take_along_axis, the convolutions and "
                        f"poolings, matmul, maximum, minimum, clip, cast, abs, negative and "
                        f"the operators + - * / % ** @ and indexing); compute it from those, or on np.asarray(x) "
                        f"without gradient")
    given = {} if function is None else _keras_arguments(function, args, kwargs, 1)
    x = args[0]
    if name in REDUCING and given.get("axis") is None:
        given["axis"] = list(range(x.ndim))         # every axis (the nodes' axis=None is a sample's)
    if name == "transpose" and given.get("axes") is None:
        given["axes"] = list(range(x.ndim))[::-1]
    return _record(TensorFunction(name, given), [x], name)


def _composed_call(name, function, args, kwargs):
    """``ops.<name>``, drawn from other ops, on recorded values: each inner op is recorded, and each
    node made here notes ``within = name`` (the outermost function called), so that a refusal
    (a nested tape's second-order gradient, glassnet._tape_second) names the function the user
    called, not only the einsum or maximum it is made of."""
    from ._tape_values import _order
    start = next(_order)
    out = function(*args, **kwargs)
    stack = [v for v in (out if isinstance(out, (list, tuple)) else (out,)) if isinstance(v, Recorded)]
    nodes = [v._node for v in stack if v._node is not None]
    seen = set()
    while nodes:
        node = nodes.pop()
        if node is None or id(node) in seen or node.index <= start:
            continue
        seen.add(id(node))
        node.within = name
        nodes.extend(node.parents)
    return out


_LINALG = ("cholesky", "cholesky_inverse", "det", "eig", "eigh", "inv", "lstsq", "lu_factor", "matrix_rank", "pinv",
           "qr", "solve", "solve_triangular", "svd", "slogdet", "logdet")     # (glassnet._ops_linalg.RECORDED)
_OWN_NODES = ("concatenate", "stack", "where", "einsum", "take", "take_along_axis", "conv", "depthwise_conv",
              "separable_conv", "conv_transpose", "max_pool", "average_pool")


def _record_own(name, function, args, kwargs):
    """The ops of glassnet._tape_ops: NumPy's meaning of every axis (no batch axis apart)."""
    from . import _tape_ops
    given = _keras_arguments(function, args, kwargs, 0)
    if name not in ("concatenate", "stack", "where", "einsum") and any(
            node_of(v) is not None for k, v in given.items() if k not in ("x", "inputs", "kernel")):
        raise TypeError(f"ops.{name}: only x (inputs) and a kernel take gradients on values a GradientTape records; "
                        f"give the other arguments as constants (np.asarray(...))")
    if name in ("concatenate", "stack", "where", "einsum"):
        values = list(given.get("xs", given.get("x"))) if name in ("concatenate", "stack") else list(given["operands"]) \
            if name == "einsum" else [given["condition"], given["x1"], given["x2"]]
        live = [node_of(v) is not None for v in values]
        if name == "where":
            if given["x1"] is None:
                raise ValueError("ops.where: where(condition) alone (indices) has no gradient; give x1 and x2")
            live[0] = False         # the condition takes no gradient (TF's)
            values[0] = np.asarray(_plain(values[0]))
        like = np.asarray(values[live.index(True)]) if any(live) else None
        if like is None:
            with _paused():
                return function(*[_plain(a) for a in args], **{k: _plain(v) for k, v in kwargs.items()})
        values = [v if is_live else np.asarray(_as_operand(_plain(v), like)) for v, is_live in zip(values, live)]
        node = (_tape_ops.Join(name, values, live, given["axis"]) if name in ("concatenate", "stack") else
                _tape_ops.Where(values, live) if name == "where" else
                _tape_ops.Einsum(given["subscripts"], values, live))
        return _record(node, [v for v, is_live in zip(values, live) if is_live], name)
    if name in ("take", "take_along_axis"):
        if node_of(given["x"]) is None:     # a constant read at recorded indices: integers, no gradient
            with _paused():
                return function(*[_plain(a) for a in args], **{k: _plain(v) for k, v in kwargs.items()})
        indices = np.asarray(_plain(given["indices"]))
        if indices.dtype.kind not in "iu":
            raise TypeError(f"ops.{name}: indices must be integers, got an array of {indices.dtype}")
        node = (_tape_ops.Take if name == "take" else _tape_ops.TakeAlongAxis)(indices, given["axis"])
        return _record(node, [given["x"]], name)
    return function(*args, **kwargs)        # the convolutions: glassnet._ops_conv calls record_conv


# the Fourier transforms: pairs (real, imag) in and out (rfft, stft: one real array in, irfft: one out)
SPECTRAL = ("fft", "fft2", "ifft2", "rfft", "irfft", "stft")
_OF_ONE = ("rfft", "stft")


def _record_spectral(name, function, args, kwargs):
    """``ops.<name>`` (a Fourier transform) on recorded values: one node per part of the result, as
    on tensors (layers/tensor_spectral.py), so that ``real, imag = ops.rfft(x)`` gets the pair (the
    generic path made one node, the real part, whose rows the unpacking then took)."""
    from .layers.tensor_functions import TensorFunction
    given = _keras_arguments(function, args, kwargs, 0)
    x = given.pop("x")
    parts = list(x) if name not in _OF_ONE and isinstance(x, (tuple, list)) else [x]
    with _paused():         # checked (a pair of one shape, floats, fft_length) as without a tape
        value = function(tuple(_plain(p) for p in parts) if name not in _OF_ONE else _plain(x), **given)
    live = [node_of(p) is not None for p in parts]
    if not any(live):
        return value
    like = np.asarray(parts[live.index(True)])
    inputs = [p if is_live else np.asarray(_plain(p), dtype=like.dtype) for p, is_live in zip(parts, live)]
    if name == "irfft":
        return _record(TensorFunction(name, given), inputs, name)
    return tuple(_record(TensorFunction(name, {**given, "output": output}), inputs, name)
                 for output in ("real", "imag"))


def record_conv(op, x, kernel, arguments):
    """``ops.<op>`` (a convolution with ``kernel``, or a pooling: kernel None) on a recorded input
    or kernel (a watched array), by the convolution layers' kernels (glassnet._tape_ops.Window)."""
    from . import _tape_ops
    values = [x] if kernel is None else [x, kernel]
    live = [node_of(v) is not None for v in values]
    like = np.asarray(values[live.index(True)])
    values = [v if is_live else np.asarray(_plain(v), dtype=like.dtype) for v, is_live in zip(values, live)]
    return _record(_tape_ops.Window(op, arguments, values, live), [v for v, is_live in zip(values, live) if is_live], op)


def record_ops_call(name, function, args, kwargs):
    """``glassnet.ops``' hook: a call holding a recorded value while a tape records."""
    args = tuple(_read(a) for a in args)
    kwargs = {k: _read(v) for k, v in kwargs.items()}
    return _record_op(name, args, kwargs, function)


def _read(value):
    """An argument with each ``glassnet.Variable`` of its own (alone, or in a list or tuple: a
    concatenate's) as its live array, which a recording tape watches once read (TF's rule,
    glassnet._tape_values.accessed): the op would otherwise compute on a copy, a constant."""
    if isinstance(value, (list, tuple)) and any(own_variable(v) for v in value):
        return type(value)(_read(v) for v in value)
    if own_variable(value):
        live = accessed(value)
        return value if live is None else live
    return value
