"""``summary``'s table (Keras 3's ``Model.summary`` options, as keras/src/utils/summary_utils.py
reads them) and the record of the models nested in a model, which it shows.

glassnet flattens a nested model (its layers join the outer model one by one), so what Keras
keeps as one layer is kept here as a ``Nested`` record: the nested model's name, its kind
("Sequential", "Functional", a subclass' class name), its layers (the same objects as the outer
model's) and the records of the models nested in it. ``summary`` shows the record as one row,
and with ``expand_nested=True`` its layers under it, as Keras does.
"""
import re
import shutil
import textwrap

import numpy as np


class Nested:
    """A model nested in another, as ``summary`` shows it: ``name``, ``kind``, ``layers`` (its
    layers, in its order), ``children`` (the ``Nested`` records of the models nested in it),
    ``key`` (the model's, ``key_of``), ``outputs`` (the layers making its outputs, whose
    shapes its row shows; None: its last call's), ``output_keys`` (the keys of outputs given
    as a dict, in their order; None otherwise), ``inputs`` (a functional model's Inputs,
    ``(name, sample shape)``, which Keras lists under it when expanded; empty for the others) and
    ``called_on`` (the tensors this call of the model read, in order: where its Keras node sits in
    the graph drawn on it, glassnet._layer_order; empty for a record that is no call), ``model``
    (the nested model itself, whose own config a Keras file writes as the nested entry; None
    where unknown) and ``returned`` (the tensors this call of it returned, in its outputs' order:
    which output of the call an outer layer reads, glassnet._keras_nesting; empty otherwise)."""
    __slots__ = ("name", "kind", "layers", "children", "key", "outputs", "output_keys", "inputs", "called_on",
                 "model", "returned")

    def __init__(self, name, kind, layers, children, key=None, outputs=None, output_keys=None, inputs=()):
        self.name, self.kind, self.layers, self.children, self.key = name, kind, list(layers), list(children), key
        self.outputs = None if outputs is None else list(outputs)
        self.output_keys = None if output_keys is None else list(output_keys)
        self.inputs = list(inputs)
        self.called_on = self.returned = ()
        self.model = None


def key_of(model):
    """What tells the calls of ``model`` from another model's in a graph: a token of its own, kept
    on it. Not ``id(model)``: a model made in a helper function, called there and dropped, frees
    its id for the next one made, whose calls were then taken for the first one's."""
    return model.__dict__.setdefault("_summary_key", object())


def kind_of(model):
    """Keras' type column for a nested model: a functional Model is "Functional"."""
    from .graph import Model
    from .model import Sequential
    if type(model) is Model:
        return "Functional"
    return "Sequential" if type(model) is Sequential else type(model).__name__


def record(model, layers=None):
    """The ``Nested`` record of ``model`` (its ``layers`` unless given: an undrawn subclass'
    layers are those its call used), with the records of the models nested in it."""
    calls, kind = model._node_layers, kind_of(model)
    inputs = list(zip(model._input_names, model._declared_input_shapes())) if kind == "Functional" else ()
    nested = Nested(model.name, kind, model.layers if layers is None else layers,
                    getattr(model, "_nesting", ()), key=key_of(model), outputs=[calls[k] for k in model._output_calls],
                    output_keys=getattr(model, "_output_keys", None), inputs=inputs)
    nested.model = model
    return nested


def check_options(line_length, positions, layer_range):
    """The arguments of ``summary``, checked by name; ``positions`` as a list of floats."""
    # (NumPy's numbers too, as Keras takes them and glassnet's other integer arguments do)
    if line_length is not None and (isinstance(line_length, bool) or not isinstance(line_length, (int, np.integer))
                                    or line_length <= 0):
        raise ValueError(f"summary: line_length must be a positive integer (the table's width) or None, "
                         f"got {line_length!r:.60}")
    if positions is not None:
        if (not isinstance(positions, (list, tuple)) or not positions
                or not all(isinstance(p, (int, float, np.integer, np.floating)) and not isinstance(p, bool)
                           and np.isfinite(p) and p > 0 for p in positions)
                or any(b <= a for a, b in zip(positions, positions[1:]))):
            raise ValueError(f"summary: positions must be a list of increasing positive numbers, where each column "
                             f"ends (fractions of line_length, or absolute positions), got {positions!r:.80}")
        positions = [float(p) for p in positions]
    if layer_range is not None:
        if (not isinstance(layer_range, (list, tuple)) or len(layer_range) != 2
                or not all(isinstance(name, str) for name in layer_range)):
            raise ValueError(f"summary: layer_range must be a list or tuple of two strings, the first and last "
                             f"layer's names (or patterns), got {layer_range!r:.80}")
        for pattern in layer_range:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"summary: layer_range: {pattern!r} is not a valid pattern ({exc})") from None
    return positions


def range_bounds(names, layer_range):
    """``[first, last + 1]`` of the entries whose ``names`` ``layer_range`` picks, as Keras'
    ``get_layer_index_bound_by_layer_name``: from the first name matching ``layer_range[0]`` to
    the last matching ``layer_range[1]`` (``re.match``: a pattern matching the name's start)."""
    if layer_range is None:
        return 0, len(names)
    lower = [k for k, name in enumerate(names) if re.match(layer_range[0], name)]
    upper = [k for k, name in enumerate(names) if re.match(layer_range[1], name)]
    if not lower or not upper:
        raise ValueError(f"summary: layer_range {tuple(layer_range)!r} does not match the names of the model's "
                         f"layers, {names}")
    if min(lower) > max(upper):
        return min(upper), max(lower) + 1
    return min(lower), max(upper) + 1


def column_widths(count, line_length, positions, show_trainable, graph):
    """Each column's width, as Keras computes them: ``positions`` (Keras' defaults when None)
    are where the columns end, fractions of ``line_length`` (88 characters, 108 with "Connected
    to", 12 more with "Trainable", at most the terminal's width less 4, when None) or, when the
    last is over 1, absolute positions (Keras 2's rule; Keras 3 multiplies those too). With
    ``show_trainable``, the other columns take 0.9 of their positions and "Trainable" the rest."""
    default_length = 108 if graph else 88
    if show_trainable:
        default_length += 12
    if line_length is None:
        line_length = min(default_length, shutil.get_terminal_size().columns - 4)
    if positions is None:
        positions = [0.3, 0.56, 0.74, 1.0] if graph else [0.45, 0.80, 1.0]
    elif len(positions) != count - show_trainable:
        raise ValueError(f"summary: positions must give {count - show_trainable} positions, one per column, "
                         f"got {len(positions)}")
    absolute = positions[-1] > 1
    if show_trainable:
        positions = [p * 0.9 for p in positions] + [line_length if absolute else 1.0]
    widths, current = [], 0
    for position in positions:
        width = (int(position) if absolute else int(position * line_length)) - current
        if width < 4:
            raise ValueError(f"summary: line_length {line_length} and positions {positions} leave a column less "
                             f"than 4 characters wide (Keras' 'Insufficient console width')")
        widths.append(width)
        current += width
    return widths


def fixed_table(headers, rows, widths, right):
    """The table's lines, each column ``widths[i]`` wide (its text in all but the last character
    of it, wrapped onto more lines when longer); the columns in ``right`` aligned right."""
    def cell_lines(text, width):
        return textwrap.wrap(text, width - 1, break_long_words=True, drop_whitespace=False) or [""]

    def lines_of(cells):
        wrapped = [cell_lines(text, w) for text, w in zip(cells, widths)]
        out = []
        for k in range(max(len(w) for w in wrapped)):
            parts = [(w[k] if k < len(w) else "") for w in wrapped]
            out.append("".join((part.rjust(width - 1) if i in right else part.ljust(width - 1)) + " "
                               for i, (part, width) in enumerate(zip(parts, widths))).rstrip())
        return out

    rule = "=" * sum(widths)
    text = [rule, *lines_of(headers), rule]
    for k, row in enumerate(rows):
        if k:
            text.append("-" * sum(widths))
        text += lines_of(row)
    return text + [rule]


def compact_table(headers, rows):
    """The table's lines, each column as wide as its widest cell (glassnet's own layout)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    rule = "=" * (sum(widths) + 2 * (len(widths) - 1))
    return [rule, line.format(*headers).rstrip(), rule, *(line.format(*r).rstrip() for r in rows), rule]
