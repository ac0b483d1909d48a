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
import os
import sys

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
    weighted = [layer for layer in layers if layer.count_params()]
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
    shapes = model._shapes_through(model.input_shape)       # each call's output sample shape
    functional = getattr(model, "_graph", None) is not None
    dtype = model.dtype.name
    boxes, box_of_call = [], [None] * len(calls)
    input_boxes = []
    if functional:
        for given, shape in zip(model.inputs, model.input_shapes):
            input_boxes.append(len(boxes))
            boxes.append(Box(given.name, "InputLayer", None, _shape_text([shape]), given.dtype or dtype))
    model_input_shapes = [tuple(s) for s in model._source_shapes(model.input_shape)]

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
            _add_entries(nested.layers, nested.children, (*frame, nested.name))
            return
        mine = [k for k, call in enumerate(calls) if any(call is layer for layer in nested.layers)]
        inside = set(mine)
        sources = list(dict.fromkeys(p for k in mine for p in inbound[k] if p not in inside))
        # its outputs: its output layers' first calls (a model popped down to none: its last call)
        ends = [min(k for k in mine if calls[k] is layer) for layer in nested.outputs or ()
                if any(calls[k] is layer for k in mine)] or mine[-1:]
        boxes.append(Box(nested.name, nested.kind, _shape_text([source_shape(p) for p in sources]),
                         _shape_text([shapes[k] for k in ends]), dtype, None,
                         _weighted_trainable(nested.layers), frame, model=True))
        for k in mine:
            box_of_call[k] = len(boxes) - 1

    def _add_entries(layers, children, frame):
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


def _html(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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


# -- the layout and the drawing -------------------------------------------------------------------
def depths(count, edges):
    """Each box's layer in the drawing: 0 for a box nothing leads to, else one more than the
    deepest box with an arrow into it. A loop (a layer called on its own output, or a shared
    layer read again further down) is cut where it closes: the box taken next is the first, in
    box order, whose sources are all placed, or, when a loop leaves none, the first left."""
    incoming = [set() for _ in range(count)]
    for a, b in edges:
        if a != b:
            incoming[b].add(a)
    depth, left = {}, list(range(count))
    while left:
        node = next((k for k in left if incoming[k] <= depth.keys()), left[0])
        depth[node] = 1 + max((depth[a] for a in incoming[node] if a in depth), default=-1)
        left.remove(node)
    return [depth[k] for k in range(count)]


def text_lines(box, show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable):
    """The lines of text in the box's drawing: what its DOT label says (``html_label``), a line each."""
    lines = [f"{box.name} ({box.kind})" if show_layer_names else box.kind]
    if show_layer_activations and box.activation is not None:
        lines.append(f"Activation: {box.activation}")
    if show_shapes:
        if box.input_shape is not None:
            lines.append(f"Input shape: {box.input_shape}")
        lines.append(f"Output shape: {box.output_shape}")
    if show_dtype:
        lines.append(f"Output dtype: {box.dtype}")
    if show_trainable and box.trainable is not None:
        lines.append("Trainable" if box.trainable else "Non-trainable")
    return lines


# sizes in inches (the drawing's units): 9-point monospaced text is 0.075 in a character
_CHAR, _LINE, _PAD = 0.075, 0.18, 0.12
_GAP_ALONG, _GAP_ACROSS, _FRAME = 0.45, 0.3, 0.12      # between layers, between boxes of a layer, frame margin
_SLOT = 0.1             # the width of an arrow's way through a layer it skips


def layout(lines, edges, rankdir, frames=()):
    """Where each box goes and where each arrow passes: ``(positions, routes)``.

    ``positions[k]``: ``(x, y, width, height)`` of box k's centre and size, in inches, y growing
    downwards. Boxes of the same depth (``depths``) share a row (``rankdir="TB"``) or a column
    ("LR"), the layers one after the other. An arrow skipping layers takes a narrow slot of its
    own in each (Graphviz's "virtual nodes"), so that no box stands in its way: ``routes[i]``, the
    points arrow ``edges[i]`` passes through on its way (none for an arrow to the next layer, or
    back up). In a layer, boxes and slots are ordered by the mean position of what leads to
    them (fewer crossings), box order otherwise. ``frames``: each box's number of nested-model
    frames, which need room between the layers."""
    sizes = [(2 * _PAD + _CHAR * max(len(text) for text in box), 2 * _PAD + _LINE * len(box)) for box in lines]
    across = 0 if rankdir == "TB" else 1          # the axis along which a layer's boxes are laid out
    level = depths(len(lines), edges)
    incoming = [[] for _ in lines]      # what leads to each box or slot, from the layer before it
    chains = []                         # each arrow's slots, one per layer it skips
    for a, b in edges:
        chain = []
        if level[b] > level[a]:
            for d in range(level[a] + 1, level[b]):
                chain.append(len(level))
                level.append(d)
                sizes.append((_SLOT, _SLOT))
                incoming.append([chain[-2] if len(chain) > 1 else a])
            incoming[b].append(chain[-1] if chain else a)
        chains.append(chain)
    gap = _GAP_ALONG + 2 * (_FRAME + _LINE) * max(frames, default=0)
    positions, bands, start = [None] * len(level), [], 0.0
    for d in range(max(level, default=-1) + 1):
        members = [k for k in range(len(level)) if level[k] == d]

        def pull(k):        # the mean position, across, of what leads to k (placed: a layer before)
            placed = [positions[a][across] for a in incoming[k]]
            return sum(placed) / len(placed) if placed else 0.0
        members.sort(key=pull)          # (stable: box order where the pulls are equal, slots after boxes)
        thickness = max(sizes[k][1 - across] for k in members)
        total = sum(sizes[k][across] for k in members) + _GAP_ACROSS * (len(members) - 1)
        offset = -total / 2
        for k in members:
            centre_across, centre_along = offset + sizes[k][across] / 2, start + thickness / 2
            offset += sizes[k][across] + _GAP_ACROSS
            xy = (centre_across, centre_along) if rankdir == "TB" else (centre_along, centre_across)
            positions[k] = (*xy, *sizes[k])
        bands.append((start, start + thickness))
        start += thickness + gap
    # an arrow crosses the band of each layer it skips straight, in its slot
    routes = []
    for chain in chains:
        points = []
        for k in chain:
            for along in bands[level[k]]:
                points.append((positions[k][0], along) if rankdir == "TB" else (along, positions[k][1]))
        routes.append(points)
    return positions[:len(lines)], routes


def frame_rectangles(boxes, positions):
    """``[(name, (left, top, right, bottom))]``: the dashed frame of each nested model drawn
    expanded, around its boxes, a frame holding others wider than they are, room for its name
    at the top."""
    paths = list(dict.fromkeys(box.frame[:n] for box in boxes for n in range(1, len(box.frame) + 1)))
    rectangles = []
    for path in paths:
        members = [k for k, box in enumerate(boxes) if box.frame[:len(path)] == path]
        inner = max(len(boxes[k].frame) for k in members) - len(path)
        margin = _FRAME * (1 + inner)
        left = min(positions[k][0] - positions[k][2] / 2 for k in members) - margin
        right = max(positions[k][0] + positions[k][2] / 2 for k in members) + margin
        top = min(positions[k][1] - positions[k][3] / 2 for k in members) - margin - _LINE * (1 + inner)
        bottom = max(positions[k][1] + positions[k][3] / 2 for k in members) + margin
        rectangles.append((path[-1], (left, top, right, bottom)))
    return rectangles


def _arrow_ends(a, b, positions, level, rankdir):
    """Where the arrow from box ``a`` to box ``b`` starts and ends, and how much it bends: straight
    from the side of ``a`` facing the next layer to the facing side of ``b``; an arrow to a box
    of the same or an earlier layer (a loop) bends out from the sides."""
    (xa, ya, wa, ha), (xb, yb, wb, hb) = positions[a], positions[b]
    if rankdir == "TB":
        if level[b] > level[a]:
            return (xa, ya + ha / 2), (xb, yb - hb / 2), 0.0
        if a == b:
            return (xa + wa / 2, ya - ha / 4), (xa + wa / 2, ya + ha / 4), -1.2
        return (xa + wa / 2, ya), (xb + wb / 2, yb), -0.5
    if level[b] > level[a]:
        return (xa + wa / 2, ya), (xb - wb / 2, yb), 0.0
    if a == b:
        return (xa - wa / 4, ya + ha / 2), (xa + wa / 4, ya + ha / 2), -1.2
    return (xa, ya + ha / 2), (xb, yb + hb / 2), 0.5


def draw(boxes, edges, lines, rankdir, dpi):
    """The matplotlib ``Figure`` of the graph (see ``layout``), one inch of drawing to one inch of
    figure, at ``dpi`` dots per inch."""
    from .plot import _EXTRA
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
        from matplotlib.path import Path
    except ImportError as exc:
        raise ImportError(f"glassnet.utils.plot_model() needs matplotlib: {_EXTRA}") from exc
    positions, routes = layout(lines, edges, rankdir, [len(box.frame) for box in boxes])
    level = depths(len(boxes), edges)
    frames = frame_rectangles(boxes, positions)
    corners = [(x - w / 2, y - h / 2, x + w / 2, y + h / 2) for x, y, w, h in positions] + [r for _, r in frames]
    left, top = min(c[0] for c in corners) - 0.3, min(c[1] for c in corners) - 0.3
    right, bottom = max(c[2] for c in corners) + 0.3, max(c[3] for c in corners) + 0.3
    fig = Figure(figsize=(right - left, bottom - top), dpi=dpi)
    FigureCanvasAgg(fig)                # renders off-screen (glassnet.plot's way: no pyplot)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)            # y grows downwards, as the layout's
    ax.set_axis_off()
    for name, (x0, y0, x1, y1) in frames:
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ls="--", lw=1, ec="#555555"))
        ax.text(x0 + 0.08, y0 + 0.06, name, ha="left", va="top", fontsize=9, family="monospace", color="#555555")
    for box, text, (x, y, w, h) in zip(boxes, lines, positions):
        # an Input blue, a nested model (or a layer of one, framed) orange, a layer grey
        colour = "#dbe9f6" if box.kind == "InputLayer" else "#fde9c9" if box.frame or box.model else "#eeeeee"
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.05",
                                    fc=colour, ec="black", lw=1.2))
        for i, line in enumerate(text):
            ax.text(x, y - h / 2 + _PAD + _LINE * (i + 0.5), line, ha="center", va="center", fontsize=9,
                    family="monospace", weight="bold" if i == 0 else "normal",
                    color={"Trainable": "forestgreen", "Non-trainable": "firebrick"}.get(line, "black"))
    style = dict(arrowstyle="-|>", mutation_scale=12, lw=1.3, color="#333333", shrinkA=0, shrinkB=0)
    for (a, b), route in zip(edges, routes):
        start, end, bend = _arrow_ends(a, b, positions, level, rankdir)
        if route:           # through its slots in the layers it skips
            ax.add_patch(FancyArrowPatch(path=Path([start, *route, end]), **style))
        else:
            ax.add_patch(FancyArrowPatch(start, end, connectionstyle=f"arc3,rad={bend}", **style))
    return fig


# -- the public functions (glassnet.utils) --------------------------------------------------------
def _checked(caller, model, rankdir, dpi, flags):
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
    options = _checked("model_to_dot", model, rankdir, dpi, dict(
        show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
        show_layer_activations=show_layer_activations, show_trainable=show_trainable,
        expand_nested=expand_nested, subgraph=subgraph))
    expand_nested, subgraph = options.pop("expand_nested"), options.pop("subgraph")
    boxes, edges = graph_of(model, expand_nested)
    return dot_source(model, boxes, edges, options, rankdir, dpi, subgraph)


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False, show_layer_names=False,
               rankdir="TB", expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False):
    """Draw the model's graph into ``to_file`` (Keras' ``keras.utils.plot_model``), with matplotlib
    (the ``plot`` extra), no pydot or Graphviz needed.

    The boxes and arrows are ``model_to_dot``'s (see it for the options; ``show_layer_names`` is
    False by default here, as in Keras: the boxes then say the class alone), laid out in layers:
    a box one row below (``rankdir="LR"``: one column right of) the deepest box with an arrow into
    it, so the data flows down (right). An arrow back up (a shared layer read again further
    down, a layer called on its own output) bends out to the side. Nested models expanded
    (``expand_nested=True``) are framed with dashes.

    to_file : str or os.PathLike; the format follows the suffix (.png, .svg, .pdf, ...: what
        matplotlib writes; none: PNG). ``.dot`` or ``.gv`` writes ``model_to_dot``'s text instead,
        for Graphviz. Written atomically: a reader never sees half a file.
    dpi : the image's dots per inch (each box is about 1 inch tall per 5 lines of text)

    Returns ``to_file`` as a str; in IPython or Jupyter (IPython already imported), an
    ``IPython.display.Image`` of a PNG or JPEG written, which the notebook shows, as Keras returns.
    """
    from . import plot
    options = _checked("plot_model", model, rankdir, dpi, dict(
        show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
        show_layer_activations=show_layer_activations, show_trainable=show_trainable, expand_nested=expand_nested))
    expand_nested = options.pop("expand_nested")
    try:
        path = plot._fspath(to_file)
    except TypeError as exc:
        raise TypeError(str(exc).replace("path:", "plot_model: to_file:", 1)) from None
    suffix = os.path.splitext(path)[1].lower()
    boxes, edges = graph_of(model, expand_nested)
    if suffix in (".dot", ".gv"):
        from ._atomic import write_text_atomically
        write_text_atomically(path, dot_source(model, boxes, edges, options, rankdir, dpi, subgraph=False))
        return path
    fig = draw(boxes, edges, [text_lines(box, **options) for box in boxes], rankdir, dpi)
    try:
        plot._save_figure(fig, path)
    except ValueError as exc:           # an unknown suffix
        raise ValueError(str(exc).replace("path:", "plot_model: to_file:", 1)) from None
    if "IPython" in sys.modules and suffix in ("", ".png", ".jpg", ".jpeg"):
        from IPython import display         # in a notebook: shown where the call is
        return display.Image(filename=path)
    return path
