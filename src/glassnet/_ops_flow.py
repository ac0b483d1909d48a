"""keras.ops' control flow, run eagerly: cond, switch, while_loop, fori_loop, scan, associative_scan,
map, vectorized_map and vectorize (keras.ops.numpy's).

glassnet computes at once, so each is a Python branch or loop over the values: what the functions
given compute is what a ``GradientTape`` records (the ``glassnet.ops`` calls, operators and indexing
inside them), so gradients flow through the bodies as through any other code. Their results are
stacked with ``ops.stack`` and sliced by indexing, both recorded.

On the tensors of a model being drawn (``gn.Input``, a subclass' call) a branch or loop whose
choice or count is a tensor cannot run (there is no value yet): refused by name (``ops.where``
picks per entry). A loop over a Python count, and a ``scan`` without ``xs``, draw their bodies'
nodes; mapping or scanning over a tensor's axis 0 (its batch axis) is refused by name.
"""
import numbers

import numpy as np

from ._ops_core import _index
from ._ops_reading import _is_tensor, composed
from ._ops_reading import public_ops as _ops
from ._tree import flatten, map_structure


def _shape(value):
    """``value``'s shape (a recorded value's attribute: NumPy's functions on it are refused while a tape records)."""
    return tuple(value.shape) if hasattr(value, "shape") else np.shape(value)


def _refuse_tensor(function, name, value, instead):
    if _is_tensor(value):
        raise TypeError(f"ops.{function}: {name} is a tensor of a model being drawn, which has no value to "
                        f"{instead} (glassnet runs control flow eagerly); use ops.where to pick per entry, or run "
                        f"this in a subclass model's call on arrays (a custom train_step), with Python values")


def _callable(function, name, value):
    if not callable(value):
        raise TypeError(f"ops.{function}: {name} must be a callable, got {type(value).__name__}")


def _truth(function, name, value):
    """A branch's or loop's condition as a Python bool: a scalar (array, number, recorded value)."""
    _refuse_tensor(function, name, value, "branch on")
    array = np.asarray(value)
    if array.size != 1:
        raise ValueError(f"ops.{function}: {name} must be a single boolean, got an array of shape {array.shape}")
    return bool(array.reshape(()))


def _as_tensors(structure):
    """The leaves of a loop's result as TensorFlow's eager ``while_loop`` converts them at its end
    (Keras 3.15 on TF): Python floats float32, ints int32 (int64 beyond), bools bool, NumPy scalars
    0-d arrays of their dtype; arrays, recorded values (a tape's), tensors being drawn and None as they are."""
    from ._ops_more import convert_to_tensor

    def convert(value):
        if isinstance(value, (bool, int, float, np.generic)) and not isinstance(value, np.ndarray):
            return convert_to_tensor(value)
        return value
    return map_structure(convert, structure)


def _integer(function, name, value):
    _refuse_tensor(function, name, value, "count with")
    array = np.asarray(value)
    if array.ndim != 0 or array.dtype.kind not in "iub":
        raise TypeError(f"ops.{function}: {name} must be an integer, got {value!r:.60}")
    return int(array)


@composed
def cond(pred, true_fn, false_fn):
    """``true_fn()`` if ``pred`` (a single boolean: bool, number, 0-d array) holds, else ``false_fn()``.
    Only the branch taken runs."""
    _callable("cond", "true_fn", true_fn)
    _callable("cond", "false_fn", false_fn)
    return true_fn() if _truth("cond", "pred", pred) else false_fn()


@composed
def switch(index, branches, *operands):
    """``branches[index](*operands)``, ``index`` clamped to ``[0, len(branches) - 1]`` (Keras')."""
    if not isinstance(branches, (list, tuple)) or not branches:
        raise TypeError(f"ops.switch: branches must be a non-empty list of callables, got {branches!r:.60}")
    for k, branch in enumerate(branches):
        _callable("switch", f"branches[{k}]", branch)
    k = min(max(_integer("switch", "index", index), 0), len(branches) - 1)
    return branches[k](*operands)


@composed
def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Runs ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` holds (a tuple or list of
    loop variables is passed positionally, anything else as one argument), at most
    ``maximum_iterations`` times (None: no bound). Returns a tuple for a tuple or list (TensorFlow's),
    the value itself otherwise."""
    _callable("while_loop", "cond", cond)
    _callable("while_loop", "body", body)
    if maximum_iterations is not None:
        maximum_iterations = _integer("while_loop", "maximum_iterations", maximum_iterations)
        if maximum_iterations < 0:
            raise ValueError(f"ops.while_loop: maximum_iterations must be 0 or more, got {maximum_iterations}")
    is_tuple = isinstance(loop_vars, (tuple, list))
    values = tuple(loop_vars) if is_tuple else (loop_vars,)
    count = 0
    while (maximum_iterations is None or count < maximum_iterations) and _truth("while_loop", "cond(loop_vars)",
                                                                                   cond(*values)):
        out = body(*values)
        values = tuple(out) if is_tuple else (out,)
        if len(values) != (len(loop_vars) if is_tuple else 1):
            raise ValueError(f"ops.while_loop: body must return as many loop variables as it takes "
                             f"({len(loop_vars) if is_tuple else 1}), got {len(values)}")
        count += 1
    values = _as_tensors(values)
    return values if is_tuple else values[0]


@composed
def fori_loop(lower, upper, body_fun, init_val):
    """``val = body_fun(i, val)`` for ``i`` from ``lower`` to ``upper - 1`` (integers): the last ``val``,
    its Python numbers converted as Keras' (float32, int32: ``fori_loop(0, 3, f, 0.0)`` is a float32
    array). ``i`` is a Python int for a Python ``lower``, else a NumPy scalar of ``lower``'s dtype, as
    Keras' on TensorFlow gives it (its eager ``while_loop`` counts ``lower + 1``...)."""
    _callable("fori_loop", "body_fun", body_fun)
    kind = int if isinstance(lower, numbers.Integral) and not isinstance(lower, np.integer) else \
        np.asarray(lower).dtype.type
    lower, upper = _integer("fori_loop", "lower", lower), _integer("fori_loop", "upper", upper)
    value = init_val
    for i in range(lower, upper):
        value = body_fun(kind(i), value)
    return _as_tensors(value)


def _leading(function, name, xs):
    """The size of axis 0 shared by every leaf of ``xs`` (refusing tensors: axis 0 is their batch)."""
    sizes = set()
    for leaf in flatten(xs):
        if _is_tensor(leaf):
            raise TypeError(f"ops.{function}: {name} holds a tensor of a model being drawn; it runs over axis 0, "
                            f"which is a tensor's batch axis (apply the function to the whole batch instead)")
        if len(_shape(leaf)) == 0:
            raise ValueError(f"ops.{function}: {name} must hold arrays with an axis 0 to run over, got a single number")
        sizes.add(_shape(leaf)[0])
    if len(sizes) > 1:
        raise ValueError(f"ops.{function}: the arrays of {name} must share the size of axis 0, got {sorted(sizes)}")
    return sizes.pop() if sizes else None


def _stack(function, structures):
    """The list of same-structured results stacked leaf by leaf along a new axis 0 (ops.stack: recorded)."""
    ops = _ops()

    def stack(*leaves):
        if any(_is_tensor(v) for v in leaves):
            raise TypeError(f"ops.{function}: the function returned a tensor of a model being drawn to stack along a "
                            f"new axis 0, before the batch axis: return None (or only the carry) instead")
        if leaves[0] is None:
            return None
        return ops.stack([v if hasattr(v, "dtype") else np.asarray(ops.convert_to_tensor(v)) for v in leaves], axis=0)
    return map_structure(stack, *structures)


@composed
def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """``carry, y = f(carry, x)`` for each ``x`` of ``xs`` along axis 0 (``None`` entries when
    ``xs`` is None: ``length`` steps): ``(carry, ys)``, ``ys`` the ``y``'s stacked on axis 0 (JAX's
    lax.scan, Keras'). ``reverse=True`` runs from the last ``x`` and keeps ``ys`` in ``xs``' order.
    ``unroll`` (a positive int or a bool) is checked and has no effect here."""
    _callable("scan", "f", f)
    if isinstance(unroll, bool) is False and (not isinstance(unroll, numbers.Integral) or unroll < 1):
        raise ValueError(f"ops.scan: unroll must be a positive integer or a boolean, got {unroll!r:.40}")
    if xs is None and length is None:
        raise ValueError("ops.scan: got no xs to scan over and no length")
    n = None if xs is None else _leading("scan", "xs", xs)
    if length is not None:
        length = _integer("scan", "length", length)
        if n is not None and n != length:
            raise ValueError(f"ops.scan: length {length} differs from the size of xs' axis 0, {n}")
        n = length
    order = range(n - 1, -1, -1) if reverse else range(n)
    # the carry as Keras' on TensorFlow makes it (tf.convert_to_tensor of init's leaves): f gets
    # and gives back arrays of Keras' dtypes, not Python numbers
    carry, ys = _as_tensors(init), []
    for i in order:
        x = None if xs is None else map_structure(lambda leaf: _index(leaf, i), xs)
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys.reverse()
    carry = _as_tensors(carry)
    if not ys:          # no step ran: Keras' empty ys, shaped as the carry (TensorFlow's TensorArrays of it)
        return carry, map_structure(lambda c: None if c is None or _is_tensor(c) else
                                    np.zeros((0,) + _shape(c), np.asarray(c).dtype), carry)
    return carry, _stack("scan", ys)


@composed
def associative_scan(f, elems, reverse=False, axis=0):
    """The running combination of ``elems`` along ``axis`` by ``f`` (associative): entry k is
    ``f(... f(f(e0, e1), e2) ..., ek)``; ``reverse=True`` runs from the last entry. ``elems`` may be
    nested (``f`` takes and returns that structure); ``f`` is called on slices that keep ``axis``
    (size 1), one step at a time, left to right (Keras parallelises; the values agree to rounding)."""
    _callable("associative_scan", "f", f)
    leaves = flatten(elems)
    if not leaves:
        raise ValueError("ops.associative_scan: elems holds no array")
    for leaf in leaves:
        if _is_tensor(leaf) and isinstance(axis, numbers.Integral) and axis % leaf.ndim == 0:
            raise TypeError("ops.associative_scan: elems holds a tensor of a model being drawn, and axis is its batch "
                            "axis; scan along a sample axis (axis=1 or more)")
    ndim = len(_shape(leaves[0]))
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or not -ndim <= axis < ndim:
        raise ValueError(f"ops.associative_scan: axis must be an integer from {-ndim} to {ndim - 1}, got {axis!r:.40}")
    axis = axis % ndim
    sizes = {_shape(leaf)[axis] for leaf in leaves}
    if len(sizes) != 1:
        raise ValueError(f"ops.associative_scan: the arrays of elems must share the size of axis {axis}, got {sorted(sizes)}")
    n = sizes.pop()
    if n == 0:
        return elems

    def part(k):
        index = (slice(None),) * axis + (slice(k, k + 1),)
        return map_structure(lambda leaf: _index(leaf, index), elems)
    order = range(n - 1, -1, -1) if reverse else range(n)
    out, running = [], None
    for k in order:
        running = part(k) if running is None else f(running, part(k))
        out.append(running)
    if reverse:
        out.reverse()
    ops = _ops()
    return map_structure(lambda *pieces: ops.concatenate(list(pieces), axis=axis), *out)


@composed
def map(f, xs):
    """``f`` applied to each entry of ``xs`` along axis 0 (``xs`` may be nested: ``f`` gets that
    structure of slices), the results stacked on axis 0 (Keras' ``map``, TensorFlow's map_fn)."""
    return _mapped("map", ("f", f), ("xs", xs))


@composed
def vectorized_map(function, elements):
    """``function`` applied to each entry of ``elements`` along axis 0, stacked (TensorFlow's
    vectorized_map, Keras'): here a loop, as ``map``."""
    return _mapped("vectorized_map", ("function", function), ("elements", elements))


def _mapped(name, given_function, given_entries):
    """``map``'s and ``vectorized_map``'s loop: the function (``(argument name, value)``) of each
    entry along axis 0 of the entries (the same), stacked."""
    (function_name, function), (entries_name, entries) = given_function, given_entries
    _callable(name, function_name, function)
    n = _leading(name, entries_name, entries)
    ys = [function(map_structure(lambda leaf: _index(leaf, i), entries)) for i in range(n)]
    if not ys:
        raise ValueError(f"ops.{name}: {entries_name} has no entry along axis 0 (the results' shape is unknown)")
    return _stack(name, ys)


@composed
def vectorize(pyfunc, *, excluded=None, signature=None):
    """``pyfunc`` made to broadcast over its arguments' leading axes (NumPy's ``vectorize``, Keras'):
    without ``signature`` it takes one entry of each argument at a time; ``signature`` (``"(n),(n)->()"``)
    names the core axes each argument keeps. ``excluded``: positions or names passed as they are.
    The outputs are stacked by ``ops.stack`` (recorded on a tape)."""
    _callable("vectorize", "pyfunc", pyfunc)
    excluded = set(excluded or ())
    cores, out_core = _signature(signature)

    def vectorized(*args, **kwargs):
        ops = _ops()
        free = [k for k in range(len(args)) if k not in excluded]
        if cores is not None and len(cores) != len(free):
            raise ValueError(f"ops.vectorize: signature {signature!r} names {len(cores)} inputs, got {len(free)}")
        loops = []
        for j, k in enumerate(free):
            _refuse_tensor("vectorize", f"args[{k}]", args[k], "loop over")
            shape = _shape(args[k])
            core = 0 if cores is None else len(cores[j])
            loops.append(shape[:len(shape) - core])
        loop_shape = np.broadcast_shapes(*loops) if loops else ()
        results = []
        for idx in np.ndindex(*loop_shape):
            call = list(args)
            for j, k in enumerate(free):
                own = loops[j]
                at = tuple(0 if s == 1 else i for i, s in zip(idx[len(idx) - len(own):], own))
                call[k] = _index(args[k], at) if at else args[k]
            results.append(pyfunc(*call, **kwargs))
        if not loop_shape:
            return results[0]
        if not results:
            raise ValueError("ops.vectorize: the arguments broadcast to an empty shape")
        stacked = _stack("vectorize", results)
        return map_structure(lambda y: ops.reshape(y, tuple(loop_shape) + _shape(y)[1:]), stacked)
    return vectorized


def _signature(signature):
    """The core axes of each input of a NumPy signature ``"(m,n),(n)->(m)"``, and the output's."""
    if signature is None:
        return None, None
    if not isinstance(signature, str) or "->" not in signature:
        raise ValueError(f"ops.vectorize: signature must be a string such as '(n),(n)->()', got {signature!r:.60}")
    import re
    inputs, _, output = signature.replace(" ", "").partition("->")
    groups = [[d for d in g.split(",") if d] for g in re.findall(r"\(([^()]*)\)", inputs)]
    return groups, [d for d in output.strip("()").split(",") if d]
