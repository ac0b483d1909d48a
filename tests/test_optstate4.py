"""optstate4: optimizer state cases stop 53 left out.

1. ``optimizer.set_state(state)`` into a model laid out otherwise: ``get_state`` records which weight
   each block of the slots belongs to (``state["weights"]``) and ``set_state`` places them per weight
   (glassnet._state_weights). Checked on twins: the model the state came from and a twin given it,
   trained on, must give the same weights (the twin's path differs: its layout when the state is set).
"""
import copy
import os

import numpy as np
import pytest

import glassnet as gn

RNG = np.random.default_rng(0)
X = RNG.normal(size=(16, 3)).astype("float32")
Y = RNG.normal(size=(16, 2)).astype("float32")


def _make(optimizer, seed=1):
    model = gn.Sequential([gn.layers.Dense(4, activation="tanh", input_dim=3), gn.layers.Dense(3, activation="tanh"),
                           gn.layers.Dense(2)], seed=seed)
    model.compile(loss="mse", optimizer=optimizer())
    return model


def _fit(model):
    model.fit(X, Y, epochs=1, batch_size=8, shuffle=False, verbose=0)


def _same(a, b, atol=1e-6):
    for got, want in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(got, want, rtol=0, atol=atol)


def _multi():
    return gn.optimizers.MultiOptimizer(gn.optimizers.OptimizerMap(
        gn.optimizers.Adam(0.01), {".*dense/.*": gn.optimizers.SGD(0.05, momentum=0.9)}))


OPTIMIZERS = {
    "adam": lambda: gn.optimizers.Adam(0.01),
    "sgd_momentum": lambda: gn.optimizers.SGD(0.05, momentum=0.9),
    "adagrad": lambda: gn.optimizers.Adagrad(0.05, initial_accumulator_value=0.3),
    "adafactor": lambda: gn.optimizers.Adafactor(0.05),
    "adam_ema": lambda: gn.optimizers.Adam(0.01, use_ema=True, ema_momentum=0.9),
    "multi": _multi,
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_state_taken_while_frozen_into_a_twin_not_laid_out_again(name):
    """The state of a model trained with its first layer frozen (its slots: the other layers', its
    parked state: the first's), set into a twin frozen the same way but not laid out again since
    (its buffer still holds the first layer): both unfrozen and trained, they agree."""
    model = _make(OPTIMIZERS[name])
    _fit(model)
    model.layers[0].trainable = False
    _fit(model)
    state = model.optimizer.get_state()
    assert [w for w, _ in state["weights"]["params"]] == ["dense_1/kernel", "dense_1/bias", "dense_2/kernel",
                                                          "dense_2/bias"]
    twin = _make(OPTIMIZERS[name])
    twin.set_weights(model.get_weights())
    twin.layers[0].trainable = False
    twin.optimizer.set_state(state)
    for m in (model, twin):
        m.layers[0].trainable = True
        _fit(m)
        _fit(m)
    _same(twin, model)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_state_of_every_weight_into_a_twin_trained_frozen(name):
    """The state of a model trained whole, set into a twin whose first layer is frozen and laid out
    so (its buffer lacks it): the first layer's state is kept aside for it, and once unfrozen the
    twin trains as the model does with that layer frozen, then unfrozen, meanwhile."""
    model = _make(OPTIMIZERS[name])
    _fit(model)
    state = model.optimizer.get_state()
    twin = _make(OPTIMIZERS[name], seed=5)
    twin.set_weights(model.get_weights())
    twin.layers[0].trainable = False
    twin.compile(loss="mse", optimizer=twin.optimizer)     # (laid out without the first layer)
    twin.optimizer.set_state(state)
    assert sorted(twin.optimizer.get_state().get("parked", {})) == ["dense/bias", "dense/kernel"]
    model.layers[0].trainable = False
    for m in (model, twin):
        _fit(m)
        m.layers[0].trainable = True
        _fit(m)
    _same(twin, model)


def test_a_state_set_before_compile_is_placed_at_compile():
    """``set_state`` on an optimizer not compiled yet: its record is kept until the model it is
    compiled into is laid out, then placed per weight."""
    model = _make(OPTIMIZERS["adam"])
    _fit(model)
    model.layers[1].trainable = False
    _fit(model)
    twin = _make(OPTIMIZERS["adam"])
    twin.set_weights(model.get_weights())
    optimizer = gn.optimizers.Adam(0.01)
    optimizer.set_state(model.optimizer.get_state())
    twin.compile(loss="mse", optimizer=optimizer)       # (built, all trainable: 4 weights more than the state)
    for m in (model, twin):
        m.layers[1].trainable = True
        _fit(m)
    _same(twin, model)


def test_a_state_through_a_model_file_into_a_twin(tmp_path):
    """A model saved with a layer frozen after training and loaded: the loaded model's state (its
    record made from the loaded model's buffer) set into a twin laid out otherwise trains as the
    original does."""
    for suffix in (".npz", ".keras"):
        model = _make(OPTIMIZERS["adam"])
        _fit(model)
        model.layers[0].trainable = False
        _fit(model)
        path = os.path.join(tmp_path, "m" + suffix)
        model.save(path)
        loaded = gn.load_model(path)
        twin = _make(OPTIMIZERS["adam"])
        twin.set_weights(model.get_weights())
        twin.optimizer.set_state(loaded.optimizer.get_state())     # (all trainable: laid out otherwise)
        twin.layers[0].trainable = model.layers[0].trainable = True
        for m in (model, twin):
            _fit(m)
        _same(twin, model)


def test_a_state_without_its_record_sets_as_before():
    """An older state (no ``"weights"``) sets its arrays as they are: into a model laid out alike the
    same run."""
    model = _make(OPTIMIZERS["adam"])
    _fit(model)
    state = model.optimizer.get_state()
    del state["weights"]
    twin = _make(OPTIMIZERS["adam"])
    twin.set_weights(model.get_weights())
    twin.optimizer.set_state(state)
    for m in (model, twin):
        _fit(m)
    _same(twin, model, atol=0)


def test_a_weight_of_another_shape_is_refused_by_name_before_anything_changes():
    model = _make(OPTIMIZERS["adam"])
    _fit(model)
    other = gn.Sequential([gn.layers.Dense(4, activation="tanh", input_dim=3), gn.layers.Dense(5, activation="tanh"),
                           gn.layers.Dense(2)], seed=1)
    other.compile(loss="mse", optimizer=gn.optimizers.Adam(0.01))
    other.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    before = other.optimizer.get_state()
    with pytest.raises(ValueError, match=r"^Adam\.set_state: the state of 'dense_1/kernel' is for a weight of shape "
                                         r"\(4, 3\), the model 'sequential(_\d+)?' has it of shape \(4, 5\)"):
        other.optimizer.set_state(model.optimizer.get_state())
    after = other.optimizer.get_state()
    assert after["iterations"] == before["iterations"]
    for slot, a in before["slots"]["params"].items():
        np.testing.assert_array_equal(after["slots"]["params"][slot], a)


def test_another_models_state_is_refused():
    """No weight in common and shapes that do not follow each other: another model's state."""
    model = _make(OPTIMIZERS["adam"])
    _fit(model)
    other = gn.Sequential([gn.layers.Dense(6, input_dim=3, name="a"), gn.layers.Dense(2, name="b")], seed=0)
    other.compile(loss="mse", optimizer=gn.optimizers.Adam(0.01))
    with pytest.raises(ValueError, match=r"none of which the model .* trains .*another model's state"):
        other.optimizer.set_state(model.optimizer.get_state())


def test_layers_named_otherwise_laid_out_alike_take_it_in_order():
    """A state set into a model of the same shapes whose layers are named otherwise: in order, as a
    state without its record always was."""
    model = _make(OPTIMIZERS["adam"])
    _fit(model)
    other = gn.Sequential([gn.layers.Dense(4, activation="tanh", input_dim=3, name="a"),
                           gn.layers.Dense(3, activation="tanh", name="b"), gn.layers.Dense(2, name="c")], seed=1)
    other.compile(loss="mse", optimizer=gn.optimizers.Adam(0.01))
    other.set_weights(model.get_weights())
    other.optimizer.set_state(model.optimizer.get_state())
    for m in (model, other):
        _fit(m)
    _same(other, model, atol=0)


def test_the_record_is_checked():
    optimizer = gn.optimizers.Adam()
    with pytest.raises(TypeError, match=r"^Adam\.set_state: weights must be"):
        optimizer.set_state({"iterations": 1, "slots": {}, "weights": {"params": [["dense/kernel", "3x4"]]}})
    with pytest.raises(ValueError, match=r"^Adam\.set_state: the state 'm' of 'params' holds 5 values, but its "
                                         r"weights \(1, from 'dense/kernel'\) take 12"):
        optimizer.set_state({"iterations": 1, "slots": {"params": {"m": np.zeros(5, "float32"),
                                                                    "v": np.zeros(5, "float32")}},
                             "weights": {"params": [["dense/kernel", [3, 4]]]}})


def test_a_gradient_tape_loop_places_the_state_at_its_first_step():
    """An optimizer stepping a model in a GradientTape loop (not compiled into it): a state set into
    it is placed on the model's buffer at its next step."""
    def run(model, optimizer, steps):
        for _ in range(steps):
            with gn.GradientTape() as tape:
                loss = gn.ops.mean((model(X, training=True) - Y) ** 2)
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_weights), model.trainable_weights))

    model = _make(OPTIMIZERS["adam"])
    loop = gn.optimizers.Adam(0.01)
    run(model, loop, 2)
    model.layers[0].trainable = False
    run(model, loop, 2)
    twin = _make(OPTIMIZERS["adam"])
    twin.set_weights(model.get_weights())
    other = gn.optimizers.Adam(0.01)
    state = loop.get_state()
    key = next(iter(state["slots"]))
    state["slots"] = {f"{twin.name}/params": state["slots"][key]}
    state["weights"] = {f"{twin.name}/params": state["weights"][key]}
    other.set_state(state)
    model.layers[0].trainable = True
    run(model, loop, 2)
    run(twin, other, 2)
    _same(twin, model)
