"""AugMix (layers/aug_mix.py): against Keras 3.15's AugMix.transform_images given the weights, the
blend, the picks and the per-image draws glassnet made; equal to its glassnet layers applied and
mixed from the same generator (it composes them); the gradient against PyTorch autograd for picks
among the operations written here in torch; inference, config, a model, a Pipeline and the errors.
The layer contract and finite differences are in test_layer_contract.py."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import AugMix
from glassnet.layers.aug_mix import OPERATIONS
from glassnet.layers.color_augmentation import LUMA
from glassnet.layers.sharpness import SMOOTH

NAMES = [name for name, _ in OPERATIONS]


def _keras():
    return pytest.importorskip("keras", reason="Keras oracle not installed")


def _images(rng, n=6, value_range=(0, 255), dtype=np.float32, channels=3):
    return rng.uniform(*value_range, size=(n, 8, 7, channels)).astype(dtype)


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
    "auto_contrast": lambda d, x: None,
}


def _base_name(layer):
    head, _, tail = layer.name.rpartition("_")
    return head if tail.isdigit() else layer.name


def _runs_picking(allowed, make, x, count):
    """(layer, output) for the first ``count`` seeds whose picks all lie in ``allowed`` (or none)."""
    found = []
    for seed in range(3000):
        layer = make(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = layer(x, training=True)
        if all(_base_name(a) in allowed for chain in layer.applied for a in chain):
            found.append((layer, out))
            if len(found) == count:
                return found
    raise AssertionError("not enough seeds")


def _keras_transformation(layer, x):
    return {"chain_mixing_weights": layer._drawn["chain_mixing_weights"].astype(np.float32),
            "weight_sample": np.float32(layer._drawn["weight_sample"]),
            "chain_transforms": [[{"layer_name": _base_name(a), "transformation": KERAS_FORMS[_base_name(a)](getattr(a, "_drawn", None), x)
                                   if _base_name(a) in KERAS_FORMS else None} for a in chain] for chain in layer.applied]}


@pytest.mark.parametrize("value_range", [(0, 255), (0, 1)])
def test_matches_keras_for_the_draws_made(value_range, rng):
    # translation and rotation keep no draws to hand Keras (their own tests compare them, and the
    # composition test below them here), and Keras' equalization pools the batch: picks among the others
    keras = _keras()
    x = _images(rng, 6, value_range)
    runs = _runs_picking(KERAS_FORMS, lambda s: AugMix(value_range, factor=0.5, alpha=0.8, seed=s), x, 8)
    seen = set()
    for layer, ours in runs:
        theirs_layer = keras.layers.AugMix(value_range, factor=0.5, alpha=0.8)
        theirs = np.asarray(theirs_layer.transform_images(x, _keras_transformation(layer, x)))
        width = value_range[1] - value_range[0]
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5 * width)
        seen |= {_base_name(a) for chain in layer.applied for a in chain}
        assert np.abs(ours - x).max() > 1e-3 * width
    assert len(seen) >= 6


def test_equalization_and_the_basic_seven_match_keras_for_one_image(rng):
    keras = _keras()
    x = _images(rng, 1)
    allowed = {"equalization", "solarization", "random_posterization", "auto_contrast", "random_shear"}
    runs = _runs_picking(allowed, lambda s: AugMix(all_ops=False, num_chains=2, seed=s), x, 4)
    assert any(_base_name(a) == "equalization" for layer, _ in runs for chain in layer.applied for a in chain)
    for layer, ours in runs:
        theirs_layer = keras.layers.AugMix(all_ops=False, num_chains=2)
        theirs = theirs_layer.transform_images(x, _keras_transformation(layer, x))
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-5, atol=2e-3)


@pytest.mark.parametrize("interpolation, all_ops", [("bilinear", True), ("nearest", False)])
def test_it_is_its_layers_mixed_from_one_generator(interpolation, all_ops, rng):
    x = _images(rng, 4, (0, 1), np.float64)
    factor, alpha = (0.1, 0.6), 0.5
    layer = AugMix((0, 1), num_chains=3, chain_depth=3, factor=factor, alpha=alpha, all_ops=all_ops,
                   interpolation=interpolation, seed=11, dtype="float64")
    ops = OPERATIONS if all_ops else OPERATIONS[:7]
    generator = np.random.default_rng(11)
    names = set()
    for _ in range(5):                                      # batch after batch, the same stream
        ours = layer(x, training=True)
        gammas = generator.gamma(alpha, size=3)
        weights, blend = gammas / gammas.sum(), generator.beta(alpha, alpha)
        picks = generator.integers(0, len(ops) + 1, (3, 3))
        mixed = np.zeros_like(x)
        for c in range(3):
            images = x
            for pick in picks[c]:
                if pick < len(ops):
                    step = ops[pick][1](factor, (0, 1), interpolation)
                    step.rng = generator
                    images = step.forward(images, training=True)
                    names.add(ops[pick][0])
            mixed += images * weights[c]
        expected = np.clip(blend * x + (1 - blend) * mixed, 0, 1)
        np.testing.assert_array_equal(ours, expected)
        np.testing.assert_array_equal(layer._drawn["layer_idxes"], picks)
        assert np.isclose(layer._drawn["chain_mixing_weights"].sum(), 1) and 0 <= layer._drawn["weight_sample"] <= 1
    assert {"random_translation", "random_rotation"} & names
    assert all_ops or not names & {"random_brightness", "random_color_degeneration", "random_contrast",
                                   "random_sharpness"}


def test_a_pick_made_twice_draws_twice():
    layer = AugMix(num_chains=1, chain_depth=1, seed=0)
    assert len({id(step) for chain in layer.chains for steps in chain for step in steps}) == 11
    layer = AugMix(num_chains=2, chain_depth=2)
    assert [s.name for s in (layer.chains[0][0][0], layer.chains[0][1][0], layer.chains[1][1][0])] == \
        ["random_shear", "random_shear_1", "random_shear_3"]


def test_gradient_matches_torch_for_the_picks_written_in_torch(torch, rng):
    low, high = 0.0, 1.0
    col = (lambda v: torch.tensor(np.asarray(v, np.float64))[:, None, None, None])
    kernel = torch.tensor(SMOOTH).reshape(1, 1, 3, 3).repeat(3, 1, 1, 1)

    def step(layer, t):
        name, d = _base_name(layer), getattr(layer, "_drawn", None)
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

    written = {"random_brightness", "random_contrast", "random_sharpness", "random_color_degeneration",
               "solarization", "auto_contrast"}
    x = _images(rng, 4, (low, high), np.float64)

    def make(seed):
        layer = AugMix((low, high), num_chains=3, chain_depth=2, factor=(0.2, 0.7), alpha=0.6, seed=seed, dtype="float64")
        layer.needs_input_gradient = True
        return layer

    runs = _runs_picking(written, make, x, 4)
    assert sum(len(chain) for layer, _ in runs for chain in layer.applied) >= 8
    for layer, ours in runs:
        t = torch.tensor(x, requires_grad=True)
        mixed = 0
        for weight, chain in zip(layer._drawn["chain_mixing_weights"], layer.applied):
            images = t
            for applied in chain:
                images = step(applied, images)
            mixed = mixed + images * float(weight)
        m = float(layer._drawn["weight_sample"])
        out = torch.clamp(m * t + (1 - m) * mixed, low, high)
        g = rng.normal(size=x.shape)
        (out * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(ours, out.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.backward(g), t.grad.numpy(), rtol=1e-9, atol=1e-10)


def test_outside_training_it_is_the_identity_and_its_config_draws_the_same(rng):
    x = _images(rng, 4)
    layer = AugMix(num_chains=2, chain_depth=4, factor=(0.2, 0.4), alpha=0.5, all_ops=False, interpolation="nearest",
                   seed=5)
    assert np.array_equal(layer(x, training=False), x) and layer.applied == []       # AutoContrast and Equalization too
    layer.needs_input_gradient = True
    assert np.array_equal(layer.backward(np.ones_like(x)), np.ones_like(x))
    config = layer.get_config()
    assert {k: config[k] for k in ("value_range", "num_chains", "chain_depth", "factor", "alpha", "all_ops",
                                   "interpolation", "seed")} == \
        {"value_range": [0.0, 255.0], "num_chains": 2, "chain_depth": 4, "factor": [0.2, 0.4], "alpha": 0.5,
         "all_ops": False, "interpolation": "nearest", "seed": 5}
    copy = AugMix.from_config(config)
    assert copy.get_config() == config
    layer.rng = None
    np.testing.assert_array_equal(copy(x, training=True), layer(x, training=True))
    # the members as Keras makes them: posterization keeps up to int(8 upper) bits; seven operations
    assert len(layer.chains[0][0]) == 7 and len(AugMix().chains[0][0]) == 11
    assert layer.chains[0][0][NAMES.index("random_posterization")].factor == (1, 3)
    assert layer.chains[0][0][NAMES.index("random_rotation")].factor == (0.2, 0.4)
    assert AugMix(factor=0.3).factor == (0.0, 0.3)                   # Keras' (0, f) for a number


def test_a_model_trains_reproducibly_predicts_without_it_and_round_trips(rng, tmp_path):
    x = _images(rng, 16, (0, 1))
    y = (x[..., 0].mean(axis=(1, 2)) > 0.5).astype(int)

    def model():
        m = gn.Sequential([gn.Input((8, 7, 3)), gn.layers.Conv2D(3, 1),
                           gn.layers.Pipeline([gn.layers.RandomFlip(), AugMix((0, 1), num_chains=2, chain_depth=2)]),
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
    first.save(tmp_path / "augmix.npz")
    loaded = gn.load_model(tmp_path / "augmix.npz")
    assert loaded.layers[1].get_config() == first.layers[1].get_config()
    np.testing.assert_array_equal(loaded.predict(x), first.predict(x))


@pytest.mark.parametrize("make, message", [
    (lambda: AugMix(num_chains=0), r"AugMix: num_chains must be a positive integer .*got 0"),
    (lambda: AugMix(chain_depth=2.0), r"AugMix: chain_depth must be a positive integer .*got 2.0"),
    (lambda: AugMix(chain_depth=(1, 3)), r"AugMix: chain_depth must be a positive integer .*got \(1, 3\); KerasCV's"),
    (lambda: AugMix(alpha=0.0), r"AugMix: alpha must be a finite number > 0 .*got 0.0"),
    (lambda: AugMix(all_ops="yes"), r"AugMix: all_ops must be True or False, got 'yes'"),
    (lambda: AugMix(factor=1.5), r"AugMix: factor must be a number or a pair \(lower, upper\) of numbers "
                                 r"in \[0, 1\], got 1.5"),
    (lambda: AugMix(interpolation="bicubic"), r"AugMix: interpolation must be one of \['bilinear', "
                                              r"'nearest'\], got 'bicubic'"),
    (lambda: AugMix(value_range=(3, 3)), r"AugMix: value_range must be a pair \(low, high\) of distinct"),
])
def test_bad_arguments_name_the_layer(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_images_of_other_channels_or_rank_are_refused_by_name(rng):
    with pytest.raises(ValueError, match=r"AugMix.*expected gray or RGB images \(1 or 3 channels.*got 2 channels"):
        AugMix()(np.zeros((2, 4, 4, 2), np.float32), training=True)
    with pytest.raises(ValueError, match=r"AugMix.*expected input of shape \(batch, height, width, channels\)"):
        AugMix()(np.zeros((2, 4, 4), np.float32), training=True)
    gray = AugMix(seed=0)(_images(rng, 2, channels=1), training=True)
    assert gray.shape == (2, 8, 7, 1)
    two = AugMix(all_ops=False, seed=0)(_images(rng, 2, channels=2), training=True)      # no colour operation
    assert two.shape == (2, 8, 7, 2)
