"""The optimizer-state cases session 47 added to freezing (glassnet._state_carry, glassnet._parked_state):
a frozen layer's set-aside state in model files (.npz and Keras' .keras, both ways) and in
``get_state``/``set_state``; ``use_ema``'s average of a frozen layer averaged on, as Keras 3.15's; a
MultiOptimizer holding an Adafactor, and an optimizer of one's own overriding ``reset``, carried
through a new layout. Whole fits against Keras 3.15 from the same weights where Keras behaves the
same, else against a twin trained without the interruption (a save and load, a no-op freeze)."""
import io
import json
import zipfile

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import ModelFileError
from test_freeze_more import OPTIMIZERS, TOL, _close, _data, _fit, _ours, _pair, multi_as_keras_loop

L = gn.layers
opt = gn.optimizers


def _adam():
    return opt.Adam(0.01)


# each optimizer the twin tests run, as a function making it
TWINS = {
    "adam": _adam,
    "sgd_momentum": lambda: opt.SGD(0.05, momentum=0.9),
    "adagrad": lambda: opt.Adagrad(0.05, initial_accumulator_value=0.3),
    "ema": lambda: opt.Adam(0.01, use_ema=True, ema_momentum=0.8),
    "accumulating": lambda: opt.SGD(0.05, momentum=0.9, gradient_accumulation_steps=3),
    "adafactor": lambda: opt.Adafactor(0.05),
    "multi": lambda: opt.MultiOptimizer(opt.OptimizerMap(opt.SGD(0.05, momentum=0.9), {".*/(a|b)/.*": _adam()})),
}


def _trained_then_frozen(make, x, y):
    """A model fitted, its layer ``b`` then frozen and fitted on (its state set aside)."""
    model = _ours()
    model.compile(make(), "mse")
    _fit(model, x, y)
    model.layers[1].trainable = False
    _fit(model, x, y)
    return model


def _unfrozen_and_fitted(model, x, y):
    model.layers[1].trainable = True
    _fit(model, x, y)
    return model.get_weights()


# -- model files and get_state: the twin trained without the save ----------------------------------------
@pytest.mark.parametrize("name", sorted(TWINS))
def test_a_model_file_saved_while_frozen_resumes_as_the_uninterrupted_run(tmp_path, name):
    """fit, freeze, fit, save, load, unfreeze, fit: bit for bit the run without the save (the file holds
    b's set-aside state; before, b restarted from the initial state after the load)."""
    x, y = _data()
    twin = _unfrozen_and_fitted(_trained_then_frozen(TWINS[name], x, y), x, y)
    model = _trained_then_frozen(TWINS[name], x, y)
    model.save(tmp_path / "frozen.npz")
    loaded = gn.load_model(tmp_path / "frozen.npz")
    for got, want in zip(_unfrozen_and_fitted(loaded, x, y), twin):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", ["adam", "ema", "multi", "adafactor"])
def test_get_state_and_set_state_keep_the_set_aside_state(name):
    """A state from ``get_state`` set on another model of the same layers (a backup restored):
    unfrozen, b resumes from its set-aside state, as in the run it came from."""
    x, y = _data()
    twin = _unfrozen_and_fitted(_trained_then_frozen(TWINS[name], x, y), x, y)
    model = _trained_then_frozen(TWINS[name], x, y)
    state = model.optimizer.get_state()
    assert sorted(state["parked"]) == ["b/bias", "b/kernel"]
    other = _ours(model.get_weights())
    other.layers[1].trainable = False
    other.compile(TWINS[name](), "mse")
    other.optimizer.set_state(state)
    for got, want in zip(_unfrozen_and_fitted(other, x, y), twin):
        np.testing.assert_array_equal(got, want)


def _rewritten(path, change, target):
    """The model file at ``path`` written to ``target`` with ``change(config, members)`` made to its
    JSON config and its members (``{name: bytes}``) first."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(np.load(io.BytesIO(members["config.npy"])).tobytes().decode())
    change(config, members)
    buffer = io.BytesIO()
    np.save(buffer, np.frombuffer(json.dumps(config).encode(), np.uint8))
    members["config.npy"] = buffer.getvalue()
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def _without_parked(config, members):
    """A model file's config and members as a glassnet before session 47 wrote them: no
    ``optimizer_state["parked"]`` and none of its members."""
    parked = config["optimizer_state"].pop("parked")
    first = len(config["optimizer_state"]["slots"])
    for i in range(first, first + len(parked)):
        del members[f"optimizer/{i:03d}.npy"]


def test_a_file_without_the_set_aside_state_still_loads(tmp_path):
    """A file of an older glassnet (no "parked") loads, and b, unfrozen, starts from the rule's
    initial state, as it did: not the uninterrupted run (so the state the new files hold matters)."""
    x, y = _data()
    twin = _unfrozen_and_fitted(_trained_then_frozen(_adam, x, y), x, y)
    model = _trained_then_frozen(_adam, x, y)
    model.save(tmp_path / "frozen.npz")
    assert sorted(model.optimizer.get_state()["parked"]) == ["b/bias", "b/kernel"]
    _rewritten(tmp_path / "frozen.npz", _without_parked, tmp_path / "frozen.npz")
    loaded = gn.load_model(tmp_path / "frozen.npz")
    assert "parked" not in loaded.optimizer.get_state()
    got = _unfrozen_and_fitted(loaded, x, y)
    assert np.abs(got[2] - twin[2]).max() > 1e-3
    for got, want in zip(gn.load_model(tmp_path / "frozen.npz").get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_a_files_set_aside_state_is_checked(tmp_path):
    """A parked entry naming no frozen weight, or of another size, is refused by name."""
    x, y = _data()
    _trained_then_frozen(_adam, x, y).save(tmp_path / "frozen.npz")

    def written(change):
        return _rewritten(tmp_path / "frozen.npz", lambda config, _: change(config["optimizer_state"]["parked"]),
                          tmp_path / "edited.npz")
    with pytest.raises(ModelFileError, match=r"parked\[0\] = \['a/kernel', 'm'\] is not a new \[weight of a frozen layer"):
        gn.load_model(written(lambda parked: parked[0].__setitem__(0, "a/kernel")))
    with pytest.raises(ModelFileError, match=r"parked\[1\] = \['b/bias', 'nope'\]"):
        gn.load_model(written(lambda parked: parked[1].__setitem__(1, "nope")))
    with pytest.raises(ModelFileError, match=r"optimizer/002: expected shape \(6,\) of float32, the file has \(2,\)"):
        gn.load_model(written(lambda parked: parked.reverse()))


# -- Keras 3.15's .keras files ------------------------------------------------------------------------------
def _keras_frozen_file(keras, name, path):
    """Keras trained, b frozen, compiled, trained on and saved to ``path``; then the run without the
    save: unfrozen, compiled, fitted. Returns that model."""
    theirs, _ = _pair(keras)
    k_opt = OPTIMIZERS[name][0](keras.optimizers)
    x, y = _data()
    theirs.compile(k_opt, "mse")
    _fit(theirs, x, y)
    theirs.layers[1].trainable = False
    theirs.compile(k_opt, "mse")
    _fit(theirs, x, y)
    theirs.save(path)
    theirs.layers[1].trainable = True
    theirs.compile(k_opt, "mse")
    _fit(theirs, x, y)
    return theirs


@pytest.mark.parametrize("name", ["adam", "sgd_momentum", "rmsprop"])
def test_a_keras_file_saved_while_frozen_resumes_the_keras_run(keras, tmp_path, name):
    """Keras 3.15's file of a model whose layer was frozen after training holds that layer's slots
    (Keras' own load_model skips its whole optimizer state then, measured); glassnet's reads them,
    and unfrozen, fitted, the model ends as the Keras run that went on without the save."""
    theirs = _keras_frozen_file(keras, name, tmp_path / "frozen.keras")
    loaded = gn.load_model(tmp_path / "frozen.keras")
    assert loaded.optimizer.iterations == 8 and not loaded.layers[1].trainable
    x, y = _data()
    loaded.layers[1].trainable = True
    loaded.compile(loaded.optimizer, "mse")
    _fit(loaded, x, y)
    _close(loaded, theirs)


@pytest.mark.parametrize("name", ["adam", "sgd_momentum"])
def test_glassnet_writes_the_frozen_layers_slots_as_keras(keras, tmp_path, name):
    """The .keras file glassnet writes while b is frozen holds Keras' variables of the same run:
    the same count (b's slots at their places) and values."""
    import h5py
    _keras_frozen_file(keras, name, tmp_path / "keras.keras")
    _, ours = _pair(keras)
    x, y = _data()
    ours.compile(OPTIMIZERS[name][1](), "mse")
    _fit(ours, x, y)
    ours.layers[1].trainable = False
    _fit(ours, x, y)
    ours.save(tmp_path / "ours.keras", save_format="keras")

    def variables(path):
        with zipfile.ZipFile(path) as archive, h5py.File(archive.open("model.weights.h5"), "r") as h5:
            group = h5["optimizer/vars"]
            return [group[str(i)][()] for i in range(len(group))]
    mine, keras_own = variables(tmp_path / "ours.keras"), variables(tmp_path / "keras.keras")
    assert len(mine) == len(keras_own) == 2 + 6 * (2 if name == "adam" else 1)
    for a, b in zip(mine, keras_own):
        np.testing.assert_allclose(a, b, rtol=TOL, atol=TOL)


# -- use_ema: the frozen layer's average, against Keras 3.15 ------------------------------------------------
@pytest.mark.parametrize("name", ["adam", "sgd_momentum"])
def test_a_frozen_layers_moving_average_goes_on_as_keras(keras, name):
    """Keras averages every variable its optimizer was built on at each step, frozen or not: b's
    average drifts towards its frozen value. train_on_batch x6, freeze, x6, unfreeze, x4, then the
    averages written into the weights (finalize_variable_values): as Keras' to 1e-6 (0.029 apart
    when the average was set aside unchanged)."""
    theirs, ours = _pair(keras)
    k_opt = {"adam": keras.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.8),
             "sgd_momentum": keras.optimizers.SGD(0.05, momentum=0.9, use_ema=True, ema_momentum=0.8)}[name]
    g_opt = {"adam": opt.Adam(0.05, rule="keras", use_ema=True, ema_momentum=0.8),
             "sgd_momentum": opt.SGD(0.05, momentum=0.9, rule="keras", use_ema=True, ema_momentum=0.8)}[name]
    x, y = _data()
    for model, optimizer in ((theirs, k_opt), (ours, g_opt)):
        model.compile(optimizer, "mse")
        for trainable, steps in ((True, 3), (False, 3), (True, 2)):
            model.layers[1].trainable = trainable
            model.compile(optimizer, "mse")
            for _ in range(steps):
                model.train_on_batch(x[:8], y[:8])
                model.train_on_batch(x[8:], y[8:])
    _close(ours, theirs)
    k_opt.finalize_variable_values(theirs.trainable_variables)
    g_opt.finalize_variable_values(ours.trainable_weights)
    _close(ours, theirs)


def test_a_frozen_layers_average_in_get_state_is_brought_up_to_date():
    """The parked average get_state gives after n steps frozen is ``w + m ** n (a - w)`` (what n of
    Keras' steps ``m a + (1 - m) w`` give), w the frozen weight, a the average when frozen."""
    x, y = _data()
    model = _ours()
    model.compile(opt.SGD(0.05, use_ema=True, ema_momentum=0.8), "mse")
    _fit(model, x, y)
    frozen_at = model.optimizer.get_state()["slots"]["params"]["average"][15:21].copy()     # b/kernel
    model.layers[1].trainable = False
    _fit(model, x, y, epochs=1)         # two steps
    w = model.layers[1].params["kernel"].reshape(-1).astype(np.float64)
    average = model.optimizer.get_state()["parked"]["b/kernel"]["average"]
    np.testing.assert_allclose(average, w + np.float32(0.8).astype(np.float64) ** 2 * (frozen_at - w), rtol=0, atol=1e-7)


# -- a MultiOptimizer holding an Adafactor ------------------------------------------------------------------
def test_a_multi_optimizer_holding_adafactor_as_keras_per_variable(keras):
    """Adafactor (factored moments) on a and b, SGD on c; b frozen, then unfrozen, an epoch each:
    before, the new layout reset the whole state (the MultiOptimizer's get_state cannot lay out a
    factored one). Against Keras' loop stepping each variable with its own optimizer, 1e-6."""
    multi_as_keras_loop(keras, keras.optimizers.Adafactor(0.05), opt.Adafactor(0.05), 1)


def _no_op_freeze(make, change):
    """The weights after fit, ``change(model)`` (a freeze and an unfreeze, each compiled), fit; and
    the twin's without the change."""
    x, y = _data()
    results = []
    for changed in (False, True):
        model = _ours()
        model.compile(make(), "mse")
        _fit(model, x, y)
        if changed:
            change(model)
        _fit(model, x, y)
        results.append(model.get_weights())
    return results


def _freeze_and_unfreeze(model):
    for trainable in (False, True):
        model.layers[1].trainable = trainable
        model.compile(model.optimizer, "mse")


@pytest.mark.parametrize("name", ["multi", "adafactor"])
def test_a_multi_optimizer_holding_adafactor_carries_a_no_op_freeze(name):
    make = (lambda: opt.MultiOptimizer(opt.OptimizerMap(opt.SGD(0.05, momentum=0.9), {".*/(a|b)/.*": opt.Adafactor(0.05)}))
            ) if name == "multi" else TWINS["adafactor"]
    twin, frozen = _no_op_freeze(make, _freeze_and_unfreeze)
    for got, want in zip(frozen, twin):
        np.testing.assert_array_equal(got, want)


def test_a_multi_optimizer_given_a_state_carries_it_through_a_layout_before_its_step():
    """set_state (a backup restored) then a freeze, compile, unfreeze, compile before any step: the
    state set is handed to the sub-optimizers along the layout it was taken in, then carried."""
    x, y = _data()
    make = TWINS["multi"]
    results = []
    for changed in (False, True):
        model = _ours()
        model.compile(make(), "mse")
        _fit(model, x, y)
        state = model.optimizer.get_state()
        model.compile(make(), "mse")            # (a fresh MultiOptimizer, given the state)
        model.optimizer.set_state(state)
        if changed:
            _freeze_and_unfreeze(model)
        _fit(model, x, y)
        results.append(model.get_weights())
    for got, want in zip(*results):
        np.testing.assert_array_equal(got, want)


# -- an optimizer of one's own overriding reset -------------------------------------------------------------
class _HeavyBall(opt.Optimizer):
    """``m = beta m + g``, ``w -= learning_rate m`` (state "m" in ``slots``), counting its resets: its
    own state, kept outside ``slots``, which its ``reset`` clears."""
    slot_names = always_slots = ("m",)

    def __init__(self, learning_rate=0.05, beta=0.9, **options):
        super().__init__(learning_rate, **options)
        self.beta, self.resets, self.seen = beta, 0, {}

    def update(self, key, param, grad):
        self.seen[key] = param.size         # (its own state: the sizes it stepped, per buffer)
        m = self.slots.setdefault(key, {}).setdefault("m", np.zeros_like(param))
        m *= param.dtype.type(self.beta)
        m += grad
        param -= param.dtype.type(self.learning_rate) * m

    def reset(self):
        super().reset()
        self.resets += 1
        self.seen = {}


def test_an_optimizer_overriding_reset_carries_its_slots():
    """Its slots and step count carry through a freeze and an unfreeze as a built-in's (the twin
    without them, bit for bit; before, every new layout reset them), and its ``reset`` still runs
    at each new layout for the state it keeps elsewhere."""
    made = []

    def make():
        made.append(_HeavyBall())
        return made[-1]
    twin, frozen = _no_op_freeze(make, _freeze_and_unfreeze)
    for got, want in zip(frozen, twin):
        np.testing.assert_array_equal(got, want)
    assert made[1].iterations == 8 and made[1].resets == made[0].resets + 2


def test_an_optimizer_overriding_reset_unfreezes_with_its_set_aside_state():
    """b frozen after training, trained on, unfrozen: b's momentum is the one it had when frozen
    (that of a built-in SGD with momentum, PyTorch's rule: the same update)."""
    x, y = _data()
    results = []
    for make in (lambda: _HeavyBall(0.05, 0.9), lambda: opt.SGD(0.05, momentum=0.9)):
        results.append(_unfrozen_and_fitted(_trained_then_frozen(make, x, y), x, y))
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
