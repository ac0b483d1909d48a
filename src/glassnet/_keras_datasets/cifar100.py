"""Keras' ``keras.datasets.cifar100``: 50,000 + 10,000 32x32 colour images, 100 fine / 20 coarse classes."""
import os

import numpy as np

from ..file_utils import get_file
from .cifar import load_batch, to_format


def load_data(label_mode="fine"):
    """``(x_train, y_train), (x_test, y_test)``: uint8 (50000, 32, 32, 3) and int64 (50000, 1) labels,
    10,000 test images; ``label_mode`` "fine" (100 classes) or "coarse" (20 superclasses).

    The archive is extracted to ``~/.keras/datasets/cifar-100-python-target``.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f'cifar100.load_data: label_mode must be one of "fine", "coarse", got {label_mode!r}')
    path = get_file(fname="cifar-100-python-target", origin="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                    extract=True,
                    file_hash="85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7")
    path = os.path.join(path, "cifar-100-python")
    x_train, y_train = load_batch(os.path.join(path, "train"), label_key=f"{label_mode}_labels")
    x_test, y_test = load_batch(os.path.join(path, "test"), label_key=f"{label_mode}_labels")
    # Keras reshapes the label lists with np.reshape: int64 (n, 1), as here
    y_train, y_test = np.reshape(y_train, (len(y_train), 1)), np.reshape(y_test, (len(y_test), 1))
    x_train, x_test = to_format(x_train, x_test)
    return (x_train, y_train), (x_test, y_test)
