"""RandomPerspective and the projective sampler under it: values against Keras 3.15's layer given
the per-image draws glassnet made (kept on ``_drawn`` after a training call), the sampler's 8-parameter
rows against TensorFlow's ImageProjectiveTransformV3 itself, the homography against Keras', the draws'
distribution against Keras' get_random_transformation, the gradient against PyTorch's grid_sample
(float64), the affine rows unchanged, the errors. The layer contract and finite differences are in
test_layer_contract.py."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import RandomPerspective
from glassnet.layers.augmentation import FILL_MODES, INTERPOLATIONS, _sampling, affine_sample
from glassnet.layers.perspective import homography


def _keras():
    return pytest.importorskip("keras", reason="Keras oracle not installed")


def _keras_transformation(drawn, x):
    """glassnet's draws as Keras' transformation dict (its points in float32, its compute dtype)."""
    return {"apply_perspective": drawn["apply_perspective"], "start_points": drawn["start_points"].astype(np.float32),
            "end_points": drawn["end_points"].astype(np.float32), "input_shape": x.shape}


@pytest.mark.parametrize("settings", [dict(), dict(interpolation="nearest", fill_value=0.3),
                                      dict(factor=(1.0, 1.0), scale=0.4, fill_value=-1.5), dict(factor=0.7, scale=1.0)],
                         ids=str)
def test_matches_keras_for_the_same_draws(settings, rng):
    keras = _keras()
    x = rng.uniform(0, 1, size=(8, 9, 11, 3)).astype(np.float32)
    ours = RandomPerspective(seed=3, **settings)
    out = ours(x, training=True)
    drawn = ours._drawn
    assert out.dtype == np.float32 and drawn["end_points"].shape == (8, 4, 2) and drawn["apply_perspective"].any()
    theirs = keras.layers.RandomPerspective(**settings)
    expected = np.asarray(theirs.transform_images(x, _keras_transformation(drawn, x), training=True))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    kept = ~drawn["apply_perspective"]
    assert np.array_equal(out[kept], x[kept])                # the images not drawn pass bit for bit


def test_homography_matches_keras_and_takes_the_end_points_to_the_start_points(rng):
    tf_image = pytest.importorskip("keras.src.backend.tensorflow.image", reason="Keras' TensorFlow backend not installed")
    start = np.broadcast_to(np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 8.0], [10.0, 8.0]]), (5, 4, 2))
    end = start + start * rng.uniform(-0.5, 0.5, size=(5, 4, 2))
    ours = homography(start, end)
    np.testing.assert_allclose(ours, np.asarray(tf_image.compute_homography_matrix(start, end)), rtol=1e-9, atol=1e-12)
    x, y = end[..., 0], end[..., 1]
    k = ours[:, 6, None] * x + ours[:, 7, None] * y + 1
    np.testing.assert_allclose((ours[:, 0, None] * x + ours[:, 1, None] * y + ours[:, 2, None]) / k, start[..., 0],
                               atol=1e-9)
    np.testing.assert_allclose((ours[:, 3, None] * x + ours[:, 4, None] * y + ours[:, 5, None]) / k, start[..., 1],
                               atol=1e-9)


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("fill_mode", FILL_MODES)
def test_projective_sampling_matches_tensorflow(fill_mode, interpolation, rng):
    tf = pytest.importorskip("tensorflow", reason="TensorFlow oracle not installed")
    n, h, w = 4, 7, 9
    x = rng.normal(size=(n, h, w, 2)).astype(np.float32)
    matrices = np.column_stack([rng.uniform(0.6, 1.4, n), rng.uniform(-0.3, 0.3, n), rng.uniform(-3, 3, n),
                                rng.uniform(-0.3, 0.3, n), rng.uniform(0.6, 1.4, n), rng.uniform(-3, 3, n),
                                rng.uniform(-0.05, 0.05, n), rng.uniform(-0.05, 0.05, n)])
    matrices[0, 6:] = [-0.25, 0.0]                  # k = 0 on column 4 (the horizon): fill_value in every mode
    matrices = matrices.astype(np.float32).astype(np.float64)      # the float32 rows TensorFlow reads
    ours = affine_sample(x, _sampling(matrices, h, w, fill_mode, interpolation, x.dtype), 0.5)
    theirs = tf.raw_ops.ImageProjectiveTransformV3(
        images=x, transforms=matrices.astype(np.float32), output_shape=[h, w], fill_value=0.5,
        interpolation=interpolation.upper(), fill_mode=fill_mode.upper()).numpy()
    assert np.all(ours[0, :, 4] == 0.5)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("fill_mode", FILL_MODES)
def test_affine_rows_as_projective_ones_give_the_same_bits(fill_mode, interpolation, rng):
    # c0 = c1 = 0 divides by exactly 1: an affine matrix written with 8 parameters samples as before
    for dtype in (np.float32, np.float64):
        x = rng.normal(size=(5, 6, 8, 3)).astype(dtype)
        affine = np.column_stack([rng.uniform(0.5, 1.5, 5), rng.uniform(-0.5, 0.5, 5), rng.uniform(-4, 4, 5),
                                  rng.uniform(-0.5, 0.5, 5), rng.uniform(0.5, 1.5, 5), rng.uniform(-4, 4, 5)])
        six = _sampling(affine, 6, 8, fill_mode, interpolation, dtype)
        eight = _sampling(np.column_stack([affine, np.zeros((5, 2))]), 6, 8, fill_mode, interpolation, dtype)
        for a, b in zip(six, eight):
            assert (a is None and b is None) or (a.dtype == b.dtype and a.tobytes() == b.tobytes())
        assert affine_sample(x, six, 0.7).tobytes() == affine_sample(x, eight, 0.7).tobytes()


def test_draws_follow_keras_rule(rng):
    keras = _keras()
    x = np.zeros((4000, 6, 9, 1), np.float32)
    for factor, scale in ((1.0, 1.0), ((0.2, 0.6), 0.4), ((1.0, 1.0), 0.8)):
        ours = RandomPerspective(factor, scale, seed=0)
        ours(x, training=True)
        theirs = keras.layers.RandomPerspective(factor, scale, seed=0).get_random_transformation(x, training=True)
        for drawn in (ours._drawn, {key: np.asarray(theirs[key]) for key in ("apply_perspective", "start_points", "end_points")}):
            start, end = drawn["start_points"], drawn["end_points"]
            np.testing.assert_array_equal(start[0], [[0, 0], [8, 0], [0, 5], [8, 5]])     # (x, y), Keras' order
            assert np.all(end[:, 0] == 0) and np.all(end[:, 1, 1] == 0) and np.all(end[:, 2, 0] == 0)
            moves = (end - start)[:, 1:] / start[:, 1:].clip(1)
            assert np.all(np.abs(moves) <= 0.5 * scale + 1e-6)
        a, b = ours._drawn, theirs
        np.testing.assert_allclose(a["apply_perspective"].mean(), np.asarray(b["apply_perspective"]).mean(), atol=0.04)
        # each moving coordinate's move as a fraction of it, pooled: U(-scale / 2, scale / 2) in both
        fractions = [((d["end_points"] - d["start_points"]) / d["start_points"].clip(1))[:, [1, 2, 3, 3], [0, 1, 0, 1]]
                     for d in (a, {key: np.asarray(value) for key, value in b.items()})]
        np.testing.assert_allclose(np.quantile(fractions[0], [0.1, 0.5, 0.9]), np.quantile(fractions[1], [0.1, 0.5, 0.9]),
                                   atol=0.015 * scale)
        np.testing.assert_allclose(np.quantile(fractions[0], [0.1, 0.5, 0.9]), [-0.4 * scale, 0, 0.4 * scale], atol=0.015 * scale)
    # Keras' code, not its documentation: factor=1.0 warps about half the images, (1, 1) all
    layer = RandomPerspective(seed=1)
    layer(x, training=True)
    assert abs(layer._drawn["apply_perspective"].mean() - 0.5) < 0.03


@pytest.mark.parametrize("fill_value", [0.0, 0.4])
def test_gradient_matches_torch_grid_sample(fill_value, rng, torch):
    # torch's grid_sample (align_corners=True) reads the same points: ((a0 x + a1 y + a2) / k, ...)
    x = rng.normal(size=(4, 7, 6, 2))
    layer = RandomPerspective((1.0, 1.0), 0.9, fill_value=fill_value, seed=2, dtype="float64")
    out = layer(x, training=True)
    grad_output = rng.normal(size=out.shape)
    ours = layer.backward(grad_output)
    m = torch.tensor(homography(layer._drawn["start_points"], layer._drawn["end_points"]))[:, :, None, None]
    ys, xs = torch.meshgrid(torch.arange(7.0), torch.arange(6.0), indexing="ij")
    k = m[:, 6] * xs + m[:, 7] * ys + 1
    x_in, y_in = (m[:, 0] * xs + m[:, 1] * ys + m[:, 2]) / k, (m[:, 3] * xs + m[:, 4] * ys + m[:, 5]) / k
    grid = torch.stack([2 * x_in / 5 - 1, 2 * y_in / 6 - 1], dim=-1)
    images = torch.tensor(x).permute(0, 3, 1, 2).requires_grad_()
    # the fill value: zeros padding over (image - fill), plus the fill again
    sampled = torch.nn.functional.grid_sample(images - fill_value, grid, mode="bilinear", padding_mode="zeros",
                                              align_corners=True) + fill_value
    theirs = sampled.permute(0, 2, 3, 1)
    np.testing.assert_allclose(out, theirs.detach().numpy(), atol=1e-12)
    (theirs * torch.tensor(grad_output)).sum().backward()
    np.testing.assert_allclose(ours, images.grad.permute(0, 2, 3, 1).numpy(), atol=1e-12)


def test_trains_in_a_model_and_round_trips(rng, tmp_path):
    model = gn.Sequential([gn.layers.Input((8, 8, 2)), gn.layers.Conv2D(3, 3),
                           RandomPerspective((1.0, 1.0), 0.3, "nearest", 0.2), gn.layers.Flatten(), gn.layers.Dense(2)],
                          seed=0)
    model.compile(loss="mse", optimizer="sgd")
    x, y = rng.normal(size=(16, 8, 8, 2)).astype(np.float32), rng.normal(size=(16, 2)).astype(np.float32)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert np.array_equal(model.predict(x), loaded.predict(x))
    config = loaded.layers[1].get_config()
    assert (config["factor"], config["scale"], config["interpolation"], config["fill_value"]) == ([1.0, 1.0], 0.3, "nearest", 0.2)
    assert "fill_mode" not in config


def test_takes_keras_positional_order_and_is_the_identity_outside_training(rng):
    layer = RandomPerspective(0.6, 0.5, "nearest", 0.25, 7, "channels_last")
    assert (layer.factor, layer.scale, layer.interpolation, layer.fill_value, layer.seed) == ((0.0, 0.6), 0.5, "nearest", 0.25, 7)
    x = rng.uniform(size=(6, 5, 4, 1)).astype(np.float32)
    assert layer(x, training=False) is x and np.array_equal(layer.backward(np.ones_like(x)), np.ones_like(x))
    copy = RandomPerspective.from_config(layer.get_config())
    np.testing.assert_array_equal(copy(x, training=True), layer(x, training=True))
    assert RandomPerspective(scale=0.0, seed=0)(x, training=True).tolist() == x.tolist()     # no move, no change
    assert RandomPerspective(factor=0.0, seed=0)(x, training=True).tolist() == x.tolist()    # no image drawn


@pytest.mark.parametrize("make, message", [
    (lambda: RandomPerspective(data_format="NHWC"), r"RandomPerspective: data_format must be .* got 'NHWC'$"),
    (lambda: RandomPerspective(scale=1.5), r"RandomPerspective: scale must be a number in \[0, 1\], got 1.5"),
    (lambda: RandomPerspective(scale="0.5"), r"RandomPerspective: scale must be a number in \[0, 1\], got '0.5'"),
    (lambda: RandomPerspective(-0.1), r"RandomPerspective: factor must be a number or a pair \(lower, upper\) of numbers in \[0, 1\], got -0.1"),
    (lambda: RandomPerspective((0.2, 1.5)), r"RandomPerspective: factor must be .* in \[0, 1\], got \(0.2, 1.5\)"),
    (lambda: RandomPerspective(interpolation="bicubic"), r"RandomPerspective: interpolation must be one of \['bilinear', 'nearest'\], got 'bicubic'"),
    (lambda: RandomPerspective(fill_value=np.inf), r"RandomPerspective: fill_value must be a finite number"),
    (lambda: RandomPerspective(seed=0)(np.zeros((2, 1, 5, 1)), training=True),
     r"RandomPerspective: images need at least 2 rows and 2 columns .* got 1 x 5"),
])
def test_refuses_bad_arguments_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("fill_mode", FILL_MODES)
def test_a_point_beyond_floats_range_reads_the_fill_value(fill_mode, rng):
    # k = 1 - 0.5 x: 1e308 / k lies beyond int64's range at x = 0 and overflows at x = 1 (TensorFlow's
    # integer cast of either is undefined), k = 0 at x = 2; glassnet reads fill_value, without
    # NumPy's warnings for an invalid cast
    x = rng.normal(size=(1, 3, 4, 1))
    row = np.array([[1.0, 0.0, 1e308, 0.0, 1.0, 0.0, -0.5, 0.0]])
    with np.errstate(all="raise"):
        out = affine_sample(x, _sampling(row, 3, 4, fill_mode, "bilinear", x.dtype), 0.25)
    if fill_mode == "nearest":
        # TensorFlow's "nearest" only clamps (no integer cast): far and infinite points read the edge
        np.testing.assert_array_equal(out[0, :, 0], x[0, :, 3])            # x = 1e308
        np.testing.assert_array_equal(out[0, :, 1], x[0, [0, 2, 2], 3])    # x = inf, y = 2 * row
        np.testing.assert_array_equal(out[0, :, 2], 0.25)                  # k = 0
    else:
        assert np.all(out[0, :, :3] == 0.25)
    assert np.isfinite(out).all()


def test_fill_mode_is_refused_by_name_and_not_listed_as_taken():
    # Keras' layer has no fill_mode; Python's own message named _AffineImage.__init__
    with pytest.raises(TypeError, match=r"^RandomPerspective: takes no fill_mode \(Keras' layer has none\), got fill_mode='reflect'"):
        RandomPerspective(fill_mode="reflect")
    with pytest.raises(TypeError, match=r"^RandomPerspective: unexpected keyword argument 'colour'; RandomPerspective takes "
                                        r"factor, scale, interpolation, fill_value, data_format and, like every layer"):
        RandomPerspective(colour="red")


def test_too_small_images_are_refused_when_the_model_is_built():
    """A model of 1-row images is refused when it is made, not at its first training batch."""
    with pytest.raises(ValueError, match=r"RandomPerspective\): images need at least 2 rows and 2 columns .* got 1 x 5"):
        gn.Sequential([gn.layers.Input((1, 5, 1)), RandomPerspective()])
    gn.Sequential([gn.layers.Input((None, None, 1)), RandomPerspective()])     # sizes unknown: checked per batch
