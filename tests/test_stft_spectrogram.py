"""STFTSpectrogram (layers/stft_spectrogram.py): the windows against SciPy's, the kernels against
Keras 3.15's initializer, values of every mode and layout against Keras' own layer, gradients (input
and both kernels) against PyTorch autograd on the same convolutions (float64), the trainable
flag in a model, and the errors. The contract and finite differences are in test_layer_contract.py."""
import os
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import STFTSpectrogram
from glassnet.layers.spectrogram import window_array

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CASES = [
    {},
    dict(mode="magnitude", frame_length=30, frame_step=7, fft_length=64, window="hamming", periodic=True,
         scaling="spectrum", padding="same"),
    dict(mode="psd", frame_length=16, fft_length=21, window=None, expand_dims=True),
    dict(mode="stft", frame_length=16, frame_step=5, data_format="channels_first"),
    dict(mode="angle", frame_length=16, frame_step=5, padding="same", data_format="channels_first", expand_dims=True),
    dict(mode="real", frame_length=16, scaling=None),
    dict(mode="imag", frame_length=15, window=list(np.linspace(0, 1, 15))),
    dict(mode="log", frame_length=12, frame_step=12, fft_length=12, padding="same", expand_dims=True, periodic=True),
]
IDS = [c.get("mode", "log") + ("-" + str(i) if i else "") for i, c in enumerate(CASES)]


def _keras():
    return pytest.importorskip("keras", reason="Keras oracle not installed")


def _quiet(make):
    with warnings.catch_warnings():          # fft_length not a power of two: Keras warns, so do we
        warnings.simplefilter("ignore", UserWarning)
        return make()


def _keras_output(keras, case, x):
    """Keras' layer on ``x``; a channels_first case runs channels_last on the transposed input (its
    TensorFlow CPU convolution takes no NCHW) and its output is laid out as channels_first's."""
    if case.get("data_format") != "channels_first":
        layer = _quiet(lambda: keras.layers.STFTSpectrogram(**case))
        return layer, np.asarray(layer(x))
    layer = _quiet(lambda: keras.layers.STFTSpectrogram(**{**case, "data_format": "channels_last"}))
    out = np.asarray(layer(x.transpose(0, 2, 1)))
    return layer, out.transpose(0, 3, 1, 2) if case.get("expand_dims") else out.transpose(0, 2, 1)


def _input(case, rng, batch=2, time=500, channels=3, dtype=np.float32):
    shape = (batch, channels, time) if case.get("data_format") == "channels_first" else (batch, time, channels)
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("length", [1, 2, 7, 64, 255])
@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("kind", ["hann", "hamming"])
def test_the_windows_are_scipy_s(kind, periodic, length):
    signal = pytest.importorskip("scipy.signal")
    np.testing.assert_allclose(window_array(kind, length, periodic), signal.get_window(kind, length, periodic),
                               rtol=0, atol=1e-15)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_values_and_kernels_match_keras(case, rng):
    keras = _keras()
    x = _input(case, rng)
    theirs_layer, theirs = _keras_output(keras, case, x)
    ours_layer = _quiet(lambda: STFTSpectrogram(**case))
    ours = ours_layer(x)
    assert ours.shape == theirs.shape and ours.dtype == np.float32
    assert ours_layer.output_shape(x.shape[1:]) == ours.shape[1:]
    for mine, keras_weight in zip(ours_layer.get_weights(), theirs_layer.get_weights(), strict=True):
        np.testing.assert_allclose(mine, keras_weight, rtol=0, atol=5e-5)    # Keras: float32 angles
    mode = case.get("mode", "log")
    if mode == "angle":
        # only where the phase is defined: the DC bin's imaginary part is an exact zero (+-pi by its
        # sign) and the Nyquist bin's a rounding error, both decided by the order of summation
        np.testing.assert_allclose(np.exp(1j * ours[..., 1:-1]), np.exp(1j * theirs[..., 1:-1]), atol=2e-3)
    elif mode == "log":          # logs of magnitudes down to sqrt(1e-7), from float32 sums
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=2e-3)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5 * np.abs(theirs).max())


def test_an_odd_fft_length_keeps_keras_period(rng):
    # Keras' kernels take the period 2 (bins - 1): for fft_length 21 that is 20, not 21
    keras = _keras()
    case = dict(mode="real", frame_length=16, fft_length=21, window=None, scaling=None)
    x = _input(case, rng, time=64)
    np.testing.assert_allclose(_quiet(lambda: STFTSpectrogram(**case))(x), _keras_output(keras, case, x)[1],
                               rtol=1e-4, atol=1e-5)
    layer = _quiet(lambda: STFTSpectrogram(**case))
    layer.build((64, 3))
    np.testing.assert_allclose(layer.params["real_kernel"][:, 0, 1], np.cos(2 * np.pi * np.arange(16) / 20), atol=1e-6)


def _torch_spectrogram(torch, layer, x, kernels):
    """The same maths in torch ops: each channel convolved with the kernels (TensorFlow's "same"
    padding: the odd sample on the right), then the mode, then the output's layout."""
    channels_last = layer.data_format == "channels_last"
    signal = x.permute(0, 2, 1) if channels_last else x                  # (batch, channels, time)
    batch, channels, time = signal.shape
    count, pad = layer._frames_and_padding(time)
    signal = torch.nn.functional.pad(signal.reshape(batch * channels, 1, time), (pad // 2, pad - pad // 2))
    parts = {side: torch.nn.functional.conv1d(signal, kernel.permute(2, 1, 0), stride=layer._frame_step)
             .reshape(batch, channels, -1, count).transpose(2, 3) for side, kernel in kernels.items()}
    real, imag = parts.get("real"), parts.get("imag")
    if layer.mode in ("real", "imag"):
        out = parts[layer.mode]
    elif layer.mode == "angle":
        out = torch.atan2(imag, real)
    elif layer.mode == "stft":
        out = torch.cat([real, imag], dim=-1)
    else:
        power = real ** 2 + imag ** 2
        if layer.mode == "psd":
            out = power + torch.nn.functional.pad(power[..., 1:-1], (1, 1))
        else:
            out = torch.sqrt(torch.clamp(power, min=1e-7))
            if layer.mode == "log":
                out = torch.log(torch.clamp(out, min=1e-7))
    frames = out.shape[2]
    if channels_last:
        return out.permute(0, 2, 3, 1) if layer.expand_dims else out.permute(0, 2, 1, 3).reshape(batch, frames, -1)
    return out if layer.expand_dims else out.permute(0, 1, 3, 2).reshape(batch, -1, frames)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradients_match_torch_autograd(case, torch, rng):
    layer = _quiet(lambda: STFTSpectrogram(**case, dtype="float64"))
    x = _input(case, rng, batch=2, time=301, dtype=np.float64)
    ours = layer(x)
    x_t = torch.tensor(x, requires_grad=True)
    kernels = {name.split("_")[0]: torch.tensor(value, requires_grad=True) for name, value in layer.params.items()}
    theirs = _torch_spectrogram(torch, layer, x_t, kernels)
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-9, atol=1e-9)
    grad_output = rng.standard_normal(ours.shape)
    (theirs * torch.tensor(grad_output)).sum().backward()
    grad_x = layer.backward(grad_output)
    for mine, expected in [(grad_x, x_t.grad)] + [(layer.grads[f"{side}_kernel"], kernel.grad)
                                                  for side, kernel in kernels.items()]:
        expected = expected.numpy()
        np.testing.assert_allclose(mine, expected, rtol=1e-8, atol=1e-9 * np.abs(expected).max())


@pytest.mark.parametrize("trainable", [True, False])
def test_the_kernels_train_unless_frozen(trainable, rng):
    model = gn.Sequential([STFTSpectrogram(mode="magnitude", frame_length=16, frame_step=8, trainable=trainable,
                                           input_shape=(64, 2)),
                           gn.layers.Flatten(), gn.layers.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="adam")
    before = [w.copy() for w in model.layers[0].get_weights()]
    model.fit(rng.standard_normal((16, 64, 2)), rng.standard_normal((16, 1)), epochs=2, verbose=0)
    changed = [not np.array_equal(a, b) for a, b in zip(before, model.layers[0].get_weights())]
    assert changed == [trainable, trainable]


def test_a_trained_kernel_round_trips_through_a_model_file(rng, tmp_path):
    model = gn.Sequential([STFTSpectrogram(mode="log", frame_length=16, padding="same", expand_dims=True,
                                           window="hamming", periodic=True, input_shape=(64, 2)),
                           gn.layers.Conv2D(2, 3), gn.layers.Flatten(), gn.layers.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="adam")
    x = rng.standard_normal((16, 64, 2))
    model.fit(x, rng.standard_normal((16, 1)), epochs=2, verbose=0)
    model.save(tmp_path / "stft.npz")
    loaded = gn.load_model(tmp_path / "stft.npz")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.layers[0].get_config() == model.layers[0].get_config()


@pytest.mark.parametrize("kwargs,message", [
    (dict(mode="power"), r"^STFTSpectrogram: mode must be one of \['log', 'magnitude', 'psd', 'real', 'imag', "
                         r"'angle', 'stft'\], got 'power'$"),
    (dict(frame_length=0), r"^STFTSpectrogram: frame_length: expected a positive integer, got 0$"),
    (dict(frame_length=16, frame_step=17), r"^STFTSpectrogram: frame_step must be at most frame_length=16, got 17$"),
    (dict(frame_step=0), r"^STFTSpectrogram: frame_step: expected a positive integer, got 0$"),
    (dict(frame_length=16, fft_length=8), r"^STFTSpectrogram: fft_length must be at least frame_length=16, got 8$"),
    (dict(frame_length=1), r"^STFTSpectrogram: the FFT needs at least 2 points"),
    (dict(window="blackman"), r"^STFTSpectrogram: window must be 'hann', 'hamming', None or an array of "
                              r"frame_length values \(Keras' other SciPy windows are not built\), got 'blackman'$"),
    (dict(frame_length=3, window=[1.0, 2.0]), r"^STFTSpectrogram: a window given as values must be 3 \(frame_length\) "
                                              r"finite numbers, got \[1.0, 2.0\]$"),
    (dict(scaling="power"), r"^STFTSpectrogram: scaling must be 'density', 'spectrum' or None, got 'power'$"),
    (dict(padding="causal"), r"^STFTSpectrogram: padding must be one of \['valid', 'same'\], got 'causal'$"),
    (dict(data_format="NCW"), r"^STFTSpectrogram: data_format must be 'channels_last', 'channels_first' or None, "
                              r"got 'NCW'$"),
], ids=lambda v: str(v)[:40] if isinstance(v, dict) else "")
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        STFTSpectrogram(**kwargs)


def test_flags_and_inputs_are_checked():
    with pytest.raises(TypeError, match=r"^STFTSpectrogram: periodic: expected True or False, got 1$"):
        STFTSpectrogram(periodic=1)
    with pytest.raises(TypeError, match=r"^STFTSpectrogram: expand_dims: expected True or False, got 'no'$"):
        STFTSpectrogram(expand_dims="no")
    with pytest.warns(UserWarning, match=r"^STFTSpectrogram: fft_length is recommended to be a power of two, got 300$"):
        STFTSpectrogram(fft_length=300)
    layer = STFTSpectrogram(frame_length=16)
    with pytest.raises(ValueError, match=r"^layer STFTSpectrogram: expected input of shape \(batch, time, channels\), "
                                         r"got shape \(batch, 100\)$"):
        layer(np.zeros((1, 100), np.float32))
    with pytest.raises(ValueError, match=r"^layer STFTSpectrogram: padding='valid' needs at least frame_length=16 "
                                         r"samples, got 10$"):
        layer(np.zeros((1, 10, 1), np.float32))
    assert layer.output_shape((None, 2)) == (None, 18)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_the_layer_lets_go_of_the_caller_s_data(data_format, rng):
    # without padding the frames are a view of the input: kept in a dict, the model's _release_data
    # could not copy it, and the layer held the caller's whole array (fit: the shuffled copy)
    shape = (64, 2) if data_format == "channels_last" else (2, 64)
    model = gn.Sequential([STFTSpectrogram(mode="magnitude", frame_length=16, data_format=data_format,
                                           input_shape=shape), gn.layers.Flatten(), gn.layers.Dense(1)], seed=0)
    x = rng.standard_normal((64, *shape)).astype(np.float32)
    model.predict(x, batch_size=16)
    model.compile(loss="mse", optimizer="sgd")
    model.fit(x, rng.standard_normal((64, 1)), epochs=1, batch_size=16, verbose=0)
    layer = model.layers[0]
    held = [v for v in vars(layer).values() if isinstance(v, np.ndarray)]
    held += [v for v in layer._cache.values() if isinstance(v, np.ndarray)]
    assert not any(np.may_share_memory(v, x) for v in held)
    for v in held:
        while v.base is not None:
            v = v.base
        assert v.size < x.size


def test_an_all_zero_window_is_refused_by_name():
    # scipy's symmetric Hann window of 2 samples is [0, 0]: Keras' kernels are 0 / 0
    with pytest.raises(ValueError, match=r"^STFTSpectrogram: the window \('hann', frame_length=2, periodic=False\) "
                                         r"is all zeros"):
        STFTSpectrogram(frame_length=2)
    STFTSpectrogram(frame_length=2, scaling=None)
    STFTSpectrogram(frame_length=2, periodic=True)


def test_matmul_flops_count_the_frames_times_a_kernel():
    """fit picks its BLAS threads from the largest product; the base counted a weight named
    ``kernel``, which this layer has not, so it said 0."""
    layer = gn.layers.STFTSpectrogram(mode="magnitude", frame_length=16, frame_step=8, fft_length=16)
    assert layer.matmul_flops(4) == 0               # not built
    model = gn.Sequential([gn.Input((128, 2)), layer])
    frames = model.layers[0].output_shape((128, 2))[0]
    assert layer.matmul_flops(4) == 2 * 4 * 2 * frames * 16 * 9 > 0
