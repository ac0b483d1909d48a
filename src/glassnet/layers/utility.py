"""Small layers of Keras that change values without weights: Identity, Rescaling and
ActivityRegularization."""
import numpy as np

from .. import regularizers
from .._validation import check_number
from .base import Layer


class Identity(Layer):
    """Passes its input on unchanged (Keras' ``Identity``: a placeholder, e.g. where an option
    turns a layer off). No parameters.

    Example
    -------
    >>> import numpy as np
    >>> Identity()(np.ones((2, 3))).shape
    (2, 3)
    """

    supports_masking = True      # each step on its own: a mask passes on (layers/masking.py)

    def forward(self, x, training=False):
        return x

    def backward(self, grad_output):
        return grad_output


class Rescaling(Layer):
    """``x * scale + offset`` (Keras' ``Rescaling``): ``Rescaling(1 / 255)`` turns 0-255 pixels
    into [0, 1], ``Rescaling(1 / 127.5, offset=-1)`` into [-1, 1], inside the model, so that
    ``predict`` takes raw pixels too. No parameters; the gradient is ``scale`` times the upstream one.

    Example
    -------
    >>> import numpy as np
    >>> Rescaling(1 / 127.5, offset=-1.0)(np.array([[0.0, 255.0]])).tolist()
    [[-1.0, 1.0]]
    """

    supports_masking = True      # each step on its own: a mask passes on (layers/masking.py)

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = check_number(scale, "Rescaling: scale", "finite")
        self.offset = check_number(offset, "Rescaling: offset", "finite")

    def forward(self, x, training=False):
        if x.dtype.kind not in "fc":             # uint8 pixels called directly: floats first
            x = x.astype(self.dtype or np.float32)
        # the settings in the input's dtype: a float32 model stays float32
        out = x * x.dtype.type(self.scale)
        if self.offset:
            out += x.dtype.type(self.offset)
        return out

    def backward(self, grad_output):
        return grad_output * grad_output.dtype.type(self.scale)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class ActivityRegularization(Layer):
    """Passes its input on and penalises it (Keras' ``ActivityRegularization``): the
    ``activity_regularizer=L1L2(l1, l2)`` of the layer before it, as a layer of its own. Inside a
    model, each batch's loss gains ``(l1 sum|x| + l2 sum x^2) / batch size``. No parameters.

    Example
    -------
    >>> ActivityRegularization(l1=0.01).activity_regularizer
    L1L2(l1=0.01, l2=0.0)
    """

    supports_masking = True      # each step on its own: a mask passes on (layers/masking.py)

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        if "activity_regularizer" in kwargs:
            raise TypeError("ActivityRegularization: its penalty is l1 and l2; it takes no activity_regularizer")
        # the penalty's checks, under this layer's name
        l1 = check_number(l1, "ActivityRegularization: l1", ">= 0")
        l2 = check_number(l2, "ActivityRegularization: l2", ">= 0")
        super().__init__(activity_regularizer=regularizers.L1L2(l1, l2), **kwargs)
        self.l1, self.l2 = l1, l2

    def forward(self, x, training=False):
        return x

    def backward(self, grad_output):
        return grad_output

    def get_config(self):
        # l1 and l2 say the penalty: read from the regularizer in force (one set since, or None)
        config = super().get_config()
        config.pop("activity_regularizer", None)
        penalty = self.activity_regularizer
        return {**config, "l1": getattr(penalty, "l1", 0.0), "l2": getattr(penalty, "l2", 0.0)}
