"""Learning-rate schedules: the formulas by hand and against Keras 3's, the rate each update of
fit uses, a resume from a model file, configs, and what they refuse."""
import math
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Dense
from glassnet.optimizers import schedules as S

ALL = [S.ExponentialDecay(0.1, 7, 0.5), S.ExponentialDecay(0.1, 7, 0.5, staircase=True),
       S.InverseTimeDecay(0.2, 5, 0.3), S.InverseTimeDecay(0.2, 5, 0.3, staircase=True),
       S.PiecewiseConstantDecay([3, 10], [0.3, 0.1, 0.01]),
       S.PolynomialDecay(0.1, 12), S.PolynomialDecay(0.1, 12, end_learning_rate=0.01, power=2.0, cycle=True),
       S.CosineDecay(0.1, 20), S.CosineDecay(0.1, 20, alpha=0.1),
       S.CosineDecay(0.0, 20, warmup_target=0.2, warmup_steps=5),
       S.CosineDecayRestarts(0.1, 7), S.CosineDecayRestarts(0.1, 5, t_mul=1.0, m_mul=0.5, alpha=0.1),
       S.CosineDecayRestarts(0.1, 4, t_mul=3.0, m_mul=0.8)]


def test_the_formulas_by_hand():
    assert S.ExponentialDecay(0.1, 10, 0.5)(5) == pytest.approx(0.1 * 0.5 ** 0.5, rel=1e-15)
    assert S.ExponentialDecay(0.1, 10, 0.5, staircase=True)(19) == pytest.approx(0.05, rel=1e-15)
    assert S.InverseTimeDecay(1.0, 10, 0.5)(5) == pytest.approx(1 / 1.25, rel=1e-15)
    pw = S.PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
    assert [pw(s) for s in (0, 100, 101, 200, 201, 10 ** 9)] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    poly = S.PolynomialDecay(0.1, 10, end_learning_rate=0.0)
    assert [poly(s) for s in (0, 5, 10, 20)] == pytest.approx([0.1, 0.05, 0.0, 0.0], abs=1e-15)
    cyc = S.PolynomialDecay(0.1, 10, end_learning_rate=0.0, cycle=True)
    assert cyc(15) == pytest.approx(0.1 * (1 - 15 / 20), rel=1e-15)          # the second cycle is 20 long
    cos = S.CosineDecay(0.1, 10, alpha=0.2)
    assert [cos(s) for s in (0, 5, 10, 50)] == pytest.approx([0.1, 0.1 * (0.8 * 0.5 + 0.2), 0.02, 0.02], rel=1e-12)
    warm = S.CosineDecay(0.0, 10, warmup_target=0.4, warmup_steps=4)
    assert [warm(s) for s in (0, 2, 4, 9, 14, 99)] == pytest.approx(
        [0.0, 0.2, 0.4, 0.4 * 0.5 * (1 + math.cos(math.pi * 5 / 10)), 0.0, 0.0], abs=1e-15)


@pytest.mark.parametrize("schedule", ALL, ids=repr)
def test_against_keras(schedule):
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    theirs = getattr(keras.optimizers.schedules, type(schedule).__name__)(**schedule.get_config())
    for step in range(0, 40):
        # Keras computes in float32: near a cosine's end its rounding is 1e-9 of a rate of 0.1
        assert schedule(step) == pytest.approx(float(theirs(step)), rel=1e-6, abs=1e-8), step


def test_each_update_uses_the_rate_for_its_step(rng):
    # SGD without momentum: the step's change is -rate * gradient, so the rate can be read back
    X = rng.standard_normal((12, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]])
    schedule = S.PiecewiseConstantDecay([1, 2], [0.1, 0.01, 0.001])
    model = gn.Sequential([Dense(1, input_dim=3)], seed=0, dtype="float64")
    model.compile("mse", gn.optimizers.SGD(learning_rate=schedule))
    rates = []
    for step in range(4):
        before = model.get_weights()[0].copy()
        grad = model.trace(X, y)[0]["grads"]["kernel"]
        model.train_on_batch(X, y)
        rates.append(float(((before - model.get_weights()[0]) / grad).mean()))
        assert model.optimizer.learning_rate == schedule(step + 1)      # the next update's, as Keras
    assert rates == pytest.approx([0.1, 0.1, 0.01, 0.001], rel=1e-9)


def test_training_matches_keras(rng):
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    X = rng.standard_normal((40, 3)).astype(np.float32)
    y = (X @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32))
    ours = gn.Sequential([Dense(4, activation="tanh", input_dim=3), Dense(1)], seed=0)
    # no momentum: glassnet's is PyTorch's (the rate scales the whole velocity at each step), Keras'
    # bakes each step's rate into the velocity; with a changing rate the two differ
    ours.compile("mse", gn.optimizers.SGD(learning_rate=S.CosineDecay(0.0, 20, warmup_target=0.1, warmup_steps=5)))
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(
        learning_rate=keras.optimizers.schedules.CosineDecay(0.0, 20, warmup_target=0.1, warmup_steps=5)))
    theirs.set_weights(ours.get_weights())
    ours.fit(X, y, epochs=6, batch_size=8, shuffle=False, verbose=0)
    theirs.fit(X, y, epochs=6, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-6)


def test_a_resumed_run_continues_the_schedule(tmp_path, rng):
    X = rng.standard_normal((30, 3)).astype(np.float32)
    y = X.sum(axis=1, keepdims=True)

    def fresh():
        model = gn.Sequential([Dense(4, activation="relu", input_dim=3), Dense(1)], seed=0)
        model.compile("mse", gn.optimizers.Adam(learning_rate=S.ExponentialDecay(0.05, 5, 0.5)))
        return model
    whole = fresh()
    whole.fit(X, y, epochs=4, batch_size=10, shuffle=False, verbose=0)
    first = fresh()
    first.fit(X, y, epochs=2, batch_size=10, shuffle=False, verbose=0)
    first.save(tmp_path / "half.npz")
    resumed = gn.load_model(tmp_path / "half.npz")
    assert resumed.optimizer.schedule == S.ExponentialDecay(0.05, 5, 0.5)
    assert resumed.optimizer.learning_rate == first.optimizer.learning_rate == S.ExponentialDecay(0.05, 5, 0.5)(6)
    resumed.fit(X, y, epochs=4, initial_epoch=2, batch_size=10, shuffle=False, verbose=0)
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("schedule", ALL, ids=repr)
def test_configs_round_trip(schedule):
    optimizer = gn.optimizers.SGD(learning_rate=schedule)
    config = optimizer.get_config()
    assert config["learning_rate"] == {"class_name": type(schedule).__name__, "config": schedule.get_config()}
    assert gn.optimizers.from_config(config).schedule == schedule


def test_a_rate_set_by_hand_is_refused_with_a_schedule(rng):
    optimizer = gn.optimizers.Adam(learning_rate=S.ExponentialDecay(0.01, 10, 0.9))
    with pytest.raises(TypeError, match="follows ExponentialDecay.* cannot be set by hand"):
        optimizer.learning_rate = 0.1
    X = rng.standard_normal((10, 2)).astype(np.float32)
    model = gn.Sequential([Dense(1, input_dim=2)], seed=0)
    model.compile("mse", optimizer)
    with pytest.raises(TypeError, match="LearningRateScheduler"):
        model.fit(X, X[:, :1], epochs=1, verbose=0,
                  callbacks=[gn.callbacks.LearningRateScheduler(lambda epoch, lr: lr / 2)])


class Halving(S.LearningRateSchedule):
    def __call__(self, step):
        return 0.1 / 2 ** step


def test_a_schedule_of_ones_own_trains_and_saves_weights_but_not_the_optimizer(tmp_path, rng):
    X = rng.standard_normal((10, 2)).astype(np.float32)
    model = gn.Sequential([Dense(1, input_dim=2)], seed=0)
    model.compile("mse", gn.optimizers.SGD(learning_rate=Halving()))
    model.fit(X, X[:, :1], epochs=3, batch_size=10, verbose=0)
    assert model.optimizer.learning_rate == 0.1 / 8
    with pytest.raises(ValueError, match=r"a schedule of your own that is not registered.*"
                                         r"@glassnet\.saving\.register_serializable\(\)"):
        model.save(tmp_path / "m.npz")
    model.save_weights(tmp_path / "w.npz")                       # no optimizer in a weights file
    fresh = gn.Sequential([Dense(1, input_dim=2)], seed=1)
    fresh.load_weights(tmp_path / "w.npz")
    np.testing.assert_array_equal(fresh.get_weights()[0], model.get_weights()[0])


def test_the_sklearn_wrapper_copies_a_schedule_of_ones_own(rng):
    pytest.importorskip("sklearn")
    from glassnet.sklearn import GlassnetRegressor
    X = rng.standard_normal((40, 2)).astype(np.float32)
    optimizer = gn.optimizers.SGD(learning_rate=Halving())
    estimator = GlassnetRegressor(hidden_layer_sizes=(4,), optimizer=optimizer, epochs=2, random_state=0)
    estimator.fit(X, X.sum(axis=1))
    assert optimizer.iterations == 0                              # the caller's instance untouched


def test_the_lr_callbacks_are_refused_before_any_update(rng):
    X = rng.standard_normal((10, 2)).astype(np.float32)
    for callback in (gn.callbacks.ReduceLROnPlateau(monitor="loss", patience=0),
                     gn.callbacks.LearningRateScheduler(lambda epoch: 0.1)):
        model = gn.Sequential([Dense(1, input_dim=2)], seed=0)
        model.compile("mse", gn.optimizers.SGD(learning_rate=S.ExponentialDecay(0.1, 10, 0.9)))
        with pytest.raises(TypeError, match="follows ExponentialDecay.*a callback cannot change it too"):
            model.fit(X, X[:, :1], epochs=3, verbose=0, callbacks=[callback])
        assert model.optimizer.iterations == 0


def test_a_rate_that_overflows_is_refused_before_its_update(rng):
    schedule = S.ExponentialDecay(0.01, 1, 1e200)          # 0.01, 1e198, then 1e398: inf
    assert schedule(2) == math.inf
    X = np.zeros((10, 2))              # zero gradients: the huge second rate moves nothing
    model = gn.Sequential([Dense(1, input_dim=2)], seed=0, dtype="float64")
    model.compile("mse", gn.optimizers.SGD(learning_rate=schedule))
    model.train_on_batch(X, X[:, :1])
    model.train_on_batch(X, X[:, :1])
    assert model.optimizer.learning_rate == 1e198          # the refresh after it kept the last rate
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"ExponentialDecay.* gave inf for step 2; a rate must be a finite"):
        model.train_on_batch(X, X[:, :1])
    assert model.optimizer.iterations == 2
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_info_shows_the_schedule(tmp_path, capsys):
    from glassnet import cli
    model = gn.Sequential([Dense(1, input_dim=2)], seed=0)
    model.compile("mse", gn.optimizers.SGD(learning_rate=S.CosineDecay(0.1, 100)))
    model.save(tmp_path / "m.npz")
    cli.info(tmp_path / "m.npz")
    assert "sgd(learning_rate=CosineDecay(initial_learning_rate=0.1, decay_steps=100.0" in capsys.readouterr().out


@pytest.mark.parametrize("make,match", [
    (lambda: S.ExponentialDecay(0.1, 0, 0.5), "ExponentialDecay: decay_steps must be a finite number > 0"),
    (lambda: S.ExponentialDecay(-0.1, 10, 0.5), "initial_learning_rate must be a finite number >= 0"),
    (lambda: S.PiecewiseConstantDecay([10, 5], [1.0, 0.5, 0.1]), "boundaries: expected a non-empty list of increasing"),
    (lambda: S.PiecewiseConstantDecay([10], [1.0]), "values: expected a list of 2 rates"),
    (lambda: S.PiecewiseConstantDecay([10 ** 400], [1.0, 0.5]), "boundaries: expected a non-empty list"),
    (lambda: S.CosineDecay(0.1, 10, alpha=2.0), r"alpha must be a number in \[0, 1\]"),
    (lambda: S.PolynomialDecay(0.1, 10, cycle="yes"), "cycle: expected True or False"),
    (lambda: gn.optimizers.from_config({"name": "sgd", "learning_rate": {"class_name": "Popen", "config": {}}}),
     "learning_rate: expected a number or"),
    (lambda: gn.optimizers.from_config({"name": "sgd", "learning_rate": {"class_name": "CosineDecay",
                                                                         "config": {"bogus": 1}}}), "bad config"),
])
def test_bad_settings_are_refused_by_name(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


@pytest.mark.parametrize("make", [lambda t, lr: t.optim.Adam(t.nn.Linear(3, 1).parameters(), lr=lr, eps=1e-7),
                                  lambda t, lr: t.optim.SGD(t.nn.Linear(3, 1).parameters(), lr=lr, momentum=0.9)])
def test_torch_with_the_rate_set_before_each_step(make, torch, rng):
    # PyTorch's rules with the group's lr set to the schedule's rate before every step: glassnet's
    # update with a schedule is that, step for step
    schedule = S.ExponentialDecay(0.05, 3, 0.5)
    X = rng.standard_normal((16, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]])
    model = gn.Sequential([Dense(1, input_dim=3)], seed=0, dtype="float64")
    theirs = make(torch, schedule(0))
    layer = theirs.param_groups[0]["params"]
    w, b = model.get_weights()
    with torch.no_grad():
        layer[0].copy_(torch.tensor(w.T))
        layer[1].copy_(torch.tensor(b))
    name = type(theirs).__name__.lower()
    optimizer = (gn.optimizers.Adam(learning_rate=schedule, epsilon=1e-7) if name == "adam"
                 else gn.optimizers.SGD(learning_rate=schedule, momentum=0.9))
    model.compile("mse", optimizer)
    tX, ty = torch.tensor(X), torch.tensor(y)
    for step in range(8):
        model.train_on_batch(X, y)
        theirs.param_groups[0]["lr"] = schedule(step)
        theirs.zero_grad()
        loss = ((tX @ layer[0].T + layer[1] - ty) ** 2).mean()
        loss.backward()
        theirs.step()
    np.testing.assert_allclose(model.get_weights()[0], layer[0].detach().numpy().T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.get_weights()[1], layer[1].detach().numpy(), rtol=1e-10, atol=1e-12)


def test_cosine_restarts_count_their_periods_exactly():
    # periods 10, 30, 90 (t_mul 3): restarts at steps 10 and 40, each at m_mul times the last peak
    schedule = S.CosineDecayRestarts(1.0, 10, t_mul=3.0, m_mul=0.5)
    assert [schedule(s) for s in (0, 10, 40)] == [1.0, 0.5, 0.25]
    assert schedule(25) == pytest.approx(0.5 * 0.5 * (1 + math.cos(math.pi * 15 / 30)), rel=1e-15)
    assert schedule(10 ** 12) >= 0
    # a t_mul just above 1: millions of periods before step 10**9, found without counting them
    # (no timed assertion here, the test machines are shared: a count of them would show as a slow test)
    slow = S.CosineDecayRestarts(1.0, 10, t_mul=1.0000001)
    assert 0 <= slow(10 ** 9) <= 1
    with pytest.raises(ValueError, match="t_mul must be at least 1"):
        S.CosineDecayRestarts(1.0, 10, t_mul=0.5)
