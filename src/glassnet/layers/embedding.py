"""Embedding: integer indices (word or category ids) to learned dense vectors, a row of a table each."""
import numpy as np

from .. import backend, constraints, initializers, regularizers
from .._validation import check_flag, check_positive_int
from . import masking
from .base import Layer
from .lora import LoraTarget

# float32 holds every integer up to 2**24 exactly, and fit casts a model's input to its dtype: an
# index above that would arrive rounded to a neighbouring one, a different word, without a sign
_FLOAT32_EXACT = 2 ** 24

# backward sums the output gradients per row of the table with np.bincount: one call per column
# for narrow tables, one call over (row, column) pairs for wide ones, whose index array is
# output_dim times larger. Measured on 2 cores: 32 columns 0.21 against 0.78 ms, 64 columns 1.9
# against 0.8 ms, 256 columns 15 against 7 ms (3,200 positions, 1,000-10,000 rows)
_COLUMNWISE_MAX = 32


class Embedding(LoraTarget, Layer):
    """``output[..., :] = embeddings[index]``: each integer of the input picks a row of a trained
    ``(input_dim, output_dim)`` table (Keras' ``Embedding``, PyTorch's ``nn.Embedding``).

    Parameters
    ----------
    input_dim : int
        The number of rows: indices run from 0 to ``input_dim - 1`` (a vocabulary's size).
    output_dim : int
        The length of each vector.
    embeddings_initializer : str, Initializer or callable
        Keras' default ``"uniform"``: ``RandomUniform(-0.05, 0.05)``. (PyTorch's is a standard
        normal: ``RandomNormal(stddev=1.0)``; ``"normal"`` is Keras' N(0, 0.05^2).)
    embeddings_regularizer, embeddings_constraint : optional
        A penalty on the table added to the loss, a projection of it after every update, as Keras'.
    mask_zero : bool, default False
        Index 0 is padding (Keras' masking): the layer makes a mask, ``ids != 0``, and the layers
        after it that read masks (SimpleRNN, LSTM, GRU, Bidirectional, GlobalAveragePooling1D) skip
        those steps (``glassnet.layers.masking``). Row 0 of the table still exists, so the
        vocabulary's size plus one is the usual ``input_dim``.
    weights : array (input_dim, output_dim), or a list holding one, optional
        The table to start from (Keras' argument): pretrained word vectors, often with
        ``trainable=False``. Not part of the config; a model file holds the table itself.
    input_length : int, optional
        Keras 2's way to give the sequence length: the same as ``input_shape=(input_length,)``.
    lora_rank, lora_alpha : optional
        Keras' LoRA of the table: build with ``enable_lora(lora_rank, lora_alpha)``
        (glassnet.layers.lora; ``lora_embeddings_a`` (input_dim, rank), ``lora_embeddings_b``).

    Shapes: input (batch, ...) of integer indices -- any integer dtype, or floats holding whole
    numbers, as ``fit`` passes them in the model's dtype -- to output (batch, ..., output_dim) in the
    layer's float dtype; ``embeddings`` (input_dim, output_dim). An index that is not a whole number
    or is outside ``[0, input_dim)`` is a ValueError naming it (Keras' CPU kernels raise too); as a
    model's first layer, ``fit``, ``evaluate`` and ``predict`` check all of ``x`` (and the
    validation data) before any work, naming the argument and the sample. One id per sample is
    shape (batch, 1), not (batch,) (a model's samples have at least one axis).

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
    _lora_key = "embeddings"
    _lora_rows = True       # LoRA looks up rows of A, never the whole merged table (layers/lora.py)

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, input_length=None, lora_rank=None,
                 lora_alpha=None, quantization_config=None, **kwargs):
        if input_length is not None:
            if kwargs.get("input_shape") is not None or kwargs.get("input_dim") is not None:
                raise ValueError("Embedding: give input_length or input_shape, not both")
            kwargs["input_shape"] = (check_positive_int(input_length, "Embedding: input_length"),)
        super().__init__(**kwargs)
        if quantization_config is not None:      # Keras': kept, quantizes nothing (layers/quantized.py)
            from .quantized import given_config
            given_config(self, quantization_config)
        self.input_dim = check_positive_int(input_dim, "Embedding: input_dim")
        self.output_dim = check_positive_int(output_dim, "Embedding: output_dim")
        self.mask_zero = check_flag(mask_zero, "Embedding: mask_zero")
        self.embeddings_initializer = initializers.get(embeddings_initializer, "Embedding: embeddings_initializer")
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer, "Embedding: embeddings_regularizer")
        self.embeddings_constraint = constraints.get(embeddings_constraint, "Embedding: embeddings_constraint")
        self._initial_table = None
        self._lora_settings(lora_rank, lora_alpha)
        if weights is not None:
            if isinstance(weights, (list, tuple)) and len(weights) == 1:
                weights = weights[0]
            table = np.asarray(weights)
            if table.shape != (self.input_dim, self.output_dim) or table.dtype.kind not in "biuf" \
                    or not np.isfinite(table).all():
                raise ValueError(f"Embedding: weights must be one finite array of shape (input_dim, output_dim) = "
                                 f"{(self.input_dim, self.output_dim)}, got "
                                 f"{table.shape if table.dtype.kind in 'biuf' else table.dtype} values")
            self._initial_table = table

    def build(self, input_shape):
        if self.dtype is not None and np.dtype(self.dtype) == np.float32 and self.input_dim > _FLOAT32_EXACT:
            raise ValueError(f"{self.describe()}: input_dim={self.input_dim} is more rows than float32 can index "
                             f"exactly (2**24 = {_FLOAT32_EXACT}): fit passes the indices in the model's dtype, "
                             f"which would round large ones to their neighbours; use dtype='float64'")
        self.add_weight("embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer,
                        self.embeddings_regularizer, self.embeddings_constraint)
        if self._initial_table is not None:         # the given table, in the layer's dtype
            self.params["embeddings"][...] = self._initial_table
            self._initial_table = None
        super().build(input_shape)
        self._build_lora()

    def output_shape(self, input_shape):
        return (*tuple(input_shape), self.output_dim)

    @property
    def makes_mask(self):
        return self.mask_zero

    def mask_within_steps(self):
        """Ids of shape (steps, length) give a mask (batch, steps, length): axes within each step."""
        return self.input_shape is not None and len(self.input_shape) > 1

    def compute_mask(self, x):
        """With ``mask_zero``: (batch, steps) booleans, True where the index is not 0; else None.
        On a symbolic tensor (a subclass's ``call`` drawing its graph, Keras' masking guide's
        ``self.lstm(x, mask=self.embedding.compute_mask(inputs))``): None, since in a drawn model
        the mask reaches the layers that read it on its own."""
        from .symbolic import is_symbolic
        if is_symbolic(x):
            return None
        return x != 0 if self.mask_zero else None

    def check_input_values(self, x, name):
        """Refuse data (``x``, all of it, in its own dtype) holding something that is not an index
        into the table: a ValueError naming ``name`` ("x", "validation_data[0]"), the first bad
        value and its sample. ``Sequential`` calls this on its first layer's data before any work."""
        check_indices(x, self.input_dim, name, "an Embedding's input", "the Embedding's input_dim")

    def forward(self, x, training=False):
        self.x = x
        self.check_input_values(x, self.describe())
        if self.mask_readers:
            masking.hand_on(self, self.compute_mask(x))
        # the indices are kept for backward (and model.trace)
        self.indices = indices = x.astype(np.intp, copy=False)
        return backend.get_array_module(x).take(self.params["embeddings"], indices, axis=0)

    def backward(self, grad_output):
        xp = backend.get_array_module(grad_output)
        flat, rows = self.indices.reshape(-1), grad_output.reshape(-1, self.output_dim)
        grad = self.grads["embeddings"]
        # the sum per row of the table, by bincount (see _COLUMNWISE_MAX): 3-4x faster than
        # np.add.at, and than sorting the indices, for vocabularies of 50 to 10,000 rows
        if self.output_dim <= _COLUMNWISE_MAX:
            for j in range(self.output_dim):
                grad[:, j] = xp.bincount(flat, weights=rows[:, j], minlength=self.input_dim)
        else:
            cells = (flat[:, None] * self.output_dim + xp.arange(self.output_dim)).reshape(-1)
            grad[...] = xp.bincount(cells, weights=rows.reshape(-1), minlength=grad.size).reshape(grad.shape)
        if not self.needs_input_gradient:
            return None
        return xp.zeros(self.x.shape, dtype=grad_output.dtype)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.name_of(self.embeddings_initializer),
                "mask_zero": self.mask_zero,
                **regularizers.config_entries(self, ("embeddings_regularizer",)),
                **constraints.config_entries(self, ("embeddings_constraint",)), **self._lora_config()}


def sum_rows(out, flat, rows):
    """``out[r] = sum of rows[k] over the k with flat[k] == r``: ``out`` (n_rows, d) filled from
    indices ``flat`` (m,) and ``rows`` (m, d), by bincount (see _COLUMNWISE_MAX). Embedding's
    LoRA uses it for A's rows; ``Embedding.backward`` runs the same inline (its hot path spares the call)."""
    xp = backend.get_array_module(rows)
    n, d = out.shape
    if d <= _COLUMNWISE_MAX:
        for j in range(d):
            out[:, j] = xp.bincount(flat, weights=rows[:, j], minlength=n)
    else:
        cells = (flat[:, None] * d + xp.arange(d)).reshape(-1)
        out[...] = xp.bincount(cells, weights=rows.reshape(-1), minlength=out.size).reshape(out.shape)


def check_indices(x, size, name, what, bound):
    """Raise unless every value of ``x`` is a whole number in [0, ``size``): a TypeError for an array
    that holds no numbers, a ValueError naming ``name``, the first bad value and where it is.
    ``what`` says what the values are ("an Embedding's input"), ``bound`` what ``size`` is."""
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected integer indices ({what}), got an array of dtype "
                        f"{getattr(x, 'dtype', type(x).__name__)}")
    if x.size == 0:
        return
    xp = backend.get_array_module(x)
    if x.dtype.kind == "f":
        wrong = xp.trunc(x) != x                     # NaN and inf too: their trunc is not equal
        if wrong.any():
            first = tuple(int(i) for i in xp.argwhere(wrong)[0])
            raise ValueError(f"{name}: expected integer indices ({what}), got {float(x[first])} at {first} "
                             f"({int(wrong.sum())} of the {x.size} values are not whole numbers)")
    low, high = x.min(), x.max()
    if low < 0 or high >= size:
        first = tuple(int(i) for i in xp.argwhere((x < 0) | (x >= size))[0])
        value = x[first].item()
        raise ValueError(f"{name}: indices must be in [0, {size}) ({bound}), got {value} at {first} "
                         f"(the data runs from {low.item()} to {high.item()})")
