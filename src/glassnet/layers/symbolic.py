"""Symbolic tensors: what layers pass one another while a functional ``Model`` is drawn (Keras'
``KerasTensor``).

``x = Input((28, 28, 1))`` is where the data will come in; ``y = Dense(10)(x)`` computes nothing:
it returns a ``SymbolicTensor`` that records the layer, the tensors it was called on and the shape
of one sample of its output. ``glassnet.Model(x, y)`` then walks these records back from ``y`` to
``x`` to find its layers and how they connect (see ``glassnet.graph``).
"""
import sys

import numpy as np

from .. import _dead_calls as dead_calls, backend
from .._bounds import check_output
from .._flagless import NOT_GIVEN, TRUE_IF_UNSET, own_mode
from .base import call_arguments_set, shape_fits, sized_axes_needed
from .input import InputLayer, TensorOperators, no_array_attribute


class SymbolicTensor(TensorOperators):
    """The output of ``layer`` called on ``inputs`` (InputLayers or SymbolicTensors), before any data.

    Attributes
    ----------
    layer : Layer
    inputs : tuple of InputLayer or SymbolicTensor
        What the layer was called on: one, or a merge layer's list.
    sample_shape : tuple
        One sample of the output (None: any size).
    shape : tuple
        Keras' form, the batch axis first as None: ``(None, *sample_shape)``.
    dtype : str
        The dtype ``predict`` gives for this output: the model's float dtype, "float32" unless
        the layer, or the model it is built in, says "float64" (see the property).
    nested_in : glassnet._summary.Nested or None
        The model whose call (``base(x)``) made this tensor, for the summary of a model drawn on it.
    """
    nested_in = None

    def __init__(self, layer, inputs, sample_shape):
        self.layer, self.inputs, self.sample_shape = layer, tuple(inputs), tuple(sample_shape)

    @property
    def shape(self):
        return (None, *self.sample_shape)

    @property
    def ndim(self):
        """The number of axes of ``shape``, the batch axis included (Keras' ``KerasTensor.ndim``)."""
        return len(self.sample_shape) + 1

    @property
    def dtype(self):
        """The name of the dtype the output will have: what ``predict`` returns for it (Keras'
        ``KerasTensor.dtype``).

        Inside a glassnet model every value travels in the model's float dtype: the model casts
        its inputs to it, whatever an ``Input``'s ``dtype`` declared, and every layer computes in
        it, lookups and text layers included (their ids and counts are whole numbers in floats).
        A model gives its dtype to its layers when it builds them, and refuses a layer of another;
        so the layer's dtype is the answer once it has one: given (``Dense(3, dtype="float64")``)
        or set by a model (``Model(x, y, dtype="float64")``). Before that, the default, float32
        (Keras' floatx), unless the tensor it was called on is known to be float64 already (a
        layer with no dtype of its own, such as a reader of another call, inherits it).
        Read at the time asked, so drawn tensors follow their model's dtype once it is built.

        Keras differs where a layer does not compute in floats: its lookups, ``Hashing`` and
        ``TextVectorization`` give "int64", and a layer passing an integer ``Input`` through
        (``Identity``, ``Reshape``) keeps that dtype; glassnet's give the model's float dtype,
        as its ``predict`` does.

        >>> from glassnet.layers import Dense, Input
        >>> Dense(2)(Input((3,))).dtype, Dense(2, dtype="float64")(Input((3,))).dtype
        ('float32', 'float64')
        """
        tensor = self
        while True:
            own = getattr(tensor.layer, "dtype", None)
            if own is not None:
                return np.dtype(own).name
            # the first input decides for a layer without one (all of a model's share its dtype)
            first = tensor.inputs[0] if tensor.inputs else None
            if not isinstance(first, SymbolicTensor):
                return backend.resolve_dtype(None).name
            tensor = first

    def __repr__(self):
        return f"<SymbolicTensor shape={self.shape} from {self.layer.describe()}>"

    def _no_values(self, *_args, **_kwargs):
        raise TypeError(f"{self!r} holds no values yet: while a model is drawn (a functional Model, or a subclass "
                        f"of Model's call) only layers can be called on it, besides +, -, *, /, **, @, //, %, comparisons, &, |, ^, ~, "
                        f"round(), unary -, abs() and basic indexing (x[:, 0]), each a node of the model, and "
                        f"glassnet.ops' functions (ops.tanh(x), ops.mean(x, axis=1)); for "
                        f"other functions, a Layer of your own (or the merge layers: gn.layers.Maximum, Concatenate, ...); "
                        f"for an activation, its layer (gn.layers.Activation(\"relu\"), ReLU())")

    def __getattr__(self, name):
        # only for attributes it lacks: an array's (x.size, x.max; x.ndim is Keras', above), which
        # glassnet.activations' functions read when Keras' ``keras.activations.relu(x)`` in a call
        # is ported as it is.
        # Still an AttributeError, so that hasattr and getattr(x, name, default) answer as before;
        # dunder lookups (copy, pickle) are left to Python's own message
        raise no_array_attribute(self, name, "it holds no values yet while a model is drawn")

    # +, -, *, /, **, unary -, abs() and indexing make TensorOp calls (TensorOperators); the other
    # operators, NumPy and truth tests on a tensor that has no values: one clear error for each
    __array__ = __bool__ = __iter__ = _no_values
    # @, //, %, comparisons, &, |, ^, ~, round() and != of a number or an array are glassnet.ops' nodes
    # (TensorOperators); == and != between tensors stay identity, as for any object (the graph code
    # finds tensors in lists by them)
    # NumPy's functions (np.tanh(x)) and operators (array + x) call __array_ufunc__ (TensorOperators'):
    # array + x is a TensorOp, np.tanh(x) this error, not NumPy's "does not support ufuncs"


def not_an_input(label, given):
    """The TypeError for ``given``, listed as the model's input ``label`` ("inputs[0]",
    "inputs['thal']"), which is not an ``Input``. A layer's output there is Keras'
    ``Model(inputs=encoded_features, ...)`` (its FeatureSpace tutorial's training model), which
    starts a model in the middle of a graph: say what to write instead."""
    if isinstance(given, SymbolicTensor):
        return TypeError(f"Model: {label} must be what glassnet.Input(shape) returned, got a layer's output "
                         f"({given!r}): glassnet's models start at Inputs (Keras' Model(inputs=encoded_features) "
                         f"starts mid-graph); draw the model on an "
                         f"Input of its shape, gn.Input({given.sample_shape}), and call that model on the tensor "
                         f"(model(tensor)) for the model of the inputs it was computed from")
    return TypeError(f"Model: {label} must be what glassnet.Input(shape) returned, got {type(given).__name__}")


def is_symbolic(x):
    """Whether ``x`` is a symbolic tensor, an ``Input``, or a list of them (a merge layer's)."""
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(t, (SymbolicTensor, InputLayer)) for t in x)
    return isinstance(x, (SymbolicTensor, InputLayer))


def holds_symbolic(x):
    """Whether ``x``, or any item of a list, tuple or dict ``x`` at any depth, is symbolic (see
    ``is_symbolic``): ``{"g": {"a": tensor}}`` is a call made while a model is drawn, which the
    called model refuses by name, not data to predict on."""
    if isinstance(x, dict):
        return any(holds_symbolic(t) for t in x.values())
    if isinstance(x, (list, tuple)):
        return any(holds_symbolic(t) for t in x)
    return isinstance(x, (SymbolicTensor, InputLayer))


def in_drawing_order(roots):
    """Every symbolic tensor that ``roots`` (tensors, Inputs, and lists and tuples of them, at any
    depth) lead back to through ``inputs``, each listed after the tensors it was called on.

    What a model pickles (and deep-copies) first: each tensor then finds the ones it was called on
    already written, and pickle recurses one call deep, not down the whole graph (a few Python
    frames per call: a RecursionError past a hundred or so layers)."""
    order, seen, stack = [], set(), [(root, False) for root in roots]
    while stack:
        item, inputs_done = stack.pop()
        if inputs_done:
            order.append(item)
        elif isinstance(item, (list, tuple)):
            stack.extend((inner, False) for inner in reversed(item))
        elif isinstance(item, SymbolicTensor) and id(item) not in seen:
            seen.add(id(item))
            stack.append((item, True))
            stack.extend((given, False) for given in reversed(item.inputs))
    return order


def sample_shape_of(tensor):
    """One sample's shape of a symbolic tensor or an Input (their ``.shape`` is Keras', the batch
    axis first)."""
    return tensor.sample_shape


def call_symbolic(layer, inputs, training=None, options=None):
    """``layer(inputs)`` while a model is drawn: the ``SymbolicTensor`` of its output, its shape
    worked out by the layer's ``output_shape`` (nothing is built: ``Model`` builds every layer with
    the model's dtype and seed). A shape the layer cannot take is refused here, by name."""
    scopes = sys.modules.get("glassnet.scopes")
    if scopes is not None:
        # the model builds the layer later: its Keras weight paths keep the gn.name_scope of this
        # first call, where Keras builds it
        scopes.record_build_scope(layer)
    merges = getattr(layer, "merges", False)
    listed = isinstance(inputs, (list, tuple))
    if merges and not listed:
        raise TypeError(f"{layer.describe()}: merges a list of inputs, e.g. {type(layer).__name__}()([a, b]); "
                        f"got one {type(inputs).__name__}")
    # a recurrent layer's call with initial_state: [x, *states] (see layers/recurrent.py)
    with_states = listed and not merges and len(inputs) == 1 + getattr(layer, "state_count", -1)
    if listed and not merges and not with_states:
        # a layer of the user's own (Keras' call(inputs) unpacking a list, a Siamese network's
        # distance): the class attribute that makes it take the list is otherwise found nowhere
        own = "" if type(layer).__module__.startswith("glassnet.") else (
            "; for a layer of your own that takes the list, set merges = True in its class: its forward then "
            "takes the list of arrays, its backward returns a list of their gradients, and output_shape takes "
            "the list of their sample shapes")
        raise TypeError(f"{layer.describe()}: takes one input, got a list of {len(inputs)}; merge them first "
                        f"(Concatenate, Add, ...){own}")
    parents = list(inputs) if listed else [inputs]
    if any(isinstance(p, InputLayer) and p.dtype == "string" for p in parents) and not (
            getattr(layer, "takes_text", False) and len(parents) == 1):
        # StringLookup and Hashing read string Inputs too (Keras' structured-data columns), and
        # they take the Input itself: Keras' expand_dims (a Reshape here) before them has no port
        raise ValueError(f"{layer.describe()}: takes numbers, and this Input holds texts (dtype='string'); call a "
                         f"TextVectorization, StringLookup or Hashing on the Input itself first (one string per "
                         f"sample: Keras' expand_dims before a lookup is not needed)")
    if getattr(layer, "input_spec", None) is not None:     # Keras' input_spec, on the tensors as drawn
        from .base import _check_spec
        _check_spec(layer, parents if listed else parents[0], drawn=True)
    if hasattr(layer, "bind_call"):     # a layer reading another call's values (layers/readers.py)
        layer.bind_call(parents[0])
    shapes = [sample_shape_of(p) for p in parents]
    if getattr(layer, "takes_text", False) and isinstance(parents[0], InputLayer) and parents[0].dtype == "string":
        shapes = [layer.ids_shape()]        # what the model hands it: the ids it makes of the texts
    shape = shapes if merges else shapes[0]
    if with_states and [tuple(s) for s in shapes[1:]] != layer.state_shapes_for(shapes[0]):
        raise ValueError(f"{layer.describe()}: initial_state takes tensors of samples of shapes "
                         f"{layer.state_shapes_for(shapes[0])}, got {[tuple(s) for s in shapes[1:]]}")
    with call_arguments_set(layer, options):         # this call's own (a ReversibleEmbedding's reverse)
        if layer.built:
            layer.check_input_shape(shape)
        elif not merges and layer.input_shape is not None and not shape_fits(shape, layer.input_shape):
            raise ValueError(f"{layer.describe()}: declares input samples of shape {tuple(layer.input_shape)}, "
                             f"but is called on samples of shape {tuple(shape)}")
        with sized_axes_needed(layer, shape if not merges else ()):
            out = layer.output_shape(shape)
    check_output(layer, out)        # as a model's build checks it (glassnet._bounds), when drawn
    tensor = SymbolicTensor(layer, parents, out)
    if not with_states:
        _warn_if_mask_dropped(layer, parents[0])
    # this call's own mode (Keras: layer(x, training=False) runs in inference mode whatever the
    # model's pass) and a layer's own call arguments (an attention layer's use_causal_mask, a
    # ReversibleEmbedding's reverse)
    tensor.training, tensor.options = check_training(layer, training), dict(options or {})
    # Keras' layer.output: the tensor of its first call, for drawing a sub-model from a layer inside
    if "_first_call" not in vars(layer):
        layer._first_call = (parents, tensor)
    dead_calls.note(tensor)         # (a block's call keeps those reaching no output: glassnet._dead_calls)
    return tensor


def _warn_if_mask_dropped(layer, source):
    """Keras 3.15's warning (glassnet._block_masks.warn_mask_dropped) where ``layer``, which does
    not support masking, is drawn on ``source`` carrying a mask: once per layer, when drawn."""
    from .._block_masks import carries_mask, drops_mask_as_keras, warn_mask_dropped
    if drops_mask_as_keras(layer) and carries_mask(source):
        warn_mask_dropped(layer)


def with_readers(layer, main, readers):
    """Keras' several tensors from one call of ``layer``: ``main`` (the call's own) and each of
    ``readers`` (layers/readers.py) called on it, as a list; ``layer.output``, when this was its
    first call, becomes that list too, as Keras' does."""
    tensors = [main, *(call_symbolic(reader, main) for reader in readers)]
    if layer.__dict__.get("_first_call", (None, None))[1] is main:
        layer._first_call = (layer._first_call[0], tensors)
    return tensors


def check_training(layer, training):
    """A call's ``training``: None (the model's pass decides), True or False; given none
    (``NOT_GIVEN``), ``TRUE_IF_UNSET`` for a layer whose ``training_default`` is True, as an image
    augmentation (glassnet._flagless), else None; or, from a graph
    (a model file, a nested model's calls), glassnet._flagless' ``TRUE_IF_UNSET``."""
    if training is NOT_GIVEN:       # Keras: the enclosing call's flag, else call's default (glassnet._flagless)
        return own_mode(layer, None)
    if isinstance(training, str) and training == TRUE_IF_UNSET:      # (an array would compare elementwise)
        return training
    if training is not None and not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"{layer.describe()}: training must be True, False or None, got {training!r:.40}")
    return None if training is None else bool(training)


def valid_call_option(option, parents):
    """Whether a config's ``option`` for a call reading ``parents`` (its list of sources) is one a
    drawn call records (``tensor.options``): None, or a dict of the flags ``use_causal_mask``,
    ``attention_mask`` and ``reverse`` (each True or False) and ``keras_order``, the order Keras'
    call reads its inputs in (an attention layer given tensors by keyword: a permutation of the
    positions in ``parents``, glassnet/_layer_order.py)."""
    if option is None:
        return True
    if not isinstance(option, dict) or not set(option) <= {"use_causal_mask", "attention_mask", "reverse", "keras_order"}:
        return False
    order = option.get("keras_order", [])
    if not isinstance(order, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in order) or (
            order and (not isinstance(parents, list) or sorted(order) != list(range(len(parents))))):
        return False
    return all(isinstance(v, bool) for key, v in option.items() if key != "keras_order")


def replay(calls, inbound, sources, modes=None, options=None):
    """Call each of ``calls`` (layers, in order) on its inputs as ``inbound`` says (per call: the
    indices of earlier calls it reads, -1 - j for ``sources[j]``) and return every call's
    symbolic output: a model's graph drawn again on new tensors (a model called as a layer, a
    model file read back). ``modes``, ``options``: each call's own (see ``call_symbolic``)."""
    from .readers import CallReader
    tensors, read = [], {}
    for k, (layer, parents) in enumerate(zip(calls, inbound)):
        given = [sources[-1 - p] if p < 0 else tensors[p] for p in parents]
        tensors.append(call_symbolic(layer, given if getattr(layer, "merges", False) or len(given) > 1 else given[0],
                                     None if modes is None else modes[k], None if options is None else options[k]))
        if isinstance(layer, CallReader) and parents and parents[0] >= 0:
            read.setdefault(parents[0], []).append((getattr(layer, "index", 0), tensors[-1]))
    # Keras' list layer.output for a call with extra tensors (a recurrent layer's last states,
    # an attention layer's scores), each in its place: those the graph read, and a recurrent
    # layer's states it never read drawn again, as the first draw made them (with_readers)
    from .recurrent import CarriesStates, LastState
    for k, layer in enumerate(calls):
        states = isinstance(layer, CarriesStates) and getattr(layer, "return_state", False)
        if (k not in read and not states) or layer.__dict__.get("_first_call", (None, None))[1] is not tensors[k]:
            continue
        drawn = dict(read.get(k, []))
        # (a Bidirectional(merge_mode=None)'s BackwardOutput at -1, before the states)
        places = sorted({*drawn, *(range(layer.state_count) if states else ())})
        extra = [drawn[place] if place in drawn else call_symbolic(LastState(place), tensors[k]) for place in places]
        layer._first_call = (layer._first_call[0], [tensors[k], *extra])
    return tensors
