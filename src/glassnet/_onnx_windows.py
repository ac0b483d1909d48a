"""Convolution, depthwise convolution and average pooling as window slices, for the dtypes onnxruntime has no Conv or
AveragePool kernel for (float64: onnxruntime 1.32's CPU Conv and AveragePool are float32 only).

Channels-last throughout (glassnet's layout, no transposes): the input is zero-padded (Pad), and
each kernel offset ``o`` takes the strided slice of the positions it reads (Slice with steps),
of shape ``(batch, *out_spatial, C)``; each slice's end is counted back from the padded axis'
end, so the same nodes take an axis of any size (an Input's None). A convolution joins the slices
along the channels (im2col, offsets in C order then channels: the kernel ``(*k, in, out)``
reshaped to ``(prod(k) * in, out)`` multiplies them in one MatMul); an average pooling sums them
and divides by how many real (unpadded) values each window holds, counted with NumPy from the
spatial sizes (over open sizes: the same slices of a padded tensor of ones): Keras' mean without
the padding. Exact: the same sums glassnet computes, in the same dtype.
"""
import itertools

import numpy as np


def _padded(b, x, pads, dims):
    if not any(pads):
        return x
    begins, ends = pads[:dims], pads[dims:]
    return b.op("Pad", [x, b.ints([0, *begins, 0, 0, *ends, 0])], mode="constant")


def _slices(b, x, sizes, kernel, strides, dilation, pads):
    """Each kernel offset's strided slice of the padded ``x`` (C order over offsets), and the
    output's spatial sizes (None where the size is open). Offset o of a window spanning
    ``span`` pixels reads from ``o d`` to ``span - 1 - o d`` pixels before the padded axis' end,
    every ``s``-th: ``(p - span) // s + 1`` outputs for an axis of p, whatever p."""
    dims = len(sizes)
    padded = [None if n is None else n + pads[i] + pads[dims + i] for i, n in enumerate(sizes)]
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    out = [None if p is None else (p - span) // s + 1 for p, span, s in zip(padded, spans, strides)]
    x = _padded(b, x, pads, dims)
    slices = []
    for offset in itertools.product(*(range(k) for k in kernel)):
        starts = [o * d for o, d in zip(offset, dilation)]
        ends = [start - (span - 1) if start < span - 1 else np.iinfo(np.int64).max
                for start, span in zip(starts, spans)]
        slices.append(b.op("Slice", [x, b.ints(starts), b.ints(ends), b.ints(list(range(1, dims + 1))),
                                     b.ints(list(strides))]))
    return slices, out


def conv(b, x, sizes, kernel, bias, strides, dilation, pads):
    """``x`` (batch, *sizes, in) convolved with ``kernel`` (*k, in, out) (+ ``bias``), as slices."""
    dims = len(sizes)
    slices, _ = _slices(b, x, sizes, kernel.shape[:dims], strides, dilation, pads)
    joined = slices[0] if len(slices) == 1 else b.op("Concat", slices, axis=-1)
    y = b.op("MatMul", [joined, b.const(np.reshape(kernel, (-1, kernel.shape[-1])), "kernel")])
    return y if bias is None else b.op("Add", [y, b.const(bias, "bias")])


def average_pool(b, x, sizes, pool, strides, pads):
    """``x`` (batch, *sizes, C) averaged over windows, the padding left out of each mean."""
    dims = len(sizes)
    slices, out = _slices(b, x, sizes, pool, strides, [1] * dims, pads)
    total = slices[0]
    for s in slices[1:]:
        total = b.op("Add", [total, s])
    if None in sizes:
        if not any(pads):               # every window whole: one count
            return b.op("Div", [total, b.const(float(np.prod(pool)), "count")])
        # how many real values each window holds: the same slices of ones (1, *sizes, 1), padded
        shape = b.op("Concat", [b.ints([1]), b.op("Shape", [x], start=1, end=dims + 1), b.ints([1])], axis=0)
        counts = _slices(b, b.op("Expand", [b.const(np.ones([1] * (dims + 2)), "one"), shape]), sizes, pool,
                         strides, [1] * dims, pads)[0]
        count = counts[0]
        for c in counts[1:]:
            count = b.op("Add", [count, c])
        return b.op("Div", [total, count])
    # how many real values each window holds: the same windows over ones, padded with zeros
    ones = np.pad(np.ones(sizes), [(pads[i], pads[dims + i]) for i in range(dims)])
    counts = np.zeros(out)
    for offset in itertools.product(*(range(k) for k in pool)):
        counts += ones[tuple(slice(o, o + (n - 1) * s + 1, s) for o, n, s in zip(offset, out, strides))]
    return b.op("Div", [total, b.const(counts[..., None], "counts")])


def depthwise(b, x, sizes, kernel, strides, dilation, pads):
    """``x`` (batch, *sizes, C) convolved channel by channel with ``kernel`` (*k, C, M): each
    offset's slice (batch, *out, C, 1) times its (C, M) weights, summed, then (batch, *out, C M)
    (channel c's m-th filter at c M + m, Keras' order)."""
    dims = len(sizes)
    channels, multiplier = kernel.shape[-2:]
    slices, out = _slices(b, x, sizes, kernel.shape[:dims], strides, dilation, pads)
    total = None
    for offset, piece in zip(itertools.product(*(range(k) for k in kernel.shape[:dims])), slices):
        column = b.op("Unsqueeze", [piece, b.ints([dims + 2])])          # (batch, *out, C, 1)
        term = b.op("Mul", [column, b.const(kernel[offset], "kernel")])
        total = term if total is None else b.op("Add", [total, term])
    # (0: the axis kept as it is, any size)
    return b.op("Reshape", [total, b.ints([0] * (dims + 1) + [channels * multiplier])])


def open_same_pool(b, op, x, sizes, pool, strides):
    """MaxPool or AveragePool ``op`` with "same" padding over ``x`` (batch, C, *sizes), channels
    first, with an open size (None) and a window smaller than its stride on some axis: there TensorFlow's
    padding (the odd pixel after) can be none at all, and ONNX's ``auto_pad="SAME_UPPER"`` works
    out a negative one that onnxruntime's pooling refuses at run time ("padding values must be
    non-negative"; its Conv takes no padding instead). The pads are worked out here from the
    sizes the file runs, ``max((ceil(n / s) - 1) s + k - n, 0)``, the odd one after, and put on
    with ``Pad``: -inf for MaxPool; for AveragePool zeros, each window's sum divided by its share
    of real values (the same pooling over ones), Keras' mean without the padding."""
    dims = len(sizes)
    begins, ends = [], []
    for i, (n, k, s) in enumerate(zip(sizes, pool, strides)):
        if n is None:
            n = b.op("Shape", [x], start=2 + i, end=3 + i)
            out = b.op("Div", [b.op("Add", [n, b.ints([s - 1])]), b.ints([s])])
            need = b.op("Sub", [b.op("Add", [b.op("Mul", [b.op("Sub", [out, b.ints([1])]), b.ints([s])]),
                                             b.ints([k])]), n])
            total = b.op("Max", [need, b.ints([0])])
            begin = b.op("Div", [total, b.ints([2])])
            begins.append(begin)
            ends.append(b.op("Sub", [total, begin]))
        else:
            total = max((-(-n // s) - 1) * s + k - n, 0)
            begins.append(b.ints([total // 2]))
            ends.append(b.ints([total - total // 2]))
    pads = b.op("Concat", [b.ints([0, 0]), *begins, b.ints([0, 0]), *ends], axis=0)
    window = dict(kernel_shape=list(pool), strides=list(strides), pads=[0] * (2 * dims))
    if op == "MaxPool":
        return b.op("MaxPool", [b.op("Pad", [x, pads, b.const(-np.inf)], mode="constant")], **window)
    one_channel = b.op("Concat", [b.op("Shape", [x], start=0, end=1), b.ints([1]), b.op("Shape", [x], start=2)],
                       axis=0)
    ones = b.op("Expand", [b.const(1.0, "one"), one_channel])
    sums = b.op("AveragePool", [b.op("Pad", [x, pads], mode="constant")], count_include_pad=1, **window)
    shares = b.op("AveragePool", [b.op("Pad", [ones, pads], mode="constant")], count_include_pad=1, **window)
    return b.op("Div", [sums, shares])
