"""Keras' example programs ported to glassnet, round 3g (keras.io: character-level seq2seq, ConvMixer,
MLP-Mixer, video classification with a CNN-RNN): what the ports met.

The video classifier hands its GRU a boolean mask Input, ``GRU(16, return_sequences=True)(x,
mask=mask_input)``. glassnet draws masks only from ``Embedding(mask_zero=True)`` and ``Masking``;
the recurrent layers refused the mask tensor without saying so or what to write instead. The
refusal now names the way (the padded frames are zeros, so ``Masking(0.0)``), and that port
trains as Keras' model with the mask Input."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers
T, F, C = 6, 5, 3


@pytest.mark.parametrize("layer", [L.GRU, L.LSTM, L.SimpleRNN])
def test_a_mask_tensor_given_to_a_recurrent_layer_in_a_model_says_what_to_write(layer):
    frames, mask = gn.Input((T, F)), gn.Input((T,), dtype="bool")
    with pytest.raises(TypeError, match=r"mask=.*Masking\(0\.0\)|Masking\(0\.0\).*mask="):
        layer(4, return_sequences=True)(frames, mask=mask)


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, T, F)).astype("float32")
    mask = np.arange(T)[None] < rng.integers(1, T + 1, 32)[:, None]
    x[~mask] = 0                                     # the example pads its frame features with zeros
    return x, mask, rng.integers(0, C, 32)


def test_the_video_classifier_ported_with_masking_trains_as_keras_with_its_mask_input(keras):
    x, mask, y = _data()
    frames, mask_input = keras.Input((T, F)), keras.Input((T,), dtype="bool")
    h = keras.layers.GRU(16, return_sequences=True, name="g1")(frames, mask=mask_input)
    h = keras.layers.Dense(8, activation="relu", name="d1")(keras.layers.GRU(8, name="g2")(h))
    kmodel = keras.Model([frames, mask_input], keras.layers.Dense(C, activation="softmax", name="d2")(h))

    frames = gn.Input((T, F))
    h = L.GRU(16, return_sequences=True, name="g1")(L.Masking(0.0)(frames))
    h = L.Dense(8, activation="relu", name="d1")(L.GRU(8, name="g2")(h))
    model = gn.Model(frames, L.Dense(C, activation="softmax", name="d2")(h), seed=0)
    for name in ["g1", "g2", "d1", "d2"]:
        model.get_layer(name).set_weights(kmodel.get_layer(name).get_weights())
    np.testing.assert_allclose(model.predict(x, verbose=0), kmodel.predict([x, mask], verbose=0), atol=1e-6)

    kmodel.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    model.compile(optimizer=gn.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    theirs = kmodel.fit([x, mask], y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    ours = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    for name in ["g1", "g2", "d1", "d2"]:
        for a, b in zip(model.get_layer(name).get_weights(), kmodel.get_layer(name).get_weights()):
            np.testing.assert_allclose(a, b, atol=1e-5)
