"""``model.summary``'s Keras 3 arguments: ``expand_nested``, ``show_trainable``, ``layer_range``,
``line_length`` and ``positions``. Rows are compared cell by cell with Keras 3.15's summary of the
same network (its ``print_fn`` text parsed; the drawing characters differ), for Sequential,
functional and subclassed models, frozen layers and nested models."""
import os
import re

import numpy as np
import pytest

import glassnet as gn

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _keras():
    return pytest.importorskip("keras", reason="Keras oracle not installed")


def _text(model, **options):
    out = []
    model.summary(print_fn=out.append, **options)
    assert len(out) == 1
    return out[0]


def _cell(name_cell):
    """``(depth, "name (Type)")`` of a first cell, ``└`` and the indent read as the depth."""
    depth = (len(name_cell) - len(name_cell.lstrip(" "))) // 3
    return depth, name_cell.strip().lstrip("\u2514").strip()


def _ours(model, **options):
    """Our rows, ``(depth, name (type), shape, params[, trainable])``, read by the header's
    column positions (glassnet's own layout: no "Connected to" kept), and the three totals."""
    lines = _text(model, **options).splitlines()
    rules = [k for k, line in enumerate(lines) if line and set(line) == {"="}]
    header = lines[rules[0] + 1]
    names = ["Layer (type)", "Output Shape", "Param #", "Trainable"]
    starts = [header.index(n) for n in names if n in header]
    ends = starts[1:] + [None]
    if "Connected to" in header:            # the cell before it ends where it starts
        ends[2] = header.index("Connected to")
        starts.append(header.index("Connected to"))
        ends.insert(3, starts[3] if len(starts) > 4 else None)
    rows = []
    for line in lines[rules[1] + 1:rules[2]]:
        cells = [line[s:e].rstrip() if e is not None else line[s:].rstrip() for s, e in zip(starts, ends)]
        depth, name = _cell(cells[0])
        row = (depth, name, cells[1].strip(), cells[2].strip())
        if "Trainable" in header:
            row += (line[header.index("Trainable"):].strip(),)
        rows.append(row)
    return rows, _totals(lines)


def _totals(lines):
    return [int(re.search(r"([\d,]+)", line).group(1).replace(",", ""))
            for line in lines if re.match(r"\s*(Total|Trainable|Non-trainable) params:", line)]


def _theirs(model, **options):
    """Keras' rows, parsed as ``_ours`` (its InputLayer rows too: glassnet lists a functional
    Model's Inputs as Keras does)."""
    out, columns = [], os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "250"           # rich draws the table no wider than the console
    try:
        model.summary(print_fn=out.append, line_length=240, **options)
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    lines = out[0].splitlines()
    rows = []
    for line in lines:
        if not line.startswith("\u2502"):
            continue
        cells = line.split("\u2502")[1:-1]
        depth, name = _cell(cells[0][1:])          # a space of padding before each cell
        row = (depth, name, cells[1].strip(), cells[2].strip())
        if options.get("show_trainable"):
            row += (cells[-1].strip(),)
        rows.append(row)
    return rows, _totals(lines)


def _transfer(lib):
    """A frozen functional base (a residual Add) and a Sequential block nested in a Sequential."""
    L = lib.layers
    inp = lib.Input((6,), name="x")
    h = L.Dense(4, name="b1")(inp)
    base = lib.Model(inp, L.Add(name="badd")([h, L.Dense(4, name="b2")(h)]), name="base")
    base.trainable = False
    block = lib.Sequential([L.Dense(3, name="s1"), L.BatchNormalization(name="bn")], name="block")
    model = lib.Sequential([lib.Input((6,)), base, block, L.Dropout(0.1, name="drop"), L.Dense(1, name="head")],
                           name="outer")
    return model


OPTIONS = [{}, dict(expand_nested=True), dict(show_trainable=True), dict(expand_nested=True, show_trainable=True),
           dict(layer_range=("block", "d")), dict(layer_range=("head", "base"), expand_nested=True),
           dict(layer_range=("b.*k", "h"), show_trainable=True), dict(layer_range=("drop", "drop"))]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "plain")
def test_nested_sequential_rows_match_keras(options):
    keras = _keras()
    ours, theirs = _ours(_transfer(gn), **options), _theirs(_transfer(keras), **options)
    assert ours == theirs
    # the totals are the whole model's whatever rows are shown, as Keras': 79 weights, base's 48 frozen
    assert ours[1] == [79, 25, 54]


def test_rows_show_the_nested_model_as_one_row_and_its_layers_when_expanded():
    rows, _ = _ours(_transfer(gn), expand_nested=True, show_trainable=True)
    assert [r[:2] for r in rows] == [(0, "base (Functional)"), (1, "x (InputLayer)"), (1, "b1 (Dense)"),
                                     (1, "b2 (Dense)"), (1, "badd (Add)"),
                                     (0, "block (Sequential)"), (1, "s1 (Dense)"), (1, "bn (BatchNormalization)"),
                                     (0, "drop (Dropout)"), (0, "head (Dense)")]
    assert [r[4] for r in rows] == ["N", "-", "N", "N", "-", "Y", "Y", "Y", "-", "Y"]


def _frozen_layers(lib):
    L = lib.layers
    model = lib.Sequential([lib.Input((5,)), L.Dense(8, name="d1"), L.BatchNormalization(name="norm"),
                            L.Dense(4, name="d2"), L.Flatten(name="flat"), L.Dense(2, name="out")], name="frozen")
    model.get_layer("d1").trainable = False
    model.get_layer("norm").trainable = False
    return model


@pytest.mark.parametrize("options", [dict(show_trainable=True), dict(show_trainable=True, layer_range=("norm", "flat")),
                                     dict(layer_range=("d", "d"))])
def test_frozen_layers_match_keras(options):
    keras = _keras()
    ours, theirs = _ours(_frozen_layers(gn), **options), _theirs(_frozen_layers(keras), **options)
    assert ours == theirs
    assert ours[1][0] == 48 + 32 + 36 + 10


def _functional(lib):
    """A functional model calling a nested (two-level) model on its Input, beside a branch of its own."""
    L = lib.layers
    inner_in = lib.Input((6,), name="ii")
    frozen = L.Dense(4, name="i1")
    frozen.trainable = False
    # (one of its layers frozen: Keras' "Y" for the model, its own flag; glassnet's, any layer training)
    inner = lib.Model(inner_in, L.Dense(4, name="i2")(frozen(inner_in)), name="inner")
    inp = lib.Input((6,), name="xi")
    mid = lib.Sequential([L.Dense(4, name="m0"), L.Activation("relu", name="relu")], name="mid")
    base_in = lib.Input((6,), name="bi")
    base = lib.Model(base_in, mid(inner(base_in)), name="base")
    z = L.Dense(2, name="z")(base(inp))
    out = L.Add(name="join")([z, L.Dense(2, name="side")(inp)])
    return lib.Model(inp, out, name="f")


@pytest.mark.parametrize("options", [{}, dict(expand_nested=True), dict(expand_nested=True, show_trainable=True),
                                     dict(layer_range=("base", "z"), expand_nested=True)])
def test_functional_model_nesting_models_matches_keras(options):
    keras = _keras()
    ours, theirs = _ours(_functional(gn), **options), _theirs(_functional(keras), **options)
    assert ours == theirs


def test_connected_to_names_a_nested_model_by_its_row():
    text = _text(_functional(gn))
    assert re.search(r"z \(Dense\) .* base$", text, re.M)
    assert re.search(r"base \(Functional\) .* xi$", text, re.M)


def _subclassed(lib):
    L = lib.layers

    class Tower(lib.Model):
        def __init__(self):
            super().__init__(name="tower")
            self.first = L.Dense(5, name="sd1")
            self.block = lib.Sequential([L.Dense(3, name="s1"), L.BatchNormalization(name="bn")], name="block")
            self.last = L.Dense(1, name="sd2")

        def call(self, x):
            return self.last(self.block(self.first(x)))
    model = Tower()
    model(np.zeros((2, 6), "float32"))         # drawn (Keras: built) on its first data
    model.first.trainable = False
    return model


@pytest.mark.parametrize("options", [dict(show_trainable=True), dict(expand_nested=True, show_trainable=True),
                                     dict(layer_range=("block", "sd2"))])
def test_subclassed_model_matches_keras(options):
    keras = _keras()
    ours, theirs = _ours(_subclassed(gn), **options), _theirs(_subclassed(keras), **options)
    # Keras does not know a subclassed model's output shapes until it runs on data: compare the rest
    assert [r[:2] + r[3:] for r in ours[0]] == [r[:2] + r[3:] for r in theirs[0]]
    assert ours[1] == theirs[1]
    assert ours[0][-1][2] == "(None, 1)"


def test_deeper_nesting_indents_each_level_as_keras():
    keras = _keras()

    def build(lib):
        L = lib.layers
        core = lib.Sequential([L.Dense(3, name="c1")], name="core")
        mid = lib.Sequential([L.Dense(4, name="m1"), core], name="mid")
        return lib.Sequential([lib.Input((2,)), mid, L.Dense(1, name="top")], name="deep")
    ours, theirs = _ours(build(gn), expand_nested=True), _theirs(build(keras), expand_nested=True)
    assert ours == theirs
    assert [r[0] for r in ours[0]] == [0, 1, 1, 2, 0]


def test_a_popped_layer_of_a_nested_model_is_not_shown():
    model = _transfer(gn)
    model.pop()
    model.pop()
    model.pop()         # the block's last layer too: the row sums what is left of it
    rows, totals = _ours(model, expand_nested=True)
    assert [r[1] for r in rows if r[0] == 0] == ["base (Functional)", "block (Sequential)"]
    assert rows[-1][1:] == ("s1 (Dense)", "(None, 3)", "15") and rows[-2][3] == "15"
    assert totals[0] == 48 + 15


def test_line_length_and_positions_give_the_columns_keras_widths():
    model = _frozen_layers(gn)

    def starts(text):
        header = next(line for line in text.splitlines() if line.startswith("Layer (type)"))
        return [header.index(n) for n in ("Output Shape", "Param #")], header

    text = _text(model, line_length=100)
    assert all(len(line) <= 100 for line in text.splitlines())
    assert max(len(line) for line in text.splitlines()) == 100
    # Keras' default fractions: the columns end at 45 % and 80 % of the width; Param # aligned right
    (shape_at, _), _ = starts(text)
    assert shape_at == 45
    assert re.search(r"^d1 \(Dense\) +\(None, 8\) {2,}48$", text, re.M)
    assert len(re.search(r"^d1 \(Dense\).*$", text, re.M).group(0)) == 99        # 45 + 35 + 20, less 1
    # fractions with show_trainable: each takes 0.9 of its place, Trainable the rest (Keras' rule)
    text = _text(model, line_length=100, positions=[0.5, 0.7, 0.8], show_trainable=True)
    header = next(line for line in text.splitlines() if line.startswith("Layer (type)"))
    assert header.index("Output Shape") == 45 and header.index("Trainable") == 72
    # absolute positions: where each column ends
    text = _text(model, positions=[20, 40, 50])
    header = next(line for line in text.splitlines() if line.startswith("Layer (type)"))
    assert header.index("Output Shape") == 20 and header.index("Param #") == 49 - len("Param #")
    # a long name wraps inside its column
    text = _text(model, line_length=40)
    lines = text.splitlines()
    assert max(len(line) for line in lines) == 40
    at = next(k for k, line in enumerate(lines) if line.startswith("norm"))
    assert lines[at][:17] + lines[at + 1][:17].rstrip() == "norm (BatchNormalization)"
    # the totals do not change
    assert _totals(text.splitlines()) == _totals(_text(model).splitlines())


def test_without_options_the_table_is_as_before():
    model = _frozen_layers(gn)
    text = _text(model)
    assert "d1 (Dense)  " in text and "Trainable" not in text.splitlines()[2]
    assert text.startswith('Model: "frozen"\n====') and text.endswith("dtype: float32")


@pytest.mark.parametrize("options, error, message", [
    (dict(line_length=0), ValueError, "line_length must be a positive integer"),
    (dict(line_length="wide"), ValueError, "line_length must be a positive integer"),
    (dict(line_length=True), ValueError, "line_length must be a positive integer"),
    (dict(line_length=12), ValueError, "leave a column less than 4 characters wide"),
    (dict(positions=[0.5, 0.4, 1.0]), ValueError, "positions must be a list of increasing positive numbers"),
    (dict(positions="0.5"), ValueError, "positions must be a list"),
    (dict(positions=[0.5, 1.0]), ValueError, "positions must give 3 positions, one per column, got 2"),
    (dict(positions=[10, 12, 40]), ValueError, "less than 4 characters wide"),
    (dict(expand_nested="yes"), TypeError, "expand_nested: expected True or False"),
    (dict(show_trainable=1), TypeError, "show_trainable: expected True or False"),
    (dict(layer_range="d1"), ValueError, "layer_range must be a list or tuple of two strings"),
    (dict(layer_range=("d1",)), ValueError, "layer_range must be a list or tuple of two strings"),
    (dict(layer_range=(0, 2)), ValueError, "layer_range must be a list or tuple of two strings"),
    (dict(layer_range=("d1", "[")), ValueError, "layer_range: '\\[' is not a valid pattern"),
    (dict(layer_range=("nothing", "d2")), ValueError, "layer_range .* does not match the names"),
])
def test_bad_arguments_are_refused_by_name(options, error, message):
    with pytest.raises(error, match=message):
        _frozen_layers(gn).summary(print_fn=lambda text: None, **options)


def test_keras_refuses_a_layer_range_that_matches_nothing_too():
    keras = _keras()
    with pytest.raises(ValueError, match="do not match the layer names"):
        _frozen_layers(keras).summary(print_fn=lambda text: None, layer_range=("nothing", "d2"))


def test_a_copy_keeps_the_nested_rows_with_its_own_layers():
    import copy
    model = _transfer(gn)
    same = copy.deepcopy(model)
    assert _ours(same, expand_nested=True) == _ours(model, expand_nested=True)
    assert same._nesting[0].layers[0] is same.layers[0]
