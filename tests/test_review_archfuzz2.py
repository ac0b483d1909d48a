"""Review (archfuzz2): random functional models with operators, glassnet.ops, shared layers,
MultiHeadAttention and nested models, drawn alike in glassnet and Keras 3.15 (tests/archfuzz_graphs.py):
layer order, weight shapes, predictions with Keras' weights, three SGD steps, a saved model."""
import os
import re

import numpy as np
import pytest

import glassnet as gn
from archfuzz_graphs import draw

L = gn.layers


# -- a shared attention layer called with its key and without it -----------------------------------
def _attention_pair(kind, second_with_key):
    """A model calling one attention layer twice: once with the key, once without (in either order),
    and the same model with the key given both times (the value as key): they compute the same."""
    models = []
    for explicit in (False, True):
        x = gn.Input((4, 3))
        if kind == "mha":
            layer = L.MultiHeadAttention(num_heads=2, key_dim=2, name="att", seed=3)
            if second_with_key:             # mha(x, x), then mha(y, x, y)
                y = layer(x, x, x) if explicit else layer(x, x)
                z = layer(y, x, y)
            else:                           # mha(x, x, x), then mha(y, y)
                y = layer(x, x, x)
                z = layer(y, y, y) if explicit else layer(y, y)
        else:
            layer = L.Attention(name="att")
            y = layer([x, x, x])
            z = layer([y, y, y]) if explicit else layer([y, y])
        models.append(gn.Model(x, L.Dense(2, name="head", seed=1)(z)))
    models[1].set_weights(models[0].get_weights())
    return models


@pytest.mark.parametrize("kind, second_with_key", [("mha", False), ("mha", True), ("attention", False)])
def test_shared_attention_with_and_without_key(kind, second_with_key):
    # Keras 3.15 takes mha(x, x, x) then mha(y, y) (the key left out is the value); glassnet refused
    # the second call as "samples of another shape"
    implicit, explicit = _attention_pair(kind, second_with_key)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 4, 3)).astype("float32"), rng.normal(size=(6, 4, 2)).astype("float32")
    np.testing.assert_allclose(implicit.predict(x), explicit.predict(x), atol=1e-6)
    losses = []
    for model in (implicit, explicit):
        model.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=0.1))
        losses.append([model.train_on_batch(x, y) for _ in range(3)])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)
    for a, b in zip(implicit.get_weights(), explicit.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_shared_attention_key_still_checked():
    # a call without the key uses the value as key: it must fit the key's kernel
    x, wide = gn.Input((4, 3)), gn.Input((4, 5))
    mha = L.MultiHeadAttention(num_heads=1, key_dim=2)
    y = mha(x, wide, x)                 # key (3 features), value (5)
    with pytest.raises(NotImplementedError, match="called more than once"):
        gn.Model([x, wide], mha(y, wide))       # the value (5 features) as key: the key kernel takes 3


# -- the differential fuzz against Keras ------------------------------------------------------------
def _base(name):
    return re.sub(r"_\d+$", "", name)


def _keras_names(keras, model, seen):
    """Keras' operations but the Inputs; a nested model stands for its own (glassnet lists a nested
    model's layers in its place, docs/keras_parity.md), each once."""
    names = []
    for op in getattr(model, "operations", None) or model.layers:
        if isinstance(op, keras.layers.InputLayer) or id(op) in seen:
            continue
        seen.add(id(op))
        names += _keras_names(keras, op, seen) if isinstance(op, keras.Model) else [_base(op.name)]
    return names


def _listed(p):
    return list(p) if isinstance(p, (list, tuple)) else [p]


@pytest.mark.parametrize("seed", range(40))
def test_random_models_match_keras(seed, tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    keras = pytest.importorskip("keras")
    keras.backend.clear_session()
    km, shapes, outs = draw(keras, seed)
    gm, _, _ = draw(gn, seed)
    assert [_base(layer.name) for layer in gm.layers] == _keras_names(keras, km, set())
    assert [w.shape for w in gm.get_weights()] == [w.shape for w in km.get_weights()]
    gm.set_weights(km.get_weights())
    rng = np.random.RandomState(seed)
    x = [rng.normal(size=(8,) + s).astype("float32") for s in shapes]
    for a, b in zip(_listed(km.predict(x, verbose=0)), _listed(gm.predict(x))):
        np.testing.assert_allclose(b, a, atol=1e-5, rtol=1e-4)
    y = [rng.normal(size=(8,) + s).astype("float32") for s in outs]
    y = y if len(y) > 1 else y[0]
    km.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", run_eagerly=True)
    gm.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=0.05))
    for _ in range(3):
        xb = [rng.normal(size=(8,) + s).astype("float32") for s in shapes]
        ours, theirs = np.ravel(gm.train_on_batch(xb, y))[0], np.ravel(km.train_on_batch(xb, y))[0]
        np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=1e-4)
    for a, b in zip(km.get_weights(), gm.get_weights()):
        np.testing.assert_allclose(b, a, atol=1e-5, rtol=1e-4)
    gm.save(tmp_path / "m.npz")
    back = gn.load_model(tmp_path / "m.npz")
    for a, b in zip(_listed(gm.predict(x)), _listed(back.predict(x))):
        np.testing.assert_array_equal(a, b)
