"""ONNX forms of glassnet's recurrent layers: ``SimpleRNN``, ``LSTM``, ``GRU`` and ``Bidirectional``
around one of them, as ONNX's own ``RNN``, ``LSTM`` and ``GRU`` operators (one node a layer).

Layouts (Keras' weights are glassnet's, ONNX's are ``[num_directions, gates * units, ...]``):

========== ====================================== ==========================================
layer      glassnet / Keras                       ONNX
========== ====================================== ==========================================
kernel     (features, gates * units), columns in   W (dirs, gates * units, features), rows in
           Keras' gate order: LSTM i f c o,         ONNX's: LSTM i o f c, GRU z r h (Keras' own)
           GRU z r h
recurrent  (units, gates * units)                   R (dirs, gates * units, units)
bias       LSTM/SimpleRNN (gates * units,);          B (dirs, 2 * gates * units): the input
           GRU (2, 3 units): input, recurrent       bias then the recurrent one (zeros for LSTM
                                                    and SimpleRNN, which have one bias)
========== ====================================== ==========================================

Keras 3's GRU (``reset_after=True``, the only one glassnet has) applies its reset gate after
the recurrent product and its bias: ONNX's ``linear_before_reset=1``. ``activations`` name the
cell's activations (LSTM: f, g, h = recurrent_activation, activation, activation; GRU: f, g;
RNN: f), from those ONNX defines whose numbers are glassnet's.

onnxruntime (1.32) runs these operators with ``layout=0`` only, (steps, batch, features): the
sequence is transposed to it and back, so tensors keep glassnet's (batch, steps, features)
between layers. ``go_backwards`` reverses the sequence first (Slice with step -1) and runs the
cell forwards, so the outputs come out in the reversed order, as Keras'. ``Bidirectional`` is
one node with ``direction="bidirectional"``, whose backward outputs are already in the
sequence's order (Keras reverses them back to it), merged as ``merge_mode`` says.

A reader is written as an explicit Scan instead (glassnet._onnx_scan) where these operators
cannot say what glassnet computes: with a mask (ONNX's ``sequence_lens`` covers right padding
alone, and gives zeros where Keras repeats the last output), in float64 (onnxruntime has no
float64 kernel for them), with an activation they do not define (gelu, a softmax gate, ...), with
``return_state`` (each last state a ``LastState`` call: an Identity of the Scan's state output)
or ``initial_state`` (the Scan starts from the call's state inputs).

``Bidirectional`` around a ConvLSTM is two Scans of glassnet._onnx_conv_lstm, merged the same way.

``stateful=True``: a Scan from the states the batch starts from, a graph input, its last states
a graph output (glassnet._onnx_stateful); inside ``Bidirectional`` the wrapper's states (the
forward reader's, then the backward reader's), two Scans.

``Bidirectional(layer, backward_layer=...)``: a backward reader of its own settings (activations,
``use_bias``) is ONNX's bidirectional node with each direction's activations where that node can
say it; two Scans otherwise (the wrapped layer reading backwards, as Keras allows beside a
backward layer reading forwards: its Scan reads from the end, the other's outputs are reversed; a
backward layer of another class or number of units: each Scan its own cell and states).

(A call with ``initial_state`` reads no mask, glassnet's plan and Keras' rule; a stateful layer's
Scan starts from its carried states under a mask, and outputs zeros before a row's first real step.)
"""
import numpy as np

from . import _onnx_conv_lstm as conv_lstm
from . import _onnx_stateful as stateful
from ._onnx_ops import Unsupported, activation_of
from ._onnx_scan import scan
from .layers.recurrent import LastState
from .layers.unmerged import BackwardOutput

_OPS = {"SimpleRNN": "RNN", "LSTM": "LSTM", "GRU": "GRU"}
_ORDER = {"SimpleRNN": [0], "LSTM": [0, 3, 1, 2], "GRU": [0, 1, 2]}     # Keras' blocks in ONNX's order
# glassnet activation -> (ONNX recurrent activation, alpha, beta); HardSigmoid is max(0, min(1, a x + b))
_ACTIVATIONS = {"sigmoid": ("Sigmoid", None, None), "tanh": ("Tanh", None, None), "relu": ("Relu", None, None),
                "hard_sigmoid": ("HardSigmoid", 1 / 6, 0.5), "softsign": ("Softsign", None, None),
                "linear": ("Affine", 1.0, 0.0)}
_INT64_MIN = -2 ** 63


def _activation(activation, who):
    op, settings = activation_of(activation, who)
    if op not in _ACTIVATIONS or settings:
        raise Unsupported(f"{who}: activation {op!r} has no ONNX recurrent form here; recurrent layers export "
                          f"{', '.join(_ACTIVATIONS)}")
    return _ACTIVATIONS[op]


def _activations(layer, who):
    kind = type(layer).__name__
    if kind == "SimpleRNN":
        return [_activation(layer.activation, who)]
    gate, cell = _activation(layer.recurrent_activation, who), _activation(layer.activation, who)
    return [gate, cell, cell] if kind == "LSTM" else [gate, cell]


def _blocks(w, kind, units):
    """The last axis's gate blocks of ``w`` put in ONNX's order."""
    return np.concatenate([w[..., g * units:(g + 1) * units] for g in _ORDER[kind]], axis=-1)


def _weights(layer):
    """W (gates units, features), R (gates units, units), B (2 gates units,) or None, of one direction."""
    kind, u = type(layer).__name__, layer.units
    w = _blocks(np.asarray(layer.params["kernel"]), kind, u).T
    r = _blocks(np.asarray(layer.params["recurrent_kernel"]), kind, u).T
    if not layer.use_bias:
        return w, r, None
    bias = np.asarray(layer.params["bias"])
    if kind == "GRU":
        return w, r, np.concatenate([_blocks(bias[0], kind, u), _blocks(bias[1], kind, u)])
    return w, r, np.concatenate([_blocks(bias, kind, u), np.zeros_like(bias)])


def _scanned(b, layer):
    """Whether ``layer`` (a reader) is written as a Scan (glassnet._onnx_scan): with a mask, in
    float64 (onnxruntime runs ONNX's RNN, LSTM and GRU in float32 only), or with an activation
    that ONNX's recurrent operators do not define (gelu, a softmax gate, ...)."""
    if b.mask is not None or b.dtype != np.float32 or layer.return_state:
        return True
    try:
        _activations(layer, layer.describe())
    except Unsupported:
        return True
    return False


def _node(b, readers, x, direction, who):
    """ONNX's node for ``readers`` (one layer, or the forward and backward ones) on ``x`` (steps,
    batch, features); returns (Y (steps, dirs, batch, units), Y_h (dirs, batch, units))."""
    first = readers[0]
    kind = type(first).__name__
    weights = [_weights(layer) for layer in readers]
    # each direction's own (a backward_layer of its own may have other activations)
    activations = [act for layer in readers for act in _activations(layer, who)]
    inputs = [x, b.const(np.stack([w for w, _, _ in weights]), "W"), b.const(np.stack([r for _, r, _ in weights]), "R")]
    if first.use_bias:
        inputs.append(b.const(np.stack([bias for _, _, bias in weights]), "B"))
    settings = dict(hidden_size=int(first.units), direction=direction,
                    activations=[op for op, _, _ in activations])
    alphas = [a for _, a, _ in activations if a is not None]
    if alphas:      # consumed in the activations' order by those that take one (ONNX's rule)
        settings.update(activation_alpha=[float(a) for a in alphas],
                        activation_beta=[float(beta) for _, _, beta in activations if beta is not None])
    if kind == "GRU":
        settings["linear_before_reset"] = 1
    wanted = [first.return_sequences, not first.return_sequences] + ([False] if kind == "LSTM" else [])
    return b.op_outputs(_OPS[kind], inputs, wanted, kind, **settings)[:2]


def _reader(b, layer, xs, shapes):
    who = layer.describe()
    if layer.stateful:          # the carried states in and out of the file (glassnet._onnx_stateful)
        state_shapes = [tuple(shape) for shape in layer.state_shapes()]
        outputs, last, b.states[id(layer)] = scan(b, layer, xs[0], b.mask, who,
                                                  start=stateful.state_inputs(b, layer, state_shapes))
        stateful.state_outputs(b, layer, b.states[id(layer)], state_shapes)
        return outputs if layer.return_sequences else last
    if _scanned(b, layer) or len(xs) > 1:
        outputs, last, b.states[id(layer)] = scan(b, layer, xs[0], b.mask, who, start=xs[1:])
        return outputs if layer.return_sequences else last
    x = b.op("Transpose", xs, perm=[1, 0, 2])                    # (steps, batch, features)
    if layer.go_backwards:
        x = b.op("Slice", [x, b.ints([-1]), b.ints([_INT64_MIN]), b.ints([0]), b.ints([-1])], "reversed")
    y, last = _node(b, [layer], x, "forward", who)
    if layer.return_sequences:
        y = b.op("Transpose", [y], perm=[2, 0, 1, 3])            # (batch, steps, 1, units)
        return b.op("Reshape", [y, b.ints([0, 0, layer.units])])
    return b.op("Reshape", [last, b.ints([-1, layer.units])])   # (1, batch, units) -> (batch, units)


def _bidirectional(b, layer, xs, shapes):
    who = layer.describe()
    forward, backward = layer.forward_layer, layer.backward_layer
    if type(forward).__name__.startswith("ConvLSTM"):
        return _scanned_bidirectional(b, layer, xs, who, conv_shape=shapes[0])
    if type(forward).__name__ not in _OPS or type(backward).__name__ not in _OPS:
        raise Unsupported(f"{who}: only SimpleRNN, LSTM, GRU and ConvLSTM readers are exported")
    # ONNX's bidirectional node runs its forward direction forwards and its reverse one from the
    # end, of one use_bias: a backward_layer of its own reading the other way round (Keras lets
    # the wrapped layer read backwards then), or of another use_bias, is two Scans
    if (forward.stateful or _scanned(b, forward) or _scanned(b, backward) or len(xs) > 1
            or forward.go_backwards or not backward.go_backwards or forward.use_bias != backward.use_bias
            or type(forward) is not type(backward) or forward.units != backward.units):    # one node: one op, one size
        return _scanned_bidirectional(b, layer, xs, who)
    x = b.op("Transpose", xs, perm=[1, 0, 2])
    y, last = _node(b, [forward, backward], x, "bidirectional", who)
    if forward.return_sequences:
        y, axis = b.op("Transpose", [y], perm=[2, 0, 1, 3]), 2      # (batch, steps, 2, units)
    else:
        y, axis = b.op("Transpose", [last], perm=[1, 0, 2]), 1       # (batch, 2, units)
    mode = layer.merge_mode
    if mode is None:            # the forward reader's output; the backward one's for BackwardOutput
        ahead, behind = (b.op("Squeeze", [b.op("Slice", [y, b.ints([k]), b.ints([k + 1]), b.ints([axis])]),
                                          b.ints([axis])]) for k in (0, 1))
        return _unmerged(b, layer, ahead, behind)
    if mode == "concat":         # forward's units, then backward's: Keras' concatenation
        return b.op("Reshape", [y, b.ints([0, 0, -1] if axis == 2 else [0, -1])])
    if mode == "sum":
        return b.op("ReduceSum", [y, b.ints([axis])], keepdims=0)
    if mode == "mul":
        return b.op("ReduceProd", [y], axes=[axis], keepdims=0)
    if mode == "ave":
        return b.op("ReduceMean", [y], axes=[axis], keepdims=0)
    raise Unsupported(f"{who}: merge_mode {mode!r} is not exported")


def _scanned_bidirectional(b, layer, xs, who, conv_shape=None):
    """Two Scans, the backward one's outputs put back in the sequence's order, merged as glassnet's
    (``xs``: the sequence, then any initial states, the forward reader's first). ``conv_shape``:
    the sample shape of a ConvLSTM's frames (glassnet._onnx_conv_lstm's Scan), None for the others."""
    x, given = xs[0], xs[1:]
    count = layer.forward_layer.state_count
    carried = layer.forward_layer.stateful
    if carried:         # both readers' carried states in and out of the file, the forward reader's first
        state_shapes = [tuple(shape) for shape in layer.state_shapes()]
        given = stateful.state_inputs(b, layer, state_shapes)

    def run(inner, **options):
        if conv_shape is None:
            return scan(b, inner, x, b.mask, who, **options)
        return conv_lstm.run(b, inner, x, conv_shape, b.mask, who, **options)
    ahead, ahead_last, ahead_states = run(layer.forward_layer, start=given[:count])
    behind, behind_last, behind_states = run(layer.backward_layer, output_reversed=True, start=given[count:])
    b.states[id(layer)] = [*ahead_states, *behind_states]
    if carried:
        stateful.state_outputs(b, layer, b.states[id(layer)], state_shapes)
    pair = [ahead, behind] if layer.return_sequences else [ahead_last, behind_last]
    mode = layer.merge_mode
    if mode is None:
        return _unmerged(b, layer, *pair)
    if mode == "concat":
        return b.op("Concat", pair, axis=-1)
    if mode in ("sum", "ave"):
        total = b.op("Add", pair)
        return total if mode == "sum" else b.op("Div", [total, b.const(2.0)])
    if mode == "mul":
        return b.op("Mul", pair)
    raise Unsupported(f"{who}: merge_mode {mode!r} is not exported")


def _unmerged(b, layer, ahead, behind):
    """``merge_mode=None``: the call's output is the forward reader's, and its BackwardOutput
    reader (``ahead, behind = Bidirectional(..., merge_mode=None)(x)``) gives the backward one's."""
    b.states[("behind", id(layer))] = b.op("Identity", [behind], "behind")
    return b.op("Identity", [ahead], "ahead")


def _backward_output(b, layer, xs, shapes):
    """The backward reader's output of the ``merge_mode=None`` call it reads (``_unmerged``)."""
    return b.op("Identity", [b.states[("behind", id(layer.source))]])


def _last_state(b, layer, xs, shapes):
    """``return_state``'s state ``layer.index`` of the recurrent call it reads (written by its Scan)."""
    return b.op("Identity", [b.states[id(layer.source)][layer.index]])


_reader.reads_masks = _bidirectional.reads_masks = True
_last_state.layer_class = LastState        # (glassnet.layers does not name it: a model's calls make it)
_backward_output.layer_class = BackwardOutput
_backward_output.unlisted = True           # (a reader the user never names: not in a refusal's list)
CONVERTERS = {"SimpleRNN": _reader, "LSTM": _reader, "GRU": _reader, "Bidirectional": _bidirectional,
              "LastState": _last_state, "BackwardOutput": _backward_output}
