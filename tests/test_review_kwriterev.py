"""Review of the .keras writer (glassnet._keras_write): glassnet models that Keras 3.15 must load.

Each model is saved by glassnet and loaded by keras.saving.load_model; Keras' predictions must
equal glassnet's (the oracle is Keras running the file, never glassnet's own numbers).
"""
import warnings

import numpy as np
import pytest

import glassnet as gn

pytest.importorskip("h5py", reason="writing .keras files needs h5py")
L = gn.layers


def _keras_predictions(keras, model, path, x):
    model.save(path, save_format="keras")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        loaded = keras.saving.load_model(path)
    return np.asarray(loaded.predict(x, verbose=0))


def test_elu_layer_keeps_its_alpha_in_keras(keras, tmp_path):
    # ELU's alpha was taken for LeakyReLU's Keras 2 alias and written as negative_slope, which
    # Keras' ELU refuses: no ELU model loaded in Keras
    x = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
    model = gn.Sequential([L.Dense(3, input_shape=(4,)), L.ELU(alpha=0.5), L.Dense(2)], seed=0)
    got = _keras_predictions(keras, model, tmp_path / "elu.keras", x)
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make, shape", [
    (lambda: L.SpatialDropout1D(0.3), (7, 3)),
    (lambda: L.SpatialDropout2D(0.3), (5, 5, 3)),
])
def test_spatial_dropout_loads_in_keras(keras, tmp_path, make, shape):
    # Keras' SpatialDropout takes no ``trainable``: its config must leave it out
    x = np.random.default_rng(1).normal(size=(4, *shape)).astype("float32")
    model = gn.Sequential([L.Dense(3, input_shape=shape), make(), L.Flatten(), L.Dense(2)], seed=0)
    got = _keras_predictions(keras, model, tmp_path / "sd.keras", x)
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("attention", ["MultiHeadAttention", "Attention"])
def test_causal_attention_call_loads_in_keras(keras, tmp_path, attention):
    # a call with use_causal_mask=True was refused ("no Keras counterpart"), though Keras' call
    # takes the flag: it goes in the node's keywords, not in the layer's config
    rng = np.random.default_rng(2)
    q = gn.Input((5, 4))
    if attention == "MultiHeadAttention":
        out = L.MultiHeadAttention(num_heads=2, key_dim=3)(q, q, use_causal_mask=True)
    else:
        out = L.Attention()([q, q], use_causal_mask=True)
    model = gn.Model(q, L.Dense(2)(out), seed=0)
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    got = _keras_predictions(keras, model, tmp_path / "causal.keras", x)
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    again = gn.load_model(tmp_path / "causal.keras")        # glassnet reads the flag back from the node
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)


def test_nadam_written_as_keras_computes_it(keras, tmp_path):
    # glassnet's Nadam config carries momentum_decay, which Keras' Nadam refuses; Keras 3's Nadam is
    # glassnet's momentum_decay=1.0: written there, refused by name at PyTorch's default 0.004
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(8, 4)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    model = gn.Sequential([L.Dense(2, input_shape=(4,))], seed=0)
    model.compile(loss="mse", optimizer=gn.optimizers.Nadam(0.01, momentum_decay=1.0))
    model.save(tmp_path / "n.keras", save_format="keras")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        loaded = keras.saving.load_model(tmp_path / "n.keras")
    again = gn.load_model(tmp_path / "n.keras")
    loaded.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    again.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    for got, want in zip(again.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    model.compile(loss="mse", optimizer=gn.optimizers.Nadam(0.01))
    with pytest.raises(ValueError, match="momentum_decay"):
        model.save(tmp_path / "d.keras", save_format="keras")
    assert not (tmp_path / "d.keras").exists()
