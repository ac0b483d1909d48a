"""ContrastLimitedAdaptiveHistogramEqualization (CLAHE): Keras 3's histogram equalization per
tile, each tile's histogram clipped and its excess spread over all levels, the tiles' tables
blended bilinearly at every pixel. Not random: applied in training and inference, as Keras."""
import math

import numpy as np

from .. import backend
from .._bounds import check_sample_values
from .data_format import set_data_format
from .augmentation import _RandomIntensity


def clahe(x, value_range, clip_limit, tile_grid_size):
    """Keras 3.15's CLAHE of each channel of each image of ``x`` (n, H, W, C), in units of 0-255
    over ``value_range``, in ``x``'s dtype.

    The image is padded at the bottom and right by mirroring (NumPy's "symmetric", TensorFlow's
    SYMMETRIC: the edge pixel repeated) to a whole number of ``tile_h x tile_w`` tiles,
    ``tile_h = ceil(H / grid_h)``. Each pixel's level is its value truncated and clipped to 0-255.
    Per tile and channel: the 256-level histogram, each count clipped at
    ``clip_limit tile_h tile_w / 256`` (when ``clip_limit > 0``), the excess spread evenly over the
    256 levels; cumulated; ``(cdf - cdf[0]) 255 / (tile_h tile_w - cdf[0])`` (a denominator of 0
    read as 1), clipped to [0, 255], is the tile's table. A pixel at (y, x) reads its level from the
    tables of the four tiles whose centres surround it, weighted bilinearly by its distance to them
    (the border tiles' tables repeated beyond the edges)."""
    xp = backend.get_array_module(x)
    n, h, w, c = x.shape
    grid_h, grid_w = tile_grid_size
    tile_h, tile_w = -(-h // grid_h), -(-w // grid_w)
    t = x.dtype.type
    low, high = value_range
    p = x if (low, high) == (0, 255) else (x - t(low)) / (t(high) - t(low)) * t(255)     # Keras' steps
    pad_h, pad_w = tile_h * grid_h - h, tile_w * grid_w - w
    if pad_h or pad_w:
        p = xp.pad(p, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="symmetric")
    big_h, big_w = p.shape[1:3]
    # a level for the histogram and the lookup alike: truncated, in 0-255 (Keras' casts and clips,
    # in either order the same)
    level = np.clip(p, 0, 255).astype(np.intp)
    tile_row = (xp.arange(big_h) // tile_h)[None, :, None, None]
    tile_col = (xp.arange(big_w) // tile_w)[None, None, :, None]
    tile = ((xp.arange(n)[:, None, None, None] * grid_h + tile_row) * grid_w + tile_col) * c + xp.arange(c)
    hist = xp.bincount((tile * 256 + level).ravel(), minlength=n * grid_h * grid_w * c * 256)
    hist = hist.reshape(n, grid_h, grid_w, c, 256).astype(x.dtype)
    area = tile_h * tile_w
    if clip_limit > 0:
        clipped = np.minimum(hist, t(clip_limit * area / 256.0))
        hist = clipped + (hist - clipped).sum(axis=-1, keepdims=True) / t(256)
    cdf = hist.cumsum(axis=-1)
    first = cdf[..., :1]
    denominator = t(area) - first
    table = np.clip((cdf - first) * t(255) / np.where(denominator == 0, t(1), denominator), 0, 255)
    table = xp.pad(table, ((0, 0), (1, 1), (1, 1), (0, 0), (0, 0)), mode="edge")
    # each row's (column's) two tiles, 0 the repeated edge one, and its weight towards the second
    y = (xp.arange(big_h, dtype=x.dtype) - t(tile_h / 2.0)) / t(tile_h) + t(1)
    xs = (xp.arange(big_w, dtype=x.dtype) - t(tile_w / 2.0)) / t(tile_w) + t(1)
    y0, x0 = np.floor(y), np.floor(xs)
    wy, wx = (y - y0)[None, :, None, None], (xs - x0)[None, None, :, None]
    y0, x0 = np.clip(y0, 0, grid_h + 1).astype(np.intp), np.clip(x0, 0, grid_w + 1).astype(np.intp)
    y1, x1 = np.minimum(y0 + 1, grid_h + 1), np.minimum(x0 + 1, grid_w + 1)
    flat = table.reshape(-1)
    stride_x = 256 * c
    stride_y = stride_x * (grid_w + 2)
    base = xp.arange(n)[:, None, None, None] * (stride_y * (grid_h + 2)) + xp.arange(c) * 256 + level

    def read(rows, cols):
        return flat[base + rows[None, :, None, None] * stride_y + cols[None, None, :, None] * stride_x]

    top = read(y0, x0) * (t(1) - wx) + read(y0, x1) * wx
    bottom = read(y1, x0) * (t(1) - wx) + read(y1, x1) * wx
    out = (top * (t(1) - wy) + bottom * wy)[:, :h, :w]
    if (low, high) != (0, 255):
        out = out / t(255) * (t(high) - t(low)) + t(low)
    return out


class ContrastLimitedAdaptiveHistogramEqualization(_RandomIntensity):
    """Contrast limited adaptive histogram equalization (CLAHE): each image's channels equalized
    per tile of a ``tile_grid_size`` (rows, columns) grid, in 0-255 units of ``value_range``, each
    tile's histogram clipped at ``clip_limit`` times its mean count per level (the excess spread
    evenly over the 256 levels; 0 clips nothing: plain adaptive equalization), and each pixel's
    new level blended bilinearly from the tables of the four tiles nearest it, so that no tile's
    border shows. Keras 3.15's maths (``clahe`` says the steps), values equal to float32 rounding.
    Not random, and, as Keras (whose layer ignores ``training``), applied in training **and**
    inference (``predict`` too); no ``seed``.

    Differences from Keras 3.15: an image smaller than the grid's padding (padded by more rows or
    columns than it has, e.g. 3 x 3 against the default 8 x 8 grid) is mirrored again (NumPy's
    "symmetric" pad), where Keras' TensorFlow pad fails; a negative ``clip_limit``, which Keras
    takes as 0, is refused; float64 images are computed in float64 (Keras: float32).

    Gradient: each output is a table's value read at the pixel's whole level, and the tables are
    counts of whole levels: flat between levels, so the gradient with respect to the images is 0
    (no straight-through estimate: layers before it learn nothing through it), as Equalization's.

    Example
    -------
    >>> layer = ContrastLimitedAdaptiveHistogramEqualization(clip_limit=0.0, tile_grid_size=(1, 1))
    >>> layer(np.array([0.0, 10.0, 10.0, 20.0]).reshape(1, 2, 2, 1))[0, :, :, 0].tolist()
    [[0.0, 170.0], [170.0, 255.0]]
    """

    _moves_boxes = False         # Keras 3.15's refuses boxes (NotImplementedError)
    keras_seeded = False         # (Keras' draws nothing: no SeedGenerator, so no seed state listed)

    shape_arguments = ('tile_grid_size',)        # named when its output is too large (glassnet._bounds)

    def __init__(self, value_range=(0, 255), clip_limit=4.0, tile_grid_size=(8, 8), data_format=None, **kwargs):
        super().__init__(value_range, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        name = type(self).__name__
        if (isinstance(clip_limit, bool) or not isinstance(clip_limit, (int, float, np.integer, np.floating))
                or not math.isfinite(clip_limit) or clip_limit < 0):
            raise ValueError(f"{name}: clip_limit must be a finite number >= 0 (each tile's histogram is clipped at "
                             f"clip_limit times its mean count per level; 0 clips nothing), got {clip_limit!r:.80}")
        if (not isinstance(tile_grid_size, (tuple, list)) or len(tile_grid_size) != 2
                or not all(isinstance(g, (int, np.integer)) and not isinstance(g, bool) and g >= 1
                           for g in tile_grid_size)):
            raise ValueError(f"{name}: tile_grid_size must be a pair (rows, columns) of positive integers, the grid "
                             f"of tiles, got {tile_grid_size!r:.80}")
        self.clip_limit = float(clip_limit)
        self.tile_grid_size = tuple(int(g) for g in tile_grid_size)

    def build(self, input_shape):
        super().build(input_shape)
        # what the output's shape does not show (glassnet._bounds): 256 levels of table per tile and
        # channel, and the image mirrored out to whole tiles, which a grid finer than the image
        # makes a grid of one-pixel tiles (tile_grid_size=(10**5, 10**5) on 8 x 8 images: 10**10)
        shape = tuple(input_shape)
        (grid_h, grid_w), channels = self.tile_grid_size, shape[-1] or 1
        check_sample_values(self, (grid_h + 2) * (grid_w + 2) * channels * 256,
                            "its tiles' tables (256 levels a tile and channel)")
        if len(shape) == 3 and None not in shape[:2]:
            tiles = -(-shape[0] // grid_h) * grid_h * -(-shape[1] // grid_w) * grid_w
            check_sample_values(self, tiles * channels, "its image padded to whole tiles")

    def forward(self, x, training=False):
        if x.ndim != 4:
            super().forward(x, training)            # the shape's error, by name
        if backend.get_array_module(x).isnan(x).any():
            raise ValueError(f"{self.describe()}: the images hold NaN, which falls in no level of the histograms")
        return clahe(x, self.value_range, self.clip_limit, self.tile_grid_size)

    def backward(self, grad_output):
        if not self.needs_input_gradient:           # the usual place: a model's first layers
            return None
        return backend.get_array_module(grad_output).zeros_like(grad_output)

    def get_config(self):
        config = super(_RandomIntensity, self).get_config()      # no factor: not random
        return {**config, "value_range": list(self.value_range), "clip_limit": self.clip_limit,
                "tile_grid_size": list(self.tile_grid_size)}
