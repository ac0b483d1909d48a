"""Grouped convolution (Keras' ``Conv1D/2D/3D(groups=g)``, PyTorch's ``conv2d(groups=g)``): the
input channels are split into ``g`` runs of ``C / g``, the filters into ``g`` runs of ``F / g``,
and run j of the filters sees run j of the channels only. The kernel is (*window, C / g, F),
Keras' layout: its filters ``j F/g .. (j+1) F/g - 1`` are group j's.

The receptive fields are copied once (layers/conv.py's im2col, all channels), regrouped into
(g, positions, window * C/g), and the convolution is ONE batched matrix product of those with the
kernel's g blocks (window * C/g, F/g): exactly the multiplications a grouped convolution needs,
never a block-diagonal kernel g times larger. The gradients are one batched product each too.
"""
import math

from .conv import _crop, col2im, im2col, padded_input


def grouped_conv_forward(x, kernel, bias, strides, padding, dilation, groups):
    """z = grouped conv(x, kernel) + bias, channels-last, TensorFlow padding.

    x : (N, *spatial, C); kernel : (*window, C / groups, F); bias : (F,) or None.
    Returns z (N, *output spatial, F) and the cache for ``grouped_conv_backward``.
    """
    n, channels = x.shape[0], x.shape[-1]
    *ksize, per_group, filters = kernel.shape
    if channels != per_group * groups:
        raise ValueError(f"grouped_conv_forward: {groups} groups of {per_group} channels need inputs of "
                         f"{per_group * groups} channels, got {channels}")
    xp, strides, dilation, out_shape, pads = padded_input(x, ksize, strides, padding, dilation,
                                                          "grouped_conv_forward")
    cols = im2col(xp, ksize, strides, out_shape, dilation=dilation)     # (M, window * C), C-ordered
    m, window = cols.shape[0], math.prod(ksize)
    # columns are (window offset, channel); the channel axis splits into (group, channel in group)
    cols = cols.reshape(m, window, groups, per_group).transpose(2, 0, 1, 3).reshape(groups, m, window * per_group)
    z = cols @ _kernel_blocks(kernel, groups)                           # (groups, M, F / groups)
    z = z.transpose(1, 0, 2).reshape(n, *out_shape, filters)            # filters group-major, as Keras'
    if bias is not None:
        z += bias
    return z, (cols, bias is not None, xp.shape, pads, strides, out_shape, dilation, groups)


def _kernel_blocks(kernel, groups):
    """The kernel (*window, C/g, F) as g blocks (g, window * C/g, F/g), a view: block j holds
    filters j F/g .. (j+1) F/g - 1."""
    filters = kernel.shape[-1]
    return kernel.reshape(-1, groups, filters // groups).transpose(1, 0, 2)


def grouped_conv_backward(grad_z, cache, kernel, input_gradient=True):
    """Gradients of ``grouped_conv_forward``: (dx, dkernel, dbias); dx None when
    ``input_gradient`` is False, dbias None without a bias."""
    cols, has_bias, padded_shape, pads, strides, out_shape, dilation, groups = cache
    *ksize, per_group, filters = kernel.shape
    m = cols.shape[1]
    g = grad_z.reshape(m, groups, filters // groups).transpose(1, 0, 2)        # (groups, M, F / groups)
    dkernel = (cols.transpose(0, 2, 1) @ g).transpose(1, 0, 2).reshape(kernel.shape)
    dbias = grad_z.reshape(m, filters).sum(axis=0) if has_bias else None
    if not input_gradient:
        return None, dkernel, dbias
    dcols = g @ _kernel_blocks(kernel, groups).transpose(0, 2, 1)              # (groups, M, window * C/g)
    window = math.prod(ksize)
    # back to col2im's layout: one (M, C) block per window offset, channels group-major
    dfields = dcols.reshape(groups, m, window, per_group).transpose(2, 1, 0, 3).reshape(window, m, groups * per_group)
    return _crop(col2im(dfields, padded_shape, ksize, strides, out_shape, dilation), pads), dkernel, dbias
