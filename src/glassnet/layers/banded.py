"""Banded weight matrices: how ``glassnet.layers.resizing`` applies a resize along one axis.

A resize's (out_len, in_len) weight matrix W is zero but for a few input pixels around each
output's position: the kernel's support (2 pixels for bilinear, 4 for bicubic, 6 and 10 for
lanczos3 and lanczos5, that times the downsizing factor with ``antialias``). Stored dense, an axis
of n pixels costs n x n numbers and n multiply-adds per output pixel, most of them by zero (a
2000 x 2000 bicubic resize: seconds; an 8000-pixel axis: a 488 MiB float64 matrix). Stored as a
band, row o as ``taps`` weights from column ``start[o]`` on::

    W[o, start[o] + k] = weights[o, k]        for 0 <= k < taps, 0 elsewhere

it costs out_len x taps numbers, and the resize ``taps`` multiply-adds per output pixel: for each
k, gather the input at ``start + k`` and add ``weights[:, k]`` times it (a loop over the taps,
never over pixels). The gradient is the transpose, W.T, which is again a band (an input pixel is
read by the few outputs around it), so it runs the same way, without scatter-adds.

For small images one dense matrix product is faster than the loop's ``taps`` passes over the
image (BLAS does many multiply-adds per memory access, the loop a few, and each pass has its
overhead), so ``Band.apply`` multiplies densely where the product is small and the axis not much
longer than the band (``DENSE_WORK``, ``DENSE_RATIO``); both ways give the same numbers up to
float rounding.
"""
import numpy as np

from .. import backend

# Band.apply multiplies densely when the dense product takes at most DENSE_WORK multiply-adds and
# in_len <= DENSE_RATIO * taps (the dense matrix at most DENSE_RATIO times the band). Timed with
# timeit (best of 5 to 7, the two ways interleaved) on 2 shared cores, OpenBLAS, float32 images of
# 3 channels from 64 x 64 to 4000 x 3000, bilinear, bicubic and antialiased lanczos: on small
# images the dense product wins when the axis is up to 30 to 60 (rows) or 60 to 120 (columns) times
# the band's width; on large ones the loop wins from about 20 (rows), and for columns the dense
# product, n x height small products of 3 columns each, loses by 5 to 20 times. Near the crossing
# both are fast, so a factor of 2 either way matters little.
DENSE_RATIO = 64
DENSE_WORK = 2 ** 25


class Band:
    """An (out_len, in_len) matrix that is zero outside a band: row o holds ``weights[o]``
    (``taps`` numbers) in columns ``start[o]`` to ``start[o] + taps - 1``.

    start : int ndarray of shape (out_len,), with ``0 <= start[o] <= in_len - taps`` (every tap
        inside the image, so that a gather needs no clipping; a row narrower than the band holds
        zeros in its extra taps)
    weights : float64 ndarray of shape (out_len, taps)

    >>> band = Band.from_taps(2, 4, (np.array([[0, 1], [2, 3]]), np.array([[0.5, 0.5], [0.5, 0.5]])))
    >>> band.dense().tolist()
    [[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]]
    >>> band.apply(np.arange(4.0).reshape(1, 4, 1, 1), axis=1).ravel().tolist()
    [0.5, 2.5]
    """

    def __init__(self, start, weights, in_len):
        self.start, self.weights, self.in_len = start, weights, in_len
        self._transposed = None

    @property
    def shape(self):
        return len(self.start), self.in_len

    @property
    def taps(self):
        return self.weights.shape[1]

    @classmethod
    def from_taps(cls, out_len, in_len, taps):
        """The band of a resize's ``taps = (indices, weights)``, both of shape (out_len, t): output o
        reads input ``indices[o, k]`` (clipped to the image: taps past an edge read the edge pixel,
        and add up there) with weight ``weights[o, k]``. Its ``dense()`` is
        ``glassnet.layers.resample.weight_matrix(out_len, in_len, taps)``, number for number.
        """
        indices, weights = taps
        rows = np.broadcast_to(np.arange(out_len)[:, None], indices.shape)
        columns = np.clip(indices, 0, in_len - 1)
        return cls._from_entries(out_len, in_len, rows.ravel(), columns.ravel(), weights.astype(np.float64).ravel())

    @classmethod
    def _from_entries(cls, out_len, in_len, rows, columns, values):
        """The band holding matrix entries ``(rows[j], columns[j]) = values[j]``, entries at the same
        place added in order (as ``np.add.at`` adds them into a dense matrix: the same sums)."""
        keep = values != 0          # zeros widen no band
        rows, columns, values = rows[keep], columns[keep], values[keep]
        first = np.full(out_len, in_len, dtype=np.intp)
        last = np.full(out_len, -1, dtype=np.intp)
        np.minimum.at(first, rows, columns)
        np.maximum.at(last, rows, columns)
        empty = last < first            # a row of zeros: any place will do
        first[empty], last[empty] = 0, 0
        taps = int((last - first).max()) + 1
        # a row near the end starts earlier, its weights further right, so that start + k stays inside
        start = np.minimum(first, in_len - taps)
        weights = np.zeros((out_len, taps))
        np.add.at(weights, (rows, columns - start[rows]), values)
        return cls(start, weights, in_len)

    def dense(self):
        """The (out_len, in_len) matrix itself."""
        out_len, in_len = self.shape
        matrix = np.zeros((out_len, in_len), dtype=self.weights.dtype)
        matrix[np.arange(out_len)[:, None], self.start[:, None] + np.arange(self.taps)] = self.weights
        return matrix

    @property
    def T(self):
        """The transposed matrix (in_len, out_len) as a band: the same numbers, moved (built once)."""
        if self._transposed is None:
            out_len, in_len = self.shape
            rows = np.repeat(np.arange(out_len), self.taps)
            columns = (self.start[:, None] + np.arange(self.taps)).ravel()
            self._transposed = Band._from_entries(in_len, out_len, columns, rows, self.weights.ravel())
        return self._transposed

    def prefers_dense(self, shape, axis):
        """Whether the dense product is the faster way to apply the band along ``axis`` of an array
        of ``shape`` (see ``DENSE_WORK`` and ``DENSE_RATIO``)."""
        out_len, in_len = self.shape
        work = out_len * int(np.prod(shape, dtype=np.int64))      # out_len x in_len x the other axes
        return in_len <= DENSE_RATIO * self.taps and work <= DENSE_WORK

    def apply(self, x, axis, dense=None):
        """The matrix applied along axis ``axis`` of x: the same array with that axis (in_len long)
        replaced by out_len outputs, ``out[.., o, ..] = sum_k weights[o, k] * x[.., start[o] + k, ..]``,
        in x's dtype (the weights cast to it). ``dense``: True or False to force a way, None to
        choose (``prefers_dense``). An image holding inf or NaN always goes the banded way, its zero
        weights skipped: the dense product would meet each bad pixel with every zero weight of its
        column (0 * inf = NaN) and spread NaN over the whole axis.
        """
        xp = backend.get_array_module(x)
        finite = bool(xp.isfinite(x).all())
        if finite and (self.prefers_dense(x.shape, axis) if dense is None else dense):
            # one (batched) product over axis, whatever lies before and after it; the new length
            # named, not -1: NumPy cannot infer an axis of an empty batch
            before, after = int(np.prod(x.shape[:axis])), int(np.prod(x.shape[axis + 1:]))
            matrix = xp.asarray(self.dense(), dtype=x.dtype)
            out = matrix @ x.reshape(before, self.in_len, after)
            return out.reshape(x.shape[:axis] + (self.shape[0],) + x.shape[axis + 1:])
        shape = [1] * x.ndim
        shape[axis] = -1
        weights, start = xp.asarray(self.weights, dtype=x.dtype), xp.asarray(self.start)
        out = None
        with np.errstate(invalid="ignore"):
            for k in range(self.taps):
                weight = weights[:, k].reshape(shape)
                term = xp.take(x, start + k, axis=axis)      # a new array: multiplied in place
                if finite:
                    term *= weight
                else:
                    term = xp.where(weight != 0, term * weight, 0).astype(x.dtype, copy=False)
                if out is None:
                    out = term
                else:
                    out += term
        return out
