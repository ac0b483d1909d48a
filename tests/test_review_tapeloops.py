"""PyTorch-style training loops ported with gn.GradientTape, one model called many times in one
tape, against torch autograd in float64 from the same weights: PyTorch's seq2seq tutorial (an
encoder GRU, a decoder step model called T times with teacher forcing and on its own argmax), a
char-RNN cell ``[x_t, h] -> [y_t, h_new]`` carrying its hidden state, and the gradients of the
hidden states themselves (a model's output that the model also reads: it missed that path)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

V, H, N, T = 6, 5, 3, 5


def _rel(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


def _linear_weights(torch, dense, linear):
    weights = dense.get_weights()
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(weights[0].T))
        if len(weights) > 1:
            linear.bias.copy_(torch.tensor(weights[1]))


def _char_rnn(torch, form):
    nn = torch.nn
    if form == "functional":
        xin, hin = gn.Input((V,)), gn.Input((H,))
        i2h, h2h, h2o = gn.layers.Dense(H), gn.layers.Dense(H, use_bias=False), gn.layers.Dense(V)
        hn = gn.layers.Activation("tanh")(gn.layers.Add()([i2h(xin), h2h(hin)]))
        model = gn.Model([xin, hin], [h2o(hn), hn], seed=0, dtype="float64")
    else:
        class Cell(gn.Model):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.i2h, self.h2h = gn.layers.Dense(H), gn.layers.Dense(H, use_bias=False)
                self.h2o = gn.layers.Dense(V)

            def call(self, inputs):
                x, h = inputs
                h_new = ops.tanh(self.i2h(x) + self.h2h(h))
                return [self.h2o(h_new), h_new]
        model = Cell(seed=0, dtype="float64")
        model([np.zeros((1, V)), np.zeros((1, H))])
        i2h, h2h, h2o = model.i2h, model.h2h, model.h2o

    class TorchCell(nn.Module):
        def __init__(self):
            super().__init__()
            self.i2h, self.h2h, self.h2o = nn.Linear(V, H), nn.Linear(H, H, bias=False), nn.Linear(H, V)

        def forward(self, x, h):
            h_new = torch.tanh(self.i2h(x) + self.h2h(h))
            return self.h2o(h_new), h_new
    theirs = TorchCell()
    for dense, linear in ((i2h, theirs.i2h), (h2h, theirs.h2h), (h2o, theirs.h2o)):
        _linear_weights(torch, dense, linear)
    order = [theirs.i2h.weight, theirs.i2h.bias, theirs.h2h.weight, theirs.h2o.weight, theirs.h2o.bias]
    return model, theirs, order


@pytest.mark.parametrize("form", ["functional", "subclass"])
def test_char_rnn_hidden_state_gradients_match_torch(torch, form):
    """Each h_t's gradient is d loss / d h_t through y_t = h2o(h_t) as well as through the next
    step (torch's h.grad, TF's tape): glassnet gave the next step's part only (the model's own
    reading of its output h_new was left out), 0.5 relative off; the weights' were right."""
    model, theirs, order = _char_rnn(torch, form)
    seq = np.random.default_rng(0).integers(0, V, (N, T + 1))
    loss_fn = gn.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = gn.optimizers.Adam(0.01, epsilon=1e-8)
    their_optimizer = torch.optim.Adam(theirs.parameters(), 0.01, eps=1e-8)
    for _ in range(2):
        with gn.GradientTape() as tape:
            h, loss, hs = np.zeros((N, H)), 0.0, []
            for t in range(T):
                y, h = model([np.eye(V)[seq[:, t]], h], training=True)
                hs.append(h)
                loss = loss + loss_fn(y, seq[:, t + 1])
        grads = tape.gradient(loss, model.trainable_weights + hs)
        optimizer.apply_gradients(zip(grads[:5], model.trainable_weights))
        their_optimizer.zero_grad()
        h, their_loss, their_hs = torch.zeros((N, H)), 0.0, []
        for t in range(T):
            y, h = theirs(torch.tensor(np.eye(V)[seq[:, t]]), h)
            h.retain_grad()
            their_hs.append(h)
            their_loss = their_loss + torch.nn.functional.cross_entropy(y, torch.tensor(seq[:, t + 1]))
        their_loss.backward()
        assert float(loss) == pytest.approx(their_loss.item(), rel=1e-12)
        for mine, param in zip(grads[:5], order):
            assert _rel(mine, param.grad.numpy().T) < 1e-9
        for mine, their in zip(grads[5:], their_hs):     # the last one through y_T alone
            assert _rel(mine, their.grad.numpy()) < 1e-9
        their_optimizer.step()
    for mine, param in zip(model.trainable_weights, order):
        assert _rel(mine, param.detach().numpy().T) < 1e-9


def test_output_read_only_inside_the_model_gets_its_gradient(torch):
    """An output the loss does not read but the model does (outputs [Dense(a), a], loss on the
    first): d loss / d a is the Dense's part (TF, torch); glassnet gave None. The layer reading a
    has nothing that learns below it (it made no input gradient)."""
    inputs = gn.Input((3,))
    a = gn.layers.Activation("tanh")(inputs)
    dense = gn.layers.Dense(2)
    model = gn.Model(inputs, [dense(a), a], seed=0, dtype="float64")
    x = np.random.default_rng(1).normal(size=(4, 3))
    with gn.GradientTape() as tape:
        y, kept = model(x)
        loss = ops.sum(ops.square(y))
    grad = tape.gradient(loss, kept)
    linear = torch.nn.Linear(3, 2)
    _linear_weights(torch, dense, linear)
    their_a = torch.tanh(torch.tensor(x)).requires_grad_()
    (linear(their_a) ** 2).sum().backward()
    assert grad is not None and _rel(grad, their_a.grad.numpy()) < 1e-12


def test_nested_sources_give_nested_gradients():
    """``tape.gradient(loss, [model.trainable_weights, hidden_states])``, TF's nested sources:
    was refused (sources[0]: ... got list)."""
    xin, hin = gn.Input((V,)), gn.Input((H,))
    hn = gn.layers.Dense(H, activation="tanh")(gn.layers.Concatenate()([xin, hin]))
    model = gn.Model([xin, hin], [gn.layers.Dense(V)(hn), hn], seed=0, dtype="float64")
    x = np.random.default_rng(2).normal(size=(N, V))
    with gn.GradientTape(persistent=True) as tape:
        y1, h1 = model([x, np.zeros((N, H))])
        y2, h2 = model([x, h1])
        loss = ops.sum(ops.square(y1)) + ops.sum(ops.square(y2))
    nested = tape.gradient(loss, [model.trainable_weights, (h1, {"h2": h2})])
    flat = tape.gradient(loss, model.trainable_weights + [h1, h2])
    assert isinstance(nested, list) and isinstance(nested[1], tuple) and list(nested[1][1]) == ["h2"]
    for mine, expected in zip(nested[0] + [nested[1][0], nested[1][1]["h2"]], flat):
        np.testing.assert_array_equal(mine, expected)


def _gru_to_torch(layer, gru):
    def reorder(w):         # Keras' z, r, n to PyTorch's r, z, n
        z, r, n = np.split(w, 3, axis=-1)
        return np.concatenate([r, z, n], axis=-1)
    kernel, recurrent, bias = layer.get_weights()
    import torch
    with torch.no_grad():
        gru.weight_ih_l0.copy_(torch.tensor(reorder(kernel).T))
        gru.weight_hh_l0.copy_(torch.tensor(reorder(recurrent).T))
        gru.bias_ih_l0.copy_(torch.tensor(reorder(bias[0])))
        gru.bias_hh_l0.copy_(torch.tensor(reorder(bias[1])))


def _gru_grads(gru):
    def back(w):
        r, z, n = np.split(w, 3, axis=0)
        return np.concatenate([z, r, n], axis=0)
    return [back(gru.weight_ih_l0.grad.numpy()).T, back(gru.weight_hh_l0.grad.numpy()).T,
            np.stack([back(gru.bias_ih_l0.grad.numpy()), back(gru.bias_hh_l0.grad.numpy())])]


@pytest.mark.parametrize("forcing", [True, False])
def test_seq2seq_decoder_called_every_step_matches_torch(torch, forcing):
    """PyTorch's seq2seq translation tutorial's step: the encoder GRU's last state, then the decoder
    (Embedding, one-step GRU from the state, Linear, log_softmax) called T times in one tape on the
    targets (teacher forcing) or on its own argmax, NLL summed over the steps; every weight's and
    every step's log-probabilities' gradient, then SGD steps, to 1e-9."""
    nn, F = torch.nn, torch.nn.functional
    E, S = 4, 4
    src_in = gn.Input((S,))
    _, state = gn.layers.GRU(H, return_state=True)(gn.layers.Embedding(V, E)(src_in))
    encoder = gn.Model(src_in, state, seed=0, dtype="float64")
    token, h_in = gn.Input((1,)), gn.Input((H,))
    out, h_out = gn.layers.GRU(H, return_state=True)(gn.layers.Embedding(V, E)(token), initial_state=[h_in])
    decoder = gn.Model([token, h_in], [gn.layers.Dense(V, activation="log_softmax")(out), h_out],
                       seed=1, dtype="float64")
    t_enc = nn.ModuleDict({"emb": nn.Embedding(V, E), "gru": nn.GRU(E, H, batch_first=True)})
    t_dec = nn.ModuleDict({"emb": nn.Embedding(V, E), "gru": nn.GRU(E, H, batch_first=True),
                           "out": nn.Linear(H, V)})
    for model, theirs in ((encoder, t_enc), (decoder, t_dec)):
        for layer in model.layers:
            kind = type(layer).__name__
            if kind == "Embedding":
                with torch.no_grad():
                    theirs["emb"].weight.copy_(torch.tensor(layer.get_weights()[0]))
            elif kind == "GRU":
                _gru_to_torch(layer, theirs["gru"])
            elif kind == "Dense":
                _linear_weights(torch, layer, theirs["out"])
    rng = np.random.default_rng(3)
    src, tgt = rng.integers(0, V, (N, S)), rng.integers(0, V, (N, T))
    weights = encoder.trainable_weights + decoder.trainable_weights
    optimizer = gn.optimizers.SGD(0.5)
    their_optimizer = torch.optim.SGD(list(t_enc.parameters()) + list(t_dec.parameters()), 0.5)
    for _ in range(2):
        with gn.GradientTape() as tape:
            h = encoder(src.astype("float64"), training=True)
            token, loss, log_probs = np.zeros((N, 1)), 0.0, []
            for t in range(T):
                lp, h = decoder([token, h], training=True)
                log_probs.append(lp)
                loss = loss + ops.mean(-ops.take_along_axis(lp, tgt[:, t:t + 1], axis=1))
                token = (tgt[:, t:t + 1] if forcing else np.argmax(np.asarray(lp), -1)[:, None]).astype("float64")
        grads = tape.gradient(loss, weights + log_probs)
        optimizer.apply_gradients(zip(grads[:len(weights)], weights))
        their_optimizer.zero_grad()
        h = t_enc["gru"](t_enc["emb"](torch.tensor(src)))[1]
        token, their_loss, their_lps = torch.zeros((N, 1), dtype=torch.long), 0.0, []
        for t in range(T):
            o, h = t_dec["gru"](t_dec["emb"](token), h)
            lp = F.log_softmax(t_dec["out"](o[:, 0]), -1)
            lp.retain_grad()
            their_lps.append(lp)
            their_loss = their_loss + F.nll_loss(lp, torch.tensor(tgt[:, t]))
            token = torch.tensor(tgt[:, t:t + 1]) if forcing else lp.argmax(-1, keepdim=True)
        their_loss.backward()
        expected = [t_enc["emb"].weight.grad.numpy(), *_gru_grads(t_enc["gru"]), t_dec["emb"].weight.grad.numpy(),
                    *_gru_grads(t_dec["gru"]), t_dec["out"].weight.grad.numpy().T, t_dec["out"].bias.grad.numpy()]
        their_optimizer.step()
        assert float(loss) == pytest.approx(their_loss.item(), rel=1e-12)
        for mine, their in zip(grads, expected + [lp.grad.numpy() for lp in their_lps]):
            assert _rel(mine, their) < 1e-9
