"""Activation functions: each a forward and a backward side by side, stable for any finite input.

``forward(z) -> a`` and ``backward(grad_a, z, a) -> grad_z`` take arrays of any shape (the last axis is
the feature axis, which matters only for softmax). ``backward`` reuses the ``a`` that forward cached
(sigmoid' = a (1 - a), tanh' = 1 - a^2), so no transcendental is evaluated twice.

Every function but ``exponential`` is stable at |z| = 1e4: no overflow warning, no NaN.

Keras' settings are keyword arguments of the function and its backward (``celu(z, alpha=2.0)``,
``backprop_celu(g, z, a, alpha=2.0)``, relu's ``negative_slope``/``max_value``/``threshold``,
elu's ``alpha``, leaky_relu's ``negative_slope``, softmax's, log_softmax's, glu's and sparsemax's
``axis``); a name gives Keras'
defaults. ``glu`` halves the last axis, so by name only the Activation layer takes it; ``threshold``
has no defaults, so no name runs it (see ``get``).

``leaky_relu`` has slope 0.01 below zero, PyTorch's default; Keras' ``activation="leaky_relu"``
uses 0.2 (and its ``LeakyReLU`` layer 0.3), so the same network gives different numbers there.
"""
import functools
import inspect
import math
import numbers
import re

import numpy as np

from . import _erf, backend
from ._rows import row_max
from ._validation import check_number, refuse_positional_data_format


class Activation:
    """A named pair of functions. ``name`` is what configs and error messages use."""

    def __init__(self, name, forward, backward):
        self.name, self.forward, self.backward = name, forward, backward

    def __repr__(self):
        return f"<activation {self.name}>"

    def __call__(self, x):
        """Keras' ``activations.get(name)(x)``, the function it returns called (keras.io's
        mixture-of-experts layers, ``self.expert_activation(expert_outputs)`` in ``call``): on a
        tensor of a model being drawn an ``Activation`` layer's node of this activation (its
        backward pass comes with it), on an array the forward pass. Layers run ``forward`` and
        ``backward`` themselves, never this."""
        if ACTIVATIONS.get(self.name) is self:
            # a built-in one: the module's function of its name, which takes arrays, numbers, a
            # model's tensors and a GradientTape's values (through glassnet.ops) as Keras' does
            return globals()[self.name](x)
        from ._ops_reading import _is_tensor
        if _is_tensor(x):
            from .layers.activation import Activation as ActivationLayer
            return ActivationLayer(self)(x)
        return self.forward(np.asarray(x))


class LayerSetting:
    """A layer's ``activation`` (or ``recurrent_activation``) attribute, written as Keras code writes
    it after construction: ``model.layers[-1].activation = None`` (keras.io's Grad-CAM and integrated
    gradients take the logits so), ``= keras.activations.linear``, ``= "relu"``: each value goes
    through ``get_for``, so the layer keeps an ``Activation`` its forward and backward can run (a
    plain ``None`` there failed with "'NoneType' object has no attribute 'forward'" at the next
    call), and a value it cannot take is refused naming the layer and the attribute.

    A data descriptor with ``__set__`` only: reading the attribute is the plain instance lookup,
    no Python call on the forward pass."""

    def __set_name__(self, owner, name):
        self.name = name

    def __set__(self, layer, value):
        if not isinstance(value, Activation):
            value = get_for(value, type(layer).__name__, self.name)
        layer.__dict__[self.name] = value


def linear(z):
    return z


def backprop_linear(grad_a, z, a):
    return grad_a


def sigmoid(z):
    # 1 / (1 + exp(-z)). exp(-z) would overflow (with a warning) for z below about -88 in float32
    # (-709 in float64); clipping -z there changes nothing visible: 1 / (1 + e^88) is already
    # ~6e-39, below float32's normal range. The vectorised exp is about twice as fast as tanh.
    a = np.negative(z)
    _with_constant(np.minimum, a, _EXP_LIMIT[a.dtype.char], out=a)
    np.exp(a, out=a)
    a += 1
    np.reciprocal(a, out=a)
    return a


# the largest argument whose exp is finite, per floating dtype ('f' float32, 'd' float64)
_EXP_LIMIT = {"e": 11.0, "f": 88.0, "d": 709.0, "g": 709.0}

# Below this many elements the reshapes of ``_with_constant`` cost more than they save.
_ROW_TRICK_MIN_SIZE = 4096


@functools.lru_cache(maxsize=64)
def _constant_row(xp, value, length, dtype):
    row = xp.full(length, value, dtype=dtype)
    if xp is np:
        row.flags.writeable = False      # shared by every call: nobody may write into it
    return row


def _with_constant(ufunc, z, value, out=None):
    """``ufunc(z, value, out=out)`` for a scalar ``value``, computed as ``ufunc(z, row)`` with a
    cached row of ``value`` broadcast over the batch axis.

    Why: NumPy's SIMD loops for ``maximum``/``minimum`` cover two contiguous arrays but not an array
    and a scalar, which runs ~3-4x slower on large arrays (measured: ReLU of a (64, 26, 26, 8) float32
    array 255 us with the scalar, 71 us with the row). The values are identical.
    """
    # the size first: small arrays (most calls in a small network) skip the flag lookups
    if (z.size < _ROW_TRICK_MIN_SIZE or not z.flags.c_contiguous
            or (out is not None and not out.flags.c_contiguous)):
        return ufunc(z, value, out=out)
    n = z.shape[0]
    row = _constant_row(backend.get_array_module(z), value, z.size // n, z.dtype)
    flat_out = None if out is None else out.reshape(n, -1)       # a view: out is contiguous
    return ufunc(z.reshape(n, -1), row, out=flat_out).reshape(z.shape)


def backprop_sigmoid(grad_a, z, a):
    # dA * a * (1 - a)
    g = np.subtract(1, a)
    g *= a
    g *= grad_a
    return g


def tanh(z):
    return np.tanh(z)


def backprop_tanh(grad_a, z, a):
    # dA * (1 - a^2)
    g = np.multiply(a, a)
    np.subtract(1, g, out=g)
    g *= grad_a
    return g


def relu(z, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(z, 0); with Keras' settings (``relu(x, negative_slope=0.0, max_value=None,
    threshold=0.0)``) the rule of Keras' ``ReLU`` layer, which runs them (Keras' function runs its
    layer's ``static_call`` too): z above the threshold, at most ``max_value``, else
    ``negative_slope * (z - threshold)``. Any shape; the same shape back. A negative threshold,
    which Keras' layer refuses and its function takes, is its function's formula
    (glassnet._relu_below_zero): z itself between the threshold and 0 (0 with a ``max_value``).

    >>> relu(np.array([-2.0, 3.0, 9.0]), negative_slope=0.5, max_value=6.0).tolist()
    [-1.0, 3.0, 6.0]
    """
    if negative_slope == 0 and max_value is None and threshold == 0:     # the layers' path
        return _with_constant(np.maximum, z, 0)
    if _below_zero(threshold):                  # Keras' function takes it, its layer does not
        from ._relu_below_zero import relu_below_zero
        return relu_below_zero(z, negative_slope, _relu_layer(negative_slope, max_value, 0.0, "relu").max_value,
                               threshold)
    return _relu_layer(negative_slope, max_value, threshold, "relu").forward(z)


def _below_zero(threshold):
    """Whether ``threshold`` is a negative number (computed by glassnet._relu_below_zero)."""
    return isinstance(threshold, (int, float, np.number)) and not isinstance(threshold, bool) and threshold < 0


def _relu_layer(negative_slope, max_value, threshold, caller):
    """The ReLU layer that computes relu's settings; ``caller`` (the function's name) starts the
    message refusing a setting the layer does not take (negative ones, as Keras' layer refuses
    them; Keras' function runs them unchecked)."""
    # imported here: glassnet.layers imports this module
    from .layers.activation import ReLU
    try:
        return ReLU(max_value=max_value, negative_slope=negative_slope, threshold=threshold)
    except ValueError as exc:       # ("ReLU: threshold must be ...": a layer the caller never made)
        raise ValueError(str(exc).replace("ReLU: ", f"{caller}: ", 1)) from None


# Below this many elements ReLU's backward multiplies by sign(a) rather than a bool mask (measured:
# faster on (32, 50), slower on (64, 128) and up)
_SIGN_MASK_MAX_SIZE = 4096


def backprop_relu(grad_a, z, a, negative_slope=0.0, max_value=None, threshold=0.0):
    # the derivative at exactly 0 is taken as 0, like PyTorch and Keras
    if negative_slope != 0 or max_value is not None or threshold != 0:
        if _below_zero(threshold):
            from ._relu_below_zero import backprop_relu_below_zero
            checked = _relu_layer(negative_slope, max_value, 0.0, "backprop_relu")       # the other settings
            return backprop_relu_below_zero(grad_a, z, negative_slope, checked.max_value, threshold)
        # Keras' settings: the ReLU layer's derivative (its kinks as Keras' own paths have them)
        layer = _relu_layer(negative_slope, max_value, threshold, "backprop_relu")
        layer.forward(z)
        return layer.backward(grad_a)
    if z.size < _SIGN_MASK_MAX_SIZE:
        # small arrays: sign(a) is the same 0/1 mask as floats (a = max(z, 0) >= 0), and a float
        # by float product skips the bool-to-float cast, whose set-up costs NumPy more than a
        # small multiply (a (32, 50) backward: 1.9 -> 1.2 us). Large arrays compare instead:
        # sign has no fast loop there.
        mask = np.sign(a)
        mask *= grad_a
        return mask
    # the bool mask cast to floats in one pass, then a float by float product: faster than
    # multiply(grad_a, z > 0), whose mixed bool-float loop casts in small buffered chunks
    # (measured: (64, 26, 26, 8) 103 -> 86 us, (64, 11, 11, 16) 38 -> 32 us); the same values
    mask = (z > 0).astype(grad_a.dtype)
    mask *= grad_a
    return mask


# PyTorch's default slope. Keras differs: its "leaky_relu" activation uses negative_slope=0.2, its
# LeakyReLU layer 0.3. Kept at 0.01 because trained results depend on it; for another slope, pass
# an Activation of your own.
LEAKY_SLOPE = 0.01


def leaky_relu(z, negative_slope=LEAKY_SLOPE):
    """z where z > 0, else ``negative_slope`` z: 0.01 (``LEAKY_SLOPE``, PyTorch's default) unless
    given; Keras' function and its "leaky_relu" use 0.2, so a port of ``leaky_relu(x)`` writes
    ``leaky_relu(x, negative_slope=0.2)``.

    >>> leaky_relu(np.array([-2.0, 3.0]))
    array([-0.02,  3.  ])
    """
    if negative_slope != LEAKY_SLOPE:
        negative_slope = check_number(negative_slope, "leaky_relu: negative_slope", "finite")
    return np.where(z > 0, z, negative_slope * z)


def backprop_leaky_relu(grad_a, z, a, negative_slope=LEAKY_SLOPE):
    return np.where(z > 0, grad_a, negative_slope * grad_a)


def elu(z, alpha=1.0):
    """z for z > 0, else ``alpha`` (e^z - 1) (Keras' ``elu(x, alpha=1.0)``, PyTorch's ``elu``)."""
    # expm1 of min(z, 0) never overflows and is exact near 0
    if alpha != 1:
        alpha = check_number(alpha, "elu: alpha", "finite")
        return np.where(z > 0, z, z.dtype.type(alpha) * np.expm1(np.minimum(z, 0)))
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))


def backprop_elu(grad_a, z, a, alpha=1.0):
    if alpha != 1:
        # alpha e^z below 0, from z (a + alpha cancels far below 0), as the ELU layer has it
        return np.where(z > 0, grad_a, grad_a * (alpha * np.exp(np.minimum(z, 0))))
    # for z <= 0: d/dz (e^z - 1) = e^z = a + 1
    return np.where(z > 0, grad_a, grad_a * (a + 1))


# SELU's constants (Klambauer et al. 2017), to the precision PyTorch and TensorFlow use
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(z):
    """scale * (z if z > 0 else alpha * (e^z - 1)): self-normalising networks (use lecun_normal)."""
    return SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0)))


def backprop_selu(grad_a, z, a):
    # for z <= 0: a = scale * alpha * (e^z - 1), so da/dz = scale * alpha * e^z = a + scale * alpha
    return np.where(z > 0, SELU_SCALE * grad_a, grad_a * (a + SELU_SCALE * SELU_ALPHA))


def softplus(z):
    """log(1 + e^z), written as max(z, 0) + log1p(e^-|z|): e^z never overflows.

    >>> softplus(np.array([0.0, 1e4]))
    array([6.93147181e-01, 1.00000000e+04])
    """
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def backprop_softplus(grad_a, z, a):
    return grad_a * sigmoid(z)                  # d/dz log(1 + e^z) = sigmoid(z)


def softsign(z):
    """z / (1 + |z|)."""
    return z / (1 + np.abs(z))


def backprop_softsign(grad_a, z, a):
    d = 1 + np.abs(z)
    return grad_a / (d * d)


def _floored(z):
    """z raised to sigmoid's clip, ``-_EXP_LIMIT``, for the factor z that multiplies a sigmoid(z).

    sigmoid stops at 1 / (1 + e^88) ~ 6e-39 below z = -88 (float32) instead of reaching 0, so
    z * sigmoid(z) would be -1.8 at z = -3e38 where it is 0 (PyTorch's and Keras' -0); with z
    floored there the product is ~-5e-37, and nothing changes above the clip."""
    # np.dtype(): a drawn tensor's dtype is a name ("float32"); then np.maximum refuses it by name
    return np.maximum(z, -_EXP_LIMIT[np.dtype(z.dtype).char])


def silu(z):
    """z * sigmoid(z), also called swish (Keras accepts both names)."""
    return _floored(z) * sigmoid(z)


def backprop_silu(grad_a, z, a):
    # d/dz z s(z) = s + z s (1 - s) = s (1 + z (1 - s)); s again rather than a / z, which fails at 0
    s = sigmoid(z)
    return grad_a * s * (1 + _floored(z) * (1 - s))


_SQRT_HALF = 0.7071067811865476            # 1 / sqrt(2)
_INV_SQRT_2PI = 0.3989422804014327         # 1 / sqrt(2 pi)


def gelu(z, approximate=False):
    """z * Phi(z), Phi the standard normal CDF: 0.5 z (1 + erf(z / sqrt 2)), the exact GELU of
    Keras' and PyTorch's defaults. NumPy has no erf: glassnet's (``glassnet._erf``) sums two
    Chebyshev series, some 90 passes over the array, so gelu costs about 40 relus (0.29 ms on a
    64 x 128 float32 batch where relu takes 7 us).

    ``approximate=True``: Hendrycks and Gimpel's tanh form, Keras' ``gelu(x, approximate=True)``
    and PyTorch's ``gelu(approximate="tanh")`` (GPT-2's), within 5e-4 of the exact one:
    0.5 z (1 + tanh(sqrt(2 / pi) (z + 0.044715 z^3))).

    >>> gelu(np.array([-1.0, 0.0, 1.0]))
    array([-0.15865525,  0.        ,  0.84134475])
    >>> gelu(np.array([-1.0, 0.0, 1.0]), approximate=True)
    array([-0.15880801,  0.        ,  0.84119199])
    """
    if _tanh_form(approximate):
        return 0.5 * z * (1 + np.tanh(_tanh_argument(z)))
    return 0.5 * z * (1 + _erf.erf(z * _SQRT_HALF))


def backprop_gelu(grad_a, z, a, approximate=False):
    if _tanh_form(approximate):
        # d/dz 0.5 z (1 + tanh u) = 0.5 (1 + tanh u) + 0.5 z (1 - tanh^2 u) du/dz,
        # u = sqrt(2 / pi) (z + 0.044715 z^3), du/dz = sqrt(2 / pi) (1 + 3 * 0.044715 z^2)
        # (z clipped as in the forward: past 1e4 the second term is 0, and z^2 cannot overflow)
        clipped = _clipped(z)
        t = np.tanh(_tanh_argument(z))
        slope = _SQRT_2_OVER_PI * (1 + 3 * _GELU_CUBIC * np.square(clipped))
        return grad_a * (0.5 * (1 + t) + 0.5 * clipped * (1 - np.square(t)) * slope)
    # d/dz z Phi(z) = Phi(z) + z phi(z), phi(z) = exp(-z^2 / 2) / sqrt(2 pi). Phi is computed again
    # (a / z would lose it near 0); |z| is clipped at 40 before squaring, where phi is already 0,
    # so that z^2 cannot overflow
    xp = backend.get_array_module(z)
    density = xp.exp(-0.5 * xp.square(xp.minimum(xp.abs(z), 40.0))) * _INV_SQRT_2PI
    return grad_a * (0.5 * (1 + _erf.erf(z * _SQRT_HALF)) + z * density)


_SQRT_2_OVER_PI = 0.7978845608028654        # sqrt(2 / pi)
_GELU_CUBIC = 0.044715


def _tanh_form(approximate):
    if not isinstance(approximate, (bool, np.bool_)):
        raise TypeError(f"gelu: approximate must be True or False, got {approximate!r:.50}")
    return bool(approximate)


def _clipped(z):
    """z clipped to [-1e4, 1e4]: there tanh of the argument below is already +-1 in float64, and
    z^3 cannot overflow in float32."""
    return backend.get_array_module(z).clip(z, -1e4, 1e4)


def _tanh_argument(z):
    """sqrt(2 / pi) (z + 0.044715 z^3), in z's dtype, of z clipped (the same tanh, no overflow)."""
    clipped = _clipped(z)
    return _SQRT_2_OVER_PI * (clipped + _GELU_CUBIC * clipped * clipped * clipped)


def softmax(z, axis=-1):
    """exp(z) / sum(exp(z)) along ``axis`` (Keras' ``softmax(x, axis=-1)``), so each slice along
    it sums to 1: ``softmax(teacher_logits / T, axis=1)`` for logits (n, k). Any shape; the
    same shape back.

    >>> softmax(np.array([[0.0, 1.0], [0.0, 1.0]]), axis=0).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """
    if isinstance(axis, (tuple, list)):     # several axes (Keras takes a tuple): one softmax over them
        e = np.subtract(z, z.max(axis=_axes(axis, z, "softmax"), keepdims=True))
        np.exp(e, out=e)
        e /= e.sum(axis=_axes(axis, z, "softmax"), keepdims=True)
        return e
    if axis != -1:      # the layers' hot path (the last axis) checks nothing
        axis = _axis(axis, z, "softmax")
        return np.moveaxis(softmax(np.moveaxis(z, axis, -1)), -1, axis)
    # subtracting the row maximum makes every exponent <= 0: no overflow, same result
    e = np.subtract(z, row_max(z, keepdims=True))
    np.exp(e, out=e)
    e /= e.sum(axis=-1, keepdims=True)
    return e


def backprop_softmax(grad_a, z, a, axis=-1):
    # Jacobian-vector product of softmax: a * (dA - sum(dA * a)), the sum along ``axis``
    if axis != -1:
        axis = _axes(axis, z, "softmax")
    inner = np.multiply(grad_a, a).sum(axis=axis, keepdims=True)
    g = np.subtract(grad_a, inner)
    g *= a
    return g


def hard_sigmoid(z):
    # Keras 3's and PyTorch's: relu6(z + 3) / 6, i.e. z / 6 + 1/2 clipped to [0, 1] (Keras 2's
    # LSTM default; Keras 2's own used 0.2 z + 0.5)
    a = np.multiply(z, 1 / 6)
    a += 0.5
    np.clip(a, 0, 1, out=a)
    return a


def backprop_hard_sigmoid(grad_a, z, a):
    # 1/6 strictly inside (-3, 3), where a is strictly between 0 and 1; 0 on the flat parts
    g = np.multiply(grad_a, 1 / 6)
    g *= (a > 0) & (a < 1)
    return g


def relu6(z):
    # MobileNet's bounded ReLU: min(max(z, 0), 6)
    return np.clip(z, 0, 6)


def backprop_relu6(grad_a, z, a):
    # 1 strictly inside (0, 6), 0 on the flat parts (and at the kinks, as PyTorch and Keras)
    return grad_a * ((z > 0) & (z < 6))


def hard_silu(z):
    # Keras 3's hard_silu (hard_swish, MobileNetV3's): z * hard_sigmoid(z) = z * relu6(z + 3) / 6
    return z * hard_sigmoid(z)


def backprop_hard_silu(grad_a, z, a):
    # (z relu6(z + 3) / 6)' = relu6(z + 3) / 6 + z / 6 inside (-3, 3): (2 z + 3) / 6; 0 below -3, 1 above 3
    g = np.where(z <= -3, 0.0, np.where(z >= 3, 1.0, (2 * z + 3) / 6)).astype(z.dtype, copy=False)
    g *= grad_a
    return g


def mish(z):
    """z * tanh(softplus(z)) (Misra 2019), Keras' and PyTorch's ``mish``."""
    return z * np.tanh(softplus(z))


def backprop_mish(grad_a, z, a):
    # d/dz z tanh(sp(z)) = tanh(sp) + z (1 - tanh(sp)^2) sigmoid(z), as sp' = sigmoid
    t = np.tanh(softplus(z))
    return grad_a * (t + _floored(z) * (1 - t * t) * sigmoid(z))


def log_softmax(z, axis=-1):
    # z - logsumexp(z) along ``axis`` (Keras' ``log_softmax(x, axis=-1)``), with the maximum
    # subtracted first: never exp of a positive number, and exact where softmax itself would
    # underflow to 0 (log(0) = -inf)
    if isinstance(axis, (tuple, list)):     # several axes: one log_softmax over them
        axes = _axes(axis, z, "log_softmax")
        shifted = np.subtract(z, z.max(axis=axes, keepdims=True))
        shifted -= np.log(np.exp(shifted).sum(axis=axes, keepdims=True))
        return shifted
    if axis != -1:
        axis = _axis(axis, z, "log_softmax")
        return np.moveaxis(log_softmax(np.moveaxis(z, axis, -1)), -1, axis)
    shifted = np.subtract(z, row_max(z, keepdims=True))
    shifted -= np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return shifted


def backprop_log_softmax(grad_a, z, a, axis=-1):
    # Jacobian-vector product: dA - softmax(z) * sum(dA), with softmax = exp(log_softmax)
    if axis != -1:
        axis = _axes(axis, z, "log_softmax")
    return grad_a - np.exp(a) * grad_a.sum(axis=axis, keepdims=True)


# ---- Keras 3's further activations. Each takes Keras' settings as keyword arguments (celu's alpha,
# the shrinks' threshold, squareplus' b, glu's and sparsemax's axis), its backprop_ the same ones;
# by name (Dense(activation="celu")) each runs with Keras' defaults. Another setting in a layer: an
# Activation of your own under a name of its own (see ``get``), as for leaky_relu's slope.

def _axis(axis, z, caller):
    """``axis`` as a non-negative index of ``z``'s axes; a TypeError/ValueError naming ``caller``."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{caller}: axis: expected an integer, got {axis!r:.80}")
    if not -z.ndim <= axis < z.ndim:
        raise ValueError(f"{caller}: axis: expected an axis of the input, which has {z.ndim}, got {axis}")
    return int(axis) % z.ndim


def _axes(axis, z, caller):
    """``axis`` (an integer, or a tuple of them: Keras' softmax takes one) checked as ``_axis``."""
    if isinstance(axis, (tuple, list)):
        axes = tuple(_axis(a, z, caller) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"{caller}: axis: names an axis twice, got {tuple(axis)}")
        return axes
    return _axis(axis, z, caller)


def celu(z, alpha=1.0):
    """z for z >= 0, else alpha (e^(z / alpha) - 1) (Barron 2017; Keras' and PyTorch's ``celu``).

    >>> celu(np.array([-1.0, 2.0]), alpha=2.0)
    array([-0.78693868,  2.        ])
    """
    alpha = check_number(alpha, "celu: alpha", "> 0")
    # expm1 of min(z, 0) / alpha never overflows and is exact near 0
    return np.maximum(z, 0) + alpha * np.expm1(np.minimum(z, 0) / alpha)


def backprop_celu(grad_a, z, a, alpha=1.0):
    # e^(z / alpha) below 0 (1 at 0 from both sides), computed again: a / alpha + 1 cancels far below 0
    alpha = check_number(alpha, "celu: alpha", "> 0")
    return np.where(z > 0, grad_a, grad_a * np.exp(np.minimum(z, 0) / alpha))


def exponential(z):
    """e^z. The one activation that overflows: to inf (with NumPy's warning) above ~88 in float32
    and ~709 in float64, as Keras' and PyTorch's exp do."""
    return np.exp(z)


def backprop_exponential(grad_a, z, a):
    return grad_a * a


def _halves(z, axis, caller):
    axis = _axis(axis, z, caller)
    n = z.shape[axis]
    if n % 2:
        raise ValueError(f"{caller}: the size of axis {axis} must be even, to split it into two halves, "
                         f"got {n} (input of shape {z.shape})")
    return axis, np.split(z, 2, axis=axis)


def glu(z, axis=-1):
    """Gated linear unit (Dauphin et al. 2017): ``first * sigmoid(second)``, the two halves of
    ``axis``, so the output has half its size (Keras' and PyTorch's ``glu``, PyTorch's order).
    By name only the ``Activation`` layer takes it (see ``get``).

    >>> glu(np.array([[1.0, 2.0, 0.0, 100.0]]))
    array([[0.5, 2. ]])
    """
    _, (first, second) = _halves(z, axis, "glu")
    return first * _gate(second)


def _gate(second):
    """sigmoid(second) without ``sigmoid``'s clip of its input at -88 (float32): the gate multiplies
    ``first``, and 3e38 * sigmoid(-88) is 1.8 where the true glu is 0 (Keras' and PyTorch's 0).
    Written as e / (1 + e) below 0 and 1 / (1 + e) above, e = exp(-|second|): exp never overflows,
    and below -88 it goes smoothly to 0."""
    xp = backend.get_array_module(second)
    e = xp.exp(-xp.abs(second))
    return xp.where(second >= 0, xp.ones((), dtype=e.dtype), e) / (1 + e)


def backprop_glu(grad_a, z, a, axis=-1):
    # d/d first = sigmoid(second); d/d second = first * s (1 - s)
    axis, (first, second) = _halves(z, axis, "glu")
    s = _gate(second)
    g_first = grad_a * s
    return np.concatenate([g_first, g_first * first * (1 - s)], axis=axis)


def hard_shrink(z, threshold=0.5):
    """z where |z| > threshold, else 0 (Keras' and PyTorch's ``hard_shrink``/``hardshrink``)."""
    threshold = check_number(threshold, "hard_shrink: threshold", ">= 0")
    return np.where(np.abs(z) > threshold, z, 0).astype(z.dtype, copy=False)


def backprop_hard_shrink(grad_a, z, a, threshold=0.5):
    # 1 where |z| > threshold, 0 at and inside it (PyTorch's, and Keras' where)
    threshold = check_number(threshold, "hard_shrink: threshold", ">= 0")
    return grad_a * (np.abs(z) > threshold)


def hard_tanh(z):
    """z clipped to [-1, 1]."""
    return np.clip(z, -1, 1)


def backprop_hard_tanh(grad_a, z, a):
    # 1 strictly inside (-1, 1): PyTorch's hardtanh (and glassnet's relu6, hard_sigmoid) take 0 at
    # the kinks; Keras' TensorFlow clip passes the gradient there
    return grad_a * ((z > -1) & (z < 1))


def log_sigmoid(z):
    """log(sigmoid(z)) = -softplus(-z), written as min(z, 0) - log1p(e^-|z|): exact for any z,
    where log(sigmoid(z)) gives -inf below about -88 (float32) and loses everything above 17.

    >>> log_sigmoid(np.array([-1e4, 0.0, 40.0]))
    array([-1.00000000e+04, -6.93147181e-01, -4.24835426e-18])
    """
    return np.minimum(z, 0) - np.log1p(np.exp(-np.abs(z)))


def backprop_log_sigmoid(grad_a, z, a):
    return grad_a * sigmoid(np.negative(z))       # d/dz log sigmoid(z) = 1 - sigmoid(z) = sigmoid(-z)


def soft_shrink(z, threshold=0.5):
    """z - threshold above threshold, z + threshold below -threshold, else 0."""
    threshold = check_number(threshold, "soft_shrink: threshold", ">= 0")
    return z - np.clip(z, -threshold, threshold)


def backprop_soft_shrink(grad_a, z, a, threshold=0.5):
    threshold = check_number(threshold, "soft_shrink: threshold", ">= 0")
    return grad_a * (np.abs(z) > threshold)        # 0 at +-threshold, as PyTorch and Keras


def sparse_plus(z):
    """0 for z <= -1, (z + 1)^2 / 4 inside (-1, 1), z for z >= 1: a softplus that is exactly 0 and
    exactly linear outside (-1, 1), with a continuous derivative."""
    c = np.clip(z, -1, 1)
    c += 1
    return np.where(z >= 1, z, 0.25 * c * c)


def backprop_sparse_plus(grad_a, z, a):
    # (z + 1) / 2 inside, 0 below, 1 above: continuous, no kink to choose a side at
    c = np.clip(z, -1, 1)
    c += 1
    c *= 0.5
    return grad_a * c


def sparse_sigmoid(z):
    """(z + 1) / 2 clipped to [0, 1]."""
    a = np.add(z, 1)
    a *= 0.5
    np.clip(a, 0, 1, out=a)
    return a


def backprop_sparse_sigmoid(grad_a, z, a):
    # 1/2 strictly inside (-1, 1), 0 at the kinks and outside (Keras' where does so at both)
    g = np.multiply(grad_a, 0.5)
    g *= (z > -1) & (z < 1)
    return g


def sparsemax(z, axis=-1):
    """The Euclidean projection of each row (along ``axis``) onto the probability simplex (Martins
    and Astudillo 2016): ``max(z - tau, 0)``, tau such that the row sums to 1, so that small scores
    get probability exactly 0. Keras 3.15's sum to less than 1 when more than one entry stays
    (keras-team/keras#23425, fixed after 3.15); glassnet's is the paper's.

    >>> sparsemax(np.array([[0.0, 0.5, 1.0], [3.0, 0.0, 0.5]]))
    array([[0.  , 0.25, 0.75],
           [1.  , 0.  , 0.  ]])
    """
    axis = _axis(axis, z, "sparsemax")
    x = np.moveaxis(z, axis, -1)
    if x.shape[-1] == 0:            # rows of no entries: nothing to project (Keras gives them back)
        return np.array(z, copy=True)
    x = x - x.max(axis=-1, keepdims=True)           # the same projection; the largest score is 0
    ranked = np.sort(x, axis=-1)[..., ::-1]
    sums = np.cumsum(ranked, axis=-1)
    # the ranks on x's own device: a NumPy array mixed into a CuPy product is refused there
    ranks = backend.get_array_module(x).arange(1, x.shape[-1] + 1, dtype=x.dtype)
    # the entries that stay: the leading ones with 1 + k z_(k) > z_(1) + ... + z_(k) (at least one)
    k = np.count_nonzero(1 + ranks * ranked > sums, axis=-1)[..., None]
    tau = (np.take_along_axis(sums, k - 1, axis=-1) - 1) / k.astype(x.dtype)
    x -= tau
    np.maximum(x, 0, out=x)
    return np.moveaxis(x, -1, axis)


def backprop_sparsemax(grad_a, z, a, axis=-1):
    # the Jacobian is diag(s) - s s^T / |S|, s the 0/1 indicator of the entries that stay:
    # the gradient's mean over them taken off, 0 elsewhere
    axis = _axis(axis, z, "sparsemax")
    stays = (a > 0).astype(grad_a.dtype)
    g = grad_a * stays
    g -= stays * (g.sum(axis=axis, keepdims=True) / stays.sum(axis=axis, keepdims=True))
    return g


def squareplus(z, b=4):
    """(z + sqrt(z^2 + b)) / 2 (So and Ramachandran 2021), a softplus of square roots, ``b`` > 0.

    Written with h = hypot(z, sqrt b), which cannot overflow, as z / 2 + h / 2 at and above 0 and
    as (b / 4) / (h / 2 + |z| / 2) below (the same number, without the cancellation of z + h):
    exact where the plain form gives 0 (z < -1e4 in float32) or inf. ``b = 0`` is refused: it is
    relu, whose gradient at 0 the formula makes 0 / 0 (Keras' squareplus(x, b=0) gives NaN there).

    >>> squareplus(np.array([-1e30, 0.0, 1e30]))
    array([1.e-30, 1.e+00, 1.e+30])
    """
    b = check_number(b, "squareplus: b", "> 0")
    h = np.hypot(z, math.sqrt(b))
    h *= 0.5
    half_z = np.multiply(z, 0.5)
    below = np.abs(half_z)
    below += h
    np.divide(0.25 * b, below, out=below)
    h += half_z
    return np.where(z >= 0, h, below)


def backprop_squareplus(grad_a, z, a, b=4):
    # (1 + z / h) / 2 = (h + z) / (2 h) = a / h: no cancellation below 0 either
    b = check_number(b, "squareplus: b", "> 0")
    return grad_a * (a / np.hypot(z, math.sqrt(b)))


def tanh_shrink(z):
    """z - tanh(z), as Keras and PyTorch compute it (near 0 its relative error grows as
    eps / z^2: the two terms cancel)."""
    return z - np.tanh(z)


def backprop_tanh_shrink(grad_a, z, a):
    t = np.tanh(z)                  # again: z - a loses it far from 0
    return grad_a * (t * t)


def threshold(z, threshold, default_value):
    """z where z > threshold, else default_value. Both settings are needed, as in Keras and
    PyTorch, so no name runs it: make an Activation of your own (see ``get``).

    >>> threshold(np.array([-1.0, 0.5, 2.0]), 0.5, -9.0)
    array([-9., -9.,  2.])
    """
    threshold = threshold_setting(threshold, "threshold: threshold")
    default_value = threshold_setting(default_value, "threshold: default_value")
    return np.where(z > threshold, z, default_value).astype(z.dtype, copy=False)


def backprop_threshold(grad_a, z, a, threshold, default_value=None):
    threshold = threshold_setting(threshold, "threshold: threshold")
    return grad_a * (z > threshold)


def threshold_setting(value, name):
    """threshold's ``threshold`` or ``default_value`` as a float: any real number, inf and NaN too
    (Keras' and PyTorch's take them: ``threshold(x, t, -inf)`` masks scores before a softmax)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r:.100}")
    return float(value)


ACTIVATIONS = {
    name: Activation(name, globals()[name], globals()["backprop_" + name])
    for name in ("linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "softplus", "softsign",
                 "silu", "gelu", "softmax", "hard_sigmoid", "relu6", "hard_silu", "mish", "log_softmax",
                 "celu", "exponential", "glu", "hard_shrink", "hard_tanh", "log_sigmoid", "soft_shrink",
                 "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "tanh_shrink")
}


_OPS_OF = {"exponential": "exp"}


def _through_ops(name, z):
    """For a model's tensor or a value a GradientTape records (Keras code's
    ``keras.activations.elu(x) + 1`` in a functional model, a ``call`` or a tape: keras.io's mixture
    density network), the ``glassnet.ops`` function of activation ``name`` (Keras' arguments), whose
    node passes the gradient; None for anything else, computed here."""
    from ._ops_reading import _is_tensor
    from ._tape_values import Recorded
    if not (_is_tensor(z) or isinstance(z, Recorded)):
        return None
    if name == "linear":
        return lambda x: x
    from . import ops
    op = getattr(ops, _OPS_OF.get(name, name), None)
    if op is None:
        return None
    # the activation's own defaults, where the op's differ (gelu is exact here, the tanh form in
    # ops; leaky_relu's slope): the same call gives the same values on arrays and on tensors
    import inspect
    own = inspect.signature(globals()[f"_raw_{name}"]).parameters
    takes = inspect.signature(op).parameters

    def drawn(x, *args, **kwargs):
        settings = {k: v.default for k, v in list(own.items())[1:] if v.default is not inspect.Parameter.empty}
        settings.update(zip(list(own)[1:], args))
        settings.update(kwargs)
        for key, value in settings.items():
            if key not in takes and value != own[key].default:
                raise TypeError(f"activations.{name}({key}={value!r}) on a model's tensor: glassnet.ops.{op.__name__} "
                                f"takes no {key}; compute it with glassnet.ops functions, or an Activation layer")
        return op(x, **{k: v for k, v in settings.items() if k in takes})
    return drawn


def _takes_array_likes(forward):
    """``forward`` as a public function: it also takes what Keras' ``keras.activations.relu(x)``
    takes, a Python number, a list, a 0-d array or integers, as a float32 array (Keras' floatx; a
    float array keeps its dtype). The layers call the Activation's own ``forward``, which is not
    wrapped: their arrays are float already, and the check would cost every batch."""
    @functools.wraps(forward)
    def public(z, *args, **kwargs):
        if type(z) is np.ndarray and z.dtype.kind == "f" and z.ndim:
            return forward(z, *args, **kwargs)
        through = _through_ops(forward.__name__, z)
        if through is not None:
            return through(z, *args, **kwargs)
        if not isinstance(getattr(z, "dtype", None), np.dtype):
            # a number or a list (a SymbolicTensor, whose dtype is a name, refuses here by name)
            z = np.asarray(z).astype(np.float32, copy=False)
        elif z.dtype.kind != "f":          # an integer or bool array (NumPy's or CuPy's), or scalar
            z = z.astype(np.float32)
        elif isinstance(z, np.generic):    # np.float64(1.5): a 0-d array of its dtype
            z = np.asarray(z)
        if z.ndim == 0:     # the in-place steps (sigmoid's out=) need an array, not the scalar NumPy returns
            return forward(z.reshape(1), *args, **kwargs).reshape(())
        return forward(z, *args, **kwargs)
    return public


# the module's names, as users call them (glassnet.activations.relu([1, -2])); each Activation's
# own function stays importable under another name, _raw_relu, so that pickle (a Dask worker's
# model, copy.deepcopy) finds it by its qualified name
for _name in (*ACTIVATIONS, "threshold"):
    _raw = globals()[_name]
    globals()[_name] = _takes_array_likes(_raw)
    _raw.__qualname__ = f"_raw_{_name}"
    globals()[_raw.__qualname__] = _raw
del _name, _raw

# Keras' other names, as module functions too
swish, backprop_swish = silu, backprop_silu
hard_swish, backprop_hard_swish = hard_silu, backprop_hard_silu
# Keras' other names (silu's, hard_silu's): the same Activation, so a config names it by the first
ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}
# the activations that mix the values along the last axis rather than act on each on its own
_ROWWISE = ("softmax", "log_softmax", "sparsemax", "glu")
# the activations that change the shape (glu halves the last axis): only the Activation layer
# takes them, since a layer with its own units (Dense(8, activation="glu")) would declare 8
# outputs and return 4, as Keras' does
_RESHAPING = ("glu",)
# the functions that need settings: no name runs them (Keras' name fails when called)
_NEED_SETTINGS = {"threshold": "threshold(z, threshold, default_value)"}

# keras.ops' activations whose defaults are not the same-named activation's: ops.gelu is the tanh
# form, ops.leaky_relu's slope 0.2. Built in too, under names saying so, so that a layer given
# activation=ops.gelu computes Keras' values and its model file loads them back (Keras 3.15's
# file records "gelu", which loads as the exact form: 2e-4 away)
WITH_SETTINGS = {
    f"{base}({', '.join(f'{k}={v!r}' for k, v in settings.items())})": Activation(
        f"{base}({', '.join(f'{k}={v!r}' for k, v in settings.items())})",
        functools.partial(ACTIVATIONS[base].forward, **settings), functools.partial(ACTIVATIONS[base].backward, **settings))
    for base, settings in (("gelu", {"approximate": True}), ("leaky_relu", {"negative_slope": 0.2}))}


def _settings_name(op, settings):
    """The name of ``op`` with ``settings`` (every keras.ops setting, in its order): "elu(alpha=2.0)"."""
    return f"{op}({', '.join(f'{k}={v!r}' for k, v in settings.items())})"


def with_settings(op, settings, who="activation"):
    """The Activation of keras.ops' ``op`` (a key of layers.tensor_activations.ARGUMENTS) with
    ``settings`` (a dict of some of its settings, the others at keras.ops' defaults), checked as
    ``ops.<op>`` checks them: the built-in activation of that name where the settings are its own
    defaults (``gelu`` with approximate=False is "gelu"), else one named for its settings,
    ``"elu(alpha=2.0)"``, made once and kept in ``WITH_SETTINGS``, so that a model file records the
    name and loads it back (``get`` reads such names)."""
    from .layers import tensor_activations
    defaults = tensor_activations.ARGUMENTS[op]
    unknown = sorted(set(settings) - set(defaults))
    if unknown:
        raise ValueError(f"{who}: {op} has no setting {unknown[0]!r}; its settings are "
                         f"{sorted(defaults) or 'none'}")
    settings = tensor_activations.arguments(op, {**defaults, **settings}, who)
    own = inspect.signature(ACTIVATIONS[op].forward).parameters
    if all(own[k].default == v for k, v in settings.items()):
        return ACTIVATIONS[op]
    name = _settings_name(op, settings)
    if name not in WITH_SETTINGS:
        WITH_SETTINGS[name] = Activation(name, functools.partial(ACTIVATIONS[op].forward, **settings),
                                         functools.partial(ACTIVATIONS[op].backward, **settings))
    return WITH_SETTINGS[name]


def _named_settings(name):
    """The Activation a name of ``with_settings``' form gives ("elu(alpha=2.0)"), else None."""
    import ast          # (here: a name of this form is rare, and import glassnet stays quick)
    from .layers import tensor_activations
    match = re.fullmatch(r"(\w+)\((.*)\)", name)
    if match is None or match.group(1) not in tensor_activations.ARGUMENTS:
        return None
    op, settings = match.group(1), {}
    for item in filter(None, (part.strip() for part in match.group(2).split(","))):
        key, _, value = item.partition("=")
        try:
            if not re.fullmatch(r"[-+]?[\w.]+", value.strip()):     # a number or True/False, nothing nested
                raise ValueError
            settings[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            raise ValueError(f"activation: {name!r}: {item!r} is no setting=number") from None
    return with_settings(op, settings, f"activation {name!r}")


def _ops_partial(partial):
    """The Activation of a ``functools.partial`` of a glassnet.ops activation function with keyword
    settings (``partial(ops.gelu, approximate=False)``, as Keras takes any callable), else None."""
    from . import _ops_activations
    from .layers import tensor_activations
    # (glassnet.ops' public functions wrap _ops_activations' for the GradientTape's hook: unwrapped here)
    function = getattr(partial.func, "__wrapped__", partial.func)
    op = getattr(function, "__name__", None)
    if getattr(_ops_activations, str(op), None) is not function or op not in tensor_activations.ARGUMENTS:
        if isinstance(getattr(function, "_activation", None), str):          # ops.relu, ops.sigmoid, ...
            raise ValueError(f"activation: functools.partial(ops.{op}, ...): ops.{op} has no settings to bind; "
                             f"give activation=ops.{op} itself")
        return None
    if partial.args:
        raise ValueError(f"activation: functools.partial(ops.{op}, {', '.join(map(repr, partial.args))}) binds "
                         f"x; bind settings by keyword ({', '.join(tensor_activations.ARGUMENTS[op]) or 'none'})")
    return with_settings(op, dict(partial.keywords), f"activation: functools.partial(ops.{op}, ...)")


def _with_settings(activation):
    """The built-in ``WITH_SETTINGS`` Activation that ``activation`` is (by name and functions, as a
    pickled copy is), else None."""
    builtin = WITH_SETTINGS.get(activation.name)
    same = lambda mine, theirs: isinstance(mine, functools.partial) and mine.func is theirs.func \
        and mine.keywords == theirs.keywords
    if builtin is None or not (same(activation.forward, builtin.forward) and same(activation.backward, builtin.backward)):
        return None
    return builtin


def _unwrapped(function):
    """The Activation's own forward function behind a module function (``relu``), else ``function``:
    an ``Activation("relu", activations.relu, activations.backprop_relu)`` made from the module's
    functions is the built-in one."""
    return getattr(function, "__wrapped__", function)


def elementwise(activation):
    """Whether ``activation`` acts on each value on its own: every built-in one but softmax,
    log_softmax, sparsemax and glu (``_ROWWISE``; a custom ``Activation`` is not assumed to).
    Compared by its functions, which a pickled or copied layer's ``Activation`` still shares with
    the built-in one."""
    forward = _unwrapped(activation.forward)
    return _with_settings(activation) is not None or any(
        forward is a.forward and activation.backward is a.backward for name, a in ACTIVATIONS.items()
        if name not in _ROWWISE)


def reshapes(activation):
    """Whether ``activation`` changes the shape of what it gets (glu, by its functions, as
    ``elementwise``): the Activation layer's output shape then halves the last axis."""
    return any(_unwrapped(activation.forward) is ACTIVATIONS[name].forward for name in _RESHAPING)


def builtin_of(activation):
    """The built-in Activation that ``activation`` is: the one of its name (or alias) when it computes
    with that one's functions, as a pickled model's copy does; None for an Activation of your own,
    whatever its name (a file that records the name would load the built-in; a fused gradient would
    assume the built-in's maths)."""
    builtin = ACTIVATIONS.get(ALIASES.get(activation.name, activation.name))
    if (builtin is None or _unwrapped(activation.forward) is not builtin.forward
            or activation.backward is not builtin.backward):
        return None
    return builtin


def get_for(identifier, owner, name="activation"):
    """``get(identifier)`` for a layer's argument: its error names the layer (``owner``, e.g.
    "Conv2D") and the argument, so ``Conv2D(8, 3, activation="rleu")`` says where the slip is."""
    # Keras' convolutions take data_format fifth, by position, where glassnet's take activation:
    # a ported Conv2D(8, 3, 1, "valid", "channels_first") should hear of data_format, not of activations
    refuse_positional_data_format(identifier, owner, name)
    try:
        return get(identifier)
    except ValueError as exc:
        raise ValueError(f"{owner}: {name}: {exc}".replace(f"{name}: activation: ", f"{name}: ")) from None


def get(identifier, reshaping=False):
    """Return the ``Activation`` for a name in ``ACTIVATIONS`` (``None`` means linear), a built-in
    function (``relu``: its Activation, as Keras takes ``activation=keras.activations.relu``) or an
    ``Activation`` instance (for a custom one).

    ``reshaping``: whether the caller takes an activation that changes the shape (glu); only the
    Activation layer does. A ``functools.partial`` of a glassnet.ops activation binding keras.ops'
    settings by keyword, ``partial(ops.elu, alpha=2.0)``, is the activation of those settings
    (``with_settings``: "elu(alpha=2.0)", which files keep). A glassnet.activations function's
    settings other than Keras' defaults come as an Activation of your own, under a name of its own (a model file records the name; one of the built-in names
    would load as the built-in activation, with its defaults)::

        celu_2 = Activation("celu_2", functools.partial(celu, alpha=2.0),
                            functools.partial(backprop_celu, alpha=2.0))
    """
    if identifier is None:
        return ACTIVATIONS["linear"]
    if isinstance(identifier, functools.partial) and not identifier.args and not identifier.keywords:
        identifier = identifier.func        # partial(relu) binds nothing: relu itself
    if callable(identifier) and not isinstance(identifier, Activation):
        # a built-in function itself, Dense(8, activation=activations.relu) as Keras takes it: its
        # Activation (the backward pass comes with it)
        identifier = next((a for a in ACTIVATIONS.values() if a.forward is _unwrapped(identifier)), identifier)
        # a glassnet.ops function (activation=ops.gelu, as Keras takes keras.ops.gelu): the activation
        # of keras.ops' defaults it names (ops.py sets _activation)
        if isinstance(getattr(identifier, "_activation", None), str):
            identifier = identifier._activation
    if isinstance(identifier, functools.partial):
        # a partial of a glassnet.ops activation: the activation of its settings
        identifier = _ops_partial(identifier) or identifier
    if isinstance(identifier, str) and identifier in WITH_SETTINGS:
        identifier = WITH_SETTINGS[identifier]
    elif isinstance(identifier, str) and "(" in identifier:
        identifier = _named_settings(identifier) or identifier
    if isinstance(identifier, str) and ALIASES.get(identifier, identifier) in ACTIVATIONS:
        identifier = ACTIVATIONS[ALIASES.get(identifier, identifier)]
    if isinstance(identifier, Activation):
        # Activation("relu", relu, backprop_relu) of the module's functions is the built-in one:
        # its forward is the public wrapper (_takes_array_likes), which the layers must not call
        # every batch, and an LSTM takes its fast path only for the built-in tanh and sigmoid
        identifier = builtin_of(identifier) or _with_settings(identifier) or identifier
        if not reshaping and reshapes(identifier):
            raise ValueError(f"activation: {identifier.name!r} halves the last axis, so only the Activation "
                             f"layer takes it (a layer with units, Dense(units, activation={identifier.name!r}), "
                             f"would return half of them: Keras' declares units and returns half); "
                             f"write Dense(2 * units) followed by Activation({identifier.name!r})")
        return identifier
    if isinstance(identifier, str) and identifier in _NEED_SETTINGS:
        raise ValueError(f"activation: {identifier!r} needs settings without defaults "
                         f"({_NEED_SETTINGS[identifier]}), so no name runs it (Keras' fails when called); "
                         f"make an Activation of your own from glassnet.activations.{identifier} and "
                         f"backprop_{identifier} with functools.partial, under a name of its own")
    if isinstance(identifier, functools.partial):
        _refuse_partial(identifier)
    if callable(identifier) and not isinstance(identifier, type):
        # Keras' activation=f, f written with keras.ops (keras.io's mixture density network:
        # elu(x) + 1 + epsilon): glassnet's layers run an activation's backward pass too
        name = getattr(identifier, "__name__", type(identifier).__name__)
        raise ValueError(f"activation: the function {name!r:.60} gives the forward pass alone, and a layer needs "
                         f"its backward one too; call it on the tensor instead, f(x) or f(Dense(units)(x)) in a "
                         f"functional model or a call (glassnet.ops on a model's tensors are nodes that pass the "
                         f"gradient back), or give an Activation(name, forward, backward) of your own; the names "
                         f"taken: {sorted(ACTIVATIONS)}")
    raise ValueError(f"activation: expected one of {sorted(ACTIVATIONS)}, None or an Activation, "
                     f"got {identifier!r}")


def _refuse_partial(partial):
    """Refuse a ``functools.partial`` of a module function (Keras' ``activation=partial(relu,
    max_value=6.0)``) by saying what to write: a layer needs the backward pass too, which only an
    Activation of your own carries (see ``get``). Returns for a partial of anything else."""
    function = _unwrapped(partial.func)
    name = getattr(function, "__name__", "")
    if _unwrapped(globals().get(name)) is not function or f"backprop_{name}" not in globals():
        return
    settings = ", ".join([*map(repr, partial.args), *(f"{key}={value!r}" for key, value in partial.keywords.items())])
    raise ValueError(f"activation: functools.partial({name}, {settings}) gives the forward pass alone; a layer "
                     f"needs the backward one too: give an Activation of your own, under a name of its own "
                     f"(a file cannot store it), glassnet.activations.Activation({name + '_custom'!r}, "
                     f"partial({name}, {settings}), partial(backprop_{name}, {settings}))")


def serialize(activation):
    """The name a config records for a built-in activation (Keras' ``serialize``): given as its
    name, its ``Activation`` or its function (``serialize(relu)`` is ``"relu"``). ValueError for an
    Activation of your own, which a name would load as the built-in one."""
    if isinstance(activation, str):
        return get(ALIASES.get(activation, activation), reshaping=True).name
    if isinstance(getattr(activation, "_activation", None), str):       # a glassnet.ops function
        activation = get(activation)
    builtin = (builtin_of(activation) or _with_settings(activation)) if isinstance(activation, Activation) else next(
        (a for a in ACTIVATIONS.values() if a.forward is _unwrapped(activation)), None)
    if builtin is None:
        raise ValueError(f"activations.serialize: expected a built-in activation (a name, its Activation or "
                         f"its function), got {activation!r:.80}")
    return builtin.name


def deserialize(config, custom_objects=None):
    """The ``Activation`` a config's name gives (Keras' ``deserialize``, which gives the function:
    glassnet's carries its backward pass too). ``custom_objects`` maps names to Activations of
    your own."""
    if custom_objects is not None:
        if not isinstance(custom_objects, dict):
            raise TypeError(f"activations.deserialize: custom_objects must be a dict, got "
                            f"{type(custom_objects).__name__}")
        if isinstance(config, str) and config in custom_objects:
            return get(custom_objects[config], reshaping=True)
    if not isinstance(config, str):
        raise TypeError(f"activations.deserialize: expected a name, got {config!r:.80}")
    return get(config, reshaping=True)
