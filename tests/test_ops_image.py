"""glassnet.ops.image's resize, pad_images, crop_images, affine_transform, map_coordinates,
rgb_to_grayscale, rgb_to_hsv, hsv_to_rgb and gaussian_blur against Keras 3.15's keras.ops.image
(TensorFlow) on random images over fuzzed arguments (float32, float64, uint8; batched and single;
channels last and first); their tensor forms (Resizing, ZeroPadding2D, Cropping2D nodes) against
float64 finite differences; bad arguments refused by name."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from glassnet.gradcheck import check_layer

DTYPES = ("float32", "float64", "uint8")


def _images(rng, shape, dtype):
    if dtype == "uint8":
        return rng.integers(0, 256, shape).astype(np.uint8)
    return rng.uniform(-1, 2, shape).astype(dtype)


def _close(ours, theirs, dtype, rtol=None, atol=None):
    theirs = np.asarray(theirs)
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    if dtype == "uint8":        # float32 sums rounded: a half may fall either way
        assert np.abs(ours.astype(int) - theirs.astype(int)).max(initial=0) <= 1
    else:
        np.testing.assert_allclose(ours, theirs, rtol=rtol or 2e-5, atol=atol or 2e-5)


def _layout(rng, image, data_format):
    """An (n, H, W, C) batch as one image or a batch, channels last or first."""
    single = rng.random() < 0.3
    x = image[0] if single else image
    if data_format == "channels_first":
        x = np.ascontiguousarray(np.moveaxis(x, -1, 0 if single else 1))
    return x


def test_resize_matches_keras_over_fuzzed_arguments(keras, rng):
    cases = 0
    for _ in range(160):
        dtype = DTYPES[rng.integers(3)]
        interpolation = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5")[rng.integers(6)]
        data_format = ("channels_last", "channels_first", None)[rng.integers(3)]
        h, w, c = rng.integers(1, 12, 2).tolist() + [int(rng.integers(1, 4))]
        size = tuple(rng.integers(1, 15, 2).tolist())
        aspect = rng.integers(3)
        kwargs = dict(interpolation=interpolation, antialias=bool(rng.random() < 0.4),
                      crop_to_aspect_ratio=aspect == 1, pad_to_aspect_ratio=aspect == 2,
                      fill_value=int(rng.integers(0, 5)), data_format=data_format)
        if dtype != "uint8":        # (Keras pads uint8 images with an int fill only)
            kwargs["fill_value"] = float(kwargs["fill_value"]) + 0.5
        x = _layout(rng, _images(rng, (2, h, w, c), dtype), data_format or "channels_last")
        ours = ops.image.resize(x, size, **kwargs)
        theirs = keras.ops.image.resize(x, size, **kwargs)
        # float64 images: Keras resizes in float32 and casts back (glassnet in float64)
        _close(ours, theirs, dtype, rtol=1e-5, atol=3e-5 if dtype != "float32" else 2e-5)
        cases += 1
    assert cases == 160


def test_pad_and_crop_images_match_keras(keras, rng):
    for _ in range(80):
        dtype = DTYPES[rng.integers(3)]
        data_format = ("channels_last", "channels_first")[rng.integers(2)]
        h, w = rng.integers(2, 9, 2).tolist()
        x = _layout(rng, _images(rng, (2, h, w, 2), dtype), data_format)
        a, b = rng.integers(0, 3, 2).tolist()
        c, d = rng.integers(0, 3, 2).tolist()
        drop = rng.integers(3, size=2)                   # which of the three to leave out, per axis
        pad = [a, b, h + a + b]
        pad_w = [c, d, w + c + d]
        pad[drop[0]], pad_w[drop[1]] = None, None
        kw = dict(top_padding=pad[0], bottom_padding=pad[1], target_height=pad[2], left_padding=pad_w[0],
                  right_padding=pad_w[1], target_width=pad_w[2], data_format=data_format)
        _close(ops.image.pad_images(x, **kw), keras.ops.image.pad_images(x, **kw), dtype, 0, 0)
        a, b = min(a, h - 1), min(b, h - 1 - min(a, h - 1))
        c, d = min(c, w - 1), min(d, w - 1 - min(c, w - 1))
        crop, crop_w = [a, b, h - a - b], [c, d, w - c - d]
        crop[drop[0]], crop_w[drop[1]] = None, None
        kw = dict(top_cropping=crop[0], bottom_cropping=crop[1], target_height=crop[2], left_cropping=crop_w[0],
                  right_cropping=crop_w[1], target_width=crop_w[2], data_format=data_format)
        _close(ops.image.crop_images(x, **kw), keras.ops.image.crop_images(x, **kw), dtype, 0, 0)


def test_affine_transform_matches_keras(keras, rng):
    for _ in range(100):
        dtype = DTYPES[rng.integers(3)]
        data_format = ("channels_last", "channels_first")[rng.integers(2)]
        h, w = rng.integers(1, 10, 2).tolist()
        x = _layout(rng, _images(rng, (2, h, w, 3), dtype), data_format)
        n = 1 if x.ndim == 3 else 2
        transform = np.concatenate([rng.normal(0, 0.4, (n, 8)) + [1, 0, 0, 0, 1, 0, 0, 0]], 0)
        transform[:, [2, 5]] = rng.normal(0, 3, (n, 2))
        transform[:, 6:] *= rng.random() < 0.5 and 0.1         # affine or a little projective
        transform = transform.astype(np.float32)
        if n == 1 and rng.random() < 0.5:
            transform = transform[0]
        kw = dict(interpolation=("bilinear", "nearest")[rng.integers(2)],
                  fill_mode=("constant", "nearest", "wrap", "reflect")[rng.integers(4)],
                  fill_value=float(rng.integers(0, 3)), data_format=data_format)
        ours = ops.image.affine_transform(x, transform, **kw)
        theirs = keras.ops.image.affine_transform(x, transform, **kw)
        _close(ours, theirs, dtype, rtol=1e-4, atol=1e-4)


def test_map_coordinates_matches_keras(keras, rng):
    compared = 0
    for _ in range(80):
        dtype = DTYPES[rng.integers(3)]
        shape = tuple(rng.integers(2, 7, rng.integers(1, 4)).tolist())
        x = _images(rng, shape, dtype)
        coords = rng.uniform(-8, max(shape) + 8, (len(shape), 5, 4)).astype(("float32", "float64")[rng.integers(2)])
        order = int(rng.integers(2))
        fill_mode = ("constant", "nearest", "wrap", "mirror", "reflect")[rng.integers(5)]
        fill_value = float(rng.integers(0, 3))
        ours = ops.image.map_coordinates(x, coords, order, fill_mode, fill_value)
        try:
            theirs = keras.ops.image.map_coordinates(x, coords, order, fill_mode, fill_value)
        except Exception as error:
            # Keras' "mirror" maps an index 2k * size away to size itself, which TensorFlow's gather
            # refuses (glassnet reads the edge there)
            assert fill_mode == "mirror" and "does not index" in str(error)
            continue
        _close(ours, theirs, dtype, rtol=1e-5, atol=1e-5)
        compared += 1
    assert compared > 60


def test_colour_functions_match_keras(keras, rng):
    for _ in range(60):
        dtype = ("float32", "float64")[rng.integers(2)]
        data_format = ("channels_last", "channels_first")[rng.integers(2)]
        rgb = _layout(rng, rng.random((2, 4, 5, 3)).astype(dtype), data_format)
        rgb.flat[:6] = 0.5                                   # gray and equal channels: the ties
        for name in ("rgb_to_grayscale", "rgb_to_hsv", "hsv_to_rgb"):
            ours = getattr(ops.image, name)(rgb, data_format=data_format)
            _close(ours, getattr(keras.ops.image, name)(rgb, data_format=data_format), dtype, 1e-5, 1e-6)
    x = rng.integers(0, 256, (2, 3, 4, 3)).astype(np.uint8)    # integers: float32 sums, truncated
    _close(ops.image.rgb_to_grayscale(x), keras.ops.image.rgb_to_grayscale(x), "uint8")
    one = rng.random((3, 4, 1)).astype("float32")
    np.testing.assert_array_equal(ops.image.rgb_to_grayscale(one), keras.ops.image.rgb_to_grayscale(one))


def test_hsv_round_trip():
    rgb = np.random.default_rng(0).random((3, 5, 5, 3))
    np.testing.assert_allclose(ops.image.hsv_to_rgb(ops.image.rgb_to_hsv(rgb)), rgb, atol=1e-12)


def test_gaussian_blur_matches_keras(keras, rng):
    for _ in range(60):
        dtype = ("float32", "float64")[rng.integers(2)]
        data_format = ("channels_last", "channels_first")[rng.integers(2)]
        h, w = rng.integers(1, 9, 2).tolist()
        x = _layout(rng, rng.normal(size=(2, h, w, 2)).astype(dtype), data_format)
        k = int(rng.integers(1, 6))
        sigma = tuple(rng.uniform(0.3, 3, 2).tolist())
        ours = ops.image.gaussian_blur(x, (k, k), sigma, data_format=data_format)
        theirs = keras.ops.image.gaussian_blur(x, (k, k), sigma, data_format=data_format)
        _close(ours, theirs, dtype, 1e-5, 1e-6)


@pytest.mark.parametrize("make, sample", [
    (lambda t: ops.image.resize(t, (7, 3)), (4, 5, 2)),
    (lambda t: ops.image.resize(t, (3, 4), "bicubic", antialias=True, crop_to_aspect_ratio=True), (6, 5, 2)),
    (lambda t: ops.image.resize(t, (4, 4), "nearest", pad_to_aspect_ratio=True), (3, 5, 1)),
    (lambda t: ops.image.pad_images(t, 1, 2, target_height=6, target_width=8), (3, 5, 2)),
    (lambda t: ops.image.crop_images(t, 1, 0, target_height=2, right_cropping=2), (4, 5, 2)),
])
def test_tensor_forms_predict_as_arrays_and_pass_gradients(make, sample, rng):
    inputs = gn.Input(sample)
    model = gn.Model(inputs, make(inputs), dtype="float64")
    x = rng.normal(size=(2, *sample))
    np.testing.assert_allclose(model.predict(x, verbose=0), make(x), rtol=1e-12, atol=1e-12)
    layer = model.layers[-1]
    check_layer(layer, x)                      # its backward against float64 central differences


def test_tensor_resize_trains_in_a_model(rng):
    inputs = gn.Input((6, 6, 1))
    h = ops.image.resize(inputs, (3, 3), "area")
    out = gn.layers.Dense(1)(gn.layers.Flatten()(h))
    model = gn.Model(inputs, out, dtype="float64", seed=0)
    model.compile(loss="mse", optimizer="sgd")
    report = gn.gradcheck.check_model(model, rng.normal(size=(4, 6, 6, 1)), rng.normal(size=(4, 1)))
    assert report is None or report


@pytest.mark.parametrize("call, words", [
    (lambda x: ops.image.resize(x, (0, 3)), "size"),
    (lambda x: ops.image.resize(x, (3,)), "size"),
    (lambda x: ops.image.resize(x, (3, 3), "cubic"), "interpolation"),
    (lambda x: ops.image.resize(x, (3, 3), fill_mode="reflect"), "fill_mode"),
    (lambda x: ops.image.resize(x, (3, 3), crop_to_aspect_ratio=True, pad_to_aspect_ratio=True), "pad_to_aspect"),
    (lambda x: ops.image.resize(x[0, 0], (3, 3)), "images"),
    (lambda x: ops.image.resize(x, (3, 3), data_format="nhwc"), "data_format"),
    (lambda x: ops.image.pad_images(x, 1, 1), "target_height"),
    (lambda x: ops.image.pad_images(x, 1, 1, 1, 1, target_height=3, target_width=9), "top_padding"),
    (lambda x: ops.image.pad_images(x, 4, 0, target_height=3, target_width=9), "bottom_padding"),
    (lambda x: ops.image.pad_images(x, -1, 0, 0, 0), "top_padding"),
    (lambda x: ops.image.crop_images(x, 1, 1, target_height=9, target_width=2), "target_height"),
    (lambda x: ops.image.crop_images(x, 1.5, 1, 0, 0), "top_cropping"),
    (lambda x: ops.image.affine_transform(x, np.zeros(6)), "transform"),
    (lambda x: ops.image.affine_transform(x, np.zeros((3, 8))), "transform"),
    (lambda x: ops.image.affine_transform(x, np.zeros(8), fill_mode="mirror"), "fill_mode"),
    (lambda x: ops.image.affine_transform(x, np.zeros(8), "bicubic"), "interpolation"),
    (lambda x: ops.image.map_coordinates(x, np.zeros((3, 2)), 1), "coordinates"),
    (lambda x: ops.image.map_coordinates(x, np.zeros((4, 2)), 3), "order"),
    (lambda x: ops.image.map_coordinates(x, np.zeros((4, 2)), 1, "edge"), "fill_mode"),
    (lambda x: ops.image.rgb_to_grayscale(x[..., :2]), "channels"),
    (lambda x: ops.image.rgb_to_hsv(x.astype(np.uint8)), "floats"),
    (lambda x: ops.image.hsv_to_rgb(x[..., :1]), "channels"),
    (lambda x: ops.image.gaussian_blur(x, (3, 5)), "square"),
    (lambda x: ops.image.gaussian_blur(x, (3, 3), (0.0, 1.0)), "sigma"),
    (lambda x: ops.image.gaussian_blur(x, 3), "kernel_size"),
    (lambda x: ops.image.gaussian_blur(x.astype(np.int32)), "floats"),
    (lambda x: ops.image.rgb_to_hsv(gn.Input((3, 3, 3))), "tensor"),
    (lambda x: ops.image.resize(gn.Input((3, 3, 3)), (2, 2), data_format="channels_first"), "channels last"),
    (lambda x: ops.image.pad_images(gn.Input((None, 3, 3)), 1, 1, 1, 1), "known height"),
])
def test_bad_arguments_are_refused_by_name(call, words):
    x = np.zeros((2, 3, 4, 3), "float32")
    with pytest.raises((ValueError, TypeError), match=words):
        call(x)
