"""Weights-only files: what ``save_weights`` writes for a model whose config a model file cannot store.

A model file (``glassnet.io``) holds the network's config, so that ``load_model`` can rebuild it
without running any code of yours. A model with a ``Lambda``, a ``TextVectorization`` whose
``standardize`` is a function of yours, or a layer of yours that does not rebuild from its
``get_config()`` has no such config. Keras' ``save_weights`` writes the weights alone for these;
so does glassnet's, in this file, and ``load_weights`` reads them into the model built again by
the same code. ``load_model`` refuses such a file, saying so.

File format (``format_version`` 1)
---------------------------------
The container of a model file: a zip archive as ``numpy.savez`` writes it (members stored), each
member a ``.npy`` array of a plain numeric dtype, read with ``allow_pickle=False``::

    config.npy          uint8 (n,): the UTF-8 bytes of one JSON object, below
    weights/000.npy     model.get_weights()[0], then 001, ...

The JSON object has exactly these keys::

    format            "glassnet-weights": the marker that the file holds weights only
    format_version    1; a reader refuses a larger number
    glassnet_version  the version that wrote the file
    reason            why the config could not be stored (save_model's error), for people
    weights           [{"layer": "dense", "name": "kernel", "shape": [3, 4]}, ...]: one per member
    epoch             completed epochs when ModelCheckpoint wrote the file, else null

Reading trusts nothing: the zip directory, the JSON and every ``.npy`` header are checked (as for a
model file: ``glassnet._modelfile``) before any weight is read, so the arrays allocated are those
the file's bytes hold. ``load_weights`` compares the count and the shapes with the model's weights
before it reads any data, and names the first that differs; layer names may differ (the same code
run twice in one program names its layers ``dense`` then ``dense_2``): weights go by order, as in
Keras.
"""

import numpy as np

from ._atomic import write_atomically
from ._modelfile import WEIGHTS_FORMAT, json_bytes, read_header
from .errors import ModelFileError

WEIGHTS_FORMAT_VERSION = 1
KEYS = {"format", "format_version", "glassnet_version", "reason", "weights", "epoch"}
ENTRY_KEYS = {"layer", "name", "shape"}
MAX_NAME = 1000           # characters of a layer or weight name in a file: any more is crafted
MAX_RANK = 32             # numpy's own limit on an array's number of axes (64 in NumPy 2)


def printable(text, limit=100):
    """``text`` (a name or a reason read from a file) cut to ``limit`` characters, each character
    that is not printable (a control character, a terminal escape, a bidirectional override, a lone
    surrogate) written as its escape: a crafted file's names must not reach the terminal of
    whoever inspects it (``glassnet info``, an error), as ``check_name`` refuses them in a layer's."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text[:limit])


class WeightsMismatch(ValueError):
    """A sound weights-only file holding the weights of another network (another count or shape):
    ``load_weights`` raises it as a plain ValueError naming the file, not as a damaged file."""


def weight_entries(model):
    """``(layer name, weight name, live array)`` for each array of ``model.get_weights()``, in its
    order: each layer's parameters, then its state (BatchNormalization's moving statistics)."""
    return [(layer.name, name, array) for layer in model.layers for name, array in layer._weight_items()]


def write_weights_only(model, path, reason, epoch=None):
    """Write ``model``'s weights to ``path`` (atomically) as a weights-only file; ``reason`` says
    why its config could not be stored. The model must be built (an unbuilt one has no weights)."""
    from . import __version__, backend
    if not model.built:
        raise ValueError(f"save_weights: the model is not built, so it has no weights to save (and a file "
                         f"cannot store its config: {reason})")
    entries = weight_entries(model)
    arrays = {"config": None}            # first in the archive, for people who unzip it
    for i, (layer, name, array) in enumerate(entries):
        array = backend.to_numpy(array)
        if not np.isfinite(array).all():     # load_weights refuses them: never write what cannot be read
            raise ValueError(f"save_weights: weights[{i}] ({layer}/{name}) holds NaN or infinite values, which "
                             f"load_weights refuses; the training that made them diverged (see NonFiniteError)")
        arrays[f"weights/{i:03d}"] = np.ascontiguousarray(array)
    meta = {"format": WEIGHTS_FORMAT, "format_version": WEIGHTS_FORMAT_VERSION, "glassnet_version": __version__,
            "reason": str(reason)[:2000],
            "weights": [{"layer": layer, "name": name, "shape": [int(d) for d in array.shape]}
                        for layer, name, array in entries],
            "epoch": None if epoch is None else int(epoch)}
    # (a reader would refuse a list of millions of weights: never written)
    arrays["config"] = json_bytes(meta, "save_weights", "the list of weights takes {size:,} bytes, more than a file "
                                  "holds ({limit:,})")
    write_atomically(path, lambda f: np.savez(f, **arrays))


def check_meta(meta):
    """Raise ModelFileError unless ``meta`` (a weights-only file's JSON object) is well formed:
    version, keys, and each weight's entry (names and a shape of non-negative integers)."""
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"config: invalid format_version {version!r:.50}")
    if version > WEIGHTS_FORMAT_VERSION:
        raise ModelFileError(f"format_version {version} of a weights-only file was written by a newer glassnet "
                             f"({str(meta.get('glassnet_version'))[:40]!r}); this one reads up to "
                             f"{WEIGHTS_FORMAT_VERSION}")
    if set(meta) != KEYS:
        raise ModelFileError(f"config: missing keys {sorted(KEYS - set(meta))}, "
                             f"unexpected keys {sorted(set(meta) - KEYS)[:10]}")
    if not isinstance(meta["glassnet_version"], str) or not isinstance(meta["reason"], (str, type(None))):
        raise ModelFileError("config: 'glassnet_version' and 'reason' must be strings")
    epoch = meta["epoch"]
    if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0):
        raise ModelFileError(f"epoch: expected a non-negative integer or null, got {epoch!r:.50}")
    if not isinstance(meta["weights"], list):
        raise ModelFileError(f"config: 'weights' has the wrong type {type(meta['weights']).__name__}")
    for i, entry in enumerate(meta["weights"]):
        if not (isinstance(entry, dict) and set(entry) == ENTRY_KEYS
                and all(isinstance(entry[k], str) and len(entry[k]) <= MAX_NAME for k in ("layer", "name"))
                and isinstance(entry["shape"], list) and len(entry["shape"]) <= MAX_RANK
                and all(type(d) is int and d >= 0 for d in entry["shape"])):
            raise ModelFileError(f"weights[{i}]: expected {{'layer': name, 'name': name, 'shape': [non-negative "
                                 f"integers]}}, got {entry!r:.200}")


def read_weights(npz, infos, meta, items=None):
    """The weights of a weights-only file (``meta``: its JSON, from ``read_json``), checked.

    ``items``: the model's ``(name, live array)`` pairs; their count and shapes are compared with
    the file's list before any header or data is read, and a difference is a ValueError naming the
    first weight that differs (the file is fine, the model is another). None: only the headers are
    read, and ``(entries, headers)`` returned, for ``glassnet info``.
    """
    check_meta(meta)
    entries = meta["weights"]
    if len(infos) != 1 + len(entries):           # cheap, before naming a million members
        raise ModelFileError(f"the file's {len(infos)} members disagree with the config, which names "
                             f"{1 + len(entries)}")
    expected = {"config.npy", *(f"weights/{i:03d}.npy" for i in range(len(entries)))}
    if set(infos) != expected:
        raise ModelFileError(f"the members {sorted(set(infos) ^ expected)[:10]} disagree with the config")
    shown = [f"{printable(e['layer'])}/{printable(e['name'])}" for e in entries]
    order = list(range(len(entries)))       # the file's member for each of the model's weights
    if items is not None:
        order = _by_name(items, entries) or order
        if len(entries) != len(items):
            raise WeightsMismatch(f"the model has {len(items)} weights ({', '.join(n for n, _ in items) or 'none'}), "
                             f"the file holds {len(entries)} ({', '.join(shown[:50]) or 'none'}): "
                             f"not the weights of this network")
        for i, ((name, target), member) in enumerate(zip(items, order)):
            entry = entries[member]
            if tuple(entry["shape"]) != tuple(target.shape):
                raise WeightsMismatch(f"weights[{i}]: the model's {name} has shape {tuple(target.shape)}, the file's "
                                 f"{shown[i]} has {tuple(entry['shape'])}: not the weights of this network")
    headers = {}
    for i, entry in enumerate(entries):
        member = f"weights/{i:03d}.npy"
        shape, dtype = headers[member] = read_header(npz, infos[member])   # dtype and size checked
        if shape != tuple(entry["shape"]):
            raise ModelFileError(f"weights[{i}] ({shown[i]}): the config says shape {tuple(entry['shape'])}, "
                                 f"the array's header {shape}: a damaged or crafted file")
    if items is None:
        return entries, headers
    # the headers match what the model holds, so these reads allocate no more than the model's weights
    return [npz[f"weights/{i:03d}"] for i in order]


def _by_name(items, entries):
    """The order in which to read a file's ``entries`` for the model's ``items`` when both hold the
    same weights, each named once, in another order: a functional Model saved by a glassnet from
    before its layers took Keras' order (glassnet._layer_order) listed them at their first calls.
    None otherwise: weights go by position (Keras' rule; names may differ between two runs)."""
    return order_by_name([name for name, _ in items], [f"{entry['layer']}/{entry['name']}" for entry in entries])


def order_by_name(names, listed):
    """For each of ``names`` (the model's weights, ``layer/weight``), its index in ``listed`` (a
    file's), when both name the same weights, each once, in another order; None otherwise."""
    if names == listed or sorted(names) != sorted(listed) or len(set(names)) != len(names):
        return None
    member = {name: i for i, name in enumerate(listed)}
    return [member[name] for name in names]
