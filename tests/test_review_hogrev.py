"""Review of nested-tape (second-order) gradients, glassnet._tape_second: silent wrong shapes,
values and None found by fuzzing against torch autograd create_graph=True (float64) and Keras 3.15."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

L = gn.layers


def _torch_grads(torch, forward, weights, x, sources, penalty):
    """torch's d penalty(inner gradients) / d(weights, x); ``sources(xt, W)`` gives (target, the
    values the inner gradient is taken for)."""
    W = [torch.tensor(np.array(w), requires_grad=True) for w in weights]
    xt = torch.tensor(x, requires_grad=True)
    target, srcs = sources(xt, W, forward)
    inner = torch.autograd.grad(target, srcs, torch.ones_like(target), create_graph=True)
    pen = penalty(*inner, xt)
    return [g.detach().numpy() for g in inner], \
        [None if g is None else g.numpy() for g in torch.autograd.grad(pen, W + [xt], allow_unused=True)]


def _check(ours, theirs):
    for a, b in zip(ours, theirs):
        if b is None:
            assert a is None or np.abs(np.asarray(a)).max() == 0
        else:
            assert a is not None
            np.testing.assert_allclose(np.asarray(a), b, rtol=0, atol=1e-10)


@pytest.mark.parametrize("layers, shape", [
    (lambda: [L.Dense(4), L.Dense(1)], (5,)),
    (lambda: [L.Conv2D(2, 2), L.Flatten(), L.Dense(1)], (4, 4, 1))])
def test_affine_chain_gives_no_input_gradient_of_the_wrong_shape(torch, layers, shape):
    """A chain of linear activations: G = d(pred)/dx does not depend on x. The second-order node
    gave x zeros of the *output's* shape ((3, 1) for x (3, 5)), and failed adding them to x's
    other gradient (a penalty reading x too); torch and TF give nothing (None) there."""
    model = gn.Sequential([L.Input(shape)] + layers(), seed=0, dtype="float64")
    x = np.random.default_rng(0).normal(size=(3, *shape))
    with gn.GradientTape(persistent=True) as tape:
        tape.watch(x)
        with gn.GradientTape() as gp:
            gp.watch(x)
            pred = model(x)
        g = gp.gradient(pred, x)
        pen = ops.sum(ops.square(g))
        pen_x = pen + ops.sum(g * x)
    grads = tape.gradient(pen, model.trainable_weights + [x])
    assert grads[-1] is None
    grads_x = tape.gradient(pen_x, model.trainable_weights + [x])
    assert grads_x[-1].shape == x.shape

    ws = [np.array(w) for w in model.trainable_weights]
    if len(shape) == 1:
        fwd = lambda h, W: (h @ W[0] + W[1]) @ W[2] + W[3]                         # noqa: E731
    else:
        conv = lambda h, W: torch.nn.functional.conv2d(                               # noqa: E731
            h.movedim(-1, 1), W[0].permute(3, 2, 0, 1).contiguous()).movedim(1, -1) + W[1]
        fwd = lambda h, W: conv(h, W).reshape(h.shape[0], -1) @ W[2] + W[3]          # noqa: E731
    _, theirs = _torch_grads(torch, fwd, ws, x, lambda xt, W, f: (f(xt, W), [xt]),
                             lambda g, xt: (g ** 2).sum() + (g * xt).sum())
    _check(grads_x, theirs)


@pytest.mark.parametrize("tail", [ops.sum, ops.mean, lambda p: p[:, 1]])
def test_layer_call_given_a_mask_is_refused_not_replayed_without_it(tail):
    """GlobalAveragePooling1D(x, mask=m) alone on the inner tape, ended by ops.sum: the replay ran
    the pooling without the mask (averaging the padding too) and the check that the replay gives
    the recorded output was skipped after a tail op: the inner gradient was 1/steps everywhere
    where the first-order one (and TF's) is m / sum(m). Refused by name now."""
    x = np.random.default_rng(0).normal(size=(2, 4, 3))
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 0]], bool)
    gap = L.GlobalAveragePooling1D(dtype="float64")
    with gn.GradientTape():
        with gn.GradientTape() as gp:
            gp.watch(x)
            target = tail(gap(x, mask=mask))
        with pytest.raises(NotImplementedError, match="GlobalAveragePooling1D.*mask"):
            gp.gradient(target, x)


def test_two_sources_on_one_chain_each_get_their_gradient(torch):
    """gp.gradient(pred, [x, h]) for pred = B(A(x)), h = A(x): the walk stopped at the first source
    it met (h), so x got None where the first-order gradient (and TF's, torch's) is dpred/dx; [x, x]
    gave the second None; [h, A's kernel] gave the kernel None instead of the refusal by name."""
    x = np.random.default_rng(0).normal(size=(3, 4))
    A = gn.Sequential([L.Input((4,)), L.Dense(3, activation="elu")], dtype="float64", seed=1)
    B = gn.Sequential([L.Input((3,)), L.Dense(1, activation="tanh")], dtype="float64", seed=2)
    with gn.GradientTape() as tape:
        tape.watch(x)
        with gn.GradientTape() as gp:
            gp.watch(x)
            h = A(x)
            pred = B(h)
        gx, gh, gx2 = gp.gradient(pred, [x, h, x])
        pen = ops.sum(ops.square(gx)) + ops.sum(gh * gh * gh) + ops.sum(gx2 * x)
    grads = tape.gradient(pen, A.trainable_weights + B.trainable_weights + [x])
    F = torch.nn.functional

    def sources(xt, W, forward):
        ht = F.elu(xt @ W[0] + W[1])
        return torch.tanh(ht @ W[2] + W[3]), [xt, ht]
    inner, theirs = _torch_grads(torch, None, A.get_weights() + B.get_weights(), x, sources,
                                 lambda tgx, tgh, xt: (tgx ** 2).sum() + (tgh ** 3).sum() + (tgx * xt).sum())
    np.testing.assert_allclose(np.asarray(gx), inner[0], atol=1e-12)
    np.testing.assert_allclose(np.asarray(gh), inner[1], atol=1e-12)
    np.testing.assert_array_equal(np.asarray(gx2), np.asarray(gx))
    _check(grads, theirs)
    with gn.GradientTape():
        with gn.GradientTape() as gp:
            gp.watch(x)
            h = A(x)
            pred = B(h)
        with pytest.raises(NotImplementedError, match="with respect to a weight"):
            gp.gradient(pred, [h, A.trainable_weights[0]])


def test_linear_ops_of_the_source_alone_give_their_constant_gradient():
    """ops.sum(x) (or a mean of a reshape) on the inner tape, no model: TF gives the constant
    d target/dx (ones); the nested gradient was None."""
    x = np.random.default_rng(0).normal(size=(3, 4))
    for f, want in ((ops.sum, np.ones((3, 4))),
                    (lambda v: ops.mean(ops.reshape(v, (4, 3))[1:]), np.r_[np.zeros(3), np.full(9, 1 / 9)].reshape(3, 4))):
        with gn.GradientTape() as tape:
            tape.watch(x)
            with gn.GradientTape() as gp:
                gp.watch(x)
                target = f(x)
            g = gp.gradient(target, x)
        assert g is not None
        np.testing.assert_allclose(np.asarray(g), want, atol=1e-15)
