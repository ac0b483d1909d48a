"""Session 46's review by differential fuzzing (newrev46): random programs of freezes, unfreezes,
pop, add, compile, fit, train_on_batch and GradientTape steps against a Keras 3.15 loop stepping
per variable, and ONNX exports of stateful recurrent layers, cells of one's own, attention scores
and linear algebra against onnxruntime. What they found, each checked here without an oracle (a
twin trained without the no-op freeze is the reference: freezing a layer and unfreezing it with no
step between changes nothing in Keras, whose slots stay per variable)."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers


def _two_heads_on_one_base(seed=0):
    """Two models sharing a base (one Dense) and one SGD with momentum: the weights drawn from
    ``seed``, the data, and [targets of each]."""
    base = gn.Sequential([gn.Input((4,)), L.Dense(2, activation="tanh", name="b0")], name="base")
    models = [gn.Sequential([base, L.Dense(1, name="h1")], seed=0),
              gn.Sequential([base, L.Dense(2, name="h2")], seed=0)]
    rng = np.random.default_rng(seed)
    for model in models:
        model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])
    optimizer = gn.optimizers.SGD(0.05, momentum=0.9)
    for model in models:
        model.compile(optimizer, "mse")
    x = rng.random((8, 4)).astype(np.float32)
    y = x.sum(1, keepdims=True)
    return base, models, optimizer, x, [y, np.concatenate([y, -y], 1)]


def _weights(models):
    return [w.copy() for model in models for w in model.get_weights()]


def _twin_and_frozen(program, optimizer=None):
    """The weights of both models after ``program(base, first, second, optimizer, x, ys, freeze)``
    run twice on the same start: [without the freeze (the twin), with it]. ``optimizer``: a
    function making the one both models compile with, else _two_heads_on_one_base's SGD."""
    results = []
    for freeze in (False, True):
        base, (first, second), shared, x, ys = _two_heads_on_one_base()
        if optimizer is not None:
            shared = optimizer()
            for model in (first, second):
                model.compile(shared, "mse")
        program(base, first, second, shared, x, ys, freeze)
        results.append(_weights([first, second]))
    return results


def _frozen_in_both(recompile_second):
    """The program of _twin_and_frozen: both models step, the base's layer is frozen, both models
    compile, it is unfrozen and the first compiles (the second too when ``recompile_second``), then
    both step again."""
    def program(base, first, second, optimizer, x, ys, freeze):
        second.train_on_batch(x, ys[1])
        first.train_on_batch(x, ys[0])
        if freeze:
            base.layers[0].trainable = False
            first.compile(optimizer, "mse")
            second.compile(optimizer, "mse")
            base.layers[0].trainable = True
            first.compile(optimizer, "mse")
            if recompile_second:
                second.compile(optimizer, "mse")
        first.train_on_batch(x, ys[0])
        second.train_on_batch(x, ys[1])
    return program


@pytest.mark.parametrize("recompile_second", [False, True])
def test_a_shared_layer_frozen_in_both_models_keeps_its_state(recompile_second):
    """The base's layer stepped by both models, then frozen: compile the first model (its state
    parked from there, its home), compile the second (its older copy of that state was parked over
    the first: the momentum of one step, not two), unfreeze, compile: the first model then stepped
    it from the stale momentum (0.13 off the twin after one step)."""
    twin, frozen = _twin_and_frozen(_frozen_in_both(recompile_second))
    for got, want in zip(frozen, twin):
        np.testing.assert_array_equal(got, want)


def test_a_parked_shared_layer_stepped_by_the_other_model_takes_its_parked_state():
    """Frozen and parked from the first model's new layout, unfrozen: the second model (whose
    buffer never lost the layer) steps it next from the parked state, not from its own older copy
    (0.14 off before), and the first model then goes on from that one state."""
    def program(base, first, second, optimizer, x, ys, freeze):
        second.train_on_batch(x, ys[1])
        first.train_on_batch(x, ys[0])
        if freeze:
            base.layers[0].trainable = False
            first.compile(optimizer, "mse")
            base.layers[0].trainable = True
        second.train_on_batch(x, ys[1])
        first.train_on_batch(x, ys[0])
    twin, frozen = _twin_and_frozen(program)
    for got, want in zip(frozen, twin):
        np.testing.assert_array_equal(got, want)


def test_a_shared_layer_taken_back_while_no_model_has_a_layout_gets_a_home():
    """Both models laid out anew without the base (no layout left registered: rehome returned at
    once), then the first takes the base back from the parked state: the base had no home, so the
    second model, laid out anew at its next step, stepped it from fresh zeros (9.6e-3 off the twin
    after two Adam steps) instead of the first model's state."""
    def program(base, first, second, optimizer, x, ys, freeze):
        first.train_on_batch(x, ys[0])
        second.train_on_batch(x, ys[1])
        if freeze:
            base.trainable = False
            first.compile(optimizer, "mse")
            second.compile(optimizer, "mse")
            base.trainable = True
            first.compile(optimizer, "mse")
        second.train_on_batch(x, ys[1])
        first.train_on_batch(x, ys[0])
    twin, frozen = _twin_and_frozen(program, lambda: gn.optimizers.Adam(0.02))
    for got, want in zip(frozen, twin):
        np.testing.assert_array_equal(got, want)


def test_a_multi_optimizer_shared_by_two_models_through_a_freeze():
    """The first test's program with a MultiOptimizer (SGD on the base, Adam on the heads): the base
    layer's momentum was not the twin's after the freeze, both compiles and the unfreeze (up to 0.25
    off), when each new layout went through the MultiOptimizer's set_state, forgetting the
    sub-optimizers' homes and handing the other model's key its stale plan's state; now each
    sub-optimizer carries its own state (glassnet._state_carry)."""
    twin, frozen = _twin_and_frozen(_frozen_in_both(False), lambda: gn.optimizers.MultiOptimizer(gn.optimizers.OptimizerMap(
        gn.optimizers.SGD(0.05, momentum=0.9), {".*/h./.*": gn.optimizers.Adam(0.01)})))
    for got, want in zip(frozen, twin):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
