"""Activation as a layer of its own (seed 004's style: ``Dense`` then ``Activation("tanh")``), and
Keras' activation layers whose function has settings: ``LeakyReLU``, ``ReLU``, ``ELU``, ``Softmax``,
and ``PReLU``, whose negative slopes are trained weights."""
import numpy as np

from .. import activations, constraints, initializers, regularizers
from .._validation import check_number
from .base import Layer, check_axis, sample_axes


class Activation(Layer):
    """Applies an activation elementwise (softmax, log_softmax, sparsemax: over the last axis).
    No parameters.

    Shapes: ``x`` (batch, ...) -> output of the same shape; with ``"glu"`` (batch, ..., F) ->
    (batch, ..., F / 2), F even (the one layer that takes glu by name).

    Example
    -------
    >>> import numpy as np
    >>> Activation("tanh")(np.zeros((2, 3))).shape
    (2, 3)
    """
    built_when_made = True      # (as Keras': see Layer.built_when_made)

    supports_masking = True      # each step on its own: a mask passes on (layers/masking.py)
    stacks_lists = True          # called alone on a list of arrays: one array, as Keras' (layers/base.py)

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation, reshaping=True)

    def output_shape(self, input_shape):
        shape = tuple(input_shape)
        if not activations.reshapes(self.activation):
            return shape
        # glu: the last axis halved
        if not shape or (shape[-1] is not None and shape[-1] % 2):
            raise ValueError(f"{self.describe()}: {self.activation.name} halves the last axis, which must "
                             f"have an even size, got input samples of shape {shape}")
        return (*shape[:-1], None if shape[-1] is None else shape[-1] // 2)

    def build(self, input_shape):
        self.output_shape(input_shape)          # glu's odd axis refused here, before any call
        super().build(input_shape)

    def forward(self, x, training=False):
        self.z = x
        self.a = self.activation.forward(x)
        return self.a

    def backward(self, grad_output):
        self.grad_z = self.activation.backward(grad_output, self.z, self.a)
        return self.grad_z

    def backward_from_logits(self, grad_z):
        """The fused loss already gave dL/dz: pass it through unchanged."""
        self.grad_z = grad_z
        return grad_z

    def get_config(self):
        return {**super().get_config(), "activation": self.activation.name}


class LeakyReLU(Layer):
    """Keras' ``LeakyReLU`` layer: ``x`` where ``x > 0``, else ``negative_slope * x``.

    Its default slope is Keras' 0.3 (the layer's; ``activation="leaky_relu"`` has PyTorch's 0.01);
    ``alpha``, the name in Keras 2 tutorials, is taken too. No parameters.

    Shapes: ``x`` (batch, ...) -> output of the same shape.

    Example
    -------
    >>> import numpy as np
    >>> LeakyReLU(negative_slope=0.25)(np.array([[-1.0, 2.0]])).tolist()
    [[-0.25, 2.0]]
    """
    built_when_made = True      # (as Keras': see Layer.built_when_made)

    supports_masking = True      # each step on its own: a mask passes on (layers/masking.py)
    stacks_lists = True          # called alone on a list of arrays: one array, as Keras' (layers/base.py)

    def __init__(self, negative_slope=0.3, alpha=None, **kwargs):
        super().__init__(**kwargs)
        if alpha is not None:
            if negative_slope != 0.3:
                raise ValueError("LeakyReLU: give negative_slope or alpha (its Keras 2 name), not both")
            negative_slope = alpha
        self.negative_slope = check_number(negative_slope, "LeakyReLU: negative_slope", ">= 0")

    def forward(self, x, training=False):
        self.z = x
        self.a = np.where(x > 0, x, self.negative_slope * x)
        return self.a

    def backward(self, grad_output):
        # derivative 1 above 0, the slope at and below it (PyTorch's choice at 0)
        self.grad_z = np.where(self.z > 0, grad_output, self.negative_slope * grad_output)
        return self.grad_z

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ReLU(Layer):
    """Keras' ``ReLU`` layer: a rectifier with a ceiling, a leak and a threshold. No parameters.

    ``f(x) = min(x, max_value)`` for ``x > threshold``, else ``negative_slope * (x - threshold)``
    (and 0 there without a slope); all three settings are >= 0, as Keras requires. The defaults
    give the plain relu; ``ReLU(max_value=6.0)`` is ReLU6; ``ReLU(negative_slope=s)`` the leaky
    relu. NaN stays NaN. The derivative is 1 between the threshold and the ceiling, the slope
    below the threshold, 0 above the ceiling; at the kinks it is what Keras' own path gives there
    (its leaky relu: the slope at 0; its relu6: 0 at 6; otherwise 0 at the threshold and 1 at a
    ceiling other than 6).

    Shapes: ``x`` (batch, ...) -> output of the same shape.

    Example
    -------
    >>> ReLU(max_value=6.0, negative_slope=0.5)(np.array([[-2.0, 3.0, 9.0]])).tolist()
    [[-1.0, 3.0, 6.0]]
    """
    built_when_made = True      # (as Keras': see Layer.built_when_made)

    supports_masking = True      # each step on its own: a mask passes on (layers/masking.py)
    stacks_lists = True          # called alone on a list of arrays: one array, as Keras' (layers/base.py)

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = None if max_value is None else check_number(max_value, "ReLU: max_value", ">= 0")
        self.negative_slope = check_number(negative_slope, "ReLU: negative_slope", ">= 0")
        self.threshold = check_number(threshold, "ReLU: threshold", ">= 0")

    def forward(self, x, training=False):
        self.z = x
        zero, t, slope = x.dtype.type(0), x.dtype.type(self.threshold), x.dtype.type(self.negative_slope)
        if slope and self.max_value is None and not t:       # Keras' leaky relu
            self._passes = x > 0
            self.a = np.where(self._passes, x, slope * x)    # NaN * slope stays NaN
            return self.a
        if t:
            self._passes = x > t
            a = x * self._passes                              # Keras' x * (x > t): NaN stays NaN
        else:
            self._passes = x > 0
            a = np.maximum(x, zero)                           # NaN stays NaN
        if self.max_value is not None:
            if self.max_value == 6 and not t:                 # Keras' relu6: no gradient at 6
                self._passes &= x < 6
            else:                                             # Keras' clip: a gradient at the ceiling
                self._passes &= a <= self.max_value
            a = np.clip(a, zero, x.dtype.type(self.max_value))
        if slope:
            a -= slope * np.maximum(t - x, zero)
        self.a = a
        return a

    def backward(self, grad_output):
        slope = self.negative_slope
        if slope and self.max_value is None and not self.threshold:
            self.grad_z = np.where(self._passes, grad_output, grad_output * slope)
            return self.grad_z
        grad = grad_output * self._passes          # a bool mask: the gradient's dtype stays
        if slope:
            grad += (grad_output * slope) * (self.z < self.threshold)
        self.grad_z = grad
        return grad

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class ELU(Layer):
    """Keras' ``ELU`` layer: ``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)`` (PyTorch's
    ``nn.ELU(alpha)``); ``alpha=1`` is ``Activation("elu")``. No parameters.

    Example
    -------
    >>> ELU(alpha=0.5)(np.array([[0.0, 1.0]])).tolist()
    [[0.0, 1.0]]
    """
    built_when_made = True      # (as Keras': see Layer.built_when_made)

    supports_masking = True      # each step on its own: a mask passes on (layers/masking.py)
    stacks_lists = True          # called alone on a list of arrays: one array, as Keras' (layers/base.py)

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = check_number(alpha, "ELU: alpha", "finite")

    def forward(self, x, training=False):
        self.z = x
        # expm1 of min(x, 0) never overflows and is exact near 0
        self.a = np.where(x > 0, x, x.dtype.type(self.alpha) * np.expm1(np.minimum(x, 0)))
        return self.a

    def backward(self, grad_output):
        # below 0: d/dx alpha (e^x - 1) = alpha e^x (not a + alpha, which cancels far below 0)
        slope = self.alpha * np.exp(np.minimum(self.z, 0))
        self.grad_z = np.where(self.z > 0, grad_output, grad_output * slope)
        return self.grad_z

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """Keras' ``Softmax`` layer: softmax over ``axis`` (the last by default, or a list of axes
    normalised together; never the batch axis 0). No parameters.

    Over the last axis it is ``Activation("softmax")``, and as a model's last layer it fuses with a
    categorical cross-entropy as that does (training takes dL/dz = (y_hat - y) / N directly).

    Example
    -------
    >>> Softmax(axis=1)(np.zeros((1, 2, 2))).tolist()
    [[[0.5, 0.5], [0.5, 0.5]]]
    """
    built_when_made = True      # (as Keras': see Layer.built_when_made)

    mask_refusal = "Keras' Softmax takes the mask as its own (pushing masked entries to zero); glassnet's does not"

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = check_axis(axis, "Softmax")

    @property
    def activation(self):
        """``softmax`` when it normalises the last axis alone (``-1``, ``[-1]``, or its positive
        index once built): what the fused output gradient is for; else None."""
        last = self.axis in (-1, [-1]) or (self.built and self._axes(len(self.input_shape) + 1)
                                           == (len(self.input_shape),))
        return activations.get("softmax") if last else None

    def _axes(self, ndim):
        return sample_axes(self, self.axis, ndim)

    def build(self, input_shape):
        self._axes(len(input_shape) + 1)
        super().build(input_shape)

    def forward(self, x, training=False):
        axes = self._axes(x.ndim)
        # subtracting the maximum makes every exponent <= 0: no overflow, same result
        e = np.subtract(x, x.max(axis=axes, keepdims=True))
        np.exp(e, out=e)
        e /= e.sum(axis=axes, keepdims=True)
        self.z, self.a = x, e
        return e

    def backward(self, grad_output):
        # the Jacobian-vector product a * (g - sum(g * a)) over the normalised axes
        inner = np.multiply(grad_output, self.a).sum(axis=self._axes(grad_output.ndim), keepdims=True)
        self.grad_z = np.subtract(grad_output, inner)
        self.grad_z *= self.a
        return self.grad_z

    def backward_from_logits(self, grad_z):
        """The fused loss already gave dL/dz: pass it through unchanged."""
        self.grad_z = grad_z
        return grad_z

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class PReLU(Layer):
    """Keras' ``PReLU`` (He et al. 2015): ``x`` for ``x > 0``, else ``alpha * x``, with ``alpha``
    a trained weight, one per input value of a sample, or shared along ``shared_axes``
    (``shared_axes=[1, 2]`` after a ``Conv2D``: one slope per channel, PyTorch's
    ``nn.PReLU(channels)``). ``alpha`` starts at ``alpha_initializer`` (Keras' zeros: a relu;
    PyTorch starts at 0.25, ``initializers.Constant(0.25)``); ``alpha_regularizer`` and
    ``alpha_constraint`` as for a ``Dense`` kernel.

    ``params``: ``alpha``, shaped like a sample with 1 on each shared axis.
    Shapes: ``x`` (batch, ...) -> output of the same shape.

    Example
    -------
    >>> layer = PReLU(alpha_initializer=initializers.Constant(0.25))
    >>> layer(np.array([[-4.0, 2.0]])).tolist(), layer.params["alpha"].shape
    ([[-1.0, 2.0]], (2,))
    """

    supports_masking = True      # each step on its own: a mask passes on (layers/masking.py)

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer, "PReLU: alpha_initializer")
        self.alpha_regularizer = regularizers.get(alpha_regularizer, "PReLU: alpha_regularizer")
        self.alpha_constraint = constraints.get(alpha_constraint, "PReLU: alpha_constraint")
        items = [] if shared_axes is None else shared_axes if isinstance(shared_axes, (list, tuple)) else [shared_axes]
        if any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) or a < 1 for a in items) \
                or len(set(int(a) for a in items)) != len(items):
            raise ValueError(f"PReLU: shared_axes: expected None, or distinct axes of the input counted "
                             f"from 1 (after the batch axis), got {shared_axes!r:.80}")
        self.shared_axes = None if shared_axes is None else [int(a) for a in items]

    def _alpha_shape(self, sample_shape):
        shared = self.shared_axes or []
        if any(a > len(sample_shape) for a in shared):
            raise ValueError(f"{self.describe()}: shared_axes {self.shared_axes} name an axis that input "
                             f"samples of shape {tuple(sample_shape)} lack (axes count from 1)")
        return tuple(1 if i + 1 in shared else int(d) for i, d in enumerate(sample_shape))

    def build(self, input_shape):
        self.add_weight("alpha", self._alpha_shape(input_shape), self.alpha_initializer,
                        self.alpha_regularizer, self.alpha_constraint)
        super().build(input_shape)

    def check_input_shape(self, sample_shape):
        # the sizes of shared axes may differ from the built ones (one slope serves any size)
        alpha = self.params["alpha"].shape
        if len(sample_shape) != len(alpha) or any(a != 1 and a != d for a, d in zip(alpha, sample_shape)):
            raise ValueError(f"{self.describe()}: expected input samples of shape {tuple(self.input_shape)} "
                             f"(any size on the shared axes {self.shared_axes}), got {tuple(sample_shape)}")

    def forward(self, x, training=False):
        self.z = x
        self._negative = np.minimum(x, 0)
        self.a = np.maximum(x, 0) + self.params["alpha"] * self._negative
        return self.a

    def backward(self, grad_output):
        alpha = self.params["alpha"]
        # d/d alpha = min(x, 0), summed over the batch and the shared axes
        summed = (0, *(a for a in range(1, grad_output.ndim) if alpha.shape[a - 1] == 1
                       and grad_output.shape[a] != 1))
        self.grads["alpha"][...] = (grad_output * self._negative).sum(axis=summed).reshape(alpha.shape)
        # d/dx: 1 above 0, alpha below (and at 0, where relu's is 0 and the negative part's alpha)
        self.grad_z = np.where(self.z > 0, grad_output, grad_output * alpha)
        return self.grad_z

    def get_config(self):
        return {**super().get_config(), "alpha_initializer": initializers.name_of(self.alpha_initializer),
                "shared_axes": self.shared_axes,
                **regularizers.config_entries(self, ("alpha_regularizer",)),
                **constraints.config_entries(self, ("alpha_constraint",))}
