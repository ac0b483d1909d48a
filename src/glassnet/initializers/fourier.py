"""Keras' ``STFT`` initializer: the kernels of a convolution that computes a short-time Fourier
transform (the windowed DFT's cosines or sines), and the windows it multiplies them by.

Kept apart from ``classes.py``: ``STFTSpectrogram`` (its kernels) and ``MelSpectrogram`` take
``STFT`` and ``window_array`` from here, and an initializer module may not import the layers (they
import the initializers). Not named ``stft.py``: ``initializers.stft`` is Keras' lower-case name
of the class.
"""
import numpy as np

from .._validation import check_choice, check_flag
from .classes import Initializer

WINDOWS = ("hann", "hamming")
SCALINGS = ("density", "spectrum", None)


def window_array(window, length, periodic=True):
    """The window of ``length`` samples (float64), scipy.signal.get_window(window, length,
    fftbins=periodic)'s: ``"hann"`` 0.5 - 0.5 cos(2 pi n / N), ``"hamming"`` 0.54 - 0.46 cos(2 pi n
    / N), N = length (periodic, TensorFlow's too) or length - 1 (symmetric); ones for None, or the
    given values. One sample is [1] (TensorFlow's and SciPy's rule)."""
    if window is None or length == 1 and isinstance(window, str):
        return np.ones(length)
    if isinstance(window, str):
        a = 0.5 if window == "hann" else 0.54
        return a - (1 - a) * np.cos(2 * np.pi * np.arange(length) / (length if periodic else length - 1))
    return np.asarray(window, dtype=np.float64)


class STFT(Initializer):
    """The real (cosine) or imaginary (sine) part of the windowed DFT, as a Conv1D kernel of shape
    (frame_length, 1, bins): Keras 3's ``STFT`` (also ``STFTInitializer``, ``"stft"``). A
    convolution with it, stride ``frame_step``, gives each frame's STFT bins 0 .. bins - 1 of an
    FFT of ``2 * (bins - 1)`` points (Keras' formula: the period is that, whatever fft_length the
    bins came from)::

        kernel[n, 0, k] = cos(-2 pi n k / (2 (bins - 1))) * w[n] / scale      (side="real"; sin for "imag")

    side : "real" or "imag".
    window : "hann", "hamming" (symmetric, or periodic with ``periodic=True``, as SciPy's), None
        (no window, no scaling), or the window's values (``frame_length`` finite numbers; checked
        when the kernel is made, as Keras does). Keras takes any SciPy window name; others than
        these two are refused: give ``scipy.signal.get_window(name, frame_length)`` as values.
    scaling : "density" (divide by sqrt(sum w^2)), "spectrum" (by sum |w|) or None.
    periodic : bool.

    Computed in float64 (Keras computes in the weight's dtype) and cast to ``dtype``: Keras'
    float32 kernels differ from these by the float32 rounding of the angle 2 pi n k / (2 (bins - 1)),
    which grows with it (about 5e-5 of the kernel's largest value for 256 samples). A window all
    zeros with ``scaling`` (SciPy's symmetric Hann of 2 samples) is refused: Keras' kernel would be
    NaN. So is a middle axis other than 1 (Keras returns (frame_length, 1, bins) whatever shape it
    is asked for).

    The cosines of a 4-sample frame for bins 0, 1, 2 (no window; ``+ 0`` turns -0.0 into 0.0):

    >>> (STFT("real", window=None)((4, 1, 3))[:, 0].round(3) + 0).tolist()
    [[1.0, 1.0, 1.0], [1.0, 0.0, -1.0], [1.0, -1.0, 1.0], [1.0, 0.0, -1.0]]
    """

    def __init__(self, side="real", window="hann", scaling="density", periodic=False):
        self.side = check_choice(side, "STFT: side", ("real", "imag"))
        if isinstance(window, dict) and window.get("class_name") == "__numpy__":
            config = window.get("config")           # Keras' entry of an array (its serialize())
            # one without its values is refused below, never read as None (no window at all)
            window = config.get("value", window) if isinstance(config, dict) else window
        if isinstance(window, str):
            check_choice(window, "STFT: window", WINDOWS, expected="'hann', 'hamming', None or an array of "
                         "frame_length numbers (Keras' other SciPy windows are not built: give their values)")
        elif window is not None:
            try:
                values = np.asarray(window)
            except ValueError:          # ragged nested lists: NumPy's message names no argument
                values = np.asarray([], dtype=object)
            if values.ndim != 1 or values.dtype.kind not in "iuf" or not np.isfinite(values).all():
                raise ValueError(f"STFT: window must be 'hann', 'hamming', None or a 1-D array of finite "
                                 f"numbers, got {window!r:.100}")
            # a list of floats: JSON (a model file) holds it, and get_config gives it back as given
            window = [float(v) for v in values]
        self.window = window
        self.scaling = check_choice(scaling, "STFT: scaling", SCALINGS, expected="'density', 'spectrum' or None")
        self.periodic = check_flag(periodic, "STFT: periodic")

    def __call__(self, shape, rng=None, dtype=np.float32):
        """The kernel of ``shape`` (frame_length, 1, bins), bins >= 2, in ``dtype`` (a float type);
        ``rng`` is not used (nothing is drawn), taken as every initializer's."""
        shape = tuple(shape)
        if len(shape) != 3 or shape[1] != 1 or shape[2] < 2:
            raise ValueError(f"STFT: needs a kernel of shape (frame_length, 1, bins) with "
                             f"bins >= 2 (the DFT's period is 2 * (bins - 1)), got shape {shape}")
        if np.dtype(dtype).kind != "f":
            raise TypeError(f"STFT: dtype must be a float type such as float32, got {np.dtype(dtype).name}")
        frame_length, _, bins = shape
        if isinstance(self.window, list) and len(self.window) != frame_length:
            raise ValueError(f"STFT: window has {len(self.window)} values, the kernel's frame_length "
                             f"(shape[0]) is {frame_length}")
        if frame_length == 0:           # an empty kernel (Keras gives one for window=None; SciPy makes no empty window)
            return np.zeros(shape, dtype)
        # the same expression, in the same order, as STFTSpectrogram's kernels always were: bit for bit
        angle = -2 * np.pi * np.arange(frame_length)[:, None] * np.arange(bins)[None, :] / (2 * (bins - 1))
        kernel = np.cos(angle) if self.side == "real" else np.sin(angle)      # (frame_length, bins)
        if self.window is not None:
            w = window_array(self.window, frame_length, self.periodic)
            scale = {"density": np.sqrt(np.sum(w ** 2)), "spectrum": np.sum(np.abs(w)), None: 1.0}[self.scaling]
            if scale == 0:
                raise ValueError(f"STFT: the window ({self.window!r:.40}, frame_length={frame_length}, periodic="
                                 f"{self.periodic}) is all zeros, and scaling={self.scaling!r} divides by its norm "
                                 f"(0); use periodic=True, another window or scaling=None")
            kernel = kernel * w[:, None] / scale
        return kernel.reshape(shape).astype(dtype)

    def get_config(self):
        return {"side": self.side, "window": self.window, "scaling": self.scaling, "periodic": self.periodic}
