"""Review of LoRA and quantization, fuzzed against Keras 3.15 (session 44, lqrev): the differences
the differential fuzz found, each fixed, each a test here."""
import numpy as np
import pytest

import glassnet as gn


@pytest.mark.parametrize("functional", [False, True])
@pytest.mark.parametrize("lora", [False, True])
def test_keras_file_of_float64_layers_loads_float64(keras, tmp_path, functional, lora):
    """Keras' model keeps its own policy at floatx (float32) whatever its layers', so its file of a
    float64 model says "float32" for the model: glassnet refused it (its model takes its layers' one
    dtype) and now reads it as a float64 model, predicting as Keras (found by the LoRA fuzz's files)."""
    inp = keras.Input((3,), dtype="float64")
    dense = keras.layers.Dense(2, activation="tanh", dtype="float64", name="d")
    head = keras.layers.EinsumDense("ab,bc->ac", output_shape=4, bias_axes="c", dtype="float64", name="e")
    theirs = keras.Model(inp, head(dense(inp))) if functional else keras.Sequential([inp, dense, head])
    if lora:
        theirs.layers[-1].enable_lora(2)
    rng = np.random.default_rng(0)
    theirs.set_weights([rng.normal(size=w.shape) for w in theirs.get_weights()])
    path = str(tmp_path / "m.keras")
    theirs.save(path)
    ours = gn.load_model(path)
    assert ours.dtype == "float64" and all(layer.dtype == "float64" for layer in ours.layers)
    x = rng.normal(size=(5, 3))
    expected = np.asarray(theirs(x))
    np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=1e-12, atol=1e-12)


def _lora_pair(keras, frozen=False):
    """Keras' and glassnet's Embedding -> Dense with LoRA on both, the same weights (B non-zero)."""
    def make(m, inp):
        return [inp, m.layers.Embedding(9, 3, name="emb"), m.layers.Dense(5, name="d")]
    theirs = keras.Sequential(make(keras, keras.Input((4,), dtype="int32")))
    ours = gn.Sequential(make(gn, gn.Input((4,), dtype="int32")), seed=0)
    for model in (theirs, ours):
        model.layers[0].enable_lora(2)
        model.layers[1].enable_lora(3)
        if frozen:
            model.layers[1].trainable = False
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=w.shape).astype("float32") for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return theirs, ours, rng.integers(0, 9, (3, 4))


@pytest.mark.parametrize("frozen", [False, True])
def test_legacy_h5_of_lora_layers_both_ways(keras, tmp_path, frozen):
    """A legacy .h5 holds a LoRA layer's every weight in Keras' ``_legacy_weights`` order (trainable
    bias, A, B first, then the frozen kernel; a frozen layer's kernel, bias, A, B): glassnet wrote that
    order but read the file (its own too) in ``get_weights`` order and refused it (shape of weight 0),
    and load_weights gave the four arrays to the merged-kernel reader; a frozen layer was written in the
    trainable order. Now Keras 3.15 and glassnet read each other's files, W0, A and B kept."""
    theirs, ours, x = _lora_pair(keras, frozen)
    expected = np.asarray(theirs(x))
    path = str(tmp_path / "k.h5")
    theirs.save(path)
    loaded = gn.load_model(path, compile=False)
    assert [layer.lora_enabled for layer in loaded.layers] == [True, True]
    for a, b in zip(loaded.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    twin = _lora_pair(keras, frozen)[1]
    twin.set_weights([np.zeros_like(w) for w in twin.get_weights()])
    twin.load_weights(path)
    for a, b in zip(twin.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)
    mine = str(tmp_path / "g.h5")
    ours.save(mine, save_format="h5")
    back = keras.saving.load_model(mine, compile=False)
    for a, b in zip(back.get_weights(), ours.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.asarray(back(x)), expected, rtol=1e-5, atol=1e-6)
    again = gn.load_model(mine, compile=False)
    np.testing.assert_array_equal(again.predict(x, verbose=0), ours.predict(x, verbose=0))
