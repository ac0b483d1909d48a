"""The functional API: ``Model(inputs, outputs)``, a network whose layers form a graph (Keras').

    inputs = gn.Input((28, 28, 1))
    x = gn.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    y = gn.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = gn.layers.Add()([x, y])                       # a residual connection
    outputs = gn.layers.Dense(10, activation="softmax")(gn.layers.Flatten()(x))
    model = gn.Model(inputs, outputs)

Each call on an ``Input`` or on another call's result computes nothing: it returns a
``SymbolicTensor`` (layers/symbolic.py) that remembers the layer and what it was called on.
``Model`` walks those records back from the output to the input and keeps its layers in an order
where every layer comes after the layers it reads (``model.layers``), with, for each, where its
inputs come from (``_inbound``: the indices of those layers, -1 for the model's input).

Everything else is the Sequential's: ``compile``, ``fit``, ``evaluate``, ``predict``, ``trace``,
``summary``, ``save``. Only the two walks differ. Forward, each layer reads its inputs' outputs;
backward, the gradient reaching a layer's output is the SUM of what each layer reading it sends
back (a residual block's input gets the block's gradient plus the shortcut's), and a merge layer
sends one gradient to each of its inputs.

Not here yet: several inputs or outputs, a layer called twice (shared weights), a model used as a
layer of another, masks (Embedding(mask_zero=True), Masking) and texts; each is refused by name.
"""
from .layers.base import missing_input_gradient
from .layers.input import InputLayer
from .layers.symbolic import SymbolicTensor
from .model import Sequential


def _one(value, what):
    """``value``, or the only item of a one-item list (Keras takes either)."""
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise NotImplementedError(f"Model: {what}: several {what} are not supported yet (got {len(value)}); "
                                      f"join them with a merge layer (Concatenate) into one")
        value = value[0]
    return value


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
    """A network drawn as a graph of layer calls, from one ``Input`` to one output (Keras' functional
    ``Model``). See the module docstring.

    Parameters
    ----------
    inputs : InputLayer (``glassnet.Input(shape)``), or a list holding one
    outputs : the SymbolicTensor a layer call returned, or a list holding one
    name : str
    seed, dtype : as for ``Sequential``

    The model is built at once (its Input says the shape). ``model.layers`` lists the layers, each
    after the layers it reads; ``summary()`` says where each layer's inputs come from.

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

    def __init__(self, inputs, outputs, name="model", seed=None, dtype="float32"):
        super().__init__(seed=seed, dtype=dtype, name=name)
        inputs, outputs = _one(inputs, "inputs"), _one(outputs, "outputs")
        if not isinstance(inputs, InputLayer):
            raise TypeError(f"Model: inputs must be what glassnet.Input(shape) returned, got {type(inputs).__name__}")
        if inputs.dtype == "string":
            raise ValueError("Model: a functional Model takes no texts (Input dtype='string'); use a Sequential "
                             "starting with TextVectorization")
        if isinstance(outputs, InputLayer):
            raise ValueError("Model: outputs is the Input itself: call at least one layer on it")
        if not isinstance(outputs, SymbolicTensor):
            raise TypeError(f"Model: outputs must be what a layer called on the Input returned, got "
                            f"{type(outputs).__name__}")
        tensors, sources = _walk_back(outputs)
        other = [source for source in sources if source is not inputs]
        if other:       # (every walk back ends at some Input: that is where tensors start)
            raise ValueError(f"Model: the outputs depend on another Input than the model's inputs, {other[0]!r}; "
                             f"several inputs are not supported yet")
        layers = [tensor.layer for tensor in tensors]
        for k, layer in enumerate(layers):
            if any(layer is other for other in layers[:k]):
                raise NotImplementedError(f"Model: {layer.describe()} is called more than once; shared layers "
                                          f"(one layer's weights used twice) are not supported yet")
            if isinstance(layer, Sequential):
                raise NotImplementedError(f"Model: a model used as a layer ({layer!r}) is not supported yet")
            refusal = ("makes a mask, which a functional Model does not carry yet" if layer.makes_mask else
                       "turns texts into numbers, which a functional Model does not take" if
                       getattr(layer, "takes_text", False) else None)
            if refusal:
                raise NotImplementedError(f"Model: {layer.describe()} {refusal}; use a Sequential")
        index = {id(tensor): k for k, tensor in enumerate(tensors)}
        self._graph = [[-1 if parent is inputs else index[id(parent)] for parent in tensor.inputs]
                       for tensor in tensors]
        self._input_name = inputs.name
        self._declared_input = inputs.shape
        joined = []
        try:
            for layer in layers:
                joined.append(self._join(layer))
            self._build_samples(inputs.shape)
        except BaseException:
            self._unjoin(joined)            # the layers as they were: they joined no model
            raise

    @property
    def _inbound(self):
        return self._graph

    def add(self, layer):
        raise TypeError("add: a functional Model is fixed by its graph; call the layer on a model's output and "
                        "make a new Model, or use a Sequential")

    def pop(self):
        raise TypeError("pop: a functional Model is fixed by its graph; make a new Model from the tensors you "
                        "want to keep")

    def _walk(self, x, training):
        outputs = []
        for layer, parents in zip(self.layers, self._graph):
            if len(parents) == 1 and not getattr(layer, "merges", False):
                inputs = x if parents[0] < 0 else outputs[parents[0]]
            else:
                inputs = [x if p < 0 else outputs[p] for p in parents]
            outputs.append(layer.forward(inputs, training=training))
            yield layer, inputs, outputs[-1]

    def _run_layers(self, x, training):
        for _, _, out in self._walk(x, training):
            pass
        return out

    def _backward(self, grad, fused, activity=None, seen=None):
        """The graph's backward walk: layers last to first, each given the sum of the gradients its
        readers sent back; a merge layer sends one to each input. See ``Sequential._backward``."""
        pending = [None] * len(self.layers)
        pending[-1] = grad
        last = len(self.layers) - 1
        for i in range(last, -1, -1):
            layer, grad = self.layers[i], pending[i]
            pending[i] = None           # let it go as soon as it is used
            if activity and layer in activity:
                grad = self._with_activity_gradient(layer, grad)
            if seen is not None:
                seen(i, grad)
            grad = layer.backward_from_logits(grad) if fused and i == last else layer.backward(grad)
            parents = self._graph[i]
            grads = grad if getattr(layer, "merges", False) else [grad]
            for p, g in zip(parents, grads):
                if p < 0:
                    continue            # the model's input: nobody needs its gradient
                if g is None:
                    raise missing_input_gradient(layer)
                # a layer read by several: the gradients add (a new array: none is changed in place)
                pending[p] = g if pending[p] is None else pending[p] + g

    def _config(self, with_compile):
        return {**super()._config(with_compile), "inbound": [list(parents) for parents in self._graph],
                "input_name": self._input_name}

    def __repr__(self):
        return f"<Model {self.name!r} layers={len(self.layers)} built={self.built}>"

    @classmethod
    def _from_layers(cls, layers, inbound, input_shape, input_name=None, **kwargs):
        """The model a config describes: its layers (made, not built) called on an Input of
        ``input_shape`` as ``inbound`` says (layer i reads the layers ``inbound[i]``, -1 the input).
        What ``load_model`` and ``from_config`` rebuild from; ``inbound`` is checked first, since a
        file may say anything."""
        if not isinstance(inbound, list) or len(inbound) != len(layers) or not layers:
            raise ValueError(f"config: 'inbound' must list each of the {len(layers)} layers' inputs")
        inputs = InputLayer(input_shape, name=input_name)
        tensors = []
        for k, (layer, parents) in enumerate(zip(layers, inbound)):
            merges = getattr(layer, "merges", False)
            if (not isinstance(parents, list) or not parents
                    or not all(isinstance(p, int) and not isinstance(p, bool) and -1 <= p < k for p in parents)
                    or (len(parents) != 1) != merges):
                raise ValueError(f"config: 'inbound' of layer {k} ({layer.describe()}) must list "
                                 f"{'two or more' if merges else 'one'} earlier layers (-1: the input), got "
                                 f"{parents!r:.80}")
            sources = [inputs if p < 0 else tensors[p] for p in parents]
            tensors.append(layer(sources if merges else sources[0]))
        model = cls(inputs, tensors[-1], **kwargs)
        # the graph's own order is the one it was saved in; any other would pair weights wrongly
        if len(model.layers) != len(layers) or not all(a is b for a, b in zip(model.layers, layers)):
            raise ValueError("config: its layers are not in the order of their graph (each after the layers "
                             "it reads, the output last), or some do not lead to the output")
        return model

