"""ONNX form of an ``RNN`` of a cell of your own (a ``glassnet.layers.Cell``): its ``step`` drawn
once on symbolic tensors, the drawn graph written as the body of a ``Scan`` over the steps.

A cell's ``step(params, x, states, training)`` is NumPy code run at every step. Where that code
computes with what a symbolic tensor takes (``+ - * / **``, ``@``, indexing, comparisons and
``glassnet.ops``), calling it once on the symbolic tensors ``x`` (batch,
input_dim) and each state (batch, size) draws the step as a functional model, ``[x, *states] ->
[output, *new states]``, the weights (``params``, read at the call) constants in it. That
model's calls are converted as an exported model's (glassnet._onnx_graph.convert_calls) into the
Scan's body; the Scan carries the states and the previous output, as ``CellLoop.forward`` does:

* at a masked step (``Where`` on the step's mask) the states stay as they were and the output is
  the previous step's (zeros before any), or zeros with ``zero_output_for_mask``;
* ``go_backwards`` reads the steps from the end (``scan_input_directions``), the outputs in the
  order read; ``initial_state`` and ``stateful=True`` (glassnet._onnx_stateful) start from the
  given states, zeros otherwise; the output carried starts at zeros in every case, as glassnet's.

A step whose code reads values (``if``, ``np.dot``, ``x.shape``-dependent NumPy, ``xp.where`` of an
array) cannot be drawn: refused by name, with what drawing it said. A step that draws a value it
does not use at a step (its ``cache``) leaves it out of the file. Drawing runs the step once at
export time (a cell counting its calls sees one more). NumPy's own functions (``np.tanh(x)``) take
no symbolic tensor (as Keras' KerasTensor takes none): write ``glassnet.ops.tanh(x)``, which
computes the same on arrays.
"""
from . import _onnx_proto as proto
from ._onnx_ops import Unsupported
from ._onnx_scan import _zeros


def _drawn_step(layer, features, dtype, who):
    """The step of ``layer.cell`` drawn: ``(model, sources)``, the functional model ``[x, *states]
    -> its distinct drawn results``, and for the step's output and each new state where it is:
    ``("output", j)`` (the model's output j) or ``("input", k)`` (a state handed on unchanged)."""
    import glassnet
    cell = layer.cell
    sizes = cell.state_sizes()
    x = glassnet.Input((features,), name="x")
    states = [glassnet.Input((size,), name=f"state_{k}") for k, size in enumerate(sizes)]
    inputs = [x, *states]
    try:
        output, new, _ = cell.step(layer.params, x, list(states), False)
        drawn, sources = [], []
        for tensor in [output, *new]:
            if any(tensor is given for given in inputs):
                sources.append(("input", next(k for k, given in enumerate(inputs) if tensor is given)))
                continue
            if not any(tensor is seen for seen in drawn):       # (one tensor, the output and a state)
                drawn.append(tensor)
            sources.append(("output", next(j for j, seen in enumerate(drawn) if tensor is seen)))
        if not drawn:
            raise ValueError("the step computes nothing from its inputs")
        return glassnet.Model(inputs, drawn, dtype=dtype), sources
    except Exception as error:          # what the cell's NumPy code did with a tensor of no values
        raise Unsupported(f"{who}: the step of the cell of your own {type(cell).__name__} could not be drawn on "
                          f"symbolic tensors for ONNX ({type(error).__name__}: {str(error)[:200]}); a step of "
                          "operators and glassnet.ops (ops.tanh, not np.tanh) is exported") from None


def scan(b, layer, x, features, mask, who, start=None):
    """``layer`` (a ``CellLoop``) over ``x`` (batch, steps, ``features``) with ``mask`` (batch,
    steps) booleans or None: ``(outputs, last, states)``, each step's output (batch, steps,
    output_size), the last step's (batch, output_size) and the last states."""
    from ._onnx_graph import convert_calls
    model, sources = _drawn_step(layer, features, b.dtype.name, who)
    sizes, units = layer.cell.state_sizes(), layer.units
    element = proto.ELEM_TYPES[b.dtype]
    body = b.body("step")
    states = [body.name(f"state_{k}") for k in range(len(sizes))]
    previous, x_t, real = body.name("previous_output"), body.name("x"), body.name("real")
    outs, _ = convert_calls(body, model, [x_t, *states], [(features,)] + [(size,) for size in sizes],
                            [b.dtype.name] * (1 + len(sizes)))
    found = {"output": [outs[k] for k in model._outputs_at], "input": [x_t, *states]}
    output, *new = (found[kind][k] for kind, k in sources)
    if mask is not None:
        new = [body.op("Where", [real, s, old], "kept") for s, old in zip(new, states)]
        output = body.op("Where", [real, output, body.const(0.0) if layer.zero_output_for_mask else previous], "output")
    # every body output its own name (a step returning one tensor as its output and its state)
    new = [body.op("Identity", [s], "state") for s in new]
    carried, stepped = body.op("Identity", [output], "carried"), body.op("Identity", [output], "output")
    batch = lambda n: [None, n]          # noqa: E731  (the body's batch axis unnamed, as glassnet._onnx_scan's)
    graph_inputs = [proto.value_info(s, element, batch(size)) for s, size in zip(states, sizes)]
    graph_inputs += [proto.value_info(previous, element, batch(units)), proto.value_info(x_t, element, batch(features))]
    if mask is not None:
        graph_inputs.append(proto.value_info(real, proto.BOOL, batch(1)))
    graph_outputs = [proto.value_info(s, element, batch(size)) for s, size in zip(new, sizes)]
    graph_outputs += [proto.value_info(t, element, batch(units)) for t in (carried, stepped)]
    graph = proto.graph(f"{layer.name}_step", body.nodes, body.initializers, graph_inputs, graph_outputs)
    b.adopt(body)
    sequences = [x] if mask is None else [x, b.op("Unsqueeze", [mask, b.ints([2])])]
    start = list(start) if start else [_zeros(b, x, size) for size in sizes]
    direction = int(bool(layer.go_backwards))
    results = b.op_outputs("Scan", [*start, _zeros(b, x, units), *sequences], [True] * (len(sizes) + 2), "Scan",
                           body=proto.Subgraph(graph), num_scan_inputs=len(sequences),
                           scan_input_axes=[1] * len(sequences), scan_input_directions=[direction] * len(sequences),
                           scan_output_axes=[1], scan_output_directions=[0])
    return results[-1], results[-2], results[:len(sizes)]
