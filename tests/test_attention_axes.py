"""MultiHeadAttention(attention_axes=...): attention over other axes than a sequence's steps (an
image's rows and columns, one axis of several), values and scores against Keras 3.15 (eager and in
a model drawn, its training and files), every gradient against PyTorch autograd (Keras' einsum
equations written in torch, float64) and finite differences, and the refusals (masks)."""
import string

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import numerical_gradient

L = gn.layers
# query's and value's sample shapes, attention_axes, a key of its own (its features: 3)
CASES = [((4, 5, 6), (3, 4, 5), None, False),       # an image: attended over rows and columns (Keras' default)
         ((4, 5, 6), (3, 4, 5), (1, 2), True),
         ((4, 5, 6), (4, 3, 5), (2,), False),        # over the columns, each row on its own
         ((4, 5, 6), (3, 5, 5), (1,), True),         # over the rows, each column on its own
         ((4, 5, 6), (3, 2, 5), (2, 1), False),      # Keras' scores follow the axes' order
         ((2, 3, 4, 5), (2, 2, 4, 4), (-3, -2), False),
         ((2, 3, 4, 5), (2, 3, 2, 4), (1, 3), True),
         ((2, 3, 4, 5), (3, 3, 4, 4), (1,), False),      # transposes that are not their own inverses
         ((2, 3, 4, 5), (3, 3, 2, 4), (3, 1), True),
         ((5, 6), (7, 6), -2, False)]                # a sequence: the usual attention


def _inputs(rng, query, value, key, dtype=np.float64):
    xs = [rng.standard_normal((3, *query)).astype(dtype), rng.standard_normal((3, *value)).astype(dtype)]
    return xs + ([rng.standard_normal((3, *value[:-1], 3)).astype(dtype)] if key else [])


@pytest.mark.parametrize("query, value, axes, key", CASES, ids=str)
def test_values_and_scores_match_keras(query, value, axes, key, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    xs = _inputs(rng, query, value, key, np.float32)
    settings = dict(num_heads=2, key_dim=3, value_dim=4, output_shape=7, attention_axes=axes)
    ours = L.MultiHeadAttention(**settings, bias_initializer="random_normal", seed=0)
    theirs = keras.layers.MultiHeadAttention(**settings)
    out, scores = ours(*xs, return_attention_scores=True)
    theirs(*xs)
    theirs.set_weights(ours.get_weights())
    expected, expected_scores = theirs(*xs, return_attention_scores=True)
    assert out.shape == expected.shape == (3, *query[:-1], 7) and out.dtype == np.float32
    assert scores.shape == expected_scores.shape == (3, *ours.scores_shape([query, value]))
    np.testing.assert_allclose(out, np.asarray(expected), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scores, np.asarray(expected_scores), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours(*xs), np.asarray(theirs(*xs)), rtol=1e-5, atol=1e-6)   # Keras' fused path


def _equations(rank, axes):
    """Keras' _build_attention_equation, written again: the scores' and the combination's einsums
    for projected tensors of ``rank`` axes (batch, ..., heads, size)."""
    letters = string.ascii_lowercase
    target = letters[:rank]
    batch = [i for i in range(rank - 1) if i not in axes]          # the heads' axis among them
    source, offset = "", rank
    for i in range(rank):
        if i in batch or i == rank - 1:
            source += target[i]
        else:
            source += letters[offset]
            offset += 1
    product = "".join([target[i] for i in batch] + [target[i] for i in axes] + [source[i] for i in axes])
    return f"{source},{target}->{product}", f"{product},{source}->{target}"


def _torch_mha(torch, layer, xs):
    params = {name: torch.tensor(value, requires_grad=True) for name, value in layer.params.items()}
    query, value = xs[0], xs[1]
    key = xs[2] if len(xs) == 3 else value
    rank = query.ndim + 1
    axes = layer._attended(query.ndim)

    def project(x, name):
        return torch.einsum("...e,ehd->...hd", x, params[f"{name}_kernel"]) + params[f"{name}_bias"]

    dot, combine = _equations(rank, axes)
    scores = torch.einsum(dot, project(key, "key"), project(query, "query") / layer.key_dim ** 0.5)
    dims = tuple(range(scores.ndim - len(axes), scores.ndim))          # one softmax over every attended axis
    weights = torch.exp(scores - torch.logsumexp(scores, dim=dims, keepdim=True))
    context = torch.einsum(combine, weights, project(value, "value"))
    out = torch.einsum("...hd,hdo->...o", context, params["output_kernel"]) + params["output_bias"]
    return out, weights, params


@pytest.mark.parametrize("query, value, axes, key", CASES, ids=str)
def test_gradients_match_torch_autograd_with_the_returned_scores(query, value, axes, key, rng, torch):
    layer = L.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=2, attention_axes=axes, dtype="float64", seed=0,
                                 bias_initializer="random_normal")
    xs = _inputs(rng, query, value, key)
    out, scores = layer(*xs, return_attention_scores=True)
    upstream, score_upstream = rng.standard_normal(out.shape), rng.standard_normal(scores.shape)
    layer._score_grads = score_upstream             # as an AttentionScores call in a model hands it back
    grads = layer.backward(upstream)
    txs = [torch.tensor(x, requires_grad=True) for x in xs]
    tout, tscores, tparams = _torch_mha(torch, layer, txs)
    ((tout * torch.tensor(upstream)).sum() + (tscores * torch.tensor(score_upstream)).sum()).backward()
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scores, tscores.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert len(grads) == len(xs)
    for g, t in zip(grads, txs):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, t in tparams.items():
        np.testing.assert_allclose(layer.grads[name], t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_gradients_agree_with_finite_differences(rng):
    layer = L.MultiHeadAttention(num_heads=2, key_dim=2, attention_axes=(2, 1), dtype="float64", seed=0,
                                 bias_initializer="random_normal")
    xs = _inputs(rng, (3, 2, 4), (2, 3, 5), True)
    out = layer(*xs)
    upstream = rng.standard_normal(out.shape)
    grads = layer.backward(upstream)
    analytic = {name: g.copy() for name, g in layer.grads.items()}

    def loss():
        return float(np.sum(layer(*xs) * upstream))
    for x, g in zip(xs, grads):
        np.testing.assert_allclose(g, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)
    for name, value in layer.params.items():
        np.testing.assert_allclose(analytic[name], numerical_gradient(loss, value), rtol=1e-6, atol=1e-8, err_msg=name)


def _image_block(lib):
    images = lib.Input((4, 3, 6))
    attended = lib.layers.MultiHeadAttention(num_heads=2, key_dim=3, name="mha")(images, images)
    h = lib.layers.LayerNormalization(name="ln")(lib.layers.Add()([images, attended]))
    return images, lib.layers.Dense(3, activation="softmax", name="out")(lib.layers.GlobalAveragePooling2D()(h))


def test_self_attention_over_an_image_in_a_model_trains_as_keras_and_round_trips(rng, tmp_path):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = gn.Model(*_image_block(gn), seed=0), keras.Model(*_image_block(keras))
    for layer in ours.layers:
        if layer.params:
            theirs.get_layer(layer.name).set_weights(layer.get_weights())
    x, y = rng.standard_normal((32, 4, 3, 6)).astype(np.float32), rng.integers(0, 3, 32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    ours.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.SGD(0.1))
    theirs.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.1))
    np.testing.assert_allclose(ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"],
                               theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"],
                               rtol=1e-5)
    ours.save(tmp_path / "image.npz")
    loaded = gn.load_model(tmp_path / "image.npz")
    np.testing.assert_array_equal(loaded.predict(x), ours.predict(x))
    over_columns = L.MultiHeadAttention(2, 3, attention_axes=(2,))
    assert L.MultiHeadAttention.from_config(over_columns.get_config()).attention_axes == (2,)


def test_the_scores_of_an_image_s_attention_in_a_model(rng):
    images = gn.Input((2, 3, 4))
    mha = L.MultiHeadAttention(num_heads=2, key_dim=2, attention_axes=(1, 2), name="mha")
    out, scores = mha(images, images, return_attention_scores=True)
    model = gn.Model(images, [out, scores], seed=0)
    x = rng.standard_normal((5, 2, 3, 4)).astype(np.float32)
    got_out, got_scores = model.predict(x, verbose=0)
    expected_out, expected_scores = mha(x, x, return_attention_scores=True)
    assert got_scores.shape == (5, 2, 2, 3, 2, 3)
    np.testing.assert_allclose(got_scores, expected_scores, rtol=1e-6)
    np.testing.assert_allclose(got_scores.sum(axis=(-2, -1)), 1, rtol=1e-5)
    np.testing.assert_allclose(got_out, expected_out, rtol=1e-6)


def test_refusals_name_what_was_expected_and_what_came(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    layer = L.MultiHeadAttention(2, 2)
    for bad in ((1, 1), "1", (), (1.0,), True):
        with pytest.raises(ValueError, match=r"^MultiHeadAttention: attention_axes must be None, an axis or a tuple "
                                             r"of distinct axes \(integers\), got"):
            L.MultiHeadAttention(2, 2, attention_axes=bad)
    for bad in (0, 3, -1, (1, -3)):
        with pytest.raises(ValueError, match=r"attention_axes must be axes between the batch's and the features' "
                                             r"\(1 to 2, or -3 to -2\)"):
            L.MultiHeadAttention(2, 2, attention_axes=bad)(x, x)
    for masks, name in ((dict(use_causal_mask=True), "use_causal_mask=True"),
                        (dict(value_mask=np.ones((2, 3), bool)), "value_mask"),
                        (dict(attention_mask=np.ones((2, 3, 3), bool)), "attention_mask")):
        with pytest.raises(NotImplementedError, match=rf"MultiHeadAttention: {name} is not supported with attention "
                                                      r"over axes \(1, 2\) of inputs of 4 axes"):
            layer(x, x, **masks)
    np.testing.assert_array_equal(layer(x, x), layer(x, x))        # the refused masks were not kept
    with pytest.raises(ValueError, match=r"query and value need the same size on axis 1, which is not attended over"):
        L.MultiHeadAttention(2, 2, attention_axes=(2,))(x, rng.standard_normal((2, 2, 4, 5)))
    with pytest.raises(TypeError, match=r"not MultiHeadAttention's \['attention_axes'\]"):
        L.GroupQueryAttention(2, 2, 1, attention_axes=(1,))
    with pytest.raises(ValueError, match=r"takes sequences, query \(steps, features\), value \(steps, features\) and "
                                         r"an optional key like value; got"):
        L.GroupQueryAttention(2, 2, 1)(x, x)
