"""One optimizer stepping a layer shared by several models (a feature extractor beside its base, a
GAN's combined model) keeps one state per weight, as Keras 3.15's one variable has one momentum
(glassnet.optimizers._shared, glassnet._optimizer_claims): tape steps through each model's arrays,
models compiled with the same optimizer and fit in turn, model files of such training."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

from central_differences import numeric

pytestmark = pytest.mark.filterwarnings("ignore:The structure of `inputs`:UserWarning")


def _models(lib, seed=3, dtype="float32"):
    """base: x (4) -> h (3, tanh) -> o (2); feat = Model(base.inputs, h.output);
    G: z (2) -> 4 (tanh); combined = Model(z, base(G(z)))."""
    extra = {"seed": seed, "dtype": dtype} if lib is gn else {}
    i = lib.Input((4,))
    h = lib.layers.Dense(3, activation="tanh", name="h")(i)
    o = lib.layers.Dense(2, name="o")(h)
    base = lib.Model(i, o, **extra)
    typed = {"dtype": dtype} if lib is gn else {}
    feat = lib.Model(base.inputs, base.get_layer("h").output, **typed)
    z = lib.Input((2,))
    g = lib.Model(z, lib.layers.Dense(4, activation="tanh", name="g1")(z), **extra)
    z2 = lib.Input((2,))
    return {"base": base, "feat": feat, "G": g, "combined": lib.Model(z2, base(g(z2)), **typed)}


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x, z = rng.normal(size=(8, 4)).astype(np.float32), rng.normal(size=(6, 2)).astype(np.float32)
    return x, z


def _pair():
    ours = _models(gn)
    theirs = _models(pytest.importorskip("keras"))
    theirs["base"].set_weights(ours["base"].get_weights())
    theirs["G"].set_weights(ours["G"].get_weights())
    return ours, theirs


# Keras' and glassnet's epsilon sit in different places (PyTorch's Adam; RMSprop's inside or outside
# the square root, which for a gradient of 1e-6 is most of the step): a tiny one
# leaves the rules the same, so that a difference in the state shows
OPTIMIZERS = {
    "sgd_momentum": lambda lib: lib.optimizers.SGD(0.1, momentum=0.9),
    "sgd_nesterov": lambda lib: lib.optimizers.SGD(0.05, momentum=0.8, nesterov=True),
    "adam": lambda lib: lib.optimizers.Adam(0.05, epsilon=1e-10),
    "adamw": lambda lib: lib.optimizers.AdamW(0.05, weight_decay=0.1, epsilon=1e-10),
    "rmsprop": lambda lib: lib.optimizers.RMSprop(0.01, epsilon=1e-20),
    "rmsprop_centered": lambda lib: lib.optimizers.RMSprop(0.01, momentum=0.5, centered=True, epsilon=1e-20),
    "adamax": lambda lib: lib.optimizers.Adamax(0.05, epsilon=1e-10),
    "lion": lambda lib: lib.optimizers.Lion(0.01),
    "ftrl": lambda lib: lib.optimizers.Ftrl(0.1, l1_regularization_strength=0.01),
    "adagrad": lambda lib: lib.optimizers.Adagrad(0.1, epsilon=1e-10),
    # (Keras 3's Nadam leaves out PyTorch's momentum warm-up: momentum_decay=1.0 here)
    "nadam": lambda lib: lib.optimizers.Nadam(0.05, epsilon=1e-10, **({"momentum_decay": 1.0} if lib is gn else {})),
    "adadelta": lambda lib: lib.optimizers.Adadelta(1.0, rho=0.9, epsilon=1e-6),
}
# the rules that are Keras' step for step, whatever the epsilon: the brief's 1e-5; Adagrad's
# epsilon inside or outside sqrt(s + eps), Ftrl's and Lion's sign steps amplify float32 rounding
TOLERANCE = {"adagrad": 1e-4, "ftrl": 1e-4, "lion": 1e-4}


def _tape_step(lib, models, name, x, z, optimizer):
    """One tape step of a loss on model ``name`` (combined reads z, the others x), through its own
    trainable weights, by ``optimizer``."""
    model = models[name]
    data = z if name == "combined" else x
    weights = model.trainable_weights if lib is gn else model.trainable_variables
    if lib is gn:
        with gn.GradientTape() as tape:
            loss = ops.mean(ops.square(model(data, training=True) - 0.3))
    else:
        import tensorflow as tf
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(data, training=True) - 0.3))
    grads = tape.gradient(loss, weights)
    optimizer.apply_gradients(zip(grads, weights))


def _close(ours, theirs, tol, what):
    for name in ("base", "G"):
        for a, b in zip(ours[name].get_weights(), theirs[name].get_weights()):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"{what}: {name}")


@pytest.mark.parametrize("kind", sorted(OPTIMIZERS))
def test_tape_steps_through_two_models_keep_one_state(keras, kind):
    """feat's and base's arrays stepped in turn by one optimizer: h's weights keep one state, so
    the weights follow Keras' after every step (0.03-0.1 apart with two states, SGD and Adam)."""
    ours, theirs = _pair()
    x, z = _data()
    opt, kopt = OPTIMIZERS[kind](gn), OPTIMIZERS[kind](keras)
    kopt.build(theirs["base"].trainable_variables)
    for k, name in enumerate(("feat", "base", "feat", "feat", "base", "base", "feat")):
        _tape_step(gn, ours, name, x, z, opt)
        _tape_step(keras, theirs, name, x, z, kopt)
        _close(ours, theirs, TOLERANCE.get(kind, 1e-5), f"{kind} step {k} ({name})")
    assert opt.iterations == int(kopt.iterations) == 7


@pytest.mark.parametrize("kind", ["sgd_momentum", "adam", "rmsprop"])
@pytest.mark.parametrize("seed", range(4))
def test_three_models_interleaved_match_keras(keras, kind, seed):
    """base, feat and combined (G then base) stepped by one optimizer in a seeded order, the
    optimizer also compiled into base (its fit in between): weights after every step as Keras'."""
    rng = np.random.default_rng(seed)
    ours, theirs = _pair()
    x, z = _data(seed)
    y = rng.normal(size=(8, 2)).astype(np.float32)
    opt, kopt = OPTIMIZERS[kind](gn), OPTIMIZERS[kind](keras)
    ours["base"].compile(loss="mse", optimizer=opt)
    theirs["base"].compile(loss="mse", optimizer=kopt, run_eagerly=True)
    kopt.build(theirs["combined"].trainable_variables)         # (Keras: every variable it will step)
    for k in range(10):
        name = ("base", "feat", "combined", "fit")[int(rng.integers(0, 4))]
        if name == "fit":
            ours["base"].fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
            theirs["base"].fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
        else:
            _tape_step(gn, ours, name, x, z, opt)
            _tape_step(keras, theirs, name, x, z, kopt)
        _close(ours, theirs, 1e-5, f"{kind} step {k} ({name})")
    assert opt.iterations == int(kopt.iterations)


@pytest.mark.parametrize("kind", ["sgd_momentum", "adam", "rmsprop"])
def test_models_compiled_with_one_optimizer_fit_in_turn(keras, kind):
    """base, feat and combined compiled with the same optimizer object and fit in turn (Keras
    keeps one state per variable; glassnet reset the optimizer at each compile and refused the
    models compiled before): histories and weights as Keras'."""
    ours, theirs = _pair()
    x, z = _data()
    rng = np.random.default_rng(5)
    targets = {"base": rng.normal(size=(8, 2)), "feat": rng.normal(size=(8, 3)), "combined": rng.normal(size=(6, 2))}
    opt, kopt = OPTIMIZERS[kind](gn), OPTIMIZERS[kind](keras)
    for lib, models, o in ((gn, ours, opt), (keras, theirs, kopt)):
        for name in ("base", "feat", "combined"):
            models[name].compile(loss="mse", optimizer=o, **({} if lib is gn else {"run_eagerly": True}))
    kopt.build(theirs["combined"].trainable_variables)
    for k, name in enumerate(("feat", "base", "combined", "feat", "combined", "base")):
        data = z if name == "combined" else x
        target = targets[name].astype(np.float32)
        mine = ours[name].fit(data, target, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
        expected = theirs[name].fit(data, target, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
        np.testing.assert_allclose(mine, expected, rtol=1e-5, atol=1e-6, err_msg=f"{kind} fit {k} ({name})")
        _close(ours, theirs, 1e-5, f"{kind} fit {k} ({name})")
    assert opt.iterations == int(kopt.iterations) == 6 * 2 * 2


def _keras_state(kopt, kind, variable):
    """Keras' state of ``variable`` under glassnet's slot names."""
    index = kopt._get_variable_index(variable)
    if kind == "sgd_momentum":          # Keras' m = momentum m - lr g; PyTorch's (glassnet's) b = momentum b + g
        return {"momentum": -np.asarray(kopt.momentums[index]) / kopt.learning_rate.numpy()}
    return {"m": kopt._momentums[index], "v": kopt._velocities[index]}


@pytest.mark.parametrize("kind", ["sgd_momentum", "adam"])
def test_model_files_keep_the_one_state(keras, kind, tmp_path):
    """After feat and base were stepped in turn (feat last), each model's file holds the state of
    its weights as Keras' optimizer has it (feat's step of h is in base's file too), and the
    loaded base goes on training as Keras'."""
    ours, theirs = _pair()
    x, z = _data()
    y = np.random.default_rng(2).normal(size=(8, 2)).astype(np.float32)
    opt, kopt = OPTIMIZERS[kind](gn), OPTIMIZERS[kind](keras)
    for lib, models, o in ((gn, ours, opt), (keras, theirs, kopt)):
        models["base"].compile(loss="mse", optimizer=o, **({} if lib is gn else {"run_eagerly": True}))
        models["feat"].compile(loss="mse", optimizer=o, **({} if lib is gn else {"run_eagerly": True}))
    kopt.build(theirs["base"].trainable_variables)
    for name in ("base", "feat", "feat"):
        _tape_step(gn, ours, name, x, z, opt)
        _tape_step(keras, theirs, name, x, z, kopt)
    for name in ("base", "feat"):
        ours[name].save(str(tmp_path / f"{name}.npz"))
        loaded = gn.load_model(str(tmp_path / f"{name}.npz"))
        assert loaded.optimizer.iterations == int(kopt.iterations) == 3
        slots, start = loaded.optimizer.slots["params"], 0
        for variable in theirs[name].trainable_variables:
            size = int(np.prod(variable.shape))
            for slot, expected in _keras_state(kopt, kind, variable).items():
                np.testing.assert_allclose(slots[slot][start:start + size], np.asarray(expected).reshape(-1),
                                           rtol=1e-5, atol=1e-6, err_msg=f"{name}: {variable.path} {slot}")
            start += size
        assert start == slots[next(iter(slots))].size
    loaded = gn.load_model(str(tmp_path / "base.npz"))
    mine = loaded.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    expected = theirs["base"].fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(mine, expected, rtol=1e-5, atol=1e-6)
    for a, b in zip(loaded.get_weights(), theirs["base"].get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_get_state_round_trip_keeps_the_one_state():
    """get_state after steps through two models holds the shared weight's latest state under
    both models' keys, so set_state (BackupAndRestore, trace) resumes the same steps."""
    x, z = _data()

    def run(interrupt):
        models = _models(gn)
        opt = gn.optimizers.SGD(0.1, momentum=0.9)
        for k, name in enumerate(("base", "feat", "feat", "base", "feat", "base")):
            if interrupt and k == 3:
                opt.set_state(opt.get_state())
            _tape_step(gn, models, name, x, z, opt)
        return models["base"].get_weights()

    for a, b in zip(run(False), run(True)):
        np.testing.assert_array_equal(a, b)


def test_float64_steps_match_one_momentum_from_central_differences():
    """Without Keras: float64 feat/base steps by one SGD(momentum) equal a hand-worked loop over
    one velocity per weight, its gradients from central differences of the same losses."""
    models = _models(gn, dtype="float64")
    x = _data()[0].astype(np.float64)
    weights = [w.copy() for w in models["base"].get_weights()]        # h kernel, h bias, o kernel, o bias
    velocity = [np.zeros_like(w) for w in weights]
    opt = gn.optimizers.SGD(0.1, momentum=0.9)
    for name in ("feat", "base", "feat", "base", "base", "feat"):
        used = 2 if name == "feat" else 4
        probe = _models(gn, dtype="float64")["base"]
        probe.set_weights(weights)
        feat = gn.Model(probe.inputs, probe.get_layer("h").output, dtype="float64")
        model = feat if name == "feat" else probe
        views = model.trainable_weights

        def loss():
            return np.mean(np.square(model.predict(x, verbose=0) - 0.3))

        grads = numeric(loss, views)
        for i in range(used):
            velocity[i] = 0.9 * velocity[i] + grads[i]
            weights[i] = weights[i] - 0.1 * velocity[i]
        _tape_step(gn, models, name, x, None, opt)
        for a, b in zip(models["base"].get_weights(), weights):
            np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9, err_msg=name)


def test_models_sharing_nothing_still_take_the_optimizer_over():
    """An optimizer compiled into a model sharing no layer with its model starts afresh, and the
    model it left refuses to train with it (unchanged: glassnet._optimizer_claims)."""
    x, _ = _data()
    y = np.zeros((8, 2), np.float32)
    first, second = _models(gn)["base"], _models(gn, seed=4)["base"]
    opt = gn.optimizers.Adam(0.01)
    first.compile(loss="mse", optimizer=opt)
    first.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert opt.iterations == 2
    second.compile(loss="mse", optimizer=opt)
    assert opt.iterations == 0 and opt.slots == {}
    with pytest.raises(ValueError, match="optimizer: this Adam instance was compiled into another model"):
        first.fit(x, y, epochs=1, verbose=0)


def test_shared_compile_gives_each_model_a_key_and_files_load():
    """The second model compiled with a shared optimizer steps under a key of its own; its file
    stores the state under "params", which a loaded model steps under."""
    models = _models(gn)
    opt = gn.optimizers.SGD(0.1, momentum=0.9)
    models["base"].compile(loss="mse", optimizer=opt)
    models["feat"].compile(loss="mse", optimizer=opt)
    models["base"].compile(loss="mse", optimizer=opt)          # again: its key as it was
    assert [key for key, _, _ in models["base"]._triples] == ["params"]
    assert [key for key, _, _ in models["feat"]._triples] == ["params#1"]
    x, _ = _data()
    models["feat"].fit(x, np.zeros((8, 3), np.float32), epochs=1, batch_size=4, verbose=0)
    models["base"].fit(x, np.zeros((8, 2), np.float32), epochs=1, batch_size=4, verbose=0)
    assert sorted(opt.slots) == ["params", "params#1"] and opt.iterations == 4


def test_backup_and_restore_of_a_model_sharing_its_optimizer_is_refused(tmp_path):
    """A backup holds one model's optimizer state: restored into an optimizer that steps another
    model sharing layers, it replaced that model's state with arrays of the wrong size (the other
    model's next fit failed on a broadcast) and lost its own. Refused by name before the first epoch;
    with an optimizer of its own the model backs up and resumes as before."""
    models = _models(gn)
    opt = gn.optimizers.Adam(0.01)
    models["base"].compile(loss="mse", optimizer=opt)
    models["feat"].compile(loss="mse", optimizer=opt)
    x, _ = _data()
    backup = gn.callbacks.BackupAndRestore(str(tmp_path / "b"))
    with pytest.raises(ValueError, match=r"BackupAndRestore: the optimizer of model '\w+' also trains '\w+' "
                                         r"\(they share layers\).*an optimizer instance of its own"):
        models["feat"].fit(x, np.zeros((8, 3), np.float32), epochs=1, batch_size=4, verbose=0, callbacks=[backup])
    models["feat"].compile(loss="mse", optimizer=gn.optimizers.Adam(0.01))
    models["feat"].fit(x, np.zeros((8, 3), np.float32), epochs=1, batch_size=4, verbose=0, callbacks=[backup])
    models["base"].fit(x, np.zeros((8, 2), np.float32), epochs=1, batch_size=4, verbose=0)
