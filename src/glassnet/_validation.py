"""Input checks for the public entry points: turn what users pass into clean float arrays, or raise
an error that names the argument, what was expected and what came."""
import contextlib
import math
import numbers

import numpy as np

from . import backend


# How many calls that take NaN and infinite inputs are running (predict, evaluate, model(x)): Keras
# hands those to the model, which may handle them (ops.isnan, ops.where, ops.nan_to_num); fit's
# training data stays refused (a NaN there only makes the loss NaN: guide/data.md). Read as
# ``not NON_FINITE_TAKEN[0]`` where a model's inputs are prepared: no function call on fit's path
NON_FINITE_TAKEN = [0]


@contextlib.contextmanager
def non_finite_inputs():
    """Inside it, the model inputs prepared (``as_array(..., finite=not NON_FINITE_TAKEN[0])``) may
    hold NaN and inf."""
    NON_FINITE_TAKEN[0] += 1
    try:
        yield
    finally:
        NON_FINITE_TAKEN[0] -= 1


def as_array(value, name, dtype, allow_int=False, cast=True, finite=True):
    """Convert ``value`` (ndarray, list, pandas object, CuPy array) to an array of ``dtype``.

    Rejects ragged lists, strings, objects, empty arrays and NaN/inf (unless ``finite`` is False)
    with a ValueError/TypeError naming ``name``. With ``allow_int``, integer arrays are returned as int64 (class labels).
    With ``cast=False`` the checks are the same (values beyond ``dtype``'s range included) but the
    array comes back in its own dtype, for a caller that casts it chunk by chunk (``predict`` on
    50,000 uint8 images would otherwise hold a float32 copy of them all).
    """
    if value is None:
        raise TypeError(f"{name}: expected an array, got None")
    xp = backend.get_array_module(value)
    if xp is np:
        if hasattr(value, "to_numpy"):          # pandas DataFrame / Series
            value = value.to_numpy()
        try:
            arr = np.asarray(value)
        except ValueError as exc:               # numpy 2 refuses ragged nested lists
            raise ValueError(f"{name}: expected a rectangular array, got a ragged sequence ({exc}); "
                             f"sequences of different lengths are padded to one with "
                             f"glassnet.utils.pad_sequences (and masked with Embedding(mask_zero=True) "
                             f"or Masking)") from None
    else:
        arr = value
    if arr.dtype == object and arr.ndim == 0 and not isinstance(value, np.ndarray):
        # not an array at all (the torch tutorial's WrappedDataLoader, a set): name its class, not
        # the 0-d object array NumPy wrapped it in
        hint = ("; batches go in as a generator (iter() of it), a PyDataset, a torch DataLoader or a "
                "tf.data.Dataset") if hasattr(value, "__iter__") else ""
        raise TypeError(f"{name}: expected an array, got an object of type {type(value).__name__}{hint}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected numbers, got an array of dtype {arr.dtype} "
                        f"(strings and objects are not accepted)")
    if arr.ndim == 0:
        raise ValueError(f"{name}: expected an array with a batch axis, got a scalar")
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one sample, got an empty array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: expected samples that hold values, got {arr.shape[0]} empty ones, an array "
                         f"of shape {arr.shape}")
    if finite and arr.dtype.kind == "f":
        bad = _count_not_finite(arr, xp)
        if bad:
            raise ValueError(f"{name}: contains {bad} NaN or infinite value(s), the first in sample "
                             f"{_first_not_finite_sample(arr, xp)}")
    if allow_int and arr.dtype.kind in "biu":
        return arr.astype(np.int64, copy=False)
    dtype = np.dtype(dtype)
    if arr.dtype.kind == "f" and arr.dtype.itemsize > dtype.itemsize:
        # finite float64 values beyond float32's range would become inf in the cast: refuse them
        # (two reductions, no copy of the data)
        largest = float(np.finfo(dtype).max)
        if finite:
            beyond = float(arr.max()) > largest or float(arr.min()) < -largest
        else:       # NaN and inf pass as they are; a finite value that the cast makes inf does not
            beyond = bool(xp.any(xp.isfinite(arr) & (abs(arr) > largest)))
        if beyond:
            bad = int(xp.count_nonzero(xp.isfinite(arr) & (abs(arr) > largest)))
            raise ValueError(f"{name}: contains {bad} value(s) beyond the range of {dtype} (largest "
                             f"{largest:.3g}); scale the data, or use dtype='float64'")
    return arr.astype(dtype, copy=False) if cast else arr


def rows_per_block(arr, numbers=1 << 20):
    """How many samples (rows along axis 0) of ``arr`` hold about ``numbers`` values, at least one:
    the block size for passes over big data whose temporaries should stay a block's size."""
    return max(1, numbers // max(1, arr[:1].size))


def _count_not_finite(arr, xp):
    """How many NaN/inf values a floating ``arr`` holds; over blocks of samples when it is big, so
    that the check's boolean temporary is a block's, not the data's size."""
    rows = rows_per_block(arr)
    if arr.shape[0] <= rows:
        return arr.size - int(xp.count_nonzero(xp.isfinite(arr)))
    return sum(arr[i:i + rows].size - int(xp.count_nonzero(xp.isfinite(arr[i:i + rows])))
               for i in range(0, arr.shape[0], rows))


def _first_not_finite_sample(arr, xp):
    """The index along axis 0 of the first sample of ``arr`` holding a NaN/inf (it has one), found
    block by block as ``_count_not_finite`` counts: the row to look at in data of 60,000 samples."""
    rows = rows_per_block(arr)
    for i in range(0, arr.shape[0], rows):
        block = arr[i:i + rows].reshape(min(rows, arr.shape[0] - i), -1)
        bad = xp.flatnonzero(~xp.isfinite(block).all(axis=1))
        if bad.size:
            return i + int(bad[0])
    return None


def check_class_labels(labels, classes, name):
    """Class labels (an array of any shape: integers, or floats that are whole numbers) as int64,
    when every one lies in [0, ``classes``); a ValueError naming ``name`` otherwise. A fraction would
    be truncated to a class silently, and a label of -1 would pick the last class through negative
    indexing.

    >>> check_class_labels(np.array([0.0, 2.0]), 3, "y").tolist()
    [0, 2]
    """
    xp = backend.get_array_module(labels)
    if labels.dtype.kind == "f" and not bool(xp.all(labels == xp.round(labels))):
        raise ValueError(f"{name}: expected integer class labels, got non-integer values")
    labels = labels.astype(np.int64)
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= classes):
        raise ValueError(f"{name}: labels must lie in [0, {classes}) for a model with {classes} outputs, "
                         f"got values from {int(labels.min())} to {int(labels.max())}")
    return labels


def refuse_positional_data_format(value, owner, name):
    """A ValueError when ``value``, given for ``name``, is "channels_first"/"channels_last": Keras takes
    data_format by position where glassnet's layer takes ``name`` (a ported ``Conv2D(8, 3, 1, "valid",
    "channels_first")`` or ``UpSampling2D(2, "channels_first")``), so say data_format, by keyword."""
    if isinstance(value, str) and value in ("channels_first", "channels_last"):
        raise ValueError(f"{owner}: {name}={value!r} is a data_format, not {name}: where Keras takes data_format by "
                         f"position, glassnet takes it by keyword: pass data_format={value!r}")


def check_positive_int(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def check_non_negative_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name}: expected a non-negative integer, got {value!r}")
    return int(value)


def check_seed(value, name="seed"):
    """A seed as an int (or None): a non-negative integer, as numpy's generators take. Checked
    where it is given, not where numpy first reads it (a float seed failed at build, in numpy's words)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name}: expected a non-negative integer or None, got {value!r:.100}")
    return int(value)


def check_shuffle_seed(seed, where):
    """``seed`` as ``numpy.random.RandomState`` takes it (None, or an integer in [0, 2**32 - 1]), or a
    ValueError naming it: NumPy's own errors ("Cannot cast scalar from dtype('float64')") name nothing."""
    if seed is not None and (isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer))
                             or not 0 <= seed < 2 ** 32):
        raise ValueError(f"{where}: seed must be None or an integer in [0, 2**32 - 1], got {seed!r:.40}")
    return seed


def check_name(value, name="name"):
    """A model's or a layer's name: a non-empty string without control characters (None: the
    caller picks one). The name is printed by ``summary`` and ``glassnet info`` and keys a model
    file's weights: a list would fail as a dict key, and terminal escapes in a file's names would
    reach the terminal of whoever inspects it."""
    if value is None:
        return None
    # (a lone surrogate, "\ud800", is no character at all: printing it fails, in summary too)
    if not isinstance(value, str) or not value or any(ord(c) < 32 or 127 <= ord(c) < 160 or c in _BIDI
                                                      or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise ValueError(f"{name}: expected a non-empty string without control characters, got {value!r:.100}")
    return value


# Unicode's bidirectional embeddings, overrides and isolates: they reorder how the rest of a line is
# shown (a name could make a summary line read as something else)
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def check_fraction(value, name):
    """A number in [0, 1) (NumPy numbers too, not bools): a share of the samples."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0 <= value < 1:
        raise ValueError(f"{name}: expected a fraction in [0, 1), got {value!r}")
    return float(value)


# the intervals check_number knows, with their tests. NaN fails each one (every comparison with NaN
# is False), and the two open-ended ones refuse inf too: an infinite learning rate or epsilon is
# never what was meant, and it would only show up later as NaN weights
_INTERVALS = {
    "> 0": lambda v: 0 < v < math.inf,
    ">= 0": lambda v: 0 <= v < math.inf,
    "[0, 1)": lambda v: 0 <= v < 1,
    "[0, 1]": lambda v: 0 <= v <= 1,
    "(0, 1]": lambda v: 0 < v <= 1,
    "(0, 1)": lambda v: 0 < v < 1,
    "<= 0": lambda v: -math.inf < v <= 0,
    "finite": math.isfinite,
}


def check_number(value, name, interval):
    """``value`` as a Python float, when it is a real number inside ``interval`` (a key of
    ``_INTERVALS``: ``"> 0"``, ``">= 0"``, ``"[0, 1)"``, ``"[0, 1]"``, ``"(0, 1]"``, ``"(0, 1)"``, ``"<= 0"``, ``"finite"``); the hyper-parameters of
    optimizers and layers go through here.

    Python and NumPy ints and floats pass (any ``numbers.Real``: a ``Fraction`` too); bools do not (``True`` is an int to Python, but a flag
    given for a number is a slip), nor do strings or None. Anything else raises a ValueError naming
    ``name`` (e.g. ``"SGD: momentum"``), the interval and the value.

    >>> check_number(np.int64(1), "SGD: learning_rate", "> 0")
    1.0
    >>> check_number("0.9", "SGD: momentum", "[0, 1)")
    Traceback (most recent call last):
    ...
    ValueError: SGD: momentum must be a number in [0, 1), got '0.9'
    """
    number = math.nan
    if not isinstance(value, (bool, np.bool_)) and isinstance(value, numbers.Real):
        try:
            number = float(value)
        except OverflowError:           # an int beyond float's range, 10**400
            number = math.inf
    if not _INTERVALS[interval](number):
        expected = ("a finite number" if interval == "finite" else f"a number in {interval}"
                    if interval[0] in "[(" else f"a finite number {interval}")
        raise ValueError(f"{name} must be {expected}, got {value!r:.100}")
    return number


def check_flag(value, name, error=TypeError):
    """``value`` as a bool when it is True or False (NumPy's too); ``error`` (a TypeError, or the
    ValueError that scikit-learn parameters raise) naming ``name`` otherwise: any non-empty string
    is truthy, so "no" or "False" would quietly mean True.

    >>> check_flag(np.bool_(False), "shuffle")
    False
    """
    if not isinstance(value, (bool, np.bool_)):
        raise error(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def check_verbose(value):
    """Keras' verbose values: 0 silent, 1 (or "auto") progress, 2 one line per epoch."""
    if isinstance(value, str) and value == "auto":
        return 1
    # a number before "in": an array's comparisons are arrays, and their truth value an error of
    # NumPy's that names no argument
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or value not in (0, 1, 2):
        raise ValueError(f"verbose: expected 0, 1, 2 or 'auto', got {value!r:.100}")
    return int(value)


def shown(value, limit=80):
    """``value``'s type and repr on one line, cut to about ``limit`` characters: what came, in an
    error about a value of the wrong type (an array's repr spans lines and may be long).

    >>> shown(np.array(["same", "valid"]))
    "ndarray: array(['same', 'valid'], dtype='<U5')"
    """
    text = " ".join(repr(value).split())
    return f"{type(value).__name__}: {text if len(text) <= limit else text[:limit - 3] + '...'}"


def check_choice(value, name, choices, *, lower=False, expected=None, note=""):
    """``value`` when it is one of the strings ``choices`` (lower-cased first with ``lower``, and
    returned so); for the string options of constructors (padding, mode, interpolation, ...).

    A non-string is refused before the membership test: ``array not in choices`` is an array
    whose truth value is NumPy's error naming no argument, and a dict is unhashable for a set.
    None is judged as a choice (in ``choices``, or a ValueError: Keras often takes None). ``name``
    is what the message leads with (``"Conv2D: padding"``), ``expected`` the words after "must be"
    (``"one of [...]"`` by default), ``note`` an explanation appended to the ValueError.

    >>> check_choice("Same", "Conv2D: padding", ("valid", "same"), lower=True)
    'same'
    >>> check_choice(["same"], "Conv2D: padding", ("valid", "same"))
    Traceback (most recent call last):
    ...
    TypeError: Conv2D: padding must be a str, one of ['valid', 'same'], got list: ['same']
    """
    expected = expected or f"one of {list(choices)}"
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be a str, {expected}, got {shown(value)}")
    key = value.lower() if lower and value is not None else value
    if key not in choices:
        raise ValueError(f"{name} must be {expected}, got {value!r:.80}{note}")
    return key


def check_only(value, name, only):
    """Refuse a Keras argument that glassnet implements at one value only (``only``: a str, a
    bool or None), with an error naming ``name`` and that value; compared by type first, so an
    array given meets no elementwise ``!=`` (NumPy's truth-value error) and ``0`` is not False. A
    non-string for a string option is a TypeError (as ``check_choice`` has it)."""
    if isinstance(only, str) and value is not None and not isinstance(value, str):
        check_choice(value, name, (only,))
    if only is None:
        same = value is None
    else:
        same = isinstance(value, type(only)) and isinstance(value, bool) == isinstance(only, bool) and value == only
    if not same:
        raise ValueError(f"{name}={value!r:.40} is not supported (only {only!r})")
    return value
