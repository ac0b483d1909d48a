"""keras.ops' stft, istft, ctc_loss, ctc_decode and ops.image's sobel_edges, ssim, extract_patches_3d:
values, shapes and dtypes against Keras 3.15 on TensorFlow over fuzzed arguments; stft on tensors
(a magnitude spectrogram in a model, predicting as Keras' from the same weights) and its gradient
against float64 central differences; sobel_edges on tensors (pad, depthwise_conv, reshape nodes);
bad arguments refused by name."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from glassnet.layers.tensor_functions import TensorFunction


def _stft_case(rng, center=None):
    sl = int(rng.integers(1, 40))
    fl = sl + int(rng.integers(0, 20))
    st = int(rng.integers(1, 20))
    center = bool(rng.integers(0, 2)) if center is None else center
    window = ["hann", "hamming", None, "values"][rng.integers(0, 4)]
    if window == "values":
        window = rng.standard_normal(sl).astype(np.float32)
    samples = int(rng.integers(fl // 2 + 1, 160)) if center else int(rng.integers(fl, 160))
    return sl, st, fl, window, center, samples


@pytest.mark.parametrize("seed", range(3))
def test_stft_and_istft_equal_keras_on_fuzzed_settings(keras, seed):
    rng = np.random.default_rng(seed)
    for case in range(20):
        sl, st, fl, window, center, samples = _stft_case(rng)
        shape = [(samples,), (2, samples), (2, 3, samples)][rng.integers(0, 3)]
        dtype = [np.float32, np.float64][case % 2]
        x = rng.standard_normal(shape).astype(dtype)
        kr, ki = (np.asarray(v) for v in keras.ops.stft(x, sl, st, fl, window=window, center=center))
        gr, gi = ops.stft(x, sl, st, fl, window=window, center=center)
        for ours, theirs in ((gr, kr), (gi, ki)):
            assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
            np.testing.assert_allclose(ours, theirs, atol=2e-5 * (1 + np.abs(theirs).max()))
        length = [None, samples, samples // 2][rng.integers(0, 3)]
        back_k = np.asarray(keras.ops.istft((kr, ki), sl, st, fl, length=length, window=window, center=center))
        back = ops.istft((kr, ki), sl, st, fl, length=length, window=window, center=center)
        assert back.shape == back_k.shape and back.dtype == back_k.dtype
        np.testing.assert_allclose(back, back_k, atol=2e-5 * (1 + np.abs(back_k).max(initial=0)))


def test_istft_inverts_stft_where_the_windows_overlap_fully():
    # TensorFlow's inverse window divides by the overlap of a full set of frames, so the first and
    # last fft_length - sequence_stride samples (fewer frames there) come back scaled, in Keras too
    signal = np.sin(np.arange(300) / 7.0)
    for window in ("hann", "hamming"):
        back = ops.istft(ops.stft(signal, 64, 16, 64, window=window), 64, 16, 64, length=300, window=window)
        assert back.shape == (300,) and back.dtype == np.float64
        np.testing.assert_allclose(back[16:250], signal[16:250], atol=1e-10)


def test_stft_node_gradient_equals_central_differences():
    rng = np.random.default_rng(3)
    for center in (True, False):
        for window in ("hann", None, [0.5, 1.0, 2.0, 1.0, 0.5, 0.2, 0.1]):
            x = gn.Input((23,), dtype="float64")
            parts = ops.stft(x, 7, 3, 10, window=window, center=center)
            model = gn.Model(x, list(parts))
            nodes = [layer for layer in model.layers if isinstance(layer, TensorFunction)]
            assert [node.arguments["output"] for node in nodes] == ["real", "imag"]
            z = rng.standard_normal((2, 23))
            for node in nodes:
                g = rng.standard_normal(node.forward(z).shape)
                analytic = node.backward(g)
                numeric = np.zeros_like(z)
                for index in np.ndindex(z.shape):
                    step = np.zeros_like(z)
                    step[index] = 1e-6
                    numeric[index] = ((node.forward(z + step) - node.forward(z - step)) * g).sum() / 2e-6
                np.testing.assert_allclose(analytic, numeric, atol=1e-7)


def test_a_magnitude_spectrogram_model_predicts_as_keras(keras):
    rng = np.random.default_rng(4)
    audio = rng.standard_normal((3, 2, 80)).astype(np.float32)
    dense = rng.standard_normal((2 * 17 * 17, 1)).astype(np.float32) * 0.1

    def build(lib, library_ops):
        x = lib.Input((2, 80))
        real, imag = library_ops.stft(x, 24, 5, 32)
        magnitude = library_ops.sqrt(real * real + imag * imag + 1e-6)
        return lib.Model(x, lib.layers.Dense(1)(lib.layers.Flatten()(magnitude))), real

    ours, real = build(gn, ops)
    theirs, real_k = build(keras, keras.ops)
    assert tuple(real.shape) == tuple(real_k.shape) == (None, 2, 17, 17)
    ours.layers[-1].set_weights([dense, np.zeros(1, np.float32)])
    theirs.layers[-1].set_weights([dense, np.zeros(1, np.float32)])
    np.testing.assert_allclose(ours.predict(audio, verbose=0), theirs.predict(audio, verbose=0), rtol=1e-4, atol=1e-4)


def test_stft_refuses_bad_arguments_by_name():
    x = np.zeros(50, np.float32)
    with pytest.raises(TypeError, match="x must be float32 or float64"):
        ops.stft(np.zeros(50, np.int32), 8, 4, 8)
    with pytest.raises(ValueError, match="fft_length must be equal to or larger than sequence_length"):
        ops.stft(x, 16, 4, 8)
    with pytest.raises(ValueError, match="sequence_stride must be a positive integer"):
        ops.stft(x, 8, 0, 8)
    with pytest.raises(ValueError, match="window must be 'hann', 'hamming'"):
        ops.stft(x, 8, 4, 8, window="blackman")
    with pytest.raises(ValueError, match=r"window must .* shape \(8,\)"):
        ops.stft(x, 8, 4, 8, window=np.ones(5))
    with pytest.raises(ValueError, match="reflect-pads"):
        ops.stft(np.zeros(4, np.float32), 8, 4, 8)
    with pytest.raises(TypeError, match="ops.istft takes arrays"):
        ops.istft(ops.stft(gn.Input((50,)), 8, 4, 8), 8, 4, 8)


@pytest.mark.parametrize("seed", range(2))
def test_ctc_loss_equals_keras(keras, seed):
    rng = np.random.default_rng(10 + seed)
    for case in range(25):
        n, steps, classes, labels = (int(rng.integers(1, 5)), int(rng.integers(6, 12)), int(rng.integers(2, 7)),
                                     int(rng.integers(1, 4)))
        mask = int(rng.integers(-classes, classes))
        others = [c for c in range(classes) if c != mask % classes]
        target = rng.choice(others, (n, labels)).astype(np.int32)
        # label lengths that fit their steps (an impossible one: the next test)
        target_length = rng.integers(0, labels + 1, n).astype(np.int32)
        output_length = np.maximum(rng.integers(1, steps + 1, n), 2 * target_length).astype(np.int32)
        dtype = [np.float32, np.float64][case % 2]
        logits = (rng.standard_normal((n, steps, classes)) * 2).astype(dtype)
        theirs = np.asarray(keras.ops.ctc_loss(target, logits, target_length, output_length, mask_index=mask))
        ours = ops.ctc_loss(target, logits, target_length, output_length, mask_index=mask)
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=2e-5)


def test_ctc_loss_of_a_sequence_too_long_for_its_steps_is_inf(keras):
    logits = np.zeros((1, 2, 3), np.float32)
    ours = ops.ctc_loss([[1, 2, 1]], logits, [3], [2])
    theirs = np.asarray(keras.ops.ctc_loss(np.array([[1, 2, 1]]), logits, np.array([3]), np.array([2])))
    assert np.isinf(ours[0]) and theirs[0] > 700      # Keras: a huge finite number
    with pytest.raises(ValueError, match="not be the blank"):
        ops.ctc_loss([[0]], logits, [1], [2])
    with pytest.raises(ValueError, match="output_length must lie in"):
        ops.ctc_loss([[1]], logits, [1], [3])
    with pytest.raises(TypeError, match="ops.ctc_loss takes arrays"):
        ops.ctc_loss([[1]], gn.Input((2, 3)), [1], [2])


def test_ctc_decode_equals_keras(keras):
    rng = np.random.default_rng(20)
    for case in range(10):
        steps, classes = int(rng.integers(1, 8)), int(rng.integers(2, 5))
        logits = rng.standard_normal((3, steps, classes)).astype(np.float32)
        lengths = rng.integers(0, steps + 1, 3).astype(np.int32)
        for strategy in ("greedy", "beam_search"):
            kd, ks = keras.ops.ctc_decode(logits, lengths, strategy=strategy, beam_width=4)
            gd, gs = ops.ctc_decode(logits, lengths, strategy=strategy, beam_width=4)
            np.testing.assert_array_equal(gd, np.asarray(kd))
            assert gd.dtype == np.asarray(kd).dtype and gs.dtype == np.asarray(ks).dtype
            np.testing.assert_allclose(gs, np.asarray(ks), atol=1e-5)


def test_sobel_edges_equal_keras_on_arrays_and_tensors(keras):
    rng = np.random.default_rng(30)
    for case in range(24):
        data_format = ["channels_last", "channels_first"][case % 2]
        dtype = [np.float32, np.float64, np.float16][case % 3]
        height, width, channels = (int(v) for v in rng.integers(2, 9, 3))
        x = rng.standard_normal((2, height, width, channels)).astype(dtype)
        if data_format == "channels_first":
            x = x.transpose(0, 3, 1, 2).copy()
        theirs = np.asarray(keras.ops.image.sobel_edges(x, data_format=data_format))
        ours = ops.image.sobel_edges(x, data_format=data_format)
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours.astype(float), theirs.astype(float), atol=1e-5 if dtype != np.float16 else 1e-2)
    images = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)
    x = gn.Input((5, 6, 3))
    edges = ops.image.sobel_edges(x)
    assert tuple(edges.shape) == tuple(keras.ops.image.sobel_edges(keras.Input((5, 6, 3))).shape)
    np.testing.assert_allclose(gn.Model(x, edges).predict(images, verbose=0),
                               np.asarray(keras.ops.image.sobel_edges(images)), atol=1e-5)
    with pytest.raises(TypeError, match="images must hold floats"):
        ops.image.sobel_edges(np.zeros((1, 4, 4, 1), np.uint8))
    with pytest.raises(ValueError, match="2x2 or larger"):
        ops.image.sobel_edges(np.zeros((1, 1, 4, 1), np.float32))


def test_ssim_equals_keras(keras):
    rng = np.random.default_rng(40)
    for case in range(24):
        data_format = ["channels_last", "channels_first"][case % 2]
        dtype = [np.float32, np.float64, np.uint8][case % 3]
        height, width, channels = (int(v) for v in rng.integers(5, 20, 3))
        size = int(rng.integers(1, min(height, width) + 1))
        top = 255.0 if dtype == np.uint8 else 1.0
        shape = (height, width, channels) if case % 5 == 0 else (3, height, width, channels)
        a = rng.uniform(0, top, shape)
        b = np.clip(a + rng.normal(0, 0.2 * top, shape), 0, top)
        a, b = a.astype(dtype), b.astype(dtype)
        if data_format == "channels_first":
            a, b = (np.moveaxis(v, -1, -3).copy() for v in (a, b))
        settings = dict(max_val=top, filter_size=size, filter_sigma=float(rng.uniform(0.5, 3)),
                        k1=float(rng.uniform(0.005, 0.05)), data_format=data_format)
        theirs = np.asarray(keras.ops.image.ssim(a, b, **settings))
        ours = ops.image.ssim(a, b, **settings)
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours.astype(float), theirs.astype(float), atol=1e-5)
    with pytest.raises(ValueError, match="filter_size must be an integer in"):
        ops.image.ssim(np.zeros((8, 8, 1)), np.zeros((8, 8, 1)))
    with pytest.raises(TypeError, match="image.ssim takes arrays"):
        ops.image.ssim(gn.Input((16, 16, 1)), gn.Input((16, 16, 1)))


def test_extract_patches_3d_equals_keras(keras):
    volumes = np.random.default_rng(50).standard_normal((2, 6, 7, 5, 3)).astype(np.float32)
    for settings in (dict(size=2), dict(size=(2, 3, 2), strides=(1, 2, 1)), dict(size=3, padding="same")):
        theirs = np.asarray(keras.ops.image.extract_patches_3d(volumes, **settings))
        np.testing.assert_allclose(ops.image.extract_patches_3d(volumes, **settings), theirs, atol=1e-6)


def test_stft_under_a_gradient_tape_gives_both_parts_and_their_gradient():
    x = np.random.default_rng(5).standard_normal((1, 20))

    def loss_of(a):
        real, imag = ops.stft(a, 7, 4, 8, window=np.arange(7.0))
        return ops.sum(real * real + 2 * imag * imag)

    with gn.GradientTape() as tape:
        tape.watch(x)
        loss = loss_of(x)
    analytic = np.asarray(tape.gradient(loss, x))
    numeric = np.array([(float(loss_of(x + e)) - float(loss_of(x - e))) / 2e-6
                        for e in np.eye(20).reshape(20, 1, 20) * 1e-6]).reshape(1, 20)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-5)
