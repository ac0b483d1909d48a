"""Review of Keras files' assets (kassetsrev): glassnet's .keras files of lookup layers that Keras
3.15's load_model must read with glassnet's outputs."""
import numpy as np
import pytest

import glassnet as gn

pytest.importorskip("h5py")


def _keras_out(model, x):
    import tensorflow as tf
    return np.asarray(model(tf.constant(x)))


@pytest.mark.parametrize("kind", ["StringLookup", "IntegerLookup"])
def test_tf_idf_pad_to_max_tokens_file_loads_in_keras(keras, tmp_path, kind):
    # a vocabulary shorter than max_tokens: Keras' own file of such a layer (idf_weights padded to
    # max_tokens) fails in Keras' load_model ("idf_weights must be the same length as vocabulary")
    layer = getattr(gn.layers, kind)(output_mode="tf_idf", max_tokens=9, pad_to_max_tokens=True)
    if kind == "StringLookup":
        layer.adapt(["a", "b", "b", "c"])
        model, x = gn.Sequential([gn.Input((1,), dtype="string"), layer]), np.array([["a"], ["zz"], ["b"]])
    else:
        layer.adapt(np.array([1, 2, 2, 3]))
        model, x = gn.Sequential([gn.Input((3,), dtype="int64"), layer]), np.array([[1, 2, 9], [3, 3, 0]])
    expected = model.predict(x, verbose=0)
    assert expected.shape[1] == 9
    path = str(tmp_path / "m.keras")
    model.save(path, save_format="keras")
    np.testing.assert_array_equal(_keras_out(keras.saving.load_model(path), x), expected)
    np.testing.assert_array_equal(gn.load_model(path).predict(x, verbose=0), expected)


@pytest.mark.parametrize("mode", ["int", "one_hot"])
def test_text_model_nested_in_sequential_file_loads_in_keras(keras, tmp_path, mode):
    # the nested Sequential's asset under its own group (where its weights and Keras' load_assets
    # are), its InputLayer one string per sample (not the lookup's output width in float32)
    lookup = gn.layers.StringLookup(output_mode=mode)
    lookup.adapt(["a", "b", "b", "c"])
    inner = gn.Sequential([gn.Input((1,), dtype="string"), lookup], name="inner")
    model = gn.Sequential([gn.Input((1,), dtype="string"), inner, gn.layers.Dense(2)])
    x = np.array([["a"], ["b"], ["zz"], ["c"]])
    expected = model.predict(x, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path, save_format="keras")
    np.testing.assert_allclose(_keras_out(keras.saving.load_model(path), x), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(gn.load_model(path).predict(x, verbose=0), expected)
