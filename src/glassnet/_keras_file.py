"""Reading Keras 3's ``.keras`` files (``keras_model.save("model.keras")``) without trusting them.

A ``.keras`` file is a zip of three members: ``metadata.json`` (``{"keras_version", "date_saved"}``),
``config.json`` (the model's config, as ``to_json`` writes it, with its ``compile_config``) and
``model.weights.h5`` (HDF5, Keras' ``saving_lib`` layout, read and written by glassnet._keras_h5): under ``layers/``, one group per layer,
named by Keras' own traversal (``dense``, ``dense_1``, ... in the order of its layer list, whatever the
layer's name), holding ``vars/0``, ``vars/1``, ... (the layer's own weights, in its ``weights``
order) and a group per sublayer (``lstm/cell/vars/0``, ``bidirectional/forward_layer/cell/vars/0``,
``multi_head_attention/query_dense/vars/0``; a nested model's ``layers/``); each ``vars`` group
names its layer in its ``name`` attribute; and a lookup layer's learnt vocabulary as an asset,
``assets/<its group>/vocabulary.txt`` (glassnet._keras_assets, which reads it into the layer's
config entry before the model is made). The model's ``optimizer/vars`` group (step count, rate,
slots) is read into the compiled optimizer (glassnet._keras_optimizer_state): training continues
where Keras stopped.

glassnet reads it as its own files: the zip directory is checked before any member is read (names,
sizes, no member beyond the caps; a member is read up to its declared size only, so a compressed
one cannot inflate beyond it), the JSON members are capped (``MAX_CONFIG_BYTES``), the model is
made from the config as ``model_from_json`` makes it (nothing imported or run; its parameters capped
by what the weights member can hold), and the HDF5 is walked by hard links only: an external or
soft link, an external or virtual dataset, a compressed dataset (Keras writes none) or a group
tree larger than ``MAX_H5_OBJECTS`` is refused, and each dataset's shape and dtype are compared with
the glassnet layer's weight before its data is read. h5py is needed (``pip install
"glassnet[keras]"``), imported here, on the first such file only.
"""
import contextlib
import copy
import json
import zipfile

from ._keras_assets import MAX_ASSET_BYTES, is_asset, read_vocabularies
from ._keras_hooks import is_hook_asset
from .layers._norm_layout import older_fits
from ._keras_h5 import (config_cell_orders, h5py_module, keras_store_order, open_h5, weights_by_layer,
                       without_keras_only)
from ._modelfile import MAX_CONFIG_BYTES
from .errors import ModelFileError

MEMBERS = {"metadata.json": 2 ** 16, "config.json": MAX_CONFIG_BYTES, "model.weights.h5": None}


def is_keras_archive(archive):
    """Whether the zip ``archive`` is a ``.keras`` file (its config.json) rather than glassnet's."""
    names = archive.namelist()
    return "config.json" in names and "config.npy" not in names


def check_members(infos, max_bytes):
    """{name: ZipInfo} of a .keras zip, from its directory alone: Keras' members only, each once,
    each within its cap, together within ``max_bytes``."""
    found, total = {}, 0
    for info in infos:
        name = info.filename
        if name in found:
            raise ModelFileError(f"member {name!r} appears twice")
        asset = is_asset(name) or is_hook_asset(name)
        if name not in MEMBERS and not asset:
            what = ("not a lookup layer's assets/.../vocabulary.txt, the one asset Keras writes"
                    if name.startswith("assets/") else "not one of Keras' metadata.json, config.json, "
                                                      "model.weights.h5, assets/.../vocabulary.txt")
            raise ModelFileError(f"unexpected member {name[:100]!r}: {what}")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelFileError(f"member {name!r}: zip method {info.compress_type} (Keras stores or deflates)")
        cap = MAX_ASSET_BYTES if asset else MEMBERS[name] or max_bytes
        if info.file_size > cap:
            raise ModelFileError(f"member {name!r} declares {info.file_size} bytes, more than glassnet reads "
                                 f"({cap})")
        total += info.file_size
        if total > max_bytes:
            raise ModelFileError(f"the members declare {total} bytes or more, more than max_bytes={max_bytes}")
        found[name] = info
    missing = {"config.json", "model.weights.h5"} - set(found)
    if missing:
        raise ModelFileError(f"a .keras file without {sorted(missing)}")
    return found


def read_member(archive, info):
    """The bytes of ``info``, read up to its declared size (a member inflating beyond: refused)."""
    with archive.open(info) as fp:
        data = fp.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise ModelFileError(f"member {info.filename!r} holds {'more' if len(data) > info.file_size else 'fewer'} "
                             f"bytes than the {info.file_size} it declares: a damaged or crafted file")
    return data


def read_json_member(archive, info):
    """The JSON object zip member ``info`` of ``archive`` holds (read no further than its declared size);
    ModelFileError when it is not UTF-8 JSON or not an object."""
    data = read_member(archive, info)       # its own error (a ValueError too), not "not UTF-8 JSON"
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFileError(f"{info.filename}: not UTF-8 JSON ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not isinstance(value, dict):
        raise ModelFileError(f"{info.filename}: expected a JSON object, got {type(value).__name__}")
    return value


def load_keras(archive, max_bytes, compile):
    """``(model, metadata)`` of the .keras zip ``archive`` (``load_model``'s reading)."""
    from ._keras_models import _unshared, compile_from_keras, is_keras, model_from_keras
    infos = check_members(archive.infolist(), max_bytes)
    metadata = read_json_member(archive, infos["metadata.json"]) if "metadata.json" in infos else {}
    version = metadata.get("keras_version")
    if version is not None and not (isinstance(version, str) and version.startswith("3.")):
        raise ModelFileError(f"metadata.json: keras_version {version!r:.40}: glassnet reads Keras 3's files")
    config = read_json_member(archive, infos["config.json"])
    if not is_keras(config):
        raise ModelFileError("config.json: not a Keras model config ({\"class_name\": \"Sequential\" or "
                             "\"Functional\", \"config\": ...})")
    h5py = h5py_module()
    data = read_member(archive, infos["model.weights.h5"])
    assets = {name: info for name, info in infos.items() if name.startswith("assets/")}
    with _h5_errors():
        h5 = open_h5(h5py, data, "model.weights.h5")
    with h5:
        stores, groups, others = {}, {}, {}
        with _h5_errors():
            found = weights_by_layer(h5py, h5, config_cell_orders(config), stores, groups)
            # a lookup layer's vocabulary (its asset) and a tf_idf one's idf_weights go into its
            # config entry: it is made with them, and the layers after it are built for its width
            config = read_vocabularies(copy.deepcopy(config), assets, found, lambda info: read_member(archive, info),
                                       others)
        # parameters the file can hold: its weights member's bytes as float32 (Keras' weights' dtype)
        model = model_from_keras(config, "config.json", len(data) // 4, "the file's model.weights.h5 holds")
        with _h5_errors():
            _assign(model, found, stores)
            # a layer of yours: its store and assets through its hooks (glassnet._keras_hooks)
            from ._keras_hooks import restore_hooks
            restore_hooks(model, stores, groups, others, lambda info: read_member(archive, info))
    if compile:     # Keras marks a loss object given for several outputs with a shared_object_id
        compile_from_keras(model, _keras_compile_objects(_unshared(config.get("compile_config"))), "compile_config")
        if model.optimizer is not None:     # its state: step count, rate, slots
            _restore_optimizer(model, h5py, data)
    model.initial_epoch = 0
    return model, metadata


def _restore_optimizer(model, h5py, data):
    from ._keras_optimizer_state import restore_keras_optimizer
    try:
        with open_h5(h5py, data, "model.weights.h5") as h5:
            restore_keras_optimizer(model, h5py, h5)
    except ModelFileError:
        raise
    except (OSError, KeyError, TypeError, ValueError) as exc:      # h5py's, or set_state's
        raise ModelFileError(f"model.weights.h5: optimizer: {type(exc).__name__}: {str(exc)[:300]}") from exc


@contextlib.contextmanager
def _h5_errors():
    """h5py's errors reading the weights member as ModelFileError (a damaged file)."""
    try:
        yield
    except ModelFileError:
        raise
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"model.weights.h5: not a readable Keras weights file ({type(exc).__name__}: "
                             f"{str(exc)[:200]})") from exc


def _assign(model, found, stores=None):
    """Each glassnet layer's weights from the file's datasets of the layer of its name, every shape
    and dtype checked before any data is read; then nothing in the file is left over. A layer of
    yours keeping a store (glassnet._keras_hooks) is left to its ``load_own_variables``: its
    datasets go to ``stores``, its store."""
    from ._keras_hooks import keeps_store, plain_store
    from ._keras_nesting import unread_layers
    from .layers.lora import keras_weights, set_keras_weights
    planned = []
    # (a nested model's layers making an output the outer model does not read hold weights too:
    # kept on them, so that a re-save writes them, glassnet._keras_nesting)
    unread = unread_layers(model) if getattr(model, "_nesting", None) else []
    for layer in [*model.layers, *unread]:
        if stores is not None and keeps_store(layer):
            stores.setdefault(layer.name, plain_store(found.pop(layer.name, [])))
            continue
        if stores and layer.name in stores:
            raise ModelFileError(f"model.weights.h5: layer {layer.name!r}: its vars hold {sorted(stores[layer.name])[:8]}, "
                                 f"a store of save_own_variables, which {type(layer).__name__} does not read (its class "
                                 f"defines no load_own_variables)")
        # with LoRA: the merged kernel and the bias (layers/lora.py); quantized: Keras' order
        current = keras_store_order(layer, keras_weights(layer))
        arrays = found.pop(layer.name, [])
        if not arrays and type(layer).__name__ == "Pipeline":
            # its layers' groups, under the pipeline's (layers/pipeline/layers/dense): each named by
            # its layer, with the pipeline's name before it where glassnet wrote the file
            arrays = [a for inner in layer.pipeline_layers
                      for a in found.pop(f"{layer.name}/{inner.name}", None) or found.pop(inner.name, [])]
        arrays = without_keras_only(layer, arrays, current)
        if len(arrays) != len(current):
            raise ModelFileError(f"model.weights.h5: layer {layer.name!r} has {len(current)} weights in glassnet, "
                                 f"the file {len(arrays)}")
        for k, (target, dataset) in enumerate(zip(current, arrays)):
            if tuple(dataset.shape) != target.shape and not older_fits(layer, target.shape, dataset.shape):
                raise ModelFileError(f"model.weights.h5: layer {layer.name!r} weight {k} ({dataset.name}): expected "
                                     f"shape {target.shape}, the file has {tuple(dataset.shape)}")
        planned.append((layer, arrays, current))
    if found:
        from ._keras_models import unreached_refusal
        raise unreached_refusal(model, sorted(found), "model.weights.h5") or ModelFileError(
            f"model.weights.h5: weights of layers the config does not build: {sorted(found)[:10]}")
    for layer, arrays, current in planned:
        if arrays:
            # (.reshape: an older glassnet's layout of a normalization's axis list, layers._norm_layout)
            set_keras_weights(layer, keras_store_order(layer, [dataset[()].astype(target.dtype, copy=False).reshape(target.shape)
                                                               for dataset, target in zip(arrays, current)]))


def _keras_compile_objects(compile_config):
    """Keras' compile_config with its losses and metrics as glassnet's objects where Keras wrote
    a dict of one (``{"module": "keras.losses", "class_name": ...}``); names stay names."""
    from ._keras_objects import deserialize_keras_object
    if not isinstance(compile_config, dict):
        return compile_config

    def objects(value, depth=0):
        if depth > 8:
            raise ModelFileError("compile_config: nested more than 8 deep")
        if isinstance(value, dict) and "class_name" in value:
            try:
                return deserialize_keras_object(value)
            except (TypeError, ValueError) as exc:     # a ModelFileError naming compile_config, not "not glassnet's"
                raise ModelFileError(f"compile_config: {str(exc)[:300]}; load with compile=False and compile the "
                                     f"model yourself") from exc
        if isinstance(value, dict):
            return {k: objects(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [objects(v, depth + 1) for v in value]
        return value
    def metric_objects(value, depth=0):
        """``objects``, but a loss given as a metric keeps the name Keras logs it under: its config's
        (``Huber(delta=0.5, name="hub")`` logs "hub"; losses.deserialize drops Keras' names, its
        default ones differing from glassnet's, and the metric was logged "huber")."""
        if isinstance(value, list) and depth <= 8:
            return [metric_objects(v, depth + 1) for v in value]
        if isinstance(value, dict) and "class_name" not in value and depth <= 8:
            return {k: metric_objects(v, depth + 1) for k, v in value.items()}
        made = objects(value, depth)
        name = value["config"].get("name") if isinstance(value, dict) and value.get("module") == "keras.losses" \
            and isinstance(value.get("config"), dict) else None
        if isinstance(made, Loss) and isinstance(name, str) and 0 < len(name) <= 200:
            made.name = name
        return made
    from .losses import Loss
    return {key: objects(value) if key == "loss" else metric_objects(value) if key in ("metrics", "weighted_metrics")
            else value for key, value in compile_config.items()}
