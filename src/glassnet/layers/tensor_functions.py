"""Keras' ``keras.ops`` functions on symbolic tensors: ``ops.mean(x, axis=1)``, ``ops.softmax(s)``,
``ops.matmul(q, ops.transpose(k, (0, 2, 1)))`` while a model is drawn (see ``glassnet.ops``).

Each call on an ``Input`` or a drawn tensor computes nothing: it calls a ``TensorFunction`` layer,
one node of the graph named as Keras names its operation (``exp``, ``mean``, ``matmul``), as the
Python operators make ``TensorOp`` nodes (layers/tensor_ops.py). Axes are counted as Keras counts
them, the batch axis being axis 0, and no function may reduce, move or join along the batch axis
(each sample is computed on its own): such a call is refused by name.

Every op is a forward and a backward side by side (``FORWARD`` and the branches of ``backward``),
on whole batches: the op applied to a batch with the same axes is the op on each sample.
"""
import numbers

import numpy as np

from .. import activations, backend
from .._call_weights import CallWeight, from_config as weight_from_config
from . import tensor_math
from .base import Layer
from . import tensor_conv, tensor_linalg, tensor_structure
from .tensor_ops import ConstantOperandNode, unbroadcast

# op -> what it computes (its Keras arguments), for messages and docs
UNARY = ("exp", "log", "sqrt", "square", "tanh", "sigmoid", "relu", "softplus", "cast", "clip")
REDUCTIONS = ("sum", "mean", "max", "min")
SHAPES = ("expand_dims", "squeeze", "reshape", "transpose")
BINARY = ("maximum", "minimum", "matmul")           # two tensors, or a tensor and a constant
JOINS = ("concatenate", "stack")                    # a list of tensors
WEIGHT_OPS = ("matmul", "maximum", "minimum")       # those taking a weight operand (glassnet._call_weights)
WEIGHT_OPS += tensor_conv.KERNEL_OPS                # (the kernel of conv, depthwise_conv, conv_transpose)
# element-wise maths, comparisons, reductions, where, one_hot: layers/tensor_math.py computes them
UNARY, BINARY, REDUCTIONS = UNARY + tensor_math.UNARY, BINARY + tensor_math.BINARY, REDUCTIONS + tensor_math.REDUCTIONS
LISTS = JOINS + tensor_math.LISTS                   # ops called on a list of tensors
OPS_ELSEWHERE = tensor_math.OPS
OPS = UNARY + REDUCTIONS + ("softmax", "log_softmax") + SHAPES + BINARY + JOINS
OPS = OPS + tuple(op for op in OPS_ELSEWHERE if op not in OPS)
STRUCTURE = tuple(tensor_structure.ARGUMENTS)       # einsum, take, pad, split, ...: layers/tensor_structure.py
OPS += STRUCTURE
CONV = tuple(tensor_conv.ARGUMENTS)                 # conv, pooling, extract_patches: layers/tensor_conv.py
OPS += CONV
LINALG = tensor_linalg.OPS                         # inv, det, solve, ...: layers/tensor_linalg.py
OPS += LINALG
# each op's arguments besides its tensors, with Keras' defaults (None: required)
ARGUMENTS = {**{op: {} for op in UNARY + BINARY}, "cast": {"dtype": None}, "clip": {"x_min": None, "x_max": None},
             **{op: {"axis": None, "keepdims": False} for op in REDUCTIONS},
             "max": {"axis": None, "keepdims": False, "initial": None},
             "min": {"axis": None, "keepdims": False, "initial": None},
             "softmax": {"axis": -1}, "log_softmax": {"axis": -1}, "expand_dims": {"axis": None},
             "squeeze": {"axis": None}, "reshape": {"newshape": None}, "transpose": {"axes": None},
             "concatenate": {"axis": 0}, "stack": {"axis": 0}, **tensor_structure.ARGUMENTS}
ARGUMENTS.update(tensor_math.ARGUMENTS)
ARGUMENTS.update(tensor_conv.ARGUMENTS)
ARGUMENTS.update(tensor_linalg.ARGUMENTS)
# ops whose output entry depends on its own input entry alone: a mask passes them
ELEMENTWISE = UNARY + ("maximum", "minimum")
ELEMENTWISE = ELEMENTWISE + tensor_math.BINARY
# (glu and sparsemax mix the entries along their axis: ALONG_AXIS below)
ELEMENTWISE = tuple(op for op in ELEMENTWISE if op not in tensor_math.tensor_activations.ALONG_AXIS)
# ops keeping the shape whose output entry mixes the entries along their axis (a running sum, an
# order): a mask passes them along axes within each step only, as the reductions (_axes_within_steps);
# along the steps a real step's value would take in the padding before it (cumsum of front padding)
ALONG_AXIS = ("cumsum", "cumprod", "sort", "argsort") + tensor_math.tensor_activations.ALONG_AXIS


class TensorFunction(ConstantOperandNode, Layer):
    """One ``glassnet.ops`` function on tensors while a model is drawn (what ``ops.exp(x)``,
    ``ops.mean(x, axis=1)``, ``ops.matmul(a, b)`` make). No weights.

    You rarely make one yourself: ``glassnet.ops``' functions do, on an ``Input`` or a drawn
    tensor. A constant operand (``ops.matmul(x, W)`` with W an array) lives in the config as a
    JSON list, so model files keep it without pickle.

    Parameters
    ----------
    op : str
        One of ``OPS``: exp, log, sqrt, square, tanh, sigmoid, relu, softplus, cast, clip, sum, mean,
        max, min, softmax, log_softmax, expand_dims, squeeze, reshape, transpose, maximum, minimum,
        matmul, concatenate, stack; and layers/tensor_math.py's (``tensor_math.OPS``): log1p, expm1,
        sign, sin, cos, erf, floor, round, reciprocal, rsqrt, logical_not, power, the comparisons,
        logical_and, logical_or, prod, std, var, logsumexp, norm, argmax, argmin, any, all, where
        (called on a list of its tensor operands, its constants in ``arguments``), cumsum, cumprod,
        one_hot;
        and the structural einsum, take, take_along_axis, pad, split, tile,
        repeat, flip, broadcast_to, zeros_like, ones_like, top_k, tril, triu (layers/tensor_structure.py);
        conv, depthwise_conv, conv_transpose (their kernel the constant), max_pool, average_pool and
        extract_patches (layers/tensor_conv.py); inv, det, slogdet, logdet, cholesky, solve,
        solve_triangular (layers/tensor_linalg.py).
    arguments : dict, optional
        The op's Keras arguments besides its tensors (``{"axis": 1, "keepdims": True}`` for mean,
        ``{"newshape": [-1, 4, 2]}`` for reshape, ``{"x_min": 0, "x_max": 6}`` for clip), axes
        counted with the batch axis as 0.
    constant : number or array-like, optional
        maximum's, minimum's and matmul's other operand when it is not a tensor (None: the layer
        is called on a list ``[a, b]``); matmul's is a matrix (k, m); the kernel of conv,
        depthwise_conv and conv_transpose.
    reverse : bool
        The constant is the first operand: ``ops.matmul(W, x)``, ``ops.maximum(0.0, x)`` (a tie
        gives its gradient to the constant, as TensorFlow gives it to the first operand).

    Shapes: (batch, *sample) -> (batch, *what the op makes of the sample); the joins and the ops of
    two tensors take a list.

    Example
    -------
    >>> import numpy as np
    >>> TensorFunction("mean", {"axis": -1})(np.array([[1.0, 3.0], [2.0, 4.0]])).tolist()
    [2.0, 3.0]
    """

    merges = False      # True (per layer) where it takes a list: two tensors, or a join
    reads_input_masks = False       # (of several tensors) a mask reaching it is refused: see mask_rule

    def __init__(self, op, arguments=None, constant=None, reverse=False, drops_masks=None, **kwargs):
        super().__init__(**kwargs)
        self._take_drops_masks(drops_masks)
        if not isinstance(op, str) or op not in OPS:
            raise ValueError(f"TensorFunction: op must be one of {', '.join(OPS)}, got {op!r:.60}")
        self.op = op
        self.arguments = _arguments(op, {} if arguments is None else arguments, self.drops_masks)
        if constant is not None and op not in BINARY and op not in tensor_conv.KERNEL_OPS:
            raise ValueError(f"TensorFunction: {op} takes no constant, got {constant!r:.60}")
        if constant is None and op in tensor_conv.KERNEL_OPS:
            raise TypeError(f"TensorFunction: {op} needs its kernel as constant (an array, or a weight of a drawn call)")
        if not isinstance(reverse, (bool, np.bool_)):
            raise TypeError(f"TensorFunction: reverse must be True or False, got {reverse!r:.40}")
        self.constant = _constant(constant, op)
        if isinstance(self.constant, CallWeight) and op not in WEIGHT_OPS:
            raise TypeError(f"TensorFunction: ops.{op} cannot take a weight ({self.constant!r}) as an operand: "
                            f"its node has no gradient for one, and the weight would never train; the ops "
                            f"taking a weight of a drawn call are {', '.join(WEIGHT_OPS)} and the operators + - * /")
        self.reverse = bool(reverse) and constant is not None
        if op == "matmul" and self.constant is not None and np.ndim(self.constant) != 2:
            raise ValueError(f"TensorFunction: matmul's constant must be a matrix (2 axes), got shape "
                             f"{np.shape(self.constant)}")
        self.merges = op in LISTS or (op in BINARY and constant is None)
        if op in STRUCTURE:
            self.merges = tensor_structure.merges(op, self.arguments)
        if op in LINALG:
            self.merges = tensor_linalg.merges(op, self.arguments)
        if self.merges and self.input_shape is not None:
            raise ValueError(f"TensorFunction: {op} of tensors takes no input_shape: its inputs are the tensors")

    # -- shapes (name_base, build: ConstantOperandNode, layers/tensor_ops.py) ------------------------
    def check_input_shape(self, sample_shape):
        if not self.merges:
            return super().check_input_shape(sample_shape)
        if self.input_shape is not None and (len(sample_shape) != len(self.input_shape) or any(
                len(s) != len(b) for s, b in zip(sample_shape, self.input_shape))):
            raise ValueError(f"{self.describe()}: expected {len(self.input_shape)} inputs of samples like "
                             f"{self.input_shape}, got {[tuple(s) for s in sample_shape]}")

    def output_shape(self, input_shape):
        from . import tensor_shapes
        who, op, args = self.describe(), self.op, self.arguments
        if op in OPS_ELSEWHERE:
            return tensor_math.output_shape(self, input_shape)
        if op in STRUCTURE:
            return tensor_structure.output_shape(op, args, input_shape, who)
        if op in LINALG:
            return tensor_linalg.output_shape(self, input_shape)
        if op in CONV:
            kernel = None if self.constant is None else tuple(self.constant.shape)
            return tensor_conv.output_shape(op, args, input_shape, kernel, who)
        if self.merges:
            if not isinstance(input_shape, (list, tuple)) or not all(isinstance(s, (list, tuple)) for s in input_shape):
                raise ValueError(f"{who}: {op} takes a list of tensors, got {input_shape!r:.80}")
            shapes = [tuple(s) for s in input_shape]
            if op in JOINS:       # (constants among the tensors: their sample shapes where they stand)
                return tensor_shapes.joined(tensor_structure.join_shapes(args, shapes, who, op), op, args["axis"], who)
            if len(shapes) != 2:
                raise ValueError(f"{who}: {op} takes two tensors, got {len(shapes)}")
            if op == "matmul":
                return tensor_shapes.matmul(*shapes, who)
            return tensor_shapes.broadcast_equal_rank(*shapes, f"{who}: {op} of tensors of samples {shapes}")
        shape = tuple(input_shape)
        if op in UNARY or op in ("softmax", "log_softmax"):
            if op in ("softmax", "log_softmax"):
                tensor_shapes.sample_axes(args["axis"], len(shape) + 1, who, op)
            return shape
        if op in REDUCTIONS:
            return tensor_shapes.reduced(shape, args["axis"], args["keepdims"], who, op)
        if op == "squeeze" and args["axis"] is None and self.input_shape is not None:
            # the axes of size 1 in the shape drawn (or first built): an axis of unknown size (None)
            # that a batch gives size 1 stays, so the output keeps the rank the model was drawn with
            return tuple(n for n, drawn in zip(shape, self.input_shape) if drawn != 1)
        if op == "maximum" or op == "minimum":
            return tensor_shapes.against_constant(shape, np.shape(self.constant), who)
        if op == "matmul":
            return tensor_shapes.matmul_constant(shape, np.shape(self.constant), self.reverse, who)
        return getattr(tensor_shapes, op)(shape, *args.values(), who)

    # -- masks (layers/masking.py) ----------------------------------------------------------------
    @property
    def mask_refusal(self):
        """None where a mask passes (an op on each entry on its own keeping the shape); else why not."""
        if self.drops_masks:
            return None
        if self.op in ELEMENTWISE and not self.merges and (
                self.input_shape is None or self.output_shape(self.input_shape) == tuple(self.input_shape)):
            return None
        if self._axes_within_steps() is not None:
            return None
        if self.op in ALONG_AXIS and not self.merges:
            # (Keras' ops drop the mask here, so its layers after read the padding as data)
            return (f"{self.op} along the steps' axis 1 (axis={self.arguments.get('axis')!r}) may move the steps a "
                    f"mask marks or mix the padding into the real steps' values; apply it before the mask is made, "
                    f"or along an axis within the steps (axis=-1)")
        return f"{self.op} may move, join or drop the steps a mask marks; apply it before the mask is made"

    def _axes_within_steps(self):
        """The axes (sorted, non-negative, the batch's 0 counted) that a reduction, ``softmax``,
        ``log_softmax`` or an op along an axis (``ALONG_AXIS``: ``cumsum``, ``cumprod``, ``sort``,
        ``argsort``) works along, where none is the steps' axis 1: each step's output then comes
        from that step's entries alone (``ops.mean(h, axis=-1, keepdims=True)``, ``ops.cumsum(h,
        axis=-1)`` of (batch, steps, d)), so the step keeps its place and its mask; None for any
        other op or axis (``ops.cumsum(h, axis=1)``: refused where a mask reaches it)."""
        if self.merges or not (self.op in REDUCTIONS or self.op in ("softmax", "log_softmax") or self.op in ALONG_AXIS):
            return None
        axis = self.arguments.get("axis")
        if axis is None:
            return None
        named = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if self.input_shape is None:        # (rank unknown: only axes counted from the front can be told)
            axes = sorted(named) if all(isinstance(a, int) and a >= 0 for a in named) else []
        else:
            rank = len(self.input_shape) + 1
            axes = sorted(a % rank for a in named)
        return tuple(axes) if axes and min(axes) >= 2 else None

    def passes_mask(self, within_steps):
        axes = None if self.drops_masks else self._axes_within_steps()
        if within_steps and axes is not None and 2 in axes:
            # a mask with axes within each step (an Embedding's of ids (steps, length): (batch, steps,
            # length)) marks entries of axis 2 too, which this op joins
            raise ValueError(f"{self.describe()}: {self.op} along axis 2 joins the entries that a mask within "
                             f"the steps marks (batch, steps, length); apply it before the mask is made, or "
                             f"along the features' axis -1")
        return super().passes_mask(within_steps)

    def mask_rule(self, incoming):
        if self.drops_masks:
            return None
        raise ValueError(f"{self.describe()}: {self.op} of several tensors, and a mask reaches it; masks are not "
                         f"combined by ops functions (the merge layers, Concatenate, Add, ..., merge masked inputs)")

    # -- computing (_value: ConstantOperandNode) ------------------------------------------------
    def forward(self, x, training=False):
        op, args = self.op, self.arguments
        if op in OPS_ELSEWHERE:
            return tensor_math.forward(self, x)
        if op in STRUCTURE:
            self._x = list(x) if self.merges else x
            return tensor_structure.forward(self, self._x)
        if op in LINALG:
            return tensor_linalg.node_forward(self, x)
        if op in CONV:
            kernel = None if self.constant is None else self._value(backend.get_array_module(x))
            y, self._conv_state = tensor_conv.forward(op, args, x, kernel, self.describe())
            return y
        if self.merges:
            self._inputs = list(x)
            if op in JOINS:
                xp = backend.get_array_module(x[0])
                joined = tensor_structure.join_inputs(self, list(x))
                return (xp.concatenate if op == "concatenate" else xp.stack)(joined, axis=args["axis"])
            a, b = x
            return a @ b if op == "matmul" else (np.maximum if op == "maximum" else np.minimum)(a, b)
        self._x = x
        if op == "matmul":
            c = self._value(backend.get_array_module(x))
            y = c @ x if self.reverse else x @ c
        elif op in ("maximum", "minimum"):
            y = (np.maximum if op == "maximum" else np.minimum)(x, self._value(backend.get_array_module(x)))
        elif op == "reshape":
            y = x.reshape((x.shape[0], *_sample_target(args["newshape"])))
        elif op == "squeeze":
            y = x.reshape((x.shape[0], *self.output_shape(x.shape[1:])))     # never the batch axis, of 1 too
        elif op == "cast":
            # values travel in the model's dtype: rounded to the one asked for, carried in the model's
            y = x.astype(args["dtype"]).astype(x.dtype, copy=False)
        else:
            y = FORWARD[op](x, **args)
        self._y = y
        return y

    def backward(self, grad_output):
        g, op, args = grad_output, self.op, self.arguments
        if op in OPS_ELSEWHERE:
            return tensor_math.backward(self, g)
        if op in STRUCTURE:
            return tensor_structure.backward(self, g)
        if op in LINALG:
            return tensor_linalg.node_backward(self, g)
        if op in CONV:
            kernel = None if self.constant is None else self._value(backend.get_array_module(g))
            dx, dkernel = tensor_conv.backward(op, g, self._conv_state, kernel)
            if dkernel is not None:
                self._weight_gradient(dkernel)      # (a weight kernel: it trains; a constant's is dropped)
            return dx
        if self.merges:
            if op in JOINS:
                inputs = tensor_structure.join_inputs(self, self._inputs)
                return tensor_structure.join_grads(self, _backward_of_several(op, args, inputs, g))
            return _backward_of_several(op, args, self._inputs, g)
        x, y = self._x, self._y
        xp = backend.get_array_module(x)
        if op in BACKWARD:
            return BACKWARD[op](g, x, y, **args)
        if op in REDUCTIONS:
            return _backward_of_reduction(op, g, x, y, args)
        if op in ("maximum", "minimum"):
            c = self._value(xp)
            # a tie gives the first operand the gradient, as TensorFlow's Maximum and Minimum do: x,
            # unless the constant came first (reverse: maximum(c, x))
            if self.reverse:
                chosen = x > c if op == "maximum" else x < c
            else:
                chosen = x >= c if op == "maximum" else x <= c
            self._weight_gradient(g * ~chosen)      # (a weight operand: where it was chosen)
            return unbroadcast(g * chosen, x.shape)
        if op == "matmul":
            c = self._value(xp)
            if self.weight_operand:     # dC: x^T g (y = x C), g x^T (y = C x), summed over the batch and leading axes
                if self.reverse:
                    self._weight_gradient((g @ xp.swapaxes(x, -1, -2)).reshape(-1, *c.shape).sum(axis=0))
                else:
                    self._weight_gradient(x.reshape(-1, c.shape[0]).T @ g.reshape(-1, c.shape[1]))
            if self.reverse:                        # y = C x: dx = C^T g
                return unbroadcast(c.T @ g, x.shape)
            return g @ c.T                          # y = x C: dx = g C^T
        if op == "transpose":
            return xp.transpose(g, np.argsort([a % x.ndim for a in args["axes"]]))
        return g.reshape(x.shape)                   # expand_dims, squeeze, reshape: same entries, same order

    def get_config(self):
        config = super().get_config()
        if self.merges:
            config.pop("input_shape", None)         # a list of shapes: the model's graph says them
        return {**config, "op": self.op, "arguments": dict(self.arguments), "constant": self._constant_config(),
                "reverse": self.reverse, **({"drops_masks": True} if self.drops_masks else {})}


# -- each op's forward and backward, on arrays (axes as in Keras, the batch axis 0) ------------------
FORWARD = {
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "square": np.square, "tanh": activations.tanh,
    "sigmoid": activations.sigmoid, "softplus": activations.softplus,
    "relu": lambda x: np.maximum(x, 0).astype(x.dtype, copy=False),
    "clip": lambda x, x_min, x_max: np.clip(x, x_min, x_max).astype(x.dtype, copy=False),
    "softmax": lambda x, axis: activations.softmax(x, axis=_axes(axis)),
    "log_softmax": lambda x, axis: activations.log_softmax(x, axis=_axes(axis)),
    "sum": lambda x, axis, keepdims: np.sum(x, axis=_axes(axis), keepdims=keepdims),
    "mean": lambda x, axis, keepdims: np.mean(x, axis=_axes(axis), keepdims=keepdims),
    "max": lambda x, axis, keepdims, initial: np.max(x, axis=_axes(axis), keepdims=keepdims,
                                                     **({} if initial is None else {"initial": initial})),
    "min": lambda x, axis, keepdims, initial: np.min(x, axis=_axes(axis), keepdims=keepdims,
                                                     **({} if initial is None else {"initial": initial})),
    "expand_dims": lambda x, axis: np.expand_dims(x, axis),
    "transpose": lambda x, axes: np.transpose(x, axes),
}
# dL/dx from dL/dy (g), the input x and the output y, for the ops of one input keeping its shape
BACKWARD = {
    "exp": lambda g, x, y: g * y,
    "log": lambda g, x, y: g / x,
    "sqrt": lambda g, x, y: g * 0.5 / y,
    "square": lambda g, x, y: g * 2 * x,
    "tanh": activations.backprop_tanh,
    "sigmoid": activations.backprop_sigmoid,
    "softplus": activations.backprop_softplus,
    "relu": lambda g, x, y: g * (x > 0),
    # inside [x_min, x_max] the gradient passes (bounds included, as TensorFlow's clip_by_value)
    "clip": lambda g, x, y, x_min, x_max: g * ((x >= x_min) & (x <= x_max)),
    # rounding's gradient taken as 1, as TensorFlow's cast; none through an integer cast (a mask's)
    "cast": lambda g, x, y, dtype: g if np.dtype(dtype).kind == "f" else g * 0,
    "softmax": lambda g, x, y, axis: activations.backprop_softmax(g, x, y, axis=_axes(axis)),
    "log_softmax": lambda g, x, y, axis: activations.backprop_log_softmax(g, x, y, axis=_axes(axis)),
}


def _backward_of_reduction(op, g, x, y, args):
    axes = _axes(args["axis"])
    if not args["keepdims"]:                 # put back the reduced axes (size 1) to broadcast over x
        g, y = np.expand_dims(g, axes), np.expand_dims(y, axes)
    if op == "sum":
        return np.broadcast_to(g, x.shape).copy()
    if op == "mean":
        return np.broadcast_to(g / (x.size // y.size), x.shape).copy()
    # max, min: the gradient shared equally by the entries equal to the result (TensorFlow's rule);
    # none when `initial` was the result
    chosen = x == y
    count = np.maximum(chosen.sum(axis=axes, keepdims=True), 1)
    return (g * chosen / count).astype(x.dtype, copy=False)


def _backward_of_several(op, args, inputs, g):
    if op == "concatenate":
        bounds = np.cumsum([x.shape[args["axis"]] for x in inputs])[:-1]
        return np.split(g, bounds.tolist(), axis=args["axis"])
    if op == "stack":
        return [np.take(g, k, axis=args["axis"]) for k in range(len(inputs))]
    a, b = inputs
    if op == "matmul":          # y = a b: da = g b^T, db = a^T g (on the last two axes)
        # a vector operand as NumPy's matmul reads it, a row (a) or a column (b) whose axis the
        # result drops: g gets that axis of 1 back (ops.matmul(x, v) on a tape: v of shape (n,))
        a2, b2 = (a[None, :] if a.ndim == 1 else a), (b[:, None] if b.ndim == 1 else b)
        g2 = np.reshape(g, np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + (a2.shape[-2], b2.shape[-1]))
        return [unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape),
                unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape)]
    chosen = a >= b if op == "maximum" else a <= b      # ties to the first operand, as TensorFlow
    return [unbroadcast(g * chosen, a.shape), unbroadcast(g * ~chosen, b.shape)]


def _axes(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _sample_target(newshape):
    """reshape's target for one sample: Keras' full shape without its batch entry (-1 or None)."""
    return tuple(-1 if n is None else n for n in newshape[1:])


# -- arguments -----------------------------------------------------------------------------------
def _int(value, what):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what}: expected an integer, got {value!r:.60}")
    return int(value)


def _arguments(op, given, keras_masks=False):
    """``given`` checked against ``op``'s Keras arguments, Keras' defaults filled in; in JSON's
    forms (lists for tuples) as the config keeps them. ``keras_masks``: drawn in a block taking
    Keras' masks, where ``cast`` takes integer and bool dtypes too (keras.io's
    ``ops.cast(mask[:, None, :], "int32")``): values truncated, carried as floats, no gradient."""
    who = f"TensorFunction({op!r})"
    if not isinstance(given, dict):
        raise TypeError(f"{who}: arguments must be a dict, got {type(given).__name__}")
    expected = ARGUMENTS[op]
    if op in JOINS and "constants" in given:        # constants among the joined tensors (tensor_structure)
        expected = {**expected, "constants": None}
    unknown = set(given) - set(expected)
    if unknown:
        raise TypeError(f"{who}: unexpected argument {sorted(unknown)[0]!r}; {op} takes "
                        f"{', '.join(expected) or 'no arguments besides its tensors'}")
    args = {**expected, **given}
    if op in STRUCTURE:
        return tensor_structure.arguments(op, args, who)
    if op in CONV:
        return tensor_conv.arguments(op, args, who)
    if op in LINALG:
        return tensor_linalg.arguments(op, args, who)
    if op in JOINS and args.get("constants") is not None:
        args["constants"] = [None if c is None else tensor_structure.constant_list(c, f"{who}: a constant") for c in
                             args["constants"]]
    for name in ("x_min", "x_max", "initial"):
        if name in expected and args[name] is not None:
            if isinstance(args[name], (bool, np.bool_)) or not isinstance(args[name], numbers.Real):
                raise TypeError(f"{who}: {name} must be a number, got {args[name]!r:.60}")
            args[name] = args[name].item() if isinstance(args[name], np.generic) else args[name]
    if op == "clip" and (args["x_min"] is None or args["x_max"] is None):
        raise TypeError(f"{who}: clip needs x_min and x_max (numbers)")
    if op == "cast":
        # Keras' reading of the dtype (standardize_dtype): Python's float is float32, its floatx
        from .._keras_helpers import standardize_dtype
        try:
            dtype = np.dtype(standardize_dtype(args["dtype"]))
        except (TypeError, ValueError):
            raise TypeError(f"{who}: dtype must name a dtype ('float32'), got {args['dtype']!r:.60}") from None
        if dtype.kind != "f" and not (keras_masks and dtype.kind in "biu"):
            raise ValueError(f"{who}: a model's values are floats of its dtype: cast to a float dtype "
                             f"('float32', 'float64'), not {dtype.name} (integer casts: glassnet.ops.cast on arrays; "
                             f"on a mask, in a block whose call takes mask, too)")
        args["dtype"] = dtype.name
    if "keepdims" in expected and not isinstance(args["keepdims"], (bool, np.bool_)):
        raise TypeError(f"{who}: keepdims must be True or False, got {args['keepdims']!r:.40}")
    if "keepdims" in expected:
        args["keepdims"] = bool(args["keepdims"])
    if "axis" in expected:
        axis = args["axis"]
        if op in REDUCTIONS or op in ("squeeze", "softmax", "log_softmax"):
            if isinstance(axis, (list, tuple)):
                args["axis"] = [_int(a, f"{who}: axis") for a in axis]
            elif axis is not None:
                args["axis"] = _int(axis, f"{who}: axis")
        else:
            args["axis"] = _int(axis, f"{who}: axis") if axis is not None else None
    if op == "expand_dims" and args["axis"] is None:
        raise TypeError(f"{who}: expand_dims needs axis (an integer)")
    if op == "reshape":
        shape = args["newshape"]
        if not isinstance(shape, (list, tuple)) or not shape:
            raise TypeError(f"{who}: newshape must be a tuple of sizes, the batch's first (-1 or None), got {shape!r:.60}")
        args["newshape"] = [None if n is None else _int(n, f"{who}: newshape") for n in shape]
    if op == "transpose" and args["axes"] is not None:
        if not isinstance(args["axes"], (list, tuple)):
            raise TypeError(f"{who}: axes must be a tuple of axes, got {args['axes']!r:.60}")
        args["axes"] = [_int(a, f"{who}: axes") for a in args["axes"]]
    if op in OPS_ELSEWHERE:
        args = tensor_math.arguments(op, args, who)
    return args


def _constant(value, op):
    """maximum's, minimum's or matmul's constant operand: a number or a NumPy array (a copy)."""
    if value is None or isinstance(value, CallWeight):
        return value
    weight = weight_from_config(value)          # a weight operand, read from a config
    if weight is not None:
        return weight
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and op != "matmul" \
            and op not in tensor_conv.KERNEL_OPS:
        value = value.item() if isinstance(value, np.generic) else value
        if not np.isfinite(value):
            raise ValueError(f"TensorFunction: {op}'s constant must be finite, got {value!r}")
        return value
    if hasattr(value, "shape") and not isinstance(value, np.ndarray):
        value = backend.to_numpy(value)         # a CuPy array
    array = np.array(value) if isinstance(value, (np.ndarray, list, tuple, numbers.Real)) else None
    if array is None or array.dtype.kind not in "biuf":
        raise TypeError(f"TensorFunction: {op}'s constant must be a number or an array of numbers, got "
                        f"{type(value).__name__}")
    if not np.isfinite(array).all():
        raise ValueError(f"TensorFunction: {op}'s constant must be finite; it holds inf or nan")
    return array
