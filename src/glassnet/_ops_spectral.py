"""keras.ops' ``arctan2``, ``glu``, ``threshold``, ``sparsemax`` and Fourier transforms (``fft``,
``fft2``, ``ifft2``, ``rfft``, ``irfft``) for ``glassnet.ops`` (which re-exports them).

On arrays each computes at once in Keras 3.15's dtypes (integers give float32). On tensors each
makes ``TensorFunction`` nodes with a gradient: arctan2 a binary node (two tensors, or a tensor and
a constant; layers/tensor_math.py), glu, threshold and sparsemax activation nodes (glassnet.
activations' pairs, layers/tensor_activations.py), each part of a transform one node
(layers/tensor_spectral.py).

Complex numbers travel as Keras' pair ``(real, imag)`` of float arrays of one shape, on arrays and
tensors alike; keras.io's FNet (keras_hub's ``FNetEncoder``) mixes tokens with

    real, _ = ops.fft2((x, ops.zeros_like(x)))
"""
import numbers

import numpy as np

from ._ops_activations import _activation
from ._ops_reading import _array, _float, _is_tensor, _two, _weak
from .layers import tensor_spectral
from .layers.tensor_functions import TensorFunction


def arctan2(x1, x2):
    """The angle of the point ``(x2, x1)`` from the x axis, in [-pi, pi], elementwise, broadcast as
    NumPy's; integers give float32. On tensors its gradient is ``x2 / r^2`` and ``-x1 / r^2``
    (``r^2 = x1^2 + x2^2``), 0 at the origin.

    >>> float(arctan2(1.0, -1.0))
    2.356194496154785
    """
    if not (_is_tensor(x1) or _is_tensor(x2)):
        # Keras 3.15 converts each operand to a tensor of its own first (a Python float float32, an
        # int int32, a bool bool), so a Python number is not weak here as in the other ops: float16
        # with 2.5 gives float32, and float64 with 0.1 reads float32(0.1) widened, as Keras does
        x1, x2 = (_array(v, name, "arctan2") if _weak(v) else v for name, v in (("x1", x1), ("x2", x2)))
    return _two("arctan2", x1, x2, lambda a, b: np.arctan2(_float(a), _float(b)).astype(
        np.result_type(_float(a), _float(b)), copy=False))


def glu(x, axis=-1):
    """The gated linear unit: ``a * sigmoid(b)``, ``a`` and ``b`` the two halves of ``axis`` (its
    size even), so the result has half of it."""
    return _activation("glu", x, axis=axis)


def threshold(x, threshold, default_value):
    """``x`` where ``x > threshold``, else ``default_value`` (numbers); its gradient is 1 above the
    threshold, 0 at and below it."""
    return _activation("threshold", x, floats=False, threshold=threshold, default_value=default_value)


def sparsemax(x, axis=-1):
    """Each slice along ``axis`` projected onto the probability simplex (Martins and Astudillo 2016):
    ``max(x - tau, 0)`` summing to 1, small entries exactly 0. Keras 3.15's sums to less than 1 where
    more than one entry stays (keras-team/keras#23425); glassnet's is the paper's."""
    return _activation("sparsemax", x, axis=axis)


# -- Fourier transforms ----------------------------------------------------------------------------
def _pair(x, op):
    """``x``, a pair ``(real, imag)``: two tensors, or two arrays of one shape in a float dtype."""
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise TypeError(f"ops.{op}: x must be a pair (real, imag) of arrays or tensors of one shape, Keras' complex "
                        f"form, got {type(x).__name__}{f' of {len(x)}' if isinstance(x, (tuple, list)) else ''}")
    tensors = [_is_tensor(v) for v in x]
    if any(tensors) and not all(tensors):
        raise TypeError(f"ops.{op}: x's real and imaginary parts must both be tensors of the model being drawn, or "
                        f"both arrays; for a real tensor give ops.zeros_like(x) as its imaginary part")
    if all(tensors):
        return list(x), True
    real, imag = (_array(v, f"x[{k}]", op) for k, v in enumerate(x))
    if real.shape != imag.shape:
        raise ValueError(f"ops.{op}: x's real and imaginary parts must have one shape, got {real.shape} and {imag.shape}")
    for k, part in enumerate((real, imag)):
        if part.dtype.kind != "f":
            raise TypeError(f"ops.{op}: x[{k}] must hold floats (as Keras 3.15), got an array of {part.dtype}")
    return [real, imag], False


def _transformed(op, x, **arguments):
    parts, tensors = _pair(x, op)
    axes = len(tensor_spectral.AXES[op])
    if tensors:
        if op == "irfft":
            return TensorFunction(op, arguments)(parts)
        return tuple(TensorFunction(op, {**arguments, "output": output})(parts) for output in ("real", "imag"))
    if parts[0].ndim < axes:
        raise ValueError(f"ops.{op}: x's parts must have {axes} axes or more, got shape {parts[0].shape}")
    dtype = np.result_type(*parts)
    y = tensor_spectral.transform(op, tensor_spectral.complex_of(*parts), arguments.get("fft_length"))
    if op == "irfft":
        return y.astype(dtype, copy=False)
    return y.real.astype(dtype), y.imag.astype(dtype)


def fft(x):
    """The discrete Fourier transform along the last axis of ``x = (real, imag)``: a pair ``(real,
    imag)`` of its shape and dtype."""
    return _transformed("fft", x)


def fft2(x):
    """The 2-D discrete Fourier transform over the last two axes of ``x = (real, imag)``: a pair.
    On tensors the two axes are sample axes; keras.io's FNet takes ``fft2((x, zeros_like(x)))[0]``."""
    return _transformed("fft2", x)


def ifft2(x):
    """The inverse of ``fft2`` (divided by the number of points), on a pair ``(real, imag)``."""
    return _transformed("ifft2", x)


def _fft_length(fft_length, op):
    if fft_length is not None and (isinstance(fft_length, bool) or not isinstance(fft_length, numbers.Integral)
                                   or fft_length < 1):
        raise ValueError(f"ops.{op}: fft_length must be None or a positive integer, got {fft_length!r:.40}")
    return None if fft_length is None else int(fft_length)


def rfft(x, fft_length=None):
    """The transform of real ``x`` along its last axis, the first ``n // 2 + 1`` frequencies (``n``:
    ``fft_length``, None the axis' size; ``x`` cropped or zero-padded to it): a pair ``(real, imag)``, float32 on arrays as Keras 3.15's
    (TensorFlow's rfft is complex64, a float64 ``x`` too)."""
    n = _fft_length(fft_length, "rfft")
    if _is_tensor(x):
        return tuple(TensorFunction("rfft", {"fft_length": n, "output": output})(x) for output in ("real", "imag"))
    array = _float(_array(x, "x", "rfft"))
    if array.ndim < 1:
        raise ValueError("ops.rfft: x must have one axis or more, got a single number")
    y = tensor_spectral.transform("rfft", array, n)      # (an axis of size 0: empty, as Keras)
    # float32 for float64 too: Keras 3.15 on TensorFlow runs tf.signal.rfft, whose output is complex64
    return y.real.astype(np.float32), y.imag.astype(np.float32)


def irfft(x, fft_length=None):
    """The inverse of ``rfft``: ``n`` real numbers (``fft_length``, None ``2 (m - 1)`` of the ``m``
    frequencies given) from a pair ``(real, imag)``."""
    return _transformed("irfft", x, fft_length=_fft_length(fft_length, "irfft"))


sparsemax._activation = "sparsemax"     # activation=ops.sparsemax takes the activation of that name

__all__ = ["arctan2", "glu", "threshold", "sparsemax", "fft", "fft2", "ifft2", "rfft", "irfft"]
