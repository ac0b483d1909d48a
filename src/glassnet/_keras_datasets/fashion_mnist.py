"""Keras' ``keras.datasets.fashion_mnist``: Zalando's 70,000 28x28 clothing images in 10 classes."""
import os

import numpy as np

from ..file_utils import get_file
from ._common import ORIGIN

_FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
          "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")


def _read(path, offset):
    import gzip
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)     # IDX: 8-byte (labels) / 16-byte header


def load_data():
    """``(x_train, y_train), (x_test, y_test)``: uint8 (60000, 28, 28), (60000,), (10000, 28, 28), (10000,).

    Classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker,
    8 Bag, 9 Ankle boot. The four IDX files go to ``~/.keras/datasets/fashion-mnist``.
    """
    dirname = os.path.join("datasets", "fashion-mnist")
    paths = [get_file(name, origin=ORIGIN + name, cache_subdir=dirname) for name in _FILES]
    y_train, y_test = _read(paths[0], 8), _read(paths[2], 8)
    x_train = _read(paths[1], 16).reshape(len(y_train), 28, 28)
    x_test = _read(paths[3], 16).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)
