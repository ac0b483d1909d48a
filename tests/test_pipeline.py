"""Pipeline: layers applied in turn as one layer, Keras 3's. Values as Keras 3.15's Pipeline of the
same layers, training mode on its own and the model's mode inside one, weights and gradients
through the chain, files and configs, and the refusals. The contract row is in test_layer_contract.py."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def test_values_equal_keras_pipeline(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.uniform(0, 255, (3, 6, 5, 3)).astype(np.float32)
    ours = L.Pipeline([L.Rescaling(1 / 255), L.AutoContrast(value_range=(0, 1)), L.CenterCrop(4, 4),
                       L.Dense(4, activation="tanh")], seed=0)
    out = ours(x, training=False)
    theirs = keras.layers.Pipeline([keras.layers.Rescaling(1 / 255), keras.layers.AutoContrast(value_range=(0, 1)),
                                    keras.layers.CenterCrop(4, 4), keras.layers.Dense(4, activation="tanh")])
    theirs(x)
    theirs.layers[3].set_weights(ours.get_weights())
    np.testing.assert_allclose(out, np.asarray(theirs(x, training=False)), rtol=1e-5, atol=1e-6)
    assert [layer.name for layer in ours.layers] == ["rescaling", "auto_contrast", "center_crop", "dense"]
    assert list(ours.params) == ["layer_3_kernel", "layer_3_bias"]


def test_training_mode_on_its_own_and_the_models_mode_inside_one(rng):
    x = rng.uniform(0, 1, (64, 4, 4, 1)).astype(np.float32)
    flips = L.Pipeline([L.RandomFlip("horizontal"), L.Rescaling(2.0)], seed=0)
    augmented = flips(x)                                   # Keras: training=True unless told
    flipped = np.all(augmented == 2 * x[:, :, ::-1], axis=(1, 2, 3))
    assert 10 < flipped.sum() < 54 and np.all(flipped | np.all(augmented == 2 * x, axis=(1, 2, 3)))
    np.testing.assert_array_equal(flips(x, training=False), 2 * x)
    model = gn.Sequential([L.Input((4, 4, 1)), L.Pipeline([L.RandomFlip("horizontal"), L.Rescaling(2.0)]), L.Flatten(),
                           L.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    dense = model.layers[-1]
    np.testing.assert_allclose(model.predict(x, verbose=0), (2 * x).reshape(64, -1) @ dense.params["kernel"]
                               + dense.params["bias"], rtol=1e-5)
    assert model.layers[0].output_shape((4, 4, 1)) == (4, 4, 1) and len(model.layers) == 3


def test_weights_train_through_the_chain_and_save(tmp_path, rng):
    x = rng.normal(size=(40, 5)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    chain = L.Pipeline([L.Dense(8, activation="relu"), L.GaussianNoise(0.1), L.Dense(4, activation="tanh")])
    model = gn.Sequential([L.Input((5,)), chain, L.Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.05), metrics=["accuracy"])
    before = chain.get_weights()[0].copy()
    model.fit(x, y, epochs=40, verbose=0)
    assert not np.allclose(before, chain.get_weights()[0]) and model.evaluate(x, y, verbose=0)[1] > 0.9
    assert [w.shape for w in chain.get_weights()] == [(5, 8), (8,), (8, 4), (4,)]
    model.save(tmp_path / "model.npz")
    loaded = gn.load_model(tmp_path / "model.npz")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert gn.model_from_json(model.to_json()).layers[0].get_config() == chain.get_config()
    small = gn.Sequential([L.Input((5,)), L.Pipeline([L.Dense(3, activation="tanh"), L.Dense(2)]), L.Dense(1)],
                          seed=1, dtype="float64")
    small.compile(loss="mse", optimizer="sgd")
    assert gn.gradcheck.check_model(small, x[:4].astype(np.float64), y[:4])["max_error"] < 1e-6


@pytest.mark.parametrize("make,error,message", [
    (lambda: L.Pipeline([]), TypeError, "Pipeline: layers must be a non-empty list of layers"),
    (lambda: L.Pipeline(L.Dense(2)), TypeError, "Pipeline: layers must be a non-empty list of layers"),
    (lambda: L.Pipeline([L.Dense(2), "dense"]), TypeError, "Pipeline: layer must be a glassnet Layer"),
    (lambda: L.Pipeline([L.BatchNormalization()]), ValueError, "keeps state besides its trained weights"),
    (lambda: L.Pipeline([L.StringLookup(vocabulary=["a"])]), ValueError, "turns texts into numbers"),
    (lambda: L.Pipeline([L.Embedding(5, 2, mask_zero=True)]), ValueError, "makes a mask"),
    (lambda: L.Pipeline([L.Dense(2, input_shape=(3,))]), ValueError, "give it to the Pipeline"),
    (lambda: L.Pipeline([L.TimeDistributed(L.Dense(2))]), TypeError, "not a wrapper"),
])
def test_refusals_name_what_was_wrong(make, error, message):
    with pytest.raises(error, match=message):
        make()
    shared = L.Dense(2)
    with pytest.raises(ValueError, match="listed twice"):
        L.Pipeline([shared, shared])
