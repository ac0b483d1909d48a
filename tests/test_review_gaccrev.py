"""Review of gradient accumulation (``gradient_accumulation_steps``): cases the first tests left out."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import optimizers
from glassnet.layers import Dense
from test_gpu import cupy  # noqa: F401  (the fixture: fakecupy, and CuPy where a GPU is)


def _data(n=44, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3)).astype(np.float32)
    y = (np.sin(X[:, :1]) + 0.5 * X[:, 1:2] * X[:, 2:3]).astype(np.float32)
    return X, y


def _model(name, **settings):
    model = gn.Sequential([Dense(4, activation="tanh", input_dim=3, name="hidden"), Dense(1, name="out")], seed=0)
    model.compile("mse", optimizers.OPTIMIZERS[name](**settings))
    return model


# -- saved before the first update -------------------------------------------------------------------
@pytest.mark.parametrize("use_ema", [False, True])
@pytest.mark.parametrize("name", ["adam", "nadam", "rmsprop", "ftrl", "lamb", "adafactor", "muon",
                                  "schedulefreeadamw", "adadelta"])
def test_a_model_saved_before_its_first_update_loads_and_resumes(name, use_ema, tmp_path):
    """The calls before the first update only sum their gradients: the rule's own state (Adam's m
    and v, its always_slots) does not exist yet. save_model refused such a model ("declares
    always_slots ... yet keeps no ['m', 'v']"), and load_model such a file."""
    X, y = _data()
    model = _model(name, gradient_accumulation_steps=3, use_ema=use_ema)
    model.train_on_batch(X[:8], y[:8])
    assert model.optimizer.iterations == 0 and model.optimizer.accumulated_steps == 1
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert loaded.optimizer.accumulated_steps == 1
    for m in (model, loaded):
        for i in (8, 16, 24):
            m.train_on_batch(X[i:i + 8], y[i:i + 8])
    assert loaded.optimizer.iterations == model.optimizer.iterations == 1
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_backup_of_an_epoch_shorter_than_an_update(tmp_path):
    """An epoch of 6 batches with k = 8: the first epoch ends before any update, and
    BackupAndRestore's save at its end stopped fit with a ValueError."""
    X, y = _data()

    def crash(epoch, logs):
        if epoch == 1:
            raise KeyboardInterrupt

    whole = _model("adam", gradient_accumulation_steps=8)
    whole.fit(X, y, epochs=4, batch_size=8, shuffle=False, verbose=0)
    crashed = _model("adam", gradient_accumulation_steps=8)
    with pytest.raises(KeyboardInterrupt):
        crashed.fit(X, y, epochs=4, batch_size=8, shuffle=False, verbose=0,
                    callbacks=[gn.BackupAndRestore(tmp_path), gn.callbacks.LambdaCallback(on_epoch_end=crash)])
    resumed = _model("adam", gradient_accumulation_steps=8)
    resumed.fit(X, y, epochs=4, batch_size=8, shuffle=False, verbose=0, callbacks=[gn.BackupAndRestore(tmp_path)])
    assert resumed.optimizer.iterations == whole.optimizer.iterations == 3
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_file_lacking_the_rule_s_state_after_an_update_is_still_refused(tmp_path, edit_model_file):
    """Only before the first update may a file lack the rule's state: one of a model with
    updates made that lacks Adam's m and v would restart them at zero, and stays refused."""
    from glassnet.errors import ModelFileError
    X, y = _data()
    model = _model("adam", gradient_accumulation_steps=3)
    model.train_on_batch(X[:8], y[:8])
    model.save(tmp_path / "m.npz")

    def updated_once(config):
        config["optimizer_state"]["iterations"] = 1

    edit_model_file(tmp_path / "m.npz", updated_once, tmp_path / "edited.npz")
    with pytest.raises(ModelFileError, match=r"Adam keeps the state .* \(always \['m', 'v'\]\), the file has "
                                             r"\['gradient_accumulator'\]"):
        gn.load_model(tmp_path / "edited.npz")


def test_on_fakecupy_a_model_accumulates_saves_and_resumes_as_on_the_host(cupy, tmp_path):
    X, y = _data()
    device = _model("adam", gradient_accumulation_steps=3, use_ema=True, clipnorm=0.5)
    device.fit(X, y, epochs=1, batch_size=16, shuffle=False, verbose=0)      # 3 calls: one update
    device.train_on_batch(X[:8], y[:8])
    device.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert isinstance(loaded.optimizer.slots["params"]["gradient_accumulator"], cupy.ndarray)
    for m in (device, loaded):
        m.fit(X, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    gn.set_backend("numpy")
    host = _model("adam", gradient_accumulation_steps=3, use_ema=True, clipnorm=0.5)
    host.fit(X, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    host.train_on_batch(X[:8], y[:8])
    host.fit(X, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    gn.set_backend("cupy")
    for a, b, c in zip(device.get_weights(), loaded.get_weights(), host.get_weights()):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-7)


def test_keras_dict_with_gradient_accumulation_steps_0_reads_as_off():
    """Keras 3.15 takes 0 as off (``if gradient_accumulation_steps:``) and serializes it as 0;
    glassnet refused Keras' own dict ("must be None or an integer >= 2")."""
    entry = {"module": "keras.optimizers", "class_name": "Adam", "registered_name": None,
             "config": {"name": "adam", "learning_rate": 0.1, "gradient_accumulation_steps": 0,
                        "loss_scale_factor": None}}
    for made in (optimizers.get(entry), optimizers.deserialize(entry)):
        assert made.gradient_accumulation_steps is None
        w = np.zeros(2, np.float32)
        made.apply([("w", w, np.ones(2, np.float32))])       # an update at the first call, as Keras'
        assert made.iterations == 1 and np.all(w < 0)
    with pytest.raises(ValueError, match=r"Adam: gradient_accumulation_steps must be None or an integer >= 2"):
        optimizers.get({**entry, "config": {**entry["config"], "gradient_accumulation_steps": 1}})
