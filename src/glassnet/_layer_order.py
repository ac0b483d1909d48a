"""The order of a functional model's layers, hence of its weights: Keras 3.15's rule.

``model.layers``, ``model.weights``, ``get_weights()`` and ``set_weights()`` go layer by layer, and
the usual port of a Keras model is ``gn_model.set_weights(keras_model.get_weights())``: with any
other order, two layers whose weights have the same shapes silently swap them. So glassnet orders
a graph's layers as Keras 3.15 does (keras/src/ops/function.py, ``map_graph`` and ``_build_map``):

1. A depth-first walk from each output in turn, each call's inputs in the order it was called on
   them, numbers each operation (a layer, a nested model, an Input) when the walk first reaches
   one of its calls: the output layer gets 0. It also lists the calls, each after its inputs.
2. Going back over that list from the outputs, each call's depth is the largest of (its readers'
   depths + 1) and of the depth its operation already has (a shared layer: every call takes the
   deepest); an operation's depth is the largest of its calls'.
3. The operations, deepest first; among those of one depth, by their number from step 1.

A model nested in the graph (``base(x)``) is one operation, as in Keras; its weights are its own
``weights``, in its own order, so here its layers come together at its place, in its order (those
the graph reaches only: Keras lists a nested model's every weight, also those of layers making
an output the outer graph does not read, which glassnet leaves out; docs/keras_parity.md). A
layer listed twice that way (held by a nested model and called outside it too) keeps its first
place, as Keras' ``weights`` keeps each weight's first. Keras lists the Inputs too (InputLayer,
no weights); ``model.layers`` does not, but ``input_places`` says where they fall (for summary).

A subclass of Model (drawn from its ``call``) lists its layers as Keras does: in the order its
``__init__`` assigned them as attributes (Keras tracks each layer when it is assigned), lists and
dicts of layers in their own order, a model held there standing for its layers in its order.

>>> import glassnet as gn
>>> a, b = gn.Input((4,)), gn.Input((4,))
>>> d1, d2, d3 = gn.layers.Dense(3, name="d1"), gn.layers.Dense(3, name="d2"), gn.layers.Dense(4, name="d3")
>>> y, w = d1(b), d1(d3(d2(a)))                       # d1 is shared: its deeper call decides
>>> [layer.name for layer in gn.Model([a, b], gn.layers.Add(name="add")([y, w])).layers]
['d2', 'd3', 'd1', 'add']
"""
from ._summary import Nested
from .layers.input import InputLayer
from .layers.readers import CallReader


class _Graph:
    """Keras' nodes (one per call) and operations over glassnet's symbolic tensors.

    A tensor is a call of its layer, but: a ``CallReader``'s (a recurrent layer's last state, an
    attention layer's scores) is the call it reads, which in Keras made that tensor too; and the
    tensors one call of a nested model made (``nested_in``: the same record) are one call, of the
    model, on what it was called on (``called_on``)."""

    def __init__(self, flat=False):
        # flat: each nested model's calls as the layers' own, as a file that flattens them draws them
        self.flat = flat
        self.sources = {}        # id(node) -> what the call read (tensors), in its order
        self.op_of = {}          # id(node) -> the operation: a layer, an InputLayer, a nested model's key
        self.keep = {}           # id -> the object (keeps the ids alive and unique while we work)
        self._parents = {}

    def node(self, tensor):
        """The node (its id) of ``tensor``: the InputLayer itself, the nested model's record, or
        the call."""
        nested = None if self.flat else getattr(tensor, "nested_in", None)
        while nested is None and not isinstance(tensor, InputLayer) and isinstance(tensor.layer, CallReader):
            tensor = tensor.inputs[0]           # the call it reads made this tensor in Keras
            nested = None if self.flat else getattr(tensor, "nested_in", None)
        node = nested if nested is not None else tensor
        if id(node) not in self.op_of:
            if isinstance(tensor, InputLayer):
                op, sources = tensor, ()
            elif nested is not None:
                op, sources = nested.key, nested.called_on
            else:       # (a call given tensors by keyword: the order Keras' call reads them in)
                order = tensor.options.get("keras_order")
                op, sources = tensor.layer, tensor.inputs if order is None else [tensor.inputs[i] for i in order]
            self.keep[id(node)], self.keep[id(op)] = node, op
            self.op_of[id(node)], self.sources[id(node)] = op, sources
        return id(node)

    def parents(self, node):
        """The nodes the call ``node`` read, in its order (Keras' ``node.parent_nodes``)."""
        if node not in self._parents:
            self._parents[node] = [self.node(source) for source in self.sources[node]]
        return self._parents[node]


def _walk(graph, outputs):
    """Keras' ``_build_map``: ``(calls, numbers)``, the calls (node ids) each after the calls it
    reads, and each operation's number, given when the walk first reached it (``id(op) -> n``).
    Iterative (Keras recurses), so that deep graphs need no recursion."""
    finished, calls, numbers = set(), [], {}

    def enter(node):
        numbers.setdefault(id(graph.op_of[node]), len(numbers))
        return node, iter(graph.parents(node))

    for output in outputs:
        root = graph.node(output)
        if root in finished:
            continue
        stack = [enter(root)]
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                if parent not in finished:          # (a graph of tensors has no cycles)
                    stack.append(enter(parent))
                    break
            else:
                stack.pop()
                finished.add(node)
                calls.append(node)
    return calls, numbers


def keras_operations(inputs, outputs, flat=False):
    """The operations of the graph from ``inputs`` (InputLayers) to ``outputs`` (symbolic tensors)
    in Keras 3.15's order (``map_graph``: see the module docstring): each a layer, an InputLayer,
    or the ``Nested`` record of a model called in the graph (its first call's); ``flat``: that
    model's layers instead, as in the graph of a file that flattens it."""
    graph = _Graph(flat)
    calls, numbers = _walk(graph, outputs)
    in_graph = set(calls)
    depth_of_call, depth_of_op = {}, {}
    for node in reversed(calls):            # from the outputs back
        op = id(graph.op_of[node])
        # a shared operation takes its deepest call's depth, and passes it on to what this call reads
        depth = max(depth_of_call.setdefault(node, 0), depth_of_op.get(op, 0))
        depth_of_op[op] = depth_of_call[node] = depth
        for parent in graph.parents(node):
            if parent in in_graph:
                depth_of_call[parent] = max(depth + 1, depth_of_call.get(parent, 0))
    for given in inputs:                    # an Input nothing reads: Keras lists it, at depth 0
        if id(given) not in depth_of_op:
            graph.keep[id(given)] = given
            depth_of_op[id(given)], numbers[id(given)] = 0, -1
    # deepest first; within a depth by number (a stable sort, as Keras': unread Inputs keep their order)
    ordered = sorted(depth_of_op, key=lambda op: (-depth_of_op[op], numbers[op]))
    # a nested model's operation is its key: shown by the record of its first call (its layers)
    records = {}
    for node in calls:
        record = graph.keep[node]
        if isinstance(record, Nested):
            records.setdefault(id(graph.op_of[node]), record)
    return [records.get(op, graph.keep[op]) for op in ordered]


def keras_layer_order(inputs, outputs, layers, first=(), flat=False):
    """``layers`` (each layer of the graph once) in Keras' order, and where the Inputs fall.

    ``first``: layers that come first, in that order (a subclass' attributes: ``attribute_layers``),
    then the others in the graph's order. A nested model stands for its layers, in its order (``flat``:
    its layers take their places in the graph as if called here); a ``CallReader`` (no weights, no Keras layer) comes just after the layer it reads.

    Returns ``(ordered layers, input_places)``: ``input_places[j]`` is ``(n, rank)``, ``n`` how
    many of the ordered layers come before ``inputs[j]`` in Keras' ``model.layers`` (which lists
    the InputLayers), ``rank`` its place there, which orders Inputs of the same ``n``."""
    wanted = {id(layer) for layer in layers}
    ordered, placed = [], set()
    places = {}

    def place(layer):
        if id(layer) in wanted and id(layer) not in placed and not isinstance(layer, CallReader):
            placed.add(id(layer))
            ordered.append(layer)

    for layer in first:
        place(layer)
    for rank, op in enumerate(keras_operations(inputs, outputs, flat)):
        if isinstance(op, InputLayer):
            places[id(op)] = (len(ordered), rank)
        elif isinstance(op, Nested):            # a nested model: its layers, in its order
            for layer in op.layers:
                place(layer)
        else:
            place(op)
    # each reader after the layer it reads (its weights' neighbours are unchanged: it has none)
    readers = [layer for layer in layers if id(layer) not in placed]
    for reader in readers:
        at = next((k + 1 for k, layer in enumerate(ordered) if layer is getattr(reader, "source", None)), len(ordered))
        while at < len(ordered) and isinstance(ordered[at], CallReader):
            at += 1
        ordered.insert(at, reader)
        placed.add(id(reader))
        places = {key: (p + (p >= at), rank) for key, (p, rank) in places.items()}
    return ordered, [places.get(id(given), (0, -1)) for given in inputs]


def flat_layer_order(model):
    """``model.layers`` in the order Keras gives the layers of ``model``'s graph with its nested
    models flattened into it, as glassnet's ``.keras`` writer writes a functional model: Keras
    names the weights' groups (``layers/dense_1``) and orders the optimizer's slots by that order,
    which differs from the nested models' own where the outputs take their outputs in another
    order (``t = two(x); Model(x, [t[1], t[0]])``)."""
    if not getattr(model, "_nesting", None):
        return list(model.layers)
    return keras_layer_order(model.inputs, model.outputs, model.layers, flat=True)[0]


def attribute_layers(model, skip=frozenset()):
    """The layers ``model`` holds as attributes, in the order they were assigned (Keras' tracking):
    lists, tuples and dicts in their own order, a model held standing for its layers, each layer
    once, at its first place. ``skip``: attribute names that are not the user's (glassnet's own)."""
    from .model import Sequential
    found, seen = [], set()

    def walk(value):
        if isinstance(value, (list, tuple, dict)):
            if id(value) in seen:           # (a list holding itself)
                return
            seen.add(id(value))
            for item in (value.values() if isinstance(value, dict) else value):
                walk(item)
        elif isinstance(value, Sequential):
            if id(value) in seen:
                return
            seen.add(id(value))
            held = value.layers or getattr(value, "_nested_layers", ()) or attribute_layers(value, glassnet_attribute_names(value))
            for layer in held:
                walk(layer)
        elif hasattr(value, "describe") and hasattr(value, "params") and not isinstance(value, InputLayer):
            if id(value) not in seen:
                seen.add(id(value))
                found.append(value)

    # the weights its add_weight made (glassnet._call_weights): Keras lists a layer's own first
    own = vars(model).get("_call_weights")
    if own is not None:
        walk(own)
    for name, value in list(vars(model).items()):
        if name not in skip:
            walk(value)
    return found


def glassnet_attribute_names(model):
    """The attribute names of ``model`` that glassnet set (``attribute_layers``' ``skip``)."""
    from .graph import Model
    own = model.__dict__.get("_glassnet_attributes", frozenset())
    return frozenset(name for name in vars(model) if name in own or hasattr(Model, name))


def held_first(model, layers):
    """``layers`` (those a subclass' ``call`` called) in Keras' order for a subclass: those it holds
    as attributes in the order assigned, then any other in the given order."""
    ids = {id(layer) for layer in layers}
    held = [layer for layer in attribute_layers(model, glassnet_attribute_names(model)) if id(layer) in ids]
    taken = {id(layer) for layer in held}
    return held + [layer for layer in layers if id(layer) not in taken]
