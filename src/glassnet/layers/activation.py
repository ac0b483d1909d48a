"""Activation as a layer of its own (seed 004's style: ``Dense`` then ``Activation("tanh")``)."""
from .. import activations
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
