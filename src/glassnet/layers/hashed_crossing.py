"""HashedCrossing: two or more categorical features crossed into ``num_bins`` bins by their hash
(Keras' layer, the "hashing trick" for feature crosses: a bin per pair such as (city, weekday)).

The bins equal Keras', which calls ``tf.sparse.cross_hashed``: each feature's value becomes 64 bits
(a string: FarmHash's Fingerprint64 of its UTF-8 bytes, ``hashing.fingerprint64``; an integer: its
own two's-complement bits, not its digits as ``Hashing`` hashes it), the features are folded in
order into TensorFlow's starting key with ``FingerprintCat64``, and the bin is the result mod
``num_bins`` (unsigned 64-bit arithmetic throughout).
"""
import numpy as np

from .._bounds import check_sample_values
from .._validation import check_choice, check_positive_int
from .encoding import encode_categories
from .hashing import _M64, fingerprint64, host_array, value_keys
from .merging import _Merge
from .input import InputLayer

MODES = ("int", "one_hot")
# the hash_key tf.sparse.cross_hashed starts from when given none (sparse_ops.py)
_CROSS_KEY = 0xDECAFCAFFE
_CAT_MUL = 0xC6A4A7935BD1E995        # FingerprintCat64's multiplier (tensorflow/core/platform/fingerprint.h)


def _shift_mix(value):
    return value ^ (value >> 47)


def fingerprint_cat64(first, second):
    """TensorFlow's ``FingerprintCat64``: two 64-bit fingerprints into one (order matters)."""
    result = first ^ _CAT_MUL
    result ^= (_shift_mix((second * _CAT_MUL) & _M64) * _CAT_MUL) & _M64
    result = (result * _CAT_MUL) & _M64
    return _shift_mix((_shift_mix(result) * _CAT_MUL) & _M64)


def cross_bins(features, num_bins):
    """The bin of each row of ``features`` (a list of equal-length lists, one per feature, of str or
    int in int64's range): ``tf.sparse.cross_hashed``'s, as int64 (n,)."""
    out = np.empty(len(features[0]), dtype=np.int64)
    for i, row in enumerate(zip(*features)):
        hashed = _CROSS_KEY
        for value in row:
            bits = fingerprint64(value.encode("utf-8")) if isinstance(value, str) else value & _M64
            hashed = fingerprint_cat64(hashed, bits)
        out[i] = hashed % num_bins
    return out


class HashedCrossing(_Merge):
    """The cross of two or more categorical features as bins ``hash(features) mod num_bins``,
    Keras' ``HashedCrossing`` (the same bins: see the module docstring).

    Parameters (Keras' names and defaults)
    ----------
    num_bins : int
    output_mode : {"int", "one_hot"}
        The bins, or each as a one-hot vector of ``num_bins``.

    Shapes: a list or tuple of two or more features of one shape, ``()``, ``(batch,)`` or
    ``(batch, 1)``, each of integers or strings (Keras' dtypes; Keras refuses floats) -> "int" bins
    of that shape, int64; "one_hot" ``(batch, num_bins)`` (``(1, num_bins)`` for scalars, as Keras), float32.
    In a functional Model it merges numeric Inputs of shape ``(1,)`` holding integer codes
    (``HashedCrossing(num_bins)([a, b])``): bins ``(1,)`` or vectors ``(num_bins,)`` in the model's
    dtype, no gradient to the codes. Inputs of strings (``dtype="string"``) are refused there:
    glassnet's graph hands texts to a layer called on that Input alone; cross strings before the
    model (the layer on its own) and feed their bins. ``sparse`` is not built.

    Example
    -------
    >>> layer = HashedCrossing(num_bins=5)
    >>> layer((np.array(["A", "B", "A", "B", "A"]), np.array([101, 101, 101, 102, 102]))).tolist()
    [1, 4, 1, 1, 3]
    """

    discrete_input = True   # categories: a finite-difference check cannot nudge them
    shape_arguments = ('num_bins',)        # named when its output is too large (glassnet._bounds)

    def __init__(self, num_bins, output_mode="int", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if sparse is not False:
            raise ValueError(f"HashedCrossing: sparse={sparse!r:.40} is not supported (only False)")
        self.num_bins = check_positive_int(num_bins, "HashedCrossing: num_bins")
        if self.num_bins >= 2 ** 63:
            raise ValueError(f"HashedCrossing: num_bins must be below 2**63 (the bins are int64, as Keras'), got "
                             f"{num_bins}")
        check_choice(output_mode, "HashedCrossing: output_mode", MODES)
        self.output_mode = output_mode
        if output_mode != "int":
            # as soon as it is made: its own call encodes past Layer.__call__'s check (glassnet._bounds)
            check_sample_values(self, self.num_bins, "its vectors (num_bins wide)")

    # -- on its own: Keras' call ------------------------------------------------------------------
    def _features(self, inputs):
        """The features as lists of str or int, after Keras' checks (a list of two or more, one
        shape of at most one value per sample, integers or strings), and their shape."""
        who = self.describe()
        if not isinstance(inputs, (list, tuple)):
            raise TypeError(f"{who}: expects a list or tuple of features, e.g. layer((a, b)), got "
                            f"{type(inputs).__name__}")
        if len(inputs) < 2:
            raise ValueError(f"{who}: crosses at least two features, got {len(inputs)}")
        # unsigned 64-bit codes as TensorFlow casts them to int64: their own bits
        arrays = [a.view(np.int64) if a.dtype == np.uint64 else a for a in (host_array(x) for x in inputs)]
        shape = arrays[0].shape
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise ValueError(f"{who}: each feature must have shape (), (batch,) or (batch, 1), got {shape}")
        if any(a.shape != shape for a in arrays):
            raise ValueError(f"{who}: the features must have one shape, got {[a.shape for a in arrays]}")
        features = []
        for j, array in enumerate(arrays):
            if array.dtype.kind not in "iuSUO":      # Keras: integers or strings (tf.string) only
                raise TypeError(f"{who}: feature {j} must hold integers or strings, got an array of dtype "
                                f"{array.dtype}")
            features.append(self._checked(value_keys(array, f"{who}: feature {j}", who).ravel().tolist(), j))
        return features, shape

    def _checked(self, values, j):
        """One feature's values, all strings or all integers in int64's range (a tensor's)."""
        texts = [isinstance(v, str) for v in values]
        if any(texts) and not all(texts):
            raise TypeError(f"{self.describe()}: feature {j} mixes strings and integers; a feature is one or the other")
        wide = next((v for v in values if not isinstance(v, str) and not -2 ** 63 <= v < 2 ** 63), None)
        if wide is not None:
            raise ValueError(f"{self.describe()}: feature {j}: integers must lie in int64's range, got {wide}")
        return values

    def __call__(self, inputs, training=None, mask=None):
        """Features in (see the class docstring): their bins or vectors, Keras' dtypes; drawn on
        Inputs, the layer joins a functional Model."""
        from .symbolic import is_symbolic
        if is_symbolic(inputs):
            texts = [j for j, x in enumerate(inputs) if isinstance(x, InputLayer) and x.dtype == "string"]
            if texts:
                raise NotImplementedError(
                    f"{self.describe()}: crossing an Input of strings (inputs[{texts[0]}], dtype='string') in a "
                    f"model is not supported: glassnet's graph hands texts only to a layer called on that Input "
                    f"alone. Cross the strings before the model (HashedCrossing({self.num_bins})((a, b)) on "
                    f"the arrays) and feed the bins, or cross integer codes (a numeric Input)")
            return super().__call__(inputs, training=training, mask=mask)
        if mask is not None:
            raise TypeError(f"{self.describe()}: takes no mask")
        features, shape = self._features(inputs)
        bins = cross_bins(features, self.num_bins).reshape(shape)
        self.called_on_data = True          # count_params answers, as after Keras' call (no weights)
        if self.output_mode == "int":
            return bins
        dtype = np.dtype(self.dtype or np.float32)        # Keras' compute dtype: float32 unless given
        return encode_categories(bins.reshape(-1), self.num_bins, "one_hot", dtype).reshape(-1, self.num_bins)

    # -- in a model: integer codes in the model's dtype ---------------------------------------------
    def _check_compatible(self, shapes):
        if any(tuple(s) != (1,) for s in shapes):
            raise ValueError(f"{self.describe()}: in a model each feature is one value per sample, shape (1,), got "
                             f"samples of shapes {[tuple(s) for s in shapes]}")

    def output_shape(self, input_shape):
        self._checked_shapes(input_shape)
        return (1,) if self.output_mode == "int" else (self.num_bins,)

    def build(self, input_shape):
        exact = {np.dtype(np.float32): 2 ** 24, np.dtype(np.float64): 2 ** 53}[np.dtype(self.dtype or np.float32)]
        if self.output_mode == "int" and self.num_bins - 1 > exact:
            # the bins travel as the model's floats: beyond this they would round to their neighbours
            raise ValueError(f"{self.describe()}: makes bins up to {self.num_bins - 1}, which "
                             f"{np.dtype(self.dtype or np.float32)} holds exactly up to {exact} only; use fewer "
                             f"bins or dtype='float64'")
        super().build(input_shape)

    def check_input_values(self, x, name):
        """A model's Input read by this layer: integer codes, which its float dtype holds exactly."""
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{name}: {self.describe()} crosses integer codes, got an array of dtype {x.dtype}")
        self._codes(x, name)

    def _codes(self, x, name):
        """``x`` (floats or integers holding whole numbers) as a list of ints; a fraction, NaN or a
        code beyond what the model's float dtype holds exactly is refused, naming ``name``."""
        x = host_array(x)
        if x.dtype.kind == "f":
            whole = np.isfinite(x) & (np.trunc(x) == x)
            if not whole.all():
                first = tuple(int(i) for i in np.argwhere(~whole)[0])
                raise ValueError(f"{name}: {self.describe()} crosses integer codes, got {x[first]} at {first}")
        exact = {np.dtype(np.float32): 2 ** 24, np.dtype(np.float64): 2 ** 53}[np.dtype(self.dtype or np.float32)]
        if x.size and np.abs(x).max() > exact:
            raise ValueError(f"{name}: {self.describe()} gets codes as the model's {np.dtype(self.dtype or np.float32)}, "
                             f"exact up to {exact} only, got {np.abs(x).max()}; use dtype='float64' or smaller codes")
        return [int(v) for v in x.ravel().tolist()]

    def forward(self, inputs, training=False):
        """inputs: a list of (batch, 1) integer codes in the model's dtype -> bins (batch, 1) or
        one-hot vectors (batch, num_bins), in that dtype."""
        self.shapes = [x.shape for x in inputs]
        self._check_arrays(inputs)
        bins = cross_bins([self._codes(x, self.describe()) for x in inputs], self.num_bins)
        dtype = inputs[0].dtype
        if self.output_mode == "int":
            return bins.reshape(-1, 1).astype(dtype)
        return encode_categories(bins, self.num_bins, "one_hot", dtype)

    def backward(self, grad_output):
        """No gradient reaches the codes (they are categories): zeros for each input."""
        if not self.needs_input_gradient:
            return None
        return [np.zeros(shape, dtype=grad_output.dtype) for shape in self.shapes]

    def mask_rule(self, incoming):
        return None         # a bin is no step of a sequence: no mask passes

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "output_mode": self.output_mode}

