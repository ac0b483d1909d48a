"""Keras' ``keras.datasets.california_housing``: 20,640 California districts, 8 features, median house value."""
import numpy as np

from ..file_utils import get_file
from ._common import ORIGIN, check_seed, check_test_split, shuffled_split


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113):
    """``(x_train, y_train), (x_test, y_test)``: float32 (16512, 8), (16512,), (4128, 8), (4128,) by default.

    ``version="small"`` keeps the first 600 districts (480 train, 120 test). Rows shuffled by
    ``RandomState(seed)``; the first ``int(n * (1 - test_split))`` are the training set.
    """
    check_test_split(test_split, "california_housing")
    if version not in ("small", "large"):
        raise ValueError(f"california_housing.load_data: version must be one of 'small', 'large', got {version!r}")
    check_seed(seed, "california_housing")
    path = get_file(path, origin=f"{ORIGIN}california_housing.npz",
                    file_hash="1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f")
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    if version == "small":
        x, y = x[:600], y[:600]
    return shuffled_split(x, y, test_split, seed)
