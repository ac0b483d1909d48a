"""Keras' ``keras.datasets.mnist``: 60,000 + 10,000 handwritten digits, uint8 (n, 28, 28) and labels (n,)."""
import numpy as np

from ..file_utils import get_file
from ._common import ORIGIN


def load_data(path="mnist.npz"):
    """``(x_train, y_train), (x_test, y_test)``: uint8 (60000, 28, 28), (60000,), (10000, 28, 28), (10000,).

    ``path`` is the file name in the Keras cache (``~/.keras/datasets``); downloaded when missing.
    """
    path = get_file(fname=path, origin=f"{ORIGIN}mnist.npz",
                    file_hash="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1")
    with np.load(path, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
