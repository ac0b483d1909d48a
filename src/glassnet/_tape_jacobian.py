"""``GradientTape.jacobian`` and ``batch_jacobian`` (glassnet.tape): TensorFlow's, by backward passes.

The tape's graph is walked once per row of the Jacobian, each walk seeded with a one-hot
dL/d(target) (``gradient``'s ``output_gradients``): ``jacobian`` makes one pass per element of the
target, ``batch_jacobian`` one per element of a target's sample, seeded at that element in every
sample at once (sample i of the target depending on sample i of the source only, as TF requires,
the pass's gradient at sample i of the source is row i's). TF vectorises the passes (pfor); here
they run one after another over the recorded graph, so ``parallel_iterations`` and
``experimental_use_pfor`` change nothing but are checked as TF's.
"""
import numpy as np

from .tape import _flatten
from ._tape_values import _plain


def _check(caller, tape, parallel_iterations, experimental_use_pfor):
    if not isinstance(experimental_use_pfor, bool):
        raise TypeError(f"GradientTape.{caller}: experimental_use_pfor: expected True or False, got "
                        f"{experimental_use_pfor!r:.40}")
    if parallel_iterations is not None and (isinstance(parallel_iterations, bool) or not isinstance(
            parallel_iterations, (int, np.integer)) or parallel_iterations < 1):
        raise ValueError(f"GradientTape.{caller}: parallel_iterations: expected None or a positive integer, got "
                         f"{parallel_iterations!r:.40}")
    if not experimental_use_pfor and not tape.persistent:
        # TF's rule: its loop without pfor asks the tape once per row
        raise RuntimeError(f"GradientTape.{caller}: experimental_use_pfor=False needs GradientTape(persistent=True), "
                           f"as TF's eager tape does")


def _passes(tape, start, seeds, flat, source_nodes, unconnected_gradients):
    """Each source's gradient at each seed of ``seeds`` (an iterable): a list, per source, of the
    gradients of every pass (None where unconnected)."""
    reach = tape._reach(start) if start is not None else None
    out = [[] for _ in flat]
    for seed in seeds:
        for k, grad in enumerate(tape._pass(start, seed, flat, source_nodes, unconnected_gradients, reach)):
            # copied now: a layer's backward pass may hand the same buffer back at the next pass
            out[k].append(None if grad is None else np.array(grad, copy=True))
    return out


def _connected(tape, start, shape, dtype, flat, source_nodes):
    """For an empty target: whether each source of ``flat`` reaches it, read off one backward pass
    seeded with the target's empty gradient (the walk that gives ``gradient``'s None); False for all
    where the target depends on nothing recorded."""
    if start is None:
        return [False] * len(flat)
    grads = tape._pass(start, np.zeros(shape, dtype), flat, source_nodes, "none")
    return [grad is not None for grad in grads]


def jacobian(tape, target, sources, unconnected_gradients, parallel_iterations, experimental_use_pfor):
    """d target / d source for each source: ``target.shape + source.shape``, ``sources``' structure.

    >>> with GradientTape() as tape:                        # doctest: +SKIP
    ...     tape.watch(x)                                  # x: (n, 3)
    ...     y = model(x)                                   # y: (n, 2)
    >>> tape.jacobian(y, x).shape                          # doctest: +SKIP
    (n, 2, n, 3)
    """
    _check("jacobian", tape, parallel_iterations, experimental_use_pfor)
    tape._begin("jacobian", unconnected_gradients)
    flat, rebuild = _flatten(sources)
    start = tape._start(target, "jacobian")
    source_nodes = tape._source_nodes(flat, "jacobian")
    tape._used = True
    value = _plain(target)
    shape, size = np.shape(value), int(np.size(value))
    dtype = np.asarray(value).dtype

    def seeds():
        for i in range(size):
            seed = np.zeros(size, dtype)
            seed[i] = 1
            yield seed.reshape(shape)
    rows = _passes(tape, start, seeds(), flat, source_nodes, unconnected_gradients)
    connected = _connected(tape, start, shape, dtype, flat, source_nodes) if size == 0 else None
    results = []
    for k, (s, grads) in enumerate(zip(flat, rows)):
        s_shape, s_dtype = np.shape(s), np.asarray(s).dtype
        if size and grads[0] is None:
            results.append(None)
        elif size == 0:
            # no element, no row: TF's (pfor) gives zeros of the shape for a source the target
            # depends on, and None for one it does not (zeros with unconnected_gradients="zero")
            zeros = connected[k] or unconnected_gradients == "zero"
            results.append(np.zeros(shape + s_shape, s_dtype) if zeros else None)
        else:
            results.append(np.stack(grads).astype(s_dtype, copy=False).reshape(shape + s_shape))
    tape._end()
    return rebuild(results)


def batch_jacobian(tape, target, source, unconnected_gradients, parallel_iterations, experimental_use_pfor):
    """d target[i] / d source[i] for each sample i: ``(batch, *target.shape[1:], *source.shape[1:])``.
    A source the target does not depend on gets zeros, as TF's (which ignores
    ``unconnected_gradients`` there).

    >>> with GradientTape() as tape:                        # doctest: +SKIP
    ...     tape.watch(x)                                  # x: (n, 3)
    ...     y = model(x)                                   # y: (n, 2), row i from x[i] only
    >>> tape.batch_jacobian(y, x).shape                    # doctest: +SKIP
    (n, 2, 3)
    """
    _check("batch_jacobian", tape, parallel_iterations, experimental_use_pfor)
    if isinstance(source, (list, tuple, dict)) or not isinstance(source, np.ndarray):
        raise TypeError(f"GradientTape.batch_jacobian: source: expected one array (a watched input or a recorded "
                        f"value of shape (batch, ...)), got {type(source).__name__}")
    if target is None or not hasattr(target, "shape"):
        raise TypeError(f"GradientTape.batch_jacobian: target: expected a recorded value of shape (batch, ...), got "
                        f"{type(target).__name__}")
    for name, value in (("target", target), ("source", source)):
        if np.ndim(_plain(value)) < 2:
            raise ValueError(f"GradientTape.batch_jacobian: {name}: expected at least 2 axes (batch, ...), got shape "
                             f"{np.shape(_plain(value))}")
    t_shape, s_shape = np.shape(_plain(target)), np.shape(_plain(source))
    if t_shape[0] != s_shape[0]:
        raise ValueError(f"GradientTape.batch_jacobian: target and source: expected the same batch size (first "
                         f"axis), got target shape {t_shape} and source shape {s_shape}")
    tape._begin("batch_jacobian", unconnected_gradients)
    start = tape._start(target, "batch_jacobian")
    flat = [source]
    source_nodes = tape._source_nodes(flat, "batch_jacobian")
    tape._used = True
    batch, row, dtype = t_shape[0], int(np.prod(t_shape[1:])), np.asarray(_plain(target)).dtype

    def seeds():
        for j in range(row):            # element j of every sample at once
            seed = np.zeros((batch, row), dtype)
            seed[:, j] = 1
            yield seed.reshape(t_shape)
    grads = _passes(tape, start, seeds(), flat, source_nodes, unconnected_gradients)[0]
    out_shape = (batch,) + t_shape[1:] + s_shape[1:]
    tape._end()
    if row == 0 or grads[0] is None:    # TF's zeros, in the target's dtype
        return np.zeros(out_shape, dtype)
    # pass j gives column j of every sample's Jacobian: (row, batch, *source_rest) -> (batch, row, ...)
    stacked = np.stack([np.reshape(g, (batch, -1)) for g in grads], axis=1)
    return stacked.astype(np.asarray(_plain(source)).dtype, copy=False).reshape(out_shape)
