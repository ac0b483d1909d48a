"""Second-order tape gradients through glassnet.ops (glassnet._tape_second_ops): random chains of
recorded ops and layer calls, with weights the outer tape watches, against torch autograd with
create_graph=True in float64 (1e-10); a physics-informed d u/dx loss against torch and against
Keras 3.15 + nested tf.GradientTape (float32); a gradient penalty on ops.concatenate([x, labels]);
a subclass critic whose call uses ops; PReLU; the refusals by name of what stays unbuilt."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from central_differences import numeric

L = gn.layers
D = 4


# -- blocks: the same map in glassnet ops and in torch; each keeps the shape (n, D) ------------------
def _blocks(torch, rng):
    """[(name, glassnet f(h, p), torch f(h, p))]; p: the weights the outer tape watches (by name)."""
    tt = torch
    return [
        ("tanh_matmul", lambda h, p: ops.tanh(ops.matmul(h, p["w"]) + p["b"]),
         lambda h, p: tt.tanh(h @ p["w"] + p["b"])),
        ("silu_product", lambda h, p: h * ops.sigmoid(h), lambda h, p: h * tt.sigmoid(h)),
        ("softmax_scaled", lambda h, p: ops.softmax(h, axis=-1) * p["d"], lambda h, p: tt.softmax(h, -1) * p["d"]),
        ("divide", lambda h, p: h / (1.5 + ops.square(h)), lambda h, p: h / (1.5 + h * h)),
        ("maximum", lambda h, p: ops.maximum(h, 0.3 * h) + ops.minimum(h, p["d"]),
         lambda h, p: tt.maximum(h, 0.3 * h) + tt.minimum(h, p["d"].expand_as(h))),
        ("softplus_sqrt", lambda h, p: ops.log(1 + ops.exp(h)) + ops.sqrt(h * h + 1.0),
         lambda h, p: tt.log(1 + tt.exp(h)) + tt.sqrt(h * h + 1.0)),
        ("powers", lambda h, p: ops.power(ops.abs(h) + 1.0, 1.5) + ops.power(ops.sigmoid(h) + 0.5, ops.tanh(h)),
         lambda h, p: (tt.abs(h) + 1.0) ** 1.5 + (tt.sigmoid(h) + 0.5) ** tt.tanh(h)),
        ("concat_reshape", lambda h, p: ops.sum(ops.reshape(ops.concatenate([h, ops.sin(h)], axis=1), (-1, 2, D)),
                                                axis=1),
         lambda h, p: tt.cat([h, tt.sin(h)], 1).reshape(-1, 2, D).sum(1)),
        ("stack_lse", lambda h, p: ops.logsumexp(ops.stack([h, ops.cos(h), h * h], axis=-1), axis=-1),
         lambda h, p: tt.logsumexp(tt.stack([h, tt.cos(h), h * h], -1), -1)),
        ("where", lambda h, p: ops.where(np.asarray(h) > 0, h, ops.expm1(h)),
         lambda h, p: tt.where(h > 0, h, tt.expm1(h))),
        ("einsum", lambda h, p: ops.einsum("ij,jk->ik", h, p["m"]) * ops.tanh(h),
         lambda h, p: tt.einsum("ij,jk->ik", h, p["m"]) * tt.tanh(h)),
        ("transpose_dims", lambda h, p: ops.squeeze(ops.transpose(ops.expand_dims(h, 1), (0, 2, 1)), 2) * h,
         lambda h, p: h.unsqueeze(1).permute(0, 2, 1).squeeze(2) * h),
        ("log_softmax_clip", lambda h, p: ops.log_softmax(h, axis=1) + ops.clip(h, -0.5, 0.5) * h,
         lambda h, p: tt.log_softmax(h, 1) + tt.clamp(h, -0.5, 0.5) * h),
        ("centred_max", lambda h, p: (h - ops.mean(h, axis=1, keepdims=True)) * ops.max(h, axis=1, keepdims=True),
         lambda h, p: (h - h.mean(1, keepdim=True)) * h.max(1, keepdim=True).values),
        ("indexing", lambda h, p: ops.concatenate([h[:, 1:], h[:, :1] * 2.0], axis=1) + ops.gelu(h, approximate=False),
         lambda h, p: tt.cat([h[:, 1:], h[:, :1] * 2.0], 1) + torch.nn.functional.gelu(h)),
    ]


def _weights(rng):
    return {"w": rng.normal(size=(D, D)) * 0.6, "b": rng.normal(size=(D,)) * 0.3, "d": rng.normal(size=(D,)),
            "m": rng.normal(size=(D, D)) * 0.5}


def _dense(rng):
    layer = L.Dense(D, activation="tanh", dtype="float64")
    layer.build((D,))
    layer.set_weights([rng.normal(size=(D, D)) * 0.5, rng.normal(size=(D,)) * 0.2])
    return layer


@pytest.mark.parametrize("seed", range(8))
def test_random_chains_of_ops_and_layers_match_torch(torch, seed):
    """u = sum over features of a random chain (ops blocks and a Dense call); g = du/dx on the inner
    tape; loss = mean(g^2) + sum(g * tanh(x)): g and d loss/d (watched weights, the Dense's) against
    torch's create_graph in float64."""
    rng = np.random.default_rng(seed)
    blocks = _blocks(torch, rng)
    chosen = [blocks[k] for k in rng.choice(len(blocks), size=4, replace=False)]
    dense, p = _dense(rng), _weights(rng)
    place = int(rng.integers(0, 5))             # where the Dense call goes in the chain
    x = rng.normal(size=(5, D))
    with gn.GradientTape() as outer:
        outer.watch(list(p.values()))
        with gn.GradientTape() as inner:
            inner.watch(x)
            h = ops.convert_to_tensor(x)
            for k, (_, f, _) in enumerate(chosen):
                h = dense(h) if k == place else h
                h = f(h, p)
            h = dense(h) if place == 4 else h
            u = ops.sum(h, axis=1)
        g = inner.gradient(u, x)
        loss = ops.mean(ops.square(g)) + ops.sum(g * np.tanh(x))
    ours = outer.gradient(loss, [*p.values(), *dense.trainable_weights])

    T = lambda a: torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=True)   # noqa: E731
    tp = {k: T(v) for k, v in p.items()}
    tk, tb = T(dense.params["kernel"]), T(dense.params["bias"])
    tx = T(x)
    th = tx
    for k, (_, _, f) in enumerate(chosen):
        th = torch.tanh(th @ tk + tb) if k == place else th
        th = f(th, tp)
    th = torch.tanh(th @ tk + tb) if place == 4 else th
    tg, = torch.autograd.grad(th.sum(), tx, create_graph=True)
    tloss = (tg ** 2).mean() + (tg * torch.tanh(tx)).sum()
    want = torch.autograd.grad(tloss, [*tp.values(), tk, tb], allow_unused=True)
    names = [name for name, _, _ in chosen]
    np.testing.assert_allclose(np.asarray(g), tg.detach().numpy(), rtol=1e-10, atol=1e-10, err_msg=str(names))
    for got, w, key in zip(ours, want, [*p, "kernel", "bias"]):
        if w is None:
            assert got is None or np.allclose(got, 0), (names, key)
            continue
        assert got is not None, (names, key)
        np.testing.assert_allclose(got, w.numpy(), rtol=1e-10, atol=1e-10, err_msg=f"{names} {key}")


def test_chain_gradient_matches_central_differences():
    """One chain's d loss/d w against float64 central differences of the penalty the first-order tape computes."""
    rng = np.random.default_rng(11)
    w, x = rng.normal(size=(D, D)) * 0.6, rng.normal(size=(3, D))

    def penalty(record=None):
        with gn.GradientTape() as inner:
            inner.watch(x)
            h = ops.tanh(ops.matmul(x, w))
            u = ops.logsumexp(ops.concatenate([h * h, ops.exp(h) / (1.0 + h * h)], axis=1), axis=1)
        g = inner.gradient(u, x)
        return ops.mean(ops.square(g - 0.1))

    with gn.GradientTape() as outer:
        outer.watch(w)
        loss = penalty()
    ours = outer.gradient(loss, w)
    want, = numeric(lambda: penalty(), [w])
    np.testing.assert_allclose(ours, want, rtol=1e-6, atol=1e-8)


# -- a physics-informed loss: u = mlp(x), du/dx - f(x) ----------------------------------------------
def _pinn(dtype):
    model = gn.Sequential([L.Input((1,)), L.Dense(8, activation="tanh"), L.Dense(8, activation="tanh"), L.Dense(1)],
                          seed=3, dtype=dtype)
    return model


def _pinn_ours(model, x):
    with gn.GradientTape() as outer:
        with gn.GradientTape() as inner:
            inner.watch(x)
            u = model(x, training=True)
        du = inner.gradient(u, x)
        loss = ops.mean(ops.square(du - ops.cos(np.asarray(x) * 3.0)))
    return du, loss, outer.gradient(loss, model.trainable_weights)


def test_pinn_derivative_loss_matches_torch(torch):
    model = _pinn("float64")
    x = np.linspace(-1, 1, 7).reshape(-1, 1)
    du, loss, ours = _pinn_ours(model, x)
    W = [torch.tensor(np.asarray(w), requires_grad=True) for w in model.trainable_weights]
    tx = torch.tensor(x, requires_grad=True)
    h = torch.tanh(torch.tanh(tx @ W[0] + W[1]) @ W[2] + W[3]) @ W[4] + W[5]
    tdu, = torch.autograd.grad(h.sum(), tx, create_graph=True)
    tloss = ((tdu - torch.cos(tx * 3.0)) ** 2).mean()
    want = torch.autograd.grad(tloss, W, allow_unused=True)
    np.testing.assert_allclose(np.asarray(du), tdu.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(float(loss), float(tloss), rtol=1e-10)
    for got, w in zip(ours, want):
        if w is None:           # (the last bias: du/dx does not depend on it)
            assert got is None
        else:
            np.testing.assert_allclose(got, w.numpy(), rtol=1e-10, atol=1e-12)


def test_pinn_derivative_loss_matches_keras_nested_tapes(keras):
    import tensorflow as tf
    model = _pinn("float32")
    x = np.linspace(-1, 1, 7, dtype=np.float32).reshape(-1, 1)
    du, loss, ours = _pinn_ours(model, x)
    km = keras.Sequential([keras.Input((1,)), keras.layers.Dense(8, activation="tanh"),
                           keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
    km.set_weights(model.get_weights())
    tx = tf.constant(x)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(tx)
            u = km(tx, training=True)
        tdu = inner.gradient(u, tx)
        tloss = tf.reduce_mean(tf.square(tdu - tf.cos(tx * 3.0)))
    want = outer.gradient(tloss, km.trainable_weights)
    np.testing.assert_allclose(np.asarray(du), tdu.numpy(), rtol=1e-5, atol=1e-6)
    for got, w in zip(ours, want):
        if w is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, w.numpy(), rtol=1e-4, atol=1e-5)


def test_ops_only_pinn_with_watched_weights_matches_torch(torch):
    """The loop written with ops alone: h = tanh(x w1 + b1), u = h w2; weights watched by the outer tape."""
    rng = np.random.default_rng(4)
    p = [rng.normal(size=(1, 6)), rng.normal(size=(6,)), rng.normal(size=(6, 1))]
    x = np.linspace(-1, 1, 5).reshape(-1, 1)
    with gn.GradientTape() as outer:
        outer.watch(p)
        with gn.GradientTape() as inner:
            inner.watch(x)
            u = ops.matmul(ops.tanh(ops.matmul(x, p[0]) + p[1]), p[2])
        du = inner.gradient(u, x)
        loss = ops.mean(ops.square(du - x * x))
    ours = outer.gradient(loss, p)
    tp = [torch.tensor(a, requires_grad=True) for a in p]
    tx = torch.tensor(x, requires_grad=True)
    tu = torch.tanh(tx @ tp[0] + tp[1]) @ tp[2]
    tdu, = torch.autograd.grad(tu.sum(), tx, create_graph=True)
    want = torch.autograd.grad(((tdu - tx * tx) ** 2).mean(), tp)
    for got, w in zip(ours, want):
        np.testing.assert_allclose(got, w.numpy(), rtol=1e-10, atol=1e-12)


# -- a gradient penalty on ops.concatenate([x, labels]); a subclass critic using ops ----------------
def _critic(width):
    return gn.Sequential([L.Input((width,)), L.Dense(6, activation="softplus"), L.Dense(1)], seed=2, dtype="float64")


def test_penalty_on_concatenated_labels_matches_torch(torch):
    critic = _critic(5)
    rng = np.random.default_rng(8)
    x, labels = rng.normal(size=(4, 3)), np.eye(2)[[0, 1, 1, 0]]
    with gn.GradientTape() as outer:
        with gn.GradientTape() as inner:
            inner.watch(x)
            pred = critic(ops.concatenate([x, labels], axis=1), training=True)
        g = inner.gradient(pred, x)
        gp = ops.mean(ops.square(ops.sqrt(ops.sum(ops.square(g), axis=1)) - 1.0))
    ours = outer.gradient(gp, critic.trainable_weights)
    W = [torch.tensor(np.asarray(w), requires_grad=True) for w in critic.trainable_weights]
    tx = torch.tensor(x, requires_grad=True)
    tpred = torch.nn.functional.softplus(torch.cat([tx, torch.tensor(labels)], 1) @ W[0] + W[1]) @ W[2] + W[3]
    tg, = torch.autograd.grad(tpred.sum(), tx, create_graph=True)
    tgp = ((tg.pow(2).sum(1).sqrt() - 1) ** 2).mean()
    want = torch.autograd.grad(tgp, W, allow_unused=True)
    for got, w in zip(ours, want):
        if w is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, w.numpy(), rtol=1e-10, atol=1e-12)


class _OpsCritic(gn.Model):
    def __init__(self):
        super().__init__(dtype="float64")
        self.d1, self.d2 = L.Dense(4), L.Dense(1)

    def call(self, x, training=False):
        h = self.d1(x)
        h = ops.tanh(h) * h + 0.5
        return self.d2(h / (1 + ops.square(h)) - ops.mean(h, axis=1, keepdims=True))


def test_subclass_critic_using_ops_matches_torch(torch):
    critic = _OpsCritic()
    x = np.random.default_rng(0).normal(size=(3, 2))
    critic(x)
    with gn.GradientTape() as outer:
        with gn.GradientTape() as inner:
            inner.watch(x)
            pred = critic(x, training=True)
        g = inner.gradient(pred, x)
        loss = ops.mean(ops.square(g))
    ours = outer.gradient(loss, critic.trainable_weights)
    W = [torch.tensor(np.asarray(w, np.float64), requires_grad=True) for w in critic.trainable_weights]
    tx = torch.tensor(x, requires_grad=True)
    h = tx @ W[0] + W[1]
    h = torch.tanh(h) * h + 0.5
    y = (h / (1 + h ** 2) - h.mean(1, keepdim=True)) @ W[2] + W[3]
    tg, = torch.autograd.grad(y.sum(), tx, create_graph=True)
    want = torch.autograd.grad((tg ** 2).mean(), W, allow_unused=True)
    np.testing.assert_allclose(np.asarray(g), tg.detach().numpy(), rtol=1e-10, atol=1e-12)
    for got, w in zip(ours, want):
        if w is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, w.numpy(), rtol=1e-10, atol=1e-12)


def test_second_input_recorded_by_the_outer_tape_gets_its_gradient():
    """A condition the outer tape recorded (c = s * z, s watched) beside the source: d penalty/d s
    reaches s through the penalty, against central differences (the refusal it replaces)."""
    x_in, c_in = L.Input((3,)), L.Input((2,))
    h = L.Concatenate()([L.Dense(4, activation="tanh")(x_in), c_in])
    h = L.Multiply()([L.Dense(5, activation="tanh")(h), L.Dense(5)(c_in)])
    model = gn.Model([x_in, c_in], L.Dense(1)(h), dtype="float64")
    rng = np.random.default_rng(2)
    x, z, s = rng.normal(size=(4, 3)), rng.normal(size=(4, 2)), rng.normal(size=(2,))

    def penalty():
        with gn.GradientTape() as inner:
            inner.watch(x)
            pred = model([x, ops.multiply(z, s)], training=True)
        return ops.mean(ops.square(inner.gradient(pred, x)))

    with gn.GradientTape() as outer:
        outer.watch(s)
        loss = penalty()
    ours = outer.gradient(loss, s)
    want, = numeric(penalty, [s])
    np.testing.assert_allclose(ours, want, rtol=1e-6, atol=1e-9)


# -- refusals by name --------------------------------------------------------------------------------
@pytest.mark.parametrize("op, name", [(lambda h: ops.std(h, axis=1), "ops.std"),
                                      (lambda h: ops.sort(h, axis=1), "ops.sort"),
                                      (lambda h: ops.prod(h, axis=1), "ops.prod")])
def test_ops_without_rules_refused_by_name(op, name):
    x = np.ones((2, 3))
    with gn.GradientTape():
        with gn.GradientTape() as inner:
            inner.watch(x)
            y = op(ops.tanh(x))
        with pytest.raises(NotImplementedError, match=f"{name} on the inner tape.*ops covered"):
            inner.gradient(y, x)
