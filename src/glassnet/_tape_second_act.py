"""The activations' rules of a nested tape's recorded gradient (glassnet._tape_second): the
element-wise ones by f' and f'' of z, softmax and log_softmax (which mix an axis) by their own
tangent and reverse. Each step here is a ``_Step`` of glassnet._tape_second_rules: ``forward``,
``tangent`` (the forward-mode derivative along t) and ``reverse`` (the cotangents of the input
and of its tangent from those of the output, ``a``, and of its tangent, ``b``; None for zero).
"""
import numpy as np

COVERED = ("Dense, Conv1D, Conv2D, Conv3D (groups=1), Activation, Softmax, LeakyReLU, ReLU (no max_value or "
           "threshold), ELU, PReLU, LayerNormalization (no rms_scaling), BatchNormalization (no renorm), Flatten, Reshape, Permute, Dropout, "
           "ZeroPadding1D/2D/3D, Cropping1D/2D/3D, UpSampling1D/2D/3D, AveragePooling1D/2D/3D, "
           "MaxPooling1D/2D/3D, GlobalAverage- and GlobalMaxPooling1D/2D/3D, Add, Subtract, Multiply, Average, "
           "Concatenate, and any layer on a path that does not depend on the source (an Embedding of labels); "
           "activations linear, relu, leaky_relu, elu, selu, tanh, sigmoid, softplus, gelu, softmax, log_softmax")


def refuse(what):
    """Refuses ``what`` by name (NotImplementedError; ``.what`` keeps it, for ops.jvp's own message)."""
    error = NotImplementedError(
        f"GradientTape.gradient: a nested tape's gradient (a gradient penalty) is recorded on the outer tape for "
        f"graphs of model and layer calls of {COVERED}, and the common glassnet.ops around them; "
        f"{what} is not among them (its second-order gradient is not built). Call the gradient outside the outer "
        f"tape's block, or inside `with tape.stop_recording():` to take it as a constant")
    error.what = what
    raise error


def _sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * z))     # (no overflow warning far below 0)


_SQRT_HALF, _INV_SQRT_2PI, _C, _K = 0.7071067811865476, 0.3989422804014327, 0.7978845608028654, 0.044715
_ELEMENTWISE = ("linear", "relu", "leaky_relu", "tanh", "sigmoid", "elu", "selu", "softplus", "gelu")
_AXIS_MIXING = ("softmax", "log_softmax")


def derivatives(name, settings, z):
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
    if name in ("elu", "selu"):
        from .activations import SELU_ALPHA, SELU_SCALE
        alpha, scale = (settings.get("alpha", 1.0), 1.0) if name == "elu" else (SELU_ALPHA, SELU_SCALE)
        e = z.dtype.type(alpha * scale) * np.exp(np.minimum(z, 0))
        return np.where(z > 0, z.dtype.type(scale), e), np.where(z > 0, 0 * one, e)
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
    refuse(f"the activation {name!r}")


def activation_of(activation, owner):
    """(name, settings) of a built-in ``activation`` this module differentiates twice, else refused."""
    from .activations import ACTIVATIONS, WITH_SETTINGS, builtin_of
    builtin = builtin_of(activation)
    if builtin is not None and builtin.name in _ELEMENTWISE + _AXIS_MIXING:
        return builtin.name, {}
    made = WITH_SETTINGS.get(activation.name)
    base = activation.name.split("(")[0]
    named = ("leaky_relu", "elu", "gelu") + _AXIS_MIXING
    if made is activation and base in named or (
            made is None and base in named and base in ACTIVATIONS
            and getattr(activation.forward, "func", None) is ACTIVATIONS[base].forward):
        return base, dict(activation.forward.keywords)
    refuse(f"{owner}'s activation {activation.name!r}")


def activation_step(activation, owner):
    """The step of ``activation`` (an Activation object) in ``owner`` (a layer's description)."""
    name, settings = activation_of(activation, owner)
    if name in _AXIS_MIXING:
        return AxisMixing(name, settings.get("axis", -1))
    return Elementwise(activation.forward, name, settings)


class Elementwise:
    """y = f(z) value by value: ty = f'(z) tz; reverse a_z = a f'(z) + b f''(z) tz, b_z = b f'(z)."""
    merges = False

    def __init__(self, forward, name, settings):
        self.f, self.name, self.settings = forward, name, settings

    def forward(self, z):
        self.z = z
        self.d1, self.d2 = derivatives(self.name, self.settings, z)
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


class AxisMixing:
    """softmax or log_softmax over ``axis`` (an int or a list of axes normalised together), p = softmax(z):
    softmax: ty = p (t - <p, t>); its Jacobian diag(p) - p p^T is symmetric, so b_t = p (b - <p, b>),
    and d<b, ty>/dp = b (t - <p, t>) - <b, p> t goes back through that Jacobian to z with a.
    log_softmax: ty = t - <p, t>; b_t = b - p sum(b); a_z = a - p sum(a) - sum(b) p (t - <p, t>)."""
    merges = False

    def __init__(self, name, axis):
        self.name, self.axis = name, axis

    def _sum(self, v):
        return v.sum(axis=self.axes, keepdims=True)

    def forward(self, z):
        named = self.axis if isinstance(self.axis, (list, tuple)) else [self.axis]
        self.axes = tuple(sorted(a % z.ndim for a in named))
        e = np.exp(z - z.max(axis=self.axes, keepdims=True))
        self.p = e / self._sum(e)
        return self.p if self.name == "softmax" else np.log(self.p)

    def tangent(self, t):
        self.t = t
        self.centred = t - self._sum(self.p * t)         # t - <p, t>
        return self.p * self.centred if self.name == "softmax" else self.centred

    def reverse(self, a, b, grads):
        p = self.p
        if self.name == "softmax":
            jac = lambda v: p * (v - self._sum(p * v))      # noqa: E731 (the symmetric Jacobian's product)
            c = a
            if b is not None:
                second = b * self.centred - self._sum(b * p) * self.t
                c = second if c is None else c + second
            return (None if c is None else jac(c)), (None if b is None else jac(b))
        az = None if a is None else a - p * self._sum(a)
        if b is not None:
            second = -self._sum(b) * p * self.centred
            az = second if az is None else az + second
        return az, (None if b is None else b - p * self._sum(b))
