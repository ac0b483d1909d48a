"""keras.ops' Fourier transforms on symbolic tensors: ``fft``, ``fft2``, ``ifft2``, ``rfft`` and
``irfft``, in Keras' form of a complex tensor, a pair ``(real, imag)`` of float tensors.

keras.io's FNet encoder (keras_hub's ``FNetEncoder``) mixes its tokens with the real part of a 2-D
transform over the steps and features: ``ops.fft2((x, ops.zeros_like(x)))[0]``. Each part of a
result is one ``TensorFunction`` node (``arguments["output"]``: "real" or "imag"), called on the
list ``[real, imag]`` (``rfft``: on one real tensor), as ``top_k`` gives two nodes; each node's
backward gives both inputs their gradient of its part, and the graph sums the two nodes'.

The transforms are linear, so each backward is the adjoint transform of the gradient, ``g`` taken
as the complex number ``gr`` (the real part's node) or ``i gi`` (the imaginary part's): for
``y = F z`` over axes of N points in all, ``dz = conj(F) g = N ifft(g)``; for ``ifft2``,
``y = conj(F) z / N``, ``dz = fft2(g) / N``; ``rfft`` keeps the first n // 2 + 1 rows of F, so
``dx = Re(n ifft(g padded to n))``; ``irfft`` reads each frequency k once (c_k = 1: 0 and, for
even n, n / 2) or as a conjugate pair (c_k = 2), so ``dz_k = c_k rfft(g)_k / n``.
Axes: ``fft``, ``rfft``, ``irfft`` the last, ``fft2`` and ``ifft2`` the last two, never the batch's.
"""
import numpy as np

from . import tensor_stft

PAIRS = ("fft", "fft2", "ifft2", "irfft")          # called on [real, imag]
OF_ONE = ("rfft", "stft")                          # called on one real tensor (stft: layers/tensor_stft.py)
OPS = PAIRS + OF_ONE
ARGUMENTS = {"fft": {"output": "real"}, "fft2": {"output": "real"}, "ifft2": {"output": "real"},
             "rfft": {"fft_length": None, "output": "real"}, "irfft": {"fft_length": None},
             **tensor_stft.ARGUMENTS}
# the axes each transforms (from the end)
AXES = {"fft": (-1,), "fft2": (-2, -1), "ifft2": (-2, -1), "rfft": (-1,), "irfft": (-1,), "stft": (-1,)}


def complex_of(real, imag):
    """``real + i imag`` in the complex type of their float dtype (float32: complex64)."""
    dtype = np.result_type(real.dtype, imag.dtype, np.complex64)
    z = np.empty(np.broadcast_shapes(real.shape, imag.shape), dtype)
    z.real, z.imag = real, imag
    return z


def transform(op, z, fft_length=None):
    """``op`` of ``z`` (complex for the pairs, real for rfft) over its axes, NumPy's ``numpy.fft``;
    a transformed axis of size 0 gives an empty result (``empty_transform``)."""
    if 0 in z.shape[len(z.shape) - len(AXES[op]):]:
        return empty_transform(op, z, fft_length)
    if op == "fft":
        return np.fft.fft(z, axis=-1)
    if op == "fft2":
        return np.fft.fft2(z, axes=(-2, -1))
    if op == "ifft2":
        return np.fft.ifft2(z, axes=(-2, -1))
    if op == "rfft":
        return np.fft.rfft(z, n=fft_length, axis=-1)
    return np.fft.irfft(z, n=fft_length, axis=-1)


def empty_transform(op, z, fft_length=None):
    """``op`` of ``z`` whose transformed axis has size 0 (NumPy refuses "0 FFT data points"), in
    Keras 3.15's shapes on TensorFlow: the pairs' transforms of ``z``'s shape; ``rfft`` and
    ``irfft`` without ``fft_length`` a last axis of 0 (not NumPy's rule's ``n // 2 + 1`` and
    ``2 (m - 1)``), with it ``n // 2 + 1`` and ``n`` zeros, the transform of the zeros padded to
    ``n`` points (NumPy 2.4's irfft and TensorFlow's rfft read uninitialised memory there)."""
    last = z.shape[-1]
    if op == "rfft" and fft_length is not None:
        last = fft_length // 2 + 1
    elif op == "irfft" and fft_length is not None:
        last = fft_length
    dtype = np.finfo(z.dtype).dtype if op == "irfft" else np.result_type(z.dtype, np.complex64)
    return np.zeros(z.shape[:-1] + (last,), dtype)


def output_shape(op, args, shape, who):
    """The sample shape of ``op``'s node (``shape``: a list of two for the pairs)."""
    if op == "stft":
        if not len(shape):
            raise ValueError(f"{who}: stft frames the last axis, not the batch axis: give samples of one axis or more")
        tensor_stft.check_samples(shape[-1], args, who)
        return tensor_stft.output_shape(args, shape)
    if op in PAIRS:
        if len(shape) != 2:
            raise ValueError(f"{who}: {op} takes two tensors, the real and imaginary parts, got {len(shape)}")
        real, imag = (tuple(s) for s in shape)
        if real != imag:
            raise ValueError(f"{who}: {op}'s real and imaginary parts must have one shape, got samples {real} and {imag}")
        shape = real
    else:
        shape = tuple(shape)
    if len(shape) < len(AXES[op]):
        raise ValueError(f"{who}: {op} transforms the last {len(AXES[op])} axes, none of them the batch axis: give "
                         f"samples of {len(AXES[op])} axes or more, got samples of shape {shape}")
    if op in ("rfft", "irfft"):
        m, n = shape[-1], args["fft_length"]
        if op == "rfft":
            n = m if n is None else n
            last = None if n is None else n // 2 + 1 if n else 0      # (size 0: empty, empty_transform)
        else:
            last = n if n is not None else (None if m is None else 2 * (m - 1) if m else 0)
        return shape[:-1] + (last,)
    return shape


def forward(layer, x):
    op, args = layer.op, layer.arguments
    if op == "stft":
        return tensor_stft.forward(layer, x)
    if op in PAIRS:
        real, imag = x
        layer._shapes = (real.shape, imag.shape)
        y = transform(op, complex_of(real, imag), args.get("fft_length"))
        dtype = real.dtype
    else:
        layer._shapes = (x.shape,)
        y = transform(op, x, args["fft_length"])
        dtype = x.dtype
    if op == "irfft":
        return y.astype(dtype, copy=False)
    return (y.real if args["output"] == "real" else y.imag).astype(dtype, copy=False)


def backward(layer, g):
    op, args = layer.op, layer.arguments
    if op == "stft":
        return tensor_stft.backward(layer, g)
    axes = AXES[op]
    if any(0 in shape for shape in layer._shapes) or g.size == 0:
        # nothing transformed (an axis of size 0, or no samples): every input's gradient is zeros
        zeros = [np.zeros(shape, g.dtype) for shape in layer._shapes]
        return zeros[0] if op in OF_ONE else zeros
    if op == "irfft":
        n = args["fft_length"] or 2 * (layer._shapes[0][-1] - 1)
        dz = np.fft.rfft(g, n=n, axis=-1)
        c = np.full(dz.shape[-1], 2.0)
        c[0] = 1
        if n % 2 == 0:
            c[-1] = 1
        dz *= c / n
        dz = _fit(dz, layer._shapes[0][-1])
        return [dz.real.astype(g.dtype, copy=False), dz.imag.astype(g.dtype, copy=False)]
    gz = g.astype(np.result_type(g.dtype, np.complex64))
    if args["output"] == "imag":
        gz = 1j * gz
    if op == "rfft":
        n = args["fft_length"] or layer._shapes[0][-1]
        dx = n * np.fft.ifft(_fit(gz, n), axis=-1)
        return _fit(dx.real, layer._shapes[0][-1]).astype(g.dtype, copy=False)
    points = int(np.prod([g.shape[a] for a in axes]))
    if op == "ifft2":
        dz = np.fft.fft2(gz, axes=axes) / points
    else:
        dz = points * (np.fft.ifft(gz, axis=-1) if op == "fft" else np.fft.ifft2(gz, axes=axes))
    return [dz.real.astype(g.dtype, copy=False), dz.imag.astype(g.dtype, copy=False)]


def _fit(a, n):
    """``a`` cropped or zero-padded to ``n`` entries along its last axis (numpy.fft's reading of ``n``)."""
    if a.shape[-1] >= n:
        return a[..., :n]
    return np.concatenate([a, np.zeros(a.shape[:-1] + (n - a.shape[-1],), a.dtype)], axis=-1)


def arguments(op, args, who):
    """``args`` checked: ``output`` "real" or "imag", ``fft_length`` None or a positive integer."""
    if op == "stft":
        return tensor_stft.arguments(args, who)
    if "output" in args and args["output"] not in ("real", "imag"):
        raise ValueError(f"{who}: {op}'s output must be 'real' or 'imag', got {args['output']!r:.40}")
    if "fft_length" in args and args["fft_length"] is not None:
        n = args["fft_length"]
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{who}: {op}'s fft_length must be None or a positive integer, got {n!r:.40}")
        args["fft_length"] = int(n)
    return args


__all__ = ["PAIRS", "OF_ONE", "OPS", "ARGUMENTS", "output_shape", "forward", "backward", "arguments", "transform",
           "complex_of", "empty_transform"]
