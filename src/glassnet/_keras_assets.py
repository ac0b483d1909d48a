"""The ``assets/`` of Keras 3's ``.keras`` files: a lookup layer's learnt vocabulary.

Keras 3.15 writes one asset kind: the ``vocabulary.txt`` of an ``IntegerLookup``, ``StringLookup``
or ``TextVectorization`` whose vocabulary was learnt (``adapt``) or set after the layer was made
(``IndexLookup.save_assets``; a vocabulary given to the constructor stays in config.json and no
asset is written). The file sits at ``assets/<the layer's weights group>/vocabulary.txt``
(``assets/layers/string_lookup/vocabulary.txt``); a TextVectorization writes it twice, for itself
and for its inner lookup (``.../text_vectorization/_lookup_layer/vocabulary.txt``). Its text is
the vocabulary with its special tokens, one entry a line, joined by ``"\\n"``, UTF-8; Keras reads it
back with ``str.splitlines`` after universal-newline decoding, dropping trailing empty lines, and
``int(line)`` for an IntegerLookup. A ``"tf_idf"`` layer's weights are not an asset: they are the
``idf_weights`` dataset of its weights group (``vars/idf_weights``; a TextVectorization's in its own
``vars`` and its lookup's).

Reading is as wary as the rest of the file: an asset's name must be a plain path of word
characters ending in ``vocabulary.txt`` (no ``..``, no other files), its size is capped
(``MAX_ASSET_BYTES``), its text decoded strictly as UTF-8, and every asset must belong to a
lookup layer of the config that has no vocabulary of its own: an asset nothing reads is refused.
"""
import re

import numpy as np

from .errors import ModelFileError

MAX_ASSET_BYTES = 64 * 2 ** 20          # one vocabulary file: millions of tokens
_NAME = re.compile(r"assets/(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}/){1,64}vocabulary\.txt")
LOOKUPS = frozenset({"IntegerLookup", "StringLookup", "TextVectorization"})


def is_asset(name):
    """Whether zip member ``name`` is an asset glassnet reads (a layer's ``vocabulary.txt``)."""
    return _NAME.fullmatch(name) is not None and "/../" not in name and "/./" not in name


def learnt(layer):
    """Whether ``layer`` is a lookup whose vocabulary Keras keeps as an asset: one not given when
    it was made (Keras' ``input_vocabulary is None``): learnt, set later, or none yet (Keras then
    writes its special tokens alone, and fails to load a file without them)."""
    return type(layer).__name__ in LOOKUPS and not getattr(layer, "_given", False)


def vocabulary_text(layer):
    """The bytes of ``layer``'s ``vocabulary.txt``: its vocabulary with the special tokens, one a line."""
    values = layer.get_vocabulary(include_special_tokens=True)
    for value in values:
        if isinstance(value, str) and value.splitlines() != ([value] if value else []):
            raise ValueError(f"save_model: .keras: {layer.name!r:.60}: the vocabulary entry {value!r:.60} holds a line "
                             f"break, which Keras' vocabulary.txt (one entry a line) cannot hold")
    return "\n".join(str(value) for value in values).encode("utf-8")


def vocabulary_assets(model, nested=False):
    """``[(member name, bytes)]`` of ``model``'s learnt vocabularies, where Keras' ``save_assets``
    writes them (a TextVectorization's twice: its own and its inner lookup's). ``nested``: as the
    weights and the config are written (a Sequential nested in a Sequential keeps its group, and
    its layers' assets sit under it: ``assets/layers/sequential/layers/string_lookup/...``)."""
    from ._keras_h5 import layer_groups
    assets = []
    for group, layer, _ in layer_groups(model, nested=nested):
        if learnt(layer):
            data = vocabulary_text(layer)
            assets.append((f"assets/{group}/vocabulary.txt", data))
            if type(layer).__name__ == "TextVectorization":
                assets.append((f"assets/{group}/_lookup_layer/vocabulary.txt", data))
    return assets


def decode_vocabulary(data, name, integers):
    """The entries of the asset ``data`` (bytes) as Keras' ``load_assets`` reads them."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"{name}: not UTF-8 ({exc})") from None
    # open(..., "r")'s universal newlines, then str.splitlines, then no trailing empty lines (Keras)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").splitlines()
    while lines and lines[-1] == "":
        lines.pop()
    if not integers:
        return lines
    values = []
    for i, line in enumerate(lines, start=1):
        try:
            value = int(line) if len(line) <= 40 else None
        except ValueError:
            value = None
        if value is None or not -2 ** 63 <= value < 2 ** 63:
            raise ModelFileError(f"{name}: line {i} is {line[:60]!r}, not an int64 (an IntegerLookup's vocabulary)")
        values.append(value)
    return values


def config_groups(spec, path="", depth=0):
    """``[(weights group path, layer entry)]`` of Keras' model ``spec`` (config.json's), named as
    Keras' saving traversal names them: a Sequential's layers (its InputLayer is none of them), a
    functional model's entries (its InputLayers too), each the class's snake-case name, then
    ``_1``, ``_2``, ... for that class's later layers; a nested model's layers under its group."""
    from ._keras_h5 import _snake
    from ._keras_models import MODEL_CLASSES
    if depth > 32:
        raise ModelFileError("config.json: models nested more than 32 deep")
    config = spec.get("config") if isinstance(spec, dict) else None
    entries = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(entries, list):
        return []
    if spec.get("class_name") == "Sequential":
        entries = [e for e in entries if not (isinstance(e, dict) and e.get("class_name") == "InputLayer")]
    counts, groups = {}, []
    for entry in entries:
        kind = entry.get("class_name") if isinstance(entry, dict) else None
        if not isinstance(kind, str):
            continue            # the model reader refuses it, with its own message
        kind = "Functional" if kind == "Model" else kind
        k = counts.get(kind, 0)
        counts[kind] = k + 1
        group = f"{path}layers/{_snake(kind)}" + (f"_{k}" if k else "")
        if kind in MODEL_CLASSES and isinstance(entry.get("config"), dict) and "layers" in entry["config"]:
            groups += config_groups(entry, f"{group}/", depth + 1)
        else:
            groups.append((group, entry))
    return groups


def read_vocabularies(spec, assets, found, read, others=None):
    """config.json's ``spec`` with each lookup layer's vocabulary written into its entry from its
    asset (Keras' entry says ``"vocabulary": null``), and a "tf_idf" one's ``idf_weights`` from its
    weights group (taken out of ``found``, {layer name: [datasets]}), so that the layer is made with
    them. ``assets``: {member name: ZipInfo}; ``read(info)``: its bytes. Every asset must be read:
    one no layer takes is refused, or, given the dict ``others``, put there (for a layer of yours
    with ``load_assets``, glassnet._keras_hooks)."""
    left = dict(assets)
    for group, entry in config_groups(spec):
        config = entry.get("config")
        if entry["class_name"] not in LOOKUPS or not isinstance(config, dict) or config.get("vocabulary") is not None:
            continue
        where = f"assets/{group}/vocabulary.txt"
        names = [where] + ([f"assets/{group}/_lookup_layer/vocabulary.txt"]
                           if entry["class_name"] == "TextVectorization" else [])
        texts = [decode_vocabulary(read(left.pop(n)), n, entry["class_name"] == "IntegerLookup")
                 for n in names if n in left]
        if not texts:           # (Keras writes one for a layer never adapted too: its special tokens)
            raise ModelFileError(f"layer {config.get('name')!r:.60} ({entry['class_name']}) has no vocabulary in "
                                 f"config.json and the file has no {where} (Keras' loader fails on it too)")
        if any(t != texts[0] for t in texts[1:]):
            raise ModelFileError(f"{names[0]} and {names[1]} differ: two vocabularies for layer "
                                 f"{config.get('name')!r:.60}")
        config = entry["config"] = {**config, "vocabulary": texts[0], "has_input_vocabulary": False}
        if config.get("output_mode") in ("tf_idf", "tf-idf"):
            config["idf_weights"] = _idf(found.pop(config.get("name"), []), config.get("name"), len(texts[0]))
    if others is not None:
        others.update(left)
    elif left:
        raise ModelFileError(f"assets no lookup layer of config.json reads (one without a vocabulary of its own): "
                             f"{sorted(left)[:5]}")
    return spec


def _idf(datasets, name, size):
    """The ``idf_weights`` of a "tf_idf" lookup's weights group: one, or Keras' two equal copies
    (a TextVectorization's own and its lookup's), each of ``size`` entries at most (Keras pads
    them to ``max_tokens`` with ``pad_to_max_tokens``; glassnet keeps the vocabulary's)."""
    if not datasets or len(datasets) > 2:
        raise ModelFileError(f"model.weights.h5: the tf_idf layer {name!r:.60} needs its idf_weights, the file "
                             f"has {len(datasets)} datasets for it")
    arrays = []
    for dataset in datasets:
        if dataset.ndim != 1 or dataset.shape[0] < size or dataset.dtype.kind != "f":
            raise ModelFileError(f"model.weights.h5: {dataset.name}: expected {size} float idf_weights, got "
                                 f"{dataset.dtype} of shape {dataset.shape}")
        arrays.append(np.asarray(dataset[()], dtype=np.float32)[:size])
    if len(arrays) == 2 and not np.array_equal(arrays[0], arrays[1]):
        raise ModelFileError(f"model.weights.h5: two different idf_weights for layer {name!r:.60}")
    return arrays[0].tolist()
