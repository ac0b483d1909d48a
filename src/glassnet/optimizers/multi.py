"""Keras 3's ``MultiOptimizer`` and ``OptimizerMap``: each weight stepped by an optimizer of its own.

``OptimizerMap(default_optimizer, {pattern: optimizer})`` picks a weight's optimizer by its path
(``"sequential/dense/kernel"``, Keras' ``variable.path``: see ``weight_paths``): the pattern equal
to it, else the one pattern that ``re.fullmatch``-es it (ValueError for several), else the default.
``MultiOptimizer(optimizer_map)`` takes such a map, or a callable ``f(weight) -> Optimizer``
(``weight.path``, ``.name``, ``.shape``, ``.dtype``), and at every step hands each sub-optimizer the
weights it was given, laid end to end.

A model steps its trained weights as one flat buffer (glassnet.parameters). Each sub-optimizer gets
its part: a view when its weights are one run of the buffer (the usual encoder/head split), else a
gathered copy written back after its step. Its state is its own (Adam's m and v of its weights
only), kept under the model's key; clipping, weight decay, schedules, gradient accumulation and
``use_ema`` are each sub-optimizer's, as in Keras. ``iterations`` counts the calls of ``apply``.

A model file holds the map (each optimizer's config) and every sub-optimizer's state as arrays
laid out like the model's weights (slot ``"<i>/<slot>"``: the i-th of ``optimizers``, zeros over the
weights of the others) and its step counts as scalars (``"<i>/iterations"``). The callable form is
code, which files never hold: ``save`` refuses it by name (Keras writes a lambda's bytecode and
refuses to load it without ``safe_mode=False``).
"""
import re
from collections.abc import MutableMapping

import numpy as np

from .. import backend
from . import _shared, _ungraded
from .base import COMMON, Optimizer, _checked_parked, check_patterns, keras_apply_form


class OptimizerMap(MutableMapping):
    """``{pattern: Optimizer}`` with a default: ``opt_map[path]`` is the optimizer of the weight at
    ``path`` (Keras' ``keras.optimizers.OptimizerMap``).

    default_optimizer : Optimizer, for the weights no pattern matches.
    optimizer_map : dict ``{pattern: Optimizer}`` or None; patterns are regular expressions
        matched against the whole path (``re.fullmatch``): ``"encoder/.*"`` takes every weight of
        a model or layer named ``encoder``, ``"encoder"`` only a weight at exactly that path.

    >>> from glassnet import optimizers
    >>> m = OptimizerMap(optimizers.SGD(), {"encoder/.*": optimizers.Adam()})
    >>> m["encoder/dense/kernel"].name, m["head/kernel"].name
    ('adam', 'sgd')
    """

    def __init__(self, default_optimizer, optimizer_map=None):
        if not isinstance(default_optimizer, Optimizer) or isinstance(default_optimizer, MultiOptimizer):
            raise TypeError(f"OptimizerMap: default_optimizer must be an Optimizer (not a MultiOptimizer), got "
                            f"{default_optimizer!r:.100}")
        if optimizer_map is not None and not isinstance(optimizer_map, dict):
            raise TypeError(f"OptimizerMap: optimizer_map must be a dict {{pattern: Optimizer}} or None, got "
                            f"{type(optimizer_map).__name__}")
        self._default_optimizer = default_optimizer
        self._optimizer_map = {}
        for pattern, optimizer in (optimizer_map or {}).items():
            self[pattern] = optimizer

    @property
    def default_optimizer(self):
        return self._default_optimizer

    def __getitem__(self, path):
        """The optimizer of the weight at ``path``: an exact key first, then the one pattern that
        ``re.fullmatch``-es the path (ValueError when several do), else ``default_optimizer``."""
        if path in self._optimizer_map:
            return self._optimizer_map[path]
        matching = [pattern for pattern in self._optimizer_map if re.fullmatch(pattern, path)]
        if len(matching) > 1:
            raise ValueError(f"OptimizerMap: the weight {path!r:.100} matches several patterns, {matching!r:.200}; "
                             f"each weight takes one optimizer: make the patterns exclusive")
        return self._optimizer_map[matching[0]] if matching else self._default_optimizer

    def __setitem__(self, pattern, optimizer):
        if not isinstance(pattern, str):
            raise ValueError(f"OptimizerMap: a key must be a string (a weight path or a regular expression), got "
                             f"{pattern!r:.60}")
        if pattern in self._optimizer_map:
            raise ValueError(f"OptimizerMap: {pattern!r:.100} is already mapped to {self._optimizer_map[pattern]!r:.80}; "
                             f"keys may not repeat")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"OptimizerMap: the key {pattern!r:.100} is not a regular expression ({exc})") from None
        if not isinstance(optimizer, Optimizer):
            raise ValueError(f"OptimizerMap: the optimizer of {pattern!r:.100} must be an Optimizer instance, got "
                             f"{optimizer!r:.100}")
        if isinstance(optimizer, MultiOptimizer):
            raise ValueError(f"OptimizerMap: the optimizer of {pattern!r:.100} cannot be a MultiOptimizer")
        self._optimizer_map[pattern] = optimizer

    def __delitem__(self, pattern):
        del self._optimizer_map[pattern]

    def __len__(self):
        return len(self._optimizer_map)

    def __iter__(self):
        return iter(self._optimizer_map)

    def __call__(self, weight):
        """The optimizer of ``weight`` (anything with a ``path``: what MultiOptimizer passes)."""
        return self[weight.path]

    def get_config(self):
        from . import serialize
        return {"default_optimizer": serialize(self._default_optimizer),
                "optimizer_map": {pattern: serialize(opt) for pattern, opt in self._optimizer_map.items()}}

    @classmethod
    def from_config(cls, config):
        """The map ``get_config`` described; every pattern is checked (a model file's patterns could
        otherwise take ``re`` very long to match: ``base.check_patterns``)."""
        from . import from_config
        if not isinstance(config, dict) or not isinstance(config.get("optimizer_map", {}), dict) \
                or "default_optimizer" not in config:
            raise ValueError(f"OptimizerMap.from_config: expected {{'default_optimizer': config, 'optimizer_map': "
                             f"{{pattern: config}}}}, got {config!r:.200}")
        patterns = dict(config.get("optimizer_map") or {})
        check_patterns(list(patterns), "OptimizerMap: optimizer_map's patterns")
        return cls(from_config(config["default_optimizer"]),
                   {pattern: from_config(entry) for pattern, entry in patterns.items()})

    def __repr__(self):
        return f"<OptimizerMap default={self._default_optimizer!r} {self._optimizer_map!r:.300}>"


class Weight:
    """What a callable ``optimizer_map`` receives for each trained weight (Keras passes the
    variable): ``path`` (``"sequential/dense/kernel"``), ``name`` (``"kernel"``), ``shape``, ``dtype``."""
    __slots__ = ("path", "name", "shape", "dtype")

    def __init__(self, path, shape, dtype):
        self.path, self.name, self.shape, self.dtype = path, path.rpartition("/")[2], tuple(shape), np.dtype(dtype)

    def __repr__(self):
        return f"<Weight path={self.path!r} shape={self.shape} dtype={self.dtype}>"


class MultiOptimizer(Optimizer):
    """Each weight stepped by the optimizer ``optimizer_map`` gives it (Keras 3's
    ``keras.optimizers.MultiOptimizer``; see the module docstring).

    optimizer_map : an ``OptimizerMap``, or a callable ``f(weight) -> Optimizer`` called once per
        weight of each layout (``weight.path``, ``.name``, ``.shape``, ``.dtype``); not saveable.
    loss_scale_factor : None only (glassnet has no loss scaling).
    name : None or a str, kept in the config as Keras keeps it.

    ``optimizers`` lists the sub-optimizers (the map's, then its default, then any the callable
    returns, in the order met); ``learning_rate`` is refused (each has its own), as are the
    clipping, decay, averaging and accumulation settings: give them to the sub-optimizers.

    >>> from glassnet import optimizers
    >>> opt = MultiOptimizer(OptimizerMap(optimizers.SGD(momentum=0.9), {"encoder/.*": optimizers.Adam()}))
    >>> [o.name for o in opt.optimizers]
    ['adam', 'sgd']
    """
    name = "multi_optimizer"       # (optimizers.MULTI_NAME: the name configs give the wrapper)
    hyper_parameters = {}
    always_slots = ()

    def __init__(self, optimizer_map, loss_scale_factor=None, name=None):
        if not (isinstance(optimizer_map, OptimizerMap) or callable(optimizer_map)) \
                or isinstance(optimizer_map, Optimizer):
            raise TypeError(f"MultiOptimizer: optimizer_map must be an OptimizerMap or a callable "
                            f"f(weight) -> Optimizer, got {optimizer_map!r:.100}")
        if loss_scale_factor is not None:
            raise ValueError(f"MultiOptimizer: loss_scale_factor={loss_scale_factor!r:.40} is not supported by "
                             f"glassnet (it has no loss scaling); only None, Keras' default")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"MultiOptimizer: name must be a str or None, got {type(name).__name__}")
        object.__setattr__(self, "optimizer_map", optimizer_map)
        object.__setattr__(self, "instance_name", name)
        object.__setattr__(self, "_inner", [])
        if isinstance(optimizer_map, OptimizerMap):
            for opt in (*optimizer_map.values(), optimizer_map.default_optimizer):
                self._adopt(opt)
        object.__setattr__(self, "_paths", {})
        object.__setattr__(self, "_file_paths", {})
        self.reset()

    # -- what Keras refuses or delegates -------------------------------------------------------------
    @property
    def optimizers(self):
        return list(self._inner)

    @property
    def learning_rate(self):
        raise AttributeError("MultiOptimizer: learning_rate cannot be read on a MultiOptimizer: each of its "
                             "optimizers (.optimizers) has its own; read theirs")

    @property
    def use_ema(self):
        return any(opt.use_ema for opt in self._inner)

    def __setattr__(self, name, value):
        if name == "learning_rate" or name in COMMON:
            raise AttributeError(f"MultiOptimizer: {name} cannot be set on a MultiOptimizer: set it on its "
                                 f"optimizers (.optimizers), which each have their own")
        object.__setattr__(self, name, value)

    def _adopt(self, opt):
        """Index of ``opt`` among the sub-optimizers, added at the end when new (by identity)."""
        if not isinstance(opt, Optimizer) or isinstance(opt, MultiOptimizer):
            raise ValueError(f"MultiOptimizer: optimizer_map gave {opt!r:.100}, expected an Optimizer instance "
                             f"(not a MultiOptimizer)")
        for i, known in enumerate(self._inner):
            if known is opt:
                return i
        self._inner.append(opt)
        return len(self._inner) - 1

    # -- which weights each sub-optimizer steps ---------------------------------------------------------
    def register_paths(self, key, paths):
        """Tell the optimizer the Keras paths of the weights laid end to end under ``key`` (a model
        does before each step: ``ParametersMixin._weight_paths``)."""
        saved = self._file_paths.get(key)
        if saved is not None and len(saved) == len(paths):
            # a model file keeps no nested models (its layers join the loaded model), so the loaded
            # weights lose their scope ("encoder/dense/kernel" -> "dense/kernel"): the paths they had
            # when saved, which the file's config holds, pick their optimizers as before
            paths = saved
        elif saved is not None:
            # fewer or more weights trained than when saved (a layer frozen or unfrozen since): each
            # weight's saved path is the one equal to its path, else the one ending in it, else its
            # own (a weight not trained then), so that "encoder/.*" still finds the encoder's
            paths = [self._saved_path(path, saved) for path in paths]
        self._paths[key] = paths

    @staticmethod
    def _saved_path(path, saved):
        """``path``'s path when saved, among ``saved``: equal to it, else the one ending in
        ``"/" + path`` (when several do, none: ``path`` itself)."""
        if path in saved:
            return path
        scoped = [p for p in saved if p.endswith("/" + path)]
        return scoped[0] if len(scoped) == 1 else path

    def _plan(self, i, key, param, sizes, names, shapes):
        """``[(sub index, runs, sizes, names, shapes, size), ...]`` for the triple ``i``: each
        sub-optimizer's whole weights in ``param`` (``runs``: ``(start, stop)``, adjacent ones merged)."""
        each_size = [param.size] if sizes is None else [int(n) for n in sizes[i]]
        each_name = [key] if names is None else list(names[i])
        each_shape = [tuple(param.shape)] if shapes is None else [tuple(s) for s in shapes[i]]
        if shapes is None and len(each_size) > 1:
            each_shape = [(n,) for n in each_size]
        paths = list(self._paths.get(key) or each_name)
        if not len(paths) == len(each_name) == len(each_size) == len(each_shape) or sum(each_size) != param.size:
            raise ValueError(f"MultiOptimizer.apply: sizes, names and shapes must give, for each array, the weights "
                             f"laid end to end in it (adding up to its {param.size} values), got {len(each_size)} "
                             f"sizes adding up to {sum(each_size)}, {len(each_name)} names, {len(paths)} paths")
        signature = (tuple(paths), tuple(each_size), tuple(each_shape), param.dtype.str)
        cached = self._plans.get(key)
        if cached is not None and cached[0] == signature:
            return cached[1]
        parts, start = {}, 0
        for path, name, size, shape in zip(paths, each_name, each_size, each_shape):
            j = self._adopt(self.optimizer_map(Weight(path, shape, param.dtype)))
            runs, s_sizes, s_names, s_shapes = parts.setdefault(j, ([], [], [], []))
            if runs and runs[-1][1] == start:
                runs[-1] = (runs[-1][0], start + size)
            else:
                runs.append((start, start + size))
            s_sizes.append(size), s_names.append(name), s_shapes.append(shape)
            start += size
        plan = [(j, tuple(runs), s_sizes, s_names, s_shapes, sum(s_sizes))
                for j, (runs, s_sizes, s_names, s_shapes) in sorted(parts.items())]
        self._plans[key] = (signature, plan, tuple(param.shape))
        return plan

    def _part(self, key, j, array, runs, size, which):
        """The part of ``array`` at ``runs`` (``size`` values): the array itself when it is all of
        it, a 1-D view when one run, else a gathered copy in a buffer kept per (key, sub, which)."""
        if runs == ((0, array.size),):
            return array, False
        flat = array.reshape(-1) if array.flags.c_contiguous else None
        if flat is not None and len(runs) == 1:
            return flat[runs[0][0]:runs[0][1]], False
        buffer = self._scratch.get((key, j, which))
        if buffer is None or buffer.size != size or buffer.dtype != array.dtype:
            buffer = self._scratch[(key, j, which)] = backend.get_array_module(array).empty(size, array.dtype)
        source, at = array.reshape(-1) if flat is None else flat, 0
        for start, stop in runs:
            buffer[at:at + stop - start] = source[start:stop]
            at += stop - start
        return buffer, True

    @staticmethod
    def _scatter(part, array, runs):
        """Write a gathered ``part`` back into ``array`` at ``runs``."""
        flat, at = array.reshape(-1), 0        # (a weight not laid out in C order was copied whole: see _part)
        for start, stop in runs:
            flat[start:stop] = part[at:at + stop - start]
            at += stop - start

    @staticmethod
    def _local(spans, runs):
        """``spans`` (``(start, stop)`` in the whole array) within ``runs``, in the part's coordinates."""
        local, at = [], 0
        for start, stop in runs:
            for a, b in spans:
                lo, hi = max(a, start), min(b, stop)
                if lo < hi:
                    local.append((at + lo - start, at + hi - start))
            at += stop - start
        return local

    def _sub_layout(self, key, j, runs):
        """The shared-weight layout (``_shared``) of sub-optimizer ``j``'s part of ``key``: the
        entries of its weights, at their places in the part; the same tuple while the layout is."""
        entries = (self._weight_layouts or {}).get(key)
        if not entries:
            return None
        cached = self._sub_layouts.get((key, j))
        if cached is not None and cached[0] is entries and cached[1] == runs:
            return cached[2]
        mine = []
        for weight, start, stop, layer in entries:
            local = self._local([(start, stop)], runs)
            if local and local[0][1] - local[0][0] == stop - start:
                mine.append((weight, local[0][0], local[0][1], layer))
        mine = tuple(mine)
        self._sub_layouts[(key, j)] = (entries, runs, mine)
        return mine

    # -- the step -------------------------------------------------------------------------------------
    def apply(self, triples, sizes=None, names=None, shapes=None):
        """One step: each sub-optimizer's ``apply`` on its part of every triple (see the class)."""
        if keras_apply_form(triples, sizes):     # Keras 3's apply(grads, trainable_variables)
            return self._keras_apply(triples, sizes)
        triples = self._checked(triples)
        ungraded = self._ungraded or {}
        calls, written = {}, []
        for i, (key, param, grad) in enumerate(triples):
            for j, runs, s_sizes, s_names, s_shapes, size in self._plan(i, key, param, sizes, names, shapes):
                p, gathered = self._part(key, j, param, runs, size, "param")
                g, _ = self._part(key, j, grad, runs, size, "grad")
                if gathered:
                    written.append((p, param, runs))
                call = calls.setdefault(j, ([], [], [], [], {}))
                call[0].append((key, p, g))
                call[1].append(s_sizes), call[2].append(s_names), call[3].append(s_shapes)
                spans = self._local(ungraded.get(key, ()), runs)
                if spans:
                    call[4][key] = spans
                layout = self._sub_layout(key, j, runs)
                if layout is not None:
                    _shared.register(self._inner[j], key, layout)
        if self._pending is not None:
            self._take_pending()
        for j, (sub_triples, s_sizes, s_names, s_shapes, spans) in sorted(calls.items()):
            with _ungraded.ungraded(self._inner[j], spans):
                self._inner[j].apply(sub_triples, s_sizes, s_names, shapes=s_shapes)
        for part, param, runs in written:
            self._scatter(part, param, runs)
        object.__setattr__(self, "iterations", self.iterations + 1)

    def finalize_variable_values(self, var_list):
        """With a sub-optimizer's ``use_ema``: its weights set to their moving averages (Keras'
        method), the others left. ``var_list``: a model's ``trainable_weights`` or the triples
        ``apply`` was given."""
        var_list = list(var_list)
        if not all(isinstance(item, tuple) and len(item) == 3 for item in var_list):
            from .._tape_weights import owner
            models = {id(m): m for m in (owner(w) for w in var_list)}
            if len(models) != 1 or None in models.values():
                raise TypeError("MultiOptimizer.finalize_variable_values: expected a model's trainable_weights "
                                "(one model's) or the (key, param, grad) triples apply was given")
            var_list = next(iter(models.values()))._triples
        for key, param, _ in var_list:
            cached = self._plans.get(key)
            for j, runs, _, _, _, size in (cached[1] if cached else ()):
                if not self._inner[j].use_ema:
                    continue
                p, gathered = self._part(key, j, param, runs, size, "param")
                self._inner[j].finalize_variable_values([(key, p, None)])
                if gathered:
                    self._scatter(p, param, runs)

    # -- state ----------------------------------------------------------------------------------------
    @property
    def slot_names(self):
        return self.kept_slots()

    @property
    def non_negative_slots(self):
        return tuple(f"{j}/{s}" for j, opt in enumerate(self._inner) for s in opt.non_negative_slots)

    @property
    def scalar_names(self):
        return tuple(f"{j}/{s}" for j, opt in enumerate(self._inner)
                     for s in ("iterations", "accumulated_steps", *opt.scalar_names))

    def kept_slots(self):
        return tuple(f"{j}/{s}" for j, opt in enumerate(self._inner) for s in opt.kept_slots())

    def required_slots(self, iterations):
        return ()       # (a sub-optimizer may have no weights; each checks its own state at set_state)

    def get_state(self):
        """``{"iterations", "slots": {key: {"<j>/<slot>": array shaped like key's weights}},
        "scalars": {"<j>/iterations": ..., ...}}``: every sub-optimizer's state laid out like the
        weights (zeros over the other sub-optimizers' weights), as model files hold a state."""
        states = [opt.get_state() for opt in self._inner]
        if self._pending is not None:
            return self._with_record({"iterations": self.iterations, "scalars": dict(self._pending["scalars"]),
                                      "slots": {k: dict(v) for k, v in self._pending["slots"].items()}}, states)
        slots = {}
        for key, (_, plan, shape) in self._plans.items():
            # (a key of no array, nothing trained: listed all the same, so that its record, empty,
            # places the parked state set_state gives on a model laid out otherwise: _state_weights)
            slots[key] = {}
            for j, runs, _, _, _, size in plan:
                for slot, a in states[j]["slots"].get(key, {}).items():
                    if a.size != size:
                        raise TypeError(f"MultiOptimizer: {type(self._inner[j]).__name__} keeps its {slot!r} state "
                                        f"in another shape than its weights' (factored), which a model file of a "
                                        f"MultiOptimizer cannot lay out; use another optimizer there to save")
                    full = backend.get_array_module(a).zeros(shape, a.dtype)
                    self._scatter(a.reshape(-1), full, runs)
                    slots.setdefault(key, {})[f"{j}/{slot}"] = full
        scalars = {}
        for j, (opt, state) in enumerate(zip(self._inner, states)):
            scalars[f"{j}/iterations"] = float(state["iterations"])
            scalars[f"{j}/accumulated_steps"] = float(state.get("accumulated_steps", 0))
            scalars.update({f"{j}/{name}": float(v) for name, v in state.get("scalars", {}).items()})
        return self._with_record({"iterations": self.iterations, "slots": slots, "scalars": scalars}, states)

    def _with_record(self, state, states):
        """``state`` with its ``"parked"`` (``_with_parked``) and ``"weights"``: the weights each key's
        arrays are laid out along (glassnet._state_weights)."""
        from .._state_weights import RECORD, record
        state = self._with_parked(state, states)
        weights = record(self, state["slots"])
        return {**state, RECORD: weights} if weights else state

    @staticmethod
    def _with_parked(state, states):
        """``state`` with ``"parked"``: the sub-optimizers' (``states``) state of weights frozen or
        popped after training (glassnet._parked_state), by weight name, slots ``"<j>/<slot>"``."""
        parked = {}
        for j, each in enumerate(states):
            for name, pieces in each.get("parked", {}).items():
                parked.setdefault(name, {}).update({f"{j}/{slot}": piece for slot, piece in pieces.items()})
        return {**state, "parked": parked} if parked else state

    def set_state(self, state):
        """Take a state ``get_state`` gave: the step counts now, the arrays at the next step (when
        the weights' places in each key's arrays are known again)."""
        from .._state_weights import checked, keep
        weights = checked(state, "MultiOptimizer", self)      # (refused before anything changes)
        slots, scalars = state.get("slots", {}), state.get("scalars", {})
        parked = {}             # {"<j>": {weight name: {slot: piece}}}: each sub-optimizer's
        for name, pieces in _checked_parked(state.get("parked"), "MultiOptimizer").items():
            for slot, piece in pieces.items():
                j, _, own = slot.partition("/")
                if not (j.isdigit() and int(j) < len(self._inner) and own in self._inner[int(j)].kept_slots()):
                    raise ValueError(f"MultiOptimizer.set_state: the parked state {slot!r:.60} of {name!r:.60} names "
                                     f"no state of its optimizers ({list(self.kept_slots())!r:.200})")
                parked.setdefault(j, {}).setdefault(name, {})[own] = piece
        counts = {}
        for j, opt in enumerate(self._inner):
            counts[j] = {}
            for name in ("iterations", "accumulated_steps"):
                value = scalars.get(f"{j}/{name}", 0.0)
                if not float(value).is_integer() or value < 0:
                    raise ValueError(f"MultiOptimizer.set_state: {j}/{name} must be a whole number >= 0, got {value!r:.40}")
                counts[j][name] = int(value)
            own = {name.partition("/")[2]: float(v) for name, v in scalars.items() if name.startswith(f"{j}/")
                   and name.partition("/")[2] not in ("iterations", "accumulated_steps")}
            opt.set_state({"iterations": counts[j]["iterations"], "slots": {}, "scalars": own,
                           "accumulated_steps": counts[j]["accumulated_steps"], "parked": parked.get(str(j), {})})
        for key, named in slots.items():
            for name in named:
                j, _, slot = name.partition("/")
                if not (j.isdigit() and int(j) < len(self._inner) and slot in self._inner[int(j)].kept_slots()):
                    raise ValueError(f"MultiOptimizer.set_state: the state {name!r:.60} of {key!r:.60} names no "
                                     f"state of its optimizers ({list(self.kept_slots())!r:.200})")
        object.__setattr__(self, "iterations", int(state["iterations"]))
        object.__setattr__(self, "_parked", {})     # (frozen weights' state parked before: glassnet._state_carry)
        pending = {"slots": {key: {name: backend.get_array_module(a).array(a) for name, a in named.items()}
                             for key, named in slots.items()},
                   "scalars": dict(scalars), "counts": counts}
        object.__setattr__(self, "_pending", pending)
        # the weights the arrays are laid out along, where the state says: placed per weight on the
        # model stepping them, now or at its next layout (glassnet._state_weights)
        keep(self, weights, pending["slots"])

    def _take_pending(self):
        """Hand each sub-optimizer its part of a state set with ``set_state`` (the plans known now)."""
        pending = self._pending
        for j, opt in enumerate(self._inner):
            sub_slots = {}
            for key, named in pending["slots"].items():
                cached = self._plans.get(key)
                for k, runs, _, _, _, size in (cached[1] if cached else ()):
                    if k != j:
                        continue
                    for name, a in named.items():
                        if name.startswith(f"{j}/"):
                            part, _ = self._part(key, j, a, runs, size, "state")
                            sub_slots.setdefault(key, {})[name.partition("/")[2]] = part.copy()
            own = {name.partition("/")[2]: v for name, v in pending["scalars"].items() if name.startswith(f"{j}/")
                   and name.partition("/")[2] not in ("iterations", "accumulated_steps")}
            held = {name: opt.__dict__[name] for name in ("_parked", "_parked_names", "_parked_names_mark")
                    if name in opt.__dict__}        # (set_state gave them: glassnet._parked_state)
            opt.set_state({"iterations": pending["counts"][j]["iterations"], "slots": sub_slots, "scalars": own,
                           "accumulated_steps": pending["counts"][j]["accumulated_steps"]})
            opt.__dict__.update(held)
        object.__setattr__(self, "_pending", None)

    def reset(self):
        """Forget all state, every sub-optimizer's too (a new layout of the weights, a new compile)."""
        for opt in self._inner:
            opt.reset()
        for name, value in (("iterations", 0), ("accumulated_steps", 0), ("slots", {}), ("_scratch", {}),
                            ("_plans", {}), ("_sub_layouts", {}), ("_pending", None), ("_weight_layouts", {}),
                            ("_spans", {}), ("_parked", {})):
            object.__setattr__(self, name, value)
        self.__dict__.pop("_state_weights", None)      # (a state's record: glassnet._state_weights)
        _shared.forget(self)

    def check_search_cost(self, names):
        for opt in self._inner:
            opt.check_search_cost(names)

    # -- config ---------------------------------------------------------------------------------------
    def get_config(self):
        """``{"name": "multi_optimizer", "optimizer_map": OptimizerMap config}`` (and ``"instance_name"``
        when one was given). A callable ``optimizer_map`` is code: TypeError."""
        if not isinstance(self.optimizer_map, OptimizerMap):
            raise TypeError(f"MultiOptimizer: its optimizer_map is a callable "
                            f"({getattr(self.optimizer_map, '__name__', type(self.optimizer_map).__name__)}), code "
                            f"that a model file or config cannot hold; give an OptimizerMap of patterns instead, "
                            f"or save the weights only (model.save_weights)")
        config = {"name": self.name, "optimizer_map": self.optimizer_map.get_config()}
        if self.instance_name is not None:
            config["instance_name"] = self.instance_name
        paths = {key: list(p) for key, p in self._paths.items() if isinstance(key, str)}
        if paths:           # (the weights' paths at the last step: see register_paths)
            config["weight_paths"] = paths
        # the state is saved per index in ``optimizers``, whose order a loaded map could not give
        # again where one optimizer was given to several patterns (or to one and as the default:
        # the config holds it once per entry, which would load as several optimizers, the state
        # the first's only) or a pattern was added to the map after the MultiOptimizer was made
        # (its optimizer came after the default): each entry's index (the default's last) then
        entries = (*self.optimizer_map.values(), self.optimizer_map.default_optimizer)
        indices = [self._adopt(entry) for entry in entries]
        if indices != list(range(len(entries))):
            config["optimizer_indices"] = indices
        return config

    @classmethod
    def from_config(cls, config):
        if not isinstance(config, dict) or "optimizer_map" not in config:
            raise ValueError(f"MultiOptimizer.from_config: expected {{'optimizer_map': {{...}}}}, got {config!r:.200}")
        unknown = sorted(set(config) - {"name", "optimizer_map", "instance_name", "loss_scale_factor", "weight_paths",
                                        "optimizer_indices"})
        if unknown:
            raise ValueError(f"MultiOptimizer.from_config: unexpected key {unknown[0]!r:.60}")
        entry = config["optimizer_map"]
        if isinstance(entry, dict) and entry.get("class_name") == "OptimizerMap":      # Keras' serialize form
            entry = entry.get("config")
        optimizer_map = OptimizerMap.from_config(entry)
        indices = config.get("optimizer_indices")
        if indices is not None:         # (entries sharing one optimizer: see get_config)
            entries = (*optimizer_map.values(), optimizer_map.default_optimizer)
            if not (isinstance(indices, list) and len(indices) == len(entries)
                    and all(isinstance(j, int) and 0 <= j < len(entries) for j in indices)):
                raise ValueError(f"MultiOptimizer.from_config: optimizer_indices must give one index per entry of "
                                 f"optimizer_map and its default ({len(entries)}), got {indices!r:.200}")
            first = {}
            for j, opt in zip(indices, entries):
                first.setdefault(j, opt)
            if sorted(first) != list(range(len(first))):
                raise ValueError(f"MultiOptimizer.from_config: optimizer_indices must number the optimizers 0, "
                                 f"1, ... without a gap, got {indices!r:.200}")
            optimizer_map = OptimizerMap(first[indices[-1]], {pattern: first[j] for pattern, j
                                                              in zip(optimizer_map, indices)})
        optimizer = cls(optimizer_map, loss_scale_factor=config.get("loss_scale_factor"),
                        name=config.get("instance_name"))
        if indices is not None:         # (the order the saved state's indices refer to)
            object.__setattr__(optimizer, "_inner", [first[j] for j in range(len(first))])
        paths = config.get("weight_paths", {})
        if not (isinstance(paths, dict) and all(isinstance(k, str) and isinstance(v, list)
                                                and all(isinstance(p, str) for p in v) for k, v in paths.items())):
            raise ValueError(f"MultiOptimizer.from_config: weight_paths must be {{key: [path, ...]}}, got {paths!r:.200}")
        for key, value in paths.items():
            optimizer._file_paths[key] = value
            optimizer._paths[key] = value       # (and the config, saved again, holds them still)
        return optimizer

    def __repr__(self):
        return f"<MultiOptimizer optimizers={self._inner!r}>"
