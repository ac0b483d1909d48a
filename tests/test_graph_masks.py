"""Masks meeting the layers of several inputs in a functional Model (layers/masking.py,
``plan_graph_masks``): merges combine them as Keras' ``compute_mask`` does, and the attention
layers read the query's, value's and key's masks. Values and training against Keras 3, gradients
against finite differences and PyTorch autograd."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_model, numerical_gradient
from keras_twins import train_both, twins

L = gn.layers
STEPS, VOCAB = 6, 9


def _ids(rng, n=10, steps=STEPS, shortest=1):
    """Padded id sequences: each row's real tokens (1 .. VOCAB-1) first, zeros after."""
    ids = rng.integers(1, VOCAB, (n, steps))
    lengths = rng.integers(shortest, steps + 1, n)
    ids[np.arange(steps) >= lengths[:, None]] = 0
    return ids


def _ids_input(lib, steps=STEPS, name=None):
    return lib.Input((steps,), dtype="int32", name=name) if lib is not gn else gn.Input((steps,), name=name)


def _transformer(lib, causal=False):
    """A transformer encoder block over padded ids, then the real steps averaged: the mask goes
    through MultiHeadAttention, both residual Adds and the normalizations to the pooling."""
    ids = _ids_input(lib)
    emb = lib.layers.Embedding(VOCAB, 8, mask_zero=True, name="emb")(ids)
    att = lib.layers.MultiHeadAttention(2, 4, name="mha")(emb, emb, use_causal_mask=causal)
    x = lib.layers.LayerNormalization(name="norm1")(lib.layers.Add(name="add1")([emb, att]))
    x = lib.layers.LayerNormalization(name="norm2")(
        lib.layers.Add(name="add2")([x, lib.layers.Dense(8, activation="relu", name="ffn")(x)]))
    pooled = lib.layers.GlobalAveragePooling1D(name="pool")(x)
    return ids, lib.layers.Dense(3, activation="softmax", name="out")(pooled)


def _reader(lib, kind):
    """A decoder's steps attending over an encoder's (two masks from two Embeddings), the
    attention's output (joined to its query) tagged step by step: the query's mask reaches the
    loss."""
    queries, values = _ids_input(lib, 5, "q"), _ids_input(lib, STEPS, "v")
    q = lib.layers.Embedding(VOCAB, 4, mask_zero=True, name="q_emb")(queries)
    v = lib.layers.Embedding(VOCAB, 4, mask_zero=True, name="v_emb")(values)
    layer = {"dot": lambda: lib.layers.Attention(use_scale=True, name="att"),
             "additive": lambda: lib.layers.AdditiveAttention(name="att"),
             "mha": lambda: lib.layers.MultiHeadAttention(2, 3, name="att")}[kind]()
    if kind == "mha":
        # (not joined to q: Keras' MultiHeadAttention clears the masks of its input tensors in place,
        # so a Keras layer reading q after it would see no mask; glassnet keeps q's)
        return [queries, values], lib.layers.Dense(3, activation="softmax", name="tag")(layer(q, v))
    joined = lib.layers.Concatenate(name="join")([q, layer([q, v])])
    return [queries, values], lib.layers.Dense(3, activation="softmax", name="tag")(joined)


def _meeting(lib, how):
    """Two masked sequences from two Embeddings meet at a merge, and an LSTM reads the merge's mask."""
    a_ids, b_ids = _ids_input(lib, STEPS, "a"), _ids_input(lib, STEPS, "b")
    a = lib.layers.Embedding(VOCAB, 4, mask_zero=True, name="a_emb")(a_ids)
    b = lib.layers.Embedding(VOCAB, 4, mask_zero=True, name="b_emb")(b_ids)
    unmasked = lib.layers.Dense(4, name="plain")(lib.layers.Reshape((STEPS, 1))(b_ids))
    merged = {"add": lambda: lib.layers.Add(name="merge")([a, b]),
              "subtract": lambda: lib.layers.Subtract(name="merge")([a, b]),
              "average": lambda: lib.layers.Average(name="merge")([a, b]),
              "maximum": lambda: lib.layers.Maximum(name="merge")([a, b]),
              "minimum": lambda: lib.layers.Minimum(name="merge")([a, b, lib.layers.Dense(4, name="c")(a)]),
              "multiply": lambda: lib.layers.Multiply(name="merge")([a, b]),
              "maximum_unmasked": lambda: lib.layers.Maximum(name="merge")([a, unmasked]),
              "multiply_unmasked": lambda: lib.layers.Multiply(name="merge")([unmasked, a]),
              "features": lambda: lib.layers.Concatenate(name="merge")([a, b]),
              "steps": lambda: lib.layers.Concatenate(axis=1, name="merge")([a, b]),
              "steps_with_unmasked": lambda: lib.layers.Concatenate(axis=1, name="merge")([a, unmasked]),
              "add_unmasked": lambda: lib.layers.Add(name="merge")([a, unmasked])}[how]()
    return [a_ids, b_ids], lib.layers.Dense(1, activation="sigmoid", name="out")(lib.layers.LSTM(3, name="lstm")(merged))


@pytest.mark.parametrize("causal", [False, True])
def test_a_transformer_block_over_padded_ids_matches_keras(causal, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = twins(lambda lib: _transformer(lib, causal), keras)
    ids, y = _ids(rng), rng.integers(0, 3, 10)
    ids[0] = [3, 0, 0, 0, 0, 0]         # one real step: every other query attends to nothing
    np.testing.assert_allclose(ours.predict(ids), np.asarray(theirs.predict(ids, verbose=0)), rtol=1e-5, atol=1e-6)
    # the padding matters: changing the ids' padding (zeros to other ids) changes the answer, and
    # changing what sits in a padded step's embedding does not
    mha = ours.get_layer("mha")
    assert np.all(mha.scores[0, :, 0, 1:] == 0)     # sample 0's real query attends to itself alone
    np.testing.assert_allclose(mha.scores[0, :, 1:], 1 / STEPS)     # its padded ones to every step evenly (Keras)
    mine, their = train_both(ours, theirs, ids, y, "sparse_categorical_crossentropy", 0.2, 5)
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    np.testing.assert_allclose(ours.predict(ids), np.asarray(theirs.predict(ids, verbose=0)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["dot", "additive", "mha"])
def test_a_decoder_reading_an_encoder_matches_keras_with_both_masks(kind, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = twins(lambda lib: _reader(lib, kind), keras)
    queries, values = _ids(rng, 10, 5), _ids(rng)
    y = rng.integers(0, 3, (10, 5))
    x = [queries, values]
    np.testing.assert_allclose(ours.predict(x), np.asarray(theirs.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)
    assert ours._output_mask is not None            # the query's mask reaches the loss: real steps alone
    mine, their = train_both(ours, theirs, x, y, "sparse_categorical_crossentropy", 0.2, 5)
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    # in the last batch (the last 5 samples), no real query attends to the value's padding
    weights = ours.get_layer("att").scores
    weights = weights.max(axis=1) if kind == "mha" else weights        # (batch, T, S), over the heads
    real_query, padded_value = queries[-5:] != 0, values[-5:] == 0
    assert np.all(weights[real_query[:, :, None] & padded_value[:, None, :]] == 0)
    assert np.any(weights[real_query[:, :, None] & ~padded_value[:, None, :]] > 0)


MERGES = ["add", "subtract", "average", "maximum", "minimum", "multiply", "features", "steps", "steps_with_unmasked",
          "add_unmasked", "maximum_unmasked", "multiply_unmasked"]


@pytest.mark.parametrize("how", MERGES)
def test_masks_meeting_at_a_merge_combine_as_keras(how, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = twins(lambda lib: _meeting(lib, how), keras)
    a, b = _ids(rng), _ids(rng)
    x, y = [a, b], rng.integers(0, 2, 10)
    np.testing.assert_allclose(ours.predict(x), np.asarray(theirs.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)
    mine, their = train_both(ours, theirs, x, y, "binary_crossentropy", 0.2, 5)
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    # what the LSTM was handed: Keras' OR of the masks, the masks side by side, or none
    lstm = ours.get_layer("lstm")
    seen = []
    lstm_forward = lstm.forward
    lstm.forward = lambda x, training=False, mask=None: (seen.append(lstm.pending_mask), lstm_forward(x, training))[1]
    ours.predict(x)
    either = (a != 0) | (b != 0)
    expected = {"steps": np.concatenate([a != 0, b != 0], axis=1),
                "steps_with_unmasked": np.concatenate([a != 0, np.ones_like(b, dtype=bool)], axis=1),
                "add_unmasked": None, "maximum_unmasked": None, "multiply_unmasked": None}.get(how, either)
    assert (seen[0] is None) if expected is None else np.array_equal(seen[0], expected)


@pytest.mark.parametrize("how", ["maximum", "minimum", "multiply", "maximum_unmasked", "multiply_unmasked", "steps"])
def test_gradients_through_masked_merges_agree_with_finite_differences(how, rng):
    model = gn.Model(*_meeting(gn, how), seed=0, dtype="float64")
    model.compile(loss="binary_crossentropy")
    x = [_ids(rng, 6), _ids(rng, 6)]
    x[1][0] = [5, 0, 0, 0, 0, 0]
    assert check_model(model, x, rng.integers(0, 2, 6))["max_error"] < 1e-6


def test_one_mask_meeting_itself_passes_as_it_is_and_a_shared_merge_combines_per_call(rng):
    ids = gn.Input((STEPS,))
    emb = L.Embedding(VOCAB, 4, mask_zero=True)(ids)
    add = L.Add()
    model = gn.Model(ids, L.LSTM(2)(add([emb, L.Dense(4)(emb)])))
    assert not any(type(maker).__name__ == "MaskCombiner" for maker, _ in model._mask_plan)    # no work to do
    a_ids, b_ids = gn.Input((STEPS,)), gn.Input((STEPS,))
    a, b = L.Embedding(VOCAB, 4, mask_zero=True)(a_ids), L.Embedding(VOCAB, 4, mask_zero=True)(b_ids)
    first, second = add([a, b]), add([b, L.Dense(4)(a)])       # one Add, called twice
    model = gn.Model([a_ids, b_ids], [L.GlobalAveragePooling1D()(first), L.LSTM(2)(second)])
    x = [_ids(rng), _ids(rng)]
    seen = {}
    for layer in model.layers:
        if layer.reads_mask:
            forward = layer.forward
            layer.forward = (lambda f, lay: lambda x, training=False, mask=None:
                             (seen.__setitem__(type(lay).__name__, lay.pending_mask), f(x, training))[1])(forward, layer)
    model.predict(x)
    both = (x[0] != 0) | (x[1] != 0)
    assert np.array_equal(seen["GlobalAveragePooling1D"], both) and np.array_equal(seen["LSTM"], both)


def test_a_shared_mask_maker_meeting_itself_at_a_merge_is_refused_by_name():
    # (a siamese Embedding: its two calls' masks would be handed on by one layer; Keras ORs them)
    a, b = gn.Input((STEPS,)), gn.Input((STEPS,))
    emb = L.Embedding(VOCAB, 4, mask_zero=True)
    for merge in (L.Add(), L.Concatenate(axis=1), L.Maximum()):
        with pytest.raises(NotImplementedError, match="called more than once cannot make or read a mask"):
            gn.Model([a, b], L.Dense(1)(L.LSTM(3)(merge([emb(a), emb(b)]))))
    # nobody reads the combined mask: nothing to refuse (Keras builds it too)
    model = gn.Model([a, b], L.Dense(1)(L.Flatten()(L.Add()([emb(a), emb(b)]))))
    assert model.predict([np.ones((2, STEPS)), np.zeros((2, STEPS))]).shape == (2, 1)


def test_gradients_through_masked_attention_and_merges_agree_with_finite_differences(rng):
    def build(lib):
        inputs, tagged = _reader(lib, "mha")
        return inputs, tagged

    model = gn.Model(*build(gn), seed=0, dtype="float64")
    model.compile(loss="sparse_categorical_crossentropy")
    queries, values = _ids(rng, 6, 5), _ids(rng, 6)
    queries[0] = [2, 0, 0, 0, 0]
    assert check_model(model, [queries, values], rng.integers(0, 3, (6, 5)))["max_error"] < 1e-6
    model = gn.Model(*_transformer(gn), seed=0, dtype="float64")
    model.compile(loss="sparse_categorical_crossentropy")
    ids = _ids(rng, 6)
    ids[0] = [4, 0, 0, 0, 0, 0]
    assert check_model(model, ids, rng.integers(0, 3, 6))["max_error"] < 1e-6


def _masks(rng, n, steps, all_masked_row=None):
    mask = rng.random((n, steps)) < 0.7
    mask[:, 0] = True
    if all_masked_row is not None:
        mask[all_masked_row] = False
    return mask


def test_eager_masks_of_multi_head_attention_match_keras_and_torch(rng, torch):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    query, value, key = (rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 6, 2)), rng.standard_normal((3, 6, 5)))
    query_mask = _masks(rng, 3, 4, all_masked_row=1)
    masks = dict(value_mask=_masks(rng, 3, 6), key_mask=_masks(rng, 3, 6), attention_mask=rng.random((3, 4, 6)) < 0.8)
    masks["attention_mask"][2, 3] = False               # a row with nothing to attend to
    # Keras 3.15 reads the query's mask from the query tensor alone (a query_mask argument is
    # ignored, there and here): eager, the query's padding goes in the attention_mask
    keras_masks = dict(masks)
    masks["attention_mask"] = masks["attention_mask"] & query_mask[:, :, None]
    layer = L.MultiHeadAttention(2, 3, seed=0, dtype="float64")
    out = layer(query, value, key, **masks)
    tf = pytest.importorskip("tensorflow")
    theirs = keras.layers.MultiHeadAttention(2, 3)
    theirs(query, value, key)
    theirs.set_weights(layer.get_weights())
    # (Keras clears the query tensor's mask in its call: a fresh tensor for each call)
    for causal in (False, True):
        masked_query = tf.constant(query, dtype="float32")
        masked_query._keras_mask = tf.constant(query_mask)
        np.testing.assert_allclose(layer(query, value, key, use_causal_mask=causal, **masks),
                                   np.asarray(theirs(masked_query, value, key, use_causal_mask=causal, **keras_masks)),
                                   rtol=2e-5, atol=2e-6)
    # gradients: finite differences, and PyTorch autograd on the same maths
    upstream = rng.standard_normal(out.shape)
    xs = [query, value, key]
    layer(*xs, **masks)
    grads = layer.backward(upstream)
    for k, x in enumerate(xs):
        numeric = numerical_gradient(lambda: float(np.sum(layer(*xs, **masks) * upstream)), x)
        np.testing.assert_allclose(grads[k], numeric, rtol=1e-6, atol=1e-8, err_msg=f"input {k}")
    allowed = masks["value_mask"][:, None, :] & masks["key_mask"][:, None, :] & masks["attention_mask"]
    txs = [torch.tensor(x, requires_grad=True) for x in xs]
    params = {name: torch.tensor(value, requires_grad=True) for name, value in layer.params.items()}

    def project(x, name):
        return torch.einsum("nte,ehd->nhtd", x, params[f"{name}_kernel"]) + params[f"{name}_bias"][None, :, None, :]

    q, k, v = project(txs[0], "query") / 3 ** 0.5, project(txs[2], "key"), project(txs[1], "value")
    blocked = torch.tensor(~allowed)[:, None]
    weights = torch.softmax((q @ k.transpose(-1, -2)).masked_fill(blocked, -1e9), dim=-1)
    tout = torch.einsum("nhtd,hdo->nto", weights @ v, params["output_kernel"]) + params["output_bias"]
    (tout * torch.tensor(upstream)).sum().backward()
    layer(*xs, **masks)
    grads = layer.backward(upstream)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    for g, t in zip(grads, txs):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, t in params.items():
        np.testing.assert_allclose(layer.grads[name], t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("settings, call", [({}, {}), ({"dropout": 0.3}, {}), ({}, {"return_attention_scores": True})],
                         ids=["fused", "dropout", "scores"])
def test_a_row_with_nothing_to_attend_to_is_keras_s_on_each_of_its_paths(settings, call, rng):
    # Keras 3.15: even weights on its fused path; zeros on its masked softmax (dropout, or scores returned)
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    query, value = rng.standard_normal((2, 3, 4)).astype(np.float32), rng.standard_normal((2, 5, 4)).astype(np.float32)
    value_mask = np.ones((2, 5), dtype=bool)
    value_mask[1] = False                           # sample 1: a value all padding
    ours, theirs = L.MultiHeadAttention(2, 3, seed=0, **settings), keras.layers.MultiHeadAttention(2, 3, **settings)
    ours(query, value)
    theirs(query, value)
    theirs.set_weights(ours.get_weights())
    mine, their = ours(query, value, value_mask=value_mask, **call), theirs(query, value, value_mask=value_mask, **call)
    for a, b in zip(*(((mine, their) if call else ([mine], [their])))):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)
    assert np.all(ours.scores[1] == (0 if settings or call else 0.2))

    def scored(lib):            # in a model: the scores of a masked self-attention as an output
        ids = _ids_input(lib)
        emb = lib.layers.Embedding(VOCAB, 4, mask_zero=True, name="emb")(ids)
        out, scores = lib.layers.MultiHeadAttention(2, 3, name="mha")(emb, emb, return_attention_scores=True)
        return ids, [lib.layers.Dense(2, name="out")(out), scores]

    ours, theirs = twins(scored, keras)
    ids = _ids(rng, 4)
    for a, b in zip(ours.predict(ids), theirs.predict(ids, verbose=0)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["Attention", "AdditiveAttention"])
def test_eager_masks_of_the_dot_attention_layers_match_keras(name, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    query, value = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 6, 5))
    mask = [_masks(rng, 3, 4), _masks(rng, 3, 6, all_masked_row=2)]     # sample 2: a value all padding
    layer = getattr(L, name)(seed=0, dtype="float64")
    out = layer([query, value], mask=mask)
    theirs = getattr(keras.layers, name)()
    theirs([query, value])
    if layer.params:
        theirs.set_weights(layer.get_weights())
    for causal in (False, True):
        np.testing.assert_allclose(layer([query, value], mask=mask, use_causal_mask=causal),
                                   np.asarray(theirs([query, value], mask=mask, use_causal_mask=causal)),
                                   rtol=2e-5, atol=2e-6)
    assert np.all(out[~mask[0]] == 0)                   # a masked query's output is zero
    upstream = rng.standard_normal(out.shape)
    layer([query, value], mask=mask)
    grads = layer.backward(upstream)
    for k, x in enumerate([query, value]):
        numeric = numerical_gradient(lambda: float(np.sum(layer([query, value], mask=mask) * upstream)), x)
        np.testing.assert_allclose(grads[k], numeric, rtol=1e-6, atol=1e-8, err_msg=f"input {k}")
