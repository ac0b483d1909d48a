"""Keras' ``keras.datasets.imdb``: 25,000 + 25,000 movie reviews as word-index sequences, labels 0/1."""
import json

import numpy as np

from .._safe_pickle import load_npz
from ..file_utils import get_file
from ._common import ORIGIN, check_seed, drop_long, index_words, limit_words


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
              index_from=3, **kwargs):
    """``(x_train, y_train), (x_test, y_test)``: object arrays of lists of word indices, int64 labels.

    Keras 3.15's steps in its order: train and test each shuffled by one ``RandomState(seed)``; every
    sequence starts with ``start_char`` and its words are shifted by ``index_from``; sequences of
    ``maxlen`` words or more dropped; words outside ``[skip_top, num_words)`` become ``oov_char``
    (dropped when it is None). Word ``i`` is the ``i - index_from``-th most frequent (``get_word_index``).
    As in Keras, an object array of equal-length lists comes out 2-D.
    """
    if kwargs:
        # Keras 3.15 accepts and ignores leftover keywords (its old nb_words alias is gone): refuse them
        raise TypeError(f"imdb.load_data: unexpected keyword arguments {sorted(kwargs)}")
    check_seed(seed, "imdb")
    path = get_file(fname=path, origin=f"{ORIGIN}imdb.npz",
                    file_hash="69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f")
    f = load_npz(path)
    x_train, labels_train, x_test, labels_test = f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    rng = np.random.RandomState(seed)           # one generator: train shuffled first, then test
    indices = np.arange(len(x_train))
    rng.shuffle(indices)
    x_train, labels_train = x_train[indices], labels_train[indices]
    indices = np.arange(len(x_test))
    rng.shuffle(indices)
    x_test, labels_test = x_test[indices], labels_test[indices]

    x_train, x_test = index_words(x_train, start_char, index_from), index_words(x_test, start_char, index_from)
    if maxlen:
        x_train, labels_train = drop_long(maxlen, x_train, labels_train)
        x_test, labels_test = drop_long(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(f"imdb.load_data: after dropping sequences of maxlen={maxlen} words or more, no "
                             "sequence was kept: increase maxlen")
    xs = limit_words(x_train + x_test, num_words, skip_top, oov_char, "imdb", maxlen)
    labels = np.concatenate([labels_train, labels_test])
    idx = len(x_train)
    return (np.array(xs[:idx], dtype="object"), labels[:idx]), (np.array(xs[idx:], dtype="object"), labels[idx:])


def get_word_index(path="imdb_word_index.json"):
    """The dict word -> index (1 = most frequent) of the imdb sequences (before ``index_from``)."""
    path = get_file(fname=path, origin=f"{ORIGIN}imdb_word_index.json", file_hash="bfafd718b763782e994055a2d397834f")
    with open(path) as f:
        return json.load(f)
