"""RandomElasticTransform: values against Keras 3.15's layer (``transform_images``) given the draws
glassnet made (kept on ``_drawn``: which images, the scale, and the noise, handed to Keras' own
``elastic_transform`` in place of its normal draws), its sampler against Keras' ``map_coordinates``,
the differences kept (Keras' dx = dy, its TensorFlow "reflect" before the first pixel), the draws'
rule, the gradient against PyTorch's grid_sample (float64), the errors. The layer contract and
finite differences are in test_layer_contract.py."""
import os

import numpy as np
import pytest

from glassnet.gradcheck import check_layer
from glassnet.layers import RandomElasticTransform
from glassnet.layers.augmentation import affine_sample
from glassnet.layers.elastic import map_sampling


def _keras():
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return pytest.importorskip("keras", reason="Keras oracle not installed")


def _numpy_map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0.0):
    """Keras 3.15's NumPy-backend ``map_coordinates`` (its code, which imports JAX with its backend
    module): the image padded by ``fill_mode`` (reflect as ``np.pad``'s "symmetric", d c b a | a b c d),
    then SciPy's ``map_coordinates``."""
    ndimage = pytest.importorskip("scipy.ndimage")
    padding = [(max(-np.floor(c.min()).astype(int) + 1, 0), max(np.ceil(c.max()).astype(int) + 1 - size, 0))
               for c, size in zip(coordinates, inputs.shape)]
    shifted = [c + p[0] for p, c in zip(padding, coordinates)]
    pad_mode = {"nearest": "edge", "mirror": "reflect", "reflect": "symmetric"}.get(fill_mode, fill_mode)
    if fill_mode == "constant":
        padded = np.pad(inputs, padding, mode=pad_mode, constant_values=fill_value)
    else:
        padded = np.pad(inputs, padding, mode=pad_mode)
    return ndimage.map_coordinates(padded.astype(np.float32), shifted, order=order, mode=fill_mode, cval=fill_value)


def _keras_on_our_noise(monkeypatch, keras, layer, x, **settings):
    """Keras' layer on ``x`` with glassnet's draws: its two standard normal draws (dx, then dy)
    replaced by glassnet's noise; "reflect" read by Keras' NumPy ``map_coordinates`` (see
    ``test_tensorflow_reflect_mirrors_before_the_first_pixel``)."""
    tf_image = pytest.importorskip("keras.src.backend.tensorflow.image")
    drawn = layer._drawn
    fields = iter(drawn["noise"])
    monkeypatch.setattr(tf_image.tf.random, "stateless_normal",
                        lambda shape, mean, stddev, dtype, seed: tf_image.tf.constant(next(fields), dtype=dtype))
    if settings.get("fill_mode") == "reflect":
        monkeypatch.setattr(tf_image, "map_coordinates",
                            lambda *a, **k: tf_image.tf.constant(_numpy_map_coordinates(*(np.asarray(v) for v in a), **k)))
    theirs = keras.layers.RandomElasticTransform(**settings)
    transformation = {"apply_transform": drawn["apply_transform"], "distortion_factor": np.float32(drawn["distortion_factor"]),
                      "seed": keras.random.SeedGenerator(0)}
    return np.asarray(theirs.transform_images(x, transformation))


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
def test_matches_keras_for_the_same_draws(fill_mode, interpolation, rng, monkeypatch):
    keras = _keras()
    # 24 rows: sigma 0.05 s 24 >= 1 for s >= 0.84, a smoothing kernel of 7 pixels
    x = rng.uniform(0, 255, size=(6, 24, 26, 2)).astype(np.float32)
    settings = dict(factor=(0.6, 0.9), scale=(0.9, 1.0), interpolation=interpolation, fill_mode=fill_mode,
                    fill_value=40.0)
    ours = RandomElasticTransform(seed=5, **settings)      # 4 of the 6 images drawn
    out = ours(x, training=True)
    drawn = ours._drawn
    assert out.dtype == np.float32 and drawn["apply_transform"].any() and not drawn["apply_transform"].all()
    expected = _keras_on_our_noise(monkeypatch, keras, ours, x, **settings)
    moved = drawn["apply_transform"]
    assert np.abs(out[moved] - x[moved]).max() > 50
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=2e-3)
    np.testing.assert_array_equal(out[~moved], x[~moved])


@pytest.mark.parametrize("shape,scale", [((3, 9, 11, 1), 1.0), ((2, 44, 40, 3), (0.95, 1.0))], ids=["no-blur", "kernel-13"])
def test_matches_keras_for_other_sizes_and_clips_to_value_range(shape, scale, rng, monkeypatch):
    keras = _keras()
    x = rng.uniform(-0.2, 1.2, size=shape).astype(np.float32)
    settings = dict(factor=(1.0, 1.0), scale=scale, fill_mode="constant", fill_value=2.0, value_range=(0, 1))
    ours = RandomElasticTransform(seed=2, **settings)
    with pytest.warns(UserWarning, match="outside its value_range"):
        out = ours(x, training=True)
    assert out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(out, _keras_on_our_noise(monkeypatch, keras, ours, x, **settings), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
def test_sampler_matches_keras_map_coordinates(fill_mode, interpolation, rng):
    _keras()
    from keras.src.backend.tensorflow import image as tf_image
    x = rng.normal(size=(2, 6, 7, 1))
    rows = np.arange(6.0)[:, None] + rng.uniform(-4, 4, size=(2, 6, 7))       # well past every border
    cols = np.arange(7.0)[None, :] + rng.uniform(-4, 4, size=(2, 6, 7))
    ours = affine_sample(x, map_sampling(rows, cols, fill_mode, interpolation, x.dtype), 0.3)[..., 0]
    order = ["nearest", "bilinear"].index(interpolation)
    for b in range(2):
        numpy_keras = _numpy_map_coordinates(x[b, ..., 0], [rows[b], cols[b]], order, fill_mode, 0.3)
        np.testing.assert_allclose(ours[b], numpy_keras, rtol=1e-5, atol=1e-5)
        if fill_mode != "reflect":
            tf_keras = np.asarray(tf_image.map_coordinates(x[b, ..., 0], [rows[b], cols[b]], order, fill_mode, 0.3))
            np.testing.assert_allclose(ours[b], tf_keras, rtol=1e-12, atol=1e-12)


def test_tensorflow_reflect_mirrors_before_the_first_pixel():
    # the difference kept: Keras' TensorFlow map_coordinates reads pixel 1 at index -1 ("mirror"),
    # its NumPy one and glassnet pixel 0 (d c b a | a b c d, its documentation's "reflect")
    _keras()
    from keras.src.backend.tensorflow import image as tf_image
    image = np.array([[10.0, 20.0, 30.0, 40.0]])
    rows, cols = np.zeros((1, 1, 4)), np.array([[[-1.0, -2.0, 4.0, 5.0]]])
    ours = affine_sample(image[None, :, :, None], map_sampling(rows, cols, "reflect", "nearest", np.float64))[0, 0, :, 0]
    assert ours.tolist() == [10.0, 20.0, 40.0, 30.0]
    assert _numpy_map_coordinates(image, [rows[0], cols[0]], 0, "reflect").ravel().tolist() == [10.0, 20.0, 40.0, 30.0]
    assert np.asarray(tf_image.map_coordinates(image, [rows[0], cols[0]], 0, "reflect")).ravel().tolist() == [20.0, 30.0, 40.0, 30.0]


def test_keras_moves_every_pixel_along_the_diagonal_and_glassnet_does_not(rng):
    # the difference kept: Keras draws dx and dy from one seed, the same field
    keras = _keras()
    ramps = np.stack(np.meshgrid(np.arange(30.0), np.arange(30.0), indexing="xy"), axis=-1)[None]   # (x, y) per pixel
    settings = dict(factor=(1.0, 1.0), scale=(1.0, 1.0), fill_mode="nearest", value_range=(0, 29))
    theirs = np.asarray(keras.layers.RandomElasticTransform(seed=0, **settings)(ramps.astype(np.float32)))[0]
    ours = RandomElasticTransform(seed=0, **settings)(ramps, training=True)[0]
    inner = (slice(8, 22), slice(8, 22))
    moved = theirs - ramps[0]
    assert np.abs(moved[inner]).max() > 0.5
    np.testing.assert_allclose(moved[inner][..., 0], moved[inner][..., 1], atol=1e-3)         # dx = dy
    assert np.abs((ours - ramps[0])[inner][..., 0] - (ours - ramps[0])[inner][..., 1]).max() > 0.5


def test_draws_follow_keras_rule():
    keras = _keras()
    x = np.zeros((4000, 4, 5, 1), np.float32)
    for factor in (1.0, (0.2, 0.6)):
        ours = RandomElasticTransform(factor, seed=0)
        ours(x, training=True)
        theirs = keras.layers.RandomElasticTransform(factor, seed=0).get_random_transformation(x)
        assert abs(ours._drawn["apply_transform"].mean() - np.asarray(theirs["apply_transform"]).mean()) < 0.04
    assert abs(ours._drawn["apply_transform"].mean() - 0.4) < 0.03
    scales = []
    layer = RandomElasticTransform((1.0, 1.0), (0.3, 0.5), seed=1)
    for _ in range(200):
        layer(x[:2], training=True)
        scales.append(layer._drawn["distortion_factor"])
    assert 0.3 <= min(scales) < 0.32 and 0.48 < max(scales) < 0.5
    noise = layer._drawn["noise"]
    assert noise.shape == (2, 2, 4, 5) and noise.dtype == np.float32
    # an upper end of 0 leaves the images as they are: no draw, no clip (Keras' None transformation)
    images = np.full((2, 4, 5, 1), 300.0)
    for layer in (RandomElasticTransform(0.0), RandomElasticTransform(1.0, 0.0)):
        assert np.array_equal(layer(images, training=True), images) and np.array_equal(layer.backward(images), images)


@pytest.mark.parametrize("fill_mode,padding", [("constant", "zeros"), ("nearest", "border")])
def test_gradient_matches_torch_grid_sample(fill_mode, padding, rng, torch):
    x = rng.normal(size=(3, 22, 20, 2))
    layer = RandomElasticTransform((1.0, 1.0), (1.0, 1.0), fill_mode=fill_mode, fill_value=0.4, value_range=(-2, 2),
                                   seed=4, dtype="float64")
    layer.needs_input_gradient = True
    with pytest.warns(UserWarning, match="outside its value_range"):      # the clip is part of the test
        out = layer(x, training=True)
    grad_output = rng.normal(size=out.shape)
    ours = layer.backward(grad_output)
    from glassnet.layers.elastic import elastic_displacement
    factor = layer._drawn["distortion_factor"]
    dx, dy = (elastic_displacement(d, 0.1 * factor * 22, 0.05 * factor * 20) for d in layer._drawn["noise"])
    x_in, y_in = torch.arange(20.0) + torch.tensor(dx), torch.arange(22.0)[:, None] + torch.tensor(dy)
    grid = torch.stack([2 * x_in / 19 - 1, 2 * y_in / 21 - 1], dim=-1)
    images = torch.tensor(x).permute(0, 3, 1, 2).requires_grad_()
    fill = 0.4 if fill_mode == "constant" else 0.0                  # zeros padding over (image - fill), plus the fill
    sampled = torch.nn.functional.grid_sample(images - fill, grid, mode="bilinear", padding_mode=padding,
                                              align_corners=True) + fill
    theirs = sampled.permute(0, 2, 3, 1).clamp(-2, 2)
    assert np.abs(out - x).max() > 1 and np.any(np.abs(theirs.detach().numpy()) == 2)
    np.testing.assert_allclose(out, theirs.detach().numpy(), atol=1e-12)
    (theirs * torch.tensor(grad_output)).sum().backward()
    np.testing.assert_allclose(ours, images.grad.permute(0, 2, 3, 1).numpy(), atol=1e-12)


@pytest.mark.parametrize("fill_mode", ["reflect", "wrap"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_gradient_agrees_with_finite_differences_in_the_other_modes(fill_mode, interpolation):
    layer = RandomElasticTransform((0.5, 1.0), (1.0, 1.0), interpolation=interpolation, fill_mode=fill_mode,
                                   value_range=(-2, 2), dtype="float64", seed=0)
    # 12 x 14: alpha 1.4, sigma 0.6, moves of about a pixel (nearest reads other pixels)
    x = np.random.default_rng(0).uniform(-1.5, 1.5, size=(2, 12, 14, 2))
    layer.build(x.shape[1:])

    def reset():
        layer.rng = np.random.default_rng(0)
    report = check_layer(layer, x, training=True, before_forward=reset)
    assert report["max_error"] < 1e-6 and "input" in report["errors"]


def test_inference_and_float64():
    x = np.random.default_rng(0).uniform(0, 1, size=(2, 8, 8, 1))
    layer = RandomElasticTransform((1.0, 1.0), value_range=(0, 1), dtype="float64", seed=0)
    assert np.array_equal(layer(x, training=False), x)                              # training=False: the identity
    out = layer(x, training=True)
    assert out.dtype == np.float64 and not np.array_equal(out, x)


@pytest.mark.parametrize("make,message", [
    (lambda: RandomElasticTransform(fill_mode="mirror"),
     r"^RandomElasticTransform: fill_mode must be one of \['reflect', 'wrap', 'constant', 'nearest'\], got 'mirror' "
     r"\(Keras' layer lists \"mirror\", which its TensorFlow backend refuses\)"),
    (lambda: RandomElasticTransform(interpolation="bicubic"),
     r"^RandomElasticTransform: interpolation must be one of \['bilinear', 'nearest'\], got 'bicubic'"),
    (lambda: RandomElasticTransform(factor=1.5), r"^RandomElasticTransform: factor must be a number or a pair"),
    (lambda: RandomElasticTransform(scale=(0.2, 1.2)), r"^RandomElasticTransform: scale must be a number or a pair"),
    (lambda: RandomElasticTransform(fill_value=float("nan")), r"^RandomElasticTransform: fill_value must be a finite number"),
    (lambda: RandomElasticTransform(value_range=(1, 1)), r"^RandomElasticTransform: value_range must be a pair"),
], ids=["mirror", "bicubic", "factor", "scale", "fill_value", "value_range"])
def test_bad_arguments_name_the_layer(make, message):
    with pytest.raises(ValueError, match=message):
        make()
