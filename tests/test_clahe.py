"""ContrastLimitedAdaptiveHistogramEqualization (layers/clahe.py): against Keras 3.15's own layer
(value ranges, clip limits, grids that pad, gray and RGB), in training and inference; a table worked
by hand; the gradient (0) against PyTorch autograd; a model; the errors. The layer contract and
finite differences are in test_layer_contract.py."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import ContrastLimitedAdaptiveHistogramEqualization as CLAHE


def _keras():
    return pytest.importorskip("keras", reason="Keras oracle not installed")


def _images(rng, shape, value_range=(0, 255), dtype=np.float32):
    low, high = value_range
    x = rng.uniform(low, high, size=shape).astype(dtype)
    x[0] = low + (x[0] - low) * 0.2                        # a dark image: many pixels per level, clipped
    x[-1, :3] = low                                        # a flat band: one level, well over the limit
    return x


@pytest.mark.parametrize("value_range, clip_limit, grid, shape", [
    ((0, 255), 4.0, (8, 8), (3, 16, 16, 3)),           # the defaults: 2 x 2 tiles, no padding
    ((0, 1), 2.0, (3, 4), (2, 10, 9, 3)),               # padded rows and columns, mirrored
    ((-1, 1), 0.0, (2, 2), (3, 7, 5, 1)),               # no clipping: plain adaptive equalization
    ((0, 255), 40.0, (3, 2), (2, 13, 11, 2)),           # a limit no bin reaches
    ((-5, 3), 1.0, (1, 1), (2, 6, 6, 3)),                # one tile: global, clipped
], ids=str)
def test_matches_keras_in_training_and_inference(value_range, clip_limit, grid, shape, rng):
    keras = _keras()
    x = _images(rng, shape, value_range)
    theirs_layer = keras.layers.ContrastLimitedAdaptiveHistogramEqualization(value_range=value_range,
                                                                              clip_limit=clip_limit, tile_grid_size=grid)
    theirs = np.asarray(theirs_layer(x))
    # Keras' layer ignores training: it equalizes under training=False (a model's predict) too
    np.testing.assert_array_equal(np.asarray(theirs_layer(x, training=False)), theirs)
    width = value_range[1] - value_range[0]
    for training in (True, False, None):
        ours = CLAHE(value_range=value_range, clip_limit=clip_limit, tile_grid_size=grid)(x, training=training)
        assert ours.dtype == np.float32 and ours.shape == x.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6 * width)
    assert np.abs(ours - x).max() > 0.02 * width            # it did something


def test_float64_images_match_keras_s_float32_to_its_rounding(rng):
    keras = _keras()
    x = _images(rng, (2, 9, 10, 3), (0, 1))
    ours = CLAHE(value_range=(0, 1), tile_grid_size=(2, 3), dtype="float64")(x.astype(np.float64))
    assert ours.dtype == np.float64
    theirs = keras.layers.ContrastLimitedAdaptiveHistogramEqualization(value_range=(0, 1), tile_grid_size=(2, 3))(x)
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-5, atol=1e-6)


def test_each_image_is_its_own_and_a_small_image_is_mirrored_where_keras_fails(rng):
    keras = _keras()
    x = _images(rng, (4, 6, 7, 3))
    layer = CLAHE(tile_grid_size=(2, 3))
    ours = layer(x)
    for i in range(len(x)):                                 # unlike Keras' Equalization, no pooling
        np.testing.assert_array_equal(layer(x[i:i + 1])[0], ours[i])
    small = x[:, :3, :3]                                     # padded by 5 rows and columns: more than it has
    with pytest.raises(Exception, match="paddings must be no greater than the dimension size"):
        keras.layers.ContrastLimitedAdaptiveHistogramEqualization()(small)
    out = CLAHE()(small)
    assert out.shape == small.shape and np.isfinite(out).all()


def test_tables_worked_by_hand():
    # one tile, no clipping: plain equalization of levels 0 (once), 10 (twice), 20 (once); the
    # cumulative counts 1, 3, 4 less the first level's 1, over 4 - 1, times 255: 0, 170, 255
    image = np.array([0.0, 10.0, 10.0, 20.0], np.float32).reshape(1, 2, 2, 1)
    layer = CLAHE(clip_limit=0.0, tile_grid_size=(1, 1))
    assert layer(image)[0, :, :, 0].tolist() == [[0.0, 170.0], [170.0, 255.0]]
    # clipped: the limit 4 x 4 / 256 = 1/16 keeps 1/16 of each used level, the excess 4 - 3/16
    # spread evenly, 61/4096 a level: cdf(L) = (L + 1) 61/4096 + (used levels up to L) / 16, less
    # cdf(0), over 4 - cdf(0), times 255
    clipped = CLAHE(clip_limit=4.0, tile_grid_size=(1, 1))(image)[0, :, :, 0]
    spread, kept = 61 / 4096, 1 / 16

    def table(level, used):
        cdf, first = (level + 1) * spread + used * kept, spread + kept
        return (cdf - first) * 255 / (4 - first)
    np.testing.assert_allclose(clipped, [[table(0, 1), table(10, 2)], [table(10, 2), table(20, 3)]], rtol=1e-6)
    # two tiles of one pixel each, levels 200 and 50: each tile's table is 255 from its own level up,
    # 0 below. Column c sits at c + 0.5 on the grid of tile centres (the edge tile repeated before
    # tile 0): column 0 reads tile 0 alone (255), column 1 half tile 0's table (50 < 200: 0) and
    # half tile 1's (255)
    two = np.array([200.0, 50.0], np.float32).reshape(1, 1, 2, 1)
    out = CLAHE(clip_limit=0.0, tile_grid_size=(1, 2))(two)[0, 0, :, 0]
    assert out.tolist() == [255.0, 127.5]


def test_gradient_is_zero_as_torch_s_through_its_tables(torch, rng):
    x = _images(rng, (2, 6, 5, 3), (-1, 1), np.float64)
    layer = CLAHE(value_range=(-1, 1), tile_grid_size=(2, 2), dtype="float64")
    layer.needs_input_gradient = True
    ours = layer(x)
    t = torch.tensor(x, requires_grad=True)
    # the same maths in torch: the levels are floor'd (no gradient) and the tables are counts
    level = torch.clamp((t - (-1)) / 2 * 255, 0, 255).floor()
    out = torch.tensor(ours) + 0 * level                   # the output is a function of the levels alone
    g = rng.normal(size=x.shape)
    (out * torch.tensor(g)).sum().backward()
    grad = layer.backward(g)
    assert grad.shape == x.shape and grad.dtype == np.float64
    np.testing.assert_array_equal(grad, t.grad.numpy())
    # and a finite step within a level changes nothing
    level_width = 2 / 255
    bump = np.full(x.shape, 1e-3 * level_width)
    moved = layer(x + bump)
    same_level = np.floor((x + bump + 1) / 2 * 255) == np.floor((x + 1) / 2 * 255)
    assert same_level.all()
    np.testing.assert_array_equal(moved, ours)
    layer.needs_input_gradient = False
    assert layer.backward(g) is None


def test_a_model_equalizes_in_predict_too_and_round_trips(rng, tmp_path):
    x = _images(rng, (6, 8, 8, 1), (0, 1))
    make = (lambda: CLAHE(value_range=(0, 1), clip_limit=2.5, tile_grid_size=(2, 4)))
    model = gn.Sequential([gn.Input((8, 8, 1)), make(), gn.layers.Flatten(), gn.layers.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    model.fit(x, np.ones(6), epochs=1, verbose=0)
    plain = gn.Sequential([gn.Input((8, 8, 1)), gn.layers.Flatten(), gn.layers.Dense(1)])
    plain.set_weights(model.get_weights())
    np.testing.assert_allclose(model.predict(x), plain.predict(make()(x)), rtol=1e-6)
    model.save(tmp_path / "clahe.npz")
    loaded = gn.load_model(tmp_path / "clahe.npz")
    config = loaded.layers[0].get_config()
    assert config == model.layers[0].get_config()
    assert (config["clip_limit"], config["tile_grid_size"], config["value_range"]) == (2.5, [2, 4], [0.0, 1.0])
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


NAME = "ContrastLimitedAdaptiveHistogramEqualization"


@pytest.mark.parametrize("make, message", [
    (lambda: CLAHE(clip_limit=-1.0), rf"{NAME}: clip_limit must be a finite number >= 0 .*got -1.0"),
    (lambda: CLAHE(clip_limit="4"), rf"{NAME}: clip_limit must be a finite number >= 0 .*got '4'"),
    (lambda: CLAHE(clip_limit=float("inf")), rf"{NAME}: clip_limit must be a finite number >= 0 .*got inf"),
    (lambda: CLAHE(tile_grid_size=8), rf"{NAME}: tile_grid_size must be a pair \(rows, columns\) of positive integers"
                                      r".*got 8"),
    (lambda: CLAHE(tile_grid_size=(0, 2)), rf"{NAME}: tile_grid_size must be a pair .*got \(0, 2\)"),
    (lambda: CLAHE(tile_grid_size=(2.0, 2)), rf"{NAME}: tile_grid_size must be a pair .*got \(2.0, 2\)"),
    (lambda: CLAHE(value_range=(1, 1)), rf"{NAME}: value_range must be a pair \(low, high\) of distinct"),
])
def test_bad_arguments_name_the_layer(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_images_of_another_rank_are_refused_by_name():
    with pytest.raises(ValueError, match=NAME):
        CLAHE()(np.zeros((2, 4, 4), np.float32))
