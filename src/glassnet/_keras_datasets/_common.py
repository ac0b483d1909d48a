"""What the Keras dataset loaders share: the origin folder, the seeded split, the word-index sequences."""
import numpy as np

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def check_test_split(test_split, loader, upto_one=False):
    """Keras' rule: 0 <= test_split < 1, or <= 1 with ``upto_one`` (a ValueError naming the argument otherwise).

    Keras' housing loaders refuse test_split=1; its reuters loader checks nothing and returns every
    newswire as test data for test_split=1, which ``upto_one`` keeps.
    """
    span = "[0, 1]" if upto_one else "[0, 1)"
    if isinstance(test_split, bool) or not isinstance(test_split, (int, float, np.integer, np.floating)):
        raise TypeError(f"{loader}.load_data: test_split must be a number in {span}, got "
                        f"{type(test_split).__name__} {test_split!r}")
    if not (0 <= test_split <= 1 if upto_one else 0 <= test_split < 1):
        raise ValueError(f"{loader}.load_data: invalid test_split={test_split!r}: it must be in {span} "
                         + ("(between 0 and 1)" if upto_one else "(between 0 and 1, exclusive of 1)"))


def shuffled_split(x, y, test_split, seed):
    """Keras' housing split: rows shuffled by RandomState(seed), the first int(n * (1 - test_split)) train."""
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))


def index_words(xs, start_char, index_from):
    """Each sequence as a list, words shifted by index_from, start_char first (Keras' imdb and reuters)."""
    if start_char is not None:
        return [[start_char] + [w + index_from for w in x] for x in xs]
    if index_from:
        return [[w + index_from for w in x] for x in xs]
    return [[w for w in x] for x in xs]


def drop_long(maxlen, xs, labels):
    """The sequences shorter than ``maxlen`` (strictly, as Keras' remove_long_seq) and their labels."""
    kept = [(x, y) for x, y in zip(xs, labels) if len(x) < maxlen]
    return [x for x, _ in kept], [y for _, y in kept]


def limit_words(xs, num_words, skip_top, oov_char, loader, maxlen):
    """Words outside [skip_top, num_words) replaced by oov_char, or dropped when oov_char is None."""
    if not num_words:
        if not xs:      # Keras fails here on max() of nothing: say why
            raise ValueError(f"{loader}.load_data: after dropping sequences of maxlen={maxlen} words or more, no "
                             "sequence was kept: increase maxlen (or pass num_words)")
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]


def check_seed(seed, loader):
    """Refuse a shuffling ``seed`` np.random.RandomState would not take: an int in [0, 2**32 - 1], or
    None (a fresh draw, as in Keras); ValueError naming ``loader``."""
    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 32:
        raise ValueError(f"{loader}.load_data: seed must be an integer in [0, 2**32 - 1] or None, got {seed!r}")
