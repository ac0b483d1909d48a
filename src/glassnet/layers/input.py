"""Input: declares the shape of one sample at the top of a Sequential, as Keras 3 recommends.

``Sequential([Input((784,)), Dense(10)])`` builds the model at once, exactly as
``Dense(10, input_shape=(784,))`` would. Like Keras' ``InputLayer``, it is not one of
``model.layers``: it holds no parameters and does nothing to the data, it only says what comes in.
"""
import numpy as np

from .._validation import check_name
from .base import _sample_shape


class InputLayer:
    """The shape of one input sample (no batch axis), for the first position of a Sequential.

    Parameters
    ----------
    shape : tuple of int
        One sample's shape: ``(features,)`` for vectors, ``(H, W, C)`` for images.
    name : str, optional
    dtype : a NumPy dtype or its name, optional
        What the data holds (Keras' argument; ``"int32"`` for an Embedding's ids). It changes
        nothing: a model passes its input on in its own dtype (float32 unless ``dtype=`` says
        otherwise), in which ids up to 2**24 are exact, and an Embedding reads them from there.
        ``"string"`` with shape ``(1,)`` declares texts, for a ``TextVectorization`` next.

    Example
    -------
    >>> InputLayer((28, 28, 1)).shape
    (28, 28, 1)
    """

    def __init__(self, shape, name=None, dtype=None):
        self.name = check_name(name, "Input: name") or "input_layer"
        self._auto_named = name is None         # a Model renames it when another Input has its name
        if isinstance(dtype, str) and dtype in ("string", "str"):
            # Keras' texts, one per sample: a TextVectorization must come next
            self.shape, self.dtype = tuple(shape), "string"
            if self.shape not in ((), (1,)):
                raise ValueError(f"Input: texts come one per sample, shape (1,) or (); got shape {shape!r:.60}")
            return
        self.shape = _sample_shape(shape, "Input", input_dim_hint=False, argument="shape")
        try:
            self.dtype = None if dtype is None else np.dtype(dtype)
        except TypeError:
            self.dtype = None
        if dtype is not None and (self.dtype is None or self.dtype.kind not in "biuf"):
            raise ValueError(f"Input: dtype must be a numeric NumPy dtype such as 'int32' or 'float32', "
                             f"got {dtype!r:.80}")

    def __repr__(self):
        return f"InputLayer(shape={self.shape})"

    def _no_values(self, *_args, **_kwargs):
        raise TypeError(f"{self!r} holds no values: it is a model's input, where only layers can be called "
                        f"(a functional Model, or a subclass of Model's call, is drawn on it); to scale, use "
                        f"gn.layers.Rescaling; for arithmetic, the merge layers (Add, Multiply, ...) or a Layer "
                        f"of your own")

    # arithmetic and slicing on an input that has no values: one clear error for each
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _no_values
    __floordiv__ = __mod__ = __matmul__ = __rmatmul__ = __pow__ = __neg__ = __getitem__ = _no_values
    # NumPy's functions (np.tanh(x)) and its operators (array + x) call this: the same error, not
    # NumPy's "does not support ufuncs", which says nothing of what to use instead
    __array_ufunc__ = _no_values


def Input(shape, name=None, dtype=None):
    """Keras' ``Input(shape, name, dtype)``: an ``InputLayer`` to put first in a Sequential.

    >>> from glassnet import Sequential
    >>> from glassnet.layers import Dense
    >>> Sequential([Input((2,)), Dense(1)]).built
    True
    """
    return InputLayer(shape, name=name, dtype=dtype)
