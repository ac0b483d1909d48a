"""PyTorch's tutorials ported to glassnet (review "torchtut"): the porting guide, docs/pytorch.md,
runs as written and its rules train as PyTorch does; an object that is neither an array nor
batches glassnet reads is refused by its class, not as "an array of dtype object"."""
import re
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn

L = gn.layers
ROOT = Path(__file__).resolve().parents[1]


def _guide_code():
    path = ROOT / "docs" / "pytorch.md"
    if not path.exists():
        pytest.fail("docs/pytorch.md (porting a PyTorch model) is missing")
    return compile(re.search(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S).group(1),
                   str(path), "exec")


def test_the_porting_guide_runs_and_trains_as_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    namespace = {}
    exec(_guide_code(), namespace)          # asserts its own predictions against torch's
    model, net = namespace["model"], namespace["torch_net"]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 3, 32, 32)).astype("float32")
    y = rng.integers(0, 10, 16)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                         batch_size=4)
    opt = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    losses = []
    for _ in range(2):
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item()
        losses.append(total / len(loader))
    history = model.fit(loader, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-5)
    ported = namespace["conv"](net[0]) + namespace["conv"](net[3]) + namespace["linear"](net[7])
    for mine, theirs in zip(model.get_weights(), ported):
        np.testing.assert_allclose(mine, theirs, atol=1e-5)


def test_torch_padding_1_is_zero_padding_then_valid_and_same_is_not():
    """The guide's padding rule on the CNN of "What is torch.nn really?" (stride 2, padding=1)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 4, 3, stride=2, padding=1).double()
    x = np.random.default_rng(0).random((3, 28, 28, 1))
    expected = conv(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).detach().numpy()
    weights = [conv.weight.detach().numpy().transpose(2, 3, 1, 0), conv.bias.detach().numpy()]
    padded = gn.Sequential([gn.Input((28, 28, 1)), L.ZeroPadding2D(1), L.Conv2D(4, 3, strides=2)], dtype="float64")
    same = gn.Sequential([gn.Input((28, 28, 1)), L.Conv2D(4, 3, strides=2, padding="same")], dtype="float64")
    padded.set_weights(weights)
    same.set_weights(weights)
    np.testing.assert_allclose(padded.predict(x, verbose=0), expected, atol=1e-12)
    assert same.predict(x, verbose=0).shape == expected.shape
    assert np.abs(same.predict(x, verbose=0) - expected).max() > 1e-3     # TensorFlow's (0, 1) padding


def test_an_iterable_that_is_not_an_array_is_refused_by_its_class():
    class WrappedDataLoader:                # the tutorial's: batches from __iter__, not an iterator
        def __len__(self):
            return 1

        def __iter__(self):
            yield np.zeros((4, 3), "float32"), np.zeros((4, 1), "float32")

    model = gn.Sequential([gn.Input((3,)), L.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(TypeError, match=r"^x: expected an array, got an object of type WrappedDataLoader; batches go in as a generator"):
        model.fit(WrappedDataLoader(), epochs=1, verbose=0)
    with pytest.raises(TypeError, match=r"^y: expected an array, got an object of type object$"):
        model.fit(np.zeros((4, 3)), object(), epochs=1, verbose=0)
    model.fit(iter(WrappedDataLoader()), epochs=1, verbose=0)             # as the message says
