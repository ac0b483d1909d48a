"""glassnet.utils.model_to_dot and plot_model: the graph's nodes, labels and edges against Keras
3.15's ``model_to_dot`` (run on a small stand-in for pydot that records what Keras adds), the
layout's layers, the image written, and the errors."""
import os
import re
import subprocess
import sys
import types

import numpy as np
import pytest

import glassnet as gn
from glassnet import _model_drawing, _model_graph
from glassnet.utils import model_to_dot, plot_model


# -- the Keras oracle, without pydot --------------------------------------------------------------
class _Graph:
    """What Keras' model_to_dot hands pydot: nodes, edges, subgraphs (pydot.Dot / pydot.Cluster)."""

    def __init__(self, *args, graph_name=None, **kwargs):
        self.name, self.nodes, self.edges, self.subgraphs = graph_name, [], [], []

    def set(self, *args):
        pass

    def set_node_defaults(self, **kwargs):
        pass

    def add_node(self, node):
        self.nodes.append(node)

    def add_edge(self, edge):
        self.edges.append(edge)

    def get_edge(self, src, dst):
        return [edge for edge in self.edges if (edge.src, edge.dst) == (src, dst)]

    def add_subgraph(self, graph):
        self.subgraphs.append(graph)


class _Node:
    def __init__(self, name, label=None):
        self.name, self.label = name, label

    def set(self, *args):
        pass


class _Edge:
    def __init__(self, src, dst):
        self.src, self.dst = src, dst

    def set(self, *args):
        pass


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras = pytest.importorskip("keras")
    from keras.src.utils import model_visualization
    fake = types.SimpleNamespace(Dot=_Graph, Cluster=_Graph, Node=_Node, Edge=_Edge)
    kept, model_visualization.pydot = model_visualization.pydot, fake
    yield keras
    model_visualization.pydot = kept


def _name_of(label):
    return re.search(r"<b>(.*?)</b>", label).group(1)


def keras_graph(dot, frame=()):
    """``(labels, edges, frames)`` of Keras' recorded graph: each node's label by its name, the
    edges as pairs of names, and the clusters each node is drawn in."""
    labels, names, frames, edges = {}, {}, {}, set()

    def walk(graph, frame):
        for node in graph.nodes:
            names[node.name] = _name_of(node.label)
            labels[names[node.name]] = node.label
            frames[names[node.name]] = frame
        for sub in graph.subgraphs:
            walk(sub, (*frame, sub.name))
        edges.update((edge.src, edge.dst) for edge in graph.edges)
    walk(dot, frame)
    return labels, {(names[a], names[b]) for a, b in edges}, frames


def glassnet_graph(text):
    """The same three of glassnet's DOT text (its node ids are the names)."""
    labels, frames, edges, frame = {}, {}, set(), []
    for line in text.splitlines():
        if line.startswith("subgraph"):
            frame.append(re.match(r'subgraph "cluster_(.*)" \{', line).group(1))
        elif line == "}" and frame:
            frame.pop()
        elif (node := re.match(r'"(.*?)" \[label=(<.*>), fontname=Helvetica, border=0, margin=0\];$', line)):
            labels[node.group(1)], frames[node.group(1)] = node.group(2), tuple(frame)
        elif (edge := re.match(r'"(.*?)" -> "(.*?)" \[penwidth=2\];$', line)):
            assert edge.groups() not in edges, f"edge {edge.groups()} drawn twice"
            edges.add(edge.groups())
    return labels, edges, frames


def functional_model(k):
    """The same model in Keras or glassnet (``k``: either module): two inputs, a residual Add, a
    Concatenate, two outputs, a frozen layer and one without weights."""
    x, z = k.Input((4,), name="x"), k.Input((3,), name="z")
    h = k.layers.Dense(4, activation="relu", name="h")(x)
    added = k.layers.Add(name="add")([x, h])
    joined = k.layers.Concatenate(name="cat")([added, z])
    frozen = k.layers.Dense(5, activation="tanh", name="frozen")
    frozen.trainable = False
    hidden = k.layers.Dropout(0.5, name="drop")(frozen(joined))
    return k.Model([x, z], [k.layers.Dense(1, name="o1")(hidden), k.layers.Dense(2, activation="softmax",
                                                                               name="o2")(joined)])


def sequential_model(k):
    return k.Sequential([k.Input((8, 8, 1)), k.layers.Conv2D(4, 3, activation="relu", name="conv"),
                         k.layers.MaxPooling2D(2, name="pool"), k.layers.Flatten(name="flat"),
                         k.layers.Dense(3, activation="softmax", name="out")], name="cnn")


def nested_in_functional(k):
    """A Sequential base called in a functional model, and a layer called twice (shared)."""
    base = k.Sequential([k.Input((4,)), k.layers.Dense(3, activation="relu", name="b1"),
                         k.layers.Dense(3, name="b2")], name="base")
    x = k.Input((4,), name="x")
    features = base(x)
    shared = k.layers.Dense(3, name="shared")
    pre = k.layers.Dense(3, name="pre")(features)
    return k.Model(x, k.layers.Add(name="add")([shared(features), shared(pre)]), name="outer")


def functional_in_sequential(k):
    inputs = k.Input((4,), name="fin")
    inner = k.Model(inputs, k.layers.Dense(2, name="f1")(k.layers.Dense(4, name="f0")(inputs)), name="fun")
    return k.Sequential([k.Input((4,)), k.layers.Dense(4, name="s0"), inner, k.layers.Dense(1, name="s2")],
                        name="seq")


ALL_SHOWN = dict(show_shapes=True, show_dtype=True, show_layer_activations=True, show_trainable=True)


@pytest.mark.parametrize("build", [functional_model, sequential_model, nested_in_functional, functional_in_sequential])
@pytest.mark.parametrize("options", [{}, ALL_SHOWN, dict(show_layer_names=False, show_shapes=True)])
def test_nodes_labels_and_edges_are_keras(keras, build, options):
    keras_dot, text = keras.utils.model_to_dot(build(keras), **options), model_to_dot(build(gn), **options)
    if not options.get("show_layer_names", True):       # the labels say the class only: compare them all
        def every_label(graph):
            return [node.label for node in graph.nodes] + [label for sub in graph.subgraphs for label in every_label(sub)]
        assert sorted(re.findall(r"\[label=(<.*>), fontname", text)) == sorted(every_label(keras_dot))
        return
    assert glassnet_graph(text) == keras_graph(keras_dot)


def test_expanded_nested_sequential_is_keras_cluster(keras):
    expected = keras_graph(keras.utils.model_to_dot(nested_in_functional(keras), expand_nested=True, **ALL_SHOWN))
    got = glassnet_graph(model_to_dot(nested_in_functional(gn), expand_nested=True, **ALL_SHOWN))
    assert got == expected
    assert got[2]["b1"] == got[2]["b2"] == ("base",) and got[2]["pre"] == ()
    assert ("x", "b1") in got[1] and ("b2", "pre") in got[1] and ("b2", "shared") in got[1]


def test_expanded_nested_functional_has_no_input_box(keras):
    """Keras draws the nested functional model's Input in its cluster (s0 -> fin -> f0); glassnet,
    which joins the nested model's layers to the outer graph, goes straight to f0 (documented)."""
    labels, edges, frames = keras_graph(keras.utils.model_to_dot(functional_in_sequential(keras), expand_nested=True))
    assert {("s0", "fin"), ("fin", "f0")} <= edges
    del labels["fin"], frames["fin"]
    edges = (edges - {("s0", "fin"), ("fin", "f0")}) | {("s0", "f0")}
    assert glassnet_graph(model_to_dot(functional_in_sequential(gn), expand_nested=True)) == (labels, edges, frames)


# -- the DOT text itself --------------------------------------------------------------------------
def test_dot_text_of_a_small_functional_model():
    x = gn.Input((3,), name="x")
    hidden = gn.layers.Dense(4, activation="relu", name="hidden")
    out = gn.layers.Dense(1, name="out")
    model = gn.Model(x, out(gn.layers.Concatenate(name="cat")([x, hidden(x)])))
    label = ('<<table border="0" cellborder="1" bgcolor="black" cellpadding="10"><tr><td colspan="1" '
             'bgcolor="black"><font point-size="16" color="white"><b>{0}</b> ({1})</font></td></tr></table>>')
    node = '"{0}" [label=' + label + ', fontname=Helvetica, border=0, margin=0];'
    assert model_to_dot(model, rankdir="LR", dpi=96).splitlines() == [
        "digraph G {", "rankdir=LR;", "concentrate=true;", "dpi=96;", "splines=ortho;", "node [shape=record];",
        node.format("x", "InputLayer"), node.format("hidden", "Dense"), node.format("cat", "Concatenate"),
        node.format("out", "Dense"),
        '"x" -> "hidden" [penwidth=2];', '"x" -> "cat" [penwidth=2];', '"hidden" -> "cat" [penwidth=2];',
        '"cat" -> "out" [penwidth=2];', "}"]


def test_subgraph_is_a_cluster_to_paste_into_another_graph():
    model = sequential_model(gn)
    lines = model_to_dot(model, subgraph=True).splitlines()
    assert lines[:4] == ['subgraph "cluster_cnn" {', "style=dashed;", 'label="cnn";', "labeljust=l;"]
    assert lines[-2:] == ['"flat" -> "out" [penwidth=2];', "}"] and "digraph G {" not in lines


def test_shapes_of_a_merge_and_of_a_nested_model():
    boxes, _ = _model_graph.graph_of(nested_in_functional(gn))
    shapes = {box.name: (box.kind, box.input_shape, box.output_shape) for box in boxes}
    assert shapes == {"x": ("InputLayer", None, "(None, 4)"), "base": ("Sequential", "(None, 4)", "(None, 3)"),
                      "shared": ("Dense", "(None, 3)", "(None, 3)"), "pre": ("Dense", "(None, 3)", "(None, 3)"),
                      "add": ("Add", "[(None, 3), (None, 3)]", "(None, 3)")}


def test_layer_called_on_its_own_output_keeps_its_loop():
    x = gn.Input((3,), name="x")
    twice = gn.layers.Dense(3, name="twice")
    _, edges, _ = glassnet_graph(model_to_dot(gn.Model(x, twice(twice(x)))))
    assert edges == {("x", "twice"), ("twice", "twice")}


def test_subclassed_model_is_drawn_as_its_call_made_it():
    class TwoStep(gn.Model):
        def __init__(self):
            super().__init__(name="two_step")
            self.first, self.second = gn.layers.Dense(4, name="first"), gn.layers.Dense(1, name="second")

        def call(self, inputs):
            return self.second(self.first(inputs))

    model = TwoStep()
    with pytest.raises(ValueError, match="model_to_dot: the model is not built yet.*model.build"):
        model_to_dot(model)
    model.build((None, 3))
    labels, edges, _ = glassnet_graph(model_to_dot(model, show_shapes=True))
    (source,) = [name for name in labels if "InputLayer" in labels[name]]
    assert edges == {(source, "first"), ("first", "second")}
    assert "Input shape: <b>(None, 4)</b>" in labels["second"]


def test_dict_outputs_and_a_branch():
    x = gn.Input((3,), name="x")
    h = gn.layers.Dense(4, name="h")(x)
    model = gn.Model(x, {"score": gn.layers.Dense(1, name="s")(h), "cls": gn.layers.Dense(2, name="c")(h)})
    labels, edges, _ = glassnet_graph(model_to_dot(model))
    assert set(labels) == {"x", "h", "s", "c"} and edges == {("x", "h"), ("h", "s"), ("h", "c")}


def test_names_shared_by_an_input_and_a_layer_get_distinct_ids():
    boxes = [_model_graph.Box("a", "InputLayer", None, "(None, 1)", "float32"),
             _model_graph.Box("a", "Dense", "(None, 1)", "(None, 1)", "float32"),
             _model_graph.Box("a_2", "Dense", "(None, 1)", "(None, 1)", "float32")]
    assert _model_graph.node_ids(boxes) == ["a", "a_2", "a_2_2"]


# -- the layout -----------------------------------------------------------------------------------
def test_depths_follow_the_longest_path_and_cut_loops():
    # 0 -> 1 -> 2 -> 4, 0 -> 3 -> 4, a loop 4 -> 1 and a self-loop on 3
    edges = [(0, 1), (1, 2), (2, 4), (0, 3), (3, 4), (4, 1), (3, 3)]
    assert _model_drawing.depths(5, edges) == [0, 1, 2, 1, 3]


@pytest.mark.parametrize("rankdir", ["TB", "LR"])
def test_layout_places_each_box_past_the_boxes_it_reads(rankdir):
    model = functional_model(gn)
    boxes, edges = _model_graph.graph_of(model)
    lines = [_model_drawing.text_lines(box, True, False, True, False, False) for box in boxes]
    positions, routes = _model_drawing.layout(lines, edges, rankdir)
    along = 1 if rankdir == "TB" else 0         # y grows downwards; x to the right
    level = _model_drawing.depths(len(boxes), edges)
    names = [box.name for box in boxes]
    assert dict(zip(names, level)) == {"x": 0, "z": 0, "h": 1, "add": 2, "cat": 3, "frozen": 4, "drop": 5,
                                       "o1": 6, "o2": 4}
    for (a, b), route in zip(edges, routes):
        # the whole of b lies past the whole of a, and the arrow's way runs forward through its slots
        assert positions[b][along] - positions[b][2 + along] / 2 > positions[a][along] + positions[a][2 + along] / 2
        steps = [p[along] for p in route]
        assert steps == sorted(steps) and len(route) == 2 * (level[b] - level[a] - 1)
    # boxes of one layer do not overlap
    across = 1 - along
    for d in set(level):
        spans = sorted((positions[k][across] - positions[k][2 + across] / 2, positions[k][across]
                        + positions[k][2 + across] / 2) for k in range(len(boxes)) if level[k] == d)
        assert all(end < start for (_, end), (start, _) in zip(spans, spans[1:]))
    # x -> add skips the layer of h: its way is a slot beside h, never through it
    (route,) = [route for (a, b), route in zip(edges, routes) if (names[a], names[b]) == ("x", "add")]
    h = positions[names.index("h")]
    assert all(abs(p[across] - h[across]) > h[2 + across] / 2 for p in route)


def test_frames_hold_their_boxes():
    boxes, edges = _model_graph.graph_of(nested_in_functional(gn), expand_nested=True)
    lines = [_model_drawing.text_lines(box, False, False, True, False, False) for box in boxes]
    positions, _ = _model_drawing.layout(lines, edges, "TB", [len(box.frame) for box in boxes])
    ((name, (left, top, right, bottom)),) = _model_drawing.frame_rectangles(boxes, positions)
    assert name == "base"
    for k, box in enumerate(boxes):
        x, y, w, h = positions[k]
        inside = left < x - w / 2 and x + w / 2 < right and top < y - h / 2 and y + h / 2 < bottom
        assert inside == (box.frame == ("base",))


# -- plot_model -----------------------------------------------------------------------------------
@pytest.fixture
def image():
    pytest.importorskip("matplotlib", reason="needs the plot extra: pip install 'glassnet[plot]'")
    return pytest.importorskip("PIL.Image", reason="needs the plot extra: pip install 'glassnet[plot]'")


@pytest.mark.parametrize("rankdir", ["TB", "LR"])
def test_plot_model_writes_a_png(image, tmp_path, rankdir):
    path = tmp_path / "model.png"
    assert plot_model(nested_in_functional(gn), path, show_shapes=True, rankdir=rankdir, expand_nested=True,
                      dpi=50) == str(path)
    assert sorted(os.listdir(tmp_path)) == ["model.png"]        # written atomically: nothing else left
    with image.open(path) as im:
        width, height = im.size
        dark = int((np.asarray(im.convert("L")) < 100).sum())
    assert (height > width) == (rankdir == "TB") and dark > 500       # six boxes in a column (a row): text, lines


def test_plot_model_other_formats(image, tmp_path):
    model = sequential_model(gn)
    plot_model(model, tmp_path / "model.svg")
    assert (tmp_path / "model.svg").read_text().lstrip().startswith("<?xml")
    assert plot_model(model, tmp_path / "model.dot", show_shapes=True) == str(tmp_path / "model.dot")
    assert (tmp_path / "model.dot").read_text() == model_to_dot(model, show_shapes=True, show_layer_names=False)
    with pytest.raises(ValueError, match=r"plot_model: to_file: .*\.xyz"):
        plot_model(model, tmp_path / "model.xyz")
    with pytest.raises(TypeError, match="plot_model: to_file"):
        plot_model(model, 3)


def test_plot_model_in_ipython_returns_its_image(image, tmp_path, monkeypatch):
    shown = []
    display = types.SimpleNamespace(Image=lambda filename: shown.append(filename) or "an Image")
    ipython = types.ModuleType("IPython")
    ipython.display = display
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    assert plot_model(sequential_model(gn), tmp_path / "m.png") == "an Image"
    assert shown == [str(tmp_path / "m.png")]


# -- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("function", [model_to_dot, plot_model])
def test_errors_name_the_argument(function, tmp_path):
    model = sequential_model(gn)
    name = function.__name__
    with pytest.raises(ValueError, match=f"{name}: rankdir must be 'TB' .* or 'LR' .*, got 'BT'"):
        function(model, rankdir="BT")
    with pytest.raises(ValueError, match=f"{name}: dpi must be a positive number"):
        function(model, dpi=-1)
    with pytest.raises(TypeError, match=f"{name}: show_shapes: expected True or False, got 'yes'"):
        function(model, show_shapes="yes")
    with pytest.raises(TypeError, match=f"{name}: model must be a glassnet Sequential or Model, got str"):
        function("model")
    with pytest.raises(ValueError, match=f"{name}: the model is not built yet.*build it first"):
        function(gn.Sequential([gn.layers.Dense(2)]))
    assert os.listdir(tmp_path) == [] and not os.path.exists("model.png")


def test_import_glassnet_loads_neither_the_graph_nor_matplotlib():
    code = ("import sys, glassnet; loaded = lambda: [name in sys.modules for name in ('glassnet._model_graph', "
            "'glassnet._model_drawing', 'matplotlib')]; print(*loaded()); glassnet.utils.model_to_dot; print(*loaded())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False"] * 3 + ["True", "False", "False"]


def test_the_readme_example_runs(image, tmp_path, monkeypatch, capsys):
    from pathlib import Path
    readme = Path(__file__).resolve().parents[1] / "docs" / "guide" / "models.md"
    if not readme.exists():
        pytest.skip("docs/guide/models.md is not next to the tests")
    text = readme.read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text[text.index("To see the network's graph"):], re.S).group(1)
    monkeypatch.chdir(tmp_path)
    model = gn.Sequential([gn.layers.Dense(4, input_dim=2), gn.layers.Dense(1)])
    exec(compile(code, str(readme), "exec"), {"gn": gn, "model": model})
    assert '"dense" -> "dense_1" [penwidth=2];' in capsys.readouterr().out
    assert (tmp_path / "model.png").stat().st_size > 1000
