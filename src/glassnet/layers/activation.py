"""Activation as a layer of its own (seed 004's style: ``Dense`` then ``Activation("tanh")``), and
Keras' ``LeakyReLU`` layer, whose slope is a setting."""
import numpy as np

from .. import activations
from .._validation import check_number
from .base import Layer


class Activation(Layer):
    """Applies an activation elementwise (softmax: over the last axis). No parameters.

    Shapes: ``x`` (batch, ...) -> output of the same shape.

    Example
    -------
    >>> import numpy as np
    >>> Activation("tanh")(np.zeros((2, 3))).shape
    (2, 3)
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

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
