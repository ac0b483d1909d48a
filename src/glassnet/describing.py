"""How a ``Sequential`` describes itself and is described: ``summary``, ``get_config`` /
``from_config`` (everything but the weights, JSON-serialisable: what model files store) and
``from_architecture`` (seed 000's list of dicts). A mixin of ``glassnet.model.Sequential``.
"""
import collections

from . import _seeding, _subclass_files as subclass_files, losses, metrics as metrics_module, optimizers, saving
from ._dictoutputs import as_dict, check_config_outputs
from ._flagless import TRUE_IF_UNSET, valid_mode
from .outputs import each_output_metrics, make_heads
from ._bounds import check_file_batch_size
from .errors import ModelFileError
from .layers import Dense, InputLayer
from .layers.input import given_integer_dtype
from .layers.base import _sample_shape, get as get_layer_class


def compile_arguments(settings):
    """``compile``'s arguments from a config's (or a model file's) ``"compile"`` settings: the loss
    by its name, with a built-in loss's own settings (``"loss_config"``: Huber's delta); for a
    model of several outputs, a list of those, one per output; and the ``"loss_weights"``."""
    def loss_of(name, changed):
        if saving.is_entry(name):           # a registered loss of yours, with its own config
            return losses.get(name)
        return type(losses.get(name))(**changed) if changed else name
    loss, changed = settings["loss"], settings.get("loss_config")
    arguments = {"optimizer": optimizers.from_config(settings["optimizer"]), "metrics": settings.get("metrics") or None,
                 **({"weighted_metrics": settings["weighted_metrics"]} if settings.get("weighted_metrics") else {})}
    if isinstance(loss, list):
        changed = changed or [None] * len(loss)
        return {**arguments, "loss": [loss_of(name, c) for name, c in zip(loss, changed)],
                "loss_weights": settings.get("loss_weights")}
    # (one output's weight: a number, or Keras' [w] or {output: w}, which compile reads)
    weights = {"loss_weights": settings["loss_weights"]} if settings.get("loss_weights") is not None else {}
    return {**arguments, "loss": loss_of(loss, changed), **weights}


def metric_settings(compiled, given=None):
    """A config's ``"metrics"`` (and ``"weighted_metrics"``, only when there are any, so that a
    file without them reads in a glassnet from before them) for the compiled ``[(name, metric)]``:
    each as ``metrics.serialize`` names it, a weighted one by what compile was given. ``given``:
    ``{log name: name given}`` for those logged under another name ("mse_1", a second "mse"):
    the config names what compile was given, and compiling it again numbers them again."""
    given = given or {}
    plain = [metrics_module.serialize(given.get(name, name), fn) for name, fn in compiled
             if not isinstance(fn, metrics_module.weighted.Weighted)]
    weighted = [metrics_module.serialize(fn.base, fn.named) for _, fn in
                sorted((pair for pair in compiled if isinstance(pair[1], metrics_module.weighted.Weighted)),
                       key=lambda pair: pair[1].position)]      # in the order compile was given them
    return {"metrics": plain, **({"weighted_metrics": weighted} if weighted else {})}


def check_graph_config(graph, layers):
    """A config's ``"graph"`` (``DescribingMixin._graph_config``) checked, as a file may say
    anything, and returned as ``Sequential._add_layers`` takes it: each call names one of
    ``layers``, each layer called (a nested functional Model's layers are listed in Keras' order,
    glassnet._layer_order, which need not be the order of their first calls); each call reads earlier calls (-1:
    the model's input), one or more for a merge (its list as drawn); every call but the last leads to a later one
    (one output); a layer called more than once is not stateful and has no activity
    regularizer (a functional Model refuses them too)."""
    if not isinstance(graph, dict) or not {"calls", "inbound"} <= set(graph) <= {"calls", "inbound", "modes", "options",
                                                                                "outputs", "output_shapes",
                                                                                "added_losses", "dead_calls"}:
        raise ValueError("config: 'graph' must be {'calls': [...], 'inbound': [...]} (and 'modes', 'options', "
                         "'outputs', 'output_shapes')")
    calls, inbound = graph["calls"], graph["inbound"]
    modes, options = graph.get("modes"), graph.get("options")
    if not isinstance(calls, list) or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c < len(layers)
                                              for c in calls) or set(calls) != set(range(len(layers))):
        raise ValueError(f"config: 'graph' 'calls' must name, for each call, one of the {len(layers)} layers, each "
                         f"layer called, got {calls!r:.80}")
    if not isinstance(inbound, list) or len(inbound) != len(calls):
        raise ValueError(f"config: 'graph' 'inbound' must list each of the {len(calls)} calls' sources")
    for k, (c, parents) in enumerate(zip(calls, inbound)):
        layer = layers[c]
        merges = getattr(layer, "merges", False)
        # a recurrent layer's call with initial_state reads its states besides the sequence
        with_states = not merges and isinstance(parents, list) and len(parents) == 1 + getattr(layer, "state_count", -1)
        # a merging layer: the list it was drawn on, possibly of one for a layer of yours (see graph.py)
        if (not isinstance(parents, list) or not parents or (len(parents) != 1 and not merges and not with_states)
                or not all(isinstance(p, int) and not isinstance(p, bool) and -1 <= p < k for p in parents)):
            raise ValueError(f"config: 'graph' 'inbound' of call {k} ({layer.describe()}) must list "
                             f"{'one or more earlier calls' if merges else 'one earlier call'} (-1: the model's "
                             f"input), got {parents!r:.80}")
    read = {p for parents in inbound for p in parents}
    terms = graph.get("added_losses")       # the calls add_loss terms read (the terms: checked when read)
    read |= {node.get("call") for node in (terms.get("nodes") if isinstance(terms, dict) else None) or ()
             if isinstance(node, dict) and isinstance(node.get("call"), int)}
    outputs = graph.get("outputs")
    # (the calls named there; what else it holds check_graph_outputs refuses by name)
    made = {k for k in (outputs.values() if isinstance(outputs, dict) else outputs if isinstance(outputs, list) else [])
            if isinstance(k, int)}
    dead = graph.get("dead_calls", [])        # a block's calls reaching no output (glassnet._dead_calls)
    if not isinstance(dead, list) or not all(isinstance(k, int) and not isinstance(k, bool)
                                             and 0 <= k < len(calls) - 1 for k in dead):
        raise ValueError(f"config: 'graph' 'dead_calls' must list calls (of {len(calls)}) before the last, got "
                         f"{dead!r:.80}")
    if any(k not in read and k not in made and k not in dead for k in range(len(calls) - 1)):
        raise ValueError("config: 'graph': every call but the last must be read by a later one, make one of "
                         "the 'outputs', be read by an add_loss term or be listed in 'dead_calls'")
    counts = collections.Counter(calls)          # (calls.count per call: quadratic in the calls)
    for c, count in counts.items():
        layer = layers[c]
        if count > 1 and (layer.activity_regularizer is not None or getattr(layer, "stateful", False)):
            raise ValueError(f"config: 'graph': {layer.describe()} is called more than once and is stateful or "
                             f"has an activity_regularizer")
    if modes is not None and (not isinstance(modes, list) or len(modes) != len(calls)
                              or not all(valid_mode(mode) for mode in modes)):
        raise ValueError(f"config: 'graph' 'modes' must give each of the {len(calls)} calls true, false, null or "
                         f"{TRUE_IF_UNSET!r}")
    # (imported here: import glassnet loads no symbolic-tensor code, tests/test_layer_registry.py)
    from .layers.symbolic import valid_call_option
    if options is not None and (not isinstance(options, list) or len(options) != len(calls) or not all(
            valid_call_option(option, parents) for option, parents in zip(options, inbound))):
        raise ValueError(f"config: 'graph' 'options' must give each of the {len(calls)} calls null or "
                         f"a dict of 'use_causal_mask', 'attention_mask' (attention layers) or 'reverse' (ReversibleEmbedding), "
                         f"each true or false, and 'keras_order' (attention layers: an order of the call's inputs)")
    return list(calls), [list(parents) for parents in inbound], modes, options


def _per_output_settings(settings):
    """A config's "metrics" (and "weighted_metrics", when any output has some) for a model of
    several outputs: one list per output, from each output's ``metric_settings``."""
    joined = {"metrics": [each["metrics"] for each in settings]}
    if any("weighted_metrics" in each for each in settings):
        joined["weighted_metrics"] = [each.get("weighted_metrics", []) for each in settings]
    return joined


def check_graph_outputs(graph, count):
    """A config's ``"graph"`` ``"outputs"`` and ``"output_shapes"``, a last layer of several
    outputs' (``DescribingMixin._graph_config``), checked: ``(calls, keys, shapes)``, the calls
    (of ``count``) making them in the outputs' order, the dict's keys as given (None for a list)
    and each output's sample shape; None when the graph has no such outputs."""
    if "outputs" not in graph and "output_shapes" not in graph:
        return None
    outputs, shapes = graph.get("outputs"), graph.get("output_shapes")
    keys = None
    if isinstance(outputs, dict):
        check_config_outputs(outputs, count)
        keys, calls = list(outputs), [outputs[key] for key in sorted(outputs)]
    elif isinstance(outputs, list) and all(isinstance(k, int) and not isinstance(k, bool) and 0 <= k < count
                                           for k in outputs):
        calls = list(outputs)
    else:
        raise ValueError(f"config: 'graph' 'outputs' must list the calls (of {count}) making the outputs, or map "
                         f"each output's key to its call, got {outputs!r:.80}")
    if len(calls) < 2 or len(set(calls)) != len(calls) or count - 1 not in calls:
        raise ValueError(f"config: 'graph' 'outputs' must name two or more distinct calls, the last call among "
                         f"them, got {outputs!r:.80}")
    if not isinstance(shapes, list) or len(shapes) != len(calls) or not all(
            isinstance(shape, list) and shape and all(d is None or (isinstance(d, int) and not isinstance(d, bool)
                                                                    and d > 0) for d in shape) for shape in shapes):
        raise ValueError(f"config: 'graph' 'output_shapes' must give each of the {len(calls)} outputs its sample "
                         f"shape (a list of positive sizes or null), got {shapes!r:.80}")
    return calls, keys, [tuple(shape) for shape in shapes]


def _present(nested, present):
    """``nested`` (a ``Nested`` record) with only its layers (and its children's) whose ids are in
    ``present``: a layer popped off the model since it was nested is not shown."""
    from ._summary import Nested
    return Nested(nested.name, nested.kind, [layer for layer in nested.layers if id(layer) in present],
                  [_present(child, present) for child in nested.children], nested.key,
                  None if nested.outputs is None else [layer for layer in nested.outputs if id(layer) in present],
                  getattr(nested, "output_keys", None), getattr(nested, "inputs", ()))


class _InputRow:
    """An Input of a functional model as a row of its summary: ``name (InputLayer)``, its sample
    shape as declared, no weights, no source (Keras' InputLayer row)."""

    def __init__(self, name, shape):
        self.name, self.shape = name, tuple(shape)

    def row(self, level, settings):
        prefix = "   " * level + "\u2514 " if level else ""
        return (f"{prefix}{self.name} (InputLayer)", str((None, *self.shape)), "0",
                *(("-",) if settings["graph"] else ()), *(("-",) if settings["show_trainable"] else ()))


class DescribingMixin:
    @classmethod
    def from_architecture(cls, architecture, seed=None, dtype=None, kernel_initializer="glorot_uniform",
                          kernel_regularizer=None):
        """Build a dense network from seed 000's list of dicts::

            [{"input_dim": 2, "output_dim": 25, "activation": "relu"},
             {"input_dim": 25, "output_dim": 1, "activation": "sigmoid"}]

        ``input_dim`` and ``output_dim`` are required; ``activation`` may be left out (linear).
        ``kernel_initializer`` and ``kernel_regularizer`` apply to every layer.
        """
        if not isinstance(architecture, (list, tuple)) or not architecture:
            raise ValueError(f"architecture: expected a non-empty list of dicts, got {architecture!r}")
        layers = []
        for i, spec in enumerate(architecture):
            if not isinstance(spec, dict) or not {"input_dim", "output_dim"} <= set(spec):
                raise ValueError(f"architecture[{i}]: expected a dict with 'input_dim' and 'output_dim' "
                                 f"('activation' is optional: linear when left out), got {spec!r}")
            unknown = set(spec) - {"input_dim", "output_dim", "activation"}
            if unknown:
                raise ValueError(f"architecture[{i}]: unknown keys {sorted(unknown)}")
            if i and spec["input_dim"] != architecture[i - 1]["output_dim"]:
                raise ValueError(f"architecture[{i}]: input_dim is {spec['input_dim']} but the previous "
                                 f"layer's output_dim is {architecture[i - 1]['output_dim']}")
            try:
                layers.append(Dense(spec["output_dim"], activation=spec.get("activation"),
                                    kernel_initializer=kernel_initializer, kernel_regularizer=kernel_regularizer,
                                    input_dim=spec["input_dim"] if i == 0 else None))
            except (ValueError, TypeError) as exc:
                # "Dense: units ..." would not say which entry of the list (a config file's) is wrong
                raise type(exc)(f"architecture[{i}]: {exc}") from None
        return cls(layers, seed=seed, dtype=dtype)


    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None):
        """Print each layer's name and type, output shape and weight count, then the totals as
        Keras does: every weight (BatchNormalization's moving statistics included), the trained
        ones, and the rest (those statistics and the parameters of frozen layers). Keras 3's
        arguments:

        - ``print_fn``: called once with the whole text; None (Keras' default) prints it.
        - ``expand_nested``: a model nested in this one (``Sequential([base, Dense(1)])``,
          ``base(inputs)`` in a functional Model) is one row, its weights summed; True lists its
          layers under it, ``└`` and indented, and so on down.
        - ``show_trainable``: a "Trainable" column, ``Y`` or ``N`` for a layer with weights
          (``N``: frozen; a nested model: ``Y`` when any of its layers trains), ``-`` without.
        - ``layer_range``: two layer names, or patterns (``re.match``: matching a name's start),
          the rows from the first layer matching the first to the last matching the second (a
          nested model counts as one row). The totals stay the whole model's, as Keras'.
        - ``line_length``, ``positions``: a table of fixed width, ``line_length`` characters
          (Keras' 88, 108 with "Connected to"; a longer cell wraps), its columns ending at
          ``positions`` (fractions of the width, Keras' ``[0.45, 0.8, 1.0]`` by default; or, when
          the last is over 1, absolute positions). Without either, each column is as wide as
          its widest cell.
        """
        from . import _summary
        from ._validation import check_flag
        # checked before the work: a wrong print_fn would otherwise fail as "'str' object is not callable"
        if print_fn is None:
            print_fn = print
        elif not callable(print_fn):
            raise TypeError(f"summary: print_fn must be a function called with the text (or None: print it), "
                            f"got {print_fn!r:.60}")
        expand_nested = check_flag(expand_nested, "summary: expand_nested")
        show_trainable = check_flag(show_trainable, "summary: show_trainable")
        positions = _summary.check_options(line_length, positions, layer_range)
        if not self.built and getattr(self, "_graph", None) is None and self.layers:
            # a Sequential not built yet (keras.io's RNN guide adds layers, then asks): Keras 3.15
            # lists its layers, their shapes unknown, their weights "0 (unbuilt)"
            return self._unbuilt_summary(line_length, positions, print_fn, show_trainable, layer_range)
        self._require_built("summary")
        # a functional Model says where each layer's inputs come from, as Keras' summary does
        graph = getattr(self, "_graph", None) is not None
        headers = ("Layer (type)", "Output Shape", "Param #", *(("Connected to",) if graph else ()),
                   *(("Trainable",) if show_trainable else ()))
        entries = self._summary_entries()
        # Keras' InputLayer rows, each just before the first row that reads it: a functional
        # Model's (a subclass drawn by its call has no Inputs of its own to show, as in Keras);
        # rows as the others, which layer_range picks by name
        if graph and not callable(getattr(self, "call", None)):
            entries = self._with_input_entries(entries)
        first, stop = _summary.range_bounds([name for name, _ in entries], layer_range)
        seen = {id(layer): layer.name for layer in self.layers}
        for _, entry in entries:
            for layer in getattr(entry, "layers", ()):
                seen[id(layer)] = entry.name
        settings = dict(expand=expand_nested, graph=graph, show_trainable=show_trainable,
                        shapes=self._shapes_through(self._sample_input_shape),
                        seen=[seen[id(layer)] for layer in self._node_layers])
        rows = [row for _, entry in entries[first:stop] for row in self._summary_rows(entry, 0, settings)]
        total = sum(_built_count(layer) for layer in self.layers)
        trainable = sum(sum(int(p.size) for p in layer.params.values()) for layer in self.layers if layer.trainable)
        if line_length is None and positions is None:
            table = _summary.compact_table(headers, rows)
        else:
            widths = _summary.column_widths(len(headers), line_length, positions, show_trainable, graph)
            table = _summary.fixed_table(headers, rows, widths, right={2})
        text = [f'Model: "{self.name}"', *table, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                f"Non-trainable params: {total - trainable:,}", f"dtype: {self.dtype.name}"]
        print_fn("\n".join(text))

    def _unbuilt_summary(self, line_length, positions, print_fn, show_trainable, layer_range):
        """``summary`` of a Sequential whose layers are not built yet: Keras 3.15's rows, ``?``
        for each output shape and ``0 (unbuilt)`` for each layer not built (a layer Keras builds
        when it is made, Dropout, counts its weights: none), the totals 0."""
        from . import _summary
        headers = ("Layer (type)", "Output Shape", "Param #", *(("Trainable",) if show_trainable else ()))
        rows = [[f"{layer.name} ({type(layer).__name__})", "?",
                 f"{_built_count(layer):,}" if _counts(layer) else "0 (unbuilt)",
                 *(("-",) if show_trainable else ())] for layer in self.layers]
        first, stop = _summary.range_bounds([layer.name for layer in self.layers], layer_range)
        rows = rows[first:stop]
        if line_length is None and positions is None:
            table = _summary.compact_table(headers, rows)
        else:
            widths = _summary.column_widths(len(headers), line_length, positions, show_trainable, False)
            table = _summary.fixed_table(headers, rows, widths, right={2})
        total = sum(_built_count(layer) for layer in self.layers if _counts(layer))
        print_fn("\n".join([f'Model: "{self.name}"', *table, f"Total params: {total:,}", f"Trainable params: {total:,}",
                            "Non-trainable params: 0", f"dtype: {self.dtype.name}"]))

    def _summary_entries(self):
        """``[(name, entry)]``, the summary's top rows in the order of ``layers``: a layer, or the
        ``Nested`` record of a model nested in this one (at its first layer), with the layers
        left of it (a ``pop`` may have taken some)."""
        present = {id(layer) for layer in self.layers}
        group_of, entries = {}, []
        for nested in getattr(self, "_nesting", ()):
            for layer in nested.layers:
                group_of.setdefault(id(layer), nested)
        shown = set()
        for layer in self.layers:
            nested = group_of.get(id(layer))
            if nested is None:
                entries.append((layer.name, layer))
            elif id(nested) not in shown:
                shown.add(id(nested))
                entries.append((nested.name, _present(nested, present)))
        return entries

    def _with_input_entries(self, entries):
        """``entries`` (``_summary_entries``) with an ``_InputRow`` for each of the model's Inputs
        just before the first entry that reads it, as Keras' functional summary lists them."""
        from ._summary import Nested
        shapes, shown, out = self._declared_input_shapes(), set(), []
        places = getattr(self, "_input_places", None)
        if places is not None and len(places) == len(self._input_names):
            # where Keras' model.layers lists each Input (glassnet._layer_order): before the entry
            # whose first layer comes after as many layers as the Input's place says
            start, first = [], {id(layer): k for k, layer in enumerate(self.layers)}
            for _, entry in entries:
                layers = entry.layers if isinstance(entry, Nested) else [entry]
                start.append(min((first[id(layer)] for layer in layers if id(layer) in first), default=len(first)))
            rows = [(k, rank, 0, j) for j, (k, rank) in enumerate(places)]
            rows += [(k, rank, 1, i) for i, (k, rank) in enumerate((s, -1) for s in start)]
            # (an entry and Inputs at the same count: the Inputs first, each in Keras' rank)
            for _, _, kind, i in sorted(rows, key=lambda row: (row[0], row[2], row[1])):
                if kind == 0:
                    out.append((self._input_names[i], _InputRow(self._input_names[i], shapes[i])))
                else:
                    out.append(entries[i])
            return out
        for name, entry in entries:
            layers = entry.layers if isinstance(entry, Nested) else [entry]
            read = [-1 - p for k, call in enumerate(self._node_layers) if any(call is layer for layer in layers)
                    for p in self._inbound[k] if p < 0]
            for j in dict.fromkeys(read):
                if j not in shown:
                    shown.add(j)
                    out.append((self._input_names[j], _InputRow(self._input_names[j], shapes[j])))
            out.append((name, entry))
        # an Input no layer reads (Keras lists it too): just after the row of the Input before it
        for j in range(len(self._input_names)):
            if j not in shown:
                before = j and next(k for k, (name, entry) in enumerate(out)
                                    if isinstance(entry, _InputRow) and name == self._input_names[j - 1]) + 1
                out.insert(before, (self._input_names[j], _InputRow(self._input_names[j], shapes[j])))
                shown.add(j)
        return out

    def _summary_rows(self, entry, level, settings):
        """The rows of one entry (a layer, or a ``Nested`` record with, when ``expand``, its own
        entries' rows under it, one level in). ``settings``: ``expand``, ``graph``,
        ``show_trainable``, ``shapes`` (each call's output sample shape) and ``seen`` (the name
        each call goes by at the top: a nested model's calls, the model's)."""
        from ._summary import Nested
        if isinstance(entry, _InputRow):
            return [entry.row(level, settings)]
        calls, nested = self._node_layers, isinstance(entry, Nested)
        layers = entry.layers if nested else [entry]
        mine = [k for k, call in enumerate(calls) if any(call is layer for layer in layers)]
        weights = sum(_built_count(layer) for layer in layers)
        # a nested model's outputs are its output layers' last calls (a model called twice: the
        # second call's, as Keras shows a layer's last node), in a list when it has several, as
        # Keras'; without them (popped off), its last call's
        if nested:
            outputs = [layer for layer in entry.outputs or () if any(calls[k] is layer for k in mine)]
            ends = [max(k for k in mine if calls[k] is layer) for layer in outputs] or mine[-1:]
        else:
            ends = mine[:1]
        shape = ", ".join(str((None, *settings["shapes"][k])) for k in ends) if ends else "?"
        if len(ends) > 1:
            shape = f"[{shape}]"
        prefix = "   " * level + "\u2514 " if level else ""
        # Keras' summary shows a layer not built yet (its count_params refuses it) as "0 (unbuilt)"
        unbuilt = not nested and not _counts(entry)
        row = [f"{prefix}{entry.name} ({entry.kind if nested else type(entry).__name__})", shape,
               "0 (unbuilt)" if unbuilt else f"{weights:,}"]
        if settings["graph"]:
            # Keras names a source by its top row (a nested model's layer: the model), but inside
            # an expanded nested model, where its layers are rows of their own
            names = settings["seen"] if not level else [layer.name for layer in calls]

            def source(p):
                return self._input_names[-1 - p] if p < 0 else names[p]
            if nested:       # where the nested model's inputs come from
                inside = set(mine)
                row.append(", ".join(dict.fromkeys(source(p) for k in mine for p in self._inbound[k]
                                                   if p not in inside)))
            else:
                row.append("; ".join(", ".join(source(p) for p in self._inbound[k]) for k in mine))
        if settings["show_trainable"]:
            weighted = [layer for layer in layers if layer.params]
            row.append("-" if not weighted else "Y" if any(layer.trainable for layer in weighted) else "N")
        rows = [tuple(row)]
        if settings["expand"] and nested:
            # a functional model's Inputs first, as Keras lists them under it
            rows += [_InputRow(name, shape).row(level + 1, settings) for name, shape in getattr(entry, "inputs", ())]
            inner = {id(layer): layer for layer in entry.layers}
            group_of, done = {}, set()
            for child in entry.children:
                for layer in child.layers:
                    group_of.setdefault(id(layer), child)
            for layer in entry.layers:
                child = group_of.get(id(layer))
                if child is None:
                    rows += self._summary_rows(layer, level + 1, settings)
                elif id(child) not in done:
                    done.add(id(child))
                    rows += self._summary_rows(_present(child, inner), level + 1, settings)
        return rows

    def get_config(self):
        """Everything but the weights: layers, dtype, seed and compile settings (JSON-serialisable)."""
        return self._config(with_compile=True)

    def to_json(self, **kwargs):
        """The network as a JSON string, ``{"class_name": "Sequential", "config": ...}`` (Keras'
        form and content: the layers, without weights or compile settings; ``kwargs`` go to
        ``json.dumps``, ``indent=2`` say). ``glassnet.model_from_json`` rebuilds it, uncompiled
        and with new weights; ``save`` keeps everything. Refused, as ``save`` refuses
        them: layers whose config would not rebuild them (a custom layer's own arguments)."""
        import json
        from ._saveable import check_saveable
        try:
            check_saveable(self, include_optimizer=False, files=False)
            config = self._config(with_compile=False)      # (a subclass not drawn yet refuses here)
        except (TypeError, ValueError) as exc:
            raise type(exc)(str(exc).replace("save_model:", "to_json:", 1)) from None
        # a subclass of Model is described as the Model of its graph (no code in JSON); the config's
        # "subclass" names it, for a reader given the class (glassnet._subclass_files)
        from .graph import Model
        # (a Sequential subclass too: "Sequential", its "subclass" naming it, which model_from_json reads)
        name = "Model" if isinstance(self, Model) else "Sequential"
        return json.dumps({"class_name": name, "config": config}, **kwargs)

    def _config(self, with_compile):
        """``get_config()``, with ``"compile": None`` unless ``with_compile`` (a weights file needs
        no optimizer: one with a schedule of one's own, which no config can name, must not stop it)."""
        if self._pending:           # a block's layers are known once it is drawn (glassnet._lazy_blocks)
            item = self._pending[0]
            raise ValueError(f"{type(self).__name__} {self.name!r} holds {item.name!r} "
                             f"({type(item).__name__}), not drawn yet: its layers are known once the model's input "
                             f"shape is; build it first, model.build((None, *input_shape)), or call it on data")
        # each layer's own stream is the model's (1, i) for i its place when it joined the model
        # (a functional Model's layers are listed in Keras' order, not that one: _layout_layers)
        joined = {id(layer): i for i, layer in enumerate(self._layout_layers())}
        config = {
            "name": self.name, "seed": self.seed, "dtype": self.dtype.name,
            # (a model that takes texts builds from its TextVectorization, which knows its ids' shape)
            "input_shape": list(shape) if (shape := self._sample_input_shape or self._declared_input)
            and not self._takes_text() else None,
            # an Input at the top (not a layer): rebuilt as one, so that the copy, like the model,
            # builds at once when a layer is added after every layer was popped
            **({"input": list(self._declared_input)} if self._declared_input is not None else {}),
            **({"input_dtype": "string"} if self._declared_text else {}),
            # an integer or bool Input's dtype (ids before an Embedding), as Keras' file keeps it
            **({"input_dtype": given} if (given := given_integer_dtype(self._declared_input_layer)) is not None
               and not self._declared_text else {}),
            **({"input_name": self._declared_name} if self._declared_name is not None else {}),
            # its fixed batch size (Input((5,), batch_size=32)), Keras' InputLayer "batch_shape"[0]
            **({"input_batch_size": size} if (size := getattr(self._declared_input_layer, "batch_size", None))
               is not None and self._declared_input is not None else {}),
            # a frozen layer says so (Keras keeps "trainable" in each layer's config): a model
            # rebuilt from its config, e.g. a Dask sweep's result, must not train it again
            # a layer whose streams another seeded model gave it (one nested in this) says where
            # they come from: "seed_origin" (glassnet._seeding), so that a copy draws as it did
            "layers": [{"class_name": type(layer).__name__, "config": layer.get_config(),
                        **({} if layer.trainable else {"trainable": False}),
                        **({"seed_origin": origin} if (origin := self._seed_origin(joined[id(layer)], layer)) else {})}
                       for layer in self.layers],
            "compile": None if self.loss is None or not with_compile else self._compile_config(),
            **({"graph": self._graph_config()} if self._nested_calls is not None else {}),
            # its last layer a functional Model of a dict output: the dict's key (Sequential._nested_dict_key)
            **({"output_key": key} if (key := self._nested_dict_key()) is not None else {}),
        }
        nested = self._nested_config()
        if nested is not None:      # the models nested in it, to be made again (glassnet._nested_configs)
            config["nested"] = nested
        if subclass_files.is_own_sequential(type(self)):
            # a Sequential subclass of the user's: its name, so that a reader given the class
            # makes it again, with its own methods (glassnet._subclass_files)
            config[subclass_files.KEY] = subclass_files.entry(self)
        if self._nested_calls is not None:
            # the model's input shape gives every call its shapes (a merge's own would be a list)
            for entry in config["layers"]:
                entry["config"].pop("input_shape", None)
        return config

    def _nested_config(self):
        """A config's ``"nested"``: the models nested in this one (glassnet._nested_configs)."""
        from ._nested_configs import nested_config
        return nested_config(self)

    def _seed_origin(self, i, layer):
        """The ``"seed_origin"`` of the config entry of ``layer``, the i-th to join the model (``_seeding.origin_config``), or
        None: where its weights and its later draws (Dropout's) come from, when a seed fixed them
        and they are not this model's own stream for it. A layer of a seed of its own has none."""
        if layer.seed is not None:
            return None
        state = layer.__dict__
        draws = state.get("_stream_origin") if state.get("_rng_from_seed") else None
        if layer.built:
            weights = state.get("_weights_origin")
        elif "_build_origin" in state:          # rebuilt from a config, to be built on its first data
            weights = state["_build_origin"][0] if state["_build_origin"][1] else None
        else:
            weights = draws                     # its build will draw from its stream
        return _seeding.origin_config({"weights": weights, "draws": draws}, (int(self._entropy), (1, i)))

    def _graph_config(self):
        """A config's ``"graph"`` for a Sequential nesting a functional Model: its calls, each
        naming its layer by position in ``"layers"`` and its sources by call (-1: the model's
        input), with each call's own mode and arguments where any has some (as a Model's config
        has them). Not ``"inbound"``, which makes a config a functional Model's."""
        position = {id(layer): k for k, layer in enumerate(self.layers)}
        heads = self._heads         # a last layer of several outputs: the calls making them, their shapes
        read = {p for parents in self._nested_inbound for p in parents} | (
            set() if self._loss_terms is None else set(self._loss_terms.calls.values())) | (
            set() if heads is None else {head.call for head in heads})
        dead = [k for k in range(len(self._nested_calls) - 1) if k not in read]
        outputs = None if heads is None else [head.call for head in heads]
        return {"calls": [position[id(layer)] for layer in self._nested_calls],
                "inbound": [list(parents) for parents in self._nested_inbound],
                **({} if heads is None else {
                    # {key: call} in the dict's given order, as a functional Model's config has them
                    "outputs": outputs if self._output_keys is None else as_dict(self._output_keys, outputs),
                    "output_shapes": [list(head.shape) for head in heads]}),
                **({"modes": list(self._call_modes)} if self._call_modes is not None else {}),
                **({"options": [dict(o) if o else None for o in self._call_options]}
                   if self._call_options is not None else {}),
                # its blocks' add_loss terms, by the calls they read (glassnet._added_loss_files)
                **({"added_losses": _added_loss_files().terms_config(self._loss_terms)}
                   if self._loss_terms is not None else {}),
                # its blocks' calls reaching no output, kept as Keras keeps their layers (glassnet._dead_calls)
                **({"dead_calls": dead} if dead else {})}

    def _compile_config(self):
        """The compile settings of a config: the loss, the optimizer, the metrics; for a model of
        several outputs, each output's loss, weight and metrics, in the outputs' order."""
        triples = getattr(self, "_triples", None)
        if hasattr(self.optimizer, "register_paths") and triples:
            # a MultiOptimizer keeps in its config the Keras paths its patterns matched, which a
            # model file loses (its nested models' layers join the loaded model: register_paths);
            # told at every step, and here too, so that a model saved before its first step keeps them
            self.optimizer.register_paths(triples[0][0], self._weight_paths())
        if self._heads is not None:
            heads = self._heads
            # an output compiled without a loss keeps its None (Keras' compile config too)
            settings = [losses.changed_settings(head.loss) if head.scored else {} for head in heads]
            # a loss picked by the first batch is recorded as compile was given it ("ce"): Keras' config
            return {"loss": [head.loss_as_given or losses.serialize(head.loss) if head.scored else None
                             for head in heads],
                    "loss_weights": [head.weight for head in heads], "optimizer": optimizers.serialize(self.optimizer),
                    **_per_output_settings([metric_settings(each_output_metrics(self._compiled_metrics, head)) for head in heads]),
                    **({"loss_config": settings} if any(settings) else {})}
        # compile(loss=None) on add_loss terms alone: None, as Keras' compile config has it
        only_terms = getattr(self.loss, "added_losses_only", False)
        return {
            "loss": None if only_terms else self._loss_as_given or losses.serialize(self.loss),
            "optimizer": optimizers.serialize(self.optimizer),
            # a name each, or {"class_name", "config"} for a Precision, Recall or AUC with settings
            **metric_settings(self._compiled_metrics, getattr(self, "_given_metric_names", None)),
            # settings of a built-in loss other than its defaults, for from_config (a model
            # file, which names the loss only, refuses them: see glassnet._saveable)
            **({"loss_config": settings} if (settings := losses.changed_settings(self.loss)) else {}),
            # compile's loss_weights of the one output, when it weighs the loss (one per output for several)
            **({"loss_weights": self._loss_weight} if self._loss_weight != 1.0 else {})}

    @staticmethod
    def _config_layers(config, layers):
        """``layers`` with the config's Input, if it declared one, in front."""
        if config.get("input") is None:
            return layers
        # (a config written before Inputs kept their batch size has none: any batch)
        size = check_file_batch_size(config.get("input_batch_size"), "'input_batch_size'")
        return [InputLayer(config["input"], name=config.get("input_name"), dtype=config.get("input_dtype"),
                           batch_size=size), *layers]

    @classmethod
    def _from_config_layers(cls, config, layers):
        """The model of ``config`` made of ``layers`` (made from its layer configs, not built): a
        Sequential, or a functional Model when the config says how the layers connect
        (``inbound``), built for its input shape."""
        settings = dict(seed=config.get("seed"), dtype=config.get("dtype", "float32"))
        from .graph import Model
        if config.get("inbound") is not None:
            # a subclass of Model rebuilds itself, unless it draws its graph in call (a functional
            # Model of the same graph then, as load_model gives)
            target = cls if issubclass(cls, Model) and not callable(getattr(cls, "call", None)) else Model
            return target._from_layers(layers, config["inbound"], config.get("inputs"), config.get("calls"),
                                       config.get("outputs"), config.get("modes"), config.get("options"),
                                       config.get("input_keys"), config.get("layer_order"),
                                       config.get("added_losses"), config.get("output_models"),
                                       config.get("nested"), config.get("output_nesting"),
                                       name=config.get("name", "model"), **settings)
        if issubclass(cls, Model):
            raise ValueError(f"{cls.__name__}.from_config: the config describes a Sequential (it has no graph, "
                             f"'inbound'); rebuild it with Sequential.from_config")
        # the models nested in it, made again on their layers before it builds them (glassnet._nested_configs)
        nested = None if config.get("nested") is None else _nested_configs().made_models(config["nested"], layers)
        if config.get("graph") is not None:        # a functional Model nested: its calls join with their graph
            model = cls._made(cls._config_layers(config, []), name=config.get("name", "sequential"), **settings)
            block = check_graph_config(config["graph"], layers)
            outputs = check_graph_outputs(config["graph"], len(block[0]))
            if outputs is not None:         # a last layer of several outputs: their heads, before the build
                calls, keys, shapes = outputs
                model._heads = make_heads([layers[block[0][k]] for k in calls], calls, shapes,
                                          None if keys is None else sorted(keys))
                model._output_keys = keys
            # nodes reading a block's add_weight weights: to their CallWeights, by name (a functional
            # Model's config links them in _from_layers; unlinked, the model read back failed at its
            # first pass)
            from ._call_weights import link
            link(layers)
            model._add_layers(layers, block)
            if config["graph"].get("added_losses") is not None:       # each call stands as a marker
                markers = [object() for _ in model._node_layers]
                terms = _added_loss_files().terms_from_config(config["graph"]["added_losses"], markers)
                from .added_losses import Terms
                model._loss_terms = Terms(terms, {id(marker): k for k, marker in enumerate(markers)})
            if outputs is not None:
                model._shared_outputs = {h.call: h for h in model._heads if id(h.layer) in model._shared}
            key = config.get("output_key")
            if key is not None:
                if not isinstance(key, str) or not key:
                    raise ValueError(f"config: 'output_key' must name the dict output of the model's last "
                                     f"layer, a non-empty string; got {key!r:.60}")
                if outputs is None:     # (several outputs are keyed by "outputs"; configs written by the
                    model._dict_output = (key, model._output_layer)     # first version beside them: ignored)
        else:
            # (a chain of a drawn call's nodes, its "graph" left out: linked too, or refused by name,
            # rather than loaded to fail at its first pass, "the weight scale/w is not linked")
            from ._call_weights import link
            link(layers)
            model = cls._made(cls._config_layers(config, layers), name=config.get("name", "sequential"), **settings)
        model._build_from_config_shape(config.get("input_shape"))
        if nested is not None:
            _nested_configs().sequential_records(model, nested)
        return model

    @classmethod
    def _made(cls, layers, **settings):
        """``cls(layers, **settings)``; for a Sequential subclass of the user's named by a file, its
        constructor refusing Sequential's arguments is the file's reader's error, named."""
        if not subclass_files.is_own_sequential(cls):
            return cls(layers, **settings)
        try:
            model = cls(layers, **settings)
        except Exception as exc:
            raise ModelFileError(f"{cls.__name__}, a subclass of Sequential, is made again from a file as Keras' "
                                 f"Sequential.from_config makes it, by its constructor given the layers, name, seed "
                                 f"and dtype: {cls.__name__}(layers, name=..., seed=..., dtype=...) failed "
                                 f"({type(exc).__name__}: {str(exc)[:200]}); let its __init__ take them on to "
                                 f"Sequential's (**kwargs)") from exc
        if [id(layer) for layer in model.layers] != [id(layer) for layer in layers if not isinstance(layer, InputLayer)]:
            raise ModelFileError(f"{cls.__name__}, made again by its constructor from the file's layers, holds "
                                 f"other layers than those given ({len(model.layers)} for {len(layers)}): its "
                                 f"__init__ must hand its layers argument to Sequential's")
        return model

    def _build_from_config_shape(self, shape):
        """Build for a config's ``input_shape`` (a model without layers has nothing to build)."""
        if shape and self.layers and not self.built:
            # a sample's shape, as get_config writes it: a leading None is a length of any size
            self._build_samples(_sample_shape(shape, "config: input_shape", input_dim_hint=False))

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild (and compile) a model from ``get_config()``; the weights are new.
        ``custom_objects`` (Keras'): ``{registered name: class or function}`` for the objects of
        your own the config names and the registry lacks (see ``glassnet.saving``)."""
        with saving.scope_of(custom_objects, f"{cls.__name__}.from_config"):
            return cls._from_config(config)

    @classmethod
    def _from_config(cls, config):
        from ._keras_models import keras_model_spec
        keras = keras_model_spec(cls, config)
        if keras is not None:       # Keras 3's keras_model.get_config(): glassnet._keras_models
            from .io import JSON_MAX_PARAMS, _keras_errors
            from ._keras_models import model_from_keras
            with _keras_errors(f"{cls.__name__}.from_config"):
                return model_from_keras(keras, f"{cls.__name__}.from_config", JSON_MAX_PARAMS,
                                        f"glassnet's cap for a config ({JSON_MAX_PARAMS} values) allows")
        if isinstance(config, dict) and config.get("subclass") is not None:
            # a subclass of the user's: made again when the class is given or registered (its
            # constructor, or its graph for a functional one), else the functional Model, with a warning
            from . import _subclass_files as subclass_files
            found, spec = subclass_files.resolve(config, f"{cls.__name__}.from_config", given=cls)
            made = subclass_files.construct(found, spec, f"{cls.__name__}.from_config")
            if made is not None:
                if config.get("compile"):
                    made.compile(**compile_arguments(config["compile"]))
                return made
            graph = subclass_files.graph_class(found, spec)
            config = {key: value for key, value in config.items() if key != "subclass"}
            if graph is not None and graph is not cls:
                return graph._from_config(config)
        layers = []
        for spec in config["layers"]:
            layer = get_layer_class(spec["class_name"]).from_config(spec["config"])
            take_seed_origin(layer, spec)
            # glassnet writes the flag beside the layer's config; Keras' configs hold it inside
            trainable = spec.get("trainable", layer.trainable)
            if not isinstance(trainable, bool):
                raise ValueError(f"config: a layer's 'trainable' must be true or false, got {trainable!r:.50}")
            layer.trainable = trainable
            layers.append(layer)
        model = cls._from_config_layers(config, layers)
        if config.get("compile"):
            model.compile(**compile_arguments(config["compile"]))
        return model


def take_seed_origin(layer, spec):
    """Give ``layer``, made from the config entry ``spec``, the origins of its streams that the
    entry's ``"seed_origin"`` records, for the model it joins (``Sequential._name_and_seed``); a
    config without one (older files, most models) leaves it to draw from that model's streams."""
    if "seed_origin" in spec:
        weights, draws = _seeding.read_origin_config(spec["seed_origin"], f"config: layer {layer.name!r}")
        layer._config_origins = weights, draws


def _built_count(layer):
    """``layer.count_params()``, 0 for a layer not built yet (which refuses it): Keras' summary
    counts the weights made so far, and a layer not built has none."""
    return layer.count_params() if _counts(layer) else 0


def _counts(layer):
    # (a model among the layers, not a Layer: counted once built)
    counts = getattr(layer, "counts_before_build", None)
    return counts() if counts is not None else layer.built


def _added_loss_files():
    """glassnet._added_loss_files, imported when a model with add_loss terms is described or read
    (not at ``import glassnet``: most models have none)."""
    from . import _added_loss_files
    return _added_loss_files


def _nested_configs():
    """glassnet._nested_configs, imported when a config of nested models is read."""
    from . import _nested_configs
    return _nested_configs

