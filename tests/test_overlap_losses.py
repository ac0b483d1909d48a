"""Keras' Dice and Tversky losses (glassnet.losses.overlap): values against Keras 3.15, values and
gradients against PyTorch autograd and finite differences, over the whole batch and per sample,
with sample weights; a segmentation model trained as Keras trains it; files; the errors."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import losses
from glassnet.gradcheck import check_loss

L = gn.layers


def _masks(rng, shape=(3, 4, 5, 2)):
    y = (rng.random(shape) < 0.4).astype(np.float64)
    p = 1 / (1 + np.exp(-rng.standard_normal(shape)))
    return p, y


SETTINGS = [("dice", {}), ("dice", {"axis": (1, 2, 3)}), ("dice", {"axis": -1}), ("dice", {"axis": (0, 3)}),
            ("tversky", {}), ("tversky", {"alpha": 0.7, "beta": 0.3, "axis": (1, 2, 3)}),
            ("tversky", {"alpha": 0.0, "beta": 1.5, "axis": (2, 1)})]
CLASSES = {"dice": losses.Dice, "tversky": losses.Tversky}


@pytest.mark.parametrize("name,settings", SETTINGS, ids=str)
def test_values_match_keras(name, settings, keras, rng):
    p, y = _masks(rng)
    theirs = getattr(keras.losses, CLASSES[name].__name__)(**settings)
    assert CLASSES[name](**settings)(p, y) == pytest.approx(float(theirs(y, p)), rel=1e-6)


def _torch_values(name, settings, t, y, torch):
    """The loss of each ratio, in PyTorch, as Keras writes it."""
    axes = settings.get("axis", None)
    axes = tuple(range(t.ndim)) if axes is None else (axes,) if isinstance(axes, int) else axes
    y = torch.tensor(y)
    inter = (y * t).sum(dim=axes, keepdim=True)
    if name == "dice":
        return 1 - 2 * inter / (y.sum(dim=axes, keepdim=True) + t.sum(dim=axes, keepdim=True) + 1e-7)
    a, b = settings.get("alpha", 0.5), settings.get("beta", 0.5)
    missed, added = (y * (1 - t)).sum(dim=axes, keepdim=True), ((1 - y) * t).sum(dim=axes, keepdim=True)
    return 1 - inter / (inter + a * missed + b * added + 1e-7)


@pytest.mark.parametrize("name,settings", SETTINGS, ids=str)
def test_values_and_gradients_match_torch_autograd_and_finite_differences(name, settings, rng, torch):
    p, y = _masks(rng)
    loss = CLASSES[name](**settings)
    t = torch.tensor(p, requires_grad=True)
    values = _torch_values(name, settings, t, y, torch)
    values.mean().backward()
    assert loss(p, y) == pytest.approx(values.mean().item(), rel=1e-12)
    np.testing.assert_allclose(loss.gradient(p, y), t.grad.numpy(), rtol=1e-9, atol=1e-13)
    check_loss(loss, p, y)
    if 0 in loss._axes(p):          # one ratio over the samples: no weights per sample
        return
    w = rng.uniform(0, 2, 3)
    w[1] = 0
    t = torch.tensor(p, requires_grad=True)
    values = _torch_values(name, settings, t, y, torch)
    weighted = (values * torch.tensor(w).reshape(-1, *([1] * (values.ndim - 1)))).sum() / values.numel()
    weighted.backward()
    assert loss.weighted(p, y, w) == pytest.approx(weighted.item(), rel=1e-12)
    np.testing.assert_allclose(loss.weighted_gradient(p, y, w), t.grad.numpy(), rtol=1e-9, atol=1e-13)
    # weights of one: bit for bit the unweighted loss, in float32 too
    p32, y32 = p.astype(np.float32), y.astype(np.float32)
    assert loss.weighted(p32, y32, np.ones(3)) == loss(p32, y32)
    np.testing.assert_array_equal(loss.weighted_gradient(p32, y32, np.ones(3)), loss.gradient(p32, y32))


def _segmenter(lib):
    return [lib.Input((6, 6, 1)), lib.layers.Conv2D(4, 3, padding="same", activation="relu"),
            lib.layers.Conv2D(1, 3, padding="same", activation="sigmoid")]


@pytest.mark.parametrize("name,settings", [("dice", {"axis": (1, 2, 3)}), ("tversky", {"alpha": 0.7, "beta": 0.3})],
                         ids=str)
def test_a_segmenter_trains_as_keras_and_keeps_its_loss_in_a_file(name, settings, keras, rng, tmp_path):
    x = rng.random((16, 6, 6, 1)).astype(np.float32)
    y = (x > 0.5).astype(np.float32)
    ours, theirs = gn.Sequential(_segmenter(gn), seed=0), keras.Sequential(_segmenter(keras))
    theirs.set_weights(ours.get_weights())
    ours.compile(CLASSES[name](**settings), gn.optimizers.SGD(0.5), metrics=[gn.metrics.BinaryIoU(name="iou")])
    theirs.compile(loss=getattr(keras.losses, CLASSES[name].__name__)(**settings),
                   optimizer=keras.optimizers.SGD(0.5), metrics=[keras.metrics.BinaryIoU(name="iou")])
    kwargs = dict(batch_size=8, epochs=3, shuffle=False, verbose=0)
    if "axis" in settings:              # per image: sample weights weigh the images
        kwargs["sample_weight"] = rng.uniform(0.5, 1.5, 16).astype(np.float32)
    mine, their = ours.fit(x, y, **kwargs).history, theirs.fit(x, y, **kwargs).history
    np.testing.assert_allclose(mine["loss"], their["loss"], rtol=1e-4)
    np.testing.assert_allclose(mine["iou"], their["iou"], rtol=1e-4, atol=1e-6)
    assert mine["loss"][-1] < mine["loss"][0]
    ours.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert type(loaded.loss) is CLASSES[name] and vars(loaded.loss) == vars(ours.loss)
    assert loaded.evaluate(x, y, verbose=0) == ours.evaluate(x, y, verbose=0)


@pytest.mark.parametrize("make,match", [
    (lambda: losses.Dice(axis="all"), "Dice: axis must be None, an integer or a tuple of distinct integers"),
    (lambda: losses.Dice(axis=(1, 1)), "distinct"),
    (lambda: losses.Tversky(alpha=-1), "Tversky: alpha must be a finite number >= 0"),
    (lambda: losses.Dice(axis=4)(np.ones((2, 3)), np.ones((2, 3))), r"dice: axis=\(4,\) does not fit outputs of shape"),
    (lambda: losses.Dice(axis=0).weighted(np.ones((2, 3)), np.ones((2, 3)), np.ones(2)),
     "sums over the samples but not over every axis"),
    (lambda: losses.Tversky(axis=1).weighted(np.ones((2, 3)), np.ones((2, 3)), np.ones(3)),
     r"expected one weight per sample, shape \(2,\)")])
def test_what_does_not_fit_is_refused_by_name(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_by_name_and_in_fit_with_weights_over_the_batch_scaling_its_one_ratio(rng):
    # Keras 3.15 multiplies the batch's one ratio by each weight and averages: the mean weight
    assert type(losses.get("dice")) is losses.Dice and type(losses.get("Tversky")) is losses.Tversky
    model = gn.Sequential(_segmenter(gn), seed=0)
    model.compile("dice", "sgd")
    x = rng.random((4, 6, 6, 1)).astype(np.float32)
    y = (x > 0.5).astype(np.float32)
    plain = model.evaluate(x, y, batch_size=4, verbose=0)
    weighted = model.evaluate(x, y, batch_size=4, sample_weight=np.array([1.0, 2.0, 0.5, 0.5]), verbose=0)
    assert weighted == pytest.approx(plain, rel=1e-6)
    assert model.evaluate(x, y, batch_size=4, sample_weight=np.full(4, 3.0), verbose=0) == pytest.approx(3 * plain, rel=1e-6)
