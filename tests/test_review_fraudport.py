"""Review (fraudport): PyTorch's word-embedding tutorial (N-gram model, CBOW) ported: the two
equivalences the port rests on, checked against torch autograd."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.losses import SparseCategoricalCrossentropy

# the oracle only: without PyTorch the file is skipped, as the other parity tests are
torch = pytest.importorskip("torch", reason="PyTorch oracle not installed: pip install torch==2.13.0")


def test_log_softmax_and_nll_loss_as_sparse_cross_entropy_from_logits(rng):
    # PyTorch's log_softmax + NLLLoss is glassnet's sparse cross-entropy from the logits, value and
    # gradient; on a log_softmax output too (the softmax of log-probabilities is the probabilities)
    z = rng.normal(size=(7, 9)) * 4
    labels = rng.integers(0, 9, size=7)
    zt = torch.tensor(z, requires_grad=True)
    nll = torch.nn.functional.nll_loss(torch.log_softmax(zt, 1), torch.tensor(labels))
    nll.backward()
    loss = SparseCategoricalCrossentropy(from_logits=True)
    assert loss(z, labels) == pytest.approx(nll.item(), rel=1e-13)
    np.testing.assert_allclose(loss.gradient(z, labels), zt.grad.numpy(), rtol=1e-12, atol=1e-16)
    log_p = torch.log_softmax(torch.tensor(z), 1).numpy()
    assert loss(log_p, labels) == pytest.approx(nll.item(), rel=1e-13)


def test_embedding_gradient_with_repeated_indices_equals_torch(rng):
    for width in (10, 48):              # both of backward's summing paths
        x = np.array([[3, 3], [1, 3], [5, 5], [3, 1]])
        layer = gn.layers.Embedding(7, width, dtype="float64", seed=0)
        layer(x)
        g = rng.normal(size=(4, 2, width))
        layer.forward(x, training=True)
        layer.backward(g)
        table = torch.tensor(layer.params["embeddings"], requires_grad=True)
        (torch.nn.functional.embedding(torch.tensor(x), table) * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(layer.grads["embeddings"], table.grad.numpy(), rtol=1e-14, atol=1e-15)
