"""LayerNormalization and GroupNormalization: each sample normalised over its own features (all of
them, or groups of channels), the same in training and at inference (Keras' and PyTorch's)."""
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


class GroupNormalization(Layer):
    """Normalise each sample within groups of its channels (Wu & He 2018; Keras' ``GroupNormalization``,
    PyTorch's ``nn.GroupNorm``): the ``C`` channels of the last axis are split into ``groups`` runs
    of ``C / groups``; each run is normalised over its channels and every position of the sample,
    ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta``, with ``gamma`` and ``beta`` per channel.
    It does not depend on the batch: the same in training and at inference, and as good with batches
    of 2 as of 200 (where BatchNormalization's batch statistics are noisy). ``groups=1`` is a layer
    norm over the whole sample; ``groups=-1`` (one group per channel) an instance norm.

    Parameters
    ----------
    groups : int, default 32 (Keras')
        A divisor of the number of channels, or -1 for one group per channel.
    axis : -1
        The channel axis: the last (channels-last images, sequences' features), as -1 or counted
        from the batch (3 for (H, W, C)). Others are refused.
    epsilon : float, default 1e-3 (Keras'; PyTorch's is 1e-5)
    center, scale : bool
        Whether there is a ``beta`` and a ``gamma``.

    Shapes: input (batch, ..., C) -> the same; ``gamma`` and ``beta`` (C,).

    Example
    -------
    >>> y = GroupNormalization(groups=2)(np.arange(8.0).reshape(1, 2, 4))    # groups: channels 0-1, 2-3
    >>> np.round(y[0].astype(float), 3).tolist()
    [[-1.213, -0.728, -1.213, -0.728], [0.728, 1.213, 0.728, 1.213]]
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or not (groups > 0 or groups == -1):
            raise ValueError(f"GroupNormalization: groups must be a positive integer or -1 (one group per channel), "
                             f"got {groups!r:.40}")
        self.groups = int(groups)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"GroupNormalization: axis must be the channel axis, -1 (channels last); got {axis!r:.40}")
        self.axis = int(axis)      # -1, or the last axis counted from the batch (3 for (H, W, C)): checked at build
        self.epsilon = check_number(epsilon, "GroupNormalization: epsilon", "> 0")
        self.center = check_flag(center, "GroupNormalization: center")
        self.scale = check_flag(scale, "GroupNormalization: scale")

    def _groups_of(self, channels):
        groups = channels if self.groups == -1 else self.groups
        if channels % groups:
            default = " (the default)" if self.groups == 32 else ""
            raise ValueError(f"{self.describe()}: groups={self.groups}{default} must divide the {channels} channels")
        return groups

    def build(self, input_shape):
        if len(input_shape) < 1:
            raise ValueError(f"{self.describe()}: expected samples with a channel axis, got {tuple(input_shape)}")
        if self.axis not in (-1, len(input_shape)):
            raise ValueError(f"{self.describe()}: axis must be the channel axis, the last (-1 or {len(input_shape)} for "
                             f"samples of shape {tuple(input_shape)}); got {self.axis}")
        if len(input_shape) == 1 and self._groups_of(input_shape[0]) == input_shape[0]:
            raise ValueError(f"{self.describe()}: one channel per group on samples of shape {tuple(input_shape)} "
                             f"normalises each value alone: every output would be beta, and no gradient would "
                             f"pass; use fewer groups")
        channels = input_shape[-1]
        self._groups_of(channels)
        if self.scale:
            self.add_weight("gamma", (channels,), "ones")
        if self.center:
            self.add_weight("beta", (channels,), "zeros")
        super().build(input_shape)

    def forward(self, x, training=False):
        if tuple(x.shape[1:]) != tuple(self.input_shape):
            raise ValueError(f"{self.describe()}: expected input samples of shape {self.input_shape}, "
                             f"got {x.shape[1:]}")
        n, channels = x.shape[0], x.shape[-1]
        groups = self._groups_of(channels)
        # (batch, positions, groups, channels per group): statistics over axes 1 and 3
        grouped = x.reshape(n, int(np.prod(x.shape[1:-1])), groups, channels // groups)
        mean = grouped.mean(axis=(1, 3), keepdims=True)
        centred = grouped - mean
        with np.errstate(over="ignore"):                # an overflow is refused below, by name
            var = np.mean(centred * centred, axis=(1, 3), keepdims=True)     # biased, as Keras and PyTorch
        if not np.isfinite(var).all() and np.isfinite(x).all():
            raise NonFiniteError(f"{self.describe()}: the variance of a group overflowed {x.dtype} (its values "
                                 f"reach {float(np.abs(x).max()):.3g}); scale the inputs, or use dtype='float64'",
                                 layer=self.name, what="values")
        self.inv_std = 1.0 / np.sqrt(var + self.epsilon)
        self.xhat = centred
        self.xhat *= self.inv_std
        xhat = self.xhat.reshape(x.shape)
        out = xhat * self.params["gamma"] if self.scale else xhat.copy()
        if self.center:
            out += self.params["beta"]
        return out

    def backward(self, grad_output):
        g = grad_output
        shape = self.xhat.shape
        xhat = self.xhat.reshape(g.shape)
        per_channel = tuple(range(g.ndim - 1))               # every axis but the channels
        if self.center:
            np.sum(g, axis=per_channel, out=self.grads["beta"])
        if self.scale:
            np.sum(g * xhat, axis=per_channel, out=self.grads["gamma"])
        if not self.needs_input_gradient:
            return None
        # LayerNormalization's input gradient, per group:
        # dx = 1 / (n std) * (n dxhat - sum(dxhat) - xhat * sum(dxhat xhat)), sums over the group
        dxhat = (g * self.params["gamma"] if self.scale else g.copy()).reshape(shape)
        count = shape[1] * shape[3]
        dx = dxhat * float(count)
        dx -= dxhat.sum(axis=(1, 3), keepdims=True)
        dx -= self.xhat * (dxhat * self.xhat).sum(axis=(1, 3), keepdims=True)
        dx *= self.inv_std / count
        return dx.reshape(g.shape)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale}
