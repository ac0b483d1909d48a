"""``GradientTape``: gradients of a loss you compute, for custom training steps and loops.

TensorFlow's eager tape, restricted to what glassnet can differentiate exactly with the backward
passes it already has::

    with gn.GradientTape() as tape:
        logits = model(x, training=True)                 # a model or layer call: recorded
        loss = loss_fn(logits, y)                         # a Loss object (y_pred first), compute_loss
        loss = loss + 1e-3 * ops.sum(ops.square(logits))  # glassnet.ops and Python operators
    grads = tape.gradient(loss, model.trainable_weights)
    optimizer.apply_gradients(zip(grads, model.trainable_weights))

What a tape records while it is open (per thread): calls of models and layers on arrays; the
``glassnet.ops`` functions and Python operators on recorded values, each run as a fresh node of
``layers/tensor_functions.py`` or ``tensor_ops.py`` (their forward now, their backward at
``gradient``); glassnet losses (Loss objects, ``Model.compute_loss``) with their own gradients,
fused with a sigmoid or softmax output as training is. Recorded values are ``Recorded`` arrays (an
ndarray subclass, usable as arrays); NumPy functions on them while a tape records are refused by
name (they would leave the tape: use ``glassnet.ops``).

A model called twice (a GAN's D on real and on fake samples) gets the earlier call's forward pass
run again before its backward, from the random generators' and moving statistics' state at that
call (Dropout draws the same masks), and those states are put back after it. So does a call whose
layers ran any other pass since (``predict``, ``evaluate``, ``fit``: ``_tape_state.FORWARDS``), with
the weights it used put back for its backward pass where an optimizer step changed them since (TF's
tape keeps the values).

The pieces, one module per concept: the recorded values and the node base (glassnet._tape_values),
the recorded model and layer calls (glassnet._tape_calls), the ops and operators
(glassnet._tape_record, with the nodes of glassnet._tape_ops), the losses, ``compute_loss`` and
``model.losses`` (glassnet._tape_losses), ``jacobian`` and ``batch_jacobian`` (glassnet._tape_jacobian:
one backward pass of the walk here per one-hot seed), which weight an array is when models share
layers (glassnet._tape_weights); here the tape itself, its walk and
``apply_gradients``. A gradient asked while an outer tape that recorded the target records (a
WGAN-GP gradient penalty's nested tapes) is itself recorded on the outer tape, which can then
differentiate it with respect to the weights and the input (glassnet._tape_second: second order,
exact, for graphs of Dense, convolution, activation, PReLU, LayerNormalization, BatchNormalization,
merge, reshaping, Dropout and pooling layers, models of several outputs, and the common glassnet.ops, glassnet._tape_second_ops; anything else refused by name). An inner tape's ``jacobian`` and ``batch_jacobian`` asked so
are refused by name; the outer tape's, after its block, of the recorded gradient give the Hessian.
"""
import numpy as np

from . import _tape_state
from ._tape_calls import _HeadOutput, _LayerNode, _ModelCall, record_layer_call, record_model_call
from ._tape_loss_functions import record_loss_function
from ._tape_losses import compute_loss, record_loss, record_losses
from ._tape_record import record_conv, record_ops_call
from ._tape_values import Recorded, _Leaf, _Logits, _paused, _plain, node_of, own_variable, watched_node
from ._tape_weights import WeightKeys, owner as _owner
from ._trainable_fresh import refuse_retired
from ._tree import flatten, map_structure
from ._warnings import warn
from .variables import Variable

# the hooks other modules call while a tape records (ops, layers, models, losses, optimizers) are
# imported from here (each imports glassnet.tape on first use, which brings every piece)
__all__ = ["GradientTape", "Recorded", "apply_gradients", "compute_loss", "record_conv", "record_layer_call",
           "record_loss", "record_loss_function", "record_losses", "record_model_call", "record_ops_call",
           "watched_node"]


# -- the tape ------------------------------------------------------------------------------------------
class GradientTape:
    """Records the computations made while it is open, for ``gradient``: TensorFlow's
    ``tf.GradientTape``, eager and exact. ``persistent=True`` lets ``gradient`` run more than once.

    >>> with GradientTape() as tape:                       # doctest: +SKIP
    ...     loss = loss_fn(model(x, training=True), y)
    >>> grads = tape.gradient(loss, model.trainable_weights)      # doctest: +SKIP
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        for name, value in (("persistent", persistent), ("watch_accessed_variables", watch_accessed_variables)):
            if not isinstance(value, bool):
                raise TypeError(f"GradientTape: {name}: expected True or False, got {value!r:.60}")
        self.persistent = persistent
        # False: TF's rule, only what watch() was given is differentiated: a weight not watched
        # gets None, and so does a recorded value that depends on nothing watched
        self.watch_accessed_variables = watch_accessed_variables
        self._watched = {}
        self._held = []         # model calls with add_loss terms (record_model_call)
        self._used = False
        self._open = False

    def __enter__(self):
        if self._open:
            raise RuntimeError("GradientTape: this tape is already recording")
        self._open = True
        _tape_state.push(self)
        return self

    def __exit__(self, *exc):
        self._open = False
        if self in _tape_state.recording():      # (gradient inside the block may have stopped it)
            _tape_state.pop(self)
        return False

    def watch(self, tensor):
        """Record computations on ``tensor`` (an array, or a list/tuple/dict of them), so that
        ``gradient`` can give d target / d tensor: TF's ``tape.watch`` of an input."""
        items = tensor.values() if isinstance(tensor, dict) else tensor if isinstance(tensor, (list, tuple)) else [tensor]
        for item in items:
            if isinstance(item, Recorded):
                continue            # recorded already
            if own_variable(item):
                item = item._live()         # a Variable's own array, by identity (glassnet._tape_values.accessed)
            if not isinstance(item, np.ndarray) or item.dtype.kind != "f":
                raise TypeError(f"GradientTape.watch: expected a float array (the data whose gradient is asked), got "
                                f"{type(item).__name__}{' of ' + str(item.dtype) if hasattr(item, 'dtype') else ''}")
            if id(item) not in self._watched:
                self._watched[id(item)] = (item, _Leaf(self))

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """d target / d each source, in the structure of ``sources`` (an array, a list, a tuple or
        a dict, nested as deep as wanted): a weight array (``model.trainable_weights``' or
        ``layer.trainable_weights``' items: a layer shared by several models gets the sum over every
        model's calls, whichever model's array is given, glassnet._tape_weights), a recorded value,
        or an array given to ``watch``. ``target``: a recorded value (an array is summed, as TF's), or a
        list, tuple or dict of them (their gradients summed, as TF's; ``output_gradients`` then one
        per target, walked as tf.nest walks them: a dict's by sorted key);
        None for a source the target does not depend on (TF's ``unconnected_gradients="none"``;
        ``"zero"`` gives zeros). Each gradient has its source's shape and dtype (a kernel's
        (in, out), a watched batch's (batch, features))."""
        self._begin("gradient", unconnected_gradients)
        flat, rebuild = _flatten(sources)
        refuse_retired(flat, "gradient")
        if isinstance(target, (list, tuple, dict)):
            return rebuild(self._several(target, flat, output_gradients, unconnected_gradients))
        nested = []
        start = self._start(target, "gradient", nested)
        if nested:      # asked while an outer tape records the target: recorded there (glassnet._tape_second)
            from ._tape_second import nested_gradient
            results = nested_gradient(self, target, start, flat, output_gradients, unconnected_gradients)
            self._used = True
            self._end()
            return rebuild(_itself(target, flat, results, output_gradients))
        source_nodes = self._source_nodes(flat, "gradient")
        self._used = True       # (a call refused above leaves the tape as it was)
        seed = None
        if start is not None:
            seed = np.ones(np.shape(_plain(target)), _plain(target).dtype) if output_gradients is None \
                else np.asarray(output_gradients, dtype=_plain(target).dtype)
        with _paused():         # (nothing of the walk is recorded by a tape recording around it)
            results = self._pass(start, seed, flat, source_nodes, unconnected_gradients)
        self._end()
        return rebuild(_itself(target, flat, results, output_gradients))

    def _several(self, target, flat, output_gradients, unconnected_gradients):
        """``gradient`` of a structure of targets (a list, tuple or dict, as tf.nest walks it): the sum
        of each one's gradient (TF's), ``output_gradients`` one per target or None. One backward
        pass seeded at every target; recorded on an outer tape as the sum of each target's nested
        gradient (glassnet._tape_second)."""
        # tf.nest's order: a dict's values by sorted key, so that a dict of output_gradients pairs
        # with the dict of targets by key, whatever order either was written in
        targets = flatten(target, sort_keys=True)
        seeds = [None] * len(targets) if output_gradients is None else flatten(output_gradients, sort_keys=True)
        if len(seeds) != len(targets):
            raise ValueError(f"GradientTape.gradient: output_gradients: expected one per target ({len(targets)}), "
                             f"got {len(seeds)}")
        nested = []
        starts = [self._start(t, "gradient", nested) for t in targets]
        self._used = True
        if nested:
            from ._tape_second import nested_gradient
            results = [None] * len(flat)
            for t, start, seed in zip(targets, starts, seeds):
                if start is not None:
                    each = nested_gradient(self, t, start, flat, seed, "none")
                    results = [a if b is None else b if a is None else a + b for a, b in zip(results, each)]
        else:
            source_nodes = self._source_nodes(flat, "gradient")
            pairs = [(start, np.ones(np.shape(_plain(t)), _plain(t).dtype) if seed is None else
                      np.asarray(_plain(seed), dtype=_plain(t).dtype))
                     for t, start, seed in zip(targets, starts, seeds) if start is not None]
            with _paused():
                results = self._pass([p for p, _ in pairs] or None, [s for _, s in pairs], flat, source_nodes, "none")
        for t, start, seed in zip(targets, starts, seeds):
            if start is not None:       # (a recorded target that is a source: its walk counted its seed)
                continue
            # a source that is a target's very array, which no walk reached: its seed added to the
            # other targets' gradients (TF: tape.gradient([y, x], x) is dy/dx + 1)
            for k, s in enumerate(flat):
                if s is t:
                    own = _itself(t, [s], [None], seed)[0]
                    results[k] = own if results[k] is None else results[k] + own
        if unconnected_gradients == "zero":
            results = [np.zeros(np.shape(s), np.asarray(s).dtype) if r is None else r for r, s in zip(results, flat)]
        self._end()
        return results

    def jacobian(self, target, sources, unconnected_gradients="none", parallel_iterations=None,
                 experimental_use_pfor=True):
        """The full Jacobian of ``target`` with respect to each source (TF's ``tape.jacobian``):
        shape ``target.shape + source.shape``, in the structure of ``sources`` (as ``gradient``
        takes them); one backward pass per element of ``target`` (glassnet._tape_jacobian)."""
        from ._tape_jacobian import jacobian
        return jacobian(self, target, sources, unconnected_gradients, parallel_iterations, experimental_use_pfor)

    def batch_jacobian(self, target, source, unconnected_gradients="none", parallel_iterations=None,
                       experimental_use_pfor=True):
        """d target[i] / d source[i] for each sample i (TF's ``tape.batch_jacobian``): shape
        ``(batch, *target.shape[1:], *source.shape[1:])``; sample i of ``target`` must depend on
        sample i of ``source`` only (not checked, as in TF). One backward pass per element of a
        target sample, seeded across the whole batch (glassnet._tape_jacobian)."""
        from ._tape_jacobian import batch_jacobian
        return batch_jacobian(self, target, source, unconnected_gradients, parallel_iterations,
                              experimental_use_pfor)

    # -- the pieces gradient, jacobian and batch_jacobian share ---------------------------------------
    def _begin(self, caller, unconnected_gradients):
        if self._used and not self.persistent:
            raise RuntimeError(f"GradientTape.{caller}: a tape that is not persistent gives gradients (or a "
                               f"jacobian) once; use GradientTape(persistent=True) to ask it again")
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError(f"GradientTape.{caller}: unconnected_gradients: expected 'none' or 'zero', got "
                             f"{unconnected_gradients!r:.40}")

    def _start(self, target, caller, nested=None):
        """The node the backward walk starts from (None: ``target`` depends on nothing this tape recorded).
        ``nested``: a list, for ``gradient``, told (True appended) that a tape recording around this
        one records the target: the gradient is then recorded on it (glassnet._tape_second)."""
        if target is None or not hasattr(target, "shape"):
            raise TypeError(f"GradientTape.{caller}: target: expected the recorded value to differentiate "
                            f"(a loss), got {type(target).__name__}")
        if isinstance(target, Recorded) and target._node is None and target._derived:
            # x.reshape(...), x.T, x.astype(...) of a recorded value inside the block: TF records
            # them, the tape did not see them, so the gradient would be None where TF's is not
            node_of(target, f"GradientTape.{caller}: target")
        start = target._node if isinstance(target, Recorded) and target._node is not None and \
            self in target._node.tapes else None
        # TF's rule: a tape that is not persistent, asked inside its own block, stops recording
        # there (it gives gradients once: nothing recorded after could be differentiated)
        stops = start is not None and not self.persistent and self in _tape_state.recording()
        if start is not None and any(t in _tape_state.recording() and not (stops and t is self)
                                     for t in start.tapes):
            # a tape recording now must differentiate this gradient itself (a gradient penalty's
            # nested tapes): gradient records it there; jacobian's passes are NumPy code no tape records
            if nested is not None and (stops or self not in _tape_state.recording()):
                if stops:
                    _tape_state.pop(self)
                nested.append(True)
                return start
            if nested is not None:
                # gradient comes here only for a persistent tape asked inside its own block: second-order
                # gradients ARE built, through a second tape, and the message must say so
                raise NotImplementedError(
                    "GradientTape.gradient: asked of a persistent tape inside its `with` block (the tape that "
                    "recorded the target), which TF records on that same tape for a higher-order gradient of it: "
                    "not built. Second-order gradients are built through a second tape (a gradient penalty): "
                    "record the first gradient with a tape of its own, nested in the outer one and asked after "
                    "its own block: `with gn.GradientTape() as outer:`, inside it `with gn.GradientTape() as "
                    "inner:` around the forward pass, then `g = inner.gradient(y, x)` still inside the outer "
                    "block (docs/guide/custom_training.md, second-order gradients). Otherwise call it after the `with` block, or inside "
                    "`with tape.stop_recording():` to take the result as a constant")
            raise NotImplementedError(
                f"GradientTape.{caller}: called while a tape that recorded the target still records (a persistent "
                f"tape inside its `with` block, or an outer tape's block): higher-order {caller}s are not built (a "
                f"nested tape's gradient is: GradientTape.gradient). Call it after the `with` block, or "
                f"inside `with tape.stop_recording():` to take the result as a constant")
        if stops:
            _tape_state.pop(self)
        return start

    def _source_nodes(self, flat, caller):
        """{node: the indices in ``flat`` of the sources it made}: recorded values and watched arrays
        (weights are found by identity in the walk)."""
        source_nodes = {}
        for k, s in enumerate(flat):
            if isinstance(s, Recorded) and s._node is not None:
                source_nodes.setdefault(s._node, []).append(k)
            elif isinstance(s, np.ndarray) and id(s) in self._watched and self._watched[id(s)][0] is s:
                source_nodes.setdefault(self._watched[id(s)][1], []).append(k)
            elif not isinstance(s, np.ndarray):
                raise TypeError(f"GradientTape.{caller}: sources[{k}]: expected a weight array, a recorded value "
                                f"or a watched array, got {type(s).__name__}")
        return source_nodes

    def _pass(self, start, seed, flat, source_nodes, unconnected_gradients, reach=None):
        """One backward pass from ``start`` seeded with dL/d(target) ``seed``: the gradient of each
        of ``flat`` (None where unconnected, or zeros for ``"zero"``). ``reach``: the walk's nodes,
        when a caller making several passes over the same graph keeps them."""
        results = [None] * len(flat)
        # {weight key: (an array of it, d target / d it)}: keyed by layer and name, so that two
        # models sharing a layer (each with a view of its own of the kernel) add to one gradient,
        # which either model's array gets (glassnet._tape_weights)
        weights, keys = {}, WeightKeys()
        watched = None if self.watch_accessed_variables else \
            {keys(item) for item, _ in self._watched.values()}
        if start is not None:
            self._backward(start, seed, source_nodes, results, weights, reach, keys)
        if not self.watch_accessed_variables:
            for k, s in enumerate(flat):
                if isinstance(s, Recorded) and results[k] is not None and \
                        not self._reaches_watched(s._node, keys, watched):
                    results[k] = None
        for k, s in enumerate(flat):
            if results[k] is None and not isinstance(s, Recorded):
                entry = weights.get(keys(s))
                if entry is not None and (watched is None or keys(s) in watched):
                    results[k] = entry[1] if entry[1].dtype == s.dtype else entry[1].astype(s.dtype)
            if results[k] is None and unconnected_gradients == "zero":
                results[k] = np.zeros(np.shape(s), np.asarray(s).dtype)
        return results

    def _end(self):
        if not self.persistent:
            self._watched, self._held = {}, []

    def _reach(self, start):
        """The nodes reachable from ``start`` through this tape's records."""
        reach, stack = {start}, [start]
        while stack:
            for parent in stack.pop().parents:
                if parent is not None and self in parent.tapes and parent not in reach:
                    reach.add(parent)
                    stack.append(parent)
        return reach

    def _backward(self, start, seed, source_nodes, results, weights, reach=None, keys=None):
        # the nodes reachable from the target through this tape's records, walked latest first;
        # ``start`` and ``seed`` lists: several targets, their seeds summed where they meet (_several)
        starts, seeds = (start, seed) if isinstance(start, list) else ([start], [seed])
        if reach is None:
            reach = set().union(*(self._reach(s) for s in starts))
        for node in reach:      # add_loss weights gathered afresh: each pass starts from nothing
            if isinstance(node, _ModelCall) and node.term_scales is not None:
                node.term_scales = [0.0] * len(node.term_scales)
        # which nodes lead to a source (or hold weights): the others' input gradients are not made
        grads, zgrads = {}, {}
        for s, g in zip(starts, seeds):
            grads[s] = g if s not in grads else grads[s] + g

        keys = WeightKeys() if keys is None else keys

        def add_weight(param, grad):        # (every recorded call of every model holding the layer)
            key = keys(param)
            entry = weights.get(key)
            if entry is None:
                weights[key] = (param, np.array(grad, dtype=param.dtype, copy=True))
            else:
                entry[1][...] += grad

        # an output of a model of several asked for as a source: its gradient is the one that
        # model call's backward pass gathers at it, the model's own readers of it included
        asked = {}
        for node, ks in source_nodes.items():
            if isinstance(node, _LayerNode) and isinstance(node.layer, _HeadOutput) and node.parents[0] in reach:
                asked.setdefault(node.parents[0], {}).setdefault(node.layer.head.call, []).extend(ks)

        for node in sorted(reach, key=lambda n: -n.index):
            g, zg = grads.pop(node, None), zgrads.pop(node, None)
            if g is None and zg is None:
                continue
            for k in source_nodes.get(node, ()):
                results[k] = g if zg is None else None
            wants = [p is not None and p in reach for p in node.parents]
            if node in asked:
                node.asked = dict.fromkeys(asked[node])
            try:
                parent_grads = node.backward(g, zg, add_weight, wants)
            finally:
                totals = node.__dict__.pop("asked", None)
            for i, ks in asked.get(node, {}).items():
                if totals[i] is not None:
                    for k in ks:
                        results[k] = totals[i]
            for parent, pg, want in zip(node.parents, parent_grads, wants):
                if not want or pg is None:
                    continue
                if isinstance(pg, _Logits):
                    if parent in source_nodes or not isinstance(parent, _ModelCall):
                        pg = pg.unfused()
                    else:
                        zgrads[parent] = pg.dz if parent not in zgrads else zgrads[parent] + pg.dz
                        continue
                grads[parent] = pg if parent not in grads else grads[parent] + pg

    def _reaches_watched(self, node, keys, watched):
        """Whether ``node``'s value depends on an array ``watch`` was given (an input, or a weight
        a recorded call or penalty used, ``watched`` holding the weights' keys: any model's view of
        it): with ``watch_accessed_variables=False`` TF records no other."""
        stack, seen = [node], set()
        while stack:
            node = stack.pop()
            if node is None or node in seen:
                continue
            seen.add(node)
            if isinstance(node, _Leaf) and self in node.tapes:
                return True
            used = [layer.params.get(key) for layer, key, _ in getattr(node, "weights_at", ())] + \
                [p for _, p, _ in getattr(node, "penalties", ())]
            if any(keys(p) in watched for p in used):
                return True
            stack.extend(node.parents)
        return False

    def reset(self):
        """Forget what was recorded (TF's ``tape.reset()``)."""
        self._watched, self._held = {}, []
        self._used = False

    def stop_recording(self):
        """A context in which this tape (and any other) records nothing (TF's)."""
        return _paused()


def _itself(target, flat, results, output_gradients):
    """``results`` with the gradient of ``target`` with respect to itself (a source that is the
    target's very array) as TF gives it, watched or not: ``output_gradients``, else ones, a
    constant (``gp_tape.gradient(x, x)``: a walk from an array no call made found nothing)."""
    for k, s in enumerate(flat):
        if s is target:
            plain = np.asarray(_plain(target))
            results[k] = np.ones(plain.shape, plain.dtype) if output_gradients is None else \
                np.array(_plain(output_gradients), dtype=plain.dtype)
    return results


def _flatten(sources):
    """The arrays of ``sources`` in order, and a function rebuilding its structure from their
    gradients: lists, tuples and dicts nested as deep as wanted (TF's tf.nest:
    ``tape.gradient(loss, [model.trainable_weights, hidden_states])``), walked as keras.tree walks
    them (glassnet._tree)."""
    def rebuild(results):
        gradients = iter(results)
        return map_structure(lambda _: next(gradients), sources)
    # a glassnet.Variable of its own is its live array, which the tape watched when it was read
    return [s._live() if own_variable(s) else s for s in flatten(sources)], rebuild


# -- applying gradients ------------------------------------------------------------------------------
def apply_gradients(optimizer, grads_and_vars, caller="apply_gradients"):
    """``optimizer.apply_gradients(zip(grads, weights))``: each weight updated in place by the
    optimizer's rule. A model's trained weights step as ``fit`` steps them (one flat buffer, the
    ones not given left as they are: the optimizer's state is fit's when it is the model's compiled
    one, and the constraints project after the update); other arrays step one by one, each with
    state of its own.
    A weight given a None gradient is left as it is, with its optimizer state, weight decay and
    constraint, as Keras 3 skips it (in a model's whole set too: glassnet.optimizers._ungraded)."""
    pairs, weights = [], []
    for k, pair in enumerate(grads_and_vars):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"{caller}: expected (gradient, weight) pairs, zip(grads, model.trainable_weights); "
                            f"item {k} is {type(pair).__name__}")
        grad, var = pair
        if isinstance(var, Variable):
            var = var._live()       # (keras.Variable: its array, in place; a layer weight's view: the weight)
        if not isinstance(var, np.ndarray) or isinstance(var, Recorded):
            raise TypeError(f"{caller}: the weight of pair {k} must be a weight array (model.trainable_weights' "
                            f"items), got {type(var).__name__}")
        weights.append(var)
        if grad is None:
            # (left as it is: a weight of a model steps with its set, glassnet.optimizers._ungraded)
            continue
        grad = np.asarray(_plain(grad))
        if grad.shape != var.shape:
            raise ValueError(f"{caller}: the gradient of pair {k} has shape {grad.shape}, its weight {var.shape}")
        pairs.append((grad, var))
    refuse_retired(weights, caller)
    if not pairs:
        warn(f"{caller}: no gradient to apply (every gradient was None): nothing is updated")
        return
    groups, loose = {}, []
    for grad, var in pairs:
        model = _owner(var)
        (groups.setdefault(id(model), (model, []))[1] if model is not None else loose).append((grad, var))
    steps = []
    for model, given in groups.values():
        views = {id(param): (grad_view, layer, key) for layer, key, param, grad_view in model._views}
        # the weights of the set given a None gradient, or not given (a part of the set:
        # layer.trainable_weights, model.trainable_weights[:2]): stepped with it, left as they
        # are. So a weight's optimizer state is the same whichever part of the set is given: the
        # model's flat buffer's, fit's with its compiled optimizer (stepped one by one, each under
        # a key of its own, a part kept state fit never read, and a model file load_model refused)
        left = set(views) - {id(v) for _, v in given}
        steps.append((model, given, views, left))
    # one update of the optimizer for every pair (its iterations count one step, Adam's bias
    # correction reads it, and global_clipnorm sees every gradient): each model's whole set as its
    # flat buffer (the triple fit steps), the other weights each as a triple of its own
    from ._optimizer_claims import trains
    from .optimizers._shared import register as register_layout
    from ._state_carry import follow_layout
    triples, sizes, names, shapes, ungraded = [], [], [], [], {}
    for model, given, views, left in steps:
        model._sync_views()         # (a layer shared by models computes with this model's views from now)
        for grad, var in given:
            views[id(var)][0][...] = grad
        _, flat, flat_grads = model._triples[0]
        # (fit's key with the model's compiled optimizer, unless a model sharing nothing with it took
        # that optimizer over since: its "params" are that model's)
        own = optimizer is model.optimizer and trains(model)
        triples.extend(model._triples if own else [(f"{model.name}/params", flat, flat_grads)])
        if not own:         # (its slots follow a buffer laid out anew since its last step: _state_carry)
            follow_layout(optimizer, triples[-1][0], model)
        if getattr(model, "_weight_layout", None) is not None:
            # (a layer shared with another model this optimizer steps keeps one state: optimizers._shared)
            register_layout(optimizer, triples[-1][0], model._weight_layout)
        if hasattr(optimizer, "register_paths"):       # (a MultiOptimizer picks by Keras' paths)
            optimizer.register_paths(triples[-1][0], model._weight_paths())
        if left:
            for param_id in left:           # (a global_clipnorm then sees nothing of them, as Keras)
                views[param_id][0][...] = 0
            ungraded[triples[-1][0]] = model._flat_runs(left)
        sizes.extend(model._sizes)
        names.extend(model._names)
        shapes.extend(model._weight_shapes())
    for grad, var in loose:         # (no model's view: a layer's own array, an array of one's own)
        triples.append((f"weight@{id(var):x}", var, grad.astype(var.dtype, copy=False)))
        sizes.append([var.size])
        names.append([triples[-1][0]])
        shapes.append([tuple(var.shape)])
    from .optimizers._ungraded import ungraded as leaving
    from .parameters import _takes_shapes
    with leaving(optimizer, ungraded):
        if _takes_shapes(optimizer):
            optimizer.apply(triples, sizes, names, shapes=shapes)
        else:
            optimizer.apply(triples, sizes, names)
    for model, _, _, left in steps:
        model._project(left)


