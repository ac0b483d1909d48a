"""Recurrent layers: SimpleRNN, LSTM and GRU, Keras' cells step for step, trained by
backpropagation through time.

A recurrent layer reads a sequence ``x`` (batch, steps, features) one step at a time, carrying a
state ``h`` (batch, units) from step to step: ``h_t = cell(x_t, h_(t-1))``, ``h_0 = 0``. Its output
is the last state (batch, units), or every state (batch, steps, units) with ``return_sequences``.

Every cell starts from two matrix products: ``x_t @ kernel`` and ``h_(t-1) @ recurrent_kernel``,
each ``gates * units`` columns wide (one block of columns per gate, in Keras' order). The first
does not depend on the state, so it runs once for all steps as one big product; only the second
stays inside the loop. Backward walks the steps in reverse, the same way: each step gives the
gradient of its two products' outputs (``dZ``), and the weights' gradients are again one big
product each over all steps.

Arrays inside are time-major, (steps, batch, ...): a step's slice is then contiguous.
"""
import numpy as np

from .. import activations, backend, constraints, initializers, regularizers
from .._validation import check_flag, check_number
from . import masking
from .base import LAYERS, Layer
from .keras_state import seed_record
from .conv import positive_int
from .readers import CallReader


_activation = activations.get_for       # its error names the layer and the argument


def not_sequences(layer, shape, expected="(steps, features)"):
    """The error for samples of ``shape`` that are not sequences of two axes; Keras' own shape with
    its batch axis first, ``build((None, 5, 3))``, gets a hint to leave that axis out."""
    shape = tuple(shape)
    hint = (f" (one sample's shape, without Keras' batch axis: {shape[1:]} for Keras' {shape})"
            if len(shape) == 3 and shape[0] is None else "")
    return ValueError(f"{layer.describe()}: expected sequences of shape {expected}, got samples of shape "
                      f"{shape}{hint}")


def check_sequences(layer, sample_shape):
    """Refuse samples that are not sequences (steps, features) of the layer's features: any number
    of steps (a layer used on its own; a model takes the length it was built for)."""
    sample_shape = tuple(sample_shape)
    if len(sample_shape) != 2 or (layer.input_shape is not None and sample_shape[1] != layer.input_shape[1]):
        expected = "(steps, features)" if layer.input_shape is None else f"(steps, {layer.input_shape[1]})"
        raise not_sequences(layer, sample_shape, expected)
    if sample_shape[0] == 0:
        # no step to run: no last output, no last state (Keras fails on it too, less clearly)
        raise ValueError(f"{layer.describe()}: expected sequences of at least one step, got samples of shape "
                         f"{sample_shape} (0 steps)")


def dropout_masks(layer, shape, rate, count, xp, dtype):
    """``count`` dropout masks of ``shape`` (one per block of gates), or None without dropout: 0
    or ``1 / (1 - rate)``, drawn from ``layer``'s generator as Keras draws them, once per batch and
    the same at every step (Gal & Ghahramani 2016). The recurrent layers' and ConvLSTM's."""
    if rate == 0:
        return None
    generator = layer._generator()
    return [xp.asarray((generator.random(shape) >= rate) / (1 - rate), dtype=dtype) for _ in range(count)]


def masked_step_outputs(layer, out, given):
    """A recurrent layer's outputs ``out`` (steps, batch, ...) at its masked steps, as Keras': the
    previous step's output (the states were kept there), and zeros before a row's first real step
    (there the states are the start's, zeros unless given, ``given``, or carried, stateful); zeros
    at every masked step with ``zero_output_for_mask``. Keeps ``layer._seen`` (1 from a row's
    first real step on) for backward, where that rule applies. The LSTM family's and ConvLSTM's."""
    layer._seen = None
    if layer._real is None:
        return out
    if layer.zero_output_for_mask:
        return out * layer._real
    if given is not None or layer.start_states is not None:
        xp = backend.get_array_module(out)
        layer._seen = (xp.cumsum(layer._real, axis=0) > 0).astype(out.dtype)     # (CuPy has no ufunc.accumulate)
        return out * layer._seen
    return out


class CarriesStates:
    """Keras' several arrays in and out of a layer that carries states through the steps (the
    recurrent layers, and ``Bidirectional`` around one): calls take ``initial_state`` (a list of
    ``state_count`` arrays or tensors, one per ``state_shapes()``), and with ``return_state=True``
    return the last states after the output. Eager, the forward reads ``_pending_states``; in a
    model drawn, the states are inputs of the call (``[x, *states]``) and each last state a
    ``LastState`` call reading it. The layer keeps ``final_states`` after a forward and reads
    ``_state_grads`` (dL/d each last state, or None) in its backward."""

    state_count = 1           # the states the cell carries: h (LSTM: h and c)
    _pending_states = None    # an eager call's initial_state, for its forward
    _state_grads = None       # dL/d(the last states) a model hands backward (see glassnet.graph)
    _started_from = False     # whether the last forward started from given states
    final_states = None       # the last forward's last states: (batch, units) each
    initial_state_grads = None

    def __call__(self, x, training=None, mask=None, initial_state=None):
        """As ``Layer.__call__``, with Keras' ``initial_state`` (a list of ``state_count`` arrays
        or tensors, (batch, units) each: h, and LSTM's c) and, with ``return_state=True``, the
        last states after the output: ``[output, h]`` (LSTM: ``[output, h, c]``)."""
        from .symbolic import call_symbolic, holds_symbolic, is_symbolic, with_readers
        if initial_state is None and training is not None and not isinstance(training, (bool, np.bool_)) and (
                isinstance(training, (list, tuple)) or hasattr(training, "shape")):
            # Keras' order, layer(x, [h, c]): the second argument is the initial state
            initial_state, training = training, None
        states = None if initial_state is None else self._state_list(initial_state)
        if is_symbolic(x) or (states is not None and holds_symbolic(states)):
            if mask is not None and states is not None:
                # a call of several inputs [x, *states] is planned as no reader of masks (Keras fills
                # mask= from x alone when x is its one tensor argument); the given mask is not drawn yet
                raise NotImplementedError(f"{self.describe()}: mask= with initial_state is not supported in a model "
                                          f"drawn; give the mask (Masking, Embedding(mask_zero=True)) without "
                                          f"initial_state, or the initial states without mask=")
            from .mask_argument import drawn_with_mask
            x = drawn_with_mask(self, x, mask)      # Keras' explicit mask= replaces x's own (SetMask)
            if states is not None and not all(is_symbolic(state) for state in states + [x]):
                raise TypeError(f"{self.describe()}: in a model drawn, initial_state takes tensors (Inputs, other "
                                f"layers' outputs), as x is one")
            main = call_symbolic(self, x if states is None else [x, *states], training)
            readers = self._call_readers()
            return with_readers(self, main, readers) if readers else main
        self._pending_states = states
        try:
            out = super().__call__(x, training, mask)
        finally:
            self._pending_states = None
        return self._eager_outputs(out)

    def _call_readers(self):
        """The readers of a drawn call's further outputs (layers/readers.py): each last state's."""
        return [LastState(k) for k in range(self.state_count)] if self.return_state else []

    def _eager_outputs(self, out):
        """An eager call's return: the output, then the last states with ``return_state``."""
        return [out, *(state.copy() for state in self.final_states)] if self.return_state else out

    def _state_list(self, initial_state):
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if len(states) != self.state_count:
            shapes = ", ".join(f"(batch, {', '.join(map(str, shape))})" for shape in self.state_shapes())
            raise ValueError(f"{self.describe()}: initial_state takes {self.state_count} state(s) "
                             f"({self.state_names()}: {shapes}), got {len(states)}")
        return states

    def state_shapes_for(self, sample_shape):
        """``state_shapes()`` for samples of ``sample_shape``, which a model drawn checks the
        initial states of a call against before building the layer: the states' shapes do not
        depend on the input's here (ConvLSTM's follow its frames' sizes)."""
        return self.state_shapes()

    def state_names(self):
        """The states in order, for messages: "h" or "h and c"."""
        return "h and c" if self.state_count == 2 else "h"

    def _taken_states(self, x, stateful):
        """``(x, states)``: the sequence and the initial states of this forward, from a model's
        call ``[x, *states]`` or an eager call's ``initial_state``, checked: one (n, *shape) array
        per ``state_shapes()``, in x's dtype; None for zeros (or a stateful layer's carried
        states: ``stateful`` refuses given ones)."""
        states = None
        if isinstance(x, (list, tuple)):
            x, states = x[0], list(x[1:])
        elif self._pending_states is not None:
            states, self._pending_states = self._pending_states, None
        if states is None:
            return x, None
        if stateful:
            raise ValueError(f"{self.describe()}: stateful=True starts each batch from the last batch's states; "
                             f"it takes no initial_state")
        xp = backend.get_array_module(x)
        checked = []
        for k, (state, shape) in enumerate(zip(self._state_list(states), self.state_shapes_for(x.shape[1:]))):
            state = xp.asarray(state)
            if state.shape != (x.shape[0], *shape):
                named = "(batch, units)" if len(shape) == 1 else "(batch, *output spatial, filters)"
                raise ValueError(f"{self.describe()}: initial_state[{k}] must have shape {named} = "
                                 f"{(x.shape[0], *shape)}, got shape {state.shape}")
            checked.append(state.astype(x.dtype, copy=False))
        return x, checked


class StatefulLoop:
    """What a loop over the steps with ``stateful=True`` shares (the recurrent layers, CellLoop):
    ``states`` holds the last batch's last states, which the next batch starts from, row by row."""

    def _check_state_rows(self, n):
        state_rows = self.states[0].shape[0]
        if n != state_rows:
            raise ValueError(f"{self.describe()}: stateful=True starts each sample from the state its row ended "
                             f"the previous batch in, so every batch must hold {state_rows} samples (the batch the "
                             f"states came from), got {n}; give fit, evaluate and predict batch_size={state_rows} "
                             f"and a number of samples it divides (Keras' rule), or call reset_state() first "
                             f"(after which the next batch sets the size: glassnet's)")

    def reset_state(self):
        """Start the next batch from zero states again (``stateful=True``; Keras' ``reset_state``)."""
        self.states = None

    reset_states = reset_state          # Keras' older name, which Keras 3 keeps


class _Recurrent(StatefulLoop, CarriesStates, Layer):
    """What SimpleRNN, LSTM and GRU share: settings, weights, the loop over the steps and its
    reverse. A cell is ``_step`` (forward of one step) and ``_step_backward`` (its gradients)."""

    gates = 1                 # blocks of ``units`` columns in the kernels (SimpleRNN 1, GRU 3, LSTM 4)
    rank = 2                  # samples are (steps, features)
    reads_mask = True         # a masked step leaves the state as it was (layers/masking.py)
    # the cell adds its two products before anything else (SimpleRNN, LSTM), so both share one
    # gradient; GRU scales the recurrent product's candidate block by its reset gate first
    one_sum = True

    activation = activations.LayerSetting()     # set as Keras code sets it: layer.activation = None

    def keras_weight_path(self, key):
        # Keras' layer makes its weights in a cell of its own: "lstm/lstm_cell/kernel"
        return [self.keras_cell, key]

    @property
    def supports_masking(self):
        """Every step's output keeps the step's mask; the last state alone has none (Keras)."""
        return self.return_sequences

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False, *,
                 zero_output_for_mask=False, unroll=False, use_cudnn="auto", **kwargs):
        # Keras' positional order (SimpleRNN's: LSTM and GRU pass only their first arguments by
        # position), activity_regularizer in its place, so that an argument given by position lands
        # where Keras puts it; the next, unroll in Keras, is not taken by position
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.seed_generator = seed_record(self)         # (Keras' cell holds one: listed in variables)
        cls = type(self).__name__
        self.units = positive_int(units, "units", cls)
        self.activation = _activation(activation, cls, "activation")
        self.use_bias = check_flag(use_bias, f"{cls}: use_bias")
        self.kernel_initializer = initializers.get(kernel_initializer, f"{cls}: kernel_initializer")
        self.recurrent_initializer = initializers.get(recurrent_initializer, f"{cls}: recurrent_initializer")
        self.bias_initializer = initializers.get(bias_initializer, f"{cls}: bias_initializer")
        self.kernel_regularizer = regularizers.get(kernel_regularizer, f"{cls}: kernel_regularizer")
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer, f"{cls}: recurrent_regularizer")
        self.bias_regularizer = regularizers.get(bias_regularizer, f"{cls}: bias_regularizer")
        self.kernel_constraint = constraints.get(kernel_constraint, f"{cls}: kernel_constraint")
        self.recurrent_constraint = constraints.get(recurrent_constraint, f"{cls}: recurrent_constraint")
        self.bias_constraint = constraints.get(bias_constraint, f"{cls}: bias_constraint")
        # a rate of 1 would drop everything and scale by 1 / 0
        self.dropout = check_number(dropout, f"{cls}: dropout", "[0, 1)")
        self.recurrent_dropout = check_number(recurrent_dropout, f"{cls}: recurrent_dropout", "[0, 1)")
        self.return_sequences = check_flag(return_sequences, f"{cls}: return_sequences")
        self.go_backwards = check_flag(go_backwards, f"{cls}: go_backwards")
        self.zero_output_for_mask = check_flag(zero_output_for_mask, f"{cls}: zero_output_for_mask")
        # Keras' speed hints, the same numbers either way: the loop written out (unroll), NVIDIA's
        # kernel (use_cudnn); checked, then without effect (glassnet's loop is NumPy's, and not
        # recorded in configs: a layer made without them is the same layer)
        check_flag(unroll, f"{cls}: unroll")
        if use_cudnn is not True and use_cudnn is not False and use_cudnn != "auto":
            raise (ValueError if isinstance(use_cudnn, str) else TypeError)(
                f"{cls}: use_cudnn: expected 'auto', True or False, got {use_cudnn!r:.40}")
        # several arrays out: the output, then the last states (h, and LSTM's c), as Keras returns
        # them; a functional Model takes them (a Sequential passes one array on, and refuses it)
        self.return_state = check_flag(return_state, f"{cls}: return_state")
        # Keras' stateful RNN: each batch starts from the states the previous batch ended in, row i
        # from row i (``states``: h, and LSTM's c, each (batch, units); None is a zero start)
        self.stateful = check_flag(stateful, f"{cls}: stateful")
        self.states = self.start_states = None      # start_states: those the last batch started from

    # -- weights -----------------------------------------------------------------------------
    def build(self, input_shape):
        if len(input_shape) != 2:
            raise not_sequences(self, input_shape)
        width = self.gates * self.units
        self.add_weight("kernel", (input_shape[-1], width), self.kernel_initializer, self.kernel_regularizer,
                        self.kernel_constraint)
        self.add_weight("recurrent_kernel", (self.units, width), self.recurrent_initializer,
                        self.recurrent_regularizer, self.recurrent_constraint)
        if self.use_bias:
            self.add_weight("bias", self._bias_shape(), self._bias_initial(), self.bias_regularizer,
                            self.bias_constraint)
        super().build(input_shape)

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_initial(self):
        return self.bias_initializer

    def output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise not_sequences(self, input_shape)
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    def matmul_flops(self, batch_size):
        """The input product over all steps at once, the largest of the layer's products."""
        if self.input_shape is None:
            return 0
        return 2 * batch_size * self.input_shape[0] * self.params["kernel"].size

    # the numbers a step keeps for backward, in units: the input product, and each cell's own
    # (SimpleRNN: z and h; LSTM: z, the gates, c, activation(c) and h; GRU: its gates' inputs, the
    # gates, the candidate's recurrent block and h)
    cached_per_step = 3

    def numbers_per_sample(self, input_shape):
        # every step's cache at once (what forward leaves for backward), besides the output
        return input_shape[0] * self.cached_per_step * self.units

    _seen = None              # (steps, batch, 1): 1 from a row's first real step on (see forward)

    def state_shapes(self):
        """One sample's shape of each state: (units,)."""
        return [(self.units,)] * self.state_count

    def _given_states(self, x):
        """The initial states of this forward: see ``CarriesStates._taken_states``."""
        return self._taken_states(x, self.stateful)

    # -- the loop ----------------------------------------------------------------------------
    def check_input_shape(self, sample_shape):
        check_sequences(self, sample_shape)

    def _blocks(self):
        """The column blocks the dropout masks act on: the gates one by one when the state is
        dropped too (Keras' ``implementation=1``: a mask of its own for each gate's product), else
        all the columns at once (one mask, Keras' ``implementation=2``)."""
        if self.recurrent_dropout > 0 and self.gates > 1:
            return [slice(g * self.units, (g + 1) * self.units) for g in range(self.gates)]
        return [slice(None)]

    def _masks(self, shape, rate, count, xp, dtype):
        return dropout_masks(self, shape, rate, count, xp, dtype)

    @staticmethod
    def _masked(a, masks, i):
        return a if masks is None else a * masks[i]

    def forward(self, x, training=False, mask=None):
        """x (batch, steps, features), mask (batch, steps) booleans or None -> the output.
        A masked step (False) leaves the state as it was, and outputs the previous step's output
        (zeros with ``zero_output_for_mask``), as Keras' layers do. ``x`` may be a list ``[x,
        *initial states]`` (a model's call with ``initial_state``): the loop starts from those
        states instead of zeros. ``final_states`` keeps the last states (a masked row's: those of
        its last real step)."""
        x, given = self._given_states(x)
        self._started_from, self._state_grads = given is not None, None
        if x.ndim != 3 or x.shape[1] == 0 or x.shape[2] != self.params["kernel"].shape[0]:
            self.check_input_shape(x.shape[1:])
        xp = backend.get_array_module(x)
        self.x = x
        n, steps, features = x.shape
        seq = x.transpose(1, 0, 2)
        self._seq = seq = xp.ascontiguousarray(seq[::-1] if self.go_backwards else seq)
        mask = masking.take(self, mask, x)
        # time-major like seq: (steps, batch, 1), True where the step is real
        self._real = None if mask is None else xp.ascontiguousarray((mask.T[::-1] if self.go_backwards
                                                                     else mask.T)[:, :, None])
        blocks = self._blocks()
        self._input_masks = self._masks((n, features), self.dropout, len(blocks), xp, x.dtype) if training else None
        self._state_masks = (self._masks((n, self.units), self.recurrent_dropout, len(blocks), xp, x.dtype)
                             if training else None)
        kernel, recurrent = self.params["kernel"], self.params["recurrent_kernel"]
        # the input product of every step at once: (steps * batch, features) @ (features, gates * units)
        self._xw = xw = xp.empty((steps, n, kernel.shape[1]), dtype=x.dtype)
        for i, block in enumerate(blocks):
            part = self._masked(seq, self._input_masks, i).reshape(steps * n, features)
            xw[:, :, block] = (part @ kernel[:, block]).reshape(steps, n, kernel[:, block].shape[1])
        if self.use_bias:
            xw += self._input_bias()
        self._h = h = xp.zeros((steps + 1, n, self.units), dtype=x.dtype)     # h[t + 1]: the state after step t
        self._begin_cache(steps, n, xp, x.dtype)
        if self.stateful and self.states is not None:      # the previous batch's last states, row by row
            self._check_state_rows(n)
            for (_, start), carried in zip(self._states(0), self.states):
                start[...] = carried
        self.start_states = self.states if self.stateful else None
        if given is not None:
            for (_, start), state in zip(self._states(0), given):
                start[...] = state
        hw = xp.empty((n, kernel.shape[1]), dtype=x.dtype)    # each step's recurrent product, in place
        for t in range(steps):
            if self._state_masks is None:
                xp.matmul(h[t], recurrent, out=hw)
            else:                                    # assembled gate by gate
                for i, block in enumerate(blocks):
                    hw[:, block] = (h[t] * self._state_masks[i]) @ recurrent[:, block]
            self._step(t, xw[t], hw, h[t], h[t + 1])
            if self._real is not None:          # masked rows: the states before the step, unchanged
                for after, before in self._states(t):
                    xp.copyto(after, before, where=~self._real[t])
        if self.stateful:           # copies: the next batch's start, never a view of this one's cache
            self.states = [after.copy() for after, _ in self._states(steps - 1)]
        # the last states (views of the cache: a model hands them on, return_state; nobody writes them)
        self.final_states = [after for after, _ in self._states(steps - 1)]
        out = masked_step_outputs(self, h[1:], given)
        if self.return_sequences:
            return out.transpose(1, 0, 2).copy()      # a copy in the batch's order, never a view of the cache
        return out[-1].copy()

    def _states(self, t):
        """``(after, before)`` step ``t`` of each state the cell carries: h (and LSTM's c)."""
        return [(self._h[t + 1], self._h[t])]

    def _state_gradients(self):
        """The gradients a cell's backward carries to the step before, besides h's (LSTM's c)."""
        return []

    def _input_bias(self):
        return self.params["bias"]

    def backward(self, grad_output):
        """dL/d(input) from dL/d(output); a model's ``_state_grads`` (dL/d each last state, or
        None) join the last step's. After a forward from initial states, returns ``[dx, *dL/d
        each initial state]`` (``initial_state_grads`` keeps the latter)."""
        xp = backend.get_array_module(grad_output)
        steps, n = self._h.shape[0] - 1, self._h.shape[1]
        seeds, self._state_grads = self._state_grads, None
        recurrent, blocks = self.params["recurrent_kernel"], self._blocks()
        dh_out = xp.zeros((steps, n, self.units), dtype=grad_output.dtype)
        if self.return_sequences:
            dh_out[...] = grad_output.transpose(1, 0, 2)
        else:
            dh_out[-1] = grad_output
        real = None if self._real is None else self._real.astype(grad_output.dtype)
        if real is not None and self.zero_output_for_mask:
            dh_out *= real
        elif self._seen is not None:        # the zeros before a row's first real step: constants
            dh_out *= self._seen
        dxw = xp.empty_like(self._xw)           # the gradient of each step's input product
        # ... and of its recurrent product: the same array where the two are one sum (SimpleRNN, LSTM)
        drec = dxw if self.one_sum else xp.empty_like(self._xw)
        dh = xp.zeros((n, self.units), dtype=grad_output.dtype)     # from the later steps
        self._begin_backward(n, xp, grad_output.dtype)
        if seeds is not None:       # the last states' own gradients (return_state in a model)
            for g, seed in zip((dh, *self._state_gradients()), seeds):
                if seed is not None:
                    g += seed
        for t in reversed(range(steps)):
            dh += dh_out[t]
            if real is not None:        # a masked row's state passed the step unchanged: so does its gradient
                carried = [g * (1 - real[t]) for g in (dh, *self._state_gradients())]
                dh = dh * real[t]
                for g in self._state_gradients():
                    g *= real[t]
            dh_direct = self._step_backward(t, dh, dxw[t], drec[t])
            if self._state_masks is None:
                dh = drec[t] @ recurrent.T
            else:
                dh = sum((drec[t][:, block] @ recurrent[:, block].T) * self._state_masks[i]
                         for i, block in enumerate(blocks))
            if dh_direct is not None:
                dh += dh_direct
            if real is not None:
                dh += carried[0]
                for g, kept in zip(self._state_gradients(), carried[1:]):
                    g += kept
        features = self._seq.shape[2]
        flat_dxw, flat_drec = dxw.reshape(steps * n, dxw.shape[2]), drec.reshape(steps * n, drec.shape[2])
        for i, block in enumerate(blocks):
            seq = self._masked(self._seq, self._input_masks, i).reshape(steps * n, features)
            self.grads["kernel"][:, block] = seq.T @ flat_dxw[:, block]
            fed = self._masked(self._h[:-1], self._state_masks, i).reshape(steps * n, self.units)
            self.grads["recurrent_kernel"][:, block] = fed.T @ flat_drec[:, block]
        if self.use_bias:
            self._bias_gradient(flat_dxw, flat_drec)
        # dh (and LSTM's dc) now hold dL/d(the states the loop started from)
        self.initial_state_grads = [dh, *(g.copy() for g in self._state_gradients())]
        dx = None
        if self.needs_input_gradient:
            kernel = self.params["kernel"]
            dseq = sum(self._masked((flat_dxw[:, block] @ kernel[:, block].T).reshape(steps, n, features),
                                    self._input_masks, i) for i, block in enumerate(blocks))
            if self.go_backwards:
                dseq = dseq[::-1]
            dx = dseq.transpose(1, 0, 2).copy()
        return [dx, *self.initial_state_grads] if self._started_from else dx

    def _bias_gradient(self, flat_dxw, flat_drec):
        self.grads["bias"][...] = flat_dxw.sum(axis=0)

    def _begin_backward(self, n, xp, dtype):
        """Buffers a cell's backward carries from step to step (LSTM's cell-state gradient)."""

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation.name,
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.name_of(self.kernel_initializer),
                "recurrent_initializer": initializers.name_of(self.recurrent_initializer),
                "bias_initializer": initializers.name_of(self.bias_initializer),
                **regularizers.config_entries(self, ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer")),
                **constraints.config_entries(self, ("kernel_constraint", "recurrent_constraint", "bias_constraint")),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards,
                "stateful": self.stateful, "zero_output_for_mask": self.zero_output_for_mask}


del LAYERS["_Recurrent"]     # a shared base, not a layer a config may name


class SimpleRNN(_Recurrent):
    """``h_t = activation(x_t @ kernel + h_(t-1) @ recurrent_kernel + bias)`` (Keras' ``SimpleRNN``,
    PyTorch's ``nn.RNN``).

    Parameters (Keras' names and defaults)
    ----------
    units : int
        The size of the state, and of the output.
    activation : default "tanh"
    use_bias, kernel_initializer ("glorot_uniform"), recurrent_initializer ("orthogonal"), bias_initializer,
    kernel_/recurrent_/bias_regularizer, kernel_/recurrent_/bias_constraint : as Dense's
    dropout, recurrent_dropout : float in [0, 1)
        In training, the fraction of the inputs, and of the state fed back, dropped: masks drawn
        once per batch, the same at every step, as Keras draws them (for LSTM and GRU with
        ``recurrent_dropout``, one per gate for each, Keras' ``implementation=1``).
    return_sequences : bool
        False: the last state (batch, units); True: every step's (batch, steps, units).
    go_backwards : bool
        Read the sequence from its end; the states come out in that (reversed) order, as Keras'.
    zero_output_for_mask : bool, default False
        With a mask (``Embedding(mask_zero=True)``, ``Masking``, or ``mask=`` when called alone),
        a masked step keeps the state unchanged and outputs the previous step's output; True
        outputs zeros there instead (Keras' argument; ``Bidirectional`` sets it to
        ``return_sequences``, as Keras does).
    stateful : bool, default False
        True: each batch starts from the states the previous batch ended in, sample i of one batch
        from sample i of the last (Keras' stateful RNN; train with ``shuffle=False`` and a fixed
        ``batch_size``). ``states`` holds them (h, and LSTM's c, each (batch, units); None before
        the first batch); ``reset_state()`` starts from zeros again. Gradients stop at the batch's
        start (truncated backpropagation through time, as Keras'). Training, ``evaluate``,
        ``predict`` and ``model(x)`` all carry the states on; a model file does not keep them.
    return_state : bool, default False
        True: the layer returns ``[output, h]`` (LSTM: ``[output, h, c]``), its last states after
        the output, as Keras' (an encoder handing its states to a decoder's ``initial_state``). In
        a functional Model only (a Sequential passes one array on, and refuses it).

    Calls take Keras' ``initial_state``: ``layer(x, initial_state=[h])`` (LSTM: ``[h, c]``), each
    (batch, units), arrays or (in a model) tensors; the loop starts from them instead of zeros, and
    in a model the gradient flows back into them.

    Shapes: x (batch, steps, features) -> (batch, units) or (batch, steps, units); ``kernel``
    (features, units), ``recurrent_kernel`` (units, units), ``bias`` (units,). Used alone the
    layer reads any number of steps; in a model, the length it was built for (``pad_sequences``), or
    any, when built for ``Input((None, features))``.

    Example
    -------
    >>> layer = SimpleRNN(4, seed=0)
    >>> layer(np.ones((2, 5, 3))).shape
    (2, 4)
    """
    keras_cell = "simple_rnn_cell"          # (the name of Keras' cell, in its weights' paths)

    def _begin_cache(self, steps, n, xp, dtype):
        self._z = xp.empty((steps, n, self.units), dtype=dtype)

    def _step(self, t, xw, hw, h_prev, h):
        """Step ``t``: the new state into ``h`` (n, units) from the two products ``xw`` and ``hw``
        (n, gates * units) and the previous state ``h_prev``, keeping what backward needs."""
        z = self._z[t]
        np.add(xw, hw, out=z)
        h[...] = self.activation.forward(z)

    def _step_backward(self, t, dh, dxw, drec):
        """Write step ``t``'s gradients of its input and recurrent products into ``dxw`` and
        ``drec`` (n, gates * units) from ``dh``, its state's; return the gradient that reaches
        the previous state other than through the recurrent product (GRU's), or None."""
        dxw[...] = self.activation.backward(dh, self._z[t], self._h[t + 1])


class _Gated(_Recurrent):
    """What LSTM and GRU add to SimpleRNN's settings: the gates' ``recurrent_activation``, in
    Keras' positional place (after ``activation``)."""

    recurrent_activation = activations.LayerSetting()     # (the same)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 **kwargs):
        super().__init__(units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                         **kwargs)
        self.recurrent_activation = _activation(recurrent_activation, type(self).__name__, "recurrent_activation")

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation.name}


del LAYERS["_Gated"]


class LSTM(_Gated):
    """Long short-term memory (Hochreiter & Schmidhuber 1997), Keras' ``LSTM`` and PyTorch's
    ``nn.LSTM``: from ``z = x_t @ kernel + h_(t-1) @ recurrent_kernel + bias``, in four blocks of
    ``units`` columns (Keras' order: input, forget, cell, output),
    ``i, f, o = recurrent_activation(z_i, z_f, z_o)``, ``g = activation(z_c)``,
    ``c_t = f c_(t-1) + i g`` and ``h_t = o activation(c_t)``.

    Parameters as SimpleRNN's, and
    recurrent_activation : default "sigmoid"
    unit_forget_bias : bool, default True
        The forget gate's bias starts at 1 (the other biases from ``bias_initializer``), as Keras'
        (Jozefowicz et al. 2015): the cell keeps its memory at first.

    Shapes: x (batch, steps, features) -> (batch, units) or (batch, steps, units); ``kernel``
    (features, 4 units), ``recurrent_kernel`` (units, 4 units), ``bias`` (4 units,). PyTorch keeps
    the transposes, and two biases whose sum is this one.

    Example
    -------
    >>> LSTM(4, return_sequences=True, seed=0)(np.ones((2, 5, 3))).shape
    (2, 5, 4)
    """
    keras_cell = "lstm_cell"          # (the name of Keras' cell, in its weights' paths)

    gates = 4
    cached_per_step = 15

    state_count = 2           # h and c

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, **kwargs):      # Keras' positional order, unit_forget_bias included
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, **kwargs)
        self.unit_forget_bias = check_flag(unit_forget_bias, "LSTM: unit_forget_bias")

    def _bias_initial(self):
        return forget_ones(self.bias_initializer, self.units) if self.unit_forget_bias else self.bias_initializer

    def _begin_cache(self, steps, n, xp, dtype):
        self._gates = xp.empty((steps, n, 4 * self.units), dtype=dtype)     # i, f, g, o
        self._z = xp.empty((steps, n, 4 * self.units), dtype=dtype)
        self._c = xp.zeros((steps + 1, n, self.units), dtype=dtype)
        self._ac = xp.empty((steps, n, self.units), dtype=dtype)           # activation(c_t)

    def _step(self, t, xw, hw, h_prev, h):
        z = self._z[t]
        np.add(xw, hw, out=z)
        lstm_cell(z, self._c[t], self._gates[t], self._c[t + 1], h, self._ac[t], self.activation,
                  self.recurrent_activation)

    def _begin_backward(self, n, xp, dtype):
        self._dc = xp.zeros((n, self.units), dtype=dtype)

    def _states(self, t):
        return [*super()._states(t), (self._c[t + 1], self._c[t])]

    def _state_gradients(self):
        return [self._dc]

    def _step_backward(self, t, dh, dz, drec):
        lstm_cell_backward(dh, self._dc, self._z[t], self._gates[t], self._c[t], self._c[t + 1], self._ac[t], dz,
                           self.activation, self.recurrent_activation)

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


def forget_ones(initializer, units):
    """Keras' ``unit_forget_bias=True``: an LSTM's bias (i, f, c, o blocks of ``units``) drawn by
    ``initializer``, the forget gate's block ones (in Keras' order of draws: the input gate's block,
    then the ones, then the last two blocks)."""
    def initial(shape, rng, dtype):
        return np.concatenate([initializer((units,), rng, dtype), np.ones(units, dtype),
                               initializer((2 * units,), rng, dtype)])
    return initial


def _gate_blocks(units, activation, recurrent_activation):
    """Each LSTM gate's block of the last axis and its activation, in Keras' order (i, f, c, o)."""
    u = units
    return [(slice(0, u), recurrent_activation), (slice(u, 2 * u), recurrent_activation),
            (slice(2 * u, 3 * u), activation), (slice(3 * u, 4 * u), recurrent_activation)]


def _keras_defaults(activation, recurrent_activation):
    """Whether an LSTM's activations are the built-in tanh and sigmoid (Keras' defaults), for which
    ``lstm_cell`` and its backward take a path of their own. Compared by their functions, as
    ``activations.elementwise`` does."""
    tanh, sigmoid = activations.ACTIVATIONS["tanh"], activations.ACTIVATIONS["sigmoid"]
    return (activation.forward is tanh.forward and activation.backward is tanh.backward
            and recurrent_activation.forward is sigmoid.forward and recurrent_activation.backward is sigmoid.backward)


def lstm_cell(z, c_prev, gates, c, h, ac, activation, recurrent_activation):
    """One LSTM step after its products (LSTM's and ConvLSTM's): ``z`` (..., 4 units), the
    pre-activations of the gates i, f, c, o. Writes ``gates`` = their activations, the new cell
    state ``c = f c_prev + i g``, ``ac`` = activation(c) and ``h = o activation(c)`` (..., units).

    Keras' default activations (tanh, sigmoid) take the path with the fewest NumPy calls: a step's
    gates are a few hundred numbers a row, so each call's overhead counts as much as its work. The
    sigmoid is 1 / (1 + exp(-z)) written into ``gates`` pass by pass, with no temporary; where
    exp(-z) overflows (z < -88 in float32) the result is 1 / inf = 0, sigmoid's limit.

    Otherwise an element-by-element recurrent activation (every built-in one but softmax,
    log_softmax and sparsemax) runs once over all four blocks, then g's block is written over: the
    same numbers as one call per gate. A softmax (or sparsemax) normalises each gate on its own, as
    Keras'. ``gates`` is a buffer of its own: a linear activation returns z itself, which g's write
    would change under the backward pass."""
    u = z.shape[-1] // 4
    i, f, g, o = gates[..., :u], gates[..., u:2 * u], gates[..., 2 * u:3 * u], gates[..., 3 * u:]
    if _keras_defaults(activation, recurrent_activation):
        with np.errstate(over="ignore"):
            np.exp(np.negative(z, out=gates), out=gates)
        gates += 1
        np.reciprocal(gates, out=gates)
        np.tanh(z[..., 2 * u:3 * u], out=g)
        np.multiply(f, c_prev, out=c)
        np.multiply(i, g, out=h)            # h as scratch: written last
        c += h
        np.tanh(c, out=ac)
    else:
        if activations.elementwise(recurrent_activation):
            gates[...] = recurrent_activation.forward(z)
            g[...] = activation.forward(z[..., 2 * u:3 * u])
        else:
            for block, function in _gate_blocks(u, activation, recurrent_activation):
                gates[..., block] = function.forward(z[..., block])
        np.multiply(f, c_prev, out=c)
        c += i * g
        ac[...] = activation.forward(c)
    np.multiply(o, ac, out=h)


def lstm_cell_backward(dh, dc, z, gates, c_prev, c, ac, dz, activation, recurrent_activation):
    """The adjoint of ``lstm_cell``: with ``dh`` = dL/dh and ``dc`` the gradient the later steps
    carried to c, writes dL/dz into ``dz`` and leaves ``dc`` holding dL/dc_prev (in place)."""
    u = z.shape[-1] // 4
    i, f, g, o = gates[..., :u], gates[..., u:2 * u], gates[..., 2 * u:3 * u], gates[..., 3 * u:]
    dz_i, dz_f, dz_g, dz_o = dz[..., :u], dz[..., u:2 * u], dz[..., 2 * u:3 * u], dz[..., 3 * u:]
    if _keras_defaults(activation, recurrent_activation):
        # dc += dh o tanh'(c), tanh' = 1 - ac^2 (dz's g block as scratch, written below)
        np.multiply(ac, ac, out=dz_g)
        np.subtract(1, dz_g, out=dz_g)
        dz_g *= o
        dz_g *= dh
        dc += dz_g
    else:
        dc += activation.backward(dh * o, c, ac)
    # dL/d each gate's activation, into dz's blocks
    np.multiply(dc, g, out=dz_i)
    np.multiply(dc, c_prev, out=dz_f)
    np.multiply(dc, i, out=dz_g)
    np.multiply(dh, ac, out=dz_o)
    if _keras_defaults(activation, recurrent_activation):
        # through the activations: sigmoid' = s (1 - s) for i, f, o; tanh' = 1 - g^2 for g
        slope = np.subtract(1, gates)
        slope *= gates
        slope_g = slope[..., 2 * u:3 * u]
        np.multiply(g, g, out=slope_g)
        np.subtract(1, slope_g, out=slope_g)
        dz *= slope
    else:
        dgates = dz.copy()
        if activations.elementwise(recurrent_activation):
            dz[...] = recurrent_activation.backward(dgates, z, gates)
            g_block = slice(2 * u, 3 * u)
            dz[..., g_block] = activation.backward(dgates[..., g_block], z[..., g_block], gates[..., g_block])
        else:
            for block, function in _gate_blocks(u, activation, recurrent_activation):
                dz[..., block] = function.backward(dgates[..., block], z[..., block], gates[..., block])
    dc *= f                                                  # to c_(t-1)


class GRU(_Gated):
    """Gated recurrent unit (Cho et al. 2014), Keras 3's ``GRU`` (``reset_after=True``, its
    default) and PyTorch's ``nn.GRU``: with ``xz, xr, xh`` the three blocks of ``x_t @ kernel +
    input bias`` and ``rz, rr, rh`` those of ``h_(t-1) @ recurrent_kernel + recurrent bias`` (Keras'
    order: update, reset, candidate),
    ``z = recurrent_activation(xz + rz)``, ``r = recurrent_activation(xr + rr)``,
    ``hh = activation(xh + r rh)`` and ``h_t = z h_(t-1) + (1 - z) hh``.

    Parameters as SimpleRNN's, and
    recurrent_activation : default "sigmoid"
    reset_after : True
        Keras 3's default and PyTorch's form (the reset gate applied after the recurrent
        product); Keras' older ``reset_after=False`` is refused.

    Shapes: x (batch, steps, features) -> (batch, units) or (batch, steps, units); ``kernel``
    (features, 3 units), ``recurrent_kernel`` (units, 3 units), ``bias`` (2, 3 units): the input
    bias, then the recurrent one (PyTorch's ``bias_ih``, ``bias_hh``, gates in the order r, z, n).

    Example
    -------
    >>> GRU(4, seed=0)(np.ones((2, 5, 3))).shape
    (2, 4)
    """
    keras_cell = "gru_cell"          # (the name of Keras' cell, in its weights' paths)

    gates = 3
    cached_per_step = 11
    one_sum = False

    def __init__(self, *args, reset_after=True, **kwargs):     # _Gated's arguments, and reset_after
        super().__init__(*args, **kwargs)
        if not check_flag(reset_after, "GRU: reset_after"):
            raise ValueError("GRU: reset_after=False (Keras 2's default: the reset gate applied before the "
                             "recurrent product) is not supported; reset_after=True is Keras 3's and PyTorch's")
        self.reset_after = True

    def _bias_shape(self):
        return (2, 3 * self.units)

    def _gate_blocks(self):
        """The blocks the gates' activation runs on: z and r at once when it acts element by
        element (the same numbers as two calls), else each on its own (a softmax)."""
        u = self.units
        if activations.elementwise(self.recurrent_activation):
            return (slice(0, 2 * u),)
        return (slice(0, u), slice(u, 2 * u))

    def _input_bias(self):
        return self.params["bias"][0]

    def _begin_cache(self, steps, n, xp, dtype):
        self._gates = xp.empty((steps, n, 3 * self.units), dtype=dtype)     # z, r, hh
        self._pre = xp.empty((steps, n, 3 * self.units), dtype=dtype)       # their inputs
        self._rh = xp.empty((steps, n, self.units), dtype=dtype)            # the recurrent block of hh

    def _step(self, t, xw, hw, h_prev, h):
        u, pre, gates = self.units, self._pre[t], self._gates[t]
        if self.use_bias:           # hw is the loop's buffer for this step: added to in place
            hw += self.params["bias"][1]
        np.add(xw[:, :2 * u], hw[:, :2 * u], out=pre[:, :2 * u])
        for block in self._gate_blocks():        # z, r: each on its own (a softmax), or both at once
            gates[:, block] = self.recurrent_activation.forward(pre[:, block])
        self._rh[t] = hw[:, 2 * u:]
        np.multiply(gates[:, u:2 * u], hw[:, 2 * u:], out=pre[:, 2 * u:])
        pre[:, 2 * u:] += xw[:, 2 * u:]
        gates[:, 2 * u:] = self.activation.forward(pre[:, 2 * u:])                # hh
        z, hh = gates[:, :u], gates[:, 2 * u:]
        np.subtract(h_prev, hh, out=h)         # z h_(t-1) + (1 - z) hh = hh + z (h_(t-1) - hh)
        h *= z
        h += hh

    def _step_backward(self, t, dh, dpre, drec):
        u, pre, gates = self.units, self._pre[t], self._gates[t]
        z, r, hh = gates[:, :u], gates[:, u:2 * u], gates[:, 2 * u:]
        h_prev = self._h[t]
        dhh = dh * (1 - z)
        dpre[:, 2 * u:] = self.activation.backward(dhh, pre[:, 2 * u:], hh)
        dgates = backend.get_array_module(dh).empty((dh.shape[0], 2 * u), dtype=dh.dtype)
        np.multiply(dh, h_prev - hh, out=dgates[:, :u])                # dz
        np.multiply(dpre[:, 2 * u:], self._rh[t], out=dgates[:, u:])   # dr
        for block in self._gate_blocks():
            dpre[:, block] = self.recurrent_activation.backward(dgates[:, block], pre[:, block], gates[:, block])
        drec[...] = dpre
        drec[:, 2 * u:] *= r                   # the candidate's recurrent block is scaled by r
        return dh * z

    def _bias_gradient(self, flat_dxw, flat_drec):
        self.grads["bias"][0] = flat_dxw.sum(axis=0)
        self.grads["bias"][1] = flat_drec.sum(axis=0)


class LastState(CallReader):
    """One last state of a recurrent layer called with ``return_state=True`` in a functional Model:
    ``out, h, c = LSTM(8, return_state=True)(x)`` makes two of these, reading the LSTM's output
    and giving its last h and its last c (layers/readers.py); a ``Bidirectional`` around one makes
    four, the forward reader's h and c, then the backward reader's. Its forward gives
    ``source.final_states[index]``; its backward hands the state's gradient to that layer
    (``_state_grads``), whose backward starts its walk back through the steps from it.

    Shapes: reads the recurrent layer's output -> (batch, units).
    """
    reads = "the last states of a recurrent layer called with return_state=True"
    returns = "its states"

    def __init__(self, index=0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
            raise ValueError(f"LastState: index must be an integer >= 0 (0: h, 1: LSTM's c), got {index!r:.40}")
        self.index = int(index)

    def bind_call(self, parent):
        source = getattr(parent, "layer", parent)
        if not isinstance(source, CarriesStates) or self.index >= source.state_count:
            raise ValueError(f"{self.describe()}: reads state {self.index} of the recurrent layer it is called on, "
                             f"got {source.describe() if isinstance(source, Layer) else source!r}")
        self._bound = (source,)

    def output_shape(self, input_shape):
        return tuple(self.source.state_shapes()[self.index]) if self.source is not None else (input_shape[-1],)

    def _has_values(self, source):
        return source.final_states is not None

    def _values(self, source):
        return source.final_states[self.index]

    def _hand_back(self, source, grad_output):
        seeds = list(source._state_grads or [None] * source.state_count)
        seeds[self.index] = grad_output if seeds[self.index] is None else seeds[self.index] + grad_output
        source._state_grads = seeds

    def get_config(self):
        return {**super().get_config(), "index": self.index}
