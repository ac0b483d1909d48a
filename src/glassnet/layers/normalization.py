"""LayerNormalization: each sample normalised over its own features (Keras' and PyTorch's layer
norm), the same in training and at inference."""
import numpy as np

from .._validation import check_flag, check_number
from ..errors import NonFiniteError
from .base import Layer, check_axis, sample_axes


class LayerNormalization(Layer):
    """Normalise each sample over ``axis`` (the last by default), then scale by ``gamma`` and shift
    by ``beta``: ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta``, the mean and the biased
    variance taken over those axes of that sample alone (Keras' ``LayerNormalization``; PyTorch's
    ``nn.LayerNorm`` over the trailing axes, whose epsilon defaults to 1e-5 where Keras' is 1e-3).

    Parameters
    ----------
    axis : int or list of ints
        The axes of the input (batch axis 0 excluded; negative counts from the end) normalised
        together: -1 for the features after ``Dense``, ``[1, 2, 3]`` for a whole (H, W, C) image.
    epsilon : float
        Added to the variance before the square root; finite and > 0.
    center, scale : bool
        Whether there is a ``beta`` (a shift) and a ``gamma`` (a scale), as in Keras.

    ``params``: ``gamma`` (ones) and ``beta`` (zeros), shaped like the normalised axes of a
    sample: (features,) for ``axis=-1``. Shapes: input (batch, ...) -> output of the same shape.

    Example
    -------
    >>> ln = LayerNormalization(epsilon=1e-6)
    >>> y = ln(np.array([[1.0, 2.0, 3.0], [10.0, 20.0, 60.0]]))     # float32 unless dtype= says
    >>> np.round(y.astype(float), 4).tolist()
    [[-1.2247, 0.0, 1.2247], [-0.9258, -0.4629, 1.3887]]
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        self.axis = check_axis(axis, "LayerNormalization")
        self.epsilon = check_number(epsilon, "LayerNormalization: epsilon", "> 0")
        self.center = check_flag(center, "LayerNormalization: center")
        self.scale = check_flag(scale, "LayerNormalization: scale")

    def _input_axes(self, sample_shape):
        """The normalised axes of a batch (batch axis 0 first), sorted and positive (``sample_axes``)."""
        return sample_axes(self, self.axis, len(sample_shape) + 1)

    def build(self, input_shape):
        axes = self._input_axes(input_shape)
        shape = tuple(input_shape[a - 1] for a in axes)
        if self.scale:
            self.add_weight("gamma", shape, "ones")
        if self.center:
            self.add_weight("beta", shape, "zeros")
        super().build(input_shape)

    def _broadcast(self, param, ndim):
        """``param`` (the normalised axes' shape) shaped to broadcast against a batch of ``ndim`` axes."""
        shape = [1] * ndim
        for a, size in zip(self._batch_axes, param.shape):
            shape[a] = size
        return param.reshape(shape)

    def forward(self, x, training=False):
        if tuple(x.shape[1:]) != tuple(self.input_shape):
            raise ValueError(f"{self.describe()}: expected input samples of shape {self.input_shape}, "
                             f"got {x.shape[1:]}")
        self._batch_axes = axes = self._input_axes(x.shape[1:])
        mean = x.mean(axis=axes, keepdims=True)
        centred = x - mean
        var = np.mean(centred * centred, axis=axes, keepdims=True)       # biased, as Keras and PyTorch
        if not np.isfinite(var).all() and np.isfinite(x).all():
            # finite values whose squared deviations overflow the dtype (~1e19 in float32): the
            # output would be beta alone and no gradient would pass, silently (Keras gives 0s,
            # PyTorch NaN); say so, as BatchNormalization does
            raise NonFiniteError(f"{self.describe()}: the variance of a sample overflowed {x.dtype} (its "
                                 f"values reach {float(np.abs(x).max()):.3g}); scale the inputs, or use "
                                 f"dtype='float64'", layer=self.name, what="values")
        self.inv_std = 1.0 / np.sqrt(var + self.epsilon)
        self.xhat = centred
        self.xhat *= self.inv_std
        out = self.xhat * self._broadcast(self.params["gamma"], x.ndim) if self.scale else self.xhat.copy()
        if self.center:
            out += self._broadcast(self.params["beta"], x.ndim)
        return out

    def backward(self, grad_output):
        g = grad_output
        others = tuple(a for a in range(g.ndim) if a not in self._batch_axes)       # the batch and the rest
        if self.center:
            np.sum(g, axis=others, out=self.grads["beta"])
        if self.scale:
            np.sum(g * self.xhat, axis=others, out=self.grads["gamma"])
        if not self.needs_input_gradient:
            return None
        # d/dx of (x - mean) / std through this sample's mean and variance, simplified:
        # dx = 1 / (n std) * (n dxhat - sum(dxhat) - xhat * sum(dxhat xhat)), sums over the axes
        dxhat = g * self._broadcast(self.params["gamma"], g.ndim) if self.scale else g.copy()
        n = self.xhat.size // self.inv_std.size
        dx = dxhat * float(n)
        dx -= dxhat.sum(axis=self._batch_axes, keepdims=True)
        dx -= self.xhat * (dxhat * self.xhat).sum(axis=self._batch_axes, keepdims=True)
        dx *= self.inv_std / n
        return dx

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale}
