"""Keras 3.15's CTC, Circle and CategoricalGeneralizedCrossEntropy losses (glassnet.losses.connectionist,
.similarity, .generalized): values against Keras, values and gradients against PyTorch autograd
(torch.nn.functional.ctc_loss for CTC; Keras' formulas in torch ops for the others) and finite
differences in float64, with sample weights; small models trained side by side with Keras; names,
model files and the errors."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import losses
from glassnet.gradcheck import check_loss


# ---------------------------------------------------------------- CTC

def _sequences(rng, n=5, steps=7, classes=5, width=4):
    """Logits (n, T, C) and label sequences padded with 0: lengths 0 .. width, repeats included."""
    z = rng.standard_normal((n, steps, classes)) * 2
    y = np.zeros((n, width), dtype=np.int64)
    lengths = [width, 2, 0, 3, 1][:n]
    for i, length in enumerate(lengths):
        y[i, :length] = rng.integers(1, classes, length)
    y[0, 1] = y[0, 0]                   # a repeated label: a blank must sit between the two
    return z, y, np.array(lengths)


def _torch_ctc(torch, z, y, lengths):
    t = torch.tensor(z, requires_grad=True)
    log_probs = torch.log_softmax(t, dim=-1).transpose(0, 1)
    per_sample = torch.nn.functional.ctc_loss(log_probs, torch.tensor(y), torch.full((z.shape[0],), z.shape[1]),
                                              torch.tensor(lengths), blank=0, reduction="none")
    return t, per_sample


def test_ctc_values_match_keras_with_and_without_weights(keras, rng):
    z, y, _ = _sequences(rng)
    z32 = z.astype(np.float32)
    w = rng.uniform(0, 2, len(z))
    per_sample = keras.losses.CTC(reduction=None)(y, z32).numpy()
    assert losses.CTC()(z32, y) == pytest.approx(float(per_sample.mean()), rel=1e-5)
    assert losses.CTC().weighted(z32, y, w) == pytest.approx(float((per_sample * w).mean()), rel=1e-5)
    assert losses.CTC()(z, y) == pytest.approx(float(keras.losses.CTC()(y, z32)), rel=1e-5)


def test_ctc_values_and_gradients_match_torch_ctc_loss_and_finite_differences(rng, torch):
    z, y, lengths = _sequences(rng)
    loss = losses.CTC()
    t, per_sample = _torch_ctc(torch, z, y, lengths)
    per_sample.mean().backward()        # Keras' reduction: the mean over samples, not per label
    assert loss(z, y) == pytest.approx(per_sample.mean().item(), rel=1e-12)
    np.testing.assert_allclose(loss.gradient(z, y), t.grad.numpy(), rtol=1e-9, atol=1e-12)
    check_loss(loss, z, y)
    w = rng.uniform(0, 2, len(z))
    w[2] = 0
    t, per_sample = _torch_ctc(torch, z, y, lengths)
    (per_sample * torch.tensor(w)).mean().backward()
    assert loss.weighted(z, y, w) == pytest.approx((per_sample * torch.tensor(w)).mean().item(), rel=1e-12)
    np.testing.assert_allclose(loss.weighted_gradient(z, y, w), t.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_ctc_float32_gradient_stays_close_to_float64_on_long_sequences():
    # scaling each step's alphas and betas: unscaled, they reach -1000 at T = 300, where float32
    # rounds each step by 6e-5 and the gradient drifted 3e-4 (norm) from float64's; now 5e-6
    rng = np.random.default_rng(0)
    z = rng.standard_normal((4, 300, 30)) * 2
    y = rng.integers(1, 30, size=(4, 60))
    exact, rounded = losses.CTC().gradient(z, y), losses.CTC().gradient(z.astype(np.float32), y)
    assert rounded.dtype == np.float32
    assert np.linalg.norm(rounded - exact) / np.linalg.norm(exact) < 3e-5
    assert losses.CTC()(z.astype(np.float32), y) == pytest.approx(losses.CTC()(z, y), rel=1e-6)


def test_ctc_counts_every_alignment_and_keeps_float32():
    # two steps, three classes, all equally likely: label [1] has 3 alignments of 9, [1, 2] has 1
    z = np.zeros((2, 2, 3), dtype=np.float32)
    assert losses.CTC()(z, np.array([[1, 0], [1, 2]])) == pytest.approx((np.log(3) + np.log(9)) / 2, rel=1e-6)
    assert losses.CTC().gradient(z, np.array([[1, 0], [1, 2]])).dtype == np.float32
    # a repeated label needs a blank between: 3 steps, one alignment (1 - 1) of 27
    assert losses.CTC()(np.zeros((1, 3, 3)), np.array([[1, 1]])) == pytest.approx(np.log(27))


@pytest.mark.parametrize("z,y,match", [
    (np.zeros((1, 3, 3)), np.array([[1, 1, 1]]), r"sample 0 needs at least 5 steps"),
    (np.zeros((1, 3, 3)), np.array([[0, 1]]), r"padded with 0 at the end only .* sample 0: \[0, 1\]"),
    (np.zeros((1, 3, 3)), np.array([[3]]), r"must lie in \[1, 3\)"),
    (np.zeros((1, 3, 3)), np.array([[1.5]]), "integer label sequences"),
    (np.zeros((1, 3, 3)), np.array([1]), r"shape \(n_samples, max_label_length\)"),
    (np.zeros((2, 3)), np.array([[1], [1]]), r"logits of shape \(n_samples, steps, classes\)")])
def test_ctc_refuses_what_does_not_fit_by_name(z, y, match):
    with pytest.raises(ValueError, match=match):
        losses.CTC()(z, y)


def _speller(lib, steps=8, features=3, classes=5):
    return [lib.Input((steps, features)), lib.layers.Dense(6, activation="tanh"), lib.layers.Dense(classes)]


def test_a_ctc_model_trains_as_keras_and_a_file_keeps_its_loss(keras, rng, tmp_path):
    x = rng.standard_normal((12, 8, 3)).astype(np.float32)
    y = np.zeros((12, 3), dtype=np.int64)
    for i in range(12):
        length = 1 + i % 3
        y[i, :length] = rng.integers(1, 5, length)
    ours, theirs = gn.Sequential(_speller(gn), seed=0), keras.Sequential(_speller(keras))
    theirs.set_weights(ours.get_weights())
    ours.compile("ctc", gn.optimizers.SGD(0.1))
    theirs.compile(loss=keras.losses.CTC(), optimizer=keras.optimizers.SGD(0.1))
    w = rng.uniform(0.5, 1.5, 12).astype(np.float32)
    kwargs = dict(batch_size=4, epochs=3, shuffle=False, verbose=0, sample_weight=w)
    mine, their = ours.fit(x, y, **kwargs).history["loss"], theirs.fit(x, y, **kwargs).history["loss"]
    np.testing.assert_allclose(mine, their, rtol=1e-4)
    assert mine[-1] < mine[0]
    ours.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert type(loaded.loss) is losses.CTC
    assert loaded.evaluate(x, y, verbose=0) == ours.evaluate(x, y, verbose=0)
    with pytest.raises(ValueError, match="sample 0 needs at least 9 steps"):
        ours.fit(x, np.ones((12, 5), dtype=np.int64), verbose=0)
    ids = rng.integers(1, 9, (12, 8))
    ids[:, 6:] = 0
    masked = gn.Sequential([gn.Input((8,)), gn.layers.Embedding(9, 4, mask_zero=True),
                            gn.layers.LSTM(4, return_sequences=True), gn.layers.Dense(5)], seed=0)
    masked.compile("ctc", "sgd")
    with pytest.raises(ValueError, match="ctc reads each sample's whole output sequence: .* got a masked output"):
        masked.fit(ids, y, verbose=0)
    flat = gn.Sequential([gn.Input((3,)), gn.layers.Dense(5)])
    flat.compile(losses.CTC(), "sgd")
    with pytest.raises(ValueError, match=r"ctc takes .* \(n_samples, steps, classes\)"):
        flat.fit(np.zeros((2, 3)), np.ones((2, 1)), verbose=0)


# ---------------------------------------------------------------- Circle

def _embeddings(rng, n=8, d=4, unit=True):
    p = rng.standard_normal((n, d))
    if unit:
        p /= np.linalg.norm(p, axis=1, keepdims=True)
    else:               # lengths away from 1, where max(1 - p.p, 0) has its kink
        p *= rng.uniform(0.3, 0.8, (n, 1)) / np.linalg.norm(p, axis=1, keepdims=True)
    labels = np.array([0, 1, 2, 0, 1, 0, 3, 2][:n])       # class 3 alone: no positive pair, left out
    return p, labels


CIRCLE_SETTINGS = [{}, {"gamma": 4.0, "margin": 0.25}, {"gamma": 2.0, "margin": 0.1, "remove_diagonal": False}]


@pytest.mark.parametrize("settings", CIRCLE_SETTINGS, ids=str)
def test_circle_values_match_keras_with_and_without_weights(settings, keras, rng):
    p, labels = _embeddings(rng)
    p32 = p.astype(np.float32)
    w = rng.uniform(0, 2, len(p)).astype(np.float32)
    theirs = keras.losses.Circle(**settings)
    assert losses.Circle(**settings)(p32, labels) == pytest.approx(float(theirs(labels, p32)), rel=1e-4)
    assert losses.Circle(**settings).weighted(p32, labels, w) == pytest.approx(
        float(theirs(labels, p32, sample_weight=w)), rel=1e-4)


def _torch_circle(torch, t, labels, gamma=80.0, margin=0.4, remove_diagonal=True):
    """Keras' circle() in torch ops: the per-sample values."""
    labels = torch.tensor(labels)
    distance = torch.clamp(1 - t @ t.T, min=0)
    same = labels[:, None] == labels[None, :]
    positive = same & ~torch.eye(len(labels), dtype=torch.bool) if remove_diagonal else same
    negative = ~same
    w_pos = torch.clamp((margin + distance) * positive, min=0)
    w_neg = torch.clamp((1 + margin - distance) * negative, min=0)
    pos = torch.where(positive, -gamma * w_pos * (margin - distance), -torch.inf)
    neg = torch.where(negative, gamma * w_neg * (1 - margin - distance), -torch.inf)
    return torch.nn.functional.softplus(torch.logsumexp(pos, dim=1) + torch.logsumexp(neg, dim=1))


@pytest.mark.parametrize("settings", CIRCLE_SETTINGS, ids=str)
def test_circle_values_and_gradients_match_torch_autograd_and_finite_differences(settings, rng, torch):
    p, labels = _embeddings(rng, unit=settings.get("remove_diagonal", True))
    loss = losses.Circle(**settings)
    for w in (None, rng.uniform(0, 2, len(p))):
        t = torch.tensor(p, requires_grad=True)
        values = _torch_circle(torch, t, labels, **settings)
        counted = (values > 0).sum()
        # the lone sample of class 3 has no positive pair, left out of the mean (but for itself)
        assert counted == len(p) - settings.get("remove_diagonal", True)
        total = (values if w is None else values * torch.tensor(w)).sum() / counted
        total.backward()
        ours = loss(p, labels) if w is None else loss.weighted(p, labels, w)
        grad = loss.gradient(p, labels) if w is None else loss.weighted_gradient(p, labels, w)
        assert ours == pytest.approx(total.item(), rel=1e-12)
        np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-9, atol=1e-12)
    check_loss(loss, p, labels)


def test_circle_of_a_batch_without_pairs_is_zero_and_keeps_float32(rng):
    p, _ = _embeddings(rng, n=3)
    assert losses.Circle()(p, np.array([0, 1, 2])) == 0.0
    np.testing.assert_array_equal(losses.Circle().gradient(p, np.array([0, 1, 2])), 0)
    p32 = p.astype(np.float32)
    assert losses.Circle().gradient(p32, np.array([0, 0, 1])).dtype == np.float32


def _embedder(lib):
    return [lib.Input((5,)), lib.layers.Dense(4), lib.layers.UnitNormalization()]


def test_a_circle_embedder_trains_as_keras_and_a_file_keeps_its_settings(keras, rng, tmp_path):
    x = rng.standard_normal((16, 5)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    settings = {"gamma": 8.0, "margin": 0.3}
    ours, theirs = gn.Sequential(_embedder(gn), seed=0), keras.Sequential(_embedder(keras))
    theirs.set_weights(ours.get_weights())
    ours.compile(losses.Circle(**settings), gn.optimizers.SGD(0.05))
    theirs.compile(loss=keras.losses.Circle(**settings), optimizer=keras.optimizers.SGD(0.05))
    kwargs = dict(batch_size=8, epochs=3, shuffle=False, verbose=0)
    mine, their = ours.fit(x, y, **kwargs).history["loss"], theirs.fit(x, y, **kwargs).history["loss"]
    np.testing.assert_allclose(mine, their, rtol=1e-4)
    assert mine[-1] < mine[0]
    ours.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert type(loaded.loss) is losses.Circle and vars(loaded.loss) == vars(ours.loss)
    assert repr(loaded.loss) == "<loss circle gamma=8.0 margin=0.3>"
    assert loaded.evaluate(x, y, verbose=0) == ours.evaluate(x, y, verbose=0)


# ---------------------------------------------------------------- generalized cross-entropy

def _probabilities(rng, n=6, k=4):
    z = rng.standard_normal((n, k)) * 2
    a = np.exp(z - z.max(axis=1, keepdims=True))
    return z, a / a.sum(axis=1, keepdims=True), rng.integers(0, k, n)


@pytest.mark.parametrize("q", [0.5, 0.1, 0.9])
def test_generalized_cross_entropy_matches_keras_with_and_without_weights(q, keras, rng):
    _, a, labels = _probabilities(rng)
    a32 = a.astype(np.float32)
    w = rng.uniform(0, 2, len(a)).astype(np.float32)
    theirs = keras.losses.CategoricalGeneralizedCrossEntropy(q=q)
    ours = losses.CategoricalGeneralizedCrossEntropy(q=q)
    assert ours(a32, labels) == pytest.approx(float(theirs(labels, a32)), rel=1e-5)
    assert ours.weighted(a32, labels, w) == pytest.approx(float(theirs(labels, a32, sample_weight=w)), rel=1e-5)


@pytest.mark.parametrize("q", [0.5, 0.1, 0.9])
def test_generalized_cross_entropy_gradients_match_torch_fused_and_not(q, rng, torch):
    z, a, labels = _probabilities(rng)
    loss = losses.CategoricalGeneralizedCrossEntropy(q=q)
    w = rng.uniform(0, 2, len(a))
    for weights in (None, w):
        scale = torch.ones(len(a)) if weights is None else torch.tensor(weights)
        # on the probabilities
        t = torch.tensor(a, requires_grad=True)
        value = ((1 - t[torch.arange(len(a)), torch.tensor(labels)] ** q) / q * scale).mean()
        value.backward()
        ours = loss(a, labels) if weights is None else loss.weighted(a, labels, weights)
        grad = loss.gradient(a, labels) if weights is None else loss.weighted_gradient(a, labels, weights)
        assert ours == pytest.approx(value.item(), rel=1e-12)
        np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-10, atol=1e-14)
        # fused: from the logits, through the softmax
        t = torch.tensor(z, requires_grad=True)
        p = torch.softmax(t, dim=1)[torch.arange(len(a)), torch.tensor(labels)]
        value = ((1 - p ** q) / q * scale).mean()
        value.backward()
        ours = (loss.value_from_logits(z, a, labels) if weights is None
                else loss.weighted_from_logits(z, a, labels, weights))
        grad = (loss.gradient_from_logits(a, labels) if weights is None
                else loss.weighted_gradient_from_logits(a, labels, weights))
        assert ours == pytest.approx(value.item(), rel=1e-12)
        np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-10, atol=1e-14)
    check_loss(loss, a, labels)
    assert loss.fused_activation() == "softmax"


def test_generalized_cross_entropy_from_logits_stays_exact_where_the_softmax_underflows():
    z = np.array([[0.0, -800.0], [0.0, 0.0]])
    a = np.exp(z - z.max(axis=1, keepdims=True))
    a /= a.sum(axis=1, keepdims=True)            # a[0, 1] is exactly 0
    loss = losses.CategoricalGeneralizedCrossEntropy(q=0.5)
    expected = ((1 - np.exp(-400.0)) / 0.5 + (1 - np.sqrt(0.5)) / 0.5) / 2
    assert loss.value_from_logits(z, a, np.array([1, 0])) == pytest.approx(expected, rel=1e-15)


def test_generalized_cross_entropy_does_not_clip_as_keras(keras):
    # a labelled class at p = 0: the value is 1/q; its unfused gradient is infinite in both
    a = np.array([[0.0, 1.0], [0.5, 0.5]], dtype=np.float32)
    loss, theirs = losses.CategoricalGeneralizedCrossEntropy(q=0.25), keras.losses.CategoricalGeneralizedCrossEntropy(q=0.25)
    assert loss(a, np.array([0, 1])) == pytest.approx(float(theirs(np.array([0, 1]), a)), rel=1e-6)
    assert np.isneginf(loss.gradient(a, np.array([0, 1]))[0, 0])
    assert "takes probabilities" in loss.invalid_output(np.array([[-0.1, 1.1]])) and loss.invalid_output(a) is None


def _classifier(lib):
    return [lib.Input((5,)), lib.layers.Dense(8, activation="relu"), lib.layers.Dense(3, activation="softmax")]


def test_a_classifier_trains_with_it_as_keras_and_a_file_keeps_q(keras, rng, tmp_path):
    x = rng.standard_normal((24, 5)).astype(np.float32)
    y = rng.integers(0, 3, 24)
    ours, theirs = gn.Sequential(_classifier(gn), seed=0), keras.Sequential(_classifier(keras))
    theirs.set_weights(ours.get_weights())
    ours.compile(losses.CategoricalGeneralizedCrossEntropy(q=0.7), gn.optimizers.SGD(0.5))
    theirs.compile(loss=keras.losses.CategoricalGeneralizedCrossEntropy(q=0.7), optimizer=keras.optimizers.SGD(0.5))
    w = rng.uniform(0.5, 1.5, 24).astype(np.float32)
    kwargs = dict(batch_size=8, epochs=3, shuffle=False, verbose=0, sample_weight=w)
    mine, their = ours.fit(x, y, **kwargs).history["loss"], theirs.fit(x, y, **kwargs).history["loss"]
    np.testing.assert_allclose(mine, their, rtol=1e-4)
    assert mine[-1] < mine[0]
    ours.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert type(loaded.loss) is losses.CategoricalGeneralizedCrossEntropy and loaded.loss.q == 0.7
    assert loaded.evaluate(x, y, verbose=0) == ours.evaluate(x, y, verbose=0)


# ---------------------------------------------------------------- names and settings

@pytest.mark.parametrize("name,cls", [("ctc", losses.CTC), ("CTC", losses.CTC), ("circle", losses.Circle),
                                      ("Circle", losses.Circle),
                                      ("categorical_generalized_cross_entropy", losses.CategoricalGeneralizedCrossEntropy),
                                      ("CategoricalGeneralizedCrossEntropy", losses.CategoricalGeneralizedCrossEntropy)])
def test_by_name_as_keras_names_them(name, cls):
    assert type(losses.get(name)) is cls


@pytest.mark.parametrize("make,match", [
    (lambda: losses.CategoricalGeneralizedCrossEntropy(q=1.0), r"q must be a number in \(0, 1\), got 1.0"),
    (lambda: losses.CategoricalGeneralizedCrossEntropy(q=0), r"q must be a number in \(0, 1\)"),
    (lambda: losses.Circle(gamma=-1), "Circle: gamma must be a finite number > 0"),
    (lambda: losses.Circle(remove_diagonal="yes"), "Circle: remove_diagonal"),
    (lambda: losses.Circle()(np.ones((2, 3)), np.array([0.0, 1.0])), r"integer class labels of shape \(2,\)"),
    (lambda: losses.CategoricalGeneralizedCrossEntropy()(np.ones((2, 3)) / 3, np.array([0, 3])),
     r"labels must lie in \[0, 3\)")])
def test_bad_settings_and_targets_are_refused_by_name(make, match):
    with pytest.raises(ValueError, match=match):
        make()
