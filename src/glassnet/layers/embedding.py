"""Embedding: integer indices (word or category ids) to learned dense vectors, a row of a table each."""
import warnings

import numpy as np

from .. import constraints, initializers, regularizers
from .._validation import check_flag, check_positive_int
from .base import Layer

# float32 holds every integer up to 2**24 exactly, and fit casts a model's input to its dtype: an
# index above that would arrive rounded to a neighbouring one, a different word, without a sign
_FLOAT32_EXACT = 2 ** 24


class Embedding(Layer):
    """``output[..., :] = embeddings[index]``: each integer of the input picks a row of a trained
    ``(input_dim, output_dim)`` table (Keras' ``Embedding``, PyTorch's ``nn.Embedding``).

    Parameters
    ----------
    input_dim : int
        The number of rows: indices run from 0 to ``input_dim - 1`` (a vocabulary's size).
    output_dim : int
        The length of each vector.
    embeddings_initializer : str, Initializer or callable
        Keras' default ``"uniform"``: ``RandomUniform(-0.05, 0.05)``. (PyTorch's is a standard normal.)
    embeddings_regularizer, embeddings_constraint : optional
        A penalty on the table added to the loss, a projection of it after every update, as Keras'.
    mask_zero : False
        Keras' masking (index 0 as padding, skipped by the layers after) does not exist in glassnet:
        ``True`` is refused rather than silently averaging the padding in.
    input_length : int, optional
        Keras 2's way to give the sequence length: the same as ``input_shape=(input_length,)``.

    Shapes: input (batch, ...) of integer indices -- any integer dtype, or floats holding whole
    numbers, as ``fit`` passes them in the model's dtype -- to output (batch, ..., output_dim) in the
    layer's float dtype; ``embeddings`` (input_dim, output_dim). An index that is not a whole number
    or is outside ``[0, input_dim)`` is a ValueError naming it (Keras' CPU kernels raise too).

    Backward: the table's gradient is the sum of the output gradients of every position that picked
    each row (rows nobody picked get 0); the input gradient is 0 (indices are not differentiable),
    returned only when asked for (a model's first layer is not).

    Example
    -------
    >>> import numpy as np
    >>> layer = Embedding(10, 3, seed=0)
    >>> layer(np.array([[1, 2, 1]])).shape
    (1, 3, 3)
    """

    # the input is indices: a finite-difference check (glassnet.gradcheck) cannot nudge it
    discrete_input = True
    embeddings_regularizer = embeddings_constraint = None

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, input_length=None, **kwargs):
        if input_length is not None:
            if kwargs.get("input_shape") is not None or kwargs.get("input_dim") is not None:
                raise ValueError("Embedding: give input_length or input_shape, not both")
            kwargs["input_shape"] = (check_positive_int(input_length, "Embedding: input_length"),)
        super().__init__(**kwargs)
        self.input_dim = check_positive_int(input_dim, "Embedding: input_dim")
        self.output_dim = check_positive_int(output_dim, "Embedding: output_dim")
        if check_flag(mask_zero, "Embedding: mask_zero"):
            raise ValueError("Embedding: mask_zero=True needs Keras' masks, which glassnet does not have: the "
                             "layers after it would average or sum the padding positions in. Pad with an "
                             "index of its own and let the model learn it, or use inputs of one length")
        self.mask_zero = False
        self.embeddings_initializer = initializers.get(embeddings_initializer, "Embedding: embeddings_initializer")
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer, "Embedding: embeddings_regularizer")
        self.embeddings_constraint = constraints.get(embeddings_constraint, "Embedding: embeddings_constraint")

    def build(self, input_shape):
        if self.dtype is not None and np.dtype(self.dtype) == np.float32 and self.input_dim > _FLOAT32_EXACT:
            raise ValueError(f"{self.describe()}: input_dim={self.input_dim} is more rows than float32 can index "
                             f"exactly (2**24 = {_FLOAT32_EXACT}): fit passes the indices in the model's dtype, "
                             f"which would round large ones to their neighbours; use dtype='float64'")
        self.add_weight("embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer,
                        self.embeddings_regularizer, self.embeddings_constraint)
        super().build(input_shape)

    def output_shape(self, input_shape):
        return (*tuple(input_shape), self.output_dim)

    def __call__(self, x, training=False):
        if getattr(x, "dtype", np.dtype(np.float32)).kind not in "iuf":     # before Layer's cast to floats
            raise _not_numbers(self, x)
        return super().__call__(x, training)

    def forward(self, x, training=False):
        self.x = x
        # the indices are kept for backward (and model.trace)
        self.indices = indices = self._indices(x)
        return np.take(self.params["embeddings"], indices, axis=0)

    def _indices(self, x):
        """``x`` as an array of row indices (intp), checked: whole numbers in [0, input_dim)."""
        if x.dtype.kind in "iu":
            indices = x.astype(np.intp, copy=False)
        elif x.dtype.kind == "f":
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)     # NaN and inf cast: caught below
                indices = x.astype(np.intp)
            wrong = indices != x
            if wrong.any():
                raise ValueError(f"{self.describe()}: expected integer indices, got {float(x[wrong].reshape(-1)[0])} "
                                 f"({int(wrong.sum())} of the {x.size} values are not whole numbers)")
        else:
            raise _not_numbers(self, x)
        if indices.size and (indices.min() < 0 or indices.max() >= self.input_dim):
            bad = indices[(indices < 0) | (indices >= self.input_dim)]
            raise ValueError(f"{self.describe()}: indices must be in [0, {self.input_dim}) (input_dim), got "
                             f"{int(bad.reshape(-1)[0])} ({bad.size} out of range, from {int(indices.min())} "
                             f"to {int(indices.max())})")
        return indices

    def backward(self, grad_output):
        flat, rows = self.indices.reshape(-1), grad_output.reshape(-1, self.output_dim)
        grad = self.grads["embeddings"]
        # the sum per row of the table, column by column through bincount: 3-4x faster than
        # np.add.at (and than sorting the indices) for vocabularies of 50 to 10,000 rows
        for j in range(self.output_dim):
            grad[:, j] = np.bincount(flat, weights=rows[:, j], minlength=self.input_dim)
        if not self.needs_input_gradient:
            return None
        return np.zeros(self.x.shape, dtype=grad_output.dtype)

    def matmul_flops(self, batch_size):
        return 0            # a lookup, no matrix product

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.name_of(self.embeddings_initializer),
                **regularizers.config_entries(self, ("embeddings_regularizer",)),
                **constraints.config_entries(self, ("embeddings_constraint",))}


def _not_numbers(layer, x):
    return TypeError(f"{layer.describe()}: expected integer indices, got an array of dtype {x.dtype}")
