"""The ``glassnet.ops`` functions a ``GradientTape`` records with nodes of their own (glassnet.tape):
``where``, ``einsum``, ``take``, ``take_along_axis``, ``concatenate``, ``stack`` and the
convolutions and poolings. A functional model's nodes of these ops (layers/tensor_structure.py,
tensor_conv.py) read axis 0 as the batch axis, which a tape's values need not have (``einsum("ij,jk->ik",
a, b)`` of two watched matrices): these take NumPy's meaning of every axis. Each is a forward and
a backward side by side, on plain arrays; ``merges`` nodes take a list of the operands that are
recorded values, the others kept as constants.
"""
import numpy as np

from .layers.tensor_ops import unbroadcast      # an operand's gradient summed over the axes broadcasting grew


class Operands:
    """The operands of an op, some recorded (``live[k]``: their place in the node's inputs), the
    others constants: ``fill(inputs)`` gives every operand's array."""
    merges = True

    def __init__(self, values, live):
        self.constants = [None if is_live else np.asarray(v) for v, is_live in zip(values, live)]
        self.live = live

    def fill(self, inputs):
        inputs = iter(inputs)
        return [next(inputs) if is_live else c for c, is_live in zip(self.constants, self.live)]

    def only_live(self, grads):
        return [g for g, is_live in zip(grads, self.live) if is_live]


class Where(Operands):
    """``where(condition, x1, x2)``: the gradient to x1 where the condition holds, to x2 elsewhere."""
    op = "where"

    def forward(self, inputs, training=False):
        self.condition, x1, x2 = self.fill(inputs)
        self.condition = np.asarray(self.condition) != 0
        self.shapes = [np.shape(x1), np.shape(x2)]
        return np.where(self.condition, x1, x2)

    def backward(self, g):
        zero = np.zeros((), g.dtype)
        return self.only_live([None, unbroadcast(np.where(self.condition, g, zero), self.shapes[0]),
                               unbroadcast(np.where(self.condition, zero, g), self.shapes[1])])


def _explicit(subscripts, count):
    """``subscripts`` with its output written out (NumPy's implicit form: the indices seen once,
    sorted); refused: ellipses and an index repeated within one operand (a diagonal)."""
    if "." in subscripts:
        raise TypeError(f"ops.einsum on values a GradientTape records: subscripts with '...' ({subscripts!r}) are "
                        f"not recorded; write every axis's letter")
    subscripts = subscripts.replace(" ", "")
    inputs, _, output = subscripts.partition("->")
    terms = inputs.split(",")
    if len(terms) != count:
        raise ValueError(f"ops.einsum: subscripts {subscripts!r} name {len(terms)} operands, got {count}")
    if "->" not in subscripts:
        letters = "".join(terms)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    for term in terms:
        if len(set(term)) != len(term):
            raise TypeError(f"ops.einsum on values a GradientTape records: an index repeated in one operand "
                            f"({term!r}, a diagonal) is not recorded")
    return terms, output


class Einsum(Operands):
    """``einsum(subscripts, *operands)``: operand k's gradient is the einsum of g with the other
    operands into k's indices (an index k alone carries is broadcast: its sum's derivative is 1)."""
    op = "einsum"

    def __init__(self, subscripts, values, live):
        super().__init__(values, live)
        self.terms, self.output = _explicit(subscripts, len(values))

    def forward(self, inputs, training=False):
        self.arrays = self.fill(inputs)
        return np.asarray(np.einsum(",".join(self.terms) + "->" + self.output, *self.arrays))

    def backward(self, g):
        grads = []
        for k, term in enumerate(self.terms):
            if not self.live[k]:
                grads.append(None)
                continue
            others = [(t, a) for j, (t, a) in enumerate(zip(self.terms, self.arrays)) if j != k]
            seen = set(self.output).union(*[set(t) for t, _ in others])
            kept = "".join(c for c in term if c in seen)
            spec = ",".join([self.output] + [t for t, _ in others]) + "->" + kept
            part = np.einsum(spec, g, *[a for _, a in others])
            shape = self.arrays[k].shape
            # the indices summed within operand k alone: the same gradient along them
            part = part.reshape([shape[i] if c in seen else 1 for i, c in enumerate(term)])
            grads.append(np.broadcast_to(part, shape).astype(g.dtype, copy=True))
        return self.only_live(grads)


class Take:
    """``take(x, indices, axis)`` of a recorded ``x`` at constant indices: the gradient scattered
    back (repeated indices add)."""
    merges, op = False, "take"

    def __init__(self, indices, axis):
        self.indices, self.axis = np.asarray(indices), axis

    def forward(self, x, training=False):
        self.shape, self.dtype = x.shape, x.dtype
        return np.take(x, self.indices, axis=self.axis)

    def backward(self, g):
        grad = np.zeros(self.shape, self.dtype)
        idx = self.indices
        if self.axis is None:
            np.add.at(grad.reshape(-1), idx.reshape(-1), np.reshape(g, -1))
            return grad
        axis = self.axis % len(self.shape)
        moved = np.moveaxis(grad, axis, 0)          # a view: written through
        g = np.moveaxis(g, list(range(axis, axis + idx.ndim)), list(range(idx.ndim)))
        np.add.at(moved, idx, g)
        return grad


class TakeAlongAxis:
    """``take_along_axis(x, indices, axis)`` of a recorded ``x`` at constant indices (NumPy's, the
    other axes broadcast)."""
    merges, op = False, "take_along_axis"

    def __init__(self, indices, axis):
        self.indices, self.axis = np.asarray(indices), axis

    def forward(self, x, training=False):
        self.shape, self.dtype = x.shape, x.dtype
        x, idx, axis = (x.reshape(-1), self.indices.reshape(-1), 0) if self.axis is None else (
            x, self.indices, self.axis % x.ndim)
        shape = np.broadcast_shapes(*(s[:axis] + (1,) + s[axis + 1:] for s in (x.shape, idx.shape)))
        self.x_shape = shape[:axis] + (x.shape[axis],) + shape[axis + 1:]
        self.index = np.broadcast_to(idx, shape[:axis] + (idx.shape[axis],) + shape[axis + 1:])
        self.axis_now, self.broadcast = axis, x.shape
        return np.take_along_axis(np.broadcast_to(x, self.x_shape), self.index, axis)

    def backward(self, g):
        grad = np.zeros(self.x_shape, self.dtype)
        where = list(np.ogrid[tuple(slice(n) for n in self.index.shape)])
        where[self.axis_now] = self.index
        np.add.at(grad, tuple(where), g)
        return unbroadcast(grad, self.broadcast).reshape(self.shape)


class Join(Operands):
    """``concatenate(xs, axis)`` or ``stack(xs, axis)`` of recorded values and constants (NumPy's
    axes): each operand's gradient is its part of g."""

    def __init__(self, op, values, live, axis):
        super().__init__(values, live)
        self.op, self.axis = op, axis

    def forward(self, inputs, training=False):
        arrays = self.fill(inputs)
        self.sizes = [np.shape(a)[self.axis] for a in arrays] if self.op == "concatenate" else len(arrays)
        return (np.concatenate if self.op == "concatenate" else np.stack)(arrays, axis=self.axis)

    def backward(self, g):
        if self.op == "stack":
            return self.only_live(list(np.moveaxis(g, self.axis, 0)))
        cuts = np.cumsum(self.sizes)[:-1]
        return self.only_live(np.split(g, cuts, axis=self.axis))


class Window(Operands):
    """A convolution (``conv``, ``depthwise_conv``, ``conv_transpose``: the kernel recorded or a
    constant) or a pooling of a recorded input, by the convolution layers' kernels (layers/tensor_conv.py)."""
    def __init__(self, op, arguments, values, live):
        from .layers import tensor_conv
        super().__init__(values, live)
        self.op = op
        self.args = tensor_conv.arguments(op, {**tensor_conv.ARGUMENTS[op], **arguments}, f"ops.{op}")

    def forward(self, inputs, training=False):
        from .layers import tensor_conv
        x, *kernel = self.fill(inputs)
        self.kernel = np.asarray(kernel[0], dtype=x.dtype) if kernel else None
        y, self.state = tensor_conv.forward(self.op, self.args, np.asarray(x), self.kernel, f"ops.{self.op}")
        return y

    def backward(self, g):
        from .layers import tensor_conv
        wants_kernel = len(self.live) > 1 and self.live[1]
        dx, dkernel = tensor_conv.backward(self.op, np.asarray(g), self.state, self.kernel, kernel_gradient=wants_kernel)
        return self.only_live([dx, dkernel] if len(self.live) > 1 else [dx])
