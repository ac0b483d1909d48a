"""How ``Sequential`` keeps its trainable parameters: views into one flat buffer (and their
gradients into another), so that an optimizer step is a handful of NumPy calls, not a handful per
parameter; and how the model lets go of the data its layers' caches point into.
"""
from . import _tape_state, backend
from ._warnings import warn
from ._tape_weights import _root
from ._state_carry import carry_state, old_layout, rehome
from ._trainable_fresh import retire
from .optimizers import _shared as shared_state
from .optimizers._ungraded import ungraded as optimizers_ungraded


def _projection(constraint, name, param):
    """``constraint(param)``, checked: an array of the weight's shape (another shape would be
    broadcast into it); ``name`` ("dense_1/kernel") says which weight."""
    projected = constraint(param)
    if getattr(projected, "shape", None) != param.shape:
        raise ValueError(f"{name}: constraint {constraint!r:.80} returned "
                         f"{getattr(projected, 'shape', type(projected).__name__)!r:.80} for a weight of "
                         f"shape {param.shape}; it must return an array of the weight's shape")
    return projected


_TAKES_SHAPES = {}       # optimizer class -> whether its apply takes shapes=


def _takes_shapes(optimizer):
    cls = type(optimizer)
    if cls not in _TAKES_SHAPES:
        import inspect
        parameters = inspect.signature(cls.apply).parameters
        _TAKES_SHAPES[cls] = "shapes" in parameters or any(p.kind == p.VAR_KEYWORD for p in parameters.values())
    return _TAKES_SHAPES[cls]


def code_held(layer):
    """``layer``, or the layer it wraps, that is a function without a backward pass (a Lambda);
    None when there is none. A model file cannot hold it either (``_saveable``)."""
    return next((held for held in (layer, *layer.wrapped_layers()) if getattr(held, "holds_code", False)), None)


def follow_weight(layer, old, new):
    """Point every attribute of ``layer`` (or of a layer it wraps) that holds the weight array
    ``old`` at ``new``, the array that replaced it in ``params``. A layer ported from Keras keeps
    what ``add_weight`` returned, ``self.w = self.add_weight(...)``, and computes with ``self.w``:
    without this, once the model moved the weight into its flat buffer, ``forward`` would read a
    stale copy that training never changes, and train silently wrong."""
    for holder in (layer, *layer.wrapped_layers()):
        for name, value in list(vars(holder).items()):
            if value is old:
                setattr(holder, name, new)


def nested_scopes(nesting, top):
    """``{id(layer): names}``: the names Keras' weight paths put before each layer's own, ``top``
    (the model's, unless it is functional) and those of the models nested around the layer that
    are not functional (``nesting``: the model's ``Nested`` records, each with its ``children``)."""
    scopes = {}

    def walk(records, outer):
        for record in records:
            inner = outer + ([record.name] if record.kind != "Functional" else [])
            for layer in record.layers:
                scopes[id(layer)] = inner
            walk(record.children, inner)
    walk(nesting or (), top)
    return scopes


def record_build_path(model, layer):
    """Keep on ``layer``, which ``model`` is about to build, the Keras path its weights' paths start
    with (``layer._scope_path``): the ``gn.name_scope`` open now, then the names of ``model`` (unless
    it is functional) and of the models nested in it around the layer that are not functional, as
    Keras' name scopes give them when a Sequential or subclassed model builds its layers
    (``"sequential"``, ``"outer/inner"``; ``""`` for a functional model's own). Kept once: Keras fixes
    a variable's path when it is made, so a layer built before (on its own, in a name scope, or in
    another model) keeps its path; but for one a drawn block's own build built (marked
    ``_path_from_model``), which Keras builds in the block's name scope: it is named below the
    block here."""
    if getattr(layer, "_scope_path", None) is not None:
        return
    if layer.built and not layer.__dict__.pop("_path_from_model", False):
        return
    from . import scopes
    from ._summary import kind_of
    top = [] if kind_of(model) == "Functional" else [model.name]
    # (with the model being nested now, whose layers Sequential.add builds before it records it)
    nesting = [*getattr(model, "_nesting", ()), *model.__dict__.get("_nesting_now", ())]
    names = [scopes.current_path(), *nested_scopes(nesting, top).get(id(layer), top)]
    layer._scope_path = "/".join(name for name in names if name)


class ParametersMixin:

    def _flatten_parameters(self):
        """Make every trainable parameter (and its gradient) a view into one flat buffer.

        The optimizer then updates all parameters with a handful of NumPy calls instead of a handful
        per parameter: for small networks those calls, not the arithmetic, are the cost. The
        layers still see ordinary arrays of their own shapes (``layer.params["kernel"]``).

        When the layout differs from the previous one (a layer frozen, unfrozen, added or popped
        after training), the optimizer's slots, laid out like the old flat buffer, cannot be reused
        as they are (they would fail on the new size or, worse, apply one parameter's moments to
        another's): they are cut per weight and laid out anew, as Keras keeps its slots per
        variable (glassnet._state_carry): a weight still trained keeps its state, one leaving has it
        parked until it comes back, a new one starts from the rule's initial state, and the step
        count goes on.
        """
        xp = self._array_module()       # where the weights are, whatever the backend in force now
        from ._state_weights import place_for
        place_for(self)     # (a state set_state gave with its record: per weight on the buffer before this layout)
        entries = [(layer, key) for layer in self._layout_layers() if layer.trainable for key in layer.params]
        layout = self._trainable_layout()
        # no _layout yet: the first build, with no state to disagree with. Else each weight's state
        # follows it, as Keras' per-variable slots do (glassnet._state_carry)
        changed = self.optimizer is not None and layout != getattr(self, "_layout", layout)
        old = old_layout(self) if changed else None
        old_views = self._views if changed else ()
        self._layout = layout
        self._warned_nothing_trains = False     # a new layout: warn again if it trains nothing
        total = sum(int(layer.params[key].size) for layer, key in entries)
        flat_params, flat_grads = xp.empty(total, dtype=self.dtype), xp.zeros(total, dtype=self.dtype)
        self._views, offset = [], 0
        for layer, key in entries:
            value = layer.params[key]
            param = flat_params[offset:offset + value.size].reshape(value.shape)
            param[...] = value
            grad = flat_grads[offset:offset + value.size].reshape(value.shape)
            layer.params[key], layer.grads[key] = param, grad
            follow_weight(layer, value, param)
            self._views.append((layer, key, param, grad))
            offset += value.size
        # the trained weights with a penalty (Keras penalises trainable weights only)
        self._penalties = [(layer.regularizers[key], param, grad) for layer, key, param, grad in self._views
                           if key in layer.regularizers]
        # the trained weights with a constraint, projected after every optimizer step; each
        # constraint is tried once on the weight now, so that one returning another shape fails
        # here rather than in the middle of a step
        self._constrained = [(layer.constraints[key], f"{layer.name}/{key}", param)
                             for layer, key, param, _ in self._views if key in layer.constraints]
        for constraint, name, param in self._constrained:
            _projection(constraint, name, param)
        self._triples = [(getattr(self, "_optimizer_key", "params"), flat_params, flat_grads)]
        if changed and not carry_state(self, old, entries):
            self.optimizer.reset()
        place_for(self)     # (the first layout: glassnet._state_weights)
        # which weight each run of the buffer holds, for an optimizer that steps a shared layer's
        # weight through several models' buffers and keeps one state for it (optimizers._shared)
        self._weight_layout = shared_state.layout(self._views, _root)
        if changed:
            rehome(self.optimizer, self._triples[0][0], self._weight_layout)
            retire(self, old_views)     # (a list of trainable_variables held from before: refused by name)
        _tape_state.OWNERS[id(flat_params)] = self     # (apply_gradients finds the model by its buffer)
        # the weights' sizes and names in the flat buffer, for an optimizer that clips each one
        # (clipnorm) or exempts some from weight decay (exclude_from_weight_decay)
        self._sizes = [[grad.size for _, _, _, grad in self._views]]
        self._names = [[f"{layer.name}/{key}" for layer, key, _, _ in self._views]]
        # and their shapes, for an optimizer that factors each weight's moments (Adafactor)
        self._shapes = [[tuple(grad.shape) for _, _, _, grad in self._views]]

    def _penalty(self):
        """The regularizers' penalties on the weights of the layers trainable now (0 without any):
        the part of the loss ``evaluate`` reports that the weights alone make. Keras reads the
        trainable flags when it sums them; training takes them up at compile and fit."""
        return sum(regularizer(layer.params[key]) for layer in self.layers if layer.trainable
                   for key, regularizer in layer.regularizers.items())

    def _trained_penalty(self):
        """The penalties on the weights training updates (the flat buffer's), as a step sees them."""
        return sum(regularizer(param) for regularizer, param, _ in self._penalties)

    def _add_penalty_gradients(self):
        """After a backward pass: add each penalty's gradient to its weight's, so that ``grads``
        hold the gradient of the loss training minimises. Returns the penalties' sum, which that
        loss includes."""
        self._sync_views()          # a gradient a custom layer replaced: into the flat buffer first
        for regularizer, param, grad in self._penalties:
            regularizer.add_gradient(param, grad)
        return self._trained_penalty()

    def _optimizer_step(self):
        """The optimizer's update of every trained parameter, then each constraint's projection of
        its weight (Keras' order): the step ``fit`` takes and ``trace`` reports. Every projection
        is computed before any is written, so that one that fails leaves the others unapplied.
        The weights the backward pass gave no gradient (a block's call reaching no output, with
        no regularizer: glassnet._dead_calls) are left as they are, their optimizer state, decay
        and constraint too, as Keras skips a None gradient (glassnet.optimizers._ungraded)."""
        ungraded = self._ungraded_weights()
        if ungraded:
            with optimizers_ungraded(self.optimizer, {self._triples[0][0]: self._flat_runs(ungraded)}):
                self._apply_optimizer()
        else:           # (the usual case: every weight got a gradient)
            self._apply_optimizer()
        self._project(ungraded)

    def _apply_optimizer(self):
        layout = getattr(self, "_weight_layout", None)      # (None: a model pickled before it)
        if layout is not None:
            shared_state.register(self.optimizer, self._triples[0][0], layout)
        if hasattr(self.optimizer, "register_paths"):       # (a MultiOptimizer picks by Keras' paths)
            self.optimizer.register_paths(self._triples[0][0], self._weight_paths())
        if _takes_shapes(self.optimizer):
            self.optimizer.apply(self._triples, self._sizes, self._names, shapes=self._weight_shapes())
        else:           # an optimizer of one's own written before apply took shapes
            self.optimizer.apply(self._triples, self._sizes, self._names)

    def _weight_paths(self):
        """Keras' ``variable.path`` of each trained weight, in the flat buffer's order: the names
        of the models around its layer that are not functional (a Sequential's or a subclass', as
        Keras' name scopes give them: ``"sequential/dense/kernel"``, ``"encoder/dense/kernel"`` for
        a Sequential ``encoder`` nested in a functional model, ``"head/kernel"`` for a functional
        model's own layer), then the layer's name and the weight's below it as Keras makes it
        (``Layer.keras_weight_path``: ``"lstm/lstm_cell/kernel"``, ``"mha/query/kernel"``,
        ``"time_distributed/dense/kernel"``). Kept per layout."""
        cached = getattr(self, "_paths_cache", None)
        if cached is not None and cached[0] is self._views:
            return cached[1]
        paths = self._paths_of([(layer, key) for layer, key, _, _ in self._views])
        self._paths_cache = (self._views, paths)
        return paths

    def _paths_of(self, pairs):
        """``_weight_paths`` of the weights ``[(layer, key)]``: a layout's before it was laid out
        anew too (glassnet._state_carry, a MultiOptimizer's)."""
        from ._summary import kind_of
        top = [] if kind_of(self) == "Functional" else [self.name]
        scopes = nested_scopes(getattr(self, "_nesting", ()), top)
        paths = []
        for layer, key in pairs:
            home, name = _root(layer, key)
            # the path kept when the layer was built (record_build_path, glassnet.scopes: a gn.name_scope's
            # and the models' that built it), as Keras fixes it then; else the models around it now
            built_in = getattr(home, "_scope_path", None)
            before = scopes.get(id(home), top) if built_in is None else [built_in] if built_in else []
            paths.append("/".join([*before, home.name, *home.keras_weight_path(name)]))
        return paths

    def _ungraded_weights(self):
        """The ids of the trained weights the latest backward pass gave no gradient: those of the
        layers it did not reach (``_ungraded_layers``) but for the ones with a regularizer, whose
        penalty's gradient they got (Keras' is not None either)."""
        layers = self._ungraded_layers
        if not layers:
            return set()
        penalised = {id(param) for _, param, _ in self._penalties}
        ids = {id(layer) for layer in layers}
        return {id(param) for layer, _, param, _ in self._views if id(layer) in ids and id(param) not in penalised}

    def _flat_runs(self, weights):
        """The ``(start, stop)`` runs of the flat buffer that the weights ``weights`` (ids of
        views) cover, adjacent ones merged."""
        runs, start = [], 0
        for _, _, param, _ in self._views:
            if id(param) in weights:
                if runs and runs[-1][1] == start:
                    runs[-1] = (runs[-1][0], start + param.size)
                else:
                    runs.append((start, start + param.size))
            start += param.size
        return runs

    def _weight_shapes(self):
        """The trained weights' shapes as ``apply`` takes them (made again for a model pickled
        before they were kept)."""
        shapes = getattr(self, "_shapes", None)
        if shapes is None:
            shapes = self._shapes = [[tuple(grad.shape) for _, _, _, grad in self._views]]
        return shapes

    def _project(self, ungraded=()):
        """Each constraint's projection of its weight, but for the weights ``ungraded`` (ids):
        those the step gave no gradient, which Keras does not project."""
        if self._constrained:
            constrained = [entry for entry in self._constrained if id(entry[2]) not in ungraded] if ungraded \
                else self._constrained
            projected = [_projection(constraint, name, param) for constraint, name, param in constrained]
            for (_, _, param), value in zip(constrained, projected):
                param[...] = value

    def _finalize_weights(self):
        """The end of ``fit``: with ``use_ema`` the trained weights become the optimizer's moving
        averages of them (Keras' ``finalize_variable_values``), then each constraint projects its
        weight again (Keras does not: an average of steps that each left the constraint for a moment
        could leave it too)."""
        if self.optimizer.use_ema:
            self.optimizer.finalize_variable_values(self._triples)
            self._project()

    def _warn_nothing_trains(self, caller):
        """Warn, once per layout of the trained weights, that ``caller`` ("fit", "train_on_batch")
        updates nothing: every layer with weights is frozen. Keras 3.15 warns too ("does not have
        any trainable weights"). The usual cause is a GAN ported from Keras 2, whose discriminator,
        frozen after its ``compile`` for the combined model, still trained in its own
        ``train_on_batch``: glassnet reads ``trainable`` at every ``fit`` and ``train_on_batch``."""
        if getattr(self, "_warned_nothing_trains", False):
            return
        self._warned_nothing_trains = True
        if not any(layer.params for layer in self.layers):
            # nothing frozen to unfreeze (a preprocessing model): Keras' warning alone, no GAN advice
            warn(f"{caller}: the model {self.name!r} has no weights to train: none of its layers has any (a "
                 f"model of preprocessing layers, say), so this updates nothing (Keras warns too)")
            return
        warn(f"{caller}: the model {self.name!r} has no trainable weights (every layer with weights "
             f"has trainable=False), so this updates nothing. glassnet reads the trainable flags at "
             f"every fit and train_on_batch, not only at compile as Keras 2 did: a GAN's discriminator "
             f"D frozen for the combined model trains in its own steps only if unfrozen for them "
             f"(D.trainable = True before D.train_on_batch, D.trainable = False before the combined "
             f"model's)")

    def _trainable_layout(self):
        """(layer name, parameter name, shape) of every trained parameter, in the flat buffer's order."""
        return [(layer.name, key, tuple(layer.params[key].shape))
                for layer in self._layout_layers() if layer.trainable for key in layer.params]

    def _layout_layers(self):
        """The layers in the flat buffer's order: the order they joined the model. That is
        ``layers`` but for a functional Model, whose ``layers`` are in Keras' order while the buffer
        keeps its first calls' order (``graph.Model._join_order``): the layout, and so the optimizer
        state of model files written before Keras' order was taken, stays as it was."""
        order = getattr(self, "_join_order", None)
        return self.layers if order is None else order

    def _trainable_flags(self):
        """Every layer's ``trainable`` flag, in order: a cheap look, before each batch of ``fit``,
        for a flag a callback changed."""
        return [layer.trainable for layer in self.layers]

    def _apply_trainable_flags(self):
        """Take up ``layer.trainable`` flags changed since the model was built. Keras takes them
        at ``compile``; glassnet at ``compile`` and again at every ``fit`` and ``train_on_batch``
        (and before each of fit's batches where a callback changed one), so that a layer frozen
        without a new ``compile`` is not trained by mistake."""
        if self.built and self._trainable_layout() != self._layout:
            self._flatten_parameters()
        # a layer this model shares with another (a nested Sequential's) may have been marked by
        # that one since: mark them again
        self._mark_first_layer()

    def _mark_first_layer(self, every=False):
        """Which layers make dL/d(input) in a backward pass: those with a layer below them that
        learns (trainable, with weights). The others skip it, and the backward pass ends with them:
        the first layer of a Sequential never needs it, nor a frozen base (transfer learning) or
        preprocessing layers below the first layer that learns, whose gradients nothing would use.
        ``every``: each layer reading another's output makes it (``trace`` shows every gradient),
        but for a Lambda, which cannot (it keeps training's marking)."""
        for layer in self.layers:
            layer.needs_input_gradient = False
        learns = []         # per call: its layer learns, or a call below it does
        for layer, parents in zip(self._node_layers, self._inbound):      # a shared layer: any of its calls
            below = any(learns[p] for p in parents if p >= 0)
            if every and code_held(layer) is None:
                below = any(p >= 0 for p in parents)
            layer.needs_input_gradient = layer.needs_input_gradient or below
            learns.append(below or bool(layer.trainable and layer.params))
        # a Lambda (a function, no backward) a gradient would have to pass: training refuses it
        # before its first forward pass (_loss_and_gradients)
        self._blocked = next((code_held(layer) for layer in self.layers
                              if layer.needs_input_gradient and code_held(layer) is not None), None)

    def __setstate__(self, state):
        # pickle and copy.deepcopy copy every parameter view on its own, cutting it loose from the
        # flat buffer the optimizer updates: re-attach them, or training would silently stop
        self.__dict__.update(state)
        self.__dict__.setdefault("_output_shapes", None)     # a model pickled before the check existed
        # which layers have an activity regularizer is asked again: the cache's generation count
        # belongs to the process that pickled it
        self.__dict__.pop("_activity_cache", None)
        if self.built:
            self._flatten_parameters()

    def _release_data(self, *data):
        """Let go of ``data`` (arrays fit, predict or evaluate ran on) once the call is done.

        A layer keeps its last input (for backward, and for inspection: ``model.layers[0].x``), and
        a Flatten passes on a view of its input; both are slices of the data, and a slice keeps all
        of its array alive: after fit, the shuffled copy of the training set (120 MiB for 40,000
        MNIST images), after predict, the caller's input even once the caller dropped it. Each such
        view becomes a copy of itself: the same values, one batch's size."""
        cache = self.__dict__.get("_activity_cache")
        if cache is not None and cache[2]:       # outputs kept for activity penalties: one call's only
            try:        # (model.losses lists their penalties still)
                self._activity_latest = self._activity_terms()
            except NotImplementedError as refusal:      # a shared layer's: refused when model.losses asks
                self._activity_latest = refusal
            cache[2].clear()
        # and the layers a wrapper holds (Bidirectional's two readers), whose caches are the same kind
        for layer in (inner for outer in self.layers for inner in (outer, *outer.wrapped_layers())):
            for name, value in list(vars(layer).items()):
                if isinstance(value, list) and getattr(layer, "merges", False):  # the inputs Multiply keeps
                    value[:] = [_unshared(a, data) for a in value]
                elif (unshared := _unshared(value, data)) is not value:
                    setattr(layer, name, unshared)

    def _sync_views(self):
        """Re-attach parameters or gradients that a layer replaced instead of writing in place
        (a custom layer may do ``self.grads["w"] = ...``): the flat buffers must see them."""
        for layer, key, param, grad in self._views:
            # two identity tests per weight and step: the common case (nothing replaced) costs no more
            if layer.grads[key] is not grad:
                _reattach(layer, "gradient", layer.grads, key, grad)
            if layer.params[key] is not param:
                _reattach(layer, "weight", layer.params, key, param)


def _reattach(layer, what, table, key, view):
    """Copy the array a layer put in ``table[key]`` into its flat-buffer ``view`` and put the view
    back. An assignment of another shape would broadcast into the view: a scalar (``g.sum()`` for
    ``g.sum(axis=0)``) into every entry, training silently wrong; it is refused by name."""
    shape = tuple(getattr(table[key], "shape", ()))
    if shape != tuple(view.shape):
        raise ValueError(f"{layer.describe()}: its {what} {key!r} was replaced by an array of shape {shape}, "
                         f"expected the weight's shape {tuple(view.shape)}")
    replaced = table[key]
    view[...] = replaced
    table[key] = view
    if what == "weight":
        # an attribute kept from add_weight (self.w) may hold the array replaced: a layer shared
        # with another model holds that model's view until this one re-attaches it, and forward
        # would read the other model's buffer, which this model's training never changes
        follow_weight(layer, replaced, view)


def _unshared(value, data):
    """``value``, or a copy of it when it is a view into one of the arrays ``data`` (a cache that
    would keep a whole data set alive); anything but an array view passes as it is."""
    if getattr(value, "base", None) is None or getattr(value, "shape", None) is None:
        return value
    xp = backend.get_array_module(value)
    # a cache on a GPU never shares memory with host data (CuPy refuses to compare them)
    if any(xp.may_share_memory(value, d) for d in data if d is not None and backend.get_array_module(d) is xp):
        return value.copy()
    return value
