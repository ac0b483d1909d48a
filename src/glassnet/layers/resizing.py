"""Resizing, CenterCrop and RandomCrop: Keras' image preprocessing layers that give images another
size; and the resize they share with ``UpSampling2D``'s interpolations.

A resize is linear in the image and separable: each output row is a weighted mix of input rows
(``bilinear_weights``, one row for ``nearest_weights``, or glassnet.layers.resample's bicubic,
area and kernel weights), each output column one of input columns: two weight matrices, its
gradient their transposes (TensorFlow's resize, what Keras runs on its default backend: half-pixel
centres, antialiasing only when asked). Each output reads only the few input pixels under the
kernel (2 for bilinear, up to 11 for lanczos5, times the downsizing factor with antialias), so the
matrices are applied as bands (glassnet.layers.banded): a loop over those taps, each a gather and
a multiply-add over the image, O(output pixels x taps) work and O(output length x taps) weights per
axis, where the dense matrices cost O(n^2) memory and O(n^3) work for an n x n image; small images
still go through one dense matrix product, which is faster there.
An image holding inf or NaN is resized tap by tap, its zero weights skipped: a matrix product
would meet the bad pixel with every zero weight of its row (0 * inf = NaN), where TensorFlow reads
only the pixels under its kernel. Not bit for bit:
TensorFlow also multiplies the taps of zero weight under its kernel (a lerp fraction of 0, a cubic
or lanczos tap at a whole distance), 0 * inf = NaN, where glassnet skips them; so glassnet's
non-finite outputs are some of TensorFlow's (an inf where TensorFlow may give NaN), and its finite
outputs equal TensorFlow's where TensorFlow's are finite.

The three take Keras' ``data_format``: "channels_first" images (batch, C, H, W) run the same code on
the channel axis moved last and back (layers/data_format.py), RandomCrop's draws the same.
"""
import numpy as np

from .._flagless import NOT_GIVEN
from .. import backend
from .._validation import check_choice, check_flag, check_number
from .augmentation import _check_images, check_fill_value
from .._bounds import check_sample_values
from .banded import Band
from .base import LAYERS, Layer
from .box_moves import box_config, resize_boxes, take_box_format, window_boxes
from .conv import positive_int
from .data_format import DataFormat, config_entry, set_data_format
from .keras_state import seed_record
from .resample import interpolation_taps, weight_matrix

# Keras 3.15's resize on TensorFlow (keras.src.backend.tensorflow.image.RESIZE_INTERPOLATIONS): what
# Resizing, smart_resize and ops.image.resize take
INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5")
# and what image_dataset_from_directory takes, calling tf.image.resize itself
FOLDER_INTERPOLATIONS = INTERPOLATIONS + ("gaussian", "mitchellcubic")


def bilinear_weights(out_len, in_len, float32=False):
    """(out_len, in_len) weights of a bilinear resize along one axis (``bilinear_taps``).

    >>> bilinear_weights(4, 2).tolist()
    [[1.0, 0.0], [0.75, 0.25], [0.25, 0.75], [0.0, 1.0]]
    """
    return weight_matrix(out_len, in_len, bilinear_taps(out_len, in_len, float32))


def bilinear_taps(out_len, in_len, float32=False):
    """Taps (indices, weights), each (out_len, 2), of a bilinear resize along one axis, TensorFlow's
    (half-pixel centres): output position o reads input position
    ``(o + 0.5) * in_len / out_len - 0.5``, between its two neighbours, the edge pixel beyond the
    edges. ``float32``: that position computed in float32, as TensorFlow computes it (Resizing
    matches it so to 1e-6 after large zooms; PyTorch computes it in the tensor's dtype, as
    UpSampling2D does)."""
    dtype = np.float32 if float32 else np.float64
    scale = dtype(in_len) / dtype(out_len)
    position = (np.arange(out_len, dtype=dtype) + dtype(0.5)) * scale - dtype(0.5)
    below = np.floor(position)
    lerp = (position - below).astype(np.float64)
    indices = below.astype(int)[:, None] + np.arange(2)       # clipped to the edges by their readers
    return indices, np.stack([1 - lerp, lerp], axis=1)


def nearest_weights(out_len, in_len):
    """(out_len, in_len) 0/1 weights of a nearest-neighbour resize along one axis (``nearest_taps``).

    >>> nearest_weights(3, 2).tolist()
    [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]
    """
    return weight_matrix(out_len, in_len, nearest_taps(out_len, in_len))


def nearest_taps(out_len, in_len):
    """Taps (indices, weights), each (out_len, 1), of a nearest-neighbour resize along one axis,
    TensorFlow's: output position o reads input ``floor((o + 0.5) * in_len / out_len)``, weight 1."""
    # in float32, as TensorFlow computes it: 5.5 * 26 / 11 is 13 exactly, but 12.99999 there
    scale = np.float32(in_len) / np.float32(out_len)
    source = np.minimum(np.floor((np.arange(out_len, dtype=np.float32) + np.float32(0.5)) * scale).astype(int), in_len - 1)
    return source[:, None], np.ones((out_len, 1))


def axis_taps(interpolation, out_len, in_len, antialias=False):
    """Taps (indices, weights), each (out_len, t), of ``tf.image.resize(method=interpolation,
    antialias=antialias)`` along one axis (any name of ``FOLDER_INTERPOLATIONS``). "nearest" and
    "area" are never antialiased (TensorFlow ignores the flag for them), "bilinear" with it is a
    wider tent."""
    if interpolation == "nearest":
        return nearest_taps(out_len, in_len)
    if interpolation == "bilinear" and not antialias:
        return bilinear_taps(out_len, in_len, float32=True)
    return interpolation_taps(interpolation, out_len, in_len, antialias)


def axis_weights(interpolation, out_len, in_len, antialias=False):
    """(out_len, in_len) weights of ``tf.image.resize(method=interpolation, antialias=antialias)``
    along one axis (``axis_taps`` laid out as a matrix: what ``axis_band`` holds as a band).

    >>> axis_weights("area", 2, 4).tolist()
    [[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]]
    """
    return weight_matrix(out_len, in_len, axis_taps(interpolation, out_len, in_len, antialias))


def axis_band(interpolation, out_len, in_len, antialias=False):
    """``axis_weights`` as a ``Band`` (glassnet.layers.banded): only its taps, O(out_len x taps)."""
    return Band.from_taps(out_len, in_len, axis_taps(interpolation, out_len, in_len, antialias))


def _aspect_box(height, width, target_height, target_width, crop):
    """TensorFlow's box of the target's aspect ratio around the image's centre: for ``crop``
    ``(top, kept height, left, kept width)`` inside the image, else the rows and columns of fill
    added on each side ``(top, left)`` (the same number on both sides)."""
    if crop:
        kept_h = max(min(height, int(np.float32(width * target_height) / np.float32(target_width))), 1)
        kept_w = max(min(width, int(np.float32(height * target_width) / np.float32(target_height))), 1)
        return int((height - kept_h) / 2), kept_h, int((width - kept_w) / 2), kept_w
    padded_h = max(height, int(np.float32(width * target_height) / np.float32(target_width)))
    padded_w = max(width, int(np.float32(height * target_width) / np.float32(target_height)))
    return int((padded_h - height) / 2), int((padded_w - width) / 2)


def _crop_or_pad(x, height, width, crop, pad, fill_value):
    """``resize``'s first step: images x (n, h, w, c) cut or padded (``fill_value``) to the
    target's aspect ratio when asked; and the box (None when neither is asked)."""
    n, h, w, c = x.shape
    box = None
    if crop:
        top, h, left, w = box = _aspect_box(h, w, height, width, crop=True)
        x = x[:, top:top + h, left:left + w, :]
    elif pad:
        top, left = box = _aspect_box(h, w, height, width, crop=False)
        if top or left:
            padded = backend.get_array_module(x).full((n, h + 2 * top, w + 2 * left, c), fill_value, dtype=x.dtype)
            padded[:, top:top + h, left:left + w, :] = x
            x = padded
    return x, box


def resize_masks(masks, height, width, crop=False, pad=False, fill_value=0.0):
    """Segmentation masks (n, h, w, c) resized as ``resize`` resizes images, "nearest" (Keras'
    Resizing resizes masks so), as a gather: their own dtype and values, class ids kept whole."""
    masks, _ = _crop_or_pad(masks, height, width, crop, pad, np.asarray(fill_value).astype(masks.dtype).item())
    xp = backend.get_array_module(masks)
    rows = xp.asarray(nearest_taps(height, masks.shape[1])[0][:, 0])       # each output's one source
    columns = xp.asarray(nearest_taps(width, masks.shape[2])[0][:, 0])
    return masks[:, rows][:, :, columns]


def resize(x, height, width, interpolation="bilinear", crop=False, pad=False, fill_value=0.0, antialias=False):
    """Images x (n, h, w, c) resized to (n, height, width, c), after a crop or a pad to the target's
    aspect ratio when asked (Keras' ``ops.image.resize``); ``interpolation`` any name of
    ``FOLDER_INTERPOLATIONS``, ``antialias`` TensorFlow's (a kernel widened when downsampling).
    Returns the images and the cache that ``resize_backward`` takes."""
    x, box = _crop_or_pad(x, height, width, crop, pad, fill_value)
    h, w = x.shape[1:3]
    # the bands, made on the host in float64, are cast to x's dtype and moved where the images are
    # (a GPU's for a CuPy model) as they are applied
    rows = axis_band(interpolation, height, h, antialias)
    columns = axis_band(interpolation, width, w, antialias)
    return columns.apply(rows.apply(x, 1), 2), (box, crop, rows, columns)


def resize_backward(grad, cache, in_shape):
    """The gradient of ``resize``'s input (``in_shape``) from its output's: the transposed weights,
    in the other order, then nothing for the crop's lost edges and the pad's fill."""
    box, crop, rows, columns = cache
    grad = rows.T.apply(columns.T.apply(grad, 2), 1)
    if box is None or not any(box):
        return grad
    if crop:
        top, kept_h, left, kept_w = box
        full = backend.get_array_module(grad).zeros(in_shape, dtype=grad.dtype)
        full[:, top:top + kept_h, left:left + kept_w, :] = grad
        return full
    top, left = box
    return grad[:, top:top + in_shape[1], left:left + in_shape[2], :]


def _where_masks(masks, a):
    """An index array made on the host, in the masks' module (a GPU's for CuPy masks)."""
    return backend.get_array_module(masks).asarray(a)


class _Images(DataFormat, Layer):
    """What the three share: images in, images of the layer's ``height`` x ``width`` out."""
    rank = 2            # images: (height, width, channels) samples
    training_default = True     # Keras' call(self, data, training=True): see Layer.training_default
    stacks_lists = True          # called alone on a list of arrays: one array, as Keras' (layers/base.py)

    shape_arguments = ('height', 'width')        # named when its output is too large (glassnet._bounds)
    _moves_boxes = True          # the dict form's bounding boxes go with the pixels (box_moves.py)

    def __init__(self, height, width, **kwargs):
        take_box_format(self, kwargs)       # Keras' bounding_box_format
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.height, self.width = positive_int(height, "height", cls), positive_int(width, "width", cls)

    def _crops(self, sample_shape):
        """Whether a window of the layer's size fits in an image of ``sample_shape``."""
        return sample_shape[0] >= self.height and sample_shape[1] >= self.width

    def output_shape(self, input_shape):
        self.check_input_shape(input_shape)
        return self.height, self.width, input_shape[-1]

    def check_input_shape(self, sample_shape):
        # any size comes in (the layer's size goes out), but an empty one cannot be resized; a single
        # image (H, W, C), which Keras' layers take unbatched, is told to take a batch axis (x[None])
        _check_images(self, tuple(sample_shape))
        if 0 in tuple(sample_shape):
            raise ValueError(f"{self.describe()}: expected images of at least one pixel and channel, got "
                             f"samples of shape {tuple(sample_shape)}")

    def __call__(self, x, training=NOT_GIVEN, mask=None):
        if isinstance(x, dict):     # Keras' {"images", "labels", "segmentation_masks"}: see segmentation.py
            from .segmentation import call_on_dict
            return call_on_dict(self, x, training, mask)
        return super().__call__(x, training=training, mask=mask)

    def _transform_labels(self, labels, n):
        return labels            # Keras' pass labels through

    def _begin(self, x):
        """Check a batch's shape where it may be wrong (a direct call), and keep it for backward."""
        if x.ndim != 4 or 0 in x.shape[1:]:
            self.check_input_shape(x.shape[1:])
        self._in_shape = x.shape

    def _resized(self, input_shape, crop, pad):
        """The height and width of the image a resize of samples of ``input_shape`` mixes: the
        image, its centred box (``crop``) or the image with its fill (``pad``)."""
        h, w, _ = input_shape
        if crop:
            _, h, _, w = _aspect_box(h, w, self.height, self.width, crop=True)
        elif pad:
            top, left = _aspect_box(h, w, self.height, self.width, crop=False)
            h, w = h + 2 * top, w + 2 * left
        return h, w

    def _resize_numbers(self, input_shape, crop, pad):
        """The largest array a resize of one sample makes: the padded image, the one after the rows'
        product (the new height by the old width), or the output."""
        (h, w), c = self._resized(input_shape, crop, pad), input_shape[-1]
        return max(h * w, self.height * w, self.height * self.width) * c

    def _check_resize(self, input_shape, crop, pad):
        """Refuse, at build, a resize whose arrays would pass ``MAX_SAMPLE_VALUES`` (glassnet._bounds)
        though its output does not: the image padded to the target's aspect ratio (``height=1,
        width=10**8`` pads an 8 x 8 image to 8 x 8 * 10**8), and the interpolation matrices,
        (height, image height) and (width, image width). Images of any size (None) are not known yet."""
        self.check_input_shape(input_shape)         # images, by name, before their sizes are read
        if None in tuple(input_shape)[:2]:
            return
        h, w = self._resized(input_shape, crop, pad)
        check_sample_values(self, self._resize_numbers(input_shape, crop, pad),
                            "its resize's largest array")
        check_sample_values(self, self.height * h + self.width * w,
                            f"its interpolation matrices ({self.height} x {h} and {self.width} x {w})")

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width, **config_entry(self),
                **box_config(self)}


del LAYERS["_Images"]


class Resizing(_Images):
    """Resize images to ``height`` x ``width`` (Keras' ``Resizing``), in training and inference
    alike: ``interpolation`` "bilinear" (the default), "nearest", "bicubic" (Keys' cubic, sharper),
    "area" (each output pixel the average of the input area it covers: the best plain downsizing),
    "lanczos3" or "lanczos5" (windowed sincs over 3 or 5 pixels each side), TensorFlow's kernels as
    Keras runs them. ``crop_to_aspect_ratio`` first
    cuts the largest centred box of the target's aspect ratio (no distortion, the edges lost);
    ``pad_to_aspect_ratio`` first adds ``fill_value`` rows or columns on both sides instead (no
    distortion, nothing lost; ``fill_mode`` "constant", Keras' only one). ``antialias=True``
    (Keras' default False) widens the kernel by the downsizing factor, so that every input pixel
    counts (without it a 4x downsizing by "bilinear" reads 2 pixels of each 4 and aliases); it
    changes nothing for "nearest" and "area", as in TensorFlow.

    Shapes: (batch, H, W, C), any H and W -> (batch, height, width, C), floats (Keras keeps uint8 as
    uint8). The gradient of the input is the transposed resize (nothing for the fill).

    Example
    -------
    >>> Resizing(1, 4)(np.array([[[[0.0], [8.0]]]]))[0, 0, :, 0].tolist()
    [0.0, 2.0, 6.0, 8.0]
    """

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, antialias=False, data_format=None,
                 **kwargs):
        super().__init__(height, width, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        cls = type(self).__name__
        check_choice(interpolation, f"{cls}: interpolation", INTERPOLATIONS)
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = check_flag(crop_to_aspect_ratio, f"{cls}: crop_to_aspect_ratio")
        self.pad_to_aspect_ratio = check_flag(pad_to_aspect_ratio, f"{cls}: pad_to_aspect_ratio")
        if self.crop_to_aspect_ratio and self.pad_to_aspect_ratio:
            raise ValueError(f"{cls}: give crop_to_aspect_ratio or pad_to_aspect_ratio, not both")
        check_choice(fill_mode, f"{cls}: fill_mode", ("constant",), expected="'constant' (Keras' only one here)")
        self.fill_mode = fill_mode
        self.fill_value = check_number(fill_value, f"{cls}: fill_value", "finite")
        self.antialias = check_flag(antialias, f"{cls}: antialias")

    def build(self, input_shape):
        if self.pad_to_aspect_ratio:      # the pad is fill_value in the layer's dtype (1e39 in float32: inf)
            check_fill_value(self)
        self._check_resize(input_shape, self.crop_to_aspect_ratio, self.pad_to_aspect_ratio)
        super().build(input_shape)

    def numbers_per_sample(self, input_shape):
        return self._resize_numbers(input_shape, self.crop_to_aspect_ratio, self.pad_to_aspect_ratio)

    def forward(self, x, training=False):
        self._begin(x)
        out, self._cache = resize(x, self.height, self.width, self.interpolation, self.crop_to_aspect_ratio,
                                  self.pad_to_aspect_ratio, self.fill_value, self.antialias)
        return out

    _zeroes_padding_boxes = True     # Keras': a box all 0 or all -1 comes out all 0 (box_moves.py)

    def _move_xyxy(self, boxes, in_size, out_size):
        return resize_boxes(boxes, in_size, out_size, self.crop_to_aspect_ratio, self.pad_to_aspect_ratio)

    def _check_dict(self, labels, masks, n, training):
        # a pad fill that the masks' dtype cannot hold: refused before the images are resized
        if masks is not None and self.pad_to_aspect_ratio:
            from .segmentation import check_mask_fill
            check_mask_fill(self, masks)

    def _transform_masks(self, masks):
        # Keras': "nearest" whatever the images' interpolation, after the same crop or pad (fill_value)
        return resize_masks(masks, self.height, self.width, self.crop_to_aspect_ratio, self.pad_to_aspect_ratio,
                            self.fill_value)

    def backward(self, grad_output):
        if not self.needs_input_gradient:      # the usual place: a model's first layer
            return None
        return resize_backward(grad_output, self._cache, self._in_shape)

    def get_config(self):
        return {**super().get_config(), "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio, "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
                "fill_mode": self.fill_mode, "fill_value": self.fill_value, "antialias": self.antialias}


class CenterCrop(_Images):
    """The central ``height`` x ``width`` pixels of each image (Keras' ``CenterCrop``), in training and
    inference alike; an image smaller than that along an axis is instead resized, bilinearly, from
    its largest centred box of the target's aspect ratio (Keras' ``smart_resize``).

    Shapes: (batch, H, W, C) -> (batch, height, width, C).

    Example
    -------
    >>> CenterCrop(2, 2)(np.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0].tolist()
    [[5.0, 6.0], [9.0, 10.0]]
    """

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(height, width, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)

    def numbers_per_sample(self, input_shape):
        if self._crops(input_shape):
            return self.height * self.width * input_shape[-1]
        return self._resize_numbers(input_shape, crop=True, pad=False)

    def build(self, input_shape):
        self.check_input_shape(input_shape)         # images, by name, before _crops reads their sizes
        if None not in tuple(input_shape)[:2] and not self._crops(input_shape):     # a resize, not a crop
            self._check_resize(input_shape, crop=True, pad=False)
        super().build(input_shape)

    def forward(self, x, training=False):
        self._begin(x)
        if self._crops(x.shape[1:]):
            # (h - height) // 2 rows above, as Keras counts them; a copy, as Cropping2D makes
            top, left = (x.shape[1] - self.height) // 2, (x.shape[2] - self.width) // 2
            self._cache = (top, left)
            return x[:, top:top + self.height, left:left + self.width, :].copy()
        out, self._cache = resize(x, self.height, self.width, "bilinear", crop=True)
        return out

    def _move_xyxy(self, boxes, in_size, out_size):
        # the images' window (Keras' arithmetic), or the centred box an image too small is resized from
        if len(self._cache) == 4:
            top, kept_h, left, kept_w = self._cache[0]
            return window_boxes(boxes, top, left, (kept_h, kept_w), out_size)
        return window_boxes(boxes, *self._cache, out_size, out_size)

    def _transform_masks(self, masks):
        # the images' window (Keras'); an image too small is resized from its centred box, the masks
        # "nearest" (Keras resizes them bilinearly, blending class ids: see the docstring)
        if len(self._cache) == 4:
            return resize_masks(masks, self.height, self.width, crop=True)
        top, left = self._cache
        return masks[:, top:top + self.height, left:left + self.width, :].copy()

    def backward(self, grad_output):
        if not self.needs_input_gradient:
            return None
        if len(self._cache) == 4:                 # a resize
            return resize_backward(grad_output, self._cache, self._in_shape)
        top, left = self._cache
        grad = backend.get_array_module(grad_output).zeros(self._in_shape, dtype=grad_output.dtype)
        grad[:, top:top + self.height, left:left + self.width, :] = grad_output
        return grad


class RandomCrop(_Images):
    """A random ``height`` x ``width`` window of each image in training (Keras' ``RandomCrop``): a
    new position per image and per step, from the layer's generator (the model's seed, or the
    layer's own ``seed``), so that every epoch sees the objects shifted a little.

    In ``predict`` and ``evaluate``, and in training when an image is smaller than the window, the
    image is instead resized from its largest centred box of the window's aspect ratio (Keras'
    documented rule, its ``smart_resize``; the same as ``Resizing(height, width,
    crop_to_aspect_ratio=True)``): a 32 x 32 image cropped to 28 x 28 in training is scaled down
    whole at inference.

    Differences from Keras 3.15: Keras draws one position per batch (every image of a batch cut
    at the same place), glassnet one per image, as torchvision's ``RandomCrop``; Keras crops at
    random only when the image is larger along both axes, glassnet also when one axis is equal
    (no choice along it); an image smaller than the window in training is resized here as at
    inference, where Keras stretches a window-sized slice of it clipped to the image (distorting
    its aspect ratio); and Keras 3.15 returns inference images uncropped, against its docs and its
    own output shape.

    Shapes: (batch, H, W, C) -> (batch, height, width, C). The input's gradient is the output's
    put back where each window was cut (zero elsewhere), or the transposed resize.

    Example
    -------
    >>> layer = RandomCrop(2, 2, seed=0)
    >>> layer(np.arange(16.0).reshape(1, 4, 4, 1), training=True).shape
    (1, 2, 2, 1)
    """

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(height, width, seed=seed, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        self._cache = None
        self.seed_generator = seed_record(self)     # (its state listed as Keras': layers/keras_state.py)

    def numbers_per_sample(self, input_shape):
        return self._resize_numbers(input_shape, crop=True, pad=False)

    def build(self, input_shape):
        self._check_resize(input_shape, crop=True, pad=False)       # (inference resizes)
        super().build(input_shape)

    def forward(self, x, training=False):
        self._begin(x)
        n, h, w, _ = x.shape
        if training and self._crops(x.shape[1:]):
            generator = self._generator()
            top = generator.integers(0, h - self.height + 1, n)
            left = generator.integers(0, w - self.width + 1, n)
            # each image's window as index arrays: (n, 1, 1), (n, height, 1), (n, 1, width)
            window = (np.arange(n)[:, None, None], (top[:, None] + np.arange(self.height))[:, :, None],
                      (left[:, None] + np.arange(self.width))[:, None, :])
            out = x[window]
        elif (h, w) == (self.height, self.width):      # already the window's size: nothing to resize
            window, out = None, x.copy()               # a copy, as CenterCrop's and Resizing's outputs
        else:
            out, window = resize(x, self.height, self.width, "bilinear", crop=True)
        # what backward needs, unless nothing will ask (a model's first layer)
        self._cache = window if self.needs_input_gradient else None
        self._window = window           # and what the masks of the same call need
        return out

    def _move_xyxy(self, boxes, in_size, out_size):
        # each image's window; where the images were resized, as Resizing(crop_to_aspect_ratio=True)
        if self._window is None:
            return boxes
        if len(self._window) == 4:
            return resize_boxes(boxes, in_size, out_size, crop=True)
        return window_boxes(boxes, self._window[1][:, 0, 0], self._window[2][:, 0, 0], out_size, out_size)

    def _transform_masks(self, masks):
        # the images' windows; where the images were resized (inference, a small image), the masks
        # too, "nearest" (see the docstring for Keras')
        if self._window is None:
            return masks.copy()
        if len(self._window) == 4:
            return resize_masks(masks, self.height, self.width, crop=True)
        return masks[tuple(_where_masks(masks, a) for a in self._window)]

    def backward(self, grad_output):
        if not self.needs_input_gradient:      # the usual place: a model's first layer
            return None
        if self._cache is None:
            return grad_output
        if len(self._cache) == 4:              # a resize
            return resize_backward(grad_output, self._cache, self._in_shape)
        grad = backend.get_array_module(grad_output).zeros(self._in_shape, dtype=grad_output.dtype)
        grad[self._cache] = grad_output       # the windows of one image never overlap: no sums
        return grad

    def get_config(self):
        config = super().get_config()
        if self.seed is not None:        # a layer of its own stream draws the same from its config
            config["seed"] = self.seed
        return config
