"""The convolutions' memory bound: glassnet's own setting (Keras has none, its backends use other
algorithms).

Why: im2col (layers/conv.py) copies every receptive field once per call, a patch matrix of
(N * output positions, kernel positions * C_in) numbers that forward keeps for backward, and
backward makes one more of that size (the fields' gradients, before col2im adds them back). A 3x3
convolution of 64 channels over 32x32 images in batches of 128 makes 128 * 32 * 32 * 577 float32
numbers, 302 MB, for one layer.

When a call's patch matrix would exceed ``conv_memory_limit()`` bytes, the convolution runs over
chunks of the batch instead, each chunk's patches at most that size: forward keeps the padded input
(not the patches) and backward rebuilds each chunk's patches, adds its share of the weight gradient
and fills its rows of the input gradient. Outputs and input gradients are each sample's own
computation either way (the same products, per row, as the whole batch's; equal to rounding, not
always bit for bit: BLAS may block a product of fewer rows otherwise); the weight gradient sums the
chunks in another order (float32 within a few 1e-6 of its largest value, float64 1e-14). A call
within the limit takes the code path of before, untouched. One sample's patches are the smallest
chunk: a single image larger than the limit is still computed whole.

``set_conv_memory_limit(bytes)`` / ``conv_memory_limit()`` (also in ``glassnet.config``): 64 MiB by
default; None lifts the bound (the whole batch at once, whatever its size).

>>> from glassnet.layers import conv_memory
>>> conv_memory.batch_step(batch=128, sample_bytes=1 << 20)        # 128 MiB of patches: chunks of 64
64
>>> conv_memory.batch_step(batch=32, sample_bytes=1 << 20) is None   # 32 MiB: the whole batch
True
"""
import numbers

CONV_MEMORY_LIMIT = 64 * 2 ** 20            # bytes of one call's patch matrix: the default bound
_limit = {"bytes": CONV_MEMORY_LIMIT}


def set_conv_memory_limit(limit):
    """Bound, in bytes, the patch matrix (im2col) that one convolution call builds at a time:
    larger calls run over chunks of the batch (glassnet's setting; Keras has none). None lifts the
    bound. Read at every forward pass. Returns None.

    >>> import glassnet as gn
    >>> gn.config.set_conv_memory_limit(16 * 2 ** 20); gn.config.conv_memory_limit()
    16777216
    >>> gn.config.set_conv_memory_limit(gn.layers.conv_memory.CONV_MEMORY_LIMIT)
    """
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, numbers.Integral):
            raise TypeError(f"set_conv_memory_limit: limit: expected a positive integer number of bytes or None, "
                            f"got {type(limit).__name__} {limit!r:.40}")
        if limit <= 0:
            raise ValueError(f"set_conv_memory_limit: limit: expected a positive integer number of bytes or None, "
                             f"got {limit!r}")
        limit = int(limit)
    _limit["bytes"] = limit


def conv_memory_limit():
    """The bound ``set_conv_memory_limit`` set, in bytes (64 MiB by default), or None."""
    return _limit["bytes"]


def batch_step(batch, sample_bytes):
    """How many samples a chunk takes when ``batch`` samples' patches, ``sample_bytes`` each, exceed
    the limit: the most whose patches fit (at least 1); None when the whole batch fits (or no
    limit): the unchunked path."""
    limit = _limit["bytes"]
    if limit is None or batch * sample_bytes <= limit:
        return None
    return max(1, limit // max(sample_bytes, 1))


class Chunked:
    """The cache of a convolution computed in chunks of ``step`` samples: what its backward needs to
    rebuild each chunk's patches (``xp`` the padded input, or for a transposed convolution its flat
    input rows) and the geometry. ``state`` is the rest, as the unchunked cache holds it."""

    __slots__ = ("step", "xp", "state")

    def __init__(self, step, xp, state):
        self.step, self.xp, self.state = step, xp, state


def chunks(n, step):
    """``slice``s of ``step`` samples covering range(n)."""
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]
