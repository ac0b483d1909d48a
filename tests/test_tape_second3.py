"""Second-order tape gradients through BatchNormalization, PReLU and models of several outputs
(glassnet._tape_second, _tape_second_rules): each penalty's value, G and gradients against torch
autograd with create_graph=True in float64 (BatchNormalization through torch.nn.functional.batch_norm,
BatchNorm1d/2d's function, with momentum 1 - Keras' so the running statistics follow Keras'
convention; nn.functional.prelu) and float64 central differences; a DCGAN-style BatchNormalization
critic's WGAN-GP step against Keras 3.15 + nested tf.GradientTape in float32, moving statistics
included (updated once per forward call, never by the replay); a list of targets summed as TF's;
the refusals by name of what stays unbuilt (renorm, recurrent layers)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from central_differences import numeric

L = gn.layers


def _penalty(g):
    axes = list(range(1, len(g.shape)))
    return ops.mean((ops.sqrt(ops.sum(ops.square(g), axis=axes)) - 1.0) ** 2)


def _ours(model, x, training=True, target=None):
    """(penalty, G, [d penalty / d each trainable weight, then x]) with nested glassnet tapes;
    ``target(outputs)``: the inner target (the model's output by default)."""
    with gn.GradientTape() as tape:
        tape.watch(x)
        with gn.GradientTape() as gp_tape:
            gp_tape.watch(x)
            pred = model(x, training=training)
            pred = pred if target is None else target(pred)
        g = gp_tape.gradient(pred, x)
        pen = _penalty(g)
    return float(pen), np.asarray(g), tape.gradient(pen, model.trainable_weights + [x])


def _theirs(torch, forward, weights, x):
    """The same with torch: ``forward(x, [tensors of weights])`` gives the summed inner target."""
    params = [torch.tensor(np.asarray(w, np.float64), requires_grad=True) for w in weights]
    xt = torch.tensor(x, requires_grad=True)
    g, = torch.autograd.grad(forward(xt, params), xt, create_graph=True)
    pen = ((g.square().flatten(1).sum(1).sqrt() - 1) ** 2).mean()
    grads = torch.autograd.grad(pen, params + [xt], allow_unused=True)
    return float(pen.detach()), g.detach().numpy(), [None if r is None else r.numpy() for r in grads]


def _compare(ours, theirs, tol=1e-10):
    assert ours[0] == pytest.approx(theirs[0], rel=tol, abs=tol * 1e-2)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=0, atol=tol * (1 + np.abs(theirs[1]).max()))
    assert len(ours[2]) == len(theirs[2])
    for k, (a, b) in enumerate(zip(ours[2], theirs[2])):
        if b is None or not np.any(b):      # (torch: unused or zero; ours None or zeros, TF's None)
            assert a is None or not np.any(np.asarray(a)), k
            continue
        assert a is not None, k
        np.testing.assert_allclose(np.asarray(a), b, rtol=0, atol=tol * (1 + np.abs(b).max()), err_msg=str(k))


def _jitter(model, rng, scale=0.3):
    for layer in model.layers:          # gamma, beta and alpha away from their starts
        for value in layer.params.values():
            value[...] += rng.normal(scale=scale, size=value.shape)


# -- (1) BatchNormalization ------------------------------------------------------------------------
def _bn_model(axis, center=True, scale=True, trainable=True):
    """Dense(tanh) on (n, 4, 3) -> BatchNormalization(axis) -> Dense(softplus) -> Flatten -> Dense(1)."""
    inp = L.Input((4, 3))
    h = L.Dense(5, activation="tanh")(inp)
    bn = L.BatchNormalization(axis=axis, momentum=0.8, epsilon=1e-3, center=center, scale=scale)
    bn.trainable = trainable
    out = L.Dense(1)(L.Flatten()(L.Dense(2, activation="softplus")(bn(h))))
    return gn.Model(inp, out, dtype="float64", seed=0), bn


def _torch_bn_forward(torch, bn, axis, training, stats):
    """The model of ``_bn_model`` in torch; ``stats``: [running mean, running var] tensors, updated
    in place by F.batch_norm (momentum 1 - Keras', its convention for the mean)."""
    F = torch.nn.functional

    def forward(xt, params):
        p = iter(params)
        k1, b1 = next(p), next(p)
        gamma = next(p) if bn.scale and bn.trainable else None
        beta = next(p) if bn.center and bn.trainable else None
        if not bn.trainable:        # (frozen: its weights are constants, not among the trainable ones)
            gamma, beta = (torch.tensor(bn.params[k]) if k in bn.params else None for k in ("gamma", "beta"))
        k2, b2, k3, b3 = p
        h = torch.tanh(xt @ k1 + b1)                                # (n, 4, 5)
        h = h.transpose(1, 2) if axis == -1 else h                  # the features on axis 1, torch's
        h = F.batch_norm(h, stats[0], stats[1], gamma, beta, training, 1 - bn.momentum, bn.epsilon)
        h = h.transpose(1, 2) if axis == -1 else h
        return (F.softplus(h @ k2 + b2).flatten(1) @ k3 + b3).sum()
    return forward


@pytest.mark.parametrize("axis, training, center, scale, trainable", [
    (-1, True, True, True, True), (1, True, True, True, True), (-1, True, False, True, True),
    (1, True, True, False, True), (-1, False, True, True, True), (1, False, True, True, True),
    (-1, True, True, True, False)], ids=["last", "axis1", "no_center", "no_scale", "inference_last",
                                         "inference_axis1", "frozen_in_training"])
def test_batch_normalization_matches_torch(torch, axis, training, center, scale, trainable):
    """The penalty's gradients through the batch statistics (training) or the moving ones (inference,
    and a frozen layer called with training=True, as Keras runs it); the moving statistics moved
    once, by the recorded call alone, as torch's running ones (the variance: Keras' biased one)."""
    model, bn = _bn_model(axis, center, scale, trainable)
    rng = np.random.default_rng(0)
    _jitter(model, rng)
    bn.state["moving_mean"][...] = rng.normal(size=bn.state["moving_mean"].shape)
    bn.state["moving_variance"][...] = rng.uniform(0.5, 2.0, size=bn.state["moving_variance"].shape)
    mean0, var0 = bn.state["moving_mean"].copy(), bn.state["moving_variance"].copy()
    x = rng.normal(size=(6, 4, 3))
    ours = _ours(model, x, training)
    stats = [torch.tensor(mean0), torch.tensor(var0)]
    theirs = _theirs(torch, _torch_bn_forward(torch, bn, axis, training and trainable, stats),
                     model.trainable_weights, x)
    _compare(ours, theirs)
    np.testing.assert_allclose(bn.state["moving_mean"], stats[0].numpy(), rtol=0, atol=1e-14)
    n = 6 * 4 * 5 // bn.state["moving_mean"].size             # values per feature in the batch
    unbiased_part = stats[1].numpy() - bn.momentum * var0
    want_var = bn.momentum * var0 + unbiased_part * ((n - 1) / n if training and trainable else 1)
    np.testing.assert_allclose(bn.state["moving_variance"], want_var, rtol=0, atol=1e-14)
    if not (training and trainable):
        np.testing.assert_array_equal(bn.state["moving_mean"], mean0)


def test_batch_normalization_matches_central_differences():
    """The training-mode penalty against float64 central differences of the penalty the
    first-order tape computes (each evaluation's statistics put back: a pass moves them)."""
    model, bn = _bn_model(1)
    rng = np.random.default_rng(1)
    _jitter(model, rng)
    x = rng.normal(size=(5, 4, 3))
    ours = _ours(model, x)

    def penalty():
        state = {k: v.copy() for k, v in bn.state.items()}
        with gn.GradientTape() as t:
            t.watch(x)
            pred = model(x, training=True)
        g = np.asarray(t.gradient(pred, x))
        for k, v in state.items():
            bn.state[k][...] = v
        return np.mean((np.sqrt(np.sum(g * g, axis=(1, 2))) - 1.0) ** 2)
    weights = model.trainable_weights
    arrays = [weights[0], weights[2], weights[3], x]        # the first kernel, gamma, beta, x
    for a, b in zip([ours[2][0], ours[2][2], ours[2][3], ours[2][-1]], numeric(penalty, arrays)):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-5, atol=1e-7 * (1 + np.abs(b).max()))


def _dcgan_critic(lib):
    """keras.io's DCGAN discriminator, cut down: Conv2D -> BatchNormalization -> LeakyReLU, twice."""
    K = lib.layers
    inp = K.Input((8, 8, 1))
    h = K.LeakyReLU(0.2)(K.Conv2D(4, 3, strides=2, padding="same")(inp))
    h = K.LeakyReLU(0.2)(K.BatchNormalization(momentum=0.8)(K.Conv2D(6, 3, strides=2, padding="same")(h)))
    out = K.Dense(1)(K.Flatten()(h))
    return lib.Model(inp, out, **({"seed": 0} if lib is gn else {}))


def test_batch_normalization_critic_wgan_gp_step_matches_keras(keras, monkeypatch):
    """d_loss, every critic weight's gradient and the moving statistics after the step (three
    training calls: fake, real, interpolated) against Keras 3.15 + nested tf.GradientTape in float32.
    Keras' TF moments take the variance about stop_gradient(mean) (the same values and first
    derivatives, a second derivative off by the 1/n projection: see test_tape_second_order2's
    LayerNormalization critic), so they are made exact here; torch float64 agrees with ours above."""
    import tensorflow as tf
    from keras.src.backend.tensorflow import nn as tf_nn

    def exact_moments(x, axes, keepdims):
        mean = tf.reduce_mean(x, axes, keepdims=True)
        variance = tf.reduce_mean(tf.square(x - mean), axes, keepdims=True)
        return (mean, variance) if keepdims else (tf.squeeze(mean, axes), tf.squeeze(variance, axes))
    monkeypatch.setattr(tf_nn, "_compute_moments", exact_moments)
    D, KD = _dcgan_critic(gn), _dcgan_critic(keras)
    rng = np.random.default_rng(6)
    weights = [w + rng.normal(scale=0.2, size=w.shape).astype(np.float32) for w in D.get_weights()]
    weights[-3] = np.abs(weights[-3]) + 0.5         # (the moving variance: positive)
    D.set_weights(weights)
    KD.set_weights(weights)
    real, fake = (rng.normal(size=(4, 8, 8, 1)).astype(np.float32) for _ in range(2))
    alpha = rng.uniform(size=(4, 1, 1, 1)).astype(np.float32)

    def step(model, tape_class, mean, sqrt, total, square, real, fake):
        with tape_class() as tape:
            d_cost = mean(model(fake, training=True)) - mean(model(real, training=True))
            interpolated = real + alpha * (fake - real)
            with tape_class() as gp_tape:
                gp_tape.watch(interpolated)
                pred = model(interpolated, training=True)
            grads = gp_tape.gradient(pred, [interpolated])[0]
            gp = mean((sqrt(total(square(grads), axis=[1, 2, 3])) - 1.0) ** 2)
            d_loss = d_cost + 10.0 * gp
        return float(d_loss), [np.asarray(g) for g in tape.gradient(d_loss, model.trainable_weights)]

    ours = step(D, gn.GradientTape, ops.mean, ops.sqrt, ops.sum, ops.square, real, fake)
    theirs = step(KD, tf.GradientTape, tf.reduce_mean, tf.sqrt, tf.reduce_sum, tf.square,
                  tf.constant(real), tf.constant(fake))
    assert ours[0] == pytest.approx(theirs[0], rel=1e-5)
    assert len(ours[1]) == len(theirs[1]) == 8
    scale = max(np.abs(b).max() for b in theirs[1])
    for k, (a, b) in enumerate(zip(ours[1], theirs[1])):
        if k == 3:      # the bias before the BatchNormalization: its mean taken out, 0 but float32 noise in both
            assert np.abs(a).max() < 1e-5 * scale and np.abs(b).max() < 1e-5 * scale
            continue
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * np.abs(b).max())
    for a, b in zip(D.get_weights(), KD.get_weights()):         # the moving statistics among them
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert not np.allclose(D.get_weights()[-4], weights[-4])       # (they did move)


def test_batch_normalization_renorm_refused_by_name():
    model = gn.Sequential([L.Input((3,)), L.Dense(4), L.BatchNormalization(renorm=True), L.Dense(1)], seed=0)
    x = np.ones((4, 3), np.float32) + np.arange(4, dtype=np.float32)[:, None]
    with gn.GradientTape():
        with gn.GradientTape() as gp_tape:
            gp_tape.watch(x)
            pred = model(x, training=True)
        with pytest.raises(NotImplementedError, match="BatchNormalization.*renorm=True.*second-order gradient is "
                                                      "not built"):
            gp_tape.gradient(pred, x)


# -- (2) PReLU ---------------------------------------------------------------------------------------
def _prelu_model():
    inp = L.Input((5, 5, 2))
    h = L.Conv2D(3, 3, padding="same")(inp)
    h = L.PReLU(alpha_initializer=gn.initializers.Constant(0.25), shared_axes=[1, 2])(h)  # per channel
    h = L.PReLU(alpha_initializer=gn.initializers.Constant(0.1))(L.Dense(2, activation="tanh")(h))   # per value
    return gn.Model(inp, L.Dense(1)(L.Flatten()(h)), dtype="float64", seed=0)


def test_prelu_matches_torch_and_central_differences(torch):
    """Per-channel (nn.PReLU(channels)) and per-value alpha: their gradients through the penalty."""
    model = _prelu_model()
    rng = np.random.default_rng(2)
    _jitter(model, rng)
    x = rng.normal(size=(3, 5, 5, 2))
    F = torch.nn.functional

    def forward(xt, params):
        ck, cb, a1, dk, db, a2, ok, ob = params
        h = F.conv2d(xt.permute(0, 3, 1, 2), ck.permute(3, 2, 0, 1), cb, padding=1)
        h = F.prelu(h, a1.reshape(-1)).permute(0, 2, 3, 1)
        h = torch.tanh(h @ dk + db)
        h = torch.where(h > 0, h, a2 * h)
        return (h.flatten(1) @ ok + ob).sum()
    ours = _ours(model, x)
    _compare(ours, _theirs(torch, forward, model.trainable_weights, x))

    def penalty():
        with gn.GradientTape() as t:
            t.watch(x)
            pred = model(x, training=True)
        g = np.asarray(t.gradient(pred, x))
        return np.mean((np.sqrt(np.sum(g * g, axis=(1, 2, 3))) - 1.0) ** 2)
    weights = model.trainable_weights
    for k, b in zip((2, 5), numeric(penalty, [weights[2], weights[5]])):       # both alphas
        np.testing.assert_allclose(np.asarray(ours[2][k]), b, rtol=1e-5, atol=1e-8)
    assert np.any(ours[2][2]) and np.any(ours[2][5])


# -- (3) models of several outputs ----------------------------------------------------------------------
def _two_outputs():
    inp = L.Input((3,))
    h = L.Dense(4, activation="tanh")(inp)
    score = L.Dense(1, activation="sigmoid", name="score")(h)
    aux = L.Dense(2, activation="softplus", name="aux")(L.Dense(3, activation="elu")(h))
    return gn.Model(inp, [score, aux], dtype="float64", seed=0)


_TARGETS = {"one": (lambda o: o[0], lambda s, a: s.sum()),
            "other": (lambda o: o[1], lambda s, a: a.sum()),
            "sum": (lambda o: ops.sum(o[0]) + 2.0 * ops.sum(o[1]), lambda s, a: s.sum() + 2 * a.sum()),
            "list": (lambda o: list(o), lambda s, a: s.sum() + a.sum())}


@pytest.mark.parametrize("which", list(_TARGETS))
def test_model_of_two_outputs_matches_torch(torch, which):
    """The inner target one output, a sum of outputs, or a list of both (TF sums their gradients)."""
    model = _two_outputs()
    rng = np.random.default_rng(3)
    _jitter(model, rng)
    x = rng.normal(size=(5, 3))
    ours_target, torch_target = _TARGETS[which]
    F = torch.nn.functional

    def forward(xt, params):
        k1, b1, k3, b3, k2, b2, k4, b4 = params         # (the layers' order: the elu Dense before the heads)
        h = torch.tanh(xt @ k1 + b1)
        return torch_target(torch.sigmoid(h @ k2 + b2), F.softplus(F.elu(h @ k3 + b3) @ k4 + b4))
    assert [w.shape for w in model.trainable_weights][2:6] == [(4, 3), (3,), (4, 1), (1,)]
    _compare(_ours(model, x, target=ours_target), _theirs(torch, forward, model.trainable_weights, x))


def test_list_of_targets_first_order_sums_as_tf(keras):
    """A first-order tape.gradient of a list (and a dict) of targets: the sum of their gradients,
    output_gradients one per target, as tf.GradientTape gives them."""
    import tensorflow as tf
    x = np.random.default_rng(4).normal(size=(3, 2)).astype(np.float32)
    s = np.full((3, 2), 0.5, np.float32)
    with tf.GradientTape(persistent=True) as tt:
        tx = tf.constant(x)
        tt.watch(tx)
        ty, tz = tf.tanh(tx) * 2.0, tf.reduce_sum(tf.square(tx))
    want = tt.gradient([ty, tz], tx).numpy()
    want_s = tt.gradient({"y": ty, "z": tz}, tx, output_gradients={"y": s, "z": 3.0}).numpy()
    with gn.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y, z = ops.tanh(x) * 2.0, ops.sum(ops.square(x))
    np.testing.assert_allclose(tape.gradient([y, z], x), want, rtol=1e-6)
    np.testing.assert_allclose(tape.gradient({"y": y, "z": z}, x, output_gradients={"y": s, "z": 3.0}), want_s,
                               rtol=1e-6)
    with pytest.raises(ValueError, match="output_gradients: expected one per target \\(2\\), got 1"):
        tape.gradient([y, z], x, output_gradients=[s])


# -- (4) what stays refused ----------------------------------------------------------------------------
def test_recurrent_layer_and_inner_jacobian_still_refused_by_name():
    model = gn.Sequential([L.Input((4, 2)), L.SimpleRNN(3), L.Dense(1)], seed=0)
    x = np.ones((2, 4, 2), np.float32)
    with gn.GradientTape():
        with gn.GradientTape() as gp_tape:
            gp_tape.watch(x)
            pred = model(x, training=True)
        with pytest.raises(NotImplementedError, match="SimpleRNN.*second-order gradient is not built"):
            gp_tape.gradient(pred, x)
    with gn.GradientTape():
        with gn.GradientTape() as gp_tape:
            gp_tape.watch(x)
            pred = model(x)
        with pytest.raises(NotImplementedError, match="GradientTape.jacobian: .*higher-order"):
            gp_tape.jacobian(pred, x)


def test_jacobian_of_a_recorded_gradient_is_the_hessian(torch):
    """outer.jacobian(G, x) after the outer block: the Hessian (one replay of the recorded
    gradient's reverse pass per entry), and batch_jacobian its per-sample blocks, as torch's."""
    model = gn.Sequential([L.Input((3,)), L.Dense(4, activation="tanh"),
                           L.PReLU(alpha_initializer=gn.initializers.Constant(0.2)), L.Dense(1, activation="softplus")],
                          seed=0, dtype="float64")
    x = np.random.default_rng(5).normal(size=(2, 3))
    hessians = []
    for ask in ("jacobian", "batch_jacobian"):
        with gn.GradientTape() as outer:
            outer.watch(x)
            with gn.GradientTape() as inner:
                inner.watch(x)
                y = model(x)
            g = inner.gradient(y, x)
        hessians.append(np.asarray(getattr(outer, ask)(g, x)))
    k, b, a, k2, b2 = (torch.tensor(w) for w in model.get_weights())
    h = lambda xt: torch.nn.functional.softplus(torch.where(torch.tanh(xt @ k + b) > 0, torch.tanh(xt @ k + b),   # noqa: E731
                                                           a * torch.tanh(xt @ k + b)) @ k2 + b2).sum()
    want = torch.autograd.functional.hessian(h, torch.tensor(x)).numpy()
    np.testing.assert_allclose(hessians[0], want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(hessians[1], np.einsum("iaib->iab", want), rtol=0, atol=1e-12)
