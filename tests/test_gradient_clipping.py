"""Gradient clipping (Keras' clipnorm, global_clipnorm, clipvalue on every optimizer): against
torch.nn.utils' clipping before torch.optim's step, at the optimizer and through a model's flat
parameter buffer; the true gradients stay in the layers; checks of the arguments."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import optimizers


def _torch_clipped_steps(torch, torch_opt_name, torch_kwargs, params0, grads, clip):
    """torch.optim's parameters after steps on ``grads`` (lists of arrays, one per parameter),
    each clipped first by ``clip(torch_params)``."""
    params = [torch.tensor(p, requires_grad=True) for p in params0]
    opt = getattr(torch.optim, torch_opt_name)(params, **torch_kwargs)
    for step in grads:
        for p, g in zip(params, step):
            p.grad = torch.tensor(g)
        clip(params)
        opt.step()
    return [p.detach().numpy() for p in params]


def _glassnet_steps(opt, params0, grads):
    params = [p.copy() for p in params0]
    for step in grads:
        opt.apply([(f"w{i}", p, g) for i, (p, g) in enumerate(zip(params, step))])
    return params


@pytest.fixture
def problem(rng):
    """Two parameters and five steps of gradients, large enough (norms ~2-6) to be clipped at 1."""
    params0 = [rng.standard_normal((4, 3)), rng.standard_normal(3)]
    grads = [[3 * rng.standard_normal((4, 3)), rng.standard_normal(3)] for _ in range(5)]
    return params0, grads


@pytest.mark.parametrize("name,kwargs,torch_name,torch_kwargs", [
    ("sgd", dict(learning_rate=0.1, momentum=0.9), "SGD", dict(lr=0.1, momentum=0.9)),
    ("adam", dict(learning_rate=0.01), "Adam", dict(lr=0.01, eps=1e-7)),
])
def test_clipvalue_matches_torch_clip_grad_value(name, kwargs, torch_name, torch_kwargs, problem, torch):
    params0, grads = problem
    ours = _glassnet_steps(optimizers.OPTIMIZERS[name](**kwargs, clipvalue=0.5), params0, grads)
    theirs = _torch_clipped_steps(torch, torch_name, torch_kwargs, params0, grads,
                                  lambda ps: torch.nn.utils.clip_grad_value_(ps, 0.5))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name,kwargs,torch_name,torch_kwargs", [
    ("sgd", dict(learning_rate=0.1, momentum=0.9), "SGD", dict(lr=0.1, momentum=0.9)),
    ("rmsprop", dict(learning_rate=0.01), "RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-7)),
])
def test_global_clipnorm_matches_torch_clip_grad_norm(name, kwargs, torch_name, torch_kwargs, problem, torch):
    params0, grads = problem
    ours = _glassnet_steps(optimizers.OPTIMIZERS[name](**kwargs, global_clipnorm=1.0), params0, grads)
    theirs = _torch_clipped_steps(torch, torch_name, torch_kwargs, params0, grads,
                                  lambda ps: torch.nn.utils.clip_grad_norm_(ps, 1.0))
    # torch scales by max_norm / (norm + 1e-6), glassnet by max_norm / norm: ~1e-7 apart here
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_clipnorm_clips_each_weight_on_its_own_like_torch_per_parameter(problem, torch):
    params0, grads = problem
    ours = _glassnet_steps(optimizers.SGD(0.1, momentum=0.9, clipnorm=1.0), params0, grads)

    def clip_each(ps):
        for p in ps:
            torch.nn.utils.clip_grad_norm_([p], 1.0)
    theirs = _torch_clipped_steps(torch, "SGD", dict(lr=0.1, momentum=0.9), params0, grads, clip_each)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_clipnorm_by_hand_on_one_step():
    # a gradient of norm 5 clipped to 2 is scaled by 2/5; one of norm 1 is left alone
    w, b = np.zeros(2), np.zeros(2)
    opt = optimizers.SGD(learning_rate=1.0, clipnorm=2.0)
    opt.apply([("w", w, np.array([3.0, 4.0])), ("b", b, np.array([0.6, 0.8]))])
    np.testing.assert_allclose(w, [-1.2, -1.6], rtol=1e-15)
    np.testing.assert_array_equal(b, [-0.6, -0.8])


@pytest.mark.parametrize("clipping", [dict(clipnorm=100.0), dict(global_clipnorm=100.0)])
def test_a_gradient_within_the_norm_is_used_bit_for_bit(clipping, problem):
    # no x * c / c rounding: a gradient under the limit steps exactly as without clipping
    params0, grads = problem
    clipped = _glassnet_steps(optimizers.Adam(0.01, **clipping), params0, grads)
    plain = _glassnet_steps(optimizers.Adam(0.01), params0, grads)
    for a, b in zip(clipped, plain):
        np.testing.assert_array_equal(a, b)


def _two_layer_model(optimizer, dtype="float32"):
    model = gn.Sequential([gn.layers.Dense(5, activation="tanh", input_dim=3), gn.layers.Dense(2)],
                          seed=3, dtype=dtype)
    model.compile(loss="mse", optimizer=optimizer)
    return model


def test_a_model_clips_each_weight_of_its_flat_buffer(rng):
    """Inside a model every weight is a view into one flat buffer: clipnorm must still clip each
    weight (kernel, bias) by its own norm. Checked against the same step taken weight by weight,
    with each gradient clipped by hand, in float64."""
    x, y = rng.standard_normal((16, 3)), 10 * rng.standard_normal((16, 2))
    model = _two_layer_model(optimizers.SGD(learning_rate=0.1, clipnorm=5.0), dtype="float64")
    before = [w.copy() for w in model.get_weights()]
    model.train_on_batch(x, y)
    grads = [layer.grads[key] for layer in model.layers for key in layer.params]
    norms = [np.linalg.norm(g) for g in grads]
    assert min(norms) < 5.0 < max(norms)          # some weights clipped, some not
    for w0, w1, g, norm in zip(before, model.get_weights(), grads, norms):
        expected = w0 - 0.1 * (g * (5.0 / norm) if norm > 5.0 else g)
        np.testing.assert_allclose(w1, expected, rtol=1e-13, atol=1e-15)


def test_clipping_keeps_the_true_gradients_in_the_layers_and_the_model_dtype(rng):
    x, y = rng.standard_normal((16, 3)).astype(np.float32), 10 * rng.standard_normal((16, 2)).astype(np.float32)
    plain, clipped = _two_layer_model("sgd"), _two_layer_model(optimizers.SGD(clipvalue=0.01))
    plain.train_on_batch(x, y)
    clipped.train_on_batch(x, y)
    for a, b in zip(plain.layers, clipped.layers):
        for key in a.grads:
            np.testing.assert_array_equal(a.grads[key], b.grads[key])
            assert b.grads[key].dtype == np.float32
    assert all(w.dtype == np.float32 for w in clipped.get_weights())
    assert all(a.dtype == np.float32 for a in clipped.optimizer._scratch.values())
    # and the step really was clipped: no weight moved by more than lr * clipvalue (plus the
    # float32 rounding of weights ~1), where the plain step moved some by far more
    fresh = _two_layer_model("sgd").get_weights()
    for w0, w1 in zip(fresh, clipped.get_weights()):
        assert np.abs(w1 - w0).max() <= 0.01 * 0.01 + 1e-6
    assert max(np.abs(w1 - w0).max() for w0, w1 in zip(fresh, plain.get_weights())) > 1e-3


def test_trace_shows_the_clipped_update_beside_the_true_gradient(rng):
    x, y = rng.standard_normal((8, 3)), 10 * rng.standard_normal((8, 2))
    model = _two_layer_model(optimizers.SGD(learning_rate=1.0, global_clipnorm=1e-3), dtype="float64")
    trace = model.trace(x, y)
    grads = [g for record in trace for g in record["grads"].values()]
    updates = [u for record in trace for u in record["update"].values()]
    total = np.sqrt(sum(np.sum(g * g) for g in grads))
    assert total > 1e-3
    for g, u in zip(grads, updates):
        np.testing.assert_allclose(u, -g * (1e-3 / total), rtol=1e-10, atol=1e-18)


def test_clipping_is_saved_with_the_model_and_resumes_bit_for_bit(tmp_path, rng):
    x, y = rng.standard_normal((32, 3)).astype(np.float32), rng.standard_normal((32, 2)).astype(np.float32)
    model = _two_layer_model(optimizers.Adam(0.05, clipnorm=0.1))
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert loaded.optimizer.clipnorm == 0.1 and loaded.optimizer.clipvalue is None
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    loaded.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(optimizers.OPTIMIZERS))
def test_every_optimizer_takes_the_clipping_arguments(name):
    opt = optimizers.OPTIMIZERS[name](global_clipnorm=2)
    assert opt.global_clipnorm == 2.0 and type(opt.global_clipnorm) is float
    config = opt.get_config()
    assert config["global_clipnorm"] == 2.0 and "clipnorm" not in config and "clipvalue" not in config
    assert optimizers.from_config(config).get_config() == config
    # without clipping the config holds no clipping key: a glassnet from before clipping existed
    # (whose constructors do not know the names) loads such a model file
    assert not set(optimizers.CLIPPING) & set(optimizers.OPTIMIZERS[name]().get_config())


def test_clipping_arguments_are_checked():
    with pytest.raises(ValueError, match=r"Adam: give at most one of clipnorm, clipvalue, global_clipnorm, "
                                         r"got clipnorm=1.0 and clipvalue=0.5"):
        optimizers.Adam(clipnorm=1.0, clipvalue=0.5)
    for bad in (0, -1.0, float("nan"), float("inf"), "1.0", True):
        with pytest.raises(ValueError, match=r"^SGD: clipnorm must be a finite number > 0, got"):
            optimizers.SGD(clipnorm=bad)
    with pytest.raises(TypeError, match=r"^RMSprop: unexpected argument 'clip_norm'; besides its own "
                                        r"arguments an optimizer takes clipnorm, clipvalue, global_clipnorm"):
        optimizers.RMSprop(clip_norm=1.0)
    opt = optimizers.SGD(clipvalue=1.0)
    with pytest.raises(ValueError, match="got clipvalue=1.0 and global_clipnorm=2"):
        opt.global_clipnorm = 2
    assert opt.global_clipnorm is None and opt.clipvalue == 1.0
    opt.clipvalue = None                  # switching from one to another goes through None
    opt.global_clipnorm = 2
    assert opt.get_config()["global_clipnorm"] == 2.0


def test_an_optimizer_pickled_before_clipping_existed_still_trains_and_saves(rng, tmp_path):
    import pickle
    opt = optimizers.Adam(0.01)
    state = opt.__dict__.copy()
    for name in optimizers.CLIPPING:                 # what an older glassnet pickled
        state.pop(name)
    old = pickle.loads(pickle.dumps(opt))
    old.__dict__.clear()
    old.__dict__.update(state)
    model = _two_layer_model(old)
    model.fit(rng.standard_normal((8, 3)), rng.standard_normal((8, 2)), verbose=0)
    model.save(tmp_path / "m.npz")
    assert gn.load_model(tmp_path / "m.npz").optimizer.clipnorm is None


def test_an_exploding_but_finite_gradient_is_clipped_not_zeroed():
    # float32 values of 1e20: the dot product of the norm overflows; the step must still be the
    # clipped gradient, not 0 (torch.nn.utils' clip_grad_norm_ returns zeros there)
    w = np.zeros(4, np.float32)
    g = np.array([3e20, 4e20, 0, 0], np.float32)
    optimizers.SGD(learning_rate=1.0, clipnorm=1.0).apply([("w", w, g)])
    np.testing.assert_allclose(w, [-0.6, -0.8, 0, 0], rtol=1e-6)
    w = np.zeros(4, np.float32)
    optimizers.SGD(learning_rate=1.0, global_clipnorm=5.0).apply([("w", w, g)])
    np.testing.assert_allclose(w, [-3.0, -4.0, 0, 0], rtol=1e-6)


def test_trace_shows_clipnorm_weight_by_weight(rng):
    # a model's weights live in one flat buffer: trace's update must clip each on its own, as fit does
    x, y = rng.standard_normal((16, 3)), 10 * rng.standard_normal((16, 2))
    model = _two_layer_model(optimizers.SGD(learning_rate=1.0, clipnorm=5.0), dtype="float64")
    trace = model.trace(x, y)
    pairs = [(record["grads"][key], record["update"][key]) for record in trace for key in record["grads"]]
    norms = [np.linalg.norm(g) for g, _ in pairs]
    assert min(norms) < 5.0 < max(norms)
    for (g, u), norm in zip(pairs, norms):
        np.testing.assert_allclose(u, -(g * (5.0 / norm) if norm > 5.0 else g), rtol=1e-12, atol=1e-15)


def test_sizes_that_do_not_cover_the_buffer_are_refused():
    with pytest.raises(ValueError, match=r"^sizes\[0\]: the weights' sizes \[2, 1\] add up to 3, but 'w' holds 4"):
        optimizers.SGD(clipnorm=1.0).apply([("w", np.zeros(4), np.ones(4))], [[2, 1]])
