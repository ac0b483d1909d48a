"""Random small functional graphs drawn the same in glassnet and in Keras, for
tests/test_weight_order.py: shared layers, parallel branches, several inputs (given to the model in
another order than made) and outputs, nested functional models (some called twice) and nested
Sequentials. ``recipe(seed)`` says what to draw; ``draw(lib, recipe)`` draws it with either
library's ``layers``, ``Model``, ``Sequential`` and ``Input``."""
import random


def recipe(seed):
    """The graph of ``seed``: ``{"inputs": [width, ...], "given": input order for Model,
    "steps": [(kind, ...)], "outputs": [tensor index, ...]}``. Tensors are numbered as made, the
    Inputs first; every width is small (3 to 8) so that many weights share their shapes."""
    r = random.Random(seed)
    widths = [r.choice([3, 4]) for _ in range(r.randint(1, 3))]
    given = list(range(len(widths)))
    r.shuffle(given)
    dense, models, steps = [], [], []       # dense: (in width, units); models: (kind, in width, out width)
    for _ in range(r.randint(2, 8)):
        kinds = ["dense", "dense", "shared", "add", "concat", "bn", "model", "sequential", "call_model"]
        kind = r.choice(kinds)
        src = r.randrange(len(widths))
        if kind == "shared":
            fits = [k for k, (w, _) in enumerate(dense) if w == widths[src]]
            if not fits:
                kind = "dense"
            else:
                steps.append(("dense", r.choice(fits), src))
                widths.append(dense[steps[-1][1]][1])
                continue
        if kind == "call_model":
            fits = [k for k, (_, w, _) in enumerate(models) if w == widths[src]]
            if not fits:
                kind = "model"
            else:
                k = r.choice(fits)
                steps.append(("model", k, src))
                widths.append(models[k][2])
                continue
        if kind == "dense":
            dense.append((widths[src], r.choice([3, 4])))
            steps.append(("dense", len(dense) - 1, src))
            widths.append(dense[-1][1])
        elif kind == "add":
            by_width = {}
            for t, w in enumerate(widths):
                by_width.setdefault(w, []).append(t)
            pairs = [ts for ts in by_width.values() if len(ts) > 1]
            if not pairs:
                continue
            a, b = r.sample(r.choice(pairs), 2)
            steps.append(("add", len(steps), [a, b]))
            widths.append(widths[a])
        elif kind == "concat":
            a, b = r.randrange(len(widths)), r.randrange(len(widths))
            if a == b or widths[a] + widths[b] > 8:
                continue
            steps.append(("concat", len(steps), [a, b]))
            widths.append(widths[a] + widths[b])
        elif kind == "bn":
            steps.append(("bn", len(steps), src))
            widths.append(widths[src])
        else:           # a nested functional model (a branch and a merge inside) or Sequential
            units = r.choice([3, 4])
            out = 2 * units if kind == "model" else units
            models.append((kind, widths[src], out))
            steps.append(("model", len(models) - 1, src))
            widths.append(out)
    made = list(range(len(given), len(widths)))       # the tensors the steps made
    if not made:                                # nothing drawn: one Dense on the first Input
        dense.append((widths[0], 3))
        steps.append(("dense", 0, 0))
        widths.append(3)
        made = [len(widths) - 1]
    outputs = [made[-1]]
    if len(made) > 1 and r.random() < 0.4:
        outputs.append(r.choice(made[:-1]))
    return {"inputs": widths[:len(given)], "given": given, "steps": steps, "outputs": outputs,
            "dense": dense, "models": models}


def _nested(lib, kind, width, units, name):
    """A model to nest: functional (two Dense branches, one deeper, concatenated) or Sequential."""
    L = lib.layers
    if kind == "sequential":
        return lib.Sequential([lib.Input((width,)), L.Dense(units + 1, name=f"{name}_a"),
                               L.Dense(units, name=f"{name}_b")], name=name)
    i = lib.Input((width,))
    deep = L.Dense(units, name=f"{name}_deep2")(L.Dense(units, name=f"{name}_deep1")(i))
    return lib.Model(i, L.Concatenate(name=f"{name}_cat")([L.Dense(units, name=f"{name}_side")(i), deep]),
                     name=name)


def draw(lib, plan, model_class):
    """``model_class(inputs, outputs)`` of the graph ``plan`` (``recipe``) drawn with ``lib``."""
    L = lib.layers
    tensors = [lib.Input((w,), name=f"in{j}") for j, w in enumerate(plan["inputs"])]
    dense = [L.Dense(units, name=f"d{k}") for k, (_, units) in enumerate(plan["dense"])]
    models = [_nested(lib, kind, width, (out // 2 if kind == "model" else out), f"m{k}")
              for k, (kind, width, out) in enumerate(plan["models"])]
    for kind, k, src in plan["steps"]:
        if kind == "dense":
            tensors.append(dense[k](tensors[src]))
        elif kind == "model":
            tensors.append(models[k](tensors[src]))
        elif kind == "bn":
            tensors.append(L.BatchNormalization(name=f"bn{k}")(tensors[src]))
        elif kind == "add":
            tensors.append(L.Add(name=f"add{k}")([tensors[s] for s in src]))
        else:
            tensors.append(L.Concatenate(name=f"cat{k}")([tensors[s] for s in src]))
    inputs = [tensors[j] for j in plan["given"]]
    outputs = [tensors[k] for k in plan["outputs"]]
    return model_class(inputs if len(inputs) > 1 else inputs[0], outputs if len(outputs) > 1 else outputs[0])


def keras_names(model):
    """Keras' ``model.layers`` names without its InputLayers, a nested model standing for its own
    layers (glassnet lists those in its place), each once."""
    names = []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        inner = keras_names(layer) if hasattr(layer, "layers") else [layer.name]
        names += [name for name in inner if name not in names]
    return names
