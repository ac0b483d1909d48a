"""The CIFAR batch files: Python pickles of ``{b"data": uint8 (n, 3072), b"labels": [...], ...}``."""
from .. import backend
from .._safe_pickle import load_pickle


def load_batch(fpath, label_key="labels"):
    """``(data, labels)`` of one CIFAR batch file: uint8 (n, 3, 32, 32) and the list of labels.

    Read through the restricted unpickler: only NumPy arrays, dicts, lists, strings and numbers.
    """
    d = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in load_pickle(fpath).items()}
    data = d["data"]
    return data.reshape(data.shape[0], 3, 32, 32), d[label_key]


def to_format(x_train, x_test):
    """CIFAR images stored channels first, (n, 3, 32, 32), as the configured image_data_format wants
    them: (n, 32, 32, 3) for channels_last (a transposed view, as Keras returns), else unchanged."""
    if backend.image_data_format() == "channels_last":
        return x_train.transpose(0, 2, 3, 1), x_test.transpose(0, 2, 3, 1)
    return x_train, x_test
