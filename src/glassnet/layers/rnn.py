"""Keras' cell API: ``RNN(cell)`` with the built-in cells ``SimpleRNNCell``, ``LSTMCell`` and
``GRUCell``, and ``StackedRNNCells`` (``RNN([cell, cell])``).

In Keras ``LSTM(32)`` is ``RNN(LSTMCell(32))``: the same weights in the same layout, the same
numbers. Here it is the other way round: a cell is a configuration object (its settings, checked
as the matching layer checks them), and ``RNN`` builds and holds one SimpleRNN, LSTM or GRU per
cell (``layers/recurrent.py``), whose loop, masks, dropout, states and weights it reuses as
``Bidirectional`` reuses its readers (``layers/wrappers.py``): the cell maths exists once.

Stacked cells: Keras' ``StackedRNNCells`` runs, at each step, cell 0 on the step's input, then
cell 1 on cell 0's new output, and so on; the stack's output is the last cell's, its states each
cell's, in order. Here the stack is the chain of layers, each reading the whole sequence the one
before it returned (``return_sequences=True`` for all but the last). That is exact, not an
approximation: cell k's step t reads only its own state after step t - 1 and cell k-1's output at
step t, and the layer chain computes each of those from the same numbers by the same operations,
only in another order (all of layer k-1's steps before layer k's first). See ``RNN`` for masks,
``go_backwards`` and states, whose handling keeps this exact.
"""
import numpy as np

from .. import backend
from .._validation import check_flag, check_name
from . import masking
from .base import snake_case
from .cell_loop import CUSTOM_CELLS, Cell
from .recurrent import GRU, LSTM, CarriesStates, SimpleRNN
from .wrappers import _Wrapper

# Keras' arguments of each cell, in its positional order (SimpleRNNCell's, with the gates' settings
# inserted for LSTMCell and GRUCell where Keras puts them)
_COMMON = ("units", "activation", "use_bias", "kernel_initializer", "recurrent_initializer", "bias_initializer",
           "kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "kernel_constraint",
           "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout")
# Keras' weight attributes of a cell (cell.kernel), read off the layer an RNN made of it
_CELL_WEIGHTS = ("kernel", "recurrent_kernel", "bias")
# the arguments that belong to the RNN layer around a cell, not to the cell
# (the last: Keras' cells take it as layers; a glassnet cell is not one, its RNN layer is)
_LAYER_ONLY = ("return_sequences", "return_state", "go_backwards", "stateful", "zero_output_for_mask",
               "activity_regularizer")
# Keras' layer arguments a cell takes where its RNN can honour them (see _take_layer_settings)
_CELL_LAYER_ARGUMENTS = ("dtype", "trainable", "autocast")


def _layer_only_hint(unknown):
    """What an error about a cell's ``unknown`` arguments adds for those that are its RNN layer's."""
    whose = [key for key in unknown if key in _LAYER_ONLY]
    if not whose:
        return ""
    hint = f" ({', '.join(whose)}: give {'it' if len(whose) == 1 else 'them'} to the RNN layer"
    if "activity_regularizer" in whose:
        # measured: Keras 3.15 penalises every step's output and states with a cell's, divided by the
        # batch size, when unrolled; its default loop fails in fit and evaluate (InaccessibleTensorError)
        hint += ("; a cell's activity_regularizer in Keras 3.15 penalises each step's output and states, and "
                 "works only with RNN(..., unroll=True): not built here, RNN(cell, activity_regularizer=...) "
                 "penalises the layer's output")
    return hint + ")"


def _take_layer_settings(cell, kwargs):
    """Keras' layer arguments of a cell (or a stack), popped from ``kwargs`` onto it: ``dtype``
    (None, or the RNN's: an RNN refuses a cell of another dtype, which Keras would compute in, and
    its RNN cast back from), ``trainable`` (a cell's False: the RNN's layer of the cell is frozen, as
    Keras' frozen cell leaves its RNN no trainable weights; a stack's False is refused, see
    StackedRNNCells) and ``autocast`` (kept, no effect: Layer's)."""
    cls = type(cell).__name__
    dtype = kwargs.pop("dtype", None)
    if isinstance(dtype, dict):     # Keras' DTypePolicy dict, from its config: the RNN's (the model's) applies
        dtype = None
    try:
        cell.dtype = None if dtype is None else backend.resolve_dtype(dtype)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{cls}: {exc}") from None
    cell.trainable = check_flag(kwargs.pop("trainable", True), f"{cls}: trainable")
    cell.autocast = check_flag(kwargs.pop("autocast", True), f"{cls}: autocast")


def _layer_settings_config(cell):
    """The cell's ``_take_layer_settings`` entries of its config: those not at their defaults."""
    return {**({"dtype": cell.dtype.name} if cell.dtype is not None else {}),
            **({"trainable": False} if not cell.trainable else {}), **({"autocast": False} if not cell.autocast else {})}


class _Cell:
    """A built-in cell: the settings of one step of ``layer_class``, checked by building an unbuilt
    one of it (``template``), whose messages name the cell instead. Not a layer: it holds no
    weights; ``RNN`` makes a layer of its own from it (``make_layer``)."""

    layer_class = None
    arguments = _COMMON + ("seed",)

    def __init__(self, *args, name=None, **kwargs):
        cls = type(self).__name__
        if len(args) > len(self.arguments):
            raise TypeError(f"{cls}: takes at most {len(self.arguments)} positional arguments "
                            f"({', '.join(self.arguments)}), got {len(args)}")
        for key, value in zip(self.arguments, args):
            if key in kwargs:
                raise TypeError(f"{cls}: got {key!r} both by position and by keyword")
            kwargs[key] = value
        _take_layer_settings(self, kwargs)
        unknown = [key for key in kwargs if key not in self.arguments]
        if unknown:
            hint = _layer_only_hint(unknown)
            raise TypeError(f"{cls}: unexpected keyword argument{'s' if len(unknown) > 1 else ''} "
                            f"{', '.join(map(repr, unknown))}; {cls} takes {', '.join(self.arguments)}, name, "
                            f"{', '.join(_CELL_LAYER_ARGUMENTS)}{hint}")
        if "units" not in kwargs:
            raise TypeError(f"{cls}: missing the argument 'units' (the size of the state, and of the output)")
        if kwargs.pop("seed", None) is not None:
            # the RNN's generator draws a cell's dropout masks (and its initial weights), as
            # Bidirectional's draws its readers'
            raise ValueError(f"{cls}: seed is taken by the RNN layer around the cell (RNN(cell, seed=...)), "
                             f"whose generator draws the cell's weights and dropout masks")
        self.name = check_name(name, f"{cls}: name")
        self._settings = kwargs       # as given: a callable initializer has no config, yet trains
        try:
            self.template = self.layer_class(**kwargs)
        except (TypeError, ValueError) as exc:   # the layer's check, said of the cell
            layer = self.layer_class.__name__
            text = str(exc)
            raise type(exc)(cls + text[len(layer):] if text.startswith(layer + ":") else f"{cls}: {text}") from None

    def __getattr__(self, key):
        # the settings as the layer holds them (units, activation, dropout, ...), read-only
        if key in type(self).arguments and key != "seed" and "template" in self.__dict__:
            return getattr(self.template, key)
        layer = self.__dict__.get("_layer")
        if key in _CELL_WEIGHTS and layer is not None and layer.built:
            # Keras' cell.kernel, ...: views onto the weights of the layer the RNN made of this cell,
            # under Keras' paths ("rnn/lstm_cell/kernel"; glassnet.variables.weight_owner)
            return getattr(layer.cell, key)
        raise AttributeError(f"{type(self).__name__} has no attribute {key!r}"
                             + (" (an RNN around the cell makes its weights when it is built)" if key in _CELL_WEIGHTS
                                else ""))

    @property
    def state_size(self):
        """Keras' ``state_size``: the units of each state (an int for one state, a list for LSTM's
        h and c)."""
        return self.units

    @property
    def output_size(self):
        return self.units

    def get_config(self):
        """The cell's arguments (those its template's config holds), and its name if given."""
        config = {key: value for key, value in self.template.get_config().items() if key in self.arguments}
        config.update(_layer_settings_config(self))
        return config if self.name is None else {"name": self.name, **config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def make_layer(self, **options):
        """A new, unbuilt layer of this cell's settings and the RNN's ``options`` (return_sequences,
        go_backwards, ...): the loop that runs the cell."""
        if not self.trainable:
            options = {**options, "trainable": False}
        return self.layer_class(**self._settings, **options)

    def __repr__(self):
        return f"<{type(self).__name__} units={self.units}>"


class SimpleRNNCell(_Cell):
    """One step of ``SimpleRNN`` (Keras' ``SimpleRNNCell``): ``h_t = activation(x_t @ kernel +
    h_(t-1) @ recurrent_kernel + bias)``. Arguments as SimpleRNN's cell arguments, in Keras'
    order: units, activation ("tanh"), use_bias, kernel_/recurrent_/bias_initializer,
    _regularizer, _constraint, dropout, recurrent_dropout, seed (None only: the RNN's seed).

    Example
    -------
    >>> SimpleRNNCell(4).state_size
    4
    """
    layer_class = SimpleRNN


class LSTMCell(_Cell):
    """One step of ``LSTM`` (Keras' ``LSTMCell``): gates i, f, c, o, states h and c. Arguments as
    LSTM's cell arguments, in Keras' order (recurrent_activation after activation,
    unit_forget_bias after bias_initializer).

    Example
    -------
    >>> LSTMCell(4).state_size
    [4, 4]
    """
    layer_class = LSTM
    arguments = _COMMON[:2] + ("recurrent_activation",) + _COMMON[2:6] + ("unit_forget_bias",) + _COMMON[6:] + ("seed",)

    @property
    def state_size(self):
        return [self.units, self.units]


class GRUCell(_Cell):
    """One step of ``GRU`` (Keras' ``GRUCell``, ``reset_after=True`` only, as GRU). Arguments as
    GRU's cell arguments, in Keras' order (recurrent_activation after activation, reset_after
    after recurrent_dropout).

    Example
    -------
    >>> GRUCell(4).output_size
    4
    """
    layer_class = GRU
    arguments = _COMMON[:2] + ("recurrent_activation",) + _COMMON[2:] + ("reset_after", "seed")

    def get_config(self):
        return {**super().get_config(), "reset_after": True}


CELLS = {cls.__name__: cls for cls in (SimpleRNNCell, LSTMCell, GRUCell)}
_SUPPORTED = ("a SimpleRNNCell, LSTMCell or GRUCell, a cell of your own (a glassnet.layers.Cell), a list of them, "
              "or StackedRNNCells")


class StackedRNNCells:
    """Cells run one after the other at each step (Keras' ``StackedRNNCells``): cell k reads cell
    k-1's new output; the stack outputs the last cell's, and carries every cell's states, cell by
    cell. ``RNN([a, b])`` is ``RNN(StackedRNNCells([a, b]))``.

    Example
    -------
    >>> StackedRNNCells([LSTMCell(4), GRUCell(3)]).state_size
    [[4, 4], 3]
    """

    def __init__(self, cells, name=None, **unknown):
        _take_layer_settings(self, unknown)
        if not self.trainable:
            # Keras 3.15's stack says trainable=False, and its RNN trains the cells' weights anyway
            raise ValueError("StackedRNNCells: trainable=False is not supported (Keras 3.15's RNN trains the "
                             "stack's cells anyway): freeze the RNN layer, RNN(...).trainable = False, or give "
                             "each cell trainable=False")
        if unknown:         # (Python's message named __init__; Keras' takes a layer's dtype, trainable, ...)
            hint = _layer_only_hint(unknown)
            raise TypeError(f"StackedRNNCells: unexpected keyword argument{'s' if len(unknown) > 1 else ''} "
                            f"{', '.join(map(repr, unknown))}; StackedRNNCells takes cells, name, "
                            f"{', '.join(_CELL_LAYER_ARGUMENTS)}{hint}")
        if not isinstance(cells, (list, tuple)) or not cells:
            raise TypeError(f"StackedRNNCells: cells must be a non-empty list of cells, got {cells!r:.80}")
        self.cells = [_cell(cell, "StackedRNNCells: cells", stacked=False) for cell in cells]
        self.name = check_name(name, "StackedRNNCells: name")

    @property
    def state_size(self):
        return [cell.state_size for cell in self.cells]

    @property
    def output_size(self):
        return self.cells[-1].output_size

    def get_config(self):
        config = {"cells": [_to_entry(cell) for cell in self.cells], **_layer_settings_config(self)}
        return config if self.name is None else {"name": self.name, **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls([_cell(entry, "StackedRNNCells: cells", stacked=False) for entry in config.pop("cells", [])],
                   **config)

    def __repr__(self):
        return f"<StackedRNNCells of {len(self.cells)} cells>"


def _to_entry(cell):
    return {"class_name": type(cell).__name__, "config": cell.get_config()}


def _cell(cell, where, stacked=True):
    """A built-in cell (or, ``stacked``, a StackedRNNCells) from itself, a list (stacked) or a
    config's ``{"class_name", "config"}`` (glassnet's, or Keras' own with its extra keys)."""
    kinds = _SUPPORTED if stacked else "a SimpleRNNCell, LSTMCell, GRUCell or a cell of your own (a glassnet.layers.Cell)"
    if isinstance(cell, dict) and isinstance(cell.get("class_name"), str) and isinstance(cell.get("config"), dict):
        name = cell["class_name"]
        if name == "StackedRNNCells" and stacked:
            return StackedRNNCells.from_config(_from_keras(cell["config"]))
        if name in CELLS:
            return CELLS[name].from_config(_from_keras(cell["config"]))
        if name in CUSTOM_CELLS:            # a registered class only, never an import
            return CUSTOM_CELLS[name].from_config(cell["config"])
        raise ValueError(f"{where}: class_name must name {kinds}, got {name!r:.60} (define or import a cell "
                         f"of your own before loading)")
    if isinstance(cell, (list, tuple)) and stacked:
        return StackedRNNCells(cell)
    if isinstance(cell, (_Cell, Cell)) or (stacked and isinstance(cell, StackedRNNCells)):
        return cell
    raise TypeError(f"{where} must be {kinds}, got {cell!r:.80}; a cell of your own subclasses "
                    f"glassnet.layers.Cell (its step and step_backward in NumPy); Keras' cells are not taken")


def _from_keras(config):
    """A cell's config as Keras writes it, in glassnet's terms: without the keys Keras adds
    (``trainable`` if True, ``dtype``: the RNN's, i.e. the model's, applies), its initializers and
    other settings as ``{"class_name", "config"}`` without ``module``/``registered_name`` and
    without unseeded Keras-only settings (``seed: None``, ``input_axes: None``). A glassnet
    config passes through unchanged."""
    config = {key: value for key, value in config.items() if not (key == "dtype" and isinstance(value, dict))
              and not (key == "trainable" and value is True)}
    for key, value in config.items():
        if isinstance(value, dict) and "class_name" in value and isinstance(value.get("config"), dict):
            inner = {k: v for k, v in value["config"].items() if not (k in ("seed", "input_axes", "output_axes")
                                                                     and v is None)}
            config[key] = {"class_name": value["class_name"], "config": inner}
    if config.get("seed", 0) is None:
        del config["seed"]
    return config


class RNN(CarriesStates, _Wrapper):
    """A recurrent layer from a cell (Keras' ``RNN``): ``RNN(LSTMCell(32))`` computes, trains and
    saves as ``LSTM(32)`` (the same weights, in the same order), ``RNN([LSTMCell(32), GRUCell(16)])``
    runs the two cells one after the other at each step (``StackedRNNCells``).

    Parameters
    ----------
    cell : SimpleRNNCell, LSTMCell, GRUCell, a Cell of your own, a list of them, or StackedRNNCells
        The RNN makes one layer of its own from each cell (``cell_layers``: the built-in cells'
        SimpleRNN, LSTM or GRU; a ``CellLoop`` running a cell of yours, ``layers/cell_loop.py``),
        so one cell given to two RNNs gives each weights of its own (in Keras they would share
        them). Anything else (a Keras cell) is refused (TypeError).
    return_sequences, return_state, go_backwards, stateful, zero_output_for_mask
        As SimpleRNN's (docs/layers.md). With stacked cells ``go_backwards`` reads the input from
        its end once: every cell reads the steps in that order, as Keras' stacked cells do.
    unroll : bool
        Accepted and ignored: in Keras it only trades memory for speed (the loop written out),
        never the numbers; glassnet's loop is the same either way.

    States: ``return_state=True`` returns ``[output, *states]``, the states flat in Keras' order:
    cell by cell, each cell's h (and LSTM's c). Keras returns a stack's states as one list per
    cell (``out, [h0, c0], [h1]``); glassnet flattens them (``out, h0, c0, h1``), as a model's
    ``LastState`` readers need; ``initial_state`` takes either form.

    Weights: each cell's ``kernel``, ``recurrent_kernel``, ``bias``, cell by cell (Keras' order);
    named as the layer's for one cell, ``cell_0_kernel``, ``cell_1_kernel``, ... for a stack.

    Shapes: x (batch, steps, features) -> (batch, units of the last cell), or (batch, steps,
    units) with ``return_sequences``.

    Example
    -------
    >>> RNN(LSTMCell(4), seed=0)(np.ones((2, 5, 3))).shape
    (2, 4)
    >>> RNN([LSTMCell(4), GRUCell(2)], return_sequences=True, seed=0)(np.ones((2, 5, 3))).shape
    (2, 5, 2)
    """

    reads_mask = True

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, **kwargs):
        if "time_major" in kwargs:
            raise TypeError("RNN: time_major is not supported (Keras 3 dropped it too): give sequences as "
                            "(batch, steps, features)")
        if isinstance(kwargs.get("dtype"), dict):     # Keras' DTypePolicy in its config: the model's dtype applies
            kwargs.pop("dtype")
        self.cell = _cell(cell, "RNN: cell")
        super().__init__(**kwargs)
        cells = self.cell.cells if isinstance(self.cell, StackedRNNCells) else [self.cell]
        self._check_cell_settings(cells)
        self.unroll = check_flag(unroll, "RNN: unroll")
        self.return_state = check_flag(return_state, "RNN: return_state")
        self.return_sequences = return_sequences = check_flag(return_sequences, "RNN: return_sequences")
        self.go_backwards = go_backwards = check_flag(go_backwards, "RNN: go_backwards")
        # not ``stateful``: a model resets and restores the carried states of the layers that say
        # so, which are the cells' layers here (they carry them)
        self._stateful = stateful = check_flag(stateful, "RNN: stateful")
        self.zero_output_for_mask = check_flag(zero_output_for_mask, "RNN: zero_output_for_mask")
        last = len(cells) - 1
        # the chain (see the module's docstring): the cells before the last return every step's
        # output, which the next reads; only the first reads the input from its end, the others
        # read its outputs in the order it made them (which is that reversed order)
        self.cell_layers = [cell.make_layer(
            name=cell.name or snake_case(type(cell).__name__) + (f"_{k}" if last else ""), stateful=stateful,
            return_sequences=return_sequences if k == last else True,
            go_backwards=go_backwards and k == 0,
            zero_output_for_mask=self.zero_output_for_mask if k == last else False) for k, cell in enumerate(cells)]
        for cell, layer in zip(cells, self.cell_layers):
            if isinstance(cell, _Cell):         # (its weights read off the layer: cell.kernel, as Keras')
                cell._layer = layer
        self._adopt()

    @property
    def supports_masking(self):
        return self.return_sequences

    def _cell_dtype(self):
        """The dtype the cells (and a stack) were given, or None: one (_check_cell_settings)."""
        owners = [self.cell, *(self.cell.cells if isinstance(self.cell, StackedRNNCells) else ())]
        return next((owner.dtype for owner in owners if getattr(owner, "dtype", None) is not None), None)

    def _check_cell_settings(self, cells):
        """The Keras layer arguments of the cells where this RNN honours them: one dtype, the RNN's
        (Keras would keep a cell of another dtype's weights and compute in it, its RNN casting
        around it), and one trainable flag for every cell's weights (a wrapper's weights train
        together: Keras' stack of a frozen cell beside a trainable one is not built)."""
        owners = [self.cell, *(cells if isinstance(self.cell, StackedRNNCells) else ())]
        dtypes = {owner.dtype for owner in owners if getattr(owner, "dtype", None) is not None}
        if len(dtypes) > 1 or (dtypes and self.dtype is not None and self.dtype not in dtypes):
            raise ValueError(f"RNN: the cells' dtype {sorted(d.name for d in dtypes)} is not the RNN's "
                             f"({'not given' if self.dtype is None else self.dtype.name}): a cell computes in its RNN's "
                             f"dtype here; give the dtype to RNN(cell, dtype=...), or the cells the RNN's")
        frozen = {not getattr(cell, "trainable", True) for cell in cells}
        if len(frozen) > 1:
            raise ValueError("RNN: some of the stacked cells are trainable=False and some not: an RNN's weights "
                             "train together here; freeze every cell (or the RNN layer: RNN(...).trainable = False) "
                             "or none")

    def _inner_layers(self):
        if len(self.cell_layers) == 1:      # the layer's own weight names, as Keras' cell's: kernel, ...
            return (("", self.cell_layers[0]),)
        return tuple((f"cell_{k}_", inner) for k, inner in enumerate(self.cell_layers))

    def keras_weight_path(self, key):
        # Keras' weights are its cells': "rnn/lstm_cell/kernel", "rnn/stacked_rnn_cells/gru_cell/kernel"
        # for stacked cells, each named by its class, counted among the stack's as Keras counts them
        # (Keras counts a session's cells: a second RNN(LSTMCell(n)) has "lstm_cell_1", which a
        # glassnet path reads as "lstm_cell"; name a cell to match it)
        for k, (prefix, inner) in enumerate(self._inner_layers()):
            if not (key.startswith(prefix) and key[len(prefix):] in inner.params):
                continue
            if len(self.cell_layers) == 1:
                return [inner.name, key]
            counts = {}
            for cell in self.cell.cells[:k + 1]:
                base = snake_case(type(cell).__name__)
                if cell.name is None:
                    counts[base] = count = counts.get(base, -1) + 1
            name = cell.name or (f"{base}_{count}" if count else base)
            return [self.cell.name or "stacked_rnn_cells", name, key[len(prefix):]]
        return [key]

    def _link(self):
        super()._link()
        for inner in self.cell_layers[1:]:      # each reads the one before it, whose gradient it must return
            inner.needs_input_gradient = True

    def _shapes(self, input_shape):
        """The input shape of each cell's layer, and the last one's output shape."""
        shapes = [tuple(input_shape)]
        for inner in self.cell_layers:
            shapes.append(inner.output_shape(shapes[-1]))
        return shapes

    def build(self, input_shape):
        given = self._cell_dtype()
        if given is not None and self.dtype is not None and given != self.dtype:
            # the RNN's dtype came from its model (or its data): a cell given another is refused so
            raise ValueError(f"{self.describe()}: its cells' dtype {given.name} is not the layer's {self.dtype.name} "
                             f"(its model's, or the default): a cell computes in its RNN's dtype here; give the cells "
                             f"the layer's dtype, or none")
        for (prefix, inner), shape in zip(self._inner_layers(), self._shapes(input_shape)):
            self._build_inner(inner, prefix, shape)
        super().build(input_shape)

    def check_input_shape(self, sample_shape):
        self.cell_layers[0].check_input_shape(sample_shape)

    def output_shape(self, input_shape):
        return self._shapes(input_shape)[-1]

    def numbers_per_sample(self, input_shape):
        shapes = self._shapes(input_shape)
        return sum(inner.numbers_per_sample(shape) + int(np.prod(after, dtype=np.int64))
                   for inner, shape, after in zip(self.cell_layers, shapes, shapes[1:]) if None not in after)

    def matmul_flops(self, batch_size):
        return max(inner.matmul_flops(batch_size) for inner in self.cell_layers)

    # -- states in and out (CarriesStates): each cell's, cell by cell -------------------------
    @property
    def state_count(self):
        return sum(inner.state_count for inner in self.cell_layers)

    def state_shapes(self):
        return [shape for inner in self.cell_layers for shape in inner.state_shapes()]

    def state_names(self):
        if len(self.cell_layers) == 1:
            return self.cell_layers[0].state_names()
        return ", then ".join(f"cell {k}'s {inner.state_names()}" for k, inner in enumerate(self.cell_layers))

    def _state_list(self, initial_state):
        # Keras' stacked form, one list per cell ([[h0, c0], h1]), or flat ([h0, c0, h1])
        if isinstance(initial_state, (list, tuple)):
            initial_state = [state for item in initial_state
                             for state in (item if isinstance(item, (list, tuple)) else [item])]
        return super()._state_list(initial_state)

    def _joined(self, attribute):
        parts = [getattr(inner, attribute) for inner in self.cell_layers]
        return None if any(part is None for part in parts) else [state for part in parts for state in part]

    @property
    def final_states(self):
        return self._joined("final_states")

    @property
    def initial_state_grads(self):
        return self._joined("initial_state_grads")

    def _split(self, states):
        """A flat list of states (or their gradients), one slice per cell's layer."""
        parts, start = [], 0
        for inner in self.cell_layers:
            parts.append(None if states is None else states[start:start + inner.state_count])
            start += inner.state_count
        return parts

    # -- the loop: each cell's layer on the one before it's outputs --------------------------
    def forward(self, x, training=False, mask=None):
        """x (batch, steps, features), mask (batch, steps) or None -> the last cell's output; ``x``
        may be ``[x, *initial states]`` (a model's call with ``initial_state``)."""
        x, given = self._taken_states(x, self._stateful)
        self._started_from, self._state_grads = given is not None, None
        if x.ndim != 3:
            self.check_input_shape(x.shape[1:])
        self._link()
        mask = masking.take(self, mask, x)
        out = x
        for k, (inner, states) in enumerate(zip(self.cell_layers, self._split(given))):
            out = inner.forward(out if states is None else [out, *states], training, mask=mask)
            if k == 0 and self.go_backwards and mask is not None:
                # the layers after the first read its outputs, made from the input's end: so is their mask.
                # At a masked step every cell keeps its states (Keras' stack keeps all of them), so what
                # the layer before outputs there is never read, nor given a gradient
                mask = mask[:, ::-1]
        return out

    def backward(self, grad_output):
        self._link()
        seeds, self._state_grads = self._state_grads, None
        for inner, part in zip(self.cell_layers, self._split(seeds)):      # the last states' own gradients
            inner._state_grads = part
        grad, state_grads = grad_output, []
        for inner in reversed(self.cell_layers):
            grad = inner.backward(grad)
            if self._started_from:          # each layer gave [dx, *dL/d its initial states]
                grad, *own = grad
                state_grads = own + state_grads
        return [grad, *state_grads] if self._started_from else grad

    def reset_state(self):
        """Every cell starts the next batch from zero states (``stateful=True``; Keras')."""
        for inner in self.cell_layers:
            inner.reset_state()

    reset_states = reset_state

    def get_config(self):
        return {**super().get_config(), "cell": _to_entry(self.cell), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards, "stateful": self._stateful,
                "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask}
