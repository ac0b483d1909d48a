"""A layer of yours with Keras' saving hooks in Keras' files: what ``save_own_variables`` and
``save_assets`` keep goes where Keras 3.15's saving_lib puts it, and comes back through
``load_own_variables``/``load_assets`` as Keras' loader hands it back.

Keras 3.15 writes, for a layer of a class registered with ``register_keras_serializable``
(glassnet's ``glassnet.saving.register_serializable``, the same ``"package>Name"``)::

    config.json        {"module": None, "class_name": "VarDense", "registered_name": "my>VarDense", ...}
    model.weights.h5   layers/var_dense/vars/{0, 1, variables}   (the store, its keys as datasets)
    assets/layers/asset_dense/vocabulary.txt                     (what save_assets wrote in its folder)

and ``keras_model.save_weights("w.weights.h5")`` the same ``vars`` (the store) without the assets
(measured with Keras 3.15.1: its ``.weights.h5`` calls ``save_own_variables``, never ``save_assets``).
glassnet writes and reads these places (``.keras`` through glassnet._keras_write and
glassnet._keras_file, ``.weights.h5`` through glassnet._keras_h5): a layer whose class of yours
defines ``save_own_variables`` or ``load_own_variables`` has its ``vars`` group filled from its
store, and is handed the file's store (``load_own_variables``) instead of having its weights set
by glassnet; one defining ``load_assets`` gets a temporary folder holding the files under its
group's ``assets/`` folder. Values and names are checked as in glassnet's own model files
(glassnet._own_saving): arrays of numbers, plain names, regular files, nothing pickled.
"""
from ._own_saving import keeps_store, load_hooks, own_hooks, safe_path, saved_files, saved_store
from .errors import ModelFileError


def store_or(layer, arrays, where):
    """What ``layer``'s own ``vars`` group holds in Keras' file: its store (``saved_store``) for a
    layer that keeps one (``keeps_store``), else ``arrays`` (its weights, as glassnet writes them)."""
    return saved_store(layer, where) if keeps_store(layer) else arrays


def hook_assets(model, nested):
    """``[(member name, bytes)]`` of what ``save_assets`` of ``model``'s layers of yours write:
    ``assets/<the layer's group>/<path>``, the group as the weights file has it (``nested``: as
    glassnet._keras_h5's ``layer_groups``)."""
    from ._keras_h5 import layer_groups
    members = []
    for group, layer, _ in layer_groups(model, "", nested):
        if layer is None or getattr(layer, "is_model", False) or not hasattr(layer, "get_weights"):
            continue
        where = f"save_model: .keras: layer {layer.name!r} ({type(layer).__name__})"
        members += [(f"assets/{group}/{path}", data) for path, data in saved_files(layer, where)]
    return members


def is_hook_asset(name):
    """Whether the zip member ``name`` may be a layer's asset: ``assets/`` and plain names."""
    return name.startswith("assets/") and safe_path(name[len("assets/"):])


def read_store(walk, vars_group, path):
    """``{key: dataset}`` of a layer's ``vars`` group (``path``) that holds more than ``0, 1, ...``:
    each a plain dataset (``walk.dataset`` checks it)."""
    from ._own_saving import _PART
    found = {}
    for key, obj in walk.children(vars_group, path).items():
        if not _PART.fullmatch(key):
            raise ModelFileError(f"{walk.where}: {path}/{key!r:.60} is not a plain name")
        found[key] = walk.dataset(obj, f"{path}/{key}")
    return found


def restore_hooks(model, stores, groups, assets, read):
    """Hand each of ``model``'s layers of yours with hooks what a ``.keras`` file kept for it.
    ``stores``: ``{layer name: {key: dataset}}`` of the vars groups that hold more than weights
    (glassnet._keras_h5's ``weights_by_layer``); ``groups``: ``{layer name: its group path}``;
    ``assets``: ``{member name: ZipInfo}`` no lookup layer read, ``read(info)`` its bytes. The
    store of a layer keeping one is read whole (its weights ``"0"``, ``"1"``, ... too, as Keras'
    ``load_own_variables`` gets them): glassnet has not set its weights (``plain_store``). Every
    store and asset must reach a layer that reads it: one left over is refused."""
    stores, assets = dict(stores), dict(assets)
    for layer in model.layers:
        hooks = own_hooks(layer)
        if not hooks:
            continue
        store = {key: dataset[()] for key, dataset in stores.pop(layer.name, {}).items()}
        group = groups.get(layer.name)
        prefix = f"assets/{group}/"
        files = []
        if group is not None and "load_assets" in hooks:
            for name in sorted(n for n in assets if n.startswith(prefix)):
                files.append((name[len(prefix):], read(assets.pop(name))))
        load_hooks(layer, store, files, keeps_store(layer))
    if stores:
        raise ModelFileError(f"model.weights.h5: vars groups holding more than weights (0, 1, ...) for layers "
                             f"whose class defines no load_own_variables: {sorted(stores)[:5]}")
    if assets:
        raise ModelFileError(f"assets that no lookup layer (its vocabulary) nor layer of yours (load_assets) "
                             f"reads: {sorted(assets)[:5]}")


def plain_store(arrays):
    """``{"0": array, "1": ...}``: a layer's weights as Keras' store holds them, for a layer that
    keeps a store whose file has only its weights."""
    return {str(k): array for k, array in enumerate(arrays)}
