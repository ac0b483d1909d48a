"""The tensors a subclass' ``call`` is being drawn on, so that ``glassnet.random`` can give a draw
whose shape holds the batch size (``(ops.shape(z_mean)[0], dim)``: None while glassnet draws) the
batch axis of one of them.

Keras computes ``ops.shape(x)[0]`` at every call, a number; glassnet draws ``call`` once, on symbolic
tensors, where it is None. Every tensor of one draw has the same batch size, so the first tensor the
call was given stands for it: the draw becomes a node reading that tensor's batch size (and nothing
else) at every forward pass (layers/tensor_random.py). Per thread, innermost call last, as the draw.
"""
import contextlib
import threading

_STATE = threading.local()


@contextlib.contextmanager
def drawing_on(given):
    """While ``given`` (a tensor, or a list, tuple or dict of them and other values) is what a
    call is drawn on (graph.Model._symbolic_call)."""
    from .layers.symbolic import is_symbolic
    values = list(given.values()) if isinstance(given, dict) else list(given) if isinstance(given, (list, tuple)) \
        else [given]
    stack = _STATE.__dict__.setdefault("stack", [])
    stack.append([v for v in values if is_symbolic(v) and not isinstance(v, (list, tuple))])
    try:
        yield
    finally:
        stack.pop()


def batch_source():
    """The first tensor the innermost call being drawn was given, or None outside any draw."""
    stack = getattr(_STATE, "stack", None)
    return stack[-1][0] if stack and stack[-1] else None
