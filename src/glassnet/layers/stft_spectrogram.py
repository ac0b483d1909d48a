"""STFTSpectrogram: Keras 3's spectrogram layer, an STFT made of two convolutions whose kernels (the
windowed DFT's cosines and sines) are weights, trainable as in Keras (``trainable=False`` freezes
them). The frames are a strided view of each channel; one matrix product per kernel."""
import math

import numpy as np
from .. import backend
from .._warnings import warn
from .._validation import check_choice, check_flag, check_positive_int
from ..initializers.fourier import STFT, window_array
from .base import Layer
from .spectrogram import frames_view, overlap_add

MODES = ("log", "magnitude", "psd", "real", "imag", "angle", "stft")


class STFTSpectrogram(Layer):
    """Audio (batch, time, channels) to a spectrogram of each channel (Keras 3's ``STFTSpectrogram``):
    frames of ``frame_length`` samples every ``frame_step`` (None: half a frame), ``padding`` "valid"
    or "same" (TensorFlow's, zeros), times the two kernels ``real_kernel`` and ``imag_kernel``
    (frame_length, 1, fft_length // 2 + 1): Keras' windowed DFT (``initializers.STFT`` makes them),
    ``window`` "hann", "hamming", ``frame_length`` values or None, symmetric unless ``periodic``,
    scaled by ``scaling``. They are
    weights, trained unless ``trainable=False`` (Keras' default too: trainable). ``mode``: "real",
    "imag" (one kernel only), "angle", "stft" (real then imaginary bins), "psd" (power, inner bins
    doubled), "magnitude" (sqrt(max(power, 1e-7))) or "log" (its log).

    Output, channels_last: (batch, frames, channels * bins) (channel-major), or with
    ``expand_dims`` (batch, frames, bins, channels); channels_first input (batch, channels, time)
    gives (batch, channels * bins, frames), or (batch, channels, frames, bins). bins doubles for
    "stft". Windows other than "hann" and "hamming" (Keras takes any SciPy name) are refused by name.

    Example
    -------
    >>> layer = STFTSpectrogram(mode="magnitude", frame_length=16, frame_step=8)
    >>> layer(np.random.default_rng(0).standard_normal((2, 100, 3))).shape
    (2, 11, 27)
    """

    def __init__(self, mode="log", frame_length=256, frame_step=None, fft_length=None, window="hann",
                 periodic=False, scaling="density", padding="valid", expand_dims=False, data_format=None,
                 **kwargs):
        super().__init__(**kwargs)
        name = "STFTSpectrogram"
        check_choice(mode, f"{name}: mode", MODES)
        self.mode = mode
        self.frame_length = check_positive_int(frame_length, f"{name}: frame_length")
        self.frame_step = check_positive_int(frame_step, f"{name}: frame_step", allow_none=True)
        if self.frame_step is not None and self.frame_step > self.frame_length:
            raise ValueError(f"{name}: frame_step must be at most frame_length={self.frame_length}, got {frame_step}")
        self._frame_step = self.frame_step or max(self.frame_length // 2, 1)
        self.fft_length = check_positive_int(fft_length, f"{name}: fft_length", allow_none=True)
        if self.fft_length is not None and self.fft_length < self.frame_length:
            raise ValueError(f"{name}: fft_length must be at least frame_length={self.frame_length}, got {fft_length}")
        if self.fft_length is not None and self.fft_length & (self.fft_length - 1):
            warn(f"{name}: fft_length is recommended to be a power of two, got {fft_length}")
        self._fft_length = self.fft_length or 2 ** math.ceil(math.log2(self.frame_length))
        if self._fft_length < 2:
            raise ValueError(f"{name}: the FFT needs at least 2 points (frame_length or fft_length >= 2), got "
                             f"{self._fft_length}")
        if isinstance(window, str) or window is None:
            if window is not None and window not in ("hann", "hamming"):
                raise ValueError(f"{name}: window must be 'hann', 'hamming', None or an array of frame_length "
                                 f"values (Keras' other SciPy windows are not built), got {window!r:.80}")
            self.window = window
        else:
            values = np.asarray(window)
            if values.dtype.kind not in "iuf" or values.shape != (self.frame_length,) or not np.isfinite(values).all():
                raise ValueError(f"{name}: a window given as values must be {self.frame_length} (frame_length) "
                                 f"finite numbers, got {window!r:.80}")
            self.window = [float(v) for v in values]
        self.periodic = check_flag(periodic, f"{name}: periodic")
        check_choice(scaling, f"{name}: scaling", ("density", "spectrum", None), expected="'density', 'spectrum' or None")
        self.scaling = scaling
        # a Hann or Hamming window of more than 2 samples is never all zeros: made only when it may be,
        # since a config (JSON, a model file) of a few bytes may say frame_length=10**9 (8 GB here)
        if self.window is not None and self.scaling is not None \
                and (not isinstance(self.window, str) or self.frame_length <= 2) \
                and not np.any(window_array(self.window, self.frame_length, self.periodic)):
            # scipy's symmetric Hann window of 2 samples is [0, 0]: Keras' kernels come out NaN
            raise ValueError(f"{name}: the window ({self.window!r:.40}, frame_length={self.frame_length}, "
                             f"periodic={self.periodic}) is all zeros, and scaling={scaling!r} divides the "
                             f"kernels by its norm (0); use periodic=True, another window or scaling=None")
        check_choice(padding, f"{name}: padding", ("valid", "same"))
        self.padding = padding
        self.expand_dims = check_flag(expand_dims, f"{name}: expand_dims")
        check_choice(data_format, f"{name}: data_format", (None, "channels_last", "channels_first"),
                     expected="'channels_last', 'channels_first' or None")
        self.data_format = backend.standardize_data_format(data_format)     # None: image_data_format(), as Keras

    def _time_and_channels(self, input_shape):
        if len(input_shape) != 2:
            axes = "time, channels" if self.data_format == "channels_last" else "channels, time"
            raise ValueError(f"{self.describe()}: expected input of shape (batch, {axes}), got "
                             f"shape (batch, {', '.join(map(str, input_shape))})")
        return input_shape if self.data_format == "channels_last" else input_shape[::-1]

    def _frames_and_padding(self, time):
        step = self._frame_step
        if time is None:
            return None, 0
        if self.padding == "same":
            count = -(-time // step)
            return count, max((count - 1) * step + self.frame_length - time, 0)
        if time < self.frame_length:
            raise ValueError(f"{self.describe()}: padding='valid' needs at least frame_length={self.frame_length} "
                             f"samples, got {time}")
        return (time - self.frame_length) // step + 1, 0

    def output_shape(self, input_shape):
        time, channels = self._time_and_channels(input_shape)
        frames = self._frames_and_padding(time)[0]
        bins = (self._fft_length // 2 + 1) * (2 if self.mode == "stft" else 1)
        if self.data_format == "channels_last":
            return (frames, bins, channels) if self.expand_dims else (frames, channels * bins)
        return (channels, frames, bins) if self.expand_dims else (channels * bins, frames)

    def build(self, input_shape):
        self.output_shape(input_shape)
        # Keras' STFT initializer makes each kernel, called by add_weight once it has taken the shape:
        # loading a file caps parameters there, before (frame_length, bins) float64 arrays exist
        for side in ("real", "imag"):
            if self.mode != {"real": "imag", "imag": "real"}.get(side):      # "real" has no imag_kernel, and back
                self.add_weight(f"{side}_kernel", (self.frame_length, 1, self._fft_length // 2 + 1),
                                STFT(side, self.window, self.scaling, self.periodic))
        super().build(input_shape)

    def numbers_per_sample(self, input_shape):
        time, channels = self._time_and_channels(input_shape)
        frames = self._frames_and_padding(time)[0] or 1
        return channels * frames * (self.frame_length + 2 * (self._fft_length // 2 + 1))

    def matmul_flops(self, batch_size):
        """The frames times one DFT kernel (frame_length, bins), per channel: fit's choice of BLAS
        threads (the base counts a ``kernel`` weight, which this layer names real_ and imag_)."""
        if self.input_shape is None:
            return 0
        time, channels = self._time_and_channels(self.input_shape)
        frames = self._frames_and_padding(time)[0] or 1
        return 2 * batch_size * channels * frames * self.frame_length * (self._fft_length // 2 + 1)

    def forward(self, x, training=False):
        if x.dtype.kind != "f":
            x = x.astype(self.dtype or backend.resolve_dtype(None))
        self._time_and_channels(x.shape[1:])
        am = backend.get_array_module(x)
        signal = x.transpose(0, 2, 1) if self.data_format == "channels_last" else x      # (batch, channels, time)
        count, pad = self._frames_and_padding(signal.shape[-1])
        if pad:
            signal = am.pad(signal, ((0, 0), (0, 0), (pad // 2, pad - pad // 2)))
        frames = frames_view(signal, self.frame_length, self._frame_step)          # (batch, channels, count, n)
        parts = {side: frames @ self.params[f"{side}_kernel"][:, 0].astype(x.dtype, copy=False)
                 for side in ("real", "imag") if f"{side}_kernel" in self.params}      # (batch, channels, frames, bins)
        real, imag = parts.get("real"), parts.get("imag")
        # the (padded) signal, not its frames, as an attribute: without padding it is a view of the
        # input, which a model's _release_data copies (one batch) after fit or predict; a view kept
        # inside _cache would keep the caller's whole data set alive
        self._signal = signal
        self._cache = {"shape": x.shape, "padded": signal.shape[-1], "pad": pad, **parts}
        if self.mode in ("real", "imag"):
            out = parts[self.mode]
        elif self.mode == "angle":
            out = am.arctan2(imag, real)
        elif self.mode == "stft":
            out = am.concatenate([real, imag], axis=-1)
        else:
            power = am.square(real) + am.square(imag)
            if self.mode == "psd":
                out = power.copy()
                out[..., 1:-1] *= 2
            else:
                out = am.sqrt(am.maximum(power, x.dtype.type(backend.epsilon())))
                self._cache.update(power=power, magnitude=out)
                if self.mode == "log":       # the magnitude is at least sqrt(1e-7): Keras' second floor never acts
                    out = am.log(out)
        return self._arrange(out)

    def _arrange(self, out):
        """(batch, channels, frames, bins) to the output's layout."""
        am = backend.get_array_module(out)
        batch, channels, frames, bins = out.shape
        if self.data_format == "channels_last":
            if self.expand_dims:
                return am.ascontiguousarray(out.transpose(0, 2, 3, 1))
            return am.ascontiguousarray(out.transpose(0, 2, 1, 3)).reshape(batch, frames, channels * bins)
        return out if self.expand_dims else am.ascontiguousarray(out.transpose(0, 1, 3, 2)).reshape(
            batch, channels * bins, frames)

    def _unarrange(self, grad, channels):
        """The output's layout back to (batch, channels, frames, bins)."""
        if self.data_format == "channels_last":
            if self.expand_dims:
                return grad.transpose(0, 3, 1, 2)
            batch, frames, _ = grad.shape
            return grad.reshape(batch, frames, channels, -1).transpose(0, 2, 1, 3)
        if self.expand_dims:
            return grad
        batch, _, frames = grad.shape
        return grad.reshape(batch, channels, -1, frames).transpose(0, 1, 3, 2)

    def backward(self, grad_output):
        cache, am = self._cache, backend.get_array_module(grad_output)
        channels = self._time_and_channels(cache["shape"][1:])[1]
        grad = self._unarrange(grad_output, channels)
        real, imag = cache.get("real"), cache.get("imag")
        grads = {}                   # dL/d(real), dL/d(imag), (batch, channels, frames, bins)
        if self.mode in ("real", "imag"):
            grads[self.mode] = grad
        elif self.mode == "stft":
            grads["real"], grads["imag"] = am.split(grad, 2, axis=-1)
        elif self.mode == "angle":       # d atan2(i, r) = (r di - i dr) / (r^2 + i^2); 0 where both are 0
            power = am.square(real) + am.square(imag)
            inverse = am.where(power > 0, 1 / am.where(power > 0, power, 1), 0)
            grads["real"], grads["imag"] = -imag * inverse * grad, real * inverse * grad
        else:
            if self.mode == "psd":
                grad_power = grad.copy()
                grad_power[..., 1:-1] *= 2
            else:
                magnitude = cache["magnitude"]
                if self.mode == "log":
                    grad = grad / magnitude
                grad_power = am.where(cache["power"] > backend.epsilon(), grad * grad.dtype.type(0.5) / magnitude, 0)
            grads["real"], grads["imag"] = 2 * real * grad_power, 2 * imag * grad_power
        flat = frames_view(self._signal, self.frame_length, self._frame_step).reshape(-1, self.frame_length)
        grad_frames = None
        for side, g in grads.items():
            kernel = self.params[f"{side}_kernel"]
            self.grads[f"{side}_kernel"][...] = (flat.T @ g.reshape(-1, g.shape[-1]))[:, None, :]
            if self.needs_input_gradient:
                term = g @ kernel[:, 0].T.astype(g.dtype, copy=False)
                grad_frames = term if grad_frames is None else grad_frames + term
        if not self.needs_input_gradient:
            return None
        signal = overlap_add(grad_frames, self._frame_step, cache["padded"])
        pad = cache["pad"]
        signal = signal[..., pad // 2:signal.shape[-1] - (pad - pad // 2)]
        return am.ascontiguousarray(signal.transpose(0, 2, 1)) if self.data_format == "channels_last" else signal

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "frame_length": self.frame_length,
                "frame_step": self.frame_step, "fft_length": self.fft_length, "window": self.window,
                "periodic": self.periodic, "scaling": self.scaling, "padding": self.padding,
                "data_format": self.data_format, "expand_dims": self.expand_dims}
