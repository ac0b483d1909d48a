"""Losses: values by hand, finite-difference gradients, PyTorch parity, the fused logits path."""
import warnings

import numpy as np
import pytest

from glassnet import activations, losses
from glassnet.gradcheck import GradientCheckError, check_loss, numerical_gradient


def _targets(name, rng, n=5, k=3):
    if name in ("sparse_categorical_crossentropy", "categorical_generalized_cross_entropy"):
        return rng.integers(0, k, n)
    if name == "circle":                # classes of two or more: every sample has a positive pair
        return np.arange(n) % 2
    if name == "ctc":                   # label sequences over classes 1 .. k - 1, padded with 0
        return np.where(np.arange(2) < rng.integers(0, 3, (n, 1)), rng.integers(1, k, (n, 2)), 0)
    if name in ("categorical_crossentropy", "categorical_hinge", "categorical_focal_crossentropy"):
        return np.eye(k)[rng.integers(0, k, n)]
    if name in ("binary_crossentropy", "binary_focal_crossentropy"):
        return rng.integers(0, 2, (n, k)).astype(float)
    if name in ("hinge", "squared_hinge"):
        return rng.choice([-1.0, 1.0], (n, k))
    if name == "kl_divergence":
        return activations.softmax(rng.standard_normal((n, k)))        # a soft target distribution
    if name in ("poisson", "msle"):
        return rng.uniform(0, 3, (n, k))                               # counts, non-negative values
    return rng.standard_normal((n, k))


def _predictions(name, rng, n=5, k=3):
    if name == "ctc":                   # logits over 4 steps
        return rng.standard_normal((n, 4, k))
    z = rng.standard_normal((n, k))
    if name == "circle":                # unit-length embeddings
        return z / np.linalg.norm(z, axis=1, keepdims=True)
    if "categorical" in name or name == "kl_divergence":
        return activations.softmax(z)
    if name in ("binary_crossentropy", "binary_focal_crossentropy"):
        return activations.sigmoid(z)
    if name in ("poisson", "msle"):
        return np.exp(z)                                               # a positive output
    if name in ("hinge", "squared_hinge"):
        return z + 0.05 * np.sign(z - 1) * (np.abs(np.abs(z) - 1) < 0.05)   # off the kinks at |y_hat| = 1
    return z + 0.05 * np.sign(z)                     # mae: away from the kink at y_hat == y


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_gradient_matches_finite_differences(name, rng):
    check_loss(name, _predictions(name, rng), _targets(name, rng))


def test_check_loss_fails_on_a_wrong_gradient(rng):
    class Wrong(losses.MeanSquaredError):
        def gradient(self, y_pred, y_true):
            return super().gradient(y_pred, y_true) * 1.01
    with pytest.raises(GradientCheckError, match="differ"):
        check_loss(Wrong(), rng.standard_normal((4, 2)), rng.standard_normal((4, 2)))


def test_values_by_hand():
    y_hat, y = np.array([[0.5], [1.0]]), np.array([[0.0], [0.0]])
    assert losses.get("mse")(y_hat, y) == pytest.approx((0.25 + 1) / 2)
    assert losses.get("squared_error")(y_hat, y) == pytest.approx(0.5 * (0.25 + 1) / 2)
    assert losses.get("mae")(y_hat, y) == pytest.approx(0.75)
    p = np.array([[0.8, 0.2], [0.4, 0.6]])
    assert losses.get("categorical_crossentropy")(p, np.eye(2)) == pytest.approx(-(np.log(0.8) + np.log(0.6)) / 2)
    assert losses.get("sparse_categorical_crossentropy")(p, np.array([0, 1])) == pytest.approx(
        -(np.log(0.8) + np.log(0.6)) / 2)
    assert losses.get("binary_crossentropy")(np.array([[0.8]]), np.array([[1.0]])) == pytest.approx(-np.log(0.8))


@pytest.mark.parametrize("name,torch_fn", [
    ("mse", "mse_loss"), ("mae", "l1_loss"), ("binary_crossentropy", "binary_cross_entropy"),
    ("categorical_crossentropy", None), ("sparse_categorical_crossentropy", "nll"), ("squared_error", None),
    ("huber", "huber_loss"), ("log_cosh", None), ("poisson", None), ("msle", None), ("hinge", None),
    ("squared_hinge", None), ("mape", None), ("kl_divergence", "kl_div"), ("categorical_hinge", None),
    ("cosine_similarity", None), ("binary_focal_crossentropy", None), ("categorical_focal_crossentropy", None)])
def test_matches_torch(name, torch_fn, rng, torch):
    F = torch.nn.functional
    y_hat, y = _predictions(name, rng), _targets(name, rng)
    t = torch.tensor(y_hat, requires_grad=True)
    if name == "categorical_crossentropy":        # Keras divides each row by its sum first
        value = -(torch.tensor(y) * torch.log(t / t.sum(dim=1, keepdim=True))).sum(dim=1).mean()
    elif name == "squared_error":
        value = 0.5 * ((t - torch.tensor(y)) ** 2).sum() / y.shape[0]
    elif name in ("log_cosh", "poisson", "msle", "hinge", "squared_hinge", "mape", "categorical_hinge",
                  "cosine_similarity", "binary_focal_crossentropy", "categorical_focal_crossentropy"):
        value = _torch_per_sample(name, t, y, torch).mean()
    elif torch_fn == "kl_div":
        value = F.kl_div(torch.log(t), torch.tensor(y), reduction="batchmean")
    elif torch_fn == "nll":                        # Keras divides each row by its sum first, here too
        value = F.nll_loss(torch.log(t / t.sum(dim=1, keepdim=True)), torch.tensor(y))
    else:
        value = getattr(F, torch_fn)(t, torch.tensor(y))
    value.backward()
    loss = losses.get(name)
    assert loss(y_hat, y) == pytest.approx(value.item(), rel=1e-12)
    np.testing.assert_allclose(loss.gradient(y_hat, y), t.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name,activation", [("binary_crossentropy", "sigmoid"),
                                             ("categorical_crossentropy", "softmax"),
                                             ("sparse_categorical_crossentropy", "softmax")])
def test_fused_path_equals_the_chain_rule(name, activation, rng):
    loss, act = losses.get(name), activations.get(activation)
    z = rng.standard_normal((6, 3))
    y = _targets(name, rng, 6, 3)
    a = act.forward(z)
    assert loss.value_from_logits(z, a, y) == pytest.approx(loss(a, y), rel=1e-10)
    chained = act.backward(loss.gradient(a, y), z, a)
    np.testing.assert_allclose(loss.gradient_from_logits(a, y), chained, rtol=1e-8, atol=1e-12)
    numeric = numerical_gradient(lambda: loss.value_from_logits(z, act.forward(z), y), z)
    np.testing.assert_allclose(loss.gradient_from_logits(a, y), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name,activation", [("binary_crossentropy", "sigmoid"),
                                             ("categorical_crossentropy", "softmax"),
                                             ("sparse_categorical_crossentropy", "softmax")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_loss_finite_for_huge_logits(name, activation, dtype, rng):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]], dtype=dtype)
    y = _targets(name, rng, 2, 3)
    loss, act = losses.get(name), activations.get(activation)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = act.forward(z)
        value = loss.value_from_logits(z, a, y if name != "binary_crossentropy" else y.astype(dtype))
        grad = loss.gradient_from_logits(a, y)
    assert np.isfinite(value) and np.isfinite(grad).all()
    assert value > 100    # confidently wrong somewhere: the loss must say so, not clip to ~16


@pytest.mark.parametrize("name,activation", [("binary_crossentropy", "sigmoid"),
                                             ("categorical_crossentropy", "softmax"),
                                             ("sparse_categorical_crossentropy", "softmax")])
def test_fused_gradient_holds_no_subnormal_numbers(name, activation, rng):
    """Outputs below float32's smallest normal number (a confident network's wrong classes) give
    gradients of exactly 0 there, so the backward matrix products never see a subnormal number
    (slow on x86); every other gradient is the plain (a - y) / n, bit for bit."""
    tiny = np.finfo(np.float32).tiny
    z = rng.standard_normal((8, 3)).astype(np.float32)
    z[0, 1], z[3, 0], z[5, 2] = -92.0, -97.0, -200.0          # outputs ~1e-40, ~1e-42 and 0
    y = _targets(name, rng, 8, 3)
    y = y if name.startswith("sparse") else y.astype(np.float32)
    loss, act = losses.get(name), activations.get(activation)
    a = act.forward(z)
    assert ((a > 0) & (a < tiny)).any()                       # the case under test is there
    g = loss.gradient_from_logits(a, y)
    assert not ((g != 0) & (np.abs(g) < tiny)).any()
    n = g.size if name == "binary_crossentropy" else g.shape[0]
    plain = (a - (np.eye(3, dtype=np.float32)[y] if name.startswith("sparse") else y)) * np.float32(1.0 / n)
    small = np.abs(plain) < tiny
    assert small.any() and (g[small] == 0).all()
    np.testing.assert_array_equal(g[~small], plain[~small])


@pytest.mark.parametrize("name", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
@pytest.mark.parametrize("gap", [0.0, 20.0, 86.0, 95.0, 120.0, 1e4])
@pytest.mark.parametrize("weighted", [False, True])
def test_fused_categorical_value_is_accurate_on_both_paths(name, gap, weighted):
    """The value comes from -log(softmax) while every output is a normal float32 and from the
    log-sum-exp form once one is subnormal (gap 95: ~5e-42) or 0 (gap 120): both must agree with
    float64 to float32 precision. The wrong class sits ``gap`` below the right one in row 0."""
    z = np.array([[gap, 0.0, 1.0], [0.5, 0.2, -0.3], [2.0, 2.0, -1.0]], dtype=np.float32)
    labels = np.array([1, 2, 0])
    y = labels if name.startswith("sparse") else np.eye(3, dtype=np.float32)[labels]
    w = np.array([0.5, 2.0, 1.0])
    z64 = z.astype(np.float64)
    lse = z64.max(axis=1) + np.log(np.exp(z64 - z64.max(axis=1, keepdims=True)).sum(axis=1))
    per_sample = lse - z64[np.arange(3), labels]
    expected = float(((w if weighted else 1.0) * per_sample).mean())
    loss, a = losses.get(name), activations.softmax(z)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = loss.weighted_from_logits(z, a, y, w) if weighted else loss.value_from_logits(z, a, y)
    assert value == pytest.approx(expected, rel=2e-6, abs=1e-6)


@pytest.mark.parametrize("name", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_fused_categorical_value_does_not_cancel_on_huge_logits(name):
    # logits ~1e5 (float32) take the log-sum-exp path; with every target on its row's largest logit
    # the loss is 0 to float64 precision, and a difference of two batch sums gave 0.016 (this seed)
    z = (np.random.default_rng(0).standard_normal((256, 10)) * 1e5).astype(np.float32)
    labels = z.argmax(axis=1)
    y = labels if name.startswith("sparse") else np.eye(10, dtype=np.float32)[labels]
    assert losses.get(name).value_from_logits(z, activations.softmax(z), y) == 0.0
    wrong = (labels + 1) % 10                       # and a loss of ~1e5 stays accurate too
    y = wrong if name.startswith("sparse") else np.eye(10, dtype=np.float32)[wrong]
    z64 = z.astype(np.float64)
    expected = (z64.max(axis=1) - z64[np.arange(256), wrong]).mean()
    assert losses.get(name).value_from_logits(z, activations.softmax(z), y) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("name,activation", [("binary_crossentropy", "sigmoid"),
                                             ("categorical_crossentropy", "softmax"),
                                             ("sparse_categorical_crossentropy", "softmax")])
@pytest.mark.parametrize("gap", [0.0, 95.0, 200.0])
def test_value_and_gradient_in_one_call_equal_the_two_calls(name, activation, gap, rng):
    """``from_logits_and_gradient`` (what a training step calls) gives exactly ``from_logits`` and
    ``gradient_from_logits``, on the log path, the log-sum-exp path and with the subnormal flush
    (gap: how far below its row's largest logit one output's logit sits)."""
    z = rng.standard_normal((5, 3)).astype(np.float32)
    z[1, 2] = z[1].max() - gap
    y = _targets(name, rng, 5, 3)
    y = y if name.startswith("sparse") else y.astype(np.float32)
    loss, act = losses.get(name), activations.get(activation)
    a = act.forward(z)
    value, g = loss.from_logits_and_gradient(z, a, y)
    assert value == loss.value_from_logits(z, a, y)
    np.testing.assert_array_equal(g, loss.gradient_from_logits(a, y))


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_unfused_loss_finite_at_extremes(name, rng):
    if name == "categorical_generalized_cross_entropy":
        pytest.skip("Keras' generalized cross-entropy does not clip: at p = 0 its gradient is -inf, as Keras' "
                    "(tests/test_sequence_and_metric_losses.py); its fused softmax path is finite")
    y_hat = np.array([[0.0, 1.0, 1e6], [1.0, 0.0, -1e6]])
    if name == "ctc":
        y_hat = np.array([[[0.0, 1e6, -1e6], [1e6, 0.0, -1e6]]] * 2)
    if "crossentropy" in name or name == "kl_divergence":
        y_hat = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    if name == "poisson":               # a count's prediction is never negative (NaN there, as in Keras)
        y_hat = np.array([[0.0, 1.0, 1e6], [1.0, 0.0, 1e-30]])
    y = _targets(name, rng, 2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = losses.get(name)
        assert np.isfinite(loss(y_hat, y)) and np.isfinite(loss.gradient(y_hat, y)).all()


def test_unknown_loss_lists_valid_names():
    with pytest.raises(ValueError, match="binary_crossentropy") as info:
        losses.get("cross_entropy")
    assert "'cross_entropy'" in str(info.value)


def test_sparse_targets_are_checked():
    loss = losses.get("sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        loss.prepare_targets(np.array([0, 3]), 3, np.float32)
    with pytest.raises(ValueError, match="integer"):
        loss.prepare_targets(np.array([0.5, 1.0]), 3, np.float32)


def test_one_hot_width_must_match_output():
    with pytest.raises(ValueError, match=r"\(n_samples, 3\)"):
        losses.get("categorical_crossentropy").prepare_targets(np.eye(4), 3, np.float32)
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        losses.get("categorical_crossentropy").prepare_targets(np.array([0, 1, 2]), 3, np.float32)


def test_categorical_targets_must_be_distributions():
    loss = losses.get("categorical_crossentropy")
    soft = np.array([[0.1, 0.7, 0.2], [1 / 3, 1 / 3, 1 / 3]], dtype=np.float32)   # sums 1 +- float32
    np.testing.assert_array_equal(loss.prepare_targets(soft, 3, np.float32), soft)
    # the fused gradient softmax - y would not be the loss's gradient for these
    for bad, row in [(2 * np.eye(3), 0), (np.array([[1.0, 0, 0], [0, 0, 0]]), 1),
                     (np.array([[1.5, -0.5, 0]]), 0)]:
        with pytest.raises(ValueError, match=rf"y: .*distribution.*row {row}.*sample_weight"):
            loss.prepare_targets(bad, 3, np.float32)


# -- sample weights -------------------------------------------------------------------------------
FUSED = [("binary_crossentropy", "sigmoid"), ("categorical_crossentropy", "softmax"),
         ("sparse_categorical_crossentropy", "softmax"),
         ("categorical_generalized_cross_entropy", "softmax")]


def _torch_per_sample(name, t, y, torch):
    """Keras' per-sample losses, in PyTorch (reduction="none", then over the outputs)."""
    F, y = torch.nn.functional, torch.tensor(y)
    if name == "ctc":
        return F.ctc_loss(torch.log_softmax(t, dim=-1).transpose(0, 1), y, torch.full((len(y),), t.shape[1]),
                          (y != 0).sum(dim=1), reduction="none")
    if name == "circle":
        from test_sequence_and_metric_losses import _torch_circle
        return _torch_circle(torch, t, y.numpy())
    if name == "categorical_generalized_cross_entropy":
        return (1 - t[torch.arange(len(y)), y] ** 0.5) / 0.5
    if name == "mse":
        return F.mse_loss(t, y, reduction="none").mean(dim=1)
    if name == "mae":
        return F.l1_loss(t, y, reduction="none").mean(dim=1)
    if name == "squared_error":
        return 0.5 * ((t - y) ** 2).sum(dim=1)
    if name == "huber":
        return F.huber_loss(t, y, reduction="none").mean(dim=1)
    if name == "log_cosh":
        return torch.log(torch.cosh(t - y)).mean(dim=1)
    if name == "poisson":                       # Keras' epsilon, 1e-7 (torch's poisson_nll_loss: 1e-8)
        return (t - y * torch.log(t + 1e-7)).mean(dim=1)
    if name == "msle":
        return ((torch.log1p(t) - torch.log1p(y)) ** 2).mean(dim=1)
    if name == "hinge":
        return torch.clamp(1 - y * t, min=0).mean(dim=1)
    if name == "squared_hinge":
        return (torch.clamp(1 - y * t, min=0) ** 2).mean(dim=1)
    if name == "mape":
        return 100 * ((t - y).abs() / torch.clamp(y.abs(), min=1e-7)).mean(dim=1)
    if name == "kl_divergence":
        return F.kl_div(torch.log(t), y, reduction="none").sum(dim=1)
    if name == "binary_crossentropy":
        return F.binary_cross_entropy(t, y, reduction="none").mean(dim=1)
    if name == "categorical_hinge":
        return torch.clamp(((1 - y) * t).max(dim=1).values - (y * t).sum(dim=1) + 1, min=0)
    if name == "cosine_similarity":     # Keras' guard: x / max(|x|, 1e-7)
        return -(y / torch.clamp(y.norm(dim=1, keepdim=True), min=1e-7)
                 * t / torch.clamp(t.norm(dim=1, keepdim=True), min=1e-7)).sum(dim=1)
    if name == "binary_focal_crossentropy":        # Keras 3: (1 - p_t)^2 * bce of the clipped p
        p_t = y * t + (1 - y) * (1 - t)
        return ((1 - p_t) ** 2 * F.binary_cross_entropy(torch.clamp(t, 1e-7, 1 - 1e-7), y,
                                                        reduction="none")).mean(dim=1)
    if name == "categorical_focal_crossentropy":   # Keras 3: rows divided by their sum, then clipped
        p = torch.clamp(t / t.sum(dim=1, keepdim=True), 1e-7, 1 - 1e-7)
        return -(0.25 * (1 - p) ** 2 * y * torch.log(p)).sum(dim=1)
    if name == "categorical_crossentropy":         # Keras 3: rows divided by their sum, then clipped
        return -(y * torch.log(torch.clamp(t / t.sum(dim=1, keepdim=True), 1e-7, 1 - 1e-7))).sum(dim=1)
    # sparse_categorical_crossentropy: Keras 3 divides rows by their sum, then clips, as above
    return F.nll_loss(torch.log(torch.clamp(t / t.sum(dim=1, keepdim=True), 1e-7, 1 - 1e-7)), y, reduction="none")


# the losses whose default reduces each sample on its own (Dice's and Tversky's default sums the
# whole batch into one ratio: tests/test_overlap_losses.py weighs them per sample)
SEPARABLE = sorted(name for name in losses.LOSSES if name not in ("dice", "tversky"))


@pytest.mark.parametrize("name", SEPARABLE)
def test_weighted_matches_torch(name, rng, torch):
    """Keras' sum_over_batch_size: sum of w_i * loss_i over the batch, divided by n (not by sum(w))."""
    y_hat, y = _predictions(name, rng, 6), _targets(name, rng, 6)
    w = rng.uniform(0, 3, 6)
    w[2] = 0.0
    t = torch.tensor(y_hat, requires_grad=True)
    value = (_torch_per_sample(name, t, y, torch) * torch.tensor(w)).sum() / 6
    value.backward()
    loss = losses.get(name)
    assert loss.weighted(y_hat, y, w) == pytest.approx(value.item(), rel=1e-12)
    np.testing.assert_allclose(loss.weighted_gradient(y_hat, y, w), t.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name,activation", FUSED)
def test_weighted_fused_path_matches_torch(name, activation, rng, torch):
    loss, act = losses.get(name), activations.get(activation)
    z, y, w = rng.standard_normal((6, 3)), _targets(name, rng, 6, 3), rng.uniform(0, 3, 6)
    tz = torch.tensor(z, requires_grad=True)
    p = torch.sigmoid(tz) if activation == "sigmoid" else torch.softmax(tz, dim=1)
    value = (_torch_per_sample(name, p, y, torch) * torch.tensor(w)).sum() / 6
    value.backward()
    a = act.forward(z)
    assert loss.weighted_from_logits(z, a, y, w) == pytest.approx(value.item(), rel=1e-10)
    np.testing.assert_allclose(loss.weighted_gradient_from_logits(a, y, w), tz.grad.numpy(), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("name", SEPARABLE)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weights_of_one_are_bit_identical(name, dtype, rng):
    loss = losses.get(name)
    y_hat, y = _predictions(name, rng, 9).astype(dtype), _targets(name, rng, 9)
    y = y if loss.sparse else y.astype(dtype)
    ones = np.ones(9)                                    # float64: cast to the predictions' dtype
    assert loss.weighted(y_hat, y, ones) == loss(y_hat, y)
    weighted = loss.weighted_gradient(y_hat, y, ones)
    assert weighted.dtype == dtype
    np.testing.assert_array_equal(weighted, loss.gradient(y_hat, y))
    if loss.fuses:
        act = activations.get(loss.fuses)
        z = rng.standard_normal((9, 3)).astype(dtype)
        a = act.forward(z)
        assert loss.weighted_from_logits(z, a, y, ones) == loss.value_from_logits(z, a, y)
        np.testing.assert_array_equal(loss.weighted_gradient_from_logits(a, y, ones),
                                      loss.gradient_from_logits(a, y))


def test_weights_must_be_one_per_sample(rng):
    loss = losses.get("mse")
    y_hat, y = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    for w in (np.ones(1), np.ones(3), np.ones((4, 1))):     # each would broadcast without the check
        with pytest.raises(ValueError, match=r"sample_weight: expected one weight per sample, shape \(4,\)"):
            loss.weighted(y_hat, y, w)
        with pytest.raises(ValueError, match=r"shape \(4,\)"):
            loss.weighted_gradient(y_hat, y, w)


def test_a_loss_without_weighted_says_so(rng):
    class Custom(losses.Loss):
        name = "custom"

        def __call__(self, y_pred, y_true):
            return float(np.sum(y_pred))

    with pytest.raises(NotImplementedError, match="Custom does not support sample weights"):
        Custom().weighted(np.ones((2, 1)), np.ones((2, 1)), np.ones(2))


class _FiveTimesPositives(losses.BinaryCrossentropy):
    """A user's re-weighted BCE: its own value and gradient, the parent's fused methods."""
    def __call__(self, y_pred, y_true):
        return self.weighted(y_pred, y_true, np.where(np.ravel(y_true) == 1, 5.0, 1.0))

    def gradient(self, y_pred, y_true):
        return self.weighted_gradient(y_pred, y_true, np.where(np.ravel(y_true) == 1, 5.0, 1.0))


def test_a_subclass_with_its_own_value_does_not_fuse(rng):
    # the fused path would train and evaluate with plain BCE whenever the output is a sigmoid
    import glassnet as gn
    assert {name: cls().fused_activation() for name, cls in losses.LOSSES.items()} == {
        "mse": None, "squared_error": None, "mae": None, "huber": None, "log_cosh": None, "poisson": None,
        "msle": None, "mape": None, "hinge": None, "squared_hinge": None, "kl_divergence": None,
        "categorical_hinge": None, "cosine_similarity": None, "dice": None, "tversky": None,
        "binary_focal_crossentropy": "sigmoid",     # its own fused methods: the cross-entropy from the logits
        "categorical_focal_crossentropy": None,     # its own maths (Keras clips it on every backend)
        "ctc": None, "circle": None, "categorical_generalized_cross_entropy": "softmax",
        "binary_crossentropy": "sigmoid",
        "categorical_crossentropy": "softmax", "sparse_categorical_crossentropy": "softmax"}
    assert _FiveTimesPositives().fused_activation() is None

    class Declared(_FiveTimesPositives):
        fuses = "sigmoid"                   # set in its own body: the author vouches for the fused maths
    assert Declared().fused_activation() == "sigmoid"
    x, y = rng.standard_normal((8, 2)).astype(np.float32), np.array([0, 1, 1, 0, 1, 0, 0, 1])
    model = gn.Sequential([gn.layers.Dense(1, activation="sigmoid", input_dim=2)], seed=0)
    model.compile(loss=_FiveTimesPositives())
    p = model.predict(x)
    assert model.evaluate(x, y) == pytest.approx(_FiveTimesPositives()(p, y), rel=1e-6)
    assert model.evaluate(x, y) > 1.5 * losses.get("binary_crossentropy")(p, y)


# -- the unfused cross-entropies on predictions outside [0, 1] -------------------------------------
CROSSENTROPIES = ["binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"]


def _partly_clipped(rng, n=6, k=3):
    """Predictions of a tanh or linear output: some inside [0, 1], some below 0 or above 1, none
    within 1e-3 of a clip bound (finite differences there would straddle the kink)."""
    y_hat = rng.uniform(-0.5, 1.5, (n, k))
    y_hat[np.abs(y_hat) < 1e-3] = 0.5
    y_hat[np.abs(y_hat - 1) < 1e-3] = 0.5
    y_hat[0] = [-0.3, 0.4, 1.2]                       # one of each, whatever the draw
    return y_hat


@pytest.mark.parametrize("name", CROSSENTROPIES)
def test_unfused_gradient_is_zero_where_the_prediction_was_clipped(name, rng):
    # the value uses clip(y_hat, eps, 1 - eps), which stands still outside that range: so must the gradient
    loss, y_hat = losses.get(name), _partly_clipped(rng)
    y = _targets(name, rng, 6, 3)
    if name == "sparse_categorical_crossentropy":
        y[0] = 0                                      # the label's prediction, -0.3, is clipped
    else:
        y[0] = [1.0, 0.0, 0.0]
    check_loss(loss, y_hat, y)
    outside = (y_hat < losses.EPSILON) | (y_hat > 1 - losses.EPSILON)
    if name == "categorical_crossentropy":
        # rows are divided by their sums before the clip (Keras): a clipped entry still moves
        # the others through the sum, so only dL/d(rescaled row) is 0 there (tests/test_cce_rescaling.py)
        outside = np.zeros_like(outside)
    elif name == "sparse_categorical_crossentropy":
        # the same division (Keras): what is clipped is the row's rescaled output at its label, and
        # where it is, the row's term stands still, so the whole row's gradient is 0 (every output
        # reaches the term through the row's sum); elsewhere a clipped output still moves it
        r = y_hat / y_hat.sum(axis=1, keepdims=True)
        picked = r[np.arange(len(y)), y]
        outside = np.repeat(((picked < losses.EPSILON) | (picked > 1 - losses.EPSILON))[:, None], 3, axis=1)
        assert outside[0].all()                       # row 0: -0.3 / 1.3 at its label
    assert not loss.gradient(y_hat, y)[outside].any()
    w = rng.uniform(0, 3, 6)
    np.testing.assert_allclose(loss.weighted_gradient(y_hat, y, w),
                               numerical_gradient(lambda: loss.weighted(y_hat, y, w), y_hat),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", CROSSENTROPIES)
def test_unfused_gradient_on_clipped_predictions_matches_torch_clamp(name, rng, torch):
    y_hat, y = _partly_clipped(rng), _targets(name, rng, 6, 3)
    t = torch.tensor(y_hat, requires_grad=True)
    p = torch.clamp(t, losses.EPSILON, 1 - losses.EPSILON)          # Keras' clip, as PyTorch has it
    # the categorical ones (sparse too) divide each row by its sum before clipping, as Keras does
    divides = name in ("categorical_crossentropy", "sparse_categorical_crossentropy")
    _torch_per_sample(name, t if divides else p, y, torch).mean().backward()
    np.testing.assert_allclose(losses.get(name).gradient(y_hat, y), t.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unfused_gradient_inside_the_clip_range_is_the_formula_bit_for_bit(dtype, rng):
    # nothing clipped: the gradient is the table's formula, with no extra arithmetic on any entry
    n, k = 7, 3
    z = rng.standard_normal((n, k))
    labels = rng.integers(0, k, n)
    rows = np.arange(n)
    p, y = activations.sigmoid(z).astype(dtype), rng.integers(0, 2, (n, k)).astype(dtype)
    np.testing.assert_array_equal(losses.get("binary_crossentropy").gradient(p, y),
                                  (p - y) / (p * (1 - p) * p.size))
    p, y = activations.softmax(z).astype(dtype), np.eye(k, dtype=dtype)[labels]
    # rows divided by their sums first (Keras): on rows summing to 1 that adds 1/n to every entry
    # of -y / (p n), the part normal to the simplex (which a softmax's backward discards)
    np.testing.assert_allclose(losses.get("categorical_crossentropy").gradient(p, y), -y / (p * n) + 1.0 / n,
                               rtol=1e-5 if dtype == np.float32 else 1e-12)
    # the sparse one divides too: its gradient is the categorical one's on the one-hot rows
    expected = np.zeros_like(p)
    expected[rows, labels] = -1.0 / (p[rows, labels] * n)
    np.testing.assert_allclose(losses.get("sparse_categorical_crossentropy").gradient(p, labels), expected + 1.0 / n,
                               rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("output,loss", [("tanh", "binary_crossentropy"), ("linear", "binary_crossentropy"),
                                         ("linear", "categorical_crossentropy"),
                                         ("linear", "sparse_categorical_crossentropy")])
def test_a_model_whose_output_is_not_a_probability_passes_gradcheck(output, loss):
    import glassnet as gn
    from glassnet.gradcheck import check_model
    rng = np.random.default_rng(7)
    k = 1 if loss == "binary_crossentropy" else 3
    model = gn.Sequential([gn.layers.Dense(4, activation="tanh", input_dim=3),
                           gn.layers.Dense(k, activation=output)], seed=1, dtype="float64")
    model.compile(loss)
    x = 2 * rng.standard_normal((16, 3))
    labels = rng.integers(0, k if k > 1 else 2, 16)
    y = np.eye(k)[labels] if loss == "categorical_crossentropy" else labels
    out = model.predict(x)
    assert (out < 0).any() and ((out > 0) & (out < 1)).any()    # clipped and unclipped predictions
    check_model(model, x, y)
    check_model(model, x, y, sample_weight=rng.uniform(0, 2, 16))


# -- the hint for targets one dimension short -----------------------------------------------------
@pytest.mark.parametrize("name", ["mse", "mae", "squared_error"])
def test_a_regression_loss_asks_for_one_target_per_output_not_labels(name):
    loss = losses.get(name)
    with pytest.raises(ValueError, match=rf"^{name}: expected targets of the output's shape \(5, 2\), got "
                                         r"shape \(5,\); it takes targets shaped like the output, \(n, 2\)") as info:
        loss(np.zeros((5, 2)), np.zeros(5))
    assert "label" not in str(info.value) and "sparse" not in str(info.value)
    with pytest.raises(ValueError, match=r"^y: expected targets of shape \(n_samples, 2\) to match the model's "
                                         r"output, got shape \(5,\); a model with 2 output units") as info:
        loss.prepare_targets(np.zeros(5), 2, np.float64)
    assert "label" not in str(info.value) and "sparse" not in str(info.value)


@pytest.mark.parametrize("name", ["binary_crossentropy", "categorical_crossentropy"])
def test_a_classification_loss_still_points_labels_to_sparse_crossentropy(name):
    with pytest.raises(ValueError, match=rf"^{name}: expected targets of the output's shape \(5, 2\), got "
                                         r"shape \(5,\); .*not class labels.*'sparse_categorical_crossentropy'"):
        losses.get(name)(np.full((5, 2), 0.5), np.zeros(5))
    with pytest.raises(ValueError, match=r"\(5,\); for integer class labels use "
                                         r"loss='sparse_categorical_crossentropy'"):
        losses.get(name).prepare_targets(np.zeros(5), 2, np.float64)
    with pytest.raises(ValueError, match=r"^binary_accuracy: .*not class labels"):
        losses.aligned_targets(np.full((5, 2), 0.5), np.zeros(5), "binary_accuracy")


@pytest.mark.parametrize("name,activation", [("binary_crossentropy", "sigmoid"),
                                             ("categorical_crossentropy", "softmax"),
                                             ("sparse_categorical_crossentropy", "softmax")])
def test_unclipped_output_gradient_is_the_fused_values_derivative(name, activation, rng):
    # inside the clip bounds it equals the clipped gradient; and dZ = J^T dA is the fused dL/dz
    z = rng.standard_normal((5, 3))
    a = getattr(activations, activation)(z)
    y = _targets(name, rng, 5, 3)
    loss = losses.get(name)
    dA = loss.output_gradient_unclipped(a, y)
    # the categorical gradients (sparse too) also go back through the division of each row by its sum: on a
    # softmax's rows, that takes away the part of dA along the row (which the softmax discards)
    along = (dA * a).sum(axis=1, keepdims=True) if name != "binary_crossentropy" else 0
    np.testing.assert_allclose(dA - along, loss.gradient(a, y), rtol=1e-10, atol=1e-14)
    if activation == "sigmoid":
        dz = dA * a * (1 - a)
    else:
        dz = a * (dA - (dA * a).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(dz, loss.gradient_from_logits(a, y), rtol=1e-10, atol=1e-14)


def test_a_loss_by_its_class_name_as_keras_takes_it(tmp_path):
    import glassnet as gn
    assert {name: type(losses.get(cls.__name__)) for name, cls in losses.LOSSES.items()} == dict(losses.LOSSES)
    model = gn.Sequential([gn.layers.Dense(1, activation="sigmoid", input_dim=2)], seed=0)
    model.compile(loss="BinaryCrossentropy", optimizer="Adam")
    model.save(tmp_path / "m.npz")              # the file names the loss as always
    assert gn.load_model(tmp_path / "m.npz").get_config()["compile"]["loss"] == "binary_crossentropy"
    with pytest.raises(ValueError, match=r"or a class name such as 'BinaryCrossentropy'.*got 'CategoricalHing'"):
        losses.get("CategoricalHing")


def test_huber_and_log_cosh_by_hand_and_far_from_the_target():
    d = np.array([[0.5, 2.0], [-3.0, 0.0]])
    zero = np.zeros_like(d)
    assert losses.get("huber")(d, zero) == (0.125 + 1.5 + 2.5 + 0.0) / 4
    np.testing.assert_array_equal(losses.get("huber").gradient(d, zero), [[0.125, 0.25], [-0.25, 0.0]])
    huber2 = losses.Huber(delta=2.0)
    assert huber2(d, zero) == (0.125 + 2.0 + 2 * (3 - 1) + 0.0) / 4
    log_cosh = losses.get("LogCosh")
    assert log_cosh(d, zero) == pytest.approx(np.log(np.cosh(d)).mean(), rel=1e-15)
    far = np.array([[1e4, -1e4]], dtype=np.float32)        # cosh overflows float32 past ~89
    with np.errstate(over="raise"):
        assert log_cosh(far, np.zeros_like(far)) == pytest.approx(1e4 - np.log(2), rel=1e-6)
    for bad in (0, -1.0, float("inf"), "1", True):
        with pytest.raises(ValueError, match="Huber: delta must be a finite number > 0, got"):
            losses.Huber(delta=bad)


def test_a_huber_loss_with_another_delta_is_saved_with_it(tmp_path):
    import glassnet as gn
    model = gn.Sequential([gn.layers.Dense(1, input_dim=2)], seed=0)
    model.compile(loss="huber", optimizer="sgd", metrics=[losses.Huber(delta=1.0)])
    model.save(tmp_path / "ok.npz")
    assert type(gn.load_model(tmp_path / "ok.npz").loss) is losses.Huber
    model.compile(loss=losses.Huber(delta=2.0), optimizer="sgd")
    model.save(tmp_path / "m.npz")
    assert gn.load_model(tmp_path / "m.npz").loss.delta == 2.0
    model.compile(loss="huber", optimizer="sgd", metrics=[losses.Huber(delta=2.0)])
    model.save(tmp_path / "m.npz")                          # a loss as a metric keeps its settings too
    assert gn.load_model(tmp_path / "m.npz").metrics[0][1].loss.delta == 2.0
    assert gn.Sequential.from_config(model.get_config()).metrics[0][1].loss.delta == 2.0
    # a config (from_config: Dask sweeps, pickled estimators) carries the settings
    model.compile(loss=losses.Huber(delta=5.0), optimizer="sgd")
    assert model.get_config()["compile"]["loss_config"] == {"delta": 5.0}
    assert gn.Sequential.from_config(model.get_config()).loss.delta == 5.0
    model.compile(loss="huber", optimizer="sgd")
    assert "loss_config" not in model.get_config()["compile"]


def test_hinge_takes_integer_and_bool_targets(rng):
    p = np.array([[0.3], [-0.2]])
    for targets in (np.array([True, False]), np.array([1, 0]), np.array([1, -1])):
        g = losses.get("hinge").gradient(p, targets)
        assert g.dtype == np.float64
        np.testing.assert_array_equal(g, [[-0.5], [0.5]])
    check_loss("hinge", p, np.array([1, 0]))


def test_poisson_on_negative_outputs_says_why(rng):
    import glassnet as gn
    model = gn.Sequential([gn.layers.Dense(1, input_dim=2, kernel_initializer="ones")], seed=0)
    model.compile(loss="poisson", optimizer="sgd")
    x = -np.abs(rng.standard_normal((8, 2))) - 1            # a linear output below 0 everywhere
    with warnings.catch_warnings():
        warnings.simplefilter("error")                      # no numpy warning on the way
        with pytest.raises(gn.NonFiniteError, match="every layer's output is finite, but poisson takes the "
                                                    "log of the predictions, and some are negative"):
            model.fit(x, np.ones(8), epochs=1, verbose=0)


def test_hinge_takes_0_1_targets_as_keras_does_and_the_clipped_losses_ignore_clipped_predictions():
    p = np.array([[0.5, -2.0], [2.0, 0.3]])
    zero_one, signs = np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([[1.0, -1.0], [1.0, -1.0]])
    hinge = losses.get("hinge")
    assert hinge(p, zero_one) == hinge(p, signs) == (0.5 + 0.0 + 0.0 + 1.3) / 4
    np.testing.assert_array_equal(hinge.gradient(p, zero_one), [[-0.25, 0.0], [0.0, 0.25]])
    kl = losses.get("kl_divergence")
    t = np.array([[0.5, 0.5, 0.0]])
    # a target of 0 is clipped to 1e-7 (Keras): its term is tiny, not NaN; a prediction of 0 too
    assert kl(np.array([[0.25, 0.75, 0.0]]), t) == pytest.approx(
        0.5 * np.log(2) + 0.5 * np.log(0.5 / 0.75) + 1e-7 * np.log(1e-7 / 1e-7), rel=1e-9)
    assert kl.gradient(np.array([[0.25, 0.75, 0.0]]), t)[0, 2] == 0.0
    msle = losses.get("msle")
    assert msle.gradient(np.array([[-1.0, 1.0]]), np.zeros((1, 2)))[0, 0] == 0.0


def test_keras_upper_case_names():
    for alias, name in [("MSE", "mse"), ("MAE", "mae"), ("MSLE", "msle"), ("MAPE", "mape"), ("KLD", "kl_divergence")]:
        assert losses.get(alias).name == name


# -- categorical hinge, cosine similarity and the focal cross-entropies ----------------------------
@pytest.mark.parametrize("settings", [dict(), dict(gamma=0.5), dict(gamma=3.0, alpha=0.4, apply_class_balancing=True),
                                      dict(gamma=0.0)])
def test_binary_focal_settings_match_torch(settings, rng, torch):
    F = torch.nn.functional
    y_hat, y = activations.sigmoid(rng.standard_normal((6, 3)) * 3), rng.integers(0, 2, (6, 3)).astype(float)
    y[0] = [0.3, 0.9, 0.5]                       # soft targets too
    loss = losses.BinaryFocalCrossentropy(**settings)
    gamma, alpha = settings.get("gamma", 2.0), settings.get("alpha", 0.25)
    t, ty = torch.tensor(y_hat, requires_grad=True), torch.tensor(y)
    p_t = ty * t + (1 - ty) * (1 - t)
    terms = (1 - p_t) ** gamma * F.binary_cross_entropy(torch.clamp(t, 1e-7, 1 - 1e-7), ty, reduction="none")
    if settings.get("apply_class_balancing"):
        terms = terms * (ty * alpha + (1 - ty) * (1 - alpha))
    terms.mean().backward()
    assert loss(y_hat, y) == pytest.approx(terms.mean().item(), rel=1e-12)
    np.testing.assert_allclose(loss.gradient(y_hat, y), t.grad.numpy(), rtol=1e-9, atol=1e-14)
    if settings == dict(gamma=0.0):                # no focusing, no balancing: plain binary cross-entropy
        assert loss(y_hat, y) == pytest.approx(losses.get("binary_crossentropy")(y_hat, y), rel=1e-12)
        np.testing.assert_allclose(loss.gradient(y_hat, y), losses.get("binary_crossentropy").gradient(y_hat, y),
                                   rtol=1e-12)


def test_focal_losses_are_finite_on_saturated_outputs():
    y_hat, y = np.array([[1.0, 0.0, 0.5]]), np.array([[1.0, 0.0, 1.0]])      # p_t = 1 on two outputs
    for gamma in (0.5, 1.0, 2.0):
        loss = losses.BinaryFocalCrossentropy(gamma=gamma)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert np.isfinite(loss(y_hat, y)) and np.isfinite(loss.gradient(y_hat, y)).all()
    p = np.array([[1.0, 0.0, 0.0]])
    loss = losses.CategoricalFocalCrossentropy()
    assert np.isfinite(loss(p, np.eye(3)[:1])) and np.isfinite(loss.gradient(p, np.eye(3)[:1])).all()


@pytest.mark.parametrize("name,settings", [("binary_focal_crossentropy", {}),
                                           ("binary_focal_crossentropy", dict(apply_class_balancing=True, alpha=0.3, gamma=1.5)),
                                           ("categorical_focal_crossentropy", {}),
                                           ("categorical_focal_crossentropy", dict(alpha=0.5, gamma=1.0)),
                                           ("categorical_hinge", {}), ("cosine_similarity", {})])
def test_new_losses_match_keras(name, settings, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    k = 4
    if name == "binary_focal_crossentropy":
        y_hat, y = activations.sigmoid(rng.standard_normal((8, k))), rng.integers(0, 2, (8, k)).astype(float)
    elif name == "cosine_similarity":
        y_hat, y = rng.standard_normal((8, k)), rng.standard_normal((8, k))
    else:
        y_hat, y = activations.softmax(rng.standard_normal((8, k)) * 2), np.eye(k)[rng.integers(0, k, 8)]
    ours = losses.LOSSES[name](**settings)
    theirs = getattr(keras.losses, type(ours).__name__)(**settings)
    assert ours(y_hat, y) == pytest.approx(float(theirs(y, y_hat)), rel=2e-6)
    w = rng.uniform(0, 2, 8)
    assert ours.weighted(y_hat, y, w) == pytest.approx(float(theirs(y, y_hat, sample_weight=w)), rel=2e-6)


def test_categorical_hinge_and_cosine_by_hand():
    hinge = losses.get("categorical_hinge")
    # true class 0 scores 2.0, the best other 1.5: margin 1 - 0.5 = 0.5; a sample beating it by 1 costs 0
    y_hat, y = np.array([[2.0, 1.5, -1.0], [3.0, 1.0, 2.0]]), np.array([[1.0, 0, 0], [1.0, 0, 0]])
    assert hinge(y_hat, y) == pytest.approx(0.25)
    np.testing.assert_allclose(hinge.gradient(y_hat, y), [[-0.5, 0.5, 0], [0, 0, 0]])
    cosine = losses.get("cosine_similarity")
    assert cosine(np.array([[3.0, 4.0]]), np.array([[6.0, 8.0]])) == pytest.approx(-1.0)
    assert cosine(np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]])) == 0.0      # Keras' guard, no NaN
    assert np.isfinite(cosine.gradient(np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]]))).all()


def test_a_focal_loss_trains_a_model_and_its_settings_are_kept_in_files(rng, tmp_path):
    import glassnet as gn
    x = rng.standard_normal((60, 2))
    y = (x[:, 0] + 0.3 * x[:, 1] > 1.0).astype(int)             # about one positive in six
    model = gn.Sequential([gn.layers.Dense(8, activation="tanh", input_dim=2),
                           gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_focal_crossentropy", optimizer=gn.optimizers.Adam(0.05))
    history = model.fit(x, y, epochs=30, batch_size=16, verbose=0).history["loss"]
    # fused with the sigmoid output since session 46: its cross-entropy from the logits, Keras-TF's
    assert history[-1] < 0.5 * history[0] and model._fused
    model.save(tmp_path / "f.npz")
    assert gn.load_model(tmp_path / "f.npz").get_config()["compile"]["loss"] == "binary_focal_crossentropy"
    model.compile(loss=losses.BinaryFocalCrossentropy(gamma=1.0, apply_class_balancing=True), optimizer="adam")
    model.save(tmp_path / "g.npz")
    loaded = gn.load_model(tmp_path / "g.npz").loss
    assert (loaded.gamma, loaded.apply_class_balancing, loaded.alpha) == (1.0, True, 0.25)


@pytest.mark.parametrize("make,message", [
    (lambda: losses.BinaryFocalCrossentropy(gamma=-1), r"BinaryFocalCrossentropy: gamma must be a finite number >= 0"),
    (lambda: losses.BinaryFocalCrossentropy(alpha=1.5), r"BinaryFocalCrossentropy: alpha must be a number in \[0, 1\]"),
    (lambda: losses.BinaryFocalCrossentropy(apply_class_balancing="yes"),
     r"BinaryFocalCrossentropy: apply_class_balancing: expected True or False"),
    (lambda: losses.CategoricalFocalCrossentropy(gamma=float("nan")), r"CategoricalFocalCrossentropy: gamma must be"),
])
def test_focal_settings_are_checked(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_categorical_focal_settings_gradient_matches_torch(rng, torch):
    y_hat, y = activations.softmax(rng.standard_normal((6, 4)) * 2), np.eye(4)[rng.integers(0, 4, 6)]
    y[0] = [0.2, 0.3, 0.5, 0.0]                       # soft labels
    loss = losses.CategoricalFocalCrossentropy(alpha=0.6, gamma=0.7)
    t = torch.tensor(y_hat, requires_grad=True)
    p = torch.clamp(t / t.sum(dim=1, keepdim=True), 1e-7, 1 - 1e-7)      # rows rescaled to sum 1, as Keras
    value = -(0.6 * (1 - p) ** 0.7 * torch.tensor(y) * torch.log(p)).sum(dim=1).mean()
    value.backward()
    assert loss(y_hat, y) == pytest.approx(value.item(), rel=1e-12)
    np.testing.assert_allclose(loss.gradient(y_hat, y), t.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_targets_the_new_losses_take_and_refuse():
    import glassnet as gn
    model = gn.Sequential([gn.layers.Dense(3, activation="softmax", input_dim=2)], seed=0)
    x = np.zeros((4, 2))
    for name in ("categorical_focal_crossentropy", "categorical_hinge"):
        model.compile(loss=name, optimizer="sgd")
        with pytest.raises(ValueError, match=r"for integer class labels use loss='sparse_categorical_crossentropy'"):
            model.fit(x, np.array([0, 1, 2, 1]), epochs=1, verbose=0)
    model.compile(loss="categorical_focal_crossentropy", optimizer="sgd")
    model.fit(x, np.full((4, 3), 2.0), epochs=1, verbose=0)      # rows of any sum, as Keras: no fusion to break
    with pytest.raises(ValueError, match=r"y: categorical_focal_crossentropy expects targets >= 0"):
        model.fit(x, -np.ones((4, 3)), epochs=1, verbose=0)
    binary = gn.Sequential([gn.layers.Dense(1, activation="sigmoid", input_dim=2)], seed=0)
    binary.compile(loss="binary_focal_crossentropy", optimizer="sgd")
    with pytest.raises(ValueError, match=r"y: binary_focal_crossentropy expects targets in \[0, 1\]"):
        binary.fit(x, np.array([0, 2, 1, 0]), epochs=1, verbose=0)
    binary.compile(loss="cosine_similarity", optimizer="sgd")
    with pytest.raises(ValueError, match=r"cosine_similarity compares directions .* one output unit"):
        binary.fit(x, np.array([0, 1, 1, 0]), epochs=1, verbose=0)


def test_a_focal_setting_is_named_in_the_repr_and_kept_by_files(tmp_path):
    import glassnet as gn
    assert losses.changed_settings(losses.BinaryFocalCrossentropy(gamma=1.0)) == {"gamma": 1.0}
    assert repr(losses.BinaryFocalCrossentropy(gamma=1.0)) == "<loss binary_focal_crossentropy gamma=1.0>"
    model = gn.Sequential([gn.layers.Dense(1, activation="sigmoid", input_dim=2)], seed=0)
    model.compile(loss=losses.BinaryFocalCrossentropy(gamma=1.0), optimizer="sgd")
    model.save(tmp_path / "m.npz")
    assert repr(gn.load_model(tmp_path / "m.npz").loss) == "<loss binary_focal_crossentropy gamma=1.0>"


# -- from_logits=True (Keras'): the loss applies the sigmoid or softmax itself ---------------------
def _logits_cases(rng):
    z = rng.standard_normal((6, 4)) * 3
    z[0, 1] = 80.0                                 # a saturated logit: exact from the logits
    soft = rng.random((6, 4))
    return z, {"binary_crossentropy": (rng.random((6, 4)) < 0.5).astype(float),
               "categorical_crossentropy": soft / soft.sum(axis=1, keepdims=True),
               "sparse_categorical_crossentropy": rng.integers(0, 4, 6)}


@pytest.mark.parametrize("name", ["binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_from_logits_values_and_gradients_match_torch(name, rng, torch):
    F = torch.nn.functional
    z, targets = _logits_cases(rng)
    y, w = targets[name], rng.random(6)
    loss = type(losses.get(name))(from_logits=True)
    for weights in (None, w):
        t = torch.tensor(z, requires_grad=True)
        if name == "binary_crossentropy":
            terms = F.binary_cross_entropy_with_logits(t, torch.tensor(y), reduction="none").mean(dim=1)
        else:
            terms = F.cross_entropy(t, torch.tensor(y), reduction="none")
        value = (terms * (1 if weights is None else torch.tensor(weights))).mean()
        value.backward()
        if weights is None:
            mine, grad = loss(z, y), loss.gradient(z, y)
        else:
            mine, grad = loss.weighted(z, y, weights), loss.weighted_gradient(z, y, weights)
        assert mine == pytest.approx(value.item(), rel=1e-12)
        np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("name", ["binary_crossentropy", "sparse_categorical_crossentropy"])
def test_from_logits_trains_as_the_activation_in_the_model_does_and_as_keras(name, rng, tmp_path):
    import glassnet as gn
    binary = name == "binary_crossentropy"
    x = rng.standard_normal((64, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32) if binary else rng.integers(0, 3, 64)
    units, activation = (1, "sigmoid") if binary else (3, "softmax")

    def model(last_activation, loss):
        m = gn.Sequential([gn.layers.Dense(8, activation="tanh", input_dim=5),
                           gn.layers.Dense(units, activation=last_activation)], seed=0)
        m.compile(loss=loss, optimizer=gn.optimizers.Adam(0.01), metrics=["accuracy"])
        return m
    on_logits = model(None, type(losses.get(name))(from_logits=True))
    fused = model(activation, name)
    assert not on_logits._fused and fused._fused
    h1 = on_logits.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0).history
    h2 = fused.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0).history
    # the same sigmoid/softmax, in the loss rather than the layer: the same numbers
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-6)
    for a, b in zip(on_logits.get_weights(), fused.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    on_logits.save(tmp_path / "m.npz")
    assert gn.load_model(tmp_path / "m.npz").loss.from_logits is True
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    theirs = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(units)])
    theirs.set_weights(model(None, name).get_weights())
    loss_class = keras.losses.BinaryCrossentropy if binary else keras.losses.SparseCategoricalCrossentropy
    # SGD: Adam divides by the root of tiny second moments, where float32 rounding of either
    # framework's gradient is amplified to ~1e-3 relative; the loss's arithmetic is what is compared
    theirs.compile(loss=loss_class(from_logits=True), optimizer=keras.optimizers.SGD(0.1))
    ours = model(None, type(losses.get(name))(from_logits=True))
    ours.compile(loss=type(losses.get(name))(from_logits=True), optimizer=gn.optimizers.SGD(0.1))
    ours.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_from_logits_is_a_flag_and_shows_in_repr_and_config():
    import glassnet as gn
    with pytest.raises(TypeError, match="BinaryCrossentropy: from_logits: expected True or False"):
        losses.BinaryCrossentropy(from_logits="yes")
    loss = losses.CategoricalCrossentropy(from_logits=True)
    assert repr(loss) == "<loss categorical_crossentropy from_logits=True>"
    assert loss.fused_activation() is None and losses.CategoricalCrossentropy().fused_activation() == "softmax"
    model = gn.Sequential([gn.layers.Dense(3, input_dim=2)], seed=0)
    model.compile(loss=loss, optimizer="sgd")
    assert model.get_config()["compile"]["loss_config"] == {"from_logits": True}
    assert gn.Sequential.from_config(model.get_config()).loss.from_logits is True


def test_from_logits_is_keras_attribute_and_its_traps_are_caught(tmp_path, rng):
    import glassnet as gn
    assert losses.BinaryCrossentropy().from_logits is False                 # a flag, as Keras' attribute
    assert losses.SparseCategoricalCrossentropy(from_logits=True).from_logits is True
    # Keras' axis: -1 (its default, the classes' axis) is taken; another too (tests/test_losses3.py), the batch axis refused
    assert losses.CategoricalCrossentropy(axis=-1).get_config() == losses.CategoricalCrossentropy().get_config()
    with pytest.raises(ValueError, match=r"CategoricalCrossentropy: axis=0 is the batch axis"):
        losses.CategoricalCrossentropy(axis=0)
    with pytest.raises(TypeError, match="CategoricalCrossentropy: unexpected keyword argument 'axes'; it takes "
                                        "from_logits, label_smoothing, reduction and name"):
        losses.CategoricalCrossentropy(axes=-1)
    model = gn.Sequential([gn.layers.Dense(1, activation="sigmoid", input_dim=2)], seed=0)
    with pytest.warns(UserWarning, match=r"expects logits, but layer dense \(Dense\) ends in a sigmoid"):
        model.compile(loss=losses.BinaryCrossentropy(from_logits=True), optimizer="sgd")

    class Weighted(losses.BinaryCrossentropy):           # a subclass of yours with arguments of its own
        def __init__(self, pos_weight):
            super().__init__()
            self.pos_weight = pos_weight
    assert repr(Weighted(np.ones(3))) == "<loss binary_crossentropy>"
    model.compile(loss=Weighted(3.0), optimizer="sgd")
    with pytest.raises(ValueError, match=r"\(Weighted\) is not a built-in loss"):
        model.save(tmp_path / "m.npz")


def test_a_backup_made_with_other_loss_settings_is_refused(tmp_path, rng):
    import glassnet as gn
    x, y = rng.standard_normal((16, 2)), (rng.random(16) > 0.5).astype(float)

    def model(loss):
        m = gn.Sequential([gn.layers.Dense(1, input_dim=2)], seed=0)
        m.compile(loss=loss, optimizer="sgd")
        return m
    class Crash(Exception):
        pass

    def crash(epoch, logs):             # a run killed after its first epoch: the backup stays
        raise Crash()
    first = model(losses.BinaryCrossentropy(from_logits=True))
    with pytest.raises(Crash):
        first.fit(x, y, epochs=3, verbose=0, callbacks=[gn.callbacks.BackupAndRestore(str(tmp_path)),
                                                        gn.callbacks.LambdaCallback(on_epoch_end=crash)])
    with pytest.raises(ValueError, match=r"was made with the loss <loss binary_crossentropy from_logits=True>, "
                                         r"this model trains on <loss binary_crossentropy>"):
        model("binary_crossentropy").fit(x, y, epochs=3, verbose=0, callbacks=[gn.callbacks.BackupAndRestore(str(tmp_path))])


# -- label_smoothing (Keras'): y (1 - s) + s / k, k = 2 for the binary loss ----------------------------
@pytest.mark.parametrize("logits", [False, True])
@pytest.mark.parametrize("name", ["binary_crossentropy", "categorical_crossentropy"])
def test_label_smoothing_values_and_gradients_match_torch(name, logits, rng, torch):
    F = torch.nn.functional
    z, targets = _logits_cases(rng)
    z[0, 1] = 2.0                                   # no clipped output on the probabilities' path
    y, w, s = targets[name], rng.random(6), 0.2
    binary = name == "binary_crossentropy"
    loss = type(losses.get(name))(from_logits=logits, label_smoothing=s)
    smoothed = y * (1 - s) + s * (0.5 if binary else 1 / y.shape[1])
    for weights in (None, w):
        t = torch.tensor(z, requires_grad=True)
        if binary:
            terms = F.binary_cross_entropy_with_logits(t, torch.tensor(smoothed), reduction="none").mean(dim=1)
        else:
            terms = F.cross_entropy(t, torch.tensor(y), label_smoothing=s, reduction="none")
        value = (terms * (1 if weights is None else torch.tensor(weights))).mean()
        value.backward()
        inputs = z if logits else loss.probabilities(z)       # the outputs the loss is given
        if weights is None:
            mine = loss(inputs, y)
            fused = (loss.value_from_logits(z, loss.probabilities(z), y), loss.gradient_from_logits(loss.probabilities(z), y))
        else:
            mine = loss.weighted(inputs, y, weights)
            fused = (loss.weighted_from_logits(z, loss.probabilities(z), y, weights),
                     loss.weighted_gradient_from_logits(loss.probabilities(z), y, weights))
        assert mine == pytest.approx(value.item(), rel=1e-10)
        assert fused[0] == pytest.approx(value.item(), rel=1e-12)              # the fused path, once smoothed
        np.testing.assert_allclose(fused[1], t.grad.numpy(), rtol=1e-10, atol=1e-15)
        if logits:
            grad = loss.gradient(z, y) if weights is None else loss.weighted_gradient(z, y, weights)
            np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-10, atol=1e-15)
    assert loss.from_logits_and_gradient(z, loss.probabilities(z), y)[0] == pytest.approx(
        loss.value_from_logits(z, loss.probabilities(z), y), rel=1e-14)


def test_label_smoothing_trains_as_keras_and_leaves_metrics_the_raw_targets(rng, tmp_path):
    import glassnet as gn
    x = rng.standard_normal((48, 4)).astype(np.float32)
    labels = rng.integers(0, 3, 48)
    y = np.eye(3, dtype=np.float32)[labels]
    ours = gn.Sequential([gn.layers.Dense(6, activation="tanh", input_dim=4),
                          gn.layers.Dense(3, activation="softmax")], seed=0)
    ours.compile(loss=losses.CategoricalCrossentropy(label_smoothing=0.1), optimizer=gn.optimizers.SGD(0.2),
                 metrics=["accuracy"])
    start = ours.get_weights()
    history = ours.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0).history
    predicted = ours.predict(x).argmax(axis=1)
    assert ours.evaluate(x, y, verbose=0)[1] == pytest.approx(np.mean(predicted == labels))     # raw targets
    assert len(history["accuracy"]) == 3
    ours.save(tmp_path / "m.npz")
    assert gn.load_model(tmp_path / "m.npz").loss.label_smoothing == 0.1
    with pytest.raises(TypeError, match="SparseCategoricalCrossentropy: unexpected keyword argument 'label_smoothing'"):
        losses.SparseCategoricalCrossentropy(label_smoothing=0.1)
    with pytest.raises(ValueError, match="label_smoothing must be"):
        losses.BinaryCrossentropy(label_smoothing=1.5)
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="tanh"),
                               keras.layers.Dense(3, activation="softmax")])
    theirs.set_weights(start)
    theirs.compile(loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1), optimizer=keras.optimizers.SGD(0.2))
    theirs.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["BinaryFocalCrossentropy", "CategoricalFocalCrossentropy"])
@pytest.mark.parametrize("settings", [dict(from_logits=True), dict(label_smoothing=0.2),
                                      dict(from_logits=True, label_smoothing=0.1, gamma=1.5)], ids=str)
def test_focal_losses_take_from_logits_and_label_smoothing_as_keras(name, settings, rng):
    from glassnet.gradcheck import check_loss
    binary = name.startswith("Binary")
    z = rng.standard_normal((6, 3))        # outputs away from 0: finite differences stay accurate
    y = (rng.random((6, 3)) < 0.5).astype(float) if binary else np.eye(3)[rng.integers(0, 3, 6)]
    extra = dict(apply_class_balancing=True) if binary else {}
    loss = getattr(losses, name)(**settings, **extra)
    outputs = z if settings.get("from_logits") else (activations.sigmoid(z) if binary else activations.softmax(z))
    assert check_loss(loss, outputs, y)["max_error"] < 1e-6                 # gradients, through the activation
    # the binary one fuses with a sigmoid output (its cross-entropy from the logits, Keras-TF's)
    assert loss.fused_activation() == ("sigmoid" if binary and not settings.get("from_logits") else None)
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    theirs = getattr(keras.losses, name)(**settings, **extra)
    expected = float(np.asarray(theirs(y.astype(np.float32), outputs.astype(np.float32))))
    assert loss(outputs, y) == pytest.approx(expected, rel=2e-5)


@pytest.mark.parametrize("name", ["BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
                                  "BinaryFocalCrossentropy", "CategoricalFocalCrossentropy"])
def test_the_weighted_gradient_on_logits_is_the_gradient_of_the_weighted_value(name, rng):
    from glassnet.gradcheck import numerical_gradient
    z = rng.standard_normal((5, 3))
    y = (rng.integers(0, 3, 5) if name.startswith("Sparse") else
         (rng.random((5, 3)) < 0.5).astype(float) if name.startswith("Binary") else np.eye(3)[rng.integers(0, 3, 5)])
    w = rng.random(5)
    loss = getattr(losses, name)(from_logits=True)
    numeric = numerical_gradient(lambda: loss.weighted(z, y, w), z)
    np.testing.assert_allclose(loss.weighted_gradient(z, y, w), numeric, rtol=1e-6, atol=1e-9)
