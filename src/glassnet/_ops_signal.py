"""keras.ops' window functions, spaces, frames, distances and complex helpers for ``glassnet.ops``
(which re-exports them): bartlett, blackman, hamming, hanning, kaiser, geomspace, logspace,
extract_sequences, cdist, angle, conj, conjugate, real, imag, view_as_complex, view_as_real.

The windows and spaces are NumPy constants in Keras 3.15's dtypes on TensorFlow (floatx or float32; see each).
``extract_sequences`` (frames of audio) and ``cdist`` are composed of ``glassnet.ops`` functions with
gradients (``take``; ``subtract``, ``square``, ``sum``, ``sqrt``), so they take arrays, values a
``GradientTape`` records and (extract_sequences) tensors of a model being drawn, one ``take`` node
kept in model files as JSON. The complex helpers take NumPy arrays (complex ones too), without gradient.
"""
import numbers

import numpy as np

from . import backend
from ._ops_arrays import _no_tensor
from ._ops_count import _plain
from ._ops_reading import _array, _float, _is_tensor, _keras_dtype, _weak
from ._ops_reading import public_ops as _ops


def _length(x, function):
    if _is_tensor(x) or isinstance(x, bool) or not isinstance(x, (numbers.Integral, np.integer)) and np.ndim(x) != 0:
        raise TypeError(f"ops.{function}: x must be the window's length (an integer), got {x!r:.40}")
    value = int(np.asarray(x))
    if value < 0:
        raise ValueError(f"ops.{function}: x must be a length >= 0, got {value}")
    return value


def bartlett(x):
    """The Bartlett (triangular) window of ``x`` points, symmetric as NumPy's, floatx (float32 unless
    ``config.set_floatx``: Keras' TensorFlow backend computes it in floatx)."""
    return np.bartlett(_length(x, "bartlett")).astype(backend.floatx())


def blackman(x):
    """The Blackman window of ``x`` points, symmetric as NumPy's, floatx (as ``bartlett``)."""
    return np.blackman(_length(x, "blackman")).astype(backend.floatx())


def hamming(x):
    """The Hamming window of ``x`` points, symmetric as NumPy's, float32 (whatever floatx: TensorFlow's
    window functions)."""
    return np.hamming(_length(x, "hamming")).astype(np.float32)


def hanning(x):
    """The Hann window of ``x`` points, symmetric as NumPy's, float32."""
    return np.hanning(_length(x, "hanning")).astype(np.float32)


def kaiser(x, beta):
    """The Kaiser window of ``x`` points with shape ``beta`` (TensorFlow's ``kaiser_window``:
    periodic-free, ``I0(beta sqrt(1 - r^2)) / I0(beta)``), float32."""
    n = _length(x, "kaiser")
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real):
        raise TypeError(f"ops.kaiser: beta must be a number, got {beta!r:.40}")
    if n == 1:
        return np.ones(1, np.float32)
    r = np.arange(n, dtype=np.float64) * 2 / max(n - 1, 1) - 1
    return (np.i0(beta * np.sqrt(np.clip(1 - r * r, 0, None))) / np.i0(beta)).astype(np.float32)


def _space(function, start, stop, num, endpoint, dtype, axis):
    for name, value in (("start", start), ("stop", stop)):
        if _is_tensor(value):
            raise TypeError(f"ops.{function}: {name} must be a number or an array, not a tensor of a model being drawn")
    if isinstance(num, bool) or not isinstance(num, numbers.Integral) or num < 0:
        raise ValueError(f"ops.{function}: num must be an integer >= 0, got {num!r:.40}")
    arrays = [_array(start, "start", function), _array(stop, "stop", function)]
    if dtype is not None:
        out_dtype = _keras_dtype(dtype, function)
    else:
        # Keras' on TensorFlow: geomspace floatx; logspace linspace's result type of start, stop and a
        # Python float: the widest float of the arrays (NumPy numbers too), else floatx
        floats = [a.dtype for v, a in zip((start, stop), arrays) if a.dtype.kind == "f" and not _weak(v)]
        out_dtype = np.dtype(max(floats, key=lambda d: d.itemsize) if floats and function == "logspace"
                             else backend.floatx())
    return arrays[0].astype(np.float64), arrays[1].astype(np.float64), out_dtype


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    """``base ** linspace(start, stop, num)``: numbers evenly spaced on a log scale, ``dtype`` or
    linspace's (float arrays ``start``/``stop`` their widest float, else floatx); arrays ``start``/``stop``
    give their shape with the new ``axis``."""
    a, b, dtype = _space("logspace", start, stop, num, endpoint, dtype, axis)
    return np.logspace(a, b, int(num), endpoint=bool(endpoint), base=base, axis=axis).astype(dtype)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """Numbers from ``start`` to ``stop`` in a geometric progression (their sign kept), floatx
    (float32 unless ``config.set_floatx``) unless ``dtype``."""
    a, b, dtype = _space("geomspace", start, stop, num, endpoint, dtype, axis)
    if np.any(a == 0) or np.any(b == 0):
        raise ValueError("ops.geomspace: start and stop must not be 0 (a geometric sequence never reaches 0)")
    return np.geomspace(a, b, int(num), endpoint=bool(endpoint), axis=axis).astype(dtype)


def _extract_sequences(x, sequence_length, sequence_stride):
    o = _ops()
    for name, value in (("sequence_length", sequence_length), ("sequence_stride", sequence_stride)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"ops.extract_sequences: {name} must be a positive integer, got {value!r:.40}")
    if not _is_tensor(x) and not isinstance(x, np.ndarray):
        x = _array(x, "x", "extract_sequences")
    shape = tuple(o.shape(x))
    if len(shape) < (2 if _is_tensor(x) else 1):
        raise ValueError(f"ops.extract_sequences: x must have a last axis to frame (on tensors a sample axis), got "
                         f"shape {shape}")
    frames = max(0, 1 + (shape[-1] - sequence_length) // sequence_stride) if shape[-1] >= sequence_length else 0
    index = np.arange(frames)[:, None] * sequence_stride + np.arange(sequence_length)[None, :]
    return o.take(x, index.astype(np.int64), axis=-1)


def extract_sequences(x, sequence_length, sequence_stride):
    """Frames of ``x`` (..., T) along its last axis: (..., frames, sequence_length), frame k the
    entries from ``k * sequence_stride``, frames = 1 + (T - sequence_length) // sequence_stride
    (0 when T < sequence_length), TensorFlow's ``signal.frame`` without padding. Arrays, values a
    tape records and tensors (one ``take`` node): the gradient of overlapping frames adds.

    >>> extract_sequences(np.arange(6.0), 3, 2).tolist()
    [[0.0, 1.0, 2.0], [2.0, 3.0, 4.0]]
    """
    return _extract_sequences(x, sequence_length, sequence_stride)


extract_sequences.composed = _extract_sequences


def _cdist(x, y):
    o = _ops()
    for name, value in (("x", x), ("y", y)):
        if _is_tensor(value):
            raise TypeError(f"ops.cdist takes arrays and values a GradientTape records, not tensors of a model being "
                            f"drawn ({name} is one)")
    x = x if isinstance(x, np.ndarray) else _array(x, "x", "cdist")
    y = y if isinstance(y, np.ndarray) else _array(y, "y", "cdist")
    if np.ndim(x) < 2 or np.ndim(y) < 2:
        raise ValueError(f"ops.cdist: x and y must have 2 axes or more (..., points, features), got shapes "
                         f"{np.shape(x)} and {np.shape(y)}")
    if np.shape(x)[-1] != np.shape(y)[-1]:
        raise ValueError(f"ops.cdist: x and y must have the same last axis (features), got {np.shape(x)[-1]} and "
                         f"{np.shape(y)[-1]}")
    diff = o.subtract(o.expand_dims(x, -2), o.expand_dims(y, -3))
    return o.sqrt(o.sum(o.square(diff), axis=-1))


def cdist(x, y):
    """The Euclidean distances between the points of ``x`` (..., P, D) and of ``y`` (..., R, D):
    (..., P, R), as Keras 3.15's (``sqrt(sum((x_p - y_r)^2))``; its gradient at a distance of 0
    is NaN, as TensorFlow's). Arrays and values a tape records."""
    return _cdist(x, y)


cdist.composed = _cdist


# -- complex helpers (NumPy arrays; Keras' complex tensors are NumPy complex arrays here) ----------
def _numbers(x, function):
    _no_tensor(function, x=x)
    array = np.asarray(x)
    return array if array.dtype.kind == "c" else _array(x, "x", function)


@_plain
def real(x):
    """The real part (a real array: itself)."""
    array = _numbers(x, "real")
    return np.asarray(array.real).copy()


@_plain
def imag(x):
    """The imaginary part (a real array: zeros of its dtype)."""
    array = _numbers(x, "imag")
    return np.asarray(array.imag).copy() if array.dtype.kind == "c" else np.zeros_like(array)


@_plain
def conj(x):
    """The complex conjugate (a real array: itself)."""
    return np.asarray(np.conj(_numbers(x, "conj")))


@_plain
def conjugate(x):
    """``conj``'s other name."""
    return np.asarray(np.conj(_numbers(x, "conjugate")))


@_plain
def angle(x):
    """The argument of each complex entry, ``arctan2(imag, real)`` (a real array: 0 or pi), in a
    float dtype (integers: float32)."""
    array = _numbers(x, "angle")
    if array.dtype.kind != "c":
        array = _float(array)
    return np.asarray(np.angle(array)).astype(array.real.dtype, copy=False)


@_plain
def view_as_complex(x):
    """(..., 2) real pairs as (...) complex numbers (float32 pairs: complex64)."""
    array = _numbers(x, "view_as_complex")
    if array.dtype.kind != "f" or not array.ndim or array.shape[-1] != 2:
        raise ValueError(f"ops.view_as_complex: x must be floats of shape (..., 2), got {array.dtype} of shape "
                         f"{array.shape}")
    return array[..., 0] + 1j * array[..., 1].astype(np.result_type(array.dtype, np.complex64))


@_plain
def view_as_real(x):
    """Complex numbers (...) as (..., 2) real pairs (real, imag)."""
    array = _numbers(x, "view_as_real")
    if array.dtype.kind != "c":
        raise ValueError(f"ops.view_as_real: x must be complex, got {array.dtype}")
    return np.stack([array.real, array.imag], axis=-1)


__all__ = ["bartlett", "blackman", "hamming", "hanning", "kaiser", "geomspace", "logspace", "extract_sequences",
           "cdist", "angle", "conj", "conjugate", "real", "imag", "view_as_complex", "view_as_real"]
