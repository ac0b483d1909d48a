"""keras.io's timeseries examples (the Conv1D/Conv1DTranspose anomaly autoencoder, the FCN
classifier with ModelCheckpoint, ReduceLROnPlateau and EarlyStopping) ported to glassnet and run
beside Keras 3.15: what the ports turned up."""
import numpy as np
import pytest

import glassnet as gn


@pytest.mark.parametrize("padding", ["SAME", "Same", "VALID", "Causal"])
def test_conv_and_pooling_padding_is_taken_in_any_case_as_keras(keras, padding):
    # glassnet refused padding="SAME" (code ported from TensorFlow 1), which Keras 3.15
    # lower-cases (standardize_padding) for every convolution and its pooling ops upper-case
    x = np.random.default_rng(0).normal(size=(2, 9, 3)).astype("float32")
    pairs = [(keras.layers.Conv1D(4, 3, strides=2, padding=padding), gn.layers.Conv1D(4, 3, strides=2, padding=padding))]
    if padding.lower() != "causal":
        pairs += [(keras.layers.Conv1DTranspose(4, 3, strides=2, padding=padding),
                   gn.layers.Conv1DTranspose(4, 3, strides=2, padding=padding)),
                  (keras.layers.MaxPooling1D(2, padding=padding), gn.layers.MaxPooling1D(2, padding=padding)),
                  (keras.layers.AveragePooling1D(2, padding=padding), gn.layers.AveragePooling1D(2, padding=padding))]
    for k_layer, g_layer in pairs:
        expected = np.asarray(k_layer(x))
        g_layer.build(x.shape[1:])
        g_layer.set_weights(k_layer.get_weights())
        np.testing.assert_allclose(g_layer(x), expected, rtol=1e-5, atol=1e-6)
        assert g_layer.padding == padding.lower()            # and so in its config and model files
    with pytest.raises(ValueError, match=r"Conv1D: padding must be one of \['valid', 'same', 'causal'\], got 'full'"):
        gn.layers.Conv1D(4, 3, padding="full")
