"""Hashing: strings or integers into a fixed number of bins by their hash (Keras' layer), for
categories too many or too open-ended for a vocabulary (user ids, postcodes, words).

A value's bin is ``hash(value) mod num_bins``, the hash of its UTF-8 bytes (an integer hashes as
its decimal digits, as Keras writes it: ``tf.strings.as_string``). The hashes are TensorFlow's, so
the bins equal Keras': without a salt, FarmHash's Fingerprint64 (``tf.strings.to_hash_bucket_fast``);
with one, SipHash-2-4 keyed by the salt (``to_hash_bucket_strong``). Both are written out below in
plain Python integers, masked to 64 bits where C's unsigned arithmetic wraps around.
"""
import numpy as np

from .. import backend
from .._bounds import check_sample_values
from .._validation import check_choice, check_positive_int
from .base import Layer, zero_input_gradient
from .encoding import encode_categories
from .text import _holds_text

MODES = ("int", "one_hot", "multi_hot", "count")
_M64 = (1 << 64) - 1
# FarmHash's constants (primes between 2**63 and 2**64)
_K0, _K1, _K2 = 0xC3A5C85C97CB3127, 0xB492B66FBE98F273, 0x9AE16A3B2F90404F


def host_array(data):
    """``data`` as a NumPy array; a list of strings as an object array of them, since NumPy's
    fixed-width strings drop trailing NUL characters ("a\\x00" would be read as "a")."""
    array = np.asarray(backend.to_numpy(data))
    if array.dtype.kind in "US" and isinstance(data, (list, tuple)):
        array = np.asarray(data, dtype=object)
    return array


def value_keys(x, name, who, bools=False):
    """``x`` (any shape) as an object array of the values to hash: str, or int (Hashing hashes an
    integer's decimal digits, HashedCrossing its 64 bits). A float is taken when it is a whole
    number; ``bools``: a bool is the string TensorFlow's ``as_string`` makes of it, "true" or
    "false" (Keras' Hashing hashes those); anything else is refused, naming ``name`` and ``who``
    (the layer)."""
    array = host_array(x.to_numpy() if hasattr(x, "to_numpy") else x)
    if bools and array.dtype.kind == "b":
        array = np.where(array, "true", "false").astype(object)
    elif bools and array.dtype.kind == "O":
        array = np.vectorize(lambda v: ("true" if v else "false") if isinstance(v, (bool, np.bool_)) else v,
                             otypes=[object])(array) if array.size else array
    if array.dtype.kind in "SUO":
        flat = array.ravel().tolist()
        for i, value in enumerate(flat):
            if isinstance(value, bytes):
                try:
                    flat[i] = value.decode("utf-8")
                except UnicodeDecodeError:
                    raise ValueError(f"{name}: {who} reads UTF-8 strings, got {value!r:.40} at "
                                     f"flat index {i}") from None
            elif isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, int, np.integer)):
                raise TypeError(f"{name}: {who} hashes strings or integers, got "
                                f"{type(value).__name__} {value!r:.40} at flat index {i}")
            elif isinstance(value, str):
                flat[i] = value
            elif not -2 ** 63 <= value < 2 ** 64:
                # Keras reads integers as int64 or uint64 tensors: a wider one is no value it hashes
                raise ValueError(f"{name}: {who} hashes integers in [-2**63, 2**64) (int64 or uint64), got "
                                 f"{value} at flat index {i}")
            else:
                flat[i] = int(value)
    elif array.dtype.kind in "iu":
        flat = array.ravel().tolist()
    elif array.dtype.kind == "f":
        # Keras casts floats to int64 before it hashes them: beyond its range that cast overflows
        whole = np.isfinite(array) & (np.trunc(array) == array) & (array >= -2.0 ** 63) & (array < 2.0 ** 63)
        if not whole.all():
            first = tuple(int(i) for i in np.argwhere(~whole)[0])
            raise ValueError(f"{name}: {who} hashes strings or integers, got {array[first]} at {first} (a "
                             f"float must be a whole number in int64's range)")
        flat = [int(v) for v in array.ravel().tolist()]
    else:
        raise TypeError(f"{name}: {who} hashes strings or integers, got an array of dtype "
                        f"{array.dtype}")
    keys = np.empty(len(flat), dtype=object)
    keys[:] = flat
    return keys.reshape(array.shape)


def _word(data, at):
    """The little-endian 64-bit word at byte ``at``."""
    return int.from_bytes(data[at:at + 8], "little")


def _rotate(value, shift):
    """Rotate a 64-bit word right by ``shift`` bits."""
    return ((value >> shift) | (value << (64 - shift))) & _M64 if shift else value


def _shift_mix(value):
    return value ^ (value >> 47)


def _mix(u, v, mul):
    """FarmHash's HashLen16: two words into one (Murmur-inspired)."""
    a = ((u ^ v) * mul) & _M64
    a ^= a >> 47
    b = ((v ^ a) * mul) & _M64
    b ^= b >> 47
    return (b * mul) & _M64


def _short(data):
    """Fingerprint64 of at most 16 bytes."""
    n = len(data)
    if n >= 8:
        mul = _K2 + 2 * n
        a = (_word(data, 0) + _K2) & _M64
        b = _word(data, n - 8)
        return _mix((_rotate(b, 37) * mul + a) & _M64, ((_rotate(a, 25) + b) * mul) & _M64, mul)
    if n >= 4:
        first, last = int.from_bytes(data[:4], "little"), int.from_bytes(data[n - 4:], "little")
        return _mix((n + (first << 3)) & _M64, last, _K2 + 2 * n)
    if n:
        y = data[0] + (data[n >> 1] << 8)
        z = n + (data[n - 1] << 2)
        return (_shift_mix(((y * _K2) ^ (z * _K0)) & _M64) * _K2) & _M64
    return _K2


def _medium(data):
    """Fingerprint64 of 17 to 64 bytes."""
    n = len(data)
    mul = _K2 + 2 * n
    a = (_word(data, 0) * (_K1 if n <= 32 else _K2)) & _M64
    b = _word(data, 8)
    c = (_word(data, n - 8) * mul) & _M64
    d = (_word(data, n - 16) * _K2) & _M64
    y = (_rotate((a + b) & _M64, 43) + _rotate(c, 30) + d) & _M64
    z = _mix(y, (a + _rotate((b + _K2) & _M64, 18) + c) & _M64, mul)
    if n <= 32:
        return z
    e = (_word(data, 16) * mul) & _M64
    f = _word(data, 24)
    g = ((y + _word(data, n - 32)) * mul) & _M64
    h = ((z + _word(data, n - 24)) * mul) & _M64
    return _mix((_rotate((e + f) & _M64, 43) + _rotate(g, 30) + h) & _M64,
                (e + _rotate((f + a) & _M64, 18) + g) & _M64, mul)


def _weak32(data, at, a, b):
    """FarmHash's WeakHashLen32WithSeeds: 32 bytes from ``at`` and two seeds into two words."""
    w, x, y, z = (_word(data, at + k) for k in (0, 8, 16, 24))
    a = (a + w) & _M64
    b = _rotate((b + a + z) & _M64, 21)
    c = a
    a = (a + x + y) & _M64
    b = (b + _rotate(a, 44)) & _M64
    return (a + z) & _M64, (b + c) & _M64


def fingerprint64(data):
    """FarmHash's Fingerprint64 of ``data`` (bytes): an int in [0, 2**64). TensorFlow's
    ``tf.fingerprint(..., "farmhash64")``, the hash of ``to_hash_bucket_fast``."""
    n = len(data)
    if n <= 16:
        return _short(data)
    if n <= 64:
        return _medium(data)
    # longer: 64 bytes a round into a state of five words (v and w are pairs), then the last 64
    x, y = 81, (81 * _K1 + 113) & _M64
    z = (_shift_mix((y * _K2 + 113) & _M64) * _K2) & _M64
    v, w = (0, 0), (0, 0)
    x = (x * _K2 + _word(data, 0)) & _M64
    for at in range(0, ((n - 1) // 64) * 64, 64):
        x = (_rotate((x + y + v[0] + _word(data, at + 8)) & _M64, 37) * _K1) & _M64
        y = (_rotate((y + v[1] + _word(data, at + 48)) & _M64, 42) * _K1) & _M64
        x ^= w[1]
        y = (y + v[0] + _word(data, at + 40)) & _M64
        z = (_rotate((z + w[0]) & _M64, 33) * _K1) & _M64
        v = _weak32(data, at, (v[1] * _K1) & _M64, (x + w[0]) & _M64)
        w = _weak32(data, at + 32, (z + w[1]) & _M64, (y + _word(data, at + 16)) & _M64)
        x, z = z, x
    mul = _K1 + ((z & 0xFF) << 1)
    at = n - 64
    w0 = (w[0] + ((n - 1) & 63)) & _M64
    v0 = (v[0] + w0) & _M64
    w0 = (w0 + v0) & _M64
    x = (_rotate((x + y + v0 + _word(data, at + 8)) & _M64, 37) * mul) & _M64
    y = (_rotate((y + v[1] + _word(data, at + 48)) & _M64, 42) * mul) & _M64
    x ^= (w[1] * 9) & _M64
    y = (y + v0 * 9 + _word(data, at + 40)) & _M64
    z = (_rotate((z + w0) & _M64, 33) * mul) & _M64
    v = _weak32(data, at, (v[1] * mul) & _M64, (x + w0) & _M64)
    w = _weak32(data, at + 32, (z + w[1]) & _M64, (y + _word(data, at + 16)) & _M64)
    x, z = z, x
    return _mix((_mix(v[0], w[0], mul) + _shift_mix(y) * _K0 + z) & _M64,
                (_mix(v[1], w[1], mul) + x) & _M64, mul)


def siphash(key, data):
    """SipHash-2-4 of ``data`` (bytes) under ``key``, a pair of 64-bit ints: an int in [0, 2**64).
    TensorFlow's keyed hash, that of ``to_hash_bucket_strong``."""
    def rotl(value, shift):
        return ((value << shift) | (value >> (64 - shift))) & _M64

    def rounds(v0, v1, v2, v3, count):
        for _ in range(count):
            v0 = (v0 + v1) & _M64
            v1 = rotl(v1, 13) ^ v0
            v0 = rotl(v0, 32)
            v2 = (v2 + v3) & _M64
            v3 = rotl(v3, 16) ^ v2
            v0 = (v0 + v3) & _M64
            v3 = rotl(v3, 21) ^ v0
            v2 = (v2 + v1) & _M64
            v1 = rotl(v1, 17) ^ v2
            v2 = rotl(v2, 32)
        return v0, v1, v2, v3

    k0, k1 = key
    v = (k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D, k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573)
    n, whole = len(data), len(data) - len(data) % 8
    # the 8-byte words, then the last one: the tail's bytes, zeros, and the length's low byte on top
    words = [_word(data, at) for at in range(0, whole, 8)]
    words.append(int.from_bytes(data[whole:] + bytes(7 - n % 8) + bytes([n & 0xFF]), "little"))
    for m in words:
        v = rounds(v[0], v[1], v[2], v[3] ^ m, 2)
        v = (v[0] ^ m, *v[1:])
    return _fold(rounds(v[0], v[1], v[2] ^ 0xFF, v[3], 4))


def _fold(v):
    return v[0] ^ v[1] ^ v[2] ^ v[3]


class Hashing(Layer):
    """Strings or integers as bins ``hash(value) mod num_bins``, Keras' ``Hashing``: the same
    bins (TensorFlow's hashes, see the module docstring).

    Parameters (Keras' names and defaults)
    ----------
    num_bins : int
        How many bins. With ``mask_value``, bin 0 is the mask's and the others share the rest:
        ``1 + hash mod (num_bins - 1)``; with ``num_bins=1`` every value, the mask too, is bin 0
        (as Keras).
    mask_value : str or int, optional
        A value that stands for padding: bin 0.
    salt : int or (int, int), optional
        Hash with SipHash keyed by the salt (a number is both halves of the key, as Keras).
    output_mode : {"int", "one_hot", "multi_hot", "count"}

    Shapes: "int" the same shape, bins; "one_hot" (batch, ...) -> (batch, ..., num_bins), a last
    axis of 1 replaced; "multi_hot", "count" (batch, k) -> (batch, num_bins) (more axes: counted
    along axis 1, (batch, k, d) -> (batch, d, num_bins), as Keras). In a model it comes
    first, as ``TextVectorization`` and ``StringLookup`` do: the model hands it one value per sample
    (strings, or integer codes; ``(batch,)`` or ``(batch, 1)``) and it makes bins ``(batch, 1)`` or
    vectors ``(batch, num_bins)`` of the model's dtype as they come in. In a functional Model its
    Input is ``Input((1,), dtype="string")``. Called on its own it takes values of any shape and
    returns Keras' dtypes: int64 bins, float32 vectors (a 1-D array is one sample's values there).
    A float is taken when it is a whole number (as the integer, as Keras, which casts floats to
    int64 before it hashes them); NaN, fractions and floats beyond int64's range are refused (Keras
    truncates fractions toward zero: 1.5 hashes as 1; its cast overflows beyond the range), as are
    integers beyond [-2**63, 2**64). ``sparse`` is not built.

    Example
    -------
    >>> Hashing(num_bins=3)(np.array([["A"], ["B"], ["C"], ["D"], ["E"]])).ravel().tolist()
    [1, 0, 1, 1, 2]
    >>> Hashing(num_bins=3, mask_value="")(np.array(["", "A"])).tolist()
    [0, 1]
    """

    takes_text = True       # a model hands its values to this layer's encode() as they come in
    discrete_input = True   # categories: a finite-difference check cannot nudge them
    shape_arguments = ('num_bins',)        # named when its output is too large (glassnet._bounds)

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if sparse is not False:
            raise ValueError(f"Hashing: sparse={sparse!r:.40} is not supported (only False)")
        self.num_bins = check_positive_int(num_bins, "Hashing: num_bins")
        if self.num_bins >= 2 ** 63:
            raise ValueError(f"Hashing: num_bins must be below 2**63 (the bins are int64, as Keras'), got {num_bins}")
        check_choice(output_mode, "Hashing: output_mode", MODES)
        self.output_mode = output_mode
        if output_mode != "int":
            # as soon as it is made: called on values it encodes them itself, past Layer.__call__'s
            # first-call check, into vectors num_bins wide (glassnet._bounds)
            check_sample_values(self, self.num_bins, "its vectors (num_bins wide)")
        if mask_value is not None and not isinstance(mask_value, (str, bytes)):
            mask_value = _integer(mask_value, "Hashing: mask_value must be a string or an integer")
        self.mask_value = mask_value.decode("utf-8") if isinstance(mask_value, bytes) else mask_value
        self.salt = _salt(salt)

    # -- values to bins ---------------------------------------------------------------------------
    def bins(self, keys):
        """The bin of each value of ``keys`` (an object array from ``value_keys``), int64, same shape."""
        salt = None if self.salt is None else tuple(v & _M64 for v in self.salt)    # TensorFlow's int64 key as uint64
        hash_of = fingerprint64 if salt is None else (lambda data: siphash(salt, data))
        # one bin holds everything, the mask too: Keras reserves bin 0 only when there are others
        masked = self.mask_value is not None and self.num_bins > 1
        spread = self.num_bins - 1 if masked else self.num_bins
        out = np.empty(keys.size, dtype=np.int64)
        for i, key in enumerate(keys.ravel().tolist()):
            if masked and key == self.mask_value and isinstance(key, str) == isinstance(self.mask_value, str):
                out[i] = 0
            else:
                out[i] = hash_of(str(key).encode("utf-8")) % spread + masked
        return out.reshape(keys.shape)

    def _numbers(self, keys, dtype):
        bins = self.bins(keys)
        if bins.ndim == 0 and self.output_mode != "int":     # one value: as a 1-D array of it
            bins = bins[None]
        if self.output_mode == "int":
            return bins.astype(dtype or np.int64)
        dtype = dtype or np.float32
        if self.output_mode == "one_hot":
            vectors = encode_categories(bins, self.num_bins, "one_hot", dtype)
            return vectors.reshape(*bins.shape[:-1], self.num_bins) if bins.ndim > 1 and bins.shape[-1] == 1 else vectors
        if bins.ndim == 1:          # one sample's values: one vector (Keras)
            return encode_categories(bins[None], self.num_bins, self.output_mode, dtype)[0]
        # (batch, k) -> (batch, num_bins); more axes counted along axis 1, as Keras
        return encode_categories(bins, self.num_bins, self.output_mode, dtype)

    def encode(self, data, name="x", dtype=None, min_length=0):
        """One value per sample, ``(n,)`` or ``(n, 1)`` (a model's input), as bins ``(n, 1)`` or
        vectors ``(n, num_bins)``, in ``dtype`` when given (a model's). ``min_length`` is
        TextVectorization's (a model asks it of each layer that takes texts): one bin a value here."""
        exact = {np.dtype(np.float32): 2 ** 24, np.dtype(np.float64): 2 ** 53}.get(np.dtype(dtype)) if dtype else None
        if self.output_mode == "int" and exact is not None and self.num_bins - 1 > exact:
            # the bins travel as the model's floats: beyond this they would round to their neighbours
            raise ValueError(f"{name}: {self.describe()} makes bins up to {self.num_bins - 1}, which a "
                             f"{np.dtype(dtype)} model holds exactly up to {exact} only; use fewer bins or "
                             f"dtype='float64'")
        keys = value_keys(data, name, self.describe(), bools=True)
        if keys.ndim == 2 and keys.shape[1] == 1:
            keys = keys[:, 0]
        if keys.ndim != 1:
            raise ValueError(f"{name}: {self.describe()} first in a model reads one value per sample, shape (n,) or "
                             f"(n, 1), got shape {keys.shape}")
        return self._numbers(keys.reshape(-1, 1), dtype)

    def ids_shape(self):
        """One sample's shape after this layer, the shape the model builds from."""
        return (1,) if self.output_mode == "int" else (self.num_bins,)

    def __call__(self, x, training=None, mask=None):
        """Values in (strings or integers, any shape; "multi_hot" and "count" count along axis 1): their
        bins or vectors, Keras' dtypes. (A model runs ``forward``, which takes the bins the model
        made; drawn on an ``Input``, the layer joins a functional Model.)"""
        from .symbolic import is_symbolic
        if is_symbolic(x):
            return super().__call__(x, training=training, mask=mask)
        out = self._numbers(value_keys(x, self.describe(), self.describe(), bools=True), None)
        self.called_on_data = True          # count_params answers, as after Keras' call (no weights)
        return out

    # -- inside a model: the bins it made pass through ----------------------------------------------
    def check_input_values(self, x, name):
        pass            # the model hands it the bins it made itself

    def output_shape(self, input_shape):
        return tuple(input_shape)

    def check_input_shape(self, sample_shape):
        if tuple(sample_shape) != self.ids_shape():
            raise ValueError(f"{self.describe()}: expected its bins or vectors of shape {self.ids_shape()}, got "
                             f"samples of shape {tuple(sample_shape)}")

    def forward(self, x, training=False):
        """x: the bins or vectors this layer made of the values, in the model's dtype -> x."""
        if _holds_text(x):
            x = self.encode(x, dtype=self.dtype or np.float32)
        self.x = x
        return x

    def backward(self, grad_output):
        return zero_input_gradient(self, grad_output)        # the bins are categories: no gradient reaches what was hashed

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "mask_value": self.mask_value,
                "salt": None if self.salt is None else list(self.salt), "output_mode": self.output_mode}


def _integer(value, message):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{message}, got {type(value).__name__} {value!r:.40}")
    return int(value)


def _salt(salt):
    """Keras' ``salt``: None, one integer (both halves of the key) or a pair, each in [-2**63, 2**64)
    (a negative one is TensorFlow's int64 key: its unsigned bits)."""
    if salt is None:
        return None
    pair = [salt, salt] if not isinstance(salt, (list, tuple)) else list(salt)
    if len(pair) != 2:
        raise ValueError(f"Hashing: salt must be an integer or a pair of them, got {salt!r:.60}")
    pair = [_integer(v, "Hashing: salt must be an integer or a pair of them") for v in pair]
    # Keras hands the key to TensorFlow as int64 (a negative one is its unsigned bits); an unsigned
    # 64-bit number is taken too
    if not all(-2 ** 63 <= v < 2 ** 64 for v in pair):
        raise ValueError(f"Hashing: salt's numbers must lie in [-2**63, 2**64) (a 64-bit key), got {salt!r:.60}")
    return tuple(pair)
