"""SpectralNormalization: the kernel divided by its largest singular value at training calls only
(the power method against NumPy's SVD), a model trained as Keras 3.15 trains it (Dense and Conv2D
wrapped), model files, and the refusals. The layer contract is in test_layer_contract.py."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Conv2D, Dense, Embedding, Flatten, SpectralNormalization


def test_the_kernel_s_spectral_norm_becomes_one_at_training_calls_only(rng):
    layer = SpectralNormalization(Conv2D(5, 3), power_iterations=50, dtype="float64", seed=0)
    x = rng.normal(size=(2, 6, 6, 3))
    layer(x)                                                  # inference: the kernel as drawn
    before = layer.params["kernel"].copy()
    matrix = before.reshape(-1, 5)
    assert np.linalg.norm(matrix, 2) != pytest.approx(1)
    layer(x)
    np.testing.assert_array_equal(layer.params["kernel"], before)
    out = layer(x, training=True)
    np.testing.assert_allclose(layer.params["kernel"], before / np.linalg.norm(matrix, 2), rtol=1e-10)
    # the layer computed with the divided kernel, and u is the top right singular vector
    np.testing.assert_allclose(out, layer.layer.forward(x), rtol=1e-12)
    top = np.linalg.svd(matrix)[2][0]
    np.testing.assert_allclose(np.abs(layer.state["vector_u"][0]), np.abs(top), atol=1e-8)


def test_one_power_step_per_call_converges_over_calls(rng):
    layer = SpectralNormalization(Dense(4), seed=1, dtype="float64")
    x = rng.normal(size=(3, 6))
    for _ in range(30):
        layer(x, training=True)
    assert np.linalg.norm(layer.params["kernel"], 2) == pytest.approx(1, rel=1e-6)


def test_a_kernel_of_zeros_is_left_alone():
    layer = SpectralNormalization(Dense(3, kernel_initializer="zeros"), seed=0)
    layer(np.ones((2, 4)), training=True)
    assert not layer.params["kernel"].any() and np.isfinite(layer.state["vector_u"]).all()


def test_a_model_trains_as_keras_trains_it(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(32, 6, 6, 2)).astype(np.float32)
    y = rng.normal(size=(32, 1)).astype(np.float32)
    ours = gn.Sequential([gn.Input((6, 6, 2)), SpectralNormalization(Conv2D(4, 3, activation="relu"), power_iterations=2),
                          Flatten(), SpectralNormalization(Dense(1))], seed=0)
    theirs = keras.Sequential([keras.Input((6, 6, 2)),
                               keras.layers.SpectralNormalization(keras.layers.Conv2D(4, 3, activation="relu"),
                                                                  power_iterations=2),
                               keras.layers.Flatten(), keras.layers.SpectralNormalization(keras.layers.Dense(1))])

    # both list each wrapper's kernel, vector_u, bias (glassnet put vector_u last before kfiles3)
    theirs.set_weights(ours.get_weights())
    for model in (ours, theirs):
        model.compile(loss="mse", optimizer="sgd")
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_it_round_trips_through_a_model_file_with_its_vector(rng, tmp_path):
    model = gn.Sequential([gn.Input((5,)), SpectralNormalization(Embedding(7, 3)), Flatten(),
                           SpectralNormalization(Dense(2), power_iterations=3)], seed=0)
    ids = rng.integers(0, 7, size=(16, 5)).astype(np.float32)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    model.fit(ids, rng.integers(0, 2, 16), epochs=2, verbose=0)
    model.save(tmp_path / "sn.npz")
    loaded = gn.load_model(tmp_path / "sn.npz")
    np.testing.assert_array_equal(loaded.predict(ids), model.predict(ids))
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert loaded.layers[2].power_iterations == 3 and loaded.layers[0].layer.input_dim == 7


def test_refusals_name_what_was_expected_and_what_came():
    with pytest.raises(TypeError, match="SpectralNormalization: layer must be a glassnet Layer that is not a wrapper"):
        SpectralNormalization("dense")
    with pytest.raises(ValueError, match="power_iterations must be a positive integer, got 0"):
        SpectralNormalization(Dense(2), power_iterations=0)
    with pytest.raises(ValueError, match="has no kernel nor embeddings to normalise"):
        gn.Sequential([gn.Input((4, 2)), SpectralNormalization(gn.layers.LayerNormalization())])
    with pytest.raises(ValueError, match="is already wrapped"):
        dense = Dense(2)
        SpectralNormalization(dense)
        SpectralNormalization(dense)


def test_trace_and_gradient_checks_leave_the_kernel_and_check_the_divided_one(rng):
    from glassnet.gradcheck import check_layer, check_model
    x, y = rng.normal(size=(8, 6)), rng.normal(size=(8, 1))
    model = gn.Sequential([gn.Input((6,)), SpectralNormalization(Dense(5, activation="tanh")), Dense(1)],
                          seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    before, u = model.get_weights(), model.layers[0].state["vector_u"].copy()
    model.trace(x, y)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    assert check_model(model, x, y)["max_error"] < 1e-6
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.layers[0].state["vector_u"], u)
    layer = SpectralNormalization(Dense(3), dtype="float64", seed=0)
    assert check_layer(layer, rng.normal(size=(4, 5)), training=True)["max_error"] < 1e-6
    assert not layer.hold_rewrites


def test_a_model_ending_in_a_wrapped_sigmoid_is_a_classifier():
    from glassnet.cli import is_classifier
    model = gn.Sequential([gn.Input((3,)), SpectralNormalization(Dense(1, activation="sigmoid"))])
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    assert is_classifier(model) and model.layers[-1].activation.name == "sigmoid"
