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
