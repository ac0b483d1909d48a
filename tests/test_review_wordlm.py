"""Review "wordlm": pytorch/examples' word_language_model (model.py's RNNModel with an LSTM, tied
or not; main.py's batchify, truncated BPTT with repackage_hidden, clip_grad_norm_ and SGD by hand,
lr / 4 when the validation loss does not improve; generate.py's sampling) ported as
docs/pytorch.md ports it trains as PyTorch does from the same weights, float32 and float64."""
import re
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn

L = gn.layers
GUIDE = Path(__file__).resolve().parents[1] / "docs" / "pytorch.md"
BPTT, BSZ, EVAL_BSZ, CLIP = 35, 10, 5, 0.05      # a clip the gradients pass, so that it acts


def _guide():
    """Runs the guide's word language model port and returns its names."""
    blocks = [b for b in re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
              if "def rnn_model" in b]
    assert blocks, "docs/pytorch.md: no port of PyTorch's word language model (rnn_model)"
    namespace = {}
    exec(compile(blocks[0], "docs/pytorch.md (word language model)", "exec"), namespace)
    return namespace


def _corpus(n, ntoken, seed):
    """n ids of a Markov chain over ntoken words (learnable)."""
    rng = np.random.default_rng(seed)
    moves = rng.dirichlet(np.full(ntoken, 0.2), size=ntoken)
    ids = [0]
    for _ in range(n - 1):
        ids.append(rng.choice(ntoken, p=moves[ids[-1]]))
    return np.array(ids, dtype=np.int64)


def _torch_word_lm(torch, ntoken, ninp, nhid, nlayers, tie_weights):
    """model.py's RNNModel (LSTM, dropout off) with its init_weights."""
    nn = torch.nn

    class RNNModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder, self.rnn = nn.Embedding(ntoken, ninp), nn.LSTM(ninp, nhid, nlayers, dropout=0.0)
            self.decoder, self.nlayers, self.nhid = nn.Linear(nhid, ntoken), nlayers, nhid
            if tie_weights:
                self.decoder.weight = self.encoder.weight
            nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

        def forward(self, x, hidden):
            output, hidden = self.rnn(self.encoder(x), hidden)
            return torch.log_softmax(self.decoder(output).view(-1, ntoken), dim=1), hidden

        def init_hidden(self, bsz):
            w = next(self.parameters())
            return w.new_zeros(nlayers, bsz, nhid), w.new_zeros(nlayers, bsz, nhid)

    return RNNModel()


def _batchify(torch, ids, bsz):
    nbatch = len(ids) // bsz
    return torch.from_numpy(ids[:nbatch * bsz]).view(bsz, -1).t().contiguous()


def _torch_evaluate(torch, net, source, bsz):
    """main.py's evaluate(); also the chunks' plain mean."""
    hidden, total, losses = net.init_hidden(bsz), 0.0, []
    with torch.no_grad():
        for i in range(0, source.size(0) - 1, BPTT):
            n = min(BPTT, len(source) - 1 - i)
            output, hidden = net(source[i:i + n], hidden)
            losses.append(torch.nn.functional.nll_loss(output, source[i + 1:i + 1 + n].view(-1)).item())
            total += n * losses[-1]
    return total / (len(source) - 1), float(np.mean(losses))


def _torch_main(torch, net, train, val, epochs, lr=20.0):
    """main.py's train() and lr / 4 loop; the clip divides by the norm, as glassnet's and Keras'
    global_clipnorm (PyTorch's clip_grad_norm_ by the norm + 1e-6: see docs/pytorch.md)."""
    params = [p for p in net.parameters() if p.requires_grad]
    losses, val_losses, lrs, clipped, best = [], [], [], 0, None
    for _ in range(epochs):
        hidden = net.init_hidden(BSZ)
        for i in range(0, train.size(0) - 1, BPTT):
            n = min(BPTT, len(train) - 1 - i)
            net.zero_grad()
            hidden = tuple(h.detach() for h in hidden)                  # repackage_hidden
            output, hidden = net(train[i:i + n], hidden)
            loss = torch.nn.functional.nll_loss(output, train[i + 1:i + 1 + n].view(-1))
            loss.backward()
            norm = torch.sqrt(sum((p.grad ** 2).sum() for p in params))
            if norm > CLIP:
                clipped += 1
                for p in params:
                    p.grad.mul_(CLIP / norm)
            for p in params:
                p.data.add_(p.grad, alpha=-lr)
            losses.append(loss.item())
        val_losses.append(_torch_evaluate(torch, net, val, EVAL_BSZ)[0])
        lrs.append(lr)
        if best is None or val_losses[-1] < best:
            best = val_losses[-1]
        else:
            lr /= 4.0
    return losses, val_losses, lrs, clipped


class _BatchLosses(gn.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.means = []

    def on_epoch_begin(self, epoch, logs=None):
        self.means.append([])

    def on_train_batch_end(self, batch, logs=None):
        self.means[-1].append(logs["loss"])         # the epoch's running mean, as Keras logs it


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_guides_word_language_model_trains_as_torch(dtype, tied):
    """Per-batch losses, validation losses, the learning rates (one cut by 4) and the weights after
    three epochs are PyTorch's; the last training chunk is shorter (24 steps)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    guide = _guide()
    ntoken, epochs = 30, 3
    net = _torch_word_lm(torch, ntoken, 16, 16, 2, tied).to(getattr(torch, dtype))
    for k in range(2):      # glassnet's one bias: PyTorch's bias_hh frozen (docs/pytorch.md)
        getattr(net.rnn, f"bias_hh_l{k}").requires_grad_(False)
    model = guide["rnn_model"](ntoken, 16, 16, 2, dropout=0.0, tie_weights=tied, dtype=dtype)
    model.set_weights(guide["ported"](net))
    guide["compile_as_main"](model, clip=CLIP)
    # 200 rows of 10 streams (chunks 35 x 5 + 24); validation 106 rows of 5: three whole chunks,
    # where fit's val_loss (chunks weighted by rows) is main.py's (weighted by length)
    train, val = _batchify(torch, _corpus(2000, ntoken, 1), BSZ), _batchify(torch, _corpus(530, ntoken, 2), EVAL_BSZ)
    losses, val_losses, lrs, clipped = _torch_main(torch, net, train, val, epochs)
    assert clipped > 0 and lrs[-1] < lrs[0]         # the clip and the lr / 4 acted
    batches = _BatchLosses()
    history = model.fit(guide["Chunks"](train.numpy()), epochs=epochs, shuffle=False, verbose=0,
                        validation_data=guide["Chunks"](val.numpy()),
                        callbacks=[*guide["main_callbacks"](model), batches])
    tol = dict(rtol=1e-12, atol=1e-13) if dtype == "float64" else dict(rtol=2e-5, atol=1e-6)
    per_epoch = np.reshape(losses, (epochs, -1))
    running = np.cumsum(per_epoch, axis=1) / np.arange(1, per_epoch.shape[1] + 1)
    np.testing.assert_allclose(batches.means, running, **tol)
    np.testing.assert_allclose(history.history["val_loss"], val_losses, **tol)
    np.testing.assert_allclose(history.history["learning_rate"], lrs)
    np.testing.assert_allclose(model.get_weights()[-1], net.decoder.bias.detach().numpy(), **tol)
    for got, want in zip(model.get_weights(), guide["ported"](net)):
        np.testing.assert_allclose(got, want, **tol)
    # main.py's evaluate on a validation set whose last chunk is shorter (14 steps)
    ragged = _batchify(torch, _corpus(600, ntoken, 3), EVAL_BSZ)
    weighted, plain = _torch_evaluate(torch, net, ragged, EVAL_BSZ)
    np.testing.assert_allclose(guide["evaluate_as_main"](model, ragged.numpy()), weighted, **tol)
    model.reset_states()
    np.testing.assert_allclose(model.evaluate(guide["Chunks"](ragged.numpy()), verbose=0), plain, **tol)


def test_the_guides_generate_samples_from_torchs_word_weights(tmp_path):
    """generate.py: one word at a time, states carried in a batch of one; the weights
    output.div(temperature).exp() of every step are PyTorch's. The tied model saves and loads."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    guide = _guide()
    net = _torch_word_lm(torch, 30, 16, 16, 2, True).double()
    model = guide["rnn_model"](30, 16, 16, 2, dropout=0.0, tie_weights=True, dtype="float64")
    model.set_weights(guide["ported"](net))
    model.save(tmp_path / "lm.npz")
    model = gn.load_model(tmp_path / "lm.npz", custom_objects={"Bias": guide["Bias"]})
    words = guide["generate"](model, 30, 12, temperature=0.7, seed=0)
    assert len(words) == 12 and all(0 <= w < 30 for w in words)
    model.reset_states()
    hidden, word = net.init_hidden(1), 7
    with torch.no_grad():
        for _ in range(12):
            output, hidden = net(torch.tensor([[word]]), hidden)
            want = output.squeeze().div(0.7).exp()
            np.testing.assert_allclose(guide["next_word_weights"](model, word, 0.7), want.numpy(), rtol=1e-12)
            word = int(torch.multinomial(want, 1)[0])


def test_a_tied_reverse_call_on_vectors_of_another_size_names_output_dim():
    """nhid != ninp with tied weights (PyTorch: 'nhid must be equal to emsize'): the model is
    refused naming output_dim, not with a TypeError from the error message for shared layers."""
    ids = gn.Input((None,), dtype="int32")
    encoder = L.ReversibleEmbedding(30, 16)
    h = L.LSTM(8, return_sequences=True)(encoder(ids))
    with pytest.raises(ValueError, match=r"output_dim=16.*got \(None, 8\)"):
        gn.Model(ids, encoder(h, reverse=True))
