"""Resizing and CenterCrop: Keras' image preprocessing layers that give images another size.

A resize is linear in the image and separable: each output row is a weighted mix of input rows
(``bilinear_weights``, or one row for "nearest"), each output column one of input columns, so it
runs as two batched matrix products, and its gradient as their transposes (TensorFlow's resize, what
Keras runs on its default backend: half-pixel centres, no antialiasing).
"""
import numpy as np

from .._validation import check_flag, check_number
from .base import Layer
from .conv import _as_tuple, check_rank
from .spatial import bilinear_weights

INTERPOLATIONS = ("bilinear", "nearest")


def nearest_weights(out_len, in_len):
    """(out_len, in_len) 0/1 weights of a nearest-neighbour resize along one axis, TensorFlow's:
    output position o reads input ``floor((o + 0.5) * in_len / out_len)``.

    >>> nearest_weights(3, 2).tolist()
    [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]
    """
    # in float32, as TensorFlow computes it: 5.5 * 26 / 11 is 13 exactly, but 12.99999 there
    scale = np.float32(in_len) / np.float32(out_len)
    source = np.minimum(np.floor((np.arange(out_len, dtype=np.float32) + np.float32(0.5)) * scale).astype(int), in_len - 1)
    weights = np.zeros((out_len, in_len))
    weights[np.arange(out_len), source] = 1.0
    return weights


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


class Resizing(Layer):
    """Resize images to ``height`` x ``width`` (Keras' ``Resizing``), in training and inference
    alike: ``interpolation`` "bilinear" (the default) or "nearest". ``crop_to_aspect_ratio`` first
    cuts the largest centred box of the target's aspect ratio (no distortion, the edges lost);
    ``pad_to_aspect_ratio`` first adds ``fill_value`` rows or columns on both sides instead (no
    distortion, nothing lost). Downsizing does not antialias (Keras' default ``antialias=False``).

    Shapes: (batch, H, W, C) -> (batch, height, width, C). The gradient of the input is the
    transposed resize (nothing for the fill).

    Example
    -------
    >>> Resizing(1, 4)(np.array([[[[0.0], [8.0]]]]))[0, 0, :, 0].tolist()
    [0.0, 2.0, 6.0, 8.0]
    """
    rank = 2            # images: (height, width, channels) samples

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.height, self.width = _as_tuple((height, width), 2, "height and width", cls)
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"{cls}: interpolation must be one of {list(INTERPOLATIONS)}, got {interpolation!r:.80}")
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = check_flag(crop_to_aspect_ratio, f"{cls}: crop_to_aspect_ratio")
        self.pad_to_aspect_ratio = check_flag(pad_to_aspect_ratio, f"{cls}: pad_to_aspect_ratio")
        if self.crop_to_aspect_ratio and self.pad_to_aspect_ratio:
            raise ValueError(f"{cls}: give crop_to_aspect_ratio or pad_to_aspect_ratio, not both")
        if fill_mode != "constant":
            raise ValueError(f"{cls}: fill_mode must be 'constant' (Keras' only one here), got {fill_mode!r:.80}")
        self.fill_mode = fill_mode
        self.fill_value = check_number(fill_value, f"{cls}: fill_value", "finite")

    def output_shape(self, input_shape):
        check_rank(self, tuple(input_shape))
        return self.height, self.width, input_shape[-1]

    def check_input_shape(self, sample_shape):
        check_rank(self, tuple(sample_shape))     # any size comes in; the layer's size goes out

    def _weights(self, length, target):
        make = bilinear_weights if self.interpolation == "bilinear" else nearest_weights
        return make(target, length)

    def forward(self, x, training=False):
        if x.ndim != 4:
            check_rank(self, x.shape[1:])
        n, h, w, c = x.shape
        self._in_shape, self._box = x.shape, None
        if self.crop_to_aspect_ratio:
            top, h, left, w = self._box = _aspect_box(h, w, self.height, self.width, crop=True)
            x = x[:, top:top + h, left:left + w, :]
        elif self.pad_to_aspect_ratio:
            top, left = self._box = _aspect_box(h, w, self.height, self.width, crop=False)
            if top or left:
                padded = np.full((n, h + 2 * top, w + 2 * left, c), self.fill_value, dtype=x.dtype)
                padded[:, top:top + h, left:left + w, :] = x
                x, h, w = padded, h + 2 * top, w + 2 * left
        self._rows, self._columns = (self._weights(h, self.height).astype(x.dtype),
                                     self._weights(w, self.width).astype(x.dtype))
        rows = self._rows @ x.reshape(n, h, w * c)                                  # (n, height, w * c)
        return (self._columns @ rows.reshape(n * self.height, w, c)).reshape(n, self.height, self.width, c)

    def backward(self, grad_output):
        if not self.needs_input_gradient:      # the usual place: a model's first layer
            return None
        n, _, _, c = grad_output.shape
        h, w = self._rows.shape[1], self._columns.shape[1]
        columns = self._columns.T @ grad_output.reshape(n * self.height, self.width, c)   # (n * height, w, c)
        grad = (self._rows.T @ columns.reshape(n, self.height, w * c)).reshape(n, h, w, c)
        if self._box is None or not any(self._box):
            return grad
        # the crop's lost edges, or the fill's added ones: their pixels get no gradient
        full = np.zeros(self._in_shape, dtype=grad.dtype)
        if self.crop_to_aspect_ratio:
            top, kept_h, left, kept_w = self._box
            full[:, top:top + kept_h, left:left + kept_w, :] = grad
            return full
        top, left = self._box
        return grad[:, top:top + self._in_shape[1], left:left + self._in_shape[2], :]

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation, "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value}


class CenterCrop(Resizing):
    """The central ``height`` x ``width`` pixels of each image (Keras' ``CenterCrop``), in training and
    inference alike; an image smaller than that along an axis is instead resized, bilinearly, from
    its largest centred box of the target's aspect ratio (Keras' ``smart_resize``).

    Shapes: (batch, H, W, C) -> (batch, height, width, C).

    Example
    -------
    >>> CenterCrop(2, 2)(np.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0].tolist()
    [[5.0, 6.0], [9.0, 10.0]]
    """

    def __init__(self, height, width, **kwargs):
        super().__init__(height, width, crop_to_aspect_ratio=True, **kwargs)

    def forward(self, x, training=False):
        if x.ndim == 4 and x.shape[1] >= self.height and x.shape[2] >= self.width:
            # a plain crop: (h - height) // 2 rows above, as Keras counts them
            top, left = (x.shape[1] - self.height) // 2, (x.shape[2] - self.width) // 2
            self._in_shape, self._crop = x.shape, (top, left)
            return x[:, top:top + self.height, left:left + self.width, :]
        self._crop = None
        return super().forward(x, training)

    def backward(self, grad_output):
        if self._crop is None:
            return super().backward(grad_output)
        if not self.needs_input_gradient:
            return None
        top, left = self._crop
        grad = np.zeros(self._in_shape, dtype=grad_output.dtype)
        grad[:, top:top + self.height, left:left + self.width, :] = grad_output
        return grad

    def get_config(self):
        config = super().get_config()
        for key in ("interpolation", "crop_to_aspect_ratio", "pad_to_aspect_ratio", "fill_mode", "fill_value"):
            del config[key]
        return config
