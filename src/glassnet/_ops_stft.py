"""keras.ops' ``stft`` and ``istft`` for ``glassnet.ops`` (which re-exports them); the maths is
layers/tensor_stft.py's.

On arrays each computes at once, Keras 3.15's values and dtypes on TensorFlow: float32 and float64
signals (others refused, as Keras refuses them), complex numbers as the pair ``(real, imag)``. On a
tensor ``stft`` makes one ``TensorFunction`` node per part, with a gradient, so a model may take a
spectrogram's magnitude::

    real, imag = ops.stft(audio, 64, 16, 64)              # audio: Input((400,)) -> (None, 26, 33) each
    magnitude = ops.sqrt(real * real + imag * imag + 1e-6)

``istft`` takes arrays only (tensors are refused by name).
"""
import numpy as np

from ._ops_reading import _array, _is_tensor
from ._ops_spectral import _pair
from .layers import tensor_stft
from .layers.tensor_functions import TensorFunction


def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    """The short-time Fourier transform of ``x`` (..., T) along its last axis: a pair ``(real, imag)``
    of shape (..., frames, fft_length // 2 + 1), frames = 1 + (T + 2 (fft_length // 2) -
    fft_length) // sequence_stride (without ``fft_length // 2`` twice when ``center=False``).

    sequence_length : the window's length (<= fft_length); sequence_stride : the hop;
    window : "hann", "hamming" (periodic), None, or ``sequence_length`` values.

    >>> real, imag = stft(np.ones((2, 100), np.float32), 32, 8, 32)
    >>> real.shape, real.dtype
    ((2, 13, 17), dtype('float32'))
    """
    window = tensor_stft.check_settings("stft", sequence_length, sequence_stride, fft_length, window, center)
    args = {"sequence_length": int(sequence_length), "sequence_stride": int(sequence_stride),
            "fft_length": int(fft_length), "window": window, "center": bool(center)}
    if _is_tensor(x):
        return tuple(TensorFunction("stft", {**args, "output": output})(x) for output in ("real", "imag"))
    array = _array(x, "x", "stft")
    if array.dtype not in (np.float32, np.float64):
        raise TypeError(f"ops.stft: x must be float32 or float64 (as Keras 3.15's), got an array of {array.dtype}")
    if array.ndim < 1:
        raise ValueError("ops.stft: x must have one axis or more (the signal's last), got a single number")
    y = tensor_stft.stft(array, args)
    return y.real.astype(array.dtype), y.imag.astype(array.dtype)


def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann", center=True):
    """The inverse of ``stft``: the signal (..., samples) of a pair ``x = (real, imag)`` of shape
    (..., frames, fft_length // 2 + 1), by TensorFlow's ``inverse_stft`` (each frame's inverse FFT
    times the window over the summed squared windows, overlap-added); ``center`` drops the
    ``fft_length // 2`` samples padded at each end, ``length`` keeps that many. Arrays only.

    >>> signal = np.sin(np.arange(200, dtype=np.float32) / 5)
    >>> back = istft(stft(signal, 32, 8, 32), 32, 8, 32, length=200)
    >>> bool(np.abs(back - signal)[16:-16].max() < 1e-5)     # away from the ends (next line)
    True

    Within ``fft_length // 2`` samples of either end the windows' taper does not add up to a full
    overlap and the signal does not come back exactly, as with Keras' (both 0.09 off at the last
    sample here).
    """
    if isinstance(x, (tuple, list)) and any(_is_tensor(v) for v in x) or _is_tensor(x):
        raise TypeError("ops.istft takes arrays, not tensors of a model being drawn (Keras' istft node is not "
                        "built); compute it on arrays, before or after the model")
    window = tensor_stft.check_settings("istft", sequence_length, sequence_stride, fft_length, window, center)
    if length is not None and (isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0):
        raise ValueError(f"ops.istft: length must be None or a number of samples >= 0, got {length!r:.40}")
    (real, imag), _ = _pair(x, "istft")
    bins = fft_length // 2 + 1
    if real.ndim < 2 or real.shape[-1] != bins:
        raise ValueError(f"ops.istft: x's parts must be (..., frames, fft_length // 2 + 1 = {bins}), got shape "
                         f"{real.shape}")
    args = {"sequence_length": int(sequence_length), "sequence_stride": int(sequence_stride),
            "fft_length": int(fft_length), "window": window, "center": bool(center)}
    dtype = np.result_type(real, imag)
    z = np.empty(real.shape, np.result_type(dtype, np.complex64))
    z.real, z.imag = real, imag
    return tensor_stft.istft(z, args, None if length is None else int(length)).astype(dtype, copy=False)


__all__ = ["stft", "istft"]
