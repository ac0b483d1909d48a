"""Second-order gradients: a nested tape's ``gradient``, recorded on the tape recording around it.

keras.io's WGAN-GP (and every ``torch.autograd.grad(..., create_graph=True)`` port) differentiates
a gradient::

    with gn.GradientTape() as tape:                         # outer: records
        with gn.GradientTape() as gp_tape:
            gp_tape.watch(x)
            pred = critic(x, training=True)
        grads = gp_tape.gradient(pred, x)                   # G = d(s . D(x)) / dx: recorded here
        gp = ops.mean((ops.sqrt(ops.sum(ops.square(grads), axis=[1, 2, 3])) - 1.0) ** 2)
    tape.gradient(gp, critic.trainable_weights)

``nested_gradient`` gives G (s: ``output_gradients``, ones by default) as a value recorded on the
outer tape by a ``_SecondOrder`` node. At the outer backward pass that node gets a cotangent v
shaped like x and must give d(v . G)/d(weights) and d(v . G)/dx. Since v . G = s . (J v) is the
derivative of s . D along v, it runs D's forward pass with a tangent (forward mode along v), then
the reverse pass of that (primal, tangent) computation seeded with s on the output's tangent: exact,
as TF's and torch's, no finite differences.

The inner graph between the source and the target is made a ``_Program``: one slot per value (the
source's first), one entry per step of each layer call (glassnet._tape_second_rules and _act), in
the order of the recorded calls and, within a model's call, of its graph of calls: a layer's
output read twice, merges, residual blocks, a model of several inputs whose others are constants
(a conditional critic's labels). The tangent and the reverse passes walk those entries. The calls
must be recorded model calls (no masks; of several outputs, each output read is the slot of its
layer's call), layer calls and ``glassnet.ops`` calls
(glassnet._tape_second_ops), the linear ops after the last (``ops.sum``, ``ops.mean``, reshapes,
indexing, negation) folded into s; a value the outer tape recorded beside the source (a watched
weight) is a constant slot whose cotangent goes back to it. Anything else is refused by name,
never differentiated wrongly. Imported by ``GradientTape.gradient`` when it meets the nested
case: ``import glassnet`` does not.
"""
import numpy as np

from . import _tape_state
from ._tape_calls import _HeadOutput, _LayerNode, _ModelCall, _rerun
from . import _tape_second_ops as _ops
from ._tape_second_act import refuse as _refuse
from ._tape_second_rules import steps as _steps
from ._tape_values import Node, Recorded, _paused, _plain, _wrap

_TAIL_OPS = ("sum", "mean", "reshape", "convert_to_tensor", "get_item", "negative")


class _Program:
    """Slots of values (slot 0: the source) and entries (step, input slots, output slot) in order."""

    def __init__(self):
        self.values, self.varying, self.entries = [None], [True], []

    def constant(self, value):
        self.values.append(np.asarray(value))
        self.varying.append(False)
        return len(self.values) - 1

    def call(self, layer_steps, ins):
        """The entries of one layer call reading ``ins``; its output's slot."""
        for step in layer_steps:
            x = [self.values[i] for i in ins] if step.merges else self.values[ins[0]]
            self.values.append(step.forward(x))
            self.varying.append(any(self.varying[i] for i in ins))
            self.entries.append((step, ins, len(self.values) - 1))
            ins = [len(self.values) - 1]
        return ins[0]

    def gradient(self, out, seed):
        """d(seed . slot ``out``)/d(slot 0): the first-order reverse pass over the entries reaching the source."""
        cot = {out: seed}
        for step, ins, slot in reversed(self.entries):
            a = cot.pop(slot, None)
            if a is None or not self.varying[slot]:
                continue
            self._send(step.reverse(a, None, None), step, ins, cot, None, only_varying=True)
        return cot.get(0)

    def tangents(self, v):
        """The tangent pass along ``v`` (slot 0's): {slot: its tangent} for the slots it reaches
        (forward mode; each step keeps what its reverse needs)."""
        tangents = {0: v}
        for step, ins, slot in self.entries:
            ts = [tangents.get(i) for i in ins]
            if any(t is not None for t in ts):
                tangents[slot] = step.tangent(ts) if step.merges else step.tangent(ts[0])
        return tangents

    def second(self, out, seed, v, grads):
        """The tangent pass along ``v`` (slot 0's), then the reverse pass of (values, tangents) seeded
        with ``seed`` on the tangent of slot ``out``: {slot: d(v . G)/d(it)} (slot 0 and the constants
        read), the weights' into ``grads``."""
        self.tangents(v)
        a_of, b_of = {}, {out: seed}
        for step, ins, slot in reversed(self.entries):
            a, b = a_of.pop(slot, None), b_of.pop(slot, None)
            if a is None and b is None:
                continue
            self._send(step.reverse(a, b, grads), step, ins, a_of, b_of)
        return a_of

    def _send(self, pairs, step, ins, a_of, b_of, only_varying=False):
        for i, (a, b) in zip(ins, pairs if step.merges else [pairs]):
            if only_varying and not self.varying[i]:
                continue
            for got, into in ((a, a_of), (b, b_of)):
                if got is not None and into is not None:
                    into[i] = got if i not in into else into[i] + got


def _layer_calls(node):
    """[(layer, its input indices: -1 - j for the call's input j, training, weights, mask, state)] of
    a recorded model or layer call, in the order of its graph."""
    if isinstance(node, _ModelCall):
        model = node.model
        if getattr(model, "_mask_plan", None) or getattr(model, "_call_options", None) or \
                getattr(model, "_skipped_calls", lambda _: None)(node.training) is not None:
            _refuse(f"the call of model {model.name!r} (masks, call arguments or a TrainingSwitch)")
        modes = getattr(model, "_call_modes", None)
        calls = [(layer, parents, node.training if modes is None or modes[k] is None else modes[k])
                 for k, (layer, parents) in enumerate(zip(model._node_layers, model._inbound))]
        forward, owner = (lambda: model._forward(node.x, training=node.training)), model.layers
    else:
        if node.mask is not None:   # (the steps run without it: GlobalAveragePooling1D's mean would take in the padding)
            _refuse(f"the call of {node.layer.describe()} given a mask")
        width = len(node.x) if isinstance(node.x, list) else 1
        calls = [(node.layer, [-1 - j for j in range(width)], node.training)]
        forward, owner = node._forward_again, [node.layer]
    from .layers import Dropout
    dropping = [layer for layer, _, mode in calls if type(layer) is Dropout and mode and layer.rate > 0]
    if len(set(map(id, dropping))) != len(dropping):
        _refuse("a Dropout layer called twice in one model")
    masks = {}
    if dropping:        # the masks of this very call: its pass again where another ran since
        if node.stamp != _tape_state.FORWARDS[0]:
            _rerun(node, owner, forward)
        masks = {id(layer): np.array(layer.mask) for layer in dropping}
    # the moving statistics as the call found them (an inference-mode BatchNormalization reads them;
    # a training-mode call or a replay since may have moved the layer's own)
    before = getattr(node, "before", None)
    states = {id(layer): state for layer, state, *_ in (before._saved if before is not None else ())}
    return [(layer, parents, mode, {key: then for (lay, key, then) in node.weights_at if lay is layer} or
             {key: np.array(value) for key, value in layer.params.items()}, masks.get(id(layer)),
             states.get(id(layer)) or {key: np.array(v) for key, v in getattr(layer, "state", {}).items()})
            for layer, parents, mode in calls]


def _inputs_of(node):
    """The values a recorded call read, one per parent (a model's inputs as its graph sees them)."""
    if isinstance(node, _ModelCall):
        return list(node.model._sources(node.x))
    return list(node.x) if isinstance(node.x, list) else [node.x]


def _within(node):
    """`` (in ops.<function>)`` for an op recorded inside a function written with other ops
    (``ops.einsum (in ops.moveaxis)``: glassnet._tape_record._composed_call), so that a refusal names
    the function the user called; "" otherwise."""
    within = getattr(node, "within", None)
    return f" (in ops.{within})" if within else ""


def _graph(tape, start, ids, peel=True):
    """(the linear tail ops from the target, newest first; the recorded calls between the source
    (a node of ``ids``) and them, oldest first; the source's node read), or None where the target
    does not depend on the source. No calls: the tail reads the source itself. ``peel=False``: no
    tail (ops.jvp's forward mode takes those ops as steps of the program)."""
    tail, node = [], start
    while peel and node not in ids:
        if isinstance(node, _ModelCall) or (isinstance(node, _LayerNode) and node.weights):
            break
        if not isinstance(node, _LayerNode) or getattr(node.layer, "op", None) not in _TAIL_OPS \
                or len(node.parents) != 1:
            break           # (the ops before: steps of the program, glassnet._tape_second_ops)
        tail.append(node)
        node = node.parents[0]
        if node is None or (node not in ids and tape not in node.tapes):
            return None
    if node in ids:
        return tail, [], node
    # the recorded nodes from which the source is reached: oldest first, each after its parents
    reach = sorted(tape._reach(node), key=lambda n: n.index)
    leads = {}
    for n in reach:
        leads[n] = n in ids or any(p in ids or leads.get(p, False) for p in n.parents if p is not None)
    if not leads[node]:
        return None
    between = [n for n in reach if leads[n] and n not in ids]
    for n in between:
        if not (_is_call(n) or _is_head(n) or _is_op(n) and _ops.covered(n.layer, len(_ops.operands(n)[0]))):
            _refuse(f"ops.{_ops.name_of(n.layer)}{_within(n)} on the inner tape (ops covered: {_ops.COVERED})"
                    if _is_op(n) else f"{n.what} on the inner tape")
    source = next(p for n in between for p in n.parents if p in ids)
    return tail, between, source


def _is_call(node):
    return isinstance(node, _ModelCall) or (isinstance(node, _LayerNode) and node.weights)


def _is_head(node):
    """One output of a recorded call of a model of several (its columns of the packed outputs)."""
    return isinstance(node, _LayerNode) and isinstance(node.layer, _HeadOutput)


def _is_op(node):
    """A recorded ``glassnet.ops`` call or operator (glassnet._tape_second_ops has its rules)."""
    return isinstance(node, _LayerNode) and not node.weights and hasattr(node, "inputs") and \
        not isinstance(node.layer, _HeadOutput)


def _program(between, ids, outer_tapes):
    """The ``_Program`` of the recorded calls and ops ``between`` (oldest first); the slot of the last
    one's output; [(slot, node)] of the constants the outer tape recorded (a watched weight, an
    embedding of labels): their cotangents go back to it."""
    program, slot_of, outer = _Program(), {}, []

    def slot(p, value):
        if p in ids:
            if program.values[0] is None:
                program.values[0] = np.asarray(value)
            return 0
        if p not in slot_of:
            slot_of[p] = program.constant(value)
            if p is not None and any(t in outer_tapes for t in p.tapes):
                outer.append((slot_of[p], p))
        return slot_of[p]

    outputs_of = {}         # {a model call of several outputs: the slot of each of its calls' output}
    for node in between:
        if _is_head(node):      # (its model's call came before it: the output of the head's layer call)
            head = node.layer.head
            slot_of[node] = outputs_of[node.parents[0]][head.call]
            if program.values[slot_of[node]].shape[1:] != head.shape:
                _refuse(f"the {node.layer.op} of model {node.layer.call.model.name!r} (shaped otherwise than its layer's call)")
            continue
        if _is_op(node):
            values, parents, fresh = _ops.operands(node)
            ins = [slot(p, v) if p is not None else program.constant(v) for p, v in zip(parents, values)]
            slot_of[node] = program.call([_ops.step(fresh, len(ins), f"ops.{_ops.name_of(node.layer)}")], ins)
            continue
        ins = [slot(p, value) if p is not None else program.constant(value)
               for p, value in zip(node.parents, _inputs_of(node))]
        outputs = []
        for layer, parents, mode, weights, mask, state in _layer_calls(node):
            reads = [ins[-1 - p] if p < 0 else outputs[p] for p in parents]
            varying = any(program.varying[i] for i in reads)
            outputs.append(program.call(_steps(layer, weights, mode, mask, varying, state), reads))
        slot_of[node], outputs_of[node] = outputs[-1], outputs
    return program, slot_of[between[-1]], outer


def _source_ids(tape, flat):
    """{index in ``flat``: the nodes that value is (its recorded node, or a tape's leaf of it)}."""
    found = {}
    for k, s in enumerate(flat):
        nodes = set()
        if isinstance(s, Recorded) and s._node is not None:
            nodes.add(s._node)
        elif isinstance(s, np.ndarray):
            for t in [tape, *_tape_state.recording()]:
                entry = t._watched.get(id(s))
                if entry is not None and entry[0] is s:
                    nodes.add(entry[1])
        if nodes:
            found[k] = nodes
    return found


def nested_gradient(tape, target, start, flat, output_gradients, unconnected_gradients):
    """``tape.gradient(target, flat)`` while an outer tape records ``target``'s graph: the gradient
    with respect to the watched (or recorded) input, recorded on the tapes recording now."""
    if any(t in _tape_state.recording() for t in getattr(getattr(output_gradients, "_node", None), "tapes", ())):
        _refuse("output_gradients recorded by the outer tape (give it as constants)")
    sources = _source_ids(tape, flat)
    reach = tape._reach(start)
    # the weights of every call in the target's inner graph, not only of those on the way to a source
    chain_weights = {id(w) for node in reach if isinstance(node, _ModelCall) or
                     (isinstance(node, _LayerNode) and node.weights) for w in _weight_arrays(node)}
    for j, s in enumerate(flat):
        if j not in sources and id(s) in chain_weights:
            _refuse("a gradient with respect to a weight (the Jacobian of the weights' gradient)")
    target = np.asarray(_plain(target))
    seed = np.ones(target.shape, target.dtype) if output_gradients is None else \
        np.asarray(_plain(output_gradients), dtype=target.dtype)
    # each source walked to on its own: one may lie before another ([x, h] for B(A(x))) or be given
    # twice ([x, x]); a source the target's graph does not read gets None without a walk
    read = reach | {parent for node in reach for parent in node.parents}
    results = [None] * len(flat)
    for k, ids in sources.items():
        if ids & read:
            results[k] = _recorded_gradient(tape, start, ids, target, seed, flat[k])
    for j, s in enumerate(flat):
        if results[j] is None and unconnected_gradients == "zero":
            results[j] = np.zeros(np.asarray(s).shape, np.asarray(s).dtype)
    return results


def _recorded_gradient(tape, start, ids, target, seed, value):
    """d(seed . target)/d(the source whose nodes are ``ids``), recorded (None where the target does not depend on it)."""
    found = _graph(tape, start, ids)
    if found is None:
        return None
    tail, between, source = found
    dtype = np.asarray(value).dtype
    recording = tuple(_tape_state.recording())      # (the tapes around: _paused stops them below)
    with _paused():
        given = seed
        for node in tail:           # linear ops after the last call: their adjoint, the same for any input
            seed = np.asarray(node.layer.backward(seed))
        if not between:             # the source itself, or linear ops of it alone: a constant (TF's ones)
            return seed.astype(dtype, copy=False)
        program, out, outer = _program(between, ids, recording)
        y = program.values[out]
        _check_replay(between[-1], y, target, (given, seed) if tail else None)
        seed = seed.astype(y.dtype, copy=False)
        a = program.gradient(out, seed)
    if a is None:       # (the source reached the output through constants alone: refused above)
        return None
    return _wrap(a.astype(dtype, copy=False), _SecondOrder(source, between, program, out, seed, outer))


def _weight_arrays(call):
    """Every array a recorded call's weights go by (its model's views, its layers' own)."""
    layers = call.model.layers if isinstance(call, _ModelCall) else [call.layer]
    views = [param for _, _, param, _ in getattr(call.model, "_views", ())] if isinstance(call, _ModelCall) else []
    return views + [param for layer in layers for param in layer.params.values()]


def _check_replay(call, y, target, seeds=None):
    """The program's forward pass must give what the recorded call gave (else a layer here computes
    otherwise than its own: refused rather than differentiated wrongly). ``seeds``: (s, the tail's
    adjoint of s) where linear ops T follow the call: the target is T(output) then, so s . target
    must be (T's adjoint of s) . y (else a replay differing from the call went unseen after them)."""
    if seeds is None:
        shape = tuple(call.shape) if isinstance(call, _ModelCall) else tuple(np.shape(target))
        close = np.allclose(np.asarray(target), y, rtol=1e-3, atol=1e-5 * (1 + np.abs(y).max(initial=0)))
    else:
        shape = tuple(call.shape) if isinstance(call, _ModelCall) else y.shape
        given, seed = seeds
        replayed, recorded = float(np.sum(seed * y)), float(np.sum(given * np.asarray(target)))
        close = abs(replayed - recorded) <= 1e-3 * abs(recorded) + 1e-5 * (1 + float(np.sum(np.abs(seed * y))))
    if shape != y.shape or not close:
        _refuse(f"{call.what} (its layers' pass replayed here does not give its recorded output)")


class _SecondOrder(Node):
    """G = d(s . D(x))/dx, recorded: its backward takes v (x's shape) and gives d(v . G)/dx to x's
    node and d(v . G)/d(weights), from D's forward pass along v and that pass' reverse."""

    def __init__(self, parent, calls, program, out, seed, outer=()):
        super().__init__([parent] + [p for _, p in outer], "a nested tape's gradient")
        self.program, self.out, self.seed, self.outer = program, out, seed, list(outer)
        calls = [call for call in calls if _is_call(call)]
        self.weights_at = [w for call in calls for w in call.weights_at]     # (watch_accessed_variables=False reads it)
        self.views = {}         # {(id(layer), name): the array the outer tape knows the weight by}
        for call in calls:
            views = getattr(call.model, "_views", ()) if isinstance(call, _ModelCall) else \
                [(call.layer, key, value, None) for key, value in call.layer.params.items()]
            for layer, key, param, _ in views:
                if layer.trainable:
                    self.views[(id(layer), key)] = param

    def backward(self, g, zg, add_weight, wants):
        grads = {}
        a_of = self.program.second(self.out, self.seed, np.asarray(g, dtype=self.seed.dtype), grads)
        for (layer, key), grad in grads.items():
            param = self.views.get((id(layer), key))
            if param is not None:
                add_weight(param, grad)
        # None: the graph is affine in x (linear activations only), so G does not depend on x: no
        # gradient reaches x (TF's and torch's None)
        return [a_of.get(0)] + [a_of.get(slot) for slot, _ in self.outer]
