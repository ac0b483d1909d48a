"""Layers that move pixels without weights, channels-last: ZeroPadding1D/2D/3D, Cropping1D/2D/3D and
UpSampling1D/2D/3D (Keras' names, arguments and formats), and ``ChannelsLast``, their base and the
poolings'. A 1-D layer runs as the 2-D one on an image of height 1, as the convolutions do; the
3-D ones run the same code on volumes.

Each ``backward`` is the adjoint of its ``forward``: padding's backward crops the gradient,
cropping's pads it with zeros (conv's ``_pad`` and ``_crop``, which the convolutions and poolings use), and nearest-neighbour upsampling's sums each block of copies.
"""
import numpy as np

from .. import backend
from .._bounds import check_sample_values
from .._validation import check_choice, refuse_positional_data_format
from .base import LAYERS, Layer, _unexpected_arguments
from .data_format import DataFormat, config_entry, set_data_format
from .conv import RankOneAsTwo, _as_tuple, _crop, _pad, check_rank
from .banded import Band
from .resizing import axis_band, bilinear_taps


def _pairs(value, rank, what, cls):
    """Keras' formats for amounts before and after each spatial axis, as ``rank`` pairs of
    non-negative ints: ``n`` (n everywhere), one entry per axis (``(2, 1)``: 2 before and after
    the first axis, 1 around the second; for rank 1, ``(1, 2)`` is (before, after)), or a pair
    per axis (``((1, 0), (2, 2))``; ``((1, 0), (2, 2), (0, 3))`` for volumes)."""
    def count(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0

    expected = (f"a non-negative integer, {rank} of them, or {rank} pairs (before, after)" if rank > 1
                else "a non-negative integer or a pair (before, after)")
    if count(value):
        return ((int(value),) * 2,) * rank
    if isinstance(value, (list, tuple)):
        items = list(value)
        if rank == 1 and len(items) == 2 and all(count(v) for v in items):
            return ((int(items[0]), int(items[1])),)
        if rank > 1 and len(items) == rank and all(count(v) for v in items):
            return tuple((int(v), int(v)) for v in items)
        # a pair per axis, or Keras' mix of a pair and a count: ((1, 0), 2)
        if len(items) == rank and all(count(p) or (isinstance(p, (list, tuple)) and len(p) == 2
                                                   and all(count(v) for v in p)) for p in items):
            return tuple((int(p),) * 2 if count(p) else (int(p[0]), int(p[1])) for p in items)
    raise ValueError(f"{cls}: {what} must be {expected}, got {value!r:.80}")


class ChannelsLast(DataFormat, RankOneAsTwo, Layer):
    """The base of the layers that act on the ``rank`` spatial axes of channels-last samples
    without weights (these, and the windowed poolings): the rank check, output shapes from
    ``_spatial(sample_shape)`` (the spatial sizes out), inputs of other spatial sizes than the built
    ones, and rank 1 run as rank 2 with height 1 (``RankOneAsTwo``)."""
    rank = 2

    def output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        check_rank(self, input_shape)
        return (*self._spatial(input_shape), input_shape[-1])

    def build(self, input_shape):
        self.output_shape(input_shape)
        super().build(input_shape)

    def check_input_shape(self, sample_shape):
        self.output_shape(sample_shape)         # spatial sizes may differ from the built ones

    def get_config(self):
        return {**super().get_config(), **config_entry(self)}



del LAYERS["ChannelsLast"]


class _Spatial(ChannelsLast):
    """Shared by the layers here: ``_forward_nd`` / ``_backward_nd`` on (N, *spatial, C) batches (a
    sequence lifted to images of height 1)."""

    def forward(self, x, training=False):
        if x.ndim != self.rank + 2:
            self.output_shape(x.shape[1:])
        self._spatial(x.shape[1:])              # refused with the layer's name and the shapes
        self.x_shape = x.shape
        return self._lowered(self._forward_nd(self._lifted(x)))

    def backward(self, grad_output):
        if not self.needs_input_gradient:      # first layer of a model: nothing to propagate
            return None
        return self._lowered(self._backward_nd(self._lifted(grad_output)))


del LAYERS["_Spatial"]


class ZeroPadding2D(_Spatial):
    """Zeros around each image: ``padding`` is an int, (rows, columns) added on both sides, or
    ((top, bottom), (left, right)), as in Keras.

    Shapes: (batch, H, W, C) -> (batch, H + top + bottom, W + left + right, C).

    Example
    -------
    >>> ZeroPadding2D(((1, 0), (2, 2)))(np.ones((1, 2, 2, 1)))[0, :, :, 0].tolist()
    [[0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]]
    """

    shape_arguments = ('padding',)        # named when its output is too large (glassnet._bounds)

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        self.padding = _pairs(padding, self.rank, "padding", type(self).__name__)

    def _spatial(self, sample_shape):
        # None: a length known per batch (Input((None, channels))); it stays open
        return [None if size is None else size + before + after
                for size, (before, after) in zip(sample_shape[:-1], self.padding)]

    def _forward_nd(self, x):
        return _pad(x, self._lifted_axes(self.padding))

    def _backward_nd(self, grad):
        return _crop(grad, self._lifted_axes(self.padding))

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding]}


class ZeroPadding1D(ZeroPadding2D):
    """Zeros at both ends of each sequence: ``padding`` an int or (before, after).

    Shapes: (batch, L, C) -> (batch, L + before + after, C).

    Example
    -------
    >>> ZeroPadding1D((1, 2))(np.ones((1, 2, 1)))[0, :, 0].tolist()
    [0.0, 1.0, 1.0, 0.0, 0.0]
    """
    rank = 1

    def get_config(self):
        return {**super().get_config(), "padding": list(self.padding[0])}


class Cropping2D(_Spatial):
    """Cuts rows and columns off each image: ``cropping`` an int, (rows, columns) cut at both
    sides, or ((top, bottom), (left, right)), as in Keras. At least one row and column must stay.

    Shapes: (batch, H, W, C) -> (batch, H - top - bottom, W - left - right, C).

    Example
    -------
    >>> Cropping2D(((1, 0), (0, 1)))(np.arange(9.0).reshape(1, 3, 3, 1))[0, :, :, 0].tolist()
    [[3.0, 4.0], [6.0, 7.0]]
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        self.cropping = _pairs(cropping, self.rank, "cropping", type(self).__name__)

    def _spatial(self, sample_shape):
        sizes = sample_shape[:-1]
        out = [None if size is None else size - before - after for size, (before, after) in zip(sizes, self.cropping)]
        if any(size is not None and size < 1 for size in out):
            raise ValueError(f"{self.describe()}: cropping {self.cropping} leaves nothing of input samples "
                             f"of spatial shape {tuple(sizes)}")
        return out

    def _forward_nd(self, x):
        # a contiguous copy: the layers after it read it faster than a strided view
        return backend.get_array_module(x).ascontiguousarray(_crop(x, self._lifted_axes(self.cropping)))

    def _backward_nd(self, grad):
        return _pad(grad, self._lifted_axes(self.cropping))

    def get_config(self):
        return {**super().get_config(), "cropping": [list(p) for p in self.cropping]}


class Cropping1D(Cropping2D):
    """Cuts steps off both ends of each sequence: ``cropping`` an int or (before, after).

    Shapes: (batch, L, C) -> (batch, L - before - after, C).

    Example
    -------
    >>> Cropping1D((1, 0))(np.arange(3.0).reshape(1, 3, 1))[0, :, 0].tolist()
    [1.0, 2.0]
    """
    rank = 1
    _not_taken = ("data_format",)       # Keras' Cropping1D has none: channels last always

    def __init__(self, cropping=(1, 1), **kwargs):       # Keras' default for the 1-D layer
        if "data_format" in kwargs:
            raise _unexpected_arguments(type(self), ["data_format"])
        super().__init__(cropping, **kwargs)

    def get_config(self):
        return {**super().get_config(), "cropping": list(self.cropping[0])}


class UpSampling2D(_Spatial):
    """Enlarges each image ``size[0]`` times in height and ``size[1]`` times in width:
    ``interpolation="nearest"`` repeats each row and column (Keras' default, PyTorch's
    ``nn.Upsample(mode="nearest")``), ``"bilinear"`` blends the two nearest input pixels along each
    axis (TensorFlow's resize, half-pixel centres: PyTorch's ``mode="bilinear",
    align_corners=False``); "bicubic", "lanczos3", "lanczos5" and "area" are TensorFlow's resizes
    of those names, as Keras runs them (``glassnet.layers.resample``; "area" by a whole factor
    repeats pixels, as "nearest").

    Shapes: (batch, H, W, C) -> (batch, H * size[0], W * size[1], C).

    Example
    -------
    >>> UpSampling2D(2)(np.array([[[[1.0], [2.0]]]]))[0, :, :, 0].tolist()
    [[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0]]
    >>> UpSampling2D((1, 2), interpolation="bilinear")(np.array([[[[1.0], [2.0]]]]))[0, 0, :, 0].tolist()
    [1.0, 1.25, 1.75, 2.0]
    """
    # Keras 3.15's: "nearest" repeats, the others go to its resize (TensorFlow's list, as Resizing's)
    INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "area", "lanczos3", "lanczos5")

    shape_arguments = ('size',)        # named when its output is too large (glassnet._bounds)

    def __init__(self, size=(2, 2), interpolation="nearest", data_format=None, **kwargs):
        super().__init__(**kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        cls = type(self).__name__
        self.size = _as_tuple(size, self.rank, "size", cls)
        refuse_positional_data_format(interpolation, cls, "interpolation")    # Keras' UpSampling2D(2, "channels_first")
        check_choice(interpolation, f"{cls}: interpolation", self.INTERPOLATIONS)
        self.interpolation = interpolation

    def _spatial(self, sample_shape):
        return [None if size is None else size * k for size, k in zip(sample_shape[:-1], self.size)]

    def build(self, input_shape):
        super().build(input_shape)
        if self.interpolation != "nearest" and None not in tuple(input_shape)[:-1]:
            # its interpolation matrices, (H * size[0], H) and (W * size[1], W), are not in its output
            (h, w), (sh, sw) = tuple(input_shape)[:2], self.size     # (images only: UpSampling2D's)
            check_sample_values(self, h * sh * h + w * sw * w,
                                f"its interpolation matrices ({h * sh} x {h} and {w * sw} x {w})")

    def _forward_nd(self, x):
        factors = self._lifted_axes(self.size)
        n, *sizes, c = x.shape
        if self.interpolation != "nearest":
            # separable: the rows' band, then the columns' (see glassnet.layers.resizing); bilinear
            # positions in float64, as PyTorch's in a float64 model (TensorFlow's float32 ones differ
            # by 1e-7 for whole factors)
            (h, w), (sh, sw) = sizes, factors
            if self.interpolation == "bilinear":
                self._bands = [Band.from_taps(h * sh, h, bilinear_taps(h * sh, h)),
                               Band.from_taps(w * sw, w, bilinear_taps(w * sw, w))]
            else:
                self._bands = [axis_band(self.interpolation, h * sh, h), axis_band(self.interpolation, w * sw, w)]
            return self._bands[1].apply(self._bands[0].apply(x, 1), 2)
        # each spatial axis split in (size, factor), the input broadcast along every factor axis:
        # one copy, every block at once ((n, h, sh, w, sw, c) for images)
        blocks = [length for pair in zip(sizes, factors) for length in pair]
        out = backend.get_array_module(x).empty((n, *blocks, c), dtype=x.dtype)
        out[...] = x[(slice(None), *(slice(None), None) * len(sizes))]
        return out.reshape(n, *(size * k for size, k in zip(sizes, factors)), c)

    def _backward_nd(self, grad):
        factors = self._lifted_axes(self.size)
        n, *sizes, c = grad.shape
        if self.interpolation != "nearest":       # the transposes, in the other order
            return self._bands[0].T.apply(self._bands[1].T.apply(grad, 2), 1)
        blocks = [length for size, k in zip(sizes, factors) for length in (size // k, k)]
        return grad.reshape(n, *blocks, c).sum(axis=tuple(range(2, 2 * len(sizes) + 1, 2)))

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "interpolation": self.interpolation}


class _Repeating(UpSampling2D):
    """UpSampling1D and UpSampling3D: nearest neighbour only, as Keras' (no ``interpolation``)."""

    def __init__(self, size, **kwargs):
        if "interpolation" in kwargs:           # Keras' 1-D and 3-D layers have none either
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument 'interpolation'; it repeats "
                            f"(nearest neighbour) only")
        super().__init__(size, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["interpolation"]
        return config


del LAYERS["_Repeating"]


class UpSampling1D(_Repeating):
    """Repeats each step of a sequence ``size`` times (Keras' ``UpSampling1D``).

    Shapes: (batch, L, C) -> (batch, L * size, C).

    Example
    -------
    >>> UpSampling1D(3)(np.array([[[1.0], [2.0]]]))[0, :, 0].tolist()
    [1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    """
    rank = 1
    _not_taken = ("data_format",)       # Keras' UpSampling1D has none: channels last always

    def __init__(self, size=2, **kwargs):
        if "data_format" in kwargs:
            raise _unexpected_arguments(type(self), ["data_format"])
        super().__init__(size, **kwargs)

    def get_config(self):
        return {**super().get_config(), "size": self.size[0]}


class ZeroPadding3D(ZeroPadding2D):
    """Zeros around each volume: ``padding`` an int, (depth, rows, columns) added on both sides, or
    ((front, back), (top, bottom), (left, right)), as in Keras.

    Shapes: (batch, D, H, W, C) -> (batch, D + front + back, H + top + bottom, W + left + right, C).

    Example
    -------
    >>> ZeroPadding3D((1, 0, 2))(np.ones((1, 2, 2, 2, 1))).shape
    (1, 4, 2, 6, 1)
    """
    rank = 3

    def __init__(self, padding=(1, 1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class Cropping3D(Cropping2D):
    """Cuts slices, rows and columns off each volume: ``cropping`` an int, (depth, rows, columns) cut
    at both sides, or ((front, back), (top, bottom), (left, right)), as in Keras. At least one pixel
    must stay along every axis.

    Shapes: (batch, D, H, W, C) -> (batch, D - front - back, H - top - bottom, W - left - right, C).

    Example
    -------
    >>> Cropping3D(((1, 0), (0, 1), 1))(np.ones((1, 3, 3, 4, 1))).shape
    (1, 2, 2, 2, 1)
    """
    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):     # Keras' default
        super().__init__(cropping, data_format, **kwargs)


class UpSampling3D(_Repeating):
    """Repeats each slice, row and column of a volume ``size[0]``, ``size[1]`` and ``size[2]`` times
    (Keras' ``UpSampling3D``; PyTorch's ``nn.Upsample(mode="nearest")`` on volumes).

    Shapes: (batch, D, H, W, C) -> (batch, D * size[0], H * size[1], W * size[2], C).

    Example
    -------
    >>> UpSampling3D((1, 2, 1))(np.arange(2.0).reshape(1, 1, 2, 1, 1))[0, 0, :, 0, 0].tolist()
    [0.0, 0.0, 1.0, 1.0]
    """
    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(size, data_format=data_format, **kwargs)
