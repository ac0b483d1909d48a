"""Keras' ``keras.utils.model_to_dot`` and ``plot_model``, without pydot or graphviz.

A model's graph, as Keras draws it: one box per layer (with a functional Model, one per Input too),
an arrow from each layer to each layer reading its output. A model nested in another
(``Sequential([base, Dense(1)])``, ``base(inputs)``) is one box, or with ``expand_nested=True`` a
dashed frame around its own boxes.

``model_to_dot`` gives the Graphviz DOT source as text: the nodes, labels and edges Keras 3.15's
``model_to_dot`` makes (Keras returns a ``pydot.Dot`` of them). Render it with Graphviz
(``dot -Tpng model.dot -o model.png``) or paste it into any DOT viewer. ``plot_model`` draws the
same graph with matplotlib (the ``plot`` extra), layer by layer: each box one row below (or, with
``rankdir="LR"``, one column right of) the lowest box it reads.

>>> import glassnet as gn
>>> model = gn.Sequential([gn.layers.Dense(4, input_dim=2, name="hidden"), gn.layers.Dense(1, name="out")])
>>> print(gn.utils.model_to_dot(model).splitlines()[-2])
"hidden" -> "out" [penwidth=2];
"""
from ._validation import check_choice, check_flag


class Box:
    """One box of the graph: ``name``, ``kind`` (the layer's class, "InputLayer", or a nested
    model's "Sequential"/"Functional"/its class), ``input_shape`` and ``output_shape`` (text, as
    Keras prints them; None: an Input's input), ``dtype``, ``activation`` (a name or None),
    ``trainable`` (None: no weights), ``frame``, the names of the nested models it is drawn in
    (outermost first; only with ``expand_nested``) and ``model``, whether it is a nested model's."""
    __slots__ = ("name", "kind", "input_shape", "output_shape", "dtype", "activation", "trainable", "frame", "model")

    def __init__(self, name, kind, input_shape, output_shape, dtype, activation=None, trainable=None, frame=(),
                 model=False):
        self.name, self.kind, self.input_shape, self.output_shape = name, kind, input_shape, output_shape
        self.dtype, self.activation, self.trainable, self.frame = dtype, activation, trainable, tuple(frame)
        self.model = model


def _shape_text(shapes):
    """Keras' text of a layer's input or output shapes: ``(None, 4)`` for one, a list for several."""
    shapes = [(None, *shape) for shape in shapes]
    return str(shapes[0]) if len(shapes) == 1 else str(shapes)


def _activation_name(layer):
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    return getattr(activation, "name", None) or getattr(activation, "__name__", None) or str(activation)


def _weighted_trainable(layers):
    """None when ``layers`` hold no weights; else whether any of those with weights trains."""
    weighted = [layer for layer in layers if getattr(layer, "built", True) and layer.count_params()]
    return None if not weighted else any(layer.trainable for layer in weighted)


def graph_of(model, expand_nested=False):
    """``(boxes, edges)``: the ``Box`` of each node, in order (a functional model's Inputs first,
    then the layers, each at its first call, or the model nested there), and the arrows between
    them, ``(source index, destination index)``, each once, in the order of the calls they feed.

    The model's graph of calls (``_node_layers``, ``_inbound``: see glassnet.callgraph) says
    everything: call k of layer ``_node_layers[k]`` reads the calls ``_inbound[k]`` (-1 - j: the
    model's input j). A Sequential's input has no box, as in Keras."""
    from ._summary import Nested
    calls, inbound = model._node_layers, model._inbound
    shapes = model._shapes_through(model._sample_input_shape)       # each call's output sample shape
    functional = getattr(model, "_graph", None) is not None
    dtype = model.dtype.name
    boxes, box_of_call = [], [None] * len(calls)
    input_boxes = []
    if functional:
        # each Input as declared (an Input of strings: (1,), not the width its lookup makes of it)
        for given, shape in zip(model.inputs, model._declared_input_shapes()):
            input_boxes.append(len(boxes))
            boxes.append(Box(given.name, "InputLayer", None, _shape_text([shape]),
                             given._given_dtype or dtype))
    model_input_shapes = [tuple(s) for s in model._source_shapes(model._sample_input_shape)]

    def source_shape(p):
        return model_input_shapes[-1 - p] if p < 0 else shapes[p]

    def add_layer(layer, frame):
        first = next(k for k, call in enumerate(calls) if call is layer)
        boxes.append(Box(layer.name, type(layer).__name__, _shape_text([source_shape(p) for p in inbound[first]]),
                         _shape_text([shapes[first]]), dtype, _activation_name(layer),
                         _weighted_trainable([layer]), frame))
        for k, call in enumerate(calls):
            if call is layer:
                box_of_call[k] = len(boxes) - 1

    def add_nested(nested, frame):
        """A nested model: one box for all its calls, or (``expand_nested``) its own boxes, framed."""
        if expand_nested:
            add_entries(nested.layers, nested.children, (*frame, nested.name))
            return
        mine = [k for k, call in enumerate(calls) if any(call is layer for layer in nested.layers)]
        inside = set(mine)
        sources = list(dict.fromkeys(p for k in mine for p in inbound[k] if p not in inside))
        # its outputs: its output layers' first calls (a model popped down to none: its last call)
        ends = [min(k for k in mine if calls[k] is layer) for layer in nested.outputs or ()
                if any(calls[k] is layer for k in mine)] or mine[-1:]
        keys = getattr(nested, "output_keys", None)     # (a record unpickled from an older glassnet: none)
        # outputs given as a dict: Keras writes "key: shape, ..." (the keys of popped outputs: the list)
        outputs = (", ".join(f"{key}: {_shape_text([shapes[k]])}" for key, k in zip(keys, ends))
                   if keys is not None and len(keys) == len(ends) else _shape_text([shapes[k] for k in ends]))
        boxes.append(Box(nested.name, nested.kind, _shape_text([source_shape(p) for p in sources]),
                         outputs, dtype, None,
                         _weighted_trainable(nested.layers), frame, model=True))
        for k in mine:
            box_of_call[k] = len(boxes) - 1

    def add_entries(layers, children, frame):
        """The boxes of ``layers`` in order, those of each nested model in ``children`` at its first
        layer (as ``summary`` lists them: describing.DescribingMixin._summary_entries)."""
        group_of, done = {}, set()
        for child in children:
            for layer in child.layers:
                group_of.setdefault(id(layer), child)
        for layer in layers:
            child = group_of.get(id(layer))
            if child is None:
                add_layer(layer, frame)
            elif id(child) not in done:
                done.add(id(child))
                add_nested(child, frame)

    for _, entry in model._summary_entries():       # the top entries: a layer, or a nested model
        if isinstance(entry, Nested):
            add_nested(entry, ())
        else:
            add_layer(entry, ())

    edges = {}
    for k, parents in enumerate(inbound):
        for p in parents:
            if p < 0:
                if not functional:
                    continue            # a Sequential's input: no box
                source = input_boxes[-1 - p]
            else:
                source = box_of_call[p]
            target = box_of_call[k]
            # a nested model's arrows between its own layers are inside its one box; a layer called
            # on its own output keeps its loop, as in Keras
            if source == target and calls[p] is not calls[k]:
                continue
            edges.setdefault((source, target), None)
    return boxes, list(edges)


# -- the DOT text ---------------------------------------------------------------------------------
def _quote(text):
    """A DOT identifier: ``text`` in double quotes, its quotes and backslashes escaped."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


# HTML's three, and the three that the label of a node of shape=record (Keras' node default, kept)
# splits fields on: Graphviz refuses a label holding a raw "{", "}" or "|" ("bad label format")
_HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "{": "&#123;", "}": "&#125;",
                               "|": "&#124;"})


def _html(text):
    """``text`` for a Graphviz HTML label: shown as written, whatever characters a name holds."""
    return str(text).translate(_HTML_ESCAPES)


def _cell(text, colour="white", font_colour=None):
    font = f' color="{font_colour}"' if font_colour else ""
    return f'<td bgcolor="{colour}"><font point-size="14"{font}>{text}</font></td>'


def html_label(box, show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable):
    """The box's label as Keras 3.15's ``make_layer_label`` writes it: a Graphviz HTML table, the
    name and class on a black band, then the activation, then the shapes, dtype and trainable
    flag side by side."""
    colspan = max(1, int(show_dtype) + int(show_trainable) + 2 * int(show_shapes))
    title = f"<b>{_html(box.name)}</b> ({_html(box.kind)})" if show_layer_names else f"<b>{_html(box.kind)}</b>"
    rows = [f'<tr><td colspan="{colspan}" bgcolor="black"><font point-size="16" color="white">{title}</font></td></tr>']
    if show_layer_activations and box.activation is not None:
        rows.append(f'<tr><td bgcolor="white" colspan="{colspan}"><font point-size="14">'
                    f'Activation: <b>{_html(box.activation)}</b></font></td></tr>')
    cells = []
    if show_shapes:
        if box.input_shape is not None:
            cells.append(_cell(f"Input shape: <b>{box.input_shape}</b>"))
        cells.append(_cell(f"Output shape: <b>{box.output_shape}</b>"))
    if show_dtype:
        cells.append(_cell(f"Output dtype: <b>{box.dtype}</b>"))
    if show_trainable and box.trainable is not None:
        cells.append(_cell("<b>Trainable</b>", "forestgreen", "white") if box.trainable
                     else _cell("<b>Non-trainable</b>", "firebrick", "white"))
    if cells:
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return '<<table border="0" cellborder="1" bgcolor="black" cellpadding="10">' + "".join(rows) + "</table>>"


def node_ids(boxes):
    """Each box's DOT id: its name, made unique (an Input and a layer may share one) by ``_2``..."""
    ids, taken = [], set()
    for box in boxes:
        name, n = box.name, 1
        while name in taken:
            n += 1
            name = f"{box.name}_{n}"
        taken.add(name)
        ids.append(name)
    return ids


def dot_source(model, boxes, edges, options, rankdir, dpi, subgraph):
    """The DOT text of ``boxes`` and ``edges`` (see ``model_to_dot``); ``options``: the five
    ``show_...`` flags of ``html_label``."""
    ids = node_ids(boxes)
    if subgraph:        # Keras' pydot.Cluster: the model as a dashed frame, to go in another graph
        lines = [f"subgraph {_quote('cluster_' + model.name)} {{", "style=dashed;",
                 f"label={_quote(model.name)};", "labeljust=l;"]
    else:
        lines = ["digraph G {", f"rankdir={rankdir};", "concentrate=true;", f"dpi={dpi};", "splines=ortho;",
                 "node [shape=record];"]
    open_frames = []
    for box, node in zip(boxes, ids):
        # close the frames this box is not in, then open those it is in (they nest: Keras' clusters)
        while open_frames and tuple(open_frames) != box.frame[:len(open_frames)]:
            open_frames.pop()
            lines.append("}")
        for name in box.frame[len(open_frames):]:
            open_frames.append(name)
            lines += [f"subgraph {_quote('cluster_' + name)} {{", "style=dashed;", f"label={_quote(name)};",
                      "labeljust=l;"]
        lines.append(f"{_quote(node)} [label={html_label(box, **options)}, fontname=Helvetica, border=0, margin=0];")
    lines += ["}"] * len(open_frames)
    lines += [f"{_quote(ids[a])} -> {_quote(ids[b])} [penwidth=2];" for a, b in edges]
    return "\n".join(lines + ["}"]) + "\n"


# -- the public functions (glassnet.utils) --------------------------------------------------------
def check_arguments(caller, model, rankdir, dpi, flags):
    """The arguments shared by ``model_to_dot`` and ``plot_model``, checked by name."""
    from .model import Sequential
    if not isinstance(model, Sequential):
        raise TypeError(f"{caller}: model must be a glassnet Sequential or Model, got {type(model).__name__}")
    flags = {name: check_flag(value, f"{caller}: {name}") for name, value in flags.items()}
    check_choice(rankdir, f"{caller}: rankdir", ("TB", "LR"), expected="'TB' (top to bottom) or 'LR' (left to right)")
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not 0 < dpi < float("inf"):
        raise ValueError(f"{caller}: dpi must be a positive number (dots per inch), got {dpi!r:.40}")
    if not model.built:
        raise ValueError(f"{caller}: the model is not built yet, so its graph is not known; build it first "
                         f"(give the first layer input_shape, call model.build(input_shape), or call the model "
                         f"on a batch of data: fit/predict/model(x))")
    return flags


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True, rankdir="TB",
                 expand_nested=False, dpi=200, subgraph=False, show_layer_activations=False, show_trainable=False):
    """The model's graph as Graphviz DOT source, a ``str`` (Keras' ``keras.utils.model_to_dot``,
    which returns a ``pydot.Dot`` of the same nodes and edges).

    One node per layer (and per Input of a functional Model; a Sequential's input has none), its
    label Keras' table: ``name (Class)`` (the class alone with ``show_layer_names=False``), with
    ``show_layer_activations`` the activation (layers that have one), with ``show_shapes`` the
    "Input shape" and "Output shape" (``(None, 4)``; a list for a layer of several inputs), with
    ``show_dtype`` the "Output dtype", with ``show_trainable`` "Trainable"/"Non-trainable" (layers
    with weights). An edge from each layer to each layer reading it, once (a layer called twice
    keeps one node: the edges of all its calls meet there). A model nested in this one is one
    node, its class "Sequential", "Functional" or its own; with ``expand_nested=True`` its layers
    are drawn in a dashed cluster named after it (a nested functional model's Input is not drawn:
    glassnet joins the nested model's layers to this one's graph, and the edges from outside go
    to the layers that read them). ``rankdir``: "TB" top to bottom or "LR" left to right;
    ``dpi``: the resolution Graphviz renders at; ``subgraph=True``: the model as a ``subgraph
    cluster_<name> {...}`` to paste into another graph.

    Render it with Graphviz, ``dot -Tpng model.dot -o model.png``, or paste it into any DOT
    viewer; ``plot_model`` draws it without Graphviz.

    A subclass of Model is drawn as the graph its ``call`` made (Keras draws one node for it).
    Refused: a model that is not built yet (its graph is not known: build it or call it first).

    >>> import glassnet as gn
    >>> inputs = gn.Input((3,), name="x")
    >>> model = gn.Model(inputs, gn.layers.Dense(1, name="y")(inputs))
    >>> text = gn.utils.model_to_dot(model, show_shapes=True)
    >>> [line for line in text.splitlines() if "->" in line]
    ['"x" -> "y" [penwidth=2];']
    """
    options = check_arguments("model_to_dot", model, rankdir, dpi, dict(
        show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
        show_layer_activations=show_layer_activations, show_trainable=show_trainable,
        expand_nested=expand_nested, subgraph=subgraph))
    expand_nested, subgraph = options.pop("expand_nested"), options.pop("subgraph")
    boxes, edges = graph_of(model, expand_nested)
    return dot_source(model, boxes, edges, options, rankdir, dpi, subgraph)
