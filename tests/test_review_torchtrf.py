"""Review "torchtrf": PyTorch's transformer blocks ported to glassnet (docs/pytorch.md, Transformers):
``nn.MultiheadAttention`` (masks, kdim/vdim, averaged weights), ``nn.TransformerEncoderLayer``
(post- and pre-norm, relu and gelu, causal and padding masks) and the 2-layer language model of
PyTorch's "Language modeling with nn.Transformer", checked in float64 against PyTorch from the
same weights (values, losses and weights after SGD and Adam steps). Also: an eager
``attention_mask`` of shape (T, S), one mask for every sample, which Keras 3.15 broadcasts (as
PyTorch's ``attn_mask``), was refused."""
import math
import re
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn

L = gn.layers
GUIDE = Path(__file__).resolve().parents[1] / "docs" / "pytorch.md"


def _guide_namespace():
    """Runs the guide's transformer example (the block defining ``mha_weights``) and returns its names."""
    blocks = [b for b in re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
              if "def mha_weights" in b]
    assert blocks, "docs/pytorch.md: no transformer example (nn.MultiheadAttention's weights ported)"
    namespace = {}
    exec(compile(blocks[0], "docs/pytorch.md (Transformers)", "exec"), namespace)
    return namespace


# ---- an eager attention_mask of shape (T, S) ------------------------------------------------------

@pytest.mark.parametrize("layer", [lambda: L.MultiHeadAttention(2, 3, seed=0),
                                   lambda: L.GroupedQueryAttention(3, 4, 2, seed=0)])
def test_an_eager_attention_mask_of_T_S_applies_to_every_sample_as_keras(layer):
    rng = np.random.default_rng(0)
    q, v = rng.standard_normal((2, 4, 6)), rng.standard_normal((2, 5, 6))
    allowed = rng.random((4, 5)) < 0.6
    allowed[:, 0] = True
    mha = layer()
    out, scores = mha(q, v, attention_mask=allowed, return_attention_scores=True)
    expected, expected_scores = mha(q, v, attention_mask=np.broadcast_to(allowed, (2, 4, 5)),
                                    return_attention_scores=True)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(scores, expected_scores)
    assert not scores[:, :, ~allowed].any()


def test_an_attention_mask_of_one_axis_is_still_refused_by_name():
    mha = L.MultiHeadAttention(2, 3, seed=0)
    with pytest.raises(ValueError, match="attention_mask"):
        mha(np.ones((2, 4, 6)), np.ones((2, 5, 6)), attention_mask=np.ones(5, bool))


# ---- docs/pytorch.md's transformer rows, against PyTorch ---------------------------------------

@pytest.fixture(scope="module")
def guide():
    """The guide's example run once, in PyTorch's default float32 (its arrays are float32)."""
    pytest.importorskip("torch")
    return _guide_namespace()


@pytest.fixture
def torch64(guide):
    torch = pytest.importorskip("torch")
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    yield torch
    torch.set_default_dtype(before)


def _t(p):
    return p.detach().numpy().copy()


def test_the_guides_encoder_layer_example_runs_as_torch(guide):
    assert {"mha_weights", "encoder_layer", "copy_encoder_layer"} <= set(guide)   # its run asserted against torch


@pytest.mark.parametrize("kdim, vdim", [(None, None), (7, 5)])
def test_multihead_attention_row_masks_and_averaged_weights_match_torch(torch64, guide, kdim, vdim):
    torch = torch64
    N, T, S, E, h = 2, 4, 5, 6, 3
    attn = torch.nn.MultiheadAttention(E, h, batch_first=True, kdim=kdim, vdim=vdim)
    with torch.no_grad():                                   # PyTorch starts them at 0
        attn.in_proj_bias.normal_()
        attn.out_proj.bias.normal_()
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((N, n, d)) for n, d in ((T, E), (S, kdim or E), (S, vdim or E)))
    mha = L.MultiHeadAttention(h, E // h, dtype="float64")
    mha(q, v, k)
    mha.set_weights(guide["mha_weights"](attn))
    masked = rng.random((T, S)) < 0.3                       # PyTorch's attn_mask: True is masked
    masked[:, 0] = False
    padding = np.zeros((N, S), dtype=bool)
    padding[1, 3:] = True                                   # key_padding_mask: True is padding
    tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))

    out, weights = attn(tq, tk, tv, attn_mask=torch.from_numpy(masked), key_padding_mask=torch.from_numpy(padding))
    got, scores = mha(q, v, k, attention_mask=~masked[None] & ~padding[:, None, :], return_attention_scores=True)
    np.testing.assert_allclose(got, _t(out), atol=1e-13)
    np.testing.assert_allclose(scores.mean(axis=1), _t(weights), atol=1e-14)    # need_weights: averaged

    additive = torch.from_numpy(np.where(masked, -np.inf, 0.0))                  # a float attn_mask
    out, weights = attn(tq, tk, tv, attn_mask=additive, average_attn_weights=False)
    got, scores = mha(q, v, k, attention_mask=_t(additive) == 0, return_attention_scores=True)   # (T, S)
    np.testing.assert_allclose(got, _t(out), atol=1e-13)
    np.testing.assert_allclose(scores, _t(weights), atol=1e-14)

    out, _ = attn(tq, tk, tv, key_padding_mask=torch.from_numpy(padding))
    np.testing.assert_allclose(mha(q, v, k, key_mask=~padding), _t(out), atol=1e-13)


def _copy_weights(guide, layer):
    """An nn.TransformerEncoderLayer's weights in the order _port_weights reads a port's."""
    return guide["mha_weights"](layer.self_attn) + [_t(p) for p in (
        layer.norm1.weight, layer.norm1.bias, layer.norm2.weight, layer.norm2.bias)] + [
        _t(layer.linear1.weight).T, _t(layer.linear1.bias), _t(layer.linear2.weight).T, _t(layer.linear2.bias)]


def _port_weights(layers):
    return [w for layer in layers for w in layer.get_weights()]


def _largest_difference(a, b):
    assert len(a) == len(b)
    return max(np.abs(x - y).max() for x, y in zip(a, b))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_with_causal_and_padding_masks_trains_as_torch(torch64, guide, norm_first, activation):
    torch = torch64
    E, heads, F, T = guide["E"], guide["heads"], guide["F"], guide["T"]
    layer = torch.nn.TransformerEncoderLayer(E, heads, F, dropout=0.0, batch_first=True, norm_first=norm_first,
                                             activation=activation)
    with torch.no_grad():                                   # biases away from their zeros and ones
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x, allowed = gn.Input((T, E)), gn.Input((T, T))
    out, layers = guide["encoder_layer"](x, allowed, norm_first=norm_first, activation=activation)
    model = gn.Model([x, allowed], out, dtype="float64")
    guide["copy_encoder_layer"](layer, layers)
    rng = np.random.default_rng(1)
    src, target = rng.standard_normal((3, T, E)), rng.standard_normal((3, T, E))
    causal = torch.nn.Transformer.generate_square_subsequent_mask(T) < 0
    padding = np.zeros((3, T), dtype=bool)
    padding[1, 3:] = padding[2, 4:] = True
    mask = (~_t(causal)[None] & ~padding[:, None, :]).astype("float64")

    def torch_out():
        return layer(torch.from_numpy(src), src_mask=causal, src_key_padding_mask=torch.from_numpy(padding))

    np.testing.assert_allclose(model.predict([src, mask], verbose=0), _t(torch_out()), atol=1e-13)
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=0.1))
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        loss = ((torch_out() - torch.from_numpy(target)) ** 2).mean()
        loss.backward()
        optimizer.step()
        assert model.train_on_batch([src, mask], target) == pytest.approx(loss.item(), abs=1e-13)
        assert _largest_difference(_port_weights(layers), _copy_weights(guide, layer)) < 1e-13


def _language_model(torch, V, E, heads, F, layers):
    """The model of PyTorch's "Language modeling with nn.Transformer" (dropout 0), as written there."""
    nn = torch.nn

    class PositionalEncoding(nn.Module):
        def __init__(self, d_model, max_len=5000):
            super().__init__()
            position = torch.arange(max_len).unsqueeze(1)
            div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
            pe = torch.zeros(max_len, 1, d_model)
            pe[:, 0, 0::2] = torch.sin(position * div_term)
            pe[:, 0, 1::2] = torch.cos(position * div_term)
            self.register_buffer("pe", pe)

        def forward(self, x):               # (steps, batch, d_model)
            return x + self.pe[:x.size(0)]

    class TransformerModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.pos_encoder = PositionalEncoding(E)
            self.transformer_encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, heads, F, 0.0), layers,
                                                             enable_nested_tensor=False)
            self.embedding = nn.Embedding(V, E)
            self.linear = nn.Linear(E, V)
            self.embedding.weight.data.uniform_(-0.1, 0.1)
            self.linear.bias.data.zero_()
            self.linear.weight.data.uniform_(-0.1, 0.1)

        def forward(self, src, src_mask):
            src = self.pos_encoder(self.embedding(src) * math.sqrt(E))
            return self.linear(self.transformer_encoder(src, src_mask))

    return TransformerModel()


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_the_language_modeling_tutorials_model_trains_as_torch(torch64, guide, optimizer):
    torch = torch64
    V, E, heads, F, T, N = 11, guide["E"], guide["heads"], guide["F"], 6, 4
    net = _language_model(torch, V, E, heads, F, 2)
    ids = gn.Input((T,), dtype="int32")
    embedding, linear = L.Embedding(V, E), L.Dense(V)
    x = L.Rescaling(math.sqrt(E), offset=_t(net.pos_encoder.pe[:T, 0]))(embedding(ids))   # * sqrt(d), + pe
    ports = []
    for _ in range(2):
        x, layers = guide["encoder_layer"](x, None, causal=True)      # the tutorial's square subsequent mask
        ports.append(layers)
    model = gn.Model(ids, linear(x), dtype="float64")
    embedding.set_weights([_t(net.embedding.weight)])
    for layer, layers in zip(net.transformer_encoder.layers, ports):
        guide["copy_encoder_layer"](layer, layers)
    linear.set_weights([_t(net.linear.weight).T, _t(net.linear.bias)])
    data = np.random.default_rng(1).integers(0, V, (N, T + 1))
    src, target = data[:, :-1], data[:, 1:]
    mask = torch.nn.Transformer.generate_square_subsequent_mask(T)

    def torch_logits():                     # the tutorial's (steps, batch) tensors, batch first again
        return net(torch.from_numpy(src).T, mask).transpose(0, 1)

    np.testing.assert_allclose(model.predict(src, verbose=0), _t(torch_logits()), atol=1e-13)
    if optimizer == "sgd":
        torch_optimizer, ours = torch.optim.SGD(net.parameters(), lr=0.5), gn.optimizers.SGD(learning_rate=0.5)
    else:
        torch_optimizer, ours = torch.optim.Adam(net.parameters(), lr=1e-2), gn.optimizers.Adam(1e-2, epsilon=1e-8)
    model.compile(loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer=ours)
    for _ in range(4):
        torch_optimizer.zero_grad()
        loss = torch.nn.CrossEntropyLoss()(torch_logits().reshape(-1, V), torch.from_numpy(target).reshape(-1))
        loss.backward()
        torch_optimizer.step()
        assert model.train_on_batch(src, target) == pytest.approx(loss.item(), abs=1e-12)
        expected = [_t(net.embedding.weight)] + [w for layer in net.transformer_encoder.layers
                                                 for w in _copy_weights(guide, layer)]
        got = embedding.get_weights() + [w for layers in ports for w in _port_weights(layers)]
        assert _largest_difference(got + linear.get_weights(),
                                   expected + [_t(net.linear.weight).T, _t(net.linear.bias)]) < 1e-10
