"""initializers.STFT (initializers/fourier.py): values against Keras 3.15's STFT initializer for every
side, window, scaling and periodic flag on several shapes (float32 and float64) and against NumPy's
FFT, in a Conv1D against Keras' Conv1D, its names and Keras' dicts, a model file holding it (a window
given as values too, which Keras' own JSON cannot read back), and the arguments it refuses.
STFTSpectrogram's kernels made with it are in test_stft_spectrogram.py and test_review_io.py."""
import itertools
import json
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.initializers import STFT
from glassnet.initializers.fourier import window_array

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

EPS32, EPS64 = np.finfo(np.float32).eps, np.finfo(np.float64).eps
SHAPES = [(1, 1, 5), (7, 1, 2), (15, 1, 11), (16, 1, 9), (64, 1, 33), (256, 1, 129)]
SETTINGS = list(itertools.product(("real", "imag"), ("hann", "hamming", None, "values"),
                                  ("density", "spectrum", None), (False, True)))


def _keras():
    return pytest.importorskip("keras", reason="Keras oracle not installed")


def _window(window, frame_length):
    """The window argument: a name, None, or (``"values"``) frame_length positive numbers."""
    if window != "values":
        return window
    return np.random.default_rng(frame_length).uniform(0.1, 1.0, frame_length)


def _peak(window, scaling, frame_length, periodic):
    """max |w| / scale: the largest value a kernel can hold, what its errors are measured against."""
    w = window_array(window, frame_length, periodic)
    if window is None or scaling is None:
        return np.abs(w).max()
    return np.abs(w).max() / (np.sqrt(np.sum(w ** 2)) if scaling == "density" else np.sum(np.abs(w)))


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[2]}")
def test_values_are_keras_for_every_setting(shape):
    keras = _keras()
    frame_length = shape[0]
    for side, window, scaling, periodic in SETTINGS:
        w = _window(window, frame_length)
        theirs = keras.initializers.STFT(side, w, scaling, periodic)
        ours = STFT(side, w, scaling, periodic)
        mine32, mine64 = ours(shape), ours(shape, None, np.float64)
        assert mine32.dtype == np.float32 and mine64.dtype == np.float64 and mine32.shape == shape
        peak = _peak(w, scaling, frame_length, periodic)
        # Keras computes the angle pi n k / (bins - 1) in the kernel's dtype: its error grows with the
        # angle, up to pi (frame_length - 1), so the tolerance does (measured: 1.0 to 1.6 times
        # pi * frame_length * eps of the dtype, on the largest value the kernel holds)
        for mine, dtype, eps in ((mine32, "float32", EPS32), (mine64, "float64", EPS64)):
            expected = np.asarray(theirs(shape, dtype=dtype))
            np.testing.assert_allclose(mine, expected, rtol=0, atol=4 * np.pi * frame_length * eps * peak,
                                       err_msg=f"{side}, {window}, {scaling}, periodic={periodic}, {dtype}")


@pytest.mark.parametrize("frame_length,fft_length", [(16, 16), (30, 64), (255, 256)])
@pytest.mark.parametrize("window,periodic", [("hann", False), ("hamming", True), (None, False)])
def test_real_and_imag_kernels_give_numpy_s_fft_of_the_windowed_frame(frame_length, fft_length, window, periodic):
    # an oracle of its own: an even fft_length is the period 2 (bins - 1) Keras' formula uses
    bins = fft_length // 2 + 1
    frame = np.random.default_rng(1).standard_normal(frame_length)
    kernels = [STFT(side, window, "spectrum", periodic)((frame_length, 1, bins), None, np.float64)[:, 0]
               for side in ("real", "imag")]
    w = window_array(window, frame_length, periodic)
    norm = np.sum(np.abs(w)) if window else 1.0
    spectrum = np.fft.rfft(frame * w, n=fft_length) / norm
    # each term's angle (up to pi (frame_length - 1)) is rounded, here as in the FFT: errors up to
    # about pi frame_length eps times the sum of the terms' sizes
    bound = 4 * np.pi * frame_length * EPS64 * np.sum(np.abs(frame * w)) / norm
    np.testing.assert_allclose(frame @ kernels[0] + 1j * (frame @ kernels[1]), spectrum, rtol=0, atol=bound)


def test_in_a_conv1d_as_keras_suggests():
    keras = _keras()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 200, 1)).astype(np.float32)
    window = rng.uniform(0.2, 1.0, 32)
    for side, w in (("real", "hann"), ("imag", "hamming"), ("real", window)):
        settings = dict(filters=17, kernel_size=32, strides=8, use_bias=False)
        ours = gn.layers.Conv1D(**settings, kernel_initializer=STFT(side, w, periodic=True))
        theirs = keras.layers.Conv1D(**settings, kernel_initializer=keras.initializers.STFT(side, w, periodic=True))
        mine, expected = ours(x), np.asarray(theirs(x))
        assert mine.shape == expected.shape == (2, 22, 17) and mine.dtype == np.float32
        # their kernel's float32 angles (see above) and the sums of 32 products in float32
        np.testing.assert_allclose(ours.params["kernel"], np.asarray(theirs.kernel), rtol=0, atol=2e-5)
        np.testing.assert_allclose(mine, expected, rtol=0, atol=1e-4 * np.abs(expected).max())
    with pytest.raises(ValueError, match=r"Conv1D \w+: kernel: initializer: STFT: needs a kernel of shape "
                                         r"\(frame_length, 1, bins\) .*got shape \(32, 2, 17\)"):
        gn.layers.Conv1D(17, 32, kernel_initializer=STFT())(np.zeros((1, 64, 2), np.float32))


def test_float64_on_request_and_float32_by_default():
    layer = gn.layers.Conv1D(9, 16, kernel_initializer="stft", dtype="float64")
    layer.build((40, 1))
    assert layer.params["kernel"].dtype == np.float64
    np.testing.assert_array_equal(layer.params["kernel"], STFT()((16, 1, 9), None, np.float64))
    assert STFT()((16, 1, 9)).dtype == np.float32 and STFT()((16, 1, 9), None, "float64").dtype == np.float64


def test_names_aliases_and_configs():
    i = gn.initializers
    assert i.STFTInitializer is i.STFT and i.stft is i.STFT
    for name in ("stft", "STFT", "STFTInitializer"):
        assert i.get(name) == STFT() and i.get(name) is not i.get(name)        # a new instance each time
    given = STFT("imag", [0.5, 1.0, 0.5], None, True)
    assert given.get_config() == {"side": "imag", "window": [0.5, 1.0, 0.5], "scaling": None, "periodic": True}
    entry = i.serialize(given)
    assert entry == {"class_name": "STFT", "config": given.get_config()}
    assert i.deserialize(json.loads(json.dumps(entry))) == given
    assert STFT.from_config(given.get_config()) == given
    assert i.get({"class_name": "STFTInitializer", "config": {"side": "imag"}}) == STFT("imag")
    assert repr(STFT()) == "STFT(side='real', window='hann', scaling='density', periodic=False)"


def test_keras_dicts_are_read_and_glassnet_s_read_by_keras():
    keras = _keras()
    window = np.linspace(0.1, 1.0, 8)
    for theirs in (keras.initializers.STFT("imag", "hamming", "spectrum", True),
                   keras.initializers.STFT("real", window, None, False)):
        entry = keras.initializers.serialize(theirs)
        ours = gn.initializers.deserialize(json.loads(json.dumps(entry)))
        # a window given as values is Keras' "__numpy__" entry there (which Keras' deserialize hands
        # to the initializer undecoded, so its own kernel fails); read as the values here
        np.testing.assert_allclose(ours((8, 1, 5)), np.asarray(theirs((8, 1, 5))), rtol=0, atol=1e-6)
        back = keras.initializers.deserialize(gn.initializers.serialize(ours))
        np.testing.assert_allclose(np.asarray(back((8, 1, 5))), np.asarray(theirs((8, 1, 5))), rtol=0, atol=0)


def test_a_model_with_it_saves_and_loads_without_pickle(tmp_path):
    window = np.random.default_rng(2).uniform(0.1, 1.0, 16)
    def build():
        return gn.Sequential([gn.layers.Conv1D(9, 16, strides=4, use_bias=False, input_shape=(64, 1),
                                               kernel_initializer=STFT("imag", window, "spectrum")),
                              gn.layers.Flatten(), gn.layers.Dense(1)], seed=0)
    model = build()
    model.compile(loss="mse", optimizer="sgd")
    x = np.random.default_rng(3).standard_normal((4, 64, 1)).astype(np.float32)
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as arrays:     # a file NumPy reads without pickle
        assert "STFT" in arrays["config"].tobytes().decode()
    loaded = gn.load_model(tmp_path / "m.npz")
    assert loaded.layers[0].kernel_initializer == STFT("imag", window, "spectrum")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # a model rebuilt from its (JSON) config makes the same kernels
    rebuilt = gn.Sequential.from_config(json.loads(json.dumps(model.get_config())))
    for a, b in zip(rebuilt.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.layers[0].params["kernel"],
                                  STFT("imag", window, "spectrum")((16, 1, 9)))


def test_an_empty_kernel():
    assert STFT()((0, 1, 3)).shape == (0, 1, 3)


@pytest.mark.parametrize("make,error,message", [
    (lambda: STFT(side="complex"), ValueError, r"STFT: side must be one of \['real', 'imag'\], got 'complex'"),
    (lambda: STFT(side=1), TypeError, r"STFT: side must be a str"),
    (lambda: STFT(window="boxcar"), ValueError,
     r"STFT: window must be 'hann', 'hamming', None or an array .*got 'boxcar'"),
    (lambda: STFT(window=[[1.0, 2.0]]), ValueError, r"STFT: window must be .* a 1-D array of finite numbers, got \[\["),
    (lambda: STFT(window=[1.0, float("nan")]), ValueError, r"STFT: window must be .*finite numbers, got \[1.0, nan\]"),
    (lambda: STFT(window=["a", "b"]), ValueError, r"STFT: window must be .*got \['a', 'b'\]"),
    (lambda: STFT(window=[True, False]), ValueError, r"STFT: window must be .*got \[True, False\]"),
    (lambda: STFT(window=3.0), ValueError, r"STFT: window must be .*got 3.0"),
    (lambda: STFT(scaling="l2"), ValueError, r"STFT: scaling must be 'density', 'spectrum' or None, got 'l2'"),
    (lambda: STFT(periodic="yes"), TypeError, r"STFT: periodic: expected True or False, got 'yes'"),
    (lambda: STFT()((16, 9)), ValueError,
     r"STFT: needs a kernel of shape \(frame_length, 1, bins\) .*got shape \(16, 9\)"),
    (lambda: STFT()((16, 3, 9)), ValueError, r"STFT: needs a kernel .*got shape \(16, 3, 9\)"),
    (lambda: STFT()((16, 1, 1)), ValueError, r"STFT: needs a kernel .*bins >= 2 .*got shape \(16, 1, 1\)"),
    (lambda: STFT(window=[1.0, 2.0])((3, 1, 5)), ValueError,
     r"STFT: window has 2 values, the kernel's frame_length \(shape\[0\]\) is 3"),
    (lambda: STFT()((16, 1, 9), None, np.int32), TypeError, r"STFT: dtype must be a float type .*got int32"),
    (lambda: STFT(window=[0.0, 0.0], scaling="spectrum")((2, 1, 3)), ValueError, r"STFT: the window .* is all zeros"),
])
def test_bad_arguments_are_refused_by_name(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_an_all_zeros_window_is_refused_where_keras_gives_nan():
    keras = _keras()
    # SciPy's symmetric Hann window of 2 samples is [0, 0]: Keras divides by its norm
    assert np.isnan(np.asarray(keras.initializers.STFT()((2, 1, 3)))).all()
    with pytest.raises(ValueError, match=r"STFT: the window \('hann', frame_length=2, periodic=False\) is all zeros"):
        STFT()((2, 1, 3))
    # what the message suggests works, and is Keras' too
    for ours, theirs in ((STFT(periodic=True), keras.initializers.STFT(periodic=True)),
                         (STFT(scaling=None), keras.initializers.STFT(scaling=None))):
        np.testing.assert_allclose(ours((2, 1, 3)), np.asarray(theirs((2, 1, 3))), rtol=0, atol=1e-7)
