"""``glassnet.ops``' activation functions, keras.ops' (``ops.py`` re-exports them): gelu, silu
(swish), elu, selu, leaky_relu, relu6, hard_sigmoid, hard_silu (hard_swish), softsign,
log_sigmoid, celu, hard_tanh, hard_shrink, soft_shrink, tanh_shrink, sparse_plus, sparse_sigmoid,
squareplus.

On arrays each computes at once with glassnet.activations' function of its name, keras.ops'
settings and defaults: ``gelu``'s ``approximate=True`` (the tanh form; the "gelu" activation is
the exact one) and ``leaky_relu``'s ``negative_slope=0.2`` (the "leaky_relu" activation's is
0.01). Floats keep their dtype; integers and booleans give float32 (Keras 3.15 on TensorFlow
refuses most of them), but relu6 keeps integers, as Keras'. On a tensor each makes a
``TensorFunction`` node (layers/tensor_activations.py). Each may also be a layer's activation,
``Dense(4, activation=ops.gelu)``, as in Keras: the layer takes the activation of keras.ops'
defaults, ``"gelu(approximate=True)"`` for ops.gelu, ``"leaky_relu(negative_slope=0.2)"`` for
ops.leaky_relu (glassnet.activations.WITH_SETTINGS), the same-named one for the others.

>>> import numpy as np
>>> [round(float(v), 5) for v in gelu(np.array([-1.0, 0.0, 1.0], np.float32))]
[-0.15881, 0.0, 0.84119]
"""
from .layers import tensor_activations
from .layers.tensor_functions import TensorFunction
from ._ops_reading import _array, _each, _float, _is_tensor


def _activation(op, x, floats=True, **settings):
    """``op`` (a key of tensor_activations.ARGUMENTS) of ``x`` with keras.ops' ``settings``."""
    if _is_tensor(x):
        return TensorFunction(op, settings)(x)
    settings = tensor_activations.arguments(op, dict(settings), f"ops.{op}")
    array = _array(x, "x", op)
    if floats or array.dtype.kind == "b":
        array = _float(array)
    forward = tensor_activations.forward
    return _each(lambda a: forward(op, a, settings), array)


def _names(function, activation):
    """``function`` marked with the activation a layer takes for it (activations.get reads it)."""
    function._activation = activation
    return function


def gelu(x, approximate=True):
    """The Gaussian error linear unit, ``x Phi(x)``: by default (Keras') the tanh form,
    ``0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))``; ``approximate=False`` the exact one
    (erf's)."""
    return _activation("gelu", x, approximate=approximate)


def silu(x):
    """``x sigmoid(x)`` (swish)."""
    return _activation("silu", x)


def elu(x, alpha=1.0):
    """``x`` above 0, ``alpha (e^x - 1)`` at and below it."""
    return _activation("elu", x, alpha=alpha)


def selu(x):
    """``scale * elu(x, alpha)`` with the SELU constants (1.0507..., 1.6732...)."""
    return _activation("selu", x)


def leaky_relu(x, negative_slope=0.2):
    """``x`` above 0, ``negative_slope x`` at and below it (Keras' slope 0.2 by default)."""
    return _activation("leaky_relu", x, negative_slope=negative_slope)


def relu6(x):
    """``min(max(x, 0), 6)``; integers stay integers (Keras'). Gradient 1 strictly inside (0, 6)."""
    return _activation("relu6", x, floats=False)


def hard_sigmoid(x):
    """``relu6(x + 3) / 6``: ``x / 6 + 0.5`` clipped to [0, 1]."""
    return _activation("hard_sigmoid", x)


def hard_silu(x):
    """``x hard_sigmoid(x)`` (hard_swish, MobileNetV3's)."""
    return _activation("hard_silu", x)


def softsign(x):
    """``x / (1 + |x|)``."""
    return _activation("softsign", x)


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, exact for any ``x``."""
    return _activation("log_sigmoid", x)


def celu(x, alpha=1.0):
    """``max(x, 0) + min(0, alpha (e^(x / alpha) - 1))``."""
    return _activation("celu", x, alpha=alpha)


def hard_tanh(x):
    """``x`` clipped to [-1, 1]."""
    return _activation("hard_tanh", x)


def hard_shrink(x, threshold=0.5):
    """``x`` where ``|x| > threshold``, else 0 (``threshold`` >= 0)."""
    return _activation("hard_shrink", x, threshold=threshold)


def soft_shrink(x, threshold=0.5):
    """``x`` moved ``threshold`` toward 0, and 0 inside ``[-threshold, threshold]``."""
    return _activation("soft_shrink", x, threshold=threshold)


def tanh_shrink(x):
    """``x - tanh(x)``."""
    return _activation("tanh_shrink", x)


def sparse_plus(x):
    """0 below -1, ``(x + 1)^2 / 4`` inside [-1, 1), ``x`` from 1 on."""
    return _activation("sparse_plus", x)


def sparse_sigmoid(x):
    """``(x + 1) / 2`` clipped to [0, 1]."""
    return _activation("sparse_sigmoid", x)


def squareplus(x, b=4):
    """``(x + sqrt(x^2 + b)) / 2`` (``b`` > 0)."""
    return _activation("squareplus", x, b=b)


swish, hard_swish = silu, hard_silu
for _function in (gelu, leaky_relu):
    _names(_function, f"{_function.__name__}({', '.join(f'{k}={v!r}' for k, v in tensor_activations.ARGUMENTS[_function.__name__].items())})")
for _function in (silu, elu, selu, relu6, hard_sigmoid, hard_silu, softsign, log_sigmoid, celu, hard_tanh,
                  hard_shrink, soft_shrink, tanh_shrink, sparse_plus, sparse_sigmoid, squareplus):
    _names(_function, _function.__name__)
del _function

__all__ = ["gelu", "silu", "swish", "elu", "selu", "leaky_relu", "relu6", "hard_sigmoid", "hard_silu", "hard_swish",
           "softsign", "log_sigmoid", "celu", "hard_tanh", "hard_shrink", "soft_shrink", "tanh_shrink", "sparse_plus",
           "sparse_sigmoid", "squareplus"]
