"""Outputs given as nested lists: ``Model(x, [a, [b, c], d])``, as Keras 3.15 takes them.

Inside, the model is one of several outputs (glassnet.outputs), its outputs flat in Keras'
flattening order (``model.outputs``, ``output_names``: ``a, b, c, d``); the nesting is kept as
the same structure of the flat outputs' places, ``[0, [1, 2], 3]`` (``model._keras_output_nesting``,
also what a Keras file's ``output_layers`` nesting is read into: glassnet._keras_models). What the
model gives back is nested again: ``predict``, ``model(x)``, ``model.output``, the model called on
tensors inside another. What it takes per output may be nested the same way or flat, as Keras'
forms are::

    model.compile(loss=["mse", ["mse", "mae"], "mse"], metrics=["mae", ["mae", "mse"], "mae"], ...)
    model.compile(loss=["mse", "mse", "mae", "mse"], loss_weights=[1.0, [0.5, 0.5], 1.0], ...)
    model.fit(x, [ya, [yb, yc], yd])        # or [ya, yb, yc, yd]

Keras logs the own loss of an output inside a nested list under its place in the lists,
``"1/b_loss"`` (``"1/1/c_loss"`` two lists deep), and its metrics as any output's (``"b_mae"``):
so does glassnet. The nesting is kept in the model's config (``"output_nesting"``), so
``from_config``, ``load_model`` and ``clone_model`` give the nested lists back, and in Keras
files (``output_layers`` nested).

A leaf is a tensor; dicts inside the lists are refused by name (a dict of outputs is a model's
whole output: glassnet._dictoutputs).
"""
import numbers


def flat_nested(outputs):
    """``outputs`` (a list whose items are tensors or lists of them, nested) as ``(structure, flat)``:
    the flat list of tensors in Keras' order and the same nesting of their places (``[0, [1, 2], 3]``);
    structure None when no item is a list (a plain list of outputs)."""
    if not any(isinstance(item, (list, tuple)) for item in outputs):
        return None, list(outputs)
    flat = []

    def place(item, depth):
        if isinstance(item, dict):
            raise TypeError("Model: outputs nests a dict inside a list; give nested lists of tensors, or one dict "
                            "of outputs as the whole outputs")
        if isinstance(item, (list, tuple)):
            if not item:
                raise ValueError("Model: outputs nests an empty list; each list holds one output or more")
            if depth > 32:
                raise ValueError("Model: outputs nests lists more than 32 deep")
            return [place(part, depth + 1) for part in item]
        flat.append(item)
        return len(flat) - 1
    return place(list(outputs), 0), flat


def nest(structure, flat):
    """``flat`` (one value per output, in the flat order) as ``structure`` nests it (a list)."""
    return [nest(part, flat) if isinstance(part, list) else flat[part] for part in structure]


def leaves(structure):
    """How many outputs ``structure`` places."""
    return sum(leaves(part) if isinstance(part, list) else 1 for part in structure)


def flatten_given(structure, value, what):
    """``value`` given per output (targets, losses, metrics, loss weights) as one entry per
    output, flat: a list or tuple nested as the outputs are (its top level as long as
    ``structure``'s) is flattened to them; anything else (a flat list of one per output, a dict
    by the outputs' names, one value for all) is returned as it is, for the per-output forms to
    read. A list nested otherwise is refused, naming ``what``."""
    if structure is None or not isinstance(value, (list, tuple)) or len(value) != len(structure) \
            or all(isinstance(item, numbers.Number) for item in value):
        return value        # (numbers: not nested; sample weights [1.0, 2.0] of two samples)
    flat = []

    def take(part, given, where):
        if not isinstance(part, list):
            flat.append(given)
            return
        if not isinstance(given, (list, tuple)) or len(given) != len(part):
            shown = f"a {type(given).__name__} of {len(given)}" if isinstance(given, (list, tuple)) else \
                f"{given!r:.60}"
            raise ValueError(f"{what}: the model's outputs are nested as {_shown(structure)}; {what}{where} must be "
                             f"a list of {len(part)} for the outputs nested there, got {shown} (or give a flat list "
                             f"of one per output, {leaves(structure)})")
        for k, (inner, item) in enumerate(zip(part, given)):
            take(inner, item, f"{where}[{k}]")
    try:
        for k, (part, item) in enumerate(zip(structure, value)):
            take(part, item, f"[{k}]")
    except ValueError:
        if len(value) == leaves(structure):     # ([a, [b]]: a flat list of two is as long as the top level)
            return value
        raise
    return flat


def _shown(structure):
    return "[" + ", ".join(_shown(p) if isinstance(p, list) else "*" for p in structure) + "]"


def loss_prefixes(structure):
    """Per output, in the flat order, what Keras 3.15 puts before its own loss's log name: its
    place in the enclosing lists, ``"1/"`` for ``b`` of ``[a, [b, c], d]``; ``""`` at the top."""
    prefixes = []

    def walk(part, path):
        for k, item in enumerate(part):
            if isinstance(item, list):
                walk(item, path + [str(k)])
            else:
                prefixes.append("".join(f"{p}/" for p in path))
    walk(structure, [])
    return prefixes


def checked(structure, outputs):
    """A config's ``"output_nesting"`` checked: nested lists whose leaves are 0, 1, ... in order,
    one per output of ``outputs`` (the list of calls); None passes (no nesting)."""
    if structure is None:
        return None
    count = []

    def ok(part, depth):
        if not isinstance(part, list) or not part or depth > 32:
            return False
        for item in part:
            if isinstance(item, list):
                if not ok(item, depth + 1):
                    return False
            elif isinstance(item, bool) or not isinstance(item, int) or item != len(count):
                return False
            else:
                count.append(item)
        return True
    if not (ok(structure, 0) and isinstance(outputs, list) and len(count) == len(outputs)
            and any(isinstance(item, list) for item in structure)):
        raise ValueError(f"config: 'output_nesting' must nest the places 0, 1, ... of the {len(outputs or [])} "
                         f"outputs in lists, in order ([0, [1, 2], 3]), got {structure!r:.100}")
    return structure
