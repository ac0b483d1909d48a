"""ConvLSTM1D/2D/3D: an LSTM whose input and state are images (or sequences, or volumes) and whose
products are convolutions (Shi et al. 2015; Keras' ``ConvLSTM2D``), for sequences of frames: each
step sees its frame and the state map of the step before through small kernels, so motion and
shape are learnt where they happen.

With ``*`` a convolution (the input's with the layer's strides, padding and dilation; the state's
with stride 1 and "same" padding, Keras' choice, so the state keeps its size), at every step t::

    z_t = x_t * kernel + h_(t-1) * recurrent_kernel + bias        (four blocks of filters: i, f, c, o)
    c_t = f c_(t-1) + i activation(c block)      h_t = o activation(c_t)

as ``LSTM``'s gates (layers/recurrent.py), element by element. The input's convolution of every step
runs as one (the steps as a batch); the state's runs step by step, and backpropagation through time
walks the steps back through its ``conv_backward``. Built on layers/conv.py's functions, which take
images and volumes alike (a 1-D layer runs as 2-D on images of height 1).
"""
import math

from .. import activations, backend, constraints, initializers, regularizers
from .._validation import check_choice, check_flag, check_number
from . import masking
from .base import LAYERS, Layer
from .keras_state import seed_record
from .data_format import FORMATS, config_entry, from_config_default
from .conv import (RankOneAsTwo, check_padded_input, conv_backward, conv_forward, conv_output_length, positive_int,
                   weight_settings, window_settings)
from .recurrent import (CarriesStates, StatefulLoop, _activation, dropout_masks, forget_ones, lstm_cell,
                        lstm_cell_backward, masked_step_outputs)


class _ConvLSTM(RankOneAsTwo, StatefulLoop, CarriesStates, Layer):
    """Shared by ConvLSTM1D (rank 1), ConvLSTM2D and ConvLSTM3D. States in and out, stateful and
    the dropout masks are the recurrent layers' own mechanisms (layers/recurrent.py)."""
    activation = activations.LayerSetting()     # set as Keras code sets it: layer.activation = None
    recurrent_activation = activations.LayerSetting()     # (the same)

    rank = 2
    state_count = 2           # h and c, each (batch, *output spatial, filters)
    _drawn_shape = None       # the samples' shape of the last call, which the states' shape follows
    reads_mask = True         # a masked step leaves the states as they were, as LSTM's (layers/masking.py)
    steps_mask_only = True    # its frames' axes take no mask: one within the steps is refused (masking.py)
    _real = _seen = None      # (steps, batch, 1, ...): the mask time-major, and 1 from a row's first real step
    unroll = False            # (on the class too: a layer pickled before it existed lacks it)

    def keras_weight_path(self, key):
        # Keras' layer makes its weights in a cell of its own: "conv_lstm2d/conv_lstm_cell/kernel"
        return ["conv_lstm_cell", key]

    @property
    def supports_masking(self):
        """Every step's output keeps the step's mask; the last state alone has none (Keras)."""
        return self.return_sequences

    def __init__(self, filters, kernel_size, strides=1, padding="valid", dilation_rate=1, activation="tanh",
                 recurrent_activation="sigmoid", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", unit_forget_bias=True,
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 zero_output_for_mask=False, data_format=None, unroll=False, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = seed_record(self)         # (Keras' cell holds one: listed in variables)
        cls = type(self).__name__
        # Keras' data_format (None: gn.config.image_data_format() now, as Keras' constructor reads it)
        self.data_format = check_choice(backend.standardize_data_format(data_format), f"{cls}: data_format", FORMATS)
        # a rate of 1 would drop everything and scale by 1 / 0
        self.dropout = check_number(dropout, f"{cls}: dropout", "[0, 1)")
        self.recurrent_dropout = check_number(recurrent_dropout, f"{cls}: recurrent_dropout", "[0, 1)")
        self.return_state = check_flag(return_state, f"{cls}: return_state")
        self.stateful = check_flag(stateful, f"{cls}: stateful")
        self.states = self.start_states = None      # as the recurrent layers': see StatefulLoop
        self.filters = positive_int(filters, "filters", cls)
        window_settings(self, kernel_size, strides, padding, activation, use_bias, dilation_rate)
        # its error names the argument (activations.get's says "activation", which was valid)
        self.recurrent_activation = _activation(recurrent_activation, cls, "recurrent_activation")
        weight_settings(self, "kernel", kernel_initializer, kernel_regularizer, kernel_constraint)
        weight_settings(self, "recurrent", recurrent_initializer, recurrent_regularizer, recurrent_constraint)
        weight_settings(self, "bias", bias_initializer, bias_regularizer, bias_constraint)
        self.unit_forget_bias = check_flag(unit_forget_bias, f"{cls}: unit_forget_bias")
        self.return_sequences = check_flag(return_sequences, f"{cls}: return_sequences")
        self.go_backwards = check_flag(go_backwards, f"{cls}: go_backwards")
        self.zero_output_for_mask = check_flag(zero_output_for_mask, f"{cls}: zero_output_for_mask")
        # Keras' loop written out step by step: a speed hint of its graph, the same numbers either
        # way (tests/test_keras_args47.py), as LSTM's; kept for get_config, the loop is NumPy's
        self.unroll = check_flag(unroll, f"{cls}: unroll")

    # -- data_format ---------------------------------------------------------------------------
    # Channels first (Keras' (batch, steps, channels, *spatial) in, (batch, filters, *spatial) out,
    # states (batch, filters, *spatial)) is computed channels last: the frames, given states and
    # carried ones are moved on the way in, the outputs and last states on the way out, and the
    # gradients the same ways back. The shape questions take and give channels-first shapes; the
    # loop's own code (_state_shape) reads channels last. Kernels keep Keras' shapes in both.
    @property
    def _first(self):
        return self.data_format == "channels_first"

    def _sample_last(self, shape):
        """A sample shape (steps, C, *spatial) as (steps, *spatial, C) when channels first."""
        shape = tuple(shape)
        return (shape[0], *shape[2:], shape[1]) if self._first and len(shape) == self.rank + 2 else shape

    def _state_out(self, state):
        """A state's shape (*spatial, filters) as the layer shows it: (filters, *spatial) when channels first."""
        return (state[-1], *state[:-1]) if self._first else state

    def _arrays_last(self, arrays, axis=1):
        """Batches with their channels at ``axis`` (states: 1, frames: 2) moved last (copies), when channels first."""
        if not self._first or arrays is None:
            return arrays
        xp = backend.get_array_module(arrays[0])
        return [xp.ascontiguousarray(xp.moveaxis(a, axis, -1)) for a in arrays]

    def _arrays_first(self, arrays, axis=1):
        """The other way: channels last moved to ``axis``, when channels first."""
        if not self._first or arrays is None:
            return arrays
        xp = backend.get_array_module(arrays[0])
        return [xp.ascontiguousarray(xp.moveaxis(a, -1, axis)) for a in arrays]

    # -- shapes ------------------------------------------------------------------------------
    def _state_shape(self, sample_shape):
        """One step's state (*output spatial, filters) for samples (steps, *spatial, channels): channels last."""
        sample_shape = tuple(sample_shape)
        if len(sample_shape) != self.rank + 2:
            axes = {1: "length", 2: "height, width", 3: "depth, height, width"}[self.rank]
            layout = f"channels, {axes}" if self._first else f"{axes}, channels"
            raise ValueError(f"{self.describe()}: expected input of shape (batch, steps, {layout}), got "
                             f"shape (batch, {', '.join(map(str, self._sample_first(sample_shape)))})")
        if sample_shape[0] == 0:
            # no step to run: no last output, no last state (LSTM's rule; Keras fails on it too, less clearly)
            raise ValueError(f"{self.describe()}: expected sequences of at least one step, got samples of shape "
                             f"{sample_shape} (0 steps)")
        if None in sample_shape[1:]:
            raise ValueError(f"{self.describe()}: its frames need sizes (only the steps may be None), got samples of "
                             f"shape {sample_shape}")
        if self.built and sample_shape[-1] != self._channels():
            raise ValueError(f"{self.describe()}: expected frames of {self._channels()} channels, got "
                             f"{sample_shape[-1]} (samples of shape {self._sample_first(sample_shape)})")
        out, pads = [], []
        for size, k, s, d in zip(sample_shape[1:-1], self.kernel_size, self.strides, self.dilation_rate):
            try:
                length, pad = conv_output_length(size, k, s, self.padding, d)
            except ValueError as exc:
                raise ValueError(f"{self.describe()}: kernel_size {self.kernel_size} does not fit frames of shape "
                                 f"{sample_shape[1:]} with padding={self.padding!r} ({exc})") from None
            out.append(length)
            pads.append(pad)
        # every frame is padded (a dilation of 10**5 would pad each to 10**5 pixels per axis)
        check_padded_input(self, sample_shape[1:], pads, f"kernel_size={self.kernel_size}, "
                           f"dilation_rate={self.dilation_rate}", frames=sample_shape[0] or 1)
        return (*out, self.filters)

    def _sample_first(self, shape):
        """(steps, *spatial, C) back as the layer is given it, for messages."""
        return (shape[0], shape[-1], *shape[1:-1]) if self._first and len(shape) == self.rank + 2 else tuple(shape)

    def _channels(self):
        """The built input's channels."""
        return self._sample_last(self.input_shape)[-1]

    def state_shapes(self):
        """One sample's shape of each state, h and c: (*output spatial, filters), which the frames'
        sizes set (the built input's, or the last call's: a model drawn asks before it builds)."""
        shape = self.input_shape if self.input_shape is not None else self._drawn_shape
        if shape is None:
            raise ValueError(f"{self.describe()}: its states' shape follows its frames' sizes: call or build it first")
        state = self._state_out(self._state_shape(self._sample_last(shape)))
        return [state, state]

    def state_shapes_for(self, sample_shape):
        """The states' shapes for frames of ``sample_shape`` (a call's own, which may differ from the
        built ones: the layer runs on frames of any size with its channels)."""
        self._drawn_shape = tuple(sample_shape)
        state = self._state_out(self._state_shape(self._sample_last(sample_shape)))
        return [state, state]

    def __call__(self, x, training=None, mask=None, initial_state=None):
        """As ``LSTM``'s call (``CarriesStates``): ``initial_state=[h, c]``, each (batch, *output
        spatial, filters), and ``[output, h, c]`` with ``return_state=True``; ``mask`` (batch,
        steps) booleans: the masked steps (False) are skipped (see ``forward``)."""
        from .symbolic import is_symbolic, sample_shape_of
        if is_symbolic(x):
            self._drawn_shape = tuple(sample_shape_of(x))
        elif hasattr(x, "shape"):
            self._drawn_shape = tuple(x.shape[1:])
        return super().__call__(x, training, mask, initial_state)

    def output_shape(self, input_shape):
        self._drawn_shape = tuple(input_shape)      # a model drawn asks this first: its LastState calls follow
        state = self._state_out(self._state_shape(self._sample_last(input_shape)))
        return (input_shape[0], *state) if self.return_sequences else state

    def check_input_shape(self, sample_shape):
        self._state_shape(self._sample_last(sample_shape))

    def numbers_per_sample(self, input_shape):
        steps = input_shape[0] or 1
        state = self._state_shape(self._sample_last(input_shape))
        # per step: the state's im2col copy (one per gate when the state is dropped: its masks
        # differ) and the gates, besides the input's
        copies = 4 if self.recurrent_dropout else 1
        return steps * math.prod(state[:-1]) * (copies * math.prod(self.kernel_size) * self.filters + 8 * self.filters)

    def build(self, input_shape):
        self._state_shape(self._sample_last(input_shape))
        channels, f = self._sample_last(input_shape)[-1], self.filters
        self.add_weight("kernel", (*self.kernel_size, channels, 4 * f), self.kernel_initializer,
                        self.kernel_regularizer, self.kernel_constraint)
        self.add_weight("recurrent_kernel", (*self.kernel_size, f, 4 * f), self.recurrent_initializer,
                        self.recurrent_regularizer, self.recurrent_constraint)
        if self.use_bias:
            self.add_weight("bias", (4 * f,), self._bias_initial(), self.bias_regularizer, self.bias_constraint)
        super().build(input_shape)

    def _bias_initial(self):
        return forget_ones(self.bias_initializer, self.filters) if self.unit_forget_bias else self.bias_initializer

    def matmul_flops(self, batch_size):
        if self.input_shape is None:
            return 0
        steps = self.input_shape[0] or 1
        positions = math.prod(self._state_shape(self._sample_last(self.input_shape))[:-1])
        return 2 * batch_size * steps * positions * self.params["kernel"].size

    # -- forward and backward (the gates: recurrent.lstm_cell, LSTM's own) -----------------------
    def _gate_blocks(self, masks):
        """The blocks of filters each product runs in: the four gates one by one when they have
        dropout masks of their own (Keras' ConvLSTMCell draws one per gate), else all at once."""
        if masks is None:
            return [slice(None)]
        f = self.filters
        return [slice(g * f, (g + 1) * f) for g in range(4)]

    def forward(self, x, training=False, mask=None):
        """x (batch, steps, *spatial, channels) -> the last state h (batch, *output spatial,
        filters), or every step's (batch, steps, ...) with ``return_sequences``. ``mask`` (batch,
        steps) booleans or None: as LSTM's, a masked step (False) leaves h and c as they were and
        outputs the previous step's output (zeros before a row's first real step, and at every
        masked step with ``zero_output_for_mask``), as Keras' RNN does. ``x`` may be a list
        ``[x, h, c]`` (a model's call with ``initial_state``): the loop starts from those states.
        ``final_states`` keeps the last h and c."""
        x, given = self._taken_states(x, self.stateful)      # (checked against the shapes as given)
        self._started_from, self._state_grads = given is not None, None
        if x.ndim != self.rank + 3 or self._sample_last(x.shape[1:])[-1] != self._channels():
            self._state_shape(self._sample_last(x.shape[1:]))
        if self._first:         # the loop below computes channels last (see _arrays_last)
            x, = self._arrays_last([x], axis=2)
            given = self._arrays_last(given)
        xp = backend.get_array_module(x)
        n, steps = x.shape[:2]
        state = self._state_shape(x.shape[1:])
        self.x = x
        seq = x[:, ::-1] if self.go_backwards else x
        mask = masking.take(self, mask, x)
        # time-major like the loop, broadcasting over a state: (steps, batch, 1, ..., 1), True where real
        self._real = None if mask is None else xp.ascontiguousarray(
            (mask.T[::-1] if self.go_backwards else mask.T).reshape(steps, n, *(1,) * len(state)))
        # in training, Keras' masks: four (one per gate) of a frame's shape, four of the state's
        self._input_masks = dropout_masks(self, (n, *x.shape[2:]), self.dropout, 4, xp, x.dtype) if training else None
        self._state_masks = (dropout_masks(self, (n, *state), self.recurrent_dropout, 4, xp, x.dtype)
                             if training else None)
        kernel, bias = self._lifted_kernel("kernel"), self.params.get("bias")
        xz = xp.empty((n, steps, *state[:-1], 4 * self.filters), dtype=x.dtype)
        self._input_caches = []
        for i, block in enumerate(self._gate_blocks(self._input_masks)):
            # every step's input product at once (the steps as a batch)
            frames = seq if self._input_masks is None else seq * self._input_masks[i][:, None]
            frames = self._lifted(xp.ascontiguousarray(frames).reshape(n * steps, *x.shape[2:]))
            z, cache = conv_forward(frames, kernel[..., block], None if bias is None else bias[block],
                                    self._lifted_axes(self.strides), self.padding,
                                    self._lifted_axes(self.dilation_rate))
            self._input_caches.append(cache)
            xz[..., block] = z.reshape(n, steps, *state[:-1], -1)
        # time-major, each step's input product contiguous: (steps, batch, *state spatial, 4 filters)
        self._xz = xz = xp.ascontiguousarray(xp.moveaxis(xz, 1, 0))
        ones = self._lifted_axes((1,) * self.rank)
        self._h = h = xp.zeros((steps + 1, n, *state), dtype=x.dtype)       # h[t + 1]: the state after step t
        self._c = c = xp.zeros((steps + 1, n, *state), dtype=x.dtype)
        if self.stateful and self.states is not None:      # the previous batch's last states, row by row
            self._check_state_rows(n)
            if tuple(self.states[0].shape[1:]) != self._state_out(state):
                raise ValueError(f"{self.describe()}: stateful=True starts each batch from the last batch's states, "
                                 f"of shape {tuple(self.states[0].shape)}, and frames of shape "
                                 f"{self._sample_first(x.shape[1:])[1:]} make states of shape "
                                 f"{(n, *self._state_out(state))}; call reset_state() first")
            h[0], c[0] = self._arrays_last(self.states)
        self.start_states = self.states if self.stateful else None
        if given is not None:
            h[0], c[0] = given
        self._z = xp.empty_like(xz)
        self._g = xp.empty_like(xz)
        self._ac = xp.empty((steps, n, *state), dtype=x.dtype)            # activation(c_t)
        self._recurrent_caches = []
        recurrent = self._lifted_kernel("recurrent_kernel")
        blocks = self._gate_blocks(self._state_masks)
        for t in range(steps):
            z, caches = self._z[t], []
            for i, block in enumerate(blocks):
                fed = h[t] if self._state_masks is None else h[t] * self._state_masks[i]
                hz, cache = conv_forward(self._lifted(fed), recurrent[..., block], None, ones, "same", ones)
                caches.append(cache)
                xp.add(xz[t][..., block], hz.reshape(z[..., block].shape), out=z[..., block])
            self._recurrent_caches.append(caches)
            lstm_cell(z, c[t], self._g[t], c[t + 1], h[t + 1], self._ac[t], self.activation,
                      self.recurrent_activation)
            if self._real is not None:          # masked rows: the states before the step, unchanged
                xp.copyto(h[t + 1], h[t], where=~self._real[t])
                xp.copyto(c[t + 1], c[t], where=~self._real[t])
        if self.stateful:           # copies: the next batch's start, never a view of this one's cache
            self.states = self._arrays_first([h[steps], c[steps]]) if self._first else [h[steps].copy(),
                                                                                        c[steps].copy()]
        # views of the cache (nobody writes them); channels first: copies, as the layer shows them
        self.final_states = self._arrays_first([h[steps], c[steps]]) if self._first else [h[steps], c[steps]]
        out = masked_step_outputs(self, h[1:], given)
        if self.return_sequences:
            out = xp.moveaxis(out, 0, 1)
            return xp.ascontiguousarray(xp.moveaxis(out, -1, 2) if self._first else out)
        return self._arrays_first([out[-1]])[0] if self._first else out[-1].copy()

    def backward(self, grad_output):
        """dL/dx from dL/d(output); a model's ``_state_grads`` (dL/d the last h and c, or None)
        join the last step's. After a forward from initial states, returns ``[dx, dL/dh_0,
        dL/dc_0]`` (``initial_state_grads`` keeps the latter two)."""
        xp = backend.get_array_module(grad_output)
        steps, n = self._h.shape[0] - 1, self._h.shape[1]
        c = self._c
        seeds, self._state_grads = self._state_grads, None
        if self._first:         # channels last, as the forward computed (the model's seeds of the last states too)
            grad_output, = self._arrays_last([grad_output], axis=2 if self.return_sequences else 1)
            seeds = None if seeds is None else [None if s is None else self._arrays_last([s])[0] for s in seeds]
        dh_out = xp.zeros_like(self._h[1:])
        if self.return_sequences:
            dh_out[...] = xp.moveaxis(grad_output, 1, 0)
        else:
            dh_out[-1] = grad_output
        real = None if self._real is None else self._real.astype(grad_output.dtype)
        if real is not None and self.zero_output_for_mask:
            dh_out *= real
        elif self._seen is not None:        # the zeros before a row's first real step: constants
            dh_out *= self._seen
        dh, dc = xp.zeros_like(self._h[0]), xp.zeros_like(self._c[0])
        for g, seed in zip((dh, dc), seeds or ()):        # the last states' own (return_state in a model)
            if seed is not None:
                g += seed
        dz_all = xp.empty_like(self._z)
        d_recurrent = xp.zeros_like(self.params["recurrent_kernel"])
        recurrent = self._lifted_kernel("recurrent_kernel")
        blocks = self._gate_blocks(self._state_masks)
        for t in reversed(range(steps)):
            dh += dh_out[t]
            if real is not None:        # a masked row's states passed the step unchanged: so do their gradients
                kept_h, kept_c = dh * (1 - real[t]), dc * (1 - real[t])
                dh = dh * real[t]
                dc *= real[t]
            lstm_cell_backward(dh, dc, self._z[t], self._g[t], c[t], c[t + 1], self._ac[t], dz_all[t],
                               self.activation, self.recurrent_activation)
            dh = xp.zeros_like(dh)
            for i, block in enumerate(blocks):
                dfed, dk, _ = conv_backward(self._lifted(dz_all[t][..., block]), self._recurrent_caches[t][i],
                                            recurrent[..., block])
                d_recurrent[..., block] += dk.reshape(d_recurrent[..., block].shape)
                dfed = dfed.reshape(dh.shape)
                dh += dfed if self._state_masks is None else dfed * self._state_masks[i]
            if real is not None:
                dh += kept_h
                dc += kept_c
        self.grads["recurrent_kernel"][...] = d_recurrent
        self.initial_state_grads = [dh, dc.copy()]
        state_spatial = self._h.shape[2:-1]
        flat = xp.moveaxis(dz_all, 0, 1).reshape(n * steps, *state_spatial, 4 * self.filters)  # batch-major
        kernel, dx = self._lifted_kernel("kernel"), None
        for i, block in enumerate(self._gate_blocks(self._input_masks)):
            dframes, dk, db = conv_backward(self._lifted(flat[..., block]), self._input_caches[i], kernel[..., block],
                                            input_gradient=self.needs_input_gradient)
            self.grads["kernel"][..., block] = dk.reshape(self.grads["kernel"][..., block].shape)
            if db is not None:
                self.grads["bias"][block] = db
            if dframes is not None:
                dframes = dframes.reshape(n, steps, *self.x.shape[2:])
                if self._input_masks is not None:
                    dframes = dframes * self._input_masks[i][:, None]
                dx = dframes if dx is None else dx + dframes
        if dx is not None and self.go_backwards:
            dx = dx[:, ::-1].copy()
        if self._first:
            self.initial_state_grads = self._arrays_first(self.initial_state_grads)
            dx = None if dx is None else self._arrays_first([dx], axis=2)[0]
        return [dx, *self.initial_state_grads] if self._started_from else dx

    def get_config(self):
        keys = ("kernel", "recurrent", "bias")
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "dilation_rate": list(self.dilation_rate),
                "activation": self.activation.name, "recurrent_activation": self.recurrent_activation.name,
                "use_bias": self.use_bias, "unit_forget_bias": self.unit_forget_bias,
                "return_sequences": self.return_sequences, "go_backwards": self.go_backwards,
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "return_state": self.return_state, "stateful": self.stateful,
                "zero_output_for_mask": self.zero_output_for_mask,
                "kernel_initializer": initializers.name_of(self.kernel_initializer),
                "recurrent_initializer": initializers.name_of(self.recurrent_initializer),
                "bias_initializer": initializers.name_of(self.bias_initializer),
                **regularizers.config_entries(self, tuple(f"{k}_regularizer" for k in keys)),
                **constraints.config_entries(self, tuple(f"{k}_constraint" for k in keys)),
                **({"unroll": True} if self.unroll else {}),     # (False: the configs written before it)
                **config_entry(self)}       # (channels last: no entry, the bytes configs had before the option)

    @classmethod
    def from_config(cls, config):
        # a config without data_format (written before the option, or channels last) is channels
        # last whatever the global format when it is read
        return super().from_config(from_config_default(config))


del LAYERS["_ConvLSTM"]     # a shared base, not a layer that configs may name


class ConvLSTM2D(_ConvLSTM):
    """Keras' ``ConvLSTM2D``: an LSTM over a sequence of images whose products are convolutions
    (module docstring); next-frame prediction, precipitation nowcasting.

    Parameters: ``Conv2D``'s (filters, kernel_size, strides, padding, dilation_rate, use_bias,
    kernel_*, bias_*) and ``LSTM``'s (activation, recurrent_activation, recurrent_initializer,
    recurrent_regularizer, recurrent_constraint, unit_forget_bias, return_sequences,
    go_backwards, dropout, recurrent_dropout, return_state, stateful), as LSTM's (layers/recurrent.py):
    dropout : float in [0, 1)
        In training, the fraction of the input frames' numbers dropped, and ``recurrent_dropout``
        of the state's fed back: masks of a frame's (and a state's) shape drawn once per batch, the
        same at every step, one for each gate's product (Keras' ConvLSTMCell).
    return_state : bool
        ``[output, h, c]``, the last states (batch, *output spatial, filters) after the output; calls
        take ``initial_state=[h, c]`` (arrays, or tensors in a functional Model: an encoder's
        states starting a decoder).
    stateful : bool
        Each batch starts from the states the last one ended in, row by row; ``reset_state()``.
    data_format : "channels_last", "channels_first" or None (``gn.config.image_data_format()``)
        Channels first: x (batch, steps, C, H, W) -> (batch, filters, Ho, Wo) (or every step's,
        (batch, steps, filters, Ho, Wo)), states (batch, filters, Ho, Wo) in and out; computed
        channels last between moves, so equal to that layer on moved arrays; kernels as Keras'.
    zero_output_for_mask : bool, default False
        With a mask (batch, steps) (``mask=`` in an eager call, or one reaching it in a model),
        a masked step keeps h and c unchanged and outputs the previous step's output; True outputs
        zeros there (Keras' RNN).
    unroll : bool, default False
        Keras' speed hint (its loop written out in the graph; the same numbers either way): kept
        in ``get_config``, no effect here (the loop is NumPy's).

    Shapes: x (batch, steps, H, W, C) -> (batch, Ho, Wo, filters), or (batch, steps, Ho, Wo,
    filters) with ``return_sequences``; with ``return_state``, ``[that, h, c]``; ``kernel`` (kh, kw, C, 4 filters), ``recurrent_kernel``
    (kh, kw, filters, 4 filters), ``bias`` (4 filters,), gates in Keras' order i, f, c, o.

    Example
    -------
    >>> import numpy as np
    >>> ConvLSTM2D(4, 3, padding="same", return_sequences=True, seed=0)(np.ones((2, 5, 8, 8, 1))).shape
    (2, 5, 8, 8, 4)
    """
    rank = 2


class ConvLSTM1D(_ConvLSTM):
    """Keras' ``ConvLSTM1D``: ``ConvLSTM2D`` over a sequence of 1-D signals (batch, steps, L, C) ->
    (batch, Lo, filters) (or every step's); kernels (k, C, 4 filters) and (k, filters, 4 filters).

    Example
    -------
    >>> import numpy as np
    >>> ConvLSTM1D(2, 3, seed=0)(np.ones((2, 4, 10, 3))).shape
    (2, 8, 2)
    """
    rank = 1


class ConvLSTM3D(_ConvLSTM):
    """Keras' ``ConvLSTM3D``: ``ConvLSTM2D`` over a sequence of volumes (batch, steps, D, H, W, C)
    -> (batch, Do, Ho, Wo, filters) (or every step's).

    Example
    -------
    >>> import numpy as np
    >>> ConvLSTM3D(2, 3, padding="same", seed=0)(np.ones((1, 3, 4, 4, 4, 1))).shape
    (1, 4, 4, 4, 2)
    """
    rank = 3
