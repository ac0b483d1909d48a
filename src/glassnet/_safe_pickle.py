"""Read the pickles inside Keras' dataset files without ever running code from them.

The CIFAR batches are Python pickles of a dict holding a NumPy array and lists; imdb.npz and
reuters.npz hold ragged sequences as NumPy object arrays, which NumPy stores as pickles. Rebuilding
them needs NumPy's array reconstruction, ``ndarray`` and ``dtype``, nothing else: the unpickler below
allows exactly those (both the NumPy < 2 ``numpy.core`` and >= 2 ``numpy._core`` spellings) and
refuses every other global, so a ``__reduce__`` that calls ``os.system`` fails before it is called.
"""
import io
import pickle

import numpy as np

_ALLOWED = frozenset({
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
})


class RestrictedUnpickler(pickle.Unpickler):
    """A pickle reader that builds NumPy arrays, dicts, lists, strings and numbers, and nothing else."""

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name} from a dataset file: only NumPy arrays, dicts, lists, strings and "
            "numbers are allowed (the file may be corrupted or malicious)")


def load_pickle(path, encoding="bytes"):
    """The object pickled in the file at ``path``, through ``RestrictedUnpickler``."""
    with open(path, "rb") as f:
        return RestrictedUnpickler(f, encoding=encoding).load()


def _read_npy(buffer):
    # numeric arrays: no pickle at all; object arrays: skip the header, then the restricted unpickler
    try:
        return np.lib.format.read_array(buffer, allow_pickle=False)
    except ValueError:
        buffer.seek(0)
        version = np.lib.format.read_magic(buffer)
        if version[0] == 1:
            np.lib.format.read_array_header_1_0(buffer)
        elif version[0] in (2, 3):          # 3.0 differs from 2.0 only in the header's text encoding
            np.lib.format.read_array_header_2_0(buffer)
        else:
            raise ValueError(f"unsupported .npy format version {version}") from None
        return RestrictedUnpickler(buffer).load()


def load_npz(path):
    """The arrays of the .npz file at ``path`` as a dict; object arrays through ``RestrictedUnpickler``."""
    import zipfile
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.endswith(".npy"):
                with archive.open(member) as raw:
                    arrays[member[:-4]] = _read_npy(io.BytesIO(raw.read()))
    return arrays
