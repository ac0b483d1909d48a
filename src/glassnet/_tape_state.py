"""Whether a ``GradientTape`` records on this thread: the one check the hot paths make.

Kept apart from ``glassnet.tape`` (imported on first use of ``gn.GradientTape``) so that a model
call, a layer call, a loss and an ``ops`` function look at one thread-local list and nothing else
when no tape is open: ``import glassnet`` does not import the tape's machinery.
"""
import functools
import threading
import weakref

_local = threading.local()
# id(a model's flat buffer of trained weights) -> the model (parameters.py notes it at each layout):
# how apply_gradients finds the model a weight array belongs to
OWNERS = weakref.WeakValueDictionary()
# bumped by every forward pass of a model (TrainingMixin._forward: predict, evaluate, fit, model(x))
# and every call of a layer on arrays: the layers' caches are then that pass's. A recorded call
# notes the count after its own pass; at tape.gradient, a count moved on since means its caches
# were overwritten (a predict or fit between recording and gradient), and its pass is run again
FORWARDS = [0]


def recording():
    """The tapes recording on this thread, innermost last (an empty list when none)."""
    return getattr(_local, "tapes", ())


def push(tape):
    tapes = getattr(_local, "tapes", None)
    if tapes is None:
        tapes = _local.tapes = []
    tapes.append(tape)


def pop(tape):
    _local.tapes.remove(tape)


def keeping_calls():
    """Whether the forward pass running on this thread is a recorded model call's (``calls_kept``):
    a functional model's layers called more than once then keep each call's forward cache for the
    tape's backward pass, in inference mode too (``model(x)`` without ``training=True``), as fit's
    training passes keep them (glassnet.callgraph)."""
    return getattr(_local, "keeping", False)


class calls_kept:
    """The context of a recorded model call's forward pass (``keeping_calls``)."""

    def __enter__(self):
        self.before = keeping_calls()
        _local.keeping = True

    def __exit__(self, *exc):
        _local.keeping = self.before


def holds_recorded(values):
    """Whether ``values`` (an argument list, nested one level in lists, tuples and dicts) holds a
    value a tape recorded (``glassnet.tape.Recorded``), or an array a recording tape watches."""
    from .tape import Recorded, watched_node
    for value in values:
        items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else (value,)
        for item in items:
            if isinstance(item, Recorded) or watched_node(item) is not None:
                return True
    return False


def when_recording(function, record):
    """``function``, wrapped so that a call holding a recorded value while a tape records goes to
    ``record(function, args, kwargs)`` (glassnet.tape's recorder of it) instead: the hook of
    ``glassnet.ops``' functions and of Keras' per-sample loss functions."""
    @functools.wraps(function)
    def call(*args, **kwargs):
        if recording() and holds_recorded(list(args) + list(kwargs.values())):
            return record(function, args, kwargs)
        return function(*args, **kwargs)
    return call
