"""The layers' rules of a nested tape's recorded gradient (glassnet._tape_second), one ``_Step``
class per kind of map, its forward, tangent and reverse rules side by side, and the table
(``steps``) that says which steps a layer's call is.

A step maps its input x (a list of them where ``merges``) to y. ``forward`` keeps what the others
need; ``tangent(t)`` gives dF(x)[t] after it (for a merge, a list of tangents, None for an input
that does not depend on the source); ``reverse(a, b, grads)`` takes the cotangents of y (``a``)
and of its tangent (``b``), either None for zero, and gives those of x and of x's tangent (a list
of such pairs for a merge), adding the weights' gradients into ``grads`` ({(layer, name): array})
when given. The element-wise and softmax activations are in glassnet._tape_second_act.
"""
import copy

import numpy as np

from ._tape_second_act import activation_step, refuse


def add(grads, key, value):
    grads[key] = value if key not in grads else grads[key] + value


class _Step:
    merges = False


def _channels_last(layer, x):
    """A batch as the layer's channels-last code reads it: a channels-first layer's (N, C, *spatial)
    moved to (N, *spatial, C) (its own forward does so in its wrapper, layers/data_format.py; the
    rules below call the channels-last functions directly), then lifted ((N, L, C) -> (N, 1, L, C))."""
    if getattr(layer, "data_format", None) == "channels_first":
        from .layers.data_format import to_last
        x = to_last(x)
    return layer._lifted(x)


def _layer_format(layer, z):
    """Undo ``_channels_last`` on a result: lowered, then the channels moved first again where the
    layer is channels first."""
    z = layer._lowered(z)
    if getattr(layer, "data_format", None) == "channels_first":
        from .layers.data_format import to_first
        z = to_first(z)
    return z


class Affine(_Step):
    """z = x @ W + c (Dense on the last axis): the tangent tz = tx @ W."""

    def __init__(self, layer, kernel, bias):
        self.layer, self.kernel, self.bias = layer, kernel, bias

    def forward(self, x):
        self.x = x
        z = x @ self.kernel
        return z if self.bias is None else z + self.bias

    def tangent(self, t):
        self.t = t
        return t @ self.kernel

    def reverse(self, a, b, grads):
        if grads is not None:
            rows = lambda v: v.reshape(-1, v.shape[-1])     # noqa: E731 (every position a row)
            dk = 0
            if a is not None:
                dk = rows(self.x).T @ rows(a)
                if self.bias is not None:
                    add(grads, (self.layer, "bias"), rows(a).sum(axis=0))
            if b is not None:
                dk = dk + rows(self.t).T @ rows(b)
            add(grads, (self.layer, "kernel"), dk)
        return (None if a is None else a @ self.kernel.T), (None if b is None else b @ self.kernel.T)


class Convolution(_Step):
    """z = conv(x, W) + c (Conv1D/2D/3D, any strides, padding and dilation): tz = conv(tx, W)."""

    def __init__(self, layer, kernel, bias):
        self.layer, self.bias, self.shape = layer, bias, kernel.shape
        self.kernel = kernel[None] if layer.rank == 1 else kernel       # (a sequence runs as an image of height 1)
        self.settings = (layer._lifted_axes(layer.strides), layer.padding,
                         layer._lifted_axes(layer.dilation_rate or (1,) * layer.rank))
        self.caches = {}

    def _conv(self, x, bias, which):
        from .layers.conv import conv_forward
        z, self.caches[which] = conv_forward(_channels_last(self.layer, x), self.kernel, bias, *self.settings)
        return _layer_format(self.layer, z)

    def forward(self, x):
        return self._conv(x, self.bias, "a")

    def tangent(self, t):
        return self._conv(t, None, "b")

    def reverse(self, a, b, grads):
        from .layers.conv import conv_backward
        out = []
        for which, g in (("a", a), ("b", b)):
            if g is None:
                out.append(None)
                continue
            dx, dk, db = conv_backward(_channels_last(self.layer, g), self.caches[which], self.kernel)
            if grads is not None:
                add(grads, (self.layer, "kernel"), dk.reshape(self.shape))
                if db is not None:
                    add(grads, (self.layer, "bias"), db)
            out.append(_layer_format(self.layer, dx))
        return tuple(out)


class Linear(_Step):
    """y = L x for a layer linear in its input (no weights): its own forward pass on a copy of it,
    its backward (the adjoint, the same for any input) for the reverse."""

    def __init__(self, layer, training=False):
        # a copy of its own: the model's layer keeps its call's caches (and buffers) for its backward
        self.layer = copy.deepcopy(layer)
        self.layer.needs_input_gradient = True
        self.training = training

    def forward(self, x):
        return np.array(self.layer.forward(x, training=self.training))     # (a layer may reuse its buffer)

    tangent = forward

    def reverse(self, a, b, grads):
        return tuple(None if g is None else np.array(self.layer.backward(g)) for g in (a, b))


class Winners(Linear):
    """Max pooling, piecewise linear: y = the winner of each window (or of each channel, globally)
    that the forward pass on x found; the tangent is t at those winners, the reverse the layer's
    own backward (which sends each window's gradient to its winner) on the copy that ran on x."""

    def tangent(self, t):
        layer = self.layer
        if hasattr(layer, "_winner"):           # GlobalMaxPooling: (batch, 1, C) winners of (batch, positions, C)
            t = layer._channels_last(t)
            flat = t.reshape(t.shape[0], -1, t.shape[-1])
            return layer._kept(np.take_along_axis(flat, layer._winner, axis=1)[:, 0, :])
        from .layers.conv import _pad
        from .layers.pooling import _window
        winner, _, pads, _, _, offsets, _ = layer._cache
        tp = _pad(_channels_last(layer, t), pads, 0)      # (the copy's cache: channels last)
        out = np.zeros(winner.shape, t.dtype)
        for k, (_, slices) in enumerate(offsets):
            out += (winner == k) * _window(tp, slices)
        return _layer_format(layer, out)


class Mask(_Step):
    """Dropout in training: y = x * m, with the mask its recorded call drew."""

    def __init__(self, mask):
        self.mask = mask

    def forward(self, x):
        return x * self.mask

    tangent = forward

    def reverse(self, a, b, grads):
        return tuple(None if g is None else g * self.mask for g in (a, b))


class Normalization(_Step):
    """y = gamma xh + beta, xh = (x - mean) r, r = (var + eps)^-1/2, the statistics over the axes
    ``reduced`` (n values each), gamma and beta lying along the axes ``features``: LayerNormalization
    (reduced = features, a sample's), BatchNormalization in training (reduced = the batch and every
    axis that is not a feature: the tangent flows through the batch mean and variance as through
    a sample's). J v = r (v - mean(v) - xh mean(xh v)) is symmetric, so the tangent is gamma J t
    and b_t = J (gamma b). With B = gamma b, P = <B, t - mean(t)>, Q = <B, xh>, m = mean(xh t)
    (sums over the reduced axes), the second-order part of a_x is
    d<B, J t>/dx = -(r^2/n)(P - m Q) xh - (r Q / n) J t - r m J B.
    ``moving``: (mean, variance) fixed (BatchNormalization in inference: an affine map, J v = r v,
    no second-order part)."""

    def __init__(self, layer, weights, features, epsilon, over_batch=False, moving=None):
        self.layer, self.gamma, self.beta = layer, weights.get("gamma"), weights.get("beta")
        self.features, self.epsilon, self.over_batch, self.moving = features, epsilon, over_batch, moving

    def _shaped(self, param):       # (the features' shape) broadcast against the input
        if param is None:
            return None
        # (reshaped, not transposed: LayerNormalization's axis list in Keras' order, layers._norm_layout)
        shape = [1] * self.ndim
        for a in self.axes_f:
            shape[a] = self.x_shape[a]
        return param.reshape(shape)

    def _sum(self, v):
        return v.sum(axis=self.axes, keepdims=True)

    def _jac(self, v):
        if self.moving is not None:
            return self.r * v
        return self.r * (v - self._sum(v) / self.n - self.xh * (self._sum(self.xh * v) / self.n))

    def _param_sum(self, v):        # over every axis but the features: the parameters' shape
        others = tuple(k for k in range(v.ndim) if k not in self.axes_f)
        return v.sum(axis=others).reshape(self.gamma.shape if self.gamma is not None else self.beta.shape)

    def forward(self, x):
        self.ndim, self.axes_f, self.x_shape = x.ndim, tuple(self.features(x.shape)), x.shape
        self.axes = tuple(k for k in range(x.ndim) if k not in self.axes_f) if self.over_batch else self.axes_f
        eps = x.dtype.type(self.epsilon)
        if self.moving is None:
            self.n = x.dtype.type(np.prod([x.shape[k] for k in self.axes]))
            c = x - self._sum(x) / self.n
            self.r = 1 / np.sqrt(self._sum(c * c) / self.n + eps)
        else:
            mean, var = (self._shaped(np.asarray(v, x.dtype)) for v in self.moving)
            c, self.r = x - mean, 1 / np.sqrt(var + eps)
        self.xh = c * self.r
        self.g, beta = self._shaped(self.gamma), self._shaped(self.beta)
        y = self.xh if self.g is None else self.xh * self.g
        return y if beta is None else y + beta

    def tangent(self, t):
        self.t, self.dxh = t, self._jac(t)
        return self.dxh if self.g is None else self.dxh * self.g

    def reverse(self, a, b, grads):
        scale = (lambda v: v) if self.g is None else (lambda v: v * self.g)     # noqa: E731
        ax = bt = None
        if a is not None:
            ax = self._jac(scale(a))
            if grads is not None and self.gamma is not None:
                add(grads, (self.layer, "gamma"), self._param_sum(a * self.xh))
            if grads is not None and self.beta is not None:
                add(grads, (self.layer, "beta"), self._param_sum(a))
        if b is not None:
            B = scale(b)
            if grads is not None and self.gamma is not None:
                add(grads, (self.layer, "gamma"), self._param_sum(b * self.dxh))
            bt = self._jac(B)
            if self.moving is None:
                P = self._sum(B * (self.t - self._sum(self.t) / self.n))
                Q, m = self._sum(B * self.xh), self._sum(self.xh * self.t) / self.n
                second = -(self.r * self.r / self.n) * (P - m * Q) * self.xh - (self.r * Q / self.n) * self.dxh \
                    - self.r * m * bt
                ax = second if ax is None else ax + second
        return ax, bt


def layer_norm(layer, weights):
    """LayerNormalization's step: the statistics over its own axes, a sample's."""
    return Normalization(layer, weights, lambda shape: layer._input_axes(shape[1:]), layer.epsilon)


def batch_norm(layer, weights, training, state):
    """BatchNormalization's step: the batch statistics over every axis but the features in
    training (a frozen layer runs in inference, as its forward does), else the moving statistics
    of the call (``state``: the layer's at the call): an affine map. renorm is refused by name."""
    if layer.renorm:
        refuse(f"{layer.describe()} with renorm=True (its r and d are held constant in the backward pass, "
               f"Keras' stop_gradient)")
    moving = None if training and layer.trainable else (state["moving_mean"], state["moving_variance"])
    return Normalization(layer, weights, layer._axes, layer.epsilon, over_batch=True, moving=moving)


class PReLU(_Step):
    """y = max(x, 0) + alpha min(x, 0), alpha per value of a sample (1 along its shared axes):
    ty = s t with s = 1 above 0, alpha elsewhere (the layer's own slope at 0); the reverse a_x =
    a s, b_t = b s, and alpha's gradient <a, min(x, 0)> + <b, t [x <= 0]>, summed over the batch
    and the shared axes."""

    def __init__(self, layer, alpha):
        self.layer, self.alpha = layer, alpha

    def forward(self, x):
        self.below = x <= 0
        self.slope = np.where(self.below, self.alpha.astype(x.dtype, copy=False), x.dtype.type(1))
        self.negative = np.minimum(x, 0)
        return np.maximum(x, 0) + self.alpha * self.negative

    def tangent(self, t):
        self.t = t
        return self.slope * t

    def reverse(self, a, b, grads):
        if grads is not None:
            from .layers.tensor_ops import unbroadcast
            total = 0
            if a is not None:
                total = a * self.negative
            if b is not None:
                total = total + b * self.t * self.below
            if a is not None or b is not None:
                add(grads, (self.layer, "alpha"), unbroadcast(total, self.alpha.shape))
        return tuple(None if g is None else g * self.slope for g in (a, b))


class Merge(_Step):
    """Add, Subtract, Average, Multiply, Maximum, Minimum, Concatenate of inputs of which some may be
    constants (a None tangent): Add, Subtract, Average linear; Multiply y = prod x_i, whose tangent
    is sum_i t_i prod_{j!=i} x_j; Maximum, Minimum piecewise linear, y = x_w with w the winning
    input per entry (its tie rule), a constant selection. The element-wise ones broadcast as their
    layer does (``layers.merging._Elementwise``): an input broadcast gets its cotangents summed back
    to its own shape."""
    merges = True

    def __init__(self, layer):
        self.layer, self.kind = layer, type(layer).__name__

    def _weights(self, n):
        return {"Add": [1.0] * n, "Subtract": [1.0, -1.0], "Average": [1.0 / n] * n}.get(self.kind)

    def forward(self, xs):
        self.xs, self.ts = xs, [None] * len(xs)       # (the tangents once a tangent pass ran)
        if self.kind == "Concatenate":
            self.axis = self.layer._sample_axis(xs[0].ndim - 1) + 1
            return np.concatenate(xs, axis=self.axis)
        # an input broadcast (a gate (batch, 1, 1, C), or one of fewer axes) gets, in reverse,
        # its cotangent summed back to its own shape
        self.shapes = [x.shape for x in xs]
        self.xs = xs = self.layer.expanded(xs)
        self.out_shape = np.broadcast_shapes(*(x.shape for x in xs))
        if self.kind in ("Maximum", "Minimum"):
            out, winner = self.layer.select(xs)
            self.picks = [winner == k for k in range(len(xs))]
            return out
        if self.kind == "Multiply":
            return self._product(xs, ())
        return self._full(sum(x.dtype.type(w) * x for w, x in zip(self._weights(len(xs)), xs)))

    def _full(self, y):
        """``y`` in the output's shape (a sum of broadcast inputs may be smaller)."""
        return y if y.shape == self.out_shape else np.broadcast_to(y, self.out_shape).copy()

    def _product(self, xs, skip):
        out = None
        for j, x in enumerate(xs):
            if j not in skip:
                out = x if out is None else out * x
        return np.ones_like(xs[0]) if out is None else out

    def tangent(self, ts):
        if self.kind != "Concatenate":
            ts = [None if t is None else t.reshape(x.shape) for t, x in zip(ts, self.xs)]
        self.ts = ts
        if self.kind == "Concatenate":
            return np.concatenate([np.zeros_like(x) if t is None else t for x, t in zip(self.xs, ts)], axis=self.axis)
        if self.kind in ("Maximum", "Minimum"):
            terms = [np.where(pick, t, t.dtype.type(0)) for pick, t in zip(self.picks, ts) if t is not None]
        elif self.kind == "Multiply":
            terms = [t * self._product(self.xs, (i,)) for i, t in enumerate(ts) if t is not None]
        else:
            terms = [t.dtype.type(w) * t for w, t in zip(self._weights(len(ts)), ts) if t is not None]
        return self._full(sum(terms[1:], terms[0]))

    def reverse(self, a, b, grads):
        n = len(self.xs)
        if self.kind == "Concatenate":
            bounds = np.cumsum([x.shape[self.axis] for x in self.xs])[:-1]
            split = lambda g: [None] * n if g is None else np.split(g, bounds, axis=self.axis)    # noqa: E731
            return [(ai, None if t is None else bi) for ai, bi, t in zip(split(a), split(b), self.ts)]
        if self.kind in ("Maximum", "Minimum"):
            pairs = [(None if a is None else a * pick, None if b is None or t is None else b * pick)
                     for pick, t in zip(self.picks, self.ts)]
        elif self.kind != "Multiply":
            pairs = [(None if a is None else a * a.dtype.type(w), None if b is None or t is None else b * b.dtype.type(w))
                     for w, t in zip(self._weights(n), self.ts)]
        else:
            pairs = []
            for i in range(n):
                others = self._product(self.xs, (i,))
                ai = None if a is None else a * others
                if b is not None:       # d<b, t_k prod_{j!=k} x_j>/dx_i for each k != i with a tangent
                    for k, t in enumerate(self.ts):
                        if k != i and t is not None:
                            term = b * t * self._product(self.xs, (i, k))
                            ai = term if ai is None else ai + term
                pairs.append((ai, None if b is None or self.ts[i] is None else b * others))
        return [tuple(None if g is None else self.layer.summed_back(g, self.shapes[i]) for g in pair)
                for i, pair in enumerate(pairs)]


class Frozen(_Step):
    """A call none of whose inputs depends on the source (an Embedding of the labels, a Dense of a
    condition): no tangent, so only first-order cotangents reach it (from a merge or a layer that
    reads it with the source's values), which its own backward on a copy takes to its weights."""

    def __init__(self, layer, weights, training, state=None):
        self.layer, self.training = layer, training
        self.copy = copy.deepcopy(layer)        # (its forward here updates the copy's moving statistics alone)
        self.copy.needs_input_gradient = True
        for key, value in weights.items():
            self.copy.params[key][...] = value
        for key, value in (state or {}).items():        # (the statistics of the call, for inference)
            self.copy.state[key][...] = value
        self.merges = bool(getattr(layer, "merges", False))

    def forward(self, x):
        return np.array(self.copy.forward(x, training=self.training))

    def reverse(self, a, b, grads):
        if a is None:
            return [(None, None)] * len(self.copy.input_shape) if self.merges else (None, None)
        g = self.copy.backward(a)
        if grads is not None and self.layer.trainable:
            for key, value in self.copy.grads.items():
                add(grads, (self.layer, key), np.array(value))
        if self.merges:
            return [(None if gi is None else np.array(gi), None) for gi in g]
        return (None if g is None else np.array(g)), None


_LINEAR = ("Flatten", "Reshape", "Permute", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D",
           "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D", "AveragePooling1D",
           "AveragePooling2D", "AveragePooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
           "GlobalAveragePooling3D")
_WINNERS = ("MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
            "GlobalMaxPooling3D")
_MERGES = ("Add", "Subtract", "Average", "Multiply", "Maximum", "Minimum", "Concatenate")


def steps(layer, weights, training, mask, varying=True, state=None):
    """The steps of one call of ``layer`` (``weights``: {name: its values at the call}, ``state``: its
    ``state`` arrays then, BatchNormalization's moving statistics); ``varying`` False: none of its
    inputs depends on the source (a ``Frozen`` step for any layer)."""
    from . import layers as L
    kind = type(layer)
    if kind is L.Dropout:
        return [] if mask is None else [Mask(mask)]
    if not varying:
        return [Frozen(layer, weights, training, state)]
    described = layer.describe()
    if kind is L.Dense:
        return [Affine(layer, weights["kernel"], weights.get("bias")), activation_step(layer.activation, described)]
    if kind in (L.Conv1D, L.Conv2D, L.Conv3D) and layer.groups == 1:
        return [Convolution(layer, weights["kernel"], weights.get("bias")),
                activation_step(layer.activation, described)]
    if kind is L.Activation:
        return [activation_step(layer.activation, described)]
    if kind is L.Softmax:
        from ._tape_second_act import AxisMixing
        return [AxisMixing("softmax", layer.axis)]
    # (the layer's own forward would overwrite its caches, which its first-order backward reads)
    if kind is L.LeakyReLU or (kind is L.ReLU and layer.max_value is None and layer.threshold == 0):
        from ._tape_second_act import Elementwise
        slope = layer.negative_slope
        return [Elementwise(lambda z: np.where(z > 0, z, z.dtype.type(slope) * z), "leaky_relu",
                            {"negative_slope": slope})]
    if kind is L.ELU:
        from ._tape_second_act import Elementwise
        alpha = layer.alpha
        return [Elementwise(lambda z: np.where(z > 0, z, z.dtype.type(alpha) * np.expm1(np.minimum(z, 0))), "elu",
                            {"alpha": alpha})]
    if kind is L.LayerNormalization and not layer.rms_scaling:
        return [layer_norm(layer, weights)]
    if kind is L.BatchNormalization:
        return [batch_norm(layer, weights, training, state)]
    if kind is L.PReLU:
        return [PReLU(layer, weights["alpha"])]
    name = kind.__name__
    if kind is getattr(L, name, None) and name in _LINEAR:
        return [Linear(layer, training)]
    if kind is getattr(L, name, None) and name in _WINNERS:
        return [Winners(layer, training)]
    if kind is getattr(L, name, None) and name in _MERGES:
        return [Merge(layer)]
    from .layers.tensor_functions import TensorFunction
    from .layers.tensor_ops import TensorOp
    if kind in (TensorOp, TensorFunction):      # (an op drawn in the model's graph: a subclass's call)
        from ._tape_second_ops import drawn_step
        return [drawn_step(layer, described)]
    refuse(described)          # (describe() names the class already)
