"""The ``glassnet.ops`` rules of a nested tape's recorded gradient (glassnet._tape_second): an op
recorded on the inner tape between or around the layer calls (``h = ops.tanh(ops.matmul(x, w) + b)``,
``ops.concatenate([x, labels])``, a physics-informed loss's ``u = mlp(x)``) is a step of the
program as a layer's call is, with a tangent rule and its reverse.

Every op node's operands become the step's inputs, constants included (a constant's tangent is
None; its cotangent goes to the outer tape when that tape recorded it: a watched weight). The
ops fall in five kinds, each differentiated once by its own pattern:

- ``Additive``: linear in its operands together (add, subtract, reshapes, indexing, sums, means,
  concatenate, stack, where, take, cast, average_pool): tangent F(t), reverse the op's own backward.
- ``Multilinear``: linear in each operand (multiply, matmul, einsum, the convolutions): tangent
  sum_k F(..t_k..); the second-order part of x_i's cotangent is sum_{k != i} (F with x_k := t_k)'s
  backward of b at i.
- ``Pointwise``: element-wise of one or two operands with broadcasting (exp, log, tanh, divide,
  power, maximum, clip, the activations): by their first and second partial derivatives.
- ``Selection``: max and min reductions, piecewise linear: the weights the op's backward gives.
- softmax, log_softmax (glassnet._tape_second_act.AxisMixing) and ``LogSumExp``, which mix an axis.

Anything else (std, var, norm, prod, sort, max_pool, ...) is refused by name.
"""
import copy
import math

import numpy as np

from ._tape_second_act import AxisMixing, derivatives as _activation_derivatives, refuse
from .layers.tensor_ops import unbroadcast

ADDITIVE = ("add", "subtract", "negative", "get_item", "reshape", "squeeze", "expand_dims", "transpose", "sum",
            "mean", "cast", "concatenate", "stack", "where", "take", "take_along_axis", "cumsum", "average_pool")
MULTILINEAR = ("multiply", "matmul", "einsum", "conv", "depthwise_conv", "conv_transpose")
_ACTIVATIONS = ("relu", "tanh", "sigmoid", "softplus", "elu", "selu", "gelu", "leaky_relu")
UNARY = ("exp", "log", "sqrt", "square", "absolute", "log1p", "expm1", "sin", "cos", "reciprocal", "rsqrt", "erf",
         "clip", "silu", "softsign", "log_sigmoid", "tan", "arctan", "sinh", "cosh", "power") + _ACTIVATIONS
BINARY = ("true_divide", "power", "maximum", "minimum", "arctan2")
AXIS = ("softmax", "log_softmax", "logsumexp")
SELECTION = ("max", "min")
COVERED = ("add, subtract, multiply, divide, power (of broadcast operands), negative, abs, matmul, einsum, the "
           "convolutions, average_pool, exp, log, sqrt, square, log1p, expm1, sin, cos, tan, arctan, sinh, cosh, "
           "reciprocal, rsqrt, erf, clip, maximum, minimum, arctan2, relu, tanh, sigmoid, softplus, elu, selu, gelu, "
           "silu, leaky_relu, softsign, log_sigmoid, sum, mean, max, min, logsumexp, softmax, log_softmax, reshape, "
           "transpose, expand_dims, squeeze, concatenate, stack, get_item (indexing), take, take_along_axis, where, "
           "cumsum, cast")


def name_of(op):
    """The recorded op's name (TensorOp's and TensorFunction's ``op``, the tape's own nodes')."""
    return getattr(op, "op", type(op).__name__)


def covered(op, n_inputs):
    """Whether the recorded op (``n_inputs`` operands) has a rule here."""
    name = name_of(op)
    if name == "power":
        return True
    if name in UNARY and n_inputs == 1 or name in BINARY and n_inputs == 2:
        return True
    return name in ADDITIVE + MULTILINEAR + AXIS + SELECTION


def operands(node):
    """(every operand's value, each one's node (None: a constant), a copy of the op taking every
    operand): the tape's own nodes keep their constants inside (``Operands``); here they are inputs."""
    from ._tape_ops import Operands, Where
    op, values, parents = node.layer, list(node.inputs), list(node.parents)
    fresh = copy.copy(op)
    if isinstance(op, Operands):
        found = iter(zip(values, parents))
        pairs = [next(found) if live else (c, None) for c, live in zip(op.constants, op.live)]
        keep = 1 if isinstance(op, Where) else 0        # (where's condition takes no gradient: kept inside)
        fresh.live = [False] * keep + [True] * (len(pairs) - keep)
        fresh.constants = op.constants[:keep] + [None] * (len(pairs) - keep)
        values, parents = [v for v, _ in pairs[keep:]], [p for _, p in pairs[keep:]]
    return values, parents, fresh


def step(fresh, n_inputs, what):
    """The step of a recorded op (``fresh``: a copy taking every operand, as ``operands`` gives)."""
    name = name_of(fresh)
    if name in ("softmax", "log_softmax"):
        return _Single(AxisMixing(name, fresh.arguments["axis"]))
    if name == "logsumexp":
        return LogSumExp(fresh)
    if name in SELECTION:
        return Selection(fresh)
    if name in MULTILINEAR and n_inputs > 1:
        return Multilinear(fresh)
    if name in ADDITIVE + MULTILINEAR:     # (one operand of a product: linear in it)
        return Additive(fresh)
    if covered(fresh, n_inputs):
        return Pointwise(fresh)
    refuse(f"{what} (ops covered: {COVERED})")


_AFFINE = ("add", "subtract", "multiply", "matmul")


def drawn_step(layer, what):
    """The step of an op node drawn in a model's graph (a subclass model's ``call`` using ops, a
    functional model's ``x * 2.0``): a TensorOp or TensorFunction layer, batch axis first; a constant
    operand kept inside it (x + c: affine, its tangent F(t) - F(0))."""
    n = len(layer.input_shape) if layer.merges and layer.input_shape is not None else 1
    if getattr(layer, "weight_operand", False):
        refuse(f"{what}, whose operand is a weight")
    constant = getattr(layer, "constant", None)
    if constant is None or name_of(layer) == "power" and n == 1:
        return step(copy.copy(layer), n, what)
    if name_of(layer) in _AFFINE or name_of(layer) == "true_divide" and not layer.reverse:
        return Additive(copy.copy(layer), affine=True)
    refuse(f"{what} of a constant operand")


def _run(op, xs):
    """(op's forward on ``xs``, the copy that ran it: its backward then differentiates at xs)."""
    f = copy.copy(op)
    y = f.forward(list(xs) if f.merges else xs[0])
    return np.asarray(y), f


def _vjp(f, g, n):
    grads = f.backward(g)
    grads = list(grads) if isinstance(grads, (list, tuple)) else [grads]
    return [None if gi is None else np.asarray(gi) for gi in grads] + [None] * (n - len(grads))


def _add(x, y):
    return y if x is None else x if y is None else x + y


class _Op:
    merges = True

    def __init__(self, op):
        self.op = op

    def forward(self, xs):
        self.xs, self.ts = list(xs), [None] * len(xs)       # (the tangents once a tangent pass ran)
        y, self.at_x = _run(self.op, self.xs)
        return y

    def _zeros(self, ts):
        return [np.zeros_like(x) if t is None else t for x, t in zip(self.xs, ts)]


class Additive(_Op):
    """Linear in its operands together (a constant is one of them: F(t_1, 0) is its derivative);
    ``affine``: a constant inside the op (a drawn x + c), F(t) - F(0)."""

    def __init__(self, op, affine=False):
        super().__init__(op)
        self.affine = affine

    def tangent(self, ts):
        self.ts = ts
        y = _run(self.op, self._zeros(ts))[0]
        return y - _run(self.op, self._zeros([None] * len(ts)))[0] if self.affine else y

    def reverse(self, a, b, grads):
        n = len(self.xs)
        ax = [None] * n if a is None else _vjp(self.at_x, a, n)
        bx = [None] * n if b is None else _vjp(self.at_x, b, n)
        return [(ai, None if t is None else bi) for ai, bi, t in zip(ax, bx, self.ts)]


class Multilinear(_Op):
    """Linear in each operand: dF[t] = sum_k F(x with x_k := t_k)."""

    def _with(self, k, t):
        return [t if j == k else x for j, x in enumerate(self.xs)]

    def tangent(self, ts):
        self.ts = ts
        out = None
        for k, t in enumerate(ts):
            if t is not None:
                out = _add(out, _run(self.op, self._with(k, t))[0])
        return out

    def reverse(self, a, b, grads):
        n = len(self.xs)
        ax = [None] * n if a is None else _vjp(self.at_x, a, n)
        bx = [None] * n if b is None else _vjp(self.at_x, b, n)
        if b is not None:       # d<b, F(.. t_k ..)>/dx_i for each k != i with a tangent
            for k, t in enumerate(self.ts):
                if t is not None:
                    _, f = _run(self.op, self._with(k, t))
                    for i, gi in enumerate(_vjp(f, b, n)):
                        if i != k:
                            ax[i] = _add(ax[i], gi)
        return [(ai, None if t is None else bi) for ai, bi, t in zip(ax, bx, self.ts)]


class Selection(_Op):
    """max or min over axes: the weights w of the op's backward at x (ties shared, TF's rule):
    the tangent is the sum over the axes of w t, the reverse the op's backward."""

    def forward(self, xs):
        y = super().forward(xs)
        self.w = _vjp(self.at_x, np.ones_like(y), 1)[0]
        self.axes, self.keep = _axes(self.op.arguments["axis"], xs[0].ndim), self.op.arguments["keepdims"]
        return y

    def tangent(self, ts):
        self.ts = ts
        return np.sum(self.w * ts[0], axis=self.axes, keepdims=self.keep)

    def reverse(self, a, b, grads):
        return [(None if a is None else _vjp(self.at_x, a, 1)[0], None if b is None else _vjp(self.at_x, b, 1)[0])]


class LogSumExp(_Op):
    """y = log sum exp x over axes: ty = <p, t>; a_x = a p + b p (t - <p, t>), b_t = b p."""

    def forward(self, xs):
        y = super().forward(xs)
        x = xs[0]
        self.axes, self.keep = _axes(self.op.arguments["axis"], x.ndim), self.op.arguments["keepdims"]
        m = np.max(x, axis=self.axes, keepdims=True)
        e = np.exp(x - m)
        self.p = e / np.sum(e, axis=self.axes, keepdims=True)
        return y

    def _kept(self, v):
        return v if self.keep or v is None else np.expand_dims(v, self.axes)

    def tangent(self, ts):
        self.t = ts[0]
        self.pt = np.sum(self.p * self.t, axis=self.axes, keepdims=True)
        return self.pt if self.keep else np.squeeze(self.pt, axis=self.axes)

    def reverse(self, a, b, grads):
        a, b = self._kept(a), self._kept(b)
        ax = None if a is None else a * self.p
        if b is not None:
            ax = _add(ax, b * self.p * (self.t - self.pt))
        return [(ax, None if b is None else b * self.p)]


class _Single:
    """A step of one input (``merges`` False) as a step of a list of one."""
    merges = True

    def __init__(self, inner):
        self.inner = inner

    def forward(self, xs):
        return self.inner.forward(xs[0])

    def tangent(self, ts):
        return self.inner.tangent(ts[0])

    def reverse(self, a, b, grads):
        return [self.inner.reverse(a, b, grads)]


class Pointwise(_Op):
    """y = f(x_1[, x_2]) entry by entry, operands broadcast: ty = sum_i f_i t_i; a_i = a f_i +
    b sum_j f_ij t_j, b_i = b f_i, each summed back over what broadcasting grew."""

    def forward(self, xs):
        y = super().forward(xs)
        self.shape = y.shape
        self.d1, self.d2 = _partials(self.op, self.xs, y)
        return y

    def tangent(self, ts):
        self.ts = ts
        out = None
        for d, t in zip(self.d1, ts):
            if t is not None:
                out = _add(out, d * t)
        return out if out.shape == self.shape else np.broadcast_to(out, self.shape).copy()

    def reverse(self, a, b, grads):
        out = []
        for i, x in enumerate(self.xs):
            ai = None if a is None else a * self.d1[i]
            if b is not None:
                for j, t in enumerate(self.ts):
                    d2 = self.d2.get((min(i, j), max(i, j)))
                    if t is not None and d2 is not None:
                        ai = _add(ai, b * d2 * t)
            bi = None if b is None or self.ts[i] is None else b * self.d1[i]
            out.append(tuple(None if g is None else unbroadcast(np.broadcast_to(g, self.shape), x.shape)
                             for g in (ai, bi)))
        return out


def _axes(axis, ndim):
    """NumPy's axes of a reduction: None is every axis of a sample (a drawn node's: the tape's
    nodes are given every axis when None)."""
    if axis is None:
        return tuple(range(1, ndim))
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _partials(op, xs, y):
    """([f_1, f_2], {(i, j): f_ij}) of the element-wise op at ``xs`` (y its value), in x's dtype; a
    missing or None second partial is zero."""
    name, x = name_of(op), xs[0]
    one = x.dtype.type(1)
    if len(xs) == 2:
        a, b = xs
        if name == "true_divide":
            inv = one / b
            return [inv, -a * inv * inv], {(0, 1): -inv * inv, (1, 1): 2 * a * inv * inv * inv}
        if name in ("maximum", "minimum"):     # ties to the first operand, as the op's backward (TF's)
            chosen = (a >= b) if name == "maximum" else (a <= b)
            return [chosen.astype(x.dtype), (~chosen).astype(x.dtype)], {}
        if name == "arctan2":
            r = a * a + b * b
            r = np.where(r == 0, one, r)
            return [b / r, -a / r], {(0, 0): -2 * a * b / (r * r), (0, 1): (a * a - b * b) / (r * r),
                                     (1, 1): 2 * a * b / (r * r)}
        # power of two operands: d/db a^b = a^b log a, taken 0 where a <= 0 (TF's Pow, the op's backward)
        log = np.where(a > 0, np.log(np.where(a > 0, a, one)), 0 * one)
        below = a ** (b - 1)
        return [b * below, y * log], {(0, 0): b * (b - 1) * a ** (b - 2), (0, 1): below * (1 + b * log),
                                      (1, 1): y * log * log}
    if name == "power":         # x ** c, or c ** x (reverse), c a constant number or array
        c = np.asarray(op._value(np)).astype(x.dtype, copy=False)
        if getattr(op, "reverse", False):
            # a constant base (a drawn model's 2.0 ** x, a TensorFunction): y log c and y log(c)^2,
            # log c taken 0 where c <= 0 (TF's Pow, the op's backward); not x ** c's derivatives
            log = np.where(c > 0, np.log(np.where(c > 0, c, one)), 0 * one)
            return [y * log], {(0, 0): y * log * log}
        with np.errstate(divide="ignore", invalid="ignore"):    # (x ** 0 and x ** 1: no nan at 0)
            d1 = np.where(c == 0, 0 * one, c * x ** (c - 1))
            d2 = np.where((c == 0) | (c == 1), 0 * one, c * (c - 1) * x ** (c - 2))
        return [d1], {(0, 0): d2}
    d1, d2 = _unary(name, getattr(op, "arguments", {}) or {}, x, y, one)
    return [d1], {(0, 0): d2}


def _unary(name, settings, x, y, one):
    """(f', f'') of the element-wise op ``name`` at x (y = f(x))."""
    if name in _ACTIVATIONS:
        return _activation_derivatives(name, settings, x)
    if name == "exp":
        return y, y
    if name == "log":
        return one / x, -one / (x * x)
    if name == "sqrt":
        return 0.5 / y, -0.25 / (y * y * y)
    if name == "square":
        return 2 * x, np.full_like(x, 2)
    if name == "absolute":
        return np.sign(x), None
    if name == "log1p":
        return one / (1 + x), -one / ((1 + x) * (1 + x))
    if name == "expm1":
        return y + 1, y + 1
    if name == "sin":
        return np.cos(x), -y
    if name == "cos":
        return -np.sin(x), -y
    if name == "tan":
        return 1 + y * y, 2 * y * (1 + y * y)
    if name == "arctan":
        return one / (1 + x * x), -2 * x / ((1 + x * x) * (1 + x * x))
    if name == "sinh":
        return np.cosh(x), y
    if name == "cosh":
        return np.sinh(x), y
    if name == "reciprocal":
        return -y * y, 2 * y * y * y
    if name == "rsqrt":
        return -0.5 * y * y * y, 0.75 * y ** 5
    if name == "erf":
        d1 = x.dtype.type(2 / math.sqrt(math.pi)) * np.exp(-x * x)
        return d1, -2 * x * d1
    if name == "clip":          # bounds included, as the op's backward (TF's clip_by_value)
        return ((x >= settings["x_min"]) & (x <= settings["x_max"])).astype(x.dtype), None
    s = 0.5 * (1 + np.tanh(0.5 * x))
    if name == "silu":
        d = s * (1 - s)
        return s + x * d, d * (2 + x * (1 - 2 * s))
    if name == "log_sigmoid":
        return 1 - s, -s * (1 - s)
    if name == "softsign":
        u = one / (1 + np.abs(x))
        return u * u, -2 * np.sign(x) * u * u * u
    refuse(f"ops.{name} on the inner tape")
