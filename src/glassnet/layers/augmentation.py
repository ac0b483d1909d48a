"""Keras' random image augmentation layers: RandomFlip, RandomTranslation, RandomRotation,
RandomZoom, RandomShear, RandomContrast and RandomBrightness.

Each changes images (batch, H, W, C) in training only, a new random draw per image and per step
from the layer's generator (the model's seed, or the layer's own ``seed``), and passes them on
unchanged in ``evaluate`` and ``predict`` (Keras' rule). Put first in a model, they make every
epoch see slightly different images: a cheap guard against overfitting a small image set.

The geometric ones (translation, rotation, zoom, shear, and perspective in ``perspective.py``)
share one sampler, TensorFlow's ``ImageProjectiveTransformV3`` (what Keras runs on its default
backend): each output pixel (x, y) reads the input at ``(a0 x + a1 y + a2, b0 x + b1 y + b2) / k``,
``k = c0 x + c1 y + 1`` (1 for the affine matrices, whose c0 = c1 = 0; where k is 0 the pixel is
``fill_value``, as TensorFlow's), a point that ``fill_mode`` first maps
into the image ("reflect" d c b a | a b c d | d c b a, "wrap" a b c d | a b c d, "nearest"
a a | a b c d | d d, "constant" leaves it outside, where ``fill_value`` is read), and then
interpolates from its four neighbours ("bilinear") or the nearest one. The sampling is linear in
the image, so the backward pass sends each output gradient back to the pixels it was read from,
with the same weights.

The layers that take Keras' ``data_format`` (all of them, and those of the modules beside this
one) read "channels_first" images (batch, C, H, W) by
moving the channel axis last, running the code here and moving it back (layers/data_format.py):
one seed draws the same in both formats, and the dict form's masks move as the images.

Given Keras' ``bounding_box_format`` (a keyword, as in Keras), the dict form's bounding boxes move
with the images too: each layer's ``_move_boxes`` says how (layers/box_moves.py).
"""
import math

import numpy as np

from .._flagless import NOT_GIVEN
from .. import backend
from .._warnings import warn
from .._validation import check_choice, check_number
from .base import LAYERS, Layer
from .box_moves import affine_boxes, box_config, take_box_format
from .conv import check_rank
from .data_format import DataFormat, config_entry, set_data_format
from .keras_state import seed_record

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("bilinear", "nearest")


def _factor_pair(factor, caller, name, low=-1.0, high=1.0):
    """Keras' factor: a number f gives (-|f|, |f|), a pair (lower, upper) is sorted; every value
    within [low, high] (finite when that is unbounded)."""
    pair = isinstance(factor, (tuple, list))
    values = list(factor) if pair else [factor]
    if (pair and len(values) != 2) or not all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                                              and low <= v <= high and math.isfinite(v) for v in values):
        where = ("finite numbers" if math.isinf(low) else f"finite numbers >= {low:g}" if math.isinf(high)
                 else f"numbers in [{low:g}, {high:g}]")
        raise ValueError(f"{caller}: {name} must be a number or a pair (lower, upper) of {where}, got {factor!r:.80}")
    if not pair:
        return -abs(float(values[0])), abs(float(values[0]))
    lower, upper = sorted(float(v) for v in values)
    return lower, upper


def keras_number(factor):
    """Keras' config of a factor given as a number f holds the range it drew from, the pair (-f, f);
    that pair as the number f again (so a Keras file's layer reads as the layer Keras was made as),
    anything else as it is."""
    if isinstance(factor, (tuple, list)) and len(factor) == 2 and all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in factor) \
            and factor[0] < 0 and factor[0] == -factor[1]:
        return float(factor[1])
    return factor


def _check_images(layer, sample_shape):
    """``check_rank``, saying what an input one axis short is likely to be (Keras' image layers
    take a single image (H, W, C) unbatched; glassnet's see batches)."""
    try:
        check_rank(layer, sample_shape)
    except ValueError as exc:
        if len(sample_shape) != layer.rank:
            raise
        raise ValueError(f"{exc}: a single image (height, width, channels) takes a batch axis first, x[None] "
                         f"(Keras takes it unbatched; glassnet's layers see batches), and images without a "
                         f"channel axis take one last, x[..., None]") from None


class _RandomImage(DataFormat, Layer):
    """The shared part: images only, the identity outside training (and its gradient too)."""

    rank = 2
    training_default = True     # Keras' call(self, data, training=True): see Layer.training_default
    stacks_lists = True          # called alone on a list of arrays: one array, as Keras' (layers/base.py)
    keras_seeded = True          # Keras' holds a SeedGenerator, which its variables list (not AutoContrast's)

    _moves_boxes = False        # the layers that move bounding boxes say so (layers/box_moves.py)

    def __init__(self, **kwargs):
        take_box_format(self, kwargs)       # Keras' bounding_box_format (refused by the others, by name)
        super().__init__(**kwargs)
        self._active = False
        if self.keras_seeded:
            self.seed_generator = seed_record(self)     # (its state listed as Keras': layers/keras_state.py)

    def build(self, input_shape):
        _check_images(self, tuple(input_shape))
        super().build(input_shape)

    def check_input_shape(self, sample_shape):
        _check_images(self, tuple(sample_shape))    # other image sizes are fine: nothing is built for one

    def __call__(self, x, training=NOT_GIVEN, mask=None):
        if isinstance(x, dict):     # Keras' {"images", "labels", "segmentation_masks"}, on data
            from .segmentation import call_on_dict
            return call_on_dict(self, x, training, mask)
        return super().__call__(x, training=training, mask=mask)

    def forward(self, x, training=False):
        if x.ndim != 4:
            _check_images(self, x.shape[1:])
        self._active = bool(training)
        return self._augment(x) if training else x

    def _transform_masks(self, masks):
        """The segmentation masks (batch, H, W, C) of the last call's images, moved as they were
        (``segmentation.py``): unchanged outside training, else ``_augment_masks``."""
        return self._augment_masks(masks) if self._active else masks

    def _augment_masks(self, masks):
        return masks             # a pixel-value layer (brightness, hue, blur...) moves no pixel

    def _transform_labels(self, labels, n):
        return labels            # but for the mixing layers, labels pass through (Keras')

    def _move_xyxy(self, boxes, in_size, out_size):
        """The dict form's "xyxy" boxes (batch, N, 4) moved as the last call's pixels (box_moves.py):
        None (nothing moved) outside training, else ``_move_boxes``."""
        return self._move_boxes(boxes, in_size) if self._active else None

    def _move_boxes(self, boxes, size):
        return None              # a pixel-value layer (brightness, hue, blur...) moves no pixel

    def get_config(self):
        config = {**super().get_config(), **config_entry(self), **box_config(self)}
        if self.seed is not None:        # a layer of its own stream draws the same from its config
            config["seed"] = self.seed
        return config

    def backward(self, grad_output):
        if not self.needs_input_gradient:        # the usual place: a model's first layer
            return None
        return self._augment_backward(grad_output) if self._active else grad_output

    def _uniform(self, lower, upper, n):
        """n draws from U[lower, upper), float64, from the layer's generator."""
        return self._generator().uniform(lower, upper, n)


del LAYERS["_RandomImage"]     # a shared base, not a layer a config may name


class RandomFlip(_RandomImage):
    """Flip each image left-right (``mode="horizontal"``), upside down (``"vertical"``) or each of
    the two on its own draw (``"horizontal_and_vertical"``, the default), with probability 1/2.

    Keras 3 decides both flips of ``horizontal_and_vertical`` with one draw (an image is flipped
    both ways or not at all); glassnet draws each axis on its own, as Keras 2 did and as
    torchvision's two flips do: the four outcomes are equally likely.

    Example
    -------
    >>> layer = RandomFlip("horizontal", seed=0)
    >>> images = np.arange(8.0).reshape(4, 1, 2, 1)
    >>> sorted(layer(images, training=True)[:, 0, :, 0].tolist()) != sorted(images[:, 0, :, 0].tolist())
    True
    """

    MODES = ("horizontal", "vertical", "horizontal_and_vertical")
    _moves_boxes = True

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        check_choice(mode, "RandomFlip: mode", self.MODES)
        self.mode = mode

    def _augment(self, x):
        n = x.shape[0]
        # axis 2 (width) for horizontal, axis 1 (height) for vertical: a boolean per image each
        self._flips = [(axis, self._generator().random(n) < 0.5) for axis, word in ((2, "horizontal"), (1, "vertical"))
                       if word in self.mode]
        return self._flip(x)

    def _flip(self, x):
        out = x.copy()
        for axis, chosen in self._flips:
            out[chosen] = np.flip(out[chosen], axis=axis)
        return out

    _augment_backward = _flip          # a flip is its own inverse and its own transpose
    _augment_masks = _flip             # the same images' flips

    def _move_boxes(self, boxes, size):
        # "xyxy" boxes of the flipped images: x -> width - x (its two ends swapped), y likewise
        out = boxes.copy()
        for axis, chosen in self._flips:
            low, high, length = (0, 2, size[1]) if axis == 2 else (1, 3, size[0])
            first, last = out[chosen, :, low], out[chosen, :, high]
            out[chosen, :, low], out[chosen, :, high] = length - last, length - first
        return out

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def check_fill_value(layer):
    """Refuse a ``fill_value`` beyond the range of the layer's dtype (1e39 in float32 is inf, and
    inf times a weight of 0 made NaN pixels well inside the images)."""
    with np.errstate(over="ignore"):
        fill = np.asarray(layer.fill_value, dtype=np.float64).astype(layer.dtype)
    if not np.isfinite(fill):
        raise ValueError(f"{layer.describe()}: fill_value={layer.fill_value!r} is beyond the range of its dtype "
                         f"{np.dtype(layer.dtype).name}")


class _AffineImage(_RandomImage):
    """Translation, rotation, zoom and shear (and RandomPerspective's projective warp): a matrix per
    image, then one sampling."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0, **kwargs):
        super().__init__(seed=seed, **kwargs)
        cls = type(self).__name__
        check_choice(fill_mode, f"{cls}: fill_mode", FILL_MODES)
        check_choice(interpolation, f"{cls}: interpolation", INTERPOLATIONS)
        self.fill_mode, self.interpolation = fill_mode, interpolation
        self.fill_value = check_number(fill_value, f"{cls}: fill_value", "finite")

    def build(self, input_shape):
        check_fill_value(self)
        super().build(input_shape)

    def _matrices(self, n, height, width):
        """(n, 6) rows ``a0 a1 a2 b0 b1 b2``: output (x, y) reads input (a0 x + a1 y + a2, b0 x + b1 y + b2);
        or (n, 8) rows ``a0 a1 a2 b0 b1 b2 c0 c1``, a projective one: both divided by c0 x + c1 y + 1."""
        raise NotImplementedError

    def _augment(self, x):
        n, h, w, c = x.shape
        matrices = self._matrices(n, h, w)
        self._geometry = (matrices, x.dtype)        # for the masks of the same call, if any come
        sampling = _sampling(matrices, h, w, self.fill_mode, self.interpolation, x.dtype)
        # drawn and laid out on the host, applied where the images are (a GPU's for a CuPy model)
        sampling = tuple(None if a is None else _where(x, a) for a in sampling)
        # kept for backward only where one will come: first in a model, nobody asks (216 bytes a pixel)
        self._sampling = sampling if self.needs_input_gradient else None
        return affine_sample(x, sampling, self.fill_value)

    def _augment_backward(self, grad_output):
        return affine_sample_backward(grad_output, self._sampling)

    def _check_dict(self, labels, masks, n, training):
        # a fill the masks read ("constant") that their dtype cannot hold: refused before the draws
        if masks is not None and training and self.fill_mode == "constant":
            from .segmentation import check_mask_fill
            check_mask_fill(self, masks)

    def _move_boxes(self, boxes, size):
        # each box's corners through the inverse of its image's matrix (box_moves.py)
        return affine_boxes(boxes, self._geometry[0])

    def _augment_masks(self, masks):
        # Keras': the images' matrices, fill_mode and fill_value, sampled "nearest" (coordinates in
        # the images' dtype, so that images sampled "nearest" read the very pixels the masks read)
        from .segmentation import nearest_sample
        matrices, dtype = self._geometry
        n, h, w, _ = masks.shape
        sampling = _sampling(matrices, h, w, self.fill_mode, "nearest", dtype)
        return nearest_sample(masks, tuple(None if a is None else _where(masks, a) for a in sampling),
                              self.fill_value)

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode, "interpolation": self.interpolation,
                "fill_value": self.fill_value}


del LAYERS["_AffineImage"]     # a shared base, not a layer a config may name


def _where(x, a):
    """``a``, drawn on the host, in the module of the images ``x`` (copied to a GPU for CuPy ones)."""
    return backend.get_array_module(x).asarray(a)


def _map_coordinates(coord, length, fill_mode):
    """TensorFlow's MapCoordinate: input coordinates (any float) brought into the image by
    ``fill_mode``; "constant" leaves them where they are (outside reads ``fill_value``)."""
    if fill_mode == "constant":
        return coord
    if length <= 1:
        return np.zeros_like(coord)
    c = coord
    if fill_mode == "reflect":             # d c b a | a b c d | d c b a, period 2 * length
        # TensorFlow's two branches (below 0, past the end) are one modulo: within a period, the
        # second half runs backwards (whole arrays, no masks: 5x faster on a batch of images)
        period = 2 * length
        c = np.mod(c, period)
        c = np.where(c >= length, period - 1 - c, c)
    elif fill_mode == "wrap":              # a b c d | a b c d | a b c d (TensorFlow's arithmetic)
        low, high = c < 0, c > length - 1
        c = coord.copy()
        c[low] += length * (np.trunc(-c[low] / (length - 1)) + 1)
        c[high] -= length * np.trunc(c[high] / (length - 1))
    return np.clip(c, 0, length - 1)        # "nearest" is this clamp alone


def _sampling(matrices, height, width, fill_mode, interpolation, dtype=np.float64):
    """For every output pixel of n images, the input pixels it reads and their weights:
    ``(index, weight, outside)``; ``index`` and ``weight`` (K, n * H * W) for K = 4 neighbours
    (bilinear) or 1, ``index`` flat into the n * H * W input pixels; ``outside`` (n * H * W,) the
    weight each output gives ``fill_value`` ("constant", and the pixels of a projective matrix
    whose k is 0 or, but for "nearest", whose point lies beyond int64's range; None when no point
    lies outside).
    ``matrices``: (n, 6) affine or (n, 8) projective rows (see ``_AffineImage._matrices``).
    Computed in ``dtype``: float32 images are sampled in float32, as TensorFlow samples them."""
    rows, cols = np.arange(height, dtype=dtype)[:, None], np.arange(width, dtype=dtype)[None, :]
    a0, a1, a2, b0, b1, b2 = (matrices[:, i, None, None].astype(dtype) for i in range(6))
    x, y = a0 * cols + a1 * rows + a2, b0 * cols + b1 * rows + b2        # (n, H, W)
    lost = None
    if matrices.shape[1] == 8:
        # TensorFlow's order: k = (c0 x + c1 y) + 1, then each coordinate divided by it (an affine
        # row, c0 = c1 = 0, divides by exactly 1: the same bits as without the division)
        c0, c1 = (matrices[:, i, None, None].astype(dtype) for i in (6, 7))
        k = c0 * cols + c1 * rows + 1
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            x, y = x / k, y / k
        # k = 0 (the horizon): TensorFlow gives fill_value whatever the fill_mode; a point beyond
        # int64's range (k tiny) too, where TensorFlow's integer cast is undefined (and NumPy's);
        # "nearest" casts nothing before its clamp: TensorFlow reads the edge pixel there, as here
        if fill_mode == "nearest":
            lost = (k == 0) | np.isnan(x) | np.isnan(y)
        else:
            far = 2.0 ** 62
            lost = (k == 0) | ~(np.abs(x) < far) | ~(np.abs(y) < far)
        if lost.any():
            x[lost], y[lost] = 0, 0          # read pixel 0 with weight 0, below
            lost = lost.ravel()
        else:
            lost = None
    index, weight, outside = _neighbours(x, y, height, width, fill_mode, interpolation, dtype)
    if lost is not None:
        weight[:, lost] = 0
        if outside is None:
            outside = lost.astype(dtype)
        else:
            outside[lost] = 1
    return index, weight, outside


def _neighbours(x, y, height, width, fill_mode, interpolation, dtype):
    """``_sampling``'s second half: the input points (x, y) (n, H, W), mapped by ``fill_mode``,
    as flat indices and weights of the pixels they read."""
    n = x.shape[0]
    x = _map_coordinates(x, width, fill_mode)
    y = _map_coordinates(y, height, fill_mode)
    if interpolation == "nearest":
        # std::round: halves away from zero (NumPy's round goes to even)
        points = [(np.copysign(np.floor(np.abs(y) + 0.5), y), np.copysign(np.floor(np.abs(x) + 0.5), x), None)]
    else:
        y0, x0 = np.floor(y), np.floor(x)
        dy, dx = y - y0, x - x0
        points = [(y0, x0, (1 - dy) * (1 - dx)), (y0, x0 + 1, (1 - dy) * dx),
                  (y0 + 1, x0, dy * (1 - dx)), (y0 + 1, x0 + 1, dy * dx)]
    first_pixel = (np.arange(n) * (height * width))[:, None, None]
    index = np.empty((len(points), n * height * width), dtype=np.intp)
    weight = np.empty(index.shape, dtype=dtype)
    if fill_mode != "constant":
        # mapped into [0, len - 1], each point inside; the next row or column reaches len only
        # from len - 1 exactly, where its weight is 0: it reads the pixel itself instead
        r, c = points[0][0].astype(np.intp), points[0][1].astype(np.intp)
        index[0] = (first_pixel + r * width + c).ravel()
        if len(points) == 4:
            next_column, next_row = (c < width - 1).ravel(), ((r < height - 1) * width).ravel()
            np.add(index[0], next_column, out=index[1])
            np.add(index[0], next_row, out=index[2])
            np.add(index[2], next_column, out=index[3])
        for k, (_, _, w) in enumerate(points):
            weight[k] = 1 if w is None else w.ravel()
        return index, weight, None
    outside = np.zeros(index.shape[1], dtype=dtype)
    for k, (r, c, w) in enumerate(points):      # a neighbour outside reads fill_value, with its weight
        inside = ((r >= 0) & (r < height) & (c >= 0) & (c < width)).ravel()
        w = np.ones(index.shape[1], dtype=dtype) if w is None else w.ravel()
        outside += w * ~inside
        weight[k] = w * inside
        flat = first_pixel + np.where(r >= 0, r, 0).astype(np.intp) * width + np.where(c >= 0, c, 0).astype(np.intp)
        index[k] = np.where(inside, flat.ravel(), 0)
    return index, weight, outside


def affine_sample(x, sampling, fill_value=0.0):
    """The images ``x`` (n, H, W, C) read through ``sampling`` (from ``_sampling``): each output
    pixel the weighted sum of the input pixels it reads, ``fill_value`` for those outside."""
    index, weight, outside = sampling
    # the number of pixels named, not -1: NumPy cannot infer it for images of no channels
    pixels = x.reshape(index.shape[1], x.shape[-1])
    if not np.isfinite(pixels).all():
        # a zero weight stands for a neighbour not read at all (outside, or past the last row):
        # 0 * inf would be NaN where TensorFlow gives the pixel's own inf, or the fill value
        with np.errstate(invalid="ignore"):
            terms = [np.where(weight[k][:, None] != 0, weight[k][:, None] * pixels[index[k]], 0)
                     for k in range(index.shape[0])]
        out = sum(terms[1:], terms[0])
    else:
        out = weight[0][:, None] * pixels[index[0]]
        for k in range(1, index.shape[0]):
            out += weight[k][:, None] * pixels[index[k]]
    if outside is not None and fill_value:
        out += x.dtype.type(fill_value) * outside[:, None]
    return out.reshape(x.shape)


def affine_sample_backward(grad_output, sampling):
    """The transpose of ``affine_sample``: each output pixel's gradient added back onto the input
    pixels it read, with the weights it read them by (the fill value is a constant: no gradient)."""
    index, weight, _ = sampling
    n_pixels, channels = index.shape[1], grad_output.shape[-1]
    g = grad_output.reshape(n_pixels, channels)
    xp = backend.get_array_module(grad_output)
    grad = xp.zeros(n_pixels * channels)
    for k in range(index.shape[0]):
        # index[k] alone for one channel only: no channels read nothing (and have no weights)
        flat = (index[k][:, None] * channels + xp.arange(channels)).ravel() if channels != 1 else index[k]
        grad += xp.bincount(flat, weights=(weight[k][:, None] * g).ravel(), minlength=grad.size)
    return grad.astype(grad_output.dtype).reshape(grad_output.shape)


class RandomTranslation(_AffineImage):
    """Shift each image by a random fraction of its height and width: ``height_factor`` and
    ``width_factor`` a number f (a shift in [-f, f]) or a pair (lower, upper), in [-1, 1]; positive
    values move the content down and right. ``fill_mode`` ("reflect", Keras' default, "wrap",
    "constant", "nearest"), ``interpolation`` ("bilinear" or "nearest") and ``fill_value`` (for
    "constant") say how pixels from outside the image are made (see the module docstring).

    Example
    -------
    >>> layer = RandomTranslation((0.5, 0.5), 0.0, fill_mode="constant", seed=0)
    >>> layer(np.ones((1, 4, 1, 1)), training=True)[0, :, 0, 0].tolist()
    [0.0, 0.0, 1.0, 1.0]
    """

    _moves_boxes = True

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        self.height_factor = _factor_pair(height_factor, "RandomTranslation", "height_factor")
        self.width_factor = _factor_pair(width_factor, "RandomTranslation", "width_factor")

    def _matrices(self, n, height, width):
        dy = self._uniform(*self.height_factor, n) * height
        dx = self._uniform(*self.width_factor, n) * width
        one, zero = np.ones(n), np.zeros(n)
        return np.stack([one, zero, -dx, zero, one, -dy], axis=1)

    def get_config(self):
        return {**super().get_config(), "height_factor": list(self.height_factor),
                "width_factor": list(self.width_factor)}


class RandomRotation(_AffineImage):
    """Rotate each image about its centre by a random fraction of a full turn: ``factor`` a number f
    (an angle in [-f, f] x 360 degrees) or a pair (lower, upper), within [-1, 1] (Keras 3.15's);
    positive is counter-clockwise.
    ``RandomRotation(0.1)`` turns by up to 36 degrees either way. ``fill_mode``, ``interpolation``
    and ``fill_value`` as for ``RandomTranslation``.

    Example
    -------
    >>> layer = RandomRotation((0.25, 0.25), seed=0)          # a quarter turn, counter-clockwise
    >>> layer(np.arange(4.0).reshape(1, 2, 2, 1), training=True)[0, :, :, 0].round(6).tolist()
    [[1.0, 3.0], [0.0, 2.0]]
    """

    _moves_boxes = True

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        # within [-1, 1] (a full turn either way), as Keras 3.15 refuses others: a file's factor of
        # 1e308 loaded, then the first training pass failed drawing the angle (NumPy's OverflowError,
        # "high - low range exceeds valid bounds"), which model(x) makes (the layer's training default)
        self.factor = _factor_pair(factor, "RandomRotation", "factor")

    def _matrices(self, n, height, width):
        angle = np.deg2rad(self._uniform(self.factor[0] * 360.0, self.factor[1] * 360.0, n))
        cos, sin = np.cos(angle), np.sin(angle)
        cx, cy = 0.5 * (width - 1), 0.5 * (height - 1)
        # Keras' matrix: the rotation about the centre (cx, cy)
        return np.stack([cos, -sin, cx - cx * cos + cy * sin, sin, cos, cy - cx * sin - cy * cos], axis=1)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}


class RandomZoom(_AffineImage):
    """Zoom each image about its centre by a random amount: ``height_factor`` a number f or a pair
    (lower, upper) in (-1, 1]; the image is stretched by 1 / (1 + value), so positive values zoom
    out (the content shrinks) and negative ones zoom in. ``width_factor``: the same for the width,
    or None (the default) to zoom both axes by the height's draw, keeping the aspect ratio.
    ``fill_mode``, ``interpolation`` and ``fill_value`` as for ``RandomTranslation``.

    Example
    -------
    >>> layer = RandomZoom((-0.5, -0.5), seed=0)              # twice as large: the centre fills it
    >>> layer(np.arange(16.0).reshape(1, 4, 4, 1), training=True)[0, :, :, 0][1].tolist()
    [5.75, 6.25, 6.75, 7.25]
    """

    _moves_boxes = True

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        self.height_factor = _zoom_pair(height_factor, "height_factor")
        self.width_factor = None if width_factor is None else _zoom_pair(width_factor, "width_factor")

    def _matrices(self, n, height, width):
        zy = 1.0 + self._uniform(*self.height_factor, n)
        zx = zy if self.width_factor is None else 1.0 + self._uniform(*self.width_factor, n)
        zero = np.zeros(n)
        return np.stack([zx, zero, (width - 1) / 2 * (1 - zx), zero, zy, (height - 1) / 2 * (1 - zy)], axis=1)

    def get_config(self):
        return {**super().get_config(), "height_factor": list(self.height_factor),
                "width_factor": None if self.width_factor is None else list(self.width_factor)}


def _zoom_pair(factor, name):
    pair = _factor_pair(factor, "RandomZoom", name)
    if pair[0] <= -1:                     # a zoom of 1 + (-1) = 0 would read one point for every pixel
        raise ValueError(f"RandomZoom: {name} {factor!r:.80} gives zooms of 1 + {pair[0]:g} and up; the lower "
                         f"end must be > -1 (a zoom of 0 reads one point for every pixel)")
    return pair


class RandomShear(_AffineImage):
    """Shear each image by a random amount: output pixel (x, y) reads input ``(x + sx y, y + sy x)``,
    about the top-left corner (Keras' matrix), so a shear ``sx`` moves row y sideways by ``sx y``
    pixels. ``x_factor`` and ``y_factor``: a number f in [0, 1] draws the shear from [-f, f], a
    pair (lower, upper) within [0, 1] draws its size from that range; each image then flips the
    sign of both with probability 1/2 (Keras' one ``invert`` per image). So a pair's two shears
    always share a sign, while a number's sign is independent of the other axis' (Keras 3.15's
    code, which reads a number f as (-f, f) against its documentation's (0, f): the two readings
    give the same sizes, but not the same pairs (sx, sy), half of Keras' having opposite signs).
    The defaults (0, 0) shear nothing. ``fill_mode``, ``interpolation`` and ``fill_value`` as for
    ``RandomTranslation``; the shears drawn by the last training call are kept in ``_drawn``.

    Example
    -------
    >>> layer = RandomShear(x_factor=(0.5, 0.5), fill_mode="constant", seed=0)
    >>> out = layer(np.ones((1, 3, 3, 1)), training=True)[0, :, :, 0]
    >>> out[0].tolist(), float(out[2].sum())                  # row 0 stays, row 2 moves one pixel
    ([1.0, 1.0, 1.0], 2.0)
    """

    _moves_boxes = True

    def __init__(self, x_factor=0.0, y_factor=0.0, interpolation="bilinear", fill_mode="reflect", fill_value=0.0,
                 data_format=None, seed=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        # Keras' reading: a number f is (-f, f), a pair (lower, upper) within [0, 1] is sorted
        # (Keras' config of a number f says (-f, f), which Keras 3.15 itself then refuses: read as f)
        self.x_factor = _factor_pair(keras_number(x_factor), "RandomShear", "x_factor", 0.0, 1.0)
        self.y_factor = _factor_pair(keras_number(y_factor), "RandomShear", "y_factor", 0.0, 1.0)

    def _matrices(self, n, height, width):
        sx, sy = self._uniform(*self.x_factor, n), self._uniform(*self.y_factor, n)
        sign = np.where(self._uniform(0.0, 1.0, n) > 0.5, -1.0, 1.0)       # Keras' invert, one per image
        self._drawn = {"shear_factor": np.stack([sx * sign, sy * sign], axis=1)}
        one, zero = np.ones(n), np.zeros(n)
        return np.stack([one, sx * sign, zero, sy * sign, one, zero], axis=1)

    def get_config(self):
        # a number's (-f, f) goes back as the number f (a pair within [0, 1] could not hold it)
        return {**super().get_config(), **{name: pair[1] if pair[0] < 0 else list(pair) for name, pair in
                                           (("x_factor", self.x_factor), ("y_factor", self.y_factor))}}


def _unsigned_pair(factor, caller, name, high=1.0):
    """A range within [0, high]: a number f is (0, f) (Keras' reading for the probabilities and
    strengths of blur, erasing, perspective and the colour layers), a pair (lower, upper) is sorted."""
    lower, upper = _factor_pair(factor, caller, name, 0.0, high)
    return (0.0, upper) if not isinstance(factor, (tuple, list)) else (lower, upper)


class _RandomIntensity(_RandomImage):
    """Contrast and brightness: a value per image, then a clip to ``value_range``."""

    _moves_boxes = True          # pixel values only: boxes pass as they are (Keras')
    _range_effect = "to which training clips them (and inference does not)"     # said by _check_range

    def __init__(self, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        cls = type(self).__name__
        self._range_checked = False
        if (not isinstance(value_range, (tuple, list)) or len(value_range) != 2
                or not all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                           and math.isfinite(v) for v in value_range) or value_range[0] == value_range[1]):
            raise ValueError(f"{cls}: value_range must be a pair (low, high) of distinct finite numbers, "
                             f"the range of the images' values (0, 255 by default, Keras'), got {value_range!r:.80}")
        self.value_range = sorted(float(v) for v in value_range)

    def _check_range(self, x):
        """Warn, once, about training images outside ``value_range``: the clip would change them in
        training only (pixels in [0, 1] against the default (0, 255), standardised data below 0)."""
        if self._range_checked or x.size == 0:
            return
        low, high = float(x.min()), float(x.max())
        if low < self.value_range[0] or high > self.value_range[1]:
            self._range_checked = True          # every training batch is looked at, until one warns
            warn(f"{self.describe()}: the images' values span [{low:.3g}, {high:.3g}], outside its "
                 f"value_range {tuple(self.value_range)}, {self._range_effect}: give the range "
                 f"of the data, value_range=(low, high)")

    def _clip(self, out):
        self._kept = (out >= self.value_range[0]) & (out <= self.value_range[1])   # where the gradient passes
        return np.clip(out, *self.value_range, out=out)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "value_range": list(self.value_range)}


del LAYERS["_RandomIntensity"]     # a shared base, not a layer a config may name


class RandomContrast(_RandomIntensity):
    """Scale each image's deviations from its mean (per channel) by a random factor in
    [1 - lower, 1 + upper], ``factor`` a number f in [0, 1] (both f) or a pair (lower, upper), then
    clip to ``value_range``: ``(x - mean) * c + mean``.

    Keras 3.15 reads a single number f as [1, 1 + f] (its ``_set_factor`` clips the lower end at
    0), against its own documentation; glassnet follows the documentation, [1 - f, 1 + f], as Keras
    2 and torchvision's ``ColorJitter`` do.

    Example
    -------
    >>> layer = RandomContrast((0.5, 0.5), value_range=(0, 1), seed=0)
    >>> float(abs(layer(np.array([[[[0.2]], [[0.8]]]]), training=True) - 0.5).max()) <= 0.45
    True
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(value_range, seed, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        # (lower, upper): how far below and above 1 the factor may go; a number is both
        lower, upper = _factor_pair(factor, "RandomContrast", "factor", 0.0, 1.0)
        self.factor = (upper, upper) if not isinstance(factor, (tuple, list)) else (lower, upper)

    def _augment(self, x):
        self._check_range(x)
        n = x.shape[0]
        contrast = self._uniform(1.0 - self.factor[0], 1.0 + self.factor[1], n).astype(x.dtype)[:, None, None, None]
        self._drawn = {"contrast_factor": contrast.ravel()}           # Keras' name for it
        self._contrast = _where(x, contrast)
        mean = x.mean(axis=(1, 2), keepdims=True)
        return self._clip((x - mean) * self._contrast + mean)

    def _augment_backward(self, grad_output):
        # out = (x - mean) c + mean: d/dx = c, plus (1 - c) / (H W) through the mean, where unclipped
        g = grad_output * self._kept
        h, w = g.shape[1:3]
        return g * self._contrast + g.sum(axis=(1, 2), keepdims=True) * ((1 - self._contrast) / (h * w))


class RandomBrightness(_RandomIntensity):
    """Add to each image a random fraction of ``value_range``'s width, ``factor`` a number f in
    [0, 1] (a fraction in [-f, f]) or a pair (lower, upper) in [-1, 1], then clip to ``value_range``.

    Example
    -------
    >>> layer = RandomBrightness((0.5, 0.5), value_range=(0, 1), seed=0)
    >>> layer(np.array([[[[0.2]], [[0.8]]]]), training=True)[0, :, 0, 0].astype(float).round(6).tolist()
    [0.7, 1.0]
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(value_range, seed, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        self.factor = _factor_pair(factor, "RandomBrightness", "factor")

    def _augment(self, x):
        self._check_range(x)
        delta = self._uniform(*self.factor, x.shape[0]) * (self.value_range[1] - self.value_range[0])
        self._drawn = {"rgb_delta": delta}                             # Keras' name for it
        return self._clip(x + _where(x, delta.astype(x.dtype)[:, None, None, None]))

    def _augment_backward(self, grad_output):
        return grad_output * self._kept
