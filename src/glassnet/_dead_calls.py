"""Calls a block's ``call`` makes whose results reach no output: kept, as Keras keeps their weights.

A Keras block may call a sub-layer on a branch that goes nowhere::

    def call(self, x):
        h = self.a(x)
        _ = self.probe(h)           # computed, never returned
        return self.b(h)

Keras 3.15 tracks ``self.probe``, builds it on that call and lists its weights in ``block.weights``,
``model.weights`` and ``get_weights()`` (in the order the block assigned its layers), so a port's
``set_weights(keras_model.get_weights())`` expects them. glassnet draws a model from the calls
leading to its outputs (graph._walk_back), which dropped such a call and its layer with it.

So the draw of a subclass' ``call`` records every layer call it makes (``recording``, fed by
layers.symbolic.call_symbolic); those its outputs do not read (dead) are kept on its outputs
(``attach``), as add_loss terms are, and every model drawn on those outputs takes them into its
graph (``joined``): placed before the last call (code reading a model of one output takes the last
call as its output), computed at each forward pass, never given a gradient (graph backward skips
a call no gradient reaches: their gradients are 0 (callgraph), and the optimizer step leaves their
weights, their state, weight decay and constraint as they are (parameters._optimizer_step,
glassnet.optimizers._ungraded), as Keras skips a None gradient; a regularizer's gradient moves them,
as Keras'), built, counted, listed, saved. Under a GradientTape their weights' gradients are None.
A dead call reading the model's last output itself cannot go before it: it is left out (its layer's
weights are not listed; docs/keras_parity.md). A sub-layer never called is not built in Keras
either (no weights): glassnet lists neither.
"""
import threading

# .stack: one list per call being drawn (graph.Model._symbolic_call), innermost last; every call
# made is appended to each (a nested block's calls are its caller's too). Per thread, as the draw
_DRAWING = threading.local()


class recording:
    """While a subclass' ``call`` is drawn: every symbolic call made (``calls``, in order)."""
    def __enter__(self):
        if not hasattr(_DRAWING, "stack"):
            _DRAWING.stack = []
        self.calls = []
        _DRAWING.stack.append(self.calls)
        return self

    def __exit__(self, *exc):
        _DRAWING.stack.pop()


def note(tensor):
    """A layer call was drawn (layers.symbolic.call_symbolic): recorded for each call being drawn."""
    for calls in getattr(_DRAWING, "stack", ()):
        calls.append(tensor)


def attach(calls, outputs, sources, walk_back):
    """Keep on ``outputs`` the ``calls`` (one draw's, ``recording``) that they do not read (from
    ``sources``: the tensors the call was given). Returns those dead calls."""
    live, _ = walk_back(outputs, stop=sources)
    known = {id(t) for t in live} | {id(t) for t in sources}
    # only those computed from what the call was given: not the calls a Sequential of blocks it
    # called made on an Input of its own to draw them (glassnet._lazy_blocks), nor their followers
    dead, reached = [], set(known)
    for tensor in calls:            # (in the order made: each after those it reads)
        if id(tensor) not in known and all(id(parent) in reached for parent in tensor.inputs):
            reached.add(id(tensor))
            if _holds_weights(tensor.layer):
                dead.append(tensor)
    for tensor in outputs if dead else ():
        kept = tensor.__dict__.setdefault("dead_calls", [])
        kept.extend(t for t in dead if not any(t is other for other in kept))
    return dead


def _holds_weights(layer):
    """Whether a dead call is kept for its layer: not for the weightless nodes of operators and
    glassnet.ops (``a * 2.0`` going nowhere: Keras lists nothing for it), nor for the CallWeights
    node a block's own weights sit on (glassnet._call_weights: one on each input, and reached
    through an input its weights are not read from, it would take samples of two shapes)."""
    module, name = type(layer).__module__, type(layer).__name__
    return not (module.startswith("glassnet.layers.tensor_") or name in ("CallWeights", "CallMask", "SetMask"))


def carried(tensors, key="dead_calls"):
    """What ``tensors`` carry under ``key``, each once, in order: their dead calls (``attach``), or
    their add_loss terms (``key="added_losses"``: glassnet.added_losses keeps them the same way)."""
    found, seen = [], set()
    for tensor in tensors:
        for item in tensor.__dict__.get(key, ()):
            if id(item) not in seen:
                seen.add(id(item))
                found.append(item)
    return found


def joined(tensors, walk_back, stop=()):
    """``tensors`` (a graph's calls in order, each after those it reads; the last, its output) with
    the dead calls they carry and the calls those read, placed before the last; those reading
    the last one (it must stay last) are left out, with all that reads them."""
    dead = carried(tensors)
    if not dead or not tensors:
        return tensors
    made, _ = walk_back(dead, stop=stop)
    known = {id(t) for t in tensors}
    last, kept, dropped = tensors[-1], [], {id(tensors[-1])}
    for tensor in made:             # (each after those it reads)
        if id(tensor) in known:
            continue
        if any(id(parent) in dropped for parent in tensor.inputs):
            dropped.add(id(tensor))
            continue
        kept.append(tensor)
    return list(tensors[:-1]) + kept + [last] if kept else tensors
