"""Review "torchports3": four PyTorch tutorials ported as a reader of docs/pytorch.md would port them,
on small synthetic data, against PyTorch started from the same weights (float64: losses per step and
weights to 1e-12): "NLP From Scratch: Classifying Names with a Character-Level RNN" (its newer
version: nn.RNN, LogSoftmax in the model, NLLLoss summed over a batch, clip_grad_norm_(3)), "Sequence
Models and LSTM Networks" (its exercise: character-level features of each word), "Text
classification with the torchtext library" (EmbeddingBag(mode="mean") with offsets, ported as
padding + mask; SGD lr 5, clip 0.1, StepLR stepped when the validation accuracy drops) and
"Training a Classifier" (CIFAR-10's LeNet as the tutorial writes it). And the trap of the first: a
model ending in a log_softmax compiled with the cross-entropy of probabilities trains backwards."""
import warnings

import numpy as np
import pytest

import glassnet as gn

L = gn.layers


def _t(p):
    return p.detach().numpy().copy()       # a copy: the NumPy view would follow PyTorch's training


def _clip_as_glassnet(torch, params, max_norm):
    """clip_grad_norm_ without PyTorch's + 1e-6 on the norm (docs/pytorch.md: glassnet divides by the
    norm, Keras' formula), so that the two runs compare to 1e-12."""
    norm = float(torch.sqrt(sum((p.grad ** 2).sum() for p in params)))
    for p in params:
        p.grad *= min(1.0, max_norm / norm)


def _running_means(losses, epochs):
    """Keras' logs["loss"] at each batch's end: the mean of the epoch's batches so far."""
    losses = np.asarray(losses).reshape(epochs, -1)
    return (np.cumsum(losses, axis=1) / np.arange(1, losses.shape[1] + 1)).ravel()


def test_char_rnn_name_classifier_new_version_trains_as_torch(torch):
    """CharRNN (nn.RNN, h2o, LogSoftmax), one name at a time summed over np.array_split batches,
    NLLLoss, clip_grad_norm_(3), SGD lr 0.15: Masking over names padded with zero rows, the
    model's own log_softmax, the loss summed (reduction="sum") and global_clipnorm=3."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    letters, hidden, classes = 12, 16, 3
    names = [rng.integers(0, letters, rng.integers(2, 8)) for _ in range(20)]
    labels = rng.integers(0, classes, len(names))

    class CharRNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.RNN(letters, hidden)
            self.h2o = torch.nn.Linear(hidden, classes)
            self.softmax = torch.nn.LogSoftmax(dim=1)

        def forward(self, line_tensor):
            _, h = self.rnn(line_tensor)
            return self.softmax(self.h2o(h[0]))

    net = CharRNN().double()
    net.rnn.bias_hh_l0.requires_grad_(False)        # the guide: one bias, bias_hh frozen to train alike

    def ported():
        r = net.rnn
        return [_t(r.weight_ih_l0).T, _t(r.weight_hh_l0).T, _t(r.bias_ih_l0) + _t(r.bias_hh_l0),
                _t(net.h2o.weight).T, _t(net.h2o.bias)]

    def line(name):
        return np.eye(letters)[name]

    model = gn.Sequential([gn.Input((None, letters)), L.Masking(0.0), L.SimpleRNN(hidden), L.Dense(classes),
                           L.Activation("log_softmax")], dtype="float64")
    model.set_weights(ported())
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # the right loss for a log_softmax head: no warning
        model.compile(loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum"),
                      optimizer=gn.optimizers.SGD(learning_rate=0.15, global_clipnorm=3))
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.15)
    padded = gn.utils.pad_sequences([line(n) for n in names], padding="post", dtype="float64")
    clipped = 0
    for _ in range(3):
        for batch in np.array_split(np.arange(len(names)), len(names) // 6):   # 7, 7, 6 names
            batch_loss = sum(torch.nn.functional.nll_loss(net(torch.from_numpy(line(names[i]))[:, None]),
                                                          torch.tensor([labels[i]])) for i in batch)
            batch_loss.backward()
            clipped += float(torch.sqrt(sum((p.grad ** 2).sum() for p in params))) > 3
            _clip_as_glassnet(torch, params, 3)
            opt.step()
            opt.zero_grad()
            np.testing.assert_allclose(model.train_on_batch(padded[batch], labels[batch]), batch_loss.item(),
                                       rtol=1e-12)
    assert clipped                              # the clip was exercised
    for mine, theirs in zip(model.get_weights(), ported()):
        np.testing.assert_allclose(mine, theirs, atol=1e-12)
    with torch.no_grad():
        expected = np.concatenate([_t(net(torch.from_numpy(line(n))[:, None])) for n in names])
    np.testing.assert_allclose(model.predict(padded, verbose=0), expected, atol=1e-12)


def test_lstm_tagger_with_character_level_features_trains_as_torch(torch):
    """The tagger tutorial's exercise: each word's spelling through a character LSTM, its last h
    beside the word's embedding into the tagging LSTM. Characters padded per word with id 0
    (ids shifted by one), an Embedding(mask_zero=True) on (batch, words, chars) and
    TimeDistributed(LSTM) over the words: the mask reaches each word's LSTM."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    words, chars, wdim, cdim, hidden, chidden, tags, longest = 9, 7, 6, 3, 6, 4, 3, 5
    sentences = [([0, 1, 2, 3, 4], [0, 1, 2, 0, 1]), ([5, 6, 7, 8], [1, 2, 0, 1])]
    spelling = {w: rng.integers(0, chars, rng.integers(1, longest + 1)) for w in range(words)}
    word_emb, char_emb = torch.nn.Embedding(words, wdim).double(), torch.nn.Embedding(chars, cdim).double()
    char_lstm, lstm = torch.nn.LSTM(cdim, chidden).double(), torch.nn.LSTM(wdim + chidden, hidden).double()
    hidden2tag = torch.nn.Linear(hidden, tags).double()
    for m in (char_lstm, lstm):
        m.bias_hh_l0.requires_grad_(False)

    def tag_scores(sentence):
        spelled = []
        for w in sentence:
            _, (h, _) = char_lstm(char_emb(torch.from_numpy(spelling[w]))[:, None])
            spelled.append(h[0, 0])
        x = torch.cat([word_emb(torch.tensor(sentence)), torch.stack(spelled)], 1)
        out, _ = lstm(x[:, None])
        return torch.log_softmax(hidden2tag(out[:, 0]), dim=1)

    def char_ids(sentence):                     # (words, longest), ids + 1, 0 the padding
        ids = np.zeros((len(sentence), longest), dtype=int)
        for k, w in enumerate(sentence):
            ids[k, :len(spelling[w])] = spelling[w] + 1
        return ids

    def lstm_weights(m):
        return [_t(m.weight_ih_l0).T, _t(m.weight_hh_l0).T, _t(m.bias_ih_l0) + _t(m.bias_hh_l0)]

    word_in, char_in = gn.Input((None,), dtype="int32"), gn.Input((None, longest), dtype="int32")
    char_embedding, word_embedding = L.Embedding(chars + 1, cdim, mask_zero=True), L.Embedding(words, wdim)
    spelled = L.TimeDistributed(L.LSTM(chidden))(char_embedding(char_in))
    h = L.LSTM(hidden, return_sequences=True)(L.Concatenate()([word_embedding(word_in), spelled]))
    model = gn.Model([word_in, char_in], L.Dense(tags)(h), dtype="float64")

    def ported():
        return [np.concatenate([np.zeros((1, cdim)), _t(char_emb.weight)]), _t(word_emb.weight),
                *lstm_weights(char_lstm), *lstm_weights(lstm), _t(hidden2tag.weight).T, _t(hidden2tag.bias)]

    # set layer by layer: get_weights follows the graph (the characters' embedding comes first)
    char_embedding.set_weights(ported()[:1])
    word_embedding.set_weights(ported()[1:2])
    model.set_weights(ported())
    model.compile(loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=gn.optimizers.SGD(learning_rate=0.1))
    params = [p for m in (word_emb, char_emb, char_lstm, lstm, hidden2tag) for p in m.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.1)
    for _ in range(5):
        for sentence, sentence_tags in sentences:
            opt.zero_grad()
            loss = torch.nn.functional.nll_loss(tag_scores(sentence), torch.tensor(sentence_tags))
            loss.backward()
            opt.step()
            got = model.train_on_batch([np.array([sentence]), char_ids(sentence)[None]], np.array([sentence_tags]))
            np.testing.assert_allclose(got, loss.item(), rtol=1e-12)
    for mine, theirs in zip(model.get_weights(), ported()):
        np.testing.assert_allclose(mine, theirs, atol=1e-12)
    sentence = sentences[0][0]
    got = gn.activations.log_softmax(model.predict([np.array([sentence]), char_ids(sentence)[None]], verbose=0)[0])
    np.testing.assert_allclose(got, _t(tag_scores(sentence)), atol=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_text_classification_embedding_bag_port_trains_as_torch(torch, dtype):
    """TextClassificationModel (EmbeddingBag(mode="mean") + Linear, the tutorial's init), its
    collate_batch's (label, text, offsets) against a collate_fn that pads: the DataLoaders go to
    fit as they are, CrossEntropyLoss, SGD(lr=5) with clip_grad_norm_(0.1), and the tutorial's
    StepLR(1, gamma=0.1) stepped only after an epoch whose validation accuracy fell."""
    tdtype = getattr(torch, dtype)
    torch.manual_seed(0)
    rng = np.random.default_rng(2)
    vocab, dim, classes, epochs = 20, 8, 4, 6
    def texts(n):
        return [(rng.integers(0, vocab, rng.integers(1, 9)), int(rng.integers(0, classes))) for _ in range(n)]
    train, valid = texts(24), texts(10)

    class TextClassificationModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.EmbeddingBag(vocab, dim, sparse=False)
            self.fc = torch.nn.Linear(dim, classes)
            self.embedding.weight.data.uniform_(-0.5, 0.5)
            self.fc.weight.data.uniform_(-0.5, 0.5)
            self.fc.bias.data.zero_()

        def forward(self, text, offsets):
            return self.fc(self.embedding(text, offsets))

    net = TextClassificationModel().to(tdtype)

    def ported():
        return [np.concatenate([np.zeros((1, dim), dtype), _t(net.embedding.weight)]), _t(net.fc.weight).T,
                _t(net.fc.bias)]

    def collate_batch(batch):                   # the tutorial's
        text = [torch.from_numpy(ids) for ids, _ in batch]
        offsets = torch.tensor([0] + [len(ids) for ids in text[:-1]]).cumsum(dim=0)
        return torch.tensor([label for _, label in batch]), torch.cat(text), offsets

    def collate_padded(batch):                  # the port's: ids + 1, padded with 0 per batch
        return (gn.utils.pad_sequences([ids + 1 for ids, _ in batch], padding="post"),
                np.array([label for _, label in batch]))

    loader = torch.utils.data.DataLoader
    initial = ported()
    opt = torch.optim.SGD(net.parameters(), lr=5.0)
    scheduler = torch.optim.lr_scheduler.StepLR(opt, 1.0, gamma=0.1)
    losses, accuracies, rates, total_accu = [], [], [], None
    for _ in range(epochs):
        for label, text, offsets in loader(train, batch_size=8, collate_fn=collate_batch):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(text, offsets), label)
            loss.backward()
            _clip_as_glassnet(torch, list(net.parameters()), 0.1)
            opt.step()
            losses.append(loss.item())
        with torch.no_grad():
            label, text, offsets = collate_batch(valid)
            accu_val = (net(text, offsets).argmax(1) == label).double().mean().item()
        accuracies.append(accu_val)
        rates.append(opt.param_groups[0]["lr"])
        if total_accu is not None and total_accu > accu_val:
            scheduler.step()
        else:
            total_accu = accu_val
    assert opt.param_groups[0]["lr"] < 5.0      # the schedule was exercised

    class TutorialStepLR(gn.callbacks.Callback):
        total_accu = None

        def on_epoch_end(self, epoch, logs=None):
            rates_seen.append(float(self.model.optimizer.learning_rate))
            if self.total_accu is not None and self.total_accu > logs["val_accuracy"]:
                self.model.optimizer.learning_rate = self.model.optimizer.learning_rate * 0.1
            else:
                self.total_accu = logs["val_accuracy"]

    model = gn.Sequential([gn.Input((None,), dtype="int32"), L.Embedding(vocab + 1, dim, mask_zero=True),
                           L.GlobalAveragePooling1D(), L.Dense(classes)], dtype=dtype)
    model.set_weights(initial)
    model.compile(loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=gn.optimizers.SGD(learning_rate=5.0, global_clipnorm=0.1), metrics=["accuracy"])
    batch_losses, rates_seen = [], []
    record = gn.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: batch_losses.append(logs["loss"]))
    history = model.fit(loader(train, batch_size=8, collate_fn=collate_padded), epochs=epochs, shuffle=False,
                        verbose=0, validation_data=loader(valid, batch_size=10, collate_fn=collate_padded),
                        callbacks=[record, TutorialStepLR()])
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(batch_losses, _running_means(losses, epochs), rtol=tol)
    np.testing.assert_allclose(history.history["val_accuracy"], accuracies)
    np.testing.assert_allclose(rates_seen, rates, rtol=1e-6)
    for mine, theirs in zip(model.get_weights(), ported()):
        np.testing.assert_allclose(mine, theirs, atol=tol)
    # the tutorial's predict(text): model(text, torch.tensor([0])).argmax(1)
    ids = valid[0][0]
    with torch.no_grad():
        expected = _t(net(torch.from_numpy(ids), torch.tensor([0])))
    np.testing.assert_allclose(model.predict((ids + 1)[None], verbose=0), expected, atol=tol)


def test_cifar10_lenet_of_the_tutorial_trains_as_torch(torch):
    """"Training a Classifier" as written: Conv2d 5x5, MaxPool, conv again, torch.flatten, three
    Linear, CrossEntropyLoss, SGD(lr=0.001, momentum=0.9), batches of 4; images (N, 3, 32, 32)."""
    F, nn = torch.nn.functional, torch.nn
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.pool, self.conv2 = nn.Conv2d(3, 6, 5), nn.MaxPool2d(2, 2), nn.Conv2d(6, 16, 5)
            self.fc1, self.fc2, self.fc3 = nn.Linear(16 * 5 * 5, 120), nn.Linear(120, 84), nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = torch.flatten(x, 1)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    net = Net().double()

    def ported():
        return [_t(net.conv1.weight).transpose(2, 3, 1, 0), _t(net.conv1.bias),
                _t(net.conv2.weight).transpose(2, 3, 1, 0), _t(net.conv2.bias),
                _t(net.fc1.weight).T, _t(net.fc1.bias), _t(net.fc2.weight).T, _t(net.fc2.bias),
                _t(net.fc3.weight).T, _t(net.fc3.bias)]

    model = gn.Sequential([
        gn.Input((3, 32, 32)), L.Permute((2, 3, 1)),
        L.Conv2D(6, 5, activation="relu"), L.MaxPooling2D(2, 2),
        L.Conv2D(16, 5, activation="relu"), L.MaxPooling2D(2, 2),
        L.Permute((3, 1, 2)), L.Flatten(),
        L.Dense(120, activation="relu"), L.Dense(84, activation="relu"), L.Dense(10)], dtype="float64")
    model.set_weights(ported())
    model.compile(loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=gn.optimizers.SGD(learning_rate=0.001, momentum=0.9), metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.random((16, 3, 32, 32)) * 2 - 1     # transforms.Normalize((0.5,) * 3, (0.5,) * 3) of [0, 1]
    y = rng.integers(0, 10, 16)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                         batch_size=4)
    opt = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    losses = []
    for _ in range(2):
        for inputs, labels in loader:
            opt.zero_grad()
            loss = nn.CrossEntropyLoss()(net(inputs), labels)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    batch_losses = []
    record = gn.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: batch_losses.append(logs["loss"]))
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0, callbacks=[record])
    np.testing.assert_allclose(batch_losses, _running_means(losses, 2), rtol=1e-12)
    for mine, theirs in zip(model.get_weights(), ported()):
        np.testing.assert_allclose(mine, theirs, atol=1e-12)
    with torch.no_grad():
        predicted = torch.max(net(torch.from_numpy(x)), 1)[1].numpy()
    assert model.evaluate(x, y, verbose=0)[1] == pytest.approx((predicted == y).mean())


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "categorical_crossentropy"])
def test_log_softmax_head_with_the_loss_of_probabilities_warns(torch, loss):
    """The char-RNN tutorial's model ends in LogSoftmax and trains with NLLLoss. Ported with the
    log_softmax kept and the cross-entropy of probabilities (from_logits=False), the loss divides
    each row of log-probabilities (< 0) by its sum (Keras' rule), which ranks the classes backwards:
    its value falls while the labelled classes become the least likely. compile says so; with
    from_logits=True (PyTorch's NLLLoss of log_softmax) it stays silent and trains as torch."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 4))
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    y = labels if loss.startswith("sparse") else np.eye(3)[labels]
    model = gn.Sequential([gn.Input((4,)), L.Dense(3), L.Activation("log_softmax")], dtype="float64", seed=0)
    with pytest.warns(UserWarning, match=r"ends in a log_softmax.*from_logits=True"):
        model.compile(loss=loss, optimizer=gn.optimizers.SGD(0.5))
    # what the warning prevents: the loss trained on goes down, PyTorch's NLLLoss goes up
    def nll():
        return torch.nn.functional.nll_loss(torch.from_numpy(model.predict(x, verbose=0)),
                                            torch.from_numpy(labels)).item()
    before = nll()
    model.fit(x, y, epochs=5, batch_size=10, verbose=0)
    assert nll() > before
    # a Dense ending in it too
    with pytest.warns(UserWarning, match="ends in a log_softmax"):
        gn.Sequential([gn.Input((4,)), L.Dense(3, activation="log_softmax")]).compile(loss=loss, optimizer="sgd")
    # the right port: no warning, PyTorch's loss
    model = gn.Sequential([gn.Input((4,)), L.Dense(3), L.Activation("log_softmax")], dtype="float64", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cls = gn.losses.SparseCategoricalCrossentropy if loss.startswith("sparse") else gn.losses.CategoricalCrossentropy
        model.compile(loss=cls(from_logits=True), optimizer=gn.optimizers.SGD(0.5))
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), nll(), rtol=1e-12)


def test_log_sigmoid_head_with_binary_crossentropy_warns():
    # every log_sigmoid output (<= 0) is clipped to 1e-7: a constant loss with no gradient
    model = gn.Sequential([gn.Input((4,)), L.Dense(1), L.Activation("log_sigmoid")])
    with pytest.warns(UserWarning, match="ends in a log_sigmoid.*no activation, and from_logits=True"):
        model.compile(loss="binary_crossentropy", optimizer="sgd")


@pytest.mark.parametrize("layer", [gn.layers.LSTM, gn.layers.GRU, gn.layers.SimpleRNN])
def test_recurrent_build_with_keras_batch_axis_says_to_leave_it_out(layer):
    # Keras' LSTM(3).build((None, 5, 3)) names the batch axis: called by code of yours, a built-in
    # build now reads it as Keras does (tests/test_kvars.py); (None, 5, 3, 1) still gets the hint
    built = layer(3)
    built.build((None, 5, 3))
    assert built.input_shape == (5, 3)
    with pytest.raises(ValueError, match=r"expected sequences of shape \(steps, features\)"):
        layer(3).build((None, 5, 3, 1))


def test_ragged_lists_point_to_pad_sequences():
    model = gn.Sequential([gn.layers.Input((3,)), gn.layers.Dense(1)])
    model.compile("mse")
    with pytest.raises(ValueError, match=r"x: expected a rectangular array.*glassnet\.utils\.pad_sequences"):
        model.fit([[1, 2, 3], [1, 2]], [1.0, 2.0], verbose=0)
