"""Review (session 45, fitfuzz): whole training runs fuzzed against Keras 3.15 — random small models,
losses, optimizers and fit set-ups, the same initial weights, history, weights and predictions
compared. Each test here is a disagreement the fuzzer found, fixed in glassnet."""

import numpy as np
import pytest

import glassnet as gn


@pytest.fixture
def keras():
    return pytest.importorskip("keras")


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight", "none"])
@pytest.mark.parametrize("name,settings", [("Dice", {}), ("Tversky", {"alpha": 0.3, "beta": 0.7})])
def test_overlap_loss_over_the_batch_takes_sample_weights_as_keras(name, settings, reduction, keras):
    # axis=None (Keras' default) makes one ratio of the whole batch; Keras 3.15 multiplies it by
    # each sample weight and reduces those n values. glassnet refused the weights, saying Keras does.
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, (6, 4, 4, 1))
    y = (rng.random((6, 4, 4, 1)) < 0.5).astype(np.float64)
    w = rng.uniform(0.2, 2.0, 6)
    ours = getattr(gn.losses, name)(reduction=reduction, **settings)
    theirs = getattr(keras.losses, name)(reduction=reduction, dtype="float64", **settings)
    expected = np.asarray(theirs(y, p, sample_weight=w))
    got = np.asarray(ours(p, y, sample_weight=w))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_dice_fit_with_class_weights_trains_as_keras(keras):
    # the fuzzer's case: a sigmoid classifier on Dice with class_weight, refused before
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 5)).astype(np.float32)
    y = (rng.random((20, 1)) < 0.4).astype(np.float32)

    def layers(lib):
        return [lib.Input((5,)), lib.layers.Dense(3, activation="tanh"), lib.layers.Dense(1, activation="sigmoid")]

    ours, theirs = gn.Sequential(layers(gn), seed=0), keras.Sequential(layers(keras))
    theirs.set_weights(ours.get_weights())
    histories = []
    for model, lib in ((ours, gn), (theirs, keras)):
        model.compile(optimizer=lib.optimizers.SGD(0.5), loss=lib.losses.Dice())
        histories.append(model.fit(x, y, batch_size=7, epochs=1, shuffle=False, verbose=0,
                                   class_weight={0: 0.5, 1: 2.0}).history["loss"])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("balancing", [False, True])
def test_binary_focal_from_logits_is_not_clipped(balancing, keras):
    # from_logits=True: Keras takes the cross-entropy of the logits, exactly; glassnet clipped the
    # probabilities to [1e-7, 1 - 1e-7], so a logit beyond about 16 on the wrong side cost 16.1 and
    # had no gradient: a dense layer's bias stayed put where Keras' moved by 0.5 in one step.
    x = np.ones((4, 1))
    y = np.array([[0.0], [1.0], [0.0], [1.0]])
    results = []
    for lib in (gn, keras):
        parts = [lib.Input((1,)), lib.layers.Dense(1)]
        model = gn.Sequential(parts, seed=0, dtype="float64") if lib is gn else keras.Sequential(parts)
        model.set_weights([np.array([[1.0]]), np.array([30.0])])
        loss = lib.losses.BinaryFocalCrossentropy(from_logits=True, label_smoothing=0.1,
                                                  apply_class_balancing=balancing, **({} if lib is gn else {"dtype": "float64"}))
        model.compile(optimizer=lib.optimizers.SGD(1.0), loss=loss)
        value = model.evaluate(x, y, verbose=0)
        model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        results.append((value, model.get_weights()[1][0]))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-6)
    assert results[0][1] == pytest.approx(results[1][1], rel=1e-6)
    assert results[0][1] < 29.9            # it moved


def test_binary_focal_from_logits_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(5, 3)) * 12
    y = (rng.random((5, 3)) < 0.5).astype(np.float64)
    loss = gn.losses.BinaryFocalCrossentropy(from_logits=True, gamma=1.5, label_smoothing=0.05)
    g = loss.gradient(z, y)
    h = 1e-6
    numeric = np.zeros_like(z)
    for i in np.ndindex(z.shape):
        up, down = z.copy(), z.copy()
        up[i] += h
        down[i] -= h
        numeric[i] = (loss(up, y) - loss(down, y)) / (2 * h)
    np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-9)
