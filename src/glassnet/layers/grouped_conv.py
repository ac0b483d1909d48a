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

from .. import backend
from .conv import _crop, col2im, im2col, padded_input
from .conv_memory import Chunked, batch_step, chunks


def grouped_conv_forward(x, kernel, bias, strides, padding, dilation, groups):
    """z = grouped conv(x, kernel) + bias, channels-last, TensorFlow padding.

    x : (N, *spatial, C); kernel : (*window, C / groups, F); bias : (F,) or None.
    Returns z (N, *output spatial, F) and the cache for ``grouped_conv_backward``. Patches over
    ``conv_memory_limit()`` bytes: the batch in chunks (layers/conv_memory.py), as conv_forward.
    """
    n, channels = x.shape[0], x.shape[-1]
    *ksize, per_group, filters = kernel.shape
    if channels != per_group * groups:
        raise ValueError(f"grouped_conv_forward: {groups} groups of {per_group} channels need inputs of "
                         f"{per_group * groups} channels, got {channels}")
    xp, strides, dilation, out_shape, pads = padded_input(x, ksize, strides, padding, dilation,
                                                          "grouped_conv_forward")
    geometry = (ksize, strides, out_shape, dilation, groups)
    step = batch_step(n, math.prod(out_shape) * math.prod(ksize) * channels * xp.itemsize)
    if step is None:
        cols = _grouped_cols(xp, *geometry)
        z = _grouped_z(cols, kernel, groups, n, out_shape)
        cache = (cols, bias is not None, xp.shape, pads, strides, out_shape, dilation, groups)
    else:
        am = backend.get_array_module(xp)
        z = None
        for part in chunks(n, step):
            zp = _grouped_z(_grouped_cols(xp[part], *geometry), kernel, groups, part.stop - part.start, out_shape)
            if z is None:
                z = am.empty((n, *zp.shape[1:]), dtype=zp.dtype)
            z[part] = zp
        cache = Chunked(step, xp, (bias is not None, pads, geometry))
    if bias is not None:
        z += bias
    return z, cache


def _grouped_cols(xp, ksize, strides, out_shape, dilation, groups):
    """The receptive fields of xp (N, *padded spatial, C) regrouped: (groups, M, window * C/g)."""
    cols = im2col(xp, ksize, strides, out_shape, dilation=dilation)     # (M, window * C), C-ordered
    m, window = cols.shape[0], math.prod(ksize)
    # columns are (window offset, channel); the channel axis splits into (group, channel in group)
    return cols.reshape(m, window, groups, -1).transpose(2, 0, 1, 3).reshape(groups, m, -1)


def _grouped_z(cols, kernel, groups, n, out_shape):
    """z (n, *out_shape, F) from the regrouped fields: one batched product."""
    z = cols @ _kernel_blocks(kernel, groups)                           # (groups, M, F / groups)
    return z.transpose(1, 0, 2).reshape(n, *out_shape, kernel.shape[-1])   # filters group-major, as Keras'


def _kernel_blocks(kernel, groups):
    """The kernel (*window, C/g, F) as g blocks (g, window * C/g, F/g), a view: block j holds
    filters j F/g .. (j+1) F/g - 1."""
    filters = kernel.shape[-1]
    return kernel.reshape(-1, groups, filters // groups).transpose(1, 0, 2)


def grouped_conv_backward(grad_z, cache, kernel, input_gradient=True):
    """Gradients of ``grouped_conv_forward``: (dx, dkernel, dbias); dx None when
    ``input_gradient`` is False, dbias None without a bias."""
    filters = kernel.shape[-1]
    if isinstance(cache, Chunked):
        return _chunked_backward(grad_z, cache, kernel, input_gradient)
    cols, has_bias, padded_shape, pads, strides, out_shape, dilation, groups = cache
    dkernel, g = _dkernel(cols, grad_z, kernel, groups)
    dbias = grad_z.reshape(-1, filters).sum(axis=0) if has_bias else None
    if not input_gradient:
        return None, dkernel, dbias
    return _dx(g, kernel, padded_shape, pads, strides, out_shape, dilation, groups), dkernel, dbias


def _dkernel(cols, grad_z, kernel, groups):
    """dkernel from regrouped fields ``cols`` (groups, M, window * C/g) and their z's gradient,
    and that gradient by group, (groups, M, F/g)."""
    filters, m = kernel.shape[-1], cols.shape[1]
    g = grad_z.reshape(m, groups, filters // groups).transpose(1, 0, 2)        # (groups, M, F / groups)
    return (cols.transpose(0, 2, 1) @ g).transpose(1, 0, 2).reshape(kernel.shape), g


def _dx(g, kernel, padded_shape, pads, strides, out_shape, dilation, groups):
    """dL/dx from the gradient by group ``g`` (groups, M, F/g): through the kernel's blocks, then col2im."""
    *ksize, per_group, _ = kernel.shape
    m = g.shape[1]
    dcols = g @ _kernel_blocks(kernel, groups).transpose(0, 2, 1)              # (groups, M, window * C/g)
    window = math.prod(ksize)
    # back to col2im's layout: one (M, C) block per window offset, channels group-major
    dfields = dcols.reshape(groups, m, window, per_group).transpose(2, 1, 0, 3).reshape(window, m, groups * per_group)
    return _crop(col2im(dfields, padded_shape, ksize, strides, out_shape, dilation), pads)


def _chunked_backward(grad_z, cache, kernel, input_gradient):
    """``grouped_conv_backward`` for a ``Chunked`` cache: each chunk's fields rebuilt in turn, the
    kernel's gradient summed over the chunks."""
    has_bias, pads, (ksize, strides, out_shape, dilation, groups) = cache.state
    xp, (n, *padded, c) = cache.xp, cache.xp.shape
    am = backend.get_array_module(xp)
    dkernel = am.zeros(kernel.shape, dtype=am.result_type(xp.dtype, grad_z.dtype))
    dx = None
    if input_gradient:
        dx = am.empty((n, *(size - a - b for size, (a, b) in zip(padded, pads)), c), dtype=dkernel.dtype)
    for part in chunks(n, cache.step):
        cols = _grouped_cols(xp[part], ksize, strides, out_shape, dilation, groups)
        share, g = _dkernel(cols, grad_z[part], kernel, groups)
        dkernel += share
        del cols
        if input_gradient:
            dx[part] = _dx(g, kernel, (part.stop - part.start, *padded, c), pads, strides, out_shape, dilation, groups)
    dbias = grad_z.reshape(-1, kernel.shape[-1]).sum(axis=0) if has_bias else None
    return dx, dkernel, dbias
