"""LayerNormalization, RMSNormalization and GroupNormalization: each sample normalised over its own
features (all of them, or groups of channels), the same in training and at inference (Keras' and
PyTorch's); UnitNormalization: each sample scaled to unit length."""

import numpy as np

from .._warnings import warn
from .._validation import check_flag, check_number
from ..errors import NonFiniteError
from ._affine_arguments import affine_config, set_affine_arguments
from ._norm_layout import broadcast, summed_into, weight_shape
from .base import Layer, check_axis, sample_axes, shape_fits


def _standardised(layer, x, axes, what):
    """``((x - mean) / sqrt(var + epsilon), 1 / sqrt(var + epsilon))``, the mean and the biased
    variance (Keras' and PyTorch's) over ``axes`` of ``x``, kept as size-1 axes. ``what`` ("a
    sample", "a group") names the set whose variance overflowed: finite values whose squared
    deviations overflow the dtype (~1e19 in float32) would make the output beta alone and pass no
    gradient, silently (Keras gives 0s, PyTorch NaN); a NonFiniteError says so, as
    BatchNormalization's does."""
    centred = x - x.mean(axis=axes, keepdims=True)
    var = _mean_square(layer, centred, axes, f"the variance of {what}", x)
    inv_std = 1.0 / np.sqrt(var + layer.epsilon)
    centred *= inv_std
    return centred, inv_std


def _mean_square(layer, values, axes, what, x):
    """``mean(values ** 2)`` over ``axes``, kept as size-1 axes; a NonFiniteError naming ``what``
    when it overflows the dtype while the input ``x`` is finite (see ``_standardised``)."""
    with np.errstate(over="ignore"):                    # an overflow is refused below, by name
        mean = np.mean(values * values, axis=axes, keepdims=True)
    if not np.isfinite(mean).all() and np.isfinite(x).all():
        raise NonFiniteError(f"{layer.describe()}: {what} overflowed {x.dtype} (its values reach "
                             f"{float(np.abs(x).max()):.3g}); scale the inputs, or use dtype='float64'",
                             layer=layer.name, what="values")
    return mean


def _standardised_gradient(dxhat, xhat, inv_std, axes):
    """d/dx of ``_standardised`` through the mean and variance over ``axes``, given dL/dxhat:
    ``dx = 1 / (n std) * (n dxhat - sum(dxhat) - xhat * sum(dxhat xhat))``, sums over the axes."""
    n = xhat.size // inv_std.size
    dx = dxhat * float(n)
    dx -= dxhat.sum(axis=axes, keepdims=True)
    dx -= xhat * (dxhat * xhat).sum(axis=axes, keepdims=True)
    dx *= inv_std / n
    return dx


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
    rms_scaling : bool, default False
        Keras 3.15's deprecated option, kept for its models: ``y = gamma * x / sqrt(var + epsilon)``,
        x not centred but divided by its standard deviation (not its root mean square); always a
        ``gamma``, never a ``beta``, whatever ``center`` and ``scale`` say. Warns as Keras does:
        ``RMSNormalization`` is the real RMS norm.
    beta_initializer, gamma_initializer : str, Initializer or callable, default "zeros", "ones"
        As ``Dense``'s initializers (Keras'); ``gamma_initializer="zeros"`` starts a residual
        block's last normalisation at the identity of the skip path.
    beta_regularizer, gamma_regularizer : Regularizer, str or None
        A penalty on the shift and the scale added to the loss, as ``Dense``'s ``kernel_regularizer``.
    beta_constraint, gamma_constraint : Constraint, str or None
        Projected after every update a model makes, as ``Dense``'s ``kernel_constraint``.

    ``params``: ``gamma`` (ones) and ``beta`` (zeros), shaped like the normalised axes of a
    sample: (features,) for ``axis=-1``. Shapes: input (batch, ...) -> output of the same shape.

    Example
    -------
    >>> ln = LayerNormalization(epsilon=1e-6)
    >>> y = ln(np.array([[1.0, 2.0, 3.0], [10.0, 20.0, 60.0]]))     # float32 unless dtype= says
    >>> np.round(y.astype(float), 4).tolist()
    [[-1.2247, 0.0, 1.2247], [-0.9258, -0.4629, 1.3887]]
    """

    supports_masking = True      # each step on its own: a mask passes on (layers/masking.py)

    rms_scaling = False     # for a layer pickled before it

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, rms_scaling=False, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        set_affine_arguments(self, "LayerNormalization", beta_initializer, gamma_initializer, beta_regularizer,
                             gamma_regularizer, beta_constraint, gamma_constraint)
        self.axis = check_axis(axis, "LayerNormalization")
        self.epsilon = check_number(epsilon, "LayerNormalization: epsilon", "> 0")
        self.center = check_flag(center, "LayerNormalization: center")
        self.scale = check_flag(scale, "LayerNormalization: scale")
        self.rms_scaling = check_flag(rms_scaling, "LayerNormalization: rms_scaling")
        if self.rms_scaling:            # Keras 3.15's own warning: the option is kept for old models
            warn("LayerNormalization: rms_scaling=True is deprecated in Keras 3: it divides the input "
                 "by its standard deviation, not its root mean square; for an RMS norm use "
                 "RMSNormalization")

    @property
    def _has_gamma(self):
        # Keras: rms_scaling always scales, and never shifts
        return self.scale or self.rms_scaling

    @property
    def _has_beta(self):
        return self.center and not self.rms_scaling

    def _input_axes(self, sample_shape):
        """The normalised axes of a batch (batch axis 0 first), sorted and positive (``sample_axes``)."""
        return sample_axes(self, self.axis, len(sample_shape) + 1)

    def build(self, input_shape):
        # Keras' layout: the axis list's own sorted order (axis=[1, -2]: (input[-2], input[1]))
        shape = weight_shape(self, input_shape, self._input_axes(input_shape))
        if self._has_gamma:
            self.add_weight("gamma", shape, self.gamma_initializer, self.gamma_regularizer, self.gamma_constraint)
        if self._has_beta:
            self.add_weight("beta", shape, self.beta_initializer, self.beta_regularizer, self.beta_constraint)
        super().build(input_shape)

    def _broadcast(self, param, x_shape):
        """``param`` (of the normalised axes' size) shaped to broadcast against a batch of ``x_shape``."""
        return broadcast(param, x_shape, self._batch_axes)

    def forward(self, x, training=False):
        if not shape_fits(x.shape[1:], self.input_shape):
            raise ValueError(f"{self.describe()}: expected input samples of shape {self.input_shape}, "
                             f"got {x.shape[1:]}")
        self._batch_axes = axes = self._input_axes(x.shape[1:])
        self.xhat, self.inv_std = _standardised(self, x, axes, "a sample")
        if self.rms_scaling:
            # Keras' x / sqrt(var + eps), x itself, not centred; the centred one stays for backward
            self._centred, self.xhat = self.xhat, x * self.inv_std
        out = self.xhat * self._broadcast(self.params["gamma"], x.shape) if self._has_gamma else self.xhat.copy()
        if self._has_beta:
            out += self._broadcast(self.params["beta"], x.shape)
        return out

    def backward(self, grad_output):
        g = grad_output
        others = tuple(a for a in range(g.ndim) if a not in self._batch_axes)       # the batch and the rest
        if self._has_beta:
            np.sum(g, axis=others, out=summed_into(self.grads["beta"], g.shape, self._batch_axes))
        if self._has_gamma:
            np.sum(g * self.xhat, axis=others, out=summed_into(self.grads["gamma"], g.shape, self._batch_axes))
        if not self.needs_input_gradient:
            return None
        dxhat = g * self._broadcast(self.params["gamma"], g.shape) if self._has_gamma else g.copy()
        if self.rms_scaling:
            # y = x inv with inv = (var + eps)^-1/2: only the variance depends on the mean, so
            # dx = inv * (dxhat - centred_hat * mean(dxhat * xhat)), centred_hat = (x - mean) inv
            axes = self._batch_axes
            dx = self._centred * (dxhat * self.xhat).mean(axis=axes, keepdims=True)
            np.subtract(dxhat, dx, out=dx)
            dx *= self.inv_std
            return dx
        return _standardised_gradient(dxhat, self.xhat, self.inv_std, self._batch_axes)

    def get_config(self):
        config = {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                  "center": self.center, "scale": self.scale}
        if self.rms_scaling:      # only when on: a default layer's config and files stay those of before
            config["rms_scaling"] = True
        return {**config, **affine_config(self)}


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
    axis : int, default -1
        The channel axis, counted from the batch (3 for (H, W, C)) or from the end: the last
        (channels-last images, sequences' features), or another, as Keras' (``axis=1`` for
        channels-first images (C, H, W)): the groups are runs of that axis, each normalised over
        its channels and every other axis of the sample. Not the batch axis.
    epsilon : float, default 1e-3 (Keras'; PyTorch's is 1e-5)
    center, scale : bool
        Whether there is a ``beta`` and a ``gamma``.
    beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint
        As ``LayerNormalization``'s (Keras'): default zeros and ones, no penalty, no constraint.

    Shapes: input (batch, ..., C) -> the same (C on ``axis``); ``gamma`` and ``beta`` (C,).

    Example
    -------
    >>> y = GroupNormalization(groups=2)(np.arange(8.0).reshape(1, 2, 4))    # groups: channels 0-1, 2-3
    >>> np.round(y[0].astype(float), 3).tolist()
    [[-1.213, -0.728, -1.213, -0.728], [0.728, 1.213, 0.728, 1.213]]
    """

    # a mask passes on, as Keras' does; but a group's statistics span every step of a sequence,
    # masked (padded) ones too, as in Keras: the padding changes the real steps' outputs
    supports_masking = True

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        set_affine_arguments(self, "GroupNormalization", beta_initializer, gamma_initializer, beta_regularizer,
                             gamma_regularizer, beta_constraint, gamma_constraint)
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or not (groups > 0 or groups == -1):
            raise ValueError(f"GroupNormalization: groups must be a positive integer or -1 (one group per channel), "
                             f"got {groups!r:.40}")
        self.groups = int(groups)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or axis == 0:
            raise ValueError(f"GroupNormalization: axis must be the channel axis, an integer other than 0 (the batch "
                             f"axis), -1 for channels last; got {axis!r:.40}")
        self.axis = int(axis)      # counted from the batch (3 for (H, W, C)) or from the end: checked at build
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
        rank = len(input_shape) + 1
        if not (-rank < self.axis < rank) or self.axis in (0, -rank):
            raise ValueError(f"{self.describe()}: axis {self.axis} is not a channel axis of samples of shape "
                             f"{tuple(input_shape)}: 1 to {rank - 1} (counted from the batch) or -1 to {1 - rank}")
        if len(input_shape) == 1 and self._groups_of(input_shape[0]) == input_shape[0]:
            raise ValueError(f"{self.describe()}: one channel per group on samples of shape {tuple(input_shape)} "
                             f"normalises each value alone: every output would be beta, and no gradient would "
                             f"pass; use fewer groups")
        channels = input_shape[self._channel_axis(rank)]
        self._groups_of(channels)
        if self.scale:
            self.add_weight("gamma", (channels,), self.gamma_initializer, self.gamma_regularizer, self.gamma_constraint)
        if self.center:
            self.add_weight("beta", (channels,), self.beta_initializer, self.beta_regularizer, self.beta_constraint)
        super().build(input_shape)

    def _channel_axis(self, rank):
        """The channel axis of inputs of ``rank`` (the batch's included), counted from the end: -1
        for channels last."""
        return self.axis - rank if self.axis > 0 else self.axis

    def forward(self, x, training=False):
        if not shape_fits(x.shape[1:], self.input_shape):
            raise ValueError(f"{self.describe()}: expected input samples of shape {self.input_shape}, "
                             f"got {x.shape[1:]}")
        axis = self._channel_axis(x.ndim)
        if axis != -1:          # another channel axis (channels first): computed with it moved last
            return np.ascontiguousarray(np.moveaxis(self._channels_last(np.moveaxis(x, axis, -1)), -1, axis))
        return self._channels_last(x)

    def _channels_last(self, x):
        n, channels = x.shape[0], x.shape[-1]
        groups = self._groups_of(channels)
        # (batch, positions, groups, channels per group): statistics over axes 1 and 3
        grouped = x.reshape(n, int(np.prod(x.shape[1:-1])), groups, channels // groups)
        self.xhat, self.inv_std = _standardised(self, grouped, (1, 3), "a group")
        xhat = self.xhat.reshape(x.shape)
        out = xhat * self.params["gamma"] if self.scale else xhat.copy()
        if self.center:
            out += self.params["beta"]
        return out

    def backward(self, grad_output):
        axis = self._channel_axis(grad_output.ndim)
        if axis != -1:
            grad = self._channels_last_backward(np.moveaxis(grad_output, axis, -1))
            return None if grad is None else np.ascontiguousarray(np.moveaxis(grad, -1, axis))
        return self._channels_last_backward(grad_output)

    def _channels_last_backward(self, grad_output):
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
        dxhat = (g * self.params["gamma"] if self.scale else g.copy()).reshape(shape)
        return _standardised_gradient(dxhat, self.xhat, self.inv_std, (1, 3)).reshape(g.shape)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, **affine_config(self)}


class RMSNormalization(Layer):
    """Each sample divided by its root mean square over ``axis``, then scaled: ``y = x /
    sqrt(mean(x**2) + epsilon) * scale`` (Zhang & Sennrich 2019; Keras 3's ``RMSNormalization``,
    PyTorch's ``nn.RMSNorm``). Unlike LayerNormalization nothing is centred, and there is no shift:
    the normalisation of LLaMA-style transformers.

    Parameters
    ----------
    axis : int or list of ints
        The axes (batch axis 0 excluded; negative counts from the end) over which the mean is
        taken: -1 for the features after ``Dense`` or each step's features in a sequence.
    epsilon : float
        Added to the mean square before the square root; finite and > 0 (Keras' default 1e-6).

    ``params``: ``scale`` (ones), shaped like the normalised axes of a sample. Shapes: input
    (batch, ...) -> output of the same shape. Gradient, with u = x * r the normalised input and
    r = 1 / sqrt(mean(x**2) + epsilon): ``dx = r * (du - u * mean(du * u))`` over the axes, where
    du = dy * scale.

    Example
    -------
    >>> y = RMSNormalization(dtype="float64")(np.array([[3.0, 4.0]]))
    >>> np.round(y, 4).tolist()
    [[0.8485, 1.1314]]
    """

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.axis = check_axis(axis, "RMSNormalization")
        self.epsilon = check_number(epsilon, "RMSNormalization: epsilon", "> 0")

    def build(self, input_shape):
        axes = sample_axes(self, self.axis, len(input_shape) + 1)
        self.add_weight("scale", weight_shape(self, input_shape, axes), "ones")      # (Keras' layout)
        super().build(input_shape)

    def check_input_shape(self, sample_shape):
        super().check_input_shape(sample_shape)
        sample_axes(self, self.axis, len(sample_shape) + 1)

    def _scale(self, x_shape):
        """``scale`` shaped to broadcast against a batch of ``x_shape``."""
        return broadcast(self.params["scale"], x_shape, self._axes)

    def forward(self, x, training=False):
        self._axes = axes = sample_axes(self, self.axis, x.ndim)
        mean_square = _mean_square(self, x, axes, "the mean square of a sample", x)
        self.inv_rms = 1.0 / np.sqrt(mean_square + x.dtype.type(self.epsilon))
        self.normalised = x * self.inv_rms
        return self.normalised * self._scale(x.shape)

    def backward(self, grad_output):
        g, u = grad_output, self.normalised
        others = tuple(a for a in range(g.ndim) if a not in self._axes)        # the batch and the rest
        np.sum(g * u, axis=others, out=summed_into(self.grads["scale"], g.shape, self._axes))
        if not self.needs_input_gradient:
            return None
        du = g * self._scale(g.shape)
        dx = du - u * np.mean(du * u, axis=self._axes, keepdims=True)
        dx *= self.inv_rms
        return dx

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}


class UnitNormalization(Layer):
    """Each sample scaled to unit length over ``axis``: ``y = x / max(||x||, 1e-12)``, the L2 norm
    over those axes (Keras' ``UnitNormalization``; PyTorch's ``F.normalize``). No weights.

    Parameters
    ----------
    axis : int or list of ints
        The axes (batch axis 0 excluded; negative counts from the end) whose values make one vector:
        -1 for the features after ``Dense`` or each step's features after a recurrent layer.

    Shapes: input (batch, ...) -> output of the same shape. Gradient, where the norm n exceeds
    1e-12: ``(g - y (y . g)) / n`` over the axes (the part of g along y removed); below it the
    layer divides by 1e-12, a constant, and passes ``g / 1e-12``. Finite values whose squared norm
    overflows the dtype (~1e19 in float32) are a NonFiniteError (Keras returns 0s for them).

    Example
    -------
    >>> UnitNormalization(dtype="float64")(np.array([[3.0, 4.0]])).tolist()
    [[0.6, 0.8]]
    """
    built_when_made = True      # (as Keras': see Layer.built_when_made)

    EPSILON = 1e-12                 # Keras' and PyTorch's floor on the norm
    supports_masking = True         # each sample on its own: a mask passes on (Keras')
    stacks_lists = True          # called alone on a list of arrays: one array, as Keras' (layers/base.py)

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = check_axis(axis, "UnitNormalization")

    def build(self, input_shape):
        sample_axes(self, self.axis, len(input_shape) + 1)
        super().build(input_shape)

    def check_input_shape(self, sample_shape):
        super().check_input_shape(sample_shape)
        sample_axes(self, self.axis, len(sample_shape) + 1)

    def forward(self, x, training=False):
        self._axes = axes = sample_axes(self, self.axis, x.ndim)
        with np.errstate(over="ignore"):                # an overflow is refused below, by name
            square_sum = (x * x).sum(axis=axes, keepdims=True)
        if not np.isfinite(square_sum).all() and np.isfinite(x).all():
            # finite values whose squares overflow (~1e19 in float32) would make the norm inf and
            # the output 0, with no gradient, silently: refused as RMSNormalization refuses them
            raise NonFiniteError(f"{self.describe()}: the squared norm of a sample overflowed {x.dtype} (its "
                                 f"values reach {float(np.abs(x).max()):.3g}); scale the inputs, or use "
                                 f"dtype='float64'", layer=self.name, what="values")
        norm = np.sqrt(square_sum)
        self._floored = norm <= self.EPSILON             # where the constant floor divides instead
        self._norm = np.maximum(norm, x.dtype.type(self.EPSILON))
        self.a = x / self._norm
        return self.a

    def backward(self, grad_output):
        if not self.needs_input_gradient:
            return None
        along = (self.a * grad_output).sum(axis=self._axes, keepdims=True)
        along = np.where(self._floored, 0, along)        # a constant denominator: no projection
        return (grad_output - self.a * along) / self._norm

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
