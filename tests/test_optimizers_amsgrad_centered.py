"""Adam's and AdamW's ``amsgrad`` and RMSprop's ``centered`` (Keras 3.15's arguments): step by step
against Keras (float32 and float64), a model trained as Keras trains it, with weight decay,
clipping, EMA and schedules, configs and model files (resumed bit for bit; a default optimizer's
config and state unchanged), the state only while the option is on. torch.optim's amsgrad and
centered are checked in test_optimizers.py's CASES."""
import json
import os
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet import optimizers
from glassnet.errors import ModelFileError

from test_gpu import cupy  # noqa: F401  (the fixture: fakecupy, and CuPy where a GPU is)

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

KERAS_NAMES = {"adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}
OPTION = {"adam": {"amsgrad": True}, "adamw": {"amsgrad": True}, "rmsprop": {"centered": True}}


def _keras():
    return pytest.importorskip("keras", reason="Keras oracle not installed")


def _shrinking_grads(rng, dtype, n=20, shapes=((4, 3), (3,))):
    """Gradients whose scale falls step by step (with a few large ones): Adam's v then falls below
    its maximum, where AMSGrad's step differs from Adam's, and RMSprop's mean gradient is not 0."""
    scales = [2.0 ** (-t / 3) * (8.0 if t % 7 == 3 else 1.0) for t in range(n)]
    return [[(0.3 + s * rng.standard_normal(shape)).astype(dtype) for shape in shapes] for s in scales]


def _keras_steps(keras, name, w0, grads, **settings):
    opt = getattr(keras.optimizers, KERAS_NAMES[name])(**settings)
    variables = [keras.Variable(w, dtype=w.dtype.name) for w in w0]
    values = []
    for step in grads:
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), v) for g, v in zip(step, variables)])
        values.append([np.asarray(v.numpy()) for v in variables])
    return opt, values


def _our_steps(name, w0, grads, **settings):
    opt, weights, values = optimizers.OPTIMIZERS[name](**settings), [w.copy() for w in w0], []
    for step in grads:
        opt.apply([(f"w{i}", w, g) for i, (w, g) in enumerate(zip(weights, step))])
        values.append([w.copy() for w in weights])
    return opt, values


# Keras adds Adam's epsilon before the bias correction and RMSprop's inside the square root; in
# float64 an epsilon of 1e-300 takes the difference out, so the rules must agree to rounding. Keras
# reads its learning rate and betas in float32 even for float64 weights: these are float32 numbers
FLOAT64 = [("adam", dict(learning_rate=0.0625, beta_1=0.75, beta_2=0.9375, epsilon=1e-300, amsgrad=True)),
           ("adamw", dict(learning_rate=0.0625, weight_decay=0.25, beta_1=0.875, beta_2=0.96875, epsilon=1e-300,
                          amsgrad=True)),
           ("rmsprop", dict(learning_rate=0.015625, rho=0.75, epsilon=1e-300, centered=True)),
           ("rmsprop", dict(learning_rate=0.015625, rho=0.875, momentum=0.625, epsilon=1e-300, centered=True))]
# float32 with Keras' default epsilon for Adam (1e-7: where each adds it shows at ~1e-6) and a tiny
# one for RMSprop (Keras' inside the square root weighs as its square root outside: 1e-12 as 1e-6)
FLOAT32 = [("adam", dict(learning_rate=0.01, beta_2=0.9, amsgrad=True)),
           ("adamw", dict(learning_rate=0.01, beta_2=0.95, amsgrad=True)),
           ("rmsprop", dict(learning_rate=0.01, epsilon=1e-30, centered=True)),
           ("rmsprop", dict(learning_rate=0.01, momentum=0.5, epsilon=1e-30, centered=True))]


@pytest.mark.parametrize("dtype, name, settings", [("float64", *c) for c in FLOAT64] +
                         [("float32", *c) for c in FLOAT32], ids=str)
def test_steps_match_keras(dtype, name, settings, rng):
    keras = _keras()
    w0 = [rng.standard_normal(shape).astype(dtype) for shape in ((4, 3), (3,))]
    grads = _shrinking_grads(rng, dtype)
    _, theirs = _keras_steps(keras, name, w0, grads, **settings)
    ours_opt, ours = _our_steps(name, w0, grads, **settings)
    tolerance = dict(rtol=1e-11, atol=1e-13) if dtype == "float64" else dict(rtol=2e-5, atol=2e-6)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        for i, (x, y) in enumerate(zip(a, b)):
            assert x.dtype == np.dtype(dtype)
            np.testing.assert_allclose(x, y, **tolerance, err_msg=f"w{i} after step {step + 1}")
    assert all(a.dtype == np.dtype(dtype) for s in ours_opt.slots.values() for a in s.values())
    # the option changes the run: without it the weights end elsewhere
    option = next(iter(OPTION[name]))
    _, plain = _our_steps(name, w0, grads, **{**settings, option: False})
    assert max(np.abs(a - b).max() for a, b in zip(plain[-1], ours[-1])) > 1e-3


def test_amsgrad_keeps_the_largest_v_so_far_and_divides_by_it(rng):
    """By hand, float64: v_hat = max(v_hat, v) of the raw v; step lr c / (1 - b1^t) m / (sqrt(v_hat) + c eps)."""
    w0, lr, b1, b2, eps = rng.standard_normal(6), 0.1, 0.9, 0.99, 1e-3
    grads = [g[0] for g in _shrinking_grads(rng, "float64", n=8, shapes=((6,),))]
    opt, w = optimizers.Adam(lr, b1, b2, eps, amsgrad=True), w0.copy()
    m = v = v_hat = np.zeros(6)
    expected = w0.copy()
    for t, g in enumerate(grads, start=1):
        opt.apply([("w", w, g)])
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        v_hat = np.maximum(v_hat, v)
        expected = expected - lr / (1 - b1 ** t) * m / (np.sqrt(v_hat / (1 - b2 ** t)) + eps)
        np.testing.assert_allclose(w, expected, rtol=1e-12)
        np.testing.assert_array_equal(opt.slots["w"]["v_hat"], np.maximum(opt.slots["w"]["v_hat"], opt.slots["w"]["v"]))
    assert (v_hat > v).any()


def test_centered_divides_by_the_standard_deviation_by_hand(rng):
    w0, lr, rho, eps, mom = rng.standard_normal(6), 0.05, 0.8, 0.01, 0.5
    grads = [g[0] for g in _shrinking_grads(rng, "float64", n=8, shapes=((6,),))]
    opt, w = optimizers.RMSprop(lr, rho, mom, eps, centered=True), w0.copy()
    v, a, buf, expected = np.zeros(6), np.zeros(6), np.zeros(6), w0.copy()
    for g in grads:
        opt.apply([("w", w, g)])
        v, a = rho * v + (1 - rho) * g * g, rho * a + (1 - rho) * g
        buf = mom * buf + g / (np.sqrt(v - a * a) + eps)
        expected = expected - lr * buf
        np.testing.assert_allclose(w, expected, rtol=1e-12)
    np.testing.assert_allclose(opt.slots["w"]["average_gradient"], a, rtol=1e-12)


def test_centered_takes_a_variance_rounded_below_zero_as_zero():
    """v - a^2 >= 0 in exact arithmetic; a state a little off (rounding's) takes it below 0:
    v = 1 - 2d, a = 1 and g = 1 at rho = 0.5 give v - a^2 = -d, taken as 0 (PyTorch: NaN)."""
    opt, w = optimizers.RMSprop(0.1, rho=0.5, epsilon=0.5, centered=True), np.zeros(2)
    opt.set_state({"iterations": 3, "slots": {"w": {"v": np.full(2, 1 - 2e-4), "average_gradient": np.ones(2)}}})
    opt.apply([("w", w, np.ones(2))])
    np.testing.assert_allclose(opt.slots["w"]["v"] - opt.slots["w"]["average_gradient"] ** 2, -1e-4, rtol=1e-9)
    np.testing.assert_allclose(w, -0.1 / (0 + 0.5), rtol=1e-15)


def _models(keras, optimizer, keras_optimizer):
    ours = gn.Sequential([gn.layers.Input((3,)), gn.layers.Dense(6, activation="tanh", name="hidden"),
                          gn.layers.Dense(1, name="out")], seed=0)
    ours.compile("mse", optimizer)
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(6, activation="tanh", name="hidden"),
                               keras.layers.Dense(1, name="out")])
    theirs.set_weights(ours.get_weights())
    theirs.compile(loss="mse", optimizer=keras_optimizer)
    return ours, theirs


# small epsilons: a weight of small gradients at the first steps (a bias) shows where Keras adds
# Adam's 1e-7 (before the bias correction: ~1e-3 apart) and RMSprop's (inside the square root)
@pytest.mark.parametrize("name, settings", [
    ("adam", dict(learning_rate=0.02, epsilon=1e-12, amsgrad=True)),
    ("adamw", dict(learning_rate=0.02, epsilon=1e-12, weight_decay=0.1, amsgrad=True, clipnorm=0.5)),
    ("rmsprop", dict(learning_rate=0.01, momentum=0.5, epsilon=1e-30, centered=True, global_clipnorm=1.0))], ids=str)
def test_a_model_trains_as_keras(name, settings, rng):
    keras = _keras()
    x = rng.standard_normal((32, 3)).astype(np.float32)
    y = (np.sin(x @ np.array([[1.0], [-2.0], [0.5]])) + 0.1 * rng.standard_normal((32, 1))).astype(np.float32)
    ours, theirs = _models(keras, optimizers.OPTIMIZERS[name](**settings),
                           getattr(keras.optimizers, KERAS_NAMES[name])(**settings))
    mine = ours.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0).history["loss"]
    their = theirs.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-6)


# everything every optimizer takes besides: decay, clipping, EMA (overwriting the weights), a schedule
WITH_ALL = dict(weight_decay=0.2, use_ema=True, ema_momentum=0.8, ema_overwrite_frequency=4)


# no momentum for RMSprop: under a schedule its buffer differs from Keras' by design (its docstring;
# torch.optim's with the rate changed between steps is in test_optimizers.py)
@pytest.mark.parametrize("name, clipping, settings", [
    ("adam", {"clipnorm": 0.5}, dict(beta_2=0.9, epsilon=1e-12, amsgrad=True)),
    ("adamw", {"clipvalue": 0.3}, dict(amsgrad=True)),
    ("rmsprop", {"global_clipnorm": 0.7}, dict(epsilon=1e-30, centered=True))], ids=str)
def test_with_decay_clipping_ema_and_a_schedule_as_keras(name, clipping, settings, rng):
    keras = _keras()
    w0 = [rng.standard_normal(shape).astype(np.float32) for shape in ((4, 3), (3,))]
    grads = _shrinking_grads(rng, np.float32)
    ours_opt, ours = _our_steps(name, w0, grads, **settings, **clipping, **WITH_ALL,
                                learning_rate=optimizers.schedules.ExponentialDecay(0.05, 3, 0.7))
    theirs_opt, theirs = _keras_steps(keras, name, w0, grads, **settings, **clipping, **WITH_ALL,
                                      learning_rate=keras.optimizers.schedules.ExponentialDecay(0.05, 3, 0.7))
    for a, b in zip(ours, theirs):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=2e-5, atol=2e-6)
    for i in range(2):
        np.testing.assert_allclose(ours_opt.slots[f"w{i}"]["average"],
                                   theirs_opt._model_variables_moving_average[i].numpy(), rtol=2e-5, atol=2e-6)


def test_config_keeps_the_option_only_when_on_and_round_trips_through_json():
    for name, option in OPTION.items():
        default = optimizers.OPTIMIZERS[name]()
        assert not set(option) & set(default.get_config())        # the config of a glassnet before them
        opt = optimizers.OPTIMIZERS[name](**option, weight_decay=0.1, clipnorm=1.0, use_ema=True,
                                          learning_rate=optimizers.schedules.CosineDecay(0.01, 100))
        config = json.loads(json.dumps(opt.get_config()))
        assert {k: config[k] for k in option} == option
        again = optimizers.from_config(config)
        assert again.get_config() == config and getattr(again, next(iter(option))) is True
    # positions as in Keras: Adam(lr, beta_1, beta_2, epsilon, amsgrad), AdamW(lr, weight_decay, ...,
    # epsilon, amsgrad), RMSprop(lr, rho, momentum, epsilon, centered)
    assert optimizers.Adam(0.1, 0.9, 0.99, 1e-7, True).amsgrad
    assert optimizers.AdamW(0.1, 0.01, 0.9, 0.99, 1e-7, True).amsgrad
    assert optimizers.RMSprop(0.1, 0.9, 0.0, 1e-7, True).centered


@pytest.mark.parametrize("name", sorted(OPTION))
def test_the_option_has_keras_default_and_is_a_flag(name):
    keras = _keras()
    option = next(iter(OPTION[name]))
    assert getattr(getattr(keras.optimizers, KERAS_NAMES[name])(), option) is False
    assert getattr(optimizers.OPTIMIZERS[name](), option) is False
    with pytest.raises(TypeError, match=rf"^{KERAS_NAMES[name]}: {option}: expected True or False, got 'yes'"):
        optimizers.OPTIMIZERS[name](**{option: "yes"})
    opt = optimizers.OPTIMIZERS[name]()
    with pytest.raises(TypeError, match=rf"{option}: expected True or False, got 1.5"):
        setattr(opt, option, 1.5)


def test_keras_optimizers_without_the_options_refuse_them():
    # Keras 3.15 has amsgrad on Adam and AdamW alone, centered on RMSprop alone: so has glassnet
    for cls in (optimizers.Adamax, optimizers.Nadam, optimizers.Lamb, optimizers.SGD, optimizers.Muon):
        with pytest.raises(TypeError, match="unexpected argument 'amsgrad'"):
            cls(amsgrad=True)
    for cls in (optimizers.Adagrad, optimizers.Adadelta, optimizers.Adam):
        with pytest.raises(TypeError, match="unexpected argument 'centered'"):
            cls(centered=True)


def test_state_holds_the_new_slot_only_while_the_option_is_on(rng):
    for name, slot in (("adam", "v_hat"), ("rmsprop", "average_gradient")):
        option = next(iter(OPTION[name]))
        opt, w = optimizers.OPTIMIZERS[name](0.01), rng.standard_normal(4)
        opt.apply([("w", w, rng.standard_normal(4))])
        assert slot not in opt.get_state()["slots"]["w"] and slot not in opt.slot_names
        setattr(opt, option, True)                  # turned on during training: v_hat starts at v, a at 0
        opt.apply([("w", w, rng.standard_normal(4))])
        state = opt.get_state()["slots"]["w"]
        assert slot in state and slot in opt.slot_names and slot in opt.always_slots
        if slot == "v_hat":
            np.testing.assert_array_equal(state["v_hat"], state["v"])
        setattr(opt, option, False)                 # turned off: no longer state, in files neither
        assert slot not in opt.get_state()["slots"]["w"]
        opt.apply([("w", w, rng.standard_normal(4))])
        assert slot not in opt.slots["w"]


def _model():
    return gn.Sequential([gn.layers.Input((3,)), gn.layers.Dense(5, activation="tanh"),
                          gn.layers.Dense(1, name="out")], seed=0)


@pytest.mark.parametrize("make", [
    lambda: optimizers.Adam(0.02, amsgrad=True, weight_decay=0.05, clipnorm=1.0, use_ema=True),
    lambda: optimizers.AdamW(optimizers.schedules.ExponentialDecay(0.05, 4, 0.8), amsgrad=True, global_clipnorm=1.0),
    lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True, clipvalue=0.5, use_ema=True,
                               ema_overwrite_frequency=3),
    lambda: optimizers.RMSprop(optimizers.schedules.CosineDecay(0.02, 30), centered=True, weight_decay=0.1)],
    ids=["adam", "adamw", "rmsprop-momentum", "rmsprop-schedule"])
def test_model_files_resume_bit_for_bit(make, rng, tmp_path):
    x, y = rng.standard_normal((24, 3)).astype(np.float32), rng.standard_normal((24, 1)).astype(np.float32)
    model = _model()
    model.compile("mse", make())
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations
    slots, saved = loaded.optimizer.get_state()["slots"]["params"], model.optimizer.get_state()["slots"]["params"]
    assert set(slots) == set(saved) and {"v_hat", "average_gradient"} & set(slots)
    for slot, a in saved.items():
        np.testing.assert_array_equal(slots[slot], a)
    more = [m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"] for m in (model, loaded)]
    assert more[0] == more[1]
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(OPTION))
def test_a_file_missing_the_new_state_or_holding_it_without_the_option_is_refused(name, rng, tmp_path,
                                                                                  edit_model_file):
    """A file saved with the option, its config edited to drop the option: its state holds a slot
    the optimizer would never update; saved without it and edited to add it: the slot is missing."""
    option = next(iter(OPTION[name]))
    slot = "v_hat" if option == "amsgrad" else "average_gradient"
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    for on in (True, False):
        model = _model()
        model.compile("mse", optimizers.OPTIMIZERS[name](**{option: on}))
        model.train_on_batch(x, y)
        model.save(tmp_path / "m.npz")
        assert getattr(gn.load_model(tmp_path / "m.npz").optimizer, option) is on

        def flip(config):
            optimizer = config["model"]["compile"]["optimizer"]
            if on:
                optimizer.pop(option)
            else:
                optimizer[option] = True
        edit_model_file(tmp_path / "m.npz", flip, tmp_path / "edited.npz")
        with pytest.raises(ModelFileError, match=r"the file has .*for 'params'") as info:
            gn.load_model(tmp_path / "edited.npz")
        assert slot in str(info.value)


def test_on_fakecupy_as_on_the_host(cupy, rng):
    """The CuPy path: state on the device; Adam's fused kernel (a GPU's) takes v_hat too."""
    w0 = [rng.standard_normal(s).astype(np.float32) for s in ((4, 3), (3,))]
    grads = _shrinking_grads(rng, np.float32, n=6)
    for name, option in OPTION.items():
        host, device = optimizers.OPTIMIZERS[name](0.05, **option), optimizers.OPTIMIZERS[name](0.05, **option)
        weights, on_device = [w.copy() for w in w0], [cupy.asarray(w) for w in w0]
        for step in grads:
            host.apply([(f"w{i}", w, g) for i, (w, g) in enumerate(zip(weights, step))])
            device.apply([(f"w{i}", w, cupy.asarray(g)) for i, (w, g) in enumerate(zip(on_device, step))])
        slot = "v_hat" if "amsgrad" in option else "average_gradient"
        assert isinstance(device.get_state()["slots"]["w0"][slot], cupy.ndarray)
        for a, b in zip(on_device, weights):
            if cupy.exact:
                np.testing.assert_array_equal(cupy.asnumpy(a), b)
            else:
                np.testing.assert_allclose(cupy.asnumpy(a), b, rtol=1e-5, atol=1e-6)


class _KernelOnTheHost:
    """A stand-in for ``cupy.ElementwiseKernel`` (which fakecupy lacks) that runs the kernel's C
    body statement by statement with NumPy on the host: Adam's fused kernels are then checked for
    their formula (not for compiling with CUDA, which needs a GPU)."""

    def __init__(self, in_params, out_params, body, name):
        self.ins = [p.split()[-1] for p in in_params.split(",")]
        self.outs = [p.split()[-1] for p in out_params.split(",")]
        self.body, self.name = body, name

    def __call__(self, *args):
        fake = sys.modules["cupy"]          # the fixture's fakecupy
        assert len(args) == len(self.ins) + len(self.outs), self.name
        names = dict(zip(self.ins + self.outs, (fake.asnumpy(a) if isinstance(a, fake.ndarray) else a
                                                for a in args)))
        for statement in filter(None, (s.strip() for s in self.body.split(";"))):
            exec(statement, {"max": np.maximum, "sqrt": np.sqrt}, names)
        for name, out in zip(self.outs, args[len(self.ins):]):
            out[...] = fake.asarray(names[name])


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_s_fused_kernel_is_the_passes_step(amsgrad, cupy, rng, monkeypatch):
    """On a GPU Adam's step is one kernel: with amsgrad, its own (v_hat in, max, sqrt of v_hat).
    On fakecupy the kernel's body runs on the host, bit for bit the passes' arithmetic."""
    from glassnet.optimizers import rules
    if cupy.exact:
        monkeypatch.setattr(cupy, "ElementwiseKernel", _KernelOnTheHost, raising=False)
    monkeypatch.setattr(rules, "_ADAM_KERNELS", {})
    w0 = rng.standard_normal(50).astype(np.float32)
    grads = [g[0] for g in _shrinking_grads(rng, np.float32, n=8, shapes=((50,),))]
    host, device = optimizers.Adam(0.05, beta_2=0.9, amsgrad=amsgrad), optimizers.Adam(0.05, beta_2=0.9, amsgrad=amsgrad)
    w, on_device = w0.copy(), cupy.asarray(w0)
    for g in grads:
        host.apply([("w", w, g)])
        device.apply([("w", on_device, cupy.asarray(g))])
    assert list(rules._ADAM_KERNELS.values())[0].name == ("glassnet_amsgrad" if amsgrad else "glassnet_adam")
    check = np.testing.assert_array_equal if cupy.exact else (
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6))
    check(cupy.asnumpy(on_device), w)
    for slot, a in host.get_state()["slots"]["w"].items():
        check(cupy.asnumpy(device.get_state()["slots"]["w"][slot]), a)
    assert ("v_hat" in device.slots["w"]) is amsgrad
