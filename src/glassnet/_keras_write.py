"""Writing Keras 3.15's ``.keras`` files (``model.save("model.keras", save_format="keras")``), for Keras or TensorFlow to load.

The file is what ``keras_model.save`` writes (see glassnet._keras_file for the reader): a zip of
``metadata.json`` (``{"keras_version": "3.15.1", "date_saved"}``; Keras' loader reads only the
version's presence), ``config.json`` (the model as Keras serializes it: ``{"module": "keras",
"class_name": "Sequential" or "Functional", "config", "registered_name", "build_config",
"compile_config"}``, each layer as ``{"module": "keras.layers", "class_name", "config",
"registered_name", "build_config"}``, a functional model's calls as ``inbound_nodes``, a model
nested in it as one entry, its own config, with a node per call: glassnet._keras_nesting; a
model of dict inputs or outputs with its ends as dicts: glassnet._keras_dicts) and
``model.weights.h5`` (Keras' saving_lib layout: ``layers/<snake_case class>[_k]/vars/0..n-1``,
``k`` counting that class's layers in ``model.layers``' order, Keras' own; a nested model's
group ``layers/functional`` or ``layers/sequential`` holding its own layout; sublayers' weights in
the groups glassnet._keras_file reads them from, ``_SUBLAYERS`` here), and a lookup layer's learnt
vocabulary as Keras' ``assets/<its group>/vocabulary.txt`` (glassnet._keras_assets; its config
then says ``"vocabulary": null``, and a text model's Input ``dtype="string"``).

An RNN's cells, a StackedRNNCells' cells and a Pipeline's layers are Keras' layer entries too; a
``return_state`` call's states are its node's outputs 1, 2, ... (glassnet's ``LastState`` readers
write no entry), its ``initial_state`` that keyword of the node; GroupedQueryAttention is written
under Keras' name GroupQueryAttention (``_KERAS_NAMES``).

A glassnet layer config is already Keras' for the layers both have (glassnet reads Keras' configs by
these names); what differs is mended here: the input shape goes to ``build_config``, the dtype
becomes Keras' DTypePolicy dict, a few settings some Keras classes lack are dropped at the value
such a class computes as (``_GLASSNET_ONLY``; kept for the classes of ``_KERAS_TAKES``, whose Keras
constructors take them). Refused by name, before anything is written (ValueError): a layer
class Keras 3.15 lacks (``KERAS_LACKS``), a layer class of yours not registered (a registered one
is written as Keras writes it, its saving hooks' store and assets with it: glassnet._keras_hooks;
an RNN cell of yours, or a registered layer inside a wrapper, is refused), a
glassnet-only setting at another value, glassnet's ``"leaky_relu"`` activation (slope 0.01; Keras'
name means 0.2), a call with its own arguments or mode, a model with ``add_loss`` terms, an
optimizer Keras lacks. The optimizer's state (step count, rate, slots) is written in Keras' layout (glassnet._keras_optimizer_state), so
that Keras continues training where glassnet stopped.

Everything is made in memory, then written with glassnet's atomic write (a temporary file renamed
onto the target): a failure at any point leaves the previous file, or none.
"""
import datetime
import io
import json
import zipfile

import numpy as np

from ._flagless import own_mode
from ._keras_assets import learnt, vocabulary_assets
from ._keras_h5 import weights_bytes
from ._keras_hooks import hook_assets
from ._keras_dicts import call_node, keras_ends, keyed_compile
from ._keras_nesting import call_tensors, output_index, sequential_writes_nested, writes_nested
from .optimizers import schedules as _schedules

KERAS_VERSION = "3.15.1"        # the version whose format this writes, and which loads it (tests)
# glassnet's layers that Keras 3.15 has no class of the name for
KERAS_LACKS = frozenset({"Input", "AttentionScores", "LastState", "BackwardOutput", "Cell", "DepthToSpace",
                         "SpaceToDepth", "LayerScale", "StochasticDepth", "TensorOp", "TensorFunction", "RandomDraw",
                         "TrainingSwitch", "CallMask", "SetMask", "Lambda"})
# Keras 3.15's layers that take a ``seed`` (elsewhere glassnet's seed only drew the initial
# weights, which the file holds: dropped)
_KERAS_SEEDED = frozenset({"AlphaDropout", "Attention", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "Dropout", "GRU",
                           "GRUCell", "GaussianDropout", "GaussianNoise", "LSTM", "LSTMCell", "MultiHeadAttention",
                           "SimpleRNN", "SimpleRNNCell", "SpatialDropout1D", "SpatialDropout2D",
                           "SpatialDropout3D"})
# settings some Keras 3.15 classes lack: {key: values meaning what such a class computes}; a class of
# _KERAS_TAKES keeps them, any other drops them at these values and refuses the others by name
_GLASSNET_ONLY = {"use_causal_mask": (False,), "input_length": (None,), "use_cudnn": None,      # None: any value
                  "noise_shape": (None,), "interpolation": ("nearest",), "rms_scaling": (False,), "alpha": (None,)}
_KERAS_OPTIMIZERS = frozenset({"SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl",
                               "Lion", "Lamb", "Muon"})
# glassnet's schedules that Keras 3.15 has, of the same name and arguments
_KERAS_SCHEDULES = frozenset({"ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay", "PolynomialDecay",
                              "CosineDecay", "CosineDecayRestarts"})
_MERGING = frozenset({"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
                      "Attention", "AdditiveAttention", "HashedCrossing"})        # Keras' layers called on one list
# {Keras 3.15 class: the keys of _GLASSNET_ONLY its constructor takes}, generated once from
# inspect.signature(keras.layers.<class>.__init__) (tests/test_keras_write2.py regenerates and compares);
# LayerNormalization's rms_scaling is by hand: Keras 3.15 pops it from **kwargs (deprecated, still computed)
_KERAS_TAKES = {"AlphaDropout": frozenset({"noise_shape"}), "Dropout": frozenset({"noise_shape"}),
                "AugMix": frozenset({"interpolation", "alpha"}), "MixUp": frozenset({"alpha"}),
                "ELU": frozenset({"alpha"}), "GRU": frozenset({"use_cudnn"}), "LSTM": frozenset({"use_cudnn"}),
                "RandAugment": frozenset({"interpolation"}), "RandomElasticTransform": frozenset({"interpolation"}),
                "RandomPerspective": frozenset({"interpolation"}), "RandomRotation": frozenset({"interpolation"}),
                "RandomShear": frozenset({"interpolation"}), "RandomTranslation": frozenset({"interpolation"}),
                "RandomZoom": frozenset({"interpolation"}), "Resizing": frozenset({"interpolation"}),
                "UpSampling2D": frozenset({"interpolation"}), "LayerNormalization": frozenset({"rms_scaling"})}
# Keras 3.15's classes whose constructor takes no ``trainable`` (nor other base-Layer keywords):
# their configs leave it out, as Keras' own get_config does (they hold no weights)
_NO_TRAINABLE = frozenset({"SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "Discretization"})
_OWN_INPUT_DIM = frozenset({"Embedding", "ReversibleEmbedding"})      # a vocabulary's size, not a shape
_KERAS_NAMES = {"GroupedQueryAttention": "GroupQueryAttention"}     # {glassnet class: Keras 3.15's layers name}


def _policy(dtype):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": np.dtype(dtype).name},
            "registered_name": None}


def _refuse(where, message):
    raise ValueError(f"save_model: .keras: {where}: {message}")


# -- config.json --------------------------------------------------------------------------------
def _layer_entry(class_name, config, dtype, where, trainable=True, registered=None, carried=()):
    """Keras' dict of a layer from glassnet's ``class_name`` and ``config`` (``layers.serialize``);
    ``carried``: the config's keys its calls' keywords carry in Keras' file (left out here)."""
    if registered is not None:
        _refuse(where, f"{registered!r} is a layer class of yours: Keras cannot rebuild it from a file")
    if class_name in KERAS_LACKS:
        _refuse(where, f"Keras 3.15 has no {class_name} layer")
    config = dict(config)
    shape = config.pop("input_shape", None)
    dim = None if class_name in _OWN_INPUT_DIM else config.pop("input_dim", None)
    if shape is None and dim is not None:
        shape = [dim]
    for key in carried:
        config.pop(key, None)
    takes = _KERAS_TAKES.get(class_name, frozenset())
    for key, values in _GLASSNET_ONLY.items():
        if key in config and key not in takes:
            value = config.pop(key)
            if key == "alpha" and value is not None:        # glassnet's LeakyReLU alias
                config.setdefault("negative_slope", value)
            elif values is not None and value not in values:
                _refuse(where, f"{class_name}'s {key}={value!r:.60} has no Keras counterpart (Keras' {class_name} "
                               f"computes as {key}={values[0]!r})")
    if "seed" in config and class_name not in _KERAS_SEEDED:
        del config["seed"]
    for key in ("activation", "recurrent_activation"):
        if config.get(key) == "leaky_relu":
            _refuse(where, f"{key}='leaky_relu' is slope 0.01 in glassnet, 0.2 in Keras: use a LeakyReLU layer")
        if key in config and not isinstance(config[key], (str, type(None))):
            _refuse(where, f"{key}={config[key]!r:.60} is not a built-in activation's name")
    for key in ("layer", "backward_layer"):         # the wrappers' inner layers, Keras' dicts too
        if isinstance(config.get(key), dict):
            inner = config[key]
            config[key] = _layer_entry(inner["class_name"], inner["config"], dtype, f"{where}: {key}",
                                       trainable=inner["config"].get("trainable", trainable),
                                       registered=inner.get("registered_name"))
    # an RNN's cell and a StackedRNNCells' cells are Keras' layer entries too: glassnet's bare
    # {"class_name", "config"} (no module, name or dtype) failed Keras' load_model ("Could not
    # locate class 'LSTMCell'", its Functional "could not be deserialized properly")
    if isinstance(config.get("cell"), dict):
        config["cell"] = _cell_entry(config["cell"], dtype, f"{where}: cell", trainable)
    if isinstance(config.get("cells"), list):
        from ._keras_h5 import stacked_cell_groups
        # unnamed cells named as Keras names them, its counter within the stack (lstm_cell, lstm_cell_1)
        names = stacked_cell_groups([inner.get("class_name") if isinstance(inner, dict) and
                                     isinstance(inner.get("class_name"), str) else "cell" for inner in config["cells"]])
        config["cells"] = [_cell_entry(inner, dtype, f"{where}: cells[{k}]", trainable, names[k])
                           for k, inner in enumerate(config["cells"])]
    if class_name == "Pipeline" and isinstance(config.get("layers"), list):
        # Keras' Pipeline config: its layers as Keras' entries (refused as "a list of layers" before)
        config["layers"] = [_layer_entry(inner.get("class_name"), inner.get("config") or {}, dtype,
                                         f"{where}: layers[{k}]", trainable=trainable,
                                         registered=inner.get("registered_name"))
                            for k, inner in enumerate(config["layers"])]
    elif "layers" in config:
        _refuse(where, f"{class_name} holds a list of layers, which glassnet does not write in Keras' form")
    config["name"] = config.get("name", where)
    if class_name not in _NO_TRAINABLE:
        config["trainable"] = bool(trainable)
    config["dtype"] = _policy(config.get("dtype") or dtype)
    if class_name in ("Hashing", "HashedCrossing") and config.get("output_mode", "int") == "int":
        # Keras' int-mode hashing layers take an integer dtype, their bins' (int64, Keras' default),
        # and refuse a float one: a file of glassnet's float32 failed in keras.saving.load_model
        config["dtype"] = _policy("int64")
    # Keras 3.15 exports its GroupedQueryAttention class as keras.layers.GroupQueryAttention only, and
    # writes and looks it up by that name (the class's own is no keras.layers name: refused before)
    if class_name == "Pipeline":        # Keras' Pipeline takes its layers and name only (no dtype, no trainable)
        config = {"layers": config.get("layers", []), "name": config["name"]}
    entry = {"module": "keras.layers", "class_name": _KERAS_NAMES.get(class_name, class_name), "config": config,
             "registered_name": None}
    if shape is not None and all(d is None or isinstance(d, int) for d in shape):
        entry["build_config"] = {"input_shape": [None, *shape]}
    return entry


def _cell_entry(inner, dtype, where, trainable, name=None):
    """Keras' entry of a cell in an RNN's (or StackedRNNCells') config, an unnamed one named ``name``
    or as Keras names it (``lstm_cell``); a cell of yours is refused by name (Keras cannot rebuild it)."""
    from ._keras_h5 import _snake
    if not isinstance(inner.get("class_name"), str) or not isinstance(inner.get("config"), dict):
        _refuse(where, f"{inner!r:.60} is not a cell's {{'class_name', 'config'}}")
    if inner["class_name"] not in ("SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells"):
        _refuse(where, f"{inner['class_name']!r} is a cell of yours: Keras cannot rebuild it from a file")
    config = dict(inner["config"])
    if config.get("name") is None:
        config["name"] = name or _snake(inner["class_name"])
    entry = _layer_entry(inner["class_name"], config, dtype, where, trainable=trainable)
    entry.pop("build_config", None)
    return entry


def _entry_of(layer, dtype, carried=()):
    from .layers.serializing import serialize
    if getattr(layer, "is_model", False):
        return _model_config(layer)
    entry = serialize(layer)
    registered = entry.get("registered_name")
    own = registered is not None and not layer.wrapped_layers()
    entry = _layer_entry(entry["class_name"], entry["config"], layer.dtype or dtype, repr(layer.name),
                         trainable=layer.trainable, registered=None if own else registered, carried=carried)
    if registered is None and not (type(layer).__module__ or "").startswith("glassnet."):
        # (written under its own class name, as one of Keras' layers, Keras' loader finds no such class)
        _refuse(repr(layer.name), f"{type(layer).__name__} is a layer class of yours, not registered: register it "
                                  f"with glassnet.saving.register_serializable(package=...) and its Keras twin with "
                                  f"keras.saving.register_keras_serializable under the same 'package>Name', which "
                                  f"Keras' loader looks up")
    if own:
        # a registered layer class of yours, as Keras writes one (register_keras_serializable): Keras
        # rebuilds it from the class registered under that name in its own process (the class's
        # module: None for __main__'s, as Keras writes it); its hooks' store and assets go to its
        # weights group and assets/ (glassnet._keras_hooks)
        module = type(layer).__module__
        entry.update(module=None if module == "__main__" else module, registered_name=registered)
    if layer.quantization_mode is not None:         # Keras' quantized policy: its layer builds int8 weights
        from .layers.quantized import keras_policy
        entry["config"]["dtype"] = keras_policy(layer)
    if learnt(layer):
        # a learnt vocabulary is an asset in Keras' file (assets/<group>/vocabulary.txt), a tf_idf
        # layer's idf_weights a dataset of its weights group: the config says null, as Keras' does
        entry["config"].update(vocabulary=None, idf_weights=None, has_input_vocabulary=False)
    if getattr(layer, "takes_text", False):
        entry.pop("build_config", None)         # (glassnet's input_shape there is its ids', not the texts')
    return entry


def _input_entry(name, shape, dtype, batch=None):
    return {"module": "keras.layers", "class_name": "InputLayer", "name": name, "inbound_nodes": [],
            "config": {"batch_shape": [batch, *shape], "dtype": dtype, "sparse": False, "ragged": False,
                       "name": name, "optional": False}, "registered_name": None}


def is_functional(model):
    """Whether ``model`` is written as Keras' Functional, not as a Sequential. Its nested models
    are written nested, as Keras writes them, where each is a plain Sequential or functional Model
    (glassnet._keras_nesting.writes_nested); flattened into its calls otherwise."""
    from .graph import Model
    return isinstance(model, Model)


def _model_config(model):
    """``{"module": "keras", "class_name": "Sequential" or "Functional", "config", ...}`` of ``model``."""
    from .graph import Model
    dtype = np.dtype(model.dtype).name
    if isinstance(model, Model):
        config = _functional(model, dtype)
        name = "Functional"
    else:
        config = _sequential(model, dtype)
        name = "Sequential"
    # (Keras writes its Functional's module in full: a "keras" module has no Functional)
    spec = {"module": "keras.src.models.functional" if name == "Functional" else "keras", "class_name": name,
            "config": config, "registered_name": None}
    shape = getattr(model, "input_shape", None) if model.built else None
    if name == "Sequential" and shape is not None:
        spec["build_config"] = {"input_shape": list(shape)}
    return spec


def _sequential(model, dtype):
    if getattr(model, "_nested_calls", None) is not None and not sequential_writes_nested(model):
        # (a gn.Layer of yours written with call is drawn inline too: "a functional Model" misled there)
        _refuse(repr(model.name), "a Sequential holding a functional Model's calls, or those of a layer of yours "
                                  "written with call (Keras' file lists layers only); save that Model itself, or "
                                  "a model of Keras' layers")
    shape = getattr(model, "input_shape", None) if model.built else None
    layers = []
    if shape is not None:       # (a Sequential's InputLayer carries no entry name, as Keras writes it)
        # texts: Keras' Input(shape=(1,), dtype="string") before its TextVectorization or StringLookup
        text = model._takes_text()
        if text and type(model.layers[0]).__name__ not in ("TextVectorization", "StringLookup"):
            _refuse(repr(model.name), f"a model of raw inputs to its {type(model.layers[0]).__name__}, whose "
                                      f"input dtype glassnet does not write in Keras' form")
        # an integer Input given first (ids before an Embedding) keeps its dtype, as Keras writes it
        entry = _input_entry(getattr(model, "_declared_name", None) or f"{model.name}_input", shape[1:],
                             "string" if text else _input_dtype(model._declared_input_layer, dtype))
        del entry["name"], entry["inbound_nodes"]
        layers.append(entry)
    layers += _sequential_entries(model.layers, getattr(model, "_nesting", ()) or (), dtype)
    config = {"name": model.name, "trainable": _model_trainable(model.layers), "dtype": _policy(dtype), "layers": layers}
    if shape is not None:
        config["build_input_shape"] = list(shape)
    return config


def _sequential_entries(layers, records, dtype):
    """Keras' entries of a Sequential's ``layers``: a Sequential or functional Model nested in it
    (glassnet lists its layers in the outer model's; its ``Nested`` record, among ``records``, says
    which) as one entry, the nested model's config, as Keras writes it and reads it back as one layer."""
    owner, done, entries = {}, set(), []
    for record in records:
        for layer in record.layers:
            owner.setdefault(id(layer), record)
    for layer in layers:
        record = owner.get(id(layer))
        if record is None:
            entries.append(_entry_of(layer, dtype))
        elif id(record) not in done:
            done.add(id(record))
            # a functional model: its own config (Keras' entry; glassnet._keras_nesting says when)
            entries.append(_model_config(record.model) if record.kind == "Functional" else
                           _nested_sequential(record, dtype))
    return entries


def _nested_sequential(record, dtype):
    """Keras' ``{"module": "keras", "class_name": "Sequential", ...}`` of the nested model ``record``
    (a ``Nested``): its InputLayer at its first layer's input shape, its layers (and the models
    nested in it) as entries."""
    if record.kind != "Sequential":
        _refuse(repr(record.name), f"a {record.kind} model nested in a Sequential, which glassnet does not write "
                                   f"in Keras' form")
    shape = getattr(record.layers[0], "input_shape", None) if record.layers else None
    # texts, as _sequential writes them: a text layer's input_shape is that of the ids it makes
    # (Input((4,), "float32") before a one-hot StringLookup: Keras then casts the texts to float)
    text = bool(record.layers) and getattr(record.layers[0], "takes_text", False)
    if text and type(record.layers[0]).__name__ not in ("TextVectorization", "StringLookup"):
        _refuse(repr(record.name), f"a model of raw inputs to its {type(record.layers[0]).__name__}, whose "
                                   f"input dtype glassnet does not write in Keras' form")
    if text and shape is not None:
        shape = (1,)
    layers = []
    if shape is not None:
        entry = _input_entry(f"{record.name}_input", list(shape), "string" if text else dtype)
        del entry["name"], entry["inbound_nodes"]
        layers.append(entry)
    layers += _sequential_entries(record.layers, record.children, dtype)
    config = {"name": record.name, "trainable": _model_trainable(record.layers),
              "dtype": _policy(dtype), "layers": layers}
    spec = {"module": "keras", "class_name": "Sequential", "config": config, "registered_name": None}
    if shape is not None:
        config["build_input_shape"] = [None, *shape]
        spec["build_config"] = {"input_shape": [None, *shape]}
    return spec


def _input_dtype(tensor, dtype):
    """The dtype of an Input's entry: an integer or bool one given to it (ids, codes: Keras' Hashing,
    HashedCrossing and IntegerLookup read int64 inputs otherwise than the floats of the model's dtype
    the file said before), else the model's."""
    from .layers.input import given_integer_dtype
    return given_integer_dtype(tensor) or dtype


def _functional(model, dtype):
    where = repr(model.name)
    if getattr(model, "_loss_terms", None) is not None:
        _refuse(where, "a model of add_loss terms, which glassnet does not write in Keras' form")
    modes, options = model._call_settings()
    # a call given no flag records its layer's own default: an image preprocessing layer's is
    # TRUE_IF_UNSET (Keras' call(self, data, training=True)), which Keras' node without a
    # `training` keyword reads back as it is (keras.io's augmentation before a convnet)
    if any(mode != own_mode(layer, None) for layer, mode in zip(model._calls, modes or ())):
        _refuse(where, "a call with its own training mode, which Keras' file cannot express")
    options = options or [None] * len(model._calls)
    names = list(model._input_names)
    # a text input's shape is its texts' (1,), not the ids' its TextVectorization makes of them
    inputs = [_input_entry(name, tuple(tensor.shape[1:]), "string", getattr(tensor, "batch_size", None))
              if getattr(tensor, "dtype", None) == "string" else
              _input_entry(name, shape, _input_dtype(tensor, dtype), getattr(tensor, "batch_size", None))
              for name, shape, tensor in zip(names, model.input_shapes, model.inputs)]
    # each call as Keras' node: its layer's k-th call reads the tensors of the calls before; a
    # nested model's call (written nested: glassnet._keras_nesting) one node of that model
    tensors = call_tensors(model) if writes_nested(model) else None
    histories, order = _histories(model, tensors)
    known = {id(given): (name, 0, 0) for given, name in zip(model.inputs, names)}
    if tensors is not None:
        known.update((id(tensor), history) for tensor, history in zip(tensors, histories) if history is not None)
    nodes = {id(layer): [] for layer in model.layers}
    for call in order:
        if not isinstance(call, int):       # a nested model's call: its args are the tensors it read
            record = call
            read = [_tensor(known[id(t)]) for t in record.called_on]
            nodes.setdefault(id(record.key), []).append(call_node(record.model, read))
            continue
        layer, parents, option = model._calls[call], model._graph[call], options[call]
        if getattr(layer, "is_model", False):
            _refuse(where, f"the nested model {layer.name!r} called as one layer")
        read = [_tensor(names[-1 - p] if p < 0 else histories[p]) for p in parents]
        single = len(read) == 1
        args = read if single or type(layer).__name__ not in _MERGING else [read]
        # a call's own arguments (MultiHeadAttention's use_causal_mask) are Keras' call's keywords
        kwargs = dict(option or {})
        if not single and _takes_states(layer):
            # a recurrent call given initial_state: Keras' node holds it as that keyword (its
            # positional second argument is the mask: Keras failed on "list index out of range")
            args, kwargs["initial_state"] = read[:1], read[1:]
        nodes[id(layer)].append({"args": args, "kwargs": kwargs})
    layers = list(inputs)
    owner = {}
    for record in (model._nesting if tensors is not None else ()):
        for layer in record.layers:
            owner.setdefault(id(layer), record)
    for layer in model.layers:
        if _is_last_state(layer) and not nodes.get(id(layer)):      # (a recurrent layer's output, above)
            continue
        record = owner.get(id(layer))
        if record is not None:
            if id(record.key) in nodes:         # (written at its first layer's place)
                entry = _model_config(record.model)
                entry.update(name=record.model.name, inbound_nodes=nodes.pop(id(record.key)))
                layers.append(entry)
            continue
        # an attention layer's use_causal_mask in its config is its calls' flag in a model drawn:
        # Keras takes it as each call's keyword (written in its nodes), its constructor not at all
        calls = [node["kwargs"] for node in nodes[id(layer)]]
        carried = ("use_causal_mask",) if calls and all("use_causal_mask" in kw for kw in calls) else ()
        entry = _entry_of(layer, dtype, carried)
        entry["name"] = layer.name
        entry["inbound_nodes"] = nodes[id(layer)]
        layers.append(entry)

    # the Inputs where Keras' model.layers lists them (an Input read first by a later layer comes
    # later: a dict's keys sort its Inputs, not the order the graph reads them), as Keras writes them
    listed = keras_listed(model)
    if listed is not None and sorted(listed) == sorted(e["name"] for e in layers) and len(set(listed)) == len(listed):
        by_name = {e["name"]: e for e in layers}
        layers = [by_name[name] for name in listed]

    def end(call):
        name, node, index = histories[call]
        # Keras counts a nested functional model's nodes from 1 here (its own graph is node 0)
        functional = tensors is not None and tensors[call].nested_in is not None and \
            tensors[call].nested_in.kind == "Functional"
        return [name, node + functional, index]
    ends = keras_ends(model._output_keys, [end(c) for c in model._outputs_at])
    structure = model.__dict__.get("_keras_output_nesting")
    if structure is not None and model._output_keys is None and len(ends) == len(model._outputs_at):
        # outputs read from Keras' file as nested lists (a stacked RNN's per-cell states): written
        # back so (glassnet's model has them flat)
        from ._keras_models import nest_ends
        ends = nest_ends(structure, ends)
    return {"name": model.name, "trainable": _model_trainable(model.layers), "layers": layers,
            "input_layers": keras_ends(model._input_keys, [[n, 0, 0] for n in names]), "output_layers": ends}


def keras_listed(model):
    """The names of Keras' ``model.layers`` of the functional ``model``, its Inputs among them where
    Keras lists them (as its summary shows them); None where glassnet does not know that order."""
    if model._input_places is None:
        return None
    return [name for name, _ in model._with_input_entries(model._summary_entries())]


def _histories(model, tensors):
    """``(histories, order)``: each call's ``(name, node, tensor index)`` as Keras' ``keras_history``
    (a layer's k-th call is its node k; a call inside a nested model's call, written nested
    (``tensors`` given), is that model's node by the calls' order, its output's index, or None
    for a call inside it that it does not return), and Keras' nodes in order: a call's index,
    or the ``Nested`` record of a model's call, at its first call."""
    made, numbered, histories, order = {}, {}, [], []
    for call, layer in enumerate(model._calls):
        record = None if tensors is None else tensors[call].nested_in
        if record is None and _is_last_state(layer):
            # return_state's last state: in Keras the recurrent call's own output k + 1 (its node's
            # outputs are [output, *states]), no layer of its own (refused as "LastState" before);
            # a Bidirectional(merge_mode=None)'s outputs are [forward, backward, *states]: its
            # BackwardOutput (index -1) is output 1, its states 2, 3, ...
            (parent,) = model._graph[call]
            if parent < 0 or histories[parent] is None:
                _refuse(repr(layer.name), "the last state of a recurrent layer not called in this model")
            name, node, _ = histories[parent]
            unmerged = getattr(model._calls[parent], "merge_mode", "") is None
            histories.append((name, node, layer.index + 1 + unmerged))
            continue
        if record is None:
            histories.append((layer.name, made.get(id(layer), 0), 0))
            made[id(layer)] = made.get(id(layer), 0) + 1
            order.append(call)
            continue
        if id(record) not in numbered:
            numbered[id(record)] = made.get(id(record.key), 0)
            made[id(record.key)] = numbered[id(record)] + 1
            order.append(record)
        index = output_index(record, tensors[call])
        histories.append(None if index is None else (record.model.name, numbered[id(record)], index))
    return histories, order


def _takes_states(layer):
    """Whether ``layer`` is a recurrent layer (its calls' later inputs are its initial states)."""
    from .layers.recurrent import CarriesStates
    return isinstance(layer, CarriesStates)


def _is_last_state(layer):
    """Whether ``layer`` is a ``LastState`` reader (glassnet's call for a return_state's state) or a
    ``BackwardOutput`` (a Bidirectional(merge_mode=None)'s second output): in Keras, outputs of the
    call they read, no layers of their own."""
    return (type(layer).__name__, type(layer).__module__) in (("LastState", "glassnet.layers.recurrent"),
                                                             ("BackwardOutput", "glassnet.layers.unmerged"))


def _tensor(history):
    """Keras' ``__keras_tensor__`` of ``history``: ``(name, node, index)`` or an Input's name."""
    name, node, index = history if isinstance(history, tuple) else (history, 0, 0)
    # (Keras reads only keras_history to find the tensor; shape and dtype must be there, as placeholders)
    return {"class_name": "__keras_tensor__", "config": {"shape": [None], "dtype": "float32",
                                                         "keras_history": [name, node, index]}}


def _built_in_metric(entry):
    """Whether ``{"class_name", "config"}`` (``metrics.serialize``'s entry) names a built-in
    metric class (or, marked ``"loss"``, a built-in loss class), which Keras 3.15 has by that name."""
    from . import losses, metrics
    name = entry.get("class_name")
    if not isinstance(entry.get("config"), dict):
        return False
    if entry.get("loss"):
        # (SquaredError, the seeds' half summed squares, is glassnet's own)
        return name in {cls.__name__ for cls in losses.LOSSES.values()} - {"SquaredError"}
    return name in {cls.__name__ for cls in metrics.METRIC_CLASSES.values()}


# the names FBetaScore() and LogCoshError() log under, which glassnet's metrics.get takes and
# Keras 3.15's does not ("Could not interpret metric identifier"), nor its snake-case class names
# (Keras would log them under those): written as Keras' entry of the class with its defaults
_KERAS_METRIC_NAMES = {"fbeta_score": "FBetaScore", "logcosh": "LogCoshError"}
# loss names glassnet takes as metrics (the loss's value) and keras.metrics.get does not: written as
# Keras' entry of the loss class named so (Keras' compile takes a Loss as a metric and logs its name)
_KERAS_LOSS_METRICS = ("huber", "log_cosh", "binary_focal_crossentropy", "categorical_focal_crossentropy", "dice",
                       "tversky", "circle", "ctc")


def _keras_metric_names(value):
    """compile's ``metrics`` (a list, or per output a list or dict of lists) with the names Keras
    3.15 does not take (``_KERAS_METRIC_NAMES``, ``_KERAS_LOSS_METRICS``) as Keras' entries of their
    classes, logged under the same names."""
    if isinstance(value, str) and value in _KERAS_METRIC_NAMES:
        from . import metrics
        made = metrics.METRIC_CLASSES[_KERAS_METRIC_NAMES[value]]()
        # (in glassnet's module: keras_form writes it as Keras')
        return {"module": "glassnet.metrics", "class_name": type(made).__name__, "config": made.get_config(),
                "registered_name": None}
    if isinstance(value, str) and value in _KERAS_LOSS_METRICS:
        from . import losses
        return {"module": "glassnet.losses", "class_name": losses.plain_type(losses.get(value)).__name__,
                "config": {"name": value}, "registered_name": None}
    if isinstance(value, list):
        return [_keras_metric_names(v) for v in value]
    if isinstance(value, dict) and "class_name" not in value and "registered_name" not in value:
        return {k: _keras_metric_names(v) for k, v in value.items()}
    return value


def _compile_config(model):
    """Keras' ``compile_config``, or None for a model not compiled."""
    from ._keras_objects import serialize_keras_object
    if model.loss is None or model.optimizer is None:
        return None
    settings = model._compile_config()
    optimizer = model.optimizer
    name = type(optimizer).__name__
    if name not in _KERAS_OPTIMIZERS:
        _refuse("the optimizer", f"Keras 3.15 has no {name} optimizer")
    entry = serialize_keras_object(optimizer)
    if entry.get("registered_name") is not None or not isinstance(entry.get("config"), dict):
        _refuse("the optimizer", f"{name} of yours: Keras cannot rebuild it from a file")
    config = dict(entry["config"])
    # glassnet's own argument: Keras computes its own update whichever rule glassnet trained with
    config.pop("rule", None)
    # glassnet's Nadam warms its momentum up by 0.96^(momentum_decay t) (PyTorch's 0.004 by default);
    # Keras 3's by 0.96^t and takes no such argument: written at 1.0 only, refused otherwise
    if name == "Nadam" and config.pop("momentum_decay", 1.0) != 1.0:
        _refuse("the optimizer", "Nadam's momentum_decay has no Keras counterpart: Keras 3's Nadam computes as "
                                 "momentum_decay=1.0 (glassnet's default 0.004 is PyTorch's)")
    # a built-in schedule (what load_model makes of Keras' own) in Keras' form: the same class name
    # and settings (glassnet's are Keras' arguments); before, it was refused, so a Keras model
    # compiled with ExponentialDecay could not be saved back (nor as .h5) after loading
    schedule = optimizer.schedule
    if isinstance(config.get("learning_rate"), dict) and type(schedule).__name__ in _KERAS_SCHEDULES and \
            type(schedule).__module__ == _schedules.__name__:
        config["learning_rate"] = {"module": "keras.optimizers.schedules", "class_name": type(schedule).__name__,
                                   "config": dict(config["learning_rate"]["config"]), "registered_name": None}
    for key, value in config.items():
        if isinstance(value, dict) and value.get("module") != "keras.optimizers.schedules":
            _refuse("the optimizer", f"{key}={value!r:.80} (a schedule of yours or an object) is not written in "
                                     f"Keras' form")

    def keras_form(value):
        """glassnet's {"module": "glassnet.losses", ...} of a built-in as Keras' "keras.losses"; a
        built-in metric object's {"class_name", "config"} (metrics.serialize's form for AUC(),
        SparseTopKCategoricalAccuracy(k=2), a loss with settings as a metric) as Keras' entry of it
        (it was refused as "of yours"); a loss function of yours, {"registered_name": name}, as Keras
        names it (loading needs it too)."""
        if isinstance(value, dict) and "class_name" in value and "module" not in value and \
                set(value) <= {"class_name", "config", "loss"} and _built_in_metric(value):
            return {"module": "keras.losses" if value.get("loss") else "keras.metrics",
                    "class_name": value["class_name"], "config": value["config"], "registered_name": None}
        if isinstance(value, dict) and set(value) == {"registered_name"} and isinstance(value["registered_name"], str):
            return {"module": "builtins", "class_name": "function", "config": value["registered_name"],
                    "registered_name": "function"}
        # (and once written so: a list or dict of losses passes here twice, which refused it as "of yours")
        if isinstance(value, dict) and value.get("class_name") == "LossFunctionWrapper" and \
                value.get("module", "glassnet.losses") in ("glassnet.losses", "keras.src.losses.losses"):
            # Keras' own class, which it keeps (unexported) in keras.src.losses.losses
            return {"module": "keras.src.losses.losses", "class_name": "LossFunctionWrapper",
                    "config": value["config"], "registered_name": "LossFunctionWrapper"}
        if isinstance(value, dict) and "class_name" in value:
            module = value.get("module") or ""
            # (keras.losses: a built-in loss's entry with its settings, already in Keras' form)
            if value.get("registered_name") not in (None, "function") or not (
                    module.startswith("glassnet.") or module in ("builtins", "keras.losses")):
                _refuse("compile", f"{value!r:.80}: a loss or metric of yours, which Keras cannot rebuild")
            return {**value, "module": module.replace("glassnet.", "keras.", 1)}
        if isinstance(value, list):
            return [keras_form(v) for v in value]
        if isinstance(value, dict):
            return {k: keras_form(v) for k, v in value.items()}
        return value

    def plain(value):
        return keras_form(serialize_keras_object(value)) if not isinstance(value, (str, type(None))) else value
    loss = settings.get("loss")
    # a built-in loss with settings of its own (BinaryCrossentropy(label_smoothing=0.1), Huber(delta=2.0),
    # from_logits=True, a reduction) is named alone in the settings, its settings in "loss_config":
    # written as Keras' entry of the class with them, as Keras writes a loss object (the name alone
    # lost them, so the model read back, in Keras or glassnet, trained with the defaults)
    changed = settings.get("loss_config")
    if changed and isinstance(loss, list):
        loss = [head.loss if each else name for name, each, head in zip(loss, changed, model._heads)]
    elif changed and isinstance(loss, str):
        loss = model.loss
    metrics = settings.get("metrics")
    return keyed_compile(model, {
            "optimizer": {"module": "keras.optimizers", "class_name": name, "config": config,
                          "registered_name": None},
            "loss": keras_form(plain(loss) if not isinstance(loss, (list, dict)) else
                               [plain(v) for v in loss] if isinstance(loss, list) else {k: plain(v) for k, v in loss.items()}),
            "loss_weights": settings.get("loss_weights"),
            "metrics": keras_form(_keras_metric_names(metrics)),
            "weighted_metrics": keras_form(_keras_metric_names(settings.get("weighted_metrics"))),
            "run_eagerly": model.run_eagerly, "steps_per_execution": model.steps_per_execution,
            "jit_compile": model.jit_compile})


def keras_bytes(model, include_optimizer=True):
    """The bytes of the ``.keras`` file of ``model``: every refusal comes before anything is made."""
    if not model.built:
        _refuse(repr(model.name), "not built: fit, build or call it first (Keras' file holds the built weights)")
    spec = _model_config(model)
    compile_config = _compile_config(model) if include_optimizer else None
    if compile_config is not None:
        spec["compile_config"] = compile_config
    for i, w in enumerate(model.get_weights()):
        if not np.isfinite(w).all():
            _refuse(repr(model.name), f"weights[{i}] holds NaN or infinite values")
    config = json.dumps(spec).encode("utf-8")
    metadata = json.dumps({"keras_version": KERAS_VERSION,
                           "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}).encode("utf-8")
    arrays = None
    if compile_config is not None:      # Keras' optimizer/vars: its step count, rate and slots
        from ._keras_optimizer_state import keras_optimizer_arrays, write_keras_optimizer
        arrays = keras_optimizer_arrays(model, frozen=True)
    # (a Sequential's nested Sequentials keep their groups; so do a functional model's nested
    # models where it writes them nested: glassnet._keras_nesting)
    nested = not is_functional(model) or writes_nested(model)
    weights = weights_bytes(model, nested=nested, archive=True, more=None if arrays is None else
                            (lambda h5: write_keras_optimizer(h5, model, arrays)))
    # at the groups the weights have: lookups' vocabularies, what layers of yours' save_assets write
    assets = vocabulary_assets(model, nested) + hook_assets(model, nested)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:      # Keras stores its members
        archive.writestr("metadata.json", metadata)
        archive.writestr("config.json", config)
        archive.writestr("model.weights.h5", weights)
        for name, data in assets:
            archive.writestr(name, data)
    return buffer.getvalue()


def save_keras(model, path, include_optimizer=True):
    """Write ``model`` to the ``.keras`` file ``path``, atomically (see the module's docstring)."""
    from ._atomic import write_atomically
    data = keras_bytes(model, include_optimizer)
    write_atomically(path, lambda f: f.write(data))


def _model_trainable(layers):
    """A model entry's ``"trainable"``: Keras' ``trainable=False`` on a model freezes its every layer
    when read back (``Functional.__init__`` sets it on them all), so it is written False only when all
    its layers are frozen (``model.trainable = False``); glassnet's ``model.trainable`` reads False as
    soon as one layer is, which written as such froze the whole model in Keras."""
    return any(layer.trainable for layer in layers) or not layers
