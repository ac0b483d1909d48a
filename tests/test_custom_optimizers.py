"""Optimizers and learning-rate schedules of your own in model files (glassnet.saving): registered,
a schedule given to a built-in optimizer and an Optimizer subclass (its own slots, a built-in's
slots and scalars) save, load with their state and train on bit for bit; unregistered ones are
refused on saving, naming the line that registers them; a crafted file reaches nothing but the
constructors of registered classes of the right base; optimizers.get/serialize/deserialize take
registered ones as Keras'; the same schedule and optimizer train as Keras 3.15's, across a save."""
import json
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet import saving
from glassnet.optimizers import Optimizer, schedules
from glassnet.regularizers import Regularizer

register = saving.register_serializable
CALLS = []          # what Recorder's constructor was given, call by call


@register(package="TestOpt")
class WarmInverseSqrt(schedules.LearningRateSchedule):
    """A linear warm-up to ``peak`` over ``warmup`` steps, then ``peak * sqrt(warmup / step)``."""

    def __init__(self, peak=0.05, warmup=4):
        self.peak, self.warmup = peak, warmup

    def __call__(self, step):
        if step < self.warmup:
            return self.peak * (step + 1) / self.warmup
        return self.peak * (self.warmup / (step + 1)) ** 0.5

    def get_config(self):
        return {"peak": self.peak, "warmup": self.warmup}


@register(package="TestOpt")
class HeavyBall(Optimizer):
    """``m = beta m + g``, ``w -= learning_rate m``: state of its own, "m", in ``self.slots``."""
    slot_names = always_slots = ("m",)

    def __init__(self, learning_rate=0.01, beta=0.9, **options):
        super().__init__(learning_rate, **options)
        self.beta = beta

    def update(self, key, param, grad):
        state = self.slots.setdefault(key, {})
        if "m" not in state:
            state["m"] = np.zeros_like(param)
        m = state["m"]
        m *= param.dtype.type(self.beta)
        m += grad
        param -= param.dtype.type(self.learning_rate) * m


@register(package="TestOpt")
class DampedNadam(gn.optimizers.Nadam):
    """Nadam on gradients scaled by ``damping``: a built-in's slots (m, v) and scalar (its momentum
    product) under a registered subclass."""

    def __init__(self, learning_rate=0.001, damping=0.5, **options):
        super().__init__(learning_rate, **options)
        self.damping = damping

    def update(self, key, param, grad):
        super().update(key, param, grad * param.dtype.type(self.damping))


@register(package="TestOpt")
class Recorder(Regularizer):
    """Records what its constructor was given (the only code a file may reach)."""

    def __init__(self, **config):
        CALLS.append(config)
        self.config = config

    def __call__(self, w):
        return 0.0

    def add_gradient(self, w, grad):
        pass

    def get_config(self):
        return dict(self.config)


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype("float32")
    return X, X @ np.array([[1.0], [-2.0], [0.5]], "float32")


def _model(optimizer, functional=False):
    if functional:
        inputs = gn.Input((3,))
        hidden = gn.layers.Dense(8, activation="tanh")(inputs)
        model = gn.Model(inputs, [gn.layers.Dense(1, name="a")(hidden), gn.layers.Dense(1, name="b")(hidden)], seed=1)
        model.compile(loss=["mse", "mae"], optimizer=optimizer)
        return model
    model = gn.Sequential([gn.layers.Dense(8, activation="tanh", input_dim=3), gn.layers.Dense(1)], seed=1)
    model.compile(loss="mse", optimizer=optimizer)
    return model


def _meta(path):
    with np.load(path) as npz:
        return json.loads(npz["config"].tobytes().decode("utf-8"))


def _rewrite_config(path, change):
    """A copy of the model file at ``path`` whose JSON config ``change(meta)`` edited (a crafted file)."""
    with np.load(path) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(arrays["config"].tobytes().decode("utf-8"))
    change(meta)
    arrays["config"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    crafted = str(path).replace(".npz", "_crafted.npz")
    np.savez(crafted, **arrays)
    return crafted


CASES = {
    "schedule in Adam": lambda: gn.optimizers.Adam(learning_rate=WarmInverseSqrt(0.05, 3)),
    "own slots": lambda: HeavyBall(0.01, beta=0.8, clipnorm=1.0),
    "own slots and schedule": lambda: HeavyBall(WarmInverseSqrt(0.01, 5), beta=0.7),
    "built-in slots and scalars": lambda: DampedNadam(0.01, damping=0.25, use_ema=True),
}


@pytest.mark.parametrize("functional", [False, True], ids=["sequential", "functional"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_round_trip_loads_the_state_and_trains_on_bit_for_bit(tmp_path, case, functional):
    X, y = _data()
    targets = [y, -y] if functional else y
    model = _model(CASES[case](), functional)
    model.fit(X, targets, epochs=2, batch_size=16, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    saved, got = model.optimizer, loaded.optimizer
    assert type(got) is type(saved) and got.get_config() == saved.get_config()
    assert got.schedule == saved.schedule and got.learning_rate == saved.learning_rate
    # the state, every slot of every key, and the iterations and scalars, exactly
    a, b = saved.get_state(), got.get_state()
    assert a["iterations"] == b["iterations"] == 8 and a.get("scalars") == b.get("scalars")
    assert {k: sorted(v) for k, v in a["slots"].items()} == {k: sorted(v) for k, v in b["slots"].items()}
    assert all(np.array_equal(a["slots"][k][s], b["slots"][k][s]) for k in a["slots"] for s in a["slots"][k])
    h_saved = model.fit(X, targets, epochs=2, batch_size=16, verbose=0).history
    h_loaded = loaded.fit(X, targets, epochs=2, batch_size=16, verbose=0).history
    assert h_saved == h_loaded
    assert all(np.array_equal(w, v) for w, v in zip(model.get_weights(), loaded.get_weights()))


def test_file_entries_are_the_registered_names_and_configs(tmp_path):
    model = _model(HeavyBall(WarmInverseSqrt(0.02, 3), beta=0.5, clipvalue=0.1))
    model.fit(*_data(), epochs=1, batch_size=32, verbose=0)
    model.save(tmp_path / "m.npz")
    meta = _meta(tmp_path / "m.npz")
    assert meta["model"]["compile"]["optimizer"] == {
        "registered_name": "TestOpt>HeavyBall",
        "config": {"learning_rate": {"registered_name": "TestOpt>WarmInverseSqrt", "config": {"peak": 0.02, "warmup": 3}},
                   "beta": 0.5, "clipvalue": 0.1}}
    # its state as a built-in's: one "m" per parameter key, an optimizer/NNN array each
    state = meta["optimizer_state"]
    assert state["iterations"] == 2 and [name for _, name in state["slots"]] == ["m"] * len(state["keys"])
    # a built-in optimizer's file is as before: its config, the schedule's entry inside it
    adam = _model(gn.optimizers.Adam(learning_rate=WarmInverseSqrt()))
    assert adam.get_config()["compile"]["optimizer"]["name"] == "adam"
    assert adam.get_config()["compile"]["optimizer"]["learning_rate"] == {
        "registered_name": "TestOpt>WarmInverseSqrt", "config": {"peak": 0.05, "warmup": 4}}
    assert "registered_name" not in json.dumps(_model(gn.optimizers.Adam(0.01)).get_config())
    # from_config and a Sequential's config read them back
    again = gn.Sequential.from_config(model.get_config())
    assert type(again.optimizer) is HeavyBall and again.optimizer.schedule == WarmInverseSqrt(0.02, 3)


class UnregisteredSchedule(schedules.LearningRateSchedule):
    def __call__(self, step):
        return 0.01


class UnregisteredOptimizer(HeavyBall):
    pass


class UnregisteredAdam(gn.optimizers.Adam):      # keeps Adam's name: would load as Adam
    pass


@pytest.mark.parametrize("make, message", [
    (lambda: gn.optimizers.SGD(learning_rate=UnregisteredSchedule()), "schedule of your own that is not registered"),
    (lambda: HeavyBall(UnregisteredSchedule()), "schedule of your own that is not registered"),
    (lambda: UnregisteredOptimizer(0.01), "not a built-in optimizer.*would not know that name"),
    (lambda: UnregisteredAdam(0.01), "not a built-in optimizer.*would rebuild Adam instead"),
])
def test_save_refuses_what_is_not_registered_and_shows_the_registering_line(tmp_path, make, message):
    X, y = _data()
    model = _model(make())
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)        # it trains
    with pytest.raises(ValueError, match=rf"(?s)save_model: .*{message}.*"
                                         rf"@glassnet\.saving\.register_serializable\(\) where it is defined"):
        model.save(tmp_path / "m.npz")
    assert not os.path.exists(tmp_path / "m.npz")
    model.save_weights(tmp_path / "w.npz")                      # the weights alone: no optimizer in the file


@register(package="TestOpt")
class Undeclared(HeavyBall):
    slot_names = always_slots = ()          # keeps "m" but does not say so: load_model would refuse it


@register(package="TestOpt")
class ForgetsBeta(HeavyBall):
    def get_config(self):
        return {"learning_rate": self.learning_rate}


@register(package="TestOpt")
class KeepsNoAttribute(HeavyBall):
    def __init__(self, learning_rate=0.01, momentum=0.9, **options):
        super().__init__(learning_rate, beta=momentum, **options)


@register(package="TestOpt")
class HalvesBeta(HeavyBall):
    """Keeps half the beta it was given, which get_config reads back: each load would halve it again."""

    def __init__(self, learning_rate=0.01, beta=0.9, **options):
        super().__init__(learning_rate, beta / 2, **options)


@register(package="TestOpt")
class HoldsAnArray(WarmInverseSqrt):
    def get_config(self):
        return {"peak": np.float32(self.peak), "warmup": self.warmup}


def test_save_refuses_a_registered_one_the_file_could_not_give_back(tmp_path):
    X, y = _data()
    cases = [(Undeclared(0.01), ValueError, r"keeps the state \['m'\].*slot_names = \('m',\)"),
             (ForgetsBeta(0.01, beta=0.5), TypeError, r"'TestOpt>ForgetsBeta'.*\['beta'\].*get_config"),
             (KeepsNoAttribute(0.01), TypeError, r"'TestOpt>KeepsNoAttribute'.*momentum.*attribute of the same name"),
             (HeavyBall(HoldsAnArray()), TypeError, r"'TestOpt>HoldsAnArray'.*config\['peak'\].*float32"),
             (HalvesBeta(0.01, beta=0.8), ValueError, r"HalvesBeta would load back as HalvesBeta described by "
                                                      r".*'beta': 0\.2.*not as saved.*'beta': 0\.4")]
    for optimizer, error, message in cases:
        model = _model(optimizer)
        model.fit(X, y, epochs=1, batch_size=32, verbose=0)
        with pytest.raises(error, match=message):
            model.save(tmp_path / "m.npz")
        assert not os.path.exists(tmp_path / "m.npz")


def test_an_unregistered_name_is_refused_on_loading_and_custom_objects_supply_it(tmp_path, monkeypatch):
    X, y = _data()
    model = _model(HeavyBall(WarmInverseSqrt(0.01, 2)))
    model.fit(X, y, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "m.npz")
    monkeypatch.delitem(saving.get_custom_objects(), "TestOpt>HeavyBall")
    monkeypatch.delitem(saving.get_custom_objects(), "TestOpt>WarmInverseSqrt")
    with pytest.raises(gn.ModelFileError, match=r"'TestOpt>HeavyBall' is not registered.*"
                                                r"register_serializable\(package='TestOpt', name='HeavyBall'\)"):
        gn.load_model(tmp_path / "m.npz")
    with pytest.raises(gn.ModelFileError, match=r"'TestOpt>WarmInverseSqrt' is not registered.*"
                                                r"register_serializable\(package='TestOpt', name='WarmInverseSqrt'\)"):
        gn.load_model(tmp_path / "m.npz", custom_objects={"TestOpt>HeavyBall": HeavyBall})
    assert gn.load_model(tmp_path / "m.npz", compile=False).optimizer is None
    loaded = gn.load_model(tmp_path / "m.npz", custom_objects={"TestOpt>HeavyBall": HeavyBall,
                                                               "TestOpt>WarmInverseSqrt": WarmInverseSqrt})
    assert loaded.optimizer.get_state()["iterations"] == 4
    assert model.fit(X, y, epochs=1, verbose=0).history == loaded.fit(X, y, epochs=1, verbose=0).history


def _crafted(tmp_path, change):
    model = _model(HeavyBall(WarmInverseSqrt(0.01, 2)))
    model.fit(*_data(), epochs=1, batch_size=32, verbose=0)
    model.save(tmp_path / "m.npz")
    return _rewrite_config(tmp_path / "m.npz", change)


def _set_optimizer(entry):
    def change(meta):
        meta["model"]["compile"]["optimizer"] = entry
    return change


def _set_schedule(entry):
    def change(meta):
        meta["model"]["compile"]["optimizer"]["config"]["learning_rate"] = entry
    return change


@pytest.mark.parametrize("change, message", [
    (_set_optimizer({"registered_name": "os.system", "config": {}}), "'os.system' is not registered"),
    (_set_optimizer({"registered_name": "TestOpt>WarmInverseSqrt", "config": {}}), "not a Optimizer subclass"),
    (_set_optimizer({"registered_name": "TestOpt>Recorder", "config": {"a": 1}}), "not a Optimizer subclass"),
    (_set_optimizer({"registered_name": "TestOpt>HeavyBall"}), "as a function"),
    (_set_optimizer({"registered_name": "TestOpt>HeavyBall", "config": {"evil": "__import__('os')"}}),
     "cannot be built.*unexpected"),
    (_set_optimizer({"registered_name": "TestOpt>HeavyBall", "config": {}, "module": "os"}), "expected"),
    (_set_optimizer({"name": "TestOpt>HeavyBall"}), "unknown name"),
    (_set_schedule({"registered_name": "TestOpt>HeavyBall", "config": {}}), "not a LearningRateSchedule subclass"),
    (_set_schedule({"registered_name": "TestOpt>Recorder", "config": {"x": 1}}), "not a LearningRateSchedule"),
    (_set_schedule({"registered_name": "builtins.eval"}), "'builtins.eval' is not registered"),
    (_set_schedule({"class_name": "Recorder", "config": {}}), "learning_rate: expected a number"),
])
def test_crafted_entries_are_refused_without_building_anything(tmp_path, change, message):
    crafted = _crafted(tmp_path, change)
    CALLS.clear()
    with pytest.raises(gn.ModelFileError, match=message):
        gn.load_model(crafted)
    assert CALLS == []


def test_crafted_state_is_refused(tmp_path):
    def rename(meta):           # a slot HeavyBall does not declare
        meta["optimizer_state"]["slots"][0][1] = "velocity"
    with pytest.raises(gn.ModelFileError, match=r"HeavyBall keeps the state \['m'\].*velocity"):
        gn.load_model(_crafted(tmp_path, rename))

    def scalar(meta):           # a number HeavyBall does not keep
        meta["optimizer_state"]["scalars"] = {"momentum_product": 1.0}
    with pytest.raises(gn.ModelFileError, match="scalars"):
        gn.load_model(_crafted(tmp_path, scalar))


def test_optimizers_get_serialize_deserialize():
    opt = HeavyBall(WarmInverseSqrt(0.03, 2), beta=0.6)
    entry = gn.optimizers.serialize(opt)
    assert entry == {"registered_name": "TestOpt>HeavyBall",
                     "config": {"learning_rate": {"registered_name": "TestOpt>WarmInverseSqrt",
                                                  "config": {"peak": 0.03, "warmup": 2}}, "beta": 0.6}}
    for again in (gn.optimizers.deserialize(entry), gn.optimizers.get(entry), gn.optimizers.from_config(entry)):
        assert type(again) is HeavyBall and again.get_config() == opt.get_config()
    built_in = gn.optimizers.Adam(learning_rate=WarmInverseSqrt())
    assert gn.optimizers.serialize(built_in) == built_in.get_config()
    assert gn.optimizers.deserialize(gn.optimizers.serialize(built_in)).schedule == WarmInverseSqrt()
    # a registered name gives the class with its defaults, as Keras' get does
    got = gn.optimizers.get("TestOpt>HeavyBall")
    assert type(got) is HeavyBall and (got.learning_rate, got.beta) == (0.01, 0.9)
    assert type(gn.optimizers.get("adam")) is gn.optimizers.Adam
    with pytest.raises(ValueError, match="registered name"):
        gn.optimizers.get("TestOpt>WarmInverseSqrt")            # registered, but not an optimizer
    with pytest.raises(ValueError, match="registered name"):
        gn.optimizers.get("HeavyBall")
    # custom_objects supply an unregistered class, for this call only
    other = {"registered_name": "Mine>Opt", "config": {"beta": 0.3}}
    assert type(gn.optimizers.deserialize(other, custom_objects={"Mine>Opt": UnregisteredOptimizer})) \
        is UnregisteredOptimizer
    with pytest.raises(ValueError, match="'Mine>Opt' is not registered"):
        gn.optimizers.deserialize(other)
    # a schedule's entry as the schedules module writes it
    assert schedules.serialize(WarmInverseSqrt(0.1, 7)) == {"registered_name": "TestOpt>WarmInverseSqrt",
                                                             "config": {"peak": 0.1, "warmup": 7}}
    assert schedules.deserialize(schedules.serialize(WarmInverseSqrt(0.1, 7))) == WarmInverseSqrt(0.1, 7)
    with pytest.raises(ValueError, match=r"not a built-in one.*register_serializable"):
        schedules.serialize(UnregisteredSchedule())
    # compile takes a registered name too
    model = gn.Sequential([gn.layers.Dense(1, input_dim=3)])
    model.compile(loss="mse", optimizer="TestOpt>HeavyBall")
    assert type(model.optimizer) is HeavyBall


def _keras():
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return pytest.importorskip("keras", reason="Keras oracle not installed")


def _keras_twins(keras):
    """WarmInverseSqrt and HeavyBall written for Keras 3, registered under the same names."""
    ops = keras.ops

    @keras.saving.register_keras_serializable(package="TestOpt", name="WarmInverseSqrt")
    class KerasWarmInverseSqrt(keras.optimizers.schedules.LearningRateSchedule):
        def __init__(self, peak=0.05, warmup=4):
            self.peak, self.warmup = peak, warmup

        def __call__(self, step):
            step = ops.cast(step, "float32")
            return ops.where(step < self.warmup, self.peak * (step + 1) / self.warmup,
                             self.peak * ops.sqrt(self.warmup / (step + 1)))

        def get_config(self):
            return {"peak": self.peak, "warmup": self.warmup}

    @keras.saving.register_keras_serializable(package="TestOpt", name="HeavyBall")
    class KerasHeavyBall(keras.optimizers.Optimizer):
        def __init__(self, learning_rate=0.01, beta=0.9, **kwargs):
            super().__init__(learning_rate=learning_rate, **kwargs)
            self.beta = beta

        def build(self, variables):
            if self.built:
                return
            super().build(variables)
            self.m = [self.add_variable_from_reference(v, "m") for v in variables]

        def update_step(self, gradient, variable, learning_rate):
            m = self.m[self._get_variable_index(variable)]
            self.assign(m, m * self.beta + gradient)
            self.assign_sub(variable, ops.cast(learning_rate, variable.dtype) * m)

        def get_config(self):
            return {**super().get_config(), "beta": self.beta}
    return KerasWarmInverseSqrt, KerasHeavyBall


def test_the_same_schedule_and_optimizer_train_as_keras_across_a_save(tmp_path):
    keras = _keras()
    KerasSchedule, KerasHeavyBall = _keras_twins(keras)
    ours_schedule, theirs_schedule = WarmInverseSqrt(0.05, 4), KerasSchedule(0.05, 4)
    for step in range(30):      # the rate of each step, Keras' in float32
        assert ours_schedule(step) == pytest.approx(float(theirs_schedule(step)), rel=1e-6), step
    X, y = _data()
    ours = _model(HeavyBall(WarmInverseSqrt(0.02, 4), beta=0.8))
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
    theirs.compile(loss="mse", optimizer=KerasHeavyBall(KerasSchedule(0.02, 4), beta=0.8))
    theirs.set_weights(ours.get_weights())
    rates = []
    logger = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: rates.append(float(theirs.optimizer.learning_rate)))
    ours_rates = []
    ours_logger = gn.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: ours_rates.append(ours.optimizer.learning_rate))
    ours.fit(X, y, epochs=3, batch_size=16, shuffle=False, verbose=0, callbacks=[ours_logger])
    theirs.fit(X, y, epochs=3, batch_size=16, shuffle=False, verbose=0, callbacks=[logger])
    np.testing.assert_allclose(ours_rates, rates, rtol=1e-6)       # the next update's rate, step by step
    ours.save(tmp_path / "ours.npz")
    theirs.save(tmp_path / "theirs.keras")
    ours, theirs = gn.load_model(tmp_path / "ours.npz"), keras.saving.load_model(tmp_path / "theirs.keras")
    assert float(theirs.optimizer.learning_rate) == pytest.approx(ours.optimizer.learning_rate, rel=1e-6)
    ours.fit(X, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    theirs.fit(X, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    # both resumed with their momentum: a restart from zero state would be 1e-2 away
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
