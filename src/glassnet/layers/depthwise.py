"""DepthwiseConv2D/1D and SeparableConv2D/1D (Keras' names and weights), channels-last.

A depthwise convolution filters each input channel on its own: channel c's receptive fields
through its own ``depth_multiplier`` kernels give output channels ``c * depth_multiplier + m``
(Keras' order; PyTorch's ``Conv2d(groups=C)`` gives the same). A separable convolution follows it
with a 1x1 convolution that mixes the channels (a matrix product over them), the MobileNet and
Xception building block: far fewer weights than a full convolution of the same reach.

A depthwise convolution has no matrix product to hand to BLAS (each output channel sums kh * kw
products): it runs as shift and add, one pass per kernel offset over a strided view of the padded
input, as conv's ``col2im`` adds its fields back.
"""
import math

from .. import activations, backend, constraints, initializers, regularizers
from .base import LAYERS, Layer
from .data_format import DataFormat, config_entry, refuse_last_axis_activation, set_data_format
from .conv import (RankOneAsTwo, _crop, _pad, checked_sample, conv_output_length, positive_int,
                   refuse_pytorch_padding, weight_settings, window_settings, window_slices, windowed_output_sizes)


def depthwise_forward(x, kernel, strides, padding, dilation=(1, 1)):
    """z = depthwise_conv(x, kernel): x (N, H, W, C), kernel (kh, kw, C, multiplier) ->
    z (N, Ho, Wo, C * multiplier), TensorFlow's padding; and the cache for the backward pass.

    Shift and add: for each kernel offset and multiplier, the input pixels it meets for every
    output (a strided view of the padded input) times that offset's weights, summed into z, kept as
    (multiplier, N, Ho, Wo, C) so that every pass runs along the channels. kh * kw * multiplier
    passes over an output channel's worth of values, no copy of the receptive fields (an im2col
    regrouped per channel took 4x longer)."""
    am = backend.get_array_module(x)
    n, h, w, c = x.shape
    kh, kw, _, mult = kernel.shape
    ho, pad_h = conv_output_length(h, kh, strides[0], padding, dilation[0])
    wo, pad_w = conv_output_length(w, kw, strides[1], padding, dilation[1])
    xp = _pad(x, (pad_h, pad_w))
    z = am.zeros((mult, n, ho, wo, c), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, cols = window_slices((i, j), (ho, wo), strides, dilation)
            window = xp[:, rows, cols, :]
            for m in range(mult):
                z[m] += window * kernel[i, j, :, m]
    # Keras' channel order: c * multiplier + m (one copy; none for a multiplier of 1)
    z = z[0] if mult == 1 else am.ascontiguousarray(z.transpose(1, 2, 3, 4, 0)).reshape(n, ho, wo, c * mult)
    # the padded copy, or None without padding: x itself, a slice of the caller's data, is the
    # layer's to keep (and the model's to let go of after fit or predict), not the cache's
    return z, (None if xp is x else xp, (pad_h, pad_w), strides, (ho, wo), dilation)


def depthwise_backward(grad_z, cache, kernel, x, input_gradient=True):
    """Gradients of ``depthwise_forward`` on input ``x``: (dx or None, dkernel), offset by offset
    as forward."""
    am = backend.get_array_module(grad_z)
    xp, pads, strides, out_hw, dilation = cache
    xp = x if xp is None else xp
    kh, kw, c, mult = kernel.shape
    n = grad_z.shape[0]
    # (multiplier, N, Ho, Wo, C), as forward kept z: each multiplier's gradient contiguous
    g = am.ascontiguousarray(grad_z.reshape(n, *out_hw, c, mult).transpose(4, 0, 1, 2, 3))
    dkernel = am.empty(kernel.shape, dtype=kernel.dtype)
    dxp = am.zeros(xp.shape, dtype=grad_z.dtype) if input_gradient else None
    for i in range(kh):
        for j in range(kw):
            rows, cols = window_slices((i, j), out_hw, strides, dilation)
            window = xp[:, rows, cols, :]                               # (N, Ho, Wo, C)
            for m in range(mult):
                # dkernel[i, j, c, m]: window[..., c] times g[m][..., c], summed over every output
                dkernel[i, j, :, m] = am.einsum("nhwc,nhwc->c", window, g[m])      # on the view: no copy
                if input_gradient:
                    dxp[:, rows, cols, :] += g[m] * kernel[i, j, :, m]
    if not input_gradient:
        return None, dkernel
    return _crop(dxp, pads), dkernel


class _Depthwise(DataFormat, RankOneAsTwo, Layer):
    """DepthwiseConv2D's settings and passes; the 1-D layers run as 2-D with height 1, and the
    separable ones add a pointwise matrix product (``_pointwise``)."""
    activation = activations.LayerSetting()     # set as Keras code sets it: layer.activation = None

    rank = 2
    depthwise_regularizer = bias_regularizer = depthwise_constraint = bias_constraint = dilation_rate = None
    _KERNEL = "kernel"          # Keras' name for the depthwise weight (SeparableConv: depthwise_kernel)

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, activation=None,
                 use_bias=True, depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, depthwise_constraint=None,
                 bias_constraint=None, dilation_rate=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py: channels first by transposes)
        refuse_pytorch_padding(padding, self)
        # strides and dilation together, as Keras' depthwise and separable layers take them
        window_settings(self, kernel_size, strides, padding, activation, use_bias, dilation_rate, dilation="any")
        refuse_last_axis_activation(self)
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier", type(self).__name__)
        weight_settings(self, "depthwise", depthwise_initializer, depthwise_regularizer, depthwise_constraint)
        weight_settings(self, "bias", bias_initializer, bias_regularizer, bias_constraint)

    def _out_channels(self, channels):
        return channels * self.depth_multiplier

    def _check(self, sample_shape):
        """Rank, channels and window size of one input sample; returns the output sample shape."""
        sample_shape = checked_sample(self, sample_shape)
        out = windowed_output_sizes(self, sample_shape, self.kernel_size, "kernel_size")
        return (*out, self._out_channels(sample_shape[-1]))

    def build(self, input_shape):
        self._check(input_shape)
        channels = input_shape[-1]
        self.add_weight(self._KERNEL, (*self.kernel_size, channels, self.depth_multiplier), self.depthwise_initializer,
                        self.depthwise_regularizer, self.depthwise_constraint)
        self._build_pointwise(channels * self.depth_multiplier)
        if self.use_bias:
            self.add_weight("bias", (self._out_channels(channels),), self.bias_initializer, self.bias_regularizer,
                            self.bias_constraint)
        super().build(input_shape)

    def _build_pointwise(self, channels):
        """SeparableConv adds its 1x1 kernel here (between the depthwise kernel and the bias)."""

    def output_shape(self, input_shape):
        return self._check(input_shape)

    def check_input_shape(self, sample_shape):
        self._check(sample_shape)           # other heights/widths are fine, as for Conv2D

    def numbers_per_sample(self, input_shape):
        *out, channels = self._check(input_shape)
        fields = math.prod(self.kernel_size) * input_shape[-1]
        return math.prod(out) * max(2 * fields, channels, input_shape[-1] * self.depth_multiplier)

    def matmul_flops(self, batch_size):
        # shift and add: no matrix product (the separable layers' pointwise one: see _Separable)
        return 0

    def forward(self, x, training=False):
        if x.ndim != self.rank + 2 or x.shape[-1] != self.input_shape[-1]:
            self._check(x.shape[1:])
        self.x = x                      # kept for model.trace, as Conv2D keeps it
        try:
            dilation = self.dilation_rate or (1,) * self.rank
            d, self._cache = depthwise_forward(self._lifted(x), self._lifted_kernel(self._KERNEL),
                                               self._lifted_axes(self.strides), self.padding, self._lifted_axes(dilation))
        except ValueError:
            self._check(x.shape[1:])        # again, with the layer's name and the shapes
            raise
        z = self._pointwise(d)
        if self.use_bias:
            z += self.params["bias"]
        self.z = self._lowered(z)
        self.a = self.activation.forward(self.z)
        return self.a

    def _pointwise(self, d):
        """The depthwise output ``d`` (N, Ho, Wo, C * multiplier) on its way to z; kept as it is."""
        return d

    def _pointwise_backward(self, g):
        """dL/d(depthwise output) from dL/dz ``g``; fills the pointwise kernel's gradient."""
        return g

    def backward(self, grad_output):
        return self.backward_from_logits(self.activation.backward(grad_output, self.z, self.a))

    def backward_from_logits(self, grad_z):
        """Backward pass given dL/dz directly (the fused softmax/sigmoid + cross-entropy path)."""
        self.grad_z = grad_z
        g = self._lifted(grad_z)
        if self.use_bias:
            self.grads["bias"][...] = g.sum(axis=(0, 1, 2))
        dx, dkernel = depthwise_backward(self._pointwise_backward(g), self._cache, self._lifted_kernel(self._KERNEL),
                                         self._lifted(self.x), input_gradient=self.needs_input_gradient)
        self.grads[self._KERNEL][...] = dkernel.reshape(self.grads[self._KERNEL].shape)
        if dx is None:
            return None
        return self._lowered(dx)

    def get_config(self):
        return {**super().get_config(), "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "dilation_rate": list(self.dilation_rate or (1,) * self.rank),
                "padding": self.padding, "depth_multiplier": self.depth_multiplier,
                "activation": self.activation.name, "use_bias": self.use_bias,
                "depthwise_initializer": initializers.name_of(self.depthwise_initializer),
                "bias_initializer": initializers.name_of(self.bias_initializer),
                **regularizers.config_entries(self, ("depthwise_regularizer", "bias_regularizer")),
                **constraints.config_entries(self, ("depthwise_constraint", "bias_constraint")), **config_entry(self)}


del LAYERS["_Depthwise"]


class DepthwiseConv2D(_Depthwise):
    """Depthwise 2-D convolution (Keras' ``DepthwiseConv2D``): each input channel convolved with
    its own ``depth_multiplier`` kernels, ``a = activation(depthwise_conv(x, kernel) + bias)``.

    Parameters
    ----------
    kernel_size, strides : int or (int, int)
    padding : {"valid", "same"}
        TensorFlow's "same", as for ``Conv2D``.
    depth_multiplier : int
        Output channels per input channel.
    activation, use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer,
    bias_regularizer, depthwise_constraint, bias_constraint, dilation_rate :
        as for ``Conv2D``'s kernel and bias.

    Shapes: ``x`` (batch, H, W, C) -> output (batch, Ho, Wo, C * depth_multiplier); ``kernel``
    (kh, kw, C, depth_multiplier) as in Keras (PyTorch's ``Conv2d(groups=C)`` weight is
    (C * depth_multiplier, 1, kh, kw)), ``bias`` (C * depth_multiplier,).

    Example
    -------
    >>> import numpy as np
    >>> DepthwiseConv2D(3, depth_multiplier=2, padding="same", seed=0)(np.ones((2, 8, 8, 3))).shape
    (2, 8, 8, 6)
    """
    rank = 2


class DepthwiseConv1D(_Depthwise):
    """Depthwise 1-D convolution over channels-last sequences (Keras' ``DepthwiseConv1D``); the
    options of ``DepthwiseConv2D``. Shapes: ``x`` (batch, L, C) -> (batch, Lo, C * depth_multiplier);
    ``kernel`` (k, C, depth_multiplier).

    Example
    -------
    >>> import numpy as np
    >>> DepthwiseConv1D(5, strides=2, seed=0)(np.ones((2, 20, 4))).shape
    (2, 8, 4)
    """
    rank = 1


class _Separable(_Depthwise):
    """A depthwise convolution, then a 1x1 convolution to ``filters`` channels, then the bias."""
    pointwise_regularizer = pointwise_constraint = None
    _KERNEL = "depthwise_kernel"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", depth_multiplier=1, activation=None,
                 use_bias=True, depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, depthwise_constraint=None, pointwise_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, depth_multiplier, activation, use_bias, depthwise_initializer,
                         bias_initializer, depthwise_regularizer, bias_regularizer, depthwise_constraint,
                         bias_constraint, **kwargs)
        self.filters = positive_int(filters, "filters", type(self).__name__)
        weight_settings(self, "pointwise", pointwise_initializer, pointwise_regularizer, pointwise_constraint)

    def _out_channels(self, channels):
        return self.filters

    def _build_pointwise(self, channels):
        # Keras' shape: a 1x1 (or length-1) kernel of a full convolution
        self.add_weight("pointwise_kernel", (*(1,) * self.rank, channels, self.filters), self.pointwise_initializer,
                        self.pointwise_regularizer, self.pointwise_constraint)

    def matmul_flops(self, batch_size):
        if self.input_shape is None:
            return 0
        positions = math.prod(self.output_shape(self.input_shape)[:-1])
        return 2 * batch_size * self.params["pointwise_kernel"].size * positions

    def _pointwise(self, d):
        self._depthwise_out = d
        kernel = self.params["pointwise_kernel"]
        return d @ kernel.reshape(kernel.shape[-2:])

    def _pointwise_backward(self, g):
        kernel = self.params["pointwise_kernel"]
        channels = kernel.shape[-2]
        d = self._depthwise_out.reshape(-1, channels)
        self.grads["pointwise_kernel"][...] = (d.T @ g.reshape(-1, self.filters)).reshape(kernel.shape)
        return g @ kernel.reshape(kernel.shape[-2:]).T

    def get_config(self):
        config = super().get_config()
        return {"filters": self.filters, **config,
                "pointwise_initializer": initializers.name_of(self.pointwise_initializer),
                **regularizers.config_entries(self, ("pointwise_regularizer",)),
                **constraints.config_entries(self, ("pointwise_constraint",))}


del LAYERS["_Separable"]


class SeparableConv2D(_Separable):
    """Depthwise separable 2-D convolution (Keras' ``SeparableConv2D``): ``DepthwiseConv2D``
    without its bias, then a 1x1 convolution to ``filters`` channels, the bias and the activation.
    The options of ``DepthwiseConv2D``, and ``filters``, ``pointwise_initializer``,
    ``pointwise_regularizer``, ``pointwise_constraint`` for the 1x1 kernel.

    Shapes: ``x`` (batch, H, W, C) -> (batch, Ho, Wo, filters); ``depthwise_kernel``
    (kh, kw, C, depth_multiplier), ``pointwise_kernel`` (1, 1, C * depth_multiplier, filters),
    ``bias`` (filters,), Keras' weights in Keras' order.

    Example
    -------
    >>> import numpy as np
    >>> layer = SeparableConv2D(16, 3, padding="same", seed=0)
    >>> layer(np.ones((2, 8, 8, 32))).shape, layer.count_params()     # a Conv2D would have 4624
    ((2, 8, 8, 16), 816)
    """
    rank = 2


class SeparableConv1D(_Separable):
    """Depthwise separable 1-D convolution (Keras' ``SeparableConv1D``); the options of
    ``SeparableConv2D``. Shapes: ``x`` (batch, L, C) -> (batch, Lo, filters); ``pointwise_kernel``
    (1, C * depth_multiplier, filters).

    Example
    -------
    >>> import numpy as np
    >>> SeparableConv1D(8, 3, seed=0)(np.ones((2, 10, 4))).shape
    (2, 8, 8)
    """
    rank = 1
