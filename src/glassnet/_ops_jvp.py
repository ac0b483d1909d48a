"""``ops.jvp``: Keras 3.15's forward-mode Jacobian-vector product, on the second-order tape's tangent pass.

``fun(*primals)`` runs once under a ``GradientTape`` watching each primal leaf; for each output leaf
and each primal leaf it reads, the recorded graph between them becomes glassnet._tape_second's
``_Program`` (the steps of layer and model calls, glassnet._tape_second_rules, and of
``glassnet.ops`` calls, glassnet._tape_second_ops), whose tangent pass along the primal's tangent is
the exact derivative (forward mode, no finite differences). An output's tangent is the sum over
the primals it reads::

    y, ty = ops.jvp(lambda x, w: ops.tanh(ops.matmul(x, w)), (x, w), (tx, tw))

What the second-order tape has no rule for (a mask, ``custom_gradient``, ``ops.sort``...) is
refused by name. Imported by ``ops.jvp`` when called: ``import glassnet`` does not.
"""
import numpy as np

from . import _tape_state
from ._tape_values import Recorded, _paused, _plain
from ._tree import flatten, is_nested, map_structure


def _same_structure(a, b, where="tangents"):
    """Raises ValueError unless ``b`` nests as ``a`` (lists and tuples alike, dicts by their keys)."""
    if is_nested(a) != is_nested(b) or (is_nested(a) and isinstance(a, dict) != isinstance(b, dict)):
        raise ValueError(f"ops.jvp: {where} must have the structure of primals, got {type(b).__name__} "
                         f"where primals have {type(a).__name__}")
    if isinstance(a, dict):
        if set(a) != set(b):
            raise ValueError(f"ops.jvp: {where} must have primals' keys {sorted(map(str, a))}, got {sorted(map(str, b))}")
        for key in a:
            _same_structure(a[key], b[key], f"{where}[{key!r}]")
    elif is_nested(a):
        if len(a) != len(b):
            raise ValueError(f"ops.jvp: {where} must hold {len(a)} entries as primals do, got {len(b)}")
        for k, (x, y) in enumerate(zip(a, b)):
            _same_structure(x, y, f"{where}[{k}]")


def _arrays(primals, tangents):
    """Primal leaves as arrays (Python numbers float32 and int32, as keras.ops.convert_to_tensor),
    tangent leaves as arrays of their primal's dtype and shape (TensorFlow casts them too)."""
    from .ops import convert_to_tensor
    ps, ts = [], []
    for k, (p, t) in enumerate(zip(flatten(primals), flatten(tangents))):
        p = np.asarray(convert_to_tensor(p))
        t = np.asarray(t)
        if t.shape != p.shape:
            raise ValueError(f"ops.jvp: each tangent must have its primal's shape; tangent {k} has shape {t.shape}, "
                             f"its primal {p.shape}")
        ps.append(p)
        ts.append(t.astype(p.dtype, copy=False))
    return ps, ts


def jvp(fun, primals, tangents, has_aux=False):
    """``(fun(*primals), J @ tangents)`` (with ``aux`` as a third entry when ``has_aux``): the
    Jacobian of ``fun`` at ``primals`` applied to ``tangents`` (Keras 3.15's ``ops.jvp``).

    fun : callable of ``len(primals)`` arguments (arrays or nested lists, tuples, dicts of them),
        written with glassnet.ops, operators on its arguments, and layer or model calls; returns
        an array or a nested structure of them (with ``has_aux``: ``(output, aux)``).
    primals : tuple or list of the arguments.
    tangents : tuple or list of the same structure, each leaf shaped as its primal (cast to its dtype).

    Returns ``(primals_out, tangents_out)``: NumPy arrays, ``tangents_out`` nested as
    ``primals_out``; a leaf that depends on no floating primal (a constant, an integer result) gets
    None, as Keras' on TensorFlow.

    >>> y, ty = jvp(ops.sin, (np.float32(0.1),), (np.float32(0.2),))   # doctest: +SKIP
    """
    if not callable(fun):
        raise TypeError(f"ops.jvp: fun must be a callable, got {type(fun).__name__}")
    for name, value in (("primals", primals), ("tangents", tangents)):
        if not isinstance(value, (tuple, list)):
            raise TypeError(f"ops.jvp: {name} must be a tuple or list of fun's arguments, got {type(value).__name__}")
    if not isinstance(has_aux, bool):
        raise TypeError(f"ops.jvp: has_aux must be True or False, got {has_aux!r:.40}")
    _same_structure(primals, tangents)
    if _tape_state.recording():
        raise NotImplementedError("ops.jvp: called while a GradientTape records (a gradient of a jvp) is not built; "
                                  "call it outside the tape's block, or inside `with tape.stop_recording():`")
    from .ops import convert_to_tensor
    from .tape import GradientTape
    ps, ts = _arrays(primals, tangents)
    with GradientTape(persistent=True) as tape:
        # floating primals as recorded values (not the watched arrays), so that operators on them (x * 2,
        # x @ w) are recorded too; the others go in as they are (TensorFlow watches no integer primal)
        floating = [p for p in ps if p.dtype.kind in "fc"]
        tape.watch(floating)
        sources = [convert_to_tensor(p) if p.dtype.kind in "fc" else None for p in ps]
        leaves = iter([p if source is None else source for p, source in zip(ps, sources)])
        out = fun(*map_structure(lambda _: next(leaves), list(primals)))
    if has_aux:
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise ValueError(f"ops.jvp: with has_aux=True fun must return a pair (output, aux), got "
                             f"{type(out).__name__}" + (f" of {len(out)}" if isinstance(out, (tuple, list)) else ""))
        out, aux = out
    tangents_out = map_structure(lambda y: _tangent(tape, y, sources, ts), out)
    values = map_structure(_plain, out)
    return (values, tangents_out, map_structure(_plain, aux)) if has_aux else (values, tangents_out)


def _tangent(tape, y, sources, ts):
    """The tangent of the output leaf ``y``: the sum over the floating primals it reads of its
    program's tangent pass along theirs (None where it reads none, as TensorFlow's ForwardAccumulator)."""
    from ._tape_second import _check_replay, _graph, _program
    if not isinstance(y, Recorded) or y._node is None or y.dtype.kind not in "fc":
        return None
    total = None
    for source, t in zip(sources, ts):
        if source is None:
            continue
        ids = {source._node}
        try:
            found = _graph(tape, y._node, ids, peel=False)
            if found is None:
                continue
            between = found[1]
            if not between:         # the output is the primal itself
                part = t
            else:
                with _paused():
                    program, out, _ = _program(between, ids, ())
                    _check_replay(between[-1], program.values[out], np.asarray(y))
                    part = program.tangents(t).get(out)
        except NotImplementedError as error:
            if not hasattr(error, "what"):
                raise
            raise NotImplementedError(
                f"ops.jvp: forward mode runs the tangent rules of the second-order tape (layer and model calls, and "
                f"the glassnet.ops it covers); {error.what.replace(' on the inner tape', '')} has none, so its jvp is not built") from None
        if part is not None:
            total = part if total is None else total + part
    return None if total is None else np.asarray(total).astype(y.dtype, copy=False)
