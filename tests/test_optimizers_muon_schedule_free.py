"""Muon and ScheduleFreeAdamW: step by step against Keras 3.15 (float32), a model trained as Keras
trains it, Schedule-Free's weights against the paper's formula by hand, configs, state in model
files, and bad arguments refused by name."""
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet import optimizers

from test_gpu import cupy  # noqa: F401  (the fixture: fakecupy, and CuPy where a GPU is)

SHAPES = {"w": (4, 6), "t": (7, 3), "b": (6,), "k": (2, 2, 3, 4)}     # wide, tall, vector, conv kernel


def _weights_and_grads(rng, steps=6):
    w0 = {k: rng.standard_normal(s).astype(np.float32) for k, s in SHAPES.items()}
    grads = [{k: rng.standard_normal(s).astype(np.float32) for k, s in SHAPES.items()} for _ in range(steps)]
    return w0, grads


def _run_both(ours, theirs, w0, grads, keras, check):
    weights = {k: v.copy() for k, v in w0.items()}
    variables = {k: keras.Variable(v, name=k) for k, v in w0.items()}
    for step, g in enumerate(grads, start=1):
        ours.apply([(k, weights[k], g[k]) for k in SHAPES])
        theirs.apply_gradients([(keras.ops.convert_to_tensor(g[k]), variables[k]) for k in SHAPES])
        check(step, weights, variables)


@pytest.mark.parametrize("settings", [
    {},
    {"nesterov": False, "rms_rate": None, "weight_decay": 0.1, "adam_weight_decay": 0.05, "adam_lr_ratio": 0.5,
     "momentum": 0.8, "ns_steps": 3},
    {"weight_decay": None, "adam_weight_decay": 0.2, "exclude_layers": ["^t$"]}], ids=["defaults", "settings", "exclude"])
def test_muon_steps_match_keras(settings, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    w0, grads = _weights_and_grads(rng)
    ours, theirs = optimizers.Muon(0.02, **settings), keras.optimizers.Muon(0.02, **settings)

    def check(step, weights, variables):
        for k in SHAPES:
            np.testing.assert_allclose(weights[k], variables[k].numpy(), rtol=1e-5, atol=2e-6, err_msg=f"{k} {step}")
            assert not np.allclose(weights[k], w0[k])
    _run_both(ours, theirs, w0, grads, keras, check)


def test_muon_takes_keras_paths_for_each_weight():
    opt = optimizers.Muon()
    assert not opt.uses_adamw("dense/kernel", (3, 4))
    assert opt.uses_adamw("dense/bias", (4,)) and opt.uses_adamw("conv2d/kernel", (3, 3, 2, 4))
    assert opt.uses_adamw("embedding/embeddings", (10, 4)) and opt.uses_adamw("MyEmbedding/w", (10, 4))
    assert not optimizers.Muon(exclude_embeddings=False).uses_adamw("embedding/embeddings", (10, 4))
    assert optimizers.Muon(exclude_layers=["out"]).uses_adamw("output/kernel", (3, 1))
    # the matrix on Muon's path keeps no Adam velocity (zeros), the vector does
    w, b = np.ones((3, 4)), np.ones(4)
    opt.apply([("w", w, np.ones((3, 4))), ("b", b, np.ones(4))])
    assert not opt.slots["w"]["velocity"].any() and opt.slots["b"]["velocity"].all()


def _models(keras, optimizer, keras_optimizer, rng):
    ours = gn.Sequential([gn.layers.Input((3,)), gn.layers.Dense(6, activation="tanh", name="hidden"),
                          gn.layers.Dense(4, activation="tanh", name="middle"), gn.layers.Dense(1, name="out")], seed=0)
    ours.compile("mse", optimizer)
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(6, activation="tanh", name="hidden"),
                               keras.layers.Dense(4, activation="tanh", name="middle"), keras.layers.Dense(1, name="out")])
    theirs.set_weights(ours.get_weights())
    theirs.compile(loss="mse", optimizer=keras_optimizer)
    return ours, theirs


def test_muon_trains_a_model_as_keras(rng):
    """A model hands Muon one flat buffer with the weights' names and shapes: each kernel takes
    Muon's step, each bias and the excluded output layer AdamW's, as in Keras."""
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, y = rng.standard_normal((32, 3)).astype(np.float32), rng.standard_normal((32, 1)).astype(np.float32)
    settings = dict(learning_rate=0.01, exclude_layers=["out"], weight_decay=0.5, adam_weight_decay=0.3)
    ours, theirs = _models(keras, optimizers.Muon(**settings), keras.optimizers.Muon(**settings), rng)
    ours.optimizer.exclude_from_weight_decay(var_names=["bias"])
    theirs.optimizer.exclude_from_weight_decay(var_names=["bias"])
    mine = ours.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history["loss"]
    their = theirs.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def _schedule_free_by_hand(w, grads, lr, b1, b2, eps, warmup=0, wd=0.0):
    """The paper's Schedule-Free AdamW as Keras writes it, with x kept rather than recovered from y."""
    y, z, x, v = w.copy(), w.copy(), w.copy(), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        rate = lr * (min(t / warmup, 1) if warmup else 1)
        y = y - y * wd * lr                    # Keras decays the weights, y, before the step
        x = (y - (1 - b1) * z) / b1            # ... which moves x with them
        v = v + (g * g - v) * (1 - b2)
        z = z - rate * g / (np.sqrt(v / (1 - b2 ** t)) + eps)
        x = (1 - 1 / t) * x + z / t
        y = (1 - b1) * z + b1 * x
    return y, z


@pytest.mark.parametrize("settings", [{}, {"warmup_steps": 3, "weight_decay": 0.1, "beta_1": 0.5}], ids=str)
def test_schedule_free_steps_by_hand(settings, rng):
    w0 = rng.standard_normal((4, 3))
    grads = [rng.standard_normal((4, 3)) for _ in range(6)]
    opt, w = optimizers.ScheduleFreeAdamW(0.05, **settings), w0.copy()
    for g in grads:
        opt.apply([("w", w, g)])
    y, z = _schedule_free_by_hand(w0, grads, 0.05, settings.get("beta_1", 0.9), 0.999, 1e-8,
                                  settings.get("warmup_steps", 0), settings.get("weight_decay", 0.0))
    np.testing.assert_allclose(w, y, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(opt.slots["w"]["momentum"], z, rtol=1e-12, atol=1e-14)


def test_schedule_free_state_matches_keras_and_its_first_step(rng):
    """z (Keras' momentum) and v (velocity) agree with Keras' step for step; so do the weights
    after the first step. Later weights differ on purpose: Keras (TensorFlow and PyTorch backends)
    reads z after updating it, which makes its weights the running average of its z's
    (``y = (1 - 1/t) y_decayed + z / t``), beta_1 playing no part."""
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    w0, grads = _weights_and_grads(rng)
    settings = dict(learning_rate=0.05, warmup_steps=3, weight_decay=0.1)
    ours, theirs = optimizers.ScheduleFreeAdamW(**settings), keras.optimizers.ScheduleFreeAdamW(**settings)
    keras_y = [w0["w"]]

    def check(step, weights, variables):
        for i, k in enumerate(SHAPES):
            np.testing.assert_allclose(ours.slots[k]["momentum"], theirs._momentums[i].numpy(), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(ours.slots[k]["velocity"], theirs._velocities[i].numpy(), rtol=1e-5, atol=1e-7)
            if step == 1:
                np.testing.assert_allclose(weights[k], variables[k].numpy(), rtol=1e-6, atol=1e-7)
        decayed = keras_y[-1] - keras_y[-1] * 0.1 * 0.05
        keras_y.append((1 - 1 / step) * decayed + theirs._momentums[0].numpy() / step)
        np.testing.assert_allclose(variables["w"].numpy(), keras_y[-1], rtol=1e-5, atol=1e-6)
        if step > 1:
            assert not np.allclose(weights["w"], variables["w"].numpy(), rtol=1e-4)
    _run_both(ours, theirs, w0, grads, keras, check)


@pytest.mark.parametrize("optimizer", [
    optimizers.Muon(0.01, exclude_layers=["out"], weight_decay=None, rms_rate=None, ns_steps=4, clipnorm=1.0),
    optimizers.ScheduleFreeAdamW(0.01, warmup_steps=2, weight_decay=0.01, use_ema=True)], ids=lambda o: o.name)
def test_config_round_trips_and_files_resume_bit_for_bit(optimizer, rng, tmp_path):
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    config = json.loads(json.dumps(optimizer.get_config()))
    again = optimizers.from_config(config)
    assert type(again) is type(optimizer) and again.get_config() == config
    assert optimizers.get(optimizer.name).name == optimizer.name
    x, y = rng.standard_normal((24, 3)).astype(np.float32), rng.standard_normal((24, 1)).astype(np.float32)
    model = gn.Sequential([gn.layers.Input((3,)), gn.layers.Dense(5, activation="tanh"),
                           gn.layers.Dense(1, name="out")], seed=0)
    model.compile("mse", optimizer)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert loaded.optimizer.get_config() == config
    assert loaded.optimizer.iterations == model.optimizer.iterations
    more = [m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"] for m in (model, loaded)]
    assert more[0] == more[1]
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_schedule_free_starts_z_at_the_weights_before_their_decay():
    opt, w = optimizers.ScheduleFreeAdamW(0.1, weight_decay=0.5), np.full(3, 2.0)
    opt.apply([("w", w, np.zeros(3))])          # no gradient: z stays the weights as they were
    np.testing.assert_array_equal(opt.slots["w"]["momentum"], np.full(3, 2.0))


@pytest.mark.parametrize("cls, kwargs, words", [
    (optimizers.Muon, {"momentum": 1.0}, "Muon: momentum"),
    (optimizers.Muon, {"ns_steps": 2.5}, "Muon: ns_steps"),
    (optimizers.Muon, {"ns_steps": -1}, "Muon: ns_steps"),
    (optimizers.Muon, {"rms_rate": 0}, "Muon: rms_rate"),
    (optimizers.Muon, {"adam_beta_2": 1.0}, "Muon: adam_beta_2"),
    (optimizers.Muon, {"muon_a": float("nan")}, "Muon: muon_a"),
    (optimizers.Muon, {"exclude_layers": "out"}, "Muon: exclude_layers"),
    (optimizers.Muon, {"exclude_layers": ["(out"]}, "Muon: exclude_layers"),
    (optimizers.Muon, {"nesterov": "yes"}, "Muon: nesterov"),
    (optimizers.Muon, {"exclude_embedding": True}, "unexpected argument 'exclude_embedding'"),
    (optimizers.ScheduleFreeAdamW, {"beta_1": 0.0}, "ScheduleFreeAdamW: beta_1"),
    (optimizers.ScheduleFreeAdamW, {"warmup_steps": -2}, "ScheduleFreeAdamW: warmup_steps"),
    (optimizers.ScheduleFreeAdamW, {"epsilon": -1.0}, "ScheduleFreeAdamW: epsilon")], ids=str)
def test_bad_arguments_are_refused_by_name(cls, kwargs, words):
    with pytest.raises((TypeError, ValueError), match=words):
        cls(**kwargs)


def test_muon_refuses_names_and_shapes_that_do_not_fit():
    with pytest.raises(ValueError, match="Muon: names and shapes must give"):
        optimizers.Muon().apply([("w", np.ones(6), np.ones(6))], names=[["a"]], shapes=[[(2, 2)]])


def test_keras_defaults():
    keras = pytest.importorskip("keras", reason="Keras is the oracle for default values")
    import inspect
    for ours, theirs in ((optimizers.Muon, keras.optimizers.Muon()),
                         (optimizers.ScheduleFreeAdamW, keras.optimizers.ScheduleFreeAdamW())):
        for arg, p in inspect.signature(ours.__init__).parameters.items():
            if arg in ("self", "options"):
                continue
            value = getattr(theirs, arg)
            value = value.numpy() if hasattr(value, "numpy") else value
            mine = getattr(ours(), arg)
            if arg == "exclude_layers":
                assert mine == list(value) == []
            else:
                assert mine == value or mine == pytest.approx(float(value), rel=1e-6), arg


@pytest.mark.parametrize("make", [lambda: optimizers.Muon(0.02, weight_decay=0.1),
                                  lambda: optimizers.ScheduleFreeAdamW(0.05, weight_decay=0.1)], ids=["muon", "sf"])
def test_on_fakecupy_as_on_the_host(make, cupy, rng):
    w0, grads = _weights_and_grads(rng, steps=3)
    host, device = make(), make()
    weights = {k: v.copy() for k, v in w0.items()}
    on_device = {k: cupy.asarray(v) for k, v in w0.items()}
    for g in grads:
        host.apply([(k, weights[k], g[k]) for k in SHAPES])
        device.apply([(k, on_device[k], cupy.asarray(g[k])) for k in SHAPES])
    for k in SHAPES:
        assert isinstance(device.get_state()["slots"][k]["momentum"], cupy.ndarray)
        np.testing.assert_allclose(cupy.asnumpy(on_device[k]), weights[k], rtol=1e-6, atol=1e-7)
