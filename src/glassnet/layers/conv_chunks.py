"""The convolutions over chunks of the batch, for calls whose patch matrix (im2col) would exceed
``conv_memory_limit()`` (layers/conv_memory.py says why). layers/conv.py's functions hand over to
these; the cache is a ``Chunked`` holding the padded input (or a transposed convolution's input
rows), and backward rebuilds each chunk's patches. Each chunk is the unchunked computation on its
samples, so outputs and input gradients are per sample the same products; the weight gradients
add the chunks' sums.
"""
import math

from .. import backend
from .conv import _input_gradient, _pad, im2col
from .conv_memory import Chunked, chunks


def chunked_conv_forward(xp, weights, ksize, has_bias, step, pads, strides, out_shape, dilation):
    """``conv_forward`` in chunks of ``step`` samples.

    xp : (N, *padded spatial, C), the padded input; weights : (window * C [+ 1 bias row], F).
    Returns z (N, *out_shape, F) and a ``Chunked`` cache for ``chunked_conv_backward``.
    """
    n, filters, rows = xp.shape[0], weights.shape[1], math.prod(out_shape)
    am = backend.get_array_module(xp)
    z = am.empty((n * rows, filters), dtype=am.result_type(xp.dtype, weights.dtype))
    for part in chunks(n, step):
        cols = im2col(xp[part], ksize, strides, out_shape, ones_column=has_bias, dilation=dilation)
        # the chunk's rows of z, written in place: the products of the unchunked matmul's rows
        am.matmul(cols, weights, out=z[part.start * rows:part.stop * rows])
    return z.reshape(n, *out_shape, filters), Chunked(step, xp, (has_bias, pads, strides, out_shape, dilation))


def chunked_conv_backward(grad_z, cache, kernel, input_gradient=True):
    """``conv_backward`` for a ``Chunked`` cache: (dx, dkernel, dbias), each chunk's patches rebuilt."""
    has_bias, pads, strides, out_shape, dilation = cache.state
    xp, (n, *padded, c) = cache.xp, cache.xp.shape
    *ksize, _, filters = kernel.shape
    am = backend.get_array_module(xp)
    g_all = grad_z.reshape(n, -1, filters)
    dweights = am.zeros((kernel.size // filters + has_bias, filters), dtype=am.result_type(xp.dtype, grad_z.dtype))
    dx = None
    if input_gradient:
        dx = am.empty((n, *(size - a - b for size, (a, b) in zip(padded, pads)), c), dtype=dweights.dtype)
    for part in chunks(n, cache.step):
        cols = im2col(xp[part], ksize, strides, out_shape, ones_column=has_bias, dilation=dilation)
        g = g_all[part].reshape(-1, filters)
        dweights += cols.T @ g                  # [dkernel; dbias], this chunk's share
        del cols                                # before the input gradient's own buffers
        if input_gradient:
            dx[part] = _input_gradient(g, kernel, (part.stop - part.start, *padded, c), pads, strides, out_shape,
                                       dilation)
    dkernel = dweights[:kernel.size // filters].reshape(kernel.shape)
    return dx, dkernel, dweights[-1] if has_bias else None


def chunked_conv_transpose_forward(x2, kernel, bias, step, padded_shape, pads, strides, in_shape):
    """``conv_transpose_forward`` in chunks of ``step`` samples: x2 (N * input positions, C_in) the
    input's rows, ``padded_shape`` the whole batch's padded output. Returns z and a ``Chunked`` cache."""
    n, rows = padded_shape[0], math.prod(in_shape)
    am = backend.get_array_module(x2)
    z = None
    for part in chunks(n, step):
        zp = _input_gradient(x2[part.start * rows:part.stop * rows], kernel,
                             (part.stop - part.start, *padded_shape[1:]), pads, strides, in_shape)
        if z is None:
            z = am.empty((n, *zp.shape[1:]), dtype=zp.dtype)
        z[part] = zp
    if bias is not None:
        z += bias                               # the unchunked z + bias, value for value
    return z, Chunked(step, x2, (bias is not None, pads, strides, in_shape))


def chunked_conv_transpose_backward(grad_z, cache, kernel, input_gradient=True):
    """``conv_transpose_backward`` for a ``Chunked`` cache: each chunk's fields of ``grad_z`` made
    in turn."""
    has_bias, pads, strides, in_shape = cache.state
    x2, rows, n = cache.xp, math.prod(in_shape), grad_z.shape[0]
    *ksize, filters, c = kernel.shape
    am = backend.get_array_module(x2)
    dkernel = am.zeros((math.prod(ksize) * filters, c), dtype=am.result_type(x2.dtype, grad_z.dtype))
    dx = am.empty((n, *in_shape, c), dtype=dkernel.dtype) if input_gradient else None
    flat = kernel.reshape(-1, c)
    for part in chunks(n, cache.step):
        cols = im2col(_pad(grad_z[part], pads), ksize, strides, in_shape)
        dkernel += cols.T @ x2[part.start * rows:part.stop * rows]
        if input_gradient:
            dx[part] = (cols @ flat).reshape(-1, *in_shape, c)
    dbias = grad_z.sum(axis=tuple(range(grad_z.ndim - 1))) if has_bias else None
    return dx, dkernel.reshape(kernel.shape), dbias
