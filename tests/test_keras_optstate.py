"""The optimizer's state in Keras 3.15's .keras files, both ways (glassnet._keras_optimizer_state).

Each round trip trains a model a few steps in one framework, saves it, loads it in the other,
and continues training both on the same batches (shuffle=False): the weights must agree in
float32 within 1e-5 over 3 more steps, which they would not with a fresh optimizer (checked).
The refusals at the end build their files with h5py alone and run without Keras.
"""
import io
import zipfile

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import ModelFileError

h5py = pytest.importorskip("h5py")

X = np.random.RandomState(0).randn(24, 3).astype("float32")
Y = np.random.RandomState(1).randn(24, 2).astype("float32")
BATCH = 8          # 3 steps an epoch

# (Keras optimizer factory by name, glassnet's arguments being what load_model makes of its config)
CASES = {
    "sgd_momentum": lambda k: k.optimizers.SGD(0.05, momentum=0.9),
    "sgd_nesterov": lambda k: k.optimizers.SGD(0.05, momentum=0.8, nesterov=True),
    "adam": lambda k: k.optimizers.Adam(0.01),
    "adam_amsgrad": lambda k: k.optimizers.Adam(0.01, amsgrad=True),
    "adamw": lambda k: k.optimizers.AdamW(0.01, weight_decay=0.1),
    "adamax": lambda k: k.optimizers.Adamax(0.01),
    "nadam": lambda k: k.optimizers.Nadam(0.01),
    "rmsprop": lambda k: k.optimizers.RMSprop(0.01),
    "rmsprop_momentum_centered": lambda k: k.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adagrad": lambda k: k.optimizers.Adagrad(0.05),
    "adadelta": lambda k: k.optimizers.Adadelta(1.0, rho=0.9),
    "lion": lambda k: k.optimizers.Lion(0.001),
    "lamb": lambda k: k.optimizers.Lamb(0.01),
    "ftrl": lambda k: k.optimizers.Ftrl(0.05),
}


def _keras_model(keras, optimizer):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5, activation="tanh"),
                              keras.layers.Dense(2)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def _fit(model, epochs=1):
    model.fit(X, Y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0)


def _close(a, b):
    for wa, wb in zip(a, b):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=1e-5)


@pytest.mark.parametrize("case", sorted(CASES))
def test_keras_state_continues_in_glassnet(keras, tmp_path, case):
    model = _keras_model(keras, CASES[case](keras))
    _fit(model, epochs=2)                 # 6 steps
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = gn.load_model(path)
    assert loaded.optimizer.iterations == 6
    fresh = gn.load_model(path)
    fresh.optimizer.reset()               # what load_model gave before: a fresh optimizer
    _fit(model)
    _fit(loaded)
    _fit(fresh)
    _close(model.get_weights(), loaded.get_weights())
    assert loaded.optimizer.iterations == 9
    # the state made the difference (Lion's sign steps, Adadelta's, Ftrl's too)
    assert max(np.abs(a - b).max() for a, b in zip(model.get_weights(), fresh.get_weights())) > 1e-4


@pytest.mark.parametrize("case", sorted(CASES))
def test_glassnet_state_continues_in_keras(keras, tmp_path, case):
    path = str(tmp_path / "m.keras")
    start = _keras_model(keras, CASES[case](keras))
    start.save(path)                      # not built: glassnet loads the same optimizer settings
    model = gn.load_model(path)
    _fit(model, epochs=2)
    model.save(str(tmp_path / "g.keras"), save_format="keras")
    loaded = keras.saving.load_model(str(tmp_path / "g.keras"))
    assert int(loaded.optimizer.iterations) == 6
    _fit(model)
    _fit(loaded)
    _close(model.get_weights(), loaded.get_weights())


def test_schedule_continues_from_keras_step_count(keras, tmp_path):
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    model = _keras_model(keras, keras.optimizers.Adam(schedule))
    _fit(model, epochs=2)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = gn.load_model(path)
    assert loaded.optimizer.iterations == 6
    np.testing.assert_allclose(loaded.optimizer.learning_rate, 0.1 * 0.5 ** 3, rtol=1e-6)
    _fit(model)
    _fit(loaded)
    _close(model.get_weights(), loaded.get_weights())


def test_changed_learning_rate_is_read(keras, tmp_path):
    model = _keras_model(keras, keras.optimizers.SGD(0.05, momentum=0.9))
    _fit(model)
    model.optimizer.learning_rate.assign(0.02)      # as ReduceLROnPlateau does
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = gn.load_model(path)
    assert loaded.optimizer.learning_rate == pytest.approx(0.02)
    _fit(model)
    _fit(loaded)
    _close(model.get_weights(), loaded.get_weights())


def test_frozen_layer_and_batchnorm(keras, tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5, use_bias=False),
                              keras.layers.BatchNormalization(),
                              keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)])
    model.layers[2].trainable = False
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    _fit(model, epochs=2)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = gn.load_model(path)
    _fit(model)
    _fit(loaded)
    _close(model.get_weights(), loaded.get_weights())


@pytest.mark.parametrize("case", ["adam", "sgd_momentum", "nadam"])
def test_unbuilt_optimizer_both_ways(keras, tmp_path, case):
    """Saved before the first step: the count and the rate only, as Keras writes it."""
    path = str(tmp_path / "m.keras")
    _keras_model(keras, CASES[case](keras)).save(path)
    loaded = gn.load_model(path)
    assert loaded.optimizer.iterations == 0 and not loaded.optimizer.get_state()["slots"].get("params")
    loaded.save(str(tmp_path / "g.keras"), save_format="keras")
    with zipfile.ZipFile(path) as a, zipfile.ZipFile(str(tmp_path / "g.keras")) as b:
        with h5py.File(io.BytesIO(a.read("model.weights.h5")), "r") as ha, \
                h5py.File(io.BytesIO(b.read("model.weights.h5")), "r") as hb:
            assert sorted(ha["optimizer/vars"]) == sorted(hb["optimizer/vars"]) == ["0", "1"]
            for k in ("0", "1"):
                assert ha["optimizer/vars"][k].dtype == hb["optimizer/vars"][k].dtype
                assert ha["optimizer/vars"][k][()] == hb["optimizer/vars"][k][()]


def test_sgd_momentum_with_schedule_warns(keras, tmp_path):
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    model = _keras_model(keras, keras.optimizers.SGD(schedule, momentum=0.9))
    _fit(model)
    path = str(tmp_path / "m.keras")
    model.save(path)
    # load_model compiles Keras' rule (test_optimizer_rule.py), whose velocity holds steps as
    # Keras' does: no conversion at one rate, so no warning, and the runs agree as the rate changes
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = gn.load_model(path)
    _fit(model, epochs=2)
    _fit(loaded, epochs=2)
    _close(model.get_weights(), loaded.get_weights())
    # glassnet's default (PyTorch's) rule converts the velocity at the next step's rate: warned
    loaded.compile(optimizer=gn.optimizers.SGD(gn.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5), momentum=0.9),
                   loss="mse")
    _fit(loaded)
    with pytest.warns(UserWarning, match="SGD's momentum with a learning-rate schedule"):
        loaded.save(str(tmp_path / "g.keras"), save_format="keras")


# -- without Keras: files made by glassnet, then edited with h5py -----------------------------
def _glassnet_file(tmp_path, optimizer, steps=True):
    model = gn.Sequential([gn.layers.Input((3,)), gn.layers.Dense(5), gn.layers.Dense(2)], seed=0)
    model.compile(optimizer=optimizer, loss="mse")
    if steps:
        model.fit(X, Y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    path = str(tmp_path / "g.keras")
    model.save(path, save_format="keras")
    return model, path


def _edited(path, edit):
    """The .keras file at ``path`` with its weights member edited by ``edit(h5)``."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    buffer = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buffer, "r+") as h5:
        edit(h5)
    members["model.weights.h5"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_glassnet_round_trip_without_keras(tmp_path):
    model, path = _glassnet_file(tmp_path, gn.optimizers.Adam(0.01))
    loaded = gn.load_model(path)
    assert loaded.optimizer.iterations == model.optimizer.iterations == 3
    for slot in ("m", "v"):
        np.testing.assert_array_equal(loaded.optimizer.get_state()["slots"]["params"][slot],
                                      model.optimizer.get_state()["slots"]["params"][slot])
    model.fit(X, Y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    loaded.fit(X, Y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    _close(model.get_weights(), loaded.get_weights())


@pytest.mark.parametrize("optimizer,slot", [(lambda: gn.optimizers.SGD(0.05, momentum=0.9), "momentum"),
                                            (lambda: gn.optimizers.Adamax(0.01, epsilon=1e-3), "u"),
                                            (lambda: gn.optimizers.RMSprop(0.01, momentum=0.5), "momentum")])
def test_converted_slots_round_trip_exactly(tmp_path, optimizer, slot):
    """The slots whose meaning differs (SGD's and RMSprop's momentum: lr times; Adamax's u: + epsilon)
    are written converted to Keras' meaning, which load_model's optimizer (rule="keras") keeps as it
    is: what was kept, converted, to float32 rounding."""
    model, path = _glassnet_file(tmp_path, optimizer())
    loaded = gn.load_model(path)
    assert loaded.optimizer.rule == "keras"
    kept = model.optimizer.get_state()["slots"]["params"][slot]
    name, rate = type(model.optimizer).__name__, model.optimizer.learning_rate
    expected = {"SGD": -rate * kept, "RMSprop": rate * kept}.get(name)
    if expected is None:                    # Adamax: Keras' u is PyTorch's less epsilon
        expected = np.maximum(kept - model.optimizer.epsilon, 0)
    np.testing.assert_allclose(loaded.optimizer.get_state()["slots"]["params"][slot], expected, rtol=1e-6, atol=1e-9)


def test_sgd_velocity_is_minus_rate_times_buffer(tmp_path):
    """Keras' SGD velocity holds steps: -lr times glassnet's (PyTorch's) buffer of gradients."""
    model, path = _glassnet_file(tmp_path, gn.optimizers.SGD(0.05, momentum=0.9))
    with zipfile.ZipFile(path) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as h5:
        velocity = h5["optimizer/vars/2"][()]          # the first Dense's kernel's
    buffer = model.optimizer.get_state()["slots"]["params"]["momentum"][:15].reshape(3, 5)
    np.testing.assert_allclose(velocity, -0.05 * buffer, rtol=1e-6)


def test_refuses_wrong_count(tmp_path):
    _, path = _glassnet_file(tmp_path, gn.optimizers.Adam(0.01))
    _edited(path, lambda h5: h5["optimizer/vars"].__delitem__(str(len(h5["optimizer/vars"]) - 1)))
    with pytest.raises(ModelFileError, match="slot variables .* keeps 8"):
        gn.load_model(path)
    assert gn.load_model(path, compile=False).optimizer is None


def test_refuses_wrong_shape_and_values(tmp_path):
    _, path = _glassnet_file(tmp_path, gn.optimizers.Adam(0.01))

    def reshape(h5):
        del h5["optimizer/vars/2"]
        h5["optimizer/vars"].create_dataset("2", data=np.zeros((5, 3), np.float32))
    _edited(path, reshape)
    with pytest.raises(ModelFileError, match=r"'m' of dense.*/kernel must have shape \(3, 5\)"):
        gn.load_model(path)
    _, path = _glassnet_file(tmp_path, gn.optimizers.Adam(0.01))

    def negative(h5):
        h5["optimizer/vars/3"][...] = -1.0
    _edited(path, negative)
    with pytest.raises(ModelFileError, match="'v' holds negative values"):
        gn.load_model(path)


def test_refuses_nadam_of_other_momentum_decay(tmp_path):
    _, path = _glassnet_file(tmp_path, gn.optimizers.Nadam(0.01, momentum_decay=1.0))
    loaded = gn.load_model(path)
    assert loaded.optimizer.iterations == 3
    model = gn.Sequential([gn.layers.Input((3,)), gn.layers.Dense(2)], seed=0)
    model.compile(optimizer=gn.optimizers.Nadam(0.01), loss="mse")
    with pytest.raises(ValueError, match="momentum_decay"):
        model.save(str(tmp_path / "n.keras"), save_format="keras")


def test_ema_state_left_out_with_a_warning(tmp_path):
    model = gn.Sequential([gn.layers.Input((3,)), gn.layers.Dense(2)], seed=0)
    model.compile(optimizer=gn.optimizers.Adam(0.01, use_ema=True), loss="mse")
    model.fit(X, Y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    with pytest.warns(UserWarning, match="use_ema's averages"):
        model.save(str(tmp_path / "e.keras"), save_format="keras")


def test_functional_model_both_ways(keras, tmp_path):
    """Two branches merged: the trainable variables' order is Keras' layer list's, both ways."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    a = keras.layers.Dense(4, activation="tanh", name="a")(inputs)
    b = keras.layers.Dense(6, activation="tanh", name="b")(inputs)
    outputs = keras.layers.Dense(2, name="out")(keras.layers.Concatenate()([b, a]))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.RMSprop(0.01, momentum=0.5), loss="mse")
    _fit(model, epochs=2)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = gn.load_model(path)
    _fit(model)
    _fit(loaded)
    _close(model.get_weights(), loaded.get_weights())
    loaded.save(str(tmp_path / "g.keras"), save_format="keras")
    back = keras.saving.load_model(str(tmp_path / "g.keras"))
    _fit(back)
    _fit(loaded)
    _close(back.get_weights(), loaded.get_weights())


def test_refuses_ema_state_on_reading(tmp_path):
    """A Keras optimizer with use_ema keeps its averages first in its list: not mapped, refused by name."""
    import json
    _, path = _glassnet_file(tmp_path, gn.optimizers.Adam(0.01))
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    config["compile_config"]["optimizer"]["config"]["use_ema"] = True
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ModelFileError, match="use_ema's averages.*compile=False"):
        gn.load_model(path)
    assert gn.load_model(path, compile=False).optimizer is None
