"""Keras 3's arguments every optimizer takes besides clipping: decoupled ``weight_decay`` (with
``exclude_from_weight_decay``) and the moving average of the weights (``use_ema``,
``ema_momentum``, ``ema_overwrite_frequency``): against Keras, PyTorch and by hand, in models, in
files and in resumed runs."""
import json
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet import constraints, optimizers
from glassnet.errors import ModelFileError
from glassnet.layers import Dense

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# the optimizers Keras also has, with settings under which its rule is glassnet's (Nadam: Keras 3's
# momentum warm-up; the epsilons small enough that where each adds it does not show in float32)
KERAS = {"sgd": ("SGD", {"momentum": 0.5}), "adam": ("Adam", {}), "adamw": ("AdamW", {}),
         "rmsprop": ("RMSprop", {"epsilon": 1e-12}), "adagrad": ("Adagrad", {"epsilon": 1e-12}),
         "adamax": ("Adamax", {}), "nadam": ("Nadam", {}), "lion": ("Lion", {}), "adafactor": ("Adafactor", {})}
OURS_ONLY = {"nadam": {"momentum_decay": 1.0}}


def _keras():
    return pytest.importorskip("keras", reason="Keras oracle not installed")


def _steps(rng, n=20, shape=(4, 3)):
    w0 = rng.standard_normal(shape).astype(np.float32)
    return w0, [rng.standard_normal(shape).astype(np.float32) for _ in range(n)]


def _run_keras(keras, name, w0, grads, **settings):
    cls_name, extra = KERAS[name]
    theirs = getattr(keras.optimizers, cls_name)(learning_rate=0.01, **extra, **settings)
    variable = keras.Variable(w0)
    values = []
    for g in grads:
        theirs.apply_gradients([(keras.ops.convert_to_tensor(g), variable)])
        values.append(np.asarray(variable.numpy()))
    return theirs, variable, values


def _run_ours(name, w0, grads, **settings):
    ours = optimizers.OPTIMIZERS[name](learning_rate=0.01, **KERAS[name][1], **OURS_ONLY.get(name, {}), **settings)
    w, values = w0.copy(), []
    for g in grads:
        ours.apply([("w", w, g)])
        values.append(w.copy())
    return ours, w, values


# -- weight decay -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(KERAS))
def test_weight_decay_matches_keras_on_every_optimizer(name, rng):
    keras = _keras()
    w0, grads = _steps(rng)
    _, _, theirs = _run_keras(keras, name, w0, grads, weight_decay=0.5)
    _, _, ours = _run_ours(name, w0, grads, weight_decay=0.5)
    _, _, undecayed = _run_ours(name, w0, grads, weight_decay=0.0 if name in ("adamw", "lion") else None)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    assert np.abs(ours[-1] - undecayed[-1]).max() > 1e-3       # the decay did something


# Muon decays its two kinds of weights by two rates, and ScheduleFreeAdamW's z starts from the
# undecayed weights: each is checked against Keras and by hand in test_optimizers_muon_schedule_free
@pytest.mark.parametrize("name", sorted(set(optimizers.OPTIMIZERS) - {"muon", "schedulefreeadamw"}))
def test_decay_is_the_weights_scaled_before_the_undecayed_update(name, rng):
    """By hand, in float64, bit for bit: subtract w lr wd (Keras' form), then the optimizer's own step."""
    w0 = rng.standard_normal(7)
    grads = [rng.standard_normal(7) for _ in range(5)]
    plain = {"weight_decay": 0.0} if name in ("adamw", "lion") else {}
    decayed, reference = optimizers.OPTIMIZERS[name](weight_decay=0.3), optimizers.OPTIMIZERS[name](**plain)
    w, expected = w0.copy(), w0.copy()
    for g in grads:
        decayed.apply([("w", w, g)])
        expected -= expected * (reference.learning_rate * 0.3)
        reference.apply([("w", expected, g)])
        np.testing.assert_array_equal(w, expected)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_weight_decay_and_torch(momentum, rng, torch):
    """Without momentum the decoupled decay is torch.optim.SGD's weight_decay; with momentum it is
    not (PyTorch's joins the gradient, and so the momentum buffer)."""
    w0, grads = rng.standard_normal((4, 3)), [rng.standard_normal((4, 3)) for _ in range(5)]
    ours, w = optimizers.SGD(0.1, momentum=momentum, weight_decay=0.2), w0.copy()
    tw = torch.tensor(w0, requires_grad=True)
    theirs = torch.optim.SGD([tw], lr=0.1, momentum=momentum, weight_decay=0.2)
    for g in grads:
        ours.apply([("w", w, g)])
        tw.grad = torch.tensor(g)
        theirs.step()
    if momentum == 0:
        np.testing.assert_allclose(w, tw.detach().numpy(), rtol=1e-12, atol=1e-13)
    else:
        assert np.abs(w - tw.detach().numpy()).max() > 1e-3


def test_adam_with_weight_decay_is_torch_adamw(rng, torch):
    w0, grads = rng.standard_normal((4, 3)), [rng.standard_normal((4, 3)) for _ in range(5)]
    ours, w = optimizers.Adam(0.01, weight_decay=0.1, epsilon=1e-8), w0.copy()
    tw = torch.tensor(w0, requires_grad=True)
    theirs = torch.optim.AdamW([tw], lr=0.01, weight_decay=0.1, eps=1e-8)
    for g in grads:
        ours.apply([("w", w, g)])
        tw.grad = torch.tensor(g)
        theirs.step()
        np.testing.assert_allclose(w, tw.detach().numpy(), rtol=1e-12, atol=1e-13)


def test_a_small_decay_is_not_biased_by_float32_rounding(rng):
    """A factor 1 - lr wd rounded to float32 (1 - 7 * 2^-24 for AdamW's default 4e-3 at a rate of
    1e-4) decays every weight 4 % too strongly; Keras' w - w lr wd rounds each step's loss of each
    weight on its own, up or down, and over 2000 steps and 1000 weights the errors average out."""
    w0 = rng.uniform(0.1, 1.0, 1000).astype(np.float32)
    opt, w = optimizers.SGD(1e-4, weight_decay=4e-3), w0.copy()
    for _ in range(2000):
        opt.apply([("w", w, np.zeros(1000, np.float32))])
    exact = w0.astype(np.float64) * (1 - (1 - 4e-7) ** 2000)
    assert w.dtype == np.float32 and abs((w0 - w).sum() / exact.sum() - 1) < 1e-2
    factor = w0.copy()
    for _ in range(2000):
        factor *= np.float32(1 - 4e-7)
    assert abs((w0 - factor).sum() / exact.sum() - 1) > 3e-2      # what the test tells apart


def test_decay_follows_a_schedule(rng):
    """The rate of each update (a schedule's too) scales the decay, as in Keras."""
    schedule = optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    opt, w = optimizers.SGD(schedule, weight_decay=1.0), np.ones(3)
    for step in range(3):
        opt.apply([("w", w, np.zeros(3))])
    np.testing.assert_allclose(w, np.ones(3) * (1 - 0.1) * (1 - 0.05) * (1 - 0.025), rtol=1e-14)


def _model(seed=0, **dense):
    return gn.Sequential([Dense(4, activation="tanh", input_dim=3, name="hidden", **dense),
                          Dense(1, name="out")], seed=seed)


def test_excluded_weights_are_not_decayed_in_a_model(rng):
    X, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 1))
    decayed, excluded, plain = _model(), _model(), _model()
    for model in (decayed, excluded, plain):
        model.compile("mse", optimizers.SGD(0.0 + 1e-30, weight_decay=1e28))    # lr wd = 0.01, steps ~0
    excluded.optimizer.exclude_from_weight_decay(var_names=["bias", "^out/"])
    before = excluded.get_weights()
    for model in (decayed, excluded, plain):
        model.train_on_batch(X, y)
    after = excluded.get_weights()
    np.testing.assert_allclose(after[0], before[0] * 0.99, rtol=1e-6)         # hidden/kernel: decayed
    for i in (1, 2, 3):                                                        # biases and out/kernel
        np.testing.assert_allclose(after[i], before[i], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(decayed.get_weights()[2], before[2] * 0.99, rtol=1e-6)


def test_exclusion_matches_keras_in_training(rng):
    keras = _keras()
    X = rng.standard_normal((32, 3)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    ours = _model()
    ours.compile("mse", optimizers.AdamW(0.05, weight_decay=2.0))
    ours.optimizer.exclude_from_weight_decay(var_names=["bias"])
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
    opt = keras.optimizers.AdamW(0.05, weight_decay=2.0)
    opt.exclude_from_weight_decay(var_names=["bias"])
    theirs.compile(loss="mse", optimizer=opt)
    theirs.set_weights(ours.get_weights())
    ours.fit(X, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    theirs.fit(X, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    # twelve Adam steps of 0.05 in float32: steps divided by small second moments round apart at
    # ~1e-5; a bias decayed by mistake would be off by a quarter of its value
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)


def test_exclusion_merges_runs_and_checks_its_layout():
    opt = optimizers.SGD(weight_decay=0.1)
    opt.exclude_from_weight_decay(var_names=["bias"])
    assert opt._decayed_spans([2, 3, 4, 5], ["a/kernel", "a/gamma", "a/bias", "b/kernel"]) == [(0, 5), (9, 14)]
    assert opt._decayed_spans([2, 3], ["a/kernel", "b/kernel"]) is None      # nothing excluded: whole
    with pytest.raises(ValueError, match="2 weight names for 3 weights"):
        opt._decayed_spans([1, 1, 1], ["a", "b"])


def test_keras_patterns_match_the_weight_s_own_name_and_paths_a_layer():
    opt = optimizers.SGD(weight_decay=0.1)
    opt.exclude_from_weight_decay(var_names=["^bias$"])          # Keras 3 searches "bias"
    assert opt._decayed_spans([2, 3], ["dense_1/kernel", "dense_1/bias"]) == [(0, 2)]
    opt.exclude_from_weight_decay(var_names=["^dense_1/"])       # a whole layer, by its path
    assert opt._decayed_spans([2, 3, 4], ["dense_1/kernel", "dense_1/bias", "dense_2/kernel"]) == [(5, 9)]


def test_new_patterns_apply_from_the_next_step(rng):
    X, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    model = _model()
    model.compile("mse", optimizers.SGD(1e-30, weight_decay=1e28))
    model.train_on_batch(X, y)
    model.optimizer.exclude_from_weight_decay(var_names=["kernel"])
    before = model.get_weights()
    model.train_on_batch(X, y)
    after = model.get_weights()
    np.testing.assert_allclose(after[0], before[0], rtol=1e-6)
    np.testing.assert_allclose(after[1], before[1] * 0.99, rtol=1e-5, atol=1e-12)


def test_sizes_that_do_not_cover_the_buffer_are_refused():
    opt = optimizers.SGD(weight_decay=0.1)
    with pytest.raises(ValueError, match=r"sizes\[0\]: the weights' sizes \[2, 2\] add up to 4, but 'p' holds 6"):
        opt.apply([("p", np.ones(6), np.zeros(6))], [[2, 2]], [["a/kernel", "a/bias"]])


def test_a_plain_triple_is_excluded_by_its_key(rng):
    opt = optimizers.SGD(0.1, weight_decay=1.0)
    opt.exclude_from_weight_decay(var_names=["^b$"])
    w, b = np.ones(3), np.ones(2)
    opt.apply([("w", w, np.zeros(3)), ("b", b, np.zeros(2))])
    np.testing.assert_array_equal(w, 0.9)
    np.testing.assert_array_equal(b, 1.0)


# -- the moving average of the weights ---------------------------------------------------------------
@pytest.mark.parametrize("frequency", [None, 3])
@pytest.mark.parametrize("name", sorted(KERAS))
def test_ema_matches_keras(name, frequency, rng):
    keras = _keras()
    w0, grads = _steps(rng, n=10)
    settings = dict(use_ema=True, ema_momentum=0.8, ema_overwrite_frequency=frequency)
    theirs, variable, their_values = _run_keras(keras, name, w0, grads, **settings)
    ours, w, our_values = _run_ours(name, w0, grads, **settings)
    for a, b in zip(our_values, their_values):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    their_average = np.asarray(theirs._model_variables_moving_average[0].numpy())
    np.testing.assert_allclose(ours.slots["w"]["average"], their_average, rtol=1e-5, atol=1e-6)
    ours.finalize_variable_values([("w", w, None)])
    theirs.finalize_variable_values([variable])
    np.testing.assert_allclose(w, np.asarray(variable.numpy()), rtol=1e-5, atol=1e-6)


def test_ema_by_hand(rng):
    w0 = rng.standard_normal(5)
    opt, w = optimizers.SGD(0.1, use_ema=True, ema_momentum=0.75), w0.copy()
    grads = [rng.standard_normal(5) for _ in range(4)]
    average = None
    for g in grads:
        opt.apply([("w", w, g)])
        average = w.copy() if average is None else 0.75 * average + 0.25 * w
        np.testing.assert_allclose(opt.slots["w"]["average"], average, rtol=1e-15)
    np.testing.assert_allclose(w, w0 - 0.1 * sum(grads), rtol=1e-13)        # the weights untouched


def test_fit_ends_on_the_averaged_weights_as_keras(rng):
    keras = _keras()
    X = rng.standard_normal((32, 3)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    ours = _model()
    ours.compile("mse", optimizers.SGD(0.1, momentum=0.5, use_ema=True, ema_momentum=0.9))
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1, momentum=0.5, use_ema=True, ema_momentum=0.9))
    theirs.set_weights(ours.get_weights())
    history = ours.fit(X, y, epochs=4, batch_size=8, shuffle=False, verbose=0)
    theirs.fit(X, y, epochs=4, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # the weights are the average, not the last step's
    average = ours.optimizer.slots["params"]["average"]
    np.testing.assert_array_equal(np.concatenate([w.ravel() for w in ours.get_weights()]), average)
    assert len(history.history["loss"]) == 4


def test_train_on_batch_does_not_finalize_but_the_keras_call_does(rng):
    X, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    model = _model()
    model.compile("mse", optimizers.SGD(0.1, use_ema=True, ema_momentum=0.9))
    for _ in range(3):
        model.train_on_batch(X, y)
    average = model.optimizer.slots["params"]["average"].copy()
    flat = np.concatenate([w.ravel() for w in model.get_weights()])
    assert not np.allclose(flat, average)
    model.optimizer.finalize_variable_values(model.trainable_weights)
    np.testing.assert_array_equal(np.concatenate([w.ravel() for w in model.get_weights()]), average)
    with pytest.raises(ValueError, match=r"expected the weights it updated \(25 values: a model's "
                                         r"trainable_weights\), got 4 items holding 25 values|got 2 items"):
        model.optimizer.finalize_variable_values(model.get_weights()[:2])


def test_trace_leaves_the_average_as_it_was(rng):
    X, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    model = _model()
    model.compile("mse", optimizers.Adam(0.1, use_ema=True))
    model.train_on_batch(X, y)
    average = model.optimizer.slots["params"]["average"].copy()
    model.trace(X, y)
    np.testing.assert_array_equal(model.optimizer.slots["params"]["average"], average)


def test_an_average_left_from_before_use_ema_was_turned_off_is_not_saved(rng, tmp_path):
    X, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    model = _model()
    model.compile("mse", optimizers.Adam(0.1, use_ema=True))
    model.train_on_batch(X, y)
    model.optimizer.use_ema = False
    model.train_on_batch(X, y)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert sorted(loaded.optimizer.slots["params"]) == ["m", "v"]


def test_a_backup_restores_the_exclusions_and_a_finished_run_still_ends_on_the_average(rng, tmp_path):
    X, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 1))

    def compiled():
        model = _model()
        opt = optimizers.SGD(0.05, momentum=0.5, weight_decay=0.1, use_ema=True, ema_momentum=0.8)
        opt.exclude_from_weight_decay(var_names=["bias"])
        model.compile("mse", opt)
        return model

    class Interrupt(gn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt

    whole = compiled()
    whole.fit(X, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    interrupted = compiled()
    backup = gn.callbacks.BackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False)
    with pytest.raises(KeyboardInterrupt):       # after the last epoch's backup, before fit's end
        interrupted.fit(X, y, epochs=3, batch_size=4, shuffle=False, verbose=0, callbacks=[backup, Interrupt()])
    resumed = compiled()
    resumed.optimizer.exclude_from_weight_decay()          # the backup's patterns come back
    with pytest.warns(UserWarning, match="restored has 3 epochs done"):
        resumed.fit(X, y, epochs=3, batch_size=4, shuffle=False, verbose=0, callbacks=[backup])
    assert resumed.optimizer.get_config()["exclude_from_weight_decay"] == ["bias"]
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_constraints_hold_on_the_averaged_weights(rng):
    X, y = rng.standard_normal((32, 3)), 5 * rng.standard_normal((32, 1))
    model = _model(kernel_constraint=constraints.MaxNorm(0.3))
    model.compile("mse", optimizers.SGD(0.5, use_ema=True, ema_momentum=0.5))
    model.fit(X, y, epochs=3, batch_size=4, verbose=0)
    assert np.linalg.norm(model.layers[0].params["kernel"], axis=0).max() <= 0.3 + 1e-6


def test_early_stopping_restores_its_best_weights_after_the_average(rng):
    """Keras' order: the average at the end of fit, then on_train_end, where EarlyStopping restores."""
    X, y = rng.standard_normal((32, 3)), rng.standard_normal((32, 1))
    model = _model()
    model.compile("mse", optimizers.SGD(0.05, use_ema=True))
    saved = {}

    class Keep(gn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            saved[epoch] = [w.copy() for w in self.model.get_weights()]

    stopper = gn.callbacks.EarlyStopping(monitor="loss", patience=100, restore_best_weights=True)
    history = model.fit(X, y, epochs=5, batch_size=8, verbose=0, callbacks=[Keep(), stopper])
    best = int(np.argmin(history.history["loss"]))
    for a, b in zip(model.get_weights(), saved[best]):
        np.testing.assert_array_equal(a, b)


def test_saved_and_resumed_run_continues_the_average(rng, tmp_path):
    X, y = rng.standard_normal((32, 3)).astype(np.float32), rng.standard_normal((32, 1)).astype(np.float32)

    def compiled():
        model = _model()
        opt = optimizers.Adam(0.01, weight_decay=0.1, use_ema=True, ema_momentum=0.7, ema_overwrite_frequency=5)
        opt.exclude_from_weight_decay(var_names=["bias"])
        model.compile("mse", opt)
        return model

    whole = compiled()
    whole.fit(X, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    for _ in range(3):
        whole.train_on_batch(X[:4], y[:4])
    halves = compiled()
    halves.fit(X, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    halves.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    config = loaded.optimizer.get_config()
    assert (config["weight_decay"], config["use_ema"], config["ema_momentum"]) == (0.1, True, 0.7)
    assert (config["ema_overwrite_frequency"], config["exclude_from_weight_decay"]) == (5, ["bias"])
    for _ in range(3):
        loaded.train_on_batch(X[:4], y[:4])
    for a, b in zip(loaded.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.optimizer.slots["params"]["average"],
                                  whole.optimizer.slots["params"]["average"])


def test_a_file_with_an_average_its_optimizer_does_not_keep_is_refused(rng, tmp_path, edit_model_file):
    """A file whose optimizer config has no use_ema but whose state holds an average was edited:
    load_model names the slot rather than keep state it would never update."""
    model = _model()
    model.compile("mse", optimizers.SGD(0.1, use_ema=True))
    model.train_on_batch(rng.standard_normal((4, 3)), rng.standard_normal((4, 1)))
    model.save(tmp_path / "m.npz")
    edit_model_file(tmp_path / "m.npz", lambda config: config["model"]["compile"]["optimizer"].pop("use_ema"),
                    tmp_path / "edited.npz")
    assert gn.load_model(tmp_path / "m.npz").optimizer.use_ema
    with pytest.raises(ModelFileError, match=r"SGD keeps the state \['momentum'\].*the file has \['average'\]"):
        gn.load_model(tmp_path / "edited.npz")


@pytest.mark.parametrize("name", sorted(optimizers.OPTIMIZERS))
def test_configs_keep_the_new_arguments_only_when_set(name):
    plain = optimizers.OPTIMIZERS[name]().get_config()
    assert not {"use_ema", "ema_momentum", "ema_overwrite_frequency", "exclude_from_weight_decay"} & set(plain)
    assert ("weight_decay" in plain) == (name in ("adamw", "lion", "muon"))     # on by default in Keras
    opt = optimizers.OPTIMIZERS[name](weight_decay=0.25, use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=7)
    opt.exclude_from_weight_decay(var_names=["bias", "gamma"])
    config = json.loads(json.dumps(opt.get_config()))
    again = optimizers.from_config(config)
    assert again.get_config() == config
    assert (again.weight_decay, again.use_ema, again.ema_momentum, again.ema_overwrite_frequency) == (0.25, True, 0.5, 7)


@pytest.mark.parametrize("settings, message", [
    ({"weight_decay": -0.1}, "SGD: weight_decay must be a finite number >= 0, got -0.1"),
    ({"weight_decay": "0.1"}, "SGD: weight_decay must be a finite number >= 0"),
    ({"ema_momentum": 1.5}, r"SGD: ema_momentum must be a number in \[0, 1\], got 1.5"),
    ({"ema_overwrite_frequency": 0}, "SGD: ema_overwrite_frequency: expected a positive integer, got 0"),
    ({"ema_overwrite_frequency": 2.0}, "SGD: ema_overwrite_frequency: expected a positive integer, got 2.0"),
    ({"ema_overwrite_frequency": True}, "SGD: ema_overwrite_frequency: expected a positive integer, got True"),
])
def test_bad_settings_are_refused_by_name(settings, message):
    with pytest.raises(ValueError, match=message):
        optimizers.SGD(**settings)


def test_use_ema_is_a_flag_and_unknown_arguments_list_the_new_ones():
    with pytest.raises(TypeError, match="SGD: use_ema: expected True or False, got 'yes'"):
        optimizers.SGD(use_ema="yes")
    with pytest.raises(TypeError, match="weight_decay, use_ema, ema_momentum, ema_overwrite_frequency"):
        optimizers.SGD(decay=0.1)


def test_bad_exclusions_are_refused():
    opt = optimizers.AdamW()
    with pytest.raises(TypeError, match="var_list is not taken; give var_names"):
        opt.exclude_from_weight_decay(var_list=[np.zeros(3)])
    with pytest.raises(TypeError, match="var_names must be a list of non-empty strings, got 'bias'"):
        opt.exclude_from_weight_decay(var_names="bias")
    with pytest.raises(TypeError, match="var_names must be a list of non-empty strings, got 5"):
        opt.exclude_from_weight_decay(var_names=5)
    with pytest.raises(ValueError, match=r"var_names holds '\(bias', not a regular expression"):
        opt.exclude_from_weight_decay(var_names=["(bias"])
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.exclude_from_weight_decay()               # no names: nothing excluded again
    assert "exclude_from_weight_decay" not in opt.get_config()


def test_finalize_before_any_update_changes_nothing():
    opt, w = optimizers.Adam(use_ema=True), np.ones(3)
    opt.finalize_variable_values([("w", w, np.zeros(3))])
    np.testing.assert_array_equal(w, 1.0)


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|a)*$", "a?" * 30 + "a" * 30, ".*.*.*x", "(.)\\1"])
def test_patterns_that_backtrack_without_end_are_refused(pattern):
    """Python's re backtracks: "(a+)+$" on a failing name takes time exponential in its length (30
    characters: minutes), ".*.*.*x" its 4th power. Such patterns (and backreferences) are refused
    where they are given, by exclude_from_weight_decay and Muon alike."""
    with pytest.raises(ValueError, match=r"var_names holds .* which `re` could take very long"):
        optimizers.AdamW().exclude_from_weight_decay(var_names=[pattern])
    with pytest.raises(ValueError, match=r"exclude_layers holds .* which `re` could take very long"):
        optimizers.Muon(exclude_layers=[pattern])


def test_patterns_as_keras_users_write_them_are_kept():
    patterns = ["bias", "layer_norm", "(gamma|beta)$", "dense.*kernel", "layer.*norm.*gamma", r"^dense_\d+/bias$"]
    opt = optimizers.AdamW()
    opt.exclude_from_weight_decay(var_names=patterns)
    assert opt.get_config()["exclude_from_weight_decay"] == patterns
    assert opt._excluded("layer_norm_1/gamma") and opt._excluded("dense_12/bias") and not opt._excluded("hidden/kernel")


def test_a_model_file_holding_a_backtracking_pattern_is_refused_at_load(rng, tmp_path, edit_model_file):
    """Loading an untrusted file must not hang on its optimizer's patterns, nor on a long name."""
    model = _model()
    opt = optimizers.AdamW(0.01, weight_decay=0.1)
    opt.exclude_from_weight_decay(var_names=["bias"])
    model.compile("mse", opt)
    model.train_on_batch(rng.standard_normal((4, 3)), rng.standard_normal((4, 1)))
    model.save(tmp_path / "m.npz")

    def edit(config):
        config["model"]["compile"]["optimizer"]["exclude_from_weight_decay"] = ["(a+)+$"]
    edit_model_file(tmp_path / "m.npz", edit, tmp_path / "edited.npz")
    with pytest.raises((ValueError, ModelFileError), match=r"\(a\+\)\+\$.*could take very long"):
        gn.load_model(tmp_path / "edited.npz")
    # a name far longer than any layer's is not searched: its search time grows with its length
    with pytest.raises(ValueError, match=r"the weight name 'aaaa.*has 5007 characters; .* at most 1000"):
        opt._excluded("a" * 5000 + "/kernel")
