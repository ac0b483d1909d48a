"""Small public helpers that need nothing but NumPy."""
import numpy as np

from ._seeding import set_random_seed       # Keras' keras.utils.set_random_seed
from .backend import clear_session          # Keras' keras.utils.clear_session, the same as keras.backend's: names and global state anew
from ._validation import check_choice, check_flag, check_positive_int, check_seed
from .feeding import PyDataset      # Keras' keras.utils.PyDataset: data read batch by batch
from .callbacks.progress import Progbar     # Keras' keras.utils.Progbar, beside fit's own bar
# Keras' keras.utils names for the registration of objects of your own (glassnet.saving)
from .saving import (custom_object_scope, CustomObjectScope, get_custom_objects, get_registered_name,
                     get_registered_object, register_keras_serializable, serialize_keras_object,
                     deserialize_keras_object)
from .image_folders import image_dataset_from_directory      # Pillow is imported when an image is read
from .text_folders import text_dataset_from_directory
from .audio_folders import audio_dataset_from_directory      # the wave module is imported when a file is read
from .timeseries import timeseries_dataset_from_array
# Keras' keras.utils helpers about symbolic tensors and dtype names
from ._keras_helpers import get_source_inputs, is_keras_tensor, standardize_dtype
# Keras' keras.utils.get_file (urllib, tarfile and zipfile are imported when a file is fetched)
from .file_utils import get_file

# Keras 3 keeps its Keras 2 name for the same class
Sequence = PyDataset

__all__ = ["PyDataset", "Sequence", "Progbar", "to_categorical", "pad_sequences", "timeseries_dataset_from_array",
           "image_dataset_from_directory", "text_dataset_from_directory", "audio_dataset_from_directory",
           "set_random_seed", "clear_session", "custom_object_scope",
           "CustomObjectScope", "get_custom_objects", "get_registered_name", "get_registered_object",
           "register_keras_serializable", "normalize", "split_dataset", "pack_x_y_sample_weight",
           "unpack_x_y_sample_weight", "serialize_keras_object", "deserialize_keras_object", "get_source_inputs", "is_keras_tensor", "standardize_dtype", "get_file"]
# Keras' image files to arrays and back, and smart_resize (glassnet.image_utils; Pillow is imported
# when a function needs it): read on first use, as the names below
_LOGGING = ("enable_interactive_logging", "disable_interactive_logging", "is_interactive_logging_enabled")
_IMAGE_UTILS = ("load_img", "img_to_array", "array_to_img", "save_img", "smart_resize")


def __getattr__(name):
    # the graph of a model and its drawing (glassnet._model_graph, _model_drawing) are read on first
    # use: import glassnet stays as fast as it was
    if name == "model_to_dot":
        from ._model_graph import model_to_dot
        return model_to_dot
    if name == "plot_model":
        from ._model_drawing import plot_model
        return plot_model
    if name == "FeatureSpace":         # Keras' keras.utils.FeatureSpace (glassnet.feature_space)
        from .feature_space import FeatureSpace
        return FeatureSpace
    if name == "Config":            # Keras' keras.utils.Config (glassnet._attr_config)
        from ._attr_config import Config
        return Config
    if name in _LOGGING:            # Keras' keras.utils names for glassnet.config's (not imported before)
        from . import config
        return getattr(config, name)
    if name in _IMAGE_UTILS:
        from . import image_utils
        return getattr(image_utils, name)
    if name == "bounding_boxes":    # Keras' keras.utils.bounding_boxes (glassnet.bounding_boxes), NumPy only
        from . import bounding_boxes
        return bounding_boxes
    raise AttributeError(f"module 'glassnet.utils' has no attribute {name!r}")


__all__.extend(["model_to_dot", "plot_model", "FeatureSpace", "Config", "bounding_boxes", *_LOGGING, *_IMAGE_UTILS])     # (by __getattr__, on first use)


def _dotted_bounding_boxes():
    """``glassnet.utils.bounding_boxes`` in ``sys.modules``, so that a ported ``from
    keras.utils.bounding_boxes import compute_iou`` works with ``glassnet`` for ``keras`` (this module
    is not a package, so the import system looks no further). A stand-in that reads each name from
    glassnet.bounding_boxes on first use: ``import glassnet`` still imports that module only then."""
    import sys
    import types

    module = types.ModuleType("glassnet.utils.bounding_boxes", "Keras' keras.utils.bounding_boxes: "
                              "glassnet.bounding_boxes, read on first use.")

    def __getattr__(name):
        from . import bounding_boxes
        return getattr(bounding_boxes, name)
    module.__getattr__ = __getattr__
    sys.modules[module.__name__] = module


_dotted_bounding_boxes()


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot encode integer class labels (Keras' name).

    y : array-like of shape (n_samples, ...) of integers in [0, num_classes); floats that are whole
        numbers (2.0) count as integers. A last axis of 1 is dropped, as Keras drops it:
        (n_samples, 1) gives (n_samples, num_classes), a tagger's labels (n_samples, steps) give
        (n_samples, steps, num_classes)
    num_classes : positive int, optional; ``max(y) + 1`` when omitted
    Returns ndarray of shape (*y's shape without a last axis of 1, num_classes).

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
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y[..., 0]
    if y.ndim < 1:
        raise ValueError(f"to_categorical: y must be an array of integer labels, got a scalar {y!r:.40}")
    if y.size and not np.all(np.equal(np.mod(y, 1), 0)):
        raise ValueError("to_categorical: y must hold integer class labels >= 0, got non-integer "
                         "values (fractions, NaN or inf)")
    y = y.astype(np.int64)
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must lie in [0, {num_classes}), "
                         f"got values from {y.min()} to {y.max()}")
    out = np.zeros((y.size, num_classes), dtype=dtype)
    out[np.arange(y.size), y.ravel()] = 1
    return out.reshape(*y.shape, num_classes)


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
        check_choice(setting, f"pad_sequences: {name}", ("pre", "post"), expected="'pre' or 'post'")
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
        if len(row) and dtype.kind in "iu":
            # a value the dtype cannot hold would wrap round silently (token id 40000 as int16: -25536;
            # NaN as int32: -2147483648); Keras' NumPy refuses such ints in a list (OverflowError)
            info = np.iinfo(dtype)
            if not (np.all(np.isfinite(row)) and info.min <= row.min() and row.max() <= info.max):
                raise ValueError(f"pad_sequences: sequences[{i}] holds values that dtype {dtype} cannot hold "
                                 f"(it takes {info.min} to {info.max}), got values from {row.min()} to "
                                 f"{row.max()}; give a wider dtype")
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


def normalize(x, axis=-1, order=2):
    """``x`` divided by its norm along ``axis`` (Keras' ``keras.utils.normalize``): each row a unit
    vector by default. A zero vector stays zero (its norm counts as 1).

    x : array-like of numbers; floats keep their dtype, integers become float32 (glassnet's default)
    axis : int, the axis of the vectors (Keras' default -1, the features)
    order : the norm's order, as ``np.linalg.norm``'s ``ord`` for vectors: 2 (Euclidean, the default),
        1, ``np.inf``, ...
    Returns an array of x's shape.

    Two differences from Keras 3.15: Keras reads ``axis=0`` as ``-1`` (its ``axis or -1``), so it
    normalises the rows where the columns were asked for, where glassnet normalises along the axis
    given; and Keras turns a vector (n,) into a row (1, n), where glassnet keeps x's shape.

    >>> normalize([[3.0, 4.0], [0.0, 0.0]])
    array([[0.6, 0.8],
           [0. , 0. ]])
    """
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"normalize: x must hold numbers, got an array of dtype {x.dtype}")
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"normalize: axis must be an int, got {axis!r:.40}")
    if not -x.ndim <= axis < max(x.ndim, 1) or x.ndim == 0:
        raise ValueError(f"normalize: axis={axis} is out of range for x of shape {x.shape}")
    if x.dtype.kind != "f":
        x = x.astype(np.float32)
    try:
        norm = np.linalg.norm(x, ord=order, axis=int(axis), keepdims=True)
    except ValueError as exc:           # an order np.linalg.norm does not know ("fro" for vectors)
        raise ValueError(f"normalize: order must be a vector norm's order (2, 1, np.inf, ...), got "
                         f"{order!r:.40} ({exc})") from None
    norm[norm == 0] = 1
    return x / norm


def _split_count(size, total, what):
    """``split_dataset``'s ``left_size``/``right_size`` as a count of samples: a fraction in (0, 1)
    of ``total`` (rounded as Keras rounds it, Python's ``round``), or a count in [1, total)."""
    if size is None:
        return None
    if isinstance(size, (float, np.floating)):
        if not 0 < size < 1:
            raise ValueError(f"split_dataset: {what} must be a fraction in (0, 1) or a number of samples, got {size}")
        count = round(float(size) * total)
    elif isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        if not 0 < size < total:
            raise ValueError(f"split_dataset: {what} must be a number of samples in [1, {total}) (the data holds "
                             f"{total}) or a fraction in (0, 1), got {size}")
        count = int(size)
    else:
        raise TypeError(f"split_dataset: {what} must be a fraction (float) or a number of samples (int), got "
                        f"{type(size).__name__} {size!r:.40}")
    return count


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Split data into a left part and a right part, say training and test data (Keras'
    ``keras.utils.split_dataset``, for arrays).

    dataset : an array, or a tuple, list or dict of arrays of one length (the samples along axis 0):
        ``(x, y)`` gives ``((x_left, y_left), (x_right, y_right))``
    left_size, right_size : a fraction in (0, 1) or a number of samples; at least one is given, the
        other is the rest. As in Keras, the left part is the first ``left_size`` samples and the right
        part the last ``right_size`` (when both are given and leave some out, the middle is dropped);
        a fraction is ``round(fraction * n)`` samples, and neither part may be empty.
    shuffle : shuffle the samples (all arrays alike) before splitting; ``seed`` (int) makes it
        repeatable. Keras shuffles with Python's ``random``, glassnet with NumPy's generator, so the
        same seed gives another order than Keras'.
    Returns ``(left, right)``, each of the dataset's form, holding NumPy arrays (Keras returns
    ``tf.data`` or PyTorch datasets). Without ``shuffle`` they are views of the arrays given.

    >>> x, y = np.arange(10).reshape(5, 2), np.arange(5)
    >>> (x_train, y_train), (x_test, y_test) = split_dataset((x, y), left_size=0.8)
    >>> y_train, y_test
    (array([0, 1, 2, 3]), array([4]))
    """
    if isinstance(dataset, dict):
        keys, arrays = list(dataset), list(dataset.values())
    elif isinstance(dataset, (tuple, list)):
        keys, arrays = None, list(dataset)
    else:
        keys, arrays = None, [dataset]
    if not arrays:
        raise ValueError("split_dataset: dataset holds no arrays")
    converted = []
    for i, array in enumerate(arrays):
        if isinstance(array, PyDataset) or not hasattr(array, "__len__") or isinstance(array, (str, bytes)):
            raise TypeError(f"split_dataset: dataset must be an array or a tuple, list or dict of arrays, got "
                            f"{type(array).__name__}" + ("" if len(arrays) == 1 and keys is None else f" at {i if keys is None else repr(keys[i])}"))
        converted.append(np.asarray(array))
    lengths = {a.shape[0] if a.ndim else None for a in converted}
    if None in lengths or len(lengths) != 1:
        raise ValueError(f"split_dataset: the arrays must hold one number of samples along axis 0, got shapes "
                         f"{[a.shape for a in converted]}")
    total = lengths.pop()
    if left_size is None and right_size is None:
        raise ValueError("split_dataset: give left_size or right_size (a fraction or a number of samples)")
    left, right = _split_count(left_size, total, "left_size"), _split_count(right_size, total, "right_size")
    if left is None:
        left = total - right
    elif right is None:
        right = total - left
    if left + right > total:
        raise ValueError(f"split_dataset: left_size and right_size ask for {left} + {right} samples, the data holds "
                         f"{total}")
    if left == 0 or right == 0:
        raise ValueError(f"split_dataset: with {total} samples, left_size={left_size!r} and right_size="
                         f"{right_size!r} leave the {'left' if left == 0 else 'right'} part empty")
    # checked here, not where NumPy reads it: its own words ("expected non-negative integer") name no argument
    seed = check_seed(seed, "split_dataset: seed")
    if check_flag(shuffle, "split_dataset: shuffle"):
        order = np.random.default_rng(seed).permutation(total)
        converted = [a[order] for a in converted]

    def pack(part):
        if keys is not None:
            return dict(zip(keys, part))
        if isinstance(dataset, (tuple, list)):
            return type(dataset)(part) if type(dataset) in (tuple, list) else tuple(part)
        return part[0]
    return pack([a[:left] for a in converted]), pack([a[total - right:] for a in converted])


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """``(x, y, sample_weight)`` as ``fit`` reads a batch (Keras' function for a ``PyDataset``'s
    ``__getitem__``): ``x`` alone without targets, ``(x, y)`` without weights.

    >>> pack_x_y_sample_weight(1, 2)
    (1, 2)
    """
    if y is None:
        # Keras' rule: x alone, unless x is itself a tuple or list, which would then read as (x, y)
        return (x,) if isinstance(x, (tuple, list)) else x
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def unpack_x_y_sample_weight(data):
    """``(x, y, sample_weight)`` from a batch as ``fit`` reads one: ``x``, ``(x,)``, ``(x, y)`` or
    ``(x, y, sample_weight)``, with None for what is missing (Keras' function).

    >>> unpack_x_y_sample_weight((1, 2))
    (1, 2, None)
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if not 1 <= len(data) <= 3:
        raise ValueError(f"unpack_x_y_sample_weight: expected x, (x,), (x, y) or (x, y, sample_weight), got a "
                         f"tuple of {len(data)} items")
    return (*data, *(None,) * (3 - len(data)))
