"""Small public helpers that need nothing but NumPy."""
import numpy as np

from ._seeding import set_random_seed       # Keras' keras.utils.set_random_seed
from ._validation import check_positive_int
from .feeding import PyDataset      # Keras' keras.utils.PyDataset: data read batch by batch
# Keras' keras.utils names for the registration of objects of your own (glassnet.saving)
from .saving import (custom_object_scope, CustomObjectScope, get_custom_objects, get_registered_name,
                     get_registered_object, register_keras_serializable)
from .image_folders import image_dataset_from_directory      # Pillow is imported when an image is read
from .text_folders import text_dataset_from_directory
from .timeseries import timeseries_dataset_from_array

__all__ = ["PyDataset", "to_categorical", "pad_sequences", "timeseries_dataset_from_array",
           "image_dataset_from_directory", "text_dataset_from_directory", "set_random_seed", "custom_object_scope",
           "CustomObjectScope", "get_custom_objects", "get_registered_name", "get_registered_object",
           "register_keras_serializable"]


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


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0):
    """Lay sequences of different lengths (lists of token ids) out as one array (Keras' function,
    the step before an ``Embedding``).

    sequences : a list of sequences (lists or arrays of numbers; their items may be vectors of one
        shape, each sequence then ``(length, *item_shape)``)
    maxlen : positive int, optional; the longest sequence's length when omitted
    dtype : the array's dtype, default ``"int32"`` (ids)
    padding : "pre" (fill before a short sequence, Keras' default: the last step of every row is
        real data, what a recurrent layer's last state reads) or "post"
    truncating : "pre" (drop the start of a long sequence, keeping its end) or "post"
    value : the fill, default 0: with an Embedding, keep id 0 for padding; ``mask_zero=True`` then
        makes the layers that read masks skip it (without, the model learns to read it as "nothing")
    Returns ndarray of shape (len(sequences), maxlen, *item_shape).

    >>> pad_sequences([[1, 2, 3], [4]], maxlen=2)
    array([[2, 3],
           [0, 4]], dtype=int32)
    >>> pad_sequences([[1], [2, 3]], padding="post")
    array([[1, 0],
           [2, 3]], dtype=int32)
    """
    for name, setting in (("padding", padding), ("truncating", truncating)):
        if setting not in ("pre", "post"):
            raise ValueError(f"pad_sequences: {name} must be 'pre' or 'post', got {setting!r:.40}")
    maxlen = check_positive_int(maxlen, "pad_sequences: maxlen", allow_none=True)
    dtype = np.dtype(dtype)
    if dtype.kind not in "biuf":
        raise ValueError(f"pad_sequences: dtype must be a numeric dtype such as 'int32', got {dtype}")
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise TypeError(f"pad_sequences: sequences must be a list of sequences, got {type(sequences).__name__}")
    rows, item_shape = [], None
    for i, sequence in enumerate(sequences):
        if isinstance(sequence, (str, bytes)) or not hasattr(sequence, "__len__"):
            raise TypeError(f"pad_sequences: sequences[{i}] must be a sequence of numbers, got "
                            f"{type(sequence).__name__} {sequence!r:.40}")
        row = np.asarray(sequence)
        if len(row) and row.dtype.kind not in "biuf":
            raise TypeError(f"pad_sequences: sequences[{i}] must hold numbers, got dtype {row.dtype}")
        if len(row):
            if item_shape is None:
                item_shape = row.shape[1:]
            elif row.shape[1:] != item_shape:
                raise ValueError(f"pad_sequences: sequences[{i}] has items of shape {row.shape[1:]}, the "
                                 f"sequences before it {item_shape}")
        rows.append(row)
    if maxlen is None:
        maxlen = max((len(row) for row in rows), default=0)
    out = np.full((len(rows), maxlen, *(item_shape or ())), value, dtype=dtype)
    for i, row in enumerate(rows):
        if not len(row) or not maxlen:
            continue
        kept = row[-maxlen:] if truncating == "pre" else row[:maxlen]
        if padding == "pre":
            out[i, maxlen - len(kept):] = kept
        else:
            out[i, :len(kept)] = kept
    return out
