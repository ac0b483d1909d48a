"""``ops.custom_gradient``: a function whose gradient on a ``GradientTape`` is one you give (Keras 3.15
on TensorFlow: ``tf.custom_gradient``).

    @ops.custom_gradient
    def reverse_gradient(x):
        return x, lambda upstream: -upstream        # a gradient reversal (keras.io's DANN)

``f(*args)`` returns ``(y, grad_fn)``; ``grad_fn(upstream)`` (TensorFlow's and JAX's form), or
``grad_fn(*args, upstream=...)`` (Keras' form for every backend), gives d loss / d each argument
from ``upstream`` = d loss / d y: one array for one argument, a tuple or list of them otherwise.
Without a tape the call returns ``y``. While a tape records an argument, ``f`` runs unrecorded
and the call is recorded as ONE node whose backward is ``grad_fn`` (on plain arrays, recording
nothing). ``y`` must be a single array; tensors of a model being drawn are refused by name.
"""
import functools
import inspect

import numpy as np

from ._ops_reading import _is_tensor


def custom_gradient(f):
    """``f`` (returning ``(y, grad_fn)``) as a function returning ``y``, whose gradient on a tape is
    ``grad_fn``'s (see the module's docstring)."""
    if not callable(f):
        raise TypeError(f"ops.custom_gradient: f must be a callable returning (output, grad_fn), got "
                        f"{type(f).__name__}")

    @functools.wraps(f)
    def call(*args, **kwargs):
        from . import _tape_state
        for k, value in enumerate(list(args) + list(kwargs.values())):
            if _is_tensor(value):
                raise TypeError(f"ops.custom_gradient: argument {k} of {getattr(f, '__name__', 'f')} is a tensor of a "
                                f"model being drawn; a model's graph holds no Python gradient function (a model file "
                                f"keeps no code): write a Layer with forward and backward, or use it on arrays under a "
                                f"GradientTape (a custom train_step or training loop)")
        if kwargs:
            raise TypeError(f"ops.custom_gradient: {getattr(f, '__name__', 'f')} takes its arrays positionally "
                            f"(TensorFlow's custom_gradient), got keyword arguments {sorted(kwargs)}")
        if not _tape_state.recording() or not _tape_state.holds_recorded(list(args)):
            out = _pair(f, f(*args))
            return out[0]
        return _record(f, args)
    return call


def _pair(f, out):
    if not isinstance(out, (tuple, list)) or len(out) != 2 or not callable(out[1]):
        raise TypeError(f"ops.custom_gradient: {getattr(f, '__name__', 'f')} must return a pair (output, grad_fn), "
                        f"grad_fn a callable, got {type(out).__name__}")
    return out


def _record(f, args):
    from ._tape_values import Node, _paused, _plain, _wrap, node_of
    parents = [node_of(a) for a in args]
    plain = [_plain(a) for a in args]
    with _paused():
        y, grad_fn = _pair(f, f(*plain))
    if isinstance(y, (tuple, list, dict)):
        raise TypeError(f"ops.custom_gradient: {getattr(f, '__name__', 'f')} returned a {type(y).__name__} of outputs; "
                        f"on a GradientTape one output array is recorded (return several from several functions)")
    y = np.asarray(y)
    name = getattr(f, "__name__", "f")

    class _CustomGradient(Node):
        def backward(self, g, zg, add_weight, wants):
            with _paused():
                grads = _call_grad(grad_fn, plain, g)
            grads = list(grads) if isinstance(grads, (tuple, list)) else [grads]
            if len(grads) != len(args):
                raise ValueError(f"ops.custom_gradient: grad_fn of {name} returned {len(grads)} gradients for "
                                 f"{len(args)} arguments")
            out = []
            for k, (grad, value) in enumerate(zip(grads, plain)):
                if grad is None or not wants[k]:
                    out.append(None)
                    continue
                grad = np.asarray(_plain(grad))
                shape = np.shape(value)
                if grad.shape != shape:
                    grad = np.broadcast_to(grad, shape) if grad.ndim <= len(shape) else grad
                    if grad.shape != shape:
                        raise ValueError(f"ops.custom_gradient: grad_fn of {name} gave argument {k} a gradient of "
                                         f"shape {np.shape(grads[k])}, its argument has shape {shape}")
                out.append(np.array(grad, dtype=np.asarray(value).dtype if np.asarray(value).dtype.kind == "f"
                                    else grad.dtype))
            return out
    return _wrap(y, _CustomGradient(parents, f"ops.custom_gradient({name})"))


def _call_grad(grad_fn, args, upstream):
    """grad_fn(upstream) (TF/JAX), or grad_fn(*args, upstream=upstream) where it takes ``upstream`` by name."""
    try:
        parameters = inspect.signature(grad_fn).parameters
    except (TypeError, ValueError):
        parameters = {}
    if "upstream" in parameters and parameters["upstream"].kind in (inspect.Parameter.KEYWORD_ONLY,
                                                                     inspect.Parameter.POSITIONAL_OR_KEYWORD):
        if parameters["upstream"].kind == inspect.Parameter.KEYWORD_ONLY or \
                any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in parameters.values()):
            return grad_fn(*args, upstream=upstream)
        return grad_fn(upstream=upstream)
    return grad_fn(upstream)
