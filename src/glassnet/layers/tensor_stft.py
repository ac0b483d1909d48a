"""keras.ops' ``stft`` and ``istft``: short-time Fourier transforms along the last axis, Keras 3.15's
on TensorFlow (``tf.signal.stft`` / ``inverse_stft``), as forward/backward pairs on arrays.

``stft`` (..., T) -> a pair ``(real, imag)`` of (..., frames, fft_length // 2 + 1): with ``center``
the signal is reflect-padded by ``fft_length // 2`` on each side; a frame of ``fft_length`` samples
every ``sequence_stride``, frames = 1 + (T + 2 (fft_length // 2) - fft_length) // sequence_stride
(``center=False``: no padding); each frame is multiplied by the window of ``sequence_length``
samples (periodic "hann"/"hamming" as TensorFlow's, or given values) zero-padded centred to
``fft_length`` (None: no window), then a real FFT. The framing and its adjoint are
layers/spectrogram.py's (MelSpectrogram's STFT); the window is initializers/fourier.py's.

On tensors ``stft`` makes one ``TensorFunction`` node per part (``arguments["output"]``), as
``rfft`` (layers/tensor_spectral.py dispatches here); the backward is the adjoint: each frame's
gradient the real part of the unnormalised inverse DFT, times the window, overlap-added, folded
back through the reflect padding.
"""
import numbers

import numpy as np

from ..initializers.fourier import window_array
from .spectrogram import frames_view, overlap_add, stft_backward

ARGUMENTS = {"stft": {"sequence_length": None, "sequence_stride": None, "fft_length": None, "window": "hann",
                      "center": True, "output": "real"}}


def padded_window(window, sequence_length, fft_length, dtype):
    """The analysis window, ``sequence_length`` values zero-padded centred to ``fft_length`` (left
    ``(fft_length - sequence_length) // 2``), in ``dtype``; None for no window. TensorFlow's
    ``periodic=True`` windows are periodic for an even length only: an odd one is symmetric
    (``tf.signal.hann_window``'s N is ``length + periodic * even - 1``)."""
    if window is None:
        return None
    values = window_array(window, sequence_length, periodic=sequence_length % 2 == 0)
    left = (fft_length - sequence_length) // 2
    return np.pad(values, (left, fft_length - sequence_length - left)).astype(dtype)


def check_settings(function, sequence_length, sequence_stride, fft_length, window, center):
    """The settings checked as Keras 3.15 checks them (and the integers it needs): returns the window
    in JSON's form (a string, None, or a list of floats)."""
    for name, value in (("sequence_length", sequence_length), ("sequence_stride", sequence_stride),
                        ("fft_length", fft_length)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"ops.{function}: {name} must be a positive integer, got {value!r:.40}")
    if fft_length < sequence_length:
        raise ValueError(f"ops.{function}: fft_length must be equal to or larger than sequence_length, got "
                         f"sequence_length={sequence_length}, fft_length={fft_length}")
    if not isinstance(center, (bool, np.bool_)):
        raise TypeError(f"ops.{function}: center must be True or False, got {center!r:.40}")
    if isinstance(window, str):
        if window not in ("hann", "hamming"):
            raise ValueError(f"ops.{function}: window must be 'hann', 'hamming', None or {sequence_length} values, "
                             f"got {window!r:.40}")
        return window
    if window is None:
        return None
    values = np.asarray(window)
    if values.shape != (sequence_length,) or values.dtype.kind not in "iuf":
        raise ValueError(f"ops.{function}: window must be 'hann', 'hamming', None or an array of shape "
                         f"({sequence_length},) (sequence_length), got {values.dtype} of shape {values.shape}")
    return [float(v) for v in values]


def frame_count(samples, args):
    """The number of frames of a signal of ``samples`` (None: unknown)."""
    if samples is None:
        return None
    padded = samples + (args["fft_length"] // 2) * 2 if args["center"] else samples
    return max(0, 1 + (padded - args["fft_length"]) // args["sequence_stride"])


def check_samples(samples, args, who):
    if args["center"] and samples is not None and samples <= args["fft_length"] // 2:
        raise ValueError(f"{who}: stft with center=True reflect-pads the last axis by fft_length // 2 "
                         f"({args['fft_length'] // 2}), which needs more samples than that, got {samples}")


def stft(x, args):
    """The complex STFT of ``x`` (..., T), float32 or float64: (..., frames, fft_length // 2 + 1),
    complex64 or complex128."""
    n, step = args["fft_length"], args["sequence_stride"]
    check_samples(x.shape[-1], args, "ops.stft")
    lead, flat = x.shape[:-1], x.reshape(-1, x.shape[-1])
    if args["center"]:
        flat = np.pad(flat, ((0, 0), (n // 2, n // 2)), mode="reflect")
    count = frame_count(x.shape[-1], args)
    complex_type = np.result_type(x.dtype, np.complex64)
    if count == 0:
        return np.zeros(lead + (0, n // 2 + 1), complex_type)
    frames = frames_view(np.ascontiguousarray(flat), n, step)[:, :count]
    window = padded_window(args["window"], args["sequence_length"], n, x.dtype)
    spectrum = np.fft.rfft(frames if window is None else frames * window, axis=-1).astype(complex_type, copy=False)
    return spectrum.reshape(lead + spectrum.shape[-2:])


def stft_adjoint(g, samples, args):
    """dL/dx (..., T) from ``g`` (..., frames, bins) complex: dL/d(real) + i dL/d(imag)."""
    n, step = args["fft_length"], args["sequence_stride"]
    lead = g.shape[:-2]
    dtype = g.real.dtype
    if g.shape[-2] == 0 or g.size == 0:
        return np.zeros(lead + (samples,), dtype)
    window = padded_window(args["window"], args["sequence_length"], n, dtype)
    window = np.ones(n, dtype) if window is None else window
    flat = g.reshape((-1,) + g.shape[-2:])
    if args["center"]:
        out = stft_backward(flat, samples, n, step, window)
    else:
        flat = flat.copy()
        flat[..., 1:(n + 1) // 2] *= 0.5        # irfft doubles the inner bins: the adjoint counts each once
        frames = np.fft.irfft(flat, n=n, axis=-1).astype(dtype, copy=False) * (window * n)
        out = overlap_add(frames, step, samples)
    return out.astype(dtype, copy=False).reshape(lead + (samples,))


def istft(z, args, length=None):
    """TensorFlow's ``inverse_stft`` of ``z`` (..., frames, bins) complex, then Keras' crop: the
    frames' inverse real FFTs, times the window divided by the sum of the squared windows that
    overlap each sample (``tf.signal.inverse_stft_window_fn``; 0 where that sum is 0), overlap-added."""
    n, step = args["fft_length"], args["sequence_stride"]
    dtype = z.real.dtype
    frames = np.fft.irfft(z, n=n, axis=-1).astype(dtype, copy=False)
    window = padded_window(args["window"], args["sequence_length"], n, dtype)
    if window is not None:
        overlaps = -(-n // step)
        denominator = np.pad(window * window, (0, overlaps * step - n)).reshape(overlaps, step).sum(axis=0)
        denominator = np.tile(denominator, overlaps)[:n]
        # samples no window covers (a hop longer than the window): 0, as TensorFlow's where(denom == 0)
        frames = frames * np.where(denominator == 0, 0, window / np.where(denominator == 0, 1, denominator))
    count = z.shape[-2]
    total = step * (count - 1) + n if count else 0
    signal = overlap_add(frames, step, total) if count else np.zeros(z.shape[:-2] + (0,), dtype)
    start = n // 2 if args["center"] else 0
    if length is not None:
        end = start + length
    elif args["center"]:
        end = -(n // 2) if n // 2 else None
    else:
        end = total
    return signal[..., start:end]


def output_shape(args, shape):
    """The sample shape of a part: (..., frames, bins) of a sample (..., T)."""
    return tuple(shape[:-1]) + (frame_count(shape[-1], args), args["fft_length"] // 2 + 1)


def forward(layer, x):
    layer._samples = x.shape[-1]
    y = stft(x, layer.arguments)
    return (y.real if layer.arguments["output"] == "real" else y.imag).astype(x.dtype, copy=False)


def backward(layer, g):
    gz = g.astype(np.result_type(g.dtype, np.complex64))
    if layer.arguments["output"] == "imag":
        gz = 1j * gz
    return stft_adjoint(gz, layer._samples, layer.arguments)


def arguments(args, who):
    """A node's ``args`` checked (a model file's too)."""
    args["window"] = check_settings("stft", args["sequence_length"], args["sequence_stride"], args["fft_length"],
                                    args["window"], args["center"])
    args["center"] = bool(args["center"])
    if args.get("output") not in ("real", "imag"):
        raise ValueError(f"{who}: stft's output must be 'real' or 'imag', got {args.get('output')!r:.40}")
    return args
