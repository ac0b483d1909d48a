"""Keras' ``keras.datasets.reuters``: 11,228 Reuters newswires as word-index sequences, 46 topics."""
import json

import numpy as np

from .._safe_pickle import load_npz
from ..file_utils import get_file
from ._common import ORIGIN, check_seed, check_test_split, drop_long, index_words, limit_words

_LABELS = ("cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply", "coffee",
           "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas", "cpi", "money-fx",
           "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal", "livestock",
           "retail", "ipi", "iron-steel", "rubber", "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem",
           "dlr", "gas", "silver", "wpi", "hog", "lead")


def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2, seed=113,
              start_char=1, oov_char=2, index_from=3):
    """``(x_train, y_train), (x_test, y_test)``: object arrays of lists of word indices, int64 topic labels.

    Keras 3.15's steps: all newswires shuffled by ``RandomState(seed)``, ``start_char`` prepended and
    words shifted by ``index_from``, sequences of ``maxlen`` words or more dropped, words outside
    ``[skip_top, num_words)`` replaced by ``oov_char`` (dropped when None), then the first
    ``int(n * (1 - test_split))`` are the training set (``test_split`` in [0, 1]: 1 leaves it empty).
    """
    check_seed(seed, "reuters")
    check_test_split(test_split, "reuters", upto_one=True)
    path = get_file(fname=path, origin=f"{ORIGIN}reuters.npz",
                    file_hash="d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916")
    f = load_npz(path)
    xs, labels = f["x"], f["y"]
    indices = np.arange(len(xs))
    np.random.RandomState(seed).shuffle(indices)
    xs, labels = xs[indices], labels[indices]
    xs = index_words(xs, start_char, index_from) if (start_char is not None or index_from) else list(xs)
    if maxlen:
        xs, labels = drop_long(maxlen, xs, labels)
    xs = limit_words(xs, num_words, skip_top, oov_char, "reuters", maxlen)
    idx = int(len(xs) * (1 - test_split))
    return ((np.array(xs[:idx], dtype="object"), np.array(labels[:idx])),
            (np.array(xs[idx:], dtype="object"), np.array(labels[idx:])))


def get_word_index(path="reuters_word_index.json"):
    """The dict word -> index (1 = most frequent) of the reuters sequences (before ``index_from``)."""
    path = get_file(path, origin=f"{ORIGIN}reuters_word_index.json", file_hash="4d44cc38712099c9e383dc6e5f11a921")
    with open(path) as f:
        return json.load(f)


def get_label_names():
    """The 46 topic names, in label order (label 3 is "earn")."""
    return _LABELS
