"""Keras' ``reduction=`` and ``name=`` on every loss, and ``SparseCategoricalCrossentropy(ignore_class=)``:
values against keras.losses, gradients against PyTorch autograd and finite differences, training
against Keras' fit, and the settings kept by configs and model files."""
import os

import numpy as np
import pytest

from glassnet import activations, losses
from glassnet.gradcheck import check_loss

from test_losses import FUSED, SEPARABLE, _predictions, _targets, _torch_per_sample

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SCALAR = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight"]
ALL = SCALAR + ["none", None]
# the losses Keras has, by glassnet's name (squared_error is glassnet's own)
KERAS_NAMED = sorted(name for name in losses.LOSSES if name != "squared_error")


def _keras():
    return pytest.importorskip("keras", reason="Keras oracle not installed")


def _case(name, rng, n=6):
    if name in ("dice", "tversky"):
        return rng.uniform(0.05, 0.95, (n, 3)), rng.integers(0, 2, (n, 3)).astype(float)
    return _predictions(name, rng, n), _targets(name, rng, n)


def _torch_reduce(values, w, reduction, torch):
    """Keras' reduce_weighted_values, in torch: values (n,), w (n,) or None."""
    weighted = values if w is None else values * w
    if reduction in (None, "none"):
        return weighted
    total = weighted.sum()
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and w is not None:
        return total / w.sum()
    return total / values.numel()


# -- values: keras.losses, every class, every reduction, with and without weights ----------------
@pytest.mark.parametrize("name", KERAS_NAMED)
@pytest.mark.parametrize("reduction", ALL)
@pytest.mark.parametrize("weighted", [False, True])
def test_values_match_keras(name, reduction, weighted, rng):
    keras = _keras()
    settings = {"axis": 1} if name in ("dice", "tversky") and weighted else {}   # axis=None: one ratio, no weights
    ours = losses.LOSSES[name](reduction=reduction, **settings)
    theirs = getattr(keras.losses, losses.plain_type(ours).__name__)(reduction=reduction, **settings)
    y_hat, y = _case(name, rng)
    w = rng.uniform(0, 2, 6) if weighted else None
    if w is not None:
        w[1] = 0.0
    mine = ours(y_hat, y) if w is None else ours.weighted(y_hat, y, w)
    keras_value = np.asarray(theirs(y, y_hat, sample_weight=w), dtype=np.float64)
    if reduction in ("none", None):
        assert isinstance(mine, np.ndarray)
        np.testing.assert_allclose(mine, keras_value, rtol=3e-5, atol=1e-6)
    else:
        assert isinstance(mine, float)
        assert mine == pytest.approx(float(keras_value), rel=3e-5, abs=1e-6)


def test_squared_error_reductions_by_hand(rng):
    y_hat, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    w = rng.uniform(0, 2, 5)
    per = 0.5 * ((y_hat - y) ** 2).sum(axis=1)
    assert losses.SquaredError(reduction="sum")(y_hat, y) == pytest.approx(per.sum())
    assert losses.SquaredError(reduction="mean_with_sample_weight").weighted(y_hat, y, w) == pytest.approx(
        (per * w).sum() / w.sum())
    np.testing.assert_allclose(losses.SquaredError(reduction="none").weighted(y_hat, y, w), per * w)


# -- gradients: torch autograd, finite differences ------------------------------------------------
@pytest.mark.parametrize("name", SEPARABLE)
@pytest.mark.parametrize("reduction", SCALAR)
@pytest.mark.parametrize("weighted", [False, True])
def test_value_and_gradient_match_torch(name, reduction, weighted, rng, torch):
    y_hat, y = _predictions(name, rng, 6), _targets(name, rng, 6)
    w = rng.uniform(0.1, 3, 6) if weighted else None
    t = torch.tensor(y_hat, requires_grad=True)
    value = _torch_reduce(_torch_per_sample(name, t, y, torch), None if w is None else torch.tensor(w), reduction, torch)
    value.backward()
    loss = losses.LOSSES[name](reduction=reduction)
    mine = loss(y_hat, y) if w is None else loss.weighted(y_hat, y, w)
    g = loss.gradient(y_hat, y) if w is None else loss.weighted_gradient(y_hat, y, w)
    assert mine == pytest.approx(value.item(), rel=1e-10)
    np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("name,activation", FUSED)
@pytest.mark.parametrize("reduction", ["sum", "mean_with_sample_weight"])
@pytest.mark.parametrize("weighted", [False, True])
def test_fused_path_matches_torch(name, activation, reduction, weighted, rng, torch):
    loss, act = losses.LOSSES[name](reduction=reduction), activations.get(activation)
    z, y = rng.standard_normal((6, 3)), _targets(name, rng, 6, 3)
    w = rng.uniform(0.1, 3, 6) if weighted else None
    tz = torch.tensor(z, requires_grad=True)
    p = torch.sigmoid(tz) if activation == "sigmoid" else torch.softmax(tz, dim=1)
    value = _torch_reduce(_torch_per_sample(name, p, y, torch), None if w is None else torch.tensor(w), reduction, torch)
    value.backward()
    a = act.forward(z)
    assert loss.fused_activation() == activation        # another reduction still fuses
    if w is None:
        v, g = loss.from_logits_and_gradient(z, a, y)
        assert loss.value_from_logits(z, a, y) == v
        np.testing.assert_array_equal(loss.gradient_from_logits(a, y), g)
    else:
        v, g = loss.weighted_from_logits(z, a, y, w), loss.weighted_gradient_from_logits(a, y, w)
    assert v == pytest.approx(value.item(), rel=1e-10)
    np.testing.assert_allclose(g, tz.grad.numpy(), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
@pytest.mark.parametrize("reduction", ["sum", "mean_with_sample_weight"])
def test_gradient_matches_finite_differences(name, reduction, rng):
    loss = losses.LOSSES[name](reduction=reduction)
    y_hat, y = _case(name, rng, 5)
    check_loss(loss, y_hat, y)


# -- ignore_class -------------------------------------------------------------------------------
def _with_void(rng, n=8, k=4, void=255):
    labels = rng.integers(0, k, n)
    labels[[1, 4, 5]] = void
    return labels


@pytest.mark.parametrize("reduction", ALL)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("void", [255, -1])
def test_ignore_class_matches_keras(reduction, weighted, from_logits, void, rng):
    keras = _keras()
    z = rng.standard_normal((8, 4))
    y_hat = z if from_logits else activations.softmax(z)
    y = _with_void(rng, void=void)
    w = rng.uniform(0.1, 2, 8) if weighted else None
    ours = losses.SparseCategoricalCrossentropy(from_logits=from_logits, ignore_class=void, reduction=reduction)
    theirs = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits, ignore_class=void,
                                                        reduction=reduction)
    mine = ours(y_hat, y) if w is None else ours.weighted(y_hat, y, w)
    np.testing.assert_allclose(mine, np.asarray(theirs(y, y_hat, sample_weight=w), dtype=np.float64),
                               rtol=3e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", SCALAR)
@pytest.mark.parametrize("weighted", [False, True])
def test_ignore_class_gradients_match_torch(reduction, weighted, rng, torch):
    z, y = rng.standard_normal((8, 4)), _with_void(rng)
    w = rng.uniform(0.1, 2, 8) if weighted else None
    keep = torch.tensor(y != 255)
    safe = torch.tensor(np.where(y != 255, y, 0))
    tz = torch.tensor(z, requires_grad=True)
    tw = keep.double() if w is None else keep.double() * torch.tensor(w)
    per = torch.nn.functional.cross_entropy(tz, safe, reduction="none") * tw
    if reduction == "sum":
        value = per.sum()
    elif reduction == "mean_with_sample_weight":
        value = per.sum() / tw.sum()
    else:
        value = per.sum() / keep.sum()
    value.backward()
    loss = losses.SparseCategoricalCrossentropy(ignore_class=255, reduction=reduction)
    a = activations.softmax(z)
    if w is None:       # the fused path (softmax output), as fit runs it
        v, g = loss.from_logits_and_gradient(z, a, y)
    else:
        v, g = loss.weighted_from_logits(z, a, y, w), loss.weighted_gradient_from_logits(a, y, w)
    assert v == pytest.approx(value.item(), rel=1e-10)
    np.testing.assert_allclose(g, tz.grad.numpy(), rtol=1e-8, atol=1e-12)
    # the unfused path, on the probabilities, through the softmax by hand; Keras divides each row by
    # its sum, then clips: rows of a softmax sum to 1, but the gradient goes back through the division
    tp = torch.tensor(a, requires_grad=True)
    per = -torch.log(torch.clamp(tp / tp.sum(dim=1, keepdim=True), 1e-7, 1 - 1e-7)[torch.arange(8), safe]) * tw
    value = per.sum() if reduction == "sum" else per.sum() / (tw.sum() if reduction == "mean_with_sample_weight"
                                                              else keep.sum())
    value.backward()
    g = loss.gradient(a, y) if w is None else loss.weighted_gradient(a, y, w)
    np.testing.assert_allclose(g, tp.grad.numpy(), rtol=1e-8, atol=1e-12)
    assert not g[[1, 4, 5]].any()
    check_loss(losses.SparseCategoricalCrossentropy(ignore_class=255, reduction=reduction), a, y)


def test_ignore_class_with_every_sample_ignored_is_zero():
    loss = losses.SparseCategoricalCrossentropy(ignore_class=7)
    a = activations.softmax(np.ones((3, 4)))
    assert loss(a, np.array([7, 7, 7])) == 0.0
    assert not loss.gradient(a, np.array([7, 7, 7])).any()


def test_ignore_class_targets_are_checked(rng):
    loss = losses.SparseCategoricalCrossentropy(ignore_class=255)
    assert loss.prepare_targets(np.array([0, 255, 2]), 3, np.float32).tolist() == [0, 255, 2]
    with pytest.raises(ValueError, match=r"other than ignore_class=255\): labels must lie in \[0, 3\)"):
        loss.prepare_targets(np.array([0, 254, 2]), 3, np.float32)
    with pytest.raises(ValueError, match="labels must lie in"):
        loss(activations.softmax(np.ones((2, 3))), np.array([0, 5]))
    with pytest.raises(ValueError, match="ignore_class must be None or an integer label, got 'void'"):
        losses.SparseCategoricalCrossentropy(ignore_class="void")


# -- settings, defaults and refusals ------------------------------------------------------------
def test_the_default_reduction_keeps_the_class_and_its_methods(rng):
    for name, cls in losses.LOSSES.items():
        for loss in (cls(), cls(reduction="sum_over_batch_size"), cls(reduction="mean")):
            assert type(loss) is cls, name
        assert type(cls(reduction="sum")) is not cls and isinstance(cls(reduction="sum"), cls)
        assert losses.plain_type(cls(reduction="sum")) is cls
    y_hat, y = _predictions("mse", rng), _targets("mse", rng)
    mean = losses.MeanSquaredError(reduction="mean")
    assert mean(y_hat, y) == losses.MeanSquaredError()(y_hat, y)           # bit for bit


def test_bad_reduction_and_name_are_refused():
    with pytest.raises(ValueError, match=r"Huber: reduction must be one of 'sum_over_batch_size', .*got 'total'"):
        losses.Huber(reduction="total")
    with pytest.raises(ValueError, match="MeanSquaredError: name must be a non-empty string, got 3"):
        losses.MeanSquaredError(name=3)


def test_none_gives_no_gradient_and_is_refused_for_training(rng):
    import glassnet as gn
    loss = losses.MeanSquaredError(reduction="none")
    y_hat, y = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    np.testing.assert_allclose(loss(y_hat, y), ((y_hat - y) ** 2).mean(axis=1))
    with pytest.raises(ValueError, match=r"reduction='none'\) gives one loss per sample, which has no gradient"):
        loss.gradient(y_hat, y)
    model = gn.Sequential([gn.layers.Dense(2, input_dim=3)], seed=0)
    for reduction in ("none", None):
        with pytest.raises(ValueError, match=f"has reduction={reduction!r}, one loss per sample"):
            model.compile(loss=losses.MeanSquaredError(reduction=reduction), optimizer="sgd")
    assert model.loss is None                       # refused before the model changed
    inputs = gn.Input((3,))
    functional = gn.Model(inputs, [gn.layers.Dense(2, name="a")(inputs), gn.layers.Dense(1, name="b")(inputs)])
    with pytest.raises(ValueError, match="has reduction='none'"):
        functional.compile(loss=["mse", losses.MeanSquaredError(reduction="none")], optimizer="sgd")


def test_settings_are_kept_by_configs_files_copies_and_metrics(rng, tmp_path):
    import copy
    import pickle

    import glassnet as gn
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255, reduction="sum", name="seg")
    assert repr(loss) == "<loss sparse_categorical_crossentropy ignore_class=255 from_logits=True reduction='sum' name='seg'>"
    assert loss.name == "seg" and loss.get_config() == "sparse_categorical_crossentropy"
    expected = {"from_logits": True, "ignore_class": 255, "reduction": "sum", "name": "seg"}
    assert losses.changed_settings(loss) == expected
    for other in (copy.deepcopy(loss), pickle.loads(pickle.dumps(loss))):
        assert type(other) is type(loss) and losses.changed_settings(other) == expected
    model = gn.Sequential([gn.layers.Dense(4, input_dim=3)], seed=0)
    metric = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255, reduction="sum", name="ce")
    model.compile(loss=loss, optimizer="sgd", metrics=[metric])
    assert model.get_config()["compile"]["loss_config"] == expected
    x, y = rng.standard_normal((10, 3)).astype(np.float32), _with_void(rng, 10)
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert type(loaded.loss) is type(loss) and losses.changed_settings(loaded.loss) == expected
    assert loaded.evaluate(x, y, verbose=0)[0] == pytest.approx(model.evaluate(x, y, verbose=0)[0], rel=1e-6)
    rebuilt = gn.Sequential.from_config(model.get_config())
    assert losses.changed_settings(rebuilt.loss) == expected
    # the loss named as a metric: logged by its name, the mean over samples (not its sum), and kept
    assert [name for name, _ in loaded.metrics] == ["ce"]
    assert losses.changed_settings(loaded.metrics[0][1].loss) == losses.changed_settings(metric)
    history = model.fit(x, y, epochs=1, verbose=0, shuffle=False, batch_size=10)
    out, keep = model.predict(x, verbose=0), y != 255
    mean = -np.log(activations.softmax(out.astype(np.float64))[keep, y[keep]]).mean()
    scores = model.evaluate(x, y, verbose=0, return_dict=True)
    assert scores["ce"] == pytest.approx(mean, rel=1e-5)
    assert scores["loss"] == pytest.approx(mean * keep.sum(), rel=1e-5)
    assert "ce" in history.history


# -- training: Keras' fit ---------------------------------------------------------------------
def _keras_and_ours(keras, gn, units, activation, loss_pair, x, y, w, epochs, batch_size, lr):
    import glassnet.optimizers
    ours = gn.Sequential([gn.layers.Dense(units, activation=activation, input_shape=x.shape[1:])], seed=0)
    ours.compile(loss=loss_pair[0], optimizer=glassnet.optimizers.SGD(learning_rate=lr))
    ours.build((None, *x.shape[1:]))
    theirs = keras.Sequential([keras.Input(x.shape[1:]), keras.layers.Dense(units, activation=activation)])
    theirs.compile(loss=loss_pair[1], optimizer=keras.optimizers.SGD(learning_rate=lr))
    theirs.set_weights(ours.get_weights())
    h_ours = ours.fit(x, y, sample_weight=w, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0)
    h_theirs = theirs.fit(x, y, sample_weight=w, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0)
    np.testing.assert_allclose(h_ours.history["loss"], h_theirs.history["loss"], rtol=2e-4)
    for mine, keras_weight in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, keras_weight, rtol=2e-4, atol=2e-6)
    assert ours.evaluate(x, y, sample_weight=w, verbose=0) == pytest.approx(
        theirs.evaluate(x, y, sample_weight=w, verbose=0), rel=2e-4)


@pytest.mark.parametrize("weighted", [False, True])
def test_training_with_sum_matches_keras(weighted, rng):
    keras = _keras()
    import glassnet as gn
    x = rng.standard_normal((20, 3)).astype(np.float32)
    y = rng.standard_normal((20, 2)).astype(np.float32)
    w = rng.uniform(0.2, 2, 20).astype(np.float32) if weighted else None
    _keras_and_ours(keras, gn, 2, None, (losses.MeanSquaredError(reduction="sum"),
                                         keras.losses.MeanSquaredError(reduction="sum")), x, y, w, 3, 8, 0.01)
    labels = rng.integers(0, 3, 20)
    _keras_and_ours(keras, gn, 3, "softmax", (losses.SparseCategoricalCrossentropy(reduction="sum"),
                                              keras.losses.SparseCategoricalCrossentropy(reduction="sum")),
                    x, labels, w, 3, 8, 0.05)


@pytest.mark.parametrize("weighted", [False, True])
def test_training_with_ignore_class_matches_keras(weighted, rng):
    keras = _keras()
    import glassnet as gn
    x = rng.standard_normal((24, 3)).astype(np.float32)
    labels = rng.integers(0, 3, 24)
    labels[rng.random(24) < 0.3] = 255
    w = rng.uniform(0.2, 2, 24).astype(np.float32) if weighted else None
    _keras_and_ours(keras, gn, 3, "softmax", (losses.SparseCategoricalCrossentropy(ignore_class=255),
                                              keras.losses.SparseCategoricalCrossentropy(ignore_class=255)),
                    x, labels, w, 3, 8, 0.1)
    # labels per position (a segmenter's pixels, a tagger's steps), logits
    x = rng.standard_normal((6, 5, 3)).astype(np.float32)
    labels = rng.integers(0, 3, (6, 5))
    labels[rng.random((6, 5)) < 0.3] = 255
    _keras_and_ours(keras, gn, 3, None,
                    (losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255, reduction="sum"),
                     keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255, reduction="sum")),
                    # weights per position (Keras fails on (n,) weights against its (n, steps) mask)
                    x, labels, rng.uniform(0.2, 2, (6, 5)).astype(np.float32) if weighted else None, 3, 4, 0.05)


def test_class_weight_passes_over_ignored_labels(rng):
    import glassnet as gn
    x = rng.standard_normal((12, 3)).astype(np.float32)
    y = rng.integers(0, 3, 12)
    y[[0, 5]] = 255
    table = {0: 2.0, 1: 0.5}

    def trained(**weights):
        model = gn.Sequential([gn.layers.Dense(3, activation="softmax", input_dim=3)], seed=0)
        model.compile(loss=losses.SparseCategoricalCrossentropy(ignore_class=255), optimizer="sgd")
        history = model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0, **weights)
        return history.history["loss"], model.get_weights()

    by_class = trained(class_weight=table)
    # what the void samples weigh does not matter: they count for nothing
    by_hand = trained(sample_weight=np.array([7.0 if c == 255 else table.get(c, 1.0) for c in y], dtype=np.float32))
    np.testing.assert_allclose(by_class[0], by_hand[0], rtol=1e-6)
    for a, b in zip(by_class[1], by_hand[1]):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_a_model_of_two_outputs_trains_with_a_sum_as_keras(rng):
    keras = _keras()
    import glassnet as gn
    import glassnet.optimizers
    x = rng.standard_normal((16, 3)).astype(np.float32)
    ya, yb = rng.standard_normal((16, 2)).astype(np.float32), rng.integers(0, 3, 16)
    inputs = gn.Input((3,))
    ours = gn.Model(inputs, [gn.layers.Dense(2, name="a")(inputs), gn.layers.Dense(3, activation="softmax", name="b")(inputs)],
                    seed=0)
    ours.compile(loss=[losses.MeanSquaredError(reduction="sum"), "sparse_categorical_crossentropy"],
                 optimizer=glassnet.optimizers.SGD(learning_rate=0.02))
    k_in = keras.Input((3,))
    theirs = keras.Model(k_in, [keras.layers.Dense(2, name="a")(k_in), keras.layers.Dense(3, activation="softmax", name="b")(k_in)])
    theirs.compile(loss=[keras.losses.MeanSquaredError(reduction="sum"), "sparse_categorical_crossentropy"],
                   optimizer=keras.optimizers.SGD(learning_rate=0.02))
    ours.predict(x[:1], verbose=0)
    theirs.set_weights(ours.get_weights())
    h_ours = ours.fit(x, [ya, yb], epochs=2, batch_size=8, shuffle=False, verbose=0).history
    h_theirs = theirs.fit(x, [ya, yb], epochs=2, batch_size=8, shuffle=False, verbose=0).history
    for key in ("loss", "a_loss", "b_loss"):
        np.testing.assert_allclose(h_ours[key], h_theirs[key], rtol=2e-4)
    for mine, keras_weight in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, keras_weight, rtol=2e-4, atol=2e-6)
