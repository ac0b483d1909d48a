"""glassnet.ops.image's elastic_transform, perspective_transform and scale_and_translate against
Keras 3.15's keras.ops.image on TensorFlow over fuzzed arguments (float32, float64, integers;
batched and single; channels last and first), elastic_transform's seeds against Keras' NumPy
backend (its own code, run from its source), bad arguments refused by name.

These functions take arrays only (no tensor form, so no gradient to check: a tensor is refused)."""
import subprocess
import sys

import numpy as np
import pytest

from glassnet import ops

FILL_MODES = ("reflect", "wrap", "constant", "nearest")


def _layout(rng, batch, data_format):
    """An (n, H, W, C) batch as one image or a batch, channels last or first."""
    x = batch[0] if rng.random() < 0.3 else batch
    if data_format == "channels_first":
        x = np.ascontiguousarray(np.moveaxis(x, -1, 0 if x.ndim == 3 else 1))
    return x


def _images(rng, shape, dtype):
    if dtype in ("uint8", "int32"):
        return rng.integers(0, 256, shape).astype(dtype)
    return rng.uniform(-1, 2, shape).astype(dtype)


class _TensorFlowDraws:
    """Keras' TensorFlow draws of elastic_transform (one stateless normal field, used for dx and for
    dy) served as glassnet's generator serves NumPy's: ``normal(size)``."""

    def __init__(self, keras, seed, dtype):
        from keras.src.random.seed_generator import draw_seed
        import tensorflow as tf
        self.field = lambda size: np.asarray(tf.random.stateless_normal(size, seed=draw_seed(seed), dtype=dtype))

    def normal(self, size):
        return self.field(size)


def test_elastic_transform_matches_keras_given_its_draws(keras, rng, monkeypatch):
    """Everything but the random stream: glassnet's generator replaced by TensorFlow's draws,
    Keras' own elastic_transform on TensorFlow the oracle."""
    import glassnet.random
    cases = 0
    for _ in range(100):
        dtype = ("float32", "float64")[rng.integers(2)]
        data_format = ("channels_last", "channels_first", None)[rng.integers(3)]
        h, w, c = int(rng.integers(2, 26)), int(rng.integers(2, 26)), int(rng.integers(1, 4))
        x = _layout(rng, _images(rng, (2, h, w, c), dtype), data_format or "channels_last")
        kwargs = dict(alpha=float(rng.uniform(-5, 30)), sigma=float(rng.choice([rng.uniform(0.2, 4), rng.integers(1, 4)])),
                      interpolation=("bilinear", "nearest")[rng.integers(2)], fill_mode=FILL_MODES[rng.integers(4)],
                      fill_value=float(rng.uniform(-1, 1)), seed=int(rng.integers(2 ** 31)), data_format=data_format)
        monkeypatch.setattr(glassnet.random, "generator", lambda seed, function: _TensorFlowDraws(keras, seed, dtype))
        ours = ops.image.elastic_transform(x, **kwargs)
        theirs = np.asarray(keras.ops.image.elastic_transform(x, **kwargs))
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        if kwargs["interpolation"] == "nearest":
            np.testing.assert_array_equal(ours, theirs)
        else:
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=5e-5 if dtype == "float32" else 1e-12)
        cases += np.abs(ours - x).max() > 0.1           # something moved
    assert cases > 80


def _keras_numpy_image(keras):
    """Keras 3.15's NumPy backend's image module (keras/src/backend/numpy/image.py), run from its
    source with Keras' own draw_seed: that backend package imports jax, which is not installed."""
    from pathlib import Path
    import keras.src.backend as backend_package
    pytest.importorskip("scipy")
    source = (Path(backend_package.__file__).parent / "numpy" / "image.py").read_text()
    source = source.replace("from keras.src.backend.numpy.core import convert_to_tensor\n", "")
    from keras.src.random.seed_generator import draw_seed
    space = {"convert_to_tensor": lambda x, dtype=None: np.asarray(x, dtype=dtype)}
    exec(compile(source, "keras/src/backend/numpy/image.py", "exec"), space)
    space["draw_seed"] = lambda seed: np.asarray(draw_seed(seed)).astype(np.uint32)
    return space


def test_elastic_transform_seed_gives_keras_numpy_backend_values(keras, rng):
    """An int seed draws Keras' NumPy backend's dx and dy: its whole elastic_transform comes out
    where its maths are TensorFlow's too (an integer sigma: the same kernel width; fill modes other
    than "reflect"), within float32 rounding of its float64 coordinates."""
    numpy_backend = _keras_numpy_image(keras)
    for case in range(24):
        dtype = ("float32", "float64")[case % 2]
        data_format = ("channels_last", "channels_first")[rng.integers(2)]
        h, w, c = int(rng.integers(3, 24)), int(rng.integers(3, 24)), int(rng.integers(1, 4))
        x = _layout(rng, _images(rng, (3, h, w, c), dtype), data_format)
        kwargs = dict(alpha=float(rng.uniform(1, 25)), sigma=float(rng.integers(1, 4)), interpolation="bilinear",
                      fill_mode=("wrap", "constant", "nearest")[rng.integers(3)], fill_value=0.5,
                      seed=int(rng.integers(2 ** 31)), data_format=data_format)
        ours = ops.image.elastic_transform(x, **kwargs)
        theirs = numpy_backend["elastic_transform"](x, **kwargs)
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-4)
        np.testing.assert_array_equal(ours, ops.image.elastic_transform(x, **kwargs))     # the same seed, again


def test_elastic_transform_draws_dx_and_dy_apart_and_follows_tensorflow_where_backends_differ(keras, rng):
    from glassnet._ops_image_warp import elastic_sample
    from glassnet.layers.elastic import elastic_displacement
    x = _images(rng, (1, 12, 14, 1), "float32")
    # dx and dy are two fields (Keras' NumPy backend's draws), not TensorFlow's one field twice
    g = np.random.default_rng(np.array([7, 0], np.uint32))
    noise = np.stack([g.normal(size=(1, 12, 14)).astype(np.float32) for _ in range(2)])
    assert not np.allclose(noise[0], noise[1])
    np.testing.assert_array_equal(ops.image.elastic_transform(x, 3.0, 2.0, seed=7),
                                  elastic_sample(x, noise, 3.0, 2.0, "bilinear", "reflect", 0.0))
    # a fractional sigma: TensorFlow's kernel of 6 int(sigma) | 1 pixels (NumPy's int(6 sigma) | 1 is wider)
    field = elastic_displacement(noise[0], 1.0, 1.9)
    narrow = np.asarray(ops.image.gaussian_blur(noise[0][..., None] * np.float32(1.9), (7, 7), (1.9, 1.9)))[..., 0]
    np.testing.assert_allclose(field, narrow, rtol=1e-5, atol=1e-6)
    # "reflect": index -1 reads pixel 1, as TensorFlow's map_coordinates (and ops.image.map_coordinates);
    # sigma < 1 leaves the field unblurred: dx = alpha sigma N = -1 everywhere
    row = np.arange(5.0, dtype="float32").reshape(1, 1, 5, 1)
    noise = np.stack([np.full((1, 1, 5), -2.0, np.float32), np.zeros((1, 1, 5), np.float32)])
    shifted = elastic_sample(row, noise, 1.0, 0.5, "nearest", "reflect", 0.0)
    theirs = keras.ops.image.map_coordinates(row[0, :, :, 0], [[0.0] * 5, [-1.0, 0.0, 1.0, 2.0, 3.0]], order=0,
                                             fill_mode="reflect")
    assert shifted[0, 0, :, 0].tolist() == np.asarray(theirs).tolist() == [1.0, 0.0, 1.0, 2.0, 3.0]


def test_perspective_transform_matches_keras(keras, rng):
    cases = 0
    for _ in range(100):
        dtype = ("float32", "float64", "uint8")[rng.integers(3)]
        data_format = ("channels_last", "channels_first", None)[rng.integers(3)]
        n, h, w, c = 2, int(rng.integers(2, 26)), int(rng.integers(2, 26)), int(rng.integers(1, 4))
        x = _layout(rng, _images(rng, (n, h, w, c), dtype), data_format or "channels_last")
        batch = x.shape[0] if x.ndim == 4 else 1
        corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], float)
        m = batch if rng.random() < 0.5 else 1
        start = corners + rng.uniform(-0.25, 0.25, (m, 4, 2)) * [w, h]
        end = corners + rng.uniform(-0.25, 0.25, (m, 4, 2)) * [w, h]
        if m == 1 and rng.random() < 0.5:
            start, end = start[0], end[0]
        if rng.random() < 0.3:
            start, end = start.astype("float32").tolist(), end.astype("float32").tolist()
        kwargs = dict(interpolation=("bilinear", "nearest")[rng.integers(2)], fill_value=float(rng.integers(0, 3)),
                      data_format=data_format)
        ours = ops.image.perspective_transform(x, start, end, **kwargs)
        theirs = np.asarray(keras.ops.image.perspective_transform(x, start, end, **kwargs))
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        if dtype == "uint8":
            # TensorFlow truncates; its float32 solve and glassnet's float64 one may put a sum either side of an integer
            assert np.mean(ours != theirs) < 0.005 and np.abs(ours.astype(int) - theirs).max() <= 1
        elif kwargs["interpolation"] == "nearest":
            assert np.mean(ours != theirs) < 0.005    # a point within float32 rounding of a pixel's half
        else:
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=5e-5)
        cases += 1
    assert cases == 100


def test_perspective_transform_moves_the_start_points_onto_the_end_points():
    # the pixel at each start point lands at its end point (a one-hot image per corner)
    h, w = 9, 11
    start = np.array([[1, 1], [8, 2], [2, 6], [9, 7]], float)
    end = np.array([[2, 1], [9, 1], [1, 7], [8, 8]], float)
    for (sx, sy), (ex, ey) in zip(start, end):
        x = np.zeros((h, w, 1), np.float32)
        x[int(sy), int(sx), 0] = 1.0
        out = ops.image.perspective_transform(x, start, end, interpolation="nearest")
        assert out[int(ey), int(ex), 0] == 1.0
    same = ops.image.perspective_transform(np.arange(20.0).reshape(4, 5, 1), start, start)
    np.testing.assert_allclose(same, np.arange(20.0).reshape(4, 5, 1), atol=1e-5)


METHODS = ("linear", "bilinear", "trilinear", "cubic", "bicubic", "tricubic", "lanczos3", "lanczos5")


def test_scale_and_translate_matches_keras(keras, rng):
    """Any rank, any axes; float32 (Python lists, Keras' float32) and float64 (NumPy arrays) scales;
    integer images (Keras on TensorFlow fails on them) against Keras' NumPy backend's rule applied
    to Keras' float result: rounded, clipped to the images' minimum and maximum."""
    cases = 0
    for _ in range(120):
        dtype = ("float32", "float64", "uint8", "int32")[rng.integers(4)]
        rank = int(rng.integers(1, 5))
        shape = tuple(int(s) for s in rng.integers(1, 12, rank))
        x = _images(rng, shape, dtype)
        k = int(rng.integers(1, rank + 1))
        dims = tuple(int(d) for d in rng.choice(rank, k, replace=False))
        if rng.random() < 0.3:
            dims = tuple(d - rank for d in dims)
        out_shape = list(shape)
        for d in dims:
            out_shape[d] = int(rng.integers(1, 15))
        scale = rng.uniform(0.3, 3, k) * np.where(rng.random(k) < 0.1, -1, 1)
        translation = rng.uniform(-3, 3, k)
        if rng.random() < 0.5:
            scale, translation = scale.tolist(), translation.tolist()
        method = METHODS[rng.integers(len(METHODS))]
        antialias = bool(rng.random() < 0.6)
        ours = ops.image.scale_and_translate(x, tuple(out_shape), scale, translation, dims, method, antialias)
        if dtype in ("uint8", "int32"):
            theirs = np.asarray(keras.ops.image.scale_and_translate(x.astype("float32"), tuple(out_shape), scale,
                                                                    translation, dims, method, antialias))
            theirs = np.clip(np.round(theirs), x.min(), x.max()).astype(dtype)
        else:
            theirs = np.asarray(keras.ops.image.scale_and_translate(x, tuple(out_shape), scale, translation, dims,
                                                                    method, antialias))
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, (ours.dtype, theirs.dtype)
        if dtype in ("uint8", "int32"):
            assert np.abs(ours.astype(int) - theirs).max(initial=0) <= 1 and np.mean(ours != theirs) < 0.02
        else:
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=2e-6)
        cases += 1
    assert cases == 120


def test_scale_and_translate_keeps_the_docstring_example_and_resize(keras):
    images = np.arange(9, dtype="float32").reshape(3, 3)
    scale = np.array([2.0, 2.0], "float32")
    out = ops.image.scale_and_translate(images, (5, 5), scale, -(scale / 2.0 - 0.5), (0, 1), "linear")
    np.testing.assert_allclose(out, np.arange(0, 7.0, 0.5)[:5] + 1.5 * np.arange(5)[:, None], atol=1e-6)
    # "triangle" (Keras' documentation; its TensorFlow table lacks it) is "linear"
    np.testing.assert_array_equal(ops.image.scale_and_translate(images, (5, 5), scale, [0.0, 0.0], (0, 1), "triangle"),
                                  ops.image.scale_and_translate(images, (5, 5), scale, [0.0, 0.0], (0, 1), "linear"))
    # no spatial_dims: the images as they are
    np.testing.assert_array_equal(ops.image.scale_and_translate(images, (3, 3), [], [], (), "cubic"), images)


def test_dtypes_are_kept_as_keras_keeps_them(keras, rng):
    for dtype in ("float16", "float32", "float64"):
        x = _images(rng, (2, 8, 9, 2), dtype)
        assert ops.image.elastic_transform(x, 5.0, 1.0, seed=1).dtype == dtype
        theirs = keras.ops.image.perspective_transform(x, [[0, 0], [8, 0], [0, 7], [8, 7]], [[1, 0], [8, 1], [0, 6], [7, 7]])
        ours = ops.image.perspective_transform(x, [[0, 0], [8, 0], [0, 7], [8, 7]], [[1, 0], [8, 1], [0, 6], [7, 7]])
        assert ours.dtype == np.asarray(theirs).dtype == dtype
        np.testing.assert_allclose(ours.astype(float), np.asarray(theirs).astype(float),
                                   atol=1e-2 if dtype == "float16" else 1e-4)
        sat = ops.image.scale_and_translate(x, (2, 4, 5, 2), [0.5, 0.5], [0.0, 0.0], (1, 2), "cubic")
        assert sat.dtype == np.asarray(keras.ops.image.scale_and_translate(x, (2, 4, 5, 2), [0.5, 0.5], [0.0, 0.0],
                                                                            (1, 2), "cubic")).dtype
    # Python float scales compute in float32, NumPy float64 ones in float64 (Keras' convert_to_tensor)
    x = _images(rng, (5, 6), "float64")
    f32 = ops.image.scale_and_translate(x, (7, 6), [1.3], [0.1], (0,), "lanczos3")
    f64 = ops.image.scale_and_translate(x, (7, 6), np.array([1.3]), np.array([0.1]), (0,), "lanczos3")
    assert 0 < np.abs(f32 - f64).max() < 1e-5


@pytest.mark.parametrize("call, error, words", [
    (lambda x: ops.image.elastic_transform(x, interpolation="bicubic"), ValueError, "interpolation"),
    (lambda x: ops.image.elastic_transform(x, fill_mode="mirror"), ValueError, "fill_mode"),
    (lambda x: ops.image.elastic_transform(x, sigma=0.0), ValueError, "sigma"),
    (lambda x: ops.image.elastic_transform(x, alpha=float("nan")), ValueError, "alpha"),
    (lambda x: ops.image.elastic_transform(x, seed=1.5), TypeError, "seed"),
    (lambda x: ops.image.elastic_transform(x, data_format="NHWC"), ValueError, "data_format"),
    (lambda x: ops.image.elastic_transform(x[0, 0]), ValueError, "rank 3"),
    (lambda x: ops.image.elastic_transform((x * 10).astype("uint8")), TypeError, "floats"),
    (lambda x: ops.image.perspective_transform(x, np.zeros((4, 2)), np.zeros((3, 2))), ValueError, "end_points"),
    (lambda x: ops.image.perspective_transform(x, np.zeros((4, 3)), np.zeros((4, 3))), ValueError, "start_points"),
    (lambda x: ops.image.perspective_transform(x, np.zeros((4, 2)), np.zeros((1, 4, 2))), ValueError, "same shape"),
    (lambda x: ops.image.perspective_transform(x, np.zeros((3, 4, 2)), np.zeros((3, 4, 2))), ValueError, "per image"),
    (lambda x: ops.image.perspective_transform(x, np.zeros((4, 2)), np.zeros((4, 2))), ValueError, "no three"),
    (lambda x: ops.image.perspective_transform(x, [[0, 0], [1, 0], [0, 1], [1, np.inf]], np.eye(4, 2)), ValueError,
     "finite"),
    (lambda x: ops.image.perspective_transform(x, np.eye(4, 2), np.eye(4, 2), interpolation="cubic"), ValueError,
     "interpolation"),
    (lambda x: ops.image.perspective_transform(x > 0, np.eye(4, 2), np.eye(4, 2)), TypeError, "booleans"),
    (lambda x: ops.image.scale_and_translate(x, (2, 4, 4, 1), [1.0], [0.0], (1,), "nearest"), ValueError, "method"),
    (lambda x: ops.image.scale_and_translate(x, (2, 4, 4, 1), [1.0], [0.0], 1, "linear"), ValueError, "spatial_dims"),
    (lambda x: ops.image.scale_and_translate(x, (2, 4, 4, 1), [1.0, 1.0], [0.0, 0.0], (1, -3), "linear"), ValueError,
     "spatial_dims"),
    (lambda x: ops.image.scale_and_translate(x, (2, 4, 4), [1.0], [0.0], (1,), "linear"), ValueError, "output_shape"),
    (lambda x: ops.image.scale_and_translate(x, (3, 4, 4, 1), [1.0], [0.0], (1,), "linear"), ValueError, "output_shape"),
    (lambda x: ops.image.scale_and_translate(x, (2, 4, 4, 1), [1.0, 2.0], [0.0], (1,), "linear"), ValueError, "scale"),
    (lambda x: ops.image.scale_and_translate(x, (2, 4, 4, 1), [0.0], [0.0], (1,), "linear"), ValueError, "scale"),
    (lambda x: ops.image.scale_and_translate(x, (2, 4, 4, 1), [1.0], [np.nan], (1,), "linear"), ValueError,
     "translation"),
    (lambda x: ops.image.scale_and_translate(x, (2, 4, 4, 1), [1.0], [0.0], (1,), "linear", antialias="yes"), TypeError,
     "antialias"),
])
def test_bad_arguments_are_refused_by_name(call, error, words):
    x = np.random.default_rng(0).uniform(size=(2, 4, 4, 1)).astype("float32")
    with pytest.raises(error, match=rf"ops\.image\.\w+:.*{words}"):
        call(x)


def test_keras_refuses_what_glassnet_refuses(keras):
    """The refusals glassnet shares with Keras 3.15 on TensorFlow (it names the argument too)."""
    x = np.zeros((2, 4, 4, 1), "float32")
    with pytest.raises(ValueError, match="fill_mode"):
        keras.ops.image.elastic_transform(x, fill_mode="mirror")
    with pytest.raises(ValueError, match="interpolation"):
        keras.ops.image.perspective_transform(x, np.eye(4, 2), np.eye(4, 2), interpolation="cubic")
    with pytest.raises(ValueError, match="method"):
        keras.ops.image.scale_and_translate(x, (2, 4, 4, 1), [1.0], [0.0], (1,), "nearest")
    with pytest.raises(ValueError, match="end_points"):
        keras.ops.image.perspective_transform(x, np.zeros((4, 2)), np.zeros((3, 2)))


def test_tensors_are_refused():
    import glassnet as gn
    inputs = gn.layers.Input((4, 4, 1))
    with pytest.raises(TypeError, match="images must be an array"):
        ops.image.elastic_transform(inputs)
    with pytest.raises(TypeError, match="images must be an array"):
        ops.image.perspective_transform(inputs, np.eye(4, 2), np.eye(4, 2))
    with pytest.raises(TypeError, match="images must be an array"):
        ops.image.scale_and_translate(inputs, (None, 4, 4, 1), [1.0], [0.0], (1,), "linear")


def test_import_glassnet_does_not_import_them():
    code = ("import sys, glassnet; print(any(m in sys.modules for m in ('glassnet._ops_image_warp', "
            "'glassnet._ops_image_scale', 'glassnet._ops_image')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False"], out.stderr[-800:]
