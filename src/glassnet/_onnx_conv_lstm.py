"""ONNX form of ``ConvLSTM1D``, ``ConvLSTM2D`` and ``ConvLSTM3D`` (layers/conv_lstm.py): an explicit
``Scan`` over the steps, as glassnet._onnx_scan writes the recurrent layers, its states h and c
images (batch, *output spatial, filters).

* Before the loop, the input's convolution of every step at once: the steps folded into the
  batch (batch * steps, *spatial, channels), one convolution with the layer's kernel, strides,
  padding and dilation (plus the bias), unfolded to (batch, steps, *output spatial, 4 filters).
* The Scan's body, one step: the state's convolution (the recurrent kernel, stride 1, "same",
  Keras' choice) added to the step's input product, the four gate blocks i, f, c, o split off,
  ``c = f c_prev + i activation(c block)``, ``h = o activation(c)``, as glassnet's ``lstm_cell``.
* Masks (batch, steps): at a masked step the states stay as they were (``Where``), the step
  outputs the previous step's output (zeros before a row's first real step), or zeros with
  ``zero_output_for_mask``. ``go_backwards`` reads the steps backwards (Keras' reversed outputs),
  ``initial_state`` starts from the call's state inputs, ``return_state`` hands on the last h
  and c (the ``LastState`` calls read them).

The convolutions are channels last, as glassnet's tensors: ONNX's ``Conv`` between two Transposes
in float32, window slices (glassnet._onnx_windows) in float64, which onnxruntime runs (its Conv
is float32 only). Frames have fixed sizes (only the steps may be open), so both forms apply.

``Bidirectional`` around a ConvLSTM is two such Scans (glassnet._onnx_recurrent), the backward one's
outputs put back in the sequence's order.

A channels-first layer's frames (batch, steps, channels, *spatial) and given states have their
channels moved last (Transpose) and its outputs and states moved back, as glassnet's forward does.

``stateful=True``: the states the batch starts from and ends in are graph inputs and outputs
(glassnet._onnx_stateful); inside ``Bidirectional``, the wrapper's.
"""
import numpy as np

from . import _onnx_proto as proto
from . import _onnx_stateful as stateful
from . import _onnx_windows as windows
from ._onnx_layers import _pads
from ._onnx_ops import apply_activation


def _conv(b, layer, x, sizes, kernel, strides, dilation, padding, bias=None):
    """``x`` (batch, *sizes, in) convolved with ``kernel`` (*k, in, out), channels last."""
    dims = len(sizes)
    pads = _pads(layer, sizes, kernel.shape[:dims], strides, dilation, padding)
    if b.dtype != np.float32:
        return windows.conv(b, x, list(sizes), kernel, bias, list(strides), list(dilation), pads)
    first = b.op("Transpose", [x], perm=[0, dims + 1, *range(1, dims + 1)])
    inputs = [first, b.const(np.transpose(kernel, (dims + 1, dims, *range(dims))), "kernel")]
    if bias is not None:
        inputs.append(b.const(bias, "bias"))
    y = b.op("Conv", inputs, kernel_shape=list(kernel.shape[:dims]), strides=list(strides),
             dilations=list(dilation), pads=pads)
    return b.op("Transpose", [y], perm=[0, *range(2, dims + 2), 1])


def _step(body, layer, states, xz, sizes, who):
    """One step: the new h and c from the previous ones and the step's input product ``xz``."""
    f, dims = layer.filters, len(sizes)
    recurrent = np.asarray(layer.params["recurrent_kernel"])
    hz = _conv(body, layer, states[0], sizes, recurrent, [1] * dims, [1] * dims, "same")
    i, forget, g, o = body.op_outputs("Split", [body.op("Add", [xz, hz]), body.ints([f] * 4)], [True] * 4,
                                      axis=dims + 1)
    gate = lambda t: apply_activation(body, layer.recurrent_activation, t, who)     # noqa: E731
    act = lambda t: apply_activation(body, layer.activation, t, who)                # noqa: E731
    c = body.op("Add", [body.op("Mul", [gate(forget), states[1]]), body.op("Mul", [gate(i), act(g)])])
    return [body.op("Mul", [gate(o), act(c)]), c]


def scan(b, layer, x, shape, mask, who, output_reversed=False, start=None):
    """``layer`` (a ConvLSTM) over ``x`` (batch, steps, *spatial, channels) of sample ``shape``
    with ``mask`` (batch, steps) booleans or None: ``(outputs, last, states)``, every step's output
    (batch, steps, *output spatial, filters), the output glassnet returns without
    ``return_sequences`` and the last h and c. ``output_reversed``: a backward reader's outputs
    put back in the sequence's order (Bidirectional); ``start``: the initial states (None: zeros).
    Channels last throughout (``run`` moves a channels-first layer's)."""
    f = layer.filters
    sizes, channels = list(shape[1:-1]), shape[-1]
    state = list(layer._state_shape(shape)[:-1])            # the output's spatial sizes
    # every step's input product: the steps folded into the batch
    folded = b.op("Reshape", [x, b.ints([-1, *sizes, channels])])
    z = _conv(b, layer, folded, sizes, np.asarray(layer.params["kernel"]), layer.strides, layer.dilation_rate,
              layer.padding, layer.params["bias"] if layer.use_bias else None)
    steps = b.op("Shape", [x], start=0, end=2)
    xz = b.op("Reshape", [z, b.op("Concat", [steps, b.ints([*state, 4 * f])], axis=0)], "input_product")
    element = proto.ELEM_TYPES[b.dtype]
    body = b.body("step")
    h, c, xz_t, real = (body.name(n) for n in ("h", "c", "xz", "real"))
    new = _step(body, layer, [h, c], xz_t, state, who)
    if mask is not None:            # a masked step keeps the states as they were
        new = [body.op("Where", [real, s, old], "kept") for s, old in zip(new, (h, c))]
    zeroed = mask is not None and layer.zero_output_for_mask
    output = body.op("Where", [real, new[0], body.const(0.0)], "zeroed") if zeroed else body.op("Identity", [new[0]])
    image = [None, *state, f]
    graph_inputs = [proto.value_info(h, element, image), proto.value_info(c, element, image),
                    proto.value_info(xz_t, element, [None, *state, 4 * f])]
    sequences = [xz]
    if mask is not None:
        graph_inputs.append(proto.value_info(real, proto.BOOL, [None] + [1] * (len(state) + 1)))
        sequences.append(b.op("Unsqueeze", [mask, b.ints(list(range(2, len(state) + 3)))]))
    graph_outputs = [proto.value_info(s, element, image) for s in (*new, output)]
    graph = proto.graph(f"{layer.name}_step", body.nodes, body.initializers, graph_inputs, graph_outputs)
    b.adopt(body)
    start_given = bool(start)
    if not start:
        size = b.op("Concat", [b.op("Shape", [x], start=0, end=1), b.ints([*state, f])], axis=0)
        start = [b.op("Expand", [b.const(np.zeros(f), "zeros"), size])] * 2
    direction = int(bool(layer.go_backwards))
    h_last, c_last, outputs = b.op_outputs(
        "Scan", [*start, *sequences], [True] * 3, "Scan", body=proto.Subgraph(graph),
        num_scan_inputs=len(sequences), scan_input_axes=[1] * len(sequences),
        scan_input_directions=[direction] * len(sequences), scan_output_axes=[1],
        scan_output_directions=[int(output_reversed)])
    last = h_last
    if zeroed:          # the last step read's output, zeros where it is masked
        last = b.op("Gather", [outputs, b.ints(0 if output_reversed else -1)], axis=1)
    elif mask is not None and start_given:      # (a stateful layer's carried states)
        outputs, last = stateful.from_first_real(b, outputs, mask, direction, output_reversed, len(state) + 3)
    return outputs, last, [h_last, c_last]


def _moved(b, x, rank, source, target):
    """``x`` (of ``rank`` axes) with its axis ``source`` moved to ``target`` (NumPy's moveaxis)."""
    order = [a for a in range(rank) if a != source % rank]
    order.insert(target % rank, source % rank)
    return b.op("Transpose", [x], perm=order)


def run(b, layer, x, shape, mask, who, output_reversed=False, start=None):
    """``scan`` in the layer's own layout: a channels-first layer's frames and given states have
    their channels moved last for the Scan, its outputs and last states moved back (as glassnet's
    forward). Returns ``(outputs, last, states)``."""
    first, start = layer.data_format == "channels_first", list(start or [])
    rank = len(shape) + 1                     # the frames' axes, batch and steps included
    if first:
        x, shape = _moved(b, x, rank, 2, -1), layer._sample_last(tuple(shape))
        start = [_moved(b, s, rank - 1, 1, -1) for s in start]
    outputs, last, states = scan(b, layer, x, shape, mask, who, output_reversed, start)
    if first:
        outputs = _moved(b, outputs, rank, -1, 2)
        last, *states = (_moved(b, t, rank - 1, -1, 1) for t in (last, *states))
    return outputs, last, states


def _conv_lstm(b, layer, xs, shapes):
    start = xs[1:3]
    if layer.stateful:          # the carried states in and out of the file (glassnet._onnx_stateful)
        state_shapes = [tuple(shape) for shape in layer.state_shapes()]
        start = stateful.state_inputs(b, layer, state_shapes)
    outputs, last, b.states[id(layer)] = run(b, layer, xs[0], shapes[0], b.mask, layer.describe(), start=start)
    if layer.stateful:
        stateful.state_outputs(b, layer, b.states[id(layer)], state_shapes)
    return outputs if layer.return_sequences else last


_conv_lstm.reads_masks = True
CONVERTERS = {f"ConvLSTM{rank}D": _conv_lstm for rank in (1, 2, 3)}
