"""Second-order gradients: a nested tape's ``gradient``, recorded on the tape recording around it.

keras.io's WGAN-GP (and every ``torch.autograd.grad(..., create_graph=True)`` port) differentiates
a gradient::

    with gn.GradientTape() as tape:                         # outer: records
        with gn.GradientTape() as gp_tape:
            gp_tape.watch(x)
            pred = critic(x, training=True)
        grads = gp_tape.gradient(pred, x)                   # G = d(s . D(x)) / dx: recorded here
        gp = ops.mean((ops.sqrt(ops.sum(ops.square(grads), axis=[1, 2, 3])) - 1.0) ** 2)
    tape.gradient(gp, critic.trainable_weights)

``nested_gradient`` gives G (s: ``output_gradients``, ones by default) as a value recorded on the
outer tape by a ``_SecondOrder`` node. At the outer backward pass that node gets a cotangent v
shaped like x and must give d(v . G)/d(weights) and d(v . G)/dx. Since v . G = s . (J v) is the
derivative of s . D along v, it runs D's forward pass with a tangent (forward mode along v), then
the reverse pass of that (primal, tangent) computation seeded with s on the output's tangent: exact,
as TF's and torch's, no finite differences. Each supported layer is a few ``_Step``s, each with its
forward, tangent and reverse rules side by side: an affine map (Dense, the convolutions: the
tangent is the same map without the bias), an element-wise activation (the tangent f'(z) tz, whose
reverse needs f''(z)), and layers linear in their input (Flatten, Reshape, Dropout with the mask of
the call, the zero paddings, the average poolings: the layer's own pass on a copy, whose backward is
the adjoint).

The inner graph, from the target back to the source, must be a chain of recorded model calls
(Sequential or functional, one input and one output, each layer reading the one before it) and
layer calls of those layers, ended by linear ops (``ops.sum``, ``ops.mean``, reshapes, indexing,
negation) folded into s. Anything else there is refused by name, never differentiated wrongly.
Imported by ``GradientTape.gradient`` when it meets the nested case: ``import glassnet`` does not.
"""
import copy

import numpy as np

from . import _tape_state
from ._tape_calls import _LayerNode, _ModelCall, _rerun
from ._tape_values import Node, Recorded, _paused, _plain, _wrap

COVERED = ("Dense, Conv1D, Conv2D, Conv3D (groups=1), Activation, LeakyReLU, ReLU (no max_value or threshold), "
           "ELU, Flatten, Reshape, Dropout, ZeroPadding1D/2D, AveragePooling1D/2D, GlobalAveragePooling1D/2D; "
           "activations linear, relu, leaky_relu, elu, tanh, sigmoid, softplus, gelu")


def _refuse(what):
    raise NotImplementedError(
        f"GradientTape.gradient: a nested tape's gradient (a gradient penalty) is recorded on the outer tape for "
        f"chains of model and layer calls of {COVERED}, ended by ops.sum, ops.mean, reshapes, indexing or negation; "
        f"{what} is not among them (its second-order gradient is not built). Call the gradient outside the outer "
        f"tape's block, or inside `with tape.stop_recording():` to take it as a constant")


# -- element-wise activations: f, f' and f'' of z -----------------------------------------------------
def _sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * z))     # (no overflow warning far below 0)


_SQRT_HALF, _INV_SQRT_2PI, _C, _K = 0.7071067811865476, 0.3989422804014327, 0.7978845608028654, 0.044715


def _derivatives(name, settings, z):
    """(f'(z), f''(z)) of the element-wise activation ``name`` with ``settings``, in z's dtype."""
    one = z.dtype.type(1)
    if name == "linear":        # (no f'': what comes before the last bias reaches it through nothing, None as in TF)
        return np.ones_like(z), None
    if name in ("relu", "leaky_relu"):
        slope = z.dtype.type(settings.get("negative_slope", 0.0 if name == "relu" else 0.01))
        return np.where(z > 0, one, slope), np.zeros_like(z)
    if name == "tanh":
        t = np.tanh(z)
        d1 = one - t * t
        return d1, -2 * t * d1
    if name in ("sigmoid", "softplus"):
        s = _sigmoid(z)
        d = s * (one - s)
        return (d, d * (one - 2 * s)) if name == "sigmoid" else (s, d)
    if name == "elu":
        alpha = z.dtype.type(settings.get("alpha", 1.0))
        e = alpha * np.exp(np.minimum(z, 0))
        return np.where(z > 0, one, e), np.where(z > 0, 0 * one, e)
    if name == "gelu" and not settings.get("approximate", False):
        from ._erf import erf
        density = np.exp(-0.5 * np.square(np.minimum(np.abs(z), 40))) * z.dtype.type(_INV_SQRT_2PI)
        return 0.5 * (1 + erf(z * z.dtype.type(_SQRT_HALF))) + z * density, density * (2 - z * z)
    if name == "gelu":
        # f = z (1 + tanh u) / 2, u = c (z + k z^3): f' = (1 + t) / 2 + z (1 - t^2) u' / 2,
        # f'' = (1 - t^2) (u' + z (u'' - 2 t u'^2) / 2), u' = c (1 + 3 k z^2), u'' = 6 c k z
        zc = np.clip(z, -1e4, 1e4)
        t = np.tanh(z.dtype.type(_C) * (zc + z.dtype.type(_K) * zc ** 3))
        u1 = z.dtype.type(_C) * (1 + 3 * z.dtype.type(_K) * zc * zc)
        u2 = z.dtype.type(6 * _C * _K) * zc
        sech2 = one - t * t
        return 0.5 * (1 + t) + 0.5 * zc * sech2 * u1, sech2 * (u1 + 0.5 * zc * (u2 - 2 * t * u1 * u1))
    _refuse(f"the activation {name!r}")


def _activation_of(activation, owner):
    """(name, settings) of a built-in element-wise ``activation`` (an Activation), else refused."""
    from .activations import ACTIVATIONS, WITH_SETTINGS, builtin_of
    builtin = builtin_of(activation)
    if builtin is not None and builtin.name in ("linear", "relu", "leaky_relu", "tanh", "sigmoid", "elu",
                                                 "softplus", "gelu"):
        return builtin.name, {}
    made = WITH_SETTINGS.get(activation.name)
    base = activation.name.split("(")[0]
    if made is activation and base in ("leaky_relu", "elu", "gelu") or (
            made is None and base in ("leaky_relu", "elu", "gelu") and base in ACTIVATIONS
            and getattr(activation.forward, "func", None) is ACTIVATIONS[base].forward):
        return base, dict(activation.forward.keywords)
    _refuse(f"{owner}'s activation {activation.name!r}")


# -- the steps: forward, tangent and reverse side by side ---------------------------------------------
class _Step:
    """One map y = F(x) of the chain. ``forward`` keeps what the others need; ``tangent(t)`` gives
    dF(x)[t] (after ``forward``); ``reverse(a, b, grads)`` takes the cotangents of y (``a``) and of
    its tangent (``b``, either None for zero) and gives those of x and of x's tangent, adding the
    weights' gradients into ``grads`` ({(layer, name): array}) when given."""
    weights = ()


class _Affine(_Step):
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
                    _add(grads, (self.layer, "bias"), rows(a).sum(axis=0))
            if b is not None:
                dk = dk + rows(self.t).T @ rows(b)
            _add(grads, (self.layer, "kernel"), dk)
        return (None if a is None else a @ self.kernel.T), (None if b is None else b @ self.kernel.T)


class _Convolution(_Step):
    """z = conv(x, W) + c (Conv1D/2D/3D, any strides, padding and dilation): tz = conv(tx, W)."""

    def __init__(self, layer, kernel, bias):
        self.layer, self.bias, self.shape = layer, bias, kernel.shape
        self.kernel = kernel[None] if layer.rank == 1 else kernel       # (a sequence runs as an image of height 1)
        self.settings = (layer._lifted_axes(layer.strides), layer.padding,
                         layer._lifted_axes(layer.dilation_rate or (1,) * layer.rank))

    def _conv(self, x, bias):
        from .layers.conv import conv_forward
        z, cache = conv_forward(self.layer._lifted(x), self.kernel, bias, *self.settings)
        return self.layer._lowered(z), cache

    def forward(self, x):
        z, self.cache = self._conv(x, self.bias)
        return z

    def tangent(self, t):
        tz, self.tcache = self._conv(t, None)
        return tz

    def reverse(self, a, b, grads):
        from .layers.conv import conv_backward
        out = []
        for g, cache in ((a, getattr(self, "cache", None)), (b, getattr(self, "tcache", None))):
            if g is None:
                out.append(None)
                continue
            dx, dk, db = conv_backward(self.layer._lifted(g), cache, self.kernel)
            if grads is not None:
                _add(grads, (self.layer, "kernel"), dk.reshape(self.shape))
                if db is not None:
                    _add(grads, (self.layer, "bias"), db)
            out.append(self.layer._lowered(dx))
        return tuple(out)


class _Elementwise(_Step):
    """y = f(z) value by value: ty = f'(z) tz; reverse a_z = a f'(z) + b f''(z) tz, b_z = b f'(z)."""

    def __init__(self, forward, name, settings):
        self.f, self.name, self.settings = forward, name, settings

    def forward(self, z):
        self.z = z
        self.d1, self.d2 = _derivatives(self.name, self.settings, z)
        return self.f(z)

    def tangent(self, t):
        self.t = t
        return self.d1 * t

    def reverse(self, a, b, grads):
        az = None if a is None else a * self.d1
        if b is not None and self.d2 is not None:
            second = b * self.d2 * self.t
            az = second if az is None else az + second
        return az, (None if b is None else b * self.d1)


class _Linear(_Step):
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


class _Mask(_Step):
    """Dropout in training: y = x * m, with the mask its recorded call drew."""

    def __init__(self, mask):
        self.mask = mask

    def forward(self, x):
        return x * self.mask

    tangent = forward

    def reverse(self, a, b, grads):
        return tuple(None if g is None else g * self.mask for g in (a, b))


def _add(grads, key, value):
    grads[key] = value if key not in grads else grads[key] + value


_LINEAR = ("Flatten", "Reshape", "ZeroPadding1D", "ZeroPadding2D", "AveragePooling1D", "AveragePooling2D",
           "GlobalAveragePooling1D", "GlobalAveragePooling2D")


def _steps(layer, weights, training, mask):
    """The steps of one call of ``layer`` (``weights``: {name: its values at the call})."""
    from . import layers as L
    kind = type(layer)
    if kind is L.Dense:
        return [_Affine(layer, weights["kernel"], weights.get("bias")),
                _Elementwise(layer.activation.forward, *_activation_of(layer.activation, layer.describe()))]
    if kind in (L.Conv1D, L.Conv2D, L.Conv3D) and layer.groups == 1:
        return [_Convolution(layer, weights["kernel"], weights.get("bias")),
                _Elementwise(layer.activation.forward, *_activation_of(layer.activation, layer.describe()))]
    if kind is L.Activation:
        return [_Elementwise(layer.activation.forward, *_activation_of(layer.activation, layer.describe()))]
    # (the layer's own forward would overwrite its caches, which its first-order backward reads)
    if kind is L.LeakyReLU or (kind is L.ReLU and layer.max_value is None and layer.threshold == 0):
        slope = layer.negative_slope
        return [_Elementwise(lambda z: np.where(z > 0, z, z.dtype.type(slope) * z), "leaky_relu",
                             {"negative_slope": slope})]
    if kind is L.ELU:
        alpha = layer.alpha
        return [_Elementwise(lambda z: np.where(z > 0, z, z.dtype.type(alpha) * np.expm1(np.minimum(z, 0))), "elu",
                             {"alpha": alpha})]
    if kind is L.Dropout:
        return [] if mask is None else [_Mask(mask)]
    if kind.__name__ in _LINEAR and kind is getattr(L, kind.__name__):
        return [_Linear(layer, training)]
    _refuse(f"{layer.describe()} ({kind.__name__})")


# -- the inner graph as a chain ------------------------------------------------------------------------
_TAIL_OPS = ("sum", "mean", "reshape", "convert_to_tensor", "get_item", "negative")


def _calls_of(node):
    """[(layer, weights, training, mask)] of a recorded model or layer call, input first."""
    if isinstance(node, _ModelCall):
        model = node.model
        if model._heads is not None or len(node.parents) != 1 or getattr(model, "_mask_plan", None):
            _refuse(f"the call of model {model.name!r} (several inputs or outputs, or masks)")
        calls, inbound = model._node_layers, model._inbound
        if any(parents != [k - 1] for k, parents in enumerate(inbound)):
            _refuse(f"model {model.name!r}'s graph (a layer reading another than the one before it: merges, "
                    f"branches)")
        layers, forward = list(calls), (lambda: model._forward(node.x, training=node.training))
        owner = model.layers
    else:
        if node.mask is not None:   # (the steps run without it: GlobalAveragePooling1D's mean would take in the padding)
            _refuse(f"the call of {node.layer.describe()} given a mask")
        layers, forward, owner = [node.layer], node._forward_again, [node.layer]
    from .layers import Dropout
    dropping = [layer for layer in layers if type(layer) is Dropout and node.training and layer.rate > 0]
    if len(set(map(id, dropping))) != len(dropping):
        _refuse("a Dropout layer called twice in one model")
    masks = {}
    if dropping:        # the masks of this very call: its pass again where another ran since
        if node.stamp != _tape_state.FORWARDS[0]:
            _rerun(node, owner, forward)
        masks = {id(layer): np.array(layer.mask) for layer in dropping}
    return [(layer, {key: then for (lay, key, then) in node.weights_at if lay is layer} or
             {key: np.array(value) for key, value in layer.params.items()},
             node.training, masks.get(id(layer))) for layer in layers]


def _chain(tape, start, sources):
    """(the linear tail ops from the target, newest first; the calls, input first; the source's
    index in ``sources``, or None where the target does not depend on it; the node made the source
    value (a parent on the outer tape), or None)."""
    tail, calls, node = [], [], start
    while True:
        if isinstance(node, _LayerNode) and not node.weights and not calls:
            if getattr(node.layer, "op", None) not in _TAIL_OPS or len(node.parents) != 1:
                _refuse(f"ops.{getattr(node.layer, 'op', node.what)} on the inner tape")
            tail.append(node)
        elif isinstance(node, _ModelCall) or (isinstance(node, _LayerNode) and node.weights):
            calls.append(node)
        else:
            _refuse(f"{node.what} on the inner tape")
        parent = node.parents[0]
        if parent is None:
            return tail, calls[::-1], None, None
        for k, ids in sources.items():
            if parent in ids:
                return tail, calls[::-1], k, parent
        if tape not in parent.tapes:
            return tail, calls[::-1], None, None
        node = parent


def _source_ids(tape, flat):
    """{index in ``flat``: the nodes that value is (its recorded node, or a tape's leaf of it)}."""
    found = {}
    for k, s in enumerate(flat):
        nodes = set()
        if isinstance(s, Recorded) and s._node is not None:
            nodes.add(s._node)
        elif isinstance(s, np.ndarray):
            for t in [tape, *_tape_state.recording()]:
                entry = t._watched.get(id(s))
                if entry is not None and entry[0] is s:
                    nodes.add(entry[1])
        if nodes:
            found[k] = nodes
    return found


def nested_gradient(tape, target, start, flat, output_gradients, unconnected_gradients):
    """``tape.gradient(target, flat)`` while an outer tape records ``target``'s graph: the gradient
    with respect to the watched (or recorded) input, recorded on the tapes recording now."""
    if any(t in _tape_state.recording() for t in getattr(getattr(output_gradients, "_node", None), "tapes", ())):
        _refuse("output_gradients recorded by the outer tape (give it as constants)")
    sources = _source_ids(tape, flat)
    reach = tape._reach(start)
    # the weights of every call in the target's inner graph, not only of those on the way to a
    # source (the walk stops at the first one met: [h, A's kernel] for B(A(x)))
    chain_weights = {id(w) for node in reach if isinstance(node, _ModelCall) or
                     (isinstance(node, _LayerNode) and node.weights) for w in _weight_arrays(node)}
    for j, s in enumerate(flat):
        if j not in sources and id(s) in chain_weights:
            _refuse("a gradient with respect to a weight (the Jacobian of the weights' gradient)")
    target = np.asarray(_plain(target))
    seed = np.ones(target.shape, target.dtype) if output_gradients is None else \
        np.asarray(_plain(output_gradients), dtype=target.dtype)
    # each source walked to on its own: one may lie before another ([x, h] for B(A(x)): a walk
    # stopping at the first source met gave x None) or be given twice ([x, x]); a source the
    # target's graph does not read gets None without a walk (which would refuse the leaf it meets)
    read = reach | {parent for node in reach for parent in node.parents}
    results = [None] * len(flat)
    for k, ids in sources.items():
        if ids & read:
            results[k] = _recorded_gradient(tape, start, {k: ids}, target, seed, flat[k])
    for j, s in enumerate(flat):
        if results[j] is None and unconnected_gradients == "zero":
            results[j] = np.zeros(np.asarray(s).shape, np.asarray(s).dtype)
    return results


def _recorded_gradient(tape, start, source, target, seed, value):
    """d(seed . target)/d(the one source ``source`` names), recorded (None where the target does not depend on it)."""
    tail, calls, k, parent = _chain(tape, start, source)
    if k is None:
        return None
    with _paused():
        given = seed
        for node in tail:           # linear ops after the last call: their adjoint, the same for any input
            seed = np.asarray(node.layer.backward(seed))
        if not calls:               # linear ops of the source alone: a constant (TF's ones for ops.sum(x))
            return seed.astype(np.asarray(value).dtype, copy=False)
        plan = [step for node in calls for layer, weights, training, mask in _calls_of(node)
                for step in _steps(layer, weights, training, mask)]
        y = np.asarray(calls[0].x)
        for step in plan:
            y = step.forward(y)
        _check_replay(calls[-1], y, target, (given, seed) if tail else None)
        seed = seed.astype(y.dtype, copy=False)
        a = seed
        for step in reversed(plan):
            a, _ = step.reverse(a, None, None)
    return _wrap(a.astype(np.asarray(value).dtype, copy=False), _SecondOrder(parent, calls, plan, seed))


def _weight_arrays(call):
    """Every array a recorded call's weights go by (its model's views, its layers' own)."""
    layers = call.model.layers if isinstance(call, _ModelCall) else [call.layer]
    views = [param for _, _, param, _ in getattr(call.model, "_views", ())] if isinstance(call, _ModelCall) else []
    return views + [param for layer in layers for param in layer.params.values()]


def _check_replay(call, y, target, seeds=None):
    """The chain's forward pass must give what the recorded call gave (else a layer here computes
    otherwise than its own: refused rather than differentiated wrongly). ``seeds``: (s, the tail's
    adjoint of s) where linear ops T follow the call: the target is T(output) then, so s . target
    must be (T's adjoint of s) . y (else a replay differing from the call went unseen after them)."""
    if seeds is None:
        shape = tuple(call.shape) if isinstance(call, _ModelCall) else tuple(np.shape(target))
        close = np.allclose(np.asarray(target), y, rtol=1e-3, atol=1e-5 * (1 + np.abs(y).max(initial=0)))
    else:
        shape = tuple(call.shape) if isinstance(call, _ModelCall) else y.shape
        given, seed = seeds
        replayed, recorded = float(np.sum(seed * y)), float(np.sum(given * np.asarray(target)))
        close = abs(replayed - recorded) <= 1e-3 * abs(recorded) + 1e-5 * (1 + float(np.sum(np.abs(seed * y))))
    if shape != y.shape or not close:
        _refuse(f"{call.what} (its layers' pass replayed here does not give its recorded output)")


class _SecondOrder(Node):
    """G = d(s . D(x))/dx, recorded: its backward takes v (x's shape) and gives d(v . G)/dx to x's
    node and d(v . G)/d(weights), from D's forward pass along v and that pass' reverse."""

    def __init__(self, parent, calls, plan, seed):
        super().__init__([parent], "a nested tape's gradient")
        self.plan, self.seed = plan, seed
        self.weights_at = [w for call in calls for w in call.weights_at]     # (watch_accessed_variables=False reads it)
        self.views = {}         # {(id(layer), name): the array the outer tape knows the weight by}
        for call in calls:
            views = getattr(call.model, "_views", ()) if isinstance(call, _ModelCall) else \
                [(call.layer, key, value, None) for key, value in call.layer.params.items()]
            for layer, key, param, _ in views:
                if layer.trainable:
                    self.views[(id(layer), key)] = param

    def backward(self, g, zg, add_weight, wants):
        t = np.asarray(g, dtype=self.seed.dtype)
        for step in self.plan:        # the tangent of every step along v
            t = step.tangent(t)
        a, b, grads = None, self.seed, {}
        for step in reversed(self.plan):
            a, b = step.reverse(a, b, grads)
        for (layer, key), grad in grads.items():
            param = self.views.get((id(layer), key))
            if param is not None:
                add_weight(param, grad)
        # None: the chain is affine (linear activations only), so G does not depend on x: no
        # gradient reaches x (TF's and torch's None). (Zeros of ``t``'s shape were the output's,
        # not x's: a wrong shape, which failed beside x's other gradients)
        return [a]
