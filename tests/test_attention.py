"""The attention layers (layers/attention.py), MultiHeadAttention, Attention and AdditiveAttention:
values against Keras 3's layers, gradients against finite differences and PyTorch autograd,
training in a functional Model against Keras."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import numerical_gradient
from keras_twins import train_both, twins

L = gn.layers
SETTINGS = [   # layer arguments, whether a key is given apart from the value
    (dict(num_heads=2, key_dim=3), False),
    (dict(num_heads=3, key_dim=2, value_dim=4, output_shape=5), True),
    (dict(num_heads=2, key_dim=3, use_bias=False), False),
    (dict(num_heads=2, key_dim=2, use_causal_mask=True), False),
]


def _inputs(rng, key, dtype=np.float64, steps=5, sources=7):
    query, value = rng.standard_normal((4, steps, 6)).astype(dtype), rng.standard_normal((4, sources, 8)).astype(dtype)
    return [query, value] + ([rng.standard_normal((4, sources, 3)).astype(dtype)] if key else [])


def _torch_attention(torch, layer, xs):
    """The layer's maths written in torch, on its weights (all tensors with gradients)."""
    params = {name: torch.tensor(value, requires_grad=True) for name, value in layer.params.items()}
    query, value = xs[0], xs[1]
    key = xs[2] if len(xs) == 3 else value

    def project(x, name):
        out = torch.einsum("nte,ehd->nhtd", x, params[f"{name}_kernel"])
        return out + params[f"{name}_bias"][None, :, None, :] if layer.use_bias else out

    q, k, v = project(query, "query") / layer.key_dim ** 0.5, project(key, "key"), project(value, "value")
    scores = q @ k.transpose(-1, -2)
    if layer.use_causal_mask:
        steps, sources = scores.shape[-2:]
        scores = scores.masked_fill(torch.ones(steps, sources, dtype=torch.bool).triu(1), float("-inf"))
    context = torch.softmax(scores, dim=-1) @ v
    out = torch.einsum("nhtd,hdo->nto", context, params["output_kernel"])
    return (out + params["output_bias"] if layer.use_bias else out), params


@pytest.mark.parametrize("settings, key", SETTINGS)
def test_values_match_keras(settings, key, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    xs = _inputs(rng, key, np.float32)
    ours = L.MultiHeadAttention(**settings, seed=0)
    out = ours(*xs)
    keras_settings = {k: v for k, v in settings.items() if k != "use_causal_mask"}
    theirs = keras.layers.MultiHeadAttention(**keras_settings)
    theirs(*xs)
    theirs.set_weights(list(ours.params.values()))          # Keras' shapes and order
    expected = theirs(*xs, use_causal_mask=settings.get("use_causal_mask", False))
    np.testing.assert_allclose(out, np.asarray(expected), rtol=1e-5, atol=1e-6)
    assert out.dtype == np.float32 and out.shape == (4, 5, settings.get("output_shape", 6))


@pytest.mark.parametrize("settings, key", SETTINGS)
def test_gradients_match_finite_differences_and_torch_autograd(settings, key, rng, torch):
    layer = L.MultiHeadAttention(**settings, seed=0, dtype="float64")
    xs = _inputs(rng, key)
    out = layer(*xs)
    upstream = rng.standard_normal(out.shape)
    grads = layer.backward(upstream)
    assert len(grads) == len(xs)
    for k, x in enumerate(xs):
        numeric = numerical_gradient(lambda: float(np.sum(layer.forward(xs) * upstream)), x)
        np.testing.assert_allclose(grads[k], numeric, rtol=1e-6, atol=1e-8, err_msg=f"input {k}")
    layer.forward(xs)
    layer.backward(upstream)
    analytic = {name: g.copy() for name, g in layer.grads.items()}
    for name, value in layer.params.items():
        numeric = numerical_gradient(lambda: float(np.sum(layer.forward(xs) * upstream)), value)
        np.testing.assert_allclose(analytic[name], numeric, rtol=1e-6, atol=1e-8, err_msg=name)
    txs = [torch.tensor(x, requires_grad=True) for x in xs]
    tout, tparams = _torch_attention(torch, layer, txs)
    (tout * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    for g, t in zip(grads, txs):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, t in tparams.items():
        np.testing.assert_allclose(analytic[name], t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_causal_mask_and_the_scores_are_there_to_inspect(rng):
    layer = L.MultiHeadAttention(num_heads=2, key_dim=4, seed=0)
    x = rng.standard_normal((3, 5, 8)).astype(np.float32)
    out = layer(x, x, use_causal_mask=True)
    scores = layer.scores
    assert scores.shape == (3, 2, 5, 5) and np.allclose(scores.sum(axis=-1), 1)
    assert np.all(np.triu(np.ones((5, 5)), 1)[None, None] * scores == 0)        # no step sees a later one
    # the first step's output depends on the first step alone
    changed = x.copy()
    changed[:, 1:] += 1.0
    np.testing.assert_allclose(layer(changed, changed, use_causal_mask=True)[:, 0], out[:, 0], rtol=1e-5, atol=1e-6)


def test_dropout_on_the_attention_weights(rng):
    layer = L.MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.5, seed=0, dtype="float64")
    xs = _inputs(rng, False)
    np.testing.assert_array_equal(layer(*xs), layer(*xs))          # inference: no dropout
    out = layer.forward(xs, training=True)
    assert not np.allclose(out, layer(*xs))
    upstream = rng.standard_normal(out.shape)
    layer.forward(xs, training=True)
    grads = layer.backward(upstream)
    drop = layer.drop

    def with_that_mask():                               # the same dropped weights every pass
        layer._generator = lambda: _Fixed(drop)
        return float(np.sum(layer.forward(xs, training=True) * upstream))

    numeric = numerical_gradient(with_that_mask, xs[0])
    np.testing.assert_allclose(grads[0], numeric, rtol=1e-6, atol=1e-8)


class _Fixed:
    """A generator whose draws give back one dropout mask (kept where the mask is not zero)."""

    def __init__(self, mask):
        self.mask = mask

    def random(self, shape, dtype):
        return np.where(self.mask > 0, 1.0, 0.0).astype(dtype)


def _transformer_block(lib):
    inputs = lib.Input((6, 4))
    attended = lib.layers.MultiHeadAttention(num_heads=2, key_dim=3, name="mha")(inputs, inputs)
    h = lib.layers.LayerNormalization(name="ln")(lib.layers.Add()([inputs, attended]))
    return inputs, lib.layers.Dense(3, activation="softmax", name="out")(lib.layers.GlobalAveragePooling1D()(h))


def test_a_self_attention_block_trains_as_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = gn.Model(*_transformer_block(gn), seed=0), keras.Model(*_transformer_block(keras))
    for layer in ours.layers:
        if layer.params:
            theirs.get_layer(layer.name).set_weights(layer.get_weights())
    x, y = rng.standard_normal((32, 6, 4)).astype(np.float32), rng.integers(0, 3, 32)
    ours.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.SGD(0.1))
    theirs.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.1))
    np.testing.assert_allclose(ours.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0).history["loss"],
                               theirs.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0).history["loss"],
                               rtol=1e-5)
    for layer in ours.layers:
        for mine, keras_weights in zip(layer.get_weights(), theirs.get_layer(layer.name).get_weights() if layer.params
                                       else []):
            np.testing.assert_allclose(mine, keras_weights, rtol=1e-4, atol=1e-6)


def test_in_a_model_files_configs_and_refusals(rng, tmp_path):
    model = gn.Model(*_transformer_block(gn), seed=0, dtype="float64")
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    x, y = rng.standard_normal((8, 6, 4)), rng.integers(0, 3, 8)
    from glassnet.gradcheck import check_model
    assert check_model(model, x, y)["max_error"] < 1e-7
    model.fit(x, y, epochs=2, verbose=0)
    attention = model.layers[0]
    assert all(a.base is None for a in attention.inputs)      # copies, not views keeping the data alive
    model.save(str(tmp_path / "m.npz"))
    np.testing.assert_array_equal(gn.load_model(str(tmp_path / "m.npz")).predict(x), model.predict(x))
    layer = L.MultiHeadAttention(num_heads=3, key_dim=2, value_dim=5, dropout=0.1, output_shape=7,
                                 use_causal_mask=True, use_bias=False, kernel_initializer="he_normal")
    again = L.MultiHeadAttention.from_config(layer.get_config())
    assert again.get_config() == layer.get_config()
    with pytest.raises(ValueError, match=r"attention_mask must have shape \(batch, T, S\) = \(2, 3, 5\)"):
        layer(np.ones((2, 3, 4)), np.ones((2, 5, 4)), attention_mask=np.ones((2, 3, 3)))
    with pytest.raises(ValueError, match=r"the mask of input 1 must have shape \(batch, steps\) = \(2, 5\)"):
        layer(np.ones((2, 3, 4)), np.ones((2, 5, 4)), value_mask=np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"the mask of input 1 must hold booleans \(or 0 and 1\)"):
        layer(np.ones((2, 3, 4)), np.ones((2, 5, 4)), value_mask=np.full((2, 5), 0.5))    # as an LSTM's mask
    with pytest.raises(TypeError, match="in a model drawn, attention_mask must be one of its tensors .an "
                                        r"Input\(\(T, S\)\) or a layer's output., got ndarray"):
        inputs = gn.Input((3, 4))
        layer(inputs, inputs, attention_mask=np.ones((2, 3, 3)))
    with pytest.raises(NotImplementedError, match="query_mask= is not supported in a model drawn"):
        layer(inputs, inputs, query_mask=gn.Input((3,)))
    with pytest.raises(TypeError, match=r"return_attention_scores: expected True or False, got 'yes'"):
        layer(np.ones((2, 3, 4)), np.ones((2, 5, 4)), return_attention_scores="yes")
    with pytest.raises(TypeError, match=r"not_an_argument=1 is not supported"):
        layer(np.ones((2, 3, 4)), np.ones((2, 5, 4)), not_an_argument=1)
    with pytest.raises(TypeError, match=r"takes \(query, value\)"):
        layer(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="takes sequences"):
        layer(np.ones((2, 4)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="key and value need the same number of steps"):
        layer(np.ones((2, 3, 4)), np.ones((2, 5, 4)), np.ones((2, 4, 4)))
    with pytest.raises(ValueError, match="num_heads must be a positive integer"):
        L.MultiHeadAttention(num_heads=0, key_dim=2)
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\)"):
        L.MultiHeadAttention(num_heads=1, key_dim=2, dropout=1.0)


def test_the_causal_flag_is_a_call_s_and_keras_defaults_are_taken(rng):
    x = rng.standard_normal((2, 4, 6)).astype(np.float32)
    layer = L.MultiHeadAttention(num_heads=2, key_dim=3, seed=0)
    plain = layer(x, x)
    causal = layer(x, x, use_causal_mask=True)
    assert not np.allclose(plain, causal)
    np.testing.assert_array_equal(layer(x, x), plain)           # the flag was that call's only
    np.testing.assert_array_equal(layer(x, x, attention_mask=None, return_attention_scores=False, mask=None), plain)
    out, scores = layer(x, x, return_attention_scores=True)            # Keras' pair
    np.testing.assert_array_equal(out, plain)
    np.testing.assert_array_equal(scores, layer.scores)
    inputs = gn.Input((4, 6))
    shared = L.MultiHeadAttention(num_heads=2, key_dim=3)
    first = shared(inputs, inputs, use_causal_mask=True)
    with pytest.raises(NotImplementedError, match="is called with use_causal_mask=True and with False"):
        gn.Model(inputs, L.Dense(2)(shared(first, inputs)))
    # the refused drawing left nothing behind: the same layer, both calls causal, is taken
    model = gn.Model(inputs, L.Dense(2)(shared(first, inputs, use_causal_mask=True)), seed=0)
    assert model.get_config()["layers"][0]["config"]["use_causal_mask"] is True
    assert model.get_config()["options"][0] == {"use_causal_mask": True}
    with pytest.raises(NotImplementedError, match="runs with use_causal_mask=True in a model made before"):
        gn.Model(inputs, shared(inputs, inputs))
    other = L.MultiHeadAttention(num_heads=2, key_dim=3)
    abandoned = other(inputs, inputs, use_causal_mask=True)          # a tensor no model takes
    assert gn.Model(inputs, L.Dense(2)(other(inputs, inputs)))._call_options[0] == {"use_causal_mask": False}
    assert abandoned is not None
    with pytest.raises(ValueError, match="merges 2 to 3 inputs, got 4"):
        L.MultiHeadAttention(num_heads=1, key_dim=2)([x, x, x, x])
    with pytest.raises(ValueError, match="activity_regularizer is not supported"):
        L.MultiHeadAttention(num_heads=1, key_dim=2, activity_regularizer="l2")
    assert L.MultiHeadAttention(num_heads=1, key_dim=2, dropout=np.float32(0.1)).dropout == pytest.approx(0.1)
    # fit's choice of BLAS threads sees the projections (a model dominated by attention is not "small")
    big = gn.Model(*_long_sequences())
    assert big._largest_matmul_flops(32) >= 2 * 32 * 128 * 256 * 8 * 32


def _long_sequences():
    inputs = gn.Input((128, 256))
    pooled = L.GlobalAveragePooling1D()(L.MultiHeadAttention(num_heads=8, key_dim=32)(inputs, inputs))
    return inputs, L.Dense(10)(pooled)


DOT_ATTENTION = [   # class name, settings
    ("Attention", {}), ("Attention", dict(use_scale=True)), ("Attention", dict(score_mode="concat")),
    ("Attention", dict(score_mode="concat", use_scale=True)), ("AdditiveAttention", {}),
    ("AdditiveAttention", dict(use_scale=False)),
]


def _set_weights(layer, rng):
    """Weights away from their starting values (a scale of 1 would hide a wrong gradient)."""
    for value in layer.params.values():
        value[...] = rng.standard_normal(value.shape) + 1


def _torch_dot_attention(torch, layer, xs, causal):
    params = {name: torch.tensor(value, requires_grad=True) for name, value in layer.params.items()}
    query, value = xs[0], xs[1]
    key = xs[2] if len(xs) == 3 else value
    q, k = query[:, :, None, :], key[:, None, :, :]
    if type(layer).__name__ == "AdditiveAttention":
        t = torch.tanh(q + k)
        scores = (t * params["scale"]).sum(-1) if layer.use_scale else t.sum(-1)
    elif layer.score_mode == "dot":
        scores = query @ key.transpose(-1, -2)
        scores = scores * params["scale"] if layer.use_scale else scores
    else:
        pre = (q + k) * params["scale"] if layer.use_scale else q + k
        scores = params["concat_score_weight"] * torch.tanh(pre).sum(-1)
    if causal:
        scores = scores.masked_fill(torch.ones(scores.shape[-2:], dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(scores, dim=-1) @ value, params


@pytest.mark.parametrize("name, settings", DOT_ATTENTION)
@pytest.mark.parametrize("key", [False, True])
def test_attention_and_additive_attention_match_keras_and_torch(name, settings, key, rng, torch):
    # without a key the value is the key: it needs the query's features
    xs = [rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 6, 7 if key else 5))] + \
        ([rng.standard_normal((3, 6, 5))] if key else [])
    layer = getattr(L, name)(**settings, dtype="float64")
    layer(xs)
    _set_weights(layer, rng)
    for causal in (False, True):
        out = layer(xs, use_causal_mask=causal)
        upstream = rng.standard_normal(out.shape)
        grads = layer.backward(upstream)
        analytic = {k: g.copy() for k, g in layer.grads.items()}
        txs = [torch.tensor(x, requires_grad=True) for x in xs]
        tout, tparams = _torch_dot_attention(torch, layer, txs, causal)
        (tout * torch.tensor(upstream)).sum().backward()
        np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
        for g, t in zip(grads, txs):
            np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-9, atol=1e-11)
        for k, t in tparams.items():
            np.testing.assert_allclose(analytic[k], t.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=k)
        layer._drawn_causal = causal            # (the flag forward reads, as a call sets it)
        for k, x in enumerate(xs):
            numeric = numerical_gradient(lambda: float(np.sum(layer.forward(xs) * upstream)), x)
            np.testing.assert_allclose(grads[k], numeric, rtol=1e-6, atol=1e-8, err_msg=f"input {k}")
        layer._drawn_causal = None
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    theirs = getattr(keras.layers, name)(**settings)
    theirs([x.astype(np.float32) for x in xs])
    theirs.set_weights([v.astype(np.float32) for v in layer.params.values()])
    for causal in (False, True):
        expected = np.asarray(theirs([x.astype(np.float32) for x in xs], use_causal_mask=causal))
        np.testing.assert_allclose(layer(xs, use_causal_mask=causal), expected, rtol=1e-5, atol=1e-5)


def _attention_reader(lib):
    """Encoder and decoder sequences (two inputs), Luong attention of the decoder over the encoder."""
    source, target = lib.Input((6, 4), name="source"), lib.Input((5, 4), name="target")
    encoded = lib.layers.Dense(8, activation="tanh", name="enc")(source)
    decoded = lib.layers.Dense(8, activation="tanh", name="dec")(target)
    context = lib.layers.Attention(use_scale=True, name="att")([decoded, encoded])
    joined = lib.layers.Concatenate(name="join")([decoded, context])
    return [source, target], lib.layers.Dense(3, activation="softmax", name="out")(joined)


def test_an_attention_reader_trains_as_keras_and_round_trips(rng, tmp_path):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = gn.Model(*_attention_reader(gn), seed=0), keras.Model(*_attention_reader(keras))
    for layer in ours.layers:
        if layer.params:
            theirs.get_layer(layer.name).set_weights(layer.get_weights())
    xs = [rng.standard_normal((16, 6, 4)).astype(np.float32), rng.standard_normal((16, 5, 4)).astype(np.float32)]
    y = rng.integers(0, 3, (16, 5))
    ours.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.SGD(0.5))
    theirs.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.5))
    np.testing.assert_allclose(ours.fit(xs, y, epochs=3, batch_size=4, shuffle=False, verbose=0).history["loss"],
                               theirs.fit(xs, y, epochs=3, batch_size=4, shuffle=False, verbose=0).history["loss"],
                               rtol=1e-5)
    assert ours.get_layer("att").params["scale"].shape == ()
    np.testing.assert_allclose(ours.get_layer("att").get_weights()[0], theirs.get_layer("att").get_weights()[0], rtol=1e-4)
    ours.save(str(tmp_path / "m.npz"))
    np.testing.assert_array_equal(gn.load_model(str(tmp_path / "m.npz")).predict(xs), ours.predict(xs))
    for name, settings in DOT_ATTENTION:
        layer = getattr(L, name)(**settings, dropout=0.25)
        assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()
    with pytest.raises(ValueError, match="query and key need one feature size"):
        L.Attention()([np.ones((2, 3, 4)), np.ones((2, 5, 6))])
    with pytest.raises(ValueError, match="score_mode must be 'dot' or 'concat'"):
        L.Attention(score_mode="general")


def _scores_model(lib, kind, **settings):
    """An attention call with return_attention_scores=True whose scores feed the output too. (The
    value as long as the query for MultiHeadAttention: Keras 3.15 draws its scores as (heads, T, T)
    whatever the value's length S, where they are (heads, T, S).)"""
    query, value = lib.Input((4, 5), name="q"), lib.Input((4 if kind == "mha" else 6, 5), name="v")
    if kind == "mha":
        out, scores = lib.layers.MultiHeadAttention(2, 3, name="att", **settings)(query, value,
                                                                                return_attention_scores=True)
    else:
        out, scores = getattr(lib.layers, kind)(name="att", **settings)([query, value], return_attention_scores=True)
    joined = lib.layers.Concatenate(name="join")([lib.layers.Flatten(name="f1")(out),
                                                  lib.layers.Flatten(name="f2")(scores)])
    return [query, value], lib.layers.Dense(1, name="out")(joined)


@pytest.mark.parametrize("kind", ["mha", "Attention", "AdditiveAttention"])
def test_returned_attention_scores_match_keras_and_train_as_keras(kind, rng, tmp_path):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    steps = 4 if kind == "mha" else 6
    x = [rng.standard_normal((8, 4, 5)).astype(np.float32), rng.standard_normal((8, steps, 5)).astype(np.float32)]
    y = rng.standard_normal((8, 1)).astype(np.float32)
    ours, theirs = twins(lambda lib: _scores_model(lib, kind), keras)
    assert [type(layer).__name__ for layer in ours.layers].count("AttentionScores") == 1
    np.testing.assert_allclose(ours.predict(x), np.asarray(theirs.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)
    mine, their = train_both(ours, theirs, x, y, "mse", 0.1, 4)
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    ours.save(str(tmp_path / "m.npz"))
    np.testing.assert_array_equal(gn.load_model(str(tmp_path / "m.npz")).predict(x), ours.predict(x))
    # eager: Keras' (output, scores)
    layer = ours.get_layer("att")
    eager = layer(*x, return_attention_scores=True) if kind == "mha" else layer(x, return_attention_scores=True)
    expected = theirs.get_layer("att")(*x, return_attention_scores=True) if kind == "mha" else \
        theirs.get_layer("att")(x, return_attention_scores=True)
    for a, b in zip(eager, expected):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-5)
    assert layer.output[1].layer is ours.get_layer("attention_scores")       # Keras' layer.output: both
    if kind == "mha":           # a value of another length: scores (batch, heads, T, S), as Keras' eager ones
        longer = rng.standard_normal((8, 7, 5)).astype(np.float32)
        fresh, twin = L.MultiHeadAttention(2, 3, seed=0), keras.layers.MultiHeadAttention(2, 3)
        _, scores = fresh(x[0], longer, return_attention_scores=True)
        twin(x[0], longer)
        twin.set_weights(fresh.get_weights())
        _, expected = twin(x[0], longer, return_attention_scores=True)
        assert scores.shape == (8, 2, 4, 7)
        np.testing.assert_allclose(scores, np.asarray(expected), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", ["mha", "Attention"])
def test_gradients_through_returned_scores_agree_with_finite_differences(kind, rng):
    from glassnet.gradcheck import check_model
    # with dropout: MultiHeadAttention returns the weights before it, Attention after (Keras')
    model = gn.Model(*_scores_model(gn, kind, dropout=0.3), seed=0, dtype="float64")
    model.compile(loss="mse")
    x = [rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 4 if kind == "mha" else 6, 5))]
    assert check_model(model, x, rng.standard_normal((3, 1)))["max_error"] < 1e-6
    with pytest.raises(ValueError, match="used alone it has none"):
        L.AttentionScores()(np.ones((2, 3)))


def _masked_block(lib, key=False, causal=False):
    """A block whose attention reads an attention_mask Input (BERT's padding mask), Keras' way."""
    tokens, allowed = lib.Input((5, 4), name="tokens"), lib.Input((5, 6), name="allowed")
    memory = lib.Input((6, 3), name="memory")
    mha = lib.layers.MultiHeadAttention(num_heads=2, key_dim=3, name="mha")
    attended = mha(tokens, memory, memory if key else None, attention_mask=allowed, use_causal_mask=causal)
    out = lib.layers.Dense(3, activation="softmax", name="out")(lib.layers.GlobalAveragePooling1D()(attended))
    return [tokens, allowed, memory], out


@pytest.mark.parametrize("key, causal", [(False, False), (True, False), (False, True)])
def test_an_attention_mask_input_in_a_model_trains_as_keras(key, causal, rng, tmp_path):
    """attention_mask= a tensor of a model drawn: Keras' values and training, its zero gradient
    checked, files and configs keep it (each call's options)."""
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = twins(lambda lib: _masked_block(lib, key, causal), keras)
    x = [rng.standard_normal((16, 5, 4)).astype(np.float32), (rng.random((16, 5, 6)) > 0.4).astype(np.float32),
         rng.standard_normal((16, 6, 3)).astype(np.float32)]
    x[1][0, 2] = 0          # a query allowed nothing: Keras' even weights
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    y = rng.integers(0, 3, 16)
    mine, their = train_both(ours, theirs, x, y, "sparse_categorical_crossentropy", 0.1, 4)
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    assert ours.get_config()["options"][0]["attention_mask"] is True
    ours.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "m.npz").predict(x, verbose=0), ours.predict(x, verbose=0))
    again = gn.Model.from_config(ours.get_config())
    again.set_weights(ours.get_weights())
    np.testing.assert_array_equal(again.predict(x, verbose=0), ours.predict(x, verbose=0))
    # the mask changes the output where it forbids (it is read, not ignored)
    assert not np.allclose(ours.predict([x[0], np.ones_like(x[1]), x[2]], verbose=0), ours.predict(x, verbose=0))


def test_an_attention_mask_input_checks_gradients_and_its_shape(rng):
    from glassnet.gradcheck import check_model
    model = gn.Model(*_masked_block(gn), seed=0, dtype="float64")
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    x = [rng.standard_normal((4, 5, 4)), (rng.random((4, 5, 6)) > 0.4).astype(float), rng.standard_normal((4, 6, 3))]
    assert check_model(model, x, rng.integers(0, 3, 4))["max_error"] < 1e-7
    # a mask made inside the model (a layer's output) gets zeros back, and the layers below it learn on
    tokens, memory, raw = gn.Input((5, 4)), gn.Input((6, 3)), gn.Input((5, 6))
    allowed = gn.layers.Dense(6, activation="relu")(raw)
    attended = gn.layers.MultiHeadAttention(2, 3)(tokens, memory, attention_mask=allowed)
    made = gn.Model([tokens, raw, memory], gn.layers.GlobalAveragePooling1D()(attended), seed=0, dtype="float64")
    made.compile(loss="mse", optimizer="sgd")
    made.train_on_batch(x, np.zeros((4, 4)))
    dense = next(layer for layer in made.layers if isinstance(layer, gn.layers.Dense))
    assert np.all(dense.grads["kernel"] == 0) and np.any(made.get_layer(made.layers[-2].name).grads["query_kernel"])
    tokens, memory = gn.Input((5, 4)), gn.Input((6, 3))
    with pytest.raises(ValueError, match=r"attention_mask takes samples of shape \(T, S\) = \(5, 6\), the query's "
                                         r"steps by the key's, got \(6, 5\)"):
        gn.layers.MultiHeadAttention(2, 3)(tokens, memory, attention_mask=gn.Input((6, 5)))
    # one layer called with a mask and without, in one model: each call as the layer alone would
    shared, allowed = gn.layers.MultiHeadAttention(2, 3), gn.Input((5, 6))
    both = gn.Model([tokens, allowed, memory], gn.layers.Concatenate()(
        [shared(tokens, memory, attention_mask=allowed), shared(tokens, memory)]), seed=0, dtype="float64")
    out = both.predict(x, verbose=0)
    np.testing.assert_allclose(out[..., :4], shared(x[0], x[2], attention_mask=x[1]), rtol=1e-12)
    np.testing.assert_allclose(out[..., 4:], shared(x[0], x[2]), rtol=1e-12)
    assert not np.allclose(out[..., :4], out[..., 4:])
    both.compile(loss="mse", optimizer="sgd")
    assert check_model(both, x, np.zeros((4, 5, 8)))["max_error"] < 1e-7
