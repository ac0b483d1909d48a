"""TextVectorization: texts in, token ids or bag-of-words vectors out (Keras' preprocessing layer).

A text goes through four steps, each a plain Python function of one string:

1. standardize: lowercase ASCII letters, drop punctuation (Keras' default), or a function of yours;
2. split: into words at ASCII whitespace, into characters, or not at all;
3. ngrams: add the runs of 2, 3, ... consecutive tokens, joined by one space;
4. look up: each token's index in a vocabulary learnt by ``adapt`` (most frequent first).

"int" mode then gives one id per token (0 is padding, 1 an unknown token); "multi_hot", "count"
and "tf_idf" give one vector per text, of the vocabulary's width (index 0 counts unknown tokens).

In a ``Sequential`` it must be the first layer: the model turns the texts into ids once, as they
come in (``fit``, ``evaluate``, ``predict``: all of x at once, so "int" without
``output_sequence_length`` pads to the longest text of that call), and in the forward pass the layer
hands those ids on unchanged. Every other layer sees numbers; ``trace`` shows the ids.
"""
import collections
import math
import os
import re
import string

import numpy as np

from .._validation import check_choice, check_flag, check_only, check_positive_int
from ..feeding import is_dataset
from .._bounds import check_sample_values
from .base import Layer, shape_fits
from .encoding import current_mode

MODES = ("int", "multi_hot", "count", "tf_idf")
STANDARDIZERS = (None, "lower_and_strip_punctuation", "lower", "strip_punctuation")
SPLITS = (None, "whitespace", "character")
PAD, OOV = "", "[UNK]"
# Keras' pattern for punctuation (",-\." is the range , - .), removed by TensorFlow's regex_replace
# the most ngram widths a config (JSON, a model file) may ask for (from_config)
MAX_CONFIG_NGRAMS = 256
PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
# TensorFlow's lower() and split() as Keras calls them, without an encoding: ASCII letters and
# ASCII whitespace only ("École" keeps its capital; a no-break space does not split)
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_ASCII_SPACE = re.compile(r"[ \t\n\r\v\f]+")


def texts_of(data, name):
    """``data`` (a list of str, an array of str or bytes, shape (N,) or (N, 1)) as a list of str."""
    if isinstance(data, (str, bytes)):
        raise TypeError(f"{name}: expected a list or array of texts, got one {type(data).__name__}: "
                        f"write [text]")
    array = np.asarray(data.to_numpy() if hasattr(data, "to_numpy") else data, dtype=object)
    if array.ndim == 2 and array.shape[1] == 1:         # Keras' Input((1,), dtype="string")
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{name}: expected texts of shape (n,) or (n, 1), got shape {array.shape}")
    texts = []
    for i, text in enumerate(array):
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(f"{name}: the text at index {i} is not UTF-8 ({exc})") from None
        elif not isinstance(text, str):
            raise TypeError(f"{name}: expected texts (str or bytes), got {type(text).__name__} "
                            f"{text!r:.40} at index {i}")
        texts.append(str(text))
    return texts


def vocabulary_lines(path):
    """The lines of a vocabulary file (UTF-8, one token a line, as TensorFlow reads it: "\n" ends
    a line, a "\r" before it is dropped, and so is the last line when it is empty)."""
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    return [line[:-1] if line.endswith("\r") else line for line in (lines[:-1] if lines[-1] == "" else lines)]


def refuse_vocabulary_path(cls, config):
    """A config (from JSON or a model file) holds its vocabulary itself: a path there is refused,
    since reading it would let a file from elsewhere make glassnet read any file on this machine
    (Keras refuses it too, in its default safe mode). ``get_config`` always writes the list."""
    vocabulary = config.get("vocabulary")
    if isinstance(vocabulary, (str, bytes, os.PathLike)):
        raise ValueError(f"{cls.__name__}.from_config: the vocabulary must be the list of its entries, got "
                         f"{type(vocabulary).__name__} {vocabulary!r:.80}; a config never names a file "
                         f"to read (give vocabulary=path when making the layer in code)")


class TextVectorization(Layer):
    """Texts to token ids (``output_mode="int"``) or to one vector per text, with Keras' names,
    defaults and results.

    Parameters
    ----------
    max_tokens : int, optional
        The vocabulary's size, special tokens included ("" and "[UNK]" in "int" mode, "[UNK]" in
        the others): ``adapt`` keeps the most frequent tokens that fit. None: every token seen.
    standardize : {"lower_and_strip_punctuation", "lower", "strip_punctuation", None} or callable
        Lowering touches ASCII letters only, as Keras' (TensorFlow's ``lower``); a callable takes
        one str and returns one (Keras hands it a tensor).
    split : {"whitespace", "character", None} or callable
        "whitespace" splits at runs of ASCII whitespace; a callable takes one str and returns a
        list of tokens.
    ngrams : int or tuple of int, optional
        ``2``: the tokens and every pair of neighbours ("the cat"); ``(1, 3)``: tokens and triples.
    output_mode : {"int", "multi_hot", "count", "tf_idf"}
        (or Keras' older names, which it takes too: "binary" for "multi_hot", "tf-idf" for "tf_idf")
    output_sequence_length : int, optional
        "int" only: cut or pad (with 0, at the end) every text to this many ids. None pads to
        the longest text of the call.
    pad_to_max_tokens : bool
        Vectors ("multi_hot", ...) are ``max_tokens`` wide even when the vocabulary is smaller.
    vocabulary : list of str or a path to a text file (one token per line), optional
        Instead of ``adapt``; the special tokens at its start ("", "[UNK]") may be left out.
    idf_weights : list of float, optional
        "tf_idf" with a ``vocabulary``: one weight per token of it (specials left out).

    Shapes: texts (batch,) or (batch, 1) -> ids (batch, length) int64, or vectors
    (batch, vocabulary size), int64 for "multi_hot"/"count" and float32 for "tf_idf" (Keras'
    dtypes). Inside a model, its forward pass takes and returns the ids (the model made them).
    A callable ``standardize`` or ``split`` works, but a model holding one cannot be saved (model
    files hold no code). No ``sparse``/``ragged`` outputs.

    Example
    -------
    >>> layer = TextVectorization(output_sequence_length=4)
    >>> layer.adapt(["The cat sat.", "The dog sat on the cat!"])
    >>> layer.get_vocabulary()
    ['', '[UNK]', 'the', 'sat', 'cat', 'on', 'dog']
    >>> layer(["the dog barked"]).tolist()
    [[2, 6, 1, 0]]
    """

    takes_text = True      # a model hands its texts to this layer's encode() as they come in
    stacks_lists = True          # called alone on a list of arrays: one array, as Keras' (layers/base.py)
    _given = False          # made with vocabulary=: adapt is refused, as Keras' (set_vocabulary later is not)

    shape_arguments = ('max_tokens', 'output_sequence_length')        # named when its output is too large (glassnet._bounds)

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace",
                 ngrams=None, output_mode="int", output_sequence_length=None, pad_to_max_tokens=False,
                 vocabulary=None, idf_weights=None, encoding="utf-8", sparse=False, ragged=False, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        # Keras' other arguments, taken at the values glassnet implements
        for what, value, default in (("encoding", encoding, "utf-8"), ("sparse", sparse, False), ("ragged", ragged, False)):
            check_only(value, f"{cls}: {what}", default)
        output_mode = current_mode(output_mode)         # Keras' older "binary" and "tf-idf"
        check_choice(output_mode, f"{cls}: output_mode", MODES)
        self.output_mode = output_mode
        self.specials = [PAD, OOV] if output_mode == "int" else [OOV]
        self.max_tokens = check_positive_int(max_tokens, f"{cls}: max_tokens", allow_none=True)
        if max_tokens is not None and self.max_tokens <= len(self.specials):
            raise ValueError(f"{cls}: max_tokens must leave room for a token after the special ones "
                             f"{self.specials}, so be at least {len(self.specials) + 1}; got {max_tokens}")
        for what, value, names in (("standardize", standardize, STANDARDIZERS), ("split", split, SPLITS)):
            if not callable(value):
                check_choice(value, f"{cls}: {what}", names, expected=f"one of {list(names)} or a function")
        self.standardize, self.split = standardize, split
        self.ngrams = _ngram_widths(ngrams, cls)
        if self.ngrams is not None and split is None:
            raise ValueError(f"{cls}: ngrams need tokens to join; give a split, not split=None")
        if output_sequence_length is not None:
            output_sequence_length = check_positive_int(output_sequence_length, f"{cls}: output_sequence_length")
            if output_mode != "int":
                raise ValueError(f"{cls}: output_sequence_length is for output_mode='int', got "
                                 f"output_mode={output_mode!r}")
        self.output_sequence_length = output_sequence_length
        if output_sequence_length is not None:
            # as soon as it is made: called on texts it encodes them itself, past Layer.__call__'s
            # first-call check, into ids this long (glassnet._bounds)
            check_sample_values(self, output_sequence_length, "its ids (output_sequence_length long)")
        self.pad_to_max_tokens = check_flag(pad_to_max_tokens, f"{cls}: pad_to_max_tokens")
        if self.pad_to_max_tokens and max_tokens is None and output_mode != "int":
            raise ValueError(f"{cls}: pad_to_max_tokens=True needs max_tokens (the vectors' width)")
        if self.pad_to_max_tokens and output_mode != "int":
            # as soon as it is made: its vectors are max_tokens wide before any vocabulary (glassnet._bounds)
            check_sample_values(self, self.max_tokens, "its vectors (pad_to_max_tokens=True: max_tokens wide)")
        self.tokens, self.idf_weights = None, None          # set by adapt or set_vocabulary
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
            self._given = True        # made with it: adapt is refused (Keras' has_input_vocabulary)
        elif idf_weights is not None:
            raise ValueError(f"{cls}: idf_weights come with a vocabulary; give both, or adapt")

    # -- the vocabulary -------------------------------------------------------------------------
    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary from ``data``: texts (a list or array, (n,) or (n, 1)) or batches of
        them (a generator or a PyDataset; ``steps`` batches at most; of a batch ``(texts, labels)``
        the texts, as ``text_dataset_from_directory`` serves them). Tokens are ranked
        by how often they occur, ties by the token, highest first (Keras' order), and cut to
        ``max_tokens``; "tf_idf" also counts the texts each token occurs in, for
        ``idf = log(1 + texts / (1 + texts with the token))``. ``batch_size`` is accepted for
        Keras' signature and changes nothing. A layer made with ``vocabulary=`` refuses to adapt,
        as Keras' does: adapting would silently drop it (one given by ``set_vocabulary`` later
        adapts anew, as in Keras)."""
        if self._given:
            raise ValueError(f"{type(self).__name__}.adapt: a vocabulary was given when the layer was made "
                             f"(vocabulary=), which adapt would replace (Keras refuses too); make the layer without "
                             f"it to adapt it (or set_vocabulary after making it, which adapt may replace, as in Keras)")
        if isinstance(data, (list, tuple, np.ndarray)) or hasattr(data, "to_numpy"):
            batches = [data]
        elif is_dataset(data) or (hasattr(data, "__getitem__") and hasattr(data, "__len__")):   # a PyDataset
            batches = _dataset_batches(data, steps, f"{type(self).__name__}.adapt")
        elif hasattr(data, "__iter__") and not isinstance(data, (str, bytes)):
            batches = data
        else:
            raise TypeError(f"{type(self).__name__}.adapt: expected texts or an iterable of batches of "
                            f"them, got {type(data).__name__}")
        counts, documents, n_texts = collections.Counter(), collections.Counter(), 0
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            if isinstance(batch, tuple) and batch and not isinstance(batch[0], (str, bytes)):
                batch = batch[0]                # (texts, labels) from a dataset: the texts
            for text in texts_of(batch, f"{type(self).__name__}.adapt: data"):
                tokens = [t for t in self.tokenize(text) if t not in (PAD, OOV)]
                counts.update(tokens)
                documents.update(set(tokens))
                n_texts += 1
        ranked = sorted(counts.items(), key=lambda item: (item[1], item[0]), reverse=True)
        if self.max_tokens is not None:
            ranked = ranked[:self.max_tokens - len(self.specials)]
        tokens = [token for token, _ in ranked]
        idf = None
        if self.output_mode == "tf_idf":
            idf = [math.log(1 + n_texts / (1 + documents[t])) for t in tokens]
            idf = [float(np.mean(idf)) if idf else 0.0, *idf]        # unknown tokens: the mean (Keras)
        self._set(tokens, idf, "adapt")

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Use ``vocabulary`` (tokens, most important first; a leading "" and "[UNK]" in "int"
        mode, "[UNK]" in the others, may be included) and, for "tf_idf", its ``idf_weights``."""
        cls = type(self).__name__
        if isinstance(vocabulary, (str, os.PathLike)):   # Keras: a path to a file, one token a line
            vocabulary = vocabulary_lines(vocabulary)
        tokens = given = texts_of(vocabulary, f"{cls}: vocabulary")
        if tokens[:len(self.specials)] == self.specials:
            tokens = tokens[len(self.specials):]
        repeated = sorted(t for t, n in collections.Counter(tokens).items() if n > 1)
        if repeated:
            raise ValueError(f"{cls}: vocabulary repeats {repeated[:5]}; each token once")
        special = [t for t in tokens if t in (PAD, OOV)]
        if special:
            raise ValueError(f"{cls}: vocabulary holds {special[0]!r}, a special token, after its start; "
                             f"put {self.specials} first or leave them out")
        if self.max_tokens is not None and len(tokens) + len(self.specials) > self.max_tokens:
            raise ValueError(f"{cls}: vocabulary has {len(tokens) + len(self.specials)} entries with the "
                             f"special tokens, more than max_tokens={self.max_tokens}")
        if (self.output_mode == "tf_idf") != (idf_weights is not None):
            raise ValueError(f"{cls}: idf_weights go with output_mode='tf_idf' and a vocabulary, and it "
                             f"needs them; got output_mode={self.output_mode!r} and idf_weights={idf_weights!r:.40}")
        idf = None
        if idf_weights is not None:
            idf = np.asarray(idf_weights, dtype=np.float64).ravel()
            # one weight per entry of the vocabulary as given (Keras): with "[UNK]" in front, the
            # first is the unknown tokens' weight; without, they weigh the mean of the others
            if idf.size != len(given) or not np.isfinite(idf).all():
                raise ValueError(f"{cls}: expected {len(given)} finite idf_weights, one per entry of the "
                                 f"vocabulary, got {idf.size} ({idf_weights!r:.60})")
            idf = idf.tolist() if len(given) > len(tokens) else [float(np.mean(idf)) if idf.size else 0.0, *idf.tolist()]
        self._set(tokens, idf, "set_vocabulary")

    def _set(self, tokens, idf, caller):
        """Install a vocabulary. One that changes the vectors' width un-builds the layer: a new model
        builds it anew, and a model built for the old width refuses the new vectors by name."""
        if self.built and self._ids_shape_for(tokens) != self.input_shape:
            self.built, self.input_shape = False, None
        self.tokens, self.idf_weights = tokens, idf
        self._index = {token: i for i, token in enumerate(self.specials + tokens)}

    def get_vocabulary(self, include_special_tokens=True):
        """The tokens in index order: ``["", "[UNK]", ...]`` in "int" mode, ``["[UNK]", ...]``
        in the others; without them with ``include_special_tokens=False``."""
        tokens = list(self.tokens or [])          # before adapt: the special tokens alone (Keras)
        return self.specials + tokens if include_special_tokens else tokens

    def vocabulary_size(self):
        """How many ids the layer makes, special tokens included: an Embedding's ``input_dim``."""
        return len(self.specials) + len(self.tokens or [])

    def _require_vocabulary(self):
        if self.tokens is None:
            raise ValueError(f"{self.describe()}: has no vocabulary yet; call adapt(texts) or give "
                             f"vocabulary=[...]")
        return self.tokens

    # -- texts to numbers -----------------------------------------------------------------------
    def tokenize(self, text):
        """One text's tokens (standardized, split, with its ngrams), before the look-up."""
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            text = text.translate(_ASCII_LOWER)
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            text = PUNCTUATION.sub("", text)
        if callable(self.standardize):
            text = self.standardize(text)
            if not isinstance(text, str):
                raise TypeError(f"{self.describe()}: standardize must return a str, got {type(text).__name__}")
        if self.split is None:
            tokens = [text]
        elif self.split == "whitespace":
            tokens = [t for t in _ASCII_SPACE.split(text) if t]
        elif self.split == "character":
            tokens = list(text)
        else:
            tokens = list(self.split(text))
            if not all(isinstance(t, str) for t in tokens):
                raise TypeError(f"{self.describe()}: split must return a list of str, got {tokens!r:.60}")
        if self.ngrams is None:
            return tokens
        return [" ".join(tokens[i:i + width]) for width in self.ngrams for i in range(len(tokens) - width + 1)]

    def _ids_shape_for(self, tokens):
        if self.output_mode == "int":
            return (self.output_sequence_length,)
        if self.pad_to_max_tokens:
            return (self.max_tokens,)
        return (len(self.specials) + len(tokens),)

    def ids_shape(self):
        """One sample's shape after this layer, the shape the model builds from: ``(length,)``
        ("int"; ``(None,)``, any length, without ``output_sequence_length``) or ``(width,)``."""
        if self.output_mode == "int":
            return (self.output_sequence_length,)
        if self.pad_to_max_tokens:          # known before any vocabulary (StringLookup's rule too)
            return (self.max_tokens,)
        return self._ids_shape_for(self._require_vocabulary())

    def encode(self, data, name="x", dtype=None, min_length=0):
        """``data``'s texts as an array: ids (n, length) int64 in "int" mode, otherwise vectors
        (n, width), int64 ("multi_hot", "count") or float32 ("tf_idf"); all in ``dtype`` when
        given (a model's). "int" without ``output_sequence_length`` pads to the longest text, or
        to ``min_length`` (a model asks for 1: a call of empty texts still has ids, all padding)."""
        index, texts = self._index_table(), texts_of(data, name)
        ids = [[index.get(token, 1 if self.output_mode == "int" else 0) for token in self.tokenize(text)
                if self.output_mode == "int" or token != PAD] for text in texts]
        if self.output_mode == "int":
            length = self.output_sequence_length or max([min_length, *map(len, ids)])
            out = np.zeros((len(ids), length), dtype=dtype or np.int64)
            for row, text_ids in zip(out, ids):
                text_ids = text_ids[:length]
                row[:len(text_ids)] = text_ids
            return out
        width = self.ids_shape()[0]
        counts = np.zeros((len(ids), width), dtype=dtype or (np.float64 if self.output_mode == "tf_idf" else np.int64))
        for row, text_ids in zip(counts, ids):
            if self.output_mode == "multi_hot":
                row[text_ids] = 1
            else:
                np.add.at(row, text_ids, 1)
        if self.output_mode != "tf_idf":
            return counts
        idf = np.zeros(width)
        idf[:len(self.idf_weights)] = self.idf_weights        # [unknown tokens', each token's]
        return (counts * idf).astype(dtype or np.float32)

    def _index_table(self):
        self._require_vocabulary()
        return self._index

    def __call__(self, x, training=None, mask=None):
        """Texts in: ``encode(x)``. Numbers in: the ids this layer made, passed on (a model's path)."""
        if _holds_text(x):
            out = self.encode(x)
            self.called_on_data = True      # count_params answers, as after Keras' call (no weights)
            return out
        return super().__call__(x, training=training, mask=mask)

    # -- inside a model ---------------------------------------------------------------------------
    def build(self, input_shape):
        self.check_input_shape(input_shape)
        super().build(tuple(input_shape))

    def output_shape(self, input_shape):
        return tuple(input_shape)       # inside a model: the ids the model made pass through

    def compute_output_shape(self, input_shape):
        """Keras' form of what calling the layer on texts of ``input_shape``, ``(batch,)`` or
        ``(batch, 1)``, gives: ids ``(batch, output_sequence_length)`` or vectors ``(batch, width)``;
        None where the call decides it (the longest text) or no vocabulary sets it yet (Keras'
        None). Unlike ``output_shape``: what the layer passes on inside a model, the ids."""
        shape = tuple(input_shape)
        if len(shape) not in (1, 2) or len(shape) == 2 and shape[1] not in (1, None):
            raise ValueError(f"{self.describe()}: compute_output_shape: expected texts of shape (batch,) or "
                             f"(batch, 1), got {input_shape!r:.80}")
        if self.output_mode == "int" or self.pad_to_max_tokens or self.tokens is not None:
            return (shape[0], *self.ids_shape())
        return (shape[0], None)

    def check_input_shape(self, sample_shape):
        # its forward pass takes the ids it makes (a model hands it those)
        if not shape_fits(tuple(sample_shape), self.ids_shape()):
            raise ValueError(f"{self.describe()}: expected ids of shape {self.ids_shape()}, got samples of shape "
                             f"{tuple(sample_shape)}")

    def forward(self, x, training=False):
        """x: the ids (or vectors) this layer made from the texts, in the model's dtype -> x. Texts
        given straight to forward are encoded first."""
        if _holds_text(x):
            x = self.encode(x).astype(self.dtype or np.float32)
        self.x = self.a = x
        return x

    def backward(self, grad_output):
        # the forward pass is the identity on its ids; as a model's first layer nobody asks for it
        return grad_output

    def get_config(self):
        for what in ("standardize", "split"):
            if callable(getattr(self, what)):
                raise ValueError(f"{self.describe()}: its {what} is a function, which a model file cannot "
                                 f"hold (model files hold no code); use one of the named ones to save it")
        return {**super().get_config(), "max_tokens": self.max_tokens, "standardize": self.standardize,
                "split": self.split, "ngrams": None if self.ngrams is None else list(self.ngrams),
                "output_mode": self.output_mode, "output_sequence_length": self.output_sequence_length,
                "pad_to_max_tokens": self.pad_to_max_tokens,
                # with the special tokens, so that idf_weights hold the unknown tokens' weight too
                "vocabulary": None if self.tokens is None else self.specials + self.tokens,
                "idf_weights": self.idf_weights,
                # Keras' key: whether the vocabulary was given (adapt refused) or learnt (the layer a
                # config or model file makes may adapt again, as Keras')
                "has_input_vocabulary": self._given}

    @classmethod
    def from_config(cls, config):
        refuse_vocabulary_path(cls, config)
        config = dict(config)
        ngrams = config.get("ngrams")
        if isinstance(ngrams, list):         # (another value: the constructor refuses it, naming ngrams)
            config["ngrams"] = ngrams = tuple(ngrams)
        # ngrams=n makes the n widths 1..n, each joined over every text: ngrams=10**9 in a few bytes
        # made load_model allocate gigabytes, and a long list of widths made predict hang
        count = len(ngrams) if isinstance(ngrams, tuple) else ngrams if isinstance(ngrams, (int, np.integer)) else 0
        if count > MAX_CONFIG_NGRAMS:
            raise ValueError(f"{cls.__name__}.from_config: ngrams={ngrams!r:.60} asks for {count:,} ngram widths, "
                             f"more than a config may ({MAX_CONFIG_NGRAMS}): a damaged or crafted description")
        # a vocabulary written by get_config was given or learnt: as it was (absent, as given)
        given = config.pop("has_input_vocabulary", None)
        layer = super().from_config(config)
        if given is not None:
            layer._given = bool(given) and layer.tokens is not None
        return layer


def _dataset_batches(data, steps, who):
    """A PyDataset's batches by index, in order: ``steps`` of them when given (Keras reads that many
    of an endless one, whose ``num_batches`` is None), else every one of its ``len``."""
    total = data.num_batches if is_dataset(data) else len(data)
    if total is None and steps is None:
        raise ValueError(f"{who}: {type(data).__name__} has no end (its num_batches is None), and adapt reads "
                         f"every batch of it; give steps=, the number of batches to read, or a __len__")
    count = total if steps is None else steps if total is None else min(int(total), steps)
    return (data[i] for i in range(int(count)))


def _holds_text(x):
    if isinstance(x, (str, bytes)):
        return True
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "USO"
    if isinstance(x, (list, tuple)):
        first = x
        while isinstance(first, (list, tuple)) and first:
            first = first[0]
        if isinstance(first, np.ndarray):
            return first.dtype.kind in "USO" and _holds_text(first)     # a list of arrays of strings
        return isinstance(first, (str, bytes))
    return hasattr(x, "to_numpy") and _holds_text(x.to_numpy())


def _ngram_widths(ngrams, cls):
    """Keras' ``ngrams``: None; n, for the widths 1..n; or a tuple of the widths wanted."""
    if ngrams is None:
        return None
    if isinstance(ngrams, (int, np.integer)) and not isinstance(ngrams, bool):
        return tuple(range(1, check_positive_int(ngrams, f"{cls}: ngrams") + 1))
    if (isinstance(ngrams, (tuple, list)) and ngrams
            and all(isinstance(w, (int, np.integer)) and not isinstance(w, bool) and w > 0 for w in ngrams)):
        return tuple(int(w) for w in ngrams)
    raise ValueError(f"{cls}: ngrams must be None, a positive integer or a tuple of them, got {ngrams!r:.60}")
