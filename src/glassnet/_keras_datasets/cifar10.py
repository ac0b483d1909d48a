"""Keras' ``keras.datasets.cifar10``: 50,000 + 10,000 32x32 colour images in 10 classes."""
import os

import numpy as np

from ..file_utils import get_file
from .cifar import load_batch, to_format


def load_data():
    """``(x_train, y_train), (x_test, y_test)``: uint8 (50000, 32, 32, 3), (50000, 1), (10000, 32, 32, 3),
    (10000, 1) (images (n, 3, 32, 32) when ``glassnet.config.image_data_format()`` is channels_first).

    Classes: 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse, 8 ship, 9 truck.
    The archive is extracted to ``~/.keras/datasets/cifar-10-batches-py-target``.
    """
    path = get_file(fname="cifar-10-batches-py-target", origin="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                    extract=True,
                    file_hash="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce")
    path = os.path.join(path, "cifar-10-batches-py")
    batches = [load_batch(os.path.join(path, f"data_batch_{i}")) for i in range(1, 6)]
    # Keras fills a preallocated (50000, ...) array from five 10,000-image batches; concatenating
    # gives the same arrays and does not need the counts
    x_train = np.concatenate([x for x, _ in batches]).astype(np.uint8, copy=False)
    y_train = np.concatenate([np.asarray(y, np.uint8) for _, y in batches])
    x_test, y_test = load_batch(os.path.join(path, "test_batch"))
    x_train, x_test = to_format(x_train, x_test)
    y_train, y_test = y_train.reshape(-1, 1), np.asarray(y_test).reshape(-1, 1)
    return (x_train, y_train), (x_test.astype(x_train.dtype), y_test.astype(y_train.dtype))
