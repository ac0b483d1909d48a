"""Recurrent layers as an explicit ONNX ``Scan`` over the steps: the form export writes where ONNX's
own ``RNN``/``LSTM``/``GRU`` nodes cannot say what glassnet computes (glassnet._onnx_recurrent
writes those otherwise).

* A mask (``Embedding(mask_zero=True)``, ``Masking``), of any pattern: holes, left padding, rows
  with no real step. At a masked step the states stay as they were and the step outputs the
  previous step's output (zeros before a row's first real step), or zeros with
  ``zero_output_for_mask`` (which ``Bidirectional`` sets when it returns sequences): Keras' rule,
  glassnet's ``forward``. ONNX's ``sequence_lens`` covers right padding alone and gives zeros at
  the padding, so it is not used.
* float64 models: onnxruntime has no float64 ``RNN``/``LSTM``/``GRU`` kernel, but runs MatMul,
  Sigmoid, Tanh and Where in float64, which are all a Scan's body needs.

The input product of every step is one MatMul before the loop, ``x (batch, steps, features) @
kernel (+ input bias)``; the Scan walks its axis 1 (backwards, ``scan_input_directions=1``, for
``go_backwards``), carrying h (and LSTM's c) of shape (batch, units), from zeros. Its body is one
step of glassnet's cell (layers/recurrent.py), the gates split in Keras' order (LSTM i f c o, GRU
z r h, Keras 3's ``reset_after``), each activation from glassnet._onnx_ops (any built-in one
acting on each value; a softmax over each gate's block, as glassnet applies it), and the mask's
``Where`` keeping the states. Its scan output is each step's output, stacked on axis 1: in the
order the steps were read (Keras' reversed outputs of ``go_backwards``), or put back in the
sequence's order for ``Bidirectional``'s backward direction (``scan_output_directions=1``).
"""
import numpy as np

from . import _onnx_proto as proto
from . import _onnx_stateful as stateful
from ._onnx_ops import apply_activation

_GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}


def _input_product(b, layer, x):
    """x (batch, steps, features) @ kernel (+ the input bias): (batch, steps, gates * units)."""
    xw = b.op("MatMul", [x, b.const(layer.params["kernel"], "kernel")])
    if layer.use_bias:
        bias = np.asarray(layer.params["bias"])
        xw = b.op("Add", [xw, b.const(bias[0] if type(layer).__name__ == "GRU" else bias, "bias")])
    return xw


def _zeros(b, x, units):
    """zeros (batch, units), the batch's size read from ``x``."""
    shape = b.op("Concat", [b.op("Shape", [x], start=0, end=1), b.ints([units])], axis=0)
    return b.op("Expand", [b.const(np.zeros(units), "zeros"), shape])


def _split(body, z, units, count):
    return body.op_outputs("Split", [z, body.ints([units] * count)], [True] * count, axis=1)


def _cell(body, layer, states, xw, who):
    """One step of ``layer``'s cell: the new states (h, and LSTM's c) from the previous ones."""
    kind, u = type(layer).__name__, layer.units
    act = lambda t: apply_activation(body, layer.activation, t, who)               # noqa: E731
    gate = lambda t: apply_activation(body, layer.recurrent_activation, t, who)    # noqa: E731
    hw = body.op("MatMul", [states[0], body.const(layer.params["recurrent_kernel"], "recurrent_kernel")])
    if kind == "SimpleRNN":
        return [act(body.op("Add", [xw, hw]))]
    if kind == "LSTM":
        i, f, g, o = _split(body, body.op("Add", [xw, hw]), u, 4)
        c = body.op("Add", [body.op("Mul", [gate(f), states[1]]), body.op("Mul", [gate(i), act(g)])])
        return [body.op("Mul", [gate(o), act(c)]), c]
    if layer.use_bias:                  # GRU: the recurrent bias joins the recurrent product
        hw = body.op("Add", [hw, body.const(np.asarray(layer.params["bias"])[1], "recurrent_bias")])
    xz, xr, xh = _split(body, xw, u, 3)
    hz, hr, hh = _split(body, hw, u, 3)
    z, r = gate(body.op("Add", [xz, hz])), gate(body.op("Add", [xr, hr]))
    candidate = act(body.op("Add", [body.op("Mul", [r, hh]), xh]))
    # z h_prev + (1 - z) candidate, written as glassnet's step: candidate + z (h_prev - candidate)
    return [body.op("Add", [body.op("Mul", [body.op("Sub", [states[0], candidate]), z]), candidate])]


def scan(b, layer, x, mask, who, output_reversed=False, start=None):
    """``layer`` (SimpleRNN, LSTM or GRU) over ``x`` (batch, steps, features) with ``mask``
    (batch, steps) booleans or None: ``(outputs, last, states)``, every step's output (batch,
    steps, units), the output glassnet returns without ``return_sequences`` (batch, units) and
    the last states (h, and LSTM's c: ``return_state``'s). ``output_reversed``: a backward
    reader's outputs put back in the sequence's order; ``start``: the initial states' names
    (a call's ``initial_state``; None: zeros)."""
    kind, u = type(layer).__name__, layer.units
    count = 2 if kind == "LSTM" else 1
    element = proto.ELEM_TYPES[b.dtype]
    body = b.body("step")
    names = [body.name(n) for n in ("h", "c")[:count] + ("xw", "real")]
    states, xw, real = names[:count], names[count], names[-1]
    new = _cell(body, layer, states, xw, who)
    if mask is not None:            # a masked step keeps the states as they were
        new = [body.op("Where", [real, s, old], "kept") for s, old in zip(new, states)]
    zeroed = mask is not None and layer.zero_output_for_mask
    output = body.op("Where", [real, new[0], body.const(0.0)], "zeroed") if zeroed else body.op("Identity", [new[0]])
    # the body's batch axis has no name: the graph's "batch" is the model's, and a TimeDistributed
    # model's steps folded into it make another size, which onnxruntime then took for the same
    # (it planned a buffer of the model's batch for the Scan's outputs: "Shape mismatch")
    batch = lambda n: [None, n]          # noqa: E731
    graph_inputs = [proto.value_info(s, element, batch(u)) for s in states]
    graph_inputs.append(proto.value_info(xw, element, batch(_GATES[kind] * u)))
    if mask is not None:
        graph_inputs.append(proto.value_info(real, proto.BOOL, batch(1)))
    graph_outputs = [proto.value_info(s, element, batch(u)) for s in (*new, output)]
    graph = proto.graph(f"{layer.name}_step", body.nodes, body.initializers, graph_inputs, graph_outputs)
    b.adopt(body)
    sequences = [_input_product(b, layer, x)]
    if mask is not None:
        sequences.append(b.op("Unsqueeze", [mask, b.ints([2])]))            # (batch, steps, 1)
    direction = int(bool(layer.go_backwards))
    start_given = bool(start)
    start = list(start) if start else [_zeros(b, x, u)] * count
    results = b.op_outputs("Scan", [*start, *sequences], [True] * (count + 1), "Scan",
                           body=proto.Subgraph(graph), num_scan_inputs=len(sequences),
                           scan_input_axes=[1] * len(sequences), scan_input_directions=[direction] * len(sequences),
                           scan_output_axes=[1], scan_output_directions=[int(output_reversed)])
    outputs, last = results[-1], results[0]
    if zeroed:          # the last step read's output, zeros where it is masked
        last = b.op("Gather", [outputs, b.ints(0 if output_reversed else -1)], axis=1)
    elif mask is not None and start_given:      # (a stateful layer's carried states)
        outputs, last = stateful.from_first_real(b, outputs, mask, direction, output_reversed, 3)
    return outputs, last, results[:count]
