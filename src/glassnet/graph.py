"""The functional API: ``Model(inputs, outputs)``, a network whose layers form a graph (Keras').

    inputs = gn.Input((28, 28, 1))
    x = gn.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    y = gn.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = gn.layers.Add()([x, y])                       # a residual connection
    outputs = gn.layers.Dense(10, activation="softmax")(gn.layers.Flatten()(x))
    model = gn.Model(inputs, outputs)

Each call on an ``Input`` or on another call's result computes nothing: it returns a
``SymbolicTensor`` (layers/symbolic.py) that remembers the layer and what it was called on.
``Model`` walks those records back from the output to the inputs and keeps its calls in an order
where every call comes after the calls it reads (``_calls``: the layer of each; ``model.layers``
lists each layer once, in Keras 3.15's order: glassnet._layer_order), with, for each, where its inputs come from (``_inbound``: the indices of
those calls, -1 - j for the model's input j).

Everything else is the Sequential's: ``compile``, ``fit``, ``evaluate``, ``predict``, ``trace``,
``summary``, ``save``. Only the two walks differ. Forward, each layer reads its inputs' outputs;
backward, the gradient reaching a layer's output is the SUM of what each layer reading it sends
back (a residual block's input gets the block's gradient plus the shortcut's), and a merge layer
sends one gradient to each of its inputs.

Several inputs (``Model([a, b], outputs)``, fed ``[xa, xb]`` or a dict by name) travel packed in
one array per batch and are split into views where the graph starts (see ``Model``). Inputs given
as a dict (``Model({"a": a, "b": b}, outputs)``) are fed dicts by its keys: see glassnet._dictinputs.

A layer called more than once (shared weights: a siamese network's encoder) is listed once in
``model.layers``; the graph is of calls (``_calls``: the layer of each), and each call's forward
cache is kept apart for its backward, the layer's gradients summed over its calls. A call's own
arguments (``emb(h, reverse=True)``: ``Layer.call_arguments``) are kept per call and set on the
layer around that call's shapes and forward, so one layer may be called with each (a language
model's tied embedding, looked up and reversed).

A model called on a tensor (``base(inputs)``) makes its calls again there, with the same layers
(``Sequential._call_symbolic``): the new model shares their weights.

A subclass of Model with a ``call`` method (Keras' model subclassing) is drawn from its ``call``
on its first data (``Model._draw``), then is a functional Model like any other.

Several outputs (``Model(inputs, [a, b])``) travel packed too, their targets beside them: see
glassnet.outputs. Outputs given as a dict (``Model(inputs, {"score": s, "cls": c})``) are named by
its keys and given back as dicts: see glassnet._dictoutputs.

Masks go along the graph's edges (layers/masking.py, ``plan_graph_masks``). A recurrent layer's
``initial_state`` tensors are inputs of its call besides the sequence, and with
``return_state=True`` each last state is a ``LastState`` call reading the layer's output
(layers/readers.py). Texts come in as Sequential's do: one Input of texts, read by a
TextVectorization alone, as the first call (the model turns the texts into its ids before the
pass). Not here yet: texts beside other inputs; a shared layer that is stateful, returns its
states or has an activity_regularizer; each is refused by name. A shared layer may make an output
(a tied embedding's reverse call): the output layer is the call's, not the last of ``layers``
(``Sequential._output_layer``), and an output of several keeps its own call's logits (``Head.z``).
"""
import inspect
import math
import numbers

import numpy as np

from . import _block_masks as block_masks, _dead_calls as dead_calls, added_losses, backend, losses, optimizers
from . import _draw_sources as draw_sources
from . import _training_branch as training_branch
from ._flagless import TRUE_IF_UNSET, call_default, mark, unfixed, valid_mode
from . import metrics as metrics_module
from .step_metrics import lists_own_metrics
from ._validation import as_array, check_flag, NON_FINITE_TAKEN
from .layers.base import building, building_block, call_arguments_set, drawing_call, drawn_call, free_name, shape_fits, stateful_layers, take_shapeless_build
from .layers.input import InputLayer
from .layers.masking import plan_graph_masks
from .layers.readers import CallReader
from .feeding import unpack
from .layers.symbolic import SymbolicTensor, holds_symbolic, is_symbolic, not_an_input, replay, sample_shape_of, valid_call_option
from .callgraph import CallGraphMixin, shared_ids as _shared_ids
from ._dictinputs import check_config_keys, flat_inputs
from ._bounds import check_file_batch_size
from ._attr_variables import adopt as adopt_variables
from ._call_weights import UpdatedInCall, link as link_weights, through_weights
from ._layer_order import attribute_layers, glassnet_attribute_names, held_first, keras_layer_order
from ._dictoutputs import as_dict, check_config_outputs, flat_outputs
from ._nested_outputs import flat_nested, flatten_given, loss_prefixes, nest
from .model import Sequential, _keep_stream, defines_step, keras_compile_order_refused
from .model import runs_test_step as _runs_test_step       # (glassnet.own_steps reads it here)
from ._compile_order import loss_and_optimizer
from .outputs import Layout, as_given, make_heads, set_layouts
from ._output_models import output_models


def _inputs_through_identity(outputs):
    """``outputs`` of a drawn ``call`` with each Input returned as it came (Keras' identity layer:
    the subclassing guide's ActivityRegularizationLayer, ``add_loss`` then ``return inputs``) made
    the output of an ``Identity`` call: an Input is no layer's output, and a model needs one.
    Nested lists and tuples come back as lists (glassnet's outputs), a dict as a dict."""
    from .layers.utility import Identity
    if isinstance(outputs, InputLayer):
        return Identity()(outputs)
    if isinstance(outputs, (list, tuple)):
        return [_inputs_through_identity(t) for t in outputs]
    if isinstance(outputs, dict):
        return {key: _inputs_through_identity(t) for key, t in outputs.items()}
    return outputs


def _drawn_outputs(block, outputs):
    """The flat list of what ``block``'s call returned (``outputs``: a tensor, a dict of them,
    lists or tuples of them nested, as Keras 3.15's call returns): the dict's values, the lists'
    leaves in Keras' order (glassnet._nested_outputs); a list inside a dict, a dict inside a list
    or an empty list refused by name."""
    if isinstance(outputs, dict):
        inner = [key for key, t in outputs.items() if isinstance(t, (list, tuple, dict))]
        if inner:
            raise TypeError(f"{type(block).__name__}.call: returned a dict whose {inner[0]!r:.40} holds a "
                            f"{type(outputs[inner[0]]).__name__}; glassnet takes a dict of tensors, or lists of "
                            f"them nested (Keras takes any nesting)")
        return list(outputs.values())
    if isinstance(outputs, (list, tuple)):
        try:
            return flat_nested(outputs)[1]
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{type(block).__name__}.call: returned nested lists: {str(exc).removeprefix('Model: ')}") \
                from None
    return [outputs]


class _Required:
    """compile's ``loss`` when none is given: required, but for a model with its own train_step,
    whose step computes its losses itself (Keras' GAN calls ``super().compile()``)."""
    def __repr__(self):
        return "<required>"


_REQUIRED = _Required()

def _causal_flags(tensors):
    """``[(attention layer, its calls' use_causal_mask)]`` for the graph of ``tensors``: a layer's
    calls must agree (forward reads one flag per layer), and with a model made before that runs
    the layer with the other flag. Refused by name otherwise; nothing is changed here."""
    flags = {}
    for tensor in tensors:
        if "use_causal_mask" in tensor.options:
            layer, flag = tensor.layer, tensor.options["use_causal_mask"]
            earlier = flags.setdefault(id(layer), (layer, flag))[1]
            if earlier != flag:
                raise NotImplementedError(f"Model: {layer.describe()} is called with use_causal_mask={earlier} and "
                                          f"with {flag}; a layer called more than once takes one flag (give each "
                                          f"use its own layer)")
            if layer._drawn_causal is not None and layer._drawn_causal != flag:
                raise NotImplementedError(f"Model: {layer.describe()} runs with use_causal_mask={layer._drawn_causal} "
                                          f"in a model made before, and is called with {flag} here; give this "
                                          f"model a layer of its own")
    return list(flags.values())


def _dict_inputs(input_shapes):
    """The Inputs a subclass whose ``call`` takes a dict (Keras' ``model({"a": a, "b": b})``) is
    drawn on: one named by each key, of its shape (``(None, *sample shape)`` or the sample's), as a
    functional Model made from a dict of Inputs takes its data by those keys."""
    inputs = {}
    for key, shape in input_shapes.items():
        if not isinstance(key, str) or not isinstance(shape, (tuple, list)) or not all(
                d is None or isinstance(d, (int, np.integer)) for d in shape):
            raise ValueError(f"build: expected a dict of input shapes by name, {{name: (None, *sample shape)}}, got "
                             f"{key!r:.40}: {shape!r:.60}")
        inputs[key] = InputLayer(tuple(shape[1:]) if len(shape) > 1 and shape[0] is None else tuple(shape), name=key)
    return inputs


def _several_shapes(input_shape):
    """Whether ``input_shape`` is a list of shapes, one per input, rather than one shape."""
    return isinstance(input_shape, list) and bool(input_shape) and isinstance(input_shape[0], (tuple, list))


def _check_outputs(outputs, keys=None):
    """Refuse what ``Model`` cannot take as its outputs, by name (``keys``: a dict's, in the order
    of ``outputs``)."""
    if not outputs:
        raise ValueError("Model: outputs is empty; give the tensor(s) the model computes")
    for j, given in enumerate(outputs):
        label = f"outputs[{keys[j]!r}]" if keys else "outputs" if len(outputs) == 1 else f"outputs[{j}]"
        if isinstance(given, InputLayer):
            raise ValueError(f"Model: {label} is an Input itself: call at least one layer on it")
        if not isinstance(given, SymbolicTensor):
            raise TypeError(f"Model: {label} must be what a layer called on an Input returned, got "
                            f"{type(given).__name__}")
        if any(given is other for other in outputs[:j]):
            raise ValueError(f"Model: {label} is listed twice")


def _nested_ids(records):
    """The ids of the layers of ``records`` (``Nested``, glassnet._summary) and of those nested in them."""
    found = set()
    for record in records:
        found.update(id(layer) for layer in record.layers)
        found |= _nested_ids(record.children)
    return found


def _rename_clashes(layers, nested=frozenset()):
    """Name ``layers`` for one graph: a built layer whose name an earlier one has gets a name of
    its own (``dense_1``): two models nested in a new one (``base(inputs)``) each bring a
    ``dense``. Such a layer is the nested model's too, so it is renamed there as well (as a
    Sequential's nested layers are). Then each new layer (no name yet) gets one clear of every
    name the graph holds (a built layer later in the graph keeps its own), the new layers in the
    order they were made, as Keras names a layer when it is made. Layers not built yet keep a clash
    of names they were given (a Sequential's own names, ``dense_1``, are renamed as built layers'
    are), which ``_join`` refuses by name, unless the later one is a layer of a model nested here
    (``nested``: their ids), a block's or subclass' sub-layer too, whose name Keras keeps within that
    model (keras.io's decision forest: each tree's ``Dense(name="decision")``). Returns ``[(layer, old name, its old _auto_named)]``
    for the layers named here."""
    names, renamed = set(), []
    taken = {layer.name for layer in layers if layer.name is not None}

    def rename(layer):
        renamed.append((layer, layer.name, layer.__dict__.get("_auto_named")))
        layer.name = free_name(layer, taken)
        layer._auto_named = True
        taken.add(layer.name)

    for layer in layers:
        # (a name a model chose, dense_1, may be chosen again; one the user gave is theirs)
        if layer.name is not None and layer.name in names and (
                layer.built or layer.__dict__.get("_auto_named") or id(layer) in nested):
            rename(layer)
        names.add(layer.name)
    # in the order made, not the graph's: an encoder's Embedding made before the decoder's is
    # "embedding", as in Keras, though the graph lists the decoder's first (a layer that skipped
    # Layer.__init__ has no _made and keeps its place in the graph's order, after the others)
    for layer in sorted((layer for layer in layers if layer.name is None),
                        key=lambda layer: layer.__dict__.get("_made", math.inf)):
        rename(layer)
    return renamed


def _check_inputs(inputs):
    """Refuse what ``Model`` cannot take as its inputs, by name."""
    for j, given in enumerate(inputs):
        if not isinstance(given, InputLayer):
            raise not_an_input(f"inputs[{j}]", given)
        if any(given is other for other in inputs[:j]):
            raise ValueError(f"Model: inputs[{j}] is listed twice")
    if not inputs:
        raise ValueError("Model: inputs is empty; give the Input(s) the outputs were drawn from")
    # Inputs named by default clash ("input_layer" twice): as Keras, input_layer_1, _2, ... in the
    # inputs' order, so that dicts, summary and files tell them apart (a name given is kept)
    taken = {given.name for given in inputs}
    for given in inputs[1:]:
        if given.__dict__.get("_auto_named") and sum(other.name == given.name for other in inputs) > 1:
            k = 1
            while f"{given.name}_{k}" in taken:
                k += 1
            given.name = f"{given.name}_{k}"
            taken.add(given.name)


def _walk_back(outputs, stop=()):
    """The symbolic tensors the ``outputs`` depend on, each after those it reads (a depth-first
    walk from each output in turn that visits each tensor's inputs in their order; iterative, so
    that deep graphs need no recursion), and the Inputs it reaches. ``stop``: tensors where the
    walk ends as at an Input (a nested model's call, walked back to the tensors it was called on)."""
    order, sources, done, stop = [], [], set(), {id(tensor) for tensor in stop}
    stack = [(output, False) for output in reversed(outputs)]
    while stack:
        tensor, expanded = stack.pop()
        if id(tensor) in done:
            continue
        if isinstance(tensor, InputLayer) or id(tensor) in stop:
            done.add(id(tensor))
            sources.append(tensor)
        elif expanded:
            done.add(id(tensor))
            order.append(tensor)
        else:
            stack.append((tensor, True))
            stack.extend((parent, False) for parent in reversed(tensor.inputs) if id(parent) not in done)
    return order, sources


def held_weights(model, which="trainable_weights"):
    """The weights of the models and layers a model without ``call`` holds as attributes (in
    lists, tuples and dicts too), in the order assigned, each once: each held model's or layer's
    ``which`` (``"weights"``, ``"trainable_weights"`` or ``"non_trainable_weights"``: the arrays its
    layers compute with), none for one not built yet."""
    found, seen = [], set()

    def walk(value):
        if id(value) in seen:
            return
        if isinstance(value, (list, tuple, dict)):
            seen.add(id(value))
            for item in (value.values() if isinstance(value, dict) else value):
                walk(item)
        elif isinstance(value, Sequential):
            seen.add(id(value))
            if value.built or value.layers:
                found.extend(a for a in getattr(value, which) if id(a) not in seen and not seen.add(id(a)))
        elif hasattr(value, "describe") and hasattr(value, "params") and not isinstance(value, InputLayer):
            seen.add(id(value))
            found.extend(a for a in getattr(value, which) if id(a) not in seen and not seen.add(id(a)))

    skip = glassnet_attribute_names(model)
    for name, value in list(vars(model).items()):
        if name not in skip and not name.startswith("_"):
            walk(value)
    return found


def _check_own_spec(model, inputs):
    """Keras' ``input_spec`` of a block drawn from ``call`` (a ``gn.Layer`` subclass with ``call``,
    glassnet._call_layers), on the tensors it is drawn or called on: such a block is a Model, which
    Layer.__call__'s and call_symbolic's checks never see (its spec was silently ignored)."""
    if getattr(model, "input_spec", None) is not None and not isinstance(inputs, dict):
        from .layers.base import _check_spec
        _check_spec(model, inputs)


class Model(Sequential):
    """A network drawn as a graph of layer calls, from its ``Input``s to one output (Keras'
    functional ``Model``). See the module docstring.

    Parameters
    ----------
    inputs : InputLayer (``glassnet.Input(shape)``), or a list of them
        With several, ``fit``, ``evaluate`` and ``predict`` take a list of arrays in this order (or
        a dict by the Inputs' names), one per Input, the same number of samples in each. Or a dict
        ``{key: Input}``: data then comes as dicts by those keys (see glassnet._dictinputs).
    outputs : the SymbolicTensor a layer call returned, or a list of them (several outputs:
        see glassnet.outputs), or a dict of them by name (see glassnet._dictoutputs)
    name : str
    seed, dtype : as for ``Sequential``

    The model is built at once (its Inputs say the shapes). ``model.layers`` lists the layers in
    Keras 3.15's order (deepest first: glassnet._layer_order), which ``weights``, ``get_weights``
    and ``set_weights`` follow; ``summary()`` says where each layer's inputs come from.

    Several inputs travel as one array: each batch's inputs side by side, each sample's values
    flattened into one row of ``sum(prod(shape))`` numbers in the model's dtype, which is the
    sample shape the model keeps inside (``_sample_input_shape``; ``model.input_shape`` is Keras'
    list of the Inputs' shapes, batch axis first, and ``model.input_shapes`` each one's sample
    shape); the model splits each batch back into views of the Inputs' shapes. An Input of any
    length (``Input((None, 8))``, Keras' seq2seq tutorial's) puts the lengths of each packing at
    the start of its rows (``_open_sizes``), and the packed row's shape is then ``(None,)``. ``fit`` holds the
    packed copy of the data in the model's dtype besides the shuffled copy it makes of any data.

    A subclass of Model that defines ``call(self, inputs)`` (Keras' model subclassing) is made
    without inputs and outputs, ``super().__init__(seed=..., name=...)``, and drawn on its first
    data: ``call`` on Inputs of that data's shape gives the graph (``_draw``).

    Example
    -------
    >>> import glassnet as gn
    >>> inputs = gn.Input((4,))
    >>> hidden = gn.layers.Dense(4, activation="relu")(inputs)
    >>> outputs = gn.layers.Dense(1)(gn.layers.Add()([inputs, hidden]))
    >>> model = gn.Model(inputs, outputs, seed=0)
    >>> [layer.name for layer in model.layers], model._inbound
    (['dense', 'add', 'dense_1'], [[-1], [-1, 0], [1]])
    """
    _input_shapes = None        # with several Inputs: each one's sample shape, in order
    _text_readers = {}          # {j: the layer reading inputs[j], an Input of texts} (each graph sets its own)
    _text_inputs_drawn = True   # (Sequential._join: the graph checked each reader of texts)
    _deferred_compile = None    # a subclass compiled before it is drawn: compile's arguments
    _trainable_setting = None   # a subclass frozen (or not) before it is drawn: the flag for its layers
    _call_modes = _call_options = None      # each call's own mode and arguments (see _make_graph)
    _none_given = False     # called with training=None given (__call__)
    _nested_layers = ()         # an undrawn subclass called inside another model's draw: the layers it called
    _draws_call = True          # a subclass defining call is drawn from it (Sequential refuses one of its own)
    _own_build_ran = False      # a build of the subclass' own ran (it makes the layers call uses: once)
    _building_in_call = False   # that build running before call is drawn inside another model
    _output_keys = None         # outputs given as a dict: its keys, in the order given (glassnet._dictoutputs)
    _input_keys = None          # inputs given as a dict: its keys, in the order given (glassnet._dictinputs)
    # per output: the name of the model nested here whose call made it (Keras names that output
    # by it), None for an output a layer's call made. None: none (a model pickled before)
    _output_models = None
    # the layers in the order they joined (their first calls): their random streams' and the flat
    # buffer's order; model.layers is Keras' (glassnet._layer_order). None: the same as layers
    _join_order = None
    _input_places = None        # per Input: how many of model.layers Keras lists before it
    # its own Inputs and output tensors, set when it is drawn (_make_graph): plain attributes here,
    # not the properties a Sequential draws itself for (glassnet._sequential_tensors)
    inputs = outputs = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        take_shapeless_build(cls)       # Keras' build(self), called without a shape
        # (Sequential.__init_subclass__ reads the class's own steps: _own_steps, _own_tests, ...)

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        if cls is not Model and not cls.__module__.startswith("glassnet."):
            # the arguments a subclass of the user's was made with, when JSON values: Keras' auto
            # config, which a model file records to make the subclass again (glassnet._subclass_files)
            from ._subclass_files import capture
            self.__dict__["_auto_config"] = capture(cls, args, kwargs)
        return self

    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, autocast=True, regularizer=None,
                   constraint=None, aggregation="none", overwrite_with_gradient=False, name=None):
        """Keras' ``add_weight`` (its arguments, in its order) in a subclass drawn from ``call``, in
        ``build`` or ``__init__``: a weight of the model's own (``initializer`` "glorot_uniform" by
        default; ``trainable=False``: counted as non-trainable, never updated; ``regularizer`` and
        ``constraint`` as a layer's). Returns a handle that ``call`` uses with a tensor in ``+ - *
        /`` and ``ops.matmul``, ``ops.maximum``, ``ops.minimum`` (indexed first too, ``w[:5]``),
        whose nodes read its value at each pass and train it (see glassnet._call_weights)."""
        from ._call_weights import add_weight
        return add_weight(self, shape, initializer, dtype, trainable, regularizer, constraint, name,
                          autocast=autocast, aggregation=aggregation, overwrite_with_gradient=overwrite_with_gradient)

    def __init__(self, inputs=None, outputs=None, name=None, seed=None, dtype=None):
        subclassed = inputs is None and outputs is None
        # (attributes a subclass set before calling this: its own; but the arguments __new__ kept)
        given = set(self.__dict__) - {"_auto_config"}
        self._functional = not subclassed       # (read by _default_name)
        super().__init__(seed=seed, dtype=dtype, name=name)
        self._empty_graph()
        # the attributes set so far are glassnet's: a subclass' layers are those it assigns itself,
        # in that order (Keras' order of its layers and weights: glassnet._layer_order)
        self._glassnet_attributes = frozenset(self.__dict__) - given
        if subclassed:
            # with its own train_step (Keras' GAN) a subclass needs no call: its step steps sub-models
            if not defines_step(type(self), "train_step") and not callable(getattr(self, "call", None)):
                raise TypeError("Model: give its inputs and outputs, Model(inputs, outputs), or subclass Model and "
                                "define call(self, inputs)")
            return              # drawn by build, on the first data (see _draw)
        if inputs is None or outputs is None:
            raise TypeError(f"Model: give both inputs and outputs, got {'inputs' if outputs is None else 'outputs'} only")
        # a subclass given its graph (Keras' CustomModel(inputs, outputs)) with a train_step alone
        # evaluates as one with call does, by the compiled loss and metrics (Keras' default
        # test_step): its class, which has no call, would send evaluate to a test_step it has not
        self._own_tests = _runs_test_step(type(self))
        self._make_graph(inputs, outputs)

    def _empty_graph(self):
        """The graph of a model not drawn yet (a subclass of Model, until ``build``)."""
        self._graph, self._calls, self._shared, self.inputs, self.outputs = [], [], set(), [], []
        self._text_readers = {}
        self._outputs_at, self._heads, self._walked, self._call_caches, self._input_names = [], None, None, {}, []
        self._shared_outputs = {}
        self._loss_terms = None
        self._nesting = ()
        self._output_keys = self._input_keys = self._output_models = None
        self._join_order = self._input_places = None
        self._forget_skips()

    def _make_graph(self, inputs, outputs, first=()):
        """Take the graph from ``inputs`` to ``outputs`` (see the class docstring) and build.
        ``first``: layers that ``layers`` lists first, in that order (a subclass' attributes)."""
        input_keys = None   # inputs as a dict: its keys as given (glassnet._dictinputs)
        if isinstance(inputs, dict):
            input_keys, inputs = flat_inputs(inputs)
        keys = None         # outputs as a dict: its keys as given (glassnet._dictoutputs)
        if isinstance(outputs, dict):
            keys, outputs = flat_outputs(outputs)
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        # nested lists, Model(x, [a, [b, c], d]): flat inside, nested where given back (glassnet._nested_outputs)
        nesting, outputs = flat_nested(outputs) if keys is None else (None, outputs)
        _check_inputs(inputs)
        _check_outputs(outputs, None if keys is None else sorted(keys))
        tensors, sources = _walk_back(outputs)
        # add_loss terms drawn in the calls that made these tensors: the calls they read join the graph
        # (a subclass' in Keras' order: its own, then its sublayers')
        order = (lambda terms: added_losses.keras_order(self, terms)) if self._subclass() else None
        terms, tensors = added_losses.drawn_terms(tensors, sources, outputs, _walk_back, order)
        # a block's calls reaching no output: they join too (glassnet._dead_calls)
        tensors = dead_calls.joined(tensors, _walk_back)
        other = [source for source in sources if not any(source is given for given in inputs)]
        if other:       # (every walk back ends at some Input: that is where tensors start)
            raise ValueError(f"Model: the outputs depend on an Input that is not among the model's inputs, "
                             f"{other[0]!r} (name {other[0].name!r}); list it in inputs")
        calls = [tensor.layer for tensor in tensors]            # the layer of each call, in order
        layers = list({id(layer): layer for layer in calls}.values())     # each once, at its first call
        shared = _shared_ids(calls)
        index = {id(tensor): k for k, tensor in enumerate(tensors)}
        for tensor in tensors:      # a call reading another's values (layers/readers.py)
            if isinstance(tensor.layer, CallReader):
                tensor.layer.bind_call(tensor.inputs[0])
                if id(tensor.layer.source) in shared:
                    raise NotImplementedError(f"Model: {tensor.layer.source.describe()} is called more than once and "
                                              f"returns {tensor.layer.returns} too; give each call a layer of its own")
        # each Input of texts is read by one layer that turns them into numbers (TextVectorization,
        # StringLookup, Hashing), called once, on it alone: the model hands that layer the texts
        # (its encode), then packs the numbers it makes as that Input's values
        self._text_readers = {}
        for j, given in enumerate(inputs):
            readers = [t.layer for t in tensors if any(p is given for p in t.inputs)]
            if given.dtype == "string" and not readers:
                # an Input of numbers no layer reads is taken, as Keras takes it, and its data
                # ignored; texts would first have to become numbers, which only a reader makes
                raise ValueError(f"Model: inputs[{j}] ({given!r}, name {given.name!r}) is an Input of texts "
                                 f"that does not lead to the outputs: no layer turns its texts into numbers; "
                                 f"leave it out of inputs")
            if given.dtype == "string":
                self._text_readers[j] = readers[0]
        for layer in layers:
            reads = [j for j, reader in self._text_readers.items() if reader is layer]
            if getattr(layer, "takes_text", False) and not (
                    reads and calls.count(layer) == 1
                    and [t.layer for t in tensors if any(p is inputs[reads[0]] for p in t.inputs)] == [layer]):
                raise NotImplementedError(f"Model: {layer.describe()} turns texts into numbers, which a functional "
                                          f"Model takes as the one call on an Input of texts (dtype='string'), "
                                          f"that Input read by it alone (Hashing's integer codes too: declare "
                                          f"their Input with dtype='string' and give it the codes)")
        for layer in layers:
            if id(layer) in shared:
                refusal = ("has an activity_regularizer, whose penalty per call is not supported yet"
                           if layer.activity_regularizer is not None else
                           "is stateful" if stateful_layers([layer]) else None)
                if refusal:
                    # a call testing training calls each of its layers in both of its draws
                    # (glassnet._training_branch): say so, its source showing the layer called once
                    from .layers.training_switch import TrainingSwitch
                    why = ("" if not any(isinstance(other, TrainingSwitch) for other in layers) else
                           " (a call that tests training is drawn twice, with training=True and False, so "
                           "each layer it calls is called in both draws)")
                    raise NotImplementedError(f"Model: {layer.describe()} is called more than once and "
                                              f"{refusal}{why}")
        # a call's sources: an earlier call's index, or -1 - j for inputs[j] (-1 for the only one)
        index.update({id(given): -1 - j for j, given in enumerate(inputs)})
        self._graph = [[index[id(parent)] for parent in tensor.inputs] for tensor in tensors]
        # each call's own mode (layer(x, training=False)) and arguments (an attention layer's
        # use_causal_mask), None where it has none: kept with the graph, in configs and files
        modes = [tensor.training for tensor in tensors]
        self._call_modes = None if all(mode is None for mode in modes) else modes
        options = [tensor.options or None for tensor in tensors]
        self._call_options = None if all(option is None for option in options) else options
        causal = _causal_flags(tensors)
        self._calls, self._shared = calls, shared
        self._loss_terms = added_losses.Terms(terms, index) if terms else None
        # the models called in the graph (base(x)), each once, as summary shows them
        self._nesting = list({t.nested_in.key: t.nested_in for t in tensors if t.nested_in is not None}.values())
        self.inputs, self.outputs = list(inputs), list(outputs)     # Keras' names, for drawing sub-models
        self._outputs_at = [index[id(tensor)] for tensor in outputs]
        self._output_keys, self._input_keys = keys, input_keys
        if nesting is not None or "_keras_output_nesting" in self.__dict__:
            self._keras_output_nesting = nesting
        # an output a nested model's call made goes by that model's name (the outermost called
        # here), as Keras 3.15 names an output by its node's operation: Model(x, inner(x)) ->
        # ["inner"], not the name of inner's last layer (glassnet._output_models)
        self._output_models = output_models(outputs)
        # _heads: several outputs (glassnet.outputs); _call_caches: a shared layer's forward cache
        # of each call (see _walk)
        self._input_names = [given.name for given in inputs]
        if len(inputs) > 1:
            # an Input of texts holds, once packed, the numbers its reader makes of them
            self._input_shapes = [tuple(self._text_readers[j].ids_shape()) if j in self._text_readers
                                  else tuple(given.sample_shape) for j, given in enumerate(inputs)]
            # the packed row: a fixed number of values, or any (None) when an Input has an open axis
            shape = (None,) if self._open_sizes() else (sum(math.prod(s) for s in self._input_shapes),)
        else:
            shape = inputs[0].sample_shape
        # a layer of another model (a sub-model drawn from model.get_layer(...).output, a seeded
        # Sequential called here, built or not) keeps drawing from the generator it has there, so
        # that the other model's Dropout runs as before, when that model's seed made it, and as a
        # Sequential nesting that model keeps it (Sequential._add_layers): the same network drawn
        # either way runs the same; one from an unseeded model (or the OS's, a layer built alone)
        # takes this model's stream, so that this model's seed fixes the run
        # (with its origin, which this model's config records: glassnet._seeding)
        kept = [(layer, layer.rng, layer.__dict__.get("_stream_origin")) for layer in layers
                if layer.rng is not None and layer.__dict__.get("_rng_from_seed")]
        renamed = _rename_clashes(layers, _nested_ids(self._nesting))
        joined = []
        try:
            for layer in layers:
                joined.append(self._join(layer))
            # the layers joined (named, given their random streams) in the order of their first
            # calls, as glassnet always did: each seeded layer draws what it drew before, and the
            # flat buffer of trained weights (an optimizer's state, in model files) keeps its
            # layout. model.layers, and so the weights' lists, take Keras' order
            # (glassnet._layer_order): a port's set_weights(keras_model.get_weights()) fits
            self._join_order = list(self.layers)
            self.layers[:], self._input_places = keras_layer_order(inputs, outputs, layers, first)
            if len(outputs) > 1:        # each output's columns in the packed outputs (glassnet.outputs)
                self._heads = make_heads([tensor.layer for tensor in outputs], self._outputs_at,
                                         [tensor.shape[1:] for tensor in outputs], None if keys is None else sorted(keys),
                                         self._output_models)
                self._shared_outputs = {head.call: head for head in self._heads if id(head.layer) in shared}
            self._declared_input = shape
            self._build_samples(shape)
            for layer, rng, origin in kept:
                _keep_stream(layer, rng, origin)
            for layer, flag in causal:          # what this model's passes run with
                layer._drawn_causal = flag
        except BaseException as exc:
            self._unjoin(joined)            # the layers as they were: they joined no model
            for layer, name, auto in renamed:
                layer.name = name
                if auto is None:
                    layer.__dict__.pop("_auto_named", None)
            self._empty_graph()
            self._heads = self._input_shapes = self._declared_input = self._output_keys = None
            self._output_models = None
            if isinstance(exc, ValueError) and str(exc).startswith("add: "):    # _join's word for a Sequential's step
                raise ValueError("Model: " + str(exc)[5:]) from None
            raise

    def _draw_symbolic(self):
        pass            # its tensors are those it was drawn from (a Sequential draws its own at build)

    def build(self, input_shape):
        """A Model is built when it is made (its Inputs fix the shapes): ``build`` with those shapes
        (Keras' form, ``(None, *shape)``, or a list of them, one per Input) does nothing; any other
        is refused. A subclass of Model is drawn here, its first time: ``call`` on Inputs of
        ``input_shape`` (see ``_draw``)."""
        if not self._calls:         # (not self.built: a build of its own may set Keras' built = True first)
            if self._building_in_call:      # its super().build(...) there: the other model draws call
                return None
            if type(self).build is not Model.build:
                return self._build_from_own(input_shape)
            return self._draw(input_shape)
        given = input_shape if _several_shapes(input_shape) else [input_shape]
        # Keras' form: the Inputs as declared (an Input of strings (None, 1), not its reader's width)
        wanted = [(None, *shape) for shape in self._declared_input_shapes()]
        # Keras' batch axis first, None or a size (Keras 3.15 takes build((16, 5)) for Input((5,)))
        batched = [tuple(s) for s in given]
        batched = [(None, *s[1:]) if s and (s[0] is None or isinstance(s[0], (int, np.integer))) else s
                   for s in batched]
        if batched != wanted and [(None, *tuple(s)) for s in given] != wanted:
            raise ValueError(f"build: this Model was built for its Inputs, {wanted if len(wanted) > 1 else wanted[0]}, "
                             f"when it was made; got {input_shape!r:.80}")

    @property
    def trainable(self):
        if not self._calls and self._subclass():        # not drawn yet: its layers in another model, or its flag
            if self._nested_layers:
                return all(layer.trainable for layer in self._nested_layers)
            return True if self._trainable_setting is None else self._trainable_setting
        return Sequential.trainable.fget(self)

    @trainable.setter
    def trainable(self, value):
        Sequential.trainable.fset(self, value)              # (checks the flag; no layers yet, if not drawn)
        if not self._calls and self._subclass():
            self._trainable_setting = value                  # for its layers, once they are known (_draw)
            for layer in self._nested_layers:               # those it has in the models it was called in
                layer.trainable = value

    def _default_name(self):
        # Keras' Model(inputs, outputs) is a Functional: "functional", "functional_1", ...; a
        # subclass (MyCNNModel), and Model() without inputs, the class's name: "my_cnn_model"
        return "functional" if type(self) is Model and self._functional else type(self).__name__

    def _subclass(self):
        """Whether this is a subclass of Model drawn by its ``call`` (Keras' model subclassing)."""
        return callable(getattr(self, "call", None))

    def _require_built(self, what):
        if not self._calls and not self._subclass():
            # a model with its own train_step and no call (Keras' GAN): "not built yet, give the
            # first layer input_dim" would send its user the wrong way
            # weights, trainable_weights, non_trainable_weights are lists: the hint must not call them
            use = f"gan.generator.{what}" if isinstance(getattr(type(self), what, None), property) else (
                f"gan.generator.{what}()")
            raise ValueError(f"{what}: {type(self).__name__} has no call, so no layers of its own (its train_step "
                             f"steps sub-models); use its sub-models ({use})")
        super()._require_built(what)

    def count_params(self):
        """Every weight of every layer (see ``Sequential.count_params``). A model without call
        (Keras' GAN) has no layers of its own, its weights are its sub-models': refused, not 0."""
        if not self._calls and not self._subclass():
            self._require_built("count_params")
        if self._held_elsewhere():
            return sum(layer.count_params() for layer in self._nested_layers)
        return super().count_params()

    # -- a block drawn only inside other models ----------------------------------------------------
    # A subclass (a gn.Layer with call) called while another model was drawn has no graph of its
    # own: its layers joined that model. Keras' block has its weights once that model is built
    # (model.layers[1].get_weights(), block.set_weights(...)); so has this one, those layers' weights
    # in Keras' order (held_first), rather than "not built yet" with a model built around it.
    def _held_elsewhere(self):
        return not self._calls and bool(self._nested_layers)

    @property
    def built(self):
        """Keras' ``built``: set once built (``Sequential``); for a block called only inside other
        models (``_held_elsewhere``), True once those models built its layers, as Keras' block is
        built by the model it is called in."""
        if self._held_elsewhere():
            return all(layer.built for layer in self._nested_layers)
        return self.__dict__.get("_built", False)

    @built.setter
    def built(self, value):
        self.__dict__["_built"] = value

    def _layers_now(self):
        """The layers whose weights a subclass not drawn yet has: its layers in the models it was
        called in (``_held_elsewhere``); else, for a block that made weights in ``__init__``
        (Keras makes ``add_weight``'s there at once: glassnet._call_weights, made now), those and
        any layer it built itself. None for any other (not built yet: refused as before)."""
        if self._held_elsewhere():
            return self._nested_layers
        if self._calls or not self._subclass():
            return None
        adopt_variables(self)       # (gn.Variables set in __init__: Keras' are weights at once)
        if vars(self).get("_call_weights") is None:
            return None
        self._call_weights.make_now()
        return [layer for layer in attribute_layers(self, glassnet_attribute_names(self)) if layer.built]

    def _weight_items(self):
        held = self._layers_now()
        if held is not None:
            return [(f"{layer.name}/{name}", a) for layer in held for name, a in layer._weight_items()]
        return super()._weight_items()

    @property
    def weights(self):
        if self._layers_now() is not None:
            return [a for _, a in self._weight_items()]
        if not self._calls and not self._subclass():       # no call: its sub-models' (trainable_weights)
            return held_weights(self, "weights")
        return Sequential.weights.fget(self)

    @property
    def trainable_weights(self):
        held = self._layers_now()
        if held is not None:      # (its layers' flags as they are now, Keras' live lists)
            return [a for layer in held if layer.trainable for a in layer.params.values()]
        if not self._calls and not self._subclass():
            # no call (Keras' VAE, its GAN): the weights of the models and layers it holds, which
            # its train_step's GradientTape differentiates and its optimizer steps (Keras' tracking)
            return held_weights(self)
        return Sequential.trainable_weights.fget(self)

    @property
    def non_trainable_weights(self):
        if self._layers_now() is not None:
            trained = {id(a) for a in self.trainable_weights}
            return [a for a in self.weights if id(a) not in trained]
        if not self._calls and not self._subclass():       # no call: its sub-models' (trainable_weights)
            return held_weights(self, "non_trainable_weights")
        return Sequential.non_trainable_weights.fget(self)

    def _require_compiled(self, what):
        if not self._calls and not self._subclass():
            # the same model, compiled by super().compile(): trace, and train_on_batch and
            # test_on_batch inside its own step (from outside they run the step: glassnet._own_batch),
            # run glassnet's compiled step on the model's own layers, and "call compile() first"
            # would be untrue
            raise ValueError(f"{what}: {type(self).__name__} has no call, so no layers of its own to step (its "
                             f"train_step steps sub-models); call fit, which runs train_step, or the sub-models' "
                             f"{what} (gan.discriminator.{what}(x, y))")
        if self._own_steps and lists_own_metrics(self):
            # glassnet's compiled step reads model.metrics as compile's (name, metric) pairs: a class
            # listing its own trackers there (Keras' guide's lower-level example) failed inside it,
            # "cannot unpack non-iterable Mean object"
            raise TypeError(f"{what}: {type(self).__name__} lists its own metrics (@property def metrics), where "
                            f"glassnet's compiled step keeps compile's; drop the property and hold the trackers "
                            f"as attributes (fit resets them each epoch, as Keras 3 tracks them), or step a "
                            f"sub-model's {what}")
        super()._require_compiled(what)

    def _symbolic_call(self, inputs, arguments=None, training=None):
        """``call`` on symbolic ``inputs`` (Inputs, or other layers' outputs when this model is
        called inside another's draw): its outputs, checked. Whatever it raises, the layers it
        called keep no record of the failed call (``layer.output``). ``arguments``: a call of
        several arguments (glassnet._block_arguments.BlockCall), whose tensors ``inputs`` lists.
        ``training``: the flag ``call`` is given (the block's own, ``block(x, training=False)``);
        None for a ``call`` that tests it draws it twice, with True and with False, and each output
        runs the draw of its pass's mode (glassnet._training_branch)."""
        _check_own_spec(self, inputs)
        if training is None and training_branch.branches(self):
            return training_branch.draw_both(
                lambda flag: self._symbolic_call_once(inputs, arguments, flag, branching=True), inputs, _walk_back)
        return self._symbolic_call_once(inputs, arguments, training)

    def _symbolic_call_once(self, inputs, arguments, training, branching=False):
        """``call`` drawn once, given ``training`` (see ``_symbolic_call``)."""
        kept = [(layer, layer.__dict__.get("_first_call")) for layer in self._attribute_layers()]
        adopt_variables(self)       # gn.Variables among its attributes: weights of its own, as Keras tracks them
        try:
            parameters = inspect.signature(self.call).parameters
            # (draw_sources: what glassnet.random's draws of shape (batch, ...) take the batch size from)
            with drawing_call(type(self).__name__), added_losses.recording() as added, \
                    dead_calls.recording() as made, draw_sources.drawing_on(inputs):
                # its own weights' node (add_weight: glassnet._call_weights) first, on each input
                given, inputs = inputs, through_weights(self, inputs)
                extra = {"training": training} if "training" in parameters else {}
                if arguments is None:
                    # Keras' masks: call's mask argument, compute_mask's on the outputs (glassnet._block_masks)
                    outputs = block_masks.draw(self, given, lambda **masks: self.call(inputs, **extra, **masks))
                else:
                    bound = arguments.bound
                    bound.arguments.update(zip(arguments.tensor_names, inputs), **extra)
                    outputs = block_masks.draw(self, arguments.first, lambda **masks: self.call(
                        *bound.args, **{**bound.kwargs, **masks}), arguments)
                    given = arguments.sources
            outputs = _inputs_through_identity(outputs)
            # a tensor, a dict of them or nested lists (Model(x, outputs)'s forms: glassnet._nested_outputs)
            drawn = _drawn_outputs(self, outputs)
            # (a list of what is not a tensor: a call without return gives None, which is no tensor either)
            bad = [t for t in drawn if not isinstance(t, SymbolicTensor)]
            if bad or not drawn:
                got = type(bad[0]).__name__ if bad else "an empty list"
                raise TypeError(f"{type(self).__name__}.call: drawn on symbolic inputs, it must return what its "
                                f"layers returned (a tensor or a list of them), got {got}; compute it in "
                                f"call with layers, operators on tensors and glassnet.ops"
                                f"{added_losses.output_note(bad[0] if bad else None)}")
            if branching and added.terms:       # each draw's terms are added at every pass, read in both modes
                raise NotImplementedError(f"{type(self).__name__}.call: branches on training and calls add_loss; "
                                          f"glassnet draws such a call twice (training=True and False) and adds "
                                          f"each draw's terms at every pass, in both modes (the penalty would count "
                                          f"twice): add it outside the branching block")
            added_losses.attach(added.terms, drawn)
            # calls whose results reach no output: kept, as Keras keeps their layers (glassnet._dead_calls)
            sources = list(given.values()) if isinstance(given, dict) else list(given) if isinstance(
                given, (list, tuple)) else [given]
            dead_calls.attach(made.calls, drawn, [t for t in sources if is_symbolic(t)], _walk_back)
        except BaseException:
            for layer, first in kept:
                if first is None:
                    layer.__dict__.pop("_first_call", None)
                else:
                    layer.__dict__["_first_call"] = first
            raise
        return outputs

    def _attribute_layers(self):
        """The layers this model holds as attributes (in lists, tuples and dicts too, nested, as Keras
        tracks them), and those of the models it holds."""
        found, stack = {}, [self]
        while stack:
            owner = stack.pop()
            items, seen = list(vars(owner).values()), set()
            while items:
                item = items.pop()
                if isinstance(item, (list, tuple, dict)):
                    if id(item) not in seen:        # (a list holding itself)
                        seen.add(id(item))
                        items.extend(item.values() if isinstance(item, dict) else item)
                elif isinstance(item, Sequential) and id(item) not in found:
                    found[id(item)] = None
                    stack.append(item)
                    for layer in item.layers:
                        found.setdefault(id(layer), layer)
                elif hasattr(item, "describe") and hasattr(item, "params"):
                    found.setdefault(id(item), item)
        return [layer for layer in found.values() if layer is not None]

    def _draw(self, input_shape):
        """A subclass of Model, drawn: its ``call`` on ``Input``s of ``input_shape`` (one sample's
        shape, or Keras' ``(None, *shape)``; a list of them for a ``call`` taking a list of inputs)
        gives the graph, taken as ``Model(inputs, outputs)`` takes it. ``call`` runs once, here, on
        symbolic tensors: it may only call layers (and models), as a functional model is drawn; a
        ``call`` that tests ``training`` is drawn twice, its pass's draw run (glassnet._training_branch)."""
        if not self._subclass():        # a model with its own train_step and no call (Keras' GAN)
            raise TypeError(f"{type(self).__name__}: has no call, so it cannot run on data (predict, build, "
                            f"calling it); define call(self, inputs), or use its sub-models (Keras' GAN: "
                            f"gan.generator.predict(noise))")
        if isinstance(input_shape, dict) and input_shape:
            drawn_on = _dict_inputs(input_shape)        # call takes the dict of them
        else:
            several = _several_shapes(input_shape)
            shapes = input_shape if several else [input_shape]
            if not all(isinstance(shape, (tuple, list)) and all(d is None or isinstance(d, (int, np.integer))
                                                                for d in shape) for shape in shapes):
                raise ValueError(f"build: expected the shape of the inputs, (None, *sample shape) (a list of them for "
                                 f"a call taking several inputs, a dict of them by name for one taking a dict), got "
                                 f"{input_shape!r:.80}")
            shapes = [tuple(shape[1:]) if len(shape) > 1 and shape[0] is None else tuple(shape) for shape in shapes]
            inputs = [InputLayer(shape, name="input_layer" if j == 0 else f"input_layer_{j}")
                      for j, shape in enumerate(shapes)]
            drawn_on = inputs if several else inputs[0]
        outputs = self._symbolic_call(drawn_on)
        # Keras lists a subclass' layers in the order its __init__ assigned them (its tracking)
        self._make_graph(drawn_on, outputs, first=attribute_layers(self, glassnet_attribute_names(self)))
        if self._trainable_setting is not None:
            Sequential.trainable.fset(self, self._trainable_setting)
            self._trainable_setting = None
        if self._deferred_compile is not None:
            deferred, self._deferred_compile = self._deferred_compile, None
            try:
                # glassnet's compile, not a subclass' override: that ran when it was called (the
                # saving guide's ModelWithCustomCompile.compile(optimizer, loss_fn, metrics), whose
                # own parameters a replay by glassnet's keywords failed on) and reached this one
                Model.compile(self, optimizer=self.optimizer, **deferred)
            except (TypeError, ValueError, NotImplementedError) as exc:
                raise type(exc)(f"{exc} (the compile given before {type(self).__name__} was drawn; it is dropped: "
                                f"compile the model again)") from exc

    def _call_symbolic(self, x, training=None):
        if training is not None:
            training = check_flag(training, "training")
        if not isinstance(x, dict):
            _check_own_spec(self, list(x) if isinstance(x, (list, tuple)) else x)
        # (a dict of tensors by name, Keras' structured-data inputs, is handed to call as it is)
        tensor_dict = isinstance(x, dict) and bool(x) and all(
            is_symbolic(t) and not isinstance(t, (list, tuple)) for t in x.values())
        if not self._calls and self._subclass() and isinstance(x, dict) and not tensor_dict:
            # a dict holding a tensor among arrays, lists or dicts: _tensors_by_key would name the keys
            # of a model not drawn yet, none; name the first value that is not one tensor
            key, value = next((key, value) for key, value in x.items()
                              if not is_symbolic(value) or isinstance(value, (list, tuple)))
            raise TypeError(f"model {self.name!r}: called on a dict while a functional Model is drawn, each value "
                            f"must be one symbolic tensor (an Input or a layer's output; not an array, a list or "
                            f"a dict); got {key!r:.60}: {value!r:.80}")
        if not self._calls and self._subclass() and (is_symbolic(x) or tensor_dict):
            # a subclass not drawn yet, called while another model is drawn: its call runs there, on
            # these tensors, so that its layers join that model and are built by it (its seed, its
            # dtype); this model itself stays to be drawn (it shares those layers when it is)
            sources = list(x) if isinstance(x, (list, tuple)) else list(x.values()) if tensor_dict else [x]
            if type(self).build is not Model.build and not self._own_build_ran:
                # a build of its own that makes the layers call uses (keras.io's Involution): Keras
                # builds a layer on its first call's shapes, (None, *sample shape), before calling it
                shapes = [(None, *sample_shape_of(t)) for t in sources]
                self._own_build(shapes if isinstance(x, (list, tuple)) else shapes[0])
            outputs = self._symbolic_call(list(x) if isinstance(x, (list, tuple)) else x, training=training)
            return self._drawn_inline(outputs, sources, training)
        if isinstance(x, dict):
            x = self._tensors_by_key(x)
        if self._subclass() and block_masks.is_masked_block(self) and any(
                block_masks.carries_mask(t) for t in (x if isinstance(x, (list, tuple)) else [x])):
            # its graph, drawn on Inputs of its own, has no place for a mask: call would get None
            raise NotImplementedError(f"{type(self).__name__}: was drawn on its own (on Inputs without masks) and is "
                                      f"now called on a tensor carrying a mask, which its drawn call would never "
                                      f"see; call a new {type(self).__name__}() there (a block is drawn where it is "
                                      f"first called), or use this one on data alone")
        return super()._call_symbolic(x, training)

    def _build_from_own(self, input_shape):
        """``super().build(input_shape)`` in a build of the subclass' own: call is drawn now. A build
        calling it first, before it sets what call reads (the saving guide's ``build(self,
        input_shape, layer_init)``: ``self.w = self.add_weight(...)`` after it), leaves the draw to
        the block's first call, as Keras' Layer.build only marks the layer built; that build ran, so
        it is not run again there (which could not give it arguments of its own)."""
        try:
            return self._draw(input_shape)
        except AttributeError:      # call reads what the rest of this build sets: drawn at the first call
            self._own_build_ran = True
            return None

    def _own_build(self, *args, **kwargs):
        """A build of the subclass' own, run once before its call is drawn inside another model."""
        self._own_build_ran = self._building_in_call = True
        try:
            # its weights read as values there (glassnet.variables), as Keras'; the layers it builds named
            # below it in their Keras paths (glassnet.parameters.record_build_path)
            with building_block(), building(self):
                self.build(*args, **kwargs)
        finally:
            self._building_in_call = False

    def _drawn_inline(self, outputs, sources, training):
        """``outputs`` of this subclass' call drawn inside another model on ``sources`` (the
        tensors it was given, in Keras' node order): its calls marked as one nested model's (its
        summary row, its layers' order) and run in ``training``'s mode where given."""
        flat = _drawn_outputs(self, outputs)        # (a dict or nested lists: their tensors)
        made, _ = _walk_back(flat, stop=sources)
        made = made + [t for t in dead_calls.carried(made) if all(t is not m for m in made)]
        # its layers as Keras lists a subclass': by its attributes (then any other it called)
        self._nested_layers = held_first(self, list({id(t.layer): t.layer for t in made}.values()))
        from ._summary import Nested, key_of, kind_of
        # one row in the summary of the model drawn; the models its call called, rows under it
        children = {t.nested_in.key: t.nested_in for t in made if t.nested_in is not None}
        nested = Nested(self.name, kind_of(self), self._nested_layers, children.values(), key=key_of(self),
                        outputs=[t.layer for t in flat])
        nested.called_on = tuple(sources)       # (where its Keras node sits: glassnet._layer_order)
        for tensor in made:
            tensor.nested_in = nested
        if training is not None:
            for tensor in made:
                if unfixed(tensor.training):        # sub(x, training=False): every call
                    tensor.training = training
        elif not self._none_given and call_default(self)[1] is True:
            # given no flag, a call defaulting to training=True trains its calls in a pass given none
            # (model(x)), as Keras resolves their flag from the block's default (glassnet._flagless)
            mark(made)
        if self._trainable_setting is not None:          # frozen before: its layers are
            for layer in self._nested_layers:
                layer.trainable = self._trainable_setting
        return outputs

    def __call__(self, *args, **kwargs):
        """``model(x)`` (Model.__call__), or, for a subclass drawn from ``call`` called inside a model
        being drawn, ``block(x, encoder_outputs, key=k, rate=0.5)``: several arguments, tensors and
        others, bound to its ``call`` as Keras binds them (glassnet._block_arguments)."""
        from . import _block_arguments as block_arguments
        if not self._subclass() or block_arguments.is_one_argument(args, kwargs):
            # training=None given, not left out: Keras hands None to call, which then runs its
            # calls in inference (they are not marked: glassnet._flagless), not with call's default
            self._none_given = kwargs.get("training", False) is None
            try:
                return super().__call__(*args, **kwargs)
            except UpdatedInCall:
                # its call updates a weight (Keras' ComputeSum), which no drawn graph repeats: called
                # alone on arrays, it runs eagerly, as Keras runs it (glassnet._call_weights)
                if self._calls or holds_symbolic(args) or holds_symbolic(kwargs) or drawn_call() is not None:
                    raise
                from ._call_weights import run_eagerly
                return run_eagerly(self, args, kwargs)
            finally:
                self._none_given = False
        if not (holds_symbolic(args) or holds_symbolic(kwargs)):
            raise NotImplementedError(f"{type(self).__name__}: called on data with several arguments "
                                      f"({len(args)} by position, {sorted(kwargs)} by keyword); glassnet draws a "
                                      f"block of several arguments inside a model: call it on Inputs there "
                                      f"(gn.Model([x, y], block(x, y))) and predict with that model")
        call = block_arguments.bind(self, args, kwargs)
        if self._calls:
            raise NotImplementedError(f"{type(self).__name__}: was drawn on its own (build, predict, fit) and is now "
                                      f"called with several arguments; a block of several arguments is drawn where "
                                      f"it is first called: call a new {type(self).__name__}() there")
        if type(self).build is not Model.build and not self._own_build_ran:
            build_args, build_kwargs = block_arguments.build_shapes(call)      # Keras' build(**shapes)
            self._own_build(*build_args, **build_kwargs)
        tensors = call.tensors()
        outputs = self._symbolic_call(tensors, call, training=call.training)
        return self._drawn_inline(outputs, call.sources, call.training)

    def _tensors_by_key(self, x):
        """A dict of tensors this model is called on, as the list of them in the order of its
        inputs: by the keys of its inputs dict (or, for inputs given as a list, the Inputs' names)."""
        keys = self._feed_keys()
        missing = [key for key in keys if key not in x]
        if missing or not self._calls:
            raise TypeError(f"model {self.name!r}: called on a dict of tensors, it takes the keys {keys}, got "
                            f"{sorted(map(str, x))!r:.200}" + (f"; missing {missing}" if missing else ""))
        return [x[key] for key in keys] if len(keys) > 1 else x[keys[0]]

    def _evaluate_feed(self, feed, hooks=None):
        if not self._calls:         # drawn from the first batch before the metrics are counted
            self._draw_from(unpack(feed.first, feed.describe(0))[0])
        return super()._evaluate_feed(feed, hooks)

    def _draw_from(self, x):
        """Draw a subclass of Model (``_draw``) for the samples of ``x``: an array, or a list of
        arrays for a ``call`` taking a list of inputs."""
        if isinstance(x, (list, tuple)) and len(x) > 1 and all(hasattr(a, "shape") for a in x):
            shape = [tuple(a.shape[1:]) for a in x]
        elif isinstance(x, (list, tuple)) and len(x) == 1 and hasattr(x[0], "shape"):
            shape = tuple(x[0].shape[1:])           # Keras' [x] for one input, as a functional Model takes it
        elif isinstance(x, dict) and x and all(hasattr(a, "shape") and np.ndim(a) >= 2 for a in x.values()):
            shape = {key: tuple(np.shape(a)[1:]) for key, a in x.items()}      # call takes the dict (_draw_dict)
        elif isinstance(x, dict):
            raise TypeError(f"x: {type(self).__name__} is drawn from its first data: a dict of arrays (batch, ...) "
                            f"by name, a list of them, or one; got a dict of {len(x)} ({list(x)[:5]!r:.80})")
        else:
            shape = np.shape(x)
            if len(shape) < 2:
                raise ValueError(f"x: expected a 2-D array (n_samples, n_features), got shape {shape}")
            shape = tuple(shape[1:])
        if self._own_build_ran:         # its layers made when another model drew it: not made anew
            self._draw(shape)
            return
        self._own_build_ran = True
        # Keras' form, (None, *sample shape), as Keras hands a build of the subclass' own (one that
        # unpacks it, keras.io's `(_, height, width, channels) = input_shape`, needs the batch axis)
        with building_block(), building(self):
            self.build([(None, *s) for s in shape] if isinstance(shape, list) else
                       {key: (None, *s) for key, s in shape.items()} if isinstance(shape, dict) else (None, *shape))
        if not self._calls:
            # a build of its own that makes the layers and does not end with super().build (Keras'
            # idiom, which then runs call): drawn here, or the passes would run an empty graph
            self._draw(shape)

    @property
    def input(self):
        """The model's Input (Keras' ``model.input``; a list of them for a model of several; the
        dict of them, in its order, for inputs given as a dict)."""
        if self._input_keys is not None:
            return as_dict(self._input_keys, self.inputs)
        return self.inputs[0] if len(self.inputs) == 1 else list(self.inputs)

    def _feed_keys(self):
        """The keys of a dict of data, one per input in the order of ``inputs``: the keys of the
        dict the model was made with (sorted: its flat order), else the Inputs' names."""
        return sorted(self._input_keys) if self._input_keys is not None else list(self._input_names)

    @property
    def output(self):
        """The symbolic tensor of the model's output (Keras' ``model.output``; a list of them for a
        model of several; the dict of them, in its order, for outputs given as a dict)."""
        if self._output_keys is not None:
            return as_dict(self._output_keys, self.outputs)
        if self._keras_output_nesting is not None:
            return nest(self._keras_output_nesting, self.outputs)
        return self.outputs[0] if len(self.outputs) == 1 else list(self.outputs)

    @property
    def output_names(self):
        """The outputs' names, their layers' (Keras' ``model.output_names``): the keys of the dicts
        of losses, metrics and targets a model of several outputs takes, and of its logs. An
        output that a nested model's call makes (``Model(x, inner(x))``) goes by that model's
        name, ``"inner"``, as Keras 3.15 names it. For outputs given as a dict those keys are the
        dict's (``list(model.output)``), and this stays the layers' names in the sorted keys'
        order, as Keras 3.15 gives it."""
        # (read on every batch, where the losses and logs are keyed: one comprehension, no call)
        if self._output_models is None:
            return [self._calls[k].name for k in self._outputs_at]
        return [self._calls[k].name if name is None else name for name, k in zip(self._output_models, self._outputs_at)]

    def _output_labels(self):
        """The names the outputs go by in dicts and logs, in the order of ``outputs``: the dict's
        keys (sorted) where the outputs were given as one, else ``output_names``."""
        return sorted(self._output_keys) if self._output_keys is not None else self.output_names

    @property
    def _output_calls(self):
        return list(self._outputs_at)

    def _check_masks_reach(self, layer):
        pass                    # planned on the graph when it is built (_plan_masks)

    def _plan_masks(self, output_mask):
        plan = plan_graph_masks(self._calls, self._graph, self._outputs_at, output_mask, self._shared)
        self._unscored_mask = output_mask.unscored      # refused by compile (a model of several outputs)
        return plan

    def compute_output_shape(self, input_shape):
        """``Sequential.compute_output_shape``; for a model of several inputs, their shapes in a list;
        for a model of several outputs, a list of their shapes, batch axis first (Keras'). A subclass
        not drawn yet is drawn for these inputs (Keras builds its layers here too)."""
        if isinstance(input_shape, dict) and input_shape:
            # inputs given as a dict (Keras' {"name": (None, 5), ...}): a subclass whose call takes
            # the dict is drawn on it first; then each input's shape, in the order of inputs (the
            # keys sorted, as Keras flattens a dict)
            if not self._calls:
                self.build(input_shape)
            keys = self._input_keys
            if keys is None or sorted(input_shape) != sorted(keys):
                raise ValueError(f"compute_output_shape: got a dict of shapes by {sorted(input_shape)}, but the "
                                 f"model's inputs are " + (f"a dict by {sorted(keys)}" if keys is not None else
                                 "not given as a dict: give their shapes, (None, *sample), in a list"))
            input_shape = [input_shape[key] for key in sorted(keys)]
            if len(input_shape) == 1:
                input_shape = input_shape[0]
        several = _several_shapes(input_shape)
        shapes = input_shape if several else [input_shape]
        if not all(isinstance(shape, (tuple, list)) and len(shape) > 1 for shape in shapes):
            raise ValueError(f"compute_output_shape: expected a shape with the batch axis first, (None, *sample) "
                             f"(a list of them, one per input, for a model of several), got {input_shape!r:.80}")
        # build takes the samples' shapes: a batch size there, Keras' (32, 5), would read as a sample axis
        samples = [(None, *shape[1:]) for shape in shapes]
        if not self._calls or several or self._heads is not None:
            self.build(samples if several else samples[0])      # (refuses any shape but the Inputs')
        batch = shapes[0][0]
        if self._heads is None:
            return (batch, *self._sample_output_shape) if several else super().compute_output_shape(input_shape)
        return self._shaped_as_outputs([(batch, *head.shape) for head in self._heads])

    @keras_compile_order_refused
    def compile(self, loss=_REQUIRED, optimizer="sgd", metrics=None, loss_weights=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
        """``Sequential.compile``; a model of several outputs takes, as Keras does, one loss for
        every output or one per output (a list in the order of ``outputs``, or a dict by
        ``output_names``), ``loss_weights`` (one number per output: the loss trained on is the sum
        of each output's loss times its weight), and ``metrics`` and ``weighted_metrics`` per
        output (a list of one list of metrics per output, or a dict by output name, which may leave
        outputs out). See glassnet.outputs for the logs' names.

        A subclass with its own ``train_step`` may be compiled without a loss, as Keras' GAN is
        (``super().compile()``): see ``glassnet.own_steps.compile_own_steps``. Keras' run settings
        (``run_eagerly``, ...) are kept and change nothing, as ``Sequential.compile``'s."""
        from ._run_settings import checked_run_settings, keep_run_settings
        keep_run_settings(self, checked_run_settings(run_eagerly, steps_per_execution, jit_compile, auto_scale_loss))
        # Keras' positional order too, compile("adam", "mse"): told apart by what is given (glassnet._compile_order)
        loss, optimizer = loss_and_optimizer(loss, optimizer)
        loss = as_given(loss)           # compile(loss=model.loss): what that compile was given, as Keras'
        # with a loss, a model with layers of its own (a call, or its inputs and outputs) compiles
        # as any model does (one loss per output, loss_weights): its train_step may run its
        # train_on_batch; without layers (Keras' GAN), or listing its own metrics (a property
        # compile cannot set), the step's own compile keeps what is given
        own_compile = (loss is _REQUIRED or loss is None or (not self._calls and not self._subclass())
                       or lists_own_metrics(self))
        if self._own_steps and own_compile:
            from .own_steps import compile_own_steps
            return compile_own_steps(self, None if loss is _REQUIRED else loss, optimizer, metrics,
                                     loss_weights, weighted_metrics)
        if loss is _REQUIRED and self._loss_terms is not None:     # Keras' default loss=None: the terms alone
            loss = None
        if loss is _REQUIRED and self._calls:       # Python's own message, as before compile had a default
            raise TypeError("Model.compile() missing 1 required positional argument: 'loss' (Keras 3 compiles a "
                            "model without one and refuses fit, evaluate and train_on_batch then, 'No loss to "
                            "compute'; a training loop of your own with a GradientTape and an optimizer, as "
                            "keras.io's Reptile's, needs no compile: leave it out)")
        if not self._calls:         # a subclass not drawn yet: compiled once it is (see _draw)
            self._check_before_draw(loss, metrics, loss_weights, weighted_metrics)
            optimizer = optimizers.get(optimizer)
            self._deferred_compile = dict(loss=loss, metrics=metrics, loss_weights=loss_weights,
                                          weighted_metrics=weighted_metrics)
            self.optimizer = self._claim(optimizer)
            return
        if loss is None:        # Keras trains on the add_loss terms alone
            if self._loss_terms is None or self._heads is not None:
                raise ValueError(f"loss: None trains on the add_loss terms alone, for a model of one output; "
                                 f"{type(self).__name__} has {'several outputs' if self._loss_terms else 'no add_loss terms'}"
                                 f" (give a loss per output, None for an unscored one)")
            loss = added_losses.no_loss()
        self._compile_drawn(loss, optimizer, metrics, loss_weights, weighted_metrics)
        self._deferred_compile = None

    def _check_before_draw(self, loss, metrics, loss_weights, weighted_metrics=None):
        """What compile can check of its arguments before the model is drawn (its outputs known):
        refused now, not at the first fit."""
        for spec in loss.values() if isinstance(loss, dict) else loss if isinstance(loss, (list, tuple)) else [loss]:
            if spec is not None and spec is not _REQUIRED:      # (none given: the add_loss terms', once drawn)
                losses.check_trainable(losses.for_compile(spec))
        for what, given in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if given is not None and (isinstance(given, str) or not isinstance(given, (list, tuple, dict))):
                raise TypeError(f"{what}: expected a list such as ['accuracy'] (or, for several outputs, a list of "
                                f"lists or a dict by output name), got {given!r:.80}")
            for spec in (given.values() if isinstance(given, dict) else given or []):
                for item in spec if isinstance(spec, (list, tuple)) else [] if spec is None else [spec]:
                    metrics_module.get(item)
        if loss_weights is not None and (isinstance(loss_weights, (bool, str))
                                         or not isinstance(loss_weights, (list, tuple, dict, numbers.Real))):
            raise TypeError(f"loss_weights: expected a list or a dict of numbers, one per output (a number, for "
                            f"a model of one), got {loss_weights!r:.80}")

    def _compile_drawn(self, loss, optimizer, metrics, loss_weights, weighted_metrics=None):
        if getattr(self, "_unscored_mask", None):
            raise NotImplementedError(self._unscored_mask)
        # (Sequential.compile reads Keras' per-output forms of the one output, loss_weights too:
        # glassnet._listforms; and several outputs' per output: _compile_heads)
        nesting = self._keras_output_nesting
        if nesting is not None and self._heads is not None and self._output_keys is None:
            # outputs given as nested lists: what compile takes per output, nested so too or flat, and
            # the own losses' logs under Keras' places ("1/b_loss": glassnet._nested_outputs)
            loss, metrics, loss_weights, weighted_metrics = (
                flatten_given(nesting, value, what) for value, what in (
                    (loss, "loss"), (metrics, "metrics"), (loss_weights, "loss_weights"),
                    (weighted_metrics, "weighted_metrics")))
            for head, prefix in zip(self._heads, loss_prefixes(nesting)):
                head.loss_prefix = prefix
        # (the run settings compile kept, which Sequential.compile would set again to its defaults)
        return super().compile(loss, optimizer, metrics, weighted_metrics, loss_weights=loss_weights,
                               run_eagerly=self._run_eagerly, steps_per_execution=self._steps_per_execution,
                               jit_compile=self._jit_compile, auto_scale_loss=self._auto_scale_loss)

    def _single_output_name(self):
        return self._output_labels()[0]

    def _dict_output_key(self):
        # a model of one output takes {its name: y} and {its name: w}: Keras 3.15 does for a dict
        # output of one key; for a plain output (its layer's name) Keras 3.15 fails, glassnet takes it
        return self._output_labels()[0] if self._heads is None else None

    def _given_input_name(self):
        # (a dict of one Input: its key is what a dict of data is keyed by)
        return self._feed_keys()[0] if self._input_names else None

    def _prepare_xy(self, x, y, xname="x", yname="y", cast=True):
        """``Sequential._prepare_xy``; for a model of several outputs, ``y`` is a list of targets in
        the order of ``outputs`` or a dict by ``output_names``: each is checked as its output's
        loss takes it, then all are packed side by side (glassnet.outputs), in the model's dtype."""
        if not self._calls:
            self._draw_from(x)
        # (Keras' dict by the one output's name and a list of its one array: Sequential's; several
        # outputs' targets packed: Sequential._packed_targets)
        return super()._prepare_xy(x, y, xname, yname, cast)

    def _takes_text(self):
        # one Input of texts: the Sequential's way (its reader is the first layer); with several
        # Inputs, _prepare_x hands each Input of texts to its reader (_text_readers)
        return self._input_shapes is None and super()._takes_text()

    @property
    def input_shapes(self):
        """Each Input's sample shape, in the order of ``inputs`` (one for a model of one Input)."""
        return list(self._input_shapes) if self._input_shapes is not None else [self._sample_input_shape]

    def _public_input_samples(self):
        # (input_shape, Keras' form: each Input as declared, not the packed row of several)
        return [tuple(shape) for shape in self._declared_input_shapes()]

    def _declared_input_shapes(self):
        """Each Input's sample shape as it was declared, ``Input(shape)``: ``input_shapes`` but for
        an Input of strings read by a lookup or a TextVectorization, whose own shape is ``(1,)``
        where ``input_shapes`` (the packed rows) has the width of what its reader makes of it."""
        # one Input: input_shape is its reader's ids shape too, (40,) for Keras' end-to-end text model
        shapes = [self._sample_input_shape] if self._input_shapes is None else self._input_shapes
        return [tuple(self.inputs[j].sample_shape) if j in self._text_readers else shape
                for j, shape in enumerate(shapes)]

    def _sources(self, x):
        """The model's inputs in a batch ``x``: ``[x]`` for one Input; with several, views of the
        packed batch (n, header + sum of sizes), one per Input in its own shape."""
        if self._input_shapes is None:
            return [x]
        return self._input_layout().views(x)

    def _input_layout(self):
        """Where each Input's values lie in packed rows (``outputs.Layout``): an Input of
        sequences of any length (``Input((None, 8))``) makes the row's length vary from one
        packing to the next, so each row starts with the lengths it was packed with."""
        return Layout(self._input_shapes)

    def _open_sizes(self):
        """How many sizes the header of a packed row holds: one per open (None) axis of the Inputs."""
        return self._input_layout().open if self._input_shapes is not None else 0

    def _packed_shapes(self, x):
        """Each Input's sample shape in the packed rows ``x``: its own, with the open sizes read from
        the rows' header."""
        return list(self._input_layout().concrete(x))

    def _source_shapes(self, shape):
        if self._input_shapes is None:
            return [shape]
        # a list of shapes, one per Input, is a packing's own (_packed_shapes); any other, the Inputs'
        return [tuple(s) for s in shape] if _several_shapes(shape) else list(self._input_shapes)

    def _output_shape_for(self, sample_shape, x=None):
        if x is None or not self._open_sizes() or self._heads is not None or None not in tuple(self._sample_output_shape):
            return super()._output_shape_for(sample_shape, x)
        # packed rows of several inputs: their lengths are in the rows, not in their width
        return tuple(self._shapes_through(self._packed_shapes(x))[self._outputs_at[0]])

    def _rows_kind(self, result):
        if self._heads is None or not self._heads[0].layout.open:
            return super()._rows_kind(result)
        return tuple(self._heads[0].layout.concrete(result))        # each output's shape in these rows

    def _default_batch_size(self, x):
        if self._open_sizes() and not stateful_layers(self.layers):     # the sizes this packing holds
            return self._auto_batch_size(x.shape[1:], self._packed_shapes(x))
        return super()._default_batch_size(x)

    def _prepare_x(self, x, name="x", cast=True):
        """``Sequential._prepare_x`` for one Input. For several, ``x`` is a list of arrays in the
        order of ``inputs`` or a dict by the Inputs' names: each is checked against its Input (the
        layers reading it check its values, as given), then all are packed side by side, one row of
        numbers per sample in the model's dtype (see the class docstring)."""
        if not self._calls:
            self._draw_from(x)
        if self._input_shapes is None:
            # (Keras' dict by the one Input's name, and a list of its one array: Sequential's)
            return super()._prepare_x(x, name, cast)
        names, count = self._feed_keys(), len(self._input_shapes)
        what = "the keys of the model's inputs dict" if self._input_keys is not None else "the Inputs' names"
        if isinstance(x, dict):
            if len(set(names)) < count:
                raise ValueError(f"{name}: a dict needs Inputs of distinct names, the model's are {names}; name "
                                 f"them (Input(shape, name=...)) or give a list of {count} arrays")
            missing = [key for key in names if key not in x]
            if missing:
                # other keys are left alone, as Keras 3 does (dict(df) of a table with more columns)
                raise ValueError(f"{name}: expected a dict with the keys {names} ({what}), got "
                                 f"{sorted(map(str, x))!r:.200}; missing {missing}")
            arrays, labels = [x[key] for key in names], [f"{name}[{key!r}]" for key in names]
        elif isinstance(x, (list, tuple)) and len(x) == count:
            arrays, labels = list(x), [f"{name}[{j}]" for j in range(count)]
        else:
            got = f"a {type(x).__name__} of {len(x)}" if isinstance(x, (list, tuple)) else type(x).__name__
            raise TypeError(f"{name}: the model has {count} inputs ({', '.join(names)}); give a list of {count} "
                            f"arrays in that order, or a dict by those keys ({what}); got {got}")
        checked = []
        for j, (array, label, shape) in enumerate(zip(arrays, labels, self._input_shapes)):
            if j in self._text_readers:         # texts: the numbers their reader makes of them
                array = self._text_readers[j].encode(array, label, dtype=self.dtype, min_length=1)
                self._check_text_ids(array.shape[1:], label, j)
            array = as_array(array, label, self.dtype, cast=False, finite=not NON_FINITE_TAKEN[0])
            if j not in self._text_readers and array.ndim == len(shape) and shape and shape[-1] == 1:
                array = array[..., None]       # a column (n,) for Input((1,)): Keras adds the axis (dict(df))
            if not shape_fits(tuple(array.shape[1:]), shape):
                raise ValueError(f"{label}: input {self._input_names[j]!r} takes samples of shape {shape}, got samples of "
                                 f"shape {array.shape[1:]} (an array of shape {array.shape})")
            for k, (layer, parents) in enumerate(zip(self._calls, self._graph)):
                if -1 - j in parents:       # an Embedding's ids, checked as given (with the call's own arguments)
                    with call_arguments_set(layer, None if self._call_options is None else self._call_options[k]):
                        layer.check_input_values(array, label)
            checked.append(array)
        if len({a.shape[0] for a in checked}) > 1:
            counts = [a.shape[0] for a in checked]
            each = ", ".join(f"{label}: {n}" for label, n in zip(labels, counts))
            raise ValueError(f"{name}: every input needs the same number of samples, got {counts} ({each})")
        # on the device when any input is there (CuPy moves host arrays only when asked: asarray)
        xp = next((backend.get_array_module(a) for a in checked if backend.get_array_module(a) is not np), np)
        shapes, layout = [tuple(array.shape[1:]) for array in checked], self._input_layout()
        packed = layout.pack(xp, checked[0].shape[0], shapes, self.dtype)
        for view, array in zip(layout.views(packed, shapes), checked):
            view[...] = xp.asarray(array)
        return packed

    @property
    def _inbound(self):
        return self._graph

    @property
    def _node_layers(self):
        return self._calls

    @classmethod
    def from_architecture(cls, *args, **kwargs):
        raise TypeError("Model.from_architecture: seed 000's list of dicts describes a chain of Dense layers; "
                        "build it with Sequential.from_architecture")

    def add(self, layer):
        raise TypeError("add: a functional Model is fixed by its graph; call the layer on a model's output and "
                        "make a new Model, or use a Sequential")

    def pop(self):
        raise TypeError("pop: a functional Model is fixed by its graph; make a new Model from the tensors you "
                        "want to keep")

    _walk = CallGraphMixin._graph_walk
    _backward = CallGraphMixin._graph_backward

    def _run_layers(self, x, training):
        for _, _, out in self._walk(x, training):
            pass
        return out

    def _release_data(self, *data):
        self._call_caches.clear()       # they hold views of the data too
        self._walked = None
        super()._release_data(*data)

    def __setstate__(self, state):
        # which layers are shared is kept by identity (id), which a copy (pickle, deepcopy) changes
        state.setdefault("_calls", list(state.get("layers", [])))      # pickled before shared layers
        state["_call_caches"] = {}
        state.setdefault("_outputs_at", [len(state["_calls"]) - 1])      # pickled before several outputs
        state["_walked"] = None
        super().__setstate__(state)
        if getattr(self, "_heads", None) is not None:      # pickled before outputs of any length
            set_layouts(self._heads)
        self._shared = _shared_ids(self._calls)

    def __getstate__(self):
        state = super().__getstate__()      # with its layers' first calls (glassnet._sequential_tensors)
        state["_call_caches"] = {}      # a pass's caches are not the model's
        state["_walked"] = None
        return state

    def _config(self, with_compile):
        if not self._calls and not self._subclass():
            # prefixed as every refusal of the config is (to_json rewrites it to its own name)
            raise ValueError(f"save_model: {type(self).__name__} has no call, so no graph of layers to save (its "
                             f"train_step steps sub-models); save each sub-model (gan.generator.save(...))")
        if not self._calls:
            raise ValueError(f"save_model: {type(self).__name__} is not drawn yet (its call runs on its first data): "
                             f"fit, predict or build((None, *shape)) it first")
        config = super()._config(with_compile)
        # the Inputs give every call its shapes: a layer's own (its first build's) would refuse a
        # call on another length when read back (a seq2seq decoder's inference model, one step long)
        for entry in config["layers"]:
            entry["config"].pop("input_shape", None)
        config.pop("input", None)           # the Inputs, each with its name and shape:
        position = {id(layer): k for k, layer in enumerate(self.layers)}
        # "layer_order": its layers are listed in model.layers' order, Keras' (see _from_layers)
        config = {**config, "layer_order": "keras", "inbound": [list(parents) for parents in self._graph],
                  "calls": [position[id(layer)] for layer in self._calls],
                  "inputs": [{"name": name, "shape": list(shape)} for name, shape in
                             zip(self._input_names, self.input_shapes)]}
        if self._takes_text():          # an Input of texts: its own shape and dtype, not the ids'
            config["inputs"] = [{"name": self._input_names[0], "shape": [1], "dtype": "string"}]
        for j in self._text_readers if self._input_shapes is not None else ():
            config["inputs"][j] = {"name": self._input_names[j], "shape": [1], "dtype": "string"}
        # an Input's fixed batch size (Input((5,), batch_size=32)), Keras' InputLayer "batch_shape"[0]:
        # model.input_shape[0] read back, which ported code reads (a stateful RNN's rows)
        for spec, tensor in zip(config["inputs"], self.inputs):
            if getattr(tensor, "batch_size", None) is not None:
                spec["batch_size"] = tensor.batch_size
        if self._input_keys is not None:        # the dict's keys, in the order given (the Inputs: sorted)
            config["input_keys"] = list(self._input_keys)
        if self._output_keys is not None:       # the dict's keys, in the order given: {key: call}
            config["outputs"] = as_dict(self._output_keys, self._outputs_at)
        elif self._heads is not None:
            config["outputs"] = list(self._outputs_at)
            if self._keras_output_nesting is not None:      # nested lists of them (glassnet._nested_outputs)
                config["output_nesting"] = self._keras_output_nesting
        if self._output_models is not None:      # its layers are kept, not the nested models naming outputs
            config["output_models"] = list(self._output_models)
        if self._call_modes is not None:
            config["modes"] = list(self._call_modes)
        if self._call_options is not None:
            config["options"] = [dict(option) if option else None for option in self._call_options]
        if self._loss_terms is not None:        # each term by the calls it reads (glassnet._added_loss_files)
            from ._added_loss_files import terms_config
            config["added_losses"] = terms_config(self._loss_terms)
        # a subclass of the user's: its name (and constructor's arguments), so that a reader given
        # the class makes it again, with its own steps (glassnet._subclass_files)
        if type(self) is not Model and not type(self).__module__.startswith("glassnet."):
            from ._subclass_files import KEY, entry
            config[KEY] = entry(self)
        return config

    def _call_settings(self):
        return self._call_modes, self._call_options

    def __repr__(self):
        return f"<Model {self.name!r} layers={len(self.layers)} built={self.built}>"

    @classmethod
    def _from_config(cls, config):
        # Keras' rule for a subclass drawn by its call: a config of its own (get_config overridden
        # to return the constructor's arguments, Keras' idiom) makes a new one, cls(**config); a
        # graph's config ("layers") gives the functional Model of that graph, as load_model does
        if callable(getattr(cls, "call", None)) and isinstance(config, dict) and "layers" not in config:
            try:
                return cls(**config)
            except TypeError as exc:
                raise TypeError(f"{cls.__name__}.from_config: the config is not a graph's (no 'layers'), so it is "
                                f"given to the constructor, {cls.__name__}(**config), which refused it ({exc}); "
                                f"return the constructor's arguments from get_config, or define from_config; "
                                f"got {config!r:.200}") from exc
        return super()._from_config(config)

    @classmethod
    def _from_layers(cls, layers, inbound, inputs, calls=None, outputs=None, modes=None, options=None,
                     input_keys=None, layer_order=None, added_losses=None, output_models=None, nested=None,
                     output_nesting=None, **kwargs):
        """The model a config describes: its layers (made, not built) called on its Inputs
        (``inputs``: ``[{"name", "shape"}, ...]``) as ``inbound`` says (layer i reads the layers
        ``inbound[i]``, -1 - j input j), its outputs made by the calls ``outputs`` (None: the last
        call; ``{key: call}`` for outputs given as a dict), its inputs given as a dict by
        ``input_keys`` (in the given order; the Inputs are in the sorted keys' order). What ``load_model`` and ``from_config`` rebuild from; both are checked first, since
        a file may say anything.

        ``layer_order``: "keras" when ``layers`` are listed in the saved model's ``model.layers``
        order, which the model read back keeps (a nested model's layers, together in the saved
        model's order, are plain layers of the graph read back, whose own order could differ).
        None: a config of a glassnet from before that order, listing the layers at their first
        calls; the model read back has Keras' order of its graph (``load_model`` maps the file's
        weights, flags and random states onto it by layer: glassnet.io).

        ``added_losses``: the model's add_loss terms, by the calls they read (the graph lists the
        calls made for them alone too): glassnet._added_loss_files.

        ``output_models``: per output, the nested model whose call made it, which names it (None:
        its layer; absent: every output named by its layer, as files written before name them):
        glassnet._output_models.

        ``nested``: the models nested in it, made again on their layers, their calls marked as
        theirs (glassnet._nested_configs); None: flattened (a config written before)."""
        calls = list(range(len(layers))) if calls is None else calls      # each layer called once
        if not isinstance(calls, list) or not layers or not calls or not all(
                isinstance(c, int) and not isinstance(c, bool) and 0 <= c < len(layers) for c in calls):
            raise ValueError(f"config: 'calls' must list, for each call, which of the {len(layers)} layers it calls")
        if not isinstance(inbound, list) or len(inbound) != len(calls):
            raise ValueError(f"config: 'inbound' must list each of the {len(calls)} calls' inputs")
        if not isinstance(inputs, list) or not inputs or not all(
                isinstance(spec, dict) and ((keys := set(spec) - {"batch_size"}) == {"name", "shape"}
                                            or keys == {"name", "shape", "dtype"} and spec["dtype"] == "string")
                for spec in inputs):
            raise ValueError("config: 'inputs' must be a list of {'name': str, 'shape': [...]} (and 'dtype': "
                             "'string' for texts, 'batch_size': an int for a fixed batch size), one per Input")
        # (configs written before Inputs kept their batch size have none: any batch)
        sizes = [check_file_batch_size(spec.get("batch_size"), f"inputs[{j}]['batch_size']")
                 for j, spec in enumerate(inputs)]
        sources = [InputLayer(spec["shape"], name=spec["name"], dtype=spec.get("dtype"), batch_size=size)
                   for spec, size in zip(inputs, sizes)]
        if input_keys is not None:
            check_config_keys(input_keys, len(sources))
        called = [layers[c] for c in calls]
        for k, (layer, parents) in enumerate(zip(called, inbound)):
            merges = getattr(layer, "merges", False)
            with_states = not merges and isinstance(parents, list) and len(parents) == 1 + getattr(
                layer, "state_count", -1)           # a recurrent layer's call with initial_state
            if (not isinstance(parents, list) or not parents
                    or not all(isinstance(p, int) and not isinstance(p, bool) and -len(sources) <= p < k
                               for p in parents)
                    or (len(parents) != 1 and not merges and not with_states)):
                # a merging layer takes the list it was drawn on: two or more for the built-in ones
                # (their build refuses fewer), possibly one for a layer of yours (Sampling()([stats]))
                raise ValueError(f"config: 'inbound' of call {k} ({layer.describe()}) must list "
                                 f"{'one or more earlier layers' if merges else 'one earlier layer'} (-1 - j: input j), got "
                                 f"{parents!r:.80}")
        if isinstance(outputs, dict):
            check_config_outputs(outputs, len(called))
        elif outputs is not None and (not isinstance(outputs, list) or len(outputs) < 2 or not all(
                isinstance(k, int) and not isinstance(k, bool) and 0 <= k < len(called) for k in outputs)):
            raise ValueError(f"config: 'outputs' must list the calls (of {len(called)}) making the model's outputs, "
                             f"two or more, got {outputs!r:.80}")
        if modes is not None and (not isinstance(modes, list) or len(modes) != len(called)
                                  or not all(valid_mode(mode) for mode in modes)):
            raise ValueError(f"config: 'modes' must give each of the {len(called)} calls true, false, null or "
                             f"{TRUE_IF_UNSET!r}")
        if options is not None and (not isinstance(options, list) or len(options) != len(called) or not all(
                valid_call_option(option, parents) for option, parents in zip(options, inbound))):
            raise ValueError(f"config: 'options' must give each of the {len(called)} calls null or a dict of "
                             f"'use_causal_mask', 'attention_mask' (attention layers) or 'reverse' "
                             f"(ReversibleEmbedding), each true or false, and 'keras_order' (attention layers: "
                             f"an order of the call's inputs)")
        link_weights(layers)        # nodes reading a drawn call's weights: to their CallWeights, by name
        if nested is not None:      # made before the graph is drawn, as they were (their own draws first)
            from . import _nested_configs
            models = _nested_configs.made_models(nested, layers)
        tensors = replay(called, inbound, sources, modes, options)
        if nested is not None:
            _nested_configs.mark_calls(nested, models, tensors, sources)
        ends = tensors[-1] if outputs is None else {key: tensors[k] for key, k in outputs.items()} \
            if isinstance(outputs, dict) else [tensors[k] for k in outputs]
        if added_losses is not None:        # the add_loss terms, on the outputs: the model takes them up
            from ._added_loss_files import terms_from_config
            from .added_losses import attach
            attach(terms_from_config(added_losses, tensors),
                   list(ends.values()) if isinstance(ends, dict) else ends if isinstance(ends, list) else [ends])
        # the calls that lead to no output (and no term): a block's, kept as drawn (glassnet._dead_calls)
        dead_calls.attach(tensors, list(ends.values()) if isinstance(ends, dict) else ends if isinstance(ends, list)
                          else [ends], sources, _walk_back)
        given = (as_dict(input_keys, sources) if input_keys is not None
                 else sources if len(sources) > 1 else sources[0])
        if layer_order not in (None, "keras"):
            raise ValueError(f"config: 'layer_order' must be \"keras\" (or absent: a config of an older glassnet), "
                             f"got {layer_order!r:.40}")
        from . import _output_models
        output_models = _output_models.checked(output_models, 1 if outputs is None else len(outputs))
        if output_nesting is not None:          # outputs given as nested lists (glassnet._nested_outputs)
            from ._nested_outputs import checked
            ends = nest(checked(output_nesting, outputs if isinstance(outputs, list) else None), ends)
        model = cls(given, ends, **kwargs)
        if output_models is not None:
            _output_models.rename(model, output_models)
        # the calls in the order they were saved in (each after the calls it reads), each layer once
        if (len(model.layers) != len(layers) or {id(layer) for layer in model.layers} != {id(layer) for layer in layers}
                or len(model._calls) != len(called) or not all(a is b for a, b in zip(model._calls, called))):
            raise ValueError("config: its calls are not in the order of their graph (each after the calls "
                             "it reads, the output last), or some of its layers are never called: some do not lead to the output")
        if layer_order == "keras" and any(a is not b for a, b in zip(model.layers, layers)):
            model.layers[:] = layers
            model._input_places = None      # (summary: each Input before the first layer reading it)
        return model
