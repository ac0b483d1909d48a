"""``CustomScaleLayer``: a residual sum with the branch scaled, ``shortcut + branch * scale``, as
InceptionResNetV2's blocks add their branch (Szegedy et al. 2017 scale residuals by 0.1-0.3 to
keep a deep stack of blocks stable). Keras 3.15 defines it in ``keras.applications.
inception_resnet_v2`` (not in ``keras.layers``); glassnet's has the same argument, config and
(auto) name, "custom_scale_layer".
"""
from .._validation import check_number
from .merging import _Merge


class CustomScaleLayer(_Merge):
    """``inputs[0] + inputs[1] * scale`` for a list of two inputs of one shape.

    scale : float, the factor of the second input (a constant, not a weight).

    Shapes: [(batch, *shape), (batch, *shape)] -> (batch, *shape). dL/d(inputs[0]) = g,
    dL/d(inputs[1]) = g * scale.

    Example
    -------
    >>> import numpy as np
    >>> CustomScaleLayer(0.5)([np.ones((1, 2)), np.array([[2.0, -4.0]])]).tolist()
    [[2.0, -1.0]]
    """
    most_inputs = 2          # _Merge refuses another number of inputs, by name

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        self.scale = check_number(scale, "CustomScaleLayer: scale", "finite")

    def forward(self, inputs, training=False):
        self._check_arrays(inputs)
        x, branch = inputs
        # Keras' order (branch * scale, then the sum), with the scale in the inputs' dtype: no
        # float64 up-cast of a float32 model
        return x + branch * branch.dtype.type(self.scale)

    def backward(self, grad_output):
        return [grad_output, grad_output * grad_output.dtype.type(self.scale)]

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}
