"""Optimizers: five steps against torch.optim (also with the rate changed between steps), one step
by hand, in-place updates, state."""
import inspect
import json
import re

import numpy as np
import pytest

import glassnet as gn
from glassnet import optimizers

from test_gpu import cupy  # noqa: F401  (the fixture: fakecupy, and CuPy where a GPU is)

CASES = [
    ("sgd", dict(learning_rate=0.1), "SGD", dict(lr=0.1)),
    ("sgd", dict(learning_rate=0.1, momentum=0.9), "SGD", dict(lr=0.1, momentum=0.9)),
    ("sgd", dict(learning_rate=0.1, momentum=0.9, nesterov=True), "SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("adam", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-7), "Adam",
     dict(lr=0.01, betas=(0.8, 0.99), eps=1e-7)),
    ("adamw", dict(learning_rate=0.01, weight_decay=0.1, epsilon=1e-8), "AdamW",
     dict(lr=0.01, weight_decay=0.1, eps=1e-8)),
    ("adam", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-7, amsgrad=True), "Adam",
     dict(lr=0.01, betas=(0.8, 0.99), eps=1e-7, amsgrad=True)),
    ("adamw", dict(learning_rate=0.01, weight_decay=0.1, epsilon=1e-8, amsgrad=True), "AdamW",
     dict(lr=0.01, weight_decay=0.1, eps=1e-8, amsgrad=True)),
    ("rmsprop", dict(learning_rate=0.01, rho=0.9, epsilon=1e-7), "RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-7)),
    ("rmsprop", dict(learning_rate=0.01, rho=0.8, epsilon=1e-7, centered=True), "RMSprop",
     dict(lr=0.01, alpha=0.8, eps=1e-7, centered=True)),
    ("rmsprop", dict(learning_rate=0.01, rho=0.9, momentum=0.5, epsilon=0.1, centered=True), "RMSprop",
     dict(lr=0.01, alpha=0.9, momentum=0.5, eps=0.1, centered=True)),      # eps where PyTorch puts it
    ("rmsprop", dict(learning_rate=0.01, rho=0.9, momentum=0.5, epsilon=1e-7), "RMSprop",
     dict(lr=0.01, alpha=0.9, momentum=0.5, eps=1e-7)),
    ("adagrad", dict(learning_rate=0.1, initial_accumulator_value=0.1, epsilon=1e-7), "Adagrad",
     dict(lr=0.1, initial_accumulator_value=0.1, eps=1e-7)),
    ("adadelta", dict(learning_rate=1.0, rho=0.9, epsilon=1e-6), "Adadelta", dict(lr=1.0, rho=0.9, eps=1e-6)),
    ("adamax", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-7), "Adamax",
     dict(lr=0.01, betas=(0.8, 0.99), eps=1e-7)),
    ("adamax", dict(learning_rate=0.01, epsilon=0.5), "Adamax", dict(lr=0.01, eps=0.5)),   # eps where PyTorch puts it
    ("nadam", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-7), "NAdam",
     dict(lr=0.01, betas=(0.8, 0.99), eps=1e-7)),
    ("nadam", dict(learning_rate=0.01, epsilon=0.5), "NAdam", dict(lr=0.01, eps=0.5)),
    ("nadam", dict(learning_rate=0.01, momentum_decay=0.5, epsilon=1e-8), "NAdam",
     dict(lr=0.01, momentum_decay=0.5, eps=1e-8)),
]

# Lion is Keras' (torch.optim has none): checked against Keras and by hand below
ALL_CASES = [(c[0], c[1]) for c in CASES] + [("lion", dict(learning_rate=0.01, beta_1=0.8, weight_decay=0.1))]


@pytest.mark.parametrize("name,kwargs,torch_name,torch_kwargs", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_five_steps_match_torch(name, kwargs, torch_name, torch_kwargs, rng, torch):
    w0, b0 = rng.standard_normal((4, 3)), rng.standard_normal(3)
    grads = [(rng.standard_normal((4, 3)), rng.standard_normal(3)) for _ in range(5)]
    opt = optimizers.OPTIMIZERS[name](**kwargs)
    w, b = w0.copy(), b0.copy()
    tw, tb = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    topt = getattr(torch.optim, torch_name)([tw, tb], **torch_kwargs)
    for gw, gb in grads:
        opt.apply([("w", w, gw), ("b", b, gb)])
        tw.grad, tb.grad = torch.tensor(gw), torch.tensor(gb)
        topt.step()
        np.testing.assert_allclose(w, tw.detach().numpy(), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(b, tb.detach().numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name,kwargs,torch_name,torch_kwargs", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_learning_rate_changed_between_steps_matches_torch(name, kwargs, torch_name, torch_kwargs, rng,
                                                           torch):
    # what LearningRateScheduler and ReduceLROnPlateau do: set learning_rate between steps
    w0 = rng.standard_normal(6)
    opt = optimizers.OPTIMIZERS[name](**kwargs)
    w, tw = w0.copy(), torch.tensor(w0, requires_grad=True)
    topt = getattr(torch.optim, torch_name)([tw], **torch_kwargs)
    for factor in (1.0, 0.5, 0.1, 3.0):
        rate = kwargs["learning_rate"] * factor
        opt.learning_rate = topt.param_groups[0]["lr"] = rate
        g = rng.standard_normal(6)
        opt.apply([("w", w, g)])
        tw.grad = torch.tensor(g)
        topt.step()
        np.testing.assert_allclose(w, tw.detach().numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", sorted(optimizers.OPTIMIZERS))
def test_learning_rate_changed_between_steps_acts_like_a_fresh_optimizer(name, rng):
    # no rate may hide in a cache: after the change, the steps are those of an optimizer built with
    # the new rate and given the same state
    grads = [rng.standard_normal(5) for _ in range(3)]
    changed, w = optimizers.get(name), np.ones(5)
    changed.apply([("w", w, grads[0])])
    fresh = optimizers.from_config({**changed.get_config(), "learning_rate": 0.37})
    fresh.set_state(changed.get_state())
    fresh_w = w.copy()
    changed.learning_rate = 0.37
    for g in grads[1:]:
        changed.apply([("w", w, g)])
        fresh.apply([("w", fresh_w, g)])
    np.testing.assert_array_equal(w, fresh_w)


def test_sgd_step_by_hand():
    w, g = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    optimizers.SGD(0.1).apply([("w", w, g)])
    np.testing.assert_allclose(w, [0.95, 2.1])


def test_adam_first_step_by_hand():
    # after one step m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps) ~ lr * sign(g);
    # epsilon must be > 0 (with 0, a zero gradient gives 0 / 0), and 1e-300 is as good as 0 here
    w, g = np.array([0.0, 0.0]), np.array([0.3, -2.0])
    optimizers.Adam(0.01, epsilon=1e-300).apply([("w", w, g)])
    np.testing.assert_allclose(w, [-0.01, 0.01], rtol=1e-12)


@pytest.mark.parametrize("name", sorted(optimizers.OPTIMIZERS))
def test_updates_in_place_and_keep_float32(name, rng):
    w = rng.standard_normal((3, 2)).astype(np.float32)
    ref = w
    g = rng.standard_normal((3, 2)).astype(np.float32)
    opt = optimizers.get(name)
    for _ in range(3):
        opt.apply([("w", w, g)])
    assert w is ref and w.dtype == np.float32
    assert all(a.dtype == np.float32 for a in opt.get_state()["slots"]["w"].values())


@pytest.mark.parametrize("name", sorted(optimizers.OPTIMIZERS))
def test_state_round_trip_continues_identically(name, rng):
    g = [rng.standard_normal(4) for _ in range(4)]
    a, b = np.ones(4), np.ones(4)
    opt_a = optimizers.get(name)
    for step in g[:2]:
        opt_a.apply([("w", a, step)])
    b[...] = a
    opt_b = optimizers.from_config(opt_a.get_config())
    opt_b.set_state(opt_a.get_state())
    for step in g[2:]:
        opt_a.apply([("w", a, step)])
        opt_b.apply([("w", b, step)])
    np.testing.assert_array_equal(a, b)


def test_bad_arguments():
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.SGD(learning_rate=-1)
    with pytest.raises(ValueError, match="momentum"):
        optimizers.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="nesterov"):
        optimizers.SGD(nesterov=True)
    with pytest.raises(ValueError, match="beta_1"):
        optimizers.Adam(beta_1=1.0)
    with pytest.raises(ValueError, match="adadelta") as info:
        optimizers.get("adam_w")
    assert "'adam_w'" in str(info.value)


# (class, keyword arguments, the argument the error must name): out of range, NaN/inf, wrong type
BAD_HYPERPARAMETERS = [
    ("SGD", dict(learning_rate=float("inf")), "learning_rate"),
    ("SGD", dict(learning_rate=float("nan")), "learning_rate"),
    ("SGD", dict(learning_rate=True), "learning_rate"),
    ("SGD", dict(momentum="0.9"), "momentum"),
    ("Adam", dict(beta_1=None), "beta_1"),
    ("Adam", dict(beta_2=1.5), "beta_2"),
    ("Adam", dict(epsilon=-1), "epsilon"),
    ("Adam", dict(epsilon=0.0), "epsilon"),
    ("AdamW", dict(weight_decay=-1), "weight_decay"),
    ("AdamW", dict(weight_decay="0.01"), "weight_decay"),
    ("AdamW", dict(epsilon=-1), "epsilon"),
    ("RMSprop", dict(rho=2.0), "rho"),
    ("RMSprop", dict(momentum=-1), "momentum"),
    ("RMSprop", dict(epsilon=float("nan")), "epsilon"),
    ("Adamax", dict(beta_2=1.0), "beta_2"),
    ("Adamax", dict(epsilon=0.0), "epsilon"),
    ("Nadam", dict(momentum_decay=-0.004), "momentum_decay"),
    ("Nadam", dict(momentum_decay=float("inf")), "momentum_decay"),
    ("Nadam", dict(beta_1=1.0), "beta_1"),
    ("Adagrad", dict(initial_accumulator_value=-1), "initial_accumulator_value"),
    ("Adagrad", dict(epsilon=-1e-7), "epsilon"),
    ("Adadelta", dict(rho=1.5), "rho"),
    ("Adadelta", dict(epsilon=None), "epsilon"),
]


@pytest.mark.parametrize("cls,kwargs,arg", BAD_HYPERPARAMETERS,
                         ids=[f"{c}-{arg}={k[arg]!r}" for c, k, arg in BAD_HYPERPARAMETERS])
def test_bad_hyperparameters_are_refused_naming_the_argument(cls, kwargs, arg):
    with pytest.raises(ValueError, match=rf"^{cls}: {arg} must be .*, got {re.escape(repr(kwargs[arg]))}$"):
        getattr(optimizers, cls)(**kwargs)


def test_an_int_beyond_floats_range_is_refused_not_an_overflow_error():
    with pytest.raises(ValueError, match=r"^SGD: learning_rate must be a finite number >= 0, got 1000000000"):
        optimizers.SGD(10 ** 400)


def test_sgd_takes_nesterov_as_a_flag_only():
    # bool("no") is True: a string would quietly turn Nesterov momentum on
    with pytest.raises(TypeError, match="SGD: nesterov: expected True or False, got 'no'"):
        optimizers.SGD(momentum=0.9, nesterov="no")
    assert optimizers.SGD(momentum=0.9, nesterov=np.bool_(True)).nesterov is True


@pytest.mark.parametrize("value", [np.int64(1), np.int32(2), np.float32(0.5), np.float64(0.1), 1, 0.01])
def test_numpy_and_python_numbers_are_accepted(value):
    assert optimizers.SGD(value).learning_rate == float(value)
    assert optimizers.Adam(learning_rate=value, beta_1=np.float32(0.5)).beta_1 == 0.5


@pytest.mark.parametrize("name", sorted(optimizers.OPTIMIZERS))
def test_config_round_trips_through_json(name):
    """What a model file stores: the config as JSON numbers, which the constructor takes back."""
    config = json.loads(json.dumps(optimizers.OPTIMIZERS[name](learning_rate=np.float64(0.5)).get_config()))
    # numbers as floats; but counts (Muon's ns_steps, ScheduleFreeAdamW's warmup_steps) as ints and
    # Muon's exclude_layers as a list of patterns
    kinds = {"ns_steps": int, "warmup_steps": int, "exclude_layers": list}
    assert all(type(v) in ((kinds[k],) if k in kinds else (str, float, bool)) for k, v in config.items()), config
    assert optimizers.from_config(config).get_config() == config


def _defaults(cls):
    return {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()
            if k != "self" and p.kind != p.VAR_KEYWORD}


def test_adamw_default_weight_decay_is_keras():
    assert _defaults(optimizers.AdamW)["weight_decay"] == 0.004      # PyTorch's is 0.01


KERAS_NAMES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop",
               "adagrad": "Adagrad", "adamax": "Adamax", "nadam": "Nadam", "lion": "Lion", "ftrl": "Ftrl",
               "lamb": "Lamb", "adafactor": "Adafactor"}     # Adadelta keeps PyTorch's defaults on purpose (its docstring)


@pytest.mark.parametrize("name", sorted(KERAS_NAMES))
def test_defaults_are_keras_defaults(name):
    keras = pytest.importorskip("keras", reason="Keras is the oracle for default values")
    theirs = getattr(keras.optimizers, KERAS_NAMES[name])()
    for arg, ours in _defaults(optimizers.OPTIMIZERS[name]).items():
        if (name, arg) == ("nadam", "momentum_decay"):     # PyTorch's argument; Keras 3 has none
            # None: the rule's, PyTorch's 0.004 by default (test_optimizer_rule.py)
            assert not hasattr(theirs, arg) and ours is None and optimizers.Nadam().momentum_decay == 0.004
            continue
        if arg == "rule":                                  # glassnet's own argument
            assert not hasattr(theirs, arg) and ours == "pytorch"
            continue
        if (name, arg) == ("lion", "weight_decay"):        # Keras' None: no decay
            assert theirs.weight_decay is None and ours == 0.0
            continue
        value = getattr(theirs, arg)
        value = value.numpy() if hasattr(value, "numpy") else value
        assert ours == pytest.approx(float(value), rel=1e-6), arg


@pytest.mark.parametrize("name,kwargs", ALL_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(ALL_CASES)])
def test_pieces_change_nothing(name, kwargs, rng, monkeypatch):
    """A flat buffer longer than PIECE is updated piece by piece (cache-sized runs): bit for bit
    what one pass over the whole buffer gives, the state included."""
    n = 2 * optimizers.PIECE + 1234                      # two whole pieces and a short one
    p0 = rng.standard_normal(n).astype(np.float32)
    grads = [rng.standard_normal(n).astype(np.float32) for _ in range(4)]

    def train(piece):
        monkeypatch.setattr(optimizers.base, "PIECE", piece)
        opt, p = optimizers.OPTIMIZERS[name](**kwargs), p0.copy()
        for g in grads:
            opt.apply([("params", p, g)])
        return p, opt.get_state()["slots"]["params"]

    p_pieces, state_pieces = train(optimizers.PIECE)
    p_whole, state_whole = train(10 * n)
    assert len(optimizers.pieces(p0, p0)) == 1              # the whole run really was one pass
    monkeypatch.undo()
    assert len(optimizers.pieces(p0, p0)) == 3
    np.testing.assert_array_equal(p_pieces, p_whole)
    assert not np.array_equal(p_pieces, p0)
    assert state_pieces.keys() == state_whole.keys()
    for slot in state_whole:
        np.testing.assert_array_equal(state_pieces[slot], state_whole[slot])


STATEFUL = [(i, c) for i, c in enumerate(CASES) if c[0] != "sgd" or c[1].get("momentum")]


@pytest.mark.parametrize("name,kwargs", [(c[0], c[1]) for _, c in STATEFUL],
                         ids=[f"{c[0]}-{i}" for i, c in STATEFUL])
def test_state_loses_its_subnormal_numbers_and_nothing_else(name, kwargs, rng, monkeypatch):
    """Half the parameters stop getting gradients (dead units): their moments decay through the
    subnormal numbers, slow on x86. Every FLUSH_EVERY steps those become 0; the weights end bit
    for bit where they end without the flush."""
    tiny = np.finfo(np.float32).tiny
    p0 = rng.standard_normal(1000).astype(np.float32)
    grads = [rng.standard_normal(1000).astype(np.float32) for _ in range(3)]
    for _ in range(1200):                                   # m decays by 0.9 a step: ~1e-55 by then
        g = np.zeros(1000, np.float32)
        g[500:] = grads[0][500:] * 1e-3
        grads.append(g)

    def train(flush_every):
        monkeypatch.setattr(optimizers.base, "FLUSH_EVERY", flush_every)
        opt, p = optimizers.OPTIMIZERS[name](**kwargs), p0.copy()
        subnormal_seen = False
        for g in grads:
            opt.apply([("params", p, g)])
            state = opt.get_state()["slots"]["params"]
            subnormal_seen |= any(((s != 0) & (np.abs(s) < tiny)).any() for s in state.values())
        return p, subnormal_seen, state

    p_flushed, _, state = train(optimizers.FLUSH_EVERY)
    p_plain, plain_saw_subnormals, _ = train(10 ** 9)
    np.testing.assert_array_equal(p_flushed, p_plain)
    for s in state.values():
        assert not ((s != 0) & (np.abs(s) < tiny)).any()
    if name != "adagrad":                     # Adagrad's sum only grows: nothing to flush
        assert plain_saw_subnormals


# -- hyper-parameters set after construction ------------------------------------------------------
def test_hyperparameters_set_by_hand_are_checked_and_stored_as_floats():
    opt = optimizers.Adam(0.01)
    opt.learning_rate = np.float32(1e-3)            # a NumPy number: JSON needs a float
    assert type(opt.learning_rate) is float and json.dumps(opt.get_config())
    for name, value in [("learning_rate", -0.01), ("learning_rate", float("nan")), ("beta_1", 1.0)]:
        with pytest.raises(ValueError, match=rf"^Adam: {name} must be"):
            setattr(opt, name, value)
    with pytest.raises(TypeError, match="SGD: nesterov: expected True or False"):
        optimizers.SGD(momentum=0.9).nesterov = "yes"
    # Keras 2's name would be an attribute that changes nothing
    with pytest.raises(AttributeError, match="the learning rate is learning_rate, not lr"):
        opt.lr = 1e-5
    opt.note = "tuned by hand"                      # any other attribute: not part of the config
    assert optimizers.from_config(opt.get_config()).get_config() == opt.get_config()
    assert set(opt.get_config()) == {"name", "learning_rate", "beta_1", "beta_2", "epsilon"}
    opt.clipnorm = 1.0                              # clipping, when set, is part of the config
    assert set(opt.get_config()) == {"name", "learning_rate", "beta_1", "beta_2", "epsilon", "clipnorm"}


@pytest.mark.parametrize("cls", [optimizers.SGD, optimizers.RMSprop])
def test_momentum_raised_from_zero_during_training_starts_its_buffer(cls):
    # a momentum schedule: the optimizer was built without one, so it kept no buffer until now
    param, grad = np.ones(3), np.array([0.5, -1.0, 2.0])
    opt = cls(learning_rate=0.1)
    for _ in range(3):
        opt.apply([("w", param, grad)])
    opt.momentum = 0.9
    before = param.copy()
    opt.apply([("w", param, grad)])
    assert np.isfinite(param).all()
    # the first momentum step of each rule: SGD's buffer starts as the gradient (buf = g), RMSprop's
    # at 0 (buf = g / (sqrt(v) + eps)); v carries on from the steps before
    if cls is optimizers.SGD:
        np.testing.assert_allclose(before - param, 0.1 * grad, rtol=1e-15)
    else:
        v = opt.slots["w"]["v"]
        np.testing.assert_allclose(before - param, 0.1 * grad / (np.sqrt(v) + 1e-7), rtol=1e-15)
        np.testing.assert_array_equal(opt.slots["w"]["momentum"], grad / (np.sqrt(v) + 1e-7))
    assert sorted(opt.slots["w"]) == (["momentum", "v"] if cls is optimizers.RMSprop else ["momentum"])


@pytest.mark.parametrize("name,kwargs", ALL_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(ALL_CASES)])
def test_declared_slot_names_are_those_the_updates_keep(name, kwargs, rng):
    # load_model checks a file's optimizer state against these declarations
    opt = optimizers.OPTIMIZERS[name](**kwargs)
    w = rng.standard_normal(5)
    for _ in range(2):
        opt.apply([("w", w, rng.standard_normal(5))])
    kept = set(opt.get_state()["slots"].get("w", {}))
    assert set(opt.always_slots) <= kept <= set(opt.slot_names)
    assert set(opt.non_negative_slots) <= set(opt.slot_names)


# -- Adamax, Nadam and Lion against Keras (float32), and Nadam's momentum product -----------------
@pytest.mark.parametrize("name, settings, keras_settings", [
    ("adamax", {}, {}),
    # Keras 3's Nadam warms its momentum with 0.96^t, PyTorch's (glassnet's default) with 0.96^(0.004 t)
    ("nadam", {"momentum_decay": 1.0}, {}),
    ("lion", {}, {}),
    # Keras decays by w - w wd lr, glassnet by w (1 - wd lr): float32 rounding apart
    ("lion", {"weight_decay": 0.05}, {"weight_decay": 0.05})], ids=str)
def test_adamax_nadam_and_lion_match_keras(name, settings, keras_settings, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    w0 = rng.standard_normal((4, 3)).astype(np.float32)
    grads = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(20)]
    ours, w = optimizers.OPTIMIZERS[name](learning_rate=0.01, beta_1=0.8, **settings), w0.copy()
    theirs = getattr(keras.optimizers, KERAS_NAMES[name])(learning_rate=0.01, beta_1=0.8, **keras_settings)
    variable = keras.Variable(w0)
    for g in grads:
        ours.apply([("w", w, g)])
        theirs.apply_gradients([(keras.ops.convert_to_tensor(g), variable)])
    # Adamax: Keras adds epsilon (1e-7) after the maximum, PyTorch inside: a ~1e-7 relative difference
    np.testing.assert_allclose(w, np.asarray(variable.numpy()), rtol=2e-6, atol=2e-7)


def test_nadam_momentum_product_is_kept_running_and_recomputed_alike():
    opt = optimizers.Nadam(beta_1=0.9)
    expected = 1.0
    for t in range(1, 30):
        expected *= 0.9 * (1 - 0.5 * 0.96 ** (t * 0.004))
        assert opt._momentum_product(t) == expected          # one factor more per step
    fresh = optimizers.Nadam(beta_1=0.9)
    assert fresh._momentum_product(29) == pytest.approx(expected, rel=1e-14)   # from the start: closed form
    assert fresh._momentum_product(5) == opt._momentum_product(5) != expected    # a count set back
    # beta_1^t underflows: the product is 0
    assert fresh._momentum_product(10 ** 9) == 0.0


@pytest.mark.parametrize("beta_1", [0.5, 0.9, 0.999, 1 - 1e-9])
@pytest.mark.parametrize("momentum_decay", [0.0, 1e-6, 0.004, 1.0, 1000.0])
def test_nadam_momentum_product_from_the_start_is_the_running_product(beta_1, momentum_decay):
    """The closed form a state without the product (or a count moved) recomputes it with gives the
    product of the step's momenta, mu_1 ... mu_t, step by step to ~1e-14, for 300 steps."""
    opt = optimizers.Nadam(beta_1=beta_1, momentum_decay=momentum_decay)
    product = 1.0
    for t in range(1, 301):
        product *= opt._momentum(t)
        assert opt._momentum_product_from_start(t) == pytest.approx(product, rel=1e-13, abs=2.0 ** -60)


def test_nadam_recomputes_its_momentum_product_without_a_loop_over_the_steps(monkeypatch):
    """A file's state without the product and a count of 10^12 steps: with beta_1 near 1 and the
    momentum warmed at once, P_t stays near 1, and a loop over the steps (one _momentum each)
    would not end. The closed form asks for no momentum; a step after it for one more factor."""
    opt = optimizers.Nadam(beta_1=1 - 1e-13, momentum_decay=1000.0)
    calls = []

    def momentum(t):
        calls.append(t)
        assert len(calls) < 1000, "a loop over the steps"
        return optimizers.Nadam._momentum(opt, t)
    monkeypatch.setattr(opt, "_momentum", momentum)
    t = 10 ** 12
    product = opt._momentum_product(t)
    assert calls == []
    assert product == pytest.approx((1 - 1e-13) ** t * (1 - 0.5 * 0.96 ** 1000), rel=1e-12)
    assert opt._momentum_product(t + 1) == pytest.approx(product * opt._momentum(t + 1), rel=1e-15)
    assert calls == [t + 1, t + 1]


def test_nadam_matches_keras_over_300_steps_resumed_without_its_product(rng):
    """Keras 3.15's Nadam (momentum_decay=1.0 here) for 300 steps in float32, the run resumed after
    150 from a state without the momentum product (recomputed in closed form)."""
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    w0 = rng.standard_normal((5, 4)).astype(np.float32)
    grads = [rng.standard_normal((5, 4)).astype(np.float32) for _ in range(300)]
    ours, w = optimizers.Nadam(learning_rate=0.01, beta_1=0.9, momentum_decay=1.0), w0.copy()
    theirs = keras.optimizers.Nadam(learning_rate=0.01, beta_1=0.9)
    variable = keras.Variable(w0)
    for step, g in enumerate(grads):
        if step == 150:
            state = {k: v for k, v in ours.get_state().items() if k != "scalars"}
            ours = optimizers.Nadam(learning_rate=0.01, beta_1=0.9, momentum_decay=1.0)
            ours.set_state(state)
        ours.apply([("w", w, g)])
        theirs.apply_gradients([(keras.ops.convert_to_tensor(g), variable)])
    # float32 rounding over 300 steps (Keras keeps its product in float32): ~2e-6 apart; weights move ~1
    np.testing.assert_allclose(w, np.asarray(variable.numpy()), rtol=1e-5, atol=1e-5)


def test_nadam_resumed_from_its_state_goes_on_bit_for_bit(rng):
    grads = [rng.standard_normal(7) for _ in range(8)]
    whole, w = optimizers.Nadam(0.01), np.ones(7)
    for g in grads:
        whole.apply([("w", w, g)])
    first, resumed_w = optimizers.Nadam(0.01), np.ones(7)
    for g in grads[:3]:
        first.apply([("w", resumed_w, g)])
    resumed = optimizers.from_config(first.get_config())
    resumed.set_state(first.get_state())
    for g in grads[3:]:
        resumed.apply([("w", resumed_w, g)])
    np.testing.assert_array_equal(resumed_w, w)


def test_nadam_keeps_its_momentum_product_in_its_state_and_files(rng, tmp_path):
    # beta_1 changed during training: the product of the old and new momenta cannot be recomputed
    # from the step count, so it is part of the state (torch keeps its mu_product too)
    import glassnet as gn
    x, y = rng.standard_normal((32, 3)), rng.standard_normal((32, 1))

    def model():
        m = gn.Sequential([gn.layers.Dense(1, input_dim=3)], seed=0)
        m.compile(loss="mse", optimizer=optimizers.Nadam(0.01, beta_1=0.99, momentum_decay=1.0))
        return m
    whole, first = model(), model()
    for m in (whole, first):
        m.fit(x, y, epochs=2, batch_size=4, verbose=0, shuffle=False)
        m.optimizer.beta_1 = 0.9
        m.fit(x, y, epochs=3, batch_size=4, verbose=0, shuffle=False)
    assert 0 < first.optimizer.get_state()["scalars"]["momentum_product"] < 1e-3
    first.save(tmp_path / "n.npz")
    resumed = gn.load_model(tmp_path / "n.npz")
    for m in (whole, resumed):
        m.fit(x, y, epochs=2, batch_size=4, verbose=0, shuffle=False)
    np.testing.assert_array_equal(resumed.get_weights()[0], whole.get_weights()[0])
    # a state without it (set by hand, or an older file) recomputes it from the step count
    bare = {k: v for k, v in first.optimizer.get_state().items() if k != "scalars"}
    fresh = optimizers.Nadam(0.01, beta_1=0.9, momentum_decay=1.0)
    fresh.set_state(bare)
    assert fresh.get_state()["scalars"]["momentum_product"] == optimizers.Nadam(
        beta_1=0.9, momentum_decay=1.0)._momentum_product(first.optimizer.iterations)
    with pytest.raises(ValueError, match=r"Nadam: the state's momentum_product must be a number in \[0, 1\], got 2.0"):
        fresh.set_state({**bare, "scalars": {"momentum_product": 2.0}})


@pytest.mark.parametrize("name,torch_name", [("nadam", "NAdam"), ("adamax", "Adamax")])
def test_beta_1_and_momentum_decay_changed_mid_training_match_torch(name, torch_name, rng, torch):
    w0 = rng.standard_normal(6)
    opt, w = optimizers.OPTIMIZERS[name](learning_rate=0.01, beta_1=0.95, epsilon=1e-8), w0.copy()
    tw = torch.tensor(w0, requires_grad=True)
    topt = getattr(torch.optim, torch_name)([tw], lr=0.01, betas=(0.95, 0.999), eps=1e-8)
    for step in range(12):
        if step == 5:
            opt.beta_1, topt.param_groups[0]["betas"] = 0.8, (0.8, 0.999)
            if name == "nadam":
                opt.momentum_decay = topt.param_groups[0]["momentum_decay"] = 0.5
        g = rng.standard_normal(6)
        opt.apply([("w", w, g)])
        tw.grad = torch.tensor(g)
        topt.step()
        np.testing.assert_allclose(w, tw.detach().numpy(), rtol=1e-12, atol=1e-13)


# -- Lion: Keras' (PyTorch has none) --------------------------------------------------------------
def _lion_by_hand(w, grads, lr, b1, b2, wd):
    m = np.zeros_like(w)
    for g in grads:
        w = w * (1 - lr * wd)
        w = w - lr * np.sign(b1 * m + (1 - b1) * g)
        m = b2 * m + (1 - b2) * g
    return w, m


@pytest.mark.parametrize("settings", [dict(), dict(beta_1=0.5, beta_2=0.9, weight_decay=0.3), dict(beta_1=1.0, beta_2=0.0)])
def test_lion_steps_by_hand(settings, rng):
    w0, grads = rng.standard_normal(7), [rng.standard_normal(7) for _ in range(6)]
    grads[2][:3] = 0.0                                   # sign(0) = 0 once m is 0 there too
    opt, w = optimizers.Lion(learning_rate=0.01, **settings), w0.copy()
    for g in grads:
        opt.apply([("w", w, g)])
    b1, b2, wd = settings.get("beta_1", 0.9), settings.get("beta_2", 0.99), settings.get("weight_decay", 0.0)
    expected_w, expected_m = _lion_by_hand(w0, grads, 0.01, b1, b2, wd)
    np.testing.assert_allclose(w, expected_w, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(opt.get_state()["slots"]["w"]["m"], expected_m, rtol=1e-15, atol=1e-16)


def test_lion_refuses_beta_1_of_zero_as_keras():
    with pytest.raises(ValueError, match=r"Lion: beta_1 must be a number in \(0, 1\], got 0.0"):
        optimizers.Lion(beta_1=0.0)
    with pytest.raises(ValueError, match=r"Lion: weight_decay must be a finite number >= 0, got -1"):
        optimizers.Lion(weight_decay=-1)


# -- Ftrl: Keras' (PyTorch has none) --------------------------------------------------------------
def _ftrl_by_hand(w, grads, lr, power, n0, l1, l2, shrinkage, beta):
    n, z = np.full_like(w, n0), np.zeros_like(w)
    for g in grads:
        new = n + g * g
        z = z + g + 2 * shrinkage * w - (new ** -power - n ** -power) / lr * w
        quadratic = new ** -power / lr + 2 * (l2 + beta / (2 * lr))
        w = (np.clip(z, -l1, l1) - z) / quadratic
        n = new
    return w


FTRL = [dict(), dict(l1_regularization_strength=0.05, l2_regularization_strength=0.1),
        dict(learning_rate_power=-0.3, initial_accumulator_value=0.5, l2_shrinkage_regularization_strength=0.2,
             beta=0.4), dict(learning_rate_power=0.0, initial_accumulator_value=0.0)]


@pytest.mark.parametrize("settings", FTRL, ids=str)
def test_ftrl_steps_by_hand_and_as_keras(settings, rng):
    w0, grads = rng.standard_normal(7), [rng.standard_normal(7) for _ in range(5)]
    opt, w = optimizers.Ftrl(learning_rate=0.1, **settings), w0.copy()
    for g in grads:
        opt.apply([("w", w, g)])
    p = dict(power=settings.get("learning_rate_power", -0.5), n0=settings.get("initial_accumulator_value", 0.1),
             l1=settings.get("l1_regularization_strength", 0.0), l2=settings.get("l2_regularization_strength", 0.0),
             shrinkage=settings.get("l2_shrinkage_regularization_strength", 0.0), beta=settings.get("beta", 0.0))
    np.testing.assert_allclose(w, _ftrl_by_hand(w0, grads, 0.1, **p), rtol=1e-12, atol=1e-14)
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    theirs = keras.optimizers.Ftrl(learning_rate=0.1, **settings)
    variable = keras.Variable(w0.astype(np.float32))
    for g in grads:
        theirs.apply_gradients([(keras.ops.convert_to_tensor(g.astype(np.float32)), variable)])
    np.testing.assert_allclose(w, np.asarray(variable), rtol=2e-5, atol=2e-6)


def test_ftrl_l1_makes_weights_exactly_zero():
    g = np.array([0.1, -0.2, 0.3])
    for l1, zero in ((0.0, False), (0.25, [True, True, False])):
        w = np.zeros(3)
        optimizers.Ftrl(l1_regularization_strength=l1).apply([("w", w, g)])
        np.testing.assert_array_equal(w == 0, zero)         # |z| = |g| below l1: FTRL's sparsity


def test_ftrl_refuses_what_keras_refuses():
    with pytest.raises(ValueError, match=r"Ftrl: learning_rate_power must be a finite number <= 0, got 0.5"):
        optimizers.Ftrl(learning_rate_power=0.5)
    with pytest.raises(ValueError, match=r"Ftrl: l1_regularization_strength must be a finite number >= 0"):
        optimizers.Ftrl(l1_regularization_strength=-1)


# -- Lamb: Keras' (PyTorch has none) --------------------------------------------------------------
def _lamb_by_hand(w, grads, lr, b1, b2, eps):
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        u = (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        wn, un = np.linalg.norm(w), np.linalg.norm(u)
        w = w - (wn / un if wn > 0 and un > 0 else 1.0) * lr * u
    return w


@pytest.mark.parametrize("start", ["random", "zeros"])
def test_lamb_steps_by_hand(start, rng):
    w0 = rng.standard_normal(6) if start == "random" else np.zeros(6)      # zeros: a trust ratio of 1
    grads = [rng.standard_normal(6) for _ in range(4)]
    opt, w = optimizers.Lamb(learning_rate=0.05, beta_1=0.8, beta_2=0.95, epsilon=1e-6), w0.copy()
    for g in grads:
        opt.apply([("w", w, g)])
    np.testing.assert_allclose(w, _lamb_by_hand(w0, grads, 0.05, 0.8, 0.95, 1e-6), rtol=1e-12, atol=1e-14)


def test_lamb_takes_each_weight_s_own_norms_in_a_model_as_keras(rng):
    """A model hands its optimizer one flat buffer; LAMB's trust ratio is each weight's (kernel,
    bias) own, as Keras computes it per variable."""
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    import glassnet as gn
    x, y = rng.standard_normal((32, 3)).astype(np.float32), rng.standard_normal((32, 1)).astype(np.float32)
    ours = gn.Sequential([gn.layers.Dense(5, activation="tanh", input_dim=3, bias_initializer="random_normal"),
                          gn.layers.Dense(1)], seed=0)
    ours.compile("mse", optimizers.Lamb(learning_rate=0.01))
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5, activation="tanh"), keras.layers.Dense(1)])
    theirs.set_weights(ours.get_weights())
    theirs.compile(loss="mse", optimizer=keras.optimizers.Lamb(learning_rate=0.01))
    mine = ours.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history["loss"]
    their = theirs.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_ftrl_refuses_a_scheduled_rate_of_zero_before_any_change_and_lamb_wrong_sizes():
    from glassnet.optimizers.schedules import PiecewiseConstantDecay
    opt, w = optimizers.Ftrl(learning_rate=PiecewiseConstantDecay([0], [0.1, 0.0])), np.ones(3)
    opt.apply([("w", w, np.ones(3))])
    before = w.copy()
    with pytest.raises(ValueError, match="Ftrl: the learning rate schedule .* gave 0 for step 1"):
        opt.apply([("w", w, np.ones(3))])
    assert opt.iterations == 1 and np.array_equal(w, before)
    for sizes in ([[3]], [[3, 4]], [5]):
        with pytest.raises(ValueError, match="Lamb: sizes must give"):
            optimizers.Lamb(0.1).apply([("w", np.ones(5), np.ones(5))], sizes=sizes)


# -- Adafactor: Keras' (PyTorch's differs) -----------------------------------------------------------
def _adafactor_by_hand(w, grads, lr, decay=-0.8, eps1=1e-30, eps2=1e-3, clip=1.0):
    """Shazeer & Stern's factored rule as Keras 3 writes it, for one matrix or vector."""
    r = np.zeros(w.shape[:-1]) if w.ndim >= 2 else None
    c = np.zeros(w.shape[:-2] + w.shape[-1:]) if w.ndim >= 2 else None
    v = np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        rho = min(lr, 1 / np.sqrt(t))
        alpha = max(eps2, np.sqrt(np.mean(w ** 2))) * rho
        g2 = g ** 2 + eps1
        beta = 1 - t ** decay
        if w.ndim >= 2:
            r = beta * r + (1 - beta) * g2.mean(axis=-1)
            c = beta * c + (1 - beta) * g2.mean(axis=-2)
            v = np.expand_dims(r / r.mean(axis=-1, keepdims=True), -1) * np.expand_dims(c, -2)
        else:
            v = beta * v + (1 - beta) * g2
        u = g / np.sqrt(v)
        w = w - alpha * u / max(1.0, np.sqrt(np.mean(u ** 2)) / clip)
    return w


@pytest.mark.parametrize("shape", [(6,), (4, 3), (2, 3, 2, 4)])
def test_adafactor_steps_by_hand(shape, rng):
    w0 = rng.standard_normal(shape)
    grads = [rng.standard_normal(shape) for _ in range(5)]
    opt, w = optimizers.Adafactor(learning_rate=0.3, clip_threshold=0.5), w0.copy()
    for g in grads:
        opt.apply([("w", w, g)])
    np.testing.assert_allclose(w, _adafactor_by_hand(w0, grads, 0.3, clip=0.5), rtol=1e-12, atol=1e-14)
    if len(shape) >= 2:         # the moments are factored: a row and a column vector per weight
        state = opt.get_state()["slots"]["w"]
        assert state["r"].shape == (np.prod(shape[:-1]),) and state["c"].shape == (np.prod(shape[:-2]) * shape[-1],)


def test_adafactor_factors_each_weight_of_a_model_as_keras(rng, tmp_path):
    """A model hands its optimizer one flat buffer with the weights' shapes; Adafactor factors each
    kernel (a convolution's 4-D one too) and keeps a bias's moments whole, as Keras does."""
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    import glassnet as gn
    x = rng.standard_normal((24, 6, 6, 2)).astype(np.float32)
    y = rng.integers(0, 3, 24)
    ours = gn.Sequential([gn.layers.Input((6, 6, 2)), gn.layers.Conv2D(3, 3, activation="tanh"), gn.layers.Flatten(),
                          gn.layers.Dense(3, activation="softmax")], seed=0)
    ours.compile("sparse_categorical_crossentropy", optimizers.Adafactor(learning_rate=0.05, relative_step=False))
    theirs = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Conv2D(3, 3, activation="tanh"),
                               keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    theirs.set_weights(ours.get_weights())
    theirs.compile(loss="sparse_categorical_crossentropy",
                   optimizer=keras.optimizers.Adafactor(learning_rate=0.05, relative_step=False))
    mine = ours.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history["loss"]
    their = theirs.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # a model file keeps the factored state (its own sizes) and a resumed run continues exactly
    ours.save(tmp_path / "m.npz")
    again = gn.load_model(tmp_path / "m.npz")
    assert again.optimizer.get_state()["slots"]["params"]["r"].shape == (3 * 3 * 2 + 48,)     # rows: conv, dense
    more = [m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history["loss"] for m in (ours, again)]
    assert more[0] == more[1]


def test_adafactor_refuses_shapes_that_do_not_fit():
    with pytest.raises(ValueError, match="Adafactor: shapes must give"):
        optimizers.Adafactor().apply([("w", np.ones(6), np.ones(6))], shapes=[[(2, 2)]])
    opt = optimizers.Adafactor()
    opt.apply([("w", np.ones(6), np.ones(6))], shapes=[[(2, 3)]])
    with pytest.raises(ValueError, match="state belongs to other weights"):
        opt.apply([("w", np.ones(6), np.ones(6))], shapes=[[(3, 2)]])


def test_adafactor_on_fakecupy_as_on_the_host(cupy, rng):
    w0 = rng.standard_normal((4, 3)).astype(np.float32)
    grads = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(3)]
    host, device = optimizers.Adafactor(0.1), optimizers.Adafactor(0.1)
    w, dw = w0.copy(), cupy.asarray(w0)
    for g in grads:
        host.apply([("w", w, g)])
        device.apply([("w", dw, cupy.asarray(g))])
    assert isinstance(device.get_state()["slots"]["w"]["r"], cupy.ndarray)
    np.testing.assert_array_equal(cupy.asnumpy(dw), w)


def test_an_optimizer_of_one_s_own_with_the_old_apply_still_trains(rng):
    import glassnet as gn

    class Halving(optimizers.SGD):
        def apply(self, triples, sizes=None, names=None):       # written before apply took shapes
            super().apply(triples, sizes, names)

    model = gn.Sequential([gn.layers.Dense(2, input_dim=3, seed=0)])
    model.compile("mse", Halving(0.1))
    history = model.fit(rng.standard_normal((8, 3)), np.zeros((8, 2)), epochs=3, verbose=0).history["loss"]
    assert history[-1] < history[0]


def test_adafactor_review_fixes_ema_state_in_a_file_and_a_fortran_ordered_weight(rng, tmp_path):
    import glassnet as gn
    x, y = rng.standard_normal((16, 6)).astype(np.float32), rng.integers(0, 3, 16)
    model = gn.Sequential([gn.layers.Input((6,)), gn.layers.Dense(5, activation="tanh"),
                           gn.layers.Dense(3, activation="softmax")], seed=0)
    model.compile("sparse_categorical_crossentropy", optimizers.Adafactor(0.1, use_ema=True))
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "ema.npz")
    again = gn.load_model(tmp_path / "ema.npz")         # the average has the weights' shape, not r's
    more = [m.fit(x, y, epochs=1, shuffle=False, verbose=0).history["loss"] for m in (model, again)]
    assert more[0] == more[1]
    w = np.asfortranarray(rng.standard_normal((4, 3)))
    c = np.ascontiguousarray(w)
    g = rng.standard_normal((4, 3))
    optimizers.Adafactor(0.1).apply([("w", w, g)])
    optimizers.Adafactor(0.1).apply([("w", c, g)])
    np.testing.assert_array_equal(w, c)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_a_learning_rate_of_zero_is_taken_and_moves_nothing(name):
    # Keras 3.15 and torch.optim take 0 (a frozen run, the start of a warm-up set by hand)
    opt = getattr(optimizers, name)(learning_rate=0.0)
    model = gn.Sequential([gn.layers.Dense(2, input_dim=3)], seed=0)
    model.compile(loss="mse", optimizer=opt)
    before = [w.copy() for w in model.get_weights()]
    model.fit(np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32), epochs=2, verbose=0)
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert getattr(optimizers, name).from_config(opt.get_config()).learning_rate == 0.0


def test_nadam_takes_momentum_decay_by_keyword_only():
    # Keras' fifth argument is weight_decay: its Nadam(0.001, 0.9, 0.999, 1e-7, 0.004) set glassnet's
    # momentum_decay instead (its default, 0.004), silently leaving out the decay
    with pytest.raises(TypeError, match="positional argument"):
        gn.optimizers.Nadam(0.001, 0.9, 0.999, 1e-7, 0.004)
    assert gn.optimizers.Nadam(momentum_decay=1.0).momentum_decay == 1.0
    assert gn.optimizers.Nadam(0.001, 0.9, 0.999, 1e-7, weight_decay=0.004).weight_decay == 0.004
