"""Recorded calls of models and layers on arrays while a ``GradientTape`` records (glassnet.tape).

A call is recorded as a node whose backward pass is the layers' own (``_ModelCall``, ``_LayerNode``;
``_record`` runs an op's node, a layer instance fresh per call, eagerly and records it the same way).
A model called twice (a GAN's D on real and on fake samples) gets the earlier call's forward pass
run again before its backward, from the random generators' and moving statistics' state at that
call (Dropout draws the same masks), and those states are put back after it. So does a call whose
layers ran any other pass since (``predict``, ``evaluate``, ``fit``: ``_tape_state.FORWARDS``), with
the weights it used put back for its backward pass where an optimizer step changed them since (TF's
tape keeps the values). A model of several outputs gives one node per output (``_HeadOutput``)
reading its columns of the packed outputs; its ``add_loss`` terms, read by ``model.losses`` or
``compute_loss`` after the call, are nodes of their own (``_TermNode``) weighing them in its backward.
"""
import weakref

import numpy as np

from . import _tape_state
from ._tape_values import Node, _paused, _plain, _wrap, node_of
from ._trainable_fresh import unfrozen_since

# _tape_state.FORWARDS: bumped by every forward pass of a model or call of a layer, recorded or not:
# a recorded call's stamp is its value after the call's pass; another value at gradient means the
# layers hold another pass's caches (a predict, evaluate, fit or model(x) since) and the call runs again
_FORWARDS = _tape_state.FORWARDS


class _LayerNode(Node):
    """A layer's eager forward pass (an op's node, or a layer called on arrays): its backward."""

    def __init__(self, layer, parents, what, weights=False, x=None, training=False):
        super().__init__(parents, what)
        self.layer, self.weights, self.x, self.training = layer, weights, x, training
        self.stamp = None
        self.weights_at = _weights_at((layer, key) for key in layer.params) if weights else []

    def backward(self, g, zg, add_weight, wants):
        layer = self.layer
        if not self.weights:
            grads = layer.backward(g)
            return grads if isinstance(grads, list) else [grads]
        now = _swap_in(self)
        try:
            if self.stamp != _FORWARDS[0]:      # a layer called alone: its caches may be another call's
                _rerun(self, [layer], self._forward_again)
            layer.needs_input_gradient = True
            grads = layer.backward(g)
        finally:
            _swap_back(now)
        if layer.trainable:
            for key, param in layer.params.items():
                add_weight(param, layer.grads[key])
        return grads if isinstance(grads, list) else [grads]


    def _forward_again(self):
        """This call's forward pass once more: with its mask and the settings its ``__call__`` set
        for it (``_call_settings``), which are put back as they are now afterwards."""
        layer, now = self.layer, _call_settings(self.layer)
        _set_settings(layer, self.settings)
        try:
            if self.mask is None:
                layer.forward(self.x, training=self.training)
            else:
                layer.forward(self.x, training=self.training, mask=self.mask)
        finally:
            _set_settings(layer, now)

    mask = None
    settings = {}


# What a layer's eager ``__call__`` sets on it for the forward pass of that call only (and puts
# back after it): a wrapper's mask for its layer (Bidirectional(LSTM)(x, mask=m)), a recurrent
# layer's initial_state, MultiHeadAttention's masks, causal flag and scores' flag, and each
# layer's ``call_arguments``. A recorded call whose forward runs again at ``gradient`` (another
# pass overwrote its caches since) must run with its own, or its backward would be another call's
_CALL_SETTINGS = ("pending_mask", "_pending_states", "_drawn_causal", "_input_masks", "_attention_mask",
                  "_with_scores")


def _call_settings(layer):
    names = _CALL_SETTINGS + tuple(getattr(layer, "call_arguments", ()))
    return {name: getattr(layer, name) for name in names if hasattr(layer, name)}


def _set_settings(layer, settings):
    for name, value in settings.items():
        setattr(layer, name, value)


def _weights_at(weights):
    """The weights ``(layer, key)`` of a recorded call with a copy of the values it used (TF's
    tape differentiates at them). By layer and key, not by array: a layer shared by two models
    computes with the view of the model that attached it last (glassnet._tape_weights), which
    may be another one at ``gradient``."""
    return [(layer, key, layer.params[key].copy()) for layer, key in weights]


def _swap_in(node):
    """Put back the weights that changed since ``node``'s call (an optimizer step, fit, set_weights
    between recording and gradient: its caches were made with the old ones, and its backward reads
    the kernels) into the arrays the layers compute with now, and mark its caches stale; returns
    the values of now, for ``_swap_back``."""
    now = []
    for layer, key, then in node.weights_at:
        param = layer.params.get(key)
        if param is not None and not np.array_equal(param, then):
            now.append((layer, key, param, param.copy()))
            param[...] = then
    if now:
        node.stamp = None
    return now


def _swap_back(now):
    """The values of now back, in the array swapped into and in the one the layer holds now (the
    backward pass of a model sharing the layer attaches its own view, copying the values in)."""
    for layer, key, param, value in now:
        param[...] = value
        if layer.params[key] is not param:
            layer.params[key][...] = value


def _rerun(node, layers, forward):
    """Run ``node``'s forward pass again from the layers' state at its call (the same dropout
    masks, the moving statistics as they were), then put the state of now back."""
    from .layers.base import StateSnapshot
    now = StateSnapshot(layers)
    node.before.restore()
    try:
        with _paused(), _tape_state.calls_kept():
            forward()
    finally:
        now.restore()
    _FORWARDS[0] += 1       # (a layer's forward run directly: no count of its own)
    node.stamp = _FORWARDS[0]


def _record(node_or_layer, inputs, what=None):
    """Run an op node (a layer instance, fresh per call) eagerly on the plain ``inputs`` and record it."""
    layer = node_or_layer
    parents = [node_of(v) for v in inputs]
    plain = [_plain(v) for v in inputs]
    with _paused():
        out = layer.forward(plain if getattr(layer, "merges", False) else plain[0])
    if not any(p is not None for p in parents):
        return np.asarray(out)
    node = _LayerNode(layer, parents, what or getattr(layer, "op", type(layer).__name__))
    node.inputs = plain         # (a nested tape's gradient replays the op from them: glassnet._tape_second_ops)
    return _wrap(out, node)


class _ModelCall(Node):
    def __init__(self, model, parents, x, training, before):
        # parents: one per input of the model (several: a list or dict of arrays, Keras' D([G(z), labels]))
        super().__init__(parents, f"model {model.name!r}")
        self.model, self.x, self.training, self.before = model, x, training, before
        layer = model._output_layer
        z = getattr(layer, "z", None) if model._heads is None else None    # (several outputs: never fused)
        self.z = None if z is None else z.copy()
        self.stamp = _FORWARDS[0]       # (model._forward has just counted this call's pass)
        self.header = None              # several outputs of open sizes: the packed rows' header
        # the indices of its outputs (a model of several: _HeadOutput) whose gradient the tape's walk
        # reached in the pass under way; the others seed nothing (their layers' weights get None, TF's)
        self.reached = set()
        # (and those of layers unfrozen since the model's weights were laid out: glassnet._trainable_fresh)
        self.unfrozen = unfrozen_since(model) if getattr(model, "built", False) else []
        self.weights_at = _weights_at([*((layer, key) for layer, key, _, _ in getattr(model, "_views", ())),
                                       *self.unfrozen])
        # its add_loss terms' values (model.losses, read after it: _TermNode) and the gradient the
        # target sends each; only those read on the tape are in its backward pass, as in TF
        terms = getattr(model, "_loss_terms", None)
        self.kept = None if terms is None else terms.kept
        self.term_scales = None if terms is None else [0.0] * len(terms.terms)
        # the outputs its activity regularizers read ({layer: output}, copies: the layers reuse
        # their buffers), and the gradient the target sends each penalty (glassnet._tape_activity)
        kept = model._activity_cache[2]
        self.activity = {layer: np.array(a) for layer, a in kept.items()} if kept else None
        self.activity_scales = {}
        # the mask reaching its output in this pass (mask_zero -> LSTM(return_sequences=True)):
        # compute_loss scores the real steps alone, as fit does
        reader = getattr(model, "_output_mask", None)
        mask = None if reader is None else reader.pending_mask
        self.mask = None if mask is None else np.array(mask)

    # {call index: dL/d(that call's output)} of outputs asked for as sources (tape.gradient(loss,
    # h)), set by the tape's walk: the model may read such an output itself (a char-RNN cell's
    # y = Dense(h_new) beside h_new), so its gradient is the total its backward pass gathers there
    asked = None

    def backward(self, g, zg, add_weight, wants):
        model = self.model
        flags = [layer.needs_input_gradient for layer in model.layers]
        # which of its layers make dL/d(input), marked for this model's graph: another model sharing
        # them (base.fit, feat.train_on_batch, feat.save) marks them for its own since, where a layer
        # first there (making none) reads another inside this one (combined = Model(z, base(G(z)))):
        # the walk stopped at it, and G's weights got None. The flags are put back after
        model._mark_first_layer()

        def gather(i, grad, totals=self.asked):      # dL/d(call i's output), its readers' summed
            if i in totals:
                totals[i] = np.array(grad) if totals[i] is None else totals[i] + grad
        seen = gather if self.asked else None
        # several outputs: each head's columns hold dL/d(output), not a compiled loss' dL/dz
        heads = model._heads or ()
        fused_heads = [head.fused for head in heads]
        gin = None          # dL/d(input), or with several inputs, the list of dL/d(each)
        several = len(self.parents) > 1
        terms = getattr(model, "_loss_terms", None)
        # only its add_loss terms (_TermNode) reach it: their gradients alone seed its backward
        # pass (the layers only its outputs read get none: None for their weights, as in TF)
        only_terms = g is not None and np.ndim(g) == 0 and zg is None
        if g is not None and np.ndim(g) == 0:
            g = None
        now = _swap_in(self)
        reached, self.reached = self.reached, set()     # (the next pass, a jacobian's row, starts anew)
        try:
            for head in heads:
                head.fused = False
            first = True
            for grad, fused in ((zg, True), (g, False)) if not only_terms else ((None, False),):
                if grad is None and not only_terms:
                    continue
                # the layers must hold this call's caches; a functional Model's shared layers give
                # theirs up in each backward pass, so a second pass runs the forward again
                if self.stamp != _FORWARDS[0] or (not first and getattr(model, "_shared", None)):
                    _rerun(self, model.layers, lambda: model._forward(self.x, training=self.training))
                if terms is not None:       # the terms' gradients once, in the first pass
                    terms.scales = self.term_scales if first else [0.0] * len(self.term_scales)
                first_pass, first = first, False
                if any(wants) or self.asked:
                    for layer in model.layers:
                        layer.needs_input_gradient = True
                if grad is not None:
                    grad = np.asarray(grad, dtype=model.dtype)
                if self.header is not None and grad is not None:   # (each output's gradient came with zeros there)
                    grad = grad.copy()
                    grad[:, :self.header.shape[1]] = self.header
                # the activity penalties the target read, each weighed by its gradient, in the first pass
                activity = {layer: None for layer, scale in self.activity_scales.items() if scale} \
                    if first_pass else None
                model._activity_scales = self.activity_scales if activity else None
                if heads:       # each output the target reached seeds its call; the others nothing
                    made = model._graph_backward(grad, fused, activity, seen=seen, every_input=several,
                                                 outputs=reached)
                else:
                    made = model._graph_backward(grad, fused, activity, seen=seen, every_input=several) \
                        if several or grad is None else model._backward(grad, fused, activity, seen=seen)
                model._sync_views()
                # the layers no gradient reached (a block's call reaching no output, glassnet._dead_calls;
                # those only the outputs read, when only the add_loss terms are differentiated)
                ungraded = {id(layer) for layer in model._ungraded_layers}
                for layer, _, param, pgrad in model._views:
                    # a layer frozen since the model's weights were laid out (no compile in a loop
                    # of one's own) is still in them: its weights get no gradient (None), as in TF
                    if layer.trainable and id(layer) not in ungraded:
                        add_weight(param, pgrad)
                # a layer unfrozen since (its own arrays until fit lays them out): its gradient too, as in TF
                for layer, key in self.unfrozen:
                    if layer.trainable and id(layer) not in ungraded:
                        add_weight(layer.params[key], layer.grads[key])
                if several:
                    gin = made if gin is None else [a if b is None else b if a is None else a + b
                                                     for a, b in zip(gin, made)]
                elif made is not None:
                    gin = made if gin is None else gin + made
                if getattr(model, "_shared", None):
                    self.stamp = None
        finally:
            _swap_back(now)
            for layer, flag in zip(model.layers, flags):
                layer.needs_input_gradient = flag
            for head, fused in zip(heads, fused_heads):
                head.fused = fused
            if terms is not None:
                terms.scales = None
            model._activity_scales = None
        return gin if several else [gin]


class _TermNode(Node):
    """An ``add_loss`` term of a recorded model call, as ``model.losses`` or ``compute_loss`` read
    it: its gradient (a number: the term is a sum) weighs the term in that call's backward pass."""

    def __init__(self, call, j):
        super().__init__([call], "an add_loss term")
        self.j = j

    def backward(self, g, zg, add_weight, wants):
        g = np.asarray(g)
        if g.size and np.any(g != g.flat[0]):
            raise NotImplementedError("GradientTape: an add_loss term given as a tensor (model.losses lists its "
                                      "values) is differentiated as its sum only: reduce it with ops.sum or ops.mean")
        call = self.parents[0]
        call.term_scales[self.j] += float(g.flat[0]) if g.size else 0.0
        return [np.zeros((), g.dtype)]      # (the call's backward runs, for the terms, without an output gradient)


_LATEST = weakref.WeakValueDictionary()     # id(model) -> its latest recorded call (_ModelCall)


def _recorded_terms(model, values):
    """``values`` (the model's add_loss terms on its latest pass) recorded, when a recording tape
    made that pass (else constants, as TF's for a call outside the tape)."""
    terms, call = getattr(model, "_loss_terms", None), _LATEST.get(id(model))
    if terms is None or call is None or call.model is not model or terms.kept is not call.kept \
            or not any(t in _tape_state.recording() for t in call.tapes):
        return list(values)
    return [_wrap(value, _TermNode(call, j)) for j, value in enumerate(values)]


class _HeadOutput:
    """One output of a model of several, read from its packed outputs (n, sum of sizes): its
    backward puts dL/d(output) in that output's columns, zeros elsewhere (the model's backward
    reads each head's columns of the packed gradient; the rows' header of open sizes is copied)."""
    merges = False
    z = None

    def __init__(self, head, call):
        # call: the recorded model call (_ModelCall) it reads, told which outputs the target reached
        self.head, self.call, self.op = head, call, f"output {head.name!r}"

    def forward(self, packed, training=False):
        self.shape, self.dtype = packed.shape, packed.dtype
        open_ = self.head.layout.open if self.head.layout is not None else 0
        self.header = np.array(packed[:, :open_])
        # this output's logits in the call (a copy: the next pass overwrites them), from which a
        # loss fused with its activation takes its value, as fit's does (glassnet._tape_losses)
        z = self.head.z if self.head.z is not None else getattr(self.head.layer, "z", None)
        self.z = None if z is None or np.shape(z) != self.head.output(packed).shape else np.array(z)
        return np.array(self.head.output(packed))

    def backward(self, g):
        # (the tape walks this node before its call's: the call's backward seeds this output alone
        # among those the target reached, as TF's, where the layers only others read get None)
        self.call.reached.add(self.head.index)
        grad = np.zeros(self.shape, self.dtype)
        open_ = self.head.layout.open if self.head.layout is not None else 0
        if open_:           # the sizes, which say where the columns lie (the model's call puts them back)
            grad[:, :open_] = self.header
        self.head.output(grad)[...] = g
        if open_:
            grad[:, :open_] = 0
        return grad


def record_model_call(model, x, training):
    """``model(x, training=...)`` while a tape records: the forward pass, kept for the backward."""
    from .layers.base import StateSnapshot
    plain = {key: _plain(v) for key, v in x.items()} if isinstance(x, dict) else \
        [_plain(v) for v in x] if isinstance(x, (list, tuple)) else _plain(x)
    with _paused():
        # first: a subclass is drawn from its first data here (its call on a list or dict of
        # inputs: the model of several inputs whose count is read below), its layers made
        prepared = model._on_device(model._prepare_x(plain))
    count = len(getattr(model, "_input_shapes", None) or [None])
    if count > 1 and isinstance(x, (list, tuple, dict)):
        # several inputs (a list in the order of model.inputs, or a dict by their keys): each one's
        # node, so that a recorded input (a generator's G(z) beside labels) or a watched one gets
        # its gradient; _prepare_x packs their plain values
        keys = model._feed_keys() if isinstance(x, dict) else range(len(x))
        parents = [node_of(x.get(key) if isinstance(x, dict) else x[key], f"the model's input {key!r}")
                   for key in keys]
    else:
        parents = [node_of(x[0] if isinstance(x, (list, tuple)) and len(x) == 1 else x, "the model's input")]
    with _paused():
        before = StateSnapshot(model.layers)
        with _tape_state.calls_kept():      # its shared layers' caches, for its backward (glassnet.callgraph)
            out = model._forward(prepared, training=training)
        public = model._public_outputs(out)
    node = _ModelCall(model, parents, prepared, training, before)
    node.shape = np.shape(out)
    _LATEST[id(model)] = node
    if node.kept is not None:   # its terms may be read after its output is let go (model(x); sum(model.losses))
        for tape in _tape_state.recording():
            tape._held.append(node)
    if public is out:
        return _wrap(out, node)
    # several outputs (a list, or a dict by key), or a nested model's {key: output}: the model's
    # pass gives them packed side by side (glassnet.outputs); each is a node reading its columns,
    # and the gradients they send back add up, column by column, into the packed gradient that
    # the model's backward pass takes (the header of open sizes copied, as fit's loss does)
    packed = _wrap(out, node)
    open_ = model._heads[0].layout.open if model._heads is not None and model._heads[0].layout is not None else 0
    if open_:
        node.header = np.array(out[:, :open_])
    if model._heads is None:            # {key: out}: the one output under its key
        return {key: packed for key in public}
    outputs = [_record(_HeadOutput(head, node), [packed]) for head in model._heads]
    if model._output_keys is None:
        if model._keras_output_nesting is not None:        # nested lists (glassnet._nested_outputs)
            from ._nested_outputs import nest
            return nest(model._keras_output_nesting, outputs)
        return outputs
    from ._dictoutputs import as_dict
    return as_dict(model._output_keys, outputs)


def record_layer_call(layer, x, training, mask, call=None):
    """``layer(x)`` on arrays while a tape records (a layer alone, with or without weights).
    ``call``: the ``__call__`` that hands it here (``Layer.__call__``, or a merging layer's), run
    again without the tape: not ``layer(...)``, whose own ``__call__`` (MultiHeadAttention's,
    ReversibleEmbedding's, a recurrent layer's) would set this call's settings anew, as for a call
    without its masks, its reverse flag or its initial states."""
    from .layers.base import Layer, StateSnapshot
    call = Layer.__call__ if call is None else call
    if isinstance(x, (list, tuple)):
        parents = [node_of(v) for v in x]
        plain = [_plain(v) for v in x]
    else:
        parents, plain = [node_of(x, "the layer's input")], _plain(x)
    # the mask takes no gradient (TF's: booleans); its values are kept for a forward run again
    mask = None if mask is None else np.array(_plain(mask))
    settings = _call_settings(layer)        # (set by the layer's own __call__ before this one)
    if any(node_of(state) is not None for state in settings.get("_pending_states") or ()):
        raise NotImplementedError(f"GradientTape: {layer.describe()}: an initial_state that is recorded or watched "
                                  f"is not recorded yet (its gradient would be lost); give it as constants "
                                  f"(np.asarray(h)), or draw the layers in a functional gn.Model, whose call is "
                                  f"recorded whole")
    with _paused():
        before = StateSnapshot([layer])
        out = call(layer, plain, training=training) if mask is None else call(layer, plain, training=training, mask=mask)
    if not layer.params and all(p is None for p in parents):
        return out
    node = _LayerNode(layer, parents, layer.describe(), weights=True,
                      x=[np.asarray(p, dtype=layer.dtype) for p in plain] if isinstance(plain, list)
                      else np.asarray(plain).astype(layer.dtype, copy=False), training=training)
    node.before, node.mask, node.settings = before, mask, settings
    node.stamp = _FORWARDS[0]       # (Layer.__call__ has just counted this call)
    return _wrap(out, node)
