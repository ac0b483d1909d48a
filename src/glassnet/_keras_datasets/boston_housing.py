"""Keras' ``keras.datasets.boston_housing``: 506 Boston suburbs, 13 features, median home value (k$)."""
import numpy as np

from ..file_utils import get_file
from ._common import ORIGIN, check_seed, check_test_split, shuffled_split


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """``(x_train, y_train), (x_test, y_test)``: float64 (404, 13), (404,), (102, 13), (102,) by default.

    Rows shuffled by ``RandomState(seed)``; the first ``int(n * (1 - test_split))`` are the training set.
    """
    check_test_split(test_split, "boston_housing")
    check_seed(seed, "boston_housing")
    path = get_file(path, origin=f"{ORIGIN}boston_housing.npz",
                    file_hash="f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5")
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    return shuffled_split(x, y, test_split, seed)
