"""Review (differential fuzz) of ``data_format="channels_first"`` against PyTorch's NCHW ops and Keras 3.15."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

L = gn.layers


def _same(F, x, k):
    """TensorFlow's "same" padding (stride 1) of NCHW x for a k x k kernel: the odd pixel after."""
    before, after = (k - 1) // 2, k // 2
    return F.pad(x, (before, after, before, after))


# (layers, sample shape (C, H, W), the same network on NCHW torch tensors with the model's weights)
SECOND_ORDER = {
    # C == W: read channels last, the batch ran (wrong numbers, then refused as "not replayed")
    "conv": (lambda: [L.Conv2D(3, 3, padding="same", activation="tanh", data_format="channels_first"),
                      L.Flatten(data_format="channels_first"), L.Dense(1)], (2, 4, 2),
             lambda t, F, x, w: (t.tanh(F.conv2d(_same(F, x, 3), w[0].permute(3, 2, 0, 1), w[1]))
                                 .permute(0, 2, 3, 1).flatten(1) @ w[2] + w[3])),
    "conv_maxpool": (lambda: [L.Conv2D(3, 2, activation="tanh", data_format="channels_first"),
                              L.MaxPooling2D(2, data_format="channels_first"),
                              L.Conv2D(2, 2, strides=2, padding="same", data_format="channels_first"),
                              L.Flatten(data_format="channels_first"), L.Dense(1, activation="tanh")], (2, 7, 9),
                     lambda t, F, x, w: t.tanh(F.conv2d(F.pad(F.max_pool2d(t.tanh(F.conv2d(
                         x, w[0].permute(3, 2, 0, 1), w[1])), 2), (0, 1, 0, 1)), w[2].permute(3, 2, 0, 1), w[3],
                         stride=2).permute(0, 2, 3, 1).flatten(1) @ w[4] + w[5])),
    "conv1d_maxpool": (lambda: [L.Conv1D(3, 2, dilation_rate=2, activation="sigmoid", data_format="channels_first"),
                                L.MaxPooling1D(2, data_format="channels_first"),
                                L.Flatten(data_format="channels_first"), L.Dense(1)], (2, 9),
                       lambda t, F, x, w: F.max_pool1d(t.sigmoid(F.conv1d(x, w[0].permute(2, 1, 0), w[1],
                                                                           dilation=2)), 2)
                       .permute(0, 2, 1).flatten(1) @ w[2] + w[3]),
}


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_second_order_tape_through_channels_first_layers_matches_torch(name, torch):
    """A gradient penalty (a nested tape) through channels-first Conv2D and MaxPooling2D: the
    second-order rules ran conv_forward and the pooling's winners on the channels-first batch as
    if it were channels last (a crash naming a window larger than the input, or wrong numbers)."""
    make, shape, forward = SECOND_ORDER[name]
    model = gn.Sequential([L.Input(shape)] + make(), seed=0, dtype="float64")
    rng = np.random.default_rng(3)
    model.set_weights([rng.normal(size=w.shape) * 0.5 for w in model.get_weights()])
    x = np.random.default_rng(7).permutation(2 * int(np.prod(shape))).reshape(2, *shape) / 9.0
    params = [p for layer in model.layers for p in layer.params.values()]
    with gn.GradientTape() as tape:
        tape.watch(x)
        with gn.GradientTape() as gp_tape:
            gp_tape.watch(x)
            pred = model(x, training=True)
        g = gp_tape.gradient(pred, x)
        pen = ops.sum(ops.square(g))
    grads = tape.gradient(pen, params + [x])

    xt = torch.tensor(x, requires_grad=True)
    wt = [torch.tensor(w, requires_grad=True) for w in model.get_weights()]
    out = forward(torch, torch.nn.functional, xt, wt)
    gt, = torch.autograd.grad(out.sum(), xt, create_graph=True)
    expected = torch.autograd.grad(gt.square().sum(), wt + [xt], allow_unused=True)
    np.testing.assert_allclose(np.asarray(g), gt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(float(pen), float(gt.detach().square().sum()), rtol=1e-10)
    for p, a, b in zip(params + [x], grads, expected):     # (None: no path, zero; the last bias's)
        a = np.zeros_like(p) if a is None else np.asarray(a)
        np.testing.assert_allclose(a, 0 if b is None else b.numpy(), rtol=1e-9, atol=1e-11)
