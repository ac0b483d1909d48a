"""Keras' example programs ported to glassnet, round 3g (keras.io: character-level seq2seq, ConvMixer,
MLP-Mixer, video classification with a CNN-RNN): what the ports met.

The video classifier hands its GRU a boolean mask Input, ``GRU(16, return_sequences=True)(x,
mask=mask_input)``. glassnet drew masks only from ``Embedding(mask_zero=True)`` and ``Masking``
then, and the port used ``Masking(0.0)`` (the padded frames are zeros); a drawn ``mask=`` is taken
now (layers/mask_argument.py), and the port as written trains as Keras' model too."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers
T, F, C = 6, 5, 3


def _ported(frames, mask_input=None):
    h = L.GRU(16, return_sequences=True, name="g1")(frames if mask_input is not None else L.Masking(0.0)(frames),
                                                   mask=mask_input)
    h = L.Dense(8, activation="relu", name="d1")(L.GRU(8, name="g2")(h))
    return L.Dense(C, activation="softmax", name="d2")(h)


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, T, F)).astype("float32")
    mask = np.arange(T)[None] < rng.integers(1, T + 1, 32)[:, None]
    x[~mask] = 0                                     # the example pads its frame features with zeros
    return x, mask, rng.integers(0, C, 32)


@pytest.mark.parametrize("as_written", [False, True], ids=["masking", "mask_input"])
def test_the_video_classifier_ported_with_masking_trains_as_keras_with_its_mask_input(keras, as_written):
    x, mask, y = _data()
    frames, mask_input = keras.Input((T, F)), keras.Input((T,), dtype="bool")
    h = keras.layers.GRU(16, return_sequences=True, name="g1")(frames, mask=mask_input)
    h = keras.layers.Dense(8, activation="relu", name="d1")(keras.layers.GRU(8, name="g2")(h))
    kmodel = keras.Model([frames, mask_input], keras.layers.Dense(C, activation="softmax", name="d2")(h))

    frames = gn.Input((T, F))
    if as_written:          # the GRU given the mask Input, as keras.io's example writes it
        mask_input = gn.Input((T,), dtype="bool")
        model = gn.Model([frames, mask_input], _ported(frames, mask_input), seed=0)
    else:
        model = gn.Model(frames, _ported(frames), seed=0)
    ours_x = [x, mask] if as_written else x
    for name in ["g1", "g2", "d1", "d2"]:
        model.get_layer(name).set_weights(kmodel.get_layer(name).get_weights())
    np.testing.assert_allclose(model.predict(ours_x, verbose=0), kmodel.predict([x, mask], verbose=0), atol=1e-6)

    kmodel.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    model.compile(optimizer=gn.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    theirs = kmodel.fit([x, mask], y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    ours = model.fit(ours_x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    for name in ["g1", "g2", "d1", "d2"]:
        for a, b in zip(model.get_layer(name).get_weights(), kmodel.get_layer(name).get_weights()):
            np.testing.assert_allclose(a, b, atol=1e-5)
