"""TensorFlow's other resizes ("bicubic", "area", "lanczos3", "lanczos5", "gaussian",
"mitchellcubic", and antialias): the per-axis weights against the ones TensorFlow itself applies,
Resizing, UpSampling2D, smart_resize and image_dataset_from_directory against Keras 3.15, float64,
gradients by finite differences and by the transpose, a model that trains and reloads, and the
names refused."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer
from glassnet.layers import Resizing, UpSampling2D
from glassnet.layers.resizing import FOLDER_INTERPOLATIONS, INTERPOLATIONS, axis_weights, resize, resize_backward

# (input length, output length): whole and fractional factors, up and down, odd lengths, one pixel
LENGTHS = [(4, 8), (4, 12), (12, 4), (12, 3), (7, 10), (10, 7), (5, 13), (13, 5), (1, 5), (5, 1), (1, 1), (9, 9),
           (3, 26), (26, 3)]
# weights TensorFlow computes with a sine (lanczos) or divides by its scale once for both axes
# (area) agree to an ulp or two of float32; the others bit for bit
ULPS = {"area": 1.2e-7, "lanczos3": 2.4e-7, "lanczos5": 2.4e-7}


def tf_weights(tf, out_len, in_len, interpolation, antialias):
    """The (out_len, in_len) weights tf.image.resize applies along the height: the resize of
    in_len one-pixel-wide images, each a unit impulse in its own channel (each output a single
    weight times 1: exact)."""
    impulses = np.eye(in_len, dtype=np.float32).reshape(1, in_len, 1, in_len)
    resized = tf.image.resize(impulses, (out_len, 1), method=interpolation, antialias=antialias)
    return np.asarray(resized)[0, :, 0, :].astype(np.float64)


@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize("interpolation", FOLDER_INTERPOLATIONS)
def test_axis_weights_are_tensorflows(keras, interpolation, antialias):
    import tensorflow as tf
    for in_len, out_len in LENGTHS:
        ours = axis_weights(interpolation, out_len, in_len, antialias)
        theirs = tf_weights(tf, out_len, in_len, interpolation, antialias)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=ULPS.get(interpolation, 0),
                                   err_msg=f"{in_len} -> {out_len}")


def test_the_kernels_themselves():
    # worked by hand: a 2x area downsizing averages pairs; bicubic upsizing by 2, output 3 at input
    # position 3.5 / 2 - 0.5 = 1.25, reads pixels 0-3 at distances 1.25, 0.25, 0.75, 1.75: Keys'
    # cubic (a = -0.5) there is -0.0703125, 0.8671875, 0.2265625, -0.0234375
    assert axis_weights("area", 2, 4).tolist() == [[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]]
    np.testing.assert_allclose(axis_weights("bicubic", 8, 4)[3], [-0.0703125, 0.8671875, 0.2265625, -0.0234375],
                               atol=1e-7)
    np.testing.assert_allclose(axis_weights("bicubic", 8, 4)[4], [-0.0234375, 0.2265625, 0.8671875, -0.0703125],
                               atol=1e-7)
    # every row sums to 1 (a flat image stays flat), for every kernel, up and down
    for interpolation in FOLDER_INTERPOLATIONS:
        for antialias in (False, True):
            for in_len, out_len in LENGTHS:
                np.testing.assert_allclose(axis_weights(interpolation, out_len, in_len, antialias).sum(axis=1), 1,
                                           atol=1e-6, err_msg=f"{interpolation} {in_len} -> {out_len}")
    # antialias widens the kernel when downsizing only: more taps down, the same weights up
    assert (axis_weights("lanczos3", 3, 12, True) != 0).sum() > (axis_weights("lanczos3", 3, 12) != 0).sum()
    np.testing.assert_array_equal(axis_weights("lanczos3", 12, 3, True), axis_weights("lanczos3", 12, 3))
    np.testing.assert_array_equal(axis_weights("area", 3, 12, True), axis_weights("area", 3, 12))


CASES = [((8, 6), (16, 12)), ((8, 6), (4, 3)), ((9, 7), (5, 11)), ((10, 10), (7, 13)), ((1, 6), (4, 3)),
         ((5, 1), (2, 4)), ((6, 9), (1, 1)), ((13, 8), (6, 17))]


@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_resizing_matches_keras(keras, interpolation, antialias, rng):
    for k, ((h, w), (th, tw)) in enumerate(CASES):
        settings = dict(interpolation=interpolation, antialias=antialias, crop_to_aspect_ratio=k % 3 == 1,
                        pad_to_aspect_ratio=k % 3 == 2, fill_value=0.5)
        x = rng.normal(size=(2, h, w, 3)).astype(np.float32)
        ours = Resizing(th, tw, **settings)(x)
        theirs = np.asarray(keras.layers.Resizing(th, tw, **settings)(x))
        assert ours.dtype == np.float32 and ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=3e-6, err_msg=f"{(h, w)} -> {(th, tw)} {settings}")


def test_tf_image_resize_gaussian_and_mitchellcubic(keras, rng):
    # the two that only image_dataset_from_directory takes, against tf.image.resize itself
    import tensorflow as tf
    for interpolation in ("gaussian", "mitchellcubic"):
        for antialias in (False, True):
            for (h, w), (th, tw) in CASES:
                x = rng.normal(size=(2, h, w, 2)).astype(np.float32)
                ours, _ = resize(x, th, tw, interpolation, antialias=antialias)
                theirs = tf.image.resize(x, (th, tw), method=interpolation, antialias=antialias)
                np.testing.assert_allclose(ours, np.asarray(theirs), rtol=0, atol=2e-6)


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_float64_is_tensorflows_weights_in_float64(keras, interpolation, rng):
    # TensorFlow computes every resize but "nearest" in float32 and returns float32; a float64
    # Resizing mixes float64 pixels by TensorFlow's float32 weights: the same products in float64
    import tensorflow as tf
    for antialias in (False, True):
        for (h, w), (th, tw) in CASES:
            x = rng.normal(size=(2, h, w, 2))
            ours = Resizing(th, tw, interpolation=interpolation, antialias=antialias, dtype="float64")(x)
            assert ours.dtype == np.float64
            rows = tf_weights(tf, th, h, interpolation, antialias)
            columns = tf_weights(tf, tw, w, interpolation, antialias)
            exact = np.einsum("ih,nhwc,jw->nijc", rows, x, columns)
            np.testing.assert_allclose(ours, exact, rtol=0, atol=1e-10 if interpolation not in ULPS else 2e-6)
            theirs = np.asarray(tf.image.resize(x, (th, tw), method=interpolation, antialias=antialias))
            if interpolation == "nearest":      # a gather: TensorFlow keeps float64
                np.testing.assert_array_equal(ours, theirs)
            else:
                np.testing.assert_allclose(ours, theirs, rtol=0, atol=3e-6)


@pytest.mark.parametrize("interpolation", ["bicubic", "area", "lanczos3", "lanczos5"])
def test_upsampling2d_matches_keras(keras, interpolation, rng):
    for size, shape in (((2, 2), (4, 5, 2)), ((3, 1), (3, 4, 1)), ((1, 4), (1, 3, 2))):
        x = rng.normal(size=(2, *shape)).astype(np.float32)
        ours = UpSampling2D(size, interpolation=interpolation)(x)
        theirs = np.asarray(keras.layers.UpSampling2D(size, interpolation=interpolation)(x))
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=3e-6, err_msg=f"{size} {shape}")
    layer = UpSampling2D((2, 3), interpolation=interpolation, dtype="float64")
    assert check_layer(layer, rng.normal(size=(2, 4, 3, 2)))["max_error"] < 1e-6


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_smart_resize_matches_keras(keras, interpolation, rng):
    from keras.preprocessing.image import smart_resize as keras_smart_resize

    from glassnet.image_utils import smart_resize
    for shape, size in (((15, 9, 3), (8, 8)), ((2, 7, 12, 1), (10, 5)), ((1, 6, 2), (3, 3))):
        x = rng.uniform(0, 255, size=shape).astype(np.float32)
        ours, theirs = smart_resize(x, size, interpolation), np.asarray(keras_smart_resize(x, size, interpolation))
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=3e-4)     # 0-255: float32 to 1e-6


@pytest.mark.parametrize("interpolation", ["bicubic", "area", "lanczos5", "gaussian", "mitchellcubic"])
def test_image_folders_match_keras(keras, interpolation, tmp_path, rng):
    Image = pytest.importorskip("PIL.Image", reason="images are read with Pillow")
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(3):
            height, width = rng.integers(5, 30, 2)
            Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(tmp_path / name / f"{i}.png")
    settings = dict(image_size=(11, 14), batch_size=6, shuffle=False, verbose=False, interpolation=interpolation)
    ours = gn.utils.image_dataset_from_directory(tmp_path, **settings)[0][0]
    theirs = next(iter(keras.utils.image_dataset_from_directory(tmp_path, **settings)))[0]
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=0, atol=3e-4)
    if interpolation not in ("gaussian", "mitchellcubic"):      # Keras 3.15 refuses these two with the crop
        settings["crop_to_aspect_ratio"] = True
        ours = gn.utils.image_dataset_from_directory(tmp_path, **settings)[0][0]
        theirs = next(iter(keras.utils.image_dataset_from_directory(tmp_path, **settings)))[0]
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=0, atol=3e-4)


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("antialias", [False, True])
def test_gradients_by_finite_differences_and_as_the_transpose(interpolation, antialias, rng):
    for shape, (th, tw), crop in (((7, 5, 2), (4, 9), False), ((6, 9, 1), (4, 4), True), ((1, 4, 1), (3, 2), False)):
        layer = Resizing(th, tw, interpolation=interpolation, antialias=antialias, crop_to_aspect_ratio=crop,
                         dtype="float64")
        report = check_layer(layer, rng.normal(size=(2, *shape)))
        assert report["max_error"] < 1e-6 and "input" in report["errors"]
    # linear: <R x, g> = <x, R^T g> for the backward pass's R^T
    x, g = rng.normal(size=(2, 9, 6, 3)), rng.normal(size=(2, 5, 13, 3))
    out, cache = resize(x, 5, 13, interpolation, antialias=antialias)
    np.testing.assert_allclose(np.vdot(out, g), np.vdot(x, resize_backward(g, cache, x.shape)), rtol=1e-12)


def test_a_model_with_bicubic_resizing_trains_and_reloads(rng, tmp_path):
    x = rng.uniform(size=(32, 10, 10, 1)).astype(np.float32)
    y = (x[:, :5].mean(axis=(1, 2, 3)) > x[:, 5:].mean(axis=(1, 2, 3))).astype(np.float32)
    model = gn.Sequential([gn.Input((10, 10, 1)), Resizing(6, 6, interpolation="bicubic", antialias=True),
                           gn.layers.Conv2D(4, 3, activation="relu"), gn.layers.Flatten(),
                           gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.01))
    history = model.fit(x, y, epochs=30, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]
    model.save(tmp_path / "bicubic.npz")
    loaded = gn.load_model(tmp_path / "bicubic.npz")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    config = loaded.layers[0].get_config()
    assert config["interpolation"] == "bicubic" and config["antialias"] is True


def test_keras_config_with_antialias_is_read(keras):
    layer = gn.layers.deserialize(keras.layers.serialize(keras.layers.Resizing(3, 4, "lanczos3", antialias=True)))
    assert (layer.interpolation, layer.antialias) == ("lanczos3", True)


@pytest.mark.parametrize("make, message", [
    (lambda: Resizing(4, 4, interpolation="gaussian"),
     r"Resizing: interpolation must be one of \['bilinear', 'nearest', 'bicubic', 'area', 'lanczos3', 'lanczos5'\], "
     r"got 'gaussian'"),
    (lambda: Resizing(4, 4, interpolation="cubic"), r"got 'cubic'"),
    (lambda: UpSampling2D(interpolation="mitchellcubic"), r"UpSampling2D: interpolation must be one of \['nearest', "),
    (lambda: gn.utils.smart_resize(np.zeros((4, 4, 1)), (2, 2), interpolation="lanczos"),
     r"smart_resize: interpolation must be one of \['bilinear', 'nearest', 'bicubic', 'area', 'lanczos3'"),
    (lambda: gn.utils.image_dataset_from_directory(".", interpolation="hamming"),
     r"image_dataset_from_directory: interpolation must be one of \[.*'gaussian', 'mitchellcubic'\], got 'hamming'"),
])
def test_unknown_interpolations_are_refused_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_antialias_must_be_a_flag():
    with pytest.raises(TypeError, match="Resizing: antialias"):
        Resizing(4, 4, antialias="yes")
