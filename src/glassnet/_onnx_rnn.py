"""ONNX form of Keras' generic ``RNN(cell)`` layer: ``RNN(LSTMCell(8))``, ``RNN([LSTMCell(8),
GRUCell(4)])`` (stacked cells), with masks, ``go_backwards``, ``return_state`` and
``initial_state``.

glassnet's ``RNN`` (layers/rnn.py) holds one SimpleRNN, LSTM or GRU layer per cell
(``cell_layers``) and runs them as a chain, each reading the whole sequence the one before it
returned; that chain is exactly Keras' stacked step. Its ONNX form is the same chain: each cell's
layer written as glassnet._onnx_recurrent writes that layer (ONNX's own RNN/LSTM/GRU node, or a
Scan, glassnet._onnx_scan, where a mask, float64, an activation those nodes lack, states
returned or given need one), with what the chain hands on between them:

* the mask reaches every cell's layer; with ``go_backwards`` the first layer reads the input from
  its end and outputs the steps in that order, so the mask the later layers read is reversed
  too (``Slice`` with step -1 on its steps' axis), as ``RNN.forward`` reverses it;
* ``initial_state``: the call's state inputs, split cell by cell (each cell's h, and LSTM's c);
* ``return_state``: every cell's last states, cell by cell (the ``LastState`` calls read them).

``stateful=True``: every cell's states the batch starts from and ends in are graph inputs and
outputs, cell by cell (glassnet._onnx_stateful).

Refused by name: cells of your own (a ``glassnet.layers.Cell``: its step is NumPy code, which has
no ONNX form).
"""
from . import _onnx_cell as cell
from . import _onnx_stateful as stateful
from ._onnx_recurrent import _reader, _scanned
from ._onnx_scan import scan

_INT64_MIN = -2 ** 63


def _reversed_steps(b, mask):
    """``mask`` (batch, steps) with its steps in the reverse order."""
    return b.op("Slice", [mask, b.ints([-1]), b.ints([_INT64_MIN]), b.ints([1]), b.ints([-1])], "reversed_mask")


def _rnn(b, layer, xs, shapes):
    who = layer.describe()
    x, given, mask = xs[0], list(xs[1:]), b.mask
    if layer._stateful:         # the carried states in and out of the file (glassnet._onnx_stateful)
        state_shapes = [tuple(shape) for shape in layer.state_shapes()]
        given = stateful.state_inputs(b, layer, state_shapes)
    states, start, features = [], 0, shapes[0][-1]
    for k, inner in enumerate(layer.cell_layers):
        own, start = given[start:start + inner.state_count], start + inner.state_count
        b.mask = mask
        if type(inner).__name__ == "CellLoop":     # a cell of your own: its step drawn (glassnet._onnx_cell)
            outputs, last, last_states = cell.scan(b, inner, x, features, mask, who, start=own)
            states.extend(last_states)
            x = outputs if inner.return_sequences else last
        elif own or layer.return_state or _scanned(b, inner):
            outputs, last, last_states = scan(b, inner, x, mask, who, start=own)
            states.extend(last_states)
            x = outputs if inner.return_sequences else last
        else:                           # ONNX's own node: no mask, no states in or out
            x = _reader(b, inner, [x], None)
        if k == 0 and layer.go_backwards and mask is not None:
            mask = _reversed_steps(b, mask)
        features = inner.units
    b.states[id(layer)] = states
    if layer._stateful:
        stateful.state_outputs(b, layer, states, state_shapes)
    return x


_rnn.reads_masks = True
CONVERTERS = {"RNN": _rnn}
