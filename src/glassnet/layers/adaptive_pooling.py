"""Adaptive pooling: AdaptiveAveragePooling1D/2D/3D and AdaptiveMaxPooling1D/2D/3D
(Keras 3's layers, PyTorch's ``AdaptiveAvgPool2d`` and ``AdaptiveMaxPool2d``).

The output has ``output_size`` along each spatial axis whatever the input's size: output i of an
axis of input length n reads the window ``[floor(i n / o), ceil((i + 1) n / o))``, PyTorch's and
Keras' rule (windows of two sizes, neighbours sharing a pixel where o does not divide n). So one
model reads images of any size, ``Input((None, None, 3))``, and hands a fixed-size map on.
Channels last by default; ``data_format="channels_first"`` (Keras') takes (N, C, *spatial) and
runs the same code on the channel axis moved last (data_format.py).

A window's mean or maximum over a box is the same taken one axis at a time (the mean of the rows'
means: every row of a box is as long), so the functions below reduce one axis after another, the
last first, each with one vectorised reduction per window of that axis. Max pooling sends each
window's gradient to its first maximum in row-major order, as PyTorch: the last axis's first
maximum within each row, then the first row holding the largest of them.
"""
import numpy as np

from .. import backend
from .base import LAYERS
from .conv import _as_tuple
from .data_format import set_data_format
from .spatial import ChannelsLast


def adaptive_windows(size, out_size):
    """The ``(start, end)`` of each of ``out_size`` windows over an axis of length ``size``.

    >>> adaptive_windows(5, 3)
    [(0, 2), (1, 4), (3, 5)]
    """
    return [(i * size // out_size, -(-(i + 1) * size // out_size)) for i in range(out_size)]


def _along(axis, index):
    """An index that picks ``index`` (an int or a slice) along ``axis`` and everything elsewhere."""
    return (slice(None),) * axis + (index,)


def adaptive_pool_forward(x, output_size, kind):
    """Mean (``kind="average"``) or maximum (``"max"``) over adaptive windows.

    x : (N, *spatial, C) -> (N, *output_size, C), and the cache ``adaptive_pool_backward`` needs:
    per reduced axis, its length, its windows and (max) each window's winner along it.
    """
    am = backend.get_array_module(x)
    cache = []
    for axis in reversed(range(1, x.ndim - 1)):          # the last spatial axis first (the tie rule)
        windows, repeats = distinct_windows(x.shape[axis], output_size[axis - 1])
        shape = list(x.shape)
        shape[axis] = len(windows)
        out, winners = am.empty(shape, dtype=x.dtype), []
        for i, (start, end) in enumerate(windows):
            part = x[_along(axis, slice(start, end))]
            if kind == "average":
                out[_along(axis, i)] = part.mean(axis=axis)
            else:
                winner = am.expand_dims(_winner(part, axis, am), axis)
                winners.append(winner)
                out[_along(axis, slice(i, i + 1))] = am.take_along_axis(part, winner, axis=axis)
        if repeats is not None:         # each distinct window's value at every output that reads it
            out = am.repeat(out, repeats, axis=axis)
        cache.append((axis, x.shape[axis], windows, winners, repeats))
        x = out
    return x, cache


def distinct_windows(size, out_size):
    """``adaptive_windows(size, out_size)`` without repeats, and how many outputs in a row read each
    (None when every output has its own window, as whenever ``out_size <= size``).

    Why: more outputs than input pixels (Keras and PyTorch take ``output_size=10**6`` on a
    sequence of 8) make windows of one or two pixels, most of them alike, and a Python loop over all
    of them ran once per output: here it runs once per distinct window, fewer than ``2 * size``.
    Windows move forward monotonically, so equal ones are neighbours.

    >>> distinct_windows(2, 5)
    ([(0, 1), (0, 2), (1, 2)], [2, 1, 2])
    """
    if out_size <= size:
        return adaptive_windows(size, out_size), None
    positions = np.arange(out_size, dtype=np.int64)
    starts, ends = positions * size // out_size, -(-(positions + 1) * size // out_size)
    first = np.flatnonzero(np.concatenate([[True], (starts[1:] != starts[:-1]) | (ends[1:] != ends[:-1])]))
    windows = list(zip(starts[first].tolist(), ends[first].tolist()))
    return windows, np.diff(np.append(first, out_size)).tolist()


def _summed_runs(grad, axis, repeats):
    """The gradient of each distinct window's value (``distinct_windows``): the sum over the
    outputs that read it, ``repeats`` of them in a row along ``axis``."""
    am = backend.get_array_module(grad)
    starts = np.concatenate([[0], np.cumsum(repeats)[:-1]]).astype(np.intp)
    if am is np:
        return np.add.reduceat(grad, starts, axis=axis)
    return am.concatenate([grad[_along(axis, slice(int(s), int(s) + r))].sum(axis=axis, keepdims=True)
                           for s, r in zip(starts, repeats)], axis=axis)


def _winner(part, axis, am):
    """Each window's winner along ``axis``: the first maximum, or, in a window holding NaN, the
    last NaN (PyTorch's rule, ``val > max or isnan(val)`` scanning in order; the value is NaN
    either way)."""
    first = part.argmax(axis=axis)
    if part.dtype.kind != "f":
        return first
    nan = am.isnan(part)
    last_nan = part.shape[axis] - 1 - am.flip(nan, axis=axis).argmax(axis=axis)
    return am.where(nan.any(axis=axis), last_nan, first)


def adaptive_pool_backward(grad, cache):
    """dL/dx of ``adaptive_pool_forward``: each window's gradient shared equally by its pixels
    (average) or given to its winner (max), one axis at a time in the reverse order."""
    am = backend.get_array_module(grad)
    for axis, size, windows, winners, repeats in reversed(cache):
        if repeats is not None:
            grad = _summed_runs(grad, axis, repeats)
        shape = list(grad.shape)
        shape[axis] = size
        dx = am.zeros(shape, dtype=grad.dtype)
        for i, (start, end) in enumerate(windows):
            share = grad[_along(axis, slice(i, i + 1))]
            region = dx[_along(axis, slice(start, end))]       # a view: windows may overlap, so add
            if winners:
                positions = am.arange(end - start, dtype=np.intp).reshape((-1,) + (1,) * (grad.ndim - axis - 1))
                region += share * (positions == winners[i])
            else:
                region += share / grad.dtype.type(end - start)
        grad = dx
    return grad


class _AdaptivePooling(ChannelsLast):
    """Shared by the adaptive pooling layers: ``output_size`` per spatial axis, any input size."""
    kind = None

    shape_arguments = ('output_size',)        # named when its output is too large (glassnet._bounds)

    def __init__(self, output_size, data_format=None, **kwargs):
        super().__init__(**kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py: channels first by transposes)
        self.output_size = _as_tuple(output_size, self.rank, "output_size", type(self).__name__)

    def _spatial(self, sample_shape):
        return list(self.output_size)

    def forward(self, x, training=False):
        if x.ndim != self.rank + 2:
            self.output_shape(x.shape[1:])
        if 0 in x.shape[1:-1]:
            raise ValueError(f"{self.describe()}: every spatial axis needs at least one pixel to pool, got "
                             f"input of shape {x.shape}")
        out, self._cache = adaptive_pool_forward(x, self.output_size, self.kind)
        return out

    def backward(self, grad_output):
        if not self.needs_input_gradient:      # first layer of a model: nothing to propagate
            return None
        return adaptive_pool_backward(grad_output, self._cache)

    def get_config(self):
        return {**super().get_config(), "output_size": list(self.output_size)}


del LAYERS["_AdaptivePooling"]


class AdaptiveAveragePooling2D(_AdaptivePooling):
    """Mean over the windows that split each image into ``output_size`` (an int or (rows, columns))
    cells, whatever the image's size (PyTorch's ``AdaptiveAvgPool2d``).

    Shapes: (batch, H, W, C) -> (batch, output_size[0], output_size[1], C).

    Example
    -------
    >>> AdaptiveAveragePooling2D((1, 2))(np.arange(6.0).reshape(1, 1, 6, 1))[0, 0, :, 0].tolist()
    [1.0, 4.0]
    """
    rank, kind = 2, "average"


class AdaptiveMaxPooling2D(_AdaptivePooling):
    """Maximum over the windows that split each image into ``output_size`` cells (PyTorch's
    ``AdaptiveMaxPool2d``); the gradient goes to each window's first maximum.

    Shapes: (batch, H, W, C) -> (batch, output_size[0], output_size[1], C).

    Example
    -------
    >>> AdaptiveMaxPooling2D(2)(np.ones((3, 7, 5, 4))).shape
    (3, 2, 2, 4)
    """
    rank, kind = 2, "max"


class AdaptiveAveragePooling1D(_AdaptivePooling):
    """Mean over ``output_size`` windows of each sequence. Shapes: (batch, L, C) -> (batch, output_size, C).

    Example
    -------
    >>> AdaptiveAveragePooling1D(3)(np.arange(5.0).reshape(1, 5, 1))[0, :, 0].tolist()
    [0.5, 2.0, 3.5]
    """
    rank, kind = 1, "average"


class AdaptiveMaxPooling1D(_AdaptivePooling):
    """Maximum over ``output_size`` windows of each sequence. Shapes: (batch, L, C) -> (batch, output_size, C).

    Example
    -------
    >>> AdaptiveMaxPooling1D(3)(np.arange(5.0).reshape(1, 5, 1))[0, :, 0].tolist()
    [1.0, 3.0, 4.0]
    """
    rank, kind = 1, "max"


class AdaptiveAveragePooling3D(_AdaptivePooling):
    """Mean over the windows that split each volume into ``output_size`` cells. Shapes:
    (batch, D, H, W, C) -> (batch, *output_size, C).

    Example
    -------
    >>> AdaptiveAveragePooling3D((1, 2, 3))(np.ones((2, 4, 5, 6, 3))).shape
    (2, 1, 2, 3, 3)
    """
    rank, kind = 3, "average"


class AdaptiveMaxPooling3D(_AdaptivePooling):
    """Maximum over the windows that split each volume into ``output_size`` cells. Shapes:
    (batch, D, H, W, C) -> (batch, *output_size, C).

    Example
    -------
    >>> AdaptiveMaxPooling3D(2)(np.ones((2, 4, 5, 6, 3))).shape
    (2, 2, 2, 2, 3)
    """
    rank, kind = 3, "max"
