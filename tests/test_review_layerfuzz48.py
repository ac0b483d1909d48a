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
