"""CategoryEncoding: integer categories as one-hot, multi-hot or count vectors (Keras' layer)."""
import numpy as np

from .. import backend
from .._validation import check_choice, check_positive_int
from .base import Layer, zero_input_gradient
from .embedding import check_indices

MODES = ("one_hot", "multi_hot", "count")
# Keras' older names of two output modes, which Keras 3 still takes and keeps under the current
# names (keras.io's structured-data example passes output_mode="binary"): the lookups, this layer
# ("binary" only) and TextVectorization read them so
MODE_ALIASES = {"binary": "multi_hot", "tf-idf": "tf_idf"}


def current_mode(output_mode, aliases=MODE_ALIASES):
    """``output_mode`` under its current name (``"binary"`` -> ``"multi_hot"``, ``"tf-idf"`` ->
    ``"tf_idf"``); anything else as given, for the caller's check to refuse by name."""
    return aliases.get(output_mode, output_mode) if isinstance(output_mode, str) else output_mode


def encode_categories(categories, num_tokens, output_mode, dtype):
    """Whole-number categories in [0, num_tokens) as vectors of ``num_tokens`` numbers of ``dtype``.

    "one_hot": (batch, ...) -> (batch, ..., num_tokens), each value its own vector; "multi_hot" and
    "count": (batch, k) -> (batch, num_tokens), each sample's categories present (1) or counted;
    (batch, k, d, ...) -> (batch, d, ..., num_tokens), counted along axis 1 as Keras does.
    """
    xp = backend.get_array_module(categories)
    categories = categories.astype(np.intp)
    if output_mode == "one_hot":
        return (categories[..., None] == xp.arange(num_tokens)).astype(dtype)
    if categories.ndim > 2:
        # Keras reduces its one-hot vectors over axis 1 only: each (batch, d, ...) position is a bag
        bags = xp.moveaxis(categories, 1, -1)
        flat = encode_categories(bags.reshape(-1, bags.shape[-1]), num_tokens, output_mode, dtype)
        return flat.reshape(*bags.shape[:-1], num_tokens)
    # each sample's categories counted by one bincount over (sample, category) cells
    cells = (xp.arange(categories.shape[0])[:, None] * num_tokens + categories).reshape(-1)
    out = xp.bincount(cells, minlength=categories.shape[0] * num_tokens).reshape(categories.shape[0], num_tokens)
    return (out > 0 if output_mode == "multi_hot" else out).astype(dtype)


class CategoryEncoding(Layer):
    """Integer categories in [0, ``num_tokens``) as vectors of ``num_tokens`` numbers.

    Parameters
    ----------
    num_tokens : int
        How many categories; every input value must be a whole number below it.
    output_mode : {"multi_hot", "one_hot", "count"}
        "one_hot": each value becomes its own vector (a last axis of 1 is replaced by the vector);
        "multi_hot": each sample's values become one vector with a 1 for each category present;
        "count": how many times each category occurs in the sample. Keras' older name "binary"
        is taken as "multi_hot", as Keras 3 takes it.

    Shapes: "one_hot" (batch, ..., k) -> (batch, ..., k, num_tokens), or (batch, ..., num_tokens)
    for k = 1; "multi_hot" and "count" (batch, k) -> (batch, num_tokens), and as Keras
    (batch, k, d, ...) -> (batch, d, ..., num_tokens): each position after axis 1 counts its own
    k values (Keras reduces over axis 1 only; its docs do not say so). Unlike Keras,
    values outside [0, num_tokens) or not whole are refused (Keras makes zero rows of those, or
    truncates them), and there is no ``count_weights`` or ``sparse``. The input gradient is 0 (the
    values are categories).

    Example
    -------
    >>> CategoryEncoding(4, output_mode="count")(np.array([[0, 3, 3], [1, 1, 2]])).tolist()
    [[1.0, 0.0, 0.0, 2.0], [0.0, 2.0, 1.0, 0.0]]
    """

    # the input is categories: a finite-difference check (glassnet.gradcheck) cannot nudge it
    discrete_input = True
    index_argument = "num_tokens"       # what an error about too large an index asks to raise

    shape_arguments = ('num_tokens',)        # named when its output is too large (glassnet._bounds)

    def __init__(self, num_tokens, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if sparse is not False:
            raise ValueError(f"CategoryEncoding: sparse={sparse!r:.40} is not supported (only False)")
        self.num_tokens = check_positive_int(num_tokens, "CategoryEncoding: num_tokens")
        output_mode = current_mode(output_mode, {"binary": "multi_hot"})      # Keras' older name
        check_choice(output_mode, "CategoryEncoding: output_mode", MODES)
        self.output_mode = output_mode

    @property
    def input_dim(self):
        """The number of categories, ``num_tokens`` (the name an Embedding gives it)."""
        return self.num_tokens

    def build(self, input_shape):
        self.output_shape(input_shape)          # refuses samples it cannot take, by name
        super().build(input_shape)

    def output_shape(self, input_shape):
        shape = tuple(input_shape)
        if self.output_mode != "one_hot":
            if not shape:
                raise ValueError(f"{self.describe()}: output_mode={self.output_mode!r} takes samples of k categories, "
                                 f"inputs (batch, k, ...); got samples of shape {shape}")
            return (*shape[1:], self.num_tokens)        # counted along the sample's first axis (Keras' axis 1)
        if not shape or shape[-1] != 1:
            return (*shape, self.num_tokens)
        return (*shape[:-1], self.num_tokens)

    def check_input_values(self, x, name):
        check_indices(x, self.num_tokens, name, "a CategoryEncoding's input", "the CategoryEncoding's num_tokens")

    def __call__(self, x, training=None, mask=None):
        """As ``Layer.__call__``, and, called on its own, Keras' reading of fewer axes: a 1-D array
        ``(k,)`` is k values in "one_hot" (``(k, num_tokens)``) and one sample in "multi_hot" and
        "count" (``(num_tokens,)``); a scalar is one value (``(1, num_tokens)``, ``(num_tokens,)``)."""
        from .symbolic import is_symbolic
        if is_symbolic(x):
            return super().__call__(x, training=training, mask=mask)
        xp = backend.get_array_module(x)
        x = xp.asarray(x)           # (Keras' example passes a list, [3, 2, 0, 1])
        if x.ndim >= 2:
            return super().__call__(x, training=training, mask=mask)
        if self.output_mode == "one_hot":
            return super().__call__(xp.reshape(x, (-1, 1)), training=training, mask=mask)
        return super().__call__(xp.reshape(x, (1, -1)), training=training, mask=mask)[0]

    def forward(self, x, training=False):
        self.x = x
        self.check_input_values(x, self.describe())
        out = encode_categories(x, self.num_tokens, self.output_mode, x.dtype)
        self.a = out.reshape(x.shape[0], *self.output_shape(x.shape[1:]))      # (k = 1: one_hot's last axis goes)
        return self.a

    def backward(self, grad_output):
        return zero_input_gradient(self, grad_output)        # categories

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens, "output_mode": self.output_mode}
