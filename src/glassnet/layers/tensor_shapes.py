"""The output shapes of ``TensorFunction``'s ops (layers/tensor_functions.py), worked out on sample
shapes (None: any size) while a model is drawn, and the refusals of what would touch the batch axis.

Arguments count axes as Keras does, the batch axis as axis 0: a sample of shape ``(5, 4)`` is a
tensor of rank 3, axis 1 its first sample axis, -1 its last. Each function takes ``who`` (the layer's
description) for its messages, which name the argument, what was expected and what came.
"""
import math

from .tensor_ops import _broadcast


def sample_axes(axis, rank, who, op, argument="axis"):
    """``axis`` (an int or a list of them) of a tensor of ``rank`` axes (the batch's included) as
    sorted non-negative axes; refuses the batch axis 0, an axis the tensor lacks, or one twice."""
    named = axis if isinstance(axis, list) else [axis]
    for a in named:
        if not -rank <= a < rank:
            raise ValueError(f"{who}: {op}'s {argument} {a} is outside tensors of {rank} axes (batch, *sample)")
    axes = sorted(a % rank for a in named)
    if 0 in axes:
        raise ValueError(f"{who}: {op}'s {argument}={axis} names the batch axis 0; while a model is drawn each "
                         f"sample is computed on its own: name sample axes (1 to {rank - 1}, or negative)")
    if len(set(axes)) != len(axes):
        raise ValueError(f"{who}: {op}'s {argument}={axis} names an axis twice")
    return tuple(axes)


def reduced(shape, axis, keepdims, who, op):
    if axis is None:
        raise ValueError(f"{who}: {op} with axis=None reduces over the batch axis too (every sample into one "
                         f"number); while a model is drawn name the sample axes, e.g. axis={list(range(1, len(shape) + 1))}")
    axes = sample_axes(axis, len(shape) + 1, who, op)
    full = (None, *shape)
    out = [1 if k in axes else n for k, n in enumerate(full)] if keepdims else \
        [n for k, n in enumerate(full) if k not in axes]
    return tuple(out[1:])


def expand_dims(shape, axis, who):
    (a,) = sample_axes(axis, len(shape) + 2, who, "expand_dims")      # an axis of the output
    out = list(shape)
    out.insert(a - 1, 1)
    return tuple(out)


def squeeze(shape, axis, who):
    if axis is None:            # every sample axis of size 1 (the batch axis never, as Keras' symbolic shape)
        return tuple(n for n in shape if n != 1)
    axes = sample_axes(axis, len(shape) + 1, who, "squeeze")
    for a in axes:
        if shape[a - 1] != 1:
            raise ValueError(f"{who}: squeeze's axis {a} has size {shape[a - 1]} in tensors of shape "
                             f"{(None, *shape)}; it removes axes of size 1")
    return tuple(n for k, n in enumerate(shape) if k + 1 not in axes)


def reshape(shape, newshape, who):
    """Keras' full ``newshape``, its batch entry -1 or None, the sample's sizes after it."""
    if newshape[0] not in (-1, None):
        raise ValueError(f"{who}: reshape's newshape {tuple(newshape)} starts with the batch axis, which must be "
                         f"-1 or None while a model is drawn (any batch), got {newshape[0]}")
    target = [-1 if n is None else n for n in newshape[1:]]
    if any(n < -1 or n == 0 for n in target) or target.count(-1) > 1:
        raise ValueError(f"{who}: reshape's newshape {tuple(newshape)}: sample sizes must be positive, with at most "
                         f"one -1 (or None) for the size worked out")
    if None in shape:
        return tuple(None if n == -1 else n for n in target)     # the data decides, in forward
    size, known = math.prod(shape), math.prod(n for n in target if n != -1)
    if (-1 in target and size % known) or (-1 not in target and size != known):
        folds = -1 not in target and size % known == 0
        raise ValueError(f"{who}: reshape's newshape {tuple(newshape)} does not hold samples of shape {shape} "
                         f"({size} numbers each)" + (
                             f"; Keras' reshape(x, {tuple(newshape)}) folds the batch axis into rows of "
                             f"{tuple(target)}, which a drawn call keeps whole: keep the batch axis first, "
                             f"reshape(x, (-1, {size // known}, {', '.join(map(str, target))})), and reduce over the "
                             f"sample axes after it" if folds else ""))
    return tuple(size // known if n == -1 else n for n in target)


def transpose(shape, axes, who):
    rank = len(shape) + 1
    if axes is None:
        raise ValueError(f"{who}: transpose with axes=None reverses every axis, the batch axis too; while a model "
                         f"is drawn give axes with the batch axis first, e.g. {(0, *range(rank - 1, 0, -1))}")
    if len(axes) != rank or sorted(a % rank if -rank <= a < rank else -1 for a in axes) != list(range(rank)):
        raise ValueError(f"{who}: transpose's axes {tuple(axes)} must order every axis of tensors of {rank} "
                         f"(batch, *sample) once")
    if axes[0] % rank != 0:
        raise ValueError(f"{who}: transpose's axes {tuple(axes)} move the batch axis; it stays first (axes[0] = 0)")
    full = (None, *shape)
    return tuple(full[a % rank] for a in axes[1:])


def joined(shapes, op, axis, who):
    """concatenate's (sizes along ``axis`` added) and stack's (a new axis) output sample."""
    if len(shapes) < 1:
        raise ValueError(f"{who}: {op} takes a list of one tensor or more")
    ranks = {len(s) for s in shapes}
    if len(ranks) > 1:
        raise ValueError(f"{who}: {op} of tensors of samples {shapes}: each needs one number of axes")
    rank = len(shapes[0]) + 1
    if op == "stack":
        (a,) = sample_axes(axis, rank + 1, who, op)
        _same(shapes, shapes, who, op)
        out = list(_merged(shapes))
        out.insert(a - 1, len(shapes))
        return tuple(out)
    (a,) = sample_axes(axis, rank, who, op)
    rest = [s[:a - 1] + s[a:] for s in shapes]
    _same(rest, shapes, who, op, f" but axis={axis}")
    out = list(_merged(shapes))
    sizes = [s[a - 1] for s in shapes]
    out[a - 1] = None if None in sizes else sum(sizes)
    return tuple(out)


def _same(parts, shapes, who, op, but=""):
    for part in parts[1:]:
        if any(x is not None and y is not None and x != y for x, y in zip(part, parts[0])):
            raise ValueError(f"{who}: {op} of tensors of samples {shapes}: they must match on every axis{but}")


def _merged(shapes):
    """Each axis' size, known where any of ``shapes`` knows it."""
    return [next((n for n in sizes if n is not None), None) for sizes in zip(*shapes)]


def broadcast_equal_rank(a, b, what):
    if len(a) != len(b):
        raise ValueError(f"{what}: both need one number of axes, so that their batch axes meet")
    return _broadcast(a, b, lambda: what)


def against_constant(shape, c, who):
    """A tensor's sample against a constant of shape ``c``, broadcast batch-first as NumPy's."""
    if len(c) > len(shape) + 1 or (len(c) == len(shape) + 1 and c[0] != 1):
        raise ValueError(f"{who}: a constant of shape {c} against tensors of shape {(None, *shape)} would change "
                         f"the batch axis; give it the sample's shape {shape} (or fewer axes)")
    c = c[-len(shape):] if len(c) > len(shape) else (1,) * (len(shape) - len(c)) + c
    return _broadcast(shape, c, lambda: f"{who}: a constant of shape {c} against tensors of shape {(None, *shape)}")


def matmul(a, b, who):
    """Two tensors' batched product on their last two axes (the axes before them broadcast)."""
    if len(a) < 2 or len(b) < 2 or len(a) != len(b):
        raise ValueError(f"{who}: matmul of tensors of samples {a} and {b}: each needs two sample axes or more "
                         f"(batch, ..., rows, columns), one number of them; for vectors (batch, k) use a "
                         f"constant matrix, or expand_dims first")
    _inner(a[-1], b[-2], a, b, who)
    lead = broadcast_equal_rank(a[:-2], b[:-2], f"{who}: matmul of tensors of samples {a} and {b}")
    return (*lead, a[-2], b[-1])


def matmul_constant(shape, c, reverse, who):
    """``x @ C`` (C (k, m), x's last axis k) or ``C @ x`` (C (m, n), x's last two axes (n, k))."""
    if reverse:
        if len(shape) < 2:
            raise ValueError(f"{who}: matmul of a matrix {c} and tensors of shape {(None, *shape)}: the tensor needs "
                             f"two sample axes (rows, columns) to be multiplied from the left")
        _inner(c[1], shape[-2], c, shape, who)
        return (*shape[:-2], c[0], shape[-1])
    _inner(shape[-1], c[0], shape, c, who)
    return (*shape[:-1], c[1])


def _inner(k, l, a, b, who):
    if k is not None and l is not None and k != l:
        raise ValueError(f"{who}: matmul of shapes {a} and {b} (samples): the inner sizes {k} and {l} differ")
