"""``LayerScale`` (Touvron et al. 2021, "Going deeper with Image Transformers"): each channel of a
residual branch multiplied by a trained scale that starts small, so that a deep stack of blocks
starts close to the identity. Keras 3.15 defines it in ``keras.applications.convnext`` (not in
``keras.layers``); glassnet's has the same arguments, config and weight.
"""
from .. import initializers
from .._validation import check_number
from .base import Layer
from .conv import positive_int


class LayerScale(Layer):
    """``x * gamma``, with ``gamma`` one trained weight per channel (the last axis), starting at
    ``init_values`` (ConvNeXt's 1e-6).

    init_values : float, the starting value of every scale (Keras': "within [0, 1]"; any finite
        number is taken).
    projection_dim : int, the number of channels of the input (its last axis).

    ``params``: ``gamma`` of shape (projection_dim,).
    Shapes: ``x`` (batch, ..., projection_dim) -> same shape.

    Example
    -------
    >>> import numpy as np
    >>> layer = LayerScale(0.5, 2)
    >>> layer(np.array([[2.0, -4.0]])).tolist(), layer.params["gamma"].shape
    ([[1.0, -2.0]], (2,))
    """

    supports_masking = True      # each step on its own: a mask passes on (layers/masking.py)

    def __init__(self, init_values, projection_dim, **kwargs):
        super().__init__(**kwargs)
        self.init_values = check_number(init_values, "LayerScale: init_values", "finite")
        self.projection_dim = positive_int(projection_dim, "projection_dim", "LayerScale")

    def build(self, input_shape):
        # Keras' LayerScale does not check: a wrong size there fails later, on broadcasting
        if not input_shape or input_shape[-1] != self.projection_dim:
            raise ValueError(f"{self.describe()}: expected inputs with projection_dim={self.projection_dim} "
                             f"channels on the last axis, got samples of shape {tuple(input_shape)}")
        self.gamma = self.add_weight("gamma", (self.projection_dim,), initializers.Constant(self.init_values))
        super().build(input_shape)

    def forward(self, x, training=False):
        self._x = x
        return x * self.params["gamma"]

    def backward(self, grad_output):
        # d/d gamma: grad * x summed over every axis but the channels
        self.grads["gamma"][...] = (grad_output * self._x).reshape(-1, self.projection_dim).sum(axis=0)
        if not self.needs_input_gradient:      # first layer of a model: nothing to propagate
            return None
        return grad_output * self.params["gamma"]

    def get_config(self):
        return {**super().get_config(), "init_values": self.init_values, "projection_dim": self.projection_dim}
