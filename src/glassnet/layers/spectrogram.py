"""Audio front ends: Keras 3's ``MelSpectrogram``, raw audio to a (mel-scaled, dB) spectrogram.

The maths lives in forward/backward pairs on arrays (``stft`` / ``stft_backward``); the layer holds
the settings and the forward cache. Keras computes the STFT as TensorFlow's ``tf.signal.stft``:
reflect padding by ``fft_length // 2`` on each side (``center=True``), frames of ``fft_length``
samples every ``sequence_stride``, each multiplied by a periodic window of ``sequence_length``
samples zero-padded (centred) to ``fft_length``, then a real FFT.
"""
import math

import numpy as np
from .. import backend
from .._validation import check_flag, check_number, check_positive_int
from .._bounds import check_sample_values
from ..initializers.fourier import window_array
from .base import Layer

_WINDOWS = ("hann", "hamming")


def mel_matrix(num_mel_bins, num_spectrogram_bins, sampling_rate, lower_edge_hertz, upper_edge_hertz):
    """Keras' (HTK) mel filter bank, (num_spectrogram_bins, num_mel_bins) in float64: triangles of
    peak 1, linear in mel = 1127 ln(1 + f / 700), the DC bin left out."""
    def mel(hertz):
        return 1127.0 * np.log(1.0 + np.asarray(hertz, dtype=np.float64) / 700.0)
    bins = mel(np.linspace(0.0, sampling_rate / 2.0, num_spectrogram_bins)[1:])[:, None]
    edges = np.linspace(mel(lower_edge_hertz), mel(upper_edge_hertz), num_mel_bins + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    weights = np.maximum(0.0, np.minimum((bins - lower) / (center - lower), (upper - bins) / (upper - center)))
    return np.pad(weights, ((1, 0), (0, 0)))


def stft(x, fft_length, stride, window):
    """Centred STFT of ``x`` (batch, samples): (batch, frames, fft_length // 2 + 1) complex, in
    ``x``'s precision. ``window`` has ``fft_length`` values (already padded). The frames are a
    strided view of the reflect-padded signal; only their windowed copy is made."""
    am, pad = backend.get_array_module(x), fft_length // 2
    padded = am.pad(x, ((0, 0), (pad, pad)), mode="reflect")
    spectrum = am.fft.rfft(frames_view(padded, fft_length, stride) * window, axis=-1)
    # NumPy 1.x's FFT (pocketfft) computes in double precision whatever it is given: back to x's
    return spectrum.astype(np.promote_types(x.dtype, np.complex64), copy=False)


def frames_view(signal, length, step):
    """A strided view (..., count, length) of the frames of ``signal`` (..., time), one every
    ``step`` samples, count = (time - length) // step + 1: no copy (never write into it)."""
    am = backend.get_array_module(signal)
    count = (signal.shape[-1] - length) // step + 1
    *strides, last = signal.strides
    return am.lib.stride_tricks.as_strided(signal, (*signal.shape[:-1], count, length), (*strides, step * last, last))


def overlap_add(frames, step, length):
    """The adjoint of framing: ``frames`` (..., count, n), frame t taken from ``t * step``, summed back
    into a signal (..., length). No loop over frames: each frame is cut into chunks of ``step``
    samples, chunk j of frame t lands on chunk t + j of the signal, so one vectorised add per j."""
    am, (*lead, count, n) = backend.get_array_module(frames), frames.shape
    chunks = -(-n // step)
    frames = am.pad(frames, [(0, 0)] * (len(lead) + 1) + [(0, chunks * step - n)])
    frames = frames.reshape(*lead, count, chunks, step)
    rows = max(count + chunks - 1, -(-length // step))
    out = am.zeros((*lead, rows, step), dtype=frames.dtype)
    for j in range(chunks):
        out[..., j:j + count, :] += frames[..., j, :]
    return out.reshape(*lead, rows * step)[..., :length]


def stft_backward(grad, n_samples, fft_length, stride, window):
    """The adjoint of ``stft``: ``grad`` (batch, frames, bins) complex holds dL/d(real) + i dL/d(imag);
    returns dL/dx (batch, n_samples). Real part of the inverse DFT without its 1/N (inner bins
    halved, as irfft doubles them), times the window, overlap-added, folded back through the
    reflect padding."""
    am, grad = backend.get_array_module(grad), grad.copy()
    grad[..., 1:(fft_length + 1) // 2] *= 0.5
    frames = am.fft.irfft(grad, n=fft_length, axis=-1).astype(grad.real.dtype, copy=False)    # (NumPy 1.x: float64)
    frames *= window * fft_length
    pad = fft_length // 2
    out = overlap_add(frames, stride, n_samples + 2 * pad)
    grad_x = out[:, pad:pad + n_samples].copy()
    if pad:       # padded[i] = x[pad - i] on the left and x[n - 2 - k] on the right
        grad_x[:, 1:pad + 1] += out[:, pad - 1::-1]
        grad_x[:, n_samples - 1 - pad:n_samples - 1] += out[:, pad + n_samples:][:, ::-1]
    return grad_x


class MelSpectrogram(Layer):
    """Raw audio (batch, samples) to a mel spectrogram (batch, num_mel_bins, frames), in decibels
    by default (Keras 3's ``MelSpectrogram``): a centred STFT (reflect padding), |X| ** ``mag_exp``,
    Keras' HTK mel filter bank from ``min_freq`` to ``max_freq`` (None: sampling_rate / 2), then
    ``10 log10(max(S, min_power) / max(|ref_power|, min_power))`` floored at ``top_db`` below the
    peak. frames = 1 + (samples + 2 (fft_length // 2) - fft_length) // sequence_stride.

    One difference from Keras: the ``top_db`` floor is each sample's own peak minus ``top_db``
    (librosa's rule for one signal); Keras takes the peak of the whole batch, so that a sample's
    output depends on the others in its batch (and ``predict`` on ``batch_size``). A batch of one
    gives Keras' values. ``top_db=None`` does not floor (librosa's; Keras fails on it).
    ``window``: ``"hann"``, ``"hamming"`` (periodic), ``sequence_length`` values, or None: no window,
    the whole ``fft_length`` frame (Keras' ``sequence_length`` is then ignored, as here).
    No weights; the gradient flows back to the audio (the STFT's adjoint).

    Example
    -------
    >>> layer = MelSpectrogram(fft_length=64, sequence_stride=16, num_mel_bins=8, sampling_rate=8000)
    >>> layer(np.random.default_rng(0).standard_normal((2, 400))).shape
    (2, 8, 26)
    """

    shape_arguments = ('num_mel_bins', 'fft_length', 'sequence_stride')        # named when its output is too large (glassnet._bounds)

    def __init__(self, fft_length=2048, sequence_stride=512, sequence_length=None, window="hann",
                 sampling_rate=16000, num_mel_bins=128, min_freq=20.0, max_freq=None, power_to_db=True,
                 top_db=80.0, mag_exp=2.0, min_power=1e-10, ref_power=1.0, **kwargs):
        super().__init__(**kwargs)
        name = "MelSpectrogram"
        self.fft_length = check_positive_int(fft_length, f"{name}: fft_length")
        self.sequence_stride = check_positive_int(sequence_stride, f"{name}: sequence_stride")
        self.sequence_length = check_positive_int(sequence_length, f"{name}: sequence_length", allow_none=True) \
            or self.fft_length
        if self.sequence_length > self.fft_length:
            raise ValueError(f"{name}: sequence_length must be at most fft_length={self.fft_length} (the window "
                             f"is padded to the FFT's length), got {self.sequence_length}")
        if isinstance(window, str) or window is None:
            if window is not None and window not in _WINDOWS:
                raise ValueError(f"{name}: window must be one of {list(_WINDOWS)}, None or an array of "
                                 f"sequence_length values, got {window!r:.80}")
            self.window = window
        else:
            values = np.asarray(window)
            if values.dtype.kind not in "iuf" or values.shape != (self.sequence_length,) \
                    or not np.isfinite(values).all():
                raise ValueError(f"{name}: a window given as values must be {self.sequence_length} (sequence_length) "
                                 f"finite numbers, got {window!r:.80}")
            self.window = [float(v) for v in values]
        check_number(sampling_rate, f"{name}: sampling_rate", "> 0")
        self.sampling_rate = sampling_rate if isinstance(sampling_rate, int) else float(sampling_rate)
        self.num_mel_bins = check_positive_int(num_mel_bins, f"{name}: num_mel_bins")
        self.min_freq = check_number(min_freq, f"{name}: min_freq", ">= 0")
        # Keras' rule: None (or 0) means half the sampling rate, as an int, and its config keeps that
        # (the errors say where a max_freq not given came from: sampling_rate=1 gives max_freq=0)
        what = f"{name}: max_freq" + ("" if max_freq else f" (int(sampling_rate / 2) for sampling_rate="
                                                          f"{self.sampling_rate}, as max_freq={max_freq!r} gives)")
        self.max_freq = check_number(max_freq or int(self.sampling_rate / 2), what, "> 0")
        if self.max_freq <= self.min_freq:
            raise ValueError(f"{what} must be above min_freq={self.min_freq}, got {self.max_freq}")
        self.power_to_db = check_flag(power_to_db, f"{name}: power_to_db")
        self.top_db = None if top_db is None else check_number(top_db, f"{name}: top_db", ">= 0")
        self.mag_exp = check_number(mag_exp, f"{name}: mag_exp", "> 0")
        self.min_power = check_number(min_power, f"{name}: min_power", "> 0")
        self.ref_power = check_number(ref_power, f"{name}: ref_power", "finite")
        self._constants = {}

    def _frames(self, samples):
        pad = self.fft_length // 2
        if samples is not None and samples <= pad:
            raise ValueError(f"{self.describe()}: the reflect padding of fft_length // 2 = {pad} samples needs "
                             f"more than {pad} samples, got {samples}")
        return None if samples is None else 1 + (samples + 2 * pad - self.fft_length) // self.sequence_stride

    def output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"{self.describe()}: expected input of shape (batch, samples), got "
                             f"shape (batch, {', '.join(map(str, input_shape))})")
        return (self.num_mel_bins, self._frames(input_shape[0]))

    def build(self, input_shape):
        self.output_shape(input_shape)
        # what its output's shape does not show (glassnet._bounds): the mel filter bank, made once
        # (num_mel_bins of 10**9 at fft_length 2048 made a 10**12-number matrix), and the frames
        # windowed for the FFT, fft_length numbers each (known with the samples' length)
        check_sample_values(self, self.num_mel_bins * (self.fft_length // 2 + 1),
                            "its mel filter bank (num_mel_bins x (fft_length // 2 + 1))")
        if input_shape[0] is not None:
            check_sample_values(self, self.numbers_per_sample(input_shape),
                                "its windowed frames and their spectrum (3 x frames x fft_length)")
        super().build(input_shape)

    def numbers_per_sample(self, input_shape):
        # the windowed frames and their spectrum outweigh the output
        return 3 * (self._frames(input_shape[0]) or 1) * self.fft_length

    def _window_and_mel(self, like):
        """The padded window (fft_length,) and the mel matrix (bins, mel) in the dtype and on the
        device of the array ``like``, made once for each."""
        am = backend.get_array_module(like)
        key = (like.dtype, am.__name__)
        if key not in self._constants:
            left = (self.fft_length - self.sequence_length) // 2
            window = np.zeros(self.fft_length)
            window[left:left + self.sequence_length] = window_array(self.window, self.sequence_length)
            if self.window is None:     # Keras: no window at all, every sample of the fft_length frame
                window[:] = 1.0
            mel = mel_matrix(self.num_mel_bins, self.fft_length // 2 + 1, self.sampling_rate, self.min_freq,
                             self.max_freq)
            self._constants[key] = (am.asarray(window, dtype=like.dtype), am.asarray(mel, dtype=like.dtype))
        return self._constants[key]

    def forward(self, x, training=False):
        if x.dtype.kind != "f":
            x = x.astype(self.dtype or backend.resolve_dtype(None))
        self.output_shape(x.shape[1:])
        am = backend.get_array_module(x)
        window, mel = self._window_and_mel(x)
        spectrum = stft(x, self.fft_length, self.sequence_stride, window)
        power = am.square(spectrum.real) + am.square(spectrum.imag)
        magnitude = power if self.mag_exp == 2 else power ** (self.mag_exp / 2)
        out = magnitude @ mel                                           # (batch, frames, mel)
        # no weights: backward serves the input's gradient alone, so a model's first layer keeps nothing
        keep = self.needs_input_gradient
        self._cache = {"x_shape": x.shape, "spectrum": spectrum, "power": power, "mel_power": out} if keep else None
        if self.power_to_db:
            ref = 10.0 * math.log10(max(abs(self.ref_power), self.min_power))
            out = 10.0 * am.log10(am.maximum(out, x.dtype.type(self.min_power))) - x.dtype.type(ref)
            if self.top_db is not None:
                peak = out.max(axis=(1, 2), keepdims=True)              # each sample's own (see the docstring)
                floor = peak - x.dtype.type(self.top_db)
                if keep:
                    self._cache.update(kept=out >= floor, peaks=out == peak)
                out = am.maximum(out, floor)
        return am.ascontiguousarray(out.transpose(0, 2, 1))

    def backward(self, grad_output):
        if not self.needs_input_gradient:
            return None
        cache, am = self._cache, backend.get_array_module(grad_output)
        grad = grad_output.transpose(0, 2, 1)
        if self.power_to_db:
            if self.top_db is not None:
                # the floored values follow the peak: their gradient goes to it (shared among ties)
                to_peak = am.where(cache["kept"], 0, grad).sum(axis=(1, 2), keepdims=True)
                grad = am.where(cache["kept"], grad, 0) + cache["peaks"] * (to_peak / cache["peaks"].sum(
                    axis=(1, 2), keepdims=True, dtype=grad.dtype))
            mel_power = cache["mel_power"]
            above = mel_power > self.min_power
            grad = am.where(above, grad * grad.dtype.type(10 / math.log(10)) / am.where(above, mel_power, 1), 0)
        window, mel = self._window_and_mel(grad)
        grad = grad @ mel.T                                             # d/d(|X| ** mag_exp)
        power = cache["power"]
        if self.mag_exp == 2:
            scale = 2 * grad
        else:       # p |X| ** (p - 2) X; where |X| = 0 the gradient is taken as 0
            nonzero = power > 0
            scale = grad * grad.dtype.type(self.mag_exp) * am.where(
                nonzero, am.where(nonzero, power, 1) ** (self.mag_exp / 2 - 1), 0)
        return stft_backward(scale * cache["spectrum"], cache["x_shape"][1], self.fft_length,
                             self.sequence_stride, window)

    def get_config(self):
        return {**super().get_config(), "fft_length": self.fft_length, "sequence_stride": self.sequence_stride,
                "sequence_length": self.sequence_length, "window": self.window,
                "sampling_rate": self.sampling_rate, "num_mel_bins": self.num_mel_bins,
                "min_freq": self.min_freq, "max_freq": self.max_freq, "power_to_db": self.power_to_db,
                "top_db": self.top_db, "mag_exp": self.mag_exp, "min_power": self.min_power,
                "ref_power": self.ref_power}
