"""A layer's own saving hooks, Keras 3's ``save_own_variables``/``load_own_variables`` and
``save_assets``/``load_assets``, honoured by glassnet's model files (``model.save("m.npz")``).

Keras' saving guide keeps what its weights do not hold so::

    class LayerWithCustomVariable(keras.layers.Dense):
        def save_own_variables(self, store):
            super().save_own_variables(store)
            store["variables"] = self.my_variable.numpy()
        def load_own_variables(self, store):
            self.my_variable.assign(store["variables"])
            for i, v in enumerate(self.weights):
                v.assign(store[f"{i}"])

    class LayerWithCustomAssets(keras.layers.Dense):
        def save_assets(self, inner_path):          # a folder: write files into it
            with open(os.path.join(inner_path, "vocabulary.txt"), "w") as f:
                f.write(self.vocab)
        def load_assets(self, inner_path):
            with open(os.path.join(inner_path, "vocabulary.txt")) as f:
                self.vocab = f.read()

``save_model`` calls, for each layer (``model.layers``) whose class of yours defines one of the
four: ``save_own_variables(store)`` on a dict (glassnet's own writes the weights under ``"0"``,
``"1"``, ...), and ``save_assets(folder)`` on an empty temporary folder. The file keeps the store's
arrays and the folder's files as members ``own/NNN.npy`` (a file's bytes as a uint8 array) listed
in its JSON under ``"own_saving"``: ``[{"layer": index, "variables": [key, ...], "assets":
[relative path, ...]}]``. ``load_model`` hands them back once the weights are set, as Keras'
loader does: ``load_own_variables(store)`` (a dict of the arrays), then ``load_assets(folder)``
on a temporary folder holding those files. Nothing is pickled: a store value must be an array of
numbers or booleans (refused by name otherwise), keys and paths plain text, each file a regular
one (no links), and the reader checks names, counts and sizes before writing any file.
"""
import os
import re
import tempfile

import numpy as np

from .errors import ModelFileError

HOOKS = ("save_own_variables", "load_own_variables", "save_assets", "load_assets")
MAX_ENTRIES = 4096            # store values and files, all layers together
MAX_FILE_BYTES = 256 * 2 ** 20
_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}")


def own_hooks(layer):
    """The saving hooks ``layer``'s class of yours defines (glassnet's own, which every layer has
    for Keras' API, not counted)."""
    return [name for name in HOOKS if callable(getattr(type(layer), name, None))
            and not (getattr(getattr(type(layer), name), "__module__", None) or "").startswith("glassnet.")]


def safe_path(path):
    parts = path.split("/")
    return 0 < len(parts) <= 16 and all(_PART.fullmatch(part) for part in parts)


def collect(model):
    """``(entries, arrays)``: the JSON list ``"own_saving"`` of ``model``'s layers with hooks (see
    the module docstring) and the arrays of its members, in order."""
    entries, arrays = [], []
    for index, layer in enumerate(model.layers):
        hooks = own_hooks(layer)
        if not hooks:
            continue
        where = f"save_model: layer {layer.name!r} ({type(layer).__name__})"
        entry = {"layer": index, "variables": [], "assets": []}
        if keeps_store(layer):
            for key, array in saved_store(layer, where).items():
                entry["variables"].append(key)
                arrays.append(array)
        for path, data in saved_files(layer, where):
            entry["assets"].append(path)
            arrays.append(np.frombuffer(data, dtype=np.uint8))
        entries.append(entry)
    if len(arrays) > MAX_ENTRIES:
        raise ValueError(f"save_model: the layers' own saving hooks keep {len(arrays)} values and files, more than "
                         f"a model file holds ({MAX_ENTRIES})")
    return entries, arrays


def keeps_store(layer):
    """Whether ``layer``'s class of yours defines ``save_own_variables`` or ``load_own_variables``:
    its store (not its weights alone) is what a file keeps for it."""
    return bool({"save_own_variables", "load_own_variables"} & set(own_hooks(layer)))


def saved_store(layer, where):
    """``{key: array}`` that ``layer.save_own_variables`` fills (a dict, in its order), each value
    checked: a plain key, an array of numbers or booleans (``where``: the error's start)."""
    store, arrays = {}, {}
    layer.save_own_variables(store)
    if not isinstance(store, dict):
        raise TypeError(f"{where}: save_own_variables must fill the dict it is given")
    for key, value in store.items():
        if not isinstance(key, str) or not _PART.fullmatch(key):
            raise ValueError(f"{where}: save_own_variables: store key {key!r:.60} is not a plain name "
                             f"(letters, digits, _ . -)")
        array = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
        if array.dtype.hasobject or array.dtype.kind not in "biufb":
            raise TypeError(f"{where}: save_own_variables: store[{key!r}] has dtype {array.dtype}; a "
                            f"glassnet file holds arrays of numbers or booleans only (never pickles): "
                            f"keep text as an asset (save_assets) or in get_config")
        arrays[key] = array
    return arrays


def saved_files(layer, where):
    """``[(relative path, bytes)]`` that ``layer.save_assets`` writes into an empty temporary
    folder (none when its class defines no ``save_assets`` of yours), each checked (``_files_in``)."""
    if "save_assets" not in own_hooks(layer):
        return []
    with tempfile.TemporaryDirectory() as folder:
        layer.save_assets(folder)
        return _files_in(folder, where)


def _files_in(folder, where):
    """``[(relative path, bytes)]`` of the files ``save_assets`` wrote under ``folder``, sorted."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            path = os.path.relpath(full, folder).replace(os.sep, "/")
            if os.path.islink(full) or not os.path.isfile(full):
                raise ValueError(f"{where}: save_assets wrote {path!r}, not a regular file")
            if not safe_path(path):
                raise ValueError(f"{where}: save_assets wrote {path!r:.100}: a file name of letters, digits, _ . - "
                                 f"is what a model file keeps")
            if os.path.getsize(full) > MAX_FILE_BYTES:
                raise ValueError(f"{where}: save_assets wrote {path!r}, larger than a model file keeps "
                                 f"({MAX_FILE_BYTES:,} bytes)")
            with open(full, "rb") as f:
                found.append((path, f.read()))
    return found


def count(entries):
    """How many members ``entries`` (a file's ``"own_saving"``, checked by ``check``) lists."""
    return sum(len(entry["variables"]) + len(entry["assets"]) for entry in entries)


def check(entries, layers):
    """``entries`` (a file's ``"own_saving"``, untrusted) checked against ``layers`` (the model
    built from its config): a ModelFileError naming what is wrong."""
    if not isinstance(entries, list) or len(entries) > len(layers):
        raise ModelFileError(f"own_saving: expected a list of at most one entry per layer, got {entries!r:.100}")
    seen = set()
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != {"layer", "variables", "assets"}:
            raise ModelFileError(f"own_saving: expected entries {{layer, variables, assets}}, got {entry!r:.100}")
        index = entry["layer"]
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(layers) or index in seen:
            raise ModelFileError(f"own_saving: layer {index!r:.40} is not a new index of the model's layers")
        seen.add(index)
        keys, paths = entry["variables"], entry["assets"]
        if not (isinstance(keys, list) and all(isinstance(k, str) and _PART.fullmatch(k) for k in keys)
                and len(set(keys)) == len(keys)):
            raise ModelFileError(f"own_saving: layer {index}: variables must be distinct plain names, got {keys!r:.100}")
        if not (isinstance(paths, list) and all(isinstance(p, str) and safe_path(p) for p in paths)
                and len(set(paths)) == len(paths)):
            raise ModelFileError(f"own_saving: layer {index}: assets must be distinct relative paths of plain "
                                 f"names, got {paths!r:.100}")
        hooks = own_hooks(layers[index])
        if (keys and "load_own_variables" not in hooks and "save_own_variables" not in hooks) or \
                (paths and "load_assets" not in hooks):
            raise ModelFileError(f"own_saving: layer {layers[index].name!r} ({type(layers[index]).__name__}) "
                                 f"defines no hook to read what the file keeps for it")
    if count(entries) > MAX_ENTRIES:
        raise ModelFileError(f"own_saving: lists {count(entries)} members, more than a model file holds")


def restore(entries, layers, read):
    """Hand each layer its store and files (``read(k)``: the k-th ``own/`` member, checked), as
    Keras' loader does: ``load_own_variables(store)``, then ``load_assets(folder)``."""
    k = 0
    for entry in entries:
        layer = layers[entry["layer"]]
        store = {}
        for key in entry["variables"]:
            store[key], k = read(k), k + 1
        files = []
        for path in entry["assets"]:
            array = read(k)
            k += 1
            if array.dtype != np.uint8 or array.ndim != 1:
                raise ModelFileError(f"own_saving: the asset {path!r} of layer {layer.name!r} is not bytes")
            files.append((path, array.tobytes()))
        load_hooks(layer, store, files, bool(entry["variables"]))


def load_hooks(layer, store, files, stored=True):
    """Hand ``layer`` what a file kept for it, as Keras' loader does: ``load_own_variables(store)``
    (when the file kept a store, ``stored``, or its class reads one; else glassnet has set its
    weights already), then ``load_assets(folder)`` on a temporary folder holding ``files``
    (``[(checked relative path, bytes)]``)."""
    hooks = own_hooks(layer)
    if stored or "load_own_variables" in hooks:
        layer.load_own_variables(store)
    if "load_assets" in hooks:
        with tempfile.TemporaryDirectory() as folder:
            for path, data in files:
                full = os.path.join(folder, *path.split("/"))
                os.makedirs(os.path.dirname(full), exist_ok=True)
                with open(full, "xb") as f:         # (each path once: checked names, no overwrite)
                    f.write(data)
            layer.load_assets(folder)
