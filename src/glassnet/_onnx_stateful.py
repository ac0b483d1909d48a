"""``stateful=True`` recurrent layers in an ONNX file: their states as extra graph inputs and outputs.

A stateful layer starts each batch from the states the previous batch ended in (Keras' rule,
glassnet's ``StatefulLoop``). An ONNX file keeps nothing between runs, so the carried states
are handed in and out: each state of the layer is a graph input ``<layer>/state_<k>`` (the
states the batch starts from: zeros for a fresh start, as after ``reset_state()``) and a graph
output ``<layer>/state_<k>_last`` (the states it ends in, to feed to the next run), numbered as
``return_state`` returns them (h, then LSTM's c; an ``RNN`` of stacked cells: cell by cell).
Each is (batch, *state shape) in the model's dtype. They come after the model's own inputs
and outputs. Two stateful layers of one name (one in a model a TimeDistributed wraps, one
beside it) are told apart by a suffix on the second: ``gru/state_0``, ``gru_1/state_0``.

Inside a model a ``TimeDistributed`` wraps (or a ``TimeDistributed`` around the layer itself),
glassnet's layer reads the steps folded into the batch, one row a (sample, step): its states
are (batch * steps, *state shape), each step of each sample carried on its own. In the file they
are (batch, steps, *state shape) (the wrapper's steps; nested wrappers: each one's), the layer's
``states[k].reshape(batch, steps, ...)``: the file's batch axis stays the model's.

(Keras' own route, tf2onnx, freezes the TensorFlow variables holding the states into constants
of the batch size they were built for; a file of states in and out runs any batch size and
carries the states as the model does.)

With a mask, a Scan started from states other than zeros outputs zeros before each row's first
real step (its states kept until then), as glassnet's and Keras' layers do: ``from_first_real``.
"""
from . import _onnx_proto as proto
from ._onnx_ops import Unsupported

_INT64_MIN = -2 ** 63


def _prefix(b, layer):
    """The names' prefix of ``layer``'s states: its name, with a suffix (``gru_1``) where a layer
    of another model (one a TimeDistributed wraps) took it already, as the outputs' names get one."""
    prefixes = b.state_prefixes
    if id(layer) not in prefixes:
        prefix, k = layer.name, 0
        while prefix in prefixes.values():
            k += 1
            prefix = f"{layer.name}_{k}"
        prefixes[id(layer)] = prefix
    return prefixes[id(layer)]


def state_inputs(b, layer, shapes):
    """Graph inputs for the states of ``layer`` (one per sample shape in ``shapes``); the names of
    the states the layer starts from (inside a TimeDistributed model: the inputs' steps folded
    into the batch, as the layer reads them)."""
    if None in b.folded_steps:
        raise Unsupported(f"{layer.describe()}: a stateful layer inside a TimeDistributed over a sequence of any "
                          "length is not exported (its states are one per step: give the steps in the Input)")
    names = [f"{_prefix(b, layer)}/state_{k}" for k in range(len(shapes))]
    element = proto.ELEM_TYPES[b.dtype]
    b.extra_inputs.extend(proto.value_info(name, element, [proto.BATCH, *b.folded_steps, *shape])
                          for name, shape in zip(names, shapes))
    if not b.folded_steps:
        return names
    return [b.op("Reshape", [name, b.ints([-1, *shape])], "folded_state") for name, shape in zip(names, shapes)]


def state_outputs(b, layer, states, shapes):
    """Graph outputs of the last ``states`` (tensor names) of ``layer``, of sample ``shapes``
    (inside a TimeDistributed model: the steps unfolded from the batch)."""
    element = proto.ELEM_TYPES[b.dtype]
    for k, (state, shape) in enumerate(zip(states, shapes)):
        name = f"{_prefix(b, layer)}/state_{k}_last"
        if b.folded_steps:
            state = b.op("Reshape", [state, b.ints([-1, *b.folded_steps, *shape])], "unfolded_state")
        b.nodes.append(proto.node("Identity", [state], [name], name))
        b.extra_outputs.append(proto.value_info(name, element, [proto.BATCH, *b.folded_steps, *shape]))


def from_first_real(b, outputs, mask, backwards, output_reversed, rank):
    """A Scan's ``outputs`` (batch, steps, ...; ``rank`` axes) set to zeros before each row's first
    real step in the order the steps were read (``backwards``: from the end), and the last output
    read (zeros in a row with no real step): ``(outputs, last)``. ``mask`` (batch, steps) booleans;
    ``output_reversed``: the outputs were put back in the sequence's order."""
    def reversed_steps(t):
        return b.op("Slice", [t, b.ints([-1]), b.ints([_INT64_MIN]), b.ints([1]), b.ints([-1])], "reversed")
    real = b.op("Cast", [mask], to=proto.ELEM_TYPES[b.dtype])
    read = reversed_steps(real) if backwards else real                      # in the order read
    seen = b.op("Greater", [b.op("CumSum", [read, b.ints(1)]), b.const(0.0)], "seen")
    if output_reversed:         # the outputs are in the reverse of the order read: so is seen
        seen = reversed_steps(seen)
    seen = b.op("Unsqueeze", [seen, b.ints(list(range(2, rank)))])
    outputs = b.op("Where", [seen, outputs, b.const(0.0)], "from_first_real")
    return outputs, b.op("Gather", [outputs, b.ints(0 if output_reversed else -1)], axis=1)
