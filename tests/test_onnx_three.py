"""``model.export(path, format="onnx")`` for what session 46 added: attention layers called with
``return_attention_scores=True`` (MultiHeadAttention, GroupedQueryAttention, Attention,
AdditiveAttention). Each file is read by onnx's checker (full_check) and run by onnxruntime on
batches of 1 and 7: equal to glassnet's ``predict`` within 1e-5 relative (float32) and 1e-10
(float64), on masks with holes, left and right padding and rows with no real step; where Keras
3.15 has the same model, against Keras' ``predict`` too (given glassnet's weights)."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers
onnx = pytest.importorskip("onnx", reason="onnx (test oracle) not installed")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime (test oracle) not installed")
from onnx_checks import check as _check, exported as _exported, jitter as _jitter, masked_ids as _ids, \
    refused as _refused  # noqa: E402

STEPS = 6


def _run(session, xs):
    xs = xs if isinstance(xs, list) else [xs]
    return session.run(None, dict(zip([i.name for i in session.get_inputs()], xs)))


def _value(rng, dtype="float32"):
    """7 value sequences of STEPS + 1 steps for Masking(-1.0): holes, left and right padding, a
    row all padding (row 4)."""
    x = rng.normal(size=(7, STEPS + 1, 4))
    pattern = np.ones((7, STEPS + 1), bool)
    pattern[0, 4:] = pattern[1, :3] = pattern[2, [0, 2, 5]] = pattern[4] = False
    x[~pattern] = -1.0
    return x.astype(dtype)


# -- return_attention_scores=True ----------------------------------------------------------------
# each maker takes the layers module (glassnet's or Keras') and [query, value]; returns (out, scores)
SCORES = {
    "mha": lambda k, xs: k.MultiHeadAttention(2, 3)(xs[0], xs[1], return_attention_scores=True),
    "mha_causal_dropout": lambda k, xs: k.MultiHeadAttention(2, 3, value_dim=2, dropout=0.3)(
        xs[0], xs[1], return_attention_scores=True, use_causal_mask=True),
    "gqa": lambda k, xs: k.GroupQueryAttention(3, 4, 2)(xs[0], xs[1], return_attention_scores=True),
    "gqa_window_causal": lambda k, xs: k.GroupQueryAttention(3, 2, 1, sliding_window=2)(
        xs[0], xs[1], return_attention_scores=True, use_causal_mask=True),
    "attention_dot_scale": lambda k, xs: k.Attention(use_scale=True)(xs, return_attention_scores=True),
    "attention_concat_causal": lambda k, xs: k.Attention(score_mode="concat", use_scale=True)(
        xs, return_attention_scores=True, use_causal_mask=True),
    "additive": lambda k, xs: k.AdditiveAttention()(xs, return_attention_scores=True),
}
L.GroupQueryAttention = getattr(L, "GroupQueryAttention", L.GroupedQueryAttention)


def _scores_model(k, make, masked, dtype=None, keras_model=None):
    """The attention call on a query and a value: plain (batch, STEPS, 4) and (batch, STEPS + 1,
    4) inputs, or (``masked``) an Embedding(mask_zero=True) query and a Masking(-1.0) value;
    outputs [output, scores]."""
    Input, Model = (keras_model.Input, keras_model.Model) if keras_model else (gn.Input, gn.Model)
    if masked:
        ids, x = Input((STEPS,), dtype="int32"), Input((STEPS + 1, 4))
        inputs, xs = [ids, x], [k.Embedding(10, 4, mask_zero=True)(ids), k.Masking(-1.0)(x)]
    else:
        inputs = xs = [Input((STEPS, 4)), Input((STEPS + 1, 4))]
    out, scores = make(k, xs)
    return Model(inputs, [out, scores], **({"dtype": dtype} if dtype else {}))


def _data(rng, masked, dtype="float32"):
    query = _ids(rng) if masked else rng.normal(size=(7, STEPS, 4)).astype(dtype)
    return [query, _value(rng, dtype)]


@pytest.mark.parametrize("masked", [False, True], ids=["plain", "masked"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(SCORES))
def test_returned_scores(name, dtype, masked, rng, tmp_path):
    model = _jitter(_scores_model(L, SCORES[name], masked, dtype), rng)
    session = _check(model, _data(rng, masked, dtype), tmp_path, dtype)
    out_shape, scores_shape = (o.shape for o in session.get_outputs())
    heads = {"mha": 2, "gqa": 4, "gqa_window_causal": 2}.get(name, 2 if name.startswith("mha") else None)
    assert scores_shape[1:] == ([heads] if heads else []) + [STEPS, STEPS + 1]


def test_returned_scores_any_length(rng, tmp_path):
    """Self-attention over Input((None, 4)), causal: one file runs 5 and 9 steps."""
    x = gn.Input((None, 4))
    out, scores = L.MultiHeadAttention(2, 2)(x, x, return_attention_scores=True, use_causal_mask=True)
    model = _jitter(gn.Model(x, [scores, out]), rng)
    _, session = _exported(model, tmp_path)
    for steps in (5, 9):
        data = rng.normal(size=(3, steps, 4)).astype("float32")
        for got, want in zip(_run(session, data), model.predict(data, verbose=0)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        assert np.all(np.triu(_run(session, data)[0], k=1) == 0)      # causal: no weight on later steps


@pytest.mark.parametrize("masked", [False, True], ids=["plain", "masked"])
@pytest.mark.parametrize("name", sorted(SCORES))
def test_returned_scores_against_keras(name, masked, keras, rng, tmp_path):
    """Keras 3.15's model of the same layers given glassnet's weights: its output and scores."""
    model = _jitter(_scores_model(L, SCORES[name], masked), rng)
    theirs = _scores_model(keras.layers, SCORES[name], masked, keras_model=keras)
    theirs.set_weights(model.get_weights())
    data = _data(rng, masked)
    _, session = _exported(model, tmp_path)
    for got, want in zip(_run(session, data), theirs.predict(data, verbose=0)):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-5)
