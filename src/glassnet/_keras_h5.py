"""Keras 3's HDF5 weights layout (``saving_lib``'s ``model.weights.h5``, and the ``.weights.h5``
files of ``keras_model.save_weights``): read, written, and walked safely. The ``.keras`` reader
(glassnet._keras_file) and writer (glassnet._keras_write) and ``load_weights``/``save_weights`` of
a ``.weights.h5`` file all go through here.

The layout: under ``layers/``, one group per entry of ``model.layers`` (a functional model's
InputLayers too), named by Keras' own traversal: the class's snake-case name, then ``_1``, ``_2``,
... for that class's later layers (``dense``, ``dense_1``, whatever the layers' names), holding
``vars/0``, ``vars/1``, ... (the layer's own weights, in its ``weights`` order) and a group per
sublayer (``lstm/cell/vars/0``, ``bidirectional/forward_layer/cell/vars/0``,
``multi_head_attention/query_dense/vars/0``; a nested model's ``layers/``); each ``vars`` group
names its layer in its ``name`` attribute. The top ``vars`` group is the model's own (empty), and a
compiled model's file has an ``optimizer/vars`` group (its step count, rate and slots), which the
``.keras`` reader and writer map (glassnet._keras_optimizer_state); ``.weights.h5`` files skip it.

Reading trusts nothing: every link is followed only if it is a hard link (a soft or external link
could reach another file), a dataset must be a plain numeric array (not external, virtual or
compressed: Keras writes none) whose data the file holds, met once (not a second hard link to it),
a walk visits at most ``MAX_H5_OBJECTS`` groups and datasets, and each dataset's shape is compared
with the glassnet weight's before any data is read. Before h5py opens the bytes, their global heaps
(where variable-length strings lie) are walked as libhdf5 walks them: a damaged one it would loop
on forever is refused (``check_global_heaps``).
"""
import io
import re

import numpy as np

from .errors import ModelFileError
from .layers._norm_layout import older_fits
from .layers.lora import keras_weights
from .layers.quantized import keras_store_order

MAX_H5_OBJECTS = 100_000        # groups and datasets walked: a few per layer in any real model
# Keras' order of a layer's sublayers' weights (its weights property: its own, then each tracked
# sublayer's in the order it made them), where the group names' order is not it
_SUBLAYER_ORDERS = (("query_dense", "key_dense", "_gate_dense", "value_dense", "output_dense"),    # MultiHeadAttention
                    # (Keras 3.15 keeps its use_gate projection as _gate_dense, made after the key's)
                    ("_query_dense", "_key_dense", "_gate_dense", "_value_dense", "_output_dense"),  # GroupQueryAttention
                    ("forward_layer", "backward_layer"))                          # Bidirectional
_INSTALL = ('reading or writing Keras\' HDF5 files (.keras, .weights.h5, .h5) needs h5py: pip install '
            '"glassnet[keras]" (or pip install h5py)')
_RNN = frozenset({"LSTM", "GRU", "SimpleRNN"})
_CONV_LSTM = frozenset({"ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"})
# weights Keras' layer has after the ones glassnet's has, never read by Keras' computation: written
# as Keras 3.15 writes them (an adapted Normalization's count, int64 0), dropped when a file is read
_KERAS_ONLY = {"Normalization": (("count", np.int64(0)),)}


def keras_only_weights(layer, weights):
    """``[(name, array)]`` of the weights Keras' counterpart of ``layer`` has beyond ``weights``
    (glassnet's): Normalization's ``count`` where the layer has its learnt mean and variance (given
    ones are no weights in either)."""
    extra = _KERAS_ONLY.get(type(layer).__name__, ())
    return list(extra) if extra and len(weights) == 2 else []


def _spectral_kernel(layer):
    """The key of the inner weight a SpectralNormalization divides (``kernel`` or ``embeddings``) and
    its position among the inner layer's weights."""
    keys = list(layer.layer.params)
    key = "kernel" if "kernel" in keys else "embeddings"
    return key, keys.index(key)


def without_keras_only(layer, arrays, current):
    """The file's ``arrays`` of ``layer`` less Keras' weights glassnet's layer lacks (scalars after
    its own), so that a Keras file of an adapted Normalization loads; ``arrays`` otherwise. A
    SpectralNormalization's file holds its kernel twice, its own (``vars``: kernel, vector_u) and
    its inner layer's (``layer/vars``): read as glassnet's weights (Keras' order), the inner layer's
    kernel, vector_u, then the inner layer's others."""
    if type(layer).__name__ == "SpectralNormalization" and len(arrays) == len(current) + 1 and len(arrays) >= 3:
        _, at = _spectral_kernel(layer)
        inner = list(arrays[2:])
        return [inner.pop(at), arrays[1], *inner]
    extra = keras_only_weights(layer, current)
    if extra and len(arrays) == len(current) + len(extra) and all(
            tuple(a.shape) == () for a in arrays[len(current):]):
        return arrays[:len(current)]
    return arrays


def h5py_module(caller="load_model"):
    """h5py, imported on first use; ImportError naming the extra to install otherwise."""
    try:
        import h5py
    except ImportError:
        raise ImportError(f"{caller}: {_INSTALL}") from None
    return h5py


def _sizes(data):
    """(size of offsets, size of lengths) of the HDF5 file ``data`` from its superblock (8, 8 when
    it cannot be told: the check below then reads lengths as h5py writes them)."""
    if data[:8] != b"\x89HDF\r\n\x1a\n" or len(data) < 16:
        return 8, 8
    return (data[13], data[14]) if data[8] in (0, 1) else (data[9], data[10])


def check_global_heaps(data, where):
    """Refuse the HDF5 bytes ``data`` when one of its global heap collections (where the text of
    variable-length strings lies: Keras' ``model_config``, a ``vars`` group's ``name``) would make
    the HDF5 library loop forever: libhdf5 (1.14.6 at least) reads a collection's objects until its
    end, each header saying how far to the next, and a free-space object of size 0 (16 zeroed bytes)
    says 0: reading any string of that collection then hung (h5py ``attrs[...]``, uninterruptible).
    The objects are walked here as the library walks them; a step of 0 bytes, or one past the
    collection's end, is refused (the library's writer never makes either)."""
    offsets, lengths = _sizes(data)
    if lengths not in (2, 4, 8):
        return
    header = 8 + lengths                # "GCOL", version, 3 reserved, the collection's size
    object_header = 8 + lengths         # index, reference count, 4 reserved, the object's size
    # the steps of all walks together: a real file's collections are disjoint, a few steps per string;
    # "GCOL" repeated through a crafted file (each walk then spanning the file) must not cost n**2
    steps = len(data) // 8 + 10_000
    start = data.find(b"GCOL")
    while start != -1:
        if data[start + 4:start + 8] == b"\x01\x00\x00\x00" and start + header <= len(data):
            size = int.from_bytes(data[start + 8:start + header], "little")
            end = start + size
            p = start + header
            while header <= size and p < end and end <= len(data):
                if p + object_header > end:      # too small for a header: the library's free space
                    break
                steps -= 1
                if steps < 0:
                    raise ModelFileError(f"{where}: more HDF5 global heap objects than the file's bytes can hold: "
                                         f"a damaged or crafted file")
                index = int.from_bytes(data[p:p + 2], "little")
                length = int.from_bytes(data[p + 8:p + object_header], "little")
                step = object_header + (length + 7) // 8 * 8 if index else length
                if step == 0 or step > end - p:
                    raise ModelFileError(f"{where}: a damaged HDF5 global heap at byte {start} (its object at byte "
                                         f"{p} declares {length} bytes{' of free space' if not index else ''}, "
                                         f"{'no step' if step == 0 else 'past the collection'}): the HDF5 library "
                                         f"would loop forever or read beyond it")
                p += step
        start = data.find(b"GCOL", start + 1)


def open_h5(h5py, data, where):
    """``h5py.File`` of the HDF5 bytes ``data``, read only, after ``check_global_heaps``."""
    check_global_heaps(data, where)
    return h5py.File(io.BytesIO(data), "r")


def _snake(name):
    """Keras' ``naming.to_snake_case``: ``MaxPooling2D`` -> ``max_pooling2d``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


# -- reading --------------------------------------------------------------------------------
class _Walk:
    """Hard-link-only steps through an h5 file, counted; errors say ``where`` (the file's name)."""

    def __init__(self, h5py, where="model.weights.h5"):
        self.h5py, self.left, self.where = h5py, MAX_H5_OBJECTS, where
        self.datasets = set()       # (the addresses of) the datasets met: each may be met once

    def child(self, group, key, path):
        """``group[key]`` through a hard link only (a soft or external link could reach another file)."""
        self.left -= 1
        if self.left < 0:
            raise ModelFileError(f"{self.where}: more than {MAX_H5_OBJECTS} groups and datasets")
        link = group.get(key, getlink=True)
        if not isinstance(link, self.h5py.HardLink):
            raise ModelFileError(f"{self.where}: {path}/{key} is a link of kind {type(link).__name__}; Keras writes hard links only")
        return group[key]

    def children(self, group, path):
        return {key: self.child(group, key, path) for key in group.keys()}

    def dataset(self, obj, path):
        if not isinstance(obj, self.h5py.Dataset):
            raise ModelFileError(f"{self.where}: {path} is not a dataset")
        if obj.is_virtual or obj.external or obj.compression is not None or obj.dtype.kind not in "fiu":
            raise ModelFileError(f"{self.where}: {path}: an external, virtual or compressed dataset, or of dtype "
                                 f"{obj.dtype}: Keras writes plain numeric arrays")
        # what a file can make its reader hold: a dataset whose data is not in the file (shape (10**12,),
        # chunked, no chunk written: NumPy's MemoryError, or gigabytes of fill values read chunk by
        # chunk), or one dataset hard-linked 100,000 times (KerasFileEditor read it each time)
        stored = obj.id.get_storage_size()
        if stored < obj.nbytes:
            raise ModelFileError(f"{self.where}: {path}: a dataset of shape {obj.shape} ({obj.nbytes} bytes) whose "
                                 f"data the file holds {stored} bytes of: Keras writes every weight's data")
        address = self.h5py.h5o.get_info(obj.id).addr
        if address in self.datasets:
            raise ModelFileError(f"{self.where}: {path}: a dataset met before under another name (a second hard link "
                                 f"to it): Keras writes each weight once")
        self.datasets.add(address)
        return obj


def stacked_cell_groups(class_names):
    """The groups Keras 3.15 writes a StackedRNNCells' cells in (``cell/cells/<group>``), in the
    stack's order: each cell's class in snake case, ``_k`` after the k-th later one of that class."""
    counts, groups = {}, []
    for name in class_names:
        group = _snake(name)
        k = counts.get(group, 0)
        counts[group] = k + 1
        groups.append(group if k == 0 else f"{group}_{k}")
    return groups


def config_cell_orders(config, depth=0):
    """{layer name: its stacked cells' groups in order} of the RNN layers of a Keras model config
    whose cell is a StackedRNNCells: the file's groups (``gru_cell``, ``lstm_cell``) do not say the
    stack's order, which its config does."""
    found = {}
    if depth > 64:
        return found
    if isinstance(config, dict):
        inner = config.get("config")
        cell = inner.get("cell") if isinstance(inner, dict) else None
        if isinstance(cell, dict) and cell.get("class_name") == "StackedRNNCells" and \
                isinstance(cell.get("config"), dict) and isinstance(cell["config"].get("cells"), list) and \
                isinstance(inner.get("name"), str):
            found[inner["name"]] = stacked_cell_groups(
                [c.get("class_name") if isinstance(c, dict) and isinstance(c.get("class_name"), str) else "?"
                 for c in cell["config"]["cells"]])
        values = config.values()
    elif isinstance(config, list):
        values = config
    else:
        return found
    for value in values:
        found.update(config_cell_orders(value, depth + 1))
    return found


def weights_by_layer(h5py, h5, cell_orders=None, stores=None, groups=None):
    """{layer name: [datasets, in Keras' order of that layer's weights]} of every layer with weights
    (a ``.keras`` file's, whose layers are those of its own config: matched by name);
    ``cell_orders``: ``config_cell_orders`` of its config. ``stores``, a dict, takes {layer name:
    {key: dataset}} of a ``vars`` group holding more than ``0, 1, ...`` (a layer of yours'
    ``save_own_variables``' store, glassnet._keras_hooks); ``groups``, a dict, {layer name: its
    group's path}."""
    walk, found = _Walk(h5py), {}
    top = walk.children(h5, "")
    for where, sub, inner, nested in (_layer_groups(walk, top["layers"], "layers") if "layers" in top else ()):
        if nested:
            # a nested model compiled on its own (keras.io's text classification compiles and fits
            # `model`, then saves `end_to_end_model` around it) has its optimizer's state beside its
            # layers: training state, not weights of the outer model, left out as the top one's is
            if _ordered(walk, sub, where, skip=("layers", "optimizer")):
                raise ModelFileError(f"{walk.where}: {where}: a nested model holding weights of its own")
            continue
        name = inner["vars"].attrs.get("name") if "vars" in inner else None
        name = name.decode("utf-8", "replace") if isinstance(name, bytes) else name
        if groups is not None and isinstance(name, str):
            groups.setdefault(name, where)
        if stores is not None and "vars" in inner and isinstance(name, str) and _holds_store(walk, inner, where):
            from ._keras_hooks import read_store
            if name in stores or set(inner) != {"vars"}:
                raise ModelFileError(f"{walk.where}: {where}: a store of a layer named {name!r:.60} met twice, or "
                                     f"beside sublayers' groups")
            stores[name] = read_store(walk, inner["vars"], f"{where}/vars")
            continue
        arrays = _ordered(walk, sub, where, cells=(cell_orders or {}).get(name) if isinstance(name, str) else None)
        if not arrays:
            continue
        if not isinstance(name, str):
            raise ModelFileError(f"{walk.where}: {where}/vars has no 'name' attribute naming its layer")
        if name in found:
            raise ModelFileError(f"{walk.where}: two layers named {name!r}")
        found[name] = arrays
    return found


def _holds_store(walk, inner, path):
    """Whether a layer's ``vars`` group holds keys besides ``0, 1, ...`` (a store of yours), a
    tf_idf lookup's ``idf_weights`` alone aside."""
    keys = set(walk.children(inner["vars"], f"{path}/vars"))
    return keys != {"idf_weights"} and keys != {str(i) for i in range(len(keys))}


def _layer_groups(walk, group, path, depth=0):
    """``(path, group, its children, nested)`` of every layer group under a model's ``layers``
    group, depth first: a nested model's own group (``nested``: it holds a ``layers`` group) comes
    before its layers'. Shared by the reader and the check for weights left over."""
    if depth > 32:
        raise ModelFileError(f"{walk.where}: {path}: models nested more than 32 deep")
    for key, sub in walk.children(group, path).items():
        where = f"{path}/{key}"
        if not isinstance(sub, walk.h5py.Group):
            raise ModelFileError(f"{walk.where}: {where} is not a layer's group")
        inner = walk.children(sub, where)
        nested = isinstance(inner.get("layers"), walk.h5py.Group)
        yield where, sub, inner, nested
        if nested:
            yield from _layer_groups(walk, inner["layers"], f"{where}/layers", depth + 1)


def _ordered(walk, group, path, skip=(), depth=0, cells=None):
    """The datasets under a layer's ``group``, in Keras' order of its weights: ``vars/0..n-1``, then
    each sublayer's; sublayers in an order known (``_SUBLAYER_ORDERS``; a StackedRNNCells' ``cells``
    in the order ``cells`` gives, its groups' names, or ``"any"`` where only their presence
    matters), else one at most."""
    if depth > 16:
        raise ModelFileError(f"{walk.where}: {path}: sublayers nested more than 16 deep")
    inner = walk.children(group, path)
    arrays = []
    if "vars" in inner:
        own = walk.children(inner["vars"], f"{path}/vars")
        if set(own) == {"idf_weights"}:     # a tf_idf lookup's (Keras' IndexLookup.save_own_variables)
            own = {"0": own["idf_weights"]}
        if set(own) != {str(i) for i in range(len(own))}:
            raise ModelFileError(f"{walk.where}: {path}/vars holds {sorted(own)[:10]}, not 0, 1, ...")
        arrays = [walk.dataset(own[str(i)], f"{path}/vars/{i}") for i in range(len(own))]
    subs = {}
    for key, sub in inner.items():
        if key in ("vars", *skip):
            continue
        if not isinstance(sub, walk.h5py.Group):
            raise ModelFileError(f"{walk.where}: {path}/{key} is not a sublayer's group")
        found = _ordered(walk, sub, f"{path}/{key}", depth=depth + 1, cells=cells)
        if found:
            subs[key] = found
    if len(subs) > 1:
        order = next((o for o in _SUBLAYER_ORDERS if set(subs) <= set(o)), None)
        if path.endswith("/cells"):
            if cells == "any":
                order = sorted(subs)
            elif cells is None and len({re.sub(r"_\d+$", "", key) for key in subs}) == 1:
                # one class's cells: the groups' counters give the stack's order
                order = stacked_cell_groups([re.sub(r"_\d+$", "", next(iter(subs)))] * len(subs))
            elif isinstance(cells, list) and set(subs) <= set(cells):
                order = cells
        if order is None:
            raise ModelFileError(f"{walk.where}: {path}: sublayers {sorted(subs)} with weights, in an order "
                                 f"glassnet does not know Keras' weights by")
        keys = [key for key in order if key in subs]
    else:
        keys = list(subs)
    for key in keys:
        arrays.extend(subs[key])
    return arrays


def editor_tree(walk, group, path="", metadata=None, skipped=None, depth=0):
    """``(tree, metadata, skipped)`` of Keras 3.15's ``KerasFileEditor`` for the h5 ``group``:
    ``tree`` a dict per group with its datasets read (NumPy arrays), a group holding ``vars``
    replaced by the datasets of its ``vars`` (the layer's own weights), empty groups and groups of
    empty ``vars`` left out; ``metadata`` {"/path": the attributes (``name``)} of each group read;
    ``skipped`` the paths whose other subgroups Keras' walk leaves out (an LSTM's ``cell`` beside
    its empty ``vars``), which may hold weights. Every step is ``walk``'s: hard links only, plain
    numeric datasets, at most ``MAX_H5_OBJECTS`` objects."""
    metadata = {} if metadata is None else metadata
    skipped = [] if skipped is None else skipped
    if depth > 64:
        raise ModelFileError(f"{walk.where}: {path}: groups nested more than 64 deep")
    attrs = {key: value.decode("utf-8", "replace") if isinstance(value, bytes) else value
             for key, value in group.attrs.items()}
    if attrs:
        metadata[path] = attrs
    tree = {}
    for key, value in walk.children(group, path or "/").items():
        where = f"{path}/{key}"
        if isinstance(value, walk.h5py.Group):
            if len(value) == 0:
                continue
            if "vars" in value:
                own = walk.child(value, "vars", where)
                if not isinstance(own, walk.h5py.Group):
                    raise ModelFileError(f"{walk.where}: {where}/vars is not a group")
                # (Keras reads a layer's own vars only: weights of its sublayers are left out)
                if any(key != "vars" and _holds_data(walk, sub, f"{where}/{key}", depth + 1)
                       for key, sub in walk.children(value, where).items()):
                    skipped.append(where)
                if len(own) == 0:
                    continue
                value = own
            tree[key] = editor_tree(walk, value, where, metadata, skipped, depth + 1)[0]
        elif isinstance(value, walk.h5py.Dataset):
            tree[key] = walk.dataset(value, where)[()]
    return tree, metadata, skipped


def _holds_data(walk, obj, path, depth):
    """Whether a dataset is at or under ``obj``."""
    if depth > 64:
        raise ModelFileError(f"{walk.where}: {path}: groups nested more than 64 deep")
    if not isinstance(obj, walk.h5py.Group):
        return isinstance(obj, walk.h5py.Dataset)
    return any(_holds_data(walk, sub, f"{path}/{key}", depth + 1) for key, sub in walk.children(obj, path).items())


def _group_at(walk, h5, path):
    """The group at ``path`` ("layers/dense/..."), step by step through hard links; None if absent."""
    group, where = h5, ""
    for key in path.split("/"):
        if not isinstance(group, walk.h5py.Group) or key not in group:
            return None
        group, where = walk.child(group, key, where), f"{where}/{key}".lstrip("/")
    return group if isinstance(group, walk.h5py.Group) else None


def weights_file_arrays(model, h5py, h5, where):
    """``[(layer, arrays)]`` of the ``.weights.h5`` file ``h5`` for ``model``, as Keras' ``load_weights``
    matches them: each layer's group found by its place in ``model``'s layout (``layer_groups``:
    class and order, not the layer's name), its datasets in Keras' order, every count and shape
    compared with ``model``'s before any is read; then no layer group with weights may be left."""
    from ._block_layout import block_groups, is_drawn_block
    from ._keras_hooks import keeps_store
    walk = _Walk(h5py, where)
    top = walk.children(h5, "")
    # a block drawn from call: Keras' layout of its attributes, its own weights in the top vars
    block = is_drawn_block(model)
    groups = block_groups(model) if block else layer_groups(model)
    unknown = sorted(set(top) - {"layers", "vars", "optimizer"} - {group.split("/")[0] for group, _, _ in groups})
    if unknown or not (block or isinstance(top.get("layers"), h5py.Group)):
        raise ModelFileError(f"{where}: not Keras 3's .weights.h5 layout of this model (a 'layers' group, 'vars', "
                             f"'optimizer'{', its attributes: groups' if block else ''}; found {sorted(top)[:10]})")
    if (not block or groups[0][1] is None) and "vars" in top and _ordered(walk, top["vars"], "vars"):
        holds = "this block holds" if block else "Keras' models hold"
        raise ModelFileError(f"{where}: the model's own vars hold weights; {holds} none of their own")
    planned, used, stores = [], set(), []
    for group, layer, name in groups:
        used.add(group)
        if not hasattr(layer, "get_weights") or getattr(layer, "is_model", False):
            continue
        if type(layer).__name__ in ("IntegerLookup", "StringLookup", "TextVectorization"):
            continue        # a tf_idf layer's idf_weights go with its vocabulary, which the code adapts again
        found = _group_at(walk, h5, group) if group else h5      # (a block's own weights: the top vars)
        if keeps_store(layer):      # a layer of yours: its store, to its load_own_variables (glassnet._keras_hooks)
            stores.append((layer, _store_at(walk, found, group)))
            continue
        # with LoRA: the merged kernel and the bias, Keras' two; quantized: Keras' order
        current = keras_store_order(layer, keras_weights(layer))
        stack = getattr(getattr(layer, "cell", None), "cells", None)      # an RNN's StackedRNNCells
        cells = stacked_cell_groups([type(cell).__name__ for cell in stack]) if isinstance(stack, list) else None
        if type(layer).__name__ == "Pipeline":       # its layers' groups, in its list's order (_sublayers)
            arrays = []
            for sub, _, _ in _sublayers(layer, current)[1:]:
                used.add(f"{group}/{sub}")
                inner = _group_at(walk, h5, f"{group}/{sub}")
                arrays += _ordered(walk, inner, f"{group}/{sub}") if inner is not None else []
        else:
            # (the top group: its vars alone, the block's own weights; the other groups are its layers')
            arrays = _ordered(walk, found, group, cells=cells, skip=() if group else tuple(set(top) - {"vars"})) \
                if found is not None else []
        arrays = without_keras_only(layer, arrays, current)
        if len(arrays) != len(current):
            arrays = _without_adopted(layer, arrays, current)
        if len(arrays) != len(current):
            raise ModelFileError(f"{where}: layer {name!r} ({group}) has {len(current)} weights in glassnet, the file "
                                 f"{len(arrays)} there")
        for k, (target, dataset) in enumerate(zip(current, arrays)):
            if (dataset is not None and tuple(dataset.shape) != target.shape
                    and not older_fits(layer, target.shape, dataset.shape)):    # (reshaped below)
                raise ModelFileError(f"{where}: layer {name!r} weight {k} ({dataset.name}): expected shape "
                                     f"{target.shape}, the file has {tuple(dataset.shape)}")
        planned.append((layer, current, arrays))
    if "layers" in top:
        _left_over(walk, top["layers"], "layers", used)
    return [(layer, keras_store_order(layer, [np.array(target) if dataset is None else
                                              dataset[()].astype(target.dtype, copy=False).reshape(target.shape)
                                              for target, dataset in zip(current, arrays)]))
            for layer, current, arrays in planned if arrays] + \
        [(layer, {key: dataset[()] for key, dataset in store.items()}) for layer, store in stores]


def _store_at(walk, group, path):
    """``{key: dataset}`` of the layer group ``group`` (``path``; None: absent, an empty store):
    its ``vars``, and nothing else."""
    if group is None:
        return {}
    inner = walk.children(group, path)
    if set(inner) - {"vars"}:
        raise ModelFileError(f"{walk.where}: {path}: a layer keeping a store (save_own_variables) with groups "
                             f"besides vars: {sorted(inner)[:5]}")
    from ._keras_hooks import read_store
    return read_store(walk, inner["vars"], f"{path}/vars") if "vars" in inner else {}


def _without_adopted(layer, arrays, current):
    """``arrays`` (a layer's datasets in a ``.weights.h5`` file) with None at the places of the
    weights ``current`` has for ``gn.Variable`` attributes of a layer of yours (glassnet._attr_variables),
    when the file, written by a glassnet before session 47 that did not count them, holds exactly
    the others: those keep their values. Else ``arrays`` unchanged (refused by the caller)."""
    held = vars(layer).get("_adopted_weights")
    if not held:
        return arrays
    names = keras_store_order(layer, [name for name, _ in layer._weight_items()])
    places = [k for k, name in enumerate(names) if name in held]
    if len(arrays) + len(places) != len(current):
        return arrays
    given = iter(arrays)
    return [None if k in places else next(given) for k in range(len(current))]


def _left_over(walk, group, path, used):
    """Refuse a layer group with weights that ``model``'s layout has no place for."""
    for where, sub, _, nested in _layer_groups(walk, group, path):
        if not nested and where not in used and _ordered(walk, sub, where, cells="any"):
            raise ModelFileError(f"{walk.where}: {where} holds weights of a layer this model does not have (its "
                                 f"layers, in Keras' order: {[g for g in sorted(used)][:20]})")


# -- writing --------------------------------------------------------------------------------
def _sublayers(layer, weights):
    """[(group path under the layer's, name attribute, weights)] of Keras' layout of ``layer``."""
    kind = type(layer).__name__
    if kind in _RNN:
        return [("", layer.name, []), ("cell", f"{_snake(kind)}_cell", weights)]
    if kind in _CONV_LSTM:       # Keras' ConvLSTM is an RNN of a ConvLSTMCell: its weights are the cell's
        return [("", layer.name, []), ("cell", "conv_lstm_cell", weights)]
    if kind == "RNN":
        # Keras' RNN(cell): the cell's weights in its group; a StackedRNNCells' each in
        # cell/cells/<its class, snake case>[_k], k counting that class's cells in the stack
        cells = getattr(layer.cell, "cells", None)
        if cells is None:
            return [("", layer.name, []), ("cell", layer.cell_layers[0].name, weights)]
        parts, counts, at = [("", layer.name, []), ("cell", "stacked_rnn_cells", [])], {}, 0
        for cell, inner in zip(cells, layer.cell_layers):
            group = _snake(type(cell).__name__)
            k = counts.get(group, 0)
            counts[group] = k + 1
            n = len(inner.get_weights())
            parts.append((f"cell/cells/{group}" + (f"_{k}" if k else ""), inner.name, weights[at:at + n]))
            at += n
        return parts
    if kind == "Bidirectional":
        readers = [layer.forward_layer, layer.backward_layer] if hasattr(layer, "forward_layer") else [layer.layer] * 2
        # the forward reader's weights first (a backward_layer of its own may have another count)
        half = len(readers[0].params) if readers[0].params else len(weights) // 2
        parts = [("", layer.name, [])]
        # the two sides in the order the reader takes them (_SUBLAYER_ORDERS)
        for side, own, reader in zip(_SUBLAYER_ORDERS[2], (weights[:half], weights[half:]), readers):
            inner = type(reader).__name__
            if inner in _RNN or inner in _CONV_LSTM:     # (a ConvLSTM's in its ConvLSTMCell too)
                parts += [(side, f"{side.split('_')[0]}_{_snake(inner)}", []),
                          (f"{side}/cell", "conv_lstm_cell" if inner in _CONV_LSTM else f"{_snake(inner)}_cell", own)]
            else:
                parts.append((side, side, own))
        return parts
    if kind in ("MultiHeadAttention", "GroupedQueryAttention"):
        # GroupQueryAttention's sublayers' attributes (and groups) start with _; both make the gate's after the key's
        groups = _SUBLAYER_ORDERS[0 if kind == "MultiHeadAttention" else 1]
        names = [(g, s) for g, s in zip(groups, ("query", "key", "gate", "value", "attention_output"))
                 if layer.use_gate or s != "gate"]
        per = len(weights) // len(names)
        return [("", layer.name, []), ("_dropout_layer", "dropout", []), ("_softmax", "softmax", [])] + [
            (group, short, weights[k * per:(k + 1) * per]) for k, (group, short) in enumerate(names)]
    if kind in ("IntegerLookup", "StringLookup", "TextVectorization"):
        # Keras' IndexLookup.save_own_variables: a tf_idf layer's weights as vars/idf_weights; a
        # TextVectorization's in its own vars and its inner lookup's (_lookup_layer, a StringLookup)
        idf = {"idf_weights": np.asarray(layer.idf_weights, dtype=np.float32)} \
            if layer.output_mode == "tf_idf" and layer.idf_weights is not None else []
        parts = [("", layer.name, idf)]
        return parts + [("_lookup_layer", "string_lookup", idf)] if kind == "TextVectorization" else parts
    if kind == "SpectralNormalization":
        # Keras' wrapper tracks the inner kernel (or embeddings) as its own too: its vars are that
        # kernel and vector_u, the inner layer's its own weights (glassnet's, Keras' order: kernel,
        # vector_u, the inner layer's others)
        _, at = _spectral_kernel(layer)
        inner = list(weights[2:])
        inner.insert(at, weights[0])
        return [("", layer.name, list(weights[:2])), ("layer", layer.layer.name, inner)]
    if kind == "Pipeline":
        # Keras' Pipeline keeps its layers in a list: layers/<class, snake case>[_k] each, k counting
        # that class's layers in it; each one's name attribute with the pipeline's before it, so
        # that it never meets a layer of the model's own of that name (Keras reads the groups only)
        parts, counts, at = [("", layer.name, [])], {}, 0
        for inner in layer.pipeline_layers:
            group = _snake(type(inner).__name__)
            k = counts.get(group, 0)
            counts[group] = k + 1
            n = len(inner.get_weights())
            parts.append((f"layers/{group}" + (f"_{k}" if k else ""), f"{layer.name}/{inner.name}",
                          weights[at:at + n]))
            at += n
        return parts
    if kind == "TimeDistributed":
        return [("", layer.name, []), ("layer", layer.layer.name, weights)]
    return [("", layer.name, [*keras_store_order(layer, weights),
                              *(array for _, array in keras_only_weights(layer, weights))])]


def _write_vars(h5, path, name, arrays):
    group = h5.require_group(f"{path}/vars" if path else "vars")
    group.attrs["name"] = name
    for k, array in (arrays.items() if isinstance(arrays, dict) else enumerate(arrays)):
        group.create_dataset(str(k), data=np.asarray(array))


def layer_groups(model, path="", nested=True):
    """``[(group path, layer or None, name attribute)]`` of ``model``'s Keras layout, in Keras'
    order: a functional model's Inputs (layer None), then each of ``model.layers``; a model nested
    in it (glassnet lists its layers in the outer model's, ``_nesting`` records it as summary shows
    it) is one entry, at its first layer's place: its group, then its own layout under
    ``<its group>/layers``. ``nested=False``: those layers in the outer model's list instead (as
    glassnet's .keras writer writes a nested Sequential's config: flattened)."""
    from ._layer_order import flat_layer_order
    from .graph import Model
    inputs = list(model._input_names) if isinstance(model, Model) else []
    nesting = list(getattr(model, "_nesting", ()) or ()) if nested else []
    # flattened, the nested models' layers are in the order Keras gives the flat graph's
    layers = flat_layer_order(model) if not nested and isinstance(model, Model) else list(model.layers)
    return _groups(layers, nesting, inputs, path, nested)


def _groups(layers, nesting, inputs, path, nested=True):
    from .graph import Model
    counts, groups, owner, done = {}, [], {}, set()

    def group_name(kind):
        k = counts.get(kind, 0)
        counts[kind] = k + 1
        return f"{path}layers/{_snake(kind) if k == 0 else f'{_snake(kind)}_{k}'}"
    for record in nesting:
        for layer in record.layers:
            owner.setdefault(id(layer), record)
    groups += [(group_name("InputLayer"), None, name) for name in inputs]
    for layer in layers:
        record = owner.get(id(layer))
        if record is not None:
            if id(record) in done:
                continue
            done.add(id(record))
            inner = group_name("Functional" if record.kind == "Functional" else "Sequential")
            groups.append((inner, record, record.name))
            groups += _groups(record.layers, record.children,
                              [name for name, _ in record.inputs] if record.kind == "Functional" else [], f"{inner}/", nested)
        elif (type(layer).__name__, type(layer).__module__) in (("LastState", "glassnet.layers.recurrent"),
                                                                ("BackwardOutput", "glassnet.layers.unmerged")):
            continue        # a return_state's state (merge_mode=None's second output): the layer's output in Keras
        elif getattr(layer, "is_model", False):
            inner = group_name("Functional" if isinstance(layer, Model) else "Sequential")
            groups.append((inner, layer, layer.name))
            groups += layer_groups(layer, f"{inner}/", nested)
        else:
            groups.append((group_name(type(layer).__name__), layer, layer.name))
    return groups


def _write_layers(h5, model, path, nested=True, archive=False):
    """Each of ``model.layers`` (and a functional model's Inputs) under ``path/layers``."""
    from ._keras_assets import learnt
    from ._block_layout import block_groups, is_drawn_block
    from ._keras_hooks import keeps_store, saved_store
    # a block drawn from call, in a weights file: Keras' layout of its attributes (glassnet._block_layout)
    block = not archive and not path and is_drawn_block(model)
    for group, layer, name in (block_groups(model) if block else layer_groups(model, path, nested)):
        if not hasattr(layer, "get_weights") or getattr(layer, "is_model", False):     # an Input, a nested model
            _write_vars(h5, group, name, [])
            continue
        if keeps_store(layer):      # a layer of yours: its save_own_variables' store, as Keras (glassnet._keras_hooks)
            where = f"{'save_model: .keras' if archive else 'save_weights'}: layer {layer.name!r} ({type(layer).__name__})"
            _write_vars(h5, group, name, saved_store(layer, where))
            continue
        for sub, sub_name, arrays in _sublayers(layer, keras_weights(layer)):
            if archive and isinstance(arrays, dict) and learnt(layer):
                # a .keras file's learnt tf_idf lookup: its idf_weights without pad_to_max_tokens'
                # zeros. Keras 3.15's load_assets passes the weights it has just read to
                # set_vocabulary, which refuses more weights than the file's vocabulary has and
                # pads them itself: padded (as Keras writes them) its load_model fails on the file
                arrays = {key: value[:layer.vocabulary_size()] for key, value in arrays.items()}
            _write_vars(h5, f"{group}/{sub}" if sub else group, sub_name, arrays)


def weights_bytes(model, nested=True, more=None, archive=False):
    """The bytes of Keras' weights file for ``model`` (``nested=False``: a ``.keras`` file's
    ``model.weights.h5``, whose config has its nested models flattened; ``archive``: it is a
    ``.keras`` file's, beside its assets); ``more(h5)`` writes groups besides (the optimizer's,
    glassnet._keras_optimizer_state)."""
    h5py = h5py_module("save_weights")
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        _write_layers(h5, model, "", nested, archive)
        _write_vars(h5, "", model.name, [])
        if more is not None:
            more(h5)
    return buffer.getvalue()




def read_weights_h5(model, data):
    """``[(layer, arrays)]`` of the Keras HDF5 weights file ``data`` (its bytes) for the built
    ``model``: Keras 3's ``.weights.h5`` layout, or a legacy ``.h5`` (glassnet._keras_legacy); every
    array read, none set yet."""
    h5py = h5py_module("load_weights")
    with open_h5(h5py, data, "the HDF5 weights file") as h5:
        if "model_weights" in h5 or "layer_names" in h5.attrs:
            from ._keras_legacy import legacy_weights
            return legacy_weights(model, h5py, h5, "the legacy .h5 file")
        return weights_file_arrays(model, h5py, h5, "the .weights.h5 file")


def save_weights_h5(model, path):
    """Write ``model``'s weights to ``path`` in Keras 3's ``.weights.h5`` layout, atomically."""
    from ._atomic import write_atomically
    if not model.built:
        raise ValueError(f"save_weights({path!r}): the model is not built: fit, build or call it first")
    data = weights_bytes(model)
    write_atomically(path, lambda f: f.write(data))
