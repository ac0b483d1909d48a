"""Small public helpers that need nothing but NumPy."""
import numpy as np

from ._validation import check_positive_int


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot encode integer class labels (Keras' name).

    y : array-like of shape (n_samples,) or (n_samples, 1) of integers in [0, num_classes); floats
        that are whole numbers (2.0) count as integers
    num_classes : positive int, optional; ``max(y) + 1`` when omitted
    Returns ndarray of shape (n_samples, num_classes).

    >>> to_categorical([0, 2], 3)
    array([[1., 0., 0.],
           [0., 0., 1.]], dtype=float32)
    """
    num_classes = check_positive_int(num_classes, "to_categorical: num_classes", allow_none=True)
    y = np.asarray(y)
    # strings, None and other objects: np.mod below would fail with a message about ufuncs
    if y.dtype.kind not in "biuf":
        raise ValueError(f"to_categorical: y must hold integer class labels >= 0, got an array of "
                         f"dtype {y.dtype}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"to_categorical: y must be 1-D integer labels, got shape {y.shape}")
    if y.size and not np.all(np.equal(np.mod(y, 1), 0)):
        raise ValueError("to_categorical: y must hold integer class labels >= 0, got non-integer "
                         "values (fractions, NaN or inf)")
    y = y.astype(np.int64)
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must lie in [0, {num_classes}), "
                         f"got values from {y.min()} to {y.max()}")
    out = np.zeros((y.shape[0], num_classes), dtype=dtype)
    out[np.arange(y.shape[0]), y] = 1
    return out
