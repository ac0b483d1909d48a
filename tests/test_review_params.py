"""Review of the parameter settings (initializers, regularizers, constraints, Embedding, EinsumDense)."""
import numpy as np
import pytest

from glassnet import initializers


@pytest.mark.parametrize("name,value", [("zero", 0.0), ("one", 1.0)])
def test_keras_initializer_names_zero_and_one(name, value):
    # Keras 3.15 reads these names (keras.initializers.get("zero") is Zeros()); they were refused
    # here although the README promises Keras' names
    values = initializers.get(name)((3, 4), np.random.default_rng(0), np.float32)
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values, np.full((3, 4), value, np.float32))


def test_keras_initializer_names_zero_and_one_match_keras():
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    for name in ("zero", "one"):
        theirs = np.asarray(keras.initializers.get(name)((2, 3)))
        ours = initializers.get(name)((2, 3), np.random.default_rng(0), np.float32)
        np.testing.assert_array_equal(ours, theirs)


def test_zero_by_name_saves_as_zeros(tmp_path):
    import glassnet as gn
    model = gn.Sequential([gn.layers.Dense(3, input_dim=2, kernel_initializer="one", bias_initializer="zero")],
                          seed=0)
    assert model.layers[0].get_config()["kernel_initializer"] == "ones"      # the long name, as "uniform"
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "m.npz")
    again = gn.load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(again.layers[0].params["kernel"], np.ones((2, 3), np.float32))
