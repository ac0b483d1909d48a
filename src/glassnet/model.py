"""Sequential: a stack of layers trained by forward propagation, backpropagation and an optimizer.

One training step (``_loss_and_gradients`` + ``_optimizer_step``) is the seeds' loop made explicit::

    out = x;  for layer in layers:           out = layer.forward(out, training=True)
    grad = dL/d(out)  (fused to (y_hat - y)/N for a sigmoid/softmax output with cross-entropy)
    for layer in reversed(layers):           grad = layer.backward(grad)   # fills layer.grads
    optimizer.apply([(key, param, grad), ...])                             # in place
    param[...] = constraint(param)           for each kernel_constraint=... (none by default)
"""
import functools

import numpy as np

from . import _names, _seeding, activations, backend, losses, metrics as metrics_module, optimizers
from ._warnings import warn
from ._bounds import check_output
from ._listforms import compile_forms, one_loss_weight
from ._block_pop import last_block, note as note_block, pop_block
from ._lazy_blocks import join_pending, known_input, waits as waits_for_shape
from ._nested_build import build_waiting, stop_waiting, wait_for_layers
from ._serial import serialized
from .callgraph import CallGraphMixin, shared_ids
from ._dictoutputs import loss_log_order
from ._flagless import chain_modes
from .compile_config import CompileConfigMixin
from ._validation import check_flag, check_name, check_seed
from .describing import DescribingMixin
from .inference import InferenceMixin
from .parameters import ParametersMixin, follow_weight, record_build_path
from ._trainable_fresh import flags_changed, fresh_trainable_weights
from .layers import Layer
from .layers.base import (_assign as _assign_weights, _sample_shape, call_arguments_set, free_name, shape_fits,
                          sized_axes_needed, snake_case, stateful_layers)
from .layers.input import InputLayer
from .layers.masking import OutputMask, plan_graph_masks, plan_masks
from ._compile_order import keras_arguments, loss_and_optimizer
from .outputs import OutputMetric, as_given, compile_heads, make_heads, set_layouts
from .preparing import PreparingMixin
from ._model_shapes import ModelShapesMixin
from ._model_state import ModelStateMixin
from ._sequential_tensors import SequentialTensorsMixin
from .training import TrainingMixin
from . import _optimizer_claims as optimizer_claims
from ._run_settings import checked_run_settings, keep_run_settings


def keras_compile_order_refused(compile):
    """``compile`` taking Keras' positional order (glassnet._compile_order): an optimizer first,
    ``compile("adam", "mse", 0.5)`` or ``compile("adam", loss=...)`` (keras.io's miniature GPT),
    each positional argument in Keras' place (the third is loss_weights, where glassnet's order has
    metrics, and a Sequential's fourth weighted_metrics). Refused by name: a positional argument
    that is not an optimizer with ``loss=`` (Python would say only "got multiple values for
    argument 'loss'")."""
    @functools.wraps(compile)           # (inspect.signature still shows compile's own)
    def checked(self, *args, **kwargs):
        keras_order = keras_arguments(args, kwargs)
        if keras_order is not None:
            return compile(self, **keras_order)
        if args and "loss" in kwargs:
            raise TypeError(f"compile: got loss= and a positional argument, {args[0]!r:.60}; compile takes "
                            f"(loss, optimizer), Keras' compile (optimizer, loss): pass them by keyword, "
                            f"compile(loss=..., optimizer=...)")
        return compile(self, *args, **kwargs)
    return checked


def _refuse_in_a_chain(layer):
    """Refuse, by name, a layer that a Sequential (one array from layer to layer) cannot hold."""
    if not isinstance(layer, Layer):
        # Keras' Sequential([Dense(4), "relu"]) fails as this one does: name the layer to write
        hint = (f" (an activation is a layer: Activation({layer!r}), or Dense(..., activation={layer!r}))"
                if isinstance(layer, str) else "")
        raise TypeError(f"add: expected a glassnet layer or model, got {type(layer).__name__} {layer!r:.60}{hint}")
    if getattr(layer, "return_state", False):
        raise ValueError(f"add: {layer.describe()} has return_state=True: it returns several arrays (its output and "
                         f"its last states), which a Sequential cannot pass on; draw a functional glassnet.Model, or "
                         f"use return_sequences=True for every step's state")
    if getattr(layer, "graph_only", False):
        raise ValueError(f"add: {layer.describe()} reads another layer's states, in a functional glassnet.Model only")
    if type(layer).__name__ == "Bidirectional" and getattr(layer, "merge_mode", "") is None:
        raise ValueError(f"add: {layer.describe()} has merge_mode=None: it returns two arrays (the forward and the "
                         f"backward reader's outputs), which a Sequential cannot pass on; draw a functional "
                         f"glassnet.Model, or give a merge_mode (\"concat\", \"sum\", \"mul\", \"ave\")")


def _as_found(layer):
    """``(given, built)``: what ``_give_back`` and ``Sequential._unjoin`` need to put ``layer``
    back as it is now, before it joins a model (see ``Sequential._join``)."""
    given = (layer.name, layer.dtype, layer.rng, layer.__dict__.get("_rng_from_seed"),
             layer.__dict__.get("_stream_origin"))
    return given, (layer.built, dict(layer.params), dict(layer.grads), layer.input_shape)


def _give_back(layer, given):
    """A layer's name, dtype and generator (and whether a seed made it, and the origin of its
    stream) as ``Sequential._join`` found them: it left no model, or never joined one."""
    layer.name, layer.dtype, layer.rng, from_seed, origin = given
    for attribute, value in (("_rng_from_seed", from_seed), ("_stream_origin", origin)):
        if value is None:
            layer.__dict__.pop(attribute, None)
        else:
            setattr(layer, attribute, value)


def _keep_stream(layer, rng, origin):
    """``layer`` draws from ``rng`` again, the stream a seeded model gave it before it joined this
    one (whose origin, ``(entropy, spawn_key)``, configs record: see ``glassnet._seeding``)."""
    layer.rng, layer._rng_from_seed, layer._stream_origin = rng, True, origin


# Keras' ways to change fit's step (a subclass's methods, of Sequential or Model): fit, evaluate and
# predict run them (glassnet.own_steps, default_steps)


FIT_STEPS = ("train_step", "test_step", "compute_loss", "compute_metrics")     # those that make fit's step


def defines_step(cls, step):
    """Whether the class ``cls`` (a subclass of Sequential or Model) defines one of Keras' steps
    (``step``: "train_step", "test_step", "predict_step", "compute_loss", "compute_metrics")
    itself, not only Sequential's default (Keras' own, glassnet.default_steps)."""
    own = getattr(cls, step, None)
    return callable(own) and own is not getattr(Sequential, step)


def runs_test_step(cls):
    """Whether evaluate runs the class's ``test_step``: its own, or Keras' default one calling its
    ``compute_loss`` or ``compute_metrics`` (which glassnet's compiled evaluation would not)."""
    return any(defines_step(cls, step) for step in ("test_step", "compute_loss", "compute_metrics"))


def metric_list(value, what):
    """``compile``'s ``metrics`` or ``weighted_metrics`` (``what``) as a list: None as none; a
    TypeError for a string or a dict (Keras' per-output dict is for models of several outputs)."""
    if isinstance(value, dict):          # iterating it would read its keys
        raise TypeError(f"{what}: expected a list such as ['accuracy'], got a dict {value!r:.80} "
                        f"(Keras' per-output dict is for models with several outputs)")
    if value is not None and (isinstance(value, str) or not hasattr(value, "__iter__")):
        raise TypeError(f"{what}: expected a list such as ['accuracy'], got {value!r}")
    return list(value or [])



def fuses_with(layer, activation):
    """Whether the output ``layer``'s gradient may start from dL/dz, the loss's fused gradient for
    the built-in ``activation`` ("softmax", "sigmoid"): the layer applies that very activation,
    takes dL/dz (``backward_from_logits``) and has no penalty on its output (whose gradient dL/dz
    would skip). Not when a subclass overrides ``backward`` below the class that gives
    ``backward_from_logits`` (a Dense of yours with its own backward: training would skip it), nor
    for an Activation of your own under the built-in's name (its maths may differ:
    ``activations.builtin_of``)."""
    act = getattr(layer, "activation", None)
    if (not isinstance(act, activations.Activation) or act.name != activation
            or activations.builtin_of(act) is not activations.ACTIVATIONS.get(activation)
            or not hasattr(layer, "backward_from_logits") or layer.activity_regularizer is not None):
        return False
    mro = type(layer).__mro__
    gives = next(i for i, cls in enumerate(mro) if "backward_from_logits" in cls.__dict__)
    overrides = next((i for i, cls in enumerate(mro) if "backward" in cls.__dict__), len(mro))
    return overrides >= gives

def _batch_entry(value):
    """The batch size of a shape's first entry (Keras' batch axis): None or a positive int; a
    ValueError otherwise (the sample axes are checked by ``_sample_shape``)."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0:
        return int(value)
    raise ValueError(f"build: input_shape's first entry is the batch axis, as in Keras: None or a positive integer, "
                     f"got {value!r:.40}")


class Sequential(TrainingMixin, InferenceMixin, PreparingMixin, ParametersMixin, DescribingMixin, CallGraphMixin,
                 CompileConfigMixin, SequentialTensorsMixin, ModelShapesMixin, ModelStateMixin):
    """A linear stack of layers.

    Parameters
    ----------
    layers : list of Layer, optional
        The first may be ``Input(shape)`` (Keras 3's way to declare the input; it is not kept in
        ``model.layers``).
    seed : int, optional
        Fixes the initial weights, the shuffling and every random layer (Dropout): the same seed gives
        the same training run, bit for bit.
    dtype : {"float32", "float64"} or None
        The dtype of every parameter, activation and gradient. Inputs are cast to it once. None
        (the default): ``backend.floatx()`` when the model is made, float32 unless
        ``glassnet.config.set_floatx`` changed it (Keras' layers' dtype=None).

    Example
    -------
    >>> from glassnet.layers import Dense
    >>> model = Sequential([Dense(8, activation="relu", input_dim=2), Dense(1, activation="sigmoid")], seed=0)
    >>> model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    >>> history = model.fit(X, y, epochs=10, verbose=0)       # doctest: +SKIP
    >>> model.get_layer("dense_1") is model.layers[-1]
    True
    """

    _draws_call = False         # glassnet.Model's subclasses are drawn from their call; a Sequential's never is
    # Keras' input_spec: a layer's attribute, read before each call in a model's passes (training.py,
    # callgraph.py); a model nested as a layer has none, unless a block drawn from call sets its own
    input_spec = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # A Sequential runs its layers in order: a call written in a subclass of it would never run
        # (predict, fit and a graph drawn from it skip it), where Keras' Sequential runs it. Refused
        # as the class is made, rather than silently computing something else.
        if callable(getattr(cls, "call", None)) and not cls._draws_call:
            raise TypeError(f"{cls.__name__}: a subclass of Sequential defines call, which glassnet never runs "
                            f"(a Sequential runs its layers in order); subclass glassnet.Model for a call of "
                            f"your own (Keras' model subclassing)")
        # Keras' steps of a subclass's own, read once per class so that fit, evaluate and predict
        # dispatch on one attribute (glassnet.own_steps): a train_step is fit's step, and so is
        # Keras' default one for a class overriding what it calls (compute_loss, compute_metrics)
        # or test_step; evaluate runs test_step (the default one where compute_loss or
        # compute_metrics is overridden). A Sequential subclass (the guide's code written on
        # keras.Sequential) as a subclass of Model; classes that override none keep the compiled step
        cls._own_steps = any(defines_step(cls, step) for step in FIT_STEPS)
        # (a Model without call, Keras' GAN, has no outputs for a default evaluation; a Sequential
        # has its layers)
        cls._own_tests = runs_test_step(cls) or (cls._own_steps and cls._draws_call
                                                 and not callable(getattr(cls, "call", None)))
        cls._own_predicts = defines_step(cls, "predict_step")

    # on the class too: a model pickled before Input or regularizers existed lacks them
    _declared_input = None
    _declared_text = False        # an Input(dtype="string"): a TextVectorization comes first
    # the name an Input at the top was given (Keras' key for x in a dict, {name: x}); None: unnamed
    _declared_name = None
    # compile's loss_weights of the one output (Keras'): the loss trained on is the loss times it
    _loss_weight = 1.0
    # compile(loss="crossentropy" or "ce", any case) once the first batch has picked the loss it
    # stands for (_pick_crossentropy): the name as given, which the compile config records (Keras')
    _loss_as_given = None
    # a functional Model's graph gives each Input of texts its reader (graph.Model): none need be first
    _text_inputs_drawn = False
    _penalties = _constrained = ()
    _output_mask = None
    _mask_plan = ()
    # a model is callable (model(x), as Keras'), but it is not the function an argument that takes
    # one wants (a metric, an initializer, a schedule, a Dask sweep's build_fn): those refuse it
    is_model = True

    _heads = None       # a functional Model's outputs, when it has several (glassnet.outputs); a
    # Sequential's, when its last layer is such a model (_add_model: its heads, at this model's calls)
    _output_keys = None         # those outputs given as a dict: its keys, as given (glassnet._dictoutputs)
    # a functional Model's outputs given as nested lists: the nesting of their places (glassnet._nested_outputs)
    _keras_output_nesting = None
    _walked = None              # with several outputs: every call's output in the latest walk (callgraph)
    # a functional Model nested (add(base)): the layer of each call and its sources, as a graph's
    # (callgraph.py); None while the model is a chain of its layers. With them: each call's own
    # mode and arguments, the layers called more than once and their calls' forward caches
    _nested_calls = _nested_inbound = None
    _call_modes = _call_options = None
    _shared = frozenset()
    _call_caches = {}
    # the models nested in this one, as summary shows them (glassnet._summary.Nested records)
    _nesting = ()
    _defer_build = False        # the constructor's layers joining: built once all have (__init__)
    # a subclass block not drawn yet, added before the input's shape was known, and all added after
    # it: they join once it is (build, the first data, a call on a tensor: glassnet._lazy_blocks)
    _pending = ()
    _block_marks = ()           # the blocks written with call that joined it: pop takes one out whole (glassnet._block_pop)
    # (key, layer): a functional Model whose one output is given as a dict {key: tensor} was
    # nested here, its output made by `layer`; while that layer makes this model's output, the
    # model gives and takes that dict as Keras does (_nested_dict_key)
    _dict_output = None

    def __init__(self, layers=None, seed=None, dtype=None, name=None):
        self.dtype = backend.resolve_dtype(dtype)
        self.seed = check_seed(seed)
        # Keras' default name, numbered per session (sequential, sequential_1; a subclass' own name)
        self.name = check_name(name) or _names.auto_name(self._default_name())
        # one root of randomness: streams for shuffling (0,) and for each layer (1, i)
        self._entropy = np.random.SeedSequence(self.seed).entropy if self.seed is not None else _seeding.entropy()
        self.shuffle_rng = np.random.default_rng(np.random.SeedSequence(self._entropy, spawn_key=(0,)))
        self.layers = []
        self.built = False
        self._output_shapes = None    # each layer's per-sample output shape, checked on first use
        self._sample_input_shape = None
        self._declared_input = None   # the shape an Input at the top declared (it is not a layer)
        self.loss = self.optimizer = None
        # compile's [(name, function or Metric)], which glassnet's loops read; ``metrics`` is the
        # public view (a property: a subclass with its own train_step may define its own)
        self._compiled_metrics = []
        self.stop_training = False
        self.initial_epoch = 0        # epochs already trained (set by load_model from a checkpoint)
        self.history = None           # the last fit's History (Keras' model.history)
        if isinstance(layers, Layer):         # Sequential(Dense(1)): "'Dense' object is not iterable"
            raise TypeError(f"layers: expected a list of layers, got a single {type(layers).__name__}: "
                            f"write Sequential([{type(layers).__name__}(...)])")
        if isinstance(layers, (str, dict)):     # iterated, a string gave its letters, a dict its keys
            raise TypeError(f"layers: expected a list of layers, got a {type(layers).__name__} {layers!r:.60}")
        layers = list(layers or [])
        # one build once all of them joined: a build walks every layer so far, so a build per
        # layer added made n layers take n**2 / 2 layer builds (10,000 layers: minutes). (Not
        # with a nested model, whose layers join as add joins them, onto the layers built so far.)
        # all or nothing: a constructor refused leaves every layer it was given as it found it (a
        # layer shared with another model keeps that model's name and generator)
        found = {id(layer): _as_found(layer) for item in layers
                 for layer in (item.layers if isinstance(item, Sequential) else [item] if isinstance(item, Layer) else [])}
        deferred = self._defer_build = not any(isinstance(layer, Sequential) for layer in layers)
        try:
            try:
                for layer in layers:
                    self.add(layer)
            finally:
                self.__dict__.pop("_defer_build", None)         # the class's False again
            if self.layers and not self.built:
                self._build_after_add()
            if deferred and self.layers:
                # add's check of where each layer's masks go (_check_masks_reach), once over them all
                # and after the build: an Embedding's mask has axes within the steps (which
                # TimeDistributed drops) only once it knows its ids' shape
                plan_masks(self.layers, warn_for=True)
        except BaseException:
            self._unjoin([(layer, *found[id(layer)]) for layer in self.layers])
            raise

    # -- assembling ---------------------------------------------------------------------------
    def add(self, layer):
        """Append ``layer``; builds the model at once when the first layer knows its input shape.

        Adding a layer to a built model changes its parameter layout: the optimizer's state is laid
        out anew, the old weights keeping theirs, the new layer's starting from the rule's initial
        state (zeros), the step count going on (glassnet._state_carry; Keras 3.15 refuses the new
        variables with the same optimizer).

        ``layer`` may be a Sequential (Keras nests models: ``Sequential([augmentation, Conv2D(...)])``):
        its layers join this model one by one, see ``_add_model``. It may be a functional Model of one
        input and one output too (``Sequential([base, Dense(1)])``, Keras' transfer learning): its
        calls join this model's with their graph, which then runs as a functional Model's does.
        """
        if isinstance(layer, InputLayer):
            return self._declare_input(layer)
        if self._heads is not None:
            # (Keras 3.15 hands the next layer the list of outputs, which a layer of one input refuses)
            raise ValueError(f"add: the model's last layer makes {len(self._heads)} outputs "
                             f"({', '.join(self._output_labels())}), and a layer after it would read one array; "
                             f"draw the network as a functional Model instead, calling {layer.describe()} on the "
                             f"output it reads")
        if isinstance(layer, Sequential):
            return self._add_model(layer)
        _refuse_in_a_chain(layer)
        if getattr(layer, "merges", False):
            raise ValueError(f"add: {layer.describe()} merges several inputs, which a Sequential (one chain) never "
                             f"has; draw the network as a functional glassnet.Model")
        if self._pending:           # after a block waiting for its input's shape: it waits too
            return self._wait(layer)
        joined, before = [self._join(layer)], self._graph_state()
        try:
            if self._nested_calls is not None:              # after a nested functional model: one call more
                self._check_mask_out_of_graph(layer)
                self._extend_graph([layer])
            self._build_after_add()
        except BaseException:
            self._unjoin(joined)                            # refused: the model is as it was
            self._set_graph_state(before)
            raise

    def _join(self, layer, reads_input=None):
        """``layer`` checked, named, seeded and appended (not built yet). Returns what ``_unjoin``
        needs to take it out again: the layer, its name, dtype and generator as given, and its
        build state. ``reads_input``: whether the layer reads the model's Input, checked against
        it; None for a chain, whose first layer does."""
        if reads_input is None:
            reads_input = not self.layers
        takes_text = getattr(layer, "takes_text", False)
        if takes_text and self.layers and not self._text_inputs_drawn:
            raise ValueError(f"add: {layer.describe()} turns texts into numbers, so it must be the model's "
                             f"first layer; it would come after {self.layers[-1].describe()}")
        if not self.layers and self._declared_text and not takes_text:
            raise ValueError(f"add: the model's Input declares texts (dtype='string'); its first layer must "
                             f"turn them into numbers (TextVectorization), got {layer.describe()}")
        if takes_text and self._declared_input not in (None, (), (1,)):
            raise ValueError(f"add: {layer.describe()} reads one text per sample, Input((1,)) or Input(()); "
                             f"the model's Input declares {self._declared_input}")
        if (reads_input and self._declared_input is not None and layer.input_shape is not None
                and not takes_text and not getattr(layer, "merges", False)
                and tuple(layer.input_shape) != self._declared_input):
            raise ValueError(f"add: {layer.describe()} expects input samples of shape "
                             f"{tuple(layer.input_shape)}, the model's Input declares {self._declared_input}")
        if any(layer is other for other in self.layers):
            raise ValueError(f"add: {layer.describe()} is already in this model")
        if getattr(layer, "in_wrapper", False):
            raise ValueError(f"add: {layer.describe()} is held by a wrapper (TimeDistributed, Bidirectional), "
                             f"whose weights it uses; add the wrapper, or a layer of its own")
        given, built = _as_found(layer)
        try:
            self._name_and_seed(layer)
            self._check_masks_reach(layer)
        except ValueError:
            _give_back(layer, given)        # as it was: it never joined
            raise
        self.layers.append(layer)
        return layer, given, built

    def _check_masks_reach(self, layer):
        """Refuse ``layer`` where a mask would reach it (BatchNormalization), before it joins;
        Keras' warning when it would drop one (Flatten). (A functional Model, and a Sequential
        nesting one, plan their masks on the graph, when it is built: ``_plan_masks``.)"""
        if self._nested_calls is None and not self._defer_build:     # (the constructor's: once built, __init__)
            plan_masks([*self.layers, layer], warn_for=layer)

    def _check_mask_out_of_graph(self, layer):
        """``_check_masks_reach`` for ``layer`` added after a nested functional model whose output
        carries a mask (Keras' warning for a Flatten dropping it; a refusal for a BatchNormalization)."""
        if self.built and self._output_mask is not None:
            maker = next(m for m, readers in self._mask_plan if self._output_mask in readers)
            if getattr(maker, "makes_mask", False):             # (a merge's combined mask: at build)
                plan_masks([maker, layer], warn_for=layer)

    def _mask_reaches_end(self):
        """Whether the output of the layers added so far carries a mask (an Embedding(mask_zero=True)
        followed by layers passing it on), by the rules ``plan_masks`` plans with."""
        if self._nested_calls is not None:          # a nested graph's: known once built
            return self.built and self._output_mask is not None
        maker = None
        for layer in self.layers:
            if maker is not None and (layer.mask_refusal is not None or
                                      not layer.passes_mask(maker.mask_within_steps())):
                maker = None
            if layer.makes_mask:
                maker = layer
        return maker is not None

    def _plan_masks(self, output_mask):
        """Where masks go: ``plan_masks`` over the chain of layers (``plan_graph_masks`` over the
        calls when a functional model is nested), the model's ``output_mask`` reading the one
        that reaches the output."""
        if self._nested_calls is not None:
            plan = plan_graph_masks(self._nested_calls, self._nested_inbound, self._output_calls, output_mask,
                                    self._shared)
            self._unscored_mask = output_mask.unscored      # refused by compile (a model of several outputs)
            return plan
        return plan_masks(self.layers, output_mask)

    def _unjoin(self, joined):
        """Take the layers ``_join`` appended (the last ones) out again, each as it was before,
        after a build refused them; the model's own state was not touched (a build that fails stops
        before the parameters are laid out anew, so the optimizer keeps its state)."""
        for layer, given, (built, params, grads, input_shape) in reversed(joined):
            self.layers.pop()
            _give_back(layer, given)
            if not built:           # a build that got as far as this layer made weights: gone again
                layer.built, layer.params, layer.grads, layer.input_shape = False, params, grads, input_shape
        if not self.built:
            self._sample_input_shape = None

    def _build_after_add(self):
        """Build the model, or build it anew, once a layer joined, when the input shape is known
        (the constructor: once all its layers joined)."""
        if self._defer_build:
            return
        if self.built:
            self._build_samples(self._sample_input_shape)
        elif self._takes_text():
            # texts: the model's samples are the ids the layer makes, known once it has a
            # vocabulary ("int" mode and Hashing: at once); otherwise (ids_shape refuses: no
            # vocabulary yet) it builds on its first data
            try:
                shape = self.layers[0].ids_shape()
            except ValueError:
                shape = None
            if shape is not None:
                self._build_samples(shape)
        elif (self._node_layers[0].input_shape is not None
              and not getattr(self._node_layers[0], "merges", False)):
            # the layer of the first call, which reads the input (with a nested model's graph, not
            # always the first layer listed: see _add_layers)
            self._build_samples(self._node_layers[0].input_shape)
        elif self._declared_input is not None:
            self._build_samples(self._declared_input)

    def _add_model(self, model):
        """Add the layers of ``model`` (a Sequential, or a functional Model of one input and one
        output) in order, and its Input when this model has no layer yet: the same layer objects,
        shared, so that ``model`` alone computes with the weights this one trains (each model's
        optimizer step starts from the weights as they are). Keras keeps a nested model as one
        layer; here ``summary`` and ``layers`` list its layers. A functional model's calls join
        this model's with their graph (``_nest_graph``): the model's input is what the layers
        before it make. A layer whose name this model already uses is renamed, as ``add`` names
        a new one (``dense_1``). All or nothing: a layer refused undoes the ones added before it."""
        if model is self:
            raise ValueError("add: a model cannot contain itself")
        if self._pending or waits_for_shape(model):
            # a subclass block not drawn yet (keras.io's Sequential([Block() for _ in range(n)])):
            # drawn on the shape reaching it, now if it is known, else once it is (glassnet._lazy_blocks)
            shape = known_input(self)
            self._wait(model)
            if shape is not None:
                try:
                    undo = join_pending(self, shape)
                    try:
                        self._build_after_add()
                    except BaseException:
                        undo()
                        raise
                except BaseException:           # refused: it waits no more either
                    self._pending = [item for item in self._pending if item is not model]
                    raise
            return
        block = self._graph_block(model)
        if not model.layers:
            raise ValueError(f"add: model {model.name!r} has no layers to add")
        shared = [layer.describe() for layer in model.layers if any(layer is other for other in self.layers)]
        if shared:          # Keras nests one model twice, sharing its weights; glassnet has no such layer
            raise ValueError(f"add: model {model.name!r} holds {shared[0]}, which is already in this model (a "
                             f"model's layers can join another model once)")
        declared = self._declared_input, self._declared_text, self._declared_name, self._declared_input_layer
        if not self.layers and self._declared_input is None and model._declared_input is not None:
            # the nested model's input is this one's, of its name (a functional Model's Input's)
            self._declare_input(InputLayer(model._declared_input, name=model._given_input_name(),
                                           dtype="string" if model._declared_text else None))
        # a model of several outputs (dict or list) last: this model gives and takes them as it does
        # (Keras 3.15's Sequential does), its heads at this model's calls (set before the build)
        self._heads = _heads_at(model, len(self._node_layers))
        self._output_keys = None if self._heads is None else model._output_keys
        # and nested as its outputs are, Model(x, [a, [b, c]]) (glassnet._nested_outputs)
        self._keras_output_nesting = None if self._heads is None else model._keras_output_nesting
        # a model not built yet is built on its layers once this one builds them (now, when its
        # input shape is known, or at its first data), as Keras builds it (glassnet._nested_build)
        waits = wait_for_layers(model)
        if self._mask_reaches_end():
            # Keras 3.15 warns of a nested Sequential or functional Model given a mask (neither
            # defines compute_mask), though its run hands the mask on through its layers, as here
            from ._block_masks import warn_nested_model_given_mask
            warn_nested_model_given_mask(model)
        offset, terms = len(self._node_layers), model._loss_terms
        start, before = len(self.layers), (self._graph_state(), self._loss_terms)
        from ._summary import record
        try:
            # (its record, which the names of its layers' Keras paths read when they are built now)
            self._nesting_now = (record(model),)
            self._add_layers(list(model.layers), block)
            if terms is not None:       # its add_loss terms, on this model's calls (after the build:
                # a refusal there leaves none)
                from .added_losses import joined      # (a drawn model's terms: not at import glassnet)
                self._loss_terms = joined(self._loss_terms, *terms.moved(offset))
        except BaseException:
            if waits:
                stop_waiting(model)
            self._declared_input, self._declared_text, self._declared_name, self._declared_input_layer = declared
            self._heads = self._output_keys = self._keras_output_nesting = None
            raise
        finally:
            self.__dict__.pop("_nesting_now", None)
        if self._heads is not None:     # an output of a layer called more than once keeps its call's logits
            self._shared_outputs = {head.call: head for head in self._heads if id(head.layer) in self._shared}
        self._nesting = [*self._nesting, record(model)]        # summary shows it as one row, as Keras does
        if getattr(type(model), "_draws_call", False) and callable(getattr(model, "call", None)):
            note_block(self, model, self._nesting[-1], start, *before)     # a block: pop takes it out whole
        # a model of a dict output ({"s": tensor}; or a Sequential ending in one) hands it on as a dict
        key = model._output_keys[0] if getattr(model, "_output_keys", None) else model._nested_dict_key()
        if key is not None and self._heads is None:     # (several outputs: their keys are _output_keys)
            self._dict_output = (key, self._output_layer)

    def _wait(self, item):
        """``item`` waits, after those waiting, for the input's shape (see glassnet._lazy_blocks)."""
        if any(item is other for other in (*self.layers, *self._pending)):
            raise ValueError(f"add: {item.describe() if isinstance(item, Layer) else repr(item.name)} is already in "
                             f"this model")
        self._pending = [*self._pending, item]

    def _add_layers(self, layers, block=None):
        """``layers`` joined in order, then one build (a layer refused there leaves no build half
        done, and the optimizer's state as it was): a chain, or, with ``block``, the calls
        ``_graph_block`` says. Layers whose names this model uses are renamed; all or nothing."""
        names, joined = {layer.name for layer in self.layers}, []
        names_given = [layer.name for layer in layers]
        # the layers called on the Input: with a graph, not always the first listed (a subclass lists
        # its layers in the order __init__ assigned them, keras.io's MLP-Mixer block its mlp1 first,
        # which reads the transposed input); none when layers before them read it
        reading = None if block is None else {
            block[0][k] for k, parents in enumerate(block[1]) if -1 in parents and not self.layers}
        before = self._graph_state()
        try:
            if block is not None and self._nested_calls is None:     # a chain so far: one call per layer
                self._set_graph_state((list(self.layers), [[i - 1] for i in range(len(self.layers))],
                                       chain_modes(self.layers), None))
            for layer in layers:
                if block is not None and (getattr(layer, "return_state", False) or getattr(layer, "graph_only", False)):
                    raise NotImplementedError(f"add: {layer.describe()} returns its states or reads another layer's, "
                                              f"which a functional model nested in a Sequential does not support yet; "
                                              f"call the model in a functional Model instead")
                _refuse_in_a_chain(layer)
                # (a layer with no name yet, a lazily drawn block's, is named by _join as any layer
                # added is: None is no clash, or the second of them would be layer_normalization_1)
                if layer.name is not None and layer.name in names:
                    base, k = getattr(layer, "name_base", None) or snake_case(type(layer).__name__), 0
                    while layer.name in names or layer.name in {other.name for other in layers if other is not layer}:
                        k += 1
                        layer.name = f"{base}_{k}"
                if layer.name is not None:
                    names.add(layer.name)
                joined.append(self._join(layer, None if reading is None else len(joined) in reading))
            if self._nested_calls is not None:
                self._extend_graph(layers, block)
            self._build_after_add()
        except BaseException:
            self._unjoin(joined)
            for layer, name in zip(layers, names_given):      # as they were, renamed or not
                layer.name = name
            self._set_graph_state(before)
            raise
        # each layer keeps the generator its model's seed gave it (Dropout draws as it drew there);
        # one an unseeded model gave (augmentation = Sequential([RandomFlip()])) is replaced by
        # this model's: kept, it would draw from the OS's entropy and seed= would not fix the run
        for layer, (_, (_, _, rng, from_seed, origin), _) in zip(layers, joined):
            if rng is not None and from_seed:
                _keep_stream(layer, rng, origin)

    # -- a functional model nested: the chain becomes a graph of calls --------------------------
    def _graph_block(self, model):
        """``(calls, inbound, modes, options)`` of ``model``'s graph, to join this model's
        (``_extend_graph``), or None for a Sequential that is a chain. ``calls``: for each call,
        its layer's position in ``model.layers``; ``inbound``: each call's sources, earlier calls
        of the block or -1, the model's input. Refused by name: a model of several inputs, one
        that takes texts, a subclass not drawn yet (one of several outputs: ``_add_model``)."""
        functional = type(model) is not Sequential and getattr(model, "_graph", None) is not None
        if not functional and model._nested_calls is None:
            return None
        if functional and not model._calls:
            raise ValueError(f"add: model {model.name!r} (a subclass of Model) is not drawn yet; draw it first, "
                             f"model.build((None, *input_shape)), then add it")
        if functional and model._input_shapes is not None:
            raise ValueError(f"add: functional Model {model.name!r} has {len(model.inputs)} inputs; a Sequential "
                             f"hands one array from layer to layer, so it nests a Model of one input only: draw the whole network as a functional Model (call {model.name!r} "
                             f"on a list of tensors there)")
        if functional and model._takes_text():
            raise NotImplementedError(f"add: functional Model {model.name!r} reads texts (its Input has "
                                      f"dtype='string'); nesting it in a Sequential is not supported yet: put its "
                                      f"TextVectorization first in the Sequential, or call the model in a "
                                      f"functional Model")
        position = {id(layer): k for k, layer in enumerate(model.layers)}
        modes, options = model._call_settings()
        return ([position[id(layer)] for layer in model._node_layers], [list(parents) for parents in model._inbound],
                None if modes is None else list(modes), None if options is None else list(options))

    def _graph_state(self):
        """What ``_extend_graph`` and ``add`` change, to put back after a refusal."""
        if self._nested_calls is None:
            return None
        return (list(self._nested_calls), [list(p) for p in self._nested_inbound],
                None if self._call_modes is None else list(self._call_modes),
                None if self._call_options is None else list(self._call_options))

    def _set_graph_state(self, state):
        if state is None:
            self._nested_calls = self._nested_inbound = self._call_modes = self._call_options = None
            self._shared, self._call_caches = frozenset(), {}
            self._forget_skips()
            return
        self._nested_calls, self._nested_inbound, self._call_modes, self._call_options = state
        self._shared, self._call_caches = frozenset(shared_ids(self._nested_calls)), {}
        self._forget_skips()

    def _extend_graph(self, layers, block=None):
        """The calls of ``layers`` (the last ones joined) after this model's: ``block`` says how
        they connect (``_graph_block``; None: a chain), -1 there standing for the output so far
        (the model's input when there is none)."""
        # (a chain's calls take their layers' own modes: an augmentation's, glassnet._flagless)
        calls, inbound, modes, options = block if block is not None else (
            list(range(len(layers))), [[k - 1] for k in range(len(layers))], chain_modes(layers), None)
        offset = len(self._nested_calls)
        last = offset - 1
        self._nested_calls.extend(layers[c] for c in calls)
        self._nested_inbound.extend([last if p < 0 else p + offset for p in parents] for parents in inbound)
        if modes is not None or self._call_modes is not None:
            self._call_modes = (self._call_modes or [None] * offset) + (modes or [None] * len(calls))
        if options is not None or self._call_options is not None:
            self._call_options = (self._call_options or [None] * offset) + (options or [None] * len(calls))
        self._shared, self._call_caches = frozenset(shared_ids(self._nested_calls)), {}
        self._forget_skips()

    def _takes_text(self):
        """Whether the first layer turns texts into numbers (TextVectorization, StringLookup,
        Hashing): the model hands it the raw values (its ``encode``), then its numbers go on."""
        return bool(self.layers) and getattr(self.layers[0], "takes_text", False)

    def _name_and_seed(self, layer):
        """Give a layer joining the model its name (when it has none), dtype and generator."""
        names = {other.name for other in self.layers}
        if layer.name is None:
            layer.name = free_name(layer, names)
            layer._auto_named = True        # a name the model chose: a graph nesting it may choose another
        elif layer.name in names:
            raise ValueError(f"add: a layer named {layer.name!r} is already in this model")
        if layer.dtype is None:
            layer.dtype = self.dtype
        elif layer.dtype != self.dtype:
            if layer.dtype == np.float32 and layer.built:
                # a layer built alone (called on data, or a Normalization adapted) took float32 then
                hint = (f"; a layer built before it joins a model takes float32 unless made with "
                        f"dtype={self.dtype.name!r} (one built in a model of its own: that model's dtype, "
                        f"Sequential(..., dtype={self.dtype.name!r}))")
            else:
                # a layer made with another dtype, or taken from a model of it (a feature extractor,
                # Model(model.input, layer.output), of a float64 model): this model must match it
                hint = (f"; give this model the layer's dtype: Model(..., dtype={layer.dtype.name!r}) "
                        f"or Sequential(..., dtype={layer.dtype.name!r})")
            raise ValueError(f"add: {layer.describe()} has dtype {layer.dtype}, the model {self.dtype}{hint}")
        # the origins of the streams a config recorded (a layer another seeded model gave its
        # streams, rebuilt by from_config): taken here once, not again if the layer moves on
        weights, draws = layer.__dict__.pop("_config_origins", (None, None))
        if layer.seed is None:
            derived = (int(self._entropy), (1, len(self.layers)))
            origin = draws or derived
            layer.rng = _seeding.stream(origin)
            # whether a seed fixed this stream: a seeded model nesting the layer keeps it only then
            layer._rng_from_seed = draws is not None or self.seed is not None
            layer._stream_origin = origin if layer._rng_from_seed else None
            if weights is not None or draws is not None:
                # its weights come from their recorded stream, or this model's own (the original
                # drew them there, before its stream went back to the first model's): _build_layer
                layer._build_origin = (weights, True) if weights is not None else (derived, self.seed is not None)

    def _declare_input(self, input_layer):
        """``add(Input(shape))``: the model's sample shape, declared before its first layer."""
        if self.layers or self._pending or self._declared_input is not None:
            raise ValueError(f"add: {input_layer!r} must come first, before any layer, and only once")
        self._declared_input = input_layer.sample_shape
        self._declared_text = input_layer.dtype == "string"
        self._declared_name = None if input_layer._auto_named else input_layer.name
        self._declared_input_layer = input_layer        # model.inputs[0], as Keras keeps it (_sequential_tensors)

    def pop(self):
        """Remove the last layer and return it (Keras' ``Sequential.pop``).

        The model is rebuilt at once, so it trains on without a new ``compile``: if the removed
        layer had trainable parameters, the flat parameter buffer is laid out anew, the remaining
        weights keeping their optimizer state and the step count, as Keras' (glassnet._state_carry). The removed layer gets its parameters
        back as arrays of its own (inside the model they were views into that buffer). Popping the
        only layer leaves an empty, unbuilt model. A block written with ``call`` (Keras' one layer)
        is popped whole and returned, its add_loss terms with it (glassnet._block_pop).

        >>> from glassnet.layers import Dense
        >>> model = Sequential([Dense(8, input_dim=2), Dense(1)])
        >>> model.pop().name, model.output_shape
        ('dense_1', (None, 8))
        """
        if self._pending:           # the last added waits for the input's shape: it never joined
            *self._pending, item = self._pending
            return item
        if not self.layers:
            raise ValueError("pop: the model has no layers")
        if self._heads is not None:
            # (Keras pops the whole nested model; here its layers are this model's, and the others'
            # outputs would stay without their own call's: no pop leaves a model of one output)
            raise ValueError(f"pop: the model's last layer is a model of {len(self._heads)} outputs "
                             f"({', '.join(self._output_labels())}), whose layers joined this one; make a new "
                             f"Sequential of the layers you keep")
        block = last_block(self)
        if block is not None:
            # a block written with call: Keras' one layer, taken out whole, its add_loss terms with
            # it (glassnet._block_pop)
            popped = pop_block(self, block)
        else:
            if self._loss_terms is not None:
                # (its layers are this model's, and the terms read their calls)
                raise ValueError("pop: the model has add_loss terms (its blocks'), which read its calls, and its last "
                                 "layer is no block's of its own (a model read from a file holds the drawn layers); "
                                 "make a new Sequential of the layers and blocks you keep")
            if self._nested_calls is not None:
                self._pop_call()
            popped = [self.layers.pop()]
        layer = popped[0]
        if self._dict_output is not None and any(self._dict_output[1] is gone for gone in popped):
            self._dict_output = None            # the nested model's output went with it
        if self._nesting:
            # the records of the models nested here keep the layers left (a popped layer, its weights
            # and its last batch's caches, is the caller's to keep or drop)
            from .describing import _present
            kept = {id(other) for other in self.layers}
            self._nesting = [nested for nested in (_present(nested, kept) for nested in self._nesting) if nested.layers]
        for gone in popped:
            for key in gone.params:
                view = gone.params[key]
                gone.params[key], gone.grads[key] = view.copy(), gone.grads[key].copy()
                follow_weight(gone, view, gone.params[key])      # self.w = add_weight(...) too
            gone.needs_input_gradient = True        # standalone again: its input gradient may be wanted
        if not self.layers:
            self.built, self._sample_input_shape, self._sample_output_shape = False, None, None
            self._symbolic = None           # no layers, no tensors (Keras: "no defined inputs yet")
            self._views, self._triples, self._sizes, self._names, self._shapes = [], [], [], [], []
            self._penalties, self._constrained = [], []
            self._update_fusion()
        elif self.built:
            self._build_samples(self._sample_input_shape)
        else:
            self._update_fusion()
        return layer if block is None else block.block

    def _pop_call(self):
        """``pop`` of a model nesting a functional one: the last call goes with the last layer,
        refused where that leaves a call leading nowhere (the nested graph's branches that met in
        it) or a layer called elsewhere; back to a chain when what stays is one."""
        calls, inbound, layer = self._nested_calls, self._nested_inbound, self.layers[-1]
        read = {p for parents in inbound[:-1] for p in parents}
        # (the calls only the last one reads: a block's calls reaching no output, which nothing
        # read before either, stay as they are: glassnet._dead_calls)
        stranded = [calls[k] for k in range(len(calls) - 2) if k not in read and k in inbound[-1]]
        # the new output is the call before: its layer may be one called more than once (a
        # functional Model's output may be such a call's: Sequential._output_layer)
        if calls[-1] is not layer or sum(call is layer for call in calls) > 1 or stranded:
            what = (f"the output is {calls[-1].describe()}'s, a layer called more than once, not its own"
                    if calls[-1] is not layer else
                    f"its call of {stranded[0].describe()} would lead to no output" if stranded else
                    f"{layer.describe()} is called more than once there")
            raise ValueError(f"pop: the last layer, {layer.describe()}, is part of a functional model's graph nested "
                             f"in this one, and {what}; make a new model of the layers you keep")
        state = self._graph_state()
        for listed in state:
            if listed is not None:
                listed.pop()
        chain = len(state[0]) == len(self.layers) - 1 and all(a is b for a, b in zip(state[0], self.layers)) and state[1] == [[k - 1] for k in range(
            len(state[1]))] and all(mode is None for mode in state[2] or ()) and not any(state[3] or ())
        self._set_graph_state(None if chain else state)

    def get_layer(self, name=None, index=None):
        """The layer called ``name`` or at position ``index`` (negative counts from the end); give
        exactly one of them.

        >>> from glassnet.layers import Dense
        >>> model = Sequential([Dense(8, input_dim=2), Dense(1)])
        >>> model.get_layer("dense") is model.get_layer(index=0) is model.get_layer(index=-2)
        True
        """
        names = [layer.name for layer in self.layers]
        if (name is None) == (index is None):
            raise ValueError(f"get_layer: give either name or index, not {'both' if name is not None else 'neither'} "
                             f"(got name={name!r}, index={index!r}); the layers are {names}")
        if name is not None:
            if not isinstance(name, str):
                raise TypeError(f"get_layer: name must be a string, got {type(name).__name__} {name!r}")
            if name not in names:
                # Keras' get_layer finds a model nested in this one by its name (a summary row:
                # model.get_layer("sequential"), keras.io's get_layer("mlp_mixer_layer")): a nested
                # Sequential or functional Model is given (its layers joined this model; a model read
                # back from a file or config has it again: glassnet._nested_configs), so that
                # get_layer("base").trainable = False freezes it; a block's record says its layers
                nested = _nested_named(getattr(self, "_nesting", ()), name)
                if nested is not None and nested.model is not None and nested.kind in ("Sequential", "Functional"):
                    return nested.model
                if nested is not None:
                    raise ValueError(f"get_layer: {name!r} is a model nested in this one ({nested.kind}), not one of "
                                     f"its layers: its layers joined this model, {[layer.name for layer in nested.layers]}; "
                                     f"get them by those names, or use the nested model itself")
                raise ValueError(f"get_layer: no layer named {name!r}; the layers are {names}")
            found = self.layers[names.index(name)]
            _check_block_weights(self, name, found)
            return found
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"get_layer: index must be an integer, got {type(index).__name__} {index!r}")
        if not -len(names) <= index < len(names):
            raise ValueError(f"get_layer: index {index} is out of range for a model with {len(names)} "
                             f"layer(s) {names}")
        return self.layers[index]

    @property
    def trainable(self):
        """Freeze or unfreeze the whole model: ``model.trainable = False`` sets every layer's
        ``trainable`` flag to False (Keras' rule: setting it on a model sets it on each layer), and
        ``model.trainable = True`` sets them all back. Like a layer's flag, it takes effect in
        training from the next ``compile``, ``fit`` or ``train_on_batch`` (set by a callback during
        ``fit``: from the next batch); ``trainable_weights``, ``non_trainable_weights`` and
        ``summary``'s counts follow it at once, as Keras 3.15's.

        Reading it tells whether every layer trains. Keras keeps a separate flag on the model
        instead, which also stops layers unfrozen afterwards; glassnet has only the layers' flags,
        so what it reports is what trains, and a saved model, which stores each layer's flag, loads
        back with the same answer. A layer added later keeps its own flag.

        >>> from glassnet.layers import Dense
        >>> model = Sequential([Dense(8, input_dim=2), Dense(1)])
        >>> model.trainable = False
        >>> model.trainable, [layer.trainable for layer in model.layers]
        (False, [False, False])
        >>> model.layers[-1].trainable = True      # fine-tune the top layer only
        >>> model.trainable
        False
        """
        return all(layer.trainable for layer in (*self.layers, *self._pending))

    @trainable.setter
    def trainable(self, value):
        # Keras keeps the truth of whatever it is given; glassnet refuses non-bools, because the
        # string "False" is true and would unfreeze the model unnoticed
        value = check_flag(value, "trainable")      # a plain bool: model files store flags as JSON
        for layer in (*self.layers, *self._pending):        # (a block waiting: its layers, once drawn)
            layer.trainable = value

    def build(self, input_shape=None):
        """Create every layer's parameters for the input shape ``input_shape``, read as Keras 3.15
        reads it: the batch axis first, ``build((None, 28, 28, 1))`` or ``build((32, 28, 28, 1))``
        (a tuple, a list, a 1-D NumPy array, or anything with ``as_list()``, TensorFlow's
        TensorShape). A batch size given there is kept as Keras keeps it: ``model.input_shape`` is
        then ``(32, 28, 28, 1)``;
        any batch size still runs. One entry alone, ``build((5,))``, is glassnet's older form, one
        sample's shape (Keras reads it as a batch of scalars). Before glassnet read a leading
        integer as a sample axis: data of the shape that reading meant are refused by name, naming
        ``build((None, *sample_shape))``. Without a shape (Keras' ``build()``) the model's
        ``Input`` gives it, or the shape it was built for.
        """
        if not self.layers and not self._pending:
            raise ValueError("build: the model has no layers")
        if input_shape is None:
            input_shape = self._declared_input if self._declared_input is not None else (
                self._sample_input_shape if self.built else None)
            if input_shape is None:
                raise ValueError("build: input_shape is required: the model has no Input to take it from "
                                 "(give build((None, *sample_shape)) or start the model with gn.Input(shape))")
        if callable(getattr(input_shape, "as_list", None)):     # TensorFlow's TensorShape
            input_shape = input_shape.as_list()
        if isinstance(input_shape, np.ndarray) and input_shape.ndim == 1:
            # Keras' standardize_shape makes a tuple of it: np.array(x.shape) reads its batch
            # axis first too, as the tuple it holds does (not as one sample's shape)
            input_shape = tuple(input_shape.tolist())
        given, batch_size = input_shape, None
        if isinstance(input_shape, (tuple, list)) and len(input_shape) > 1:
            # Keras' batch axis first: None, or a size it keeps in input_shape
            batch_size = _batch_entry(input_shape[0])
            input_shape = input_shape[1:]
        try:
            shape = _sample_shape(input_shape, "build", input_dim_hint=False)
        except ValueError:
            _sample_shape(given, "build", input_dim_hint=False)     # the error names what was given
            raise
        # a declared Input, or the shape the model was built for, fixes the samples (Keras refuses
        # another too: "has already been configured to use input shape")
        expected = self._declared_input if self._declared_input is not None else self._sample_input_shape if self.built else None
        if expected is not None and not self._takes_text() and not shape_fits(shape, expected):
            raise ValueError(f"build: the model {'declares' if self._declared_input is not None else 'was built for'} "
                             f"input samples of shape {tuple(expected)}, got {tuple(shape)}")
        try:
            if self._pending:           # blocks waiting for this shape: drawn on what reaches each, in order
                undo = join_pending(self, shape)
                try:
                    self._build_samples(shape)
                except BaseException:
                    undo()
                    raise
            else:
                self._build_samples(shape)
        except ValueError as exc:
            if batch_size is None:
                raise
            # glassnet's older reading took the leading integer for a sample axis: say so
            raise ValueError(f"{exc}; build({tuple(given)!r}) reads {batch_size} as the batch axis, as Keras 3.15 "
                             f"does: for samples of shape {tuple(given)} write build({(None, *given)!r})") \
                from exc
        self._build_batch_size = batch_size

    def _build_samples(self, shape):
        """``build`` for the shape of one sample, ``shape`` (checked by ``_sample_shape``): the form
        the model keeps (``input_shape``, an Input's), where a leading None is a length of any size,
        not Keras' batch axis."""
        if self._takes_text():
            shape = self.layers[0].ids_shape()      # what its forward pass takes: the ids it made
        self._sample_input_shape = shape
        declared = self._shapes_through(shape, self._build_layer)
        # a model's layers a TimeDistributed runs (built just now) called in this model too (Keras
        # shares their weights): each call would run with the other's forward cache, a wrong
        # gradient or a crash in backward
        held = {id(inner): layer for layer in self.layers for inner in layer.wrapped_layers()}
        for layer in self.layers:
            if id(layer) in held:
                raise ValueError(f"add: {layer.describe()} is held by {held[id(layer)].describe()}, which runs its "
                                 f"model on every step with its weights, and is called in this model too; sharing "
                                 f"a model's weights between the wrapper and another call is not supported: give "
                                 f"the other call a model of its own")
        # where masks go (Embedding(mask_zero=True), Masking): to the layers that read them, and to
        # the loss and the metrics when one reaches the output (they score its real steps alone);
        # planned before the output shape is taken up: a plan refused (a nested graph's) leaves it
        output_mask = OutputMask()
        self._mask_plan = self._plan_masks(output_mask)
        self._sample_output_shape = declared[-1]
        self._output_mask = output_mask if any(output_mask in readers for _, readers in self._mask_plan) else None
        # the next forward pass compares what each layer returns with this (see _forward)
        self._output_shapes = declared
        self._forget_skips()        # (the calls a pass skips: planned on the graph built, glassnet._switch_skips)
        if self._heads is not None:         # the outputs travel packed: one row of them per sample
            self._check_head_shapes(declared)
            open_ = self._heads[0].layout.open
            self._sample_output_shape = (None,) if open_ else (sum(head.size for head in self._heads),)
        self._mark_first_layer()
        self._flatten_parameters()
        self.built = True
        self._update_fusion()
        # Keras' model.inputs, model.outputs and each layer's output: the layers drawn on an Input
        # of these samples (glassnet._sequential_tensors)
        self._draw_symbolic()
        # the models nested in this one before they were built, whose layers this build built:
        # built on them now, as Keras builds a nested model (glassnet._nested_build)
        build_waiting(self)

    def _build_on_layers(self):
        """Build this model, nested in another that built every one of its layers, on those layers
        as they are: for the samples its first layer was built for (what the outer model gave it,
        an open length included), and ``_build_samples`` only checks a built layer's input shape,
        so nothing is drawn again (the outer model's seed alone fixed their weights).

        The samples are what the first call reading the model's input (-1 in ``_inbound``) was
        built for at that input's place: a Sequential of drawn blocks may start with a layer of
        several inputs (a transformer block's ``att(inputs, inputs)``), whose input_shape lists
        one shape per input."""
        for layer, parents in zip(self._node_layers, self._inbound):
            if -1 in parents:
                shape = layer.input_shape
                if len(parents) > 1:
                    shape = shape[parents.index(-1)]
                break
        else:
            shape = self._node_layers[0].input_shape
        self._build_samples(tuple(shape))

    def _build_layer(self, i, layer, shape):
        """Build ``layer`` (the i-th) for input samples of ``shape``, or check a built one takes them.
        Records where its weights were drawn from (``_weights_origin``), for configs."""
        if layer.built:
            layer.__dict__.pop("_build_origin", None)       # (built before it joined: nothing to draw)
            record_build_path(self, layer)          # (one a drawn block's build built: named below the block)
            try:
                layer.check_input_shape(shape)
            except ValueError as exc:
                # the layer's own message where it is not shared, or keeps no one input shape for
                # this call (a ReversibleEmbedding's reverse call: vectors, not the ids it was built for)
                if id(layer) not in getattr(self, "_shared", ()) or layer.input_shape is None:
                    raise
                # a layer keeps one input shape, where Keras lets one without weights (Flatten,
                # Activation) take samples of several: say so, rather than only that they differ
                raise NotImplementedError(
                    f"Model: {layer.describe()} is called more than once, on samples of shape "
                    f"{tuple(layer.input_shape)} and {tuple(shape)}; a glassnet layer takes samples of one "
                    f"shape (Keras lets a layer without weights take several): give each call a layer of "
                    f"its own") from exc
            return
        # an input shape given to a later layer must be what the layers before it make:
        # building it for another would drop what its user said (Keras warns about it)
        if i > 0 and layer.input_shape is not None and not shape_fits(shape, layer.input_shape):
            raise ValueError(f"{layer.describe()}: declares input samples of shape {tuple(layer.input_shape)}, "
                             f"but the layers before it make samples of shape {tuple(shape)}; give an input "
                             f"shape to the first layer only (or Input(shape) first)")
        # their params are not the layer's: never trained, never saved (unless the layer
        # makes them its own, as the wrappers do: wrapped_layers; those may hold none)
        # A model held (Keras' self.ffn = Sequential([...])) is the same: its weights stayed out of
        # the model's and trained silently never; a Lambda's function may be a model (no gradient
        # through a Lambda, as documented)
        # Layers in a list, tuple or dict (Keras' self.blocks = [Dense(8), Dense(8)], which Keras
        # tracks) are refused too in a layer of one's own; glassnet's own layers that keep some so
        # (RandAugment's operations, an RNN's cell layers) own what they hold
        for holder in (layer, *layer.wrapped_layers()):
            def held(value):
                return ((isinstance(value, Layer) or (isinstance(value, Sequential) and not _is_lambda(holder)))
                        and not any(value is w for w in holder.wrapped_layers())
                        and value is not getattr(holder, "wrapped_model", None))    # TimeDistributed(model)
            def holds(value, depth=0):     # in a container, or in one inside it (a few levels)
                if isinstance(value, (list, tuple, set, frozenset, dict)) and depth < 4:
                    return any(held(item) or holds(item, depth + 1)
                               for item in (value.values() if isinstance(value, dict) else value))
                return False
            own_code = type(holder).__module__.startswith("glassnet.")
            nested = [name for name, value in vars(holder).items()
                      if held(value) or (not own_code and holds(value))]
            if nested:
                raise TypeError(f"{holder.describe()}: holds the layer(s) {nested} as attributes, "
                                f"whose parameters a model neither trains nor saves; keep every "
                                f"weight in the layer's own params (add_weight), or, for a block made "
                                f"of layers (Keras' Layer subclass calling its layers in call), "
                                f"keep Keras' call and write no forward (such a Layer is drawn as a "
                                f"glassnet.Model), or subclass glassnet.Model instead: its call draws them "
                                f"into the graph")
        # (kept until a build succeeds: a model of a config builds on its first data, which may be refused)
        rng, build_origin = layer.rng, layer.__dict__.get("_build_origin")
        if build_origin is not None and build_origin[0] != layer.__dict__.get("_stream_origin"):
            layer.rng = _seeding.stream(build_origin[0])    # not the stream it draws from later
        record_build_path(self, layer)         # the Keras path of its weights: "sequential/dense/kernel"
        try:
            with sized_axes_needed(layer, shape):
                layer.build(shape)
        finally:
            layer.rng = rng
        if build_origin is not None:
            del layer._build_origin
            layer._weights_origin = build_origin[0] if build_origin[1] else None
        else:       # its stream's, when a seed fixed it (one of the layer's own seed is no model's: None)
            layer._weights_origin = layer.__dict__.get("_stream_origin") if layer.__dict__.get("_rng_from_seed") else None
        if not layer.built:     # its weights would be made again at the next build
            raise TypeError(f"{layer.describe()}: build() returned without marking the layer "
                            f"built; end it with super().build(input_shape)")

    @property
    def metrics(self):
        """compile's metrics as ``[(log name, function or Metric)]`` pairs. For a subclass of
        ``Model`` with steps of its own (``train_step``, ``test_step``, ``compute_loss``,
        ``compute_metrics``), Keras 3.15's objects instead: ``[Mean(name="loss"), CompileMetrics]``
        once compiled, then the Metric objects it holds (glassnet.step_metrics), which a step
        updates and reads as Keras' guide "Customizing what happens in fit()" does."""
        if self._own_steps:
            from .step_metrics import keras_metrics
            return keras_metrics(self)
        return self._compiled_metrics

    def reset_metrics(self):
        """Keras' ``reset_metrics()``: ``reset_state()`` on every metric the model tracks, so that
        their next results count from nothing. For a subclass with steps of its own, the objects
        ``metrics`` lists (the loss's ``Mean``, ``CompileMetrics``, the Metrics it holds): fit calls
        this at each epoch's start, evaluate before its batches, ``train_on_batch`` and
        ``test_on_batch`` before their batch, as Keras 3.15 does (an override of it runs there).
        For a plain compiled model, compile's Metric objects and the Metrics it holds as
        attributes; its fit, evaluate and batch calls reset compile's objects as each run begins
        anyway (and then update them, as Keras does). Returns None.

        Example: ``model.evaluate(x, y); model.reset_metrics(); model.get_metrics_result()``
        gives ``{"loss": 0.0, ...}`` for a model with steps of its own."""
        from .own_steps import reset_metrics
        reset_metrics(self)

    @property
    def _inbound(self):
        """Where each layer's input comes from: for layer i, the list of the layers (their indices)
        whose outputs it takes, -1 standing for the model's input (-1 - j for input j of a
        functional Model of several). A Sequential is a chain, each
        layer reading the one before it (unless it nests a functional Model: its calls' sources);
        a functional ``Model`` keeps its graph's."""
        if self._nested_inbound is not None:
            return self._nested_inbound
        return [[i - 1] for i in range(len(self.layers))]

    @property
    def _node_layers(self):
        """The layer of each call of the model's graph, in order (``_inbound`` says each call's
        sources): a Sequential calls each layer once, in order (a functional Model nested in it
        may call a shared layer more than once); a functional Model may too."""
        return self.layers if self._nested_calls is None else self._nested_calls

    def _sources(self, x):
        """The model's inputs in a batch ``x``, as a graph's walk reads them: one."""
        return [x]

    def _run_layers(self, x, training):
        if self._nested_calls is None:
            return super()._run_layers(x, training)
        for _, _, out in self._graph_walk(x, training):
            pass
        return out

    def _walk(self, x, training):
        if self._nested_calls is None:
            return super()._walk(x, training)
        return self._graph_walk(x, training)

    def _backward(self, grad, fused, activity=None, seen=None, done=None):
        if self._nested_calls is None:
            return super()._backward(grad, fused, activity, seen, done)
        return self._graph_backward(grad, fused, activity, seen, done)

    def _call_settings(self):
        if self._nested_calls is None:      # a chain: each call its layer's own mode (glassnet._flagless)
            return chain_modes(self.layers), None
        return self._call_modes, self._call_options

    def _release_data(self, *data):
        if self._call_caches:
            self._call_caches.clear()       # a shared layer's caches of each call hold views of the data too
        self._walked = None
        super()._release_data(*data)

    def __setstate__(self, state):
        self._restore_first_calls(state)        # each layer's output (glassnet._sequential_tensors)
        super().__setstate__(state)
        if self.__dict__.get("_nested_calls") is not None:      # ids (of the shared layers) change in a copy
            self._shared, self._call_caches = frozenset(shared_ids(self._nested_calls)), {}
        self._forget_skips()
        self._walked = None
        if self.__dict__.get("_heads") is not None:        # pickled before outputs of any length
            set_layouts(self._heads)
            # a deepcopy's compiled output metrics kept the original's heads (OutputMetric.__deepcopy__,
            # meant for the tallies' copies, which score the model's own): give them this model's,
            # whose layers' logits their fused losses read
            for _, metric in self.__dict__.get("_compiled_metrics") or ():
                if isinstance(metric, OutputMetric):
                    metric.head = self._heads[metric.head.index]

    @property
    def _output_calls(self):
        """The calls (indices into ``_node_layers``) whose outputs are the model's: the last one;
        a model of several outputs lists each (its heads')."""
        if self._heads is not None:
            return [head.call for head in self._heads]
        return [len(self._node_layers) - 1]

    def _output_labels(self):
        """The names the outputs go by in dicts and logs, in the order of ``_output_calls``: the
        dict's keys (sorted) where the outputs were given as one, else their layers' names."""
        if self._heads is not None:
            return [head.name for head in self._heads]
        return [self._single_output_name()] if self.layers else []

    @property
    def output_shapes(self):
        """Each output's sample shape, in the order of ``outputs`` (one for a model of one output;
        ``output_shape`` is then that one, and for several the packed row: glassnet.outputs)."""
        if self._heads is None:
            return [self._sample_output_shape]
        return [head.shape for head in self._heads]

    @property
    def _output_layer(self):
        """The layer making the output: the last call's. Not always the last of ``layers``, which
        lists each layer at its first call: a layer called more than once (a language model's
        tied embedding, called last to reverse) may make the output. Its forward cache (``z``,
        which a fused loss reads) is then that call's, the last one a pass makes."""
        return self._node_layers[-1]

    def _nested_dict_key(self):
        """The key of Keras' dict of the one output, ``{key: output}``, when the model's last layer
        is a functional Model whose output was given as a dict (``Model(inputs, {"s": o})``): as in
        Keras 3.15, ``predict``, ``model(x)`` and ``predict_on_batch`` give ``{"s": array}``, and
        compile, ``fit`` and ``evaluate`` take dicts by ``"s"``. None otherwise, and once a layer
        follows the nested model (Keras 3.15 fails to build then; here that layer reads its array).
        """
        given = self._dict_output
        return given[0] if given is not None and self.layers and self._output_layer is given[1] else None

    def _source_shapes(self, shape):
        """The sample shape of each of the model's inputs, for model inputs of ``shape``: one."""
        return [shape]

    def _shapes_through(self, shape, visit=None):
        """Each layer's output sample shape, in layer order, for model inputs of sample ``shape``,
        from the layers' ``output_shape``. ``visit(i, layer, its input shape)`` runs before each
        layer's ``output_shape`` (building it, checking it, measuring it). A merge layer's input
        shape is the list of its inputs' shapes."""
        outputs, sources = [], self._source_shapes(shape)
        options = self._call_settings()[1]          # each call's own arguments (a reverse call)
        for i, (layer, parents) in enumerate(zip(self._node_layers, self._inbound)):
            shapes = [sources[-1 - p] if p < 0 else outputs[p] for p in parents]
            given = shapes if getattr(layer, "merges", False) else shapes[0]
            with call_arguments_set(layer, None if options is None else options[i]):
                if visit is not None:
                    visit(i, layer, given)
                with sized_axes_needed(layer, () if getattr(layer, "merges", False) else given):
                    outputs.append(tuple(layer.output_shape(given)))
            # a few bytes of config may ask for terabytes (UpSampling2D(size=10**5)): refused here,
            # where every build (a nested model's layers are this one's) learns each output's shape
            check_output(layer, outputs[-1])
        return outputs

    @keras_compile_order_refused
    def compile(self, loss, optimizer="sgd", metrics=None, weighted_metrics=None, loss_weights=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
        """Choose the loss, the optimizer (a name or an instance) and the metrics to report.

        A metric is a name (see ``glassnet.metrics``), a loss name or ``Loss``, a ``Metric``
        (``Precision()``, ``AUC(curve="PR")``: counted over whole epochs, logged under its ``name``),
        or a function ``f(y_true, y_pred) -> float``, logged under its ``__name__``. Those of
        ``weighted_metrics`` weigh the samples by ``sample_weight`` or ``class_weight``, as the loss
        does (Keras'; see ``glassnet.metrics.weighted``); those of ``metrics`` do not.

        Keras' per-output forms name the one output: ``loss=["mse"]`` or ``{"dense_1": "mse"}``
        (the output layer's name), ``metrics=[["mae"]]`` or ``{"dense_1": ["mae"]}``.

        ``loss_weights`` (Keras'): a number ``w >= 0``, ``[w]`` or ``{"dense_1": w}``; the loss that
        is trained on, logged and evaluated is the loss times ``w`` (the metrics, and the
        regularizers' penalties added to it, are not weighed).

        A model of several outputs (a Sequential whose last layer is a model of several) takes
        them per output, as a functional Model does (``Model.compile``, glassnet.outputs).

        Keras' run settings ``run_eagerly``, ``steps_per_execution``, ``jit_compile`` and
        ``auto_scale_loss`` are checked and kept (``get_compile_config`` reports them), and change
        nothing: glassnet runs NumPy eagerly, a batch per step (glassnet._run_settings)."""
        settings = checked_run_settings(run_eagerly, steps_per_execution, jit_compile, auto_scale_loss)
        keep_run_settings(self, settings)
        # Keras' positional order too, compile("adam", "mse"): told apart by what is given (glassnet._compile_order)
        loss, optimizer = loss_and_optimizer(loss, optimizer)
        loss = as_given(loss)           # compile(loss=model.loss): what that compile was given, as Keras'
        if self._heads is not None:
            return self._compile_heads(loss, optimizer, metrics, loss_weights, weighted_metrics)
        output = self._single_output_name()
        loss, metrics, weighted_metrics = compile_forms(loss, metrics, weighted_metrics, output)
        loss_weight = one_loss_weight(loss_weights, output)
        metrics = [metrics_module.get(m) for m in metric_list(metrics, "metrics")]
        weighted = [metrics_module.get(m) for m in metric_list(weighted_metrics, "weighted_metrics")]
        given = {}          # {log name: the name given} of those renamed ("mse_1": "mse"), for the config
        compiled = metrics_module.weighted.compiled(metrics, weighted, given)
        metrics_module.check_log_names([name for name, _ in compiled])
        # ("crossentropy"/"ce": a placeholder until the first batch picks the loss, _pick_crossentropy)
        self._compiled(losses.for_compile(loss), compiled, optimizer, loss_weight, given)

    def _compile_heads(self, loss, optimizer, metrics, loss_weights, weighted_metrics):
        """``compile`` of a model of several outputs: each output's loss, weight and metrics
        (``outputs.compile_heads``), the logs in Keras 3's order."""
        if getattr(self, "_unscored_mask", None):
            raise NotImplementedError(self._unscored_mask)
        optimizer = optimizers.get(optimizer)       # refused before the heads change
        # outputs given as a dict log their own losses in Keras 3's order (glassnet._dictoutputs)
        order = None if self._output_keys is None else loss_log_order(self._output_keys, loss)
        heads_loss, compiled = compile_heads(self._heads, loss, loss_weights, metrics, weighted_metrics, order)
        self._compiled(heads_loss, compiled, optimizer)

    def _compiled(self, loss, metrics, optimizer, loss_weight=1.0, given=None):
        """The end of ``compile``: the loss (a ``Loss``), the metrics (``[(name, metric)]``, checked),
        the optimizer (a name or an instance) and the one output's loss weight taken up.
        ``given``: ``{log name: name given}`` of the metrics logged under another name than
        compile was given ("mse_1" for a second "mse"), which the config records as given."""
        losses.check_trainable(loss)                 # reduction="none": no number to train on
        optimizer = optimizers.get(optimizer)        # refused before the model changes
        self.loss, self._loss_weight = loss, loss_weight
        self._loss_as_given = None          # a new compile: nothing picked yet
        self.optimizer = self._claim(optimizer)
        self._compiled_metrics = metrics
        self._given_metric_names = dict(given or {})
        self._update_fusion()
        self._apply_trainable_flags()
        self._warn_logits_of_probabilities()

    def _output_losses(self):
        """``(layer, loss)`` for each output: the layer making it and the loss scoring it."""
        if self._heads is not None:
            return [(self._node_layers[head.call], head.loss) for head in self._heads if head.scored]
        return [(self._output_layer, self.loss)] if self.layers else []

    def _warn_logits_of_probabilities(self):
        """Keras' warning for ``from_logits=True`` after a sigmoid or softmax output: the loss
        applies the activation a second time (Keras' TensorFlow backend quietly takes the logits
        behind it instead; its other backends do as glassnet). And glassnet's own, for what Keras
        trains on silently: a cross-entropy of probabilities after a log_softmax (log_sigmoid)
        output, and ``ctc`` after a softmax."""
        for last, loss in self._output_losses():
            if type(last).__name__ == "TimeDistributed":     # Keras 2's OCR ending: TimeDistributed(Dense(..., "softmax"))
                last = last.layer
            # an ops function ending a functional model or a drawn call (PyTorch's forward returning
            # F.log_softmax(x, dim=1) ported as ops.log_softmax) ends the output as an activation does
            activation = "softmax" if type(last).__name__ == "Softmax" else \
                getattr(last, "op", None) if type(last).__name__ == "TensorFunction" else \
                getattr(getattr(last, "activation", None), "name", None)
            if getattr(loss, "from_logits", False) is True and activation == loss.applies:
                warn(f"compile: {loss!r} expects logits, but {last.describe()} ends in a {activation}: "
                     f"the loss applies the {activation} again, to probabilities; give the last layer no "
                     f"activation, or drop from_logits=True")
            elif getattr(loss, "from_logits", None) is False and activation == f"log_{getattr(loss, 'applies', None)}":
                # log-probabilities read as probabilities, which Keras also does silently: a
                # log_softmax row (all < 0) divided by its sum gives ratios that rank the classes
                # backwards, and training makes the labelled class the least likely (PyTorch's
                # LogSoftmax + NLLLoss ported as "sparse_categorical_crossentropy"); a log_sigmoid
                # output is clipped to 1e-7 everywhere and never trains
                advice = ("keep it and pass from_logits=True (the softmax of log-probabilities is the "
                          "probabilities: PyTorch's NLLLoss after LogSoftmax)" if activation == "log_softmax" else
                          "give the last layer no activation, and from_logits=True")
                warn(f"compile: {loss!r} expects probabilities, but {last.describe()} ends in a {activation}: the "
                     f"loss would read log-probabilities (values <= 0) as probabilities and train on nonsense; "
                     f"{advice}")
            elif getattr(loss, "name", None) == "ctc" and activation == "softmax":
                # CTC takes logits only (its log-softmax is its own): a softmax output, as older
                # Keras examples end in, trains silently on the log-softmax of probabilities
                warn(f"compile: ctc takes logits, but {last.describe()} ends in a softmax: the loss takes "
                     f"the log-softmax of probabilities; give the last layer no activation (decode the "
                     f"logits with glassnet.losses.ctc_decode)")

    def _claim(self, optimizer):
        """One optimizer instance trains one model, or several sharing layers: compiled into a
        model sharing no weight with those it trains, an instance starts afresh and belongs to
        that model from then on (a loop that builds a model per setting and reuses one optimizer
        works; the model it left refuses to train with it, ``_check_optimizer``); compiled into a
        model sharing a layer with one of them, it trains both, one state per shared weight, as
        Keras' (glassnet._optimizer_claims). A model compiled again with its own optimizer keeps
        its state, as in Keras."""
        return optimizer_claims.claim(self, optimizer)

    def _check_optimizer(self):
        """Refuse to train with an optimizer that was compiled into another model since, sharing
        no weight with this one (Keras 3 refuses to share one too): its state now describes that
        model's parameters."""
        if not optimizer_claims.trains(self):
            name = type(self.optimizer).__name__
            raise ValueError(f"optimizer: this {name} instance was compiled into another model after "
                             f"this one and now trains that one; give each model its own (e.g. "
                             f"gn.optimizers.{name}(...) in each compile), then compile this one again")

    def _check_head_shapes(self, declared):
        """Refuse, by name, outputs whose sample shapes (the heads', which a config's ``"graph"``
        ``"output_shapes"`` gives) are not what their calls make, ``declared[call]``: the outputs
        would be packed in the wrong columns. A None in a head's shape takes any size."""
        for head in self._heads:
            made = tuple(declared[head.call])
            if not shape_fits(made, head.shape):
                raise ValueError(f"config: 'graph' 'output_shapes': output {head.name!r} is made by "
                                 f"{self._node_layers[head.call].describe()}, of samples of shape {made}, "
                                 f"not {tuple(head.shape)}")

    def _update_fusion(self):
        """Use the fused (y_hat - y)/N gradient when the output activation matches the loss."""
        self.__dict__.pop("_activity_cache", None)       # the layers may have changed: ask them again
        last = self._output_layer if self.layers else None
        fuses = self.loss.fused_activation() if self.loss is not None else None
        self._fused = bool(last is not None and fuses is not None and fuses_with(last, fuses))
        if self._heads is None or self.loss is None:
            return
        # several outputs, each on its own: fused (dL/dz at once) where its loss fuses with its
        # layer's activation, and no other layer reads it (their gradient is dL/d(output), not dL/dz)
        read = {p for parents in self._inbound for p in parents}
        for head in self._heads:
            layer, fuses = self._node_layers[head.call], head.loss.fused_activation() if head.scored else None
            head.fused = bool(fuses is not None and head.call not in read and fuses_with(layer, fuses))

    # -- weights ------------------------------------------------------------------------------
    def _weight_items(self):
        # each layer's own list (Layer.get_weights), so the model's is their concatenation
        self._require_built("get_weights")
        return [(f"{layer.name}/{name}", a) for layer in self.layers for name, a in layer._weight_items()]

    @property
    def trainable_weights(self):
        """The weights training updates, live (not copies), in layer order (Keras' list): every
        parameter of the layers trainable now. Like Keras 3.15's, the list follows a ``trainable``
        flag at once (``model.layers[0].trainable = False`` drops that layer's weights, with or
        without ``compile``); training takes the change up at the next ``compile``, ``fit`` or
        ``train_on_batch`` (glassnet._trainable_fresh). What ``optimizer.finalize_variable_values`` takes.
        A layer shared with another model (a feature extractor, a GAN's combined model) computes with
        one model's array at a time: once the other model trained it, a list held from before shows
        this model's older values, and an in-place write into it is lost, until this model takes
        the layer back (its ``fit``, ``train_on_batch``, ``apply_gradients``, or this property read
        again): read it again rather than keep it (Keras' variables are one per weight)."""
        self._require_built("trainable_weights")
        self._sync_views()          # a model sharing these layers (a nested one) may have trained them since
        if flags_changed(self):
            return fresh_trainable_weights(self)
        # in the order of layers (the flat buffer may lay them out in another: _layout_layers)
        rank = {id(layer): k for k, layer in enumerate(self.layers)}
        return [param for _, _, param, _ in sorted(self._views, key=lambda view: rank[id(view[0])])]

    @property
    def trainable_variables(self):
        """Keras' alias of ``trainable_weights`` (what ``tape.gradient`` and ``apply_gradients`` take)."""
        return self.trainable_weights

    @property
    def non_trainable_variables(self):
        """Keras' ``non_trainable_variables``: ``non_trainable_weights``, then the state of each
        SeedGenerator a layer holds (Keras lists them there too)."""
        from ._model_state import weight_paths
        trained = {id(a) for a in self.trainable_weights}
        return [a for _, a in weight_paths(self) if id(a) not in trained]

    def train_step(self, data):
        """Keras 3.15's default step on the batch ``data`` (x, ``(x, y)`` or ``(x, y,
        sample_weight)``), which a subclass's ``train_step`` may end with as
        ``return super().train_step(data)``, and which fit runs for a subclass overriding
        ``compute_loss``, ``compute_metrics`` or ``test_step``: ``self(x, training=True)`` and
        ``self.compute_loss`` recorded by a ``GradientTape``, the optimizer's step, then
        ``self.compute_metrics``: the epoch's running logs (glassnet.default_steps)."""
        from .default_steps import train_step
        return train_step(self, data)

    def test_step(self, data):
        """Keras 3.15's default evaluation step (``super().test_step(data)``): the outputs in
        inference mode, ``compute_loss(..., training=False)``, then ``compute_metrics``."""
        from .default_steps import test_step
        return test_step(self, data)

    def predict_step(self, data):
        """Keras 3.15's default ``predict_step``: ``self(x, training=False)`` for the batch's x."""
        from .default_steps import predict_step
        return predict_step(self, data)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Keras' ``compute_metrics``: the compiled metrics updated with the batch (``y_pred``: the
        outputs, arrays), and ``get_metrics_result()``. ``x`` is Keras' and unused."""
        from .default_steps import compute_metrics
        return compute_metrics(self, y, y_pred, sample_weight)

    def get_metrics_result(self):
        """Keras' ``get_metrics_result``: ``{name: value}`` of the running loss ("loss"), the
        compiled metrics and the Metric objects the model holds (a ``metrics`` property's alone)."""
        from .default_steps import get_metrics_result
        return get_metrics_result(self)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras 3's ``compute_loss``: the compiled loss of the outputs ``y_pred`` against the targets
        ``y`` (with ``sample_weight`` (n,) and compile's ``loss_weights``), plus the regularizers'
        penalties on the trained weights; a 0-d array, recorded while a ``GradientTape`` records
        (the guide's ``train_step``: ``loss = self.compute_loss(y=y, y_pred=self(x, training=True))``).
        ``x`` and ``training`` are Keras' and unused."""
        from .tape import compute_loss
        return compute_loss(self, x, y, y_pred, sample_weight)

    @property
    def weights(self):
        """Every weight, live (not copies), in ``get_weights``' order: each layer's parameters
        then its state (BatchNormalization's moving statistics), layer by layer (Keras' list)."""
        self._require_built("weights")      # (the error names the attribute asked for)
        return [a for _, a in self._weight_items()]

    @property
    def non_trainable_weights(self):
        """The weights training does not update, live: the state of the layers (moving
        statistics) and the parameters of the layers frozen now (Keras' list, which also follows a
        ``trainable`` flag at once)."""
        self._require_built("non_trainable_weights")
        trained = {id(a) for a in self.trainable_weights}
        return [a for a in self.weights if id(a) not in trained]

    def compute_output_shape(self, input_shape):
        """The output's shape for inputs of ``input_shape``, batch axis first (Keras' form:
        ``(None, 28, 28, 1)`` -> ``(None, 10)``), from each layer's ``output_shape`` without
        building anything."""
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 2:
            raise ValueError(f"compute_output_shape: expected a shape with the batch axis first, (None, "
                             f"*sample), got {input_shape!r:.60}")
        batch, shape = input_shape[0], _sample_shape(tuple(input_shape[1:]), "compute_output_shape",
                                                     input_dim_hint=False)
        if not self.layers:
            raise ValueError("compute_output_shape: the model has no layers")
        if self.built and not shape_fits(shape, self._sample_input_shape):     # what predict would refuse
            raise ValueError(f"compute_output_shape: the model is built for samples of shape {self._sample_input_shape}, "
                             f"got {shape}")
        def check(_, layer, given):
            if layer.built:             # its weights fix what it takes (an unbuilt one checks at build)
                layer.check_input_shape(given)
        shapes = self._shapes_through(shape, check)
        if self._heads is not None:     # several outputs: a list of their shapes (Keras')
            return self._shaped_as_outputs([(batch, *shapes[k]) for k in self._output_calls])
        return (batch, *shapes[-1])

    def _shaped_as_outputs(self, shapes):
        """``shapes`` (one per output, the flat order) as the outputs are given back: a dict of them
        by the outputs' keys, nested lists as the outputs nest (glassnet._nested_outputs), else the list."""
        if self._output_keys is not None:
            from ._dictoutputs import as_dict
            return as_dict(self._output_keys, shapes)
        if self._keras_output_nesting is not None:
            from ._nested_outputs import nest
            return nest(self._keras_output_nesting, shapes)
        return shapes

    def get_weights(self):
        """Copies of all weights in layer order: [kernel (in, out), bias (out,), ...] as in Keras;
        the concatenation of every ``layer.get_weights()``."""
        return [backend.to_numpy(a).copy() for _, a in self._weight_items()]

    def set_weights(self, weights):
        """Set all weights (the list ``get_weights`` returns) in place, checking count and shapes
        before writing any."""
        _assign_weights(self._weight_items(), weights, "set_weights")

    def reset_states(self):
        """Start the next batch from zero states in every stateful recurrent layer (``stateful=True``),
        as Keras 2's ``model.reset_states()`` (Keras 3 asks each layer: ``layer.reset_state()``)."""
        for layer in stateful_layers(self.layers):
            layer.reset_state()

    reset_state = reset_states

    def quantize(self, mode=None, config=None, filters=None, **kwargs):
        """Keras' ``model.quantize("int8")`` (or ``"int4"``, or ``config=``): every Dense,
        Embedding and EinsumDense (int8 only) (those ``filters`` pass: a regex on the name, a list of them, or a callable on
        the layer) gets Keras' integer weights and quantized forward; other layers are warned
        about and left as they are. See glassnet.layers.quantized."""
        from .layers.quantized import quantize_model
        quantize_model(self, mode, config, filters, **kwargs)

    def count_params(self):
        """Every weight of every layer, trained or not (Keras' count; the "Total params" of
        ``summary``). Refused before the model is built, as Keras refuses it: 0 would be untrue."""
        self._require_built("count_params")
        return sum(layer.count_params() for layer in self.layers)

    @serialized
    def trace(self, x, y):
        """One forward and backward pass on (x, y) without updating: per layer its input, Z, A, dA,
        dZ and parameter gradients (see ``glassnet.trace``). ``print`` it to see the numbers."""
        from .trace import trace
        return trace(self, x, y)

    def save(self, filepath, include_optimizer=True, save_format=None, *, overwrite=True):
        """Write the model (config, weights, optimizer and RNG state) to one ``.npz`` file, atomically.
        Read it back with ``glassnet.load_model``; no pickle is ever involved. ``include_optimizer=False``
        leaves out the compile settings and optimizer state; ``save_format="keras"`` writes Keras 3.15's
        ``.keras`` format instead, for Keras to load, ``save_format="h5"`` Keras' legacy ``.h5`` model file
        (see ``glassnet.io.save_model``). ``overwrite`` (Keras', by keyword: the second positional
        argument is ``include_optimizer``): False refuses a file that exists (FileExistsError)."""
        from .io import save_model
        from .saving import check_overwrite
        # (filepath: Keras' name, so Keras code passing it by keyword runs)
        check_overwrite(filepath, overwrite, "save")
        save_model(self, filepath, include_optimizer=include_optimizer, save_format=save_format)

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
        """Keras' ``Model.export``: ``format="onnx"`` writes the model for inference as an ONNX file
        (opset 17; a free batch axis; inputs and outputs named as the model's), atomically, with no
        package beyond NumPy. Keras' other formats, "tf_saved_model" (its default) and "openvino",
        need those frameworks and are refused by name. See glassnet._onnx_graph and docs/export.md."""
        from ._onnx_graph import export
        return export(self, filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs)

    def save_weights(self, filepath, *, overwrite=True):
        """Write the weights, without compile settings or optimizer state (Keras' ``save_weights``),
        atomically. Read them back with ``load_weights``. When a model file can store the network's
        config, the file is one (``glassnet.load_model`` rebuilds the network from it too,
        uncompiled); otherwise (a ``Lambda``, a function of yours in a layer, a layer that does not
        rebuild from its ``get_config()``) it holds the weights alone, with each one's layer, name
        and shape: build the model again in code and call ``load_weights`` (see
        ``glassnet.io.save_weights``). ``overwrite=False`` (Keras') refuses a file that exists
        (FileExistsError)."""
        from .io import save_weights
        from .saving import check_overwrite
        check_overwrite(filepath, overwrite, "save_weights")
        save_weights(self, filepath)

    def load_weights(self, filepath, max_bytes=None, *, skip_mismatch=False):
        """Set this model's weights from a file of ``save_weights``, ``save`` or ``ModelCheckpoint``,
        matched layer by layer in order (Keras' rule) and checked for count and shape before any is
        written. The optimizer's state is untouched (a fresh optimizer stays fresh). The model must
        be built. ``max_bytes`` caps the file's size as in ``glassnet.load_model`` (2 GiB by default).
        ``skip_mismatch`` (Keras') is False: True is refused by name (not implemented).

        >>> model.save_weights("pretrained.npz")        # doctest: +SKIP
        >>> other.load_weights("pretrained.npz")        # doctest: +SKIP
        """
        from .io import MAX_BYTES, load_weights
        from .saving import check_skip_mismatch
        check_skip_mismatch(skip_mismatch, "load_weights")
        load_weights(self, filepath, MAX_BYTES if max_bytes is None else max_bytes)

    def _default_name(self):
        """The name Keras gives a model made without one, before its number: its class's (a
        subclass of Sequential: its own, in snake case)."""
        return type(self).__name__

    def __repr__(self):
        return f"<Sequential {self.name!r} layers={len(self.layers)} built={self.built}>"


def _is_lambda(layer):
    """Whether ``layer`` is a ``Lambda``, whose function may be a model: code it runs without a
    gradient (documented), not a layer whose weights it owns."""
    from .layers.utility import Lambda
    return isinstance(layer, Lambda)


def _heads_at(model, offset):
    """The outputs of ``model``, a model of several nested last in a Sequential, as that
    Sequential's (``outputs.Head``s): the same layers, shapes and places in the packed rows, at
    its calls (``model``'s call k is the Sequential's ``offset + k``); None for a model of one."""
    if model._heads is None:
        return None
    heads = model._heads
    return make_heads([head.layer for head in heads], [offset + head.call for head in heads],
                      [head.shape for head in heads], [head.key for head in heads] if heads[0].key else None)


def _check_block_weights(model, name, found):
    """Refuse ``get_layer(name)`` where ``name`` is a block drawn into ``model`` (a ``gn.Layer``
    with ``call``) holding weights of its own and sub-layers with weights: the layer of that name is
    the block's ``CallWeights`` (its own weights alone), so freezing or reading it would leave the
    sub-layers out, silently, where Keras' get_layer gives the whole block. A block of its own
    weights alone (the guide's ``Linear``) is given its ``CallWeights``, which holds them all."""
    from ._call_weights import CallWeights
    if not isinstance(found, CallWeights):
        return
    nested = _nested_named(getattr(model, "_nesting", ()), name)
    if nested is None or nested.model is not None:
        return
    others = [layer.name for layer in nested.layers
              if layer is not found and (getattr(layer, "params", None) or getattr(layer, "state", None))]
    if others:
        raise ValueError(f"get_layer: {name!r} is a block nested in this one ({nested.kind}), not one of its layers: "
                         f"its layers joined this model, {[layer.name for layer in nested.layers]}; the layer named "
                         f"{name!r} holds the block's own weights alone, without {others}'s, so freezing or reading it "
                         f"as the block would leave those out. Get the layers by those names, or use the block itself")


def _nested_named(records, name):
    """The ``Nested`` summary record (glassnet._summary) named ``name`` among ``records`` and the
    records nested in them, depth first; None when none is."""
    for record in records:
        if record.name == name:
            return record
        found = _nested_named(record.children, name)
        if found is not None:
            return found
    return None
