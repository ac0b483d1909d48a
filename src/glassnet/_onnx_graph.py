"""``model.export(path, format="onnx")``: a glassnet model as an ONNX file, written by glassnet
alone (glassnet._onnx_proto encodes the protobuf; no ``onnx`` package needed).

The model's calls are walked in order (``_node_layers``, ``_inbound``: a Sequential's chain or a
functional Model's graph, nested models already flattened into them); each call becomes the
nodes of its converter (glassnet._onnx_layers; ``convert_calls``, which a TimeDistributed model
runs too). Masks follow the model's mask plan (glassnet._onnx_masks): a maker's converter writes
its mask tensor, each reader's finds it in ``Builder.mask``. The file holds:

* opset 17 of the default domain (ir_version 8), which onnxruntime 1.14 and later run;
* one graph input per model input, named as the model's (a Sequential's ``input_layer`` or its
  Input's name; a model of dict inputs: the dict's key, so the dict ``predict`` takes feeds the
  file), of shape ``(batch, *sample_shape)`` with a symbolic ``batch`` axis, so one file takes any
  batch size (an Input's open axis, None, stays of any size); the model's dtype
  (float32 or float64; an input an ``Embedding`` reads keeps its Input's integer dtype if it has
  one, and is cast to int64 for the lookup; any other layer reads it cast to the model's dtype);
* one graph output per model output, named as ``model.output_names`` (a Sequential's: its last
  layer's name; a name an Input or an earlier output took already gets a suffix, ``_1``);
* the weights as initializers, in the model's dtype, named ``<layer>/<weight>``;
* after the model's own inputs and outputs, a stateful recurrent layer's states in and out
  (``<layer>/state_<k>``, ``<layer>/state_<k>_last``: glassnet._onnx_stateful).

Every call is converted before the file is opened: a layer, activation or setting with no ONNX
form is refused by name and nothing is written; the file is then written atomically.

>>> model.export("model.onnx", format="onnx")          # doctest: +SKIP
>>> import onnxruntime as ort                            # doctest: +SKIP
>>> ort.InferenceSession("model.onnx").run(None, {"input_layer": x})[0]   # doctest: +SKIP
"""
import os

import numpy as np

from . import _onnx_proto as proto
from ._atomic import write_atomically
from . import _onnx_masks as masks
from ._onnx_converters import CONVERTERS
from ._onnx_ops import Unsupported
from . import layers as layers_module
from .layers.base import call_arguments_set
from .layers.lora import merged_kernel

OPSET, IR_VERSION = 17, 8
_BATCH = proto.BATCH
_INTEGER_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")


class Builder:
    """The nodes and initializers of the graph being written, in the model's float ``dtype``."""

    def __init__(self, dtype, reserved=()):
        self.dtype, self.nodes, self.initializers, self._count, self.scope = np.dtype(dtype), [], [], 0, "graph"
        self.call_options = {}          # the options of the call being converted (a converter may read them)
        # masks (glassnet._onnx_masks): each maker's mask tensor by id(layer), and the one the
        # call being converted reads (None: no mask reaches it), or its inputs' by position
        self.masks, self.mask, self.input_masks = {}, None, {}
        # a recurrent call's last states by id(layer), for return_state's LastState calls
        self.states = {}
        # a stateful layer's states in and out of the file (glassnet._onnx_stateful): value_infos
        # put after the model's own inputs and outputs
        self.extra_inputs, self.extra_outputs = [], []
        # the steps of the TimeDistributed wrappers whose calls are being converted, folded into
        # the batch (a stateful layer's states are per row of the folded batch)
        self.folded_steps = ()
        # each stateful layer's prefix of its states' names, by id(layer) (glassnet._onnx_stateful)
        self.state_prefixes = {}
        # the graph's input and output names, which no node or initializer may take too (a
        # layer named "a/MatMul_2" is an output name as "a"'s MatMul would be)
        self._reserved = set(reserved)

    def _name(self, hint):
        self._count += 1
        name = f"{self.scope}/{hint}_{self._count}"
        return self._name(hint) if name in self._reserved else name

    def name(self, hint):
        """A fresh name (a subgraph's input's)."""
        return self._name(hint)

    def body(self, hint):
        """A Builder for a subgraph (a Scan's body) whose names go on from this one's count: a
        subgraph sees the outer graph's names, so none may be taken twice. ``adopt`` it after."""
        inner = Builder(self.dtype, self._reserved)
        inner.scope, inner._count = f"{self.scope}/{hint}", self._count
        return inner

    def adopt(self, inner):
        """Go on counting after the names ``inner`` (a ``body``) took."""
        self._count = inner._count

    def const(self, value, hint="const"):
        """An initializer holding ``value`` in the model's dtype (float64 numbers, such as SELU's
        constants, rounded once to a float32 model's dtype)."""
        name = self._name(hint)
        self.initializers.append(proto.tensor(name, np.asarray(value).astype(self.dtype)))
        return name

    def const_as(self, value, dtype, hint="const"):
        """An initializer holding ``value`` in ``dtype`` whatever the model's (float32 steps that a
        float64 model repeats as glassnet takes them: a resize's weights, glassnet._onnx_resize)."""
        name = self._name(hint)
        self.initializers.append(proto.tensor(name, np.asarray(value).astype(dtype)))
        return name

    def ints(self, values, hint="shape"):
        """An int64 initializer (a Reshape's shape, a Pad's pads)."""
        name = self._name(hint)
        self.initializers.append(proto.tensor(name, np.asarray(values, np.int64)))
        return name

    def op(self, op_type, inputs, hint=None, **attributes):
        """A node ``op_type`` reading ``inputs``; returns its output's name."""
        output = self._name(hint or op_type)
        self.nodes.append(proto.node(op_type, inputs, [output], output, **attributes))
        return output

    def op_outputs(self, op_type, inputs, wanted, hint=None, **attributes):
        """A node with several outputs, of which those where ``wanted`` is true are named (the
        others "", ONNX's unused optional output); returns the names, "" for those left out."""
        first = self._name(hint or op_type)
        outputs = [f"{first}:{k}" if keep else "" for k, keep in enumerate(wanted)]
        self.nodes.append(proto.node(op_type, inputs, outputs, first, **attributes))
        return outputs


def _check_options(format, verbose, input_signature, kwargs):
    if not isinstance(format, str):
        raise TypeError(f"export: format must be a str, got {type(format).__name__}")
    if format in ("tf_saved_model", "openvino"):
        raise ValueError(f"export: format={format!r} needs {'TensorFlow' if format == 'tf_saved_model' else 'OpenVINO'}, "
                         "which glassnet does not use; glassnet exports format='onnx'")
    if format != "onnx":
        raise ValueError(f"export: format must be 'onnx' (Keras' 'tf_saved_model' and 'openvino' need other "
                         f"frameworks), got {format!r}")
    if verbose not in (None, True, False):
        raise TypeError(f"export: verbose must be None, True or False, got {verbose!r:.50}")
    if input_signature is not None:
        raise ValueError("export: input_signature is not supported: the file takes the model's own input shapes, "
                         "with a free batch axis")
    opset = kwargs.pop("opset_version", None)
    if opset not in (None, OPSET):
        raise ValueError(f"export: opset_version must be None or {OPSET} (the opset glassnet writes), got {opset!r}")
    if kwargs:
        raise TypeError(f"export: unexpected keyword argument {sorted(kwargs)[0]!r} (format='onnx' takes "
                        "opset_version)")


def _input_names_and_shapes(model):
    if hasattr(model, "_input_names") and model._input_names:
        names, shapes = list(model._input_names), [tuple(s) for s in model.input_shapes]
    else:
        names, shapes = [model._single_input_name()], [tuple(model.input_shape[1:])]
    if getattr(model, "_input_keys", None) is not None:
        # a model of dict inputs: the file's inputs are named by the dict's keys (in the model's flat
        # order, the keys sorted), so that the dict predict takes feeds onnxruntime's run as it is
        names = model._feed_keys()
    return names, shapes


def _input_dtypes(model, count):
    dtypes = [model.dtype] * count
    for j, tensor in enumerate(getattr(model, "inputs", None) or []):
        given = str(getattr(tensor, "dtype", "") or "")
        if given in _INTEGER_DTYPES and j < count:
            dtypes[j] = "int64"     # ids: onnxruntime's Cast takes int64 input the same as any
    return dtypes


def _output_names(model, count, input_names):
    names = getattr(model, "output_names", None)
    if not (names and len(names) == count):
        names = [model._output_layer.name] if count == 1 else [f"output_{k}" for k in range(count)]
    # each name once in the graph (ONNX's single assignment): two calls of one shared layer, or an
    # Input and a layer of one name, give the later ones a suffix, "dense_1"
    taken, unique = set(input_names), []
    for name in names:
        candidate, k = name, 0
        while candidate in taken:
            k += 1
            candidate = f"{name}_{k}"
        taken.add(candidate)
        unique.append(candidate)
    return unique


def convert_calls(b, model, names, shapes, input_dtypes):
    """Every call of ``model`` converted into ``b``, reading its inputs from the tensors ``names``
    (sample shapes ``shapes``, dtypes ``input_dtypes``): ``(outs, out_shapes)``, each call's
    output name and sample shape. The exported model's own graph, and a model a TimeDistributed
    wraps (glassnet._onnx_shapes), run through it."""
    outs, out_shapes, cast = [], [], {}
    options = model._call_settings()[1]
    routes, input_routes, makers, combiners = masks.plan(model)
    b.masks.update(dict.fromkeys(makers))       # each maker's converter writes its mask's name here
    for i, (layer, parents) in enumerate(zip(model._node_layers, model._inbound)):
        kind = type(layer).__name__
        if kind not in CONVERTERS or (getattr(CONVERTERS[kind], "layer_class", None)
                                      or getattr(layers_module, kind, None)) is not type(layer):
            raise Unsupported(f"export: layer {layer.name!r} ({kind}) has no ONNX form here; exported layers: "
                              f"{', '.join(sorted(k for k, c in CONVERTERS.items() if not getattr(c, 'unlisted', False)))}")
        if layer.quantization_mode is not None:
            raise Unsupported(f"export: layer {layer.name!r} ({kind}) is quantized ({layer.dtype_policy.name}), which "
                              f"has no ONNX form here; export the model before quantizing it")
        given = dict(options[i] or {}) if options is not None else {}
        # a converter naming the call options it reads (attention's use_causal_mask) takes them
        unread = sorted(set(given) - set(getattr(CONVERTERS[kind], "call_options", ())))
        if unread:
            raise Unsupported(f"export: layer {layer.name!r} is called with arguments {unread}; not exported")
        b.call_options = given
        b.mask = b.masks[id(routes[id(layer)])] if id(layer) in routes else None
        b.input_masks = {k: b.masks[id(maker)] for k, maker in input_routes.get(id(layer), {}).items()}
        masks.refuse_unread(layer, CONVERTERS[kind], b.mask)
        xs = [names[-1 - p] if p < 0 else outs[p] for p in parents]
        if kind not in ("Embedding", "ReversibleEmbedding"):
            # an integer Input (int64 in the file) read as numbers, as glassnet and Keras read it,
            # in the model's dtype: ONNX's MatMul, Add, ... take no int64 with a float
            for k, p in enumerate(parents):
                if p < 0 and input_dtypes[-1 - p] == "int64":
                    if p not in cast:
                        b.scope = "inputs"
                        cast[p] = b.op("Cast", [xs[k]], to=proto.ELEM_TYPES[b.dtype])
                    xs[k] = cast[p]
        in_shapes = [shapes[-1 - p] if p < 0 else out_shapes[p] for p in parents]
        b.scope = layer.name
        # a converter that reads the call's own arguments from the layer (ReversibleEmbedding's
        # reverse=True) has them set on it while it is converted and its shape read, as the model
        # sets them around its forward; the others read b.call_options
        arguments = given if getattr(CONVERTERS[kind], "sets_call_arguments", False) else None
        with merged_kernel(layer), call_arguments_set(layer, arguments):    # (LoRA: layers/lora.py)
            outs.append(CONVERTERS[kind](b, layer, xs, in_shapes))
        if i in combiners:                  # a merge's mask joined from its inputs' (masks.combined)
            combiner = combiners[i]
            b.input_masks = {k: b.masks[id(maker)] for k, maker in input_routes[id(combiner)].items()}
            b.masks[id(combiner)] = masks.combined(b, combiner, xs, in_shapes)
        if given.get("attention_mask"):     # the call's last input, no query, value or key
            in_shapes = in_shapes[:-1]
        with call_arguments_set(layer, arguments):
            out_shapes.append(tuple(layer.output_shape(in_shapes if getattr(layer, "merges", False) else in_shapes[0])))
    return outs, out_shapes


def build_model_bytes(model):
    """The ONNX bytes of ``model`` (built); Unsupported names the first layer that has no form."""
    import glassnet
    dtype = np.dtype(model.dtype)
    if dtype not in (np.float32, np.float64):
        raise Unsupported(f"export: model dtype {model.dtype!r} is not exported (float32 or float64)")
    names, shapes = _input_names_and_shapes(model)
    input_dtypes = _input_dtypes(model, len(names))
    at = list(getattr(model, "_outputs_at", None) or [len(model._node_layers) - 1])
    output_names = _output_names(model, len(at), names)
    b = Builder(dtype, [*names, *output_names])
    outs, out_shapes = convert_calls(b, model, names, shapes, input_dtypes)
    b.scope = "outputs"
    for k, (name, i) in enumerate(zip(output_names, at)):
        b.nodes.append(proto.node("Identity", [outs[i]], [name], f"outputs/{name}"))
    element = proto.ELEM_TYPES[dtype]
    inputs = [proto.value_info(name, proto.ELEM_TYPES[np.dtype(d)], [_BATCH, *shape])
              for name, d, shape in zip(names, input_dtypes, shapes)] + b.extra_inputs
    outputs = [proto.value_info(name, element, [_BATCH, *out_shapes[i]]) for name, i in zip(output_names, at)]
    outputs += b.extra_outputs
    graph = proto.graph(model.name, b.nodes, b.initializers, inputs, outputs)
    return proto.model(graph, OPSET, IR_VERSION, glassnet.__version__)


def export(model, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
    """Write ``model`` to ``filepath`` as ONNX (``format="onnx"``); see the module docstring."""
    _check_options(format, verbose, input_signature, dict(kwargs))
    if not isinstance(filepath, (str, os.PathLike)):
        raise TypeError(f"export: filepath must be a str or os.PathLike, got {type(filepath).__name__}")
    if not model.built:
        raise ValueError(f"export: model {model.name!r} is not built yet: build it (an Input, "
                         "model.build(...), or its first data) before exporting")
    data = build_model_bytes(model)         # every refusal comes before the file is opened
    path = write_atomically(filepath, lambda f: f.write(data))
    if verbose:
        print(f"Saved ONNX model to {path} ({len(data)} bytes, opset {OPSET})")
    return None
