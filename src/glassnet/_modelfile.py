"""Reading a glassnet model file without trusting it (the format is described in ``glassnet.io``).

Everything here looks at a file before its data is read: the zip directory (member names and
declared sizes), each ``.npy`` header (a plain numeric dtype, and a shape that matches the member's
size) and the JSON config (size, encoding, format, version, keys and their types). ``np.load`` is
always called with ``allow_pickle=False``; these checks add that nothing can make it allocate more
than the file declares, or read an array other than the one the config leads us to expect.
The random-generator states the config carries are checked field by field before NumPy takes them.
"""
import json
import math
import re
import warnings
import zipfile

import numpy as np

from .errors import ModelFileError

FORMAT, FORMAT_VERSION = "glassnet-model", 1
# the format of the files save_weights writes for a model whose config a file cannot store
# (glassnet._weightsfile): the same container, the weights alone
WEIGHTS_FORMAT = "glassnet-weights"
WEIGHTS_ONLY = ("the file holds weights only (model.save_weights writes such a file for a model whose config a "
                "file cannot store: a Lambda, a function of yours in a layer, a layer that cannot be rebuilt "
                "from its config), not a model: build the model in code and call model.load_weights(path)")
# the JSON config: small, but for a TextVectorization's vocabulary (about 20 bytes a token: 64 MiB
# holds some 3 million); anything larger is not ours, and save_model refuses to write it
MAX_CONFIG_BYTES = 64 * 2 ** 20
KEYS = {"format", "format_version", "glassnet_version", "model", "weights", "trainable",
        "optimizer_state", "rng_states", "epoch"}
# (own/: what layers of yours keep with their saving hooks, glassnet._own_saving)
MEMBER = re.compile(r"(config|weights/\d{3,}|optimizer/\d{3,}|own/\d{3,})\.npy")
# the members of Keras 3's .keras zip, named in the error when such a file is given to load_model
KERAS_MEMBERS = {"metadata.json", "config.json", "model.weights.h5", "model.weights.npz"}
KERAS_FILES = ("glassnet reads its own model files and Keras 3's .keras files (keras_model.save('model.keras')), "
               "Keras' legacy .h5 model files with load_model, Keras' .weights.h5 files with model.load_weights "
               "(h5py needed: pip install \"glassnet[keras]\"); or copy Keras' weights over with "
               "model.set_weights(keras_model.get_weights())")


def check_members(infos, max_bytes, file_size):
    """Names and declared sizes, from the zip directory alone (before any decompression).

    Every member must be stored, as ``numpy.savez`` writes it: a compressed member could declare a
    gigabyte of zeros in a few kilobytes, and the arrays are allocated at their declared size. So
    stored members must together fit in the file's ``file_size`` bytes, and what the file declares
    is what it holds.
    """
    by_name, total = {}, 0
    for info in infos:
        if info.filename in by_name:
            raise ModelFileError(f"member {info.filename!r} appears twice")
        if not MEMBER.fullmatch(info.filename):
            keras = f"; a Keras .keras file: {KERAS_FILES}" if info.filename in KERAS_MEMBERS else ""
            raise ModelFileError(f"unexpected member {info.filename[:100]!r}{keras}")
        if info.compress_type != zipfile.ZIP_STORED:
            raise ModelFileError(f"member {info.filename!r} is compressed (zip method "
                                 f"{info.compress_type}); glassnet writes every member stored")
        if info.compress_size != info.file_size:
            raise ModelFileError(f"member {info.filename!r} is stored, yet declares {info.file_size} "
                                 f"bytes in {info.compress_size}: a damaged or crafted file")
        total += info.file_size
        if total > min(max_bytes, file_size):
            raise ModelFileError(f"the members declare {total} bytes or more, more than the file's "
                                 f"{file_size} bytes (or max_bytes={max_bytes})")
        by_name[info.filename] = info
    if "config.npy" not in by_name:
        raise ModelFileError("no config.npy member: not a glassnet model file")
    return by_name


def read_header(npz, info):
    """(shape, dtype) of a member from its .npy header, checked against the member's size."""
    fmt = np.lib.format
    with npz.zip.open(info) as fp:
        version = fmt.read_magic(fp)
        if version not in ((1, 0), (2, 0)):
            raise ModelFileError(f"{info.filename}: unsupported .npy version {version}")
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        with warnings.catch_warnings():
            # NumPy parses some damaged headers only with a warning: a UserWarning after rewriting
            # Python 2 literals (3L), a DeprecationWarning from the parser for a stray backslash.
            # glassnet never wrote such a header, so it is a damaged or foreign file: an error,
            # and no warning leaks to the caller
            warnings.simplefilter("error")
            try:
                shape, _, dtype = read(fp, max_header_size=10000)    # fortran order: numpy handles it
            except Warning as exc:
                raise ModelFileError(f"{info.filename}: a .npy header NumPy reads only with a warning, "
                                     f"which glassnet never writes ({str(exc)[:120]})") from None
            except (ValueError, SyntaxError) as exc:
                raise ModelFileError(f"{info.filename}: unreadable .npy header ({str(exc)[:120]})") from None
        offset = fp.tell()
    if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None or dtype.shape != ():
        raise ModelFileError(f"{info.filename}: dtype {dtype} is not a plain numeric dtype")
    if math.prod(shape) * dtype.itemsize != info.file_size - offset:
        raise ModelFileError(f"{info.filename}: shape {shape} of {dtype} does not match the member's "
                             f"{info.file_size - offset} data bytes (truncated or corrupt)")
    return tuple(shape), dtype


def read_array(npz, headers, name, target):
    """The array ``name`` after checking its header against ``target`` (shape and dtype)."""
    shape, dtype = headers[name + ".npy"]
    if shape != tuple(target.shape) or dtype.newbyteorder("=") != target.dtype.newbyteorder("="):
        raise ModelFileError(f"{name}: expected shape {tuple(target.shape)} of {target.dtype}, "
                             f"the file has {shape} of {dtype}")
    return npz[name]


def json_bytes(meta, caller, too_large):
    """``meta``, a file's JSON object, as the uint8 bytes of its ``config.npy``; ``caller`` ("save_model",
    "save_weights") names the call in the errors. Refused when not JSON, or larger than ``read_json``
    takes, with ``too_large`` (a ``str.format`` template of ``size`` and ``limit``): a file its reader
    would refuse is never written."""
    try:
        text = json.dumps(meta, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{caller}: the model config is not JSON-serialisable ({exc})") from None
    config = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    if config.size > MAX_CONFIG_BYTES:
        raise ValueError(f"{caller}: " + too_large.format(size=config.size, limit=MAX_CONFIG_BYTES))
    return config


def read_json(npz, infos):
    """The JSON object of ``config.npy``, a model file's or a weights-only file's, checked for size
    and encoding; its ``format`` is checked by the caller."""
    shape, dtype = read_header(npz, infos["config.npy"])
    if dtype != np.uint8 or len(shape) != 1 or shape[0] > MAX_CONFIG_BYTES:
        raise ModelFileError(f"config: expected at most {MAX_CONFIG_BYTES} uint8 bytes, got {shape} of {dtype}")
    try:
        meta = json.loads(npz["config"].tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFileError(f"config: not UTF-8 JSON ({type(exc).__name__}: {str(exc)[:200]})") from exc
    if not isinstance(meta, dict):
        raise ModelFileError(f"config: 'format' is not {FORMAT!r}: not a glassnet model file")
    return meta


def read_config(npz, infos, meta=None):
    """A model file's JSON config (``meta``: already read by ``read_json``), checked: format,
    version, keys and their types. A weights-only file is refused, saying what to do instead."""
    meta = read_json(npz, infos) if meta is None else meta
    if meta.get("format") == WEIGHTS_FORMAT:
        raise ModelFileError(WEIGHTS_ONLY)
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"config: 'format' is not {FORMAT!r}: not a glassnet model file")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"config: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"format_version {version} was written by a newer glassnet "
                             f"({meta.get('glassnet_version')!r}); this one reads up to {FORMAT_VERSION}")
    if set(meta) != KEYS:
        raise ModelFileError(f"config: missing keys {sorted(KEYS - set(meta))}, "
                             f"unexpected keys {sorted(set(meta) - KEYS)[:10]}")
    for key, kind in (("model", dict), ("weights", list), ("trainable", list), ("rng_states", dict),
                      ("optimizer_state", (dict, type(None)))):
        if not isinstance(meta[key], kind):
            raise ModelFileError(f"config: {key!r} has the wrong type {type(meta[key]).__name__}")
    return meta


_BIT_GENERATORS = {cls.__name__: cls for cls in (np.random.PCG64, np.random.PCG64DXSM, np.random.Philox,
                                                  np.random.SFC64, np.random.MT19937)}


# the largest value of the integer fields of numpy's bit-generator states that index a buffer or
# hold a flag; any other integer field is a 128-bit word at most (PCG64's state and increment)
_RNG_FIELD_MAX = {"pos": 624, "buffer_pos": 4, "has_uint32": 1, "uinteger": 2 ** 32 - 1}


def _check_rng_state(template, value, where):
    """Raise ModelFileError unless ``value`` (from the file's JSON) has the structure of
    ``template`` (a fresh bit generator's state): the same keys, arrays of the same length, and
    integers in range.

    Why: numpy's state setters check little, and their C code trusts what they keep. An MT19937
    ``pos`` of 10**8 loads fine and then reads far past the 624-word key at the next draw: a
    segfault, from a crafted file, where load_model must raise ModelFileError.
    """
    if isinstance(template, dict):
        if not isinstance(value, dict) or set(value) != set(template):
            raise ModelFileError(f"rng_states: {where} must have the keys {sorted(template)}")
        for key in template:
            _check_rng_state(template[key], value[key], f"{where}.{key}")
    elif isinstance(template, np.ndarray):
        largest = 2 ** (8 * template.itemsize) - 1
        if not isinstance(value, list) or len(value) != template.size or not all(
                type(v) is int and 0 <= v <= largest for v in value):
            raise ModelFileError(f"rng_states: {where} must be {template.size} integers in [0, {largest}]")
    elif isinstance(template, str):
        if value != template:
            raise ModelFileError(f"rng_states: {where} must be {template!r}")
    else:
        largest = _RNG_FIELD_MAX.get(where.rsplit(".", 1)[-1], 2 ** 128 - 1)
        if type(value) is not int or not 0 <= value <= largest:
            raise ModelFileError(f"rng_states: {where} must be an integer in [0, {largest}], got {value!r:.50}")


def generator_from_state(state):
    """A NumPy Generator from a bit-generator state read from a file, checked first (below)."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    # exact key: only numpy's own bit generators (a string first: a list there was "unhashable type")
    if not isinstance(name, str) or name not in _BIT_GENERATORS:
        raise ModelFileError(f"rng_states: unknown bit generator {name!r:.100}; known: {sorted(_BIT_GENERATORS)}")
    bit_generator = _BIT_GENERATORS[name]()
    _check_rng_state(bit_generator.state, state, name)
    bit_generator.state = state
    return np.random.Generator(bit_generator)
