"""MelSpectrogram (layers/spectrogram.py): the window against SciPy's, the mel matrix and the values
against Keras 3.15's own layer (batches of one, and per-sample calls for glassnet's per-sample
``top_db`` floor), gradients against PyTorch autograd through ``torch.stft`` (float64), shapes,
float32 kept, the errors. The contract and finite differences are in test_layer_contract.py."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import MelSpectrogram
from glassnet.layers.spectrogram import mel_matrix, stft, stft_backward, window_array

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# settings covering each path: defaults, a short window in a longer FFT, Hamming, |X| and an
# active top_db floor, an odd FFT without a window, the stride longer than the frame, no dB
CASES = [
    {},
    dict(fft_length=64, sequence_stride=16, sequence_length=50, window="hamming", num_mel_bins=10,
         sampling_rate=8000, mag_exp=1.0, top_db=20.0),
    # (max_freq above Nyquist, which Keras allows: the last FFT bin gets a weight, the odd FFT's
    # unpaired bin, which the adjoint treats apart)
    dict(fft_length=63, sequence_stride=7, window=None, num_mel_bins=5, power_to_db=False, max_freq=9000),
    dict(fft_length=32, sequence_stride=40, sequence_length=31, num_mel_bins=6, sampling_rate=1000,
         min_freq=50.0, max_freq=400.0, mag_exp=1.5, ref_power=-3.0, top_db=15.0),
    dict(fft_length=128, sequence_stride=32, num_mel_bins=16, sampling_rate=22050, window=list(np.linspace(0, 1, 128))),
]
IDS = ["defaults", "hamming-short-window", "odd-no-window-power", "long-stride", "window-values"]


def _keras():
    return pytest.importorskip("keras", reason="Keras oracle not installed")


def _keras_layer(keras, case):
    """Keras' layer for ``case``. Its TensorFlow backend makes a symmetric window for an odd
    ``sequence_length`` even when asked for a periodic one (tf.signal.hann_window's rule); its NumPy,
    JAX and PyTorch backends, SciPy and glassnet a periodic one: Keras is handed that one as values."""
    case = dict(case)
    length = case.get("sequence_length") or case.get("fft_length", 2048)
    if isinstance(case.get("window", "hann"), str) and length % 2:
        case["window"] = window_array(case.get("window", "hann"), length).astype(np.float32)
    return keras.layers.MelSpectrogram(**case)


def _assert_close_db(ours, theirs, case):
    if case.get("power_to_db", True):         # decibels: float32 logs of sums of squares
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=2e-3)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=2e-4, atol=1e-5 * np.abs(theirs).max())


@pytest.mark.parametrize("length", [1, 2, 7, 64, 255, 2048])
@pytest.mark.parametrize("kind", ["hann", "hamming"])
def test_the_windows_are_scipy_s_periodic_ones(kind, length):
    signal = pytest.importorskip("scipy.signal")
    np.testing.assert_allclose(window_array(kind, length), signal.get_window(kind, length, fftbins=True),
                               rtol=0, atol=1e-15)


@pytest.mark.parametrize("args", [(128, 1025, 16000, 20.0, 8000.0), (10, 33, 8000, 0.0, 3000.0),
                                  (7, 32, 1000, 100.0, 700.0)])
def test_the_mel_matrix_is_keras_s(args):
    keras = _keras()
    mels, bins, rate, low, high = args
    make = keras.layers.MelSpectrogram().linear_to_mel_weight_matrix
    # Keras' own function in float64 gives ours; the layer's float32 one loses ~1e-5 to cancellation
    # (mel values near 2,000 subtracted), which glassnet avoids by making it in float64
    np.testing.assert_allclose(mel_matrix(*args), np.asarray(make(mels, bins, rate, low, high, dtype="float64")),
                               rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(mel_matrix(*args), np.asarray(make(mels, bins, rate, low, high)), rtol=0, atol=3e-5)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_values_match_keras_for_one_signal(case, rng):
    keras = _keras()
    x = rng.standard_normal((1, 3001)).astype(np.float32)
    theirs = np.asarray(_keras_layer(keras, case)(x))
    ours = MelSpectrogram(**case)(x)
    assert ours.shape == theirs.shape and ours.dtype == np.float32
    _assert_close_db(ours, theirs, case)


def test_each_signal_of_a_batch_gets_its_own_top_db_floor(rng):
    keras = _keras()
    case = CASES[1]
    # a loud signal beside a quiet one: Keras floors the quiet one 20 dB below the loud one's peak
    x = (rng.standard_normal((3, 2000)) * np.array([[1.0], [1e-3], [0.1]])).astype(np.float32)
    ours = MelSpectrogram(**case)(x)
    one_by_one = np.concatenate([np.asarray(keras.layers.MelSpectrogram(**case)(x[i:i + 1])) for i in range(3)])
    _assert_close_db(ours, one_by_one, case)
    keras_batch = np.asarray(keras.layers.MelSpectrogram(**case)(x))
    assert np.abs(keras_batch[1] - ours[1]).max() > 10        # Keras' batch-wide peak differs (documented)
    # and predict's output does not depend on batch_size
    model = gn.Sequential([MelSpectrogram(**case, input_shape=(2000,))])
    np.testing.assert_array_equal(model.predict(x, batch_size=1), model.predict(x, batch_size=3))


def test_top_db_none_does_not_floor(rng):
    keras = _keras()
    x = rng.standard_normal((1, 1500)).astype(np.float32)
    settings = dict(fft_length=64, sequence_stride=16, num_mel_bins=40, sampling_rate=8000)
    theirs = np.asarray(keras.layers.MelSpectrogram(top_db=1e9, **settings)(x))   # a floor far below all
    ours = MelSpectrogram(top_db=None, **settings)(x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=2e-3)
    assert ours.min() < ours.max() - 80          # a narrow filter bank has bins far below the peak


@pytest.mark.parametrize("samples", [33, 511, 512, 513, 1023, 1024, 1025])
def test_shapes_are_those_of_keras_call(samples):
    keras = _keras()
    settings = dict(fft_length=64, sequence_stride=512, num_mel_bins=4)
    x = np.random.default_rng(0).standard_normal((2, samples)).astype(np.float32)
    theirs = keras.layers.MelSpectrogram(**settings)(x).shape
    layer = MelSpectrogram(**settings)
    assert layer(x).shape == tuple(theirs) == (2, *layer.output_shape((samples,)))
    assert layer.output_shape((None,)) == (4, None)


@pytest.mark.parametrize("fft_length,stride", [(8, 3), (7, 3), (7, 10), (16, 16), (5, 1)])
def test_stft_backward_is_the_adjoint_of_stft(fft_length, stride, rng):
    # <stft(x), G> (real inner product of the real and imaginary parts) = <x, stft_backward(G)>
    x, window = rng.standard_normal((2, 30)), rng.random(fft_length)
    spectrum = stft(x, fft_length, stride, window)
    grad = rng.standard_normal(spectrum.shape) + 1j * rng.standard_normal(spectrum.shape)
    for i in range(30):
        e = np.zeros_like(x)
        e[1, i] = 1.0
        np.testing.assert_allclose((stft(e, fft_length, stride, window) * grad.conj()).real.sum(),
                                   stft_backward(grad, 30, fft_length, stride, window)[1, i], rtol=1e-10, atol=1e-12)


def _torch_mel(torch, x, case):
    """The same maths in torch ops: torch.stft (reflect centring, the window padded to the FFT),
    |X| ** mag_exp, the mel matrix, the dB scale and each signal's own top_db floor."""
    layer = MelSpectrogram(**case)
    n_fft, seq = layer.fft_length, layer.sequence_length
    window = window_array(layer.window, seq)
    if layer.window is None:
        window, seq = np.ones(n_fft), n_fft
    spectrum = torch.stft(x, n_fft, hop_length=layer.sequence_stride, win_length=seq,
                          window=torch.tensor(window), center=True, pad_mode="reflect", return_complex=True)
    magnitude = (spectrum.real ** 2 + spectrum.imag ** 2) ** (layer.mag_exp / 2)      # (batch, bins, frames)
    mel = torch.tensor(mel_matrix(layer.num_mel_bins, n_fft // 2 + 1, layer.sampling_rate, layer.min_freq,
                                  layer.max_freq))
    out = torch.einsum("bkt,km->bmt", magnitude, mel)
    if layer.power_to_db:
        out = 10 * torch.log10(torch.clamp(out, min=layer.min_power))
        out = out - 10 * np.log10(max(abs(layer.ref_power), layer.min_power))
        if layer.top_db is not None:
            out = torch.maximum(out, out.amax(dim=(1, 2), keepdim=True) - layer.top_db)
    return out


@pytest.mark.parametrize("case", CASES + [dict(fft_length=16, sequence_stride=3, num_mel_bins=4, top_db=5.0,
                                               sampling_rate=200)], ids=IDS + ["mostly-floored"])
def test_gradients_match_torch_autograd(case, torch, rng):
    x = rng.standard_normal((3, 2500))
    layer = MelSpectrogram(**case, dtype="float64")
    ours = layer(x)
    x_t = torch.tensor(x, requires_grad=True)
    theirs = _torch_mel(torch, x_t, case)
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-9, atol=1e-9)
    grad_output = rng.standard_normal(ours.shape)
    (theirs * torch.tensor(grad_output)).sum().backward()
    expected = x_t.grad.numpy()
    np.testing.assert_allclose(layer.backward(grad_output), expected, rtol=1e-8, atol=1e-9 * np.abs(expected).max())


def test_float32_stays_float32_and_a_first_layer_skips_the_input_gradient(rng):
    layer = MelSpectrogram(fft_length=64, sequence_stride=16, num_mel_bins=8)
    x = rng.standard_normal((2, 300)).astype(np.float32)
    out = layer.forward(x)
    assert out.dtype == np.float32 and layer._cache["spectrum"].dtype == np.complex64
    assert layer.backward(np.ones_like(out)).dtype == np.float32
    layer.needs_input_gradient = False          # a model's first layer: nothing kept, nothing returned
    layer.forward(x)
    assert layer._cache is None and layer.backward(np.ones_like(out)) is None
    assert MelSpectrogram(fft_length=64, sequence_stride=16, num_mel_bins=8, dtype="float64")(x).dtype == np.float64


def test_a_model_trains_through_it_and_round_trips(rng, tmp_path):
    model = gn.Sequential([gn.layers.Dense(200, input_dim=5), MelSpectrogram(fft_length=32, sequence_stride=8,
                                                                             num_mel_bins=6, sampling_rate=100,
                                                                             window="hamming", top_db=30.0),
                           gn.layers.Flatten(), gn.layers.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="adam")
    x, y = rng.standard_normal((16, 5)), rng.standard_normal((16, 1))
    history = model.fit(x, y, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "mel.npz")
    loaded = gn.load_model(tmp_path / "mel.npz")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.layers[1].get_config() == model.layers[1].get_config()


@pytest.mark.parametrize("kwargs,message", [
    (dict(fft_length=0), r"^MelSpectrogram: fft_length: expected a positive integer, got 0$"),
    (dict(fft_length=64.0), r"^MelSpectrogram: fft_length: expected a positive integer, got 64.0$"),
    (dict(sequence_stride=-1), r"^MelSpectrogram: sequence_stride: expected a positive integer, got -1$"),
    (dict(fft_length=64, sequence_length=65), r"^MelSpectrogram: sequence_length must be at most fft_length=64 "
                                              r"\(the window is padded to the FFT's length\), got 65$"),
    (dict(window="blackman"), r"^MelSpectrogram: window must be one of \['hann', 'hamming'\], None or an array"),
    (dict(fft_length=4, window=[1, 2, 3]), r"^MelSpectrogram: a window given as values must be 4 \(sequence_length\) "
                                           r"finite numbers, got \[1, 2, 3\]$"),
    (dict(sampling_rate=0), r"^MelSpectrogram: sampling_rate must be a finite number > 0, got 0$"),
    (dict(num_mel_bins=2.5), r"^MelSpectrogram: num_mel_bins: expected a positive integer, got 2.5$"),
    (dict(min_freq=-1.0), r"^MelSpectrogram: min_freq must be a finite number >= 0, got -1.0$"),
    (dict(min_freq=500.0, max_freq=400.0), r"^MelSpectrogram: max_freq must be above min_freq=500.0, got 400.0$"),
    (dict(top_db=-5), r"^MelSpectrogram: top_db must be a finite number >= 0, got -5$"),
    (dict(mag_exp=0), r"^MelSpectrogram: mag_exp must be a finite number > 0, got 0$"),
    (dict(min_power=0.0), r"^MelSpectrogram: min_power must be a finite number > 0, got 0.0$"),
    (dict(ref_power=float("nan")), r"^MelSpectrogram: ref_power must be a finite number, got nan$"),
], ids=lambda v: str(v)[:40] if isinstance(v, dict) else "")
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MelSpectrogram(**kwargs)


def test_a_flag_given_as_a_string_is_a_type_error():
    with pytest.raises(TypeError, match=r"^MelSpectrogram: power_to_db: expected True or False, got 'yes'$"):
        MelSpectrogram(power_to_db="yes")


def test_tensorflow_s_odd_periodic_window_is_symmetric_and_glassnet_s_is_not(rng):
    keras = _keras()
    case = dict(fft_length=32, sequence_stride=8, sequence_length=31, num_mel_bins=6, sampling_rate=1000)
    x = rng.standard_normal((1, 500)).astype(np.float32)
    symmetric = list(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(31) / 30))
    np.testing.assert_allclose(MelSpectrogram(**{**case, "window": symmetric})(x),
                               np.asarray(keras.layers.MelSpectrogram(**case)(x)), rtol=1e-4, atol=2e-3)
    assert np.abs(MelSpectrogram(**case)(x) - np.asarray(keras.layers.MelSpectrogram(**case)(x))).max() > 0.1


def test_bad_inputs_are_named():
    layer = MelSpectrogram(fft_length=64)
    with pytest.raises(ValueError, match=r"^layer MelSpectrogram: expected input of shape \(batch, samples\), "
                                         r"got shape \(batch, 100, 2\)$"):
        layer(np.zeros((1, 100, 2), np.float32))
    with pytest.raises(ValueError, match=r"^layer MelSpectrogram: the reflect padding of fft_length // 2 = 32 "
                                         r"samples needs more than 32 samples, got 32$"):
        layer(np.zeros((1, 32), np.float32))


def test_a_model_for_audio_of_any_length(rng):
    model = gn.Sequential([gn.Input((None,)), MelSpectrogram(fft_length=32, sequence_stride=8, num_mel_bins=6,
                                                               sampling_rate=100)], seed=0)
    assert model.output_shape == (None, 6, None)
    for samples in (40, 61):
        x = rng.standard_normal((2, samples)).astype(np.float32)
        np.testing.assert_array_equal(model.predict(x), MelSpectrogram(**model.layers[0].get_config())(x))


def test_float32_stays_float32_with_numpy_1_s_double_precision_fft(rng, monkeypatch):
    # NumPy 1.x (pyproject: numpy>=1.24) computes rfft/irfft in double precision whatever the input
    rfft, irfft = np.fft.rfft, np.fft.irfft
    monkeypatch.setattr(np.fft, "rfft", lambda a, *args, **kw: rfft(np.asarray(a, np.float64), *args, **kw))
    monkeypatch.setattr(np.fft, "irfft", lambda a, *args, **kw: irfft(np.asarray(a, np.complex128), *args, **kw))
    layer = MelSpectrogram(fft_length=64, sequence_stride=16, num_mel_bins=8)
    out = layer(rng.standard_normal((2, 300)).astype(np.float32))
    assert out.dtype == np.float32 and layer.backward(np.ones_like(out)).dtype == np.float32


@pytest.mark.parametrize("length,step,time", [(4, 1, 9), (4, 3, 13), (5, 2, 5), (3, 5, 17), (8, 8, 24)])
def test_overlap_add_is_the_adjoint_of_frames_view(length, step, time, rng):
    """<frames_view(x), F> = <x, overlap_add(F)>: the framing's transpose, whatever the stride
    (shorter than the frame, equal to it, or longer: samples no frame reads get 0)."""
    from glassnet.layers.spectrogram import frames_view, overlap_add
    x = rng.normal(size=(2, time))
    frames = frames_view(x, length, step)
    assert frames.shape == (2, (time - length) // step + 1, length)
    for t in range(frames.shape[1]):
        np.testing.assert_array_equal(frames[:, t], x[:, t * step:t * step + length])
    grads = rng.normal(size=frames.shape)
    back = overlap_add(grads, step, time)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(frames * grads), np.sum(x * back), rtol=1e-12)
