"""Numbers in a layer's config that load in milliseconds and then make ``predict`` allocate
terabytes or loop for hours (security review): refused by name when the model is built for its
input shape (``glassnet._bounds.MAX_SAMPLE_VALUES``), or, where Keras takes them, computed within
what the input holds. No test here allocates more than a few megabytes; each runs under an alarm."""
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet import ModelFileError
from glassnet._bounds import MAX_SAMPLE_VALUES, check_output
from glassnet.gradcheck import check_layer

from crafted_files import rewrite_config, within

L = gn.layers


# (a layer with ordinary settings, the input sample shape, the setting crafted and its value)
CRAFTED = [
    (lambda: L.UpSampling1D(2), (8, 3), "size", 10 ** 11),
    (lambda: L.UpSampling2D(2), (8, 8, 3), "size", [10 ** 5, 10 ** 5]),
    (lambda: L.UpSampling3D(2), (4, 4, 4, 1), "size", [10 ** 4] * 3),
    (lambda: L.ZeroPadding1D(1), (8, 3), "padding", [10 ** 11, 0]),
    (lambda: L.ZeroPadding2D(1), (8, 8, 3), "padding", [[10 ** 5, 10 ** 5], [10 ** 5, 10 ** 5]]),
    (lambda: L.ZeroPadding3D(1), (4, 4, 4, 1), "padding", [[10 ** 4, 0]] * 3),
    (lambda: L.RepeatVector(3), (4,), "n", 10 ** 11),
    (lambda: L.Resizing(4, 4), (8, 8, 3), "height", 10 ** 11),
    (lambda: L.Resizing(4, 4), (8, 8, 3), "width", 10 ** 11),
    (lambda: L.CenterCrop(4, 4), (8, 8, 3), "height", 10 ** 11),
    (lambda: L.RandomCrop(4, 4), (8, 8, 3), "width", 10 ** 11),
    (lambda: L.CategoryEncoding(4), (3,), "num_tokens", 10 ** 10),
    (lambda: L.MelSpectrogram(fft_length=64, sequence_stride=16, num_mel_bins=8), (400,), "num_mel_bins", 10 ** 11),
    (lambda: L.Equalization(), (8, 8, 3), "bins", 10 ** 10),
    (lambda: L.ContrastLimitedAdaptiveHistogramEqualization(), (8, 8, 3), "tile_grid_size", [10 ** 5, 10 ** 5]),
    (lambda: L.Conv2D(2, 3, padding="same"), (8, 8, 3), "dilation_rate", [10 ** 5, 10 ** 5]),
    (lambda: L.Conv1D(2, 3, padding="causal"), (8, 3), "dilation_rate", [10 ** 11]),
    (lambda: L.DepthwiseConv2D(3, padding="same"), (8, 8, 3), "dilation_rate", [10 ** 5, 10 ** 5]),
    (lambda: L.Conv2DTranspose(2, 3), (8, 8, 3), "strides", [10 ** 5, 10 ** 5]),
    (lambda: L.Conv3DTranspose(1, 2), (4, 4, 4, 1), "strides", [10 ** 4] * 3),
    (lambda: L.AdaptiveAveragePooling2D(2), (8, 8, 3), "output_size", [10 ** 5, 10 ** 5]),
    (lambda: L.AdaptiveMaxPooling1D(2), (8, 3), "output_size", [10 ** 11]),
    (lambda: L.IntegerLookup(vocabulary=[1, 2, 3], output_mode="multi_hot", max_tokens=8, pad_to_max_tokens=True),
     (3,), "max_tokens", 10 ** 10),
]
IDS = [f"{make().__class__.__name__}-{key}" for make, _, key, _ in CRAFTED]


def _saved(tmp_path, make, shape):
    model = gn.Sequential([L.Input(shape), make()], seed=0)
    model.predict(np.ones((1, *shape)), verbose=0)         # ordinary settings work
    path = tmp_path / "m.npz"
    model.save(path)
    return model, path


@pytest.mark.parametrize("make, shape, key, value", CRAFTED, ids=IDS)
def test_a_crafted_file_is_refused_by_name_at_load(tmp_path, make, shape, key, value):
    model, path = _saved(tmp_path, make, shape)
    name = type(model.layers[-1]).__name__

    def craft(meta):
        meta["model"]["layers"][-1]["config"][key] = value
    rewrite_config(path, craft)
    with within(20), pytest.raises((ModelFileError, ValueError), match=rf"{name}.*{key}") as refusal:
        gn.load_model(path)
    assert "MAX_SAMPLE_VALUES" in str(refusal.value)


@pytest.mark.parametrize("make, shape, key, value", CRAFTED, ids=IDS)
def test_a_crafted_config_is_refused_by_name_from_config_and_json(make, shape, key, value):
    model = gn.Sequential([L.Input(shape), make()], seed=0)
    config = model.get_config()
    config["layers"][-1]["config"][key] = value
    name = type(model.layers[-1]).__name__
    with within(20), pytest.raises(ValueError, match=rf"{name}.*{key}"):
        gn.Sequential.from_config(config)
    description = json.dumps({"class_name": "Sequential", "config": config})
    with within(20), pytest.raises((ModelFileError, ValueError), match=rf"{name}.*{key}"):
        gn.models.model_from_json(description)


def test_a_layer_on_its_own_and_a_functional_graph_are_bounded_too():
    x = np.ones((1, 8, 8, 3), np.float32)
    layer = gn.layers.deserialize({"class_name": "UpSampling2D", "config": {"size": [10 ** 5, 10 ** 5]}})
    with within(20), pytest.raises(ValueError, match=r"UpSampling2D.*\(800000, 800000, 3\).*MAX_SAMPLE_VALUES = 4,294,967,296"):
        layer(x)
    inputs = L.Input((4,))
    with within(20), pytest.raises(ValueError, match="RepeatVector.*n=1000000000"):
        L.RepeatVector(10 ** 11)(inputs)
    # a nested model's layers are built with the outer model's
    with within(20), pytest.raises(ValueError, match="RepeatVector"):
        gn.Sequential([L.Dense(4, input_dim=3), gn.Sequential([L.RepeatVector(10 ** 11)])])


def test_lookup_and_text_layers_refuse_vectors_padded_to_a_crafted_max_tokens_as_they_are_made():
    # "tf_idf" pads its weights to max_tokens in the constructor: refused before, by name
    with within(20), pytest.raises(ValueError, match="StringLookup.*max_tokens=10000000000"):
        gn.layers.deserialize({"class_name": "StringLookup", "config": {
            "max_tokens": 10 ** 10, "pad_to_max_tokens": True, "output_mode": "tf_idf",
            "vocabulary": ["a"], "idf_weights": [1.0]}})
    with within(20), pytest.raises(ValueError, match="TextVectorization.*max_tokens"):
        gn.layers.deserialize({"class_name": "TextVectorization", "config": {
            "max_tokens": 10 ** 10, "pad_to_max_tokens": True, "output_mode": "multi_hot"}})
    # in "int" mode max_tokens sizes nothing
    gn.layers.deserialize({"class_name": "TextVectorization", "config": {
        "max_tokens": 10 ** 10, "pad_to_max_tokens": True, "output_mode": "int"}})


def test_the_cap_counts_known_axes_and_several_outputs():
    layer = L.ReLU()
    check_output(layer, (None, 2 ** 31, 2))                     # an open axis counts as 1
    with pytest.raises(ValueError, match="ReLU.*4,294,967,296"):
        check_output(layer, ((2 ** 31, 2), (1,)))
    assert MAX_SAMPLE_VALUES == 2 ** 32 == gn.io.MAX_SAMPLE_VALUES
    assert "MAX_SAMPLE_VALUES" in gn.io.__doc__


def test_a_valid_window_larger_than_its_input_is_refused_as_keras_refuses_it():
    for layer, x in ((L.MaxPooling2D(9), np.ones((1, 8, 8, 1))), (L.AveragePooling1D(9), np.ones((1, 8, 1))),
                     (L.Conv2D(1, 3, dilation_rate=4), np.ones((1, 8, 8, 1)))):
        with pytest.raises(ValueError, match="(pool_size|kernel_size).*does not fit"):
            layer(x)


# -- what Keras takes is computed, within what the input holds ---------------------------------------
def test_a_same_pool_far_larger_than_the_image_loads_and_predicts_at_once(tmp_path, rng):
    x = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
    for make, expected in ((lambda: L.MaxPooling2D(2, padding="same"), x.max(axis=(1, 2), keepdims=True)),
                           (lambda: L.AveragePooling2D(2, padding="same"), x.mean(axis=(1, 2), keepdims=True))):
        _, path = _saved(tmp_path, make, (8, 8, 3))
        rewrite_config(path, lambda meta: meta["model"]["layers"][-1]["config"].update(
            pool_size=[10 ** 5, 10 ** 5], strides=[10 ** 5, 10 ** 5]))
        with within(20):        # 10**10 window offsets looped before
            out = gn.load_model(path).predict(x, verbose=0)
        np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


def _reference_pool(x, pool, strides, kind):
    """TensorFlow's "same" pooling window by window: the input pixels each window covers."""
    n, *sizes, c = x.shape
    outs = [-(-size // s) for size, s in zip(sizes, strides)]
    befores = [max((o - 1) * s + p - size, 0) // 2 for size, p, s, o in zip(sizes, pool, strides, outs)]
    out = np.empty((n, *outs, c))
    for index in np.ndindex(*outs):
        box = tuple(slice(max(i * s - b, 0), max(i * s - b + p, 0)) for i, s, b, p in zip(index, strides, befores, pool))
        window = x[(slice(None), *box)].reshape(n, -1, c)
        out[(slice(None), *index)] = window.max(axis=1) if kind == "max" else window.mean(axis=1)
    return out


@pytest.mark.parametrize("cls, kind", [(L.MaxPooling2D, "max"), (L.AveragePooling2D, "avg")])
@pytest.mark.parametrize("pool, strides", [((13, 4), (1, 1)), ((13, 30), (2, 3)), ((40, 2), (40, 1))])
def test_same_pools_larger_than_the_input_match_the_window_by_window_values_and_gradients(cls, kind, pool, strides, rng):
    n = 2 * 5 * 6 * 2
    x = ((rng.permutation(n) * 1e-2 + rng.uniform(-1e-3, 1e-3, n)).reshape(2, 5, 6, 2) - n * 5e-3)
    layer = cls(pool, strides, "same", dtype="float64")
    np.testing.assert_allclose(layer(x), _reference_pool(x, pool, strides, kind), rtol=1e-12)
    check_layer(cls(pool, strides, "same", dtype="float64"), x)


def test_huge_same_pools_match_keras(keras, rng):
    x = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
    for ours, theirs, settings in ((L.MaxPooling2D, keras.layers.MaxPooling2D, dict(pool_size=10 ** 5)),
                                   (L.AveragePooling2D, keras.layers.AveragePooling2D,
                                    dict(pool_size=(10 ** 5, 3), strides=(2, 2)))):
        expected = np.asarray(theirs(padding="same", **settings)(x))
        with within(20):
            np.testing.assert_allclose(ours(padding="same", **settings)(x), expected, rtol=1e-6, atol=1e-6)


def test_adaptive_pooling_to_more_outputs_than_inputs_loops_per_distinct_window(keras, rng):
    x = rng.standard_normal((2, 8, 3)).astype(np.float32)
    with within(20):         # 10**6 windows looped in Python before
        y = L.AdaptiveMaxPooling1D(10 ** 6)(x)
    assert y.shape == (2, 10 ** 6, 3)
    np.testing.assert_array_equal(y[:, ::125_000], x)             # each input pixel's run starts so
    for ours, theirs in ((L.AdaptiveMaxPooling1D, keras.layers.AdaptiveMaxPooling1D),
                         (L.AdaptiveAveragePooling1D, keras.layers.AdaptiveAveragePooling1D)):
        np.testing.assert_allclose(ours(37)(x), np.asarray(theirs(37)(x)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("cls", [L.AdaptiveMaxPooling2D, L.AdaptiveAveragePooling2D])
def test_adaptive_pooling_to_more_outputs_than_inputs_gradients(cls, torch, rng):
    n = 2 * 3 * 4 * 2
    x = ((rng.permutation(n) * 1e-2 + rng.uniform(-1e-3, 1e-3, n)).reshape(2, 3, 4, 2) - n * 5e-3)
    check_layer(cls((7, 9), dtype="float64"), x)
    layer = cls((7, 9), dtype="float64")
    out = layer(x)
    grad = rng.standard_normal(out.shape)
    dx = layer.backward(grad)
    t = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    pool = torch.nn.functional.adaptive_max_pool2d if cls is L.AdaptiveMaxPooling2D else \
        torch.nn.functional.adaptive_avg_pool2d
    y = pool(t, (7, 9))
    y.backward(torch.tensor(grad.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(out, y.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-12)
    np.testing.assert_allclose(dx, t.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-12)


# -- ordinary models, and settings near realistic maxima, still work -----------------------------------
def test_settings_near_realistic_maxima_still_work(tmp_path):
    image = np.linspace(0, 1, 224 * 224 * 3, dtype=np.float32).reshape(1, 224, 224, 3)
    for make, out_shape in ((lambda: L.UpSampling2D(8), (1792, 1792, 3)),
                            (lambda: L.UpSampling2D(4, interpolation="bilinear"), (896, 896, 3)),
                            (lambda: L.Resizing(1024, 1024), (1024, 1024, 3)),
                            (lambda: L.ZeroPadding2D(400), (1024, 1024, 3))):
        _, path = _saved(tmp_path, make, (224, 224, 3))
        assert gn.load_model(path).predict(image, verbose=0).shape == (1, *out_shape)
    # a VGG-like first block on 224 x 224 images, dilated convolutions, an audio front end
    gn.Sequential([L.Input((224, 224, 3)), L.Conv2D(64, 3, padding="same"), L.Conv2D(64, 3, padding="same"),
                   L.MaxPooling2D(), L.Conv2D(128, 3, padding="same", dilation_rate=8),
                   L.Conv2DTranspose(64, 3, strides=2, padding="same"), L.Equalization(bins=65536)], seed=0)
    gn.Sequential([L.Input((16000,)), L.MelSpectrogram(num_mel_bins=256, fft_length=4096, sequence_stride=160)],
                  seed=0)
    gn.Sequential([L.Input((3,)), L.CategoryEncoding(1_000_000), L.Dense(2)], seed=0)
    gn.Sequential([L.Input((512,)), L.RepeatVector(4096)], seed=0)      # 2**21 numbers a sample
