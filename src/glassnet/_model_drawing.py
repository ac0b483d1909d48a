"""``glassnet.utils.plot_model``: a model's graph (glassnet._model_graph) drawn with matplotlib (the
``plot`` extra, imported when it draws), without Graphviz.

The layout is Graphviz's "dot" in small: each box in a layer one past the deepest box with an
arrow into it (``depths``), the layers one below the other (``rankdir="TB"``) or side by side
("LR"), and an arrow that skips layers given a narrow slot of its own in each, so that it passes
beside their boxes (``layout``). Sizes are in inches: one inch of drawing is one inch of figure.
"""
import os
import sys

from ._model_graph import check_arguments, dot_source, graph_of


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
    # names are shown as written: "$...$" in a layer's name is no formula, nor a TeX run's input
    plain = dict(family="monospace", parse_math=False, usetex=False)
    for name, (x0, y0, x1, y1) in frames:
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ls="--", lw=1, ec="#555555"))
        ax.text(x0 + 0.08, y0 + 0.06, name, ha="left", va="top", fontsize=9, color="#555555", **plain)
    for box, text, (x, y, w, h) in zip(boxes, lines, positions):
        # an Input blue, a nested model (or a layer of one, framed) orange, a layer grey
        colour = "#dbe9f6" if box.kind == "InputLayer" else "#fde9c9" if box.frame or box.model else "#eeeeee"
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.05",
                                    fc=colour, ec="black", lw=1.2))
        for i, line in enumerate(text):
            ax.text(x, y - h / 2 + _PAD + _LINE * (i + 0.5), line, ha="center", va="center", fontsize=9,
                    weight="bold" if i == 0 else "normal", **plain,
                    color={"Trainable": "forestgreen", "Non-trainable": "firebrick"}.get(line, "black"))
    style = dict(arrowstyle="-|>", mutation_scale=12, lw=1.3, color="#333333", shrinkA=0, shrinkB=0)
    for (a, b), route in zip(edges, routes):
        start, end, bend = _arrow_ends(a, b, positions, level, rankdir)
        if route:           # through its slots in the layers it skips
            ax.add_patch(FancyArrowPatch(path=Path([start, *route, end]), **style))
        else:
            ax.add_patch(FancyArrowPatch(start, end, connectionstyle=f"arc3,rad={bend}", **style))
    return fig


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
    options = check_arguments("plot_model", model, rankdir, dpi, dict(
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
