"""CategoricalFocalCrossentropy(alpha=[one weight per class]), as Keras 3.15 takes it: values
(every reduction, sample weights, from_logits) against Keras, gradients against PyTorch autograd
and finite differences, a model trained side by side with Keras, and model files keeping it."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet import activations, losses

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ALPHA = [0.1, 0.5, 0.25, 1.5]


def data(rng, n=8, k=4):
    logits = rng.standard_normal((n, k)) * 2
    y = np.eye(k)[rng.integers(0, k, n)]
    y[0] = [0.2, 0.3, 0.5, 0.0]             # soft labels too
    return logits, y


@pytest.mark.parametrize("settings", [dict(), dict(gamma=0.7, label_smoothing=0.1), dict(from_logits=True),
                                      dict(reduction="sum"), dict(reduction="mean_with_sample_weight")], ids=str)
def test_values_match_keras(settings, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    logits, y = data(rng)
    y_hat = logits if settings.get("from_logits") else activations.softmax(logits)
    ours = losses.CategoricalFocalCrossentropy(alpha=ALPHA, **settings)
    theirs = keras.losses.CategoricalFocalCrossentropy(alpha=ALPHA, **settings)
    assert ours(y_hat, y) == pytest.approx(float(theirs(y, y_hat)), rel=2e-6)
    w = rng.uniform(0, 2, len(y))
    assert ours.weighted(y_hat, y, w) == pytest.approx(float(theirs(y, y_hat, sample_weight=w)), rel=2e-6)
    # a list of one value per class is not the same as that value for all: the list is read
    assert ours(y_hat, y) != pytest.approx(losses.CategoricalFocalCrossentropy(alpha=0.25, **settings)(y_hat, y))


@pytest.mark.parametrize("from_logits", [False, True])
def test_gradient_matches_torch_autograd(from_logits, rng, torch):
    logits, y = data(rng)
    y_hat = logits if from_logits else activations.softmax(logits)
    loss = losses.CategoricalFocalCrossentropy(alpha=ALPHA, gamma=0.7, from_logits=from_logits)
    t = torch.tensor(y_hat, requires_grad=True)
    p = torch.softmax(t, dim=1) if from_logits else t
    p = p / p.sum(dim=1, keepdim=True)          # Keras' rescaling of each row, even after a softmax
    p = torch.clamp(p, 1e-7, 1 - 1e-7)
    value = -(torch.tensor(ALPHA) * (1 - p) ** 0.7 * torch.tensor(y) * torch.log(p)).sum(dim=1).mean()
    value.backward()
    assert loss(y_hat, y) == pytest.approx(value.item(), rel=1e-12)
    np.testing.assert_allclose(loss.gradient(y_hat, y), t.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_gradient_matches_finite_differences(rng):
    logits, y = data(rng)
    y_hat = activations.softmax(logits)
    loss = losses.CategoricalFocalCrossentropy(alpha=ALPHA, gamma=1.5)
    grad = loss.gradient(y_hat, y)
    h, numeric = 1e-6, np.zeros_like(y_hat)
    for index in np.ndindex(y_hat.shape):
        up, down = y_hat.copy(), y_hat.copy()
        up[index] += h
        down[index] -= h
        numeric[index] = (loss(up, y) - loss(down, y)) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_float32_stays_float32(rng):
    logits, y = data(rng)
    y_hat = activations.softmax(logits).astype(np.float32)
    assert losses.CategoricalFocalCrossentropy(alpha=ALPHA).gradient(y_hat, y.astype(np.float32)).dtype == np.float32


def test_a_model_trains_as_keras_and_files_keep_the_list(rng, tmp_path):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(24, 3)).astype(np.float32)
    y = np.eye(4)[rng.integers(0, 4, 24)].astype(np.float32)
    ours = gn.Sequential([gn.layers.Dense(6, activation="tanh", input_shape=(3,)),
                          gn.layers.Dense(4, activation="softmax")], seed=0)
    ours.compile(loss=losses.CategoricalFocalCrossentropy(alpha=ALPHA), optimizer=gn.optimizers.SGD(0.5))
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(6, activation="tanh"),
                               keras.layers.Dense(4, activation="softmax")])
    theirs.compile(loss=keras.losses.CategoricalFocalCrossentropy(alpha=ALPHA), optimizer=keras.optimizers.SGD(0.5))
    theirs.set_weights(ours.get_weights())
    mine = ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    their = theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(mine, their, rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)
    ours.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz").loss
    assert loaded.alpha == tuple(ALPHA) and losses.changed_settings(loaded) == {"alpha": ALPHA}


@pytest.mark.parametrize("make, message", [
    (lambda: losses.CategoricalFocalCrossentropy(alpha=[]), r"alpha must be a number >= 0 or a list"),
    (lambda: losses.CategoricalFocalCrossentropy(alpha=[0.5, -1.0]), r"alpha\[1\] must be"),
    (lambda: losses.CategoricalFocalCrossentropy(alpha=[0.5, "x"]), r"alpha\[1\] must be"),
    (lambda: losses.CategoricalFocalCrossentropy(alpha=[0.5, 0.5])(np.full((2, 3), 1 / 3), np.eye(3)[:2]),
     r"alpha gives 2 class weights, the outputs have 3 classes"),
], ids=["empty", "negative", "string", "classes"])
def test_refused_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_fit_refuses_a_list_of_the_wrong_length_before_training():
    model = gn.Sequential([gn.layers.Dense(3, activation="softmax", input_dim=2)], seed=0)
    model.compile(loss=losses.CategoricalFocalCrossentropy(alpha=[1.0, 2.0]), optimizer="sgd")
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"y: CategoricalFocalCrossentropy's alpha gives 2 class weights, the model's "
                                         r"output has 3 classes"):
        model.fit(np.zeros((4, 2)), np.eye(3)[[0, 1, 2, 0]], epochs=1, verbose=0)
    assert all((a == b).all() for a, b in zip(before, model.get_weights()))


def test_one_element_alpha_is_broadcast_as_keras_does(rng):
    """alpha=[0.5] is Keras' 0.5 for every class (it multiplies, broadcasting the one value): the
    same loss as alpha=0.5, not refused as a list of one weight for k classes."""
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    logits, y = data(rng)
    y_hat = activations.softmax(logits)
    ours = losses.CategoricalFocalCrossentropy(alpha=[0.5])
    assert ours.alpha == 0.5
    assert ours(y_hat, y) == losses.CategoricalFocalCrossentropy(alpha=0.5)(y_hat, y)
    assert ours(y_hat, y) == pytest.approx(float(keras.losses.CategoricalFocalCrossentropy(alpha=[0.5])(y, y_hat)),
                                           rel=2e-6)
