"""Layer arguments fuzzed against Keras 3.15 (and PyTorch, finite differences where Keras is wrong):
the disagreements that were glassnet's, each with the settings that found it."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers


def _keras():
    pytest.importorskip("tensorflow")
    return pytest.importorskip("keras")


# -- a wrapped layer's own dtype ------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda dt: layers.TimeDistributed(layers.Dense(2, dtype=dt)),
    lambda dt: layers.TimeDistributed(layers.Dense(2, dtype=dt), dtype=dt),
    lambda dt: layers.Bidirectional(layers.LSTM(2, dtype=dt)),
    lambda dt: layers.Bidirectional(layers.GRU(2, dtype=dt), dtype=dt),
    lambda dt: layers.Bidirectional(layers.LSTM(2, dtype=dt), backward_layer=layers.LSTM(2, go_backwards=True, dtype=dt)),
    lambda dt: layers.SpectralNormalization(layers.Dense(2, dtype=dt)),
], ids=["TimeDistributed", "TimeDistributed-both", "Bidirectional", "Bidirectional-both", "backward_layer",
        "SpectralNormalization"])
def test_a_wrapped_layers_dtype_is_the_wrappers(make):
    # Keras' TimeDistributed(Dense(2, dtype="float64")) computes in float64; glassnet refused any
    # dtype on the wrapped layer ("the wrapped layer's dtype would not reach the layer it wraps")
    layer = make("float64")
    y = layer(np.random.default_rng(0).standard_normal((2, 3, 4)))
    assert layer.dtype == np.float64 and y.dtype == np.float64
    assert gn.layers.deserialize(gn.layers.serialize(layer)).dtype == np.float64


def test_wrapped_readers_of_two_dtypes_are_refused():
    with pytest.raises(ValueError, match=r"^Bidirectional: the wrapped layers' dtypes differ \(float64 and float32\)"):
        layers.Bidirectional(layers.LSTM(2, dtype="float64"),
                             backward_layer=layers.LSTM(2, go_backwards=True, dtype="float32"))


@pytest.mark.parametrize("wrap", ["TimeDistributed", "Bidirectional"])
def test_keras_config_of_a_wrapped_float64_layer_reads_as_keras_computes(wrap):
    keras = _keras()
    inner = keras.layers.Dense(2, dtype="float64") if wrap == "TimeDistributed" else keras.layers.LSTM(2, dtype="float64")
    theirs = getattr(keras.layers, wrap)(inner)
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    expected = np.asarray(theirs(x))
    ours = gn.layers.deserialize(keras.layers.serialize(theirs))     # refused before
    ours(x)
    ours.set_weights(theirs.get_weights())
    # (Keras casts x to its wrapper's float32 first)
    np.testing.assert_allclose(ours(x), expected, rtol=1e-6, atol=1e-6)


# -- GroupNormalization's channel axis ------------------------------------------------------------
@pytest.mark.parametrize("shape, axis, groups", [((2, 4, 3, 5), 1, 2), ((2, 4, 3, 5), -3, 4), ((2, 3, 6), 1, 3),
                                                 ((2, 3, 4, 2), 2, 2), ((2, 4, 3, 2, 2), 1, 2)])
def test_group_normalization_takes_another_channel_axis_as_keras(shape, axis, groups):
    # refused before ("axis must be the channel axis, the last"): Keras' GroupNormalization(axis=1)
    # of channels-first images, PyTorch's nn.GroupNorm layout
    keras = _keras()
    import tensorflow as tf
    rng = np.random.default_rng(0)
    x, up = rng.standard_normal(shape), rng.standard_normal(shape)
    settings = dict(groups=groups, axis=axis, epsilon=0.01, gamma_initializer="random_normal",
                    beta_initializer="random_normal", dtype="float64")
    theirs, ours = keras.layers.GroupNormalization(**settings), layers.GroupNormalization(**settings)
    tx = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(tx)
        loss = tf.reduce_sum(theirs(tx) * up)
    expected = [g.numpy() for g in tape.gradient(loss, [tx, *theirs.trainable_weights])]
    ours(x)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours(x, training=True), np.asarray(theirs(x)), atol=1e-12)
    np.testing.assert_allclose(ours.backward(up), expected[0], atol=1e-12)
    np.testing.assert_allclose(ours.grads["gamma"], expected[1], atol=1e-12)
    np.testing.assert_allclose(ours.grads["beta"], expected[2], atol=1e-12)


def test_group_normalization_on_axis_1_is_torch_group_norm_and_checks_out():
    torch = pytest.importorskip("torch")
    from glassnet.gradcheck import check_layer
    x = np.random.default_rng(1).standard_normal((2, 4, 3, 2))
    layer = layers.GroupNormalization(groups=2, axis=1, epsilon=1e-5, center=False, scale=False, dtype="float64")
    expected = torch.nn.functional.group_norm(torch.tensor(x), 2, eps=1e-5).numpy()
    np.testing.assert_allclose(layer(x), expected, atol=1e-12)
    check_layer(layers.GroupNormalization(groups=2, axis=1, gamma_initializer="random_normal", dtype="float64", seed=0), x)


def test_group_normalization_on_axis_1_exports_to_onnx(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    x = np.random.default_rng(2).standard_normal((3, 4, 3, 2)).astype("float32")
    model = gn.Sequential([gn.Input((4, 3, 2)), layers.GroupNormalization(groups=2, axis=1, gamma_initializer="random_normal",
                                                                           beta_initializer="random_normal")], seed=0)
    model.export(str(tmp_path / "m.onnx"), format="onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=1e-5)


# -- count_params of a weightless layer called on its values ----------------------------------------
@pytest.mark.parametrize("make, x", [
    (lambda: layers.Hashing(num_bins=3), np.array([[1, 2]])),
    (lambda: layers.IntegerLookup(vocabulary=[1, 2, 3]), np.array([[1, 2]])),
    (lambda: layers.IntegerLookup(vocabulary=[1, 2, 3], invert=True), np.array([[1, 2]])),
    (lambda: layers.StringLookup(vocabulary=["a", "b"]), np.array([["a"], ["c"]])),
    (lambda: layers.StringLookup(vocabulary=["a", "b"], invert=True), np.array([[1]])),
    (lambda: layers.TextVectorization(vocabulary=["a", "b"]), np.array(["a b", "c"])),
    (lambda: layers.HashedCrossing(num_bins=3), (np.array([1, 2]), np.array([3, 4]))),
], ids=["Hashing", "IntegerLookup", "IntegerLookup-invert", "StringLookup", "StringLookup-invert",
        "TextVectorization", "HashedCrossing"])
def test_count_params_after_a_call_on_values_is_zero_as_keras(make, x):
    # refused, saying "not built yet ... or call it on data", after the call on data (Keras: 0)
    layer = make()
    with pytest.raises(ValueError, match="not built yet"):      # before any call, as Keras
        layer.count_params()
    layer(x)
    assert layer.count_params() == 0
