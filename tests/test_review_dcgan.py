"""Review "dcgan": PyTorch's DCGAN tutorial ported to glassnet by docs/pytorch.md. The guide had no
row for nn.ConvTranspose2d, nn.BatchNorm2d or nn.LeakyReLU and no word on a GAN's loop, whose
PyTorch form (one discriminator step on the summed gradients of a real and a fake batch, the
discriminator in training mode for the generator's step) Keras' recipe does not follow; its DCGAN
section runs here as written and trains as PyTorch does."""
import re
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn

L = gn.layers
GUIDE = Path(__file__).resolve().parents[1] / "docs" / "pytorch.md"


def _dcgan_code(dtype):
    """The guide's DCGAN example (the block that defines ``netG``), its glassnet models in ``dtype``."""
    blocks = [b for b in re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S) if "netG" in b]
    assert blocks, "docs/pytorch.md: no DCGAN example (PyTorch's DCGAN tutorial ported)"
    return compile(blocks[0].replace("gn.Sequential([", f"gn.Sequential(dtype={dtype!r}, layers=["),
                   "docs/pytorch.md (DCGAN)", "exec")


def _nhwc(t):
    return t.detach().numpy().transpose(0, 2, 3, 1)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 2e-5)])
def test_the_guides_dcgan_trains_as_the_torch_tutorial(dtype, tol):
    torch = pytest.importorskip("torch")
    old = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, dtype))
    try:
        torch.manual_seed(0)
        ns = {}
        exec(_dcgan_code(dtype), ns)
        netG, netD, G, D, nz, nc = (ns[k] for k in ("netG", "netD", "G", "D", "nz", "nc"))
        rng = np.random.default_rng(0)
        criterion = torch.nn.BCELoss()
        optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
        optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
        batch = 8
        for _ in range(3):              # the tutorial's loop, one iteration at a time
            real = np.tanh(rng.standard_normal((batch, nc, 32, 32))).astype(dtype)
            noise = rng.standard_normal((batch, nz, 1, 1)).astype(dtype)
            netD.zero_grad()
            errD_real = criterion(netD(torch.from_numpy(real)).view(-1), torch.ones(batch))
            errD_real.backward()
            fake = netG(torch.from_numpy(noise))
            errD_fake = criterion(netD(fake.detach()).view(-1), torch.zeros(batch))
            errD_fake.backward()
            optD.step()
            netG.zero_grad()
            errG = criterion(netD(fake).view(-1), torch.ones(batch))
            errG.backward()
            optG.step()

            errD_gn, errG_gn = ns["train_step"](real.transpose(0, 2, 3, 1), noise.transpose(0, 2, 3, 1))
            np.testing.assert_allclose(errD_gn, (errD_real + errD_fake).item(), rtol=tol)
            np.testing.assert_allclose(errG_gn, errG.item(), rtol=tol)
            for net, model in ((netD, D), (netG, G)):
                names = [n for m in net for n in (["kernel"] if hasattr(m, "kernel_size") else
                                                  ["gamma", "beta", "mean", "var"] if hasattr(m, "running_var") else [])]
                for name, mine, theirs in zip(names, model.get_weights(), ns["port"](net)):
                    # the running variance moves by the biased variance here, PyTorch's by the
                    # unbiased one; G's moving statistics take two steps an iteration (the guide)
                    if name == "var" or (name == "mean" and model is G):
                        continue
                    np.testing.assert_allclose(mine, theirs, atol=tol, err_msg=f"{model.name} {name}")
    finally:
        torch.set_default_dtype(old)


def test_the_guides_rule_for_conv_transpose_padding_and_output_padding():
    """nn.ConvTranspose2d(padding=p, output_padding=op) is Conv2DTranspose(output_padding=op),
    "valid", then Cropping2D(p); "same" is it for DCGAN's kernel 4, stride 2, padding 1 only."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    x = np.random.default_rng(0).standard_normal((2, 5, 5, 3))
    for k, s, p, op in [(4, 2, 1, 0), (3, 2, 1, 1), (5, 3, 2, 2), (2, 3, 0, 0), (4, 1, 0, 0)]:
        ct = torch.nn.ConvTranspose2d(3, 2, k, s, p, output_padding=op).double()
        expected = _nhwc(ct(torch.from_numpy(x.transpose(0, 3, 1, 2))))
        weights = [ct.weight.detach().numpy().transpose(2, 3, 1, 0), ct.bias.detach().numpy()]
        model = gn.Sequential([gn.Input((5, 5, 3)), L.Conv2DTranspose(2, k, strides=s, output_padding=op)]
                              + ([L.Cropping2D(p)] if p else []), dtype="float64")
        model.set_weights(weights)
        np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-12)
        same = gn.Sequential([gn.Input((5, 5, 3)), L.Conv2DTranspose(2, k, strides=s, padding="same",
                                                                     output_padding=op or None)], dtype="float64")
        same.set_weights(weights)
        got = same.predict(x, verbose=0)
        equal = got.shape == expected.shape and np.allclose(got, expected, atol=1e-12)
        assert equal == (k - s == 2 * p and op == 0), (k, s, p, op)


def test_batchnorm_running_variance_is_keras_biased_one():
    """The guide's BatchNorm2d row: momentum 1 - m; outputs as PyTorch's in training; the running
    variance moves by the biased variance (Keras'), PyTorch's by n / (n - 1) times it."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((4, 3, 3, 2))       # n = 4 * 3 * 3 values per channel
    bn_t = torch.nn.BatchNorm2d(2).double()
    bn_g = gn.Sequential([gn.Input((3, 3, 2)), L.BatchNormalization(momentum=0.9, epsilon=1e-5)], dtype="float64")
    np.testing.assert_allclose(bn_g(x, training=True), _nhwc(bn_t(torch.from_numpy(x.transpose(0, 3, 1, 2)))),
                               atol=1e-12)
    _, _, mean, var = bn_g.get_weights()
    np.testing.assert_allclose(mean, bn_t.running_mean.numpy(), atol=1e-15)
    n = 4 * 3 * 3
    np.testing.assert_allclose(var, 0.9 + 0.1 * x.reshape(-1, 2).var(axis=0), atol=1e-15)
    np.testing.assert_allclose(bn_t.running_var.numpy(), 0.9 + 0.1 * x.reshape(-1, 2).var(axis=0) * n / (n - 1),
                               atol=1e-15)
