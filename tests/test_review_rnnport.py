"""Review of three recurrent-network tutorials ported to glassnet (keras.io's character-level LSTM,
PyTorch's LSTM part-of-speech tagger and character-level RNN name classifier): the porting rows
docs/pytorch.md gives for nn.LSTM / nn.RNN / nn.GRU / nn.Embedding / log_softmax + NLLLoss, checked
against PyTorch, and the advice a model built for one length of token ids gives for another."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers


def tagger(first=()):
    model = gn.Sequential([*first, L.Embedding(9, 6), L.LSTM(6, return_sequences=True), L.Dense(3)], seed=0)
    model.compile(loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer="sgd")
    return model


@pytest.mark.parametrize("first", [(), (gn.Input((5,), dtype="int32"),)], ids=["lazy", "input"])
def test_token_ids_of_another_length_are_refused_with_the_advice(first):
    # docs/layers.md: "a model without one is built for its first batch's length, and a batch of
    # another length is refused with that advice" -- token ids for an Embedding are 1-D samples
    model = tagger(first)
    model.train_on_batch(np.array([[0, 1, 2, 3, 4]]), np.array([[0, 1, 2, 0, 1]]))
    with pytest.raises(ValueError, match=r"Input\(\(None,\)\)"):
        model.train_on_batch(np.array([[5, 6, 7, 8]]), np.array([[1, 2, 0, 1]]))
    with pytest.raises(ValueError, match=r"Input\(\(None,\)\)"):
        model.predict(np.array([[1, 2]]), verbose=0)
    # declared as the advice says, the same model takes both lengths
    model = tagger((gn.Input((None,), dtype="int32"),))
    model.train_on_batch(np.array([[0, 1, 2, 3, 4]]), np.array([[0, 1, 2, 0, 1]]))
    assert model.predict(np.array([[5, 6, 7, 8]]), verbose=0).shape == (1, 4, 3)


def test_features_of_another_width_get_no_length_advice():
    # a Dense reads features, not a length: another width is a mistake, not a sequence
    model = gn.Sequential([L.Dense(3, input_dim=5)], seed=0)
    with pytest.raises(ValueError, match="expects samples of shape") as info:
        model.predict(np.ones((2, 4)), verbose=0)
    assert "None" not in str(info.value)


# ---- docs/pytorch.md's recurrent rows, against PyTorch ------------------------------------------

TRAINING_DATA = [([0, 1, 2, 3, 4], [0, 1, 2, 0, 1]),        # "The dog ate the apple"
                 ([5, 6, 7, 8], [1, 2, 0, 1])]              # "Everybody read that book"


def _guide_recurrent_code():
    import re
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "docs" / "pytorch.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 2, "docs/pytorch.md: the recurrent example is missing"
    return compile(blocks[1], "docs/pytorch.md (recurrent)", "exec")


def _t(p):
    return p.detach().numpy()


@pytest.mark.parametrize("head", ["logits", "log_softmax"])
def test_the_guides_lstm_tagger_trains_as_torch_with_bias_hh_frozen(head):
    """PyTorch's LSTM part-of-speech tagger, one sentence per SGD step, float64: the guide's port
    (run as written), bias_hh frozen in PyTorch as the guide says, gives PyTorch's losses and weights."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    namespace = {}
    exec(_guide_recurrent_code(), namespace)          # asserts its own log-probabilities against torch's
    embedding, lstm, linear = namespace["embedding"], namespace["lstm"], namespace["linear"]
    embedding, lstm, linear = embedding.double(), lstm.double(), linear.double()
    lstm.bias_hh_l0.requires_grad_(False)
    layers = [gn.Input((None,), dtype="int32"), L.Embedding(9, 6), L.LSTM(6, return_sequences=True), L.Dense(3)]
    if head == "log_softmax":
        layers.append(L.Activation("log_softmax"))
    model = gn.Sequential(layers, dtype="float64")
    def ported():
        return [_t(embedding.weight), _t(lstm.weight_ih_l0).T, _t(lstm.weight_hh_l0).T,
                _t(lstm.bias_ih_l0) + _t(lstm.bias_hh_l0), _t(linear.weight).T, _t(linear.bias)]
    model.set_weights(ported())
    model.compile(loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=gn.optimizers.SGD(learning_rate=0.1))
    params = [p for m in (embedding, lstm, linear) for p in m.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.1)
    for _ in range(20):
        for words, tags in TRAINING_DATA:
            opt.zero_grad()
            out, _ = lstm(embedding(torch.tensor(words)).view(len(words), 1, -1))
            scores = torch.log_softmax(linear(out.view(len(words), -1)), dim=1)
            loss = torch.nn.functional.nll_loss(scores, torch.tensor(tags))
            loss.backward()
            opt.step()
            mine = model.train_on_batch(np.array([words]), np.array([tags]))
            np.testing.assert_allclose(mine, loss.item(), rtol=1e-12)
    for mine, theirs in zip(model.get_weights(), ported()):
        np.testing.assert_allclose(mine, theirs, atol=1e-12)


@pytest.mark.parametrize("padding", ["one", "post", "pre"])
def test_simple_rnn_name_classifier_trains_as_torch(padding):
    """The "NLP From Scratch" name classifier: nn.RNN over one-hot letters, its last state to a
    Linear, log_softmax + NLLLoss. One name per SGD step (lr 0.005), or names padded with zero rows
    and Masking(0.0), the loss summed over a batch (reduction="sum") as the tutorial's train()."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    letters, hidden, classes = 12, 16, 3
    names = [rng.integers(0, letters, rng.integers(2, 8)) for _ in range(24)]
    labels = rng.integers(0, classes, len(names))
    rnn, h2o = torch.nn.RNN(letters, hidden).double(), torch.nn.Linear(hidden, classes).double()
    rnn.bias_hh_l0.requires_grad_(False)
    def ported():
        return [_t(rnn.weight_ih_l0).T, _t(rnn.weight_hh_l0).T, _t(rnn.bias_ih_l0) + _t(rnn.bias_hh_l0),
                _t(h2o.weight).T, _t(h2o.bias)]
    def one_hot(name):                      # (steps, letters)
        return np.eye(letters)[name]
    def torch_scores(name):                 # PyTorch's (steps, 1, letters) line tensor
        _, h_n = rnn(torch.from_numpy(one_hot(name))[:, None])
        return torch.log_softmax(h2o(h_n[0]), dim=1)
    masking = [] if padding == "one" else [L.Masking(0.0)]
    model = gn.Sequential([gn.Input((None, letters)), *masking, L.SimpleRNN(hidden), L.Dense(classes)],
                          dtype="float64")
    model.set_weights(ported())
    lr = 0.005 if padding == "one" else 0.05
    reduction = "sum_over_batch_size" if padding == "one" else "sum"
    model.compile(loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction),
                  optimizer=gn.optimizers.SGD(learning_rate=lr))
    opt = torch.optim.SGD([p for m in (rnn, h2o) for p in m.parameters() if p.requires_grad], lr=lr)
    steps = max(len(name) for name in names)
    padded = np.zeros((len(names), steps, letters))
    for k, name in enumerate(names):
        if padding == "pre":
            padded[k, steps - len(name):] = one_hot(name)
        else:
            padded[k, :len(name)] = one_hot(name)
    batches = [[k] for k in range(len(names))] if padding == "one" else [list(range(k, k + 6))
                                                                         for k in range(0, len(names), 6)]
    for _ in range(3):
        for batch in batches:
            opt.zero_grad()
            loss = sum(torch.nn.functional.nll_loss(torch_scores(names[k]), torch.tensor([labels[k]]))
                       for k in batch)
            loss.backward()
            opt.step()
            x = one_hot(names[batch[0]])[None] if padding == "one" else padded[batch]
            np.testing.assert_allclose(model.train_on_batch(x, labels[batch]), loss.item(), rtol=1e-12)
    for mine, theirs in zip(model.get_weights(), ported()):
        np.testing.assert_allclose(mine, theirs, atol=1e-12)
    expected = np.concatenate([_t(torch_scores(name)) for name in names])
    got = gn.activations.log_softmax(model.predict(padded, verbose=0)) if padding != "one" else np.concatenate(
        [gn.activations.log_softmax(model.predict(one_hot(name)[None], verbose=0)) for name in names])
    np.testing.assert_allclose(got, expected, atol=1e-12)


def _gru(w):
    """PyTorch's GRU blocks r, z, n (first axis) in Keras' order z, r, n."""
    r, z, n = np.split(w, 3)
    return np.concatenate([z, r, n])


def test_gru_ports_with_both_biases_and_trains_as_torch():
    """The guide's GRU row: blocks reordered, weights transposed, the two biases stacked; both
    PyTorch biases trained, glassnet's GRU trains along the same trajectory (SGD, float64)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    gru, head = torch.nn.GRU(5, 7).double(), torch.nn.Linear(7, 2).double()
    def ported():
        return [_gru(_t(gru.weight_ih_l0)).T, _gru(_t(gru.weight_hh_l0)).T,
                np.stack([_gru(_t(gru.bias_ih_l0)), _gru(_t(gru.bias_hh_l0))]), _t(head.weight).T, _t(head.bias)]
    model = gn.Sequential([gn.Input((None, 5)), L.GRU(7, return_sequences=True), L.Dense(2)], dtype="float64")
    model.set_weights(ported())
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=0.1))
    opt = torch.optim.SGD([*gru.parameters(), *head.parameters()], lr=0.1)
    rng = np.random.default_rng(0)
    for _ in range(10):
        x, y = rng.standard_normal((3, 6, 5)), rng.standard_normal((3, 6, 2))
        opt.zero_grad()
        out, _ = gru(torch.from_numpy(x.transpose(1, 0, 2)))        # PyTorch's (steps, batch, features)
        loss = torch.nn.functional.mse_loss(head(out).permute(1, 0, 2), torch.from_numpy(y))
        loss.backward()
        opt.step()
        np.testing.assert_allclose(model.train_on_batch(x, y), loss.item(), rtol=1e-12)
    for mine, theirs in zip(model.get_weights(), ported()):
        np.testing.assert_allclose(mine, theirs, atol=1e-12)


def test_two_layer_and_bidirectional_lstm_port_by_the_guides_rows():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    x = np.random.default_rng(0).standard_normal((3, 6, 4))
    xt = torch.from_numpy(x.transpose(1, 0, 2))
    def lstm_weights(net, suffix):
        return [_t(getattr(net, "weight_ih" + suffix)).T, _t(getattr(net, "weight_hh" + suffix)).T,
                _t(getattr(net, "bias_ih" + suffix)) + _t(getattr(net, "bias_hh" + suffix))]
    stacked = torch.nn.LSTM(4, 5, num_layers=2).double()
    model = gn.Sequential([gn.Input((None, 4)), L.LSTM(5, return_sequences=True), L.LSTM(5, return_sequences=True)],
                          dtype="float64")
    model.set_weights(lstm_weights(stacked, "_l0") + lstm_weights(stacked, "_l1"))
    np.testing.assert_allclose(model.predict(x, verbose=0), _t(stacked(xt)[0]).transpose(1, 0, 2), atol=1e-12)
    both = torch.nn.LSTM(4, 5, bidirectional=True).double()
    model = gn.Sequential([gn.Input((None, 4)), L.Bidirectional(L.LSTM(5, return_sequences=True))], dtype="float64")
    model.set_weights(lstm_weights(both, "_l0") + lstm_weights(both, "_l0_reverse"))
    np.testing.assert_allclose(model.predict(x, verbose=0), _t(both(xt)[0]).transpose(1, 0, 2), atol=1e-12)
