"""IntegerLookup and StringLookup: integer or string categories (ids, codes, years; colours,
names) as indices into a vocabulary (Keras' preprocessing layers), or as one-hot, multi-hot, count
or tf-idf vectors over it. StringLookup is IntegerLookup's layout over strings, first in a model as
TextVectorization is (the model turns the strings into numbers as they come in).

The indices, Keras' layout: in "int" mode, 0 for ``mask_token`` when one is set; then
``num_oov_indices`` indices for values outside the vocabulary (out-of-vocabulary, OOV; with more
than one, value v goes to the OOV index ``v mod num_oov_indices``, Keras' "floormod"); then the
vocabulary, most frequent first. The vectors' modes leave the mask's index out (a masked value
adds nothing to its sample's vector).

Inside a model the values travel as floats of the model's dtype, as every glassnet input does: a
float32 model holds whole numbers exactly up to 2**24 only, so larger values are refused by name
(a float64 model holds them up to 2**53). Called on their own (``layer(x)``) the layers take
any shape and give Keras' dtypes: int64 indices, int64 vectors (float32 for "tf_idf"), and with
``invert=True`` int64 values (IntegerLookup) or strings (StringLookup).
"""
import collections
import os

import numpy as np

from .. import backend
from .._validation import check_choice, check_flag, check_only, check_positive_int
from ..feeding import is_dataset
from .._bounds import check_sample_values
from .base import Layer, zero_input_gradient
from .encoding import current_mode, encode_categories
from .hashing import fingerprint64, host_array
from .text import _dataset_batches, _holds_text, refuse_vocabulary_path, texts_of, vocabulary_lines

MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")
# the most OOV indices a config (JSON, a model file) may ask for: each is a special token the layer
# lists (``_specials``), so num_oov_indices=10**9 in a few bytes made load_model allocate gigabytes
# before any check on the file applied. Far above any in use (Keras' default: 1)
MAX_CONFIG_OOV_INDICES = 2 ** 16
# the largest whole numbers a float holds exactly, per dtype: a model's values beyond them are refused
_EXACT = {np.dtype(np.float32): 2 ** 24, np.dtype(np.float64): 2 ** 53}


def _whole(value, what):
    """``value`` as an int, when it is a whole number of int64's range (not a bool), else a
    ValueError naming ``what``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, float, np.floating)) \
            or not -2 ** 63 <= value < 2 ** 63 or value != int(value):      # NaN and inf fail the range
        raise ValueError(f"IntegerLookup: {what} must be an integer (int64's range), got {value!r:.60}")
    return int(value)


class IntegerLookup(Layer):
    """Integer values as their indices in a vocabulary, learnt by ``adapt`` or given.

    Parameters (Keras' names and defaults)
    ----------
    max_tokens : int > 1, optional
        The vocabulary's size with its special indices (mask and OOV); ``adapt`` keeps the most
        frequent values that fit. None: every value seen. One no larger than the special indices
        is taken when the layer is made (as Keras) but refused by ``adapt`` and ``set_vocabulary``
        (Keras' adapt fails in TensorFlow or keeps values beyond it) and with ``pad_to_max_tokens``.
    num_oov_indices : int >= 0
        Indices for values outside the vocabulary; 0 refuses such values (a ValueError naming them).
    mask_token : int, optional
        A value that stands for padding: index 0 in "int" mode, nothing in the vectors.
    oov_token : int
        What ``invert=True`` returns for an index outside the vocabulary (Keras' -1).
    vocabulary : list of ints or a path to a text file (one value a line, UTF-8), optional
        Instead of ``adapt``; may start with the special tokens ([mask_token,] oov_token * n). A file
        is read when the layer is made: its config holds the values (a config naming a file is
        refused, so a model file cannot make glassnet read one).
    idf_weights : list of floats, optional
        "tf_idf" with a ``vocabulary``: one weight per entry of it.
    invert : bool
        Indices back to values ("int" mode only): the vocabulary's value, ``mask_token`` for 0 when
        set, ``oov_token`` for any other index.
    output_mode : {"int", "one_hot", "multi_hot", "count", "tf_idf"}
        Keras' older names are taken too, as Keras 3 takes them: "binary" is "multi_hot", "tf-idf"
        is "tf_idf" (the config keeps the current name).
    pad_to_max_tokens : bool
        Vectors ``max_tokens`` wide even when the vocabulary is smaller.

    Shapes: "int" (batch, ...) -> the same shape; "one_hot" (batch, ...) -> (batch, ..., size), a
    last axis of 1 replaced; the others (batch, k) -> (batch, size), size the vocabulary's with its
    special indices (or ``max_tokens``), and (batch, k, d, ...) -> (batch, d, ..., size), counted
    along axis 1 as Keras does. Inside a model the values come in and go out as floats of
    the model's dtype. Called on its own (``layer(x)``) it returns Keras' dtypes, as Keras does:
    int64 indices of any shape (a scalar, 1-D, ...), int64 vectors (float32 for "tf_idf"; a 1-D
    array is one sample's values, a scalar one value), and with ``invert=True`` the int64 values of
    indices of any shape (``layer(model.predict(x).argmax(-1))``: the classes). Keras' ``sparse``,
    ``vocabulary_dtype`` other than "int64", ``oov_method="farmhash"`` and ``salt`` are refused. The
    input gradient is 0 (the values are categories).

    Example
    -------
    >>> layer = IntegerLookup()
    >>> layer.adapt(np.array([[12, 1138, 42], [42, 1000, 36]]))
    >>> layer.get_vocabulary()
    [-1, 42, 1138, 1000, 36, 12]
    >>> layer(np.array([[12, 1138, 42], [42, 1000, 7]])).tolist()
    [[5, 2, 1], [1, 3, 0]]
    >>> IntegerLookup(vocabulary=[1138, 42], invert=True)(np.array([2, 1, 0])).tolist()
    [42, 1138, -1]
    """

    discrete_input = True       # categories: a finite-difference check cannot nudge them

    shape_arguments = ('max_tokens',)        # named when its output is too large (glassnet._bounds)

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1, vocabulary=None,
                 vocabulary_dtype="int64", idf_weights=None, invert=False, output_mode="int", sparse=False,
                 pad_to_max_tokens=False, oov_method="floormod", salt=None, **kwargs):
        super().__init__(**kwargs)
        self._settle(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, idf_weights, invert,
                     output_mode, pad_to_max_tokens,
                     fixed=(("sparse", sparse, False), ("vocabulary_dtype", vocabulary_dtype, "int64"),
                            ("oov_method", oov_method, "floormod"), ("salt", salt, None)))

    def _settle(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, idf_weights, invert,
                output_mode, pad_to_max_tokens, fixed):
        """The constructor's checks, shared with StringLookup: ``fixed`` lists Keras' arguments
        taken at one value only, as (name, value given, the value glassnet implements)."""
        cls = type(self).__name__
        for what, value, only in fixed:
            check_only(value, f"{cls}: {what}", only)
        output_mode = current_mode(output_mode)         # Keras' older "binary" and "tf-idf"
        check_choice(output_mode, f"{cls}: output_mode", MODES)
        self.output_mode = output_mode
        self.max_tokens = check_positive_int(max_tokens, f"{cls}: max_tokens", allow_none=True)
        if self.max_tokens is not None and self.max_tokens <= 1:
            raise ValueError(f"{cls}: max_tokens must be greater than 1, got {max_tokens}")
        if isinstance(num_oov_indices, bool) or not isinstance(num_oov_indices, (int, np.integer)) or num_oov_indices < 0:
            raise ValueError(f"{cls}: num_oov_indices must be an integer >= 0, got {num_oov_indices!r:.40}")
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token = None if mask_token is None else self._token(mask_token, "mask_token")
        self.oov_token = self._token(oov_token, "oov_token")
        self.invert = check_flag(invert, f"{cls}: invert")
        if self.invert and output_mode != "int":
            raise ValueError(f"{cls}: invert=True gives values back, so output_mode must be 'int', got "
                             f"{output_mode!r}")
        self.pad_to_max_tokens = check_flag(pad_to_max_tokens, f"{cls}: pad_to_max_tokens")
        if self.pad_to_max_tokens and self.max_tokens is None:
            raise ValueError(f"{cls}: pad_to_max_tokens=True needs max_tokens (the vectors' width)")
        if self.pad_to_max_tokens and output_mode != "int":
            # refused here, not at build: "tf_idf" pads its weights to max_tokens as it is made
            # (a config's max_tokens=10**10 made a list of 10**10 floats: glassnet._bounds)
            check_sample_values(self, self.max_tokens, "its vectors (pad_to_max_tokens=True: max_tokens wide)")
        if self.pad_to_max_tokens and self.max_tokens is not None and self.max_tokens <= self._token_start():
            # vectors max_tokens wide could not hold the special indices (Keras' call fails on them too)
            self._check_room("pad_to_max_tokens=True")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(f"{cls}: idf_weights go with output_mode='tf_idf', got output_mode={output_mode!r}")
        self.tokens, self.idf_weights = None, None          # set by adapt or set_vocabulary
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
            self._given = True        # made with it: adapt is refused (Keras' has_input_vocabulary)
        elif idf_weights is not None:
            raise ValueError(f"{cls}: idf_weights come with a vocabulary; give both, or adapt")

    @staticmethod
    def _token(value, what):
        """One special token or vocabulary entry, checked: an integer."""
        return _whole(value, what)

    # -- the vocabulary's layout ----------------------------------------------------------------
    def _oov_start(self):
        """The first OOV index: after the mask's index 0 in "int" mode when a mask_token is set."""
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start(self):
        """The first index of the vocabulary's own values."""
        return self._oov_start() + self.num_oov_indices

    def _specials(self):
        return [self.mask_token] * self._oov_start() + [self.oov_token] * self.num_oov_indices

    def get_vocabulary(self, include_special_tokens=True):
        """The values in index order, the special tokens first (``[mask_token,] oov_token, ...``)
        unless ``include_special_tokens=False``."""
        tokens = list(self.tokens or [])
        return self._specials() + tokens if include_special_tokens else tokens

    def vocabulary_size(self):
        """How many indices the layer makes, special ones included: an Embedding's ``input_dim``."""
        return self._token_start() + len(self.tokens or [])

    def _depth(self):
        """The vectors' width: ``max_tokens`` with ``pad_to_max_tokens``, else the vocabulary size."""
        return self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()

    def adapt(self, data, steps=None):
        """Learn the vocabulary from ``data``: integers (a list or an array) or an iterable of such
        batches (``steps`` of them at most; of ``(x, y)`` pairs the x). Values are ranked by how
        often they occur, ties by the value, highest first (Keras' order), the special tokens
        left out, and cut to ``max_tokens``. "tf_idf" also counts the samples (rows) each value
        occurs in, for ``idf = log(1 + rows / (1 + rows with it))``, and gives OOV the mean idf."""
        if self._given:
            raise ValueError(f"{self.describe()}: a vocabulary was given when the layer was made (vocabulary=), "
                             f"which adapt would replace (Keras refuses too); make the layer without it to adapt it "
                             f"(or set_vocabulary after making it, which adapt may replace, as in Keras)")
        single = isinstance(data, (list, tuple, np.ndarray)) or hasattr(data, "__array__")
        if is_dataset(data):
            # a PyDataset (Keras' adapt takes one) is read by index, its batches in order, each once;
            # an endless one (num_batches None) only with steps, as Keras reads it
            data = _dataset_batches(data, steps, f"{self.describe()}: adapt")
        elif not single and (not hasattr(data, "__iter__") or isinstance(data, (str, bytes, dict))):
            raise TypeError(f"{self.describe()}: adapt: expected {self._kinds} or an iterable of batches of them, "
                            f"got {type(data).__name__}")
        counts, documents, rows = collections.Counter(), collections.Counter(), 0
        for i, batch in enumerate([data] if single else data):
            if steps is not None and i >= steps and not single:      # Keras: steps counts batches only
                break
            if isinstance(batch, tuple) and batch and not single:
                batch = batch[0]                # (x, y) from a dataset: the x
            where = "adapt: data" if single else f"adapt: batch {i}"
            try:
                array = host_array(batch)
            except ValueError as error:
                if "inhomogeneous" not in str(error):
                    raise
                # Keras adapts to a tf.ragged tensor (label lists of different lengths); NumPy's own
                # "inhomogeneous shape" error named neither the layer nor the way round it
                raise ValueError(f"{self.describe()}: {where}: its samples have different lengths (a ragged "
                                 f"list, which Keras takes as a tf.ragged tensor) and cannot be one array; "
                                 f"pass one array per sample as batches, adapt(np.array(s) for s in samples), "
                                 f"and call the layer on each sample") from None
            values = self._values(array, where)
            if values.size == 0:
                continue
            # rows are the documents tf_idf counts (Keras): an array's 1-D values one each, a batch's one in all
            if values.ndim < 2:
                values = values.reshape(-1, 1) if single else values.reshape(1, -1)
            values = values.reshape(values.shape[0], -1)
            counts.update(values.ravel().tolist())
            if self.output_mode == "tf_idf":
                for row in values:
                    documents.update(set(row.tolist()))
                rows += values.shape[0]
        if not counts:
            raise ValueError(f"{self.describe()}: adapt: the data holds no values")
        self._check_room("adapt")
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        ranked = sorted(counts.items(), key=lambda item: (item[1], item[0]), reverse=True)
        if self.max_tokens is not None:
            ranked = ranked[:max(self.max_tokens - self._token_start(), 0)]
        tokens = [token for token, _ in ranked]
        idf = None
        if self.output_mode == "tf_idf":
            weights = [float(np.log(1 + rows / (1 + documents[t]))) for t in tokens]
            mean = float(np.mean(weights)) if weights else 0.0
            idf = [mean] * self._token_start() + weights
        self._set(tokens, idf)

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Use ``vocabulary`` (values, most important first; it may start with the special tokens
        in their order) and, for "tf_idf", its ``idf_weights`` (one per entry given)."""
        cls = type(self).__name__
        if isinstance(vocabulary, (str, os.PathLike)):      # Keras: a path to a file, one value a line
            vocabulary = self._read_vocabulary(vocabulary)
        elif np.ndim(vocabulary) == 0:
            # a lone value is not a vocabulary of one (ravel below would make it one): a slip for
            # [value], or for another argument (Keras fails on it in its own words)
            raise ValueError(f"{cls}: vocabulary must be a list of {self._kinds} or a path to a file, got "
                             f"{vocabulary!r:.60}")
        given = [self._token(v, "vocabulary's values") for v in np.asarray(vocabulary, dtype=object).ravel().tolist()] \
            if not isinstance(vocabulary, (str, bytes)) else None
        if not given:
            raise ValueError(f"{cls}: vocabulary must be a non-empty list of {self._kinds}, got {vocabulary!r:.60}")
        specials = self._specials()
        found = given[:len(specials)] == specials
        tokens = given[len(specials):] if found else given
        repeated = sorted(t for t, n in collections.Counter(tokens).items() if n > 1)
        if repeated:
            raise ValueError(f"{cls}: vocabulary repeats {repeated[:5]}; each value once")
        for name, special in (("mask_token", self.mask_token), ("oov_token", self.oov_token if self.invert else None)):
            if special is not None and special in tokens:
                raise ValueError(f"{cls}: vocabulary holds the {name} {special!r} after its start; put the "
                                 f"special tokens {specials} first or leave them out")
        if self.max_tokens is not None and self._token_start() + len(tokens) > self.max_tokens:
            raise ValueError(f"{cls}: vocabulary has {self._token_start() + len(tokens)} entries with the "
                             f"special indices, more than max_tokens={self.max_tokens}")
        if (self.output_mode == "tf_idf") != (idf_weights is not None):
            raise ValueError(f"{cls}: idf_weights go with output_mode='tf_idf' and a vocabulary, and it "
                             f"needs them; got output_mode={self.output_mode!r} and idf_weights={idf_weights!r:.40}")
        idf = None
        if idf_weights is not None:
            weights = np.asarray(idf_weights, dtype=np.float64).ravel()
            if weights.size != len(given) or not np.isfinite(weights).all():
                what = f"{weights.size}" if weights.size != len(given) else f"{weights.size}, not all finite"
                raise ValueError(f"{cls}: expected {len(given)} finite idf_weights, one per entry of the "
                                 f"vocabulary, got {what}")
            # Keras: without the special tokens in front, they weigh the mean of the weights given
            idf = weights.tolist() if found else [float(weights.mean())] * self._token_start() + weights.tolist()
        self._set(tokens, idf)

    def _read_vocabulary(self, path):
        """A vocabulary file's values: one integer a line (written as ``int`` reads it)."""
        values = []
        for i, line in enumerate(vocabulary_lines(path), start=1):
            try:
                values.append(int(line))
            except ValueError:
                raise ValueError(f"{type(self).__name__}: line {i} of the vocabulary file {os.fspath(path)!r:.80} "
                                 f"is not an integer: {line!r:.40}") from None
        return values

    _given = False          # made with vocabulary=: adapt is refused, as Keras' (set_vocabulary later is not)

    def _set(self, tokens, idf):
        if self.max_tokens is not None and self.pad_to_max_tokens and idf is not None:
            idf = idf + [0.0] * (self.max_tokens - len(idf))      # Keras pads the weights with zeros
        if self.built and self.output_mode != "int" and not self.pad_to_max_tokens \
                and self._token_start() + len(tokens) != self.vocabulary_size():
            # the layers after it were built for vectors of the old width (Keras: a RuntimeError)
            raise ValueError(f"{self.describe()}: its vectors are {self.vocabulary_size()} wide, and the layers "
                             f"after it were built for that; a vocabulary of {self._token_start() + len(tokens)} "
                             f"indices would change the width: give max_tokens and pad_to_max_tokens=True for a "
                             f"width that stays, or make a new layer and model")
        self.tokens, self.idf_weights = tokens, idf
        self._index(tokens)

    _kinds = "integers"          # what the vocabulary holds, for errors

    def _index(self, tokens):
        """What ``lookup`` searches: the tokens sorted, and where each came from."""
        order = np.argsort(np.asarray(tokens, dtype=np.int64), kind="stable")
        self._sorted = np.asarray(tokens, dtype=np.int64)[order]
        self._order = order

    def _check_room(self, what):
        """Refuse ``what`` by name when ``max_tokens`` leaves no index for a value after the special
        ones. Keras takes such a layer when it is made (glassnet too: a config may hold one) but
        its adapt then fails in TensorFlow (an empty table) or keeps values beyond max_tokens."""
        start = self._token_start()
        if self.max_tokens is not None and self.max_tokens <= start:
            raise ValueError(f"{self.describe()}: {what}: max_tokens={self.max_tokens} leaves no room for a value "
                             f"after the {start} special indices (mask and OOV); give max_tokens of at least "
                             f"{start + 1}, or fewer num_oov_indices")

    def _require_vocabulary(self):
        if self.tokens is None:
            raise ValueError(f"{self.describe()}: has no vocabulary yet; call adapt(values) or give vocabulary=[...]")

    # -- values to indices ----------------------------------------------------------------------
    def _values(self, x, name):
        """``x`` as int64, checked: whole numbers (NaN and fractions refused by name)."""
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{name}: expected integer values ({self.describe()}), got an array of dtype {x.dtype}")
        if x.dtype.kind == "u" and x.size and x.max() >= 2 ** 63:
            raise ValueError(f"{name}: {self.describe()} takes values of int64's range, got {x.max()}")
        if x.dtype.kind == "f" and x.size and not (np.isfinite(x) & (np.trunc(x) == x)).all():
            first = tuple(int(i) for i in np.argwhere(~(np.isfinite(x) & (np.trunc(x) == x)))[0])
            raise ValueError(f"{name}: expected integer values ({self.describe()}), got {x[first]} at {first}")
        return x.astype(np.int64)

    def check_input_values(self, x, name):
        """Refuse, before a model casts them to its dtype, values that are not whole numbers or that
        the model's floats do not hold exactly."""
        x = np.asarray(backend.to_numpy(x))
        values = self._values(x, name)
        limit = _EXACT.get(np.dtype(self.dtype or np.float32))
        if limit is not None and values.size and np.abs(values).max() > limit:
            raise ValueError(f"{name}: {self.describe()} reads values up to {limit} exactly in a {np.dtype(self.dtype or np.float32)} "
                             f"model, got {values.flat[np.abs(values).argmax()]}; make the model with dtype='float64', "
                             f"or map the values to smaller ones first")

    def output_shape(self, input_shape):
        return self._shape_after(input_shape)

    def compute_output_shape(self, input_shape):
        """Keras' form (batch axis first) of what calling the layer on values (StringLookup's:
        strings) of ``input_shape`` gives: ``(None, 3)`` -> ``(None, 3)`` ("int"), or vectors
        ``(None, width)``, the width None while no vocabulary sets it (Keras' None). Unlike
        ``output_shape``, which for StringLookup is what it passes on inside a model (the
        indices the model made of the strings). A 1-D ``(n,)`` is taken as the call takes it, as
        Keras does: n values ("int": ``(n,)``, "one_hot": ``(n, width)``), or for "multi_hot",
        "count" and "tf_idf" one sample of n values, ``(width,)``."""
        shape = tuple(input_shape)
        if len(shape) < 1:
            raise ValueError(f"{self.describe()}: compute_output_shape: expected a shape with the batch axis "
                             f"first, (None, *sample), got {input_shape!r:.80}")
        if self.invert:                 # indices in, strings out, shape kept
            return shape
        if len(shape) == 1 and self.output_mode not in ("int", "one_hot"):
            return IntegerLookup._shape_after(self, shape, known_width=False)
        return (shape[0], *IntegerLookup._shape_after(self, shape[1:], known_width=False))

    def _shape_after(self, input_shape, known_width=True):
        """One sample's shape after the look-up of values of ``input_shape``; the vectors' width
        is None when not ``known_width`` and no vocabulary sets it yet (else that is refused)."""
        shape = tuple(input_shape)
        if self.output_mode == "int":
            return shape
        if self.pad_to_max_tokens or known_width or self.tokens is not None:
            self._require_vocabulary() if not self.pad_to_max_tokens else None
            width = self._depth()
        else:
            width = None
        if self.output_mode == "one_hot":
            return (*shape[:-1], width) if shape and shape[-1] == 1 else (*shape, width)
        if not shape:
            raise ValueError(f"{self.describe()}: output_mode={self.output_mode!r} takes samples of k values, "
                             f"inputs (batch, k, ...); got samples of shape {shape}")
        return (*shape[1:], width)          # counted along the sample's first axis (Keras' axis 1)

    def build(self, input_shape):
        self.output_shape(input_shape)
        super().build(input_shape)

    def lookup(self, values):
        """The indices of ``values`` (any shape: int64 here, str for StringLookup) in "int" mode's
        layout (module docstring)."""
        self._require_vocabulary()
        found, positions = self._find(values)
        indices = np.where(found, self._token_start() + positions, -1)
        missing = ~found
        if self.mask_token is not None:
            missing &= values != self.mask_token
        if missing.any():
            if self.num_oov_indices == 0:
                raise ValueError(f"{self.describe()}: num_oov_indices=0 takes values of its vocabulary only, got "
                                 f"{sorted(set(values[missing].tolist()))[:5]}; give num_oov_indices=1 (or more)")
            indices = np.where(missing, self._oov_start() + self._oov_offsets(values, missing), indices)
        if self.mask_token is not None:
            # 0 in "int" mode; nothing in the vectors (an index past them, dropped by _encode)
            indices = np.where(values == self.mask_token, 0 if self.output_mode == "int" else -1, indices)
        return indices

    def _find(self, values):
        """(found, position): whether each value is in the vocabulary, and where (0 for the first
        token; anything where not found). A binary search in the sorted tokens."""
        if not len(self._sorted):
            return np.zeros(values.shape, bool), np.zeros(values.shape, np.int64)
        positions = np.minimum(np.searchsorted(self._sorted, values), len(self._sorted) - 1)
        return self._sorted[positions] == values, self._order[positions]

    def _oov_offsets(self, values, missing):
        """Which OOV index each value outside the vocabulary (``missing``) takes: Keras' "floormod"."""
        return np.mod(values, self.num_oov_indices)

    def _invert(self, indices, dtype=None):
        """invert=True: indices (int64, any shape) as the vocabulary's values (int64), ``mask_token``
        for 0 when set, ``oov_token`` for any other index outside it. ``dtype``: the model's float
        dtype the values will travel in, whose exact range the vocabulary must fit (None: int64)."""
        self._require_vocabulary()
        table = np.asarray(self.get_vocabulary(), dtype=np.int64)
        limit = None if dtype is None else _EXACT.get(np.dtype(dtype))
        if limit is not None and table.size and np.abs(table).max() > limit:
            raise ValueError(f"{self.describe()}: invert=True gives back values up to {limit} exactly as {np.dtype(dtype)}, "
                             f"its vocabulary holds {table.flat[np.abs(table).argmax()]}; use dtype='float64'")
        inside = (indices >= self._token_start()) & (indices < len(table))
        out = np.where(inside, table[np.clip(indices, 0, max(len(table) - 1, 0))], self.oov_token)
        if self.mask_token is not None:
            out = np.where(indices == 0, self.mask_token, out)
        return out

    def forward(self, x, training=False):
        self.x = x
        host = np.asarray(backend.to_numpy(x))
        values = self._values(host, self.describe())
        dtype = np.dtype(self.dtype or (host.dtype if host.dtype.kind == "f" else np.float32))
        if self.invert:
            out = self._invert(values, dtype).astype(dtype)
        else:
            indices = self.lookup(values)
            out = indices.astype(dtype) if self.output_mode == "int" else self._encode(indices, dtype)
        return backend.get_array_module(x).asarray(out)

    # -- called on its own: any shape, Keras' dtypes ------------------------------------------------
    def __call__(self, x, training=None, mask=None):
        """Integers in (any shape: a scalar, 1-D, (batch, ...)): their indices (int64, the same
        shape) or vectors (int64; float32 for "tf_idf"), Keras' dtypes; with ``invert=True``
        indices in, the vocabulary's values out (int64). (A model runs ``forward``, in its own
        float dtype; drawn on an ``Input``, the layer joins a functional Model.)"""
        from .symbolic import is_symbolic
        if is_symbolic(x):
            return super().__call__(x, training=training, mask=mask)
        if mask is not None:
            raise TypeError(f"{self.describe()}: takes no mask")
        if _holds_text(x):
            raise TypeError(f"{self.describe()}: expected integers, got strings ({type(x).__name__}); string "
                            f"categories go through StringLookup")
        if self.invert:
            out = self._invert(self._values(np.asarray(backend.to_numpy(x)), f"{self.describe()}: indices"))
        else:
            out = self._numbers(self._values(np.asarray(backend.to_numpy(x)), self.describe()), None)
        self.called_on_data = True          # count_params answers, as after Keras' call (no weights)
        return out

    def _numbers(self, values, dtype):
        """The indices or vectors of ``values`` (checked, any shape) in ``dtype``, or Keras' dtypes
        when None (int64; float32 for "tf_idf"). The vector modes read (batch, k): a 1-D array is
        one sample (one vector out) and a scalar one value, as Keras reads them."""
        indices = self.lookup(values)
        if self.output_mode == "int":
            return indices.astype(dtype or np.int64)
        dtype = dtype or (np.float32 if self.output_mode == "tf_idf" else np.int64)
        if indices.ndim == 0:           # one value: as a 1-D array of it (Keras' vector, or one-hot row)
            indices = indices[None]
        if indices.ndim == 1 and self.output_mode != "one_hot":      # one sample's values: one vector (Keras)
            return self._encode(indices[None], dtype)[0]
        # more axes: counted along axis 1, as Keras (out[b, j] counts x[b, :, j])
        return self._encode(indices, dtype)

    def _encode(self, indices, dtype):
        """The vectors of the indices; a masked value (index -1) adds nothing."""
        depth = self._depth()
        if self.output_mode == "one_hot":
            shape = self._shape_after(indices.shape[1:])
            vectors = encode_categories(np.where(indices < 0, depth, indices), depth + 1, "one_hot", dtype)[..., :depth]
            return vectors.reshape(indices.shape[0], *shape)
        counts = np.ascontiguousarray(encode_categories(np.where(indices < 0, depth, indices), depth + 1, "count",
                                                        dtype)[..., :depth])
        if self.output_mode == "multi_hot":
            return (counts > 0).astype(dtype)
        if self.output_mode == "tf_idf":
            return counts * np.asarray(self.idf_weights[:depth], dtype=dtype)
        return counts

    def backward(self, grad_output):
        return zero_input_gradient(self, grad_output)        # categories

    def get_config(self):
        return {**super().get_config(), "max_tokens": self.max_tokens, "num_oov_indices": self.num_oov_indices,
                "mask_token": self.mask_token, "oov_token": self.oov_token, "invert": self.invert,
                "output_mode": self.output_mode, "pad_to_max_tokens": self.pad_to_max_tokens,
                "vocabulary": None if self.tokens is None else self.get_vocabulary(),
                "idf_weights": self.idf_weights,
                # Keras' key: whether the vocabulary was given (adapt refused) or learnt (the layer a
                # config or model file makes may adapt again, as Keras')
                "has_input_vocabulary": self._given}

    @classmethod
    def from_config(cls, config):
        refuse_vocabulary_path(cls, config)
        oov = config.get("num_oov_indices")
        if isinstance(oov, (int, np.integer)) and oov > MAX_CONFIG_OOV_INDICES:     # (another value: the constructor's)
            raise ValueError(f"{cls.__name__}.from_config: num_oov_indices={oov:,} is more than a config may ask "
                             f"for ({MAX_CONFIG_OOV_INDICES:,}): a damaged or crafted description")
        config = dict(config)
        config.pop("vocabulary_size", None)        # Keras': the vocabulary's, which it follows from
        # a vocabulary written by get_config was given or learnt: as it was (absent, as given)
        given = config.pop("has_input_vocabulary", None)
        for key in ("sparse", "vocabulary_dtype", "oov_method", "salt"):
            if key in config and config[key] in (None, False, "int64", "floormod"):
                config.pop(key)           # Keras' keys at the values glassnet implements
        idf = config.get("idf_weights")
        if idf is not None and config.get("pad_to_max_tokens") and config.get("max_tokens") is not None:
            config["idf_weights"] = idf[:len(config.get("vocabulary") or [])]   # the padding comes back by itself
        layer = super().from_config(config)
        if given is not None:
            layer._given = bool(given) and layer.tokens is not None
        return layer


def _string(value, what):
    """One string token: str, or bytes as UTF-8 (Keras' encoding); anything else a TypeError."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"StringLookup: {what} must be UTF-8, got {value!r:.40} ({exc})") from None
    if not isinstance(value, str):
        raise TypeError(f"StringLookup: {what} must be a string, got {type(value).__name__} {value!r:.40}")
    return str(value)        # a NumPy str_ as a plain str (configs are JSON)


class StringLookup(IntegerLookup):
    """Strings (categories: colours, codes, names, words) as indices into a vocabulary learnt by
    ``adapt`` or given, or as one-hot, multi-hot, count or tf-idf vectors over it: Keras'
    ``StringLookup``, IntegerLookup's layout over strings (module docstring).

    Parameters: IntegerLookup's, with Keras' string defaults: ``oov_token="[UNK]"``,
    ``mask_token`` a string (often ""), the vocabulary a list of strings (bytes are read as UTF-8)
    or a path to a UTF-8 text file of them.

    In a model it comes first, as ``TextVectorization`` does: the model hands it one string per
    sample, ``(batch,)`` or ``(batch, 1)`` (``Input((1,), dtype="string")``), and it turns them into
    indices ``(batch, 1)`` ("int", for an ``Embedding``) or vectors ``(batch, width)`` as they come
    in, in the model's dtype; every later layer sees numbers. Called on its own it takes strings of
    any shape and returns Keras' dtypes: int64 indices of the same shape, int64 vectors (float32
    for "tf_idf"; of (batch, k) strings, or a 1-D array as one sample's, as Keras), or with ``invert=True`` indices back to strings (a NumPy str array: call it on a
    model's predicted classes; no model can hold it, as its output is not numbers).

    Several OOV indices share the unknown strings by their FarmHash fingerprint, as Keras' (see
    ``layers.hashing``). A vocabulary file holds one string a line. Not built: ``sparse``.

    Example
    -------
    >>> layer = StringLookup()
    >>> layer.adapt(["b", "a", "c", "a", "b", "zz", "b"])
    >>> layer.get_vocabulary()
    ['[UNK]', 'b', 'a', 'zz', 'c']
    >>> layer(["a", "b", "q"]).tolist()
    [2, 1, 0]
    >>> StringLookup(vocabulary=["x", "y"], invert=True)([0, 1, 2, 3]).tolist()
    ['[UNK]', 'x', 'y', '[UNK]']
    """

    takes_text = True      # a model hands its strings to this layer's encode() as they come in
    _kinds = "strings"

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]", vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", pad_to_max_tokens=False, sparse=False,
                 encoding="utf-8", oov_method="floormod", salt=None, **kwargs):
        Layer.__init__(self, **kwargs)
        self._settle(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, idf_weights, invert,
                     output_mode, pad_to_max_tokens,
                     fixed=(("sparse", sparse, False), ("encoding", encoding, "utf-8"),
                            ("oov_method", oov_method, "floormod"), ("salt", salt, None)))

    _token = staticmethod(_string)

    def _read_vocabulary(self, path):
        lines = vocabulary_lines(path)       # one string a line
        for i, line in enumerate(lines, start=1):
            # TensorFlow's reader (Keras') refuses an empty line; here "" is only the mask token
            # opening the special tokens, as get_vocabulary() writes them
            if line == "" and not (i == 1 and self.mask_token == ""):
                raise ValueError(f"{type(self).__name__}: line {i} of the vocabulary file {os.fspath(path)!r:.80} "
                                 f"is empty (Keras refuses empty lines too; a trailing blank line is one)")
        return lines

    def _index(self, tokens):
        self._positions = {token: i for i, token in enumerate(tokens)}

    def _find(self, values):
        flat = [self._positions.get(v, -1) for v in values.ravel().tolist()]
        positions = np.asarray(flat, dtype=np.int64).reshape(values.shape)
        return positions >= 0, positions

    def _oov_offsets(self, values, missing):
        """Keras' rule for strings: the OOV index of a string is its FarmHash fingerprint (of its
        UTF-8 bytes) mod ``num_oov_indices``, TensorFlow's ``to_hash_bucket_fast``. Only the
        strings outside the vocabulary are hashed (in Python: the others need no hash)."""
        offsets = np.zeros(values.shape, dtype=np.int64)
        if self.num_oov_indices > 1:
            offsets[missing] = [fingerprint64(v.encode("utf-8")) % self.num_oov_indices for v in values[missing].tolist()]
        return offsets

    def _values(self, x, name):
        """``x`` as an object array of str (bytes read as UTF-8), any shape."""
        array = np.asarray(x.to_numpy() if hasattr(x, "to_numpy") else x, dtype=object)
        flat = array.ravel().tolist()
        for i, value in enumerate(flat):
            if not isinstance(value, str):
                try:
                    flat[i] = _string(value, "a value")
                except (TypeError, ValueError) as exc:
                    raise type(exc)(f"{name}: expected strings ({self.describe()}), got {type(value).__name__} "
                                    f"{value!r:.40} at flat index {i}") from None
        out = np.empty(len(flat), dtype=object)
        out[:] = flat
        return out.reshape(array.shape)

    # -- strings in, numbers out ------------------------------------------------------------------
    def encode(self, data, name="x", dtype=None, min_length=0):
        """One string per sample, ``(n,)`` or ``(n, 1)`` (a model's input), as indices ``(n, 1)``
        or vectors ``(n, width)``, in ``dtype`` when given (a model's), else Keras' dtypes.
        ``min_length`` is TextVectorization's (a model asks it of both): one index a string here."""
        values = self._values(np.asarray(texts_of(data, name), dtype=object).reshape(-1, 1), name)
        return self._numbers(values, dtype)

    def ids_shape(self):
        """One sample's shape after this layer, the shape the model builds from: ``(1,)`` ("int")
        or ``(width,)``."""
        if self.output_mode == "int":
            return (1,)
        if not self.pad_to_max_tokens:
            self._require_vocabulary()
        return (self._depth(),)

    def __call__(self, x, training=None, mask=None):
        """Strings in: their indices or vectors (any shape, Keras' dtypes). With ``invert=True``:
        indices in, strings out. (A model runs ``forward``, which takes the indices the model
        made; drawn on an ``Input`` of texts, the layer joins a functional Model.)"""
        from .symbolic import is_symbolic
        if self.invert:
            if is_symbolic(x):
                raise ValueError(f"{self.describe()}: invert=True gives strings, which no layer or model output "
                                 f"holds; call it on the model's predicted classes instead")
            out = self._strings(np.asarray(backend.to_numpy(x)))
            self.called_on_data = True      # count_params answers, as after Keras' call (no weights)
            return out
        if is_symbolic(x):
            return super().__call__(x, training=training, mask=mask)
        if not _holds_text(x):
            # numbers would pass the shape check in "int" mode and come back unchanged: refused
            raise TypeError(f"{self.describe()}: expected strings (str or bytes), got numbers "
                            f"({type(x).__name__}); integer codes go through IntegerLookup")
        out = self._numbers(self._values(x, self.describe()), None)
        self.called_on_data = True          # count_params answers, as after Keras' call (no weights)
        return out

    def _strings(self, indices):
        """invert=True: indices (whole numbers, any shape) as the vocabulary's strings, ``mask_token``
        for 0 when set, ``oov_token`` for any other index outside it."""
        indices = IntegerLookup._values(self, indices, f"{self.describe()}: indices")
        self._require_vocabulary()
        table = np.asarray(self.get_vocabulary(), dtype=object)
        inside = (indices >= self._token_start()) & (indices < len(table))
        out = np.where(inside, table[np.clip(indices, 0, len(table) - 1)], self.oov_token)
        if self.mask_token is not None:
            out = np.where(indices == 0, self.mask_token, out)
        return out.astype(str)

    # -- inside a model: the indices it made pass through -------------------------------------------
    def check_input_values(self, x, name):
        pass            # the model hands it the indices it made itself

    def output_shape(self, input_shape):
        if self.invert:
            raise ValueError(f"{self.describe()}: invert=True gives strings, which no layer after it reads and a "
                             f"model cannot output: call the layer on the model's predicted classes instead")
        return tuple(input_shape)

    def check_input_shape(self, sample_shape):
        if self.invert:
            self.output_shape(sample_shape)
        expected = self.ids_shape()
        if tuple(sample_shape) != expected:
            raise ValueError(f"{self.describe()}: expected its indices or vectors of shape {expected}, got "
                             f"samples of shape {tuple(sample_shape)}")

    def forward(self, x, training=False):
        """x: the indices or vectors this layer made of the strings, in the model's dtype -> x.
        Strings given straight to forward are turned into them first."""
        if _holds_text(x):
            x = self.encode(x, dtype=self.dtype or np.float32)
        self.x = x        # (the input gradient is IntegerLookup's 0: indices are categories)
        return x

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("encoding") == "utf-8":
            config.pop("encoding")            # Keras' key at the value glassnet implements
        return super().from_config(config)
