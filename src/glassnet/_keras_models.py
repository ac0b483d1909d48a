"""Reading Keras 3's model configs (``keras_model.to_json()``, a ``.keras`` file's ``config.json``).

Keras writes a model as ``{"module": "keras", "class_name": "Sequential" or "Functional",
"config": {...}, "compile_config": {...}}``:

- a ``Sequential``'s config lists its layers, its ``InputLayer`` first (``batch_shape``), or gives
  ``build_input_shape``;
- a ``Functional``'s config lists every layer with its ``inbound_nodes``, one per call:
  ``{"args": [...], "kwargs": {...}}`` where each tensor is ``{"class_name": "__keras_tensor__",
  "config": {"keras_history": [layer name, node index, tensor index]}}``; ``input_layers`` and
  ``output_layers`` name the model's ends the same way (``[name, node, index]``, or a list of them).

glassnet rebuilds such a model by calling its own layers on its own symbolic Inputs, node by node,
as Keras' ``functional_from_config`` does: shared layers (a layer with several nodes), several
inputs and outputs, and nested models (a ``Sequential`` or ``Functional`` entry is read as a model,
then called as a layer) come out as drawn. Each layer entry goes through ``layers.deserialize``,
which finds classes by exact key only: nothing in the config is imported or run. Keras' ``Lambda``
(its function is Python bytecode) is refused by name. Keras records Embedding's ``mask_zero`` mask
as a ``NotEqual(ids, 0)`` op passed as ``mask=`` to the layers reading the embeddings: glassnet's
Embedding carries that mask itself, so such a ``NotEqual`` node and the ``mask=`` argument it feeds
are dropped (any other ``NotEqual`` is refused: glassnet has no such op layer).
"""
import json

from . import layers as _layers, saving
from .errors import ModelFileError
from .layers.input import Input
from .layers.serializing import _KERAS_KEYS

MODEL_CLASSES = ("Sequential", "Functional", "Model")
_TENSOR = "__keras_tensor__"
# Keras 3.15's layers whose ``call`` defaults to ``training=False`` (the augmentations' default, True,
# is glassnet's ``Layer.training_default``; the others' is None). Keras writes that default into
# the node of every call given no flag ({"training": False} for each Dropout or LSTM call)
_KERAS_CALLS_INFER = frozenset({"AdditiveAttention", "AlphaDropout", "Attention", "ConvLSTM1D", "ConvLSTM2D",
                                "ConvLSTM3D", "Dropout", "GRU", "GaussianDropout", "GaussianNoise", "LSTM", "RNN",
                                "SimpleRNN", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
                                "SpectralNormalization"})
_MAX_DEPTH = 32             # how deep args and nested models may go: a config deeper is malformed
_LAMBDA = ("Keras' Lambda layer holds its function as Python bytecode, which glassnet never runs from a file or "
           "config; rebuild that part in glassnet code (a Layer subclass, or glassnet's Lambda in code) and copy "
           "the weights with set_weights")


def is_keras(spec):
    """Whether ``spec`` (``{"class_name", "config", ...}``) is what Keras 3 writes for a model rather
    than glassnet's own model config."""
    if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
        return False
    config = spec["config"]
    entries = config.get("layers") if isinstance(config.get("layers"), list) else []
    return (spec.get("class_name") == "Functional" or "module" in spec or "input_layers" in config
            or "build_input_shape" in config or any(isinstance(e, dict) and ("module" in e or "inbound_nodes" in e)
                                                     for e in entries))


class _Reader:
    """One model config read: ``made`` collects every layer made (the caller caps their weights)."""

    def __init__(self, where, prepare=None):
        from .io import MAX_LAYERS
        self.where, self.prepare, self.made, self.left = where, prepare, [], MAX_LAYERS

    def count(self, what):
        # a config of tiny entries or calls could make millions of them: glassnet's files' cap
        self.left -= 1
        if self.left < 0:
            from .io import MAX_LAYERS
            raise ModelFileError(f"{self.where}: more than {MAX_LAYERS} layers and calls (at {what}), more than a "
                                 f"model file holds")

    def model(self, spec, depth=0):
        if depth > _MAX_DEPTH:
            raise ModelFileError(f"{self.where}: models nested more than {_MAX_DEPTH} deep")
        name = spec.get("class_name")
        config = spec.get("config")
        if name not in MODEL_CLASSES or not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ModelFileError(f"{self.where}: expected Keras' {{\"class_name\": \"Sequential\" or \"Functional\", "
                                 f"\"config\": {{\"layers\": [...], ...}}}}, got {str(spec)[:120]!r}")
        if name == "Sequential":
            return self.sequential(config, depth)
        return self.functional(config, depth)

    # -- one layer entry ------------------------------------------------------------------------
    def layer(self, entry, depth):
        if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
            raise ModelFileError(f"{self.where}: a layer entry must be {{\"class_name\": str, \"config\": dict, ...}}, "
                                 f"got {str(entry)[:120]!r}")
        name = entry["class_name"]
        self.count(f"layer {name!r:.60}")
        if name == "Lambda" and entry.get("registered_name") in (None, "Lambda"):
            raise ModelFileError(f"{self.where}: layer {_entry_name(entry)!r}: {_LAMBDA}")
        if name in MODEL_CLASSES and isinstance(entry.get("config"), dict) and "layers" in entry["config"]:
            model = self.model(entry, depth + 1)
            if entry["config"].get("trainable") is False:
                model.trainable = False
            return model
        plain = {key: value for key, value in entry.items() if key in _KERAS_KEYS - {"build_config"}}
        try:
            layer = _layers.deserialize(plain)
        except ValueError as exc:
            raise ModelFileError(f"{self.where}: {str(exc).removeprefix('layers.deserialize: ')}") from None
        if self.prepare is not None:
            self.prepare(layer)
        self.made.append(layer)
        return layer

    # -- Sequential ---------------------------------------------------------------------------------
    def sequential(self, config, depth):
        from .model import Sequential
        entries, first = list(config["layers"]), None
        if entries and isinstance(entries[0], dict) and entries[0].get("class_name") == "InputLayer":
            first = _input(entries.pop(0), self.where)
        elif _shape(config.get("build_input_shape")):
            first = Input(shape=tuple(config["build_input_shape"][1:]))
        model = Sequential(name=_str(config.get("name"), "name", self.where), dtype=_model_dtype(config))
        if first is not None:
            model.add(first)
        for entry in entries:
            model.add(self.layer(entry, depth))
        return model

    # -- Functional ---------------------------------------------------------------------------------
    def functional(self, config, depth):
        from .graph import Model
        entries = config["layers"]
        tensors, pending, masks = {}, [], _zero_masked(entries)
        for entry in entries:
            name = _entry_name(entry, self.where)
            if entry.get("class_name") == "InputLayer":
                tensors[(name, 0)] = _input(entry, self.where)
                continue
            nodes = entry.get("inbound_nodes")
            if not isinstance(nodes, list):
                raise ModelFileError(f"{self.where}: layer {name!r}: 'inbound_nodes' must be a list of "
                                     f"{{\"args\": [...], \"kwargs\": {{...}}}}")
            kind = entry.get("class_name")
            layer = kind if kind in ("NotEqual", "Any") else self.layer(entry, depth)
            pending.append([name, layer, nodes, 0])
        # Keras' order of the calls: each layer's nodes in turn, each node once all its inputs exist;
        # passes until none is left (a shared layer's later node may read a layer listed after it)
        while pending:
            progress = False
            for item in pending:
                name, layer, nodes, k = item
                while k < len(nodes):
                    self.count(f"a call of {name!r:.60}")
                    try:
                        args, kwargs = self.node(nodes[k], tensors, name)
                    except _NotReady:
                        break
                    tensors[(name, k)] = (_zero_mask(nodes[k], args, kwargs, masks, name, self.where, layer)
                                          if isinstance(layer, str) else self.call(layer, args, kwargs, name))
                    k += 1
                    progress = True
                item[3] = k
            pending = [item for item in pending if item[3] < len(item[2])]
            if pending and not progress:
                raise ModelFileError(f"{self.where}: the calls of {[item[0] for item in pending][:10]} read tensors no "
                                     f"layer of the config makes: not a graph")
        # Keras numbers a nested Functional's calls from 1 in input_layers and output_layers (its
        # get_config counts the node linking its own Inputs to its outputs first; functional_from_config
        # takes the 1 off again), not in the nodes' keras_history: keras.io's end-to-end text model,
        # whose output is the inner model's call, names it ["functional", 1, 0]
        nested = {_entry_name(entry, self.where) for entry in entries if isinstance(entry, dict)
                  and isinstance(entry.get("config"), dict) and "input_layers" in entry["config"]}
        inputs = _ends(config.get("input_layers"), tensors, "input_layers", self.where, nested)
        outputs = _ends(config.get("output_layers"), tensors, "output_layers", self.where, nested)
        model = Model(inputs, outputs, name=_str(config.get("name"), "name", self.where), dtype=_model_dtype(config))
        structure = output_nesting(config.get("output_layers"))
        if structure is not None:       # kept for a re-save in Keras' form (glassnet._keras_write)
            model._keras_output_nesting = structure
        return model

    def node(self, node, tensors, name):
        if not (isinstance(node, dict) and set(node) <= {"args", "kwargs"} and isinstance(node.get("args", []), list)
                and isinstance(node.get("kwargs", {}), dict)):
            raise ModelFileError(f"{self.where}: layer {name!r}: a node must be {{\"args\": [...], \"kwargs\": {{...}}}} "
                                 f"(Keras 3's format), got {str(node)[:120]!r}")
        args = [_resolve(a, tensors, self.where) for a in node.get("args", [])]
        kwargs = {key: _resolve(v, tensors, self.where) for key, v in node.get("kwargs", {}).items()}
        return args, kwargs

    def call(self, layer, args, kwargs, name):
        if "mask" in kwargs and _no_mask(kwargs["mask"]):
            del kwargs["mask"]          # glassnet's Embedding carries this mask along itself
        if _default_training(layer, kwargs.get("training")):
            # the flag Keras wrote for a call given none (its call's default), not a mode of the
            # call's own: read as given none, so that a Dropout trains in fit and an augmentation
            # stays off in predict, as in Keras (kept, it fixed them: glassnet._flagless)
            del kwargs["training"]
        if any(isinstance(v, _ZeroMask) for v in list(args) + list(kwargs.values())):
            raise ModelFileError(f"{self.where}: layer {name!r} reads an Embedding's mask other than as mask=")
        try:
            return layer(*args, **kwargs)
        except (TypeError, ValueError) as exc:
            raise ModelFileError(f"{self.where}: calling layer {name!r} as the config says failed "
                                 f"({type(exc).__name__}: {str(exc)[:300]})") from exc


def _default_training(layer, flag):
    """Whether a node's ``training`` ``flag`` is the default of Keras' ``call`` of ``layer``'s class."""
    if not isinstance(flag, bool):
        return False
    default = True if getattr(layer, "training_default", False) is True else (
        False if type(layer).__name__ in _KERAS_CALLS_INFER else None)
    return flag is default


def _no_mask(mask):
    """Whether a call's ``mask=`` is none or an Embedding's mask_zero mask: Keras' call of a model of
    several inputs passes one per input (``"mask": [null, null]``), of dict inputs one per key
    (``"mask": {"a": null}``)."""
    if isinstance(mask, dict):
        return all(_no_mask(m) for m in mask.values())
    if isinstance(mask, (list, tuple)):
        return all(_no_mask(m) for m in mask)
    return mask is None or isinstance(mask, _ZeroMask)


class _NotReady(Exception):
    """A node reads a tensor not made yet."""


class _ZeroMask:
    """What Keras' ``NotEqual(ids, 0)`` node gives: the mask of an Embedding(mask_zero=True)."""


def _resolve(value, tensors, where, depth=0):
    """A node's argument with each ``__keras_tensor__`` replaced by the tensor made for it."""
    if depth > _MAX_DEPTH:
        raise ModelFileError(f"{where}: a node's arguments nest more than {_MAX_DEPTH} deep")
    if isinstance(value, dict) and value.get("class_name") == _TENSOR:
        return _tensor(value.get("config", {}).get("keras_history") if isinstance(value.get("config"), dict)
                       else None, tensors, where)
    if isinstance(value, list):
        return [_resolve(v, tensors, where, depth + 1) for v in value]
    if isinstance(value, dict):
        if "class_name" in value:       # an object Keras serialized into a call (not a tensor): not read
            raise ModelFileError(f"{where}: a call's argument {str(value)[:100]!r} is not a tensor or a plain value")
        return {k: _resolve(v, tensors, where, depth + 1) for k, v in value.items()}
    return value


def _history(history, where):
    if not (isinstance(history, list) and len(history) == 3 and isinstance(history[0], str)
            and all(type(i) is int and i >= 0 for i in history[1:])):
        raise ModelFileError(f"{where}: keras_history must be [layer name, node index, tensor index], "
                             f"got {str(history)[:100]!r}")
    return history


def _tensor(history, tensors, where):
    name, node, index = _history(history, where)
    if (name, node) not in tensors:
        raise _NotReady
    out = tensors[(name, node)]
    if isinstance(out, dict):           # a nested model's dict outputs: Keras numbers them flattened,
        out = [out[key] for key in sorted(out)]     # its tree's order (the keys sorted)
    if isinstance(out, (list, tuple)):
        if index >= len(out):
            raise ModelFileError(f"{where}: {name!r} makes {len(out)} tensors, the config reads its tensor {index}")
        return out[index]
    if index != 0:
        raise ModelFileError(f"{where}: {name!r} makes one tensor, the config reads its tensor {index}")
    return out


def _zero_masked(entries):
    """{tensor (``(name, node, index)``): the value Keras' ``NotEqual`` of it compares with} of the
    tensors an Embedding with ``mask_zero`` reads (its ids: ``NotEqual(ids, 0)``) or a ``Masking``
    layer reads (``Any(NotEqual(x, mask_value), axis=-1)``): Keras records those as the layer's mask,
    which glassnet's layer carries itself."""
    found = {}
    for entry in entries:
        config = entry.get("config") if isinstance(entry, dict) else None
        if not isinstance(config, dict) or not isinstance(entry.get("inbound_nodes"), list):
            continue
        if entry.get("class_name") == "Embedding" and config.get("mask_zero") is True:
            value = 0
        elif entry.get("class_name") == "Masking" and isinstance(config.get("mask_value", 0.0), (int, float)):
            value = config.get("mask_value", 0.0)
        else:
            continue
        for node in entry["inbound_nodes"]:
            args = node.get("args") if isinstance(node, dict) else None
            if isinstance(args, list) and args and isinstance(args[0], dict):
                history = (args[0].get("config") or {}).get("keras_history")
                if isinstance(history, list) and all(isinstance(h, (str, int)) for h in history):
                    found[tuple(history)] = value
    return found


def _zero_mask(node, args, kwargs, masks, name, where, kind="NotEqual"):
    """A ``NotEqual`` node: Keras' record of an Embedding's mask_zero mask (``NotEqual(ids, 0)`` of
    ids an Embedding(mask_zero=True) reads) or of a Masking layer's (``NotEqual(x, mask_value)``);
    an ``Any`` node of such a NotEqual over the last axis: the Masking's mask (before the kerasw
    review Keras' files of Masking before an RNN(cell) were refused: "unknown layer class 'Any'").
    Anything else is refused."""
    if kind == "Any":
        if len(args) == 1 and isinstance(args[0], _ZeroMask) and not kwargs:
            return _ZeroMask()
        raise ModelFileError(f"{where}: layer {name!r}: glassnet has no Any op layer (it reads Keras' Any only as "
                             f"the mask of a Masking layer)")
    first = node["args"][0] if len(args) == 2 else None
    history = (first.get("config") or {}).get("keras_history") if isinstance(first, dict) else None
    if not (len(args) == 2 and not kwargs and isinstance(history, list) and
            all(isinstance(h, (str, int)) for h in history) and tuple(history) in masks and
            not isinstance(args[1], bool) and args[1] == masks[tuple(history)]):
        raise ModelFileError(f"{where}: layer {name!r}: glassnet has no NotEqual op layer (it reads Keras' NotEqual "
                             f"only as the mask of an Embedding(mask_zero=True) or a Masking layer)")
    return _ZeroMask()


def _ends(spec, tensors, key, where, nested=()):
    """The model's inputs or outputs: ``[name, node, index]`` (one), a list of them, or a dict; a
    call of a model in ``nested`` (functional ones) counted from 1, as Keras writes it there."""
    def end(history):
        name, node, index = _history(history, where)
        if name in nested:
            if node == 0:
                raise ModelFileError(f"{where}: {key} reads call 0 of the nested functional model {name!r}, "
                                     f"which Keras numbers from 1 there")
            history = [name, node - 1, index]
        return _tensor(history, tensors, where)
    try:
        if _is_history(spec):
            return end(spec)
        if isinstance(spec, list) and spec:
            # nested lists (a stacked RNN's per-cell states, Model(x, [out, [h0, c0], h1])): the
            # model's outputs flat, in Keras' flattening order (output_nesting keeps the lists)
            return [end(s) for s in _flat_ends(spec, key, where)]
        if isinstance(spec, dict) and spec:
            return {k: end(s) for k, s in spec.items()}
    except _NotReady:
        raise ModelFileError(f"{where}: {key} names a tensor no layer of the config makes: {str(spec)[:120]}") from None
    raise ModelFileError(f"{where}: {key} must be [name, node, index] or a list of them, got {str(spec)[:120]!r}")


def _is_history(spec):
    return isinstance(spec, list) and len(spec) == 3 and isinstance(spec[0], str)


def _flat_ends(spec, key, where, depth=0):
    """The ``[name, node, index]`` entries of ``spec``, a list of them nested in lists, flat in order."""
    if depth > 32:
        raise ModelFileError(f"{where}: {key} nests lists more than 32 deep")
    if _is_history(spec):
        return [spec]
    if not isinstance(spec, list) or not spec:
        raise ModelFileError(f"{where}: {key} must be [name, node, index] or a list of them, got {str(spec)[:120]!r}")
    return [flat for part in spec for flat in _flat_ends(part, key, where, depth + 1)]


def output_nesting(spec):
    """Where ``output_layers`` nests lists (``[a, [b, c], d]``): the same structure of the flat
    outputs' indices (``[0, [1, 2], 3]``); None for one output, a flat list or a dict."""
    if not isinstance(spec, list) or _is_history(spec) or all(_is_history(part) for part in spec):
        return None
    count = iter(range(len(_flat_ends(spec, "output_layers", "config"))))

    def index(part):
        return next(count) if _is_history(part) else [index(inner) for inner in part]
    return index(spec)


def nest_ends(structure, ends):
    """``ends`` (the flat outputs' ``[name, node, index]``) in ``structure`` (``output_nesting``'s)."""
    return [nest_ends(part, ends) if isinstance(part, list) else ends[part] for part in structure]


def _entry_name(entry, where="config"):
    name = entry.get("name", (entry.get("config") or {}).get("name")) if isinstance(entry, dict) else None
    if not isinstance(name, str):
        raise ModelFileError(f"{where}: a layer entry has no name: {str(entry)[:120]!r}")
    return name


def _str(value, key, where):
    if value is not None and not isinstance(value, str):
        raise ModelFileError(f"{where}: {key} must be a string, got {value!r:.60}")
    return value


def _shape(shape):
    return (isinstance(shape, list) and len(shape) >= 2
            and all(d is None or type(d) is int and d > 0 for d in shape[1:]))


_INTEGER_INPUTS = frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool"})


def _input(entry, where):
    """glassnet's Input for Keras' ``InputLayer`` entry (``batch_shape``, ``dtype``, ``name``)."""
    config = entry.get("config")
    if not isinstance(config, dict) or not _shape(config.get("batch_shape")):
        raise ModelFileError(f"{where}: InputLayer: expected a config with 'batch_shape' [batch, ...], "
                             f"got {str(config)[:120]!r}")
    for key in ("sparse", "ragged", "optional"):
        if config.get(key):
            raise ModelFileError(f"{where}: InputLayer {config.get('name')!r}: {key}=True is not supported by glassnet")
    batch = config["batch_shape"][0]
    dtype = config.get("dtype")
    # an integer or bool Input keeps its dtype (written back so: Keras' HashedCrossing refuses the
    # floats a float Input gives it, its Hashing hashes them otherwise); a float one is the model's
    return Input(shape=tuple(config["batch_shape"][1:]), name=_str(config.get("name"), "name", where),
                 dtype="string" if dtype == "string" else dtype if dtype in _INTEGER_INPUTS else None,
                 batch_size=batch if type(batch) is int and batch > 0 else None)


def _policy(dtype):
    """The model's dtype from Keras' DTypePolicy dict (float32 when absent or not a float policy)."""
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name")
    return dtype if dtype in ("float32", "float64") else "float32"


def _model_dtype(config):
    """The dtype of the model a Keras model config becomes: its policy's, or float64 where every layer
    with a float policy computes in float64 (quantized ones: from float64). Keras' model keeps its own
    policy at floatx (float32) whatever its layers' (``keras.Sequential([Dense(2, dtype="float64")])``
    writes "float32" for the model), where a glassnet model takes its layers' one dtype."""
    dtype = _policy(config.get("dtype"))
    layers = config.get("layers")
    if dtype == "float64" or not isinstance(layers, list):
        return dtype
    found = set()
    for entry in layers:
        layer_config = entry.get("config") if isinstance(entry, dict) else None
        if not isinstance(layer_config, dict) or entry.get("class_name") == "InputLayer" or "layers" in layer_config:
            continue        # (a nested model's own policy is Keras' floatx too: its layers decide it)
        policy = layer_config.get("dtype")
        if isinstance(policy, dict):
            policy = (policy.get("config") or {}).get("source_name") or (policy.get("config") or {}).get("name")
        if isinstance(policy, str):
            policy = policy.rpartition("_from_")[2]
        if policy in ("float32", "float64"):
            found.add(policy)
    return "float64" if found == {"float64"} else dtype


def model_from_keras(spec, where, budget, limit, custom_objects=None):
    """The glassnet model of Keras' model ``spec`` (``{"class_name": "Sequential" or "Functional",
    "config": ...}``), uncompiled, with new weights, its layers allocating at most ``budget``
    parameter values (``limit`` says what set it, for the error) as ``load_model``'s do."""
    from .io import JSON_MAX_PARAMS, _capped
    left, state_left = [budget], [JSON_MAX_PARAMS]

    def prepare(layer):
        layer.add_weight = _capped(layer.add_weight, left, limit)
        layer._reserve = _capped(layer._reserve, state_left, f"glassnet's cap on statistics ({JSON_MAX_PARAMS} "
                                                              f"values) allows")
    reader = _Reader(where, prepare)
    try:
        with saving.scope_of(custom_objects, where):
            model = reader.model(_unshared(spec))
        _mark_unreached(model, reader.made)
        return model
    finally:
        for layer in reader.made:
            del layer.add_weight, layer._reserve     # back to the class's methods


def _mark_unreached(model, made):
    """Record on ``model`` (``_keras_unreached``) the names of the layers its config
    made and called that its graph leaves out: a layer making only a tensor that a nested model's
    call reads and the outputs read of that call ignore (Keras' node of the call needs it; glassnet's
    graph holds the calls its outputs need), so that the weights readers can say so."""
    from ._keras_nesting import keras_layers
    if not getattr(model, "_nesting", None):
        return
    present = {id(layer) for layer in keras_layers(model)}
    names = [layer.name for layer in made if id(layer) not in present]
    if names:
        model._keras_unreached = names


def unreached_refusal(model, names, where):
    """The refusal of a file whose weights ``names`` are those of layers ``_mark_unreached`` found."""
    unreached = [name for name in names if name in getattr(model, "_keras_unreached", ())]
    if not unreached:
        return None
    return ModelFileError(
        f"{where}: layers {unreached[:10]} hold weights but make only what a nested model's call reads and "
        f"ignores (an input of the nested model that the outputs read of that call do not use); glassnet's "
        f"graph leaves such calls out, so it does not read this file. Make the nested model of the inputs "
        f"its outputs use, or read its outputs in the outer model")


def _unshared(value, depth=0):
    """``value`` without Keras' ``shared_object_id`` marks: a ``.keras`` file's objects met twice
    (an LSTM's initializers, its cell's too) carry one, each beside its full config."""
    if depth > 64:
        raise ModelFileError("config: nested more than 64 deep")
    if isinstance(value, dict):
        return {k: _unshared(v, depth + 1) for k, v in value.items()
                if not (k == "shared_object_id" and "class_name" in value and "config" in value)}
    if isinstance(value, list):
        return [_unshared(v, depth + 1) for v in value]
    return value


def keras_model_spec(cls, config):
    """``{"class_name", "config"}`` for Keras' inner model config (``keras_model.get_config()``)
    given to ``cls.from_config``, or None for glassnet's own config."""
    if not isinstance(config, dict):
        return None
    try:        # get_config's tuples as the lists of its JSON
        config = json.loads(json.dumps(config))
    except (TypeError, ValueError, RecursionError):
        return None
    spec = {"class_name": "Functional" if "input_layers" in config else "Sequential", "config": config}
    return spec if is_keras(spec) else None


def _per_output(metrics, model, keras2):
    """One flat list of metrics for a model of several outputs as Keras 2 read it: each metric on
    every output (a copy each, as Keras 2 copied its objects). Keras 3.15 matches a flat list of as
    many entries as outputs one to one (kept for a Keras 3 file); one of another length it loads, then
    fails at the first fit or evaluate (tuple arity mismatch): read as Keras 2 did instead."""
    import copy
    outputs = len(getattr(model, "outputs", None) or ())
    keys = getattr(model, "_output_keys", None)
    if (outputs < 2 or not isinstance(metrics, (list, tuple))
            or any(isinstance(m, (list, tuple, dict)) for m in metrics) or (not keras2 and len(metrics) == outputs)):
        return metrics
    if keys is not None:
        return {key: copy.deepcopy(list(metrics)) for key in keys}
    return [copy.deepcopy(list(metrics)) for _ in range(outputs)]


# Keras' optimizers whose update glassnet computes otherwise by default: a Keras file's compiles
# with rule="keras" (glassnet.optimizers.rules); Keras' string names of them
_KERAS_RULED = ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "Nadam")
_KERAS_RULED_NAMES = {name.lower(): name for name in _KERAS_RULED}


def compile_from_keras(model, compile_config, where, keras2=False):
    """Compile ``model`` as Keras' ``compile_config`` says: its optimizer (Keras' dict), loss and
    metrics by name. Nothing to do for an empty one (Keras' uncompiled model). ``keras2``: the
    settings of a Keras 2 file (a flat metrics list goes to every output, see _per_output)."""
    if not compile_config:
        return
    from . import optimizers
    if not isinstance(compile_config, dict):
        raise ModelFileError(f"{where}: compile_config must be a dict, got {str(compile_config)[:80]!r}")
    known = {"optimizer", "loss", "metrics", "loss_weights", "weighted_metrics", "run_eagerly",
             "steps_per_execution", "jit_compile", "auto_scale_loss"}
    unknown = set(compile_config) - known
    if unknown:
        raise ModelFileError(f"{where}: compile_config: unknown keys {sorted(unknown)[:10]}")
    spec = compile_config.get("optimizer")
    if isinstance(spec, dict) and spec.get("class_name") == "Nadam" and isinstance(spec.get("config"), dict):
        # Keras 3's Nadam warms its momentum up by 0.96^t, glassnet's momentum_decay=1.0 (glassnet's
        # default is PyTorch's 0.004); Keras' config has no such key
        spec = {**spec, "config": {"momentum_decay": 1.0, **spec["config"]}}
    if isinstance(spec, dict) and spec.get("class_name") in _KERAS_RULED and isinstance(spec.get("config"), dict):
        # Keras' update, not torch.optim's: training continues as it would in Keras (and its slots
        # load 1:1); Keras' config has no such key
        spec = {**spec, "config": {**spec["config"], "rule": "keras"}}
    elif isinstance(spec, str) and spec.lower() in _KERAS_RULED_NAMES:
        spec = {"class_name": _KERAS_RULED_NAMES[spec.lower()], "config": {"rule": "keras"}}
    elif not spec:
        spec = {"class_name": "RMSprop", "config": {"rule": "keras"}}
    try:
        optimizer = optimizers.deserialize(spec)
        arguments = {"optimizer": optimizer, "loss": compile_config.get("loss")}
        for key in ("metrics", "loss_weights", "weighted_metrics"):
            if compile_config.get(key) is not None:
                arguments[key] = compile_config[key]
                if key != "loss_weights":
                    arguments[key] = _per_output(arguments[key], model, keras2)
        model.compile(**arguments)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{where}: cannot compile with Keras' compile_config ({str(exc)[:300]}); load with "
                             f"compile=False and compile the model yourself") from exc
