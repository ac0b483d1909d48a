"""The Layer contract every layer follows, built-in or written by a user.

A layer owns its parameters (``params``), their gradients (``grads``, same keys and shapes, filled by
``backward``) and whatever ``forward`` cached for ``backward``. Shapes passed to ``build`` and
``output_shape`` exclude the batch axis: ``(features,)`` for vectors, ``(H, W, C)`` for images.

Writing a layer::

    class Scale(Layer):
        def build(self, input_shape):
            self.add_weight("gamma", input_shape, "ones")
            super().build(input_shape)
        def forward(self, x, training=False):
            self.x = x
            return x * self.params["gamma"]
        def backward(self, grad_output):
            self.grads["gamma"][...] = (grad_output * self.x).sum(axis=0)
            return grad_output * self.params["gamma"]

and check it with ``glassnet.gradcheck.check_layer(Scale(dtype="float64"), x)``.

The rules a layer of your own must keep, and why:

- Create weights in ``build`` with ``add_weight``, not in ``__init__``: there they get the model's
  dtype and its seeded generator (the same seed, the same initial weights), and the model knows them.
  Keras' keywords work too (``self.add_weight(shape=(3,), initializer="ones", name="gamma")``);
  ``trainable=False`` makes state, kept in ``self.state`` (as BatchNormalization's moving
  statistics): saved, never trained, updated by ``forward`` in place.
- ``super().build(input_shape)`` at the end of ``build`` is optional, as in Keras: a build that
  returns without it marks the layer built (a ``Wrapper``'s must call it: it builds the wrapped layer).
- Read a weight as ``self.params["gamma"]``, or through an attribute of the layer holding
  ``add_weight``'s return value (Keras' ``self.w = self.add_weight(...)``): a model moves every
  parameter into one flat buffer (so that the optimizer updates all of them in a few passes) and
  points such attributes at it, but an array kept anywhere else (a list, a local) is a stale copy
  that training no longer changes.
- ``forward`` leaves its input as it was (``x = x - m``, never ``x -= m``): the input is the
  previous layer's output, which that layer may keep for its backward pass, or the user's data.
- ``backward`` writes every gradient (``self.grads[k][...] = ...`` or ``self.grads[k] = ...``; never
  ``+=`` onto the last step's) and returns dL/d(input), of the input's shape; it may return None
  when its ``needs_input_gradient`` is False: a model's first layer, or one below which no layer
  learns (a frozen base), where the backward pass ends.
- Override ``output_shape`` when the layer changes the shape (the next layer is built from it), and
  ``get_config`` when the constructor takes arguments of its own: ``save_model`` refuses a layer
  that does not rebuild from its config, or that takes arguments and keeps the base
  ``get_config`` (it would load with their defaults), and ``load_model`` finds the class by its
  name, so define or import it before loading.
- Keep every parameter in the layer's own ``params``: a layer or a model held inside another (a
  Dense as an attribute of a residual block) would be neither trained nor saved, so a model
  refuses it. A block made of layers keeps Keras' ``call`` and defines no ``forward``: such a class
  is made a subclass of ``glassnet.Model`` when it is defined (glassnet._call_layers), whose ``call``
  is drawn into the graph, which trains its layers.
- Optionally, override ``numbers_per_sample`` when forward makes a working array larger than its
  output (Conv2D's im2col copy): ``predict`` and ``evaluate`` size their default chunks from it.
- Optionally, override ``matmul_flops`` when the layer's matrix products are not ``kernel`` times
  its outputs: ``fit`` picks its BLAS threads from the largest.
"""
import collections
import contextlib
import contextvars
import functools
import inspect
import itertools
import math
import re
import sys
import threading
import types

import numpy as np

from .. import _tape_state
from .. import _seeding, backend, constraints, initializers, regularizers, saving
from .._warnings import warn
from .._bounds import check_output
from .._flagless import NOT_GIVEN, given_flag
from .._validation import check_flag, check_name, check_positive_int, check_seed
from .catalog import ALIASES, HOME_OF, load_all
from .keras_surface import KerasSurface

LAYERS = {}   # class name -> class: the exact-key table that load_model rebuilds layers from
# (built-in modules are imported on first use, see catalog: ``lookup`` imports them all before it
# answers that a name is unknown). ALIASES: Keras' other names of built-in classes ("MaxPool2D" ->
# "MaxPooling2D"), which a config may use as Keras' own loader takes them; a fixed table, never
# filled by a file.


def _qualified_name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_built_in(cls):
    return cls.__module__.startswith(f"{__package__}.") and cls.__name__ in HOME_OF


def _register(cls):
    """Enter ``cls`` in ``LAYERS`` under its class name; the latest class statement wins, except
    that a built-in layer's module imported after a user's class took its name (the first use of
    ``glassnet.layers.Attention`` after ``class Attention(Layer)``) leaves the user's class there.

    Re-running the same class statement (a notebook cell, ``importlib.reload``) gives a class of the
    same module and qualified name: the same layer, edited, so it replaces the old one silently. A
    class of the same name from anywhere else is more likely an accident, and a quiet one: model
    files name layers by class name only, so they would load with the newcomer. Hence the warning.
    """
    name = cls.__name__
    previous = LAYERS.get(name)
    if previous is not None and _is_built_in(cls) and not _is_built_in(previous):
        return      # a user's class of this name came first (and was warned about then): it stays
    if previous is not None:
        old = _qualified_name(previous)
    elif not _is_built_in(cls) and name in HOME_OF:
        old = f"{__package__}.{HOME_OF[name]}.{name}"    # the built-in one, not imported yet
    else:
        old = None
    new = _qualified_name(cls)
    if old is not None and old != new:
        warn(f"layer class name {name!r} is already registered by {old}; {new} "
             f"replaces it, and load_model will now build {new} for layers saved as "
             f"{name!r}. Rename one of the classes to keep both loadable.")
    LAYERS[name] = cls


# glassnet.io's cap on what a model file's constructor's arguments make a subclass of the user's
# allocate (glassnet._subclass_files): None, or a function ``cap(what, name, shape)`` called before
# each weight ("weight") and each reserved array ("state") is made, raising for more than the file
# holds. A context variable, not io's patch of each layer's methods: the subclass' own __init__ and
# build make its layers, which io never sees before they allocate
ALLOCATION_CAP = contextvars.ContextVar("glassnet_allocation_cap", default=None)
_ASKING = set()     # ids of the layers whose own compute_output_shape is being asked (output_shape)
# each layer's place in the order layers are made: a model names its unnamed layers in that order,
# as Keras names each layer when it is made (graph._rename_clashes)
_MADE = itertools.count()


def _several_arrays(x):
    """Whether ``x`` is a list or tuple of two or more arrays (each with a shape of its own): a
    layer's inputs, which a layer of one input refuses, rather than one batch written as a list of
    numbers (``[[1.0, 2.0], [3.0, 4.0]]``), which it takes."""
    return (isinstance(x, (list, tuple)) and len(x) > 1
            and all(hasattr(a, "shape") and hasattr(a, "dtype") and len(a.shape) > 0 for a in x))


def _holds_strings(x):
    """Whether array ``x`` holds strings: a str/bytes dtype, or objects among which one is (an
    object array of numbers, as pandas gives, casts to floats as it is)."""
    kind = getattr(x.dtype, "kind", "f")
    return kind in "US" or (kind == "O" and any(isinstance(v, (str, bytes)) for v in x.flat))



class Layer(KerasSurface):
    """Base class. Subclasses override ``build``, ``forward``, ``backward`` and, when the shape
    changes, ``output_shape``; ``get_config`` must return the constructor's arguments.

    Parameters
    ----------
    name : str, optional
        Unique within a model; ``Sequential`` assigns ``dense``, ``dense_1``, ... when omitted.
    input_shape : tuple of int, optional
        Shape of one sample (no batch axis); lets the model build before it sees data.
    input_dim : int, optional
        Shorthand for ``input_shape=(input_dim,)``.
    dtype : {"float32", "float64"}, optional
        Set by the model when omitted (its own dtype); float32 for a standalone layer.
    seed : int, optional
        The layer's own generator (its initial weights, Dropout's masks), inside a model too: a
        seeded layer ignores the model's seed, an unseeded one draws from a stream of the model's.
        A layer built before it joins a model keeps the weights it has.
    activity_regularizer : Regularizer or name, optional
        A penalty on the layer's output (Keras' ``activity_regularizer``): inside a model, each
        batch's loss gains ``regularizer(output) / batch size`` (Keras 3's scaling), in training,
        ``evaluate`` and validation alike, and its gradient joins the one flowing into the layer.
        ``L1(1e-4)`` on a hidden layer's output makes its activations sparse.
    trainable : bool, default True
    autocast : bool, default True
        Keras' flag, taken with no effect: Keras casts floating inputs to the compute dtype of a
        mixed dtype policy (``"mixed_float16"``), which glassnet does not have (a layer computes in
        its one dtype, and a model casts its inputs to it). ``False`` is kept in ``get_config``
        and model files (Keras' ``.keras`` files both ways).
    """

    # parameter name -> Regularizer, for the parameters add_weight was given one; read-only here
    # (add_weight gives the layer a dict of its own), so a layer pickled before regularizers has one
    regularizers = types.MappingProxyType({})
    # parameter name -> Constraint (add_weight's constraint=), the same way
    constraints = types.MappingProxyType({})
    # a penalty on the output (also what a layer pickled before it existed reads): see the property
    _activity_regularizer = None
    # Keras' autocast flag (cast floating inputs to the compute dtype of a mixed dtype policy, which
    # glassnet refuses): taken and kept for get_config and files, with no effect. On the class, an
    # instance sets it only when False: the layers made at its default keep their attributes as before
    autocast = True
    # masks (layers/masking.py): Keras' flag for a layer whose output keeps its input's mask (one
    # that treats each step on its own), and glassnet's for the layers that make or read a mask
    supports_masking = False
    makes_mask = False
    _compute_mask_refusal = None    # why a class of yours defining compute_mask is refused (__init_subclass__)
    reads_mask = False          # its forward takes mask=(batch, steps) booleans
    # called alone on a list of arrays, reads it as one array (np.asarray stacks them: a list of
    # images is a batch) rather than refusing it: Keras' layers without an input_spec do so
    # (activations, dropout and noise, Rescaling, Discretization, image preprocessing); the others
    # (Dense, Conv2D, Flatten, ...) refuse several inputs, as Keras' do
    stacks_lists = False
    # Keras' input_spec (layers/input_spec.py): an InputSpec, or a list of them for a layer that
    # merges several inputs, checked at every call, eager or drawn; None declares nothing
    input_spec = None
    # a call's own arguments that change what the layer computes (ReversibleEmbedding's reverse):
    # a drawn model keeps them per call and sets them on the layer around that call's shapes and
    # forward (``call_arguments_set``), so that one layer can be called with each
    call_arguments = ()
    mask_refusal = None         # why a layer that Keras feeds the mask to cannot take it here
    # the settings that size the output (UpSampling2D's "size"): a model refuses an output sample of
    # more than MAX_SAMPLE_VALUES numbers naming them (glassnet._bounds); a layer whose forward
    # makes a larger working array than its output checks it in build (check_sample_values)
    shape_arguments = ()
    mask_readers = ()           # on a maker inside a model: the layers after it that read its mask
    pending_mask = None         # on a reader: the mask handed on for its next forward
    # Keras builds a few weightless layers when they are made (those whose __init__ calls its
    # _build_at_init: activations, dropout and noise, pooling, Masking, Reshape, ...), so their
    # count_params gives 0 before any call; any other layer refuses it until built, a layer of yours too
    built_when_made = False
    # the mode a call given no ``training`` runs in: Keras' default of ``call``'s training argument,
    # True for the image preprocessing layers and Pipeline (Keras 3.15's ``call(self, data,
    # training=True)``): called alone on data they augment, and in a model a pass given no flag
    # (``model(x)``, not predict) runs them in training mode (glassnet._flagless); a layer of your
    # own ported from a Keras ``call(x, training=True)`` sets it True too
    training_default = False
    # a layer fed raw texts or values (TextVectorization, StringLookup, Hashing), and one holding
    # code that a model file cannot keep (Lambda): read with getattr on every batch, declared here
    # with the defaults those reads assume
    takes_text = False
    holds_code = False
    merges = False              # takes a list of inputs (Add, Concatenate, a layer of yours that sets it)
    # read with getattr on every tape step and at every fit's start (StateSnapshot, the
    # TrainingSwitch plan): declared likewise. A recurrent layer that carries its states
    # from batch to batch sets stateful; SpectralNormalization's training_rewrites names the weight
    # its training calls rewrite; a RandomDraw's draw_seed is its SeedGenerator; TrainingSwitch's
    # unread_inputs(training) the input a pass leaves unread
    stateful = False
    training_rewrites = ()
    draw_seed = None
    unread_inputs = None

    def passes_mask(self, within_steps):
        """Whether this layer's output keeps the mask it receives: ``supports_masking``, whatever
        the mask. ``within_steps``: the mask has axes within each step besides the steps (an
        Embedding's of ids (batch, steps, length)), which TimeDistributed cares about."""
        return self.supports_masking

    def uses_mask(self, within_steps):
        """Whether this layer's forward uses the mask it receives (``reads_mask``; TimeDistributed
        uses one within the steps only, when the layer it wraps reads masks). A layer that neither
        uses nor passes on a mask gets Keras' warning when it is added (see ``plan_masks``)."""
        return self.reads_mask

    def mask_within_steps(self):
        """On a maker: whether its mask has axes within each step besides the steps (see
        ``passes_mask``). False unless a maker says otherwise."""
        return False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if _draws_call(cls):
            # Keras' block of layers and ops (call, no forward): a glassnet.Model subclass, drawn from
            # its call, is what trains one here (glassnet._call_layers); neither registered as a
            # layer (a model file holds the layers its call draws) nor given the hooks below
            from .._call_layers import draw_as_model
            draw_as_model(cls, Layer)
            return
        if _draws_call(cls, direct=False):
            # the same block on a base of the user's defining neither forward nor call (Keras code's
            # class Block(MyBase)): that base is drawn with it (glassnet._call_bases)
            from .._call_bases import bases_to_draw, draw_bases
            between = bases_to_draw(cls, Layer)
            if between:
                from .._call_layers import CallLayer
                draw_bases(between, Layer, CallLayer, LAYERS)
                super(cls, cls).__init_subclass__()         # (Model's hooks, as draw_as_model runs them)
                return
        if "convolution_op" in vars(cls) and "forward" not in vars(cls) and _keras_convolves(cls) \
                and not cls.__module__.startswith(f"{__package__}."):
            # Keras' hook on its convolution layers (keras.io's StandardizedConv2D): glassnet's forward
            # computes the convolution itself and never calls it, so the override was silently ignored
            raise TypeError(f"{cls.__name__}: defines convolution_op(), Keras' hook for the convolution of its Conv "
                            f"layers, which {cls.__bases__[0].__name__}'s forward does not call (the override would be ignored): "
                            f"write forward(x, training=False) and backward(grad_output) here, computing with the "
                            f"kernel you want and giving its gradient (docs/layers.md, Your own: keras.io's "
                            f"StandardizedConv2D so ported)")
        if "call" in vars(cls) and "forward" not in vars(cls) and cls.forward is not Layer.forward \
                and not cls.__module__.startswith(f"{__package__}."):
            # Keras' call on a subclass of a layer that computes in forward: glassnet runs the forward
            # it inherits, so call would be silently ignored (its values never computed)
            owner = next(base for base in cls.__mro__ if "forward" in vars(base))
            raise TypeError(f"{cls.__name__}: defines call(), Keras' method, but inherits forward from "
                            f"{owner.__name__}, which glassnet runs instead (call would be ignored): write "
                            f"forward(x, training=False) and backward(grad_output) here, or derive "
                            f"{cls.__name__} from a base without forward (gn.Layer) to have its call drawn as "
                            f"Keras' block (docs/layers.md, Your own)")
        if "forward" in vars(cls) and Layer not in cls.__bases__ \
                and not cls.__module__.startswith(f"{__package__}."):
            # a layer of the user's on a base of theirs: that base is a layer's, never to be drawn
            from .._call_bases import note_forward_subclass
            note_forward_subclass(cls, Layer)
        take_shapeless_build(cls)
        if cls.__module__.startswith(f"{__package__}."):
            # Keras' weight attributes (dense.kernel, bn.moving_mean, lstm.cell.kernel) on the
            # built-in classes that have them: properties, not a __getattr__ on every layer, which
            # would make each attribute read of every layer slower (no specialised lookups)
            from ._keras_attributes import install_sublayer_attributes, install_weight_attributes
            install_weight_attributes(cls)
            install_sublayer_attributes(cls)            # (mha.query_dense)
        if "build" in vars(cls):
            cls.build = _sized_build(vars(cls)["build"], _extends_built_in_build(cls))
        elif cls.build is Layer.build and "forward" in vars(cls) and not cls.__module__.startswith(f"{__package__}."):
            # a layer of yours with forward and no build: gn.Variables set in its __init__ are its
            # weights too, adopted at the base build (as Keras tracks them: glassnet._attr_variables)
            cls.build = _adopting_build
        if "forward" in vars(cls) and not cls.__module__.startswith(f"{__package__}."):
            _take_masks_as_keras(cls)
        if "compute_mask" in vars(cls) and cls.makes_mask is False:
            # a model never calls compute_mask but on Embedding and Masking (whose forward hands its
            # mask on): Keras' PositionalEmbedding would be taken and its padding read as data.
            # Refused when one is made (a class merely defined, in a module imported, is left alone)
            cls._compute_mask_refusal = (
                f"{cls.__name__}: defines compute_mask, Keras' way to make a mask, which glassnet does not "
                f"call (the padding would be read as data): make the mask with Embedding(..., mask_zero=True) "
                f"or Masking before this layer, and set supports_masking = True in the class to pass it on; "
                f"or write it as a block of layers and ops with call (no forward), whose compute_mask "
                f"glassnet draws (docs/layers.md, Your own)")
            if cls.supports_masking is True:
                # a class handing the mask on already (Keras 2's `return mask`, needed there beside
                # the flag) must not be told to set the flag it has: what it lacks is the deletion
                cls._compute_mask_refusal = (
                    f"{cls.__name__}: defines compute_mask, which glassnet does not call: its supports_masking "
                    f"= True already hands on the mask it receives, unchanged; delete compute_mask if it returns "
                    f"that mask (a mask made anew, Keras' ids != 0, is made by Embedding(..., mask_zero=True) or "
                    f"Masking before this layer; docs/layers.md, Your own)")
        _register(cls)

    def __init__(self, name=None, input_shape=None, input_dim=None, dtype=None, seed=None,
                 activity_regularizer=None, trainable=True, autocast=True, **unknown):
        if self._compute_mask_refusal is not None:
            raise TypeError(self._compute_mask_refusal)
        if unknown:
            raise _unexpected_arguments(type(self), unknown)
        if input_dim is not None:
            if input_shape is not None:
                raise ValueError(f"{type(self).__name__}: give input_dim or input_shape, not both")
            input_shape = (check_positive_int(input_dim, f"{type(self).__name__}: input_dim"),)
        if input_shape is not None:
            input_shape = _sample_shape(input_shape, type(self).__name__)
        self.name = check_name(name, f"{type(self).__name__}: name")
        self._made = next(_MADE)
        self.input_shape = input_shape
        self.dtype = None if dtype is None else backend.resolve_dtype(dtype)
        self.seed = check_seed(seed, f"{type(self).__name__}: seed")
        self.activity_regularizer = activity_regularizer
        # a numpy Generator for initial weights and any random draws (Dropout's masks): a model sets
        # it for a layer given no seed; a seeded layer has its own from the start, so that a layer of
        # yours that draws in forward finds self.rng there even without parameters
        self.rng = None if seed is None else np.random.default_rng(seed)
        self.params = {}
        self.grads = {}
        self.built = False
        # Keras' constructor argument (Embedding(..., weights=[table], trainable=False)); a model
        # file keeps the flags of its layers itself, so get_config leaves it out
        self.trainable = check_flag(trainable, f"{type(self).__name__}: trainable")
        if not check_flag(autocast, f"{type(self).__name__}: autocast"):
            self.autocast = False
        # the model sets this to False on its first layer, whose input gradient nobody uses
        self.needs_input_gradient = True

    @property
    def activity_regularizer(self):
        """The penalty on this layer's output (a ``Regularizer``), or None; see the class docstring."""
        return self._activity_regularizer

    @activity_regularizer.setter
    def activity_regularizer(self, value):
        global ACTIVITY_GENERATION
        self._activity_regularizer = regularizers.get(value, f"{type(self).__name__}: activity_regularizer")
        # models cache which of their layers have one, rather than asking every layer every step
        ACTIVITY_GENERATION += 1

    # -- building -----------------------------------------------------------------------------
    def build(self, input_shape):
        """Create the parameters once the shape of one input sample is known."""
        self.input_shape = tuple(input_shape)
        self.built = True
        # a quantized layer read from a file (from_config): its float weights just made are
        # quantized, and the file's integer ones then written over them
        pending = self.__dict__.pop("_quantize_when_built", None)
        if pending is not None:
            from .. import quantization_config
            self.quantize(config=quantization_config.deserialize(pending))

    def _reserve(self, name, shape):
        """Called by ``build`` before it makes an array that is not a weight, of ``shape`` values in
        all (state such as moving statistics, fixed statistics): nothing here. Reading a model
        file or JSON (glassnet.io) caps it, as it caps ``add_weight``, so that a few bytes naming
        a huge input shape cannot make a layer allocate gigabytes."""
        cap = ALLOCATION_CAP.get()
        if cap is not None:
            cap("state", name, shape)

    def add_weight(self, name=None, shape=None, initializer=None, regularizer=None, constraint=None, *,
                   trainable=True, dtype=None):
        """Create weight ``name`` of ``shape`` with ``initializer``; positionally in glassnet's order
        ``add_weight("gamma", (3,), "ones")``, or with Keras' keywords
        ``add_weight(shape=(3,), initializer="ones", name="gamma", trainable=True)``.

        As Keras': ``shape`` defaults to ``()`` (a scalar), ``initializer`` to ``"glorot_uniform"``,
        ``name`` to ``"variable"``, ``"variable_1"``, ... (the first free in this layer: Keras
        counts across the program, which would give a reloaded model other names). A trainable
        weight goes in ``params`` with its zeroed gradient in ``grads``; ``trainable=False`` makes
        state in ``self.state`` instead (as BatchNormalization's moving statistics): saved and
        loaded, counted as non-trainable, never given a gradient or an optimizer update, put back
        after ``gradcheck`` and ``trace``; ``forward`` updates it in place
        (``self.state[name][...] = ...``). ``dtype``: the layer's own (None, its default); a weight
        of another dtype is refused.

        ``regularizer`` (a ``glassnet.regularizers`` one, ``"l2"``, ...) adds its penalty on this
        parameter to the loss a model trains on, as Keras' ``add_weight(regularizer=...)`` does;
        ``constraint`` (a ``glassnet.constraints`` one, ``"max_norm"``, ...) projects it after every
        update a model makes, as Keras' ``add_weight(constraint=...)``; trainable weights only.
        Returns the new array: keep it as an attribute of the layer (``self.w = ...``, Keras'
        way) or use ``self.params[name]`` (``self.state[name]``) afterwards: inside a model a
        parameter moves into the model's flat buffer, which such an attribute follows, while the
        array kept anywhere else stops being the live one."""
        # refused before anything is made. Keras' add_weight starts with shape: add_weight((3,), "zeros")
        # would take the shape for the name
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{self.describe()}: add_weight: name must be a string, got {name!r:.80}; the order "
                            f"is add_weight(name, shape, initializer) (Keras' starts with shape: pass keywords)")
        trainable = check_flag(trainable, f"{self.describe()}: add_weight: trainable")
        state = getattr(self, "state", None)
        # the names in use, looked up where they are: a list of them made at every call made a
        # layer of many weights quadratic to build (20000 took 12 s, not 0.6 s)
        taken = collections.ChainMap(self.params, state if isinstance(state, dict) else {})
        name = self._free_weight_name(taken) if name is None else name
        # one array per name across params and state: a second one would replace the first unseen
        # (or be saved twice under one name)
        if name in taken:
            raise ValueError(f"{self.describe()}: add_weight: a weight named {name!r} exists already; give "
                             f"each weight a name of its own")
        if not trainable and (regularizer is not None or constraint is not None):
            what = "regularizer" if regularizer is not None else "constraint"
            raise ValueError(f"{self.describe()}: add_weight: {name!r}: a {what} applies to a trainable weight "
                             f"(a penalty in the loss, a projection after each update); trainable=False makes state "
                             f"that training never updates")
        if not trainable and state is not None and not isinstance(state, dict):
            raise TypeError(f"{self.describe()}: add_weight: trainable=False keeps the weight in self.state, a dict "
                            f"(name -> array), which this layer uses for a {type(state).__name__}")
        shape = () if shape is None else shape
        initializer = "glorot_uniform" if initializer is None else initializer
        if dtype is not None:
            wanted = self.dtype if self.dtype is not None else backend.resolve_dtype(None)
            try:
                dtype_ok = np.dtype(dtype) == wanted
            except TypeError:
                dtype_ok = False
            if not dtype_ok:
                raise ValueError(f"{self.describe()}: add_weight: {name!r}: dtype must be the layer's own, "
                                 f"{np.dtype(wanted).name} (set it with the layer's dtype=, or the model's), "
                                 f"got {dtype!r:.40}")
        given = shape
        shape = None if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__") else tuple(shape)
        if shape is None or not all(d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool)
                                                  and d >= 0) for d in shape):
            raise TypeError(f"{self.describe()}: add_weight: {name!r}: shape must be a tuple of non-negative "
                            f"integers such as (3,) or (4, 3), got {given!r:.80}")
        if any(d is None for d in shape):
            raise ValueError(f"{self.describe()}: its weight {name!r} has shape {tuple(shape)}, which takes the size "
                             f"of an input axis given as None (any size); give that axis a size (build(input_shape) takes "
                             f"one sample's shape, without Keras' batch axis: (5,), not (None, 5))")
        cap = ALLOCATION_CAP.get()
        if cap is not None:
            cap("weight", name, shape)
        regularizer = regularizers.get(regularizer, f"{type(self).__name__} {self.name!r}: {name}: regularizer")
        constraint = constraints.get(constraint, f"{type(self).__name__} {self.name!r}: {name}: constraint")
        if constraint is not None:
            constraint.check_shape(tuple(shape), f"{type(self).__name__} {self.name!r}: {name}")
        if regularizer is not None:         # one for 2-D weights only (OrthogonalRegularizer)
            regularizer.check_shape(tuple(shape), f"{type(self).__name__} {self.name!r}: {name}")
        if self.dtype is None:
            self.dtype = backend.resolve_dtype(None)
        xp = backend.xp()
        where = f"{type(self).__name__} {self.name!r}: {name}: initializer"
        initializer = initializers.get(initializer, where)
        try:
            with np.errstate(over="ignore"):      # an overflow is refused below, by name
                value = initializer(tuple(shape), self._generator(), self.dtype)
        except ValueError as exc:       # a shape the initializer cannot fill (Identity of a bias)
            raise ValueError(f"{where}: {exc}") from None
        value = np.asarray(value)
        if not value.flags.c_contiguous:        # an initializer may give a transposed view
            value = np.ascontiguousarray(value)     # (not for a scalar weight: it would become (1,))
        if value.shape != tuple(shape):
            raise ValueError(f"{where} {initializer!r:.80} returned shape {value.shape} for a weight of "
                             f"shape {tuple(shape)}")
        if not np.isfinite(value).all():      # RandomNormal(stddev=1e39) in float32: inf
            raise ValueError(f"{where} {initializer!r:.80} drew values that are not finite (NaN or "
                             f"infinite) in {np.dtype(self.dtype).name}")
        if not trainable:
            if state is None:
                self.state = {}
            self.state[name] = xp.asarray(value, dtype=self.dtype)
            return self.state[name]
        self.params[name] = xp.asarray(value, dtype=self.dtype)
        self.grads[name] = xp.zeros_like(self.params[name])
        if regularizer is not None:
            self.regularizers = {**self.regularizers, name: regularizer}
        if constraint is not None:
            self.constraints = {**self.constraints, name: constraint}
        return self.params[name]

    def add_loss(self, loss):
        """Keras' ``add_loss``: inside a ``call`` glassnet draws, a term of the training loss
        (``ops.mean(x)`` with axis=None, ...: see glassnet.added_losses); refused by name elsewhere."""
        from ..added_losses import add_loss
        add_loss(self.describe(), loss, by=self)

    def _free_weight_name(self, taken, prefix=""):
        """The name ``add_weight`` gives a weight given none: ``variable``, ``variable_1``, ... (Keras'
        names), the first that ``prefix`` + it is not in ``taken``. Counted within the layer, not across
        the program as Keras does, so that a model built again (``load_model``) names it the same."""
        # searched from where the last search ended, while the name before it is still taken (a
        # build only adds weights): from "variable" every time, a layer making thousands of unnamed
        # weights took minutes to build (5000: 37 s), and a model file naming their number, longer
        hints = self.__dict__.setdefault("_weight_name_hints", {})
        k = hints.get(prefix, 0)
        if k and prefix + _variable_name(k - 1) not in taken:
            k = 0
        while prefix + _variable_name(k) in taken:
            k += 1
        hints[prefix] = k
        return _variable_name(k)

    def _generator(self):
        """``self.rng``, made from ``seed`` on first use when no model set it (a layer used alone):
        what initial weights and random draws (Dropout's masks, GaussianNoise) come from."""
        if self.rng is None:
            self.rng = np.random.default_rng(self.seed if self.seed is not None else _seeding.entropy())
        return self.rng

    def keras_weight_path(self, key):
        """Keras' ``variable.path`` of this layer's weight ``key`` below the layer's name, as a
        list of names: ``["kernel"]`` here. Keras makes some weights in sublayers of its own (an
        LSTM's in its ``lstm_cell``, MultiHeadAttention's ``query_kernel`` in its ``query``
        EinsumDense), and a ``MultiOptimizer``'s patterns match those paths; such layers override
        this (``ParametersMixin._weight_paths``)."""
        return [key]

    def wrapped_layers(self):
        """The layers this one holds and whose weights are its own (a wrapper's: TimeDistributed's
        layer, Bidirectional's two readers), which a model checks, saves and releases with it;
        none for any other layer (a layer holding another as an attribute is refused)."""
        return ()

    def check_input_values(self, x, name):
        """Refuse data whose values this layer cannot take, raising an error that names ``name``
        (``"x"``, ``"validation_data[0]"``): a model calls it on its first layer with all of the
        data, in the dtype it was given, before any work, and ``layer(x)`` on ``x`` as given. Every value is fine by default; an
        Embedding takes integer indices into its table only."""

    def output_shape(self, input_shape):
        """Shape of one output sample for one input sample of ``input_shape``; same by default, or
        what Keras' ``compute_output_shape`` answers where a layer of yours overrides that instead
        (a layer ported from Keras: shapes with the batch axis first, None)."""
        if type(self).compute_output_shape is not KerasSurface.compute_output_shape and id(self) not in _ASKING:
            # (its own super().compute_output_shape comes back here: it then gets the default)
            _ASKING.add(id(self))
            try:
                batched = ([(None, *shape) for shape in input_shape] if getattr(self, "merges", False)
                           else (None, *input_shape))
                out = self.compute_output_shape(batched)
            finally:
                _ASKING.discard(id(self))
            # asked with the batch axis None, an answer keeps it there: one without it ((units,) for
            # (None, units)) would read its first axis as the batch and the next layer's error would
            # name that layer
            if not isinstance(out, (tuple, list)) or not out or out[0] is not None:
                raise TypeError(f"{self.describe()}: compute_output_shape returned {out!r:.80}; expected one "
                                f"output's shape with the batch axis first, (None, *sample)")
            return tuple(out[1:])
        return tuple(input_shape)

    def numbers_per_sample(self, input_shape):
        """How many numbers one sample takes in the largest array this layer's forward pass makes:
        its output by default (a convolution adds its im2col copy). ``predict`` and ``evaluate``
        size their automatic chunks from it; a custom layer with a large working array may say so."""
        return math.prod(self.output_shape(input_shape))

    def matmul_flops(self, batch_size):
        """FLOPs of this layer's largest matrix product over a batch, for ``fit``'s choice of BLAS
        threads: 2 x batch x kernel size x output positions for a layer with a ``kernel`` (Dense:
        one position; Conv2D: Ho * Wo), 0 without one or before it is built."""
        kernel = self.params.get("kernel")
        if kernel is None or self.input_shape is None:
            return 0
        return 2 * batch_size * kernel.size * math.prod(self.output_shape(self.input_shape)[:-1])

    def count_params(self):
        """The number of weights, as Keras counts them: the trained ``params`` and the ``state``
        (BatchNormalization's moving statistics), as many as ``get_weights`` returns. Refused
        before the layer is built, as Keras refuses it (0 would be untrue of a Dense), except on
        the layers Keras builds when they are made (``built_when_made``: ReLU, Dropout, MaxPooling2D)."""
        if not self.counts_before_build():
            raise ValueError(f"count_params: {self.describe()} is not built yet, so its weights are not made; "
                             f"build it first: layer.build(input_shape), or call it on data")
        return int(sum(a.size for _, a in self._weight_items()))

    def counts_before_build(self):
        """Whether ``count_params`` answers now: built, or one of the layers Keras builds when
        made, or a weightless layer called on data by a path of its own (``Hashing``, the lookups,
        ``TextVectorization``, ``HashedCrossing`` on their values: ``called_on_data``), as Keras'
        call builds it. A summary shows the others as Keras' does: ``0 (unbuilt)``."""
        return self.built or self.built_when_made or self.called_on_data

    called_on_data = False

    # -- weights ------------------------------------------------------------------------------
    def _weight_items(self):
        """``(name, live array)`` pairs in Keras' order: ``params`` (trained), then ``state`` (not
        trained, e.g. BatchNormalization's moving statistics). ``Sequential`` uses the same list."""
        return [*self.params.items(), *getattr(self, "state", {}).items()]

    def get_weights(self):
        """Copies of the weights as NumPy arrays, Keras' order: ``[kernel (in, units), bias (units,)]``
        for Dense, ``[gamma, beta, moving_mean, moving_variance]`` for BatchNormalization, ``[]``
        for a layer without weights or not built yet.

        Example
        -------
        >>> import numpy as np
        >>> from glassnet.layers import Dense
        >>> layer = Dense(3, seed=0)
        >>> _ = layer(np.ones((1, 4)))               # built on first use
        >>> [w.shape for w in layer.get_weights()]
        [(4, 3), (3,)]
        """
        return [backend.to_numpy(a).copy() for _, a in self._weight_items()]

    def set_weights(self, weights):
        """Write ``weights`` (a list like ``get_weights()`` returns) into the layer's arrays in place.

        In place matters: inside a model every parameter is a view into the flat buffer the
        optimizer updates, and a new array put in its place would drop out of training. Count and
        shapes are all checked before anything is written; values are cast to the layer's dtype.
        """
        hint = "" if self.built else ("; the layer is not built yet: call it on data or "
                                      "build(input_shape) first")
        _assign(self._weight_items(), weights, f"set_weights: {self.describe()}", hint)

    # -- computing ----------------------------------------------------------------------------
    def forward(self, x, training=False):
        """x : ndarray of shape (batch, *input_shape) -> ndarray of shape (batch, *output_shape)."""
        raise NotImplementedError(_unwritten(self, "forward"))

    def backward(self, grad_output):
        """grad_output : dL/d(output), shape of the output -> dL/d(input); fills ``grads``.
        Must not modify ``grad_output``."""
        raise NotImplementedError(_unwritten(self, "backward"))

    def __call__(self, x, training=NOT_GIVEN, mask=None):
        """Check ``x``, build on first use, then ``forward``: the safe way to use a layer alone.
        ``mask`` (batch, steps) goes to a layer that reads masks (an LSTM's padding steps).
        ``training`` as in ``forward``; given none, the layer's ``training_default`` (False,
        inference, but for the image augmentation layers, as Keras'); None given is inference.
        Called on an ``Input`` or another layer's symbolic output, it computes nothing and returns
        its own symbolic output: the functional API (``glassnet.Model``)."""
        from .symbolic import call_symbolic, is_symbolic
        if is_symbolic(x):
            from .mask_argument import drawn_with_mask
            # Keras' explicit mask= replaces x's own: the layer is drawn on x carrying it (SetMask)
            return call_symbolic(self, drawn_with_mask(self, x, mask), training)    # training=False: infers (Keras)
        training = given_flag(self, training)       # (glassnet._flagless)
        if _tape_state.recording():        # a GradientTape is open: the call is recorded (glassnet.tape)
            from ..tape import record_layer_call
            return record_layer_call(self, x, training, mask)
        _tape_state.FORWARDS[0] += 1        # the layer's caches become this call's (glassnet.tape)
        if isinstance(x, dict):
            # np.asarray would make a 0-d object array of it, refused below as "shape ()": a message
            # that says nothing of the dict (a port of Keras' Layer subclass whose call reads one)
            from .symbolic import holds_symbolic
            block = (" A block of layers whose call reads a dict (Keras' Layer subclass doing so) is a subclass of "
                     "glassnet.Model, whose call takes the dict." if holds_symbolic(x) else "")
            raise TypeError(f"{self.describe()}: takes one input, got a dict of {len(x)} ({list(x)[:5]}); give one "
                            f"of its values, or merge them first (Concatenate, Add, ...).{block}")
        if getattr(self, "merges", False) and isinstance(x, (list, tuple)):
            return self._call_on_list(x, training)
        if _several_arrays(x) and not self.stacks_lists:
            # np.asarray would stack them into one batch, (2, n, ...): a wrong result, silently.
            # Keras refuses it too ("expects 1 input(s), but it received 2 input tensors")
            shapes = ", ".join(str(tuple(a.shape)) for a in x[:4])
            # Keras 2's LSTM([x, h, c]): the states go by keyword now
            states = (f"; a recurrent layer's initial states go by keyword, "
                      f"{type(self).__name__.lower()}(x, initial_state=[...])"
                      if "initial_state" in inspect.signature(type(self).__call__).parameters else "")
            raise TypeError(f"{self.describe()}: takes one input, got a {type(x).__name__} of {len(x)} arrays "
                            f"(shapes {shapes}); merge them first (Concatenate, Add, ...), stack them yourself "
                            f"(np.stack) if they are samples of one batch, or, for a layer of your own that "
                            f"takes several, set merges = True on it{states}")
        if mask is not None and not self.reads_mask:
            raise TypeError(f"{self.describe()}: takes no mask (the layers that read one: SimpleRNN, LSTM, GRU, "
                            f"ConvLSTM1D/2D/3D, Bidirectional, GlobalAveragePooling1D)")
        xp = backend.get_array_module(x)
        x = xp.asarray(x)
        if self.input_spec is not None:         # Keras checks it first, on the array as given
            _check_spec(self, x)
        # values the layer cannot take (an Embedding's indices), as given: before the cast to floats
        self.check_input_values(x, self.describe())
        if _holds_strings(x) and not getattr(self, "takes_text", False):
            # NumPy's own "could not convert string to float" would name neither the layer nor the way out
            raise TypeError(f"{self.describe()}: expected numbers, got strings (dtype {x.dtype}); texts and "
                            f"string categories go through TextVectorization, StringLookup or Hashing first")
        drawn = drawn_call() is not None
        if drawn and x.ndim < 2:        # Keras' positions, (maxlen,): no batch axis, nothing else fits
            raise constant_in_draw(self.describe(), [x.shape])
        if x.ndim < 2:
            raise ValueError(f"{self.describe()}: expected input of shape (batch, ...), got shape {x.shape}")
        if not self.built:
            if self.dtype is None:
                self.dtype = backend.resolve_dtype(None)
            # the input_shape it was given, when it was given one: x is checked against it below
            shape = self.input_shape or x.shape[1:]
            with sized_axes_needed(self, shape):
                self.build(shape)
            self.check_input_shape(x.shape[1:])
            # what a model's build refuses (glassnet._bounds), for a layer used on its own; one whose
            # output_shape cannot tell here (AttentionScores, used alone) says why in its forward
            try:
                made = self.output_shape(x.shape[1:])
            except (ValueError, TypeError):
                made = None
            if made is not None:
                check_output(self, made)
        else:
            self.check_input_shape(x.shape[1:])
        if drawn and self.params:       # a layer without weights computes the same constant as Keras
            raise constant_in_draw(self.describe(), [x.shape])
        x = x.astype(self.dtype, copy=False)
        if mask is not None:
            return self.forward(x, training=training, mask=mask)
        return self.forward(x, training=training)

    def _call_on_list(self, inputs, training):
        """``layer([x1, x2])`` on arrays, for a layer of your own with ``merges = True``: its forward
        takes the list of arrays, each (batch, ...), as inside a model (np.asarray would stack them
        into one array, or fail on inputs of different shapes); built on first use for the list of
        their sample shapes."""
        from .merging import batches_of
        arrays = batches_of(self, inputs)
        if self.input_spec is not None:
            _check_spec(self, arrays)
        shapes = [tuple(a.shape[1:]) for a in arrays]
        if not self.built:
            if self.dtype is None:
                self.dtype = backend.resolve_dtype(None)
            self.build(shapes)
        if self.params and drawn_call() is not None:       # (an attention layer's weights: see __call__)
            raise constant_in_draw(self.describe(), [a.shape for a in arrays])
        return self.forward([a.astype(self.dtype, copy=False) for a in arrays],
                            training=training)

    def __getstate__(self):
        # pickle and copy.deepcopy of a layer on its own: its settings and weights, not the graph of
        # its first symbolic call (layer.output), which leads back through every layer before it in
        # the model it was drawn in (a Sequential draws each of its layers when built): Keras pickles
        # a layer by its config and weights. A model keeps its layers' (SequentialTensorsMixin).
        state = dict(self.__dict__)
        state.pop("_first_call", None)
        if state.get("quantization_mode") is not None:
            # a quantized layer's own methods (layers/quantized.py) are put back by __setstate__
            for name in ("forward", "backward", "backward_from_logits", "get_config"):
                state.pop(name, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if state.get("quantization_mode") is not None:
            from .quantized import install_methods
            install_methods(self)

    @property
    def output(self):
        """The symbolic output of this layer's first call in a functional Model (Keras'
        ``layer.output``): ``gn.Model(model.input, model.get_layer("conv2d_1").output)`` is the
        model up to that layer, sharing its weights (a feature extractor)."""
        return self._first_symbolic_call("output")[1]

    @property
    def input(self):
        """The symbolic input of this layer's first call in a functional Model (Keras'
        ``layer.input``; a merge layer's: the list)."""
        parents = self._first_symbolic_call("input")[0]
        # (a recurrent layer's call with initial_state: [x, *states], as Keras')
        return parents if getattr(self, "merges", False) or len(parents) > 1 else parents[0]

    def _first_symbolic_call(self, what):
        call = self.__dict__.get("_first_call")
        if call is None:
            raise AttributeError(f"{self.describe()}: {what} is the tensor of the layer's first call while a "
                                 f"functional Model is drawn; this layer was never called on a tensor (a layer of a "
                                 f"Sequential is, when the model is built: an Input first, input_shape=..., "
                                 f"build((None, *shape)) or its first data)")
        return call

    def check_input_shape(self, sample_shape):
        if self.input_shape is not None and not shape_fits(sample_shape, self.input_shape):
            built, hint = tuple(self.input_shape), ""
            if len(built) == len(sample_shape) + 1 and built[0] is None and shape_fits(sample_shape, built[1:]):
                # Keras' build((None, None, 8)) of a sequence: read as glassnet's one sample of any
                # height and width, where the two forms cannot be told apart
                hint = (f" (the layer was built with {built}, read as one sample's shape: that form cannot be told "
                        f"from Keras' batch-first one; build it with the sample's shape, build({built[1:]}))")
            raise ValueError(f"{self.describe()}: expected input samples of shape {self.input_shape}, "
                             f"got {tuple(sample_shape)}{hint}")

    # -- describing ---------------------------------------------------------------------------
    def get_config(self):
        """The constructor arguments that rebuild this layer (JSON-serialisable)."""
        config = {"name": self.name}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        if self.autocast is False:      # (True, the default: left out, the configs written before it)
            config["autocast"] = False
        return {**config, **regularizers.config_entries(self, ("activity_regularizer",))}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        # a list (JSON's tuple) only: anything else goes to the constructor, whose error names it
        # (tuple(2.5) here was "'float' object is not iterable", and a dict's keys became a shape)
        if isinstance(config.get("input_shape"), list):
            config["input_shape"] = tuple(config["input_shape"])
        # a quantized layer's config (layers/quantized.py) says how: it is quantized once built
        pending = config.pop("quantization_config", None)
        layer = cls(**config)
        if pending is not None:
            layer._quantize_when_built = pending
        return layer

    def describe(self):
        # a layer used on its own has no name yet: its class alone, not "layer Conv2D (Conv2D)"
        if not self.name:
            return f"layer {type(self).__name__}"
        return f"layer {self.name} ({type(self).__name__})"

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


# how many times a layer's activity_regularizer was set: a model's cache of its regularized
# layers is current while this has not moved
ACTIVITY_GENERATION = 0

# the keyword arguments Layer.__init__ takes, which every layer accepts through its **kwargs
_LAYER_ARGUMENTS = ("name", "input_shape", "input_dim", "dtype", "seed", "activity_regularizer", "trainable",
                    "autocast")


def check_axis(axis, caller):
    """``axis`` as a layer takes it (LayerNormalization, Softmax, Normalization): an int, or a list
    (or tuple) of distinct ints, never the batch axis 0; returned as an int or a list. Whether the
    input has those axes is known only at build (``sample_axes``)."""
    items = axis if isinstance(axis, (list, tuple)) else [axis]
    if any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in items):
        raise TypeError(f"{caller}: axis: expected an integer or a list of integers, got {axis!r:.80}")
    if not items or 0 in items or len(set(int(a) for a in items)) != len(items):
        raise ValueError(f"{caller}: axis: expected distinct axes of the input other than the batch "
                         f"axis 0 (negative ones count from the end), got {axis!r:.80}")
    return [int(a) for a in items] if isinstance(axis, (list, tuple)) else int(axis)


def sample_axes(layer, axis, ndim):
    """The axes ``axis`` (an int or a list of ints, negative ones counting from the end) names in
    a batch of ``ndim`` axes, sorted and positive; a ValueError naming ``layer`` when it names the
    batch axis 0, an axis the input lacks, or one twice (LayerNormalization's and Softmax's axes)."""
    named = axis if isinstance(axis, list) else [axis]
    axes = sorted(a % ndim if -ndim <= a < ndim else -1 for a in named)
    if -1 in axes or 0 in axes or len(set(axes)) != len(axes):
        raise ValueError(f"{layer.describe()}: axis {axis!r:.80} does not name distinct axes of its "
                         f"input, which has {ndim} (the batch axis 0 excluded; negative ones count "
                         f"from the end)")
    return tuple(axes)


def own_arguments(cls):
    """The names of the keyword arguments ``cls.__init__`` takes besides every layer's own
    (``_LAYER_ARGUMENTS``): what its ``get_config`` must return for the layer to rebuild. An
    ``__init__`` that passes ``**kwargs`` on to a base's takes that base's arguments too
    (Conv2DTranspose's ``output_padding``, then Conv2D's ``activation``, ``use_bias``, ...)."""
    names = []
    for klass in cls.__mro__:
        if klass is Layer or "__init__" not in vars(klass):
            continue
        parameters = inspect.signature(klass.__init__).parameters.values()
        names += [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                  and p.name != "self" and p.name not in _LAYER_ARGUMENTS and p.name not in names
                  and p.name not in getattr(cls, "_not_taken", ())]     # a base's that the class sets itself
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            break                   # the bases' arguments do not reach this class
    return names


def snake_case(name):
    """Keras' layer names (its ``to_snake_case``): "Dense" -> "dense", "MaxPooling2D" ->
    "max_pooling2d", "PReLU" -> "p_re_lu"."""
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def free_name(layer, taken):
    """The name a model gives ``layer``: its class's, ``snake_case``, or that with the first free
    suffix, ``dense``, ``dense_1``, ... (Keras' rule), none of the names in ``taken``. A layer
    with a ``name_base`` of its own (a TensorOp: its op's, ``true_divide``) starts from that."""
    base = getattr(layer, "name_base", None) or snake_case(type(layer).__name__)
    name, k = base, 0
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    return name


def _variable_name(k):
    return "variable" if k == 0 else f"variable_{k}"


def _unexpected_arguments(cls, unknown):
    """The TypeError for keyword arguments that no constructor took. Python's own message would name
    ``Layer.__init__``, where a subclass's ``**kwargs`` finally lands, not the layer the user wrote
    (``BatchNormalization(renorm=True)``, a Keras argument glassnet does not have)."""
    own = own_arguments(cls)
    names = ", ".join(repr(key) for key in unknown)
    takes = f"{', '.join(own)} and, like every layer, " if own else "the arguments of every layer: "
    return TypeError(f"{cls.__name__}: unexpected keyword argument{'s' if len(unknown) > 1 else ''} "
                     f"{names}; {cls.__name__} takes {takes}{', '.join(_LAYER_ARGUMENTS)}")


def _sample_shape(value, owner, input_dim_hint=True, argument="input_shape"):
    """``value`` (a tuple, list or 1-D array of positive ints: the shape of one sample, without the
    batch axis, e.g. (features,) or (H, W, C)) as a tuple of Python ints; a ValueError naming
    ``owner`` (the layer class) and ``argument`` otherwise."""
    example = "such as (3,) for 3 features or (28, 28, 1) for images"
    # a bare int is the usual slip for a vector's shape (Keras refuses it too); say what to write
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        raise ValueError(f"{owner}: {argument} must be a tuple such as ({value},), got the integer "
                         f"{value!r}" + (f"; or pass input_dim={value}" if input_dim_hint else ""))
    # a string is iterable too, and "32" would quietly become the shape (3, 2)
    if isinstance(value, (str, bytes)):
        raise ValueError(f"{owner}: {argument} must be a tuple of positive integers {example}, "
                         f"got {value!r}")
    try:
        shape = tuple(value)
    except TypeError:
        raise ValueError(f"{owner}: {argument} must be a tuple of positive integers {example}, "
                         f"got {value!r}") from None
    # None is Keras' "any size": a sequence of any length, (None, features); the layers whose
    # weights or output need that size refuse it when the model is built (``shape_fits``)
    if not shape or not all(d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0)
                            for d in shape):
        raise ValueError(f"{owner}: {argument} must hold positive integer sizes (or None for any size along "
                         f"an axis), {example}; got {value!r}")
    return tuple(None if d is None else int(d) for d in shape)


# .names: the names of the subclasses (glassnet.Model with call) whose call this thread is drawing
# now, innermost last: a layer called there on an array, not a tensor, runs once, at the draw
# (Layer.__call__, Sequential.__call__). Per thread: another thread's eager calls are no part of it
_DRAWN_CALLS = threading.local()


def drawn_call():
    """The name of the subclass whose call this thread is drawing now (the innermost), or None."""
    names = getattr(_DRAWN_CALLS, "names", None)
    return names[-1] if names else None


def drawing_kind():
    """What this thread runs innermost of a block's own code: ``"draw"`` (its call, drawn once),
    ``"build"`` (its build, run once as Keras runs it, even inside another's draw), or None.
    A weight read as a value (``self.conv.kernel.numpy()``) is fine in a build and refused in a
    draw, where it would be a constant that never trains (glassnet.variables)."""
    kinds = getattr(_DRAWN_CALLS, "kinds", None)
    return kinds[-1] if kinds else None


@contextlib.contextmanager
def _marked(kind):
    if not hasattr(_DRAWN_CALLS, "kinds"):
        _DRAWN_CALLS.kinds = []
    _DRAWN_CALLS.kinds.append(kind)
    try:
        yield
    finally:
        _DRAWN_CALLS.kinds.pop()


def building_block():
    """Mark a block's own ``build`` running (graph.Model: ``_own_build``, ``_draw_from``)."""
    return _marked("build")


@contextlib.contextmanager
def drawing_call(model_name):
    """Mark the block as the draw of ``model_name``'s call (graph.Model._symbolic_call)."""
    if not hasattr(_DRAWN_CALLS, "names"):
        _DRAWN_CALLS.names = []
    _DRAWN_CALLS.names.append(model_name)
    try:
        with _marked("draw"):
            yield
    finally:
        _DRAWN_CALLS.names.pop()


def constant_in_draw(what, shapes):
    """The TypeError for ``what`` (a layer's or model's describe()) called on arrays of ``shapes``
    (a list of shapes) while a subclass' call is drawn. Keras runs that call on every batch, so
    its layer trains; here call runs once, so the layer would compute once, from the weights it
    had then, and the model would keep its output as a constant, the layer neither trained nor
    listed in get_weights. keras.io's TokenAndPositionEmbedding does this with its positions,
    ``self.pos_emb(ops.arange(0, maxlen))``."""
    shown = f"a constant array (shape {tuple(shapes[0])})" if len(shapes) == 1 else \
        f"constant arrays (shapes {', '.join(str(tuple(s)) for s in shapes)})"
    return TypeError(
        f"{what}: called on {shown} while "
        f"{drawn_call()}.call is drawn; call runs once here, so the layer would compute once and its "
        f"weights never train (Keras runs call on every batch). Call it on a tensor: give the constant the "
        f"batch axis from one, e.g. keras.io's TokenAndPositionEmbedding, x the ids (batch, maxlen): "
        f"positions = self.pos_emb(x * 0 + ops.arange(0, maxlen)) (docs/layers.md)")


@contextlib.contextmanager
def call_arguments_set(layer, options):
    """Set the call's own arguments ``options`` (a dict, or None) that ``layer`` names in its
    ``call_arguments`` as its attributes while the block runs (that call's shapes, its forward),
    then put back what was there: one layer called with several (an embedding looking ids up and
    the same layer reversed onto the vocabulary) answers each call for that call."""
    given = {key: value for key, value in (options or {}).items() if key in layer.call_arguments}
    before = {key: vars(layer)[key] for key in given if key in vars(layer)}
    vars(layer).update(given)
    try:
        yield
    finally:
        for key in given:
            if key in before:
                vars(layer)[key] = before[key]
            else:
                vars(layer).pop(key, None)


@contextlib.contextmanager
def sized_axes_needed(layer, shape):
    """Turn the TypeError of a layer whose build or output shape needs the size of an axis given
    as None (a Flatten after ``Input((None, 8))``: None * 8) into an error that says so; any other
    error passes as it is."""
    try:
        yield
    except TypeError as exc:
        if not isinstance(shape, (tuple, list)) or None not in shape or "NoneType" not in str(exc):
            raise
        # Keras' build((None, 5)) names the batch axis, which glassnet's shapes leave out
        batch = (f"; build(input_shape) takes one sample's shape, without Keras' batch axis: "
                 f"{tuple(shape[1:])} for Keras' {tuple(shape)}") if shape[0] is None and len(shape) > 1 else ""
        raise ValueError(f"{layer.describe()}: needs every axis of its input sized, got samples of shape "
                         f"{tuple(shape)} (None: any size); give that axis a size, or put a layer that does "
                         f"not depend on it here (GlobalAveragePooling1D or an RNN without return_sequences "
                         f"instead of Flatten){batch}") from exc


def _draws_call(cls, direct=True):
    """Whether ``cls``, a subclass of Layer just made, is Keras' block written with ``call``: it (or a
    base of its own, not a layer) defines ``call``, no class of it defines ``forward``, and Layer is one
    of its own bases (``direct``; else not: a base of the user's between them, which
    glassnet._call_bases judges). glassnet's own layers all compute in ``forward``."""
    return (callable(getattr(cls, "call", None)) and cls.forward is Layer.forward
            and (Layer in cls.__bases__) is direct and not cls.__module__.startswith(f"{__package__}."))


def _unwritten(layer, method):
    """The message for a layer of yours without ``method`` (forward or backward); a Keras layer's
    ``call`` is not what glassnet runs, so say so rather than name the missing method alone."""
    keras = ("; it defines call(), Keras' method, which glassnet does not run: rename it forward and "
             "write backward(grad_output) too (NumPy, which glassnet does not differentiate)") if callable(getattr(layer, "call", None)) else ""
    return (f"{type(layer).__name__}.{method}: a layer of your own writes forward(x, training=False) and "
            f"backward(grad_output), see glassnet/layers/base.py{keras}")


def _take_masks_as_keras(cls):
    """A layer of yours whose ``forward`` takes ``mask`` reads masks, as Keras hands the mask to any
    layer whose ``call`` takes one: ``reads_mask`` becomes True (unless the class sets it), so a
    model plans its mask to the layer, and ``forward`` gets the mask handed on in each pass as its
    ``mask`` argument ((batch, steps) booleans, or None where no mask reaches it). Glassnet's own
    readers take it themselves (``masking.take``); without this, a ported layer's forward would
    get no mask inside a model and treat the padding as data, silently."""
    forward = vars(cls)["forward"]
    try:
        takes_mask = "mask" in inspect.signature(forward).parameters
    except (TypeError, ValueError):
        takes_mask = False
    if not takes_mask:
        return
    if "reads_mask" not in vars(cls):
        cls.reads_mask = True
    # forward(x, training, mask) called with the mask by position: it is given, nothing to take
    positional = [p.name for p in inspect.signature(forward).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    given_at = positional.index("mask") - 2 if "mask" in positional else None      # after self, x

    @functools.wraps(forward)
    def forward_with_mask(self, x, *args, mask=None, **kwargs):
        if given_at is not None and len(args) > given_at:
            return forward(self, x, *args, **kwargs)
        if mask is None and self.reads_mask:
            from . import masking          # (masking imports this module)
            mask = masking.take(self, None, x)
        return forward(self, x, *args, mask=mask, **kwargs)
    cls.forward = forward_with_mask


def take_shapeless_build(cls):
    """A ``build(self)`` of ``cls``'s own that takes no shape (keras.io's GRN/VSN example, Keras 3
    port: ``def build(self): self.built = True``, "to remove the build warnings") is called by
    Keras 3.15 without arguments, since it hands ``build`` only the shapes its signature names;
    glassnet calls ``build(input_shape)``, which failed as a bare TypeError. Such a build is
    wrapped to take the shape and leave it unread."""
    build = vars(cls).get("build")
    if not callable(build):
        return
    try:
        parameters = list(inspect.signature(build, follow_wrapped=False).parameters.values())
    except (TypeError, ValueError):
        return
    if len(parameters) != 1 or parameters[0].kind not in (parameters[0].POSITIONAL_ONLY,
                                                           parameters[0].POSITIONAL_OR_KEYWORD):
        return

    def build_taking_a_shape(self, input_shape=None):
        return build(self)
    build_taking_a_shape.__name__, build_taking_a_shape.__qualname__ = build.__name__, build.__qualname__
    build_taking_a_shape.__doc__ = build.__doc__
    cls.build = build_taking_a_shape


def _extends_built_in_build(cls):
    """Whether ``cls``'s own ``build`` overrides a built-in layer's (``class MyConv(gn.layers.Conv2D)``
    with a build calling ``super().build``): a layer computing in the forward it inherits, whose
    build takes the shape the built-in one takes (a model hands it one sample's)."""
    ours = f"{__package__.split('.')[0]}."
    return cls.forward is not Layer.forward and any(
        base is not Layer and "build" in vars(base) and (base.__module__ or "").startswith(ours)
        for base in cls.__mro__[1:])


def _keras_convolves(cls):
    """Whether ``cls`` derives from glassnet's Conv1D/Conv2D/Conv3D, whose Keras counterparts run
    ``convolution_op`` (their transposes and depthwise ones never call it, in Keras either)."""
    names = {(base.__module__, base.__name__) for base in cls.__mro__}
    return (f"{__package__}.conv", "_Conv") in names and (f"{__package__}.conv", "_ConvTranspose") not in names


def _adopting_build(self, input_shape):
    """``Layer.build`` for a layer of the user's without a build of its own, then its ``gn.Variable``
    attributes made weights (``glassnet._attr_variables.adopt_in_layer``)."""
    Layer.build(self, input_shape)
    from .._attr_variables import adopt_in_layer
    adopt_in_layer(self)


def _sized_build(build, extends_built_in=False):
    """``build`` under ``sized_axes_needed``, as models and ``layer(x)`` call it: called directly
    with an axis of any size (Keras' ``layer.build((None, 5))``), a layer's ``int(None)`` would
    otherwise fail as a bare TypeError that names neither the layer nor the argument.

    A build that returns without ``super().build(input_shape)`` marks the layer built all the
    same, as Keras' wrapper around ``build`` does: Keras' guide and examples write builds that only
    make weights, and one ported as it is would otherwise make them again at every build. Not so
    for a ``Wrapper``: its base ``build`` builds the wrapped layer, which nothing else would."""
    ours = f"{__package__.split('.')[0]}."          # "glassnet."
    built_in = (build.__module__ or "").startswith(ours)       # (None: a class made by exec)
    # a subclass' build over a built-in one takes Keras' shape as that one does: its super().build
    # (called with self) cannot tell Keras' shape from the sample's the model hands (MyConv.build
    # ((None, 8, 8, 2)) from a block's build was read as a 4-axis sample)
    built_in = built_in or extends_built_in

    @functools.wraps(build)
    def sized(self, *args, **kwargs):
        if built_in and args and len(args) == 1 and not kwargs:
            # Keras' build((None, 8, 8, 1)), batch axis first, called by code of yours (a block's build
            # building its layers: keras.io's PixelCNN): read as the sample's shape (glassnet's own
            # callers, and a subclass' super().build, hand one sample's shape already)
            caller = sys._getframe(1)
            if not (caller.f_globals.get("__name__") or "").startswith(ours) \
                    and caller.f_locals.get("self") is not self:
                from ._keras_attributes import sample_shape_of_keras
                args = (sample_shape_of_keras(self, args[0]),)
        shape = args[0] if args else kwargs.get("input_shape")
        _BUILDING.stack.append(self)
        try:
            with sized_axes_needed(self, shape):
                out = build(self, *args, **kwargs)
        finally:
            _BUILDING.stack.pop()
        # (a wrapper's super().build builds the layer it wraps: one that forgot it is still refused)
        if not self.built and shape is not None and not self.wrapped_layers():
            Layer.build(self, shape)        # input_shape and built, as super().build sets them
        if not type(self).__module__.startswith(ours):     # gn.Variables set as attributes of a layer of yours:
            # weights of its own, as Keras tracks them (glassnet._attr_variables)
            from .._attr_variables import adopt_in_layer
            adopt_in_layer(self)
        outer = _BUILDING.stack[-1] if _BUILDING.stack else None
        if outer is not None and outer is not self and getattr(self, "_scope_path", None) is None:
            # built by another layer's build (a block's self.conv.build(...)): Keras builds it in that
            # layer's name scope ("s/block/conv2d/kernel"), which the model building the block keeps
            # for it (glassnet.parameters.record_build_path)
            self._path_from_model = True
        scopes = sys.modules.get("glassnet.scopes")     # (no name_scope can be open before it is imported)
        if scopes is not None:
            scopes.record_build_scope(self)             # Keras' weight paths keep the name_scope of their build
        return out
    return sized


class _Builds(threading.local):
    """The layers whose ``build`` is running in this thread, innermost last (``_sized_build``,
    ``building``)."""
    def __init__(self):
        self.stack = []


_BUILDING = _Builds()


@contextlib.contextmanager
def building(layer):
    """Mark ``layer``'s build as running (a drawn block's own build, which no ``_sized_build`` wraps):
    the layers it builds take their Keras paths from the model that builds it."""
    _BUILDING.stack.append(layer)
    try:
        yield
    finally:
        _BUILDING.stack.pop()


def shape_fits(actual, declared):
    """Whether the sample shape ``actual`` fits ``declared``, in which None (Keras' "any size",
    ``Input((None, 8))``: sequences of any length) takes any size.

    >>> shape_fits((7, 8), (None, 8)), shape_fits((7, 8), (7, 9)), shape_fits((7,), (None, 8))
    (True, False, False)
    """
    actual, declared = tuple(actual), tuple(declared)
    return len(actual) == len(declared) and all(d is None or a == d for a, d in zip(actual, declared))


def _torch_layout_hint(got, expected):
    """Advice for a weight of shape ``got`` given where ``expected`` is wanted, when ``got`` is
    PyTorch's layout of it (docs/pytorch.md): a ``Linear``'s ``(out, in)`` or a ``Conv1d``'s
    ``(F, C, k)``, the expected shape reversed, or a ``Conv2d``'s ``(F, C, kh, kw)`` (a
    ``ConvTranspose2d``'s ``(C, F, kh, kw)``) for ``(kh, kw, C, F)``; "" otherwise."""
    if len(got) in (2, 3) and got == expected[::-1] and got != expected:
        return "; a PyTorch weight (output axis first) goes transposed: weight.T"
    if len(got) == 4 and tuple(got[i] for i in (2, 3, 1, 0)) == expected:
        return "; a PyTorch Conv2d's (or ConvTranspose2d's) weight goes as weight.transpose(2, 3, 1, 0)"
    return ""


def _assign(items, weights, caller, hint=""):
    """Check ``weights`` against ``items`` (``(name, array)`` pairs), then copy each into its array."""
    if isinstance(weights, (str, bytes)) or not hasattr(weights, "__iter__"):
        raise TypeError(f"{caller}: expected a list of arrays, got {type(weights).__name__}")
    weights = [np.asarray(backend.to_numpy(w)) for w in weights]
    if len(weights) != len(items):
        names = ", ".join(name for name, _ in items) or "none"
        raise ValueError(f"{caller}: expected {len(items)} arrays ({names}), got {len(weights)}{hint}")
    for i, ((name, target), value) in enumerate(zip(items, weights)):
        if value.shape != tuple(target.shape):
            raise ValueError(f"{caller}: weights[{i}] ({name}) must have shape {tuple(target.shape)}, "
                             f"got {value.shape}{_torch_layout_hint(value.shape, tuple(target.shape))}")
        if value.dtype.kind not in "biuf":
            raise TypeError(f"{caller}: weights[{i}] ({name}) must hold real numbers, got dtype {value.dtype}")
        # a NaN weight turns every prediction into NaN, far from where it came in
        if not np.isfinite(value).all():
            raise ValueError(f"{caller}: weights[{i}] ({name}) holds NaN or infinite values")
    # all cast before any is written: a failure leaves every weight as it was. They go where the
    # weights they replace are (a GPU's, for a model built under set_backend("cupy")), whatever the
    # backend in force now
    xp = backend.get_array_module(items[0][1]) if items else backend.xp()
    with np.errstate(over="ignore"):            # an overflow is refused just below, by name
        values = [xp.asarray(value, dtype=target.dtype) for (_, target), value in zip(items, weights)]
    for i, ((name, target), value) in enumerate(zip(items, values)):
        if not bool(xp.isfinite(value).all()):      # finite before the cast, infinite in float32 (1e300)
            raise ValueError(f"{caller}: weights[{i}] ({name}) holds values too large for {target.dtype}")
    for (_, target), value in zip(items, values):
        target[...] = value


def lookup(class_name):
    """The layer class registered under ``class_name`` (an exact key), or under the class Keras
    also calls so (``ALIASES``: "MaxPool2D" is "MaxPooling2D"); None when neither is known. Only
    these two tables are read: a name from a file never imports or evaluates anything (a name not
    registered yet makes glassnet import its own layer modules, all of them, a fixed list).

    A ``Layer`` subclass that an open ``custom_object_scope`` gives under ``class_name`` comes
    first, as Keras' ``custom_objects`` do: ``load_model(path, custom_objects={"CustomLayer": C})``,
    ``from_config`` and ``model_from_json`` open one, so a layer saved under a class name this
    program does not define (a renamed class) loads, as ``layers.deserialize`` already did. An
    entry of another kind under that name (a loss) is not a layer, and is passed over."""
    given = saving.scoped_object(class_name)
    if isinstance(given, type) and issubclass(given, Layer):
        return given
    if class_name not in LAYERS and (class_name in HOME_OF or class_name in ALIASES):
        load_all()
    cls = LAYERS.get(class_name)
    if cls is None and class_name in ALIASES:
        cls = LAYERS.get(ALIASES[class_name])
    return cls


def get(class_name):
    """The layer class registered under ``class_name`` (exact match, or one of Keras' other names
    of a built-in class: ``ALIASES``)."""
    cls = lookup(class_name)
    if cls is None:
        load_all()          # the list below names every built-in class
        raise ValueError(f"layer: unknown class {class_name!r}; known: {sorted(LAYERS)}")
    return cls


def zero_input_gradient(layer, grad_output):
    """The input gradient of a layer whose output does not move with small moves of its input
    (categories, codes, buckets): zeros of the input's shape (``layer.x``), or None where no layer
    below needs it (the usual place of such a layer: a model's first)."""
    if not layer.needs_input_gradient:
        return None
    return backend.get_array_module(grad_output).zeros(layer.x.shape, dtype=grad_output.dtype)


def missing_input_gradient(layer):
    """The error for ``layer.backward`` returning None inside a model, where a layer below needs
    its input gradient (the loop would otherwise fail later, in NumPy, far from the cause)."""
    shape = "(batch, *input_shape)" if layer.input_shape is None else f"(batch, {', '.join(map(str, layer.input_shape))})"
    return TypeError(f"{layer.name or type(layer).__name__}.backward returned None: a layer with "
                     f"layers below it must return dL/d(input), an array of shape {shape} "
                     f"(only the first layer of a model may skip it, when needs_input_gradient is False)")


def wrong_input_gradients(layer, count, grads):
    """The error for the backward of ``layer``, called on ``count`` inputs (a merge, or a recurrent
    layer's call with initial_state), not returning a list of ``count`` gradients, one per input
    (``grads``: what it returned)."""
    got = (f"a {type(grads).__name__} of {len(grads)}" if isinstance(grads, (list, tuple))
           else f"a {type(grads).__name__}" + (f" of shape {grads.shape}" if hasattr(grads, "shape") else ""))
    return TypeError(f"{layer.name or type(layer).__name__}.backward must return a list of {count} "
                     f"gradient(s), dL/d(input) for each of the {count} input(s) it was called on, in their "
                     f"order, got {got}")


def in_model_dtype(grad, dtype):
    """``grad``, a layer's dL/d(input) inside a model, in the model's ``dtype``. A custom layer whose
    backward computes in float64 (a float64 constant, np.exp of a Python float) would otherwise
    up-cast the backward of every layer below it, silently; it is cast back, as PyTorch's autograd
    casts a returned gradient to its input's dtype. (A float64 forward is refused: it would change
    what the model outputs.)"""
    if grad is not None and getattr(grad, "dtype", dtype) != dtype:
        return grad.astype(dtype)
    return grad


def stateful_layers(layers):
    """The recurrent layers with ``stateful=True`` among ``layers`` and the layers they wrap
    (Bidirectional's readers, TimeDistributed's layer): those that carry states from batch to batch."""
    return [inner for outer in layers for inner in (outer, *outer.wrapped_layers())
            if getattr(inner, "stateful", False)]


class StateSnapshot:
    """What a training-mode forward changes in ``layers`` besides their caches and gradients: each
    layer's ``state`` arrays (BatchNormalization's moving statistics) and its random generator
    (Dropout's masks). ``restore()`` puts them back as they were when the snapshot was taken.

    A stateful recurrent layer's carried ``states`` are kept too, and so are the weights a layer's
    ``training_rewrites`` names (SpectralNormalization's kernel, which its training calls divide).
    ``model.trace``, ``gradcheck.check_model``
    and fit's trial of the metrics on two samples run passes that must update nothing;
    ``check_model`` also restores before every pass, so each one draws the same dropout masks.
    (A custom layer that keeps other state of its own is not covered.)
    """

    def __init__(self, layers):
        # (state, BatchNormalization's moving statistics, is set in the layer's __dict__ when it
        # has any: read there)
        self._saved = [(layer, {key: value.copy() for key, value in layer.__dict__.get("state", {}).items()},
                        layer.rng, None if layer.rng is None else layer.rng.bit_generator.state)
                       for layer in layers]
        # a stateful recurrent layer's carried states: each pass replaces the list, so the list
        # itself is what to keep
        self._carried = [(layer, layer.states) for layer in stateful_layers(layers)]
        self._rewritten = [(layer, {name: layer.params[name].copy() for name in getattr(layer, "training_rewrites", ())})
                           for layer in layers if getattr(layer, "training_rewrites", ())]
        # a glassnet.random SeedGenerator a draw node moves on by one per pass (layers/tensor_random.py)
        self._seed_states = [(layer.draw_seed, layer.draw_seed.state.copy()) for layer in layers
                             if hasattr(getattr(layer, "draw_seed", None), "state")]

    def start_from_zero_states(self):
        """Let the stateful layers start the next pass from zero states, of any batch size (a trial
        pass); ``restore()`` gives them back their own."""
        for layer, _ in self._carried:
            layer.states = None

    def rewind_carried(self):
        """Let the stateful layers start the next pass from the states their last pass started
        from (to run that pass again: the search for a non-finite value); ``restore()`` undoes it."""
        for layer, _ in self._carried:
            layer.states = layer.start_states

    def restore_carried(self):
        """The stateful layers' carried states as they were when the snapshot was taken."""
        for layer, states in self._carried:
            layer.states = states

    def restore_state(self):
        """Each layer's ``state`` arrays (moving statistics, ``add_weight(trainable=False)``) as
        they were when the snapshot was taken, in place."""
        for layer, state, _, _ in self._saved:
            for key, value in state.items():
                layer.state[key][...] = value

    def restore(self, weights=True):
        """Put everything back; ``weights=False`` leaves the rewritten weights as they are now
        (a gradient check's passes, which nudge them)."""
        if weights:
            for layer, saved in self._rewritten:
                for name, value in saved.items():
                    layer.params[name][...] = value
        self.restore_carried()
        self.restore_state()
        for generator, state in self._seed_states:
            generator.state[...] = state
        for layer, _, rng, position in self._saved:
            layer.rng = rng        # a Dropout outside a model makes its generator on first use
            if rng is not None:
                rng.bit_generator.state = position


def _check_spec(layer, inputs, drawn=False):
    """Keras' ``assert_input_compatibility`` of ``layer.input_spec`` against ``inputs`` (arrays or
    symbolic tensors: each has Keras' full ``shape`` and a ``dtype``); nothing for an attribute
    that holds no InputSpec (EinsumDense keeps its equation's letters under that name).
    ``drawn``: tensors of a functional model being drawn, where a layer without a dtype of its
    own computes in the model's, which ``Model(..., dtype=)`` sets after the drawing: the dtype of
    their floating inputs is checked at the passes then."""
    from .input_spec import as_computed, assert_input_compatibility, specs_of
    specs = specs_of(layer)
    if specs is not None:
        if any(spec is not None and spec.dtype is not None for spec in specs):
            # Keras casts floating inputs to the layer's dtype before it checks them (its autocast):
            # float64 data meets InputSpec(dtype="float32"), and a float32 layer never meets "float64"
            inputs = as_computed(inputs, None if drawn and layer.dtype is None else backend.resolve_dtype(layer.dtype))
        assert_input_compatibility(specs if isinstance(layer.input_spec, (list, tuple)) else specs[0], inputs,
                                   layer.name or type(layer).__name__)
