"""A cell of your own, in NumPy: the protocol ``Cell`` and the loop (``CellLoop``) that ``RNN``
runs it in, over the steps and back (backpropagation through time).

The built-in cells (``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``) run in glassnet's own recurrent
layers, which batch the input product over all steps; a cell of yours runs one ``step`` per step
and one ``step_backward`` per step back, with Keras' rules around it: masks, ``go_backwards``,
``stateful``, ``initial_state`` and ``return_state`` (``layers/rnn.py``).
"""
from .. import backend
from . import masking
from .base import LAYERS, Layer
from .recurrent import CarriesStates, StatefulLoop, check_sequences, not_sequences

CUSTOM_CELLS = {}     # class name -> Cell subclass: the exact-key table an RNN's config finds a cell in


class Cell:
    """Base class of a cell of your own, for ``RNN(cell)``: one step of a recurrent network and its
    gradient, in NumPy. Subclasses register by class name (a model file names the class, so define
    or import it before loading, as a Layer of your own).

    Attributes and methods to write
    -------------------------------
    state_size : int or list of int
        The width of each state the cell carries (Keras'): ``units``, or ``[units, units]`` for h
        and c. Every state starts at zeros unless ``initial_state`` gives it.
    output_size : int, optional
        The width of the output; by default the first state's.
    build(input_dim, add_weight)
        Make the weights: ``add_weight(name, shape, initializer)`` (the RNN's own ``add_weight``:
        its generator, dtype and file). Called once, with the width of a step's input.
    step(params, x, states, training) -> (output, new_states, cache)
        One step: ``x`` (batch, input_dim), ``states`` a list of (batch, size) arrays, ``params``
        the weights by name (read them there at every step: a model moves them). Returns the
        output (batch, output_size), the list of new states, and whatever ``step_backward`` needs.
        Must not write into ``x``, ``states`` or ``params``.
    step_backward(params, cache, grad_output, grad_states, grads) -> (grad_x, grad_prev_states)
        The step's adjoint: from dL/d its output and dL/d each new state, ADD the step's
        gradient of each weight into ``grads[name]`` (``+=``: the loop zeroes them once and
        sums the steps), and return dL/dx and the list of dL/d each previous state. Must not
        write into ``grad_output`` or ``grad_states``.
    get_config() -> dict
        The constructor's arguments (JSON), for files; the default is ``{}``.

    Check a cell with ``glassnet.gradcheck.check_layer(RNN(cell, dtype="float64"), x)``.

    Example
    -------
    >>> class MinimalRNNCell(Cell):          # Keras' docstring's cell: h_t = x_t K + h_(t-1) R
    ...     def __init__(self, units):
    ...         self.units = self.state_size = units
    ...     def build(self, input_dim, add_weight):
    ...         add_weight("kernel", (input_dim, self.units), "glorot_uniform")
    ...         add_weight("recurrent_kernel", (self.units, self.units), "orthogonal")
    ...     def step(self, params, x, states, training):
    ...         h = x @ params["kernel"] + states[0] @ params["recurrent_kernel"]
    ...         return h, [h], (x, states[0])
    ...     def step_backward(self, params, cache, grad_output, grad_states, grads):
    ...         x, h_prev = cache
    ...         dh = grad_output + grad_states[0]            # the output is the state
    ...         grads["kernel"] += x.T @ dh
    ...         grads["recurrent_kernel"] += h_prev.T @ dh
    ...         return dh @ params["kernel"].T, [dh @ params["recurrent_kernel"].T]
    ...     def get_config(self):
    ...         return {"units": self.units}
    >>> import numpy as np
    >>> from glassnet.layers import RNN
    >>> RNN(MinimalRNNCell(4), seed=0)(np.ones((2, 5, 3))).shape
    (2, 4)
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        CUSTOM_CELLS[cls.__name__] = cls

    @property
    def output_size(self):
        # the first state's width unless the cell says (``self.output_size = n``, Keras' idiom)
        return self.__dict__.get("_output_size", None) or self.state_sizes()[0]

    @output_size.setter
    def output_size(self, value):
        self.__dict__["_output_size"] = value

    def state_sizes(self):
        """``state_size`` as a list."""
        size = self.state_size
        return list(size) if isinstance(size, (list, tuple)) else [size]

    name = None       # as the built-in cells' (RNN names the loop after the class)

    def build(self, input_dim, add_weight):
        """No weights by default."""

    def make_layer(self, **options):
        """The loop an RNN runs this cell in (``options``: return_sequences, go_backwards, ...)."""
        return CellLoop(self, **options)

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class CellLoop(StatefulLoop, CarriesStates, Layer):
    """The loop a ``Cell`` of your own runs in, one per such cell of an ``RNN`` (which owns its
    weights): Keras' ``backend.rnn``. At a masked step the states stay as they were and the
    output is the previous step's (zeros before any, or always with ``zero_output_for_mask``).

    Shapes: x (batch, steps, features) -> (batch, output_size), or (batch, steps, output_size)
    with ``return_sequences``.
    """

    reads_mask = True

    def __init__(self, cell, return_sequences=False, go_backwards=False, stateful=False, zero_output_for_mask=False,
                 **kwargs):
        super().__init__(**kwargs)
        self.cell, self.return_sequences, self.go_backwards = cell, return_sequences, go_backwards
        self.stateful, self.zero_output_for_mask = stateful, zero_output_for_mask
        self.states = self.start_states = None

    @property
    def state_count(self):
        return len(self.cell.state_sizes())

    @property
    def units(self):
        return self.cell.output_size

    def state_shapes(self):
        return [(size,) for size in self.cell.state_sizes()]

    def state_names(self):
        return f"{type(self.cell).__name__}'s {self.state_count} state(s)"

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise not_sequences(self, input_shape)
        self.cell.build(input_shape[-1], self.add_weight)
        super().build(input_shape)

    def check_input_shape(self, sample_shape):
        check_sequences(self, sample_shape)

    def output_shape(self, input_shape):
        self.check_input_shape(input_shape)
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    def _checked(self, array, shape, what):
        if getattr(array, "shape", None) != shape:
            raise ValueError(f"{self.describe()}: {type(self.cell).__name__}.{what} must have shape {shape}, got "
                             f"{getattr(array, 'shape', type(array).__name__)}")
        return array

    def forward(self, x, training=False, mask=None):
        x, given = self._taken_states(x, self.stateful)
        self._started_from, self._state_grads = given is not None, None
        if x.ndim != 3 or x.shape[1] == 0 or (self.input_shape is not None and x.shape[2] != self.input_shape[1]):
            self.check_input_shape(x.shape[1:])
        xp = backend.get_array_module(x)
        n, steps, _ = x.shape
        self._x_shape = x.shape
        mask = masking.take(self, mask, x)
        self._order = list(range(steps))[::-1] if self.go_backwards else list(range(steps))
        self._real = None if mask is None else mask.astype(x.dtype)[:, :, None]
        if given is not None:
            states = list(given)
        elif self.stateful and self.states is not None:
            self._check_state_rows(n)
            states = list(self.states)
        else:
            states = [xp.zeros((n, size), dtype=x.dtype) for size in self.cell.state_sizes()]
        self.start_states = self.states if self.stateful else None
        out = xp.zeros((n, self.units), dtype=x.dtype)
        self._caches, outputs = [], []
        for t in self._order:
            output, new, cache = self.cell.step(self.params, x[:, t], states, training)
            output = self._checked(output, (n, self.units), "step's output")
            new = [self._checked(s, (n, size), "step's new states") for s, size in zip(new, self.cell.state_sizes())]
            if len(new) != self.state_count:
                raise ValueError(f"{self.describe()}: {type(self.cell).__name__}.step returned {len(new)} states, "
                                 f"its state_size has {self.state_count}")
            if self._real is not None:            # a masked step: the states as they were
                real = self._real[:, t]
                new = [real * s + (1 - real) * before for s, before in zip(new, states)]
                output = real * output + (0 if self.zero_output_for_mask else (1 - real) * out)
            self._caches.append(cache)
            states, out = new, output
            outputs.append(out)
        self.final_states = states
        if self.stateful:
            self.states = [s.copy() for s in states]
        if self.return_sequences:
            return xp.stack(outputs, axis=1)
        return out.copy()

    def backward(self, grad_output):
        xp = backend.get_array_module(grad_output)
        n, steps, features = self._x_shape
        seeds, self._state_grads = self._state_grads, None
        for key in self.grads:
            self.grads[key][...] = 0
        dstates = [xp.zeros((n, size), dtype=grad_output.dtype) for size in self.cell.state_sizes()]
        if seeds is not None:
            dstates = [d if seed is None else d + seed for d, seed in zip(dstates, seeds)]
        dout = xp.zeros((n, self.units), dtype=grad_output.dtype)     # to the output carried over masked steps
        dx = xp.zeros(self._x_shape, dtype=grad_output.dtype)
        for k in reversed(range(steps)):
            t = self._order[k]
            dout = dout + (grad_output[:, k] if self.return_sequences else (grad_output if k == steps - 1 else 0))
            if self._real is not None:
                real = self._real[:, t]
                dstep, dout = real * dout, (0 * dout if self.zero_output_for_mask else (1 - real) * dout)
                kept = [(1 - real) * d for d in dstates]
                dnew = [real * d for d in dstates]
            else:
                dstep, dout, kept, dnew = dout, 0 * dout, None, dstates
            dx[:, t], dprev = self.cell.step_backward(self.params, self._caches[k], dstep, dnew, self.grads)
            dstates = list(dprev) if kept is None else [a + b for a, b in zip(dprev, kept)]
        self.initial_state_grads = dstates
        dx = dx if self.needs_input_gradient else None
        return [dx, *dstates] if self._started_from else dx

    def get_config(self):
        # the RNN's config is what a file keeps; this one says the same of this loop alone
        return {**super().get_config(), "cell": {"class_name": type(self.cell).__name__, "config": self.cell.get_config()},
                "return_sequences": self.return_sequences, "go_backwards": self.go_backwards,
                "stateful": self.stateful, "zero_output_for_mask": self.zero_output_for_mask}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        entry = config.pop("cell")
        if entry["class_name"] not in CUSTOM_CELLS:
            raise ValueError(f"CellLoop: cell: unknown cell class {entry['class_name']!r:.60} (define or import it "
                             f"before loading)")
        return cls(CUSTOM_CELLS[entry["class_name"]].from_config(entry["config"]), **config)


del LAYERS["CellLoop"]     # made by RNN for a cell of yours; a config names the RNN and the cell
