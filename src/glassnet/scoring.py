"""Which values of a batch's output the loss and the metrics score, when that is not simply the
output as it is. Two cases, both Keras':

- **Labels per position**: a model whose output has positions, (batch, steps, classes) for a tagger
  (or (batch, H, W, classes) for a segmenter), takes ``sparse_categorical_crossentropy`` labels of
  shape (batch, steps): one class per position. Every position is then a row: (batch * steps,
  classes) outputs against (batch * steps,) labels, and the loss is their mean (Keras').
- **A mask that reaches the output** (``Embedding(mask_zero=True)`` -> ``LSTM(return_sequences=True)``
  -> ``Dense``): only the real steps are rows. The loss is the mean over them, and each metric
  counts them alone, as Keras leaves masked steps out of both (its ``sum_over_batch_size`` with a
  mask divides by the real steps).

In both cases the loss and the metrics see a plain batch of rows and score it as they score any
batch; sample weights follow their sample's rows, and the loss's gradient goes back to the output's
shape, zero at masked steps. ``Rows`` does that bookkeeping for one batch.
"""
from . import backend


class Rows:
    """The rows the loss and the metrics score in one batch's output of shape ``shape``
    (batch, *positions, classes): every position's, or with ``mask`` (batch, steps) booleans the
    real steps' only.

    >>> import numpy as np
    >>> rows = Rows((2, 3, 4), np.array([[True, True, False], [True, False, False]]))
    >>> rows.of(np.ones((2, 3, 4))).shape, rows.targets(np.array([[1, 2, 0], [3, 0, 0]])).tolist()
    ((3, 4), [1, 2, 3])
    >>> rows.back(np.ones((3, 4))).sum(axis=2).tolist()
    [[4.0, 4.0, 0.0], [4.0, 0.0, 0.0]]
    """

    def __init__(self, shape, mask=None):
        self.shape = tuple(shape)
        self.mask = mask

    def of(self, a):
        """Output-shaped ``a`` (the output, the logits) -> (rows, classes) (or (rows, ...) with a
        mask on outputs with more axes after the steps)."""
        if self.mask is not None:
            return a[self.mask]
        return a.reshape(-1, a.shape[-1])

    def targets(self, y):
        """Targets for the whole batch -> theirs for the rows: labels (batch, *positions) or arrays
        shaped like the output."""
        if self.mask is not None:
            return y[self.mask]
        return y.reshape(-1) if y.ndim == len(self.shape) - 1 else y.reshape(-1, y.shape[-1])

    def weights(self, w):
        """Sample weights (batch,) -> each row's: its sample's weight; or weights per position
        (batch, *positions) -> each row's own. None stays None."""
        if w is None:
            return None
        if w.ndim > 1:
            return w[self.mask] if self.mask is not None else w.reshape(-1)
        xp = backend.get_array_module(w)
        positions = self.shape[1:-1] if self.mask is None else self.mask.shape[1:]
        per_position = xp.broadcast_to(w.reshape(-1, *(1,) * len(positions)), (w.shape[0], *positions))
        return per_position[self.mask] if self.mask is not None else per_position.reshape(-1)

    def back(self, g):
        """A gradient for the rows -> for the whole output: zeros at masked steps."""
        if self.mask is None:
            return g.reshape(self.shape)
        full = backend.get_array_module(g).zeros(self.shape, dtype=g.dtype)
        full[self.mask] = g
        return full
