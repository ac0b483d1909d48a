"""Pooling layers, channels-last: MaxPooling1D/2D/3D, AveragePooling1D/2D/3D,
GlobalAveragePooling1D/2D/3D, GlobalMaxPooling1D/2D/3D.

The maths is in module-level functions, for images (N, H, W, C) and volumes (N, D, H, W, C) alike;
each loops over the pool's offsets (4 for a 2x2 pool, 8 for a 2x2x2 one), and every step is one
vectorised operation over all samples, pixels and channels at once. Padding
follows TensorFlow: "same" gives ``ceil(size / stride)`` outputs with the odd pixel of padding at
the bottom/right; padded pixels never win a max and are not counted in an average.
"""
import math

import numpy as np

from .. import backend
from .._validation import check_choice, check_flag
from . import masking
from .base import LAYERS, Layer
from .spatial import ChannelsLast
from .data_format import set_data_format
from .conv import (PADDINGS, _as_tuple, _crop, _pad, check_rank, conv_output_length, copy_runs, offset_windows,
                   per_axis, windowed_output_sizes)


def _geometry(x_shape, pool, strides, padding):
    """The output's spatial sizes, the (before, after) padding of each spatial axis, the pool and its
    offsets in row-major order with their slices (``offset_windows``), for inputs of ``x_shape``
    (N, *spatial, C). The pool and padding are those of the offsets that reach the input
    (``_reaching``): for every usual pool, the ones given."""
    for what, values in (("pool", pool), ("strides", strides)):
        per_axis(values, len(x_shape) - 2, what, "pooling")
    out_shape, pads = zip(*(conv_output_length(size, p, s, padding)
                            for size, p, s in zip(x_shape[1:-1], pool, strides)))
    if padding == "same":
        pool, pads = zip(*(_reaching(size, p, s, n, pad)
                           for size, p, s, n, pad in zip(x_shape[1:-1], pool, strides, out_shape, pads)))
    return out_shape, pads, tuple(pool), offset_windows(pool, out_shape, strides)


def _reaching(size, pool, stride, out, pads):
    """The offsets of "same" windows that reach the input along one axis, as a smaller pool and
    padding: ``(pool, (before, after))``, the same as given for every usual pool.

    Why: a "same" pool larger than the input (Keras takes ``pool_size=10**5`` on an 8 x 8 image:
    one window, the whole image) would pad the input to the pool's size and loop over all its
    offsets, most of them padding for every window: 10**10 steps for a 2-D pool of 10**5. Padded
    pixels never win a max and are not counted in an average, so the offsets that reach no input
    pixel change nothing: dropped, the loop runs fewer than ``2 * size`` offsets per axis.

    >>> _reaching(8, 100000, 100000, 1, (49996, 49996))
    (8, (0, 0))
    """
    before, _ = pads
    first = max(0, before - (out - 1) * stride)        # the first offset the last window reaches the input with
    last = min(pool - 1, before + size - 1)             # the last offset the first window does
    pool = last - first + 1
    before -= first
    return pool, (before, max(0, (out - 1) * stride + pool - before - size))


def _window(xp, slices):
    """The pixels of the padded input xp that one offset of the windows covers (``slices``, one
    per spatial axis, from ``offset_windows``): a strided view (N, *out_shape, C)."""
    return xp[(slice(None), *slices)]


def _gradient_buffer(grad, padded_shape, pool, strides, out_shape):
    """A buffer for dL/d(padded input) whose pixels outside every window are zero.

    When the windows tile the input (strides == pool, the Keras default), the backward writes
    every pixel they cover, so only the uncovered bottom rows and right columns need zeros: this
    skips a zero-fill of the whole input (a fresh calloc, page faults included, is ~10% of the
    backward on 26x26x8 maps).
    """
    am = backend.get_array_module(grad)
    if tuple(strides) != tuple(pool):
        return am.zeros(padded_shape, dtype=grad.dtype)
    dxp = am.empty(padded_shape, dtype=grad.dtype)
    for axis, (size, step) in enumerate(zip(out_shape, strides), start=1):
        dxp[(slice(None),) * axis + (slice(size * step, None),)] = 0
    return dxp


def max_pool_forward(x, pool, strides, padding="valid"):
    """Maximum over each window. x : (N, *spatial, C) -> out (N, *output spatial, C), and the cache
    for the backward; ``pool`` and ``strides`` have one size per spatial axis.

    The cache records which offset of its window won, one winner per window: on ties the first in
    row-major window order, as PyTorch picks, so gradients match it exactly.
    """
    out_shape, pads, pool, offsets = _geometry(x.shape, pool, strides, padding)
    xp = _pad(x, pads, -np.inf)
    am = backend.get_array_module(x)           # numpy or cupy: one code path
    if not isinstance(x, np.ndarray) and tuple(strides) == tuple(pool) and len(pool) == 2:     # CuPy: see _tiled_max
        out, winner = _tiled_max(xp, pool, out_shape)
        _no_padded_winner(out, winner, x.shape, pads, offsets)
        return out, (winner, xp.shape, pads, strides, out_shape, offsets, tuple(pool))
    out = am.empty((x.shape[0], *out_shape, x.shape[-1]), dtype=x.dtype)
    copy_runs(out, _window(xp, offsets[0][1]))
    winner = am.zeros(out.shape, dtype=np.uint8 if len(offsets) < 256 else np.int32)
    candidate, better, code = am.empty_like(out), am.empty(out.shape, dtype=bool), am.empty_like(winner)
    for k, (_, slices) in enumerate(offsets[1:], start=1):
        # one strided read into a contiguous buffer; the four ops below then run ~10x faster
        copy_runs(candidate, _window(xp, slices))
        np.greater(candidate, out, out=better)   # strict: an equal later value does not take over
        np.maximum(out, candidate, out=out)
        # the winner is the LAST offset that beat the running maximum, i.e. the largest k * better
        np.multiply(better, winner.dtype.type(k), out=code)
        np.maximum(winner, code, out=winner)
    _no_padded_winner(out, winner, x.shape, pads, offsets)
    return out, (winner, xp.shape, pads, strides, out_shape, offsets, tuple(pool))


def _no_padded_winner(out, winner, x_shape, pads, offsets):
    """Give each window whose pixels are all -inf its first pixel inside the input as winner, in place.

    Why: such a window ties with the -inf padding, and the first offset (the rule for ties) is a
    padded pixel when the window starts in the top or left padding: its gradient was dropped with
    the padding. PyTorch starts each window's search at its first pixel inside the input, so it goes
    there. Only a window of -inf can tie with padding, and only padding before the input comes
    first: the usual case costs a test of the pads."""
    if not any(before for before, _ in pads):
        return
    am = backend.get_array_module(out)
    lost = am.isneginf(out)
    if not lost.any():
        return
    inside = _pad(am.ones((1, *x_shape[1:-1], 1), dtype=bool), pads, False)
    first = am.zeros((1, *out.shape[1:-1], 1), dtype=winner.dtype)
    for k, (_, slices) in reversed(list(enumerate(offsets))):      # the first offset inside wins
        first[_window(inside, slices)] = k
    winner[lost] = am.broadcast_to(first, winner.shape)[lost]


def max_pool_backward(grad, cache):
    """dL/dx of ``max_pool_forward``: each window's gradient goes to its winner only."""
    winner, padded_shape, pads, strides, out_shape, offsets, pool = cache
    dxp = _gradient_buffer(grad, padded_shape, pool, strides, out_shape)
    if not isinstance(grad, np.ndarray) and tuple(strides) == tuple(pool) and len(pool) == 2:
        _tiled_max_backward(grad, winner, pool, out_shape, dxp)
        return _crop(dxp, pads)
    overlap = any(s < p for s, p in zip(strides, pool))
    share = backend.get_array_module(grad).empty(grad.shape, dtype=grad.dtype)
    for k, (_, slices) in enumerate(offsets):
        np.multiply(grad, winner == k, out=share)      # contiguous: fast
        if overlap:             # windows share pixels: accumulate
            _window(dxp, slices)[...] += share
        else:                   # each pixel belongs to one window at most: write it once
            copy_runs(_window(dxp, slices), share)
    return _crop(dxp, pads)


def _windows_last(x, pool, out_hw):
    """The tiling windows of images ``x`` (N, H, W, C) as (N, Ho, Wo, C, ph * pw), each window's
    pixels last in row-major order (offset k = i * pw + j, as ``_geometry`` numbers them)."""
    n, c, (ho, wo), (ph, pw) = x.shape[0], x.shape[3], out_hw, pool
    tiles = x[:, :ho * ph, :wo * pw, :].reshape(n, ho, ph, wo, pw, c)
    return tiles.transpose(0, 1, 3, 5, 2, 4).reshape(n, ho, wo, c, ph * pw)


def _tiled_max(xp, pool, out_hw):
    """max_pool_forward's ``(out, winner)`` for windows that tile the padded input (strides ==
    pool, Keras' default) on a GPU: one copy that puts each window's pixels side by side, then a
    max and an argmax over them (argmax: the first of equal values, the loop's winner), three kernels
    instead of the loop's five per offset. The loop's strided copies suit a CPU's caches; on a GPU
    each of its steps is a kernel launch over the whole map."""
    windows = _windows_last(xp, pool, out_hw)
    winner = windows.argmax(axis=-1).astype(np.uint8 if pool[0] * pool[1] < 256 else np.int32)
    return windows.max(axis=-1), winner


def _tiled_max_backward(grad, winner, pool, out_hw, dxp):
    """max_pool_backward for tiling windows on a GPU, into ``dxp`` (its covered part): each
    window's gradient times the one-hot of its winner, laid back out as pixels in one copy."""
    am = backend.get_array_module(grad)
    n, (ho, wo), (ph, pw), c = grad.shape[0], out_hw, pool, grad.shape[3]
    shares = grad[..., None] * (winner[..., None] == am.arange(ph * pw, dtype=winner.dtype))
    dxp[:, :ho * ph, :wo * pw, :] = (shares.reshape(n, ho, wo, c, ph, pw).transpose(0, 1, 4, 2, 5, 3)
                                     .reshape(n, ho * ph, wo * pw, c))


def avg_pool_forward(x, pool, strides, padding="valid"):
    """Mean over each window (padding excluded from the count). x : (N, *spatial, C) ->
    (N, *output spatial, C), and the cache for the backward."""
    out_shape, pads, pool, offsets = _geometry(x.shape, pool, strides, padding)
    am = backend.get_array_module(x)
    xp = _pad(x, pads)
    total = am.empty((x.shape[0], *out_shape, x.shape[-1]), dtype=x.dtype)
    window = am.empty_like(total)
    for k, (_, slices) in enumerate(offsets):
        if k == 0:
            copy_runs(total, _window(xp, slices))
        else:   # a strided read pixel by pixel, then a contiguous add: faster than a strided add
            copy_runs(window, _window(xp, slices))
            total += window
    if padding == "valid":
        count = am.asarray(len(offsets), dtype=x.dtype)
    else:    # how many real pixels each window covers: pool a padded image of ones the same way
        ones = _pad(am.ones((1, *x.shape[1:-1], 1), dtype=x.dtype), pads)
        count = am.zeros((1, *out_shape, 1), dtype=x.dtype)
        for _, slices in offsets:
            count += _window(ones, slices)
    total /= count
    return total, (count, xp.shape, pads, strides, out_shape, offsets, tuple(pool))


def avg_pool_backward(grad, cache):
    """dL/dx of ``avg_pool_forward``: each window's gradient shared equally by its pixels."""
    count, padded_shape, pads, strides, out_shape, offsets, pool = cache
    share = grad / count
    dxp = _gradient_buffer(grad, padded_shape, pool, strides, out_shape)
    overlap = any(s < p for s, p in zip(strides, pool))
    for _, slices in offsets:
        if overlap:             # windows share pixels: accumulate
            _window(dxp, slices)[...] += share
        else:                   # each pixel belongs to one window at most: write it once
            copy_runs(_window(dxp, slices), share)
    return _crop(dxp, pads)


# the names these functions had before they took volumes: they take images as they did
max_pool2d_forward, max_pool2d_backward = max_pool_forward, max_pool_backward
avg_pool2d_forward, avg_pool2d_backward = avg_pool_forward, avg_pool_backward


class _Pooling(ChannelsLast):
    """Shared by the windowed pooling layers; rank 1 runs as rank 2 with height 1, ranks 2 and 3 as
    they are."""
    built_when_made = True      # (as Keras': see Layer.built_when_made)
    forward_fn, backward_fn = None, None

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py: channels first by transposes)
        cls = type(self).__name__
        # any case, as Keras (its pooling ops upper-case it for TensorFlow)
        padding = check_choice(padding, f"{cls}: padding", PADDINGS, lower=True)
        self.pool_size = _as_tuple(pool_size, self.rank, "pool_size", cls)
        # Keras: strides default to the pool size (non-overlapping windows)
        self.strides = self.pool_size if strides is None else _as_tuple(strides, self.rank, "strides", cls)
        self.padding = padding

    def _spatial(self, sample_shape):
        # (a pool pads only as far as its windows reach the input: see _reaching)
        return windowed_output_sizes(self, sample_shape, self.pool_size, "pool_size", padded=False)

    def forward(self, x, training=False):
        if x.ndim != self.rank + 2:
            self.output_shape(x.shape[1:])
        pool, strides = self._lifted_axes(self.pool_size), self._lifted_axes(self.strides)
        try:
            out, self._cache = type(self).forward_fn(self._lifted(x), pool, strides, self.padding)
        except ValueError:
            self.output_shape(x.shape[1:])      # re-raise with the layer's name and shapes
            raise
        return self._lowered(out)

    def backward(self, grad_output):
        if not self.needs_input_gradient:      # first layer of a model: nothing to propagate
            return None
        return self._lowered(type(self).backward_fn(self._lifted(grad_output), self._cache))

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding}


del LAYERS["_Pooling"]     # a shared base, not a layer that configs may name


class MaxPooling2D(_Pooling):
    """Maximum over windows of ``pool_size`` moved by ``strides`` (default: ``pool_size``).

    Shapes: ``x`` (batch, H, W, C) -> (batch, Ho, Wo, C); "valid": ``Ho = (H - ph) // sh + 1``,
    "same": ``Ho = ceil(H / sh)``. The gradient goes to one winner per window (the first maximum).

    Example
    -------
    >>> MaxPooling2D(2)(np.ones((2, 27, 27, 8))).shape
    (2, 13, 13, 8)
    """
    forward_fn, backward_fn = staticmethod(max_pool_forward), staticmethod(max_pool_backward)


class AveragePooling2D(_Pooling):
    """Mean over windows; "same" padding is not counted (TensorFlow). Shapes as ``MaxPooling2D``.

    Example
    -------
    >>> AveragePooling2D(2, padding="same")(np.ones((2, 5, 5, 3))).shape
    (2, 3, 3, 3)
    """
    forward_fn, backward_fn = staticmethod(avg_pool_forward), staticmethod(avg_pool_backward)


class MaxPooling1D(_Pooling):
    """Maximum over windows of a sequence. Shapes: (batch, L, C) -> (batch, Lo, C).

    Example
    -------
    >>> MaxPooling1D(3, strides=2)(np.ones((2, 10, 4))).shape
    (2, 4, 4)
    """
    rank = 1
    forward_fn, backward_fn = staticmethod(max_pool_forward), staticmethod(max_pool_backward)


class AveragePooling1D(_Pooling):
    """Mean over windows of a sequence. Shapes: (batch, L, C) -> (batch, Lo, C).

    Example
    -------
    >>> AveragePooling1D(2)(np.ones((2, 10, 4))).shape
    (2, 5, 4)
    """
    rank = 1
    forward_fn, backward_fn = staticmethod(avg_pool_forward), staticmethod(avg_pool_backward)


class MaxPooling3D(_Pooling):
    """Maximum over windows of volumes (Keras' ``MaxPooling3D``). Shapes: (batch, D, H, W, C) ->
    (batch, Do, Ho, Wo, C), each size as ``MaxPooling2D``'s.

    Example
    -------
    >>> MaxPooling3D((1, 2, 2))(np.ones((2, 4, 8, 8, 3))).shape
    (2, 4, 4, 4, 3)
    """
    rank = 3
    forward_fn, backward_fn = staticmethod(max_pool_forward), staticmethod(max_pool_backward)


class AveragePooling3D(_Pooling):
    """Mean over windows of volumes (Keras' ``AveragePooling3D``); "same" padding is not counted.
    Shapes as ``MaxPooling3D``.

    Example
    -------
    >>> AveragePooling3D(2, padding="same")(np.ones((2, 3, 5, 5, 1))).shape
    (2, 2, 3, 3, 1)
    """
    rank = 3
    forward_fn, backward_fn = staticmethod(avg_pool_forward), staticmethod(avg_pool_backward)


class _GlobalPooling(Layer):
    """Shared by the global pooling layers: one value per channel, over all ``rank`` spatial axes;
    ``keepdims=True`` (Keras') keeps those axes, of size 1: (batch, 1, 1, C) after images.

    ``data_format="channels_first"`` (Keras') reads the channels from the first axis after the
    batch, (batch, C, *spatial), and pools the axes after it ((batch, C, 1, 1) with ``keepdims``):
    keras.io's timeseries Transformer averages each step's features with
    ``GlobalAveragePooling1D(data_format="channels_first")`` on (batch, steps, features). The
    pooling itself runs on a channels-last view, and the gradient goes back to the input's layout."""
    built_when_made = True      # (as Keras': see Layer.built_when_made)
    rank = 2
    keepdims = False            # also what a layer pickled before the option reads
    data_format = "channels_last"       # (and this)

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        # None: backend.image_data_format() now, as Keras' layers read it in their constructor
        self.data_format = check_choice(backend.standardize_data_format(data_format), f"{name}: data_format",
                                        ("channels_last", "channels_first"))
        self.keepdims = check_flag(keepdims, f"{name}: keepdims")

    @property
    def _first(self):
        return self.data_format == "channels_first"

    def output_shape(self, input_shape):
        if self._first and len(input_shape) != self.rank + 1:
            # check_rank's message names the channels-last axes
            axes = ("steps", "height, width", "depth, height, width")[self.rank - 1]
            raise ValueError(f"{self.describe()}: expected input of shape (batch, channels, {axes}) "
                             f"(data_format='channels_first'), got shape "
                             f"(batch, {', '.join(map(str, input_shape))})")
        check_rank(self, tuple(input_shape))
        c = input_shape[0] if self._first else input_shape[-1]
        if not self.keepdims:
            return (c,)
        return (c, *(1,) * self.rank) if self._first else (*(1,) * self.rank, c)

    def _kept(self, out):
        """The pooled (batch, C) with the spatial axes of size 1 back when ``keepdims``."""
        if not self.keepdims:
            return out
        ones = (1,) * self.rank
        return out.reshape(out.shape[0], *((out.shape[-1], *ones) if self._first else (*ones, out.shape[-1])))

    def _flat(self, grad_output):
        """dL/d(output) as (batch, C), whatever ``keepdims``."""
        return grad_output.reshape(grad_output.shape[0], self.x_shape[-1])     # (x_shape: channels last)

    def _channels_last(self, x):
        """x (batch, C, *spatial) as a (batch, *spatial, C) view with ``data_format="channels_first"``."""
        return backend.get_array_module(x).moveaxis(x, 1, -1) if self._first else x

    def get_config(self):
        # data_format only when it is not the default: configs and files of layers made before keep their bytes
        return {**super().get_config(), **({"data_format": self.data_format} if self._first else {}),
                "keepdims": self.keepdims}

    def build(self, input_shape):
        self.output_shape(input_shape)
        super().build(input_shape)

    def check_input_shape(self, sample_shape):
        self.output_shape(sample_shape)

    def forward(self, x, training=False):
        if x.ndim != self.rank + 2:
            self.output_shape(x.shape[1:])
        self._check_pixels(x)
        x = self._channels_last(x)
        self.x_shape = x.shape          # (channels last)
        return self._kept(self._pool(x))

    def backward(self, grad_output):
        if not self.needs_input_gradient:
            return None
        dx = self._backward_channels_last(grad_output)
        if not self._first:
            return dx
        am = backend.get_array_module(dx)
        return am.ascontiguousarray(am.moveaxis(dx, -1, 1))       # back to (batch, C, *spatial)

    def _check_pixels(self, x):
        # a maximum of no pixels has no winner (argmax raised NumPy's own error) and a mean of none
        # is 0 / 0: refused by name, as the adaptive poolings refuse it. x as given (channels
        # first or last), so that the message shows the caller's shape
        if 0 in (x.shape[2:] if self._first else x.shape[1:-1]):
            raise ValueError(f"{self.describe()}: every spatial axis needs at least one pixel to pool, got "
                             f"input of shape {x.shape}")


del LAYERS["_GlobalPooling"]


class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over height and width. Shapes: (batch, H, W, C) -> (batch, C), or (batch, 1, 1, C) with
    ``keepdims=True``.

    Example
    -------
    >>> GlobalAveragePooling2D()(np.ones((2, 7, 7, 16))).shape
    (2, 16)
    """

    def _pool(self, x):
        return x.mean(axis=tuple(range(1, self.rank + 1)))

    def _backward_channels_last(self, grad_output):
        grad_output = self._flat(grad_output)
        size = math.prod(self.x_shape[1:-1])
        dx = backend.get_array_module(grad_output).empty(self.x_shape, dtype=grad_output.dtype)
        # the channels named, not -1: NumPy cannot infer an axis of an empty batch
        dx[...] = (grad_output / size).reshape(grad_output.shape[0], *(1,) * self.rank, grad_output.shape[-1])
        return dx


class GlobalMaxPooling2D(_GlobalPooling):
    """Maximum over height and width. Shapes: (batch, H, W, C) -> (batch, C). The gradient goes
    to the first maximum of each channel (row-major), as in ``MaxPooling2D`` and PyTorch's
    ``adaptive_max_pool2d``; TensorFlow shares it among tied maxima instead.

    Example
    -------
    >>> GlobalMaxPooling2D()(np.arange(8.0).reshape(1, 2, 2, 2)).tolist()
    [[6.0, 7.0]]
    """

    def _pool(self, x):
        # (batch, positions, C); the positions counted, not -1, which an empty batch leaves undefined
        flat = x.reshape(x.shape[0], math.prod(x.shape[1:-1]), x.shape[-1])
        am = backend.get_array_module(x)
        self._winner = am.argmax(flat, axis=1)[:, None, :]      # first maximum: NaN counts as one
        return am.take_along_axis(flat, self._winner, axis=1)[:, 0, :]

    def _backward_channels_last(self, grad_output):
        n, c = self.x_shape[0], self.x_shape[-1]
        grad_output = self._flat(grad_output)
        am = backend.get_array_module(grad_output)
        dx = am.zeros((n, math.prod(self.x_shape[1:-1]), c), dtype=grad_output.dtype)
        am.put_along_axis(dx, self._winner, grad_output[:, None, :], axis=1)
        return dx.reshape(self.x_shape)


class GlobalAveragePooling1D(GlobalAveragePooling2D):
    """Mean over the steps of a sequence. Shapes: (batch, L, C) -> (batch, C).

    With a mask (``Embedding(mask_zero=True)`` or ``Masking`` before it, or ``mask=`` (batch, L)
    when called alone), the mean of the real steps only, as Keras'; a sample with no real step
    gives zeros (Keras: NaN, 0 / 0).

    Example
    -------
    >>> GlobalAveragePooling1D()(np.ones((2, 10, 4))).shape
    (2, 4)
    >>> GlobalAveragePooling1D()(np.array([[[1.0], [3.0], [0.0]]]), mask=np.array([[1, 1, 0]])).tolist()
    [[2.0]]
    """
    rank = 1
    reads_mask = True

    def forward(self, x, training=False, mask=None):
        # the mask (batch, steps) is checked against the steps, the last axis with channels_first
        mask = masking.take(self, mask, self._channels_last(x) if x.ndim == 3 else x)
        self._shares = None
        if mask is None:
            return super().forward(x, training)
        if x.ndim != 3:
            self.output_shape(x.shape[1:])
        self._check_pixels(x)
        x = self._channels_last(x)
        self.x_shape = x.shape
        # each real step's share of its sample's mean: 1 / (the sample's real steps), 0 when masked
        real = mask.astype(x.dtype)[:, :, None]
        self._shares = real / backend.get_array_module(x).maximum(real.sum(axis=1, keepdims=True), 1)
        return self._kept((x * self._shares).sum(axis=1))

    def _backward_channels_last(self, grad_output):
        if self._shares is None:
            return super()._backward_channels_last(grad_output)
        return self._flat(grad_output)[:, None, :] * self._shares


class GlobalMaxPooling1D(GlobalMaxPooling2D):
    """Maximum over the steps of a sequence (gradient to the first maximum). Shapes: (batch, L, C)
    -> (batch, C).

    Example
    -------
    >>> GlobalMaxPooling1D()(np.ones((2, 10, 4))).shape
    (2, 4)
    """
    rank = 1


class GlobalAveragePooling3D(GlobalAveragePooling2D):
    """Mean over depth, height and width. Shapes: (batch, D, H, W, C) -> (batch, C), or
    (batch, 1, 1, 1, C) with ``keepdims=True``.

    Example
    -------
    >>> GlobalAveragePooling3D()(np.ones((2, 3, 4, 5, 6))).shape
    (2, 6)
    """
    rank = 3


class GlobalMaxPooling3D(GlobalMaxPooling2D):
    """Maximum over depth, height and width (gradient to the first maximum). Shapes:
    (batch, D, H, W, C) -> (batch, C), or (batch, 1, 1, 1, C) with ``keepdims=True``.

    Example
    -------
    >>> GlobalMaxPooling3D(keepdims=True)(np.ones((2, 3, 4, 5, 6))).shape
    (2, 1, 1, 1, 6)
    """
    rank = 3
