"""Conv2D, Conv1D and Conv3D, and their transposes, channels-last, with Keras' names, defaults and
"same" padding.

The maths lives in module-level functions (``conv_forward`` / ``conv_backward``) that take arrays
and return arrays, images (N, H, W, C) or volumes (N, D, H, W, C) alike; the layers only hold the
kernel, the bias and the forward cache. A 1-D convolution is a 2-D one over an image of height 1,
so those two layers share one code path too.

im2col: every receptive field is copied once into a row of ``cols`` (N * output positions,
kernel positions * C_in), whose column order matches a kernel of shape (kh, kw, C_in, C_out) (or
(kd, kh, kw, C_in, C_out)) reshaped to (kernel positions * C_in, C_out); the convolution is then ONE
matrix multiply, and the gradients of the kernel and the input are one each too (the input's
batched over kernel offsets, then summed back).

The transposed convolutions (``Conv2DTranspose``, ``Conv1DTranspose``, ``Conv3DTranspose``) are the
same two maps swapped: their forward pass is a convolution's input gradient (col2im), their input
gradient a convolution (im2col and one matrix multiply).
"""
import functools
import math

import numpy as np

from .. import activations, backend, constraints, initializers, regularizers
from .._validation import check_choice, check_flag
from .._bounds import check_sample_values
from .base import LAYERS, Layer, _unexpected_arguments
from .conv_memory import Chunked, batch_step
from .data_format import DataFormat, config_entry, refuse_last_axis_activation, sample_first, set_data_format
from .lora import LoraTarget

PADDINGS = ("valid", "same")


def conv_output_length(size, kernel, stride, padding, dilation=1):
    """Output length and (before, after) zero padding along one axis, as TensorFlow computes them.

    A kernel dilated by ``dilation`` spans ``(kernel - 1) * dilation + 1`` pixels (its taps
    ``dilation`` apart); the rules below use that span.
    "valid": no padding, ``out = (size - span) // stride + 1``.
    "same": ``out = ceil(size / stride)``; the total padding is split with the odd pixel after
    (bottom/right), which is where TensorFlow puts it and why PyTorch's symmetric padding differs.
    "causal" (Keras' Conv1D): ``span - 1`` zeros before, none after, so that output t sees inputs
    up to t only.

    >>> conv_output_length(5, 2, 2, "same"), conv_output_length(6, 3, 1, "causal", dilation=2)
    ((3, (0, 1)), (6, (4, 0)))
    """
    if size is None:            # any length (Input((None, channels))): known per batch, in forward
        return None, None
    span = (kernel - 1) * dilation + 1
    if padding == "valid":
        pads = (0, 0)
    elif padding == "causal":
        pads = (span - 1, 0)
    else:
        total = max((-(-size // stride) - 1) * stride + span - size, 0)
        pads = (total // 2, total - total // 2)
    padded = size + pads[0] + pads[1]
    if span > padded:
        raise ValueError(f"window of size {span} is larger than the padded input of size {padded}")
    return (padded - span) // stride + 1, pads


class RankOneAsTwo:
    """What the layers of rank 1 that run as rank 2 share (the convolutions, depthwise ones and
    ConvLSTM, the poolings, padding, cropping and upsampling): a sequence (N, L, C) is an image of
    height 1, (N, 1, L, C); per-axis settings get the height's in front; a kernel gets a height of 1.
    The batches, settings and kernels of the other ranks pass as they are."""

    def _lifted(self, x):
        """A rank-1 layer's batch (N, L, C) as images of height 1, (N, 1, L, C) (a view)."""
        return x[:, None] if self.rank == 1 else x

    def _lowered(self, x):
        """Undo ``_lifted`` on a batch: (N, 1, L, C) -> (N, L, C) for a rank-1 layer."""
        return x[:, 0] if self.rank == 1 else x

    def _lifted_axes(self, values):
        """Per-axis settings (strides, dilation, pool sizes, factors) with the height's in front for
        rank 1: 1, or (0, 0) for (before, after) amounts."""
        if self.rank != 1:
            return tuple(values)
        return ((0, 0) if isinstance(values[0], tuple) else 1, *values)

    def _lifted_kernel(self, name="kernel"):
        """The weight ``name`` with a height of 1 in front for rank 1: (k, C, O) -> (1, k, C, O), a view."""
        kernel = self.params[name]
        return kernel[None] if self.rank == 1 else kernel


def check_rank(layer, sample_shape):
    """Raise unless one sample of ``layer``'s input has ``layer.rank`` spatial axes plus channels."""
    if len(sample_shape) != layer.rank + 1:
        axes = {1: "length", 2: "height, width"}.get(layer.rank, "depth, height, width")
        axes = f"{axes}, channels"
        if getattr(layer, "data_format", None) == "channels_first":
            # (a channels-first layer checks the sample with its channels moved last: shown as given)
            axes, sample_shape = f"channels, {axes[:-len(', channels')]}", sample_first(sample_shape)
        raise ValueError(f"{layer.describe()}: expected input of shape (batch, {axes}), got "
                         f"shape (batch, {', '.join(map(str, sample_shape))})")


def windowed_output_sizes(layer, sample_shape, window, what, padded=True):
    """The output's spatial sizes for a sliding ``window`` (a conv kernel or a pool) with the
    layer's strides, padding and dilation (1 for a layer without one); a window that does not fit
    raises an error naming the layer (as Keras refuses a "valid" window larger than its input),
    and so does a ``padded`` input too large (``check_padded_input``; a pool pads only as far as
    its windows reach the input, so its layers pass False)."""
    sizes, pads = [], []
    dilation = getattr(layer, "dilation_rate", None) or (1,) * len(window)
    dilated = f" dilated by {tuple(dilation)}" if max(dilation) > 1 else ""
    for size, k, s, d in zip(sample_shape[:-1], window, layer.strides, dilation):
        try:
            out, pad = conv_output_length(size, k, s, layer.padding, d)
        except ValueError as exc:
            raise ValueError(f"{layer.describe()}: {what} {tuple(window)}{dilated} does not fit input samples of "
                             f"shape {tuple(sample_shape)} with padding={layer.padding!r} ({exc})") from None
        sizes.append(out)
        pads.append(pad or (0, 0))
    if padded:
        rate = f", dilation_rate={tuple(dilation)}" if max(dilation) > 1 else ""
        check_padded_input(layer, sample_shape, pads, f"{what}={tuple(window)}{rate}")
    return sizes


def check_padded_input(layer, sample_shape, pads, window, frames=1):
    """Refuse, naming the layer, a zero-padded copy of one input sample (``frames`` of
    ``sample_shape`` (*spatial, C) padded by ``pads``) holding more than ``MAX_SAMPLE_VALUES``
    numbers (glassnet._bounds). Why: "same" and "causal" padding grow with the kernel's span, and a
    ``dilation_rate`` of 10**5 spans 10**5 pixels per axis though the output keeps the input's size
    (TensorFlow runs out of memory on it too); a large kernel is bounded by its weights already."""
    if not any(before or after for before, after in pads):
        return
    sizes = [size + before + after for size, (before, after) in zip(sample_shape[:-1], pads) if size is not None]
    check_sample_values(layer, frames * math.prod(sizes) * (sample_shape[-1] or 1),
                        f"its zero-padded input (padding={layer.padding!r}, {window})")


def _pad(x, pads, value=0.0):
    """Pad the spatial axes of x (N, *spatial, C) by ``pads``, one (before, after) per spatial axis
    (((top, bottom), (left, right)) for images); no copy when every amount is zero."""
    if not any(before or after for before, after in pads):
        return x
    shape = (x.shape[0], *(size + before + after for size, (before, after) in zip(x.shape[1:-1], pads)), x.shape[-1])
    out = backend.get_array_module(x).full(shape, value, dtype=x.dtype)
    out[(slice(None), *(slice(before, before + size) for size, (before, _) in zip(x.shape[1:-1], pads)))] = x
    return out


def _crop(x, pads):
    """Undo ``_pad``: the spatial axes of x (N, *spatial, C) without ``pads``; a view."""
    return x[(slice(None), *(slice(before, size - after) for size, (before, after) in zip(x.shape[1:-1], pads)))]


def window_slices(offset, out_shape, strides, dilation=None):
    """The slices of a padded input, one per spatial axis, that kernel offset ``offset`` ((i, j) for
    images, (i, j, k) for volumes) touches for every output (a dilated kernel's offset i sits
    ``dilation`` pixels apart per step: at i * dilation)."""
    dilation = dilation or (1,) * len(offset)
    return tuple(slice(i * d, i * d + s * (n - 1) + 1, s) for i, n, s, d in zip(offset, out_shape, strides, dilation))


def kernel_offsets(ksize):
    """Every offset of a window of ``ksize``, in row-major order ((0, 0), (0, 1), ... for a 2-D one):
    the order of the kernel's positions in im2col's columns."""
    return list(np.ndindex(*ksize))


def offset_windows(ksize, out_shape, strides, dilation=None):
    """``(offset, slices)`` for every kernel offset in row-major order: ``window_slices`` of each,
    worked out once per geometry. Why cached: a training step loops over the offsets of every
    convolution and pooling, and building the slices anew each time cost ~4% of a small CNN's step.
    The sizes must be integers (a float stride is refused here, before the cache, which would
    otherwise keep its slices under the key of the equal int)."""
    key = {}
    for what, values in (("window", ksize), ("strides", strides), ("dilation", dilation), ("output shape", out_shape)):
        if values is not None and not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            raise TypeError(f"{what} must be integers, got {tuple(values)}")
        key[what] = None if values is None else tuple(int(v) for v in values)
    return _offset_windows(key["window"], key["output shape"], key["strides"], key["dilation"])


@functools.lru_cache(maxsize=256)
def _offset_windows(ksize, out_shape, strides, dilation):
    return tuple((offset, window_slices(offset, out_shape, strides, dilation)) for offset in kernel_offsets(ksize))


def copy_runs(dst, src):
    """``dst[...] = src`` for arrays of one shape whose last axis is contiguous in both, moved one
    last-axis run at a time rather than value by value.

    Why: NumPy's copy loop pays a fixed cost per run of contiguous values, and the copies of the
    convolutions and poolings move short runs: a pixel's C channels (8 for an 8-filter conv), a
    window row's (kernel width x C) values. Seen as one opaque item of that many bytes, each run
    moves in one step: a (64, 13, 13, 8) float32 pooling window out of a (64, 26, 26, 8) map measured
    101 -> 50 us, a 3x3 kernel's fields of a (64, 13, 13, 8) batch 155 -> 101 us. The same bytes
    either way; anything else (CuPy has no such items) is copied as NumPy copies it.
    """
    if (isinstance(dst, np.ndarray) and isinstance(src, np.ndarray) and dst.dtype == src.dtype
            and dst.shape == src.shape and dst.ndim and dst.shape[-1]
            and dst.strides[-1] == src.strides[-1] == dst.itemsize):
        run = np.dtype((np.void, dst.shape[-1] * dst.itemsize))
        dst.view(run)[..., 0] = src.view(run)[..., 0]
    else:
        dst[...] = src


def im2col(xp, ksize, strides, out_shape, ones_column=False, dilation=None):
    """Receptive fields of the padded input xp (N, *spatial, C) as rows: (N * output positions,
    kernel positions * C), plus a last column of ones when ``ones_column`` (so that the bias rides in
    the same matmul); a dilated kernel's fields take every ``dilation``-th pixel.

    With one input channel the result is the transpose of a C-ordered (k, N * positions) array, i.e.
    Fortran-ordered: same values and shape, and matmul reads either layout without a copy.
    """
    n, c = xp.shape[0], xp.shape[-1]
    dilation = dilation or (1,) * len(ksize)
    k = math.prod(ksize) * c
    am = backend.get_array_module(xp)          # numpy or cupy: one code path
    if c == 1:
        # one channel: each kernel offset is one copy of whole strided image planes into a
        # contiguous row of the transposed matrix, 2x faster than into a column of width k (and the
        # matmuls of forward and backward run ~10-20% faster on this layout; measured on 28x28 MNIST)
        rows_t = am.empty((k + ones_column, n * math.prod(out_shape)), dtype=xp.dtype)
        if ones_column:
            rows_t[k] = 1
        planes = rows_t[:k].reshape(*ksize, n, *out_shape)       # only splits axes: a view
        for offset, slices in offset_windows(ksize, out_shape, strides, dilation):
            copy_runs(planes[offset], xp[(slice(None), *slices, 0)])     # rows of output width
        return rows_t.T
    cols = am.empty((n * math.prod(out_shape), k + ones_column), dtype=xp.dtype)
    if ones_column:
        cols[:, k] = 1
    fields = cols[:, :k].reshape(n, *out_shape, *ksize, c)   # only splits axes, so a view into cols
    s = xp.strides
    # a read-only view of every window, copied once into cols: its axes are (N, output position,
    # kernel offset, C); one step along an output axis moves ``stride`` pixels, along a kernel axis
    # ``dilation`` pixels
    windows = am.lib.stride_tricks.as_strided(
        xp, (n, *out_shape, *ksize, c),
        (s[0], *(step * size for step, size in zip(strides, s[1:-1])),
         *(d * size for d, size in zip(dilation, s[1:-1])), s[-1]))
    if isinstance(xp, np.ndarray) and dilation[-1] == 1 and s[-1] == xp.itemsize and s[-2] == c * xp.itemsize:
        # a window row's pixels lie side by side in xp: its (kernel width x C) values are one run
        # in both, copied as one (the reshapes only merge those two axes, so both stay views)
        rows = (*windows.shape[:-2], ksize[-1] * c)      # (N, *output, *kernel axes but the last, run)
        copy_runs(fields.reshape(rows), windows.reshape(rows))
    else:
        fields[...] = windows
    return cols


def col2im(dfields, padded_shape, ksize, strides, out_shape, dilation=None):
    """Adjoint of ``im2col``: add each receptive field's gradient back onto the input pixels.

    dfields : (kernel positions, N * output positions, C), one contiguous block per kernel offset
    (numpy adds a contiguous block into a strided slice 2-3x faster than a strided block). One
    vectorised add per kernel offset, never a loop over pixels or samples.
    """
    n, c = padded_shape[0], padded_shape[-1]
    dxp = backend.get_array_module(dfields).zeros(padded_shape, dtype=dfields.dtype)
    windows = offset_windows(ksize, out_shape, strides, dilation)
    for index, (_, slices) in enumerate(windows):
        dxp[(slice(None), *slices)] += dfields[index].reshape(n, *out_shape, c)
    return dxp


def per_axis(values, rank, what, caller):
    """``values`` (strides, dilation, a pool's size) as a tuple of one per spatial axis: None is 1
    everywhere; a tuple of another length is refused by name (zip would silently drop axes)."""
    values = (1,) * rank if values is None else tuple(values)
    if len(values) != rank:
        raise ValueError(f"{caller}: {what} must give one size per spatial axis, {rank} of them, got {values}")
    return values


def padded_input(x, ksize, strides, padding, dilation, caller):
    """A convolution's geometry for inputs ``x`` (N, *spatial, C) and a window of ``ksize``:
    ``(padded x, strides, dilation, output spatial sizes, (before, after) pads per axis)``, the
    strides and dilation one per spatial axis (``caller`` names a bad one), TensorFlow padding."""
    strides = per_axis(strides, len(ksize), "strides", caller)
    dilation = per_axis(dilation, len(ksize), "dilation", caller)
    out_shape, pads = zip(*(conv_output_length(size, k, s, padding, d)
                            for size, k, s, d in zip(x.shape[1:-1], ksize, strides, dilation)))
    return _pad(x, pads), strides, dilation, out_shape, pads


def conv_forward(x, kernel, bias=None, strides=None, padding="valid", dilation=None):
    """z = conv(x, kernel) + bias, channels-last, TensorFlow padding, moving ``strides`` pixels
    per output and the kernel's taps ``dilation`` pixels apart (None: 1 along every axis).

    x : ndarray of shape (N, *spatial, C_in), images (N, H, W, C_in) or volumes (N, D, H, W, C_in);
    kernel : (*window, C_in, C_out), e.g. (kh, kw, C_in, C_out); bias : (C_out,) or None;
    ``strides`` and ``dilation``: one per spatial axis.
    Returns ``z`` of shape (N, *output spatial, C_out) and the cache ``conv_backward`` needs.
    """
    n = x.shape[0]
    *ksize, _, filters = kernel.shape
    if x.ndim != len(ksize) + 2:
        raise ValueError(f"conv_forward: a kernel of {len(ksize)} spatial axes needs inputs (N, {len(ksize)} spatial "
                         f"axes, C), got shape {x.shape}")
    xp, strides, dilation, out_shape, pads = padded_input(x, ksize, strides, padding, dilation, "conv_forward")
    has_bias = bias is not None
    weights = kernel.reshape(-1, filters)
    if has_bias:       # [cols 1] @ [kernel; bias]: the bias costs no separate pass over z
        weights = backend.get_array_module(x).concatenate([weights, bias.reshape(1, filters)])
    # patches larger than conv_memory_limit(): the batch in chunks (layers/conv_chunks.py)
    step = batch_step(n, math.prod(out_shape) * weights.shape[0] * xp.itemsize)
    if step is not None:
        from .conv_chunks import chunked_conv_forward
        return chunked_conv_forward(xp, weights, ksize, has_bias, step, pads, strides, out_shape, dilation)
    cols = im2col(xp, ksize, strides, out_shape, ones_column=has_bias, dilation=dilation)
    z = cols @ weights
    cache = (cols, has_bias, xp.shape, pads, strides, out_shape, dilation)
    return z.reshape(n, *out_shape, filters), cache


def conv_backward(grad_z, cache, kernel, input_gradient=True):
    """Gradients of ``conv_forward``: returns (dx, dkernel, dbias), dbias None without a bias.

    grad_z : (N, *output spatial, C_out); dx : the forward ``x``'s shape, or None when
    ``input_gradient`` is False (a model's first layer: nobody needs it, and it is the costlier
    half); dkernel : the kernel's shape.
    """
    if isinstance(cache, Chunked):
        from .conv_chunks import chunked_conv_backward
        return chunked_conv_backward(grad_z, cache, kernel, input_gradient)
    cols, has_bias, padded_shape, pads, strides, out_shape, dilation = cache
    filters = kernel.shape[-1]
    g = grad_z.reshape(-1, filters)
    dweights = cols.T @ g                   # [dkernel; dbias] in one matmul, thanks to the ones
    dkernel = dweights[:kernel.size // filters].reshape(kernel.shape)
    dbias = dweights[-1] if has_bias else None
    if not input_gradient:
        return None, dkernel, dbias
    return _input_gradient(g, kernel, padded_shape, pads, strides, out_shape, dilation), dkernel, dbias


def _input_gradient(g, kernel, padded_shape, pads, strides, out_shape, dilation=None):
    """dL/dx of a convolution from dL/dz ``g`` (N * output positions, C_out): every output pixel's
    gradient spread back over its receptive field through ``kernel`` (*window, C_in, C_out), then
    the padding dropped. Also the forward pass of a transposed convolution, which is this map."""
    *ksize, c, filters = kernel.shape
    # d(fields) per kernel offset: (positions, M, C) = g @ kernel[offset].T for every offset at once
    per_offset = kernel.reshape(-1, c, filters)
    if c == 1:     # one gemm (positions, O) @ (O, M) beats one matrix-vector product per offset
        dfields = (per_offset[:, 0, :] @ g.T)[:, :, None]
    else:
        dfields = g @ per_offset.transpose(0, 2, 1)      # broadcast: (M, O) @ (positions, O, C)
    return _crop(col2im(dfields, padded_shape, ksize, strides, out_shape, dilation), pads)


def conv_transpose_forward(x, kernel, bias, strides, padding, out_shape):
    """The transposed convolution (Keras' ``Conv2DTranspose`` and ``Conv3DTranspose``): the input
    gradient of the convolution that takes inputs of ``out_shape`` to inputs of x's size, applied
    to x.

    x : (N, *spatial, C_in); kernel : (*window, filters, C_in), Keras' layout (that convolution's own
    kernel); bias : (filters,) or None; ``padding`` is that convolution's, TensorFlow's rule for
    inputs of ``out_shape``. Returns z (N, *out_shape, filters) and the cache for the backward pass.
    """
    n, c = x.shape[0], x.shape[-1]
    *ksize, filters, _ = kernel.shape
    pads = tuple(conv_output_length(o, k, s, padding)[1] for o, k, s in zip(out_shape, ksize, strides))
    padded_shape = (n, *(o + before + after for o, (before, after) in zip(out_shape, pads)), filters)
    x2 = x.reshape(-1, c)
    # its fields' matrix (kernel positions, N * input positions, filters), over the limit: in chunks
    step = batch_step(n, math.prod(ksize) * math.prod(x.shape[1:-1]) * filters * x.itemsize)
    if step is not None:
        from .conv_chunks import chunked_conv_transpose_forward
        return chunked_conv_transpose_forward(x2, kernel, bias, step, padded_shape, pads, strides, x.shape[1:-1])
    z = _input_gradient(x2, kernel, padded_shape, pads, strides, x.shape[1:-1])
    z = z + bias if bias is not None else backend.get_array_module(x).ascontiguousarray(z)
    return z, (x2, bias is not None, pads, strides, x.shape[1:-1])


def conv_transpose_backward(grad_z, cache, kernel, input_gradient=True):
    """Gradients of ``conv_transpose_forward``: (dx, dkernel, dbias), dbias the sum over every
    pixel, None without a bias.
    Its input gradient is the convolution itself: ``grad_z``'s fields through the kernel."""
    if isinstance(cache, Chunked):
        from .conv_chunks import chunked_conv_transpose_backward
        return chunked_conv_transpose_backward(grad_z, cache, kernel, input_gradient)
    x2, has_bias, pads, strides, in_shape = cache
    *ksize, filters, c = kernel.shape
    cols = im2col(_pad(grad_z, pads), ksize, strides, in_shape)        # (N * input positions, window * filters)
    dkernel = (cols.T @ x2).reshape(kernel.shape)
    dbias = grad_z.sum(axis=tuple(range(grad_z.ndim - 1))) if has_bias else None
    if not input_gradient:
        return None, dkernel, dbias
    dx = cols @ kernel.reshape(-1, c)
    return dx.reshape(grad_z.shape[0], *in_shape, c), dkernel, dbias


# the names these functions had before they took volumes: they take images as they did
conv2d_forward, conv2d_backward = conv_forward, conv_backward
conv2d_transpose_forward, conv2d_transpose_backward = conv_transpose_forward, conv_transpose_backward


def _as_tuple(value, rank, what, layer, minimum=1):
    try:
        values = (value,) * rank if isinstance(value, (int, np.integer)) else tuple(value)
    except TypeError:           # 3.0 or None: not a sequence either
        values = ()
    if len(values) != rank or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                      and v >= minimum for v in values):
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{layer}: {what} must be a {kind} integer or {rank} of them, got {value!r}")
    return tuple(int(v) for v in values)


def positive_int(value, what, layer):
    """``value`` as an int when it is a positive integer (filters, depth_multiplier)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{layer}: {what} must be a positive integer, got {value!r:.80}")
    return int(value)


def refuse_pytorch_padding(padding, layer, transposed=False):
    """A TypeError for PyTorch's ``padding=p`` (a number, or one per axis), saying what ports it:
    Keras' convolutions take "valid"/"same" only, and "same" pads otherwise than PyTorch's p pixels
    on both sides (TensorFlow's odd pixel goes after), so the port is a padding or cropping layer."""
    numbers = padding if isinstance(padding, (tuple, list)) else [padding]
    cls, rank = type(layer).__name__, layer.rank
    if (len(numbers) not in (1, rank)
            or not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in numbers)):
        return
    port = (f"padding='valid' with Cropping{rank}D(p) after it" if transposed
            else f"ZeroPadding{rank}D(p) before it with padding='valid'")
    raise TypeError(f"{cls}: padding must be a str ('valid', 'same', ...), got {type(padding).__name__}: "
                    f"{padding!r:.80}; PyTorch's padding=p ports as {port} (docs/pytorch.md)")


def window_settings(layer, kernel_size, strides, padding, activation, use_bias, dilation_rate=1, causal=False,
                    dilation="unstrided"):
    """Check and set what every convolution takes: ``kernel_size``, ``strides`` and
    ``dilation_rate`` (tuples of ``layer.rank``), ``padding`` ("causal" too where ``causal``),
    ``activation`` and ``use_bias``. ``dilation``: "unstrided" (Keras' Conv1D/Conv2D: not with
    strides > 1), "any" (its depthwise and separable layers take both) or "none" (not implemented)."""
    cls = type(layer).__name__
    paddings = PADDINGS + ("causal",) if causal else PADDINGS
    # any case, as Keras' standardize_padding lower-cases it ("SAME" in code ported from TF1)
    padding = check_choice(padding, f"{cls}: padding", paddings, lower=True)
    layer.kernel_size = _as_tuple(kernel_size, layer.rank, "kernel_size", cls)
    layer.strides = _as_tuple(strides, layer.rank, "strides", cls)
    layer.dilation_rate = _as_tuple(dilation_rate, layer.rank, "dilation_rate", cls)
    if dilation == "none" and max(layer.dilation_rate) > 1:
        raise ValueError(f"{cls}: dilation_rate > 1 is not implemented for transposed convolutions "
                         f"(Keras has it), got dilation_rate={layer.dilation_rate}")
    if dilation == "unstrided" and max(layer.strides) > 1 and max(layer.dilation_rate) > 1:
        raise ValueError(f"{cls}: strides > 1 do not go with dilation_rate > 1 (Keras' rule), got "
                         f"strides={layer.strides} and dilation_rate={layer.dilation_rate}")
    layer.padding = padding
    layer.activation = activations.get_for(activation, type(layer).__name__)
    layer.use_bias = check_flag(use_bias, f"{cls}: use_bias")


def weight_settings(layer, weight, initializer, regularizer, constraint):
    """Check and set ``<weight>_initializer``, ``<weight>_regularizer`` and ``<weight>_constraint``
    (``weight`` is "kernel", "bias", "depthwise" or "pointwise"), each refused by its own name."""
    cls = type(layer).__name__
    layer.__dict__.update({
        f"{weight}_initializer": initializers.get(initializer, f"{cls}: {weight}_initializer"),
        f"{weight}_regularizer": regularizers.get(regularizer, f"{cls}: {weight}_regularizer"),
        f"{weight}_constraint": constraints.get(constraint, f"{cls}: {weight}_constraint")})


def checked_sample(layer, sample_shape):
    """One input sample's shape, as a tuple, when it has the layer's rank and, once the layer is
    built, its channels (height and width may differ: a fully convolutional use)."""
    sample_shape = tuple(sample_shape)
    check_rank(layer, sample_shape)
    if layer.built and sample_shape[-1] != layer.input_shape[-1]:
        raise ValueError(f"{layer.describe()}: expected input samples of shape {layer.input_shape} "
                         f"({layer.input_shape[-1]} channels), got {sample_shape}")
    return sample_shape


class _Conv(LoraTarget, DataFormat, RankOneAsTwo, Layer):
    """Shared by Conv1D (rank 1), Conv2D (rank 2) and Conv3D (rank 3): the 1-D case runs as 2-D with
    height 1 (``RankOneAsTwo``), the others as they are."""
    activation = activations.LayerSetting()     # set as Keras code sets it: layer.activation = None

    rank = 2
    # for a layer pickled before regularizers and constraints, or before dilation
    kernel_regularizer = bias_regularizer = kernel_constraint = bias_constraint = dilation_rate = None
    groups = 1      # and before groups

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, dilation_rate=1, groups=1, data_format=None, lora_rank=None, lora_alpha=None,
                 **kwargs):
        super().__init__(**kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py: channels first by transposes)
        self.filters = positive_int(filters, "filters", type(self).__name__)
        self.groups = positive_int(groups, "groups", type(self).__name__)
        if self.filters % self.groups:
            raise ValueError(f"{type(self).__name__}: filters ({self.filters}) must be divisible by groups "
                             f"({self.groups}), as in Keras")
        transposed = isinstance(self, _ConvTranspose)
        refuse_pytorch_padding(padding, self, transposed)
        window_settings(self, kernel_size, strides, padding, activation, use_bias, dilation_rate,
                        causal=self.rank == 1 and not transposed, dilation="none" if transposed else "unstrided")
        refuse_last_axis_activation(self)
        weight_settings(self, "kernel", kernel_initializer, kernel_regularizer, kernel_constraint)
        weight_settings(self, "bias", bias_initializer, bias_regularizer, bias_constraint)
        self._lora_settings(lora_rank, lora_alpha)      # Keras' LoRA (layers/lora.py)

    def _check(self, sample_shape):
        """Rank, channels and window size of one input sample; returns the output sample shape."""
        sample_shape = checked_sample(self, sample_shape)
        out = windowed_output_sizes(self, sample_shape, self.kernel_size, "kernel_size")
        return (*out, self.filters)

    def _kernel_shape(self, channels):
        """Keras' kernel layout for ``channels`` input channels: (kh, kw, C_in / groups, filters)."""
        if channels % self.groups:
            raise ValueError(f"{self.describe()}: its input's {channels} channels must be divisible by "
                             f"groups ({self.groups}), as in Keras")
        return (*self.kernel_size, channels // self.groups, self.filters)

    def build(self, input_shape):
        self._check(input_shape)
        self.add_weight("kernel", self._kernel_shape(input_shape[-1]),
                        self.kernel_initializer, self.kernel_regularizer, self.kernel_constraint)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, self.bias_regularizer,
                            self.bias_constraint)
        super().build(input_shape)
        self._build_lora()

    def output_shape(self, input_shape):
        return self._check(input_shape)

    def numbers_per_sample(self, input_shape):
        # im2col copies every receptive field (plus a ones column for the bias) once per output pixel
        *out, filters = self._check(input_shape)
        fields = math.prod(self.kernel_size) * input_shape[-1] + self.use_bias
        # a grouped one regroups that copy once more, and keeps it (one more number per field)
        return math.prod(out) * max(fields * (1 + (self.groups > 1)), filters)

    def check_input_shape(self, sample_shape):
        # height/width may differ from the built shape (a fully convolutional use); channels may not
        self._check(sample_shape)

    def forward(self, x, training=False):
        if x.ndim != self.rank + 2 or x.shape[-1] != self.input_shape[-1]:
            self._check(x.shape[1:])
        # x, z and a are kept for backward (and for model.trace)
        self.x = x
        try:
            z, self._cache = self._forward_nd(self._lifted(x), self._lifted_axes(self.strides))
        except ValueError:
            self._check(x.shape[1:])        # re-raise with the layer's name and the shapes
            raise
        self.z = self._lowered(z)
        self.a = self.activation.forward(self.z)
        return self.a

    def _forward_nd(self, x, strides):
        """z and the cache for (N, *spatial, C) input (height 1 for rank 1), with ``strides`` one per
        spatial axis."""
        dilation = self.dilation_rate or (1,) * self.rank
        if self.groups > 1:
            # imported here: grouped_conv builds on this module's functions
            from .grouped_conv import grouped_conv_forward
            return grouped_conv_forward(x, self._lifted_kernel(), self.params.get("bias"), strides, self.padding,
                                        self._lifted_axes(dilation), self.groups)
        return conv_forward(x, self._lifted_kernel(), self.params.get("bias"), strides, self.padding,
                            self._lifted_axes(dilation))

    def _backward_nd(self, grad_z, cache, kernel, input_gradient=True):
        if self.groups > 1:
            from .grouped_conv import grouped_conv_backward
            return grouped_conv_backward(grad_z, cache, kernel, input_gradient)
        return conv_backward(grad_z, cache, kernel, input_gradient)

    def backward(self, grad_output):
        return self.backward_from_logits(self.activation.backward(grad_output, self.z, self.a))

    def backward_from_logits(self, grad_z):
        """Backward pass given dL/dz directly (the fused softmax/sigmoid + cross-entropy path)."""
        self.grad_z = grad_z
        dx, dkernel, dbias = self._backward_nd(self._lifted(grad_z), self._cache, self._lifted_kernel(),
                                               input_gradient=self.needs_input_gradient)
        self.grads["kernel"][...] = dkernel.reshape(self.grads["kernel"].shape)   # in place
        if dbias is not None:
            self.grads["bias"][...] = dbias
        if dx is None:
            return None
        return self._lowered(dx)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "dilation_rate": list(self.dilation_rate or (1,) * self.rank),
                "padding": self.padding, "activation": self.activation.name, "use_bias": self.use_bias,
                "kernel_initializer": initializers.name_of(self.kernel_initializer),
                "bias_initializer": initializers.name_of(self.bias_initializer),
                **regularizers.config_entries(self), **constraints.config_entries(self),
                # only when grouped: an ungrouped layer's config and model files stay those of before
                **({"groups": self.groups} if self.groups > 1 else {}), **config_entry(self), **self._lora_config()}


del LAYERS["_Conv"]     # a shared base, not a layer that configs may name


class Conv2D(_Conv):
    """2-D convolution over channels-last images, ``a = activation(conv(x, kernel) + bias)``.

    Parameters
    ----------
    filters : int
        Number of output channels.
    kernel_size, strides : int or (int, int)
    padding : {"valid", "same"}
        "same" pads like TensorFlow (output ``ceil(size / stride)``, odd padding at bottom/right).
    activation, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
    kernel_constraint, bias_constraint :
        as for ``Dense``; a norm constraint per filter takes ``axis=[0, 1, 2]``.
    use_bias : bool
    dilation_rate : int or (int, int)
        The kernel's taps this many pixels apart (a 3x3 kernel with rate 2 sees a 5x5 field);
        strides must be 1 then (Keras' rule).
    groups : int, default 1
        Keras' grouped convolution: channels and filters in ``groups`` runs, filter run j seeing
        channel run j only (layers/grouped_conv.py); both counts must be divisible by it.
    data_format : {None, "channels_last", "channels_first"}
        Keras': None reads ``gn.config.image_data_format()`` when the layer is made;
        "channels_first" takes (batch, C_in, H, W) and gives (batch, filters, Ho, Wo), the kernel's
        shape unchanged (layers/data_format.py). Every convolution takes it.

    Shapes: ``x`` (batch, H, W, C_in) -> output (batch, Ho, Wo, filters);
    ``kernel`` (kh, kw, C_in / groups, filters) as in Keras, ``bias`` (filters,).

    Example
    -------
    >>> Conv2D(8, 3, padding="same", activation="relu", seed=0)(np.ones((2, 28, 28, 1))).shape
    (2, 28, 28, 8)
    """
    rank = 2


class Conv1D(_Conv):
    """1-D convolution over channels-last sequences; the options of ``Conv2D`` (but a norm
    constraint per filter takes ``axis=[0, 1]``: the kernel has one axis fewer), and
    ``padding="causal"``: ``(kernel_size - 1) * dilation_rate`` zeros before the sequence, so that
    output step t sees input steps up to t only (WaveNet's dilated causal convolutions).

    Shapes: ``x`` (batch, L, C_in) -> output (batch, Lo, filters); ``kernel`` (k, C_in, filters).

    Example
    -------
    >>> Conv1D(4, 5, strides=2, seed=0)(np.ones((2, 40, 3))).shape
    (2, 18, 4)
    """
    rank = 1


class Conv3D(_Conv):
    """3-D convolution over channels-last volumes (Keras' ``Conv3D``: video clips, CT or MRI scans);
    the options of ``Conv2D``, with three sizes where it takes two (a norm constraint per filter
    takes ``axis=[0, 1, 2, 3]``).

    Shapes: ``x`` (batch, D, H, W, C_in) -> output (batch, Do, Ho, Wo, filters); ``kernel``
    (kd, kh, kw, C_in, filters) as in Keras (PyTorch's ``Conv3d`` weight is (filters, C_in, kd, kh,
    kw) over channels-first volumes), ``bias`` (filters,).

    Example
    -------
    >>> Conv3D(4, 3, padding="same", strides=(1, 2, 2), seed=0)(np.ones((2, 5, 8, 8, 1))).shape
    (2, 5, 4, 4, 4)
    """
    rank = 3


def conv_transpose_output_length(size, kernel, stride, padding, output_padding=None):
    """Output length of a transposed convolution along one axis, Keras' rule: "valid",
    ``(size - 1) * stride + max(kernel, stride)``; "same", ``size * stride``; with an
    ``output_padding`` p, ``(size - 1) * stride + kernel + p`` ("valid") or
    ``(size - 1) * stride + kernel % 2 + p`` ("same").

    >>> conv_transpose_output_length(7, 3, 2, "same"), conv_transpose_output_length(7, 3, 2, "valid")
    (14, 15)
    """
    if padding == "valid":
        return (size - 1) * stride + kernel + (max(kernel, stride) - kernel if output_padding is None
                                               else output_padding)
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + kernel % 2 + output_padding


class _ConvTranspose(_Conv):
    """Shared by Conv2DTranspose and Conv1DTranspose: the adjoint of the convolution that takes
    the output's size to the input's, with that convolution's kernel, strides and padding."""

    _not_taken = ("groups", "lora_rank", "lora_alpha")        # Keras' transposed convolutions have none

    shape_arguments = ('strides', 'kernel_size')        # named when its output is too large (glassnet._bounds)

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, **kwargs):
        if set(kwargs) & set(self._not_taken):
            raise _unexpected_arguments(type(self), sorted(set(kwargs) & set(self._not_taken)))
        super().__init__(filters, kernel_size, strides, padding, **kwargs)
        cls = type(self).__name__
        if output_padding is not None:
            output_padding = _as_tuple(output_padding, self.rank, "output_padding", cls, minimum=0)
            if any(p >= s for p, s in zip(output_padding, self.strides)):
                raise ValueError(f"{cls}: output_padding {output_padding} must be smaller than the strides "
                                 f"{self.strides} along every axis (Keras)")
        self.output_padding = output_padding

    def _check(self, sample_shape):
        sample_shape = checked_sample(self, sample_shape)
        out = []
        paddings = self.output_padding or (None,) * self.rank
        for size, k, s, p in zip(sample_shape[:-1], self.kernel_size, self.strides, paddings):
            length = conv_transpose_output_length(size, k, s, self.padding, p)
            # the convolution this one is the adjoint of must take that length back to ``size``
            # ("same" with an even kernel and output_padding 0 falls one short)
            if length < 1 or conv_output_length(length, k, s, self.padding)[0] != size:
                raise ValueError(f"{self.describe()}: output_padding {self.output_padding} gives outputs "
                                 f"of length {length} for inputs of {size}, which a {self.padding!r} "
                                 f"convolution of kernel {k} and stride {s} does not take back to {size}")
            out.append(length)
        return (*out, self.filters)

    def enable_lora(self, rank, lora_alpha=None, a_initializer="he_uniform", b_initializer="zeros"):
        """Refused: Keras 3.15's transposed convolutions have no LoRA."""
        raise ValueError(f"{self.describe()}: enable_lora: Keras 3.15's transposed convolutions have no LoRA "
                         f"(Conv1D, Conv2D, Conv3D, Dense, EinsumDense and Embedding take it)")

    def _kernel_shape(self, channels):
        # Keras' layout: (kh, kw, filters, C_in), the kernel of the convolution it is the adjoint of
        return (*self.kernel_size, self.filters, channels)

    def matmul_flops(self, batch_size):
        # one product per input position (each paints its kernel), not per output one
        if self.input_shape is None:
            return 0
        return 2 * batch_size * self.params["kernel"].size * math.prod(self.input_shape[:-1])

    def numbers_per_sample(self, input_shape):
        # every input pixel's field (kh * kw * filters) is made once, forward and backward
        *out, filters = self._check(input_shape)
        fields = math.prod(self.kernel_size) * filters * math.prod(input_shape[:-1])
        return max(fields, math.prod(out) * filters)

    def _forward_nd(self, x, strides):
        *out, _ = self._check(self._lowered(x).shape[1:])
        return conv_transpose_forward(x, self._lifted_kernel(), self.params.get("bias"), strides, self.padding,
                                      self._lifted_axes(out))

    _backward_nd = staticmethod(conv_transpose_backward)

    def get_config(self):
        padding = None if self.output_padding is None else list(self.output_padding)
        return {**super().get_config(), "output_padding": padding}


del LAYERS["_ConvTranspose"]


class Conv2DTranspose(_ConvTranspose):
    """Transposed 2-D convolution (Keras' ``Conv2DTranspose``, sometimes called deconvolution):
    each input pixel paints the kernel, scaled by its values, onto an output ``strides`` times
    larger, ``a = activation(conv_transpose(x, kernel) + bias)``; the decoder half of an
    autoencoder or a segmentation network. It is the input gradient of a ``Conv2D`` with the same
    kernel, strides and padding that would take the output back to the input's size.

    Parameters: those of ``Conv2D``, and
    output_padding : int, (int, int) or None
        Extra rows/columns at the bottom/right, each smaller than the stride; None (Keras'
        default) gives ``H * stride`` ("same") or ``(H - 1) * stride + max(kernel, stride)`` ("valid").

    Shapes: ``x`` (batch, H, W, C_in) -> output (batch, Ho, Wo, filters); ``kernel``
    (kh, kw, filters, C_in) as in Keras (PyTorch's ``ConvTranspose2d`` weight is (C_in, filters, kh,
    kw)), ``bias`` (filters,).

    Example
    -------
    >>> Conv2DTranspose(4, 3, strides=2, padding="same", seed=0)(np.ones((2, 7, 7, 8))).shape
    (2, 14, 14, 4)
    """
    rank = 2


class Conv1DTranspose(_ConvTranspose):
    """Transposed 1-D convolution over channels-last sequences (Keras' ``Conv1DTranspose``); the
    options of ``Conv2DTranspose``.

    Shapes: ``x`` (batch, L, C_in) -> output (batch, Lo, filters); ``kernel`` (k, filters, C_in).

    Example
    -------
    >>> Conv1DTranspose(2, 4, strides=2, seed=0)(np.ones((3, 10, 5))).shape
    (3, 22, 2)
    """
    rank = 1


class Conv3DTranspose(_ConvTranspose):
    """Transposed 3-D convolution over channels-last volumes (Keras' ``Conv3DTranspose``); the
    options of ``Conv2DTranspose``, with three sizes where it takes two.

    Shapes: ``x`` (batch, D, H, W, C_in) -> output (batch, Do, Ho, Wo, filters); ``kernel``
    (kd, kh, kw, filters, C_in) as in Keras, ``bias`` (filters,).

    Example
    -------
    >>> Conv3DTranspose(2, 3, strides=2, padding="same", seed=0)(np.ones((1, 2, 3, 4, 5))).shape
    (1, 4, 6, 8, 2)
    """
    rank = 3
