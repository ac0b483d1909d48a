"""Review ports43: keras.io / PyTorch examples exercising the second-order tape, ported as written.

PyTorch's improved-WGAN critic (caogang/wgan-gp's gan_mnist.py: convolutions, then `out.view(n, -1)`
into a Linear) ported by docs/pytorch.md's rule for the flatten, `Permute((3, 1, 2))` then `Flatten()`,
with its `autograd.grad(..., create_graph=True)` gradient penalty on nested gn.GradientTapes."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

L = gn.layers
DIM, B = 2, 3


def _torch_critic(torch):
    nn = torch.nn

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.main = nn.Sequential(nn.Conv2d(1, DIM, 5, stride=2, padding=2), nn.ReLU(True),
                                      nn.Conv2d(DIM, 2 * DIM, 5, stride=2, padding=2), nn.ReLU(True))
            self.output = nn.Linear(4 * 4 * 2 * DIM, 1)

        def forward(self, input):
            out = self.main(input.view(-1, 1, 16, 16))
            return self.output(out.view(-1, 4 * 4 * 2 * DIM))
    torch.manual_seed(0)
    return Discriminator()


def _port(net):
    """docs/pytorch.md's rules: padding=2 as ZeroPadding2D(2), the flatten as Permute((3, 1, 2)) + Flatten."""
    model = gn.Sequential([L.Input((256,)), L.Reshape((16, 16, 1)),
                           L.ZeroPadding2D(2), L.Conv2D(DIM, 5, strides=2), L.ReLU(),
                           L.ZeroPadding2D(2), L.Conv2D(2 * DIM, 5, strides=2), L.ReLU(),
                           L.Permute((3, 1, 2)), L.Flatten(), L.Dense(1)], dtype="float64")
    w = [p.detach().numpy() for p in net.parameters()]
    model.set_weights([w[0].transpose(2, 3, 1, 0), w[1], w[2].transpose(2, 3, 1, 0), w[3], w[4].T, w[5]])
    return model


def test_pytorch_wgan_gp_critic_with_permute_matches_torch_create_graph(torch):
    """The penalty, its gradient with respect to every critic weight and to the real and fake batches
    (through the interpolation), as torch's `autograd.grad(create_graph=True)` then `backward`.
    Before: Permute in the inner graph was refused (NotImplementedError), though it is linear."""
    net = _torch_critic(torch)
    model = _port(net)
    rng = np.random.default_rng(0)
    real, fake = rng.uniform(size=(B, 256)), rng.uniform(size=(B, 256))
    alpha = rng.uniform(size=(B, 1))

    # PyTorch, as gan_mnist.py's calc_gradient_penalty (LAMBDA = 10), plus the critic's costs
    r, f = torch.tensor(real, requires_grad=True), torch.tensor(fake, requires_grad=True)
    alpha_t = torch.tensor(alpha)
    interpolates = alpha_t * r + (1 - alpha_t) * f
    disc = net(interpolates)
    g, = torch.autograd.grad(outputs=disc, inputs=interpolates, grad_outputs=torch.ones(disc.size()),
                             create_graph=True, retain_graph=True, only_inputs=True)
    penalty = ((g.norm(2, dim=1) - 1) ** 2).mean() * 10
    cost = net(f).mean() - net(r).mean() + penalty
    params = list(net.parameters())
    expected = [t.numpy() for t in torch.autograd.grad(cost, params + [r, f])]

    # the port: nested tapes, the inner gradient recorded on the outer one
    with gn.GradientTape() as tape:
        tape.watch(real)
        tape.watch(fake)
        x_real, x_fake = ops.convert_to_tensor(real), ops.convert_to_tensor(fake)
        inter = alpha * x_real + (1 - alpha) * x_fake
        with gn.GradientTape() as gp_tape:
            gp_tape.watch(inter)
            pred = model(inter, training=True)
        grads = gp_tape.gradient(pred, inter, output_gradients=np.ones((B, 1)))
        gp = ops.mean((ops.norm(grads, axis=1) - 1) ** 2) * 10
        d_cost = ops.mean(model(x_fake, training=True)) - ops.mean(model(x_real, training=True)) + gp
    ours = tape.gradient(d_cost, model.trainable_weights + [real, fake])
    assert float(d_cost) == pytest.approx(float(cost.detach()), abs=1e-12)
    w = expected
    for a, b in zip(ours, [w[0].transpose(2, 3, 1, 0), w[1], w[2].transpose(2, 3, 1, 0), w[3], w[4].T, w[5],
                           w[6], w[7]]):
        np.testing.assert_allclose(np.asarray(a), b, rtol=0, atol=1e-10)


def test_refusal_names_the_layer_class_once():
    """The refusal of a layer without a second-order rule named its class twice ("(MaxPooling1D) (MaxPooling1D)"; max pooling and BatchNormalization are covered since: a SimpleRNN here)."""
    model = gn.Sequential([L.Input((4, 2)), L.Dense(3), L.SimpleRNN(3, return_sequences=True, name="rnn"), L.Flatten(),
                           L.Dense(1)], seed=0)
    x = np.ones((2, 4, 2), np.float32)
    with gn.GradientTape():
        with gn.GradientTape() as gp_tape:
            gp_tape.watch(x)
            pred = model(x, training=True)
        with pytest.raises(NotImplementedError, match=r"layer rnn \(SimpleRNN\) is not among them"):
            gp_tape.gradient(pred, x)
