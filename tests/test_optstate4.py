"""optstate4: optimizer state cases stop 53 left out.

1. ``optimizer.set_state(state)`` into a model laid out otherwise: ``get_state`` records which weight
   each block of the slots belongs to (``state["weights"]``) and ``set_state`` places them per weight
   (glassnet._state_weights). Checked on twins: the model the state came from and a twin given it,
   trained on, must give the same weights (the twin's path differs: its layout when the state is set).
2. Parked state and layer names: renames, copies (pickle, deepcopy), pop then add (against Keras
   3.15), two models sharing an optimizer (each file holds its own layers' parked state).
3. ``optimizer.variables``' step count and rate read the optimizer now (against Keras 3.15), and
   the count's assign under a schedule sets the schedule's rate (against Keras 3.15).
4. The learning rate through Keras-format files: the float given kept (and Keras' own as Keras reads it).
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
    """A model saved with a layer frozen after training and loaded (glassnet's file, and Keras 3.15's
    ``.keras`` format): the loaded model's state (its record made from the loaded model's buffer)
    set into a twin laid out otherwise trains as the original does."""
    for suffix, kw in ((".npz", {}), (".keras", {}), (".keras", {"save_format": "keras"})):
        model = _make(OPTIMIZERS["adam"])
        _fit(model)
        model.layers[0].trainable = False
        _fit(model)
        path = os.path.join(tmp_path, "m" + suffix)
        model.save(path, **kw)
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


# -- 2. parked state and layer names, copies, pop then add -----------------------------------------------
def _frozen_then(model, x=X, y=Y):
    _fit(model)
    model.layers[0].trainable = False
    _fit(model)


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
@pytest.mark.parametrize("name", ["adam", "adam_ema", "multi"])
def test_copies_carry_the_parked_state(how, name):
    """``copy.deepcopy`` and ``pickle`` of a model carry its frozen layer's parked state with the
    copied layer (before, they carried none and the copy restarted it from zeros): the copy,
    unfrozen and trained, gives the original's weights bit for bit."""
    import pickle
    model = _make(OPTIMIZERS[name])
    _frozen_then(model)
    other = copy.deepcopy(model) if how == "deepcopy" else pickle.loads(pickle.dumps(model))
    for m in (model, other):
        m.layers[0].trainable = True
        _fit(m)
    _same(other, model, atol=0)


def test_renaming_a_frozen_layer_keeps_its_state_and_files_name_it_anew(tmp_path):
    """The parked state is the layer's (by its identity), not its name's: renamed while frozen, the
    layer takes its state back when unfrozen (Keras 3.15 lets a layer be renamed too and keeps its
    variables' slots), and get_state and model files name it by its new name."""
    model = _make(OPTIMIZERS["adam"])
    _frozen_then(model)
    twin = copy.deepcopy(model)
    twin.layers[0].name = "renamed"
    assert sorted(twin.optimizer.get_state()["parked"]) == ["renamed/bias", "renamed/kernel"]
    path = os.path.join(tmp_path, "renamed.npz")
    twin.save(path)
    loaded = gn.load_model(path)
    for m in (model, twin, loaded):
        m.layers[0].trainable = True
        _fit(m)
    _same(twin, model, atol=0)
    _same(loaded, model, atol=0)


def _keras_twins(keras):
    """The same two-layer model in Keras 3.15 and glassnet from Keras' weights, and an Adam for each
    (glassnet's in Keras' rule)."""
    kl = keras.layers
    keras.utils.set_random_seed(0)
    theirs = keras.Sequential([keras.Input((3,)), kl.Dense(4, activation="tanh"), kl.Dense(2)])
    ours = gn.Sequential([gn.Input((3,)), gn.layers.Dense(4, activation="tanh"), gn.layers.Dense(2)], seed=0)
    ours.set_weights(theirs.get_weights())
    return theirs, ours, keras.optimizers.Adam(0.01), gn.optimizers.Adam(0.01, rule="keras")


def test_pop_then_add_the_same_layer_as_keras(keras):
    """fit, ``pop``, fit the rest, ``add`` the popped layer back, fit: the re-added layer goes on from
    the state it had when popped, the count from the steps since, as Keras 3.15's optimizer keeps
    its variables' slots (the same layer object, the same variables). Whole fits from the same
    weights, Adam in Keras' rule."""
    theirs, ours, k_opt, g_opt = _keras_twins(keras)
    for model, optimizer in ((theirs, k_opt), (ours, g_opt)):
        model.compile(optimizer, "mse")
        _fit(model)
        head = model.pop()
        model.compile(optimizer, "mse")
        model.fit(X, Y[:, :1].repeat(4, axis=1), epochs=1, batch_size=8, shuffle=False, verbose=0)
        model.add(head)
        model.compile(optimizer, "mse")
        _fit(model)
    assert g_opt.iterations == int(k_opt.iterations) == 6
    for got, want in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_a_popped_layers_state_is_in_no_file(tmp_path):
    """A popped layer is in no model, so in no file: the file of the model without it holds the
    state of its own weights only, and loads; ``get_state`` still holds the popped layer's."""
    model = _make(OPTIMIZERS["adam"])
    _fit(model)
    head = model.pop()
    model.compile(loss="mse", optimizer=model.optimizer)
    assert sorted(model.optimizer.get_state()["parked"]) == ["dense_2/bias", "dense_2/kernel"]
    path = os.path.join(tmp_path, "popped.npz")
    model.save(path)
    loaded = gn.load_model(path)
    assert "parked" not in loaded.optimizer.get_state()
    assert len(loaded.optimizer.get_state()["slots"]["params"]["m"]) == 4 * 3 + 4 + 3 * 4 + 3
    model.add(head)             # (added back: its state was kept aside all along, in the optimizer)
    model.compile(loss="mse", optimizer=model.optimizer)
    assert "parked" not in model.optimizer.get_state()


# -- 3. optimizer.variables' step count and rate, live ------------------------------------------------------
def test_the_listed_count_and_rate_read_the_optimizer_now_as_keras(keras):
    """A list of ``variables`` held across more steps reads the count and rate of now (Keras' are
    Variables); a rate set on the optimizer shows in the listed one; Keras 3.15 measured alike."""
    kl = keras.layers
    theirs = keras.Sequential([keras.Input((3,)), kl.Dense(2)])
    ours = gn.Sequential([gn.Input((3,)), gn.layers.Dense(2)], seed=0)
    seen = []
    for model, optimizer in ((theirs, keras.optimizers.Adam(1e-3)), (ours, gn.optimizers.Adam(1e-3))):
        model.compile(optimizer, "mse")
        _fit(model)
        count, rate = optimizer.variables[:2]
        _fit(model)
        _fit(model)
        optimizer.learning_rate = 0.5
        seen.append((int(count.numpy()), float(rate.numpy()), float(np.asarray(count + 1))))
    assert seen[0] == seen[1] == (6, 0.5, 7.0)


def test_the_listed_count_reads_in_every_python_way():
    model = _make(OPTIMIZERS["adam"])
    _fit(model)
    count, rate = model.optimizer.variables[:2]
    _fit(model)
    assert (int(count), count.item(), count[()], count.tolist(), str(count), f"{count}") == (4, 4, 4, 4, "4", "4")
    assert count == 4 and np.allclose(count, 4) and repr(count) == "OptimizerScalar(4)"
    assert np.float32(rate) == np.float32(0.01) and rate.copy() == np.float32(0.01)
    count.assign_add(1)         # (from the count now, not the one when listed)
    assert model.optimizer.iterations == 5


def test_assigning_the_count_under_a_schedule_sets_its_rate_as_keras(keras):
    """Keras' rate under a schedule is the schedule's at the count: after ``iteration.assign(0)`` the
    next step takes schedule(0). glassnet's kept the rate of the count before (measured: 0.0435
    where Keras reads 0.1). Only the count is listed under a schedule, in both."""
    kl = keras.layers
    theirs = keras.Sequential([keras.Input((3,)), kl.Dense(2)])
    ours = gn.Sequential([gn.Input((3,)), gn.layers.Dense(2)], seed=0)
    ours.set_weights(theirs.get_weights())
    k_opt = keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))
    g_opt = gn.optimizers.SGD(gn.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))
    for model, optimizer in ((theirs, k_opt), (ours, g_opt)):
        model.compile(optimizer, "mse")
        model.fit(X, Y, epochs=3, batch_size=4, shuffle=False, verbose=0)
        assert len(optimizer.variables) == 1
        optimizer.variables[0].assign(0)
        model.fit(X, Y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    assert g_opt.iterations == int(k_opt.iterations) == 4
    np.testing.assert_allclose(g_opt.learning_rate, float(k_opt.learning_rate), rtol=1e-6)
    for got, want in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


# -- 4. the learning rate through .keras files ----------------------------------------------------------------
@pytest.mark.parametrize("save_format", ["keras", "h5"])
@pytest.mark.parametrize("rate", [1e-3, 3e-4, 0.1])
def test_a_keras_file_keeps_the_rate_given(tmp_path, save_format, rate):
    """Keras' file holds the rate twice: in the optimizer's config and as its float32 variable.
    glassnet's round trip keeps the float given (1e-3, not float32's 0.0010000000474974513)."""
    model = _make(lambda: gn.optimizers.Adam(rate))
    _fit(model)
    path = os.path.join(tmp_path, "m." + save_format)
    model.save(path, save_format=save_format)
    assert gn.load_model(path).optimizer.learning_rate == rate


def test_keras_reads_the_rate_of_glassnets_file_and_glassnet_keras_as_keras_does(keras, tmp_path):
    """Keras 3.15 loads glassnet's file (config 1e-3) with its float32 rate, as from its own; a file
    Keras wrote (config and variable 0.0010000000474974513) loads in glassnet as Keras reads it back."""
    model = _make(lambda: gn.optimizers.Adam(1e-3))
    _fit(model)
    ours = os.path.join(tmp_path, "ours.keras")
    model.save(ours, save_format="keras")
    assert float(keras.models.load_model(ours).optimizer.learning_rate) == float(np.float32(1e-3))
    kl = keras.layers
    theirs = keras.Sequential([keras.Input((3,)), kl.Dense(2)])
    theirs.compile(keras.optimizers.Adam(1e-3), "mse")
    theirs.fit(X, Y, epochs=1, verbose=0)
    path = os.path.join(tmp_path, "theirs.keras")
    theirs.save(path)
    want = float(keras.models.load_model(path).optimizer.learning_rate)
    assert gn.load_model(path).optimizer.learning_rate == want == float(np.float32(1e-3))


@pytest.mark.parametrize("suffix", [".npz", ".keras"])
def test_two_models_sharing_an_optimizer_each_file_holds_its_own_layers_parked_state(tmp_path, suffix):
    """Two models sharing an optimizer (and a layer), each with a frozen layer named "b" (another
    layer in each, of other shapes): each model's file holds the parked state of its own "b" (by
    identity). Before, both files took the one ``get_state`` named last, and the base's file held the
    other model's (5,)-value bias state for its (2,) bias: load_model refused it."""
    layers = gn.layers
    shared = layers.Dense(4, activation="tanh", name="a")
    base = gn.Sequential([gn.Input((3,)), shared, layers.Dense(2, name="b")], seed=0)
    other = gn.Sequential([gn.Input((3,)), shared, layers.Dense(5, activation="tanh", name="b"),
                           layers.Dense(2, name="c")], seed=1)
    optimizer = gn.optimizers.Adam(0.01)
    for m in (base, other):
        m.compile(optimizer, "mse")
        _fit(m)
    for m in (base, other):
        m.layers[1].trainable = False
        _fit(m)
    kw = {"save_format": "keras"} if suffix == ".keras" else {}
    for m in (base, other):
        path = os.path.join(tmp_path, m.name + suffix)
        m.save(path, **kw)
        loaded = gn.load_model(path)
        for each in (m, loaded):
            each.layers[1].trainable = True
        saved = m.get_weights()
        _fit(loaded)
        mine = copy.deepcopy(m)     # (the original's step, without moving the shared layer for the next)
        _fit(mine)
        _same(loaded, mine)
        m.set_weights(saved)
        m.layers[1].trainable = False


@pytest.mark.parametrize("name", ["adam", "multi"])
def test_a_state_not_placed_yet_gives_its_record_back(name):
    """An optimizer given a state before any model: its ``get_state`` gives the state's record (and
    arrays) back, so that a state passed on twice still places per weight."""
    model = _make(OPTIMIZERS[name])
    _frozen_then(model)
    state = model.optimizer.get_state()
    holder = OPTIMIZERS[name]()
    holder.set_state(state)
    again = holder.get_state()
    assert again["weights"] == state["weights"]
    assert sorted(again["parked"]) == sorted(state["parked"])
    twin = _make(OPTIMIZERS[name])
    twin.set_weights(model.get_weights())
    twin.optimizer.set_state(again)
    for m in (model, twin):
        m.layers[0].trainable = True
        _fit(m)
    _same(twin, model)


def test_renaming_a_frozen_layer_as_keras(keras):
    """fit, freeze, compile, fit, rename the frozen layer, unfreeze, compile, fit: Keras 3.15 takes
    the rename and the layer goes on from the slots it had when frozen; glassnet's alike (Adam in
    Keras' rule, whole fits from the same weights)."""
    theirs, ours, k_opt, g_opt = _keras_twins(keras)
    for model, optimizer in ((theirs, k_opt), (ours, g_opt)):
        model.compile(optimizer, "mse")
        _fit(model)
        model.layers[0].trainable = False
        model.compile(optimizer, "mse")
        _fit(model)
        model.layers[0].name = "renamed"
        model.layers[0].trainable = True
        model.compile(optimizer, "mse")
        _fit(model)
    assert ours.layers[0].name == theirs.layers[0].name == "renamed"
    assert g_opt.iterations == int(k_opt.iterations) == 6
    for got, want in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
