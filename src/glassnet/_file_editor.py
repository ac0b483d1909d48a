"""``gn.saving.KerasFileEditor``: Keras 3.15's tool to inspect and edit the weights of a ``.keras``
or ``.weights.h5`` file without building its model, for adapting an old weights file to a changed
architecture.

The file's weights become ``weights_dict``, a tree of dicts as Keras' editor makes it (its
``_extract_weights_from_store``): one dict per HDF5 group, a layer's group replaced by its own
``vars`` (``{"layers": {"dense": {"0": kernel, "1": bias}}}``), empty groups left out. As in Keras,
a layer whose own ``vars`` are empty is left out with its sublayers (an LSTM's ``cell``, a
Bidirectional's sides): glassnet warns, naming them, where Keras says nothing. Edits change the
tree; ``save(path)`` writes it as a ``.weights.h5`` file in Keras' layout (each dict of arrays as
``<path>/vars/<name>``), which ``load_weights`` of a model of the edited architecture reads, in
glassnet and in Keras.

Differences from Keras, each on purpose: reading goes through glassnet's wary h5 walk
(glassnet._keras_h5: hard links only, plain numeric datasets, a capped number of objects, the
file's size capped by ``max_bytes``; a ``.keras`` zip's directory checked first); ``save`` is
atomic (a temporary file renamed onto the target); a name given without a path counts its
occurrences exactly (Keras 3.15 counts some twice and refuses a name that occurs once, in a file
with an ``optimizer`` group); ``summary`` prints each layer's ``name`` attribute (Keras' path
lookup never finds it); ``rename_object`` onto an existing name and ``add_object`` at an existing
path are refused (Keras overwrites that object silently), as are weights that are not numeric
arrays; text is printed plainly, not with ``rich``; ``compare`` takes a glassnet
model and leaves the file's ``optimizer`` object out (glassnet writes no optimizer slots in
Keras' layout), and counts each weight once (Keras 3.15 adds a sibling object's running counts
again: it reports 6 matches for a file of two Dense layers).
"""
import io
import os
import zipfile

import numpy as np

from .errors import ModelFileError


class KerasFileEditor:
    """Inspect and edit the weights of Keras' ``.keras`` or ``.weights.h5`` file (Keras'
    ``keras.saving.KerasFileEditor``).

    Parameters
    ----------
    filepath : str or path-like
        A ``.keras`` or ``.weights.h5`` file.
    max_bytes : int
        The largest file (or ``.keras`` members together) read.

    Attributes: ``weights_dict`` (the tree of arrays, edited in place), ``object_metadata``
    ({"/layers/dense": {"name": "dense"}}), ``config`` and ``metadata`` (a ``.keras`` file's, else
    None), ``filepath``.

    Example::

        editor = gn.saving.KerasFileEditor("old.weights.h5")
        editor.summary()
        editor.delete_object("layers/dense_2")
        editor.add_object("layers/dense_3", weights={"0": kernel, "1": bias})
        editor.save("edited.weights.h5")
    """

    def __init__(self, filepath, max_bytes=None):
        from ._keras_h5 import _Walk, editor_tree, h5py_module, open_h5
        from .io import MAX_BYTES
        if not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(f"KerasFileEditor: filepath must be a str or path-like, got {type(filepath).__name__}")
        self.filepath = os.fspath(filepath)
        max_bytes = MAX_BYTES if max_bytes is None else max_bytes
        self.metadata = self.config = self.model = None
        if not self.filepath.endswith((".keras", ".weights.h5")):
            raise ValueError(f"KerasFileEditor: expected a filepath ending in .keras or .weights.h5, got "
                             f"{self.filepath!r:.200}")
        # the zip's, the JSON's and the walk's refusals, each named by the file (OSError passes through)
        named = f"KerasFileEditor({self.filepath!r:.200}): "

        def prefixed(exc):
            return exc if str(exc).startswith(named) else exc.prefixed(named)
        try:
            if self.filepath.endswith(".keras"):
                data, where = self._read_keras(max_bytes), "model.weights.h5"
            else:
                data, where = _read_capped(self.filepath, max_bytes), "the .weights.h5 file"
        except ModelFileError as exc:
            raise prefixed(exc) from exc.__cause__
        h5py = h5py_module("KerasFileEditor")
        try:
            with open_h5(h5py, data, where) as h5:
                tree, metadata, skipped = editor_tree(_Walk(h5py, where), h5)
        except ModelFileError as exc:
            raise prefixed(exc) from exc.__cause__
        # h5py's on a damaged file: OSError, KeyError, ... and RuntimeError ("Link iteration failed (bad
        # heap free list)"), OverflowError ("Python int too large to convert to C ssize_t")
        except Exception as exc:      # noqa: BLE001
            raise ModelFileError(f"KerasFileEditor({self.filepath!r:.200}): {where}: not a readable HDF5 weights "
                                 f"file ({type(exc).__name__}: {str(exc)[:200]})") from exc
        self.weights_dict, self.object_metadata = tree, metadata
        if skipped:
            from ._warnings import warn
            warn(f"KerasFileEditor: {skipped[:10]}: layers whose own vars are empty and whose sublayers hold "
                 f"weights; Keras 3.15's editor leaves them out of weights_dict, and so does this one (save() "
                 f"would not write them)")
        print(f"Keras model file '{self.filepath}'")
        if self.metadata is not None:
            print(f"Saved with Keras {self.metadata.get('keras_version')} - date: {self.metadata.get('date_saved')}")

    def _read_keras(self, max_bytes):
        from ._keras_file import check_members, read_json_member, read_member
        if os.path.getsize(self.filepath) > max_bytes:
            raise ModelFileError(f"KerasFileEditor({self.filepath!r:.200}): the file is larger than "
                                 f"max_bytes={max_bytes}")
        try:
            with zipfile.ZipFile(self.filepath) as archive:
                infos = check_members(archive.infolist(), max_bytes)
                self.config = read_json_member(archive, infos["config.json"])
                self.metadata = read_json_member(archive, infos["metadata.json"]) if "metadata.json" in infos else {}
                return read_member(archive, infos["model.weights.h5"])
        except zipfile.BadZipFile as exc:
            raise ModelFileError(f"KerasFileEditor({self.filepath!r:.200}): not a zip file ({exc})") from None

    # -- looking ----------------------------------------------------------------------------------
    def summary(self):
        """Print the file's weights, a tree of objects and ``name: shape=..., dtype=...`` lines."""
        print("Weights structure")
        self._print_tree(self.weights_dict, "  ", "")

    def _print_tree(self, tree, prefix, path):
        for i, (key, value) in enumerate(tree.items()):
            last = i == len(tree) - 1
            connector = "> " if not path and i == 0 else "└─ " if last else "├─ "
            if isinstance(value, dict):
                name = self.object_metadata.get(f"{path}/{key}", {}).get("name")
                print(f"{prefix}{connector}{key}" + (f" ('{name}')" if name is not None else ""))
                self._print_tree(value, prefix + ("    " if last else "│   "), f"{path}/{key}")
            else:
                print(f"{prefix}{connector}{key}: shape={value.shape}, dtype={value.dtype}")

    def compare(self, reference_model):
        """Compare the file's weights with those ``reference_model`` (a glassnet model) would write
        in Keras' layout: each object and weight present in one and not the other, and each shape
        that differs, is printed and counted. Returns ``{"status": "success" or "error",
        "error_count", "match_count"}`` (Keras' keys)."""
        if not hasattr(reference_model, "layers") or not hasattr(reference_model, "get_weights"):
            raise TypeError(f"KerasFileEditor.compare: reference_model must be a glassnet model, got "
                            f"{type(reference_model).__name__}")
        if not reference_model.built:
            raise ValueError("KerasFileEditor.compare: reference_model is not built: build or call it first")
        print("Running comparison")
        spec = weight_spec(reference_model, nested=not self.filepath.endswith(".keras"))
        target = {k: v for k, v in self.weights_dict.items() if k != "optimizer"}
        checked = set()
        errors, matches = _compare(target, spec, "", "saved file", "reference model", checked)
        errors += _compare(spec, target, "", "reference model", "saved file", checked)[0]
        print("─────────────────────")
        if errors == 0:
            print("Comparison successful: saved file is compatible with the reference model")
            print(f"    Found {matches} matching weight{'' if matches == 1 else 's'}")
        else:
            print(f"Found {errors} error{'' if errors == 1 else 's'}: saved file is not compatible with the "
                  f"reference model")
        return {"status": "success" if errors == 0 else "error", "error_count": errors, "match_count": matches}

    # -- editing ----------------------------------------------------------------------------------
    def _edit_object(self, edit, source_name, target_name=None):
        _name(source_name, "object_name")
        if target_name is not None:
            _name(target_name, "new_name")
            if "/" in target_name:
                raise ValueError(f"new_name should be a leaf name, not a full path name; got {target_name!r}")
        if "/" in source_name:
            *parents, leaf = source_name.split("/")
            tree = self.weights_dict
            for part in parents:
                if not isinstance(tree.get(part), dict):
                    raise ValueError(f"Path {source_name!r} not found in the file")
                tree = tree[part]
            if leaf not in tree:
                raise ValueError(f"Path {source_name!r} not found in the file")
            edit(tree, leaf, target_name)
            return
        holders = []

        def find(tree):
            for value in tree.values():
                if isinstance(value, dict):
                    find(value)
            if source_name in tree:
                holders.append(tree)
        find(self.weights_dict)
        if len(holders) > 1:
            raise ValueError(f"Name {source_name!r} occurs {len(holders)} times in the file; give its complete "
                             f"path (editor.summary() lists them)")
        if not holders:
            raise ValueError(f"Name {source_name!r} does not appear in the file; editor.summary() lists its objects")
        edit(holders[0], source_name, target_name)

    def rename_object(self, object_name, new_name):
        """Rename an object (``"dense_2"`` or ``"layers/dense_2"``) to ``new_name`` (a leaf name)."""
        def rename(tree, source, target):
            if target in tree and target != source:
                raise ValueError(f"rename_object: {target!r} is already an object there; delete it first")
            tree[target] = tree.pop(source)
        self._edit_object(rename, object_name, new_name)

    def delete_object(self, object_name):
        """Remove an object (``"dense_2"`` or ``"layers/dense_2"``) and its weights."""
        self._edit_object(lambda tree, source, target: tree.pop(source), object_name)

    def add_object(self, object_path, weights):
        """Add an object at ``object_path`` (``"layers/dense_2"``; its parent must exist) holding
        ``weights``, {weight name: array} (``{"0": kernel, "1": bias}``)."""
        _name(object_path, "object_path")
        weights = _weights(weights)
        *parents, leaf = object_path.split("/")
        tree = self.weights_dict
        for part in parents:
            if not isinstance(tree.get(part), dict):
                raise ValueError(f"Path {'/'.join(parents)!r} not found in the file")
            tree = tree[part]
        if leaf in tree:
            raise ValueError(f"add_object: {object_path!r} is already in the file (add_weights adds to it)")
        tree[leaf] = weights

    def delete_weight(self, object_name, weight_name):
        """Remove weight ``weight_name`` (``"0"``) of object ``object_name``."""
        _name(weight_name, "weight_name")

        def delete(tree, source, target):
            if not isinstance(tree[source], dict) or weight_name not in tree[source]:
                found = list(tree[source]) if isinstance(tree[source], dict) else []
                raise ValueError(f"Weight {weight_name!r} not found in object {object_name!r}; its weights: {found}")
            tree[source].pop(weight_name)
        self._edit_object(delete, object_name)

    def add_weights(self, object_name, weights):
        """Add ``weights``, {weight name: array}, to object ``object_name`` (replacing those of the same names)."""
        weights = _weights(weights)

        def add(tree, source, target):
            if not isinstance(tree[source], dict):
                raise ValueError(f"add_weights: {object_name!r} is a weight, not an object")
            tree[source].update(weights)
        self._edit_object(add, object_name)

    # -- writing ----------------------------------------------------------------------------------
    def save(self, filepath):
        """Write the (edited) weights to the ``.weights.h5`` file ``filepath``, atomically: each
        dict's arrays as ``<its path>/vars/<weight name>`` (Keras' layout)."""
        from ._atomic import write_atomically
        from ._keras_h5 import h5py_module
        if not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(f"save: filepath must be a str or path-like, got {type(filepath).__name__}")
        filepath = os.fspath(filepath)
        if not filepath.endswith(".weights.h5"):
            raise ValueError(f"save: expected a filepath ending in .weights.h5, got {filepath!r:.200}")
        h5py = h5py_module("KerasFileEditor.save")
        buffer = io.BytesIO()
        with h5py.File(buffer, "w") as h5:
            _write_tree(h5, self.weights_dict, "")
        data = buffer.getvalue()
        write_atomically(filepath, lambda f: f.write(data))

    def resave_weights(self, filepath):
        """``save(filepath)`` (Keras' other name for it)."""
        self.save(filepath)


def _read_capped(path, max_bytes):
    if os.path.getsize(path) > max_bytes:
        raise ModelFileError(f"KerasFileEditor({path!r:.200}): the file is larger than max_bytes={max_bytes}")
    with open(path, "rb") as f:
        return f.read(max_bytes + 1)


def _name(value, what):
    if not isinstance(value, str) or not value or value.startswith("/") or value.endswith("/") or "//" in value:
        raise (TypeError if not isinstance(value, str) else ValueError)(
            f"{what} must be a name or path like 'dense_2' or 'layers/dense_2', got {value!r:.80}")


def _weights(weights):
    """{name: float/int array} checked: names without "/", numeric arrays."""
    if not isinstance(weights, dict):
        raise ValueError(f"weights must be a dict of weight names (usually '0', '1', ...) to NumPy arrays, got "
                         f"{type(weights).__name__}")
    checked = {}
    for key, value in weights.items():
        if not isinstance(key, str) or not key or "/" in key:
            raise ValueError(f"weights: each key must be a weight name without '/', got {key!r:.60}")
        array = np.asarray(value)
        if array.dtype.kind not in "fiu":
            raise TypeError(f"weights[{key!r}]: expected a numeric array, got dtype {array.dtype}")
        checked[key] = array
    return checked


def _write_tree(h5, tree, path):
    arrays = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            if value:
                _write_tree(h5, value, f"{path}/{key}".lstrip("/"))
        else:
            arrays[key] = value
    if arrays:
        group = h5.create_group(f"{path}/vars" if path else "vars")
        for key, value in arrays.items():
            group.create_dataset(key, data=np.asarray(value))


def weight_spec(model, nested=True):
    """{path part: ... {weight name: array of its shape}} of the weights ``model`` writes in Keras' layout
    (``nested=False``: as in a ``.keras`` file, nested Sequentials flattened)."""
    from ._keras_h5 import _sublayers, layer_groups
    spec = {}
    for group, layer, _ in layer_groups(model, nested=nested):
        if layer is None or getattr(layer, "is_model", False) or not hasattr(layer, "get_weights"):
            continue
        for sub, _, arrays in _sublayers(layer, layer.get_weights()):
            items = list(arrays.items() if isinstance(arrays, dict) else enumerate(arrays))
            if not items:
                continue
            node = spec
            for part in (f"{group}/{sub}" if sub else group).split("/"):
                node = node.setdefault(part, {})
            # (a read-only view of one zero, of the weight's shape and dtype: like Keras' KerasTensor, no memory)
            node.update({str(k): np.broadcast_to(np.zeros((), np.asarray(v).dtype), np.shape(v)) for k, v in items})
    return spec


def _compare(target, reference, path, target_name, reference_name, checked):
    """(errors, matches) of ``reference``'s objects and weights looked up in ``target`` (Keras' walk)."""
    errors = matches = 0
    for key, value in reference.items():
        where = f"{path}/{key}"
        if where in checked:
            continue
        if key not in target:
            errors += 1
            checked.add(where)
            what = "Object" if isinstance(value, dict) else "Weight"
            print(f"...{what} {where} present in {reference_name}, missing from {target_name}")
            if isinstance(value, dict):
                print(f"    In {reference_name}, {where} contains the following keys: {list(value)}")
        elif isinstance(value, dict):
            if not isinstance(target[key], dict):
                errors += 1
                checked.add(where)
                print(f"...{where} is an object in {reference_name}, a weight in {target_name}")
                continue
            e, m = _compare(target[key], value, where, target_name, reference_name, checked)
            errors, matches = errors + e, matches + m
        else:
            theirs = tuple(np.shape(target[key])) if not isinstance(target[key], dict) else None
            if theirs != tuple(np.shape(value)):
                errors += 1
                checked.add(where)
                print(f"...Weight shape mismatch for {where}\n    In {reference_name}: shape={tuple(np.shape(value))}"
                      f"\n    In {target_name}: shape={theirs}")
            else:
                matches += 1
    return errors, matches
