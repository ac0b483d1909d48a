"""RandAugment (layers/rand_augment.py): against Keras 3.15's RandAugment.transform_images given
the picks and the per-image draws glassnet made; equal to its glassnet layers applied in turn from
the same generator (it composes them); the gradient against PyTorch autograd for picks among the
operations written here in torch; inference, config, the picks' distribution and the errors. The
layer contract and finite differences are in test_layer_contract.py."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import RandAugment
from glassnet.layers.color_augmentation import LUMA
from glassnet.layers.rand_augment import OPERATIONS
from glassnet.layers.sharpness import SMOOTH

NAMES = [name for name, _ in OPERATIONS]


def _keras():
    return pytest.importorskip("keras", reason="Keras oracle not installed")


def _images(rng, n=6, value_range=(0, 255), dtype=np.float32):
    return rng.uniform(*value_range, size=(n, 8, 7, 3)).astype(dtype)


def _seeds_picking(allowed, num_ops, count, distinct=True):
    """Seeds whose picks all lie in ``allowed`` (distinct, if asked): the generator's first draw."""
    seeds = []
    for seed in range(2000):
        picks = [NAMES[k] for k in np.random.default_rng(seed).integers(0, len(NAMES), num_ops)]
        if set(picks) <= set(allowed) and (not distinct or len(set(picks)) == num_ops):
            seeds.append(seed)
            if len(seeds) == count:
                return seeds
    raise AssertionError("not enough seeds")


def _column(v):
    return np.asarray(v, np.float32).reshape(-1, 1, 1, 1)


# glassnet's draws in the forms Keras' transform_images takes, for the operations that keep them
KERAS_FORMS = {
    "random_shear": lambda d, x: {"shear_factor": d["shear_factor"].astype(np.float32), "input_shape": x.shape},
    "random_brightness": lambda d, x: {"rgb_delta": _column(d["rgb_delta"])},
    "random_color_degeneration": lambda d, x: {"factor": _column(d["factor"])},
    "random_contrast": lambda d, x: {"contrast_factor": _column(d["contrast_factor"])},
    "random_sharpness": lambda d, x: {"factor": d["factor"].astype(np.float32)},
    "random_posterization": lambda d, x: {"shift_factor": (8 - d["bits"]).astype(np.uint8)},
    "solarization": lambda d, x: {"additions": _column(d["addition"]), "thresholds": _column(d["threshold"])},
    "auto_contrast": None,
}


@pytest.mark.parametrize("value_range", [(0, 255), (0, 1)])
def test_matches_keras_for_the_picks_and_draws_made(value_range, rng):
    # translation and rotation keep no draws to hand Keras (their own tests compare them), and
    # Keras' equalization pools the batch (the documented difference): picks among the others
    keras = _keras()
    seeds = _seeds_picking(KERAS_FORMS, 2, 8)
    seen = set()
    for seed in seeds:
        x = _images(rng, 6, value_range)
        layer = RandAugment(value_range, num_ops=2, factor=0.5, seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")                 # Keras' own float64 casts
            ours = layer(x, training=True)
        picks = layer._drawn["layer_idxes"]
        theirs_layer = keras.layers.RandAugment(value_range, num_ops=2, factor=0.5)
        transforms = {name: getattr(theirs_layer, name).get_random_transformation(x, training=True) for name in NAMES}
        for applied, pick in zip(layer.applied, picks):
            name = NAMES[pick]
            seen.add(name)
            if KERAS_FORMS[name] is not None:
                transforms[name] = KERAS_FORMS[name](applied._drawn, x)
        theirs = np.asarray(theirs_layer.transform_images(x, {"transforms": transforms, "layer_idxes": picks}))
        width = value_range[1] - value_range[0]
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5 * width, err_msg=str([NAMES[k] for k in picks]))
    assert len(seen) >= 6


def test_equalization_picked_matches_keras_for_one_image(rng):
    keras = _keras()
    seed = _seeds_picking(["equalization", "random_brightness"], 2, 1)[0]
    x = _images(rng, 1)
    layer = RandAugment(num_ops=2, seed=seed)
    ours = layer(x, training=True)
    picks = layer._drawn["layer_idxes"]
    theirs_layer = keras.layers.RandAugment(num_ops=2)
    transforms = {name: getattr(theirs_layer, name).get_random_transformation(x, training=True) for name in NAMES}
    brightness = next(a for a in layer.applied if a.name.startswith("random_brightness"))
    transforms["random_brightness"] = KERAS_FORMS["random_brightness"](brightness._drawn, x)
    theirs = theirs_layer.transform_images(x, {"transforms": transforms, "layer_idxes": picks})
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_it_is_its_layers_applied_in_turn_from_one_generator(interpolation, rng):
    x = _images(rng, 4, (0, 1))
    layer = RandAugment((0, 1), num_ops=3, factor=(0.1, 0.6), interpolation=interpolation, seed=11)
    generator = np.random.default_rng(11)
    names = set()
    for _ in range(6):                                      # batch after batch, the same stream
        ours = layer(x, training=True)
        expected = x
        for pick in generator.integers(0, len(NAMES), 3):
            step = OPERATIONS[pick][1]((0.1, 0.6), (0, 1), interpolation)
            step.rng = generator
            expected = step.forward(expected, training=True)
            names.add(NAMES[pick])
        np.testing.assert_array_equal(ours, expected)
    assert {"random_translation", "random_rotation"} & names


def test_a_pick_made_twice_draws_twice():
    seed = next(s for s in range(500) if len(set(np.random.default_rng(s).integers(0, 11, 2))) == 1)
    layer = RandAugment(num_ops=2, seed=seed)
    x = np.random.default_rng(0).uniform(0, 255, (3, 6, 6, 3)).astype(np.float32)
    layer(x, training=True)
    first, second = layer.applied
    assert first is not second and type(first) is type(second) and second.name.endswith("_1")


def test_gradient_matches_torch_for_the_picks_written_in_torch(torch, rng):
    low, high = 0.0, 1.0
    col = (lambda v: torch.tensor(np.asarray(v, np.float64))[:, None, None, None])
    kernel = torch.tensor(SMOOTH).reshape(1, 1, 3, 3).repeat(3, 1, 1, 1)

    def step(layer, t):
        name, d = layer.name.rsplit("_", 1)[0] if layer.name[-1].isdigit() else layer.name, getattr(layer, "_drawn", None)
        if name == "random_brightness":
            return torch.clamp(t + col(d["rgb_delta"]), low, high)
        if name == "random_contrast":
            mean = t.mean(dim=(1, 2), keepdim=True)
            return torch.clamp((t - mean) * col(d["contrast_factor"]) + mean, low, high)
        if name == "random_sharpness":
            smoothed = torch.nn.functional.conv2d(t.permute(0, 3, 1, 2), kernel, padding=1, groups=3).permute(0, 2, 3, 1)
            return torch.clamp(t + (1 - 2 * col(d["factor"])) * (smoothed - t), low, high)
        if name == "random_color_degeneration":
            return torch.clamp(t + col(d["factor"]) * ((t @ torch.tensor(LUMA))[..., None] - t), low, high)
        if name == "solarization":
            p = torch.clamp(t * 255 + col(d["addition"]), 0, 255)
            return torch.where(p >= col(d["threshold"]), 255 - p, p) / 255
        assert name == "auto_contrast"
        smallest, largest = t.amin(dim=(1, 2), keepdim=True), t.amax(dim=(1, 2), keepdim=True)
        return (t - smallest) / (largest - smallest)

    written = ["random_brightness", "random_contrast", "random_sharpness", "random_color_degeneration",
               "solarization", "auto_contrast"]
    for seed in _seeds_picking(written, 3, 4, distinct=False):
        x = _images(rng, 4, (low, high), np.float64)
        layer = RandAugment((low, high), num_ops=3, factor=(0.2, 0.7), seed=seed, dtype="float64")
        layer.needs_input_gradient = True
        ours = layer(x, training=True)
        t = torch.tensor(x, requires_grad=True)
        out = t
        for applied in layer.applied:
            out = step(applied, out)
        g = rng.normal(size=x.shape)
        (out * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(ours, out.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.backward(g), t.grad.numpy(), rtol=1e-9, atol=1e-10)


def test_the_picks_are_uniform_over_the_eleven():
    layer = RandAugment(num_ops=2000, seed=0)
    with warnings.catch_warnings():
        # a bilinear sampling's weights may sum to a hair above 1: 255 comes back an ulp above,
        # and the next clipping layer warns once (a member layer's rule, not this test's subject)
        warnings.simplefilter("ignore")
        layer(np.zeros((1, 3, 3, 3), np.float32), training=True)
    counts = np.bincount(layer._drawn["layer_idxes"], minlength=11)
    assert counts.min() > 130 and counts.max() < 240


def test_outside_training_it_is_the_identity_and_its_config_draws_the_same(rng):
    x = _images(rng, 4)
    layer = RandAugment(num_ops=2, factor=(0.2, 0.4), interpolation="nearest", seed=5)
    assert np.array_equal(layer(x, training=False), x) and layer.applied == []       # AutoContrast and Equalization too
    assert np.array_equal(layer.backward(np.ones_like(x)), np.ones_like(x))
    config = layer.get_config()
    assert {k: config[k] for k in ("value_range", "num_ops", "factor", "interpolation", "seed")} == \
        {"value_range": [0.0, 255.0], "num_ops": 2, "factor": [0.2, 0.4], "interpolation": "nearest", "seed": 5}
    copy = RandAugment.from_config(config)
    assert copy.get_config() == config
    layer.rng = None
    np.testing.assert_array_equal(copy(x, training=True), layer(x, training=True))
    # the members as Keras makes them: posterization keeps up to int(8 upper) bits
    assert layer.operations[0][NAMES.index("random_posterization")].factor == (1, 3)
    assert layer.operations[0][NAMES.index("random_rotation")].factor == (0.2, 0.4)


def test_a_model_trains_reproducibly_predicts_without_it_and_round_trips(rng, tmp_path):
    x = _images(rng, 16, (0, 1))
    y = (x[..., 0].mean(axis=(1, 2)) > 0.5).astype(int)

    def model():
        m = gn.Sequential([gn.Input((8, 7, 3)), gn.layers.Conv2D(3, 1), RandAugment((0, 1), num_ops=3),
                           gn.layers.Flatten(), gn.layers.Dense(1, activation="sigmoid")], seed=3)
        m.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.01))
        return m

    first, second = model(), model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                     # the Conv2D's outputs leave (0, 1)
        assert first.fit(x, y, epochs=2, batch_size=4, verbose=0).history == \
            second.fit(x, y, epochs=2, batch_size=4, verbose=0).history
    plain = gn.Sequential([gn.Input((8, 7, 3)), gn.layers.Conv2D(3, 1), gn.layers.Flatten(),
                           gn.layers.Dense(1, activation="sigmoid")])
    plain.set_weights(first.get_weights())
    np.testing.assert_array_equal(first.predict(x), plain.predict(x))
    first.save(tmp_path / "randaugment.npz")
    loaded = gn.load_model(tmp_path / "randaugment.npz")
    assert loaded.layers[1].get_config() == first.layers[1].get_config()
    np.testing.assert_array_equal(loaded.predict(x), first.predict(x))


@pytest.mark.parametrize("make, message", [
    (lambda: RandAugment(num_ops=-1), r"RandAugment: num_ops must be a non-negative integer .*got -1"),
    (lambda: RandAugment(num_ops=2.0), r"RandAugment: num_ops must be a non-negative integer .*got 2.0"),
    (lambda: RandAugment(factor=1.5), r"RandAugment: factor must be a number or a pair \(lower, upper\) of numbers "
                                      r"in \[0, 1\], got 1.5"),
    (lambda: RandAugment(interpolation="bicubic"), r"RandAugment: interpolation must be one of \['bilinear', "
                                                   r"'nearest'\], got 'bicubic'"),
    (lambda: RandAugment(value_range=(3, 3)), r"RandAugment: value_range must be a pair \(low, high\) of distinct"),
])
def test_bad_arguments_name_the_layer(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_images_of_other_channels_or_rank_are_refused_by_name(rng):
    with pytest.raises(ValueError, match=r"RandAugment.*expected gray or RGB images \(1 or 3 channels.*got 2 channels"):
        RandAugment()(np.zeros((2, 4, 4, 2), np.float32), training=True)
    with pytest.raises(ValueError, match=r"RandAugment.*expected input of shape \(batch, height, width, channels\)"):
        RandAugment()(np.zeros((2, 4, 4), np.float32), training=True)
    gray = RandAugment(num_ops=4, seed=0)(_images(rng, 2)[..., :1], training=True)
    assert gray.shape == (2, 8, 7, 1)
