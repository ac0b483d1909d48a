"""ReversibleEmbedding: lookups and reverse logits as Keras 3.15's (tied and untied, with and without
a soft cap, weights copied in), gradients by float64 finite differences and against PyTorch autograd
(the reverse path with its soft cap; a functional language model whose tied table gets both calls'
gradients), a drawn model as Keras' (its file and config keep the reverse call), and the refusals.
The lookup's contract row is in test_layer_contract.py."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer, check_model
from glassnet.layers import Dense, ReversibleEmbedding
from glassnet.layers.base import call_arguments_set

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SETTINGS = [dict(), dict(tie_weights=False), dict(logit_soft_cap=0.05), dict(tie_weights=False, logit_soft_cap=2.0)]


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
def test_lookup_and_reverse_equal_keras(settings, rng, keras):
    ours = ReversibleEmbedding(11, 4, embeddings_initializer="random_normal", seed=0, **settings)
    theirs = keras.layers.ReversibleEmbedding(11, 4, **settings)
    ids = rng.integers(0, 11, (5, 3))
    out = ours(ids)
    theirs.build((5, 3))
    assert [w.shape for w in theirs.get_weights()] == [w.shape for w in ours.get_weights()]
    theirs.set_weights(ours.get_weights())
    np.testing.assert_array_equal(out, np.asarray(theirs(ids)))
    for h in (rng.standard_normal((5, 3, 4)), rng.standard_normal((6, 4)), out):
        h = h.astype(np.float32)
        logits = ours(h, reverse=True)
        assert logits.dtype == np.float32 and logits.shape == (*h.shape[:-1], 11)
        np.testing.assert_allclose(logits, np.asarray(theirs(h, reverse=True)), rtol=1e-5, atol=1e-6)
    if settings.get("logit_soft_cap"):
        assert np.abs(logits).max() < settings["logit_soft_cap"]


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
@pytest.mark.parametrize("shape", [(3, 4), (4,)], ids=str)
def test_reverse_gradients_agree_with_finite_differences(settings, shape, rng):
    layer = ReversibleEmbedding(7, 4, embeddings_initializer="random_normal", dtype="float64", seed=1, **settings)
    x = rng.standard_normal((3, *shape))
    with call_arguments_set(layer, {"reverse": True}):
        layer.build(shape)
        report = check_layer(layer, x)
    assert report["max_error"] < 1e-6 and set(report["errors"]) == {"input", *layer.params}
    assert layer.input_shape == (shape[:-1] or None)      # built by a reverse call: the ids' shape, if any


def test_reverse_with_soft_cap_matches_torch_autograd(rng, torch):
    cap = 1.5
    layer = ReversibleEmbedding(9, 5, embeddings_initializer="random_normal", logit_soft_cap=cap, dtype="float64",
                                seed=2)
    x = rng.standard_normal((4, 3, 5)) * 2          # logits well into the cap's bend
    logits = layer(x, reverse=True)
    g = rng.standard_normal(logits.shape)
    grad_x = layer.backward(g)
    table = torch.tensor(layer.params["embeddings"], requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    expected = cap * torch.tanh(tx @ table.T / cap)
    (expected * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(logits, expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["embeddings"], table.grad.numpy(), rtol=1e-10, atol=1e-12)


def _language_model(lib, cap=None, tie_weights=True, **kw):
    layers = lib.layers
    ids = lib.Input((6,))
    emb = layers.ReversibleEmbedding(13, 5, tie_weights=tie_weights, logit_soft_cap=cap,
                                     embeddings_initializer="random_normal")
    h = layers.Dense(5, activation="tanh")(emb(ids))
    return lib.Model(ids, layers.Activation("softmax")(emb(h, reverse=True)), **kw)


def test_a_tied_table_gets_the_lookup_s_and_the_reverse_s_gradients(rng, torch):
    model = _language_model(gn, cap=2.0, seed=0, dtype="float64")
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    x = rng.integers(0, 10, (8, 6))          # rows 10-12 are never looked up
    y = rng.integers(0, 13, (8, 6, 1))
    report = check_model(model, x, y)
    assert report["max_error"] < 1e-6
    value, _ = model._loss_and_gradients(*model._prepare_xy(x, y, "x", "y"))
    emb, dense = model.layers[0], model.layers[1]
    table = torch.tensor(emb.params["embeddings"], requires_grad=True)
    kernel = torch.tensor(dense.params["kernel"], requires_grad=True)
    bias = torch.tensor(dense.params["bias"], requires_grad=True)
    h = torch.tanh(table[torch.tensor(x)] @ kernel + bias)
    logits = 2.0 * torch.tanh(h @ table.T / 2.0)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 13), torch.tensor(y).reshape(-1))
    loss.backward()
    assert value == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(emb.grads["embeddings"], table.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dense.grads["kernel"], kernel.grad.numpy(), rtol=1e-9, atol=1e-12)
    # rows never looked up learn from the reverse product alone: a lookup-only gradient leaves them 0
    assert np.abs(table.grad.numpy()[10:]).min() > 1e-6


@pytest.mark.parametrize("tie_weights", [True, False])
def test_a_drawn_language_model_predicts_as_keras_trains_and_saves(tie_weights, tmp_path, rng, keras):
    ours = _language_model(gn, cap=3.0, tie_weights=tie_weights, seed=0)
    theirs = _language_model(keras, cap=3.0, tie_weights=tie_weights)
    theirs.set_weights(ours.get_weights())
    x = rng.integers(0, 13, (10, 6))
    np.testing.assert_allclose(ours.predict(x, verbose=0), np.asarray(theirs.predict(x, verbose=0)), rtol=1e-5,
                               atol=1e-6)
    assert ours.get_config()["options"] == [None, None, {"reverse": True}, None]
    ours.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    before = ours.get_weights()
    ours.fit(x, rng.integers(0, 13, (10, 6, 1)), epochs=2, batch_size=5, verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(before, ours.get_weights()))
    ours.save(tmp_path / "lm.npz")
    loaded = gn.load_model(tmp_path / "lm.npz")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), ours.predict(x, verbose=0))
    again = gn.Model.from_config(ours.get_config())
    again.set_weights(ours.get_weights())
    np.testing.assert_array_equal(again.predict(x, verbose=0), ours.predict(x, verbose=0))


def test_a_reverse_call_reading_an_input_and_a_sequential_lookup(rng):
    emb = ReversibleEmbedding(8, 3, seed=0)
    vectors = gn.Input((3,))
    model = gn.Model(vectors, emb(vectors, reverse=True))
    h = rng.standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(model.predict(h, verbose=0), h @ emb.params["embeddings"].T, rtol=1e-6)
    lookup = gn.Sequential([gn.Input((5,)), ReversibleEmbedding(8, 3, mask_zero=True), gn.layers.LSTM(2)], seed=0)
    assert lookup.predict(rng.integers(0, 8, (4, 5)), verbose=0).shape == (4, 2)


def test_config_round_trip():
    layer = ReversibleEmbedding(10, 4, tie_weights=False, reverse_dtype="float32", logit_soft_cap=30, mask_zero=True,
                                name="tokens")
    config = layer.get_config()
    assert config["tie_weights"] is False and config["reverse_dtype"] == "float32" and config["logit_soft_cap"] == 30.0
    copy = ReversibleEmbedding.from_config(config)
    assert copy.get_config() == config
    layer.build((3,))
    copy.build((3,))
    copy.set_weights(layer.get_weights())
    h = np.ones((2, 4), np.float32)
    np.testing.assert_array_equal(copy(h, reverse=True), layer(h, reverse=True))


def test_refusals_name_the_layer_the_argument_and_what_came(rng):
    for name, value in [("lora_rank", 4), ("quantization_config", "int8"), ("lora_alpha", 2.0)]:
        with pytest.raises(ValueError, match=rf"^ReversibleEmbedding: {name}=.* is not supported \(Keras' quantization"):
            ReversibleEmbedding(5, 2, **{name: value})
    with pytest.raises(ValueError, match=r"^ReversibleEmbedding: reverse_dtype must be None, 'float32' or 'float64', "
                                         r"got 'bfloat16'"):
        ReversibleEmbedding(5, 2, reverse_dtype="bfloat16")
    for cap in (0, -1.0, float("inf"), True, "3"):
        with pytest.raises(ValueError, match=r"^ReversibleEmbedding: logit_soft_cap must be None or a positive number"):
            ReversibleEmbedding(5, 2, logit_soft_cap=cap)
    with pytest.raises(TypeError, match=r"^ReversibleEmbedding: tie_weights"):
        ReversibleEmbedding(5, 2, tie_weights="yes")
    with pytest.raises(ValueError, match=r"reverse_dtype='float64' differs from the layer's dtype float32"):
        ReversibleEmbedding(5, 2, reverse_dtype="float64")(np.array([[1]]))
    layer = ReversibleEmbedding(5, 2)
    with pytest.raises(TypeError, match=r"^layer ReversibleEmbedding: reverse"):
        layer(np.ones((2, 2)), reverse="yes")
    with pytest.raises(ValueError, match=r"reverse=True maps vectors of output_dim=2 onto the vocabulary: expected "
                                         r"samples \(\.\.\., 2\), got \(3,\)"):
        layer(np.ones((2, 3)), reverse=True)
    with pytest.raises(ValueError, match=r"indices must be in \[0, 5\)"):
        layer(np.array([[7]]))
    ids = gn.Input((4,))
    masked = ReversibleEmbedding(5, 2, mask_zero=True)
    with pytest.raises(NotImplementedError, match=r"a reverse call of a layer with mask_zero=True is not supported in "
                                                  r"a drawn model"):
        masked(masked(ids), reverse=True)
    with pytest.raises(ValueError, match=r"reverse=True maps vectors of output_dim=2.*got \(4, 3\)"):
        layer(Dense(3)(layer(ids)), reverse=True)
