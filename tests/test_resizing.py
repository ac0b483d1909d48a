"""Resizing and CenterCrop: outputs against Keras 3.15 (TensorFlow's resize) over random sizes,
interpolations and aspect-ratio modes, gradients by finite differences, inside a model, and their
errors. The layer contract is in test_layer_contract.py."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer
from glassnet.layers import CenterCrop, Resizing
from glassnet.layers.resizing import bilinear_weights, nearest_weights


def test_resizing_and_center_crop_match_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    for _ in range(120):
        h, w, th, tw = (int(v) for v in rng.integers(1, 20, 4))
        mode = int(rng.integers(0, 3))
        settings = dict(interpolation=str(rng.choice(["bilinear", "nearest"])), crop_to_aspect_ratio=mode == 1,
                        pad_to_aspect_ratio=mode == 2, fill_value=0.5 if mode == 2 else 0.0)
        x = rng.normal(size=(2, h, w, 2)).astype(np.float32)
        ours, theirs = Resizing(th, tw, **settings)(x), np.asarray(keras.layers.Resizing(th, tw, **settings)(x))
        np.testing.assert_allclose(ours, theirs, atol=2e-6, err_msg=f"{(h, w)} -> {(th, tw)} {settings}")
        np.testing.assert_allclose(CenterCrop(th, tw)(x), np.asarray(keras.layers.CenterCrop(th, tw)(x)), atol=2e-6,
                                   err_msg=f"{(h, w)} -> {(th, tw)}")


def test_the_weights_are_tensorflow_s_positions():
    assert bilinear_weights(2, 4).tolist() == [[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]]   # no antialiasing
    # 5.5 * 26 / 11 is 13: in float32 the position is 12.99999..., and TensorFlow reads pixel 12
    assert nearest_weights(11, 26)[5].argmax() == 12
    assert nearest_weights(4, 8).argmax(axis=1).tolist() == [1, 3, 5, 7]


@pytest.mark.parametrize("layer, shape", [
    (lambda: Resizing(5, 7, dtype="float64"), (3, 4, 2)),
    (lambda: Resizing(2, 3, interpolation="nearest", dtype="float64"), (5, 4, 1)),
    (lambda: Resizing(4, 4, crop_to_aspect_ratio=True, dtype="float64"), (6, 3, 2)),
    (lambda: Resizing(4, 4, pad_to_aspect_ratio=True, fill_value=1.0, dtype="float64"), (6, 3, 2)),
    (lambda: CenterCrop(3, 3, dtype="float64"), (5, 6, 2)),
    (lambda: CenterCrop(6, 3, dtype="float64"), (4, 5, 1))], ids=range(6))
def test_gradients_agree_with_finite_differences(layer, shape, rng):
    report = check_layer(layer(), rng.normal(size=(2, *shape)))
    assert report["max_error"] < 1e-6 and "input" in report["errors"]


def test_inside_a_model_the_summary_fit_and_files_know_the_new_size(rng, tmp_path):
    x, y = rng.uniform(size=(16, 12, 9, 1)), rng.integers(0, 2, 16)
    model = gn.Sequential([gn.Input((12, 9, 1)), Resizing(8, 8, crop_to_aspect_ratio=True), CenterCrop(6, 6),
                           gn.layers.Conv2D(2, 3), gn.layers.Flatten(), gn.layers.Dense(1, activation="sigmoid")], seed=0)
    lines = []
    model.summary(print_fn=lines.append)
    assert "(None, 8, 8, 1)" in "\n".join(lines) and "(None, 6, 6, 1)" in "\n".join(lines)
    model.compile(loss="binary_crossentropy", optimizer="adam")
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "r.npz")
    loaded = gn.load_model(tmp_path / "r.npz")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.layers[1].get_config() == model.layers[1].get_config()
    assert {k: v for k, v in model.layers[1].get_config().items() if k != "input_shape"} == {
        "name": "center_crop", "height": 6, "width": 6}


@pytest.mark.parametrize("make, message", [
    (lambda: Resizing(0, 4), r"Resizing: height must be a positive integer, got 0"),
    (lambda: Resizing(2, 2)(np.ones((1, 0, 3, 1))), r"layer Resizing: expected images of at least one pixel and channel"),
    (lambda: Resizing(4, 4, interpolation="gaussian"), r"Resizing: interpolation must be one of \['bilinear', 'nearest', 'bicubic', 'area', 'lanczos3', 'lanczos5'\], got 'gaussian'"),
    (lambda: Resizing(4, 4, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True), r"give crop_to_aspect_ratio or pad_to_aspect_ratio, not both"),
    (lambda: Resizing(4, 4, fill_mode="reflect"), r"Resizing: fill_mode must be 'constant'"),
    (lambda: CenterCrop(2, 2)(np.ones((1, 4, 4))), r"layer CenterCrop: expected input of shape \(batch, height, width, channels\)"),
], ids=range(6))
def test_bad_arguments_are_refused_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_large_resizes_place_their_samples_as_tensorflow_does(rng):
    # float32 positions, TensorFlow's: with float64 ones 0-255 images were 0.02 apart after 1000 -> 299
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.uniform(0, 255, size=(1, 1000, 64, 1)).astype(np.float32)
    for settings in (dict(), dict(pad_to_aspect_ratio=True), dict(crop_to_aspect_ratio=True)):
        np.testing.assert_allclose(Resizing(299, 37, **settings)(x), np.asarray(keras.layers.Resizing(299, 37, **settings)(x)),
                                   atol=2e-3, err_msg=str(settings))


def test_an_infinite_pixel_stays_local(rng):
    from glassnet.layers import UpSampling2D
    image = np.zeros((1, 8, 8, 1), np.float32)
    image[0, 0, 0, 0] = np.inf
    for layer, most in ((Resizing(16, 16), 9), (Resizing(16, 16, interpolation="nearest"), 4), (Resizing(4, 4), 1),
                        (UpSampling2D(2, interpolation="bilinear"), 9), (CenterCrop(10, 10), 9)):
        out = layer(image)
        assert 1 <= (~np.isfinite(out)).sum() <= most and not np.isnan(out).any(), type(layer).__name__
    layer = Resizing(4, 4, dtype="float64")
    out = layer(np.zeros((1, 8, 8, 1)))
    grad = np.zeros_like(out)
    grad[0, 0, 0, 0] = np.inf
    assert (~np.isfinite(layer.backward(grad))).sum() <= 4


def test_predict_chunks_count_the_resize_s_working_arrays():
    # the rows' product is (height, old width): 1000 x 1000 for a (10, 1000) image made (1000, 10)
    assert Resizing(1000, 10).numbers_per_sample((10, 1000, 1)) == 1000 * 1000
    assert Resizing(200, 2, pad_to_aspect_ratio=True).numbers_per_sample((2, 200, 1)) >= 200 * 200
    assert CenterCrop(4, 4).numbers_per_sample((9, 9, 3)) == 48


def test_center_crop_takes_none_of_resizing_s_settings():
    # accepted and acted on, then left out of its config: a saved model predicted otherwise
    with pytest.raises(TypeError, match=r"CenterCrop: unexpected keyword argument 'interpolation'; CenterCrop takes height, width, data_format and, like every layer, name"):
        CenterCrop(2, 2, interpolation="nearest")


# -- RandomCrop ------------------------------------------------------------------------------------
def test_random_crop_cuts_a_window_per_image_reaching_every_position(rng):
    from glassnet.layers import RandomCrop
    x = rng.normal(size=(200, 5, 6, 2)).astype(np.float32)
    layer = RandomCrop(3, 4, seed=0)
    out = layer(x, training=True)
    assert out.shape == (200, 3, 4, 2) and out.dtype == np.float32
    seen = set()
    for i in range(len(x)):
        found = [(t, l) for t in range(3) for l in range(3) if np.array_equal(out[i], x[i, t:t + 3, l:l + 4])]
        assert len(found) == 1, i
        seen.add(found[0])
    assert seen == {(t, l) for t in range(3) for l in range(3)}          # every window, each image its own


def test_random_crop_backward_puts_the_gradient_where_the_window_was(rng):
    from glassnet.layers import RandomCrop
    layer = RandomCrop(2, 3, seed=1, dtype="float64")
    x = rng.normal(size=(4, 4, 5, 1))
    out = layer(x, training=True)
    grad = layer.backward(np.ones_like(out))
    # each image's gradient is 1 on exactly its window: the output is x there
    np.testing.assert_array_equal((grad * x).sum(axis=(1, 2, 3)), out.sum(axis=(1, 2, 3)))
    assert grad.sum() == out.size
    fresh = RandomCrop(2, 3, seed=1, dtype="float64")
    check = check_layer(fresh, x, training=True, before_forward=lambda: setattr(fresh, "rng", np.random.default_rng(5)))
    assert check["max_error"] < 1e-6


def test_random_crop_outside_training_is_keras_smart_resize(rng):
    from glassnet.layers import RandomCrop
    for shape in [(8, 6), (5, 5), (3, 9), (2, 2)]:
        x = rng.normal(size=(2, *shape, 3)).astype(np.float32)
        expected = Resizing(4, 4, crop_to_aspect_ratio=True)(x)
        np.testing.assert_array_equal(RandomCrop(4, 4, seed=0)(x, training=False), expected)
        if shape[0] < 4 or shape[1] < 4:      # smaller than the window: the same in training
            np.testing.assert_array_equal(RandomCrop(4, 4, seed=0)(x, training=True), expected)
    same = rng.normal(size=(2, 4, 4, 1)).astype(np.float32)
    assert RandomCrop(4, 4)(same, training=False) is not None and np.array_equal(RandomCrop(4, 4)(same, training=False), same)


def test_random_crop_inference_matches_keras_documented_rule(rng):
    """Keras' smart_resize, the rule its RandomCrop documents for inference (Keras 3.15 returns the
    images uncropped there, against its own output shape)."""
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    from glassnet.layers import RandomCrop
    x = rng.normal(size=(2, 9, 7, 2)).astype(np.float32)
    expected = np.asarray(keras.preprocessing.image.smart_resize(x, (4, 5)))
    np.testing.assert_allclose(RandomCrop(4, 5)(x, training=False), expected, atol=2e-6)


def test_random_crop_in_a_model_trains_reproducibly_and_resumes_from_a_file(rng, tmp_path):
    from glassnet.layers import RandomCrop
    x, y = rng.normal(size=(16, 6, 6, 1)).astype(np.float32), rng.integers(0, 2, 16)

    def model():
        m = gn.Sequential([RandomCrop(4, 4, input_shape=(6, 6, 1)), gn.layers.Flatten(),
                           gn.layers.Dense(2, activation="softmax")], seed=3)
        m.compile("sparse_categorical_crossentropy", "adam")
        return m

    a, b = model(), model()
    for m in (a, b):
        m.fit(x, y, epochs=2, batch_size=4, verbose=0)
    np.testing.assert_array_equal(a.predict(x), b.predict(x))
    a.save(tmp_path / "crop.npz")
    loaded = gn.load_model(tmp_path / "crop.npz")
    for m in (a, loaded):
        m.fit(x, y, epochs=1, batch_size=4, verbose=0)
    np.testing.assert_array_equal(a.predict(x), loaded.predict(x))


def test_random_crop_arguments_and_config():
    from glassnet.layers import RandomCrop
    with pytest.raises(ValueError, match="RandomCrop: height"):
        RandomCrop(0, 3)
    with pytest.raises(ValueError, match="RandomCrop: width"):
        RandomCrop(3, 2.5)
    layer = RandomCrop(3, 4, 7)                    # Keras' positional order: height, width, seed
    assert layer.get_config()["seed"] == 7
    again = RandomCrop.from_config(layer.get_config())
    x = np.arange(60.0).reshape(1, 5, 6, 2)
    np.testing.assert_array_equal(again(x, training=True), RandomCrop(3, 4, 7)(x, training=True))


def test_random_crop_margins_of_their_own_per_axis_and_an_equal_axis(rng):
    from glassnet.layers import RandomCrop
    x = rng.normal(size=(300, 7, 10, 1)).astype(np.float32)
    out = RandomCrop(3, 4, seed=0)(x, training=True)
    seen = {next((t, l) for t in range(5) for l in range(7) if np.array_equal(out[i], x[i, t:t + 3, l:l + 4]))
            for i in range(len(x))}
    assert seen == {(t, l) for t in range(5) for l in range(7)}
    # an axis the size of the window: no choice along it, still a random crop along the other
    out = RandomCrop(7, 4, seed=0)(x, training=True)
    lefts = {next(l for l in range(7) if np.array_equal(out[i], x[i, :, l:l + 4])) for i in range(len(x))}
    assert lefts == set(range(7))


def test_random_crop_resize_path_gradient_and_memory_estimate(rng):
    from glassnet.layers import RandomCrop
    layer = RandomCrop(4, 5, seed=0, dtype="float64")
    x = rng.normal(size=(2, 3, 8, 2))                 # shorter than the window: resized, in training too
    assert check_layer(layer, x, training=True)["max_error"] < 1e-6
    # predict's chunks: the largest array of the inference resize, not only the output
    assert RandomCrop(4, 5).numbers_per_sample((30, 40, 2)) == Resizing(4, 5, crop_to_aspect_ratio=True).numbers_per_sample((30, 40, 2))
    assert RandomCrop(4, 5).numbers_per_sample((30, 40, 2)) > 4 * 5 * 2
    same = rng.normal(size=(1, 4, 5, 1))
    out = RandomCrop(4, 5)(same)
    out[...] = 0
    assert same.any()                                 # a copy, not the caller's array
