"""DepthToSpace and SpaceToDepth: sub-pixel convolution's rearrangements (ESPCN super-resolution),
TensorFlow's ``tf.nn.depth_to_space`` / ``space_to_depth`` as layers, channels last (no weights).

Keras 3 has them only as functions, ``keras.ops.depth_to_space(x, block_size, data_format)`` and
``keras.ops.space_to_depth``; these layers take the same arguments. With block size ``r``, each
input pixel's ``r * r * c`` channels become an ``r x r`` block of output pixels of ``c`` channels,
in TensorFlow's order: channel ``(i * r + j) * c + k`` goes to row ``i``, column ``j`` of the block,
channel ``k``, i.e. the channels are grouped as ``(r, r, c)``. PyTorch's ``nn.PixelShuffle`` groups
them as ``(c, r, r)`` (docs/pytorch.md ports one to the other).

Both are a reshape, a transpose and a reshape: each is the other's inverse, and since a permutation
of values is orthogonal, each one's backward is the other one's forward.
"""
import numpy as np

from .. import backend
from .._validation import check_choice
from .base import LAYERS, Layer


def depth_to_space(x, block_size):
    """Channels into blocks of pixels, as ``tf.nn.depth_to_space(x, block_size)`` (NHWC).

    x : ndarray of shape (batch, H, W, r * r * c) -> ndarray of shape (batch, H * r, W * r, c).

    Example
    -------
    >>> import numpy as np
    >>> depth_to_space(np.arange(4.0).reshape(1, 1, 1, 4), 2)[0, :, :, 0].tolist()
    [[0.0, 1.0], [2.0, 3.0]]
    """
    n, h, w, channels = x.shape
    r = block_size
    c = channels // (r * r)
    # the channel axis split as TensorFlow reads it, (row in block, column in block, channel);
    # a view of x, as the transpose is: only the last reshape copies (the rows interleave)
    blocks = x.reshape(n, h, w, r, r, c).transpose(0, 1, 3, 2, 4, 5)     # (n, h, i, w, j, c)
    return blocks.reshape(n, h * r, w * r, c)


def space_to_depth(x, block_size):
    """Blocks of pixels into channels, as ``tf.nn.space_to_depth(x, block_size)`` (NHWC): the
    inverse of ``depth_to_space``, and its transpose (its backward).

    x : ndarray of shape (batch, H * r, W * r, c) -> ndarray of shape (batch, H, W, r * r * c).

    Example
    -------
    >>> import numpy as np
    >>> space_to_depth(np.arange(4.0).reshape(1, 2, 2, 1), 2)[0, 0, 0].tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    n, height, width, c = x.shape
    r = block_size
    h, w = height // r, width // r
    blocks = x.reshape(n, h, r, w, r, c).transpose(0, 1, 3, 2, 4, 5)       # (n, h, w, i, j, c)
    return blocks.reshape(n, h, w, r * r * c)


class _Rearrange(Layer):
    """Shared by the two layers: the arguments, the shape checks (at build for the sizes known
    then, at every call for the sizes given as None) and the config."""

    def __init__(self, block_size, data_format=None, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        # TensorFlow's minimum: a block of 1 would change nothing (its kernels refuse it too)
        if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 2:
            raise ValueError(f"{name}: block_size must be an integer >= 2 (TensorFlow's minimum), "
                             f"got {block_size!r:.40}")
        self.block_size = int(block_size)
        # Keras 3.15's channels_first disagrees between its backends (TensorFlow's groups the
        # channels (r, r, c), NumPy's and PyTorch's (c, r, r)): no order here to be faithful to
        # None: image_data_format(), as Keras' (channels_first set globally is refused as if given)
        check_choice(backend.standardize_data_format(data_format), f"{name}: data_format", ("channels_last",),
                     note=" (images are (height, width, channels) in glassnet; for channels-first images, "
                          "Permute((2, 3, 1)) first: Keras 3.15's backends order the channels of "
                          "data_format='channels_first' differently from one another)")
        self.data_format = "channels_last"

    def _check(self, sample_shape):
        """Refuse a sample shape this layer cannot rearrange, naming the layer and the sizes;
        None (a size known per batch) passes, and is checked when the batch comes."""
        sample_shape = tuple(sample_shape)
        if len(sample_shape) != 3:
            raise ValueError(f"{self.describe()}: expected images, input of shape (batch, height, width, "
                             f"channels), got shape (batch, {', '.join(map(str, sample_shape))})")
        r = self.block_size
        bad = [(axis, size, divisor) for axis, size, divisor in self._divisible(sample_shape)
               if size is not None and size % divisor]
        if bad:
            axis, size, divisor = bad[0]
            by = f"block_size = {r}" if divisor == r else f"block_size**2 = {divisor}"
            raise ValueError(f"{self.describe()}: the {axis} ({size}) must be divisible by {by}, "
                             f"got input samples of shape {sample_shape}")

    def build(self, input_shape):
        self._check(input_shape)
        super().build(input_shape)

    def check_input_shape(self, sample_shape):
        # the built sizes that were None take any size that divides; the known ones must match
        super().check_input_shape(sample_shape)
        self._check(sample_shape)

    def forward(self, x, training=False):
        # a model calls forward directly: sizes that were None at build are checked here
        self._check(x.shape[1:])
        return self._rearrange(x, self.block_size)

    def backward(self, grad_output):
        if not self.needs_input_gradient:      # first layer of a model: nothing to propagate
            return None
        return self._inverse(grad_output, self.block_size)

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size, "data_format": self.data_format}


del LAYERS["_Rearrange"]        # a base class, not a layer to load by name


class DepthToSpace(_Rearrange):
    """Channels into blocks of pixels (pixel shuffle, sub-pixel convolution's upsampling):
    ``tf.nn.depth_to_space`` / ``keras.ops.depth_to_space`` as a layer, channels last.

    Shapes: (batch, H, W, r * r * c) -> (batch, H * r, W * r, c), ``r = block_size``; channel
    ``(i * r + j) * c + k`` of a pixel goes to row ``i``, column ``j`` of its block, channel ``k``.
    H and W may be None (``Input((None, None, 1))``): any image size.

    Example
    -------
    >>> import numpy as np
    >>> DepthToSpace(2)(np.ones((1, 5, 7, 12))).shape
    (1, 10, 14, 3)
    """
    _rearrange = staticmethod(depth_to_space)
    _inverse = staticmethod(space_to_depth)

    def _divisible(self, sample_shape):
        return [("channels", sample_shape[2], self.block_size ** 2)]

    def output_shape(self, input_shape):
        self._check(input_shape)
        h, w, c = input_shape
        r = self.block_size
        return (None if h is None else h * r, None if w is None else w * r, None if c is None else c // (r * r))


class SpaceToDepth(_Rearrange):
    """Blocks of pixels into channels (pixel unshuffle): ``tf.nn.space_to_depth`` /
    ``keras.ops.space_to_depth`` as a layer, channels last; the inverse of ``DepthToSpace``.

    Shapes: (batch, H, W, c) -> (batch, H / r, W / r, r * r * c), ``r = block_size`` dividing H and W.
    H and W may be None (``Input((None, None, 3))``): checked on each batch.

    Example
    -------
    >>> import numpy as np
    >>> SpaceToDepth(2)(np.ones((1, 10, 14, 3))).shape
    (1, 5, 7, 12)
    """
    _rearrange = staticmethod(space_to_depth)
    _inverse = staticmethod(depth_to_space)

    def _divisible(self, sample_shape):
        return [("height", sample_shape[0], self.block_size), ("width", sample_shape[1], self.block_size)]

    def output_shape(self, input_shape):
        self._check(input_shape)
        h, w, c = input_shape
        r = self.block_size
        return (None if h is None else h // r, None if w is None else w // r, None if c is None else c * r * r)
