"""Read the pickles inside Keras' dataset files without ever running code from them.

The CIFAR batches are Python pickles of a dict holding a NumPy array and lists; imdb.npz and
reuters.npz hold ragged sequences as NumPy object arrays, which NumPy stores as pickles. Rebuilding
them needs NumPy's array reconstruction, ``ndarray`` and ``dtype``, nothing else: the unpickler below
allows exactly those (both the NumPy < 2 ``numpy.core`` and >= 2 ``numpy._core`` spellings) and
refuses every other global, so a ``__reduce__`` that calls ``os.system`` fails before it is called.

Allowing NumPy's own globals is not enough: ``dtype.__setstate__`` trusts the flags and fields it is
given, so a crafted pickle can make a structured dtype whose object field NumPy does not know holds
objects (or re-set a dtype's state after an array was built with it), and fill the array with raw
bytes that NumPy later reads as object pointers (a crash, at worst memory corruption). So while the
pickle is read no NumPy object is made: ``dtype`` and ``_reconstruct`` only record their arguments
and state, once each, and the arrays are built when the whole pickle has been read, each dtype
rebuilt from its type string (structured and subarray dtypes, which no dataset file holds, are refused).
"""
import io
import pickle

import numpy as np


class _Recipe:
    """What a pickle says about a dtype or an array; ``_builder`` makes it once the pickle is read."""
    __hash__ = None                 # never a dict key or set member: those could not be rebuilt
    _NONE = object()

    def __init__(self, kind, args):
        self.kind, self.args, self.state = kind, args, self._NONE

    def __setstate__(self, state):
        if self.state is not self._NONE:    # NumPy would let a second state change a dtype already used
            raise pickle.UnpicklingError(f"refusing a dataset file that sets the state of a {self.kind} twice "
                                         "(the file may be corrupted or malicious)")
        self.state = state


def _dtype(*args):
    return _Recipe("dtype", args)


def _reconstruct(*args):
    return _Recipe("array", args)


_NDARRAY = object()                 # numpy.ndarray: only _reconstruct's first argument, never called
_GLOBALS = {
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
}
_LEAVES = (int, float, complex, str, bytes, bytearray, bool, type(None), frozenset, set)
_LEAF_TYPES = frozenset(_LEAVES)


def _refuse(what):
    raise pickle.UnpicklingError(f"refusing a dataset file with {what} (the file may be corrupted or malicious)")


def _build_dtype(recipe):
    args, state = recipe.args, recipe.state
    # ("u1", False, True) today; (b"u1", 0, 1) in Python 2 pickles (the CIFAR batches) read as bytes
    if not (1 <= len(args) <= 3 and isinstance(args[0], (str, bytes))
            and all(type(a) in (bool, int) for a in args[1:])):
        _refuse(f"dtype arguments {args!r}")
    name = args[0].decode("latin-1") if isinstance(args[0], bytes) else args[0]
    # the state goes to a dtype of its own that is used for nothing but its type string: the dtype
    # returned is a new one made from that string, with NumPy's own flags
    # (always a copy: a state set on np.dtype("u1") itself would change every uint8 array)
    scratch = np.dtype(name, bool(len(args) > 1 and args[1]), copy=True)
    if state is not _Recipe._NONE:
        if not isinstance(state, tuple) or any(isinstance(v, (_Recipe, dict)) for v in state):
            _refuse(f"a dtype {args[0]!r} whose state holds fields or dtypes (structured dtypes are not allowed)")
        try:
            scratch.__setstate__(state)
        except (TypeError, ValueError) as e:
            _refuse(f"an invalid dtype state ({e})")
    if scratch.fields is not None or scratch.subdtype is not None:
        _refuse(f"a structured or subarray dtype {scratch}")
    return np.dtype(scratch.str)


def _build_array(recipe, build):
    # pickled arrays: _reconstruct(ndarray, (0,), b"b") then the state (version, shape, dtype, fortran, data)
    args, state = recipe.args, recipe.state
    if len(args) != 3 or args[0] is not _NDARRAY or not isinstance(args[2], bytes):
        _refuse("an array made other than by numpy's _reconstruct(ndarray, shape, typecode)")
    if not (isinstance(state, tuple) and len(state) == 5 and isinstance(state[1], tuple)
            and all(type(n) is int for n in state[1]) and isinstance(state[2], _Recipe)
            and state[2].kind == "dtype"):
        _refuse("an array state other than (version, shape, dtype, fortran, data)")
    version, shape, dtype, fortran, data = state
    dtype = build(dtype)
    if dtype.hasobject:
        if type(data) is not list:
            _refuse("an object array whose items are not a list")
        data = build(data)
    elif not isinstance(data, bytes):
        _refuse(f"array data {type(data).__name__} (expected bytes)")
    array = np.empty(0, np.uint8)
    array.__setstate__((version, shape, dtype, fortran, data))
    return array


def _builder():
    """A function that replaces every recipe inside an unpickled object by its dtype or array."""
    done, busy = {}, set()

    def build(obj):
        kind = type(obj)
        if kind in _LEAVES:
            return obj
        key = id(obj)
        if key in done:
            return done[key]
        if kind is list:            # in place: the list keeps its identity (and cycles stay cycles)
            done[key] = obj
            if _LEAF_TYPES.issuperset(map(type, obj)):    # imdb's millions of ints: checked at C speed
                return obj
            for i, v in enumerate(obj):
                if type(v) not in _LEAVES:
                    obj[i] = build(v)
            return obj
        if kind is dict:
            done[key] = obj
            for k, v in obj.items():
                if type(v) not in _LEAVES:
                    obj[k] = build(v)
            return obj
        if kind is tuple:
            done[key] = result = tuple(build(v) for v in obj)
            return result
        if kind is _Recipe:
            if key in busy:
                _refuse(f"a {obj.kind} that contains itself")
            busy.add(key)
            done[key] = result = _build_dtype(obj) if obj.kind == "dtype" else _build_array(obj, build)
            busy.discard(key)
            return result
        _refuse(f"an object of type {kind.__name__}")
    return build


class RestrictedUnpickler(pickle.Unpickler):
    """A pickle reader that builds NumPy arrays, dicts, lists, strings and numbers, and nothing else."""

    def find_class(self, module, name):
        if (module, name) in _GLOBALS:
            return _GLOBALS[module, name]
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name} from a dataset file: only NumPy arrays, dicts, lists, strings and "
            "numbers are allowed (the file may be corrupted or malicious)")

    def load(self):
        return _builder()(super().load())


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
