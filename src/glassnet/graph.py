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
lists each layer once), with, for each, where its inputs come from (``_inbound``: the indices of
those calls, -1 - j for the model's input j).

Everything else is the Sequential's: ``compile``, ``fit``, ``evaluate``, ``predict``, ``trace``,
``summary``, ``save``. Only the two walks differ. Forward, each layer reads its inputs' outputs;
backward, the gradient reaching a layer's output is the SUM of what each layer reading it sends
back (a residual block's input gets the block's gradient plus the shortcut's), and a merge layer
sends one gradient to each of its inputs.

Several inputs (``Model([a, b], outputs)``, fed ``[xa, xb]`` or a dict by name) travel packed in
one array per batch and are split into views where the graph starts (see ``Model``).

A layer called more than once (shared weights: a siamese network's encoder) is listed once in
``model.layers``; the graph is of calls (``_calls``: the layer of each), and each call's forward
cache is kept apart for its backward, the layer's gradients summed over its calls.

A model called on a tensor (``base(inputs)``) makes its calls again there, with the same layers
(``Sequential._call_symbolic``): the new model shares their weights.

Not here yet: several outputs, masks (Embedding(mask_zero=True), Masking) and texts; a shared layer
that makes the output, is stateful or has an activity_regularizer; each is refused by name.
"""
import math
from collections import Counter

import numpy as np

from . import backend
from ._validation import as_array
from .layers.base import free_name, missing_input_gradient, stateful_layers
from .layers.input import InputLayer
from .layers.symbolic import SymbolicTensor, replay
from .model import Sequential


def _one(value, what):
    """``value``, or the only item of a one-item list (Keras takes either)."""
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise NotImplementedError(f"Model: {what}: several {what} are not supported yet (got {len(value)}); "
                                      f"join them with a merge layer (Concatenate) into one")
        value = value[0]
    return value


# what a layer shares between its calls, never a call's own: its weights, their gradients (summed
# over the calls in place), its state (moving statistics), its settings
_KEPT_WHOLE = frozenset({"params", "grads", "state", "regularizers", "constraints"})


def _shared_ids(calls):
    """The ids of the layers called more than once among ``calls``."""
    counts = Counter(id(layer) for layer in calls)
    return {key for key, count in counts.items() if count > 1}


def _holders(layer):
    """``layer`` and every layer it wraps, at any depth (a Bidirectional's two LSTMs)."""
    return [layer, *(held for inner in layer.wrapped_layers() for held in _holders(inner))]


def _snapshot(layer):
    """One call's forward cache of a shared layer: the attributes of the layer and of the layers
    it wraps, containers (a dict or list of cached arrays) copied one level deep, so that the next
    call's forward, which rebinds or refills them, leaves this call's as they were."""
    return [(holder, {key: value.copy() if isinstance(value, (dict, list)) and key not in _KEPT_WHOLE else value
                      for key, value in vars(holder).items()}) for holder in _holders(layer)]


def _restore(snapshot):
    for holder, attributes in snapshot:
        vars(holder).update(attributes)


def _rename_clashes(layers):
    """Name ``layers`` for one graph: a new layer (no name yet) gets one clear of every name the
    graph holds (a built layer later in the graph keeps its own), and a built layer whose name an
    earlier one has gets a name of its own (``dense_1``): two models nested in a new one
    (``base(inputs)``) each bring a ``dense``. Such a layer is the nested model's too, so it is
    renamed there as well (as a Sequential's nested layers are). Layers not built yet keep a clash
    of names they were given, which ``_join`` refuses by name. Returns ``[(layer, old name)]``
    for the layers named here."""
    names, renamed = set(), []
    taken = {layer.name for layer in layers if layer.name is not None}
    for layer in layers:
        if layer.name is None or (layer.name in names and layer.built):
            renamed.append((layer, layer.name))
            layer.name = free_name(layer, taken)
            taken.add(layer.name)
        names.add(layer.name)
    return renamed


def _check_inputs(inputs):
    """Refuse what ``Model`` cannot take as its inputs, by name."""
    for j, given in enumerate(inputs):
        if not isinstance(given, InputLayer):
            raise TypeError(f"Model: inputs[{j}] must be what glassnet.Input(shape) returned, got {type(given).__name__}")
        if given.dtype == "string":
            raise ValueError("Model: a functional Model takes no texts (Input dtype='string'); use a Sequential "
                             "starting with TextVectorization")
        if any(given is other for other in inputs[:j]):
            raise ValueError(f"Model: inputs[{j}] is listed twice")
        if len(inputs) > 1 and None in given.shape:
            raise ValueError(f"Model: inputs[{j}] ({given!r}) has an axis of any size (None); a model of several "
                             f"inputs packs them into one array per batch, so each needs fixed sizes")
    if not inputs:
        raise ValueError("Model: inputs is empty; give the Input(s) the outputs were drawn from")


def _walk_back(output):
    """The symbolic tensors ``output`` depends on, each after those it reads (a depth-first walk
    that visits each tensor's inputs in their order; iterative, so that deep graphs need no
    recursion), and the Inputs it reaches."""
    order, sources, done = [], [], set()
    stack = [(output, False)]
    while stack:
        tensor, expanded = stack.pop()
        if id(tensor) in done:
            continue
        if isinstance(tensor, InputLayer):
            done.add(id(tensor))
            sources.append(tensor)
        elif expanded:
            done.add(id(tensor))
            order.append(tensor)
        else:
            stack.append((tensor, True))
            stack.extend((parent, False) for parent in reversed(tensor.inputs) if id(parent) not in done)
    return order, sources


class Model(Sequential):
    """A network drawn as a graph of layer calls, from its ``Input``s to one output (Keras'
    functional ``Model``). See the module docstring.

    Parameters
    ----------
    inputs : InputLayer (``glassnet.Input(shape)``), or a list of them
        With several, ``fit``, ``evaluate`` and ``predict`` take a list of arrays in this order (or
        a dict by the Inputs' names), one per Input, the same number of samples in each.
    outputs : the SymbolicTensor a layer call returned, or a list holding one
    name : str
    seed, dtype : as for ``Sequential``

    The model is built at once (its Inputs say the shapes). ``model.layers`` lists the layers, each
    after the layers it reads; ``summary()`` says where each layer's inputs come from.

    Several inputs travel as one array: each batch's inputs side by side, each sample's values
    flattened into one row of ``sum(prod(shape))`` numbers in the model's dtype, which is what
    ``model.input_shape`` then says (``model.input_shapes`` lists each Input's shape); the model
    splits each batch back into views of the Inputs' shapes. So each Input needs fixed sizes (no
    None), and ``fit`` holds the packed copy of the data in the model's dtype besides the shuffled
    copy it makes of any data.

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

    def __init__(self, inputs, outputs, name="model", seed=None, dtype="float32"):
        super().__init__(seed=seed, dtype=dtype, name=name)
        if isinstance(inputs, dict):
            raise TypeError("Model: inputs as a dict is not supported; give a list of Inputs (named with "
                            "Input(shape, name=...): fit and predict then take a dict by those names)")
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        outputs = _one(outputs, "outputs")
        _check_inputs(inputs)
        if isinstance(outputs, InputLayer):
            raise ValueError("Model: outputs is an Input itself: call at least one layer on it")
        if not isinstance(outputs, SymbolicTensor):
            raise TypeError(f"Model: outputs must be what a layer called on an Input returned, got "
                            f"{type(outputs).__name__}")
        tensors, sources = _walk_back(outputs)
        other = [source for source in sources if not any(source is given for given in inputs)]
        if other:       # (every walk back ends at some Input: that is where tensors start)
            raise ValueError(f"Model: the outputs depend on an Input that is not among the model's inputs, "
                             f"{other[0]!r} (name {other[0].name!r}); list it in inputs")
        unused = [j for j, given in enumerate(inputs) if not any(given is source for source in sources)]
        if unused:
            raise ValueError(f"Model: inputs[{unused[0]}] ({inputs[unused[0]]!r}) does not lead to the outputs")
        calls = [tensor.layer for tensor in tensors]            # the layer of each call, in order
        layers = list({id(layer): layer for layer in calls}.values())     # each once, at its first call
        shared = _shared_ids(calls)
        for layer in layers:
            if layer.makes_mask or getattr(layer, "takes_text", False):
                what = "makes a mask, which" if layer.makes_mask else "turns texts into numbers, which"
                raise NotImplementedError(f"Model: {layer.describe()} {what} a functional Model does not take yet; "
                                          f"use a Sequential")
            if id(layer) in shared:
                refusal = ("makes the output; share the layers before it" if layer is calls[-1] else
                           "has an activity_regularizer, whose penalty per call is not supported yet"
                           if layer.activity_regularizer is not None else
                           "is stateful" if stateful_layers([layer]) else None)
                if refusal:
                    raise NotImplementedError(f"Model: {layer.describe()} is called more than once and {refusal}")
        # a call's sources: an earlier call's index, or -1 - j for inputs[j] (-1 for the only one)
        index = {id(tensor): k for k, tensor in enumerate(tensors)}
        index.update({id(given): -1 - j for j, given in enumerate(inputs)})
        self._graph = [[index[id(parent)] for parent in tensor.inputs] for tensor in tensors]
        self._calls, self._shared = calls, shared
        self.inputs, self.outputs = list(inputs), [outputs]         # Keras' names, for drawing sub-models
        self._call_caches = {}          # a shared layer's forward cache of each call (see _walk)
        self._input_names = [given.name for given in inputs]
        if len(inputs) > 1:
            self._input_shapes = [given.shape for given in inputs]
            shape = (sum(math.prod(s) for s in self._input_shapes),)        # the packed row
        else:
            shape = inputs[0].shape
        # a layer built in another model (a sub-model drawn from model.get_layer(...).output) keeps
        # drawing from the generator it has there, so that the other model's Dropout runs as before
        kept = [(layer, layer.rng) for layer in layers if layer.built and layer.rng is not None]
        renamed = _rename_clashes(layers)
        joined = []
        try:
            for layer in layers:
                joined.append(self._join(layer))
            self._declared_input = shape
            self._build_samples(shape)
            for layer, rng in kept:
                layer.rng = rng
        except BaseException as exc:
            self._unjoin(joined)            # the layers as they were: they joined no model
            for layer, name in renamed:
                layer.name = name
            if isinstance(exc, ValueError) and str(exc).startswith("add: "):    # _join's word for a Sequential's step
                raise ValueError("Model: " + str(exc)[5:]) from None
            raise

    def build(self, input_shape):
        """A Model is built when it is made (its Inputs fix the shapes): ``build`` with those shapes
        (Keras' form, ``(None, *shape)``, or a list of them, one per Input) does nothing; any other
        is refused."""
        given = input_shape if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (tuple, list)) \
            else [input_shape]
        wanted = [(None, *shape) for shape in self.input_shapes]
        if [tuple(s) for s in given] != wanted and [(None, *tuple(s)) for s in given] != wanted:
            raise ValueError(f"build: this Model was built for its Inputs, {wanted if len(wanted) > 1 else wanted[0]}, "
                             f"when it was made; got {input_shape!r:.80}")

    @property
    def input(self):
        """The model's Input (Keras' ``model.input``; a list of them for a model of several)."""
        return self.inputs[0] if len(self.inputs) == 1 else list(self.inputs)

    @property
    def output(self):
        """The symbolic tensor of the model's output (Keras' ``model.output``)."""
        return self.outputs[0]

    @property
    def input_shapes(self):
        """Each Input's sample shape, in the order of ``inputs`` (one for a model of one Input)."""
        return list(self._input_shapes) if self._input_shapes is not None else [self.input_shape]

    def _sources(self, x):
        """The model's inputs in a batch ``x``: ``[x]`` for one Input; with several, views of the
        packed batch (n, sum of sizes), one per Input in its own shape."""
        if self._input_shapes is None:
            return [x]
        views, start = [], 0
        for shape in self._input_shapes:
            size = math.prod(shape)
            views.append(x[:, start:start + size].reshape(x.shape[0], *shape))
            start += size
        return views

    def _source_shapes(self, shape):
        if self._input_shapes is None:
            return [shape]
        return list(self._input_shapes)

    def _prepare_x(self, x, name="x", cast=True):
        """``Sequential._prepare_x`` for one Input. For several, ``x`` is a list of arrays in the
        order of ``inputs`` or a dict by the Inputs' names: each is checked against its Input (the
        layers reading it check its values, as given), then all are packed side by side, one row of
        numbers per sample in the model's dtype (see the class docstring)."""
        if self._input_shapes is None:
            # Keras' other forms for one input: a dict by its name, a list of its one array
            if isinstance(x, dict) and list(x) == self._input_names:
                x, name = x[self._input_names[0]], f"{name}[{self._input_names[0]!r}]"
            elif isinstance(x, (list, tuple)) and len(x) == 1 and hasattr(x[0], "shape"):
                x, name = x[0], f"{name}[0]"
            return super()._prepare_x(x, name, cast)
        names, count = self._input_names, len(self._input_shapes)
        if isinstance(x, dict):
            if len(set(names)) < count:
                raise ValueError(f"{name}: a dict needs Inputs of distinct names, the model's are {names}; name "
                                 f"them (Input(shape, name=...)) or give a list of {count} arrays")
            if set(x) != set(names):
                raise ValueError(f"{name}: expected a dict with the keys {names} (the Inputs' names), got "
                                 f"{sorted(map(str, x))!r:.200}")
            arrays, labels = [x[key] for key in names], [f"{name}[{key!r}]" for key in names]
        elif isinstance(x, (list, tuple)) and len(x) == count:
            arrays, labels = list(x), [f"{name}[{j}]" for j in range(count)]
        else:
            got = f"a {type(x).__name__} of {len(x)}" if isinstance(x, (list, tuple)) else type(x).__name__
            raise TypeError(f"{name}: the model has {count} inputs ({', '.join(names)}); give a list of {count} "
                            f"arrays in that order, or a dict by their names; got {got}")
        checked = []
        for j, (array, label, shape) in enumerate(zip(arrays, labels, self._input_shapes)):
            array = as_array(array, label, self.dtype, cast=False)
            if tuple(array.shape[1:]) != tuple(shape):
                raise ValueError(f"{label}: input {names[j]!r} takes samples of shape {shape}, got samples of "
                                 f"shape {array.shape[1:]} (an array of shape {array.shape})")
            for layer, parents in zip(self._calls, self._graph):
                if -1 - j in parents:       # an Embedding's ids, checked as given
                    layer.check_input_values(array, label)
            checked.append(array)
        if len({a.shape[0] for a in checked}) > 1:
            raise ValueError(f"{name}: every input needs the same number of samples, got "
                             f"{[a.shape[0] for a in checked]}")
        # on the device when any input is there (CuPy moves host arrays only when asked: asarray)
        xp = next((backend.get_array_module(a) for a in checked if backend.get_array_module(a) is not np), np)
        packed = xp.empty((checked[0].shape[0], self.input_shape[0]), dtype=self.dtype)
        for view, array in zip(self._sources(packed), checked):
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

    def _walk(self, x, training):
        outputs, sources = [], self._sources(x)
        for k, (layer, parents) in enumerate(zip(self._calls, self._graph)):
            if len(parents) == 1 and not getattr(layer, "merges", False):
                inputs = sources[-1 - parents[0]] if parents[0] < 0 else outputs[parents[0]]
            else:
                inputs = [sources[-1 - p] if p < 0 else outputs[p] for p in parents]
            outputs.append(layer.forward(inputs, training=training))
            if training and id(layer) in self._shared:
                # a layer keeps one call's forward cache (its input, z, a...): each call's is kept
                # here, and put back before that call's backward
                if layer.activity_regularizer is not None:      # set since the model was made
                    raise NotImplementedError(f"{layer.describe()}: is called more than once and has an "
                                              f"activity_regularizer, whose penalty per call is not supported yet")
                self._call_caches[k] = _snapshot(layer)
            yield layer, inputs, outputs[-1]

    def _run_layers(self, x, training):
        for _, _, out in self._walk(x, training):
            pass
        return out

    def _backward(self, grad, fused, activity=None, seen=None, done=None):
        """The graph's backward walk: calls last to first, each given the sum of the gradients its
        readers sent back; a merge layer sends one to each input. A shared layer (called more than
        once) gets each call's forward cache back before that call's backward, and its ``grads``
        end as the sum over its calls. ``done(i)``, when given, runs right after call i's backward
        (before that sum: ``trace`` records each call's own share). See ``Sequential._backward``."""
        pending = [None] * len(self._calls)
        pending[-1] = grad
        last, totals = len(self._calls) - 1, {}
        for i in range(last, -1, -1):
            layer, grad = self._calls[i], pending[i]
            pending[i] = None           # let it go as soon as it is used
            shared = id(layer) in self._shared
            if shared:
                _restore(self._call_caches.pop(i))
            if activity and layer in activity:
                grad = self._with_activity_gradient(layer, grad)
            if seen is not None:
                seen(i, grad)
            grad = layer.backward_from_logits(grad) if fused and i == last else layer.backward(grad)
            if done is not None:
                done(i)
            if shared:          # backward wrote this call's gradients: add the later calls' (in place)
                earlier = totals.get(id(layer))
                if earlier is not None:
                    for key, g in layer.grads.items():
                        g += earlier[key]
                totals[id(layer)] = {key: g.copy() for key, g in layer.grads.items()}
            parents = self._graph[i]
            grads = grad if getattr(layer, "merges", False) else [grad]
            for p, g in zip(parents, grads):
                if p < 0:
                    continue            # the model's input: nobody needs its gradient
                if g is None:
                    raise missing_input_gradient(layer)
                # a layer read by several: the gradients add (a new array: none is changed in place)
                pending[p] = g if pending[p] is None else pending[p] + g
        self._call_caches.clear()       # (each was used once; a pass without backward leaves its own)

    def _release_data(self, *data):
        self._call_caches.clear()       # they hold views of the data too
        super()._release_data(*data)

    def __setstate__(self, state):
        # which layers are shared is kept by identity (id), which a copy (pickle, deepcopy) changes
        state.setdefault("_calls", list(state.get("layers", [])))      # pickled before shared layers
        state["_call_caches"] = {}
        super().__setstate__(state)
        self._shared = _shared_ids(self._calls)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_call_caches"] = {}      # a pass's caches are not the model's
        return state

    def _config(self, with_compile):
        config = super()._config(with_compile)
        config.pop("input", None)           # the Inputs, each with its name and shape:
        position = {id(layer): k for k, layer in enumerate(self.layers)}
        return {**config, "inbound": [list(parents) for parents in self._graph],
                "calls": [position[id(layer)] for layer in self._calls],
                "inputs": [{"name": name, "shape": list(shape)} for name, shape in
                           zip(self._input_names, self.input_shapes)]}

    def __repr__(self):
        return f"<Model {self.name!r} layers={len(self.layers)} built={self.built}>"

    @classmethod
    def _from_layers(cls, layers, inbound, inputs, calls=None, **kwargs):
        """The model a config describes: its layers (made, not built) called on its Inputs
        (``inputs``: ``[{"name", "shape"}, ...]``) as ``inbound`` says (layer i reads the layers
        ``inbound[i]``, -1 - j input j). What ``load_model`` and ``from_config`` rebuild from;
        both are checked first, since a file may say anything."""
        calls = list(range(len(layers))) if calls is None else calls      # each layer called once
        if not isinstance(calls, list) or not layers or not calls or not all(
                isinstance(c, int) and not isinstance(c, bool) and 0 <= c < len(layers) for c in calls):
            raise ValueError(f"config: 'calls' must list, for each call, which of the {len(layers)} layers it calls")
        if not isinstance(inbound, list) or len(inbound) != len(calls):
            raise ValueError(f"config: 'inbound' must list each of the {len(calls)} calls' inputs")
        if not isinstance(inputs, list) or not inputs or not all(
                isinstance(spec, dict) and set(spec) == {"name", "shape"} for spec in inputs):
            raise ValueError("config: 'inputs' must be a list of {'name': str, 'shape': [...]}, one per Input")
        sources = [InputLayer(spec["shape"], name=spec["name"]) for spec in inputs]
        called = [layers[c] for c in calls]
        for k, (layer, parents) in enumerate(zip(called, inbound)):
            merges = getattr(layer, "merges", False)
            if (not isinstance(parents, list) or not parents
                    or not all(isinstance(p, int) and not isinstance(p, bool) and -len(sources) <= p < k
                               for p in parents)
                    or (len(parents) != 1) != merges):
                raise ValueError(f"config: 'inbound' of call {k} ({layer.describe()}) must list "
                                 f"{'two or more earlier layers' if merges else 'one earlier layer'} (-1 - j: input j), got "
                                 f"{parents!r:.80}")
        tensors = replay(called, inbound, sources)
        model = cls(sources if len(sources) > 1 else sources[0], tensors[-1], **kwargs)
        # the graph's own order is the one it was saved in; any other would pair weights wrongly
        if (len(model.layers) != len(layers) or not all(a is b for a, b in zip(model.layers, layers))
                or len(model._calls) != len(called) or not all(a is b for a, b in zip(model._calls, called))):
            raise ValueError("config: its layers are not in the order of their graph (each after the layers "
                             "it reads, the output last), or some do not lead to the output")
        return model
