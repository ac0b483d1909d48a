"""Review: porting two sequence-to-sequence examples, PyTorch's "NLP From Scratch: Translation with a
Sequence to Sequence Network and Attention" (Bahdanau attention, a GRU encoder and decoder) and
keras.io's "Sequence to sequence learning for performing number addition"."""
import re
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn

L = gn.layers


def test_unnamed_layers_of_a_model_are_named_in_the_order_they_were_made():
    # Keras names a layer when it is made: the encoder's Embedding, made first, is "embedding",
    # the decoder's "embedding_1". glassnet named them when the Model was drawn, in the graph's
    # order, which visits the decoder's input before the encoder's states: the names came out
    # swapped, and weights matched "by name" (the README's advice for moving weights from Keras)
    # went to the wrong layer, silently where the two vocabularies have one size
    enc_ids, dec_ids = gn.Input((5,)), gn.Input((None,))
    enc_embedding, dec_embedding = L.Embedding(10, 8), None
    _, h = L.GRU(8, return_sequences=True, return_state=True)(enc_embedding(enc_ids))
    dec_embedding = L.Embedding(11, 8)
    decoded = L.GRU(8, return_sequences=True)(dec_embedding(dec_ids), initial_state=[h])
    model = gn.Model([enc_ids, dec_ids], L.Dense(3)(decoded))
    assert (enc_embedding.name, dec_embedding.name) == ("embedding", "embedding_1")
    assert model.get_layer("embedding") is enc_embedding
    assert [layer.name for layer in model.layers if isinstance(layer, L.GRU)] == ["gru", "gru_1"]


GUIDE = Path(__file__).resolve().parents[1] / "docs" / "pytorch.md"


def _guide_port(dtype):
    """docs/pytorch.md's port of the translation tutorial (the block defining BahdanauGRUCell)."""
    blocks = [b for b in re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
              if "class BahdanauGRUCell" in b]
    assert blocks, "docs/pytorch.md: no port of the attention translation tutorial"
    namespace = {}
    exec(compile(blocks[0].replace('dtype, hidden, source_steps, input_words, output_words, SOS_token = "float32"',
                                   f'dtype, hidden, source_steps, input_words, output_words, SOS_token = {dtype!r}'),
                 "docs/pytorch.md (translation with attention)", "exec"), namespace)
    return namespace


def _tutorial_modules(torch, hidden, input_words, output_words, SOS_token, max_length):
    """PyTorch's tutorial's EncoderRNN and AttnDecoderRNN, as it writes them (dropout left out)."""
    nn, F = torch.nn, torch.nn.functional

    class EncoderRNN(nn.Module):
        def __init__(self, input_size, hidden_size):
            super().__init__()
            self.embedding = nn.Embedding(input_size, hidden_size)
            self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)

        def forward(self, input):
            return self.gru(self.embedding(input))

    class BahdanauAttention(nn.Module):
        def __init__(self, hidden_size):
            super().__init__()
            self.Wa, self.Ua, self.Va = nn.Linear(hidden_size, hidden_size), nn.Linear(hidden_size, hidden_size), \
                nn.Linear(hidden_size, 1)

        def forward(self, query, keys):
            scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys))).squeeze(2).unsqueeze(1)
            weights = F.softmax(scores, dim=-1)
            return torch.bmm(weights, keys), weights

    class AttnDecoderRNN(nn.Module):
        def __init__(self, hidden_size, output_size):
            super().__init__()
            self.embedding = nn.Embedding(output_size, hidden_size)
            self.attention = BahdanauAttention(hidden_size)
            self.gru = nn.GRU(2 * hidden_size, hidden_size, batch_first=True)
            self.out = nn.Linear(hidden_size, output_size)

        def forward(self, encoder_outputs, encoder_hidden, target_tensor=None):
            decoder_input = torch.empty(encoder_outputs.size(0), 1, dtype=torch.long).fill_(SOS_token)
            decoder_hidden, outputs = encoder_hidden, []
            for i in range(max_length):
                output, decoder_hidden = self.forward_step(decoder_input, decoder_hidden, encoder_outputs)
                outputs.append(output)
                if target_tensor is not None:
                    decoder_input = target_tensor[:, i].unsqueeze(1)          # teacher forcing
                else:
                    decoder_input = output.topk(1)[1].squeeze(-1).detach()
            return F.log_softmax(torch.cat(outputs, dim=1), dim=-1), decoder_hidden

        def forward_step(self, input, hidden, encoder_outputs):
            context, _ = self.attention(hidden.permute(1, 0, 2), encoder_outputs)
            output, hidden = self.gru(torch.cat((self.embedding(input), context), dim=2), hidden)
            return self.out(output), hidden

    return EncoderRNN(input_words, hidden), AttnDecoderRNN(hidden, output_words)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-10), ("float32", 2e-4)])
def test_the_guides_bahdanau_port_trains_and_decodes_as_the_torch_tutorial(dtype, tol):
    torch = pytest.importorskip("torch")
    old = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, dtype))
    try:
        torch.manual_seed(0)
        ns = _guide_port(dtype)
        steps = ns["source_steps"]
        encoder, decoder = _tutorial_modules(torch, ns["hidden"], ns["input_words"], ns["output_words"],
                                             ns["SOS_token"], steps)
        ns["copy_weights"](encoder, decoder)
        rng = np.random.default_rng(0)
        source = rng.integers(2, ns["input_words"], size=(24, steps))
        target = source[:, ::-1] % 9 + 2                                   # a map to learn, the words reversed
        target_in = np.concatenate([np.full((24, 1), ns["SOS_token"]), target[:, :-1]], 1)
        model, src_t, tgt_t = ns["model"], torch.from_numpy(source), torch.from_numpy(target)
        with torch.no_grad():
            expected = decoder(*encoder(src_t), tgt_t)[0].numpy()
        got = gn.activations.log_softmax(model.predict([source, target_in], verbose=0))
        np.testing.assert_allclose(got, expected, atol=tol)
        # the tutorial's train_epoch: NLLLoss over every step, one Adam per module
        optimizers = [torch.optim.Adam(m.parameters(), lr=0.001) for m in (encoder, decoder)]
        losses = []
        for _ in range(4):
            total = 0.0
            for i in range(0, 24, 8):
                for o in optimizers:
                    o.zero_grad()
                log_probs, _ = decoder(*encoder(src_t[i:i + 8]), tgt_t[i:i + 8])
                loss = torch.nn.NLLLoss()(log_probs.reshape(-1, log_probs.size(-1)), tgt_t[i:i + 8].reshape(-1))
                loss.backward()
                for o in optimizers:
                    o.step()
                total += loss.item()
            losses.append(total / 3)
        history = model.fit([source, target_in], target, batch_size=8, epochs=4, shuffle=False, verbose=0)
        np.testing.assert_allclose(history.history["loss"], losses, rtol=tol)
        np.testing.assert_allclose(ns["decoder"].get_weights()[0], decoder.attention.Wa.weight.detach().numpy().T,
                                   atol=tol)
        np.testing.assert_allclose(ns["encoder_gru"].get_weights()[1][:, :ns["hidden"]],     # z's recurrent kernel
                                   encoder.gru.weight_hh_l0.detach().numpy()[ns["hidden"]:2 * ns["hidden"]].T, atol=tol)
        with torch.no_grad():
            greedy = decoder(*encoder(src_t))[0].argmax(-1).numpy()
        np.testing.assert_array_equal(ns["greedy_decode"](source, steps), greedy)
    finally:
        torch.set_default_dtype(old)


def _addition_data(rng, count, digits=2):
    """keras.io's addition_rnn data, small: "a+b" padded and reversed, one-hot as bools."""
    chars = sorted("0123456789+ ")
    questions, answers = [], []
    for _ in range(count):
        a, b = (int("".join(map(str, rng.integers(0, 10, size=rng.integers(1, digits + 1))))) for _ in range(2))
        questions.append(f"{a}+{b}".ljust(2 * digits + 1)[::-1])
        answers.append(str(a + b).ljust(digits + 1))
    x = np.array([[[c == k for k in chars] for c in q] for q in questions])
    y = np.array([[[c == k for k in chars] for c in s] for s in answers])
    return x, y


def _addition_model(lib, time_distributed):
    """keras.io's model, small: an LSTM encoder, RepeatVector, an LSTM decoder, a softmax per step."""
    head = lib.layers.Dense(12, activation="softmax")
    model = lib.Sequential([lib.layers.Input((5, 12)), lib.layers.LSTM(16), lib.layers.RepeatVector(3),
                            lib.layers.LSTM(16, return_sequences=True),
                            lib.layers.TimeDistributed(head) if time_distributed else head],
                           **({"dtype": "float64"} if lib is gn else {}))
    # Adam with betas exact in float32 and no epsilon to speak of: Keras' rule and glassnet's
    # (PyTorch's) then agree (docs/keras_parity.md)
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"],
                  optimizer=lib.optimizers.Adam(epsilon=1e-30, beta_1=0.875, beta_2=1 - 2 ** -10))
    return model


@pytest.mark.parametrize("time_distributed", [False, True])
def test_keras_addition_rnn_trains_as_keras(time_distributed):
    keras = pytest.importorskip("keras")
    x, y = _addition_data(np.random.default_rng(0), 120)
    # (the dtype policy, cached from floatx when first read, is set and restored too: a float64
    # one would outlive this test)
    old, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        keras.utils.set_random_seed(0)
        k_model = _addition_model(keras, time_distributed)
    finally:
        keras.config.set_floatx(old)
        keras.config.set_dtype_policy(policy)
    g_model = _addition_model(gn, time_distributed)
    g_model.set_weights(k_model.get_weights())
    kh = k_model.fit(x[:100], y[:100], batch_size=32, epochs=3, validation_data=(x[100:], y[100:]),
                     shuffle=False, verbose=0).history
    gh = g_model.fit(x[:100], y[:100], batch_size=32, epochs=3, validation_data=(x[100:], y[100:]),
                     shuffle=False, verbose=0).history
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):     # Keras averages its logs in float32
        np.testing.assert_allclose(gh[key], kh[key], rtol=1e-6, err_msg=key)
    for a, b in zip(g_model.get_weights(), k_model.get_weights()):
        # Adam's near-sign steps on tiny gradients magnify rounding: ~1e-9 alone, up to 8e-8 after
        # the suite's other tests have set TensorFlow's threads (another order of float64 sums)
        np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_array_equal(g_model.predict(x, verbose=0).argmax(-1), k_model.predict(x, verbose=0).argmax(-1))
