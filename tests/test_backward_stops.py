"""The backward pass ends at the last layer below which nothing learns: a frozen base (transfer
learning) or preprocessing layers cost no gradients. The results are those of the full pass."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers
from glassnet.parameters import ParametersMixin


def _counting(model):
    """Count each layer's backward calls."""
    counts = {}
    for layer in model.layers:
        def wrapped(grad, _layer=layer, _backward=layer.backward):
            counts[_layer.name] = counts.get(_layer.name, 0) + 1
            return _backward(grad)
        layer.backward = wrapped
    return counts


def _every(self, every=False):          # the old marking: every layer reading another's output
    return _mark(self, every=True)


_mark = ParametersMixin._mark_first_layer


def _frozen_base(seed=0):
    base = gn.Sequential([layers.Input((6, 6, 1)), layers.Conv2D(3, 3, activation="relu", name="base_conv"),
                          layers.MaxPooling2D(2, name="base_pool"), layers.Flatten(name="base_flat")], seed=seed)
    base.trainable = False
    model = gn.Sequential([base, layers.Dense(4, activation="relu", name="head"),
                           layers.Dense(3, activation="softmax", name="out")], seed=seed + 1)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    return model


def test_a_frozen_base_gets_no_backward_and_trains_as_with_it(monkeypatch):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 6, 6, 1)).astype(np.float32), rng.integers(0, 3, 40)
    model = _frozen_base()
    counts = _counting(model)
    ours = model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    assert counts == {"head": 15}       # (the fused output takes backward_from_logits); the base: never
    assert not model.get_layer("head").needs_input_gradient
    monkeypatch.setattr(ParametersMixin, "_mark_first_layer", _every)
    full = _frozen_base()
    counts = _counting(full)
    theirs = full.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    assert counts["base_pool"] == 15                    # (the check's own premise: before, they ran)
    assert ours == theirs
    for a, b in zip(model.get_weights(), full.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_frozen_layer_between_learning_ones_passes_the_gradient():
    model = gn.Sequential([layers.Input((3,)), layers.Dense(4, name="low", seed=0),
                           layers.Dense(4, name="frozen", seed=1), layers.Dense(1, name="top", seed=2)])
    model.get_layer("frozen").trainable = False
    model.compile(loss="mse", optimizer="sgd")
    before = model.get_layer("low").get_weights()
    model.fit(np.ones((4, 3)), np.zeros((4, 1)), verbose=0)
    assert model.get_layer("frozen").needs_input_gradient and not model.get_layer("low").needs_input_gradient
    assert not np.array_equal(before[0], model.get_layer("low").get_weights()[0])


def test_a_functional_model_skips_its_frozen_branch(monkeypatch):
    rng = np.random.default_rng(1)
    x = [rng.standard_normal((16, 3)).astype(np.float32), rng.standard_normal((16, 2)).astype(np.float32)]
    y = rng.standard_normal((16, 1)).astype(np.float32)

    def build():
        a, b = gn.Input((3,), name="a"), gn.Input((2,), name="b")
        frozen = layers.Dense(4, name="frozen", seed=0)
        frozen.trainable = False
        feature = layers.Dense(2, name="feature", seed=3)(layers.Activation("tanh", name="squash")(frozen(a)))
        merged = layers.Concatenate(name="join")([feature, layers.Dense(2, name="learned", seed=1)(b)])
        model = gn.Model([a, b], layers.Dense(1, name="out", seed=2)(merged))
        model.compile(loss="mse", optimizer="sgd")
        return model
    model = build()
    counts = _counting(model)
    ours = model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    assert "frozen" not in counts and "squash" not in counts and counts["feature"] == 8
    monkeypatch.setattr(ParametersMixin, "_mark_first_layer", _every)
    assert build().fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"] == ours


def test_a_lambda_trains_above_frozen_layers():
    model = gn.Sequential([layers.Input((3,)), layers.Dense(4, name="frozen", seed=0),
                           layers.Lambda(lambda h: h ** 2), layers.Dense(1, seed=1)])
    model.get_layer("frozen").trainable = False
    model.compile(loss="mse", optimizer="sgd")
    history = model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=3, verbose=0).history["loss"]
    assert history[-1] < history[0]
    model.get_layer("frozen").trainable = True         # now a gradient must pass through it
    with pytest.raises(NotImplementedError, match="cannot pass a gradient back"):
        model.fit(np.ones((8, 3)), np.ones((8, 1)), verbose=0)


def test_trace_and_check_model_still_show_every_gradient():
    from glassnet.gradcheck import check_model
    model = gn.Sequential([layers.Input((3,)), layers.Dense(4, activation="tanh", name="frozen", seed=0),
                           layers.Dense(2, name="top", seed=1)], dtype="float64")
    model.get_layer("frozen").trainable = False
    model.compile(loss="mse", optimizer="sgd")
    x, y = np.random.default_rng(2).standard_normal((5, 3)), np.zeros((5, 2))
    trace = model.trace(x, y)
    assert trace[0]["grads"]["kernel"].shape == (3, 4) and np.abs(trace[0]["grads"]["kernel"]).sum() > 0
    assert trace[0]["update"] == {}                     # frozen: not updated
    assert check_model(model, x, y)["max_error"] < 1e-6
    assert not model.get_layer("top").needs_input_gradient     # training's marking is back
