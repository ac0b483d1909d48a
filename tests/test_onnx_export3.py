"""``model.export(path, format="onnx")`` for a functional model's operation nodes (the operators
on tensors and ``glassnet.ops`` functions drawn on them: TensorOp, TensorFunction), the attention
layers (MultiHeadAttention, GroupedQueryAttention, Attention, AdditiveAttention) and EinsumDense:
the file read back by ``onnx`` (checker, full_check) and run by onnxruntime equals glassnet's
``predict`` (float32 to 1e-5 relative, float64 to 1e-10) on batches of 1 and 7 from one file, and
Keras 3.15's ``predict`` of the same model (its .keras file), a keras.io transformer encoder block
among them; refusals by name before anything is written."""
import os

import numpy as np
import pytest

import glassnet as gn

L, ops = gn.layers, gn.ops
onnx = pytest.importorskip("onnx", reason="onnx (test oracle) not installed")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime (test oracle) not installed")
from onnx_checks import TOLERANCES, check as _check, exported as _exported, jitter as _jitter


def _exported_session(model, tmp_path):
    return _exported(model, tmp_path)[1]


W = np.random.default_rng(5).normal(size=(4, 5))
P = np.random.default_rng(6).normal(size=(3, 4))


def _operator_outputs(x, y):
    """Python's operators on tensors and constants (TensorOp)."""
    return [x + y, x - y, x * y, x / (abs(y) + 1.0), x * 2.0, 3.0 - x, 1.0 / (abs(x) + 1.0), -x, abs(x), x ** 2,
            x + P, P * y, x[:, 0], x[:, 1:, ::2], x[:, ::-1, None, -1], x[..., 1:3], x[:, -1]]


def _function_outputs(x, y):
    """glassnet.ops functions drawn on tensors (TensorFunction)."""
    return [ops.matmul(x, W), ops.matmul(x, ops.transpose(y, (0, 2, 1))), ops.exp(x), ops.log(abs(x) + 1.0),
            ops.sqrt(abs(x)), ops.square(x), ops.tanh(x), ops.sigmoid(x), ops.relu(x), ops.softplus(x),
            ops.softmax(x, axis=1), ops.log_softmax(x), ops.sum(x, axis=-1), ops.mean(x, axis=[1, 2], keepdims=True),
            ops.max(x, axis=1), ops.min(x, axis=2, keepdims=True), ops.reshape(x, (-1, 12)),
            ops.reshape(x, (None, 2, -1)), ops.transpose(x, (0, 2, 1)), ops.expand_dims(x, 1),
            ops.squeeze(ops.expand_dims(x, -1), -1), ops.concatenate([x, y], axis=-1), ops.stack([x, y], axis=1),
            ops.cast(x, "float16"), ops.clip(x, -0.5, 0.5), ops.where(x > 0, x, y),
            ops.where(x > y, 1.0, 0.5), ops.maximum(x, y), ops.minimum(x, 0.1), ops.power(x, y * 0.0 + 2.0),
            ops.einsum("bij,bkj->bik", x, y), ops.einsum("bij,jk->bik", x, W), x >= y, ops.equal(x, 0.0),
            ops.not_equal(x, y), ops.less(x, 0.2), ops.logical_and(x > 0, y > 0), ops.gelu(x), ops.silu(x),
            ops.leaky_relu(x), ops.elu(x), ops.hard_sigmoid(x), ops.round(x * 3.0)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("make", [_operator_outputs, _function_outputs], ids=["operators", "functions"])
def test_operation_nodes_match_predict(make, dtype, rng, tmp_path):
    x, y = gn.Input((3, 4), name="x"), gn.Input((3, 4), name="y")
    outputs = make(x, y)
    if dtype == "float32" and make is _function_outputs:
        outputs.append(ops.erf(x))          # (onnxruntime 1.32 runs Erf in float32 only)
    model = gn.Model([x, y], outputs, dtype=dtype)
    xs = [rng.normal(size=(7, 3, 4)).astype(dtype) for _ in range(2)]
    _check(model, xs, tmp_path, dtype)


def _attention_outputs(x, y):
    return [L.MultiHeadAttention(2, 3)(x, x),
            L.MultiHeadAttention(3, 2, value_dim=4, use_bias=False, output_shape=7)(x, y),
            L.MultiHeadAttention(2, 3)(x, y, y * 2.0),
            L.MultiHeadAttention(2, 4)(x, x, use_causal_mask=True),
            L.GroupedQueryAttention(head_dim=3, num_query_heads=4, num_key_value_heads=2)(x, y),
            L.Attention()([x[:, :, :4], y]), L.Attention(use_scale=True, score_mode="concat")([x[:, :, :4], y]),
            L.Attention(use_scale=True)([x[:, :, :4], y, y * 0.5]), L.AdditiveAttention()([x[:, :, :4], y]),
            L.AdditiveAttention(use_scale=False)([x[:, :, :4], y], use_causal_mask=True),
            L.EinsumDense("abc,cde->abde", output_shape=(None, 4, 2), bias_axes="de", activation="relu")(x),
            L.EinsumDense("...c,cd->...d", output_shape=3)(x)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_attention_match_predict(dtype, rng, tmp_path):
    x, y = gn.Input((5, 8), name="x"), gn.Input((6, 4), name="y")
    model = _jitter(gn.Model([x, y], _attention_outputs(x, y), dtype=dtype), rng)
    xs = [rng.normal(size=(7, 5, 8)).astype(dtype), rng.normal(size=(7, 6, 4)).astype(dtype)]
    _check(model, xs, tmp_path, dtype)
    ops_used = {n.op_type for n in onnx.load(str(tmp_path / "model.onnx")).graph.node}
    assert {"Einsum", "Softmax", "Where"} <= ops_used


def test_attention_any_length(rng, tmp_path):
    """Self-attention over sequences of any length (Input((None, 8))): one file runs 5 and 9 steps."""
    x = gn.Input((None, 8))
    model = _jitter(gn.Model(x, L.MultiHeadAttention(2, 4)(x, x) + x), rng)
    session = _check(model, [rng.normal(size=(7, 5, 8)).astype("float32")], tmp_path, "float32")
    longer = rng.normal(size=(2, 9, 8)).astype("float32")
    (got,) = session.run(None, {session.get_inputs()[0].name: longer})
    np.testing.assert_allclose(got, model.predict(longer, verbose=0), **TOLERANCES["float32"])


def _encoder_block(lib=gn, seq=6, embed=8, heads=2, ff=16, **model_kwargs):
    """keras.io's TransformerBlock (text classification with a Transformer) drawn as a functional
    model: MultiHeadAttention, Dropout, residuals (an Add layer, and ``out1 + ffn`` as its call
    writes it), LayerNormalization, a Dense feed-forward; drawn with ``lib`` glassnet or Keras."""
    layers = lib.layers
    inputs = lib.Input((seq, embed), name="tokens")
    attention = layers.MultiHeadAttention(num_heads=heads, key_dim=embed)(inputs, inputs)
    out1 = layers.LayerNormalization(epsilon=1e-6)(layers.Add()([inputs, layers.Dropout(0.1)(attention)]))
    ffn = layers.Dense(embed)(layers.Dense(ff, activation="relu")(out1))
    out2 = layers.LayerNormalization(epsilon=1e-6)(out1 + layers.Dropout(0.1)(ffn))
    pooled = layers.GlobalAveragePooling1D()(out2)
    return lib.Model(inputs, layers.Dense(3, activation="softmax")(pooled), **model_kwargs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_encoder_block_matches_predict(dtype, rng, tmp_path):
    model = _jitter(_encoder_block(dtype=dtype), rng)
    _check(model, [rng.normal(size=(7, 6, 8)).astype(dtype)], tmp_path, dtype)


def _against_keras(keras, make, xs, rng, tmp_path):
    """The model ``make(lib)`` drawn in glassnet and in Keras 3.15 with glassnet's weights
    (``get_weights``, Keras' order): onnxruntime runs what Keras predicts, within 1e-5. (glassnet's
    .keras writer takes no operation nodes, so Keras draws the same code.)"""
    model = _jitter(make(gn), rng)
    theirs = make(keras)
    theirs.set_weights(model.get_weights())
    want = theirs.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    want = want if isinstance(want, list) else [want]
    session = _exported_session(model, tmp_path)
    got = session.run(None, dict(zip([i.name for i in session.get_inputs()], xs)))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(w), rtol=1e-5, atol=1e-5)


def test_encoder_block_against_keras(keras, rng, tmp_path):
    _against_keras(keras, _encoder_block, [rng.normal(size=(7, 6, 8)).astype("float32")], rng, tmp_path)


def _attention_block(lib):
    """Cross-attention with output_shape, a causal self-attention, GroupedQueryAttention,
    Attention, AdditiveAttention, EinsumDense and a few ops."""
    layers = lib.layers
    x, y = lib.Input((5, 8), name="x"), lib.Input((6, 4), name="y")
    outs = [layers.MultiHeadAttention(3, 2, value_dim=4, output_shape=7)(x, y),
            layers.MultiHeadAttention(2, 4)(x, x, use_causal_mask=True),
            (getattr(layers, "GroupedQueryAttention", None) or layers.GroupQueryAttention)(
                head_dim=3, num_query_heads=4, num_key_value_heads=2)(x, x),
            layers.Attention(use_scale=True)([layers.Dense(4)(x), y]), layers.AdditiveAttention()([layers.Dense(4)(x), y]),
            layers.EinsumDense("abc,cde->abde", output_shape=(None, 4, 2), bias_axes="de")(x),
            lib.ops.mean(lib.ops.softmax(x * 2.0 - 1.0, axis=1), axis=-1), x[:, 1:, ::2] + lib.ops.tanh(x[:, 1:, 1::2]),
            lib.ops.einsum("bij,bkj->bik", x, x), lib.ops.where(x > 0.0, x, lib.ops.square(x))]
    return lib.Model([x, y], outs)


def test_attention_against_keras(keras, rng, tmp_path):
    xs = [rng.normal(size=(7, 5, 8)).astype("float32"), rng.normal(size=(7, 6, 4)).astype("float32")]
    _against_keras(keras, _attention_block, xs, rng, tmp_path)


def _over_axes():
    x = gn.Input((3, 4, 6))
    return gn.Model(x, L.MultiHeadAttention(2, 3)(x, x))


def _op(make):
    x = gn.Input((3, 4))
    return lambda: gn.Model(x, make(x))


def _log2():
    x = gn.Input((3, 4))
    return gn.Model(x, ops.log2(x))


@pytest.mark.parametrize("make, words", [
    # (GroupedQueryAttention's attention_mask and sliding_window are exported since session 45:
    # tests/test_onnx_more.py)
    (_over_axes, "attention over axes (1, 2) of inputs of 4 axes is not exported"),
    # (cumsum and sort are exported since session 44: tests/test_onnx_export4.py)
    # (flip, argmax and argmin are exported since session 45: tests/test_onnx_more.py)
    # (inv, solve, cholesky, ... of fixed sizes are exported since session 46: tests/test_onnx_three.py)
    # (and of sizes left open or over 64 rows since session 47, a Loop: tests/test_onnx_four.py)
    # (log1p and expm1 are exported since session 47, accurate forms: tests/test_onnx_five.py)
    (_log2, "ops.log2 has no ONNX form here"),
])
def test_refused_before_writing(make, words, tmp_path):
    model = make()
    with pytest.raises(ValueError, match="export|has no ONNX") as info:
        model.export(tmp_path / "m.onnx", format="onnx")
    assert words in str(info.value)
    assert os.listdir(tmp_path) == []
