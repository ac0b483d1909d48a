"""The walk of a graph of layer calls, forward and backward: a functional ``Model``'s (graph.py),
and a ``Sequential``'s that nests one (its calls, then the functional model's, then its own again:
``Sequential._add_layers``, ``_extend_graph``).

A model using it says, per call, its layer (``_node_layers``) and its sources (``_inbound``: earlier
calls' indices, -1 - j for the model's input j); ``_sources(x)`` gives the model's inputs in a batch,
``_call_modes`` each call's own training mode (None: none), ``_shared`` the ids of the layers called
more than once, whose forward caches are kept per call in ``_call_caches``. A pass skips the calls
only a TrainingSwitch's unread branch needs (glassnet._switch_skips), planned once per graph.
"""
from collections import Counter

from . import _tape_state
from .layers.base import _check_spec, call_arguments_set, in_model_dtype, missing_input_gradient, wrong_input_gradients


# what a layer shares between its calls, never a call's own: its weights, their gradients (summed
# over the calls in place), its state (moving statistics), its settings
_KEPT_WHOLE = frozenset({"params", "grads", "state", "regularizers", "constraints"})
# what the backward pass's caller sets, not a call's: a GradientTape asks a layer whose every call
# reads the model's inputs for dL/d(input) after the forward pass (tape.watch(x), G(z) fed to D),
# and restoring the forward's False cut those gradients to None
_SET_FOR_BACKWARD = frozenset({"needs_input_gradient"})


def shared_ids(calls):
    """The ids of the layers called more than once among ``calls``."""
    counts = Counter(id(layer) for layer in calls)
    return {key for key, count in counts.items() if count > 1}


def _holders(layer):
    """``layer`` and every layer it wraps, at any depth (a Bidirectional's two LSTMs)."""
    return [layer, *(held for inner in layer.wrapped_layers() for held in _holders(inner))]


def _snapshot(layer):
    """One call's forward cache of a shared layer: the attributes of the layer and of the layers
    it wraps, containers (a dict or list of cached arrays) copied one level deep, so that the next
    call's forward, which rebinds or refills them, leaves this call's as they were."""
    return [(holder, {key: value.copy() if isinstance(value, (dict, list)) and key not in _KEPT_WHOLE else value
                      for key, value in vars(holder).items() if key not in _SET_FOR_BACKWARD})
            for holder in _holders(layer)]


def _restore(snapshot):
    for holder, attributes in snapshot:
        vars(holder).update(attributes)


def _skipping(calls, skipped, outputs):
    """``calls`` (``enumerate(zip(layers, inbound))``) less those in ``skipped``, whose outputs are
    None (``outputs`` stays indexed by call; no call that runs reads them)."""
    for k, call in calls:
        if k in skipped:
            outputs.append(None)
        else:
            yield k, call


class CallGraphMixin:
    """The passes of a graph of calls (see the module docstring)."""

    # {call: its Head}, for the outputs of a model of several made by a layer called more than
    # once: the walk keeps each such call's logits on its head (Head.z), for a fused loss
    _shared_outputs = {}
    _loss_terms = None      # a drawn model's add_loss terms (glassnet.added_losses.Terms)
    _ungraded_layers = ()   # the layers the latest backward pass gave no gradient (_graph_backward)
    _switch_plan = None     # the calls each mode's pass skips (_skipped_calls); None: not planned yet

    def _pass_plan(self, training):
        """``(the calls a pass in training's mode does not run, each call's mode in it)``: the
        calls only a TrainingSwitch's unread branch needs (glassnet._switch_skips), or None where
        it runs them all; the modes as ``_call_modes`` (None: the pass's), resolved for a graph
        marked by glassnet._flagless. ``training`` None: a pass given no flag. Planned at the
        first pass after the graph changed (``_forget_skips``), not at each."""
        plan = self._switch_plan
        if plan is None or plan[0] != len(self._node_layers):
            from ._switch_skips import plan as plan_skips     # (at a model's first pass, not at import)
            plan = self._switch_plan = (len(self._node_layers), plan_skips(self))
        return plan[1][training]

    def _skipped_calls(self, training):
        """The calls a pass in ``training``'s mode does not run (``_pass_plan``), or None."""
        return self._pass_plan(training)[0]

    def _forget_skips(self):
        """The graph changed (a build, calls added or popped): plan the skipped calls anew."""
        self._switch_plan = None

    def _graph_walk(self, x, training):
        """Yield ``(layer, its input(s), its output)`` for each call of the graph in turn, as
        ``Sequential._walk`` does for each layer: each call reads its sources' outputs (the model's
        input(s) for -1 - j), in its own training mode when it has one. The calls the pass's mode
        skips (``_skipped_calls``) are neither run nor yielded."""
        outputs, sources = [], self._sources(x)
        if self._heads is not None:
            self._walked = outputs          # read when the walk is done (_outputs_of_walk)
        skipped, modes = self._pass_plan(training)
        training = bool(training)       # (a pass given no flag: its calls' modes are resolved)
        terms = self._loss_terms        # add_loss terms: the outputs of the calls they read are kept
        if terms is not None:
            terms.kept = {}
        calls = enumerate(zip(self._node_layers, self._inbound))
        if skipped is not None:     # a branching block's draw this pass does not read: not run
            calls = _skipping(calls, skipped, outputs)
        for k, (layer, parents) in calls:
            if len(parents) == 1 and not getattr(layer, "merges", False):
                inputs = sources[-1 - parents[0]] if parents[0] < 0 else outputs[parents[0]]
            else:
                inputs = [sources[-1 - p] if p < 0 else outputs[p] for p in parents]
            # a call's own mode, as Keras' guides and tf.keras 2 keep it (Keras 3.15's functional
            # models let fit's and predict's override it: keras-team/keras#20285)
            mode = training if modes is None or modes[k] is None else modes[k]
            # and its own arguments (ReversibleEmbedding's reverse), set on the layer for its forward
            if layer.input_spec is not None:        # Keras checks it at every call, each batch's too
                _check_spec(layer, inputs)
            with call_arguments_set(layer, None if self._call_options is None else self._call_options[k]):
                outputs.append(layer.forward(inputs, training=mode))
            if terms is not None and k in terms.read:
                terms.kept[k] = outputs[-1]
            if k in self._shared_outputs:       # this call's logits, before the layer's next call replaces them
                self._shared_outputs[k].z = getattr(layer, "z", None)
            if id(layer) in self._shared and (training or _tape_state.keeping_calls()):
                # a layer keeps one call's forward cache (its input, z, a...): each call's is kept
                # here, and put back before that call's backward (fit's passes, and a GradientTape's
                # recorded calls in either mode: the tape runs the backward of model(x) too)
                if layer.activity_regularizer is not None:      # set since the model was made
                    raise NotImplementedError(f"{layer.describe()}: is called more than once and has an "
                                              f"activity_regularizer, whose penalty per call is not supported yet")
                self._call_caches[k] = _snapshot(layer)
            yield layer, inputs, outputs[-1]

    def _graph_backward(self, grad, fused, activity=None, seen=None, done=None, every_input=False, outputs=None):
        """The graph's backward walk: calls last to first, each given the sum of the gradients its
        readers sent back; a merge layer sends one to each input. A shared layer (called more than
        once) gets each call's forward cache back before that call's backward, and its ``grads``
        end as the sum over its calls. ``done(i)``, when given, runs right after call i's backward
        (before that sum: ``trace`` records each call's own share). See ``Sequential._backward``.
        Returns dL/d(the first input) where the calls reading it made theirs, else None; with
        ``every_input``, the list of dL/d(input j) for each of the model's inputs (glassnet.tape).
        ``grad`` None: only the add_loss terms seed the walk (a tape's target reading the model's
        losses alone). The layers no gradient reached are left in ``_ungraded_layers``. ``outputs``
        (a model of several): the indices of the outputs whose columns of ``grad`` seed the walk (a
        tape's: those its target reached); None: the scored ones. An output no loss reads seeds
        nothing, so the layers only it reads get no gradient (None in Keras, whose optimizer then
        leaves those weights, their state and weight decay as they are)."""
        calls, graph = self._node_layers, self._inbound
        pending = [None] * len(calls)
        fused_at = {len(calls) - 1} if fused else set()
        if self._heads is None:
            pending[-1] = grad
        elif grad is not None:      # each output's columns of the packed gradient seed its call (glassnet.outputs)
            for head in self._heads:
                if (head.scored if outputs is None else head.index in outputs):
                    pending[head.call] = head.output(grad)
            fused_at = {head.call for head in self._heads if head.fused}
        if self._loss_terms is not None:     # add_loss terms: d term / d output of each call they read
            for k, g in self._loss_terms.gradients(self.dtype).items():
                if k in fused_at:       # (a Sequential's block: a functional Model refuses it when drawn)
                    raise NotImplementedError(
                        f"add_loss: a term reads the output of {calls[k].describe()}, whose loss gradient is taken "
                        f"with respect to its logits (an activation fused with the loss); end the model with a "
                        f"layer after the block, or give the output layer activation='linear' and from_logits=True")
                pending[k] = g if pending[k] is None else pending[k] + g
        totals, inputs, reached, unreached = {}, {}, set(), []
        for i in range(len(calls) - 1, -1, -1):
            layer, grad = calls[i], pending[i]
            # (a call whose output has an activity penalty gets its gradient, also when nothing
            # else reaches it: a loss of model.losses alone, a block's dead call)
            if grad is None and not (activity and layer in activity):   # nothing below it learns
                if layer.trainable and layer.grads and not getattr(layer, "gathers_gradients", False):
                    unreached.append(layer)
                continue
            reached.add(id(layer))
            pending[i] = None           # let it go as soon as it is used
            shared = id(layer) in self._shared
            if shared:
                _restore(self._call_caches.pop(i))
            if activity and layer in activity:
                grad = self._with_activity_gradient(layer, grad)
            if seen is not None:
                seen(i, grad)
            grad = layer.backward_from_logits(grad) if i in fused_at else layer.backward(grad)
            if done is not None:
                done(i)
            # backward wrote this call's gradients: add the later calls' (in place). (A block's
            # CallWeights gets its gradients added by the nodes reading them, every call's: no sum here)
            if shared and not getattr(layer, "gathers_gradients", False):
                earlier = totals.get(id(layer))
                if earlier is not None:
                    for key, g in layer.grads.items():
                        g += earlier[key]
                totals[id(layer)] = {key: g.copy() for key, g in layer.grads.items()}
            if not layer.needs_input_gradient:      # nothing below it learns (_mark_first_layer)
                continue
            parents = graph[i]
            # a merge, or a recurrent layer's call with initial_state: one gradient per input
            grads = grad if getattr(layer, "merges", False) or len(parents) > 1 else [grad]
            if not isinstance(grads, (list, tuple)) or len(grads) != len(parents):
                # zip would silently drop the inputs past a short list (they would never learn), and
                # walk an array's rows as if they were the inputs' gradients
                raise wrong_input_gradients(layer, len(parents), grads)
            for p, g in zip(parents, grads):
                if p < 0:       # the model's input: kept for a wrapper running the model (TimeDistributed)
                    if g is not None:
                        g = in_model_dtype(g, self.dtype)
                        inputs[p] = g if p not in inputs else inputs[p] + g
                    continue
                if g is None:
                    if getattr(layer, "passes_unread_inputs", False):      # a TrainingSwitch's branch not taken
                        continue
                    raise missing_input_gradient(layer)
                g = in_model_dtype(g, self.dtype)
                # a layer read by several: the gradients add (a new array: none is changed in place)
                pending[p] = g if pending[p] is None else pending[p] + g
        # a layer no call of which got a gradient (a block's call on a branch reaching no output:
        # glassnet._dead_calls) has gradient 0, as Keras' None: its grads were never written, and
        # a regularizer's gradient added to them at each step (_add_penalty_gradients) piled up
        ungraded = {}
        for layer in unreached:
            if id(layer) not in reached:
                for g in layer.grads.values():
                    g[...] = 0
                ungraded[id(layer)] = layer
        # and its weights get no update (parameters._optimizer_step) and no gradient from a tape
        # (None: glassnet._tape_calls), as Keras' optimizer skips a None gradient
        self._ungraded_layers = list(ungraded.values())
        self._call_caches.clear()       # (each was used once; a pass without backward leaves its own)
        if every_input:
            return [inputs.get(-1 - j) for j in range(len(getattr(self, "_input_shapes", None) or [None]))]
        return inputs.get(-1)
