"""Keras' wrappers: Bidirectional (a recurrent layer read both ways), TimeDistributed (a layer
applied to every step of a sequence), SpectralNormalization (a layer whose kernel is kept at
spectral norm 1), and Wrapper, the base class of a wrapper of your own.

A wrapper holds other layers but owns their weights: every weight a wrapped layer's ``build`` asks
for is made by the wrapper's ``add_weight`` (the wrapper's dtype, generator, penalties, constraints
and trainable flag; whatever limit ``load_model`` puts on it), and the wrapped layer reads and
writes them through a ``params`` that looks them up in the wrapper's (``_Prefixed``): a model moves
the wrapper's weights into its flat buffers, and the wrapped layer sees the moved ones.
"""
import collections
import math
from collections.abc import MutableMapping

import numpy as np

from .. import backend, initializers
from .._validation import check_choice, check_flag
from . import masking
from ._by_step import backward_by_step, forward_by_step
from .base import LAYERS, Layer, lookup, snake_case
from .conv_lstm import _ConvLSTM
from .recurrent import CarriesStates, _Recurrent

_READERS = (_Recurrent, _ConvLSTM)          # the layers Bidirectional wraps
READER_NAMES = "SimpleRNN, LSTM, GRU, ConvLSTM1D, ConvLSTM2D or ConvLSTM3D"

MERGE_MODES = ("concat", "sum", "mul", "ave")


class _Wrapper(Layer):
    """What the wrappers share: checks of the wrapped layer, its build through the wrapper's
    ``add_weight``, and the links a forward pass renews (generator, input gradient)."""

    # True for a layer made of layers of its own making, with no weights and a config of its own
    # arguments (RandAugment, RandomColorJitter): another wrapper (a Pipeline) may hold it, as
    # Keras' Pipeline holds them, and a file nests no further
    self_contained = False

    def _inner_layers(self):
        """``(prefix, layer)`` of each wrapped layer: its weights are the wrapper's ``prefix + name``."""
        raise NotImplementedError

    def keras_weight_path(self, key):
        # a wrapped layer's weights are under its own name in Keras: "time_distributed/dense/kernel",
        # "bidirectional/forward_lstm/lstm_cell/kernel"; a wrapper's own weights under the wrapper's
        for prefix, inner in self._inner_layers():
            if key.startswith(prefix) and (key[len(prefix):] in inner.params or key[len(prefix):] in (
                    getattr(inner, "state", None) or {})):      # (TimeDistributed(BatchNormalization)'s statistics)
                return [inner.name, *inner.keras_weight_path(key[len(prefix):])]
        return [key]

    def wrapped_layers(self):
        # from _adopt on; before it (Layer.__init__ setting trainable) there are none yet
        return self.__dict__.get("_wrapped", ())

    @property
    def trainable(self):
        """The wrapper's flag, and its wrapped layers': setting it sets theirs; a wrapped layer
        frozen on its own (``model.layers[0].layer.trainable = False``) freezes the wrapper, all
        of whose weights train together (a Bidirectional with one direction frozen: both)."""
        return self.__dict__.get("_trainable", True) and all(inner.trainable for inner in self.wrapped_layers())

    @trainable.setter
    def trainable(self, value):
        self.__dict__["_trainable"] = value
        for inner in self.wrapped_layers():
            inner.trainable = value

    @classmethod
    def _check_wrapped(cls, layer, states=False, own_dtype=False):
        """Refuse what the wrapper cannot hold; ``states``: whether it hands the wrapped layer's
        states in and out (Bidirectional); ``own_dtype``: whether the wrapper takes the wrapped
        layer's dtype as its own (``_take_dtype``)."""
        name = cls.__name__
        if getattr(layer, "in_wrapper", False):
            raise ValueError(f"{name}: {layer.describe()} is already wrapped, and uses that wrapper's weights; give "
                             f"each wrapper a layer of its own")
        if layer.built:
            raise ValueError(f"{name}: give it a layer that is not built yet (the wrapper builds it, with "
                             f"weights of its own)")
        if layer.activity_regularizer is not None:
            raise ValueError(f"{name}: the wrapped layer's activity_regularizer would never be applied; give it "
                             f"to the {name} layer instead")
        if (getattr(layer, "return_state", False) and not states) or getattr(layer, "graph_only", False):
            raise NotImplementedError(f"{name}: {layer.describe()} returns its states (return_state=True), which "
                                      f"the wrapper would drop; wrapping it is not supported yet")
        settings = {"trainable": not layer.trainable, "seed": layer.seed is not None,
                    "dtype": layer.dtype is not None and not own_dtype}
        given = [setting for setting, set_ in settings.items() if set_]
        if given:
            raise ValueError(f"{name}: the wrapped layer's {', '.join(given)} would not reach the layer it wraps; "
                             f"give {'it' if len(given) == 1 else 'them'} to the {name} layer")

    def _take_dtype(self, *layers):
        """The wrapped layers' own dtype becomes the wrapper's, as Keras computes a wrapped layer in
        its own dtype whatever the wrapper's (``TimeDistributed(Dense(8, dtype="float64"))`` returns
        float64; Keras' config of it gives the wrapper float32, its default): a wrapper computes its
        layers in its own dtype. Two wrapped layers of different dtypes are refused, naming both."""
        own = [np.dtype(layer.dtype).name for layer in layers if layer.dtype is not None]
        if len(set(own)) > 1:
            raise ValueError(f"{type(self).__name__}: the wrapped layers' dtypes differ ({' and '.join(own)}); "
                             f"give them one dtype, or give it to the wrapper alone")
        if own:
            self.dtype = backend.resolve_dtype(own[0])

    @classmethod
    def _one_layer(cls, layer, kinds, mask_hint="", own_dtype=False):
        """The one layer a TimeDistributed or SpectralNormalization wraps, from itself or a config's
        entry: a glassnet Layer, not a wrapper, that makes no mask and passes ``_check_wrapped``."""
        name = cls.__name__
        if isinstance(layer, dict):                      # from a config: {"class_name", "config"}
            layer = _from_entry(layer, name, Layer, kinds)
        if not isinstance(layer, Layer) or (isinstance(layer, _Wrapper) and not layer.self_contained):
            # RNN(cell) holds one recurrent layer per cell, as a wrapper does: its layer does the same
            hint = ("; RNN(cell) holds its cells' layers as a wrapper does: wrap the matching layer instead "
                    "(LSTM(units) for RNN(LSTMCell(units)), GRU, SimpleRNN)" if type(layer).__name__ == "RNN" else "")
            from ..model import Sequential
            if isinstance(layer, Sequential):
                # Keras wraps any layer, its blocks too; a gn.Layer with call and no forward is a model
                # here (glassnet._call_layers), and "must be a glassnet Layer" would puzzle its author
                hint = (f"; {type(layer).__name__} is a model (a gn.Layer with call and no forward is drawn as "
                        f"one), which {name} does not wrap: wrap the layers its call uses instead, "
                        f"{name}(layer)(x) there")
            raise TypeError(f"{name}: layer must be a glassnet Layer that is not a wrapper, got {layer!r:.80}{hint}")
        if layer.makes_mask:
            raise ValueError(f"{name}: {layer.describe()} makes a mask, which would not leave the wrapper{mask_hint}")
        cls._check_wrapped(layer, own_dtype=own_dtype)
        return layer

    def get_config(self):
        config = super().get_config()
        # the wrapped layers draw from the wrapper's generator (their own seeds are refused): a
        # wrapper rebuilt from its config draws as the original, as RandomFlip's or Dropout's does
        if self.seed is not None:
            config["seed"] = self.seed
        return config

    def _adopt(self):
        """Make each wrapped layer's ``params`` and ``grads`` the wrapper's (under its prefix)."""
        self._wrapped = tuple(inner for _, inner in self._inner_layers())
        for prefix, inner in self._inner_layers():
            inner.params, inner.grads = _Prefixed(self, "params", prefix), _Prefixed(self, "grads", prefix)
            inner.in_wrapper = True        # its weights are this wrapper's: no other may hold it

    def _build_inner(self, inner, prefix, input_shape):
        """``inner.build(input_shape)``, each weight it asks for made by the wrapper's
        ``add_weight`` under ``prefix + name``."""
        inner.dtype = self.dtype

        def add_weight(name=None, shape=None, initializer=None, regularizer=None, constraint=None, *,
                       trainable=True, dtype=None):
            if name is not None and not isinstance(name, str):      # (Layer.add_weight's message)
                return Layer.add_weight(inner, name, shape)
            # (NumPy's True too, as Layer.add_weight takes it: a flag read off an array)
            if not check_flag(trainable, f"{inner.describe()}: add_weight: trainable"):
                # the wrapped layer's state would be neither saved nor restored
                raise ValueError(f"{self.describe()}: {inner.describe()} asks add_weight for a weight with "
                                 f"trainable={trainable!r} (state), which {type(self).__name__} does not carry")
            if name is None:        # the first free name among the wrapper's, under this prefix
                name = self._free_weight_name(collections.ChainMap(self.params, getattr(self, "state", {})), prefix)
            return self.add_weight(prefix + name, shape, initializer, regularizer, constraint, dtype=dtype)
        inner.add_weight = add_weight
        try:
            inner.build(input_shape)
        finally:
            del inner.add_weight

    def _link(self):
        """Point the wrapped layers at the wrapper's generator (which a model seeds, saves and
        restores by assignment) and tell them whether their input gradient is wanted."""
        for _, inner in self._inner_layers():
            inner.rng, inner.needs_input_gradient = self._generator(), self.needs_input_gradient


del LAYERS["_Wrapper"]


class Wrapper(_Wrapper):
    """The base class of a wrapper of your own (Keras' ``keras.layers.Wrapper``): a layer that holds
    one other layer, ``self.layer``, and computes with it. Subclass it and write ``forward`` and
    ``backward`` in NumPy, calling the wrapped layer's own::

        class Residual(Wrapper):
            \"\"\"x + layer(x): a skip connection around any layer that keeps the shape.\"\"\"
            def forward(self, x, training=False):
                return x + self.layer.forward(x, training)
            def backward(self, grad_output):
                return grad_output + self.layer.backward(grad_output)

        model = Sequential([Input((8,)), Residual(Dense(8, activation="tanh")), Dense(1)])

    Parameters
    ----------
    layer : a Layer, not built yet (not a wrapper, not one that makes a mask or keeps running
        statistics), or its ``{"class_name", "config"}`` from a config
        Give ``input_shape``, ``seed`` and ``trainable`` to the wrapper, not to it; its ``dtype``
        becomes the wrapper's, as Keras computes a wrapped layer in its own dtype.

    What the base class does for you:

    - ``build(input_shape)`` builds ``self.layer`` for the same input, with the wrapper's dtype and
      generator (its seed, or the model's), every weight it asks for made by the wrapper's
      ``add_weight`` under the layer's own names (``kernel``, ``bias``): they are the wrapper's
      ``params``, trained, penalised, constrained and saved as its own, and ``self.layer`` reads
      and writes them live. Override it to add weights of your own (``self.add_weight(...)``, under
      names the layer does not use), ending with ``super().build(input_shape)``: weights are listed
      in the order they are made, so the wrapper's own come first, as Keras lists them.
    - ``output_shape`` is the wrapped layer's (override it when yours changes the shape);
      ``check_input_shape`` and ``check_input_values`` ask the wrapped layer.
    - ``self.layer``'s random draws (a Dropout, an LSTM's dropout) come from the wrapper's
      generator, and it always returns its input gradient: ``backward`` may use it.
    - ``get_config`` is ``{..., "layer": {"class_name", "config"}}`` (plus the seed), which
      ``from_config`` reads back; a subclass with arguments of its own adds them, as any layer does.
      Your subclass registers itself by class name (define it before ``load_model``).
    - ``trainable`` is the wrapper's and the layer's together.

    A subclass that defines no ``forward`` or ``backward`` is refused when it is made, by name.
    Differences from Keras: the wrapped layer cannot be a wrapper itself, nor be shared with another
    layer (its weights are this wrapper's); ``Wrapper`` itself is a base class, not a layer.

    Example
    -------
    >>> import numpy as np
    >>> from glassnet.layers import Dense
    >>> class Doubled(Wrapper):
    ...     def forward(self, x, training=False):
    ...         return 2 * self.layer.forward(x, training)
    ...     def backward(self, grad_output):
    ...         return self.layer.backward(2 * grad_output)
    >>> layer = Doubled(Dense(3), seed=0)
    >>> layer(np.ones((2, 4))).shape, sorted(layer.params)
    ((2, 3), ['bias', 'kernel'])
    >>> _ = LAYERS.pop("Doubled")      # (the example's class: not left in the registry)
    """

    def __init__(self, layer, **kwargs):
        cls = type(self)
        if cls is Wrapper:
            raise TypeError("Wrapper: a base class, not a layer: subclass it and define forward(self, x, "
                            "training=False) and backward(self, grad_output) (see glassnet.layers.Wrapper)")
        missing = [method for method in ("forward", "backward") if getattr(cls, method) is getattr(Layer, method)]
        if missing:
            raise TypeError(f"{cls.__name__}: a Wrapper subclass must define forward(self, x, training=False) and "
                            f"backward(self, grad_output); {cls.__name__} defines no {' and no '.join(missing)}")
        name = cls.__name__
        layer = self._one_layer(layer, "a layer that is not a wrapper", own_dtype=True)
        if isinstance(getattr(layer, "state", None), dict):      # BatchNormalization's moving statistics
            raise ValueError(f"{name}: {layer.describe()} keeps state besides its trained weights (running "
                             f"statistics, adapted values), which a Wrapper does not carry")
        if layer.input_shape is not None:
            raise ValueError(f"{name}: give input_shape to the wrapper, not to the layer it wraps")
        super().__init__(**kwargs)
        self._take_dtype(layer)
        # Keras' name for it ("dense"), which errors and the file's config then show
        layer.name = layer.name or snake_case(type(layer).__name__)
        self.layer = layer
        self._adopt()
        # the names of the layer's own weights: its params and grads list those alone, not the ones
        # a subclass adds (a Conv2D(use_bias=False) would read a wrapper's own "bias" as its own)
        self._layer_weights = set()
        layer.params, layer.grads = (_Prefixed(self, "params", "", self._layer_weights),
                                     _Prefixed(self, "grads", "", self._layer_weights))
        # the subclass's backward may use the layer's input gradient (a residual's does), wherever
        # the wrapper stands in a model: the model marks the wrapper only
        layer.needs_input_gradient = True
        layer.rng = self.rng
        self.trainable = self.__dict__["_trainable"]     # trainable=False given: the layer's flag too

    # a model gives the wrapper its generator by assignment (and restores it so): the wrapped layer
    # follows, so that subclasses need not relink it before each call as the built-in wrappers do
    @property
    def rng(self):
        return self.__dict__.get("_rng")

    @rng.setter
    def rng(self, value):
        self.__dict__["_rng"] = value
        for inner in self.wrapped_layers():
            inner.rng = value

    def _inner_layers(self):
        return (("", self.layer),)

    # a mask reaches the wrapped layer, as in Keras (where it rides on the tensor into the
    # subclass's ``self.layer(x)``): the model hands it to the wrapper, which leaves it for the
    # layer's next forward; it goes no further than the wrapper (supports_masking False, Keras')
    @property
    def reads_mask(self):
        return self.layer.reads_mask

    @property
    def mask_refusal(self):
        return self.layer.mask_refusal

    @property
    def pending_mask(self):
        return self.layer.pending_mask

    @pending_mask.setter
    def pending_mask(self, mask):
        self.layer.pending_mask = mask

    def __call__(self, x, training=None, mask=None):
        from .symbolic import is_symbolic
        if mask is None or is_symbolic(x) or not self.reads_mask:
            return super().__call__(x, training, mask)
        self.layer.pending_mask = mask          # the subclass's forward takes no mask: its layer's does
        try:
            return super().__call__(x, training)
        finally:
            self.layer.pending_mask = None

    def build(self, input_shape):
        """Build ``self.layer`` for ``input_shape`` with the wrapper's dtype, generator and
        ``add_weight``, then mark the wrapper built."""
        if not self.layer.built:
            self._building_layer = True
            try:
                self._build_inner(self.layer, "", input_shape)
            finally:
                self._building_layer = False
        super().build(input_shape)

    _building_layer = False

    def add_weight(self, name=None, shape=None, initializer=None, regularizer=None, constraint=None, *,
                   trainable=True, dtype=None):
        """Layer's ``add_weight``; a name the wrapped layer already uses is refused (one would
        overwrite the other)."""
        if isinstance(name, str) and (name in self.params or name in getattr(self, "state", {})):
            if self._building_layer:        # the subclass's weight came first
                raise ValueError(f"{self.describe()}: add_weight: the wrapped {self.layer.describe()} makes a "
                                 f"weight named {name!r}, which the wrapper has already; give yours another name")
            whose = f"the wrapped {self.layer.describe()}" if name in self._layer_weights else "the wrapper"
            raise ValueError(f"{self.describe()}: add_weight: {whose} has a weight named {name!r} already; give "
                             f"yours another name")
        value = super().add_weight(name, shape, initializer, regularizer, constraint, trainable=trainable,
                                   dtype=dtype)
        if self._building_layer:
            self._layer_weights.add(name)
        return value

    def check_input_shape(self, sample_shape):
        self.layer.check_input_shape(sample_shape)

    def output_shape(self, input_shape):
        return self.layer.output_shape(input_shape)

    def numbers_per_sample(self, input_shape):
        return max(self.layer.numbers_per_sample(input_shape), math.prod(self.output_shape(input_shape)))

    def matmul_flops(self, batch_size):
        return self.layer.matmul_flops(batch_size)

    def check_input_values(self, x, name):
        self.layer.check_input_values(x, name)

    @property
    def discrete_input(self):
        return getattr(self.layer, "discrete_input", False)     # an Embedding's ids

    def get_config(self):
        return {**super().get_config(), "layer": _to_entry(self.layer)}


del LAYERS["Wrapper"]       # a base class, as Layer is: no config names it


class Bidirectional(CarriesStates, _Wrapper):
    """Run a recurrent layer over the sequence from its start and a copy of it from its end, and
    merge the two outputs (Keras' ``Bidirectional``): every step's output then knows what comes
    after it too. ``Bidirectional(LSTM(32))`` -> (batch, 64).

    Parameters
    ----------
    layer : SimpleRNN, LSTM, GRU, ConvLSTM1D, ConvLSTM2D or ConvLSTM3D
        The forward reader (``go_backwards=False``); the backward one is a copy of its settings
        with ``go_backwards=True``, with weights of its own. With ``return_sequences`` the backward outputs are put
        back in the sequence's order before merging, as Keras does.
    backward_layer : a reader, optional (Keras')
        The backward reader instead of the copy: reading the other way round from ``layer``, with
        its ``stateful``, ``return_sequences`` and ``return_state``; of any class and units
        (``LSTM(4)`` forwards, ``GRU(6, go_backwards=True)`` backwards: a concatenated output of
        4 + 6 features; its own states, a GRU's one after the LSTM's two). Element by element
        merges need the two outputs of one shape. Different: Keras 3.15 takes it too but
        computes the wrapper's shapes from ``layer`` alone (twice its units, its states twice), so
        there another width or state count fails in the layer after it or in ``initial_state``.
    merge_mode : "concat" (default), "sum", "mul", "ave" or None
        How the two outputs become one: side by side on the last axis (twice the units; a
        ConvLSTM's: twice the filters), or element by element. None (Keras') keeps them apart:
        a call returns ``[forward, backward]`` (then the states, with ``return_state``), the
        backward one in the sequence's order; in a functional Model the second is a
        ``BackwardOutput`` call (layers/unmerged.py). Refused in a Sequential, which passes one array.

    States, as Keras': with the wrapped layer's ``return_state=True`` a call returns ``[output,
    *the forward reader's last states, *the backward reader's]`` (LSTM: ``out, fh, fc, bh, bc``; in a
    functional Model each state a ``LastState`` call), and ``initial_state`` takes that many states
    in that order (the backward reader's start it at the sequence's end).

    The weights are the two layers', forward then backward (Keras' order):
    ``forward_kernel``, ``forward_recurrent_kernel``, ``forward_bias``, ``backward_kernel``, ...
    They are the wrapper's own (made by its ``add_weight``, trained, penalised and saved as its
    own); the wrapped layers live in ``forward_layer`` and ``backward_layer`` and read and write
    them through their ``params`` (``model.layers[1].forward_layer.get_weights()`` works). Their
    dropout draws come from the wrapper's generator (the model's seed). ``trainable`` is the
    wrapper's: both directions train or neither (the wrapped layer's own ``trainable`` and
    ``seed`` are refused: give them to the wrapper; its ``dtype``, Keras'
    ``Bidirectional(LSTM(8, dtype="float64"))``, becomes the wrapper's, as Keras computes the
    wrapped layers in theirs).

    ``weights`` (Keras' argument): a list of arrays in ``get_weights()``' order, written into the
    layer when it is built (count and shapes checked then, by name), as Keras 2 did. Different:
    Keras 3.15 keeps them as its readers' ``initial_weights``, which nothing reads: its layer
    starts from fresh weights. Like Keras', the config does not hold them (the model file's
    weights do).

    Example
    -------
    >>> import numpy as np
    >>> from glassnet.layers import LSTM
    >>> Bidirectional(LSTM(4), seed=0)(np.ones((2, 5, 3))).shape
    (2, 8)
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        # Keras' positional order: weights third, so that a backward_layer given by position is named
        if weights is not None and (not isinstance(weights, (list, tuple)) or not all(
                hasattr(w, "shape") or isinstance(w, (list, tuple)) for w in weights)):
            raise TypeError(f"Bidirectional: weights must be a list of arrays (get_weights()' order: the forward "
                            f"reader's, then the backward reader's), got {type(weights).__name__}")
        if isinstance(layer, dict):                      # from a config: {"class_name", "config"}
            layer = _from_entry(layer, "Bidirectional", _READERS, READER_NAMES)
        if not isinstance(layer, _READERS):
            raise TypeError(f"Bidirectional: layer must be a {READER_NAMES}, got {layer!r:.80}")
        self._check_wrapped(layer, states=True, own_dtype=True)
        if backward_layer is not None:
            backward_layer = _given_backward_layer(layer, backward_layer)
        elif layer.go_backwards:            # Keras 3.15 fails on it too: its copy would read backwards as well
            raise ValueError("Bidirectional: wrap a layer that reads forwards (go_backwards=False), or give the "
                             "other reader as backward_layer (go_backwards=False there); the wrapper adds the copy "
                             "that reads from the end")
        if merge_mode is not None:      # None: two outputs, in a functional Model (Sequential refuses it)
            check_choice(merge_mode, "Bidirectional: merge_mode", MERGE_MODES,
                         expected=f"one of {list(MERGE_MODES)} or None (two outputs)")
        if layer.input_shape is not None:                 # LSTM(32, input_shape=...) inside: the wrapper's
            if kwargs.get("input_shape") is not None or kwargs.get("input_dim") is not None:
                raise ValueError("Bidirectional: give input_shape to the wrapper or to the layer it wraps, not both")
            kwargs["input_shape"] = layer.input_shape
        super().__init__(**kwargs)
        self._take_dtype(layer, *([] if backward_layer is None else [backward_layer]))
        self.merge_mode = merge_mode
        # set once built (build): Keras 2's documented use, which Keras 3.15 drops (see the class docstring)
        self._given_weights = None if not weights else [np.asarray(w) for w in weights]
        config = layer.get_config()
        config.pop("input_shape", None)
        # Keras' names: forward_lstm, backward_lstm (a name already saying forward_ is not doubled)
        name = (config.pop("name", None) or snake_case(type(layer).__name__)).removeprefix("forward_")
        self.forward_layer = type(layer).from_config({**config, "name": f"forward_{name}"})
        if backward_layer is None:
            self.backward_layer = type(layer).from_config({**config, "name": f"backward_{name}", "go_backwards": True})
        else:                               # Keras keeps the one given, its name too: a copy of it, as of layer
            config = _without_shape(backward_layer.get_config())
            # one given no name has Keras' automatic one (its class in snake case), which Keras' .h5 files need
            config["name"] = config.get("name") or snake_case(type(backward_layer).__name__)
            self.backward_layer = type(backward_layer).from_config(config)
        self.own_backward_layer = backward_layer is not None
        self._adopt()
        self.return_sequences, self.return_state = layer.return_sequences, layer.return_state
        # Keras' rule: with a mask, each direction's masked steps output zeros when it returns
        # sequences (so that the two merge the same way wherever the padding is)
        for inner in self.wrapped_layers():
            inner.zero_output_for_mask = self.return_sequences

    reads_mask = True
    steps_mask_only = True          # its readers' masks are (batch, steps)
    own_backward_layer = False      # (a Bidirectional pickled before backward_layer: the copy)
    # merge_mode=None: the last forward's backward output (its BackwardOutput call's value), and
    # the gradient that call hands back for the next backward
    unmerged_behind = _behind_grad = None
    return_state = False            # (a Bidirectional pickled before states in and out has none)

    @property
    def supports_masking(self):
        return self.return_sequences

    def _inner_layers(self):
        return (("forward_", self.forward_layer), ("backward_", self.backward_layer))

    def build(self, input_shape):
        self._outputs_shapes(input_shape)       # (a backward_layer of its own: refused here if they cannot merge)
        for prefix, inner in self._inner_layers():
            self._build_inner(inner, prefix, input_shape)
        super().build(input_shape)
        given, self._given_weights = self._given_weights, None
        if given is not None:       # the constructor's weights=: count and shapes checked, by name
            try:
                self.set_weights(given)
            except ValueError as exc:
                raise ValueError(f"{self.describe()}: weights= does not fit the built layer: {exc}") from None

    _given_weights = None           # (a Bidirectional pickled before weights= was taken)

    def check_input_shape(self, sample_shape):
        self.forward_layer.check_input_shape(sample_shape)        # any length, the built features
        if self.own_backward_layer:
            self.backward_layer.check_input_shape(sample_shape)

    def _outputs_shapes(self, input_shape):
        """The two readers' output shapes for ``input_shape``: one but for the last axis (a
        ``backward_layer`` of its own may have other units), one altogether to be merged element
        by element."""
        ahead = self.forward_layer.output_shape(input_shape)
        if not self.own_backward_layer:
            return ahead, ahead
        behind = self.backward_layer.output_shape(input_shape)
        alike = ahead[:-1] == behind[:-1] if self.merge_mode in ("concat", None) else ahead == behind
        if not alike:
            how = "one shape but for the last axis" if self.merge_mode in ("concat", None) else \
                f"one shape for merge_mode={self.merge_mode!r} (element by element)"
            raise ValueError(f"{self.describe()}: its two readers' outputs need {how}, got {ahead} from "
                             f"{self.forward_layer.describe()} and {behind} from {self.backward_layer.describe()}")
        return ahead, behind

    def output_shape(self, input_shape):
        ahead, behind = self._outputs_shapes(input_shape)
        return (*ahead[:-1], ahead[-1] + behind[-1]) if self.merge_mode == "concat" else ahead

    def numbers_per_sample(self, input_shape):
        # both directions' caches and the merged output
        output = self.output_shape(input_shape)
        return sum(inner.numbers_per_sample(input_shape) for inner in self.wrapped_layers()) + int(np.prod(output))

    def matmul_flops(self, batch_size):
        return max(inner.matmul_flops(batch_size) for inner in self.wrapped_layers())

    # -- states in and out (CarriesStates): the forward reader's, then the backward reader's, as Keras
    # (a backward_layer of its own has its own count and shapes: a GRU's one state after an LSTM's two)
    @property
    def state_count(self):
        return self.forward_layer.state_count + self.backward_layer.state_count

    def state_shapes(self):
        if not self.own_backward_layer:
            # the two readers' are alike (a ConvLSTM's follow the frames' sizes: the forward reader,
            # which a model drawn asks for the output's shape, knows them first)
            return 2 * self.forward_layer.state_shapes()
        return self.forward_layer.state_shapes() + self.backward_layer.state_shapes()

    def state_shapes_for(self, sample_shape):
        if not self.own_backward_layer:
            return 2 * self.forward_layer.state_shapes_for(sample_shape)
        return self.forward_layer.state_shapes_for(sample_shape) + self.backward_layer.state_shapes_for(sample_shape)

    def state_names(self):
        inner = self.forward_layer.state_names()
        if self.own_backward_layer and type(self.backward_layer) is not type(self.forward_layer):
            return f"the forward reader's {inner}, then the backward reader's {self.backward_layer.state_names()}"
        return f"the forward reader's {inner}, then the backward reader's"

    @property
    def final_states(self):
        ahead, behind = self.forward_layer.final_states, self.backward_layer.final_states
        return None if ahead is None or behind is None else [*ahead, *behind]

    @property
    def initial_state_grads(self):
        ahead, behind = self.forward_layer.initial_state_grads, self.backward_layer.initial_state_grads
        return None if ahead is None or behind is None else [*ahead, *behind]

    def _split_states(self, x):
        """``(x, forward reader's states, backward reader's)``: from a model's call ``[x, *states]``
        or an eager call's ``initial_state`` (checked as the wrapper's, by its own indices); None
        each for zeros."""
        x, states = self._taken_states(x, self.forward_layer.stateful)
        if states is None:
            return x, None, None
        half = self.forward_layer.state_count
        return x, states[:half], states[half:]

    def forward(self, x, training=False, mask=None):
        x, ahead_from, behind_from = self._split_states(x)
        self._started_from, self._state_grads = ahead_from is not None, None
        if self.input_shape is None or x.ndim != len(self.input_shape) + 1:
            self.check_input_shape(x.shape[1:])
        self._link()
        xp = backend.get_array_module(x)
        mask = masking.take(self, mask, x)      # both directions read the same steps
        ahead = self.forward_layer.forward(x if ahead_from is None else [x, *ahead_from], training, mask=mask)
        behind = self.backward_layer.forward(x if behind_from is None else [x, *behind_from], training, mask=mask)
        if self.return_sequences:           # the backward states in the sequence's order
            behind = behind[:, ::-1]
        self._outputs = (ahead, behind)
        if self.merge_mode is None:         # two outputs: the second is read by BackwardOutput
            self.unmerged_behind = behind
            return ahead
        if self.merge_mode == "concat":
            return xp.concatenate([ahead, behind], axis=-1)
        if self.merge_mode == "sum":
            return ahead + behind
        if self.merge_mode == "ave":
            return (ahead + behind) / 2
        return ahead * behind

    def backward(self, grad_output):
        self._link()
        # the forward reader's channels come first when concatenated (ConvLSTM: its filters)
        units = getattr(self.forward_layer, "units", None) or self.forward_layer.filters
        if self.merge_mode is None:         # each output's own gradient (zeros for one not read)
            grad_ahead, grad_behind = grad_output, self._behind_grad
            self._behind_grad = None
            if grad_behind is None:
                grad_behind = backend.get_array_module(grad_output).zeros_like(self._outputs[1])
        elif self.merge_mode == "concat":
            grad_ahead, grad_behind = grad_output[..., :units], grad_output[..., units:]
        elif self.merge_mode == "sum":
            grad_ahead = grad_behind = grad_output
        elif self.merge_mode == "ave":
            grad_ahead = grad_behind = grad_output / 2
        else:
            ahead, behind = self._outputs
            grad_ahead, grad_behind = grad_output * behind, grad_output * ahead
        if self.return_sequences:
            grad_behind = grad_behind[:, ::-1]
        xp = backend.get_array_module(grad_output)
        seeds, self._state_grads = self._state_grads, None
        if seeds is not None:       # the last states' own gradients (return_state in a model), to each reader
            half = self.forward_layer.state_count
            self.forward_layer._state_grads, self.backward_layer._state_grads = seeds[:half], seeds[half:]
        grad_ahead = self.forward_layer.backward(xp.ascontiguousarray(grad_ahead))
        grad_behind = self.backward_layer.backward(xp.ascontiguousarray(grad_behind))
        if self._started_from:      # each reader gave [dx, *dL/d its initial states]
            (grad_ahead, *states_ahead), (grad_behind, *states_behind) = grad_ahead, grad_behind
        dx = None if grad_ahead is None else grad_ahead + grad_behind
        return [dx, *states_ahead, *states_behind] if self._started_from else dx

    def _call_readers(self):
        # merge_mode=None: the backward reader's output first, then the states (Keras' order)
        from .unmerged import BackwardOutput
        return [BackwardOutput()] * (self.merge_mode is None) + super()._call_readers()

    def _eager_outputs(self, out):
        if self.merge_mode is None:
            states = [state.copy() for state in self.final_states] if self.return_state else []
            return [out, self.unmerged_behind.copy(), *states]
        return super()._eager_outputs(out)

    def reset_state(self):
        """Both readers start the next batch from zero states (a stateful layer; Keras')."""
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    reset_states = reset_state

    def get_config(self):
        layer = _to_entry(self.forward_layer)
        layer["config"]["name"] = layer["config"]["name"].removeprefix("forward_")
        config = {**super().get_config(), "layer": layer, "merge_mode": self.merge_mode}
        if self.own_backward_layer:         # only then: a default wrapper's config is the one of before
            config["backward_layer"] = _to_entry(self.backward_layer)
        return config


def _without_shape(config):
    config.pop("input_shape", None)
    return config


def _given_backward_layer(layer, backward):
    """Keras' ``backward_layer``, checked as Keras 3.15 checks it (the two readers' ``go_backwards``
    differ; ``stateful``, ``return_sequences`` and ``return_state`` agree); of any reader class and
    units of the forward reader's kind (sequences of vectors, or a ConvLSTM's frames), whose outputs
    must then fit together (``Bidirectional._outputs_shapes``, once the input's shape is known); a
    dict (a config's) made a layer first."""
    if isinstance(backward, dict):
        backward = _from_entry(backward, "Bidirectional", _READERS, READER_NAMES)
    if not isinstance(backward, _READERS):
        raise TypeError(f"Bidirectional: backward_layer must be a {READER_NAMES}, got {backward!r:.80}")
    Bidirectional._check_wrapped(backward, states=True, own_dtype=True)
    if backward is layer:
        raise ValueError("Bidirectional: backward_layer is layer itself; give a second layer, reading the other way")
    if layer.go_backwards == backward.go_backwards:
        raise ValueError(f"Bidirectional: layer and backward_layer must read in opposite directions (Keras' rule), "
                         f"both have go_backwards={layer.go_backwards}; set go_backwards=True on one of them")
    for key in ("stateful", "return_sequences", "return_state"):
        if getattr(layer, key) != getattr(backward, key):
            raise ValueError(f"Bidirectional: layer and backward_layer must agree on {key} (Keras' rule); got "
                             f"{getattr(layer, key)} and {getattr(backward, key)}")
    if isinstance(layer, _ConvLSTM) != isinstance(backward, _ConvLSTM):
        raise ValueError(f"Bidirectional: layer and backward_layer must both read sequences of vectors (SimpleRNN, "
                         f"LSTM, GRU) or both frames (ConvLSTM), got {layer.describe()} and {backward.describe()}")
    if backward.input_shape is not None:
        raise ValueError("Bidirectional: give input_shape to the wrapper or to layer, not to backward_layer")
    return backward


class TimeDistributed(_Wrapper):
    """Apply ``layer`` to every step of a sequence on its own, with one set of weights (Keras'
    ``TimeDistributed``): samples (steps, *inner) -> (steps, *layer's output), the steps passed to
    ``layer`` as a batch of ``batch * steps``. ``TimeDistributed(Conv2D(8, 3))`` runs a convolution
    on every frame of a video (batch, frames, H, W, C); ``TimeDistributed(Dense(10))`` after an
    ``LSTM(return_sequences=True)`` tags every step (a ``Dense`` alone computes the same, as in
    Keras 3; as a model's last layer a plain ``Dense`` also fuses its softmax with the cross-entropy,
    which TimeDistributed does not, so at saturated logits the two losses differ as Keras' do).

    Parameters
    ----------
    layer : a Layer (not a wrapper, not one that keeps state but BatchNormalization), or a model
        A layer's weights are the wrapper's, under their own names (``kernel``, ``bias``); it lives
        in ``layer`` and reads them live. A ``BatchNormalization``'s moving statistics are the
        wrapper's state (saved with it); in training it runs one step at a time, as Keras 3.15's
        loop over the steps does: each step normalised by its own batch's statistics, the moving
        ones updated once per step in the steps' order (layers/_by_step.py); at inference (and
        frozen) it uses the moving statistics on every step alike. A mask reaching it is refused
        (Keras leaves each step's masked rows out of its statistics). A model (Sequential, functional Model of one input and one
        output, or a call-block, a ``gn.Layer`` with ``call``) runs on every frame with its own
        forward and backward passes: ``TimeDistributed(cnn)`` on videos (batch, frames, H, W, C).
        Its weights become the wrapper's under ``"<layer name>/<weight>"``, in the model's order
        (Keras'); ``layer`` is the model, which computes with them too. A model not built yet is
        built for one step's shape, drawing from the wrapper's generator when it has no seed.
        Refused by name: several inputs or outputs, BatchNormalization or other state, activity
        regularizers, add_loss terms (see ``glassnet.layers._wrapped_model``).

    Example
    -------
    >>> import numpy as np
    >>> from glassnet.layers import Dense
    >>> TimeDistributed(Dense(3), seed=0)(np.ones((2, 5, 4))).shape
    (2, 5, 3)
    """

    reads_mask = True
    supports_masking = True         # Keras' value: its TimeDistributed hands any mask on

    def passes_mask(self, within_steps):
        """A mask of the steps (batch, steps) passes on past any wrapped layer, as Keras' does (a
        Flatten or a Conv2D sees one step at a time); one with axes within the steps (an
        Embedding's of ids (batch, steps, length)) only when the wrapped layer keeps it (a Dense),
        since past a GlobalAveragePooling1D or a Flatten the steps no longer have those axes (Keras
        hands it on anyway, and the next layer fails on it)."""
        if self._model is not None:         # a mask within the steps does not enter a model
            return not within_steps
        return True if not within_steps else self.layer.supports_masking

    _model = None       # the WrappedModel when the wrapper holds a model

    @property
    def wrapped_model(self):
        """The model the wrapper runs on every step, or None when it wraps a layer."""
        return None if self._model is None else self._model.model

    def uses_mask(self, within_steps):
        """A mask within the steps goes to a wrapped layer that reads masks; one of the steps is only
        passed on."""
        return within_steps and self._model is None and self.layer.reads_mask

    def __init__(self, layer, **kwargs):
        from ._wrapped_model import WrappedModel, is_model, is_model_entry
        if is_model(layer) or is_model_entry(layer):
            # Keras wraps a model as any layer: run with its own passes on every step
            self._model = WrappedModel(layer)
            super().__init__(**kwargs)
            self.layer = self._model.model
            self._wrapped = ()
            return
        layer = self._one_layer(layer, "a layer that is not a wrapper",
                                "; apply it to the whole sequence, outside TimeDistributed", own_dtype=True)
        by_step = getattr(layer, "_step_cache", None) is not None
        # refused here when it holds state already; one that makes it at build (an unadapted
        # Normalization) at build; a Normalization given its mean and variance has none, and is taken
        if getattr(layer, "state", None) and not by_step:
            raise ValueError(f"TimeDistributed: {layer.describe()} keeps state besides its trained weights "
                             f"(running statistics, adapted values), which TimeDistributed does not carry")
        if layer.input_shape is not None:
            raise ValueError("TimeDistributed: give input_shape to the wrapper, (steps, *sample), not to the layer "
                             "it wraps")
        super().__init__(**kwargs)
        self._take_dtype(layer)
        # Keras' name for it ("dense"), which its errors and the file's config then show
        layer.name = layer.name or snake_case(type(layer).__name__)
        self.layer = layer
        if by_step:
            # BatchNormalization: its moving statistics are the wrapper's state too (the one dict:
            # saved, restored and listed after the weights, Keras' order), and in training it runs
            # step by step as Keras' (layers/_by_step.py)
            self.state = layer.state
        self._adopt()

    _step_caches = None     # a BatchNormalization's training forward, step by step: each step's values

    @property
    def mask_refusal(self):
        # Keras hands each step's mask to a BatchNormalization, whose statistics leave masked rows out
        return getattr(self.__dict__.get("layer"), "mask_refusal", None) if "state" in self.__dict__ else None

    def _inner_layers(self):
        if self._model is not None:
            return self.__dict__.get("_model_pairs", ())
        return (("", self.layer),)

    def _link(self):
        if self._model is None:
            return super()._link()
        self._model.link(self._generator(), self.needs_input_gradient)

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f"{self.describe()}: expected samples of shape (steps, ...), got {tuple(input_shape)}")
        if self._model is not None:
            self._model_pairs = self._model.build(self, tuple(input_shape[1:]))
            self.layer = self._model.model
            self._adopt()
            self.trainable = self.__dict__.get("_trainable", True)
            return Layer.build(self, input_shape)
        self._build_inner(self.layer, "", input_shape[1:])
        if getattr(self.layer, "state", None) and self.layer.state is not self.__dict__.get("state"):
            raise ValueError(f"{self.describe()}: {self.layer.describe()} keeps state besides its trained weights "
                             f"({sorted(self.layer.state)}: running statistics, adapted values), which "
                             f"TimeDistributed does not carry")
        super().build(input_shape)

    def check_input_shape(self, sample_shape):
        self._check_steps(sample_shape)
        (self._model or self.layer).check_input_shape(tuple(sample_shape)[1:])       # any number of steps

    def _check_steps(self, sample_shape):
        if len(sample_shape) < 2:
            raise ValueError(f"{self.describe()}: expected samples of shape (steps, ...), got {tuple(sample_shape)}")

    def output_shape(self, input_shape):
        # (compute_output_shape asks an unbuilt one: without the steps axis, a Dense's (5,) -> (5, 3))
        self._check_steps(input_shape)
        return (input_shape[0], *(self._model or self.layer).output_shape(tuple(input_shape[1:])))

    def numbers_per_sample(self, input_shape):
        if self._model is not None:
            # every layer's output, per step, for this step's shape: the layers' own input_shape
            # leaves an axis open where the model takes any length (None, which counts nothing)
            sizes = []
            self.layer._shapes_through(tuple(input_shape[1:]),
                                       lambda _, layer, given: sizes.append(layer.numbers_per_sample(given)))
            return input_shape[0] * sum(sizes)
        return input_shape[0] * self.layer.numbers_per_sample(tuple(input_shape[1:]))

    def matmul_flops(self, batch_size):
        steps = self.input_shape[0] if self.input_shape else 1
        if self._model is not None:
            return sum(layer.matmul_flops(batch_size * steps) for layer in self.layer.layers)
        return self.layer.matmul_flops(batch_size * steps)

    def check_input_values(self, x, name):
        if self._model is None:
            self.layer.check_input_values(x, name)       # an Embedding's ids, step by step alike

    def forward(self, x, training=False, mask=None):
        """x (batch, steps, *sample); ``mask`` (batch, steps, ...) or None. A mask with more axes
        than the steps (an Embedding's of ids (batch, steps, length)) goes to a wrapped layer that
        reads masks, step by step, as Keras passes it: (batch * steps, length)."""
        if x.ndim < 3:
            self.check_input_shape(x.shape[1:])
        self._link()
        n, steps = x.shape[:2]
        mask = masking.take(self, mask, x, any_rank=True)
        flat = x.reshape(n * steps, *x.shape[2:])
        self._step_caches = None
        if self._model is not None:         # a mask of the steps is handed on past the wrapper only
            out = self._model.forward(flat, training)
        elif "state" in self.__dict__ and training and self.layer.trainable and steps:
            out, self._step_caches = forward_by_step(self.layer, x, training)
            return out
        elif mask is not None and mask.ndim > 2 and self.layer.reads_mask:
            out = self.layer.forward(flat, training, mask=mask.reshape(n * steps, *mask.shape[2:]))
        else:
            out = self.layer.forward(flat, training)
        return out.reshape(n, steps, *out.shape[1:])

    def backward(self, grad_output):
        self._link()
        if self._step_caches is not None:
            return backward_by_step(self.layer, grad_output, self._step_caches)
        n, steps = grad_output.shape[:2]
        flat = grad_output.reshape(n * steps, *grad_output.shape[2:])
        grad = (self._model or self.layer).backward(flat)
        return None if grad is None else grad.reshape(n, steps, *grad.shape[1:])

    def get_config(self):
        entry = self._model.entry() if self._model is not None else _to_entry(self.layer)
        return {**super().get_config(), "layer": entry}


class SpectralNormalization(_Wrapper):
    """Keep a layer's kernel at spectral norm (largest singular value) about 1 (Keras'
    ``SpectralNormalization``, Miyato et al. 2018): each training call first divides the kernel,
    seen as a matrix (everything but its last axis, by its last axis), by its largest singular
    value, estimated by ``power_iterations`` steps of the power method from the vector ``u`` it
    kept from the last call. Stabilises GAN discriminators: the layer cannot stretch any input
    more than 1.

    Parameters
    ----------
    layer : a Layer with a ``kernel`` (Dense, Conv2D, ...) or ``embeddings`` (Embedding)
        Its weights are the wrapper's, under their own names; it lives in ``layer``.
    power_iterations : int >= 1

    As Keras does, the division is written into the kernel (the layer then computes with the
    divided kernel, and the gradient is that of the layer with it: no gradient through the
    estimate), at every call with ``training=True`` (a frozen wrapper too: Keras' rule), never at
    inference; a kernel of zeros is left alone. ``u`` (1, units) is ``state["vector_u"]``, drawn
    from a truncated normal of standard deviation 0.02, saved with the model. ``get_weights`` lists
    them in Keras' order: the kernel (or embeddings), ``vector_u``, then the layer's other weights
    (``[kernel, vector_u, bias]``; glassnet listed ``vector_u`` last before, and its model files
    of then, which name each weight, still load).

    Shapes: those of ``layer``.

    Example
    -------
    >>> import numpy as np
    >>> from glassnet.layers import Dense
    >>> layer = SpectralNormalization(Dense(3), power_iterations=20, seed=0)
    >>> _ = layer(np.ones((2, 4)), training=True)
    >>> round(float(np.linalg.norm(layer.params["kernel"], 2)), 3)
    1.0
    """

    def __init__(self, layer, power_iterations=1, **kwargs):
        layer = self._one_layer(layer, "a layer with a kernel or embeddings", own_dtype=True)
        if layer.input_shape is not None:
            raise ValueError("SpectralNormalization: give input_shape to the wrapper, not to the layer it wraps")
        if isinstance(power_iterations, bool) or not isinstance(power_iterations, (int, np.integer)) or power_iterations < 1:
            raise ValueError(f"SpectralNormalization: power_iterations must be a positive integer, got "
                             f"{power_iterations!r:.40}")
        super().__init__(**kwargs)
        self._take_dtype(layer)
        layer.name = layer.name or snake_case(type(layer).__name__)
        self.layer, self.power_iterations, self.state = layer, int(power_iterations), {}
        self._adopt()

    def _inner_layers(self):
        return (("", self.layer),)

    # set by glassnet.gradcheck while it takes finite differences: training passes compute with the
    # kernel as it is, since the gradient is that of the divided kernel (no gradient through sigma)
    hold_rewrites = False

    @property
    def training_rewrites(self):
        """The weight a training call rewrites (the kernel or embeddings): ``StateSnapshot`` keeps it."""
        return (self._normalised_name(),) if self.built else ()

    @property
    def activation(self):
        """The wrapped layer's activation (a model ending in it is a classifier if that one is)."""
        return getattr(self.layer, "activation", None)

    @property
    def discrete_input(self):
        return getattr(self.layer, "discrete_input", False)     # an Embedding's ids

    def _normalised_name(self):
        return "kernel" if "kernel" in self.params else "embeddings"

    def _weight_items(self):
        # Keras' order (its wrapper tracks the divided kernel as its own weight, before vector_u,
        # then its inner layer's others): [kernel, vector_u, bias]
        items = super()._weight_items()
        if not self.built:
            return items
        first = (self._normalised_name(), "vector_u")
        return [*(item for key in first for item in items if item[0] == key),
                *(item for item in items if item[0] not in first)]

    def build(self, input_shape):
        self._build_inner(self.layer, "", input_shape)
        if not {"kernel", "embeddings"} & set(self.params):
            raise ValueError(f"{self.describe()}: {self.layer.describe()} has no kernel nor embeddings to normalise")
        units = self.params[self._normalised_name()].shape[-1]
        self._reserve("vector_u", (1, units))
        u = initializers.TruncatedNormal(stddev=0.02)((1, units), self._generator(), self.dtype)
        self.state = {"vector_u": backend.xp().asarray(u)}
        super().build(input_shape)

    def check_input_shape(self, sample_shape):
        self.layer.check_input_shape(sample_shape)

    def output_shape(self, input_shape):
        return self.layer.output_shape(input_shape)

    def numbers_per_sample(self, input_shape):
        return self.layer.numbers_per_sample(input_shape)

    def matmul_flops(self, batch_size):
        return self.layer.matmul_flops(batch_size)

    def check_input_values(self, x, name):
        self.layer.check_input_values(x, name)

    def normalize_kernel(self):
        """One power-method step (or ``power_iterations``) from ``vector_u``, then the kernel divided
        in place by the estimated largest singular value ``sigma = v W u^T``; ``vector_u`` moves on."""
        kernel = self.params[self._normalised_name()]
        if not kernel.any():                    # Keras: a kernel of zeros is left as it is
            return
        w = kernel.reshape(-1, kernel.shape[-1])                     # (fan_in, units)
        u = self.state["vector_u"]                                   # (1, units)
        for _ in range(self.power_iterations):
            v = _unit(u @ w.T)                                       # (1, fan_in)
            u = _unit(v @ w)
        sigma = (v @ w) @ u.T                                        # (1, 1)
        kernel /= sigma.reshape(())
        self.state["vector_u"][...] = u

    def forward(self, x, training=False):
        self._link()
        if training and not self.hold_rewrites:
            self.normalize_kernel()
        return self.layer.forward(x, training)

    def backward(self, grad_output):
        self._link()
        return self.layer.backward(grad_output)

    def get_config(self):
        return {**super().get_config(), "layer": _to_entry(self.layer), "power_iterations": self.power_iterations}


def _unit(x):
    """``x`` divided by its length, Keras' ``ops.normalize(x, axis=None)``: times
    ``min(1 / ||x||, 1e7)``, so that a zero vector stays zero."""
    norm = float((x * x).sum()) ** 0.5
    return x * x.dtype.type(min(1 / norm if norm else np.inf, 1e7))


class _Prefixed(MutableMapping):
    """A wrapped layer's ``params`` (or ``grads``): the wrapper's entries whose key starts with
    ``prefix``, under the key without it. Reads and writes reach the wrapper's arrays of the
    moment, whichever buffer a model has moved them into."""

    _names = None       # (a _Prefixed pickled before it had them: every entry under the prefix)

    def __init__(self, owner, attribute, prefix, names=None):
        # names: the keys (without the prefix) that are the wrapped layer's, a set the wrapper
        # fills as the layer makes them (Wrapper, whose subclass adds weights of its own under no
        # prefix); None: every key under the prefix
        self._owner, self._attribute, self._prefix, self._names = owner, attribute, prefix, names

    def _store(self):
        return getattr(self._owner, self._attribute)

    def _mine(self, key):
        return self._names is None or key in self._names

    def __getitem__(self, key):
        if not self._mine(key):
            raise KeyError(key)
        return self._store()[self._prefix + key]

    def __setitem__(self, key, value):
        if self._names is not None:
            self._names.add(key)
        self._store()[self._prefix + key] = value

    def __delitem__(self, key):
        if not self._mine(key):
            raise KeyError(key)
        del self._store()[self._prefix + key]
        if self._names is not None:
            self._names.discard(key)

    def __iter__(self):
        return (key[len(self._prefix):] for key in list(self._store())
                if key.startswith(self._prefix) and self._mine(key[len(self._prefix):]))

    def __len__(self):
        return sum(1 for _ in self)


def _to_entry(layer):
    """A wrapped layer as a wrapper's config holds it, ``{"class_name", "config"}`` (what
    ``_from_entry`` reads back), without its input_shape: the wrapper's config says that."""
    config = layer.get_config()
    config.pop("input_shape", None)
    return {"class_name": type(layer).__name__, "config": config}


def _from_entry(entry, owner, kind, kinds):
    """The layer a config's ``{"class_name", "config"}`` names: a registered class (never an import
    or an eval), a subclass of ``kind`` (``kinds`` says which in the error), never a wrapper (a
    file cannot nest wrappers without end)."""
    if not (isinstance(entry, dict) and set(entry) == {"class_name", "config"} and isinstance(entry["config"], dict)
            and isinstance(entry["class_name"], str)):
        raise ValueError(f"{owner}: layer must be a layer or {{'class_name': ..., 'config': {{...}}}}, "
                         f"got {entry!r:.100}")
    cls = lookup(entry["class_name"])
    if not (isinstance(cls, type) and issubclass(cls, kind)) or (issubclass(cls, _Wrapper) and not cls.self_contained):
        raise ValueError(f"{owner}: layer's class_name must be {kinds}, got {entry['class_name']!r:.60}")
    return cls.from_config(entry["config"])
