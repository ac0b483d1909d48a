"""GroupedQueryAttention (Keras' GroupQueryAttention): values, scores and masks against Keras 3.15,
every gradient against PyTorch autograd and finite differences (float64), the multi-head and
multi-query ends, a self-attention block trained as Keras trains it, model files and refusals."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import numerical_gradient

L = gn.layers
SETTINGS = [dict(head_dim=3, num_query_heads=4, num_key_value_heads=2),
            dict(head_dim=2, num_query_heads=3, num_key_value_heads=1),          # multi-query attention
            dict(head_dim=2, num_query_heads=6, num_key_value_heads=3, use_bias=False)]


def _inputs(rng, key, dtype=np.float64):
    query, value = rng.standard_normal((3, 5, 6)).astype(dtype), rng.standard_normal((3, 7, 4)).astype(dtype)
    return [query, value] + ([rng.standard_normal((3, 7, 5)).astype(dtype)] if key else [])


def _torch_gqa(torch, layer, xs, causal=False, window=None):
    """The layer's maths in torch: keys and values projected to their heads, each repeated for its
    group of query heads (repeat_interleave), then scaled dot-product attention."""
    params = {name: torch.tensor(value, requires_grad=True) for name, value in layer.params.items()}
    query, value = xs[0], xs[1]
    key = xs[2] if len(xs) == 3 else value
    group = layer.num_query_heads // layer.num_key_value_heads

    def project(x, name):
        out = torch.einsum("nte,ehd->nhtd", x, params[f"{name}_kernel"])
        return out + params[f"{name}_bias"][None, :, None, :] if layer.use_bias else out

    q = project(query, "query") / layer.head_dim ** 0.5
    k = project(key, "key").repeat_interleave(group, dim=1)
    v = project(value, "value").repeat_interleave(group, dim=1)
    scores = q @ k.transpose(-1, -2)
    if causal:
        steps, sources = scores.shape[-2:]
        scores = scores.masked_fill(torch.ones(steps, sources, dtype=torch.bool).triu(1), float("-inf"))
    if window is not None:          # Keras' band, |t - s| < window
        steps, sources = scores.shape[-2:]
        outside = (torch.arange(steps)[:, None] - torch.arange(sources)[None, :]).abs() >= window
        scores = scores.masked_fill(outside, float("-inf"))
    out = torch.einsum("nhtd,hdo->nto", torch.softmax(scores, dim=-1) @ v, params["output_kernel"])
    return (out + params["output_bias"] if layer.use_bias else out), params


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
@pytest.mark.parametrize("key", [False, True])
def test_values_and_scores_match_keras(settings, key, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    xs = _inputs(rng, key, np.float32)
    ours, theirs = L.GroupQueryAttention(**settings, seed=0), keras.layers.GroupQueryAttention(**settings)
    out, scores = ours(*xs, return_attention_scores=True)
    theirs(*xs)
    theirs.set_weights(ours.get_weights())                 # Keras' shapes and order
    expected, expected_scores = theirs(*xs, return_attention_scores=True)
    np.testing.assert_allclose(out, np.asarray(expected), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scores, np.asarray(expected_scores), rtol=1e-5, atol=1e-6)
    assert out.dtype == np.float32 and out.shape == (3, 5, 6) and scores.shape == (3, settings["num_query_heads"], 5, 7)
    query_mask, value_mask = rng.random((3, 5)) > 0.3, rng.random((3, 7)) > 0.3
    value_mask[:, 0] = True
    np.testing.assert_allclose(ours(*xs, query_mask=query_mask, value_mask=value_mask),
                               np.asarray(theirs(*xs, query_mask=query_mask, value_mask=value_mask)), rtol=1e-5, atol=1e-6)
    self_ours = L.GroupQueryAttention(**settings, seed=1)
    self_theirs = keras.layers.GroupQueryAttention(**settings)
    x = xs[0]
    self_ours(x, x)
    self_theirs(x, x)
    self_theirs.set_weights(self_ours.get_weights())
    np.testing.assert_allclose(self_ours(x, x, use_causal_mask=True), np.asarray(self_theirs(x, x, use_causal_mask=True)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
def test_gradients_match_torch_autograd(settings, rng, torch):
    layer = L.GroupQueryAttention(**settings, seed=0, dtype="float64", bias_initializer="random_normal")
    xs = _inputs(rng, True)
    out = layer(*xs)
    upstream = rng.standard_normal(out.shape)
    grads = layer.backward(upstream)
    txs = [torch.tensor(x, requires_grad=True) for x in xs]
    tout, tparams = _torch_gqa(torch, layer, txs)
    (tout * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    for g, t in zip(grads, txs):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, t in tparams.items():
        np.testing.assert_allclose(layer.grads[name], t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_gradients_agree_with_finite_differences_with_a_causal_mask(rng):
    layer = L.GroupQueryAttention(head_dim=2, num_query_heads=4, num_key_value_heads=2, seed=0, dtype="float64")
    x = rng.standard_normal((2, 4, 3))
    out = layer(x, x, use_causal_mask=True)
    upstream = rng.standard_normal(out.shape)
    d_query, d_value = layer.backward(upstream)
    analytic = {name: g.copy() for name, g in layer.grads.items()}

    def loss():
        return float(np.sum(layer(x, x, use_causal_mask=True) * upstream))
    for name, value in layer.params.items():
        np.testing.assert_allclose(analytic[name], numerical_gradient(loss, value), rtol=1e-6, atol=1e-8, err_msg=name)


def test_as_many_key_value_heads_as_query_heads_is_multi_head_attention(rng):
    xs = _inputs(rng, False)
    gqa = L.GroupQueryAttention(head_dim=3, num_query_heads=2, num_key_value_heads=2, seed=0, dtype="float64")
    mha = L.MultiHeadAttention(num_heads=2, key_dim=3, dtype="float64")
    out = gqa(*xs)
    mha(*xs)
    mha.set_weights(gqa.get_weights())
    np.testing.assert_allclose(mha(*xs), out, rtol=1e-12)


def _block(lib):
    inputs = lib.Input((6, 4))
    attended = lib.layers.GroupQueryAttention(head_dim=3, num_query_heads=4, num_key_value_heads=2, name="gqa")(
        inputs, inputs, use_causal_mask=True)
    h = lib.layers.LayerNormalization(name="ln")(lib.layers.Add()([inputs, attended]))
    return inputs, lib.layers.Dense(3, activation="softmax", name="out")(lib.layers.GlobalAveragePooling1D()(h))


def test_a_self_attention_block_trains_as_keras_and_round_trips(rng, tmp_path):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = gn.Model(*_block(gn), seed=0), keras.Model(*_block(keras))
    for layer in ours.layers:
        if layer.params:
            theirs.get_layer(layer.name).set_weights(layer.get_weights())
    x, y = rng.standard_normal((32, 6, 4)).astype(np.float32), rng.integers(0, 3, 32)
    ours.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.SGD(0.1))
    theirs.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.1))
    np.testing.assert_allclose(ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"],
                               theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"],
                               rtol=1e-5)
    ours.save(tmp_path / "gqa.npz")
    loaded = gn.load_model(tmp_path / "gqa.npz")
    np.testing.assert_array_equal(loaded.predict(x), ours.predict(x))
    config = loaded.get_layer("gqa").get_config()
    assert (config["head_dim"], config["num_query_heads"], config["num_key_value_heads"]) == (3, 4, 2)


def test_refusals_name_what_was_expected_and_what_came():
    with pytest.raises(ValueError, match=r"num_query_heads \(6\) must be a multiple of num_key_value_heads \(4\)"):
        L.GroupQueryAttention(head_dim=2, num_query_heads=6, num_key_value_heads=4)
    for bad in (0, -1, 2.0, True, "2"):
        with pytest.raises(ValueError, match=rf"^GroupedQueryAttention: sliding_window must be None or a positive "
                                             rf"integer, got {bad!r}"):
            L.GroupQueryAttention(2, 4, 2, sliding_window=bad)
    with pytest.raises(TypeError, match="GroupedQueryAttention: use_gate"):     # (True is built: session 48)
        L.GroupQueryAttention(2, 4, 2, use_gate="yes")
    with pytest.raises(ValueError, match="flash_attention=True is not supported"):
        L.GroupQueryAttention(2, 4, 2, flash_attention=True)
    with pytest.raises(TypeError, match=r"not MultiHeadAttention's \['output_shape'\]"):
        L.GroupQueryAttention(2, 4, 2, output_shape=5)
    assert L.GroupQueryAttention is L.GroupedQueryAttention


def test_errors_name_this_layer_and_what_it_takes():
    with pytest.raises(ValueError, match="^GroupedQueryAttention: head_dim must be a positive integer, got 0"):
        L.GroupQueryAttention(head_dim=0, num_query_heads=2, num_key_value_heads=1)
    with pytest.raises(ValueError, match="^GroupedQueryAttention: dropout must be a number in"):
        L.GroupQueryAttention(2, 2, 1, dropout=2.0)
    with pytest.raises(TypeError, match="GroupedQueryAttention takes head_dim, num_query_heads, num_key_value_heads") as error:
        L.GroupQueryAttention(2, 2, 1, nonsense=1)
    assert "key_dim" not in str(error.value) and "num_heads" not in str(error.value)


def test_an_attention_mask_input_in_a_model_as_keras(rng):
    """attention_mask= an Input of the model (as MultiHeadAttention's, test_attention.py)."""
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")

    def build(lib):
        tokens, allowed = lib.Input((5, 8)), lib.Input((5, 5))
        gqa = lib.layers.GroupQueryAttention(head_dim=2, num_query_heads=4, num_key_value_heads=2, name="gqa")
        return [tokens, allowed], gqa(tokens, tokens, attention_mask=allowed)

    ours, theirs = gn.Model(*build(gn), seed=0), keras.Model(*build(keras))
    theirs.get_layer("gqa").set_weights(ours.get_layer("gqa").get_weights())
    x = [rng.standard_normal((3, 5, 8)).astype(np.float32), (rng.random((3, 5, 5)) > 0.5).astype(np.float32)]
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


# -- sliding_window: Keras' band |t - s| < w, with and without the causal mask and the other masks --
WINDOWS = [(5, 7, 2, False), (6, 6, 3, True), (6, 6, 1, False), (7, 2, 2, False),    # last: rows with no step
           (4, 9, 3, True)]


@pytest.mark.parametrize("steps, sources, window, causal", WINDOWS, ids=str)
def test_a_sliding_window_matches_keras_eager_with_masks_and_scores(steps, sources, window, causal, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    query = rng.standard_normal((3, steps, 6)).astype(np.float32)
    value = rng.standard_normal((3, sources, 4)).astype(np.float32)
    settings = dict(head_dim=3, num_query_heads=4, num_key_value_heads=2, sliding_window=window)
    ours, theirs = L.GroupQueryAttention(**settings, seed=0), keras.layers.GroupQueryAttention(**settings)
    ours(query, value)
    theirs(query, value)
    theirs.set_weights(ours.get_weights())
    query_mask, value_mask = rng.random((3, steps)) > 0.3, rng.random((3, sources)) > 0.3
    allowed = rng.random((3, steps, sources)) > 0.3
    for masks in ({}, dict(query_mask=query_mask, value_mask=value_mask), dict(attention_mask=allowed)):
        for scores in (False, True):        # Keras' two paths: its fused attention and its masked softmax
            out = ours(query, value, use_causal_mask=causal, return_attention_scores=scores, **masks)
            expected = theirs(query, value, use_causal_mask=causal, return_attention_scores=scores, **masks)
            for a, b in zip(*((out, expected) if scores else ([out], [expected]))):
                np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6, err_msg=str(masks))
    _, weights = ours(query, value, use_causal_mask=causal, return_attention_scores=True)
    t, s = np.indices((steps, sources))
    assert not weights[..., (np.abs(t - s) >= window) | (causal & (s > t))].any()


@pytest.mark.parametrize("window, causal", [(2, False), (3, True)])
def test_sliding_window_gradients_match_torch_autograd_and_finite_differences(window, causal, rng, torch):
    layer = L.GroupQueryAttention(head_dim=3, num_query_heads=4, num_key_value_heads=2, sliding_window=window, seed=0,
                                  dtype="float64", bias_initializer="random_normal")
    xs = _inputs(rng, True)
    out = layer(*xs, use_causal_mask=causal)
    upstream = rng.standard_normal(out.shape)
    grads = layer.backward(upstream)
    txs = [torch.tensor(x, requires_grad=True) for x in xs]
    tout, tparams = _torch_gqa(torch, layer, txs, causal=causal, window=window)
    (tout * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    for g, t in zip(grads, txs):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, t in tparams.items():
        np.testing.assert_allclose(layer.grads[name], t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
    analytic = grads[0].copy()

    def loss():
        return float(np.sum(layer(*xs, use_causal_mask=causal) * upstream))
    np.testing.assert_allclose(analytic, numerical_gradient(loss, xs[0]), rtol=1e-6, atol=1e-8)


def _window_block(lib):
    inputs = lib.Input((6, 4))
    attended = lib.layers.GroupQueryAttention(head_dim=3, num_query_heads=4, num_key_value_heads=2, sliding_window=2,
                                              name="gqa")(inputs, inputs, use_causal_mask=True)
    h = lib.layers.LayerNormalization(name="ln")(lib.layers.Add()([inputs, attended]))
    return inputs, lib.layers.Dense(3, activation="softmax", name="out")(lib.layers.GlobalAveragePooling1D()(h))


def test_a_sliding_window_in_a_model_drawn_trains_as_keras_and_round_trips(rng, tmp_path):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = gn.Model(*_window_block(gn), seed=0), keras.Model(*_window_block(keras))
    for layer in ours.layers:
        if layer.params:
            theirs.get_layer(layer.name).set_weights(layer.get_weights())
    x, y = rng.standard_normal((32, 6, 4)).astype(np.float32), rng.integers(0, 3, 32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    ours.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.SGD(0.1))
    theirs.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.1))
    np.testing.assert_allclose(ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"],
                               theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"],
                               rtol=1e-5)
    ours.save(tmp_path / "window.npz")
    loaded = gn.load_model(tmp_path / "window.npz")
    np.testing.assert_array_equal(loaded.predict(x), ours.predict(x))
    assert loaded.get_layer("gqa").get_config()["sliding_window"] == 2
